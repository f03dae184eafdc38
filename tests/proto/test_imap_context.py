"""CONTEXT=SEARCH (RFC 5267 §4), one server, two sessions on one mailbox:
SEARCH RETURN (UPDATE) answers as Dovecot does (UPDATE alone: an ESEARCH
with no data; with COUNT/MIN/MAX: those), then the other session's flag
change, APPEND and EXPUNGE come as "* ESEARCH (TAG ..) [UID] REMOVEFROM
(0 set)" and "ADDTO (0 set)" at the next NOOP or during IDLE, a
REMOVEFROM of an expunged message before its EXPUNGE and numbered as the
client knew it; the session's own STORE too, answered with the STORE;
the CONTEXT hint (§4.2) taken and ignored; CANCELUPDATE of one tag
stops its updates, an unknown tag is NO; the eleventh context gets its
answer and NO [NOUPDATE "tag"]; SELECT ends every context. CONTEXT=SORT
(§4.2, Dovecot 2.3 does not offer it): SORT RETURN (UPDATE) by subject
(UID) and by reverse arrival, three messages added (ADDTO with their
positions, inserted in order), one deleted and one expunged (REMOVEFROM
with the position it had)."""
from test_imap import Raw, srv
from test_imap_search_ext import cmd


def session(s):
    r = Raw(s)
    r.login()
    assert cmd(r, "s", "SELECT INBOX")[1].startswith(b"s OK")
    return r


def append(r, text):
    data = text.encode()
    r.send(b"p APPEND INBOX {%d+}\r\n%s\r\n" % (len(data), data))
    assert r.until_tag("p")[-1].startswith(b"p OK")


def esearch(lines):
    return [x for x in lines if x.startswith(b"* ESEARCH")]


def test_imap_context_search():
    with srv() as s:
        a, b = session(s), session(s)
        for i in range(3):
            append(b, "Subject: %d\r\n\r\nx\r\n" % i)
        cmd(a, "n", "NOOP")
        u, t = cmd(a, "c", "CAPABILITY")
        assert b" CONTEXT=SEARCH" in u[0], u
        assert cmd(a, "c", "UID SEARCH RETURN (UPDATE) UNSEEN") == (
            [b'* ESEARCH (TAG "c") UID'], b"c OK Search completed.")
        assert cmd(a, "d", "SEARCH RETURN (UPDATE COUNT MIN MAX) UNSEEN")[0] == [
            b'* ESEARCH (TAG "d") MIN 1 MAX 3 COUNT 3']
        # The context hint (§4.2, its example): "Servers MAY ignore this return
        # option"; alone it leaves the list empty, so ALL (RFC 4731 §3.1).
        assert cmd(a, "h1", "SEARCH RETURN (CONTEXT COUNT) UNDELETED UNKEYWORD $Junk") == (
            [b'* ESEARCH (TAG "h1") COUNT 3'], b"h1 OK Search completed.")
        assert cmd(a, "h2", "UID SEARCH RETURN (CONTEXT) ALL")[0] == [
            b'* ESEARCH (TAG "h2") UID ALL 1:3']
        assert cmd(a, "h3", "SORT RETURN (CONTEXT MIN) (SUBJECT) UTF-8 ALL")[0] == [
            b'* ESEARCH (TAG "h3") MIN 1']
        # Another session's flag change.
        cmd(b, "x", "STORE 2 +FLAGS (\\Seen)")
        u, t = cmd(a, "e", "NOOP")
        assert sorted(esearch(u)) == [b'* ESEARCH (TAG "c") UID REMOVEFROM (0 2)',
                                      b'* ESEARCH (TAG "d") REMOVEFROM (0 2)'], u
        # An expunge: REMOVEFROM first, by the number the client knew.
        cmd(b, "y", "STORE 1 +FLAGS.SILENT (\\Deleted)")
        cmd(b, "z", "EXPUNGE")
        u, t = cmd(a, "g", "NOOP")
        i_exp = u.index(b"* 1 EXPUNGE")
        assert sorted(u[:i_exp]) == [b'* ESEARCH (TAG "c") UID REMOVEFROM (0 1)',
                                     b'* ESEARCH (TAG "d") REMOVEFROM (0 1)'], u
        # A new message: ADDTO after EXISTS (UID 4 is sequence number 3).
        append(b, "Subject: 3\r\n\r\nx\r\n")
        u, t = cmd(a, "h", "NOOP")
        i_ex = u.index(b"* 3 EXISTS")
        assert sorted(u[i_ex + 1:]) == [b'* ESEARCH (TAG "c") UID ADDTO (0 4)',
                                        b'* ESEARCH (TAG "d") ADDTO (0 3)'], u
        # The session's own STORE counts too, and its update comes with
        # the STORE's answer, as Dovecot sends it (and as imaptest's
        # CONTEXT group expects), not at the next NOOP.
        u, t = cmd(a, "i", "STORE 3 +FLAGS.SILENT (\\Seen)")
        assert sorted(esearch(u)) == [
            b'* ESEARCH (TAG "c") UID REMOVEFROM (0 4)', b'* ESEARCH (TAG "d") REMOVEFROM (0 3)'], u
        assert t.startswith(b"i OK") and esearch(cmd(a, "j", "NOOP")[0]) == []
        u, t = cmd(a, "i2", "STORE 3 -FLAGS (\\Seen)")
        assert sorted(esearch(u)) == [
            b'* ESEARCH (TAG "c") UID ADDTO (0 4)', b'* ESEARCH (TAG "d") ADDTO (0 3)'], u
        u, t = cmd(a, "i3", "UID STORE 4 +FLAGS (\\Seen)")
        assert sorted(esearch(u)) == [
            b'* ESEARCH (TAG "c") UID REMOVEFROM (0 4)', b'* ESEARCH (TAG "d") REMOVEFROM (0 3)'], u
        # CANCELUPDATE: one goes, the other stays; an unknown tag is NO.
        assert cmd(a, "k", 'CANCELUPDATE "c"') == ([], b"k OK Updates cancelled.")
        assert cmd(a, "l", 'CANCELUPDATE "nosuch"') == ([], b"l NO Unknown tag.")
        cmd(b, "m", "STORE 1 -FLAGS (\\Seen)")
        assert esearch(cmd(a, "o", "NOOP")[0]) == [b'* ESEARCH (TAG "d") ADDTO (0 1)']
        # During IDLE the update comes with the change.
        a.send(b"q IDLE\r\n")
        assert a.line().startswith(b"+")
        cmd(b, "r", "STORE 1 +FLAGS (\\Seen)")
        got = []
        while not got:
            line = a.line()
            if line.startswith(b"* ESEARCH"):
                got.append(line)
        assert got == [b'* ESEARCH (TAG "d") REMOVEFROM (0 1)'], got
        a.send(b"DONE\r\n")
        assert a.until_tag("q")[-1].startswith(b"q OK")
        # Ten contexts at most: the eleventh is answered, then NOUPDATE.
        for i in range(9):
            assert cmd(a, "t%d" % i, "SEARCH RETURN (UPDATE) ALL")[1].startswith(b"t%d OK" % i)
        u, t = cmd(a, "w", "SEARCH RETURN (UPDATE COUNT) ALL")
        assert u == [b'* ESEARCH (TAG "w") COUNT 3', b'* NO [NOUPDATE "w"] Too many updating searches.'], u
        assert t == b"w OK Search completed."
        # SELECT ends every context.
        cmd(a, "y", "SELECT INBOX")
        append(b, "Subject: 4\r\n\r\nx\r\n")
        assert esearch(cmd(a, "z", "NOOP")[0]) == []
        assert cmd(a, "z2", 'CANCELUPDATE "d"')[1] == b"z2 NO Unknown tag."
        check_sort(a, b)
        a.close()
        b.close()


def check_sort(a, b):
    """CONTEXT=SORT (RFC 5267 §4.2): SORT RETURN (UPDATE) keeps a sorted
    result; ADDTO and REMOVEFROM carry each message's position in it."""
    cmd(b, "c", "CREATE Sorted")
    for subject in ("m", "c", "x"):  # UIDs 1, 2, 3
        b.send(b"p APPEND Sorted {%d+}\r\nSubject: %s\r\n\r\nx\r\n\r\n" % (15, subject.encode()))
        assert b.until_tag("p")[-1].startswith(b"p OK")
    cmd(a, "s", "SELECT Sorted")
    cmd(b, "s", "SELECT Sorted")
    u, t = cmd(a, "k", "UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 UNDELETED")
    assert u == [b'* ESEARCH (TAG "k") UID ALL 2,1,3'] and t.startswith(b"k OK"), (u, t)
    u, t = cmd(a, "q", "SORT RETURN (UPDATE) (REVERSE SUBJECT) UTF-8 ALL")
    assert t.startswith(b"q OK"), (u, t)
    for subject in ("a", "z", "d"):  # UIDs 4, 5, 6
        b.send(b"p APPEND Sorted {%d+}\r\nSubject: %s\r\n\r\nx\r\n\r\n" % (15, subject.encode()))
        assert b.until_tag("p")[-1].startswith(b"p OK")
    # a c d m x z: UID 4 first, 6 third, 5 sixth (inserted in that order);
    # reversed, z x m d c a: 5 first, 6 fourth, 4 sixth.
    u = esearch(cmd(a, "n", "NOOP")[0])
    assert sorted(u) == sorted([b'* ESEARCH (TAG "k") UID ADDTO (1 4 3 6 6 5)',
                                b'* ESEARCH (TAG "q") ADDTO (1 5 4 6 6 4)']), u
    # m (UID 1) deleted: fourth in the subject order (the other context
    # takes deleted ones too).
    cmd(b, "d", "UID STORE 1 +FLAGS (\\Deleted)")
    u = esearch(cmd(a, "n", "NOOP")[0])
    assert u == [b'* ESEARCH (TAG "k") UID REMOVEFROM (4 1)'], u
    # Expunged: the other context loses message 1 (third, z x m ...),
    # numbered as the client knew it, before the EXPUNGE.
    cmd(b, "x", "EXPUNGE")
    u, t = cmd(a, "n", "NOOP")
    assert u[0] == b'* ESEARCH (TAG "q") REMOVEFROM (3 1)' and b"* 1 EXPUNGE" in u, u
    assert cmd(a, "c", 'CANCELUPDATE "k" "q"')[1].startswith(b"c OK")


def test_imap_context_mailbox_deleted():
    """A session holding a SEARCH RETURN (UPDATE) context whose mailbox
    another session deletes: BYE at its next NOOP, and nothing is left
    allocated (the server is stopped cleanly so that, under --build asan,
    LeakSanitizer checks it at exit: before, the UIDs copied for the
    context's update were not freed on that BYE)."""
    with srv() as s:
        a, b = session(s), session(s)
        assert cmd(b, "c", "CREATE Box")[1].startswith(b"c OK")
        assert cmd(a, "s", "SELECT Box")[1].startswith(b"s OK")
        assert cmd(a, "u", "SEARCH RETURN (UPDATE) ALL")[1].startswith(b"u OK")
        assert cmd(b, "d", "DELETE Box")[1].startswith(b"d OK")
        a.send("n NOOP\r\n")
        assert a.line() == b"* BYE Selected mailbox was deleted, have to disconnect."
        assert s.stop() == 0
