"""JMAP PushSubscription (RFC 8620 §7.2) with Web Push (RFC 8291, RFC 8292):
get/set and their rules, the PushVerification POSTed to the client's URL
and its code echoed back, StateChanges POSTed after a delivery, over
HTTPS verified with the trust anchors (the receiver's CA given by
TERN_TLS_CA_FILE). With keys the body is decrypted here with the
`cryptography` package (aes128gcm, ECDH P-256, HKDF) and the VAPID JWT's
ES256 signature checked against the session's applicationServerKey;
without keys it is plain JSON. A subscription is its login's: another
login does not see it, and it is destroyed once that login's credentials
change or the account goes (a record from before the stamp, too). The
address guard: a server without
TERN_JMAP_PUSH_PRIVATE=on refuses a loopback push URL, and one in any
special-purpose range (benchmarking, NAT64 of a private address, ...); a bad value stops
start-up (exit 2)."""
import base64
import http.server
import json
import os
import queue
import re
import shutil
import smtplib
import ssl
import subprocess
import tempfile
import threading
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from harness import LoopbackHTTPServer, Server, message
from jmapc import CORE, Jmap

EVE = ("eve@example.test", "eve-password-1")
VAPID = "urn:ietf:params:jmap:webpush-vapid"


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Receiver:
    """An HTTPS push endpoint on loopback whose certificate comes from a
    CA of its own (ca: for TERN_TLS_CA_FILE); every POST goes to .got."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="tern-push-")
        run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, cwd=self.tmp)
        self.ca = os.path.join(self.tmp, "ca.pem")
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", "ca.key", "-out", self.ca, "-days", "2", "-subj", "/CN=push CA",
            "-addext", "basicConstraints=critical,CA:TRUE")
        with open(os.path.join(self.tmp, "ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1")
        run("openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "ext", "-out", "srv.pem")
        self.got = queue.Queue()
        got = self.got
        # Paths that take the request and then answer nothing until
        # released (a push service that stalls).
        self.stall, self.release = set(), threading.Event()
        stall, release = self.stall, self.release
        self.gone = gone = set()  # paths answered 410 Gone
        self.fail = fail = set()  # paths answered 503
        self.big = big = set()  # paths answered with a 64 KiB body

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                got.put((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if self.path in stall:
                    release.wait(30)
                self.send_response(410 if self.path in gone else 503 if self.path in fail else 201)
                pad = b"x" * (64 * 1024) if self.path in big else b""
                self.send_header("Content-Length", str(len(pad)))
                self.end_headers()
                self.wfile.write(pad)

            def log_message(self, *a):
                pass

        self.httpd = LoopbackHTTPServer(("127.0.0.1", 0), H)
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        c.load_cert_chain(os.path.join(self.tmp, "srv.pem"), os.path.join(self.tmp, "srv.key"))
        self.httpd.socket = c.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    def next(self, timeout=10):
        try:
            return self.got.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("nothing POSTed within %ss" % timeout)

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        shutil.rmtree(self.tmp, ignore_errors=True)


def decrypt(body, priv, pub, auth):
    """RFC 8291 §3.4 / RFC 8188 as a user agent does it."""
    salt, rs, idlen = body[:16], int.from_bytes(body[16:20], "big"), body[20]
    as_pub, ct = body[21:21 + idlen], body[21 + idlen:]
    assert idlen == 65 and rs >= len(ct), (idlen, rs, len(ct))
    shared = priv.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), as_pub))
    ikm = HKDF(hashes.SHA256(), 32, salt=auth, info=b"WebPush: info\x00" + pub + as_pub).derive(shared)
    cek = HKDF(hashes.SHA256(), 16, salt=salt, info=b"Content-Encoding: aes128gcm\x00").derive(ikm)
    nonce = HKDF(hashes.SHA256(), 12, salt=salt, info=b"Content-Encoding: nonce\x00").derive(ikm)
    pt = AESGCM(cek).decrypt(nonce, ct, None)
    assert pt.endswith(b"\x02"), pt  # the last record's delimiter, no padding
    return json.loads(pt[:-1])


def check_vapid(hd, server_key, aud):
    m = re.fullmatch(r"vapid t=([\w-]+)\.([\w-]+)\.([\w-]+), k=([\w-]+)", hd["authorization"])
    assert m, hd["authorization"]
    assert m.group(4) == server_key
    head, claims, sig = json.loads(b64d(m.group(1))), json.loads(b64d(m.group(2))), b64d(m.group(3))
    assert head == {"typ": "JWT", "alg": "ES256"}, head
    assert claims["aud"] == aud and claims["exp"] > time.time() + 3600, claims
    assert claims["sub"].startswith("mailto:"), claims
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64d(server_key))
    key.verify(encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")),
               (m.group(1) + "." + m.group(2)).encode(), ec.ECDSA(hashes.SHA256()))


def pset(j, args):
    r = j.call([["PushSubscription/set", args, "p"]], using=(CORE,))["methodResponses"]
    assert r[0][0] == "PushSubscription/set", r
    return r[0][1]


def pget(j, args=None):
    r = j.call([["PushSubscription/get", args or {}, "g"]], using=(CORE,))["methodResponses"]
    assert r[0][0] == "PushSubscription/get", r
    return r[0][1]


def test_pushsubscription_webpush():
    rx = Receiver()
    s = Server(accounts=[EVE], imap=True, http=True,
               env={"TERN_JMAP_PUSH_PRIVATE": "on", "TERN_TLS_CA_FILE": rx.ca})
    try:
        j = Jmap(s, *EVE)
        sess = j.session()
        server_key = sess["capabilities"][VAPID]["applicationServerKey"]
        assert len(b64d(server_key)) == 65 and b64d(server_key)[0] == 4
        assert s.wait_log("event=push_private_allowed")

        # The user agent's keys (RFC 8291 §2).
        priv = ec.generate_private_key(ec.SECP256R1())
        pub = priv.public_key().public_bytes(serialization.Encoding.X962,
                                             serialization.PublicFormat.UncompressedPoint)
        auth = os.urandom(16)
        # Refusals: a URL that is not https, a verificationCode on create.
        r = pset(j, {"create": {"a": {"deviceClientId": "d", "url": "http://x/"},
                                "b": {"deviceClientId": "d", "url": rx.url("/b"),
                                      "verificationCode": "x"}}})
        assert {k: r["notCreated"]["a"][k] for k in ("type", "properties")} == {
            "type": "invalidProperties", "properties": ["url"]}, r
        assert r["notCreated"]["b"]["properties"] == ["verificationCode"], r
        # Keys Web Push cannot encrypt to (RFC 8291 section 3.2): a point
        # off the curve, a short one, an auth secret not of 16 octets.
        off = bytearray(pub)
        off[64] ^= 1
        bad_keys = {"off": {"p256dh": b64e(bytes(off)), "auth": b64e(auth)},
                    "short": {"p256dh": b64e(pub[:33]), "auth": b64e(auth)},
                    "auth": {"p256dh": b64e(pub), "auth": b64e(auth[:8])},
                    "b64": {"p256dh": b64e(pub) + "*", "auth": b64e(auth)}}
        r = pset(j, {"create": {k: {"deviceClientId": "d", "url": rx.url("/k"), "keys": v}
                                for k, v in bad_keys.items()}})
        assert not r["created"] and {k: v["properties"] for k, v in r["notCreated"].items()} == {
            k: ["keys"] for k in bad_keys}, r
        r = pset(j, {"create": {"k1": {"deviceClientId": "phone", "url": rx.url("/wp/1"),
                                       "keys": {"p256dh": b64e(pub), "auth": b64e(auth)},
                                       "types": ["Email"]}}})
        sid = r["created"]["k1"]["id"]
        assert re.fullmatch(r"P[0-9a-f]{16}", sid) and r["created"]["k1"]["expires"], r

        # The verification, encrypted, with VAPID.
        path, hd, body = rx.next()
        assert path == "/wp/1" and hd["content-encoding"] == "aes128gcm", hd
        assert hd["ttl"] == "86400" and hd["content-type"] == "application/octet-stream", hd
        assert hd["urgency"] == "normal", hd  # the client is waiting for it
        check_vapid(hd, server_key, "https://127.0.0.1:%d" % rx.port)
        v = decrypt(body, priv, pub, auth)
        assert v["@type"] == "PushVerification" and v["pushSubscriptionId"] == sid, v
        code = v["verificationCode"]

        g = pget(j)
        assert g["list"] == [{"id": sid, "deviceClientId": "phone", "verificationCode": None,
                              "expires": r["created"]["k1"]["expires"], "types": ["Email"]}], g
        # url and keys are write-only.
        # Asked for by name: forbidden (RFC 8620 section 7.2.1), not an
        # unknown property.
        for p in ("url", "keys"):
            r = j.call([["PushSubscription/get", {"properties": ["id", p]}, "g"]], using=(CORE,))
            assert r["methodResponses"][0][:2] == ["error", {
                "type": "forbidden", "description": "url and keys are never returned"}], r
        # Nothing is pushed before it is verified; a wrong code is refused.
        r = pset(j, {"update": {sid: {"verificationCode": "wrong"}}})
        assert r["notUpdated"][sid]["type"] == "invalidProperties", r
        r = pset(j, {"update": {sid: {"verificationCode": code}}})
        assert r["updated"] == {sid: None}, r
        assert pget(j)["list"][0]["verificationCode"] == code
        # expires: an expiry past the server's limit is shortened, and
        # updated says to what (RFC 8620 §5.3, §7.2); one within it is
        # kept (updated null); a value that is no UTCDate is refused.
        r = pset(j, {"update": {sid: {"expires": "2999-01-01T00:00:00Z"}}})
        cut = r["updated"][sid]["expires"]
        assert cut < "2999" and pget(j)["list"][0]["expires"] == cut, r
        soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        r = pset(j, {"update": {sid: {"expires": soon}}})
        assert r["updated"] == {sid: None} and pget(j)["list"][0]["expires"] == soon, r
        r = pset(j, {"update": {sid: {"expires": "tomorrow"}}})
        assert {k: r["notUpdated"][sid][k] for k in ("type", "properties")} == {
            "type": "invalidProperties", "properties": ["expires"]}, r
        r = pset(j, {"create": {"e": {"deviceClientId": "d", "url": rx.url("/e"), "expires": 5}}})
        assert r["notCreated"]["e"]["properties"] == ["expires"], r

        # A delivery -> a StateChange POSTed, encrypted.
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.sendmail("a@remote.test", [EVE[0]], message(to=EVE[0]).encode())
        path, hd, body = rx.next()
        sc = decrypt(body, priv, pub, auth)
        assert sc["@type"] == "StateChange" and set(sc["changed"][j.account]) == {"Email"}, sc
        _, got = j.one("Email/get", {"ids": []})
        assert sc["changed"][j.account]["Email"] == got["state"], (sc, got)
        # New mail is Urgency: normal (RFC 8030 §5.3), though the
        # subscription asked for Email only; a flag change is a sync that
        # can wait for power or Wi-Fi: low (both were normal).
        assert hd["urgency"] == "normal", hd
        _, q = j.one("Email/query", {})
        _, r = j.one("Email/set", {"update": {q["ids"][0]: {"keywords/$seen": True}}})
        assert r["updated"], r
        path, hd, body = rx.next()
        sc = decrypt(body, priv, pub, auth)
        assert set(sc["changed"][j.account]) == {"Email"} and hd["urgency"] == "low", (sc, hd)

        # Without keys: plain JSON.
        r = pset(j, {"create": {"p": {"deviceClientId": "relay", "url": rx.url("/plain")}}})
        pid = r["created"]["p"]["id"]
        path, hd, body = rx.next()
        assert path == "/plain" and "content-encoding" not in hd and "authorization" not in hd, hd
        v = json.loads(body)
        assert v["@type"] == "PushVerification" and v["pushSubscriptionId"] == pid, v

        r = pset(j, {"destroy": [sid, pid, "Pnope"]})
        assert sorted(r["destroyed"]) == sorted([sid, pid]) and "Pnope" in r["notDestroyed"], r
        assert pget(j)["list"] == []
    finally:
        s.cleanup()
        rx.close()


def test_pushsubscription_guard():
    rx = Receiver()
    s = Server(accounts=[EVE], http=True, env={"TERN_TLS_CA_FILE": rx.ca})
    try:
        j = Jmap(s, *EVE)
        r = pset(j, {"create": {"x": {"deviceClientId": "d", "url": rx.url("/guarded")}}})
        assert "x" in r["created"], r
        assert s.wait_log("event=push_failed subscription=%s kind=verification status=0 "
                          "error=\"the address of 127.0.0.1 is refused" % r["created"]["x"]["id"])
        assert rx.got.empty()
        # The special-purpose ranges beyond private and loopback, and IPv6
        # addresses carrying a private IPv4 one (NAT64, 6to4, Teredo), are
        # refused before any connection too (the whole list: test_cidr).
        hosts = ["198.18.0.1", "192.0.0.170", "240.0.0.1", "[64:ff9b::a00:1]",
                 "[2002:c0a8:101::1]", "[2001:0:4136:e378:8000:63bf:f5ff:fffe]",
                 "[::a00:1]", "[fd00::1]"]
        r = pset(j, {"create": {"h%d" % i: {"deviceClientId": "h%d" % i,
                                            "url": "https://%s/p" % h}
                                for i, h in enumerate(hosts)}})
        for i, h in enumerate(hosts):
            assert s.wait_log("event=push_failed subscription=%s kind=verification status=0 "
                              "error=\"the address of %s is refused"
                              % (r["created"]["h%d" % i]["id"], h.strip("[]")), timeout=3), h
    finally:
        s.cleanup()
        rx.close()
    bad = Server(accounts=[], http=True, start=False)
    try:
        env = dict(bad.env, TERN_JMAP_PUSH_PRIVATE="maybe")
        p = subprocess.run([bad.binary, "serve"], env=env, capture_output=True, timeout=20)
        assert p.returncode == 2, p
        assert b"TERN_JMAP_PUSH_PRIVATE" in p.stderr, p.stderr
    finally:
        bad.cleanup()


ALL_TYPES = ["Mailbox", "Email", "Thread", "EmailDelivery", "Identity", "EmailSubmission",
             "SieveScript", "VacationResponse", "Quota", "ShareNotification"]


def test_pushsubscription_types_are_type_names():
    """types is null or a list of TypeState keys (RFC 8620 section 7.2).
    An unknown name was dropped unseen (["Email", "Emial"] read back
    ["Email"], ["Nope"] an empty list: a client that misspelt a type was
    never told why no push came); Stalwart and Cyrus refuse it with
    invalidProperties, and so do we, at create and at update. A list of
    every type reads back null, which means every type (section 7.2), and
    a list in another order reads back in ours: created and updated then
    say so (section 5.3: what the server set otherwise than asked)."""
    rx = Receiver()
    s = Server(accounts=[EVE], http=True, env={"TERN_TLS_CA_FILE": rx.ca})
    try:
        j = Jmap(s, *EVE)

        def new(d, types):
            return {"deviceClientId": d, "url": rx.url("/t/" + d), "types": types}
        bad = {"typo": ["Email", "Emial"], "unknown": ["Nope"], "star": ["*"],
               "comma": ["Email,Mailbox"], "nul": ["Email\u0000"]}
        r = pset(j, {"create": {k: new(k, v) for k, v in bad.items()}})
        assert not r.get("created") and set(r["notCreated"]) == set(bad), r
        for k, e in r["notCreated"].items():
            assert e["type"] == "invalidProperties" and e["properties"] == ["types"], (k, e)
        assert pget(j)["list"] == []

        r = pset(j, {"create": {"all": new("all", ALL_TYPES), "two": new("two", ["Email", "Mailbox"]),
                                "one": new("one", ["Email"]), "none": new("none", [])}})
        c = r["created"]
        assert set(c) == {"all", "two", "one", "none"}, r
        assert c["all"]["types"] is None and c["two"]["types"] == ["Mailbox", "Email"], c
        assert "types" not in c["one"] and "types" not in c["none"], c
        got = {x["id"]: x["types"] for x in pget(j)["list"]}
        assert got == {c["all"]["id"]: None, c["two"]["id"]: ["Mailbox", "Email"],
                       c["one"]["id"]: ["Email"], c["none"]["id"]: []}, got

        one = c["one"]["id"]
        r = pset(j, {"update": {one: {"types": ["Email", "Quota", "Nope"]}}})
        e = r["notUpdated"][one]
        assert e["type"] == "invalidProperties" and e["properties"] == ["types"], r
        assert pget(j, {"ids": [one]})["list"][0]["types"] == ["Email"]
        for sent, told in ((ALL_TYPES, {"types": None}),
                           (["Quota", "Email"], {"types": ["Email", "Quota"]}),
                           (["Email", "Quota"], None), (None, None)):
            r = pset(j, {"update": {one: {"types": sent}}})
            assert r["updated"] == {one: told}, (sent, r)
            want = told["types"] if told else sent
            assert pget(j, {"ids": [one]})["list"][0]["types"] == want, sent
    finally:
        s.cleanup()
        rx.close()


def deliver(s, to):
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        c.sendmail("a@remote.test", [to], message(to=to).encode())


def subscribe(j, rx, path):
    """A keyless subscription of j's login to rx's path, verified: its id."""
    r = pset(j, {"create": {"s": {"deviceClientId": "dev" + path, "url": rx.url(path)}}})
    sid = r["created"]["s"]["id"]
    got, _, body = rx.next()
    assert got == path and json.loads(body)["pushSubscriptionId"] == sid, (got, body)
    r = pset(j, {"update": {sid: {"verificationCode": json.loads(body)["verificationCode"]}}})
    assert r["updated"] == {sid: None}, r
    return sid


def posted(rx, wait):
    """The paths POSTed within wait seconds."""
    out = []
    deadline = time.time() + wait
    while time.time() < deadline:
        try:
            out.append(rx.got.get(timeout=max(0.01, deadline - time.time()))[0])
        except queue.Empty:
            break
    return sorted(out)


def test_pushsubscription_tied_to_credentials():
    """A subscription belongs to the login that made it (RFC 8620 §7.2):
    /get and /set of another login (here an app password beside the
    account's password) do not see it; once that login's credentials
    change (the app password deleted, the password changed) or the
    account is deleted, nothing more is POSTed to it and its record is
    destroyed (event=pushsub_revoked), while the other login's goes on."""
    rx = Receiver()
    s = Server(accounts=[EVE], imap=True, http=True,
               env={"TERN_JMAP_PUSH_PRIVATE": "on", "TERN_TLS_CA_FILE": rx.ca})
    try:
        app = s.cli("account", "app-password", "add", EVE[0], "phone").stdout.decode().strip()
        jp, ja = Jmap(s, *EVE), Jmap(s, EVE[0], app)
        acct = int(jp.account[1:], 16)
        pid, aid = subscribe(jp, rx, "/pw"), subscribe(ja, rx, "/app")
        assert [x["id"] for x in pget(jp)["list"]] == [pid]
        assert [x["id"] for x in pget(ja)["list"]] == [aid]
        g = pget(jp, {"ids": [aid]})
        assert g["list"] == [] and g["notFound"] == [aid], g
        r = pset(jp, {"update": {aid: {"types": ["Email"]}}, "destroy": [aid]})
        assert list(r["notUpdated"]) == [aid] and list(r["notDestroyed"]) == [aid], r
        deliver(s, EVE[0])
        assert posted(rx, 3) == ["/app", "/pw"]

        # The app password goes: its subscription goes, the password's stays.
        # Delivered at once: checked before the POST, not only by the
        # once-a-second watch.
        s.cli("account", "app-password", "del", EVE[0], "phone")
        deliver(s, EVE[0])
        assert posted(rx, 3) == ["/pw"]
        assert s.wait_log("event=pushsub_revoked account=%d reason=credentials_changed id=%s "
                          "removed=1" % (acct, aid)), s.log_text()[-3000:]

        # A new password: the old login's subscription goes.
        new = ("eve@example.test", "eve-password-2-Vq8r")
        s.cli("account", "passwd", EVE[0], input=new[1] + "\n")
        deliver(s, EVE[0])
        assert posted(rx, 3) == []
        assert s.wait_log("event=pushsub_revoked account=%d reason=credentials_changed id=%s "
                          "removed=1" % (acct, pid)), s.log_text()[-3000:]
        jn = Jmap(s, *new)
        assert pget(jn)["list"] == []

        # The account goes: so does the subscription its last login made.
        nid = subscribe(jn, rx, "/new")
        s.cli("account", "del", EVE[0])
        assert s.wait_log("event=pushsub_revoked account=%d reason=account_deleted id=%s "
                          "removed=1" % (acct, nid)), s.log_text()[-3000:]
        assert rx.got.empty()
    finally:
        s.cleanup()
        rx.close()


def test_pushsubscription_stalled_endpoint():
    """A push service that takes a StateChange and never answers holds
    its own subscription only: one request at a time per subscription
    (the changes meanwhile fold into one), while the account's other
    subscription is told of each delivery and the API answers; once the
    stalled one answers, the folded change follows. One that answers 410
    Gone loses its subscription. A PushVerification answered 503 is sent
    again; an answer longer than 16 KiB is not read."""
    rx = Receiver()
    s = Server(accounts=[EVE], imap=True, http=True,
               env={"TERN_JMAP_PUSH_PRIVATE": "on", "TERN_TLS_CA_FILE": rx.ca})
    try:
        j = Jmap(s, *EVE)
        # A PushVerification the service failed is sent again (the
        # client has no other way to the code).
        rx.fail.add("/retry")
        r = pset(j, {"create": {"r": {"deviceClientId": "dev/retry", "url": rx.url("/retry")}}})
        path, _, first = rx.next()
        assert path == "/retry" and json.loads(first)["@type"] == "PushVerification", first
        rx.fail.discard("/retry")
        path, _, again = rx.next()
        assert path == "/retry" and json.loads(again) == json.loads(first), again
        pset(j, {"destroy": [r["created"]["r"]["id"]]})
        # An answer far longer than a push service sends is not read.
        rx.big.add("/big")
        r = pset(j, {"create": {"b": {"deviceClientId": "dev/big", "url": rx.url("/big")}}})
        bid = r["created"]["b"]["id"]
        assert rx.next()[0] == "/big"
        assert s.wait_log("event=push_failed subscription=%s kind=verification status=0 "
                          "error=\"response larger than 16384 bytes\"" % bid), s.log_text()[-2000:]
        pset(j, {"destroy": [bid]})
        subscribe(j, rx, "/live")
        subscribe(j, rx, "/dead")
        rx.stall.add("/dead")
        deliver(s, EVE[0])
        assert sorted([rx.next()[0], rx.next()[0]]) == ["/dead", "/live"]
        for _ in range(2):
            deliver(s, EVE[0])
            assert rx.next()[0] == "/live"
        assert posted(rx, 1) == []  # /dead's are held, not sent beside
        assert pget(j)["list"]  # the API answers meanwhile
        rx.release.set()
        assert rx.next()[0] == "/dead"  # the two held changes, as one
        assert posted(rx, 1) == []

        # A push service that answers 410 Gone (RFC 8030 section 7.3: the
        # subscription is no more): its subscription is removed, the
        # other goes on.
        gid = subscribe(j, rx, "/gone")
        rx.gone.add("/gone")
        deliver(s, EVE[0])
        assert posted(rx, 2) == ["/dead", "/gone", "/live"]
        assert s.wait_log("event=pushsub_revoked account=%d reason=push_service_gone id=%s "
                          "removed=1" % (int(j.account[1:], 16), gid)), s.log_text()[-3000:]
        assert gid not in [x["id"] for x in pget(j)["list"]]
        deliver(s, EVE[0])
        assert posted(rx, 2) == ["/dead", "/live"]
    finally:
        s.cleanup()
        rx.close()


def test_pushsubscription_without_stamp():
    """A store from before subscriptions kept their login's stamp: tern
    starts on it, keeps its mail, and destroys the record it cannot tie to
    credentials (reason=no_stamp) instead of POSTing to it; a new
    subscription works. The old record is made here by renaming the
    stamp's key in data.mdb ("s" to "z", same length: LMDB keeps small
    values in place, without a checksum), as an older build left it."""
    rx = Receiver()
    s = Server(accounts=[EVE], imap=True, http=True,
               env={"TERN_JMAP_PUSH_PRIVATE": "on", "TERN_TLS_CA_FILE": rx.ca})
    try:
        j = Jmap(s, *EVE)
        acct = int(j.account[1:], 16)
        sid = subscribe(j, rx, "/old")
        deliver(s, EVE[0])
        assert posted(rx, 3) == ["/old"]
        s.stop()
        path = os.path.join(s.data, "data.mdb")
        with open(path, "rb") as f:
            raw = f.read()
        stamp = re.compile(rb'("y":\d+,"p":\d+,)"s"(:"[0-9a-f]{16}")')
        assert stamp.search(raw), "no stamped subscription record found"
        with open(path, "wb") as f:
            f.write(stamp.sub(rb'\1"z"\2', raw))
        s.start()
        assert s.wait_log("event=pushsub_revoked account=%d reason=no_stamp id=%s removed=1"
                          % (acct, sid)), s.log_text()[-3000:]
        assert pget(j)["list"] == []
        deliver(s, EVE[0])
        assert posted(rx, 3) == []
        assert len(s.messages(EVE[0])) == 2
        subscribe(j, rx, "/again")
        deliver(s, EVE[0])
        assert posted(rx, 3) == ["/again"]
    finally:
        s.cleanup()
        rx.close()


def test_pushsubscription_every_type_survives_new_types():
    """A subscription made with types null means every type (RFC 8620
    section 7.2), the ones the server learns later too. Its record kept
    the mask of the types there were: one written before
    ShareNotification ("y":511, nine types) read back as a list of those
    nine after the upgrade, so the client was never told a
    ShareNotification change. The old record is made here by rewriting
    the stored value in data.mdb in place, same length (as
    test_pushsubscription_without_stamp does): its mask to the nine
    types, and the key newer builds add renamed to one no reader knows.
    An explicit list is kept as it was."""
    rx = Receiver()
    s = Server(accounts=[EVE], http=True, env={"TERN_TLS_CA_FILE": rx.ca})
    try:
        j = Jmap(s, *EVE)
        nine = [t for t in ALL_TYPES if t != "ShareNotification"]
        r = pset(j, {"create": {
            "all": {"deviceClientId": "every-type", "url": rx.url("/all"), "types": None},
            "some": {"deviceClientId": "some-types", "url": rx.url("/some"),
                     "types": ["Email", "Quota"]}}})
        ids = {k: v["id"] for k, v in r["created"].items()}
        assert set(ids) == {"all", "some"}, r
        s.stop()
        path = os.path.join(s.data, "data.mdb")
        with open(path, "rb") as f:
            raw = f.read()
        rec = re.compile(rb'(\{"d":"every-type"[^}]*"y":)1023(,[^}]*?)(?:"w"(:-1))?\}')
        assert rec.search(raw), "no subscription record with every type found"
        raw = rec.sub(lambda m: m.group(1) + b" 511" + m.group(2) +
                      (b'"_"' + m.group(3) if m.group(3) else b"") + b"}", raw)
        with open(path, "wb") as f:
            f.write(raw)
        s.start()
        got = {x["id"]: x["types"] for x in pget(j)["list"]}
        assert got == {ids["all"]: None, ids["some"]: ["Email", "Quota"]}, got
        # Written again by an update, it stays every type.
        r = pset(j, {"update": {ids["all"]: {"expires": None}}})
        assert ids["all"] in r["updated"], r
        assert pget(j, {"ids": [ids["all"]]})["list"][0]["types"] is None
        # A list of the nine is kept as a list.
        r = pset(j, {"update": {ids["some"]: {"types": nine}}})
        assert ids["some"] in r["updated"], r
        assert pget(j, {"ids": [ids["some"]]})["list"][0]["types"] == nine
    finally:
        s.cleanup()
        rx.close()


def test_pushsubscription_tells_shared_accounts():
    """An account another user shares with the subscription's (RFC 8620
    section 1.6.2; IMAP ACL grants) is followed too, as EventSource and
    WebSocket follow it: a change there is POSTed as a StateChange naming
    the owner's account, with the owner's state and no EmailDelivery (the
    owner's new mail is not the user's)."""
    from test_imap import login
    bob = ("bob@example.test", "bob-password-1Xy")
    rx = Receiver()
    s = Server(accounts=[EVE, bob], imap=True, http=True,
               env={"TERN_JMAP_PUSH_PRIVATE": "on", "TERN_TLS_CA_FILE": rx.ca})
    try:
        m = login(s, user=bob[0], pw=bob[1])
        assert m.create("Team")[0] == "OK"
        m.logout()
        s.cli("acl", "set", bob[0], "Team", EVE[0], "lr")
        je, jb = Jmap(s, *EVE), Jmap(s, *bob)
        acct = int(je.account[1:], 16)
        sid = subscribe(je, rx, "/shared")
        assert s.wait_log("event=push_shared kind=pushsub account=%d owners=1 id=%s"
                          % (acct, sid), 30), s.log_text()[-3000:]
        m = login(s, user=bob[0], pw=bob[1])
        assert m.append("Team", None, None, b"Subject: shared\r\n\r\nx\r\n")[0] == "OK"
        m.logout()
        path, hd, body = rx.next(30)
        assert path == "/shared", (path, body)
        ev = json.loads(body)
        assert ev["@type"] == "StateChange", ev
        assert list(ev["changed"]) == [jb.account], ev
        assert set(ev["changed"][jb.account]) == {"Mailbox", "Email", "Thread"}, ev
        assert hd["urgency"] == "low", hd
        r = je.call([["Email/get", {"accountId": jb.account, "ids": []}, "g"]])
        assert ev["changed"][jb.account]["Email"] == r["methodResponses"][0][1]["state"], (ev, r)
    finally:
        s.cleanup()
        rx.close()
