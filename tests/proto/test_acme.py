"""ACME against Debian's pebble on loopback (issue 30).

pebble is a real ACME CA (RFC 8555) for tests; pebble-challtestsrv is its
DNS, answering 127.0.0.1 for every name, so pebble's validation connects
to tern's own loopback HTTP (HTTP-01) or HTTPS (TLS-ALPN-01) port: the
pebble config's httpPort/tlsPort are pointed at them. pebble runs in
strict mode and rejects a share of nonces at random (PEBBLE_WFE_NONCEREJECT),
so tern's badNonce retry is exercised too. The ACME API's own TLS
certificate comes from a CA made here with openssl; tern trusts it through
TERN_TLS_CA_FILE (the private-CA variable). pebble's issuing CA is its
own: the served certificate's issuer must name pebble.

Checks: a certificate by TLS-ALPN-01 and one by HTTP-01, each served on
IMAPS and SMTPS (openssl s_client: issuer, subject name) and kept across a
restart (loaded from the store, no new order); with a 60-second validity,
the renewal swaps the certificate while an IMAPS connection opened before
stays usable, and a new connection sees the new certificate."""
import calendar
import imaplib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

from harness import LoopbackHTTPServer, Server, free_port
from httpc import Api

ADMIN_PW = "admin-password-1-Vq8r"


def settings(s):
    a = Api(s)
    st, _, body = a.login(ADMIN_PW)
    assert st == 200, body
    st, _, body = a.call("GET", "/settings")
    assert st == 200, body
    return body

HOST = "mail.acme.test"


def need(cmd):
    if shutil.which(cmd) is None:
        raise AssertionError("%s is not installed (scripts/install-test-deps installs pebble)" % cmd)


class Pebble:
    """pebble + pebble-challtestsrv on loopback, validating against tern's ports."""

    def __init__(self, http_port, tls_port, validity=None, dns_server=None, eab=None,
                 alternate_roots=0, nonce_reject=15):
        need("pebble")
        need("pebble-challtestsrv")
        self.tls_port = tls_port
        self.tmp = tempfile.mkdtemp(prefix="tern-pebble-")
        self.port = free_port()
        self.mgmt = free_port()
        self.dns_port = free_port(udp=True)
        self.dns_mgmt = free_port()
        self.ca = os.path.join(self.tmp, "ca.pem")
        ca_key = os.path.join(self.tmp, "ca.key")
        crt = os.path.join(self.tmp, "api.pem")
        key = os.path.join(self.tmp, "api.key")
        run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, cwd=self.tmp)
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", ca_key, "-out", self.ca, "-days", "2",
            "-subj", "/CN=tern test ACME API CA", "-addext", "basicConstraints=critical,CA:TRUE")
        with open(os.path.join(self.tmp, "ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", "api.csr", "-subj", "/CN=localhost")
        run("openssl", "x509", "-req", "-in", "api.csr", "-CA", self.ca, "-CAkey", ca_key,
            "-CAcreateserial", "-days", "2", "-extfile", "ext", "-out", crt)
        conf = {"pebble": {
            "listenAddress": "127.0.0.1:%d" % self.port,
            "managementListenAddress": "127.0.0.1:%d" % self.mgmt,
            "certificate": crt, "privateKey": key,
            "httpPort": http_port, "tlsPort": tls_port,
            "ocspResponderURL": "", "externalAccountBindingRequired": False,
        }}
        if validity:
            conf["pebble"]["certificateValidityPeriod"] = validity
        if eab:  # {kid: base64url HMAC key}: accounts need External Account Binding
            conf["pebble"]["externalAccountBindingRequired"] = True
            conf["pebble"]["externalAccountMACKeys"] = eab
        with open(os.path.join(self.tmp, "pebble.json"), "w") as f:
            json.dump(conf, f)
        self.log = open(os.path.join(self.tmp, "pebble.log"), "w")
        self.dns = subprocess.Popen(
            ["pebble-challtestsrv", "-dns01", "127.0.0.1:%d" % self.dns_port, "-http01", "",
             "-https01", "", "-tlsalpn01", "", "-management", "127.0.0.1:%d" % self.dns_mgmt,
             "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
            stdout=self.log, stderr=subprocess.STDOUT)
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT=str(nonce_reject),
                   PEBBLE_ALTERNATE_ROOTS=str(alternate_roots))
        self.proc = subprocess.Popen(
            ["pebble", "-strict", "-config", os.path.join(self.tmp, "pebble.json"),
             "-dnsserver", dns_server or "127.0.0.1:%d" % self.dns_port],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("pebble did not start: %s" % self.log_text())

    def add_a(self, host, addr):
        """Makes pebble-challtestsrv answer host with addr (or a list of
        addresses) instead of 127.0.0.1."""
        import urllib.request
        addrs = addr if isinstance(addr, list) else [addr]
        req = urllib.request.Request(
            "http://127.0.0.1:%d/add-a" % self.dns_mgmt,
            data=json.dumps({"host": host + ".", "addresses": addrs}).encode(), method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def clear_a(self, host):
        """Drops what add_a gave host (add_a adds to it): 127.0.0.1 again."""
        import urllib.request
        req = urllib.request.Request(
            "http://127.0.0.1:%d/clear-a" % self.dns_mgmt,
            data=json.dumps({"host": host + "."}).encode(), method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def root_cn(self, i):
        """The CN of pebble's root i (0: the default chain's; 1...: the
        alternates' roots, each offered as Link rel="alternate")."""
        import urllib.request
        ctx = ssl.create_default_context(cafile=self.ca)
        pem = urllib.request.urlopen("https://127.0.0.1:%d/roots/%d" % (self.mgmt, i),
                                     timeout=10, context=ctx).read()
        out = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "multiline"],
                             input=pem, stdout=subprocess.PIPE, check=True).stdout.decode()
        return re.search(r"commonName\s*=\s*(.*)", out).group(1).strip()

    @property
    def directory(self):
        return "https://127.0.0.1:%d/dir" % self.port

    def log_text(self):
        self.log.flush()
        with open(os.path.join(self.tmp, "pebble.log")) as f:
            return f.read()

    def close(self):
        for p in (self.proc, self.dns):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def served_cert(port, name=HOST):
    """(issuer, subject, SAN text, PEM) of the certificate served on port for SNI name."""
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                        "-servername", name, "-showcerts"],
                       input=b"", stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    pem = re.search(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", r.stdout, re.S)
    assert pem, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    t = subprocess.run(["openssl", "x509", "-noout", "-issuer", "-subject", "-ext",
                        "subjectAltName", "-serial"],
                       input=pem.group(0), stdout=subprocess.PIPE, check=True).stdout.decode()
    issuer = re.search(r"issuer=(.*)", t).group(1)
    subject = re.search(r"subject=(.*)", t).group(1)
    serial = re.search(r"serial=(.*)", t).group(1)
    return issuer, subject, t, serial


def acme_server(pebble, challenge, extra=None):
    env = {"TERN_HOSTNAME": HOST, "TERN_ACME_EMAIL": "admin@acme.test",
           "TERN_ADMIN_PASSWORD": ADMIN_PW,
           "TERN_ACME_DIRECTORY": pebble.directory, "TERN_ACME_CHALLENGE": challenge,
           "TERN_TLS_CA_FILE": pebble.ca,
           # pebble's own DNS: every name is 127.0.0.1 unless add_a says otherwise.
           "TERN_DNS_SERVERS": "127.0.0.1:%d" % pebble.dns_port,
           # Where pebble validates TLS-ALPN-01 (tern's HTTPS port) is
           # this test's port 443: where senders fetch MTA-STS policies,
           # so mta-sts. names are served and ordered (admin_web_names).
           "TERN_MTA_STS_PORT": str(pebble.tls_port)}
    env.update(extra or {})
    return env


def metric(s, name):
    import urllib.request
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % s.http_port, timeout=10).read()
    m = re.search(rb"^" + name.encode() + rb" (\S+)$", text, re.M)
    assert m, text.decode()[-2000:]
    return float(m.group(1))


def served_top_issuer(port, name=HOST):
    """The issuer CN of the last certificate of the chain served on port:
    the root that chain leads to."""
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                        "-servername", name, "-showcerts"],
                       input=b"", stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    pems = re.findall(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", r.stdout, re.S)
    assert len(pems) >= 2, r.stdout.decode(errors="replace")
    out = subprocess.run(["openssl", "x509", "-noout", "-issuer", "-nameopt", "multiline"],
                         input=pems[-1], stdout=subprocess.PIPE, check=True).stdout.decode()
    return re.search(r"commonName\s*=\s*(.*)", out).group(1).strip()


def check_served(s, want_san=HOST):
    for port in (s.imaps_port, s.submissions_port):
        issuer, subject, text, serial = served_cert(port)
        assert "Pebble" in issuer, (port, issuer)
        assert "DNS:" + want_san in text, text
    return serial


def wait_cert(s, pebble, needle="event=certificate_installed", timeout=60):
    if not s.wait_log(needle, timeout=timeout):
        raise AssertionError("no %s: tern log:\n%s\npebble log:\n%s" %
                             (needle, s.log_text()[-5000:], pebble.log_text()[-3000:]))


def run_challenge(challenge):
    s = Server(imap=True, submission=True, http=True, start=False)
    pebble = Pebble(s.http_port, s.https_port)
    try:
        s.env.update(acme_server(pebble, challenge))
        # example.test is served: its mta-sts. and autoconfig. names point
        # here and join the certificate; autodiscover. points elsewhere and
        # is left out without failing the order.
        pebble.add_a("autodiscover.example.test", "127.0.0.2")
        s.start()
        wait_cert(s, pebble)
        serial = check_served(s)
        assert "event=name_skipped name=autodiscover.example.test reason=points_elsewhere" in \
            s.log_text()
        names = "%s,mta-sts.example.test,autoconfig.example.test" % HOST
        for sni in ("mta-sts.example.test", "autoconfig.example.test"):
            issuer, _, text, sn = served_cert(s.imaps_port, sni)
            assert sn == serial and "DNS:" + sni in text, text
        # The web admin's Settings page data: issuer, names, not self-signed, ACME idle.
        js = settings(s)
        assert "Pebble" in js["tls"]["issuer"], js["tls"]
        assert js["tls"]["names"] == names and js["tls"]["self_signed"] is False, js["tls"]
        assert js["acme"]["enabled"] and js["acme"]["state"] == "idle", js["acme"]
        assert js["acme"]["challenge"] == challenge and js["acme"]["last_error"] == ""
        assert js["acme"]["next_run"] > time.time() + 86400 * 30, js["acme"]
        assert metric(s, "tern_tls_certificate_expiry_timestamp_seconds") == js["tls"]["not_after"]
        assert metric(s, "tern_acme_failing") == 0
        # tern acme status reads the same certificate from the store.
        out = s.cli("acme", "status").stdout.decode()
        lines = out.splitlines()
        assert lines[0] == "valid", out
        assert "issuer: Pebble" in out and "names: " + names in out and "acme: on" in out, out
        # Unnamed or other SNI: the ACME certificate is the default too.
        assert "Pebble" in served_cert(s.imaps_port, "other.example")[0]
        # A restart loads it from the store: no new order.
        s.stop()
        s.start()
        wait_cert(s, pebble, "event=certificate_loaded", 20)
        assert check_served(s) == serial
        assert "event=attempt " not in s.log_text().split("event=certificate_loaded")[-1]
        # tern acme renew: a new certificate now, from the running server.
        assert s.cli("acme", "renew").returncode == 0
        deadline = time.time() + 40
        while "event=certificate_installed" not in s.log_text().split("event=certificate_loaded")[-1] \
                and time.time() < deadline:
            time.sleep(0.2)
        assert "event=renew_requested" in s.log_text()
        assert check_served(s) != serial
    finally:
        s.stop()
        s.cleanup()
        pebble.close()


def test_acme_tls_alpn_01():
    run_challenge("tls-alpn-01")


def test_acme_http_01():
    run_challenge("http-01")


def test_acme_order_goes_through_a_ca_rejecting_most_nonces():
    """pebble rejecting 60% of nonces at random (RFC 8555 §6.5: the client
    retries with the nonce of the badNonce answer): the first attempt
    gets the certificate for the three names, many badNonce retries on
    the way. At 5 sends a request, one in 13 requests failed and about
    two attempts in three with it."""
    s = Server(imap=True, submission=True, http=True, start=False)
    pebble = Pebble(s.http_port, s.https_port, nonce_reject=60)
    try:
        s.env.update(acme_server(pebble, "tls-alpn-01"))
        pebble.add_a("autodiscover.example.test", "127.0.0.2")
        s.start()
        wait_cert(s, pebble, timeout=90)
        log = s.log_text()
        assert "event=attempt_failed" not in log, log[-3000:]
        assert len(re.findall(r"event=bad_nonce ", log)) >= 5, log[-3000:]
        check_served(s)
    finally:
        s.stop()
        s.cleanup()
        pebble.close()


def test_acme_many_domains_every_name_looked_up():
    """Six served domains give 1 + 18 candidate names, more than one
    certificate held (16): only the first 15 were looked up, so the sixth
    domain's names were dropped without a word, even with room to spare
    after the look-ups, and its MTA-STS policy was served under a
    certificate without its name. Now every candidate is looked up (the
    mta-sts. names first into the certificate) and one holds up to 100
    names, as Let's Encrypt's do: here 17, two pointing elsewhere (logged
    points_elsewhere), where 16 left one out (logged too_many). The
    authorizations are answered and polled 12 at a time (TLS-ALPN-01's
    table holds 16: each answer goes once valid), not one by one with a
    second's wait each. A name with one address here and another
    elsewhere (an A here beside a web host's, or its AAAA, where Let's
    Encrypt looks first) is left out too (points_partly_elsewhere): its
    challenge could fail at the other server, and the whole order with
    it, at every renewal."""
    domains = tuple("d%d.test" % i for i in range(1, 7))
    s = Server(imap=True, http=True, start=False, domains=domains)
    pebble = Pebble(s.http_port, s.https_port)
    try:
        s.env.update(acme_server(pebble, "tls-alpn-01"))
        elsewhere = ["autodiscover.d1.test", "autodiscover.d2.test"]
        for name in elsewhere:
            pebble.add_a(name, "127.0.0.2")
        pebble.add_a("autoconfig.d3.test", ["127.0.0.1", "192.0.2.1"])
        s.start()
        wait_cert(s, pebble)
        want = [HOST] + [p + d for d in domains for p in ("mta-sts.", "autoconfig.", "autodiscover.")
                         if p + d not in elsewhere and p + d != "autoconfig.d3.test"]
        assert len(want) == 16
        sans = re.findall(r"DNS:([^,\s]+)", served_cert(s.imaps_port)[2])
        assert sorted(sans) == sorted(want), sorted(set(want) ^ set(sans))
        skipped = re.findall(r"event=name_skipped name=(\S+) reason=(\S+)", s.log_text())
        assert sorted(skipped) == sorted([(n, "points_elsewhere") for n in elsewhere] +
                                         [("autoconfig.d3.test", "points_partly_elsewhere")]), skipped
        # Served under SNI for one of them; the names the settings show
        # (and the check that brings a renewal forward reads) are all there.
        assert "mta-sts.d6.test" in served_cert(s.imaps_port, "mta-sts.d6.test")[2]
        js = settings(s)
        assert sorted(js["tls"]["names"].split(",")) == sorted(want), js["tls"]["names"]
    finally:
        s.stop()
        s.cleanup()
        pebble.close()


def test_acme_internationalised_domain_names_ordered_as_a_labels():
    """A served domain written in Unicode (bücher.test): its names go into
    the order, the look-ups and the certificate as A-labels
    (mta-sts.xn--bcher-kva.test), as RFC 8555 §7.1.4 asks of an
    identifier and as a client's SNI carries them. They were looked up
    in UTF-8 as stored, which the resolver cannot ask, and so left out
    as pointing nowhere (event=name_skipped reason=no_address) at every
    order: the domain's MTA-STS policy and autoconfig were served under
    a certificate without its names."""
    s = Server(imap=True, http=True, start=False, domains=("d1.test", "bücher.test"))
    pebble = Pebble(s.http_port, s.https_port)
    try:
        s.env.update(acme_server(pebble, "tls-alpn-01"))
        s.start()
        wait_cert(s, pebble, timeout=40)
        want = [HOST] + [p + d for d in ("d1.test", "xn--bcher-kva.test")
                         for p in ("mta-sts.", "autoconfig.", "autodiscover.")]
        sans = re.findall(r"DNS:([^,\s]+)", served_cert(s.imaps_port)[2])
        assert sorted(sans) == sorted(want), (sorted(set(want) ^ set(sans)),
                                              s.log_text()[-3000:])
        assert "mta-sts.xn--bcher-kva.test" in \
            served_cert(s.imaps_port, "mta-sts.xn--bcher-kva.test")[2]
        assert "event=name_skipped" not in s.log_text(), s.log_text()[-3000:]
    finally:
        s.stop()
        s.cleanup()
        pebble.close()


def test_acme_names_only_where_a_web_listener_serves_them():
    """A served domain's mta-sts., autoconfig. and autodiscover. names are
    ordered only when tern answers there, as the DNS records it recommends
    say (admin_web_names): mta-sts. needs HTTPS where senders fetch the
    policy (port 443, RFC 8461 section 3.3), the other two an HTTP or
    HTTPS listener. All three were ordered whatever the listeners: with
    HTTPS elsewhere than 443 the certificate carried mta-sts.example.test,
    and with no web listener at all, all three (each one more
    authorization that could fail, for a name nothing serves)."""
    # HTTPS on a port other than the one MTA-STS policies are fetched from.
    s = Server(imap=True, http=True, start=False)
    pebble = Pebble(s.http_port, s.https_port)
    try:
        s.env.update(acme_server(pebble, "tls-alpn-01"))
        del s.env["TERN_MTA_STS_PORT"]  # 443, where nothing of ours listens
        s.start()
        wait_cert(s, pebble)
        sans = re.findall(r"DNS:([^,\s]+)", served_cert(s.imaps_port)[2])
        assert sorted(sans) == sorted([HOST, "autoconfig.example.test",
                                       "autodiscover.example.test"]), sans
        assert "event=names_not_ordered names=mta-sts. reason=no_https_listener_on_443" in \
            s.log_text()
        # The DNS records recommended agree: no MTA-STS ones.
        dns = s.cli("domain", "dns", "example.test").stdout.decode()
        assert "autoconfig.example.test." in dns and "mta-sts" not in dns, dns
    finally:
        s.stop()
        s.cleanup()
        pebble.close()
    # No web listener: the host name alone. pebble validates TLS-ALPN-01
    # on IMAPS, which answers acme-tls/1 as every TLS listener does.
    s = Server(imap=True, start=False)
    pebble = Pebble(free_port(), s.imaps_port)
    try:
        s.env.update(acme_server(pebble, "tls-alpn-01"))
        s.start()
        wait_cert(s, pebble)
        sans = re.findall(r"DNS:([^,\s]+)", served_cert(s.imaps_port)[2])
        assert sans == [HOST], sans
        log = s.log_text()
        assert "event=names_not_ordered names=autoconfig.,autodiscover. reason=no_web_listener" \
            in log, log[-3000:]
        assert "event=name_skipped" not in log, log[-3000:]
    finally:
        s.stop()
        s.cleanup()
        pebble.close()


def test_acme_domain_added_joins_the_certificate_at_start():
    """A domain added after the certificate was issued: its mta-sts. name
    (once its DNS points here) must join the certificate, or senders
    checking its MTA-STS policy fail on the name until the renewal, two
    months later. A restart loaded the stored certificate and left it at
    that; now the names are looked up soon after a start (and daily) and a
    missing one brings the renewal forward."""
    s = Server(imap=True, http=True, start=False, domains=())
    pebble = Pebble(s.http_port, s.https_port)
    try:
        s.env.update(acme_server(pebble, "tls-alpn-01"))
        for p in ("autoconfig.", "autodiscover."):
            pebble.add_a(p + "example.test", "127.0.0.2")
        s.start()
        wait_cert(s, pebble)
        assert "mta-sts.example.test" not in served_cert(s.imaps_port)[2]
        s.stop()
        s.cli("domain", "add", "example.test")
        s.start()
        wait_cert(s, pebble, "event=certificate_loaded", 20)
        wait_cert(s, pebble, "event=name_added name=mta-sts.example.test renew=now", 20)
        after = s.log_text().split("event=certificate_loaded")[-1]
        deadline = time.time() + 30
        while "event=certificate_installed" not in after and time.time() < deadline:
            time.sleep(0.2)
            after = s.log_text().split("event=certificate_loaded")[-1]
        assert "event=certificate_installed" in after, s.log_text()[-3000:]
        sans = re.findall(r"DNS:([^,\s]+)", served_cert(s.imaps_port, "mta-sts.example.test")[2])
        assert sorted(sans) == sorted([HOST, "mta-sts.example.test"]), sans
    finally:
        s.stop()
        s.cleanup()
        pebble.close()


def test_acme_name_whose_challenge_fails_is_held_out():
    """A served domain's name that points here but whose challenge fails
    at the CA (its CAA names another CA, a proxy in front of that name
    only): the order failed as a whole, at every attempt, so the host name
    lost its certificate too when the one in use expired. Now the name is
    held out of the orders for 30 days (event=name_held_out, kept in the
    store) and the retry gets the certificate without it; a restart
    neither orders it again nor renews early for it; tern acme renew, once
    the operator fixed it, asks for it again. Here tern's resolver
    says mta-sts.example.test is 127.0.0.1, pebble's says 127.0.0.2, where
    nothing listens."""
    s = Server(imap=True, http=True, start=False, domains=())
    pebble = Pebble(s.http_port, s.https_port)
    ours = None
    try:
        need("pebble-challtestsrv")
        dns_port, mgmt = free_port(udp=True), free_port()
        ours = subprocess.Popen(
            ["pebble-challtestsrv", "-dns01", "127.0.0.1:%d" % dns_port, "-http01", "",
             "-https01", "", "-tlsalpn01", "", "-management", "127.0.0.1:%d" % mgmt,
             "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        s.env.update(acme_server(pebble, "tls-alpn-01",
                                 {"TERN_DNS_SERVERS": "127.0.0.1:%d" % dns_port}))
        import urllib.request
        deadline = time.time() + 20
        while time.time() < deadline:  # its management port up
            try:
                socket.create_connection(("127.0.0.1", mgmt), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        for p in ("mta-sts.", "autoconfig.", "autodiscover."):
            pebble.add_a(p + "example.test", "127.0.0.2")
        for p in ("autoconfig.", "autodiscover."):  # elsewhere for tern too
            urllib.request.urlopen(urllib.request.Request(
                "http://127.0.0.1:%d/add-a" % mgmt, method="POST", data=json.dumps(
                    {"host": p + "example.test.", "addresses": ["127.0.0.2"]}).encode()),
                timeout=10).read()
        s.start()
        s.cli("domain", "add", "example.test")
        s.stop()
        s.start()
        # The first start may have got a certificate for the host name
        # alone before the domain was added (a fast CA); the restart then
        # finds the domain's names missing and orders again. Either way
        # the order with mta-sts. fails, the name is held out, and the
        # retry without it installs a certificate.
        skipped = "event=name_skipped name=mta-sts.example.test reason=challenge_failed"
        wait_cert(s, pebble, skipped, timeout=90)
        deadline = time.time() + 60
        while True:
            log = s.log_text()
            if "event=certificate_installed" in log[log.index(skipped):]:
                break
            assert time.time() < deadline, log[-3000:]
            time.sleep(0.2)
        assert "event=name_held_out name=mta-sts.example.test" in log, log[-3000:]
        sans = re.findall(r"DNS:([^,\s]+)", served_cert(s.imaps_port)[2])
        assert HOST in sans and "mta-sts.example.test" not in sans, sans
        # A restart: the certificate is loaded, and its missing name does
        # not bring a renewal (it would fail the same way).
        s.stop()
        s.start()
        wait_cert(s, pebble, "event=certificate_loaded", 20)
        time.sleep(3)
        after = s.log_text().split("event=certificate_loaded")[-1]
        assert "event=name_added" not in after and "event=attempt " not in after, after
        # The operator fixes the name (pebble now finds it here) and runs
        # tern acme renew: the name held out is asked for again and joins
        # the certificate. It stayed out for the 30 days, renew or not.
        pebble.clear_a("mta-sts.example.test")
        assert s.cli("acme", "renew").returncode == 0
        wait_cert(s, pebble, re.compile(r"event=certificate_loaded(.*\n)*.*event=renew_requested"
                                        r"(.*\n)*.*event=certificate_installed"), 60)
        sans = re.findall(r"DNS:([^,\s]+)", served_cert(s.imaps_port)[2])
        assert sorted(sans) == [HOST, "mta-sts.example.test"], (sans, s.log_text()[-3000:])
        assert "event=names_released reason=renew_requested" in s.log_text()
    finally:
        s.stop()
        s.cleanup()
        pebble.close()
        if ours:
            ours.terminate()
            ours.wait(10)


def test_without_acme_the_settings_warn_self_signed():
    s = Server(http=True, env={"TERN_ADMIN_PASSWORD": ADMIN_PW, "TERN_HOSTNAME": HOST})
    try:
        js = settings(s)
        assert js["tls"]["self_signed"] is True and js["tls"]["names"] == HOST, js["tls"]
        out = s.cli("acme", "status").stdout.decode()
        assert out.splitlines()[0] == "none" and "acme: off" in out, out
        assert js["tls"]["issuer"] == HOST
        assert js["acme"]["enabled"] is False and js["acme"]["state"] == "off", js["acme"]
    finally:
        s.stop()
        s.cleanup()


def test_acme_renewal_swaps_without_dropping_connections():
    """A 20-second certificate is renewed about 13 s in: an IMAPS session
    opened before goes on working, a new connection gets the new one.
    No served domain: the host name alone, to keep the test short."""
    s = Server(imap=True, submission=True, http=True, start=False, domains=())
    pebble = Pebble(s.http_port, s.https_port, validity=20)
    try:
        s.env.update(acme_server(pebble, "tls-alpn-01"))
        s.start()
        wait_cert(s, pebble)
        first = served_cert(s.imaps_port)[3]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx, timeout=30)
        old_der = m.sock.getpeercert(binary_form=True)
        deadline = time.time() + 40
        while s.log_text().count("event=certificate_installed") < 2 and time.time() < deadline:
            time.sleep(0.2)
        log = s.log_text()
        assert log.count("event=certificate_installed") >= 2, log[-4000:]
        # The session opened before the swap still talks, on its old certificate.
        typ, _ = m.noop()
        assert typ == "OK"
        typ, caps = m.capability()
        assert typ == "OK" and b"IMAP4rev" in caps[0]
        assert m.sock.getpeercert(binary_form=True) == old_der
        m.logout()
        second = served_cert(s.imaps_port)[3]
        assert second != first, (first, second)
        assert "Pebble" in served_cert(s.submissions_port)[0]
    finally:
        s.stop()
        s.cleanup()
        pebble.close()


def test_acme_renewal_failing_keeps_the_certificate_and_backs_off():
    """pebble has no renewal information (no renewalInfo in its directory):
    a 20-second certificate is renewed by the two-thirds rule, about 13 s
    in. With the CA gone by then the renewal fails at its first step: the
    certificate in use is still served (not the self-signed one), the
    status says failed, and the next attempt waits the back-off's first
    minute, not a hot loop; no renewal information was asked for."""
    s = Server(imap=True, http=True, start=False, domains=())
    pebble = Pebble(s.http_port, s.https_port, validity=20)
    try:
        s.env.update(acme_server(pebble, "tls-alpn-01"))
        s.start()
        wait_cert(s, pebble)
        first = served_cert(s.imaps_port)
        assert "Pebble" in first[0], first
        pebble.close()
        assert s.wait_log("event=attempt_failed", timeout=40), s.log_text()[-3000:]
        time.sleep(1)
        log = s.log_text()
        failed = [l for l in log.splitlines() if "event=attempt_failed" in l]
        assert len(failed) == 1 and "step=directory" in failed[0] and "retry_in=60" in failed[0], \
            failed
        assert "event=ari_window" not in log and "event=renewal_moved_by_ari" not in log, log[-3000:]
        assert served_cert(s.imaps_port)[3] == first[3]
        js = settings(s)
        assert js["acme"]["state"] == "failed" and js["tls"]["self_signed"] is False, js
        # The next run is the failure's time plus the minute (read from
        # its log line, so a slow machine does not matter).
        t = re.match(r"time=(\S+?)(\.\d+)?Z", failed[0]).group(1)
        at = calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%S"))
        assert 59 <= js["acme"]["next_run"] - at <= 61, (js["acme"], failed[0])
    finally:
        s.stop()
        s.cleanup()
        pebble.close()


def test_acme_preferred_chain_among_the_alternates():
    """RFC 8555 §7.4.2: the CA may offer other chains for the certificate
    (Link: <url>;rel="alternate"); pebble offers one per alternate root.
    tern took the default chain whatever it led to. With
    TERN_ACME_PREFERRED_CHAIN naming an alternate's root (its CN, as
    certbot's and lego's --preferred-chain take it), that chain is
    fetched and served; a name no chain leads to keeps the default."""
    s = Server(imap=True, submission=True, http=True, start=False, domains=())
    pebble = Pebble(s.http_port, s.https_port, alternate_roots=2)
    try:
        roots = [pebble.root_cn(i) for i in range(3)]
        assert len(set(roots)) == 3, roots
        s.env.update(acme_server(pebble, "tls-alpn-01",
                                 {"TERN_ACME_PREFERRED_CHAIN": roots[2].lower()}))
        s.start()
        wait_cert(s, pebble)
        for port in (s.imaps_port, s.submissions_port):
            assert served_top_issuer(port) == roots[2], (roots, s.log_text()[-3000:])
        assert "event=preferred_chain_chosen" in s.log_text()
        # Kept across a restart: the chain chosen is the one stored.
        s.stop()
        s.start()
        wait_cert(s, pebble, "event=certificate_loaded", 20)
        assert served_top_issuer(s.imaps_port) == roots[2]
        # A root no chain leads to: every alternate is asked for, then
        # the default chain is served.
        s.stop()
        s.env["TERN_ACME_PREFERRED_CHAIN"] = "No Such Root"
        s.start()
        wait_cert(s, pebble, "event=certificate_loaded", 20)
        assert s.cli("acme", "renew").returncode == 0
        wait_cert(s, pebble, re.compile(r"event=preferred_chain_not_offered.*\n(.*\n)*"
                                        r".*event=certificate_installed"), 40)
        assert served_top_issuer(s.imaps_port) == roots[0]
    finally:
        s.stop()
        s.cleanup()
        pebble.close()


def test_acme_errors_logged_once_and_certificate_kept():
    """The CA unreachable, then a challenge that cannot succeed: each
    attempt fails with one log line naming the step and the reason, the
    settings say so, and the self-signed certificate stays in use."""
    dead = free_port()
    s = Server(imap=True, http=True, env={
        "TERN_HOSTNAME": HOST, "TERN_ADMIN_PASSWORD": ADMIN_PW,
        "TERN_ACME_EMAIL": "admin@acme.test",
        "TERN_ACME_DIRECTORY": "https://127.0.0.1:%d/dir" % dead}, domains=())
    try:
        assert s.wait_log("event=attempt_failed", timeout=20), s.log_text()[-3000:]
        time.sleep(0.5)
        lines = [l for l in s.log_text().splitlines() if "event=attempt_failed" in l]
        assert len(lines) == 1, lines
        assert "step=directory" in lines[0] and "connection to 127.0.0.1:%d failed" % dead in lines[0]
        assert "retry_in=60" in lines[0], lines[0]
        js = settings(s)
        assert js["acme"]["state"] == "failed" and "failed" in js["acme"]["last_error"], js["acme"]
        assert js["acme"]["next_run"] > time.time() + 30
        assert js["tls"]["self_signed"] is True
        assert metric(s, "tern_acme_failing") == 1
        assert served_cert(s.imaps_port)[0].endswith(HOST)
    finally:
        s.stop()
        s.cleanup()

    # pebble validates HTTP-01 against a port where nothing listens.
    s = Server(imap=True, http=True, start=False, domains=())
    pebble = Pebble(free_port(), s.https_port)
    try:
        s.env.update(acme_server(pebble, "http-01"))
        s.start()
        assert s.wait_log("event=attempt_failed", timeout=40), \
            s.log_text()[-3000:] + pebble.log_text()[-2000:]
        lines = [l for l in s.log_text().splitlines() if "event=attempt_failed" in l]
        assert len(lines) == 1, lines
        assert "step=authz_poll" in lines[0] and "http-01 challenge for %s failed" % HOST in lines[0], lines[0]
        # The challenge's error with its type (RFC 8555 §8): what kind of failure.
        assert "http-01 challenge for %s failed: connection: " % HOST in lines[0], lines[0]
        assert "certificate_installed" not in s.log_text()
        assert served_cert(s.imaps_port)[0].endswith(HOST)
    finally:
        s.stop()
        s.cleanup()
        pebble.close()


TSIG_SECRET = "dGVybi1hY21lLXRlc3Qta2V5LTAxMjM0NTY3ODk="


def loopback_net():
    """A /24 of 127/8 no other test run is likely to use: authoritative
    servers (the zone's NS records) are asked on port 53."""
    import random
    return "127.%d.%d." % (random.randint(64, 250), random.randint(1, 250))


class Knot:
    """Debian's knotd on loopback, authoritative for acme.test, taking
    RFC 2136 updates signed with the TSIG key tern-acme. It listens on a
    free port and on listen53 port 53, the address of the zone's NS
    record ns1 (and of ns2, the same with 2 last, with ns2). With primary (a Knot), a secondary
    of it refreshing every 4 s, sent no NOTIFY: it serves an update up
    to 4 s after the primary."""

    def __init__(self, ns2=False, primary=None, other_zone=None):
        """other_zone: one more zone it serves (no updates), whose
        mta-sts., autoconfig. and autodiscover. are 127.0.0.1."""
        need("knotd")
        self.tmp = tempfile.mkdtemp(prefix="tern-knot-")
        self.port = free_port(udp=True)
        self.net = primary.net if primary else loopback_net()
        self.listen53 = self.net + ("2" if primary else "1")
        if not primary:
            with open(os.path.join(self.tmp, "acme.test.zone"), "w") as f:
                f.write("$ORIGIN acme.test.\n$TTL 60\n"
                        "@ SOA ns1 hostmaster 1 4 4 600 60\n@ NS ns1\n"
                        "ns1 A %s\nmail A 127.0.0.1\n" % self.listen53)
                if ns2:
                    f.write("@ NS ns2\nns2 A %s2\n" % self.net)
        if other_zone:
            with open(os.path.join(self.tmp, other_zone + ".zone"), "w") as f:
                f.write("$ORIGIN %s.\n$TTL 60\n@ SOA ns1.acme.test. hostmaster 1 4 4 600 60\n"
                        "@ NS ns1.acme.test.\n" % other_zone)
                for p in ("mta-sts", "autoconfig", "autodiscover"):
                    f.write("%s A 127.0.0.1\n" % p)
        zone = ("    master: primary\n" if primary else "    acl: [upd, xfr]\n")
        remote = ("remote:\n  - id: primary\n    address: 127.0.0.1@%d\n" % primary.port
                  if primary else "")
        with open(os.path.join(self.tmp, "knot.conf"), "w") as f:
            f.write("""server:
    rundir: "{d}"
    listen: [ 127.0.0.1@{p}, {l}@53 ]
log:
  - target: stderr
    any: info
database:
    storage: "{d}"
control:
    listen: "{d}/knot.sock"
key:
  - id: tern-acme.
    algorithm: hmac-sha256
    secret: {s}
{r}acl:
  - id: upd
    key: tern-acme.
    action: update
  - id: xfr
    address: 127.0.0.0/8
    action: transfer
template:
  - id: default
    storage: "{d}"
    file: "%s.zone"
    zonefile-sync: -1
zone:
  - domain: acme.test
{z}""".format(d=self.tmp, p=self.port, s=TSIG_SECRET, l=self.listen53, r=remote, z=zone))
            if other_zone:
                f.write("  - domain: %s\n" % other_zone)
        self.log = open(os.path.join(self.tmp, "knot.log"), "w")
        self.proc = subprocess.Popen(["knotd", "-c", os.path.join(self.tmp, "knot.conf")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            if "loaded" in self.log_text() or "started" in self.log_text():
                break
            time.sleep(0.1)
        time.sleep(0.3)

    def log_text(self):
        self.log.flush()
        with open(os.path.join(self.tmp, "knot.log")) as f:
            return f.read()

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def dns_01_close(s, pebble, knot):
    """Stops what a DNS-01 test started (pebble None: it did not start)."""
    s.stop()
    s.cleanup()
    if pebble:
        pebble.close()
    knot.close()


def start_dns_01(s, pebble, primary, shown):
    """Starts s ordering by DNS-01 from pebble, its updates (TSIG) and
    lookups going to the knotd primary; waits for the certificate, or
    fails with the logs of tern, pebble and the knotd shown."""
    s.env.update(acme_server(pebble, "dns-01"))
    s.env.update({"TERN_DNS_SERVERS": "127.0.0.1:%d" % primary.port,
                  "TERN_ACME_DNS_SERVER": "127.0.0.1:%d" % primary.port,
                  "TERN_ACME_TSIG_KEY": "tern-acme.:" + TSIG_SECRET})
    s.start()
    if not s.wait_log("event=certificate_installed", timeout=60):
        raise AssertionError("no certificate: tern:\n%s\npebble:\n%s\nknot:\n%s" % (
            s.log_text()[-4000:], pebble.log_text()[-2000:], shown.log_text()[-2000:]))


def test_acme_dns_01():
    """DNS-01: tern adds the TXT record through an RFC 2136 update signed
    with TSIG to a loopback knotd, pebble reads it there, the certificate
    is issued, and the record is removed afterwards."""
    knot = Knot()
    s = Server(imap=True, submission=True, http=True, start=False, domains=())
    pebble = None
    try:
        pebble = Pebble(s.http_port, s.https_port, dns_server="127.0.0.1:%d" % knot.port)
        start_dns_01(s, pebble, knot, knot)
        assert "event=dns01_record_added name=%s" % HOST in s.log_text()
        # knotd signs its replies; they verify (RFC 8945 §5.3).
        assert "dns01_reply_refused" not in s.log_text(), s.log_text()[-3000:]
        check_served(s)
        # The record is gone again (the removal is sent once the name is authorized).
        deadline = time.time() + 10
        while txt_present(knot.port, "_acme-challenge." + HOST) and time.time() < deadline:
            time.sleep(0.2)
        assert not txt_present(knot.port, "_acme-challenge." + HOST)
    finally:
        dns_01_close(s, pebble, knot)


def test_acme_dns_01_names_outside_the_zone_left_out():
    """DNS-01 updates one zone (TERN_ACME_DNS_ZONE, else the host name's
    parent, acme.test here). A served domain in another zone
    (example.test, whose names point here): its names were ordered, the
    update for _acme-challenge.mta-sts.example.test was refused NOTZONE
    and the whole order failed, at every attempt, so the host name never
    got its certificate. Now names outside the zone are left out
    (reason=outside_dns_zone), and the names check after a restart does
    not ask for a renewal to add them."""
    knot = Knot(other_zone="example.test")
    s = Server(imap=True, http=True, start=False)
    pebble = None
    try:
        pebble = Pebble(s.http_port, s.https_port, dns_server="127.0.0.1:%d" % knot.port)
        start_dns_01(s, pebble, knot, knot)
        log = s.log_text()
        assert "event=attempt_failed" not in log, log[-3000:]
        for p in ("mta-sts.", "autoconfig.", "autodiscover."):
            assert "event=name_skipped name=%sexample.test reason=outside_dns_zone" % p in log, \
                log[-3000:]
        assert re.findall(r"DNS:([^,\s]+)", served_cert(s.imaps_port)[2]) == [HOST]
        s.stop()
        s.start()
        wait_cert(s, pebble, re.compile(r"event=certificate_loaded(.*\n)*.*event=names_checked "
                                        r"names=4 missing=0"), 30)
        after = s.log_text().split("event=certificate_loaded")[-1]
        assert "event=name_added" not in after and "event=attempt " not in after, after
    finally:
        dns_01_close(s, pebble, knot)


def test_acme_dns_01_waits_for_every_authoritative_server():
    """DNS-01 with a secondary that takes the update 4 s after the
    primary, and the CA asking that secondary: tern answers the
    challenge only once every server of the zone's NS records serves
    the TXT record (event=dns01_propagated), as lego does. It answered
    at once after the update: the CA found no record at the secondary,
    the challenge failed and the certificate with it."""
    primary = Knot(ns2=True)
    secondary = None
    s = Server(imap=True, submission=True, http=True, start=False, domains=())
    pebble = None
    try:
        secondary = Knot(primary=primary)
        pebble = Pebble(s.http_port, s.https_port, dns_server="%s:53" % secondary.listen53)
        start_dns_01(s, pebble, primary, secondary)
        assert "event=dns01_propagated name=%s servers=2" % HOST in s.log_text(), s.log_text()[-3000:]
        check_served(s)
    finally:
        s.stop()
        s.cleanup()
        if pebble:
            pebble.close()
        if secondary:
            secondary.close()
        primary.close()


def txt_present(port, owner):
    """Whether the DNS server on 127.0.0.1:port serves a TXT record at
    owner (Debian's dnspython, in the system's python3)."""
    r = subprocess.run(["/usr/bin/python3", "-c",
                        "import dns.resolver,sys\nr=dns.resolver.Resolver(configure=False)\n"
                        "r.nameservers=['127.0.0.1'];r.port=%d\n"
                        "try:\n r.resolve('%s','TXT');print('present')\n"
                        "except dns.resolver.NXDOMAIN:print('gone')\n"
                        "except dns.resolver.NoAnswer:print('gone')" % (port, owner)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    assert r.stdout.strip() in (b"present", b"gone"), r.stdout
    return r.stdout.strip() == b"present"


def test_acme_dns_01_gives_up_when_a_server_never_serves_it():
    """DNS-01 with the zone's second NS (ns2) unreachable: the record is
    never seen there, so the challenge is not answered (the CA could ask
    ns2), and when the bound passes (5 minutes; 4 s here through the
    test-only TERN_TEST_DNS01_PROPAGATION_SECS) the attempt fails once,
    naming that server, the record is removed from the primary, no
    certificate comes, and the next attempt waits the back-off."""
    primary = Knot(ns2=True)
    s = Server(imap=True, submission=True, http=True, start=False, domains=())
    pebble = None
    try:
        pebble = Pebble(s.http_port, s.https_port, dns_server="127.0.0.1:%d" % primary.port)
        s.env.update(acme_server(pebble, "dns-01"))
        s.env.update({"TERN_DNS_SERVERS": "127.0.0.1:%d" % primary.port,
                      "TERN_ACME_DNS_SERVER": "127.0.0.1:%d" % primary.port,
                      "TERN_ACME_TSIG_KEY": "tern-acme.:" + TSIG_SECRET,
                      "TERN_TEST_DNS01_PROPAGATION_SECS": "4"})
        s.start()
        assert s.wait_log("event=dns01_record_added", timeout=30), s.log_text()[-3000:]
        assert txt_present(primary.port, "_acme-challenge." + HOST)
        if not s.wait_log("event=attempt_failed", timeout=40):
            raise AssertionError("no failure: tern:\n%s\nknot:\n%s" % (
                s.log_text()[-3000:], primary.log_text()[-2000:]))
        log = s.log_text()
        fails = [l for l in log.splitlines() if "event=attempt_failed" in l]
        assert len(fails) == 1, fails
        assert "not on every server of zone acme.test after 4 s" in fails[0], fails[0]
        assert "ns2.acme.test" in fails[0] and primary.net + "2:53" in fails[0], fails[0]
        assert "event=dns01_propagated" not in log and "certificate_installed" not in log
        deadline = time.time() + 10
        while txt_present(primary.port, "_acme-challenge." + HOST) and time.time() < deadline:
            time.sleep(0.2)
        assert not txt_present(primary.port, "_acme-challenge." + HOST)
        assert settings(s)["acme"]["next_run"] >= time.time() + 50
    finally:
        s.stop()
        s.cleanup()
        if pebble:
            pebble.close()
        primary.close()


def test_acme_dns_01_zone_without_ns_found_is_not_checked():
    """DNS-01 where tern's resolver finds no NS records for the zone
    (pebble-challtestsrv here, which has none): the propagation check is
    skipped (event=dns01_propagation_unchecked, its reason logged) and
    the challenge answered at once: the certificate comes."""
    knot = Knot()
    s = Server(imap=True, submission=True, http=True, start=False, domains=())
    pebble = None
    try:
        pebble = Pebble(s.http_port, s.https_port, dns_server="127.0.0.1:%d" % knot.port)
        s.env.update(acme_server(pebble, "dns-01"))
        s.env.update({"TERN_ACME_DNS_SERVER": "127.0.0.1:%d" % knot.port,
                      "TERN_ACME_TSIG_KEY": "tern-acme.:" + TSIG_SECRET})
        s.start()
        if not s.wait_log("event=certificate_installed", timeout=60):
            raise AssertionError("no certificate: tern:\n%s\nknot:\n%s" % (
                s.log_text()[-4000:], knot.log_text()[-2000:]))
        log = s.log_text()
        assert re.search(r"event=dns01_propagation_unchecked name=%s reason=\S" % re.escape(HOST),
                         log), log[-3000:]
        assert "event=dns01_propagated " not in log
        check_served(s)
    finally:
        dns_01_close(s, pebble, knot)


class ForgedUpdateServer:
    """A UDP 'DNS server' on loopback that answers every UPDATE with
    NOERROR twice: once unsigned, once with a TSIG record for the right
    key whose MAC is made up (what an off-path forger could send)."""

    def __init__(self):
        self.port = free_port(udp=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.settimeout(0.2)
        self.updates = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @staticmethod
    def _name(n):
        return b"".join(bytes([len(l)]) + l.encode() for l in n.strip(".").split(".")) + b"\0"

    def _run(self):
        while not self.stopping:
            try:
                q, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            if len(q) < 12 or (q[2] >> 3) & 0xF != 5:
                continue
            self.updates += 1
            head = q[:2] + bytes([0xA8, 0x00]) + b"\0\0" * 3
            self.sock.sendto(head + b"\0\0", peer)  # unsigned
            now = int(time.time())
            rdata = (self._name("hmac-sha256") + now.to_bytes(6, "big") + (300).to_bytes(2, "big")
                     + (32).to_bytes(2, "big") + os.urandom(32) + q[:2] + b"\0\0\0\0")
            tsig = (self._name("tern-acme") + (250).to_bytes(2, "big") + (255).to_bytes(2, "big")
                    + b"\0\0\0\0" + len(rdata).to_bytes(2, "big") + rdata)
            self.sock.sendto(head + b"\0\1" + tsig, peer)  # a made-up MAC

    def close(self):
        # The thread sees stopping within its 0.2 s timeout; the socket is
        # closed after it, not under its recvfrom.
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


def test_acme_dns_01_forged_reply_refused():
    """DNS-01's update replies must carry the server's TSIG (RFC 8945
    §5.3): a NOERROR without one, or with a MAC that does not verify, is
    discarded, so tern never tells the CA to look; the failure names why."""
    forger = ForgedUpdateServer()
    s = Server(http=True, start=False, domains=())
    pebble = None
    try:
        pebble = Pebble(s.http_port, s.https_port, dns_server="127.0.0.1:%d" % forger.port)
        s.env.update(acme_server(pebble, "dns-01"))
        s.env.update({"TERN_ACME_DNS_SERVER": "127.0.0.1:%d" % forger.port,
                      "TERN_ACME_TSIG_KEY": "tern-acme.:" + TSIG_SECRET})
        s.start()
        assert s.wait_log("no signed answer", timeout=90), s.log_text()[-3000:]
        log = s.log_text()
        assert forger.updates >= 1, forger.updates
        assert 'event=dns01_reply_refused rcode=0 why="reply unsigned (no TSIG)"' in log, log[-3000:]
        assert ('event=dns01_reply_refused rcode=0 why="TSIG MAC does not verify '
                '(forged or another secret)"') in log, log[-3000:]
        assert re.search(r"DNS update for \S+ at 127\.0\.0\.1:%d failed: no signed answer "
                         r"\(\d+ replies refused, the last: " % forger.port, log), log[-3000:]
        assert "event=dns01_record_added" not in log, log[-3000:]
        assert "event=certificate_installed" not in log, log[-3000:]
    finally:
        s.stop()
        s.cleanup()
        if pebble:
            pebble.close()
        forger.close()


class AcmeStub:
    """A scripted ACME server (Python, HTTPS on loopback) for the answers
    pebble never gives: rateLimited with a Retry-After. It checks nothing
    tern sends; it only answers in RFC 8555's shapes."""

    def __init__(self, mode="ratelimit", ari_open_first=True, ari_hold=None, renewal_order_delay=0,
                 bad_leaf=None, retry_after="3600", authz=("evil.example", "pending"),
                 first_leaf=None, cert_fail=0, processing=None, deactivated_first_key=False,
                 already_replaced=False, bad_nonces=0, finalize_lost=0, nonce_down=False,
                 limited=(0, 0)):
        import base64
        import http.server
        import ssl as _ssl
        import threading
        self.mode = mode
        self.ari_open_first = ari_open_first
        self.ari_hold = ari_hold  # a threading.Event the renewal-info answer waits for
        self.renewal_order_delay = renewal_order_delay  # ... and a renewal's newOrder
        # "expired" or "other_name": a leaf tern must not install;
        # "extra_first": the first leaf also names extra.acme.test
        self.bad_leaf = bad_leaf
        # (notBefore, notAfter) of the first leaf, in seconds from now
        self.first_leaf = first_leaf
        self.retry_after = retry_after  # the rateLimited answer's Retry-After
        self.cert_fail = cert_fail  # the first downloads of a certificate answered 503
        self.authz = authz  # authz_other: the authorization's name and first status
        # (seconds, Retry-After or None): finalize leaves the order
        # "processing" that long, each poll answered with that Retry-After
        self.processing = processing
        self.processing_until = None
        # the first account key seen is a deactivated account's (RFC 8555 §7.3.6)
        self.deactivated_first_key = deactivated_first_key
        self.acct_keys = []  # the JWK x of each newAccount, in order
        # a newOrder naming "replaces" is refused 409 alreadyReplaced (RFC 9773 §5)
        self.already_replaced = already_replaced
        self.ari_ids = []
        # the first bad_nonces POSTs to /order answered badNonce (RFC 8555 §6.5)
        self.bad_nonces = bad_nonces
        self.given_nonces = []  # the Replay-Nonce of each answer, in order
        # the first finalize_lost finalize requests get no answer (the
        # connection closed before the CA took them): the order stays "ready"
        self.finalize_lost = finalize_lost
        # newNonce answers 503 with retry_after and no nonce (the API down
        # for maintenance while a cache still serves the directory)
        self.nonce_down = nonce_down
        # (polls, downloads): the first polls of the issued order and the
        # first downloads of its certificate answered 429 rateLimited,
        # Retry-After: 1
        self.limited = list(limited)
        self.csrs = []  # the CSR (DER) of each finalize taken
        self.post_nonces = []  # (path, the nonce its JWS carried, the last nonce given before)
        # the window for later certificates: a month out, the same in every answer
        self.ari_later = (time.time() + 30 * 86400, time.time() + 31 * 86400)
        self.orders = []  # newOrder payloads (JSON)
        self.posts = []  # (path, payload) of every POST, the payload decoded ("" for POST-as-GET)
        self.issued = 0
        self.tmp = tempfile.mkdtemp(prefix="tern-acmestub-")
        run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, cwd=self.tmp)
        self.ca = os.path.join(self.tmp, "ca.pem")
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", "ca.key", "-out", self.ca, "-days", "2", "-subj", "/CN=stub CA",
            "-addext", "basicConstraints=critical,CA:TRUE")
        with open(os.path.join(self.tmp, "ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1")
        run("openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "ext", "-out", "srv.pem")
        self.requests = []
        stub = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, code, body=b"", headers=()):
                self.send_response(code)
                stub.given_nonces.append("nonce-%d" % len(stub.requests))
                if not stub.nonce_down:  # then none anywhere: the directory gave one
                    self.send_header("Replay-Nonce", stub.given_nonces[-1])
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self):
                stub.requests.append(("HEAD", self.path))
                if stub.nonce_down:
                    self.send_response(503)
                    self.send_header("Retry-After", stub.retry_after)
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    return
                self.reply(200)

            def do_GET(self):
                stub.requests.append(("GET", self.path))
                base = "https://127.0.0.1:%d" % stub.port
                if self.path.startswith("/renewal-info/"):
                    base = "https://127.0.0.1:%d" % stub.port
                    stub.ari_ids.append(self.path[len("/renewal-info/"):])
                    if stub.ari_hold is not None:
                        stub.ari_hold.wait(20)
                    now = time.time()
                    # The first certificate: a window already open (renew now)
                    # unless told otherwise; later ones: a month out.
                    a, b = (now - 20, now - 10) if stub.issued == 1 and stub.ari_open_first \
                        else stub.ari_later
                    fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
                    ri = {"suggestedWindow": {"start": fmt(a), "end": fmt(b)},
                          "explanationURL": base + "/why?n=%d" % stub.issued}
                    self.reply(200, json.dumps(ri).encode(),
                               [("Content-Type", "application/json"), ("Retry-After", "21600")])
                    return
                d = {"newNonce": base + "/nonce", "newAccount": base + "/acct", "newOrder": base + "/order"}
                if stub.mode == "ari":
                    d["renewalInfo"] = base + "/renewal-info"
                self.reply(200, json.dumps(d).encode(), [("Content-Type", "application/json")])

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                self.rfile_body = self.rfile.read(n)
                stub.requests.append(("POST", self.path))
                base = "https://127.0.0.1:%d" % stub.port
                body = self.rfile_body
                try:
                    b64 = lambda t: base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))
                    pl = b64(json.loads(body)["payload"])
                    stub.posts.append((self.path, json.loads(pl) if pl else ""))
                    prot = json.loads(b64(json.loads(body)["protected"]))
                    stub.post_nonces.append((self.path, prot.get("nonce"),
                                             stub.given_nonces[-1] if stub.given_nonces else None))
                except ValueError:
                    stub.posts.append((self.path, None))
                if self.path == "/order" and stub.bad_nonces > 0:
                    stub.bad_nonces -= 1
                    self.reply(400, json.dumps({
                        "type": "urn:ietf:params:acme:error:badNonce",
                        "detail": "JWS has an invalid anti-replay nonce"}).encode(),
                        [("Content-Type", "application/problem+json")])
                    return
                if self.path == "/acct" and stub.deactivated_first_key:
                    prot = json.loads(b64(json.loads(body)["protected"]))
                    x = prot.get("jwk", {}).get("x")
                    made = x in stub.acct_keys
                    stub.acct_keys.append(x)
                    if x == stub.acct_keys[0]:
                        # What Boulder and pebble answer for a deactivated account's key.
                        self.reply(403, json.dumps({
                            "type": "urn:ietf:params:acme:error:unauthorized",
                            "detail": "An account with the provided public key exists but is "
                                      "deactivated"}).encode(),
                            [("Content-Type", "application/problem+json")])
                    else:
                        self.reply(200 if made else 201, b"{\"status\":\"valid\"}",
                                   [("Location", base + "/acct/2"),
                                    ("Content-Type", "application/json")])
                elif self.path == "/acct":
                    # RFC 8555 §7.3.1: 201 when created, 200 for the key's existing account
                    made = any(p == "/acct" for p, _ in stub.posts[:-1])
                    self.reply(200 if made else 201, b"{\"status\":\"valid\"}",
                               [("Location", base + "/acct/1"), ("Content-Type", "application/json")])
                elif self.path == "/acct/1":
                    self.reply(200, json.dumps({"status": "valid", "contact":
                                                (stub.posts[-1][1] or {}).get("contact", [])}).encode(),
                               [("Content-Type", "application/json")])
                elif stub.mode in ("user_action", "eab") and self.path == "/order":
                    # RFC 8555 §7.3.3 / §7.3.4: the account must act first
                    prob = {"type": "urn:ietf:params:acme:error:userActionRequired",
                            "detail": "Terms of service have changed",
                            "instance": "https://127.0.0.1:%d/tos-agree" % stub.port}
                    if stub.mode == "eab":
                        prob = {"type": "urn:ietf:params:acme:error:externalAccountRequired",
                                "detail": "this CA requires an external account binding"}
                    self.reply(403, json.dumps(prob).encode(),
                               [("Content-Type", "application/problem+json"),
                                ("Link", '<%s/tos-2>;rel="terms-of-service"' % base)])
                elif stub.mode == "ari" and self.path == "/order":
                    if stub.issued:
                        time.sleep(stub.renewal_order_delay)
                    b64 = lambda t: base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))
                    stub.orders.append(json.loads(b64(json.loads(body)["payload"])))
                    if stub.already_replaced and "replaces" in stub.orders[-1]:
                        # An order for it left pending (an attempt given up,
                        # a restart mid-order) still counts as its replacement.
                        self.reply(409, json.dumps({
                            "type": "urn:ietf:params:acme:error:alreadyReplaced",
                            "detail": "certificate already has a replacement order"}).encode(),
                            [("Content-Type", "application/problem+json")])
                        return
                    self.reply(201, json.dumps({"status": "ready", "finalize": base + "/finalize",
                                                "authorizations": []}).encode(),
                               [("Location", base + "/order/1"), ("Content-Type", "application/json")])
                elif stub.mode == "order_invalid" and self.path == "/order":
                    self.reply(201, json.dumps({"status": "ready", "finalize": base + "/finalize",
                                                "authorizations": []}).encode(),
                               [("Location", base + "/order/1"), ("Content-Type", "application/json")])
                elif stub.mode == "order_invalid" and self.path == "/finalize":
                    self.reply(200, json.dumps({"status": "processing",
                                                "finalize": base + "/finalize"}).encode(),
                               [("Content-Type", "application/json"), ("Retry-After", "1")])
                elif stub.mode == "order_invalid" and self.path == "/order/1":
                    # The CA's last look (CAA, RFC 8555 §7.1.3) refuses at issuance.
                    self.reply(200, json.dumps({
                        "status": "invalid", "finalize": base + "/finalize",
                        "error": {"type": "urn:ietf:params:acme:error:caa",
                                  "detail": "CAA record for mail.acme.test prevents issuance"}}).encode(),
                        [("Content-Type", "application/json")])
                elif stub.mode == "authz_other" and self.path == "/order":
                    self.reply(201, json.dumps({"status": "pending", "finalize": base + "/finalize",
                                                "authorizations": [base + "/authz/1"]}).encode(),
                               [("Location", base + "/order/1"), ("Content-Type", "application/json")])
                elif stub.mode == "authz_other" and self.path == "/authz/1":
                    # By default an authorization for a name tern never ordered.
                    done = ("POST", "/chall/1") in stub.requests
                    self.reply(200, json.dumps({
                        "status": "invalid" if done else stub.authz[1],
                        "identifier": {"type": "dns", "value": stub.authz[0]},
                        "challenges": [{"type": "tls-alpn-01", "url": base + "/chall/1",
                                        "token": "Evil-token_1", "status": "pending"}]}).encode(),
                        [("Content-Type", "application/json")])
                elif stub.mode == "authz_other" and self.path == "/chall/1":
                    self.reply(200, b'{"type":"tls-alpn-01","status":"processing"}',
                               [("Content-Type", "application/json")])
                elif stub.mode == "ari" and self.path == "/finalize" and stub.finalize_lost:
                    stub.finalize_lost -= 1
                    self.close_connection = True  # no answer: tern reads a closed connection
                elif stub.mode == "ari" and self.path == "/order/1" and not stub.issued:
                    self.reply(200, json.dumps({"status": "ready", "finalize": base + "/finalize",
                                                "authorizations": []}).encode(),
                               [("Content-Type", "application/json")])
                elif stub.mode == "ari" and self.path == "/finalize":
                    b64 = lambda t: base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))
                    csr = b64(json.loads(b64(json.loads(body)["payload"]))["csr"])
                    stub.csrs.append(csr)
                    stub.issued += 1
                    n = stub.issued
                    with open(os.path.join(stub.tmp, "req.der"), "wb") as f:
                        f.write(csr)
                    with open(os.path.join(stub.tmp, "leaf.ext"), "w") as f:
                        f.write("authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n")
                    run("openssl", "req", "-inform", "DER", "-in", "req.der", "-out", "req.pem")
                    if stub.bad_leaf in ("expired", "other_name", "due", "no_cn") or \
                            (stub.bad_leaf == "extra_first" and n == 1) or \
                            (stub.first_leaf and n == 1):
                        stub.make_bad_leaf(csr, "leaf%d.pem" % n)
                    else:
                        run("openssl", "x509", "-req", "-in", "req.pem", "-CA", "ca.pem",
                            "-CAkey", "ca.key", "-CAcreateserial", "-days", "90",
                            "-copy_extensions", "copy", "-extfile", "leaf.ext",
                            "-out", "leaf%d.pem" % n)
                    if stub.processing:
                        stub.processing_until = time.time() + stub.processing[0]
                    stub.order_reply(self, n)
                elif stub.mode == "ari" and stub.issued and \
                        ((self.path == "/order/1" and stub.limited[0]) or
                         (self.path.startswith("/cert/") and stub.limited[1])):
                    stub.limited[self.path != "/order/1"] -= 1
                    self.reply(429, json.dumps({
                        "type": "urn:ietf:params:acme:error:rateLimited",
                        "detail": "too many requests from this client"}).encode(),
                        [("Content-Type", "application/problem+json"), ("Retry-After", "1")])
                elif stub.mode == "ari" and self.path == "/order/1" and stub.issued:
                    stub.order_reply(self, stub.issued)
                elif stub.mode == "ari" and self.path.startswith("/cert/") and stub.cert_fail:
                    stub.cert_fail -= 1
                    self.reply(503, b'{"type":"urn:ietf:params:acme:error:serverInternal",'
                               b'"detail":"service busy"}',
                               [("Content-Type", "application/problem+json"), ("Retry-After", "1")])
                elif stub.mode == "ari" and self.path.startswith("/cert/"):
                    n = int(self.path[6:])
                    with open(os.path.join(stub.tmp, "leaf%d.pem" % n), "rb") as f:
                        pem = f.read()
                    with open(stub.ca, "rb") as f:
                        pem += f.read()
                    self.reply(200, pem, [("Content-Type", "application/pem-certificate-chain")])
                else:
                    self.reply(429, json.dumps({
                        "type": "urn:ietf:params:acme:error:rateLimited",
                        "detail": "too many certificates (5) already issued for this exact set of identifiers"}).encode(),
                        [("Content-Type", "application/problem+json"),
                         ("Retry-After", stub.retry_after)])

        self.port = free_port()
        self.srv = LoopbackHTTPServer(("127.0.0.1", self.port), H)
        ctx = _ssl.SSLContext(_ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(self.tmp, "srv.pem"), os.path.join(self.tmp, "srv.key"))
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def order_reply(self, h, n):
        """The order after finalize: "processing" until processing_until
        (with the Retry-After asked for), then valid."""
        base = "https://127.0.0.1:%d" % self.port
        if self.processing_until is not None and time.time() < self.processing_until:
            hdr = [("Content-Type", "application/json")]
            if self.processing[1] is not None:
                hdr.append(("Retry-After", str(self.processing[1])))
            h.reply(200, json.dumps({"status": "processing", "finalize": base + "/finalize"}).encode(),
                    hdr)
            return
        h.reply(200, json.dumps({"status": "valid", "finalize": base + "/finalize",
                                 "certificate": base + "/cert/%d" % n}).encode(),
                [("Content-Type", "application/json")])

    def make_bad_leaf(self, csr_der, out):
        """Signs the CSR's key into a leaf that matches the key but is
        expired ("expired"), names another host ("other_name") or one
        more ("extra_first"), or is due for renewal already ("due": 60
        days of its 90 gone); or the first leaf with first_leaf's dates."""
        import datetime
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509.oid import NameOID
        csr = x509.load_der_x509_csr(csr_der)
        with open(os.path.join(self.tmp, "ca.key"), "rb") as f:
            ca_key = serialization.load_pem_private_key(f.read(), None)
        with open(self.ca, "rb") as f:
            ca = x509.load_pem_x509_certificate(f.read())
        now = datetime.datetime.now(datetime.timezone.utc)
        names, nb, na = [HOST], now - datetime.timedelta(days=1), now + datetime.timedelta(days=90)
        if self.bad_leaf == "expired":
            nb, na = now - datetime.timedelta(days=100), now - datetime.timedelta(days=10)
        elif self.bad_leaf == "due":
            nb, na = now - datetime.timedelta(days=61), now + datetime.timedelta(days=29)
        elif self.first_leaf and self.issued == 1:
            nb, na = (now + datetime.timedelta(seconds=t) for t in self.first_leaf)
        if self.bad_leaf == "extra_first":
            names.append("extra.acme.test")
        elif self.bad_leaf == "other_name":
            names = ["other.example"]
        # "no_cn": the names in the subjectAltName only, an empty subject
        # (Let's Encrypt's tlsserver and shortlived profiles)
        subject = [] if self.bad_leaf == "no_cn" else [x509.NameAttribute(NameOID.COMMON_NAME, names[0])]
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name(subject))
                .issuer_name(ca.subject).public_key(csr.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(nb).not_valid_after(na)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        with open(os.path.join(self.tmp, out), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def stub_server(stub, **env):
    """A server whose ACME client orders from the stub CA (env: more
    TERN_* settings)."""
    return Server(imap=True, http=True, domains=(), env=dict({
        "TERN_HOSTNAME": HOST, "TERN_ADMIN_PASSWORD": ADMIN_PW,
        "TERN_ACME_EMAIL": "admin@acme.test", "TERN_TLS_CA_FILE": stub.ca,
        "TERN_ACME_DIRECTORY": "https://127.0.0.1:%d/dir" % stub.port}, **env))


def test_acme_rate_limited_waits_retry_after():
    stub = AcmeStub()
    s = stub_server(stub)
    try:
        assert s.wait_log("event=attempt_failed", timeout=20), s.log_text()[-3000:]
        time.sleep(0.5)
        lines = [l for l in s.log_text().splitlines() if "event=attempt_failed" in l]
        assert len(lines) == 1, lines
        assert "step=order" in lines[0] and "rate limited by the CA (HTTP 429)" in lines[0], lines[0]
        assert "too many certificates (5) already issued" in lines[0]
        assert "retry_in=3600" in lines[0], lines[0]
        assert ("POST", "/acct") in stub.requests and ("POST", "/order") in stub.requests
        js = settings(s)
        assert "rate limited" in js["acme"]["last_error"]
        assert 3500 < js["acme"]["next_run"] - time.time() <= 3600
        assert js["tls"]["self_signed"] is True
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_new_nonce_unavailable_waits_retry_after():
    """newNonce answers 503 with Retry-After: 7200 and no nonce (the CA's
    API down for maintenance while a cache still serves its directory):
    the next attempt waits the CA's two hours (RFC 8555 §6.6: a client
    honours Retry-After), the failure naming the status. It waited the
    back-off's first minute, as for a CA that said nothing, and went on
    doubling from there while the CA had said when to come back."""
    stub = AcmeStub(nonce_down=True, retry_after="7200")
    s = stub_server(stub)
    try:
        assert s.wait_log("event=attempt_failed", timeout=20), s.log_text()[-3000:]
        lines = [l for l in s.log_text().splitlines() if "event=attempt_failed" in l]
        assert len(lines) == 1, lines
        assert "HTTP 503" in lines[0] and "retry_in=7200" in lines[0], lines[0]
        assert ("POST", "/acct") not in stub.requests, stub.requests
        js = settings(s)
        assert 7100 < js["acme"]["next_run"] - time.time() <= 7200, js["acme"]
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_deactivated_account_is_replaced():
    """The account deactivated (by its holder, or the CA: RFC 8555
    §7.3.6): newAccount with its key is answered 403 unauthorized, at
    every attempt, for ever: tern never got a certificate again. Now a
    new account key is made and a new account created with it (once per
    attempt), stored only once the CA created the account, and used from
    then on, across restarts."""
    stub = AcmeStub(mode="ari", deactivated_first_key=True)
    s = stub_server(stub)
    try:
        if not s.wait_log("event=certificate_installed", timeout=30):
            raise AssertionError(s.log_text()[-3000:])
        log = s.log_text()
        assert "event=account_deactivated" in log, log[-3000:]
        assert "event=attempt_failed" not in log, log[-3000:]
        assert len(stub.acct_keys) == 2 and stub.acct_keys[0] != stub.acct_keys[1], stub.acct_keys
        assert "event=account created=1" in log
        # The new key is the one stored: a restart and a renewal use it.
        s.stop()
        s.start()
        assert s.wait_log("event=certificate_loaded", timeout=20)
        assert s.cli("acme", "renew").returncode == 0
        assert s.wait_log(re.compile(r"event=certificate_loaded(.*\n)*.*event=certificate_installed"),
                          timeout=30), s.log_text()[-3000:]
        assert stub.acct_keys[2:] == [stub.acct_keys[1]], stub.acct_keys
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_failure_wait_kept_across_restart():
    """The wait after a failed attempt (the CA's Retry-After, or the
    back-off) held only in memory: a restart (a container restarted, an
    operator trying again) ordered at once, into the same 429, and a
    crash loop with a broken challenge spent Let's Encrypt's failed
    validations (5 an hour) on every start. Now the wait, the back-off
    and the reason are stored: a restart with the same settings waits
    the rest (event=attempt_held), the settings still show the error,
    `tern acme renew` still orders at once, and so does a restart with a
    setting changed."""
    stub = AcmeStub()
    s = stub_server(stub)
    try:
        assert s.wait_log("event=attempt_failed", timeout=20), s.log_text()[-3000:]
        assert "retry_in=3600" in s.log_text()
        orders = stub.requests.count(("POST", "/order"))
        s.stop()
        s.start()
        if not s.wait_log(re.compile(r"event=started(.*\n)*.*event=attempt_held"), timeout=20):
            raise AssertionError(s.log_text()[-3000:])
        held = [l for l in s.log_text().splitlines() if "event=attempt_held" in l][-1]
        m = re.search(r"retry_in=(\d+)", held)
        assert m and 3500 < int(m.group(1)) <= 3600, held
        js = settings(s)
        assert js["acme"]["state"] == "failed" and "rate limited" in js["acme"]["last_error"], js
        assert 3500 < js["acme"]["next_run"] - time.time() <= 3600, js["acme"]
        assert stub.requests.count(("POST", "/order")) == orders, stub.requests
        # tern acme renew is not held.
        assert s.cli("acme", "renew").returncode == 0
        deadline = time.time() + 20
        while stub.requests.count(("POST", "/order")) == orders and time.time() < deadline:
            time.sleep(0.1)
        assert stub.requests.count(("POST", "/order")) == orders + 1, stub.requests
        # A setting changed since the failure (the operator's fix): at once.
        assert s.wait_log(re.compile(r"renew_requested(.*\n)*.*event=attempt_failed"), timeout=20)
        s.stop()
        s.env["TERN_ACME_PREFERRED_CHAIN"] = "Some Root"
        s.start()
        deadline = time.time() + 20
        while stub.requests.count(("POST", "/order")) == orders + 1 and time.time() < deadline:
            time.sleep(0.1)
        assert stub.requests.count(("POST", "/order")) == orders + 2, stub.requests
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_user_action_required_names_where_to_act():
    """userActionRequired (new terms of service, RFC 8555 §7.3.3): the
    failure names the problem's instance URL, the page where the
    operator acts; externalAccountRequired (§7.3.4) names the settings
    that give the binding. Before, only "HTTP 403 userActionRequired:
    Terms of service have changed", and no way to know where to go."""
    for mode, want in (("user_action", "visit https://127.0.0.1:%d/tos-agree"),
                       ("eab", "set TERN_ACME_EAB_KID and TERN_ACME_EAB_HMAC_KEY")):
        stub = AcmeStub(mode=mode)
        s = stub_server(stub)
        try:
            assert s.wait_log("event=attempt_failed", timeout=20), s.log_text()[-3000:]
            line = [l for l in s.log_text().splitlines() if "event=attempt_failed" in l][0]
            assert "step=order" in line and (want % stub.port if "%d" in want else want) in line, line
            assert (want % stub.port if "%d" in want else want) in settings(s)["acme"]["last_error"]
        finally:
            s.stop()
            s.cleanup()
            stub.close()


def test_acme_refuses_a_certificate_expired_or_for_other_names():
    """A CA whose certificate matches the key but is expired, or names
    another host, is not installed: the attempt fails at the certificate
    step, the self-signed pair stays, and the next attempt waits the
    back-off (an expired one used to be installed and renewed at once,
    over and over, a full order a second against the CA)."""
    for bad, why in (("expired", "expired"), ("other_name", "does not name mail.acme.test")):
        stub = AcmeStub(mode="ari", bad_leaf=bad)
        s = stub_server(stub)
        try:
            assert s.wait_log("event=attempt_failed", timeout=20), s.log_text()[-3000:]
            time.sleep(2)
            log = s.log_text()
            assert "event=certificate_installed" not in log, log[-3000:]
            failed = [l for l in log.splitlines() if "event=attempt_failed" in l]
            assert len(failed) == 1 and "step=certificate" in failed[0] and why in failed[0], failed
            assert "retry_in=60" in failed[0], failed
            assert stub.issued == 1, stub.issued
            assert "stub CA" not in served_cert(s.imaps_port)[0]
        finally:
            s.stop()
            s.cleanup()
            stub.close()


def test_acme_order_invalid_says_why():
    """An order the CA turns invalid after finalize (its CAA check at
    issuance): the failure names the order's error (RFC 8555 §7.1.3),
    not just "order became invalid", and the back-off follows."""
    stub = AcmeStub(mode="order_invalid")
    s = stub_server(stub)
    try:
        assert s.wait_log("event=attempt_failed", timeout=20), s.log_text()[-3000:]
        lines = [l for l in s.log_text().splitlines() if "event=attempt_failed" in l]
        assert len(lines) == 1 and "step=order_poll" in lines[0], lines
        assert ("order became invalid: caa: CAA record for mail.acme.test prevents issuance"
                in lines[0]), lines[0]
        assert "retry_in=60" in lines[0], lines[0]
        js = settings(s)
        assert "CAA record" in js["acme"]["last_error"], js["acme"]
        assert metric(s, "tern_acme_failing") == 1
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_certificate_without_common_name_kept_across_restart():
    """A certificate whose subject is empty, the names in its
    subjectAltName only (Let's Encrypt's tlsserver and shortlived
    profiles; CAs are dropping the Common Name): a restart must load it
    from the store. It was loaded only when its CN equalled TERN_HOSTNAME,
    so every restart served the self-signed pair and ordered again, until
    the CA's duplicate-certificate limit (5 a week) left the server
    self-signed for days."""
    stub = AcmeStub(mode="ari", bad_leaf="no_cn", ari_open_first=False)
    s = stub_server(stub)
    try:
        assert s.wait_log("event=certificate_installed", timeout=20), s.log_text()[-3000:]
        assert stub.issued == 1
        s.stop()
        s.start()
        assert s.wait_log("event=certificate_loaded", timeout=10), s.log_text()[-3000:]
        assert "stub CA" in served_cert(s.imaps_port)[0]
        time.sleep(1)
        assert stub.issued == 1, stub.issued
        js = settings(s)
        assert js["tls"]["names"] == HOST and js["tls"]["self_signed"] is False, js["tls"]
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_certificate_download_retried_not_reordered():
    """The CA issued, then its certificate URL answers 503 (busy) twice:
    the download is tried again after its Retry-After, the same
    certificate installed. The attempt used to fail and the next one
    made a new order, another certificate for the same names each time
    (Let's Encrypt issues 5 a week): a CA busy for half an hour used the
    week's allowance while the old certificate ran out."""
    stub = AcmeStub(mode="ari", ari_open_first=False, cert_fail=2)
    s = stub_server(stub)
    try:
        assert s.wait_log("event=certificate_installed", timeout=15), s.log_text()[-3000:]
        log = s.log_text()
        assert "event=attempt_failed" not in log, log[-3000:]
        assert len(re.findall(r"event=retry step=certificate status=503", log)) == 2, log[-3000:]
        assert stub.issued == 1 and stub.cert_fail == 0, stub.issued
        assert [r for r in stub.requests if r == ("POST", "/order")] == [("POST", "/order")]
        assert "stub CA" in served_cert(s.imaps_port)[0]
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_rate_limited_after_finalize_waits_not_reordered():
    """After finalize the order is "processing"; its polls and then the
    certificate's download are answered 429 rateLimited with Retry-After
    (RFC 8555 section 6.6: a CA limiting its request rate). Each is tried
    again after the Retry-After, as a 5xx is, and the one certificate
    issued is installed. A 429 there failed the attempt, and the next
    attempt after the back-off made a new order: another certificate
    for the same names (Let's Encrypt issues 5 a week)."""
    stub = AcmeStub(mode="ari", ari_open_first=False, processing=(1, 1), limited=(2, 1))
    s = stub_server(stub)
    try:
        assert s.wait_log("event=certificate_installed", timeout=30), s.log_text()[-3000:]
        log = s.log_text()
        assert "event=attempt_failed" not in log, log[-3000:]
        retries = re.findall(r"event=retry step=(\S+) status=429 error=\"?rate limited", log)
        assert retries == ["order_poll", "order_poll", "certificate"], (retries, log[-3000:])
        assert stub.issued == 1 and stub.limited == [0, 0], (stub.issued, stub.limited)
        assert stub.requests.count(("POST", "/order")) == 1, stub.requests
        assert "stub CA" in served_cert(s.imaps_port)[0]
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_finalize_lost_is_sent_again():
    """The finalize request gets no answer (the connection closes before
    the CA took it), and the order, polled, is still "ready" (RFC 8555
    §7.1.6: waiting for finalize): tern sends finalize again, with the
    same key, and installs the certificate. It used to poll the "ready"
    order for half an hour (the poll budget) before giving the attempt
    up and starting a new order."""
    stub = AcmeStub(mode="ari", ari_open_first=False, finalize_lost=2)
    s = stub_server(stub)
    try:
        assert s.wait_log("event=certificate_installed", timeout=40), s.log_text()[-3000:]
        log = s.log_text()
        assert "event=attempt_failed" not in log, log[-3000:]
        assert len(re.findall(r"event=finalize_resent", log)) == 2, log[-3000:]
        assert [r for r in stub.requests if r == ("POST", "/order")] == [("POST", "/order")]
        assert stub.requests.count(("POST", "/finalize")) == 3, stub.requests
        assert stub.issued == 1 and len(stub.csrs) == 1, stub.issued
        assert "stub CA" in served_cert(s.imaps_port)[0]
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_bad_nonce_retried_with_the_error_nonce():
    """RFC 8555 §6.5: a badNonce answer carries a fresh nonce, and the
    client retries with it. The CA rejects the nonces of twelve newOrder
    POSTs in a row (pebble rejects 15% by default, and a CA behind a
    balancer whose nonces do not travel more): each resend carries the
    nonce of the rejection before it (no newNonce request between), and
    the order goes through. tern used to give up after 5 sends, failing
    the attempt for a minute's back-off."""
    stub = AcmeStub(mode="ari", ari_open_first=False, bad_nonces=12)
    s = stub_server(stub)
    try:
        assert s.wait_log("event=certificate_installed", timeout=20), s.log_text()[-3000:]
        log = s.log_text()
        assert "event=attempt_failed" not in log, log[-3000:]
        assert stub.bad_nonces == 0
        orders = [(sent, given) for path, sent, given in stub.post_nonces if path == "/order"]
        assert len(orders) == 13, orders
        # Every resend: the nonce of the rejection just before it.
        assert all(sent == given for sent, given in orders[1:]), orders
        first = stub.requests.index(("POST", "/order"))
        assert ("HEAD", "/nonce") not in stub.requests[first:], stub.requests
        assert len(re.findall(r"event=bad_nonce step=order", log)) == 12, log[-3000:]
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def stored_certificate_replaced(spoil, first_leaf=None):
    """Gets a certificate from the stub, stops the server, spoil(s)
    makes the stored one unfit and returns the log line (a pattern)
    expected at the next start; then checks that start says so, loads
    nothing and serves a new certificate."""
    stub = AcmeStub(mode="ari", ari_open_first=False, first_leaf=first_leaf)
    s = stub_server(stub)
    try:
        assert s.wait_log("event=certificate_installed", timeout=20), s.log_text()[-3000:]
        first = served_cert(s.imaps_port)[3]
        s.stop()
        want = spoil(s)
        mark = len(s.log_text())
        s.start()
        assert s.wait_log(re.compile(r"(?s)event=certificate_installed.*"
                                     r"event=certificate_installed"), timeout=20), \
            s.log_text()[-3000:]
        after = s.log_text()[mark:]  # this start's
        assert re.search(want, after), after[-3000:]
        assert "event=certificate_loaded" not in after, after[-3000:]
        assert stub.issued == 2, stub.issued
        assert served_cert(s.imaps_port)[3] != first
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_stored_certificate_expired_at_start_is_logged_and_replaced():
    """A server down while its certificate ran out: at start the stored
    certificate is not served, a log line says why (it expired, and
    when), and a new one is ordered and served. The stored one used to
    be passed over without a word: an operator saw an order and, until
    it came, the self-signed certificate, with nothing saying why."""
    def expire(s):
        out = s.cli("acme", "status").stdout.decode()
        na = calendar.timegm(time.strptime(
            re.search(r"not_after: (\S+)", out).group(1), "%Y-%m-%dT%H:%M:%SZ"))
        while time.time() <= na + 1:  # the stored certificate runs out meanwhile
            time.sleep(0.2)
        assert s.cli("acme", "status").stdout.decode().startswith("expired"), out
        return r"level=warn module=acme event=stored_certificate_unused reason=expired " \
               r"not_after=%d " % na
    stored_certificate_replaced(expire, first_leaf=(-3600, 5))


def test_acme_stored_certificate_that_does_not_load_is_logged_and_replaced():
    """secrets.key replaced (a restore that missed it, a new volume): the
    stored certificate's key no longer opens. The start says so, tern
    acme status says so (it said "none", as if nothing were stored), and
    a new certificate is ordered."""
    def new_secrets(s):
        path = os.path.join(s.data, "secrets.key")
        size = os.path.getsize(path)
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        out = s.cli("acme", "status").stdout.decode()
        assert out.startswith("unusable: its key (acme/cert-key) is missing or does not "
                              "open with secrets.key\n"), out
        return r"level=warn module=acme event=stored_certificate_unused reason=unusable " \
               r"error=\"its key \(acme/cert-key\)"
    stored_certificate_replaced(new_secrets)


def listener_fingerprints(s, sieve_port):
    """{service: SHA-256 of the leaf served} on each TLS listener, a new
    connection each: implicit TLS on 465, 993, 995 and HTTPS, STARTTLS
    on 25, 587, 143 and 110, and ManageSieve's STARTTLS on sieve_port."""
    import hashlib
    import poplib
    import smtplib
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    fp = lambda sock: hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()
    out = {}
    for name, port in (("smtps", s.submissions_port), ("imaps", s.imaps_port),
                       ("pop3s", s.pop3s_port), ("https", s.https_port)):
        with socket.create_connection(("127.0.0.1", port), 10) as raw:
            with ctx.wrap_socket(raw, server_hostname=HOST) as t:
                out[name] = fp(t)
    for name, port in (("smtp", s.smtp_port), ("submission", s.submission_port)):
        c = smtplib.SMTP("127.0.0.1", port, timeout=10)
        c.starttls(context=ctx)
        out[name] = fp(c.sock)
        c.quit()
    c = imaplib.IMAP4("127.0.0.1", s.imap_port, timeout=10)
    c.starttls(ssl_context=ctx)
    out["imap"] = fp(c.sock)
    c.logout()
    c = poplib.POP3("127.0.0.1", s.pop3_port, timeout=10)
    c.stls(context=ctx)
    out["pop3"] = fp(c.sock)
    c.quit()
    with socket.create_connection(("127.0.0.1", sieve_port), 10) as raw:
        f = raw.makefile("rb")
        while not f.readline().startswith(b"OK"):  # the capabilities, then OK
            pass
        raw.sendall(b"STARTTLS\r\n")
        assert f.readline().startswith(b"OK"), "STARTTLS refused"
        with ctx.wrap_socket(raw, server_hostname=HOST) as t:
            out["sieve"] = fp(t)
    return out


def test_acme_renewed_certificate_on_every_listener():
    """tern acme renew on a running server: every TLS listener (SMTP,
    submission, IMAP, POP3 and ManageSieve STARTTLS; 465, 993, 995 and
    HTTPS) serves the new certificate to its next connection, without a
    restart; before, each served the first."""
    stub = AcmeStub(mode="ari", ari_open_first=False)
    sieve_port = free_port()
    s = Server(imap=True, pop3=True, submission=True, http=True, domains=(), env={
        "TERN_HOSTNAME": HOST, "TERN_ADMIN_PASSWORD": ADMIN_PW,
        "TERN_ACME_EMAIL": "admin@acme.test", "TERN_TLS_CA_FILE": stub.ca,
        "TERN_ACME_DIRECTORY": "https://127.0.0.1:%d/dir" % stub.port,
        "TERN_LISTEN_SIEVE": "127.0.0.1:%d" % sieve_port})
    try:
        assert s.wait_log("event=certificate_installed", timeout=20), s.log_text()[-3000:]
        first = listener_fingerprints(s, sieve_port)
        assert len(set(first.values())) == 1 and len(first) == 9, first
        mark = len(s.log_text())
        assert s.cli("acme", "renew").returncode == 0
        assert s.wait_log(re.compile(r"(?s)event=certificate_installed.*"
                                     r"event=certificate_installed"), timeout=30), \
            s.log_text()[mark:][-3000:]
        assert stub.issued == 2
        second = listener_fingerprints(s, sieve_port)
        assert len(set(second.values())) == 1, second
        assert set(second.values()) != set(first.values()), (first, second)
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def order_polls(stub):
    return len([r for r in stub.requests if r == ("POST", "/order/1")])


def test_acme_order_polls_back_off_without_retry_after():
    """The CA processes the order 8 s and says no Retry-After: tern
    backs off between polls (1, 2, 4, 8 s...), as RFC 8555 §7.5.1 asks
    of a client that must not hammer the CA. It used to poll every
    second (9 polls here) and give up after 60, a minute, on a CA
    that needed longer under load."""
    stub = AcmeStub(mode="ari", ari_open_first=False, processing=(8, None))
    s = stub_server(stub)
    try:
        assert s.wait_log("event=certificate_installed", timeout=40), s.log_text()[-3000:]
        assert "event=attempt_failed" not in s.log_text(), s.log_text()[-3000:]
        assert 2 <= order_polls(stub) <= 5, stub.requests
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_order_polls_honour_a_long_retry_after():
    """The CA processes the order 11 s and answers Retry-After: 12: tern
    polls once, 12 s on (RFC 8555 §7.5.1, §8.2). It used to cap the
    wait at 10 s, a poll the CA had asked it not to make."""
    stub = AcmeStub(mode="ari", ari_open_first=False, processing=(11, 12))
    s = stub_server(stub)
    try:
        assert s.wait_log("event=certificate_installed", timeout=40), s.log_text()[-3000:]
        assert order_polls(stub) == 1, stub.requests
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_email_changed_updates_the_account_contact():
    """TERN_ACME_EMAIL changed after the account exists: the next start
    updates the account's contact (RFC 8555 §7.3.2, a POST to the account
    URL), without ordering a certificate; it was never updated, so the
    CA wrote to the old address. A restart with the same address asks
    nothing."""
    stub = AcmeStub(mode="ari", ari_open_first=False)
    s = stub_server(stub)
    try:
        assert s.wait_log("event=certificate_installed", timeout=15), s.log_text()[-3000:]
        assert stub.posts[0] == ("/acct", stub.posts[0][1])
        assert stub.posts[0][1]["contact"] == ["mailto:admin@acme.test"], stub.posts[0]
        s.stop()
        s.env["TERN_ACME_EMAIL"] = "new-admin@acme.test"
        s.start()
        assert s.wait_log("event=account_contact_updated", timeout=15), s.log_text()[-3000:]
        assert "contact=mailto:new-admin@acme.test" in s.log_text().split("event=account_contact_updated")[1].splitlines()[0]
        acct = [p for p in stub.posts if p[0] == "/acct"]
        assert len(acct) == 2 and acct[1][1].get("onlyReturnExisting") is True, acct
        assert stub.posts[-1] == ("/acct/1", {"contact": ["mailto:new-admin@acme.test"]}), stub.posts
        assert stub.issued == 1 and len(stub.orders) == 1, stub.orders
        assert "event=attempt_failed" not in s.log_text()
        s.stop()
        n, ari = len(stub.posts), len(stub.ari_ids)
        s.start()
        # the renewal-information check, 1 s after the certificate is
        # loaded, comes after any account request (one at a time)
        deadline = time.time() + 15
        while len(stub.ari_ids) == ari and time.time() < deadline:
            time.sleep(0.1)
        assert len(stub.ari_ids) > ari, s.log_text()[-3000:]
        assert len(stub.posts) == n, stub.posts[n:]
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_directory_changed_orders_from_the_new_ca():
    """TERN_ACME_DIRECTORY changed (Let's Encrypt's staging for a trial,
    then production; or another CA): the stored certificate, from the old
    CA, serves only until the new CA's, ordered at the start, not at its
    renewal two months on (a staging certificate, trusted by nobody, was
    kept that long); the order replaces nothing (RFC 9773 §5: the new CA
    never issued it). A restart with the directory unchanged orders
    nothing."""
    stub = AcmeStub(mode="ari", ari_open_first=False)
    s = stub_server(stub)
    try:
        assert s.wait_log("event=certificate_installed", timeout=20), s.log_text()[-3000:]
        first = served_cert(s.imaps_port)[3]
        s.stop()
        s.start()
        assert s.wait_log("event=certificate_loaded", timeout=10), s.log_text()[-3000:]
        time.sleep(1)
        assert stub.issued == 1 and "event=directory_changed" not in s.log_text()
        s.stop()
        s.env["TERN_ACME_DIRECTORY"] = "https://127.0.0.1:%d/production/dir" % stub.port
        s.start()
        after = lambda: s.log_text().split("event=certificate_loaded")[-1]
        deadline = time.time() + 20
        while "event=certificate_installed" not in after() and time.time() < deadline:
            time.sleep(0.2)
        assert "event=certificate_installed" in after(), s.log_text()[-3000:]
        assert "event=directory_changed" in after() and "renew=now" in after(), after()
        assert stub.issued == 2, stub.issued
        assert "replaces" not in stub.orders[-1], stub.orders
        assert served_cert(s.imaps_port)[3] != first
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_authorization_for_a_name_not_ordered_is_refused():
    """An authorization whose identifier tern did not order (here a
    hostile CA's evil.example) gets no TLS-ALPN-01 answer: tern used to
    put a challenge certificate for it on every TLS listener and, the
    clean-up covering only the names ordered, left it there, answering
    acme-tls/1 for that name (and offering ALPN on every handshake) until
    a restart."""
    stub = AcmeStub(mode="authz_other")
    s = stub_server(stub, TERN_ACME_CHALLENGE="tls-alpn-01")
    try:
        assert s.wait_log("event=attempt_failed", timeout=20), s.log_text()[-3000:]
        line = [l for l in s.log_text().splitlines() if "event=attempt_failed" in l][0]
        assert "step=authz" in line and "evil.example" in line, line
        assert ("POST", "/chall/1") not in stub.requests, stub.requests
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["acme-tls/1"])
        try:
            with socket.create_connection(("127.0.0.1", s.imaps_port), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname="evil.example") as t:
                    alpn = t.selected_alpn_protocol()
        except (ssl.SSLError, OSError):
            alpn = None
        assert alpn is None, alpn
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_retry_after_too_short_is_raised_to_the_backoff():
    """A CA (or a proxy in front of it) answering every failure with
    Retry-After: 1 does not get a full attempt a second: the wait is
    at least the back-off's first minute."""
    stub = AcmeStub(retry_after="1")
    s = stub_server(stub)
    try:
        assert s.wait_log("event=attempt_failed", timeout=20), s.log_text()[-3000:]
        time.sleep(2.5)
        lines = [l for l in s.log_text().splitlines() if "event=attempt_failed" in l]
        assert len(lines) == 1, lines
        assert "retry_in=60" in lines[0], lines[0]
        assert stub.requests.count(("POST", "/order")) == 1, stub.requests
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_retry_after_too_long_waits_the_longest():
    """A CA asking for more than the longest wait (here 58 days) gets the
    longest, a day: the Retry-After was dropped and the next attempt came
    after the back-off's first minute."""
    stub = AcmeStub(retry_after="5000000")
    s = stub_server(stub)
    try:
        assert s.wait_log("event=attempt_failed", timeout=20), s.log_text()[-3000:]
        line = [l for l in s.log_text().splitlines() if "event=attempt_failed" in l][0]
        assert "retry_in=86400" in line, line
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_certificate_and_key_stored_together_or_not_at_all():
    """A renewal whose key cannot be stored (secrets.key unreadable at
    that moment; a kill -9 between two writes is the same) must leave the
    stored pair as it was: tern wrote the new chain, then failed on its
    key, and the next start found a chain that did not match the stored
    key, so it had no certificate at all and ordered again."""
    stub = AcmeStub(mode="ari", ari_open_first=False)
    s = stub_server(stub)
    secrets = os.path.join(s.data, "secrets.key")
    try:
        assert s.wait_log("event=certificate_installed", timeout=30), s.log_text()[-3000:]
        first = served_cert(s.imaps_port)[3]
        os.rename(secrets, secrets + ".away")
        os.mkdir(secrets)  # reading it fails: the new key cannot be sealed
        assert s.cli("acme", "renew").returncode == 0
        assert s.wait_log("event=store_failed", timeout=30), s.log_text()[-3000:]
        assert stub.issued == 2
        os.rmdir(secrets)
        os.rename(secrets + ".away", secrets)
        s.stop()
        s.start()
        assert s.wait_log("event=certificate_loaded", timeout=20), s.log_text()[-3000:]
        assert served_cert(s.imaps_port)[3] == first
        assert stub.issued == 2
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_certificate_kept_across_sighup():
    """SIGHUP (log rotation, tern dmarc report) reloads the TLS
    configuration: with ACME on and no TERN_TLS_CERT, it put the
    self-signed pair back as the default, so a client sending no SNI or
    another name (most MX senders send none) got the self-signed
    certificate, and the Settings page and /metrics reported it, until
    the next renewal or restart."""
    stub = AcmeStub(mode="ari", ari_open_first=False)
    s = stub_server(stub)
    try:
        assert s.wait_log("event=certificate_installed", timeout=30), s.log_text()[-3000:]
        first = served_cert(s.imaps_port, "other.example")[3]
        assert "stub CA" in served_cert(s.imaps_port, "other.example")[0]
        s.proc.send_signal(signal.SIGHUP)
        assert s.wait_log("event=reload_kept reason=acme_certificate", timeout=10), \
            s.log_text()[-3000:]
        issuer, _, _, serial = served_cert(s.imaps_port, "other.example")
        assert "stub CA" in issuer and serial == first, (issuer, serial, first)
        assert served_cert(s.imaps_port)[3] == first
        js = settings(s)
        assert js["tls"]["self_signed"] is False and js["tls"]["source"] == "acme", js["tls"]
        assert stub.issued == 1
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_renewal_drops_the_names_it_no_longer_covers():
    """A renewed certificate without a name the previous one had (a
    domain removed, its DNS moved): that name's SNI gets the current
    certificate, not the previous one, kept under it until a restart
    and served after it expired. The first lives a minute, so the
    renewal its renewal information asks for at once comes 6 s later
    (the hold after an install)."""
    stub = AcmeStub(mode="ari", bad_leaf="extra_first", first_leaf=(-1, 59))
    s = stub_server(stub)
    try:
        deadline = time.time() + 40
        while s.log_text().count("event=certificate_installed") < 2 and time.time() < deadline:
            time.sleep(0.2)
        assert s.log_text().count("event=certificate_installed") == 2, s.log_text()[-3000:]
        current = served_cert(s.imaps_port)[3]
        assert served_cert(s.imaps_port, "extra.acme.test")[3] == current
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_authorization_not_pending_is_not_answered():
    """RFC 8555 §7.1.6: only a pending authorization's challenge is
    answered; one already invalid (or expired, deactivated, revoked)
    fails the attempt at once, naming its state, without a challenge
    answer put up and posted for nothing."""
    stub = AcmeStub(mode="authz_other", authz=(HOST, "deactivated"))
    s = stub_server(stub)
    try:
        assert s.wait_log("event=attempt_failed", timeout=20), s.log_text()[-3000:]
        line = [l for l in s.log_text().splitlines() if "event=attempt_failed" in l][0]
        assert "step=authz" in line and "deactivated" in line, line
        assert ("POST", "/chall/1") not in stub.requests, stub.requests
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_renewal_information_moves_the_renewal():
    """RFC 9773 (pebble 2.4 has none): the stub's directory names a
    renewalInfo URL; for the first certificate it suggests a window that
    is already open, so tern renews at once; for the second a window a
    month out, which changes nothing. The identifier tern asks with is the
    certificate's AKI keyIdentifier and serial, base64url. The first one
    lives a minute: "at once" is held to a tenth of that after its install
    (event=renewal_held), not taken at once, else a CA whose window says
    "now" for each new certificate gets an order after each."""
    import base64
    stub = AcmeStub(mode="ari", first_leaf=(-1, 59))
    s = stub_server(stub)
    try:
        deadline = time.time() + 40
        while s.log_text().count("event=certificate_installed") < 2 and time.time() < deadline:
            time.sleep(0.2)
        log = s.log_text()
        assert log.count("event=certificate_installed") == 2, log[-4000:]
        moved = re.findall(r"event=renewal_moved_by_ari renew_in=(\d+)", log)
        assert moved and 1 <= int(moved[0]) <= 6, log[-3000:]
        assert "event=renewal_held" in log, log[-3000:]
        assert s.wait_log("event=ari_window", timeout=10)
        deadline = time.time() + 10
        while len(stub.ari_ids) < 2 and time.time() < deadline:
            time.sleep(0.2)
        assert len(stub.ari_ids) == 2, stub.ari_ids
        # The first identifier is the first certificate's.
        t = subprocess.run(["openssl", "x509", "-noout", "-serial", "-ext", "authorityKeyIdentifier",
                            "-in", os.path.join(stub.tmp, "leaf1.pem")],
                           stdout=subprocess.PIPE, check=True).stdout.decode()
        serial = bytes.fromhex(re.search(r"serial=([0-9A-F]+)", t).group(1))
        if serial[0] & 0x80:
            serial = b"\0" + serial
        aki = bytes.fromhex(re.search(r"([0-9A-F]{2}(:[0-9A-F]{2})+)", t.split("Identifier")[1]).group(1).replace(":", ""))
        b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
        assert stub.ari_ids[0] == b64(aki) + "." + b64(serial), (stub.ari_ids, t)
        assert stub.ari_ids[1] != stub.ari_ids[0]
        # RFC 9773 §5: the first order replaces nothing; the renewal names
        # the certificate it replaces by that same identifier.
        assert len(stub.orders) == 2, stub.orders
        assert "replaces" not in stub.orders[0], stub.orders
        assert stub.orders[1].get("replaces") == stub.ari_ids[0], (stub.orders, stub.ari_ids)
        # RFC 9773 §4.2: the explanationURL goes to the operator (the log),
        # never fetched by tern.
        assert 'explanation="https://127.0.0.1:%d/why?n=1"' % stub.port in log, log[-3000:]
        time.sleep(1)
        assert s.log_text().count("event=certificate_installed") == 2
        assert "stub CA" in served_cert(s.imaps_port)[0]
        assert not [r for r in stub.requests if r[1].startswith("/why")], stub.requests
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_renewal_already_replaced_orders_without_replaces():
    """RFC 9773 §5: a CA refuses a newOrder whose "replaces" names a
    certificate another order (not invalid) already replaces, 409
    alreadyReplaced; Boulder counts an order left pending, by an attempt
    given up or a restart mid-order, for a week. Every renewal then
    failed the same way until the certificate expired. Now the order is
    sent again at once without "replaces" (event=replaces_dropped)."""
    stub = AcmeStub(mode="ari", first_leaf=(-1, 59), already_replaced=True)
    s = stub_server(stub)
    try:
        deadline = time.time() + 40
        while s.log_text().count("event=certificate_installed") < 2 and time.time() < deadline:
            time.sleep(0.2)
        log = s.log_text()
        assert log.count("event=certificate_installed") == 2, log[-4000:]
        assert "event=attempt_failed" not in log, log[-3000:]
        assert "event=replaces_dropped" in log, log[-3000:]
        assert len(stub.orders) == 3, stub.orders
        assert "replaces" in stub.orders[1] and "replaces" not in stub.orders[2], stub.orders
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_renewal_held_after_install():
    """A CA whose certificates are already due for renewal (60 of 90
    days gone: an old notBefore, or a clock far behind): each one
    installed used to be renewed a second later, a full order a second
    against the CA for as long as it lasted. Now the renewal is held 6
    hours after an install (a tenth of the lifetime, at most 6 h), and
    tern acme renew is not held."""
    stub = AcmeStub(mode="ari", bad_leaf="due", ari_open_first=False)
    s = stub_server(stub)
    try:
        assert s.wait_log("event=certificate_installed", timeout=30), s.log_text()[-3000:]
        assert s.wait_log("event=renewal_held", timeout=5), s.log_text()[-3000:]
        time.sleep(3)
        log = s.log_text()
        assert stub.issued == 1 and log.count("event=certificate_installed") == 1, log[-3000:]
        held = [l for l in log.splitlines() if "event=renewal_held" in l]
        assert len(held) == 1 and "renew_in=21600" in held[0], held
        js = settings(s)
        assert 21000 < js["acme"]["next_run"] - time.time() <= 21600, js["acme"]
        assert s.cli("acme", "renew").returncode == 0
        deadline = time.time() + 30
        while s.log_text().count("event=certificate_installed") < 2 and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(2)
        assert s.log_text().count("event=certificate_installed") == 2, s.log_text()[-3000:]
        assert stub.issued == 2, stub.issued
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_renewal_information_moment_kept_for_the_same_window():
    """RFC 9773 §4.2: one uniformly random moment in the window. Every
    check (every 6 hours, and after each restart) drew a new one and kept
    it when earlier: over the weeks before the window the renewal slid to
    its start, where every client of the CA ended up together. The moment
    is now the certificate's own: the same window gives the same one."""
    stub = AcmeStub(mode="ari", ari_open_first=False)
    s = stub_server(stub)
    try:
        moved = re.compile(r"time=(\S+)Z .*event=renewal_moved_by_ari renew_in=(\d+)")
        deadline = time.time() + 30
        while len(moved.findall(s.log_text())) < 1 and time.time() < deadline:
            time.sleep(0.05)
        s.stop()
        s.start()
        while len(moved.findall(s.log_text())) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert "event=certificate_loaded" in s.log_text(), s.log_text()[-3000:]
        # The moment: the line's time (to the second, as the server's clock
        # was when it chose) plus renew_in.
        at = [calendar.timegm(time.strptime(t.split(".")[0], "%Y-%m-%dT%H:%M:%S")) + int(n)
              for t, n in moved.findall(s.log_text())]
        assert len(at) == 2, s.log_text()[-3000:]
        assert stub.ari_later[0] - 1 <= at[0] <= stub.ari_later[1] + 1, (at, stub.ari_later)
        assert abs(at[0] - at[1]) <= 1, at
        assert stub.issued == 1 and len(stub.ari_ids) >= 2 and len(set(stub.ari_ids)) == 1
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_acme_renew_while_renewal_information_is_checked():
    """tern acme renew while the ARI check tern makes after installing a
    certificate is still out: the renewal waits for the check's answer. It
    used to start at once, and the late ARI answer, read as the answer to
    the order in flight (here the slow one), failed the attempt and put the
    renewal off by a minute's backoff (CI saw it under ASan)."""
    import threading
    hold = threading.Event()
    stub = AcmeStub(mode="ari", ari_open_first=False, ari_hold=hold, renewal_order_delay=3)
    s = stub_server(stub)
    try:
        assert s.wait_log("event=certificate_installed", timeout=30), s.log_text()[-3000:]
        deadline = time.time() + 10
        while not stub.ari_ids and time.time() < deadline:
            time.sleep(0.05)
        assert stub.ari_ids, stub.requests
        # The stub holds that answer until the server has seen the request.
        assert s.cli("acme", "renew").returncode == 0
        assert s.wait_log("event=renew_requested", timeout=15), s.log_text()[-3000:]
        hold.set()
        deadline = time.time() + 40
        while s.log_text().count("event=certificate_installed") < 2 and time.time() < deadline:
            time.sleep(0.2)
        log = s.log_text()
        assert "event=renew_requested state=renewal_info" in log or \
            "event=renew_requested state=ari_directory" in log, log[-3000:]
        assert log.count("event=certificate_installed") == 2, log[-3000:]
        assert "event=attempt_failed" not in log, log[-3000:]
        assert len(stub.orders) == 2 and stub.orders[1].get("replaces") == stub.ari_ids[0], stub.orders
        assert "stub CA" in served_cert(s.imaps_port)[0]
    finally:
        s.stop()
        s.cleanup()
        stub.close()


def test_wizard_certificate_tick_turns_acme_on():
    """The wizard's "get a certificate from Let's Encrypt" stores the ACME
    e-mail; after a restart ACME runs with it (here it cannot reach Let's
    Encrypt: DNS is a closed loopback port, so the attempt fails at the
    directory, which is all this needs to show)."""
    from httpc import admin_server
    s, a = admin_server(domains=())
    try:
        st, _, body = a.call("PUT", "/setup/certificate", {"acme_email": "not-an-address"})
        assert st == 400 and body["field"] == "acme_email", body
        st, _, body = a.call("PUT", "/setup/certificate", {"acme_email": "me@example.test"})
        assert st == 200 and body["certificate"] == {"acme_email": "me@example.test", "locked": False}, body
        assert body["restart_required"] is True
        st, _, js = a.call("GET", "/settings")
        assert js["acme"]["state"] == "off"
        s.stop()
        s.start()
        assert s.wait_log("event=attempt_failed step=directory", timeout=30), s.log_text()[-3000:]
        a = Api(s)
        a.login("admin-password-1-Vq8r")
        st, _, js = a.call("GET", "/settings")
        assert js["acme"]["enabled"] is True and js["acme"]["state"] == "failed", js["acme"]
        assert "acme-v02.api.letsencrypt.org" in js["acme"]["directory"]
    finally:
        s.stop()
        s.cleanup()
    # Set by the environment: locked.
    s, a = admin_server(domains=(), env={"TERN_ACME_EMAIL": "env@example.test",
                                         "TERN_ACME_DIRECTORY": "https://127.0.0.1:9/dir"})
    try:
        st, _, body = a.call("PUT", "/setup/certificate", {"acme_email": "me@example.test"})
        assert st == 409 and body["code"] == "locked", body
        st, _, body = a.call("GET", "/setup")
        assert body["certificate"] == {"acme_email": "env@example.test", "locked": True}, body
    finally:
        s.stop()
        s.cleanup()


def test_user_certificate_files_reload_when_changed():
    """TERN_TLS_CERT/TERN_TLS_KEY replaced on disk (as certbot or Traefik
    do) are picked up within seconds without a SIGHUP; ACME stays off."""
    tmp = tempfile.mkdtemp(prefix="tern-usercert-")
    crt, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")

    def make(cn):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key + ".new", "-out",
                        crt + ".new", "-days", "5", "-subj", "/CN=" + cn,
                        "-addext", "subjectAltName=DNS:" + HOST],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.replace(key + ".new", key)
        os.replace(crt + ".new", crt)

    make("first.acme.test")
    s = Server(imap=True, http=True, domains=(), env={
        "TERN_HOSTNAME": HOST, "TERN_TLS_CERT": crt, "TERN_TLS_KEY": key,
        "TERN_ACME_EMAIL": "admin@acme.test"})
    try:
        assert "first.acme.test" in served_cert(s.imaps_port)[1]
        time.sleep(1.1)  # a new mtime even on coarse clocks
        make("second.acme.test")
        assert s.wait_log("event=tls_reloaded reason=files_changed", timeout=15), s.log_text()[-2000:]
        assert "second.acme.test" in served_cert(s.imaps_port)[1]
        assert "module=acme" not in s.log_text()
        assert s.cli("acme", "status").stdout.decode().splitlines()[-1] == "acme: off (TERN_TLS_CERT)"
    finally:
        s.stop()
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_user_certificate_not_yet_valid_loaded_when_valid():
    """A renewed TERN_TLS_CERT/TERN_TLS_KEY pair not valid yet when it
    lands (the CA's clock ahead of ours) is refused while the one in use is
    valid, and loaded once it becomes valid, without another change to the
    files: before, it was never looked at again, and the certificate in use
    was served after it expired with a valid one on disk."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    tmp = tempfile.mkdtemp(prefix="tern-usercert-")
    crt, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")

    def make(cn, not_before):
        k = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(k.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(not_before)
                .not_valid_after(not_before + datetime.timedelta(days=5))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
                .sign(k, hashes.SHA256()))
        with open(key + ".new", "wb") as f:
            f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
        with open(crt + ".new", "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        os.replace(key + ".new", key)
        os.replace(crt + ".new", crt)

    now = datetime.datetime.now(datetime.timezone.utc)
    make("first.acme.test", now - datetime.timedelta(days=1))
    s = Server(imap=True, domains=(), env={
        "TERN_HOSTNAME": HOST, "TERN_TLS_CERT": crt, "TERN_TLS_KEY": key})
    try:
        assert "first.acme.test" in served_cert(s.imaps_port)[1]
        # Valid in a while: the 5-second check sees the files well before.
        make("early.acme.test", datetime.datetime.now(datetime.timezone.utc) +
             datetime.timedelta(seconds=15))
        assert s.wait_log("event=reload_refused", timeout=15), s.log_text()[-2000:]
        assert "not valid before" in s.log_text()
        assert s.wait_log("event=tls_reloaded reason=now_valid", timeout=40), \
            s.log_text()[-2000:]
        assert "early.acme.test" in served_cert(s.imaps_port)[1]
    finally:
        s.stop()
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


EAB_KID = "kid-tern-1"
EAB_KEY = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"


def test_acme_external_account_binding():
    """A CA that requires External Account Binding (RFC 8555 §7.3.4,
    ZeroSSL's way): without TERN_ACME_EAB_* the attempt fails saying which
    variables to set; with them the account is bound and a certificate
    issued."""
    s = Server(imap=True, http=True, start=False, domains=())
    pebble = Pebble(s.http_port, s.https_port, eab={EAB_KID: EAB_KEY})
    try:
        s.env.update(acme_server(pebble, "tls-alpn-01"))
        s.start()
        assert s.wait_log("event=attempt_failed", timeout=20), s.log_text()[-3000:]
        assert "requires External Account Binding" in s.log_text(), s.log_text()[-3000:]
        s.stop()
        s.env.update({"TERN_ACME_EAB_KID": EAB_KID, "TERN_ACME_EAB_HMAC_KEY": EAB_KEY})
        s.start()
        wait_cert(s, pebble)
        assert "Pebble" in served_cert(s.imaps_port)[0]
        r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % s.imaps_port,
                            "-servername", HOST, "-showcerts"], input=b"",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        # The chain in full: the leaf and pebble's intermediate, which
        # clients need to reach the root.
        chain = re.findall(r"^ *\d+ s:(.*)$", r.stdout.decode(), re.M)
        assert len(chain) == 2 and "Pebble Intermediate" in chain[1], chain
        assert "event=account created=1" in s.log_text(), s.log_text()[-3000:]
    finally:
        s.stop()
        s.cleanup()
        pebble.close()
