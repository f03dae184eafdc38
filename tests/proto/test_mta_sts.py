"""MTA-STS inbound (RFC 8461, issue 30): tern serves its own policy at
https://mta-sts.DOMAIN/.well-known/mta-sts.txt and `tern domain dns`
lists the records that announce it (the TXT id matches the served text)."""
import http.client
import re
import subprocess
import ssl

from harness import Server


def _get(s, host, path="/.well-known/mta-sts.txt"):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", s.https_port, context=c, timeout=10)
    conn.request("GET", path, headers={"Host": host})
    r = conn.getresponse()
    body = r.read().decode()
    conn.close()
    return r.status, r.getheader("Content-Type"), body


def test_own_policy_served_and_published():
    with Server(http=True, env={"TERN_HOSTNAME": "mail.example.test"}) as s:
        st, ctype, body = _get(s, "mta-sts.example.test")
        assert st == 200 and ctype.startswith("text/plain"), (st, ctype, body)
        assert body == ("version: STSv1\r\nmode: testing\r\nmx: mail.example.test\r\n"
                        "max_age: 86400\r\n"), body
        # Not under another host name (the web admin's own name), nor for a
        # domain this server does not serve.
        assert "STSv1" not in _get(s, "mail.example.test")[2]
        st, _, body = _get(s, "mta-sts.elsewhere.test")
        assert st == 404 and "STSv1" not in body, (st, body)
        # Recommended where senders can fetch it: HTTPS on port 443
        # (RFC 8461 section 3.3); this server's is on a free port.
        env = dict(s.env, TERN_LISTEN_HTTPS="127.0.0.1:443")
        dns = subprocess.run([s.binary, "domain", "dns", "example.test"], env=env,
                             capture_output=True, check=True, timeout=60).stdout.decode()
        assert re.search(r"_mta-sts\.example\.test\.\s.*TXT\s.*v=STSv1; id=[0-9a-f]{16}", dns), dns
        assert re.search(r"mta-sts\.example\.test\.\s.*CNAME\s+mail\.example\.test\.", dns), dns
        # TLS-RPT (RFC 8460): where senders report, a record tern's own parser accepts.
        assert re.search(r"_smtp\._tls\.example\.test\.\s.*TXT\s.*v=TLSRPTv1; "
                         r"rua=mailto:postmaster@example\.test", dns), dns


def test_mode_setting_api_and_env():
    """The served policy's mode is a setting (PUT /settings mta_sts_mode),
    used at once, with the _mta-sts id following it; TERN_MTA_STS_MODE
    locks it, and a bad value stops start-up."""
    from httpc import admin_server
    # A trusted proxy (which ends TLS on port 443) in front: the MTA-STS
    # records are recommended with HTTPS on a free port.
    s, a = admin_server(env={"TERN_HOSTNAME": "mail.example.test",
                             "TERN_TRUSTED_PROXIES": "192.0.2.0/24"})
    with s:
        st, _, d = a.call("GET", "/settings")
        assert d["mta_sts"] == {"mode": "testing", "locked": False}, d
        st, _, d0 = a.call("GET", "/domains/example.test/dns")
        id0 = [r["value"] for r in d0["records"] if r["name"].startswith("_mta-sts.")]
        st, _, d = a.call("PUT", "/settings", {"mta_sts_mode": "strict"})
        assert st == 400 and d.get("field") == "mta_sts_mode", (st, d)
        st, _, d = a.call("PUT", "/settings", {"mta_sts_mode": "enforce"})
        assert st == 200 and d["mta_sts"]["mode"] == "enforce", (st, d)
        code, _, body = _get(s, "mta-sts.example.test")
        assert "mode: enforce\r\n" in body, body
        st, _, d1 = a.call("GET", "/domains/example.test/dns")
        id1 = [r["value"] for r in d1["records"] if r["name"].startswith("_mta-sts.")]
        assert id0 and id1 and id0 != id1, (id0, id1)
    s2, a2 = admin_server(env={"TERN_MTA_STS_MODE": "enforce"})
    with s2:
        st, _, d = a2.call("GET", "/settings")
        assert d["mta_sts"] == {"mode": "enforce", "locked": True}, d
        st, _, d = a2.call("PUT", "/settings", {"mta_sts_mode": "testing"})
        assert st == 409, (st, d)
    bad = Server(env={"TERN_MTA_STS_MODE": "on"}, domains=(), start=False)
    try:
        r = subprocess.run([bad.binary, "serve"], env=bad.env, capture_output=True, timeout=20)
        assert r.returncode == 2 and b"TERN_MTA_STS_MODE" in r.stderr, r
    finally:
        bad.cleanup()


def test_own_policy_served_for_an_internationalised_domain():
    """A domain served in Unicode (bücher.test): senders fetch its policy
    at its A-label name, https://mta-sts.xn--bcher-kva.test/ (the Host
    and SNI a client sends; RFC 8461 §3.3, RFC 5890 §2.3.2.1). The look-up
    took the A-label spelling as another domain and answered 404, so
    such a domain's MTA-STS was never in force."""
    with Server(http=True, domains=("bücher.test",),
                env={"TERN_HOSTNAME": "mail.example.test"}) as s:
        st, _, body = _get(s, "mta-sts.xn--bcher-kva.test")
        assert st == 200 and body.startswith("version: STSv1\r\n"), (st, body)
        st, _, body = _get(s, "mta-sts.xn--mller-kva.test")
        assert st == 404 and "STSv1" not in body, (st, body)
