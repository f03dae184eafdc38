"""A password hash made before passwords were SASLprep'd (RFC 4013) is of
the text as typed: an account whose password was set decomposed (NFD, as
macOS gives it) was refused the NFC spelling another client sends, and
stayed so. Now the first login that matches the old hash replaces it with
a hash of the prepared form (auth/password.c password_check, store
acct_rehash), so both spellings sign in afterwards; the re-hash moves no
credentials stamp, so the account's other sessions (one that predates it,
with an app password; the login that made it) go on, while a real
password change afterwards still ends them.

The old hash is made by the sanitizer build's TERN_TEST_PASSWORD_AS_TYPED
(auth/password.c), so the test runs with --build asan only. One loop
(TERN_THREADS=1): every session is on the one session watch, so the tick
that ends the control session has checked the others too."""
import unicodedata

from harness import SANITIZED, Server
from test_session_revoke import Tls

NFC = unicodedata.normalize("NFC", "päss-wörd-1")
NFD = unicodedata.normalize("NFD", NFC)
ANNA, CTL = "anna@example.test", "ctl@example.test"
CTL_PW = "control-pw-1"


def login(s, user, pw):
    """IMAP LOGIN with the password as a literal (8-bit text, RFC 6855
    §3): (the session, the tagged reply)."""
    c = Tls(s.imaps_port)
    assert c.line().startswith("* OK")
    data = pw.encode()
    c.send('a LOGIN "%s" {%d}' % (user, len(data)))
    assert c.line().startswith("+")
    c.sock.sendall(data + b"\r\n")
    while True:
        line = c.line()
        if line.startswith("a "):
            return c, line


def login_ok(s, user, pw):
    c, r = login(s, user, pw)
    assert r.startswith("a OK"), (user, r)
    return c


def refused(s, user, pw):
    c, r = login(s, user, pw)
    c.sock.close()
    return r.startswith("a NO")


def alive(c):
    c.send("n NOOP")
    while True:
        line = c.line()
        if line.startswith("n "):
            return line.startswith("n OK")
        assert not line.startswith("* BYE"), line


def test_old_form_hash_is_replaced_at_login():
    if not SANITIZED:
        return "skip"  # the old-form hash needs the sanitizer build's knob
    s = Server(accounts=(), imap=True, start=False, env={"TERN_THREADS": "1"})
    s.env["TERN_TEST_PASSWORD_AS_TYPED"] = "1"
    s.cli("account", "add", ANNA, input=NFD + "\n")
    del s.env["TERN_TEST_PASSWORD_AS_TYPED"]
    s.cli("account", "add", CTL, input=CTL_PW + "\n")
    app = s.cli("account", "app-password", "add", ANNA, "phone").stdout.decode().split()[-1]
    s.start()
    with s:
        # A session from before the re-hash (an app password's stamp
        # digests the account's password hash too).
        z = login_ok(s, ANNA, app)
        # The old hash: only the text it was made of matches.
        assert refused(s, ANNA, NFC)
        # That text signs in, and its hash is replaced.
        a = login_ok(s, ANNA, NFD)
        # Both spellings now.
        for pw in (NFC, NFD, NFC):
            c = login_ok(s, ANNA, pw)
            c.sock.close()
        # A session whose credentials do change (the control account's
        # password, from another process) ends at the watch's next tick;
        # the same tick checked the others, which go on.
        ctl = login_ok(s, CTL, CTL_PW)
        s.cli("account", "passwd", CTL, input="control-pw-2\n")
        lines = ctl.ended()
        assert lines and lines[0] == "* BYE Credentials changed, have to disconnect.", lines
        assert alive(z) and alive(a)
        # A password change after the re-hash still ends them.
        s.cli("account", "passwd", ANNA, input="another-pw-3\n")
        for c in (z, a):
            lines = c.ended()
            assert lines and lines[0] == "* BYE Credentials changed, have to disconnect.", lines
        assert refused(s, ANNA, NFC) and refused(s, ANNA, NFD)
        login_ok(s, ANNA, "another-pw-3").sock.close()
        log = s.log_text()
        for pw in (NFC, NFD, app):
            assert pw not in log
