"""INPROGRESS (RFC 9585), one server: SEARCH over a mailbox of 2500
messages goes in steps of 1000 so that the loop serves other sessions
between them, and says how far it got after the first step:
"* OK [INPROGRESS ("tag" 1000 2500)] Searching." (then at most once a
second); the counts grow and stay below the total, the answer and the
tagged OK come after them and are what one step would give; a command
pipelined behind the SEARCH is answered after it; RETURN (SAVE) keeps
the result for "$"; a second session is served while the first searches.
The counts are of the messages the search looks at: those its
top-level UID set leaves (2000 of "UID 1:2000"; "UID 1:500" is one
step and says nothing) and with MESSAGELIMIT (TERN_IMAP_MESSAGE_LIMIT
2200 here) the 2200 searched. A client that goes away mid-search ends
it (the ASan run checks nothing is used after the session is freed).
SORT and THREAD go in the same steps (the search, then reading each
match's keys: "Sorting.", "Threading."), and a COPY or MOVE of more
than 1000 messages says "* OK [INPROGRESS ("tag" 0 n)] Copying." (or
"Moving.") when it starts, its one transaction then reporting how far
it got at most once a second."""
import re

from test_imap import Raw, srv
from test_imap_search_ext import cmd

N = 2500


def fill(r):
    """N messages by MULTIAPPEND, 1000 at most per command (cmd_append.c)."""
    for first in range(1, N + 1, 1000):
        parts = []
        for i in range(first, min(N, first + 999) + 1):
            data = b"Subject: m%d\r\n\r\n%s\r\n" % (i, b"needle" if i % 7 == 0 else b"hay")
            parts.append(b" {%d+}\r\n%s" % (len(data), data))
        r.send(b"a APPEND INBOX" + b"".join(parts) + b"\r\n")
        assert r.until_tag("a")[-1].startswith(b"a OK"), "MULTIAPPEND"


def progress(lines, tag, what=b"Searching"):
    got = []
    for x in lines:
        m = re.fullmatch(rb'\* OK \[INPROGRESS \("%s" (\d+) (\d+)\)\] %s\.' % (tag.encode(), what), x)
        if m:
            got.append((int(m.group(1)), int(m.group(2))))
    return got


def test_imap_inprogress():
    with srv(env={"TERN_IMAP_MESSAGE_LIMIT": "2200"}) as s:
        r = Raw(s)
        r.login()
        u, t = cmd(r, "c", "CAPABILITY")
        assert b" INPROGRESS" in u[0], u
        fill(r)
        cmd(r, "s", "SELECT INBOX")
        want = [i for i in range(N - 2200 + 1, N + 1) if i % 7 == 0]
        # A search pipelined with a NOOP: steps, then the answer, then NOOP.
        r.send(b"t UID SEARCH BODY needle\r\nn NOOP\r\n")
        out = r.until_tag("t")
        p = progress(out, "t")
        assert p and p[0] == (1000, 2200), out
        assert all(a < b and b == 2200 for a, b in p) and p == sorted(p), p
        hits = [x for x in out if x.startswith(b"* SEARCH")]
        assert hits == [b"* SEARCH " + b" ".join(b"%d" % i for i in want)], hits[:1]
        assert out.index(hits[0]) > max(i for i, x in enumerate(out) if b"INPROGRESS" in x)
        assert out[-1].startswith(b"t OK [MESSAGELIMIT 2200 301] "), out[-1]
        assert r.until_tag("n")[-1].startswith(b"n OK"), "NOOP after the SEARCH"
        # RETURN (SAVE), another session meanwhile, then "$".
        b = Raw(s)
        b.login()
        r.send(b"v UID SEARCH RETURN (SAVE COUNT) UID 1:2000 SUBJECT m1\r\n")
        assert cmd(b, "x", "STATUS INBOX (MESSAGES)")[0] == [b"* STATUS INBOX (MESSAGES %d)" % N]
        out = r.until_tag("v")
        assert progress(out, "v")[:1] == [(1000, 2000)], out
        assert b'* ESEARCH (TAG "v") UID COUNT 1111' in out, out
        u, t = cmd(r, "w", "UID SEARCH UID $ SUBJECT m19")
        m19 = [i for i in range(1, 2001) if str(i).startswith("19")]
        assert progress(u, "w") == [(1000, 1999)], u  # the span of $: UIDs 1..1999
        assert u[1:] == [b"* SEARCH " + b" ".join(b"%d" % i for i in m19)], u[1:]
        # A small search: one step, no INPROGRESS.
        u, t = cmd(r, "y", "UID SEARCH UID 1:500 BODY needle")
        assert not progress(u, "y") and len(u) == 1, u
        # SORT and THREAD go in the same steps: the search, then reading
        # each match's keys; the total grows by the matches once known.
        u, t = cmd(r, "o", "UID SORT (SUBJECT) UTF-8 UID 1:2000")
        p = progress(u, "o", b"Sorting")
        assert p and p[0] == (1000, 2000), u[:3]
        assert all(a < b for a, b in p) and p == sorted(p), p
        want = sorted(range(1, 2001), key=lambda i: ("m%d" % i, i))
        assert u[len(p):] == [b"* SORT " + b" ".join(b"%d" % i for i in want)], u[len(p):][:1]
        assert t.startswith(b"o OK"), t
        u, t = cmd(r, "h", "UID THREAD REFERENCES UTF-8 UID 1:1500")
        p = progress(u, "h", b"Threading")
        assert p and p[0] == (1000, 1500), u[:3]
        rest = u[len(p):]
        assert len(rest) == 1 and rest[0].startswith(b"* THREAD ("), rest[:1]
        assert sorted(int(x) for x in re.findall(rb"\d+", rest[0])) == list(range(1, 1501))
        u, t = cmd(r, "k", "UID SORT (SUBJECT) UTF-8 UID 1:400")  # one step: no report
        assert len(u) == 1 and u[0].startswith(b"* SORT 1 10 100 "), u[:1]
        # COPY and MOVE of more than a step say so when they start, then
        # how far their one transaction got while it runs.
        assert cmd(r, "cr", "CREATE Copies")[1].startswith(b"cr OK")
        u, t = cmd(r, "cp", "UID COPY 1:1500 Copies")
        p = progress(u, "cp", b"Copying")
        assert p and p[0] == (0, 1500) and all(b == 1500 and a <= b for a, b in p), u[:3]
        assert t.startswith(b"cp OK [COPYUID ") and b" 1:1500 1:1500] " in t, t
        assert cmd(b, "st", "STATUS Copies (MESSAGES)")[0] == [b"* STATUS Copies (MESSAGES 1500)"]
        u, t = cmd(r, "cs", "UID COPY 1:10 Copies")  # small: no report
        assert not any(b"INPROGRESS" in x for x in u) and t.startswith(b"cs OK"), (u, t)
        assert cmd(r, "mc", "CREATE Moved")[1].startswith(b"mc OK")
        u, t = cmd(r, "mv", "UID MOVE 1:1200 Moved")
        p = progress(u, "mv", b"Moving")
        assert p and p[0] == (0, 1200) and u[0] == b'* OK [INPROGRESS ("mv" 0 1200)] Moving.', u[:2]
        assert sum(1 for x in u if x.endswith(b" EXPUNGE")) == 1200
        assert t.startswith(b"mv OK"), t
        assert cmd(b, "st", "STATUS Moved (MESSAGES)")[0] == [b"* STATUS Moved (MESSAGES 1200)"]
        # A client gone in the middle of a search: the steps stop with it.
        c = Raw(s)
        c.login()
        cmd(c, "s", "SELECT INBOX")
        c.send(b"t UID SEARCH BODY needle\r\n")
        c.close()
        assert cmd(b, "z", "NOOP")[1].startswith(b"z OK")
        b.close()
        r.close()
