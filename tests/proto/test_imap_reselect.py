"""IMAP SELECT of the mailbox already selected keeps the session's snapshot
and brings it up to date from the change log instead of reading every
message again, and a new session's SELECT starts from the snapshot a
closed session left (imap_view_cache.h): what another session did in between (a new message by
APPEND and by SMTP, flags, EXPUNGE, COPY in, a flag set on a copy in
another mailbox) must show in the new SELECT exactly as a fresh SELECT
shows it, and a SELECT of another mailbox and back must too."""
import re

from test_imap import deliver, login, srv, wait_count


def uids_flags(m):
    """[(uid, set(flags))] of the selected mailbox, in sequence order."""
    typ, data = m.fetch("1:*", "(UID FLAGS)")
    assert typ == "OK", data
    out = []
    for d in data:
        if isinstance(d, tuple):
            d = d[0]
        g = re.match(rb"\d+ \(UID (\d+) FLAGS \(([^)]*)\)\)", d)
        assert g, d
        # \Recent is the session's, not the message's (test_imap_compliance).
        out.append((int(g.group(1)), set(g.group(2).decode().split()) - {"\\Recent"}))
    return out


def fresh_view(s):
    """What a new session sees in INBOX."""
    f = login(s)
    typ, data = f.select("INBOX")
    assert typ == "OK", data
    got = (int(data[0]), uids_flags(f) if int(data[0]) else [])
    f.logout()
    return got


def reselect(a):
    typ, data = a.select("INBOX")
    assert typ == "OK", data
    n = int(data[0])
    return n, uids_flags(a) if n else []


def test_imap_reselect_sees_others_changes():
    with srv() as s:
        deliver(s, 4)
        wait_count(s, 4)
        a, b = login(s), login(s)
        typ, data = a.select("INBOX")
        assert data == [b"4"], data
        assert uids_flags(a) == [(1, set()), (2, set()), (3, set()), (4, set())]
        # Nothing happened: the same answer.
        assert reselect(a) == fresh_view(s)

        # A new message by APPEND in another session.
        typ, data = b.append("INBOX", None, None, b"Subject: new\r\n\r\nnew\r\n")
        assert typ == "OK", data
        got = reselect(a)
        assert got[0] == 5 and got[1][-1] == (5, set()), got
        assert got == fresh_view(s)

        # Flags and an EXPUNGE by the other session.
        b.select("INBOX")
        b.store("2", "+FLAGS", "(\\Flagged Work)")
        b.store("1", "+FLAGS", "(\\Deleted)")
        b.expunge()
        got = reselect(a)
        assert got[0] == 4, got
        assert got[1][0] == (2, {"\\Flagged", "Work"}), got
        assert [u for u, _ in got[1]] == [2, 3, 4, 5], got
        assert got == fresh_view(s)

        # A flag set on a copy in another mailbox: the copy is a message
        # of its own (RFC 9051 §6.4.7), so INBOX's stays as it was.
        typ, data = b.copy("3", "Archive")  # sequence 3 is UID 4
        assert typ == "OK", data
        b.select("Archive")
        b.store("1", "+FLAGS", "(\\Answered)")
        got = reselect(a)
        assert (4, set()) in got[1], got
        assert got == fresh_view(s)

        # COPY into INBOX and a delivery over SMTP.
        b.copy("1", "INBOX")
        deliver(s, 1, subject="late %d")
        wait_count(s, 6)
        got = reselect(a)
        assert got[0] == 6, got
        assert got == fresh_view(s)

        # Away to another mailbox and back (a fresh read), then the
        # other session empties INBOX.
        a.select("Archive")
        assert reselect(a) == fresh_view(s)
        b.select("INBOX")
        b.store("1:*", "+FLAGS", "(\\Deleted)")
        b.expunge()
        got = reselect(a)
        assert got == (0, []), got
        assert got == fresh_view(s)
        a.logout()
        b.logout()


def test_imap_reselect_with_pending_expunge_and_noop():
    """The session's own untagged updates keep working after a re-SELECT:
    NOOP reports what the other session did since."""
    with srv() as s:
        deliver(s, 3)
        wait_count(s, 3)
        a, b = login(s), login(s)
        a.select("INBOX")
        b.select("INBOX")
        a.select("INBOX")
        b.store("2", "+FLAGS", "(\\Deleted)")
        b.expunge()
        typ, data = a.noop()
        assert typ == "OK"
        assert a.untagged_responses.get("EXPUNGE") == [b"2"], a.untagged_responses
        assert uids_flags(a) == [(1, set()), (3, set())]
        a.logout()
        b.logout()


def test_imap_select_after_other_session_closed():
    """A SELECT in a new session starts from the snapshot a closed session
    left (imap_view_cache.h): what happened after it closed must show."""
    with srv() as s:
        deliver(s, 5)
        wait_count(s, 5)
        a = login(s)
        a.select("INBOX")
        a.store("5", "+FLAGS", "(\\Answered)")
        a.logout()  # its snapshot is kept
        b = login(s)
        b.select("INBOX")
        b.store("1", "+FLAGS", "(\\Deleted)")
        b.expunge()
        b.store("2", "+FLAGS", "(\\Flagged)")  # UID 3
        b.append("INBOX", None, None, b"Subject: after\r\n\r\nafter\r\n")
        b.close()  # unselect: b's snapshot replaces a's
        b.select("Archive")
        b.logout()
        deliver(s, 1, subject="smtp %d")
        wait_count(s, 6)
        c = login(s)
        typ, data = c.select("INBOX")
        assert data == [b"6"], data
        assert uids_flags(c) == [(2, set()), (3, {"\\Flagged"}), (4, set()),
                                 (5, {"\\Answered"}), (6, set()), (7, set())], uids_flags(c)
        # A session that only had EXAMINE open leaves no read-only mark.
        c.logout()
        d = login(s)
        d.select("INBOX", readonly=True)
        d.logout()
        e = login(s)
        typ, data = e.select("INBOX")
        assert typ == "OK", data
        typ, data = e.store("2", "+FLAGS", "(\\Seen)")  # refused if read-only
        assert typ == "OK" and b"\\Seen" in data[0], data
        e.logout()
