"""IMAP QUOTA (RFC 9208, STORAGE): GETQUOTAROOT and GETQUOTA follow what
APPEND and expunge do to the account's usage, SETQUOTA is refused, an
account without a limit has no quota root, and APPEND past the limit is
refused with [OVERQUOTA] without storing anything, and so is a COPY (a
copy is a message of its own and counts). STATUS
DELETED-STORAGE tells what an EXPUNGE would free."""
from harness import Server
from test_imap import BOB, BOB_PW, CAROL, CAROL_PW, login


def test_imap_quota_roots_and_usage():
    with Server(accounts=[(CAROL, CAROL_PW)], imap=True, start=False) as s:
        s.cli("account", "add", BOB, "--quota", "10240", input=BOB_PW + "\n")
        s.start()
        m = login(s)
        typ, data = m.getquotaroot("INBOX")
        assert typ == "OK", data
        assert data[0] == [b'INBOX "User quota"'] and data[1] == [b'"User quota" (STORAGE 0 10)'], data
        msg = b"Subject: q\r\n\r\n" + b"x" * 3000 + b"\r\n"
        assert m.append("INBOX", None, None, msg)[0] == "OK"
        typ, data = m.getquota('"User quota"')
        kib = (len(msg) + 1023) // 1024
        assert typ == "OK" and data == [b'"User quota" (STORAGE %d 10)' % kib], data
        typ, data = m.getquota("nosuch")
        assert typ == "NO", data
        typ, data = m.setquota('"User quota"', "(STORAGE 99999)")
        assert typ == "NO" and b"NOPERM" in data[0], data
        # Over the limit: refused, usage unchanged.
        big = b"Subject: big\r\n\r\n" + b"y" * 8000 + b"\r\n"
        typ, data = m.append("INBOX", None, None, big)
        assert typ == "NO" and b"OVERQUOTA" in data[0], data
        typ, data = m.getquota('"User quota"')
        assert data == [b'"User quota" (STORAGE %d 10)' % kib], data
        # STATUS DELETED-STORAGE (RFC 9208, due with QUOTA=RES-STORAGE):
        # what an EXPUNGE would free, in the same KiB; nothing yet.
        typ, data = m.status("INBOX", "(DELETED DELETED-STORAGE)")
        assert typ == "OK" and data[0].endswith(b"(DELETED 0 DELETED-STORAGE 0)"), data
        # Expunge frees it.
        m.select("INBOX")
        m.store("1", "+FLAGS.SILENT", "(\\Deleted)")
        typ, data = m.status("INBOX", "(DELETED-STORAGE DELETED)")
        assert typ == "OK" and data[0].endswith(b"(DELETED-STORAGE %d DELETED 1)" % kib), data
        m.expunge()
        typ, data = m.status("INBOX", "(DELETED-STORAGE)")
        assert typ == "OK" and data[0].endswith(b"(DELETED-STORAGE 0)"), data
        assert m.getquota('"User quota"')[1] == [b'"User quota" (STORAGE 0 10)']
        # A COPY is a message of its own on the same stored bytes and
        # counts as one (as Dovecot counts it), so each \\Deleted copy
        # frees its size (RFC 9208: the storage an EXPUNGE would reclaim);
        # a COPY past the limit is refused whole with [OVERQUOTA].
        m.create("Keep")
        assert m.append("INBOX", None, None, msg)[0] == "OK"
        assert m.copy("1", "Keep")[0] == "OK" and m.copy("1", "INBOX")[0] == "OK"
        three = (3 * len(msg) + 1023) // 1024
        assert m.getquota('"User quota"')[1] == [b'"User quota" (STORAGE %d 10)' % three]
        typ, data = m.copy("1:2", "Keep")
        assert typ == "NO" and b"[OVERQUOTA]" in data[0], data
        assert m.status("Keep", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 1)")
        m.store("1", "+FLAGS.SILENT", "(\\Deleted)")
        typ, data = m.status("INBOX", "(DELETED DELETED-STORAGE)")
        assert typ == "OK" and data[0].endswith(b"(DELETED 1 DELETED-STORAGE %d)" % kib), data
        m.store("2", "+FLAGS.SILENT", "(\\Deleted)")
        two = (2 * len(msg) + 1023) // 1024
        typ, data = m.status("INBOX", "(DELETED DELETED-STORAGE)")
        assert typ == "OK" and data[0].endswith(b"(DELETED 2 DELETED-STORAGE %d)" % two), data
        m.expunge()
        assert m.getquota('"User quota"')[1] == [b'"User quota" (STORAGE %d 10)' % kib]
        m.select("Keep")
        m.store("1", "+FLAGS.SILENT", "(\\Deleted)")
        m.expunge()
        assert m.getquota('"User quota"')[1] == [b'"User quota" (STORAGE 0 10)']
        m.logout()
        # No limit: no root.
        c = login(s, user=CAROL, pw=CAROL_PW)
        typ, data = c.getquotaroot("INBOX")
        assert typ == "OK" and data[0] == [b"INBOX"] and data[1] == [None], data
        c.logout()


def test_imap_quota_limit_not_whole_kib():
    """A limit that is no whole number of KiB is rounded up as usage is
    (as Dovecot rounds both), so the STORAGE usage of what APPEND took
    never shows above the STORAGE limit, and a limit under 1024 octets is
    no limit of 0 (RFC 9208 §5.1: both in units of 1024 octets, of one
    resource whose usage the server keeps within its limit)."""
    with Server(accounts=[(CAROL, CAROL_PW)], imap=True, start=False) as s:
        s.cli("account", "add", BOB, "--quota", "10000", input=BOB_PW + "\n")
        s.cli("account", "add", "dave@example.test", "--quota", "500", input="dave-pw-1\n")
        s.start()
        m = login(s)
        msg = b"Subject: q\r\n\r\n" + b"x" * 9500 + b"\r\n"
        assert len(msg) <= 10000 and m.append("INBOX", None, None, msg)[0] == "OK"
        typ, data = m.getquota('"User quota"')
        assert typ == "OK" and data == [b'"User quota" (STORAGE 10 10)'], data
        m.logout()
        d = login(s, user="dave@example.test", pw="dave-pw-1")
        typ, data = d.getquotaroot("INBOX")
        assert typ == "OK" and data[1] == [b'"User quota" (STORAGE 0 1)'], data
        d.logout()
