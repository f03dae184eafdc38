"""JMAP and the one change feed (RFC 8620 §7, DESIGN.md §3): a JMAP write
is published to the store's change feed as IMAP's own are, so an IMAP
session in IDLE is told at once, without sending a command: a keyword
set by Email/set arrives as "* n FETCH (FLAGS ...)", a move by
Email/set mailboxIds as "* n EXPUNGE". One server for the module."""
import smtplib
import socket

from harness import message
from jmapc import Jmap, shared_server
from test_imap import Raw
from test_imap_search_ext import cmd, wait_count

ANN = ("ann@example.test", "ann-password-1")
BEN = ("ben@example.test", "ben-password-1")


def srv():
    return shared_server([ANN, BEN])


def deliver(s, who, n=1, subject="push"):
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        for i in range(n):
            c.sendmail("alice@remote.test", [who[0]],
                       message(subject="%s %d" % (subject, i), to=who[0]).encode())


def idle(s, who):
    """An IMAP session of who with INBOX selected, in IDLE."""
    r = Raw(s)
    r.send('l LOGIN "%s" "%s"\r\n' % who)
    assert r.until_tag("l")[-1].startswith(b"l OK")
    _, t = cmd(r, "s", "SELECT INBOX")
    assert t.startswith(b"s OK"), t
    r.send("i IDLE\r\n")
    assert r.line() == b"+ idling"
    return r


def test_jmap_write_reaches_imap_idle():
    s = srv()
    deliver(s, ANN, 2, "idle")
    wait_count(s, 2, account=ANN[0])
    j = Jmap(s, *ANN)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    role = {m["role"]: m["id"] for m in mb["list"]}
    _, q = j.one("Email/query", {"filter": {"inMailbox": role["inbox"]},
                                 "sort": [{"property": "receivedAt", "isAscending": True}]})
    first, second = q["ids"]

    r = idle(s, ANN)
    # The only thing sent after "+ idling" is the JMAP request: whatever
    # IMAP reports now came from the change feed.
    r.sock.settimeout(5)
    _, res = j.one("Email/set", {"update": {first: {"keywords/$seen": True}}})
    assert first in res["updated"], res
    try:
        line = r.line()
    except (socket.timeout, TimeoutError):
        raise AssertionError("IDLE was not told about the JMAP keyword change")
    assert line == b"* 1 FETCH (FLAGS (\\Recent \\Seen))", line

    # A move out of INBOX: the message leaves the IDLE session's mailbox.
    _, res = j.one("Email/set", {"update": {second: {"mailboxIds": {role["archive"]: True}}}})
    assert second in res["updated"], res
    try:
        line = r.line()
    except (socket.timeout, TimeoutError):
        raise AssertionError("IDLE was not told about the JMAP move")
    assert line == b"* 2 EXPUNGE", line
    r.send("DONE\r\n")
    assert r.until_tag("i")[-1] == b"i OK Idle completed."
    r.close()
