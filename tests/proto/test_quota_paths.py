"""Quotas on the paths that store mail, with small quotas on one shared
server: each test adds accounts of its own (`tern account add --quota`
while the server runs) and checks the reply, that nothing was stored
half, and the usage afterwards (GETQUOTA and `tern account list`).

- SMTP RCPT with the size MAIL declared (RFC 1870 §6.1): a message larger
  than the whole quota is 552 5.2.2, one larger than the room left
  452 4.2.2 (RFC 3463 X.2.2), before any data is sent.
- A recipient whose account may not take the message, in a transaction
  with another account, is put off with 452 4.5.3 (DESIGN.md §3b): each
  gets its own reply after DATA, and the full one is not filled past its
  quota because another account could take the message. Likewise beside
  an address that forwards (a forwarding delivery skips the quota check).
- A Sieve script's `fileinto :copy` copies are each charged: a delivery
  whose copies together pass the quota is refused, nothing stored.
- IMAP REPLACE (RFC 8508) is charged what it adds once the old message
  is gone: a draft saved again at its size fits an account at its quota.
- The queue's local deliveries (submission's local copies, notices to a
  local sender) check the quota too: a message that does not fit now
  waits in the queue (4.2.2, retried: TERN_QUEUE_RETRY_SCHEDULE=1 here)
  until the owner makes room, one larger than the whole quota bounces to
  the sender with 5.2.2, and a notice to a full local sender waits."""
import atexit
import imaplib
import smtplib
import socket
import time

from harness import Raw, Server, message
from test_imap import ctx

_server = []


def server():
    """The module's server: SMTP and IMAP, started once."""
    if not _server:
        s = Server(imap=True, submission=True, env={"TERN_QUEUE_RETRY_SCHEDULE": "1"})
        atexit.register(s.cleanup)
        _server.append(s)
    return _server[0]


def add(s, user, quota=None):
    args = ["account", "add", user] + (["--quota", str(quota)] if quota else [])
    s.cli(*args, input="pw-%s-1\n" % user.split("@")[0])
    return user, "pw-%s-1" % user.split("@")[0]


def imap(s, who):
    m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx(), timeout=10)
    typ, data = m.login(*who)
    assert typ == "OK", data
    return m


def usage(s, user):
    """(emails, used) from `tern account list`."""
    for line in s.cli("account", "list").stdout.decode().splitlines():
        f = line.split()
        if f and f[0] == user:
            kv = dict(x.split("=", 1) for x in f[1:])
            return int(kv["emails"]), int(kv["used"])
    raise AssertionError("no account %s" % user)


def body(n, subject="q"):
    return b"Subject: %s\r\n\r\n" % subject.encode() + b"x" * n + b"\r\n"


def smtp(s):
    r = Raw(s.smtp_port)
    assert r.cmd("EHLO client.test")[0] == 250
    return r


def refused_at_rcpt(r, rcpts, reply, mail="MAIL FROM:<a@remote.test>"):
    """MAIL, then rcpts: all taken but the last, answered reply (its
    code and enhanced code); then RSET."""
    assert r.cmd(mail)[0] == 250
    for a in rcpts[:-1]:
        assert r.cmd("RCPT TO:<%s>" % a)[0] == 250
    code, lines = r.cmd("RCPT TO:<%s>" % rcpts[-1])
    assert lines[0].startswith(reply), lines
    assert r.cmd("RSET")[0] == 250


def transaction(r, rcpt, msg, mail="MAIL FROM:<a@remote.test>"):
    """One message to rcpt, accepted at RCPT: the reply after DATA."""
    assert r.cmd(mail)[0] == 250
    assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(msg + b".\r\n")
    return r.reply()


def test_rcpt_checks_the_declared_size_against_the_quota():
    s = server()
    dan = add(s, "dan@example.test", 10000)
    m = imap(s, dan)
    assert m.append("INBOX", None, None, body(6000))[0] == "OK"
    m.logout()
    used = usage(s, dan[0])
    r = smtp(s)
    # Larger than the whole quota: no retry can help.
    refused_at_rcpt(r, [dan[0]], "552 5.2.2", "MAIL FROM:<a@remote.test> SIZE=20000")
    # Larger than the room left: try again later.
    refused_at_rcpt(r, [dan[0]], "452 4.2.2", "MAIL FROM:<a@remote.test> SIZE=5000")
    # It fits: taken, and stored.
    msg = message(subject="fits", body="y" * 1000 + "\r\n", to=dan[0]).encode()
    assert transaction(r, dan[0], msg, "MAIL FROM:<a@remote.test> SIZE=%d" % len(msg))[0] == 250
    r.cmd("QUIT")
    r.close()
    emails, now = usage(s, dan[0])
    assert emails == used[0] + 1 and used[1] < now <= 10000, (used, emails, now)


def test_full_recipient_gets_a_transaction_of_its_own():
    s = server()
    eve = add(s, "eve@example.test", 10000)
    fay = add(s, "fay@example.test")
    m = imap(s, eve)
    assert m.append("INBOX", None, None, body(8000))[0] == "OK"
    m.logout()
    before = usage(s, eve[0])
    msg = message(subject="both", body="z" * 3000 + "\r\n", to=fay[0]).encode()
    r = smtp(s)
    assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<%s>" % eve[0])[0] == 250
    code, lines = r.cmd("RCPT TO:<%s>" % fay[0])
    assert code == 452 and lines[0].startswith("452 4.5.3"), lines
    assert r.cmd("DATA")[0] == 354
    r.send(msg + b".\r\n")
    code, lines = r.reply()
    assert code == 452 and lines[0].startswith("452 4.2.2"), lines
    # The one put off, in its own transaction.
    assert transaction(r, fay[0], msg)[0] == 250
    r.cmd("QUIT")
    r.close()
    assert usage(s, eve[0]) == before
    assert usage(s, fay[0])[0] == 1



class RawImap:
    """IMAPS with literals sent as LITERAL+ (REPLACE, which imaplib lacks)."""

    def __init__(self, s, who):
        self.sock = ctx().wrap_socket(socket.create_connection(("127.0.0.1", s.imaps_port), timeout=10))
        self.f = self.sock.makefile("rb")
        self.n = 0
        self.f.readline()
        assert self.cmd(b'LOGIN "%s" "%s"' % (who[0].encode(), who[1].encode()))[-1].split()[1] == b"OK"

    def cmd(self, text):
        self.n += 1
        tag = b"t%d" % self.n
        self.sock.sendall(tag + b" " + text + b"\r\n")
        out = []
        while True:
            line = self.f.readline()
            assert line, out
            out.append(line.rstrip(b"\r\n"))
            if line.startswith(tag + b" "):
                return out

    def close(self):
        self.cmd(b"LOGOUT")
        self.sock.close()


def literal(data):
    return b"{%d+}\r\n" % len(data) + data


def test_replace_at_the_quota_counts_what_it_frees():
    """RFC 8508: REPLACE is an APPEND and an EXPUNGE in one; a draft saved
    again at the same size when the account is at its quota goes in, as
    the usage after it is the same. A replacement that would end past
    the quota is still refused, and nothing changes."""
    s = server()
    gus = add(s, "gus@example.test", 10000)
    m = imap(s, gus)
    assert m.create("Notes")[0] == "OK"
    assert m.append("INBOX", None, None, body(3000, "keep"))[0] == "OK"
    assert m.append("Notes", None, None, body(6000, "draft1"))[0] == "OK"
    m.logout()
    r = RawImap(s, gus)
    assert r.cmd(b"SELECT Notes")[-1].split()[1] == b"OK"
    before = usage(s, gus[0])
    # Past the quota even after the old one goes: refused, nothing changes.
    out = r.cmd(b"REPLACE 1 Notes " + literal(body(7500, "draft2")))
    assert out[-1].startswith(b"t3 NO [OVERQUOTA]"), out
    assert usage(s, gus[0]) == before
    # The same size again: the usage after it is the same, so it goes in.
    out = r.cmd(b"REPLACE 1 Notes " + literal(body(6000, "draft3")))
    assert out[-1].startswith(b"t4 OK"), out
    assert usage(s, gus[0]) == before
    out = r.cmd(b"FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert out[-1].startswith(b"t5 OK") and b"draft3" in b"".join(out) and b"draft1" not in b"".join(out), out
    r.close()


def test_sieve_copies_count_against_the_quota():
    """Each `fileinto :copy` into another mailbox is an email of its own
    and is charged as one: a delivery whose copies together pass the
    quota is refused (452 4.2.2), nothing stored, even though one copy
    alone would fit."""
    s = server()
    hal = add(s, "hal@example.test", 10000)
    m = imap(s, hal)
    assert m.create("A")[0] == "OK" and m.create("B")[0] == "OK"
    assert m.append("INBOX", None, None, body(3000, "old"))[0] == "OK"
    m.logout()
    s.cli("sieve", "put", hal[0], "s", input='require ["fileinto", "copy"];\r\n'
          'fileinto :copy "A";\r\nfileinto :copy "B";\r\n')
    s.cli("sieve", "activate", hal[0], "s")
    before = usage(s, hal[0])
    msg = message(subject="thrice", body="w" * 2500 + "\r\n", to=hal[0]).encode()
    r = smtp(s)
    code, lines = transaction(r, hal[0], msg)
    assert code == 452 and lines[0].startswith("452 4.2.2"), (lines, usage(s, hal[0]))
    r.cmd("QUIT")
    r.close()
    assert usage(s, hal[0]) == before


def test_full_recipient_does_not_share_a_transaction_with_a_forward():
    """A forward takes any message, so a transaction that forwards stores
    its local copies without the quota check; an account that may not
    have room therefore waits for a transaction of its own (452 4.5.3)
    rather than be filled past its quota beside a forwarding address."""
    s = server()
    ivy = add(s, "ivy@example.test", 10000)
    s.cli("alias", "add", "away@example.test", "someone@remote.test")
    m = imap(s, ivy)
    assert m.append("INBOX", None, None, body(8000))[0] == "OK"
    m.logout()
    before = usage(s, ivy[0])
    r = smtp(s)
    refused_at_rcpt(r, [ivy[0], "away@example.test"], "452 4.5.3")
    # The other order: the forward first, then the account.
    refused_at_rcpt(r, ["away@example.test", ivy[0]], "452 4.5.3")
    msg = message(subject="alone", body="v" * 3000 + "\r\n", to=ivy[0]).encode()
    code, lines = transaction(r, ivy[0], msg)
    assert code == 452 and lines[0].startswith("452 4.2.2"), lines
    r.cmd("QUIT")
    r.close()
    assert usage(s, ivy[0]) == before


def submit(s, who, to, msg, rcpt_options=()):
    """who (address, password) sends msg to the list to on submission."""
    c = smtplib.SMTP("127.0.0.1", s.submission_port, timeout=20)
    c.starttls(context=ctx())
    c.ehlo()
    c.login(*who)
    c.sendmail(who[0], to, msg, rcpt_options=list(rcpt_options))
    c.quit()


def queue_of(s, addr):
    """The `tern queue list` lines of the recipient addr."""
    out = s.cli("queue", "list").stdout.decode()
    return [ln.strip() for ln in out.splitlines() if ln.strip().startswith("<%s>" % addr)]


def wait_for(what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = what()
        if v:
            return v
        time.sleep(0.2)
    return what()


def subjects(s, user):
    return [line for _, line in s.messages(user)]


def expunge_all(s, who):
    m = imap(s, who)
    assert m.select("INBOX")[0] == "OK"
    assert m.store("1:*", "+FLAGS", "(\\Deleted)")[0] == "OK"
    assert m.expunge()[0] == "OK"
    m.logout()


def filled(s, who, n, subject):
    """APPENDs a message of about n octets to who's INBOX; the usage then."""
    m = imap(s, who)
    assert m.append("INBOX", None, None, body(n, subject))[0] == "OK"
    m.logout()
    return usage(s, who[0])


def held_back(s, user, before):
    """Waits until the queue lists user's delivery put off with 4.2.2;
    after more tries (every second), still nothing stored for user."""
    assert wait_for(lambda: [x for x in queue_of(s, user) if "4.2.2" in x]), \
        (queue_of(s, user), subjects(s, user))
    time.sleep(2)
    assert usage(s, user) == before, subjects(s, user)
    assert [x for x in queue_of(s, user) if "pending" in x], queue_of(s, user)


def test_submission_to_a_full_mailbox_waits_in_the_queue_for_room():
    """A submitted message that does not fit the local recipient's room is
    not stored past the quota: it waits in the queue (4.2.2, tried again
    on the retry schedule) and is delivered once the owner made room. The
    "delivered" notice NOTIFY=SUCCESS asks for comes then, once, not at
    submission for a copy not yet stored."""
    s = server()
    sam = add(s, "sam@example.test")
    joy = add(s, "joy@example.test", 8000)
    roy = add(s, "roy@example.test")
    before = filled(s, joy, 5000, "old")
    msg = message(subject="waits", body="w" * 4000 + "\r\n", sender=sam[0], to=joy[0])
    submit(s, sam, [joy[0], roy[0]], msg.encode(), rcpt_options=["NOTIFY=SUCCESS,FAILURE"])
    held_back(s, joy[0], before)
    assert any("waits" in x for x in subjects(s, roy[0])), subjects(s, roy[0])
    # Told "delivered" for roy alone so far.
    first = wait_for(lambda: notice_of(s, sam[0], "2.0.0"))
    assert first and b"Final-Recipient: rfc822; roy@example.test" in first, first
    assert b"Final-Recipient: rfc822; joy@example.test" not in first, first
    expunge_all(s, joy)
    assert wait_for(lambda: any("waits" in x for x in subjects(s, joy[0]))), \
        (subjects(s, joy[0]), queue_of(s, joy[0]))
    assert wait_for(lambda: not queue_of(s, joy[0])), queue_of(s, joy[0])
    assert usage(s, joy[0])[1] <= 8000
    # Delivered, not bounced: a second notice, "delivered" for joy.
    assert wait_for(lambda: len(s.messages(sam[0])) == 2), subjects(s, sam[0])
    raws = [s.cli("fetch", sam[0], "--id", str(mid)).stdout for mid, _ in s.messages(sam[0])]
    second = [r for r in raws if b"Final-Recipient: rfc822; joy@example.test" in r]
    assert len(second) == 1 and b"Action: delivered" in second[0], raws
    time.sleep(1)
    assert len(s.messages(sam[0])) == 2, subjects(s, sam[0])


def notice_of(s, user, status):
    """The text of the delivery status notice in user's INBOX that has
    Status: status, or None."""
    for mid, _ in s.messages(user):
        raw = s.cli("fetch", user, "--id", str(mid)).stdout
        if b"Status: " + status.encode() in raw:
            return raw
    return None


def test_submission_larger_than_the_whole_quota_bounces_with_5_2_2():
    """A submitted message larger than the local recipient's whole quota
    can never fit: it is not stored, and the sender gets a failure notice
    with 5.2.2 at once (as a remote's 552), none waits in the queue."""
    s = server()
    tom = add(s, "tom@example.test")
    kim = add(s, "kim@example.test", 3000)
    msg = message(subject="huge", body="h" * 6000 + "\r\n", sender=tom[0], to=kim[0])
    submit(s, tom, [kim[0]], msg.encode())
    raw = wait_for(lambda: notice_of(s, tom[0], "5.2.2"))
    assert raw and b"Final-Recipient: rfc822; kim@example.test" in raw, raw
    assert b"Action: failed" in raw, raw
    assert usage(s, kim[0]) == (0, 0), subjects(s, kim[0])
    assert wait_for(lambda: not queue_of(s, kim[0])), queue_of(s, kim[0])


def test_notice_to_a_full_local_sender_waits_in_the_queue():
    """A failure notice to a local sender whose mailbox has no room for it
    is not stored past the quota: it waits in the queue (from the null
    sender, so never a notice about it) and arrives once there is room."""
    s = server()
    una = add(s, "una@example.test", 6000)
    lee = add(s, "lee@example.test", 2000)
    before = filled(s, una, 5500, "filler")
    msg = message(subject="too big for lee", body="b" * 3000 + "\r\n", sender=una[0], to=lee[0])
    submit(s, una, [lee[0]], msg.encode())
    # The notice (5.2.2 for lee) waits for una's room.
    held_back(s, una[0], before)
    assert usage(s, lee[0]) == (0, 0)
    out = s.cli("queue", "list").stdout.decode()
    assert "from <>" in out, out
    expunge_all(s, una)
    raw = wait_for(lambda: notice_of(s, una[0], "5.2.2"))
    assert raw and b"Final-Recipient: rfc822; lee@example.test" in raw, raw
    assert wait_for(lambda: not queue_of(s, una[0])), queue_of(s, una[0])
