"""IMAP REPLACE and UID REPLACE (RFC 8508): the RFC's two examples (a
draft replaced in the selected mailbox with flags, and a message replaced
by one in another mailbox), "* OK [APPENDUID ..]" before the EXPUNGE
(VANISHED under QRESYNC), a second session seeing one message go and one
come, and the error cases: a missing target mailbox ([TRYCREATE], the old
message kept), a sequence number past the end (BAD), an unknown UID (NO),
an old message another session expunged meanwhile (NO, nothing appended),
a read-only mailbox, no mailbox selected, a literal over the APPENDLIMIT
refused before "+", a zero-length message, and two messages (no
MULTIAPPEND for REPLACE)."""
import re

from test_imap import BOB, Raw, srv

DRAFT = (b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
         b"From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
         b"Subject: Afternoon meeting\r\n"
         b"To: mooch@example.net\r\n"
         b"Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
         b"MIME-Version: 1.0\r\n"
         b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n"
         b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n")
DRAFT2 = DRAFT.replace(b"3:30", b"4:00")


def cmd(r, tag, line):
    r.send("%s %s\r\n" % (tag, line))
    return r.until_tag(tag)


def append(r, tag, mailbox, data, flags=b""):
    r.send(b"%s APPEND %s %s{%d+}\r\n%s\r\n" % (tag.encode(), mailbox.encode(), flags, len(data), data))
    out = r.until_tag(tag)
    assert re.match(rb"\w+ OK \[APPENDUID \d+ \d+\]", out[-1]), out
    return out


def replace(r, tag, command, data, sync=True):
    """Sends REPLACE with a synchronizing literal (sync) or LITERAL+."""
    if sync:
        r.send(b"%s %s {%d}\r\n" % (tag.encode(), command, len(data)))
        line = r.line()
        if not line.startswith(b"+"):
            return [line]
        r.send(data + b"\r\n")
    else:
        r.send(b"%s %s {%d+}\r\n%s\r\n" % (tag.encode(), command, len(data), data))
    return r.until_tag(tag)


def session(s, mailbox="Drafts", n=4):
    """A logged-in raw session with n messages in mailbox, selected."""
    r = Raw(s)
    r.login()
    if mailbox != "INBOX":
        cmd(r, "c", "CREATE %s" % mailbox)
    for i in range(n):
        append(r, "a%d" % i, mailbox, b"Subject: draft %d\r\n\r\nv%d\r\n" % (i, i))
    out = cmd(r, "s", "SELECT %s" % mailbox)
    assert b"* %d EXISTS" % n in out, out
    return r


def uidvalidity(out):
    for line in out:
        m = re.search(rb"\[UIDVALIDITY (\d+)\]", line)
        if m:
            return int(m.group(1))
    raise AssertionError(out)


def test_imap_replace_capability():
    with srv() as s:
        r = Raw(s)
        r.login()
        out = cmd(r, "a", "CAPABILITY")
        assert b" REPLACE" in out[0], out
        r.close()


def test_imap_replace_rfc_example_same_mailbox():
    """RFC 8508 §3.2's example: REPLACE 4 Drafts (\\Seen \\Draft) {N}."""
    with srv() as s:
        r = session(s)
        out = cmd(r, "u", "UID FETCH 1:* (UID)")
        old_uid = int(re.search(rb"\* 4 FETCH \(UID (\d+)\)", b"\n".join(out)).group(1))
        out = replace(r, "A003", b"REPLACE 4 Drafts (\\Seen \\Draft)", DRAFT)
        assert out[-1] == b"A003 OK Replace completed.", out
        m = re.match(rb"\* OK \[APPENDUID (\d+) (\d+)\] ", out[0])
        assert m, out
        new_uid = int(m.group(2))
        assert new_uid > old_uid
        # The new message and the old one's end are both announced, the
        # APPENDUID first (§3.4); 4 messages before, 4 after.
        assert b"* 4 EXPUNGE" in out, out
        assert b"* 5 EXISTS" in out or b"* 4 EXISTS" in out, out
        out = cmd(r, "f", "UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        text = b"\n".join(out)
        assert text.count(b" FETCH ") == 4, out
        assert b"Afternoon meeting" in text and b"draft 3" not in text, out
        m = re.search(rb"UID %d FLAGS \(([^)]*)\)" % new_uid, text) or \
            re.search(rb"FLAGS \(([^)]*)\) UID %d" % new_uid, text)
        assert m and b"\\Seen" in m.group(1) and b"\\Draft" in m.group(1), out
        out = cmd(r, "g", "UID FETCH %d BODY.PEEK[]" % new_uid)
        assert DRAFT in b"\r\n".join(out), out
        r.close()


def test_imap_replace_uid_other_mailbox_and_second_session():
    """RFC 8508 §3.3's example: UID REPLACE into another mailbox; a second
    session on the source sees EXPUNGE, one on the target EXISTS."""
    with srv() as s:
        r = session(s, "Drafts", 3)
        cmd(r, "c", "CREATE Sent")
        out = cmd(r, "u", "UID FETCH 2 (UID)")
        assert b"UID 2" in out[0], out
        src, dst = Raw(s), Raw(s)
        src.login()
        dst.login()
        cmd(src, "s", "SELECT Drafts")
        sel = cmd(dst, "s", "SELECT Sent")
        sent_v = uidvalidity(sel)
        out = replace(r, "B004", b"UID REPLACE 2 Sent", DRAFT2, sync=False)
        assert out[-1] == b"B004 OK Replace completed.", out
        assert out[0] == b"* OK [APPENDUID %d 1] Replacement Message ready" % sent_v, out
        # Nothing new in Drafts: only its message 2 goes (an EXISTS, if
        # any, tells the count after it).
        assert b"* 2 EXPUNGE" in out and b"* 3 EXISTS" not in out, out
        out = cmd(src, "n", "NOOP")
        assert b"* 2 EXPUNGE" in out, out
        out = cmd(dst, "n", "NOOP")
        assert b"* 1 EXISTS" in out, out
        out = cmd(dst, "f", "FETCH 1 BODY.PEEK[TEXT]")
        assert b"4:00" in b"\r\n".join(out), out
        for x in (r, src, dst):
            x.close()


def test_imap_replace_qresync_vanished():
    with srv() as s:
        r = Raw(s)
        r.login()
        cmd(r, "e", "ENABLE QRESYNC")
        cmd(r, "c", "CREATE Drafts")
        for i in range(3):
            append(r, "a%d" % i, "Drafts", b"Subject: d%d\r\n\r\nx\r\n" % i)
        cmd(r, "s", "SELECT Drafts")
        out = replace(r, "x", b"UID REPLACE 3 Drafts", DRAFT)
        assert out[0].startswith(b"* OK [APPENDUID "), out
        assert b"* VANISHED 3" in out and b"* 3 EXPUNGE" not in out, out
        assert out[-1] == b"x OK Replace completed.", out
        r.close()


def test_imap_replace_errors_keep_the_old_message():
    with srv() as s:
        r = session(s, "Drafts", 2)
        # Target mailbox missing: [TRYCREATE], nothing expunged.
        out = replace(r, "a", b"REPLACE 1 Nope", DRAFT)
        assert out[-1].startswith(b"a NO [TRYCREATE]"), out
        # A sequence number past the end is BAD; so is no number at all.
        out = replace(r, "b", b"REPLACE 3 Drafts", DRAFT)
        assert out[-1].startswith(b"b BAD"), out
        out = replace(r, "b2", b"REPLACE 1:2 Drafts", DRAFT)
        assert out[-1].startswith(b"b2 BAD"), out
        # An unknown UID is a NO.
        out = replace(r, "c", b"UID REPLACE 99 Drafts", DRAFT)
        assert out[-1].startswith(b"c NO"), out
        # A zero-length message, and two messages (REPLACE has no MULTIAPPEND).
        out = cmd(r, "d", "REPLACE 1 Drafts {0+}\r\n")
        assert out[-1].startswith(b"d NO"), out
        r.send(b"e REPLACE 1 Drafts {%d+}\r\n%s {%d+}\r\n%s\r\n" % (len(DRAFT), DRAFT, len(DRAFT), DRAFT))
        out = r.until_tag("e")
        assert out[-1].startswith(b"e BAD"), out
        # Over the APPENDLIMIT: refused before "+", as APPEND is.
        r.send(b"f REPLACE 1 Drafts {60000000}\r\n")
        line = r.line()
        assert line.startswith(b"f NO [TOOBIG]"), line
        out = cmd(r, "g", "UID FETCH 1:* (UID)")
        assert len([x for x in out if b" FETCH " in x]) == 2, out
        out = cmd(r, "h", "STATUS Drafts (MESSAGES)")
        assert b"MESSAGES 2" in out[0], out
        # Read-only (EXAMINE): NO, nothing stored.
        cmd(r, "i", "EXAMINE Drafts")
        out = replace(r, "j", b"REPLACE 1 Drafts", DRAFT)
        assert out[-1].startswith(b"j NO"), out
        # Not selected: REPLACE is a selected-state command.
        cmd(r, "k", "UNSELECT")
        out = replace(r, "l", b"REPLACE 1 Drafts", DRAFT)
        assert out[-1].startswith(b"l BAD") or out[-1].startswith(b"l NO"), out
        out = cmd(r, "m", "STATUS Drafts (MESSAGES)")
        assert b"MESSAGES 2" in out[0], out
        r.close()


def test_imap_replace_old_message_expunged_meanwhile():
    """The old message is gone when the store writes: the whole REPLACE
    is refused (no new message without the old one's end)."""
    with srv() as s:
        r = session(s, "Drafts", 2)
        cmd(r, "c", "CREATE Sent")
        other = Raw(s)
        other.login()
        cmd(other, "s", "SELECT Drafts")
        out = cmd(other, "x", "UID STORE 1 +FLAGS.SILENT (\\Deleted)")
        out = cmd(other, "y", "UID EXPUNGE 1")
        assert b"* 1 EXPUNGE" in out, out
        # r has not synced: its view still holds UID 1.
        out = replace(r, "a", b"UID REPLACE 1 Sent", DRAFT)
        assert out[-1] == b"a NO [NONEXISTENT] The message to replace no longer exists.", out
        out = cmd(r, "b", "STATUS Sent (MESSAGES)")
        assert b"MESSAGES 0" in out[0], out
        other.close()
        r.close()
