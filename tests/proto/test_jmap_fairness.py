"""Long JMAP requests hold nobody else (app/http/http_push.c, core/worker.h).

A Request over WebSocket (RFC 8887) ran on the worker pool that password
checks and push reads share, two threads on a two-core machine: two long
Requests (a 29 MB Email/get, an Email/query over a big mailbox) held both,
and every other account's Requests, every push event and every IMAP
LOGIN waited until one ended (scripts/bench-jmap-fairness measures it).
They now run on a pool of their own, at most two of one account at once.

The test holds Requests for as long as it needs with a test-only knob of
the sanitizer build (TERN_TEST_JMAP_HOLD_FILE: a Core/echo with
"testHold": true runs until that file exists), so it skips on the
release build. While one account's four Requests are held (the most
maxConcurrentRequests lets it run), another account gets its WebSocket
Request and its HTTP Request answered, its idle EventSource and its
WebSocket with push on get the state event of a message delivered by
SMTP, and its IMAP LOGIN succeeds; none of the held ones ended
meanwhile (they answer once the file exists), and only two of them
started (the account's share of the pool). Nothing is timed: only the
order of events is asserted."""
import os
import select
import shutil
import socket
import struct
import tempfile
import time

from harness import SANITIZED, Server
from jmapc import CORE, Jmap
from test_imap import Raw
from test_jmap_push import EventStream, WebSocket, deliver, ws_request

ANN = ("ann@example.test", "ann-password-1-Vq8r")
BEN = ("ben@example.test", "ben-password-1-Vq8r")
# Waits for events, long enough for a loaded machine: never a measure.
WAIT = 120


def wait_log_count(s, needle, n):
    deadline = time.time() + WAIT
    while s.log_text().count(needle) < n:
        assert time.time() < deadline, "fewer than %d %r in the log" % (n, needle)
        time.sleep(0.05)


def readable(w):
    """Whether the server sent w anything yet."""
    return bool(w.buf) or w.sock.pending() > 0 or bool(select.select([w.sock], [], [], 0)[0])


def test_long_websocket_requests_hold_nobody_else():
    if not SANITIZED:
        return "skip"  # the hold is a sanitizer build's test knob
    release = os.path.join(tempfile.mkdtemp(prefix="tern-hold-"), "release")
    s = Server(accounts=[ANN, BEN], imap=True, http=True,
               env={"TERN_TEST_JMAP_HOLD_FILE": release})
    held = []
    try:
        # Ben's idle push channels, open (and their start read) before.
        es = EventStream(s, BEN)
        assert es.status == 200
        push = WebSocket(s, BEN)
        push.send_json({"@type": "WebSocketPushEnable", "dataTypes": None})
        push.send_json(ws_request([["Core/echo", {}, "e"]], "enabled"))
        assert push.recv_json(WAIT)["requestId"] == "enabled"
        quiet = WebSocket(s, BEN)

        # Ann's four long Requests: two start, two wait for her share.
        held = [WebSocket(s, ANN) for _ in range(4)]
        for i, w in enumerate(held):
            w.send_json(ws_request([["Core/echo", {"testHold": True, "n": i}, "h"]], "held%d" % i))
        wait_log_count(s, "event=test_hold state=held", 2)

        # Meanwhile, Ben is served.
        quiet.send_json(ws_request([["Core/echo", {"k": 1}, "e"]], "quiet"))
        r = quiet.recv_json(WAIT)
        assert r["@type"] == "Response" and r["requestId"] == "quiet", r
        assert r["methodResponses"][0][1] == {"k": 1}, r
        r = Jmap(s, *BEN).call([["Core/echo", {"k": 2}, "e"]], using=(CORE,))
        assert r["methodResponses"][0][1] == {"k": 2}, r
        deliver(s, BEN, 1, "while held")
        ev = es.event(WAIT)
        assert ev["event"] == "state" and "Email" in str(ev["data"]), ev
        r = push.recv_json(WAIT)
        assert r["@type"] == "StateChange", r
        imap = Raw(s)
        imap.sock.settimeout(WAIT)
        imap.send('l LOGIN "%s" "%s"\r\n' % BEN)
        assert imap.until_tag("l")[-1].startswith(b"l OK"), "LOGIN failed"
        imap.sock.close()

        # All of that while Ann's Requests were still held: none answered,
        # none ended, and no more than her two started.
        log = s.log_text()
        assert "event=test_hold state=released" not in log, "a hold ended before Ben was served"
        assert "event=test_hold state=expired" not in log, "a hold ended before Ben was served"
        assert log.count("event=test_hold state=held") == 2, log.count("event=test_hold state=held")
        assert not any(readable(w) for w in held)

        # Released: each held Request is answered, the waiting ones too.
        open(release, "w").close()
        for i, w in enumerate(held):
            r = w.recv_json(WAIT)
            assert r["@type"] == "Response" and r["requestId"] == "held%d" % i, r
            assert r["methodResponses"][0][1] == {"testHold": True, "n": i}, r
        wait_log_count(s, "event=test_hold state=released", 4)
        for w in held + [quiet, push]:
            w.close()
        es.close()
    finally:
        s.cleanup()
        shutil.rmtree(os.path.dirname(release), ignore_errors=True)



def cpu_ticks(pid):
    """Clock ticks the process's threads have used so far."""
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # the thread ended meanwhile
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def sockets_open(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
        except FileNotFoundError:
            pass
    return n


def peer_gone_during_held_request(reset):
    """The client closes its socket (a FIN, or with reset a RST) while its
    Request is held, so the connection's reading is paused."""
    if not SANITIZED:
        return "skip"  # the hold is a sanitizer build's test knob
    release = os.path.join(tempfile.mkdtemp(prefix="tern-hold-"), "release")
    s = Server(accounts=[ANN], http=True, env={"TERN_TEST_JMAP_HOLD_FILE": release})
    try:
        w = WebSocket(s, ANN)
        w.send_json(ws_request([["Core/echo", {"testHold": True}, "h"]], "held"))
        wait_log_count(s, "event=test_hold state=held", 1)
        with_it = sockets_open(s.proc.pid)
        if reset:
            w.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        w.sock.close()  # on loopback the FIN or RST is there when close() returns
        before = cpu_ticks(s.proc.pid)
        time.sleep(3)  # the window the ticks are counted over, not a wait
        used = cpu_ticks(s.proc.pid) - before
        # Idle: a few ticks. The spin: over 100 in 3 s.
        assert used < 50, "%d clock ticks in 3 s with the peer gone" % used
        assert "event=test_hold state=released" not in s.log_text()

        # The Request ends, and the connection with it.
        open(release, "w").close()
        wait_log_count(s, "event=test_hold state=released", 1)
        deadline = time.time() + WAIT
        while sockets_open(s.proc.pid) >= with_it:
            assert time.time() < deadline, "the connection outlived its Request"
            time.sleep(0.05)
    finally:
        s.cleanup()
        shutil.rmtree(os.path.dirname(release), ignore_errors=True)


def test_peer_closed_during_a_held_request_costs_no_cpu():
    """The peer's FIN, reported level-triggered while the paused
    connection did not read, woke the loop without end: 216 clock ticks
    in 5 s, where an idle server uses 2, until the Request ended. A tick
    bound with a wide margin: the spin is a busy loop, not a timing
    matter."""
    return peer_gone_during_held_request(reset=False)


def test_peer_reset_during_a_held_request_costs_no_cpu():
    """A RST (EPOLLHUP: no interest set masks it) likewise."""
    return peer_gone_during_held_request(reset=True)
