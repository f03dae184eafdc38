"""test_webui_hostile.py — the web admin and the portal against data that
strangers control, and against requests from other origins.

test_every_write_refuses_other_origins: every state-changing operation of
the OpenAPI document (/api/v1/openapi.json), with the admin's or an
account's session cookie but no X-CSRF-Token, or a wrong one, is refused
403 "csrf" (what a page of another origin can send: SameSite=Strict keeps
the cookie from it anyway, and it cannot read the token), and so is the
body a cross-origin form can send without a CORS preflight (text/plain,
application/x-www-form-urlencoded, multipart/form-data: Fetch standard,
"CORS-safelisted request-header") to the routes that take no session,
sign-in included (login CSRF). Every answer carries the pages'
Content-Security-Policy, X-Content-Type-Options: nosniff and
X-Frame-Options, and is application/problem+json that parses.

test_webui_hostile_data: mail and reports whose fields carry markup,
javascript: URLs, a bidi override, a long word, NUL and invalid UTF-8 are
delivered over SMTP (a DMARC aggregate report, a TLS-RPT report, a message
scored by the spam filter, one queued for a remote domain: the log shows
its recipient; a hostile EHLO name and a user name tried at sign-in are
sent too, though the log keeps neither), plus a session's User-Agent, an
account's display name and a Sieve script's name set through the API; the
API answers valid JSON with them. Fields are as long as the server keeps
them (a report's organisation name: 255 octets, a display name 128, a
quoted local part 64). tests/browser/hostile.mjs then
visits each page that shows them in headless Chromium and checks that they
read as text, that nothing ran (no dialog, no request elsewhere, no console
error) and that nothing sticks out of its box.
Screenshots land in build/artifacts/webui-hostile/.
"""
import gzip
import http.client
import json
import os
import re
import shutil
import smtplib
import ssl
import time
from email import policy
from email.message import EmailMessage

from harness import ROOT
from httpc import ACCOUNT_COOKIE, Api, admin_server, tls_ctx
from test_webui import CHROMIUM, FakeDns, npm_install, run_browser

ARTIFACTS = os.path.join(ROOT, "build", "artifacts", "webui-hostile")
BOB, BOB_PW = "bob@example.test", "bob-password-1"
PM, PM_PW = "postmaster@example.test", "postmaster-pw-1"

# A parameter's value in a path template: one that names nothing, so the
# handler would answer 404 if the gate let the request through (it must
# not get that far).
PARAM = "csrf-nothing.test"


def _security_headers_ok(hd, what):
    csp = hd.get("content-security-policy", "")
    assert "default-src" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("style-src")[0], (what, csp)
    assert "frame-ancestors 'none'" in csp, (what, csp)
    assert hd.get("x-content-type-options") == "nosniff", (what, hd)
    assert hd.get("x-frame-options") == "DENY", (what, hd)


def _problem(st, hd, raw, what):
    """The answer is a problem document that parses as strict JSON."""
    _security_headers_ok(hd, what)
    assert hd.get("content-type", "").startswith("application/problem+json"), (what, hd)
    return json.loads(raw.decode("utf-8"))


class _Conn:
    """One kept-alive HTTPS connection for many requests (a TLS handshake
    each would make the sweep slow on a loaded machine); reopened when the
    server closes it."""

    def __init__(self, s):
        self.s = s
        self.c = None

    def raw(self, method, path, body, headers):
        for attempt in (0, 1):
            if self.c is None:
                self.c = http.client.HTTPSConnection("127.0.0.1", self.s.https_port, timeout=30,
                                                     context=tls_ctx())
            try:
                self.c.request(method, path, body=body, headers=headers)
                r = self.c.getresponse()
                data = r.read()
            except (http.client.HTTPException, ConnectionError):
                self.c.close()
                self.c = None
                if attempt:
                    raise
                continue
            if r.will_close:
                self.c.close()
                self.c = None
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def close(self):
        if self.c:
            self.c.close()


def _operations(doc):
    """(method, concrete path, template) of every unsafe documented operation."""
    for tmpl, item in doc["paths"].items():
        for method in ("post", "put", "patch", "delete"):
            if method in item:
                yield method.upper(), "/api/v1" + re.sub(r"\{[^}]+\}", PARAM, tmpl), tmpl


# The writes that take no session: signing in, and the setup wizard's
# before the admin exists (its one-time code is its credential).
SESSIONLESS = {("POST", "/session"), ("POST", "/me/session"), ("POST", "/password/strength")}


def _session_of(method, tmpl):
    """Whose session cookie the operation takes: "admin", "portal" or None."""
    if (method, tmpl) in SESSIONLESS or (tmpl.startswith("/setup/") and tmpl != "/setup/complete"):
        return None
    return "portal" if tmpl == "/me" or tmpl.startswith("/me/") else "admin"


def test_every_write_refuses_other_origins():
    s, admin = admin_server(accounts=[(BOB, BOB_PW)])
    with s:
        portal = Api(s, cookie_name=ACCOUNT_COOKIE)
        st, _, out = portal.call("POST", "/me/session", {"email": BOB, "password": BOB_PW})
        assert st == 200, out
        st, _, doc = admin.call("GET", "/openapi.json")
        assert st == 200, doc
        ops = list(_operations(doc))
        assert len(ops) > 50, ops
        forms = (("text/plain", b'{"password":"x"}'),
                 ("application/x-www-form-urlencoded", b"password=x"),
                 ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nx\r\n--b--\r\n"))
        seen = {"session": 0, "form": 0}
        conn = _Conn(s)
        for method, path, tmpl in ops:
            body = b'{"password":"x"}'
            who = _session_of(method, tmpl)
            cookie = {"portal": "%s=%s" % (ACCOUNT_COOKIE, portal.cookie),
                      "admin": "%s=%s" % (admin.cookie_name, admin.cookie)}.get(who)
            if cookie:
                # The session's cookie, sent as a cross-site request would
                # if the browser sent it: no token, then a wrong one.
                for token in (None, "0" * 64):
                    h = {"Cookie": cookie, "Origin": "https://evil.example", "Content-Type": "application/json"}
                    if token:
                        h["X-CSRF-Token"] = token
                    st, hd, raw = conn.raw(method, path, body, h)
                    what = "%s %s token=%s" % (method, path, token)
                    p = _problem(st, hd, raw, what)
                    assert st == 403 and p.get("title", p.get("type", "")) and "csrf" in json.dumps(p), (what, st, p)
                    seen["session"] += 1
            else:
                # No session to ride: what a cross-origin form can send
                # must not be taken as the JSON the route reads.
                for ctype, form in forms:
                    st, hd, raw = conn.raw(method, path, form,
                                           {"Origin": "https://evil.example", "Content-Type": ctype})
                    what = "%s %s as %s" % (method, path, ctype)
                    p = _problem(st, hd, raw, what)
                    assert st in (401, 403, 409, 415), (what, st, p)
                    seen["form"] += 1
        conn.close()
        assert seen["session"] > 80 and seen["form"] >= 15, seen
        # Nothing above changed anything: the portal session still works.
        st, _, me = portal.call("GET", "/me")
        assert st == 200, me


# Hostile text, each kind the brief names; the browser checks each shows
# as itself. NUL and invalid UTF-8 go in raw where the protocol lets them.
SCRIPT = "<script>alert('xss-script')</script>"
IMG = '"><img src=x onerror=alert(1)>'
JSURL = "javascript:alert(document.domain)"
BIDI = "\u202egnp.exe"
LONG = "W" * 600


def _xml(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _dmarc_report(day):
    """google.xml about example.test, yesterday, its metadata hostile."""
    from test_dmarc_reports import report_xml
    x = report_xml("google.xml", day - 86400).decode()
    x = x.replace("<org_name>google.com</org_name>", "<org_name>%s</org_name>" % _xml(SCRIPT + BIDI + LONG))
    x = x.replace("<email>noreply-dmarc-support@google.com</email>", "<email>%s</email>" % _xml(IMG))
    x = x.replace("https://support.google.com/a/answer/2466580", _xml(JSURL))
    x = x.replace("<report_id>4471920382914776512</report_id>", "<report_id>%s</report_id>" % LONG)
    return x.encode()


def _tlsrpt_report(day):
    """RFC 8460's example about example.test, yesterday, its strings hostile."""
    from test_tlsrpt import RFC_EXAMPLE
    r = json.loads(json.dumps(RFC_EXAMPLE))
    d = time.strftime("%Y-%m-%d", time.gmtime(day - 86400))
    r["date-range"] = {"start-datetime": d + "T00:00:00Z", "end-datetime": d + "T23:59:59Z"}
    r["organization-name"], r["contact-info"], r["report-id"] = IMG + "W" * 200, JSURL + "W" * 200, SCRIPT
    f = r["policies"][0]["failure-details"][1]
    f["additional-information"] = SCRIPT + BIDI + " " + LONG
    return json.dumps(r).encode()


def _report_mail(subject, attachment, ctype, filename):
    m = EmailMessage()
    m["From"] = "reports@sender.test"
    m["To"] = PM
    m["Subject"] = subject
    m.set_content("A report.\n")
    maintype, subtype = ctype.split("/")
    m.add_attachment(attachment, maintype=maintype, subtype=subtype, filename=filename)
    return m.as_bytes(policy=policy.SMTP)


def _smtp_raw(port, ehlo, mail_from, rcpt, data, tls_port=None, login=None):
    """One transaction with commands as given (smtplib would requote the
    addresses); returns the RCPT reply code."""
    if tls_port:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = smtplib.SMTP_SSL("127.0.0.1", tls_port, context=ctx, timeout=20)
    else:
        c = smtplib.SMTP("127.0.0.1", port, timeout=20)
    with c:
        c.ehlo(ehlo)
        if login:
            c.login(*login)
        code, msg = c.docmd("MAIL", "FROM:<%s>" % mail_from)
        assert code == 250, (code, msg)
        code, msg = c.docmd("RCPT", "TO:<%s>" % rcpt)
        if code == 250:
            code2, msg2 = c.data(data)
            assert code2 == 250, (code2, msg2)
        return code


def _deliver(s, day):
    """Everything a stranger sends, over SMTP; returns the queued recipient."""
    for what, att, ctype, name in (
            ("dmarc", gzip.compress(_dmarc_report(day)), "application/gzip", "google.com!example.test!1!2.xml.gz"),
            ("tlsrpt", gzip.compress(_tlsrpt_report(day)), "application/tlsrpt+gzip", "x!example.test!1!2.json.gz")):
        c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=20)
        c.sendmail("reports@sender.test", [PM], _report_mail("Report " + what, att, ctype, name))
        c.quit()
    # Scored by the spam filter: a hostile envelope sender (a quoted
    # local part may hold anything printable), a Subject and From with
    # markup, a bidi override, raw invalid UTF-8 and an encoded NUL.
    body = (b"From: \"" + IMG.encode() + b"\" <x@sender.test>\r\nTo: bob@example.test\r\n"
            b"Subject: " + SCRIPT.encode() + b" \xff\xfe\xc3 " + BIDI.encode() + b" =?utf-8?q?nul=00here?=\r\n"
            b"Message-ID: <hostile@sender.test>\r\n\r\nHello.\r\n")
    code = _smtp_raw(s.smtp_port, "client.sender.test", '"%s"@sender.test' % (SCRIPT + "W" * 20).replace('"', '\\"'), BOB, body)
    assert code == 250, code
    # A hostile EHLO name: the log shows it.
    c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=20)
    c.docmd("EHLO", IMG.replace(" ", "/"))
    c.quit()
    # Queued for a domain whose DNS fails: its recipient is hostile.
    rcpt = '"%s"@remote.test' % (IMG + "W" * 30).replace('"', '\\"')
    code = _smtp_raw(None, "me", BOB, rcpt, b"From: bob@example.test\r\nSubject: out\r\n\r\nx\r\n",
                     tls_port=s.submissions_port, login=(BOB, BOB_PW))
    assert code == 250, code
    return rcpt


def _strict_json(api, path):
    """GET path: 200, application/json, nosniff, and strict JSON (no raw
    control character, valid UTF-8)."""
    st, hd, raw = api.raw("GET", "/api/v1" + path, None,
                          {"Cookie": "%s=%s" % (api.cookie_name, api.cookie)})
    assert st == 200, (path, st, raw[:300])
    assert hd.get("content-type", "").startswith("application/json"), (path, hd)
    _security_headers_ok(hd, path)
    return json.loads(raw.decode("utf-8"))


def _until(s, what, fn, timeout=30):
    deadline = time.time() + timeout
    while True:
        got = fn()
        if got:
            return got
        assert time.time() < deadline, (what, [l for l in s.log_text().splitlines()
                                               if "module=http event=request" not in l][-40:])
        time.sleep(0.2)


def test_webui_hostile_data():
    for tool in (CHROMIUM, shutil.which("node"), shutil.which("npm")):
        assert tool and os.path.exists(tool), "needs chromium, node and npm (scripts/install-test-deps)"
    npm_install()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    dns = FakeDns({}, servfail=("remote.test", "sender.test"))
    s, a = admin_server(accounts=((BOB, BOB_PW), (PM, PM_PW)), submission=True,
                        env={"TERN_DNS_SERVERS": "127.0.0.1:%d" % dns.port})
    try:
        st, _, out = a.call("POST", "/setup/complete", {})
        assert st == 200, out
        day = int(time.time()) // 86400 * 86400
        rcpt = _deliver(s, day)
        # Set through the API: an account's display name, a Sieve
        # script's name, a session's User-Agent, a user name tried at
        # sign-in.
        st, _, out = a.call("PATCH", "/accounts/" + BOB, {"display_name": SCRIPT + BIDI + "W" * 80})
        assert st == 200, out
        sieve_name = IMG + BIDI + "W" * 80
        from urllib.parse import quote
        st, _, out = a.call("PUT", "/accounts/%s/sieve/%s" % (BOB, quote(sieve_name, safe="")),
                            {"script": "keep;\n", "active": False})
        assert st in (200, 201, 204), out
        ua = SCRIPT + " " + LONG
        other = Api(s)
        st, _, out = other.call("POST", "/session", {"password": a.password}, headers={"User-Agent": ua})
        assert st == 200, out
        anon = Api(s, cookie_name=ACCOUNT_COOKIE)
        st, _, out = anon.call("POST", "/me/session", {"email": IMG + "@example.test", "password": "wrong"})
        assert st in (400, 401), out

        # The API answers strict JSON with them all.
        dm = _until(s, "the DMARC report", lambda: _strict_json(a, "/domains/example.test/dmarc-reports?days=7")["reports"])
        # Kept as sent, cut to the store's bound.
        assert dm[0]["org_name"].startswith(SCRIPT + BIDI + "W" * 40) and dm[0]["email"] == IMG, dm
        tr = _until(s, "the TLS report", lambda: _strict_json(a, "/domains/example.test/tlsrpt-reports?days=7")["reports"])
        assert tr[0]["organization"].startswith(IMG + "W" * 40) and tr[0]["report_id"] == SCRIPT, tr
        sp = _until(s, "the spam decision", lambda: [d for d in _strict_json(a, "/spam/recent")["decisions"]
                                                 if d["rcpt"] == BOB])
        q = _until(s, "the queue entry", lambda: [m for m in _strict_json(a, "/queue")["messages"]
                                              if rcpt in (m.get("to") or [])])
        # Kept cut to its first 128 octets.
        ss = [x for x in _strict_json(a, "/sessions")["sessions"] if x["user_agent"].startswith(SCRIPT + " W")]
        assert ss, _strict_json(a, "/sessions")
        logs = _strict_json(a, "/logs?q=onerror&limit=200&order=newest")["lines"]
        assert logs, "no log line holds the hostile EHLO name or user name"
        cfg = {"url": "https://127.0.0.1:%d" % s.https_port, "admin_password": a.password,
               "user": BOB, "user_password": BOB_PW, "artifacts": ARTIFACTS, "chromium": CHROMIUM,
               "texts": {"dmarc": dm[0]["org_name"], "dmarc_email": dm[0]["email"],
                         "tlsrpt": tr[0]["organization"], "tlsrpt_contact": tr[0]["contact"],
                         "spam_from": sp[0]["mail_from"], "queue_rcpt": rcpt,
                         "user_agent": SCRIPT, "display_name": SCRIPT + BIDI + "W" * 80, "sieve": sieve_name},
               "log_text": logs[0]["text"]}
        out = run_browser(cfg, s, None, "hostile.mjs")
        for page in ("queue", "spam", "domain", "logs", "settings", "accounts", "portal", "portal-confirm"):
            assert "browser: hostile: %s shows it as text" % page in out, (page, out)
        assert "browser: hostile: portal-confirm isolates the name" in out, out
    finally:
        s.cleanup()
        dns.close()
