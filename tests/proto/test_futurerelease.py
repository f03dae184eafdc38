"""Future Release (RFC 4865): submission offers FUTURERELEASE with its
limits (TERN_SMTP_FUTURERELEASE_MAX), takes MAIL's HOLDFOR= or
HOLDUNTIL=, refuses what is past the limit, malformed or both at once
(501 5.5.4), and port 25 does not offer it (555). A held message waits
whole in the queue, local recipients too, and at its release time is
submitted as if it arrived then: the remote gets it, the local account's
copy appears, NOTIFY=SUCCESS is answered; `tern queue flush` releases it
early. One World (DNS, tern, a receiver on loopback) per test."""
import datetime
import smtplib
import time

from test_queue import ALICE, ALICE_PW, BOB, World, ctx, dsn_of, status_fields, zone, mx


def _submission(w, login=True):
    c = smtplib.SMTP("127.0.0.1", w.srv.submission_port, timeout=20)
    c.starttls(context=ctx())
    c.ehlo("client.test")
    if login:
        c.login(ALICE, ALICE_PW)
    return c


def _rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _msg(subject):
    return ("From: %s\r\nTo: carol@remote.test\r\nSubject: %s\r\n\r\nlater\r\n"
            % (ALICE, subject)).encode()


def test_futurerelease_offer_and_refusals():
    env = {"TERN_SMTP_FUTURERELEASE_MAX": "1h"}
    with World(lambda ips: zone(mx(ips, 0)), env=env) as w:
        c = _submission(w)
        code, ehlo = c.ehlo("client.test")
        line = [l for l in ehlo.decode().splitlines() if l.startswith("FUTURERELEASE")]
        assert len(line) == 1, ehlo
        _, interval, until = line[0].split()
        assert interval == "3600", line
        # max-future-release-date-time is the interval counted from now.
        t = datetime.datetime.strptime(until, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        assert 3000 <= t - time.time() <= 3600, line
        for params, code_want in (("HOLDFOR=3601", 501), ("HOLDFOR=1h", 501),
                                  ("HOLDFOR=1000000000", 501),
                                  ("HOLDUNTIL=%s" % _rfc3339(time.time() + 7200), 501),
                                  ("HOLDUNTIL=tomorrow", 501),
                                  ("HOLDFOR=5 HOLDUNTIL=%s" % _rfc3339(time.time() + 60), 501),
                                  ("HOLDFOR=60 BY=30;R", 501)):
            code, msg = c.docmd("MAIL FROM:<%s> %s" % (ALICE, params))
            assert code == code_want and msg.startswith(b"5.5.4"), (params, code, msg)
        code, msg = c.docmd("MAIL FROM:<%s> HOLDFOR=3600" % ALICE)
        assert code == 250, msg
        c.rset()
        c.close()
        # Port 25 does not offer it (a submission extension).
        m = smtplib.SMTP("127.0.0.1", w.srv.smtp_port, timeout=20)
        code, ehlo = m.ehlo("peer.test")
        assert b"FUTURERELEASE" not in ehlo, ehlo
        code, msg = m.docmd("MAIL FROM:<x@remote.test> HOLDFOR=60")
        assert code == 555, (code, msg)
        m.close()
    # 0 turns it off: not offered, and the parameter is refused.
    with World(lambda ips: zone(mx(ips, 0)), env={"TERN_SMTP_FUTURERELEASE_MAX": "0"}) as w:
        c = _submission(w)
        code, ehlo = c.ehlo("client.test")
        assert b"FUTURERELEASE" not in ehlo, ehlo
        code, msg = c.docmd("MAIL FROM:<%s> HOLDFOR=60" % ALICE)
        assert code == 555, (code, msg)
        c.close()


def test_held_message_waits_whole_and_goes_at_its_release():
    """The remote and the local recipient get nothing while it is held;
    at HOLDUNTIL both do, and NOTIFY=SUCCESS of the local one is answered
    after the release. Before FUTURERELEASE, HOLDUNTIL was a 555."""
    env = {"TERN_SMTP_FUTURERELEASE_MAX": "1h"}
    with World(lambda ips: zone(mx(ips, 0)), env=env) as w:
        r = w.receiver(0)
        c = _submission(w)
        release = int(time.time()) + 4
        c.mail(ALICE, ["HOLDUNTIL=%s" % _rfc3339(release)])
        c.rcpt("carol@remote.test")
        c.rcpt(BOB, ["NOTIFY=SUCCESS"])
        code, msg = c.data(_msg("held until"))
        assert code == 250 and b"held until " + _rfc3339(release).encode() in msg, msg
        c.quit()
        # Held: one entry with both recipients, marked as such, nothing out.
        out = w.queue_list()
        assert "(future release)" in out and "carol@remote.test" in out and BOB in out, out
        assert r.messages == [] and w.srv.messages(BOB) == []
        got = r.wait_messages(1, timeout=30)
        assert len(got) == 1 and time.time() >= release, got
        assert len(w.inbox(BOB, 1)) == 1
        # The release's success notice for Bob (RFC 3461 "delivered").
        notice, _ = dsn_of(w)
        st = status_fields(notice)
        assert st[1]["action"] == "delivered" and st[1]["final-recipient"].endswith(BOB), st
        assert w.wait_queue_empty(), w.queue_list()
        assert w.srv.wait_log("event=released")


def test_flush_releases_a_held_message_early():
    """`tern queue flush ID` makes a held entry due: it is released now,
    once (the held entry goes in the release's commit); a flush of the
    whole queue leaves it to its time."""
    env = {"TERN_SMTP_FUTURERELEASE_MAX": "1d"}
    with World(lambda ips: zone(mx(ips, 0)), env=env) as w:
        r = w.receiver(0)
        w.send(["carol@remote.test"], subject="flushed", mail_options=["HOLDFOR=80000"])
        out = w.wait_list("(future release)")
        assert "carol@remote.test" in out, out
        assert r.messages == []
        qid = out.split()[0]
        # A flush of the whole queue leaves it to its time...
        out = w.srv.cli("queue", "flush").stdout.decode()
        assert out.strip() == "0 flushed", out
        assert "(future release)" in w.queue_list()
        # ... one by id releases it now.
        out = w.srv.cli("queue", "flush", qid).stdout.decode()
        assert out.strip() == "1 flushed", out
        assert len(r.wait_messages(1, timeout=20)) == 1
        assert w.wait_queue_empty(), w.queue_list()
        assert len(r.messages) == 1
        mail = [c for c in r.commands if c.upper().startswith("MAIL FROM")]
        assert len(mail) == 1 and "HOLD" not in mail[0].upper(), mail
