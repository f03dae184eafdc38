"""`tern check arc FILE` against ARC sets made by dkimpy (python3-dkim's
dkim.arc_sign, what arcsign runs): one set, two sets, a chain a hop marked
cv=fail, tampering (body, header, seal), a missing key and a failing DNS
answer; and the other way round: sets sealed by tern (`tern check arc
--seal`, with the served domain's key from `tern domain add`) are
accepted by dkimpy's arc_verify, on a fresh message and on top of a
dkimpy chain. Keys are served by the loopback DNS server (dns_server.py);
one server answers every case, and dkimpy's lookups go to it too."""
import json
import os
import re
import shutil
import subprocess
import tempfile

from harness import TERN, keep_sanitizer_output
from mailpeers import DKIMPY_TXT, SYSTEM_PYTHON, DnsServer

LIST = "lists.example.com"
MSG = ("Received: from mx.example.org by lists.example.com; Sun, 22 Nov 2026 19:00:00 +0000\r\n"
       "Authentication-Results: lists.example.com; spf=pass smtp.mailfrom=example.org;\r\n"
       " dkim=pass header.d=example.org; dmarc=pass header.from=example.org\r\n"
       "From: Ann <ann@example.org>\r\n"
       "To: list@lists.example.com\r\n"
       "Subject: lunch on Friday\r\n"
       "Date: Sun, 22 Nov 2026 19:00:00 +0000\r\n"
       "Message-ID: <lunch.1@example.org>\r\n"
       "\r\n"
       "Noon at the usual place?  \r\n"
       "\r\n"
       "Ann\r\n")


def run(cmd, inp=None, env=None):
    r = subprocess.run(cmd, input=inp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, env=env)
    err = r.stderr.decode(errors="replace")
    if cmd[0] == TERN:
        keep_sanitizer_output(err, "stderr of " + " ".join(cmd[:3]))
    if r.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (cmd[:3], r.returncode, err))
    return r.stdout


def txt_value(dns_file):
    text = open(dns_file).read()
    if '"' in text:
        return "".join(text.split('"')[1::2])
    return text.strip()


def zone_txt(value):
    return '" "'.join(value[i:i + 255] for i in range(0, len(value), 255))


def domain_keys(text):
    """The DKIM key records `tern domain dns` prints: {name: value}."""
    keys = {}
    for line in text.splitlines():
        m = re.match(r"(\S+\._domainkey\.\S+?)\.?\tIN\tTXT\t(.*)$", line)
        if m:
            keys[m.group(1)] = "".join(m.group(2).split('"')[1::2])
    return keys


# dkimpy in one process: each job seals the previous output ("prev") or a
# message, after an Authentication-Results field of its authserv-id.
# Verify jobs run arc_verify with lookups sent to the loopback server.
DKIMPY = DKIMPY_TXT + r"""
out, prev = [], None
for j in json.load(sys.stdin):
    if j["op"] == "verify":
        cv, results, why = dkim.arc_verify(j["msg"].encode(), dnsfunc=txt)
        out.append([cv.decode() if cv else None, why])
        continue
    msg = prev if j.get("prev") else j["msg"].encode()
    if j.get("ar"):
        msg = ("Authentication-Results: %s\r\n" % j["ar"]).encode() + msg
    key = open(j["key"], "rb").read()
    sig = dkim.arc_sign(msg, j["sel"].encode(), j["domain"].encode(), key, j["srv"].encode(),
                        timestamp=1795000000)
    prev = b"".join(sig) + msg
    out.append(prev.decode())
json.dump(out, sys.stdout)
"""


def test_check_arc():
    tmp = tempfile.mkdtemp(prefix="tern-arc-")
    dns = None
    try:
        env = dict(os.environ, TERN_DATA_DIR=os.path.join(tmp, "data"))
        # tern's own key: the served domain's, as forwarding would use it.
        run([TERN, "domain", "add", "fwd.example.net"], env=env)
        zone = {k: {"TXT": [zone_txt(v)]}
                for k, v in domain_keys(run([TERN, "domain", "dns", "fwd.example.net"], env=env).decode()).items()}
        assert any(k.startswith("tern-rsa-") for k in zone), zone
        # dkimpy's keys: the list's, and a second hop's.
        run(["dknewkey", os.path.join(tmp, "list")])
        run(["dknewkey", os.path.join(tmp, "hop")])
        zone["arc._domainkey." + LIST] = {"TXT": [zone_txt(txt_value(os.path.join(tmp, "list.dns")))]}
        zone["hop._domainkey.hop.example.org"] = {"TXT": [zone_txt(txt_value(os.path.join(tmp, "hop.dns")))]}
        zone["broken._domainkey." + LIST] = {"SERVFAIL": True}
        dns = DnsServer(zone)
        env["TERN_DNS_SERVERS"] = dns.servers

        def dkimpy(jobs):
            return json.loads(run([SYSTEM_PYTHON, "-c", DKIMPY, str(dns.port)], json.dumps(jobs).encode()))

        n = [0]

        def check(data, *extra):
            n[0] += 1
            path = os.path.join(tmp, "m%d.eml" % n[0])
            with open(path, "wb") as f:
                f.write(data if isinstance(data, bytes) else data.encode())
            return run([TERN, "check", "arc"] + list(extra) + [path], env=env).decode()

        lkey, hkey = os.path.join(tmp, "list.key"), os.path.join(tmp, "hop.key")
        one, two, broken = dkimpy([
            {"op": "sign", "msg": MSG, "key": lkey, "sel": "arc", "domain": LIST, "srv": LIST},
            {"op": "sign", "prev": True, "key": hkey, "sel": "hop", "domain": "hop.example.org",
             "srv": "mx.hop.example.org", "ar": "mx.hop.example.org; arc=pass"},
            {"op": "sign", "msg": MSG, "key": lkey, "sel": "broken", "domain": LIST, "srv": LIST},
        ])
        assert "cv=none" in one and "i=1" in one, one[:300]

        out = check(one).splitlines()
        assert out[0] == "cv=pass", out
        assert "sets: 1" in out and "oldest-pass: 0" in out, out
        assert "set 1: d=%s s=arc cv=none ams=pass as=pass" % LIST in out, out
        aar = [l for l in out if l.startswith("aar 1: ")]
        assert aar and "lists.example.com;" in aar[0] and "dmarc=pass" in aar[0], out

        out = check(two).splitlines()
        assert out[0] == "cv=pass", out
        assert "sets: 2" in out, out
        assert "set 2: d=hop.example.org s=hop cv=pass ams=pass as=pass" in out, out
        assert "set 1: d=%s s=arc cv=none ams=pass as=pass" % LIST in out, out

        # Bare LF line ends, as a stored file: still a pass.
        assert check(two.replace("\r\n", "\n")).splitlines()[0] == "cv=pass"

        # Tampering: the body, a signed header, a seal's cv=.
        out = check(two.replace("Noon at", "Ten at")).splitlines()
        assert out[:2] == ["cv=fail", "failed: 2"], out
        assert "ARC-Message-Signature 2: body hash did not verify" in out[2], out
        out = check(two.replace("Subject: lunch", "Subject: dinner")).splitlines()
        assert out[:2] == ["cv=fail", "failed: 2"], out
        assert two.count("cv=none;") == 1
        out = check(two.replace("cv=none;", "cv=pass;")).splitlines()
        assert out[:3] == ["cv=fail", "failed: 1", "reason: ARC-Seal 1 says cv=pass, not none"], out
        # A gap: set 1 removed, set 2 kept.
        gap = re.sub(r"ARC-(Seal|Message-Signature|Authentication-Results): i=1;.*?\r\n(?![ \t])", "", two,
                     flags=re.S)
        assert "i=1;" not in gap.split("\r\n\r\n")[0], gap
        out = check(gap).splitlines()
        assert out[:2] == ["cv=fail", "failed: 1"], out

        # A hop that found the chain failed seals cv=fail; the chain ends there.
        bad_then_sealed = dkimpy([
            {"op": "sign", "msg": one.replace("Noon at", "Ten at"), "key": hkey, "sel": "hop",
             "domain": "hop.example.org", "srv": "mx.hop.example.org", "ar": "mx.hop.example.org; arc=fail"},
        ])[0]
        assert "cv=fail" in bad_then_sealed, bad_then_sealed[:400]
        out = check(bad_then_sealed).splitlines()
        assert out[:3] == ["cv=fail", "failed: 2", "reason: ARC-Seal 2 says cv=fail: the chain ended upstream"], out

        # Keys: the DNS server fails for this selector (temporary).
        out = check(broken).splitlines()
        assert out[0] == "cv=fail" and "(temporary)" in out[2], out
        assert "key lookup failed for broken._domainkey.%s" % LIST in out[2], out

        # No ARC at all.
        assert check(MSG).splitlines() == ["cv=none", "reason: no ARC sets", "sets: 0"]

        # tern seals: on a fresh message (i=1, cv=none) and on top of
        # dkimpy's chain (i=2, cv=pass); dkimpy's arc_verify accepts both,
        # and so does tern.
        fresh = check(MSG, "--seal", "fwd.example.net")
        assert fresh.startswith("ARC-Seal: i=1; a=rsa-sha256;") and "cv=none;" in fresh.split("\r\n")[0], fresh[:200]
        assert "ARC-Authentication-Results: i=1; " in fresh, fresh[:1200]
        on_top = check(two, "--seal", "fwd.example.net", "--authres",
                       "mx.fwd.example.net; arc=pass smtp.remote-ip=192.0.2.7")
        assert on_top.startswith("ARC-Seal: i=3;") and "cv=pass;" in on_top.split("\r\n")[0], on_top[:200]
        assert "ARC-Authentication-Results: i=3; mx.fwd.example.net; arc=pass smtp.remote-ip=192.0.2.7\r\n" in on_top
        # A failed chain sealed by tern: cv=fail, and only the new set signed.
        on_bad = check(two.replace("Noon at", "Ten at"), "--seal", "fwd.example.net")
        assert on_bad.startswith("ARC-Seal: i=3;") and "cv=fail;" in on_bad.split("\r\n")[0], on_bad[:200]
        verdicts = dkimpy([{"op": "verify", "msg": m} for m in (fresh, on_top, on_bad, two)])
        assert verdicts[0][0] == "pass", verdicts
        assert verdicts[1][0] == "pass", verdicts
        # dkimpy reports a chain ended by cv=fail as None ("terminated").
        assert verdicts[2][0] in (None, "fail"), verdicts
        assert verdicts[3][0] == "pass", verdicts
        out = check(on_top).splitlines()
        assert out[0] == "cv=pass" and "sets: 3" in out, out
        assert any(l.startswith("set 3: d=fwd.example.net s=tern-rsa-") for l in out), out

        # Nobody seals after cv=fail: exit 1, nothing printed.
        path = os.path.join(tmp, "ended.eml")
        with open(path, "w") as f:
            f.write(bad_then_sealed)
        r = subprocess.run([TERN, "check", "arc", "--seal", "fwd.example.net", path], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        keep_sanitizer_output(r.stderr.decode(errors="replace"), "stderr of tern check arc")
        assert r.returncode == 1 and r.stdout == b"" and b"not sealed" in r.stderr, (r.returncode, r.stderr)

        # Usage and unreadable files.
        for args, code in (([os.path.join(tmp, "absent.eml")], 1), ([], 2), (["--bogus", "x", path], 2),
                           (["--authres", "x", path], 2)):
            r = subprocess.run([TERN, "check", "arc"] + args, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            keep_sanitizer_output(r.stderr.decode(errors="replace"), "stderr of tern check arc")
            assert r.returncode == code and r.stdout == b"", (args, r.returncode, r.stdout)
    finally:
        if dns:
            dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)


DIFF_SEED = int(os.environ.get("AUTHDIFF_SEED", "8617"))


def test_check_arc_differential():
    """Generated chains (arc_diffgen.py, seeded: AUTHDIFF_SEED for another
    draw) of 1-4 sets sealed by dkimpy, some altered between hops or at the
    end: tern's cv= on each must be dkimpy's arc_verify verdict."""
    tmp = tempfile.mkdtemp(prefix="tern-arcdiff-")
    dns = None
    try:
        run([SYSTEM_PYTHON, os.path.join(os.path.dirname(__file__), "arc_diffgen.py"), str(DIFF_SEED),
             "100", tmp])
        cases = json.load(open(os.path.join(tmp, "cases.json")))
        dns = DnsServer(json.load(open(os.path.join(tmp, "zone.json"))))
        env = dict(os.environ, TERN_DATA_DIR=os.path.join(tmp, "data"), TERN_DNS_SERVERS=dns.servers)
        bad, seen = [], {"pass": 0, "fail": 0, "none": 0}
        for c in cases:
            out = run([TERN, "check", "arc", c["file"]], env=env).decode().splitlines()
            seen[c["dkimpy"]] += 1
            if not out or out[0] != "cv=" + c["dkimpy"]:
                bad.append((c["file"], c["done"], out, c["dkimpy"]))
        assert not bad, "%d of %d disagree (seed %d); first: %r" % (len(bad), len(cases), DIFF_SEED, bad[0])
        assert seen["pass"] > 20 and seen["fail"] > 20, seen
    finally:
        if dns:
            dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)
