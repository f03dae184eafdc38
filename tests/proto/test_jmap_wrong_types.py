"""Every JMAP method against arguments of the wrong type, at every depth:
each request of fuzz_jmap_request's corpus (tests/fuzz/corpus/, requests
for every method family, Email/set create with every header form among
them) is sent again with one of its values, anywhere inside methodCalls,
replaced by a value of another type (number, string, empty string,
array, array of arrays, array of objects, object, object of arrays,
null, boolean, negative number). Every answer must be a JSON object with
status 200 or 400, its names never repeated at any depth, and the server
must stay up: an array of elements given for an Email took it down once
(a member walk of an array met a null key). Each request is also sent
with a property asked twice, which once gave an Email's header property
twice in one object. One persistent connection; about 9,000 requests."""
import base64
import copy
import http.client
import json
import os
import smtplib
import ssl
import time

from harness import Server

ACC = ("wren@example.test", "wren-pw-1")
CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "corpus",
                      "fuzz_jmap_request")
WRONG = [7, "x", "", [1], [[1]], [{"a": 1}], {"a": 1}, {"a": [1]}, None, True, -1]
USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail",
         "urn:ietf:params:jmap:submission", "urn:ietf:params:jmap:vacationresponse",
         "urn:ietf:params:jmap:sieve", "urn:ietf:params:jmap:blob",
         "urn:ietf:params:jmap:quota", "urn:ietf:params:jmap:mdn"]


def paths(v, p=()):
    """Every path into v (keys and indexes), v's own () first."""
    yield p
    if isinstance(v, dict):
        for k, x in v.items():
            yield from paths(x, p + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from paths(x, p + (i,))


def unique_names(pairs):
    """json.loads hook: an object whose names repeat is an error (RFC 8259
    §4: names SHOULD be unique; a client keeps one of them at random)."""
    names = [k for k, _ in pairs]
    assert len(set(names)) == len(names), "names repeated: %r" % names
    return dict(pairs)


def replaced(v, p, new):
    v = copy.deepcopy(v)
    cur = v
    for k in p[:-1]:
        cur = cur[k]
    cur[p[-1]] = new
    return v


def repeat_properties(v):
    """v with every entry of every "properties" and "bodyProperties" list
    given twice."""
    if isinstance(v, dict):
        return {k: (x + x if k in ("properties", "bodyProperties") and isinstance(x, list)
                    else repeat_properties(x)) for k, x in v.items()}
    if isinstance(v, list):
        return [repeat_properties(x) for x in v]
    return v


MSGS = [
    "Message-ID: <a@x>\r\nFrom: A <a@x>\r\nSubject: hi\r\n\r\none\r\n",
    "In-Reply-To: <a@x>\r\nFrom: b@x\r\nSubject: Re: hi\r\n\r\ntwo\r\n",
    "Subject: other\r\n\r\nthree\r\n",
    "To: a@x\r\nSubject: one\r\nTo: B <b@x>, c@x\r\nSubject: two\r\nReferences: <a@x>\r\n"
    "References: <b@x>\r\n\r\nfour\r\n",
]


def wait_emails(c, acct, n):
    """Until the account holds n emails, as E00000001.. (the corpus's ids)."""
    req = {"using": USING, "methodCalls": [["Email/query", {"accountId": acct}, "q"]]}
    for _ in range(200):
        st, out = c.send("POST", "/jmap/api/", json.dumps(req).encode())
        ids = json.loads(out)["methodResponses"][0][1].get("ids", [])
        if len(ids) >= n:
            assert "E%08d" % n in ids, ids
            return
        time.sleep(0.05)
    raise AssertionError("%d emails not delivered" % n)


class Conn:
    """POSTs to /jmap/api/ over one kept-alive TLS connection."""

    def __init__(self, s):
        self.s = s
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE
        self.auth = "Basic " + base64.b64encode(("%s:%s" % ACC).encode()).decode()
        self.c = None

    def send(self, method, path, body=None):
        for attempt in (0, 1):
            if self.c is None:
                self.c = http.client.HTTPSConnection("127.0.0.1", self.s.https_port, timeout=30,
                                                     context=self.ctx)
            try:
                self.c.request(method, path, body=body, headers={
                    "Authorization": self.auth, "Content-Type": "application/json"})
                r = self.c.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                # The server may close a kept-alive connection; once.
                self.c.close()
                self.c = None
                if attempt:
                    raise


def test_jmap_every_argument_of_the_wrong_type():
    with Server(accounts=[ACC], imap=True, http=True, submission=True) as s:
        c = Conn(s)
        st, body = c.send("GET", "/jmap/session")
        assert st == 200, (st, body)
        acct = list(json.loads(body)["accounts"])[0]
        # The fuzz harness's four emails (a thread, repeated fields), so
        # Email/get and Thread/get of the corpus's ids find something.
        smtp = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30)
        for m in MSGS:
            smtp.sendmail("a@remote.test", [ACC[0]], m)
            wait_emails(c, acct, MSGS.index(m) + 1)
        smtp.quit()
        s.cli("sieve", "put", ACC[0], "rules", input='require "fileinto";\nif true { fileinto "x"; }\n')
        s.cli("sieve", "activate", ACC[0], "rules")
        sent, statuses = 0, {}
        for fn in sorted(os.listdir(CORPUS)):
            with open(os.path.join(CORPUS, fn), "rb") as f:
                raw = f.read().replace(b"A00000001", acct.encode())
            try:
                req = json.loads(raw)
            except ValueError:
                continue  # the corpus also holds inputs that are no JSON
            if not isinstance(req, dict) or not isinstance(req.get("methodCalls"), list):
                continue
            req["using"] = USING
            for p in list(paths(req)):
                if len(p) < 3 or p[0] != "methodCalls":
                    continue  # the arguments and below; the envelope has its own tests
                for w in WRONG:
                    body = json.dumps(replaced(req, p, w)).encode()
                    try:
                        st, out = c.send("POST", "/jmap/api/", body)
                    except OSError as e:
                        raise AssertionError("no answer (%s) to %s" % (e, body[:800]))
                    sent += 1
                    statuses[st] = statuses.get(st, 0) + 1
                    assert st in (200, 400), (st, out[:300], body[:800])
                    assert isinstance(json.loads(out, object_pairs_hook=unique_names), dict), \
                        (out[:300], body[:800])
            assert s.proc.poll() is None, "the server exited after %s" % fn
            # The request as it was, each property asked twice.
            body = json.dumps(repeat_properties(req)).encode()
            st, out = c.send("POST", "/jmap/api/", body)
            assert st in (200, 400), (st, out[:300])
            json.loads(out, object_pairs_hook=unique_names)
        print("%d requests, answers by status %r" % (sent, statuses))
        assert sent > 3000 and statuses.get(200, 0) > 1000, (sent, statuses)
