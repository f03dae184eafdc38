#!/usr/bin/python3
"""Generated, seeded ARC chains for test_check_arc's differential check.

Run under /usr/bin/python3 (Debian's python3-dkim):

    arc_diffgen.py SEED N OUTDIR

Makes N chains of 1 to 4 ARC sets, each hop sealed by dkimpy's arc_sign
under its own domain after an Authentication-Results field carrying the
arc= result dkimpy's arc_verify gave for the chain so far (what a sealer
records as cv=). Between hops and at the end some chains are altered: the
body, an added or changed field, white space, a set's ARC-Seal or
ARC-Message-Signature removed or doubled, an instance number changed.
Writes OUTDIR/zone.json (the keys, for dns_server.py), OUTDIR/aN.eml and
OUTDIR/cases.json: each file, what was done, and dkimpy's verdict on the
whole chain ("pass", "fail" or "none").
"""
import base64
import json
import random
import subprocess
import sys

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, utils

BASE = (b"From: Ann <ann@example.org>\r\nTo: list@lists.test\r\nSubject: lunch\r\n"
        b"Date: Sun, 22 Nov 2026 19:00:00 +0000\r\nMessage-ID: <l.1@example.org>\r\n\r\n"
        b"Noon at the usual place?  \r\n\r\nAnn\r\n")
SIGNING = {}


def rsa_sign_crt(h, _pk):
    """dkimpy's RSA step through OpenSSL (dkimpy's own has no CRT: slow)."""
    return SIGNING["key"].sign(h.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


dkim.RSASSA_PKCS1_v1_5_sign = rsa_sign_crt


def fields_of(head):
    out = []
    for ln in head.split(b"\r\n"):
        if ln[:1] in (b" ", b"\t") and out:
            out[-1] += b"\r\n" + ln
        else:
            out.append(ln)
    return out


def mutate(rng, m):
    head, _, body = m.partition(b"\r\n\r\n")
    k = rng.choice(["body", "addhdr", "subject", "ws", "drop_ams", "drop_as", "dup_as", "seal_i",
                    "drop_aar"])
    if k == "body":
        body += b"-- \r\nthe list's footer\r\n"
    elif k == "addhdr":
        head += b"\r\nX-List: yes"
    elif k == "subject":
        head = head.replace(b"Subject: lunch", b"Subject: [list] lunch")
    elif k == "ws":
        head = head.replace(b"To: list", b"To:  list")
    else:
        name = {"drop_ams": b"arc-message-signature", "drop_as": b"arc-seal", "dup_as": b"arc-seal",
                "seal_i": b"arc-seal", "drop_aar": b"arc-authentication-results"}[k]
        fields = fields_of(head)
        idx = [i for i, f in enumerate(fields) if f.lower().startswith(name)]
        if idx:
            i = rng.choice(idx)
            if k.startswith("drop"):
                del fields[i]
            elif k == "dup_as":
                fields.insert(i, fields[i])
            else:
                fields[i] = fields[i].replace(b"i=", b"i=9", 1)
        head = b"\r\n".join(fields)
    return k, head + b"\r\n\r\n" + body


def main():
    seed, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rng = random.Random(seed)
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", out + "/k.pem", "2048"], check=True,
                   stderr=subprocess.DEVNULL)
    der = subprocess.run(["openssl", "rsa", "-in", out + "/k.pem", "-pubout", "-outform", "DER"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
    pub = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    key = open(out + "/k.pem", "rb").read()
    SIGNING["key"] = serialization.load_pem_private_key(key, None)
    zone = {"s%d._domainkey.hop%d.test" % (k, k): {"TXT": ['" "'.join(pub[i:i + 255]
                                                                     for i in range(0, len(pub), 255))]}
            for k in range(1, 5)}

    def dnsfunc(name, timeout=5):
        r = zone.get(name.decode().rstrip(".").lower())
        return "".join(r["TXT"][0].split('" "')).encode() if r else None

    def verdict(m):
        return (dkim.arc_verify(m, dnsfunc=dnsfunc)[0] or b"fail").decode()

    cases = []
    for c in range(n):
        m, done = BASE, []
        hops = rng.choice([1, 2, 3, 4])
        for k in range(1, hops + 1):
            cv = verdict(m) if k > 1 else "none"
            m = b"Authentication-Results: hop%d.test; arc=%s\r\n" % (k, cv.encode()) + m
            try:
                sig = dkim.arc_sign(m, b"s%d" % k, b"hop%d.test" % k, key, b"hop%d.test" % k,
                                    timestamp=1795000000)
            except dkim.DKIMException:  # an instance number made too large
                break
            m = b"".join(sig) + m
            if rng.random() < 0.3:
                t, m = mutate(rng, m)
                done.append("hop %d: %s" % (k, t))
        if rng.random() < 0.3:
            t, m = mutate(rng, m)
            done.append("end: " + t)
        path = "%s/a%d.eml" % (out, c)
        with open(path, "wb") as f:
            f.write(m)
        cases.append({"file": path, "done": done, "dkimpy": verdict(m)})
    with open(out + "/zone.json", "w") as f:
        json.dump(zone, f)
    with open(out + "/cases.json", "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main()
