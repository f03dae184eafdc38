"""JMAP EmailSubmission (RFC 8621 §7) through the outbound queue
submission uses: a draft sent to a remote recipient (through a loopback
relay), a local one and a Bcc, the envelope derived from the message,
the Bcc field taken out, the message DKIM-signed, onSuccessUpdateEmail
moving the draft to Sent as the implicit Email/set; deliveryStatus,
/get, /query, and the refusals submission makes (From or envelope sender
not the account's, no recipients, an unknown identity, undo); the author
fields (display names, Sender, Resent-From, Resent-Sender) judged as port
587 judges them. One server for the module."""
import atexit
import imaplib
import json
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import time

from harness import Server, free_port, npm_ci
from jmapc import Jmap
from mailpeers import Receiver
from test_imap_search_ext import wait_count
from test_portal import Portal

HAL = ("hal@example.test", "hal-password-1")
IVY = ("ivy@example.test", "ivy-password-1")
USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail",
         "urn:ietf:params:jmap:submission"]

_srv = _relay = None


def srv():
    global _srv, _relay
    if _srv is None:
        rport = free_port()
        _relay = Receiver("127.0.0.1", rport, tls=True)
        _srv = Server(accounts=[HAL, IVY], http=True, imap=True, submission=True,
                      env={"TERN_RELAY_HOST": "127.0.0.1:%d" % rport,
                           "TERN_TLS_CA_FILE": os.path.join(_relay.tmp, "peer.crt")})
        # Stopped when the module's process ends, as jmapc.shared_server
        # does: without it every run left this tern serve running.
        atexit.register(_srv.cleanup)
        atexit.register(_relay.stop)
    return _srv


def draft(s, frm, extra=""):
    """APPENDs a draft to HAL's Drafts; its JMAP id."""
    msg = ("From: %s\r\nTo: Rob <rob@remote.test>\r\nCc: ivy@example.test\r\n"
           "Bcc: secret@remote.test\r\nSubject: plans %s\r\nMessage-ID: <%s@example.test>\r\n"
           "\r\nSee you at noon.\r\n" % (frm, extra, "d%d" % time.monotonic_ns()))
    return append_draft(s, msg)


def append_draft(s, msg):
    """APPENDs msg (text) to HAL's Drafts; its JMAP id."""
    c = imaplib.IMAP4("127.0.0.1", s.imap_port)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c.starttls(ctx)
    c.login(*HAL)
    typ, data = c.append("Drafts", "(\\Draft)", None, msg.encode())
    assert typ == "OK", data
    c.logout()
    j = Jmap(s, *HAL)
    _, q = j.one("Email/query", {"sort": [{"property": "id", "isAscending": False}], "limit": 1})
    return q["ids"][0]


def test_jmap_email_submission():
    s = srv()
    j = Jmap(s, *HAL)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    role = {m["role"]: m["id"] for m in mb["list"]}
    _, ids = j.one("Identity/get", {}, using=USING)
    ident = ids["list"][0]["id"]
    eid = draft(s, HAL[0])
    from test_jmap_push import EventStream
    es = EventStream(s, HAL, "types=EmailSubmission&closeafter=no&ping=0")
    assert es.status == 200
    r = j.call([["EmailSubmission/set", {
        "accountId": j.account,
        "create": {"k": {"identityId": ident, "emailId": eid}},
        "onSuccessUpdateEmail": {"#k": {"mailboxIds/" + role["drafts"]: None,
                                        "mailboxIds/" + role["sent"]: True,
                                        "keywords/$draft": None, "keywords/$seen": True}}},
        "s"]], USING)["methodResponses"]
    assert [x[0] for x in r] == ["EmailSubmission/set", "Email/set"] and r[1][2] == "s", r
    st = r[0][1]
    sid = st["created"]["k"]["id"]
    # The server-set properties and the envelope it made (RFC 8621 §7).
    assert st["created"]["k"]["undoStatus"] == "final" and st["notCreated"] is None, st
    assert set(st["created"]["k"]) == {"id", "threadId", "envelope", "sendAt", "undoStatus",
                                       "deliveryStatus", "dsnBlobIds", "mdnBlobIds"}, st
    assert r[1][1]["updated"] == {eid: None}, r[1]
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["mailboxIds", "keywords"]})
    assert g["list"][0]["mailboxIds"] == {role["sent"]: True}, g
    assert g["list"][0]["keywords"] == {"$seen": True}, g

    # The relay got the remote recipients, Bcc among them but not in the text.
    msgs = _relay.wait_messages(1)
    assert len(msgs) == 1, s.log_text()[-3000:]
    m = msgs[0]
    data = m["data"].decode(errors="replace") if isinstance(m["data"], bytes) else m["data"]
    assert m["from"] == HAL[0] and sorted(m["rcpts"]) == ["rob@remote.test", "secret@remote.test"], m
    assert "Bcc:" not in data and "secret@remote.test" not in data, data
    assert data.startswith("DKIM-Signature:") and "d=example.test" in data[:600], data[:600]
    # The local recipient got it in its INBOX.
    wait_count(s, 1, account=IVY[0])
    # The queue's update of the remote recipients' deliveryStatus is
    # pushed as it commits: the last state event (before any /get, which
    # would take the new state itself) tells the state /get then gives.
    told = []
    while True:
        try:
            told.append(es.event(timeout=2)["data"]["changed"][j.account]["EmailSubmission"])
        except AssertionError:
            break
    es.close()

    _, g = j.one("EmailSubmission/get", {"ids": [sid, "Snope"]}, using=USING)
    assert told and told[-1] == g["state"], (told, g["state"])
    sub = g["list"][0]
    assert g["notFound"] == ["Snope"], g
    assert sub["identityId"] == ident and sub["emailId"] == eid and sub["undoStatus"] == "final"
    assert sub["threadId"].startswith("T") and sub["sendAt"].endswith("Z"), sub
    assert sub["envelope"] == {"mailFrom": {"email": HAL[0], "parameters": None}, "rcptTo": [
        {"email": a, "parameters": None}
        for a in ["rob@remote.test", "ivy@example.test", "secret@remote.test"]]}, sub
    ds = sub["deliveryStatus"]
    assert set(ds) == {"rob@remote.test", "ivy@example.test", "secret@remote.test"}, ds
    assert ds["ivy@example.test"] == {"smtpReply": "250 2.0.0 Delivered", "delivered": "yes",
                                      "displayed": "unknown"}, ds
    assert ds["rob@remote.test"]["delivered"] in ("queued", "yes", "unknown"), ds
    _, q = j.one("EmailSubmission/query", {"filter": {"emailIds": [eid]}}, using=USING)
    assert q["ids"] == [sid], q
    _, q = j.one("EmailSubmission/query", {"filter": {"undoStatus": "pending"}}, using=USING)
    assert q["ids"] == [], q

    # Submission's refusals.
    other = draft(s, "boss@other.test", "x")
    mine = draft(s, HAL[0], "y")
    # Recipients from the header: a local part or a domain alone is none
    # (it became root@MISSING_DOMAIN, ENVELOPE's placeholder, and was queued).
    partial = append_draft(s, "From: %s\r\nTo: root, <>, @remote.test\r\nSubject: p\r\n"
                           "Message-ID: <p%d@example.test>\r\n\r\nx\r\n"
                           % (HAL[0], time.monotonic_ns()))
    _, st = j.one("EmailSubmission/set", {"create": {
        "from": {"identityId": ident, "emailId": other},
        "mailfrom": {"identityId": ident, "emailId": mine, "envelope": {
            "mailFrom": {"email": "ivy@example.test"}, "rcptTo": [{"email": "rob@remote.test"}]}},
        "none": {"identityId": ident, "emailId": mine, "envelope": {
            "mailFrom": {"email": HAL[0]}, "rcptTo": []}},
        "params": {"identityId": ident, "emailId": mine, "envelope": {
            "mailFrom": {"email": HAL[0], "parameters": {"HOLDFOR": "60"}},
            "rcptTo": [{"email": "rob@remote.test"}]}},
        "ident": {"identityId": "Inope", "emailId": mine},
        "partial": {"identityId": ident, "emailId": partial},
        "email": {"identityId": ident, "emailId": "E7fffffff"}},
        "update": {sid: {"undoStatus": "canceled"}}}, using=USING)
    assert {k: v["type"] for k, v in st["notCreated"].items()} == {
        "from": "forbiddenFrom", "mailfrom": "forbiddenMailFrom", "none": "noRecipients",
        "params": "invalidProperties", "ident": "invalidProperties",
        "partial": "noRecipients", "email": "invalidProperties"}, st
    assert st["notUpdated"][sid]["type"] == "cannotUnsend" and st["created"] is None, st
    # Any other change is invalidProperties naming what it would change
    # (RFC 8620 §5.3: the SetError SHOULD list the properties).
    _, st = j.one("EmailSubmission/set", {"update": {sid: {"undoStatus": "final",
                                                           "emailId": other}}}, using=USING)
    assert list(st["notUpdated"]) == [sid], st
    assert {k: st["notUpdated"][sid][k] for k in ("type", "properties")} == {
        "type": "invalidProperties", "properties": ["emailId"]}, st
    time.sleep(0.5)
    assert len(_relay.messages) == 1, _relay.messages
    # A client may forget a submission.
    _, st = j.one("EmailSubmission/set", {"destroy": [sid]}, using=USING)
    assert st["destroyed"] == [sid], st
    _, g = j.one("EmailSubmission/get", {}, using=USING)
    assert g["list"] == [], g


def author_message(frm, more):
    """A message to IVY (local: nothing reaches the relay) with From frm
    and the fields in more."""
    return ("From: %s\r\n%sTo: ivy@example.test\r\nSubject: author %d\r\n"
            "Message-ID: <a%d@example.test>\r\n\r\nHi.\r\n"
            % (frm, more, time.monotonic_ns(), time.monotonic_ns()))


def send587(s, msg):
    """msg sent as HAL on port 587: the reply code to the data."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", s.submission_port, timeout=20) as c:
        c.starttls(context=ctx)
        c.login(*HAL)
        try:
            c.sendmail(HAL[0], [IVY[0]], msg.encode())
        except smtplib.SMTPDataError as e:
            return e.smtp_code
    return 250


def test_jmap_submission_of_a_draft_with_bare_cr_sends_spaces():
    """Outbound SMTP smuggling through a stored draft: IMAP APPEND keeps a
    bare CR (as Dovecot does), and EmailSubmission hands the stored octets
    to the queue, whose SMTP client sends each stray CR as a space
    (Postfix's cleanup_replace_stray_cr_lf): sent as it is, "<CR>.<CR>"
    would end the data at a next hop that takes a CR for a line end."""
    from test_imap import Raw as ImapRaw
    s = srv()
    j = Jmap(s, *HAL)
    _, ids = j.one("Identity/get", {}, using=USING)
    ident = ids["list"][0]["id"]
    body = (b"From: %s\r\nTo: rob@remote.test\r\nSubject: stray cr\r\n"
            b"Message-ID: <cr%d@example.test>\r\n\r\n"
            b"first\r.\rMAIL FROM:<ceo@bank.test>\r.\r\nlast\r\n" % (HAL[0].encode(), time.monotonic_ns()))
    i = ImapRaw(s)
    i.login(*HAL)
    i.send(b"a APPEND Drafts {%d+}\r\n%s\r\n" % (len(body), body))
    assert i.until_tag("a")[-1].startswith(b"a OK")
    i.close()
    _, q = j.one("Email/query", {"sort": [{"property": "id", "isAscending": False}], "limit": 1})
    before = len(_relay.messages)
    _, st = j.one("EmailSubmission/set", {"create": {"c": {"identityId": ident, "emailId": q["ids"][0]}}},
                  using=USING)
    assert st["notCreated"] is None, st
    msgs = _relay.wait_messages(before + 1)
    assert len(msgs) == before + 1, s.log_text()[-3000:]
    data = msgs[-1]["data"]
    data = data if isinstance(data, bytes) else data.encode()
    assert b"Subject: stray cr" in data, data
    assert b"\r\n\r\nfirst . MAIL FROM:<ceo@bank.test> .\r\nlast\r\n" in data, data
    assert b"\r" not in data.replace(b"\r\n", b""), data


def test_jmap_submission_author_fields_as_587():
    """EmailSubmission checks the author fields with port 587's own check
    (smtp/smtp_author.h): a display name that shows another address, a
    Resent-From or Resent-Sender not the account's or shown as another,
    a second Sender are forbiddenFrom, and port 587 answers 553 to the
    same messages; fields that are all the account's pass both."""
    s = srv()
    j = Jmap(s, *HAL)
    _, ids = j.one("Identity/get", {}, using=USING)
    ident = ids["list"][0]["id"]
    bad = {
        "name": ('"boss@other.test" <%s>' % HAL[0], ""),
        "resent_from": (HAL[0], "Resent-From: boss@other.test\r\n"),
        "resent_sender": (HAL[0], "Resent-Sender: Boss <boss@other.test>\r\n"),
        "resent_name": (HAL[0], 'Resent-From: "ivy@example.test" <%s>\r\n' % HAL[0]),
        "second_sender": (HAL[0], "Sender: %s\r\nSender: boss@other.test\r\n" % HAL[0]),
    }
    good = ('"Hal" <%s>' % HAL[0], "Resent-From: %s\r\nResent-Sender: %s\r\n" % (HAL[0], HAL[0]))
    msgs = {k: author_message(*v) for k, v in bad.items()}
    msgs["good"] = author_message(*good)
    create = {k: {"identityId": ident, "emailId": append_draft(s, m)} for k, m in msgs.items()}
    _, st = j.one("EmailSubmission/set", {"create": create}, using=USING)
    assert {k: v["type"] for k, v in st["notCreated"].items()} == {
        k: "forbiddenFrom" for k in bad}, st
    assert list(st["created"]) == ["good"], st
    assert "Resent-From <boss@other.test>" in st["notCreated"]["resent_from"]["description"], st
    assert "display name" in st["notCreated"]["resent_name"]["description"], st
    for k, m in msgs.items():
        assert send587(s, m) == (250 if k == "good" else 553), k


def test_jmap_submission_envelope_is_smtp_paths():
    """An envelope address is one SMTP path, as port 587 parses it: the
    queue writes it into its own RCPT TO line, so a CR LF (a second
    transaction of the client's making: another MAIL FROM, past the
    sender check), a ">" and parameters, or a space is invalidRecipients
    and nothing is sent."""
    s = srv()
    j = Jmap(s, *HAL)
    _, ids = j.one("Identity/get", {}, using=USING)
    ident = ids["list"][0]["id"]
    mine = draft(s, HAL[0], "paths")
    bad = {"crlf": "rob@remote.test>\r\nRSET\r\nMAIL FROM:<ivy@example.test>\r\n"
                   "RCPT TO:<victim@remote.test",
           "params": "rob@remote.test> NOTIFY=NEVER", "space": "rob smith@remote.test",
           "nul": "rob@remote.test\u0000x"}
    create = {k: {"identityId": ident, "emailId": mine, "envelope": {
        "mailFrom": {"email": HAL[0]}, "rcptTo": [{"email": v}]}} for k, v in bad.items()}
    _, st = j.one("EmailSubmission/set", {"create": create}, using=USING)
    assert st["created"] is None, st
    assert {k: v["type"] for k, v in st["notCreated"].items()} == {
        k: "invalidRecipients" for k in bad}, st
    # The SetError lists the addresses refused (RFC 8621 §7.5), not the
    # good one beside them; it listed none.
    for k, v in bad.items():
        assert st["notCreated"][k]["invalidRecipients"] == [v], st
    _, st = j.one("EmailSubmission/set", {"create": {"two": {
        "identityId": ident, "emailId": mine, "envelope": {"mailFrom": {"email": HAL[0]}, "rcptTo": [
            {"email": bad["space"]}, {"email": "rob@remote.test"}, {"email": bad["params"]}]}}}},
        using=USING)
    assert st["notCreated"]["two"]["invalidRecipients"] == [bad["space"], bad["params"]], st
    # The null sender, as a read receipt is sent (RFC 8098 §2.1; RFC 8621 §7
    # lets a server allow it), as port 587 lets it through.
    before = {m[0] for m in s.messages(IVY[0])}
    _, st = j.one("EmailSubmission/set", {"create": {"mdn": {
        "identityId": ident, "emailId": mine, "envelope": {"mailFrom": {"email": ""},
                                                           "rcptTo": [{"email": IVY[0]}]}}}},
        using=USING)
    assert "mdn" in st["created"], st
    deadline = time.time() + 10
    while time.time() < deadline:
        got = [m for m in s.messages(IVY[0]) if m[0] not in before]
        if got:
            break
        time.sleep(0.1)
    assert len(got) == 1, got
    env = s.cli("fetch", IVY[0], "--id", str(got[0][0]), "--envelope").stdout.decode()
    assert env.startswith("MAIL FROM:<>\r\n"), env


def test_jmap_submission_to_an_idn_domain_in_its_other_spelling_stays_here():
    """A recipient at one of our IDN domains written in the spelling it was
    not added in (RFC 5890 §2.3.2.1: one domain) is ours: the queue
    delivers it here, as port 25 takes it, not to the relay."""
    s = srv()
    s.cli("domain", "add", "bücher.test")
    s.cli("account", "add", "anna@bücher.test", input="pw-anna-Qx7-bücher\n")
    j = Jmap(s, *HAL)
    _, ids = j.one("Identity/get", {}, using=USING)
    ident = ids["list"][0]["id"]
    relayed = len(_relay.messages)
    mine = append_draft(s, "From: %s\r\nTo: anna@xn--bcher-kva.test\r\nSubject: idn here\r\n"
                           "Message-ID: <idn%d@example.test>\r\n\r\nHello.\r\n"
                        % (HAL[0], time.monotonic_ns()))
    _, st = j.one("EmailSubmission/set", {"create": {"k": {"identityId": ident, "emailId": mine}}},
                  using=USING)
    assert st["notCreated"] is None, st
    deadline = time.time() + 10
    while time.time() < deadline and not s.messages("anna@bücher.test"):
        time.sleep(0.1)
    got = s.messages("anna@bücher.test")
    assert len(got) == 1 and "idn here" in got[0][1], got
    assert len(_relay.messages) == relayed, _relay.messages[relayed:]


def sender(s, subject):
    """HAL's client on s, its identity, and a draft to IVY."""
    j = Jmap(s, *HAL)
    _, ids = j.one("Identity/get", {}, using=USING)
    return j, ids["list"][0]["id"], append_draft(
        s, "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nhi\r\n" % (HAL[0], IVY[0], subject))


def test_jmap_submission_keeps_the_newest():
    """An account keeps its newest 1,000 submissions: the 1,001st removes
    the oldest, and /get, /query and the state show the new one (a list
    cut at 1,000 showed the oldest and hid every new one: created, then
    notFound). Local recipient, no hourly limit, 250 creations a call."""
    s = Server(accounts=[HAL, IVY], http=True, imap=True, submission=True,
               env={"TERN_SEND_RATE": "0"})
    try:
        j, ident, mine = sender(s, "many")
        env = {"mailFrom": {"email": HAL[0]}, "rcptTo": [{"email": IVY[0]}]}
        made = []
        for call in range(5):
            n = 250 if call < 4 else 1
            _, st = j.one("EmailSubmission/set", {"create": {
                "c%d" % i: {"identityId": ident, "emailId": mine, "envelope": env}
                for i in range(n)}}, using=USING)
            assert len(st["created"]) == n, st.get("notCreated")
            made += [st["created"]["c%d" % i]["id"] for i in range(n)]
        _, q = j.one("EmailSubmission/query", {"calculateTotal": True}, using=USING)
        assert q["total"] == 1000, q["total"]
        assert made[0] not in q["ids"] and made[-1] in q["ids"], (made[0], made[-1])
        _, g = j.one("EmailSubmission/get", {"ids": [made[0], made[-1]]}, using=USING)
        assert [x["id"] for x in g["list"]] == [made[-1]] and g["notFound"] == [made[0]], g
    finally:
        s.cleanup()


def test_jmap_submission_on_success_this_call_only():
    """onSuccessUpdateEmail and onSuccessDestroyEmail (RFC 8621 section
    7.5) apply to the submissions this call created, updated or
    destroyed: an older submission named by its id leaves its email alone
    (it was updated and destroyed), one updated or destroyed in the call
    has its email updated, one whose update was refused does not. Two submissions of one email give that email one patch,
    the first key's value where both set a path (the implicit Email/set
    had the email's key twice, no JSON object, and was dropped)."""
    s = srv()
    j = Jmap(s, *HAL)
    acc = j.account
    _, ids = j.one("Identity/get", {}, using=USING)
    ident = ids["list"][0]["id"]
    env = {"mailFrom": {"email": HAL[0]}, "rcptTo": [{"email": HAL[0]}]}

    def mk(subj):
        return append_draft(s, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s%d@x.test>"
                            "\r\n\r\nhi\r\n" % (HAL[0], HAL[0], subj, subj, time.monotonic_ns()))

    def keywords(e):
        _, g = j.one("Email/get", {"ids": [e], "properties": ["keywords"]})
        return g["list"][0]["keywords"] if g["list"] else None

    def sub(e):
        return {"identityId": ident, "emailId": e, "envelope": env}
    old = mk("old")
    _, st = j.one("EmailSubmission/set", {"create": {"o": sub(old)}}, using=USING)
    osub = st["created"]["o"]["id"]
    new = mk("new")
    r = j.call([["EmailSubmission/set", {
        "accountId": acc, "create": {"n": sub(new)},
        "onSuccessUpdateEmail": {"#n": {"keywords/$flagged": True},
                                 osub: {"keywords/$answered": True}},
        "onSuccessDestroyEmail": [osub]}, "s"]], USING)["methodResponses"]
    assert [x[0] for x in r] == ["EmailSubmission/set", "Email/set"], r
    assert r[1][1]["updated"] == {new: None} and not r[1][1]["destroyed"], r[1]
    assert keywords(old) == {"$draft": True}, keywords(old)
    assert keywords(new) == {"$draft": True, "$flagged": True}, keywords(new)

    # An update of it that succeeds (undoStatus "final", as it is) is a
    # success of this call too; one refused (canceled) is not.
    r = j.call([["EmailSubmission/set", {
        "accountId": acc, "update": {osub: {"undoStatus": "canceled"}},
        "onSuccessUpdateEmail": {osub: {"keywords/$flagged": True}}}, "u"]], USING)["methodResponses"]
    assert r[0][1]["notUpdated"][osub]["type"] == "cannotUnsend", r
    assert [x[0] for x in r] == ["EmailSubmission/set"], r
    r = j.call([["EmailSubmission/set", {
        "accountId": acc, "update": {osub: {"undoStatus": "final"}},
        "onSuccessUpdateEmail": {osub: {"keywords/$answered": True}}}, "u"]], USING)["methodResponses"]
    assert r[0][1]["updated"] == {osub: None}, r
    assert [x[0] for x in r] == ["EmailSubmission/set", "Email/set"], r
    assert r[1][1]["updated"] == {old: None}, r[1]
    assert keywords(old) == {"$draft": True, "$answered": True}, keywords(old)

    r = j.call([["EmailSubmission/set", {
        "accountId": acc, "destroy": [osub],
        "onSuccessUpdateEmail": {osub: {"keywords/$seen": True}}}, "d"]], USING)["methodResponses"]
    assert r[0][1]["destroyed"] == [osub], r
    assert [x[0] for x in r] == ["EmailSubmission/set", "Email/set"], r
    assert r[1][1]["updated"] == {old: None}, r[1]
    assert keywords(old) == {"$draft": True, "$answered": True, "$seen": True}, keywords(old)

    shared = mk("shared")
    r = j.call([["EmailSubmission/set", {
        "accountId": acc, "create": {"a": sub(shared), "b": sub(shared)},
        "onSuccessUpdateEmail": {"#a": {"keywords/$seen": True, "keywords/$draft": None},
                                 "#b": {"keywords/$flagged": True, "keywords/$seen": None}}},
        "t"]], USING)["methodResponses"]
    assert sorted(r[0][1]["created"]) == ["a", "b"], r[0]
    assert [x[0] for x in r] == ["EmailSubmission/set", "Email/set"], r
    assert r[1][1]["updated"] == {shared: None}, r[1]
    assert keywords(shared) == {"$seen": True, "$flagged": True}, keywords(shared)


def test_jmap_creation_id_references_in_one_request():
    """#creationId in place of an id (RFC 8620 section 5.3) across one
    request: a mailbox's parentId, an email's mailboxIds, an identity and
    an email an EmailSubmission names, onSuccessUpdateEmail's key and its
    mailboxIds path, a Mailbox/set update key. A #reference no creation
    made is invalidProperties (a property) or notFound (an update key);
    identityId "#i" was refused as no such identity. A /get's ids take
    them too (they were invalidArguments), an unknown one is notFound."""
    s = srv()
    j = Jmap(s, *HAL)
    acc = j.account
    u = USING
    env = {"mailFrom": {"email": HAL[0]}, "rcptTo": [{"email": HAL[0]}]}
    r = j.call([
        ["Mailbox/set", {"accountId": acc, "create": {
            "p": {"name": "cref-p"}, "c": {"name": "cref-c", "parentId": "#p"}}}, "0"],
        ["Email/set", {"accountId": acc, "create": {"e": {
            "mailboxIds": {"#p": True}, "keywords": {"$draft": True},
            "from": [{"email": HAL[0]}], "to": [{"email": HAL[0]}], "subject": "cref",
            "bodyValues": {"b": {"value": "hi"}}, "textBody": [{"partId": "b", "type": "text/plain"}]}}}, "1"],
        ["Identity/set", {"accountId": acc, "create": {"i": {"email": HAL[0], "name": "Cref"}}}, "2"],
        ["EmailSubmission/set", {"accountId": acc, "create": {
            "s": {"identityId": "#i", "emailId": "#e", "envelope": env},
            "x": {"identityId": "#nope", "emailId": "#e", "envelope": env},
            "y": {"identityId": "#i", "emailId": "#nope", "envelope": env}},
            "onSuccessUpdateEmail": {"#s": {"mailboxIds/#p": None, "mailboxIds/#c": True}}}, "3"],
        ["Mailbox/set", {"accountId": acc, "update": {"#c": {"name": "cref-c2"}, "#nope": {"name": "z"}}}, "4"],
        ["Email/set", {"accountId": acc, "create": {"f": {"mailboxIds": {"#nope": True}}}}, "5"],
        ["Email/get", {"accountId": acc, "ids": ["#e"], "properties": ["subject"]}, "6"],
        ["Identity/get", {"accountId": acc, "ids": ["#i"], "properties": ["name"]}, "7"],
        ["Mailbox/get", {"accountId": acc, "ids": ["#p", "#c"], "properties": ["name"]}, "8"],
        ["Email/get", {"accountId": acc, "ids": ["#nope"]}, "9"],
    ], u)["methodResponses"]
    mb = r[0][1]["created"]
    assert set(mb) == {"p", "c"}, r[0]
    e = r[1][1]["created"]["e"]["id"]
    ident = r[2][1]["created"]["i"]["id"]
    st = r[3][1]
    assert set(st["created"] or {}) == {"s"}, st
    assert st["notCreated"]["x"]["type"] == "invalidProperties", st
    assert st["notCreated"]["x"]["properties"] == ["identityId"], st
    assert st["notCreated"]["y"]["properties"] == ["emailId"], st
    assert r[4][0] == "Email/set" and r[4][1]["updated"] == {e: None}, r[4]
    assert r[5][1]["updated"] == {mb["c"]["id"]: None}, r[5]
    assert r[5][1]["notUpdated"]["#nope"]["type"] == "notFound", r[5]
    assert r[6][1]["notCreated"]["f"]["type"] == "invalidProperties", r[6]
    assert r[6][1]["notCreated"]["f"]["properties"] == ["mailboxIds"], r[6]
    # /get takes them in ids too, and answers under the ids.
    assert r[7][1]["list"] == [{"id": e, "subject": "cref"}] and r[7][1]["notFound"] == [], r[7]
    assert r[8][1]["list"] == [{"id": r[2][1]["created"]["i"]["id"], "name": "Cref"}], r[8]
    assert [m["name"] for m in r[9][1]["list"]] == ["cref-p", "cref-c2"], r[9]
    assert r[10][0] == "Email/get" and r[10][1]["list"] == [], r[10]
    assert r[10][1]["notFound"] == ["#nope"], r[10]
    _, g = j.one("Mailbox/get", {"ids": [mb["c"]["id"]], "properties": ["name", "parentId"]})
    assert g["list"][0] == {"id": mb["c"]["id"], "name": "cref-c2", "parentId": mb["p"]["id"]}, g
    _, g = j.one("Email/get", {"ids": [e], "properties": ["mailboxIds"]})
    assert g["list"][0]["mailboxIds"] == {mb["c"]["id"]: True}, g
    _, g = j.one("EmailSubmission/get", {"ids": [st["created"]["s"]["id"]],
                                         "properties": ["identityId", "emailId"]}, using=u)
    assert g["list"][0]["identityId"] == ident and g["list"][0]["emailId"] == e, g
    # The module's other tests count HAL's submissions and identities.
    r = j.call([["EmailSubmission/set", {"accountId": acc, "destroy": [st["created"]["s"]["id"]]}, "0"],
                ["Identity/set", {"accountId": acc, "destroy": [ident]}, "1"]], u)["methodResponses"]
    assert r[0][1]["destroyed"] and r[1][1]["destroyed"] == [ident], r


def test_get_unknown_creation_id_is_not_found():
    """RFC 8620 §5.1: an id in a /get's ids that names no object is in
    notFound; "#" and a creation id no method of the request made is such
    an id (Cyrus lists it so), with or without other creations in the
    request. It was invalidArguments for every /get but Blob/get."""
    s = srv()
    j = Jmap(s, *HAL)
    acc = j.account
    types = ["Email", "Mailbox", "Thread", "Identity", "EmailSubmission", "VacationResponse",
             "Quota", "SieveScript", "Principal", "ShareNotification"]
    gets = [["%s/get" % t, {"accountId": acc, "ids": ["#nope"]}, str(i)] for i, t in enumerate(types)]
    for head in ([], [["Mailbox/set", {"accountId": acc, "create": {"m": {"name": "nf-made"}}}, "m"]]):
        r = j.call(head + gets, USING + [
            "urn:ietf:params:jmap:quota", "urn:ietf:params:jmap:sieve",
            "urn:ietf:params:jmap:vacationresponse", "urn:ietf:params:jmap:principals"])["methodResponses"]
        for (name, res, tag), t in zip(r[len(head):], types):
            assert name == "%s/get" % t and res["notFound"] == ["#nope"] and res["list"] == [], (t, name, res)
        if head:
            assert r[0][1]["created"]["m"], r[0]
            j.one("Mailbox/set", {"destroy": [r[0][1]["created"]["m"]["id"]]})


CLIENTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "jmapclients")


def test_npm_jmap_clients():
    """jmap-jam and jmap-client-ts from npm: mailboxes, query, fetch,
    keywords, a move and a submission each, against the same account."""
    assert shutil.which("node") and shutil.which("npm"), "needs node and npm (scripts/install-test-deps)"
    s = srv()
    p = Portal(s)
    assert p.login(IVY[0], IVY[1])[0] == 200
    st, body = p.call("POST", "/me/jmap-tokens", {"name": "npm clients", "password": IVY[1]})
    assert st == 201, body
    j = Jmap(s, *IVY)
    _, mb = j.one("Mailbox/get", {"properties": ["role", "totalEmails"]})
    inbox = [m for m in mb["list"] if m["role"] == "inbox"][0]["id"]
    _, q = j.one("Email/query", {"filter": {"inMailbox": inbox}})
    before = len(q["ids"])
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        for subj in ("one", "two"):
            c.sendmail("joe@remote.test", [IVY[0]],
                       "From: joe@remote.test\r\nTo: %s\r\nSubject: %s\r\n\r\nx\r\n" % (IVY[0], subj))
    deadline = time.time() + 10
    while time.time() < deadline:
        _, q = j.one("Email/query", {"filter": {"inMailbox": inbox}})
        if len(q["ids"]) >= before + 2:
            break
        time.sleep(0.1)
    sent = len(_relay.messages)
    npm_ci(CLIENTS_DIR)
    cfg = {"session": "https://127.0.0.1:%d/jmap/session" % s.https_port, "user": IVY[0],
           "pass": IVY[1], "token": body["token"], "rcpt": "rob@remote.test"}
    r = subprocess.run(["node", os.path.join(CLIENTS_DIR, "clients.mjs"), json.dumps(cfg)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    out = json.loads(r.stdout)
    jam, ts = out["jam"], out["ts"]
    assert jam["account"] == ts["account"] == j.account, out
    assert jam["mailboxes"] == ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"], out
    assert jam["subjects"][-2:] == ["one", "two"], out
    assert jam["flagged"] == jam["moved"] == [jam["first"]], out
    assert jam["submission"]["undoStatus"] == "final" and not jam["notCreated"], out
    assert ts["archive"] == [{"id": jam["first"], "subject": jam["subjects"][0],
                              "keywords": {"$flagged": True},
                              "mailboxIds": {[m for m in mb["list"] if m["role"] == "archive"][0]["id"]: True}}], out
    assert ts["updated"] == [jam["first"]] and ts["submission"]["undoStatus"] == "final", out
    assert ts["after"]["keywords"] == {"$flagged": True, "$seen": True}, out
    assert ts["after"]["mailboxIds"] == {inbox: True}, out
    # Both submissions reached the relay.
    msgs = _relay.wait_messages(sent + 2)
    subjects = sorted(m["data"].decode(errors="replace").split("Subject: ")[1].split("\r\n")[0]
                      for m in msgs[sent:])
    assert subjects == ["from client-ts", "from jam"], subjects
    # jmap-jam's onSuccessDestroyEmail destroyed its draft.
    _, q = j.one("Email/query", {"filter": {"text": "from jam"}})
    assert q["ids"] == [], q


def test_jmap_submission_query_sorts():
    """EmailSubmission/query sorts by emailId, threadId and sentAt (RFC
    8621 §7.3: these MUST be supported), several at once; sentAt ties keep
    the order made. emailId and threadId were unsupportedSort."""
    s = srv()
    j = Jmap(s, *HAL)
    _, ids = j.one("Identity/get", {}, using=USING)
    ident = ids["list"][0]["id"]
    older, newer = draft(s, HAL[0], "sort-a"), draft(s, HAL[0], "sort-b")
    env = {"mailFrom": {"email": HAL[0]}, "rcptTo": [{"email": IVY[0]}]}
    sub = {}
    for k, e in (("n", newer), ("o", older)):  # the newer email sent first
        _, st = j.one("EmailSubmission/set", {"create": {k: {
            "identityId": ident, "emailId": e, "envelope": env}}}, using=USING)
        sub[k] = st["created"][k]["id"]

    def q(*sort):
        name, r = j.one("EmailSubmission/query", {"filter": {"emailIds": [older, newer]},
                                                  "sort": list(sort)}, using=USING)
        assert name == "EmailSubmission/query", r
        return r["ids"]
    assert q({"property": "emailId"}) == [sub["o"], sub["n"]]
    assert q({"property": "emailId", "isAscending": False}) == [sub["n"], sub["o"]]
    assert q({"property": "sentAt"}) == [sub["n"], sub["o"]]
    assert q({"property": "sentAt", "isAscending": False}) == [sub["o"], sub["n"]]
    _, g = j.one("Email/get", {"ids": [older, newer], "properties": ["threadId"]})
    t = {x["id"]: x["threadId"] for x in g["list"]}
    by_thread = sorted(["o", "n"], key=lambda k: t[older if k == "o" else newer])
    assert q({"property": "threadId"}, {"property": "sentAt"}) == [sub[k] for k in by_thread]
    name, r = j.one("EmailSubmission/query", {"sort": [{"property": "identityId"}]}, using=USING)
    assert name == "error" and r["type"] == "unsupportedSort", r


def test_jmap_submission_query_filter_values():
    """EmailSubmission/query's before and after are UTCDates (RFC 8621
    7.3), compared as times (one with fractions of a second is the same
    instant); a value that is no UTCDate, or an undoStatus that is none
    of pending, final, canceled, is invalidArguments (they were compared
    as text, matching nothing or everything)."""
    s = srv()
    j = Jmap(s, *HAL)
    _, ids = j.one("Identity/get", {}, using=USING)
    ident = ids["list"][0]["id"]
    e = draft(s, HAL[0], "filter-dates")
    env = {"mailFrom": {"email": HAL[0]}, "rcptTo": [{"email": IVY[0]}]}
    _, st = j.one("EmailSubmission/set", {"create": {"k": {
        "identityId": ident, "emailId": e, "envelope": env}}}, using=USING)
    sid = st["created"]["k"]["id"]
    sent = st["created"]["k"]["sendAt"]
    assert sent.endswith("Z") and "." not in sent, st

    def q(**f):
        return j.one("EmailSubmission/query", {"filter": dict(f, emailIds=[e])}, using=USING)
    frac = sent[:-1] + ".000Z"
    _, r = q(after=frac)
    assert r["ids"] == [sid], (frac, r)
    _, r = q(before=frac)
    assert r["ids"] == [], (frac, r)
    for bad in ({"before": "yesterday"}, {"after": "2026-01-01"}, {"undoStatus": "sent"}):
        name, r = q(**bad)
        assert name == "error" and r["type"] == "invalidArguments" and \
            r["arguments"] == ["filter"], (bad, r)


def test_jmap_submission_set_names_every_bad_property():
    """invalidProperties names every bad property of a create or update
    (RFC 8620 §5.3), not the first one met."""
    s = srv()
    j = Jmap(s, *HAL)
    _, st = j.one("EmailSubmission/set", {"create": {"b": {
        "identityId": 5, "emailId": "Enope", "envelope": "x", "undoStatus": "pending",
        "id": "S1", "sendAt": "2020-01-01T00:00:00Z", "bogus": 1}}}, USING)
    err = st["notCreated"]["b"]
    assert err["type"] == "invalidProperties" and err.get("description"), err
    assert sorted(err["properties"]) == sorted(["identityId", "emailId", "envelope", "undoStatus",
                                                "id", "sendAt", "bogus"]), err
    _, ids = j.one("Identity/get", {}, using=USING)
    ident = ids["list"][0]["id"]
    eid = draft(s, HAL[0], "props")
    _, st = j.one("EmailSubmission/set", {"create": {"k": {"identityId": ident, "emailId": eid}}},
                  USING)
    sid = st["created"]["k"]["id"]
    _, st = j.one("EmailSubmission/set", {"update": {sid: {
        "emailId": "Eother", "envelope": None, "sendAt": "2020-01-01T00:00:00Z",
        "undoStatus": "final", "bogus": 2}}}, USING)
    err = st["notUpdated"][sid]
    assert err["type"] == "invalidProperties" and err.get("description"), err
    assert sorted(err["properties"]) == sorted(["emailId", "envelope", "sendAt", "bogus"]), err
    _relay.wait_messages(1)


def test_jmap_submission_large_envelope_is_recorded():
    """A submission whose record is over 64 KiB (the envelope as given:
    700 recipients with NOTIFY and ORCPT, about 150 KB) is recorded in
    parts: /get shows it, every recipient and parameter as sent. It was
    sent and then not recorded (the store keeps 64 KiB a value): created
    told the client it was, and /get said notFound. One whose record
    would be over what is kept (1,000 ORCPTs of 400 octets) is tooLarge
    before anything is sent."""
    s = srv()
    j = Jmap(s, *HAL)
    _, ids = j.one("Identity/get", {}, using=USING)
    ident = ids["list"][0]["id"]
    mine = draft(s, HAL[0], "many")

    def rcpt(i, orcpt):
        a = "recipient-number-%04d-of-the-list@remote%d.test" % (i, i % 7)
        return {"email": a, "parameters": {"NOTIFY": "SUCCESS,FAILURE,DELAY",
                                           "ORCPT": "rfc822;" + (orcpt or a)}}
    rcpts = [rcpt(i, None) for i in range(700)]
    env = {"mailFrom": {"email": HAL[0], "parameters": None}, "rcptTo": rcpts}
    assert len(json.dumps(env)) > 100000
    _, st = j.one("EmailSubmission/set", {"create": {"big": {
        "identityId": ident, "emailId": mine, "envelope": env}}}, using=USING)
    assert "big" in (st["created"] or {}), st
    sid = st["created"]["big"]["id"]
    _, g = j.one("EmailSubmission/get", {"ids": [sid], "properties": ["envelope", "emailId"]},
                 using=USING)
    assert g["notFound"] == [], g["notFound"]
    assert g["list"][0]["envelope"] == env and g["list"][0]["emailId"] == mine
    _, q = j.one("EmailSubmission/query", {}, using=USING)
    assert sid in q["ids"], q
    # Over what a record holds: refused, and nothing queued.
    sent = s.log_text().count("rcpts=1000 ")
    huge = {"mailFrom": {"email": HAL[0]},
            "rcptTo": [rcpt(i, "x%03d" % i + "y" * 400 + "@remote.test") for i in range(1000)]}
    _, st = j.one("EmailSubmission/set", {"create": {"huge": {
        "identityId": ident, "emailId": mine, "envelope": huge}, "small": {
        "identityId": ident, "emailId": mine, "envelope": {
            "mailFrom": {"email": HAL[0]}, "rcptTo": [{"email": "small@remote.test"}]}}}},
        using=USING)
    assert st["notCreated"]["huge"]["type"] == "tooLarge", st
    small = st["created"]["small"]["id"]
    assert s.wait_log("submission=%s " % small), s.log_text()[-2000:]
    assert s.log_text().count("rcpts=1000 ") == sent
    # Destroyed, its parts go with it: the id is free and the list has
    # no trace of it.
    _, st = j.one("EmailSubmission/set", {"destroy": [sid]}, using=USING)
    assert st["destroyed"] == [sid], st
    _, g = j.one("EmailSubmission/get", {"ids": [sid]}, using=USING)
    assert g["notFound"] == [sid], g
    _, q = j.one("EmailSubmission/query", {}, using=USING)
    assert sid not in q["ids"] and not [i for i in q["ids"] if i.startswith(sid)], q


def test_jmap_submission_too_many_recipients_names_the_limit():
    """RFC 8621 §7.5: tooManyRecipients "MUST" carry maxRecipients, the
    number of recipients the server allows. An envelope of 1,001
    distinct recipients (one over tern's 1,000) is refused so, saying
    1,000, whether the envelope is given or derived from the message's
    To and Cc; nothing is queued. The error named no limit."""
    s = srv()
    j = Jmap(s, *HAL)
    _, ids = j.one("Identity/get", {}, using=USING)
    ident = ids["list"][0]["id"]
    mine = draft(s, HAL[0], "crowd")
    env = {"mailFrom": {"email": HAL[0]},
           "rcptTo": [{"email": "crowd-%04d@remote.test" % i} for i in range(1001)]}
    to = ", ".join("c%04d@remote.test" % i for i in range(600))
    cc = ", ".join("d%04d@remote.test" % i for i in range(401))
    derived = append_draft(s, "From: %s\r\nTo: %s\r\nCc: %s\r\nSubject: crowd 2\r\n"
                              "\r\nHello all.\r\n" % (HAL[0], to, cc))
    queued = s.log_text().count("event=queued ")
    _, st = j.one("EmailSubmission/set", {"create": {
        "given": {"identityId": ident, "emailId": mine, "envelope": env},
        "derived": {"identityId": ident, "emailId": derived}}}, using=USING)
    assert st["created"] is None, st["created"]
    for k in ("given", "derived"):
        assert st["notCreated"][k] == {"type": "tooManyRecipients", "maxRecipients": 1000}, st
    assert s.log_text().count("event=queued ") == queued


def test_jmap_submission_unknown_local_recipients_are_invalid():
    """A local address of no account is invalidRecipients naming it (RFC
    8621 §7.5), nothing sent, as port 587 answers it 550 at RCPT TO
    (queue.h: such a recipient should have been refused before the
    queue). With a good recipient beside it, the submission was created
    and the unknown one told "250 2.0.0 Queued" while the queue dropped
    it; with none, it was invalidRecipients without the list the RFC
    says MUST be there. A derived envelope is judged the same."""
    s = srv()
    j = Jmap(s, *HAL)
    _, ids = j.one("Identity/get", {}, using=USING)
    ident = ids["list"][0]["id"]
    mine = draft(s, HAL[0], "nobody")
    derived = append_draft(s, "From: %s\r\nTo: ivy@example.test, nobody-3@example.test\r\n"
                              "Subject: nobody 2\r\n\r\nHello.\r\n" % HAL[0])

    def env(*rcpts):
        return {"mailFrom": {"email": HAL[0]}, "rcptTo": [{"email": a} for a in rcpts]}
    queued = s.log_text().count("event=queued ")
    _, st = j.one("EmailSubmission/set", {"create": {
        "mixed": {"identityId": ident, "emailId": mine,
                  "envelope": env("nobody-1@example.test", IVY[0], "rob@remote.test")},
        "all": {"identityId": ident, "emailId": mine,
                "envelope": env("nobody-1@example.test", "nobody-2@example.test")},
        "derived": {"identityId": ident, "emailId": derived}}}, using=USING)
    assert st["created"] is None, st["created"]
    nc = st["notCreated"]
    assert {k: (v["type"], v["invalidRecipients"]) for k, v in nc.items()} == {
        "mixed": ("invalidRecipients", ["nobody-1@example.test"]),
        "all": ("invalidRecipients", ["nobody-1@example.test", "nobody-2@example.test"]),
        "derived": ("invalidRecipients", ["nobody-3@example.test"])}, nc
    assert s.log_text().count("event=queued ") == queued
    # The good recipients alone go.
    _, st = j.one("EmailSubmission/set", {"create": {"good": {
        "identityId": ident, "emailId": mine, "envelope": env(IVY[0])}}}, using=USING)
    assert "good" in (st["created"] or {}), st


def test_jmap_submission_records_bounded_in_bytes():
    """An account keeps at most 4 MiB of submission records, the oldest
    going first, as well as at most 1,000 of them: /get, /query and
    /changes read them all, and 1,000 records of 256 KiB (an envelope of
    recipients with long ORCPTs) were 256 MB read and parsed for every
    such call. 18 records of about 250 KB each: the newest 16 stay."""
    s = Server(accounts=[HAL, IVY], http=True, imap=True, submission=True,
               env={"TERN_SEND_RATE": "0"})
    try:
        j, ident, mine = sender(s, "big")
        # Control characters are six octets each in the JSON record.
        env = {"mailFrom": {"email": HAL[0]}, "rcptTo": [
            {"email": "ivy+%02d@example.test" % i,
             "parameters": {"ORCPT": "rfc822;" + "\u0001" * 480}} for i in range(85)]}
        made = []
        for call in range(6):
            _, st = j.one("EmailSubmission/set", {"create": {
                "c%d" % i: {"identityId": ident, "emailId": mine, "envelope": env}
                for i in range(3)}}, using=USING)
            assert len(st["created"] or {}) == 3, st.get("notCreated")
            made += sorted(x["id"] for x in st["created"].values())
        _, q = j.one("EmailSubmission/query", {}, using=USING)
        kept = [m for m in made if m in q["ids"]]
        assert kept == made[-16:], (len(kept), made, q["ids"])
        _, g = j.one("EmailSubmission/get", {"ids": [made[0], made[-1]]}, using=USING)
        assert [x["id"] for x in g["list"]] == [made[-1]] and g["notFound"] == [made[0]], g
    finally:
        s.cleanup()


def test_jmap_submission_delivery_status_of_many_recipients_outlives_queue():
    """deliveryStatus of a submission to 1,000 recipients says "yes" for
    each once the queue entry is gone: the queue leaves the outcome in
    parts when it is over 64 KiB (1,000 lines of address and reply). It
    kept none then, and every recipient the relay took became
    "unknown"."""
    s = srv()
    j = Jmap(s, *HAL)
    _, ids = j.one("Identity/get", {}, using=USING)
    ident = ids["list"][0]["id"]
    mine = draft(s, HAL[0], "outcome")
    env = {"mailFrom": {"email": HAL[0]}, "rcptTo": [
        {"email": "a-rather-long-recipient-address-number-%04d@remote.test" % i}
        for i in range(1000)]}
    _, st = j.one("EmailSubmission/set", {"create": {"m": {
        "identityId": ident, "emailId": mine, "envelope": env}}}, using=USING)
    sid = st["created"]["m"]["id"]
    qid = re.search(r"submission=%s queue_id=(\d+) " % sid, wait_text(s, "submission=" + sid)).group(1)
    assert s.wait_log("event=done id=%s " % qid, timeout=60), s.log_text()[-2000:]
    deadline = time.time() + 20
    while qid in s.cli("queue", "list").stdout.decode() and time.time() < deadline:
        time.sleep(0.1)
    assert qid not in s.cli("queue", "list").stdout.decode()
    _, g = j.one("EmailSubmission/get", {"ids": [sid], "properties": ["deliveryStatus"]},
                 using=USING)
    ds = g["list"][0]["deliveryStatus"]
    assert len(ds) == 1000 and {v["delivered"] for v in ds.values()} == {"yes"}, \
        [(k, v) for k, v in ds.items() if v["delivered"] != "yes"][:5]


def wait_text(s, needle):
    assert s.wait_log(needle), s.log_text()[-2000:]
    return s.log_text()


def test_jmap_submission_mt_priority():
    """MT-PRIORITY (RFC 6710) in the envelope's mailFrom parameters (RFC
    8621 §7: MAIL FROM's parameters): the account capability lists it
    with MIXER as the EHLO does; -9..9 is the queue entry's priority, as
    from an authenticated 587 client; anything else is invalidProperties
    (the values port 587 answers 501 to). The relay here refuses
    connections, so the entries stay queued for `tern queue list`."""
    with Server(accounts=[HAL], http=True, imap=True,
                env={"TERN_RELAY_HOST": "127.0.0.1:%d" % free_port()}) as s:
        j = Jmap(s, *HAL)
        sess = j.session()
        sub = sess["accounts"][j.account]["accountCapabilities"]["urn:ietf:params:jmap:submission"]
        assert sub["submissionExtensions"]["MT-PRIORITY"] == ["MIXER"], sub
        _, ids = j.one("Identity/get", {}, using=USING)
        ident = ids["list"][0]["id"]
        mine = draft(s, HAL[0], "prio")

        def env(rcpt, prio):
            return {"mailFrom": {"email": HAL[0], "parameters": {"MT-PRIORITY": prio}},
                    "rcptTo": [{"email": rcpt}]}
        create = {"up": {"identityId": ident, "emailId": mine, "envelope": env("up@remote.test", "4")},
                  "down": {"identityId": ident, "emailId": mine,
                           "envelope": env("down@remote.test", "-9")}}
        bad = ("10", "-10", "+", "high", "1.5", "--1", "09", "", None)
        for i, v in enumerate(bad):
            create["bad%d" % i] = {"identityId": ident, "emailId": mine,
                                   "envelope": env("bad%d@remote.test" % i, v)}
        _, st = j.one("EmailSubmission/set", {"create": create}, using=USING)
        assert sorted(st["created"]) == ["down", "up"], st
        assert {k: (v["type"], v["properties"]) for k, v in st["notCreated"].items()} == {
            "bad%d" % i: ("invalidProperties", ["envelope"]) for i in range(len(bad))}, st
        out = s.cli("queue", "list").stdout.decode()
        lines = out.splitlines()  # an entry's line, then its one recipient's
        up = next(i for i, ln in enumerate(lines) if "<up@remote.test>" in ln)
        down = next(i for i, ln in enumerate(lines) if "<down@remote.test>" in ln)
        assert "(priority 4)" in lines[up - 1], out
        assert "(priority -9)" in lines[down - 1], out
        assert "bad" not in out, out


def test_jmap_submission_too_big_for_a_local_quota_says_so_in_its_status():
    """A local recipient whose mailbox has no room for the message goes
    through the queue (queue.h), here larger than its whole quota: its
    deliveryStatus is the queue's outcome ("no", the 5.2.2 reply), not
    "yes" for a copy never stored."""
    s = srv()
    full = "full-jmap@example.test"
    s.cli("account", "add", full, "--quota", "2000", input="pw-full-jmap-1\n")
    j = Jmap(s, *HAL)
    _, ids = j.one("Identity/get", {}, using=USING)
    ident = ids["list"][0]["id"]
    mine = append_draft(s, "From: %s\r\nTo: %s\r\nSubject: no room\r\n\r\n%s\r\n"
                        % (HAL[0], full, "z" * 3000))
    _, st = j.one("EmailSubmission/set", {"create": {"m": {
        "identityId": ident, "emailId": mine,
        "envelope": {"mailFrom": {"email": HAL[0]}, "rcptTo": [{"email": full}]}}}},
        using=USING)
    sid = st["created"]["m"]["id"]
    qid = re.search(r"submission=%s queue_id=(\d+) " % sid, wait_text(s, "submission=" + sid)).group(1)
    deadline = time.time() + 20
    while True:
        _, g = j.one("EmailSubmission/get", {"ids": [sid], "properties": ["deliveryStatus"]},
                     using=USING)
        ds = g["list"][0]["deliveryStatus"][full]
        if "5.2.2" in ds["smtpReply"] or time.time() > deadline:
            break
        time.sleep(0.2)
    # Larger than the whole quota: never fits, bounced.
    assert ds["delivered"] == "no" and "5.2.2" in ds["smtpReply"], ds
    assert s.messages(full) == []
    assert qid != "0"
