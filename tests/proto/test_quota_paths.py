"""Quotas on the paths that store mail, with small quotas on one shared
server: each test adds accounts of its own (`tern account add --quota`
while the server runs) and checks the reply, that nothing was stored
half, and the usage afterwards (GETQUOTA and `tern account list`).

- SMTP RCPT with the size MAIL declared (RFC 1870 §6.1): a message larger
  than the whole quota is 552 5.2.2, one larger than the room left
  452 4.2.2 (RFC 3463 X.2.2), before any data is sent.
- A recipient whose account may not take the message, in a transaction
  with another account, is put off with 452 4.5.3 (DESIGN.md §3b): each
  gets its own reply after DATA, and the full one is not filled past its
  quota because another account could take the message."""
import atexit
import imaplib

from harness import Raw, Server, message
from test_imap import ctx

_server = []


def server():
    """The module's server: SMTP and IMAP, started once."""
    if not _server:
        s = Server(imap=True)
        atexit.register(s.cleanup)
        _server.append(s)
    return _server[0]


def add(s, user, quota=None):
    args = ["account", "add", user] + (["--quota", str(quota)] if quota else [])
    s.cli(*args, input="pw-%s-1\n" % user.split("@")[0])
    return user, "pw-%s-1" % user.split("@")[0]


def imap(s, who):
    m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx(), timeout=10)
    typ, data = m.login(*who)
    assert typ == "OK", data
    return m


def usage(s, user):
    """(emails, used) from `tern account list`."""
    for line in s.cli("account", "list").stdout.decode().splitlines():
        f = line.split()
        if f and f[0] == user:
            kv = dict(x.split("=", 1) for x in f[1:])
            return int(kv["emails"]), int(kv["used"])
    raise AssertionError("no account %s" % user)


def body(n, subject="q"):
    return b"Subject: %s\r\n\r\n" % subject.encode() + b"x" * n + b"\r\n"


def smtp(s):
    r = Raw(s.smtp_port)
    assert r.cmd("EHLO client.test")[0] == 250
    return r


def test_rcpt_checks_the_declared_size_against_the_quota():
    s = server()
    dan = add(s, "dan@example.test", 10000)
    m = imap(s, dan)
    assert m.append("INBOX", None, None, body(6000))[0] == "OK"
    m.logout()
    used = usage(s, dan[0])
    r = smtp(s)
    # Larger than the whole quota: no retry can help.
    assert r.cmd("MAIL FROM:<a@remote.test> SIZE=20000")[0] == 250
    code, lines = r.cmd("RCPT TO:<%s>" % dan[0])
    assert code == 552 and lines[0].startswith("552 5.2.2"), lines
    assert r.cmd("RSET")[0] == 250
    # Larger than the room left: try again later.
    assert r.cmd("MAIL FROM:<a@remote.test> SIZE=5000")[0] == 250
    code, lines = r.cmd("RCPT TO:<%s>" % dan[0])
    assert code == 452 and lines[0].startswith("452 4.2.2"), lines
    assert r.cmd("RSET")[0] == 250
    # It fits: taken, and stored.
    msg = message(subject="fits", body="y" * 1000 + "\r\n", to=dan[0]).encode()
    assert r.cmd("MAIL FROM:<a@remote.test> SIZE=%d" % len(msg))[0] == 250
    assert r.cmd("RCPT TO:<%s>" % dan[0])[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(msg + b".\r\n")
    assert r.reply()[0] == 250
    r.cmd("QUIT")
    r.close()
    emails, now = usage(s, dan[0])
    assert emails == used[0] + 1 and used[1] < now <= 10000, (used, emails, now)


def test_full_recipient_gets_a_transaction_of_its_own():
    s = server()
    eve = add(s, "eve@example.test", 10000)
    fay = add(s, "fay@example.test")
    m = imap(s, eve)
    assert m.append("INBOX", None, None, body(8000))[0] == "OK"
    m.logout()
    before = usage(s, eve[0])
    msg = message(subject="both", body="z" * 3000 + "\r\n", to=fay[0]).encode()
    r = smtp(s)
    assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<%s>" % eve[0])[0] == 250
    code, lines = r.cmd("RCPT TO:<%s>" % fay[0])
    assert code == 452 and lines[0].startswith("452 4.5.3"), lines
    assert r.cmd("DATA")[0] == 354
    r.send(msg + b".\r\n")
    code, lines = r.reply()
    assert code == 452 and lines[0].startswith("452 4.2.2"), lines
    # The one put off, in its own transaction.
    assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<%s>" % fay[0])[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(msg + b".\r\n")
    assert r.reply()[0] == 250
    r.cmd("QUIT")
    r.close()
    assert usage(s, eve[0]) == before
    assert usage(s, fay[0])[0] == 1


