"""IMAP SEARCH on text over more messages than one read batch (1024), and
SUBJECT answered from the envelope cached at delivery (SUBJECT alone)
agreeing with the header read from the message (SUBJECT with another
header key): encoded-words, folding, a missing Subject, flags deciding
first."""
import smtplib

from test_imap import BOB, login, srv, wait_count

N = 1100


def search(m, *keys):
    typ, data = m.search(None, *keys)
    assert typ == "OK", data
    return [int(x) for x in data[0].split()]


def test_imap_search_batches_and_cached_subject():
    with srv() as s:
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=60) as c:
            for i in range(N):
                c.sendmail("alice@remote.test", [BOB],
                           "From: alice@remote.test\r\nTo: %s\r\nSubject: item %d\r\n\r\n"
                           "body %d\r\n" % (BOB, i, i))
            special = [
                "Subject: =?UTF-8?B?aGVsbG8gd29ybGQ=?=\r\n",  # "hello world"
                "Subject: part one\r\n part two\r\n",
                "X-No-Subject: here\r\n",
            ]
            for h in special:
                c.sendmail("alice@remote.test", [BOB],
                           "From: alice@remote.test\r\nTo: %s\r\n%s\r\nspecial\r\n" % (BOB, h))
        wait_count(s, N + 3, timeout=60)
        m = login(s)
        m.select("INBOX")
        # Exact hits, in every batch.
        assert search(m, "SUBJECT", '"item 1050"') == [1051]
        assert search(m, "SUBJECT", '"item 3"') == [4] + list(range(31, 41)) + list(range(301, 401))
        assert search(m, "BODY", '"body 1099"') == [1100]
        # SUBJECT from the envelope == SUBJECT beside a header key (the
        # message read).
        for needle in ('"item 7"', '"O WOR"', '"one part two"', '"item"', '""'):
            a = search(m, "SUBJECT", needle)
            b = search(m, "SUBJECT", needle, "FROM", "alice")
            assert a == b, (needle, a, b)
        assert search(m, "SUBJECT", '"one part two"') == [N + 2]
        assert search(m, "SUBJECT", '"O WOR"') == [N + 1]
        # The empty needle: messages that have a Subject at all.
        assert search(m, "SUBJECT", '""') == list(range(1, N + 3))
        assert search(m, "NOT", "SUBJECT", '""') == [N + 3]
        # Flags decide first; the rest is read.
        m.store("1:10", "+FLAGS", "(\\Seen)")
        assert search(m, "UNSEEN", "SUBJECT", '"item 1"') == \
            list(range(11, 21)) + list(range(101, 201)) + list(range(1001, 1101))
        assert search(m, "SEEN", "SUBJECT", '"item 1"') == [2]
        m.logout()
