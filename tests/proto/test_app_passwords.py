"""App passwords (issue 31): `tern account app-password add` (and
POST /api/v1/accounts/{email}/app-passwords) gives a secret once; IMAP,
POP3, submission and ManageSieve accept it in place of the account
password through the one login flow, `list` shows when it was last used,
and after `del` (or DELETE) all four refuse it and the IMAP session
that signed in with it ends (one that used the other goes on). One server
for every check; logins come from the addresses logins.py explains, so
no refusal waits on an earlier one's growing delay."""
import re
import socket
import time

from httpc import ADMIN_PW, admin_server
from logins import accepted, ctx, refused, sieve_env

USER = "ann@example.test"
PW = "account-pw-1"


class ImapSession:
    """A raw IMAPS session signed in with pw: ended() says whether the
    server ended it (BYE or a close) within timeout."""

    def __init__(self, s, user, pw):
        self.sock = ctx().wrap_socket(socket.create_connection(("127.0.0.1", s.imaps_port),
                                                               timeout=10))
        self.buf = b""
        self.read_until(b"* OK")
        self.sock.sendall(b'a LOGIN "%s" "%s"\r\n' % (user.encode(), pw.encode()))
        assert b"a OK" in self.read_until(b"a "), self.buf

    def read_until(self, marker, timeout=10):
        end = time.time() + timeout
        while marker not in self.buf:
            self.sock.settimeout(max(0.1, end - time.time()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        return self.buf

    def ended(self, timeout=6):
        try:
            self.read_until(b"* BYE", timeout)
            return True
        except EOFError:
            return True
        except (socket.timeout, TimeoutError):
            return False

    def alive(self):
        """Whether the session still answers a NOOP."""
        try:
            self.sock.sendall(b"n NOOP\r\n")
            return b"n OK" in self.read_until(b"n OK", 10)
        except (EOFError, OSError):
            return False

    def close(self):
        self.sock.close()


def listing(s):
    out = s.cli("account", "app-password", "list", USER).stdout.decode()
    return {l.split()[0]: l for l in out.splitlines()}


def test_app_password_login_and_revoke():
    env, sieve_port = sieve_env()
    s, a = admin_server(accounts=[(USER, PW)], imap=True, pop3=True, submission=True, env=env)
    s.sieve_port = sieve_port
    with s:
        secret = s.cli("account", "app-password", "add", USER, "phone").stdout.decode().strip()
        assert re.fullmatch(r"[a-z0-9]{4}(-[a-z0-9]{4}){3}", secret), secret
        other = s.cli("account", "app-password", "add", USER, "laptop").stdout.decode().strip()
        assert other != secret
        # A name is unique in the account.
        r = s.cli("account", "app-password", "add", USER, "phone", check=False)
        assert r.returncode == 1 and b"exists" in r.stderr, r.stderr
        assert "last_used=never" in listing(s)["phone"]

        assert accepted(s, USER, secret, "imap", "pop3", "smtp", "sieve") == []
        # Without 2FA the account password still works.
        assert accepted(s, USER, PW, "imap", "pop3", "smtp", "sieve") == []
        assert re.search(r"last_used=\d{4}-\d\d-\d\dT", listing(s)["phone"]), listing(s)
        assert "last_used=never" in listing(s)["laptop"]

        # Revoking ends the session that signed in with it, not the others:
        # once the one has ended, the other still answers a NOOP.
        by_phone = ImapSession(s, USER, secret)
        by_laptop = ImapSession(s, USER, other)
        s.cli("account", "app-password", "del", USER, "phone")
        assert "phone" not in listing(s)
        assert by_phone.ended(), by_phone.buf
        assert by_laptop.alive(), by_laptop.buf
        by_phone.close()
        by_laptop.close()
        assert refused(s, USER, secret, "imap", "pop3", "smtp", "sieve") == []
        # The other one goes on; a disabled account takes none.
        assert accepted(s, USER, other, "imap") == []
        s.cli("account", "disable", USER)
        assert refused(s, USER, other, "imap") == []
        s.cli("account", "enable", USER)
        assert accepted(s, USER, other, "smtp") == []
        # Deleting the account takes its app passwords with it.
        s.cli("account", "del", USER)
        s.cli("account", "add", USER, input=PW + "\n")
        assert listing(s) == {}
        assert refused(s, USER, other, "pop3") == []

        # The API: create (the secret in the answer only), list, revoke.
        path = "/accounts/%s/app-passwords" % USER
        st, _, body = a.call("POST", path, {"name": "tablet", "password": ADMIN_PW})
        assert st == 201 and body["name"] == "tablet", (st, body)
        tablet = body["password"]
        assert a.call("POST", path, {"name": "tablet", "password": ADMIN_PW})[0] == 409
        assert a.call("POST", path, {"name": ""})[0] == 400
        assert a.call("POST", "/accounts/nobody@example.test/app-passwords",
                      {"name": "x"})[0] == 404
        assert accepted(s, USER, tablet, "imap") == []
        st, _, body = a.call("GET", path)
        assert st == 200, st
        got = {p["name"]: p for p in body["app_passwords"]}
        assert set(got) == {"tablet"} and got["tablet"]["last_used"] > 0, body
        assert "password" not in got["tablet"], body
        assert a.call("DELETE", path + "/tablet")[0] == 204
        assert a.call("DELETE", path + "/tablet")[0] == 404
        assert refused(s, USER, tablet, "smtp") == []
