"""`tern check auth --ip IP --helo H --mail-from A FILE` against records
served by the loopback DNS server (dns_server.py) and a DKIM signature made
by dkimpy (python3-dkim, as test_check_dkim.py): the Authentication-Results
field: iprev (pass, and permerror without PTR), and DMARC (RFC 9989) pass by aligned SPF (strict and relaxed) and by
aligned DKIM, the spoofing case (fail, p=reject), a tampered signature,
t=y, a subdomain's np= policy, no record, a DNS failure (temperror), an
SPF temperror for the From domain (temperror, not fail), two
From domains (none), the null path, an IPv6 client (its address quoted, the
field read by Python's authres), a From domain literal that tries to add a
result of its own (quoted), a UTF-8 From domain (its A-label's policy, and
its UTF-8 MAIL FROM's SPF record at the A-label, RFC 8616), and
usage errors; arc= for a chain
sealed by dkimpy's arc_sign (pass, then fail once the body changed)."""
import json
import os
import re
import shutil
import subprocess
import tempfile

from harness import TERN, keep_sanitizer_output
from mailpeers import SYSTEM_PYTHON, DnsServer

HOST = "mx.tern.test"

SIGNER = r"""
import sys, dkim
msg = sys.stdin.buffer.read()
key = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(dkim.sign(msg, b"rsa", b"example.org", key,
                                  canonicalize=(b"relaxed", b"relaxed")) + msg)
"""

ARC_SIGNER = r"""
import sys, dkim
msg = sys.stdin.buffer.read()
key = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(b"".join(dkim.arc_sign(msg, b"rsa", b"example.org", key, b"lists.example.org")) + msg)
"""


def message(frm, body="Noon at the usual place?\r\n"):
    return ("From: %s\r\nTo: Bob <bob@example.net>\r\nSubject: lunch\r\n"
            "Date: Sun, 22 Nov 2026 19:00:00 +0000\r\nMessage-ID: <l.1@example.org>\r\n\r\n%s"
            % (frm, body)).encode()


def txt_value(dns_file):
    text = open(dns_file).read()
    return "".join(text.split('"')[1::2]) if '"' in text else text.strip()


def test_check_auth():
    tmp = tempfile.mkdtemp(prefix="tern-auth-")
    dns = None
    try:
        r = subprocess.run(["dknewkey", os.path.join(tmp, "rsa")], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        assert r.returncode == 0, r.stderr
        key = txt_value(os.path.join(tmp, "rsa.dns"))
        zone = {
            "example.org": {"TXT": ["v=spf1 ip4:127.0.0.2 -all"], "A": ["127.0.0.2"]},
            "bounce.example.org": {"TXT": ["v=spf1 ip4:127.0.0.2 -all"]},
            "_dmarc.example.org": {"TXT": ["v=DMARC1; p=reject; np=quarantine; rua=mailto:d@example.org"]},
            "rsa._domainkey.example.org": {"TXT": ['" "'.join(key[i:i + 255] for i in range(0, len(key), 255))]},
            "other.test": {"TXT": ["v=spf1 ip4:127.0.0.2 -all"]},
            "quar.test": {"TXT": ["v=spf1 -all"]},
            "_dmarc.quar.test": {"TXT": ["v=DMARC1; p=reject; t=y"]},
            "helo.test": {"TXT": ["v=spf1 ip4:127.0.0.2 -all"]},
            "_dmarc.helo.test": {"TXT": ["v=DMARC1; p=reject"]},
            "_dmarc.tmp.test": {"SERVFAIL": True},
            "spfdown.test": {"SERVFAIL": True},
            "_dmarc.spfdown.test": {"TXT": ["v=DMARC1; p=reject"]},
            "_dmarc.xn--bnk-qla.test": {"TXT": ["v=DMARC1; p=reject"]},
            "xn--bnk-qla.test": {"TXT": ["v=spf1 ip4:127.0.0.2 -all"]},
            "2.0.0.127.in-addr.arpa": {"PTR": ["mail.example.org."]},
            "mail.example.org": {"A": ["127.0.0.2"]},
        }
        dns = DnsServer(zone)
        env = dict(os.environ, TERN_DNS_SERVERS=dns.servers, TERN_DATA_DIR=os.path.join(tmp, "data"),
                   TERN_HOSTNAME=HOST)
        n = [0]

        def check(data, ip="127.0.0.2", mail_from="ann@example.org", helo="client.example.org",
                  status=0, args=None):
            n[0] += 1
            path = os.path.join(tmp, "m%d.eml" % n[0])
            with open(path, "wb") as f:
                f.write(data)
            cmd = args if args is not None else ["--ip", ip, "--helo", helo, "--mail-from", mail_from, path]
            r = subprocess.run([TERN, "check", "auth"] + cmd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
            err = r.stderr.decode(errors="replace")
            keep_sanitizer_output(err, "stderr of tern check auth")
            assert r.returncode == status, (cmd, r.returncode, err)
            return r.stdout.decode().splitlines()

        ar = "Authentication-Results: " + HOST + "; iprev=pass policy.iprev=127.0.0.2; "
        ann = message("Ann <ann@example.org>")
        # SPF aligned, strict then relaxed.
        out = check(ann)
        assert out[0] == ar + ("spf=pass smtp.mailfrom=ann@example.org; dkim=none; "
                               "arc=none smtp.remote-ip=127.0.0.2; "
                               "dmarc=pass header.from=example.org policy.dmarc=reject"), out
        assert "arc-reason: no ARC sets" in out, out
        assert "dmarc-policy-domain: example.org (p=)" in out, out
        assert "iprev-name: mail.example.org" in out, out
        out = check(ann, mail_from="b@bounce.example.org")
        assert out[0].endswith("; dmarc=pass header.from=example.org policy.dmarc=reject"), out
        # The spoof of issue 29: our neighbour's domain from elsewhere.
        out = check(ann, ip="127.0.0.9")
        assert out[0] == ar.replace("iprev=pass policy.iprev=127.0.0.2", "iprev=permerror policy.iprev=127.0.0.9") + ("spf=fail smtp.mailfrom=ann@example.org; dkim=none; "
                               "arc=none smtp.remote-ip=127.0.0.9; "
                               "dmarc=fail header.from=example.org policy.dmarc=reject"), out
        assert "dmarc-disposition: reject" in out, out
        # DKIM aligned, SPF passing for another domain.
        def bprefix(field):
            b = re.search(rb"\bb=([^;]*)", re.sub(rb"\s+", b"", field)).group(1).decode()[:8]
            return '"%s"' % b if "/" in b or "=" in b else b
        signed = subprocess.run([SYSTEM_PYTHON, "-c", SIGNER, os.path.join(tmp, "rsa.key")], input=ann,
                                stdout=subprocess.PIPE, timeout=60).stdout
        out = check(signed, mail_from="x@other.test")
        assert out[0] == ar + ("spf=pass smtp.mailfrom=x@other.test; dkim=pass header.d=example.org "
                               "header.s=rsa header.b=%s; arc=none smtp.remote-ip=127.0.0.2; "
                               "dmarc=pass header.from=example.org policy.dmarc=reject") % bprefix(signed), out
        # Two signatures by the same d= and s= (a re-signing relay, a
        # key rotation's overlap), one broken by a body change that only
        # simple canonicalization sees: each result names its signature
        # by header.b (RFC 6008 §4), the first 8 characters of its b= (a
        # quoted-string when they hold "/", which a token cannot).
        twice = subprocess.run([SYSTEM_PYTHON, "-c", SIGNER.replace('(b"relaxed", b"relaxed")', '(b"relaxed", b"simple")'),
                                os.path.join(tmp, "rsa.key")], input=signed, stdout=subprocess.PIPE,
                               timeout=60).stdout.replace(b"place?\r\n", b"place? \r\n")

        sigs = re.findall(rb"DKIM-Signature:.*?(?=\r\n\S)", twice, re.S)
        assert len(sigs) == 2, twice[:300]
        out = check(twice, mail_from="x@other.test")
        assert "dkim=fail header.d=example.org header.s=rsa header.b=%s;" % bprefix(sigs[0]) in out[0], out
        assert "dkim=pass header.d=example.org header.s=rsa header.b=%s;" % bprefix(sigs[1]) in out[0], out
        assert "dmarc=pass" in out[0], out
        r = subprocess.run([SYSTEM_PYTHON, "-c", "import sys, authres\n"
                            "h = authres.AuthenticationResultsHeader.parse(sys.stdin.read())\n"
                            "print(' '.join(p.value for x in h.results for p in x.properties if p.name == 'b'))"],
                           input=out[0], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.split() == [bprefix(f).strip('"') for f in sigs], (out[0], r)
        tampered = signed.replace(b"Noon", b"Nine")
        out = check(tampered, mail_from="x@other.test")
        assert ("; dkim=fail header.d=example.org header.s=rsa header.b=%s; arc=none smtp.remote-ip=127.0.0.2; dmarc=fail"
                % bprefix(signed)) in out[0], out
        # An ARC chain (RFC 8617): a list's set made by dkimpy's arc_sign
        # validates (arc=pass with the sealer), and fails once the body changed.
        sealed = subprocess.run([SYSTEM_PYTHON, "-c", ARC_SIGNER, os.path.join(tmp, "rsa.key")],
                                input=b"Authentication-Results: lists.example.org; dmarc=pass\r\n" + ann,
                                stdout=subprocess.PIPE, timeout=60).stdout
        assert sealed.startswith(b"ARC-Seal: i=1;"), sealed[:100]
        out = check(sealed)
        assert "; dkim=none; arc=pass (i=1 d=example.org) header.oldest-pass=0 smtp.remote-ip=127.0.0.2; dmarc=pass" \
            in out[0], out
        assert "arc-reason: 1 set verified" in out, out
        out = check(sealed.replace(b"Noon", b"Nine"))
        assert "; arc=fail (i=1) smtp.remote-ip=127.0.0.2; dmarc=pass" in out[0], out
        assert "arc-reason: ARC-Message-Signature 1: body hash did not verify" in out, out
        # DKIM's body hashes serve ARC's (one per canonicalization and
        # l=, shared): the two DKIM signatures above (relaxed, and simple
        # broken by the trailing space) under a list's seal (relaxed)
        # keep their results, and the seal passes; a body changed after
        # all three fails them all.
        sealed = subprocess.run([SYSTEM_PYTHON, "-c", ARC_SIGNER, os.path.join(tmp, "rsa.key")],
                                input=b"Authentication-Results: lists.example.org; dmarc=pass\r\n" + twice,
                                stdout=subprocess.PIPE, timeout=60).stdout
        assert sealed.startswith(b"ARC-Seal: i=1;"), sealed[:100]
        out = check(sealed, mail_from="x@other.test")
        assert "dkim=fail header.d=example.org header.s=rsa header.b=%s;" % bprefix(sigs[0]) in out[0], out
        assert "dkim=pass header.d=example.org header.s=rsa header.b=%s;" % bprefix(sigs[1]) in out[0], out
        assert "arc=pass (i=1 d=example.org) header.oldest-pass=0" in out[0], out
        out = check(sealed.replace(b"Noon", b"Nine"), mail_from="x@other.test")
        assert out[0].count("dkim=fail") == 2 and "arc=fail (i=1)" in out[0], out
        assert "arc-reason: ARC-Message-Signature 1: body hash did not verify" in out, out
        # A non-existent subdomain gets np=.
        out = check(message("x@ghost.example.org"), mail_from="x@other.test")
        assert out[0].endswith("dmarc=fail header.from=ghost.example.org policy.dmarc=quarantine"), out
        assert "dmarc-policy-domain: example.org (np=)" in out, out
        # t=y: the disposition is one step below what was published, and
        # policy.dmarc says what was applied (0e15b4ac), as at SMTP time.
        out = check(message("q@quar.test"), mail_from="q@quar.test")
        assert out[0].endswith("spf=fail smtp.mailfrom=q@quar.test; dkim=none; " + "arc=none smtp.remote-ip=127.0.0.2; "
                               "dmarc=fail header.from=quar.test policy.dmarc=quarantine"), out
        assert "dmarc-disposition: quarantine (t=y: one step below the policy)" in out, out
        # No record; a DNS failure; two From domains; the null path.
        out = check(message("a@nobody.test"), mail_from="a@nobody.test")
        assert out[0].endswith("; dmarc=none header.from=nobody.test"), out
        out = check(message("a@tmp.test"), mail_from="a@tmp.test")
        assert out[0].endswith("; dmarc=temperror header.from=tmp.test"), out
        # The sender's SPF record could not be fetched (SERVFAIL) and no
        # DKIM pass: the aligned SPF pass was not ruled out, so temperror
        # (a retry), not a fail that p=reject would refuse.
        out = check(message("a@spfdown.test"), mail_from="a@spfdown.test")
        assert "spf=temperror smtp.mailfrom=a@spfdown.test" in out[0], out
        assert out[0].endswith("; dmarc=temperror header.from=spfdown.test"), out
        assert "dmarc-reason: an SPF or DKIM check that could align failed temporarily" in out, out
        # ... but an SPF error for a domain that could not align is no excuse.
        out = check(message("a@example.org"), mail_from="a@spfdown.test")
        assert out[0].endswith("; dmarc=fail header.from=example.org policy.dmarc=reject"), out
        out = check(message("a@example.org, b@other.test"))
        assert out[0].endswith("; dmarc=none"), out
        assert "dmarc-reason: not exactly one From domain" in out, out
        out = check(ann, mail_from="<>", helo="helo.test")
        assert out[0].startswith(ar + "spf=pass smtp.helo=helo.test; dkim=none; arc=none smtp.remote-ip=127.0.0.2; dmarc=fail"), out
        # ... and a HELO pass never aligns for DMARC (RFC 9989 §4.4.2: MAIL FROM only).
        out = check(message("x@helo.test"), mail_from="<>", helo="helo.test")
        assert out[0].endswith("spf=pass smtp.helo=helo.test; dkim=none; arc=none smtp.remote-ip=127.0.0.2; "
                               "dmarc=fail header.from=helo.test policy.dmarc=reject"), out
        # An IPv6 client: the address is a quoted-string in policy.iprev and
        # smtp.remote-ip (":" is not allowed in a token, RFC 8601 §2.2), so
        # a parser (Python's authres, which dkimpy uses) reads the field.
        out = check(ann, ip="2001:db8::5")
        assert 'iprev=permerror policy.iprev="2001:db8::5"; ' in out[0], out
        assert 'arc=none smtp.remote-ip="2001:db8::5"; ' in out[0], out
        for line in (out[0], check(ann)[0]):
            r = subprocess.run([SYSTEM_PYTHON, "-c", "import sys, authres\n"
                                "h = authres.AuthenticationResultsHeader.parse(sys.stdin.read())\n"
                                "print(' '.join(x.method for x in h.results))"],
                               input=line, capture_output=True, text=True, timeout=30)
            assert r.returncode == 0 and r.stdout.split() == ["iprev", "spf", "dkim", "arc", "dmarc"], (line, r)
        # A From domain in UTF-8 (bänk.test) is looked up at its A-label.
        out = check(message("CEO <ceo@b\u00e4nk.test>"))
        assert out[0].endswith("; dmarc=fail header.from=xn--bnk-qla.test policy.dmarc=reject"), out
        # Its own SMTPUTF8 MAIL FROM is checked at the A-label (RFC 8616
        # §4): SPF passes and aligns, so DMARC passes.
        out = check(message("CEO <ceo@b\u00e4nk.test>"), mail_from="ceo@b\u00e4nk.test")
        assert 'spf=pass smtp.mailfrom="ceo@b\u00e4nk.test"' in out[0], out
        assert out[0].endswith("; dmarc=pass header.from=xn--bnk-qla.test policy.dmarc=reject"), out
        # In capitals (BÄNK.test) it is the same domain and the same policy.
        out = check(message("CEO <ceo@B\u00c4NK.test>"))
        assert out[0].endswith("; dmarc=fail header.from=xn--bnk-qla.test policy.dmarc=reject"), out
        # A From domain literal carrying ";" and a result of its own: written
        # as a quoted-string, so it cannot add a "dmarc=pass" to our field.
        out = check(message("x@[1;dmarc=pass header.from=example.org]"))
        assert out[0].endswith('; dmarc=none header.from="[1;dmarc=pass header.from=example.org]"'), out
        r = subprocess.run([SYSTEM_PYTHON, "-c", "import sys, authres\n"
                            "h = authres.AuthenticationResultsHeader.parse(sys.stdin.read())\n"
                            "print(' '.join(x.method + '=' + x.result for x in h.results))"],
                           input=out[0], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.split()[-1] == "dmarc=none", (out[0], r)
        # A MAIL FROM that is not a dot-atom is a quoted-string in the field.
        out = check(ann, mail_from='"a b"@other.test')
        assert 'spf=pass smtp.mailfrom="\\"a b\\"@other.test"; dkim=none' in out[0], out
        # Usage and a missing file.
        assert check(ann, args=["--ip", "127.0.0.2", "x.eml"], status=2) == []
        assert check(ann, args=["--ip", "bad", "--helo", "h", "--mail-from", "a@b", "x.eml"], status=2) == []
        assert check(ann, args=["--ip", "127.0.0.2", "--helo", "h", "--mail-from", "a@b",
                                os.path.join(tmp, "missing.eml")], status=1) == []
    finally:
        if dns:
            dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)
