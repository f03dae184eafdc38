"""The HTTP side beyond the API: curl over HTTPS with the generated
certificate, the HTTP->HTTPS redirect and its exceptions, security headers,
/healthz, /metrics parsed by a strict Prometheus text parser and its access
rule, Thunderbird autoconfig, Outlook autodiscover, the Apple profile
(plistlib), and the embedded UI: SPA fallback, ETag/304, gzip, path
traversal attempts."""
import gzip
import os
import plistlib
import re
import shutil
import smtplib
import socket
import subprocess
import xml.etree.ElementTree as ET

from harness import Server, free_port, message
from httpc import Api, admin_server

HOST = "mx.example.test"


def curl(s, *args, check=True):
    cert = os.path.join(s.data, "tls", "self-signed.crt")
    cmd = ["curl", "-sS", "--max-time", "20", "--cacert", cert,
           "--resolve", "%s:%d:127.0.0.1" % (HOST, s.https_port),
           "--resolve", "%s:%d:127.0.0.1" % (HOST, s.http_port)] + list(args)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError("curl %s: %s" % (args, r.stderr.decode()))
    return r


def headers_of(raw):
    """Last response's status and lowercased headers from curl -i/-D output."""
    blocks = [b for b in raw.replace("\r\n", "\n").split("\n\n") if b.startswith("HTTP/")]
    lines = blocks[-1].split("\n")
    status = int(lines[0].split()[1])
    h = {}
    for l in lines[1:]:
        if ":" in l:
            k, v = l.split(":", 1)
            h[k.strip().lower()] = v.strip()
    return status, h


def test_curl_https_redirect_and_headers():
    with Server(http=True) as s:
        https = "https://%s:%d" % (HOST, s.https_port)
        http = "http://%s:%d" % (HOST, s.http_port)
        # curl verifies the self-signed certificate tern generated for its host name.
        r = curl(s, "-D", "-", https + "/healthz")
        status, h = headers_of(r.stdout.decode())
        assert status == 200 and r.stdout.decode().endswith("ok\n"), r.stdout
        assert h["strict-transport-security"].startswith("max-age=")
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff" and h["referrer-policy"] == "no-referrer"
        # Keep-alive: several requests over one TLS connection.
        r = curl(s, "-w", "%{num_connects}\n", "-o", "/dev/null", "-o", "/dev/null",
                 https + "/healthz", https + "/healthz")
        assert r.stdout.decode().split() == ["1", "0"], r.stdout
        # Plain HTTP: redirected (301 for GET, 308 for others) to HTTPS...
        # The path and query go along, %-encoded again as sent.
        r = curl(s, "-D", "-", "-o", "/dev/null", http + "/accounts?x=1&q=a%20b%26c&flag")
        status, h = headers_of(r.stdout.decode())
        assert status == 301 and h["location"] == https + "/accounts?x=1&q=a%20b%26c&flag", h
        # The host is the server's name, never the request's Host: a forged
        # one made tern send the browser (or a cache) anywhere.
        for forged in ("evil.test", "evil.test:8443", "127.0.0.1"):
            r = curl(s, "-D", "-", "-o", "/dev/null", "-H", "Host: " + forged, http + "/a%3Fb/c?d=%2F")
            status, h = headers_of(r.stdout.decode())
            assert status == 301 and h["location"] == https + "/a%3Fb/c?d=%2F", (forged, h)
        assert "strict-transport-security" not in h and "content-security-policy" in h
        r = curl(s, "-D", "-", "-o", "/dev/null", "-X", "POST", "-d", "{}", http + "/api/v1/session")
        status, h = headers_of(r.stdout.decode())
        assert status == 308 and h["location"] == https + "/api/v1/session", h
        # ... and following the redirect ends on HTTPS.
        r = curl(s, "-L", "-o", "/dev/null", "-w", "%{url_effective} %{http_code}", http + "/api/v1/setup")
        assert r.stdout.decode() == https + "/api/v1/setup 200", r.stdout
        # Not redirected: health, ACME challenges, metrics, client autoconfiguration.
        assert curl(s, "-w", " %{http_code}", http + "/healthz").stdout.decode() == "ok\n 200"
        assert curl(s, "-o", "/dev/null", "-w", "%{http_code}",
                    http + "/.well-known/acme-challenge/abc").stdout.decode() == "404"
        assert curl(s, "-o", "/dev/null", "-w", "%{http_code}",
                    http + "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=bob%40example.test"
                    ).stdout.decode() == "200"
        assert curl(s, "-o", "/dev/null", "-w", "%{http_code}", http + "/metrics").stdout.decode() == "200"
        # HEAD and a method the UI never uses.
        r = curl(s, "-I", https + "/healthz")
        assert headers_of(r.stdout.decode())[0] == 200
        r = curl(s, "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", https + "/")
        assert r.stdout.decode() == "405"


PROM_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                       r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$')


def parse_prometheus(text):
    """Strict text format 0.0.4: HELP then TYPE before a family's samples,
    one TYPE per family, samples only of declared families, trailing
    newline. Returns {(name, labels): value} and {family: type}."""
    assert text.endswith("\n") and "\r" not in text, "line endings"
    types, helps, samples, seen_done = {}, {}, {}, set()
    current = None
    for line in text[:-1].split("\n"):
        assert line, "empty line"
        if line.startswith("# HELP "):
            name, _, doc = line[7:].partition(" ")
            assert name not in helps and doc, line
            helps[name] = doc
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert typ in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in types and name in helps, line
            if current:
                seen_done.add(current)
            types[name] = typ
            current = name
            continue
        assert not line.startswith("#"), line
        m = PROM_LINE.match(line)
        assert m, "bad sample line %r" % line
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        family = name
        if current and types[current] == "histogram" and name in (
                current + "_bucket", current + "_sum", current + "_count"):
            family = current
        assert family == current and family not in seen_done, "sample outside its family: %r" % line
        if types[family] == "histogram" and name.endswith("_bucket"):
            assert re.fullmatch(r'le="[^"]+"', labels), "histogram bucket without le: %r" % line
        if types[family] == "counter":
            assert name.endswith("_total"), name
            assert float(value) >= 0
        assert (name, labels) not in samples, "duplicate %r" % line
        samples[(name, labels)] = float(value)
    for fam, typ in types.items():
        if typ == "histogram":
            check_histogram(samples, fam)
    return samples, types


def check_histogram(samples, fam):
    """Buckets ascending by le and cumulative, the last one +Inf and equal
    to _count, a _sum present."""
    buckets = [(float(labels[4:-1].replace("+Inf", "inf")), v)
               for (name, labels), v in samples.items() if name == fam + "_bucket"]
    assert buckets and buckets[-1][0] == float("inf"), (fam, buckets)
    assert [le for le, _ in buckets] == sorted(le for le, _ in buckets), (fam, buckets)
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), (fam, buckets)
    assert buckets[-1][1] == samples[(fam + "_count", "")], fam
    assert samples[(fam + "_sum", "")] >= 0, fam


def promtool_check(body):
    """Prometheus's own checker too, where it is installed (Debian's prometheus package)."""
    promtool = shutil.which("promtool")
    if promtool:
        r = subprocess.run([promtool, "check", "metrics"], input=body.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert r.returncode == 0 and not r.stdout.strip(), (r.stdout, r.stderr)


def test_metrics_prometheus_text():
    with Server(http=True, pop3=True, accounts=[("bob@example.test", "bob-pw-1")]) as s:
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.sendmail("alice@remote.test", ["bob@example.test"], message())
            try:
                c.sendmail("alice@remote.test", ["nobody@example.test"], message())
            except smtplib.SMTPRecipientsRefused:
                pass
        r = curl(s, "-D", "-", "https://%s:%d/metrics" % (HOST, s.https_port))
        head, _, body = r.stdout.decode().partition("\r\n\r\n")
        assert "content-type: text/plain; version=0.0.4" in head.lower(), head
        samples, types = parse_prometheus(body)
        promtool_check(body)
        assert samples[("tern_messages_received_total", "")] == 1, samples
        assert samples[("tern_messages_rejected_total", "")] == 1, samples
        assert samples[("tern_connections_total", 'protocol="smtp"')] == 1
        assert samples[("tern_process_resident_memory_bytes", "")] > 1e6
        assert samples[("tern_store_bytes", "")] > 0
        # The one accepted message went through the store writer: one
        # delivery waited, at least one group commit carried it.
        assert types["tern_store_commit_seconds"] == "histogram"
        assert samples[("tern_store_delivery_wait_seconds_count", "")] == 1, samples
        assert samples[("tern_store_delivery_wait_seconds_sum", "")] > 0
        assert samples[("tern_store_commit_seconds_count", "")] == 1, samples
        assert 0 < samples[("tern_store_commit_seconds_sum", "")] <= \
            samples[("tern_store_delivery_wait_seconds_sum", "")]
        for fam in ("tern_messages_delivered_total", "tern_messages_deferred_total",
                    "tern_messages_bounced_total", "tern_queue_size", "tern_auth_failures_total"):
            assert fam in types, fam
        # The parser itself refuses what Prometheus refuses.
        for bad in ["x 1\n", "# HELP x a\n# TYPE x counter\nx 1", "# HELP x a\n# TYPE x counter\nx{a=b} 1\n",
                    "# HELP x_total a\n# TYPE x_total counter\nx_total 1\nx_total 2\n",
                    # histograms: not cumulative, +Inf not the count, le out of order
                    "# HELP h a\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                    "h_sum 1\nh_count 1\n",
                    "# HELP h a\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
                    "h_sum 1\nh_count 2\n",
                    "# HELP h a\n# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n"
                    "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"]:
            try:
                parse_prometheus(bad)
            except AssertionError:
                continue
            raise AssertionError("parser accepted %r" % bad)


def test_metrics_sessions_every_protocol():
    """tern_sessions had smtp (port 25 and submission together), imap and
    pop3: a submission or ManageSieve connection was invisible. Now one
    session open on each of port 25, submission and ManageSieve shows as
    one under its own label. A scraper asking for OpenMetrics first
    (Prometheus's Accept) gets the text format it also takes, said so in
    Content-Type, and a valid exposition."""
    sieve_port = free_port()
    with Server(http=True, submission=True,
                env={"TERN_LISTEN_SIEVE": "127.0.0.1:%d" % sieve_port}) as s:
        conns = []
        try:
            for port, greeting in ((s.smtp_port, b"220 "), (s.submission_port, b"220 "),
                                   (sieve_port, b"\r\nOK")):
                c = socket.create_connection(("127.0.0.1", port), timeout=20)
                conns.append(c)
                got = b""
                while greeting not in got:  # the session exists once it greets
                    chunk = c.recv(4096)
                    assert chunk, got
                    got += chunk
            accept = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                      "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
            for h in (accept, "application/openmetrics-text"):
                r = curl(s, "-D", "-", "-H", "Accept: " + h,
                         "https://%s:%d/metrics" % (HOST, s.https_port))
                head, _, body = r.stdout.decode().partition("\r\n\r\n")
                assert "content-type: text/plain; version=0.0.4; charset=utf-8" in head.lower(), head
                samples, _ = parse_prometheus(body)
                promtool_check(body)
                for proto, n in (("smtp", 1), ("submission", 1), ("sieve", 1), ("imap", 0),
                                 ("pop3", 0)):
                    assert samples.get(("tern_sessions", 'protocol="%s"' % proto)) == n, \
                        (proto, {k: v for k, v in samples.items() if k[0] == "tern_sessions"})
        finally:
            for c in conns:
                c.close()


def test_metrics_access_rule():
    with Server(http=True, env={"TERN_METRICS_ALLOW": "10.0.0.0/8"}) as s:
        st, _, p = Api(s).raw("GET", "/metrics")
        assert st == 403, p
        tok = s.cli("token", "add", "prometheus").stdout.decode().strip()
        st, _, body = Api(s).raw("GET", "/metrics", headers={"Authorization": "Bearer " + tok})
        assert st == 200 and b"tern_messages_received_total" in body
    r = Server(http=True, env={"TERN_METRICS_ALLOW": "10.0.0.0/33"}, start=False, domains=())
    try:
        out = r.cli("serve", check=False)
        assert out.returncode == 2 and b"TERN_METRICS_ALLOW" in out.stderr, out
    finally:
        r.cleanup()


def test_metrics_plain_http_token_scope():
    """Plain HTTP serves /metrics beside HTTPS, but from another host takes
    only a read-scope token there: an admin one is refused (and its owner
    told in the log) since it crossed the network in the clear. Another
    host is a client a trusted proxy on loopback names."""
    env = {"TERN_METRICS_ALLOW": "10.0.0.0/8", "TERN_TRUSTED_PROXIES": "127.0.0.1"}
    with Server(http=True, env=env) as s:
        admin = s.cli("token", "add", "scripts").stdout.decode().strip()
        read = s.cli("token", "add", "prometheus", "--read").stdout.decode().strip()

        def metrics(token, client=None, https=False):
            h = {"Authorization": "Bearer " + token} if token else {}
            if client:
                h["X-Forwarded-For"] = client
            return Api(s, https=https).raw("GET", "/metrics", headers=h)

        st, _, body = metrics(admin, "192.0.2.7")
        assert st == 403 and b"read-scope" in body, (st, body[:200])
        assert s.wait_log("event=token_refused reason=plain_http scope=admin ip=192.0.2.7")
        assert "event=auth_failed" not in s.log_text()  # a valid token is no failed login
        st, _, body = metrics(read, "192.0.2.7")
        assert st == 200 and b"tern_messages_received_total" in body, (st, body)
        # Over HTTPS the admin token still works; so does plain HTTP from this
        # host (scripts on it) and, without a token, TERN_METRICS_ALLOW.
        assert metrics(admin, "192.0.2.7", https=True)[0] == 200
        assert metrics(admin)[0] == 200
        assert metrics(None, "10.1.2.3")[0] == 200
        assert metrics(None, "192.0.2.7")[0] == 403


def test_autoconfig_autodiscover_mobileconfig():
    s, a = admin_server(imap=True, pop3=True, submission=True,
                        accounts=[("bob@example.test", "bob-password-1")])
    with s:
        st, hd, body = Api(s, https=False).raw(
            "GET", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=bob%40example.test")
        assert st == 200 and hd["content-type"].startswith("application/xml"), hd
        root = ET.fromstring(body)
        prov = root.find("emailProvider")
        assert prov.get("id") == "example.test" and prov.find("domain").text == "example.test"
        incoming = [(x.get("type"), int(x.find("port").text), x.find("socketType").text)
                    for x in prov.findall("incomingServer")]
        assert ("imap", s.imaps_port, "SSL") in incoming and ("imap", s.imap_port, "STARTTLS") in incoming
        assert ("pop3", s.pop3s_port, "SSL") in incoming, incoming
        out = [(int(x.find("port").text), x.find("socketType").text) for x in prov.findall("outgoingServer")]
        assert (s.submissions_port, "SSL") in out and (s.submission_port, "STARTTLS") in out, out
        assert all(x.find("hostname").text == HOST for x in prov.iter() if x.tag.endswith("Server"))
        assert Api(s).raw("GET", "/mail/config-v1.1.xml",
                          headers={"Host": "autoconfig.example.test"})[0] == 200
        # Only for a domain this server serves: settings for another
        # provider's addresses would bring their passwords here. Before,
        # every one below was answered 200 with our servers.
        for query, host in [("?emailaddress=eve%40elsewhere.test", None), ("", "autoconfig.elsewhere.test"),
                            ("", None)]:
            st, _, body = Api(s).raw("GET", "/mail/config-v1.1.xml" + query,
                                     headers={"Host": host} if host else None)
            assert st == 404 and b"clientConfig" not in body, (query, host, st, body)

        req = (b'<?xml version="1.0"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/'
               b'autodiscover/outlook/requestschema/2006"><Request><EMailAddress>bob@example.test'
               b'</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/'
               b'autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>')
        st, _, body = Api(s).raw("POST", "/autodiscover/autodiscover.xml", req,
                                 {"Content-Type": "text/xml"})
        assert st == 200, body
        ns = {"r": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
        protos = ET.fromstring(body).findall(".//r:Protocol", ns)
        got = {p.find("r:Type", ns).text: (int(p.find("r:Port", ns).text), p.find("r:LoginName", ns).text)
               for p in protos}
        assert got["IMAP"] == (s.imaps_port, "bob@example.test"), got
        assert got["SMTP"] == (s.submissions_port, "bob@example.test"), got
        # The address is XML text: its entities come back as the same
        # characters, not escaped twice ("&amp;amp;").
        st, _, body = Api(s).raw("POST", "/autodiscover/autodiscover.xml",
                                 req.replace(b"bob@example.test", b"o&apos;neil&amp;co@example.test"),
                                 {"Content-Type": "text/xml"})
        names = {p.find("r:LoginName", ns).text
                 for p in ET.fromstring(body).findall(".//r:Protocol", ns)}
        assert names == {"o'neil&co@example.test"}, names
        # Not served: 404; an empty address is none: 400 (test_autoconfig).
        for who, want in ((b"eve@elsewhere.test", 404), (b"", 400), (b"example.test@elsewhere.test", 404)):
            st, _, body = Api(s).raw("POST", "/autodiscover/autodiscover.xml",
                                     req.replace(b"bob@example.test", who), {"Content-Type": "text/xml"})
            assert st == want and b"<Protocol>" not in body, (who, st, body)
        # A method the resource does not take: 405 whose Allow names the
        # ones it does (RFC 9110 section 15.5.6), POST here included.
        for method, path, allow in [("PUT", "/autodiscover/autodiscover.xml", {"GET", "HEAD", "POST"}),
                                    ("DELETE", "/mail/config-v1.1.xml", {"GET", "HEAD"}),
                                    ("POST", "/.well-known/acme-challenge/abc", {"GET", "HEAD"})]:
            st, hd, _ = Api(s).raw(method, path, b"", {"Content-Length": "0"})
            assert st == 405 and {m.strip() for m in hd["allow"].split(",")} == allow, (path, st, hd)

        st, hd, body = a.call("GET", "/accounts/bob@example.test/mobileconfig")
        assert st == 200 and hd["content-type"] == "application/x-apple-aspen-config", hd
        assert 'filename="bob@example.test.mobileconfig"' in hd["content-disposition"]
        prof = plistlib.loads(body)
        assert prof["PayloadType"] == "Configuration"
        mail = prof["PayloadContent"][0]
        assert mail["PayloadType"] == "com.apple.mail.managed"
        assert mail["IncomingMailServerHostName"] == HOST
        assert mail["IncomingMailServerPortNumber"] == s.imaps_port and mail["IncomingMailServerUseSSL"]
        assert mail["OutgoingMailServerPortNumber"] == s.submissions_port
        assert mail["EmailAddress"] == "bob@example.test"
        assert a.call("GET", "/accounts/nobody@example.test/mobileconfig")[0] == 404
        assert Api(s).call("GET", "/accounts/bob@example.test/mobileconfig")[0] == 401


def test_static_ui_assets():
    with Server(http=True) as s:
        api = Api(s)
        st, hd, body = api.raw("GET", "/", headers={"Accept-Encoding": "gzip"})
        if st == 404:
            # A build without the UI bundle: nothing else to check here.
            return "skip"
        assert st == 200 and hd["content-encoding"] == "gzip" and hd["content-type"].startswith("text/html")
        index = gzip.decompress(body)
        assert b"<" in index and hd["cache-control"] == "no-cache" and hd["etag"].startswith('"')
        assert "accept-encoding" in hd["vary"].lower()
        # Revalidation.
        st, hd2, body = api.raw("GET", "/", headers={"If-None-Match": hd["etag"], "Accept-Encoding": "gzip"})
        assert st == 304 and body == b"" and hd2["etag"] == hd["etag"]
        # SPA routes get the index; hashed assets are immutable.
        st, _, body2 = api.raw("GET", "/accounts/bob@example.test", headers={"Accept-Encoding": "gzip"})
        assert st == 200 and gzip.decompress(body2) == index
        m = re.search(rb'(?:src|href)="(/assets/[^"]+)"', index)
        if m:
            st, hd3, _ = api.raw("GET", m.group(1).decode(), headers={"Accept-Encoding": "gzip"})
            assert st == 200 and "immutable" in hd3["cache-control"], hd3
        # A client that does not ask for gzip (curl sends no Accept-Encoding,
        # http.client sends "identity") gets the uncompressed copy, with an
        # ETag of its own; one that asks gets gzip.
        r = curl(s, "https://%s:%d/" % (HOST, s.https_port))
        assert r.stdout == index
        r = curl(s, "--compressed", "https://%s:%d/" % (HOST, s.https_port))
        assert r.stdout == index
        for h in ({}, {"Accept-Encoding": "identity, gzip;q=0"}):
            st, hdi, raw = api.raw("GET", "/", headers=h)
            assert st == 200 and raw == index and "content-encoding" not in hdi, (st, hdi)
            assert hdi["etag"] != hd["etag"] and hdi["vary"] == "Accept-Encoding", hdi
        st, _, body = api.raw("GET", "/", headers={"If-None-Match": hdi["etag"]})
        assert st == 304 and body == b"", st
        st, _, body = api.raw("GET", "/", headers={"If-None-Match": hd["etag"]})
        assert st == 200 and body == index, st  # the gzip ETag does not validate the raw copy
        # Traversal attempts never leave the asset table.
        for p in ["/../../../../etc/passwd", "/assets/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                  "/assets/..%2f..%2fetc%2fpasswd", "/.%2e/.%2e/etc/passwd", "/assets/x.js",
                  "/..\\..\\etc\\passwd", "/.git/config"]:
            st, _, body = api.raw("GET", p, headers={"Accept-Encoding": "gzip"})
            assert st in (400, 404), (p, st)
            assert b"root:" not in body
        # Through curl with a raw path (no client-side normalisation) too.
        r = curl(s, "--path-as-is", "-o", "/dev/null", "-w", "%{http_code}",
                 "https://%s:%d/../../etc/passwd" % (HOST, s.https_port))
        assert r.stdout.decode() in ("400", "404"), r.stdout


def test_tern_health_uses_healthz():
    with Server(http=True, env={"TERN_LISTEN_SMTP": ""}, domains=()) as s:
        # No SMTP listener: only /healthz can say the server is up.
        r = s.cli("health")
        assert r.returncode == 0 and r.stdout == b"ok\n", r
        s.stop()
        r = s.cli("health", check=False)
        assert r.returncode == 1 and b"/healthz" in r.stderr, r


def test_https_certificate_reload_on_sighup():
    import signal
    import ssl
    import tempfile
    from mailpeers import self_signed
    tmp = tempfile.mkdtemp(prefix="tern-http-cert-")
    crt, key = self_signed(tmp, cn="first.example.test")
    with Server(http=True, env={"TERN_TLS_CERT": crt, "TERN_TLS_KEY": key}) as s:
        def subject():
            pem = ssl.get_server_certificate(("127.0.0.1", s.https_port))
            out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem.encode(),
                                 stdout=subprocess.PIPE).stdout.decode()
            return out.strip()
        assert "first.example.test" in subject()
        os.rename(crt, crt + ".old")
        os.rename(key, key + ".old")
        crt2, key2 = self_signed(tmp, cn="second.example.test")
        assert (crt2, key2) == (crt, key)
        s.proc.send_signal(signal.SIGHUP)
        assert s.wait_log("event=tls_reloaded")
        assert "second.example.test" in subject()
        st, _, p = Api(s).call("GET", "/setup")
        assert st == 200
    subprocess.run(["rm", "-rf", tmp])
