"""`tern check dkim FILE` against messages signed by real signers from
Debian: dkimpy (python3-dkim: keys from dknewkey, signatures from dkim.sign,
what dkimsign runs, in one process) with RSA and Ed25519 in every
canonicalization, and OpenDKIM (opendkim-tools: opendkim-genkey,
opendkim-testmsg, which signs with rsa-sha1 only: RFC 8301 makes that a
fail). Keys are served by the loopback DNS server (dns_server.py); one
server answers every case. Tampered messages, a missing key, a revoked key,
a failing DNS answer and an unsigned message are checked too."""
import json
import os
import shutil
import subprocess
import tempfile

from harness import TERN, keep_sanitizer_output
from mailpeers import SYSTEM_PYTHON, DnsServer

DOMAIN = "example.org"
MSG = ("From: Ann <ann@example.org>\r\n"
       "To: Bob <bob@example.net>\r\n"
       "Subject: lunch on Friday\r\n"
       "Date: Sun, 22 Nov 2026 19:00:00 +0000\r\n"
       "Message-ID: <lunch.1@example.org>\r\n"
       "\r\n"
       "Noon at the usual place?  \r\n"
       "\r\n"
       "Ann\r\n")


def run(cmd, inp=None):
    r = subprocess.run(cmd, input=inp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        raise AssertionError("%s failed: %s" % (cmd[0], r.stderr.decode(errors="replace")))
    return r.stdout


def txt_value(dns_file):
    """The record value of a .dns/.txt key file, as one unquoted string."""
    text = open(dns_file).read()
    if '"' in text:
        parts = text.split('"')[1::2]
        return "".join(parts)
    return text.strip()


def zone_txt(value):
    """dns_server.py quotes a TXT value as one string: give it pieces of 255."""
    return '" "'.join(value[i:i + 255] for i in range(0, len(value), 255))


class Check:
    def __init__(self, tmp, servers):
        self.tmp = tmp
        self.env = dict(os.environ, TERN_DNS_SERVERS=servers, TERN_DATA_DIR=os.path.join(tmp, "data"))
        self.n = 0

    def __call__(self, data):
        self.n += 1
        path = os.path.join(self.tmp, "m%d.eml" % self.n)
        with open(path, "wb") as f:
            f.write(data)
        r = subprocess.run([TERN, "check", "dkim", path], env=self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        err = r.stderr.decode(errors="replace")
        keep_sanitizer_output(err, "stderr of tern check dkim")
        assert r.returncode == 0, (r.returncode, err)
        return r.stdout.decode().splitlines()


# dkimpy signs every message of a test in one process (dkimsign would
# start Python once per message: 0.4 s each). dkim.sign is what dkimsign
# calls; "prepend" signs the output of the previous job again.
SIGNER = r"""
import json, sys, dkim
out, prev = [], None
for j in json.load(sys.stdin):
    msg = prev if j.get("prepend") else j["msg"].encode()
    key = open(j["key"], "rb").read()
    if j["alg"] == "ed25519-sha256":
        key = key.strip()
    sig = dkim.sign(msg, j["sel"].encode(), b"example.org", key,
                    canonicalize=(j["hc"].encode(), j["bc"].encode()),
                    signature_algorithm=j["alg"].encode())
    prev = sig + msg
    out.append(prev.decode())
json.dump(out, sys.stdout)
"""


def dkimsign(jobs):
    """Each job: sel, key, alg, hc, bc, and msg or prepend."""
    full = [dict({"hc": "relaxed", "bc": "simple", "alg": "rsa-sha256", "msg": MSG}, **j) for j in jobs]
    out = run([SYSTEM_PYTHON, "-c", SIGNER], json.dumps(full).encode())
    return [m.encode() for m in json.loads(out)]


def test_check_dkim():
    tmp = tempfile.mkdtemp(prefix="tern-dkimv-")
    dns = None
    try:
        # Keys: dkimpy's RSA and Ed25519, OpenDKIM's RSA.
        run(["dknewkey", os.path.join(tmp, "rsa")])
        run(["dknewkey", "--ktype", "ed25519", os.path.join(tmp, "ed")])
        run(["opendkim-genkey", "-b", "2048", "-s", "odk", "-d", DOMAIN, "-D", tmp])
        zone = {
            "rsa._domainkey." + DOMAIN: {"TXT": [zone_txt(txt_value(os.path.join(tmp, "rsa.dns")))]},
            "ed._domainkey." + DOMAIN: {"TXT": [zone_txt(txt_value(os.path.join(tmp, "ed.dns")))]},
            "odk._domainkey." + DOMAIN: {"TXT": [zone_txt(txt_value(os.path.join(tmp, "odk.txt")))]},
            "mail_2024._domainkey." + DOMAIN: {"TXT": [zone_txt(txt_value(os.path.join(tmp, "rsa.dns")))]},
            "gone._domainkey." + DOMAIN: {"TXT": ["v=DKIM1; k=rsa; p="]},
            "broken._domainkey." + DOMAIN: {"SERVFAIL": True},
        }
        dns = DnsServer(zone)
        check = Check(tmp, dns.servers)
        rsa, ed = os.path.join(tmp, "rsa.key"), os.path.join(tmp, "ed.key")

        jobs = []
        for hc in ("relaxed", "simple"):
            for bc in ("relaxed", "simple"):
                for sel, key, alg in (("rsa", rsa, "rsa-sha256"), ("ed", ed, "ed25519-sha256")):
                    jobs.append({"sel": sel, "key": key, "alg": alg, "hc": hc, "bc": bc})
        n_canon = len(jobs)
        jobs += [
            {"sel": "rsa", "key": rsa, "bc": "relaxed"},
            {"sel": "ed", "key": ed, "alg": "ed25519-sha256", "prepend": True},
            {"sel": "rsa", "key": rsa, "alg": "rsa-sha1"},
            {"sel": "nokey", "key": rsa},
            {"sel": "gone", "key": rsa},
            {"sel": "broken", "key": ed, "alg": "ed25519-sha256"},
            {"sel": "mail_2024", "key": rsa},
        ]
        signed = dkimsign(jobs)

        # Every canonicalization, both algorithms.
        for j, m in zip(jobs[:n_canon], signed):
            out = check(m)
            assert out[0] == "pass d=%s s=%s" % (DOMAIN, j["sel"]), (j, out)
            assert out[1] == "signature 1: verified", out

        # Two signatures, reported top to bottom: the Ed25519 one, signed
        # last, is on top.
        twice = signed[n_canon + 1]
        out = check(twice)
        assert out[:2] == ["pass d=%s s=ed" % DOMAIN, "pass d=%s s=rsa" % DOMAIN], out

        # Stored with bare LF line ends, as on disk: still a pass.
        assert check(twice.replace(b"\r\n", b"\n"))[:2] == out[:2]

        # Tampered: the body, then a signed header field.
        bad_body = twice.replace(b"Noon at", b"Ten at")
        out = check(bad_body)
        assert out[:2] == ["fail d=%s s=ed" % DOMAIN, "fail d=%s s=rsa" % DOMAIN], out
        assert "body hash did not verify" in out[2], out
        bad_head = twice.replace(b"Subject: lunch", b"Subject: dinner")
        out = check(bad_head)
        assert out[:2] == ["fail d=%s s=ed" % DOMAIN, "fail d=%s s=rsa" % DOMAIN], out
        assert "signature did not verify" in out[2], out

        # OpenDKIM signs with rsa-sha1 only: refused (RFC 8301); dkimpy's
        # rsa-sha1 too.
        odk = run(["opendkim-testmsg", "-C", "-d", DOMAIN, "-k", os.path.join(tmp, "odk.private"),
                   "-s", "odk"], MSG.encode())
        assert b"a=rsa-sha1" in odk, odk[:200]
        out = check(odk + MSG.encode())
        assert out[0] == "fail d=%s s=odk" % DOMAIN, out
        assert "rsa-sha1" in out[1], out
        out = check(signed[n_canon + 2])
        assert out[0] == "fail d=%s s=rsa" % DOMAIN, out

        # Keys: none published, revoked.
        out = check(signed[n_canon + 3])
        assert out[0] == "permerror d=%s s=nokey" % DOMAIN, out
        assert "no key record at nokey._domainkey.example.org" in out[1], out
        out = check(signed[n_canon + 4])
        assert out[0] == "permerror d=%s s=gone" % DOMAIN, out
        assert "revoked" in out[1], out

        # The key's DNS server fails (SERVFAIL): a temporary error.
        out = check(signed[n_canon + 5])
        assert out[0] == "temperror d=%s s=broken" % DOMAIN, out
        assert "key lookup failed" in out[1], out

        # A selector with "_" (DNS allows it in a label, RFC 2181 §11;
        # sites name selectors so, and dkimpy, OpenDKIM and Rspamd verify
        # them): verified, not a malformed s=.
        out = check(signed[n_canon + 6])
        assert out[:2] == ["pass d=%s s=mail_2024" % DOMAIN, "signature 1: verified"], out

        # No signature at all.
        assert check(MSG.encode()) == ["none"]

        # A file that cannot be read: 1; no file named: 2 (usage).
        for args, code in (([os.path.join(tmp, "absent.eml")], 1), ([], 2)):
            r = subprocess.run([TERN, "check", "dkim"] + args, env=check.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            keep_sanitizer_output(r.stderr.decode(errors="replace"), "stderr of tern check dkim")
            assert r.returncode == code and r.stdout == b"", (args, r.returncode, r.stdout)

    finally:
        if dns:
            dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)


SPAM = "/work/shared/corpora/spam/test"
DIFF_SEED = int(os.environ.get("AUTHDIFF_SEED", "6376"))


def dkimpy_expected(drawn, verdict):
    """dkimpy's verdict for one signature, as RFC 6376 has it where dkimpy
    leaves the key record's rules out: a key whose h= lacks the signature's
    hash (§3.6.1, "MUST ignore the key record and return PERMFAIL",
    §6.1.2), and a t=s key with an i= at a subdomain of d= (§3.6.1 "MUST
    have the same domain value"), an l= larger than the body (§3.5:
    "MUST NOT be larger", dkimpy hashes what there is), and a key record
    with its v=DKIM1 last (§3.6.1: "MUST be the first tag")."""
    if verdict == "pass":
        if drawn["record"] == "vlast":
            return "fail"
        if drawn["l"] is not None and drawn["l"] < 0:
            return "fail"
        if drawn["record"] == "hbad":  # dkimpy reads no h= in the key record
            return "fail"
        if drawn["record"] == "ts" and drawn["i"] and drawn["i"].split("@")[1] != DOMAIN:
            return "fail"
    return "pass" if verdict == "pass" else "fail"


def test_check_dkim_differential():
    """A few hundred generated cases (dkim_diffgen.py, seeded: set
    AUTHDIFF_SEED for another draw): messages signed by dkimpy under
    drawn variants and keys, some altered after signing; tern's verdict on
    every signature, top to bottom, must be dkimpy's."""
    tmp = tempfile.mkdtemp(prefix="tern-dkimdiff-")
    dns = None
    try:
        corpus = sorted(os.path.join(d, f) for d, _, fs in os.walk(SPAM) for f in fs if f.endswith(".eml"))
        run([SYSTEM_PYTHON, os.path.join(os.path.dirname(__file__), "dkim_diffgen.py"), str(DIFF_SEED),
             "200", tmp] + corpus[::150])
        cases = json.load(open(os.path.join(tmp, "cases.json")))
        dns = DnsServer(json.load(open(os.path.join(tmp, "zone.json"))))
        check = Check(tmp, dns.servers)
        bad, seen = [], {"pass": 0, "fail": 0}
        for c in cases:
            out = check(open(c["file"], "rb").read())
            ours = [ln.split()[0] for ln in out if " d=" in ln and " s=" in ln and not ln.startswith("signature")]
            ours = ["pass" if r == "pass" else "fail" for r in ours]
            # dkimpy lists the signatures top to bottom, drawn[] bottom to top.
            drawn = list(reversed(c["drawn"])) + [None] * (len(c["dkimpy"]) - len(c["drawn"]))
            want = [dkimpy_expected(d, v) if d else ("pass" if v == "pass" else "fail")
                    for d, v in zip(drawn, c["dkimpy"])]
            for w in want:
                seen[w] += 1
            if ours != want:
                bad.append((c["file"], c["mutation"], out, c["dkimpy"], c["drawn"]))
        assert not bad, "%d of %d disagree (seed %d); first: %r" % (len(bad), len(cases), DIFF_SEED, bad[0])
        # Not a draw of only passes or only failures.
        assert seen["pass"] > 40 and seen["fail"] > 40, seen
    finally:
        if dns:
            dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)
