"""jmapc.py — a small JMAP client for the protocol tests (http.client over
TLS, Basic authentication), and one shared server per test module.

    s = shared_server()            # started once per module, stopped at exit
    j = Jmap(s, "bob@example.test", "pw")
    j.call([["Core/echo", {"a": 1}, "c1"]])   -> the parsed Response
    j.post(b"raw body")                       -> (status, headers, parsed or bytes)

MAIL and CORE are the capability URIs; j.account is the account id from the
session resource.
"""
import atexit
import base64
import http.client
import json
import ssl

from harness import Server

CORE = "urn:ietf:params:jmap:core"
MAIL = "urn:ietf:params:jmap:mail"

_shared = {}


def shared_server(accounts, **kw):
    """One server per module (and account list): IMAP and HTTPS on."""
    key = tuple(accounts)
    if key not in _shared:
        s = Server(accounts=accounts, imap=True, http=True, **kw)
        _shared[key] = s
        atexit.register(s.cleanup)
    return _shared[key]


def _ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


class Jmap:
    def __init__(self, server, user=None, password=None):
        self.s = server
        self.user, self.password = user, password
        self._account = None

    def headers(self, extra=None):
        h = {}
        if self.user is not None:
            cred = ("%s:%s" % (self.user, self.password)).encode()
            h["Authorization"] = "Basic " + base64.b64encode(cred).decode()
        h.update(extra or {})
        return h

    def request(self, method, path, body=None, headers=None):
        """(status, headers lowercased, parsed JSON when JSON else bytes)."""
        c = http.client.HTTPSConnection("127.0.0.1", self.s.https_port, timeout=30, context=_ctx())
        try:
            c.request(method, path, body=body, headers=self.headers(headers))
            r = c.getresponse()
            data = r.read()
            hd = {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        if "json" in hd.get("content-type", "") and data:
            data = json.loads(data)
        return r.status, hd, data

    def session(self):
        st, hd, body = self.request("GET", "/jmap/session")
        assert st == 200, (st, body)
        return body

    @property
    def account(self):
        if self._account is None:
            self._account = self.session()["primaryAccounts"][MAIL]
        return self._account

    def post(self, body, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return self.request("POST", "/jmap/api/", body, h)

    def call(self, calls, using=(CORE, MAIL)):
        st, hd, body = self.post(json.dumps({"using": list(using), "methodCalls": calls}))
        assert st == 200, (st, body)
        return body

    def one(self, method, args, using=(CORE, MAIL)):
        """Runs one method with accountId filled in; returns (name, args)."""
        a = dict(args)
        a.setdefault("accountId", self.account)
        r = self.call([[method, a, "c"]], using)["methodResponses"]
        assert len(r) == 1 and r[0][2] == "c", r
        return r[0][0], r[0][1]
