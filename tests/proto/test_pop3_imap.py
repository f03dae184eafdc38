"""POP3 and IMAP on the same mailbox: UIDLs are IMAP's UIDVALIDITY and UID,
a POP3 DELE committed at QUIT reaches an IMAP session as EXPUNGE, and an
IMAP \\Deleted + EXPUNGE makes the message vanish from the next POP3
session."""
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
