"""MTA-STS outbound (RFC 8461, issue 30): the queue looks up a recipient
domain's `_mta-sts` TXT record, fetches its policy over verified HTTPS
from a loopback policy server (its CA in TERN_TLS_CA_FILE), keeps it in
the store (a restart keeps it; a new id fetches again), and then:
`enforce` sends only to MX hosts the policy names, over TLS verified for
that name, else defers and bounces when the message expires; `testing`
only reports (log lines) and delivers as without a policy."""
import atexit
import re
import http.server
import shutil
import ssl
import tempfile
import threading
import time

from harness import LoopbackHTTPServer
from mailpeers import Receiver, ca_signed, free_port_on, test_ca, weaken_tls
from test_queue import ALICE, World, dsn_of, status_fields


class PolicyServer:
    """HTTPS on ip:port answering /.well-known/mta-sts.txt by Host; counts
    fetches. A policy is its text, (status, headers, body), or HANG: the
    request is read and never answered (until stop)."""

    HANG = object()

    def __init__(self, ip, port, cert, policies, tls_weak=None):
        self.policies, self.fetches = policies, {}
        self.stopping = threading.Event()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                host = self.headers.get("Host", "").split(":")[0].lower()
                outer.fetches[host] = outer.fetches.get(host, 0) + 1
                body = outer.policies.get(host)
                if body is PolicyServer.HANG:
                    outer.stopping.wait()
                    return
                if self.path != "/.well-known/mta-sts.txt" or body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                # (status, {header: value}, body): an answer of another kind.
                status, headers = 200, {"Content-Type": "text/plain; charset=utf-8"}
                if isinstance(body, tuple):
                    status, headers, body = body
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body.encode())
                except OSError:
                    pass  # the client stopped reading a too large policy

            def log_message(self, *a):
                pass

        self.httpd = LoopbackHTTPServer((ip, port), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*cert)
        if tls_weak:
            weaken_tls(ctx, tls_weak)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _policy(mode, *mx):
    return "version: STSv1\r\nmode: %s\r\n%smax_age: 86400\r\n" % (
        mode, "".join("mx: %s\r\n" % m for m in mx))


def _records(ips, ids):
    z = {}
    for dom, mxs in (("good.test", [(10, "mxb.good.test", 1), (20, "mxa.good.test", 0)]),
                     ("bad.test", [(10, "mxb.bad.test", 1)]),
                     ("soft.test", [(10, "mxb.soft.test", 1)]),
                     ("huge.test", [(10, "mxb.huge.test", 1)])):
        if dom not in ids:
            continue
        z[dom] = {"MX": [[p, h] for p, h, _ in mxs]}
        for _, h, i in mxs:
            z[h] = {"A": [ips[i]]}
        z["mta-sts." + dom] = {"A": [ips[2]]}
        z["_mta-sts." + dom] = {"TXT": ["v=STSv1; id=%s;" % ids[dom]]}
    return z


def _rcpts_for(r, domain):
    return [a for m in r.messages for a in m["rcpts"] if a.endswith("@" + domain)]


def test_enforce_testing_cache_and_expiry():
    tmp = tempfile.mkdtemp(prefix="tern-sts-")
    atexit.register(shutil.rmtree, tmp, True)
    ca = test_ca(tmp)
    # Receiver A (ips[0]) has a certificate from the trusted CA for its
    # name; receiver B (ips[1]) a self-signed one.
    a_cert = ca_signed(tmp, ca, "mxa.good.test")
    sts_cert = ca_signed(tmp, ca, "mta-sts.good.test",
                         ("mta-sts.bad.test", "mta-sts.soft.test", "mta-sts.huge.test"))
    ids = {"good.test": "1", "bad.test": "1", "soft.test": "1", "huge.test": "1"}
    seen = {}

    def records(ips):  # World picks the addresses
        seen["ips"] = ips
        return _records(ips, ids)

    env = {"TERN_TLS_CA_FILE": ca[0], "TERN_QUEUE_LIFETIME": "6"}
    with World(records, env=env, start=False) as w:
        ips = seen["ips"]
        sts_port = free_port_on([ips[2]])
        w.srv.env["TERN_MTA_STS_PORT"] = str(sts_port)
        policies = {
            "mta-sts.good.test": _policy("enforce", "mxa.good.test"),
            "mta-sts.bad.test": _policy("enforce", "mxb.bad.test"),
            "mta-sts.soft.test": _policy("testing", "*.elsewhere.test"),
            # Over the 64 KiB of RFC 8461 §3.3: the fetch stops reading
            # past the limit (it read up to 1 MiB before refusing).
            "mta-sts.huge.test": _policy("enforce", "mxa.huge.test") + "#" * 300000,
        }
        ps = PolicyServer(ips[2], sts_port, sts_cert, policies)
        try:
            w.srv.start()
            ra = w.receiver(0, tls=True, cert=a_cert)
            rb = w.receiver(1, tls=True)
            w.send(["carol@good.test", "dave@bad.test", "erin@soft.test", "gus@huge.test"])
            ra.wait_messages(1)
            rb.wait_messages(1)
            out = w.wait_list("TLS not verified")
            log = w.srv.log_text()
            # enforce: only the policy's MX, over verified TLS, though mxb
            # has the better preference.
            assert _rcpts_for(ra, "good.test") == ["carol@good.test"], log
            assert all(m["tls"] for m in ra.messages)
            assert _rcpts_for(rb, "good.test") == [], log
            # enforce, and the one MX's certificate is not trusted: nothing
            # sent, the recipient stays queued.
            assert _rcpts_for(rb, "bad.test") == [], log
            assert "dave@bad.test" in out and "4.7.5" in out, out
            # testing: both failures reported, delivered anyway.
            assert _rcpts_for(rb, "soft.test") == ["erin@soft.test"], log
            assert re.search(r"event=mta_sts_failure mode=testing id=\d+ domain=soft\.test "
                             r"host=mxb\.soft\.test why=\"MX host not in the policy\"", log), log
            assert re.search(r"event=mta_sts_failure mode=testing id=\d+ domain=soft\.test "
                             r"host=mxb\.soft\.test why=\"4\.7\.5 .*TLS not verified", log), log
            assert w.srv.wait_log('event=mta_sts_fetch_failed domain=huge.test status=0 '
                                  'why="response larger than 73728 bytes"'), log
            assert ps.fetches == {"mta-sts.good.test": 1, "mta-sts.bad.test": 1,
                                  "mta-sts.soft.test": 1, "mta-sts.huge.test": 1}, ps.fetches

            # The same id: the cached policy, no new fetch.
            w.send(["carol2@good.test"], subject="second")
            ra.wait_messages(2)
            assert _rcpts_for(ra, "good.test") == ["carol@good.test", "carol2@good.test"]
            assert ps.fetches["mta-sts.good.test"] == 1, ps.fetches

            # dave@bad.test expires: the notice carries the last error.
            m, raw = dsn_of(w)
            st = status_fields(m)[1:]  # after the per-message block
            assert [f["final-recipient"].lower() for f in st] == ["rfc822; dave@bad.test"], st
            assert st[0]["action"] == "failed" and st[0]["status"] == "5.4.7", st
            assert b"TLS not verified" in raw, raw

            # A restart empties the DNS cache, not the store's policy cache:
            # with the policy server answering 404 now, the cached policy
            # (same id, not expired) still sends good.test to mxa only.
            policies["mta-sts.good.test"] = None
            w.srv.stop()
            w.srv.start()
            w.send(["carol3@good.test"], subject="third")
            ra.wait_messages(3)
            log = w.srv.log_text()
            assert _rcpts_for(ra, "good.test")[-1] == "carol3@good.test", log
            assert _rcpts_for(rb, "good.test") == [], log
            assert ps.fetches["mta-sts.good.test"] == 1, ps.fetches

            # A new id: fetched again. The new policy names mxb, whose
            # certificate is self-signed: deferred, nothing sent.
            ids["good.test"] = "2"
            policies["mta-sts.good.test"] = _policy("enforce", "mxb.good.test")
            w.dns.zone(_records(ips, ids))
            w.srv.stop()
            w.srv.start()
            w.send(["carol4@good.test"], subject="fourth")
            out = w.wait_list("carol4@good.test")
            out = w.wait_list("TLS not verified")
            assert "carol4@good.test" in out, out
            assert ps.fetches["mta-sts.good.test"] == 2, ps.fetches
            assert _rcpts_for(rb, "good.test") == [], w.srv.log_text()
        finally:
            ps.stop()


def _wait(cond, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return False


def test_policy_refreshed_before_expiry_and_expired_deleted():
    """RFC 8461 §5.1: a cached policy is fetched again before it expires
    (here max_age 4: at half of it), under the same id; when the policy
    host stops answering, the cached one stays until its expiry and is
    then deleted from the store."""
    tmp = tempfile.mkdtemp(prefix="tern-sts-")
    atexit.register(shutil.rmtree, tmp, True)
    ca = test_ca(tmp)
    a_cert = ca_signed(tmp, ca, "mxa.good.test")
    sts_cert = ca_signed(tmp, ca, "mta-sts.good.test")
    seen = {}

    def records(ips):
        seen["ips"] = ips
        return _records(ips, {"good.test": "1", "bad.test": "1", "soft.test": "1"})

    with World(records, env={"TERN_TLS_CA_FILE": ca[0]}, start=False) as w:
        ips = seen["ips"]
        sts_port = free_port_on([ips[2]])
        w.srv.env["TERN_MTA_STS_PORT"] = str(sts_port)
        policies = {"mta-sts.good.test": _policy("enforce", "mxa.good.test").replace(
            "max_age: 86400", "max_age: 4")}
        ps = PolicyServer(ips[2], sts_port, sts_cert, policies)
        try:
            w.srv.start()
            ra = w.receiver(0, tls=True, cert=a_cert)
            w.send(["carol@good.test"])
            ra.wait_messages(1)
            assert ps.fetches == {"mta-sts.good.test": 1}, ps.fetches
            # Refreshed with no mail going there, the same id.
            assert _wait(lambda: ps.fetches["mta-sts.good.test"] >= 2), w.srv.log_text()[-3000:]
            assert "event=mta_sts_refresh domain=good.test" in w.srv.log_text()
            assert "event=mta_sts_expired" not in w.srv.log_text()
            # The host stops answering: refreshes fail, the policy expires
            # and is deleted.
            policies["mta-sts.good.test"] = None
            assert w.srv.wait_log("event=mta_sts_expired domain=good.test", timeout=20), \
                w.srv.log_text()[-3000:]
            log = w.srv.log_text()
            assert "event=mta_sts_fetch_failed domain=good.test status=404" in log, log[-3000:]
            # No cache any more: the next message fetches (404 again: no policy).
            n = ps.fetches["mta-sts.good.test"]
            w.send(["carol2@good.test"], subject="after expiry")
            ra.wait_messages(2)
            assert ps.fetches["mta-sts.good.test"] > n, ps.fetches
        finally:
            ps.stop()


def test_weak_tls_is_refused_by_enforce_and_by_the_policy_fetch():
    """MTA-STS's TLS is held to the strict client profile
    (net/tls_client.h; RFC 8461 §4.2, RFC 9325): an enforced MX with a
    trusted certificate but only a CBC suite, or only a SHA-1-signed key
    exchange, got the mail (BearSSL's full client set-up); now nothing is
    sent and the status says why. And the policy fetch (HTTPS) from a
    policy host with only a CBC suite fails, where it fetched before."""
    tmp = tempfile.mkdtemp(prefix="tern-stsw-")
    atexit.register(shutil.rmtree, tmp, True)
    ca = test_ca(tmp)
    certs = [ca_signed(tmp, ca, "mxb.%s.test" % d) for d in ("good", "bad", "soft")]
    sts_cert = ca_signed(tmp, ca, "mta-sts.good.test", ("mta-sts.bad.test", "mta-sts.soft.test"))
    for weak_pol in (None, "cbc"):
        ids = {"good.test": "1", "bad.test": "1", "soft.test": "1"}
        env = {"TERN_TLS_CA_FILE": ca[0], "TERN_QUEUE_RETRY_SCHEDULE": "1h"}
        with World(lambda ips: _records(ips, ids), env=env, start=False) as w:
            ips = w.ips
            sts_port = free_port_on([ips[2]])
            w.srv.env["TERN_MTA_STS_PORT"] = str(sts_port)
            policies = {"mta-sts.good.test": _policy("enforce", "mxb.good.test"),
                        "mta-sts.bad.test": _policy("enforce", "mxb.bad.test"),
                        "mta-sts.soft.test": _policy("testing", "mxb.soft.test")}
            ps = PolicyServer(ips[2], sts_port, sts_cert, policies, tls_weak=weak_pol)
            try:
                w.srv.start()
                if weak_pol is None:
                    # Both MXs on ips[1] in turn: CBC only, then SHA-1 only.
                    for weak, dom, crt in (("cbc", "good", certs[0]),
                                           ("sha1", "bad", certs[1])):
                        r = w.receiver(1, tls=True, cert=crt, tls_weak=weak)
                        w.send(["carol@%s.test" % dom], subject=weak)
                        out = w.wait_list("mxb.%s.test" % dom)
                        line = [x for x in out.splitlines() if "mxb.%s.test" % dom in x]
                        assert "4.4.1" in out and "TLS handshake failed" in line[0], out
                        assert "no cipher suite or signature hash in common" in line[0], out
                        assert r.messages == [], (weak, r.commands)
                        assert "STARTTLS" in [c.upper() for c in r.commands], r.commands
                        assert not any(c.upper().startswith("MAIL") for c in r.commands), \
                            r.commands
                        r.stop()
                        w.receivers.remove(r)
                    # testing: the wide profile, so TLS still (a strict
                    # attempt's failure would have sent it in plaintext).
                    r = w.receiver(1, tls=True, cert=certs[2], tls_weak="cbc")
                    w.send(["erin@soft.test"], subject="soft")
                    m = r.wait_messages(1)
                    assert len(m) == 1 and m[0]["tls"] and r.connections == 1, r.commands
                    assert ps.fetches == {"mta-sts.good.test": 1, "mta-sts.bad.test": 1,
                                          "mta-sts.soft.test": 1}, ps.fetches
                else:
                    r = w.receiver(1, tls=True, cert=certs[0])
                    w.send(["carol@good.test"])
                    assert w.srv.wait_log('event=mta_sts_fetch_failed domain=good.test '
                                          'status=0 why="TLS handshake with mta-sts.good.test '
                                          'failed: server refused the handshake'), \
                        w.srv.log_text()
                    assert ps.fetches == {}, ps.fetches
                    # No policy: the mail goes as without one.
                    assert len(r.wait_messages(1)) == 1
            finally:
                ps.stop()
