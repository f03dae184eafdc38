"""The outbound queue under mixed answers, checked recipient by recipient.

Forty messages go out through submission from two concurrent clients,
each to a random few of twelve remote recipients on three domains (three
MX hosts on loopback) and sometimes to a local one. The remote hosts
answer some recipients 250 at once, some 450 the first time and 250
after, some 550 always, and now and then a whole transaction 451 after
its DATA. The queue must end empty, and for every message and remote
recipient exactly one of two things must have happened: the recipient
got it once (never twice: a retry resends only to whom it had not
reached), or, for the 550 ones, the sender has a notice naming it. The
local recipient gets each message once at submission.
"""
import random
import re
import smtplib
import threading
import time

from test_queue import ALICE, ALICE_PW, BOB, World, ctx, mx, zone

DOMAINS = ["d0.test", "d1.test", "d2.test"]
REMOTE = ["%s%d@%s" % (kind, i, d) for d in DOMAINS for kind in ("ok", "late", "bad")
          for i in range(1, 2)] + ["ok2@%s" % d for d in DOMAINS]


class Script:
    """Answers of one remote host: by recipient kind, and 451 for some
    transactions (whose recipients were all accepted first)."""

    def __init__(self, seed):
        self.rnd = random.Random(seed)
        self.tries = {}
        self.deferred = 0  # 450s and 451s given
        self.lock = threading.Lock()

    def rcpt(self, addr):
        with self.lock:
            n = self.tries[addr] = self.tries.get(addr, 0) + 1
        if addr.startswith("bad"):
            return "550 5.1.1 no such user here"
        if addr.startswith("late") and n % 3 == 1:
            with self.lock:
                self.deferred += 1
            return "450 4.2.1 mailbox busy, try later"
        return "250 2.1.5 ok"

    def data(self, n):
        with self.lock:
            if self.rnd.random() < 0.15:
                self.deferred += 1
                return "451 4.3.0 local problem"
            return "250 2.0.0 ok %d" % n


def send(w, rnd, n, sent):
    c = smtplib.SMTP("127.0.0.1", w.srv.submission_port, timeout=30)
    c.starttls(context=ctx())
    c.ehlo()
    c.login(ALICE, ALICE_PW)
    for _ in range(n):
        to = rnd.sample(REMOTE, rnd.randint(1, 4)) + ([BOB] if rnd.random() < 0.3 else [])
        mid = "<model-%d-%d@client.test>" % (id(rnd), len(sent))
        msg = ("From: %s\r\nTo: %s\r\nSubject: queue model\r\nMessage-ID: %s\r\n\r\nbody %s\r\n"
               % (ALICE, ", ".join(to), mid, mid))
        refused = c.sendmail(ALICE, to, msg.encode())
        assert refused == {}, refused
        sent.append((mid, to))
    c.quit()


def test_queue_delivers_each_recipient_once_or_bounces_it():
    with World(lambda ips: zone(*[mx(ips, i, name=d) for i, d in enumerate(DOMAINS)]),
               env={"TERN_QUEUE_RETRY_SCHEDULE": "1"}) as w:
        scripts = [Script(i) for i in range(3)]
        receivers = [w.receiver(i, rcpt=sc.rcpt, data=sc.data) for i, sc in enumerate(scripts)]
        sent = []
        clients = [threading.Thread(target=send, args=(w, random.Random(k), 20, sent))
                   for k in range(2)]
        for t in clients:
            t.start()
        for t in clients:
            t.join(60)
        assert len(sent) == 40
        assert w.wait_queue_empty(timeout=90), w.queue_list()

        got = {}  # (message id, recipient) -> times delivered
        for r in receivers:
            for m in r.messages:
                mid = re.search(rb"Message-ID: (<[^>]+>)", m["data"]).group(1).decode()
                for a in m["rcpts"]:
                    got[(mid, a)] = got.get((mid, a), 0) + 1
        twice = {k: v for k, v in got.items() if v > 1}
        assert not twice, "delivered more than once: %r" % twice

        notices = [w.srv.raw(ALICE, i) for i, _ in w.srv.messages(ALICE)]
        for mid, to in sent:
            for a in to:
                if a == BOB:
                    continue
                if a.startswith("bad"):
                    assert (mid, a) not in got, (mid, a)
                    assert any(mid.encode() in n and a.encode() in n for n in notices), \
                        "no notice for %s to %s" % (mid, a)
                else:
                    assert got.get((mid, a)) == 1, "%s never reached %s" % (mid, a)
        # No notice for a recipient that was reached in the end.
        for n in notices:
            for a in re.findall(rb"Final-Recipient: rfc822;\s*(\S+)", n):
                assert a.startswith(b"bad"), n[:600]
        local = [x for x in w.srv.messages(BOB)]
        assert len(local) == sum(1 for _, to in sent if BOB in to)
        # The run had what it is about: retries and notices.
        assert sum(sc.deferred for sc in scripts) >= 5 and notices, (
            [sc.deferred for sc in scripts], len(notices))
        before = sum(len(r.messages) for r in receivers)
        time.sleep(1.5)  # nothing more arrives once the queue is empty
        assert sum(len(r.messages) for r in receivers) == before
