"""POP3 and IMAP on the same mailbox: UIDLs are IMAP's UIDVALIDITY and UID,
a POP3 DELE committed at QUIT reaches an IMAP session as EXPUNGE, an
IMAP \\Deleted + EXPUNGE makes the message vanish from the next POP3
session, and a POP3 session whose message IMAP expunged gets -ERR for it."""
import poplib
import re

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
        m.logout()


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
