"""Passwords are compared after SASLprep (RFC 4013): RFC 4616 §2 (PLAIN),
RFC 6856 §3 (POP3 "UTF8 USER"), RFC 6855 (IMAP) and RFC 4954 (SMTP AUTH).
A password set as "päss-wörd-1" (NFC) was refused with "-ERR [AUTH]
Authentication failed." when a client sent it decomposed (NFD, as macOS
input gives it), and one with a no-break space when typed with a space:
only SCRAM prepared the password. Now every password login does, through
the one check (auth/password.c)."""
import base64
import imaplib
import poplib
import re
import smtplib
import unicodedata

from harness import Server
from logins import ctx

NFC = unicodedata.normalize("NFC", "päss-wörd-1")
NFD = unicodedata.normalize("NFD", NFC)
ANNA, BEN, CARL = "anna@example.test", "ben@example.test", "carl@example.test"
NBSP_PW = "two\u00a0words-1"
CARL_PW = unicodedata.normalize("NFD", "grüße-zwei-2")  # set decomposed
ACCOUNTS = [(ANNA, NFC), (BEN, NBSP_PW), (CARL, CARL_PW)]
# (account, the form a client sends): none is the text the account was set with.
OTHER_FORMS = [(ANNA, NFD), (BEN, "two words-1"), (CARL, unicodedata.normalize("NFC", CARL_PW))]
SAME_FORMS = ACCOUNTS


def plain(user, pw):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode()).decode()


def pop3(s, *lines):
    """Sends lines (UTF-8) on a new POP3S session: the last reply, or the
    first -ERR. Ends with QUIT, as a client does: QUIT lets the maildrop
    lock go before its answer, where a dropped connection lets it go when
    the server's loop reads the drop, and the next session, which may be
    on the other loop, could be told [IN-USE] first (seen once in CI)."""
    p = poplib.POP3_SSL("127.0.0.1", s.pop3s_port, context=ctx(), timeout=30)
    try:
        for line in lines:
            r = p._shortcmd(line)
        return r
    except poplib.error_proto as e:
        return e.args[0]
    finally:
        try:
            p._shortcmd("QUIT")
        except (poplib.error_proto, OSError):
            pass
        p.close()


def pop3_user_pass(s, user, pw):
    return pop3(s, "UTF8", "USER " + user, "PASS " + pw)


def pop3_auth_plain(s, user, pw):
    return pop3(s, "AUTH PLAIN " + plain(user, pw))


def imap(s, login):
    """login(client) on a new IMAPS session: its status, "NO" if refused."""
    c = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx(), timeout=30)
    try:
        return login(c)[0]
    except imaplib.IMAP4.error:
        return "NO"
    finally:
        c.shutdown()


def imap_plain(s, user, pw):
    return imap(s, lambda c: c.authenticate(
        "PLAIN", lambda _: b"\0" + user.encode() + b"\0" + pw.encode()))


def imap_login_literal(s, user, pw):
    """IMAP LOGIN with the password as a literal, as a client does for
    8-bit text (RFC 6855 §3)."""
    def login(c):
        c.literal = pw.encode()
        return c._simple_command("LOGIN", user)
    return imap(s, login)


def smtp_plain(s, user, pw):
    with smtplib.SMTP_SSL("127.0.0.1", s.submissions_port, context=ctx(), timeout=30) as c:
        c.ehlo()
        return c.docmd("AUTH", "PLAIN " + plain(user, pw))[0]


def test_equivalent_forms_log_in_everywhere():
    with Server(accounts=ACCOUNTS, pop3=True, imap=True, submission=True) as s:
        for user, pw in SAME_FORMS + OTHER_FORMS:
            assert pop3_user_pass(s, user, pw) == b"+OK Logged in.", (user, pw)
            assert pop3_auth_plain(s, user, pw) == b"+OK Logged in.", (user, pw)
            assert imap_plain(s, user, pw) == "OK", (user, pw)
            assert imap_login_literal(s, user, pw) == "OK", (user, pw)
            assert smtp_plain(s, user, pw) == 235, (user, pw)
        # A wrong password in a form SASLprep changes is one failure,
        # counted once, with neither form in the log.
        wrong = unicodedata.normalize("NFD", "päss-wörd-2")
        assert pop3_user_pass(s, ANNA, wrong) == b"-ERR [AUTH] Authentication failed."
        assert s.wait_log("event=auth_failed")
        log = s.log_text()
        fails = re.findall(r"event=auth_failed .*\n", log)
        assert len(fails) == 1 and "failures=1 " in fails[0], log
        assert 'user="anna@example.test"' in fails[0], fails
        for pw in (NFC, NFD, wrong, unicodedata.normalize("NFC", wrong), NBSP_PW, CARL_PW):
            assert pw not in log
        # The account still logs in after it (the failure did not block it).
        assert pop3_user_pass(s, ANNA, NFD) == b"+OK Logged in."
