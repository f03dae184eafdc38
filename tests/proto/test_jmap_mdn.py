"""JMAP MDN (RFC 9007): MDN/send builds the RFC 8098 multipart/report and
sends it through the outbound path EmailSubmission uses (checked at a
loopback relay: null envelope sender, to the Disposition-Notification-To
address, DKIM-signed, the report's fields as a reader parses them with
Python's email package), onSuccessUpdateEmail sets $mdnsent as the
implicit Email/set, then mdnAlreadySent; the refusals (no such email, no
Disposition-Notification-To (notFound), a finalRecipient that is not the account's,
bad properties, an unknown identity); MDN/parse of the received report
uploaded as a blob, of a blob that is no report and of an unknown blob;
the capability in the session. Requests are plain JSON as a client
library sends them. One server for the module."""
import atexit
import email
import email.policy
import os
import smtplib
import time

from harness import Server, free_port
from jmapc import Jmap
from mailpeers import Receiver

HAL = ("hal@example.test", "hal-password-1")
MDN = "urn:ietf:params:jmap:mdn"
USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail",
         "urn:ietf:params:jmap:submission", MDN]

_srv = _relay = None


def srv():
    global _srv, _relay
    if _srv is None:
        rport = free_port()
        _relay = Receiver("127.0.0.1", rport, tls=True)
        _srv = Server(accounts=[HAL], http=True, imap=True,
                      env={"TERN_RELAY_HOST": "127.0.0.1:%d" % rport,
                           "TERN_TLS_CA_FILE": os.path.join(_relay.tmp, "peer.crt")})
        atexit.register(_srv.cleanup)
        atexit.register(_relay.stop)
    return _srv


def deliver(s, j, subject, extra):
    """One message from bob@remote.test to HAL over SMTP; its JMAP id."""
    msg = ("From: Bob <bob@remote.test>\r\nTo: hal@example.test\r\nSubject: %s\r\n"
           "Message-ID: <%s@remote.test>\r\n%s\r\nAre you free at noon?\r\n"
           % (subject, subject.replace(" ", "."), extra))
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        c.sendmail("bob@remote.test", [HAL[0]], msg.encode())
    deadline = time.time() + 10
    while time.time() < deadline:
        _, q = j.one("Email/query", {"filter": {"subject": subject}})
        if q["ids"]:
            return q["ids"][0]
        time.sleep(0.1)
    raise AssertionError("not delivered: " + subject)


LONG_TEXT = "read " * 250 + "caf\u00e9"


def test_jmap_mdn():
    s = srv()
    j = Jmap(s, *HAL)
    sess = j.session()
    assert sess["capabilities"][MDN] == {}, sess["capabilities"]
    assert sess["accounts"][j.account]["accountCapabilities"][MDN] == {}, sess
    assert sess["primaryAccounts"][MDN] == j.account, sess
    _, ids = j.one("Identity/get", {}, using=USING)
    ident = [i["id"] for i in ids["list"] if i["email"] == HAL[0]][0]
    asked = deliver(s, j, "lunch plans",
                    "Disposition-Notification-To: Bob <bob@remote.test>\r\n"
                    "Original-Recipient: rfc822; hal@example.test\r\n")
    unasked = deliver(s, j, "no receipt", "")

    # The shape a client library sends: send + onSuccessUpdateEmail.
    r = j.call([["MDN/send", {
        "accountId": j.account, "identityId": ident,
        "send": {"k1": {"forEmailId": asked, "textBody": "I have read it.\n" + LONG_TEXT,
                        "reportingUA": "joes-pc.example.test; TestMail 1.0",
                        "includeOriginalMessage": True,
                        "disposition": {"actionMode": "manual-action",
                                        "sendingMode": "mdn-sent-manually",
                                        "type": "displayed"},
                        "extensionFields": {"X-Test-Field": "kept", "X-Long": "z" * 1500}}},
        "onSuccessUpdateEmail": {"#k1": {"keywords/$mdnsent": True}}}, "m1"]],
        USING)["methodResponses"]
    assert [x[0] for x in r] == ["MDN/send", "Email/set"] and r[1][2] == "m1", r
    res = r[0][1]
    assert res["notSent"] is None, res
    sent = res["sent"]["k1"]
    assert sent["finalRecipient"] == "rfc822; hal@example.test", sent
    assert sent["originalMessageId"] == "<lunch.plans@remote.test>", sent
    assert sent["originalRecipient"] == "rfc822; hal@example.test", sent
    assert sent["subject"] == "Read: lunch plans", sent
    assert "textBody" not in sent and "includeOriginalMessage" not in sent, sent
    assert r[1][1]["updated"] == {asked: None}, r[1]
    _, g = j.one("Email/get", {"ids": [asked], "properties": ["keywords"]})
    assert g["list"][0]["keywords"].get("$mdnsent") is True, g

    # What the relay got: RFC 8098 from the null sender to the DNT address.
    msgs = _relay.wait_messages(1)
    assert len(msgs) == 1, s.log_text()[-3000:]
    m = msgs[0]
    assert m["from"] == "" and m["rcpts"] == ["bob@remote.test"], m
    raw = m["data"]
    assert raw.startswith(b"DKIM-Signature:") and b"d=example.test" in raw[:600], raw[:600]
    p = email.message_from_bytes(raw, policy=email.policy.default)
    assert p.get_content_type() == "multipart/report", p["Content-Type"]
    assert p.get_param("report-type") == "disposition-notification", p["Content-Type"]
    assert p["From"].addresses[0].addr_spec == HAL[0] and [a.addr_spec for a in p["To"].addresses] == ["bob@remote.test"], p
    assert p["Subject"] == "Read: lunch plans" and p["References"] == "<lunch.plans@remote.test>"
    assert p["Auto-Submitted"] is None, p  # sent manually
    parts = list(p.iter_parts())
    assert [x.get_content_type() for x in parts] == [
        "text/plain", "message/disposition-notification", "message/rfc822"], parts
    # RFC 5322 §2.1.1 / RFC 2045: a text line over 998 octets goes
    # quoted-printable, a long report field is cut to fit a line.
    assert parts[0]["Content-Transfer-Encoding"] == "quoted-printable", parts[0]
    # (The last line end is the boundary's, RFC 2046 §5.1.1.)
    assert parts[0].get_content().replace("\r\n", "\n") == "I have read it.\n" + LONG_TEXT, \
        parts[0].get_content()
    assert max(len(l) for l in raw.split(b"\r\n")) <= 998, raw
    dn = parts[1].get_payload()
    fields = {}
    for blk in (dn if isinstance(dn, list) else [parts[1]]):
        for k, v in blk.items():
            fields[k] = str(v)
    if not fields:
        text = parts[1].get_payload(decode=True).decode()
        fields = dict(l.split(": ", 1) for l in text.strip().split("\r\n"))
    assert fields["Disposition"] == "manual-action/MDN-sent-manually; displayed", fields
    assert fields["Final-Recipient"] == "rfc822; hal@example.test", fields
    assert fields["Original-Recipient"] == "rfc822; hal@example.test", fields
    assert fields["Original-Message-ID"] == "<lunch.plans@remote.test>", fields
    assert fields["Reporting-UA"] == "joes-pc.example.test; TestMail 1.0", fields
    assert fields["X-Test-Field"] == "kept", fields
    orig = parts[2].get_payload()[0]
    assert orig["Subject"] == "lunch plans", orig

    # Refusals: already sent, no such email, nothing asked (notFound
    # too, RFC 9007 section 2.1: no valid Disposition-Notification-To),
    # not our address, a property the server sets, a bad disposition.
    disp = {"actionMode": "automatic-action", "sendingMode": "mdn-sent-automatically",
            "type": "processed"}
    _, res = j.one("MDN/send", {"identityId": ident, "send": {
        "again": {"forEmailId": asked, "disposition": disp},
        "gone": {"forEmailId": "E7fffffff", "disposition": disp},
        "unasked": {"forEmailId": unasked, "disposition": disp},
        "other": {"forEmailId": unasked, "disposition": disp,
                  "finalRecipient": "rfc822; boss@other.test"},
        "server": {"forEmailId": unasked, "disposition": disp, "originalMessageId": "<x@y>"},
        "bad": {"forEmailId": unasked, "disposition": dict(disp, type="read")}}}, using=USING)
    assert res["sent"] is None, res
    assert {k: v["type"] for k, v in res["notSent"].items()} == {
        "again": "mdnAlreadySent", "gone": "notFound", "unasked": "notFound",
        "other": "forbiddenFrom", "server": "invalidProperties", "bad": "invalidProperties"}, res
    assert res["notSent"]["bad"]["properties"] == ["disposition"], res
    _, res = j.one("MDN/send", {"identityId": "Inope", "send": {}}, using=USING)
    assert _ == "error" and res["type"] == "invalidArguments", res
    # Without the capability in "using", the method is unknown.
    r = j.call([["MDN/send", {"accountId": j.account, "identityId": ident, "send": {}}, "u"]],
               USING[:3])["methodResponses"]
    assert r[0][0] == "error" and r[0][1]["type"] == "unknownMethod", r
    time.sleep(0.3)
    assert len(_relay.messages) == 1, _relay.messages

    # MDN/parse: the report the relay got, uploaded; a plain message; none.
    st, hd, up = j.request("POST", "/jmap/upload/%s/" % j.account, raw,
                           {"Content-Type": "message/rfc822"})
    assert st == 201, (st, up)
    st, hd, plain = j.request("POST", "/jmap/upload/%s/" % j.account,
                              b"From: a@b.test\r\nSubject: hi\r\n\r\nno report\r\n")
    assert st == 201, (st, plain)
    nope = "B" + "0" * 64
    _, res = j.one("MDN/parse", {"blobIds": [up["blobId"], plain["blobId"], nope]}, using=USING)
    assert res["notParsable"] == [plain["blobId"]] and res["notFound"] == [nope], res
    got = res["parsed"][up["blobId"]]
    assert got == {
        "forEmailId": None, "subject": "Read: lunch plans",
        "textBody": "I have read it.\r\n" + LONG_TEXT,
        "includeOriginalMessage": True, "reportingUA": "joes-pc.example.test; TestMail 1.0",
        "disposition": {"actionMode": "manual-action", "sendingMode": "mdn-sent-manually",
                        "type": "displayed"},
        "mdnGateway": None, "originalRecipient": "rfc822; hal@example.test",
        "finalRecipient": "rfc822; hal@example.test",
        "originalMessageId": "<lunch.plans@remote.test>", "error": None,
        "extensionFields": {"X-Test-Field": "kept", "X-Long": "z" * (998 - len("X-Long: "))}}, got
