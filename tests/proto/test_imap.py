"""IMAP (STARTTLS on the IMAP port, implicit TLS on IMAPS), first slice:
Python's imaplib and raw sockets for what imaplib will not send, and mbsync
(isync) pulling INBOX into a Maildir. Flags, EXPUNGE and mailbox management
are in test_imap_write.py."""
import base64
import imaplib
import os
import re
import shutil
import smtplib
import signal
import socket
import ssl
import subprocess
import tempfile
import time

from harness import Server, message

BOB, BOB_PW = "bob@example.test", "bob-pw-1"
CAROL, CAROL_PW = "carol@example.test", "carol-pw-1"
ACCOUNTS = [(BOB, BOB_PW), (CAROL, CAROL_PW)]


def ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def srv(**kw):
    return Server(accounts=ACCOUNTS, imap=True, **kw)


def deliver(s, n=3, to=BOB, body=None, subject="msg %d"):
    """Sends n messages over SMTP; returns the message texts as sent."""
    sent = []
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        for i in range(n):
            m = message(subject=subject % i, to=to, body=body or "Body %d.\r\n" % i)
            c.sendmail("alice@remote.test", [to], m)
            sent.append(m.encode())
    return sent


def wait_count(s, n, account=BOB, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(s.messages(account)) >= n:
            return
        time.sleep(0.05)
    raise AssertionError("messages not delivered")


def mailbox_flags(s, mailbox="INBOX"):
    """{subject: flags bytes} of one of bob's mailboxes, read with imaplib
    (the real clients' tests check the server with it)."""
    for _ in range(50):
        m = login(s)
        m.select(mailbox, readonly=True)
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        # A client under test expunged between SELECT and FETCH: the
        # server says NO [EXPUNGEISSUED] (RFC 9051 §7.1), and imaplib then
        # hands back that text instead of the FETCH responses. Look again.
        if typ == "NO" and b"EXPUNGEISSUED" in data[0]:
            m.logout()
            continue
        break
    out = {}
    for d in data:
        if isinstance(d, tuple):
            subj = d[1].split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
            out[subj] = d[0].split(b"FLAGS (", 1)[1].split(b")", 1)[0]
    m.logout()
    return out


def raw_messages(s, user=BOB, pw=BOB_PW, mailbox="INBOX"):
    """Every message of one of user's mailboxes, raw, in one IMAPS session."""
    m = login(s, user=user, pw=pw)
    typ, data = m.select(mailbox, readonly=True)
    assert typ == "OK", data
    out = []
    if int(data[0]):
        typ, data = m.fetch("1:*", "(BODY.PEEK[])")
        out = [d[1] for d in data if isinstance(d, tuple)]
    m.logout()
    return out


def append_uid(m, text, flags=None, date=None, mailbox="INBOX"):
    """APPENDs text with imaplib; returns the new message's UID
    (APPENDUID)."""
    typ, data = m.append(mailbox, flags, date, text)
    assert typ == "OK", data
    return int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))


def starttls(s):
    m = imaplib.IMAP4("127.0.0.1", s.imap_port, timeout=10)
    m.starttls(ctx())
    return m


def login(s, implicit=True, user=BOB, pw=BOB_PW):
    if implicit:
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx(), timeout=10)
    else:
        m = starttls(s)
    typ, data = m.login(user, pw)
    assert typ == "OK", data
    return m


def uid_list(s):
    """The UIDs of an IMAP UID set as written, each range ascending, in
    order (COPYUID pairs them by position)."""
    out = []
    for part in s.split(","):
        a, _, b = part.partition(":")
        lo, hi = sorted((int(a), int(b or a)))
        out.extend(range(lo, hi + 1))
    return out


def raw_response(conn):
    """One IMAP response read from conn.sock, with conn.buf holding what was
    received past it: its text (bytes, each literal shown as {}) and its
    literals. EOFError when the server closes first."""
    def fill(n):
        while len(conn.buf) < n:
            d = conn.sock.recv(65536)
            if not d:
                raise EOFError("closed; buffered %r" % conn.buf[-200:])
            conn.buf += d

    text, lits = b"", []
    while True:
        while b"\r\n" not in conn.buf:
            fill(len(conn.buf) + 1)
        line, conn.buf = conn.buf.split(b"\r\n", 1)
        m = re.search(rb"\{(\d+)\+?\}$", line)
        if not m:
            return text + line, lits
        n = int(m.group(1))
        fill(n)
        lits.append(conn.buf[:n])
        conn.buf = conn.buf[n:]
        text += line[:m.start()] + b"{}"


class Raw:
    """A raw IMAP connection (TLS when asked)."""

    def __init__(self, s, implicit=True):
        port = s.imaps_port if implicit else s.imap_port
        sock = socket.create_connection(("127.0.0.1", port), 10)
        self.sock = ctx().wrap_socket(sock, server_hostname="mx.example.test") if implicit else sock
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed; buffered %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def until_tag(self, tag):
        """Lines up to and including the tagged one."""
        out = []
        while True:
            line = self.line()
            out.append(line)
            if line.startswith(tag.encode() + b" "):
                return out

    def login(self, user=BOB, pw=BOB_PW):
        self.send('l LOGIN "%s" "%s"\r\n' % (user, pw))
        assert self.until_tag("l")[-1].startswith(b"l OK"), "login failed"

    def close(self):
        self.sock.close()


def test_imap_greeting_capability_starttls():
    with srv() as s:
        r = Raw(s, implicit=False)
        assert r.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 "), r.greeting
        assert b"STARTTLS" in r.greeting and b"LOGINDISABLED" in r.greeting
        assert b"AUTH=" not in r.greeting
        # Nothing is advertised that this slice does not implement.
        for cap in (b"UTF8=ONLY", b"QUOTASET"):
            assert cap not in r.greeting, cap
        for cap in (b" UIDONLY", b" MESSAGELIMIT=", b" CONTEXT=SORT", b" INPROGRESS"):
            assert cap in r.greeting, cap  # implemented since (issue 32)
        r.send("a LOGIN bob@example.test bob-pw-1\r\n")
        assert r.until_tag("a")[-1].startswith(b"a NO [PRIVACYREQUIRED]")
        r.send("b AUTHENTICATE PLAIN %s\r\n" % base64.b64encode(b"\0bob@example.test\0bob-pw-1").decode())
        assert r.until_tag("b")[-1].startswith(b"b NO [PRIVACYREQUIRED]")
        r.send("c NOOP\r\nd FOO\r\ne SELECT INBOX\r\n")
        assert r.until_tag("c")[-1] == b"c OK NOOP completed."
        assert r.until_tag("d")[-1].startswith(b"d BAD")
        assert r.until_tag("e")[-1].startswith(b"e BAD")
        r.close()

        m = starttls(s)
        typ, caps = m.capability()
        caps = caps[0].split()
        assert b"AUTH=PLAIN" in caps and b"AUTH=LOGIN" in caps and b"LOGINDISABLED" not in caps
        assert b"STARTTLS" not in caps
        assert m.login(BOB, BOB_PW)[0] == "OK"
        assert m.noop()[0] == "OK"
        assert m.logout()[0] == "BYE"


def test_imap_login_and_authenticate():
    with srv() as s:
        m = login(s, implicit=True)
        m.logout()
        # AUTHENTICATE PLAIN with an initial response (imaplib sends SASL-IR
        # only when the capability is there).
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx(), timeout=10)
        typ, _ = m.authenticate("PLAIN", lambda _: b"\0" + BOB.encode() + b"\0" + BOB_PW.encode())
        assert typ == "OK"
        assert m.state == "AUTH"
        m.logout()
        # AUTHENTICATE LOGIN over raw lines.
        r = Raw(s)
        r.send("a AUTHENTICATE LOGIN\r\n")
        assert r.line() == b"+ VXNlcm5hbWU6"
        r.send(base64.b64encode(BOB.encode()) + b"\r\n")
        assert r.line() == b"+ UGFzc3dvcmQ6"
        r.send(base64.b64encode(BOB_PW.encode()) + b"\r\n")
        assert r.until_tag("a")[-1].startswith(b"a OK [CAPABILITY")
        r.close()
        # Wrong password: NO [AUTHENTICATIONFAILED] after the delay.
        r = Raw(s)
        t0 = time.time()
        r.send("a LOGIN bob@example.test wrong\r\n")
        assert r.until_tag("a")[-1] == b"a NO [AUTHENTICATIONFAILED] Authentication failed."
        assert time.time() - t0 >= 0.9
        # SASL cancelled by the client.
        r.send("b AUTHENTICATE PLAIN\r\n")
        assert r.line() == b"+ "
        r.send("*\r\n")
        assert r.until_tag("b")[-1].startswith(b"b BAD")
        r.close()


def test_imap_authenticate_plain_authzid():
    # An authzid naming the authenticated account (in any case: account
    # names are case-insensitive) is no other identity: the login succeeds,
    # as it does over SMTP, POP3 and ManageSieve. Another account's name is
    # refused like a wrong password and logged as reason=authzid.
    with srv() as s:
        r = Raw(s)
        ir = base64.b64encode(BOB.upper().encode() + b"\0" + BOB.encode() + b"\0" + BOB_PW.encode())
        r.send(b"a AUTHENTICATE PLAIN " + ir + b"\r\n")
        assert r.until_tag("a")[-1].startswith(b"a OK [CAPABILITY")
        r.close()
        r = Raw(s)
        ir = base64.b64encode(b"carol@example.test\0" + BOB.encode() + b"\0" + BOB_PW.encode())
        r.send(b"b AUTHENTICATE PLAIN " + ir + b"\r\n")
        assert r.until_tag("b")[-1] == b"b NO [AUTHENTICATIONFAILED] Authentication failed."
        r.close()
        assert "reason=authzid" in s.log_text()


def test_imap_list_status_select():
    with srv() as s:
        deliver(s, 3)
        wait_count(s, 3)
        m = login(s)
        typ, data = m.list()
        assert typ == "OK"
        lines = [d.decode() for d in data]
        names = {}
        for line in lines:
            mm = re.match(r'\((.*?)\) "/" (.*)', line)
            assert mm, line
            names[mm.group(2).strip('"')] = mm.group(1).split()
        assert set(names) == {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"}, names
        assert lines[0].endswith("INBOX")
        for n, attr in (("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"),
                        ("Junk", "\\Junk"), ("Archive", "\\Archive")):
            assert attr in names[n] and "\\HasNoChildren" in names[n], (n, names[n])
        typ, data = m.list('""', "%")
        assert len(data) == 6
        typ, data = m.list('""', "Se*")
        assert len(data) == 1 and data[0].endswith(b"Sent")
        typ, data = m.list('""', "inbox")
        assert len(data) == 1 and data[0].endswith(b"INBOX")
        typ, data = m.list('""', '""')
        assert data[0] == b'(\\Noselect) "/" ""'
        typ, data = m.lsub()
        assert typ == "OK" and len(data) == 6
        typ, data = m.namespace()
        # The personal namespace and the other users' (RFC 2342 §5): a
        # mailbox shared with the user is Shared/OWNER/NAME (imap_acl.h).
        assert data[0] == b'(("" "/")) (("Shared/" "/")) NIL'
        typ, data = m.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT SIZE)")
        st = data[0].decode()
        assert "MESSAGES 3" in st and "UIDNEXT 4" in st and "UNSEEN 3" in st, st
        # RFC 7889 §3: a server that announces APPENDLIMIT answers the
        # STATUS item too (the same limit for every mailbox here).
        cap = [c for c in m.capabilities if c.startswith("APPENDLIMIT=")]
        typ, data = m.status("Sent", "(APPENDLIMIT MESSAGES)")
        assert typ == "OK" and data[0].decode().endswith(
            '(APPENDLIMIT %s MESSAGES 0)' % cap[0].split("=")[1]), (cap, data)
        typ, data = m.status("Nope", "(MESSAGES)")
        assert typ == "NO"
        typ, data = m.select("INBOX", readonly=True)
        assert typ == "OK" and data == [b"3"]
        assert m.untagged_responses.get("READ-ONLY") is not None or True
        r = Raw(s)
        r.login()
        r.send("s SELECT INBOX\r\n")
        out = r.until_tag("s")
        assert b"* 3 EXISTS" in out and b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)" in out
        assert any(l.startswith(b"* OK [UIDVALIDITY ") for l in out)
        assert b"* OK [UIDNEXT 4] Predicted next UID" in out
        assert out[-1] == b"s OK [READ-WRITE] Select completed."
        r.send("x EXAMINE Sent\r\ny CLOSE\r\nz FETCH 1 UID\r\n")
        assert b"* 0 EXISTS" in r.until_tag("x")
        assert r.until_tag("y")[-1] == b"y OK Close completed."
        assert r.until_tag("z")[-1].startswith(b"z BAD")
        r.send("u SELECT INBOX\r\nv UNSELECT\r\nw CHECK\r\n")
        r.until_tag("u")
        assert r.until_tag("v")[-1] == b"v OK Unselect completed."
        assert r.until_tag("w")[-1].startswith(b"w BAD")
        # Mailbox names are NFC (RFC 9051 §5.1, RFC 5198): "Café" written
        # with e + U+0301 (modified UTF-7 "Cafe&AwE-") is "Caf&AOk-".
        r.send('c1 CREATE "Cafe&AwE-"\r\nc2 LIST "" "Caf*"\r\nc3 SELECT "Caf&AOk-"\r\n'
               'c4 CREATE "Caf&AOk-"\r\nc7 LIST "" "Cafe&AwE-"\r\n'
               'c5 DELETE "Cafe&AwE-"\r\nc6 LIST "" "Caf*"\r\n')
        assert r.until_tag("c1")[-1].startswith(b"c1 OK")
        assert r.until_tag("c2") == [b'* LIST (\\HasNoChildren) "/" Caf&AOk-', b"c2 OK List completed."]
        assert r.until_tag("c3")[-1].startswith(b"c3 OK")
        assert r.until_tag("c4")[-1].startswith(b"c4 NO [ALREADYEXISTS]")
        assert r.until_tag("c7") == [b'* LIST (\\HasNoChildren) "/" Caf&AOk-', b"c7 OK List completed."]
        assert r.until_tag("c5")[-1].startswith(b"c5 OK")
        assert r.until_tag("c6") == [b"c6 OK List completed."]
        r.send('i ID ("name" "test")\r\nj ENABLE X-UNKNOWN IMAP4rev2\r\n')
        assert r.until_tag("i")[0] == b'* ID ("name" "tern")'
        # Unknown names are ignored; ENABLED lists what was turned on.
        assert r.until_tag("j") == [b"* ENABLED IMAP4rev2", b"j OK Enabled."]
        r.close()
        m.logout()


def test_imap_fetch_bodies_exact():
    with srv() as s:
        sent = deliver(s, 2, body="Line one.\r\n.leading dot\r\nLast line.\r\n")
        wait_count(s, 2)
        stored = [s.raw(BOB, i) for i, _ in s.messages(BOB)]
        m = login(s, implicit=False)
        m.select("INBOX", readonly=True)
        typ, data = m.fetch("1:2", "(UID RFC822.SIZE FLAGS INTERNALDATE BODY.PEEK[])")
        assert typ == "OK"
        bodies = [d[1] for d in data if isinstance(d, tuple)]
        assert len(bodies) == 2
        for i, b in enumerate(bodies):
            assert b.endswith(sent[i]), (b[-200:], sent[i])
            assert b == stored[i]
            head = data[2 * i][0].decode()
            assert "RFC822.SIZE %d" % len(b) in head, head
            assert "FLAGS (\\Recent)" in head and re.search(r'INTERNALDATE "\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d \+0000"', head)
        # RFC822, HEADER, TEXT and HEADER.FIELDS
        typ, data = m.fetch("1", "(RFC822)")
        assert data[0][1] == stored[0]
        hdr_end = stored[0].index(b"\r\n\r\n") + 4
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER])")
        assert data[0][1] == stored[0][:hdr_end]
        typ, data = m.fetch("1", "(BODY[TEXT])")
        assert data[0][1] == stored[0][hdr_end:] == b"Line one.\r\n.leading dot\r\nLast line.\r\n"
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT from)])")
        assert data[0][1] == b"From: alice@remote.test\r\nSubject: msg 0\r\n\r\n", data
        # Every field but the ones delivery adds (trace, checks, the spam
        # filter's verdict) and the message's own four.
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS.NOT (Received Return-Path Authentication-Results "
                                 "X-Spam-Status X-Spam-Result Subject From To Message-ID Date)])")
        assert data[0][1] == b"\r\n", data
        # Partial fetch
        typ, data = m.fetch("2", "(BODY.PEEK[]<10.20>)")
        assert b"BODY[]<10>" in data[0][0] and data[0][1] == stored[1][10:30]
        typ, data = m.fetch("2", "(BODY.PEEK[TEXT]<5.1000>)")
        assert data[0][1] == stored[1][stored[1].index(b"\r\n\r\n") + 4 + 5:]
        typ, data = m.fetch("2", "(BODY.PEEK[]<100000.5>)")
        assert data[0][1] == b""
        # UID FETCH, UIDs that do not exist are no error
        typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
        assert typ == "OK" and len(data) == 2 and b"UID 1" in data[0] and b"UID 2" in data[1]
        typ, data = m.uid("FETCH", "5:9", "(FLAGS)")
        assert typ == "OK" and data == [None]
        # ENVELOPE comes from the structure cached at delivery; a sequence
        # number past the end is BAD
        typ, data = m.fetch("1", "(ENVELOPE)")
        assert typ == "OK" and b'"msg 0"' in data[0], data
        try:
            m.fetch("3", "(FLAGS)")
            raise AssertionError("expected BAD")
        except imaplib.IMAP4.error:
            pass
        m.logout()


def test_imap_fetch_big_streamed():
    with srv(env={"TERN_MAX_MESSAGE_SIZE": str(20 * 1024 * 1024)}) as s:
        line = "x" * 998 + "\r\n"
        body = line * 6000  # ~6 MB
        sent = deliver(s, 1, body=body)
        wait_count(s, 1)
        m = login(s)
        m.select("INBOX", readonly=True)
        typ, data = m.fetch("1", "(BODY.PEEK[])")
        assert data[0][1].endswith(sent[0])
        assert s.rss_kib() < 200 * 1024
        m.logout()


def test_imap_search():
    with srv() as s:
        deliver(s, 3)
        deliver(s, 1, body="y" * 5000 + "\r\n")
        wait_count(s, 4)
        m = login(s)
        m.select("INBOX", readonly=True)
        assert m.search(None, "ALL") == ("OK", [b"1 2 3 4"])
        assert m.search(None, "2:3") == ("OK", [b"2 3"])
        assert m.search(None, "LARGER", "3000") == ("OK", [b"4"])
        assert m.search(None, "NOT", "LARGER", "3000") == ("OK", [b"1 2 3"])
        assert m.search(None, "OR", "1", "4") == ("OK", [b"1 4"])
        assert m.search(None, "UNSEEN") == ("OK", [b"1 2 3 4"])
        assert m.search(None, "SEEN") == ("OK", [b""])
        today = time.strftime("%d-%b-%Y", time.gmtime())
        assert m.search(None, "SINCE", today) == ("OK", [b"1 2 3 4"])
        assert m.search(None, "BEFORE", today) == ("OK", [b""])
        assert m.search(None, "ON", today) == ("OK", [b"1 2 3 4"])
        assert m.search("UTF-8", "(UID 2:3 SMALLER 3000)") == ("OK", [b"2 3"])
        assert m.uid("SEARCH", "UID", "3:*") == ("OK", [b"3 4"])
        assert m.search(None, "SUBJECT", '"MSG 1"') == ("OK", [b"2"])
        # harness.message() dates every message 20-Nov-2026.
        assert m.search(None, "SENTON", "20-Nov-2026") == ("OK", [b"1 2 3 4"])
        assert m.search(None, "SENTBEFORE", "20-Nov-2026") == ("OK", [b""])
        m.logout()


def test_imap_idle_sees_delivery():
    with srv() as s:
        deliver(s, 1)
        wait_count(s, 1)
        r = Raw(s)
        r.login()
        r.send("s SELECT INBOX\r\n")
        r.until_tag("s")
        r.send("i IDLE\r\n")
        assert r.line() == b"+ idling"
        t0 = time.time()
        deliver(s, 1)
        r.sock.settimeout(5)
        assert r.line() == b"* 2 EXISTS"
        assert time.time() - t0 < 2.0
        r.send("DONE\r\n")
        # IMAP4rev1: the first session told of it has it \Recent (RFC 3501
        # §2.3.2): one recent message besides the one SELECT claimed.
        assert r.until_tag("i") == [b"* 2 RECENT", b"i OK Idle completed."]
        # Without IDLE a NOOP reports it.
        deliver(s, 1)
        wait_count(s, 3)
        time.sleep(0.2)
        r.send("n NOOP\r\n")
        assert r.until_tag("n") == [b"* 3 EXISTS", b"* 3 RECENT", b"n OK NOOP completed."]
        # STATUS of the selected mailbox counts the ones this session
        # claimed; another session sees none \Recent.
        r.send("t STATUS INBOX (RECENT)\r\n")
        assert r.until_tag("t") == [b"* STATUS INBOX (RECENT 3)", b"t OK Status completed."]
        o = Raw(s)
        o.login()
        o.send("t STATUS INBOX (RECENT)\r\n")
        assert o.until_tag("t") == [b"* STATUS INBOX (RECENT 0)", b"t OK Status completed."]
        o.close()
        r.close()


def test_imap_literals_and_pipelining():
    with srv() as s:
        deliver(s, 1)
        wait_count(s, 1)
        r = Raw(s)
        # Over the pre-login budget: refused at once, no "+".
        r.send("a LOGIN {100000}\r\n")
        line = r.line()
        assert line.startswith(b"a BAD [TOOBIG]"), line
        # A literal within budget gets "+" and works.
        r.send("b LOGIN {%d}\r\n" % len(BOB))
        assert r.line().startswith(b"+ ")
        r.send(BOB + " {%d}\r\n" % len(BOB_PW))
        assert r.line().startswith(b"+ ")
        r.send(BOB_PW + "\r\n")
        assert r.until_tag("b")[-1].startswith(b"b OK")
        # LITERAL+: no "+" and none awaited.
        r.send("c STATUS {5+}\r\nINBOX (MESSAGES)\r\n")
        assert r.until_tag("c")[-1] == b"c OK Status completed."
        # After login the budget is larger but still bounded.
        r.send("d STATUS {10000000}\r\n")
        assert r.line().startswith(b"d BAD [TOOBIG]")
        # A pipelined burst answers every command in order.
        burst = "".join("p%d NOOP\r\n" % i for i in range(50)) + "q SELECT INBOX\r\n" + \
            "".join("f%d FETCH 1:* UID\r\n" % i for i in range(20)) + "z LOGOUT\r\n"
        r.send(burst)
        tags = []
        while True:
            try:
                line = r.line()
            except EOFError:
                break
            if not line.startswith(b"*"):
                tags.append(line.split()[0].decode())
        assert tags == ["p%d" % i for i in range(50)] + ["q"] + ["f%d" % i for i in range(20)] + ["z"], tags
        # An over-long line is BAD and the session goes on.
        r = Raw(s)
        r.send("x " + "A" * 70000 + "\r\ny NOOP\r\n")
        assert r.until_tag("x")[-1].startswith(b"x BAD")
        assert r.until_tag("y")[-1] == b"y OK NOOP completed."
        r.close()


def test_imap_bad_command_limit():
    with srv() as s:
        r = Raw(s)
        for i in range(19):
            r.send("t%d BOGUS\r\n" % i)
            assert r.line().startswith(b"t%d BAD" % i)
        r.send("last BOGUS\r\n")
        assert r.line().startswith(b"last BAD")
        assert r.line() == b"* BYE Too many invalid IMAP commands."


def mbsync_conf(s, tmp, implicit, pull_only=False):
    """An mbsyncrc in tmp syncing bob's INBOX with the Maildir tmp/mail/
    over IMAPS (implicit) or STARTTLS: both ways with expunges, or only
    down (pull_only). Returns (path of the file, Maildir path)."""
    cert = os.path.join(s.data, "tls", "self-signed.crt")
    maildir = os.path.join(tmp, "mail") + "/"
    os.makedirs(maildir)
    conf = os.path.join(tmp, "mbsyncrc")
    sync = "Sync Pull\n" if pull_only else "Sync All\nExpunge Both\n"
    with open(conf, "w") as f:
        f.write("""IMAPAccount tern
Host localhost
Port %d
User %s
Pass %s
SSLType %s
CertificateFile %s

IMAPStore far
Account tern

MaildirStore near
Path %s
Inbox %sINBOX

Channel inbox
Far :far:
Near :near:
Patterns INBOX
%sCreate Near
SyncState *
""" % (s.imaps_port if implicit else s.imap_port, BOB, BOB_PW,
       "IMAPS" if implicit else "STARTTLS", cert, maildir, maildir, sync))
    return conf, maildir


def test_imap_mbsync_pull():
    if not shutil.which("mbsync"):
        return "skip"
    with srv(env={"TERN_HOSTNAME": "localhost"}) as s:
        sent = deliver(s, 5)
        wait_count(s, 5)
        stored = [s.raw(BOB, i) for i, _ in s.messages(BOB)]
        tmp = tempfile.mkdtemp(prefix="tern-mbsync-")
        try:
            conf, maildir = mbsync_conf(s, tmp, implicit=True, pull_only=True)
            r = subprocess.run(["mbsync", "-c", conf, "-a"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60, env={"HOME": tmp, "PATH": "/usr/bin:/bin"})
            assert r.returncode == 0, r.stdout.decode(errors="replace")
            got = []
            for sub in ("new", "cur"):
                d = os.path.join(maildir, "INBOX", sub)
                for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                    with open(os.path.join(d, n), "rb") as fh:
                        got.append(fh.read())
            assert len(got) == 5, r.stdout
            # mbsync stores with LF line ends in the Maildir; compare that way.
            # and adds its X-TUID header (it tracks messages by it).
            want = sorted(x.replace(b"\r\n", b"\n") for x in stored)
            got = sorted(re.sub(rb"(?m)^X-TUID: [^\n]*\n", b"", g, count=1) for g in got)
            assert got == want
            for m in sent:
                assert any(g.endswith(m.replace(b"\r\n", b"\n")) for g in got)
            # A second run has nothing left to do.
            r = subprocess.run(["mbsync", "-c", conf, "-a"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60, env={"HOME": tmp, "PATH": "/usr/bin:/bin"})
            assert r.returncode == 0, r.stdout.decode(errors="replace")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def test_imap_shutdown_and_starttls_injection():
    with srv() as s:
        # Plaintext pipelined behind STARTTLS is dropped, never run over TLS.
        r = Raw(s, implicit=False)
        r.send("a STARTTLS\r\nb LOGIN bob@example.test bob-pw-1\r\n")
        assert r.line() == b"a OK Begin TLS negotiation now."
        r.sock = ctx().wrap_socket(r.sock, server_hostname="mx.example.test")
        r.send("c CAPABILITY\r\n")
        out = r.until_tag("c")
        assert all(not l.startswith(b"b ") for l in out), out
        assert b"AUTH=PLAIN" in out[0]
        # An idling client is told BYE at shutdown and the server stops.
        r.login()
        r.send("s SELECT INBOX\r\ni IDLE\r\n")
        r.until_tag("s")
        assert r.line() == b"+ idling"
        # An APPEND whose message is half sent at the stop is read to its
        # end and stored, then BYE (before: BYE at once, in the literal).
        a = Raw(s)
        a.login()
        msg = b"Subject: appended at the stop\r\n\r\nbody\r\n"
        a.send(b"x APPEND INBOX {%d}\r\n" % len(msg))
        assert a.line() == b"+ Ready for literal data"
        a.send(msg[:10])
        s.proc.send_signal(signal.SIGTERM)
        assert r.line() == b"* BYE Server shutting down."
        a.send(msg[10:] + b"\r\n")
        out = a.until_tag("x")
        assert out[-1].startswith(b"x OK"), out
        assert a.line() == b"* BYE Server shutting down."
        assert s.stop() == 0
        assert any("appended at the stop" in m[1] for m in s.messages(BOB)), s.messages(BOB)
