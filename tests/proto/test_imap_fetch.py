"""IMAP FETCH of the MIME structure cached at delivery (ENVELOPE, BODY,
BODYSTRUCTURE, part sections, BINARY) and SEARCH over headers and decoded
text parts, with real-world-shaped messages delivered over SMTP. Expected
strings are written from RFC 9051 / RFC 3516 and the MIME library's rules
(sizes and line counts exclude the line end before a boundary)."""
import base64
import email
import email.policy
import imaplib
import smtplib

from harness import Server
from test_imap import ACCOUNTS, BOB, Raw, login

CRLF = "\r\n"


def crlf(text):
    return text.replace("\n", CRLF)


SUBJ_A = "Grüße aus München"
TEXT_A = "Hallo Bob,\r\nschöne Grüße."
HTML_A = "<p>Hallo Bob, sch=C3=B6ne Gr=C3=BC=C3=9Fe.</p>"
MSG_A = crlf("""From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@remote.test>
To: Bob <bob@example.test>, "Carol, C." <carol@example.test>
Cc: dave@remote.test
Subject: %s
Date: Mon, 3 Jun 2024 12:00:00 +0200
Message-ID: <alt-1@remote.test>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit

%s
--b1
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

%s
--b1--
""" % (SUBJ_A, TEXT_A.replace(CRLF, "\n"), HTML_A))

ATTACH = bytes(range(256)) + b"\0secretword\0" + b"x" * 32
ATTACH_B64 = CRLF.join(base64.encodebytes(ATTACH).decode().split())
MSG_B = crlf("""From: Alice <alice@remote.test>
To: bob@example.test
Subject: Report attached
Date: Tue, 4 Jun 2024 09:30:00 +0000
Message-ID: <mixed-1@remote.test>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=_outer"

This is a multi-part message in MIME format.
--=_outer
Content-Type: text/plain; charset=us-ascii

See attached.
--=_outer
Content-Type: application/octet-stream; name*0="report"; name*1=".bin"
Content-Transfer-Encoding: base64
Content-Disposition: attachment;
 filename*=utf-8''r%C3%A9sum%C3%A9.bin

""") + ATTACH_B64 + crlf("""
--=_outer--
""")
MIME_B2 = crlf("""Content-Type: application/octet-stream; name*0="report"; name*1=".bin"
Content-Transfer-Encoding: base64
Content-Disposition: attachment;
 filename*=utf-8''r%C3%A9sum%C3%A9.bin

""")

INNER_TEXT = b"We fly to Zanzibar on Friday.\r\n"
INNER_B64 = base64.b64encode(INNER_TEXT).decode()
INNER_HDR = crlf("""From: Ivan <ivan@remote.test>
To: Carol <carol@remote.test>
Subject: Travel
Date: Wed, 5 Jun 2024 18:00:00 +0000
Message-ID: <orig@remote.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

""")
MSG_C = crlf("""From: Carol <carol@remote.test>
To: bob@example.test
Subject: Fwd: Travel
Date: Thu, 6 Jun 2024 08:00:00 +0000
Message-ID: <fwd-1@remote.test>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain

FYI
--outer
Content-Type: message/rfc822
Content-Disposition: inline

""") + INNER_HDR + INNER_B64 + crlf("""
--outer--
""")


def deliver_all(s):
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        for m in (MSG_A, MSG_B, MSG_C):
            c.sendmail("alice@remote.test", [BOB], m.encode(), mail_options=["BODY=8BITMIME"])


def wait_three(s):
    import time
    for _ in range(200):
        if len(s.messages(BOB)) >= 3:
            return
        time.sleep(0.05)
    raise AssertionError("not delivered")


def raw_cmd(r, tag, cmd):
    """Sends one command; returns the whole response as bytes (lines joined by CRLF)."""
    r.send("%s %s\r\n" % (tag, cmd))
    lines = r.until_tag(tag)
    assert lines[-1].startswith(tag.encode() + b" OK"), lines[-1]
    return b"\r\n".join(lines[:-1])


def q(s):
    return '"%s"' % s


def test_imap_fetch_structure():
    with Server(accounts=ACCOUNTS, imap=True) as s:
        deliver_all(s)
        wait_three(s)
        # tern fetch still lists from and subject, from the new meta record
        listing = [line for _, line in s.messages(BOB)]
        assert "Jürgen Müller" in listing[0] and "Grüße aus München" in listing[0], listing
        assert "Alice <alice@remote.test>" in listing[1] and "Report attached" in listing[1], listing
        assert "Fwd: Travel" in listing[2], listing

        r = Raw(s)
        r.login()
        r.send("s SELECT INBOX\r\n")
        r.until_tag("s")
        caps = raw_cmd(r, "c", "CAPABILITY")
        assert b" BINARY" in caps, caps

        # ENVELOPE: the 8-bit (UTF-8) subject in RFC 2047 words (no
        # UTF8=ACCEPT: RFC 6855, as the header downgrade), words raw
        juergen = '("=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?=" NIL "juergen" "remote.test")'
        assert SUBJ_A == "Gr\u00fc\u00dfe aus M\u00fcnchen", SUBJ_A
        want = b'* 1 FETCH (ENVELOPE ("Mon, 3 Jun 2024 12:00:00 +0200" ' \
            b'"=?utf-8?q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen?="' + (
            ' (%s) (%s) (%s) (("Bob" NIL "bob" "example.test")("Carol, C." NIL "carol" "example.test")) '
            '((NIL NIL "dave" "remote.test")) NIL NIL "<alt-1@remote.test>"))' % (juergen, juergen, juergen)).encode()
        got = raw_cmd(r, "e1", "FETCH 1 (ENVELOPE)")
        assert got == want, (got, want)

        # BODYSTRUCTURE and BODY of multipart/alternative
        html = HTML_A.encode()
        text = TEXT_A.encode()
        part1 = '("text" "plain" ("charset" "UTF-8") NIL NIL "8bit" %d 1' % len(text)
        part2 = '("text" "html" ("charset" "UTF-8") NIL NIL "quoted-printable" %d 0' % len(html)
        got = raw_cmd(r, "b1", "FETCH 1 (BODYSTRUCTURE)").decode()
        want = ('* 1 FETCH (BODYSTRUCTURE (%s NIL NIL NIL NIL)%s NIL NIL NIL NIL) "alternative" '
                '("boundary" "b1") NIL NIL NIL))' % (part1, part2))
        assert got == want, (got, want)
        got = raw_cmd(r, "b2", "FETCH 1 (BODY)").decode()
        assert got == '* 1 FETCH (BODY (%s)%s) "alternative"))' % (part1, part2), got

        # mixed with a base64 attachment, RFC 2231 parameters
        got = raw_cmd(r, "b3", "FETCH 2 (BODYSTRUCTURE)").decode()
        b64 = ATTACH_B64.encode()
        want = ('* 2 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 13 0 '
                'NIL NIL NIL NIL)("application" "octet-stream" ("name" "report.bin") NIL NIL "base64" %d '
                'NIL ("attachment" ("filename*" "utf-8\'\'r%%C3%%A9sum%%C3%%A9.bin")) NIL NIL) "mixed" '
                '("boundary" "=_outer") NIL NIL NIL))' % len(b64))
        assert got == want, (got, want)

        # forwarded message/rfc822 with its envelope and structure
        inner = (INNER_HDR + INNER_B64).encode()
        ivan = '(("Ivan" NIL "ivan" "remote.test"))'
        inner_env = ('("Wed, 5 Jun 2024 18:00:00 +0000" "Travel" %s %s %s (("Carol" NIL "carol" "remote.test")) '
                     'NIL NIL NIL "<orig@remote.test>")' % (ivan, ivan, ivan))
        want = ('* 3 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL '
                'NIL)("message" "rfc822" NIL NIL NIL "7bit" %d %s ("text" "plain" ("charset" "utf-8") NIL NIL '
                '"base64" %d 0 NIL NIL NIL NIL) %d NIL ("inline" NIL) NIL NIL) "mixed" ("boundary" "outer") '
                'NIL NIL NIL))' % (len(inner), inner_env, len(INNER_B64), inner.count(b"\n")))
        got = raw_cmd(r, "b4", "FETCH 3 (BODYSTRUCTURE)").decode()
        assert got == want, (got, want)

        # ALL and FULL macros
        got = raw_cmd(r, "m1", "FETCH 3 ALL").decode()
        # \Recent: this session is the first to see it (RFC 3501 §2.3.2).
        assert got.startswith("* 3 FETCH (FLAGS (\\Recent) INTERNALDATE ") and " ENVELOPE (" in got, got
        got = raw_cmd(r, "m2", "FETCH 3 FULL").decode()
        assert ' BODY (("text" "plain"' in got, got
        # a part that does not exist is NIL
        got = raw_cmd(r, "n1", "FETCH 2 (BODY.PEEK[7] BODY.PEEK[1.TEXT])").decode()
        assert got == "* 2 FETCH (BODY[7] NIL BODY[1.TEXT] NIL)", got
        # nor has a leaf a part 1 (RFC 9051 6.4.5), in a multipart or as
        # a single-part message's body (message 3 is text/plain)
        got = raw_cmd(r, "n2", "FETCH 2 (BODY.PEEK[1.1])").decode()
        assert got == "* 2 FETCH (BODY[1.1] NIL)", got
        got = raw_cmd(r, "n3", "FETCH 3 (BODY.PEEK[1.1])").decode()
        assert got == "* 3 FETCH (BODY[1.1] NIL)", got
        # BINARY.SIZE "MUST match the size of the <nstring> or <literal8>"
        # BINARY returns (RFC 3516 §4.2): 0 where BINARY is NIL, not the
        # size of the whole message
        got = raw_cmd(r, "n4", "FETCH 2 (BINARY.SIZE[7] BINARY.PEEK[7] BINARY.SIZE[1.1])").decode()
        assert got == "* 2 FETCH (BINARY.SIZE[7] 0 BINARY[7] NIL BINARY.SIZE[1.1] 0)", got
        got = raw_cmd(r, "n5", "FETCH 3 (BINARY.SIZE[1.1] BINARY.SIZE[2.1.4])").decode()
        assert got == "* 3 FETCH (BINARY.SIZE[1.1] 0 BINARY.SIZE[2.1.4] 0)", got
        r.close()

        # Sections through imaplib
        m = login(s)
        m.select("INBOX", readonly=True)
        typ, data = m.fetch("1", "(BODY.PEEK[1] BODY.PEEK[2])")
        assert typ == "OK" and data[0][1] == text, data
        assert data[1][1] == html, data
        typ, data = m.fetch("2", "(BODY.PEEK[2.MIME])")
        assert data[0][1] == MIME_B2.encode(), data
        typ, data = m.fetch("2", "(BODY.PEEK[2])")
        assert data[0][1] == b64
        typ, data = m.fetch("2", "(BODY.PEEK[2]<4.10>)")
        assert b"BODY[2]<4>" in data[0][0] and data[0][1] == b64[4:14]
        typ, data = m.fetch("2", "(BINARY.PEEK[2])")
        assert typ == "OK" and data[0][1] == ATTACH, data
        assert b"~{%d}" % len(ATTACH) in data[0][0], data[0][0]  # NUL inside: literal8
        typ, data = m.fetch("2", "(BINARY.SIZE[2] BINARY.SIZE[1])")
        assert b"BINARY.SIZE[2] %d" % len(ATTACH) in data[0] and b"BINARY.SIZE[1] 13" in data[0], data
        typ, data = m.fetch("2", "(BINARY.PEEK[2]<256.12>)")
        assert data[0][1] == b"\0secretword\0", data
        # An origin alone (Dovecot's leniency, imaptest's fetch-binary-mime-qp
        # sends it): the rest of the section from there; it was BAD.
        typ, data = m.fetch("2", "(BODY.PEEK[2]<40> BINARY.PEEK[2]<256>)")
        assert typ == "OK", data
        assert b"BODY[2]<40>" in data[0][0] and data[0][1] == b64[40:], data
        assert b"BINARY[2]<256>" in data[1][0] and data[1][1] == ATTACH[256:], data
        typ, data = m.fetch("1", "(BINARY.PEEK[2])")
        assert data[0][1] == "<p>Hallo Bob, schöne Grüße.</p>".encode(), data
        # message/rfc822: HEADER, TEXT, the inner body decoded
        typ, data = m.fetch("3", "(BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BINARY.PEEK[2.1])")
        assert data[0][1] == INNER_HDR.encode(), data
        assert data[1][1] == INNER_B64.encode(), data
        assert data[2][1] == INNER_TEXT, data
        typ, data = m.fetch("3", "(BODY.PEEK[2.HEADER.FIELDS (Subject)])")
        assert data[0][1] == b"Subject: Travel\r\n\r\n", data
        typ, data = m.fetch("3", "(BODY.PEEK[2.1.MIME])")
        assert typ == "OK"

        # Python's email parser agrees with BODY[n] for a multipart
        typ, data = m.fetch("2", "(BODY.PEEK[])")
        whole = data[0][1]
        py = email.message_from_bytes(whole, policy=email.policy.compat32)
        parts = py.get_payload()
        assert len(parts) == 2
        for n, part in enumerate(parts, 1):
            typ, data = m.fetch("2", "(BODY.PEEK[%d])" % n)
            assert data[0][1] == part.get_payload().encode(), (n, data[0][1][:60])
        assert parts[1].get_payload(decode=True) == ATTACH
        assert parts[1].get_filename() == "résumé.bin"
        m.logout()


def test_imap_binary_section_text():
    """BINARY with HEADER, TEXT, MIME and HEADER.FIELDS after the part
    numbers: outside RFC 3516's grammar ('section-binary = "[" [section-part]
    "]"'), taken by Dovecot and expected by imaptest's fetch-binary-mime
    (it was BAD). A header has no encoding to undo: BODY's octets. A
    message's TEXT is decoded when the message is one part with an
    encoding of its own (the forwarded one's base64), else BODY's octets
    (a multipart's parts stay as they are, as in BINARY[]). BINARY.SIZE
    is the size of what BINARY returns."""
    with Server(accounts=ACCOUNTS, imap=True) as s:
        deliver_all(s)
        wait_three(s)
        m = login(s)
        m.select("INBOX", readonly=True)
        for msg, sections in (("2", ("HEADER", "TEXT", "1.MIME", "2.MIME",
                                     "HEADER.FIELDS (Subject To)", "HEADER.FIELDS.NOT (Subject)")),
                              ("3", ("2.HEADER", "2.1.MIME", "2.HEADER.FIELDS (Subject)"))):
            for sec in sections:
                typ, body = m.fetch(msg, "(BODY.PEEK[%s])" % sec)
                typ2, binary = m.fetch(msg, "(BINARY.PEEK[%s] BINARY.SIZE[%s])" % (sec, sec))
                assert typ == typ2 == "OK", (sec, typ, typ2, binary)
                want = body[0][1]
                assert want and binary[0][1] == want, (sec, body, binary)
                assert b"BINARY[%s]" % sec.upper().encode() in binary[0][0], binary
                assert binary[1].endswith(b"BINARY.SIZE[%s] %d)" % (sec.upper().encode(), len(want))), binary
        typ, data = m.fetch("3", "(BINARY.PEEK[2.TEXT] BINARY.SIZE[2.TEXT] BINARY.PEEK[2.TEXT]<3.6>)")
        assert typ == "OK" and data[0][1] == INNER_TEXT, data
        assert b"BINARY.SIZE[2.TEXT] %d" % len(INNER_TEXT) in data[1][0], data
        assert data[1][1] == INNER_TEXT[3:9], data
        m.logout()


def test_imap_binary_unknown_cte():
    with Server(accounts=ACCOUNTS, imap=True) as s:
        msg = crlf("""From: a@remote.test
To: bob@example.test
Subject: uu
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="x"

--x
Content-Type: application/octet-stream
Content-Transfer-Encoding: x-uuencode

begin 644 f
`
end
--x--
""")
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.sendmail("a@remote.test", [BOB], msg)
        for _ in range(200):
            if s.messages(BOB):
                break
        m = login(s)
        m.select("INBOX", readonly=True)
        typ, data = m.fetch("1", "(BINARY.PEEK[1])")
        assert typ == "NO" and b"UNKNOWN-CTE" in data[0], (typ, data)
        typ, data = m.fetch("1", "(BODY.PEEK[1])")
        assert typ == "OK" and data[0][1] == b"begin 644 f\r\n`\r\nend"
        m.logout()


def search_literal(r, tag, key, value):
    """SEARCH CHARSET UTF-8 <key> {n} value (a UTF-8 literal); returns the hits."""
    v = value.encode()
    r.send("%s SEARCH CHARSET UTF-8 %s {%d}\r\n" % (tag, key, len(v)))
    assert r.line().startswith(b"+")
    r.send(v + b"\r\n")
    lines = r.until_tag(tag)
    assert lines[-1].startswith(tag.encode() + b" OK"), lines
    return [l for l in lines if l.startswith(b"* SEARCH")][0]


def append_literal(r, tag, msg):
    """APPEND INBOX of msg's octets as a literal."""
    r.send("%s APPEND INBOX {%d}\r\n" % (tag, len(msg)))
    assert r.line().startswith(b"+")
    r.send(msg + b"\r\n")
    assert r.until_tag(tag)[-1].startswith(tag.encode() + b" OK")


def test_imap_search_text():
    with Server(accounts=ACCOUNTS, imap=True) as s:
        deliver_all(s)
        wait_three(s)
        m = login(s)
        m.select("INBOX", readonly=True)

        def hits(*keys, charset=None):
            typ, data = m.search(charset, *keys)
            assert typ == "OK", (keys, data)
            return data[0].decode()

        assert hits("SUBJECT", "aus") == "1"
        assert hits("SUBJECT", "REPORT") == "2"
        assert hits("SUBJECT", "nothing") == ""
        assert hits("FROM", "juergen") == "1"
        assert hits("FROM", "alice") == "2"
        assert hits("TO", "carol") == "1"
        assert hits("CC", "dave") == "1"
        assert hits("BCC", "dave") == ""
        assert hits("HEADER", "Message-ID", "mixed-1") == "2"
        assert hits("HEADER", "MIME-Version", '""') == "1 2 3"
        assert hits("HEADER", "X-Nothing", '""') == ""
        # a word only inside a base64 text part of a forwarded message
        assert hits("BODY", "zanzibar") == "3"
        assert hits("TEXT", "ZANZIBAR") == "3"
        assert hits("BODY", '"see attached"') == "2"
        assert hits("BODY", '"Report attached"') == ""  # only in the header
        assert hits("TEXT", '"Report attached"') == "2"
        assert hits("BODY", "secretword") == ""  # attachment, not a text part
        assert hits("OR", "BODY", "zanzibar", "FROM", "alice") == "2 3"
        assert hits("NOT", "BODY", "zanzibar") == "1 2"
        assert hits("BODY", "fyi", charset="US-ASCII") == "3"
        assert hits("BODY", "fyi", charset="ISO-8859-1") == "3"
        assert hits("BODY", "fyi", charset="UTF-7") == "3"  # RFC 2152, converted here
        typ, data = m.search("UTF-16", "BODY", "x")
        assert typ == "NO" and (b"[BADCHARSET (UTF-8 US-ASCII ISO-8859-1 ISO-8859-15 WINDOWS-1252 "
                                b"ISO-8859-2 WINDOWS-1250 ISO-8859-5 WINDOWS-1251 KOI8-R "
                                b"KOI8-U GB2312 GBK GB18030 BIG5 BIG5-HKSCS EUC-KR SHIFT_JIS "
                                b"EUC-JP ISO-2022-JP)]") in data[0]
        m.logout()

        r = Raw(s)
        r.login()
        r.send("s SELECT INBOX\r\n")
        r.until_tag("s")
        # 8-bit header, RFC 2047 word in From, 8bit text part, QP html part
        assert search_literal(r, "a", "SUBJECT", "münchen") == b"* SEARCH 1"
        assert search_literal(r, "b", "FROM", "Müller") == b"* SEARCH 1"
        assert search_literal(r, "c", "BODY", "schöne") == b"* SEARCH 1"
        # the QP html part is searched as the text a reader sees: its words
        # on one line (the plain part breaks them), its markup not at all
        assert search_literal(r, "d", "BODY", "Hallo Bob, schöne") == b"* SEARCH 1"
        assert search_literal(r, "d2", "BODY", "<p>Hallo") == b"* SEARCH"
        assert search_literal(r, "e", "BODY", "Grüßli") == b"* SEARCH"
        # a GB2312 message: its 8bit body and encoded-word Subject are found
        # by Han text in UTF-8 (the body was one undecoded run before)
        gb = (b"From: x@example.com\r\nSubject: =?gb2312?B?w+K30Q==?=\r\nMIME-Version: 1.0\r\n"
              b"Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n"
              b"\r\n\xc4\xe3\xba\xc3\xa3\xac\xd6\xd0\xce\xc4\xd3\xca\xbc\xfe\xb2\xe2\xca\xd4\r\n")
        append_literal(r, "p", gb)
        assert search_literal(r, "f", "BODY", "中文邮件") == b"* SEARCH 4"
        assert search_literal(r, "g", "SUBJECT", "免费") == b"* SEARCH 4"
        assert search_literal(r, "h", "BODY", "日本語") == b"* SEARCH"
        r.close()


def test_imap_search_japanese_vendor_characters():
    """The characters Windows adds to JIS X 0208 (CP932: NEC row 13's ①
    ㈱ №, the IBM kanji 髙 﨑 at both their codes) in Shift_JIS,
    ISO-2022-JP and EUC-JP mail are decoded as the WHATWG Encoding
    Standard's index-jis0208 and every mail reader decode them: SEARCH
    finds them, and the text around them."""
    sj = ("①会議 ㈱テスト №1 ".encode("cp932") + b"\xfb\xfc" + "橋 ".encode("cp932") +
          b"\xfa\xb1" + "山".encode("cp932"))
    jis = b"\x1b$B-!2q5D\x1b(B jis-line \x1b$Byu\x1b(B"  # ①会議 jis-line 﨑 (row 89)
    euc = b"\xad\xa1\xb2\xf1\xb5\xc4 euc-line"  # ①会議
    msgs = [
        (b"Subject: =?shift_jis?B?" + base64.b64encode("№".encode("cp932") + b"\xfb\xfc") +
         b"?=\r\nContent-Type: text/plain; charset=Shift_JIS\r\n", sj),
        (b"Subject: =?ISO-2022-JP?B?" + base64.b64encode(b"\x1b$B-j\x1b(B") +
         b"?=\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n", jis),  # ㈱
        (b"Subject: euc\r\nContent-Type: text/plain; charset=EUC-JP\r\n", euc),
    ]
    with Server(accounts=ACCOUNTS, imap=True) as s:
        r = Raw(s)
        r.login()
        for i, (head, body) in enumerate(msgs):
            msg = (b"From: x@example.com\r\nMIME-Version: 1.0\r\n" + head +
                   b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body + b"\r\n")
            append_literal(r, "p%d" % i, msg)
        r.send("s SELECT INBOX\r\n")
        r.until_tag("s")
        assert search_literal(r, "a", "BODY", "①会議") == b"* SEARCH 1 2 3"
        assert search_literal(r, "b", "BODY", "㈱テスト №1 髙橋") == b"* SEARCH 1"
        assert search_literal(r, "c", "BODY", "﨑山") == b"* SEARCH 1"
        assert search_literal(r, "d", "SUBJECT", "№髙") == b"* SEARCH 1"
        assert search_literal(r, "e", "SUBJECT", "㈱") == b"* SEARCH 2"
        assert search_literal(r, "f", "BODY", "jis-line 﨑") == b"* SEARCH 2"
        r.close()


def test_imap_search_utf16_text():
    """A UTF-16 text part (RFC 2781; Windows programs write it, with a
    BOM) and a UTF-16 encoded-word are decoded: SEARCH finds their words.
    SEARCH CHARSET UTF-16 stays BADCHARSET (test_imap_search_text): its
    strings would hold NUL octets, which no IMAP string may."""
    body = base64.encodebytes("Grüße aus Köln 😀\r\n".encode("utf-16")).replace(b"\n", b"\r\n")
    msg = (b"From: x@example.com\r\nMIME-Version: 1.0\r\nSubject: =?utf-16be?b?" +
           base64.b64encode("Bücher".encode("utf-16-be")) + b"?=\r\n"
           b"Content-Type: text/plain; charset=\"utf-16\"\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + body)
    with Server(accounts=ACCOUNTS, imap=True) as s:
        r = Raw(s)
        r.login()
        append_literal(r, "p", msg)
        r.send("s SELECT INBOX\r\n")
        r.until_tag("s")
        assert search_literal(r, "a", "BODY", "grüße aus köln 😀") == b"* SEARCH 1"
        assert search_literal(r, "b", "SUBJECT", "Bücher") == b"* SEARCH 1"
        r.close()
