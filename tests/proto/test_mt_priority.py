"""Message Transfer Priorities (RFC 6710): tern offers MT-PRIORITY with
the MIXER policy on port 25 and submission; MAIL's MT-PRIORITY=n (-9..9,
a sign and one digit) is checked on both (501 5.5.4 otherwise), honoured
from an authenticated submission client and not trusted from a port-25
peer (§5: the message is priority 0, a log line says so). The queue
keeps the priority (a held Future Release too: `tern queue list` shows
it), starts due entries higher priority first, and passes it on to a
next hop that offers MT-PRIORITY, to no other (§4.2).
One World (DNS, tern, scriptable receivers on loopback) per test."""
import re
import smtplib
import time

from test_queue import ALICE, ALICE_PW, BOB, World, ctx, zone, mx


def _ehlo_line(c):
    code, ehlo = c.ehlo("client.test")
    return [l for l in ehlo.decode().splitlines() if l.upper().startswith("MT-PRIORITY")]


def _submission(w):
    c = smtplib.SMTP("127.0.0.1", w.srv.submission_port, timeout=20)
    c.starttls(context=ctx())
    c.ehlo("client.test")
    c.login(ALICE, ALICE_PW)
    return c


def _mail_cmds(r):
    return [c for c in r.commands if c.upper().startswith("MAIL FROM")]


def _wait_deferred(w, n, timeout=20):
    deadline = time.time() + timeout
    out = ""
    while time.time() < deadline:
        out = w.queue_list()
        if out.count("attempts 1") == n:
            return out
        time.sleep(0.2)
    raise AssertionError("never %d entries tried once:\n%s" % (n, out))


def test_offer_syntax_and_port_25_not_trusted():
    with World(lambda ips: zone(mx(ips, 0))) as w:
        m = smtplib.SMTP("127.0.0.1", w.srv.smtp_port, timeout=20)
        assert _ehlo_line(m) == ["MT-PRIORITY MIXER"]
        c = _submission(w)
        assert _ehlo_line(c) == ["MT-PRIORITY MIXER"]
        for conn in (m, c):
            for bad in ("10", "-10", "+", "high", "1.5", "--1", "09"):
                code, msg = conn.docmd("MAIL FROM:<%s> MT-PRIORITY=%s" % (ALICE, bad))
                assert code == 501 and msg.startswith(b"5.5.4"), (bad, code, msg)
            code, msg = conn.docmd("MAIL FROM:<%s> MT-PRIORITY=1 MT-PRIORITY=2" % ALICE)
            assert code == 501, (code, msg)
        c.close()
        # Port 25: taken, but the raise is not honoured (RFC 6710 §5).
        code, msg = m.docmd("MAIL FROM:<peer@remote.test> MT-PRIORITY=9")
        assert code == 250, (code, msg)
        code, msg = m.docmd("RCPT TO:<%s>" % BOB)
        assert code == 250, (code, msg)
        code, msg = m.data(b"From: peer@remote.test\r\nSubject: urgent?\r\n\r\nhi\r\n")
        assert code == 250, (code, msg)
        m.quit()
        assert len(w.inbox(BOB, 1)) == 1
        assert w.srv.wait_log("event=mt_priority_untrusted priority=9 kept=0"), \
            w.srv.log_text()[-3000:]


def test_submission_priority_kept_and_passed_on():
    """A held (Future Release) message keeps its priority in the queue;
    released, it reaches a next hop that offers MT-PRIORITY with it. A
    next hop that does not offer it gets no parameter (§4.2)."""
    def records(ips):
        return zone(mx(ips, 0), mx(ips, 1, name="other.test"))
    with World(records, env={"TERN_SMTP_FUTURERELEASE_MAX": "1d"}) as w:
        offers = w.receiver(0, extra_ehlo=("MT-PRIORITY MIXER",))
        plain = w.receiver(1)
        w.send(["carol@remote.test"], subject="urgent held",
               mail_options=["MT-PRIORITY=4", "HOLDFOR=80000"])
        out = w.wait_list("(future release)")
        assert "(priority 4)" in out, out
        qid = out.split()[0]
        assert w.srv.cli("queue", "flush", qid).stdout.decode().strip() == "1 flushed"
        assert len(offers.wait_messages(1)) == 1
        mail = _mail_cmds(offers)
        assert len(mail) == 1, mail
        assert re.search(r" MT-PRIORITY=4(\s|$)", mail[0]), mail

        # A lowered one goes on too; the default goes unsaid.
        w.send(["dave@remote.test"], subject="bulk", mail_options=["MT-PRIORITY=-3"])
        w.send(["erin@remote.test"], subject="normal")
        assert len(offers.wait_messages(3)) == 3
        mail = _mail_cmds(offers)
        assert re.search(r" MT-PRIORITY=-3(\s|$)", mail[1]), mail
        assert "MT-PRIORITY" not in mail[2].upper(), mail

        w.send(["carol@other.test"], subject="not offered", mail_options=["MT-PRIORITY=6"])
        assert len(plain.wait_messages(1)) == 1
        mail = _mail_cmds(plain)
        assert len(mail) == 1 and "MT-PRIORITY" not in mail[0].upper(), mail
        assert w.wait_queue_empty(), w.queue_list()


def test_due_entries_start_higher_priority_first():
    """Two deferred entries made due in one flush (the same due time):
    the later-queued one with the higher priority starts first. Without
    priorities the index's order (due time, then id) starts the older."""
    refuse = {"on": True}

    def rcpt(a):
        return "451 4.3.0 later" if refuse["on"] else "250 2.1.5 ok"
    env = {"TERN_QUEUE_RETRY_SCHEDULE": "1h"}
    with World(lambda ips: zone(mx(ips, 0)), env=env) as w:
        r = w.receiver(0, rcpt=rcpt, extra_ehlo=("MT-PRIORITY MIXER",))
        w.send(["low@remote.test"], subject="low", mail_options=["MT-PRIORITY=-2"])
        w.send(["high@remote.test"], subject="high", mail_options=["MT-PRIORITY=7"])
        # Both tried once and deferred for an hour.
        out = _wait_deferred(w, 2)
        ids = {}
        for line in out.splitlines():
            if "from <" in line:
                ids["low" if "(priority -2)" in line else "high"] = line.split()[0]
        assert set(ids) == {"low", "high"} and int(ids["low"]) < int(ids["high"]), out
        refuse["on"] = False
        assert w.srv.cli("queue", "flush").stdout.decode().strip() == "2 flushed"
        pat = re.compile(r"event=delivery_start id=(\d+) priority=(-?\d+) attempts=1")
        assert w.srv.wait_log(re.compile(r"event=delivery_start id=%s priority=-2 attempts=1"
                                         % ids["low"]), timeout=20), w.srv.log_text()[-3000:]
        started = [m.group(1) for m in pat.finditer(w.srv.log_text())]
        assert started[:2] == [ids["high"], ids["low"]], started
        assert len(r.wait_messages(2)) == 2
        assert w.wait_queue_empty(), w.queue_list()
