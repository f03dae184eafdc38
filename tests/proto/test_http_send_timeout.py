"""A client that stops taking an answer (app/http/http_bridge.c).

Once an answer has started, the client owes us no request header: we owe
it bytes. While answer bytes are pending for it, a send deadline runs
(TERN_HTTP_SEND_TIMEOUT, counted afresh whenever it takes some), and one
that takes none for that long is cut, logged event=timeout kind=response.
The header deadline (TERN_HTTP_HEADER_TIMEOUT) starts only once the answer
was taken whole. Before, a client that stalled on an answer was cut by
the header deadline and logged kind=request_header, as if it were slow to
send a header.

One server for the module, with short deadlines: the header one shorter
than the send one, so that which of them cut a connection shows in the
log too. Each test connects from its own loopback address, which its log
lines carry (peer=)."""
import atexit
import base64
import json
import re
import socket
import ssl
import time

from harness import Server
from jmapc import CORE
from test_conn_limits import closed_within, http_slots

BOB = ("bob@example.test", "bob-password-1")
HEADER_TIMEOUT = 2
SEND_TIMEOUT = 3
_server = []


def srv():
    if not _server:
        s = Server(accounts=[BOB], http=True,
                   env={"TERN_HTTP_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
                        "TERN_HTTP_SEND_TIMEOUT": str(SEND_TIMEOUT)})
        atexit.register(s.cleanup)
        _server.append(s)
    return _server[0]


def connect(s, source, rcvbuf=None):
    """An HTTPS connection from source; rcvbuf shrinks the client's
    receive buffer, so that what it reads is soon what the server can
    send (on loopback the kernel would otherwise take megabytes)."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    raw.bind((source, 0))
    raw.settimeout(60)
    raw.connect(("127.0.0.1", s.https_port))
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c.wrap_socket(raw)


def big_request(copies=8):
    """A Core/echo of 1 MB echoed copies times over: an answer of about
    copies MB, far more than the socket buffers on the way hold."""
    big = "x" * 1000000
    calls = [["Core/echo", {"a": big}, "0"]] + [
        ["Core/echo", {"#a": {"resultOf": "0", "name": "Core/echo", "path": "/a"}}, str(k)]
        for k in range(1, copies)]
    body = json.dumps({"using": [CORE], "methodCalls": calls}, separators=(",", ":")).encode()
    cred = base64.b64encode(("%s:%s" % BOB).encode()).decode()
    return ("POST /jmap/api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (cred, len(body))).encode() + body


def read_head(c):
    """The answer's header, and the body bytes read with it."""
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(4096)
        assert d, "closed before the answer's header: %r" % data
        data += d
    head, rest = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 "), head[:100]
    length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
    return length, rest


def peer_lines(s, source):
    return [x for x in s.log_text().splitlines()
            if "event=timeout" in x and "peer=%s " % source in x]


def test_stalled_reader_is_cut_by_the_send_timeout():
    """Reads the start of a large answer, then nothing: cut once the send
    deadline passes, logged as a response the client stopped taking, and
    its connection slot comes back. Before: kind=request_header after
    TERN_HTTP_HEADER_TIMEOUT."""
    s = srv()
    source = "127.0.0.2"
    c = connect(s, source, rcvbuf=4096)
    try:
        c.sendall(big_request())
        length, got = read_head(c)
        while len(got) < 65536:
            got += c.recv(65536 - len(got))
        assert s.wait_log(re.compile(r"event=timeout kind=response peer=%s " % re.escape(source)),
                   timeout=60)
        # Cut: what was already on its way still arrives, then the end.
        closed, rest = closed_within(c, 30)
        assert closed, "the stalled connection was not closed"
        assert len(got) + len(rest) < length, (len(got), len(rest), length)
    finally:
        c.close()
    lines = peer_lines(s, source)
    assert len(lines) == 1 and "kind=response" in lines[0], lines
    # Its slot was given back (the /metrics request's own is the 1).
    assert http_slots(s) == 1


def read_slowly_then_whole(c, seconds):
    """Reads one answer: 4 KB every 0.25 s (16 KB/s) for seconds, then the
    rest at once. Its body."""
    length, got = read_head(c)
    parts, took = [got], len(got)
    slow_until = time.time() + seconds
    while took < length:
        d = c.recv(4096 if time.time() < slow_until else min(1 << 20, length - took))
        assert d, "cut after %d of %d octets" % (took, length)
        parts.append(d)
        took += len(d)
        if time.time() < slow_until:
            time.sleep(0.25)
    return b"".join(parts)


def test_slow_steady_reader_gets_the_whole_answer():
    """Takes a few KB at a time, for longer than the send timeout: never
    cut, since each time it takes some the deadline starts over; the
    answer read in the end is whole. Twice on one connection: an answer
    of 8 MB, more than the socket buffers hold (the server waits to write
    it, in the send state), then one of 1 MB, which they hold whole: the
    server has written it all when the client starts its slow read, and
    the header deadline that then runs must not take the client for a
    slow sender of its next header while the answer's end is still in
    the socket's send queue (cut as request_header before)."""
    s = srv()
    source = "127.0.0.3"
    c = connect(s, source, rcvbuf=4096)
    try:
        # The first answer's slow read outlasts the socket's send buffer
        # growth: from then on the server could write nothing more
        # (the buffer holds about 2.8 MB here, and writes resume only
        # once half of it is taken), and only the octets its TCP saw
        # acknowledged show the client taking some. Judged by our
        # writes alone, it was cut about 6 s in (kind=response).
        # The requests are made first and the answers parsed last: the
        # header deadline runs from when the server wrote the first
        # answer's end, and the client has TERN_HTTP_HEADER_TIMEOUT to
        # read what the socket still held and send the next request.
        asks = [(copies, slow, big_request(copies))
                for copies, slow in ((8, 3 * SEND_TIMEOUT), (1, SEND_TIMEOUT + 1.5))]
        answers = []
        for copies, slow, req in asks:
            c.sendall(req)
            answers.append((copies, read_slowly_then_whole(c, slow)))
    finally:
        c.close()
    for copies, body in answers:
        responses = json.loads(body)["methodResponses"]
        assert len(responses) == copies, len(responses)
        assert all(len(r[1]["a"]) == 1000000 for r in responses)
    assert peer_lines(s, source) == []


def test_idle_keep_alive_is_cut_by_the_header_timeout():
    """An answer taken whole, then nothing: the client owes us the next
    header, and the header deadline ends the idle connection, logged as
    before."""
    s = srv()
    source = "127.0.0.4"
    c = connect(s, source)
    try:
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        length, got = read_head(c)
        while len(got) < length:
            got += c.recv(length - len(got))
        closed, rest = closed_within(c, 60)
        assert closed and rest == b"", (closed, rest)
    finally:
        c.close()
    assert s.wait_log(re.compile(r"event=timeout kind=request_header peer=%s " % re.escape(source)))
    lines = peer_lines(s, source)
    assert len(lines) == 1 and "kind=request_header" in lines[0], lines


def test_slow_request_header_is_cut_by_the_header_timeout():
    """A header dripped a byte at a time: still the header deadline."""
    s = srv()
    source = "127.0.0.5"
    c = connect(s, source)
    try:
        c.sendall(b"GET /healthz HTTP/1.1\r\n")
        c.settimeout(0.5)
        closed = False
        for _ in range(120):
            try:
                c.sendall(b"X")
                closed = c.recv(100) == b""
            except (socket.timeout, TimeoutError, ssl.SSLWantReadError):
                pass
            except (OSError, ssl.SSLError):
                closed = True
            if closed:
                break
        assert closed, "a dripped header outlived the header deadline"
    finally:
        c.close()
    assert s.wait_log(re.compile(r"event=timeout kind=request_header peer=%s " % re.escape(source)))
    lines = peer_lines(s, source)
    assert len(lines) == 1 and "kind=request_header" in lines[0], lines
