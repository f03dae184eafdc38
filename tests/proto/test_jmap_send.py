"""What JMAP sends goes out as port 587's mail does (jmap_send.c): a
Received field naming the client's address and the account, DKIM over
it; SMTP parameters in EmailSubmission's envelope carried to the next hop
(ENVID, RET, NOTIFY, ORCPT at a DSN-capable relay) and the ones the queue
cannot honour refused (HOLDFOR); deliveryStatus kept once the queue entry
is gone; the account's hourly limit
(TERN_SEND_RATE) shared with submission: JMAP sends count against port
587 and the other way round, the refusal is forbiddenToSend (MDN/send:
rateLimit). One server with a loopback relay for the module."""
import atexit
import os
import smtplib
import ssl
import time

from harness import Server, free_port
from jmapc import Jmap
from mailpeers import Receiver

KIM = ("kim@example.test", "kim-password-1")
LI = ("li@example.test", "li-password-1")  # her own hourly limit
SUB = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail",
       "urn:ietf:params:jmap:submission"]
RATE = 4

_srv = _relay = None


def srv():
    global _srv, _relay
    if _srv is None:
        rport = free_port()
        _relay = Receiver("127.0.0.1", rport, tls=True, dsn=True)
        _srv = Server(accounts=[KIM, LI], http=True, imap=True, submission=True,
                      env={"TERN_RELAY_HOST": "127.0.0.1:%d" % rport,
                           "TERN_TLS_CA_FILE": os.path.join(_relay.tmp, "peer.crt"),
                           "TERN_SEND_RATE": str(RATE)})
        atexit.register(_srv.cleanup)
        atexit.register(_relay.stop)
    return _srv


def draft(j, drafts, subject, frm=KIM[0]):
    _, r = j.one("Email/set", {"create": {"d": {
        "mailboxIds": {drafts: True}, "from": [{"email": frm}],
        "to": [{"email": "rob@remote.test"}], "subject": subject,
        "bodyValues": {"b": {"value": "hello"}},
        "textBody": [{"partId": "b", "type": "text/plain"}]}}})
    return r["created"]["d"]["id"]


def ident_and_drafts(j):
    """The account's identity id and its Drafts mailbox id."""
    _, ids = j.one("Identity/get", {}, using=SUB)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    return ids["list"][0]["id"], [m["id"] for m in mb["list"] if m["role"] == "drafts"][0]


def submit(j, ident, eid, envelope=None):
    o = {"identityId": ident, "emailId": eid}
    if envelope:
        o["envelope"] = envelope
    _, r = j.one("EmailSubmission/set", {"create": {"k": o}}, using=SUB)
    return r


def smtp_587(s):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = smtplib.SMTP("127.0.0.1", s.submission_port, timeout=20)
    c.starttls(context=ctx)
    c.login(*KIM)
    return c


def test_jmap_send_received_params_rate():
    s = srv()
    j = Jmap(s, *KIM)
    ident, drafts = ident_and_drafts(j)

    # 1: with SMTP parameters, which reach the relay.
    r = submit(j, ident, draft(j, drafts, "one"), {
        "mailFrom": {"email": KIM[0], "parameters": {"ENVID": "env-1", "RET": "HDRS"}},
        "rcptTo": [{"email": "rob@remote.test",
                    "parameters": {"NOTIFY": "SUCCESS,FAILURE",
                                   "ORCPT": "rfc822;rob@remote.test"}}]})
    assert list(r["created"]) == ["k"], r
    sid = r["created"]["k"]["id"]
    msgs = _relay.wait_messages(1)
    m = msgs[0]
    assert "ENVID=env-1" in m["mail_line"] and "RET=HDRS" in m["mail_line"], m["mail_line"]
    assert "NOTIFY=SUCCESS,FAILURE" in m["rcpt_lines"][0], m["rcpt_lines"]
    assert "ORCPT=rfc822;rob@remote.test" in m["rcpt_lines"][0], m["rcpt_lines"]
    # The Received field, under the DKIM signature that covers it.
    data = m["data"].decode(errors="replace")
    assert data.startswith("DKIM-Signature:"), data[:300]
    rcv = data[data.index("\r\nReceived: ") + 2:]
    rcv = rcv[:rcv.index(";")]
    assert rcv.startswith("Received: from [127.0.0.1] ([127.0.0.1])\r\n\tby "), rcv
    assert "(tern) with JMAP\r\n\t(Authenticated sender: kim@example.test)" in rcv, rcv
    assert "\r\n\tfor <rob@remote.test>" in rcv, rcv
    _, g = j.one("EmailSubmission/get", {"ids": [sid], "properties": ["envelope"]}, using=SUB)
    assert g["list"][0]["envelope"]["mailFrom"]["parameters"] == {"ENVID": "env-1",
                                                                  "RET": "HDRS"}, g
    # Once the queue entry is gone, deliveryStatus still tells the outcome.
    deadline = time.time() + 20
    while time.time() < deadline and "queue is empty" not in s.cli("queue", "list").stdout.decode():
        time.sleep(0.2)
    assert "queue is empty" in s.cli("queue", "list").stdout.decode()
    _, g = j.one("EmailSubmission/get", {"ids": [sid], "properties": ["deliveryStatus"]},
                 using=SUB)
    assert g["list"][0]["deliveryStatus"] == {"rob@remote.test": {
        "smtpReply": "250 2.0.0 queued as 0", "delivered": "yes", "displayed": "unknown"}}, g
    # A parameter the queue cannot honour: refused, nothing sent.
    r = submit(j, ident, draft(j, drafts, "held"), {
        "mailFrom": {"email": KIM[0], "parameters": {"HOLDFOR": "600"}},
        "rcptTo": [{"email": "rob@remote.test"}]})
    assert r["notCreated"]["k"]["type"] == "invalidProperties", r
    r = submit(j, ident, draft(j, drafts, "bad notify"), {
        "mailFrom": {"email": KIM[0]},
        "rcptTo": [{"email": "rob@remote.test", "parameters": {"NOTIFY": "SOMETIMES"}}]})
    assert r["notCreated"]["k"]["type"] == "invalidProperties", r

    # The hourly limit: one more over port 587, then JMAP up to RATE.
    c = smtp_587(s)
    c.sendmail(KIM[0], ["rob@remote.test"],
               "From: %s\r\nTo: rob@remote.test\r\nSubject: by 587\r\n\r\nx\r\n" % KIM[0])
    c.quit()
    for i in range(RATE - 2):
        r = submit(j, ident, draft(j, drafts, "more %d" % i))
        assert list(r["created"]) == ["k"], (i, r)
    r = submit(j, ident, draft(j, drafts, "too many"))
    assert r["notCreated"]["k"]["type"] == "forbiddenToSend", r
    # And port 587 sees the JMAP sends counted.
    c = smtp_587(s)
    try:
        c.sendmail(KIM[0], ["rob@remote.test"], "Subject: no\r\n\r\nx\r\n")
        raise AssertionError("587 accepted past the hourly limit")
    except smtplib.SMTPSenderRefused as e:
        assert e.smtp_code == 450, e
    finally:
        c.close()
    time.sleep(0.3)
    assert len(_relay.wait_messages(RATE)) == RATE, len(_relay.messages)


def test_jmap_send_utf8_address_asks_smtputf8():
    """An address in UTF-8 (RFC 6532) is taken by Email/set create and
    written as it is; EmailSubmission sends it with SMTPUTF8 (RFC 6531
    §3.4), which the client need not ask for: the server is the SMTP
    client here. An ASCII message goes without it."""
    s = srv()
    j = Jmap(s, *LI)
    ident, drafts = ident_and_drafts(j)
    to = "j\u00f6rg@b\u00fccher.remote.test"
    _, r = j.one("Email/set", {"create": {"d": {
        "mailboxIds": {drafts: True}, "from": [{"email": LI[0]}],
        "to": [{"name": "J\u00f6rg", "email": to}], "subject": "utf8",
        "bodyValues": {"b": {"value": "hello"}},
        "textBody": [{"partId": "b", "type": "text/plain"}]}}})
    assert list(r["created"]) == ["d"], r
    eid = r["created"]["d"]["id"]
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["to"]})
    assert g["list"][0]["to"] == [{"name": "J\u00f6rg", "email": to}], g
    # Still no control characters, spaces or brackets in an address.
    for bad in ("a b@x.test", "a<b@x.test", "a\u0001@x.test"):
        _, r = j.one("Email/set", {"create": {"d": {
            "mailboxIds": {drafts: True}, "to": [{"email": bad}]}}})
        assert r["notCreated"]["d"]["type"] == "invalidProperties", (bad, r)

    before = len(_relay.messages)
    r = submit(j, ident, eid)
    assert list(r["created"]) == ["k"], r
    m = _relay.wait_messages(before + 1)[before]
    assert "SMTPUTF8" in m["mail_line"], m["mail_line"]
    assert to.encode() in m["rcpt_lines"][0].encode(), m["rcpt_lines"]
    assert ("To: =?utf-8?q?J=C3=B6rg?= <%s>" % to).encode() in m["data"], m["data"][:600]
    r = submit(j, ident, draft(j, drafts, "ascii", frm=LI[0]))
    assert list(r["created"]) == ["k"], r
    m = _relay.wait_messages(before + 2)[before + 1]
    assert "SMTPUTF8" not in m["mail_line"], m["mail_line"]


def push_open(s, auth, xff):
    """Status of an EventSource request through a 'proxy' naming xff."""
    import base64
    import http.client
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection("127.0.0.1", s.https_port, timeout=30, context=ctx)
    try:
        c.request("GET", "/jmap/eventsource/?types=*&closeafter=state&ping=1",
                  headers={"Authorization": "Basic " + base64.b64encode(auth.encode()).decode(),
                           "Accept": "text/event-stream", "X-Forwarded-For": xff})
        r = c.getresponse()
        if r.status == 200:
            r.read1(4096)
        else:
            r.read()
        return r.status
    finally:
        c.close()


def test_push_behind_trusted_proxy():
    """Push streams behind TERN_TRUSTED_PROXIES (the test client is the
    'proxy'): the failed login and the open stream are logged with the
    client the proxy names, as every other HTTP request is."""
    s = Server(accounts=[KIM], http=True, env={"TERN_TRUSTED_PROXIES": "127.0.0.1"})
    with s:
        assert push_open(s, "%s:wrong-password" % KIM[0], "203.0.113.7") == 401
        assert push_open(s, "%s:%s" % (KIM[0], KIM[1]), "198.51.100.9") == 200
        log = s.log_text()
        fails = [l for l in log.splitlines() if "event=auth_failed" in l and "mech=basic" in l]
        assert fails and "ip=203.0.113.7" in fails[-1], fails
        opens = [l for l in log.splitlines() if "event=push_open" in l]
        assert opens and "client=198.51.100.9" in opens[-1], opens
        # A submission from the IPv6 client a proxy names: its Received
        # writes RFC 5321's address-literal, [IPv6:...] (§4.1.3).
        j = Jmap(s, *KIM)
        base = j.headers
        j.headers = lambda extra=None: base(dict(extra or {}, **{"X-Forwarded-For": "2001:db8::7"}))
        ident, drafts = ident_and_drafts(j)
        r = submit(j, ident, draft(j, drafts, "from v6"), {
            "mailFrom": {"email": KIM[0]}, "rcptTo": [{"email": KIM[0]}]})
        assert list(r["created"]) == ["k"], r
        _, mb = j.one("Mailbox/get", {"properties": ["role"]})
        inbox = [m["id"] for m in mb["list"] if m["role"] == "inbox"][0]
        deadline, got = time.time() + 20, []
        while time.time() < deadline and not got:
            _, q = j.one("Email/query", {"filter": {"subject": "from v6", "inMailbox": inbox}})
            got = q["ids"]
            time.sleep(0.1 if not got else 0)
        assert got, "the submission never arrived"
        _, g = j.one("Email/get", {"ids": got[:1], "properties": ["header:Received:all"]})
        rcv = g["list"][0]["header:Received:all"]
        assert any(x.startswith(" from [IPv6:2001:db8::7] ([IPv6:2001:db8::7])") for x in rcv), rcv
