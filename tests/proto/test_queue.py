"""The outbound queue end to end: mail submitted on 587 leaves through the
queue to remote MTAs found with MX lookups against a DNS server on
loopback (dns_server.py, Debian's python3-dnspython). Remotes are
scriptable SMTP receivers (mailpeers.Receiver) for failure injection:
4xx then accept, 5xx with the DSN in the sender's INBOX parsed by Python's
email package, refused connection and the next MX, a stalling remote,
null MX, and `tern queue list|flush|del` while the server runs.

Short retry intervals come from TERN_QUEUE_RETRY_SCHEDULE and
TERN_QUEUE_TIMEOUT; TERN_QUEUE_MX_PORT points MX delivery at the
receivers' port (all test-only settings)."""
import collections
import ctypes
import ctypes.util
import email
import email.policy
import imaplib
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import struct
import subprocess
import tempfile
import time

from harness import SANITIZED, Server
from mailpeers import DnsServer, Receiver, free_port_on, unique_ips

ALICE, ALICE_PW = "alice@example.test", "alice-pw-1"
BOB, BOB_PW = "bob@example.test", "bob-pw-1"


def ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


class World:
    """DNS + tern (submission on) + a port for the remotes on n addresses."""

    def __init__(self, records=None, nips=3, env=None, start=True, imap=False, http=False):
        self.ips = unique_ips(nips)
        self.port = free_port_on(self.ips)
        self.dns = DnsServer(records(self.ips) if callable(records) else (records or {}))
        e = {
            "TERN_DNS_SERVERS": self.dns.servers,
            "TERN_QUEUE_MX_PORT": str(self.port),
            "TERN_QUEUE_RETRY_SCHEDULE": "1",
            "TERN_QUEUE_TIMEOUT": "3",
            "TERN_HOSTNAME": "mail.example.test",
        }
        e.update(env or {})
        try:
            self.srv = Server(submission=True, accounts=[(ALICE, ALICE_PW), (BOB, BOB_PW)],
                              env=e, start=start, imap=imap, http=http)
        except BaseException:
            self.dns.stop()  # no __exit__ will run: do not leave it behind
            raise
        self.receivers = []

    def receiver(self, i, **kw):
        r = Receiver(self.ips[i], self.port, **kw)
        self.receivers.append(r)
        return r

    def send(self, to, subject="queued", sender=ALICE, body="Hello, remote.\r\n",
             mail_options=(), rcpt_options=(), to_header=None, headers=""):
        msgid = "<%x.%s@client.test>" % (int(time.time() * 1e6), subject.replace(" ", "-"))
        msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n%s\r\n%s"
               % (sender, to_header or ", ".join(to), subject, msgid, headers, body))
        c = smtplib.SMTP("127.0.0.1", self.srv.submission_port, timeout=20)
        c.starttls(context=ctx())
        c.ehlo()
        c.login(ALICE, ALICE_PW)
        c.sendmail(sender, to, msg.encode(), mail_options=list(mail_options),
                   rcpt_options=list(rcpt_options))
        c.quit()
        return msgid

    def queue_list(self):
        return self.srv.cli("queue", "list").stdout.decode()

    def wait_queue_empty(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = self.queue_list()
            if "queue is empty" in out:
                return True
            time.sleep(0.2)
        return False

    def wait_list(self, needle, timeout=20):
        deadline = time.time() + timeout
        out = ""
        while time.time() < deadline:
            out = self.queue_list()
            if needle in out:
                return out
            time.sleep(0.2)
        raise AssertionError("queue list never showed %r:\n%s" % (needle, out))

    def inbox(self, account, n, timeout=20):
        deadline = time.time() + timeout
        m = []
        while time.time() < deadline:
            m = self.srv.messages(account)
            if len(m) >= n:
                return m
            time.sleep(0.2)
        return m

    def close(self):
        for r in self.receivers:
            r.stop()
        self.srv.cleanup()
        self.dns.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def mx(ips, i, pref=10, name="remote.test"):
    return {name: {"MX": [[pref, "mx%d.%s" % (i, name)]]}, "mx%d.%s" % (i, name): {"A": [ips[i]]}}


def zone(*parts):
    z = {}
    for p in parts:
        for k, v in p.items():
            z.setdefault(k, {}).update(v)
    return z


def dsn_of(w, account=ALICE):
    """The one notice in account's INBOX, parsed."""
    msgs = w.inbox(account, 1)
    assert len(msgs) == 1, msgs
    raw = w.srv.raw(account, msgs[0][0])
    return email.message_from_bytes(raw, policy=email.policy.default), raw


def status_fields(m):
    """The per-recipient blocks of the message/delivery-status part."""
    for part in m.walk():
        if part.get_content_type() == "message/delivery-status":
            blocks = part.get_payload()
            return [dict((k.lower(), str(v)) for k, v in b.items()) for b in blocks]
        if part.get_content_type() == "message/global-delivery-status":
            # RFC 6533 (UTF-8 addresses): the email package keeps it as text.
            p = part.get_payload()  # parsed as a message/* (a list of one) or text
            text = (p if isinstance(p, str) else "".join(x.as_string() for x in p)).replace("\r\n", "\n")
            return [dict((k.strip().lower(), v.strip()) for k, v in
                         (line.split(":", 1) for line in block.splitlines() if ":" in line))
                    for block in text.strip("\n").split("\n\n")]
    raise AssertionError("no message/delivery-status part")


def test_mx_delivery_pipelined_one_transaction_per_domain():
    with World(lambda ips: zone(mx(ips, 0), mx(ips, 1, name="other.test"))) as w:
        r0 = w.receiver(0)
        r1 = w.receiver(1)
        msgid = w.send(["carol@remote.test", "dave@remote.test", "erin@other.test", BOB])
        m0 = r0.wait_messages(1)
        m1 = r1.wait_messages(1)
        assert len(m0) == 1 and sorted(m0[0]["rcpts"]) == ["carol@remote.test", "dave@remote.test"]
        assert m0[0]["from"] == ALICE
        assert msgid.encode() in m0[0]["data"]
        assert len(m1) == 1 and m1[0]["rcpts"] == ["erin@other.test"]
        # The local recipient got it directly.
        assert len(w.inbox(BOB, 1)) == 1
        assert w.wait_queue_empty()
        # Pipelined: MAIL, both RCPTs and DATA went out before any reply was
        # read; the receiver only sees that they all arrived, in order.
        cmds = [c.split(":")[0].split(" ")[0] for c in r0.commands]
        assert cmds[cmds.index("MAIL"):cmds.index("MAIL") + 4] == ["MAIL", "RCPT", "RCPT", "DATA"]
        time.sleep(1.5)
        assert len(r0.messages) == 1 and len(r1.messages) == 1  # nothing twice


def test_address_literal_recipient_is_delivered_to_that_address():
    """RFC 5321 §5.1: a recipient domain that is an address literal is the
    host to connect to, no MX lookup (the DNS here has no records at all);
    port 25 still relays nothing to one for an unauthenticated client."""
    with World() as w:
        r0 = w.receiver(0)
        rcpt = "carol@[%s]" % w.ips[0]
        w.send([rcpt], subject="literal")
        m = r0.wait_messages(1)
        assert len(m) == 1 and m[0]["rcpts"] == [rcpt], m
        assert w.wait_queue_empty()
        with smtplib.SMTP("127.0.0.1", w.srv.smtp_port, timeout=20) as c:
            c.ehlo("remote.test")
            c.mail("someone@remote.test")
            code, text = c.rcpt(rcpt)
            assert code == 554 and b"Relay access denied" in text, (code, text)


def test_4xx_then_accept_is_delivered_on_retry():
    with World(lambda ips: zone(mx(ips, 0))) as w:
        # The peer defers until the test has seen the entry pending: with a
        # one-second retry, a slow `tern queue list` (ASan, a loaded machine)
        # could otherwise miss the whole window between the 451 and the retry.
        accept = {"now": False, "dave": False}
        r = w.receiver(0, data=lambda n: "250 ok" if accept["now"] else "451 4.3.0 try again later",
                       rcpt=lambda a: "552 5.5.3 too many recipients"
                       if a.startswith("dave") and not accept["dave"] else "250 ok")
        w.send(["carol@remote.test"])
        out = w.wait_list("451 4.3.0", timeout=15)
        assert "pending" in out
        with r.lock:
            assert r.messages == [] and r.transactions >= 1
            accept["now"] = True
        msgs = r.wait_messages(1, timeout=20)
        assert len(msgs) == 1
        assert w.wait_queue_empty()
        assert w.srv.messages(ALICE) == []  # no notice for a delivered message

        # 552 at RCPT is RFC 821's code for "too many recipients", which
        # RFC 5321 §4.5.3.1.10 asks clients to take as 452: the recipient
        # is retried, not bounced (as Postfix does).
        w.send(["erin@remote.test", "dave@remote.test"], subject="many")
        out = w.wait_list("552 5.5.3", timeout=15)
        assert "pending" in out and "dave@remote.test" in out, out
        accept["dave"] = True
        msgs = r.wait_messages(3, timeout=20)
        assert sorted(a for m in msgs[1:] for a in m["rcpts"]) == ["dave@remote.test",
                                                                   "erin@remote.test"], msgs
        assert w.wait_queue_empty()
        assert w.srv.messages(ALICE) == []


def test_5xx_bounces_with_dsn_in_sender_inbox():
    with World(lambda ips: zone(mx(ips, 0))) as w:
        w.receiver(0, rcpt=lambda a: "550 5.1.1 no such user here" if a.startswith("nobody")
                   else "250 ok")
        w.send(["nobody@remote.test", "carol@remote.test"], subject="bounce me")
        m, raw = dsn_of(w)
        assert m.get_content_type() == "multipart/report"
        assert m.get_param("report-type") == "delivery-status"
        assert m["From"].addresses[0].username.upper() == "MAILER-DAEMON"
        parts = [p.get_content_type() for p in m.iter_parts()]
        assert parts == ["text/plain", "message/delivery-status", "text/rfc822-headers"], parts
        blocks = status_fields(m)
        # Per-message block first, then exactly the failed recipient.
        assert blocks[0]["reporting-mta"] == "dns; mail.example.test"
        assert len(blocks) == 2, blocks
        assert blocks[1]["final-recipient"] == "rfc822; nobody@remote.test"
        assert blocks[1]["action"] == "failed"
        assert blocks[1]["status"] == "5.1.1"
        assert "550 5.1.1 no such user here" in blocks[1]["diagnostic-code"]
        assert b"Subject: bounce me" in raw
        assert w.wait_queue_empty()


def test_mx_pointing_back_at_us_is_never_used():
    """RFC 5321 §5.1: MX hosts as preferred as ours or less are dropped;
    when ours is the best, the mail loops back: 5.4.6 at once, as Postfix
    bounces it. Ourselves: our host name (TERN_HOSTNAME) or the address
    and port our SMTP listener takes (the MX port is tern's own here)."""
    def records(ips):
        return {
            "loop.test": {"MX": [[10, "mx.loop.test"]]}, "mx.loop.test": {"A": ["127.0.0.1"]},
            "ok.test": {"MX": [[10, "mx.ok.test"], [20, "self.ok.test"]]},
            "mx.ok.test": {"A": [ips[0]]}, "self.ok.test": {"A": ["127.0.0.1"]},
            "worse.test": {"MX": [[10, "self.worse.test"], [20, "mx.worse.test"]]},
            "self.worse.test": {"A": ["127.0.0.1"]}, "mx.worse.test": {"A": [ips[0]]},
            "named.test": {"MX": [[10, "mail.example.test"]]},
            "mail.example.test": {"A": [ips[0]]},
        }
    with World(records, nips=1, start=False) as w:
        w.srv.env["TERN_QUEUE_MX_PORT"] = str(w.srv.smtp_port)
        w.srv.start()
        r = Receiver(w.ips[0], w.srv.smtp_port)
        w.receivers.append(r)
        w.send(["carol@loop.test", "dave@worse.test", "erin@named.test", "finn@ok.test"])
        msgs = r.wait_messages(1)
        assert [m["rcpts"] for m in msgs] == [["finn@ok.test"]], msgs
        m, raw = dsn_of(w)
        blocks = status_fields(m)[1:]
        got = sorted((b["final-recipient"], b["status"]) for b in blocks)
        assert got == [("rfc822; carol@loop.test", "5.4.6"), ("rfc822; dave@worse.test", "5.4.6"),
                       ("rfc822; erin@named.test", "5.4.6")], got
        assert b"mail for loop.test loops back to myself" in raw, raw
        assert w.wait_queue_empty()
        assert "event=mx_loops_back" in w.srv.log_text()


def test_ehlo_with_our_own_name_loops_back():
    """A host that answers EHLO with our own host name is ourselves (a NAT
    address pointing back at us, which no MX check sees): as Postfix does,
    the mail is not sent to it. At a best MX the recipients fail with
    5.4.6 "mail for X loops back to myself" (RFC 3463 §3.5); behind a
    better MX that did not answer it is a 4.4.6 for that host, and the
    recipient waits for the better one (here it then takes it). Nothing
    but EHLO and QUIT reaches the looping host."""
    def records(ips):
        return {
            "loop.test": {"MX": [[10, "nat.loop.test"], [20, "mx.loop.test"]]},
            "nat.loop.test": {"A": [ips[0]]}, "mx.loop.test": {"A": [ips[1]]},
            "behind.test": {"MX": [[10, "down.behind.test"], [20, "nat.behind.test"]]},
            "down.behind.test": {"A": [ips[2]]}, "nat.behind.test": {"A": [ips[0]]},
        }
    with World(records) as w:
        nat = w.receiver(0, ehlo_name="MAIL.example.test")
        good = w.receiver(1)
        w.send(["carol@loop.test"])
        m, raw = dsn_of(w)
        blocks = status_fields(m)[1:]
        assert [(b["final-recipient"], b["status"]) for b in blocks] == \
            [("rfc822; carol@loop.test", "5.4.6")], blocks
        assert b"mail for loop.test loops back to myself" in raw, raw
        assert nat.messages == [] and good.messages == []
        assert "event=ehlo_loops_back" in w.srv.log_text()
        w.send(["dave@behind.test"])
        out = w.wait_list("4.4.6")
        assert "answered EHLO with our own host name mail.example.test" in out, out
        assert nat.messages == []
        w.receiver(2)
        msgs = w.receivers[-1].wait_messages(1)
        assert [x["rcpts"] for x in msgs] == [["dave@behind.test"]], msgs
        assert nat.messages == [] and not any(c.startswith("MAIL") for c in nat.commands)
        assert w.wait_queue_empty()


def test_refused_connection_tries_next_mx():
    def records(ips):
        return {"remote.test": {"MX": [[10, "mx0.remote.test"], [20, "mx1.remote.test"]]},
                "mx0.remote.test": {"A": [ips[0]]}, "mx1.remote.test": {"A": [ips[1]]}}
    with World(records) as w:
        r = w.receiver(1)  # nothing listens on ips[0]: connection refused
        w.send(["carol@remote.test"])
        assert len(r.wait_messages(1)) == 1
        assert w.wait_queue_empty()
        assert "connection refused" in w.srv.log_text()


def test_best_mx_kept_past_ten_records():
    # Eleven exchangers, the most preferred last in the answer: only ten
    # are kept, and the ones given up must be the least preferred (the
    # first ten in the answer's order were kept, and the mail went to
    # names that have no address, never to the one that works).
    def records(ips):
        mxs = [[20, "gone%d.remote.test" % i] for i in range(10)] + [[10, "mx0.remote.test"]]
        return {"remote.test": {"MX": mxs}, "mx0.remote.test": {"A": [ips[0]]}}
    with World(records) as w:
        r = w.receiver(0)
        w.send(["carol@remote.test"])
        assert len(r.wait_messages(1)) == 1
        assert w.wait_queue_empty()


def test_stalling_remote_times_out_and_is_retried():
    with World(lambda ips: zone(mx(ips, 0)), env={"TERN_QUEUE_TIMEOUT": "2"}) as w:
        stall = w.receiver(0, stall="greeting")
        w.send(["carol@remote.test"])
        out = w.wait_list("timeout", timeout=20)
        assert "pending" in out
        stall.stop()
        w.receivers.remove(stall)
        r = w.receiver(0)
        assert len(r.wait_messages(1, timeout=20)) == 1
        assert w.wait_queue_empty()


def store_txnid(data_dir):
    """The store's last committed LMDB transaction: the newer of the two
    meta pages at the start of data.mdb (mm_txnid at byte 144 of each,
    64-bit build; the second page one OS page in)."""
    psize = os.sysconf("SC_PAGE_SIZE")
    with open(os.path.join(data_dir, "data.mdb"), "rb") as f:
        b = f.read(2 * psize)
    return max(struct.unpack_from("<Q", b, off + 144)[0] for off in (0, psize))


def test_submission_is_one_commit_per_message():
    """A submitted message is queued, and the Message-ID it carries noted
    for the spam filter's replies (spam/spam_sent.h), in one commit: the
    note had a write transaction of its own, two flushes outside the
    group commit per message, taken on the worker pool that signs the
    next messages. The remote stalls at its greeting (and the timeout is
    long), so the queue's delivery commits nothing meanwhile; the count
    starts after the login."""
    with World(lambda ips: zone(mx(ips, 0)), env={"TERN_QUEUE_TIMEOUT": "120"}) as w:
        w.receiver(0, stall="greeting")
        c = smtplib.SMTP("127.0.0.1", w.srv.submission_port, timeout=20)
        c.starttls(context=ctx())
        c.login(ALICE, ALICE_PW)
        n = 5
        before = store_txnid(w.srv.data)
        for i in range(n):
            msg = ("From: %s\r\nTo: carol@remote.test\r\nSubject: c%d\r\n"
                   "Message-ID: <commit-%d@client.test>\r\n\r\nHello.\r\n" % (ALICE, i, i))
            c.sendmail(ALICE, ["carol@remote.test"], msg.encode())
        commits = store_txnid(w.srv.data) - before
        c.quit()
        assert commits == n, (commits, n)


NULL_MX = {"nullmx.test": {"MX": [[0, "."]]}}


def send_then_null_mx(w, to, **kw):
    """Submission refuses RCPT to a null-MX domain (RFC 7505 §4.1), so the
    queue gets one whose lookup failed at RCPT (a pass) and that says null
    MX by the time the queue asks: the failure is remembered only for the
    intake's checks, and the queue asks again."""
    w.dns.zone(dict(NULL_MX, **{"flaky.test": {"SERVFAIL": True}}))
    w.send(to, **kw)
    w.dns.zone(dict(NULL_MX, **{"flaky.test": {"MX": [[0, "."]]}}))


def test_null_mx_bounces_at_once():
    with World(NULL_MX) as w:
        # The intake refuses first (RFC 7505 §4): RCPT on submission with
        # 556 5.1.10, MAIL on port 25 with 550 5.7.27 (the answer cached).
        c = smtplib.SMTP("127.0.0.1", w.srv.submission_port, timeout=20)
        c.starttls(context=ctx())
        c.ehlo()
        c.login(ALICE, ALICE_PW)
        assert c.mail(ALICE)[0] == 250
        code, text = c.rcpt("carol@nullmx.test")
        assert (code, text[:6]) == (556, b"5.1.10"), (code, text)
        c.quit()
        m25 = smtplib.SMTP("127.0.0.1", w.srv.smtp_port, timeout=20)
        m25.ehlo("client.test")
        code, text = m25.mail("carol@nullmx.test")
        assert (code, text[:6]) == (550, b"5.7.27"), (code, text)
        m25.quit()
        send_then_null_mx(w, ["carol@flaky.test"])
        m, _ = dsn_of(w)
        blocks = status_fields(m)
        assert blocks[1]["action"] == "failed"
        assert blocks[1]["status"] == "5.1.10", blocks
        assert w.wait_queue_empty()


def test_notice_to_a_large_alias_reaches_every_member():
    """A notice to a local sender that is an alias of more than 16
    accounts reaches every one of them, as a delivery to the alias does
    (the 17th got nothing: the scheduler resolved into 16 entries)."""
    with World(NULL_MX) as w:
        members = [ALICE, BOB] + ["m%02d@example.test" % i for i in range(15)]
        for a in members[2:]:
            w.srv.cli("account", "add", a, input="many-pw-1\n")
        for a in members:
            w.srv.cli("alias", "add", "staff@example.test", a)
        send_then_null_mx(w, ["carol@flaky.test"], sender="staff@example.test")
        deadline = time.time() + 20
        missing = members
        while missing and time.time() < deadline:
            time.sleep(0.2)
            missing = [a for a in members if len(w.srv.messages(a)) < 1]
        assert missing == [], missing


def test_queue_cli_list_flush_del():
    with World(lambda ips: zone(mx(ips, 0)),
               env={"TERN_QUEUE_RETRY_SCHEDULE": "1h"}) as w:
        # Nothing listens yet: the first attempt fails, the next is in an hour.
        # Until the attempt is counted: the recipient's status is recorded
        # before the attempt's end (attempts 0, "connection refused" already
        # there: seen once in a loaded run), and the count with the end.
        w.send(["carol@remote.test"], subject="first")
        out = w.wait_list("attempts 1")
        assert "carol@remote.test" in out and "connection refused" in out, out
        r = w.receiver(0)
        time.sleep(1.5)
        assert r.messages == []  # not due for an hour
        w.srv.cli("queue", "flush")
        assert len(r.wait_messages(1, timeout=10)) == 1
        assert w.wait_queue_empty()
        # del: gone without a notice.
        r.stop()
        w.receivers.remove(r)
        w.send(["dave@remote.test"], subject="second")
        out = w.wait_list("attempts 1")
        qid = out.split()[0]
        assert w.srv.cli("queue", "del", qid).stdout.decode().strip() == "1 deleted"
        assert "queue is empty" in w.queue_list()
        assert w.srv.messages(ALICE) == []
        bad = w.srv.cli("queue", "del", "999999", check=False)
        assert bad.returncode == 1


def test_restart_with_full_queue_loses_nothing_and_doubles_nothing():
    n = 15
    with World(lambda ips: zone(mx(ips, 0)), env={"TERN_QUEUE_RETRY_SCHEDULE": "1h"}) as w:
        ids = [w.send(["carol@remote.test"], subject="restart %d" % i) for i in range(n)]
        w.wait_list("connection refused")
        w.srv.kill9()  # no clean shutdown: what was acknowledged must be on disk
        r = w.receiver(0)
        w.srv.start()
        w.srv.cli("queue", "flush")
        msgs = r.wait_messages(n, timeout=30)
        assert w.wait_queue_empty(timeout=20)
        time.sleep(1.5)
        got = [m["data"] for m in r.messages]
        found = [sum(1 for d in got if i.encode() in d) for i in ids]
        assert found == [1] * n, found
        assert len(msgs) == n


def store_strace(srv, calls, inject):
    """strace attached to tern serve: the system calls calls (a comma
    list) on its data.mdb get inject (strace's "error=ENOSPC",
    "delay_exit=US") until the returned process is interrupted."""
    data = os.path.join(srv.data, "data.mdb")
    st = subprocess.Popen(["strace", "-f", "-qq", "-o", os.devnull, "-p", str(srv.proc.pid),
                           "-P", data, "-e", "trace=" + calls,
                           "-e", "inject=%s:%s" % (calls, inject)])
    # Attached once every thread has it as its tracer.
    deadline = time.time() + 10
    tasks = "/proc/%d/task" % srv.proc.pid
    while time.time() < deadline:
        traced = []
        for t in os.listdir(tasks):
            with open(os.path.join(tasks, t, "status")) as f:
                traced.append(any(line.startswith("TracerPid:") and line.split()[1] != "0"
                                  for line in f))
        if all(traced):
            break
        time.sleep(0.05)
    return st


def store_writes_fail(srv):
    """Every write to the server's data.mdb fails with ENOSPC until the
    returned process is interrupted. Attach it only once no commit is
    under way (wait_update_stored): a commit whose pages went out before
    strace attached and whose meta page after it is refused there, and
    LMDB's MDB_PANIC ends the server as designed (store.c, panic_end).
    That happened once in a fresh clone: "retry_later" is logged just
    before its update is committed."""
    return store_strace(srv, "pwrite64,pwritev,pwritev2,write,writev", "error=ENOSPC")


def wait_update_stored(w, qid, attempts):
    """Until `tern queue list` (read from the store) shows entry qid with
    its attempts counted: the update after its try is committed."""
    line = re.compile(r"^%d  .*  attempts %d  " % (qid, attempts), re.M)
    deadline = time.time() + 60
    out = ""
    while time.time() < deadline:
        out = w.queue_list()
        if line.search(out):
            return
        time.sleep(0.1)
    raise AssertionError("entry %d never showed attempts %d:\n%s" % (qid, attempts, out))


def test_store_refusing_the_update_sends_no_copy_again():
    # The remote accepts, and the store cannot record it (its writes fail:
    # a full disk, an I/O error). The update was dropped: the entry kept
    # its recipient pending and its next attempt past, so the scheduler
    # sent the message again at once, and again: measured, one remote got
    # 477 copies in 8 s. Now the update is kept and tried again until the
    # store takes it; the remote has the message once, the queue empties.
    if os.geteuid() != 0 or not shutil.which("strace"):
        print("  (needs root and strace)")
        return "skip"
    ok = {"on": False}
    # 8 s between tries, so that the next try comes after strace has
    # attached and the remote turned to accepting. With 3 s the test
    # failed twice under load (the remote got nothing in 30 s), most
    # likely so: a try while strace was attaching, refused by the remote
    # still, its update refused by the store and kept, no try after it.
    with World(lambda ips: zone(mx(ips, 0)), env={"TERN_QUEUE_RETRY_SCHEDULE": "8"}) as w:
        r = w.receiver(0, rcpt=lambda a: "250 2.1.5 ok" if ok["on"] else "451 4.3.0 not yet")
        w.send(["carol@remote.test"])
        assert w.srv.wait_log("event=retry_later id=1 pending=1 attempts=1")
        wait_update_stored(w, 1, 1)
        st = store_writes_fail(w.srv)
        try:
            ok["on"] = True
            assert r.wait_messages(1)
            assert w.srv.wait_log("event=queue_update_failed id=1")
            time.sleep(4)  # the old code sent it again within a second
            print("  copies while the store refused writes: %d" % len(r.messages))
            assert len(r.messages) == 1, len(r.messages)
        finally:
            st.send_signal(signal.SIGINT)
            st.wait()
        assert w.wait_queue_empty(timeout=90), w.queue_list()
        assert len(r.messages) == 1, len(r.messages)
        assert w.srv.proc.poll() is None
        # A stop while an update waits for its next try gives it up (and
        # frees it): the entry goes again after the restart, as after a
        # crash, and the queue empties.
        ok["on"] = False
        w.send(["dave@remote.test"])
        assert w.srv.wait_log("event=retry_later id=2 pending=1 attempts=1")
        wait_update_stored(w, 2, 1)
        st = store_writes_fail(w.srv)
        try:
            ok["on"] = True
            assert r.wait_messages(2)
            # The tries 1 and 3 s after fail too; the next waits till 7 s.
            deadline = time.time() + 30
            while w.srv.log_text().count("event=queue_update_failed id=2") < 4 and \
                    time.time() < deadline:
                time.sleep(0.2)
        finally:
            st.send_signal(signal.SIGINT)
            st.wait()
        rc = w.srv.stop()  # 0: no sanitizer report either (not under ptrace now)
        assert rc == 0, (rc, w.srv.log_text()[-3000:])
        assert "event=queue_update_dropped id=2" in w.srv.log_text()
        w.srv.start()
        assert w.wait_queue_empty(timeout=30), w.queue_list()
        dave = [m for m in r.messages if m["rcpts"] == ["dave@remote.test"]]
        assert len(dave) == 2, len(dave)


def test_store_refusing_the_bounce_loses_no_dsn_and_doubles_none():
    # The outbound queue's DSN cell of the durability table (a full
    # disk): the remote refuses the recipient for good (550) while every
    # write to data.mdb fails with ENOSPC, so the commit that gives up on
    # the recipient and carries the notice is refused. The server stays
    # up, and once the store takes writes again the sender has the one
    # DSN (not none, not two) and the queue is empty.
    if os.geteuid() != 0 or not shutil.which("strace"):
        print("  (needs root and strace)")
        return "skip"
    bad = {"on": False}
    with World(lambda ips: zone(mx(ips, 0)), env={"TERN_QUEUE_RETRY_SCHEDULE": "8"}) as w:
        r = w.receiver(0, rcpt=lambda a: "550 5.1.1 no such user" if bad["on"] else "451 4.3.0 not yet")
        w.send(["nobody@remote.test"], subject="bounce while full")
        assert w.srv.wait_log("event=retry_later id=1 pending=1 attempts=1")
        wait_update_stored(w, 1, 1)
        st = store_writes_fail(w.srv)
        try:
            bad["on"] = True
            assert w.srv.wait_log("event=queue_update_failed id=1", timeout=30)
            assert w.srv.proc.poll() is None
        finally:
            st.send_signal(signal.SIGINT)
            st.wait()
        assert w.wait_queue_empty(timeout=60), w.queue_list()
        m, raw = dsn_of(w)  # exactly one notice
        assert status_fields(m)[1]["status"] == "5.1.1", raw[:2000]
        assert r.messages == []
        print("  one DSN after %d refused updates" %
              w.srv.log_text().count("event=queue_update_failed id=1"))


def test_refused_update_holds_back_the_jobs_later_one():
    # What failed the test above once in CI under load (two notices, the
    # retry schedule apart), made exact. An attempt records its outcome in
    # two commits: the recipient's verdict, then the attempt's end with
    # the notice. The first is refused (ENOSPC) after the second reached
    # the writer; the second then committed alone (the notice delivered,
    # the recipient still pending in the store), the first came in on its
    # retry (failed, notice not made), and the next attempt made the
    # notice again. Here the store's first write waits 3 s and fails, the
    # ones after it pass; the sender must get one notice.
    if os.geteuid() != 0 or not shutil.which("strace"):
        print("  (needs root and strace)")
        return "skip"
    bad = {"on": False}
    with World(lambda ips: zone(mx(ips, 0)), env={"TERN_QUEUE_RETRY_SCHEDULE": "8"}) as w:
        r = w.receiver(0, rcpt=lambda a: "550 5.1.1 no such user" if bad["on"] else "451 4.3.0 not yet")
        w.send(["nobody@remote.test"], subject="two commits, one refused")
        assert w.srv.wait_log("event=retry_later id=1 pending=1 attempts=1")
        wait_update_stored(w, 1, 1)
        calls = "pwrite64,pwritev,pwritev2,write,writev"
        st = store_strace(w.srv, calls, "error=ENOSPC:delay_enter=3000000:when=1")
        try:
            bad["on"] = True
            assert w.srv.wait_log("event=done id=1 pending=0 attempts=2", timeout=30)
            assert w.srv.wait_log("event=queue_update_failed id=1", timeout=30)
        finally:
            st.send_signal(signal.SIGINT)
            st.wait()
        assert w.wait_queue_empty(timeout=60), w.queue_list()
        m, raw = dsn_of(w)  # exactly one notice
        assert status_fields(m)[1]["status"] == "5.1.1", raw[:2000]
        log = w.srv.log_text()
        # The attempt's end went to the writer while the verdict's commit
        # was under way (else this test shows nothing): it was logged
        # before the refusal.
        assert log.index("event=done id=1") < log.index("event=queue_update_failed id=1"), log[-3000:]


def writer_idle(srv, timeout=30):
    """Until tern serve's store writer ("tern-store") waits for requests
    (in futex(2), pthread_cond_wait) on 3 reads in a row: no commit or
    flush of it under way, so a strace attached now counts its flushes
    from the next commit on."""
    tasks = "/proc/%d/task" % srv.proc.pid
    deadline = time.time() + timeout
    calm = 0
    while time.time() < deadline:
        for t in os.listdir(tasks):
            with open(os.path.join(tasks, t, "comm")) as f:
                if f.read().strip() != "tern-store":
                    continue
            with open(os.path.join(tasks, t, "syscall")) as f:
                calm = calm + 1 if f.read().split()[0] == "202" else 0  # futex (x86-64)
        if calm >= 3:
            return
        time.sleep(0.05)
    raise AssertionError("the store writer never went idle")


def test_update_whose_flush_failed_is_not_applied_twice():
    # An attempt records its outcome in two updates, one at a time: the
    # recipient's verdict (a commit's data flush, then its own flush),
    # then the attempt's end with the notice to the local sender (the
    # same two). The fourth flush after an idle writer is the end's own:
    # it fails (EIO), after its commit went in (the notice in the INBOX,
    # the finished entry removed). The update was answered STORE_ETEMP
    # and tried again, and the old code applied it again: two notices.
    # Now the failed flush halts the store (store_writer.c, "A failed
    # flush"): nothing is written any more, the server stops with status
    # 75, and started again it has the one notice and an empty queue.
    # (Were writes to go on, the retry would find the update applied,
    # queue_sched.c's upd_once: test_store_group's run_once.)
    if os.geteuid() != 0 or not shutil.which("strace") or os.uname().machine != "x86_64":
        print("  (needs root, strace and x86-64)")
        return "skip"
    bad = {"on": False}
    env = {"TERN_QUEUE_RETRY_SCHEDULE": "8",
           "ASAN_OPTIONS": (os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")}
    with World(lambda ips: zone(mx(ips, 0)), env=env) as w:
        w.receiver(0, rcpt=lambda a: "550 5.1.1 no such user" if bad["on"] else "451 4.3.0 not yet")
        w.send(["nobody@remote.test"], subject="one notice, its flush failed")
        assert w.srv.wait_log("event=retry_later id=1 pending=1 attempts=1")
        wait_update_stored(w, 1, 1)
        writer_idle(w.srv)
        st = store_strace(w.srv, "fdatasync", "error=EIO:when=4")
        try:
            bad["on"] = True
            assert w.srv.wait_log("event=done id=1 pending=0 attempts=2", timeout=30)
            assert w.srv.wait_log("event=store_halted stage=flush", timeout=30)
            assert w.srv.proc.wait(60) == 75, w.srv.proc.returncode
        finally:
            st.send_signal(signal.SIGINT)
            st.wait()
        log = w.srv.log_text()
        assert "event=queue_update_failed id=1" in log, log[-3000:]
        # The failed flush was the attempt's end's: read with the server
        # stopped, its commit is in (the entry finished, the notice
        # there), and nothing after it.
        assert "queue is empty" in w.queue_list(), w.queue_list()
        assert len(w.srv.messages(ALICE)) == 1, w.srv.messages(ALICE)
        w.srv.start()
        assert "queue is empty" in w.queue_list(), w.queue_list()
        msgs = w.srv.messages(ALICE)
        assert len(msgs) == 1, msgs
        m, raw = dsn_of(w)
        assert status_fields(m)[1]["status"] == "5.1.1", raw[:2000]


def drop_blob_records(data_dir, db="blobref"):
    """Deletes every record of db (blobref: the blobs' records; blobdata:
    their bytes) in a stopped server's data.mdb (through the system's
    liblmdb): the store then lacks the bytes its records name, as a
    damaged one does."""
    lib = ctypes.CDLL(ctypes.util.find_library("lmdb") or "liblmdb.so.0")

    class Val(ctypes.Structure):
        _fields_ = [("mv_size", ctypes.c_size_t), ("mv_data", ctypes.c_void_p)]

    path = os.path.join(data_dir, "data.mdb")
    env, txn, cur, dbi = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_uint()
    assert lib.mdb_env_create(ctypes.byref(env)) == 0
    lib.mdb_env_set_maxdbs(env, 64)
    lib.mdb_env_set_mapsize(env, ctypes.c_size_t(os.path.getsize(path) + (16 << 20)))
    assert lib.mdb_env_open(env, path.encode(), 0x4000 | 0x400000, 0o600) == 0  # NOSUBDIR|NOLOCK
    assert lib.mdb_txn_begin(env, None, 0, ctypes.byref(txn)) == 0
    assert lib.mdb_dbi_open(txn, db.encode(), 0, ctypes.byref(dbi)) == 0
    assert lib.mdb_cursor_open(txn, dbi, ctypes.byref(cur)) == 0
    k, v = Val(), Val()
    n = 0
    while lib.mdb_cursor_get(cur, ctypes.byref(k), ctypes.byref(v), 0) == 0:  # MDB_FIRST
        assert lib.mdb_cursor_del(cur, 0) == 0
        n += 1
    lib.mdb_cursor_close(cur)
    assert lib.mdb_txn_commit(txn) == 0
    lib.mdb_env_close(env)
    return n


def test_queued_message_missing_from_the_store_is_held():
    # A damaged store: a queue entry whose message bytes have no record.
    # The scheduler started it again every second, logging
    # queue_blob_missing each time, for ever (the entry never expired:
    # nothing was tried). Now it is held, its recipient saying why, with
    # one error line; a flush tries it once more, and `queue del` removes it.
    with World(lambda ips: zone(mx(ips, 0)), env={"TERN_QUEUE_RETRY_SCHEDULE": "1"}) as w:
        r = w.receiver(0, rcpt=lambda a: "451 4.3.0 not yet")
        w.send(["carol@remote.test"])
        assert w.srv.wait_log("event=retry_later id=1 pending=1 attempts=1")
        w.srv.stop()
        assert drop_blob_records(w.srv.data) >= 1
        w.srv.start()
        out = w.wait_list("next held")
        assert "<carol@remote.test> pending: 4.3.0 the message is missing from the store" in out, out
        time.sleep(3)  # three ticks: the old code logged a line at each
        log = w.srv.log_text()
        assert log.count("event=queue_blob_missing") == 1, log.count("event=queue_blob_missing")
        assert len(r.messages) == 0
        w.srv.cli("queue", "flush", "1")
        deadline = time.time() + 10
        while w.srv.log_text().count("event=queue_blob_missing") < 2 and time.time() < deadline:
            time.sleep(0.2)
        w.wait_list("next held")
        assert w.srv.log_text().count("event=queue_blob_missing") == 2
        w.srv.cli("queue", "del", "1")
        assert w.wait_queue_empty()
        # The blob's record there, its bytes gone: the same.
        w.send(["dave@remote.test"])
        assert w.srv.wait_log("event=retry_later id=2 pending=1 attempts=1")
        w.srv.stop()
        assert drop_blob_records(w.srv.data, "blobdata") >= 1
        w.srv.start()
        out = w.wait_list("next held")
        assert "<dave@remote.test> pending: 4.3.0 the message is missing from the store" in out, out
        assert len(r.messages) == 0
        assert w.srv.proc.poll() is None


def test_kill9_while_the_queue_delivers():
    """Two clients submit while the queue delivers to a slow loopback
    remote, and the server is killed (SIGKILL) twice at seeded
    random moments, restarted on the same data each time. At the end
    every message that got 250 at submission reaches the remote, and the
    queue empties: nothing acknowledged is lost, the queue resumes after
    each start. A message may come twice only when a kill fell between
    the remote's taking it and the queue's record of its 250 (RFC 5321
    §6.1 allows that): its first copy came less than 2 s before a kill,
    and it was the last message its connection carried, so a connection
    has at most one message sent again."""
    import random
    import threading
    seed = int(os.environ.get("TERN_KILL9_SEED") or random.randrange(1 << 30))
    rnd = random.Random(seed)
    kills = 2
    with World(lambda ips: zone(mx(ips, 0))) as w:
        r = w.receiver(0, data_delay=0.05)
        acked, lock, stop, kill_times = [], threading.Lock(), threading.Event(), []

        def sender(n):
            # One authenticated session for as many messages as it lasts
            # (a login costs an argon2id hash); a new one after a kill.
            i, c = 0, None
            while not stop.is_set():
                try:
                    if c is None:
                        c = smtplib.SMTP("127.0.0.1", w.srv.submission_port, timeout=20)
                        c.starttls(context=ctx())
                        c.ehlo()
                        c.login(ALICE, ALICE_PW)
                    i += 1
                    mid = "<k9.%d.%d@client.test>" % (n, i)
                    c.sendmail(ALICE, ["carol@remote.test"],
                               ("From: %s\r\nTo: carol@remote.test\r\nSubject: k9\r\n"
                                "Message-ID: %s\r\n\r\nbody\r\n" % (ALICE, mid)).encode())
                except (OSError, smtplib.SMTPException):
                    c = None  # down or killed mid-way: unknown, not counted
                    time.sleep(0.05)
                    continue
                with lock:
                    acked.append(mid)
            if c is not None:
                c.close()

        threads = [threading.Thread(target=sender, args=(n,), daemon=True) for n in range(2)]
        for t in threads:
            t.start()
        try:
            for _ in range(kills):
                # A session's login (argon2id) takes most of a second here.
                time.sleep(rnd.uniform(1.2, 2.2))
                w.srv.kill9()
                kill_times.append(time.time())  # dead: it took nothing after
                w.srv.start()
            time.sleep(1.5)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        with lock:
            ids = list(acked)
        assert len(ids) >= 10, "seed %d: only %d submitted" % (seed, len(ids))
        w.srv.cli("queue", "flush")
        assert w.wait_queue_empty(timeout=30), "seed %d:\n%s" % (seed, w.queue_list())
        got = r.wait_messages(len(ids), timeout=10)
        copies = {i: [m["at"] for m in got if i.encode() in m["data"]] for i in ids}
        lost = [i for i in ids if not copies[i]]
        extra = sum(len(c) - 1 for c in copies.values() if c)
        print("  seed %d: %d submitted across %d kills, %d received, %d extra copies"
              % (seed, len(ids), kills, len(got), extra))
        assert not lost, "seed %d: acknowledged but never delivered: %s" % (seed, lost)
        again = [i for i, c in copies.items() if len(c) > 1 and
                 not any(0 <= k - c[0] < 2.0 for k in kill_times)]
        if again:
            t0 = kill_times[0]
            print("  kills at", ["%.2f" % (k - t0) for k in kill_times])
            for i in again:
                print("  ", i, ["%.2f" % (t - t0) for t in copies[i]])
        assert not again, "seed %d: sent again long after the remote took them: %s" % (
            seed, again)
        # Of what one connection carried, only its last message can come
        # again: the next goes out on a kept connection once the last one's
        # 250 is written to the store's file, as Postfix marks a recipient
        # done in the queue file before its smtp process takes the next
        # message; written, not yet flushed, is enough: the kernel keeps
        # the pages of a killed process, and this kills tern, not the
        # machine. (The bound
        # was what the remote took in the 2 s before a kill: a kept
        # connection carried the next message before the last one's 250
        # was committed, so one could have several in that window; seen:
        # 44 over 2 kills with 636 messages, under ASan.)
        sent_again = collections.Counter(
            next(m["conn"] for m in got if i.encode() in m["data"])
            for i, c in copies.items() if len(c) > 1)
        worst = max(sent_again.values(), default=0)
        print("  %d connections, %d of them with a message sent again, at most %d each"
              % (r.connections, len(sent_again), worst))
        assert worst <= 1, "seed %d: sent again, by the connection of the first copy: %s" % (
            seed, sorted(sent_again.items()))
        assert not re.search(r"corrupt|panic|level=error", w.srv.log_text(), re.I), \
            [line for line in w.srv.log_text().splitlines()
             if re.search(r"corrupt|panic|level=error", line, re.I)][:5]


def test_kept_connection_takes_the_next_message_once_the_last_is_recorded():
    """The store's flushes are slowed down (strace delays each fdatasync
    of data.mdb by half a second, well within a kept session's 5 s idle
    time) while 30 queued messages go to one remote: 20 sessions
    (DEST_MAX), and 10 messages waiting for one of them. The server is
    killed (SIGKILL) as soon as the remote has 21, and started again. A
    kept connection used to take the next message at once, the last
    one's 250 not yet recorded: every connection that carried two had
    both sent again after the restart (10 of 20 connections, measured).
    Now the next message waits till the last one's record is written to
    the store's file (the commit, not the flush after it: the store's
    "applied"), so only the last message of a connection can come again.
    Written is enough here because the test kills tern, not the machine:
    the kernel keeps a killed process's written pages (a power cut could
    lose what was not flushed yet, as with Postfix)."""
    if os.geteuid() != 0 or not shutil.which("strace"):
        print("  (needs root and strace)")
        return "skip"
    n = 30
    with World(lambda ips: zone(mx(ips, 0)), env={"TERN_QUEUE_RETRY_SCHEDULE": "1h"}) as w:
        c = smtplib.SMTP("127.0.0.1", w.srv.submission_port, timeout=20)
        c.starttls(context=ctx())
        c.ehlo()
        c.login(ALICE, ALICE_PW)
        ids = ["<kept.%d@client.test>" % i for i in range(n)]
        for mid in ids:
            c.sendmail(ALICE, ["carol@remote.test"],
                       ("From: %s\r\nTo: carol@remote.test\r\nSubject: kept\r\n"
                        "Message-ID: %s\r\n\r\nbody\r\n" % (ALICE, mid)).encode())
        c.quit()
        # Each tried once (no remote yet): next attempt in an hour.
        deadline = time.time() + 30
        while w.srv.log_text().count("event=retry_later") < n and time.time() < deadline:
            time.sleep(0.1)
        assert w.srv.log_text().count("event=retry_later") == n, w.queue_list()
        r = w.receiver(0)
        st = store_strace(w.srv, "fdatasync,fsync", "delay_exit=500000")
        try:
            w.srv.cli("queue", "flush")
            before = r.wait_messages(21, timeout=60)
            w.srv.kill9()
        finally:
            st.send_signal(signal.SIGINT)
            st.wait()
        assert len(before) >= 21, len(before)
        # While a session's last message was not recorded, no other
        # session was opened for the waiting ones: the 21st came on a
        # kept connection. Fewer than 20 may have opened by then: on a
        # loaded machine a kept session's record can be written (500 ms
        # delays only the flush) before the last sessions connect.
        assert max(m["conn"] for m in before) <= 20, sorted(set(m["conn"] for m in before))
        w.srv.start()
        w.srv.cli("queue", "flush")
        assert w.wait_queue_empty(timeout=60), w.queue_list()
        got = r.wait_messages(n)
        copies = {i: [m for m in got if i.encode() in m["data"]] for i in ids}
        assert all(copies.values()), [i for i, c in copies.items() if not c]
        sent_again = collections.Counter(c[0]["conn"] for c in copies.values() if len(c) > 1)
        print("  %d before the kill on %d connections, %d sent again, at most %d a connection"
              % (len(before), len(set(m["conn"] for m in before)),
                 sum(sent_again.values()), max(sent_again.values(), default=0)))
        assert max(sent_again.values(), default=0) <= 1, sorted(sent_again.items())


def test_connection_reused_for_the_next_message():
    with World(lambda ips: zone(mx(ips, 0))) as w:
        r = w.receiver(0)
        for i in range(3):
            w.send(["carol@remote.test"], subject="reuse %d" % i)
            assert len(r.wait_messages(i + 1)) == i + 1
        assert w.wait_queue_empty()
        # One connection carried all three (kept idle a few seconds between).
        assert r.connections == 1, r.connections
        assert [c.split(" ")[0] for c in r.commands].count("EHLO") == 1
        # 8-bit octets that came without BODY=8BITMIME leave declared
        # (RFC 6152) to a hop offering it: they used to leave undeclared.
        w.send(["carol@remote.test"], subject="undeclared", body="caf\u00e9\r\n")
        m = r.wait_messages(4)[3]
        assert "BODY=8BITMIME" in m["mail_line"].upper(), m["mail_line"]
        assert "BODY=" not in r.messages[0]["mail_line"].upper()


def test_kept_connection_cut_by_the_remote_falls_back_to_a_new_one():
    with World(lambda ips: zone(mx(ips, 0))) as w:
        r = w.receiver(0, hangup_after_data=True)
        for i in range(3):
            w.send(["carol@remote.test"], subject="cut %d" % i)
            assert len(r.wait_messages(i + 1)) == i + 1
        assert w.wait_queue_empty()
        assert r.connections == 3


def test_starttls_used_and_plaintext_after_a_failed_handshake():
    """Opportunistic TLS (no MTA-STS, DANE or REQUIRETLS): a handshake
    that fails, however it fails, is followed by the same host in
    plaintext, as Postfix's "may" level does: a remote that refuses our
    TLS version, one that hangs up after its 220 to STARTTLS, one that
    sends text instead of a handshake and one that says nothing till
    the client gives up (the last two used to defer the mail till its
    lifetime ran out: "connection lost", "timeout waiting for reply").
    The log says why the plaintext session came."""
    names = ["remote.test", "other.test", "close.test", "garbage.test", "silent.test"]
    with World(lambda ips: zone(*(mx(ips, i, name=n) for i, n in enumerate(names))), nips=5,
               env={"TERN_QUEUE_RETRY_SCHEDULE": "1h"}) as w:
        good = w.receiver(0, tls=True)
        bad = [w.receiver(1, tls=True, tls13_only=True)] + [
            w.receiver(i, tls=True, tls_break=b)
            for i, b in ((2, "close"), (3, "garbage"), (4, "silent"))]
        for n in names:
            w.send(["carol@" + n], subject="tls " + n)
        m = good.wait_messages(1)
        assert len(m) == 1 and m[0]["tls"]
        for r in bad:
            m = r.wait_messages(1, timeout=20)
            assert len(m) == 1 and not m[0]["tls"], (r.tls_break, r.commands, w.queue_list())
            assert sum(1 for c in r.commands if c.upper() == "STARTTLS") == 1, r.commands
            assert r.connections == 2, (r.tls_break, r.connections)
        assert w.wait_queue_empty()
        log = w.srv.log_text()
        for n in names[1:]:
            assert re.search(r"event=tls_fallback_plaintext id=\d+ host=mx\d\.%s why=\"4\.4\.\d "
                             r"[^\"]*TLS handshake failed" % re.escape(n), log), (n, log[-3000:])


def test_opportunistic_tls_takes_cbc_and_sha1_servers():
    """Opportunistic delivery keeps the wide client profile (RFC 7435: any
    TLS beats plaintext; net/tls_client.h): an MX offering only a CBC
    suite, and one signing its key exchange only with SHA-1, both get the
    mail over TLS in the first session, no plaintext retry. (The strict
    profile refuses both: test_queue_relay's weak-TLS test.)"""
    names = ["cbc.test", "sha1.test"]
    with World(lambda ips: zone(*(mx(ips, i, name=n) for i, n in enumerate(names))), nips=2,
               env={"TERN_QUEUE_RETRY_SCHEDULE": "1h"}) as w:
        rs = [w.receiver(0, tls=True, tls_weak="cbc"), w.receiver(1, tls=True, tls_weak="sha1")]
        for n in names:
            w.send(["carol@" + n], subject="weak " + n)
        for r in rs:
            m = r.wait_messages(1)
            assert len(m) == 1 and m[0]["tls"], (r.commands, w.srv.log_text()[-2000:])
            assert r.connections == 1, r.connections
        assert w.wait_queue_empty()


def test_at_most_twenty_sessions_to_one_destination():
    n = 30
    with World(lambda ips: zone(mx(ips, 0)), env={"TERN_QUEUE_RETRY_SCHEDULE": "1h"}) as w:
        for i in range(n):
            w.send(["rcpt%d@remote.test" % i], subject="many %d" % i)
        w.wait_list("attempts 1")
        deadline = time.time() + 20
        while w.queue_list().count("attempts 1") < n and time.time() < deadline:
            time.sleep(0.2)
        r = w.receiver(0, data_delay=0.5)
        w.srv.cli("queue", "flush")
        assert len(r.wait_messages(n, timeout=60)) == n
        assert w.wait_queue_empty()
        assert 1 < r.max_open_sessions <= 20, r.max_open_sessions


def test_sigterm_lets_a_delivery_in_flight_end_and_records_it():
    """SIGTERM while a remote is still answering the end of data: the
    conversation goes on to its 250, which is recorded, before tern exits;
    nothing new starts. Before, the scheduler went on through the drain
    and then cut the conversation: the remote had the message, the queue
    still held it, and the next start sent it again."""
    import signal
    with World(lambda ips: zone(mx(ips, 0)), env={"TERN_QUEUE_RETRY_SCHEDULE": "1h"}) as w:
        r = w.receiver(0, data_delay=2)
        w.send(["carol@remote.test"], subject="in flight at the stop")
        # Until the remote has read the end of data (a fixed 0.5 s after
        # its DATA was a guess: under load the body could still be on its
        # way); its reply then waits 2 s.
        deadline = time.time() + 30
        while not r.data_ends and time.time() < deadline:
            time.sleep(0.02)
        assert r.data_ends == 1 and "DATA" in r.commands, w.srv.log_text()
        w.srv.proc.send_signal(signal.SIGTERM)
        assert w.srv.proc.wait(15) == 0
        assert "queue is empty" in w.queue_list(), w.queue_list()
        assert len(r.messages) == 1
        assert "event=quiescing talking=1" in w.srv.log_text()


def test_sigterm_cuts_a_delivery_waiting_for_a_greeting():
    """SIGTERM while a remote has accepted the connection and never greets:
    nothing of the message has gone, so the stop cuts that session at once
    instead of waiting out the whole drain for it (it used to: 6 s and
    event=drain_timeout deliveries=1 at every stop with a silent remote).
    The entry stays due as it was, no attempt counted: after the restart
    the message is delivered once, when the remote answers."""
    with World(lambda ips: zone(mx(ips, 0)),
               env={"TERN_QUEUE_RETRY_SCHEDULE": "1h", "TERN_QUEUE_TIMEOUT": "120"}) as w:
        silent = w.receiver(0, stall="greeting")
        msgid = w.send(["carol@remote.test"], subject="silent at the stop")
        deadline = time.time() + 20
        while silent.connections == 0 and time.time() < deadline:
            time.sleep(0.05)
        assert silent.connections == 1, w.srv.log_text()
        before = len(w.srv.log_text())
        assert w.srv.stop() == 0
        stop_log = w.srv.log_text()[before:]
        assert "event=drain_timeout" not in stop_log, stop_log
        assert "event=quiesce_cut sessions=1 reason=before_mail" in stop_log, stop_log
        silent.stop()
        w.receivers.remove(silent)
        r = w.receiver(0)
        w.srv.start()
        assert len(r.wait_messages(1)) == 1
        assert w.wait_queue_empty()
        # Nothing more comes: the entry was recorded delivered.
        w.srv.cli("queue", "flush")
        assert "queue is empty" in w.queue_list()
        assert [msgid.encode() in m["data"] for m in r.messages] == [True], r.messages
        assert silent.messages == []

EIGHT_BIT_MULTIPART = (
    "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    "caf\u00e9 cr\u00e8me\r\n.dot line and a long one " + "\u00e9" * 60 + "\r\n"
    "--b1\r\nContent-Type: message/rfc822\r\n\r\n"
    "Subject: inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\u00fcber\r\n"
    "--b1--\r\n")


def test_remote_without_8bitmime_gets_a_7bit_form_signed_again():
    """RFC 6152 §3: 8-bit mail to a server without 8BITMIME goes in a
    7-bit form (quoted-printable leaves, as Postfix converts), not back
    to the sender (it bounced 5.6.3), and our own DKIM signatures are
    made again over that form; a message with no 7-bit form (8-bit
    octets in a part declared base64) still fails 5.6.3."""
    from test_submission import dkimpy
    with World(lambda ips: zone(mx(ips, 0))) as w:
        r = w.receiver(0, ext8bit=False)  # neither 8BITMIME nor SMTPUTF8
        w.send(["carol@remote.test"], subject="plain ascii")
        assert len(r.wait_messages(1)) == 1
        w.send(["carol@remote.test"], subject="eight bit", body="caf\u00e9 cr\u00e8me\r\n",
               mail_options=["BODY=8BITMIME"], headers="Comments: gr\u00fc\u00dfe\r\n")
        w.send(["carol@remote.test"], subject="multipart", body=EIGHT_BIT_MULTIPART,
               mail_options=["BODY=8BITMIME"],
               headers="MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n"
                       "Content-Transfer-Encoding: 8bit\r\n")
        got = r.wait_messages(3)
        assert len(got) == 3, w.srv.log_text()[-2000:]
        for m in got[1:]:
            data = m["data"]
            assert "BODY=" not in m["mail_line"].upper(), m["mail_line"]
            assert all(c < 0x80 for c in data), data
            # One set of signatures, ours, made over what was sent.
            assert data.count(b"DKIM-Signature:") == 2, data
            raw = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            assert dkimpy(w.srv, raw) == ["rsa-sha256=True", "ed25519-sha256=True"], raw
        def parsed(data):
            return email.message_from_bytes(data.replace(b"\r\n", b"\n"),
                                            policy=email.policy.default)
        one = parsed(got[1]["data"])
        assert one["MIME-Version"] == "1.0"
        # An 8-bit unstructured field in RFC 2047 words.
        assert one["Comments"] == "gr\u00fc\u00dfe", got[1]["data"]
        assert one["Content-Transfer-Encoding"] == "quoted-printable"
        assert one.get_content() == "caf\u00e9 cr\u00e8me\n", got[1]["data"]
        multi = parsed(got[2]["data"])
        assert multi["Content-Transfer-Encoding"] == "7bit", got[2]["data"]
        text, inner = [p for p in multi.iter_parts()]
        assert text["Content-Transfer-Encoding"] == "quoted-printable"
        # (The line end before a boundary is the boundary's, RFC 2046 §5.1.1.)
        assert text.get_content() == ("caf\u00e9 cr\u00e8me\n.dot line and a long one " +
                                      "\u00e9" * 60)
        # The inner message claims MIME now (RFC 2045 §4), as the top does.
        assert (b"Content-Type: message/rfc822\r\n\r\nMIME-Version: 1.0\r\nSubject: inner\r\n"
                in got[2]["data"]), got[2]["data"]
        body = inner.get_content()
        assert body["Subject"] == "inner" and body.get_content() == "\u00fcber"
        assert re.search(r"event=converted_7bit id=\d+ result=ok size=\d+ size_7bit=\d+ "
                         r"dkim_resigned=1", w.srv.log_text()), w.srv.log_text()[-2000:]
        # Over WORKER_MESSAGE_BYTES: made on the worker pool while the
        # session waits.
        line = "\u00e9t\u00e9 " * 20 + "\r\n"
        w.send(["carol@remote.test"], subject="big", body=line * 9000,
               mail_options=["BODY=8BITMIME"])
        got = r.wait_messages(4)
        assert len(got) == 4, w.srv.log_text()[-2000:]
        assert all(c < 0x80 for c in got[3]["data"])
        assert parsed(got[3]["data"]).get_content() == line.replace("\r\n", "\n") * 9000
        w.send(["carol@remote.test"], subject="eight bit", body="caf\u00e9 cr\u00e8me\r\n",
               mail_options=["BODY=8BITMIME"], headers="MIME-Version: 1.0\r\n"
               "Content-Transfer-Encoding: base64\r\n")
        m, raw = dsn_of(w)
        blocks = status_fields(m)
        assert blocks[1]["final-recipient"] == "rfc822; carol@remote.test"
        assert blocks[1]["action"] == "failed"
        assert blocks[1]["status"] == "5.6.3", blocks
        assert b"does not support 8BITMIME" in raw, raw
        assert b"Subject: eight bit" in raw
        assert len(r.messages) == 4  # the unconvertible one never reached it
        assert w.wait_queue_empty()
        # The refusal came on the connection kept from the first messages:
        # the server lives on (it used to crash here) and still delivers.
        assert w.srv.proc.poll() is None
        w.send(["carol@remote.test"], subject="ascii again")
        assert len(r.wait_messages(5)) == 5


def test_remote_without_esmtp_is_greeted_with_helo_and_sent_no_extension():
    """RFC 5321 §3.2 and §4.1.4: a server that refuses EHLO as an
    unknown command (an RFC 821 one) is greeted with HELO, and the
    session then uses no extension (RFC 1869 §4.5): MAIL and RCPT carry
    no parameter (SIZE, BODY, SMTPUTF8, RET, ENVID, NOTIFY, ORCPT), and
    8-bit content goes in its 7-bit form (RFC 6152 §3)."""
    with World(lambda ips: zone(mx(ips, 0))) as w:
        r = w.receiver(0, esmtp=False)
        w.send(["carol@remote.test"], subject="old peer", body="caf\u00e9\r\n",
               mail_options=["BODY=8BITMIME", "RET=HDRS", "ENVID=old-1"],
               rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;carol@remote.test"])
        got = r.wait_messages(1)
        assert len(got) == 1, w.srv.log_text()[-2000:]
        m = got[0]
        verbs = [c.split(" ")[0].upper() for c in r.commands]
        assert verbs[:3] == ["EHLO", "HELO", "MAIL"], r.commands
        assert m["helo"] and m["mail_line"] == "MAIL FROM:<%s>" % ALICE, m["mail_line"]
        assert m["rcpt_lines"] == ["RCPT TO:<carol@remote.test>"], m["rcpt_lines"]
        assert all(c < 0x80 for c in m["data"]), m["data"]
        assert b"Content-Transfer-Encoding: quoted-printable" in m["data"], m["data"]


def test_data_command_refused_fails_or_defers_only_the_accepted_recipients():
    """RFC 5321 §4.1.1.4 and §3.3: a 5xx to the DATA command itself (not
    to the end of data) fails every recipient the transaction had
    accepted, with that reply in the notice, while one refused at RCPT
    keeps its own; a 4xx defers them and the next try delivers."""
    with World(lambda ips: zone(mx(ips, 0, name="no.test"), mx(ips, 1, name="later.test")),
               nips=2) as w:
        w.receiver(0, data_cmd=lambda n: "554 5.7.1 we take no data from you",
                   rcpt=lambda a: "550 5.1.1 no such user" if a.startswith("gone") else "250 ok")
        later = w.receiver(1, data_cmd=lambda n: "451 4.3.0 not now" if n == 0 else None)
        w.send(["carol@no.test", "gone@no.test"], subject="refused data")
        m, raw = dsn_of(w)
        blocks = sorted(status_fields(m)[1:], key=lambda b: b["final-recipient"])
        assert [(b["final-recipient"], b["action"], b["status"]) for b in blocks] == [
            ("rfc822; carol@no.test", "failed", "5.7.1"),
            ("rfc822; gone@no.test", "failed", "5.1.1")], blocks
        assert "554 5.7.1 we take no data from you" in blocks[0]["diagnostic-code"], blocks[0]
        assert "550 5.1.1 no such user" in blocks[1]["diagnostic-code"], blocks[1]
        w.send(["dave@later.test"], subject="deferred data")
        got = later.wait_messages(1, timeout=20)
        assert len(got) == 1 and got[0]["rcpts"] == ["dave@later.test"], got
        assert later.data_cmds == 2, later.data_cmds
        assert w.wait_queue_empty()
        assert len(w.srv.messages(ALICE)) == 1  # the first notice only: none for dave


def test_line_over_998_octets_leaves_quoted_printable():
    """RFC 5322 §2.1.1 / RFC 5321 §4.5.3.1.6: a line is 998 octets at
    most. One longer (submission takes it) left as it came, to be
    refused or cut by the next hop (Postfix's client breaks it with
    CRLF SPACE, changing the text); it goes now in the message's 7-bit
    form, its leaf quoted-printable, to a hop with or without 8BITMIME,
    the text the same once decoded and our signatures made again."""
    from test_submission import dkimpy
    with World(lambda ips: zone(mx(ips, 0), mx(ips, 1, name="other.test"))) as w:
        r8 = w.receiver(0)
        r7 = w.receiver(1, ext8bit=False)
        long_ascii = "".join("word%04d " % i for i in range(300)).rstrip()  # 2699 octets
        long_8bit = "\u00e9" * 700  # 1400 octets
        body = "short line\r\n" + long_ascii + "\r\n" + long_8bit + "\r\nend\r\n"
        w.send(["carol@remote.test", "erin@other.test"], subject="long", body=body,
               mail_options=["BODY=8BITMIME"])
        w.send(["carol@remote.test"], subject="long plain", body=long_ascii + "\r\n")
        got = r8.wait_messages(2) + r7.wait_messages(1)
        assert len(got) == 3, w.srv.log_text()[-2000:]
        for m in got:
            data = m["data"]
            assert max(len(l) for l in data.split(b"\r\n")) <= 998, data[:3000]
            msg = email.message_from_bytes(data.replace(b"\r\n", b"\n"),
                                           policy=email.policy.default)
            assert msg["Content-Transfer-Encoding"] == "quoted-printable", data[:2000]
            want = body if msg["Subject"] == "long" else long_ascii + "\r\n"
            assert msg.get_content() == want.replace("\r\n", "\n"), data[:3000]
            assert dkimpy(w.srv, data) == ["rsa-sha256=True", "ed25519-sha256=True"], data[:3000]
        assert all(c < 0x80 for c in got[2]["data"])
        assert w.wait_queue_empty()


def test_remote_without_smtputf8_bounces_utf8_addresses_5_6_7():
    with World(lambda ips: zone(mx(ips, 0))) as w:
        r = w.receiver(0, ext8bit=False)
        w.send(["j\u00f6rg@remote.test"], subject="utf8 address", mail_options=["SMTPUTF8"])
        m, raw = dsn_of(w)
        blocks = status_fields(m)
        assert blocks[1]["action"] == "failed"
        assert blocks[1]["status"] == "5.6.7", blocks
        # RFC 6533: the UTF-8 address in the global report, as utf-8.
        assert "Final-Recipient: utf-8; j\u00f6rg@remote.test\r\n".encode() in raw, raw
        assert b"Content-Type: message/global-delivery-status" in raw, raw
        assert m.get_param("report-type") == "global-delivery-status", m["Content-Type"]  # RFC 6522 §3
        assert b"does not support SMTPUTF8" in raw, raw
        assert r.messages == []
        assert w.wait_queue_empty()


def test_utf8_domain_is_routed_by_its_a_labels():
    """An SMTPUTF8 recipient at münchen.test: DNS has the domain's MX under
    its A-labels (RFC 5891 §5), which is what the queue must look up; the
    RCPT keeps the address as the sender wrote it."""
    with World(lambda ips: zone(mx(ips, 0, name="xn--mnchen-3ya.test"))) as w:
        r = w.receiver(0)
        w.send(["carol@m\u00fcnchen.test"], subject="idn route", mail_options=["SMTPUTF8"])
        m = r.wait_messages(1)
        assert len(m) == 1 and m[0]["rcpts"] == ["carol@m\u00fcnchen.test"], m
        assert w.wait_queue_empty()


def test_remote_without_smtputf8_gets_a_label_domains():
    """RFC 6531 §3.2 limits only mail that needs SMTPUTF8: to a server
    without it, carol@münchen.test goes as carol@xn--mnchen-3ya.test (the
    same address, RFC 5890 §2.3.2.1) when the header section is ASCII, as
    Postfix and Exim send it; a recipient whose local part is UTF-8 fails
    alone (5.6.7), and a UTF-8 header fails the message."""
    alabel = "xn--mnchen-3ya.test"
    with World(lambda ips: zone(mx(ips, 0, name=alabel))) as w:
        r = w.receiver(0, ext8bit=False)
        w.send(["carol@m\u00fcnchen.test", "j\u00f6rg@m\u00fcnchen.test"], subject="idn ascii",
               mail_options=["SMTPUTF8"], to_header="carol@" + alabel)
        m = r.wait_messages(1)
        assert len(m) == 1 and m[0]["rcpts"] == ["carol@" + alabel], m
        assert "SMTPUTF8" not in m[0]["mail_line"].upper(), m[0]["mail_line"]
        dsn, raw = dsn_of(w)
        blocks = status_fields(dsn)
        assert len(blocks) == 2 and blocks[1]["status"] == "5.6.7", blocks
        assert "Final-Recipient: utf-8; j\u00f6rg@m\u00fcnchen.test\r\n".encode() in raw, raw
        assert b"which this address needs" in raw, raw
        assert w.wait_queue_empty()
        # The same recipient, the header naming it in U-labels: no ASCII form.
        w.send(["carol@m\u00fcnchen.test"], subject="idn header", mail_options=["SMTPUTF8"])
        msgs = w.inbox(ALICE, 2)
        assert len(msgs) == 2, msgs
        raws = [w.srv.raw(ALICE, x[0]) for x in msgs]
        raw = [x for x in raws if b"Subject: idn header" in x]
        assert len(raw) == 1 and b"Status: 5.6.7" in raw[0], raws
        assert b"UTF-8 header needs" in raw[0], raw
        assert len(r.messages) == 1
        assert w.wait_queue_empty()


def test_bdat_message_without_final_crlf_relays_closed_and_signed():
    """A submitted BDAT message whose last line has no CRLF (RFC 3030
    frames by count) is stored with its line closed (smtp_tx.c's
    bdat_close_line), and so leaves over DATA as it was signed: one CRLF
    before the final dot, not two, and both our DKIM signatures verify at
    the next hop."""
    from test_submission import dkimpy
    with World(lambda ips: zone(mx(ips, 0))) as w:
        r = w.receiver(0)
        body = (b"From: %s\r\nTo: carol@remote.test\r\nSubject: open end\r\n\r\n"
                b"first line\r\nlast line, no end" % ALICE.encode())
        c = smtplib.SMTP("127.0.0.1", w.srv.submission_port, timeout=20)
        c.starttls(context=ctx())
        c.ehlo()
        c.login(ALICE, ALICE_PW)
        assert c.docmd("MAIL FROM:<%s>" % ALICE)[0] == 250
        assert c.docmd("RCPT TO:<carol@remote.test>")[0] == 250
        c.send(b"BDAT %d LAST\r\n" % len(body) + body)
        assert c.getreply()[0] == 250
        c.quit()
        data = r.wait_messages(1)[0]["data"]
        assert data.endswith(b"\r\n\r\nfirst line\r\nlast line, no end\r\n"), data[-80:]
        assert dkimpy(w.srv, data) == ["rsa-sha256=True", "ed25519-sha256=True"], data[:3000]
        assert w.wait_queue_empty()


def test_bare_cr_never_reaches_the_next_hop():
    """Outbound SMTP smuggling: a message holding "<CR>.<CR><LF>" must
    not reach the next hop with that bare CR, or a receiver that ends
    lines at a CR would read the end of data there and the rest as a
    second message. BDAT refuses such content as DATA does; a draft
    stored over IMAP keeps its bare CRs, and BURL sends it with each made
    CRLF (smtp_tx.c's burl_append, RFC 6409 §8), so the smuggled command
    is a dot-stuffed line of text. The queue's own defence (a stray CR
    leaves as a space) is checked through JMAP EmailSubmission of such a
    draft (test_jmap_submission)."""
    from test_imap import Raw as ImapRaw
    with World(lambda ips: zone(mx(ips, 0)), imap=True) as w:
        r = w.receiver(0)
        body = (b"From: %s\r\nTo: carol@remote.test\r\nSubject: cr smuggle\r\n\r\n"
                b"first\r.\rMAIL FROM:<ceo@bank.test>\r.\r\nlast\r\n" % ALICE.encode())
        c = smtplib.SMTP("127.0.0.1", w.srv.submission_port, timeout=20)
        c.starttls(context=ctx())
        c.ehlo()
        c.login(ALICE, ALICE_PW)
        assert c.docmd("MAIL FROM:<%s>" % ALICE)[0] == 250
        assert c.docmd("RCPT TO:<carol@remote.test>")[0] == 250
        c.send(b"BDAT %d LAST\r\n" % len(body) + body)
        assert c.getreply()[0] == 554
        i = ImapRaw(w.srv)
        i.login(ALICE, ALICE_PW)
        i.send(b"a APPEND Drafts {%d+}\r\n%s\r\n" % (len(body), body))
        uid = int(re.search(rb"APPENDUID \d+ (\d+)", i.until_tag("a")[-1]).group(1))
        i.send('g GENURLAUTH "imap://alice%%40example.test@mail.example.test/Drafts/;UID=%d;'
               'URLAUTH=submit+alice%%40example.test" INTERNAL\r\n' % uid)
        out = i.until_tag("g")
        assert out[-1].startswith(b"g OK"), out
        url = re.fullmatch(rb'\* GENURLAUTH "([^"]+)"', out[0]).group(1).decode()
        i.close()
        assert c.docmd("MAIL FROM:<%s>" % ALICE)[0] == 250
        assert c.docmd("RCPT TO:<carol@remote.test>")[0] == 250
        code, text = c.docmd("BURL", url + " LAST")
        assert code == 250, (code, text)
        c.quit()
        data = r.wait_messages(1)[0]["data"]
        assert b"\r\n\r\nfirst\r\n.\r\nMAIL FROM:<ceo@bank.test>\r\n.\r\nlast\r\n" in data, data
        assert b"\r" not in data.replace(b"\r\n", b""), data


def submit_pipelined(w, n, domain):
    """n messages from ALICE to r0@domain .. r<n-1>@domain, sent in one
    pipelined burst on one submission session: all queued at once."""
    c = smtplib.SMTP("127.0.0.1", w.srv.submission_port, timeout=20)
    c.starttls(context=ctx())
    c.login(ALICE, ALICE_PW)
    out = []
    for i in range(n):
        body = b"From: %s\r\nSubject: d%d\r\n\r\nx\r\n" % (ALICE.encode(), i)
        out.append(b"MAIL FROM:<%s>\r\nRCPT TO:<r%d@%s>\r\nBDAT %d LAST\r\n%s"
                   % (ALICE.encode(), i, domain.encode(), len(body), body))
    c.sock.sendall(b"".join(out))
    for _ in range(3 * n):
        assert c.getreply()[0] == 250
    c.quit()


def test_a_dead_destination_does_not_hold_up_other_domains():
    """A domain whose MX hosts do not answer (here: they never greet)
    with many messages queued for it: once a session to it has failed,
    its other messages wait for their retry without a connection each,
    so the queue's sessions and jobs stay free and mail for a domain that
    works leaves at once instead of after every dead message's timeout."""
    def records(ips):
        return zone(mx(ips, 0, name="live.test"), mx(ips, 1, name="dead.test"))
    with World(records, nips=2, env={"TERN_QUEUE_RETRY_SCHEDULE": "60"}) as w:
        live = w.receiver(0)
        dead = socket.socket()  # takes connections, never greets
        dead.bind((w.ips[1], w.port))
        dead.listen(64)
        try:
            submit_pipelined(w, 200, "dead.test")
            t0 = time.time()
            w.send(["bob@live.test"], subject="not held up")
            got = live.wait_messages(1, timeout=40)
            took = time.time() - t0
            assert len(got) == 1, got
            # One round of dead sessions (TERN_QUEUE_TIMEOUT=3 s), not
            # one per 20 of the 200 dead messages (30 s).
            assert took < 12, took
            assert w.srv.wait_log("reason=destination_unreachable")
        finally:
            dead.close()


def _rcpts_per_tx(commands):
    """How many RCPT commands each MAIL transaction carried, in order."""
    counts = []
    for c in commands:
        verb = c.split(":")[0].split(" ")[0].upper()
        if verb == "MAIL":
            counts.append(0)
        elif verb == "RCPT" and counts:
            counts[-1] += 1
    return counts


def test_client_against_demanding_and_odd_remotes():
    """One server, five remotes, each testing the SMTP client's side:
    - many.test refuses past 30 recipients a transaction (452): the 100
      recipients go in transactions of 50 at most, the refused ones again
      at once in the next, on the one connection (RFC 5321 §4.5.3.1.10);
    - dot.test refuses every recipient but answers the pipelined DATA
      with 354: the client sends a lone "." (RFC 2920 §3.1), then QUIT;
    - slow.test reads a 1 MB body at 300 KB/s, longer than the reply
      timeout (2 s): the timeout is per block, the message is delivered
      at the first try (once); early.test, in the same message, answers
      552 after the body's first line: a refusal, not a reply ahead;
    - rset.test, without PIPELINING, refuses the first 50 recipients: no
      DATA for that transaction, RSET, and the other 10 in the next;
    - stray.test sends an unasked line with its reply to the end of
      data: that session is not kept for the next message;
    - ahead.test sends a reply with its greeting, before EHLO: a protocol
      error, the message deferred, never sent to it;
    - ehlo.test answers EHLO with 3000 lines, one of them 3000 octets
      long: one reply (RFC 5321 sets no limit on lines; the long line is
      cut, as Postfix does), the message delivered; its 250 to the end
      of data is 4000 octets long: delivered once, not taken as a failure
      and sent again;
    - close.test hangs up after the end of data without a reply: maybe
      delivered, maybe not, so deferred (4.4.2), never taken as sent nor
      bounced (RFC 5321 §6.1 lets a duplicate happen, not a loss);
    - limits.test announces RFC 9422 LIMITS RCPTMAX=7 MAILMAX=2: 20
      recipients go 7 a transaction, two transactions a session, the
      last 6 in a second session (every one delivered once);
    - closed.test greets with RFC 7504's "521 5.3.2" (it takes no mail):
      its only host refused us for good, the message bounces at once, as
      at Postfix, not retried for TERN_QUEUE_LIFETIME."""
    names = ["many.test", "dot.test", "slow.test", "stray.test", "ahead.test", "early.test",
             "rset.test", "ehlo.test", "close.test", "limits.test", "closed.test"]
    with World(lambda ips: zone(*(mx(ips, i, name=n) for i, n in enumerate(names))),
               nips=11, env={"TERN_QUEUE_TIMEOUT": "2"}) as w:
        many = w.receiver(0, max_rcpts=30)
        dot = w.receiver(1, dot_354=True, rcpt=lambda a: "550 5.1.1 no such user")
        slow = w.receiver(2, read_rate=300000)
        stray = w.receiver(3, data_extra="250 2.1.0 sender ok")
        ahead = w.receiver(4, talk_ahead="250 2.0.0 ok")
        w.receiver(5, early_reply="552 5.3.4 message too big for us")
        rset = w.receiver(6, pipelining=False,
                          rcpt=lambda a: "550 5.1.1 no such user" if a.startswith("gone") else "250 ok")
        body = "".join("line %06d of a long message, to be read slowly by the remote\r\n" % i
                       for i in range(16000))
        limits = w.receiver(9, extra_ehlo=["LIMITS RCPTMAX=7 MAILMAX=2"])
        w.send(["big@slow.test", "big@early.test"], subject="slow", body=body)
        w.send(["l%d@limits.test" % i for i in range(20)], subject="limits")
        closed = w.receiver(10, greeting="521 5.3.2 mx.closed.test does not accept mail")
        w.send(["carol@closed.test"], subject="closed")
        w.send(["rcpt%d@many.test" % i for i in range(100)], subject="many")
        w.send(["nobody@dot.test"], subject="dot")
        w.send(["gone%d@rset.test" % i for i in range(50)] + ["ok%d@rset.test" % i for i in range(10)],
               subject="rset")
        ehlo = w.receiver(7, extra_ehlo=["X-PAD-%d" % i for i in range(3000)] + ["X-LONG " + "y" * 3000],
                          data=lambda n: "250 2.0.0 queued " + "z" * 4000)
        close = w.receiver(8, stall="close")
        w.send(["carol@stray.test"], subject="stray 1")
        w.send(["carol@ahead.test"], subject="ahead")
        w.send(["carol@ehlo.test"], subject="ehlo")
        w.send(["carol@close.test"], subject="close")
        assert len(stray.wait_messages(1)) == 1
        w.send(["carol@stray.test"], subject="stray 2")

        bad = []  # every remote's finding, so one run shows them all

        def check(ok, what):
            if not ok:
                bad.append(what)

        # 30 + 30 + 30 + 10: each transaction of 50 takes 30, the 20 refused
        # open the next one.
        msgs = many.wait_messages(4, timeout=30)
        check(sorted(a for m in msgs for a in m["rcpts"]) == sorted(
            "rcpt%d@many.test" % i for i in range(100)), "many: %d delivered at once"
            % sum(len(m["rcpts"]) for m in msgs))
        check(many.connections == 1, "many: %d connections" % many.connections)
        check(max(_rcpts_per_tx(many.commands)) <= 50,
              "many: RCPTs per transaction %s" % _rcpts_per_tx(many.commands))

        deadline = time.time() + 15
        while "QUIT" not in [c.upper() for c in dot.commands] and time.time() < deadline:
            time.sleep(0.1)
        check(dot.lone_dots == 1, "dot: no lone dot after 354: %s" % dot.commands)
        check([c.upper() for c in dot.commands[-2:]] == ["DATA", "QUIT"],
              "dot: %s" % dot.commands)

        m = slow.wait_messages(1, timeout=30)
        check(len(m) == 1 and len(m[0]["data"]) > 1000000, "slow: not delivered")

        check(len(stray.wait_messages(2)) == 2, "stray: not both delivered")
        check(stray.connections == 2, "stray: %d connections" % stray.connections)

        try:
            out = w.wait_list("answered before being asked", timeout=10)
            check("carol@ahead.test" in out, "ahead: " + out)
        except AssertionError as e:
            bad.append("ahead: %s" % e)
        check(not any(c.upper().startswith("MAIL") for c in ahead.commands),
              "ahead: %s" % ahead.commands)
        log = w.srv.log_text()
        for d in ("many.test", "slow.test", "stray.test"):  # each went at the first try
            check(not any(d in l for l in log.splitlines() if "event=deferred" in l),
                  d + ": deferred: " + " / ".join(l for l in log.splitlines() if d in l)[-1500:])
        check(len(slow.messages) == 1, "slow: %d copies" % len(slow.messages))
        m = rset.wait_messages(1)
        check(len(m) == 1 and sorted(m[0]["rcpts"]) == sorted("ok%d@rset.test" % i for i in range(10)),
              "rset: %s" % [x["rcpts"] for x in m])
        verbs = [c.split(":")[0].split(" ")[0].upper() for c in rset.commands]
        check(_rcpts_per_tx(rset.commands)[:2] == [50, 10] and "RSET" in verbs and
              verbs.index("RSET") < verbs.index("DATA"), "rset: %s" % verbs)
        check(w.srv.wait_log(re.compile(r"event=bounced id=\d+ rcpt=big@early\.test .*552 5\.3\.4")),
              "early: " + " / ".join(l for l in log.splitlines() if "early.test" in l))
        check(len(ehlo.wait_messages(1)) == 1 and w.srv.wait_log(
            re.compile(r"event=sent id=\d+ rcpt=carol@ehlo\.test")), "ehlo: not delivered: " + " / ".join(
            l for l in w.srv.log_text().splitlines() if "ehlo.test" in l)[-1500:])
        try:
            out = w.wait_list("no answer to end of data", timeout=10)
            check("carol@close.test" in out, "close: " + out)
        except AssertionError as e:
            bad.append("close: %s" % e)
        log = w.srv.log_text()
        check(close.transactions >= 1 and not any(
            "close.test" in l for l in log.splitlines() if "event=bounced" in l or "event=sent" in l),
            "close: " + " / ".join(l for l in log.splitlines() if "close.test" in l)[-1500:])
        msgs = limits.wait_messages(3, timeout=20)
        got = sorted(a for m in msgs for a in m["rcpts"])
        check(got == sorted("l%d@limits.test" % i for i in range(20)), "limits: delivered %s" % got)
        sessions = []  # each session's RCPTs per transaction
        for c in limits.commands:
            if c.upper().startswith("EHLO"):
                sessions.append([])
            elif sessions:
                sessions[-1].append(c)
        per = [_rcpts_per_tx(x) for x in sessions]
        check(per == [[7, 7], [6]], "limits: RCPTs per transaction per session %s" % per)
        check(w.srv.wait_log(re.compile(r"event=bounced id=\d+ rcpt=carol@closed\.test .*521 5\.3\.2"))
              and closed.connections >= 1 and not closed.messages,
              "closed: " + " / ".join(l for l in w.srv.log_text().splitlines() if "closed.test" in l)[-1500:])
        assert bad == [], bad


def test_session_failures_try_the_next_mx_and_421_ends_the_session():
    """Session-level failures against hostile remotes (RFC 5321 §3.8,
    §5.1; Postfix's smtp_mx_address_limit and smtp_mx_session_limit):
    - shut.test (no PIPELINING, its only MX) refuses gone@ (550), takes
      a@, then answers b@'s RCPT with 421 and keeps reading: the client
      sends nothing more (QUIT at most), gone@ bounces with its 550, a@,
      b@ and c@ are deferred with the 421's text and code, not as
      "connection lost", and no DATA went;
    - backup.test's first MX answers every RCPT with 421: the second MX
      gets the mail in the same attempt (never deferred);
    - mailtmp.test's first MX answers MAIL with 451: the same;
    - limit.test has three MX, the first two answering MAIL with 451:
      two sessions is the limit, the third is not tried in that attempt,
      and the deferral carries the second's reply;
    - addr.test has six MX addresses, five refusing the connection: five
      addresses is the limit, the sixth is not tried;
    - early.test answers 250 after the body's first line, long before
      its end: not a delivery, deferred with a temporary status of its
      own (4.5.0), not the 250 (a delay DSN's Status must be 4.X.X);
    - tlsword.test takes STARTTLS, then answers MAIL with a 451 whose
      text says "TLS": deferred, not sent again at once in plaintext
      (only a failed handshake falls back to plaintext);
    - drop.test (no PIPELINING, its only MX) refuses gone@ with 550 and
      hangs up at the next RCPT: gone@ bounces with its 550, a@ is
      deferred (the 550 was not lost to "connection lost");
    - bye.test sends a 421 unasked right after its greeting (§3.8 lets
      a server say it is closing at any time): the deferral carries that
      421, not "answered before being asked"."""
    def records(ips):
        z = zone(mx(ips, 0, name="shut.test"))
        for dom, hosts in (("backup.test", [1, 2]), ("mailtmp.test", [3, 4]),
                           ("limit.test", [5, 6, 7]), ("addr.test", list(range(8, 14))),
                           ("early.test", [14]), ("tlsword.test", [15]), ("drop.test", [16]),
                           ("bye.test", [17])):
            z[dom] = {"MX": [[10 * (k + 1), "mx%d.%s" % (i, dom)] for k, i in enumerate(hosts)]}
            for i in hosts:
                z["mx%d.%s" % (i, dom)] = {"A": [ips[i]]}
        return z
    with World(records, nips=18, env={"TERN_QUEUE_RETRY_SCHEDULE": "30"}) as w:
        shut = w.receiver(0, pipelining=False, rcpt=lambda a: {
            "gone": "550 5.1.1 no such user", "b": "421 4.3.2 shutting down for maintenance"}
            .get(a.split("@")[0], "250 2.1.5 ok"))
        w.receiver(1, rcpt=lambda a: "421 4.7.0 too busy, try another host")
        backup = w.receiver(2)
        w.receiver(3, mail=lambda a: "451 4.3.0 queue full")
        mailtmp = w.receiver(4)
        w.receiver(5, mail=lambda a: "451 4.3.0 mx5 is full")
        w.receiver(6, mail=lambda a: "451 4.3.0 mx6 is full")
        third = w.receiver(7)
        sixth = w.receiver(13)
        w.send(["gone@shut.test", "a@shut.test", "b@shut.test", "c@shut.test"], subject="shut")
        w.send(["carol@backup.test"], subject="backup")
        w.send(["carol@mailtmp.test"], subject="mailtmp")
        w.send(["carol@limit.test"], subject="limit")
        w.send(["carol@addr.test"], subject="addr")
        w.receiver(14, early_reply="250 2.0.0 thanks, that will do", early_hold=True)
        tlsword = w.receiver(15, tls=True, mail=lambda a, n=[]: (
            "451 4.7.0 TLS session tickets exhausted, try later" if not n.append(1) and len(n) == 1
            else "250 2.1.0 ok"))
        w.send(["carol@tlsword.test"], subject="tlsword")

        def drop_rcpt(a):
            if a.startswith("gone@"):
                return "550 5.1.1 no such user"
            raise ValueError("the peer hangs up")  # _session closes the connection
        w.receiver(16, pipelining=False, rcpt=drop_rcpt)
        w.send(["gone@drop.test", "a@drop.test"], subject="drop")
        w.receiver(17, talk_ahead="421 4.3.2 closing down now")
        w.send(["carol@bye.test"], subject="bye")
        w.send(["carol@early.test"], subject="early", body="".join(
            # 6 MB: more than the socket buffers (4 MB at most) can hold
            "line %06d of a long message, answered long before its end\r\n" % i for i in range(100000)))

        bad = []

        def check(ok, what):
            if not ok:
                bad.append(what)

        def lines(dom):
            return " / ".join(l for l in w.srv.log_text().splitlines() if dom in l)[-1500:]

        for r in ("a", "b", "c"):
            check(w.srv.wait_log(re.compile(r"event=deferred id=\d+ rcpt=%s@shut\.test .*"
                                            r"421 4\.3\.2 shutting down" % r)),
                  "shut %s: %s" % (r, lines("shut.test")))
        check(w.srv.wait_log(re.compile(r"event=bounced id=\d+ rcpt=gone@shut\.test .*550 5\.1\.1")),
              "shut gone: " + lines("shut.test"))
        deadline = time.time() + 10
        while shut.open_sessions and time.time() < deadline:
            time.sleep(0.05)
        cmds = [c.split(":")[0].upper() for c in shut.commands]
        after = cmds[[c.lower() for c in shut.commands].index("rcpt to:<b@shut.test>") + 1:] \
            if "rcpt to:<b@shut.test>" in [c.lower() for c in shut.commands] else None
        check(after in ([], ["QUIT"]) and not shut.open_sessions, "shut: after the 421: %s" % after)
        check(len(backup.wait_messages(1)) == 1, "backup: not delivered: " + lines("backup.test"))
        check(len(mailtmp.wait_messages(1)) == 1, "mailtmp: not delivered: " + lines("mailtmp.test"))
        check(w.srv.wait_log(re.compile(r"event=deferred id=\d+ rcpt=carol@limit\.test .*mx6 is full")),
              "limit: " + lines("limit.test"))
        check(w.srv.wait_log(re.compile(r"event=deferred id=\d+ rcpt=carol@addr\.test .*connection refused")),
              "addr: " + lines("addr.test"))
        check(w.srv.wait_log(re.compile(r"event=deferred id=\d+ rcpt=carol@early\.test .*"
                                        r"status=\"4\.5\.0 unexpected reply: 250 2\.0\.0 thanks")),
              "early: " + lines("early.test"))
        check(w.srv.wait_log(re.compile(r"event=deferred id=\d+ rcpt=carol@tlsword\.test .*"
                                        r"451 4\.7\.0 TLS session tickets")),
              "tlsword: " + lines("tlsword.test"))
        check(tlsword.connections == 1 and not tlsword.messages,
              "tlsword: %d connections, %s" % (tlsword.connections,
                                               [m["tls"] for m in tlsword.messages]))
        check(w.srv.wait_log(re.compile(r"event=bounced id=\d+ rcpt=gone@drop\.test .*550 5\.1\.1"))
              and w.srv.wait_log(re.compile(r"event=deferred id=\d+ rcpt=a@drop\.test .*connection lost")),
              "drop: " + lines("drop.test"))
        check(w.srv.wait_log(re.compile(r"event=deferred id=\d+ rcpt=carol@bye\.test .*421 4\.3\.2 closing down")),
              "bye: " + lines("bye.test"))
        log = w.srv.log_text()
        check(not any("early.test" in l for l in log.splitlines() if "event=sent" in l),
              "early: sent: " + lines("early.test"))
        for d in ("backup.test", "mailtmp.test"):
            check(not any(d in l for l in log.splitlines() if "event=deferred" in l),
                  d + ": deferred: " + lines(d))
        check(third.connections == 0 and sixth.connections == 0,
              "limits: third MX %d, sixth address %d connections" % (third.connections, sixth.connections))
        assert bad == [], bad


def test_pipelined_replies_split_421_at_data_and_hangup_after_354():
    """The SMTP client against replies that arrive in pieces and remotes
    that go away mid-transaction (RFC 5321 §3.3, §3.8, §4.2.1, §4.5.3.1.5;
    RFC 2920 §3.1):
    - split.test offers PIPELINING and answers MAIL, each RCPT and the
      end of data with multi-line replies of 600-octet lines (over RFC
      5321's 512), each reply larger than the client's 16 KiB read, so
      every one reaches it in several reads cut mid-line: delivered once,
      at the first try, with every recipient;
    - data421.test's first MX answers the pipelined DATA with 421: no
      body goes there, and the second MX gets the mail in the same
      attempt (a 421 is the host's trouble, not the message's);
    - rcpt421.test (PIPELINING, its only MX) takes a@, answers b@ with 421
      and reads on: no body goes, a@ and b@ are deferred with the 421;
    - hang.test answers DATA with 354 and hangs up without reading the
      body: nothing is lost or bounced, and the next attempt delivers it
      once."""
    def big(code, n, mark):
        return "\r\n".join("%d-%s line %02d %s" % (code, mark, i, "x" * 580)
                            for i in range(n)) + "\r\n%d %s done" % (code, mark)
    def records(ips):
        z = zone(mx(ips, 0, name="split.test"), mx(ips, 3, name="rcpt421.test"),
                 mx(ips, 4, name="hang.test"))
        z["data421.test"] = {"MX": [[10, "mx1.data421.test"], [20, "mx2.data421.test"]]}
        z["mx1.data421.test"] = {"A": [ips[1]]}
        z["mx2.data421.test"] = {"A": [ips[2]]}
        return z
    with World(records, nips=5) as w:
        split = w.receiver(0, mail=lambda a: big(250, 40, "2.1.0 sender"),
                           rcpt=lambda a: big(250, 30, "2.1.5 " + a),
                           data=lambda n: big(250, 30, "2.0.0 queued"))
        first = w.receiver(1, data_cmd=lambda n: "421 4.3.2 going down, try the backup")
        second = w.receiver(2)
        r421 = w.receiver(3, rcpt=lambda a: "421 4.3.2 shutting down now"
                          if a.startswith("b@") else "250 2.1.5 ok")
        hang = w.receiver(4, hangup_354=1)
        w.send(["a@split.test", "b@split.test"], subject="split")
        w.send(["carol@data421.test"], subject="data421")
        w.send(["a@rcpt421.test", "b@rcpt421.test"], subject="rcpt421")
        w.send(["carol@hang.test"], subject="hang")

        bad = []

        def check(ok, what):
            if not ok:
                bad.append(what)

        def lines(dom):
            return " / ".join(l for l in w.srv.log_text().splitlines() if dom in l)[-1500:]

        msgs = split.wait_messages(1)
        check(len(msgs) == 1 and sorted(msgs[0]["rcpts"]) == ["a@split.test", "b@split.test"],
              "split: %s / %s" % ([m["rcpts"] for m in msgs], lines("split.test")))
        check(w.srv.wait_log(re.compile(r"event=sent id=\d+ rcpt=b@split\.test .*2\.0\.0 queued")),
              "split: " + lines("split.test"))
        msgs = second.wait_messages(1)
        check(len(msgs) == 1 and not first.messages,
              "data421: %d at the second, %d at the first: %s" % (
                  len(msgs), len(first.messages), lines("data421.test")))
        check(first.data_cmds == 1 and "DATA" in [c.upper() for c in first.commands],
              "data421: %s" % first.commands)
        for r in ("a", "b"):
            check(w.srv.wait_log(re.compile(r"event=deferred id=\d+ rcpt=%s@rcpt421\.test .*"
                                            r"421 4\.3\.2 shutting down now" % r)),
                  "rcpt421 %s: %s" % (r, lines("rcpt421.test")))
        check(not r421.messages and r421.transactions == 0, "rcpt421: %s" % r421.commands)
        msgs = hang.wait_messages(1)
        check(len(msgs) == 1 and hang.connections >= 2,
              "hang: %d messages, %d connections: %s" % (len(msgs), hang.connections,
                                                        lines("hang.test")))
        log = w.srv.log_text()
        for d in ("split.test", "data421.test"):  # each went at the first try
            check(not any(d in l for l in log.splitlines() if "event=deferred" in l),
                  d + ": deferred: " + lines(d))
        check(not any("event=bounced" in l for l in log.splitlines()), "bounced: " + " / ".join(
            l for l in log.splitlines() if "event=bounced" in l))
        check(len(hang.messages) == 1, "hang: %d copies" % len(hang.messages))
        assert bad == [], bad


def test_multi_line_reply_kept_whole_in_the_status():
    """A multi-line reply (RFC 5321 §4.2.1) is the remote's whole answer:
    its every line goes into the deferral and the bounce (Postfix keeps
    them all, joined), not its first line only; the enhanced code said
    again on each line is kept once. A reply of many long lines is cut
    at the status's bound (SQ_STATUS_MAX), not stored whole."""
    with World(lambda ips: zone(mx(ips, 0))) as w:
        w.receiver(0, rcpt=lambda a: {
            "tmp": "450-4.2.1 The user you are trying to contact is receiving mail\r\n"
                   "450-4.2.1 at a rate that prevents additional messages from being\r\n"
                   "450 4.2.1 delivered. Please resend your message at a later time.",
            "gone": "550-5.1.1 The email account that you tried to reach does not exist.\r\n"
                    "550 5.1.1 Please try double-checking the recipient's address.",
            "long": "\r\n".join("451-4.3.0 line %d %s" % (i, "x" * 400) for i in range(40))
                    + "\r\n451 4.3.0 last"}
            .get(a.split("@")[0], "250 2.1.5 ok"))
        w.send(["tmp@remote.test", "gone@remote.test", "long@remote.test", "ok@remote.test"],
               subject="multi")
        assert w.srv.wait_log(re.compile(
            r"event=deferred id=\d+ rcpt=tmp@remote\.test .*status=\"450 4\.2\.1 The user you are "
            r"trying to contact is receiving mail at a rate that prevents additional messages "
            r"from being delivered\. Please resend your message at a later time\.\"")), \
            [l for l in w.srv.log_text().splitlines() if "tmp@" in l]
        assert w.srv.wait_log(re.compile(
            r"event=bounced id=\d+ rcpt=gone@remote\.test .*status=\"550 5\.1\.1 The email account "
            r"that you tried to reach does not exist\. Please try double-checking")), \
            [l for l in w.srv.log_text().splitlines() if "gone@" in l]
        line = [l for l in w.srv.log_text().splitlines()
                if "event=deferred" in l and "long@remote.test" in l]
        assert line and "line 0 " in line[0] and "line 1 " in line[0], line
        assert len(line[0].split("status=", 1)[1]) < 600, line
        m, raw = dsn_of(w)
        diag = [b.get("diagnostic-code", "") for b in status_fields(m)
                if "gone@remote.test" in b.get("final-recipient", "")]
        assert diag and "Please try double-checking" in " ".join(diag[0].split()), diag


def test_rcpt_4xx_at_one_mx_tried_at_the_next_in_the_same_attempt():
    """A recipient the first MX answers with a 4xx while it takes the
    others goes to the next MX at once (Postfix keeps a soft-failed
    recipient for the backup host while one is left, smtp_mx_session_limit
    bounding the sessions); the accepted ones are not sent again there.
    A 5xx stays a bounce, and with no host left the 4xx defers."""
    def records(ips):
        z = {"split.test": {"MX": [[10, "mx0.split.test"], [20, "mx1.split.test"]]},
             "mx0.split.test": {"A": [ips[0]]}, "mx1.split.test": {"A": [ips[1]]}}
        z.update(zone(mx(ips, 2, name="one.test")))
        z.update({"cut.test": {"MX": [[10, "mx0.cut.test"], [20, "mx1.cut.test"]]},
                  "mx0.cut.test": {"A": [ips[3]]}, "mx1.cut.test": {"A": [ips[4]]}})
        z.update({"late.test": {"MX": [[10, "mx0.late.test"], [20, "mx1.late.test"]]},
                  "mx0.late.test": {"A": [ips[5]]}, "mx1.late.test": {"A": [ips[6]]}})
        return z
    with World(records, nips=7, env={"TERN_QUEUE_RETRY_SCHEDULE": "30"}) as w:
        # late.test's first MX answers the end of data with a 4xx: the
        # message was not taken there, the second MX gets it now.
        late0 = w.receiver(5, data=lambda n: "451 4.3.0 queue file write error")
        late1 = w.receiver(6)
        w.send(["a@late.test", "b@late.test"], subject="late")
        # cut.test's first MX refuses gone@ for good, takes a@, then says
        # 421 at b@: nothing was delivered there but gone@'s bounce, so
        # a@, b@ and c@ go to the second MX in the same attempt.
        cut0 = w.receiver(3, pipelining=False, rcpt=lambda a: {
            "gone": "550 5.1.1 no such user",
            "b": "421-4.3.2 closing for maintenance\r\n421 4.3.2 try the backup MX"}
            .get(a.split("@")[0], "250 2.1.5 ok"))
        cut1 = w.receiver(4)
        w.send(["gone@cut.test", "a@cut.test", "b@cut.test", "c@cut.test"], subject="cut")
        first = w.receiver(0, rcpt=lambda a: {
            "b": "451 4.3.0 <b@split.test> temporary lookup failure",
            "c": "452 4.2.2 mailbox of c is full here",
            "gone": "550 5.1.1 no such user"}.get(a.split("@")[0], "250 2.1.5 ok"))
        second = w.receiver(1)
        only = w.receiver(2, rcpt=lambda a: "451 4.3.0 not now" if a.startswith("b@") else "250 ok")
        w.send(["a@split.test", "b@split.test", "c@split.test", "gone@split.test"], subject="split")
        w.send(["a@one.test", "b@one.test"], subject="one")
        got1 = first.wait_messages(1)
        got2 = second.wait_messages(1)
        assert [m["rcpts"] for m in got1] == [["a@split.test"]], got1
        assert [sorted(m["rcpts"]) for m in got2] == [["b@split.test", "c@split.test"]], got2
        assert w.srv.wait_log(re.compile(r"event=bounced id=\d+ rcpt=gone@split\.test .*550 5\.1\.1"))
        assert w.srv.wait_log(re.compile(r"event=deferred id=\d+ rcpt=b@one\.test .*451 4\.3\.0 not now"))
        assert [m["rcpts"] for m in only.wait_messages(1)] == [["a@one.test"]]
        # The peers have the mail before tern reads their 250 and logs it.
        sent_split = re.compile(r"(?:event=sent [^\n]*split\.test(?:.|\n)*?){3}")
        assert w.srv.wait_log(sent_split), w.srv.log_text()
        log = w.srv.log_text()
        assert not [l for l in log.splitlines() if "event=deferred" in l and "split.test" in l], log
        assert len([l for l in log.splitlines() if "event=sent" in l and "split.test" in l]) == 3, log
        assert second.connections == 1 and len(second.messages) == 1
        got = cut1.wait_messages(1)
        assert [sorted(m["rcpts"]) for m in got] == [["a@cut.test", "b@cut.test", "c@cut.test"]], \
            [l for l in w.srv.log_text().splitlines() if "cut.test" in l]
        assert not cut0.messages
        got = late1.wait_messages(1)
        assert [sorted(m["rcpts"]) for m in got] == [["a@late.test", "b@late.test"]], \
            [l for l in w.srv.log_text().splitlines() if "late.test" in l]
        assert late0.transactions == 1 and not late0.messages
        assert w.srv.wait_log(re.compile(r"event=bounced id=\d+ rcpt=gone@cut\.test .*550 5\.1\.1"))
        assert not [l for l in w.srv.log_text().splitlines()
                    if "event=deferred" in l and ("cut.test" in l or "late.test" in l)]


class TricklePeer:
    """An SMTP server on ip:port that takes the envelope at once, then
    reads the message a little at a time (rate octets a second, in small
    reads from a small window): a remote that holds a delivery slot by
    reading slowly. .ended is set when it read the end of data."""

    def __init__(self, ip, port, rate):
        import threading
        self.rate, self.ended, self.stopping = rate, False, False
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.bind((ip, port))
        self.sock.listen(4)
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        try:
            c, _ = self.sock.accept()
        except OSError:
            return
        c.settimeout(120)
        f = c.makefile("rb", buffering=0)
        try:
            c.sendall(b"220 trickle.test ESMTP\r\n")
            line = b""
            while not line.upper().startswith(b"DATA"):
                line = b""
                while not line.endswith(b"\n"):
                    line += c.recv(1)
                verb = line[:4].upper()
                c.sendall({b"EHLO": b"250-trickle.test\r\n250 ENHANCEDSTATUSCODES\r\n",
                           b"DATA": b"354 go ahead\r\n"}.get(verb, b"250 2.0.0 ok\r\n"))
            got = b""
            while not got.endswith(b"\r\n.\r\n") and not self.stopping:
                chunk = c.recv(max(1, self.rate // 10))
                if not chunk:
                    return
                got += chunk
                time.sleep(0.1)
            self.ended = True
            c.sendall(b"250 2.0.0 taken at last\r\n")
            c.recv(100)
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.stopping = True
        self.sock.close()


def test_remote_reading_the_end_of_data_slowly_does_not_hold_the_slot():
    """Once the end of data is queued, the rest still in our buffer and the
    socket's must go as fast as the body had to (a block, 64 KiB, per
    TERN_QUEUE_TIMEOUT; Postfix bounds each write by
    smtp_data_xfer_timeout): a remote reading 4 KB a second (64 KiB in
    3 s is due here) was given another timeout for any octet it took, so
    it held the delivery as long as it liked (13 s here, where it then
    got the message; days with 4 MB queued at the default timeout and an
    octet per timeout). Now the delivery is deferred with a timeout."""
    with World(lambda ips: zone(mx(ips, 0))) as w:
        peer = TricklePeer(w.ips[0], w.port, 4000)
        try:
            body = "".join("line %05d of a message read slowly by the remote\r\n" % i
                           for i in range(1000))  # 52 KB: queued at once, then trickled
            w.send(["carol@remote.test"], subject="trickle", body=body)
            assert w.srv.wait_log(re.compile(
                r"event=deferred id=\d+ rcpt=carol@remote\.test .*timeout after end of data"),
                timeout=40), [l for l in w.srv.log_text().splitlines() if "remote.test" in l]
            assert not peer.ended
        finally:
            peer.stop()


def test_rcpt_4xx_on_a_kept_connection_tried_on_a_fresh_one_and_the_next_mx():
    """A kept (reused) session that puts a recipient off with a 4xx is no
    last word: that session is one connection among the destination's,
    opened before the message existed. As Postfix does after a cached
    session fails a recipient softly, the put-off recipient goes through a
    fresh lookup and connection in the same attempt (here: the first MX
    again, which says 451 again, then the backup MX, which takes it),
    while the recipient the kept session took is not sent twice."""
    def records(ips):
        return {"kept.test": {"MX": [[10, "mx0.kept.test"], [20, "mx1.kept.test"]]},
                "mx0.kept.test": {"A": [ips[0]]}, "mx1.kept.test": {"A": [ips[1]]}}
    with World(records, nips=2, env={"TERN_QUEUE_RETRY_SCHEDULE": "30"}) as w:
        first = w.receiver(0, rcpt=lambda a: "451 4.3.0 <%s> try later" % a
                           if a.startswith("b@") else "250 2.1.5 ok")
        second = w.receiver(1)
        w.send(["a@kept.test"], subject="opens")
        assert [m["rcpts"] for m in first.wait_messages(1)] == [["a@kept.test"]]
        assert w.srv.wait_log(re.compile(r"event=sent id=\d+ rcpt=a@kept\.test"))
        w.send(["c@kept.test", "b@kept.test"], subject="kept")
        got = second.wait_messages(1)
        log = lambda: [l for l in w.srv.log_text().splitlines() if "kept.test" in l]
        assert [m["rcpts"] for m in got] == [["b@kept.test"]], log()
        assert [m["rcpts"] for m in first.wait_messages(2)] == [["a@kept.test"], ["c@kept.test"]]
        # The second message went on the kept session (one EHLO for both).
        assert [c.split(" ")[0] for c in first.commands[:8]].count("EHLO") == 1, first.commands
        assert w.srv.wait_log(re.compile(r"event=sent id=\d+ rcpt=b@kept\.test")), log()
        assert w.srv.wait_log("event=rcpts_to_new_session"), log()
        assert not [l for l in log() if "event=deferred" in l], log()
        assert len(first.messages) == 2 and len(second.messages) == 1


def test_quit_waits_for_the_remotes_221():
    """The client says QUIT and reads the 221 before it closes (bounded),
    as Postfix's does: closing right after QUIT has the remote log a lost
    connection ("lost connection after QUIT"). Both ways a session ends:
    a kept one idle past its time, and one that quits at once after a
    refused transaction. The remote answers QUIT half a second late and
    looks, before it answers, whether the client is still there."""
    with World(lambda ips: zone(mx(ips, 0), mx(ips, 1, name="refuses.test"))) as w:
        r = w.receiver(0, quit_delay=0.5)
        no = w.receiver(1, quit_delay=0.5, rcpt=lambda a: "550 5.1.1 no such user")
        w.send(["carol@remote.test"], subject="kept then quit")
        w.send(["dave@refuses.test"], subject="refused")
        assert len(r.wait_messages(1)) == 1
        deadline = time.time() + 20
        while time.time() < deadline and not (r.quits and no.quits):
            time.sleep(0.1)
        assert no.quits == ["open"], (no.quits, no.commands)
        assert r.quits == ["open"], (r.quits, r.commands)
        assert w.srv.wait_log(re.compile(r"event=bounced id=\d+ rcpt=dave@refuses\.test"))


def test_utf8_header_without_smtputf8_declared_to_a_remote_offering_it():
    """A message whose header section has raw UTF-8 (a MUA's Subject:
    café, submitted without the SMTPUTF8 parameter, which tern takes as
    Postfix does) needs SMTPUTF8 on the next hop: RFC 6531 §3.4, the
    client MUST supply it when the message requires the extension, and a
    UTF-8 header field is valid only under it (RFC 6532 §3). To a remote
    offering it, MAIL carries SMTPUTF8; a message whose header is ASCII
    (8-bit body only) still goes without."""
    with World(lambda ips: zone(mx(ips, 0))) as w:
        r = w.receiver(0)
        w.send(["carol@remote.test"], subject="caf\u00e9 au lait")
        m = r.wait_messages(1)[0]
        assert "SMTPUTF8" in m["mail_line"].upper(), m["mail_line"]
        assert "Subject: caf\u00e9 au lait".encode() in m["data"], m["data"][:400]
        w.send(["carol@remote.test"], subject="plain", body="caf\u00e9\r\n")
        m = r.wait_messages(2)[1]
        assert "SMTPUTF8" not in m["mail_line"].upper(), m["mail_line"]
        assert "BODY=8BITMIME" in m["mail_line"].upper(), m["mail_line"]


def test_quit_after_a_refused_greeting_or_mail():
    """A session that ends on the remote's refusal (a 554 greeting, a 4xx
    to MAIL before any verdict) ends with QUIT and its 221 too, not a
    hang-up: RFC 5321 §3.1 has a server that greets with 554 wait for the
    client's QUIT, and Postfix's client says QUIT after such replies. The
    remote answers QUIT half a second late and looks whether the client
    is still there; the mail goes on as before (bounced: the 554 host is
    the last; the MAIL 451 one gives way to the next MX)."""
    def records(ips):
        z = zone(mx(ips, 0, name="nogreet.test"))
        z.update({"busy.test": {"MX": [[10, "mx0.busy.test"], [20, "mx1.busy.test"]]},
                  "mx0.busy.test": {"A": [ips[1]]}, "mx1.busy.test": {"A": [ips[2]]}})
        return z
    with World(records) as w:
        no = w.receiver(0, quit_delay=0.5, greeting="554 5.7.1 no SMTP service here")
        busy = w.receiver(1, quit_delay=0.5, pipelining=False,
                          mail=lambda a: "451 4.3.2 busy, try later")
        backup = w.receiver(2)
        w.send(["dave@nogreet.test"], subject="greeting")
        w.send(["erin@busy.test"], subject="busy")
        assert [m["rcpts"] for m in backup.wait_messages(1)] == [["erin@busy.test"]]
        assert w.srv.wait_log(re.compile(r"event=bounced id=\d+ rcpt=dave@nogreet\.test"))
        deadline = time.time() + 10
        while time.time() < deadline and not (no.quits and busy.quits):
            time.sleep(0.1)
        assert no.commands == ["QUIT"] and no.quits == ["open"], (no.commands, no.quits)
        assert busy.quits == ["open"], (busy.commands, busy.quits)
        assert busy.commands[-2:] == ["MAIL FROM:<alice@example.test>", "QUIT"], busy.commands


def test_notice_names_the_host_whose_reply_ended_the_session():
    """A reply that ends a session (a 554 greeting at the last MX, a 4xx
    to MAIL there) is the remote's diagnostic: the notice names that host
    as the Remote-MTA and gives its reply, without our note of when it
    came, as the Diagnostic-Code (RFC 3464 §2.3.5, §2.3.6), as Postfix's
    does ("Diagnostic-Code: smtp; 554 5.7.1 ..." after a greeting it
    refused). Before, the recipient was recorded with no host: the
    failure notice for the 554 and the delay notice for the 451 had
    neither field, only "Status"."""
    def records(ips):
        return zone(mx(ips, 0, name="nogreet.test"), mx(ips, 1, name="grey.test"))
    with World(records, env={"TERN_QUEUE_DELAY_NOTICE": "1s"}) as w:
        w.receiver(0, greeting="554 5.7.1 no SMTP service here")
        w.receiver(1, mail=lambda a: "451 4.7.1 greylisted, try later")
        w.send(["dave@nogreet.test"], subject="greeting")
        w.send(["erin@grey.test"], subject="grey")
        msgs = w.inbox(ALICE, 2)
        assert len(msgs) == 2, msgs
        blocks = {}
        for uid, _ in msgs:
            m = email.message_from_bytes(w.srv.raw(ALICE, uid), policy=email.policy.default)
            for b in status_fields(m)[1:]:
                blocks[b["final-recipient"]] = b
        dave, erin = blocks["rfc822; dave@nogreet.test"], blocks["rfc822; erin@grey.test"]
        assert dave["action"] == "failed" and dave["status"] == "5.7.1", dave
        assert dave.get("remote-mta") == "dns; mx0.nogreet.test", dave
        assert dave.get("diagnostic-code") == "smtp; 554 5.7.1 no SMTP service here", dave
        assert erin["action"] == "delayed" and erin["status"] == "4.7.1", erin
        assert erin.get("remote-mta") == "dns; mx1.grey.test", erin
        assert erin.get("diagnostic-code") == "smtp; 451 4.7.1 greylisted, try later", erin



def test_failure_notice_returns_a_large_message_as_its_header():
    """RET=FULL returns the whole message only up to 100 KB: a larger one
    comes back as its header (text/rfc822-headers), the text part saying
    its size. Before, it came back whole (message/rfc822) up to 64 MB:
    an 8 MB message made an 8.39 MB notice, over many providers' limits,
    and the bounce was lost."""
    with World(lambda ips: zone(mx(ips, 0, name="big.test"))) as w:
        w.receiver(0, rcpt=lambda a: "550 5.1.1 no such user here")
        body = "".join("line %06d of a large message ......................................\r\n"
                       % i for i in range(2000))
        w.send(["carol@big.test"], subject="large", body=body, mail_options=["RET=FULL"])
        m, raw = dsn_of(w)
        parts = [p.get_content_type() for p in m.iter_parts()]
        assert parts == ["text/plain", "message/delivery-status", "text/rfc822-headers"], parts
        assert b"Subject: large" in raw and b"line 000001" not in raw, len(raw)
        text = list(m.iter_parts())[0].get_content()
        assert re.search(r"Your message was \d+ bytes, more than the 102400 a notice\s+"
                         r"returns: only its header is attached below", text), text
        assert len(raw) < 8000, len(raw)


def test_delay_notice_quotes_an_unexpected_reply():
    """A 3xx to RCPT settles nothing: tern defers with "4.5.0 unexpected
    reply: 354 ...", and the delay notice gives the remote's reply as the
    Diagnostic-Code (RFC 3464 §2.3.6). Before, it had only "Status:
    4.5.0" and the Remote-MTA."""
    with World(lambda ips: zone(mx(ips, 0, name="odd.test")),
               env={"TERN_QUEUE_DELAY_NOTICE": "1s"}) as w:
        w.receiver(0, rcpt=lambda a: "354 go ahead")
        w.send(["dave@odd.test"], subject="odd")
        m, raw = dsn_of(w)
        dave = status_fields(m)[1]
        assert dave["action"] == "delayed" and dave["status"] == "4.5.0", dave
        assert dave.get("remote-mta") == "dns; mx0.odd.test", dave
        # The reply as the remote sent it, no enhanced code put into it
        # (RFC 3464 §2.3.6). Before: "smtp; 354 4.0.0 go ahead".
        assert dave.get("diagnostic-code") == "smtp; 354 go ahead", dave


def test_delay_notice_of_an_untried_message_names_no_last_attempt_date():
    """Messages for a dead destination beyond the 20 sessions it gets are
    deferred untried once it is found dead (reason=destination_unreachable):
    their delay notices have no Last-Attempt-Date (RFC 3464 §2.3.7: when
    delivery was last tried; the queue keeps no time of earlier tries),
    those of the messages tried have one. Before, every notice gave its
    own time there."""
    env = {"TERN_QUEUE_RETRY_SCHEDULE": "1h", "TERN_QUEUE_DELAY_NOTICE": "1s"}
    with World(lambda ips: zone(mx(ips, 0, name="dead.test")), nips=1, env=env) as w:
        dead = socket.socket()  # takes connections, never greets
        dead.bind((w.ips[0], w.port))
        dead.listen(64)
        try:
            # All queued at once (pipelined), before the first session
            # times out and finds the destination dead.
            n = 24
            submit_pipelined(w, n, "dead.test")
            got = w.inbox(ALICE, n, timeout=60)
            assert len(got) == n, len(got)
            untried = set(re.findall(r"event=deferred id=(\d+) domain=dead\.test "
                                     r"reason=destination_unreachable", w.srv.log_text()))
            without = 0
            for uid, _ in got:
                m = email.message_from_bytes(w.srv.raw(ALICE, uid), policy=email.policy.default)
                b = status_fields(m)[1]
                assert b["action"] == "delayed", b
                without += "last-attempt-date" not in b
            assert untried and without == len(untried), (without, untried)
        finally:
            dead.close()


def test_recipient_the_store_cannot_resolve_for_now_stays_pending_here():
    """A queued recipient of ours whose lookup fails for a moment (the
    store's read answers an error: STORE_RCPT_TEMPFAIL) is neither ours nor
    outside for that attempt: it stays pending (4.3.0, as Postfix says for
    a lookup failure), never goes to our own domain's MX (a sink here),
    never bounces, and is delivered here once the store answers. A notice
    to a local sender met so is queued, not dropped, and arrives likewise.
    TEMPFAIL comes from the sanitizer build's knob
    TERN_TEST_RESOLVE_FAIL_FILE (the resolver's own error path for the
    address the file names); the plain build skips."""
    if not SANITIZED:
        return "skip"  # the failing lookup is a sanitizer build's test knob
    fail = os.path.join(tempfile.mkdtemp(prefix="tern-resolve-"), "fail")
    joy = "joy@example.test"

    def failing(addr):
        with open(fail, "w") as f:
            f.write(addr + "\n")

    def pending_with(addr, status):
        out = w.queue_list()
        return [ln for ln in out.splitlines()
                if ln.strip().startswith("<%s>" % addr) and "pending" in ln and status in ln]

    def wait_for(what, timeout=20):
        deadline = time.time() + timeout
        while not what() and time.time() < deadline:
            time.sleep(0.2)
        return what()

    with World(lambda ips: zone(mx(ips, 0), mx(ips, 1, name="example.test")), nips=2,
               imap=True, env={"TERN_TEST_RESOLVE_FAIL_FILE": fail}) as w:
        # remote.test refuses the recipient: its bounce is the notice; the
        # refusal is where the sender's lookup starts failing.
        def refuse(addr):
            failing(ALICE)
            return "550 5.1.1 no such user"
        w.receiver(0, rcpt=refuse)
        sink = w.receiver(1)  # example.test's MX: must get nothing
        w.srv.cli("account", "add", joy, "--quota", "8000", input="pw-joy-1\n")
        w.send([joy], subject="old", body="o" * 5000 + "\r\n")
        assert len(w.inbox(joy, 1)) == 1
        # Too big for the room left: it waits in the queue (4.2.2).
        w.send([joy], subject="waits", body="w" * 4000 + "\r\n")
        assert wait_for(lambda: pending_with(joy, "4.2.2")), w.queue_list()
        failing(joy)
        m = imaplib.IMAP4_SSL("127.0.0.1", w.srv.imaps_port, ssl_context=ctx(), timeout=10)
        assert m.login(joy, "pw-joy-1")[0] == "OK"
        assert m.select("INBOX")[0] == "OK"
        assert m.store("1:*", "+FLAGS", "(\\Deleted)")[0] == "OK"
        assert m.expunge()[0] == "OK"
        m.logout()
        # Room now, but no answer from the store: pending with 4.3.0,
        # attempt after attempt, and nowhere else.
        assert wait_for(lambda: pending_with(joy, "4.3.0")), w.queue_list()
        n = w.srv.log_text().count("event=rcpt_unresolved")
        assert wait_for(lambda: w.srv.log_text().count("event=rcpt_unresolved") > n)
        assert pending_with(joy, "4.3.0"), w.queue_list()
        assert w.srv.messages(joy) == [] and w.srv.messages(ALICE) == []
        os.unlink(fail)
        assert wait_for(lambda: any("waits" in subj for _, subj in w.srv.messages(joy))), \
            (w.srv.messages(joy), w.queue_list())
        assert w.wait_queue_empty(), w.queue_list()

        # The bounce to a sender the store cannot place now: queued, from <>.
        w.send(["gone@remote.test"], subject="bounces")
        assert wait_for(lambda: pending_with(ALICE, "4.3.0")), w.queue_list()
        assert "from <>" in w.queue_list()
        assert w.srv.messages(ALICE) == []
        os.unlink(fail)
        msgs = w.inbox(ALICE, 1)
        assert len(msgs) == 1, msgs
        assert b"Final-Recipient: rfc822; gone@remote.test" in w.srv.raw(ALICE, msgs[0][0])
        assert w.wait_queue_empty(), w.queue_list()
        assert sink.messages == [] and sink.connections == 0, sink.commands
