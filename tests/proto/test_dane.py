"""DANE outbound (RFC 7672, issue 30): with TERN_DNS_TRUST_AD=on, the
queue looks up `_25._tcp.<mx host>` TLSA records when the MX answer and
the TLSA answer carry the AD bit (the loopback DNS server sets it, as a
validating resolver would), and then requires TLS verified by the
records instead of the roots: DANE-EE (3 1 1, a self-signed
certificate) and DANE-TA (2 0 1, a private CA the roots do not know,
with the name checked) deliver; a certificate no record matches is
deferred with nothing sent, as is a DANE-TA chain whose leaf is for
another name; records without AD are ignored (delivered
opportunistically), as are the records of an MX host whose own address
answer lacks AD; with TERN_DNS_TRUST_AD off nothing changes."""
import atexit
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile

from mailpeers import ca_signed, self_signed, test_ca
from test_queue import World


def _der(pem_file, what="x509"):
    if what == "x509":
        return subprocess.run(["openssl", "x509", "-in", pem_file, "-outform", "DER"],
                              check=True, capture_output=True).stdout
    pub = subprocess.run(["openssl", "x509", "-in", pem_file, "-pubkey", "-noout"],
                         check=True, capture_output=True).stdout
    return subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                          check=True, capture_output=True).stdout


def _records(ips, ee_spki, ca_der, ad=True):
    sha = lambda b: hashlib.sha256(b).hexdigest()
    z = {}
    for dom, ip, tlsa in (("ee.test", ips[0], "3 1 1 " + sha(ee_spki)),
                          ("ta.test", ips[1], "2 0 1 " + sha(ca_der)),
                          ("bad.test", ips[0], "3 1 1 " + "00" * 32),
                          ("taname.test", ips[1], "2 0 1 " + sha(ca_der)),
                          ("noad.test", ips[0], "3 1 1 " + "11" * 32),
                          ("addrnoad.test", ips[0], "3 1 1 " + "22" * 32),
                          # Eleven usable records, only the last one matching
                          # (RFC 7672 sets no limit; the first 8 were kept).
                          ("many.test", ips[0], ["3 1 1 " + ("%02x" % (0x30 + k)) * 32
                                                 for k in range(10)] + ["3 1 1 " + sha(ee_spki)]),
                          # 65 usable records, past what is kept for a host
                          # (each a KiB): skipped as when the lookup fails.
                          ("toomany.test", ips[0], ["3 1 1 %064x" % k for k in range(64)]
                           + ["3 1 1 " + sha(ee_spki)])):
        secure = ad and dom != "noad.test"
        z[dom] = {"MX": [[10, "mx." + dom]], "AD": secure}
        # addrnoad.test: MX and TLSA validated, the MX host's A record not.
        z["mx." + dom] = {"A": [ip], "AD": secure and dom != "addrnoad.test"}
        z["_25._tcp.mx." + dom] = {"TLSA": tlsa if isinstance(tlsa, list) else [tlsa],
                                   "AD": secure}
    # MX hosts that are aliases (RFC 7672 §2.2.2): the TLSA records are
    # looked for at the CNAME target first, then at the MX host's name.
    # cname.test: the target's records match, the MX host's do not;
    # cnamefb.test: none at the target, the MX host's match;
    # cnameta.test: DANE-TA at the target, the leaf names the MX host;
    # cnameins.test: records at the target, but unsigned (insecure):
    # as none there, the MX host's (which match) are asked (§2.2.2).
    for dom, ip, at_target, at_host in (
            ("cname.test", ips[0], "3 1 1 " + sha(ee_spki), "3 1 1 " + "33" * 32),
            ("cnamefb.test", ips[0], None, "3 1 1 " + sha(ee_spki)),
            ("cnameta.test", ips[1], "2 0 1 " + sha(ca_der), "3 1 1 " + "44" * 32),
            ("cnameins.test", ips[0], "3 1 1 " + "55" * 32, "3 1 1 " + sha(ee_spki))):
        target = "real.target-" + dom
        z[dom] = {"MX": [[10, "mx." + dom]], "AD": ad}
        z["mx." + dom] = {"CNAME": target, "AD": ad}
        z[target] = {"A": [ip], "AD": ad}
        z["_25._tcp.mx." + dom] = {"TLSA": [at_host], "AD": ad}
        if at_target:
            z["_25._tcp." + target] = {"TLSA": [at_target],
                                       "AD": ad and dom != "cnameins.test"}
    return z


def _rcpts(r):
    return sorted(a for m in r.messages for a in m["rcpts"])


def test_dane_ee_ta_mismatch_and_insecure():
    tmp = tempfile.mkdtemp(prefix="tern-dane-")
    atexit.register(shutil.rmtree, tmp, True)
    ee_crt, ee_key = self_signed(tmp, cn="mx.ee.test")
    ca = test_ca(tmp)
    leaf_crt, leaf_key = ca_signed(tmp, ca, "mx.ta.test", also=("mx.cnameta.test",))
    chain = os.path.join(tmp, "chain.crt")
    with open(chain, "w") as f:  # the server sends its CA (RFC 7672 §3.1.2)
        f.write(open(leaf_crt).read() + open(ca[0]).read())
    ee_spki, ca_der = _der(ee_crt, "spki"), _der(ca[0])
    seen = {}

    def records(ips):
        seen["ips"] = ips
        return _records(ips, ee_spki, ca_der)

    with World(records, env={"TERN_DNS_TRUST_AD": "on"}) as w:
        ra = w.receiver(0, tls=True, cert=(ee_crt, ee_key))
        rb = w.receiver(1, tls=True, cert=(chain, leaf_key))
        w.send(["carol@ee.test", "dave@ta.test", "erin@bad.test", "fred@noad.test",
                "gina@taname.test", "hal@addrnoad.test", "ivan@many.test", "jo@cname.test",
                "kim@cnamefb.test", "lee@cnameta.test", "max@toomany.test",
                "nat@cnameins.test"])
        out = w.wait_list("no TLSA record matches")
        out = w.wait_list("TLSA lookup for mx.toomany.test failed")
        out = w.wait_list("not issued for that name")
        ra.wait_messages(7)
        rb.wait_messages(2)
        log = w.srv.log_text()
        # An MX host whose address is not validated gets no DANE (§2.2.2):
        # its (mismatching) TLSA records are not even asked for.
        assert _rcpts(ra) == ["carol@ee.test", "fred@noad.test", "hal@addrnoad.test",
                              "ivan@many.test", "jo@cname.test", "kim@cnamefb.test",
                              "nat@cnameins.test"], out + log
        assert "host=mx.cname.test base=real.target-cname.test state=verify" in log, log
        assert "host=mx.cnamefb.test state=verify" in log, log
        # Unsigned records at the target were taken as no DANE at all.
        assert "host=mx.cnameins.test state=verify" in log, log
        assert "host=mx.many.test state=verify records=11" in log, log
        assert "event=dane_too_many id=" in log and "host=mx.toomany.test records=65 max=64" in log, log
        assert "host=mx.addrnoad.test state=insecure_address" in log, log
        assert _rcpts(rb) == ["dave@ta.test", "lee@cnameta.test"], out + log
        assert all(m["tls"] for m in ra.messages + rb.messages)
        assert "erin@bad.test" in out and "4.7.5" in out, out
        # DANE-TA checks the name: the CA matches, the leaf is for mx.ta.test.
        assert "gina@taname.test" in out, out
        assert "event=dane" in log and "host=mx.ee.test state=verify" in log, log
        # TLS-RPT counts the DANE sessions (RFC 8460): a success for
        # ee.test, failures for bad.test's mismatch, after SIGHUP stores them.
        w.srv.proc.send_signal(signal.SIGHUP)
        assert w.srv.wait_log("module=tlsrpt event=seen_flushed"), w.srv.log_text()[-2000:]
        listed = w.srv.cli("tlsrpt", "report").stdout.decode()
        assert re.search(r" ee\.test successful=1 failed=0$", listed, re.M), listed
        assert re.search(r" bad\.test successful=0 failed=[1-9]\d*$", listed, re.M), listed
        assert "host=mx.noad.test" not in log.split("event=dane")[-1], log

    # The same zone without trusting AD: opportunistic TLS everywhere.
    with World(records) as w:
        ra = w.receiver(0, tls=True, cert=(ee_crt, ee_key))
        rb = w.receiver(1, tls=True, cert=(chain, leaf_key))
        w.send(["carol@ee.test", "erin@bad.test"])
        ra.wait_messages(2)
        assert _rcpts(ra) == ["carol@ee.test", "erin@bad.test"], w.srv.log_text()
        assert "event=dane" not in w.srv.log_text()


def test_dane_ta_anchor_not_in_chain():
    """RFC 7671 §5.2.2: a DANE-TA record holding the anchor itself ("2 1 0"
    its public key, "2 0 0" its certificate) authenticates a server that
    sends only its leaf, as OpenSSL's DANE (Postfix) accepts; the key is
    really checked: another CA's key ("2 1 0") does not."""
    tmp = tempfile.mkdtemp(prefix="tern-danek-")
    atexit.register(shutil.rmtree, tmp, True)
    os.mkdir(os.path.join(tmp, "other"))
    ca = test_ca(tmp)
    other = test_ca(os.path.join(tmp, "other"))
    leaf_crt, leaf_key = ca_signed(tmp, ca, "mx.tapk.test",
                                   also=("mx.tacert.test", "mx.tawrong.test"))
    ca_spki, ca_der, other_spki = _der(ca[0], "spki"), _der(ca[0]), _der(other[0], "spki")

    def records(ips):
        z = {}
        for dom, tlsa in (("tapk.test", "2 1 0 " + ca_spki.hex()),
                          ("tacert.test", "2 0 0 " + ca_der.hex()),
                          ("tawrong.test", "2 1 0 " + other_spki.hex())):
            z[dom] = {"MX": [[10, "mx." + dom]], "AD": True}
            z["mx." + dom] = {"A": [ips[0]], "AD": True}
            z["_25._tcp.mx." + dom] = {"TLSA": [tlsa], "AD": True}
        return z

    with World(records, env={"TERN_DNS_TRUST_AD": "on"}) as w:
        ra = w.receiver(0, tls=True, cert=(leaf_crt, leaf_key))  # no CA sent
        w.send(["amy@tapk.test", "bob@tacert.test", "cy@tawrong.test"])
        ra.wait_messages(2)
        out = w.wait_list("4.7.5")
        log = w.srv.log_text()
        assert _rcpts(ra) == ["amy@tapk.test", "bob@tacert.test"], out + log
        assert all(m["tls"] for m in ra.messages)
        assert "host=mx.tapk.test state=verify" in log, log
        assert "host=mx.tacert.test state=verify" in log, log
        assert re.search(r"<cy@tawrong\.test> pending: 4\.7\.5 mx\.tawrong\.test\S*: TLS not "
                         r"verified: certificate not signed by a trusted authority", out), out
