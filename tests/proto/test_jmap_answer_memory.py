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
its mark reset first) is what is measured."""
import json

from harness import SANITIZED, Server
from jmapc import CORE
from test_http_body_limits import asked_at_once, head
from test_jmap_blob import read_answer, tls

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


def measured(n, bound_mib):
    s = Server(accounts=[BOB], http=True)
    try:
        grew = peak_growth(s, n)
        # A sanitizer's quarantine keeps freed blocks: twice the room.
        assert grew < bound_mib * (2 if SANITIZED else 1) * 1024, grew
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
