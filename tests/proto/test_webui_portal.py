"""test_webui_portal.py — the account portal and the admin's two-factor
sign-in in a real browser (issue 31).

tests/browser/portal.mjs drives headless Chromium: a user signs in at
/account, sets a display name (its session ended meanwhile by DELETE
/me/session from another client: the save signs in again in the dialog
over the page and goes through), creates an app password, sets forwarding
(an address of ours refused, an outside one stored), sets its allow and
block lists (a bad entry refused), makes a JMAP token
(used here as a bearer token), turns on TOTP,
changes the password, downloads the Apple profile and signs in again with
a code; the admin turns on TOTP in Settings and signs in with a code,
and, its session ended, in the sign-in dialog over a page (the code field
takes the focus: typed with the keyboard alone). The
codes are computed here, with hmac (RFC 6238), never by tern's code; the
QR codes the page draws are screenshotted and read back with zbarimg.
Meanwhile, with 2FA on, IMAP and submission take the app password and
refuse the account password. Screenshots land in
build/artifacts/webui-portal/.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time

from harness import ROOT
from httpc import admin_server, tls_ctx
from logins import accepted, refused
from test_encryption import make_pgp_key
from test_webui import BROWSER_DIR, CHROMIUM, npm_install

ARTIFACTS = os.path.join(ROOT, "build", "artifacts", "webui-portal")
USER = "pat@example.test"
PW = "portal-first-pw"
NEWPW = "portal-second-pw"
ADMIN_PW = "admin-password-1-Vq8r"


def totp(secret_b32, step):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7fffffff) % 1000000)


class Steps:
    """Successive steps per secret (tern takes the one before, the current
    and the next, each once): no waiting for the clock. The first code is
    the current step's, never the one before: that one stops being accepted
    when the step ends, which can come before the browser has typed it and
    the server has read it on a busy machine; the current step's code stays
    good for 30 to 60 s."""

    def __init__(self):
        self.next = {}

    def code(self, secret):
        now = int(time.time() // 30)
        step = max(self.next.get(secret, now), now)
        if step > now + 1:
            time.sleep(30 - time.time() % 30 + 0.2)
        self.next[secret] = step + 1
        return totp(secret, step)


def jmap_session(s, token):
    """(status, session resource) of GET /jmap/session with a bearer token."""
    c = http.client.HTTPSConnection("127.0.0.1", s.https_port, timeout=30, context=tls_ctx())
    try:
        c.request("GET", "/jmap/session", headers={"Authorization": "Bearer " + token})
        r = c.getresponse()
        raw = r.read()
    finally:
        c.close()
    return r.status, json.loads(raw) if r.status == 200 else {}


def vacation_check(s):
    """The portal's vacation form stored an active script "vacation" that
    compiles with both lines of the message and answers a message from
    outside with a vacation action: "GO", or what is wrong."""
    listing = s.cli("sieve", "list", USER).stdout.decode()
    if "vacation ACTIVE" not in listing.splitlines():
        return "not the active script: %r" % listing
    script = s.cli("sieve", "get", USER, "vacation").stdout.decode()
    if 'I am away.\nBack on Monday, \\"really\\".' not in script or '"Away until Monday"' not in script:
        return "script %r" % script
    path, msg = os.path.join(s.tmp, "vacation.sieve"), os.path.join(s.tmp, "vacation.eml")
    with open(path, "w") as f:
        f.write(script)
    with open(msg, "wb") as f:
        f.write(b"From: someone@elsewhere.test\r\nTo: %s\r\nSubject: hi\r\n\r\nhello\r\n" % USER.encode())
    r = s.cli("sieve", "test", path, msg, "--from", "someone@elsewhere.test", "--to", USER, check=False)
    if r.returncode != 0 or r.stdout.decode().split()[:1] != ["vacation"]:
        return "sieve test said %r %r" % (r.stdout, r.stderr)
    return "GO"


def test_webui_portal_and_admin_totp():
    for tool in (CHROMIUM, shutil.which("node"), shutil.which("npm"), shutil.which("zbarimg")):
        assert tool and os.path.exists(tool), \
            "needs chromium, node, npm and zbarimg (scripts/install-test-deps)"
    npm_install()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    s, admin = admin_server(password=ADMIN_PW, accounts=[(USER, PW)], imap=True, submission=True)
    with s:
        st, _, body = admin.call("POST", "/setup/complete", {})
        assert st == 200, body
        # The checks after the browser's run read through a token: this
        # session, signed in with the password alone, ends once the
        # browser turns the admin's 2FA on.
        st, _, tok = admin.call("POST", "/tokens", {"name": "checks", "password": ADMIN_PW})
        assert st == 201, tok
        gpg_home = tempfile.mkdtemp(prefix="tern-gpg-")
        key_file = os.path.join(s.tmp, "key.gpg")
        try:
            _, pgp_fpr, _, _ = make_pgp_key(gpg_home)
            # The binary export, as a file the portal reads and armors.
            with open(key_file, "wb") as f:
                f.write(subprocess.run(["gpg", "--batch", "--homedir", gpg_home, "--export",
                                        "enc@example.test"], capture_output=True, check=True).stdout)
        finally:
            subprocess.run(["gpgconf", "--homedir", gpg_home, "--kill", "all"], capture_output=True)
            shutil.rmtree(gpg_home, ignore_errors=True)
        cfg = {"url": "https://127.0.0.1:%d" % s.https_port, "email": USER, "password": PW,
               "new_password": NEWPW, "admin_password": ADMIN_PW, "artifacts": ARTIFACTS,
               "chromium": CHROMIUM, "pgp_key_file": key_file, "pgp_fpr": pgp_fpr}
        p = subprocess.Popen(["node", os.path.join(BROWSER_DIR, "portal.mjs"), json.dumps(cfg)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        steps = Steps()
        out, seen = [], set()
        deadline = time.time() + 150
        try:
            for raw in p.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                out.append(line)
                assert time.time() < deadline, "\n".join(out)
                word, _, rest = line.partition(" ")
                answer = None
                if word == "NEED_CODE":
                    answer = steps.code(rest)
                elif word == "QR":
                    path, _, text = rest.partition(" ")
                    r = subprocess.run(["zbarimg", "-q", "--raw", path], stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, timeout=30)
                    got = r.stdout.decode("utf-8", "replace").strip()
                    answer = "OK" if got == text else "read %r" % got
                    seen.add("qr")
                elif word == "TOKEN":
                    st, sess = jmap_session(s, rest)
                    answer = "GO" if st == 200 and sess.get("username") == USER else "NO"
                    seen.add("token")
                elif word == "VACATION":
                    answer = vacation_check(s)
                    seen.add("vacation")
                elif word == "VACATION_OFF":
                    # Turned off from the form: kept, not active; the
                    # filter deleted from the list is gone.
                    listing = s.cli("sieve", "list", USER).stdout.decode().splitlines()
                    answer = "GO" if listing == ["vacation"] else "sieve list: %r" % listing
                    seen.add("vacation_off")
                elif word == "APPPASS":
                    # 2FA is on: mail takes the app password only.
                    ok = (accepted(s, USER, rest, "imap", "smtp") == []
                          and refused(s, USER, PW, "imap", "smtp") == [])
                    answer = "GO" if ok else "NO"
                    seen.add("mail")
                if answer is not None:
                    p.stdin.write((answer + "\n").encode())
                    p.stdin.flush()
            p.wait(30)
        finally:
            if p.poll() is None:
                p.kill()
        err = p.stderr.read().decode("utf-8", "replace")
        text = "\n".join(out)
        assert p.returncode == 0 and text.endswith("DONE"), "%s\n%s\n--- server log\n%s" % (
            text, err, s.log_text()[-4000:])
        assert seen == {"qr", "mail", "token", "vacation", "vacation_off"}, seen
        for needed in ("portal: display name set", "portal: two-factor sign-in on",
                       "portal: strength meter shown",
                       "portal: password changed", "portal: profile downloaded",
                       "portal: forwarding set", "portal: jmap token made",
                       "portal: allow and block lists set",
                       "portal: encryption on and off",
                       "portal: vacation reply on",
                       "portal: filter deleted, the question keyboard-usable",
                       "portal: vacation reply off",
                       "titles: each page names itself",
                       "portal: layout at 360 and 1280 px checked",
                       "portal: signed in again with a code", "admin: two-factor sign-in on",
                       "admin: signed in with a code", "admin: display name shown as text",
                       "admin: encryption seen and turned off",
                       "admin: signed in again in the dialog with a code"):
            assert ("browser: " + needed) in text, (needed, text)
        # What the browser did is real: the new password, the name.
        assert refused(s, USER, NEWPW, "imap") == []  # 2FA still on: app passwords only
        assert admin.call("GET", "/accounts")[0] == 401
        admin.cookie, admin.token = None, tok["token"]
        st, _, body = admin.call("GET", "/accounts/%s/forwarding" % USER)
        assert body == {"addresses": ["pat.away@remote.test"], "keep": False}, body
        st, _, body = admin.call("GET", "/spam/lists/%s" % USER)
        assert st == 200 and body["allow"] == ["192.0.2.0/24", "friend.example"], body
        assert body["block"] == ["spammer.example"], body
        assert s.log_text().count("event=encryption_set account_id=1 method=openpgp") == 2
        assert s.log_text().count("event=encryption_set account_id=1 method=none") == 2
        st, _, body = admin.call("GET", "/accounts/%s/encryption" % USER)
        assert st == 200 and body == {"method": "none"}, body
        from httpc import Api
        a = Api(s)
        st, _, body = a.call("POST", "/session", {"password": ADMIN_PW})
        assert st == 401 and body["code"] == "totp_required", body
