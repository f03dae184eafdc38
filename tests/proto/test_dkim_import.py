"""Importing a DKIM private key made elsewhere (a move from OpenDKIM,
rspamd or Stalwart keeps the selector already in DNS): `tern domain
dkim-import` and POST /api/v1/domains/{name}/dkim/import with keys made by
openssl (RSA-1024 PKCS#1, RSA-2048 PKCS#8, Ed25519 PKCS#8, an Ed25519
base64 seed as rspamd keeps it). Mail sent through submission is then
signed with the imported keys, checked by dkimpy (Debian python3-dkim)
against the loopback DNS server publishing the public keys openssl
derives (not tern's own records); the record tern prints is the same key.
Refusals (512-bit RSA, a certificate, garbage, encrypted PEM in both
forms, an EC key, a selector the other key has) each say what is wrong,
and leave the keys as they were."""
import base64
import json
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import tempfile

from harness import Server, empty_chroot
from httpc import admin_server
from mailpeers import DKIMPY_TXT, SYSTEM_PYTHON, DnsServer

ALICE, ALICE_PW = "alice@example.test", "alice-pw-1"
DOMAIN = "example.test"

# dkimpy verifying every DKIM-Signature of a message, lookups sent to the
# loopback DNS server: [[s=, a=, verified]].
VERIFY = DKIMPY_TXT + r"""
msg = sys.stdin.buffer.read()
out = []
sigs = [v for k, v in dkim.DKIM(msg).headers if k.lower() == b"dkim-signature"]
for i, v in enumerate(sigs):
    tags = dict(t.strip().split(b"=", 1) for t in v.split(b";") if b"=" in t)
    ok = dkim.DKIM(msg).verify(idx=i, dnsfunc=txt)
    out.append([tags[b"s"].decode(), tags[b"a"].decode(), bool(ok)])
json.dump(out, sys.stdout)
"""


def openssl(*args, inp=None):
    r = subprocess.run(["openssl"] + list(args), input=inp, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def public_record(path):
    """The DKIM TXT value for a private key file, derived by openssl."""
    der = openssl("pkey", "-in", path, "-pubout", "-outform", "DER")
    if der[:12] == bytes.fromhex("302a300506032b6570032100"):  # id-Ed25519 SPKI
        return "v=DKIM1; k=ed25519; p=" + base64.b64encode(der[12:]).decode()
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def printed_record(out, selector):
    """The value of the TXT line for selector in the import's output."""
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[0] == "%s._domainkey.%s." % (selector, DOMAIN):
            assert parts[2] == "TXT", line
            return "".join(re.findall(r'"([^"]*)"', parts[3]))
    raise AssertionError("no record for %s in %r" % (selector, out))


def zone_txt(value):
    return '" "'.join(value[i:i + 255] for i in range(0, len(value), 255))


def make_keys(tmp):
    k = {n: os.path.join(tmp, n + ".pem") for n in
         ("rsa1024", "rsa2048", "ed", "rsa512", "enc8", "enc1", "cert", "ec")}
    openssl("genrsa", "-traditional", "-out", k["rsa1024"], "1024")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", k["rsa2048"])
    openssl("genpkey", "-algorithm", "ed25519", "-out", k["ed"])
    openssl("genrsa", "-traditional", "-out", k["rsa512"], "512")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024",
            "-aes-128-cbc", "-pass", "pass:secret", "-out", k["enc8"])
    openssl("genrsa", "-traditional", "-aes128", "-passout", "pass:secret", "-out", k["enc1"], "1024")
    openssl("req", "-x509", "-key", k["rsa2048"], "-subj", "/CN=mail.example.test", "-days", "1",
            "-out", k["cert"])
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", k["ec"])
    head = open(k["rsa1024"]).read().splitlines()[0]
    assert head == "-----BEGIN RSA PRIVATE KEY-----", head  # PKCS#1
    assert open(k["rsa2048"]).read().startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert "Proc-Type: 4,ENCRYPTED" in open(k["enc1"]).read()
    assert open(k["enc8"]).read().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    # rspamd's form of an Ed25519 key: the 32-octet seed in base64.
    der = openssl("pkey", "-in", k["ed"], "-outform", "DER")
    assert len(der) == 48, der.hex()
    k["seed"] = os.path.join(tmp, "ed.seed")
    with open(k["seed"], "w") as f:
        f.write(base64.b64encode(der[16:]).decode() + "\n")
    return k


def send_and_verify(s, dns, subject):
    """Submits a message to ourselves; dkimpy's verdict on each signature."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", s.submission_port, timeout=20) as c:
        c.starttls(context=ctx)
        c.login(ALICE, ALICE_PW)
        c.sendmail(ALICE, [ALICE], ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nMoved here.\r\n"
                                    % (ALICE, ALICE, subject)).encode())
    ids = [i for i, line in s.messages(ALICE) if subject in line]
    assert len(ids) == 1, s.messages(ALICE)
    raw = s.raw(ALICE, ids[0])
    r = subprocess.run([SYSTEM_PYTHON, "-c", VERIFY, str(dns.port)], input=raw,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 0, "dkimpy (scripts/install-test-deps): " + r.stderr.decode()
    return sorted(map(tuple, json.loads(r.stdout)))


def dkim_lines(s):
    return [l for l in s.cli("domain", "dns", DOMAIN).stdout.decode().splitlines()
            if "._domainkey." in l]


def test_cli_import_signs_with_the_imported_keys():
    tmp = tempfile.mkdtemp(prefix="tern-dkimimp-")
    dns = None
    try:
        k = make_keys(tmp)
        pub = {n: public_record(k[n]) for n in ("rsa1024", "rsa2048", "ed")}
        dns = DnsServer({"mail._domainkey." + DOMAIN: {"TXT": [zone_txt(pub["rsa1024"])]},
                         "ed._domainkey." + DOMAIN: {"TXT": [zone_txt(pub["ed"])]},
                         "big._domainkey." + DOMAIN: {"TXT": [zone_txt(pub["rsa2048"])]}})
        with Server(accounts=[(ALICE, ALICE_PW)], submission=True,
                    env={"TERN_DNS_SERVERS": dns.servers}) as s:
            # RSA-1024 in PKCS#1: taken, with the RFC 8301 warning.
            r = s.cli("domain", "dkim-import", DOMAIN, "mail", k["rsa1024"])
            out, err = r.stdout.decode(), r.stderr.decode()
            assert "2048 is recommended" in err and err.count("\n") == 1, err
            assert printed_record(out, "mail") == pub["rsa1024"], out
            # Ed25519 in PKCS#8, from stdin.
            r = s.cli("domain", "dkim-import", DOMAIN, "ed", "-", input=open(k["ed"]).read())
            assert r.stderr == b"", r.stderr
            assert printed_record(r.stdout.decode(), "ed") == pub["ed"], r.stdout
            lines = dkim_lines(s)
            assert len(lines) == 2 and lines[0].startswith("mail._domainkey.") \
                and lines[1].startswith("ed._domainkey."), lines
            assert send_and_verify(s, dns, "first") == [("ed", "ed25519-sha256", True),
                                                        ("mail", "rsa-sha256", True)]

            # RSA-2048 in PKCS#8 in place of the RSA key; the Ed25519 stays.
            r = s.cli("domain", "dkim-import", DOMAIN, "big", k["rsa2048"])
            assert r.stderr == b"", r.stderr
            assert printed_record(r.stdout.decode(), "big") == pub["rsa2048"]
            assert send_and_verify(s, dns, "second") == [("big", "rsa-sha256", True),
                                                         ("ed", "ed25519-sha256", True)]
            # The Ed25519 key again, as rspamd's base64 seed: the same key.
            r = s.cli("domain", "dkim-import", DOMAIN, "ed", k["seed"])
            assert printed_record(r.stdout.decode(), "ed") == pub["ed"], r.stdout
            assert send_and_verify(s, dns, "third") == [("big", "rsa-sha256", True),
                                                        ("ed", "ed25519-sha256", True)]

            # Refusals: one line saying why, exit 1, the keys untouched.
            before = dkim_lines(s)
            garbage = os.path.join(tmp, "garbage")
            with open(garbage, "w") as f:
                f.write("this is not a key\n")
            for path, sel, why in (
                    (k["rsa512"], "weak", "RSA key of 512 bits: DKIM needs at least 1024"),
                    (k["cert"], "c", "a certificate, not a private key"),
                    (garbage, "g", "not a private key"),
                    (k["enc8"], "e", "the key is encrypted: decrypt it first"),
                    (k["enc1"], "e", "the key is encrypted: decrypt it first"),
                    (k["ec"], "ec", "an EC (ECDSA) key"),
                    (k["rsa1024"], "ed", "selector ed is the ed25519-sha256 key's"),
                    (k["rsa1024"], "bad selector", "invalid selector")):
                r = s.cli("domain", "dkim-import", DOMAIN, sel, path, check=False)
                err = r.stderr.decode()
                assert r.returncode == 1 and r.stdout == b"", (path, r)
                assert err.startswith("tern: " + why) and err.count("\n") == 1, (path, err)
                lines = open(path).read().splitlines()
                assert len(lines) < 3 or lines[-2][:16] not in err, err  # no key material
            r = s.cli("domain", "dkim-import", "nowhere.test", "x", k["rsa2048"], check=False)
            assert r.returncode == 1 and b"no domain nowhere.test" in r.stderr, r
            assert dkim_lines(s) == before
    finally:
        if dns:
            dns.stop()
        shutil.rmtree(tmp)


def test_api_import():
    tmp = tempfile.mkdtemp(prefix="tern-dkimimp-")
    try:
        k = make_keys(tmp)
        s, a = admin_server()
        with s:
            path = "/domains/%s/dkim/import" % DOMAIN
            pem = open(k["rsa1024"]).read()
            st, _, out = a.call("POST", path, {"selector": "mail", "key": pem})
            assert st == 200, out
            assert out["selector"] == "mail" and out["algorithm"] == "rsa-sha256", out
            assert out["record_name"] == "mail._domainkey.%s." % DOMAIN, out
            assert out["record_value"] == public_record(k["rsa1024"]), out
            assert "2048 is recommended" in out["warning"], out
            assert pem.splitlines()[1][:16] not in json.dumps(out), out
            st, _, out = a.call("POST", path, {"selector": "ed", "key": open(k["ed"]).read()})
            assert st == 200 and "warning" not in out, out
            assert out["record_value"] == public_record(k["ed"]), out
            st, _, keys = a.call("GET", "/domains/%s/dkim" % DOMAIN)
            assert [x["selector"] for x in keys["keys"]] == ["mail", "ed"], keys
            for name, sel, field, why in (("rsa512", "w", "key", "RSA key of 512 bits"),
                                          ("cert", "c", "key", "a certificate"),
                                          ("enc8", "e", "key", "the key is encrypted"),
                                          ("rsa2048", "ed", "selector", "selector ed is")):
                st, _, bad = a.call("POST", path, {"selector": sel, "key": open(k[name]).read()})
                assert st == 400 and bad["code"] == "invalid_field", bad
                assert bad["field"] == field and bad["detail"].startswith(why), bad
            st, _, bad = a.call("POST", "/domains/nowhere.test/dkim/import",
                                {"selector": "x", "key": pem})
            assert st == 404, bad
            # Nothing of the key in the log.
            s.wait_log("event=dkim_key_imported")
            log = s.log_text()
            assert "PRIVATE KEY" not in log and pem.splitlines()[1] not in log
    finally:
        shutil.rmtree(tmp)


def test_cli_import_from_stdin_in_an_empty_chroot():
    """The container runs tern in an empty chroot: no /dev/stdin there, so
    `docker exec -i tern /tern domain dkim-import D S - < key.pem` must
    read its descriptor 0."""
    with empty_chroot("tern-dkimimp-chroot-") as jail:
        if jail is None:
            return
        root, run = jail
        key = os.path.join(root, "key.pem")  # made outside the jail, given on stdin
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key)
        assert run("domain", "add", "jail.test").returncode == 0
        r = run("domain", "dkim-import", "jail.test", "mail", "-", input=open(key, "rb").read())
        assert r.returncode == 0 and r.stderr == b"", r
        rec = [l for l in r.stdout.decode().splitlines() if l.startswith("mail._domainkey.jail.test.")]
        assert len(rec) == 1 and "".join(re.findall(r'"([^"]*)"', rec[0])) == public_record(key), r.stdout
