"""App passwords (issue 31): `tern account app-password add` (and
POST /api/v1/accounts/{email}/app-passwords) gives a secret once; IMAP, POP3 and submission accept it in place of the account
password through the one login flow, `list` shows when it was last used,
and after `del` (or DELETE) all three refuse it and the IMAP session
that signed in with it ends (one that used the other goes on). One server
for every check."""
import imaplib
import poplib
import re
import smtplib
import socket
import ssl
import time

from httpc import admin_server

USER = "ann@example.test"
PW = "account-pw-1"


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def imap_ok(s, user, pw):
    c = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx(), timeout=20)
    try:
        c.login(user, pw)
        return True
    except imaplib.IMAP4.error:
        return False
    finally:
        try:
            c.logout()
        except Exception:
            pass


def pop3_ok(s, user, pw):
    c = poplib.POP3_SSL("127.0.0.1", s.pop3s_port, context=ctx(), timeout=20)
    try:
        c.user(user)
        c.pass_(pw)
        return True
    except poplib.error_proto:
        return False
    finally:
        try:
            c.quit()
        except Exception:
            pass


def smtp_ok(s, user, pw):
    c = smtplib.SMTP_SSL("127.0.0.1", s.submissions_port, context=ctx(), timeout=20)
    try:
        c.login(user, pw)
        return True
    except smtplib.SMTPAuthenticationError:
        return False
    finally:
        try:
            c.quit()
        except Exception:
            pass


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

    def close(self):
        self.sock.close()


def listing(s):
    out = s.cli("account", "app-password", "list", USER).stdout.decode()
    return {l.split()[0]: l for l in out.splitlines()}


def test_app_password_login_and_revoke():
    s, a = admin_server(accounts=[(USER, PW)], imap=True, pop3=True, submission=True)
    with s:
        secret = s.cli("account", "app-password", "add", USER, "phone").stdout.decode().strip()
        assert re.fullmatch(r"[a-z0-9]{4}(-[a-z0-9]{4}){3}", secret), secret
        other = s.cli("account", "app-password", "add", USER, "laptop").stdout.decode().strip()
        assert other != secret
        # A name is unique in the account.
        r = s.cli("account", "app-password", "add", USER, "phone", check=False)
        assert r.returncode == 1 and b"exists" in r.stderr, r.stderr
        assert "last_used=never" in listing(s)["phone"]

        for ok in (imap_ok, pop3_ok, smtp_ok):
            assert ok(s, USER, secret), ok.__name__
            assert ok(s, USER, PW), ok.__name__  # without 2FA the account password still works
        assert re.search(r"last_used=\d{4}-\d\d-\d\dT", listing(s)["phone"]), listing(s)
        assert "last_used=never" in listing(s)["laptop"]

        # Revoking ends the session that signed in with it, not the others.
        by_phone = ImapSession(s, USER, secret)
        by_laptop = ImapSession(s, USER, other)
        s.cli("account", "app-password", "del", USER, "phone")
        assert "phone" not in listing(s)
        assert by_phone.ended(), by_phone.buf
        assert not by_laptop.ended(timeout=2.5), by_laptop.buf
        by_phone.close()
        by_laptop.close()
        for ok in (imap_ok, pop3_ok, smtp_ok):
            assert not ok(s, USER, secret), ok.__name__
        # The other one goes on; a disabled account takes none.
        assert imap_ok(s, USER, other)
        s.cli("account", "disable", USER)
        assert not imap_ok(s, USER, other)
        s.cli("account", "enable", USER)
        assert smtp_ok(s, USER, other)
        # Deleting the account takes its app passwords with it.
        s.cli("account", "del", USER)
        s.cli("account", "add", USER, input=PW + "\n")
        assert listing(s) == {}
        assert not pop3_ok(s, USER, other)

        # The API: create (the secret in the answer only), list, revoke.
        path = "/accounts/%s/app-passwords" % USER
        st, _, body = a.call("POST", path, {"name": "tablet"})
        assert st == 201 and body["name"] == "tablet", (st, body)
        tablet = body["password"]
        assert a.call("POST", path, {"name": "tablet"})[0] == 409
        assert a.call("POST", path, {"name": ""})[0] == 400
        assert a.call("POST", "/accounts/nobody@example.test/app-passwords",
                      {"name": "x"})[0] == 404
        assert imap_ok(s, USER, tablet)
        st, _, body = a.call("GET", path)
        assert st == 200, st
        got = {p["name"]: p for p in body["app_passwords"]}
        assert set(got) == {"tablet"} and got["tablet"]["last_used"] > 0, body
        assert "password" not in got["tablet"], body
        assert a.call("DELETE", path + "/tablet")[0] == 204
        assert a.call("DELETE", path + "/tablet")[0] == 404
        assert not smtp_ok(s, USER, tablet)
