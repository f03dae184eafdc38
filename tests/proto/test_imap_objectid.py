"""IMAP OBJECTID (RFC 8474: MAILBOXID in SELECT/STATUS/LIST-STATUS, EMAILID
and THREADID in FETCH and SEARCH), SAVEDATE (RFC 8514: FETCH SAVEDATE,
SEARCH SAVEDBEFORE/SAVEDON/SAVEDSINCE/SAVEDATESUPPORTED) and PREVIEW
(RFC 8970: FETCH PREVIEW and PREVIEW (LAZY) over plain, HTML,
base64/UTF-8, long and text-less messages). Exact responses."""
import base64
import re
import time

from test_imap import Raw, deliver, srv, wait_count
from test_imap_search_ext import cmd, send_raw

HDR = "From: alice@remote.test\r\nTo: bob@example.test\r\nSubject: %s\r\nDate: Fri, 20 Nov 2026 12:00:00 +0000\r\n"


def plain(subject, body):
    return HDR % subject + "\r\n" + body


def typed(subject, ctype, body, cte=None):
    h = HDR % subject + "MIME-Version: 1.0\r\nContent-Type: %s\r\n" % ctype
    if cte:
        h += "Content-Transfer-Encoding: %s\r\n" % cte
    return h + "\r\n" + body


ALT = ("--b1\r\nContent-Type: text/html\r\n\r\n<p>html first</p>\r\n"
       "--b1\r\nContent-Type: text/plain\r\n\r\nPlain  wins\tover html.\r\n--b1--\r\n")
HTML = ("<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<p>Caf&eacute;? &lt;Tom&gt; &amp; Jerry&#33;</p><br><div>next&nbsp;line</div>"
        "<!-- hidden --><script>var x = 1;</script></body></html>\r\n")
UTF8 = base64.b64encode("Grüße   aus\r\n\r\nKöln — ünïcödé".encode()).decode() + "\r\n"
IMAGE = ("--b2\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
         "--b2\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\n"
         "attached text\r\n--b2--\r\n")


def literal(r, tag, n, want):
    r.send("%s FETCH %d (PREVIEW)\r\n" % (tag, n))
    head = r.line()
    assert head == b"* %d FETCH (PREVIEW {%d}" % (n, len(want)), head
    while len(r.buf) < len(want) + 3:
        r.buf += r.sock.recv(65536)
    assert r.buf.startswith(want + b")\r\n"), r.buf
    r.buf = r.buf[len(want) + 3:]
    assert r.until_tag(tag)[-1].startswith(tag.encode() + b" OK")


def session(s):
    r = Raw(s)
    r.login()
    u, t = cmd(r, "s", "SELECT INBOX")
    assert t.startswith(b"s OK"), t
    return r, u


def test_imap_objectid():
    with srv() as s:
        send_raw(s, [plain("a", "one\r\n"), plain("b", "two\r\n"), plain("c", "three\r\n")])
        r, u = session(s)
        ids = [re.match(rb"\* OK \[MAILBOXID \((M[0-9a-f]{8})\)\] Ok$", x) for x in u]
        ids = [m.group(1) for m in ids if m]
        assert len(ids) == 1, u
        inbox_id = ids[0]
        caps = cmd(r, "c", "CAPABILITY")[0][0]
        assert b" OBJECTID" in caps
        # No HTTPS listener here, so no JMAP: no JMAPACCESS (RFC 9698).
        assert b"JMAPACCESS" not in caps, caps
        assert cmd(r, "ja", "GETJMAPACCESS")[1].startswith(b"ja BAD")
        u, t = cmd(r, "st", "STATUS INBOX (MESSAGES MAILBOXID)")
        assert u == [b"* STATUS INBOX (MESSAGES 3 MAILBOXID (" + inbox_id + b"))"], u
        # RFC 8474 §4.1: CREATE's OK carries the new mailbox's MAILBOXID.
        u, t = cmd(r, "cr", "CREATE Other")
        made = re.match(rb"cr OK \[MAILBOXID \((M[0-9a-f]{8})\)\] ", t)
        assert made, t
        u, t = cmd(r, "st2", "STATUS Other (MAILBOXID)")
        other = re.match(rb"\* STATUS Other \(MAILBOXID \((M[0-9a-f]{8})\)\)$", u[0]).group(1)
        assert other != inbox_id and other == made.group(1), (other, made.group(0))
        u, t = cmd(r, "cr2", "CREATE Deep/Child (USE (\\Archive))")
        made = re.match(rb"cr2 OK \[MAILBOXID \((M[0-9a-f]{8})\)\] ", t)
        u, _ = cmd(r, "st4", "STATUS Deep/Child (MAILBOXID)")
        assert made and u == [b"* STATUS Deep/Child (MAILBOXID (" + made.group(1) + b"))"], (t, u)
        # RENAME keeps the id.
        cmd(r, "rn", "RENAME Other Renamed")
        u, t = cmd(r, "ls", 'LIST "" Renamed RETURN (STATUS (MAILBOXID))')
        assert u[1] == b"* STATUS Renamed (MAILBOXID (" + other + b"))", u
        # EMAILID / THREADID: distinct, stable, and searchable.
        u, t = cmd(r, "f", "FETCH 1:3 (EMAILID THREADID)")
        ms = [re.match(rb"\* (\d) FETCH \(EMAILID \((E[0-9a-f]{8})\) THREADID \((T[0-9a-f]{8})\)\)$", x)
              for x in u]
        assert all(ms) and len(ms) == 3, u
        emails = [m.group(2) for m in ms]
        assert len(set(emails)) == 3
        assert cmd(r, "f2", "UID FETCH 2 (EMAILID)")[0] == [b"* 2 FETCH (UID 2 EMAILID (" + emails[1] + b"))"]
        assert cmd(r, "se", "SEARCH EMAILID " + emails[2].decode())[0] == [b"* SEARCH 3"]
        assert cmd(r, "st3", "SEARCH THREADID " + ms[0].group(3).decode())[0] == [b"* SEARCH 1"]
        assert cmd(r, "se2", "SEARCH EMAILID Ezzz")[0] == [b"* SEARCH"]
        assert cmd(r, "se3", "SEARCH NOT EMAILID " + emails[0].decode())[0] == [b"* SEARCH 2 3"]
        r.close()
        # RFC 8474 §5.1: an EMAILID names one immutable message. An address
        # deleted and made again must not show a cached id for new mail
        # (its first message was E00000001 again: a client keeping bodies
        # by EMAILID showed the old body).
        dan, dan_pw = "dan@example.test", "dan-pw-5Rt8"

        def first_emailid():
            deliver(s, 1, to=dan, subject="for dan %d")
            wait_count(s, 1, account=dan)
            d = Raw(s)
            d.login(dan, dan_pw)
            cmd(d, "s", "SELECT INBOX")
            u, _ = cmd(d, "f", "FETCH 1 (EMAILID)")
            d.close()
            return re.match(rb"\* 1 FETCH \(EMAILID \((E[0-9a-f]{8})\)\)$", u[0]).group(1)
        s.cli("account", "add", dan, input=dan_pw + "\n")
        old = first_emailid()
        s.cli("account", "del", dan)
        s.cli("account", "add", dan, input=dan_pw + "\n")
        new = first_emailid()
        assert new > old, (old, new)


def test_imap_savedate():
    with srv() as s:
        send_raw(s, [plain("a", "one\r\n"), plain("b", "two\r\n")])
        r, _ = session(s)
        u, t = cmd(r, "f", "FETCH 1:2 (INTERNALDATE SAVEDATE)")
        for line in u:
            m = re.match(rb'\* \d FETCH \(INTERNALDATE "([^"]+)" SAVEDATE "([^"]+)"\)$', line)
            assert m and m.group(1) == m.group(2), u  # a delivery is saved when it arrives
        today = time.strftime("%d-%b-%Y", time.gmtime()).encode()
        assert today.lstrip(b"0") in u[0] or today in u[0], (today, u)
        assert cmd(r, "a", "SEARCH SAVEDON " + today.decode())[0] == [b"* SEARCH 1 2"]
        assert cmd(r, "b", "SEARCH SAVEDBEFORE " + today.decode())[0] == [b"* SEARCH"]
        assert cmd(r, "c", "SEARCH SAVEDSINCE 1-Jan-2000 SAVEDATESUPPORTED")[0] == [b"* SEARCH 1 2"]
        assert cmd(r, "d", "UID SEARCH RETURN (COUNT) SAVEDBEFORE 1-Jan-2000")[0] == [
            b'* ESEARCH (TAG "d") UID COUNT 0']
        r.close()


def test_imap_preview():
    long_body = ("word " * 100) + "\r\n"
    with srv() as s:
        send_raw(s, [
            plain("p", "  Hello,\r\n\r\n   this is\tthe   first line.\r\n> quoted\r\n"),
            typed("alt", 'multipart/alternative; boundary="b1"', ALT),
            typed("html", "text/html; charset=utf-8", HTML),
            typed("utf8", "text/plain; charset=utf-8", UTF8, "base64"),
            typed("img", 'multipart/mixed; boundary="b2"', IMAGE),
            plain("long", long_body),
            typed("latin1", "text/plain; charset=iso-8859-1", "caf\xe9 cr\xe8me\r\n", "8bit").encode("latin-1"),
        ])
        r, _ = session(s)
        f = lambda tag, n, item="PREVIEW": cmd(r, tag, "FETCH %d (%s)" % (n, item))[0]
        assert f("a", 1) == [b'* 1 FETCH (PREVIEW "Hello, this is the first line. > quoted")']
        assert f("b", 2, "PREVIEW (LAZY)") == [b'* 2 FETCH (PREVIEW "Plain wins over html.")']
        # HTML as a reader sees it: references decoded (UTF-8: a literal).
        literal(r, "c", 3, "Café? <Tom> & Jerry! next line".encode())
        # UTF-8 goes out as a literal (no UTF8=ACCEPT here).
        literal(r, "d", 4, "Grüße aus Köln — ünïcödé".encode())
        literal(r, "j", 7, "café crème".encode())
        assert f("e", 5) == [b'* 5 FETCH (PREVIEW "")']
        u = f("g", 6)
        m = re.match(rb'\* 6 FETCH \(PREVIEW "([^"]*)"\)$', u[0])
        assert m and len(m.group(1)) == 199 and m.group(1).startswith(b"word word"), u  # 200 chars, no trailing space
        u, t = cmd(r, "h", "FETCH 1 (PREVIEW (FOO))")
        assert t.startswith(b"h BAD"), t
        assert b"PREVIEW" in cmd(r, "i", "CAPABILITY")[0][0]
        r.close()


def test_imap_savedate_append_and_copy():
    with srv() as s:
        r, _ = session(s)
        msg = plain("old", "from the archive\r\n").encode()
        r.send('a APPEND INBOX "01-Jan-2020 10:00:00 +0000" {%d}\r\n' % len(msg))
        assert r.line().startswith(b"+")
        r.send(msg + b"\r\n")
        assert r.until_tag("a")[-1].startswith(b"a OK"), "append"
        cmd(r, "n", "NOOP")
        cmd(r, "c", "CREATE Kept")
        u, t = cmd(r, "cp", "COPY 1 Kept")
        assert t.startswith(b"cp OK"), t
        today = time.strftime("%d-%b-%Y", time.gmtime())
        # The client dated the message 2020; it was saved today, and so was its copy.
        u, t = cmd(r, "f", "FETCH 1 (INTERNALDATE SAVEDATE)")
        assert re.match(rb'\* 1 FETCH \(INTERNALDATE "01-Jan-2020 10:00:00 \+0000" SAVEDATE "([^"]+)"\)$', u[0]), u
        assert cmd(r, "s1", "SEARCH SAVEDON " + today)[0] == [b"* SEARCH 1"]
        assert cmd(r, "s2", "SEARCH ON 1-Jan-2020")[0] == [b"* SEARCH 1"]
        cmd(r, "sel", "SELECT Kept")
        assert cmd(r, "s3", "SEARCH SAVEDON " + today)[0] == [b"* SEARCH 1"]
        assert cmd(r, "s4", "SEARCH SAVEDBEFORE 1-Jan-2021")[0] == [b"* SEARCH"]
        r.close()


def test_imap_threadid_conversations():
    # Threads come from Message-ID / In-Reply-To / References and the base
    # subject (app/store/store_thread.c): a delivered message, a reply to it
    # APPENDed (the Sent copy), a reply that names it in References only,
    # and one with the same subject but no ids (a thread of its own).
    parent = "Message-ID: <p1@remote.test>\r\n" + plain("Plans", "one\r\n")
    other = plain("Plans", "unrelated\r\n")
    refs = ("Message-ID: <p3@remote.test>\r\nReferences: <p1@remote.test> <p2@example.test>\r\n"
            + plain("Re: Re: plans", "three\r\n"))
    reply = ("Message-ID: <p2@example.test>\r\nIn-Reply-To: <p1@remote.test>\r\n"
             + plain("Re: Plans", "two\r\n"))
    with srv() as s:
        send_raw(s, [parent, other, refs])
        r, _ = session(s)
        data = reply.encode()
        r.send("a APPEND INBOX {%d}\r\n" % len(data))
        assert r.line().startswith(b"+")
        r.send(data + b"\r\n")
        assert r.until_tag("a")[-1].startswith(b"a OK")
        cmd(r, "n", "NOOP")
        u, t = cmd(r, "f", "FETCH 1:4 (THREADID)")
        ts = [re.match(rb"\* (\d) FETCH \(THREADID \((T[0-9a-f]{8})\)\)$", x) for x in u]
        assert all(ts) and len(ts) == 4, u
        ts = [m.group(2) for m in ts]
        assert ts[0] == ts[2] == ts[3] and ts[1] != ts[0], ts
        u, t = cmd(r, "s", "SEARCH THREADID " + ts[0].decode())
        assert u == [b"* SEARCH 1 3 4"], u
        r.close()
