"""POP3 RETR, TOP, LIST and UIDL against messages built here at random.

Forty messages (seeded) with lines that start with dots, empty lines,
long lines, 8-bit text, a body that ends without its line end, and
headers folded over several lines are APPENDed over IMAP (so they are
stored exactly as written). POP3 must give each back exactly: RETR the
message octet for octet once the dot-stuffing is undone (with a line end
added where its last line had none), LIST its stored size,
TOP n the header, the blank line and the first n lines of the body (RFC
1939 §7), STAT the count and total, and UIDL ids that stay the same in
the next session and are unique.
"""
import poplib
import random
import re

from test_imap import BOB, BOB_PW, ctx, login, srv


def rand_message(rnd, n):
    head = ["From: a@b.test", "Subject: pop model %d" % n]
    if rnd.random() < 0.5:
        head.append("X-Folded: one\r\n two\r\n\tthree")
    body = []
    for _ in range(rnd.randint(0, 15)):
        body.append(rnd.choice([".", "..", ".dot start", "", "x" * rnd.randint(100, 990),
                                "caf\u00e9 line", "plain %d" % rnd.randint(0, 999)]))
    text = "\r\n".join(head) + "\r\n\r\n" + "\r\n".join(body)
    if body and rnd.random() < 0.8:
        text += "\r\n"
    return text.encode()


def top_of(msg, n):
    """RFC 1939 TOP: the header, the blank line, then n body lines."""
    head, _, body = msg.partition(b"\r\n\r\n")
    lines = body.split(b"\r\n") if body else []
    if body.endswith(b"\r\n"):
        lines = lines[:-1]
    return head + b"\r\n\r\n" + b"".join(l + b"\r\n" for l in lines[:n])


def test_pop3_gives_back_what_was_stored():
    rnd = random.Random(23)
    msgs = [rand_message(rnd, n) for n in range(40)]
    with srv(pop3=True) as s:
        m = login(s)
        for x in msgs:
            assert m.append("INBOX", None, None, x)[0] == "OK"
        m.logout()
        # A message whose last line has no line end gets one before the
        # terminating "." (as Dovecot does), and sizes count what is sent
        # (RFC 1939 §11), that CRLF too (Dovecot leaves it out).
        stored = [x if x.endswith(b"\r\n") else x + b"\r\n" for x in msgs]

        ids = None
        for _ in range(2):
            p = poplib.POP3_SSL("127.0.0.1", s.pop3s_port, context=ctx(), timeout=30)
            p.user(BOB)
            p.pass_(BOB_PW)
            count, total = p.stat()
            assert count == 40 and total == sum(len(x) for x in stored), (count, total)
            sizes = [int(x.split()[1]) for x in p.list()[1]]
            assert sizes == [len(x) for x in stored]
            uidl = [x.split()[1] for x in p.uidl()[1]]
            assert len(set(uidl)) == 40 and (ids is None or uidl == ids), uidl
            ids = uidl
            for i, x in enumerate(stored, 1):
                lines = p.retr(i)[1]
                got = b"".join(l + b"\r\n" for l in lines)  # poplib undid the stuffing
                assert got == x, "RETR %d:\n got  %r\n want %r" % (i, got[:300], x[:300])
                for n in (0, 1, rnd.randint(2, 20)):
                    lines = p.top(i, n)[1]
                    got = b"".join(l + b"\r\n" for l in lines)
                    assert got == top_of(x, n), "TOP %d %d:\n got  %r\n want %r" % (
                        i, n, got[:300], top_of(x, n)[:300])
            p.quit()
        assert all(re.fullmatch(rb"[0-9a-f]{16}", u) for u in ids)
