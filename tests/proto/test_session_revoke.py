"""Logged-in sessions end when their credentials do (issue 28, finding 6):
a password change, a disabled account or a deleted account ends that
account's IMAP, POP3 and submission sessions, whether the change comes
from the API (in the server) or from `tern account` (another process),
and without the client sending anything. Another account's sessions go
on. One server, one account per kind of change."""
import base64
import re
import socket
import ssl
import time

from httpc import ADMIN_PW, admin_server

DOMAIN = "example.test"
CHANGES = [("cli", "passwd"), ("cli", "disable"), ("cli", "del"),
           ("api", "passwd"), ("api", "disable"), ("api", "del")]
USERS = ["u%d@%s" % (i, DOMAIN) for i in range(len(CHANGES))]
KEEP = "keep@" + DOMAIN
PW = "first-pw-1"


def ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


class Tls:
    def __init__(self, port):
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock = ctx().wrap_socket(raw)
        self.buf = b""

    def line(self, timeout=10):
        self.sock.settimeout(timeout)
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def ended(self, timeout=8):
        """The lines the server sent before closing (None if it did not close)."""
        lines = []
        try:
            while True:
                lines.append(self.line(timeout))
        except EOFError:
            return lines
        except (ConnectionResetError, ssl.SSLError):
            return lines
        except (socket.timeout, TimeoutError):
            return None


def imap(s, user):
    c = Tls(s.imaps_port)
    assert c.line().startswith("* OK")
    c.send('a LOGIN "%s" "%s"' % (user, PW))
    while not c.line().startswith("a OK"):
        pass
    c.send("b SELECT INBOX")
    while not c.line().startswith("b OK"):
        pass
    return c


def pop3(s, user):
    c = Tls(s.pop3s_port)
    assert c.line().startswith("+OK")
    c.send("USER " + user)
    assert c.line().startswith("+OK")
    c.send("PASS " + PW)
    assert c.line() == "+OK Logged in."
    return c


def smtp(s, user):
    c = Tls(s.submissions_port)
    assert c.line().startswith("220")
    c.send("EHLO test")
    while c.line()[3] == "-":
        pass
    c.send("AUTH PLAIN " + base64.b64encode(b"\0%s\0%s" % (user.encode(), PW.encode())).decode())
    assert c.line().startswith("235"), user
    return c


def test_sessions_end_when_credentials_change():
    s, a = admin_server(accounts=[(u, PW) for u in USERS + [KEEP]], imap=True, pop3=True,
                        submission=True)
    with s:
        sessions = {u: (imap(s, u), pop3(s, u), smtp(s, u)) for u in USERS + [KEEP]}
        for (via, what), user in zip(CHANGES, USERS):
            if via == "cli":
                args = ("account", what, user)
                s.cli(*args, input="second-pw-2\n" if what == "passwd" else None)
            elif what == "passwd":
                assert a.call("POST", "/accounts/%s/password" % user,
                              {"password": "second-pw-2", "current": ADMIN_PW})[0] == 204
            elif what == "disable":
                assert a.call("PATCH", "/accounts/%s" % user, {"disabled": True})[0] == 200
            else:
                assert a.call("DELETE", "/accounts/%s" % user, {"password": ADMIN_PW})[0] == 204
        t = time.time()
        for (via, what), user in zip(CHANGES, USERS):
            i, p, m = sessions[user]
            gone = what == "del"
            lines = i.ended()
            assert lines is not None, (via, what, "imap session still open")
            assert lines and lines[0] == ("* BYE Account was deleted, have to disconnect." if gone
                                          else "* BYE Credentials changed, have to disconnect."), \
                (via, what, lines)
            assert p.ended() == [], (via, what, "pop3")
            lines = m.ended()
            assert lines and lines[0].startswith("421 4.7.0"), (via, what, lines)
        print("all %d sessions ended %.1f s after the last change" % (3 * len(USERS),
                                                                      time.time() - t))
        # The other account's sessions go on.
        i, p, m = sessions[KEEP]
        i.send("n NOOP")
        assert i.line().startswith("n OK")
        p.send("STAT")
        assert p.line().startswith("+OK")
        m.send("NOOP")
        assert m.line().startswith("250")
        # A loop holds its log lines back and writes them together
        # (log_defer): the last lines may come after the sessions ended.
        def revoked(proto, reason):
            return len(re.findall(r"module=%s session=\w+ event=credentials_revoked "
                                  r"reason=%s" % (proto, reason), s.log_text()))
        want = {(proto, reason): n for proto in ("imap", "pop3", "smtp")
                for reason, n in (("credentials_changed", 4), ("account_deleted", 2))}
        deadline = time.time() + 10
        while time.time() < deadline and any(revoked(*k) != n for k, n in want.items()):
            time.sleep(0.05)
        for k, n in want.items():
            assert revoked(*k) == n, (k, revoked(*k), n)
