"""test_webui_spam.py — the web admin's Spam page in a real browser (issue 34).

tests/browser/spam.mjs drives headless Chromium through the page: the
thresholds and the hash lists changed and saved (and shown again after a
reload), an entry
added to and removed from the global allow list and an account's block
list, a phishing feed file loaded and a feed URL saved, a file of malware
digests loaded, the recent
decision of a message sent here over SMTP shown with its rules, and its
"Spam" button (each of a row's buttons has its own accessible name, naming
the message). The server's certificate expired a day and a half ago: the
API says days_left -2 (whole days, rounded down) and the Settings page
"expired 1 day ago", in red. A save whose session was ended meanwhile
(DELETE /session from another client with the cookie) shows a sign-in
dialog over the page and goes through after it, the form kept; Escape in
the dialog closes it alone (the page, its form and what was typed
stay, the save says the session ended, and saving again signs in and
saves); Cancel goes to the login page. A save and a file upload after another client
with the cookie signed in again (the page's CSRF token is the old
session's) go through; so does a call in flight when another tab
signed in (sent with the session that sign-in ended, it answers 401: the
page takes the live session's token and sends it again, no dialog). After each change the browser waits
while this side reads the setting back through the REST API, so a save
the server did not keep fails; the button's training is checked by
training the same decision again through the API: the message is then
already known. DNS goes to a loopback server with blocklists off.
Screenshots land in build/artifacts/webui-spam/.
"""
import datetime
import json
import os
import shutil
import smtplib
import subprocess
import tempfile
import time

from harness import ROOT
from httpc import admin_server
from mailpeers import DnsServer
from test_webui import BROWSER_DIR, CHROMIUM, npm_install

ARTIFACTS = os.path.join(ROOT, "build", "artifacts", "webui-spam")
ADMIN_PW = "spam-page-admin-Kx7q"
RCPT = "bob@example.test"
MAIL_FROM = "news@sender.test"
PHISH_URL = "https://feeds.invalid/feed.txt"  # never answers: the list from the file stays
def expired_cert(folder):
    """A self-signed P-256 certificate that expired 36 hours ago: (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mx.example.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=30))
            .not_valid_after(now - datetime.timedelta(hours=36))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("mx.example.test")]), critical=False)
            .sign(key, hashes.SHA256()))
    crt, pem = os.path.join(folder, "expired.crt"), os.path.join(folder, "expired.key")
    with open(crt, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(pem, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return crt, pem


HASHBL = "email _email.KEY.hbl.test 127.0.3.2=6 name=SH_HBL_EMAIL\nfile _file.KEY.hbl.test 127.0.3.10=10\n"


def test_webui_spam_page():
    for tool in (CHROMIUM, shutil.which("node"), shutil.which("npm")):
        assert tool and os.path.exists(tool), "needs chromium, node and npm (scripts/install-test-deps)"
    npm_install()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    dns = DnsServer({"sender.test": {"TXT": ["v=spf1 ip4:127.0.0.0/8 -all"]},
                     "_dmarc.*": {"NXDOMAIN": True}})
    certs = tempfile.mkdtemp(prefix="tern-webui-spam-")
    crt, key = expired_cert(certs)
    s, api = admin_server(password=ADMIN_PW, domains=("example.test",), accounts=[(RCPT, "bob-pw-1")],
                          env={"TERN_DNS_SERVERS": dns.servers, "TERN_TLS_CERT": crt, "TERN_TLS_KEY": key})
    try:
        # Whole days to not_after rounded down: -1.5 is -2 (C's division
        # said -1, and 0 for the first day past).
        st, _, cfg = api.call("GET", "/settings")
        assert st == 200 and cfg["tls"]["days_left"] == -2, cfg["tls"]
        st, _, body = api.call("POST", "/setup/complete", {})
        assert st == 200, body
        st, _, body = api.call("PUT", "/spam", {"dnsbl": "", "uribl": ""})
        assert st == 200, body
        # One message scored (and stored): a decision for the page to list.
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.ehlo("client.sender.test")
            c.sendmail(MAIL_FROM, [RCPT],
                       b"From: News <news@sender.test>\r\nTo: bob@example.test\r\nSubject: offers\r\n"
                       b"Date: Sun, 22 Nov 2026 19:00:00 +0000\r\nMessage-ID: <1@sender.test>\r\n\r\n"
                       b"Hello Bob, see http://www.sender.test/offers today.\r\n")
        deadline = time.time() + 10
        while time.time() < deadline:
            st, _, rec = api.call("GET", "/spam/recent")
            if st == 200 and rec["decisions"]:
                break
            time.sleep(0.05)
        assert rec["decisions"] and rec["decisions"][0]["trainable"], rec

        allow_entry, block_entry = "partner.example", "192.0.2.0/24"
        checks = {
            "thresholds 6.5 12 40": lambda: (lambda c: (c["junk"], c["reject"], c["discard"]) == (6.5, 12, 40))(
                api.call("GET", "/spam")[2]),
            "thresholds 7.5 13 40": lambda: (lambda c: (c["junk"], c["reject"], c["discard"]) == (7.5, 13, 40))(
                api.call("GET", "/spam")[2]),
            "thresholds 7.5 13 41": lambda: (lambda c: (c["junk"], c["reject"], c["discard"]) == (7.5, 13, 41))(
                api.call("GET", "/spam")[2]),
            "thresholds 7.5 13 42": lambda: (lambda c: (c["junk"], c["reject"], c["discard"]) == (7.5, 13, 42))(
                api.call("GET", "/spam")[2]),
            "thresholds 8 13 42": lambda: (lambda c: (c["junk"], c["reject"], c["discard"]) == (8, 13, 42))(
                api.call("GET", "/spam")[2]),
            "allow has " + allow_entry: lambda: allow_entry in api.call("GET", "/spam")[2]["allow"],
            "allow lacks " + allow_entry: lambda: allow_entry not in api.call("GET", "/spam")[2]["allow"],
            "block of %s has %s" % (RCPT, block_entry):
                lambda: api.call("GET", "/spam/lists/" + RCPT)[2]["block"] == [block_entry],
            "block of %s empty" % RCPT: lambda: api.call("GET", "/spam/lists/" + RCPT)[2]["block"] == [],
            "phish list 2 from upload feed.txt": lambda: (lambda p: (
                p["entries"], p["source"], p["loaded_at"] > 0) == (2, "upload feed.txt", True))(
                api.call("GET", "/spam")[2]["phish"]),
            "phish list 3 from upload feed2.txt": lambda: (lambda p: (p["entries"], p["source"]) == (
                3, "upload feed2.txt"))(api.call("GET", "/spam")[2]["phish"]),
            "phish url saved": lambda: api.call("GET", "/spam")[2]["phish_url"] == PHISH_URL,
            "hash lists saved": lambda: api.call("GET", "/spam")[2]["hashbl"] == HASHBL,
            "hashes list 2 from upload full_sha256.txt": lambda: (lambda p: (
                p["entries"], p["source"]) == (2, "upload full_sha256.txt"))(api.call("GET", "/spam")[2]["hashes"]),
        }
        cfg = {"url": "https://127.0.0.1:%d" % s.https_port, "admin_password": ADMIN_PW, "rcpt": RCPT,
               "mail_from": MAIL_FROM, "allow_entry": allow_entry, "block_entry": block_entry,
               "phish_url": PHISH_URL, "hashbl": HASHBL,
               "artifacts": ARTIFACTS, "chromium": CHROMIUM}
        p = subprocess.Popen(["node", os.path.join(BROWSER_DIR, "spam.mjs"), json.dumps(cfg)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, seen = [], set()
        try:
            for raw in p.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                out.append(line)
                if not line.startswith("CHECK "):
                    continue
                what = line[6:]
                if what.startswith("trained "):
                    # Trained once by the button: the same lesson again is known.
                    st, _, body = api.call("POST", "/spam/recent/%s/train" % what[8:], {"spam": True})
                    ok = st == 200 and body.get("learned") == "spam" and "known" in body.get("what", "")
                    answer = "OK" if ok else "API says %s %s" % (st, body)
                else:
                    answer = "OK" if what in checks and checks[what]() else "API disagrees"
                seen.add(what)
                p.stdin.write((answer + "\n").encode())
                p.stdin.flush()
            p.wait(60)
        finally:
            if p.poll() is None:
                p.kill()
        err = p.stderr.read().decode("utf-8", "replace")
        text = "\n".join(out)
        assert p.returncode == 0 and text.endswith("DONE"), "%s\n%s\n--- server log\n%s" % (
            text, err, s.log_text()[-4000:])
        assert "browser: spam: the focus stays on Save across a save" in text, text
        assert set(checks) <= seen and any(w.startswith("trained ") for w in seen), seen
        assert s.log_text().count("kind=spam what=trained") == 1, s.log_text()[-3000:]
    finally:
        s.cleanup()
        dns.stop()
        shutil.rmtree(certs, ignore_errors=True)
