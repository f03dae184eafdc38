"""logins.py — sign-ins by IMAP, POP3, submission and ManageSieve for the
account tests (issue 31): one implementation, shared by test_app_passwords,
test_account_states, test_portal and test_webui_portal. ManageSieve
("sieve") needs a server started with sieve_env(): TERN_LISTEN_SIEVE on a
free port, kept as s.sieve_port.

Why the addresses. tern holds the reply to a failed login for 1 s after
an address's first failure, doubling per failure (login_limit.h), and
after five failures of one account it spaces that account's checks out
unless the address signed in to it before. A test that signs in and is
refused many times from 127.0.0.1 thus waited 1, 2, 4, 5, 5... seconds
for replies it already knew. Here:
- a login expected to be refused comes from a loopback address of its
  own (SOURCES), so each costs the first delay only, and refused() runs
  several at once, so a batch costs one delay;
- a login expected to succeed comes from DEVICE, the address that signed
  in before (as the user's phone does), so the account's spacing never
  holds it back.
The outcomes asserted are the same; only the waiting goes."""
import base64
import imaplib
import poplib
import smtplib
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor

DEVICE = "127.0.0.1"
SOURCES = iter("127.1.%d.%d" % (i // 200, 10 + i % 200) for i in range(20000))


def ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


class Imap(imaplib.IMAP4_SSL):
    """imaplib's client on the implicit-TLS port, from a chosen source."""

    def __init__(self, port, source):
        self.source = source
        super().__init__("127.0.0.1", port, ssl_context=ctx(), timeout=20)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.source, 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


class _Pop3(poplib.POP3_SSL):
    def __init__(self, port, source):
        self.source = source
        super().__init__("127.0.0.1", port, context=ctx(), timeout=20)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.source, 0))
        return self.context.wrap_socket(sock, server_hostname=self.host)


def imap_ok(s, user, pw, source=DEVICE):
    c = Imap(s.imaps_port, source)
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


def pop3_ok(s, user, pw, source=DEVICE):
    c = _Pop3(s.pop3s_port, source)
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


def smtp_ok(s, user, pw, source=DEVICE):
    c = smtplib.SMTP_SSL("127.0.0.1", s.submissions_port, context=ctx(), timeout=20,
                         source_address=(source, 0))
    try:
        # PLAIN only: smtplib's login() tries LOGIN after a refused PLAIN,
        # a second failure that doubled the address's delay and counted
        # twice against the account.
        c.ehlo()
        c.user, c.password = user, pw
        c.auth("PLAIN", c.auth_plain)
        return True
    except smtplib.SMTPAuthenticationError:
        return False
    finally:
        try:
            c.quit()
        except Exception:
            pass


def sieve_env():
    """The environment that adds a ManageSieve listener; pass the port on
    as s.sieve_port once the server exists."""
    from harness import free_port
    port = free_port()
    return {"TERN_LISTEN_SIEVE": "127.0.0.1:%d" % port}, port


def sieve_ok(s, user, pw, source=DEVICE):
    """ManageSieve (RFC 5804): STARTTLS, then AUTHENTICATE PLAIN."""
    sock = socket.create_connection(("127.0.0.1", s.sieve_port), 20, source_address=(source, 0))
    try:
        f = sock.makefile("rb")

        def response():
            while True:
                line = f.readline()
                if not line or line.startswith((b"OK", b"NO", b"BYE")):
                    return line

        assert response().startswith(b"OK"), "no ManageSieve greeting"
        sock.sendall(b"STARTTLS\r\n")
        assert response().startswith(b"OK"), "STARTTLS refused"
        sock = ctx().wrap_socket(sock, server_hostname="127.0.0.1")
        f = sock.makefile("rb")
        assert response().startswith(b"OK"), "no capabilities after STARTTLS"
        b64 = base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode()).decode()
        sock.sendall(('AUTHENTICATE "PLAIN" "%s"\r\n' % b64).encode())
        return response().startswith(b"OK")
    finally:
        sock.close()


PROTOS = {"imap": imap_ok, "pop3": pop3_ok, "smtp": smtp_ok, "sieve": sieve_ok}


def refused(s, user, pw, *protos):
    """Tries each of protos ("imap", "pop3", "smtp", "sieve") at once, each from a
    fresh address; returns the protocols that accepted (so `assert not
    refused(...)` names the culprits)."""
    with ThreadPoolExecutor(len(protos)) as ex:
        got = list(ex.map(lambda p: PROTOS[p](s, user, pw, next(SOURCES)), protos))
    return [p for p, ok in zip(protos, got) if ok]


def accepted(s, user, pw, *protos):
    """Tries each of protos from DEVICE, at once; returns those that
    refused."""
    with ThreadPoolExecutor(len(protos)) as ex:
        got = list(ex.map(lambda p: PROTOS[p](s, user, pw), protos))
    return [p for p, ok in zip(protos, got) if not ok]
