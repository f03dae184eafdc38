"""CATENATE (RFC 4469) with URL-PARTIAL, one server: the RFC's use, a
message forwarded with an attachment taken from a stored message by URL
(";SECTION=2.MIME" and ";SECTION=2" between TEXT literals) comes out
byte for byte; a whole message plus TEXT; HEADER and TEXT of a message;
HEADER.FIELDS and HEADER.FIELDS.NOT (names quoted or not, in any case,
";PARTIAL=" after them; a malformed list refused); ";PARTIAL=0.5"; a URL into another mailbox from the authenticated state;
MULTIAPPEND of two CATENATE messages with flags. Refusals as Dovecot
answers them: NO [BADURL url] for a wrong UIDVALIDITY, an unknown UID or
mailbox, an absolute URL ("Relative URL required"), a missing section,
URLAUTH; NO [TRYCREATE] into a mailbox that does not exist, even with
a bad URL; BAD for an empty list or an unknown part type; NO [TOOBIG] when
the parts pass the APPENDLIMIT (TERN_MAX_MESSAGE_SIZE is 300000 here),
with nothing stored by any refused APPEND."""
import re

from test_imap import Raw, srv
from test_imap_search_ext import cmd

ATTACHED = (b"From: a@example.test\r\nSubject: with attachment\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            b"--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
            b"--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            b"AAECAwQFBgcICQ==\r\n--b1--\r\n")


def lit(b):
    return b"{%d+}\r\n%s" % (len(b), b)


def append(r, tag, rest):
    r.send(b"%s APPEND %s\r\n" % (tag.encode(), rest))
    return r.until_tag(tag)


def count(r):
    return int(cmd(r, "n", "STATUS INBOX (MESSAGES)")[0][0].split(b"MESSAGES ")[1].rstrip(b")"))


def body(r, uid):
    r.send(b"f UID FETCH %d BODY.PEEK[]\r\n" % uid)
    out = r.until_tag("f")
    head = out[0]
    n = int(re.search(rb"\{(\d+)\}$", head).group(1))
    raw = b"\r\n".join(out[1:-1])
    return raw[:n]


def test_imap_catenate():
    with srv(env={"TERN_MAX_MESSAGE_SIZE": "300000"}) as s:
        r = Raw(s)
        r.login()
        u, t = cmd(r, "c", "CAPABILITY")
        assert b" CATENATE URL-PARTIAL" in u[0], u
        out = append(r, "a", b"INBOX " + lit(ATTACHED))
        uv, uid = map(int, re.search(rb"APPENDUID (\d+) (\d+)", out[-1]).groups())
        cmd(r, "s", "SELECT INBOX")
        # Forward the attachment: new text part, then the stored part by URL.
        head = (b"From: b@example.test\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: multipart/mixed; boundary=\"b2\"\r\n\r\n"
                b"--b2\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b2\r\n")
        url = b"/INBOX;UIDVALIDITY=%d/;UID=%d/;SECTION=2" % (uv, uid)
        out = append(r, "b", b"INBOX CATENATE (TEXT " + lit(head) + b' URL "' + url + b'.MIME" URL "' +
                     url + b'" TEXT ' + lit(b"\r\n--b2--\r\n") + b")")
        assert out[-1].startswith(b"b OK [APPENDUID"), out
        new = int(re.search(rb"APPENDUID \d+ (\d+)", out[-1]).group(1))
        want = (head + b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                b"AAECAwQFBgcICQ==\r\n--b2--\r\n")
        assert body(r, new) == want
        # Whole message, HEADER, TEXT, PARTIAL.
        out = append(r, "c", b'INBOX CATENATE (URL "/INBOX/;UID=%d" TEXT %s)' % (uid, lit(b"more\r\n")))
        assert body(r, int(re.search(rb"APPENDUID \d+ (\d+)", out[-1]).group(1))) == ATTACHED + b"more\r\n"
        out = append(r, "d", b'INBOX CATENATE (URL "/INBOX/;UID=%d/;SECTION=HEADER" TEXT %s)' %
                     (uid, lit(b"new body\r\n")))
        assert body(r, int(re.search(rb"APPENDUID \d+ (\d+)", out[-1]).group(1))) == (
            ATTACHED.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\nnew body\r\n")
        out = append(r, "e", b'INBOX CATENATE (TEXT %s URL "/INBOX/;UID=%d/;SECTION=TEXT")' %
                     (lit(b"Subject: x\r\n\r\n"), uid))
        assert body(r, int(re.search(rb"APPENDUID \d+ (\d+)", out[-1]).group(1))) == (
            b"Subject: x\r\n\r\n" + ATTACHED.split(b"\r\n\r\n", 1)[1])
        out = append(r, "g", b'INBOX CATENATE (URL "/INBOX/;UID=%d/;PARTIAL=0.5" TEXT %s)' % (uid, lit(b"xyz")))
        assert body(r, int(re.search(rb"APPENDUID \d+ (\d+)", out[-1]).group(1))) == b"From:xyz"
        # HEADER.FIELDS and HEADER.FIELDS.NOT, as BODY[HEADER.FIELDS (...)]
        # gives them (the fields in the message's order, the empty line).
        for tag, sec, want in (
                ("g1", b"HEADER.FIELDS%20(SUBJECT%20From)",
                 b"From: a@example.test\r\nSubject: with attachment\r\n\r\n"),
                ("g2", b'header.fields.not%20(Content-Type%20%22MIME-Version%22%20X-None)',
                 b"From: a@example.test\r\nSubject: with attachment\r\n\r\n"),
                ("g3", b"HEADER.FIELDS%20(X-None)", b"\r\n"),
                ("g4", b"HEADER.FIELDS.NOT%20(From)/;PARTIAL=9.5", b"with ")):
            out = append(r, tag, b'INBOX CATENATE (URL "/INBOX/;UID=%d/;SECTION=%s" TEXT %s)' %
                         (uid, sec, lit(b"body\r\n")))
            fetched = body(r, int(re.search(rb"APPENDUID \d+ (\d+)", out[-1]).group(1)))
            got = cmd(r, "g5", "UID FETCH %d BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]" % uid)[0]
            assert fetched == want + b"body\r\n", (tag, fetched)
        assert b"{50}" in got[0], got  # FETCH's own answer: the same 50 octets
        # Another mailbox, from the authenticated state; MULTIAPPEND with flags.
        cmd(r, "h", "CREATE Drafts2")
        cmd(r, "i", "UNSELECT")
        out = append(r, "j", b'Drafts2 (\\Draft) CATENATE (URL "/INBOX/;UID=%d/;SECTION=1" TEXT %s) '
                     b'CATENATE (TEXT %s)' % (uid, lit(b"!"), lit(b"Subject: two\r\n\r\n")))
        assert re.match(rb"j OK \[APPENDUID \d+ 1:2\]", out[-1]), out
        cmd(r, "k", "SELECT Drafts2")
        assert body(r, 1) == b"hello!"
        got = cmd(r, "l", "FETCH 1:2 FLAGS")[0]
        assert got == [b"* 1 FETCH (FLAGS (\\Recent \\Draft))",
                       b"* 2 FETCH (FLAGS (\\Recent))"], got
        cmd(r, "m", "SELECT INBOX")
        before = count(r)
        # Refusals, nothing stored.
        for tag, part, want in (
                ("o", b'URL "/INBOX;UIDVALIDITY=1/;UID=1"', b"o NO [BADURL /INBOX;UIDVALIDITY=1/;UID=1] Invalid UIDVALIDITY"),
                ("p", b'URL "/INBOX/;UID=99"', b"p NO [BADURL /INBOX/;UID=99] Message not found"),
                ("q", b'URL "/Nope/;UID=1"', b"q NO [BADURL /Nope/;UID=1] Mailbox doesn't exist"),
                ("t", b'URL "imap://bob@localhost/INBOX/;UID=1"',
                 b"t NO [BADURL imap://bob@localhost/INBOX/;UID=1] Invalid IMAP URL: Relative URL required"),
                ("u", b'URL "/INBOX/;UID=1/;SECTION=7"', b"u NO [BADURL /INBOX/;UID=1/;SECTION=7] Section not found"),
                ("u2", b'URL "/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20()"',
                 b"u2 NO [BADURL /INBOX/;UID=1/;SECTION=HEADER.FIELDS%20()] Section not supported"),
                ("u3", b'URL "/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(A%20%20B)"',
                 b"u3 NO [BADURL /INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(A%20%20B)] Section not supported"),
                ("v", b'URL "/INBOX/;UID=1;URLAUTH=anonymous:internal:abc"',
                 b"v NO [BADURL /INBOX/;UID=1;URLAUTH=anonymous:internal:abc] URLAUTH is not supported")):
            out = append(r, tag, b"INBOX CATENATE (TEXT " + lit(b"x") + b" " + part + b")")
            assert out[-1] == want, (out, want)
        for tag, rest in (("w", b"INBOX CATENATE ()"), ("x", b'INBOX CATENATE (FOO "x")'),
                          ("y", b'INBOX CATENATE (URL)')):
            out = append(r, tag, rest)
            assert out[-1].startswith(tag.encode() + b" BAD"), out
        # Into a mailbox that does not exist: NO [TRYCREATE] whatever the
        # URLs say, as Dovecot answers (imaptest's CATENATE group).
        for tag, parts in (("tc", b'URL "/INBOX;UIDVALIDITY=1/;UID=1"'),
                           ("td", b"TEXT " + lit(b"h: 1\r\n\r\n") + b' URL "/INBOX/;UID=99"'),
                           ("te", b'URL "/INBOX/;UID=1"')):
            out = append(r, tag, b"NoSuchBox CATENATE (" + parts + b")")
            assert out[-1] == tag.encode() + b" NO [TRYCREATE] Mailbox doesn't exist: NoSuchBox", out
        # Past the APPENDLIMIT: each literal fits, the whole does not.
        big = b"Subject: big\r\n\r\n" + b"x" * 200000
        out = append(r, "z", b"INBOX " + lit(big))
        big_uid = int(re.search(rb"APPENDUID \d+ (\d+)", out[-1]).group(1))
        before += 1
        out = append(r, "z2", b'INBOX CATENATE (URL "/INBOX/;UID=%d" URL "/INBOX/;UID=%d")' % (big_uid, big_uid))
        assert out[-1] == b"z2 NO [TOOBIG] Message is larger than the APPENDLIMIT.", out
        assert count(r) == before
        r.close()
