"""The local phishing URL list (issue 34): feed files as OpenPhish (a URL
a line) and PhishTank (CSV with a "url" column) publish them.

- `tern spam phish load` of an OpenPhish-style file; a message over SMTP
  whose link is listed (exactly, with a fragment, with a query below an
  entry without one, below a listed path, over https for an http entry)
  gets PHISH_URL_LISTED in X-Spam-Result and lands in Junk; one whose
  link only shares the host's name as a prefix (evil.example.net vs
  evil.example) or a path's prefix (/login2 vs /login), or has another
  query than a listed one, does not;
- the API's upload (PUT /api/v1/spam/phish, streamed) of a PhishTank CSV
  replaces the list, and GET /api/v1/spam reports it;
- the feed URL (phish_url) is downloaded over verified HTTPS from a
  server on loopback (its name from a loopback DNS server, its
  certificate from a test CA): the list is replaced within seconds of the
  setting; a download that holds no URL (an error page) keeps the list; a
  URL that is not https is refused with 400.
"""
import http.server
import os
import shutil
import smtplib
import ssl
import tempfile
import threading
import time

from harness import LoopbackHTTPServer, free_port
from httpc import admin_server
from mailpeers import DnsServer, ca_signed, test_ca

OPENPHISH = """https://evil.example/login/
http://bank-verify.test/secure/update.php?session=1
https://phish.test/
"""

PHISHTANK = "\n".join([
    "phish_id,url,phish_detail_url,submission_time,verified,verification_time,online,target",
    '1,"http://csv.test/a/b/pay.php?x=1&y=""q""",http://www.phishtank.com/phish_detail.php?phish_id=1,'
    "2026-11-24T00:00:00+00:00,yes,2026-11-24T00:10:00+00:00,yes,Other",
    "2,https://other.test/wallet,http://www.phishtank.com/phish_detail.php?phish_id=2,"
    "2026-11-24T00:00:00+00:00,yes,2026-11-24T00:10:00+00:00,yes,Other",
    ""])


def message(subject, link):
    return ("From: Bank <service@sender.test>\r\nTo: bob@example.test\r\nSubject: %s\r\n"
            "Date: Tue, 24 Nov 2026 08:00:00 +0000\r\nMessage-ID: <%s@sender.test>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            "<p>Please confirm your account: <a href=\"%s\">your account</a></p>\r\n"
            % (subject, subject.replace(" ", "."), link)).encode()


def deliver(s, subject, link):
    c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30)
    try:
        c.ehlo("client.example.org")
        c.sendmail("service@sender.test", ["bob@example.test"], message(subject, link))
    finally:
        c.close()


def header_of(s, subject, timeout=10):
    """(mailbox, header) of bob's message with subject."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for box in ("INBOX", "Junk"):
            for i, line in s.messages("bob@example.test", box):
                if subject in line:
                    raw = s.raw("bob@example.test", i)
                    return box, raw.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
        time.sleep(0.1)
    raise AssertionError("no message %r for bob" % subject)


def listed(s, subject, link):
    deliver(s, subject, link)
    box, h = header_of(s, subject)
    return box, "PHISH_URL_LISTED" in h, h


class FeedServer:
    """HTTPS on loopback serving self.body at /feed.txt, with a certificate
    for feeds.test from a test CA."""

    def __init__(self, tmp, ca):
        crt, key = ca_signed(tmp, ca, "feeds.test")
        self.body = b""
        self.gets = 0
        feed = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                feed.gets += 1
                body = feed.body
                self.send_response(200 if self.path == "/feed.txt" else 404)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

        self.port = free_port()
        self.srv = LoopbackHTTPServer(("127.0.0.1", self.port), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def test_spam_phish_list():
    tmp = tempfile.mkdtemp(prefix="tern-phish-")
    dns = feed = s = None
    try:
        ca = test_ca(tmp)
        feed = FeedServer(tmp, ca)
        dns = DnsServer({"feeds.test": {"A": ["127.0.0.1"]}, "_dmarc.*": {"NXDOMAIN": True}})
        s, api = admin_server(domains=("example.test",), accounts=[("bob@example.test", "bob-pw-1")],
                              env={"TERN_DNS_SERVERS": dns.servers, "TERN_TLS_CA_FILE": ca[0]})
        path = os.path.join(tmp, "openphish.txt")
        with open(path, "w") as f:
            f.write(OPENPHISH)
        out = s.cli("spam", "phish", "load", path).stdout.decode()
        assert out.startswith("entries: 3 "), out
        out = s.cli("spam", "phish", "status").stdout.decode()
        assert "entries: 3" in out and "source: file openphish.txt" in out, out

        # Listed: the exact URL, another query, below a listed path, http for https.
        box, hit, h = listed(s, "exact", "https://evil.example/login/")
        assert hit and box == "Junk", h
        eml = os.path.join(tmp, "m.eml")
        with open(eml, "wb") as f:
            f.write(message("cli", "https://evil.example/login/x"))
        out = s.cli("spam", "test", eml).stdout.decode()
        assert "PHISH_URL_LISTED 7.00 link on the phishing list: evil.example" in out, out
        assert listed(s, "fragment", "https://bank-verify.test/secure/update.php?session=1#top")[1]
        assert listed(s, "query", "https://evil.example/login/?user=bob")[1]
        assert listed(s, "below", "https://EVIL.example/login/step2/confirm.php?id=9")[1]
        assert listed(s, "host entry", "http://phish.test/anything/at/all")[1]
        # Not listed: a longer host name, a sibling path, a parent path.
        for subject, link in (("longer host", "https://evil.example.net/login/"),
                              ("sibling path", "https://evil.example/login2"),
                              ("parent path", "https://evil.example/"),
                              ("other page", "http://bank-verify.test/secure/other.php"),
                              ("other query", "http://bank-verify.test/secure/update.php?session=2")):
            box, hit, h = listed(s, subject, link)
            assert not hit and box == "INBOX", (subject, h)

        # The API's upload of a PhishTank CSV replaces the list.
        st, _, body = api.call("PUT", "/spam/phish?name=online-valid.csv", PHISHTANK.encode(),
                               ctype="text/csv")
        assert st == 200 and body["entries"] == 2 and body["bad"] == 0, body
        st, _, cfg = api.call("GET", "/spam")
        assert cfg["phish"]["entries"] == 2, cfg
        assert cfg["phish"]["source"] == "upload online-valid.csv", cfg
        assert listed(s, "csv quoted", "http://csv.test/a/b/pay.php?x=1&amp;y=&quot;q&quot;")[1]
        assert listed(s, "csv second", "https://other.test/wallet/")[1]
        assert not listed(s, "old list", "https://evil.example/login/")[1]

        # The feed URL: https only; downloaded within seconds of the setting.
        st, _, body = api.call("PUT", "/spam", {"phish_url": "http://feeds.test/feed.txt"})
        assert st == 400 and body.get("field") == "phish_url", body
        feed.body = b"# OpenPhish\nhttps://fetched.test/signin\n"
        url = "https://feeds.test:%d/feed.txt" % feed.port
        st, _, cfg = api.call("PUT", "/spam", {"phish_url": url})
        assert st == 200 and cfg["phish_url"] == url, cfg
        assert s.wait_log("event=phish_list_loaded host=feeds.test entries=1", timeout=20), \
            s.log_text()[-3000:]
        st, _, cfg = api.call("GET", "/spam")
        assert cfg["phish"]["source"] == url and cfg["phish"]["entries"] == 1, cfg
        assert listed(s, "fetched", "https://fetched.test/signin?next=%2F")[1]
        assert not listed(s, "csv gone", "https://other.test/wallet")[1]
        assert "/feed.txt" not in s.log_text()  # a feed URL can carry a key: the host only

        # An error page in place of the feed keeps the list.
        feed.body = b"<html><body>Service unavailable</body></html>\n"
        st, _, cfg = api.call("PUT", "/spam", {"phish_url": url + "?again=1"})
        assert st == 200
        assert s.wait_log("event=phish_fetch_failed host=feeds.test", timeout=20), \
            s.log_text()[-3000:]
        st, _, cfg = api.call("GET", "/spam")
        assert cfg["phish"]["source"] == url and cfg["phish"]["entries"] == 1, cfg
        assert listed(s, "still listed", "https://fetched.test/signin")[1]
    finally:
        if s:
            s.stop()
            s.cleanup()
        if feed:
            feed.close()
        if dns:
            dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)
