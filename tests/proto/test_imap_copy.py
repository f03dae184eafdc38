"""IMAP COPY / MOVE / UID COPY / UID MOVE: COPYUID (UIDPLUS), the copy is
a new message in the target (content, internal date, flags and EMAILID of
the source, then flags of its own), MOVE expunges from the source (the
moving session gets COPYUID then EXPUNGE, a second session on the source
sees EXPUNGE at its next NOOP and one on the target sees EXISTS),
[TRYCREATE], and the quota (a copy counts, a move does not)."""
import imaplib
import re

from test_imap import BOB, Raw, deliver, login, srv, wait_count


def copyuid(text):
    m = re.search(rb"\[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\]", text)
    assert m, text
    return int(m.group(1)), m.group(2).decode(), m.group(3).decode()


def used(s):
    r = s.cli("account", "list").stdout.decode()
    m = re.search(r"bob@example.test\s+emails=(\d+) used=(\d+)", r)
    return int(m.group(1)), int(m.group(2))


def test_imap_copy_copyuid_and_content():
    with srv() as s:
        sent = deliver(s, 4)
        wait_count(s, 4)
        m = login(s)
        m.create("Archive2")
        m.select("INBOX")
        m.store("2", "+FLAGS", "(\\Flagged)")
        before = used(s)
        sizes = [int(re.search(rb"RFC822.SIZE (\d+)", d).group(1))
                 for d in m.fetch("2:3", "(RFC822.SIZE)")[1]]
        typ, data = m.copy("2:3", "Archive2")
        assert typ == "OK", data
        v, src, dst = copyuid(data[0])
        assert src == "2:3" and dst == "1:2", data
        typ, st = m.status("Archive2", "(MESSAGES UIDVALIDITY UIDNEXT)")
        assert b"MESSAGES 2" in st[0] and b"UIDVALIDITY %d" % v in st[0] and b"UIDNEXT 3" in st[0]
        # Two new messages on the same stored bytes, counted as Dovecot does.
        assert used(s) == (before[0] + 2, before[1] + sum(sizes)), (used(s), before, sizes)
        # UID COPY, non-contiguous, with a UID that does not exist.
        typ, data = m._simple_command("UID", "COPY", "1,4,99", "Archive2")
        assert typ == "OK"
        v2, src, dst = copyuid(data[0])
        assert v2 == v and src == "1,4" and dst == "3:4", data
        typ, data = m.copy("1", "NoSuch")
        assert typ == "NO" and b"[TRYCREATE]" in data[0], data
        # The copies carry the content and keywords of the email.
        orig_date = m.fetch("2", "(INTERNALDATE)")[1][0]
        m.select("Archive2")
        typ, data = m.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])")
        assert b"\\Flagged" in data[0][0] and data[0][1].endswith(sent[1]), data
        assert orig_date.split(b"INTERNALDATE")[1].rstrip(b")") in data[0][0], (orig_date, data)
        # Copy into the selected mailbox: new UID, EXISTS.
        typ, data = m.copy("1", "Archive2")
        assert typ == "OK" and copyuid(data[0])[2] == "5", data
        assert m.untagged_responses.get("EXISTS", [b""])[-1] == b"5", m.untagged_responses
        # Expunging a copy leaves the email in INBOX.
        m.store("1:5", "+FLAGS.SILENT", "(\\Deleted)")
        m.expunge()
        assert m.status("INBOX", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 4)")
        assert len(s.messages(BOB)) == 4


def test_imap_copy_then_delete_original_keeps_the_copy():
    """How clients without MOVE save a message to a folder (neomutt's save,
    Thunderbird's "mark as deleted" mode): COPY, then \\Deleted on the
    original, then EXPUNGE. The copy is a message of its own, so it is not
    \\Deleted and an EXPUNGE in its mailbox keeps it; nor does it get the
    \\Seen set on the original after the COPY."""
    with srv() as s:
        deliver(s, 2)
        wait_count(s, 2)
        m = login(s)
        m.create("Saved")
        watcher = login(s)
        watcher.select("Saved")
        m.select("INBOX")
        typ, data = m.uid("COPY", "1", "Saved")
        assert typ == "OK", data
        typ, data = m.uid("STORE", "1", "+FLAGS", "(\\Deleted \\Seen)")
        assert typ == "OK" and b"\\Deleted" in data[0], data
        st = m.status("Saved", "(MESSAGES DELETED)")[1][0]
        assert st.endswith(b"(MESSAGES 1 DELETED 0)"), st
        st = m.status("INBOX", "(MESSAGES DELETED)")[1][0]
        assert st.endswith(b"(MESSAGES 2 DELETED 1)"), st
        assert m.search(None, "DELETED")[1][0] == b"1"
        m.expunge()
        # A session on the copy's mailbox sees it arrive, neither \\Seen
        # nor \\Deleted (both came after the COPY), and it survives an
        # EXPUNGE there.
        watcher.noop()
        typ, data = watcher.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert b"\\Seen" not in data[0][0] and b"\\Deleted" not in data[0][0], data
        assert b"msg 0" in data[0][1], data
        assert watcher.search(None, "DELETED")[1][0] == b""
        watcher.expunge()
        assert watcher.status("Saved", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 1)")
        # \\Deleted set in Saved stays there: INBOX's copy is gone, and a
        # new copy of the Saved one starts \\Deleted, as RFC 9051 asks
        # COPY to keep flags.
        watcher.store("1", "+FLAGS", "(\\Deleted)")
        typ, data = watcher.copy("1", "INBOX")
        assert typ == "OK", data
        m.noop()
        typ, data = m.fetch("2", "(FLAGS)")
        assert b"\\Deleted" in data[0] and b"\\Seen" not in data[0], data
        m.logout()
        watcher.logout()
        assert len(s.messages(BOB)) == 2
        assert len(s.messages(BOB, "Saved")) == 1


def test_imap_move_expunges_and_other_sessions():
    with srv() as s:
        deliver(s, 5)
        wait_count(s, 5)
        a = login(s)
        b = login(s)
        c = login(s)
        a.select("INBOX")
        b.select("INBOX")
        c.select("Trash")
        before = used(s)
        a.uid("STORE", "2", "+FLAGS", "(\\Seen)")
        typ, data = a.uid("MOVE", "2:3", "Trash")
        assert typ == "OK", data
        # COPYUID comes as an untagged OK, then the EXPUNGEs.
        assert b"[COPYUID" in b" ".join(x for x in a.untagged_responses.get("OK", []) if x) \
            or a.untagged_responses.get("COPYUID"), a.untagged_responses
        exp = a.untagged_responses.get("EXPUNGE", [])
        assert exp == [b"3", b"2"], exp  # highest first: the numbers stay right
        typ, data = a.search(None, "ALL")
        assert data == [b"1 2 3"], data
        typ, data = a.fetch("1:3", "(UID)")
        assert [re.search(rb"UID (\d+)", d).group(1) for d in data] == [b"1", b"4", b"5"]
        assert used(s) == before
        # The other session on INBOX hears EXPUNGE at NOOP; Trash EXISTS.
        b.noop()
        assert b.untagged_responses.get("EXPUNGE", []) == [b"3", b"2"], b.untagged_responses
        c.noop()
        assert c.untagged_responses.get("EXISTS", [b""])[-1] == b"2", c.untagged_responses
        typ, data = c.fetch("1:2", "(UID FLAGS)")
        assert b"UID 1" in data[0] and b"\\Seen" in data[0], data
        # MOVE by sequence number; to a missing mailbox: TRYCREATE, nothing moved.
        typ, data = a.copy("1", "Missing")  # COPY shares the check
        assert typ == "NO"
        typ, data = a._simple_command("MOVE", "1", "Missing")
        assert typ == "NO"
        typ, data = a._simple_command("MOVE", "1:*", "Trash")
        assert typ == "OK", data
        assert a.search(None, "ALL")[1] == [b""]
        assert c.status("Trash", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 5)")
        assert len(s.messages(BOB, "Trash")) == 5 and len(s.messages(BOB)) == 0
        # EXAMINE: MOVE refused, COPY allowed.
        a.select("Trash", readonly=True)
        typ, data = a._simple_command("MOVE", "1", "INBOX")
        assert typ == "NO"
        typ, data = a.copy("1", "INBOX")
        assert typ == "OK"


def test_imap_selected_mailbox_deleted_and_check():
    """A session whose selected mailbox another session deletes is told
    BYE at its next command that syncs, instead of going on with a stale
    view; CHECK syncs like NOOP."""
    with srv() as s:
        a, b = login(s), login(s)
        a.create("Doomed")
        a.append("Doomed", None, None, b"Subject: x\r\n\r\nx\r\n")
        b.select("Doomed")
        assert b.check()[0] == "OK"
        a.append("Doomed", None, None, b"Subject: y\r\n\r\ny\r\n")
        typ, data = b.check()
        assert typ == "OK" and b.untagged_responses.get("EXISTS", [b""])[-1] == b"2"
        assert a.delete("Doomed")[0] == "OK"
        try:
            b.noop()
            b.noop()
            assert False, "session went on after its mailbox was deleted"
        except (imaplib.IMAP4.abort, OSError, EOFError) as e:
            assert "deleted" in str(e).lower() or "BYE" in str(e) or isinstance(e, OSError), e


def test_imap_selected_mailbox_deleted_while_idle():
    """Sessions in IDLE on a mailbox another session deletes are told BYE
    at once, and the server stays sound: the BYE's flush may find the
    connection gone and free the session inside the change feed's
    callback, which then read it again (a heap-use-after-free in
    change_cb under --build asan, in about half of the sessions; the
    server is stopped cleanly to be sure it is still up)."""
    with srv() as s:
        a = login(s)
        a.create("Doomed")
        idlers = []
        for _ in range(6):
            r = Raw(s)
            r.login()
            r.send("s SELECT Doomed\r\ni IDLE\r\n")
            r.until_tag("s")
            assert r.line() == b"+ idling"
            idlers.append(r)
        assert a.delete("Doomed")[0] == "OK"
        for r in idlers:
            r.sock.settimeout(30)
            assert r.line() == b"* BYE Selected mailbox was deleted, have to disconnect."
            r.close()
        a.logout()
        assert s.stop() == 0


def test_imap_copy_move_of_message_expunged_elsewhere():
    """COPY or MOVE of a set holding a message another session expunged
    since this one last synced: RFC 9051 §6.4.7 wants a failed COPY to
    leave the target as it was, so the whole command fails, NO
    [EXPUNGEISSUED] (§7.1) after the EXPUNGE that says which one, and
    nothing is copied or moved (Dovecot answers the same). Before, the
    others were copied and the answer was OK with a partial COPYUID."""
    with srv() as s:
        deliver(s, 5)
        wait_count(s, 5)
        a, b = login(s), login(s)
        a.create("Dst")
        a.select("INBOX")
        b.select("INBOX")

        def expunge_elsewhere(seq):
            b.store(seq, "+FLAGS.SILENT", "(\\Deleted)")
            assert b.expunge()[0] == "OK"
            a.untagged_responses.clear()

        expunge_elsewhere("2")  # UID 2; a still sees it as message 2
        typ, data = a.copy("1:3", "Dst")
        assert typ == "NO" and data[0].startswith(b"[EXPUNGEISSUED]"), (typ, data)
        assert a.untagged_responses.get("EXPUNGE") == [b"2"], a.untagged_responses
        assert a.status("Dst", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 0)")
        assert s.messages(BOB, "Dst") == []
        # Told of the expunge, the same numbers now name UIDs 1, 3, 4.
        typ, data = a.copy("1:3", "Dst")
        assert typ == "OK" and copyuid(data[0])[1:] == ("1,3:4", "1:3"), data

        expunge_elsewhere("3")  # UID 4: a's message 3
        typ, data = a._simple_command("MOVE", "2:4", "Dst")
        assert typ == "NO" and data[0].startswith(b"[EXPUNGEISSUED]"), (typ, data)
        assert a.untagged_responses.get("EXPUNGE") == [b"3"], a.untagged_responses
        assert b"COPYUID" not in b" ".join(x or b"" for x in a.untagged_responses.get("OK", []))
        assert a.status("Dst", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 3)")
        assert a.status("INBOX", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 3)")
        typ, data = a.fetch("1:3", "(UID)")
        assert [re.search(rb"UID (\d+)", d).group(1) for d in data] == [b"1", b"3", b"5"], data
        typ, data = a._simple_command("MOVE", "2:3", "Dst")
        assert typ == "OK", data
        assert a.status("Dst", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 5)")
        assert len(s.messages(BOB)) == 1 and len(s.messages(BOB, "Dst")) == 5


def test_imap_copy_is_a_message_of_its_own():
    """COPY makes a new message in the target (RFC 9051 §6.4.7): it starts
    with the source's flags, then its flags are its own. A STORE on the
    copy, \\Seen set by a BODY[] fetch of it, or its EXPUNGE leave the
    original's FLAGS and MODSEQ as they were (RFC 7162: MODSEQ moves only
    when that message changes), and a session on the original's mailbox
    hears nothing of them; a STORE on the original leaves the copy alone
    (Dovecot and Cyrus do the same). The copy keeps the source's EMAILID
    (RFC 8474 §5.1: a MUST for the COPYUID pairing) and THREADID, and
    counts against the quota as Dovecot counts a copy. Before, keywords
    were the shared email's: the copy's STORE changed the original."""
    with srv() as s:
        deliver(s, 2)
        wait_count(s, 2)
        m = login(s)
        m.create("Saved")
        m.select("INBOX")
        m.store("1", "+FLAGS", "(\\Flagged)")
        other = login(s)
        other.select("INBOX")

        def state(c, seq="1"):
            typ, data = c.fetch(seq, "(UID FLAGS MODSEQ EMAILID THREADID)")
            assert typ == "OK", data
            return data[0]

        before = state(other)
        emails_before, used_before = used(s)
        size = int(re.search(rb"RFC822.SIZE (\d+)", m.fetch("1", "(RFC822.SIZE)")[1][0]).group(1))
        typ, data = m._simple_command("UID", "COPY", "1", "Saved")
        assert typ == "OK", data
        assert copyuid(data[0])[1:] == ("1", "1"), data
        counted = used(s)
        m.select("Saved")
        copy = state(m)
        assert b"\\Flagged" in copy, copy
        ident = re.compile(rb"(EMAILID \(\w+\) THREADID \(\w+\))")
        assert ident.search(copy).group(1) == ident.search(before).group(1), (copy, before)
        assert m.store("1", "+FLAGS", "(\\Answered $Label1)")[0] == "OK"
        assert m.store("1", "-FLAGS", "(\\Flagged)")[0] == "OK"
        typ, data = m.fetch("1", "(BODY[])")  # sets \\Seen on the copy
        assert typ == "OK", data
        copy = state(m)
        assert b"\\Seen" in copy and b"\\Answered" in copy and b"\\Flagged" not in copy, copy
        other.untagged_responses.pop("FETCH", None)
        assert other.noop()[0] == "OK"
        assert "FETCH" not in other.untagged_responses, other.untagged_responses
        assert state(other) == before, (state(other), before)
        # The other way round: the original's STORE leaves the copy alone.
        assert other.store("1", "+FLAGS", "(\\Draft)")[0] == "OK"
        m.untagged_responses.pop("FETCH", None)
        assert m.noop()[0] == "OK"
        assert "FETCH" not in m.untagged_responses, m.untagged_responses
        assert b"\\Draft" not in state(m), state(m)
        before = state(other)
        # Expunging the copy: the original stays as it is.
        assert m.store("1", "+FLAGS.SILENT", "(\\Deleted)")[0] == "OK"
        assert m.expunge()[0] == "OK"
        other.untagged_responses.pop("FETCH", None)
        assert other.noop()[0] == "OK"
        assert "FETCH" not in other.untagged_responses, other.untagged_responses
        assert state(other) == before, (state(other), before)
        assert counted == (emails_before + 1, used_before + size), (counted, used_before, size)
        assert used(s) == (emails_before, used_before), used(s)
        m.logout()
        other.logout()


def test_imap_copy_as_jmap_sees_it():
    """What JMAP shows of an IMAP COPY: a new Email (Email/changes lists
    it as created, the original not even as updated: it did not change),
    in the target mailbox only, with the original's keywords, whose
    keywords an IMAP STORE on the copy changes apart from the original's
    (RFC 8621 §4.1.1: keywords are the Email's, and each is an Email).
    A MOVE keeps the Email's id (RFC 6851: the message moves)."""
    from jmapc import Jmap
    with srv(http=True) as s:
        deliver(s, 1)
        wait_count(s, 1)
        j = Jmap(s, BOB, "bob-pw-1")
        _, r = j.one("Email/query", {})
        orig = r["ids"][0]
        m = login(s)
        m.create("Saved")
        _, r = j.one("Mailbox/get", {"properties": ["name"]})
        box = {x["name"]: x["id"] for x in r["list"]}
        m.select("INBOX")
        m.store("1", "+FLAGS", "(\\Flagged)")
        _, r = j.one("Email/get", {"ids": [], "properties": ["id"]})
        since = r["state"]
        typ, data = m.copy("1", "Saved")
        assert typ == "OK", data
        _, r = j.one("Email/changes", {"sinceState": since})
        assert r["updated"] == [] and r["destroyed"] == [] and len(r["created"]) == 1, r
        copy = r["created"][0]
        assert copy != orig
        _, r = j.one("Email/get", {"ids": [orig, copy], "properties": ["mailboxIds", "keywords",
                                                                        "threadId", "blobId"]})
        o, c = r["list"]
        assert o["mailboxIds"] == {box["INBOX"]: True} and c["mailboxIds"] == {box["Saved"]: True}
        assert o["keywords"] == c["keywords"] == {"$flagged": True}, r
        assert o["threadId"] == c["threadId"] and o["blobId"] == c["blobId"], r
        m.select("Saved")
        m.store("1", "+FLAGS", "(\\Seen)")
        _, r = j.one("Email/get", {"ids": [orig, copy], "properties": ["keywords"]})
        assert [x["keywords"] for x in r["list"]] == [
            {"$flagged": True}, {"$flagged": True, "$seen": True}], r
        typ, data = m._simple_command("MOVE", "1", "INBOX")
        assert typ == "OK", data
        _, r = j.one("Email/get", {"ids": [copy], "properties": ["mailboxIds"]})
        assert r["list"][0]["mailboxIds"] == {box["INBOX"]: True}, r
        m.logout()


def test_sieve_fileinto_copy_is_a_message_of_its_own():
    """A Sieve fileinto :copy (RFC 3894) puts a second message in the
    folder, as an IMAP COPY does: its flags are its own, so reading the
    INBOX's leaves the folder's unread (Dovecot stores two messages).
    Before, a delivery's copies in one account were one email with shared
    keywords: \\Seen on the INBOX's showed on the Archive's."""
    with srv() as s:
        s.cli("sieve", "put", BOB, "s", input='require ["fileinto", "copy"];\r\n'
              'fileinto :copy "Archive";\r\n')
        s.cli("sieve", "activate", BOB, "s")
        deliver(s, 1)
        wait_count(s, 1)
        m = login(s)
        assert m.status("Archive", "(MESSAGES UNSEEN)")[1][0].endswith(b"(MESSAGES 1 UNSEEN 1)")
        m.select("INBOX")
        assert m.store("1", "+FLAGS", "(\\Seen \\Flagged)")[0] == "OK"
        st = m.status("Archive", "(MESSAGES UNSEEN)")[1][0]
        assert st.endswith(b"(MESSAGES 1 UNSEEN 1)"), st
        m.select("Archive")
        typ, data = m.fetch("1", "(FLAGS)")
        assert b"\\Flagged" not in data[0], data
        m.logout()
