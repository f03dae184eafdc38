"""UIDONLY (RFC 9586) and MESSAGELIMIT (RFC 9738), one server whose
TERN_IMAP_MESSAGE_LIMIT is 3 so that a mailbox of 8 messages is over it.

UIDONLY: before ENABLE message numbers work; after it every command that
takes them (FETCH, STORE, SEARCH, COPY, MOVE, SORT, THREAD, REPLACE), a
sequence-set search key and SELECT's QRESYNC sequence match data get
BAD [UIDREQUIRED]; UID commands answer "* uid UIDFETCH (...)" (UID only
when asked for), another session's flag change and expunge come as
UIDFETCH and VANISHED, "UID SEARCH UID ..." and "$" still work.

MESSAGELIMIT: advertised with its number; UID FETCH, UID SEARCH, UID
STORE, UID MOVE and UID EXPUNGE over more messages than the limit work on
the highest UIDs and say where they stopped (OK [MESSAGELIMIT 3 uid]),
so a client that asks again for the UIDs below gets the rest; an OK with
a code of its own gets an untagged NO [MESSAGELIMIT ...] before it; COPY,
SORT, THREAD and a MULTIAPPEND of more messages, which cannot be done in
parts, are refused with NO [MESSAGELIMIT 3].

SAVELIMIT (TERN_IMAP_SAVE_LIMIT 2): see check_savelimit."""
import re

from test_imap import Raw, srv
from test_imap_search_ext import cmd as cmd1

LIMIT = 3


def session(s):
    r = Raw(s)
    r.login()
    return r


def append(r, mailbox, n):
    for i in range(n):
        data = b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i)
        r.send(b"p APPEND %s {%d+}\r\n%s\r\n" % (mailbox.encode(), len(data), data))
        assert r.until_tag("p")[-1].startswith(b"p OK")


def cmd(r, tag, text):
    """search_ext's cmd() with IMAP4rev1's \\Recent left out of FLAGS."""
    u, t = cmd1(r, tag, text)
    return [re.sub(rb" ?\\Recent", b"", x).replace(b"( ", b"(") for x in u], t


def uids_of(lines, word=b"FETCH"):
    return sorted(int(m.group(1)) for x in lines
                  for m in [re.match(rb"\* (\d+) " + word + rb" ", x)] if m)


def check_uidonly(s):
    r = session(s)
    append(r, "INBOX", 3)
    cmd(r, "s", "SELECT INBOX")
    u, t = cmd(r, "f", "FETCH 1 (FLAGS)")
    assert t.startswith(b"f OK") and u == [b"* 1 FETCH (FLAGS ())"], (u, t)
    cmd(r, "x", "UNSELECT")
    u, t = cmd(r, "e", "ENABLE UIDONLY")
    assert u == [b"* ENABLED UIDONLY"] and t.startswith(b"e OK"), (u, t)
    cmd(r, "s", "SELECT INBOX")
    for c in ["FETCH 1 (FLAGS)", "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL", "COPY 1 Trash",
              "MOVE 1 Trash", "SORT (ARRIVAL) UTF-8 ALL", "THREAD REFERENCES UTF-8 ALL",
              "UID SEARCH 1:*", "UID SEARCH NOT 2", "UID SORT (ARRIVAL) UTF-8 OR 1 2"]:
        u, t = cmd(r, "b", c)
        assert t.startswith(b"b BAD [UIDREQUIRED]"), (c, u, t)
    r.send(b"b REPLACE 1 INBOX {1+}\r\nx\r\n")
    t = r.until_tag("b")[-1]
    assert t.startswith(b"b BAD [UIDREQUIRED]"), t
    # UID commands: UIDFETCH numbered by UID, no UID item unless asked.
    u, t = cmd(r, "g", "UID FETCH 1:* (FLAGS)")
    assert u == [b"* %d UIDFETCH (FLAGS ())" % i for i in (1, 2, 3)], u
    u, t = cmd(r, "g", "UID FETCH 2 (UID RFC822.SIZE)")
    assert u == [b"* 2 UIDFETCH (UID 2 RFC822.SIZE 23)"], u
    u, t = cmd(r, "h", "UID STORE 2 +FLAGS (\\Flagged)")
    assert u == [b"* 2 UIDFETCH (FLAGS (\\Flagged))"], u
    u, t = cmd(r, "i", "UID SEARCH UID 2:* FLAGGED")
    assert u == [b"* SEARCH 2"], u
    cmd(r, "j", "UID SEARCH RETURN (SAVE) UID 1:2")
    u, t = cmd(r, "k", "UID SEARCH $")
    assert u == [b"* SEARCH 1 2"] and t.startswith(b"k OK"), (u, t)
    # Another session's changes: UIDFETCH and VANISHED, never a number.
    b = session(s)
    cmd(b, "s", "SELECT INBOX")
    cmd(b, "f", "UID STORE 3 +FLAGS (\\Answered)")
    cmd(b, "d", "UID STORE 1 +FLAGS (\\Deleted)")
    cmd(b, "x", "EXPUNGE")
    u, t = cmd(r, "n", "NOOP")
    assert b"* 3 UIDFETCH (FLAGS (\\Answered))" in u, u
    assert b"* VANISHED 1" in u, u
    assert not any(re.match(rb"\* \d+ (EXPUNGE|FETCH)", x) for x in u), u
    # Its own EXPUNGE too.
    cmd(r, "d", "UID STORE 2 +FLAGS (\\Deleted)")
    u, t = cmd(r, "x", "EXPUNGE")
    assert u[0] == b"* VANISHED 2" and not any(x.endswith(b"EXPUNGE") for x in u), u
    # QRESYNC: known UIDs are fine, the sequence match data is not.
    cmd(r, "q", "UNSELECT")
    cmd(r, "q", "ENABLE QRESYNC")
    u, t = cmd(r, "q", "SELECT INBOX (QRESYNC (1 1 1:10 (1,2 1,2)))")
    assert t.startswith(b"q BAD [UIDREQUIRED]"), (u, t)
    r.close()
    b.close()


def check_messagelimit(s):
    r = session(s)
    u, t = cmd(r, "c", "CAPABILITY")
    assert b" MESSAGELIMIT=%d" % LIMIT in u[0], u
    cmd(r, "c", "CREATE Big")
    cmd(r, "c", "CREATE Dest")
    append(r, "Big", 8)
    cmd(r, "s", "SELECT Big")
    # FETCH: the three highest, then the client asks for the rest.
    u, t = cmd(r, "f", "UID FETCH 1:* (FLAGS)")
    assert uids_of(u) == [6, 7, 8], u
    assert t.startswith(b"f OK [MESSAGELIMIT 3 6] "), t
    u, t = cmd(r, "f", "UID FETCH 1:5 (FLAGS)")
    assert uids_of(u) == [3, 4, 5] and t.startswith(b"f OK [MESSAGELIMIT 3 3] "), (u, t)
    u, t = cmd(r, "f", "UID FETCH 1:2 (FLAGS)")
    assert uids_of(u) == [1, 2] and t == b"f OK Fetch completed.", (u, t)
    u, t = cmd(r, "f", "FETCH 1:* (UID)")
    assert uids_of(u) == [6, 7, 8] and b"[MESSAGELIMIT 3 6]" in t, (u, t)
    # SEARCH: the highest three the UID set leaves, then below.
    u, t = cmd(r, "q", "UID SEARCH ALL")
    assert u == [b"* SEARCH 6 7 8"] and t.startswith(b"q OK [MESSAGELIMIT 3 6] "), (u, t)
    u, t = cmd(r, "q", "UID SEARCH UID 1:5 ALL")
    assert u == [b"* SEARCH 3 4 5"] and t.startswith(b"q OK [MESSAGELIMIT 3 3] "), (u, t)
    u, t = cmd(r, "q", "UID SEARCH UID 1:2")
    assert u == [b"* SEARCH 1 2"] and t == b"q OK Search completed.", (u, t)
    # STORE.
    u, t = cmd(r, "w", "UID STORE 1:* +FLAGS.SILENT (\\Seen)")
    assert t.startswith(b"w OK [MESSAGELIMIT 3 6] "), t
    u, t = cmd(r, "q", "UID SEARCH UID 1:5 SEEN")
    assert u == [b"* SEARCH"], u
    # UID EXPUNGE counts the \Deleted ones.
    cmd(r, "d", "UID STORE 1:5 +FLAGS.SILENT (\\Deleted)")
    u, t = cmd(r, "d", "UID STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    u, t = cmd(r, "x", "UID EXPUNGE 1:*")
    assert t.startswith(b"x OK [MESSAGELIMIT 3 3] "), t
    assert len([x for x in u if x.endswith(b" EXPUNGE")]) == 3, u
    u, t = cmd(r, "x", "UID EXPUNGE 1:*")
    assert t == b"x OK Expunge completed.", t
    u, t = cmd(r, "q", "UID SEARCH ALL")
    assert u == [b"* SEARCH 6 7 8"] and t == b"q OK Search completed.", (u, t)
    append(r, "Big", 3)  # UIDs 9..11: six messages
    cmd(r, "n", "NOOP")
    # COPY, SORT and THREAD are all or nothing.
    for c in ["UID COPY 1:* Dest", "COPY 1:* Dest", "UID SORT (ARRIVAL) UTF-8 ALL",
              "THREAD REFERENCES UTF-8 ALL"]:
        u, t = cmd(r, "r", c)
        assert t == b"r NO [MESSAGELIMIT 3] Too many messages in one command.", (c, t)
    u, t = cmd(r, "r", "UID COPY 6:8 Dest")
    assert t.startswith(b"r OK [COPYUID "), t
    u, t = cmd(r, "r", "UID SORT (ARRIVAL) UTF-8 UID 9:*")
    assert u == [b"* SORT 9 10 11"], u
    # An OK with a code of its own gets an untagged NO before it.
    u, t = cmd(r, "w", "UID STORE 1:* (UNCHANGEDSINCE 1) +FLAGS (\\Flagged)")
    assert b"* NO [MESSAGELIMIT 3 9] Some messages were not processed." in u, u
    assert t.startswith(b"w OK [MODIFIED "), t
    # MOVE: the highest three go, the rest stays for the next command.
    u, t = cmd(r, "m", "UID MOVE 1:* Dest")
    assert t == b"m OK [MESSAGELIMIT 3 9] Move completed.", (u, t)
    u, t = cmd(r, "q", "UID SEARCH ALL")
    assert u == [b"* SEARCH 6 7 8"], u
    # MULTIAPPEND of more than the limit: all or nothing.
    before = cmd(r, "st", "STATUS Dest (MESSAGES)")[0]
    one = b" {12+}\r\nSubject: x\r\n"
    r.send(b"a APPEND Dest" + one * 4 + b"\r\n")
    out = r.until_tag("a")
    assert out[-1] == b"a NO [MESSAGELIMIT 3] Too many messages in one command.", out
    assert cmd(r, "st", "STATUS Dest (MESSAGES)")[0] == before
    r.send(b"a APPEND Dest" + one * 3 + b"\r\n")
    assert r.until_tag("a")[-1].startswith(b"a OK [APPENDUID ")
    r.close()


def check_savelimit(s):
    """SAVELIMIT (TERN_IMAP_SAVE_LIMIT 2 here): advertised; a saved result
    over it keeps its highest UIDs and says which is the lowest kept, in an
    untagged OK before the tagged one (which keeps its MESSAGELIMIT code);
    "$" then names those; one within it says nothing. SORT's SAVE too."""
    r = session(s)
    u, t = cmd1(r, "c", "CAPABILITY")
    assert b" SAVELIMIT=2" in u[0] and b" MESSAGELIMIT=3" in u[0], u
    assert cmd1(r, "cr", "CREATE Saves")[1].startswith(b"cr OK")
    for i in range(5):
        data = b"Subject: s%d\r\n\r\nbody\r\n" % (5 - i)
        r.send(b"a APPEND Saves {%d+}\r\n%s\r\n" % (len(data), data))
        assert r.until_tag("a")[-1].startswith(b"a OK")
    assert cmd1(r, "s", "SELECT Saves")[1].startswith(b"s OK")
    u, t = cmd1(r, "v", "UID SEARCH RETURN (SAVE) UID 2:4")
    assert u == [b"* OK [SAVELIMIT 2 3] Only the 2 highest UIDs were saved."], u
    assert t.startswith(b"v OK"), t
    u, t = cmd1(r, "f", "UID FETCH $ (UID)")
    assert [re.search(rb"UID (\d+)", x).group(1) for x in u] == [b"3", b"4"], u
    u, t = cmd1(r, "w", "UID SEARCH RETURN (SAVE COUNT) UID 4:5")
    assert u == [b'* ESEARCH (TAG "w") UID COUNT 2'], u
    u, t = cmd1(r, "f", "UID FETCH $ (UID)")
    assert [re.search(rb"UID (\d+)", x).group(1) for x in u] == [b"4", b"5"], u
    u, t = cmd1(r, "o", "UID SORT RETURN (SAVE) (SUBJECT) UTF-8 UID 1:3")
    assert u == [b"* OK [SAVELIMIT 2 2] Only the 2 highest UIDs were saved."], u
    u, t = cmd1(r, "f", "UID FETCH $ (UID)")
    assert [re.search(rb"UID (\d+)", x).group(1) for x in u] == [b"2", b"3"], u
    r.close()


def test_imap_uidonly_messagelimit():
    with srv(env={"TERN_IMAP_MESSAGE_LIMIT": str(LIMIT), "TERN_IMAP_SAVE_LIMIT": "2"}) as s:
        check_uidonly(s)
        check_messagelimit(s)
        check_savelimit(s)
