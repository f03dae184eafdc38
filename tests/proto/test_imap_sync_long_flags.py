"""FETCH FLAGS lines at their longest: every message of a sync carries
the most keywords the store lets one email have (STORE_KEYWORDS_MAX, 64),
each of the most octets one keyword may have (STORE_KEYWORD_MAX, 255), so
each "* n FETCH (FLAGS (...))" line is some 16 KiB.

The sync's output used to be capped at 1,024 octets a message of the
mailbox (plus 4,096), and so was STORE's own answer: with four such
messages the STORE answered "* n FETCH (FLAGS (\\Recent))" (the keyword
text did not fit, the parentheses did), and another session's NOOP
logged event=sync_failed and got no tagged reply, its view moved on
without the client told. Every session must hear of every change: the
storing session (STORE answer), a plain one (NOOP), an IDLE one and a
CONDSTORE/QRESYNC one (its lines widened by UID and MODSEQ), and each
keeps going after.
"""
import re

from test_imap import Raw, srv

NMSG = 4
KEYWORDS = ["k%02d" % i + "x" * (255 - 3) for i in range(64)]  # 255 octets each
FETCH = re.compile(rb"^\* (\d+) FETCH \((.*)\)$")


def cmd(r, tag, text):
    r.send("%s %s\r\n" % (tag, text))
    out = r.until_tag(tag)
    assert out[-1].startswith(tag.encode() + b" OK"), out[-1][:200]
    return out


def fetched(lines):
    """{seq: the FETCH line's items} of the FETCH lines among lines."""
    out = {}
    for line in lines:
        m = FETCH.match(line)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


def full(items):
    """1 when the FETCH items' FLAGS hold every keyword."""
    m = re.search(rb"FLAGS \(([^)]*)\)", items)
    return bool(m) and set(KEYWORDS) <= {f.decode() for f in m.group(1).split()}


def check_all(got, who, modseq=False, uid=False):
    assert sorted(got) == list(range(1, NMSG + 1)), (who, sorted(got))
    for seq, items in got.items():
        assert full(items), (who, seq, len(items))
        if modseq:
            assert re.search(rb"MODSEQ \(\d+\)", items), (who, seq)
        if uid:
            assert re.search(rb"UID \d+", items), (who, seq)


def test_imap_sync_tells_every_longest_flags_line():
    with srv() as s:
        a, b, c, d = Raw(s), Raw(s), Raw(s), Raw(s)
        for r in (a, b, c, d):
            r.login()
        for i in range(NMSG):
            body = b"Subject: long %d\r\n\r\nbody %d\r\n" % (i, i)
            a.send("p%d APPEND INBOX {%d}\r\n" % (i, len(body)))
            assert a.line().startswith(b"+")
            a.send(body + b"\r\n")
            assert a.until_tag("p%d" % i)[-1].startswith(b"p%d OK" % i)
        cmd(a, "s", "SELECT INBOX")
        cmd(b, "s", "SELECT INBOX")
        cmd(c, "s", "SELECT INBOX")
        cmd(d, "e", "ENABLE QRESYNC")
        cmd(d, "s", "SELECT INBOX (CONDSTORE)")
        c.send("i IDLE\r\n")
        assert c.line().startswith(b"+ ")

        # The storing session is told each message's new flags (a STORE
        # takes 8 KiB of flags, so half the keywords each time).
        cmd(a, "t", "STORE 1:* +FLAGS.SILENT (%s)" % " ".join(KEYWORDS[:32]))
        out = cmd(a, "t", "STORE 1:* +FLAGS (%s)" % " ".join(KEYWORDS[32:]))
        check_all(fetched(out), "store")

        # IDLE: lines until each message's last one has all the keywords
        # (a line dropped leaves this waiting: the socket's timeout ends
        # it), then DONE ends it.
        lines = []
        while not all(full(fetched(lines).get(n, b"")) for n in range(1, NMSG + 1)):
            lines.append(c.line())
        check_all(fetched(lines), "idle")
        c.send("DONE\r\n")
        assert c.until_tag("i")[-1].startswith(b"i OK")

        check_all(fetched(cmd(b, "n", "NOOP")), "noop")
        check_all(fetched(cmd(d, "n", "NOOP")), "qresync", modseq=True, uid=True)

        # Each keeps going, and a change after is told as well.
        cmd(a, "u", "STORE 2 -FLAGS.SILENT (%s)" % KEYWORDS[0])
        for r, who in ((b, "noop"), (c, "idle"), (d, "qresync")):
            got = fetched(cmd(r, "m", "NOOP"))
            assert list(got) == [2], (who, got)
            assert KEYWORDS[0].encode() not in got[2], who
            assert KEYWORDS[1].encode() in got[2], who
        for r in (a, b, c, d):
            cmd(r, "z", "LOGOUT")
            r.close()
        assert "event=sync_failed" not in s.log_text()


def test_imap_one_flag_list_takes_the_most_keywords():
    """STORE and APPEND take in one flag list every keyword the store lets
    a message carry (64 of 255 octets: 16 KiB of text; the lists used to
    stop at 8 KiB with BAD "Too many flags."), and one more keyword than
    that is the store's NO [LIMIT], not a BAD."""
    with srv() as s:
        a = Raw(s)
        a.login()
        body = b"Subject: one list\r\n\r\nbody\r\n"
        a.send("p APPEND INBOX (\\Seen %s) {%d}\r\n" % (" ".join(KEYWORDS[:63]), len(body)))
        assert a.line().startswith(b"+")
        a.send(body + b"\r\n")
        assert a.until_tag("p")[-1].startswith(b"p OK")
        cmd(a, "s", "SELECT INBOX")
        items = fetched(cmd(a, "f", "FETCH 1 FLAGS"))[1]
        assert b"\\Seen" in items and all(k.encode() in items for k in KEYWORDS[:63]), len(items)
        assert full(fetched(cmd(a, "t", "STORE 1 FLAGS (%s)" % " ".join(KEYWORDS)))[1])
        a.send("u STORE 1 +FLAGS (extra)\r\n")
        assert a.until_tag("u")[-1].startswith(b"u NO [LIMIT]")
        cmd(a, "z", "LOGOUT")
        a.close()


SYSTEM = "\\Seen \\Answered \\Flagged \\Draft \\Deleted"


def append(r, tag, flags):
    """APPEND of a small message with the flag list flags: the tagged reply."""
    body = b"Subject: on top\r\n\r\nbody\r\n"
    r.send("%s APPEND INBOX (%s) {%d}\r\n" % (tag, flags, len(body)))
    assert r.line().startswith(b"+")
    r.send(body + b"\r\n")
    return r.until_tag(tag)[-1]


def test_imap_system_flags_come_on_top_of_the_most_keywords():
    """STORE_KEYWORDS_MAX counts keywords, not the system flags: a
    message with the most keywords may also be \\Seen, \\Deleted and the
    rest, given in the same list or later. The store counted $deleted in a
    request's 64 (STORE or APPEND of 64 keywords and \\Deleted: NO
    [LIMIT]) and $seen and the like on the email, so a message with the
    most keywords could not be marked read."""
    with srv() as s:
        a = Raw(s)
        a.login()
        assert append(a, "p", "%s %s" % (SYSTEM, " ".join(KEYWORDS))).startswith(b"p OK")
        assert append(a, "q", " ".join(KEYWORDS)).startswith(b"q OK")
        cmd(a, "s", "SELECT INBOX")
        items = fetched(cmd(a, "f", "FETCH 1 FLAGS"))[1]
        assert full(items) and all(f.encode() in items for f in SYSTEM.split()), items
        # Message 2: the system flags one by one, then all with the
        # keywords in one list.
        for i, flag in enumerate(SYSTEM.split()):
            items = fetched(cmd(a, "t%d" % i, "STORE 2 +FLAGS (%s)" % flag))[2]
            assert full(items) and flag.encode() in items, (flag, items)
        cmd(a, "u", "STORE 2 FLAGS ()")
        items = fetched(cmd(a, "v", "STORE 2 FLAGS (%s %s)" % (" ".join(KEYWORDS), SYSTEM)))[2]
        assert full(items) and all(f.encode() in items for f in SYSTEM.split()), items
        # One keyword more is still the limit, system flags or not.
        a.send("w STORE 2 +FLAGS (\\Seen extra)\r\n")
        assert a.until_tag("w")[-1].startswith(b"w NO [LIMIT]")
        assert append(a, "x", "\\Seen %s extra" % " ".join(KEYWORDS)).startswith(b"x NO [LIMIT]")
        cmd(a, "z", "LOGOUT")
        a.close()


NBIG = 4300  # lines of some 16 KiB: past IMAP_PEND_MAX (64 MiB) together


def until_closed(r, tag):
    """The lines up to the server's close, or up to the tagged reply (the
    session went on)."""
    got = []
    while True:
        try:
            got.append(r.line())
        except (EOFError, ConnectionResetError):
            return got
        if got[-1].startswith(tag.encode() + b" "):
            return got


def test_imap_sync_past_the_output_ceiling_ends_the_session():
    """A sync with more to tell than any output may hold (IMAP_PEND_MAX):
    NBIG messages given the most keywords at once by another session. The
    NOOP's sync used to send the lines that fit, the last one cut, log
    event=sync_failed and answer OK, its view moved on: the client held
    flags it was never told. Now it says "* BYE" before any of it, logs
    why and closes; the store keeps the change, and a new session reads
    it."""
    with srv() as s:
        a, b = Raw(s), Raw(s)
        a.login()
        b.login()
        a.sock.settimeout(600)
        body = b"Subject: many\r\n\r\nbody\r\n"
        for k in range(0, NBIG, 500):
            n = min(500, NBIG - k)
            a.send(b"p APPEND INBOX" + b"".join(b" {%d+}\r\n%s" % (len(body), body)
                                                for _ in range(n)) + b"\r\n")
            assert a.until_tag("p")[-1].startswith(b"p OK")
        cmd(b, "s", "SELECT INBOX")
        cmd(a, "s", "SELECT INBOX")
        cmd(a, "t", "STORE 1:* +FLAGS.SILENT (%s)" % " ".join(KEYWORDS))
        b.sock.settimeout(600)
        b.send("n NOOP\r\n")
        got = until_closed(b, "n")
        assert got and got[0].startswith(b"* BYE "), [g[:80] for g in got[:3]]
        assert len(got) == 1, [g[:80] for g in got[:3]]
        assert s.wait_log("event=sync_output_overflow")
        assert "event=sync_failed" not in s.log_text()
        # Nothing lost: the change is there for the next session.
        c = Raw(s)
        c.login()
        c.sock.settimeout(600)
        st = cmd(c, "u", "STATUS INBOX (MESSAGES)")
        assert b"MESSAGES %d" % NBIG in st[0], st
        cmd(c, "s", "EXAMINE INBOX")
        got = fetched(cmd(c, "f", "FETCH 1,%d FLAGS" % NBIG))
        assert sorted(got) == [1, NBIG] and all(full(v) for v in got.values()), sorted(got)
        cmd(c, "z", "LOGOUT")
        c.close()

        # A STORE's own answer as large: stored, then the same BYE (it
        # used to send the lines that fit, the last one cut, then OK).
        a.send("t STORE 1:* -FLAGS (%s)\r\n" % KEYWORDS[0])
        got = until_closed(a, "t")
        assert len(got) == 1 and got[0].startswith(b"* BYE "), [g[:80] for g in got[:3]]
        d = Raw(s)
        d.login()
        d.sock.settimeout(600)
        cmd(d, "s", "EXAMINE INBOX")
        got = fetched(cmd(d, "f", "FETCH 1,%d FLAGS" % NBIG))
        assert sorted(got) == [1, NBIG], sorted(got)
        for items in got.values():
            assert KEYWORDS[0].encode() not in items and KEYWORDS[1].encode() in items

        # A BYE behind output still waiting (s->pend) was lost: the
        # session closed, and what waited was never sent. Here f's STORE
        # first tells d's change of five messages (some 80 KiB, past what
        # goes to the connection at once), then its own answer is too
        # large: the client saw the connection drop without a word.
        f = Raw(s)
        f.login()
        f.sock.settimeout(600)
        cmd(f, "s", "SELECT INBOX")
        cmd(d, "s", "SELECT INBOX")
        cmd(d, "t", "STORE 1:5 -FLAGS.SILENT (%s)" % KEYWORDS[1])
        f.send("t STORE 1:* -FLAGS (%s)\r\n" % KEYWORDS[2])
        got = until_closed(f, "t")
        assert got and got[-1].startswith(b"* BYE "), [g[:80] for g in got[-3:]]
        assert all(not g.startswith(b"t ") for g in got), [g[:80] for g in got[-3:]]
        cmd(d, "z", "LOGOUT")
        d.close()
