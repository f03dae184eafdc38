"""DMARC aggregate reports sent (RFC 9990): results counted by port 25
(a message from the SPF-authorised address, one spoofed from another,
refused 550) and by `tern check auth --record` (the same recorder: the
rows add up), SIGHUP stores the server's counts, then
`tern dmarc report --send --today` makes one report for example.org and
queues it to the rua= destinations its record names: the one inside
example.org (percent-encoded, with a subject= to ignore), and the
external one (written twice, sent once) whose verification record
(example.org._report._dmarc.reports.test) the loopback DNS server
(dnspython) serves; the unverified one gets nothing. A loopback receiver
takes the mail; dkimpy verifies both DKIM signatures (the From domain's
keys), and the gzip attachment holds the rows counted. The From address
comes from TERN_DMARC_REPORT_FROM; a bad value stops the start."""
import gzip
import os
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from email import message_from_bytes, policy

from harness import Server
from httpc import Api
from mailpeers import DnsServer, Receiver, free_port_on, unique_ips
from test_submission import dkimpy

FROM = "dmarc-reports@example.test"
ADMIN_PW = "admin-password-1-Vq8r"


def msg(frm):
    return ("From: %s\r\nTo: someone@example.test\r\nSubject: hi\r\n"
            "Date: Sun, 22 Nov 2026 19:00:00 +0000\r\nMessage-ID: <m.%s>\r\n\r\nHello.\r\n"
            % (frm, frm)).encode()


NS = "{urn:ietf:params:xml:ns:dmarc-2.0}"
XSD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "dmarc", "rfc9990.xsd")


def xsd_errors(xml):
    """xmllint's complaints about xml against RFC 9990's schema ("" when it validates)."""
    r = subprocess.run(["xmllint", "--noout", "--schema", XSD, "-"], input=xml.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return "" if r.returncode == 0 else r.stderr.decode()


def check_schema(xml):
    """The structure RFC 9990 Appendix A's schema gives (sequences in
    order, required elements present, enumerations), with RFC 7489
    Appendix C's required policy_published fields (sp, fo) too."""
    root = ET.fromstring(xml)
    assert root.tag == NS + "feedback", root.tag

    def names(e):
        return [c.tag[len(NS):] if c.tag.startswith(NS) else "!" + c.tag for c in e]

    top = names(root)
    assert top[:3] == ["version", "report_metadata", "policy_published"], top
    assert set(top[3:]) == {"record"}, top
    meta = names(root.find(NS + "report_metadata"))
    # org_name, email, extra_contact_info?, report_id, date_range, error*, generator?
    assert [n for n in meta if n not in ("extra_contact_info", "error", "generator")] == [
        "org_name", "email", "report_id", "date_range"], meta
    dr = root.find(NS + "report_metadata/" + NS + "date_range")
    begin, end = int(dr.find(NS + "begin").text), int(dr.find(NS + "end").text)
    assert begin % 86400 == 0 and end == begin + 86399, (begin, end)  # one UTC day
    pp = root.find(NS + "policy_published")
    got = names(pp)
    assert len(got) == len(set(got)), got
    assert {"domain", "p", "sp", "fo"} <= set(got) <= {
        "domain", "discovery_method", "p", "sp", "np", "adkim", "aspf", "fo", "testing"}, got
    for tag, allowed in (("p", {"none", "quarantine", "reject"}), ("sp", {"none", "quarantine", "reject"}),
                         ("adkim", {"r", "s"}), ("aspf", {"r", "s"}), ("testing", {"y", "n"}),
                         ("discovery_method", {"psl", "treewalk"})):
        if pp.find(NS + tag) is not None:
            assert pp.find(NS + tag).text in allowed, (tag, pp.find(NS + tag).text)
    assert re.fullmatch(r"[01ds](:[01ds])*", pp.find(NS + "fo").text), pp.find(NS + "fo").text
    keys = set()
    for rec in root.findall(NS + "record"):
        assert names(rec) == ["row", "identifiers", "auth_results"], names(rec)
        row = rec.find(NS + "row")
        assert names(row)[:3] == ["source_ip", "count", "policy_evaluated"], names(row)
        assert int(row.find(NS + "count").text) >= 1
        pe = row.find(NS + "policy_evaluated")
        assert names(pe)[:3] == ["disposition", "dkim", "spf"], names(pe)
        assert pe.find(NS + "disposition").text in ("none", "pass", "quarantine", "reject")
        assert pe.find(NS + "dkim").text in ("pass", "fail") and pe.find(NS + "spf").text in ("pass", "fail")
        ids = names(rec.find(NS + "identifiers"))
        assert "header_from" in ids, ids
        ar = names(rec.find(NS + "auth_results"))
        assert ar == sorted(ar) and "spf" in ar, ar  # dkim* then spf+
        for spf in rec.find(NS + "auth_results").findall(NS + "spf"):
            assert names(spf)[0] == "domain" and spf.find(NS + "result").text in (
                "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"), names(spf)
        # One record per source IP, disposition and results.
        key = ET.tostring(row) + ET.tostring(rec.find(NS + "identifiers")) + ET.tostring(
            rec.find(NS + "auth_results"))
        key = re.sub(rb"<(\w+:)?count>\d+</(\w+:)?count>", b"", key)
        assert key not in keys, xml
        keys.add(key)


def test_report_sent_verified_signed():
    ips = unique_ips(1)
    port = free_port_on(ips)
    dns = DnsServer({
        "example.org": {"TXT": ["v=spf1 ip4:127.0.0.2 -all"], "MX": [[10, "mx.peer.test"]]},
        "_dmarc.example.org": {"TXT": ["v=DMARC1; p=reject; aspf=r; "
                                       "rua=mailto:dmarc%2Breports@example.org?subject=DMARC,"
                                       "mailto:agg@reports.test,mailto:nope@unverified.test,"
                                       "mailto:agg@Reports.TEST!10m"]},
        "example.org._report._dmarc.reports.test": {"TXT": ["v=DMARC1"]},
        "reports.test": {"MX": [[10, "mx.peer.test"]]},
        "unverified.test": {"MX": [[10, "mx.peer.test"]]},
        "mx.peer.test": {"A": [ips[0]]},
    })
    rcv = Receiver(ips[0], port)
    s = Server(accounts=[("someone@example.test", "someone-pw-1")],
               env={"TERN_DNS_SERVERS": dns.servers, "TERN_QUEUE_MX_PORT": str(port),
                    "TERN_QUEUE_RETRY_SCHEDULE": "1", "TERN_QUEUE_TIMEOUT": "3",
                    "TERN_DMARC_REPORT_FROM": FROM})
    tmp = tempfile.mkdtemp(prefix="tern-dmarc-send-")
    try:
        with s:
            path = os.path.join(tmp, "m.eml")
            with open(path, "wb") as f:
                f.write(msg("Alice <alice@example.org>"))
            # Port 25: from the address SPF allows (DMARC pass), and a
            # spoof from another (fail, p=reject: 550).
            for src, ok in (("127.0.0.2", True), ("127.0.0.1", False)):
                c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=20, source_address=(src, 0))
                c.ehlo("mail.example.org")
                try:
                    c.sendmail("bounce@example.org", ["someone@example.test"], msg("Alice <alice@example.org>"))
                    assert ok, "the spoof was accepted"
                except smtplib.SMTPDataError as e:
                    assert not ok and e.smtp_code == 550, e
                c.quit()
            # A bounce (null path): its SPF check is of the HELO name,
            # which RFC 9990's schema has no scope for (only "mfrom").
            c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=20, source_address=("127.0.0.3", 0))
            c.ehlo("mail.example.org")
            try:
                c.sendmail("", ["someone@example.test"], msg("Alice <alice@example.org>"))
                assert False, "the unauthenticated bounce was accepted"
            except smtplib.SMTPDataError as e:
                assert e.smtp_code == 550, e
            c.quit()
            s.proc.send_signal(signal.SIGHUP)
            assert s.wait_log("event=seen_flushed rows=3"), s.log_text()[-2000:]
            # tern check auth --record: aligned SPF pass twice, a spoof once.
            for ip in ("127.0.0.2", "127.0.0.2", "127.0.0.9"):
                r = s.cli("check", "auth", "--ip", ip, "--helo", "mail.example.org",
                          "--mail-from", "bounce@example.org", "--record", path)
                out = r.stdout.decode()
                assert "recorded: example.org" in out, out
            listed = s.cli("dmarc", "report").stdout.decode()
            assert re.search(r"^\d{4}-\d\d-\d\d example\.org rows=4 messages=6$", listed, re.M), listed
            out = s.cli("dmarc", "report", "--send", "--today").stdout.decode()
            assert out.splitlines()[0] == "reports: 1", out
            assert "from: %s" % FROM in out, out
            assert s.cli("dmarc", "report").stdout.decode() == "nothing to report\n"

            got = rcv.wait_messages(2, timeout=30)
            assert len(got) == 2, got
            rcpts = sorted(r for m in got for r in m["rcpts"])
            # %2B decoded (RFC 6068), the hfield ignored, agg@ once.
            assert rcpts == ["agg@reports.test", "dmarc+reports@example.org"], rcpts
            raw = got[0]["data"]
            assert got[0]["from"] == FROM, got[0]["from"]
            # Both signatures (RSA and Ed25519) verify with the published keys.
            assert dkimpy(s, raw) == ["rsa-sha256=True", "ed25519-sha256=True"], raw[:400]
            m = message_from_bytes(raw, policy=policy.default)
            assert m["From"] == FROM
            subj = re.match(r"Report Domain: example\.org Submitter: mx\.example\.test "
                            r"Report-ID: <(\d{15}exampleorg)>$", m["Subject"])
            assert subj, m["Subject"]
            parts = [p for p in m.walk() if p.get_content_type() == "application/gzip"]
            assert len(parts) == 1
            name = parts[0].get_filename()
            # RFC 7489 §7.2.1.1: the unique-id is 1*(ALPHA / DIGIT).
            # RFC 9990: the Report-ID and the file's unique-id "MUST be identical".
            assert re.match(r"mx\.example\.test!example\.org!\d+!\d+!(\w+)\.xml\.gz$", name).group(1) == \
                subj.group(1), (name, m["Subject"])
            xml = gzip.decompress(parts[0].get_payload(decode=True)).decode()
            assert 'xmlns="urn:ietf:params:xml:ns:dmarc-2.0"' in xml, xml
            assert "<org_name>mx.example.test</org_name>" in xml and "<email>%s</email>" % FROM in xml
            assert "<domain>example.org</domain>" in xml and "<p>reject</p>" in xml, xml
            check_schema(xml)
            assert xsd_errors(xml) == "", (xsd_errors(xml), xml)
            assert "<report_id>%s</report_id>" % subj.group(1) in xml, xml
            rows = re.findall(r"<record>.*?</record>", xml, re.S)
            assert len(rows) == 4, xml
            by_ip = {re.search(r"<source_ip>(.*?)</source_ip>", r).group(1): r for r in rows}
            ok, bad = by_ip["127.0.0.2"], by_ip["127.0.0.9"]
            # Port 25's row and --record's are the same row: counts add up.
            assert "<count>1</count>" in by_ip["127.0.0.1"] and "<disposition>reject</disposition>" in by_ip["127.0.0.1"], by_ip
            assert "<count>3</count>" in ok and "<spf>pass</spf>" in ok and "<disposition>none</disposition>" in ok, ok
            assert "<count>1</count>" in bad and "<disposition>reject</disposition>" in bad, bad
            assert "<header_from>example.org</header_from>" in bad and "<result>fail</result>" in bad, bad
            assert "<scope>mfrom</scope>" in ok, ok
            bounce = by_ip["127.0.0.3"]
            assert "<envelope_from>mail.example.org</envelope_from>" in bounce, bounce
            assert "<disposition>reject</disposition>" in bounce and "<scope>" not in bounce, bounce
        # A bad From address stops the start with one line, exit 2.
        bad = Server(env={"TERN_DMARC_REPORT_FROM": "not an address"}, domains=(), start=False)
        try:
            r = bad.cli("serve", check=False)
            assert r.returncode == 2, r
            assert r.stderr.decode().strip() == ('config: TERN_DMARC_REPORT_FROM="not an address" is invalid: '
                                                 'expected an address of a served domain such as '
                                                 'dmarc@example.com, or off'), r.stderr
        finally:
            bad.cleanup()
    finally:
        s.cleanup()
        rcv.stop()
        dns.stop()


def test_report_destinations_by_organizational_domain():
    """RFC 9990 §4 with RFC 9989's Tree Walk: a rua= destination is inside
    the policy domain's organization when the walk from its domain finds
    the same Organizational Domain. For news.example.co.uk (its org
    domain example.co.uk, co.uk a psd=y suffix): the suffix's address is
    another organization and gets nothing until it publishes
    news.example.co.uk._report._dmarc.co.uk (tern took it as inside, a
    parent, and sent to it); the org domain's address and a sibling's
    (reports.example.co.uk, which tern asked to be verified and refused)
    get the report without one."""
    ips = unique_ips(1)
    port = free_port_on(ips)
    zone = {
        "news.example.co.uk": {"TXT": ["v=spf1 ip4:127.0.0.2 -all"], "MX": [[10, "mx.peer.test"]]},
        "_dmarc.news.example.co.uk": {"TXT": [
            "v=DMARC1; p=none; rua=mailto:psd@co.uk,mailto:org@example.co.uk,"
            "mailto:sib@reports.example.co.uk"]},
        "_dmarc.example.co.uk": {"TXT": ["v=DMARC1; p=reject"]},
        "_dmarc.co.uk": {"TXT": ["v=DMARC1; p=none; psd=y"]},
        "co.uk": {"MX": [[10, "mx.peer.test"]]},
        "example.co.uk": {"MX": [[10, "mx.peer.test"]]},
        "reports.example.co.uk": {"MX": [[10, "mx.peer.test"]]},
        "mx.peer.test": {"A": [ips[0]]},
    }
    dns = DnsServer(zone)
    rcv = Receiver(ips[0], port)
    s = Server(accounts=[("someone@example.test", "someone-pw-1")],
               env={"TERN_DNS_SERVERS": dns.servers, "TERN_QUEUE_MX_PORT": str(port),
                    "TERN_QUEUE_RETRY_SCHEDULE": "1", "TERN_QUEUE_TIMEOUT": "3",
                    "TERN_DMARC_REPORT_FROM": FROM})
    tmp = tempfile.mkdtemp(prefix="tern-dmarc-org-")
    try:
        with s:
            path = os.path.join(tmp, "m.eml")
            with open(path, "wb") as f:
                f.write(msg("Alice <alice@news.example.co.uk>"))

            def report():
                r = s.cli("check", "auth", "--ip", "127.0.0.2", "--helo", "mail.example.co.uk",
                          "--mail-from", "bounce@news.example.co.uk", "--record", path)
                assert "recorded: news.example.co.uk" in r.stdout.decode(), r.stdout
                out = s.cli("dmarc", "report", "--send", "--today").stdout.decode()
                assert out.splitlines()[0] == "reports: 1", out
                # Every copy handed over: the queue empties.
                deadline = time.time() + 30
                while "queue is empty" not in s.cli("queue", "list").stdout.decode():
                    assert time.time() < deadline, s.cli("queue", "list").stdout
                    time.sleep(0.1)

            report()
            got = rcv.wait_messages(2, timeout=30)  # one transaction per domain
            assert sorted(r for m in got for r in m["rcpts"]) == [
                "org@example.co.uk", "sib@reports.example.co.uk"], got
            assert b"Report Domain: news.example.co.uk" in got[0]["data"], got[0]["data"][:600]
            # With the verification record, the suffix's operator gets it too.
            zone["news.example.co.uk._report._dmarc.co.uk"] = {"TXT": ["v=DMARC1"]}
            dns.zone(zone)
            report()
            got = rcv.wait_messages(5, timeout=30)
            assert sorted(r for m in got[2:] for r in m["rcpts"]) == [
                "org@example.co.uk", "psd@co.uk", "sib@reports.example.co.uk"], got
    finally:
        s.cleanup()
        rcv.stop()
        dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def feedback_fields(part):
    """The message/feedback-report part's fields (Python parses the part
    as an embedded message whose header is the fields)."""
    body = part.get_payload()
    if isinstance(body, list):
        return body[0]
    return message_from_bytes(body.encode() if isinstance(body, str) else body, policy=policy.default)


def test_failure_reports_ruf():
    """DMARC failure reports (RFC 7489 §7.3, RFC 6591): a record with fo=d:s
    and ruf= gets one AFRF report for a message whose SPF passes aligned
    but whose DKIM signature fails (DMARC passes: "d" asks for a DKIM
    failure report, Auth-Failure: signature, RFC 6651), and one for a
    spoof whose SPF fails ("s": Auth-Failure: spf, RFC 6652); not for a
    second message from the same address in
    the hour, a bounce (null sender) or a message that is itself a
    report. The report goes to the ruf= address inside the domain and the
    verified external ones (one whose verification name has an SPF
    record beside its v=DMARC1 one: RFC 7489 §7.1 discards the other),
    not to one whose !size is too small; it is DKIM-signed
    and holds the header of the message, not its body. Identity-Alignment
    names what failed to authenticate an aligned identity (RFC 9991): the
    DKIM signature of example.org in the first, SPF for bounce@example.org
    in the spoof."""
    ips = unique_ips(1)
    port = free_port_on(ips)
    dns = DnsServer({
        "example.org": {"TXT": ["v=spf1 ip4:127.0.0.2 ip4:127.0.0.3 ip4:127.0.0.4 -all"],
                        "MX": [[10, "mx.peer.test"]]},
        "_dmarc.example.org": {"TXT": ["v=DMARC1; p=none; fo=d:s; ruf=mailto:ruf@example.org,"
                                       "mailto:fr@reports.test,mailto:tiny@reports.test!1k,"
                                       "mailto:x@twice.test"]},
        "example.org._report._dmarc.reports.test": {"TXT": ["v=DMARC1"]},
        "example.org._report._dmarc.twice.test": {"TXT": ["v=spf1 -all", "v=DMARC1"]},
        "reports.test": {"MX": [[10, "mx.peer.test"]]},
        "twice.test": {"MX": [[10, "mx.peer.test"]]},
        "mx.peer.test": {"A": [ips[0]]},
    })
    rcv = Receiver(ips[0], port)
    s = Server(accounts=[("someone@example.test", "someone-pw-1")],
               env={"TERN_DNS_SERVERS": dns.servers, "TERN_QUEUE_MX_PORT": str(port),
                    "TERN_QUEUE_RETRY_SCHEDULE": "1", "TERN_QUEUE_TIMEOUT": "3",
                    "TERN_DMARC_REPORT_FROM": FROM, "TERN_ADMIN_PASSWORD": ADMIN_PW}, http=True)
    bad_sig = ("DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=nokey; c=relaxed/relaxed;\r\n"
               " h=from:subject; bh=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=; b=AAAA\r\n")
    report_msg = ("From: alice@example.org\r\nTo: someone@example.test\r\nSubject: a report\r\n"
                  "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n"
                  " boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n").encode()
    try:
        with s:
            def send(src, mail_from, data):
                c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=20, source_address=(src, 0))
                c.ehlo("mail.example.org")
                c.sendmail(mail_from, ["someone@example.test"], data)
                c.quit()
            # Not reported: a bounce, a report (each from an address of its own).
            send("127.0.0.3", "", msg("Alice <alice@example.org>"))
            send("127.0.0.4", "bounce@example.org", report_msg)
            # SPF pass aligned, DKIM fails: fo=d reports it; the second
            # from that address within the hour is not.
            signed = bad_sig.encode() + msg("Alice <alice@example.org>").replace(
                b"Hello.", b"The secret body.")
            send("127.0.0.2", "bounce@example.org", signed)
            send("127.0.0.2", "bounce@example.org", signed)
            # A spoof (DMARC fail, p=none: delivered).
            send("127.0.0.1", "bounce@example.org", msg("Mallory <alice@example.org>"))

            got = rcv.wait_messages(6, timeout=30)
            assert len(got) == 6, got
            queued = re.findall(r"event=failure_report_queued .*", s.log_text())
            assert len(queued) == 2, queued
            by_ip = {}
            for m in got:
                assert m["from"] == FROM, m["from"]
                e = message_from_bytes(m["data"], policy=policy.default)
                fb = [p for p in e.walk() if p.get_content_type() == "message/feedback-report"]
                assert len(fb) == 1, m["data"][:2000]
                ip = feedback_fields(fb[0])["Source-IP"]
                by_ip.setdefault(ip, []).append((m, e))
            assert sorted(by_ip) == ["127.0.0.1", "127.0.0.2"], by_ip.keys()
            for ip, copies in by_ip.items():
                rcpts = sorted(r for m, _ in copies for r in m["rcpts"])
                # tiny@ (!1k: the report is larger) gets none; x@twice.test
                # is verified by the v=DMARC1 beside its SPF record.
                assert rcpts == ["fr@reports.test", "ruf@example.org", "x@twice.test"], rcpts
                m, e = copies[0]
                assert dkimpy(s, m["data"]) == ["rsa-sha256=True", "ed25519-sha256=True"]
                assert e.get_content_type() == "multipart/report", e["Content-Type"]
                assert e.get_param("report-type") == "feedback-report", e["Content-Type"]
                assert e["Auto-Submitted"] == "auto-generated"
                parts = [p.get_content_type() for p in e.iter_parts()]
                assert parts == ["text/plain", "message/feedback-report", "text/rfc822-headers"], parts
                f = feedback_fields(list(e.iter_parts())[1])
                assert f["Feedback-Type"] == "auth-failure" and f["Version"] == "1", str(f)
                assert f["User-Agent"], str(f)
                assert f["Reported-Domain"] == "example.org", str(f)
                assert f["Original-Mail-From"] == "<bounce@example.org>", str(f)
                assert f["Arrival-Date"] and f["Reporting-MTA"] == "dns; mx.example.test", str(f)
                ar = str(f["Authentication-Results"])
                headers = list(e.iter_parts())[2].get_payload()
                headers = headers if isinstance(headers, str) else headers.decode()
                assert "Subject: hi" in headers and "From:" in headers, headers
                # Identity-Alignment (RFC 9991): the mechanisms that failed
                # to authenticate an aligned identity, not those that passed.
                if ip == "127.0.0.2":
                    assert "dmarc=pass" in ar and "spf=pass" in ar, ar
                    assert f["Auth-Failure"] == "signature", str(f)
                    assert f["Identity-Alignment"] == "dkim", str(f)
                    assert f["Delivery-Result"] == "delivered", str(f)
                    assert f["DKIM-Domain"] == "example.org" and f["DKIM-Selector"] == "nokey", str(f)
                    assert f["DKIM-Identity"] == "@example.org", str(f)
                    assert "DKIM-Signature:" in headers, headers
                    assert b"The secret body" not in m["data"], m["data"]
                else:
                    assert "dmarc=fail" in ar and "spf=fail" in ar, ar
                    assert f["Auth-Failure"] == "spf", str(f)
                    # RFC 6591 §3.1: the SPF record the check read.
                    assert f.get_all("SPF-DNS") == [
                        "txt: example.org: v=spf1 ip4:127.0.0.2 ip4:127.0.0.3 ip4:127.0.0.4 -all"], str(f)
                    assert f["Identity-Alignment"] == "spf", str(f)  # bounce@example.org failed SPF
                    assert "DKIM-Domain" not in f, str(f)
                    assert "Mallory" in headers and "Hello." not in headers, headers
            # The switch (API, web admin): on by default; off sends none.
            a = Api(s)
            assert a.login(ADMIN_PW)[0] == 200
            st, _, js = a.call("GET", "/settings")
            assert st == 200 and js["dmarc_reports"]["failure_reports"] is True, js
            st, _, js = a.call("PUT", "/settings", {"dmarc_failure_reports": False})
            assert st == 200 and js["dmarc_reports"]["failure_reports"] is False, js
            send("127.0.0.5", "bounce@example.org", msg("Mallory <alice@example.org>"))
            assert s.wait_log("event=failure_report_skipped domain=example.org reason=off"), s.log_text()[-2000:]
            assert len(re.findall(r"event=failure_report_queued", s.log_text())) == 2
    finally:
        s.cleanup()
        rcv.stop()
        dns.stop()


def test_failure_reports_kept_across_a_stop():
    """DMARC failure reports waiting at a stop are kept in the store and
    sent by the next start. The external ruf= destination's verification
    name gets no answer from DNS: the first report's lookup hangs, the
    second waits behind it; the stop ends that lookup (it waited up to
    20 s for it, then took the second into the same silent lookup and
    dropped both as no_destination). With DNS answering again, the
    restarted server sends both."""
    ips = unique_ips(1)
    port = free_port_on(ips)
    zone = {
        "example.org": {"TXT": ["v=spf1 ip4:127.0.0.2 -all"], "MX": [[10, "mx.peer.test"]]},
        "_dmarc.example.org": {"TXT": ["v=DMARC1; p=none; fo=1; ruf=mailto:fr@reports.test"]},
        "example.org._report._dmarc.reports.test": {"SILENT": True},
        "reports.test": {"MX": [[10, "mx.peer.test"]]},
        "mx.peer.test": {"A": [ips[0]]},
    }
    dns = DnsServer(zone)
    rcv = Receiver(ips[0], port)
    s = Server(accounts=[("someone@example.test", "someone-pw-1")],
               env={"TERN_DNS_SERVERS": dns.servers, "TERN_QUEUE_MX_PORT": str(port),
                    "TERN_QUEUE_RETRY_SCHEDULE": "1", "TERN_QUEUE_TIMEOUT": "3",
                    "TERN_DMARC_REPORT_FROM": FROM})
    tmp = tempfile.mkdtemp(prefix="tern-dmarc-fail-")
    try:
        with s:
            for src in ("127.0.0.1", "127.0.0.3"):  # two spoofs: DMARC fails
                c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=20, source_address=(src, 0))
                c.ehlo("mail.example.org")
                c.sendmail("bounce@example.org", ["someone@example.test"],
                           msg("Mallory <alice@example.org>"))
                c.quit()
            s.stop(timeout=10)
            log = s.log_text()
            assert "event=failure_reports_saved count=2" in log, log[-3000:]
            assert "event=failure_report_skipped" not in log, log[-3000:]
            # A backup of the stopped server carries the two as well.
            bk = os.path.join(tmp, "b")
            s.cli("backup", bk)
            zone["example.org._report._dmarc.reports.test"] = {"TXT": ["v=DMARC1"]}
            dns.zone(zone)
            s.start()
            got = rcv.wait_messages(2, timeout=30)
            assert len(got) == 2, (got, s.log_text()[-3000:])
            ips_seen = sorted(re.search(rb"Source-IP: (\S+)", m["data"]).group(1).decode()
                              for m in got)
            assert ips_seen == ["127.0.0.1", "127.0.0.3"], ips_seen
            assert "event=failure_reports_restored count=2" in s.log_text()
            # Restored, the server does not send them a second time: the
            # first open drops them (the lost server sent them).
            s.stop()
            restored = os.path.join(tmp, "restored")
            s.data = s.env["TERN_DATA_DIR"] = restored
            s.cli("restore", bk)
            s.start()
            assert s.wait_log("dmarc_failure_reports_dropped=2 "), s.log_text()[-3000:]
            assert s.log_text().count("event=failure_reports_restored") == 1, s.log_text()[-3000:]
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
        rcv.stop()
        dns.stop()
