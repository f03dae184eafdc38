"""The admin REST API's reading of what a client sends (API.md,
Conventions): integers however JSON spells them, numbers in the query
and the path in one strict form, an account's credentials on an admin
route (403, not 401), an alias whose local target reaches nobody, and
who is told first, a client without credentials or one whose body is
over the limit."""
import json

from httpc import ACCOUNT_COOKIE, Api, admin_server
from test_http import openapi_ops, concrete
from test_http_body_limits import ask

BOB = ("bob@example.test", "bob-password-1")
BODY_MAX = 64 * 1024


def test_integer_fields_take_any_exact_spelling():
    """RFC 8259 §6: JSON has numbers, and 1e5 and 100000.0 are the
    integer 100000. Every integer field (the shared reader's JK_INT) took
    only plain digits: 400 invalid_field for both."""
    s, a = admin_server()
    with s:
        st, _, acct = a.call("POST", "/accounts", '{"email":"carol@example.test",'
                             '"password":"carol-pw-123","current":"%s","quota":1e5}' % a.password)
        assert st == 201 and acct["quota"] == 100000, (st, acct)
        for text, want in (("100000.0", 100000), ("2.5e3", 2500), ("0.0", 0)):
            st, _, acct = a.call("PATCH", "/accounts/carol@example.test", '{"quota":%s}' % text)
            assert st == 200 and acct["quota"] == want, (text, st, acct)
        # Not an integer, or not one within range: refused, naming the field.
        for text in ("1.5", "1e-1", "-1", "1e19", "100000.0000000000000001"):
            st, _, p = a.call("PATCH", "/accounts/carol@example.test", '{"quota":%s}' % text)
            assert st == 400 and p["code"] == "invalid_field" and p["field"] == "quota", (text, p)
        st, _, acct = a.call("GET", "/accounts/carol@example.test")
        assert acct["quota"] == 0, acct
        # Another integer field, the same rule: a token's expiry.
        st, _, t = a.call("POST", "/tokens", '{"name":"later","password":"%s","expires":4.1e9}'
                          % a.password)
        assert st == 201, (st, t)
        st, _, lst = a.call("GET", "/tokens")
        assert [x["expires"] for x in lst["tokens"] if x["name"] == "later"] == [4100000000], lst


def test_query_and_path_numbers_strict():
    """days= was read with strtol: " 5", "+5" and "05" were 5. Every
    number the API reads from the query (days, limit, before, after) is
    plain digits within its range, else 400 naming the parameter; a job
    id in the path is the same or 404."""
    s, a = admin_server(accounts=[BOB])
    with s:
        # A job to name: a migration from a port nobody listens on.
        st, _, job = a.call("POST", "/accounts/%s/migrate" % BOB[0],
                            {"from": "imap://bob@127.0.0.1:1", "password": "x"})
        assert st == 202, (st, job)
        jid = str(job["id"])
        assert a.call("GET", "/jobs/" + jid)[0] == 200
        for v in ("%20" + jid, "+" + jid, "0" + jid, jid + "x"):
            st, _, p = a.call("GET", "/jobs/" + v)
            assert st == 404, (v, st, p)
        bad = ("%205", "5%20", "5x", "+5", "-5", "05", "0x5", "", "99999999999999999999999")
        for path, name, good in (("/domains/example.test/dmarc-reports", "days", "5"),
                                 ("/domains/example.test/tlsrpt-reports", "days", "366"),
                                 ("/logs", "limit", "5"), ("/logs", "before", "0"),
                                 ("/accounts", "limit", "5"), ("/queue", "limit", "5"),
                                 ("/queue", "after", "10")):
            st, _, body = a.call("GET", "%s?%s=%s" % (path, name, good))
            assert st == 200, (path, name, st, body)
            for v in bad:
                st, _, p = a.call("GET", "%s?%s=%s" % (path, name, v))
                assert st == 400 and p["code"] == "invalid_field" and p["field"] == name, \
                    (path, name, v, st, p)
        for v in ("0", "367"):
            st, _, p = a.call("GET", "/domains/example.test/dmarc-reports?days=" + v)
            assert st == 400 and p["field"] == "days", (v, p)


def test_account_credentials_on_admin_routes_are_403():
    """An account signed in to its portal, or sending its JMAP bearer
    token (tj1., checked by the login flow first), is known but not the
    admin: 403 (RFC 9110 §15.5.4) with the Problem body on every admin
    route, not the 401 of a client nobody knows. A token that does not
    sign in is 401, and counted like a failed JMAP login."""
    s, a = admin_server(accounts=[BOB])
    with s:
        bob = Api(s, cookie_name=ACCOUNT_COOKIE)
        st, _, _ = bob.call("POST", "/me/session", {"email": BOB[0], "password": BOB[1]})
        assert st == 200 and bob.cookie, st
        st, _, t = bob.call("POST", "/me/jmap-tokens", {"name": "sync", "password": BOB[1]})
        assert st == 201 and t["token"].startswith("tj1."), (st, t)
        tok = Api(s)
        tok.token = t["token"]
        n = 0
        for path, method, op, doc in openapi_ops(a):
            sec = op.get("security", doc["security"])
            if sec == [] or sec == [{"account": [], "csrf": []}]:
                continue
            body = {} if method in ("POST", "PUT", "PATCH", "DELETE") else None
            for who in (bob, tok):
                st, hd, p = who.call(method, concrete(path), body)
                assert st == 403 and p["code"] == "forbidden", (who.token, method, path, st, p)
                assert hd["content-type"] == "application/problem+json", (method, path, hd)
            n += 1
        assert n >= 40, n
        wrong = Api(s)
        wrong.token = t["token"][:-1] + ("a" if t["token"][-1] != "a" else "b")
        st, _, p = wrong.call("GET", "/stats")
        assert st == 401 and p["code"] == "unauthorized", (st, p)
        assert s.wait_log("event=auth_failed mech=bearer reason=password")
        # Its own routes still take it; a client with nothing is still 401.
        assert bob.call("GET", "/me")[0] == 200
        assert Api(s).call("GET", "/stats")[0] == 401
        # Signed out, the cookie names nobody: 401 again.
        assert bob.call("DELETE", "/me/session")[0] == 204
        bob.cookie = "0" * 64
        assert bob.call("GET", "/stats")[0] == 401


def test_alias_local_target_must_exist():
    """An alias to an address of ours that is no account and no alias was
    stored, and mail to it then bounced (delivery resolves a target by
    its exact name: no "+tag" stripped, no catch-all): 400 naming
    "target", and nothing stored."""
    s, a = admin_server(accounts=[BOB])
    with s:
        def add(alias, target, **kw):
            return a.call("POST", "/aliases", dict(alias=alias, target=target, **kw))

        st, _, p = add("info@example.test", "nobody@example.test")
        assert st == 400 and p["code"] == "invalid_field" and p["field"] == "target", (st, p)
        assert "nobody@example.test" in p["detail"], p
        assert a.call("GET", "/aliases")[2]["aliases"] == []
        # An account, another alias, or an address elsewhere: taken.
        assert add("info@example.test", "Bob@Example.test")[0] == 201
        assert add("sales@example.test", "info@example.test")[0] == 201
        assert add("out@example.test", "someone@remote.test", password=a.password)[0] == 201
        # Not a +tag of an account, not an alias to itself, not an address
        # only a catch-all takes: none reaches anyone as a target.
        assert add("@example.test", BOB[0])[0] == 201
        for alias, target in (("news@example.test", "bob+news@example.test"),
                              ("loop@example.test", "loop@example.test"),
                              ("help@example.test", "nobody@example.test")):
            st, _, p = add(alias, target)
            assert st == 400 and p["field"] == "target", (alias, target, st, p)
        # The order of the other answers stays: a pair there already is 409.
        st, _, p = add("info@example.test", BOB[0])
        assert st == 409, (st, p)
        # The CLI is not changed: it still stores what the operator says.
        s.cli("alias", "add", "later@example.test", "notyet@example.test")
        st, _, lst = a.call("GET", "/aliases")
        assert sorted(x["alias"] for x in lst["aliases"]) == [
            "@example.test", "info@example.test", "later@example.test", "out@example.test",
            "sales@example.test"], lst


def head(path, length, extra="", method="POST"):
    return ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%s"
            "Content-Length: %d\r\n\r\n" % (method, path, extra, length)).encode()


def test_credentials_before_body_limit():
    """A body over HTTP_BODY_MAX on an admin route was 413 whoever sent
    it: a client without credentials learned the limit before that it
    needs credentials. The header's credentials are checked first (401),
    and the body is still read and dropped or the connection closed, as
    before; with credentials it is 413."""
    s, a = admin_server()
    with s:
        tok = s.cli("token", "add", "big").stdout.decode().strip()
        over = b"x" * (BODY_MAX + 1)
        for length, data in ((len(over), over), (50 * 1000 * 1000, b"")):
            st, body = ask(s, head("/api/v1/accounts", length) + data)
            assert st == 401 and json.loads(body)["code"] == "unauthorized", (length, st, body)
            st, body = ask(s, head("/api/v1/me/forwarding", length, method="PUT") + data)
            assert st == 401, (length, st, body)
            st, body = ask(s, head("/api/v1/accounts", length,
                                   "Authorization: Bearer %s\r\n" % tok) + data)
            assert st == 413 and json.loads(body)["code"] == "too_large", (length, st, body)
        # A wrong token is a failed login as it is with a small body.
        st, body = ask(s, head("/api/v1/accounts", len(over),
                               "Authorization: Bearer tern_00000000_%s\r\n" % ("0" * 64)) + over)
        assert st == 401, (st, body)
        s.wait_log("event=auth_failed what=token")
        # A path that takes no credentials: the limit, as before.
        st, body = ask(s, head("/api/v1/session", len(over)) + over)
        assert st == 413, (st, body)
        # The server still answers on a new connection.
        assert a.call("GET", "/stats")[0] == 200


def test_routes_taking_an_empty_object_refuse_unknown_fields():
    """API.md, Conventions: unknown fields are 400 unknown_field. Three
    routes documented with {} or no body (POST /setup/complete, POST
    /admin/totp, POST /me/totp) never looked at their body: {"bogus":1}
    finished the wizard or started an enrolment, 200, and a client that
    sent {"password": ...} thinking it was checked was not told it was
    ignored. Refused now, nothing done; {} and no body still work."""
    s, a = admin_server(accounts=[BOB])
    with s:
        bob = Api(s, cookie_name=ACCOUNT_COOKIE)
        assert bob.call("POST", "/me/session", {"email": BOB[0], "password": BOB[1]})[0] == 200
        for who, path in ((a, "/setup/complete"), (a, "/admin/totp"), (bob, "/me/totp")):
            for body in ({"bogus": 1}, {"password": a.password if who is a else BOB[1]}):
                st, _, p = who.call("POST", path, body)
                field = next(iter(body))
                assert st == 400 and p["code"] == "unknown_field" and p["field"] == field, \
                    (path, body, st, p)
        # Nothing was done: the wizard is still open.
        st, _, state = a.call("GET", "/setup")
        assert st == 200 and state["completed"] is False, state
        for who, path in ((a, "/admin/totp"), (bob, "/me/totp")):
            st, _, p = who.call("POST", path, {})
            assert st == 200 and p["secret"], (path, st, p)
        st, _, state = a.call("POST", "/setup/complete")
        assert st == 200 and state["completed"] is True, state


def test_token_delete_refuses_unknown_fields():
    """API.md, Conventions: unknown fields are 400 unknown_field. DELETE
    /tokens/{id} never looked at its body past the password R_REAUTH
    checked: {"password", "bogus"} revoked the token, 204. Refused now
    and the token still works; the password alone, or no body from a
    bearer token, still revokes."""
    s, a = admin_server()
    with s:
        toks = []
        for name in ("one", "two"):
            st, _, t = a.call("POST", "/tokens", {"name": name, "password": a.password})
            assert st == 201, (st, t)
            toks.append(t)
        st, _, p = a.call("DELETE", "/tokens/" + toks[0]["id"],
                          {"password": a.password, "bogus": 1})
        assert st == 400 and p["code"] == "unknown_field" and p["field"] == "bogus", (st, p)
        b = Api(s)
        b.token = toks[0]["token"]
        assert b.call("GET", "/stats")[0] == 200
        st, _, p = b.call("DELETE", "/tokens/" + toks[1]["id"], {"bogus": 1})
        assert st == 400 and p["code"] == "unknown_field", (st, p)
        assert a.call("DELETE", "/tokens/" + toks[0]["id"])[0] == 204
        assert b.call("GET", "/stats")[0] == 401
        c = Api(s)
        c.token = toks[1]["token"]
        assert c.call("DELETE", "/tokens/" + toks[1]["id"])[0] == 204
        assert c.call("GET", "/stats")[0] == 401
