"""POP3 and IMAP on the same mailbox: UIDLs are IMAP's UIDVALIDITY and UID,
a POP3 DELE committed at QUIT reaches an IMAP session as EXPUNGE, an
IMAP \\Deleted + EXPUNGE makes the message vanish from the next POP3
session, and a POP3 session whose message IMAP expunged gets -ERR for it."""
import poplib
import re
import socket
import ssl

import test_imap as imap_t
import test_pop3 as pop3_t
from harness import Server

ACCOUNTS = imap_t.ACCOUNTS


def test_pop3_imap_same_mailbox():
    with Server(accounts=ACCOUNTS, imap=True, pop3=True) as s:
        imap_t.deliver(s, 4)
        imap_t.wait_count(s, 4)
        m = imap_t.login(s)
        typ, data = m.select("INBOX")
        assert data == [b"4"]
        uv = int(m.response("UIDVALIDITY")[1][0])
        typ, data = m.fetch("1:4", "(UID)")
        uids = [int(re.search(rb"UID (\d+)", d).group(1)) for d in data]

        # UIDL is UIDVALIDITY and UID, as IMAP shows them.
        p = pop3_t.login(s, imap_t.BOB, imap_t.BOB_PW)
        resp, lines, _ = p.uidl()
        got = [l.decode().split()[1] for l in lines]
        assert len(got) == 4, lines
        # Dovecot's default form: %08Xu%08Xv (UID, then UIDVALIDITY, in hex).
        assert got == ["%08x%08x" % (u, uv) for u in uids], (got, uids, uv)
        # DELE 2 + QUIT: the IMAP session sees EXPUNGE at NOOP.
        p.dele(2)
        p.quit()
        typ, data = m.noop()
        assert m.response("EXPUNGE")[1] == [b"2"], data
        typ, data = m.fetch("1:3", "(UID)")
        assert [int(re.search(rb"UID (\d+)", d).group(1)) for d in data] == [uids[0], uids[2], uids[3]]

        # IMAP \Deleted + EXPUNGE: gone for the next POP3 session.
        m.store("1", "+FLAGS", "(\\Deleted)")
        typ, data = m.expunge()
        assert data == [b"1"], data
        p = pop3_t.login(s, imap_t.BOB, imap_t.BOB_PW)
        resp, lines, _ = p.uidl()
        left = [l.decode().split()[1] for l in lines]
        assert len(left) == 2 and left == got[2:], (left, got)
        p.quit()

        # A literal8 (RFC 3516) is stored as sent, bare LFs and all; POP3
        # sends each of its lines with CRLF (RFC 1939 §3), as Dovecot
        # does: it used to pass the LFs through, so a client waiting for
        # CRLF "." CRLF never saw the end of RETR or TOP.
        bare = b"From: a@remote.test\nSubject: bare\n\n.dot\nline\n"
        imap_append_raw(m, bare)
        r = pop3_t.Raw(s)
        r.cmd("USER " + imap_t.BOB)
        assert r.cmd("PASS " + imap_t.BOB_PW) == b"+OK Logged in."
        assert r.cmd("STAT").startswith(b"+OK 3 ")
        # Its size counts the CRs sent (Dovecot's virtual size): RETR's
        # octets, the stuffed dot aside (RFC 1939 §11, paraphrased: the
        # size counts the line ends as CRLF).
        sent = len(bare) + bare.count(b"\n")
        assert r.cmd("LIST 3") == b"+OK 3 %d" % sent
        assert r.cmd("RETR 3") == b"+OK %d octets" % sent
        body = r.multi()
        assert body == [b"From: a@remote.test", b"Subject: bare", b"", b"..dot", b"line"]
        assert sum(len(ln) + 2 for ln in body) - 1 == sent  # one stuffed dot
        assert r.cmd("TOP 3 0") == b"+OK"
        assert r.multi() == [b"From: a@remote.test", b"Subject: bare", b""]
        assert r.cmd("QUIT").startswith(b"+OK")
        m.logout()


def imap_append_raw(m, data):
    """APPEND data as a literal8 (RFC 3516): stored octet for octet."""
    tag = m._new_tag()
    m.send(tag + b" APPEND INBOX ~{%d}\r\n" % len(data))
    assert m.readline().startswith(b"+")
    m.send(data + b"\r\n")
    while True:
        ln = m.readline()
        if ln.startswith(tag):
            break
    assert ln.startswith(tag + b" OK"), ln


def test_sizes_count_the_line_end_added_at_the_end():
    """RFC 1939 §5 and §11: a scan listing gives the exact size of the
    message, counting every line end as the CRLF it is sent as (the
    stuffed dots aside). A message whose last line has no line end (IMAP
    APPEND takes one, and so does a bare CR at the very end) is sent with
    a CRLF added to end that line before the ".": LIST, STAT and RETR's
    "+OK n octets" said 2 octets fewer than RETR sent. Checked with and
    without the UTF8 command (without it a UTF-8 header is downgraded,
    which a header-only message without its CRLF goes through too)."""
    msgs = [
        b"From: a@remote.test\r\nSubject: no final line end\r\n\r\nfirst\r\n.last",
        b"From: a@remote.test\r\nSubject: header only, no line end",
        b"From: a@remote.test\r\nSubject: bare cr at the end\r\n\r\nline\r",
        "From: a@remote.test\r\nSubject: Grüße, no line end".encode(),
        "From: a@remote.test\r\nSubject: Grüße\r\n\r\nbody".encode(),
        b"From: a@remote.test\r\nSubject: complete\r\n\r\nbody\r\n",
    ]
    with Server(accounts=ACCOUNTS, imap=True, pop3=True) as s:
        m = imap_t.login(s)
        m.select("INBOX")
        for msg in msgs:
            imap_append_raw(m, msg)
        m.logout()
        for utf8 in (False, True):
            r = pop3_t.Raw(s)
            if utf8:
                assert r.cmd("UTF8").startswith(b"+OK")
            r.cmd("USER " + imap_t.BOB)
            assert r.cmd("PASS " + imap_t.BOB_PW) == b"+OK Logged in."
            total = 0
            for n in range(1, len(msgs) + 1):
                listed = int(r.cmd("LIST %d" % n).split()[2])
                assert r.cmd("RETR %d" % n) == b"+OK %d octets" % listed
                body = r.multi()
                # The octets of the message as sent: its lines and their
                # CRLFs, one stuffed dot per line that starts with one off.
                sent = sum(len(ln) + 2 - ln.startswith(b".") for ln in body)
                assert sent == listed, (utf8, n, sent, listed, body)
                total += listed
            assert r.cmd("STAT") == b"+OK %d %d" % (len(msgs), total)
            assert r.cmd("QUIT").startswith(b"+OK")


def test_huge_header_downgrade_is_bounded():
    """RFC 6856 §3: without UTF8 a UTF-8 header is sent downgraded, and
    that downgrade is built in memory. The header section was all of the
    message up to its empty line, however far: a message with 12 MB of
    UTF-8 fields (IMAP APPEND takes it; SMTP refuses such a header) had a
    34 MB downgrade built at login to size it, and again by RETR, which
    held it to the end. The header now ends where the MIME parser ends it, before the
    field that crosses rfc5322.h's 1 MiB; the fields after it go out as
    stored, and LIST still gives what RETR sends."""
    field = ("X-Note: " + "\u00e9t\u00e9 " * 20 + "\r\n").encode()
    head = field * (12_000_000 // len(field))
    msg = head + b"\r\nbody\r\n"
    with Server(accounts=ACCOUNTS, imap=True, pop3=True, env={"TERN_FTS": "off"}) as s:
        m = imap_t.login(s)
        m.select("INBOX")
        imap_append_raw(m, msg)
        m.logout()
        r = pop3_t.Raw(s)
        r.cmd("USER " + imap_t.BOB)
        assert r.cmd("PASS " + imap_t.BOB_PW) == b"+OK Logged in."
        listed = int(r.cmd("LIST 1").split()[2])
        # From here on the server has nothing else to do (the APPEND and
        # the login's sizing are behind us): what grows is the RETR's.
        before = s.rss_kib("RssAnon")
        assert r.cmd("RETR 1") == b"+OK %d octets" % listed
        first = r.line()
        assert first.startswith(b"X-Note: =?utf-8?q?=C3=A9t=C3=A9"), first[:80]
        # The body's head is out; what the session holds is measured now.
        grown = s.rss_kib("RssAnon") - before
        assert grown < 16 * 1024, grown
        body = [first] + r.multi()
        sent = sum(len(ln) + 2 - ln.startswith(b".") for ln in body)
        assert sent == listed, (sent, listed)
        assert body[-2:] == [b"", b"body"]
        # Fields past the first MiB as stored; the ones before, in ASCII.
        tail = b"\r\n".join(body[-4:]) + b"\r\n"
        assert tail == field + field + b"\r\nbody\r\n", tail[:200]
        downgraded = sum(1 for ln in body if ln.startswith(b"X-Note: =?utf-8?"))
        assert 0 < downgraded <= (1 << 20) // len(field), downgraded
        assert r.cmd("QUIT").startswith(b"+OK")


def test_pop3_retr_of_a_message_imap_expunged_meanwhile():
    """POP3 keeps the maildrop it read at login, and IMAP may expunge from
    it meanwhile: RETR and TOP of such a message get -ERR and the session
    goes on (it used to answer +OK and then drop the connection). A
    message IMAP moved elsewhere is still there to read, and its DELE at
    QUIT removes nothing from the mailbox it moved to."""
    with Server(accounts=ACCOUNTS, imap=True, pop3=True) as s:
        imap_t.deliver(s, 3)
        imap_t.wait_count(s, 3)
        p = pop3_t.login(s, imap_t.BOB, imap_t.BOB_PW)
        assert p.stat()[0] == 3
        m = imap_t.login(s)
        m.select("INBOX")
        m.store("1", "+FLAGS", "(\\Deleted)")
        assert m.expunge()[1] == [b"1"]
        typ, data = m.uid("MOVE", "1:*", "Archive")  # the other two
        assert typ == "OK", data

        for call in (lambda: p.retr(1), lambda: p.top(1, 0)):
            try:
                call()
                raise AssertionError("RETR/TOP of an expunged message answered +OK")
            except poplib.error_proto as e:
                why = e.args[0].decode() if isinstance(e.args[0], bytes) else e.args[0]
                assert why.startswith("-ERR Message 1 was removed"), why
        resp, lines, octets = p.retr(2)
        assert resp.startswith(b"+OK") and b"Subject: msg 1" in b"\r\n".join(lines)
        p.dele(2)
        assert p.quit().startswith(b"+OK")

        typ, data = m.status("Archive", "(MESSAGES)")
        assert b"MESSAGES 2" in data[0], data
        m.logout()


def tls_socket(port, rcvbuf=32 * 1024):
    """An implicit-TLS connection with a small receive buffer, so that a
    client which stops reading soon stops the server's sending too."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    raw.settimeout(30)
    raw.connect(("127.0.0.1", port))
    return imap_t.ctx().wrap_socket(raw)


class Reader:
    """Buffered reads from a socket: lines and counted octets."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _more(self):
        chunk = self.sock.recv(65536)
        assert chunk, "connection closed by the server"
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def octets(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def big_body(tag, lines=12000):
    """About 12 MB of numbered lines: a cut or a repeat shows."""
    return "".join("%s line %06d %s\r\n" % (tag, i, "y" * 980) for i in range(lines))


def test_streams_survive_an_expunge_midway():
    """A big message is sent in chunks, each read in its own transaction.
    When IMAP expunges it while an IMAP FETCH or a POP3 RETR is half way
    through, the stream still ends whole: it holds the bytes
    (store_hold.c). It used to cut the connection after the next chunk
    (event=message_unavailable). The bytes' sweep is the unit test's."""
    big = {"TERN_MAX_MESSAGE_SIZE": str(30 * 1024 * 1024)}
    with Server(accounts=ACCOUNTS, imap=True, pop3=True, env=big) as s:
        sent = imap_t.deliver(s, 1, body=big_body("fetch"), subject="fetched %d")
        sent += imap_t.deliver(s, 1, body=big_body("retr"), subject="retrieved %d")
        imap_t.wait_count(s, 2)
        m = imap_t.login(s)
        m.select("INBOX")

        # IMAP: read the FETCH's first 256 KiB, expunge, read the rest.
        f = tls_socket(s.imaps_port)
        r = Reader(f)
        assert r.line().startswith(b"* OK")
        f.sendall(b"a LOGIN %s %s\r\nb SELECT INBOX\r\nc UID FETCH 1 BODY.PEEK[]\r\n"
                  % (imap_t.BOB.encode(), imap_t.BOB_PW.encode()))
        while True:
            line = r.line()
            if line.startswith(b"* 1 FETCH"):
                break
            assert not line.startswith((b"a NO", b"b NO", b"c ", b"a BAD")), line
        size = int(re.search(rb"\{(\d+)\}$", line).group(1))
        assert size > len(sent[0]), (size, len(sent[0]))  # with Received: etc.
        head = r.octets(256 * 1024)
        m.store("1", "+FLAGS", "(\\Deleted)")
        assert m.expunge()[1] == [b"1"]
        typ, data = m.status("INBOX", "(MESSAGES)")
        assert b"MESSAGES 1" in data[0], data
        body = head + r.octets(size - len(head))
        assert body.endswith(sent[0]), "the FETCH literal differs from the message"
        assert r.line() == b")"
        tagged = r.line()
        assert tagged.startswith(b"c OK"), tagged
        f.close()

        # POP3: the same with RETR.
        p = tls_socket(s.pop3s_port)
        r = Reader(p)
        assert r.line().startswith(b"+OK")
        p.sendall(b"USER %s\r\nPASS %s\r\nRETR 1\r\n"
                  % (imap_t.BOB.encode(), imap_t.BOB_PW.encode()))
        assert r.line().startswith(b"+OK")
        assert r.line() == b"+OK Logged in."
        ok = r.line()
        size = int(re.fullmatch(rb"\+OK (\d+) octets", ok).group(1))
        assert size > len(sent[1]), ok
        head = r.octets(256 * 1024)
        m.store("1", "+FLAGS", "(\\Deleted)")
        assert m.expunge()[1] == [b"1"]
        rest = r.octets(size - len(head) + 3)  # no line starts with "."
        assert (head + rest).endswith(sent[1] + b".\r\n"), "the RETR answer differs"
        p.sendall(b"QUIT\r\n")
        assert r.line().startswith(b"+OK")
        p.close()
        m.logout()
        assert "message_unavailable" not in s.log_text()


def test_pop3_quit_after_the_account_was_deleted():
    """`tern account del` while a POP3 client is in: its QUIT with a
    message marked says the mailbox is gone ([SYS/PERM], not a temporary
    failure to try again), and the server logs no error for it."""
    with Server(accounts=ACCOUNTS, imap=True, pop3=True) as s:
        imap_t.deliver(s, 2)
        imap_t.wait_count(s, 2)
        p = pop3_t.login(s, imap_t.BOB, imap_t.BOB_PW)
        assert p.stat()[0] == 2
        s.cli("account", "del", imap_t.BOB)
        p.dele(1)
        try:
            p.quit()
            raise AssertionError("QUIT answered +OK for a deleted account")
        except poplib.error_proto as e:
            assert e.args[0].startswith(b"-ERR [SYS/PERM]"), e
        assert s.wait_log("event=expunge_skipped")  # the reply can beat the log line
        assert "level=error" not in s.log_text(), s.log_text()[-2000:]
