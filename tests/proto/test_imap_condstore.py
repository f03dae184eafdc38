"""IMAP CONDSTORE and QRESYNC (RFC 7162): ENABLE, HIGHESTMODSEQ in SELECT
and STATUS, FETCH MODSEQ and CHANGEDSINCE, STORE UNCHANGEDSINCE with
MODIFIED and MODSEQ in the answers, a second session's flag change seen
with its MODSEQ, SELECT (QRESYNC ...) giving VANISHED (EARLIER) and the
changed messages (seq-match-data with known-uids or without them; known
UIDs limit both; the UIDs below the last seq-match pair that holds are
not told vanished again), UID
FETCH (CHANGEDSINCE VANISHED), a long VANISHED (EARLIER) set sent in
parts of bounded lines, and VANISHED
instead of EXPUNGE once QRESYNC is on (EXPUNGE and MOVE); a FETCH's
implicit \\Seen told with its MODSEQ and, under QRESYNC, the UID; a
FETCH modifier or SELECT parameter given twice answered BAD, turning
nothing on."""
import os
import re

from test_imap import BOB, Raw, deliver, srv, wait_count


def hms(lines):
    for l in lines:
        m = re.search(rb"\[HIGHESTMODSEQ (\d+)\]", l)
        if m:
            return int(m.group(1))
    raise AssertionError("no HIGHESTMODSEQ in %r" % lines)


def cmd(r, tag, text):
    r.send("%s %s\r\n" % (tag, text))
    return r.until_tag(tag)


def modseqs(lines):
    """{uid: modseq} from FETCH lines."""
    out = {}
    for l in lines:
        u = re.search(rb"UID (\d+)", l)
        m = re.search(rb"MODSEQ \((\d+)\)", l)
        if u and m:
            out[int(u.group(1))] = int(m.group(1))
    return out


def test_imap_condstore_fetch_store_status():
    with srv() as s:
        deliver(s, 3)
        wait_count(s, 3)
        r = Raw(s)
        assert b"CONDSTORE" in r.greeting and b"QRESYNC" in r.greeting
        r.login()
        out = cmd(r, "a", "ENABLE CONDSTORE")
        assert out[0] == b"* ENABLED CONDSTORE" and out[-1].startswith(b"a OK"), out
        out = cmd(r, "b", "SELECT INBOX")
        h0 = hms(out)
        out = cmd(r, "c", "UID FETCH 1:* (MODSEQ FLAGS)")
        ms = modseqs(out)
        assert sorted(ms) == [1, 2, 3] and max(ms.values()) == h0, (out, h0)
        # STORE reports the new MODSEQ; HIGHESTMODSEQ follows.
        out = cmd(r, "d", "UID STORE 2 +FLAGS (\\Flagged)")
        ms2 = modseqs(out)
        assert ms2[2] > h0, out
        out = cmd(r, "e", "STATUS INBOX (HIGHESTMODSEQ MESSAGES)")
        assert b"HIGHESTMODSEQ %d" % ms2[2] in out[0], out
        # CHANGEDSINCE: only message 2.
        out = cmd(r, "f", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % h0)
        assert len([l for l in out if b"FETCH" in l]) == 1 and b"UID 2" in out[0], out
        assert b"MODSEQ (%d)" % ms2[2] in out[0], out
        # UNCHANGEDSINCE: message 2 changed after h0, so it is MODIFIED and
        # left alone; 1 and 3 are stored.
        out = cmd(r, "g", "UID STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % h0)
        assert re.match(rb"g OK \[MODIFIED 2\]", out[-1]), out
        ms3 = modseqs(out)
        assert sorted(ms3) == [1, 3], out
        out = cmd(r, "h", "UID FETCH 2 (FLAGS)")
        assert b"\\Seen" not in out[0], out
        # SEARCH MODSEQ.
        out = cmd(r, "i", "SEARCH MODSEQ %d" % (ms2[2] + 1))
        assert re.match(rb"\* SEARCH 1 3 \(MODSEQ %d\)" % max(ms3.values()), out[0]), out
        # .SILENT with CONDSTORE on: the flags are not sent, the new MODSEQ
        # is (RFC 7162 §3.1.3, "required to update the client's cache with
        # the correct mod-sequence values"; Dovecot sends it for every
        # STORE, conditional or not); an unchanged message sends nothing.
        out = cmd(r, "h2", "STORE 2 +FLAGS.SILENT (\\Draft)")
        assert len(out) == 2 and re.match(rb"\* 2 FETCH \(MODSEQ \((\d+)\)\)$", out[0]), out
        m2 = int(re.match(rb"\* 2 FETCH \(MODSEQ \((\d+)\)\)$", out[0]).group(1))
        assert m2 > max(ms3.values()), out
        out = cmd(r, "h3", "STORE 2 +FLAGS.SILENT (\\Draft)")
        assert len(out) == 1 and out[0].startswith(b"h3 OK"), out
        out = cmd(r, "h4", "STORE 2 -FLAGS.SILENT (\\Draft)")
        assert int(re.match(rb"\* 2 FETCH \(MODSEQ \((\d+)\)\)$", out[0]).group(1)) > m2, out
        # A second session's change arrives with its MODSEQ.
        r2 = Raw(s)
        r2.login()
        cmd(r2, "a", "SELECT INBOX")
        cmd(r2, "b", "STORE 3 +FLAGS (\\Answered)")
        out = cmd(r, "j", "NOOP")
        line = [l for l in out if b"FETCH" in l]
        assert line and b"\\Answered" in line[0] and b"MODSEQ (" in line[0], out
        r2.close()
        r.close()



def test_imap_implicit_seen_tells_modseq_and_uid():
    """The \\Seen a FETCH of a body sets is a flag change like a STORE's:
    under CONDSTORE its FETCH response carries the new MODSEQ, FLAGS
    asked for or not, and under QRESYNC the UID too (RFC 7162 §3.2.4,
    "a FETCH/UID FETCH that implicitly set the \\Seen flag"); a FETCH
    that changes nothing gets neither."""
    with srv() as s:
        deliver(s, 3)
        wait_count(s, 3)
        r = Raw(s)
        r.login()
        cmd(r, "a", "ENABLE CONDSTORE")
        h0 = hms(cmd(r, "b", "SELECT INBOX"))
        # FLAGS asked for: the \Seen goes out in it, the MODSEQ too.
        out = b"\n".join(cmd(r, "c", "FETCH 1 (FLAGS BODY[TEXT])"))
        m = re.search(rb"MODSEQ \((\d+)\)", out)
        assert b"\\Seen" in out and m and int(m.group(1)) > h0, out
        st = cmd(r, "d", "STATUS INBOX (HIGHESTMODSEQ)")
        assert b"HIGHESTMODSEQ %s)" % m.group(1) in st[0], (st, out)
        # QRESYNC: the UID as well, FLAGS asked for or not.
        cmd(r, "e", "ENABLE QRESYNC")
        for tag, seq, items in (("f", 2, "BODY[TEXT]"), ("g", 3, "FLAGS BODY[TEXT]")):
            out = b"\n".join(cmd(r, tag, "FETCH %d (%s)" % (seq, items)))
            assert b"UID %d" % seq in out and b"\\Seen" in out, out
            assert re.search(rb"MODSEQ \(\d+\)", out), out
        # Nothing changes the second time: nothing is added.
        out = b"\n".join(cmd(r, "h", "FETCH 3 (BODY[TEXT])"))
        assert b"UID" not in out and b"MODSEQ" not in out and b"FLAGS" not in out, out
        r.close()

def qresync_selected(s):
    """Six messages delivered, and a session with QRESYNC on and INBOX
    selected: (session, UIDVALIDITY, HIGHESTMODSEQ at the SELECT)."""
    deliver(s, 6)
    wait_count(s, 6)
    r = Raw(s)
    r.login()
    cmd(r, "a", "ENABLE QRESYNC")
    out = cmd(r, "b", "SELECT INBOX")
    uv = int(re.search(rb"UIDVALIDITY (\d+)", b"\n".join(out)).group(1))
    return r, uv, hms(out)


def test_imap_qresync_select_and_vanished():
    with srv() as s:
        r, uv, h0 = qresync_selected(s)
        # Meanwhile another session changes a flag, expunges 2 and 4, and
        # moves 5 away.
        r2 = Raw(s)
        r2.login()
        cmd(r2, "a", "SELECT INBOX")
        cmd(r2, "b", "UID STORE 3 +FLAGS (\\Flagged)")
        cmd(r2, "c", "UID STORE 2,4 +FLAGS (\\Deleted)")
        cmd(r2, "d", "EXPUNGE")
        cmd(r2, "e", "UID MOVE 5 Trash")
        r2.close()
        # The QRESYNC session, re-selecting with what it knew.
        out = cmd(r, "c", "SELECT INBOX (QRESYNC (%d %d 1:6))" % (uv, h0))
        assert out[0] == b"* OK [CLOSED] Previous mailbox closed.", out
        van = [l for l in out if l.startswith(b"* VANISHED (EARLIER)")]
        assert van == [b"* VANISHED (EARLIER) 2,4:5"], out
        fetches = [l for l in out if b"FETCH" in l]
        assert len(fetches) == 1 and b"UID 3" in fetches[0] and b"\\Flagged" in fetches[0], out
        assert out[-1].startswith(b"c OK"), out
        # Known UIDs limit VANISHED; another UIDVALIDITY gets none.
        out = cmd(r, "d", "SELECT INBOX (QRESYNC (%d %d 1:3))" % (uv, h0))
        assert [l for l in out if b"VANISHED" in l] == [b"* VANISHED (EARLIER) 2"], out
        assert len([l for l in out if b"FETCH" in l and b"UID 3" in l]) == 1, out
        # ... and the flag changes told (RFC 7162 §3.2.5: only those of
        # the known messages): UID 3 changed, but the client knows 1:2.
        out = cmd(r, "d2", "SELECT INBOX (QRESYNC (%d %d 1:2))" % (uv, h0))
        assert [l for l in out if b"VANISHED" in l] == [b"* VANISHED (EARLIER) 2"], out
        assert not [l for l in out if b"FETCH" in l], out
        assert out[-1].startswith(b"d2 OK"), out
        # seq-match-data without known-uids (RFC 7162 §7: "[SP known-uids]
        # [SP seq-match-data]"): all UIDs are known.
        out = cmd(r, "d3", "SELECT INBOX (QRESYNC (%d %d (1,3 1,3)))" % (uv, h0))
        assert out[-1].startswith(b"d3 OK"), out
        assert [l for l in out if b"VANISHED" in l] == [b"* VANISHED (EARLIER) 2,4:5"], out
        assert len([l for l in out if b"FETCH" in l and b"UID 3" in l]) == 1, out
        out = cmd(r, "e", "SELECT INBOX (QRESYNC (%d %d))" % (uv + 1, h0))
        assert not [l for l in out if b"VANISHED" in l or b"FETCH" in l], out
        # UID FETCH (CHANGEDSINCE m VANISHED).
        out = cmd(r, "f", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % h0)
        assert out[0] == b"* VANISHED (EARLIER) 2,4:5", out
        assert len([l for l in out if b"FETCH (" in l]) == 1, out
        # Own EXPUNGE and MOVE answer VANISHED, not EXPUNGE.
        cmd(r, "g", "UID STORE 1 +FLAGS.SILENT (\\Deleted)")
        out = cmd(r, "h", "EXPUNGE")
        assert out[0] == b"* VANISHED 1" and not [l for l in out if b"EXPUNGE" in l[:20]], out
        out = cmd(r, "i", "UID MOVE 3 Trash")
        assert [l for l in out if l.startswith(b"* VANISHED")] == [b"* VANISHED 3"], out
        assert any(b"[COPYUID" in l for l in out), out
        # Their tagged OK says the new HIGHESTMODSEQ, and only it.
        assert not [l for l in out if l.startswith(b"* OK [HIGHESTMODSEQ")], out
        assert out[-1].startswith(b"i OK [HIGHESTMODSEQ "), out
        # Another session's expunge and append: VANISHED and EXISTS are
        # followed by the HIGHESTMODSEQ they moved to (no FETCH says it),
        # as STATUS reads it; nothing when nothing changed.
        r4 = Raw(s)
        r4.login()
        cmd(r4, "a", "SELECT INBOX")
        cmd(r4, "b", "UID STORE 6 +FLAGS.SILENT (\\Deleted)")
        cmd(r4, "c", "UID EXPUNGE 6")
        m = "Subject: new\r\n\r\nbody\r\n"
        r4.send("d APPEND INBOX {%d+}\r\n%s\r\n" % (len(m), m))
        assert r4.until_tag("d")[-1].startswith(b"d OK")
        st = cmd(r4, "e", "STATUS INBOX (HIGHESTMODSEQ)")
        want = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"\n".join(st)).group(1))
        r4.close()
        out = cmd(r, "j", "NOOP")
        assert out == [b"* VANISHED 6", b"* 1 EXISTS",
                       b"* OK [HIGHESTMODSEQ %d] Highest" % want, b"j OK NOOP completed."], out
        assert cmd(r, "k", "NOOP") == [b"k OK NOOP completed."]
        # IDLE tells it the same way when mail arrives.
        r.send("l IDLE\r\n")
        assert r.line().startswith(b"+ ")
        r5 = Raw(s)
        r5.login()
        r5.send("a APPEND INBOX {%d+}\r\n%s\r\n" % (len(m), m))
        assert r5.until_tag("a")[-1].startswith(b"a OK")
        st = cmd(r5, "b", "STATUS INBOX (HIGHESTMODSEQ)")
        want = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"\n".join(st)).group(1))
        r5.close()
        # (\Recent is this session's: no other has the mailbox selected)
        got = [r.line() for _ in range(3)]
        assert got == [b"* 2 EXISTS", b"* 1 RECENT", b"* OK [HIGHESTMODSEQ %d] Highest" % want], got
        r.send("DONE\r\n")
        assert r.until_tag("l") == [b"l OK Idle completed."]
        # Without QRESYNC the parameter is refused.
        r3 = Raw(s)
        r3.login()
        out = cmd(r3, "a", "SELECT INBOX (QRESYNC (%d %d))" % (uv, h0))
        assert out[-1].startswith(b"a BAD"), out
        r3.close()
        r.close()


def test_imap_qresync_seq_match_spares_seen_vanished():
    """RFC 7162 §3.2.5.2: a client that saw an expunge after the modseq it
    stored says so with its sequence match data (its message numbers now
    pair with later UIDs); where the pairs still hold, the UIDs below them
    are not told vanished again. Past the first pair that no longer holds,
    VANISHED reports as before."""
    with srv() as s:
        r, uv, h0 = qresync_selected(s)
        r2 = Raw(s)
        r2.login()
        cmd(r2, "a", "SELECT INBOX")
        cmd(r2, "b", "UID STORE 2 +FLAGS.SILENT (\\Deleted)")
        cmd(r2, "c", "EXPUNGE")
        # The QRESYNC session sees UID 2 go; it keeps h0 as its modseq.
        out = cmd(r, "c", "NOOP")
        assert b"* VANISHED 2" in out, out
        # Its view now: 1:5 are UIDs 1,3,4,5,6; every pair holds.
        out = cmd(r, "d", "SELECT INBOX (QRESYNC (%d %d 1:6 (1:5 1,3:6)))" % (uv, h0))
        assert out[-1].startswith(b"d OK"), out
        assert not [l for l in out if b"VANISHED" in l], out
        # Without the match data, the change log tells UID 2 again.
        out = cmd(r, "e", "SELECT INBOX (QRESYNC (%d %d 1:6))" % (uv, h0))
        assert [l for l in out if b"VANISHED" in l] == [b"* VANISHED (EARLIER) 2"], out
        # UID 5 goes too, unseen by the client: its pair (4, 5) no longer
        # holds, so it and what follows are told; 2, below the last pair
        # that holds (3, 4), is not.
        cmd(r2, "d", "UID STORE 5 +FLAGS.SILENT (\\Deleted)")
        cmd(r2, "e", "EXPUNGE")
        r2.close()
        out = cmd(r, "f", "SELECT INBOX (QRESYNC (%d %d 1:6 (1:5 1,3:6)))" % (uv, h0))
        assert [l for l in out if b"VANISHED" in l] == [b"* VANISHED (EARLIER) 5"], out
        # Pairs that never held (the client's numbers are off from the
        # first) spare nothing.
        out = cmd(r, "g", "SELECT INBOX (QRESYNC (%d %d 1:6 (1:2 2:3)))" % (uv, h0))
        assert [l for l in out if b"VANISHED" in l] == [b"* VANISHED (EARLIER) 2,5"], out
        assert out[-1].startswith(b"g OK"), out
        r.close()


def vanished_uids(lines):
    """The UIDs of the VANISHED (EARLIER) lines, in order, and the lines."""
    van = [l for l in lines if l.startswith(b"* VANISHED (EARLIER) ")]
    uids = []
    for l in van:
        for el in l[len(b"* VANISHED (EARLIER) "):].split(b","):
            lo, _, hi = el.partition(b":")
            uids.extend(range(int(lo), int(hi or lo) + 1))
    return uids, van


def test_imap_qresync_long_vanished_comes_in_parts():
    """RFC 7162 §3.2.10: many scattered expunged UIDs (every other one of
    8000, a set that does not compress into ranges) go as several VANISHED
    (EARLIER) responses, each line at most 8192 octets with its CRLF, that
    together hold every expunged UID once: for SELECT (QRESYNC) and for
    UID FETCH (CHANGEDSINCE VANISHED)."""
    n = 8000
    with srv() as s:
        mbox = os.path.join(s.tmp, "many.mbox")
        with open(mbox, "wb") as f:
            for i in range(1, n + 1):
                f.write(b"From a@remote.test Mon Nov 30 07:00:00 2026\n"
                        b"From: a@remote.test\nTo: bob@example.test\n"
                        b"Message-ID: <m%d@remote.test>\nSubject: m%d\n\nb\n\n" % (i, i))
        s.cli("import", BOB, mbox, "--mailbox", "INBOX")
        r = Raw(s)
        r.login()
        cmd(r, "a", "ENABLE QRESYNC")
        out = cmd(r, "b", "SELECT INBOX")
        uv = int(re.search(rb"UIDVALIDITY (\d+)", b"".join(out)).group(1))
        h0 = hms(out)
        assert b"* %d EXISTS" % n in out, out[:8]
        gone = list(range(2, n + 1, 2))
        for i in range(0, len(gone), 1000):
            part = ",".join(map(str, gone[i:i + 1000]))
            assert cmd(r, "c", "UID STORE %s +FLAGS.SILENT (\\Deleted)" % part)[-1] \
                .startswith(b"c OK")
        assert cmd(r, "d", "CLOSE")[-1].startswith(b"d OK")
        for tag, text in (("e", "SELECT INBOX (QRESYNC (%d %d))" % (uv, h0)),
                          ("f", "UID FETCH 1:%d (FLAGS) (CHANGEDSINCE %d VANISHED)" % (n, h0))):
            out = cmd(r, tag, text)
            assert out[-1].startswith(tag.encode() + b" OK"), out[-1]
            uids, van = vanished_uids(out)
            assert len(van) > 1, [len(l) for l in van]
            assert all(len(l) + 2 <= 8192 for l in van), [len(l) for l in van]
            assert uids == gone, (len(uids), len(gone))
        r.close()


def test_imap_repeated_modifiers_are_bad():
    """A FETCH modifier or SELECT parameter given twice is a BAD (RFC 4466
    §2.1/§2.4: each names one thing), and a refused command turns nothing
    on: CONDSTORE stays off, so a later SELECT shows no HIGHESTMODSEQ
    changes and FETCH FLAGS carries no MODSEQ. STORE's single modifier
    and APPEND's fixed arguments were checked to refuse repeats too."""
    with srv() as s:
        r, uv, h0 = qresync_selected(s)
        for tag, text in (
                ("c1", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 CHANGEDSINCE 2)"),
                ("c2", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED VANISHED)"),
                ("c3", "FETCH 1:* (FLAGS) (PARTIAL 1:2 PARTIAL 1:3)"),
                ("c4", "UID STORE 1 (UNCHANGEDSINCE %d UNCHANGEDSINCE %d) +FLAGS (\\Seen)"
                 % (h0, h0)),
                ("c5", "SELECT INBOX (CONDSTORE CONDSTORE)"),
                ("c6", "SELECT INBOX (QRESYNC (%d %d) QRESYNC (%d %d))" % (uv, h0, uv, h0)),
                ("c7", "APPEND INBOX (\\Seen) (\\Flagged) {3+}\r\nabc")):
            out = cmd(r, tag, text)
            assert out[-1].startswith(b"%s BAD" % tag.encode()), (text, out)
        # Each once: accepted.
        out = cmd(r, "d1", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
        assert out[-1].startswith(b"d1 OK"), out
        out = cmd(r, "d2", "SELECT INBOX (QRESYNC (%d %d))" % (uv, h0))
        assert out[-1].startswith(b"d2 OK"), out
        r.close()
        # Without CONDSTORE or QRESYNC enabled, a refused FETCH with
        # CHANGEDSINCE leaves CONDSTORE off: FETCH FLAGS has no MODSEQ.
        r = Raw(s)
        r.login()
        cmd(r, "a", "SELECT INBOX")
        out = cmd(r, "b", "FETCH 1 (FLAGS) (CHANGEDSINCE 1 CHANGEDSINCE 1)")
        assert out[-1].startswith(b"b BAD"), out
        out = cmd(r, "c", "SELECT INBOX (CONDSTORE CONDSTORE)")
        assert out[-1].startswith(b"c BAD"), out
        cmd(r, "d", "SELECT INBOX")
        out = cmd(r, "e", "FETCH 1 (FLAGS)")
        assert b"MODSEQ" not in out[0] and out[-1].startswith(b"e OK"), out
        r.close()


def test_imap_held_line_comes_after_a_store_answer_that_waits():
    """A STORE whose FETCH answer is more than the connection's output
    buffer takes at once (IMAP_OUT_HIGH) waits in the session's queue for
    the client to read; the "* OK [HIGHESTMODSEQ]" line said after it,
    while another session's expunge is held back, went to the connection
    directly and so reached the client ahead of that answer."""
    with srv() as s:
        n = 300
        m = "Subject: x\r\n\r\nx\r\n"
        a = Raw(s)
        a.login()
        a.send("".join("p%d APPEND INBOX {%d+}\r\n%s\r\n" % (i, len(m), m) for i in range(n)))
        assert a.until_tag("p%d" % (n - 1))[-1].startswith(b"p%d OK" % (n - 1))
        cmd(a, "a", "ENABLE CONDSTORE")
        cmd(a, "b", "SELECT INBOX")
        b = Raw(s)
        b.login()
        cmd(b, "a", "SELECT INBOX")
        cmd(b, "b", "STORE 1 +FLAGS.SILENT (\\Deleted)")
        cmd(b, "c", "EXPUNGE")
        b.close()
        # Eight long keywords on each message: some 100 KB of FETCH lines.
        kws = " ".join("Keyword%02d%s" % (i, "x" * 32) for i in range(8))
        out = cmd(a, "c", "STORE 2:* +FLAGS (%s)" % kws)
        assert out[-1].startswith(b"c OK"), out[-1]
        fetches = [i for i, l in enumerate(out) if b" FETCH (" in l]
        held = [i for i, l in enumerate(out) if l.startswith(b"* OK [HIGHESTMODSEQ ")]
        assert len(fetches) == n - 1 and len(held) == 1, (len(fetches), held)
        assert held[0] == len(out) - 2, "HIGHESTMODSEQ at line %d of %d" % (held[0], len(out))
        # The held-back expunge is told at the next NOOP.
        assert b"* 1 EXPUNGE" in cmd(a, "d", "NOOP")
        a.close()
