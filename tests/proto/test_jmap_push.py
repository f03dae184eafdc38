"""JMAP and the one change feed (RFC 8620 §7, DESIGN.md §3): a JMAP write
is published to the store's change feed as IMAP's own are, so an IMAP
session in IDLE is told at once, without sending a command: a keyword
set by Email/set arrives as "* n FETCH (FLAGS ...)", a move by
Email/set mailboxIds as "* n EXPUNGE". EventSource (RFC 8620 §7.3) from
the same feed: an SMTP delivery, a JMAP write and an IMAP STORE each give
a state event with the types that changed; types, ping, closeafter and
Last-Event-ID; the login flow's answers. WebSocket (RFC 8887): the
handshake and its refusals, Request/Response/RequestError, fragments and
control frames, WebSocketPushEnable/Disable with pushState, the close
codes of protocol errors, 1001 at shutdown; behind a trusted proxy a
push connection holds its client's share of the per-client limit. The
npm `eventsource` and `ws` packages drive both as Node clients
(tests/push). One server for the module (and one more each for the
shutdown and the proxy)."""
import base64
import hashlib
import http.client
import json
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import threading
import time

from harness import SANITIZED, Server, message, npm_ci
from jmapc import CORE, MAIL, Jmap, _ctx, shared_server
from mailpeers import unique_ips
from test_imap import Raw
from test_http_body_limits import spool_maps
from test_imap_search_ext import cmd, wait_count

ANN = ("ann@example.test", "ann-password-1-Vq8r")
BEN = ("ben@example.test", "ben-password-1")
CAL = ("cal@example.test", "cal-password-1")
DEE = ("dee@example.test", "dee-password-1-Vq8r")
WS = "urn:ietf:params:jmap:websocket"
# Waits for events, long enough for a loaded machine: never a measure.
WAIT = 120


ADMIN_PW = "admin-password-1-Vq8r"


def srv():
    return shared_server([ANN, BEN, CAL, DEE], env={"TERN_ADMIN_PASSWORD": ADMIN_PW})


def deliver(s, who, n=1, subject="push"):
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        for i in range(n):
            c.sendmail("alice@remote.test", [who[0]],
                       message(subject="%s %d" % (subject, i), to=who[0]).encode())


def idle(s, who):
    """An IMAP session of who with INBOX selected, in IDLE."""
    r = Raw(s)
    r.send('l LOGIN "%s" "%s"\r\n' % who)
    assert r.until_tag("l")[-1].startswith(b"l OK")
    _, t = cmd(r, "s", "SELECT INBOX")
    assert t.startswith(b"s OK"), t
    r.send("i IDLE\r\n")
    assert r.line() == b"+ idling"
    return r


def test_jmap_write_reaches_imap_idle():
    s = srv()
    deliver(s, ANN, 2, "idle")
    wait_count(s, 2, account=ANN[0])
    j = Jmap(s, *ANN)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    role = {m["role"]: m["id"] for m in mb["list"]}
    _, q = j.one("Email/query", {"filter": {"inMailbox": role["inbox"]},
                                 "sort": [{"property": "receivedAt", "isAscending": True}]})
    first, second = q["ids"]

    r = idle(s, ANN)
    # The only thing sent after "+ idling" is the JMAP request: whatever
    # IMAP reports now came from the change feed.
    r.sock.settimeout(5)
    _, res = j.one("Email/set", {"update": {first: {"keywords/$seen": True}}})
    assert first in res["updated"], res
    try:
        line = r.line()
    except (socket.timeout, TimeoutError):
        raise AssertionError("IDLE was not told about the JMAP keyword change")
    assert line == b"* 1 FETCH (FLAGS (\\Recent \\Seen))", line

    # A move out of INBOX: the message leaves the IDLE session's mailbox.
    _, res = j.one("Email/set", {"update": {second: {"mailboxIds": {role["archive"]: True}}}})
    assert second in res["updated"], res
    try:
        line = r.line()
    except (socket.timeout, TimeoutError):
        raise AssertionError("IDLE was not told about the JMAP move")
    assert line == b"* 2 EXPUNGE", line
    r.send("DONE\r\n")
    assert r.until_tag("i")[-1] == b"i OK Idle completed."
    r.close()


class EventStream:
    """A raw EventSource client (RFC 8620 §7.3 over TLS): the response
    header, then one event at a time as {field: value}."""

    def __init__(self, s, who, query="types=*&closeafter=no&ping=0", last_id=None, extra="",
                 source=None):
        sock = socket.create_connection(("127.0.0.1", s.https_port), 10,
                                        source_address=(source, 0) if source else None)
        self.sock = _ctx().wrap_socket(sock, server_hostname="mx.example.test")
        self.buf = b""
        h = ("GET /jmap/eventsource/?%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Accept: text/event-stream\r\n%s" % (query, extra))
        if who:
            h += "Authorization: Basic %s\r\n" % base64.b64encode(("%s:%s" % who).encode()).decode()
        if last_id is not None:
            h += "Last-Event-ID: %s\r\n" % last_id
        self.sock.sendall((h + "\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}

    def _more(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("closed; buffered %r" % self.buf)
        self.buf += d

    def event(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            while b"\n\n" not in self.buf:
                self._more()
        except (socket.timeout, TimeoutError):
            raise AssertionError("no event within %ss (buffered %r)" % (timeout, self.buf))
        raw, self.buf = self.buf.split(b"\n\n", 1)
        ev = {}
        for l in raw.decode().split("\n"):
            k, v = l.split(": ", 1)
            ev[k] = v
        if "data" in ev:
            ev["data"] = json.loads(ev["data"])
        return ev

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (socket.timeout, TimeoutError):
            return False
        except (ssl.SSLError, ConnectionResetError):
            return True

    def close(self):
        self.sock.close()


def security_headers(headers):
    """The headers every HTTPS answer carries (http_security_header_lines)."""
    assert headers["strict-transport-security"].startswith("max-age="), headers
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"], headers
    assert headers["referrer-policy"] == "no-referrer", headers


def test_eventsource_push():
    s = srv()
    j = Jmap(s, *BEN)
    acc = j.account
    sess = j.session()
    assert sess["eventSourceUrl"] == ("https://127.0.0.1:%d/jmap/eventsource/?types={types}"
                                      "&closeafter={closeafter}&ping={ping}" % s.https_port)

    # No credentials, wrong ones: 401 as for API requests, nothing held.
    e = EventStream(s, None)
    assert e.status == 401 and e.headers["www-authenticate"].startswith("Basic"), e.headers
    # A JSON answer as every other: never sniffed into something to run.
    assert e.headers["x-content-type-options"] == "nosniff", e.headers
    # And the security headers of every other HTTPS answer, HSTS among
    # them (the push answers, written by the bridge, had only nosniff).
    security_headers(e.headers)
    assert e.closed()
    e = EventStream(s, (BEN[0], "wrong"))
    assert e.status == 401 and e.closed()
    # An Authorization too long to read is refused as a wrong one (its
    # user name and length were read uninitialised for the cache key).
    e = EventStream(s, (BEN[0], "x" * 3000))
    assert e.status == 401 and e.closed(), e.status
    assert s.wait_log('module=jmap event=auth_failed mech=basic reason=password')
    e = EventStream(s, BEN, "types=*&closeafter=maybe&ping=0")
    assert e.status == 400 and e.closed()

    e = EventStream(s, BEN)
    assert e.status == 200 and e.headers["content-type"] == "text/event-stream", e.headers
    security_headers(e.headers)
    # SMTP delivery -> a state event naming every type that changed.
    deliver(s, BEN, 1, "es")
    ev = e.event()
    assert ev["event"] == "state", ev
    ch = ev["data"]["changed"][acc]
    assert ev["data"]["@type"] == "StateChange" and set(ch) == {
        "Mailbox", "Email", "Thread", "EmailDelivery"}, ev
    state = ch["Email"]
    # The id is the push state: the modseq, then the own types' states.
    assert ev["id"].split("_")[0] == state and all(v == state for v in ch.values()), ev
    _, got = j.one("Email/get", {"ids": []})
    assert got["state"] == state, (got, state)
    _, q = j.one("Email/query", {})
    eid = q["ids"][0]

    # JMAP write -> event (no EmailDelivery: nothing new arrived).
    _, res = j.one("Email/set", {"update": {eid: {"keywords/$flagged": True}}})
    assert eid in res["updated"], res
    ev = e.event()
    ch = ev["data"]["changed"][acc]
    assert set(ch) == {"Mailbox", "Email", "Thread"} and int(ch["Email"]) > int(state), ev
    state = ch["Email"]
    # Mailbox/set (a subscription) -> Mailbox only.
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    arch = [m["id"] for m in mb["list"] if m["role"] == "archive"][0]
    _, res = j.one("Mailbox/set", {"update": {arch: {"isSubscribed": False}}})
    assert arch in res["updated"], res
    ev = e.event()
    assert set(ev["data"]["changed"][acc]) == {"Mailbox"}, ev

    # IMAP STORE -> event.
    r = Raw(s)
    r.send('l LOGIN "%s" "%s"\r\n' % BEN)
    assert r.until_tag("l")[-1].startswith(b"l OK")
    cmd(r, "s", "SELECT INBOX")
    _, t = cmd(r, "f", "STORE 1 +FLAGS (\\Seen)")
    assert t.startswith(b"f OK"), t
    ev = e.event()
    ch = ev["data"]["changed"][acc]
    assert set(ch) == {"Mailbox", "Email", "Thread"}, ev
    last = ev["id"]
    e.close()

    # Only the types asked for; a ping with the interval used.
    e = EventStream(s, BEN, "types=Mailbox&closeafter=no&ping=1")
    assert e.status == 200
    ev = e.event()
    assert ev == {"event": "ping", "data": {"interval": 1}}, ev
    cmd(r, "g", "STORE 1 -FLAGS (\\Seen)")
    ev = e.event()
    assert ev["event"] == "state" and set(ev["data"]["changed"][acc]) == {"Mailbox"}, ev
    e.close()

    # Last-Event-ID: what happened since is told at once; closeafter=state
    # ends the response after it.
    e = EventStream(s, BEN, "types=Email&closeafter=state&ping=0", last_id=last)
    ev = e.event()
    assert ev["event"] == "state" and set(ev["data"]["changed"][acc]) == {"Email"}, ev
    assert int(ev["id"].split("_")[0]) > int(last.split("_")[0])
    assert e.closed()
    # Clients of one account told different states (one live, one
    # reconnecting from an older one) share the account's reads: each is
    # told from its own, then both the next change alike.
    now = ev["id"]
    live = EventStream(s, BEN, "types=Mailbox,Email&closeafter=no&ping=0", last_id=now)
    old = EventStream(s, BEN, "types=Mailbox,Email&closeafter=no&ping=0", last_id=last)
    ev = old.event()
    assert set(ev["data"]["changed"][acc]) == {"Mailbox", "Email"}, ev
    assert ev["id"] == now.split("_")[0], (ev, now)
    cmd(r, "h", "STORE 1 -FLAGS (\\Flagged)")  # set by the Email/set above
    evs = [live.event(), old.event()]
    assert evs[0] == evs[1] and set(evs[0]["data"]["changed"][acc]) == {"Mailbox", "Email"}, evs
    assert int(evs[0]["id"]) > int(ev["id"]), evs
    live.close()
    old.close()
    r.close()
    # Nothing pushed after its connection went: no error, the server goes on.
    deliver(s, BEN, 1, "after")
    wait_count(s, 2, account=BEN[0])


def test_push_tells_own_state_types():
    """Identity, EmailSubmission, SieveScript and VacationResponse have
    states of their own (not the modseq): a change to one reaches
    EventSource (?types=) and WebSocket (WebSocketPushEnable dataTypes)
    clients with the state that type's /get then answers, and only to
    clients that asked for it. Pushes named Mailbox, Email, Thread and
    EmailDelivery only, so these never came."""
    s = srv()
    j = Jmap(s, *DEE)
    acc = j.account
    sub = "urn:ietf:params:jmap:submission"
    vac = "urn:ietf:params:jmap:vacationresponse"
    sieve = "urn:ietf:params:jmap:sieve"
    u = [CORE, MAIL, sub, vac, sieve]
    e = EventStream(s, DEE, "types=Identity,VacationResponse,SieveScript&closeafter=no&ping=0")
    assert e.status == 200
    ident = EventStream(s, DEE, "types=Identity&closeafter=no&ping=0")
    assert ident.status == 200

    def state(get, using):
        _, g = j.one(get, {"ids": []}, using=using)
        return g["state"]

    _, r = j.one("Identity/set", {"create": {"i": {"email": DEE[0], "name": "Dee push"}}}, using=u)
    iid = r["created"]["i"]["id"]
    for stream in (e, ident):
        ev = stream.event()
        assert ev["event"] == "state", ev
        assert ev["data"]["changed"] == {acc: {"Identity": state("Identity/get", u)}}, ev
    # The vacation response is kept as a Sieve script: SieveScript's
    # state may move with it, and is then told too.
    # A script write is told as it commits, so a push may see a step of
    # the change first: the events end at the states /get gives after.
    def told(stream, want, allowed):
        last = {}
        for _ in range(6):
            ch = stream.event()["data"]["changed"][acc]
            assert set(ch) <= allowed, ch
            last.update(ch)
            if all(last.get(k) == v for k, v in want.items()):
                return
        raise AssertionError((last, want))

    for patch in ({"isEnabled": True, "textBody": "away"}, {"isEnabled": False}):
        _, r = j.one("VacationResponse/set", {"update": {"singleton": patch}}, using=u)
        assert r["updated"] == {"singleton": None}, r
        told(e, {"VacationResponse": state("VacationResponse/get", u),
                 "SieveScript": state("SieveScript/get", u)}, {"VacationResponse", "SieveScript"})
    st, _, up = j.request("POST", "/jmap/upload/%s/" % acc, b"keep;\r\n",
                          {"Content-Type": "application/sieve"})
    assert st == 201, up
    _, r = j.one("SieveScript/set", {"create": {"x": {"name": "pushed", "blobId": up["blobId"]}}},
                 using=u)
    assert r["created"], r
    told(e, {"SieveScript": state("SieveScript/get", u)}, {"SieveScript"})
    # A script written elsewhere (the portal, as ManageSieve) is told at
    # once too, not at the account's next mail change.
    from test_portal import Portal
    p = Portal(s)
    assert p.login(*DEE)[0] == 200
    st, body = p.call("PUT", "/me/sieve/portal", {"script": "keep;\n"})
    assert st in (200, 201), (st, body)
    # The event first: a /get would itself take the new state and wake it.
    ev = e.event()
    assert ev["data"]["changed"] == {acc: {"SieveScript": state("SieveScript/get", u)}}, ev
    _, r = j.one("Identity/set", {"destroy": [iid]}, using=u)
    assert r["destroyed"] == [iid], r
    # The Identity-only stream is told the destroy first: nothing about
    # the vacation changes came to it.
    ev = ident.event()
    assert ev["data"]["changed"] == {acc: {"Identity": state("Identity/get", u)}}, ev
    ev = e.event()
    assert ev["data"]["changed"] == {acc: {"Identity": state("Identity/get", u)}}, ev
    e.close()
    ident.close()

    # WebSocket: dataTypes names them too; a request over the socket.
    w = WebSocket(s, DEE)
    w.send_json({"@type": "WebSocketPushEnable", "dataTypes": ["Identity", "EmailSubmission"]})
    w.send_json({"@type": "Request", "id": "r1", "using": u, "methodCalls": [
        ["Identity/set", {"accountId": acc, "create": {"k": {"email": DEE[0], "name": "WS"}}}, "0"]]})
    got = [w.recv_json(), w.recv_json()]
    got.sort(key=lambda m: m["@type"])
    assert [m["@type"] for m in got] == ["Response", "StateChange"], got
    kid = got[0]["methodResponses"][0][1]["created"]["k"]["id"]
    assert got[1]["changed"] == {acc: {"Identity": state("Identity/get", u)}}, got
    w.send_json({"@type": "Request", "id": "r2", "using": u, "methodCalls": [
        ["Identity/set", {"accountId": acc, "destroy": [kid]}, "0"]]})
    got = [w.recv_json(), w.recv_json()]
    got.sort(key=lambda m: m["@type"])
    assert got[1]["changed"] == {acc: {"Identity": state("Identity/get", u)}}, got
    w.close()


def test_push_tells_administrator_changes():
    """An alias the administrator adds or removes is an Identity of its
    target, and a new quota limit a Quota: push tells them as they
    commit, not at the account's next mail change."""
    from httpc import Api
    s = srv()
    j = Jmap(s, *CAL)
    acc = j.account
    u = [CORE, MAIL, "urn:ietf:params:jmap:submission", "urn:ietf:params:jmap:quota"]

    def state(get):
        _, g = j.one(get, {"ids": None}, using=u)
        return g["state"]

    state("Identity/get")  # the snapshot the events are told from
    e = EventStream(s, CAL, "types=Identity,Quota&closeafter=no&ping=0")
    assert e.status == 200
    api = Api(s)
    assert api.login(ADMIN_PW)[0] == 200
    st, _, body = api.call("POST", "/aliases", {"alias": "cal.alias@example.test",
                                                "target": CAL[0]})
    assert st in (200, 201), body
    # The event first: a /get would itself take the new state and wake it.
    ev = e.event()
    assert ev["data"]["changed"] == {acc: {"Identity": state("Identity/get")}}, ev
    st, _, body = api.call("PATCH", "/accounts/" + CAL[0], {"quota": 5000000})
    assert st == 200, body
    ev = e.event()
    assert ev["data"]["changed"] == {acc: {"Quota": state("Quota/get")}}, ev
    st, _, body = api.call("DELETE", "/aliases/cal.alias@example.test")
    assert st in (200, 204), body
    ev = e.event()
    assert ev["data"]["changed"] == {acc: {"Identity": state("Identity/get")}}, ev
    e.close()

    # The push state covers every type (RFC 8620 section 7.1): a client
    # reconnecting with it is told the own-state types' changes made
    # while it was away, as the mail types' ones, and nothing more.
    last = ev["id"]
    st, _, body = api.call("POST", "/aliases", {"alias": "cal.away@example.test",
                                                "target": CAL[0]})
    assert st in (200, 201), body
    e = EventStream(s, CAL, "types=Identity,Quota&closeafter=state&ping=0", last_id=last)
    ev = e.event()
    assert ev["data"]["changed"] == {acc: {"Identity": state("Identity/get")}}, ev
    assert e.closed()
    w = WebSocket(s, CAL)
    w.send_json({"@type": "WebSocketPushEnable", "dataTypes": ["Identity", "Quota"],
                 "pushState": ev["id"]})
    w.send_json(ws_request([["Core/echo", {}, "e"]], "r1"))
    assert w.recv_json()["requestId"] == "r1"  # nothing changed: no StateChange first
    w.send_json({"@type": "WebSocketPushDisable"})
    st, _, body = api.call("PATCH", "/accounts/" + CAL[0], {"quota": 7000000})
    assert st == 200, body
    w.send_json({"@type": "WebSocketPushEnable", "dataTypes": ["Identity", "Quota"],
                 "pushState": ev["id"]})
    r = w.recv_json()
    assert r["@type"] == "StateChange" and r["changed"] == {
        acc: {"Quota": state("Quota/get")}}, r
    # Quota's is the fifth own state (ShareNotification's follows).
    assert r["pushState"].split("_")[5] == state("Quota/get"), r
    w.close()
    api.call("DELETE", "/aliases/cal.away@example.test")
    api.call("PATCH", "/accounts/" + CAL[0], {"quota": 0})


def test_push_tells_other_process_changes():
    """A `tern` command run beside the server is another process: its
    commits reach no subscriber of the server's own change feed. It
    leaves a note in the store the server reads once a second
    (store_xchg.c), so an alias added (a new Identity), a display name
    set (the Identity's name) and mail imported (Email) are pushed
    within about a second, over EventSource and WebSocket, not at the
    account's next change made through the server."""
    import tempfile
    s = srv()
    j = Jmap(s, *DEE)
    acc = j.account
    u = [CORE, MAIL, "urn:ietf:params:jmap:submission"]

    def state(get):
        _, g = j.one(get, {"ids": None}, using=u)
        return g["state"]

    state("Identity/get")  # the snapshot the events are told from
    e = EventStream(s, DEE, "types=Identity,Email&closeafter=no&ping=0")
    assert e.status == 200
    w = WebSocket(s, DEE)
    w.send_json({"@type": "WebSocketPushEnable", "dataTypes": ["Identity", "Email"]})
    w.send_json(ws_request([["Core/echo", {}, "e"]], "r0"))
    assert w.recv_json()["requestId"] == "r0"
    s.cli("alias", "add", "dee.other@example.test", DEE[0])
    ev = e.event(timeout=5)
    ident = state("Identity/get")
    assert ev["data"]["changed"] == {acc: {"Identity": ident}}, ev
    r = w.recv_json(timeout=5)
    assert r["@type"] == "StateChange" and r["changed"] == {acc: {"Identity": ident}}, r
    s.cli("account", "name", DEE[0], "Dee Other")
    ev = e.event(timeout=5)
    ident = state("Identity/get")
    assert ev["data"]["changed"] == {acc: {"Identity": ident}}, ev
    assert r["changed"][acc]["Identity"] != ident
    with tempfile.TemporaryDirectory() as d:
        mbox = os.path.join(d, "in.mbox")
        with open(mbox, "w") as f:
            f.write("From a@remote.test Thu Jan  1 00:00:00 2026\n" +
                    message(subject="imported", to=DEE[0]).replace("\r\n", "\n") + "\n")
        s.cli("import", DEE[0], mbox)
    ev = e.event(timeout=5)
    _, g = j.one("Email/get", {"ids": []})
    assert ev["data"]["changed"] == {acc: {"Email": g["state"]}}, ev
    e.close()
    w.close()
    s.cli("alias", "del", "dee.other@example.test")
    s.cli("account", "name", DEE[0], "")


PUSH_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "push")


def node(script, cfg):
    assert shutil.which("node") and shutil.which("npm"), "needs node and npm (scripts/install-test-deps)"
    npm_ci(PUSH_DIR)
    r = subprocess.run(["node", os.path.join(PUSH_DIR, script), json.dumps(cfg)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return json.loads(r.stdout)


def test_eventsource_npm_client():
    s = srv()
    deliver(s, CAL, 1, "npm")
    wait_count(s, 1, account=CAL[0])
    j = Jmap(s, *CAL)
    _, q = j.one("Email/query", {})
    out = node("eventsource.mjs", {"session": "https://127.0.0.1:%d/jmap/session" % s.https_port,
                                   "user": CAL[0], "pass": CAL[1], "emailId": q["ids"][0]})
    assert out["ping"] == {"interval": 1}, out
    ch = out["state"]["changed"][j.account]
    assert out["state"]["@type"] == "StateChange" and ch["Email"] == out["setState"], out
    assert out["lastEventId"].split("_")[0] == out["setState"], out


def test_push_shutdown():
    """An open EventSource response ends and a WebSocket gets its close
    frame 1001 (going away) when the server stops, which exits 0 (under
    ASan: nothing leaked, nothing used after free)."""
    s = Server(accounts=[ANN], http=True)
    try:
        e = EventStream(s, ANN, "types=*&closeafter=no&ping=0")
        assert e.status == 200
        w = WebSocket(s, ANN)
        assert w.status == 101
        assert s.wait_log("event=push_open kind=websocket")
        assert s.stop() == 0
        assert e.closed()
        assert w.recv() == (8, (1001).to_bytes(2, "big"))
        assert w.closed()
        e.close()
        w.close()
    finally:
        s.cleanup()


class WebSocket:
    """A raw RFC 6455 client over TLS, enough to test the server: masked
    frames (or not, when asked), fragments, control frames."""

    def __init__(self, s, who, protocol="jmap", extra="", source=None, rcvbuf=None, mss=None):
        if rcvbuf:
            # Set before connecting: the window offered is sized by it,
            # and the server's send buffer grows by the segment size
            # offered (mss: loopback's 64 KiB segments let it hold MBs).
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if mss:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
            sock.settimeout(10)
            sock.connect(("127.0.0.1", s.https_port))
        else:
            sock = socket.create_connection(("127.0.0.1", s.https_port), 10,
                                            source_address=(source, 0) if source else None)
        self.sock = _ctx().wrap_socket(sock, server_hostname="mx.example.test")
        self.buf = b""
        self.key = base64.b64encode(os.urandom(16)).decode()
        h = ("GET /jmap/ws/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: %s\r\n"
             "Sec-WebSocket-Version: 13\r\n%s" % (self.key, extra))
        if protocol:
            h += "Sec-WebSocket-Protocol: %s\r\n" % protocol
        if who:
            h += "Authorization: Basic %s\r\n" % base64.b64encode(("%s:%s" % who).encode()).decode()
        self.sock.sendall((h + "\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}

    def _more(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("closed; buffered %r" % self.buf)
        self.buf += d

    def frame(self, op, payload, fin=True, mask=True, rsv=0):
        b = bytes([(0x80 if fin else 0) | rsv << 4 | op])
        n = len(payload)
        m = 0x80 if mask else 0
        if n < 126:
            b += bytes([m | n])
        elif n < 65536:
            b += bytes([m | 126]) + n.to_bytes(2, "big")
        else:
            b += bytes([m | 127]) + n.to_bytes(8, "big")
        if mask:
            k = os.urandom(4)
            # As one big integer: megabyte messages mask in no time.
            pad = (k * (n // 4 + 1))[:n]
            b += k + (int.from_bytes(payload, "big") ^ int.from_bytes(pad, "big")).to_bytes(n, "big")
        else:
            b += payload
        return b

    def send(self, op, payload, **kw):
        self.sock.sendall(self.frame(op, payload, **kw))

    def send_json(self, obj):
        self.send(1, json.dumps(obj).encode())

    def recv(self, timeout=10):
        """(opcode, payload) of the next frame from the server."""
        self.sock.settimeout(timeout)
        while True:
            if len(self.buf) >= 2:
                assert self.buf[1] & 0x80 == 0, "a server frame must not be masked"
                n, h = self.buf[1] & 127, 2
                if n == 126 and len(self.buf) >= 4:
                    n, h = int.from_bytes(self.buf[2:4], "big"), 4
                elif n == 127 and len(self.buf) >= 10:
                    n, h = int.from_bytes(self.buf[2:10], "big"), 10
                if n < 126 or h > 2:
                    if len(self.buf) >= h + n:
                        op, p = self.buf[0] & 15, self.buf[h:h + n]
                        assert self.buf[0] & 0x80, "fragmented server frame"
                        self.buf = self.buf[h + n:]
                        return op, p
            self._more()

    def recv_json(self, timeout=10):
        op, p = self.recv(timeout)
        assert op == 1, (op, p)
        return json.loads(p)

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (socket.timeout, TimeoutError):
            return False
        except (ssl.SSLError, ConnectionResetError):
            return True

    def close(self):
        self.sock.close()


def test_push_ends_when_credentials_change():
    """An open EventSource response and WebSocket end within about a
    second of `tern account passwd` in another process, as IMAP and POP3
    sessions do (auth/session_watch.h), the WebSocket with close code
    1008; a login with the new password opens again, and an EventSource
    of that login ends when the account is deleted."""
    s = srv()
    eve = ("eve@example.test", "eve-password-1-Vq8r")
    s.cli("account", "add", eve[0], input=eve[1] + "\n")
    e = EventStream(s, eve)
    w = WebSocket(s, eve)
    assert e.status == 200 and w.status == 101
    w.send_json(ws_request([["Core/echo", {"ok": 1}, "0"]]))
    assert w.recv_json()["methodResponses"][0][1] == {"ok": 1}
    other = EventStream(s, BEN)  # another account's push goes on
    s.cli("account", "passwd", eve[0], input="eve-password-2-Vq8r\n")
    assert e.closed(timeout=5), "the EventSource response went on"
    assert w.recv(timeout=5) == (8, (1008).to_bytes(2, "big"))
    assert w.closed()
    assert s.wait_log("event=push_revoked kind=websocket account=")
    assert not other.closed(timeout=2)
    other.close()
    e.close()
    w.close()
    old = EventStream(s, eve)
    assert old.status == 401
    old.close()
    e = EventStream(s, (eve[0], "eve-password-2-Vq8r"))
    assert e.status == 200
    s.cli("account", "del", eve[0])
    assert e.closed(timeout=5), "the EventSource response outlived its account"
    assert s.wait_log("event=push_revoked kind=eventsource account=")
    assert s.wait_log("reason=account_deleted")
    e.close()


def test_push_behind_proxy_holds_client_share():
    """Behind a trusted proxy (TERN_TRUSTED_PROXIES) the proxy's own
    connections take no client's share; a push connection takes the share
    of the client the proxy names for as long as it is open, as a request
    does while it runs. With 2 per client: an EventSource and a WebSocket
    of one client stand, a third of either kind is refused (429) while
    another client's opens, and closing one gives the share back."""
    proxy = unique_ips(1)[0]
    s = Server(accounts=[ANN], http=True,
               env={"TERN_TRUSTED_PROXIES": proxy, "TERN_HTTP_MAX_CONNECTIONS_PER_IP": "2"})
    one, two = "X-Forwarded-For: 203.0.113.70\r\n", "X-Forwarded-For: 203.0.113.71\r\n"
    try:
        e = EventStream(s, ANN, extra=one, source=proxy)
        w = WebSocket(s, ANN, extra=one, source=proxy)
        assert (e.status, w.status) == (200, 101)
        over = [EventStream(s, ANN, extra=one, source=proxy),
                WebSocket(s, ANN, extra=one, source=proxy)]
        assert [c.status for c in over] == [429, 429]
        assert s.wait_log("event=refused peer=203.0.113.70 reason=per_ip_limit proxied=1")
        other = EventStream(s, ANN, extra=two, source=proxy)
        assert other.status == 200
        for c in over + [other]:
            c.close()
        e.close()
        # The close reaches the server in its own time: asked until then.
        deadline = time.time() + 10
        while True:
            again = EventStream(s, ANN, extra=one, source=proxy)
            again.close()
            if again.status == 200:
                break
            assert time.time() < deadline, "the share was not given back"
            time.sleep(0.1)
        w.close()
    finally:
        s.cleanup()


def ws_request(calls, rid=None):
    r = {"@type": "Request", "using": [CORE, MAIL], "methodCalls": calls}
    if rid:
        r["id"] = rid
    return r


def test_websocket():
    s = srv()
    j = Jmap(s, *CAL)
    acc = j.account
    sess = j.session()
    assert sess["capabilities"][WS] == {
        "url": "wss://127.0.0.1:%d/jmap/ws/" % s.https_port, "supportsPush": True}, sess

    # The handshake's refusals.
    w = WebSocket(s, CAL, protocol=None)
    assert w.status == 400 and w.closed()
    w = WebSocket(s, (CAL[0], "nope"))
    assert w.status == 401 and w.closed()
    # RFC 6455 §10.2: a browser's page on another site (its Origin) is
    # refused before any credential is looked at (a browser sends the
    # Basic credentials it keeps, and no CORS guards a WebSocket's
    # messages); tern's own origin, by the Host asked or its host name,
    # and a client that sends none (not a browser) are served.
    for origin, status in (("https://evil.example", 403), ("null", 403),
                           ("https://127.0.0.1.evil.example", 403),
                           ("https://127.0.0.1", 101), ("https://MX.example.test:8443", 101)):
        w = WebSocket(s, CAL, extra="Origin: %s\r\n" % origin)
        assert w.status == status, (origin, w.status, w.headers)
        w.sock.close()
    w = WebSocket(s, CAL, extra="X: y\r\n")
    assert w.status == 101, (w.status, w.headers)
    security_headers(w.headers)
    want = base64.b64encode(hashlib.sha1((w.key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                         .encode()).digest()).decode()
    assert w.headers["sec-websocket-accept"] == want, w.headers
    assert w.headers["sec-websocket-protocol"] == "jmap" and w.headers["upgrade"] == "websocket"

    # A Request and its Response, requestId echoed; a RequestError.
    w.send_json(ws_request([["Core/echo", {"hello": True}, "c1"]], "r1"))
    r = w.recv_json()
    assert r["@type"] == "Response" and r["requestId"] == "r1", r
    assert r["methodResponses"] == [["Core/echo", {"hello": True}, "c1"]], r
    w.send(1, b"{not json")
    r = w.recv_json()
    assert r["@type"] == "RequestError" and r["type"] == "urn:ietf:params:jmap:error:notJSON", r
    w.send_json({"@type": "Request", "id": "r2", "using": ["urn:x"], "methodCalls": []})
    r = w.recv_json()
    assert r["@type"] == "RequestError" and r["requestId"] == "r2" and r["status"] == 400 and \
        r["type"] == "urn:ietf:params:jmap:error:unknownCapability", r
    # A message in three fragments, with a ping between them.
    msg = json.dumps(ws_request([["Core/echo", {"x": "y" * 300}, "c"]], "r3")).encode()
    w.send(1, msg[:10], fin=False)
    w.send(9, b"hi")
    w.send(0, msg[10:200], fin=False)
    w.send(0, msg[200:])
    assert w.recv() == (10, b"hi")
    r = w.recv_json()
    assert r["requestId"] == "r3" and r["methodResponses"][0][1] == {"x": "y" * 300}, r

    # Push: enabled, a delivery arrives as a StateChange with pushState.
    w.send_json({"@type": "WebSocketPushEnable", "dataTypes": ["Email", "Mailbox"]})
    deliver(s, CAL, 1, "ws")
    r = w.recv_json()
    assert r["@type"] == "StateChange" and set(r["changed"][acc]) == {"Email", "Mailbox"}, r
    assert r["pushState"] == r["changed"][acc]["Email"], r
    state = r["pushState"]
    # An Email/set over the socket: its Response, and its StateChange.
    _, q = j.one("Email/query", {})
    w.send_json(ws_request([["Email/set", {"accountId": acc, "update": {
        q["ids"][0]: {"keywords/$flagged": True}}}, "s"]], "r4"))
    got = [w.recv_json(), w.recv_json()]
    types = sorted(m["@type"] for m in got)
    assert types == ["Response", "StateChange"], got
    # pushState: reconnecting with it tells what changed since at once.
    w.send_json({"@type": "WebSocketPushDisable"})
    imap = Raw(s)
    imap.send('l LOGIN "%s" "%s"\r\n' % CAL)
    assert imap.until_tag("l")[-1].startswith(b"l OK")
    cmd(imap, "s", "SELECT INBOX")
    cmd(imap, "f", "STORE 1 +FLAGS (\\Seen)")
    # Disabled: the next message is the echo's answer, not a StateChange.
    w.send_json(ws_request([["Core/echo", {}, "e"]], "r5"))
    assert w.recv_json()["requestId"] == "r5"
    w.send_json({"@type": "WebSocketPushEnable", "dataTypes": None, "pushState": state})
    r = w.recv_json()
    assert r["@type"] == "StateChange" and int(r["pushState"].split("_")[0]) > int(state), r
    # A close is echoed, then the connection ends.
    w.send(8, (1000).to_bytes(2, "big") + b"bye")
    assert w.recv() == (8, (1000).to_bytes(2, "big"))
    assert w.closed()
    imap.close()

    # Protocol errors close with their code: an unmasked frame (1002), a
    # message over maxSizeRequest, refused on its declared length (1009),
    # text that is not UTF-8 (1007), a binary message (1003), RSV set.
    for frame, code in ((dict(op=1, payload=b"{}", mask=False), 1002),
                        (dict(op=1, payload=b"{}", rsv=4), 1002),
                        (dict(op=1, payload=b"\xff\xfe"), 1007),
                        (dict(op=2, payload=b"\x00"), 1003)):
        w = WebSocket(s, CAL)
        w.send(**frame)
        assert w.recv() == (8, code.to_bytes(2, "big")), frame
        assert w.closed()
    w = WebSocket(s, CAL)
    w.sock.sendall(bytes([0x81, 0xFF]) + (6000000).to_bytes(8, "big") + b"mask")
    assert w.recv() == (8, (1009).to_bytes(2, "big"))
    assert w.closed()
    assert s.wait_log("event=ws_close account=")


def test_websocket_ping_flood_keeps_frames_whole():
    """A client that sends Pings and reads nothing filled the output with
    Pongs: past its bound a Pong's header went out without its payload,
    and every byte after read as other frames. RFC 6455 §5.5.3 lets the
    server answer only the latest Ping when an earlier Pong is unsent:
    every frame that comes is whole, each a Pong of a Ping sent, in order,
    the last Ping's among them; the socket still answers a Request, and
    the server's memory stays bounded."""
    s = srv()
    n = 20000
    payload = [("%07d" % i).encode().ljust(125, b"p") for i in range(n)]

    def pongs_until(w, stop):
        """Reads whole Pongs of the Pings sent, in order, up to the last
        Ping's; then the frame after, if stop is not None."""
        pongs, last = 0, -1
        while True:
            try:
                op, p = w.recv(WAIT)
            except (socket.timeout, TimeoutError):
                raise AssertionError("%d Pongs, the last of Ping %d, then nothing (%d bytes "
                                     "of no whole frame: %r)" % (pongs, last, len(w.buf),
                                                                 w.buf[:16]))
            if stop is not None and op == stop:
                assert last == n - 1, "the last Ping's Pong is missing (%d)" % last
                return pongs, p
            assert op == 0xA and len(p) == 125 and p[7:] == b"p" * 118 and p[:7].isdigit(), \
                "not a whole Pong after %d: op %#x %r" % (pongs, op, p[:16])
            i = int(p[:7])
            assert i > last and p == payload[i], (i, last)
            pongs, last = pongs + 1, i
            if stop is None and last == n - 1:
                return pongs, None

    # A small window: the Pongs pile up in the server, not in the kernel.
    w = WebSocket(s, CAL, rcvbuf=4096)
    try:
        assert w.status == 101, w.status
        flood = b"".join(w.frame(9, p) for p in payload)
        rss = s.rss_kib("RssAnon")
        w.sock.sendall(flood)
        pongs, _ = pongs_until(w, None)
        grown = s.rss_kib("RssAnon") - rss
        print("%d Pings unread: %d Pongs, the last Ping's among them; RssAnon +%d KiB"
              % (n, pongs, grown))
        assert grown < 32 * 1024, grown
        w.send_json(ws_request([["Core/echo", {"after": "pings"}, "c"]], "r"))
        r = w.recv_json(WAIT)
        assert r["methodResponses"] == [["Core/echo", {"after": "pings"}, "c"]], r
        # A Close behind another flood is echoed whole (RFC 6455 §5.5.1),
        # after the last Ping's Pong, and the connection ends.
        w.sock.sendall(flood + w.frame(8, (1000).to_bytes(2, "big")))
        pongs, code = pongs_until(w, 8)
        assert code == (1000).to_bytes(2, "big"), code
        assert w.closed(WAIT)
    finally:
        w.close()


def test_websocket_tagged_response_fits():
    """The "@type" and "requestId" a Response gets over WebSocket go in
    whole or not at all: a long request id comes back whole, and a
    Response that fits maxSizeResponse untagged but not tagged (7 echoes
    of one 4.8 MB string, within 10 octets of the limit) is a
    RequestError "limit" maxSizeResponse, never a head without its body."""
    s = srv()
    w = WebSocket(s, DEE)
    rid = "i" * 3000
    w.send_json(ws_request([["Core/echo", {"k": 1}, "c"]], rid))
    r = w.recv_json()
    assert r["@type"] == "Response" and r["requestId"] == rid, r["@type"]
    assert r["methodResponses"] == [["Core/echo", {"k": 1}, "c"]]

    most = 32 * 1024 * 1024
    ref = {"resultOf": "c0", "name": "Core/echo", "path": "/a"}

    def response(n, p):
        x = "x" * n
        calls = [["Core/echo", {"a": x}, "c%d" % i] for i in range(7)]
        calls.append(["Core/echo", {"b": "y" * p}, "p"])
        return len(json.dumps({"methodResponses": calls, "sessionState": "0"},
                              separators=(",", ":")))
    base = response(0, 0)
    n = (most - 10 - base) // 7
    p = most - 10 - base - 7 * n
    assert response(n, p) == most - 10
    calls = [["Core/echo", {"a": "x" * n}, "c0"]]
    calls += [["Core/echo", {"#a": ref}, "c%d" % i] for i in range(1, 7)]
    calls.append(["Core/echo", {"b": "y" * p}, "p"])
    w.send_json(ws_request(calls, "big"))
    op, body = w.recv(timeout=60)
    assert op == 1 and len(body) < 4096, len(body)
    r = json.loads(body)
    assert r["@type"] == "RequestError" and r["requestId"] == "big", r
    assert r["type"] == "urn:ietf:params:jmap:error:limit" and \
        r["limit"] == "maxSizeResponse", r
    # The connection goes on.
    w.send_json(ws_request([["Core/echo", {}, "e"]], "after"))
    assert w.recv_json()["requestId"] == "after"
    w.close()


def held_requests_fill_the_limit():
    """The sanitizer build's run of the test below, with nothing left to
    the scheduler: four HTTP requests (maxConcurrentRequests) are held
    inside the server by the test knob TERN_TEST_JMAP_HOLD_FILE (a
    Core/echo with "testHold": true runs until the file exists, as in
    test_jmap_fairness); while the log shows all four held, a fifth HTTP
    request is 400 "limit" and a Request over the socket a RequestError
    "limit" with its requestId; the session resource is still served.
    Once the file exists the four answer and the socket's Requests run
    again."""
    release = os.path.join(tempfile.mkdtemp(prefix="tern-hold-"), "release")
    s = Server(accounts=[BEN], http=True, env={"TERN_TEST_JMAP_HOLD_FILE": release})
    threads = []
    try:
        j = Jmap(s, *BEN)
        j.account  # the session, before
        w = WebSocket(s, BEN)
        got = []

        def held(i):
            body = json.dumps({"using": [CORE], "methodCalls": [
                ["Core/echo", {"testHold": True, "n": i}, "h"]]}).encode()
            c = http.client.HTTPSConnection("127.0.0.1", s.https_port, timeout=WAIT, context=_ctx())
            try:
                c.request("POST", "/jmap/api/", body=body,
                          headers=j.headers({"Content-Type": "application/json"}))
                r = c.getresponse()
                got.append((r.status, json.loads(r.read())))
            finally:
                c.close()
        threads = [threading.Thread(target=held, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        deadline = time.time() + WAIT
        while s.log_text().count("event=test_hold state=held") < 4:
            assert time.time() < deadline, "the four requests were never held together"
            time.sleep(0.05)

        calls = [["Core/echo", {"k": 1}, "e"]]
        st, _, r = j.request("POST", "/jmap/api/", json.dumps({"using": [CORE], "methodCalls": calls}),
                             {"Content-Type": "application/json"})
        assert st == 400 and r["type"] == "urn:ietf:params:jmap:error:limit" and \
            r["limit"] == "maxConcurrentRequests", (st, r)
        w.send_json(ws_request(calls, "over"))
        r = w.recv_json(timeout=WAIT)
        assert r["@type"] == "RequestError" and r["requestId"] == "over", r
        assert r["type"] == "urn:ietf:params:jmap:error:limit" and r["status"] == 400 and \
            r["limit"] == "maxConcurrentRequests", r
        st, _, _ = j.request("GET", "/jmap/session")
        assert st == 200, st
        assert not got, got  # none of the four ended meanwhile

        open(release, "w").close()
        for t in threads:
            t.join(WAIT)
        assert sorted(g[1]["methodResponses"][0][1]["n"] for g in got) == [0, 1, 2, 3], got
        assert all(g[0] == 200 for g in got), got
        w.send_json(ws_request([["Core/echo", {"k": 2}, "e"]], "after"))
        r = w.recv_json(timeout=WAIT)
        assert r["@type"] == "Response" and r["methodResponses"][0][1] == {"k": 2}, r
        w.close()
    finally:
        open(release, "a").close()  # no thread left waiting on the server
        for t in threads:
            t.join(WAIT)
        s.cleanup()
        shutil.rmtree(os.path.dirname(release), ignore_errors=True)


def test_websocket_counts_concurrent_requests():
    """maxConcurrentRequests counts an account's Requests over WebSocket
    with its HTTP ones: while held HTTP requests keep it full, a Request
    over the socket is a RequestError "limit" maxConcurrentRequests with
    its requestId, as the HTTP ones over it are 400 "limit"; once they
    end the socket's Requests run again (held_requests_fill_the_limit
    above). Only the sanitizer build can hold a request inside the
    server (TERN_TEST_JMAP_HOLD_FILE); the release build has no test
    code, and the bursts of slow requests it was once tested with left
    the overlap to the scheduler: 20 bursts of six still missed it once
    in a fresh clone's run (stop 76). So the release build skips it and
    the sanitizer build, which every `make test` runs too, checks it."""
    if not SANITIZED:
        return "skip"
    return held_requests_fill_the_limit()


def test_websocket_npm_client():
    s = srv()
    deliver(s, DEE, 1, "ws-npm")
    wait_count(s, 1, account=DEE[0])
    j = Jmap(s, *DEE)
    _, q = j.one("Email/query", {})
    eid = q["ids"][0]
    out = node("websocket.mjs", {"session": "https://127.0.0.1:%d/jmap/session" % s.https_port,
                                 "user": DEE[0], "pass": DEE[1], "emailId": eid})
    assert out["protocol"] == "jmap", out
    r = out["response"]
    assert r["requestId"] == "set1" and eid in r["methodResponses"][0][1]["updated"], r
    sc = out["stateChange"]
    assert sc["changed"][j.account]["Email"] == r["methodResponses"][0][1]["newState"], out
    assert sc["pushState"] == sc["changed"][j.account]["Email"], out
    assert out["closeCode"] == 1000, out


def test_websocket_malformed_messages():
    """A Request whose id is no String, and a WebSocketPushEnable whose
    dataTypes is neither null nor a list of type names (or whose
    pushState is no String), are not the objects RFC 8887 §4.3 defines:
    a RequestError notRequest answers each (§4.3.4). The Request ran and
    its Response came back without the requestId the client would match
    it by, and the enable took every type (no answer at all)."""
    s = srv()
    w = WebSocket(s, CAL)
    echo = [["Core/echo", {"a": 1}, "c"]]
    for bad in (5, True, ["r"], {"x": 1}):
        w.send_json(dict(ws_request(echo), id=bad))
        r = w.recv_json()
        assert r["@type"] == "RequestError" and r["type"] == \
            "urn:ietf:params:jmap:error:notRequest" and "requestId" not in r, (bad, r)
    for bad in ({"dataTypes": "Email"}, {"dataTypes": [5]}, {"dataTypes": {"Email": True}},
                {"dataTypes": None, "pushState": 7}):
        w.send_json(dict(bad, **{"@type": "WebSocketPushEnable"}))
        r = w.recv_json()
        assert r["@type"] == "RequestError" and r["type"] == \
            "urn:ietf:params:jmap:error:notRequest", (bad, r)
    # What is well formed still goes through: an id, an enable.
    w.send_json(ws_request(echo, "ok"))
    r = w.recv_json()
    assert r["@type"] == "Response" and r["requestId"] == "ok", r
    w.send_json({"@type": "WebSocketPushEnable", "dataTypes": ["Email"]})
    w.send_json(ws_request(echo, "ok2"))
    assert w.recv_json()["requestId"] == "ok2"
    w.sock.close()


def test_websocket_push_enable_refuses_unknown_type_names():
    """dataTypes names data types (RFC 8887 §4.3.5.2): one this server has
    no such type for (a misspelling, "*", a comma list, a name with a NUL
    in it) was dropped unseen, ["Email", "Emial"] enabling Email alone and
    ["Emial"] nothing, with no word to the client. As Stalwart, and as a
    PushSubscription's types: a RequestError notRequest; a good enable
    after it still works."""
    s = srv()
    w = WebSocket(s, CAL)
    for bad in (["Email", "Emial"], ["Emial"], ["*"], ["Email,Mailbox"], ["Email\u0000"],
                ["email"]):
        w.send_json({"@type": "WebSocketPushEnable", "dataTypes": bad})
        r = w.recv_json()
        assert r["@type"] == "RequestError" and r["type"] == \
            "urn:ietf:params:jmap:error:notRequest" and "dataTypes" in r["detail"], (bad, r)
    # Every name a TypeState here holds is taken: no RequestError, the
    # next message is the Response.
    w.send_json({"@type": "WebSocketPushEnable",
                 "dataTypes": ["Mailbox", "Email", "Thread", "EmailDelivery", "Identity",
                               "EmailSubmission", "SieveScript", "VacationResponse", "Quota"]})
    echo = [["Core/echo", {"a": 1}, "c"]]
    w.send_json(ws_request(echo, "after"))
    r = w.recv_json()
    assert r["@type"] == "Response" and r["requestId"] == "after", r
    w.sock.close()


def _half_messages(s, sources, n=4_900_000):
    """A socket from each source address with the first half of an n-octet
    message sent (the rest never comes), and the close codes they got:
    None for one still open."""
    head = bytes([0x81, 0xFF]) + n.to_bytes(8, "big") + b"\0\0\0\0"  # mask 0
    socks = []
    for src in sources:
        w = WebSocket(s, ANN, source=src)
        assert w.status == 101, w.status
        try:
            w.sock.sendall(head + b" " * (n // 2))
        except OSError:
            pass  # closed over the budget while it was sending
        socks.append(w)
    return socks


def _codes(socks):
    codes = []
    for w in socks:
        try:
            codes.append(w.recv(timeout=2))
        except (socket.timeout, TimeoutError, ssl.SSLWantReadError):
            codes.append(None)  # still open, its half message held
    return codes


def _wait_memory_closes(s, k):
    """Waits until the server has closed k sockets over the budget."""
    deadline = time.monotonic() + WAIT
    while s.log_text().count("reason=ws_memory") < k:
        assert time.monotonic() < deadline, s.log_text().count("reason=ws_memory")
        time.sleep(0.1)


def _whole_message_answered(s, source, n=4_900_000):
    w = WebSocket(s, ANN, source=source)
    body = json.dumps(ws_request([["Core/echo", {"a": 1}, "e"]], "big")).encode()
    w.send(1, body + b" " * (n - len(body)))
    r = w.recv_json(timeout=WAIT)
    assert r["@type"] == "Response" and r["requestId"] == "big", r
    w.sock.close()


def test_websocket_messages_under_way_share_the_memory_budget():
    """A WebSocket message under way is held in memory whole (a frame
    waits in the input, fragments in the reader) up to maxSizeRequest,
    5 MB: on 685ac539 nothing else bounded it, and one client's 40
    sockets, each with a 4.9 MB message half sent and left there, held
    221 MB of the server's memory for as long as they stayed open. Now
    the messages under way count against TERN_MESSAGE_MEMORY together
    (24 MB here; twelve clients, one socket each, so no client's own
    share is reached), and a socket whose message would pass it is
    closed with 1013 (try again later); what they held is given back,
    and a whole 4.9 MB message is answered afterwards."""
    s = Server(accounts=[ANN], http=True, env={"TERN_MESSAGE_MEMORY": "24M"})
    try:
        # Distinct per-address budget slots (spool.c's hash of each).
        socks = _half_messages(s, ["127.0.1.%d" % i for i in range(1, 13)])
        # 2.45 MB each held by those left open: 24 MB takes at most nine.
        _wait_memory_closes(s, 2)
        codes = _codes(socks)
        closed = [c for c in codes if c is not None]
        assert all(c == (8, (1013).to_bytes(2, "big")) for c in closed), closed
        assert len(closed) >= 2, codes
        assert s.wait_log("event=ws_close account=") and "reason=ws_memory" in s.log_text()
        for w in socks:
            w.sock.close()
        # What they held is given back: a whole 4.9 MB message is answered.
        _whole_message_answered(s, "127.0.1.1")
    finally:
        s.cleanup()


def test_websocket_memory_has_a_share_per_client():
    """The messages under way of one client's sockets count against its
    quarter of TERN_MESSAGE_MEMORY too, as the messages it sends over SMTP
    or IMAP do (core/spool.h): with the budget alone, about 13 sockets of
    one client holding unfinished 5 MB messages took all of the default
    64 MB, and every other client's messages went to disk meanwhile. Here
    (24 MB, 6 MB a client) four half messages of 2.45 MB from one
    address: those past its 6 MB are closed with 1013 (all four stayed
    open before), while another client's message still goes through in
    full; once the sockets are gone the first client has its share back."""
    s = Server(accounts=[ANN], http=True, env={"TERN_MESSAGE_MEMORY": "24M"})
    try:
        socks = _half_messages(s, ["127.0.0.1"] * 4)
        _wait_memory_closes(s, 2)
        codes = _codes(socks)
        closed = [c for c in codes if c is not None]
        assert len(closed) >= 2 and all(c == (8, (1013).to_bytes(2, "big")) for c in closed), codes
        # Another client (another budget slot) is not refused meanwhile.
        _whole_message_answered(s, "127.0.0.2")
        for w in socks:
            w.sock.close()
        _whole_message_answered(s, "127.0.0.1")
    finally:
        s.cleanup()


def test_eventsource_pipelined_behind_download():
    """An EventSource request pipelined behind a large download (RFC 9112
    §9.3: answers in order, none cut): sent while the download streams,
    or in the same write as its request. The download arrives whole,
    then the event stream's answer, which tells a delivery. Before, the
    first was taken over mid-download (measured: 3,931,994 of 4,194,304
    bytes, then the stream), the second went to the daemon (404)."""
    s = srv()
    j = Jmap(s, *DEE)
    data = os.urandom(4 << 20)
    _, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, data)
    cred = "Authorization: Basic %s\r\n" % base64.b64encode(("%s:%s" % DEE).encode()).decode()
    download = ("GET /jmap/download/%s/%s/big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n"
                % (j.account, up["blobId"], cred)).encode()
    events = ("GET /jmap/eventsource/?types=*&closeafter=no&ping=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              "Accept: text/event-stream\r\n%s\r\n" % cred).encode()

    def answer_head(sock, buf):
        while b"\r\n\r\n" not in buf:
            d = sock.recv(65536)
            assert d, "closed; buffered %r" % buf[:300]
            buf += d
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        return int(lines[0].split()[1]), {k.lower(): v.strip() for k, v in
                                          (l.split(":", 1) for l in lines[1:])}, rest

    for same_write in (False, True):
        raw = socket.create_connection(("127.0.0.1", s.https_port), 20)
        c = _ctx().wrap_socket(raw, server_hostname="mx.example.test")
        c.settimeout(20)
        try:
            c.sendall(download + events if same_write else download)
            st, hd, body = answer_head(c, b"")
            assert st == 200 and int(hd["content-length"]) == len(data), (st, hd)
            if not same_write:
                # Most of the download is still to come (we read none of it).
                c.sendall(events)
            while len(body) < len(data):
                d = c.recv(65536)
                assert d, "closed after %d of %d bytes" % (len(body), len(data))
                body += d
            rest = body[len(data):]
            assert body[:len(data)] == data
            st, hd, rest = answer_head(c, rest)
            assert st == 200 and hd["content-type"] == "text/event-stream", (same_write, st, hd, rest)
            deliver(s, DEE, 1, "pipelined")
            while b"\n\n" not in rest:
                d = c.recv(65536)
                assert d, "closed; buffered %r" % rest
                rest += d
            assert b"event: state" in rest, rest
        finally:
            c.close()


def test_push_channels_refuse_other_methods_with_405():
    """The EventSource and WebSocket resources exist for GET only: another
    method is 405 with Allow: GET (RFC 9110 §15.5.6), as every other JMAP
    resource answers it. The bridge takes only GET over, and any other
    method fell through to the daemon's 404 'no such JMAP endpoint'."""
    s = srv()
    auth = "Basic " + base64.b64encode(("%s:%s" % BEN).encode()).decode()
    for path in ("/jmap/eventsource/?types=*&closeafter=no&ping=0", "/jmap/eventsource",
                 "/jmap/ws/", "/jmap/ws"):
        for method in ("HEAD", "POST", "PUT", "DELETE"):
            c = http.client.HTTPSConnection("127.0.0.1", s.https_port, timeout=30, context=_ctx())
            try:
                c.request(method, path, headers={"Authorization": auth})
                r = c.getresponse()
                r.read()
                assert r.status == 405 and r.getheader("Allow") == "GET", (method, path, r.status)
            finally:
                c.close()
    # GET is still the push channel.
    e = EventStream(s, BEN, "types=*&closeafter=no&ping=0")
    assert e.status == 200, e.status
    e.sock.close()


def test_push_channel_absolute_form_target():
    """A request target in absolute-form (RFC 9112 §3.2.2, which a server
    MUST accept; every other route takes it) opens the EventSource
    channel too: the bridge looked for the path at the target's start,
    did not take the request over, and the daemon answered 404."""
    s = srv()
    sock = socket.create_connection(("127.0.0.1", s.https_port), 10)
    t = _ctx().wrap_socket(sock, server_hostname="mx.example.test")
    try:
        auth = base64.b64encode(("%s:%s" % BEN).encode()).decode()
        t.sendall(("GET https://127.0.0.1:%d/jmap/eventsource/?types=*&closeafter=no&ping=1 HTTP/1.1\r\n"
                   "Host: 127.0.0.1:%d\r\nAccept: text/event-stream\r\nAuthorization: Basic %s\r\n\r\n"
                   % (s.https_port, s.https_port, auth)).encode())
        buf = b""
        t.settimeout(10)
        while b"event: " not in buf:
            try:
                d = t.recv(65536)
            except TimeoutError:
                raise AssertionError((buf, s.log_text()[-3000:]))
            if not d:
                break
            buf += d
        assert buf.startswith(b"HTTP/1.1 200") and b"text/event-stream" in buf, buf[:300]
        assert b"event: " in buf, buf
    finally:
        t.close()


def test_websocket_answer_left_unread_waits_in_the_spool():
    """A WebSocket answer goes out in pieces as its client takes them; the
    rest was held in memory, and a socket has no deadline. Measured: 6
    sockets of one user, each asking a 16 MB answer and reading nothing,
    RssAnon +16 MiB a socket (+132 MiB), for as long as they stayed. Now
    the answer waits in a spool as an HTTP one does (a file past 2 MiB),
    and a client that reads at last gets it whole."""
    s = srv()
    big = "x" * 1000000
    calls = [["Core/echo", {"a": big}, "0"]] + [
        ["Core/echo", {"#a": {"resultOf": "0", "name": "Core/echo", "path": "/a"}}, str(k)]
        for k in range(1, 16)]
    n, socks = 3, []
    try:
        for _ in range(n):
            w = WebSocket(s, ANN)
            socks.append(w)
            assert w.status == 101, w.status
            w.send_json(ws_request(calls))
            while not w.buf:  # the answer's first bytes: it is made
                w._more()
        held = spool_maps(s)
        print("%d WebSocket answers of 16 MB left unread: %d spool files mapped" % (n, held))
        assert held >= n, held
        for w in socks:
            r = w.recv_json(60)["methodResponses"]
            assert [m[2] for m in r] == [str(k) for k in range(16)], [m[2] for m in r]
            assert all(m[1]["a"] == big for m in r), "an answer differs"
    finally:
        for w in socks:
            w.close()


def test_long_lived_connections_keep_no_credentials():
    """A connection that logs in and then only waits (an EventSource, a
    WebSocket, an IMAP IDLE) sends nothing more: whatever held its
    password stays in memory as long as it lasts unless it is wiped. Two
    copies did: BearSSL decrypts a record in place, so its input buffer
    kept the plaintext (the LOGIN line, the request with its
    Authorization) until a next record came; and a push request's head
    stayed in the connection's input buffer after it was handed on.
    Each connection here logs in with an app password of its own that
    nothing else ever sends, so finding it, or its Basic token, anywhere
    in the server's writable memory while the connection is open means
    this connection left it there."""
    s = srv()

    def secret(name):
        out = s.cli("account", "app-password", "add", DEE[0], name).stdout.decode().strip()
        return out, base64.b64encode(("%s:%s" % (DEE[0], out)).encode())

    pw, token = secret("memscan-es")
    es = EventStream(s, (DEE[0], pw))
    try:
        assert es.status == 200, es.status
        held = s.memory_holds([pw.encode(), token])
        assert not held, "an open EventSource left %r in memory" % held
    finally:
        es.close()

    pw, token = secret("memscan-ws")
    ws = WebSocket(s, (DEE[0], pw))
    try:
        assert ws.status == 101, ws.status
        held = s.memory_holds([pw.encode(), token])
        assert not held, "an open WebSocket left %r in memory" % held
    finally:
        ws.sock.close()

    pw, _ = secret("memscan-imap")
    r = idle(s, (DEE[0], pw))
    try:
        held = s.memory_holds([pw.encode()])
        assert not held, "an IMAP session in IDLE left %r in memory" % held
    finally:
        r.sock.close()


def test_websocket_push_enable_waits_for_the_drain():
    """WebSocketPushEnable with a pushState older than the account's
    (RFC 8887 §4.3.5) pushes what changed since at once; from a client
    that reads nothing, that StateChange found the output full and the
    socket was closed with 1013, where every other push waits for the
    drain. Now it waits too: the enables sent while the client does not
    read are folded into one StateChange told once the output drained,
    after the answer of the Request sent behind them, and the socket
    stays open."""
    s = srv()
    fay = ("fay@example.test", "fay-password-1-Vq8r")
    s.cli("account", "add", fay[0], input=fay[1] + "\n")
    j = Jmap(s, *fay)
    acc = j.account
    # A small window and segments: what the server writes piles up in
    # its output, not in the kernel's buffers.
    w = WebSocket(s, fay, rcvbuf=4096, mss=1024)
    sender = None
    try:
        assert w.status == 101, w.status
        w.send_json({"@type": "WebSocketPushEnable", "dataTypes": None})
        name, r = j.one("Mailbox/set", {"create": {"a": {"name": "first"}}})
        assert r.get("created"), r
        old = w.recv_json(WAIT)
        assert old["@type"] == "StateChange", old
        w.send_json({"@type": "WebSocketPushDisable"})
        # Mail since: Mailbox, Email, Thread and EmailDelivery changed.
        deliver(s, fay, 1, "since")
        # Each of these, read alone, pushes at once what changed since old
        # (140 octets); about 1,400 of them fill the kernel's buffers
        # (small segments) and the output, so the rest find it full.
        n = 5000
        enable = w.frame(1, json.dumps({"@type": "WebSocketPushEnable", "dataTypes": None,
                                        "pushState": old["pushState"]}).encode())
        last = ws_request([["Mailbox/set", {"accountId": acc, "create": {
            "c": {"name": "behind"}}}, "s"]], "behind")
        frames = enable * n + w.frame(1, json.dumps(last).encode())

        def send():
            try:
                w.sock.sendall(frames)
            except OSError:
                pass  # closed while it was sending (the log says how)
        # Sent beside: a socket closed while its output is unread takes
        # no more input, and the wait below sees the close in the log.
        sender = threading.Thread(target=send)
        sender.start()
        # The Request behind the enables ran (its mailbox is there), or
        # the socket was closed: every enable was read by then.
        closed = "event=ws_close account=%d code=1013" % int(acc[1:], 16)
        deadline = time.time() + WAIT
        while time.time() < deadline and closed not in s.log_text():
            _, r = j.one("Mailbox/query", {"filter": {"name": "behind"}})
            if r["ids"]:
                break
            time.sleep(0.1)
        assert closed not in s.log_text(), "closed with 1013 while the client did not read"
        sender.join(WAIT)  # the Request behind them ran: all was sent
        assert not sender.is_alive()
        told = size = 0
        while True:
            op, p = w.recv(WAIT)
            assert op != 8, "closed with %d after %d StateChanges" % (
                int.from_bytes(p[:2], "big"), told)
            m = json.loads(p)
            if m["@type"] == "Response":
                assert m["requestId"] == "behind", m
                break
            assert m["@type"] == "StateChange", m
            told, size = told + 1, len(p)
        print("%d enables unread: %d StateChanges of %d octets before the answer"
              % (n, told, size))
        # Some were folded: the output was full while they were read.
        assert told < n, told
        # The one folded is told at the drain, with the mailbox behind.
        got = w.recv_json(WAIT)
        assert got["@type"] == "StateChange" and "Mailbox" in got["changed"][acc], got
        _, r = j.one("Mailbox/get", {"ids": []})
        assert got["changed"][acc]["Mailbox"] == r["state"], (got, r["state"])
        w.send_json(ws_request([["Core/echo", {"still": "open"}, "e"]], "after"))
        r = w.recv_json(WAIT)
        assert r["requestId"] == "after", r
    finally:
        w.close()
        if sender:
            sender.join(WAIT)


def test_websocket_input_holds_one_frame():
    """A WebSocket's input took up to maxSizeRequest (5 MB) of whatever
    its client sent faster than the server took it, whether or not a
    frame needed the room: Pings from four sockets at once, 3.9 MB each,
    took RssAnon up 12-13 MiB at its peak (a Ping flood on one: +8.2 MiB,
    session 77), memory no budget saw, as it was given back before it was
    counted. Now the input holds the frame under way, sized by its
    declared length once read, else 64 KiB: the same floods peak at
    +0.4 MiB, every socket answers a Request after its flood, and a
    600 KB message still gets its room (with a 4 MB budget, 1 MB a
    client)."""
    s = Server(accounts=[ANN], http=True, env={"TERN_MESSAGE_MEMORY": "4M"})
    socks = []
    try:
        n = 30000  # 30000 Pings of 125 octets: 3.9 MB a socket
        for _ in range(4):
            w = WebSocket(s, ANN, rcvbuf=4096)
            assert w.status == 101, w.status
            socks.append(w)
        floods = [b"".join(w.frame(9, b"%07d" % i + b"p" * 118) for i in range(n))
                  for w in socks]
        base = s.rss_kib("RssAnon")
        peak = [base]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], s.rss_kib("RssAnon"))
                time.sleep(0.002)
        sampler = threading.Thread(target=sample)
        sampler.start()
        senders = [threading.Thread(target=w.sock.sendall, args=(f,))
                   for w, f in zip(socks, floods)]
        try:
            for t in senders:
                t.start()
            for t in senders:
                t.join(WAIT)
        finally:
            done.set()
            sampler.join()
        grown = peak[0] - base
        print("4 sockets x %d Pings unread: RssAnon peak +%d KiB" % (n, grown))
        assert grown < 4 * 1024, grown
        for k, w in enumerate(socks):
            w.send_json(ws_request([["Core/echo", {"socket": k}, "e"]], "after"))
            while True:
                op, p = w.recv(WAIT)
                assert op != 8, "socket %d closed with %d" % (k, int.from_bytes(p[:2], "big"))
                if op == 1:
                    break
                assert op == 0xA and len(p) == 125, (op, p[:16])
            r = json.loads(p)
            assert r["requestId"] == "after", r
        assert "reason=ws_memory" not in s.log_text()
        # A frame larger than that still gets the room it needs, and
        # gives it back (a whole 4.9 MB one: the budget test above).
        w = socks[0]
        body = json.dumps(ws_request([["Core/echo", {"a": 1}, "e"]], "big")).encode()
        w.send(1, body + b" " * (600_000 - len(body)))
        r = w.recv_json(timeout=WAIT)
        assert r["@type"] == "Response" and r["requestId"] == "big", r
        w.send_json(ws_request([["Core/echo", {"a": 2}, "e"]], "small"))
        assert w.recv_json(timeout=WAIT)["requestId"] == "small"
    finally:
        for w in socks:
            w.close()
        s.cleanup()


def test_websocket_push_reenabled_after_share_taken_back():
    """An owner that stops sharing with the user leaves the user's
    session; a WebSocketPushEnable sent again (here with a pushState: the
    catch-up) right after finds it no longer shared. It stopped following
    it without a word, so a client re-enabling push before the owner's
    feed told it never learned the account went; now it is told as a
    removal is (push_follow.h): a StateChange naming the owner's account,
    every type, at state "0", and a call there is accountNotFound."""
    s = srv()
    owner = ("gil@example.test", "gil-password-1-Vq8r")
    user = ("hal@example.test", "hal-password-1-Vq8r")
    for who in (owner, user):
        s.cli("account", "add", who[0], input=who[1] + "\n")
    j = Jmap(s, *user)
    acc = Jmap(s, *owner).account
    mine = int(j.account[1:], 16)
    shared = "event=push_shared kind=websocket account=%d owners=" % mine
    s.cli("acl", "set", owner[0], "INBOX", user[0], "lr")
    w = WebSocket(s, user)
    try:
        assert w.status == 101, w.status
        w.send_json({"@type": "WebSocketPushEnable", "dataTypes": None})
        deadline = time.time() + WAIT
        while time.time() < deadline and shared + "1" not in s.log_text():
            time.sleep(0.05)
        assert shared + "1" in s.log_text(), "push never followed the owner"
        _, r = j.one("Mailbox/set", {"create": {"a": {"name": "mine"}}})
        assert r.get("created"), r
        got = w.recv_json(WAIT)
        assert got["@type"] == "StateChange" and list(got["changed"]) == [j.account], got
        assert acc in j.session()["accounts"]

        s.cli("acl", "del", owner[0], "INBOX", user[0])
        w.send_json({"@type": "WebSocketPushEnable", "dataTypes": None,
                     "pushState": got["pushState"]})
        # Others may come first, in any order: the owner's account at its
        # state after the grant went (its feed read it before the start),
        # the user's ShareNotification of the grant's removal, and the
        # catch-up from pushState (which may name a type again). A fresh-
        # clone run under ASan saw four before the removal's.
        seen = []
        while True:
            got = w.recv_json(WAIT)
            assert got["@type"] == "StateChange", got
            seen.append(got)
            told = got["changed"].get(acc)
            if told and set(told.values()) == {"0"}:
                break
            assert len(seen) < 10, seen
        assert set(told) == {"Mailbox", "Email", "Thread"}, got
        assert acc not in j.session()["accounts"]
        name, err = j.one("Mailbox/get", {"accountId": acc, "ids": None})
        assert name == "error" and err["type"] == "accountNotFound", (name, err)
    finally:
        w.close()
