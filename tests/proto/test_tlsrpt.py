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
no-policy-found; none.test has no record and gets nothing."""
import atexit
import gzip
import http.server
import json
import re
import shutil
import signal
import ssl
import tempfile
import threading
from email import message_from_bytes, policy

from mailpeers import ca_signed, free_port_on, self_signed, test_ca
from test_mta_sts_out import PolicyServer, _policy
from test_queue import World
from test_submission import dkimpy

FROM = "tls-reports@example.test"


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

        self.httpd = http.server.ThreadingHTTPServer((ip, port), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*cert)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


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
        "_smtp._tls.bad.test": {"TXT": ["v=TLSRPTv1;rua=%s" % url]},
        "plain.test": {"MX": [[10, "mxp.plain.test"]]},
        "mxp.plain.test": {"A": [ips[3]]},
        "_smtp._tls.plain.test": {"TXT": ["v=TLSRPTv1; rua=mailto:tls@reports.test"]},
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
    assert re.match(r"^\d+\.%s@mail\.example\.test$" % re.escape(domain), rep["report-id"]), rep
    assert [p["policy"]["policy-domain"] for p in rep["policies"]] == [domain], rep


def test_reports_counted_mailed_and_posted():
    tmp = tempfile.mkdtemp(prefix="tern-tlsrpt-")
    atexit.register(shutil.rmtree, tmp, True)
    ca = test_ca(tmp)
    a_cert = ca_signed(tmp, ca, "mxa.good.test")
    web_cert = ca_signed(tmp, ca, "mta-sts.good.test", ("mta-sts.bad.test", "reports.test"))
    seen = {}

    def records(ips):
        seen["ips"] = ips
        return {}

    env = {"TERN_TLS_CA_FILE": ca[0], "TERN_DMARC_REPORT_FROM": FROM}
    with World(records, nips=4, env=env, start=False) as w:
        ips = seen["ips"]
        web_port = free_port_on([ips[2]])
        post_port = free_port_on([ips[2]])
        w.dns.zone(_records(ips, post_port))
        w.srv.env["TERN_MTA_STS_PORT"] = str(web_port)
        ps = PolicyServer(ips[2], web_port, web_cert, {
            "mta-sts.good.test": _policy("enforce", "mxa.good.test"),
            "mta-sts.bad.test": _policy("enforce", "mxb.bad.test"),
        })
        sink = ReportSink(ips[2], post_port, web_cert)
        try:
            w.srv.start()
            ra = w.receiver(0, tls=True, cert=a_cert)
            # Self-signed for its own name: the name matches, the issuer is unknown.
            w.receiver(1, tls=True, cert=self_signed(tmp, "mxb.bad.test"))
            rp = w.receiver(3, tls=False)
            w.send(["carol@good.test", "dave@bad.test", "pat@plain.test", "nim@none.test"])
            ra.wait_messages(1)
            rp.wait_messages(2)
            w.wait_list("TLS not verified")
            w.srv.proc.send_signal(signal.SIGHUP)
            assert w.srv.wait_log("event=seen_flushed rows="), w.srv.log_text()[-3000:]
            listed = w.srv.cli("tlsrpt", "report").stdout.decode()
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
            assert lines["mailed"] == "2" and lines["posted"] == "2", out
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
            assert "trusted" in fd[0]["additional-information"], fd

            # Mail: good.test's and plain.test's, to tls@reports.test (MX mxa).
            got = ra.wait_messages(3, timeout=30)
            reports = [m for m in got if m["rcpts"] == ["tls@reports.test"]]
            assert len(reports) == 2, got
            mailed = {}
            for m in reports:
                raw = m["data"]
                assert m["from"] == FROM, m
                assert dkimpy(w.srv, raw) == ["rsa-sha256=True", "ed25519-sha256=True"], raw[:400]
                msg = message_from_bytes(raw, policy=policy.default)
                dom = msg["TLS-Report-Domain"]
                assert msg["TLS-Report-Submitter"] == "mail.example.test", msg
                assert msg.get_content_type() == "multipart/report", msg
                assert msg.get_param("report-type") == "tlsrpt", msg
                assert re.match(r"Report Domain: %s Submitter: mail\.example\.test "
                                r"Report-ID: <\d+\.%s@mail\.example\.test>$"
                                % (re.escape(dom), re.escape(dom)), msg["Subject"]), msg["Subject"]
                parts = [p for p in msg.walk() if p.get_content_type() == "application/tlsrpt+gzip"]
                assert len(parts) == 1, msg
                name = parts[0].get_filename()
                assert re.match(r"mail\.example\.test!%s!\d+!\d+!\d+\.%s@mail\.example\.test\.json\.gz$"
                                % (re.escape(dom), re.escape(dom)), name), name
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
        finally:
            ps.stop()
            sink.stop()
