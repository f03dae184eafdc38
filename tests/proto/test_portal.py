"""The self-service portal's API and two-factor sign-in (issue 31): an
account signs in at /api/v1/me/session with its address and password
(wrong ones are limited and logged like the admin's), sees its quota and
usage, sets its display name, creates an app password, turns on TOTP (the
codes are computed here with hmac, independently of tern), after which
IMAP, POP3, submission and ManageSieve take the app password and refuse
the account password; the portal then asks for a code, refuses a code used before,
takes a recovery code once; the password is changed with the current
one; 2FA goes off with a code. Portal and admin sessions never open each
other's routes. The admin turns on TOTP for the admin sign-in too. One
server for everything; mail logins as logins.py explains."""
import base64
import hashlib
import hmac
import http.client
import json
import struct
import time
import urllib.parse

from httpc import ACCOUNT_COOKIE, ADMIN_COOKIE, admin_server, tls_ctx
from logins import accepted, imap_ok, refused, sieve_env

USER = "pat@example.test"
PW = "portal-pw-1"
NEWPW = "portal-pw-2-longer"
ADMIN_PW = "admin-password-1-Vq8r"


def totp(secret_b32, t=None, step=0):
    """RFC 6238 with SHA-1, 6 digits, 30 s (what authenticator apps do)."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int((t or time.time()) // 30) + step
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7fffffff) % 1000000)


class Codes:
    """Codes of successive steps for one secret without waiting: tern takes
    the step before, the current and the next one, each once and in
    order, so a test may spend up to three per 30 s (two in a step's last
    10 s, when the step before is too close to expiring)."""

    def __init__(self, secret):
        self.secret = secret
        self.next = int(time.time() // 30) - 1

    def fresh(self):
        t = time.time()
        now = int(t // 30)
        # The step before expires at the next boundary: spend it only with
        # 10 s to spare, or a slow server (ASan) checks it too late.
        self.next = max(self.next, now - 1 if t % 30 < 20 else now)
        while self.next > now + 1:
            time.sleep(30 - time.time() % 30 + 0.2)
            now = int(time.time() // 30)
        step = self.next
        self.next += 1
        return totp(self.secret, step * 30 + 1)


class Portal:
    """A browser of the portal: its own cookie (ACCOUNT_COOKIE) and CSRF."""

    def __init__(self, s, source="127.0.0.5"):
        # One address, as one browser: once it signed in to the account,
        # the account's spacing after failures no longer holds it back.
        self.s = s
        self.source = source
        self.cookie = None
        self.csrf = None
        self.password = None  # sent with a DELETE, as the portal page does

    def call(self, method, path, body=None):
        c = http.client.HTTPSConnection("127.0.0.1", self.s.https_port, timeout=30,
                                        context=tls_ctx(), source_address=(self.source, 0))
        h = {}
        data = None
        if body is None and method == "DELETE" and self.password and path != "/me/session":
            body = {"password": self.password}
        if body is not None:
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
        if self.cookie:
            h["Cookie"] = ACCOUNT_COOKIE + "=" + self.cookie
        if self.csrf:
            h["X-CSRF-Token"] = self.csrf
        try:
            c.request(method, "/api/v1" + path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read()
            hd = {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        out = json.loads(raw) if raw and "json" in hd.get("content-type", "") else raw
        sc = hd.get("set-cookie", "")
        if sc.startswith(ACCOUNT_COOKIE + "="):
            self.cookie = sc.split(";")[0].split("=", 1)[1] or None
        if isinstance(out, dict) and "csrf" in out:
            self.csrf = out["csrf"]
        return r.status, out

    def login(self, email=USER, password=PW, code=None):
        body = {"email": email, "password": password}
        if code is not None:
            body["code"] = code
        # After five failures of one account its checks are spaced out
        # (1 s, doubling): the HTTP side answers 429 instead of waiting.
        for _ in range(12):
            st, out = self.call("POST", "/me/session", body)
            if st == 200:
                self.password = password
            if st != 429:
                return st, out
            time.sleep(1)
        return st, out


def secret_of(uri):
    q = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)
    return q["secret"][0]


def test_portal_and_two_factor():
    env, sieve_port = sieve_env()
    s, admin = admin_server(password=ADMIN_PW, accounts=[(USER, PW)], imap=True, pop3=True,
                            submission=True, env=env)
    s.sieve_port = sieve_port
    with s:
        p = Portal(s)
        assert p.call("GET", "/me")[0] == 401
        st, body = p.login()
        assert st == 200 and p.cookie and p.csrf, body
        # The user's phone (DEVICE) has signed in before: the account's
        # failures below (wrong passwords and wrong codes, the in-session
        # ones included) never space its logins out.
        assert accepted(s, USER, PW, "imap") == []
        # Wrong password: 401 and the fail2ban line.
        st, body = Portal(s).login(password="wrong-one")
        assert st == 401, body
        assert s.wait_log("event=auth_failed what=account_login", 5)
        st, me = p.call("GET", "/me")
        assert st == 200 and me["email"] == USER and me["totp"] is False, me
        assert me["quota"] == 0 and me["used"] == 0, me
        # What a mail app needs: every listener that is on, as autoconfig
        # gives them (0 for one that is off). Before, no "pop3" for the
        # STARTTLS POP3 port.
        assert me["servers"] == {"hostname": "mx.example.test", "imaps": s.imaps_port,
                                 "imap": s.imap_port, "pop3s": s.pop3s_port, "pop3": s.pop3_port,
                                 "submissions": s.submissions_port, "submission": s.submission_port,
                                 "sieve": sieve_port}, me

        # The two kinds of session stay apart.
        assert admin.call("GET", "/me")[0] == 401
        other = Portal(s)
        other.cookie, other.csrf = admin.cookie, admin.csrf
        assert other.call("GET", "/me")[0] == 401
        c = http.client.HTTPSConnection("127.0.0.1", s.https_port, timeout=30, context=tls_ctx())
        c.request("GET", "/api/v1/accounts", headers={"Cookie": ADMIN_COOKIE + "=" + p.cookie})
        assert c.getresponse().status == 401
        c.close()
        # Writes need the CSRF token.
        csrf, p.csrf = p.csrf, None
        assert p.call("PATCH", "/me", {"display_name": "x"})[0] == 403
        p.csrf = csrf

        st, me = p.call("PATCH", "/me", {"display_name": "Pat Portal"})
        assert st == 200 and me["display_name"] == "Pat Portal", me
        assert admin.call("GET", "/accounts/" + USER)[2]["display_name"] == "Pat Portal"
        st, prof = p.call("GET", "/me/mobileconfig")
        assert st == 200 and b"Pat Portal" in prof, prof[:300]

        # Filters: the compiler's error comes back; a good script is stored active.
        st, body = p.call("PUT", "/me/sieve/main", {"script": "fileinto \"x\";", "active": True})
        assert st == 400 and body["code"] == "invalid_script", body
        st, body = p.call("PUT", "/me/sieve/main", {"script": 'require ["fileinto"];\nfileinto "Junk";\n',
                                                     "active": True})
        assert st == 201 and body["active"] is True, body
        st, body = p.call("GET", "/me/sieve")
        assert [x["name"] for x in body["scripts"]] == ["main"], body
        assert admin.call("GET", "/accounts/%s/sieve/main" % USER)[0] == 200

        # An app password, shown once.
        st, ap = p.call("POST", "/me/app-passwords", {"name": "phone", "password": PW})
        assert st == 201 and ap["name"] == "phone", ap
        app_pw = ap["password"]
        st, lst = p.call("GET", "/me/app-passwords")
        assert [a["name"] for a in lst["app_passwords"]] == ["phone"], lst
        assert "password" not in lst["app_passwords"][0]

        # TOTP on: enrolment, a wrong first code, the right one.
        st, en = p.call("POST", "/me/totp")
        assert st == 200 and en["uri"].startswith("otpauth://totp/"), en
        secret = secret_of(en["uri"])
        assert secret == en["secret"]
        codes = Codes(secret)
        code = codes.fresh()
        bad = "%06d" % ((int(code) + 1) % 1000000)
        st, body = p.call("POST", "/me/totp/confirm", {"code": bad, "password": PW})
        assert st == 400 and body["code"] == "wrong_code", body
        st, body = p.call("POST", "/me/totp/confirm", {"code": code, "password": PW})
        assert st == 200 and len(body["recovery_codes"]) == 10, body
        recovery = body["recovery_codes"]
        assert p.call("GET", "/me")[1]["totp"] is True  # this session goes on

        # Mail: app passwords only, on every mail protocol (a mail app
        # cannot ask for a code).
        assert refused(s, USER, PW, "imap", "pop3", "smtp", "sieve") == []
        assert accepted(s, USER, app_pw, "imap", "pop3", "smtp", "sieve") == []

        # The portal asks for a code; a used one is refused; a fresh one works.
        q = Portal(s)
        st, body = q.login()
        assert st == 401 and body["code"] == "totp_required", body
        st, body = q.login(code=code)
        assert st == 401 and body["code"] == "wrong_code", body
        assert s.wait_log("what=totp", 5)
        st, body = q.login(code=codes.fresh())
        assert st == 200, body
        # A recovery code, once.
        r = Portal(s)
        st, body = r.login(code=recovery[0])
        assert st == 200, (st, body)
        assert Portal(s).login(code=recovery[0])[0] == 401

        # The password, with the current one; the app password goes on.
        st, body = p.call("PUT", "/me/password", {"current": "nope-nope", "password": NEWPW})
        assert st == 400 and body["field"] == "current", body
        st, body = p.call("PUT", "/me/password", {"current": PW, "password": "short"})
        assert st == 400 and body["field"] == "password", body
        st, _ = p.call("PUT", "/me/password", {"current": PW, "password": NEWPW})
        assert st == 204
        assert p.call("GET", "/me")[0] == 200          # this session goes on
        assert q.call("GET", "/me")[0] == 401          # the others end
        assert accepted(s, USER, app_pw, "imap") == []
        assert Portal(s).login(password=PW, code=recovery[1])[0] == 401

        # 2FA off needs a code (and the password: test_totp_needs_the_password);
        # then the password signs in to mail again.
        st, body = p.call("POST", "/me/totp/disable", {"code": "000000", "password": NEWPW})
        assert st == 400, body
        st, _ = p.call("POST", "/me/totp/disable", {"code": codes.fresh(), "password": NEWPW})
        assert st == 204
        assert accepted(s, USER, NEWPW, "imap") == []

        # Sign-out ends the session; a state other than active, sign-in.
        assert p.call("DELETE", "/me/session")[0] == 204
        assert p.call("GET", "/me")[0] == 401
        admin.call("PATCH", "/accounts/" + USER, {"state": "cannot_sign_in"})
        assert Portal(s).login(password=NEWPW)[0] == 401
        admin.call("PATCH", "/accounts/" + USER, {"state": "active"})

        # The admin's own 2FA: enrol, confirm, then the admin sign-in asks.
        # An admin session signed in with the password alone (left open
        # elsewhere, or stolen) ends once 2FA is on, as an account's do;
        # the one that turned it on goes on.
        from httpc import Api
        other = Api(s)
        assert other.call("POST", "/session", {"password": ADMIN_PW})[0] == 200
        assert other.call("GET", "/admin/totp")[0] == 200
        st, _, en = admin.call("POST", "/admin/totp")
        assert st == 200, en
        asecret = secret_of(en["uri"])
        acodes = Codes(asecret)
        st, _, body = admin.call("POST", "/admin/totp/confirm", {"code": acodes.fresh(),
                                                                  "password": ADMIN_PW})
        assert st == 200 and len(body["recovery_codes"]) == 10, body
        assert admin.call("GET", "/admin/totp")[2]["enabled"] is True
        assert other.call("GET", "/admin/totp")[0] == 401
        a2 = Api(s)
        st, _, body = a2.call("POST", "/session", {"password": ADMIN_PW})
        assert st == 401 and body["code"] == "totp_required", body
        st, _, body = a2.call("POST", "/session", {"password": ADMIN_PW, "code": "123"})
        assert st == 401 and body["code"] == "wrong_code", body
        st, _, body = a2.call("POST", "/session", {"password": ADMIN_PW,
                                                    "code": acodes.fresh()})
        assert st == 200, body
        # Locked out: `tern admin totp-off` turns the admin's 2FA off.
        r = s.cli("admin", "totp-off")
        assert b"off" in r.stdout, r.stdout
        assert a2.call("GET", "/admin/totp")[2]["enabled"] is False
        assert Api(s).call("POST", "/session", {"password": ADMIN_PW})[0] == 200
        assert s.cli("admin", "totp-off", check=False).returncode == 1
        # An admin can remove an account's 2FA (a lost phone).
        p2 = Portal(s)
        assert p2.login(password=NEWPW)[0] == 200
        st, en = p2.call("POST", "/me/totp")
        assert p2.call("POST", "/me/totp/confirm",
                       {"code": Codes(secret_of(en["uri"])).fresh(), "password": NEWPW})[0] == 200
        assert admin.call("DELETE", "/accounts/%s/totp" % USER)[0] == 204
        assert admin.call("DELETE", "/accounts/%s/totp" % USER)[0] == 404
        assert Portal(s).login(password=NEWPW)[0] == 200


def test_totp_codes_in_session_are_limited():
    """Confirming 2FA and turning it off take a code from a signed-in
    session: each code goes through the sign-in's limiter and a wrong one
    is a failed login (what=totp, the line fail2ban reads), so a stolen
    session cannot guess its way to switching 2FA off."""
    import os
    import re
    s, admin = admin_server(password=ADMIN_PW, accounts=[(USER, PW)])
    with s:
        conf = open(os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "fail2ban",
                                 "tern.conf")).read()
        rx = re.search(r"^failregex = (.*)$", conf, re.M).group(1).replace("<HOST>", r"(?P<host>\S+)")

        def totp_lines(ip):
            return [l for l in s.log_text().splitlines()
                    if "module=http event=auth_failed what=totp" in l and l.endswith("ip=" + ip)]

        # The portal: a wrong first code and a wrong code to turn it off.
        p = Portal(s, source="127.0.0.9")
        assert p.login()[0] == 200
        st, en = p.call("POST", "/me/totp")
        codes = Codes(secret_of(en["uri"]))
        st, body = p.call("POST", "/me/totp/confirm", {"code": "000000", "password": PW})
        assert st == 400 and body["code"] == "wrong_code", body
        assert s.wait_log("what=totp failures=1 ip=127.0.0.9")
        assert p.call("POST", "/me/totp/confirm", {"code": codes.fresh(), "password": PW})[0] == 200
        st, body = p.call("POST", "/me/totp/disable", {"code": "000000", "password": PW})
        assert st == 400 and body["code"] == "wrong_code", body
        assert s.wait_log("what=totp failures=2 ip=127.0.0.9")
        line = totp_lines("127.0.0.9")[0].split(" ", 1)[1]  # fail2ban cuts time=T off
        assert re.match(rx, line).group("host") == "127.0.0.9", line

        # The admin's: guessing the code to turn it off is cut short.
        st, _, en = admin.call("POST", "/admin/totp")
        acodes = Codes(secret_of(en["uri"]))
        assert admin.call("POST", "/admin/totp/confirm", {"code": acodes.fresh(),
                                                           "password": ADMIN_PW})[0] == 200
        statuses = []
        for guess in range(12):
            st, hd, body = admin.call("POST", "/admin/totp/disable", {"code": "%06d" % guess,
                                                                       "password": ADMIN_PW})
            statuses.append(st)
            if st == 429:
                assert hd["retry-after"] in ("60", "900"), hd
                break
        assert statuses[-1] == 429 and set(statuses[:-1]) == {400}, statuses
        assert len(statuses) <= 11, statuses
        assert len(totp_lines("127.0.0.1")) == len(statuses) - 1, s.log_text()
        # While refused even the right code is not checked: 2FA stays on.
        assert admin.call("POST", "/admin/totp/disable", {"code": acodes.fresh(),
                                                           "password": ADMIN_PW})[0] == 429
        assert admin.call("GET", "/admin/totp")[2]["enabled"] is True


def test_totp_needs_the_password():
    """Turning 2FA on (confirm) and off take the current password besides
    the code, in the portal and the admin's Settings: a session cookie
    alone (stolen, or left open on a shared computer) must not put a
    second factor of its own on the account, locking its owner out, nor
    take the owner's off. A wrong password is a failed sign-in
    (what=totp_password, the line fail2ban reads); the code is not
    looked at, so it is not spent."""
    import os
    import re
    s, admin = admin_server(password=ADMIN_PW, accounts=[(USER, PW)])
    with s:
        conf = open(os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "fail2ban",
                                 "tern.conf")).read()
        rx = re.search(r"^failregex = (.*)$", conf, re.M).group(1).replace("<HOST>", r"(?P<host>\S+)")
        p = Portal(s, source="127.0.0.11")
        assert p.login()[0] == 200
        st, en = p.call("POST", "/me/totp")
        codes = Codes(secret_of(en["uri"]))
        code = codes.fresh()
        st, body = p.call("POST", "/me/totp/confirm", {"code": code})
        assert st == 400 and body.get("field") == "password", body
        st, body = p.call("POST", "/me/totp/confirm", {"code": code, "password": "not-the-password"})
        assert st == 400 and body["code"] == "wrong_password" and body["field"] == "password", body
        assert s.wait_log("event=auth_failed what=totp_password failures=1 ip=127.0.0.11", 5)
        line = [l for l in s.log_text().splitlines() if "what=totp_password" in l][0]
        assert re.match(rx, line.split(" ", 1)[1]).group("host") == "127.0.0.11", line
        assert p.call("GET", "/me")[1]["totp"] is False
        # The same code with the password: it was not spent.
        assert p.call("POST", "/me/totp/confirm", {"code": code, "password": PW})[0] == 200
        st, body = p.call("POST", "/me/totp/disable", {"code": codes.fresh(), "password": "nope-nope"})
        assert st == 400 and body["code"] == "wrong_password", body
        assert p.call("GET", "/me")[1]["totp"] is True
        # The admin's, with the admin password.
        st, _, en = admin.call("POST", "/admin/totp")
        acodes = Codes(secret_of(en["uri"]))
        st, _, body = admin.call("POST", "/admin/totp/confirm", {"code": acodes.fresh(),
                                                                  "password": PW})
        assert st == 400 and body["code"] == "wrong_password", body
        assert admin.call("GET", "/admin/totp")[2]["enabled"] is False


def test_lasting_access_needs_the_password():
    """What outlives a change of password (an app password, a JMAP bearer
    token, forwarding to an outside address) is made in the portal only
    with the account's current password besides the session: a stolen
    session cookie alone must not become lasting access to the mail. A
    missing or wrong one is refused (a wrong one is a failed sign-in,
    what=account_password); revoking, and turning forwarding off, need
    none. A Sieve script that redirects or notifies is forwarding too.
    The admin's routes for an account need no account password: an admin
    session gives the admin password instead (test_http)."""
    s, admin = admin_server(password=ADMIN_PW, accounts=[(USER, PW)])
    with s:
        p = Portal(s, source="127.0.0.12")
        assert p.login()[0] == 200
        # Created without a password on the old code: refused now.
        for path, body in (("/me/app-passwords", {"name": "thief"}),
                           ("/me/jmap-tokens", {"name": "thief"})):
            st, out = p.call("POST", path, body)
            assert st == 400 and out.get("field") == "password", (path, out)
            st, out = p.call("POST", path, dict(body, password="not-the-password"))
            assert st == 400 and out["code"] == "wrong_password" and out["field"] == "password", out
        st, out = p.call("PUT", "/me/forwarding", {"addresses": ["thief@remote.test"]})
        assert st == 400 and out.get("field") == "password", out
        st, out = p.call("PUT", "/me/forwarding", {"addresses": ["thief@remote.test"],
                                                    "password": "not-the-password"})
        assert st == 400 and out["code"] == "wrong_password" and out["field"] == "password", out
        assert s.wait_log("event=auth_failed what=account_password failures=3 ip=127.0.0.12", 5)
        assert p.call("GET", "/me/app-passwords")[1]["app_passwords"] == []
        assert p.call("GET", "/me/jmap-tokens")[1]["tokens"] == []
        assert p.call("GET", "/me/forwarding")[1]["addresses"] == []

        # With it: made; turning forwarding off needs none.
        st, ap = p.call("POST", "/me/app-passwords", {"name": "phone", "password": PW})
        assert st == 201 and ap["password"], ap
        st, tok = p.call("POST", "/me/jmap-tokens", {"name": "sync", "password": PW})
        assert st == 201 and tok["token"], tok
        st, out = p.call("PUT", "/me/forwarding", {"addresses": ["me@remote.test"], "password": PW})
        assert st == 200 and out["addresses"] == ["me@remote.test"], out
        assert p.call("PUT", "/me/forwarding", {"addresses": []})[1]["addresses"] == []
        # Revoking, as every DELETE, takes it again: without it, or a
        # wrong one, nothing is revoked.
        for path in ("/me/app-passwords/phone", "/me/jmap-tokens/sync", "/me/encryption",
                     "/me/sieve/none"):
            st, out = p.call("DELETE", path, {})
            assert st == 400 and out["code"] == "missing_field" and out["field"] == "password", out
        st, out = p.call("DELETE", "/me/app-passwords/phone", {"password": "not-the-password"})
        assert st == 400 and out["code"] == "wrong_password", out
        assert [a["name"] for a in p.call("GET", "/me/app-passwords")[1]["app_passwords"]] == ["phone"]
        assert p.call("DELETE", "/me/app-passwords/phone")[0] == 204
        assert p.call("DELETE", "/me/jmap-tokens/sync")[0] == 204

        # A Sieve redirect (or notify) is forwarding by another road; a
        # script that keeps mail here needs no password.
        for script in ('redirect "thief@remote.test";\n',
                       'require "copy";\nif true { if false { stop; } else { redirect :copy "thief@remote.test"; } }\n',
                       'require ["enotify"];\nnotify "mailto:thief@remote.test";\n'):
            st, out = p.call("PUT", "/me/sieve/x", {"script": script, "active": True})
            assert st == 400 and out.get("field") == "password", (script, out)
        assert p.call("GET", "/me/sieve")[1]["scripts"] == []
        st, out = p.call("PUT", "/me/sieve/x", {"script": 'redirect "me@remote.test";\n',
                                                 "active": True, "password": PW})
        assert st == 201, out
        st, out = p.call("PUT", "/me/sieve/y", {"script": 'if false { stop; } else { keep; }\n'})
        assert st == 201, out
        # The admin acts on the account without its password (an admin
        # session with the admin's: the account's is wrong there).
        st, _, out = admin.call("PUT", "/accounts/%s/sieve/z" % USER,
                                {"script": 'redirect "pat@remote.test";\n', "password": PW})
        assert st == 400 and out["code"] == "wrong_password", out
        st, _, out = admin.call("PUT", "/accounts/%s/sieve/z" % USER,
                                {"script": 'redirect "pat@remote.test";\n', "password": ADMIN_PW})
        assert st == 201, out
        st, _, out = admin.call("POST", "/accounts/%s/app-passwords" % USER,
                                {"name": "desk", "password": ADMIN_PW})
        assert st == 201, out
        st, _, out = admin.call("POST", "/accounts/%s/jmap-tokens" % USER,
                                {"name": "job", "password": ADMIN_PW})
        assert st == 201, out
        st, _, out = admin.call("PUT", "/accounts/%s/forwarding" % USER,
                                {"addresses": ["pat@remote.test"], "password": ADMIN_PW})
        assert st == 200, out


def test_portal_sign_ins_do_not_push_out_other_sessions():
    """The session table holds 256 sessions; a mail account signing in to
    its portal again and again (each sign-in right) replaces only its own
    oldest portal session, never the admin's or another account's. Before,
    260 sign-ins (about 6 s) logged the admin out."""
    from concurrent.futures import ThreadPoolExecutor
    s, admin = admin_server(password=ADMIN_PW, accounts=[(USER, PW), ("kim@example.test", PW)])
    with s:
        other = Portal(s, source="127.0.0.6")
        assert other.login(email="kim@example.test")[0] == 200
        first = Portal(s)
        assert first.login()[0] == 200

        def sign_in(_):
            return Portal(s).call("POST", "/me/session", {"email": USER, "password": PW})[0]

        # Two at a time: the HTTP side checks two passwords at once.
        with ThreadPoolExecutor(2) as ex:
            statuses = list(ex.map(sign_in, range(260)))
        assert set(statuses) == {200}, statuses
        assert admin.call("GET", "/accounts")[0] == 200
        assert other.call("GET", "/me")[0] == 200
        assert first.call("GET", "/me")[0] == 401  # its own oldest went


def test_refused_sign_ins_do_not_lock_the_account():
    """After five wrong passwords the account's checks are spaced out. A
    portal sign-in whose slot is not now gets 429 without a check; that
    refusal must leave the spacing as it was. It used to take the slot
    and hand it back, which still moved the account's next slot a step
    further: one address asking again and again (never checked, never
    counted, so never banned) kept every login to the account from an
    address it had not signed in from refused, on every protocol."""
    idn = "ana@b\u00fccher.example"
    s, _ = admin_server(password=ADMIN_PW, accounts=[(USER, PW), (idn, PW)], imap=True,
                        domains=("example.test", "b\u00fccher.example"))
    with s:
        # By the way: an address at an IDN domain signs in in either
        # spelling, as it does by IMAP (it was refused in the A-labels).
        assert Portal(s, source="127.0.3.40").login("ana@xn--bcher-kva.example", PW)[0] == 200
        assert imap_ok(s, "ana@xn--bcher-kva.example", PW, source="127.0.3.40")
        wrong = {"email": USER, "password": "not-the-password"}
        for i in range(5):
            assert Portal(s, source="127.0.3.%d" % (i + 1)).call("POST", "/me/session",
                                                                  wrong)[0] == 401
        # One address asks again and again: a request that finds its slot
        # is checked and fails (one a second or so), the rest get 429.
        p = Portal(s, source="127.0.3.20")
        statuses = [p.call("POST", "/me/session", wrong)[0] for _ in range(10)]
        assert set(statuses) == {401, 429} and statuses.count(429) >= 6, statuses
        assert s.log_text().count("event=auth_failed what=account_login") == 5 + statuses.count(401)
        # The user's new phone waits out one slot of the spacing, then gets in.
        assert imap_ok(s, USER, PW, source="127.0.3.30"), s.log_text()[-2000:]


def test_credential_changes_give_the_session_a_new_id():
    """Session fixation (OWASP): the session that changes its password or
    turns 2FA on goes on under a new id, set in a new cookie; the id it
    had opens nothing any more, as the other sessions of the old password.
    A sign-in always makes a new id, and the session whose cookie the
    browser sent with it ends. Before, the id stayed the same across the
    change."""
    from httpc import Api
    s, admin = admin_server(password=ADMIN_PW, accounts=[(USER, PW)])
    with s:
        def gone(name, cookie):
            st, _, _ = Api(s).raw("GET", "/api/v1/me" if name == ACCOUNT_COOKIE else
                                  "/api/v1/accounts", None, {"Cookie": "%s=%s" % (name, cookie)})
            return st == 401

        # The admin's password.
        old = admin.cookie
        st, _, out = admin.call("PUT", "/admin/password", {"current": ADMIN_PW,
                                                            "password": ADMIN_PW + "-2"})
        assert st == 204, out
        assert admin.cookie and admin.cookie != old and gone(ADMIN_COOKIE, old)
        assert admin.call("GET", "/accounts")[0] == 200
        admin.password = ADMIN_PW + "-2"
        # The admin's 2FA on.
        old = admin.cookie
        st, _, en = admin.call("POST", "/admin/totp")
        assert st == 200, en
        st, _, out = admin.call("POST", "/admin/totp/confirm",
                                {"code": Codes(secret_of(en["uri"])).fresh(),
                                 "password": ADMIN_PW + "-2"})
        assert st == 200, out
        assert admin.cookie != old and gone(ADMIN_COOKIE, old)
        assert admin.call("GET", "/accounts")[0] == 200
        # The same CSRF token goes on with the new cookie: a write passes.
        st, _, out = admin.call("PUT", "/admin/password", {"current": ADMIN_PW + "-2",
                                                            "password": ADMIN_PW})
        assert st == 204, out

        # An account's password, then its 2FA.
        p = Portal(s)
        assert p.login()[0] == 200
        old = p.cookie
        st, out = p.call("PUT", "/me/password", {"current": PW, "password": NEWPW})
        assert st == 204, out
        assert p.cookie != old and gone(ACCOUNT_COOKIE, old)
        assert p.call("GET", "/me")[0] == 200
        old = p.cookie
        st, en = p.call("POST", "/me/totp")
        pcodes = Codes(secret_of(en["uri"]))
        st, out = p.call("POST", "/me/totp/confirm", {"code": pcodes.fresh(),
                                                      "password": NEWPW})
        assert st == 200, out
        assert p.cookie != old and gone(ACCOUNT_COOKIE, old)
        assert p.call("GET", "/me")[0] == 200

        # A sign-in with a session's cookie: a new id, and that one ends.
        again = Api(s)
        assert again.login(ADMIN_PW)[0] == 401  # 2FA on: the code is asked
        old = admin.cookie
        st, _, out = admin.call("POST", "/session", {"password": ADMIN_PW})
        assert st == 401 and out["code"] == "totp_required", out
        assert not gone(ADMIN_COOKIE, old)  # no sign-in: it stays
        b = Portal(s, source="127.0.0.7")
        b.cookie = p.cookie  # the browser still holds the first one
        old = p.cookie
        st, out = b.call("POST", "/me/session", {"email": USER, "password": NEWPW})
        assert st == 401 and out.get("code") == "totp_required", out
        assert not gone(ACCOUNT_COOKIE, old)
        assert p.call("POST", "/me/totp/disable", {"code": pcodes.fresh(),
                                                   "password": NEWPW})[0] == 204
        b.cookie = old = p.cookie
        st, out = b.call("POST", "/me/session", {"email": USER, "password": NEWPW})
        assert st == 200 and b.cookie != old, out
        assert gone(ACCOUNT_COOKIE, old) and not gone(ACCOUNT_COOKIE, b.cookie)


def test_no_account_pushes_out_anothers_sessions():
    """Every account holds at most 8 sessions of the 256 the table has,
    the admin too, and portal sessions leave the admin's 8 alone. Before,
    the admin was not capped and a full table dropped the least recently
    used session, whoever's: the admin signing in 260 times ended every
    portal session (and 32 accounts signing in 8 times each would end the
    admin's). Now the admin's own oldest go; 32 accounts filling their
    share leave the admin's session and an account signed in once alone."""
    from concurrent.futures import ThreadPoolExecutor
    from httpc import Api
    users = [("u%02d@example.test" % i, PW) for i in range(33)]
    s, admin = admin_server(password=ADMIN_PW, accounts=users)
    with s:
        once = Portal(s, source="127.0.0.6")
        assert once.login(email=users[0][0])[0] == 200

        def admin_sign_in(_):
            return Api(s, source="127.0.0.7").call("POST", "/session", {"password": ADMIN_PW})[0]

        # Two at a time: the HTTP side checks two passwords at once.
        with ThreadPoolExecutor(2) as ex:
            statuses = list(ex.map(admin_sign_in, range(260)))
        assert set(statuses) == {200}, statuses
        assert once.call("GET", "/me")[0] == 200
        assert admin.call("GET", "/accounts")[0] == 401  # the admin's own oldest went
        assert admin.login(ADMIN_PW)[0] == 200

        def user_sign_in(u):
            return Portal(s).call("POST", "/me/session", {"email": u, "password": PW})[0]

        with ThreadPoolExecutor(2) as ex:
            statuses = list(ex.map(user_sign_in, [u for u, _ in users[1:] for _ in range(8)]))
        assert set(statuses) == {200}, statuses
        assert admin.call("GET", "/accounts")[0] == 200
        assert once.call("GET", "/me")[0] == 200
