"""Trash and Junk emptied after N days (TERN_TRASH_RETENTION_DAYS,
TERN_JUNK_RETENTION_DAYS; server/retention.h). The sweep's clock is moved
with TERN_TEST_RETENTION_CLOCK_FILE (test-only): each write of an offset
runs exactly one pass at that clock, logged as event=retention_pass, so
nothing here waits for a timer. Checked: the age is the save date (an
APPEND dated years ago is new in Trash); a pass before the retention
days keeps everything, one past them expunges \\Trash and \\Junk (found
by role, a renamed Trash too), \\Flagged or not, never the INBOX at any
age; a selected IMAP session gets the EXPUNGEs, GETQUOTA drops, JMAP
Email/changes lists the destroyed ids, /metrics and the log count them;
0 turns one role off; a bad value stops start-up; GET /settings shows
both; a Sieve fileinto "Junk" is aged from its delivery; a pass runs
off the main thread (a SIGHUP is answered while a pass is held, a
SIGTERM ends a held pass and the server, the next start finishes it)."""
import os
import re
import signal
import smtplib

from harness import Server
from httpc import admin_server
from jmapc import Jmap
from test_imap import BOB, BOB_PW, login

DAY = 86400


class PassCount:
    """A wait_log needle: the log holds at least n pass lines."""

    def __init__(self, n):
        self.n = n

    def search(self, text):
        return text.count("event=retention_pass") >= self.n


def pass_at(s, offset_days, expect):
    """Runs one pass with the clock offset_days ahead and asserts it
    expunged expect messages: the file is written whole (a rename), the
    server takes it at its next tick and logs the pass once it is done."""
    path = s.env["TERN_TEST_RETENTION_CLOCK_FILE"]
    before = s.log_text().count("event=retention_pass")
    with open(path + ".tmp", "w") as f:
        f.write("%d" % (offset_days * DAY))
    os.rename(path + ".tmp", path)
    assert s.wait_log(PassCount(before + 1), timeout=60), s.log_text()[-3000:]
    last = re.findall(r"event=retention_pass clock_offset=(-?\d+) expunged=(\d+)", s.log_text())[-1]
    assert last == (str(offset_days * DAY), str(expect)), (last, s.log_text()[-3000:])


def start_pass(s, offset_days):
    """Writes the clock file for one pass without waiting for its end."""
    path = s.env["TERN_TEST_RETENTION_CLOCK_FILE"]
    with open(path + ".tmp", "w") as f:
        f.write("%d" % (offset_days * DAY))
    os.rename(path + ".tmp", path)


def server(tmp_env=None, start=True):
    s = Server(imap=True, http=True, start=False, accounts=[], env=tmp_env or {})
    s.env["TERN_TEST_RETENTION_CLOCK_FILE"] = os.path.join(s.tmp, "retention-clock")
    s.cli("account", "add", BOB, "--quota", "1048576", input=BOB_PW + "\n")
    if start:
        s.start()
    return s


def msg(subject, size=2000):
    return (b"From: a@remote.test\r\nTo: bob@example.test\r\nSubject: %s\r\n"
            b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n" % subject.encode()) + b"x" * size + b"\r\n"


def storage(m):
    typ, data = m.getquota('"User quota"')
    assert typ == "OK", data
    return int(re.search(rb"STORAGE (\d+) ", data[0]).group(1))


def count(m, box):
    typ, data = m.status(box, "(MESSAGES)")
    assert typ == "OK", data
    return int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))


def test_retention_trash_and_junk_by_save_date():
    env = {"TERN_JUNK_RETENTION_DAYS": "10"}  # Trash: the default 30
    with server(env) as s:
        m = login(s)
        # Trash renamed: found by its \Trash role, not its name.
        assert m.rename("Trash", "Bin")[0] == "OK"
        old_date = '"01-Jan-2020 10:00:00 +0000"'
        for box, subj, flags in (("Bin", "t1", "(\\Flagged)"), ("Bin", "t2", None),
                                 ("Junk", "j1", None), ("Junk", "j2", "(\\Flagged)"),
                                 ("INBOX", "i1", None)):
            typ, data = m.append(box, flags, old_date, msg(subj))
            assert typ == "OK", data
        j = Jmap(s, BOB, BOB_PW)
        _, g = j.one("Email/get", {"ids": [], "properties": ["id"]})
        _, q = j.one("Email/query", {})
        _, got = j.one("Email/get", {"ids": q["ids"], "properties": ["mailboxIds", "subject"]})
        by_subject = {e["subject"]: e["id"] for e in got["list"]}
        state0 = g["state"]
        quota0 = storage(m)
        assert quota0 > 0

        # A session with Bin selected sees the expunges.
        w = login(s)
        assert w.select("Bin")[0] == "OK"

        # Now, and 9 days on: nothing is old enough (the APPEND's 2020
        # date is not the save date).
        pass_at(s, 0, 0)
        pass_at(s, 9, 0)
        # 20 days on: Junk (10 days) empties, \Flagged too; Bin (30) stays.
        pass_at(s, 20, 2)
        assert count(m, "Junk") == 0 and count(m, "Bin") == 2 and count(m, "INBOX") == 1
        assert s.wait_log(re.compile(r"event=retention_expunged user=bob@example.test "
                                     r"account=\d+ mailbox=\d+ role=junk days=10 messages=2"))
        # 29 days on: Bin's messages are not 30 days old yet.
        pass_at(s, 29, 0)
        assert count(m, "Bin") == 2
        # 31 days on: Bin empties.
        pass_at(s, 31, 2)
        assert count(m, "Bin") == 0 and count(m, "INBOX") == 1
        assert s.wait_log(re.compile(r"role=trash days=30 messages=2"))
        typ, _ = w.noop()
        assert typ == "OK"
        typ, exp = w.response("EXPUNGE")
        assert exp is not None and len(exp) == 2, exp
        w.logout()
        # The quota drops to the INBOX message alone.
        assert storage(m) < quota0
        assert storage(m) == (len(msg("i1")) + 1023) // 1024, storage(m)
        # JMAP: the four are destroyed since the first state.
        _, ch = j.one("Email/changes", {"sinceState": state0})
        gone = sorted(by_subject[k] for k in ("t1", "t2", "j1", "j2"))
        assert sorted(ch["destroyed"]) == gone, ch
        assert ch["created"] == [] and ch["updated"] == [], ch
        # A century on: the INBOX is never swept.
        pass_at(s, 36500, 0)
        assert count(m, "INBOX") == 1
        m.logout()
        # The counters.
        st, _, body = Jmap(s).request("GET", "/metrics")
        assert st == 200, body
        text = body.decode() if isinstance(body, bytes) else body
        assert 'tern_retention_expunged_total{mailbox="trash"} 2' in text, text
        assert 'tern_retention_expunged_total{mailbox="junk"} 2' in text, text


def test_retention_zero_keeps_trash():
    with server({"TERN_TRASH_RETENTION_DAYS": "0"}) as s:
        m = login(s)
        assert m.append("Trash", None, None, msg("t"))[0] == "OK"
        assert m.append("Junk", None, None, msg("j"))[0] == "OK"
        pass_at(s, 400, 1)  # Junk's default 30 days
        assert count(m, "Trash") == 1 and count(m, "Junk") == 0
        m.logout()


def test_retention_settings_and_bad_value():
    s, a = admin_server(env={"TERN_JUNK_RETENTION_DAYS": "7"})
    try:
        st, _, body = a.call("GET", "/settings")
        assert st == 200, (st, body)
        assert body["limits"]["trash_retention_days"] == 30, body["limits"]
        assert body["limits"]["junk_retention_days"] == 7, body["limits"]
    finally:
        s.cleanup()
    for bad in ("abc", "-1", "36501", ""):
        s = server(start=False)
        s.env["TERN_JUNK_RETENTION_DAYS"] = bad  # after the CLI's setup, which reads it too
        try:
            try:
                s.start()
                raise AssertionError("started with TERN_JUNK_RETENTION_DAYS=%r" % bad)
            except RuntimeError as e:
                assert "exited with 2" in str(e), str(e)
                assert "TERN_JUNK_RETENTION_DAYS" in str(e), str(e)
        finally:
            s.cleanup()


def test_retention_sieve_fileinto_junk_dated_by_delivery():
    """A delivery Sieve files into Junk is saved at its delivery: its old
    Date: header does not age it, and 30 days after delivery it goes."""
    s = server(start=False)
    try:
        s.cli("sieve", "put", BOB, "s", input='require "fileinto"; fileinto "Junk";')
        s.cli("sieve", "activate", BOB, "s")
        s.start()
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.sendmail("a@remote.test", [BOB], msg("old spam"))
        # Port 25's 250 comes after the commit: it is in Junk now.
        m = login(s)
        assert count(m, "Junk") == 1 and count(m, "INBOX") == 0
        pass_at(s, 29, 0)
        assert count(m, "Junk") == 1
        pass_at(s, 31, 1)
        assert count(m, "Junk") == 0
        m.logout()
    finally:
        s.cleanup()


def test_retention_pass_leaves_main_thread_free():
    """A pass held between slices (the test-only hold file) stands for a
    long one over a large Junk: the main thread still takes SIGHUP (its
    DMARC/TLS-RPT flush logs event=seen_flushed), and SIGTERM ends the
    held pass and the server; the next start's pass finishes the job."""
    s = server()
    try:
        m = login(s)
        for i in range(3):
            assert m.append("Junk", None, None, msg("j%d" % i))[0] == "OK"
        m.logout()
        hold = s.env["TERN_TEST_RETENTION_CLOCK_FILE"] + ".hold"
        open(hold, "w").close()
        start_pass(s, 31)
        assert s.wait_log("event=retention_held", timeout=60), s.log_text()[-3000:]
        # Answered while the pass waits (on the main thread, never).
        s.proc.send_signal(signal.SIGHUP)
        assert s.wait_log("event=seen_flushed", timeout=30), s.log_text()[-3000:]
        assert "event=retention_pass" not in s.log_text()
        # Let go: the held pass finishes.
        os.unlink(hold)
        assert s.wait_log(PassCount(1), timeout=60), s.log_text()[-3000:]
        assert "expunged=3" in s.log_text(), s.log_text()[-3000:]

        # Held again, then SIGTERM: the pass ends between slices, the
        # server stops, the messages stay for the next start.
        m = login(s)
        for i in range(2):
            assert m.append("Junk", None, None, msg("k%d" % i))[0] == "OK"
        m.logout()
        held = s.log_text().count("event=retention_held")
        open(hold, "w").close()
        start_pass(s, 31)
        assert s.wait_log(re.compile("(?s)" + "event=retention_held.*" * (held + 1)),
                          timeout=60), s.log_text()[-3000:]
        assert s.stop(timeout=60) == 0
        assert "event=stopped" in s.log_text(), s.log_text()[-3000:]
        assert re.findall(r"event=retention_pass clock_offset=\d+ expunged=(\d+)",
                          s.log_text()) == ["3", "0"], s.log_text()[-3000:]
        os.unlink(hold)
        s.start()
        m = login(s)
        assert count(m, "Junk") == 2
        pass_at(s, 31, 2)
        assert count(m, "Junk") == 0
        m.logout()
    finally:
        s.cleanup()
