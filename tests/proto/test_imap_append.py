"""IMAP APPEND: flags and internal date kept, APPENDUID after the commit,
the appended message readable (BODYSTRUCTURE from the MIME cache) and
seen by a second session, MULTIAPPEND all-or-nothing, LITERAL+, literal8
and UTF8 data, [TRYCREATE], and APPENDLIMIT / quota refused before the
"+" continuation; a {N+} message over APPENDLIMIT read and dropped, or,
past four times it, refused with the connection closed."""
import imaplib
import re

from harness import Server
from test_imap import BOB, BOB_PW, Raw, deliver, login, srv, wait_count

MSG = (b"From: Alice <alice@remote.test>\r\nTo: bob@example.test\r\n"
       b"Subject: appended\r\nMessage-ID: <a1@remote.test>\r\n"
       b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
       b"--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nHello there.\r\n"
       b"--b1\r\nContent-Type: application/octet-stream\r\n"
       b"Content-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--b1--\r\n")


def inbox_count(r, tag):
    """INBOX's MESSAGES, by STATUS on the Raw connection r."""
    r.send(b"%s STATUS INBOX (MESSAGES)\r\n" % tag.encode())
    out = r.until_tag(tag)
    m = re.search(rb"MESSAGES (\d+)", out[0])
    assert m and out[-1].startswith(b"%s OK" % tag.encode()), out
    return int(m.group(1))


def appenduid(m):
    """(uidvalidity, uids text) of the last APPENDUID response code."""
    code = m.untagged_responses.get("APPENDUID")
    if code:
        v = code[-1]
    else:
        raise AssertionError("no APPENDUID: %r" % (m.untagged_responses,))
    v = v.decode() if isinstance(v, bytes) else v
    a, b = v.split()
    return int(a), b


def test_imap_append_flags_date_appenduid():
    with srv() as s:
        m = login(s)
        typ, data = m.append("INBOX", "(\\Seen \\Flagged Work)",
                             '"14-Jul-2020 10:11:12 +0200"', MSG)
        assert typ == "OK", data
        m2 = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
        assert m2, data
        uidv, uid = int(m2.group(1)), int(m2.group(2))
        assert uid == 1
        typ, st = m.status("INBOX", "(UIDVALIDITY MESSAGES UIDNEXT)")
        assert b"UIDVALIDITY %d" % uidv in st[0] and b"MESSAGES 1" in st[0], st
        assert b"UIDNEXT 2" in st[0], st
        m.select("INBOX")
        typ, data = m.uid("FETCH", str(uid),
                          "(FLAGS INTERNALDATE RFC822.SIZE BODYSTRUCTURE BODY.PEEK[])")
        assert typ == "OK"
        head = data[0][0]
        assert b"\\Seen" in head and b"\\Flagged" in head and b"Work" in head, head
        assert b'INTERNALDATE "14-Jul-2020 08:11:12 +0000"' in head \
            or b'INTERNALDATE "14-Jul-2020 10:11:12 +0200"' in head, head
        assert b"RFC822.SIZE %d" % len(MSG) in head, head
        assert b'"mixed"' in head.lower() and b'"octet-stream"' in head.lower(), head
        assert data[0][1] == MSG
        # Without flags and date: no flags, a current internal date.
        typ, data = m.append("INBOX", None, None, b"Subject: two\r\n\r\nx\r\n")
        assert typ == "OK" and b"[APPENDUID %d 2]" % uidv in data[0], data
        typ, data = m.fetch("2", "(FLAGS)")
        # Only \Recent: this IMAP4rev1 session was the first told of it.
        assert b"FLAGS (\\Recent)" in data[0], data
        # `tern fetch` sees both, in INBOX.
        assert len(s.messages(BOB)) == 2
        m.logout()


def test_imap_append_other_mailbox_and_trycreate():
    with srv() as s:
        m = login(s)
        typ, data = m.append("Nope", None, None, MSG)
        assert typ == "NO" and b"[TRYCREATE]" in data[0], data
        assert m.create("Projects")[0] == "OK"
        typ, data = m.append("Projects", "(\\Draft)", None, MSG)
        assert typ == "OK" and b"APPENDUID" in data[0]
        typ, data = m.status("Projects", "(MESSAGES)")
        assert b"MESSAGES 1" in data[0]
        typ, data = m.status("INBOX", "(MESSAGES)")
        assert b"MESSAGES 0" in data[0]
        # A selected mailbox learns about its own APPEND (EXISTS).
        m.select("Projects")
        m.append("Projects", None, None, MSG)
        assert m.untagged_responses.get("EXISTS", [b""])[-1] == b"2", m.untagged_responses
        # Bad flags are a BAD, nothing stored.
        try:
            m.append("Projects", "(\\Recent)", None, MSG)
            assert False
        except imaplib.IMAP4.error as e:
            assert "BAD" in str(e) or "Recent" in str(e)
        typ, data = m.status("Projects", "(MESSAGES)")
        assert b"MESSAGES 2" in data[0]


def test_imap_append_seen_by_other_session():
    with srv() as s:
        a = login(s)
        b = login(s)
        b.select("INBOX")
        a.append("INBOX", None, None, MSG)
        typ, data = b.noop()
        assert b.untagged_responses.get("EXISTS", [b""])[-1] == b"1", b.untagged_responses
        typ, data = b.fetch("1", "(ENVELOPE)")
        assert b'"appended"' in data[0], data


def test_imap_multiappend_atomic_and_literal_plus():
    with Server(accounts=(), imap=True, start=False) as s:
        s.cli("account", "add", BOB, "--quota", "3000", input=BOB_PW + "\n")
        s.start()
        r = Raw(s)
        assert b"MULTIAPPEND" in r.greeting and b"LITERAL+" in r.greeting
        assert b"APPENDLIMIT=" in r.greeting
        r.login()
        # Three messages, non-synchronizing literals: one command, no "+".
        one = b"Subject: m1\r\n\r\none\r\n"
        two = b"Subject: m2\r\n\r\ntwo\r\n"
        r.send(b"a APPEND INBOX (\\Seen) {%d+}\r\n%s {%d+}\r\n%s"
               b" (\\Flagged) \"01-Jan-2021 00:00:00 +0000\" {%d+}\r\n%s\r\n"
               % (len(one), one, len(two), two, len(one), one))
        lines = r.until_tag("a")
        assert re.match(rb"a OK \[APPENDUID \d+ 1:3\]", lines[-1]), lines
        # Over quota with the second message: nothing of the command is
        # stored. The budget is checked before "+": the first literal is
        # accepted, the second refused.
        big = b"Subject: big\r\n\r\n" + b"x" * 1500 + b"\r\n"
        r.send(b"b APPEND INBOX {%d}\r\n" % len(one))
        assert r.line().startswith(b"+")
        r.send(one + b" {%d}\r\n" % len(big))
        line = r.line()
        assert line.startswith(b"+"), line
        r.send(big + b" {%d}\r\n" % len(big))
        line = r.line()
        assert line.startswith(b"b NO [OVERQUOTA]"), line
        assert inbox_count(r, "c") == 3
        # Too big for the APPENDLIMIT: NO [TOOBIG] instead of "+".
        r.send(b"d APPEND INBOX {60000000}\r\n")
        line = r.line()
        assert line.startswith(b"d NO [TOOBIG]"), line
        # literal8 (BINARY) and the UTF8 data item of RFC 6855.
        u = "Subject: caf\u00e9\r\n\r\nbody\r\n".encode()
        r.send(b"e APPEND INBOX UTF8 (~{%d+}\r\n%s)\r\n" % (len(u), u))
        lines = r.until_tag("e")
        assert re.match(rb"e OK \[APPENDUID \d+ 4\]", lines[-1]), lines
        r.send(b"f APPEND INBOX ~{%d+}\r\n%s\r\n" % (len(two), two))
        lines = r.until_tag("f")
        assert re.match(rb"f OK \[APPENDUID \d+ 5\]", lines[-1]), lines
        r.send(b"g SELECT INBOX\r\n")
        r.until_tag("g")
        r.send(b"h FETCH 1:5 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n")
        out = b"\n".join(r.until_tag("h"))
        assert out.count(b"Subject: m1") == 2 and b"Subject: m2" in out, out
        # This session never enabled UTF8=ACCEPT: its header sections come
        # downgraded (RFC 6855, mime_header_downgrade), the stored copy is
        # the UTF-8 that was appended.
        assert b"Subject: =?utf-8?q?caf=C3=A9?=" in out, out
        r.send(b"i FETCH 4 BODY.PEEK[]\r\n")
        assert b"Subject: =?utf-8?q?caf=C3=A9?=" in b"\n".join(r.until_tag("i"))
        # \\Recent first: this session is the first to see them (RFC 3501 §2.3.2).
        assert b"1 FETCH (FLAGS (\\Recent \\Seen)" in out and b"3 FETCH (FLAGS (\\Recent \\Flagged)" in out, out
        r.close()


def test_imap_append_pipelined_many():
    """Many APPENDs in a row from two sessions: every one committed."""
    with srv() as s:
        a, b = login(s), login(s)
        for i in range(20):
            assert a.append("INBOX", None, None, b"Subject: a%d\r\n\r\nx\r\n" % i)[0] == "OK"
            assert b.append("INBOX", None, None, b"Subject: b%d\r\n\r\ny\r\n" % i)[0] == "OK"
        typ, data = a.status("INBOX", "(MESSAGES UIDNEXT)")
        assert b"MESSAGES 40" in data[0] and b"UIDNEXT 41" in data[0], data


def test_imap_append_nonsync_literal_over_appendlimit():
    """{N+} messages over the APPENDLIMIT (RFC 7888 §4 lets the server read
    such a literal or close): one a few times the limit is answered
    NO [TOOBIG] (RFC 9051 §7.1) at once, its octets are read and dropped
    (nothing stored) and the session goes on; one past that (4 GiB) gets
    the same NO [TOOBIG], then BYE, and the connection ends without
    waiting for a single octet of it, in a single APPEND and as the
    second message of a MULTIAPPEND. A {N} of 4 GiB is refused before
    "+" with the same code."""
    limit = 1024 * 1024
    with srv(env={"TERN_MAX_MESSAGE_SIZE": str(limit)}) as s:
        r = Raw(s)
        r.login()
        r.send(b"c CAPABILITY\r\n")
        assert b"APPENDLIMIT=%d" % limit in b" ".join(r.until_tag("c"))
        for n in (limit + 1, 3 * limit):
            r.send(b"a APPEND INBOX {%d+}\r\n" % n)
            line = r.line()
            assert line.startswith(b"a NO [TOOBIG]"), line
            r.send(MSG + b"x" * (n - len(MSG)) + b"\r\nb NOOP\r\n")
            out = r.until_tag("b")
            assert out[-1].startswith(b"b OK"), out
        assert inbox_count(r, "s") == 0
        r.send(b"d APPEND INBOX {4294967296}\r\n")
        line = r.line()
        assert line.startswith(b"d NO [TOOBIG]"), line
        r.close()
        for first in (b"", b"{%d+}\r\n%s " % (len(MSG), MSG)):
            r = Raw(s)
            r.login()
            r.send(b"e APPEND INBOX " + first + b"{4294967296+}\r\n")
            assert r.line().startswith(b"e NO [TOOBIG]"), r.buf
            assert r.line().startswith(b"* BYE"), r.buf
            try:
                extra = r.line()
            except (EOFError, OSError):
                extra = None
            assert extra is None, extra
            r.close()
        r = Raw(s)
        r.login()
        assert inbox_count(r, "s") == 0
        r.close()
