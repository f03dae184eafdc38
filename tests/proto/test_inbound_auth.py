"""Port 25's authentication stages (issue 29, DESIGN.md §3b): one server and
one loopback DNS server (dns_server.py) for every case.

- the issue's spoofing case: swaks from outside, no login, MAIL FROM and
  From of our own domain, which publishes no DMARC record: 550 5.7.1;
- DMARC p=reject: 550 5.7.1 at the end of DATA, also when a second From
  domain (or field, or one hidden past a field the parser refuses) is
  added to lift it; p=quarantine: delivered
  to bob's Junk mailbox with $Junk; a DNS failure of the policy lookup:
  451 4.7.1, and of the sender's SPF record or its own DKIM key under
  p=reject too (p=none: delivered); a rejecting domain on the admin's
  tolerated list: delivered;
- a message signed by dkimpy (python3-dkim) with aligned DKIM: stored with
  one Authentication-Results field showing dkim=pass and dmarc=pass (also
  a 2 MiB one, whose body is hashed on the worker pool); signed with l=
  and content appended, it no longer counts for DMARC;
  OpenDKIM's opendkim-testmsg signs with rsa-sha1 only, which RFC 8301
  makes a fail: shown as dkim=fail (test_inbound_hops has the OpenDKIM
  daemon's rsa-sha256 pass, directly and through a Postfix hop);
- forged Authentication-Results claiming our authserv-id removed, another
  server's kept;
- an ARC set sealed by dkimpy (arc_sign) for a mailing list whose AAR
  saw dmarc=pass: the p=reject failure is refused until the list is a
  trusted ARC sealer (settings API), then accepted with arc=pass shown;
  a replay of that list's set (dmarc=pass for another From domain)
  under a From rewritten by a later hop that sealed again: refused; a
  replay of its copy with the body rewritten under the same From by an
  untrusted hop that sealed again: refused (relayed unchanged: delivered);
- RCPT TO:<postmaster> and postmaster@ each served domain accepted and
  delivered to the administrator's account;
- one log record per message with every result, /metrics counters, and
  the DMARC results counted for the aggregate reports tern sends.
"""
import os
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile

from harness import Raw
from httpc import admin_server
from mailpeers import SYSTEM_PYTHON, DnsServer

HOST = "mx.example.test"

SIGNER = r"""
import sys, dkim
msg = sys.stdin.buffer.read()
key = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(dkim.sign(msg, b"rsa", b"example.org", key,
                                  canonicalize=(b"relaxed", b"relaxed"),
                                  length=sys.argv[2:] == ["l"],
                                  include_headers=[b"from", b"to", b"subject"] if sys.argv[2:] == ["h"] else None)
                        + msg)
"""


ARC_SEALER = r"""
import sys, dkim
msg = sys.stdin.buffer.read()
key = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(b"".join(dkim.arc_sign(msg, b"arc", b"lists.example.org", key,
                                               b"lists.example.org")) + msg)
"""


def message(frm, subject, body="Noon at the usual place?\r\n", extra=""):
    return ("%sFrom: %s\r\nTo: Bob <bob@example.test>\r\nSubject: %s\r\n"
            "Date: Sun, 22 Nov 2026 19:00:00 +0000\r\nMessage-ID: <%s@example.org>\r\n\r\n%s"
            % (extra, frm, subject, subject.replace(" ", "."), body)).encode()


def txt_value(path):
    text = open(path).read()
    return "".join(text.split('"')[1::2]) if '"' in text else text.strip()


def zone_txt(v):
    return '" "'.join(v[i:i + 255] for i in range(0, len(v), 255))


def send(s, mail_from, data, rcpts=("bob@example.test",), options=()):
    """(code, text) of the reply to the end of DATA (or of the first refusal)."""
    c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30)
    try:
        c.ehlo("client.example.org")
        code, text = c.mail(mail_from, list(options))
        assert code == 250, (code, text)
        for r in rcpts:
            code, text = c.rcpt(r)
            assert code == 250, (r, code, text)
        return c.data(data)
    finally:
        c.close()


def field(raw, name):
    """The values of header field name in raw (unfolded)."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
    out, cur = [], None
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and cur is not None:
            out[-1] += " " + line.strip()
            continue
        k, _, v = line.partition(":")
        cur = k.lower() == name.lower()
        if cur:
            out.append(v.strip())
        else:
            cur = None
    return out


def last(s, account, mailbox="INBOX"):
    msgs = s.messages(account, mailbox)
    assert msgs, (account, mailbox)
    return s.raw(account, msgs[-1][0])


def test_inbound_auth():
    tmp = tempfile.mkdtemp(prefix="tern-inauth-")
    dns = s = None
    try:
        r = subprocess.run(["dknewkey", os.path.join(tmp, "rsa")], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        r = subprocess.run(["opendkim-genkey", "-b", "2048", "-s", "odk", "-d", "example.org", "-D", tmp],
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        dns = DnsServer({
            "example.org": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]},
            "_dmarc.example.org": {"TXT": ["v=DMARC1; p=reject"]},
            "rsa._domainkey.example.org": {"TXT": [zone_txt(txt_value(os.path.join(tmp, "rsa.dns")))]},
            "odk._domainkey.example.org": {"TXT": [zone_txt(txt_value(os.path.join(tmp, "odk.txt")))]},
            "trial._domainkey.example.org": {"TXT": [zone_txt(txt_value(os.path.join(tmp, "rsa.dns"))
                                                              .replace("v=DKIM1;", "v=DKIM1; t=y;"))]},
            "reject.test": {"TXT": ["v=spf1 -all"]},
            "_dmarc.reject.test": {"TXT": ["v=DMARC1; p=reject"]},
            "quar.test": {"TXT": ["v=spf1 -all"]},
            "_dmarc.quar.test": {"TXT": ["v=DMARC1; p=quarantine"]},
            "trial.test": {"TXT": ["v=spf1 -all"]},
            "_dmarc.trial.test": {"TXT": ["v=DMARC1; p=reject; t=y"]},
            "lenient.test": {"TXT": ["v=spf1 -all"]},
            "_dmarc.lenient.test": {"TXT": ["v=DMARC1; p=reject"]},
            "_dmarc.broken.test": {"SERVFAIL": True},
            "keydown._domainkey.reject.test": {"SERVFAIL": True},
            "spfdown.test": {"SERVFAIL": True},
            "_dmarc.spfdown.test": {"TXT": ["v=DMARC1; p=reject"]},
            "xn--bnk-qla.test": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]},
            "_dmarc.xn--bnk-qla.test": {"TXT": ["v=DMARC1; p=reject"]},
            "monitor.test": {"SERVFAIL": True},
            "_dmarc.monitor.test": {"TXT": ["v=DMARC1; p=none"]},
            "arc._domainkey.lists.example.org": {"TXT": [zone_txt(txt_value(os.path.join(tmp, "rsa.dns")))]},
            "arc._domainkey.evil.test": {"TXT": [zone_txt(txt_value(os.path.join(tmp, "rsa.dns")))]},
            "1.0.0.127.in-addr.arpa": {"PTR": ["client.example.org."]},
            "client.example.org": {"A": ["127.0.0.1"]},
        })
        s, api = admin_server(domains=("example.test", "other.test"),
                              accounts=[("admin@example.test", "admin-pw-1-Vq8r"), ("bob@example.test", "bob-pw-1")],
                              env={"TERN_DNS_SERVERS": dns.servers, "TERN_HOSTNAME": HOST})

        # The spoofing case, with swaks as a user would try it.
        r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % s.smtp_port, "--from", "alice@example.test",
                            "--to", "bob@example.test", "--header", "From: Alice <alice@example.test>",
                            "--header", "Subject: spoof"], capture_output=True, timeout=60)
        out = r.stdout.decode(errors="replace")
        assert "<** 550 5.7.1" in out, out
        assert not s.messages("bob@example.test") and not s.messages("bob@example.test", "Junk")

        # DMARC p=reject: refused at the end of DATA.
        code, text = send(s, "ann@reject.test", message("Ann <ann@reject.test>", "reject me"))
        assert (code, text[:5]) == (550, b"5.7.1"), (code, text)
        # A second author domain beside the one a reader sees gave DMARC
        # "none", so it lifted p=reject (and our own domain's refusal):
        # a From listing two domains, two From fields, an address without
        # a domain, a From hidden after a field name the header parser
        # gives up on, a From whose addresses past the 32 read are Ann's
        # (behind 32 of another domain, or 16 empty groups), and one the
        # parser skips as malformed where a lenient client shows Ann's
        # ("x@nobody.test <ann@...>": no phrase). All refused.
        for data in (message("Ann <ann@reject.test>, x@nobody.test", "two domains"),
                     message(", ".join(["x%d@nobody.test" % i for i in range(32)] + ["Ann <ann@reject.test>"]),
                             "past 32"),
                     message("g:;, " * 16 + "Ann <ann@reject.test>", "past 16 groups"),
                     message("x@nobody.test <ann@reject.test>", "skipped address"),
                     message("Alice <alice@example.test>", "two fields", extra="From: x@nobody.test\r\n"),
                     message("Ann <ann@reject.test>, undisclosed", "no domain"),
                     message("Ann <ann@reject.test>", "hidden", extra="X-" + "a" * 300 + ": v\r\n")):
            code, text = send(s, "x@nobody.test", data)
            assert (code, text[:5]) == (550, b"5.7.1"), (data[:80], code, text)
        assert not s.messages("bob@example.test") and not s.messages("bob@example.test", "Junk")
        # A DNS failure of the policy lookup: try again later.
        code, text = send(s, "ann@broken.test", message("Ann <ann@broken.test>", "dns down"))
        assert (code, text[:5]) == (451, b"4.7.1"), (code, text)
        # The sender's SPF lookup failed (SERVFAIL) under p=reject: a pass
        # was not ruled out, so try again later, never a 550 for it.
        code, text = send(s, "ann@spfdown.test", message("Ann <ann@spfdown.test>", "spf dns down"))
        assert (code, text[:5]) == (451, b"4.7.1"), (code, text)
        # ... and so does a DKIM key lookup that failed for the From
        # domain's own signature, SPF failing: 451, not 550.
        keydown = subprocess.run([SYSTEM_PYTHON, "-c", SIGNER.replace('b"rsa", b"example.org"',
                                                                      'b"keydown", b"reject.test"'),
                                  os.path.join(tmp, "rsa.key")],
                                 input=message("Ann <ann@reject.test>", "key dns down"),
                                 capture_output=True, timeout=60).stdout
        assert keydown.startswith(b"DKIM-Signature:"), keydown[:200]
        code, text = send(s, "ann@reject.test", keydown)
        assert (code, text[:5]) == (451, b"4.7.1"), (code, text)
        # p=quarantine: Junk, with $Junk.
        code, text = send(s, "ann@quar.test", message("Ann <ann@quar.test>", "quarantined"))
        assert code == 250, (code, text)
        junk = s.messages("bob@example.test", "Junk")
        assert len(junk) == 1 and "quarantined" in junk[0][1], junk
        raw = last(s, "bob@example.test", "Junk")
        assert "dmarc=fail header.from=quar.test policy.dmarc=quarantine" in field(raw, "Authentication-Results")[0]
        assert not s.messages("bob@example.test")
        # p=reject with t=y (testing): the next less strict policy,
        # quarantine, and policy.dmarc says so (the policy applied, RFC
        # 7489 §11.2), not the reject published.
        code, text = send(s, "ann@trial.test", message("Ann <ann@trial.test>", "on trial"))
        assert code == 250, (code, text)
        assert len(s.messages("bob@example.test", "Junk")) == 2
        raw = last(s, "bob@example.test", "Junk")
        assert "dmarc=fail header.from=trial.test policy.dmarc=quarantine" in \
            field(raw, "Authentication-Results")[0], field(raw, "Authentication-Results")
        assert not s.messages("bob@example.test")

        # The tolerated list (settings API) lets lenient.test's failures in.
        code, text = send(s, "ann@lenient.test", message("Ann <ann@lenient.test>", "lenient one"))
        assert code == 550, (code, text)
        st, _, body = api.call("PUT", "/settings", {"dmarc_tolerated": ["lenient.test"],
                                                    "postmaster": "admin@example.test"})
        assert st == 200 and body["auth"]["dmarc_tolerated"] == ["lenient.test"], (st, body)
        code, text = send(s, "ann@lenient.test", message("Ann <ann@lenient.test>", "lenient two"))
        assert code == 250, (code, text)

        # A mailing list that checked the original (dmarc=pass in its ARC
        # set, dkimpy's arc_sign) and then broke it: refused until the
        # list is a trusted ARC sealer.
        aar = b"Authentication-Results: lists.example.org; dmarc=pass header.from=reject.test\r\n"
        listed = subprocess.run([SYSTEM_PYTHON, "-c", ARC_SEALER, os.path.join(tmp, "rsa.key")],
                                input=aar + message("Ann <ann@reject.test>", "via the list"),
                                capture_output=True, timeout=60).stdout
        assert listed.startswith(b"ARC-Seal:"), listed[:300]
        code, text = send(s, "ann@reject.test", listed)
        assert (code, text[:5]) == (550, b"5.7.1"), (code, text)
        st, _, body = api.call("PUT", "/settings", {"arc_trusted": ["lists.example.org"]})
        assert st == 200 and body["auth"]["arc_trusted"] == ["lists.example.org"], (st, body)
        code, text = send(s, "ann@reject.test", listed)
        assert code == 250, (code, text)
        a = field(last(s, "bob@example.test"), "Authentication-Results")
        ours = [x for x in a if x.startswith(HOST + ";")]
        assert len(ours) == 1 and "arc=pass (i=1 d=lists.example.org)" in ours[0], a
        assert "dmarc=fail header.from=reject.test" in ours[0], ours
        assert s.wait_log("policy=arc_trusted"), s.log_text()[-2000:]
        # A replay: the trusted list's set saw dmarc=pass for evil.test;
        # a later hop rewrote From to reject.test and sealed again with its
        # own (valid) key. The chain passes, but the list's pass says
        # nothing of reject.test: refused.
        aar = b"Authentication-Results: lists.example.org; dmarc=pass header.from=evil.test\r\n"
        evil = subprocess.run([SYSTEM_PYTHON, "-c", ARC_SEALER, os.path.join(tmp, "rsa.key")],
                              input=aar + message("Eve <eve@evil.test>", "replayed"),
                              capture_output=True, timeout=60).stdout
        evil = evil.replace(b"From: Eve <eve@evil.test>", b"From: Ann <ann@reject.test>")
        resealed = subprocess.run([SYSTEM_PYTHON, "-c", ARC_SEALER.replace("lists.example.org", "evil.test"),
                                   os.path.join(tmp, "rsa.key")],
                                  input=b"Authentication-Results: evil.test; arc=pass\r\n" + evil,
                                  capture_output=True, timeout=60).stdout
        assert resealed.startswith(b"ARC-Seal: i=2;"), resealed[:300]
        code, text = send(s, "eve@evil.test", resealed)
        assert (code, text[:5]) == (550, b"5.7.1"), (code, text)
        # A replay of the list's own copy for reject.test, From kept, the
        # body and Subject rewritten by a hop nobody trusts, which sealed
        # again: the chain passes, but the list's set no longer covers the
        # message (its AMS fails): refused. The same hop relaying the copy
        # unchanged leaves the list's pass standing: delivered.
        forged = listed.replace(b"Noon at the usual place?", b"Wire the money to account 123") \
                       .replace(b"Subject: via the list", b"Subject: urgent payment")
        for body, want in ((forged, 550), (listed, 250)):
            resealed = subprocess.run([SYSTEM_PYTHON, "-c", ARC_SEALER.replace("lists.example.org", "evil.test"),
                                       os.path.join(tmp, "rsa.key")],
                                      input=b"Authentication-Results: evil.test; arc=pass\r\n" + body,
                                      capture_output=True, timeout=60).stdout
            assert resealed.startswith(b"ARC-Seal: i=2;"), resealed[:300]
            code, text = send(s, "eve@evil.test", resealed)
            assert code == want, (want, code, text)

        # dkimpy: aligned DKIM (and SPF) pass; forged fields for us removed.
        signed = subprocess.run([SYSTEM_PYTHON, "-c", SIGNER, os.path.join(tmp, "rsa.key")],
                                input=message("Ann <ann@example.org>", "signed by dkimpy"),
                                capture_output=True, timeout=60).stdout
        forged = ("Authentication-Results: %s; dmarc=pass header.from=example.org\r\n"
                  "Authentication-Results: (comment) %s;\r\n\tspf=pass\r\n"
                  "Authentication-Results: other.example; spf=pass smtp.mailfrom=example.org\r\n"
                  % (HOST, HOST.upper())).encode()
        code, text = send(s, "ann@example.org", forged + signed)
        assert code == 250, (code, text)
        raw = last(s, "bob@example.test")
        ars = field(raw, "Authentication-Results")
        ours = [a for a in ars if a.split(";")[0].split(")")[-1].strip().lower() == HOST]
        assert len(ours) == 1, ars
        assert any(a.startswith("other.example;") for a in ars), ars
        a = ours[0]
        assert "iprev=pass policy.iprev=127.0.0.1" in a, a
        assert "spf=pass smtp.mailfrom=ann@example.org" in a, a
        assert "dkim=pass header.d=example.org header.s=rsa" in a, a
        assert "dmarc=pass header.from=example.org policy.dmarc=reject" in a, a
        assert "arc=none" in a, a
        assert raw.startswith(b"Return-Path: <ann@example.org>\r\nReceived: from client.example.org"), raw[:200]
        assert raw.index(b"Authentication-Results: " + HOST.encode()) < raw.index(b"DKIM-Signature"), raw[:600]

        # l= (dkimpy's length=True) leaves what a forger appends unsigned:
        # dkim=pass is shown, but it no longer makes DMARC pass (RFC 6376
        # §8.2), so example.org's p=reject refuses it from elsewhere.
        short = subprocess.run([SYSTEM_PYTHON, "-c", SIGNER, os.path.join(tmp, "rsa.key"), "l"],
                               input=message("Ann <ann@example.org>", "signed with l="),
                               capture_output=True, timeout=60).stdout
        assert b" l=" in short or b";l=" in short or b"\tl=" in short, short[:600]
        code, text = send(s, "x@nobody.test", short + b"Click http://phish.example/ now\r\n")
        assert (code, text[:5]) == (550, b"5.7.1"), (code, text)
        code, text = send(s, "ann@example.org", short + b"Appended by a list\r\n")
        assert code == 250, (code, text)
        raw = last(s, "bob@example.test")
        a = field(raw, "Authentication-Results")[0]
        assert "dkim=pass header.d=example.org" in a and "dmarc=pass" in a, a
        # Nor does it earn the spam filter's DKIM_PASS: the appended part
        # is nobody's.
        spam = field(raw, "X-Spam-Result")
        assert len(spam) == 1 and "SPF_PASS" in spam[0] and "DKIM_PASS" not in spam[0], spam
        # A key in testing mode (t=y): its signature, failing here, counts
        # as no signature (RFC 6376 §3.6.1: "MUST NOT treat messages from
        # Signers in testing mode differently from unsigned email, even
        # should the signature fail to verify"), so no DKIM_FAIL.
        trial = subprocess.run([SYSTEM_PYTHON, "-c", SIGNER.replace('b"rsa"', 'b"trial"'),
                                os.path.join(tmp, "rsa.key")],
                               input=message("Ann <ann@example.org>", "signed in testing mode"),
                               capture_output=True, timeout=60).stdout
        code, text = send(s, "ann@example.org", trial.replace(b"Noon at", b"Ten at"))
        assert code == 250, (code, text)
        raw = last(s, "bob@example.test")
        assert "dkim=fail header.d=example.org header.s=trial" in field(raw, "Authentication-Results")[0], raw[:900]
        spam = field(raw, "X-Spam-Result")
        assert len(spam) == 1 and "SPF_PASS" in spam[0] and "DKIM_FAIL" not in spam[0], spam
        # A second From field of the same domain on top of a signed message:
        # the signature (bottom-up, RFC 6376 §5.4.2) vouches for the From
        # below while a mail client shows the one on top. Refused.
        # (dkimpy oversigns From by default: signed here without that.)
        once = subprocess.run([SYSTEM_PYTHON, "-c", SIGNER, os.path.join(tmp, "rsa.key"), "h"],
                              input=message("Ann <ann@example.org>", "signed once"),
                              capture_output=True, timeout=60).stdout
        assert b"h=from : to : subject;" in once, once[:600]
        code, text = send(s, "x@nobody.test", b"From: CEO <ceo@example.org>\r\n" + once)
        assert (code, text[:5]) == (550, b"5.7.1"), (code, text)
        # The same signature under a second Subject on top: the signature
        # covers the lower one, a mail client shows the upper one. The
        # pass no longer aligns, so it is refused from elsewhere.
        code, text = send(s, "x@nobody.test", b"Subject: Wire the money today\r\n" + once)
        assert (code, text[:5]) == (550, b"5.7.1"), (code, text)
        # A Sieve script never sees a forged field claiming our authserv-id
        # (RFC 8601 §5): it would discard this one if it did.
        s.cli("sieve", "put", "bob@example.test", "ar", input=(
            'if allof (header :contains "Subject" "sieve check",\r\n'
            '          header :contains "Authentication-Results" "%s; dmarc=pass") {\r\n'
            '  discard;\r\n}\r\n' % HOST))
        s.cli("sieve", "activate", "bob@example.test", "ar")
        code, text = send(s, "ann@nobody.test", ("Authentication-Results: %s; dmarc=pass\r\n" % HOST).encode()
                          + message("Ann <ann@nobody.test>", "sieve check"))
        assert code == 250, (code, text)
        assert any("sieve check" in m[1] for m in s.messages("bob@example.test")), s.messages("bob@example.test")
        # A big body (over 1 MiB) is hashed on the worker pool: still a pass.
        big = subprocess.run([SYSTEM_PYTHON, "-c", SIGNER, os.path.join(tmp, "rsa.key")],
                             input=message("Ann <ann@example.org>", "big and signed",
                                           body="A line of the body, long enough.\r\n" * 60000),
                             capture_output=True, timeout=60).stdout
        code, text = send(s, "ann@example.org", big)
        assert code == 250, (code, text)
        a = field(last(s, "bob@example.test"), "Authentication-Results")[0]
        assert "dkim=pass header.d=example.org header.s=rsa" in a and "dmarc=pass" in a, a

        # OpenDKIM signs with rsa-sha1 only: RFC 8301 makes it a fail; SPF
        # still aligns, so DMARC passes.
        msg = message("Ann <ann@example.org>", "signed by opendkim")
        odk = subprocess.run(["opendkim-testmsg", "-C", "-d", "example.org", "-k",
                              os.path.join(tmp, "odk.private"), "-s", "odk"], input=msg,
                             capture_output=True, timeout=60).stdout
        assert b"a=rsa-sha1" in odk, odk[:200]
        code, text = send(s, "ann@example.org", odk + msg)
        assert code == 250, (code, text)
        a = field(last(s, "bob@example.test"), "Authentication-Results")[0]
        assert "dkim=fail header.d=example.org header.s=odk" in a and "dmarc=pass" in a, a

        # Postmaster: bare and per served domain, to the administrator.
        for rc in ("postmaster", "postmaster@example.test", "Postmaster@other.test"):
            c = Raw(s.smtp_port)
            c.cmd("EHLO client.example.org")
            assert c.cmd("MAIL FROM:<ann@example.org>")[0] == 250
            code, lines = c.cmd("RCPT TO:<%s>" % rc)
            assert code == 250, (rc, lines)
            c.close()
        code, text = send(s, "ann@example.org", message("Ann <ann@example.org>", "to postmaster"),
                          rcpts=("postmaster@other.test",))
        assert code == 250, (code, text)
        assert any("to postmaster" in m[1] for m in s.messages("admin@example.test")), \
            s.messages("admin@example.test")

        # A failed SPF lookup under p=none: nothing a retry could change: delivered.
        code, text = send(s, "ann@monitor.test", message("Ann <ann@monitor.test>", "monitored"))
        assert code == 250, (code, text)
        raw = last(s, "bob@example.test")
        assert "spf=temperror" in field(raw, "Authentication-Results")[0], field(raw, "Authentication-Results")
        assert "dmarc=temperror header.from=monitor.test" in field(raw, "Authentication-Results")[0]
        assert s.wait_log("policy=dmarc_temperror_policy_none"), s.log_text()[-2000:]

        # An SMTPUTF8 sender of an IDN domain from its own server: SPF is
        # checked at the A-label (RFC 8616 §4), passes and aligns, so its
        # p=reject does not refuse it.
        code, text = send(s, "ceo@b\u00e4nk.test", message("CEO <ceo@b\u00e4nk.test>", "idn sender"),
                          options=("SMTPUTF8",))
        assert code == 250, (code, text)
        a = field(last(s, "bob@example.test"), "Authentication-Results")[0]
        assert "spf=pass" in a and "dmarc=pass header.from=xn--bnk-qla.test" in a, a

        # The results are counted for the DMARC aggregate reports tern
        # sends (report/dmarc_seen.h): SIGHUP moves the counts to the store.
        s.proc.send_signal(signal.SIGHUP)
        assert s.wait_log("event=seen_flushed"), s.log_text()[-2000:]
        pending = s.cli("dmarc", "report").stdout.decode()
        assert re.search(r"quar\.test rows=1 messages=1", pending), pending
        assert re.search(r"trial\.test rows=1 messages=1", pending), pending
        assert re.search(r"reject\.test rows=\d+ messages=6", pending), pending
        assert re.search(r"example\.org rows=\d+ messages=8", pending), pending

        # One record per message with every result, and the counters.
        log = s.log_text()
        assert "reason=own_domain_unauthenticated" in log, log[-3000:]
        assert "event=delivered" in log and "dmarc=pass" in log and "dkim=pass" in log
        st, _, body = api.raw("GET", "/metrics")
        body = body.decode()
        assert st == 200
        assert 'tern_auth_results_total{check="dmarc",result="fail"}' in body, body
        assert 'tern_auth_results_total{check="action",result="junk"} 2' in body, body
    finally:
        if s:
            s.cleanup()
        if dns:
            dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_auth_checks_off_and_bad_value():
    """TERN_AUTH_CHECKS=off: no DKIM/ARC/DMARC, no policy, no field of ours
    (forged ones still removed); a bad value stops start-up, exit 2."""
    from harness import Server
    with Server(accounts=[("bob@example.test", "bob-pw-1")],
                env={"TERN_AUTH_CHECKS": "off", "TERN_HOSTNAME": HOST}) as s:
        forged = ("Authentication-Results: %s; dmarc=pass\r\n" % HOST).encode()
        code, text = send(s, "alice@example.test", forged + message("Alice <alice@example.test>", "unchecked"))
        assert code == 250, (code, text)
        raw = last(s, "bob@example.test")
        assert field(raw, "Authentication-Results") == [], raw[:500]
        # A field past the header parser's 64 KiB above the forged one
        # does not keep it: the forged field is removed or the message refused.
        long_field = ("X-Long: " + "a" * 70000 + "\r\n").encode()
        code, text = send(s, "alice@example.test",
                          long_field + forged + message("Alice <alice@example.test>", "long field"))
        if code == 250:
            raw = last(s, "bob@example.test")
            assert b"long.field" in raw, raw[:300]
            assert field(raw, "Authentication-Results") == [], [a[:80] for a in field(raw, "Authentication-Results")]
        else:
            assert code // 100 == 5, (code, text)
        r = subprocess.run([s.binary, "serve"], env=dict(s.env, TERN_AUTH_CHECKS="maybe"),
                           capture_output=True, timeout=30)
        err = r.stderr.decode()
        assert r.returncode == 2 and "TERN_AUTH_CHECKS" in err and err.count("\n") == 1, (r.returncode, err)
