"""DANE outbound (RFC 7672) beyond test_dane's matching, through the
loopback DNS server (AD set as a validating resolver would) and scripted
receivers:

- a secure TLSA RRset whose records are all unusable (PKIX-TA 0 and
  PKIX-EE 1, §3.1.3) still requires TLS, unauthenticated (§2.2): a
  self-signed certificate takes the mail, a host without STARTTLS does
  not;
- a TLSA lookup that fails (SERVFAIL) skips that host for the next MX
  (§2.2.1);
- DANE-EE (3) checks neither the name nor the dates (§3.1.1);
- an MX host whose own CNAME is validated, its target in an unsigned
  zone, is secure: its own TLSA records apply (§2.2.2);
- of records with the same usage and selector, only those of the
  strongest matching type count (RFC 7671 §9);
- DANE-TA (2) accepts a wildcard certificate for the MX host (§3.2.3);
- DANE over MTA-STS (RFC 8461 §2): a DANE-authenticated host gets the
  mail though the enforce policy's roots do not know its certificate,
  and a failing DANE check is not overridden by a certificate the policy
  would accept."""
import atexit
import hashlib
import os
import re
import shutil
import tempfile

from mailpeers import ca_signed, free_port_on, self_signed, test_ca
from test_dane import _der, _rcpts
from test_mta_sts_out import PolicyServer, _policy
from test_queue import World


def _sha(b):
    return hashlib.sha256(b).hexdigest()


def _expired_self_signed(tmp, cn):
    """A self-signed certificate whose validity ended in 2001."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    crt = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
           .public_key(key.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(datetime.datetime(2000, 1, 1))
           .not_valid_after(datetime.datetime(2001, 1, 1))
           .sign(key, hashes.SHA256()))
    kp, cp = os.path.join(tmp, "old.key"), os.path.join(tmp, "old.crt")
    with open(kp, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(cp, "wb") as f:
        f.write(crt.public_bytes(serialization.Encoding.PEM))
    return cp, kp


def test_unusable_servfail_ee_ta_and_mta_sts():
    tmp = tempfile.mkdtemp(prefix="tern-danep-")
    atexit.register(shutil.rmtree, tmp, True)
    os.mkdir(os.path.join(tmp, "ee"))
    os.mkdir(os.path.join(tmp, "old"))
    ee_crt, ee_key = self_signed(os.path.join(tmp, "ee"), cn="somebody.else.test")
    old_crt, old_key = _expired_self_signed(os.path.join(tmp, "old"), "mx.old.test")
    ca = test_ca(tmp)
    # The policy host's certificate, and the one of a host MTA-STS would
    # accept (the roots know ca).
    web = ca_signed(tmp, ca, "mta-sts.both.test", ("mta-sts.danests.test",))
    both_crt, both_key = ca_signed(tmp, ca, "mx.both.test")
    wild_crt, wild_key = ca_signed(tmp, ca, "*.wild.test")
    wild_chain = os.path.join(tmp, "wild-chain.crt")
    with open(wild_chain, "w") as f:
        f.write(open(wild_crt).read() + open(ca[0]).read())
    ee_spki = _der(ee_crt, "spki")
    ca_der = _der(ca[0])
    seen = {}

    def records(ips):
        seen["ips"] = ips
        z = {}
        # ips[0]: self-signed (ee); ips[1]: no STARTTLS; ips[2]: expired
        # self-signed; ips[3]: CA-signed mx.both.test; ips[4]: wildcard
        # chain; ips[5]: the policy server.
        for dom, host, ip, tlsa in (
                ("unusable.test", "mx", ips[0], ["1 1 1 " + _sha(ee_spki), "0 0 1 " + "ab" * 32]),
                ("unusableplain.test", "mx", ips[1], ["1 1 1 " + _sha(ee_spki)]),
                ("eename.test", "mx", ips[0], ["3 1 1 " + _sha(ee_spki)]),
                ("old.test", "mx", ips[2], ["3 0 1 " + _sha(_der(old_crt))]),
                ("both.test", "mx", ips[3], ["3 1 1 " + "cd" * 32]),
                ("danests.test", "mx", ips[0], ["3 1 1 " + _sha(ee_spki)]),
                ("wild.test", "mx", ips[4], ["2 0 1 " + _sha(ca_der)]),
                # RFC 7671 §9: beside a SHA2-512 record of the same usage
                # and selector, a SHA2-256 one is not trusted.
                ("agility.test", "mx", ips[0], ["3 1 1 " + _sha(ee_spki), "3 1 2 " + "00" * 64]),
                ("agility2.test", "mx", ips[0], ["3 1 1 " + "11" * 32,
                                                 "3 1 2 " + hashlib.sha512(ee_spki).hexdigest()])):
            z[dom] = {"MX": [[10, host + "." + dom]], "AD": True}
            z[host + "." + dom] = {"A": [ip], "AD": True}
            z["_25._tcp.%s.%s" % (host, dom)] = {"TLSA": tlsa, "AD": True}
        # servfail.test: the better MX's TLSA lookup fails; the other has
        # (securely) none.
        z["servfail.test"] = {"MX": [[10, "mx1.servfail.test"], [20, "mx2.servfail.test"]],
                              "AD": True}
        z["mx1.servfail.test"] = {"A": [ips[0]], "AD": True}
        z["_25._tcp.mx1.servfail.test"] = {"SERVFAIL": True}
        z["mx2.servfail.test"] = {"A": [ips[2]], "AD": True}
        # MX hosts that are aliases into an unsigned zone (RFC 7672
        # §2.2.2): with the alias itself validated, the host is secure and
        # its own TLSA records apply; with it not validated, no DANE.
        for dom, alias_ad, tlsa in (("partial.test", True, "3 1 1 " + "ee" * 32),
                                    ("partialok.test", True, "3 1 1 " + _sha(ee_spki)),
                                    ("unsignedalias.test", False, "3 1 1 " + "ee" * 32)):
            z[dom] = {"MX": [[10, "mx." + dom]], "AD": True}
            z["mx." + dom] = {"CNAME": "host.hoster-" + dom, "AD": alias_ad}
            z["host.hoster-" + dom] = {"A": [ips[0]]}
            z["_25._tcp.mx." + dom] = {"TLSA": [tlsa], "AD": True}
        for dom in ("both.test", "danests.test"):
            z["mta-sts." + dom] = {"A": [ips[5]]}
            z["_mta-sts." + dom] = {"TXT": ["v=STSv1; id=1;"]}
        return z

    env = {"TERN_DNS_TRUST_AD": "on", "TERN_TLS_CA_FILE": ca[0]}
    with World(records, nips=6, env=env, start=False) as w:
        ips = seen["ips"]
        port = free_port_on([ips[5]])
        w.srv.env["TERN_MTA_STS_PORT"] = str(port)
        ps = PolicyServer(ips[5], port, web, {
            "mta-sts.both.test": _policy("enforce", "mx.both.test"),
            "mta-sts.danests.test": _policy("enforce", "mx.danests.test")})
        try:
            w.srv.start()
            r_ee = w.receiver(0, tls=True, cert=(ee_crt, ee_key))
            r_plain = w.receiver(1)
            r_old = w.receiver(2, tls=True, cert=(old_crt, old_key))
            r_both = w.receiver(3, tls=True, cert=(both_crt, both_key))
            r_wild = w.receiver(4, tls=True, cert=(wild_chain, wild_key))
            w.send(["a@unusable.test", "b@unusableplain.test", "c@eename.test", "d@old.test",
                    "e@both.test", "f@danests.test", "g@wild.test", "h@servfail.test",
                    "i@agility.test", "j@agility2.test", "k@partial.test", "l@partialok.test",
                    "m@unsignedalias.test"])
            # Each deferral as the queue logs it, with its reason.
            deferred = {}
            for rcpt, why in (("b@unusableplain.test", "4.7.10 mx.unusableplain.test"),
                              ("e@both.test", "4.7.5 mx.both.test"),
                              ("i@agility.test", "4.7.5 mx.agility.test"),
                              ("k@partial.test", "4.7.5 mx.partial.test")):
                pat = re.compile(r"event=deferred id=\d+ rcpt=%s relay=none status=\"%s\S* "
                                 r"(.*)\"" % (re.escape(rcpt), re.escape(why)))
                assert w.srv.wait_log(pat), w.srv.log_text()
                deferred[rcpt] = pat.search(w.srv.log_text()).group(1)
            r_ee.wait_messages(6)
            r_old.wait_messages(2)
            r_wild.wait_messages(1)
            log = w.srv.log_text()
            assert _rcpts(r_ee) == ["a@unusable.test", "c@eename.test", "f@danests.test",
                                    "j@agility2.test", "l@partialok.test",
                                    "m@unsignedalias.test"], log
            assert "no TLSA record matches" in deferred["k@partial.test"], deferred
            assert "host=mx.partialok.test state=verify records=1" in log, log
            assert "host=mx.unsignedalias.test state=insecure_address" in log, log
            assert "host=mx.agility.test state=verify records=1" in log, log
            assert "no TLSA record matches" in deferred["i@agility.test"], deferred
            assert all(m["tls"] for m in r_ee.messages + r_old.messages + r_wild.messages)
            assert "host=mx.unusable.test state=tls_only records=0" in log, log
            # No STARTTLS at a host with (unusable) TLSA records: nothing sent.
            assert r_plain.messages == [], log
            assert "offers no STARTTLS" in deferred["b@unusableplain.test"], deferred
            assert _rcpts(r_old) == ["d@old.test", "h@servfail.test"], log
            assert "host=mx1.servfail.test state=lookup_failed" in log, log
            assert _rcpts(r_wild) == ["g@wild.test"], log
            # The DANE mismatch stands though MTA-STS would accept mx.both.test.
            assert r_both.messages == [], log
            assert "no TLSA record matches" in deferred["e@both.test"], deferred
        finally:
            ps.stop()
