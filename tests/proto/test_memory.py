"""Memory under abuse (issue 28, finding 1): many big messages arriving at
once must not grow the server's anonymous memory beyond its message
budget (TERN_MESSAGE_MEMORY); past it, message data goes to spool files.

One server, 50 concurrent streams of STREAM_MB each: SMTP DATA on port 25
and IMAP APPEND literals. Most are left unfinished and then dropped, a few
complete. The test shows the server alive throughout, every completed
message stored intact, RssAnon (from /proc/PID/status: not VmRSS, which
counts the store's file-backed map and the spool files' mappings) bounded
while the streams are open, back near idle once they are gone, and no
spool file left behind.
"""
import hashlib
import os
import re
import socket
import threading
import time

from harness import SANITIZED, Raw as SmtpRaw, message
from test_imap import BOB, BOB_PW, Raw as ImapRaw, srv

# Measures the server's memory under load: run.py runs it alone in the
# plain run. The sanitized run skips the bounds ASan's quarantine blurs and
# joins the pool.
EXCLUSIVE = "plain"

# Under ASan every byte the server touches is checked and freed memory is
# held in quarantine, so the streams are smaller there (the mechanism is
# the same; the plain run carries the full 40 MB of the issue) and the
# bounds only look at what the budget governs.
STREAM_MB = 8 if SANITIZED else 40
N_SMTP, N_IMAP = 45, 5
DONE_SMTP, DONE_IMAP = 3, 2  # streams that complete; the rest are dropped
BUDGET_MB = 16
CHUNK = 1 << 20


def rss_anon_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/%d/status" % pid)


def body_bytes(tag, mb):
    """A message of about mb MiB: short lines, distinct per stream."""
    line = (tag * 20)[:76].encode() + b"\r\n"
    head = message(subject="big " + tag, body="").encode()
    n = (mb * 1024 * 1024) // len(line)
    return head + line * n


class Monitor(threading.Thread):
    """Samples RssAnon every 50 ms until stopped; keeps the peak."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop_ev = pid, 0, threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            try:
                self.peak = max(self.peak, rss_anon_kib(self.pid))
            except OSError:
                return
            time.sleep(0.05)


def guarded(fn):
    """A stream that fails still lets the others go on (and says why)."""
    def run(s, i, finish, ready, go, out):
        try:
            fn(s, i, finish, ready, go, out)
        except Exception as e:  # noqa: BLE001 - reported through out
            out[("error", fn.__name__, i)] = repr(e)
            ready.release()
    return run


@guarded
def smtp_stream(s, i, finish, ready, go, out):
    c = SmtpRaw(s.smtp_port, timeout=120)
    c.cmd("EHLO big%d.remote.test" % i)
    assert c.cmd("MAIL FROM:<alice@remote.test>")[0] == 250
    assert c.cmd("RCPT TO:<%s>" % BOB)[0] == 250
    assert c.cmd("DATA")[0] == 354
    data = body_bytes("s%02d" % i, STREAM_MB)
    for k in range(0, len(data), CHUNK):
        c.send(data[k:k + CHUNK])
    ready.release()
    go.wait()
    if finish:
        c.send(b".\r\n")
        code, text = c.reply()
        out[("smtp", i)] = (code, hashlib.sha256(data).hexdigest())
    c.close()


@guarded
def imap_stream(s, i, finish, ready, go, out):
    c = ImapRaw(s)
    c.send("a LOGIN %s %s\r\n" % (BOB, BOB_PW))
    while not c.line().startswith(b"a "):
        pass
    data = body_bytes("i%02d" % i, STREAM_MB)
    c.send("b APPEND INBOX {%d}\r\n" % len(data))
    first = c.line()
    assert first.startswith(b"+"), first
    cut = len(data) if finish else len(data) - 1000
    for k in range(0, cut, CHUNK):
        c.send(data[k:min(k + CHUNK, cut)])
    ready.release()
    go.wait()
    if finish:
        c.send(b"\r\n")
        while True:
            line = c.line()
            if line.startswith(b"b "):
                break
        out[("imap", i)] = (line, hashlib.sha256(data).hexdigest())
    c.sock.close()


def spool_files(s):
    d = os.path.join(s.data, "spool")
    return os.listdir(d) if os.path.isdir(d) else []


def spool_fds(pid):
    """Open descriptors of spool files (unlinked, so only /proc shows them)."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if "/spool/" in os.readlink("/proc/%d/fd/%s" % (pid, fd)):
                n += 1
        except OSError:
            pass
    return n


def test_memory_many_big_streams():
    env = {"TERN_MESSAGE_MEMORY": "%dM" % BUDGET_MB, "TERN_SMTP_MAX_CONNECTIONS_PER_IP": "200"}
    if SANITIZED:
        # ASan keeps up to 256 MiB of freed blocks in quarantine to catch
        # uses after free, all of it RssAnon: a smaller one keeps the bound
        # about tern's memory rather than ASan's (also when the suite is
        # run by hand, with no ASAN_OPTIONS of its own).
        given = os.environ.get("ASAN_OPTIONS")
        env["ASAN_OPTIONS"] = (given + ":" if given else "") + "quarantine_size_mb=16"
    s = srv(env=env)
    try:
        pid = s.proc.pid
        # Warm up what every session allocates once (TLS, first store write).
        c = SmtpRaw(s.smtp_port)
        c.cmd("EHLO warm")
        c.cmd("MAIL FROM:<alice@remote.test>")
        c.cmd("RCPT TO:<%s>" % BOB)
        c.cmd("DATA")
        assert c.cmd(message(subject="warm").replace("\r\n.", "\r\n..") + "\r\n.")[0] == 250
        c.close()
        time.sleep(0.5)
        idle = rss_anon_kib(pid)

        mon = Monitor(pid)
        mon.start()
        ready, go, out, threads = threading.Semaphore(0), threading.Event(), {}, []
        for i in range(N_SMTP):
            threads.append(threading.Thread(target=smtp_stream,
                                            args=(s, i, i < DONE_SMTP, ready, go, out)))
        for i in range(N_IMAP):
            threads.append(threading.Thread(target=imap_stream,
                                            args=(s, i, i < DONE_IMAP, ready, go, out)))
        for t in threads:
            t.daemon = True
            t.start()
        for _ in threads:
            assert ready.acquire(timeout=600), "a stream did not get its data in"
        # Every stream is open with (nearly) all of its data in the server.
        during = rss_anon_kib(pid)
        fds_during = spool_fds(pid)
        go.set()
        for t in threads:
            t.join(300)
            assert not t.is_alive(), "a stream hung"
        mon.stop_ev.set()
        mon.join()

        assert s.proc.poll() is None, "tern exited:\n" + s.log_text()[-3000:]
        # Completed messages: stored, and byte for byte what was sent.
        assert not [k for k in out if k[0] == "error"], out
        assert len(out) == DONE_SMTP + DONE_IMAP, out
        for key, (res, _) in out.items():
            ok = res == 250 if key[0] == "smtp" else res.startswith(b"b OK")
            assert ok, (key, res)
        stored = {}
        for mid, _ in s.messages(BOB):
            raw = s.raw(BOB, mid)
            m = re.search(rb"Subject: big ([si]\d\d)\r\n", raw)
            if m:
                # The stored copy of an SMTP message has our Return-Path and
                # Received in front; what the client sent follows them.
                start = raw.find(b"From: alice@remote.test")
                stored[m.group(1).decode()] = hashlib.sha256(raw[start:]).hexdigest()
        for (proto, i), (_, digest) in out.items():
            tag = ("s%02d" if proto == "smtp" else "i%02d") % i
            assert stored.get(tag) == digest, (tag, "stored copy differs or is missing")
        assert len(stored) == DONE_SMTP + DONE_IMAP, sorted(stored)

        # Bounded while open: the budget, plus per session a staging buffer
        # and its connection buffers, plus room for allocator slack.
        streams = N_SMTP + N_IMAP
        bound = idle + BUDGET_MB * 1024 + streams * 512 + 48 * 1024
        print("RssAnon KiB: idle %d, with %d streams open %d, peak %d (bound %d)" %
              (idle, streams, during, mon.peak, bound))
        assert during <= bound, (during, bound)
        # Past the budget the streams went to spool files: at most
        # BUDGET_MB of them can be in memory, the rest must be on disk.
        assert fds_during >= N_SMTP + N_IMAP - BUDGET_MB // 2, fds_during
        if not SANITIZED:
            # The peak includes the completed messages' commit; ASan's
            # quarantine holds freed blocks on purpose, so only here.
            assert mon.peak <= bound, (mon.peak, bound)

        # Back near idle once the streams are gone (memory returned), and
        # once the full-text indexer (nice 10: on a busy machine it may
        # still be reading the big messages) has indexed them and let its
        # buffers go too.
        last = max(mid for mid, _ in s.messages(BOB))
        assert s.wait_log(re.compile(r"event=fts_indexed account=\d+ emails=\d+ through=%d\b" % last),
                          timeout=180), s.log_text()[-3000:]
        deadline = time.time() + 20
        after = rss_anon_kib(pid)
        while time.time() < deadline and after > idle + 16 * 1024:
            time.sleep(0.25)
            after = rss_anon_kib(pid)
        print("RssAnon KiB after: %d" % after)
        if not SANITIZED:
            assert after <= idle + 16 * 1024, (idle, after)
        assert spool_files(s) == [], spool_files(s)
        assert spool_fds(pid) == 0, "spool files still open after the sessions ended"
        # Still serving.
        c = SmtpRaw(s.smtp_port)
        assert c.cmd("EHLO after")[0] == 250
        c.close()
    finally:
        s.cleanup()


def test_memory_spool_failure_ends_only_that_session():
    """A message the server cannot hold (here: its spool directory is
    gone, replaced by a file, so a spill fails) is answered with a
    temporary error and ends that session; the server and other sessions
    go on (the same path as an allocation failure)."""
    s = srv(env={"TERN_MESSAGE_MEMORY": "1M"})
    try:
        spool = os.path.join(s.data, "spool")
        if os.path.isdir(spool):
            os.rmdir(spool)
        open(spool, "w").close()
        big = body_bytes("f00", 3)  # over the 2 MiB a message may keep in memory
        c = SmtpRaw(s.smtp_port, timeout=60)
        c.cmd("EHLO fail.remote.test")
        assert c.cmd("MAIL FROM:<alice@remote.test>")[0] == 250
        assert c.cmd("RCPT TO:<%s>" % BOB)[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(big + b".\r\n")
        code, text = c.reply()
        assert code == 421 and "4.3.0" in text[0], (code, text)
        assert c.closed(), "the session should end"
        # IMAP: NO [UNAVAILABLE] for the command, then BYE.
        m = ImapRaw(s)
        m.send("a LOGIN %s %s\r\n" % (BOB, BOB_PW))
        while not m.line().startswith(b"a "):
            pass
        m.send("b APPEND INBOX {%d}\r\n" % len(big))
        assert m.line().startswith(b"+")

        # Past the address's share of the 1 MiB budget the literal has to
        # spill, and cannot: the server answers and closes. Only part of
        # the literal is sent, then the client reads; if the server's close
        # came with data unread it is a reset, which may beat the two lines
        # to the client. So: the lines when they come through, the log's
        # record always. The close may even come while the part is still
        # being sent (the send then fails: seen under ASan on a loaded
        # machine).
        try:
            m.send(big[:600 * 1024])
            lines = [m.line(), m.line()]
            assert lines[0].startswith(b"b NO [UNAVAILABLE]"), lines
            assert lines[1].startswith(b"* BYE"), lines
        except (OSError, EOFError):
            pass
        assert s.wait_log("event=literal_dropped reason=resources"), "no IMAP record"
        # Alive, and a small message still goes through.
        assert s.proc.poll() is None
        c = SmtpRaw(s.smtp_port)
        c.cmd("EHLO ok.remote.test")
        c.cmd("MAIL FROM:<alice@remote.test>")
        c.cmd("RCPT TO:<%s>" % BOB)
        c.cmd("DATA")
        assert c.cmd(message(subject="small").replace("\r\n.", "\r\n..") + "\r\n.")[0] == 250
        c.close()
        assert "event=spool_failed" in s.log_text()
    finally:
        s.cleanup()
