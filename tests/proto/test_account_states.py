"""Account states and display names (issue 31): "cannot sign in" refuses
IMAP and submission logins (app passwords too) while port 25 still takes
its mail; "inactive" refuses logins and RCPT with 550 5.2.1, directly and
through an alias, while an alias naming another account too still
delivers there; `active` gives the old password back. Set by `tern
account state` and by PATCH /api/v1/accounts/{email} (state,
display_name, the older disabled), shown by GET and `tern account list`;
submission puts the display name before a bare From address.
One server for every check; logins as logins.py explains."""
import base64
import smtplib
import time

from harness import Raw, message
from httpc import ADMIN_PW, admin_server
from logins import accepted, ctx, refused

USER = "ann@example.test"
OTHER = "otto@example.test"
PW = "account-pw-1"


def rcpt(s, addr):
    """The reply to RCPT TO:<addr> on port 25: (code, text)."""
    r = Raw(s.smtp_port)
    try:
        r.cmd("EHLO client.remote.test")
        r.cmd("MAIL FROM:<alice@remote.test>")
        code, lines = r.cmd("RCPT TO:<%s>" % addr)
        r.cmd("QUIT")
        return code, lines[-1]
    finally:
        r.close()


def deliver(s, addr):
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=20) as c:
        c.sendmail("alice@remote.test", [addr], message(to=addr))


def test_states_and_display_name():
    s, a = admin_server(accounts=[(USER, PW), (OTHER, PW)], imap=True, submission=True)
    with s:
        s.cli("alias", "add", "team@example.test", USER)
        s.cli("alias", "add", "team@example.test", OTHER)
        s.cli("alias", "add", "annie@example.test", USER)
        secret = s.cli("account", "app-password", "add", USER, "phone").stdout.decode().strip()
        path = "/accounts/" + USER
        st, _, body = a.call("GET", path)
        assert st == 200 and body["state"] == "active" and body["display_name"] == "", body
        assert body["disabled"] is False

        # Cannot sign in (the CLI): no login of any kind, mail arrives.
        out = s.cli("account", "state", USER, "cannot_sign_in").stdout.decode()
        assert "cannot_sign_in" in out, out
        assert refused(s, USER, PW, "imap", "smtp") == []
        assert refused(s, USER, secret, "imap") == []
        assert rcpt(s, USER)[0] == 250
        deliver(s, USER)
        st, _, body = a.call("GET", path)
        assert body["state"] == "cannot_sign_in" and body["disabled"] is True, body
        assert "state=cannot_sign_in" in s.cli("account", "list").stdout.decode()

        # Inactive (the API): logins and mail refused, stored mail kept.
        st, _, body = a.call("PATCH", path, {"state": "inactive"})
        assert st == 200 and body["state"] == "inactive" and body["emails"] == 1, body
        for addr in (USER, "ann+tag@example.test", "annie@example.test", "ANN@example.test"):
            code, text = rcpt(s, addr)
            assert code == 550 and text.startswith("550 5.2.1"), (addr, text)
        assert rcpt(s, "team@example.test")[0] == 250  # still reaches otto
        assert rcpt(s, "nobody@example.test")[1].startswith("550 5.1.1")
        assert refused(s, USER, PW, "imap") == []
        assert accepted(s, OTHER, PW, "imap") == []
        assert "reason=inactive" in s.log_text()

        # Bad values are refused and change nothing.
        st, _, body = a.call("PATCH", path, {"state": "disabled"})
        assert st == 400 and body["field"] == "state", body
        st, _, body = a.call("PATCH", path, {"display_name": "two\nlines"})
        assert st == 400 and body["field"] == "display_name", body
        st, _, body = a.call("PATCH", path, {"display_name": "x" * 129})
        assert st == 400, body
        r = s.cli("account", "state", USER, "off", check=False)
        assert r.returncode == 2 and b"cannot_sign_in" in r.stderr, r.stderr
        assert a.call("GET", path)[2]["state"] == "inactive"

        # Active again: the old password and the app password are back.
        st, _, body = a.call("PATCH", path, {"state": "active", "display_name": "Ann Onymous"})
        assert st == 200 and body["state"] == "active", body
        assert body["display_name"] == "Ann Onymous", body
        assert accepted(s, USER, PW, "imap") == [] and accepted(s, USER, secret, "smtp") == []
        assert rcpt(s, USER)[0] == 250

        # The older word still works: disabled true = cannot sign in.
        st, _, body = a.call("PATCH", path, {"disabled": True})
        assert st == 200 and body["state"] == "cannot_sign_in", body
        assert rcpt(s, USER)[0] == 250 and refused(s, USER, PW, "imap") == []
        assert a.call("PATCH", path, {"disabled": False})[2]["state"] == "active"

        # Display names from the CLI, shown by list; "" removes.
        s.cli("account", "name", USER, "Ann \u00c9lise")
        assert 'name="Ann \u00c9lise"' in s.cli("account", "list").stdout.decode()
        assert a.call("GET", path)[2]["display_name"] == "Ann \u00c9lise"
        # The Apple profile names the account with it.
        st, _, prof = a.call("GET", path + "/mobileconfig")
        assert st == 200 and b"<string>Ann \xc3\x89lise</string>" in prof, prof[:400]
        # Submission puts the display name before a bare From address (an
        # encoded-word when it is not ASCII); a From with a name of its
        # own, or a name that shows another address, is left alone.
        def submit(subject, from_field):
            with smtplib.SMTP_SSL("127.0.0.1", s.submissions_port, context=ctx(), timeout=20) as c:
                c.login(USER, PW)
                c.sendmail(USER, [OTHER], ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nhi\r\n"
                                           % (from_field, OTHER, subject)).encode())

        def header_of(subject, folded=False):
            deadline = time.time() + 10
            while time.time() < deadline:
                for mid, line in s.messages(OTHER):
                    if subject in line:
                        raw = s.raw(OTHER, mid).decode("utf-8", "replace")
                        head = raw.split("\r\n\r\n", 1)[0]
                        if folded:  # the From field's lines as written
                            lines = head.split("\r\n")
                            at = [l.lower().startswith("from:") for l in lines].index(True)
                            end = at + 1
                            while end < len(lines) and lines[end][:1] in (" ", "\t"):
                                end += 1
                            return lines[at:end]
                        head = head.replace("\r\n ", " ")
                        return [l for l in head.split("\r\n") if l.lower().startswith("from:")]
                time.sleep(0.1)
            raise AssertionError("no message " + subject)

        submit("utf8 name", USER)
        assert header_of("utf8 name") == ["From: =?UTF-8?B?QW5uIMOJbGlzZQ==?= <%s>" % USER]
        # A long one: several words, every line within RFC 2047 §2's 76
        # octets (the first holds "From: ", the last the address), no word
        # cutting a character. The first line had 78.
        long_name = ("Ann \u00c9lise \u20ac\U0001F4E7 " * 6).strip()
        s.cli("account", "name", USER, long_name)
        submit("long utf8 name", USER)
        lines = header_of("long utf8 name", folded=True)
        assert len(lines) > 2 and all(len(l) <= 76 for l in lines), lines
        words = [w for l in lines for w in l.split() if w.startswith("=?UTF-8?B?")]
        parts = [base64.b64decode(w[10:-2]) for w in words]
        assert all(p.decode("utf-8") for p in parts), parts  # each whole UTF-8
        assert b"".join(parts).decode("utf-8") == long_name, parts
        assert lines[-1].endswith("<%s>" % USER), lines
        s.cli("account", "name", USER, 'Ann "A." Onymous')
        submit("ascii name", "<%s>" % USER)
        assert header_of("ascii name") == ['From: "Ann \\"A.\\" Onymous" <%s>' % USER]
        submit("own name", "Annie <%s>" % USER)
        assert header_of("own name") == ["From: Annie <%s>" % USER]
        s.cli("account", "name", USER, "boss@elsewhere.test")
        submit("spoofing name", USER)
        assert header_of("spoofing name") == ["From: %s" % USER]
        s.cli("account", "name", USER, "")
        assert a.call("GET", path)[2]["display_name"] == ""

        # A new account may be given one at once.
        st, _, body = a.call("POST", "/accounts", {"email": "new@example.test",
                                                   "password": PW, "display_name": "New One",
                                                   "current": ADMIN_PW})
        assert st == 201 and body["display_name"] == "New One", body
        st, _, body = a.call("POST", "/accounts", {"email": "bad@example.test",
                                                   "password": PW, "display_name": "a\tb"})
        assert st == 400 and body["field"] == "display_name", body
