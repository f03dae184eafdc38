"""test_webui.py — the web admin end to end in a real browser.

From a fresh data folder, tern starts with HTTPS, SMTP and IMAP listeners
and no admin: it logs a one-time setup code. tests/browser/wizard.mjs drives
headless Chromium (Debian's /usr/bin/chromium through playwright-core from
npm) through the first-run wizard with that code — screenshots of every step
land in build/artifacts/webui/ — and adds a second account in the admin
pages, an app password for it on its panel (imaplib signs in with it while
the browser waits, and its open session ends when the browser revokes it),
and an alias for it (which also forwards to an outside address,
marked "forwarded" in the list). Then Python's smtplib sends a message to that
account and one to the alias, and imaplib reads both back, so what was made
in the browser is real.

The wizard's live DNS check asks a small DNS server run here (TERN_DNS_SERVERS)
that publishes the MX record, a different SPF record and nothing else, so
each verdict (found, different, missing) is checked against a known answer.
"""
import imaplib
import json
import os
import re
import shutil
import smtplib
import socket
import ssl
import struct
import subprocess
import threading
import time
from email.message import EmailMessage

from harness import ROOT, Server, npm_ci

BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
ARTIFACTS = os.path.join(ROOT, "build", "artifacts", "webui")
CHROMIUM = "/usr/bin/chromium"

DOMAIN = "example.test"
HOSTNAME = "mx.example.test"
SPF_PUBLISHED = "v=spf1 ip4:192.0.2.99 -all"   # not what tern asks for: "different"


class FakeDns:
    """A UDP DNS server on 127.0.0.1 answering from a fixed table.

    records: {(name, qtype): [rdata bytes]} with names lowercase, no
    trailing dot. A name with no records at all is NXDOMAIN; a known name
    asked for another type is an empty NOERROR answer; names in servfail
    get SERVFAIL (a temporary failure for the resolver).
    """

    def __init__(self, records, servfail=()):
        self.records = records
        self.names = {n for n, _ in records}
        self.servfail = set(servfail)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                reply = self._answer(data)
            except (IndexError, struct.error, UnicodeDecodeError):
                continue  # not a query we understand: no answer, as a real server might
            try:
                self.sock.sendto(reply, peer)
            except OSError:
                return  # closed by close() while answering

    def _answer(self, q):
        qid, flags, qdcount = struct.unpack("!HHH", q[:6])
        if qdcount != 1:
            raise IndexError("one question only")
        pos, labels = 12, []
        while q[pos]:
            n = q[pos]
            labels.append(q[pos + 1:pos + 1 + n].decode("ascii"))
            pos += 1 + n
        qtype, _qclass = struct.unpack("!HH", q[pos + 1:pos + 5])
        question = q[12:pos + 5]
        name = ".".join(labels).lower()
        self.queries.append((name, qtype))
        answers = self.records.get((name, qtype), [])
        rcode = 2 if name in self.servfail else 0 if name in self.names else 3
        hdr = struct.pack("!HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode, 1, len(answers), 0, 0)
        body = b"".join(struct.pack("!HHHIH", 0xC00C, qtype, 1, 60, len(r)) + r for r in answers)
        return hdr + question + body

    def close(self):
        self.sock.close()


def dns_name(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"


def dns_txt(text):
    raw = text.encode()
    return b"".join(bytes([len(raw[i:i + 255])]) + raw[i:i + 255] for i in range(0, len(raw), 255))


def npm_install():
    """npm ci into tests/browser/node_modules when the lockfile changed."""
    npm_ci(BROWSER_DIR)


def setup_code(srv):
    """The one-time code from the server log (`event=setup_code code=XXXX-XXXX-XXXX`)."""
    deadline = time.time() + 10
    while time.time() < deadline:
        m = re.search(r'setup[ _]code(?:=| code=)"?([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})', srv.log_text())
        if m:
            return m.group(1)
        time.sleep(0.05)
    raise AssertionError("no setup code in the log:\n" + srv.log_text())


def run_browser(cfg, srv, answer=None, script="wizard.mjs"):
    """Runs tests/browser/<script> with cfg; its stdout, or fails with both logs.

    answer(word, rest) answers the browser's questions (a stdout line
    `WORD REST`; None: not a question), within the same 240 s."""
    p = subprocess.Popen(["node", os.path.join(BROWSER_DIR, script), json.dumps(cfg)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killer = threading.Timer(240, p.kill)
    killer.start()
    out = []
    try:
        for raw in p.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            out.append(line)
            word, _, rest = line.partition(" ")
            said = answer(word, rest) if answer else None
            if said is not None:
                p.stdin.write((said + "\n").encode())
                p.stdin.flush()
        p.wait(30)
    finally:
        killer.cancel()
        if p.poll() is None:
            p.kill()
    out = "\n".join(out) + "\n"
    err = p.stderr.read().decode("utf-8", "replace")
    assert p.returncode == 0, "browser test failed:\n%s\n%s\n--- server log (tail)\n%s" % (
        out, err, "".join(l for l in srv.log_text().splitlines(True) if "event=mhd" not in l)[-6000:])
    return out


def imaps(srv):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=ctx, timeout=20)


class Questions:
    """The browser's questions: APPPASS (sign in over IMAP with the app
    password it made on the account's panel, keep the session open), then
    REVOKED (that session ends within a few seconds, and the password is
    refused); SECOND_DOMAIN (add the domain second.test with one account,
    for the Domains page to refuse removing). Answers GO, or what went
    wrong."""

    def __init__(self, srv):
        self.srv, self.session, self.seen = srv, None, []

    def __call__(self, word, rest):
        if word not in ("APPPASS", "REVOKED", "SECOND_DOMAIN"):
            return None
        self.seen.append(word)
        email, _, secret = rest.partition(" ")
        try:
            if word == "SECOND_DOMAIN":
                self.srv.cli("domain", "add", "second.test")
                self.srv.cli("account", "add", "carl@second.test", input="carl-second-pw-9\n")
                return "GO"
            if word == "APPPASS":
                self.session = imaps(self.srv)
                self.session.login(email, secret)
                typ, _ = self.session.select("INBOX")
                return "GO" if typ == "OK" else "select said %s" % typ
            # Revoked: the open session is ended (the session watch looks
            # once a second), and a new sign-in with it fails.
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    typ, _ = self.session.noop()
                except (imaplib.IMAP4.abort, OSError, EOFError):
                    break
                time.sleep(0.2)
            else:
                return "the IMAP session signed in with it is still open"
            with imaps(self.srv) as im:
                try:
                    im.login(email, secret)
                    return "a revoked app password still signs in"
                except imaplib.IMAP4.error:
                    pass
            return "GO"
        except Exception as e:  # said to the browser, which fails the test with it
            return "%s: %s" % (type(e).__name__, e)


def test_webui_wizard_accounts_mail():
    for tool in (CHROMIUM, shutil.which("node"), shutil.which("npm")):
        assert tool and os.path.exists(tool), "browser test needs chromium, node and npm (scripts/install-test-deps)"
    npm_install()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)

    dns = FakeDns({
        (DOMAIN, 15): [struct.pack("!H", 10) + dns_name(HOSTNAME)],   # MX, as tern asks
        (DOMAIN, 16): [dns_txt(SPF_PUBLISHED)],                       # TXT: SPF differs
    })
    # Fresh data folder: no domain, no account, no admin. TERN_HOSTNAME is
    # set (the harness sets it), so the wizard must show it locked.
    srv = Server(domains=(), http=True, imap=True,
                 env={"TERN_DNS_SERVERS": "127.0.0.1:%d" % dns.port})
    try:
        code = setup_code(srv)
        cfg = {
            "url": "https://127.0.0.1:%d" % srv.https_port,
            "code": code,
            "admin_password": "correct horse battery",
            "hostname_locked": HOSTNAME,
            "domain": DOMAIN,
            "first_email": "alice@" + DOMAIN,
            "first_password": "alice-password-17",
            "first_name": "Alice Example",
            "second_email": "bob@" + DOMAIN,
            "second_password": "bob-password-22",
            "alias": "info@" + DOMAIN,
            "backup_dir": os.path.join(srv.tmp, "backups"),
            "artifacts": ARTIFACTS,
            "chromium": CHROMIUM,
        }
        checks = Questions(srv)
        out = run_browser(cfg, srv, checks)
        # The display name typed in the wizard's account step is the account's.
        listing = srv.cli("account", "list").stdout.decode()
        assert any(l.startswith(cfg["first_email"]) and 'name="Alice Example"' in l
                   for l in listing.splitlines()), listing
        assert checks.seen == ["APPPASS", "REVOKED", "SECOND_DOMAIN"], (checks.seen, out)
        # The domain with an account was not removed (nor asked about).
        assert "browser: domain with an account: removal refused at once" in out, out
        assert "browser: wizard: signed in again in the dialog, the step kept" in out, out
        assert b"second.test" in srv.cli("domain", "list").stdout
        assert "browser: app password made, used over IMAP and revoked from the account panel" in out, out
        assert "browser: accounts: found by name, then all shown again" in out, out
        listing = srv.cli("account", "app-password", "list", cfg["second_email"]).stdout.decode()
        assert any(l.startswith("phone") for l in listing.splitlines()), listing
        assert not any(l.startswith("laptop mail") for l in listing.splitlines()), listing
        shots = sorted(os.listdir(ARTIFACTS))
        for step in ("setup-code", "admin-password", "hostname", "domain", "first-account", "relay", "dns-records",
                     "domain-dmarc"):
            assert any(step in s for s in shots), "no screenshot of wizard step %s in %s" % (step, shots)

        # The JMAP token made on the account's panel is the account's.
        assert "browser: jmap token made from the account panel" in out, out
        listing = srv.cli("account", "app-password", "list", cfg["second_email"]).stdout.decode()
        assert any(l.startswith("admin script") and "scope=jmap" in l for l in listing.splitlines()), listing

        # The live DNS check's verdicts match what the fake DNS server has.
        m = re.search(r"^DNS (.*)$", out, re.M)
        assert m, out
        checked = json.loads(m.group(1))
        by = {}
        for c in checked:
            by.setdefault((c["type"], c["name"].rstrip(".").lower()), []).append(c["status"])
        assert by.get(("MX", DOMAIN)) == ["found"], checked
        assert "different" in by.get(("TXT", DOMAIN), []), checked          # SPF
        assert by.get(("TXT", "_dmarc." + DOMAIN)) == ["missing"], checked
        assert any(t == "SRV" for t, _ in by), checked
        assert any(name == DOMAIN for name, _ in dns.queries), dns.queries

        # The second account, made on the Accounts page, receives mail, also
        # through the alias made on the Aliases page ...
        with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=20) as s:
            s.ehlo("client.elsewhere.test")
            for to, subject in ((cfg["second_email"], "hello from the browser test"),
                                (cfg["alias"], "via the alias")):
                msg = EmailMessage()
                msg["From"] = "someone@elsewhere.test"
                msg["To"] = to
                msg["Subject"] = subject
                msg.set_content("Made in the web admin, delivered over SMTP.\n")
                refused = s.send_message(msg)
                assert not refused, refused

        # ... and its owner reads it over IMAP with the password set there.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        deadline = time.time() + 10
        with imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=ctx, timeout=20) as im:
            im.login(cfg["second_email"], cfg["second_password"])
            while True:
                typ, data = im.select("INBOX")
                assert typ == "OK", data
                if int(data[0]) >= 2 or time.time() > deadline:
                    break
                time.sleep(0.1)
            typ, data = im.search(None, "SUBJECT", '"hello from the browser test"')
            ids = data[0].split()
            assert typ == "OK" and len(ids) == 1, data
            typ, data = im.fetch(ids[0], "(BODY.PEEK[TEXT])")
            assert typ == "OK" and b"Made in the web admin" in data[0][1], data
            typ, data = im.search(None, "SUBJECT", '"via the alias"')
            assert typ == "OK" and len(data[0].split()) == 1, data
            # The mbox uploaded on the account's panel is in its folder.
            typ, data = im.select("Archive", readonly=True)
            assert typ == "OK" and int(data[0]) == 2, data
            im.logout()

        # The wizard's first account logs in too; a wrong password does not.
        with imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=ctx, timeout=20) as im:
            im.login(cfg["first_email"], cfg["first_password"])
            im.logout()
        with imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=ctx, timeout=20) as im:
            try:
                im.login(cfg["second_email"], "not-the-password")
                raise AssertionError("wrong password accepted")
            except imaplib.IMAP4.error:
                pass
    finally:
        srv.cleanup()
        dns.close()


# Long enough but easy to guess ("a common password or word"): an
# upgrade keeps it working, with a warning on the Settings page (issue 31).
ENV_ADMIN_PW = "password-admin"
QUEUE_EXTRA = 120
ALIAS_EXTRA = 120
TOKEN_EXTRA = 101


def test_webui_env_locked():
    """Answers given by environment variables are shown set and locked.

    With TERN_ADMIN_PASSWORD there is no setup code (none in the log): the
    wizard asks to sign in with that password (a weak one: it still works,
    and the Settings page warns about it); TERN_HOSTNAME, TERN_DOMAIN and
    TERN_RELAY_HOST appear read-only with their variable named. The account
    exists already, so its wizard step is skipped. A message that cannot be
    delivered yet waits in the queue: the Queue page retries and deletes it.
    """
    npm_install()
    artifacts = ARTIFACTS + "-locked"
    shutil.rmtree(artifacts, ignore_errors=True)
    # The relay's name (and the recipient's domain) cannot be resolved for now:
    # the message waits in the queue.
    dns = FakeDns({}, servfail=("smtp.relay.test", "remote.test"))
    srv = Server(domains=("example.net",), accounts=(("me@example.net", "my-password-1-Vq8r"),),
                 http=True, submission=True, env={
        "TERN_DNS_SERVERS": "127.0.0.1:%d" % dns.port,
        "TERN_ADMIN_PASSWORD": ENV_ADMIN_PW,
        "TERN_DOMAIN": "example.net",
        "TERN_RELAY_HOST": "smtp.relay.test:587",
        "TERN_RELAY_USER": "relayuser",
        "TERN_RELAY_PASSWORD": "relay password",
    })
    try:
        assert "setup_code" not in srv.log_text() and "setup code" not in srv.log_text(), srv.log_text()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP_SSL("127.0.0.1", srv.submissions_port, context=ctx, timeout=20) as s:
            s.login("me@example.net", "my-password-1-Vq8r")
            s.sendmail("me@example.net", ["bob@remote.test"],
                       b"From: me@example.net\r\nTo: bob@remote.test\r\nSubject: queued\r\n\r\nwaits\r\n")
            # QUEUE_EXTRA more behind it (pipelined): the Queue page shows
            # them a page of 100 at a time.
            out = []
            for i in range(QUEUE_EXTRA):
                body = b"From: me@example.net\r\nSubject: q%d\r\n\r\nwaits\r\n" % i
                out.append(b"MAIL FROM:<me@example.net>\r\nRCPT TO:<x%d@remote.test>\r\n"
                           b"BDAT %d LAST\r\n%s" % (i, len(body), body))
            s.sock.sendall(b"".join(out))
            for _ in range(3 * QUEUE_EXTRA):
                assert s.getreply()[0] == 250
        # A message for me@, then a quota below what it uses: over quota,
        # which the Accounts page shows in red.
        with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=20) as s:
            s.sendmail("a@remote.test", ["me@example.net"],
                       b"From: a@remote.test\r\nSubject: fills\r\n\r\n" + b"x" * 2000 + b"\r\n")
        from httpc import Api
        api = Api(srv)
        api.login(ENV_ADMIN_PW)
        status, _ = api.call("PATCH", "/accounts/me@example.net", {"quota": 1024})[:2]
        assert status == 200, status
        # More aliases than one page of the Aliases page holds.
        for i in range(ALIAS_EXTRA):
            status = api.call("POST", "/aliases", {"alias": "a%d@example.net" % i,
                                                   "target": "me@example.net"})[0]
            assert status == 201, (i, status)
        # More API tokens than one page of the Settings page holds.
        for i in range(TOKEN_EXTRA):
            srv.cli("token", "add", "t%03d" % i)
        out = run_browser({
            "url": "https://127.0.0.1:%d" % srv.https_port,
            "over_quota_email": "me@example.net",
            "token_extra": TOKEN_EXTRA,
            "admin_locked": True,
            "admin_password": ENV_ADMIN_PW,
            "hostname_locked": HOSTNAME,
            "domain": "example.net",
            "domain_locked": True,
            "relay_locked": "smtp.relay.test:587",
            "first_email": "me@example.net",
            "first_password": "my-password-1-Vq8r",
            "skip_account": True,
            "queue_recipient": "bob@remote.test",
            "queue_extra": QUEUE_EXTRA,
            "queue_extra_domain": "remote.test",
            "alias_extra": ALIAS_EXTRA,
            "artifacts": artifacts,
            "chromium": CHROMIUM,
            "setup_only": True,
            "admin_weak": True,
        }, srv)
        checked = json.loads(re.search(r"^DNS (.*)$", out, re.M).group(1))
        # The fake DNS server knows no name: every record is missing.
        assert checked and all(c["status"] == "missing" for c in checked), checked
        assert "queue: retried and deleted" in out, out
        assert "queue: %d messages waiting. Showing those for remote.test, 1–100." % QUEUE_EXTRA in out, out
        assert "aliases: %d in pages of 100" % ALIAS_EXTRA in out, out
        assert "aliases: our domains read page after page" in out, out
        assert "tokens: %d in pages of 100" % TOKEN_EXTRA in out, out
        assert "tokens: the emptied last page stepped back" in out, out
        assert "accounts: over quota shown in red" in out, out
        assert "accounts: %d aliases, five in the row" % ALIAS_EXTRA in out, out
        assert "admin password: TERN_ADMIN_PASSWORD shown locked and weak" in out, out
        assert "relay password" not in srv.log_text()
    finally:
        srv.cleanup()
        dns.close()


def test_webui_assets_embedded():
    """The bundle in build/web/ is what build/tern serves, byte for byte.

    scripts/gen-web-assets.mjs embeds each file gzip-compressed with its
    Content-Type and an ETag; hashed files are cached for a year
    (immutable), the index page is revalidated, and single-page-app routes
    get the index page.
    """
    import gzip
    from httpc import Api
    bundle = os.path.join(ROOT, "build", "web")
    srv = Server(domains=(), http=True)
    try:
        api = Api(srv)
        gz = {"Accept-Encoding": "gzip, deflate, br"}
        status, h, body = api.raw("GET", "/", headers=gz)
        assert status == 200, status
        assert h["content-type"] == "text/html; charset=utf-8", h
        assert h.get("content-encoding") == "gzip", h
        assert "immutable" not in h.get("cache-control", ""), h
        assert "content-security-policy" in h, h
        index = gzip.decompress(body)
        with open(os.path.join(bundle, "index.html"), "rb") as f:
            assert index == f.read()
        etag = h["etag"]
        assert re.fullmatch(r'"[A-Za-z0-9_-]{8,}"', etag), etag

        # A single-page-app route is the index page; a revalidation is 304.
        status, h2, body2 = api.raw("GET", "/accounts", headers=gz)
        assert status == 200 and h2["etag"] == etag and gzip.decompress(body2) == index
        status, h3, _ = api.raw("GET", "/", headers=dict(gz, **{"If-None-Match": etag}))
        assert status == 304, status

        # Every file of the bundle, with its type; hashed ones immutable.
        types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html"}
        seen = 0
        for dirpath, _, files in os.walk(bundle):
            for name in files:
                full = os.path.join(dirpath, name)
                path = "/" + os.path.relpath(full, bundle).replace(os.sep, "/")
                status, h, body = api.raw("GET", path, headers=gz)
                assert status == 200, (path, status)
                with open(full, "rb") as f:
                    assert gzip.decompress(body) == f.read(), path
                assert h["content-type"].startswith(types[os.path.splitext(name)[1]]), (path, h)
                hashed = path.startswith("/assets/")
                assert ("immutable" in h.get("cache-control", "")) == hashed, (path, h)
                seen += 1
        assert seen >= 3, seen
        status, _, _ = api.raw("GET", "/assets/index-00000000.js", headers=gz)
        assert status == 404, status
    finally:
        srv.cleanup()
