"""TLS-RPT counting (RFC 8460, issue 30's remaining gaps), through a
loopback DNS server, scripted peers and the reports tern POSTs to a
loopback HTTPS sink:

- each message on a kept (reused) outbound connection counts as one
  session: three messages to reuse.test over one connection are three
  successful sessions;
- an MX host a `testing` MTA-STS policy does not name is counted once
  (one validation-failure, not that and a success);
- a published policy that cannot be fetched is reported as
  sts-policy-fetch-error with the receiving-mx-hostname of the session
  it stood for;
- a REQUIRETLS message skipping a host that only DANE could have
  authenticated is reported as dane-required;
- sessions with the relay host are counted, under its name."""
import atexit
import gzip
import json
import re
import shutil
import tempfile

from mailpeers import ca_signed, test_ca
from test_mta_sts_out import _policy
from test_queue import World
from test_tlsrpt import flushed_counts, policy_world

FROM = "tls-reports@example.test"


def _records(ips, https_port):
    rua = {"TXT": ["v=TLSRPTv1; rua=https://reports.test:%d/r" % https_port]}
    return {
        "reuse.test": {"MX": [[10, "mxr.reuse.test"]]},
        "mxr.reuse.test": {"A": [ips[0]]},
        "_smtp._tls.reuse.test": rua,
        "testing.test": {"MX": [[10, "mxo.testing.test"]]},
        "mxo.testing.test": {"A": [ips[1]]},
        "mta-sts.testing.test": {"A": [ips[2]]},
        "_mta-sts.testing.test": {"TXT": ["v=STSv1; id=1;"]},
        "_smtp._tls.testing.test": rua,
        "fetchfail.test": {"MX": [[10, "mxf.fetchfail.test"]]},
        "mxf.fetchfail.test": {"A": [ips[1]]},
        "mta-sts.fetchfail.test": {"A": [ips[2]]},
        "_mta-sts.fetchfail.test": {"TXT": ["v=STSv1; id=7;"]},
        "_smtp._tls.fetchfail.test": rua,
        "drtls.test": {"MX": [[10, "mxd.drtls.test"]]},
        "mxd.drtls.test": {"A": [ips[1]]},
        "_smtp._tls.drtls.test": rua,
        "reports.test": {"A": [ips[2]]},
    }


def _posted(sink):
    out = {}
    for _, _, body in sink.posts:
        rep = json.loads(gzip.decompress(body))
        for p in rep["policies"]:
            out.setdefault(p["policy"]["policy-domain"], []).append(p)
    return out


def test_reused_testing_fetch_failure_and_dane_required():
    tmp = tempfile.mkdtemp(prefix="tern-tlsrptc-")
    atexit.register(shutil.rmtree, tmp, True)
    ca = test_ca(tmp)
    web_cert = ca_signed(tmp, ca, "mta-sts.testing.test", ("mta-sts.fetchfail.test", "reports.test"))
    env = {"TERN_TLS_CA_FILE": ca[0], "TERN_DMARC_REPORT_FROM": FROM}
    # fetchfail.test's policy host answers 404.
    with policy_world(3, _records, {"mta-sts.testing.test": _policy("testing", "mxa.testing.test")},
                      web_cert, env) as (w, ips, sink):
        rr = w.receiver(0, tls=True, cert=ca_signed(tmp, ca, "mxr.reuse.test"))
        ro = w.receiver(1, tls=True, cert=ca_signed(tmp, ca, "mxo.testing.test"))
        for i in range(3):
            w.send(["r%d@reuse.test" % i], subject="reuse %d" % i)
            rr.wait_messages(i + 1)
        assert rr.connections == 1, rr.connections  # the session was kept and reused
        w.send(["t@testing.test", "f@fetchfail.test"], subject="policies")
        ro.wait_messages(2)
        w.send(["d@drtls.test"], subject="rtls", mail_options=["REQUIRETLS"])
        assert w.srv.wait_log("no MTA-STS policy or DANE TLSA records", timeout=20), \
            w.srv.log_text()[-3000:]
        w.wait_queue_empty()
        listed = flushed_counts(w)
        day = r"^\d{4}-\d\d-\d\d "
        assert re.search(day + r"reuse\.test successful=3 failed=0$", listed, re.M), listed
        assert re.search(day + r"testing\.test successful=0 failed=1$", listed, re.M), listed
        assert re.search(day + r"fetchfail\.test successful=0 failed=1$", listed, re.M), listed
        assert re.search(day + r"drtls\.test successful=0 failed=1$", listed, re.M), listed

        r = w.srv.cli("tlsrpt", "report", "--send", "--today")
        assert b"posted: 4" in r.stdout, r.stdout + r.stderr
        got = _posted(sink)
        assert sorted(got) == ["drtls.test", "fetchfail.test", "reuse.test", "testing.test"], got
        [p] = got["reuse.test"]
        assert p["policy"]["policy-type"] == "no-policy-found", p
        assert p["summary"] == {"total-successful-session-count": 3,
                                "total-failure-session-count": 0}, p
        [p] = got["testing.test"]
        assert p["policy"]["policy-type"] == "sts", p
        assert p["summary"] == {"total-successful-session-count": 0,
                                "total-failure-session-count": 1}, p
        [f] = p["failure-details"]
        assert (f["result-type"], f["receiving-mx-hostname"], f["receiving-ip"],
                f["failed-session-count"]) == ("validation-failure", "mxo.testing.test",
                                               ips[1], 1), f
        [p] = got["fetchfail.test"]
        assert p["policy"]["policy-type"] == "sts", p
        assert p["summary"] == {"total-successful-session-count": 0,
                                "total-failure-session-count": 1}, p
        [f] = p["failure-details"]
        assert (f["result-type"], f["receiving-mx-hostname"], f["receiving-ip"],
                f["failed-session-count"]) == ("sts-policy-fetch-error", "mxf.fetchfail.test",
                                               ips[1], 1), f
        assert "200" in f["failure-reason-code"] and "additional-information" not in f, f
        [p] = got["drtls.test"]
        [f] = p["failure-details"]
        assert (f["result-type"], f["receiving-mx-hostname"]) == (
            "dane-required", "mxd.drtls.test"), f


def test_relay_sessions_counted():
    tmp = tempfile.mkdtemp(prefix="tern-tlsrptr-")
    atexit.register(shutil.rmtree, tmp, True)
    ca = test_ca(tmp)
    seen = {}

    def records(ips):
        seen["ips"] = ips
        return {"relay.test": {"A": [ips[0]]}}

    with World(records, nips=1, env={"TERN_TLS_CA_FILE": ca[0]}, start=False) as w:
        w.srv.env["TERN_RELAY_HOST"] = "relay.test:%d" % w.port
        w.srv.start()
        r = w.receiver(0, tls=True, cert=ca_signed(tmp, ca, "relay.test"))
        w.send(["a@far.test"], subject="one")
        r.wait_messages(1)
        w.send(["b@far.test"], subject="two")
        r.wait_messages(2)
        # The receiver has the message before tern has read its 250 and
        # counted the session (on a kept connection, its replayed row):
        # the count is done once the delivery is logged.
        assert w.srv.wait_log("rcpt=b@far.test relay="), w.srv.log_text()[-2000:]
        listed = flushed_counts(w)
        assert re.search(r"^\d{4}-\d\d-\d\d relay\.test successful=2 failed=0$", listed, re.M), \
            (listed, r.connections)
