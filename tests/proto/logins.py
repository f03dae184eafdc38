"""logins.py — sign-ins by IMAP, POP3 and submission for the account tests
(issue 31): one implementation, shared by test_app_passwords,
test_account_states, test_portal and test_webui_portal.

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
import imaplib
import poplib
import smtplib
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor

DEVICE = "127.0.0.1"
SOURCES = iter("127.1.%d.%d" % (i // 200, 10 + i % 200) for i in range(20000))


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


class _Imap(imaplib.IMAP4_SSL):
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
    c = _Imap(s.imaps_port, source)
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


PROTOS = {"imap": imap_ok, "pop3": pop3_ok, "smtp": smtp_ok}


def refused(s, user, pw, *protos):
    """Tries each of protos ("imap", "pop3", "smtp") at once, each from a
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
