"""test_webui_queue.py — the web admin's Queue page with an entry a
restore held, in a real browser.

A message waits for a remote domain whose DNS answers SERVFAIL; the store
is backed up and restored into a new folder (tern restore holds every
queued entry: the message may have left since the backup), and tern
starts on it. tests/browser/queue.mjs signs in and finds the entry marked
"held" (the API's held: true, next_attempt 2^53-1: the date would read
Invalid Date), the page fitting 360 px, then presses Retry now: the badge
goes, the next attempt is a date, and the API says it is no longer held.
A second entry, submitted with MT-PRIORITY=3 (RFC 6710), brings a
Priority column ("+3", and "0" for the other); once the API deletes it,
a refresh shows no Priority column (every entry left has 0).
Screenshots land in build/artifacts/webui-queue/.
"""
import os
import shutil
import smtplib
import ssl
import subprocess
import time

from harness import ROOT, Server
from httpc import Api
from test_webui import CHROMIUM, FakeDns, npm_install, run_browser

ARTIFACTS = os.path.join(ROOT, "build", "artifacts", "webui-queue")
ADMIN_PW = "queue-page-admin-Zr4m"
USER, PW = "me@example.net", "queue-user-pw-1"
RCPT = "bob@remote.test"
PRIO_RCPT = "carol@remote.test"


def queue_entry(api, rcpt=RCPT):
    st, _, body = api.call("GET", "/queue")
    assert st == 200, body
    got = [m for m in body["messages"] if rcpt in (m.get("to") or [])]
    return got[0] if got else None


def test_webui_queue_held_entry():
    for tool in (CHROMIUM, shutil.which("node"), shutil.which("npm")):
        assert tool and os.path.exists(tool), "needs chromium, node and npm (scripts/install-test-deps)"
    npm_install()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    dns = FakeDns({}, servfail=("remote.test",))
    srv = Server(domains=("example.net",), accounts=((USER, PW),), http=True, submission=True,
                 env={"TERN_DNS_SERVERS": "127.0.0.1:%d" % dns.port, "TERN_ADMIN_PASSWORD": ADMIN_PW})
    try:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP_SSL("127.0.0.1", srv.submissions_port, context=ctx, timeout=20) as c:
            c.login(USER, PW)
            c.sendmail(USER, [RCPT], b"From: me@example.net\r\nTo: bob@remote.test\r\nSubject: held\r\n\r\nwaits\r\n")
            c.sendmail(USER, [PRIO_RCPT], b"From: me@example.net\r\nTo: carol@remote.test\r\nSubject: urgent\r\n\r\nfirst\r\n",
                       mail_options=["MT-PRIORITY=3"])
        api = Api(srv)
        api.login(ADMIN_PW)
        st, _, body = api.call("POST", "/setup/complete", {})
        assert st == 200, body
        m = queue_entry(api)
        assert m and not m["held"] and m["priority"] == 0, m
        assert queue_entry(api, PRIO_RCPT)["priority"] == 3, queue_entry(api, PRIO_RCPT)
        backup = os.path.join(srv.tmp, "backup")
        srv.cli("backup", backup)
        srv.stop()
        restored = os.path.join(srv.tmp, "restored")
        r = subprocess.run([srv.binary, "restore", backup], env=dict(srv.env, TERN_DATA_DIR=restored),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        assert r.returncode == 0, r.stderr
        srv.data = srv.env["TERN_DATA_DIR"] = restored
        srv.start()
        api = Api(srv)
        api.login(ADMIN_PW)
        m = queue_entry(api)
        assert m and m["held"], m

        assert queue_entry(api, PRIO_RCPT)["priority"] == 3  # a restore keeps it

        def answer(word, rest):
            if word != "CHECK":
                return None
            if rest == "priority-dropped":
                # The prioritized entry goes: every one left has priority 0.
                e = queue_entry(api, PRIO_RCPT)
                st, _, body = api.call("DELETE", "/queue/%d" % e["id"])
                return "OK" if st == 204 and queue_entry(api, PRIO_RCPT) is None else "API: %r %r" % (st, body)
            if rest != "released":
                return None
            e = queue_entry(api)
            return "OK" if e and not e["held"] and e["next_attempt"] < time.time() + 86400 else "API: %r" % e
        out = run_browser({"url": "https://127.0.0.1:%d" % srv.https_port, "admin_password": ADMIN_PW,
                           "rcpt": RCPT, "prio_rcpt": PRIO_RCPT, "artifacts": ARTIFACTS,
                           "chromium": CHROMIUM}, srv, answer, "queue.mjs")
        for needed in ("queue: the restored entry shows held", "queue: the priority column",
                       "queue: no priority column when all are 0", "queue: Retry now released it"):
            assert "browser: " + needed in out, (needed, out)
    finally:
        srv.cleanup()
        dns.close()
