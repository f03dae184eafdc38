"""/set's invalidProperties names every bad property of one create or
update (RFC 8620 §5.3: "properties" SHOULD list all of them), for every
type: a create or update with several wrong properties at once (unknown
names, server-set ones, values of the wrong JSON type) is answered with
all of them, not the first one the server met, and a useful
description."""
from jmapc import CORE, MAIL, Jmap, shared_server

BOB = ("bob@example.test", "bob-password-1")


def srv():
    return shared_server([BOB])


def bad(err, want):
    assert err["type"] == "invalidProperties", err
    assert sorted(err["properties"]) == sorted(want), err
    assert err.get("description"), err


def test_jmap_set_props_mailbox():
    j = Jmap(srv(), *BOB)
    _, r = j.one("Mailbox/set", {"accountId": j.account, "create": {
        "m1": {"name": 7, "sortOrder": "x", "isSubscribed": 1, "role": 3,
               "parentId": "Mnope", "id": "M1", "totalEmails": 0, "bogus": 1}}})
    bad(r["notCreated"]["m1"], ["name", "sortOrder", "isSubscribed", "role", "parentId", "id",
                                "totalEmails", "bogus"])
    _, r = j.one("Mailbox/set", {"accountId": j.account, "create": {"ok": {"name": "PropsBox"}}})
    mid = r["created"]["ok"]["id"]
    _, r = j.one("Mailbox/set", {"accountId": j.account, "update": {mid: {
        "name": "", "sortOrder": -1, "isSubscribed": "yes", "parentId": mid,
        "unreadEmails": 4, "myRights/mayDelete": False, "bogus": None}}})
    bad(r["notUpdated"][mid], ["name", "sortOrder", "isSubscribed", "parentId", "unreadEmails",
                               "myRights/mayDelete", "bogus"])
    # Nothing of a refused update was written.
    _, r = j.one("Mailbox/get", {"accountId": j.account, "ids": [mid]})
    assert r["list"][0]["name"] == "PropsBox"


SUB = "urn:ietf:params:jmap:submission"


def test_jmap_set_props_identity():
    j = Jmap(srv(), *BOB)
    use = (CORE, MAIL, SUB)
    _, r = j.one("Identity/set", {"create": {"i1": {
        "name": 1, "replyTo": "x", "bcc": [{"email": "not an address"}], "id": "I1",
        "mayDelete": True, "bogus": 0, "textSignature": None}}}, use)
    # textSignature null is its default, "" (RFC 8620 §5.3), not a bad one.
    bad(r["notCreated"]["i1"], ["name", "replyTo", "bcc", "id", "mayDelete", "bogus", "email"])
    _, r = j.one("Identity/set", {"create": {"ok": {"email": BOB[0]}}}, use)
    iid = r["created"]["ok"]["id"]
    _, r = j.one("Identity/set", {"update": {iid: {
        "name": 5, "email": "other@example.test", "mayDelete": False, "id": "Ix",
        "htmlSignature": None, "bogus": "x"}}}, use)
    bad(r["notUpdated"][iid], ["name", "email", "mayDelete", "id", "bogus"])
    # An identity too large to keep (64 KiB stored) names the properties
    # that made it so; it was serverFail. Nothing is changed.
    big = "x" * 40000
    _, r = j.one("Identity/set", {"update": {iid: {"textSignature": big, "htmlSignature": big,
                                                   "name": "Bob"}}}, use)
    bad(r["notUpdated"][iid], ["textSignature", "htmlSignature"])
    _, r = j.one("Identity/set", {"create": {"big": {"email": BOB[0], "htmlSignature": big * 2}}},
                 use)
    bad(r["notCreated"]["big"], ["htmlSignature"])
    _, g = j.one("Identity/get", {"ids": [iid]}, use)
    assert g["list"][0]["textSignature"] == "" and g["list"][0]["name"] == "", g
    _, r = j.one("Identity/set", {"update": {iid: {"textSignature": big}}}, use)
    assert r["updated"] == {iid: None}, r


SIEVE = "urn:ietf:params:jmap:sieve"


def test_jmap_set_props_sieve():
    j = Jmap(srv(), *BOB)
    use = (CORE, SIEVE)
    _, r = j.one("SieveScript/set", {"create": {"s1": {
        "name": 5, "blobId": 7, "isActive": True, "id": "S1", "bogus": 1}}}, use)
    bad(r["notCreated"]["s1"], ["name", "blobId", "isActive", "id", "bogus"])
    # A create without blobId, with an unknown property: both.
    _, r = j.one("SieveScript/set", {"create": {"s2": {"name": "ok", "bogus": 1}}}, use)
    bad(r["notCreated"]["s2"], ["blobId", "bogus"])
    st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, b"keep;\r\n",
                          {"Content-Type": "application/sieve"})
    assert st == 201, up
    _, r = j.one("SieveScript/set", {"create": {"ok": {"name": "props", "blobId": up["blobId"]}}},
                 use)
    sid = r["created"]["ok"]["id"]
    _, r = j.one("SieveScript/set", {"update": {sid: {
        "name": None, "blobId": [], "isActive": True, "id": "Sx", "bogus": 2}}}, use)
    bad(r["notUpdated"][sid], ["name", "blobId", "isActive", "id", "bogus"])


VAC = "urn:ietf:params:jmap:vacationresponse"


def test_jmap_set_props_vacation():
    j = Jmap(srv(), *BOB)
    _, r = j.one("VacationResponse/set", {"update": {"singleton": {
        "isEnabled": "yes", "fromDate": "tomorrow", "toDate": 5, "subject": 1,
        "textBody": [], "htmlBody": {}, "id": "other", "bogus": True}}}, (CORE, MAIL, VAC))
    bad(r["notUpdated"]["singleton"], ["isEnabled", "fromDate", "toDate", "subject", "textBody",
                                       "htmlBody", "id", "bogus"])


def pushsub_set(j, args):
    r = j.call([["PushSubscription/set", args, "p"]], using=(CORE,))["methodResponses"]
    assert r[0][0] == "PushSubscription/set", r
    return r[0][1]


def test_jmap_set_props_pushsub():
    j = Jmap(srv(), *BOB)
    r = pushsub_set(j, {"create": {"p1": {
        "deviceClientId": 5, "url": "http://plain.test/", "keys": {"p256dh": "x"},
        "types": "Email", "expires": "soon", "verificationCode": "abc", "id": "P1",
        "bogus": 1}}})
    bad(r["notCreated"]["p1"], ["deviceClientId", "url", "keys", "types", "expires",
                                "verificationCode", "id", "bogus"])
    # Required ones missing are named with the unknown one.
    r = pushsub_set(j, {"create": {"p2": {"bogus": 1}}})
    bad(r["notCreated"]["p2"], ["bogus", "deviceClientId", "url"])
    r = pushsub_set(j, {"create": {"ok": {"deviceClientId": "dev-props",
                                          "url": "https://127.0.0.1:9/push"}}})
    pid = r["created"]["ok"]["id"]
    r = pushsub_set(j, {"update": {pid: {
        "verificationCode": "wrong", "expires": 7, "types": [1], "url": "https://other.test/",
        "deviceClientId": "x", "bogus": 2}}})
    bad(r["notUpdated"][pid], ["verificationCode", "expires", "types", "url", "deviceClientId",
                               "bogus"])
    pushsub_set(j, {"destroy": [pid]})


def test_jmap_set_props_email_create():
    j = Jmap(srv(), *BOB)
    _, r = j.one("Email/set", {"create": {"e1": {
        "mailboxIds": "x", "receivedAt": 5, "bodyValues": [], "id": "E1", "blobId": "Bx",
        "threadId": "T1", "size": 5, "hasAttachment": False, "bogus": 1, "subject": "hi"}}})
    bad(r["notCreated"]["e1"], ["mailboxIds", "receivedAt", "bodyValues", "id", "blobId",
                                "threadId", "size", "hasAttachment", "bogus"])


def test_jmap_set_props_email_update():
    j = Jmap(srv(), *BOB)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    inbox = [m["id"] for m in mb["list"] if m["role"] == "inbox"][0]
    _, r = j.one("Email/set", {"create": {"e": {"mailboxIds": {inbox: True}, "subject": "props",
                                                "bodyValues": {"1": {"value": "hi"}},
                                                "textBody": [{"partId": "1"}]}}})
    eid = r["created"]["e"]["id"]
    _, r = j.one("Email/set", {"update": {eid: {
        "keywords": 5, "mailboxIds/Mnope": True, "subject": "changed", "size": 1,
        "bogus": 1}}})
    bad(r["notUpdated"][eid], ["keywords", "mailboxIds/Mnope", "subject", "size", "bogus"])
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["keywords", "mailboxIds"]})
    assert g["list"][0]["mailboxIds"] == {inbox: True} and g["list"][0]["keywords"] == {}, g


def test_jmap_set_props_email_import():
    j = Jmap(srv(), *BOB)
    _, r = j.one("Email/import", {"emails": {"i1": {
        "blobId": 5, "mailboxIds": {}, "receivedAt": "noon", "id": "E1", "bogus": 1}}})
    bad(r["notCreated"]["i1"], ["blobId", "mailboxIds", "receivedAt", "id", "bogus"])


def test_jmap_set_props_email_create_header_and_body():
    """The header fields and the body parts are checked to the end too:
    each bad convenience or header: property and each bad body property
    is named, with the Email's other bad properties."""
    j = Jmap(srv(), *BOB)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    inbox = [m["id"] for m in mb["list"] if m["role"] == "inbox"][0]
    _, r = j.one("Email/set", {"create": {"e1": {
        "mailboxIds": {inbox: True}, "bogus": 1,
        "from": "not a list", "to": [{"email": "no-at-sign"}], "sentAt": "noon",
        "header:X-When:asDate": "later", "header:Subject:asAddresses": [],
        "bodyValues": {"1": {"value": "hi"}},
        "textBody": [{"partId": "nope"}],
        "htmlBody": [{"partId": "1", "type": "image/png"}],
        "attachments": [{"blobId": 5}]}}})
    bad(r["notCreated"]["e1"], ["bogus", "from", "to", "sentAt", "header:X-When:asDate",
                                "header:Subject:asAddresses", "textBody", "htmlBody",
                                "attachments"])
    # bodyStructure: its bad part named once with the header's.
    _, r = j.one("Email/set", {"create": {"e2": {
        "mailboxIds": {inbox: True}, "subject": 5, "messageId": ["a@b", "c@d"],
        "bodyStructure": {"type": "multipart/mixed", "subParts": [
            {"partId": "1", "type": "text/plain"}, {"type": "no-slash", "blobId": "B1"}]},
        "bodyValues": {"1": {"value": "hi"}}}}})
    bad(r["notCreated"]["e2"], ["subject", "messageId", "bodyStructure"])
    # Every bad body property with a good header: all of them.
    _, r = j.one("Email/set", {"create": {"e3": {
        "mailboxIds": {inbox: True}, "subject": "fine",
        "textBody": [{"partId": "1"}, {"partId": "2"}],
        "htmlBody": [{"blobId": "B1", "subParts": []}],
        "attachments": {"x": 1}}}})
    bad(r["notCreated"]["e3"], ["textBody", "htmlBody", "attachments"])


def test_jmap_set_props_email_create_part_size_charset():
    """RFC 8621 §4.6, within an EmailBodyPart: charset and size MUST be
    omitted when partId is given (the server picks the encoding, the
    size is the value's); with blobId a size is ignored but is still an
    UnsignedInt. Each was accepted."""
    j = Jmap(srv(), *BOB)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    inbox = [m["id"] for m in mb["list"] if m["role"] == "inbox"][0]
    st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, b"data",
                          {"Content-Type": "application/octet-stream"})
    assert st == 201, up
    base = {"mailboxIds": {inbox: True}, "subject": "parts",
            "bodyValues": {"1": {"value": "hi"}}, "textBody": [{"partId": "1"}]}
    _, r = j.one("Email/set", {"create": {
        "size": dict(base, textBody=[{"partId": "1", "size": 2}]),
        "charset": dict(base, textBody=[{"partId": "1", "charset": "utf-8"}]),
        "blobsize": dict(base, attachments=[{"blobId": up["blobId"], "size": "big"}]),
        "both": dict(base, textBody=[{"partId": "1", "size": 2}],
                     attachments=[{"blobId": up["blobId"], "size": -1}]),
        "ok": dict(base, attachments=[{"blobId": up["blobId"], "size": 999}])}})
    nc = r["notCreated"] or {}
    bad(nc.get("size", {"type": None}), ["textBody"])
    bad(nc.get("charset", {"type": None}), ["textBody"])
    bad(nc.get("blobsize", {"type": None}), ["attachments"])
    bad(nc.get("both", {"type": None}), ["textBody", "attachments"])
    assert list(r["created"]) == ["ok"], r
    _, g = j.one("Email/get", {"ids": [r["created"]["ok"]["id"]], "properties": ["attachments"]})
    assert g["list"][0]["attachments"][0]["size"] == 4, g


def test_jmap_set_null_is_default():
    """A PatchObject's null sets a property to its default (RFC 8620
    5.3): Email keywords to {} (RFC 8621 4.1.1, default {}) and Mailbox
    sortOrder to 0 (RFC 8621 2, default 0). Both were invalidProperties,
    so a client clearing them so (one patch for every property it
    resets) failed."""
    j = Jmap(srv(), *BOB)
    _, r = j.one("Mailbox/set", {"create": {"m": {"name": "NullDefault", "sortOrder": 9}}})
    mid = r["created"]["m"]["id"]
    _, r = j.one("Email/set", {"create": {"e": {
        "mailboxIds": {mid: True}, "subject": "null default",
        "keywords": {"$seen": True, "$flagged": True}}}})
    eid = r["created"]["e"]["id"]
    _, r = j.one("Email/set", {"update": {eid: {"keywords": None}}})
    assert r["updated"] == {eid: None}, r
    _, r = j.one("Mailbox/set", {"update": {mid: {"sortOrder": None}}})
    assert r["updated"] == {mid: None}, r
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["keywords"]})
    assert g["list"][0]["keywords"] == {}, g
    _, g = j.one("Mailbox/get", {"ids": [mid], "properties": ["sortOrder", "unreadEmails"]})
    assert g["list"][0]["sortOrder"] == 0 and g["list"][0]["unreadEmails"] == 1, g
    # A property without a default stays refused.
    _, r = j.one("Mailbox/set", {"update": {mid: {"isSubscribed": None}}})
    bad(r["notUpdated"][mid], ["isSubscribed"])
