"""JMAP bearer tokens (issues 31 and 36): an account makes a token with a
JMAP scope in its portal (/api/v1/me/jmap-tokens: shown once, listed
without it, last use shown, revoked there) and the JMAP endpoint takes
it as `Authorization: Bearer` through the one login flow: a wrong or
malformed token leaves the auth_failed line fail2ban reads (module=jmap
mech=bearer) and counts against the same per-address failures as a
wrong Basic password. A token opens JMAP only (not IMAP, not JMAP's
Basic), a mail app password is no token, and a revoked token stops at
once. The administrator makes, lists and revokes an account's tokens too
(/api/v1/accounts/{email}/jmap-tokens). One server."""
import base64
import http.client
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

from httpc import ADMIN_PW, admin_server, tls_ctx
from logins import refused
from mailpeers import unique_ips
from test_portal import Portal

USER = "pat@example.test"
PW = "portal-pw-1"


def jmap(s, auth, source="127.0.0.1", path="/jmap/session", body=None):
    """(status, parsed JSON or bytes) of one JMAP request with this
    Authorization value."""
    c = http.client.HTTPSConnection("127.0.0.1", s.https_port, timeout=30, context=tls_ctx(),
                                    source_address=(source, 0))
    h = {"Authorization": auth}
    if body is not None:
        h["Content-Type"] = "application/json"
    try:
        c.request("POST" if body is not None else "GET", path,
                  body=json.dumps(body) if body is not None else None, headers=h)
        r = c.getresponse()
        raw = r.read()
    finally:
        c.close()
    try:
        return r.status, json.loads(raw)
    except ValueError:
        return r.status, raw


def push_status(s, auth, source="127.0.0.1"):
    """(status, whether an event came) of an EventSource request with this
    Authorization value; the stream is left after its first event (a ping
    a second after it opened, if nothing else)."""
    c = http.client.HTTPSConnection("127.0.0.1", s.https_port, timeout=30, context=tls_ctx(),
                                    source_address=(source, 0))
    try:
        c.request("GET", "/jmap/eventsource/?types=*&closeafter=no&ping=1",
                  headers={"Authorization": auth, "Accept": "text/event-stream"})
        r = c.getresponse()
        if r.status != 200:
            r.read()
            return r.status, False
        data = b""
        while b"event: " not in data:
            chunk = r.read1(4096)
            if not chunk:
                break
            data += chunk
        return r.status, b"event: " in data
    finally:
        c.close()


def basic(user, pw):
    return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()


def test_jmap_bearer_tokens():
    s, admin = admin_server(accounts=[(USER, PW)], imap=True)
    with s:
        p = Portal(s)
        assert p.login()[0] == 200
        st, body = p.call("POST", "/me/jmap-tokens", {"name": "sync script", "password": PW})
        assert st == 201 and body["name"] == "sync script", body
        token = body["token"]
        assert re.fullmatch(r"tj1\.[0-9a-f]+\.[a-z0-9]{4}(-[a-z0-9]{4}){3}", token), token
        st, body = p.call("GET", "/me/jmap-tokens")
        assert [(t["name"], t["last_used"]) for t in body["tokens"]] == [("sync script", 0)], body
        assert "token" not in body["tokens"][0]
        # Apart from the app passwords, in the portal; the admin sees both kinds.
        assert p.call("GET", "/me/app-passwords")[1]["app_passwords"] == []
        st, _, body = admin.call("GET", "/accounts/%s/app-passwords" % USER)
        assert [(a["name"], a["scope"]) for a in body["app_passwords"]] == [("sync script", "jmap")]
        assert p.call("POST", "/me/jmap-tokens", {"name": "sync script", "password": PW})[0] == 409
        listing = s.cli("account", "app-password", "list", USER).stdout.decode()
        assert "scope=jmap" in [l for l in listing.splitlines() if l.startswith("sync script")][0]

        # The token opens JMAP: the session names the account, a method runs.
        st, sess = jmap(s, "Bearer " + token)
        assert st == 200 and sess["username"] == USER, (st, sess)
        acct = list(sess["accounts"])[0]
        st, out = jmap(s, "Bearer " + token, path="/jmap/api/", body={
            "using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
            "methodCalls": [["Mailbox/get", {"accountId": acct, "ids": None}, "c1"]]})
        assert st == 200 and out["methodResponses"][0][0] == "Mailbox/get", out
        # Push takes the same token: an EventSource opens with it and its
        # first event arrives; a forged token is refused.
        assert push_status(s, "Bearer " + token) == (200, True)
        forged_es = token[:-1] + ("a" if token[-1] != "a" else "b")
        assert push_status(s, "Bearer " + forged_es)[0] == 401
        # And the session's uploadUrl and downloadUrl: a blob goes up and
        # comes back with it (the download took Basic alone: 401).
        st, up = jmap(s, "Bearer " + token, path="/jmap/upload/%s/" % acct, body={"x": 1})
        assert st == 201, (st, up)
        st, got = jmap(s, "Bearer " + token, path="/jmap/download/%s/%s/x.json" % (acct, up["blobId"]))
        assert st == 200 and got == {"x": 1}, (st, got)
        st, body = p.call("GET", "/me/jmap-tokens")
        assert body["tokens"][0]["last_used"] > 0, body

        # It opens nothing else: not IMAP, not JMAP's Basic; a mail app
        # password is no token, even in a token's form; a malformed one.
        # (Refusals wait out the reply delay: these run at once, each
        # address failing once here.)
        secret = token.split(".", 2)[2]
        st, ap = p.call("POST", "/me/app-passwords", {"name": "phone", "password": PW})
        assert st == 201, ap
        forged = token.rsplit(".", 1)[0] + "." + ap["password"]
        ip, ip2, ip3 = unique_ips(3)
        with ThreadPoolExecutor(4) as ex:
            got = [ex.submit(refused, s, USER, secret, "imap"),
                   ex.submit(jmap, s, basic(USER, secret), ip),
                   ex.submit(jmap, s, "Bearer " + forged, ip2),
                   ex.submit(jmap, s, "Bearer not-a-token", ip3)]
            got = [g.result() for g in got]
        assert got[0] == [] and [g[0] for g in got[1:]] == [401, 401, 401], got
        assert re.search(r'mech=bearer reason=malformed failures=1 .*ip=%s\n' % re.escape(ip3),
                         s.log_text())
        # The one login flow: a Basic and a bearer failure of one address
        # are counted together, with the line fail2ban reads.
        bad = token[:-1] + ("a" if token[-1] != "a" else "b")
        assert jmap(s, "Bearer " + bad, source=ip)[0] == 401
        assert s.wait_log('module=jmap event=auth_failed mech=bearer reason=password failures=2 '), \
            [l for l in s.log_text().splitlines() if "auth_failed" in l]
        assert re.search(r'mech=bearer reason=password failures=2 delay_ms=\d+ '
                         r'user="pat@example.test" ip=%s\n' % re.escape(ip), s.log_text())
        # A token naming an account that does not exist costs a check all
        # the same (its time must not tell which ids exist): a password
        # failure of a name no account has, not a malformed one.
        nobody = "tj1.fffff." + token.split(".", 2)[2]
        ip4 = unique_ips(1)[0]
        assert jmap(s, "Bearer " + nobody, source=ip4)[0] == 401
        assert s.wait_log(re.compile(r'mech=bearer reason=password failures=1 delay_ms=\d+ '
                                     r'user="tj1.fffff" ip=%s\n' % re.escape(ip4))), \
            [l for l in s.log_text().splitlines() if "auth_failed" in l]
        # The same on the push channel (EventSource).
        ip5 = unique_ips(1)[0]
        assert push_status(s, "Bearer " + nobody, ip5)[0] == 401
        assert s.wait_log(re.compile(r'mech=bearer reason=password failures=1 delay_ms=\d+ '
                                     r'user="tj1.fffff" ip=%s\n' % re.escape(ip5))), \
            [l for l in s.log_text().splitlines() if "auth_failed" in l]
        # Without credentials: asked for, nothing counted.
        c = http.client.HTTPSConnection("127.0.0.1", s.https_port, timeout=30, context=tls_ctx())
        c.request("GET", "/jmap/session")
        assert c.getresponse().status == 401
        c.close()

        # Revoked in the portal: refused at once (the login cache checks).
        assert p.call("DELETE", "/me/jmap-tokens/phone")[0] == 404  # a mail one: not here
        assert p.call("DELETE", "/me/jmap-tokens/sync%20script")[0] == 204
        assert p.call("GET", "/me/jmap-tokens")[1]["tokens"] == []
        assert jmap(s, "Bearer " + token)[0] == 401

        # The administrator makes one for the account (shown once), lists
        # it (JMAP tokens only), the account sees it in its portal, JMAP
        # takes it, and the administrator revokes it.
        st, _, made = admin.call("POST", "/accounts/%s/jmap-tokens" % USER,
                                 {"name": "backup job", "password": ADMIN_PW})
        assert st == 201 and made["name"] == "backup job", made
        atok = made["token"]
        assert re.fullmatch(r"tj1\.[0-9a-f]+\.[a-z0-9]{4}(-[a-z0-9]{4}){3}", atok), atok
        assert s.wait_log(re.compile(r"event=jmap_token_created account_id=\d+ by=admin ")), \
            s.log_text()[-2000:]
        st, _, body = admin.call("GET", "/accounts/%s/jmap-tokens" % USER)
        assert [t["name"] for t in body["tokens"]] == ["backup job"], body
        assert "token" not in body["tokens"][0] and "scope" not in body["tokens"][0], body
        assert [t["name"] for t in p.call("GET", "/me/jmap-tokens")[1]["tokens"]] == ["backup job"]
        st, sess = jmap(s, "Bearer " + atok)
        assert st == 200 and sess["username"] == USER, (st, sess)
        assert admin.call("POST", "/accounts/%s/jmap-tokens" % USER,
                          {"name": "backup job", "password": ADMIN_PW})[0] == 409
        assert admin.call("POST", "/accounts/nobody@example.test/jmap-tokens", {"name": "x"})[0] == 404
        assert admin.call("DELETE", "/accounts/%s/jmap-tokens/phone" % USER)[0] == 404  # mail
        assert admin.call("DELETE", "/accounts/%s/jmap-tokens/backup%%20job" % USER)[0] == 204
        assert admin.call("GET", "/accounts/%s/jmap-tokens" % USER)[2]["tokens"] == []
        assert jmap(s, "Bearer " + atok)[0] == 401


def test_refused_logins_do_not_hold_the_jmap_threads():
    """An address over its failure budget is refused without a check. On
    JMAP each refusal slept out the longest reply delay (5 s) on one of
    the 16 HTTP job threads, so one address sending 16 requests at a time
    held them all and every other JMAP client got 503. Refusals are
    answered (429) at once now; a user elsewhere gets in meanwhile."""
    from harness import Server
    s = Server(http=True, accounts=[(USER, PW)])
    with s:
        ip, other = unique_ips(2)
        bad = basic(USER, "not-the-password")
        # Ten failures at once, malformed ones (no name: nothing to space
        # out, no hash to compute).
        malformed = "Basic " + base64.b64encode(b"no-colon").decode()
        with ThreadPoolExecutor(10) as ex:
            assert [st for st, _ in ex.map(lambda _: jmap(s, malformed, ip), range(10))] == [401] * 10

        def refusals():
            return len(re.findall(r"event=auth_refused reason=too_many_failures .*ip=%s\n"
                                  % re.escape(ip), s.log_text()))
        with ThreadPoolExecutor(16) as ex:
            held = [ex.submit(jmap, s, bad, ip) for _ in range(16)]
            deadline = time.time() + 20
            while refusals() < 16 and time.time() < deadline:
                time.sleep(0.05)
            assert refusals() == 16, refusals()
            st, sess = jmap(s, basic(USER, PW), other)
            assert st == 200 and sess["username"] == USER, (st, sess)
            assert [h.result()[0] for h in held] == [429] * 16


def test_refused_logins_say_when_to_come_back():
    """A JMAP request refused because its address is over the failure
    budget says when to come back (Retry-After, RFC 9110 §10.2.3), as the
    REST API's sign-ins do: the session resource, the API (whose
    credentials are checked before its body is read), a download and
    the EventSource channel answered 429 without it."""
    from harness import Server
    s = Server(http=True, accounts=[(USER, PW)])
    with s:
        ip, = unique_ips(1)
        malformed = "Basic " + base64.b64encode(b"no-colon").decode()
        with ThreadPoolExecutor(10) as ex:
            assert list(ex.map(lambda _: jmap(s, malformed, ip)[0], range(10))) == [401] * 10
        right = basic(USER, PW)
        for method, path, body, accept in (
                ("GET", "/jmap/session", None, "application/json"),
                ("POST", "/jmap/api/", b'{"using":[],"methodCalls":[]}', "application/json"),
                ("GET", "/jmap/download/x/y/z?accept=text/plain", None, "*/*"),
                ("GET", "/jmap/eventsource/?types=*&closeafter=no&ping=1", None, "text/event-stream")):
            c = http.client.HTTPSConnection("127.0.0.1", s.https_port, timeout=30, context=tls_ctx(),
                                            source_address=(ip, 0))
            try:
                h = {"Authorization": right, "Accept": accept}
                if body:
                    h["Content-Type"] = "application/json"
                c.request(method, path, body=body, headers=h)
                r = c.getresponse()
                r.read()
                assert r.status == 429, (path, r.status)
                assert r.getheader("Retry-After") == "900", (path, r.getheaders())
            finally:
                c.close()


def test_busy_address_is_not_told_it_failed():
    """A webmail (or a household behind one NAT) opens JMAP sessions for
    sixteen accounts at once, all with the right password, from one
    address. The HTTP side does not wait for the address's checks under
    way: past ten in flight it answers 429, and that answer says the
    logins are under way, not that attempts failed (it said "too many
    failed attempts" when nothing had failed). A refusal for failures
    keeps its words."""
    from harness import Server
    members = [("web%d@example.test" % i, "web-pw-%d" % i) for i in range(16)]
    solo = ("solo@example.test", "solo-pw-1")  # never logged in: not in the login cache
    s = Server(http=True, accounts=members + [solo])
    with s:
        ip, bad_ip = unique_ips(2)
        with ThreadPoolExecutor(16) as ex:
            out = list(ex.map(lambda m: jmap(s, basic(*m), ip), members))
        assert all(st in (200, 429) for st, _ in out), out
        refusals = [body["detail"] for st, body in out if st == 429]
        print("busy refusals: %d of %d" % (len(refusals), len(out)))
        assert set(refusals) <= {"too many logins under way, try again later"}, refusals
        log = s.log_text()
        assert not re.search(r"event=auth_failed .*ip=%s\n" % re.escape(ip), log)
        assert len(re.findall(r"event=auth_refused reason=address_busy .*ip=%s\n"
                              % re.escape(ip), log)) == len(refusals)

        malformed = "Basic " + base64.b64encode(b"no-colon").decode()
        with ThreadPoolExecutor(10) as ex:
            assert list(ex.map(lambda _: jmap(s, malformed, bad_ip)[0], range(10))) == [401] * 10
        st, body = jmap(s, basic(*solo), bad_ip)
        assert st == 429 and body["detail"] == "too many failed attempts, try again later", body
