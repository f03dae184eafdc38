"""DKIM and ARC against a second independent implementation: mailauth
(npm, Postal Systems' Node library; tests/mailauth/peer.mjs drives it),
beside dkimpy in test_check_dkim/test_check_arc. Keys are served by the
loopback DNS server (dns_server.py) to both sides: mailauth's resolver
asks it through Node's own DNS client, tern through TERN_DNS_SERVERS.

- mailauth signs, `tern check dkim` and mailauth verify: every
  canonicalization both ways with RSA and Ed25519 over plain, folded and
  odd header sections (8-bit body, no final CRLF, empty body), l= with
  content appended, two signatures on one message, x= expired, and the
  key record's edge cases (t=s, t=y, h=, k=ed25519 and its absence,
  revoked p=, no v=, v= not first, s= of another service, white space in
  and around tags, several TXT strings, no record, SERVFAIL), then the
  same messages tampered;
- tern signs (submission to a local account: what tern really sends) and
  mailauth verifies, the over-signed h= lists included: a From or
  Reply-To added after signing fails both; a raw UTF-8 Subject holding
  the octet 0xA0 is where mailauth fails tern's good signature;
- ARC chains sealed by mailauth of 1-3 hops (a list that rewrites the
  body before sealing, a body broken in transit so the next hop seals
  cv=fail, a hop sealing on after that, a folded AAR, AMS h= lists with
  DKIM-Signature and ARC fields, or ARC-Seal, which RFC 8617 forbids),
  tampered, reordered and doubled, checked by `tern check arc` and
  mailauth alike; tern's own sets (`tern check arc --seal`) on a fresh
  message, on top of mailauth's chain, on a broken chain (cv=fail),
  mailauth sealing on top of tern's set and tern on top of that;
- every 10th message of the spam/ham corpus, signed and sealed by
  mailauth, verified by both (and failed by both once its body changes);
- the RFC 8463 Appendix A vectors (the same message signed with Ed25519
  and RSA) and RFC 6376 Appendix A's example, whose key RFC 6376
  Appendix C gives.

Where the two disagree, RFC 6376/8301/8617 decides; the cases where
mailauth is the one that departs from the RFC are listed in PEER_DEVIATES
with the section, tern's side of them is asserted, and for the
canonicalization ones dkimpy is asked too (it sides with tern). Each
verdict is pass or not: mailauth says "neutral" where tern says
"permerror" or "fail", and RFC 8601 leaves that choice to each."""
import base64
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time

from harness import TERN, keep_sanitizer_output, npm_ci
from mailpeers import SYSTEM_PYTHON, DnsServer
from test_check_arc import domain_keys
from test_submission import ALICE, ALICE_PW, BOB, inbox, smtp587, srv

PEER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mailauth")
D = "example.org"

PLAIN = (b"From: Ann <ann@example.org>\r\n"
         b"To: Bob <bob@example.net>\r\n"
         b"Subject: lunch on Friday\r\n"
         b"Date: Sun, 22 Nov 2026 19:00:00 +0000\r\n"
         b"Message-ID: <lunch.1@example.org>\r\n"
         b"\r\n"
         b"Noon at the usual place?  \r\n"
         b"\r\n"
         b"Ann\r\n")
# Folded and odd fields: a Subject folded over three lines with tabs and
# runs of spaces, no space after a colon, an empty value, white space
# before the colon, a name in odd case, two To fields; an 8-bit body with
# trailing white space, a tab-indented line and trailing empty lines.
ODD = (b"From: =?utf-8?q?Ren=C3=A9?= <rene@example.org>\r\n"
       b"tO: one@example.net\r\n"
       b"To:two@example.net\r\n"
       b"Subject: a long subject\r\n  folded\t over  \r\n\t three lines   \r\n"
       b"X-Empty:\r\n"
       b"X-Spaced  :  value with   runs \t \r\n"
       b"Content-Type: text/plain; charset=utf-8\r\n"
       b"Content-Transfer-Encoding: 8bit\r\n"
       b"\r\n"
       b"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln \t \r\n\tindented line\r\n  \r\n\r\n\r\n")
NOEOL = b"From: x@example.org\r\nSubject:no space\r\n\r\n \t \r\nlast line, no CRLF  "
EMPTY = b"From: x@example.org\r\nSubject: empty body\r\n\r\n"
# Raw UTF-8 in a header field (RFC 6532) and in the body: "voila" with
# a grave accent, whose second octet is 0xA0.
A_GRAVE = ("From: a@example.org\r\nSubject: voil\u00e0 \u00e0 la carte\r\n\r\n"
           "voil\u00e0 \u00e0 \r\n").encode()
ODD_H = "From:To:Subject:X-Empty:X-Spaced:Content-Type:Content-Transfer-Encoding"

# Where mailauth's verdict is not tern's, and the RFC says tern is right
# (or, for t=, leaves the choice to the verifier). case name ->
# (mailauth's verdict, why).
PEER_DEVIATES = {
    "key h=sha1": ("pass", "RFC 6376 §3.6.1 h=: a key record whose h= lacks the signature's hash "
                           "MUST be ignored (PERMFAIL, §6.1.2); mailauth reads no h= in key records"),
    "key ed25519 without k=": ("pass", "RFC 6376 §3.6.1 k=: absent means rsa, and an Ed25519 key is "
                                       "then no RSA key; mailauth guesses the type from the key's length"),
    "key v= not first": ("pass", "RFC 6376 §3.6.1 v=: 'MUST be the first tag in the record'; "
                                 "mailauth reads v= wherever it is"),
    "rsa-sha1": ("pass", "RFC 8301 §3.1: verifiers MUST NOT consider rsa-sha1 signatures valid; "
                         "mailauth still accepts them"),
    # RFC 6376 §3.4.2: relaxed header canonicalization turns runs of WSP
    # (SP and HTAB, RFC 5234 B.1) into one SP; mailauth's turns every
    # JavaScript white space into SP, over the field read as Latin-1: a
    # lone CR, VT, FF and the octet 0xA0, which is in UTF-8 text (the
    # second octet of "a" with a grave accent). dkimpy agrees with tern.
    "relaxed header: 8-bit field with 0xA0 octets": ("pass", "RFC 6376 §3.4.2 (WSP only)"),
    "relaxed header: a lone CR in a field": ("pass", "RFC 6376 §3.4.2 (WSP only)"),
    "relaxed header: VT and FF in a field": ("pass", "RFC 6376 §3.4.2 (WSP only)"),
    "t= a day ahead": ("pass", "RFC 6376 §3.5 t=: verifiers MAY ignore signatures with a timestamp in "
                               "the future; tern does past five minutes of skew, mailauth never"),
    "key s=other": ("pass", "RFC 6376 §3.6.1 s=: a key for other services only is not for email "
                            "(§6.1.2: ignore it); mailauth reads no s= in key records"),
}


def run(cmd, inp=None, env=None, ok=(0,)):
    r = subprocess.run(cmd, input=inp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, env=env)
    err = r.stderr.decode(errors="replace")
    if cmd[0] == TERN:
        keep_sanitizer_output(err, "stderr of " + " ".join(cmd[:3]))
    if r.returncode not in ok:
        raise AssertionError("%s failed (%d): %s" % (cmd[:3], r.returncode, err))
    return r.stdout


class Peer:
    """mailauth through peer.mjs: a list of jobs in, their results out."""

    def __init__(self, tmp, dns):
        self.tmp, self.dns, self.n = tmp, dns, 0

    def __call__(self, jobs):
        self.n += 1
        src, dst = (os.path.join(self.tmp, "peer%d.%s.json" % (self.n, k)) for k in ("in", "out"))
        for j in jobs:
            j["msg"] = base64.b64encode(j["msg"]).decode()
        with open(src, "w") as f:
            json.dump({"dns": self.dns.servers, "jobs": jobs}, f)
        run(["node", os.path.join(PEER_DIR, "peer.mjs"), src, dst])
        out = json.load(open(dst))
        for j, o in zip(jobs, out):
            assert "error" not in o, (j.get("op"), o["error"])
            if "msg" in o:
                o["msg"] = base64.b64decode(o["msg"])
        return out

    def one(self, job):
        return self([job])[0]


class Tern:
    def __init__(self, tmp, dns):
        self.tmp, self.n = tmp, 0
        self.env = dict(os.environ, TERN_DNS_SERVERS=dns.servers, TERN_DATA_DIR=os.path.join(tmp, "data"))

    def check(self, what, msg, *extra):
        self.n += 1
        path = os.path.join(self.tmp, "t%d.eml" % self.n)
        with open(path, "wb") as f:
            f.write(msg)
        return run([TERN, "check", what] + list(extra) + [path], env=self.env).decode().splitlines()

    def dkim(self, msg):
        """The verdict of each signature, top to bottom: pass or fail."""
        out = self.check("dkim", msg)
        return ["pass" if ln.split()[0] == "pass" else "fail" for ln in out
                if " d=" in ln and not ln.startswith("signature")], out


class Workdir:
    """A scratch folder for one test, with mailauth installed; serve(zone)
    starts the loopback DNS server and gives the two sides that use it.
    Everything started is stopped on leaving."""

    def __init__(self, prefix):
        assert shutil.which("node") and shutil.which("npm"), "needs node and npm (scripts/install-test-deps)"
        npm_ci(PEER_DIR)
        self.tmp, self.dns = tempfile.mkdtemp(prefix=prefix), None

    def serve(self, zone):
        self.dns = DnsServer(zone)
        return Peer(self.tmp, self.dns), Tern(self.tmp, self.dns)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.dns:
            self.dns.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def newkeys(tmp):
    """An RSA-2048 and an Ed25519 key: PEM files and their p= values."""
    keys = {}
    for name, args in (("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
                       ("rsa1024", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]),
                       ("rsa512", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:512"]),
                       ("ed", ["-algorithm", "ed25519"])):
        pem = os.path.join(tmp, name + ".pem")
        run(["openssl", "genpkey"] + args + ["-out", pem])
        der = run(["openssl", "pkey", "-in", pem, "-pubout", "-outform", "DER"])
        # Ed25519's p= is the bare 32-octet key (RFC 8463 §4.2).
        keys[name] = (pem, base64.b64encode(der[-32:] if name == "ed" else der).decode())
    return keys


def txt(value, n=255):
    """A TXT record of character-strings of at most n octets."""
    return [[value[i:i + n] for i in range(0, len(value), n)]]


# dkimpy (python3-dkim) as the third opinion where tern and mailauth part
# over canonicalization: its verdict on the first signature of each
# message, keys from the same zone.
DKIMPY = r"""
import json, sys, dkim
zone, msgs = json.load(sys.stdin)
def txt(name, timeout=5):
    r = zone.get(name.decode().rstrip(".").lower())
    return "".join("".join(s) for s in r["TXT"][0]).encode() if r and "TXT" in r else None
print(json.dumps([dkim.DKIM(m.encode("latin-1")).verify(dnsfunc=txt) for m in msgs]))
"""


def dkimpy_verdicts(zone, msgs):
    out = run([SYSTEM_PYTHON, "-c", DKIMPY], json.dumps([zone, [m.decode("latin-1") for m in msgs]]).encode())
    return ["pass" if ok else "fail" for ok in json.loads(out)]


def verdict(r):
    return "pass" if r["result"] == "pass" else "fail"


def dkim_cases(keys):
    """(name, message, [signature specs], mutation or None, tern's verdicts)."""
    rsa, ed = keys["rsa"][0], keys["ed"][0]
    cases = []
    for mname, msg in (("plain", PLAIN), ("odd", ODD), ("noeol", NOEOL), ("empty", EMPTY)):
        for hc in ("simple", "relaxed"):
            for bc in ("simple", "relaxed"):
                for alg, key, sel in (("rsa-sha256", rsa, "rsa"), ("ed25519-sha256", ed, "ed")):
                    spec = {"selector": sel, "key": key, "algorithm": alg, "canonicalization": "%s/%s" % (hc, bc)}
                    name = "%s %s/%s %s" % (mname, hc, bc, alg)
                    cases.append((name, msg, [spec], None, ["pass"]))
                    if mname == "odd":
                        # Tampered: one more space inside the folded Subject
                        # (relaxed header passes), a changed body word.
                        cases.append((name + " +space in Subject", msg, [spec],
                                      lambda m: m.replace(b"folded\t", b"folded \t", 1),
                                      ["pass" if hc == "relaxed" else "fail"]))
                        cases.append((name + " body changed", msg, [spec],
                                      lambda m: m.replace(b"indented", b"Indented"), ["fail"]))
                        cases.append((name + " body white space", msg, [spec],
                                      lambda m: m.replace(b"K\xc3\xb6ln \t", b"K\xc3\xb6ln   \t"),
                                      ["pass" if bc == "relaxed" else "fail"]))
    rr = {"selector": "rsa", "key": rsa, "algorithm": "rsa-sha256", "canonicalization": "relaxed/relaxed"}
    ee = {"selector": "ed", "key": ed, "algorithm": "ed25519-sha256", "canonicalization": "relaxed/simple"}
    cases += [
        # Two signatures in one pass: mailauth writes them in the order given.
        ("two signatures", PLAIN, [dict(rr, canonicalization="simple/simple"), ee], None, ["pass", "pass"]),
        ("two signatures, Subject changed", PLAIN, [rr, ee],
         lambda m: m.replace(b"lunch on", b"dinner on"), ["fail", "fail"]),
        # A From added on top: h=from (once) covers the bottom one, which
        # is unchanged (RFC 6376 §5.4.2): DKIM still passes; DMARC is
        # what refuses two From fields.
        ("From added on top", PLAIN, [rr], lambda m: b"From: mallory@evil.example\r\n" + m, ["pass"]),
        # l=: what follows the signed length is not covered.
        # mailauth writes l=0 as an empty "l=;" (not 1*76DIGIT, RFC 6376
        # §3.5), then hashes that as no limit: tern refuses the tag as
        # malformed (permerror), mailauth's body hash no longer matches.
        ("l=0 (mailauth writes l=;)", PLAIN, [dict(rr, maxBodyLength=0)], None, ["fail"]),
        ("l=10, body appended", PLAIN, [dict(ee, maxBodyLength=10)], lambda m: m + b"appended\r\n", ["pass"]),
        ("l=10, signed part changed", PLAIN, [dict(rr, maxBodyLength=10)],
         lambda m: m.replace(b"Noon", b"Moon"), ["fail"]),
        ("l= past the body", PLAIN, [dict(rr, maxBodyLength=100000)], None, ["pass"]),
        ("odd fields signed", ODD, [dict(rr, headerList=ODD_H)], None, ["pass"]),
        ("odd fields signed, empty one filled", ODD, [dict(rr, headerList=ODD_H)],
         lambda m: m.replace(b"X-Empty:", b"X-Empty: x"), ["fail"]),
        ("odd fields signed, relaxed name case", ODD, [dict(rr, headerList=ODD_H)],
         lambda m: m.replace(b"X-Spaced  :", b"x-spaced:"), ["pass"]),
        ("odd fields signed simple, name case", ODD, [dict(rr, headerList=ODD_H, canonicalization="simple/simple")],
         lambda m: m.replace(b"X-Spaced  :", b"x-spaced  :"), ["fail"]),
        # RFC 8301 §3.1: rsa-sha1 signatures are not valid.
        ("rsa-sha1", PLAIN, [dict(rr, algorithm="rsa-sha1")], None, ["fail"]),
        ("RSA-1024 key", PLAIN, [dict(rr, selector="rsa1024", key=keys["rsa1024"][0])], None, ["pass"]),
        # RFC 8301 §3.2: keys under 1024 bits are not valid.
        ("RSA-512 key", PLAIN, [dict(rr, selector="rsa512", key=keys["rsa512"][0])], None, ["fail"]),
        ("relaxed header: 8-bit field with 0xA0 octets", A_GRAVE, [dict(rr, canonicalization="relaxed/simple")],
         None, ["fail"]),
        ("relaxed header: a lone CR in a field", PLAIN.replace(b"lunch on", b"lunch\ron"), [rr], None, ["fail"]),
        ("relaxed header: VT and FF in a field", PLAIN.replace(b"lunch on", b"lunch\x0bon\x0c"), [rr], None,
         ["fail"]),
        # The same octets under simple header canonicalization: all agree.
        ("simple header: 8-bit field with 0xA0 octets", A_GRAVE, [dict(rr, canonicalization="simple/relaxed")],
         None, ["pass"]),
        ("simple header: a lone CR in a field", PLAIN.replace(b"lunch on", b"lunch\ron"),
         [dict(rr, canonicalization="simple/simple")], None, ["pass"]),
        ("8-bit body with 0xA0 octets", PLAIN.replace(b"Noon at", A_GRAVE.split(b"\r\n\r\n")[1].strip()),
         [dict(ee, canonicalization="relaxed/relaxed")], None, ["pass"]),
        ("x= before t=", PLAIN, [dict(rr, signTime=1795000000, expires=1794990000)], None, ["fail"]),
        # A day ahead of the clock: tern ignores it (policy), mailauth
        # passes it; RFC 6376 §3.5 t= leaves that to the verifier.
        ("t= a day ahead", PLAIN, [dict(rr, signTime=int(time.time()) + 86400)], None, ["fail"]),
        ("expired x=", PLAIN, [dict(rr, signTime=1700000000, expires=1700003600)], None, ["fail"]),
        ("bare LF line ends", ODD, [rr, ee], lambda m: m.replace(b"\r\n", b"\n"), ["pass", "pass"]),
    ]
    # Key records: the signature is good, the record decides.
    rec = {
        "key t=s": ("rsa", "v=DKIM1; k=rsa; t=s; p=%s", "pass"),
        "key t=y": ("rsa", "v=DKIM1; k=rsa; t=y; p=%s", "pass"),
        "key t=y:s": ("ed", "v=DKIM1; k=ed25519; t=y:s; p=%s", "pass"),
        "key h=sha256": ("rsa", "v=DKIM1; k=rsa; h=sha256; p=%s", "pass"),
        "key h=sha1:sha256": ("ed", "v=DKIM1; k=ed25519; h=sha1:sha256; p=%s", "pass"),
        "key h=sha1": ("rsa", "v=DKIM1; k=rsa; h=sha1; p=%s", "fail"),
        "key k=ed25519": ("ed", "v=DKIM1; k=ed25519; p=%s", "pass"),
        "key ed25519 without k=": ("ed", "v=DKIM1; p=%s", "fail"),
        "key k=rsa for an Ed25519 key": ("ed", "v=DKIM1; k=rsa; p=%s", "fail"),
        "key k=ed25519 for an RSA key": ("rsa", "v=DKIM1; k=ed25519; p=%s", "fail"),
        "key revoked p=": ("rsa", "v=DKIM1; k=rsa; p=", "fail"),
        "key revoked p= (Ed25519)": ("ed", "v=DKIM1; k=ed25519; p=", "fail"),
        "key without v=": ("rsa", "k=rsa; p=%s", "pass"),
        "key without v= or k=": ("rsa", "p=%s", "pass"),
        "key v= not first": ("rsa", "k=rsa; v=DKIM1; p=%s", "fail"),
        "key v=DKIM2": ("rsa", "v=DKIM2; k=rsa; p=%s", "fail"),
        "key s=email": ("rsa", "v=DKIM1; k=rsa; s=email; p=%s", "pass"),
        "key s=*": ("ed", "v=DKIM1; k=ed25519; s=*; p=%s", "pass"),
        "key s=other": ("rsa", "v=DKIM1; k=rsa; s=other; p=%s", "fail"),
        "key unknown tag": ("rsa", "v=DKIM1; k=rsa; zz=what ever; p=%s", "pass"),
        "key extra white space": ("rsa", " v = DKIM1 ;\t k = rsa ;  t = y ; p = %s ; ", "pass"),
        "key white space inside p=": ("rsa", "v=DKIM1; k=rsa; p=%s", "pass"),
        "key white space inside p= (Ed25519)": ("ed", "v=DKIM1;\tk=ed25519;\tp=%s", "pass"),
        "key no trailing semicolon, n= note": ("ed", "v=DKIM1; n=a note; k=ed25519; p=%s;", "pass"),
    }
    zone = {}
    for i, (name, (kind, form, want)) in enumerate(sorted(rec.items())):
        sel = "k%d" % i
        pub = keys[kind][1]
        if "inside p=" in name:
            pub = " ".join(pub[j:j + 20] for j in range(0, len(pub), 20))
        value = form % pub if "%s" in form else form
        # Several character-strings, split at drawn places (joined by the
        # reader, RFC 6376 §3.6.2.2).
        zone["%s._domainkey.%s" % (sel, D)] = {"TXT": txt(value, 100 if i % 2 else 255)}
        spec = {"selector": sel, "key": keys[kind][0],
                "algorithm": "ed25519-sha256" if kind == "ed" else "rsa-sha256",
                "canonicalization": "relaxed/relaxed"}
        cases.append((name, PLAIN, [spec], None, [want]))
    zone["nxd._domainkey." + D] = {"NXDOMAIN": True}
    zone["sfail._domainkey." + D] = {"SERVFAIL": True}
    zone["nodata._domainkey." + D] = {"A": ["127.0.0.1"]}
    for sel in ("nxd", "sfail", "nodata"):
        cases.append(("key lookup: " + sel, PLAIN, [dict(rr, selector=sel)], None, ["fail"]))
    return cases, zone


def test_check_mailauth_dkim():
    """mailauth signs, tern and mailauth verify."""
    with Workdir("tern-mailauth-") as w:
        keys = newkeys(w.tmp)
        cases, zone = dkim_cases(keys)
        zone["rsa._domainkey." + D] = {"TXT": txt("v=DKIM1; k=rsa; p=" + keys["rsa"][1])}
        zone["ed._domainkey." + D] = {"TXT": txt("v=DKIM1; k=ed25519; p=" + keys["ed"][1])}
        for k in ("rsa1024", "rsa512"):
            zone["%s._domainkey.%s" % (k, D)] = {"TXT": txt("v=DKIM1; k=rsa; p=" + keys[k][1])}
        peer, tern = w.serve(zone)
        jobs = []
        for _, msg, specs, _, _ in cases:
            job = {"op": "sign", "msg": msg, "signTime": 1795000000,
                   "sigs": [dict({"domain": D}, **{k: v for k, v in s.items()
                                                   if k not in ("signTime", "expires", "headerList")})
                            for s in specs]}
            for k in ("signTime", "expires"):
                if k in specs[0]:
                    job[k] = specs[0][k]
            if "headerList" in specs[0]:
                job["headerList"] = specs[0]["headerList"]
            jobs.append(job)
        signed = [o["msg"] for o in peer(jobs)]
        final = [mut(m) if mut else m for m, (_, _, _, mut, _) in zip(signed, cases)]
        assert b" l=;" in signed[[c[0] for c in cases].index("l=0 (mailauth writes l=;)")]
        theirs = peer([{"op": "verify", "msg": m} for m in final])
        bad, agree, deviate = [], 0, []
        for (name, _, specs, _, want), m, t in zip(cases, final, theirs):
            ours, out = tern.dkim(m)
            peer_says = [verdict(r) for r in t["dkim"]]
            if ours != want:
                bad.append(("tern", name, want, out))
                continue
            if name in PEER_DEVIATES:
                deviate.append(name)
                if peer_says != [PEER_DEVIATES[name][0]]:
                    bad.append(("mailauth no longer deviates, drop the entry", name, t["dkim"]))
            elif peer_says != want:
                bad.append(("mailauth", name, want, t["dkim"], out))
            else:
                agree += 1
        # Canonicalization: a third implementation sides with tern.
        canon = [(name, m) for (name, *_), m in zip(cases, final)
                 if PEER_DEVIATES.get(name, ("", ""))[1].startswith("RFC 6376 §3.4.2")]
        assert len(canon) == 3, canon
        third = dkimpy_verdicts(zone, [m for _, m in canon])
        assert third == ["fail"] * 3, list(zip([n for n, _ in canon], third))
        print("mailauth-signed DKIM: %d cases, %d agree, %d where mailauth departs from the RFC: %s"
              % (len(cases), agree, len(deviate), deviate))
        assert not bad, "%d disagreements; first: %r" % (len(bad), bad[0])
        assert len(deviate) == len(PEER_DEVIATES), deviate

        # A signature over the one below it (DKIM-Signature in h=, once,
        # and twice: the second instance is absent, a null string, RFC
        # 6376 §5.4.2), then that lower one respaced: a simple-header
        # signature over it fails, a relaxed one passes.
        rr = {"domain": D, "selector": "rsa", "key": keys["rsa"][0], "algorithm": "rsa-sha256",
              "canonicalization": "relaxed/relaxed"}
        ee = dict(rr, selector="ed", key=keys["ed"][0], algorithm="ed25519-sha256")
        lower = peer.one({"op": "sign", "msg": PLAIN, "sigs": [rr]})["msg"]
        over = []
        for h in ("From:Subject:DKIM-Signature", "From:Subject:DKIM-Signature:DKIM-Signature"):
            for c in ("relaxed/relaxed", "simple/simple"):
                m = peer.one({"op": "sign", "msg": lower, "headerList": h,
                              "sigs": [dict(ee, canonicalization=c)]})["msg"]
                respaced = m.replace(b"DKIM-Signature: v=1; a=rsa-sha256", b"DKIM-Signature: v=1;  a=rsa-sha256")
                assert respaced != m
                over += [(m, ["pass", "pass"]), (respaced, ["pass" if c.startswith("relaxed") else "fail", "pass"])]
        theirs = peer([{"op": "verify", "msg": m} for m, _ in over])
        for (m, want), t in zip(over, theirs):
            assert tern.dkim(m)[0] == want and [verdict(r) for r in t["dkim"]] == want, (want, t["dkim"], m[:700])


# tern's own signatures: what submission signs for a local recipient,
# over odd field shapes a client may send.
SUBMIT = [
    ("plain", "Subject: plain\r\n", "Line one.  \r\n\r\nLine  three\t\r\n\r\n\r\n"),
    ("folded", "Subject: a subject\r\n folded\t  over\r\n\tthree lines  \r\nX-Empty:\r\n"
               "X-Spaced  :  runs   of \t space \r\nCc:carol@example.test\r\n", "body\r\n"),
    ("8bit", "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\n"
             "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
     "Gr\u00fc\u00dfe aus K\u00f6ln \t \r\n\tindented\r\n"),
    ("long", "Subject: long\r\nReferences: " + " ".join("<m%d@example.test>" % i for i in range(40)) + "\r\n",
     ("x" * 900 + "\r\n") * 3),
]


def test_check_mailauth_tern_signs():
    """tern signs (both keys, over-signed h=), mailauth verifies."""
    with Workdir("tern-mailauth-") as w:
        with srv() as s:
            published = domain_keys(s.cli("domain", "dns", "example.test").stdout.decode())
            zone = {k: {"TXT": txt(v)} for k, v in published.items()}
            assert len(zone) == 2, zone
            peer, tern = w.serve(zone)
            c = smtp587(s, (ALICE, ALICE_PW))
            for name, head, body in SUBMIT:
                data = ("From: %s\r\nTo: %s\r\n%s\r\n%s" % (ALICE, BOB, head, body)).encode()
                c.sendmail(ALICE, [BOB], data)
            # Raw UTF-8 in a field (RFC 6532), sent with SMTPUTF8.
            head = ("From: %s\r\nTo: %s\r\n" % (ALICE, BOB)).encode()
            c.sendmail(ALICE, [BOB], head + A_GRAVE.split(b"\r\n", 1)[1], mail_options=["SMTPUTF8"])
            c.quit()
            raws = [s.raw(BOB, mid) for mid, _ in sorted(inbox(s, BOB, len(SUBMIT) + 1))]
            utf8 = raws.pop()
        # Each with RSA and Ed25519, h= over-signing From, To, Subject, Cc
        # and Reply-To (one more than present, RFC 6376 §8.15).
        tampered = []
        for raw in raws:
            sigs = re.findall(rb"^DKIM-Signature:.*?(?=\r\n\S)", raw, re.S | re.M)
            assert len(sigs) == 2, raw[:600]
            h = re.search(rb"h=([^;]*);", re.sub(rb"\s+", b"", sigs[0])).group(1).lower().split(b":")
            assert h.count(b"from") == 2 and h.count(b"reply-to") == 1, h
            head, _, body = raw.partition(b"\r\n\r\n")
            tampered += [
                # An instance added where the over-signing forbids it.
                b"From: mallory@evil.example\r\n" + raw,
                head + b"\r\nReply-To: mallory@evil.example\r\n\r\n" + body,
                head + b"\r\n\r\n" + body + b"appended\r\n",
            ]
        theirs = peer([{"op": "verify", "msg": m} for m in raws + tampered])
        for (name, _, _), raw, t in zip(SUBMIT, raws, theirs):
            assert [r["result"] for r in t["dkim"]] == ["pass", "pass"], (name, t["dkim"])
            assert tern.dkim(raw)[0] == ["pass", "pass"], name
        for m, t in zip(tampered, theirs[len(raws):]):
            assert [r["result"] for r in t["dkim"]] != ["pass", "pass"], (m[:300], t["dkim"])
            assert [verdict(r) for r in t["dkim"]] == ["fail", "fail"], t["dkim"]
            assert tern.dkim(m)[0] == ["fail", "fail"], m[:300]
        # mailauth's relaxed header form spoils the 0xA0 octets of the
        # UTF-8 Subject (RFC 6376 §3.4.2, see PEER_DEVIATES): it fails
        # what tern signed, which tern and dkimpy verify.
        assert b"Subject: voil\xc3\xa0" in utf8, utf8[:800]
        t = peer.one({"op": "verify", "msg": utf8})
        assert [r["result"] for r in t["dkim"]] == ["fail", "fail"], t["dkim"]
        assert tern.dkim(utf8)[0] == ["pass", "pass"]
        assert dkimpy_verdicts(zone, [utf8]) == ["pass"]
        print("tern-signed DKIM: %d messages and %d tampered copies, mailauth agrees on all"
              % (len(raws), len(tampered)))


def drop_set(msg, i, names=("ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results")):
    """msg without the fields of ARC set i named in names."""
    head, _, body = msg.partition(b"\r\n\r\n")
    for n in names:
        head = re.sub(rb"(^|\r\n)%s: i=%d;.*?(?=\r\n\S|$)" % (n.encode(), i), b"", head, flags=re.S)
    return head.lstrip(b"\r\n") + b"\r\n\r\n" + body


def test_check_mailauth_arc():
    """ARC chains sealed by mailauth, by tern, and by both in turn."""
    with Workdir("tern-mailauth-arc-") as w:
        keys = newkeys(w.tmp)
        env = dict(os.environ, TERN_DATA_DIR=os.path.join(w.tmp, "data"))
        run([TERN, "domain", "add", "fwd.example.net"], env=env)
        zone = {k: {"TXT": txt(v)}
                for k, v in domain_keys(run([TERN, "domain", "dns", "fwd.example.net"], env=env).decode()).items()}
        for k in range(1, 6):
            zone["arc._domainkey.hop%d.test" % k] = {"TXT": txt("v=DKIM1; k=rsa; p=" + keys["rsa"][1])}
        zone["rsa._domainkey." + D] = {"TXT": txt("v=DKIM1; k=rsa; p=" + keys["rsa"][1])}
        peer, tern = w.serve(zone)
        rsa = keys["rsa"][0]

        def seal(msg, k, cv=None, h=None, more=None):
            o = peer.one({"op": "seal", "msg": msg, "domain": "hop%d.test" % k, "selector": "arc",
                          "key": rsa, "srv": "mx.hop%d.test" % k, "cv": cv, "headerList": h, "more": more})
            return o["msg"], o["cv"]

        def tern_seal(msg):
            return "\r\n".join(tern.check("arc", msg, "--seal", "fwd.example.net")).encode() + b"\r\n"

        signed = peer.one({"op": "sign", "msg": PLAIN, "signTime": 1795000000,
                           "sigs": [{"domain": D, "selector": "rsa", "key": rsa, "algorithm": "rsa-sha256",
                                     "canonicalization": "relaxed/simple"}]})["msg"]
        one, cv1 = seal(signed, 1)
        two, cv2 = seal(one, 2)
        three, cv3 = seal(two, 3)
        assert (cv1, cv2, cv3) == ("none", "pass", "pass"), (cv1, cv2, cv3)
        # A list that checks the chain, then adds a footer and seals what it sends.
        listed, _ = seal(one.replace(b"Ann\r\n", b"Ann\r\n-- \r\nthe list's footer\r\n"), 2, cv=cv2)
        # Broken in transit after hop 2: hop 3 finds cv=fail and seals it;
        # hop 4 seals on regardless (RFC 8617 §5.1.2 says not to).
        broken = two.replace(b"Noon at", b"Ten at")
        failed, cv3b = seal(broken, 3)
        assert cv3b == "fail", cv3b
        after_fail, _ = seal(failed, 4, cv="fail")
        # AMS h= lists chosen by the sealer: the DKIM-Signature and the
        # Authentication-Results fields below it (allowed), ARC-Seal
        # (RFC 8617 §4.1.2: MUST NOT).
        wide, _ = seal(one, 2, h="From:To:Subject:DKIM-Signature:Authentication-Results:"
                                 "ARC-Authentication-Results:ARC-Message-Signature")
        with_as, _ = seal(one, 2, h="From:To:Subject:ARC-Seal")
        assert re.search(rb"ARC-Message-Signature: i=2;[^\n]*\r\n(?:[ \t][^\n]*\r\n)*?[^\n]*h=[^;]*ARC-Seal",
                         with_as), with_as[:1200]
        # An AAR folded over lines with tabs and runs of spaces, as real
        # Authentication-Results are (the seal signs it relaxed).
        folded, _ = seal(one, 2, more=";\r\n\tdkim=pass  header.d=example.org header.s=rsa;\r\n"
                                      "   spf=pass smtp.mailfrom=example.org\t;\r\n dmarc=pass")
        assert b"\r\n\tdkim=pass  header.d" in folded, folded[:1500]
        # The sets in another order in the header section (each set is
        # found by its i=, RFC 8617 §4.2.1): set 1 moved on top.
        head, _, body = three.partition(b"\r\n\r\n")
        set1 = re.findall(rb"(?:^|(?<=\r\n))ARC-[A-Za-z-]+: i=1;.*?(?=\r\n\S|$)", head, re.S)
        assert len(set1) == 3, set1
        moved = b"\r\n".join(set1) + b"\r\n" + drop_set(three, 1)
        dup_seal = re.sub(rb"(ARC-Seal: i=2;.*?\r\n)(?=\S)", rb"\1\1", three, count=1, flags=re.S)
        assert dup_seal.count(b"ARC-Seal: i=2;") == 2
        fresh = tern_seal(PLAIN)
        tern_on_top = tern_seal(two)
        tern_on_bad = tern_seal(broken)
        peer_on_tern, cv_pt = seal(tern_on_top, 4)
        assert cv_pt == "pass", cv_pt
        tern_again = tern_seal(peer_on_tern)
        assert tern_again.startswith(b"ARC-Seal: i=5;") and b"cv=pass;" in tern_again.split(b"\r\n")[0]
        assert tern_on_bad.startswith(b"ARC-Seal: i=3;") and b"cv=fail;" in tern_on_bad.split(b"\r\n")[0]
        cases = [
            ("one hop", one, "pass"),
            ("two hops", two, "pass"),
            ("three hops", three, "pass"),
            ("list rewrote the body, then sealed", listed, "pass"),
            ("body broken after hop 2, hop 3 sealed cv=fail", failed, "fail"),
            ("a hop sealed on after cv=fail", after_fail, "fail"),
            ("three hops, Subject changed", three.replace(b"lunch on", b"dinner on"), "fail"),
            ("three hops, body changed", three.replace(b"Noon at", b"Ten at"), "fail"),
            ("three hops, seal 2 says cv=none", three.replace(b"i=2; a=rsa-sha256; t=1795000000; cv=pass",
                                                             b"i=2; a=rsa-sha256; t=1795000000; cv=none"), "fail"),
            ("three hops, AAR 1 changed", three.replace(b"mx.hop1.test; arc=none", b"mx.hop1.test; arc=pass"),
             "fail"),
            ("three hops, set 2 removed", drop_set(three, 2), "fail"),
            ("three hops, ARC-Seal 2 removed", drop_set(three, 2, ("ARC-Seal",)), "fail"),
            ("three hops, AMS 3 removed", drop_set(three, 3, ("ARC-Message-Signature",)), "fail"),
            ("three hops, bare LF", three.replace(b"\r\n", b"\n"), "pass"),
            ("AMS signing DKIM-Signature, A-R, AAR, AMS", wide, "pass"),
            ("AMS signing ARC-Seal", with_as, "fail"),
            ("folded AAR", folded, "pass"),
            ("set 1 moved on top", moved, "pass"),
            ("ARC-Seal 2 twice", dup_seal, "fail"),
            ("tern sealed a fresh message", fresh, "pass"),
            ("tern sealed on mailauth's two hops", tern_on_top, "pass"),
            ("tern sealed a broken chain (cv=fail)", tern_on_bad, "fail"),
            ("mailauth sealed on tern's set", peer_on_tern, "pass"),
            ("tern sealed on mailauth on tern", tern_again, "pass"),
            ("tern's set, body changed after", fresh.replace(b"Noon at", b"Ten at"), "fail"),
            ("mailauth on tern, tern's AAR changed", peer_on_tern.replace(b"ARC-Authentication-Results: i=3; ",
                                                                         b"ARC-Authentication-Results: i=3;  "),
             "pass"),
        ]
        assert b"cv=none" in three and three.count(b"t=1795000000; cv=pass") == 2, three[:1500]
        assert all(m != three for n, m, _ in cases[6:10]), "a mutation did not apply"
        theirs = peer([{"op": "verify", "msg": m} for _, m, _ in cases])
        bad = []
        for (name, m, want), t in zip(cases, theirs):
            out = tern.check("arc", m)
            if out[0] != "cv=" + want:
                bad.append(("tern", name, want, out))
            if t["arc"]["result"] != want:
                bad.append(("mailauth", name, want, t["arc"]))
        # mailauth's DKIM verdict on the chain's message: still the
        # original signature, under every seal.
        assert [r["result"] for r in theirs[2]["dkim"]] == ["pass"], theirs[2]
        assert tern.dkim(three)[0] == ["pass"]
        print("ARC: %d chains, %d disagreements" % (len(cases), len(bad)))
        assert not bad, "%d disagreements; first: %r" % (len(bad), bad[0])


# RFC 8463 Appendix A: A.2 publishes the two keys, A.3 the message
# signed with both (quoted from the RFC as test vectors).
RFC8463_KEYS = {
    "brisbane._domainkey.football.example.com":
        "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    "test._domainkey.football.example.com":
        "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5q"
        "hdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4h"
        "stT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
}
RFC8463_MSG = (
    b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    b" d=football.example.com; i=@football.example.com;\r\n"
    b" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    b" subject : date : message-id : from : subject : date;\r\n"
    b" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    b" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    b" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    b" d=football.example.com; i=@football.example.com;\r\n"
    b" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    b" date : message-id : from : subject : date;\r\n"
    b" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    b" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    b" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    b" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
    b"From: Joe SixPack <joe@football.example.com>\r\n"
    b"To: Suzie Q <suzie@shopping.example.net>\r\n"
    b"Subject: Is dinner ready?\r\n"
    b"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    b"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    b"\r\n"
    b"Hi.\r\n"
    b"\r\n"
    b"We lost the game.  Are you hungry yet?\r\n"
    b"\r\n"
    b"Joe.\r\n")

# RFC 6376 Appendix A.2's signed message, with the key Appendix C.3
# publishes for brisbane._domainkey.example.com (quoted from the RFC).
RFC6376_KEY = ("v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYt"
               "IxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhi"
               "tdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB")
RFC6376_MSG = (
    b"DKIM-Signature: v=1; a=rsa-sha256; s=brisbane; d=example.com;\r\n"
    b"      c=simple/simple; q=dns/txt; i=joe@football.example.com;\r\n"
    b"      h=Received : From : To : Subject : Date : Message-ID;\r\n"
    b"      bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    b"      b=AuUoFEfDxTDkHlLXSZEpZj79LICEps6eda7W3deTVFOk4yAUoqOB\r\n"
    b"        4nujc7YopdG5dWLSdNg6xNAZpOPr+kHxt1IrE+NahM6L/LbvaHut\r\n"
    b"        KVdkLLkpVaVVQPzeRDI009SO2Il5Lu7rDNH6mZckBdrIx0orEtZV\r\n"
    b"        4bmp/YzhwvcubU4=;\r\n"
    b"Received: from client1.football.example.com  [192.0.2.1]\r\n"
    b"      by submitserver.example.com with SUBMISSION;\r\n"
    b"      Fri, 11 Jul 2003 21:01:54 -0700 (PDT)\r\n"
    # The same message as RFC 8463's, with one space after "game.".
    + RFC8463_MSG[RFC8463_MSG.index(b"From: Joe"):].replace(b"game.  Are", b"game. Are"))


def test_check_mailauth_rfc_vectors():
    """The RFCs' own signed examples, in tern and in mailauth."""
    with Workdir("tern-rfcvec-") as w:
        zone = {k: {"TXT": txt(v)} for k, v in RFC8463_KEYS.items()}
        zone["brisbane._domainkey.example.com"] = {"TXT": txt(RFC6376_KEY)}
        peer, tern = w.serve(zone)
        ours, out = tern.dkim(RFC8463_MSG)
        assert ours == ["pass", "pass"], out
        assert out[:2] == ["pass d=football.example.com s=brisbane", "pass d=football.example.com s=test"], out
        # Any change to a signed field breaks both.
        assert tern.dkim(RFC8463_MSG.replace(b"dinner", b"lunch"))[0] == ["fail", "fail"]
        theirs = peer([{"op": "verify", "msg": RFC8463_MSG}, {"op": "verify", "msg": RFC6376_MSG}])
        assert [r["result"] for r in theirs[0]["dkim"]] == ["pass", "pass"], theirs[0]
        ours, out = tern.dkim(RFC6376_MSG)
        print("RFC 6376 A.2: tern %s, mailauth %s" % (out, theirs[1]["dkim"]))
        assert ours == [verdict(r) for r in theirs[1]["dkim"]], (out, theirs[1]["dkim"])


SPAM = "/work/shared/corpora/spam/test"


def test_check_mailauth_corpus():
    """Real-world header sections and bodies (every 10th message of the
    spam/ham corpus): each signed by mailauth under a drawn
    canonicalization and key, then sealed (ARC set 1); tern and mailauth
    pass the new signature and the chain, and fail both once the body is
    changed after sealing (every third message)."""
    corpus = sorted(os.path.join(d, f) for d, _, fs in os.walk(SPAM) for f in fs if f.endswith(".eml"))[::10]
    assert len(corpus) > 100, len(corpus)
    with Workdir("tern-mailauth-corpus-") as w:
        keys = newkeys(w.tmp)
        peer, tern = w.serve({"rsa._domainkey." + D: {"TXT": txt("v=DKIM1; k=rsa; p=" + keys["rsa"][1])},
                         "ed._domainkey." + D: {"TXT": txt("v=DKIM1; k=ed25519; p=" + keys["ed"][1])},
                         "arc._domainkey.hop1.test": {"TXT": txt("v=DKIM1; k=rsa; p=" + keys["rsa"][1])}})
        rng = random.Random(6376)
        jobs = []
        for p in corpus:
            k = rng.choice(["rsa", "ed"])
            jobs.append({"op": "sign", "msg": re.sub(rb"\r?\n", b"\r\n", open(p, "rb").read()),
                         "signTime": 1795000000,
                         "sigs": [{"domain": D, "selector": k, "key": keys[k][0],
                                   "algorithm": "rsa-sha256" if k == "rsa" else "ed25519-sha256",
                                   "canonicalization": rng.choice(["simple", "relaxed"]) + "/"
                                   + rng.choice(["simple", "relaxed"])}]})
        signed = [o["msg"] for o in peer(jobs)]
        sealed = [o["msg"] for o in peer([{"op": "seal", "msg": m, "domain": "hop1.test", "selector": "arc",
                                          "key": keys["rsa"][0], "srv": "mx.hop1.test"} for m in signed])]
        final = [m.replace(b"\r\n\r\n", b"\r\n\r\nprepended to the body\r\n", 1) if i % 3 == 0 else m
                 for i, m in enumerate(sealed)]
        theirs = peer([{"op": "verify", "msg": m} for m in final])
        bad = []
        for i, (p, m, t) in enumerate(zip(corpus, final, theirs)):
            want = "fail" if i % 3 == 0 else "pass"
            # The new signature is the top one; the message's own ones
            # below it have no key here.
            ours = tern.dkim(m)[0][:1]
            arc = tern.check("arc", m)[0]
            got = (ours, arc, [verdict(r) for r in t["dkim"]][:1], t["arc"]["result"])
            if got != ([want], "cv=" + want, [want], want):
                bad.append((p, got))
        print("corpus: %d messages signed and sealed by mailauth, %d disagreements" % (len(corpus), len(bad)))
        assert not bad, "%d of %d; first: %r" % (len(bad), len(corpus), bad[0])
