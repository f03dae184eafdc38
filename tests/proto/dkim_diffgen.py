#!/usr/bin/python3
"""Generated, seeded DKIM cases for test_check_dkim's differential check.

Run under /usr/bin/python3 (Debian's python3-dkim, python3-nacl):

    dkim_diffgen.py SEED N OUTDIR [MESSAGE...]

Makes RSA (512/1024/2048/4096) and Ed25519 keys, signs N messages (the given
real messages, and a few made-up ones) with dkimpy under drawn variants
(canonicalizations, l=, algorithms, oversigned and repeated fields, folded
fields, trailing blank lines and whitespace, 8-bit bodies, mixed-case h=,
t=/x=, i= at a subdomain, l= past the body, a 512-bit key), publishes each
key under a drawn record (k= in either case, h=, s=, t=y, t=s, an empty p=,
no v=, v=DKIM2, v= last, white space inside p=, a bare PKCS#1 key, split TXT strings), mutates
some messages after signing, and asks dkimpy for its verdict on every
signature through the same records.
Writes OUTDIR/zone.json (for dns_server.py), OUTDIR/cN.eml
and OUTDIR/cases.json: for each case its file, what was drawn, and dkimpy's
verdict per signature, top to bottom ("pass" or "fail: why").
"""
import base64
import json
import os
import random
import re
import subprocess
import sys
import time

import dkim
import nacl.encoding
import nacl.signing
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, utils

D = b"example.org"
NOW = int(time.time())


def rsa_key(bits, tmp):
    path = os.path.join(tmp, "rsa%d.pem" % bits)
    if not os.path.exists(path):
        subprocess.run(["openssl", "genrsa", "-traditional", "-out", path, str(bits)], check=True,
                       stderr=subprocess.DEVNULL)
    pem = open(path, "rb").read()
    der = subprocess.run(["openssl", "rsa", "-in", path, "-pubout", "-outform", "DER"], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    # Some publish the bare PKCS#1 RSAPublicKey, not SubjectPublicKeyInfo.
    pkcs1 = subprocess.run(["openssl", "rsa", "-in", path, "-RSAPublicKey_out", "-outform", "DER"],
                           check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    return pem, base64.b64encode(der).decode(), base64.b64encode(pkcs1).decode()


def ed_key(rng):
    sk = nacl.signing.SigningKey(bytes(rng.getrandbits(8) for _ in range(32)))
    pub = sk.verify_key.encode(encoder=nacl.encoding.Base64Encoder).decode()
    return sk.encode(encoder=nacl.encoding.Base64Encoder), pub, pub


MADE_UP = [
    b"From: Ann <ann@example.org>\r\nTo: Bob <bob@example.net>\r\nSubject: lunch\r\n"
    b"Date: Sun, 22 Nov 2026 19:00:00 +0000\r\nMessage-ID: <a.1@example.org>\r\n\r\n"
    b"Noon at the usual place?  \r\n\r\nAnn\r\n",
    # Folded fields, repeated Received and To, a tab, 8-bit body, trailing blank lines.
    b"Received: from a by b; Sun, 22 Nov 2026 19:00:00 +0000\r\n"
    b"Received: from c\r\n\tby d; Sun, 22 Nov 2026 19:00:01 +0000\r\n"
    b"From: =?utf-8?q?Ren=C3=A9?= <rene@mail.example.org>\r\n"
    b"To: one@example.net\r\nTo: two@example.net\r\n"
    b"Subject: a long subject\r\n  folded\t over  \r\n two lines   \r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    b"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln \t \r\n  indented line\r\n\r\n\r\n \r\n\r\n",
    # Empty body.
    b"From: x@example.org\r\nSubject: empty\r\n\r\n",
    # A body with no final CRLF and whitespace-only lines.
    b"From: x@example.org\r\nSubject:no space\r\nX-Empty:\r\n\r\n \t \r\nlast line no crlf",
]


def crlf(b):
    return re.sub(rb"\r?\n", b"\r\n", b)


SIGNING = {}


def rsa_sign_crt(h, _pk):
    """dkimpy's RSA signing step (no CRT: 40 ms a 4096-bit signature) done
    by OpenSSL through python3-cryptography, over dkimpy's own hash."""
    return SIGNING["key"].sign(h.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


dkim.RSASSA_PKCS1_v1_5_sign = rsa_sign_crt


def sign(msg, v, keys):
    """dkimpy's signer, with the tags it does not set (x=, t=, a mixed-case
    h=, an i= of our choosing) added through its own header generator."""
    d = dkim.DKIM(msg, signature_algorithm=v["alg"].encode())
    if v["alg"] == "ed25519-sha256":
        pk = nacl.signing.SigningKey(keys[v["key"]][0], encoder=nacl.encoding.Base64Encoder)
    else:
        pk = dkim.crypto.parse_pem_private_key(keys[v["key"]][0])
        if v["key"] not in SIGNING:  # loading checks the key: 0.1 s
            SIGNING[v["key"]] = serialization.load_pem_private_key(keys[v["key"]][0], None)
        SIGNING["key"] = SIGNING[v["key"]]
    canon = dkim.CanonicalizationPolicy.from_c_value(("%s/%s" % (v["hc"], v["bc"])).encode())
    skip = (b"return-path",) if v["sigsig"] else (b"dkim-signature", b"return-path")
    names = [n for n, _ in d.headers if n.lower() not in skip]
    inc = [n.lower() for n in names]
    if v["over"]:  # sign each field one more time than it appears, and one absent field
        inc += sorted(set(inc)) + [b"reply-to"]
    if b"from" not in inc:
        inc.append(b"from")
    hval = [n.decode() for n in inc]
    if v["hcase"]:
        hval = [h.upper() if i % 2 else h.title() for i, h in enumerate(hval)]
    body = canon.canonicalize_body(d.body)
    d.hasher = dkim.HASH_ALGORITHMS[v["alg"].encode()]
    bh = base64.b64encode(d.hasher(body).digest())
    fields = [(b"v", b"1"), (b"a", v["alg"].encode()), (b"c", canon.to_c_value()), (b"d", D)]
    if v["i"]:
        fields.append((b"i", v["i"].encode()))
    if v["l"] is not None:
        # v["l"] < 0: an l= past the end of the body ("MUST NOT", §3.5)
        fields.append((b"l", str(max(0, len(body) - v["l"])).encode()))
    fields += [(b"q", b"dns/txt"), (b"s", v["sel"].encode())]
    if v["t"] is not None:
        fields.append((b"t", str(NOW + v["t"]).encode()))
    if v["x"] is not None:
        fields.append((b"x", str(NOW + v["x"]).encode()))
    # dkimpy folds at spaces only (else mid-name, which h= does not allow):
    # space around the colons.
    fields += [(b"h", v["hsep"].join(hval).encode()), (b"bh", bh), (b"b", b"0" * 60)]
    return b"DKIM-Signature: " + d.gen_header(fields, tuple(inc), canon, b"DKIM-Signature", pk)


def record(rng, kind, pubs):
    """A key record and what was drawn for it."""
    k = "ed25519" if kind == "ed" else "rsa"
    tags = ["v=DKIM1"]
    drawn = rng.choice(["plain"] * 8 + ["k", "h", "hbad", "s", "sother", "ty", "ts", "revoked",
                                         "kwrong", "nov", "unknown", "pspaces", "vlast", "kupper",
                                         "vbad", "pkcs1"])
    pub = pubs[1] if drawn == "pkcs1" else pubs[0]
    if drawn == "nov":
        tags = []
    if drawn in ("k", "h", "hbad", "ty", "ts", "s", "sother", "unknown") or kind == "ed":
        tags.append("k=" + k)
    if drawn == "kwrong":
        tags.append("k=" + ("rsa" if kind == "ed" else "ed25519"))
    if drawn == "h":
        tags.append("h=sha1:sha256")
    if drawn == "hbad":
        tags.append("h=sha1")
    if drawn == "s":
        tags.append("s=email")
    if drawn == "sother":
        tags.append("s=tlsrpt")
    if drawn == "ty":
        tags.append("t=y")
    if drawn == "ts":
        tags.append("t=s")
    if drawn == "unknown":
        tags.append("zz=whatever")
    if drawn == "kupper":
        tags.append("k=" + k.upper())
    if drawn == "vlast":
        tags = tags[1:]
    if drawn == "vbad":
        tags[0] = "v=DKIM2"
    if drawn == "pspaces":  # FWS inside the base64 (RFC 6376 §3.6.1 allows it)
        pub = " ".join(pub[i:i + 40] for i in range(0, len(pub), 40))
    tags.append("p=" + ("" if drawn == "revoked" else pub))
    if drawn == "vlast":
        tags.append("v=DKIM1")
    text = "; ".join(tags)
    if rng.random() < 0.3:
        text = text.replace("; ", ";\t ")
    # Split into TXT strings at drawn places (dns_server.py joins by '" "').
    n = rng.choice([255, 255, 100, 37])
    parts = [text[i:i + n] for i in range(0, len(text), n)]
    return drawn, parts


def mutate(rng, msg):
    head, _, body = msg.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    m = rng.choice(["reorder", "ws_head", "ws_body", "add_from", "add_subject", "add_other",
                    "blank_end", "case_name", "body_append", "fold", "lf"])
    if m == "reorder":  # swap two unrelated fields (not DKIM-Signature)
        idx = [i for i, ln in enumerate(lines) if ln and ln[:1] not in b" \t"
               and not ln.lower().startswith(b"dkim-signature")
               and not (i + 1 < len(lines) and lines[i + 1][:1] in b" \t")]
        if len(idx) >= 2:
            a, b = rng.sample(idx, 2)
            lines[a], lines[b] = lines[b], lines[a]
    elif m == "ws_head":
        i = rng.randrange(len(lines))
        lines[i] = lines[i].replace(b": ", b":  \t", 1) if b": " in lines[i] else lines[i] + b" "
    elif m == "ws_body":
        # (Not a final unterminated " ": dkimpy keeps the white space of a
        # last line without CRLF, which relaxed removes, RFC 6376 §3.4.4.)
        body = body.replace(b" ", b"  ", 1) if b" " in body else body + b" \r\n"
    elif m == "add_from":
        lines.append(b"From: mallory@evil.example")
    elif m == "add_subject":
        lines.insert(rng.randrange(1, len(lines) + 1), b"Subject: added")
    elif m == "add_other":
        lines.append(b"X-Added: yes")
    elif m == "blank_end":
        body = body + b"\r\n\r\n"
    elif m == "case_name":
        i = rng.randrange(len(lines))
        if b":" in lines[i] and not lines[i].lower().startswith(b"dkim-signature"):
            n, _, rest = lines[i].partition(b":")
            lines[i] = n.swapcase() + b":" + rest
    elif m == "body_append":
        body = body + b"appended by a list\r\n"
    elif m == "fold":
        i = rng.randrange(len(lines))
        if b" " in lines[i].partition(b":")[2]:
            n, _, rest = lines[i].partition(b":")
            lines[i] = n + b":" + rest.replace(b" ", b"\r\n ", 1) if rest.startswith(b" ") and \
                rest.count(b" ") > 1 else lines[i]
    elif m == "lf":
        return m, (b"\r\n".join(lines) + b"\r\n\r\n" + body).replace(b"\r\n", b"\n")
    return m, b"\r\n".join(lines) + b"\r\n\r\n" + body


def main():
    seed, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rng = random.Random(seed)
    msgs = MADE_UP + [crlf(open(p, "rb").read()) for p in sys.argv[4:]]
    keys, zone = {}, {}
    for bits in (512, 1024, 2048, 4096):
        keys["rsa%d" % bits] = rsa_key(bits, out)
    keys["ed"] = ed_key(rng)
    cases = []
    for c in range(n):
        msg = rng.choice(msgs)
        # A corpus message's own DKIM-Signature fields stay (signed by nobody here).
        nsig = rng.choice([1, 1, 1, 2])
        drawn = []
        for s in range(nsig):
            kname = rng.choice(["rsa1024", "rsa2048", "rsa2048", "rsa4096", "ed", "ed"] * 3 + ["rsa512"])
            sel = "c%ds%d" % (c, s)
            v = {"key": kname, "sel": sel,
                 "alg": "ed25519-sha256" if kname == "ed" else "rsa-sha256",
                 "hc": rng.choice(["relaxed", "simple"]), "bc": rng.choice(["relaxed", "simple"]),
                 "l": rng.choice([None] * 6 + [0, 5, -5]),
                 "over": rng.random() < 0.3, "hcase": rng.random() < 0.2,
                 "sigsig": rng.random() < 0.3,  # sign the DKIM-Signature fields below too
                 "i": rng.choice([None] * 4 + ["@example.org", "ann@mail.example.org",
                                                "@sub.example.org", "@example.com"]),
                 "hsep": rng.choice([" : ", ": ", " :"]),
                 # dkimpy allows 10 hours of clock skew either way; past that.
                 "t": rng.choice([None] * 4 + [-60, 3600 * 24, 3600 * 24 * 2]),
                 "x": rng.choice([None] * 5 + [3600, -3600 * 24])}
            if v["x"] is not None and v["t"] is not None and v["t"] > v["x"]:
                v["t"] = None
            rdrawn, parts = record(rng, "ed" if kname == "ed" else "rsa", keys[kname][1:])
            v["record"] = rdrawn
            zone["%s._domainkey.example.org" % sel] = {"TXT": ['" "'.join(parts)]}
            msg = sign(msg, v, keys) + msg
            drawn.append(v)
        mut = None
        if rng.random() < 0.4:
            mut, msg = mutate(rng, msg)
        path = os.path.join(out, "c%d.eml" % c)
        with open(path, "wb") as f:
            f.write(msg)

        def dnsfunc(name, timeout=5):
            rec = zone.get(name.decode().rstrip(".").lower())
            if not rec:
                return None
            return "".join(rec["TXT"][0].split('" "')).encode()

        d = dkim.DKIM(msg.replace(b"\n", b"\r\n") if mut == "lf" else msg)
        nall = len([1 for h, _ in d.headers if h.lower() == b"dkim-signature"])
        verdicts = []
        for i in range(nall):
            try:
                ok = d.verify(idx=i, dnsfunc=dnsfunc)
                verdicts.append("pass" if ok else "fail")
            except dkim.DKIMException as e:
                verdicts.append("fail: %s" % e)
        cases.append({"file": path, "drawn": drawn, "mutation": mut, "dkimpy": verdicts})
    with open(os.path.join(out, "zone.json"), "w") as f:
        json.dump(zone, f)
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main()
