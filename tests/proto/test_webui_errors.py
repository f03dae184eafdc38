"""test_webui_errors.py — the web admin when the server fails, in a real
browser.

tests/browser/gone.mjs signs in and opens the Accounts page; then tern is
stopped. An account's panel and every page of the navigation must say
that the server cannot be reached, with nothing left marked busy (a
"Loading…" that never ends over the error); the first-run wizard's DNS
step too, whose two loads both fail, and the account portal, whose first
GET /me fails: an error and Try again, not its sign-in form. Screenshots land in
build/artifacts/webui-errors/.
"""
import json
import os
import shutil
import subprocess

from harness import ROOT, Server
from httpc import Api
from test_webui import BROWSER_DIR, CHROMIUM, npm_install

ARTIFACTS = os.path.join(ROOT, "build", "artifacts", "webui-errors")
ADMIN_PW = "errors-page-admin-Wq3n"
USER = "me@example.net"


def run(cfg, on_line):
    """Runs tests/browser/<script>; on_line(line) answers its questions."""
    p = subprocess.Popen(["node", os.path.join(BROWSER_DIR, cfg.pop("script")), json.dumps(cfg)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = []
    try:
        for raw in p.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            out.append(line)
            answer = on_line(line)
            if answer is not None:
                p.stdin.write((answer + "\n").encode())
                p.stdin.flush()
        p.wait(60)
    finally:
        if p.poll() is None:
            p.kill()
    return p.returncode, "\n".join(out), p.stderr.read().decode("utf-8", "replace")


def test_webui_server_gone():
    for tool in (CHROMIUM, shutil.which("node"), shutil.which("npm")):
        assert tool and os.path.exists(tool), "needs chromium, node and npm (scripts/install-test-deps)"
    npm_install()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    srv = Server(domains=("example.net",), accounts=((USER, "errors-user-pw-1"),), http=True,
                 env={"TERN_ADMIN_PASSWORD": ADMIN_PW})
    try:
        api = Api(srv)
        api.login(ADMIN_PW)
        st, _, body = api.call("POST", "/setup/complete", {})
        assert st == 200, body

        def answer(line):
            if line != "STOP":
                return None
            srv.stop()
            return "OK"
        rc, text, err = run({"script": "gone.mjs", "url": "https://127.0.0.1:%d" % srv.https_port,
                             "admin_password": ADMIN_PW, "email": USER, "artifacts": ARTIFACTS,
                             "chromium": CHROMIUM}, answer)
        assert rc == 0 and text.endswith("DONE"), "%s\n%s\n--- server log\n%s" % (text, err, srv.log_text()[-3000:])
        for page in ("the account panel", "the settings page", "the dashboard page"):
            assert "browser: gone: %s says the server cannot be reached" % page in text, text
    finally:
        srv.cleanup()


def test_webui_wizard_server_gone():
    npm_install()
    artifacts = ARTIFACTS + "-wizard"
    shutil.rmtree(artifacts, ignore_errors=True)
    srv = Server(domains=("example.net",), accounts=((USER, "errors-user-pw-1"),), http=True,
                 env={"TERN_ADMIN_PASSWORD": ADMIN_PW, "TERN_DOMAIN": "example.net",
                      "TERN_RELAY_HOST": "smtp.relay.test:587"})
    try:
        def answer(line):
            if line != "STOP":
                return None
            srv.stop()
            return "OK"
        rc, text, err = run({"script": "gone.mjs", "wizard": True,
                             "url": "https://127.0.0.1:%d" % srv.https_port,
                             "admin_password": ADMIN_PW, "artifacts": artifacts, "chromium": CHROMIUM}, answer)
        assert rc == 0 and text.endswith("DONE"), "%s\n%s\n--- server log\n%s" % (text, err, srv.log_text()[-3000:])
        assert "browser: gone: the wizard's DNS step says the server cannot be reached" in text, text
    finally:
        srv.cleanup()


def test_webui_portal_server_gone():
    npm_install()
    artifacts = ARTIFACTS + "-portal"
    shutil.rmtree(artifacts, ignore_errors=True)
    srv = Server(domains=("example.net",), accounts=((USER, "errors-user-pw-1"),), http=True,
                 env={"TERN_ADMIN_PASSWORD": ADMIN_PW})
    try:
        def answer(line):
            if line != "STOP":
                return None
            srv.stop()
            return "OK"
        rc, text, err = run({"script": "gone.mjs", "portal": True,
                             "url": "https://127.0.0.1:%d" % srv.https_port,
                             "artifacts": artifacts, "chromium": CHROMIUM}, answer)
        assert rc == 0 and text.endswith("DONE"), "%s\n%s\n--- server log\n%s" % (text, err, srv.log_text()[-3000:])
        assert "browser: gone: the portal says the server cannot be reached" in text, text
    finally:
        srv.cleanup()
