"""`tern check spf IP SENDER HELO` against SPF records served by the
loopback DNS server (dns_server.py): each of the seven results, the exp=
explanation with its macros, include, redirect, mx, ptr, exists, ip6, the
null sender (postmaster@HELO), the void-lookup limit, a SERVFAIL, and the
usage errors. One DNS server answers every case. Then port 25: the SPF
result of each message is logged, and changes no reply yet."""
import collections
import json
import os
import re
import smtplib
import subprocess
import tempfile
import shutil

from harness import TERN, Server, keep_sanitizer_output, message
from mailpeers import SYSTEM_PYTHON, DnsServer

ZONE = {
    "example.test": {"TXT": ["v=spf1 mx ip4:10.9.9.0/24 include:partner.test -all exp=why.example.test"],
                     "MX": [[10, "mx.example.test"]]},
    "mx.example.test": {"A": ["127.0.0.2"]},
    "why.example.test": {"TXT": ["%{c} may not send mail as %{l}@%{o} (see %{d})"]},
    "partner.test": {"TXT": ["v=spf1 ip6:2001:db8::/32 ~all"]},
    "soft.test": {"TXT": ["v=spf1 a:host.soft.test ~all"], "MX": []},
    "host.soft.test": {"A": ["127.0.0.3"]},
    "neutral.test": {"TXT": ["v=spf1 ?all"]},
    "redir.test": {"TXT": ["v=spf1 redirect=example.test"]},
    "nospf.test": {"TXT": ["google-site-verification=abc"]},
    "two.test": {"TXT": ["v=spf1 -all", "v=spf1 +all"]},
    "syntax.test": {"TXT": ["v=spf1 ip4:10.0.0.300 -all"]},
    "broken.test": {"SERVFAIL": True},
    "brokeninc.test": {"TXT": ["v=spf1 include:broken.test -all"]},
    "voids.test": {"TXT": ["v=spf1 a:n1.voids.test a:n2.voids.test a:n3.voids.test -all"]},
    "ptr.test": {"TXT": ["v=spf1 ptr -all"]},
    "5.0.0.127.in-addr.arpa": {"PTR": ["mail.ptr.test."]},
    "mail.ptr.test": {"A": ["127.0.0.5"]},
    "list.test": {"TXT": ["v=spf1 exists:%{l}.%{ir}.users.list.test -all"]},
    "ann.6.0.0.127.users.list.test": {"A": ["127.0.0.2"]},
    "helo.test": {"TXT": ["v=spf1 ip4:127.0.0.7 -all"]},
    # Targets no query can carry (an empty label, a label over 63 octets):
    # names with no records, so the mechanism does not match (RFC 7208 §4.3).
    "emptylabel.test": {"TXT": ["v=spf1 a:mail.bad..emptylabel.test ip4:127.0.0.8 -all"]},
    "longlabel.test": {"TXT": ["v=spf1 exists:%{l}.longlabel.test -all"]},
    # A NUL octet in the record (\\000 in dnspython's text form), as RFC
    # 7208's suite has in a-null and mx-null: permerror, not none.
    "anull.test": {"TXT": ["v=spf1 a:foo.anull.test\\000"]},
    "mxnull.test": {"TXT": ["v=spf1 mx:abc.mxnull.test\\000 -all"]},
    "expnull.test": {"TXT": ["v=spf1 -all exp=why.expnull.test"]},
    "why.expnull.test": {"TXT": ["not\\000allowed"]},
}


def test_check_spf():
    tmp = tempfile.mkdtemp(prefix="tern-spf-")
    dns = DnsServer(ZONE)
    env = dict(os.environ, TERN_DNS_SERVERS=dns.servers, TERN_DATA_DIR=os.path.join(tmp, "data"),
               TERN_HOSTNAME="mx.tern.test")

    def check(ip, sender, helo="client.example.net", status=0):
        r = subprocess.run([TERN, "check", "spf", ip, sender, helo], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        err = r.stderr.decode(errors="replace")
        keep_sanitizer_output(err, "stderr of tern check spf")
        assert r.returncode == status, (ip, sender, r.returncode, err)
        return r.stdout.decode().splitlines()

    try:
        assert check("127.0.0.2", "ann@example.test") == ["pass"]          # mx
        assert check("10.9.9.200", "ann@example.test") == ["pass"]         # ip4/24
        assert check("2001:db8::25", "ann@example.test") == ["pass"]       # include: ip6
        assert check("2001:db9::25", "ann@example.test") == [
            "fail", "explanation: 2001:db9::25 may not send mail as ann@example.test (see example.test)"]
        assert check("192.0.2.1", "ann@example.test") == [
            "fail", "explanation: 192.0.2.1 may not send mail as ann@example.test (see example.test)"]
        assert check("127.0.0.3", "x@soft.test") == ["pass"]
        assert check("127.0.0.4", "x@soft.test") == ["softfail"]
        assert check("127.0.0.4", "x@neutral.test") == ["neutral"]
        # redirect= takes the target's record and its exp=, with %{d} the target.
        assert check("127.0.0.2", "bo@redir.test") == ["pass"]
        assert check("192.0.2.9", "bo@redir.test") == [
            "fail", "explanation: 192.0.2.9 may not send mail as bo@redir.test (see example.test)"]
        assert check("127.0.0.2", "x@nospf.test") == ["none"]
        assert check("127.0.0.2", "x@nowhere.test") == ["none"]
        assert check("127.0.0.2", "x@two.test") == ["permerror"]
        assert check("127.0.0.2", "x@syntax.test") == ["permerror"]
        assert check("127.0.0.2", "x@voids.test") == ["permerror"]
        assert check("127.0.0.2", "x@broken.test") == ["temperror"]
        assert check("127.0.0.2", "x@anull.test") == ["permerror"]
        assert check("127.0.0.2", "x@mxnull.test") == ["permerror"]
        assert check("127.0.0.2", "x@expnull.test") == ["fail"]  # §6.2: no explanation
        assert check("127.0.0.2", "x@brokeninc.test") == ["temperror"]
        # ptr: the PTR name validated by its A record.
        assert check("127.0.0.5", "x@ptr.test") == ["pass"]
        assert check("127.0.0.9", "x@ptr.test") == ["fail"]
        # exists with %{l} and %{ir}.
        assert check("127.0.0.6", "ann@list.test") == ["pass"]
        assert check("127.0.0.6", "bob@list.test") == ["fail"]
        # The null path checks postmaster@HELO; IPv4-mapped IPv6 counts as IPv4.
        assert check("127.0.0.7", "<>", "helo.test") == ["pass"]
        assert check("127.0.0.8", "", "helo.test") == ["fail"]
        assert check("::ffff:127.0.0.7", "<>", "helo.test") == ["pass"]
        # An unencodable target is no match, not a temperror; the rest of the record counts.
        assert check("127.0.0.2", "x@emptylabel.test") == ["fail"]
        assert check("127.0.0.8", "x@emptylabel.test") == ["pass"]
        assert check("127.0.0.2", "%s@longlabel.test" % ("l" * 64)) == ["fail"]
        # Usage.
        assert check("not-an-ip", "a@example.test", status=2) == []
        r = subprocess.run([TERN, "check", "spf", "127.0.0.1"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        assert r.returncode == 2 and b"usage" in r.stderr
    finally:
        dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_port25_logs_spf():
    dns = DnsServer({"remote.test": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]},
                     "forged.test": {"TXT": ["v=spf1 ip4:192.0.2.1 -all"]}})
    try:
        with Server(accounts=[("bob@example.test", "bob-pw-1")],
                    env={"TERN_DNS_SERVERS": dns.servers}) as s:
            for sender, result in (("alice@remote.test", "pass"), ("eve@forged.test", "fail"),
                                   ("x@nospf.test", "none")):
                with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10) as c:
                    c.ehlo("client.remote.test")
                    assert c.mail(sender)[0] == 250
                    # The check runs while the client goes on; wait for it,
                    # so the delivered record below is not "pending".
                    domain = sender.split("@")[1]
                    line = "event=spf identity=mailfrom result=%s domain=%s" % (result, domain)
                    assert s.wait_log(line), s.log_text()[-2000:]
                    assert c.rcpt("bob@example.test")[0] == 250
                    code, _ = c.data(message(subject="spf " + result, sender=sender))
                    assert code == 250  # observation only: a fail is still accepted
                assert s.wait_log("from=%s rcpts=1" % sender)
                delivered = [ln for ln in s.log_text().splitlines()
                             if "event=delivered" in ln and sender in ln]
                assert delivered and re.search(r" spf=%s\b" % result, delivered[-1]), delivered
    finally:
        dns.stop()


DIFF_SEED = int(os.environ.get("AUTHDIFF_SEED", "7208"))


def test_check_spf_differential():
    """300 generated checks (spf_diffgen.py, seeded: AUTHDIFF_SEED for
    another draw) against pyspf through the same DNS server: the result,
    and for a fail the exp= explanation, must be pyspf's. Explanations are
    compared without case: pyspf upper-cases the nibbles of an IPv6 %{I},
    where RFC 7208 §7.3 has an upper-case macro expand as the lower-case
    one and then URL-escape it."""
    tmp = tempfile.mkdtemp(prefix="tern-spfdiff-")
    dns = DnsServer({})
    env = dict(os.environ, TERN_DNS_SERVERS=dns.servers, TERN_DATA_DIR=os.path.join(tmp, "data"),
               TERN_HOSTNAME="mx.tern.test")
    try:
        out = os.path.join(tmp, "cases.json")
        r = subprocess.run([SYSTEM_PYTHON, os.path.join(os.path.dirname(__file__), "spf_diffgen.py"),
                            str(DIFF_SEED), "300", dns.path, str(dns.port), out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        cases = json.load(open(out))
        bad, seen = [], collections.Counter()
        for c in cases:
            r = subprocess.run([TERN, "check", "spf", c["ip"], c["sender"], c["helo"]], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            err = r.stderr.decode(errors="replace")
            keep_sanitizer_output(err, "stderr of tern check spf")
            lines = r.stdout.decode().splitlines()
            result, expl = c["pyspf"]
            want = [result]
            if result == "fail" and expl != "SPF fail - not authorized":  # pyspf's default
                want.append("explanation: " + expl)
                seen["explanation"] += 1
            seen[result] += 1
            if [ln.lower() for ln in lines] != [w.lower() for w in want]:
                bad.append((c["ip"], c["sender"], c["helo"], lines, err[-300:], want, c["records"]))
        assert not bad, "%d of %d disagree (seed %d); first: %r" % (len(bad), len(cases), DIFF_SEED, bad[0])
        for k in ("pass", "fail", "softfail", "neutral", "none", "permerror", "temperror", "explanation"):
            assert seen[k] > 0, seen
    finally:
        dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)
