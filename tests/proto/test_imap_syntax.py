"""Every response of a broad IMAP session read by RFC 9051's formal syntax
(§9) with the extensions tern announces (imap_syntax.py): greeting and
CAPABILITY, LIST with the extended returns (SUBSCRIBED, CHILDREN,
STATUS with every item), LSUB, STATUS, SELECT (CONDSTORE),
FETCH of ENVELOPE, BODY and BODYSTRUCTURE of a message with groups,
quoted names, a multipart with dispositions, languages, locations and an
attached message, BINARY and BINARY.SIZE, MODSEQ, EMAILID and THREADID,
ESEARCH with MIN/MAX/COUNT/ALL/PARTIAL/MODSEQ, STORE UNCHANGEDSINCE
(MODIFIED), COPY (COPYUID), MOVE, UID EXPUNGE, NAMESPACE, ID; and the
error paths, each with the response code RFC 5530 / RFC 9051 §7.1 gives
it. tests in test_imap_codes.py check the codes' choice one failure at
a time; this checks that every answer of a session parses."""
from imap_syntax import check, read_response
from test_imap import BOB, Raw, srv

MULTI = (
    "From: \"Doe, J. \\\"JD\\\"\" <jd@example.test>\r\n"
    "To: Team: a@example.test, \"B b\" <b@example.test>;, c@example.test\r\n"
    "Cc: undisclosed-recipients:;\r\n"
    "Reply-To: <r@example.test>\r\n"
    "Subject: \"quoted\" subject \\ with backslash\r\n"
    "Date: Mon, 30 Nov 2026 07:00:00 +0100\r\n"
    "Message-ID: <multi.1@example.test>\r\n"
    "In-Reply-To: <prev@example.test>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "Content-Language: en, de\r\n"
    "\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; charset=us-ascii; format=flowed\r\n"
    "Content-ID: <p1@example.test>\r\n"
    "Content-Description: the text\r\n"
    "Content-Language: en\r\n"
    "Content-Location: http://example.test/p1\r\n"
    "\r\n"
    "Hello.\r\n"
    "--XX\r\n"
    "Content-Type: application/octet-stream; name=\"a b.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"a b.bin\"; size=3\r\n"
    "Content-MD5: AAAAAAAAAAAAAAAAAAAAAA==\r\n"
    "\r\n"
    "AAEC\r\n"
    "--XX\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: x@example.test\r\n"
    "Subject: inner\r\n"
    "Content-Type: multipart/alternative; boundary=YY\r\n"
    "\r\n"
    "--YY\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "inner text\r\n"
    "--YY\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>inner</p>\r\n"
    "--YY--\r\n"
    "--XX--\r\n")

PLAIN = ("From: plain@example.test\r\nSubject: \r\n\r\nno date, empty subject\r\n")


class Session:
    """A raw connection whose every response is checked as it arrives."""

    def __init__(self, s):
        self.r = Raw(s)
        self.seen = {}
        assert check(self.r.greeting) == b"OK", self.r.greeting

    def cmd(self, tag, text, literal=None):
        """Sends one command; returns the responses up to the tagged one,
        each checked."""
        if literal is None:
            self.r.send("%s %s\r\n" % (tag, text))
        else:
            data = literal.encode()
            self.r.send("%s %s {%d+}\r\n" % (tag, text, len(data)))
            self.r.send(data + b"\r\n")
        out = []
        while True:
            resp = read_response(self.r)
            try:
                kind = check(resp)
            except SyntaxError as e:
                raise AssertionError("%s %s: %s" % (tag, text, e))
            self.seen[kind] = self.seen.get(kind, 0) + 1
            out.append(resp)
            if resp.startswith(tag.encode() + b" "):
                return out


def tagged(out):
    return out[-1].split(b" ", 1)[1]


def test_imap_broad_session_parses():
    with srv() as s:
        c = Session(s)
        assert tagged(c.cmd("a1", "CAPABILITY")).startswith(b"OK")
        assert tagged(c.cmd("a2", 'LOGIN "%s" "bob-pw-1"' % BOB)).startswith(b"OK")
        c.cmd("a3", "ENABLE CONDSTORE")
        for name in ("Work", "Work/Sub", "Entw&APw-rfe", '"a \\"b"', '"a]b"', '"a\\\\b"',
                     '"NIL"', '"[x]"', '"a{b"'):
            assert tagged(c.cmd("b1", "CREATE %s" % name)).startswith(b"OK"), name
        c.cmd("b2", "SUBSCRIBE Work/Sub")
        assert tagged(c.cmd("b3", "APPEND INBOX (\\Seen $Kw) \"30-Nov-2026 08:00:00 +0100\"",
                             MULTI)).startswith(b"OK [APPENDUID")
        assert tagged(c.cmd("b4", "APPEND INBOX", PLAIN)).startswith(b"OK [APPENDUID")
        c.cmd("b5", "APPEND Work", PLAIN)
        # LIST with every extended return, LSUB, STATUS with every item.
        items = "MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ RECENT " \
                "APPENDLIMIT MAILBOXID"
        out = c.cmd("c1", 'LIST "" "*" RETURN (SUBSCRIBED CHILDREN SPECIAL-USE STATUS (%s))' % items)
        assert tagged(out).startswith(b"OK") and c.seen[b"STATUS"] >= 5, out
        out = c.cmd("c2", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
        assert any(b"CHILDINFO" in l for l in out), out
        c.cmd("c3", 'LIST "" ""')
        c.cmd("c4", 'LSUB "" "*"')
        assert tagged(c.cmd("c5", "STATUS INBOX (%s)" % items)).startswith(b"OK")
        c.cmd("c6", "NAMESPACE")
        c.cmd("c7", 'ID ("name" "test")')
        c.cmd("c8", "GETQUOTAROOT INBOX")
        # SELECT, FETCH of every static item.
        out = c.cmd("d1", "SELECT INBOX (CONDSTORE)")
        assert tagged(out).startswith(b"OK [READ-WRITE]"), out
        out = c.cmd("d2", "FETCH 1:* (FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE BODY "
                          "BODYSTRUCTURE MODSEQ EMAILID THREADID SAVEDATE)")
        assert c.seen[b"FETCH"] >= 2, out
        out = c.cmd("d3", "FETCH 1 (BINARY.SIZE[1] BINARY.SIZE[2] BINARY.SIZE[3] "
                          "BINARY.PEEK[2] BODY.PEEK[HEADER.FIELDS (From Subject)] "
                          "BODY.PEEK[1]<0.3> BODY.PEEK[3.HEADER] BODY.PEEK[3.1.MIME] "
                          "RFC822.HEADER PREVIEW)")
        assert tagged(out).startswith(b"OK"), out
        c.cmd("d4", "UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 1)")
        # ESEARCH.
        for tag, q in (("e1", "SEARCH RETURN (MIN MAX COUNT ALL) ALL"),
                       ("e2", "UID SEARCH RETURN (ALL) MODSEQ 1"),
                       ("e3", "SEARCH RETURN (PARTIAL 1:10) ALL"),
                       ("e4", "SEARCH RETURN (COUNT) UNSEEN"),
                       ("e5", "SEARCH RETURN () NOT ALL"),
                       ("e6", "SEARCH MODSEQ 1"),
                       ("e7", "SORT (DATE) UTF-8 ALL")):
            assert tagged(c.cmd(tag, q)).startswith(b"OK"), q
        assert c.seen[b"ESEARCH"] >= 4
        # Changes: STORE with MODIFIED, COPY, MOVE, UID EXPUNGE.
        c.cmd("f1", "STORE 1 +FLAGS (\\Flagged $Other)")
        out = c.cmd("f2", "STORE 1:2 (UNCHANGEDSINCE 1) +FLAGS (\\Answered)")
        assert b"[MODIFIED" in tagged(out), out
        assert b"[COPYUID" in tagged(c.cmd("f3", "COPY 1:2 Work"))
        c.cmd("f4", "MOVE 2 Work/Sub")
        c.cmd("f5", "STORE 1 +FLAGS.SILENT (\\Deleted)")
        c.cmd("f6", "UID EXPUNGE 1:*")
        c.cmd("f7", "UNSELECT")
        c.cmd("f8", "EXAMINE Work")
        c.cmd("f9", "CLOSE")
        c.cmd("z", "LOGOUT")


def test_imap_rev2_session_parses():
    """The same for a session that enabled IMAP4rev2 and UTF8=ACCEPT:
    ESEARCH answers to SEARCH, UTF-8 names, PARTIAL, MOVE's untagged
    COPYUID, VANISHED-free EXPUNGE, IDLE and AUTHENTICATE's continuation."""
    with srv() as s:
        c = Session(s)
        c.r.send("a AUTHENTICATE PLAIN\r\n")
        assert check(read_response(c.r)) == b"+"
        import base64
        c.r.send(base64.b64encode(b"\0%s\0bob-pw-1" % BOB.encode()) + b"\r\n")
        while not read_response(c.r).startswith(b"a "):
            pass
        c.cmd("b", "ENABLE IMAP4rev2 UTF8=ACCEPT CONDSTORE")
        c.cmd("c", 'CREATE "Entw\u00fcrfe"')
        for i in range(3):
            c.cmd("d%d" % i, "APPEND INBOX", PLAIN if i else MULTI)
        c.cmd("e", 'LIST "" "*" RETURN (CHILDREN STATUS (MESSAGES SIZE))')
        c.cmd("f", "SELECT INBOX")
        for tag, q in (("g1", "SEARCH ALL"), ("g2", "UID SEARCH RETURN (PARTIAL -1:-2) ALL"),
                       ("g3", "SEARCH RETURN (SAVE MIN) ALL"), ("g4", "FETCH $ (UID)"),
                       ("g5", "FETCH 1 (BINARY[1] BINARY.SIZE[1] BODYSTRUCTURE ENVELOPE)"),
                       ("g6", "MOVE 3 \"Entw\u00fcrfe\""), ("g7", "STORE 2 +FLAGS (\\Deleted)"),
                       ("g8", "EXPUNGE"), ("g9", "STATUS \"Entw\u00fcrfe\" (MESSAGES SIZE)")):
            assert tagged(c.cmd(tag, q)).startswith(b"OK"), q
        c.r.send("h IDLE\r\n")
        assert check(read_response(c.r)) == b"+"
        c.r.send("DONE\r\n")
        while not read_response(c.r).startswith(b"h "):
            pass
        c.cmd("z", "LOGOUT")


def test_imap_syntax_reader_refuses():
    """The reader is no rubber stamp: responses one octet off the grammar
    are refused, their well-formed twins taken."""
    good = [b"* STATUS INBOX (MESSAGES 2 UIDNEXT 3)",
            b"* LIST (\\HasNoChildren) \"/\" INBOX",
            b"* ESEARCH (TAG \"a\") UID MIN 1 ALL 1:3,5",
            b"* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))",
            b"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1 NIL NIL NIL NIL))",
            b"* 1 FETCH (BINARY.SIZE[1] 3)",
            b"a OK [COPYUID 1 1:2 3:4] Done.",
            b"x]y OK Done.",                              # "]" is an ASTRING-CHAR
            b"+ "]
    bad = [b"* STATUS INBOX (MESSAGES 2 UIDNEXT 0)",       # UIDNEXT is nz-number
           b"* STATUS INBOX (MESSAGES)",
           b"* LIST (\\HasNoChildren) \"//\" INBOX",      # one-char delimiter
           b"* ESEARCH UID MIN 0",
           b"* ESEARCH ALL 1,,2",
           b"* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL))",
           b"* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1 NIL))",  # BODY: no ext
           b"* 1 FETCH (BINARY.SIZE[1] x)",
           b"* 1 FETCH (UID 01)",
           b"a OK [COPYUID 1 1:2] Done.",
           b"a OK [UIDNEXT 5]",                         # RFC 3501: text after a code
           b"a+b OK Done.",                             # no "+" in a tag
           b"* 1 FETCH (FLAGS (\\Seen)",  # the list not closed
           b"+"]
    for r in good:
        check(r)
    refused = []
    for r in bad:
        try:
            check(r)
        except SyntaxError:
            refused.append(r)
    assert refused == bad, [r for r in bad if r not in refused]


# RFC 5530 / RFC 9051 §7.1: the code each failure carries. (command,
# status, code or None where no code applies).
FAILURES = [
    ("SELECT nosuch", b"NO", b"NONEXISTENT"),
    ("EXAMINE nosuch", b"NO", b"NONEXISTENT"),
    ("STATUS nosuch (MESSAGES)", b"NO", b"NONEXISTENT"),
    ("DELETE nosuch", b"NO", b"NONEXISTENT"),
    ("RENAME nosuch other", b"NO", b"NONEXISTENT"),
    ("CREATE INBOX", b"NO", b"ALREADYEXISTS"),
    ("CREATE Work", b"NO", b"ALREADYEXISTS"),
    ("RENAME Work INBOX", b"NO", b"ALREADYEXISTS"),
    ("DELETE INBOX", b"NO", b"CANNOT"),
    ("FETCH 1 FLAGS", b"BAD", None),  # a failed SELECT left none selected
    ("SELECT INBOX", b"OK", None),
    ("COPY 1 nosuch", b"NO", b"TRYCREATE"),
    ("MOVE 1 nosuch", b"NO", b"TRYCREATE"),
    ("SEARCH CHARSET X-NONE ALL", b"NO", b"BADCHARSET"),
    ("FETCH 9 FLAGS", b"BAD", None),
    ("FETCH 1 (NOSUCH)", b"BAD", None),
    ("BOGUS", b"BAD", None),
    ("STORE 1 +FLAGS (\\Recent)", b"BAD", None),
]


def test_imap_failures_parse_and_carry_their_codes():
    with srv() as s:
        c = Session(s)
        out = c.cmd("l", 'LOGIN "%s" "wrong"' % BOB)
        assert tagged(out).startswith(b"NO [AUTHENTICATIONFAILED]"), out
        c.cmd("l2", 'LOGIN "%s" "bob-pw-1"' % BOB)
        c.cmd("a", "CREATE Work")
        c.cmd("b", "APPEND INBOX", PLAIN)
        c.cmd("c", "SELECT INBOX")
        wrong = []
        for i, (text, status, code) in enumerate(FAILURES):
            ans = tagged(c.cmd("t%d" % i, text))
            want = status + (b" [" + code if code else b"")
            if not ans.startswith(want):
                wrong.append((text, ans))
        assert not wrong, wrong
        c.cmd("z", "LOGOUT")
