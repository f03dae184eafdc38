"""NOTIFY (RFC 5465), one server, two sessions of one account: after
NOTIFY SET STATUS the watched mailboxes' STATUS comes at once; then,
without the watching session sending anything, another session's
actions arrive as they are committed: a new mailbox (LIST), mail into
it (STATUS MESSAGES UIDNEXT UIDVALIDITY UNSEEN), new mail and a flag
change in the selected INBOX (EXISTS, FETCH FLAGS), a rename (LIST with
OLDNAME), a subscription (LIST (\\Subscribed)), a deletion
(LIST (\\NonExistent)); a change during the watcher's own command comes
after its tagged reply; NOTIFY NONE stops it. MessageNew with fetch
attributes: a FETCH of them follows each new message's EXISTS. Metadata
set by another session: "* METADATA mailbox entry". Refusals: MessageNew
without MessageExpunge, or FlagChange without both (BAD for every filter,
as RFC 5465 §5 says; Dovecot refuses them for SELECTED only), fetch
attributes outside SELECTED (BAD), an event tern does not serve or does
not know (NO [BADEVENT (...)]), a bad filter, a second SELECTED or one
with events other than message events (BAD, RFC 5465 §6.1)."""
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
        # \Recent too: a (IMAP4rev1) was the first told of the new message.
        expect(a, rb"\* 1 FETCH \(FLAGS \(\\Recent \\Flagged\)\)")
        cmd(b, "g", "RENAME Other Other2")
        expect(a, rb'\* LIST \(\) "/" Other2 \("OLDNAME" \(Other\)\)')
        cmd(b, "h", "SUBSCRIBE Other2")
        expect(a, rb'\* LIST \(\\Subscribed\) "/" Other2')
        # A change while the watcher's command runs: after its reply.
        a.send(b"i NOOP\r\n")
        cmd(b, "j", "DELETE Other2")
        # The DELETE may also reach a before its NOOP does (then the LIST
        # comes first, unsolicited): read until both have come.
        lines = []
        while not (any(x.startswith(b"* LIST (\\NonExistent)") for x in lines)
                   and any(x.startswith(b"i ") for x in lines)):
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
                 b"r NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange "
                 b"MailboxMetadataChange ServerMetadataChange)]"),
                ("t", "NOTIFY SET (PERSONAL (Bogus))", b"t NO [BADEVENT"),
                ("u", "NOTIFY SET (ELSEWHERE (MailboxName))", b"u BAD"),
                ("v", "NOTIFY SET", b"v BAD"), ("w", "NOTIFY BOGUS", b"w BAD"),
                ("x", "NOTIFY SET (MAILBOXES (MailboxName))", b"x BAD"),
                # RFC 5465 §6.1: one of SELECTED and SELECTED-DELAYED, once.
                ("y", "NOTIFY SET (SELECTED (MessageNew MessageExpunge)) "
                      "(SELECTED-DELAYED (MessageNew MessageExpunge))", b"y BAD"),
                ("z", "NOTIFY SET (SELECTED NONE) (SELECTED NONE)", b"z BAD"),
                # §6.1: only message events for the selected mailbox.
                ("z3", "NOTIFY SET (SELECTED (MessageNew MessageExpunge MailboxName))", b"z3 BAD"),
                ("z4", "NOTIFY SET (SELECTED-DELAYED (SubscriptionChange))", b"z4 BAD")):
            u, t = cmd(a, tag, line)
            assert t.startswith(want), (line, t)
        # RFC 5465 §5 asks the pairs of every filter, not only SELECTED's
        # (Dovecot lets these pass): BAD, and the last SET stays.
        for tag, line in (("y1", "NOTIFY SET (INBOXES (FlagChange))"),
                          ("y2", "NOTIFY SET (MAILBOXES INBOX (MessageExpunge))"),
                          ("y3", "NOTIFY SET (PERSONAL (MessageNew MailboxName))"),
                          ("y4", "NOTIFY SET (SUBSCRIBED (FlagChange MessageNew))")):
            u, t = cmd(a, tag, line)
            assert t.startswith(tag.encode() + b" BAD"), (line, t)
        # Other filters are taken.
        for tag, line in (("y", "NOTIFY SET (INBOXES (MessageNew MessageExpunge FlagChange))"),
                          ("z", "NOTIFY SET (MAILBOXES INBOX (MessageExpunge MessageNew))"),
                          ("z1", "NOTIFY SET (SUBTREE (Quiet INBOX) (MessageNew MessageExpunge))"),
                          ("z2", "NOTIFY SET (SUBSCRIBED (MailboxName)) (SELECTED-DELAYED NONE)")):
            assert cmd(a, tag, line)[1] == tag.encode() + b" OK NOTIFY completed.", line
        # SET STATUS: with FlagChange the STATUS sent at once carries
        # HIGHESTMODSEQ even without CONDSTORE (as Dovecot sends it and
        # imaptest's NOTIFY group expects); without FlagChange it does not.
        u, t = cmd(a, "h1", "NOTIFY SET STATUS (MAILBOXES Quiet (MessageNew MessageExpunge))")
        assert len(u) == 1 and re.match(rb"\* STATUS Quiet \(MESSAGES \d+ UIDNEXT \d+ UIDVALIDITY \d+ "
                                        rb"UNSEEN \d+\)$", u[0]), u
        u, t = cmd(a, "h2", "NOTIFY SET STATUS (MAILBOXES Quiet (MessageNew MessageExpunge FlagChange))")
        assert len(u) == 1 and re.match(rb"\* STATUS Quiet \(MESSAGES \d+ UIDNEXT \d+ UIDVALIDITY \d+ "
                                        rb"UNSEEN \d+ HIGHESTMODSEQ \d+\)$", u[0]), u
        check_flags_elsewhere(a, b)
        check_fetch_att(s, a, b)
        check_metadata(a, b)
        a.close()
        b.close()


def check_flags_elsewhere(a, b):
    """FlagChange in a mailbox not selected, without CONDSTORE (RFC 5465
    §5.1): a STATUS only when it says something new, i.e. UNSEEN changed
    (as Dovecot tells it); a \\Flagged change gives none, where a STATUS
    the same as the last would be noise."""
    u, t = cmd(a, "f0", "NOTIFY SET (MAILBOXES Quiet (MessageNew MessageExpunge FlagChange))")
    assert t == b"f0 OK NOTIFY completed." and u == [], (u, t)
    append(b, "Quiet", "Subject: q\r\n\r\nx\r\n")
    u, t = cmd(a, "f1", "NOOP")
    assert len(u) == 1 and re.fullmatch(rb"\* STATUS Quiet \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)",
                                        u[0]), u
    cmd(b, "f2", "SELECT Quiet")
    assert cmd(b, "f3", "STORE 1 +FLAGS.SILENT (\\Flagged)")[1].startswith(b"f3 OK")
    # The NOOP looks again: whatever the change feed had not told yet.
    assert cmd(a, "f4", "NOOP") == ([], b"f4 OK NOOP completed."), "nothing new for \\Flagged"
    assert cmd(b, "f5", "STORE 1 +FLAGS.SILENT (\\Seen)")[1].startswith(b"f5 OK")
    u, t = cmd(a, "f6", "NOOP")
    assert len(u) == 1 and re.fullmatch(rb"\* STATUS Quiet \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 0\)",
                                        u[0]), u
    assert cmd(b, "f7", "STORE 1 -FLAGS.SILENT (\\Flagged)")[1].startswith(b"f7 OK")
    assert cmd(a, "f8", "NOOP") == ([], b"f8 OK NOOP completed.")
    cmd(b, "f9", "SELECT INBOX")


def check_fetch_att(s, a, b):
    """MessageNew with fetch attributes (RFC 5465 §5.2): each new message of
    the selected mailbox comes with a FETCH of them after its EXISTS (UID
    first, as Dovecot sends it), between commands and during IDLE; the
    watcher's own APPEND too, after its reply; BAD for another filter's
    MessageNew or an unknown attribute, as Dovecot answers."""
    u, t = cmd(a, "s", "SELECT INBOX")
    n = int([x for x in u if x.endswith(b" EXISTS")][-1].split()[1])
    u, t = cmd(a, "n", "NOTIFY SET (SELECTED (MessageNew (BODY.PEEK[HEADER.FIELDS (Subject)] "
                       "FLAGS UID) MessageExpunge))")
    assert t == b"n OK NOTIFY completed." and u == [], (u, t)
    append(b, "INBOX", "Subject: fetched\r\nX-A: b\r\n\r\nx\r\n")
    expect(a, rb"\* %d EXISTS" % (n + 1))
    line = expect(a, rb'\* %d FETCH \(UID (\d+) BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{20\}' % (n + 1))
    uid = int(re.search(rb"UID (\d+)", line).group(1))
    assert a.line() == b"Subject: fetched"
    assert a.line() == b""
    assert a.line() in (b" FLAGS (\\Recent))", b" FLAGS ())"), "FLAGS after the literal"
    # During IDLE: two messages, two FETCHes.
    a.send(b"i IDLE\r\n")
    assert a.line().startswith(b"+ ")
    append(b, "INBOX", "Subject: one\r\n\r\nx\r\n")
    append(b, "INBOX", "Subject: two\r\n\r\nx\r\n")
    got = []
    while len([x for x in got if b" FETCH " in x]) < 2:
        got.append(a.line())
    assert b"UID %d BODY" % (uid + 1) in b"\n".join(got) and b"UID %d BODY" % (uid + 2) in got[-1], got
    a.send(b"DONE\r\n")
    rest = a.until_tag("i")
    assert rest[-1].startswith(b"i OK"), rest
    got += rest
    assert b"Subject: two" in b"\n".join(got), got
    # Its own APPEND: the FETCH follows the tagged reply.
    data = b"Subject: own\r\n\r\nx\r\n"
    a.send(b"p APPEND INBOX {%d+}\r\n%s\r\n" % (len(data), data))
    out = a.until_tag("p")
    assert out[-1].startswith(b"p OK [APPENDUID"), out
    expect(a, rb'\* %d FETCH \(UID %d BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{16\}' % (n + 4, uid + 3))
    assert a.line() == b"Subject: own"
    a.line(), a.line()
    u, t = cmd(a, "q", "NOOP")
    assert t.startswith(b"q OK") and not any(b"FETCH" in x for x in u), u
    for tag, line in (("r", "NOTIFY SET (PERSONAL (MessageNew (UID) MessageExpunge))"),
                      ("t", "NOTIFY SET (SELECTED (MessageNew (BOGUS) MessageExpunge))"),
                      ("v", "NOTIFY SET (SELECTED (MessageNew () MessageExpunge))")):
        u, t = cmd(a, tag, line)
        assert t.startswith(tag.encode() + b" BAD Error in IMAP command NOTIFY"), (line, t)


def check_metadata(a, b):
    """MailboxMetadataChange and ServerMetadataChange (RFC 5465 §5.8-5.9):
    another session's SETMETADATA comes as "* METADATA mailbox entry"
    (RFC 5464 §4.4.2, names without values) for the selected mailbox (a
    mailbox event, so PERSONAL's, RFC 5465 §6.1), a watched one and the
    server (""); a removal too; setting a value it
    already has says nothing. Dovecot 2.3 refuses these events, so this is
    written from the RFCs."""
    u, t = cmd(a, "n", "NOTIFY SET (SELECTED (MessageNew MessageExpunge)) "
                       "(PERSONAL (MailboxMetadataChange ServerMetadataChange))")
    assert t == b"n OK NOTIFY completed.", (u, t)
    cmd(b, "m", 'SETMETADATA INBOX (/private/comment "one")')
    expect(a, rb'\* METADATA INBOX "/private/comment"')
    cmd(b, "m", 'SETMETADATA Drafts (/private/comment "two" /private/x "3")')
    expect(a, rb'\* METADATA Drafts "/private/comment" "/private/x"')
    cmd(b, "m", 'SETMETADATA "" (/private/vendor/tern/t "4")')
    expect(a, rb'\* METADATA "" "/private/vendor/tern/t"')
    cmd(b, "m", 'SETMETADATA Drafts (/private/x NIL /private/comment "two")')
    expect(a, rb'\* METADATA Drafts "/private/x"')
    u, t = cmd(a, "q", "NOOP")
    assert not any(x.startswith(b"* METADATA") for x in u), u
    u, t = cmd(a, "n", "NOTIFY NONE")
    assert t.startswith(b"n OK"), t
