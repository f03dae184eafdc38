"""MTA-STS policy fetching (RFC 8461 §3.2, §3.3, §4.1) against a loopback
HTTPS policy server, with what TLS-RPT (RFC 8460 §4.3.2.2) reports:

- a policy of LF-ended lines is a policy; its `*.lf.test` names one
  label only, so the better MX a.b.lf.test gets nothing, mx.lf.test the
  mail;
- a redirect is not followed (§3.3): the fetch fails and the mail goes
  as without a policy (sts-policy-fetch-error);
- a policy host whose certificate does not name mta-sts.<domain> gives
  no policy (sts-webpki-invalid);
- two STSv1 TXT records are no policy (§3.1): nothing is fetched;
- a policy served as text/html is not taken: it was retrieved and
  fails validation (§3.3's media type check), sts-policy-invalid;
- a policy host that accepts and never answers is given up at the
  fetch deadline (30 s; TERN_TEST_STS_FETCH_TIMEOUT_MS shortens it in
  the sanitizer build): the mail goes as without a policy,
  sts-policy-fetch-error."""
import atexit
import gzip
import json
import re
import shutil
import tempfile

from mailpeers import ca_signed, test_ca
from test_dane import _rcpts
from test_mta_sts_out import PolicyServer, _policy
from test_tlsrpt import flushed_counts, policy_world

FROM = "tls-reports@example.test"


def _records(ips, post_port):
    rua = {"TXT": ["v=TLSRPTv1; rua=https://reports.test:%d/r" % post_port]}
    z = {"reports.test": {"A": [ips[2]]}}
    for dom, mxs in (("lf.test", [(10, "a.b.lf.test", 1), (20, "mx.lf.test", 0)]),
                     ("redir.test", [(10, "mx.redir.test", 1)]),
                     ("wrongcert.test", [(10, "mx.wrongcert.test", 1)]),
                     ("two.test", [(10, "mx.two.test", 1)]),
                     ("html.test", [(10, "mx.html.test", 1)])):
        z[dom] = {"MX": [[p, h] for p, h, _ in mxs]}
        for _, h, i in mxs:
            z[h] = {"A": [ips[i]]}
        z["mta-sts." + dom] = {"A": [ips[2]]}
        z["_mta-sts." + dom] = {"TXT": ["v=STSv1; id=1;"]}
        z["_smtp._tls." + dom] = rua
    z["_mta-sts.two.test"] = {"TXT": ["v=STSv1; id=1;", "v=STSv1; id=2;"]}
    return z


def _posted(sink):
    out = {}
    for _, _, body in sink.posts:
        for p in json.loads(gzip.decompress(body))["policies"]:
            out[p["policy"]["policy-domain"]] = p
    return out


def test_lf_wildcard_redirect_certificate_and_duplicates():
    tmp = tempfile.mkdtemp(prefix="tern-stsf-")
    atexit.register(shutil.rmtree, tmp, True)
    ca = test_ca(tmp)
    # No mta-sts.wrongcert.test in the policy host's certificate.
    web = ca_signed(tmp, ca, "mta-sts.lf.test", ("mta-sts.redir.test", "mta-sts.two.test",
                                                "mta-sts.html.test", "reports.test"))
    nowhere = _policy("enforce", "nowhere.test")
    policies = {
        "mta-sts.lf.test": "version: STSv1\nmode: enforce\nmx: *.lf.test\nmax_age: 86400\n",
        "mta-sts.wrongcert.test": nowhere,
        "mta-sts.two.test": nowhere,
        "mta-sts.html.test": (200, {"Content-Type": "text/html"}, nowhere),
    }
    env = {"TERN_TLS_CA_FILE": ca[0], "TERN_DMARC_REPORT_FROM": FROM}
    with policy_world(3, _records, policies, web, env) as (w, ips, sink):
        port = w.srv.env["TERN_MTA_STS_PORT"]
        # Followed, the redirect would give lf.test's policy, which does
        # not name mx.redir.test.
        policies["mta-sts.redir.test"] = (
            302, {"Location": "https://mta-sts.lf.test:%s/.well-known/mta-sts.txt" % port,
                  "Content-Length": "0"}, "")
        ra = w.receiver(0, tls=True, cert=ca_signed(tmp, ca, "mx.lf.test"))
        rb = w.receiver(1, tls=True)  # self-signed
        w.send(["a@lf.test"], subject="lf")
        ra.wait_messages(1)
        w.send(["b@redir.test", "c@wrongcert.test", "d@two.test", "e@html.test"])
        rb.wait_messages(4)
        log = w.srv.log_text()
        assert _rcpts(ra) == ["a@lf.test"], log
        assert _rcpts(rb) == ["b@redir.test", "c@wrongcert.test", "d@two.test",
                              "e@html.test"], log
        assert re.search(r"event=mta_sts_failure mode=enforce id=\d+ domain=lf\.test "
                         r"host=a\.b\.lf\.test", log), log
        assert "event=mta_sts_fetch_failed domain=redir.test status=302" in log, log
        assert "event=mta_sts_fetch_failed domain=wrongcert.test status=0" in log, log
        assert "event=mta_sts_fetch_failed domain=html.test status=200" in log, log
        assert "domain=two.test" not in log, log
        w.wait_queue_empty()
        flushed_counts(w)

        r = w.srv.cli("tlsrpt", "report", "--send", "--today")
        assert b"posted: 5" in r.stdout, r.stdout + r.stderr + log.encode()
        got = _posted(sink)
        assert sorted(got) == ["html.test", "lf.test", "redir.test", "two.test",
                               "wrongcert.test"], got
        assert got["two.test"]["policy"]["policy-type"] == "no-policy-found", got
        p = got["lf.test"]
        assert p["policy"]["policy-type"] == "sts", p
        assert p["policy"]["mx-host"] == ["*.lf.test"], p
        assert p["summary"] == {"total-successful-session-count": 1,
                                "total-failure-session-count": 1}, p
        [f] = p["failure-details"]
        assert (f["result-type"], f["receiving-mx-hostname"]) == (
            "validation-failure", "a.b.lf.test"), f
        for dom, result in (("redir.test", "sts-policy-fetch-error"),
                            ("wrongcert.test", "sts-webpki-invalid"),
                            ("html.test", "sts-policy-invalid")):
            p = got[dom]
            assert p["policy"]["policy-type"] == "sts", p
            [f] = p["failure-details"]
            assert (f["result-type"], f["receiving-mx-hostname"]) == (result, "mx." + dom), p


def test_cached_none_policy_stands_for_a_failed_refetch():
    """A domain's cached `mode: none` policy (it opted out) stays in force
    when a new id's fetch fails (§5.1), as a cached enforce or testing one
    does: the failure is counted once, the sessions as themselves, not
    each as an sts-policy-fetch-error."""
    tmp = tempfile.mkdtemp(prefix="tern-stsn-")
    atexit.register(shutil.rmtree, tmp, True)
    ca = test_ca(tmp)
    web = ca_signed(tmp, ca, "mta-sts.optout.test", ("reports.test",))
    ids = {"optout.test": "1"}
    seen = {}

    def records(ips, post_port):
        seen["args"] = (ips, post_port)
        return {
            "reports.test": {"A": [ips[2]]},
            "optout.test": {"MX": [[10, "mx.optout.test"]]},
            "mx.optout.test": {"A": [ips[1]]},
            "mta-sts.optout.test": {"A": [ips[2]]},
            "_mta-sts.optout.test": {"TXT": ["v=STSv1; id=%s;" % ids["optout.test"]]},
            "_smtp._tls.optout.test": {
                "TXT": ["v=TLSRPTv1; rua=https://reports.test:%d/r" % post_port]},
        }

    policies = {"mta-sts.optout.test": "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n"}
    env = {"TERN_TLS_CA_FILE": ca[0], "TERN_DMARC_REPORT_FROM": FROM}
    with policy_world(3, records, policies, web, env) as (w, ips, sink):
        rb = w.receiver(1, tls=True)
        w.send(["a@optout.test"], subject="first")
        rb.wait_messages(1)
        assert "event=mta_sts_fetched domain=optout.test id=1 mode=none" in w.srv.log_text()
        # A new id whose policy cannot be had; a restart forgets the
        # cached TXT answer, not the stored policy.
        ids["optout.test"] = "2"
        policies["mta-sts.optout.test"] = None
        w.dns.zone(records(*seen["args"]))
        w.srv.stop()
        w.srv.start()
        w.send(["b@optout.test"], subject="second")
        rb.wait_messages(2)
        log = w.srv.log_text()
        assert "event=mta_sts_fetch_failed domain=optout.test status=404" in log, log
        w.wait_queue_empty()
        listed = flushed_counts(w)
        assert re.search(r"^\d{4}-\d\d-\d\d optout\.test successful=2 failed=1$", listed,
                         re.M), listed + log


def test_policy_host_that_never_answers():
    tmp = tempfile.mkdtemp(prefix="tern-stst-")
    atexit.register(shutil.rmtree, tmp, True)
    ca = test_ca(tmp)
    web = ca_signed(tmp, ca, "mta-sts.slow.test", ("reports.test",))

    def records(ips, post_port):
        return {
            "reports.test": {"A": [ips[2]]},
            "slow.test": {"MX": [[10, "mx.slow.test"]]},
            "mx.slow.test": {"A": [ips[1]]},
            "mta-sts.slow.test": {"A": [ips[2]]},
            "_mta-sts.slow.test": {"TXT": ["v=STSv1; id=1;"]},
            "_smtp._tls.slow.test": {
                "TXT": ["v=TLSRPTv1; rua=https://reports.test:%d/r" % post_port]},
        }

    policies = {"mta-sts.slow.test": PolicyServer.HANG}
    env = {"TERN_TLS_CA_FILE": ca[0], "TERN_DMARC_REPORT_FROM": FROM,
           "TERN_TEST_STS_FETCH_TIMEOUT_MS": "1500"}
    with policy_world(3, records, policies, web, env) as (w, ips, sink):
        rb = w.receiver(1, tls=True)
        w.send(["a@slow.test"], subject="slow")
        # The release build waits its 30 s.
        rb.wait_messages(1, timeout=120)
        log = w.srv.log_text()
        assert _rcpts(rb) == ["a@slow.test"], log
        assert re.search(r"event=mta_sts_fetch_failed domain=slow\.test status=0 "
                         r"why=\"no answer from mta-sts\.slow\.test in time\"", log), log
        w.wait_queue_empty()
        flushed_counts(w)
        r = w.srv.cli("tlsrpt", "report", "--send", "--today")
        assert b"posted: 1" in r.stdout, r.stdout + r.stderr + log.encode()
        p = _posted(sink)["slow.test"]
        assert p["policy"]["policy-type"] == "sts", p
        [f] = p["failure-details"]
        assert (f["result-type"], f["receiving-mx-hostname"]) == (
            "sts-policy-fetch-error", "mx.slow.test"), p
