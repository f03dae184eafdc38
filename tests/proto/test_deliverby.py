"""Deliver By (RFC 2852, issue 33): tern offers DELIVERBY on port 25 and
on submission, checks MAIL's BY= (R mode needs a positive time), keeps
the deadline with the queue entry, and the outbound queue honours it:
in R mode a message still undelivered at the deadline comes back to its
sender with a failure notice (5.4.7) and is not tried again; in N mode
the sender gets a delay notice at the deadline while the queue goes on
trying; a next hop that offers DELIVERBY gets BY= with the time left,
one that does not gets an N-mode message without BY= and never an R-mode
one, which comes back to its sender (RFC 2852 §4).
One World (DNS, tern, scriptable receivers on loopback) for all."""
import smtplib
import time

from test_queue import ALICE, World, ctx, status_fields, zone, mx

import email
import email.policy
import email.utils


def _notices(w, n, timeout=25):
    msgs = w.inbox(ALICE, n, timeout=timeout)
    out = []
    for uid, _ in msgs:
        raw = w.srv.raw(ALICE, uid)
        out.append((email.message_from_bytes(raw, policy=email.policy.default), raw))
    return out


def _refused(w, port, cmd):
    c = smtplib.SMTP("127.0.0.1", port, timeout=10)
    if port == w.srv.submission_port:
        c.starttls(context=ctx())
        c.ehlo()
        c.login(ALICE, "alice-pw-1")
    code, ehlo = c.ehlo("client.test")
    assert b"DELIVERBY" in ehlo, ehlo
    code, msg = c.docmd(cmd)
    c.close()
    return code, msg


def test_deliverby_offer_expiry_and_relay():
    later = "451 4.3.0 try again later"

    def records(ips):
        return zone(mx(ips, 0), mx(ips, 1, name="other.test"))
    with World(records) as w:
        # Both next hops offer DELIVERBY: R mode is never relayed to one
        # that does not (test_deliverby_r_needs_the_next_hop).
        w.receiver(0, extra_ehlo=("DELIVERBY",),
                   rcpt=lambda a: later if a.startswith(("ret", "nfy")) else "250 ok")
        r1 = w.receiver(1, extra_ehlo=("DELIVERBY",))
        for port in (w.srv.smtp_port, w.srv.submission_port):
            code, msg = _refused(w, port, "MAIL FROM:<a@remote.test> BY=0;R")
            assert code == 501 and b"5.5.4" in msg, (port, code, msg)
            code, msg = _refused(w, port, "MAIL FROM:<a@remote.test> BY=12x;R")
            assert code == 501, (port, code, msg)
            code, msg = _refused(w, port, "MAIL FROM:<alice@example.test> BY=-5;N")
            assert code == 250, (port, code, msg)

        # A next hop that offers DELIVERBY hears the time left.
        w.send(["carol@other.test"], subject="by relay", mail_options=["BY=600;RT"])
        m = r1.wait_messages(1)
        assert len(m) == 1
        mail = [c for c in r1.commands if c.upper().startswith("MAIL FROM")][0]
        by = mail.split("BY=")[1].split()[0]
        secs, mode = by.split(";")
        assert 590 <= int(secs) <= 600 and mode == "RT", mail

        # R: returned at the deadline; N: a delay notice at the deadline.
        t0 = time.time()
        w.send(["ret@remote.test"], subject="by return", mail_options=["BY=3;R"])
        w.send(["nfy@remote.test"], subject="by notify", mail_options=["BY=2;N"])
        got = _notices(w, 2)
        assert len(got) == 2, got
        assert time.time() - t0 >= 2
        by_subject, raws = {}, {}
        for m, raw in got:
            subj = [s for s in (b"by return", b"by notify") if s in raw]
            assert len(subj) == 1, raw[:2000]
            by_subject[subj[0]] = status_fields(m)
            raws[subj[0]] = raw
        ret = by_subject[b"by return"]
        assert ret[1]["action"] == "failed" and ret[1]["status"] == "5.4.7", ret
        assert b"delivery time expired (Deliver By)" in raws[b"by return"]
        nfy = by_subject[b"by notify"]
        assert nfy[1]["action"] == "delayed", nfy
        # The returned one is gone; the late one is still tried.
        out = w.queue_list()
        assert "ret@remote.test" not in out and "nfy@remote.test" in out, out


def test_deliverby_r_needs_the_next_hop():
    """RFC 2852 §4: a message in R mode is not relayed to a next hop that
    does not offer DELIVERBY (it could not keep the deadline); it fails at
    once with a notice to its sender. N mode is relayed there without BY=.
    Before the fix both were relayed without BY=."""
    with World(lambda ips: zone(mx(ips, 0))) as w:
        r0 = w.receiver(0)
        w.send(["rmode@remote.test"], subject="by r plain", mail_options=["BY=600;R"])
        w.send(["nmode@remote.test"], subject="by n plain", mail_options=["BY=600;N"])
        got = _notices(w, 1)
        assert len(got) == 1, got
        m, raw = got[0]
        assert b"by r plain" in raw, raw[:2000]
        st = status_fields(m)
        assert st[1]["action"] == "failed" and st[1]["status"] == "5.3.3", st
        assert b"does not offer DELIVERBY" in raw, raw[:3000]
        msgs = r0.wait_messages(1)
        assert len(msgs) == 1, msgs
        mails = [c for c in r0.commands if c.upper().startswith("MAIL FROM")]
        rcpts = [c for c in r0.commands if c.upper().startswith("RCPT TO")]
        assert len(mails) == 1 and "BY=" not in mails[0].upper(), mails
        assert rcpts == [r for r in rcpts if "nmode@" in r] and rcpts, rcpts
        assert w.wait_queue_empty(), w.queue_list()


def test_delay_notice_of_r_mode_names_the_deadline():
    """A delay notice for a message in R mode says when the queue gives
    up (RFC 3464 §2.3.9 Will-Retry-Until): at the Deliver By deadline,
    when it comes before the queue's lifetime ends, since the message
    is returned then. Before the fix it named the lifetime's end (a day
    later here)."""
    later = "451 4.3.0 try again later"
    env = {"TERN_QUEUE_DELAY_NOTICE": "1s", "TERN_QUEUE_LIFETIME": "1d"}
    with World(lambda ips: zone(mx(ips, 0)), env=env) as w:
        w.receiver(0, extra_ehlo=("DELIVERBY",), rcpt=lambda a: later)
        w.send(["late@remote.test"], subject="by delayed", mail_options=["BY=3600;R"])
        got = _notices(w, 1)
        assert len(got) == 1, got
        m, raw = got[0]
        st = status_fields(m)
        assert st[1]["action"] == "delayed", st
        arrival = email.utils.parsedate_to_datetime(st[0]["arrival-date"])
        until = email.utils.parsedate_to_datetime(st[1]["will-retry-until"])
        # The deadline counts from MAIL FROM, a moment before the arrival
        # (a loaded machine may take a while between the two); the
        # lifetime's end would be 86400 s after it.
        assert 3300 <= (until - arrival).total_seconds() <= 3600, (arrival, until)


def test_return_without_an_attempt_names_no_last_attempt_date():
    """Last-Attempt-Date is when delivery was last tried (RFC 3464
    §2.3.7). An R-mode message returned at its deadline is not tried
    then, and the queue keeps no time of the attempt before: its notice
    has no Last-Attempt-Date (the field is optional). Before, every
    notice gave its own time there, an attempt that never was. A
    recipient refused in the attempt that makes the notice has it."""
    def records(ips):
        return zone(mx(ips, 0), mx(ips, 1, name="other.test"))
    env = {"TERN_QUEUE_RETRY_SCHEDULE": "1h"}
    with World(records, env=env) as w:
        r0 = w.receiver(0, extra_ehlo=("DELIVERBY",),
                        rcpt=lambda a: "451 4.3.0 try again later")
        w.receiver(1, extra_ehlo=("DELIVERBY",), rcpt=lambda a: "550 5.1.1 no such user")
        w.send(["late@remote.test", "gone@other.test"], subject="by untried",
               mail_options=["BY=3;R"])
        got = _notices(w, 2)
        assert len(got) == 2, got
        blocks = {}
        for m, raw in got:
            for b in status_fields(m)[1:]:
                blocks[b["final-recipient"]] = b
        gone, late = blocks["rfc822; gone@other.test"], blocks["rfc822; late@remote.test"]
        assert gone["action"] == "failed" and gone["status"] == "5.1.1", gone
        assert "last-attempt-date" in gone, gone
        assert late["action"] == "failed" and late["status"] == "5.4.7", late
        # Tried once, at submission; not at the deadline.
        assert r0.connections == 1, r0.connections
        assert "last-attempt-date" not in late, late


def test_n_mode_deadline_notifies_after_the_ordinary_delay_notice():
    """N mode asks for a delay notice when the Deliver By deadline passes
    (RFC 2852 §4); the ordinary delay notice (TERN_QUEUE_DELAY_NOTICE,
    here 1 s) going out first must not use it up. Before, only one delay
    notice was ever sent, so the deadline's never came."""
    env = {"TERN_QUEUE_DELAY_NOTICE": "1s"}
    with World(lambda ips: zone(mx(ips, 0)), env=env) as w:
        w.receiver(0, extra_ehlo=("DELIVERBY",), rcpt=lambda a: "451 4.3.0 try again later")
        w.send(["late@remote.test"], subject="by n late", mail_options=["BY=8;N"])
        got = _notices(w, 2, timeout=40)
        assert len(got) == 2, got
        for m, raw in got:
            assert b"by n late" in raw, raw[:2000]
            st = status_fields(m)
            assert st[1]["action"] == "delayed", st
        # Still tried: N mode does not give up at the deadline.
        assert "late@remote.test" in w.queue_list()
