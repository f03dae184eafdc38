"""The local malware attachment list (issue 34): SHA-256 digests of known
malicious files, as abuse.ch MalwareBazaar exports them.

- `tern spam hashes load` of a file mixing MalwareBazaar's text lines,
  its CSV lines and a ClamAV .hsb line (and a comment and a bad line);
  `tern spam hashes status`; the phishing list is a separate list;
- a message over SMTP whose attachment's decoded content is listed gets
  FILE_HASH_LISTED in X-Spam-Result and lands in Junk, as base64 and as
  quoted-printable; the same message with another attachment lands in
  the INBOX; `tern spam test` names the rule;
- the API's upload (PUT /api/v1/spam/hashes, streamed) replaces the list
  and GET /api/v1/spam reports it;
- the feed URL (hashes_url) is refused unless https, and is downloaded
  over verified HTTPS from a server on loopback within seconds of the
  setting (event=hashes_list_loaded, the URL's host only in the log).
"""
import hashlib
import os
import shutil
import smtplib
import tempfile
from email.message import EmailMessage

from httpc import admin_server
from mailpeers import DnsServer, test_ca
from test_spam_phish import FeedServer, header_of

MALWARE = b"MZ\x90\x00\x03" + bytes(range(256)) * 20 + b"payload one\r\n"
DROPPER = b"PK\x03\x04" + b"dropper " * 300
HARMLESS = b"%PDF-1.4\n" + b"quarterly figures\n" * 200


def sha(data):
    return hashlib.sha256(data).hexdigest()


def message(subject, attach, cte="base64"):
    m = EmailMessage()
    m["From"] = "Billing <billing@sender.test>"
    m["To"] = "bob@example.test"
    m["Subject"] = subject
    m["Date"] = "Tue, 24 Nov 2026 12:00:00 +0000"
    m["Message-ID"] = "<%s@sender.test>" % subject.replace(" ", ".")
    m.set_content("Please find the invoice attached.")
    m.add_attachment(attach, maintype="application", subtype="octet-stream", filename="invoice.pdf",
                     cte=cte)
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def deliver(s, subject, attach, cte="base64"):
    c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30)
    try:
        c.ehlo("client.example.org")
        c.sendmail("billing@sender.test", ["bob@example.test"], message(subject, attach, cte))
    finally:
        c.close()


def junked(s, subject, attach, cte="base64"):
    deliver(s, subject, attach, cte)
    box, h = header_of(s, subject)
    return box == "Junk" and "FILE_HASH_LISTED=10.00" in h, h


def test_spam_malware_list():
    tmp = tempfile.mkdtemp(prefix="tern-hashes-")
    dns = feed = s = None
    try:
        ca = test_ca(tmp)
        feed = FeedServer(tmp, ca)
        dns = DnsServer({"feeds.test": {"A": ["127.0.0.1"]}, "_dmarc.*": {"NXDOMAIN": True}})
        s, api = admin_server(domains=("example.test",), accounts=[("bob@example.test", "bob-pw-1")],
                              env={"TERN_DNS_SERVERS": dns.servers, "TERN_TLS_CA_FILE": ca[0]})
        path = os.path.join(tmp, "full_sha256.txt")
        with open(path, "w") as f:
            f.write("# MalwareBazaar full SHA256 export\n%s\n"
                    '"2026-11-24 09:00:00","%s","%s","unknown"\n'
                    "%s:%d:Win.Trojan.Test\nnot a digest\n"
                    % (sha(MALWARE), sha(DROPPER).upper(), hashlib.md5(DROPPER).hexdigest(),
                       sha(b"another file"), 12))
        out = s.cli("spam", "hashes", "load", path).stdout.decode()
        assert out.startswith("entries: 3 ") and "without an entry: 1," in out, out
        out = s.cli("spam", "hashes", "status").stdout.decode()
        assert "entries: 3" in out and "source: file full_sha256.txt" in out, out
        out = s.cli("spam", "phish", "status").stdout.decode()
        assert out.strip() == "entries: 0", out

        # Listed, as base64 and as quoted-printable; another file is not.
        hit, h = junked(s, "base64 malware", MALWARE)
        assert hit, h
        hit, h = junked(s, "qp dropper", DROPPER, cte="quoted-printable")
        assert hit, h
        hit, h = junked(s, "harmless", HARMLESS)
        assert not hit and "FILE_HASH_LISTED" not in h, h
        eml = os.path.join(tmp, "m.eml")
        with open(eml, "wb") as f:
            f.write(message("cli", MALWARE))
        out = s.cli("spam", "test", eml).stdout.decode()
        assert "FILE_HASH_LISTED 10.00 a known malicious file: invoice.pdf" in out, out

        # The API's upload replaces the list.
        body = ("%s\n" % sha(HARMLESS)).encode()
        st, _, got = api.call("PUT", "/spam/hashes?name=recent.txt", body, ctype="text/plain")
        assert st == 200 and got["entries"] == 1 and got["bad"] == 0, got
        st, _, cfg = api.call("GET", "/spam")
        assert cfg["hashes"]["entries"] == 1 and cfg["hashes"]["source"] == "upload recent.txt", cfg
        assert cfg["phish"] == {} or cfg["phish"].get("entries", 0) == 0, cfg
        hit, h = junked(s, "now listed", HARMLESS)
        assert hit, h
        hit, h = junked(s, "old list", MALWARE)
        assert not hit, h

        # The feed URL: https only; downloaded within seconds of the setting.
        st, _, got = api.call("PUT", "/spam", {"hashes_url": "http://feeds.test/feed.txt"})
        assert st == 400 and got.get("field") == "hashes_url", got
        feed.body = ("# recent\n%s\n" % sha(DROPPER)).encode()
        url = "https://feeds.test:%d/feed.txt" % feed.port
        st, _, cfg = api.call("PUT", "/spam", {"hashes_url": url})
        assert st == 200 and cfg["hashes_url"] == url, cfg
        assert s.wait_log("event=hashes_list_loaded host=feeds.test entries=1", timeout=20), \
            s.log_text()[-3000:]
        st, _, cfg = api.call("GET", "/spam")
        assert cfg["hashes"]["source"] == url and cfg["hashes"]["entries"] == 1, cfg
        hit, h = junked(s, "fetched", DROPPER)
        assert hit, h
        assert "/feed.txt" not in s.log_text()  # a feed URL can carry a key: the host only
    finally:
        if s:
            s.stop()
            s.cleanup()
        if feed:
            feed.close()
        if dns:
            dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)
