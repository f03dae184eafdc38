"""Delivery status notifications side by side with Postfix's.

The same failing (or relayed, or delayed) message goes once through tern
(submission, then its queue) and once through a private Debian Postfix
(mailpeers.PostfixPeer, relaying everything to the same scripted remote,
its bounces delivered into its own Maildir); both notices are parsed with
Python's email package and their RFC 3464 fields compared: the report's
structure (RFC 6522 multipart/report, its three parts per RET), the
per-message fields (Reporting-MTA, Original-Envelope-Id, Arrival-Date) and
each recipient's block (Final-Recipient, Original-Recipient from ORCPT,
Action, Status, Remote-MTA, Diagnostic-Code, Will-Retry-Until). Where the
two may differ the test names the difference and what tern does.

One tern, one Postfix and one remote serve the whole module. The remote
answers RCPT for gone* with a 550 and for busy* with a 450; both MTAs give
up on a message after a few seconds and warn of a delay after one or two
(TERN_QUEUE_DELAY_NOTICE, Postfix's delay_warning_time, which Postfix
leaves off by default)."""
import atexit
import email
import email.policy
import re
import smtplib
import subprocess
import time

from mailpeers import PostfixPeer, free_port_on, unique_ips
from test_queue import ALICE, ALICE_PW, World, ctx, mx, zone

PF_SENDER = "alice@client.test"
PF_LOCAL = "bob@client.test"  # Postfix's local recipient, as bob@example.test is tern's
LIFETIME = 8  # seconds: both MTAs' queue lifetime
_st = {}


def remote_rcpt(addr):
    if addr.startswith("gone"):
        return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % addr
    if addr.startswith("busy"):
        return "450 4.2.0 <%s>: mailbox busy, try later" % addr
    return "250 2.1.5 ok"


def peers():
    """(world, postfix, receiver), started on first use, shared."""
    if _st:
        return _st["w"], _st["pf"], _st["r"]
    env = {"TERN_QUEUE_DELAY_NOTICE": "2", "TERN_QUEUE_LIFETIME": str(LIFETIME),
           "TERN_QUEUE_RETRY_SCHEDULE": "1"}
    # dsn.test's exchanger (ips[2]) offers DSN; the others do not.
    w = World(lambda ips: zone(mx(ips, 0), mx(ips, 0, name="other.test"), mx(ips, 2, name="dsn.test")),
              nips=3, env=env)
    atexit.register(w.close)
    r = w.receiver(0, rcpt=remote_rcpt)
    rd = w.receiver(2, rcpt=remote_rcpt, dsn=True)
    pf = PostfixPeer(w.ips[1], free_port_on([w.ips[1]]), "client.test",
                     mailboxes=[PF_SENDER, PF_LOCAL],
                     main_extra="relayhost = [%s]:%d\n"
                                "transport_maps = inline:{dsn.test=smtp:[%s]:%d}\n"
                                "smtp_tls_security_level = none\n"
                                "queue_run_delay = 1s\n"
                                "minimal_backoff_time = 1s\n"
                                "maximal_backoff_time = 1s\n"
                                "maximal_queue_lifetime = %ds\n"
                                "bounce_queue_lifetime = %ds\n"
                                "delay_warning_time = 1s\n"
                                % (w.ips[0], w.port, w.ips[2], w.port, LIFETIME, LIFETIME))
    atexit.register(pf.stop)
    pf.start()
    _st.update(w=w, pf=pf, r=r, rd=rd)
    return w, pf, r


def message(subject, sender):
    return ("From: %s\r\nTo: undisclosed-recipients:;\r\nSubject: %s\r\n"
            "Message-ID: <%x.dsndiff@client.test>\r\n\r\nThe body of %s.\r\n"
            % (sender, subject, int(time.time() * 1e6), subject)).encode()


def send(c, sender, rcpts, subject, mail_options=(), header_from=None):
    """One transaction on the open client c: rcpts is [(addr, [options])]."""
    code, reply = c.mail(sender, list(mail_options))
    assert code == 250, reply
    for addr, opts in rcpts:
        code, reply = c.rcpt(addr, list(opts))
        assert code == 250, (addr, reply)
    code, reply = c.data(message(subject, header_from or sender))
    assert code == 250, reply


def tern_client():
    """A submission session of alice@example.test's on tern."""
    c = smtplib.SMTP("127.0.0.1", peers()[0].srv.submission_port, timeout=20)
    c.starttls(context=ctx())
    c.ehlo()
    c.login(ALICE, ALICE_PW)
    return c


def postfix_client():
    """A session on Postfix's port 25, from its own network (relaying)."""
    pf = peers()[1]
    c = smtplib.SMTP(pf.ip, pf.port, timeout=20)
    c.ehlo()
    return c


def send_both(rcpts, subject, mail_options=()):
    """The same transaction to tern (submission, as alice@example.test)
    and to Postfix (port 25 from its network, as alice@client.test)."""
    c = tern_client()
    send(c, ALICE, rcpts, subject, mail_options)
    c.quit()
    c = postfix_client()
    send(c, PF_SENDER, rcpts, subject, mail_options)
    c.quit()


def tern_notices():
    w = _st["w"]
    return [w.srv.raw(ALICE, i) for i, _ in w.srv.messages(ALICE)]


def notices_about(get, subject, n=1, timeout=30):
    """The notices get() returns that quote the message with subject: at
    least n, waited for."""
    deadline = time.time() + timeout
    found = []
    while time.time() < deadline:
        found = [raw for raw in get() if b"multipart/report" in raw and
                 ("Subject: %s\r\n" % subject).encode() in
                 raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")]
        if len(found) >= n:
            return found
        time.sleep(0.2)
    return found


def postfix_notices_flushed():
    """Postfix's notices, its deferred queue flushed (postqueue -f) at
    most every 2 s: under load its queue manager was seen to leave an
    expired message unscanned for over 30 s after one attempt overlapped
    the next scan ("skipped, still being delivered")."""
    pf = _st["pf"]
    if time.time() - _st.get("flushed", 0) >= 2:
        _st["flushed"] = time.time()
        subprocess.run(["/usr/sbin/postqueue", "-c", pf.conf, "-f"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return pf.maildir_messages()


def both(subject, n=1):
    """(tern's notices, Postfix's notices) about the message, n of each."""
    t = notices_about(tern_notices, subject, n)
    p = notices_about(postfix_notices_flushed, subject, n)
    assert len(t) >= n and len(p) >= n, (subject, len(t), len(p), _st["w"].srv.log_text()[-3000:],
                                         _st["pf"].log_text()[-3000:])
    return t, p


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def report(raw):
    """{"type", "report_type", "parts", "message": {field: value},
    "rcpts": [{field: value}], "text", "returned"}: a notice taken apart.
    Field names in lower case; values with folding and the space after
    a type's ';' made uniform."""
    m = parse(raw)
    out = {"type": m.get_content_type(), "report_type": m.get_param("report-type"),
           "parts": [p.get_content_type() for p in m.iter_parts()], "subject": str(m["Subject"]),
           "auto": str(m.get("Auto-Submitted", "")), "cte": str(m.get("Content-Transfer-Encoding", ""))}
    parts = list(m.iter_parts())
    out["text"] = parts[0].get_content()
    if parts[1].get_content_type() == "message/global-delivery-status":
        # RFC 6533's UTF-8 fields: the email package does not parse them.
        text = raw.split(b"Content-Type: message/global-delivery-status", 1)[1]
        text = text.replace(b"\r\n", b"\n").split(b"\n\n", 1)[1].split(b"\n--", 1)[0]
        text = re.sub(r"\n[ \t]+", " ", text.decode("utf-8"))
        blocks = [dict((k.strip().lower(), norm(v)) for k, v in
                       (line.split(":", 1) for line in block.splitlines() if ":" in line))
                  for block in text.strip("\n").split("\n\n")]
    else:
        blocks = [dict((k.lower(), norm(str(v))) for k, v in b.items())
                  for b in parts[1].get_payload()]
    out["message"], out["rcpts"] = blocks[0], blocks[1:]
    third = parts[2]
    if third.get_content_type() == "message/rfc822":
        out["returned"] = third.get_payload()[0].as_bytes()
    elif third.get_content_type().startswith("message/global"):
        out["returned"] = raw.split(b"Content-Type: " + third.get_content_type().encode(), 1)[1]
    else:
        out["returned"] = third.get_payload(decode=True) or third.get_content().encode()
    return out


def norm(v):
    v = " ".join(v.split())
    if ";" in v:
        t, rest = v.split(";", 1)
        v = t.strip().lower() + "; " + rest.strip()
    return v


# Postfix's own fields (X-Postfix-*), and one RFC 3464 optional field
# tern writes and Postfix does not: Last-Attempt-Date (§2.3.7).
def fields(block):
    return sorted(k for k in block if not k.startswith("x-") and k != "last-attempt-date")


def postfix_orcpt(t, p):
    """Postfix writes an Original-Recipient for every recipient, the RCPT
    TO address when the sender gave no ORCPT; tern only from an ORCPT
    (RFC 3464 §2.3.1: the field is optional, for the address the sender
    gave in the envelope, "such as by" ORCPT). p without that one."""
    if "original-recipient" in p and "original-recipient" not in t:
        # (the type rfc822 also for a UTF-8 address, where Final-Recipient says utf-8)
        assert p["original-recipient"].split("; ", 1)[1] == p["final-recipient"].split("; ", 1)[1], p
        p = dict(p)
        del p["original-recipient"]
    return p


def same_reply(a, b):
    """Replies equal but for the remote's queue id (its count of messages)."""
    return re.sub(r"queued as \d+$", "queued as N", a) == re.sub(r"queued as \d+$", "queued as N", b)


def compare_blocks(t, p, same=("final-recipient", "original-recipient", "action", "status")):
    """Per-recipient blocks: the same fields, the same values of those in
    same, the Diagnostic-Code the remote's own reply in both, Remote-MTA
    of type dns in both (the host differs: Postfix names its relay host
    by address, tern the MX host)."""
    key = lambda b: b["final-recipient"]
    t, p = sorted(t, key=key), sorted(p, key=key)
    assert [key(b) for b in t] == [key(b) for b in p], (t, p)
    for a, b in zip(t, p):
        b = postfix_orcpt(a, b)
        assert fields(a) == fields(b), (a, b)
        for f in same:
            assert a.get(f) == b.get(f), (f, a, b)
        if "diagnostic-code" in b:
            assert same_reply(a["diagnostic-code"], b["diagnostic-code"]), (a, b)
        if "remote-mta" in b:
            assert a["remote-mta"].startswith("dns; ") and b["remote-mta"].startswith("dns; "), (a, b)


def test_failure_ret_full_envid_orcpt_two_recipients():
    """Two recipients refused with 550 at RCPT, on two domains, one with an
    ORCPT in xtext: one notice each, listing both; RET=FULL returns the
    whole message as message/rfc822; ENVID comes back decoded."""
    subject = "dsn diff failure full"
    send_both([("gone1@remote.test", ["NOTIFY=FAILURE", "ORCPT=rfc822;Gone1+2Bx@remote.test"]),
               ("gone2@other.test", [])],
              subject, mail_options=["RET=FULL", "ENVID=diff+2Benv-1"])
    t, p = both(subject)
    assert len(t) == 1, len(t)
    t, p = report(t[0]), report(p[0])
    for x in (t, p):
        assert x["type"] == "multipart/report" and x["report_type"] == "delivery-status", x
        assert x["parts"] == ["text/plain", "message/delivery-status", "message/rfc822"], x
        assert b"The body of %s." % subject.encode() in x["returned"], x["returned"]
        assert x["auto"] == "auto-replied", x
    assert fields(t["message"]) == fields(p["message"]), (t["message"], p["message"])
    assert t["message"]["original-envelope-id"] == p["message"]["original-envelope-id"] \
        == "diff+env-1", (t["message"], p["message"])
    assert t["message"]["reporting-mta"].startswith("dns; ") and \
        p["message"]["reporting-mta"].startswith("dns; ")
    compare_blocks(t["rcpts"], p["rcpts"])
    by = dict((b["final-recipient"], b) for b in t["rcpts"])
    assert by["rfc822; gone1@remote.test"]["original-recipient"] == "rfc822; Gone1+x@remote.test", by
    assert by["rfc822; gone1@remote.test"]["status"] == "5.1.1", by
    # The text part is for a person: it says the message was not
    # delivered, and never that it was.
    for x in (t, p):
        text = " ".join(x["text"].split())
        assert "could not be delivered" in text, text
        assert "successfully delivered" not in text, text
        assert "gone1@remote.test" in x["text"] and "gone2@other.test" in x["text"], x["text"]


def test_failure_ret_hdrs_returns_the_header():
    subject = "dsn diff failure hdrs"
    send_both([("gone3@remote.test", [])], subject, mail_options=["RET=HDRS"])
    t, p = both(subject)
    t, p = report(t[0]), report(p[0])
    for x in (t, p):
        assert x["parts"] == ["text/plain", "message/delivery-status", "text/rfc822-headers"], x
        assert b"The body of" not in x["returned"], x["returned"]
        assert ("Subject: %s" % subject).encode() in x["returned"], x["returned"]
        assert "successfully delivered" not in " ".join(x["text"].split()), x["text"]
    assert fields(t["message"]) == fields(p["message"]), (t["message"], p["message"])
    compare_blocks(t["rcpts"], p["rcpts"])


def test_success_relayed_to_a_hop_without_dsn():
    """NOTIFY=SUCCESS to a remote that does not offer DSN: both MTAs send
    a "relayed" notice (RFC 3461 §4.1) with the remote's 250 as the
    Diagnostic-Code, returning the header only (§4.3)."""
    subject = "dsn diff relayed"
    send_both([("carol@remote.test", ["NOTIFY=SUCCESS", "ORCPT=rfc822;carol@remote.test"])],
              subject, mail_options=["RET=FULL"])
    t, p = both(subject)
    t, p = report(t[0]), report(p[0])
    for x in (t, p):
        assert x["parts"] == ["text/plain", "message/delivery-status", "text/rfc822-headers"], x
        assert x["rcpts"][0]["action"] == "relayed", x
        text = " ".join(x["text"].split())
        assert "successfully delivered" in text and "could not be delivered" not in text, text
    compare_blocks(t["rcpts"], p["rcpts"])
    assert t["subject"] == p["subject"] == "Successful Mail Delivery Report", (t, p)


def test_notify_never_gets_no_notice():
    """NOTIFY=NEVER: neither MTA writes a notice; a second message sent
    after it, with the default NOTIFY, is the only one that comes back."""
    send_both([("gone4@remote.test", ["NOTIFY=NEVER"])], "dsn diff never")
    send_both([("gone5@remote.test", [])], "dsn diff after never")
    both("dsn diff after never")
    assert notices_about(tern_notices, "dsn diff never", timeout=0) == []
    assert notices_about(_st["pf"].maildir_messages, "dsn diff never", timeout=0) == []


def test_delay_then_expiry():
    """A recipient the remote keeps answering 450: a delay notice (once:
    tern sends one, after TERN_QUEUE_DELAY_NOTICE, 4 hours by default;
    Postfix one after delay_warning_time, off by default), then a failure
    when the queue lifetime ends. The delay notice has Will-Retry-Until
    and returns the header; the failure quotes the remote's last reply as
    the Diagnostic-Code in both. The failure's Status: Postfix keeps the
    remote's 4.2.0 with Action: failed; tern says 5.4.7 (delivery time
    expired, RFC 3463), as RFC 3464 §2.3.4 wants a failed recipient's
    Status to be of class 5."""
    subject = "dsn diff delay"
    send_both([("busy1@remote.test", [])], subject)
    t, p = both(subject, n=2)
    kinds = lambda ns: sorted(report(x)["rcpts"][0]["action"] for x in ns)
    assert kinds(t) == kinds(p) == ["delayed", "failed"], (kinds(t), kinds(p))
    t = dict((report(x)["rcpts"][0]["action"], report(x)) for x in t)
    p = dict((report(x)["rcpts"][0]["action"], report(x)) for x in p)
    td, pd = t["delayed"], p["delayed"]
    for x in (td, pd):
        assert x["parts"] == ["text/plain", "message/delivery-status", "text/rfc822-headers"], x
        assert "will-retry-until" in x["rcpts"][0], x
    compare_blocks(td["rcpts"], pd["rcpts"])
    assert td["subject"] == pd["subject"] == "Delayed Mail (still being retried)", (td, pd)
    tf, pf = t["failed"], p["failed"]
    compare_blocks(tf["rcpts"], pf["rcpts"], same=("final-recipient", "action"))
    assert tf["rcpts"][0]["status"] == "5.4.7" and pf["rcpts"][0]["status"] == "4.2.0", (tf, pf)
    assert pf["rcpts"][0]["diagnostic-code"] == tf["rcpts"][0]["diagnostic-code"] == \
        "smtp; 450 4.2.0 <busy1@remote.test>: mailbox busy, try later", (tf, pf)


def test_next_hop_offering_dsn_gets_the_parameters_and_no_notice_is_sent():
    """A next hop offering DSN takes the duty (RFC 3461 §4.1): both MTAs
    pass RET, ENVID, NOTIFY and ORCPT on as the sender gave them and send
    no "relayed" notice of their own. Postfix adds an ORCPT (the RCPT TO
    address) when the sender gave none, which §4.2 allows; tern passes
    none on then."""
    peers()
    rd = _st["rd"]
    subject = "dsn diff next hop"
    send_both([("carol@dsn.test", ["NOTIFY=SUCCESS,DELAY", "ORCPT=rfc822;Carol+2B1@dsn.test"]),
               ("dave@dsn.test", ["NOTIFY=SUCCESS"])],
              subject, mail_options=["RET=HDRS", "ENVID=hop+2Benv"])
    msgs = rd.wait_messages(2)
    assert len(msgs) == 2, rd.commands
    params = lambda line: sorted(x.upper() for x in line.split()[2:]
                                 if x.split("=")[0].upper() not in ("SIZE", "BODY"))
    t, p = [[params(m["mail_line"])] + [params(l) for l in sorted(m["rcpt_lines"])]
            for m in sorted(msgs, key=lambda m: m["from"] != ALICE)]
    assert t[0] == p[0] == ["ENVID=HOP+2BENV", "RET=HDRS"], (t, p)
    assert t[1] == p[1] == ["NOTIFY=SUCCESS,DELAY", "ORCPT=RFC822;CAROL+2B1@DSN.TEST"], (t, p)
    assert t[2] == ["NOTIFY=SUCCESS"] and p[2] == ["NOTIFY=SUCCESS", "ORCPT=RFC822;DAVE@DSN.TEST"], \
        (t, p)
    # A later message's failure notice comes back; none about this one.
    send_both([("gone6@remote.test", [])], "dsn diff after next hop")
    both("dsn diff after next hop")
    assert notices_about(tern_notices, subject, timeout=0) == []
    assert notices_about(_st["pf"].maildir_messages, subject, timeout=0) == []


def test_local_delivery_success_notice():
    """NOTIFY=SUCCESS for a recipient in a local mailbox: a "delivered"
    notice (RFC 3461 §6.2) with Status 2.0.0, no Remote-MTA, the header
    returned, from both."""
    subject = "dsn diff delivered"
    c = tern_client()
    send(c, ALICE, [("bob@example.test", ["NOTIFY=SUCCESS", "ORCPT=rfc822;bob@example.test"])],
         subject, ["ENVID=local1"])
    c.quit()
    c = postfix_client()
    send(c, PF_SENDER, [(PF_LOCAL, ["NOTIFY=SUCCESS", "ORCPT=rfc822;" + PF_LOCAL])],
         subject, ["ENVID=local1"])
    c.quit()
    t, p = both(subject)
    t, p = report(t[0]), report(p[0])
    for x in (t, p):
        assert x["parts"] == ["text/plain", "message/delivery-status", "text/rfc822-headers"], x
        assert x["rcpts"][0]["action"] == "delivered" and x["rcpts"][0]["status"] == "2.0.0", x
        assert "remote-mta" not in x["rcpts"][0], x
        assert x["message"]["original-envelope-id"] == "local1", x
    assert fields(t["message"]) == fields(p["message"]), (t["message"], p["message"])


def test_utf8_recipient_failure_is_a_global_notice():
    """SMTPUTF8 mail to a UTF-8 address the remote refuses: RFC 6533's
    message/global-delivery-status with a utf-8 Final-Recipient and an
    8-bit text part, from both. Differences seen and kept: tern's
    report-type names the second part's subtype, global-delivery-status
    (RFC 6522 §3), where Postfix writes delivery-status; with no RET tern
    returns the header (message/global-headers), Postfix the whole
    message (RFC 3461 §4.3 lets the MTA choose)."""
    subject = "dsn diff utf8"
    send_both([("gone-\u00f8@remote.test", [])], subject, mail_options=["SMTPUTF8"])
    t, p = both(subject)
    t, p = report(t[0]), report(p[0])
    assert t["report_type"] == "global-delivery-status" and p["report_type"] == "delivery-status"
    # Its parts are 8bit, and so is the multipart (RFC 2045 §6.4): tern's
    # said no encoding, which means 7bit.
    assert t["cte"] == p["cte"] == "8bit", (t["cte"], p["cte"])
    assert t["parts"][:2] == p["parts"][:2] == ["text/plain", "message/global-delivery-status"], (t, p)
    assert t["parts"][2] == "message/global-headers" and p["parts"][2] == "message/global", (t, p)
    compare_blocks(t["rcpts"], p["rcpts"])
    assert t["rcpts"][0]["final-recipient"] == "utf-8; gone-\u00f8@remote.test", t
    for x in (t, p):
        assert "gone-\u00f8@remote.test" in x["text"], x["text"]


def test_domain_not_found_fails_at_once():
    """A recipient domain the DNS says does not exist (NXDOMAIN for its
    MX): failed on the first attempt, not retried till the lifetime's end
    (Status 5.1.2, RFC 3463's bad destination system address; Postfix
    says 5.4.4 after its own lookup, not compared here: its lookups do not
    go to the test's DNS server), with no Remote-MTA and no
    Diagnostic-Code, no remote having said anything."""
    w = peers()[0]
    subject = "dsn diff nxdomain"
    c = tern_client()
    send(c, ALICE, [("nobody@nx.test", [])], subject)
    c.quit()
    t = notices_about(tern_notices, subject)
    assert len(t) == 1, w.srv.log_text()[-3000:]
    t = report(t[0])
    b = t["rcpts"][0]
    assert b["action"] == "failed" and b["status"] == "5.1.2", b
    assert "remote-mta" not in b and "diagnostic-code" not in b, b
    assert "nobody@nx.test" in t["text"] and "nx.test" in t["text"].split(">:", 1)[1], t["text"]
    assert "successfully" not in t["text"], t["text"]


def test_null_sender_failure_gets_no_notice():
    """RFC 5321 §4.5.5: mail from the null return path (a notice itself)
    that fails is never answered with a notice, from either MTA, even
    with NOTIFY=FAILURE asked; the sender after it gets its notice."""
    w, pf, _ = peers()
    subject = "dsn diff null sender"
    c = tern_client()
    send(c, "", [("gone7@remote.test", ["NOTIFY=FAILURE"])], subject, header_from=ALICE)
    send(c, ALICE, [("gone8@remote.test", [])], subject + " then")
    c.quit()
    c = postfix_client()
    send(c, "", [("gone7@remote.test", ["NOTIFY=FAILURE"])], subject, header_from=PF_SENDER)
    send(c, PF_SENDER, [("gone8@remote.test", [])], subject + " then")
    c.quit()
    both(subject + " then")
    assert notices_about(tern_notices, subject, timeout=0) == []
    assert notices_about(pf.maildir_messages, subject, timeout=0) == []
    # None was made at all: one for the null sender would have had
    # nowhere to go (event=notice_dropped reason=sender_unknown).
    assert "event=notice_dropped" not in w.srv.log_text(), w.srv.log_text()[-3000:]
    refused = [m for m in _st["r"].commands if m.upper().startswith("RCPT TO:<GONE7@")]
    assert len(refused) == 2, refused  # both tried it, and were refused
