"""httpc.py — a small HTTPS client for the REST API tests (http.client).

Keeps the session cookie and CSRF token the way the web UI does, or sends a
bearer token; returns (status, headers, parsed JSON or raw bytes).
"""
import http.client
import json
import ssl

# The session cookies' names (API.md, Authentication): the admin's and an
# account's portal's, with the __Host- prefix.
ADMIN_COOKIE = "__Host-tern_session"
ACCOUNT_COOKIE = "__Host-tern_account"


def tls_ctx(cafile=None):
    if cafile:
        c = ssl.create_default_context(cafile=cafile)
        c.check_hostname = False
        return c
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


class Api:
    def __init__(self, server, https=True, source=None, cookie_name=ADMIN_COOKIE):
        self.s = server
        # ADMIN_COOKIE: the admin's; ACCOUNT_COOKIE: an account's portal session.
        self.cookie_name = cookie_name
        self.https = https
        self.source = (source, 0) if source else None  # a loopback address of its own
        self.cookie = None
        self.csrf = None
        self.token = None
        self.setup_code = None
        # The admin password, sent as the web UI does with a session's
        # DELETE (each asks for it again); body={} sends none.
        self.password = None

    def conn(self):
        if self.https:
            return http.client.HTTPSConnection("127.0.0.1", self.s.https_port, timeout=30,
                                               context=tls_ctx(), source_address=self.source)
        return http.client.HTTPConnection("127.0.0.1", self.s.http_port, timeout=30,
                                          source_address=self.source)

    def raw(self, method, path, body=None, headers=None):
        """(status, headers dict lowercased, bytes)."""
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def call(self, method, path, body=None, headers=None, csrf=True, auth=True, ctype=None):
        h = dict(headers or {})
        data = None
        if (body is None and method == "DELETE" and self.cookie and self.password and
                not path.split("?")[0].endswith("/session")):
            body = {"password": self.password}
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h.setdefault("Content-Type", ctype or "application/json")
        if auth and self.token:
            h["Authorization"] = "Bearer " + self.token
        if auth and self.cookie:
            h["Cookie"] = "%s=%s" % (self.cookie_name, self.cookie)
            if csrf and self.csrf:
                h["X-CSRF-Token"] = self.csrf
        if self.setup_code:
            h.setdefault("X-Setup-Code", self.setup_code)
        st, hd, raw = self.raw(method, "/api/v1" + path if path.startswith("/") else path, data, h)
        ct = hd.get("content-type", "")
        out = json.loads(raw) if raw and "json" in ct else raw
        if hd.get("set-cookie", "").startswith(self.cookie_name + "="):
            val = hd["set-cookie"].split(";")[0].split("=", 1)[1]
            self.cookie = val or None
        if isinstance(out, dict) and "csrf" in out:
            self.csrf = out["csrf"]
        return st, hd, out

    def login(self, password):
        r = self.call("POST", "/session", {"password": password})
        if r[0] == 200:
            self.password = password
        return r


def setup_code_from_log(server):
    import re
    m = re.search(r"event=setup_code code=([A-Z0-9-]+)", server.log_text())
    return m.group(1) if m else None


# admin_server()'s admin password, for the routes an admin session may use
# only with it (a new account, an account's password, forwarding, ...).
ADMIN_PW = "admin-password-1-Vq8r"


def admin_server(password=ADMIN_PW, **kw):
    """A server whose admin exists (set up through the wizard API), logged in."""
    from harness import Server
    s = Server(http=True, **kw)
    a = Api(s)
    a.setup_code = setup_code_from_log(s)
    st, _, body = a.call("POST", "/setup/admin", {"password": password})
    assert st == 201, body
    a.setup_code = None
    a.password = password
    return s, a
