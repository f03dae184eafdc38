"""The REST API against its own OpenAPI document (/api/v1/openapi.json), as a
public validator would hold them: every documented operation is called
(a sensible request each, on a fresh server: the admin's session, an API
token, an account's portal session), and each answer's status must be one
the operation documents, its Content-Type the documented media type, and
its body valid against the documented schema (python3-jsonschema; the
document's object schemas are read strictly: a field the document does
not name is drift). Anonymous calls, a wrong Content-Type and a body over
the limit must answer a documented status as well, in the one problem
shape."""
import base64
import json

import jsonschema

from httpc import ACCOUNT_COOKIE, ADMIN_PW, Api, admin_server

BOB, BOB_PW = "bob@example.test", "bob-password-1-Zq"


def strict(node):
    """The document's schema as JSON Schema (draft 4, which OpenAPI 3.0's
    schema object extends): nullable becomes a null alternative, and an
    object schema that lists its properties admits no others."""
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items()
           if k not in ("nullable", "format", "example", "description")}
    if node.get("properties") is not None and "additionalProperties" not in node:
        out["additionalProperties"] = False
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


class Contract:
    def __init__(self, doc):
        self.doc = doc
        self.components = strict(doc["components"])
        self.called = set()
        self.errors = []

    def match(self, method, path):
        """The documented (template, operation) a concrete path is."""
        p = path.split("?")[0].split("/")
        for tmpl, item in self.doc["paths"].items():
            t = tmpl.split("/")
            if len(t) == len(p) and all(a == b or a.startswith("{") for a, b in zip(t, p)):
                if method.lower() in item:
                    return tmpl, item[method.lower()]
        raise AssertionError("undocumented operation %s %s" % (method, path))

    def check(self, client, method, path, body=None, expect=None, **kw):
        st, hd, out = client.call(method, path, body, **kw)
        tmpl, op = self.match(method, path)
        self.called.add((method, tmpl))
        what = "%s %s -> %d %.300r" % (method, path, st, out)
        if expect is not None and st != expect:
            self.errors.append("expected %d: %s" % (expect, what))
        self.conforms(op, st, hd, out, what)
        return st, hd, out

    def conforms(self, op, st, hd, out, what):
        resp = op["responses"].get(str(st))
        if resp is None:
            self.errors.append("status not documented: " + what)
            return
        content = resp.get("content")
        if not content:
            if out not in (b"", None) or st == 204 and hd.get("content-length", "0") != "0":
                self.errors.append("body where none is documented: " + what)
            return
        ctype = hd.get("content-type", "").split(";")[0].strip()
        if ctype not in content:
            self.errors.append("Content-Type %s, documented %s: %s" % (ctype, list(content), what))
            return
        schema = content[ctype].get("schema")
        if schema is None or isinstance(out, bytes):
            return
        root = dict(strict(schema), components=self.components)
        for e in jsonschema.Draft4Validator(root).iter_errors(out):
            self.errors.append("%s at %s: %s" % (what, "/".join(map(str, e.absolute_path)), e.message))


def portal_login(s, email, password):
    p = Api(s, source="127.0.0.7", cookie_name=ACCOUNT_COOKIE)
    st, _, out = p.call("POST", "/me/session", {"email": email, "password": password})
    assert st == 200, out
    p.password = password
    return p


def test_every_operation_answers_as_documented():
    # IMAP and submission on: the Apple profiles need them (else 409).
    s, a0 = admin_server(accounts=[(BOB, BOB_PW)], imap=True, submission=True)
    with s:
        st, _, doc = a0.call("GET", "/openapi.json", auth=False)
        assert st == 200, doc
        c = Contract(doc)
        a = a0
        anon = Api(s)
        k = c.check

        # The wizard, once the admin exists (the harness's TERN_HOSTNAME locks the name).
        k(a, "GET", "/setup", expect=200)
        k(anon, "GET", "/setup", expect=200)
        k(a, "POST", "/setup/code", {"code": "AAAA-BBBB-CCCC"})
        k(a, "POST", "/setup/admin", {"password": "another-admin-pw-1"}, expect=409)
        k(a, "PUT", "/setup/hostname", {"hostname": "mail.example.test"}, expect=409)
        k(a, "PUT", "/setup/domain", {"domain": "example.test"}, expect=200)
        k(a, "POST", "/setup/account", {"email": "carol@example.test", "password": "carol-password-1-Zq",
                                         "current": ADMIN_PW}, expect=201)
        k(a, "PUT", "/setup/certificate", {"acme_email": ""}, expect=200)
        k(a, "PUT", "/setup/relay", {"host": ""}, expect=200)
        k(a, "GET", "/setup/dns", expect=200)
        k(a, "POST", "/password/strength", {"password": "correct horse battery"}, expect=200)
        k(anon, "POST", "/session", {"password": "wrong-password"}, expect=401)
        k(a, "GET", "/session", expect=200)
        k(a, "GET", "/stats", expect=200)
        k(a, "GET", "/sessions", expect=200)
        k(a, "DELETE", "/sessions/" + "0" * 32, expect=404)
        k(a, "DELETE", "/sessions", expect=204)

        # A bearer token, for the scripts' side of the API.
        st, _, tok = k(a, "POST", "/tokens", {"name": "script", "scope": "admin", "password": ADMIN_PW},
                       expect=201)
        t = Api(s)
        t.token = tok["token"]
        k(t, "GET", "/session", expect=200)
        k(a, "GET", "/tokens", expect=200)
        k(a, "GET", "/tokens?limit=1", expect=200)
        st, _, tok2 = k(t, "POST", "/tokens", {"name": "gone", "scope": "read"}, expect=201)
        k(a, "DELETE", "/tokens/" + tok2["id"], expect=204)
        k(a, "DELETE", "/tokens/" + tok2["id"], expect=404)

        # Domains.
        k(a, "GET", "/domains", expect=200)
        k(a, "GET", "/domains?limit=1001", expect=400)
        k(a, "POST", "/domains", {"name": "other.test"}, expect=201)
        k(a, "POST", "/domains", {"name": "other.test"}, expect=409)
        k(a, "GET", "/domains/other.test", expect=200)
        k(a, "GET", "/domains/nowhere.test", expect=404)
        k(a, "GET", "/domains/other.test/dns", expect=200)
        k(a, "GET", "/domains/other.test/dns/check", expect=200)
        k(a, "GET", "/domains/other.test/dkim", expect=200)
        seed = base64.b64encode(bytes(range(32))).decode()  # an Ed25519 seed, rspamd's form
        k(a, "POST", "/domains/other.test/dkim/import", {"selector": "mail", "key": seed},
          expect=200)
        st, _, bad = k(a, "POST", "/domains/other.test/dkim/import",
                       {"selector": "mail", "key": "garbage"}, expect=400)
        assert (bad["code"], bad["field"]) == ("invalid_field", "key"), bad
        k(a, "GET", "/domains/other.test/dmarc-reports", expect=200)
        st, _, bad = k(a, "GET", "/domains/other.test/dmarc-reports?days=0", expect=400)
        assert (bad["code"], bad["field"]) == ("invalid_field", "days"), bad
        k(a, "GET", "/domains/other.test/tlsrpt-reports", expect=200)
        st, _, bad = k(a, "GET", "/domains/other.test/tlsrpt-reports?days=400", expect=400)
        assert (bad["code"], bad["field"]) == ("invalid_field", "days"), bad

        # Accounts and what hangs off them.
        k(a, "GET", "/accounts", expect=200)
        k(a, "GET", "/accounts?q=bob&limit=1", expect=200)
        k(a, "POST", "/accounts", {"email": "dave@example.test", "password": "dave-password-1-Zq",
                                   "current": ADMIN_PW}, expect=201)
        k(a, "POST", "/accounts", {"email": "eve@nowhere.test", "password": "eve-password-1-Zq",
                                   "current": ADMIN_PW}, expect=404)
        k(a, "GET", "/accounts/dave@example.test", expect=200)
        k(a, "GET", "/accounts/nobody@example.test", expect=404)
        k(a, "PATCH", "/accounts/dave@example.test", {"display_name": "Dave", "quota": 1000000}, expect=200)
        k(a, "PATCH", "/accounts/dave@example.test", {"state": "asleep"}, expect=400)
        k(a, "POST", "/accounts/dave@example.test/password", {"password": "dave-password-2-Zq",
                                                               "current": ADMIN_PW}, expect=204)
        k(a, "GET", "/accounts/dave@example.test/mobileconfig", expect=200)
        k(a, "DELETE", "/accounts/dave@example.test/totp", expect=404)  # 2FA is off
        d = "/accounts/dave@example.test"
        k(a, "GET", d + "/app-passwords", expect=200)
        k(a, "POST", d + "/app-passwords", {"name": "phone", "password": ADMIN_PW}, expect=201)
        k(a, "POST", d + "/app-passwords", {"name": "phone", "password": ADMIN_PW}, expect=409)
        k(a, "DELETE", d + "/app-passwords/phone", expect=204)
        k(a, "GET", d + "/jmap-tokens", expect=200)
        k(a, "POST", d + "/jmap-tokens", {"name": "jt", "password": ADMIN_PW}, expect=201)
        k(a, "DELETE", d + "/jmap-tokens/jt", expect=204)
        k(a, "GET", d + "/forwarding", expect=200)
        k(a, "PUT", d + "/forwarding", {"addresses": ["dave@remote.test"], "keep": True,
                                        "password": ADMIN_PW}, expect=200)
        # Shared mailboxes' grants (RFC 4314): dave shares his INBOX with bob.
        k(a, "PUT", d + "/acl", {"mailbox": "INBOX", "identifier": BOB, "rights": "lr",
                                 "password": ADMIN_PW}, expect=200)
        k(a, "PUT", d + "/acl", {"mailbox": "INBOX", "identifier": BOB, "rights": "lrz"}, expect=400)
        k(a, "PUT", d + "/acl", {"mailbox": "Nothing", "identifier": BOB, "rights": "l",
                                 "password": ADMIN_PW}, expect=404)
        k(a, "GET", d + "/acl", expect=200)
        k(a, "GET", d + "/acl?mailbox=INBOX", expect=200)
        k(a, "GET", d + "/acl?mailbox=Nothing", expect=404)
        k(a, "GET", "/accounts/%s/shared" % BOB, expect=200)
        k(a, "DELETE", d + "/acl?mailbox=INBOX", expect=400)
        k(a, "DELETE", d + "/acl?mailbox=INBOX&identifier=" + BOB, expect=204)
        k(a, "GET", d + "/encryption", expect=200)
        k(a, "PUT", d + "/encryption", {"method": "none"}, expect=200)
        k(a, "PUT", d + "/encryption", {"method": "openpgp", "key": "not a key", "password": ADMIN_PW},
          expect=400)
        k(a, "DELETE", d + "/encryption", expect=204)
        k(a, "PUT", d + "/sieve/main", {"script": "keep;"}, expect=201)
        k(a, "PUT", d + "/sieve/main", {"active": True}, expect=200)
        k(a, "PUT", d + "/sieve/bad", {"script": "frobnicate;"}, expect=400)
        k(a, "GET", d + "/sieve", expect=200)
        k(a, "GET", d + "/sieve/main", expect=200)
        k(a, "DELETE", d + "/sieve/main", expect=409)
        k(a, "PUT", d + "/sieve/main", {"active": False}, expect=200)
        k(a, "DELETE", d + "/sieve/main", expect=204)
        k(a, "GET", d + "/sieve/main", expect=404)
        k(a, "PUT", "/sieve/global/g", {"script": "keep;"}, expect=201)
        k(a, "GET", "/sieve/global", expect=200)
        k(a, "GET", "/sieve/global/g", expect=200)
        k(a, "DELETE", "/sieve/global/g", expect=204)
        k(a, "GET", "/sieve/global/g", expect=404)

        # The admin's own second factor: an enrolment, a wrong code.
        k(a, "GET", "/admin/totp", expect=200)
        k(a, "POST", "/admin/totp", expect=200)
        k(a, "POST", "/admin/totp/confirm", {"code": "000000", "password": ADMIN_PW}, expect=400)
        k(a, "POST", "/admin/totp/disable", {"code": "000000", "password": ADMIN_PW})

        # Aliases.
        k(a, "GET", "/aliases", expect=200)
        k(a, "POST", "/aliases", {"alias": "info@example.test", "target": BOB}, expect=201)
        k(a, "POST", "/aliases", {"alias": "info@example.test", "target": BOB}, expect=409)
        k(a, "DELETE", "/aliases/info@example.test", expect=204)
        k(a, "DELETE", "/aliases/info@example.test", expect=404)

        # The queue, jobs, backups, logs, settings.
        k(a, "GET", "/queue", expect=200)
        k(a, "GET", "/queue?limit=10", expect=200)
        k(a, "POST", "/queue/424242/retry", {}, expect=404)
        k(a, "DELETE", "/queue/424242", expect=404)
        mbox = b"From alice@remote.test Mon Jan  1 00:00:00 2024\nSubject: hi\n\nhello\n"
        st, _, job = k(a, "POST", "/accounts/" + BOB + "/import?mailbox=INBOX&name=a.mbox", mbox,
                       ctype="application/mbox", expect=202)
        k(a, "POST", "/accounts/" + BOB + "/migrate", {"from": "imap://bob@127.0.0.1:1",
                                                       "password": "x"})
        k(a, "GET", "/jobs", expect=200)
        if isinstance(job, dict) and "id" in job:
            k(a, "GET", "/jobs/%d" % job["id"], expect=200)
        k(a, "GET", "/jobs/999999", expect=404)
        k(a, "GET", "/backups", expect=200)
        k(a, "PUT", "/backups/schedule", {"dir": ""}, expect=200)
        k(a, "POST", "/backups", expect=409)
        k(a, "GET", "/logs?limit=5&level=info", expect=200)
        k(a, "GET", "/settings", expect=200)
        k(a, "PUT", "/settings", {"dmarc_failure_reports": False}, expect=200)

        # The spam filter.
        k(a, "GET", "/spam", expect=200)
        k(a, "PUT", "/spam", {"greylist": False}, expect=200)
        k(a, "PUT", "/spam/phish?name=list.txt", "http://phish.example/login\n", ctype="text/plain",
          expect=200)
        k(a, "PUT", "/spam/hashes?name=h.txt", "ab" * 32 + "\n", ctype="text/plain", expect=200)
        k(a, "GET", "/spam/recent", expect=200)
        k(a, "POST", "/spam/recent/424242/train", {"spam": True}, expect=404)
        k(a, "GET", "/spam/lists/global", expect=200)
        k(a, "PUT", "/spam/lists/global", {"allow": ["friend@remote.test"]}, expect=200)
        k(a, "GET", "/spam/lists/nowhere.test", expect=404)

        # The account's own portal.
        p = portal_login(s, BOB, BOB_PW)
        k(anon, "POST", "/me/session", {"email": BOB, "password": "wrong"}, expect=401)
        k(p, "GET", "/me", expect=200)
        k(p, "PATCH", "/me", {"display_name": "Bob"}, expect=200)
        k(p, "GET", "/me/app-passwords", expect=200)
        k(p, "POST", "/me/app-passwords", {"name": "tablet", "password": BOB_PW}, expect=201)
        k(p, "DELETE", "/me/app-passwords/tablet", expect=204)
        k(p, "GET", "/me/jmap-tokens", expect=200)
        k(p, "POST", "/me/jmap-tokens", {"name": "cli", "password": BOB_PW}, expect=201)
        k(p, "DELETE", "/me/jmap-tokens/cli", expect=204)
        k(p, "DELETE", "/me/jmap-tokens/cli", expect=404)
        k(p, "GET", "/me/totp", expect=200)
        k(p, "POST", "/me/totp", expect=200)
        k(p, "POST", "/me/totp/confirm", {"code": "000000", "password": BOB_PW}, expect=400)
        k(p, "POST", "/me/totp/disable", {"code": "000000", "password": BOB_PW})
        k(p, "GET", "/me/mobileconfig", expect=200)
        k(p, "GET", "/me/forwarding", expect=200)
        k(p, "PUT", "/me/forwarding", {"addresses": []}, expect=200)
        k(p, "PUT", "/me/spam-lists", {"block": ["spammer.example"]}, expect=200)
        k(p, "PUT", "/me/spam-lists", {"block": ["bad!entry"]}, expect=400)
        k(p, "GET", "/me/spam-lists", expect=200)
        k(p, "GET", "/me/encryption", expect=200)
        k(p, "PUT", "/me/encryption", {"method": "none"}, expect=200)
        k(p, "DELETE", "/me/encryption", expect=204)
        k(p, "PUT", "/me/sieve/mine", {"script": "keep;"}, expect=201)
        k(p, "GET", "/me/sieve", expect=200)
        k(p, "GET", "/me/sieve/mine", expect=200)
        k(p, "DELETE", "/me/sieve/mine", expect=204)
        k(p, "GET", "/me/sieve/mine", expect=404)
        st, _, mine = k(p, "GET", "/me/sessions", expect=200)
        k(p, "DELETE", "/me/sessions/" + "0" * 32, expect=404)
        p2 = portal_login(s, BOB, BOB_PW)
        st, _, mine = k(p2, "GET", "/me/sessions", expect=200)
        k(p2, "DELETE", "/me/sessions/" + [r for r in mine["sessions"] if not r["current"]][0]["handle"],
          expect=204)
        p = p2
        k(p, "DELETE", "/me/sessions", expect=204)
        k(p, "PUT", "/me/password", {"current": BOB_PW, "password": "bob-password-2-Zq"}, expect=204)
        p.password = "bob-password-2-Zq"
        k(p, "DELETE", "/me/session", expect=204)

        # What destroys, and the admin's password, last.
        k(a, "DELETE", "/accounts/dave@example.test", expect=204)
        k(a, "DELETE", "/domains/other.test", expect=204)
        k(a, "DELETE", "/domains/example.test", expect=409)
        k(a, "POST", "/setup/complete", {}, expect=200)
        k(a, "PUT", "/setup/relay", {"host": ""}, expect=409)
        k(a, "PUT", "/admin/password", {"current": ADMIN_PW, "password": "admin-password-2-Wx"}, expect=204)
        a.password = "admin-password-2-Wx"
        k(a, "GET", "/openapi.json", expect=200)
        k(a, "DELETE", "/session", expect=204)

        missing = sorted((m.upper(), tmpl) for tmpl, item in doc["paths"].items() for m in item
                         if (m.upper(), tmpl) not in c.called)
        assert not c.errors, "\n".join(c.errors)
        assert not missing, "operations this test never called: %r" % missing


def test_every_refusal_answers_as_documented():
    """What every operation answers a client without credentials, a body
    of another Content-Type, a body over 64 KiB and a method it does not
    have: a documented status, in the one problem shape, with Allow
    listing the path's documented methods on a 405."""
    s, a0 = admin_server(accounts=[(BOB, BOB_PW)])
    with s:
        st, _, doc = a0.call("GET", "/openapi.json", auth=False)
        c = Contract(doc)
        a = a0
        p = portal_login(s, BOB, BOB_PW)
        concrete = {"{name}": "example.test", "{email}": BOB, "{alias}": "info@example.test",
                    "{id}": "1", "{seq}": "1", "{scope}": "global", "{handle}": "0" * 32}
        refused = 0
        for tmpl, item in doc["paths"].items():
            path = tmpl
            for k, v in concrete.items():
                path = path.replace(k, v)
            for method, op in item.items():
                m = method.upper()
                sec = op.get("security", doc["security"])
                # Each client from its own address: the refusals below
                # would otherwise spend the address's sign-in budget.
                anon = Api(s, source="127.0.1.%d" % (refused % 200 + 1))
                refused += 1
                st, hd, out = anon.call(m, path, {} if m in ("POST", "PUT", "PATCH") else None)
                c.conforms(op, st, hd, out, "anonymous %s %s -> %d %.200r" % (m, path, st, out))
                if sec and st < 400:
                    c.errors.append("anonymous %s %s -> %d" % (m, path, st))
                body = op.get("requestBody", {}).get("content", {})
                if "application/json" not in body:
                    continue
                who = p if sec == [{"account": [], "csrf": []}] else a
                st, hd, out = who.call(m, path, "{}", ctype="text/plain")
                c.conforms(op, st, hd, out, "text/plain %s %s -> %d %.200r" % (m, path, st, out))
                if st != 415:
                    c.errors.append("text/plain body: %s %s -> %d, not 415" % (m, path, st))
                big = json.dumps({"password": "x" * 70000})
                st, hd, out = who.call(m, path, big)
                c.conforms(op, st, hd, out, "70000-byte body %s %s -> %d %.200r" % (m, path, st, out))
                if st != 413:
                    c.errors.append("70000-byte body: %s %s -> %d, not 413" % (m, path, st))
            # A method the path does not have: 405, Allow naming the documented ones.
            m = next(x for x in ("PATCH", "PUT", "DELETE", "POST") if x.lower() not in item)
            st, hd, out = a.call(m, path)
            documented = {x.upper() for x in item} | ({"HEAD"} if "get" in item else set())
            allow = {x.strip() for x in hd.get("allow", "").split(",") if x.strip()}
            if st != 405 or allow != documented or out.get("code") != "method":
                c.errors.append("%s %s -> %d Allow %s, documented %s" % (m, path, st, sorted(allow),
                                                                        sorted(documented)))
        assert not c.errors, "\n".join(c.errors)
