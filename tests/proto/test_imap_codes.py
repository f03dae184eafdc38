"""IMAP failure paths and the response code each NO carries (RFC 5530,
RFC 9051 §7.1), for what a client decides on the code alone: CANNOT (the
request can never succeed: DELETE INBOX, CREATE of a name the server
refuses), LIMIT (an implementation limit: a name longer than the server
takes), NONEXISTENT (the mailbox named is not there, whatever the
command, GETMETADATA and SETMETADATA included). Raw sessions over TLS,
one server for the module's tests."""
import atexit

from test_imap import Raw, raw_response, srv
from test_imap_compliance import cmd_rest

_srv = []


def server():
    if not _srv:
        s = srv()
        s.__enter__()
        atexit.register(s.cleanup)
        _srv.append(s)
    return _srv[0]


def session(utf8=False):
    c = Raw(server())
    c.login()
    if utf8:
        assert tagged(c, "ENABLE UTF8=ACCEPT").startswith(b"OK"), "enable"
    return c


def tagged(c, line, tag="t"):
    """The tagged answer to one command, without the tag."""
    c.send("%s %s\r\n" % (tag, line) if isinstance(line, str) else b"%s %s\r\n" % (tag.encode(), line))
    return cmd_rest(c, tag)[-1][0][len(tag) + 1:]


def code(answer):
    """'NO [CODE]' of a tagged answer, the code's arguments left out;
    an OK is "OK" whatever its code."""
    words = answer.split(b" ", 2)
    if words[0] == b"OK":
        return "OK"
    if len(words) > 1 and words[1].startswith(b"["):
        return (words[0] + b" " + words[1].split(b"]")[0].rstrip(b"]") + b"]").decode()
    return words[0].decode()


def test_delete_inbox_is_cannot():
    # RFC 5530 §3: CANNOT, "the operation violates some invariant of the
    # server and can never succeed"; it said a bare NO.
    c = session()
    assert code(tagged(c, "DELETE INBOX")) == "NO [CANNOT]"
    assert code(tagged(c, "DELETE inbox")) == "NO [CANNOT]"
    c.close()


def test_metadata_of_a_missing_mailbox_is_nonexistent():
    # As SELECT, STATUS, DELETE and RENAME say it (RFC 5530 §3
    # NONEXISTENT); GETMETADATA and SETMETADATA said a bare NO.
    c = session()
    assert code(tagged(c, "GETMETADATA nosuch /private/comment")) == "NO [NONEXISTENT]"
    assert code(tagged(c, 'SETMETADATA nosuch (/private/comment "x")')) == "NO [NONEXISTENT]"
    assert code(tagged(c, "GETMETADATA INBOX /private/comment")) == "OK"
    c.close()


def test_names_the_server_refuses():
    # A name that cannot be made is CANNOT to CREATE and RENAME (as
    # "a*" already was), never NONEXISTENT; one that cannot exist is
    # NONEXISTENT to the commands that look a mailbox up (it said a bare
    # NO "Mailbox doesn't exist (invalid name)" to all of them, CREATE
    # included). Bad modified UTF-7 (RFC 3501 §5.1.3), and a control
    # character in a UTF-8 name.
    c, u = session(), session(utf8=True)
    assert code(tagged(c, "CREATE src")) == "OK"
    for name in ('"&AOk"', '"&Jjo!"', '"a&AGE-"'):
        assert code(tagged(c, "CREATE %s" % name)) == "NO [CANNOT]", name
        assert code(tagged(c, "RENAME src %s" % name)) == "NO [CANNOT]", name
        for q in ("SELECT %s", "EXAMINE %s", "STATUS %s (MESSAGES)", "DELETE %s",
                  "RENAME %s dst", "GETMETADATA %s /private/comment"):
            assert code(tagged(c, q % name)) == "NO [NONEXISTENT]", q % name
    bad = b"{5+}\r\nx\x01y\xc3\xa9"
    assert code(tagged(u, b"CREATE " + bad)) == "NO [CANNOT]"
    assert code(tagged(u, b"SELECT " + bad)) == "NO [NONEXISTENT]"
    c.close()
    u.close()


def test_names_longer_than_the_server_takes():
    # RFC 5530 §3 LIMIT ("an implementation limit of some kind") to
    # CREATE, RENAME and SUBSCRIBE; a name that long cannot exist, so
    # the lookups say NONEXISTENT. It said [TOOBIG], which RFC 4469 and
    # RFC 7889 define for a message too large, not a name.
    c = session()
    assert code(tagged(c, "CREATE src2")) == "OK"
    for n in (256, 2000):  # past TERN_MAX_MAILBOX_NAME; past the name buffer
        name = "n" * n
        assert code(tagged(c, "CREATE %s" % name)) == "NO [LIMIT]", n
        assert code(tagged(c, "RENAME src2 %s" % name)) == "NO [LIMIT]", n
        assert code(tagged(c, "SUBSCRIBE %s" % name)) == "NO [LIMIT]", n
        for q in ("SELECT %s", "STATUS %s (MESSAGES)", "DELETE %s", "RENAME %s dst"):
            assert code(tagged(c, q % name)) == "NO [NONEXISTENT]", (q[:6], n)
    assert code(tagged(c, "CREATE %s" % ("n" * 255))) == "OK"
    c.close()


def test_too_many_keywords_is_limit():
    # RFC 5530 §3's own example of LIMIT: "the number of flags on a
    # single message"; STORE and APPEND past STORE_KEYWORDS_MAX (64)
    # said a bare NO "Too many keywords on a message."
    c = session()
    assert code(tagged(c, "CREATE kw")) == "OK"
    many = " ".join("$k%d" % i for i in range(65))
    msg = b"Subject: kw\r\n\r\nx\r\n"
    lit = b"{%d+}\r\n%s" % (len(msg), msg)
    assert code(tagged(c, b"APPEND kw (" + many.encode() + b") " + lit)) == "NO [LIMIT]"
    assert code(tagged(c, b"APPEND kw " + lit)) == "OK"
    assert code(tagged(c, "SELECT kw")) == "OK"
    assert code(tagged(c, "STORE 1 +FLAGS.SILENT (%s)" % many)) == "NO [LIMIT]"
    assert code(tagged(c, "STORE 1 +FLAGS.SILENT (%s)" % many.rsplit(" ", 1)[0])) == "OK"
    assert code(tagged(c, "STORE 1 +FLAGS.SILENT ($one_more)")) == "NO [LIMIT]"
    c.close()


def test_changes_in_an_examined_mailbox_are_read_only():
    # RFC 9051 §6.3.3: after EXAMINE "no changes to the permanent state
    # of the mailbox, including per-user state, are permitted", and §7.1
    # READ-ONLY is the code that says why. MOVE and REPLACE said NO
    # [READ-ONLY]; STORE, EXPUNGE and UID EXPUNGE a bare NO. (Dovecot
    # answers STORE and EXPUNGE OK and changes nothing, and moves.)
    c = session()
    msg = b"Subject: ro\r\n\r\nx\r\n"
    assert code(tagged(c, "CREATE ro")) == "OK"
    assert code(tagged(c, "CREATE ro2")) == "OK"
    assert code(tagged(c, b"APPEND ro (\\Deleted) {%d+}\r\n%s" % (len(msg), msg))) == "OK"
    assert code(tagged(c, "EXAMINE ro")) == "OK"
    for q in ("STORE 1 +FLAGS (\\Seen)", "UID STORE 1 -FLAGS.SILENT (\\Deleted)",
              "STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Seen)", "EXPUNGE", "UID EXPUNGE 1:*",
              "MOVE 1 ro2", "UID MOVE 1 ro2"):
        assert code(tagged(c, q)) == "NO [READ-ONLY]", q
    assert code(tagged(c, "COPY 1 ro2")) == "OK"  # the source is not changed
    assert code(tagged(c, "STATUS ro (MESSAGES DELETED)")) == "OK"
    assert code(tagged(c, "SELECT ro")) == "OK"
    assert code(tagged(c, "STORE 1 +FLAGS.SILENT (\\Seen)")) == "OK"
    c.close()


def test_notify_ignores_names_no_mailbox_can_have():
    # RFC 5465 §3.1: "If the name does not refer to an existing mailbox,
    # the server MUST ignore it." A name no mailbox can have (bad
    # modified UTF-7, longer than the server takes) refers to none, as
    # "nosuch" does, which was ignored; these failed the whole NOTIFY
    # with NO [NONEXISTENT], INBOX beside them unwatched. (Dovecot
    # answers OK.)
    c = session()
    for name in ('"&Jjo!"', "n" * 1200):
        c.send("n NOTIFY SET STATUS (mailboxes (%s INBOX) (MessageNew MessageExpunge))\r\n" % name)
        got = cmd_rest(c, "n")
        assert got[-1][0].startswith(b"n OK"), (name[:8], got)
        assert any(t.startswith(b"* STATUS INBOX ") for t, _ in got[:-1]), got
        assert code(tagged(c, "NOTIFY SET (subtree %s (MailboxName))" % name)) == "OK", name[:8]
    assert code(tagged(c, "NOTIFY SET (mailboxes (a (b)) (MailboxName))")) == "BAD"
    assert code(tagged(c, "NOTIFY NONE")) == "OK"
    c.close()


def test_append_to_a_missing_mailbox_is_refused_before_the_message():
    # APPEND to a mailbox that is not there is NO [TRYCREATE] (RFC 9051
    # §6.3.12) before "+": the client does not send the message only to
    # be told to create the mailbox and send it again (Dovecot answers
    # so). tern said "+ Ready for literal data" and read the whole
    # message first. A non-synchronizing literal is skipped, as any
    # refused one, and the next command is read as one.
    c = session()
    c.send("a1 APPEND nosuch (\\Seen) {10}\r\n")
    t, _ = raw_response(c)
    assert t.startswith(b"a1 NO [TRYCREATE]"), t
    assert code(tagged(c, b"APPEND nosuch {10+}\r\n0123456789", tag="a2")) == "NO [TRYCREATE]"
    c.send("a3 APPEND \"&Jjo!\" {10}\r\n")  # no mailbox can have it: looked at later
    t, _ = raw_response(c)
    assert t.startswith(b"+"), t
    c.send("0123456789\r\n")
    assert cmd_rest(c, "a3")[-1][0].startswith(b"a3 NO"), "a3"
    c.send("a4 APPEND {5}\r\n")  # the literal is the name itself
    t, _ = raw_response(c)
    assert t.startswith(b"+"), t
    c.send(b"INBOX {3+}\r\nx\r\n\r\n")
    assert cmd_rest(c, "a4")[-1][0].startswith(b"a4 OK"), "a4"
    c.send("a5 APPEND INBOX {3}\r\n")
    t, _ = raw_response(c)
    assert t.startswith(b"+"), t
    c.send(b"y\r\n\r\n")
    assert cmd_rest(c, "a5")[-1][0].startswith(b"a5 OK"), "a5"
    assert code(tagged(c, "NOOP")) == "OK"
    c.close()


def test_trycreate_only_for_a_name_create_takes():
    # RFC 9051 §6.3.12 (APPEND) and §6.4.7 (COPY, MOVE by RFC 6851):
    # "Unless it is certain that the destination mailbox can not be
    # created, the server MUST send the response code [TRYCREATE]": it
    # tells the client to CREATE and retry. It was sent for names CREATE
    # refuses too (every one below), so a client went CREATE, NO, COPY,
    # TRYCREATE again; such a name is NONEXISTENT, as to SELECT.
    c = session()
    assert tagged(c, "APPEND INBOX {3+}\r\nx\r\n").startswith(b"OK")
    assert tagged(c, "SELECT INBOX").startswith(b"OK")
    for name in ('""', '"a*"', '"a%b"', '"a//b"', '"/lead"', '"a/../b"', "n" * 300):
        assert code(tagged(c, "CREATE %s" % name)) in ("NO [CANNOT]", "NO [LIMIT]"), name
        for q in ("COPY 1 %s", "MOVE 1 %s", "UID COPY 1 %s", "UID MOVE 1 %s",
                  "APPEND %s {3}", "APPEND %s {3+}\r\nx\r\n",
                  'APPEND %s CATENATE (TEXT {3+}\r\nx\r\n)'):
            assert code(tagged(c, q % name)) == "NO [NONEXISTENT]", q % name
    # CREATE "trail/" makes "trail" (RFC 9051 §6.3.4), never "trail/".
    assert code(tagged(c, 'COPY 1 "trail/"')) == "NO [NONEXISTENT]"
    # A name CREATE takes still gets TRYCREATE, and the retry works.
    for q in ("COPY 1 %s", "MOVE 1 %s", "APPEND %s {3}", "APPEND %s {3+}\r\nx\r\n"):
        assert code(tagged(c, q % "fresh")) == "NO [TRYCREATE]", q
    assert tagged(c, "CREATE fresh").startswith(b"OK")
    assert tagged(c, "COPY 1 fresh").startswith(b"OK [COPYUID ")
    c.close()


def test_search_charset_after_utf8_accept_is_bad():
    # RFC 9755 §3: once UTF8=ACCEPT is enabled a client must not label
    # SEARCH strings with a CHARSET, and the server should answer BAD (the
    # labels conflict); it answered OK. Without the ENABLE it stays OK.
    c = session(utf8=True)
    assert tagged(c, "SELECT INBOX").startswith(b"OK")
    assert code(tagged(c, "SEARCH CHARSET UTF-8 SUBJECT x")) == "BAD"
    assert code(tagged(c, "UID SEARCH RETURN (SAVE) CHARSET US-ASCII ALL")) == "BAD"
    assert code(tagged(c, "SEARCH SUBJECT x")) == "OK"
    c.close()
    c = session()
    assert tagged(c, "SELECT INBOX").startswith(b"OK")
    assert code(tagged(c, "SEARCH CHARSET UTF-8 SUBJECT x")) == "OK"
    c.close()


class KeywordWatch:
    """What a client holds of FLAGS: every keyword a FETCH shows must be
    in the last untagged FLAGS list (RFC 9051 §7.3.5: FLAGS lists the
    flags defined in the mailbox; imaptest: "Keyword used without being
    in FLAGS")."""

    def __init__(self, c):
        self.c, self.flags = c, None

    def run(self, line, tag="k"):
        self.c.send("%s %s\r\n" % (tag, line))
        lines = self.c.until_tag(tag)
        for ln in lines[:-1]:
            if ln.startswith(b"* FLAGS ("):
                self.flags = set(ln[9:ln.rindex(b")")].lower().split())
            elif b" FETCH (" in ln and b"FLAGS (" in ln:
                shown = ln.split(b"FLAGS (", 1)[1].split(b")", 1)[0].lower().split()
                missing = [k for k in shown if k not in self.flags and k != b"\\recent"]
                assert not missing, (missing, ln[:120])
        return lines


def test_keywords_past_2048_octets_are_announced():
    # 14 keywords of 193 octets (2,702 with spaces) ran past the session's
    # fixed 2,048-octet list: STORE took them, PERMANENTFLAGS kept \*,
    # FETCH FLAGS showed them, FLAGS never listed the last ones.
    a, b = session(), session()
    assert tagged(a, "CREATE kwcap").startswith(b"OK")
    msg = b"Subject: k\r\n\r\nbody\r\n"
    assert tagged(a, b"APPEND kwcap {%d+}\r\n%s" % (len(msg), msg)).startswith(b"OK")
    wa, wb = KeywordWatch(a), KeywordWatch(b)
    wa.run("SELECT kwcap")
    wb.run("SELECT kwcap")
    names = ["k%02d" % i + "x" * 190 for i in range(14)]
    for n in names:
        assert wa.run("STORE 1 +FLAGS (%s)" % n)[-1].startswith(b"k OK")
    assert {n.lower().encode() for n in names} <= wa.flags
    wb.run("NOOP")  # the other session learns them from its sync
    assert {n.lower().encode() for n in names} <= wb.flags
    b.close()
    # A fresh SELECT lists every keyword in use.
    c = session()
    wc = KeywordWatch(c)
    wc.run("SELECT kwcap")
    assert {n.lower().encode() for n in names} <= wc.flags
    c.close()
    # Keywords set and taken away again do not pile up in the session:
    # once the list passes its bound it keeps those in use.
    for i in range(40):
        n = "t%02d" % i + "y" * 190
        assert wa.run("STORE 1 +FLAGS (%s)" % n)[-1].startswith(b"k OK")
        assert wa.run("STORE 1 -FLAGS (%s)" % n)[-1].startswith(b"k OK")
    stale = [f for f in wa.flags if f.startswith(b"t")]
    assert len(stale) <= 2 * 14, len(stale)
    assert {n.lower().encode() for n in names} <= wa.flags
    a.close()
