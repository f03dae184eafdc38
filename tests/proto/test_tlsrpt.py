"""TLS-RPT (RFC 8460, issue 30): the queue counts every outbound TLS
outcome per policy domain; SIGHUP stores the counts;
`tern tlsrpt report --send --today` makes each domain's report and sends
it to the rua URIs of its `_smtp._tls` record: by mail (multipart/report,
report-type tlsrpt, TLS-Report-Domain/-Submitter, a gzip JSON attachment,
DKIM-signed) to a loopback receiver, and by an HTTPS POST of
application/tlsrpt+gzip to a loopback HTTPS server (its CA in
TERN_TLS_CA_FILE). The JSON is checked field by field (§4.4):
good.test (MTA-STS enforce, verified TLS) has one success; bad.test (the
policy's MX presents a self-signed certificate) certificate-not-trusted
failures; plain.test (no policy, no STARTTLS) starttls-not-supported under
no-policy-found; none.test has no record and gets nothing.

Received (§5.3): reports mailed to postmaster@ a served domain (gzip and
plain JSON attachments) are stored once each and shown by
`tern tlsrpt list DOMAIN` and GET /domains/{d}/tlsrpt-reports."""
import atexit
import contextlib
import gzip
import http.server
import json
import re
import shutil
import signal
import smtplib
import ssl
import tempfile
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

import subprocess

from harness import LoopbackHTTPServer
from httpc import admin_server
from mailpeers import SYSTEM_PYTHON, DnsServer, ca_signed, free_port_on, self_signed, test_ca
from test_mta_sts_out import PolicyServer, _policy
from test_queue import World
from test_submission import dkimpy

FROM = "tls-reports@example.test"
PM = "postmaster@example.test"


class ReportSink:
    """HTTPS on ip:port taking POSTs; keeps (path, headers, body)."""

    def __init__(self, ip, port, cert):
        self.posts = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                outer.posts.append((self.path, dict(self.headers), self.rfile.read(n)))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = LoopbackHTTPServer((ip, port), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*cert)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def policy_world(nips, records, policies, web_cert, env):
    """A started World (test_queue) of nips addresses whose third, ips[2],
    serves MTA-STS policies ({host: policy text}) and takes the POSTed
    reports (ReportSink), both over HTTPS with web_cert; records(ips,
    post_port) is the DNS zone. Yields (w, ips, sink)."""
    seen = {}

    def no_records(ips):
        seen["ips"] = ips
        return {}

    with World(no_records, nips=nips, env=env, start=False) as w:
        ips = seen["ips"]
        web_port = free_port_on([ips[2]])
        post_port = free_port_on([ips[2]])
        w.dns.zone(records(ips, post_port))
        w.srv.env["TERN_MTA_STS_PORT"] = str(web_port)
        ps = PolicyServer(ips[2], web_port, web_cert, policies)
        sink = ReportSink(ips[2], post_port, web_cert)
        try:
            w.srv.start()
            yield w, ips, sink
        finally:
            ps.stop()
            sink.stop()


def flushed_counts(w):
    """The day's counts as `tern tlsrpt report` lists them, once SIGHUP has
    made tern store what it counted."""
    w.srv.proc.send_signal(signal.SIGHUP)
    assert w.srv.wait_log("event=seen_flushed rows="), w.srv.log_text()[-3000:]
    return w.srv.cli("tlsrpt", "report").stdout.decode()


def _records(ips, https_port):
    url = "https://reports.test:%d/tlsrpt" % https_port
    return {
        "good.test": {"MX": [[10, "mxa.good.test"]]},
        "mxa.good.test": {"A": [ips[0]]},
        "mta-sts.good.test": {"A": [ips[2]]},
        "_mta-sts.good.test": {"TXT": ["v=STSv1; id=1;"]},
        "_smtp._tls.good.test": {"TXT": ["v=TLSRPTv1; rua=mailto:tls@reports.test,%s" % url]},
        "bad.test": {"MX": [[10, "mxb.bad.test"]]},
        "mxb.bad.test": {"A": [ips[1]]},
        "mta-sts.bad.test": {"A": [ips[2]]},
        "_mta-sts.bad.test": {"TXT": ["v=STSv1; id=1;"]},
        # Mailed to its own MX too, whose TLS fails the policy: §5.3 says
        # the report goes anyway.
        "_smtp._tls.bad.test": {"TXT": ["v=TLSRPTv1;rua=%s,mailto:tlsrpt@bad.test" % url]},
        "plain.test": {"MX": [[10, "mxp.plain.test"]]},
        "mxp.plain.test": {"A": [ips[3]]},
        # RFC 6068: "%2B" is "+"; the hfields are ignored; the same
        # address twice (its domain in capitals) gets the report once.
        "_smtp._tls.plain.test": {"TXT": ["v=TLSRPTv1; rua=mailto:tls%2Brpt@reports.test?subject=TLS,"
                                          "mailto:tls+rpt@Reports.TEST"]},
        "none.test": {"MX": [[10, "mxp.plain.test"]]},
        "reports.test": {"MX": [[10, "mxa.good.test"]], "A": [ips[2]]},
    }


def _policies(report):
    return {p["policy"]["policy-domain"]: p for p in report["policies"]}


def _check_report(rep, domain):
    """The fields every report has (§4.4)."""
    assert set(rep) == {"organization-name", "date-range", "contact-info", "report-id",
                        "policies"}, rep
    assert rep["organization-name"] == "mail.example.test", rep
    assert rep["contact-info"] == FROM, rep
    dr = rep["date-range"]
    assert re.match(r"^\d{4}-\d\d-\d\dT00:00:00Z$", dr["start-datetime"]), dr
    assert dr["end-datetime"] == dr["start-datetime"][:10] + "T23:59:59Z", dr
    assert re.match(r"^\d+\.\d+\.%s@mail\.example\.test$" % re.escape(domain), rep["report-id"]), rep
    assert [p["policy"]["policy-domain"] for p in rep["policies"]] == [domain], rep


def test_reports_counted_mailed_and_posted():
    tmp = tempfile.mkdtemp(prefix="tern-tlsrpt-")
    atexit.register(shutil.rmtree, tmp, True)
    ca = test_ca(tmp)
    a_cert = ca_signed(tmp, ca, "mxa.good.test")
    web_cert = ca_signed(tmp, ca, "mta-sts.good.test", ("mta-sts.bad.test", "reports.test"))
    env = {"TERN_TLS_CA_FILE": ca[0], "TERN_DMARC_REPORT_FROM": FROM}
    with policy_world(4, _records, {
        "mta-sts.good.test": _policy("enforce", "mxa.good.test"),
        "mta-sts.bad.test": _policy("enforce", "mxb.bad.test"),
    }, web_cert, env) as (w, ips, sink):
        ra = w.receiver(0, tls=True, cert=a_cert)
        # Self-signed for its own name: the name matches, the issuer is unknown.
        rb = w.receiver(1, tls=True, cert=self_signed(tmp, "mxb.bad.test"))
        rp = w.receiver(3, tls=False)
        w.send(["carol@good.test", "dave@bad.test", "pat@plain.test", "nim@none.test"])
        ra.wait_messages(1)
        rp.wait_messages(2)
        w.wait_list("TLS not verified")
        listed = flushed_counts(w)
        day = r"^\d{4}-\d\d-\d\d "
        assert re.search(day + r"good\.test successful=1 failed=0$", listed, re.M), listed
        assert re.search(day + r"bad\.test successful=0 failed=[1-9]\d*$", listed, re.M), listed
        assert re.search(day + r"plain\.test successful=0 failed=1$", listed, re.M), listed
        assert re.search(day + r"none\.test successful=0 failed=1$", listed, re.M), listed
        # dave@bad.test is retried each second: no more counting from here.
        w.srv.cli("queue", "del", re.search(r"^(\S+)", w.wait_list("dave@bad.test"), re.M).group(1),
                  check=False)

        r = w.srv.cli("tlsrpt", "report", "--send", "--today")
        out = r.stdout.decode() + r.stderr.decode()
        lines = dict(l.split(": ", 1) for l in r.stdout.decode().splitlines())
        assert lines["mailed"] == "3" and lines["posted"] == "2", out
        assert lines["from"] == FROM and lines["no-record"] == "1", out
        assert lines["failed"] == "0" and lines["deferred"] == "0", out
        assert w.srv.cli("tlsrpt", "report").stdout.decode() == "nothing to report\n"

        # HTTPS: good.test's and bad.test's reports.
        assert len(sink.posts) == 2, sink.posts
        posted = {}
        for path, headers, body in sink.posts:
            assert path == "/tlsrpt", path
            assert headers["Content-Type"] == "application/tlsrpt+gzip", headers
            rep = json.loads(gzip.decompress(body))
            posted[rep["policies"][0]["policy"]["policy-domain"]] = rep
        assert sorted(posted) == ["bad.test", "good.test"], posted
        _check_report(posted["good.test"], "good.test")
        good = posted["good.test"]["policies"][0]
        assert good["policy"] == {
            "policy-type": "sts",
            "policy-string": ["version: STSv1", "mode: enforce", "mx: mxa.good.test",
                              "max_age: 86400"],
            "policy-domain": "good.test", "mx-host": ["mxa.good.test"]}, good
        assert good["summary"] == {"total-successful-session-count": 1,
                                   "total-failure-session-count": 0}, good
        assert "failure-details" not in good, good
        _check_report(posted["bad.test"], "bad.test")
        bad = posted["bad.test"]["policies"][0]
        assert bad["policy"]["policy-type"] == "sts", bad
        assert bad["policy"]["mx-host"] == ["mxb.bad.test"], bad
        n = bad["summary"]["total-failure-session-count"]
        assert n >= 1 and bad["summary"]["total-successful-session-count"] == 0, bad
        fd = bad["failure-details"]
        assert len(fd) == 1, fd
        assert fd[0]["result-type"] == "certificate-not-trusted", fd
        assert fd[0]["receiving-mx-hostname"] == "mxb.bad.test", fd
        assert fd[0]["receiving-ip"] == ips[1], fd
        assert fd[0]["sending-mta-ip"].startswith("127."), fd
        assert fd[0]["failed-session-count"] == n, fd
        # §4.4: our words are a failure-reason-code; additional-information is a URI.
        assert "trusted" in fd[0]["failure-reason-code"], fd
        assert "additional-information" not in fd[0], fd

        # RFC 8460 §5.3: bad.test's own MX fails its MTA-STS policy (dave's
        # message waits for it), yet the report about that reaches it: the
        # report says "TLS-Required: No" (RFC 8689 §5), the queue skips the
        # policy for it.
        got_b = rb.wait_messages(1, timeout=30)
        assert [m["rcpts"] for m in got_b] == [["tlsrpt@bad.test"]], w.srv.log_text()[-3000:]
        mb = message_from_bytes(got_b[0]["data"], policy=policy.default)
        assert mb["TLS-Report-Domain"] == "bad.test" and mb["TLS-Required"] == "No", mb
        assert dkimpy(w.srv, got_b[0]["data"]) == ["rsa-sha256=True", "ed25519-sha256=True"]

        # Mail: good.test's to tls@reports.test, plain.test's to
        # tls+rpt@reports.test, decoded and once (MX mxa).
        got = ra.wait_messages(3, timeout=30)
        reports = [m for m in got if m["rcpts"] in (["tls@reports.test"], ["tls+rpt@reports.test"])]
        assert len(reports) == 2, got
        mailed = {}
        for m in reports:
            raw = m["data"]
            assert m["from"] == FROM, m
            assert dkimpy(w.srv, raw) == ["rsa-sha256=True", "ed25519-sha256=True"], raw[:400]
            msg = message_from_bytes(raw, policy=policy.default)
            dom = msg["TLS-Report-Domain"]
            assert m["rcpts"] == ["tls+rpt@reports.test" if dom == "plain.test" else "tls@reports.test"], m
            assert str(msg["To"]) == m["rcpts"][0], msg["To"]
            assert msg["TLS-Report-Submitter"] == "mail.example.test", msg
            assert msg.get_content_type() == "multipart/report", msg
            assert msg.get_param("report-type") == "tlsrpt", msg
            assert re.match(r"Report Domain: %s Submitter: mail\.example\.test "
                            r"Report-ID: <\d+\.\d+\.%s@mail\.example\.test>$"
                            % (re.escape(dom), re.escape(dom)), msg["Subject"]), msg["Subject"]
            parts = [p for p in msg.walk() if p.get_content_type() == "application/tlsrpt+gzip"]
            assert len(parts) == 1, msg
            name = parts[0].get_filename()
            # RFC 8460 §5.1: the unique-id is 1*(ALPHA / DIGIT).
            assert re.match(r"mail\.example\.test!%s!\d+!\d+!\d+%smailexampletest\.json\.gz$"
                            % (re.escape(dom), dom.replace(".", "")), name), name
            mailed[dom] = json.loads(gzip.decompress(parts[0].get_payload(decode=True)))
        assert sorted(mailed) == ["good.test", "plain.test"], mailed
        assert mailed["good.test"] == posted["good.test"]
        _check_report(mailed["plain.test"], "plain.test")
        pl = mailed["plain.test"]["policies"][0]
        assert pl["policy"] == {"policy-type": "no-policy-found", "policy-domain": "plain.test"}, pl
        assert pl["summary"] == {"total-successful-session-count": 0,
                                 "total-failure-session-count": 1}, pl
        assert [(f["result-type"], f["receiving-mx-hostname"], f["receiving-ip"],
                 f["failed-session-count"]) for f in pl["failure-details"]] == [
            ("starttls-not-supported", "mxp.plain.test", ips[3], 1)], pl

        # §5.3: the sessions that carried the reports "SHOULD NOT" be
        # counted for the next ones: bad.test's went around its policy
        # (TLS-Required: No) and read as a no-policy-found success of
        # bad.test; reports.test's (good.test's and plain.test's
        # reports) were counted too. (A retry of dave's that was under
        # way when it was deleted may still count a bad.test failure.)
        assert w.wait_queue_empty(timeout=30), w.queue_list()
        mark = len(w.srv.log_text())
        w.srv.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 30
        while "module=tlsrpt event=seen_flushed" not in w.srv.log_text()[mark:] and time.time() < deadline:
            time.sleep(0.1)
        assert "module=tlsrpt event=seen_flushed" in w.srv.log_text()[mark:], w.srv.log_text()[mark:]
        listed = w.srv.cli("tlsrpt", "report").stdout.decode()
        assert "reports.test" not in listed and not re.search(r"bad\.test successful=[1-9]", listed), listed


RFC_EXAMPLE = {
    "organization-name": "Company-X",
    "date-range": {"start-datetime": "2016-04-01T00:00:00Z", "end-datetime": "2016-04-01T23:59:59Z"},
    "contact-info": "sts-reporting@company-x.example",
    "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
    "policies": [{
        "policy": {"policy-type": "sts",
                   "policy-string": ["version: STSv1", "mode: testing", "mx: *.mail.example.test",
                                     "max_age: 86400"],
                   "policy-domain": "example.test", "mx-host": ["*.mail.example.test"]},
        "summary": {"total-successful-session-count": 5326, "total-failure-session-count": 303},
        "failure-details": [
            {"result-type": "certificate-expired", "sending-mta-ip": "2001:db8:abcd:0012::1",
             "receiving-mx-hostname": "mx1.mail.example.test", "failed-session-count": 100,
             "failure-reason-code": "X509_V_ERR_CERT_HAS_EXPIRED"},
            {"result-type": "starttls-not-supported", "sending-mta-ip": "2001:db8:abcd:0013::1",
             "receiving-mx-hostname": "mx2.mail.example.test", "receiving-ip": "203.0.113.56",
             "failed-session-count": 200, "additional-information": "see the report site"},
            {"result-type": "some-new-type", "sending-mta-ip": "198.51.100.62",
             "receiving-mx-hostname": "mx-backup.mail.example.test", "failed-session-count": 3,
             "failure-error-code": "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"}]}]}


def _report(start, rid, org="Company-X", domain="example.test"):
    r = json.loads(json.dumps(RFC_EXAMPLE))
    r["organization-name"], r["report-id"] = org, rid
    r["policies"][0]["policy"]["policy-domain"] = domain
    day = time.strftime("%Y-%m-%d", time.gmtime(start))
    r["date-range"] = {"start-datetime": day + "T00:00:00Z", "end-datetime": day + "T23:59:59Z"}
    return json.dumps(r).encode()


def _mail(subject, attachment, ctype, filename):
    m = EmailMessage()
    m["From"] = "tlsrpt@company-x.example"
    m["To"] = PM
    m["Subject"] = subject
    m["TLS-Report-Domain"] = "example.test"
    m["TLS-Report-Submitter"] = "Company-X"
    m.set_content("This is an aggregate TLS report.\n")
    maintype, subtype = ctype.split("/")
    m.add_attachment(attachment, maintype=maintype, subtype=subtype, filename=filename)
    return m.as_bytes(policy=policy.SMTP)


SIGN = r"""
import base64, sys, dkim, nacl.signing
seed = bytes(range(32))
msg = sys.stdin.buffer.read()
sig = dkim.sign(msg, b"tlsrpt", b"company-x.example", base64.b64encode(seed),
                signature_algorithm=b"ed25519-sha256", include_headers=[b"from", b"to", b"subject"])
pub = nacl.signing.SigningKey(seed).verify_key.encode()
sys.stdout.write(base64.b64encode(pub).decode() + "\n")
sys.stdout.buffer.write(sig + msg)
"""


def _signed(raw):
    """raw DKIM-signed (dkimpy, Ed25519) as company-x.example, selector
    tlsrpt; returns (the key's p= value, the signed message)."""
    r = subprocess.run([SYSTEM_PYTHON, "-c", SIGN], input=raw, capture_output=True, check=True)
    pub, signed = r.stdout.split(b"\n", 1)
    return pub.decode(), signed


def test_reports_received_listed_and_shown():
    day = int(time.time()) // 86400 * 86400
    # Reports signed with a key for TLS-RPT only (RFC 8460 §3: s=tlsrpt):
    # r4 verifies; r5's Subject was changed after signing.
    pub, r4 = _signed(_mail("signed", gzip.compress(_report(day - 10 * 86400, "r4")),
                            "application/tlsrpt+gzip", "r4.json.gz"))
    _, r5 = _signed(_mail("signed", _report(day - 11 * 86400, "r5"), "application/tlsrpt+json",
                          "r5.json"))
    r5 = r5.replace(b"\r\nSubject: signed\r\n", b"\r\nSubject: Signed\r\n", 1)
    assert b"Subject: Signed" in r5, r5[:600]
    dns = DnsServer({"tlsrpt._domainkey.company-x.example": {
        "TXT": ["v=DKIM1; k=ed25519; s=tlsrpt; p=" + pub]}})
    atexit.register(dns.stop)
    s, a = admin_server(accounts=[(PM, "postmaster-pw-1")], env={"TERN_DNS_SERVERS": dns.servers})
    with s:
        mails = [
            ("gzip", _mail("Report Domain: example.test Submitter: Company-X Report-ID: <r1>",
                           gzip.compress(_report(day - 86400, "r1")), "application/tlsrpt+gzip",
                           "company-x!example.test!1!2!r1.json.gz")),
            ("json", _mail("plain", _report(day - 2 * 86400, "r2", org="Other Org"),
                           "application/tlsrpt+json", "r2.json")),
            ("again", _mail("the same report again", gzip.compress(_report(day - 86400, "r1")),
                            "application/tlsrpt+gzip", "again.json.gz")),
            ("not served", _mail("elsewhere", _report(day, "r3", domain="example.org"),
                                 "application/tlsrpt+json", "r3.json")),
            ("signed", r4),
            ("signed, changed", r5),
        ]
        for _, m in mails:
            c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=20)
            c.sendmail("tlsrpt@company-x.example", [PM], m)
            c.quit()
        assert s.wait_log("policy-domain is not served here", timeout=20), s.log_text()[-2000:]
        deadline = time.time() + 20
        while time.time() < deadline:
            st, _, r = a.call("GET", "/domains/example.test/tlsrpt-reports?days=7")
            assert st == 200, r
            if len(r["reports"]) >= 2 and s.log_text().count("event=report_intake stored=1") >= 5:
                break
            time.sleep(0.2)
        # Oldest period first; the one mailed twice is kept once.
        assert [x["report_id"] for x in r["reports"]] == ["r2", "r1"], r
        assert r["totals"] == {"reports": 2, "successful": 2 * 5326, "failed": 2 * 303}, r
        r1 = r["reports"][1]
        assert r1["organization"] == "Company-X" and r1["contact"] == "sts-reporting@company-x.example", r1
        assert r1["start"] == day - 86400 and r1["end"] == day - 1, r1
        assert (r1["dkim"], r1["dkim_domain"]) == ("none", ""), r1
        assert (r1["successful"], r1["failed"]) == (5326, 303), r1
        [p] = r1["policies"]
        assert (p["type"], p["domain"]) == ("sts", "example.test"), p
        assert p["failures"] == [
            {"result": "certificate-expired", "mx": "mx1.mail.example.test", "ip": "",
             "sending_ip": "2001:db8:abcd:0012::1", "sessions": 100,
             "info": "X509_V_ERR_CERT_HAS_EXPIRED"},
            {"result": "starttls-not-supported", "mx": "mx2.mail.example.test", "ip": "203.0.113.56",
             "sending_ip": "2001:db8:abcd:0013::1", "sessions": 200, "info": "see the report site"},
            {"result": "validation-failure", "mx": "mx-backup.mail.example.test", "ip": "",
             "sending_ip": "198.51.100.62", "sessions": 3, "info": "some-new-type"}], p
        st, _, r = a.call("GET", "/domains/example.test/tlsrpt-reports?days=0")
        assert st == 400, r
        st, _, r = a.call("GET", "/domains/nope.test/tlsrpt-reports")
        assert st == 404, r

        st, _, r = a.call("GET", "/domains/example.test/tlsrpt-reports?days=30")
        assert st == 200, r
        assert [(x["report_id"], x["organization"], x["dkim"], x["dkim_domain"])
                for x in r["reports"]] == [
            ("r5", "Company-X", "fail", ""), ("r4", "Company-X", "pass", "company-x.example"),
            ("r2", "Other Org", "none", ""), ("r1", "Company-X", "none", "")], r

        out = s.cli("tlsrpt", "list", "example.test").stdout.decode().splitlines()
        d1 = time.strftime("%Y-%m-%d", time.gmtime(day - 86400))
        assert out[0].startswith(time.strftime("%Y-%m-%d", time.gmtime(day - 11 * 86400))), out
        assert "%sT00:00:00Z %sT23:59:59Z Company-X r1 example.test sts successful=5326 failed=303 dkim=none" % (d1, d1) in out, out
        assert [" ".join(re.search(r" (r\d) .* (dkim=\S+)$", l).groups())
                for l in out if not l.startswith(" ")] == [
            "r5 dkim=fail", "r4 dkim=pass:company-x.example", "r2 dkim=none", "r1 dkim=none"], out
        assert "  certificate-expired mx=mx1.mail.example.test ip=- sessions=100" in out, out
        assert "  starttls-not-supported mx=mx2.mail.example.test ip=203.0.113.56 sessions=200" in out, out
        r = s.cli("tlsrpt", "list", "example.org", check=False)
        assert r.returncode == 1 and b"not a served domain" in r.stderr, r
        # The reports are mail to the postmaster too, as any mail.
        assert len(s.messages(PM)) == len(mails), s.messages(PM)


def test_long_organization_name_cut_and_kept():
    """RFC 8460 §4.4 sets no length on organization-name: one of 300
    octets is cut to the 255 kept and the report stored, the intake's log
    line saying so (cut=1), as DMARC's intake cuts a long org_name and
    keeps its report. It was refused whole ("organization-name,
    contact-info or report-id missing or bad")."""
    day = int(time.time()) // 86400 * 86400
    dns = DnsServer({})
    atexit.register(dns.stop)
    s, a = admin_server(accounts=[(PM, "postmaster-pw-1")], env={"TERN_DNS_SERVERS": dns.servers})
    with s:
        m = _mail("long", _report(day - 86400, "long-org", org="O" * 300),
                  "application/tlsrpt+json", "long.json")
        c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=20)
        c.sendmail("tlsrpt@company-x.example", [PM], m)
        c.quit()
        assert s.wait_log("event=report_intake stored=1 cut=1", timeout=20), s.log_text()[-2000:]
        st, _, r = a.call("GET", "/domains/example.test/tlsrpt-reports?days=7")
        assert st == 200, r
        assert [(x["report_id"], x["organization"]) for x in r["reports"]] == [("long-org", "O" * 255)], r
