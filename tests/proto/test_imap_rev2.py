"""IMAP4rev2 (RFC 9051) and UTF8=ACCEPT (RFC 6855): ENABLE, UTF-8 mailbox
names in arguments and in LIST/STATUS/GETQUOTAROOT answers (modified
UTF-7 for the same mailbox in a session that did not enable them), no
RECENT or UNSEEN in SELECT under rev2, [CLOSED] when a SELECT closes the
previous mailbox, SEARCH answered with ESEARCH, HASCHILDREN."""
import re

from test_imap import Raw, deliver, srv, wait_count

NAME = "Caf\u00e9/\u00dcbersicht"


def cmd(r, tag, text):
    r.send((tag + " " + text + "\r\n").encode())
    return r.until_tag(tag)


def test_imap_rev2_names_select_search():
    with srv() as s:
        deliver(s, 3)
        wait_count(s, 3)
        r = Raw(s)
        assert b"IMAP4rev2" in r.greeting and b"UTF8=ACCEPT" in r.greeting
        r.login()
        out = cmd(r, "a", "ENABLE IMAP4rev2")
        assert out[0] == b"* ENABLED IMAP4rev2" and out[-1].startswith(b"a OK"), out
        out = cmd(r, "b", 'CREATE "%s"' % NAME)
        assert out[-1].startswith(b"b OK"), out
        out = cmd(r, "c", 'LIST "" "Caf\u00e9*"')
        names = [l for l in out if l.startswith(b"* LIST")]
        assert any(NAME.encode() in l for l in names), out
        assert not any(b"&" in l for l in names), out
        out = cmd(r, "d", 'STATUS "%s" (MESSAGES)' % NAME)
        assert out[0] == ('* STATUS "%s" (MESSAGES 0)' % NAME).encode(), out
        # APPEND into it, by its UTF-8 name.
        msg = "Subject: gr\u00fc\u00dfe\r\n\r\nhallo\r\n".encode()
        r.send(b'e APPEND "' + NAME.encode() + b'" UTF8 (~{%d+}\r\n%s)\r\n' % (len(msg), msg))
        assert r.until_tag("e")[-1].startswith(b"e OK [APPENDUID")
        # SELECT: no RECENT, no UNSEEN; a second SELECT says [CLOSED] first.
        out = cmd(r, "f", "SELECT INBOX")
        assert not [l for l in out if b"RECENT" in l or b"[UNSEEN" in l], out
        assert b"* 3 EXISTS" in out, out
        out = cmd(r, "g", 'SELECT "%s"' % NAME)
        assert out[0] == b"* OK [CLOSED] Previous mailbox closed.", out
        assert b"* 1 EXISTS" in out, out
        # SEARCH answers ESEARCH.
        out = cmd(r, "h", "SEARCH ALL")
        assert out[0].startswith(b'* ESEARCH (TAG "h")') and b"ALL 1" in out[0], out
        out = cmd(r, "i", "UID SEARCH ALL")
        assert re.match(rb'\* ESEARCH \(TAG "i"\) UID ALL 1', out[0]), out
        # DELETE of a parent with children: HASCHILDREN.
        cmd(r, "j", "UNSELECT")
        out = cmd(r, "k", 'DELETE "Caf\u00e9"')
        assert out[-1].startswith(b"k NO [HASCHILDREN]"), out
        out = cmd(r, "l", 'GETQUOTAROOT "%s"' % NAME)
        assert out[0].startswith(('* QUOTAROOT "%s"' % NAME).encode()), out

        # Another session without ENABLE sees modified UTF-7, RECENT, SEARCH.
        r2 = Raw(s)
        r2.login()
        out = cmd(r2, "a", 'LIST "" "Caf*"')
        assert any(b"Caf&AOk-/&ANw-bersicht" in l for l in out), out
        out = cmd(r2, "b", 'SELECT "Caf&AOk-/&ANw-bersicht"')
        # The first rev1 SELECT takes the message's \Recent (the rev2
        # session above did not); the next one below sees none.
        assert b"* 1 RECENT" in out and b"* 1 EXISTS" in out, out
        out = cmd(r2, "c", "SEARCH ALL")
        assert out[0] == b"* SEARCH 1", out
        # Its UTF-8 Subject in RFC 2047 words (RFC 6855: no UTF-8 header
        # field to a client that did not enable it), literals sized so.
        out = cmd(r2, "d", "FETCH 1 (ENVELOPE BODY.PEEK[HEADER] BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        got = b"\r\n".join(out)
        assert max(got) < 0x80, out
        assert b'ENVELOPE (NIL "=?utf-8?q?gr=C3=BC=C3=9Fe?=" NIL' in got, out
        assert got.count(b"Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n") == 2, out
        literals = re.findall(rb"\{(\d+)\}\r\n(.*?)\r\n\r\n", got, re.S)
        assert len(literals) == 2, out
        for size, rest in literals:
            assert int(size) == len(rest) + 4, (size, rest)
        r2.close()

        # UTF8=ACCEPT alone: UTF-8 names, rev1 otherwise.
        r3 = Raw(s)
        r3.login()
        out = cmd(r3, "a", "ENABLE UTF8=ACCEPT")
        assert out[0] == b"* ENABLED UTF8=ACCEPT", out
        out = cmd(r3, "b", 'SELECT "%s"' % NAME)
        assert b"* 0 RECENT" in out and b"* 1 EXISTS" in out, out
        out = cmd(r3, "c", "FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert "gr\u00fc\u00dfe".encode() in b"".join(out) or "gr\u00fc\u00dfe".encode() in r3.buf, out
        r3.close()
        r.close()
