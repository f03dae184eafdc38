"""test_webui_sessions.py — "Where you are signed in" in a real browser
(tests/browser/sessions.mjs, headless Chromium): the account, signed in
here from three other clients first, sees its four portal sessions, this
one marked, signs the phone out (its cookie then gets 401, the tablet's
still works), then every other one; the admin, signed in from two other
clients, signs them out from Settings. Each step's effect is read back
here through the API with those clients' own cookies. Screenshots land
in build/artifacts/webui-sessions/."""
import os
import shutil

from harness import ROOT
from httpc import ACCOUNT_COOKIE, Api, admin_server
from test_webui import BROWSER_DIR, CHROMIUM, npm_install, run_browser

ARTIFACTS = os.path.join(ROOT, "build", "artifacts", "webui-sessions")
ADMIN_PW = "sessions-page-admin-Rq4z"
USER, PW = "pat@example.test", "pat-sessions-pw-1-Zq"


def signed_in(s, path, body, cookie, agent, source):
    c = Api(s, source=source, cookie_name=cookie)
    st, _, out = c.call("POST", path, body, headers={"User-Agent": agent})
    assert st == 200, out
    return c


def test_webui_sessions():
    for tool in (CHROMIUM, shutil.which("node"), shutil.which("npm")):
        assert tool and os.path.exists(tool), "needs chromium, node and npm (scripts/install-test-deps)"
    npm_install()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    s, a = admin_server(password=ADMIN_PW, accounts=[(USER, PW)])
    with s:
        st, _, body = a.call("POST", "/setup/complete", {})  # the admin pages, not the wizard
        assert st == 200, body
        login = {"email": USER, "password": PW}
        dev = {name: signed_in(s, "/me/session", login, ACCOUNT_COOKIE, name + "Agent/1", "127.0.0.%d" % n)
               for n, name in ((5, "Phone"), (6, "Tablet"), (7, "Watch"))}
        script = signed_in(s, "/session", {"password": ADMIN_PW}, "__Host-tern_session", "AdminScript/1",
                           "127.0.0.8")

        def status(c, path):
            return c.call("GET", path)[0]

        def answer(word, rest):
            if word != "CHECK":
                return None
            if rest == "phone-ended":
                got = (status(dev["Phone"], "/me"), status(dev["Tablet"], "/me"), status(dev["Watch"], "/me"))
                want = (401, 200, 200)
            elif rest == "portal-others-ended":
                got = tuple(status(c, "/me") for c in dev.values())
                want = (401, 401, 401)
            elif rest == "admin-others-ended":
                got = (status(a, "/session"), status(script, "/session"))
                want = (401, 401)
            else:
                return "unknown check " + rest
            return "OK" if got == want else "statuses %r, not %r" % (got, want)

        cfg = {"url": "https://127.0.0.1:%d" % s.https_port, "email": USER, "password": PW,
               "admin_password": ADMIN_PW, "artifacts": ARTIFACTS, "chromium": CHROMIUM}
        out = run_browser(cfg, s, answer, script="sessions.mjs")
        assert out.rstrip().endswith("DONE"), out
        assert s.wait_log("event=session_ended account_id=") and s.wait_log("event=sessions_ended account_id=0")
