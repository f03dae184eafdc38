"""NOTIFY (RFC 5465), one server, two sessions of one account: after
NOTIFY SET STATUS the watched mailboxes' STATUS comes at once; then,
without the watching session sending anything, another session's
actions arrive as they are committed: a new mailbox (LIST), mail into
it (STATUS MESSAGES UIDNEXT UIDVALIDITY UNSEEN), new mail and a flag
change in the selected INBOX (EXISTS, FETCH FLAGS), a rename (LIST with
OLDNAME), a subscription (LIST (\\Subscribed)), a deletion
(LIST (\\NonExistent)); a change during the watcher's own command comes
after its tagged reply; NOTIFY NONE stops it. Refusals as Dovecot answers
them: MessageNew without MessageExpunge or FlagChange alone for SELECTED
(BAD), an event tern does not serve or does not know (NO [BADEVENT
(...)]), a bad filter (BAD)."""
import re

from test_imap import Raw, srv
from test_imap_search_ext import cmd


def session(s):
    r = Raw(s)
    r.login()
    return r


def append(r, mailbox, text):
    data = text.encode()
    r.send(b"p APPEND %s {%d+}\r\n%s\r\n" % (mailbox.encode(), len(data), data))
    assert r.until_tag("p")[-1].startswith(b"p OK")


def expect(r, want):
    """Reads unsolicited lines until one matches want (a regex); returns it."""
    seen = []
    for _ in range(20):
        line = r.line()
        if re.fullmatch(want, line):
            return line
        seen.append(line)
    raise AssertionError((want, seen))


def test_imap_notify():
    with srv() as s:
        a, b = session(s), session(s)
        u, t = cmd(a, "c", "CAPABILITY")
        assert b" NOTIFY" in u[0], u
        cmd(a, "s", "SELECT INBOX")
        u, t = cmd(a, "n", "NOTIFY SET STATUS (SELECTED (MessageNew MessageExpunge FlagChange)) "
                           "(PERSONAL (MessageNew MessageExpunge MailboxName SubscriptionChange))")
        assert t == b"n OK NOTIFY completed.", t
        names = sorted(re.match(rb"\* STATUS (\S+) \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0\)$", x).group(1)
                       for x in u)
        assert names == [b"Archive", b"Drafts", b"Junk", b"Sent", b"Trash"], u
        # Another session's actions, told as they happen.
        cmd(b, "c", "CREATE Other")
        expect(a, rb'\* LIST \(\) "/" Other')
        append(b, "Other", "Subject: 1\r\n\r\nx\r\n")
        expect(a, rb"\* STATUS Other \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)")
        append(b, "INBOX", "Subject: 2\r\n\r\nx\r\n")
        expect(a, rb"\* 1 EXISTS")
        cmd(b, "e", "SELECT INBOX")
        cmd(b, "f", "STORE 1 +FLAGS (\\Flagged)")
        expect(a, rb"\* 1 FETCH \(FLAGS \(\\Flagged\)\)")
        cmd(b, "g", "RENAME Other Other2")
        expect(a, rb'\* LIST \(\) "/" Other2 \("OLDNAME" \(Other\)\)')
        cmd(b, "h", "SUBSCRIBE Other2")
        expect(a, rb'\* LIST \(\\Subscribed\) "/" Other2')
        # A change while the watcher's command runs: after its reply.
        a.send(b"i NOOP\r\n")
        cmd(b, "j", "DELETE Other2")
        lines = []
        while not any(x.startswith(b"* LIST (\\NonExistent)") for x in lines):
            lines.append(a.line())
        assert b'* LIST (\\NonExistent) "/" Other2' in lines, lines
        assert any(x.startswith(b"i OK") for x in lines), lines
        # NOTIFY NONE: back to plain IMAP (the selected mailbox at NOOP).
        assert cmd(a, "k", "NOTIFY NONE") == ([], b"k OK NOTIFY completed.")
        cmd(b, "l", "CREATE Quiet")
        append(b, "INBOX", "Subject: 3\r\n\r\nx\r\n")
        u, t = cmd(a, "m", "NOOP")
        assert u == [b"* 2 EXISTS"], u
        # Refusals.
        for tag, line, want in (
                ("o", "NOTIFY SET (SELECTED (MessageNew))", b"o BAD"),
                ("q", "NOTIFY SET (SELECTED (FlagChange))", b"q BAD"),
                ("r", "NOTIFY SET (PERSONAL (AnnotationChange))",
                 b"r NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)]"),
                ("t", "NOTIFY SET (PERSONAL (Bogus))", b"t NO [BADEVENT"),
                ("u", "NOTIFY SET (ELSEWHERE (MailboxName))", b"u BAD"),
                ("v", "NOTIFY SET", b"v BAD"), ("w", "NOTIFY BOGUS", b"w BAD"),
                ("x", "NOTIFY SET (MAILBOXES (MailboxName))", b"x BAD")):
            u, t = cmd(a, tag, line)
            assert t.startswith(want), (line, t)
        # Other filters are taken; INBOXES with FlagChange alone, as Dovecot.
        for tag, line in (("y", "NOTIFY SET (INBOXES (FlagChange))"),
                          ("z", "NOTIFY SET (MAILBOXES INBOX (MessageExpunge))"),
                          ("z1", "NOTIFY SET (SUBTREE (Quiet INBOX) (MessageNew MessageExpunge))"),
                          ("z2", "NOTIFY SET (SUBSCRIBED (MailboxName)) (SELECTED-DELAYED NONE)")):
            assert cmd(a, tag, line)[1] == tag.encode() + b" OK NOTIFY completed.", line
        a.close()
        b.close()
