"""test_webui_errors.py — the web admin when the server fails, in a real
browser.

tests/browser/gone.mjs signs in and opens the Accounts page; then tern is
stopped. An account's panel and every page of the navigation must say
that the server cannot be reached, with nothing left marked busy (a
"Loading…" that never ends over the error), and before that a reverse
proxy's 502 page is said in words; the first-run wizard's DNS
step too, whose two loads both fail, and the account portal, whose first
GET /me fails: an error and Try again, not its sign-in form.
tests/browser/fields.mjs: a refusal naming a field is said under that
field (a bad domain name, a weak new password, a bad entry in a list:
the Spam page's block list and a scope's allow list, Settings' tolerated
domains).
tests/browser/a11y.mjs: on every page of the admin and the portal each
control has an accessible name, Tab reaches each in turn and shows where
the focus is.
tests/browser/axe-walk.mjs: axe-core finds no serious or critical WCAG 2.2
AA violation on any page or state of the wizard, the admin and the portal
(sign-in errors, the sign-in dialog, two-factor enrolment, error pages),
and the wizard works with the keyboard alone. Screenshots land in
build/artifacts/webui-errors*/.
"""
import os
import re
import shutil

from harness import ROOT, Server
from httpc import Api
from test_webui import CHROMIUM, npm_install, run_browser, setup_code
from test_webui_portal import Steps

ARTIFACTS = os.path.join(ROOT, "build", "artifacts", "webui-errors")
ADMIN_PW = "errors-page-admin-Wq3n"
USER = "me@example.net"


def browse(script, env, cfg, complete=True):
    """Starts tern (an account, the admin password from the environment,
    setup completed unless complete is False), runs tests/browser/<script>
    with cfg and stops tern when the browser asks STOP; its stdout."""
    srv = Server(domains=("example.net",), accounts=((USER, "errors-user-pw-1"),), http=True,
                 env=dict(env, TERN_ADMIN_PASSWORD=ADMIN_PW))
    try:
        if complete:
            api = Api(srv)
            api.login(ADMIN_PW)
            st, _, body = api.call("POST", "/setup/complete", {})
            assert st == 200, body

        def answer(word, rest):
            if word != "STOP":
                return None
            srv.stop()
            return "OK"
        artifacts = ARTIFACTS + cfg.pop("suffix", "")
        shutil.rmtree(artifacts, ignore_errors=True)
        npm_install()
        return run_browser(dict(cfg, url="https://127.0.0.1:%d" % srv.https_port, admin_password=ADMIN_PW,
                                email=USER, artifacts=artifacts, chromium=CHROMIUM), srv, answer, script)
    finally:
        srv.cleanup()


def test_webui_server_gone():
    out = browse("gone.mjs", {}, {})
    for page in ("the account panel", "the settings page", "the dashboard page"):
        assert "browser: gone: %s says the server cannot be reached" % page in out, out
    assert "browser: gone: a proxy's 502 is said plainly" in out, out


def test_webui_wizard_server_gone():
    out = browse("gone.mjs", {"TERN_DOMAIN": "example.net", "TERN_RELAY_HOST": "smtp.relay.test:587"},
                 {"wizard": True, "suffix": "-wizard"}, complete=False)
    assert "browser: gone: the wizard's DNS step says the server cannot be reached" in out, out


def test_webui_portal_server_gone():
    out = browse("gone.mjs", {}, {"portal": True, "suffix": "-portal"})
    assert "browser: gone: the portal says the server cannot be reached" in out, out


def test_webui_keyboard_and_labels():
    out = browse("a11y.mjs", {}, {"password": "errors-user-pw-1", "suffix": "-a11y"})
    assert "browser: a11y: portal: " in out, out


def test_webui_refusal_under_its_field():
    out = browse("fields.mjs", {}, {"suffix": "-fields"})
    for testid in ("domain-name", "reset-password", "spam-block", "spam-scope-allow", "auth-tolerated"):
        assert "browser: fields: %s says" % testid in out, out


def test_webui_axe():
    """A fresh server: the wizard from its setup code, then the admin and
    the portal of the account the wizard made."""
    srv = Server(domains=(), http=True)
    try:
        artifacts = ARTIFACTS + "-axe"
        shutil.rmtree(artifacts, ignore_errors=True)
        npm_install()
        steps = Steps()
        out = run_browser({"url": "https://127.0.0.1:%d" % srv.https_port, "code": setup_code(srv),
                           "domain": "example.net", "admin_password": ADMIN_PW, "email": USER,
                           "password": "errors-user-pw-1", "artifacts": artifacts, "chromium": CHROMIUM},
                          srv, lambda word, rest: steps.code(rest) if word == "NEED_CODE" else None, "axe-walk.mjs")
        counts = dict(re.findall(r"^browser: axe: (.+?): (critical=\d+ serious=\d+ moderate=\d+ minor=\d+)$", out, re.M))
        for state in ("wizard setup code", "wizard setup code, refused", "wizard admin password, passwords differ",
                      "wizard host name", "wizard domain, refused", "wizard first account, refused", "wizard relay",
                      "wizard DNS records", "admin dashboard", "admin logs", "admin settings", "admin account panel",
                      "admin sign-in dialog, refused", "admin two-factor enrolment", "admin sign-in, refused",
                      "admin not found", "admin error page", "portal sign-in, refused", "portal",
                      "portal two-factor enrolment", "portal two-factor recovery codes", "portal error page"):
            assert state in counts, (state, out)
        # Not even a moderate or minor finding (a missing h1, a landmark).
        assert all(c == "critical=0 serious=0 moderate=0 minor=0" for c in counts.values()), counts
        assert 'browser: axe: portal profile: "Name saved." said in the status region' in out, out
        assert 'browser: axe: portal copy the key: "Copied" said in the status region' in out, out
        for step, field in (("code", "setup-code"), ("admin", "admin-password2"), ("domain", "domain"),
                            ("account", "account-email")):
            assert "browser: axe: wizard %s: the focus moved to %s, which says " % (step, field) in out, out
    finally:
        srv.cleanup()
