"""test_webui_dkim.py — the domain page's "Import a DKIM key" form in a real
browser (tests/browser/dkim.mjs, headless Chromium): an RSA-1024 key made by
openssl pasted with the selector "mail" is taken (notice, RFC 8301 warning,
the key cleared from the form, the table showing the selector), and a
certificate pasted instead is refused with the server's sentence. The API
then lists the imported key with the public record openssl derives.
Screenshots land in build/artifacts/webui-dkim/."""
import base64
import json
import os
import shutil
import subprocess
import tempfile

from harness import ROOT
from httpc import admin_server
from test_webui import BROWSER_DIR, CHROMIUM, npm_install

ARTIFACTS = os.path.join(ROOT, "build", "artifacts", "webui-dkim")
ADMIN_PW = "dkim-page-admin-Rq4z"


def openssl(*args):
    r = subprocess.run(["openssl"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_webui_dkim_import():
    for tool in (CHROMIUM, shutil.which("node"), shutil.which("npm")):
        assert tool and os.path.exists(tool), "needs chromium, node and npm (scripts/install-test-deps)"
    npm_install()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    tmp = tempfile.mkdtemp(prefix="tern-webui-dkim-")
    try:
        key, cert = os.path.join(tmp, "mail.pem"), os.path.join(tmp, "cert.pem")
        openssl("genrsa", "-traditional", "-out", key, "1024")
        openssl("req", "-x509", "-key", key, "-subj", "/CN=mx.example.test", "-days", "1", "-out", cert)
        pub = "v=DKIM1; k=rsa; p=" + base64.b64encode(
            openssl("pkey", "-in", key, "-pubout", "-outform", "DER")).decode()
        s, api = admin_server(password=ADMIN_PW, accounts=[("bob@example.test", "bob-pw-1")])
        with s:
            st, _, body = api.call("POST", "/setup/complete", {})  # the admin pages, not the wizard
            assert st == 200, body
            cfg = {"url": "https://127.0.0.1:%d" % s.https_port, "admin_password": ADMIN_PW,
                   "domain": "example.test", "selector": "mail", "key": open(key).read(),
                   "cert": open(cert).read(), "artifacts": ARTIFACTS, "chromium": CHROMIUM}
            r = subprocess.run(["node", os.path.join(BROWSER_DIR, "dkim.mjs"), json.dumps(cfg)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
            text = r.stdout.decode("utf-8", "replace")
            assert r.returncode == 0 and text.rstrip().endswith("DONE"), "%s\n%s\n--- server log\n%s" % (
                text, r.stderr.decode("utf-8", "replace"), s.log_text()[-4000:])
            st, _, keys = api.call("GET", "/domains/example.test/dkim")
            assert st == 200, keys
            mail = [k for k in keys["keys"] if k["selector"] == "mail"]
            assert len(mail) == 1 and mail[0]["record_value"] == pub, keys
            assert [k["algorithm"] for k in keys["keys"]] == ["rsa-sha256", "ed25519-sha256"], keys
    finally:
        shutil.rmtree(tmp)
