"""JMAP core (RFC 8620) over HTTPS: the session resource and its
well-known redirect, Basic authentication through the one login flow
(account and app passwords, the auth_failed line), Core/echo as in the
RFC's example, every request-level error (notJSON, notRequest,
unknownCapability, limit), method-level errors (unknownMethod,
invalidArguments, accountNotFound, invalidResultReference), the limits
(maxCallsInRequest, maxSizeRequest, maxObjectsInGet) and result references
with "*". One server for the module; exact responses."""
import json
import os
import re

from jmapc import CORE, MAIL, Jmap, shared_server

BOB = ("bob@example.test", "bob-password-1")
ACCOUNTS = [BOB, ("eve@example.test", "eve-password-1")]


def srv():
    return shared_server(ACCOUNTS)


def test_jmap_session_and_auth():
    s = srv()
    anon = Jmap(s)
    st, hd, _ = anon.request("GET", "/.well-known/jmap")
    assert st == 307 and hd["location"] == "/jmap/session", (st, hd)
    st, hd, body = anon.request("GET", "/jmap/session")
    assert st == 401 and hd["www-authenticate"].startswith("Basic realm="), (st, hd)
    st, hd, body = anon.post(b"{}")
    assert st == 401, st

    bad = Jmap(s, BOB[0], "wrong-password")
    st, hd, body = bad.request("GET", "/jmap/session")
    assert st == 401 and "www-authenticate" in hd, (st, body)
    s.wait_log('module=jmap event=auth_failed mech=basic reason=password')
    assert re.search(r'event=auth_failed mech=basic reason=password failures=\d+ delay_ms=\d+ '
                     r'user="bob@example.test" ip=127\.0\.0\.1', s.log_text())

    # The shipped fail2ban filter takes the line (fail2ban cuts time=T off).
    conf = open(os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "fail2ban",
                             "tern.conf")).read()
    rx = re.search(r"^failregex = (.*)$", conf, re.M).group(1).replace("<HOST>", r"(?P<host>\S+)")
    lines = [l.split(" ", 1)[1] for l in s.log_text().splitlines() if "module=jmap event=auth_failed" in l]
    assert lines and re.match(rx, lines[0]).group("host") == "127.0.0.1", lines

    j = Jmap(s, *BOB)
    sess = j.session()
    acc = sess["primaryAccounts"][MAIL]
    assert re.fullmatch(r"A[0-9a-f]{8}", acc), acc
    sub, vac, quota, blob = ("urn:ietf:params:jmap:" + x for x in ("submission", "vacationresponse",
                                                                   "quota", "blob"))
    sieve, mdn = "urn:ietf:params:jmap:sieve", "urn:ietf:params:jmap:mdn"
    princ = "urn:ietf:params:jmap:principals"
    assert sess["primaryAccounts"] == {CORE: acc, MAIL: acc, sub: acc, vac: acc, quota: acc,
                                       blob: acc, sieve: acc, mdn: acc, princ: acc}
    assert sess["username"] == BOB[0]
    port = s.https_port
    assert sess["apiUrl"] == "https://127.0.0.1:%d/jmap/api/" % port, sess
    assert sess["downloadUrl"].endswith("/jmap/download/{accountId}/{blobId}/{name}?accept={type}")
    assert sess["uploadUrl"].endswith("/jmap/upload/{accountId}/")
    assert sess["capabilities"][CORE] == {
        "maxSizeUpload": 50000000, "maxConcurrentUpload": 4, "maxSizeRequest": 5000000,
        "maxConcurrentRequests": 4, "maxCallsInRequest": 32, "maxObjectsInGet": 500,
        "maxObjectsInSet": 500,
        "collationAlgorithms": ["i;ascii-casemap", "i;ascii-numeric", "i;unicode-casemap"]}
    assert sess["capabilities"][MAIL] == {}
    a = sess["accounts"][acc]
    assert a["name"] == BOB[0] and a["isPersonal"] is True and a["isReadOnly"] is False
    assert set(a["accountCapabilities"]) == {CORE, MAIL, sub, vac, quota, blob, sieve, mdn,
                                             princ, princ + ":owner"}
    assert a["accountCapabilities"][blob] == {
        "maxSizeBlobSet": 50000000, "maxDataSources": 64,
        "supportedTypeNames": ["Mailbox", "Thread", "Email"],
        "supportedDigestAlgorithms": ["sha", "sha-256"]}, a
    assert a["accountCapabilities"][sub] == {"maxDelayedSend": 0, "submissionExtensions": {
        "8BITMIME": [], "DSN": [], "MT-PRIORITY": ["MIXER"], "REQUIRETLS": [], "SMTPUTF8": []}}
    assert a["accountCapabilities"][MAIL]["maxSizeMailboxName"] == 255
    assert isinstance(sess["state"], str)
    # Another account's id is not ours.
    eve = Jmap(s, *ACCOUNTS[1])
    assert eve.account != acc
    r = j.call([["Mailbox/get", {"accountId": eve.account}, "0"]])
    assert r["methodResponses"] == [["error", {"type": "accountNotFound"}, "0"]], r

    # CORS: the preflight, and the header on answers.
    st, hd, _ = anon.request("OPTIONS", "/jmap/api/", headers={
        "Origin": "https://webmail.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert st == 204 and hd["access-control-allow-origin"] == "*", (st, hd)
    assert "POST" in hd["access-control-allow-methods"]
    assert "Authorization" in hd["access-control-allow-headers"], hd
    st, hd, _ = j.request("GET", "/jmap/session", headers={"Origin": "https://webmail.example"})
    assert st == 200 and hd["access-control-allow-origin"] == "*", hd

    # An app password works too.
    out = s.cli("account", "app-password", "add", BOB[0], "phone")
    pw = re.search(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}", out.stdout.decode()).group(0)
    assert Jmap(s, BOB[0], pw).session()["primaryAccounts"][MAIL] == acc


def test_jmap_echo_and_request_errors():
    j = Jmap(srv(), *BOB)
    # RFC 8620 §4.1's example, exactly.
    r = j.call([["Core/echo", {"hello": True, "high": 5}, "b3ff"]], using=[CORE])
    assert r == {"methodResponses": [["Core/echo", {"hello": True, "high": 5}, "b3ff"]],
                 "sessionState": r["sessionState"]}, r
    # Numbers past a double come back as given (§4.1: the same
    # arguments): 1e400 was null, 20 digits 1e+20, -0.0 0.
    st, _, r = j.post(b'{"using": ["%s"], "methodCalls": [["Core/echo", '
                      b'{"big": 1e400, "neg": -1e400, "long": 99999999999999999999, "z": -0.0}, "n"]]}'
                      % CORE.encode())
    a = r["methodResponses"][0][1]
    assert st == 200 and a["big"] == float("inf") and a["neg"] == float("-inf"), r
    assert a["long"] == 99999999999999999999 and str(a["z"]) == "-0.0", r

    def problem(body, status=400):
        st, hd, p = j.post(body)
        assert st == status and hd["content-type"] == "application/problem+json", (st, hd, p)
        return p

    p = problem(b'{"using": [')
    assert p["type"] == "urn:ietf:params:jmap:error:notJSON" and p["status"] == 400, p
    assert problem(b'[1, 2]')["type"] == "urn:ietf:params:jmap:error:notRequest"
    assert problem(json.dumps({"using": [CORE]}))["type"] == "urn:ietf:params:jmap:error:notRequest"
    assert problem(json.dumps({"using": [CORE], "methodCalls": [["Core/echo", {}]]}))["type"] == \
        "urn:ietf:params:jmap:error:notRequest"
    assert problem(json.dumps({"using": [CORE], "methodCalls": [], "extra": 1}))["type"] == \
        "urn:ietf:params:jmap:error:notRequest"
    p = problem(json.dumps({"using": [CORE, "urn:example:nope"], "methodCalls": []}))
    assert p["type"] == "urn:ietf:params:jmap:error:unknownCapability", p
    assert "urn:example:nope" in p["detail"]
    p = problem(json.dumps({"using": [CORE], "methodCalls": [["Core/echo", {}, str(i)]
                                                           for i in range(33)]}))
    assert p["type"] == "urn:ietf:params:jmap:error:limit" and p["limit"] == "maxCallsInRequest", p
    p = problem(b'{"using": [], "methodCalls": [], "x": "' + b"a" * 5000001 + b'"}')
    assert p["type"] == "urn:ietf:params:jmap:error:limit" and p["limit"] == "maxSizeRequest", p
    # RFC 8620 §3.6.1: a body that is not application/json is notJSON,
    # with no type at all too (both are what a page elsewhere can send
    # without a CORS preflight, with the Basic credentials a browser
    # keeps); parameters and case do not matter. Credentials first: a
    # wrong password is 401 whatever the type.
    echo = json.dumps({"using": [CORE], "methodCalls": [["Core/echo", {}, "t"]]}).encode()
    for ct in ("text/plain;charset=UTF-8", None, "application/jsonx", "multipart/form-data"):
        st, hd, p = j.request("POST", "/jmap/api/", echo, {"Content-Type": ct} if ct else {})
        assert st == 400 and p["type"] == "urn:ietf:params:jmap:error:notJSON", (ct, st, p)
    for ct in ("application/json; charset=utf-8", "Application/JSON"):
        st, _, r = j.request("POST", "/jmap/api/", echo, {"Content-Type": ct})
        assert st == 200 and r["methodResponses"] == [["Core/echo", {}, "t"]], (ct, st, r)
    st, _, _ = Jmap(srv(), BOB[0], "wrong").request("POST", "/jmap/api/", echo,
                                                    {"Content-Type": "text/plain"})
    assert st == 401, st
    # 32 calls are fine; an empty request too.
    r = j.call([["Core/echo", {"i": i}, str(i)] for i in range(32)], using=[CORE])
    assert len(r["methodResponses"]) == 32
    assert j.call([], using=[])["methodResponses"] == []


def test_jmap_method_errors_and_references():
    j = Jmap(srv(), *BOB)
    acc = j.account
    r = j.call([
        ["Nope/get", {}, "a"],
        ["Mailbox/get", {"accountId": acc}, "b"],          # mail not in using
        ["Core/echo", {"x": 1}, "c"],
    ], using=[CORE])["methodResponses"]
    assert r == [["error", {"type": "unknownMethod"}, "a"],
                 ["error", {"type": "unknownMethod"}, "b"],
                 ["Core/echo", {"x": 1}, "c"]], r
    r = j.call([
        ["Mailbox/get", {"accountId": acc, "bogus": 1}, "a"],
        ["Mailbox/get", {}, "b"],
        ["Mailbox/get", {"accountId": acc, "ids": "M1"}, "c"],
        ["Mailbox/get", {"accountId": acc, "ids": ["bad id!"]}, "d"],
        ["Mailbox/get", {"accountId": "Axyz"}, "e"],
        ["Mailbox/get", {"accountId": acc, "properties": ["nope"]}, "f"],
        ["Mailbox/get", {"accountId": acc, "ids": ["M%08x" % i for i in range(501)]}, "g"],
    ])["methodResponses"]
    assert r[0] == ["error", {"type": "invalidArguments", "description": "unknown argument",
                              "arguments": ["bogus"]}, "a"], r[0]
    assert r[1] == ["error", {"type": "invalidArguments", "description": "missing argument",
                              "arguments": ["accountId"]}, "b"], r[1]
    assert r[2][1]["type"] == "invalidArguments" and r[3][1]["type"] == "invalidArguments", r
    assert r[4] == ["error", {"type": "accountNotFound"}, "e"], r[4]
    assert r[5][1]["type"] == "invalidArguments", r[5]
    assert r[6] == ["error", {"type": "requestTooLarge"}, "g"], r[6]

    # Result references (§3.7), "*" included; bad ones.
    r = j.call([
        ["Mailbox/query", {"accountId": acc, "filter": {"role": "inbox"}}, "q"],
        ["Mailbox/get", {"accountId": acc, "#ids": {"resultOf": "q", "name": "Mailbox/query",
                                                      "path": "/ids"},
                         "properties": ["name"]}, "g"],
        ["Core/echo", {"#names": {"resultOf": "g", "name": "Mailbox/get", "path": "/list/*/name"},
                       "#first": {"resultOf": "g", "name": "Mailbox/get", "path": "/list/0/id"}},
         "e"],
        ["Core/echo", {"#x": {"resultOf": "q", "name": "Mailbox/get", "path": "/ids"}}, "bad1"],
        ["Core/echo", {"#x": {"resultOf": "zz", "name": "Mailbox/query", "path": "/ids"}}, "bad2"],
        ["Core/echo", {"#x": {"resultOf": "q", "name": "Mailbox/query", "path": "/nope"}}, "bad3"],
        ["Core/echo", {"x": 1, "#x": {"resultOf": "q", "name": "Mailbox/query", "path": "/ids"}},
         "bad4"],
    ])["methodResponses"]
    inbox = r[0][1]["ids"]
    assert len(inbox) == 1 and r[1][1]["list"] == [{"id": inbox[0], "name": "INBOX"}], r
    assert r[2] == ["Core/echo", {"names": ["INBOX"], "first": inbox[0]}, "e"], r[2]
    for k in (3, 4, 5):
        assert r[k][0] == "error" and r[k][1]["type"] == "invalidResultReference", r[k]
    assert r[6][1]["type"] == "invalidArguments", r[6]

    # createdIds pass through (§3.3).
    st, hd, body = j.post(json.dumps({"using": [CORE], "methodCalls": [],
                                      "createdIds": {"k1": "M00000001"}}))
    assert st == 200 and body["createdIds"] == {"k1": "M00000001"}, body


def test_jmap_references_cannot_grow_a_request():
    """Result references (§3.7) let a small request ask for a large
    Response: each call's response may use only what the calls before it
    left of the Response's limit (else serverFail, and later calls still
    run), and references parse at most maxSizeRequest of responses in all
    (else invalidResultReference). Before, a 2 MB request of Core/echo
    calls each echoing the one before grew the server by gigabytes."""
    j = Jmap(srv(), *BOB)
    mb = "x" * 1000000

    def ref(c, path=""):
        return {"resultOf": c, "name": "Core/echo", "path": path}

    r = j.call([
        ["Core/echo", {"a": mb}, "c0"],
        ["Core/echo", {"#r%d" % k: ref("c0") for k in range(17)}, "c1"],  # 17 MB
        ["Core/echo", {"#r%d" % k: ref("c0") for k in range(17)}, "c2"],  # 17 MB more: over
        ["Core/echo", {"small": 1}, "c3"],
    ], using=[CORE])["methodResponses"]
    assert [x[0] for x in r] == ["Core/echo", "Core/echo", "error", "Core/echo"], \
        [(x[0], x[2]) for x in r]
    assert r[2][1]["type"] == "serverFail" and r[3][1] == {"small": 1}, r[2:]
    assert len(r[1][1]) == 17 and r[1][1]["r16"] == {"a": mb}
    r = j.call([
        ["Core/echo", {"a": mb}, "c0"],
        ["Core/echo", {"#r%d" % k: ref("c0") for k in range(6)}, "c1"],  # 6 MB
        ["Core/echo", {"#x": ref("c1", "/r0/a")}, "c2"],
        ["Core/echo", {"#x": ref("c0", "/a")}, "c3"],  # parsed already: free
    ], using=[CORE])["methodResponses"]
    assert r[2][0] == "error" and r[2][1]["type"] == "invalidResultReference", r[2][:2]
    assert "maxSizeRequest" in r[2][1]["description"], r[2]
    assert r[3] == ["Core/echo", {"x": mb}, "c3"]


def test_request_threads_are_kept_bounded_and_end_when_idle():
    """A JMAP request runs on a thread of its own off the HTTP daemon's
    (http_server.c); a thread that ran one waits for the next instead of
    ending (a thread made per request was about 28% of a small request's
    CPU), at most HTTP_DEFER_MAX (16) of them, each for 30 s. Here: 48
    requests from 24 clients at once leave threads waiting, at most 16
    more than before, and all of them end after a while of quiet; the stop
    ends with none left (exit code 0)."""
    import threading
    import time
    from harness import Server

    s = Server(accounts=ACCOUNTS, imap=True, http=True)
    try:
        tasks = "/proc/%d/task" % s.proc.pid
        Jmap(s, *BOB).call([["Core/echo", {}, "0"]])  # the login cache warm
        base = len(os.listdir(tasks))  # with the echo's thread, waiting
        errors, peak = [], [0]

        def client():
            try:
                c = Jmap(s, *BOB)
                for _ in range(2):
                    r = c.call([["Mailbox/get", {"accountId": c.account}, "m"]])
                    assert r["methodResponses"][0][0] == "Mailbox/get", r
                    peak[0] = max(peak[0], len(os.listdir(tasks)))
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(e)
        ts = [threading.Thread(target=client) for _ in range(24)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errors, errors
        after = len(os.listdir(tasks))
        assert after <= base + 16, (base, after)  # 16 wait at most
        print("  threads: %d before, %d after the burst (peak %d)" % (base, after, peak[0]))
        assert after > base, (base, after)  # kept for the next requests
        deadline = time.time() + 90
        while len(os.listdir(tasks)) >= base and time.time() < deadline:
            time.sleep(1)
        end = len(os.listdir(tasks))
        assert end < base, (base, after, end)  # the echo's thread too
    finally:
        rc = s.stop()
        s.cleanup()
    assert rc == 0, rc
