"""Differential test against a private Debian Dovecot started here: the
untagged EXISTS and EXPUNGE responses that tell a session about expunges
and new messages, its own and another session's. The same script runs
on both servers (two sessions each, the same mailbox), and the EXISTS /
EXPUNGE lines each command answers with must be the same.

RFC 9051 §7.5.1: "The EXPUNGE response also decrements the number of
messages in the mailbox; it is not necessary to send an EXISTS response
with the new value." §7.4.1: EXISTS is sent "if the size of the mailbox
changes (e.g., new messages)". So an expunge alone brings no EXISTS;
an expunge and a new message together bring both."""
import re

import diffcheck
import dovecot_peer
from test_imap import BOB_PW, Raw, srv
from test_imap_fetch_diff import Plain, command

COUNTS = re.compile(rb"^\* (\d+ (EXISTS|EXPUNGE)|VANISHED .*)$")


def msg(i):
    return b"Subject: sync %d\r\n\r\nbody %d\r\n" % (i, i)


def script(a, b, qresync=False):
    """Runs the script on sessions a and b (logged in, same account; b
    with QRESYNC enabled when asked, so it hears VANISHED); returns
    [(step, [EXISTS/EXPUNGE/VANISHED lines])]."""
    out = []
    if qresync:
        command(b, "e", "ENABLE QRESYNC")

    def run(step, c, text, literal=None):
        lines = [t for t, _ in command(c, "t", text, literal)]
        out.append((step, [l for l in lines if COUNTS.match(l)]))

    for i in range(3):
        run("a appends %d before SELECT" % i, a, "APPEND INBOX", msg(i))
    run("a selects", a, "SELECT INBOX")
    run("b selects", b, "SELECT INBOX")
    run("a flags 2 deleted", a, "STORE 2 +FLAGS.SILENT (\\Deleted)")
    run("a expunges 2", a, "EXPUNGE")
    run("b hears of it", b, "NOOP")
    run("a flags all deleted", a, "STORE 1:* +FLAGS.SILENT (\\Deleted)")
    run("a expunges all", a, "EXPUNGE")
    run("b hears of it", b, "NOOP")
    run("a appends to the selected mailbox", a, "APPEND INBOX", msg(3))
    run("b hears of the new one", b, "NOOP")
    run("a appends again", a, "APPEND INBOX", msg(4))
    run("a flags 1 deleted", a, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    run("a UID EXPUNGEs", a, "UID EXPUNGE 1:*")
    run("a appends a third", a, "APPEND INBOX", msg(5))
    run("b hears of one gone and one new", b, "NOOP")
    run("a checks", a, "NOOP")
    return out


def both(qresync):
    """The script on tern and on Dovecot, compared step by step; tern's
    steps, by name (the last of a repeated name)."""
    with srv() as s, dovecot_peer.DovecotPeer([("bob", BOB_PW)]) as d:
        ta, tb = Raw(s), Raw(s)
        ta.login()
        tb.login()
        da, db = Plain(d.port), Plain(d.port)
        for c in (da, db):
            command(c, "l", 'LOGIN bob "%s"' % BOB_PW)
        tern, dove = script(ta, tb, qresync), script(da, db, qresync)
        for c in (ta, tb, da, db):
            c.close()
    for (step, got), (_, want) in zip(tern, dove):
        assert got == want, (step, got, want)
    return dict(tern)


def test_imap_exists_after_expunge_matches_dovecot():
    if not dovecot_peer.available():
        return "skip"  # needs root and Debian's dovecot-imapd
    steps = both(False)
    # The script meets both cases the fix is about.
    assert steps["a expunges 2"] == [b"* 2 EXPUNGE"], steps
    assert steps["b hears of one gone and one new"] == [b"* 1 EXPUNGE", b"* 2 EXISTS"], steps


def test_imap_exists_after_vanished_matches_dovecot():
    """The same with QRESYNC on the second session: VANISHED, which
    lowers the count as EXPUNGE does (RFC 7162 §3.2.10), and no EXISTS
    after it unless messages came."""
    if not dovecot_peer.available():
        return "skip"  # needs root and Debian's dovecot-imapd
    steps = both(True)
    assert steps["b hears of one gone and one new"] == [b"* VANISHED 4", b"* 2 EXISTS"], steps


def norm(line):
    """One response line as compared: the tagged one as its status and
    response code's name (the texts and timings differ), FLAGS lists in
    one order, the numbers that are each server's own (UIDVALIDITY,
    MODSEQ) as letters."""
    line = re.sub(rb"\(([^()]*)\)", lambda m: b"(" + b" ".join(sorted(m.group(1).split())) + b")",
                  line)
    line = re.sub(rb"(UIDVALIDITY|APPENDUID|COPYUID) \d+", rb"\1 V", line)
    line = re.sub(rb"MODSEQ \(\d+\)", b"MODSEQ (M)", line)
    if line.startswith(b"t "):
        m = re.match(rb"t (\w+)( \[\w+)?", line)
        return m.group(1) + (m.group(2) + b"]" if m.group(2) else b"")
    return line


def session_script(c, literal_for):
    """Three sessions a, b, c of one account on INBOX: one's \\Deleted
    and the expunges of another (EXPUNGE, UID EXPUNGE and CLOSE act on
    \\Deleted as the mailbox has it when they run, not as the session
    last heard, RFC 9051 §6.4.3 and §6.4.2). c(name) is a session;
    returns [(label, [normalised lines])]."""
    out = []

    def run(who, text, literal=None, label=None):
        lines = [norm(t) for t, _ in command(c(who), "t", text, literal)]
        if text.startswith("SELECT"):  # the counts; in one order
            lines = sorted(l for l in lines if re.match(rb"\* \d+ |OK", l))
        out.append((label or "%s: %s" % (who, text), lines))

    for i in range(4):
        run("a", "APPEND INBOX", literal_for(i), "a: APPEND %d" % i)
    run("a", "SELECT INBOX")
    run("b", "SELECT INBOX")
    run("c", "SELECT INBOX")
    run("b", "STORE 1 +FLAGS (\\Deleted)")
    run("a", "STORE 1 -FLAGS (\\Deleted)")  # a takes it back
    run("a", "STORE 2 +FLAGS (\\Deleted)")  # and deletes another
    run("b", "EXPUNGE")  # 1 stays, 2 goes
    run("a", "NOOP")
    run("b", "FETCH 1:* (UID FLAGS)")
    run("a", "STORE 1 +FLAGS (\\Deleted)")
    run("b", "STORE 1 -FLAGS (\\Deleted)")  # b takes it back
    run("a", "CLOSE")  # so nothing goes
    run("b", "NOOP")
    run("c", "NOOP")
    run("c", "UID STORE 4 +FLAGS.SILENT (\\Deleted)")
    run("b", "UID EXPUNGE 1:*")  # what c deleted goes
    run("c", "CHECK")
    run("b", "UID FETCH 1:* (FLAGS)")
    return out


def test_imap_expunge_acts_on_current_deleted_matches_dovecot():
    """EXPUNGE, CLOSE and UID EXPUNGE of one session after another took
    \\Deleted off a message (it stays) or put it on (it goes), as
    Dovecot does. tern used the flags the session last heard of: it
    destroyed the message another session had undeleted."""
    if not dovecot_peer.available():
        return "skip"  # needs root and Debian's dovecot-imapd
    with srv() as s, dovecot_peer.DovecotPeer([("bob", BOB_PW)]) as d:
        tc, dc = {}, {}
        for n in "abc":
            tc[n] = Raw(s)
            tc[n].login()
            dc[n] = Plain(d.port)
            command(dc[n], "l", 'LOGIN bob "%s"' % BOB_PW)
        tern = session_script(tc.get, msg)
        dove = session_script(dc.get, msg)
        for c in list(tc.values()) + list(dc.values()):
            c.close()
    known = {
        # b's \Deleted, told before a's own change (Dovecot tells the
        # end state only).
        "a: STORE 1 -FLAGS (\\Deleted)": ([b"* 1 FETCH (FLAGS (\\Deleted \\Recent))",
                                          b"* 1 FETCH (FLAGS (\\Recent))", b"OK"],
                                         "the other session's change, then its own"),
        # Another session's flag change, told before the expunge that
        # takes the message (Dovecot leaves it out: the EXPUNGE follows).
        "b: EXPUNGE": ([b"* 1 FETCH (FLAGS ())", b"* 2 FETCH (FLAGS (\\Deleted))",
                        b"* 2 EXPUNGE", b"OK"], "flag change told before its expunge"),
        "b: UID EXPUNGE 1:*": ([b"* 3 FETCH (FLAGS (\\Deleted))", b"* 3 EXPUNGE", b"OK"],
                               "flag change told before its expunge"),
        # Message 1's flags came back to what c was told: tern says
        # nothing, Dovecot tells them again.
        "c: NOOP": ([b"* 2 EXPUNGE", b"OK"], "no FETCH for flags that came back"),
        # a's \Deleted, told before b's own change (Dovecot tells the
        # end state only).
        "b: STORE 1 -FLAGS (\\Deleted)": ([b"* 1 FETCH (FLAGS (\\Deleted))",
                                          b"* 1 FETCH (FLAGS ())", b"OK"],
                                         "the other session's change, then its own"),
    }
    steps = [(label, a, b) for (label, a), (_, b) in zip(tern, dove)]
    diffcheck.verdict(steps, known)
    got = dict(tern)
    # What the test is about, on tern's side whatever Dovecot says.
    assert got["b: EXPUNGE"][-2:] == [b"* 2 EXPUNGE", b"OK"], got
    assert got["b: FETCH 1:* (UID FLAGS)"] == [b"* 1 FETCH (UID 1 FLAGS ())",
                                               b"* 2 FETCH (UID 3 FLAGS ())",
                                               b"* 3 FETCH (UID 4 FLAGS ())", b"OK"], got
    assert got["b: UID FETCH 1:* (FLAGS)"] == [b"* 1 FETCH (UID 1 FLAGS ())",
                                               b"* 2 FETCH (UID 3 FLAGS ())", b"OK"], got


def held_script(c):
    """a expunges and flags; b (QRESYNC) and d (CONDSTORE) then FETCH
    FLAGS, which may not tell the expunge (RFC 9051 §7.5.1). Returns what
    the test checks: the flags each was told, the HIGHESTMODSEQ b was told
    then against the expunge's, and what b's resync from it brings."""
    def lines(who, text, literal=None):
        return [t for t, _ in command(c(who), "t", text, literal)]

    def hms(ls):
        got = [int(m.group(1)) for l in ls for m in [re.search(rb"HIGHESTMODSEQ (\d+)", l)] if m]
        return got[-1] if got else None

    def flags_of(ls, seq):
        told = [l for l in ls if l.startswith(b"* %d FETCH" % seq) and b"FLAGS" in l]
        return sorted(re.search(rb"FLAGS \(([^)]*)\)", told[-1]).group(1).split()) if told else None

    for i in range(3):
        lines("a", "APPEND INBOX", msg(i))
    lines("a", "ENABLE QRESYNC")
    lines("b", "ENABLE QRESYNC")
    lines("d", "ENABLE CONDSTORE")
    uidv = None
    for who in "abd":
        for l in lines(who, "SELECT INBOX"):
            m = re.search(rb"UIDVALIDITY (\d+)", l)
            uidv = m.group(1).decode() if m else uidv
    lines("a", "STORE 2 +FLAGS.SILENT (\\Deleted)")
    expunged = hms(lines("a", "EXPUNGE"))
    lines("a", "STORE 1 +FLAGS.SILENT (\\Seen)")
    bf = lines("b", "FETCH 1:3 (FLAGS)")
    df = lines("d", "FETCH 1:3 (FLAGS)")
    told = hms(bf)
    out = {
        "b flags of 1": flags_of(bf, 1), "d flags of 1": flags_of(df, 1),
        "b told a HIGHESTMODSEQ below the expunge": told is not None and told < expunged,
        "b: NOOP": [l for l in lines("b", "NOOP") if l.startswith(b"* VANISHED")],
    }
    lines("b", "UNSELECT")
    if told is not None:  # from what it was told
        out["b resyncs"] = [l for l in lines("b", "SELECT INBOX (QRESYNC (%s %s))" % (uidv, told))
                            if l.startswith(b"* VANISHED")]
    return out


def test_imap_fetch_flags_current_with_expunge_held_back():
    """With CONDSTORE or QRESYNC, a FETCH FLAGS while another session's
    expunge is still untold answers the flags as they are, and (QRESYNC)
    the HIGHESTMODSEQ told stays below the expunge, so a resync from it
    still gets VANISHED (RFC 7162 §3.2, erratum 1810), as Dovecot does.
    tern answered the flags as of the session's last sync."""
    if not dovecot_peer.available():
        return "skip"  # needs root and Debian's dovecot-imapd
    with srv() as s, dovecot_peer.DovecotPeer([("bob", BOB_PW)]) as d:
        tc, dc = {}, {}
        for n in "abd":
            tc[n] = Raw(s)
            tc[n].login()
            dc[n] = Plain(d.port)
            command(dc[n], "l", 'LOGIN bob "%s"' % BOB_PW)
        tern, dove = held_script(tc.get), held_script(dc.get)
        for c in list(tc.values()) + list(dc.values()):
            c.close()
    want = {"b flags of 1": [b"\\Seen"], "d flags of 1": [b"\\Seen"],
            "b told a HIGHESTMODSEQ below the expunge": True,
            "b: NOOP": [b"* VANISHED 2"], "b resyncs": [b"* VANISHED (EARLIER) 2"]}
    assert dove == want, dove
    assert tern == want, tern
