"""URLAUTH (RFC 4467), one server, two accounts: GENURLAUTH signs bob's
own URLs with the INTERNAL mechanism; URLFETCH gives the octets (the
message, a section, a partial range) to whom the access allows and NIL
otherwise: "user+bob" to bob only, "authuser" to carol too, "anonymous"
to anyone, "submit+bob" to no IMAP session (it is the submission
server's); a changed token, a past EXPIRE, RESETKEY of the mailbox (and of
all mailboxes) make a URL NIL, a future EXPIRE does not. GENURLAUTH of
someone else's URL, of a relative or malformed one, of a missing mailbox
is NO [BADURL]; an unknown mechanism BAD. The key is not a METADATA entry
any command can see."""
import re

from test_imap import BOB, BOB_PW, CAROL, CAROL_PW, Raw, srv
from test_imap_compress import ZClient
from test_imap_search_ext import cmd

BOBU = "bob%40example.test"
MSG = b"Subject: shared\r\n\r\nthe body\r\n"


def session(s, user, pw):
    r = Raw(s)
    r.login(user, pw)
    return r


def gen(r, url, tag="g"):
    u, t = cmd(r, tag, 'GENURLAUTH "%s" INTERNAL' % url)
    assert t == tag.encode() + b" OK Genurlauth completed.", (u, t)
    m = re.fullmatch(rb'\* GENURLAUTH "([^"]+)"', u[0])
    assert m and m.group(1).startswith(url.encode() + b":internal:"), u
    return m.group(1).decode()


def fetch(r, url, tag="f"):
    r.send(('%s URLFETCH "%s"\r\n' % (tag, url)).encode())
    head = r.line()
    assert head.startswith(b'* URLFETCH "%s" ' % url.encode()), head
    if head.endswith(b" NIL"):
        assert r.until_tag(tag)[-1] == tag.encode() + b" OK Urlfetch completed."
        return None
    n = int(re.search(rb"\{(\d+)\}$", head).group(1))
    data = b""
    while len(data) < n:
        data += r.line() + b"\r\n"
    data = data[:n]
    assert r.until_tag(tag)[-1] == tag.encode() + b" OK Urlfetch completed."
    return data


def test_imap_urlauth():
    with srv() as s:
        bob, carol = session(s, BOB, BOB_PW), session(s, CAROL, CAROL_PW)
        u, t = cmd(bob, "c", "CAPABILITY")
        assert b" URLAUTH" in u[0], u
        bob.send(b"a APPEND INBOX {%d+}\r\n%s\r\n" % (len(MSG), MSG))
        uv = int(re.search(rb"APPENDUID (\d+) 1", bob.until_tag("a")[-1]).group(1))
        base = "imap://%s@mx.example.test/INBOX;UIDVALIDITY=%d/;UID=1" % (BOBU, uv)
        mine = gen(bob, base + ";URLAUTH=user+" + BOBU)
        assert fetch(bob, mine) == MSG
        assert fetch(carol, mine) is None
        auth = gen(bob, base + "/;SECTION=TEXT;URLAUTH=authuser")
        assert fetch(carol, auth) == b"the body\r\n"
        anon = gen(bob, base + "/;PARTIAL=0.7;URLAUTH=anonymous")
        assert fetch(carol, anon) == b"Subject"
        sub = gen(bob, base + ";URLAUTH=submit+" + BOBU)
        assert fetch(bob, sub) is None
        # The login's "@" unencoded, in the owner and in the access (clients
        # write it so; RFC 3986 would have %40): the same URL to tern.
        raw = gen(bob, base.replace(BOBU, BOB, 1) + ";URLAUTH=user+" + BOB, tag="g2")
        assert fetch(bob, raw) == MSG and fetch(carol, raw) is None
        # A changed token, a past EXPIRE, a future one.
        bad = auth[:-1] + ("0" if auth[-1] != "0" else "1")
        assert fetch(carol, bad) is None
        old = gen(bob, base + ";EXPIRE=2001-02-03T04:05:06Z;URLAUTH=authuser")
        assert fetch(carol, old) is None
        later = gen(bob, base + ";EXPIRE=2099-02-03T04:05:06+01:00;URLAUTH=authuser")
        assert fetch(carol, later) == MSG
        # RESETKEY: every URL signed before is gone.
        assert cmd(bob, "r", "RESETKEY INBOX") == ([], b"r OK [URLMECH INTERNAL] Resetkey completed.")
        assert fetch(carol, auth) is None and fetch(bob, mine) is None
        again = gen(bob, base + ";URLAUTH=authuser")
        assert fetch(carol, again) == MSG
        assert cmd(bob, "r2", "RESETKEY") == ([], b"r2 OK Resetkey completed.")
        assert fetch(carol, again) is None
        # Refusals.
        for tag, url, why in (
                ("h", "imap://carol%40example.test@mx/INBOX/;UID=1;URLAUTH=anonymous", b"Not your own URL"),
                ("i", "/INBOX/;UID=1;URLAUTH=anonymous", b"Invalid URLAUTH URL"),
                ("j", base + ";URLAUTH=nobody", b"Invalid URLAUTH URL"),
                ("k", "imap://%s@mx/Nope/;UID=1;URLAUTH=anonymous" % BOBU, b"Mailbox doesn't exist"),
                ("l", again, b"Invalid URLAUTH URL")):
            u, t = cmd(bob, tag, 'GENURLAUTH "%s" INTERNAL' % url)
            assert t.startswith(tag.encode() + b" NO [BADURL ") and t.endswith(why), (url, t)
        u, t = cmd(bob, "m", 'GENURLAUTH "%s;URLAUTH=anonymous" HMAC' % base)
        assert t.startswith(b"m BAD"), t
        assert fetch(bob, "garbage") is None
        # The key is no METADATA entry a client sees.
        u, t = cmd(bob, "n", "GETMETADATA (DEPTH infinity) INBOX (/private /shared)")
        assert u == [] and t.startswith(b"n OK"), u
        # More data than a session's prepared output holds (64 MiB): the
        # URLs that fit are answered, then NO [LIMIT]; the session was
        # closed before with nothing sent. Over COMPRESS, so that the
        # octets cost little to move (most of all under ASan).
        z = ZClient(s)
        assert z.cmd("l", 'LOGIN "%s" "%s"' % (BOB, BOB_PW))[-1].startswith(b"l OK")
        z.compress()
        big = b"Subject: big\r\n\r\n" + (b"x" * 1022 + b"\r\n") * (17 << 10)
        out = z.cmd("b", b"APPEND INBOX {%d+}\r\n%s" % (len(big), big))
        assert out[-1].startswith(b"b OK [APPENDUID %d 2]" % uv), out
        url = gen(bob, base.replace("UID=1", "UID=2") + ";URLAUTH=user+" + BOBU, tag="g3")
        z.send(('o URLFETCH "%s" "%s" "%s" "%s"\r\n' % (url, url, url, url)).encode())
        for _ in range(3):
            head = z.line()
            assert head == b'* URLFETCH "%s" {%d}' % (url.encode(), len(big)), head[:200]
            assert z.take(len(big) + 2) == big + b"\r\n"
        assert z.line().startswith(b"o NO [LIMIT] ")
        assert z.cmd("p", "NOOP") == [b"p OK NOOP completed."]
        z.close()
        bob.close()
        carol.close()


def test_genurlauth_long_url_keeps_its_token():
    """A URL of up to 2047 octets is signed whole: GENURLAUTH answered one
    over 2005 octets with its ":internal:" token cut at 2047 octets of
    output (a fixed buffer), a URL no URLFETCH takes. Here a 967-octet
    mailbox name (four levels of 241), partly percent-encoded, makes the
    URL 2030 octets."""
    with srv(env={"TERN_MAX_MAILBOX_NAME": "1000"}) as s:
        bob = session(s, BOB, BOB_PW)
        name = "/".join(["L" + "a" * 240] * 4)
        assert cmd(bob, "c", 'CREATE "%s"' % name)[1].startswith(b"c OK"), name
        bob.send(b'a APPEND "%s" {%d+}\r\n%s\r\n' % (name.encode(), len(MSG), MSG))
        uv = int(re.search(rb"APPENDUID (\d+) 1", bob.until_tag("a")[-1]).group(1))
        head = "imap://%s@mx.example.test/" % BOBU
        tail = ";UIDVALIDITY=%d/;UID=1;URLAUTH=authuser" % uv
        k = (2030 - len(head) - len(tail) - len(name)) // 2  # each "%61" adds 2
        enc = ""
        for c in name:
            if c == "a" and k:
                c, k = "%61", k - 1
            enc += c
        url = head + enc + tail
        assert 2006 <= len(url) <= 2047, len(url)
        signed = gen(bob, url)
        assert re.fullmatch(r":internal:[0-9a-f]{32}", signed[len(url):]), signed[len(url):]
        assert fetch(bob, signed) == MSG
        bob.close()
