"""What a large JMAP answer costs the server (app/jmap/jmap_api.c): the
Response is written as each method call ends, into the answer's spool
(core/spool.h), and only the responses a result reference of the request
names stay in memory. It was built whole several times over: each call's
text, its copy kept for references, the Response's buffer (grown by
doubling) and then the spool: a 29 MB answer took VmHWM up 48-61 MiB,
four at once 175-244 MiB.

Core/echo makes the answers: one call echoes a 1 MB string and 28 more
echo it again through a result reference, so only the first response
needs keeping. Each test has a server of its own: peak memory (VmHWM,
its mark reset first) is what is measured.

Over WebSocket (RFC 8887) the same Response, tagged, goes into the
socket's spool as it is made; it was built whole in a buffer, tagged in
a second and then copied into the spool."""
import json
import os
import shutil

from harness import SANITIZED, Server
from jmapc import CORE
from test_http_body_limits import asked_at_once, head
from test_jmap_blob import read_answer, tls
from test_jmap_push import WebSocket

BOB = ("bob@example.test", "bob-password-1")
ECHOES = 28
BIG = "x" * 1000000


def echo_request(value=BIG, echoes=ECHOES):
    calls = [["Core/echo", {"a": value}, "0"]] + [
        ["Core/echo", {"#a": {"resultOf": "0", "name": "Core/echo", "path": "/a"}}, str(k)]
        for k in range(1, echoes + 1)]
    return json.dumps({"using": [CORE], "methodCalls": calls},
                      separators=(",", ":")).encode()


def check_echoes(st, body, echoes=ECHOES):
    assert st == 200, (st, body[:300])
    r = json.loads(body)
    assert r["sessionState"] == "0" and len(r["methodResponses"]) == echoes + 1
    for k, (name, args, cid) in enumerate(r["methodResponses"]):
        assert (name, cid) == ("Core/echo", str(k)) and args == {"a": BIG}, (name, cid)


def peak_growth(s, n):
    """n answers of ECHOES + 1 echoes asked at once and read whole: how
    far VmHWM rose (KiB)."""
    req = echo_request()
    # What the first such answer costs once (buffers, pools that stay).
    check_echoes(*asked_at_once(s, req, 1, 120)[0][0])
    answers, grew = asked_at_once(s, req, n, 120)
    for st, body in answers:
        check_echoes(st, body)
    print("%d answers of %d octets: VmHWM grew %.1f MiB" % (n, len(answers[0][1]), grew / 1024))
    return grew


def ws_frame(w, timeout):
    """The payload of the next frame, a text one with a 64-bit length,
    read in pieces (the client's bytes += is quadratic at 29 MB)."""
    w.sock.settimeout(timeout)
    while len(w.buf) < 10:
        w._more()
    assert w.buf[0] == 0x81 and w.buf[1] == 127, w.buf[:10]
    n = int.from_bytes(w.buf[2:10], "big")
    parts, got = [w.buf[10:]], len(w.buf) - 10
    while got < n:
        d = w.sock.recv(1 << 20)
        if not d:
            raise EOFError("closed at %d of %d" % (got, n))
        parts.append(d)
        got += len(d)
    body = b"".join(parts)
    w.buf = body[n:]
    return body[:n]


def ws_asked_at_once(s, msg, n, timeout):
    """n WebSockets each send the message msg, then their answers are
    read: the answers and how far VmHWM rose meanwhile (KiB)."""
    socks = []
    try:
        for _ in range(n):
            socks.append(WebSocket(s, BOB))
            assert socks[-1].status == 101, socks[-1].status
        with open("/proc/%d/clear_refs" % s.proc.pid, "w") as f:
            f.write("5")
        base = s.rss_kib("VmHWM")
        for w in socks:
            w.send(1, msg)
        answers = [ws_frame(w, timeout) for w in socks]
    finally:
        for w in socks:
            w.close()
    return answers, s.rss_kib("VmHWM") - base


def check_ws_echoes(body):
    r = json.loads(body)
    assert r["@type"] == "Response" and r["requestId"] == "big", r.get("@type")
    check_echoes(200, body)


def ws_peak_growth(s, n):
    """peak_growth over WebSocket: the same Request, tagged."""
    msg = b'{"@type":"Request","id":"big",' + echo_request()[1:]
    answers, _ = ws_asked_at_once(s, msg, 1, 120)
    check_ws_echoes(answers[0])
    answers, grew = ws_asked_at_once(s, msg, n, 120)
    for body in answers:
        check_ws_echoes(body)
    print("%d WebSocket answers of %d octets: VmHWM grew %.1f MiB"
          % (n, len(answers[0]), grew / 1024))
    return grew


def measured(n, bound_mib, growth=peak_growth, sanitized_mib=None):
    s = Server(accounts=[BOB], http=True)
    try:
        grew = growth(s, n)
        # A sanitizer's quarantine keeps freed blocks: twice the room,
        # or what the test says. ThreadSanitizer's shadow is resident
        # memory too, several times every page the answer touched (the
        # spool file's mapping included: 140 MiB for one answer of 29 MB):
        # VmHWM measures TSan there, so its answers are checked, not
        # the peak.
        if os.environ.get("TERN_TEST_BUILD") == "tsan":
            print("peak not bounded under TSan: its shadow is in VmHWM")
            return
        if SANITIZED:
            bound_mib = sanitized_mib or 2 * bound_mib
        assert grew < bound_mib * 1024, grew
    finally:
        s.cleanup()


def test_one_large_answer_costs_about_its_size():
    """One 29 MB answer: VmHWM grew 48-61 MiB before (Email/get of 28 bodies
    of 1 MB: 56-127 MiB); 31 MiB now, its own size (the spool file's
    pages, mapped while it is sent)."""
    measured(1, 40)


def test_four_large_answers_at_once():
    """Four at once (maxConcurrentRequests): 175-244 MiB before, 48-54 MiB
    now."""
    measured(4, 120)


def test_one_large_answer_over_websocket():
    """The same 29 MB answer over WebSocket: VmHWM grew 71-73 MiB before
    (the Response built whole, tagged in a second buffer, copied into
    the socket's spool); 23 MiB now, written into that spool as HTTP's
    is."""
    measured(1, 40, ws_peak_growth)


def test_four_large_answers_over_websocket_at_once():
    """Four at once, on four sockets: 138-146 MiB before (two at a time:
    the worker pool has two threads), 40-50 MiB now. Under ASan 192 MiB,
    as HTTP's four (198 MiB): its quarantine, not the answers."""
    measured(4, 80, ws_peak_growth, sanitized_mib=240)


def test_websocket_answer_spool_refused_closes_1013():
    """A WebSocket answer the disk will not take (no spool file can be
    made: a file stands where the spool directory was) closes the socket
    with 1013, try again later, and says so in the log: the Response
    cannot go out, and a frame begun cannot be taken back."""
    s = Server(accounts=[BOB], http=True)
    try:
        w = WebSocket(s, BOB)
        assert w.status == 101, w.status
        spool = os.path.join(s.data, "spool")
        shutil.rmtree(spool)
        open(spool, "w").close()
        w.send(1, b'{"@type":"Request","id":"big",' + echo_request(echoes=4)[1:])
        op, payload = w.recv(120)
        assert (op, payload) == (8, (1013).to_bytes(2, "big")), (op, payload[:200])
        assert s.wait_log("event=ws_spool_failed")
    finally:
        s.cleanup()


def test_call_over_budget_taken_back_whole():
    """A call past the Response's budget fails after part of its response
    went to the spool: that part is taken back, the error takes its place
    and the Response is valid JSON with every other response whole."""
    s = Server(accounts=[BOB], http=True)
    try:
        echoes = 31  # 38.4 MB asked for, JMAP_RESPONSE_MAX is 32 MiB
        big = "y" * 1200000
        req = echo_request(big, echoes)
        c = tls(s)
        c.settimeout(120)
        c.sendall(head("/jmap/api/", len(req), BOB) + req)
        st, body = read_answer(c, 120)
        c.close()
        assert st == 200, (st, body[:300])
        r = json.loads(body)["methodResponses"]
        assert len(r) == echoes + 1
        ok = [x for x in r if x[0] == "Core/echo"]
        bad = [x for x in r if x[0] == "error"]
        assert ok and bad and r[:len(ok)] == ok, [x[0] for x in r]
        for name, args, cid in ok:
            assert args == {"a": big}, cid
        for name, args, cid in bad:
            assert args["type"] == "serverFail", args
        assert [x[2] for x in r] == [str(k) for k in range(echoes + 1)]
    finally:
        s.cleanup()
