"""Forwarding to outside addresses (issue 29): one tern, a DNS server on
loopback (dns_server.py) and a scriptable SMTP receiver (mailpeers) as
the outside world, all shared by the checks of one test.

- An alias with a local and an outside target: the local account gets
  its copy, the receiver gets the forwarded one with an SRS0 envelope
  sender in our domain, our Delivered-To and no Return-Path. The
  receiver's SPF check (pyspf, Debian's python3-spf, asking the same
  DNS server) passes for the SRS sender from tern's address, where the
  original sender's own SPF would fail.
- A bounce (null sender) to that SRS address is accepted and goes on to
  the original sender's MX, and so does tern's own failure notice when
  the next hop refuses a forwarded copy; a tampered or malformed SRS address gets
  550 5.1.1 at RCPT, a valid one with a real sender 550 5.7.1.
- Loops: a copy that comes back carrying our Delivered-To for the
  forwarding address is refused (554 5.4.6) when that was its only
  recipient, and delivered locally without the forward when it had a
  local one; 50 Received fields (ours included) are refused too, 49 not.
- Mail submitted on 587 to such an alias reaches the outside target with
  the user's own sender.
- TERN_FORWARD_RATE: past the alias's hourly limit, RCPT gets 450 4.7.1;
  bounces to one SRS address are counted the same way.

- The forwarded copy carries an ARC set (i=1, cv=none) sealed with the
  domain's DKIM key, its AAR the Authentication-Results field of the
  checks, which dkimpy's ARC verifier (Debian's python3-dkim, keys from
  the same DNS server) finds cv=pass, and fail once the body changed. A
  message a mailing list sealed (dkimpy's arc_sign) gets i=2 with
  cv=pass and verifies whole; one whose chain broke on the way gets
  cv=fail."""
import email
import email.policy
import json
import os
import re
import smtplib
import ssl
import subprocess
import time

from harness import Server
from mailpeers import SYSTEM_PYTHON, DnsServer, PostfixPeer, Receiver, free_port_on, unique_ips

BOB = ("bob@example.test", "bob-pw-123")
CLIENT_IP = "127.0.0.9"  # the origin's MTA, the only address its SPF allows

SPF_CHECK = r"""
import json, sys
import dns.resolver
import spf
req = json.load(sys.stdin)
r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]
r.port = req["port"]
dns.resolver.default_resolver = r
out = []
for c in req["checks"]:
    out.append(spf.check2(i=c["ip"], s=c["sender"], h=c["helo"])[0])
print(json.dumps(out))
"""


# dkimpy (the library behind dkimverify and arcverify) with its key
# lookups sent to our DNS server; the checks below end this preamble.
DKIMPY_DNS = r"""
import json, sys
import dkim
import dns.resolver
req = json.load(sys.stdin)
r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]
r.port = req["port"]
def txt(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    try:
        return b"".join(b"".join(x.strings) for x in r.resolve(name.rstrip("."), "TXT"))
    except Exception:
        return None
msg = req["msg"].encode("latin-1")
"""

ARC_CHECK = DKIMPY_DNS + r"""
cv, _, why = dkim.arc_verify(msg, dnsfunc=txt)
print(json.dumps([cv.decode() if isinstance(cv, bytes) else str(cv), str(why)]))
"""

# Each DKIM-Signature in turn, as dkimverify checks the first: [d=, a=, verified].
DKIM_CHECK = DKIMPY_DNS + r"""
out = []
sigs = [v for k, v in dkim.DKIM(msg).headers if k.lower() == b"dkim-signature"]
for i, v in enumerate(sigs):
    tags = dkim.util.parse_tag_value(b"".join(v.split()))
    try:
        ok = dkim.DKIM(msg).verify(idx=i, dnsfunc=txt)
    except Exception:
        ok = False
    out.append([tags.get(b"d", b"").decode(), tags.get(b"a", b"").decode(), bool(ok)])
print(json.dumps(out))
"""


ARC_SEALER = r"""
import sys, dkim
msg = sys.stdin.buffer.read()
key = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(b"".join(dkim.arc_sign(msg, b"arc", b"lists.origin.test", key,
                                               b"lists.origin.test")) + msg)
"""


def dkimpy(check, dns_port, msg):
    req = {"port": dns_port, "msg": msg.decode("latin-1")}
    p = subprocess.run([SYSTEM_PYTHON, "-c", check], input=json.dumps(req), text=True,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def arc_result(dns_port, msg):
    """dkimpy's ARC verdict (cv, reason) on msg, keys from our DNS server."""
    return dkimpy(ARC_CHECK, dns_port, msg)


def dkim_results(dns_port, msg):
    """dkimpy's verdict on each DKIM-Signature of msg: [[d, a, verified], ...]."""
    return dkimpy(DKIM_CHECK, dns_port, msg)


def dkim_zone(srv, domain):
    """The DKIM key records `tern domain dns` tells the user to publish."""
    out = {}
    for line in srv.cli("domain", "dns", domain).stdout.decode().splitlines():
        m = re.match(r"(\S+\._domainkey\.\S+?)\.?\tIN\tTXT\t(.*)$", line)
        if m:
            value = "".join(re.findall(r'"([^"]*)"', m.group(2)))
            out[m.group(1)] = {"TXT": ['" "'.join(value[i:i + 255] for i in range(0, len(value), 255))]}
    assert out, "no DKIM records"
    return out


def spf_results(dns_port, checks):
    """pyspf's verdicts for [(ip, sender, helo)], asking our DNS server."""
    req = {"port": dns_port, "checks": [{"ip": i, "sender": s, "helo": h} for i, s, h in checks]}
    p = subprocess.run([SYSTEM_PYTHON, "-c", SPF_CHECK], input=json.dumps(req), text=True,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def send(srv, sender, rcpts, data, source=CLIENT_IP):
    """One port-25 transaction; returns (code of each RCPT, code after data or None)."""
    c = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=20, source_address=(source, 0))
    try:
        c.ehlo("mta.origin.test")
        assert c.mail(sender)[0] == 250
        codes = [c.rcpt(r) for r in rcpts]
        if not any(code == 250 for code, _ in codes):
            return codes, None
        c.putcmd("data")
        code, _ = c.getreply()
        assert code == 354, code
        c.send(data.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
        return codes, c.getreply()
    finally:
        try:
            c.quit()
        except (smtplib.SMTPException, OSError):
            pass


def message(subject, to="fwd@example.test", sender="alice@origin.test", extra=""):
    return ("%sFrom: Alice <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@origin.test>\r\n\r\n"
            "Hello from origin.\r\n" % (extra, sender, to, subject, subject)).encode()


def origin_zone(ips):
    """origin.test mails through ips[1] and allows its own MTA only;
    our domain allows tern (it connects out from 127.0.0.1); remote.test
    is at ips[0]."""
    return {
        "origin.test": {"TXT": ["v=spf1 ip4:%s -all" % CLIENT_IP], "MX": [[10, "mx.origin.test"]]},
        "mx.origin.test": {"A": [ips[1]]},
        "example.test": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]},
        "remote.test": {"MX": [[10, "mx.remote.test"]]},
        "mx.remote.test": {"A": [ips[0]]},
    }


def test_forward_srs_bounce_loop_rate():
    ips = unique_ips(3)
    port = free_port_on(ips)
    zone = origin_zone(ips)
    # seven.test: a Postfix that offers no 8BITMIME (RFC 6152 §3 peer).
    zone.update({"seven.test": {"MX": [[10, "mx.seven.test"]]}, "mx.seven.test": {"A": [ips[2]]}})
    dns = DnsServer(zone)
    pf = PostfixPeer(ips[2], port, "seven.test", main_extra="smtpd_discard_ehlo_keywords = 8bitmime\n")
    remote = Receiver(ips[0], port, rcpt=lambda a: "550 5.1.1 no such user"
                      if a.startswith("nobody@") else "250 2.1.5 ok")
    origin = Receiver(ips[1], port)
    srv = None
    try:
        srv = Server(accounts=[BOB], submission=True, env={
            "TERN_DNS_SERVERS": dns.servers, "TERN_QUEUE_MX_PORT": str(port),
            "TERN_QUEUE_RETRY_SCHEDULE": "1", "TERN_QUEUE_TIMEOUT": "5",
            "TERN_FORWARD_RATE": "3"})
        zone.update(dkim_zone(srv, "example.test"))
        # The mailing list's ARC key (dkimpy's dknewkey).
        list_key = os.path.join(srv.tmp, "list")
        subprocess.run(["dknewkey", list_key], capture_output=True, timeout=60, check=True)
        pub = open(list_key + ".dns").read()
        pub = "".join(pub.split('"')[1::2]) if '"' in pub else pub.strip()
        zone["arc._domainkey.lists.origin.test"] = {
            "TXT": ['" "'.join(pub[i:i + 255] for i in range(0, len(pub), 255))]}
        dns.zone(zone)
        for alias, target in [("fwd@example.test", "bob@example.test"),
                              ("fwd@example.test", "dest@remote.test"),
                              ("away@example.test", "far@remote.test"),
                              ("busy@example.test", "busy@remote.test"),
                              ("gone@example.test", "nobody@remote.test"),
                              ("eight@example.test", "dest@seven.test")]:
            srv.cli("alias", "add", alias, target)
        pf.start()

        # 1. Local and outside targets of one alias.
        forged = "Authentication-Results: mx.example.test; dkim=pass header.d=forged.test\r\n"
        codes, end = send(srv, "alice@origin.test", ["fwd@example.test"], message("m1", extra=forged))
        assert codes[0][0] == 250 and end[0] == 250, (codes, end)
        got = remote.wait_messages(1)
        assert len(got) == 1, got
        m = got[0]
        assert m["rcpts"] == ["dest@remote.test"], m
        srs = m["from"]
        assert re.fullmatch(r"SRS0=[A-Za-z0-9_-]{6}=[A-Z2-7]{2}=origin\.test=alice@example\.test", srs), srs
        head = m["data"].split(b"\r\n\r\n", 1)[0]
        # The ARC set on top (AS, AMS, AAR), then our Delivered-To and Received.
        assert re.match(rb"ARC-Seal: i=1; .*cv=none", head), head
        # The AAR is the Authentication-Results field the checks made.
        aar = re.search(rb"\r\nARC-Authentication-Results: i=1; mx\.example\.test;(.*?)\r\n"
                        rb"Delivered-To: fwd@example.test\r\nReceived: from mta.origin.test", head, re.S)
        assert aar and b"spf=pass smtp.mailfrom=alice@origin.test" in aar.group(1), head
        assert b"arc=none" in aar.group(1) and b"dmarc=" in aar.group(1), head
        cv = arc_result(dns.port, m["data"])
        assert cv[0] == "pass", cv
        # Tampered on the way: the seal no longer holds.
        cv = arc_result(dns.port, m["data"].replace(b"Hello from origin.", b"Hello from mallory"))
        assert cv[0] == "fail", cv
        assert b"Return-Path" not in head and b"Subject: m1" in head, head
        assert b"forged.test" not in m["data"], head  # RFC 8601 §5: not ours to pass on
        msgs = srv.messages(BOB[0])
        assert len(msgs) == 1, msgs
        assert b"Delivered-To" not in srv.raw(BOB[0], msgs[0][0]), "the local copy has no Delivered-To"
        assert srv.wait_log("event=forwarded"), srv.log_text()
        assert re.search(r"event=forwarded .*rcpts=1 sender=\S*SRS0=\S+ srs=ok arc=sealed", srv.log_text()), [l for l in srv.log_text().splitlines() if "forwarded" in l]

        # SPF at the next hop: the SRS sender passes from tern's address,
        # the original sender would not have.
        res = spf_results(dns.port, [(m["peer"], srs, m["helo"]),
                                     (m["peer"], "alice@origin.test", m["helo"])])
        assert res == ["pass", "fail"], (res, m["peer"], m["helo"])

        # 2. The bounce comes back to the SRS address and goes on to the
        # original sender's MX, from the null sender.
        bounce = (b"From: MAILER-DAEMON@remote.test\r\nTo: %s\r\nSubject: Undelivered Mail\r\n\r\n"
                  b"dest@remote.test: no such user\r\n" % srs.encode())
        codes, end = send(srv, "", [srs], bounce, source=ips[0])
        assert codes[0][0] == 250 and end[0] == 250, (codes, end)
        back = origin.wait_messages(1)
        assert len(back) == 1 and back[0]["from"] == "" and back[0]["rcpts"] == ["alice@origin.test"], back
        assert b"Subject: Undelivered Mail" in back[0]["data"], back
        # The address survives a case change by another MTA.
        codes, _ = send(srv, "", [srs.upper().replace("EXAMPLE.TEST", "example.test")], bounce,
                        source=ips[0])
        assert codes[0][0] == 250, codes

        # TERN_FORWARD_RATE counts bounces per SRS address too (any case):
        # the third passes, the fourth waits.
        codes, end = send(srv, "", [srs], bounce, source=ips[0])
        assert codes[0][0] == 250 and end[0] == 250, (codes, end)
        codes, _ = send(srv, "", [srs], bounce, source=ips[0])
        assert codes[0][0] == 450 and codes[0][1].startswith(b"4.7.1"), codes

        # A message a mailing list sealed (dkimpy's arc_sign): the chain
        # passes the checks, so our set is i=2 with cv=pass and the whole
        # chain verifies at the next hop.
        listed = subprocess.run([SYSTEM_PYTHON, "-c", ARC_SEALER, list_key + ".key"],
                                input=message("arcin", to="away@example.test", extra=(
                                    "Authentication-Results: lists.origin.test; spf=pass "
                                    "smtp.mailfrom=alice@origin.test\r\n")),
                                capture_output=True, timeout=60, check=True).stdout
        codes, end = send(srv, "alice@origin.test", ["away@example.test"], listed)
        assert end[0] == 250, end
        got = remote.wait_messages(2)
        assert len(got) == 2, got
        fwd = got[1]["data"]
        assert re.match(rb"ARC-Seal: i=2; .*cv=pass", fwd, re.S) and fwd.count(b"ARC-Seal:") == 2, fwd
        assert b"arc=pass" in fwd.split(b"ARC-Seal: i=1", 1)[0], fwd
        cv = arc_result(dns.port, fwd)
        assert cv[0] == "pass", cv
        # A chain broken on the way (the body changed after the list
        # sealed it): sealed with cv=fail, which the next hop sees.
        broken = listed.replace(b"Hello from origin.", b"Hello from mallory")
        codes, end = send(srv, "alice@origin.test", ["away@example.test"], broken)
        assert end[0] == 250, end
        got = remote.wait_messages(3)
        assert len(got) == 3 and re.match(rb"ARC-Seal: i=2; .*cv=fail", got[2]["data"], re.S), got
        cv = arc_result(dns.port, got[2]["data"])  # dkimpy: no cv, "chain is terminated"
        assert cv[0] != "pass" and "ARC-Seal[2] reported failure" in cv[1], cv

        # To a next hop without 8BITMIME the copy goes in a 7-bit form,
        # and our ARC set is made again over it (RFC 8617 §5.1): the chain
        # still verifies at that Postfix, with the list's set kept.
        eight = subprocess.run([SYSTEM_PYTHON, "-c", ARC_SEALER, list_key + ".key"],
                               input=message("arc8", extra=(
                                   "Authentication-Results: lists.origin.test; spf=pass "
                                   "smtp.mailfrom=alice@origin.test\r\n")).replace(
                                       b"Hello from origin.", "Gr\u00fc\u00dfe".encode()),
                               capture_output=True, timeout=60, check=True).stdout
        for data in (message("plain8").replace(b"Hello from origin.", "Gr\u00fc\u00dfe".encode()),
                     eight):
            codes, end = send(srv, "alice@origin.test", ["eight@example.test"], data)
            assert end[0] == 250, end
        stored = pf.wait_messages(2)
        assert len(stored) == 2, pf.log_text()[-2000:]
        for raw, n in zip(sorted(stored, key=lambda m: b"arc8" in m), (1, 2)):
            raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            assert all(c < 0x80 for c in raw), raw
            assert b"Gr=C3=BC=C3=9Fe" in raw, raw
            assert raw.count(b"ARC-Seal:") == n, raw
            assert re.search(rb"ARC-Seal: i=%d; .*cv=%s" % (n, b"pass" if n == 2 else b"none"),
                             raw, re.S), raw
            cv = arc_result(dns.port, raw)
            assert cv[0] == "pass", (cv, raw)
        assert re.search(r"event=converted_7bit .*arc_resealed=1", srv.log_text())

        # Our own notice for a forwarded copy the next hop refused goes to
        # the SRS sender, that is to the original sender (its SPF passed).
        codes, end = send(srv, "alice@origin.test", ["gone@example.test"], message("m2"))
        assert end[0] == 250, end
        # The three bounces above and the notice, in whatever order the
        # queue sent them.
        back = origin.wait_messages(4)
        assert len(back) == 4, back
        bounces = [b for b in back if b"From: MAILER-DAEMON@remote.test" in b["data"]]
        assert len(bounces) == 3, back
        assert sorted(b["rcpts"][0] for b in bounces) == ["ALICE@ORIGIN.TEST", "alice@origin.test",
                                                          "alice@origin.test"], back  # as the address said
        dsn = [b for b in back if b not in bounces][0]
        assert dsn["from"] == "" and dsn["rcpts"] == ["alice@origin.test"], dsn
        assert b"multipart/report" in dsn["data"] and b"nobody@remote.test" in dsn["data"], dsn

        # 3. Refused at RCPT: a tampered hash, a malformed address, a real sender.
        # The hash is compared ignoring case (another MTA may change it), so
        # the tampered one differs in more than case: a digit for a digit.
        h = srs[5:11]
        bad = srs.replace(h, ("0" if h[0] != "0" else "1") + h[1:], 1)
        codes, _ = send(srv, "", [bad, "SRS0=xyz@example.test", "srs1=zz@example.test"], bounce,
                        source=ips[0])
        for code, text in codes:
            assert code == 550 and text.startswith(b"5.1.1"), codes
        codes, _ = send(srv, "spammer@origin.test", [srs], bounce)
        assert codes[0][0] == 550 and codes[0][1].startswith(b"5.7.1"), codes
        assert srv.wait_log("reason=srs_bad_hash") and srv.wait_log("reason=srs_not_bounce")

        # 4. Loops. The copy comes back (another forwarder sent it to
        # us again) with our Delivered-To: only forwards -> refused.
        looped = message("loop", to="away@example.test", extra="Delivered-To: away@example.test\r\n")
        codes, end = send(srv, "alice@origin.test", ["away@example.test"], looped)
        assert codes[0][0] == 250 and end[0] == 554 and end[1].startswith(b"5.4.6"), (codes, end)
        assert srv.wait_log("event=forward_loop rcpt=away@example.test action=dropped")
        # With a local recipient too: delivered there, not forwarded again.
        looped = message("loop2", extra="Delivered-To: FWD@example.test\r\n")
        codes, end = send(srv, "alice@origin.test", ["fwd@example.test"], looped)
        assert end[0] == 250, end
        assert len(srv.messages(BOB[0])) == 2
        # Too many hops, whatever the recipient: 49 upstream and ours pass
        # Postfix's limit of 50; 50 do not.
        def hops(n):
            return "".join("Received: from h%d.test by h%d.test; Sun, 22 Nov 2026 10:00:00 +0000\r\n"
                           % (i, i + 1) for i in range(n))
        codes, end = send(srv, "alice@origin.test", ["bob@example.test"], message("hops48", extra=hops(48)))
        assert end[0] == 250, end
        codes, end = send(srv, "alice@origin.test", ["bob@example.test"], message("hops49", extra=hops(49)))
        assert end[0] == 554 and b"too many hops (50 Received fields)" in end[1], end

        # 5. Submitted mail (587) to an alias with an outside target: the
        # queue sends it with the user's own sender (no SRS needed).
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", srv.submission_port, timeout=20) as c:
            c.starttls(context=ctx)
            c.login(*BOB)
            c.sendmail(BOB[0], ["away@example.test"], message("sub", to="away@example.test",
                                                              sender=BOB[0]))
        got = remote.wait_messages(4)
        assert len(got) == 4 and got[3]["from"] == BOB[0] and got[3]["rcpts"] == ["far@remote.test"], got

        # 6. The rate limit: 3 forwarded messages an hour for busy@.
        for i in range(3):
            codes, end = send(srv, "alice@origin.test", ["busy@example.test"], message("r%d" % i))
            assert codes[0][0] == 250 and end[0] == 250, (i, codes, end)
        codes, _ = send(srv, "alice@origin.test", ["busy@example.test", "bob@example.test"],
                        message("r3"))
        assert codes[0][0] == 450 and codes[0][1].startswith(b"4.7.1"), codes
        assert codes[1][0] == 250, codes
        # Everything forwarded reached the remote: m1, the two sealed by
        # the list, the submitted one, then busy@ three times.
        got = remote.wait_messages(7)
        assert len(got) == 7, [g["rcpts"] for g in got]
        assert [g["rcpts"] for g in got[4:]] == [["busy@remote.test"]] * 3, got
    finally:
        if srv:
            srv.cleanup()
        remote.stop()
        origin.stop()
        pf.stop()
        dns.stop()


def test_forward_arc_chain_unjudged_is_passed_on_unsealed():
    """A mailing list's ARC chain whose key lookup fails temporarily
    (SERVFAIL) when it arrives could not be judged: the forwarded copy
    keeps the chain as it came and gets no set of ours, rather than a
    seal with cv=fail, which would end the chain for every later hop
    (RFC 8617 §5.1.2: nothing after a cv=fail counts) though nothing was
    wrong with it. The next hop, whose lookup works, finds it passing."""
    ips = unique_ips(2)
    port = free_port_on(ips)
    zone = origin_zone(ips)
    dns = DnsServer(zone)
    remote = Receiver(ips[0], port)
    srv = None
    try:
        srv = Server(accounts=[BOB], env={
            "TERN_DNS_SERVERS": dns.servers, "TERN_QUEUE_MX_PORT": str(port),
            "TERN_QUEUE_RETRY_SCHEDULE": "1", "TERN_QUEUE_TIMEOUT": "5"})
        zone.update(dkim_zone(srv, "example.test"))
        list_key = os.path.join(srv.tmp, "list")
        subprocess.run(["dknewkey", list_key], capture_output=True, timeout=60, check=True)
        pub = open(list_key + ".dns").read()
        pub = "".join(pub.split('"')[1::2]) if '"' in pub else pub.strip()
        zone["arc._domainkey.lists.origin.test"] = {"SERVFAIL": True}
        dns.zone(zone)
        srv.cli("alias", "add", "away@example.test", "far@remote.test")

        listed = subprocess.run([SYSTEM_PYTHON, "-c", ARC_SEALER, list_key + ".key"],
                                input=message("arctemp", to="away@example.test", extra=(
                                    "Authentication-Results: lists.origin.test; spf=pass "
                                    "smtp.mailfrom=alice@origin.test\r\n")),
                                capture_output=True, timeout=60, check=True).stdout
        codes, end = send(srv, "alice@origin.test", ["away@example.test"], listed)
        assert codes[0][0] == 250 and end[0] == 250, (codes, end)
        got = remote.wait_messages(1)
        assert len(got) == 1, got
        fwd = got[0]["data"]
        assert fwd.count(b"ARC-Seal:") == 1 and b"ARC-Seal: i=1;" in fwd, fwd
        assert re.search(r"event=forwarded .* arc=skipped_chain", srv.log_text()), srv.log_text()[-2000:]
        # The chain itself was sound: with the key served, it passes.
        zone["arc._domainkey.lists.origin.test"] = {
            "TXT": ['" "'.join(pub[i:i + 255] for i in range(0, len(pub), 255))]}
        dns.zone(zone)
        cv = arc_result(dns.port, fwd)
        assert cv[0] == "pass", cv
    finally:
        if srv:
            srv.cleanup()
        remote.stop()
        dns.stop()


def test_notice_to_a_utf8_sender_is_sent_with_smtputf8():
    """Our failure notice for a forwarded copy goes to the original
    sender: when that address is UTF-8 (it came with SMTPUTF8), the
    notice's RCPT TO needs SMTPUTF8 on its MAIL (RFC 6531 §3.4), which a
    next hop that knows the extension sees."""
    ips = unique_ips(2)
    port = free_port_on(ips)
    dns = DnsServer(origin_zone(ips))
    remote = Receiver(ips[0], port, ext8bit=True, rcpt=lambda a: "550 5.1.1 no such user")
    origin = Receiver(ips[1], port, ext8bit=True)
    srv = None
    try:
        srv = Server(accounts=[BOB], env={
            "TERN_DNS_SERVERS": dns.servers, "TERN_QUEUE_MX_PORT": str(port),
            "TERN_QUEUE_RETRY_SCHEDULE": "1", "TERN_QUEUE_TIMEOUT": "5"})
        srv.cli("alias", "add", "gone@example.test", "nobody@remote.test")
        sender = "jörg@origin.test"
        c = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=20, source_address=(CLIENT_IP, 0))
        c.ehlo("mta.origin.test")
        assert c.mail(sender, ["SMTPUTF8", "BODY=8BITMIME"])[0] == 250
        assert c.rcpt("gone@example.test")[0] == 250
        assert c.data(("From: Jörg <%s>\r\nTo: gone@example.test\r\nSubject: grüße\r\n"
                       "Message-ID: <u8@origin.test>\r\n\r\nHallo.\r\n" % sender).encode())[0] == 250
        c.quit()
        back = origin.wait_messages(1)
        assert len(back) == 1 and back[0]["from"] == "" and back[0]["rcpts"] == [sender], back
        mail = [l for l in origin.commands if l.upper().startswith("MAIL FROM:<>")]
        assert mail and "SMTPUTF8" in mail[0].upper() and "BODY=8BITMIME" in mail[0].upper(), origin.commands
        assert "Subject: grüße".encode() in back[0]["data"], back

        # An ASCII sender, a UTF-8 forward target: the notice is RFC
        # 6533's global one, with 8-bit octets, so its MAIL declares
        # BODY=8BITMIME (RFC 6152 §3; it carried none) and a next hop
        # without 8BITMIME would not get it.
        srv.cli("alias", "add", "gone2@example.test", "nöbody@remote.test")
        c = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=20, source_address=(CLIENT_IP, 0))
        c.ehlo("mta.origin.test")
        assert c.mail("alice@origin.test", ["SMTPUTF8", "BODY=8BITMIME"])[0] == 250
        assert c.rcpt("gone2@example.test")[0] == 250
        assert c.data(message("u8rcpt", to="gone2@example.test"))[0] == 250
        c.quit()
        back = origin.wait_messages(2)
        assert len(back) == 2 and back[1]["rcpts"] == ["alice@origin.test"], back
        assert "nöbody@remote.test".encode() in back[1]["data"], back
        mail = [l for l in origin.commands if l.upper().startswith("MAIL FROM:<>")]
        assert len(mail) == 2 and "BODY=8BITMIME" in mail[1].upper(), origin.commands
    finally:
        if srv:
            srv.cleanup()
        remote.stop()
        origin.stop()
        dns.stop()


def test_delivered_notice_declares_its_utf8_and_8bit():
    """A "delivered" notice (NOTIFY=SUCCESS to a local mailbox) for an
    SMTPUTF8 message from a UTF-8 sender of ours (an alias that forwards
    outside) is RFC 6533's global notice: a UTF-8 To field, 8-bit parts.
    It needs SMTPUTF8 and 8BITMIME at the next hop (RFC 6531 §3.4, RFC
    6152 §3): declared to one offering them, never sent undeclared to one
    without (it was: the failure notices declared theirs, this one not)."""
    ips = unique_ips(2)
    port = free_port_on(ips)
    dns = DnsServer(origin_zone(ips))
    origin = Receiver(ips[1], port, ext8bit=False)
    srv = None
    try:
        srv = Server(accounts=[BOB], env={
            "TERN_DNS_SERVERS": dns.servers, "TERN_QUEUE_MX_PORT": str(port),
            "TERN_QUEUE_RETRY_SCHEDULE": "1", "TERN_QUEUE_TIMEOUT": "5"})
        sender = "j\u00f6rg@example.test"
        srv.cli("alias", "add", sender, "ann@origin.test")

        def send(subject):
            c = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=20, source_address=("127.0.0.1", 0))
            c.ehlo("mail.example.test")
            assert c.mail(sender, ["SMTPUTF8", "BODY=8BITMIME"])[0] == 250
            assert c.rcpt(BOB[0], ["NOTIFY=SUCCESS"])[0] == 250
            assert c.data(("From: J\u00f6rg <%s>\r\nTo: %s\r\nSubject: %s\r\n"
                           "Message-ID: <%s@example.test>\r\n\r\nHallo.\r\n"
                           % (sender, BOB[0], subject, subject)).encode())[0] == 250
            c.quit()

        # A next hop without SMTPUTF8 and 8BITMIME: the notice cannot go.
        send("gr\u00fc\u00dfe")
        assert srv.wait_log("event=notice kind=delivered to=remote")
        deadline = time.time() + 10
        while time.time() < deadline and "queue is empty" not in srv.cli("queue", "list").stdout.decode():
            time.sleep(0.2)
        assert "queue is empty" in srv.cli("queue", "list").stdout.decode()
        assert origin.messages == [], origin.messages
        assert "5.6.7" in srv.log_text() or "5.6.3" in srv.log_text(), srv.log_text()[-3000:]
        origin.stop()
        # One offering both: MAIL declares them.
        origin = Receiver(ips[1], port, ext8bit=True)
        send("hallo")
        back = origin.wait_messages(1)
        assert len(back) == 1 and back[0]["rcpts"] == ["ann@origin.test"], back
        mail = back[0]["mail_line"].upper()
        assert "SMTPUTF8" in mail and "BODY=8BITMIME" in mail, mail
        assert ("To: <%s>" % sender).encode() in back[0]["data"], back
    finally:
        if srv:
            srv.cleanup()
        origin.stop()
        dns.stop()


def test_alias_rcpt_notify_and_orcpt_go_with_the_forwarded_copy():
    """RCPT TO an alias that forwards outside: its NOTIFY and ORCPT are
    the sender's requests for that recipient (RFC 3461 §4.1, §4.2), so
    they travel with the forwarded copy. NOTIFY=NEVER: the copy's 550
    brings no notice; without NOTIFY the notice comes and its
    Original-Recipient names the alias (an ORCPT a relay adds is the
    address it received, §4.2); to a next hop offering DSN the RCPT
    carries NOTIFY and ORCPT."""
    ips = unique_ips(2)
    port = free_port_on(ips)
    dns = DnsServer(origin_zone(ips))
    remote = Receiver(ips[0], port, dsn=True, rcpt=lambda a: "550 5.1.1 no such user"
                      if a.startswith("nobody@") else "250 2.1.5 ok")
    origin = Receiver(ips[1], port)
    srv = None
    try:
        srv = Server(accounts=[BOB], submission=True, env={
            "TERN_DNS_SERVERS": dns.servers, "TERN_QUEUE_MX_PORT": str(port),
            "TERN_QUEUE_RETRY_SCHEDULE": "1", "TERN_QUEUE_TIMEOUT": "5"})
        srv.cli("alias", "add", "gone@example.test", "nobody@remote.test")
        srv.cli("alias", "add", "keep@example.test", "dest@remote.test")

        def rcpt_send(rcpt, subject, options):
            c = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=20, source_address=(CLIENT_IP, 0))
            try:
                c.ehlo("mta.origin.test")
                assert c.mail("alice@origin.test")[0] == 250
                assert c.rcpt(rcpt, options)[0] == 250
                assert c.data(message(subject, to=rcpt))[0] == 250
            finally:
                c.quit()

        rcpt_send("gone@example.test", "never", ["NOTIFY=NEVER"])
        rcpt_send("gone@example.test", "default", [])
        rcpt_send("keep@example.test", "asked", ["NOTIFY=SUCCESS,FAILURE",
                                                 "ORCPT=rfc822;Keep+2Bme@example.test"])
        # Submitted to the alias: the target goes with the RCPT's NOTIFY
        # and, none given, ORCPT naming the alias.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", srv.submission_port, timeout=20) as c:
            c.starttls(context=ctx)
            c.login(*BOB)
            c.sendmail(BOB[0], ["keep@example.test"], message("sub", to="keep@example.test",
                                                             sender=BOB[0]),
                       rcpt_options=["NOTIFY=SUCCESS"])
        back = origin.wait_messages(1)
        deadline = time.time() + 20
        while "queue is empty" not in srv.cli("queue", "list").stdout.decode():
            assert time.time() < deadline, srv.cli("queue", "list").stdout
            time.sleep(0.2)
        back = origin.messages
        # One notice: the default one; NOTIFY=NEVER's copy failed silently.
        assert len(back) == 1, [m["data"][:400] for m in back]
        m = email.message_from_bytes(back[0]["data"], policy=email.policy.default)
        assert b"Subject: default" in back[0]["data"], back[0]["data"]
        report = [p for p in m.walk() if p.get_content_type() == "message/delivery-status"][0]
        block = dict((k.lower(), str(v)) for k, v in report.get_payload()[1].items())
        assert block["final-recipient"] == "rfc822; nobody@remote.test", block
        assert block["original-recipient"] == "rfc822;gone@example.test", block
        rcpts = [l for l in remote.commands if l.upper().startswith("RCPT TO:")]
        assert "RCPT TO:<nobody@remote.test> NOTIFY=NEVER ORCPT=rfc822;gone@example.test" in rcpts, rcpts
        assert ("RCPT TO:<dest@remote.test> NOTIFY=SUCCESS,FAILURE "
                "ORCPT=rfc822;Keep+2Bme@example.test") in rcpts, rcpts
        assert "RCPT TO:<dest@remote.test> NOTIFY=SUCCESS ORCPT=rfc822;keep@example.test" in rcpts, rcpts
    finally:
        if srv:
            srv.cleanup()
        remote.stop()
        origin.stop()
        dns.stop()
