"""The public SPF conformance suites (openspf.org's RFC 7208 test suite,
release 2014.04, and its older RFC 4408 one, as pyspf ships them:
rfc7208-tests.yml, rfc4408-tests.yml) against `tern check spf`, which runs
the evaluator inbound SMTP uses (auth/spf*.c). The RFC 4408 suite still
holds: where RFC 7208 changed an answer its tests accept both.

The suites are not in this repository: scripts/install-test-deps unpacks
Debian's pyspf source under build/testdata/pyspf (vendor/build.sh
--test-source). Each scenario of a YAML file holds zone data and tests
(helo, host, mailfrom, the acceptable results, the first preferred, and
sometimes the explanation). One loopback DNS server (dns_server.py) serves
every scenario in turn: its zone file is rewritten between scenarios, and
the tests of one scenario run side by side.

Zone data is served as pyspf's own driver (test/testspf.py) serves it:
type SPF records are copied as TXT when a name lists no TXT record (the
suite says drivers must; tern, as RFC 7208 §3.1 asks, looks up TXT only),
"NONE" means no record of that type, and "TIMEOUT" makes every type not
listed above it go unanswered (the server stays silent, tern's resolver
times out; TERN_TEST_DNS_TIMEOUT_MS shortens c-ares' 3 s to keep the test
fast). An expected explanation of "DEFAULT" (the driver's default text) is
a fail with no exp= text: tern prints no explanation line then.
"""
import json
import os
import subprocess
import tempfile
import shutil
from concurrent.futures import ThreadPoolExecutor

from harness import ROOT, TERN, keep_sanitizer_output
from mailpeers import SYSTEM_PYTHON, DnsServer

SUITE_DIR = os.path.join(ROOT, "build", "testdata", "pyspf", "test")
# Each file with the fewest tests it had (203 and 191): a download that
# lost some is a failure, not a smaller pass.
SUITES = {"rfc7208-tests.yml": 203, "rfc4408-tests.yml": 191}
ANSWERED_TYPES = ["A", "AAAA", "MX", "PTR", "TXT", "CNAME"]

# Tests where tern's answer is not the suite's: (result, explanation) tern
# gives, and why that is RFC 7208's answer. Asserted as they stand, so a
# change either way shows. The same test in both files.
KNOWN = {
    # CAFE:BABE::1's %{ir}: tern writes the nibbles in lowercase, as RFC
    # 7208 §7.4's example does ("1.0.b.c.0.0...ip6") and as RFC 5952 §4.3
    # writes IPv6 hex; the suite's uppercase is the case of the address as
    # its driver was given it (its %{c} of the same address is lowercase).
    # Only the explanation's text differs: DNS names are case-insensitive.
    "v-macro-ip6": ("fail", "cafe:babe::1 is queried as 1." + "0." * 23
                    + "e.b.a.b.e.f.a.c.ip6.arpa"),
}


def load_suite(path):
    if not os.path.exists(path):
        raise AssertionError("%s missing: run scripts/install-test-deps (it unpacks Debian's "
                             "pyspf source there)" % path)
    # Debian's python3-yaml, under the python that has it.
    out = subprocess.run([SYSTEM_PYTHON, "-c",
                          "import json, sys, yaml; json.dump(list(yaml.safe_load_all("
                          "open(sys.argv[1], 'rb'))), sys.stdout)", path],
                         stdout=subprocess.PIPE, check=True).stdout
    return json.loads(out)


def zone_of(zonedata):
    """The suite's zonedata as dns_server.py's zone (see the module doc)."""
    zone = {}
    for name, recs in zonedata.items():
        out, seen, spf, gen_txt, silent = {}, set(), [], True, []
        for rec in recs:
            if rec == "TIMEOUT":
                silent = [t for t in ANSWERED_TYPES if t not in seen]
                gen_txt = False  # the driver's copies come after TIMEOUT: never served
                break
            (rtype, value), = rec.items()
            if value == "TIMEOUT":
                silent.append(rtype)
                continue
            if rtype in ("TXT", "SPF"):
                value = [value] if isinstance(value, str) else value
                gen_txt = gen_txt and rtype != "TXT"
                if value == ["NONE"]:
                    continue
                if rtype == "SPF":
                    spf.append(value)
                    continue
            seen.add(rtype)
            if rtype == "PTR":
                value = value.rstrip(".") + "."
            if rtype == "CNAME":
                out["CNAME"] = value
            else:
                out.setdefault(rtype, []).append(value)
        if gen_txt and spf:
            out["TXT"] = spf
        if silent:
            out["SILENT"] = silent
        zone[name] = out
    return zone


def check(env, t):
    """tern's (result, explanation or None) for one suite test."""
    r = subprocess.run([TERN, "check", "spf", t["host"], t["mailfrom"], t["helo"]], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    err = r.stderr.decode(errors="replace")
    keep_sanitizer_output(err, "stderr of tern check spf")
    assert r.returncode == 0, (t, r.returncode, err)
    lines = r.stdout.decode(errors="replace").splitlines()
    exp = lines[1][len("explanation: "):] if len(lines) > 1 else None
    return lines[0], exp, err.strip()


def verdict(t, got, exp):
    """None when tern's answer is one the suite accepts, else why not."""
    want = t["result"] if isinstance(t["result"], list) else [t["result"]]
    if got not in want:
        return "result %s, suite wants %s" % (got, "|".join(want))
    if "explanation" in t and got == "fail":
        want_exp = None if t["explanation"] == "DEFAULT" else t["explanation"]
        if exp != want_exp:
            return "explanation %r, suite wants %r" % (exp, want_exp)
    return None


def test_spf_suite():
    tmp = tempfile.mkdtemp(prefix="tern-spfsuite-")
    dns = DnsServer({})
    env = dict(os.environ, TERN_DNS_SERVERS=dns.servers, TERN_DATA_DIR=os.path.join(tmp, "data"),
               TERN_HOSTNAME="mx.tern.test", TERN_TEST_DNS_TIMEOUT_MS="100")
    failed, counts = [], {}
    try:
        with ThreadPoolExecutor(4) as pool:
            for suite in SUITES:
                counts[suite] = [0, 0]  # tests, known differences
                for sc in load_suite(os.path.join(SUITE_DIR, suite)):
                    dns.zone(zone_of(sc["zonedata"]))
                    tests = sorted(sc["tests"].items())
                    answers = pool.map(lambda nt: check(env, nt[1]), tests)
                    for (name, t), (got, exp, reason) in zip(tests, answers):
                        counts[suite][0] += 1
                        where = "%s %s (%s, spec %s)" % (suite, name, sc["description"],
                                                          t.get("spec"))
                        if name in KNOWN:
                            counts[suite][1] += 1
                            if (got, exp) != KNOWN[name]:
                                failed.append("%s: known difference: tern should say %r, said %r "
                                              "(%s)" % (where, KNOWN[name], (got, exp), reason))
                            continue
                        why = verdict(t, got, exp)
                        if why:
                            failed.append("%s: %s (%s)" % (where, why, reason))
    finally:
        dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    for suite, (n, known) in counts.items():
        print("%s: %d tests, %d known differences" % (suite, n, known))
        assert n >= SUITES[suite], "%s shrank to %d tests" % (suite, n)
    print("%d failed" % len(failed))
    assert not failed, "\n".join(failed)
