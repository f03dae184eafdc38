"""JMAP mail beyond the record (RFC 8621): Email/get's headers and
header:NAME:asForm[:all] properties with exact values from §4.1.2's rules
(Raw, Text, Addresses, GroupedAddresses, MessageIds, Date, URLs) and the
forms a field may not be asked in; Email/query's content conditions (text,
from, to, cc, bcc, subject, body, header, hasAttachment), SearchSnippet/get
marking what the query matched, and Email/queryChanges. One server for
the module."""
import smtplib
import ssl
import time

from httpc import Api
from jmapc import MAIL, Jmap, shared_server
from test_imap_search_ext import wait_count

EVE = ("eve@example.test", "eve-password-1")
FRED = ("fred@example.test", "fred-password-1-Vq8r")

HDR_MSG = (
    "From: \"Joe Q. Public\" <john.q.public@example.com>\r\n"
    "To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\r\n"
    "Cc: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>\r\n"
    "To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\r\n"
    "Subject: =?UTF-8?Q?Caf=C3=A9?= news\r\n"
    "Date: Fri, 20 Nov 2026 12:00:00 -0500\r\n"
    "Message-ID: <m1@x.test>\r\n"
    "References: <r1@x.test>\r\n <r2@x.test>\r\n"
    "List-Unsubscribe: <mailto:u@l.test>, <https://l.test/u>\r\n"
    "X-Custom:  value one\r\n"
    "X-Custom: =?UTF-8?B?w6k=?=\r\n folded\r\n"
    "\r\nbody\r\n")


ADMIN_PW = "admin-password-1-Vq8r"


def srv():
    return shared_server([EVE, FRED], submission=True, env={"TERN_ADMIN_PASSWORD": ADMIN_PW})


def deliver(s, user, texts):
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        for t in texts:
            c.sendmail("joe@remote.test", [user], t.encode())
    wait_count(s, len(texts), account=user)


def ids_in_order(j):
    _, q = j.one("Email/query", {"sort": [{"property": "id"}]})
    return q["ids"]


def test_jmap_header_forms():
    s = srv()
    deliver(s, EVE[0], [HDR_MSG])
    j = Jmap(s, *EVE)
    eid = ids_in_order(j)[0]
    props = ["header:Subject:asText", "header:Subject", "header:From:asAddresses",
             "header:to:asGroupedAddresses", "header:To:asAddresses:all",
             "header:Cc:asAddresses", "header:Date:asDate", "sentAt",
             "header:References:asMessageIds", "header:List-Unsubscribe:asURLs",
             "header:X-Custom:all", "header:X-Custom:asText", "header:X-Missing",
             "header:X-Missing:asText:all", "header:Message-ID:asMessageIds"]
    _, g = j.one("Email/get", {"ids": [eid], "properties": props})
    e = g["list"][0]
    mary = [{"name": "Mary Smith", "email": "mary@x.test"},
            {"name": None, "email": "jdoe@example.org"},
            {"name": "Who?", "email": "one@y.test"}]
    group = [{"name": "Ed Jones", "email": "c@a.test"}, {"name": None, "email": "joe@where.test"},
             {"name": "John", "email": "jdoe@one.test"}]
    assert e == {
        "id": eid,
        "header:Subject:asText": "Caf\u00e9 news",
        "header:Subject": " =?UTF-8?Q?Caf=C3=A9?= news",
        "header:From:asAddresses": [{"name": "Joe Q. Public", "email": "john.q.public@example.com"}],
        "header:to:asGroupedAddresses": [{"name": "A Group", "addresses": group}],
        "header:To:asAddresses:all": [mary, group],
        "header:Cc:asAddresses": [{"name": None, "email": "boss@nil.test"},
                                  {"name": "Giant; \"Big\" Box", "email": "sysservices@example.net"}],
        "header:Date:asDate": "2026-11-20T12:00:00-05:00",
        "sentAt": "2026-11-20T12:00:00-05:00",
        "header:References:asMessageIds": ["r1@x.test", "r2@x.test"],
        "header:List-Unsubscribe:asURLs": ["mailto:u@l.test", "https://l.test/u"],
        "header:X-Custom:all": ["  value one", " =?UTF-8?B?w6k=?=\r\n folded"],
        "header:X-Custom:asText": "\u00e9 folded",
        "header:X-Missing": None,
        "header:X-Missing:asText:all": [],
        "header:Message-ID:asMessageIds": ["m1@x.test"],
    }, e
    # Grouped: addresses outside a group gather under name null.
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["header:To:asGroupedAddresses:all"]})
    assert g["list"][0]["header:To:asGroupedAddresses:all"] == [
        [{"name": None, "addresses": mary}], [{"name": "A Group", "addresses": group}]], g
    # headers: every field in order with its raw value (delivery's own
    # trace fields come first).
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["headers"]})
    hs = g["list"][0]["headers"]
    tail = hs[[h["name"] for h in hs].index("From"):]
    assert [h["name"] for h in tail] == ["From", "To", "Cc", "To", "Subject", "Date", "Message-ID",
                                         "References", "List-Unsubscribe", "X-Custom", "X-Custom"], hs
    assert tail[7] == {"name": "References", "value": " <r1@x.test>\r\n <r2@x.test>"}, tail
    # Forms a field does not allow, unknown forms and bad names.
    for bad in ["header:Subject:asAddresses", "header:From:asDate", "header:X:asBogus",
                "header:Received:asText", "header:Date:asURLs", "header:", "header:A B",
                "header:X-Custom:asRaw:some"]:
        name, err = j.one("Email/get", {"ids": [eid], "properties": [bad]})
        assert name == "error" and err["type"] == "invalidArguments", (bad, err)
    # Dates: an obsolete zone keeps its offset; one RFC 3339 cannot write
    # (hours past 23: "+2400" gave "+24:00", "+9959" "+99:59") goes in
    # UTC, as does one that is read as none (minutes past 59).
    deliver(s, EVE[0], ["From: a@remote.test\r\nSubject: dates\r\n"
                        "Date: Fri, 20 Nov 2026 12:00:00 EST\r\n"
                        "X-Far: Fri, 20 Nov 2026 12:00:00 +2400\r\n"
                        "X-Farther: Fri, 20 Nov 2026 12:00:00 -9959\r\n"
                        "X-Bad: Fri, 20 Nov 2026 12:00:00 -0960\r\n\r\nx\r\n"])
    _, g = j.one("Email/get", {"ids": ids_in_order(j)[-1:], "properties": [
        "sentAt", "header:X-Far:asDate", "header:X-Farther:asDate", "header:X-Bad:asDate"]})
    d = g["list"][0]
    assert (d["sentAt"], d["header:X-Far:asDate"], d["header:X-Farther:asDate"],
            d["header:X-Bad:asDate"]) == ("2026-11-20T12:00:00-05:00", "2026-11-19T12:00:00Z",
                                          "2026-11-24T15:59:00Z", "2026-11-20T12:00:00Z"), d


TEXT_MSGS = [
    "From: \"Alice Example\" <alice@remote.test>\r\nTo: fred@example.test\r\n"
    "Subject: Quarterly report\r\n\r\nPlease find the Quarterly numbers attached.\r\nRegards\r\n",
    "From: bob@remote.test\r\nTo: fred@example.test\r\nCc: Carol <carol@remote.test>\r\n"
    "Subject: =?UTF-8?Q?R=C3=A9sum=C3=A9?= & lunch\r\nX-Tag: green\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    "Let's meet at <noon> for the r\u00e9sum\u00e9 talk.\r\n--b\r\n"
    "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "AAEC\r\n--b--\r\n",
    "From: dave@remote.test\r\nTo: fred@example.test\r\nSubject: other\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/html; charset=utf-8\r\n\r\n"
    "<html><head><style>p { color: red }</style></head><body><p>nothing <b>he</b>re"
    "&nbsp;caf&eacute;</p></body></html>\r\n",
]


def test_jmap_query_text_snippets_changes():
    s = srv()
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        for t in TEXT_MSGS:
            c.sendmail("joe@remote.test", [FRED[0]], t.encode("utf-8"))
    wait_count(s, 3, account=FRED[0])
    j = Jmap(s, *FRED)
    m1, m2, m3 = ids_in_order(j)

    def q(f):
        name, r = j.one("Email/query", {"filter": f, "sort": [{"property": "id"}]})
        assert name == "Email/query", (f, r)
        return r["ids"]

    assert q({"from": "alice"}) == [m1]
    assert q({"from": "ALICE EXAMPLE"}) == [m1]
    assert q({"cc": "carol"}) == [m2]
    assert q({"bcc": "carol"}) == []
    assert q({"to": "fred@"}) == [m1, m2, m3]
    assert q({"subject": "R\u00c9SUM\u00c9"}) == [m2]
    assert q({"body": "quarterly numbers"}) == [m1]
    assert q({"body": "report"}) == []
    assert q({"text": "quarterly"}) == [m1]
    assert q({"text": "carol"}) == [m2]
    assert q({"header": ["X-Tag"]}) == [m2]
    assert q({"header": ["x-tag", "GREEN"]}) == [m2]
    assert q({"header": ["X-Tag", "blue"]}) == []
    # An HTML body: its text, not its markup (RFC 8621 4.4.1 "body").
    assert q({"body": "nothing here caf\u00e9"}) == [m3]
    assert q({"body": "color"}) == [] and q({"body": "<b>"}) == [] and q({"body": "nbsp"}) == []
    assert q({"hasAttachment": True}) == [m2]
    assert q({"hasAttachment": False}) == [m1, m3]
    assert q({"operator": "NOT", "conditions": [{"text": "quarterly"}]}) == [m2, m3]
    assert q({"operator": "OR", "conditions": [{"from": "dave"}, {"body": "noon"}]}) == [m2, m3]
    # Sorts on the message's fields (RFC 8621 4.4.2): base subject and
    # the first From's name (else address), compared case-insensitively.
    def srt(prop, asc=True):
        _, r = j.one("Email/query", {"sort": [{"property": prop, "isAscending": asc}]})
        return r["ids"]

    assert srt("subject") == [m3, m1, m2], srt("subject")
    assert srt("from") == [m1, m2, m3] and srt("from", False) == [m3, m2, m1]
    assert srt("to") == [m1, m2, m3]  # all to fred: by id
    assert srt("sentAt") == [m1, m2, m3]  # no Date: the received dates
    for bad in [{"header": []}, {"header": "X-Tag"}, {"header": ["a", "b", "c"]},
                {"hasAttachment": "yes"}, {"text": 5}]:
        name, e = j.one("Email/query", {"filter": bad})
        assert name == "error" and e["type"] == "invalidArguments", (bad, e)

    # SearchSnippet/get (RFC 8621 §5): the terms marked, HTML escaped.
    _, sn = j.one("SearchSnippet/get", {"filter": {"text": "quarterly"},
                                        "emailIds": [m1, m3, "E7fffffff"]})
    assert sn == {"accountId": j.account, "list": [
        {"emailId": m1, "subject": "<mark>Quarterly</mark> report",
         "preview": "Please find the <mark>Quarterly</mark> numbers attached. Regards"},
        {"emailId": m3, "subject": None, "preview": None}],
        "notFound": ["E7fffffff"]}, sn
    _, sn = j.one("SearchSnippet/get", {"filter": {"operator": "AND", "conditions": [
        {"body": "noon"}, {"subject": "r\u00e9sum\u00e9"}]}, "emailIds": [m2]})
    assert sn["list"] == [{"emailId": m2, "subject": "<mark>R\u00e9sum\u00e9</mark> &amp; lunch",
                           "preview": "Let's meet at &lt;<mark>noon</mark>&gt; for the "
                                      "r\u00e9sum\u00e9 talk."}] and sn["notFound"] is None, sn
    # A term under NOT is not marked; no filter marks nothing.
    _, sn = j.one("SearchSnippet/get", {"filter": {"operator": "NOT", "conditions": [
        {"text": "other"}]}, "emailIds": [m3]})
    assert sn["list"] == [{"emailId": m3, "subject": None, "preview": None}], sn
    _, sn = j.one("SearchSnippet/get", {"filter": {"body": "here"}, "emailIds": [m3]})
    assert sn["list"] == [{"emailId": m3, "subject": None,
                           "preview": "nothing <mark>here</mark> caf\u00e9"}], sn
    name, e = j.one("SearchSnippet/get", {"filter": None})
    assert name == "error" and e["type"] == "invalidArguments", e

    # Email/queryChanges (RFC 8620 §5.6).
    args = {"filter": {"hasKeyword": "$flagged"}, "sort": [{"property": "id"}]}
    _, q0 = j.one("Email/query", args)
    assert q0["ids"] == [] and q0["canCalculateChanges"] is True, q0
    _, st = j.one("Email/set", {"update": {m3: {"keywords/$flagged": True}}})
    assert m3 in st["updated"], st
    _, qc = j.one("Email/queryChanges", dict(args, sinceQueryState=q0["queryState"],
                                             calculateTotal=True))
    assert qc == {"accountId": j.account, "oldQueryState": q0["queryState"],
                  "newQueryState": st["newState"], "total": 1, "removed": [m3],
                  "added": [{"id": m3, "index": 0}]}, qc
    name, e = j.one("Email/queryChanges", dict(args, sinceQueryState=q0["queryState"],
                                               maxChanges=1))
    assert name == "error" and e["type"] == "tooManyChanges", e
    name, e = j.one("Email/queryChanges", dict(args, sinceQueryState="x"))
    assert name == "error" and e["type"] == "cannotCalculateChanges", e
    _, qc = j.one("Email/queryChanges", dict(args, sinceQueryState=st["newState"]))
    assert qc["removed"] == [] and qc["added"] == [], qc


GUS = ("gus@example.test", "gus-password-1")
PORTAL_VACATION = ('require ["vacation"];\nvacation :days 7 :subject "Portal away" '
                   '"I am \\"out\\" today";\n')


def test_jmap_identity_create_nulls():
    """Identity/set create with properties given as null: null is the
    property's default (RFC 8620 §5.3), "" for name and the signatures,
    null for replyTo and bcc, as a client that sends its whole object
    writes it. name, textSignature and htmlSignature null were refused
    (invalidProperties, "a String") on create, though a patch took them.
    The defaults a null stood for come back in created."""
    nell = ("nell@example.test", "nell-password-1")
    s, j = hal(nell)
    sub = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail",
           "urn:ietf:params:jmap:submission"]
    _, st = j.one("Identity/set", {"create": {"n": {
        "email": nell[0], "name": None, "replyTo": None, "bcc": None,
        "textSignature": None, "htmlSignature": None}}}, using=sub)
    assert not st["notCreated"], st
    new = st["created"]["n"]["id"]
    assert st["created"]["n"] == {"id": new, "mayDelete": True, "name": "",
                                  "textSignature": "", "htmlSignature": ""}, st
    _, g = j.one("Identity/get", {"ids": [new]}, using=sub)
    assert g["list"] == [{"id": new, "mayDelete": True, "name": "", "email": nell[0],
                          "replyTo": None, "bcc": None, "textSignature": "",
                          "htmlSignature": ""}], g
    # A wrong type is still refused.
    _, st = j.one("Identity/set", {"create": {"x": {"email": nell[0], "name": 5}}}, using=sub)
    assert st["notCreated"]["x"]["type"] == "invalidProperties", st
    assert st["notCreated"]["x"]["properties"] == ["name"], st


def test_jmap_identity_quota_vacation():
    s = srv()
    if s.cli("account", "list").stdout.decode().find(GUS[0]) < 0:
        s.cli("account", "add", GUS[0], "--quota", "1000000", input=GUS[1] + "\n")
        s.cli("alias", "add", "g.u.s@example.test", GUS[0])
    j = Jmap(s, *GUS)
    sub = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail",
           "urn:ietf:params:jmap:submission"]

    # Identity (RFC 8621 §6): one per address the account sends from.
    _, g = j.one("Identity/get", {}, using=sub)
    ids = {x["email"]: x for x in g["list"]}
    assert set(ids) == {GUS[0], "g.u.s@example.test"} and g["notFound"] == [], g
    own = ids[GUS[0]]
    assert own == {"id": own["id"], "mayDelete": False, "name": "", "email": GUS[0],
                   "replyTo": None, "bcc": None, "textSignature": "", "htmlSignature": ""}, own
    state0 = g["state"]
    _, st = j.one("Identity/set", {"ifInState": state0, "create": {
        "a": {"email": "G.U.S@example.test", "name": "Gus Alias", "textSignature": "-- G",
              "bcc": [{"name": None, "email": "archive@example.test"}]},
        "b": {"email": "someone@else.test"},
        "c": {"name": "no address"},
        "d": {"email": GUS[0], "mayDelete": True}},
        "update": {own["id"]: {"name": "Gus", "replyTo": [{"name": "G", "email": GUS[0]}]},
                   ids["g.u.s@example.test"]["id"]: {"email": "other@example.test"},
                   "Inope": {"name": "x"}},
        "destroy": [own["id"]]}, using=sub)
    new = st["created"]["a"]["id"]
    # The server-set properties and the defaults of those left out (RFC
    # 8620 §5.3).
    assert st["created"] == {"a": {"id": new, "mayDelete": True, "replyTo": None,
                                   "htmlSignature": ""}}, st
    assert {k: v["type"] for k, v in st["notCreated"].items()} == {
        "b": "forbiddenFrom", "c": "invalidProperties", "d": "invalidProperties"}, st
    assert st["updated"] == {own["id"]: None}, st
    assert {k: v["type"] for k, v in st["notUpdated"].items()} == {
        ids["g.u.s@example.test"]["id"]: "invalidProperties", "Inope": "notFound"}, st
    assert st["notDestroyed"][own["id"]]["type"] == "forbidden" and st["destroyed"] is None, st
    assert st["oldState"] == state0 and st["newState"] != state0, st
    _, g = j.one("Identity/get", {"ids": [own["id"], new, "Inope"],
                                  "properties": ["name", "replyTo", "bcc"]}, using=sub)
    assert g["list"] == [
        {"id": own["id"], "name": "Gus", "replyTo": [{"name": "G", "email": GUS[0]}], "bcc": None},
        {"id": new, "name": "Gus Alias", "replyTo": None,
         "bcc": [{"name": None, "email": "archive@example.test"}]}] and g["notFound"] == ["Inope"], g
    # Exact from the older state too (jmap_typestate.c).
    _, ch = j.one("Identity/changes", {"sinceState": state0}, using=sub)
    assert ch["created"] == [new] and ch["updated"] == [own["id"]] and ch["destroyed"] == [], ch
    _, ch = j.one("Identity/changes", {"sinceState": g["state"]}, using=sub)
    assert ch["created"] == ch["updated"] == ch["destroyed"] == [], ch
    name, e = j.one("Identity/set", {"ifInState": state0, "destroy": [new]}, using=sub)
    assert name == "error" and e["type"] == "stateMismatch", e
    _, st = j.one("Identity/set", {"destroy": [new]}, using=sub)
    assert st["destroyed"] == [new], st
    # null in a patch sets the default: "" for these (RFC 8620 §5.3).
    _, st = j.one("Identity/set", {"update": {own["id"]: {"name": None, "textSignature": None}}},
                  using=sub)
    assert st["updated"] == {own["id"]: None}, st
    _, g = j.one("Identity/get", {"ids": [own["id"]], "properties": ["name", "textSignature"]},
                 using=sub)
    assert g["list"] == [{"id": own["id"], "name": "", "textSignature": ""}], g
    _, st = j.one("Identity/set", {"update": {own["id"]: {"name": "Gus"}}}, using=sub)
    assert st["updated"] == {own["id"]: None}, st
    # replyTo and bcc hold mailboxes (RFC 8621 §6): an email that is none
    # is refused, and nothing of the call is kept.
    bad = ["bad", "", "a b@example.test", "x@example.test\r\nBcc: y@example.test",
           "x@example.test>", "<x@example.test>", "@a,@b:x@example.test", "x@", "x@-a.test"]
    _, st = j.one("Identity/set", {
        "create": {f"c{i}": {"email": GUS[0], "bcc": [{"email": b}]} for i, b in enumerate(bad)},
        "update": {own["id"]: {"replyTo": [{"name": "G", "email": GUS[0]}, {"email": "bad"}]}}},
        using=sub)
    assert not st["created"] and not st["updated"] and st["newState"] == st["oldState"], st
    assert {k: (v["type"], v["properties"]) for k, v in st["notCreated"].items()} == {
        f"c{i}": ("invalidProperties", ["bcc"]) for i in range(len(bad))}, st
    assert st["notUpdated"][own["id"]]["type"] == "invalidProperties", st
    assert st["notUpdated"][own["id"]]["properties"] == ["replyTo"], st
    # Without the submission capability in "using", the method is not known.
    name, e = j.one("Identity/get", {})
    assert name == "error" and e["type"] == "unknownMethod", e

    # Quota (RFC 9425): the account's octets.
    # types name JMAP Data Types (RFC 9425 §4.1: "Email", not "Mail"),
    # and a quota whose types the client did not ask for in "using" is
    # not returned (§4.1 MUST NOT): without the mail capability, none.
    qu = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:quota"]
    _, q = j.one("Quota/get", {"ids": None}, using=qu)
    assert q["list"] == [], q
    _, q = j.one("Quota/get", {"ids": ["Q0"]}, using=qu)
    assert q["list"] == [] and q["notFound"] == ["Q0"], q
    _, qq = j.one("Quota/query", {}, using=qu)
    assert qq["ids"] == [], qq
    qu = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail", "urn:ietf:params:jmap:quota"]
    _, q = j.one("Quota/get", {}, using=qu)
    q0 = {"id": "Q0", "resourceType": "octets", "used": 0, "hardLimit": 1000000,
          "scope": "account", "name": "Mail storage", "types": ["Email"]}
    assert q["list"] == [q0] and q["notFound"] == [], q
    msg = "From: joe@remote.test\r\nTo: gus@example.test\r\nSubject: hi\r\n\r\nhello\r\n"
    deliver(s, GUS[0], [msg])
    _, q2 = j.one("Quota/get", {"ids": ["Q0", "Q9"], "properties": ["used"]}, using=qu)
    assert q2["list"] == [{"id": "Q0", "used": q2["list"][0]["used"]}] and q2["notFound"] == ["Q9"]
    assert q2["list"][0]["used"] > len(msg) - 10, q2
    _, ch = j.one("Quota/changes", {"sinceState": q["state"]}, using=qu)
    assert ch["updated"] == ["Q0"] and ch["created"] == ch["destroyed"] == [], ch
    # Mail moved, the limit did not: only "used" can have (RFC 9425 §4.2).
    assert ch["updatedProperties"] == ["used"], ch
    _, ch = j.one("Quota/changes", {"sinceState": q2["state"]}, using=qu)
    assert ch["updated"] == [] and ch["updatedProperties"] is None, ch
    _, qq = j.one("Quota/query", {"filter": {"resourceType": "octets", "name": "Mail"},
                                  "calculateTotal": True}, using=qu)
    assert qq["ids"] == ["Q0"] and qq["total"] == 1, qq
    _, qq = j.one("Quota/query", {"filter": {"type": "Calendar"}}, using=qu)
    assert qq["ids"] == [], qq
    _, qq = j.one("Quota/query", {"filter": {"type": "Email"}}, using=qu)
    assert qq["ids"] == ["Q0"], qq
    _, q = Jmap(s, *EVE).one("Quota/get", {}, using=qu)
    assert q["list"] == [], q
    # The administrator's change of the limit is a change of the Quota
    # (hardLimit; made or gone with the limit), though no mail moved.
    api = Api(s)
    assert api.login(ADMIN_PW)[0] == 200
    for limit, kind in [(2000000, "updated"), (0, "destroyed"), (3000000, "created")]:
        _, before = j.one("Quota/get", {"ids": None}, using=qu)
        st, _, body = api.call("PATCH", "/accounts/" + GUS[0], {"quota": limit})
        assert st == 200, body
        _, after = j.one("Quota/get", {"ids": None}, using=qu)
        assert after["state"] != before["state"], (limit, before, after)
        assert [x["hardLimit"] for x in after["list"]] == ([limit] if limit else []), after
        _, ch = j.one("Quota/changes", {"sinceState": before["state"]}, using=qu)
        assert ch["newState"] == after["state"], ch
        assert {k: ch[k] for k in ("created", "updated", "destroyed") if ch[k]} == {kind: ["Q0"]}, ch
        assert ch["updatedProperties"] is None, ch  # hardLimit too
    api.call("PATCH", "/accounts/" + GUS[0], {"quota": 1000000})

    # VacationResponse (RFC 8621 §8) is the Sieve script "vacation".
    va = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:vacationresponse"]
    _, v = j.one("VacationResponse/get", {}, using=va)
    off = {"id": "singleton", "isEnabled": False, "fromDate": None, "toDate": None,
           "subject": None, "textBody": None, "htmlBody": None}
    assert v["list"] == [off] and v["notFound"] == [], v
    state0 = v["state"]
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {
        "isEnabled": True, "subject": "Away", "textBody": "Back \"soon\"\\",
        "fromDate": "2020-01-01T00:00:00Z", "toDate": "2099-01-01T00:00:00Z"}},
        "create": {"x": {}}, "destroy": ["singleton"]}, using=va)
    assert st["updated"] == {"singleton": None}, st
    assert st["notCreated"]["x"]["type"] == "singleton", st
    assert st["notDestroyed"]["singleton"]["type"] == "singleton", st
    # The state moves with the data (RFC 8620 §5.1), though no mail did.
    assert st["oldState"] == state0 and st["newState"] != state0, st
    assert s.cli("sieve", "list", GUS[0]).stdout == b"vacation ACTIVE\n"
    _, v = j.one("VacationResponse/get", {"ids": ["singleton"]}, using=va)
    assert v["state"] == st["newState"], (v, st)
    name, e = j.one("VacationResponse/set", {"ifInState": state0, "update": {
        "singleton": {"isEnabled": False}}}, using=va)
    assert name == "error" and e["type"] == "stateMismatch", e
    assert v["list"] == [dict(off, isEnabled=True, subject="Away", textBody="Back \"soon\"\\",
                              fromDate="2020-01-01T00:00:00Z", toDate="2099-01-01T00:00:00Z")], v
    # Sieve runs it at delivery: the reply goes to the outbound queue.
    sent = s.log_text().count("event=vacation_sent")
    deliver(s, GUS[0], ["From: ann@remote.test\r\nTo: gus@example.test\r\nSubject: q\r\n\r\nq\r\n"])
    deadline = time.time() + 10
    while s.log_text().count("event=vacation_sent") == sent and time.time() < deadline:
        time.sleep(0.05)
    assert s.log_text().count("event=vacation_sent") == sent + 1, s.log_text()[-2000:]
    # The other way: the portal's form (the same script) shows over JMAP.
    s.cli("sieve", "put", GUS[0], "vacation", input=PORTAL_VACATION)
    state1 = v["state"]
    _, v = j.one("VacationResponse/get", {}, using=va)
    assert v["state"] != state1, v
    assert v["list"] == [dict(off, isEnabled=True, subject="Portal away",
                              textBody="I am \"out\" today")], v
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {"isEnabled": False}}}, using=va)
    assert st["updated"] == {"singleton": None}, st
    assert s.cli("sieve", "list", GUS[0]).stdout == b"vacation\n"
    _, v = j.one("VacationResponse/get", {}, using=va)
    assert v["list"] == [dict(off, subject="Portal away", textBody="I am \"out\" today")], v
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {"htmlBody": 3},
                                                      "other": {"isEnabled": True}}}, using=va)
    assert st["notUpdated"]["singleton"]["type"] == "invalidProperties", st
    assert st["notUpdated"]["other"]["type"] == "notFound", st
    # A text with a NUL (no message may hold one, RFC 5322 §3.5) is
    # refused, not cut short at it; one too long for the Sieve string it
    # is written as (64 KiB) is tooLarge (RFC 8620 §5.3), not serverFail.
    # Neither changes anything.
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {"htmlBody": "<p>a\u0000b</p>"}}},
                  using=va)
    assert {k: st["notUpdated"]["singleton"][k] for k in ("type", "properties")} == {
        "type": "invalidProperties", "properties": ["htmlBody"]}, st
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {"subject": "a\u0000"}}}, using=va)
    assert st["notUpdated"]["singleton"]["properties"] == ["subject"], st
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {"fromDate": "2026-02-30T00:00:00Z"}}},
                  using=va)
    assert st["notUpdated"]["singleton"]["properties"] == ["fromDate"], st
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {"textBody": "x" * 70000}}},
                  using=va)
    assert st["notUpdated"]["singleton"]["type"] == "tooLarge", st
    assert st["newState"] == st["oldState"], st
    _, v = j.one("VacationResponse/get", {}, using=va)
    assert v["list"] == [dict(off, subject="Portal away", textBody="I am \"out\" today")], v
    # htmlBody: the reply is multipart/alternative (Sieve's :mime), and
    # both texts come back exactly, whatever they hold.
    text, html = "Away \"now\"\\\nback Monday\n--=_tern_vacation\n", "<p>Away <b>now</b> \u00e9</p>"
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {
        "isEnabled": True, "textBody": text, "htmlBody": html}}}, using=va)
    assert st["updated"] == {"singleton": None}, st
    _, v = j.one("VacationResponse/get", {}, using=va)
    assert v["list"] == [dict(off, isEnabled=True, subject="Portal away", textBody=text,
                              htmlBody=html)], v
    # A local sender gets the reply: its two parts are the two bodies.
    kim = ("kim@example.test", "kim-password-1")
    s.cli("account", "add", kim[0], input=kim[1] + "\n")
    f, got = reply_to(s, kim, GUS[0], "From: kim@example.test\r\nTo: gus@example.test\r\n"
                      "Subject: html?\r\n\r\nq\r\n", "Portal away")
    _, g = f.one("Email/get", {"ids": got, "properties": ["textBody", "htmlBody", "bodyValues"],
                               "fetchTextBodyValues": True, "fetchHTMLBodyValues": True})
    r = g["list"][0]
    assert [p["type"] for p in r["textBody"]] == ["text/plain"], r
    assert [p["type"] for p in r["htmlBody"]] == ["text/html"], r
    assert r["bodyValues"][r["textBody"][0]["partId"]]["value"] == text, r
    assert r["bodyValues"][r["htmlBody"][0]["partId"]]["value"] == html, r
    # HTML alone: no text part; null again: a plain reply.
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {"textBody": None}}}, using=va)
    _, v = j.one("VacationResponse/get", {}, using=va)
    assert v["list"][0]["textBody"] is None and v["list"][0]["htmlBody"] == html, v
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {
        "textBody": "plain", "htmlBody": None}}}, using=va)
    _, v = j.one("VacationResponse/get", {}, using=va)
    assert v["list"][0]["textBody"] == "plain" and v["list"][0]["htmlBody"] is None, v


HAL = ("hal@example.test", "hal-password-1")

NESTED = (
    "From: a@remote.test\r\nTo: hal@example.test\r\nSubject: nested\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
    "--outer\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n"
    "--alt\r\nContent-Type: text/plain; charset=UTF-8\r\nX-Part: one\r\nX-Part:  two\r\n\r\n"
    "plain\r\n"
    "--alt\r\nContent-Type: text/html; charset=\"ISO-8859-1\"\r\nContent-Language: en, de\r\n"
    "Content-Location: http://x.test/a.html\r\n\r\n<p>h</p>\r\n"
    "--alt--\r\n"
    "--outer\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n"
    "From: b@remote.test\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n"
    "--in\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--in--\r\n"
    "--outer\r\nContent-Type: image/png; name=\"x.png\"\r\n"
    "Content-Disposition: inline; filename*=UTF-8''b%C3%A4r.png\r\nContent-ID: <img1@x>\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
    "--outer--\r\n")


def hal(acct=HAL):
    """The module's server with acct (added the first time) and a client."""
    s = srv()
    if s.cli("account", "list").stdout.decode().find(acct[0]) < 0:
        s.cli("account", "add", acct[0], input=acct[1] + "\n")
    return s, Jmap(s, *acct)


def reply_to(s, sender, rcpt, text, subject):
    """Sends text from the local account sender (port 465) to rcpt and
    waits up to 15 s for a message of that subject in the sender's
    mailbox (a vacation reply): the sender's client and the ids."""
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    with smtplib.SMTP_SSL("127.0.0.1", s.submissions_port, context=tls, timeout=30) as c:
        c.login(*sender)
        c.sendmail(sender[0], [rcpt], text.encode())
    f = Jmap(s, *sender)
    deadline, got = time.time() + 15, []
    while not got and time.time() < deadline:
        _, q = f.one("Email/query", {"filter": {"subject": subject}})
        got = q["ids"]
        time.sleep(0.1)
    assert got, s.log_text()[-2000:]
    return f, got


def import_msgs(j, texts, keywords=None):
    """Email/import of each text into the Inbox (no Received field added),
    in order; returns the ids."""
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    inbox = [m["id"] for m in mb["list"] if m["role"] == "inbox"][0]
    emails = {}
    for i, t in enumerate(texts):
        st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, t.encode(),
                              {"Content-Type": "message/rfc822"})
        assert st == 201, (st, up)
        emails["e%d" % i] = {"blobId": up["blobId"], "mailboxIds": {inbox: True},
                             "keywords": (keywords or {}).get(i, {}),
                             "receivedAt": "2026-11-2%dT10:00:00Z" % (i % 10)}
    _, r = j.one("Email/import", {"emails": emails})
    assert len(r["created"]) == len(texts), r
    return [r["created"]["e%d" % i]["id"] for i in range(len(texts))]


def test_jmap_message_ids_parse_as_a_list_or_null():
    """RFC 8621 §4.1.2.3: asMessageIds parses the field as RFC 5322
    §3.6.4's msg-id list, "If parsing fails, the value is null"; messageId,
    inReplyTo and references are that form (§4.1.2). A field broken part
    way (an id with a space or no "@", a comma, a stray ">", an unclosed
    id) gave the ids around the break; now null. CFWS and an obsolete
    phrase between ids (RFC 5322 §4.5.4) still parse. A long References
    is given whole: references kept only the last 100 ids, and
    header:References:asMessageIds the last 256."""
    s, j = hal()
    refs = " ".join("<r%03d@x.test>" % i for i in range(300))
    texts = [
        "Message-ID: <a@x.test> junk@x.test\r\nIn-Reply-To: <b@x.test>, <c@x.test>\r\n"
        "References: <d@x.test> <e f@x.test>\r\nX-Ids: <g@x.test> <nohost>\r\n"
        "Subject: broken\r\n\r\nbody\r\n",
        "Message-ID: <a@x.test> >\r\nIn-Reply-To: <b@x.test> <c@x.test\r\n"
        "References: (c) <d@x.test>\r\n\t(x) <e@[10.0.0.1]>\r\n"
        "X-Ids: Your note of \"Mon\" <g@x.test>\r\nSubject: fine\r\n\r\nbody\r\n",
        "Message-ID: <long@x.test>\r\nReferences: %s\r\nSubject: long\r\n\r\nbody\r\n" % refs,
    ]
    ids = import_msgs(j, texts)
    props = ["messageId", "inReplyTo", "references", "header:Message-ID:asMessageIds",
             "header:In-Reply-To:asMessageIds", "header:References:asMessageIds",
             "header:X-Ids:asMessageIds"]
    _, g = j.one("Email/get", {"ids": ids, "properties": props})
    broken, fine, long_ = g["list"]
    assert all(broken[p] is None for p in props), broken
    assert fine["messageId"] is None and fine["header:Message-ID:asMessageIds"] is None, fine
    assert fine["inReplyTo"] is None and fine["header:In-Reply-To:asMessageIds"] is None, fine
    assert fine["references"] == ["d@x.test", "e@[10.0.0.1]"], fine
    assert fine["header:References:asMessageIds"] == fine["references"], fine
    assert fine["header:X-Ids:asMessageIds"] == ["g@x.test"], fine
    want = ["r%03d@x.test" % i for i in range(300)]
    assert long_["references"] == want and long_["header:References:asMessageIds"] == want, (
        len(long_["references"]), len(long_["header:References:asMessageIds"]))
    assert long_["messageId"] == ["long@x.test"], long_


def test_jmap_body_part_properties():
    """RFC 8621 §4.1.4: every EmailBodyPart property, headers and
    header:NAME forms per part, over nested multiparts and an attached
    message (a leaf: its own parts are not subParts)."""
    s, j = hal()
    eid = import_msgs(j, [NESTED])[0]
    bp = ["partId", "blobId", "size", "name", "type", "charset", "disposition", "cid",
          "language", "location", "subParts", "headers", "header:Content-Type:asText",
          "header:X-Part:all", "header:X-Part:asText"]
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["bodyStructure", "headers",
                                                            "attachments", "textBody",
                                                            "htmlBody"],
                               "bodyProperties": bp})
    e = g["list"][0]
    root = e["bodyStructure"]
    blob = e["bodyStructure"]["subParts"][0]["subParts"][0]["blobId"]
    pre = blob[:blob.rindex("_") + 1]  # the email's part-blob prefix

    def part(pid, size, typ, headers, **kw):
        d = {"partId": pid, "blobId": pre + pid if pid else None, "size": size, "name": None,
             "type": typ, "charset": None, "disposition": None, "cid": None,
             "language": None, "location": None, "subParts": None, "headers": headers,
             "header:Content-Type:asText": None, "header:X-Part:all": [],
             "header:X-Part:asText": None}
        for h in headers:
            if h["name"] == "Content-Type":
                d["header:Content-Type:asText"] = h["value"].strip()
        d.update(kw)
        return d
    inner = ("From: b@remote.test\r\nSubject: inner\r\nContent-Type: multipart/mixed; "
             "boundary=in\r\n\r\n--in\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--in--")
    plain = part("2", 5, "text/plain", [{"name": "Content-Type", "value": " text/plain; charset=UTF-8"},
                                         {"name": "X-Part", "value": " one"},
                                         {"name": "X-Part", "value": "  two"}],
                 charset="utf-8", **{"header:X-Part:all": [" one", "  two"],
                                     "header:X-Part:asText": "two"})
    html = part("3", 8, "text/html",
                [{"name": "Content-Type", "value": " text/html; charset=\"ISO-8859-1\""},
                 {"name": "Content-Language", "value": " en, de"},
                 {"name": "Content-Location", "value": " http://x.test/a.html"}],
                charset="iso-8859-1", language=["en", "de"], location="http://x.test/a.html")
    msg = part("4", len(inner), "message/rfc822",
               [{"name": "Content-Type", "value": " message/rfc822"},
                {"name": "Content-Disposition", "value": " attachment"}],
               disposition="attachment")
    img = part("7", 8, "image/png",
               [{"name": "Content-Type", "value": " image/png; name=\"x.png\""},
                {"name": "Content-Disposition", "value": " inline; filename*=UTF-8''b%C3%A4r.png"},
                {"name": "Content-ID", "value": " <img1@x>"},
                {"name": "Content-Transfer-Encoding", "value": " base64"}],
               name="b\u00e4r.png", disposition="inline", cid="img1@x")
    # A multipart's size is its body's (RFC 8621 4.1.4), to the CRLF of
    # the boundary after it.
    outer = NESTED.split("\r\n\r\n", 1)[1]
    alt_body = outer[outer.index("\r\n\r\n") + 4:outer.index("\r\n--outer\r\nContent-Type: message")]
    alt = part(None, len(alt_body), "multipart/alternative",
               [{"name": "Content-Type", "value": " multipart/alternative; boundary=alt"}],
               subParts=[plain, html])
    want = part(None, len(outer), "multipart/mixed", e["headers"], subParts=[alt, msg, img],
                **{"header:Content-Type:asText": "multipart/mixed; boundary=\"outer\""})
    assert root == want, (root, want)
    # textBody/htmlBody/attachments take bodyProperties too (subParts
    # asked for is null on a part that is no multipart, as in
    # bodyStructure); the inline image is in both bodies, not an
    # attachment (§4.1.4).
    assert e["attachments"] == [msg], e["attachments"]
    assert e["textBody"] == [plain, img] and e["htmlBody"] == [html, img], e
    # The part blobs hold the decoded content.
    st, _, data = j.request("GET", "/jmap/download/%s/%s/x" % (j.account, img["blobId"]))
    assert st == 200 and data == b"\x89PNG\r\n\x1a\n", (st, data)
    # A form the field does not allow is refused, as on the Email.
    name, err = j.one("Email/get", {"ids": [eid], "properties": ["bodyStructure"],
                                    "bodyProperties": ["header:From:asDate"]})
    assert name == "error" and err["type"] == "invalidArguments", err
    # Email/parse takes them too: the attached message's own structure.
    _, p = j.one("Email/parse", {"blobIds": [msg["blobId"]], "properties": ["bodyStructure"],
                                 "bodyProperties": ["partId", "type", "header:Content-Type"]})
    ps = p["parsed"][msg["blobId"]]["bodyStructure"]
    assert ps == {"partId": None, "type": "multipart/mixed",
                  "header:Content-Type": " multipart/mixed; boundary=in",
                  "subParts": [{"partId": "1", "type": "text/plain",
                                "header:Content-Type": " text/plain"}]}, ps


IVY = ("ivy@example.test", "ivy-password-1")


def test_jmap_keyword_sorts():
    """RFC 8621 §4.4.2: hasKeyword, allInThreadHaveKeyword and
    someInThreadHaveKeyword as sorts (false before true when ascending)."""
    s = srv()
    if s.cli("account", "list").stdout.decode().find(IVY[0]) < 0:
        s.cli("account", "add", IVY[0], input=IVY[1] + "\n")
    j = Jmap(s, *IVY)
    opts = j.session()["accounts"][j.account]["accountCapabilities"][MAIL]
    assert {"hasKeyword", "allInThreadHaveKeyword",
            "someInThreadHaveKeyword"} <= set(opts["emailQuerySortOptions"]), opts

    def m(subj, mid, refs=None):
        h = "From: a@remote.test\r\nTo: ivy@example.test\r\nSubject: %s\r\nMessage-ID: <%s>\r\n" % (
            subj, mid)
        if refs:
            h += "In-Reply-To: <%s>\r\nReferences: <%s>\r\n" % (refs, refs)
        return h + "\r\nx\r\n"
    flag = {"$flagged": True}
    ids = import_msgs(j, [m("t1", "t1a@x"), m("Re: t1", "t1b@x", "t1a@x"), m("t2", "t2a@x"),
                          m("Re: t2", "t2b@x", "t2a@x"), m("t3", "t3@x")],
                      {0: flag, 2: flag, 3: flag})
    _, g = j.one("Email/get", {"ids": ids, "properties": ["threadId"]})
    th = [x["threadId"] for x in g["list"]]
    assert th[0] == th[1] and th[2] == th[3] and len(set(th)) == 3, th

    def order(*sort):
        _, q = j.one("Email/query", {"sort": list(sort) + [{"property": "receivedAt"}]})
        return [ids.index(i) for i in q["ids"]]
    assert order({"property": "hasKeyword", "keyword": "$flagged"}) == [1, 4, 0, 2, 3]
    assert order({"property": "hasKeyword", "keyword": "$Flagged",
                  "isAscending": False}) == [0, 2, 3, 1, 4]
    assert order({"property": "allInThreadHaveKeyword", "keyword": "$flagged",
                  "isAscending": False}) == [2, 3, 0, 1, 4]
    assert order({"property": "someInThreadHaveKeyword", "keyword": "$flagged",
                  "isAscending": False}) == [0, 1, 2, 3, 4]
    assert order({"property": "someInThreadHaveKeyword", "keyword": "$seen"}) == [0, 1, 2, 3, 4]
    for bad in ({"property": "hasKeyword"}, {"property": "hasKeyword", "keyword": "a b"},
                {"property": "allInThreadHaveKeyword", "keyword": 3}):
        name, e = j.one("Email/query", {"sort": [bad]})
        assert name == "error" and e["type"] == "invalidArguments", (bad, e)


REPEATED = (
    "From: a@x.test\r\nTo: First <one@x.test>\r\nCc: c1@x.test\r\nSubject: first subject\r\n"
    "Message-ID: <m1@x.test>\r\nTo: Second <two@x.test>, three@x.test\r\n"
    "Subject: =?UTF-8?Q?second_subj=C3=A9ct?=\r\nCc: c2@x.test\r\nMessage-ID: <m2@x.test>\r\n"
    "\r\nbody\r\n")


def test_jmap_repeated_fields_last_instance():
    """RFC 8621 §4.1.3: from, to, cc, subject, messageId are
    header:NAME:asForm without :all, "the value of the last instance of the
    header field"; :all gives every instance in order. IMAP's ENVELOPE of
    the same message joins the To and Cc lists (its own rule), which JMAP
    must not show."""
    s, j = hal(("ivy@example.test", "ivy-password-1"))
    eid = import_msgs(j, [REPEATED])[0]
    last_to = [{"name": "Second", "email": "two@x.test"}, {"name": None, "email": "three@x.test"}]
    props = ["from", "to", "cc", "subject", "messageId", "header:To:asAddresses",
             "header:Subject:asText", "header:To:asAddresses:all", "header:Subject:asText:all"]
    for how in ("get", "parse"):
        if how == "get":
            _, g = j.one("Email/get", {"ids": [eid], "properties": props})
            e = g["list"][0]
            del e["id"]
        else:
            _, g = j.one("Email/get", {"ids": [eid], "properties": ["blobId"]})
            _, p = j.one("Email/parse", {"blobIds": [g["list"][0]["blobId"]],
                                         "properties": props})
            e = p["parsed"][g["list"][0]["blobId"]]
        assert e == {
            "from": [{"name": None, "email": "a@x.test"}],
            "to": last_to,
            "cc": [{"name": None, "email": "c2@x.test"}],
            "subject": "second subj\u00e9ct",
            "messageId": ["m2@x.test"],
            "header:To:asAddresses": last_to,
            "header:Subject:asText": "second subj\u00e9ct",
            "header:To:asAddresses:all": [[{"name": "First", "email": "one@x.test"}], last_to],
            "header:Subject:asText:all": ["first subject", "second subj\u00e9ct"],
        }, (how, e)


JOY = ("joy@example.test", "joy-password-1")


def test_jmap_create_header_forms():
    """Email/set create (RFC 8621 §4.6) takes header:NAME in every form of
    §4.1.2, and :all: each written as the field's wire form (RFC 2047 words
    for names not in ASCII, quoted specials, <id>s folded, a Date at its
    own offset, <url>s, one field per value), and Email/get asking the
    same properties gives the values back. Refused (invalidProperties
    naming the property): a form the field does not allow, a field given
    twice (two header: properties, or one and its convenience property),
    Content-* at the top level, :all without an array."""
    import email
    import email.policy
    s, j = hal(JOY)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    drafts = [m["id"] for m in mb["list"] if m["role"] == "drafts"][0]
    refs = ["ref%02d.%s@long-host-name.example.test" % (i, "x" * 20) for i in range(6)]
    grouped = [{"name": "Team \u00e9", "addresses": [
                   {"name": "Ann, \"A\" Lee", "email": "ann@x.test"},
                   {"name": None, "email": "bo@x.test"}]},
               {"name": None, "addresses": [{"name": "Cy", "email": "cy@x.test"}]}]
    props = {
        "header:From:asAddresses": [{"name": "Zo\u00eb \u00c7elik", "email": "zoe@x.test"},
                                    {"name": "Dan, the boss", "email": "dan@x.test"}],
        "header:To:asGroupedAddresses": grouped,
        "header:Resent-Cc:asAddresses:all": [[{"name": None, "email": "r1@x.test"}],
                                             [{"name": "R Two", "email": "r2@x.test"}]],
        "header:Message-ID:asMessageIds": ["own.id@x.test"],
        "header:References:asMessageIds": refs,
        "header:Date:asDate": "2026-11-20T13:00:00+01:00",
        "header:List-Unsubscribe:asURLs": ["mailto:u@l.test", "https://l.test/u?a=1"],
        "header:Subject:asText": "Caf\u00e9 \u2615",
        "header:X-Multi:asText:all": ["one", "tw\u00f3"],
        "header:X-Raw": " raw  value",
        "header:X-Raws:all": [" a", " b"],
    }
    _, r = j.one("Email/set", {"create": {"c": dict({"mailboxIds": {drafts: True}}, **props)}})
    assert r["notCreated"] is None, r
    c = r["created"]["c"]
    _, g = j.one("Email/get", {"ids": [c["id"]], "properties": list(props) + [
        "sentAt", "from", "messageId", "header:Date", "header:Message-ID:all"]})
    e = g["list"][0]
    for k, v in props.items():
        assert e[k] == v, (k, e[k], v)
    assert e["sentAt"] == "2026-11-20T13:00:00+01:00" and e["from"] == props["header:From:asAddresses"]
    assert e["messageId"] == ["own.id@x.test"], e
    assert e["header:Date"] == " Fri, 20 Nov 2026 13:00:00 +0100", e
    # A Message-ID (or Date) a header: property gives is the only one.
    assert e["header:Message-ID:all"] == [" <own.id@x.test>"], e

    st, _, raw = j.request("GET", "/jmap/download/%s/%s/m.eml" % (j.account, c["blobId"]))
    assert st == 200, st
    head = b"\r\n" + raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    assert all(len(line) <= 78 for line in head.split(b"\r\n")), head
    assert b"\r\nDate: Fri, 20 Nov 2026 13:00:00 +0100\r\n" in head, head
    assert b"\r\nList-Unsubscribe: <mailto:u@l.test>,\r\n <https://l.test/u?a=1>\r\n" in head, head
    assert b"\r\nX-Raw: raw  value\r\n" in head and b"\r\nX-Raws: a\r\nX-Raws: b\r\n" in head, head
    assert b"\r\nX-Multi: one\r\nX-Multi: =?utf-8?q?tw=C3=B3?=\r\n" in head, head
    assert b"\r\nResent-Cc: r1@x.test\r\nResent-Cc: R Two <r2@x.test>\r\n" in head, head
    assert b"\r\nFrom: =?utf-8?q?Zo=C3=AB_=C3=87elik?= <zoe@x.test>,\r\n \"Dan, the boss\" <dan@x.test>\r\n" in head, head
    assert (b"\r\nTo: =?utf-8?q?Team_=C3=A9?=: \"Ann, \\\"A\\\" Lee\" <ann@x.test>,\r\n bo@x.test;,"
            b"\r\n Cy <cy@x.test>\r\n") in head, head
    assert head.count(b"Message-ID:") == 1 and head.count(b"\r\nDate:") == 1, head
    m = email.message_from_bytes(raw, policy=email.policy.default)
    assert m["References"].split() == ["<%s>" % x for x in refs], m["References"]
    assert str(m["Subject"]) == "Caf\u00e9 \u2615", m["Subject"]

    base = {"mailboxIds": {drafts: True}}
    bad = {
        "b1": {"header:Subject:asAddresses": [{"email": "a@x.test"}]},
        "b2": {"header:From:asDate": "2026-11-20T13:00:00Z"},
        "b3": {"header:Date:asText": "today"},
        "b4": {"header:List-Post:asAddresses": [{"email": "a@x.test"}]},
        "b5": {"header:X-Foo:asBogus": "x"},
        "b6": {"from": [{"email": "a@x.test"}], "header:From:asAddresses": [{"email": "b@x.test"}]},
        "b7": {"header:X-A": " one", "header:x-a:asText": "two"},
        "b8": {"sentAt": "2026-11-20T13:00:00Z", "header:Date:asDate": "2026-11-20T13:00:00Z"},
        "b9": {"header:Content-Type": " text/plain"},
        "b10": {"header:X-B:all": " not an array"},
        "b11": {"header:To:asAddresses": "to@x.test"},
        "b12": {"header:In-Reply-To:asMessageIds": ["no brackets <here>"]},
        "b13": {"header:Date:asDate": "Fri, 20 Nov 2026"},
        "b14": {"header:X-U:asURLs": ["has space"]},
        "b15": {"header:Keywords:asText:all": ["ok", None]},
        # RFC 5322 §3.6.4: id-left "@" id-right, dot-atom-text each (or
        # a [literal] on the right); these were written as they came.
        "b16": {"header:References:asMessageIds": ["@x.test"]},
        "b17": {"header:In-Reply-To:asMessageIds": ["a@b@x.test"]},
        "b18": {"header:Message-ID:asMessageIds": ["a(comment)@x.test"]},
        "b19": {"header:References:asMessageIds": ["ok@x.test", "a..b@x.test"]},
        "b20": {"header:X-Ids:asMessageIds": ["a,b@x.test"]},
        "b21": {"header:Resent-Message-ID:asMessageIds": ["a@"]},
    }
    _, r = j.one("Email/set", {"create": {k: dict(base, **v) for k, v in bad.items()}})
    assert r["created"] is None, r
    nc = r["notCreated"]
    for k, v in bad.items():
        prop = [p for p in v if p.startswith("header:")][-1]
        assert (nc[k]["type"], nc[k].get("properties")) == ("invalidProperties", [prop]), (k, nc[k])


def test_jmap_create_inline_images_related():
    """Email/set create from htmlBody and attachments: an attachment that
    is inline and has a cid (an image the HTML shows by "cid:") goes with
    the html in a multipart/related (RFC 2387, type text/html), inside the
    alternative with the text when there is one; the other attachments
    stay in the multipart/mixed around it, which is left out when there
    are none. Inline parts were put in the multipart/mixed beside the
    html, where many readers do not resolve cid: URLs, and Email/get
    listed them in textBody too. Without htmlBody nothing changes."""
    import email
    import email.policy
    s, j = hal(JOY)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    drafts = [m["id"] for m in mb["list"] if m["role"] == "drafts"][0]
    st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, b"\x89PNG img",
                          {"Content-Type": "image/png"})
    assert st == 201, up
    img = {"blobId": up["blobId"], "type": "image/png", "cid": "i1@x.test", "disposition": "inline"}
    att = {"blobId": up["blobId"], "type": "image/png", "name": "f.png"}
    vals = {"t": {"value": "text"}, "h": {"value": "<p><img src=\"cid:i1@x.test\"></p>"}}
    base = {"mailboxIds": {drafts: True}, "bodyValues": vals}
    _, r = j.one("Email/set", {"create": {
        "all": dict(base, textBody=[{"partId": "t"}], htmlBody=[{"partId": "h"}],
                    attachments=[img, att]),
        "html": dict(base, htmlBody=[{"partId": "h"}], attachments=[img]),
        "text": dict(base, textBody=[{"partId": "t"}], attachments=[img])}})
    assert r["notCreated"] is None, r

    def shape(part):
        if part.is_multipart():
            return [part.get_content_type(), [shape(p) for p in part.get_payload()]]
        return part.get_content_type()

    got = {}
    for k, c in r["created"].items():
        st, _, raw = j.request("GET", "/jmap/download/%s/%s/m.eml" % (j.account, c["blobId"]))
        m = email.message_from_bytes(raw, policy=email.policy.default)
        got[k] = shape(m)
        if k != "text":
            rel = [p for p in m.walk() if p.get_content_type() == "multipart/related"][0]
            assert rel.get_param("type") == "text/html", rel["Content-Type"]
    assert got == {
        "all": ["multipart/mixed", [["multipart/alternative", [
            "text/plain", ["multipart/related", ["text/html", "image/png"]]]], "image/png"]],
        "html": ["multipart/related", ["text/html", "image/png"]],
        "text": ["multipart/mixed", ["text/plain", "image/png"]]}, got
    _, g = j.one("Email/get", {"ids": [r["created"]["all"]["id"]],
                               "properties": ["textBody", "htmlBody", "attachments"],
                               "bodyProperties": ["type", "cid", "disposition"]})
    e = g["list"][0]
    assert e["textBody"] == [{"type": "text/plain", "cid": None, "disposition": None}], e
    assert e["htmlBody"] == [{"type": "text/html", "cid": None, "disposition": None}], e
    assert e["attachments"] == [{"type": "image/png", "cid": "i1@x.test", "disposition": "inline"},
                                {"type": "image/png", "cid": None, "disposition": "attachment"}], e


def test_jmap_create_part_headers():
    """RFC 8621 §4.6: an EmailBodyPart at create takes header:NAME
    properties too, in every form, written into that part's header (after
    the Content-* fields its own properties make) and read back by
    Email/get's bodyProperties; a field its own properties write
    (Content-Type, -Transfer-Encoding, -Disposition, -ID), a field given
    twice, or a form the field does not allow is invalidProperties."""
    s, j = hal(JOY)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    drafts = [m["id"] for m in mb["list"] if m["role"] == "drafts"][0]
    _, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, b"\x00\x01data",
                         {"Content-Type": "application/octet-stream"})
    leaf = {"type": "text/plain", "partId": "1", "header:Content-Language": " fr",
            "header:X-Part:asText": "part \u00e9", "header:X-Ids:asMessageIds": ["a@x.test"]}
    att = {"type": "application/octet-stream", "blobId": up["blobId"], "name": "d.bin",
           "header:X-Att:asURLs:all": [["https://x.test/1"], ["https://x.test/2"]]}
    _, r = j.one("Email/set", {"create": {"c": {
        "mailboxIds": {drafts: True}, "subject": "part headers",
        "bodyStructure": {"type": "multipart/mixed", "header:X-Outer": " outer",
                          "subParts": [leaf, att]},
        "bodyValues": {"1": {"value": "Bonjour.\n"}}}}})
    assert r["notCreated"] is None, r
    c = r["created"]["c"]
    _, g = j.one("Email/get", {"ids": [c["id"]], "properties": ["bodyStructure"],
                               "bodyProperties": ["type", "subParts", "header:X-Outer",
                                                  "header:Content-Language", "header:X-Part:asText",
                                                  "header:X-Ids:asMessageIds",
                                                  "header:X-Att:asURLs:all"]})
    bs = g["list"][0]["bodyStructure"]
    assert bs["header:X-Outer"] == " outer", bs
    p1, p2 = bs["subParts"]
    for k in ("header:Content-Language", "header:X-Part:asText", "header:X-Ids:asMessageIds"):
        assert p1[k] == leaf[k], (k, p1)
    assert p2["header:X-Att:asURLs:all"] == att["header:X-Att:asURLs:all"], p2
    _, _, raw = j.request("GET", "/jmap/download/%s/%s/m.eml" % (j.account, c["blobId"]))
    assert b"Content-Transfer-Encoding: 7bit\r\nContent-Language: fr\r\n" in raw, raw
    assert b"X-Part: =?utf-8?q?part_=C3=A9?=\r\nX-Ids: <a@x.test>\r\n\r\nBonjour." in raw, raw

    base = {"mailboxIds": {drafts: True}, "bodyValues": {"1": {"value": "x"}}}
    bad = {
        "b1": {"header:Content-Type": " text/html"},
        "b2": {"header:Content-Disposition:asRaw": " inline"},
        "b3": {"header:X-A": " a", "header:X-a:asText": "b"},
        "b4": {"header:Subject:asDate": "2026-11-20T13:00:00Z"},
        "b5": {"header:X-B:asAddresses": "not a list"},
        "b6": {"headers": [{"name": "X-C", "value": " c"}]},
    }
    _, r = j.one("Email/set", {"create": {
        k: dict(base, bodyStructure=dict({"type": "text/plain", "partId": "1"}, **v))
        for k, v in bad.items()}})
    assert r["created"] is None, r
    nc = r["notCreated"]
    for k in bad:
        assert (nc[k]["type"], nc[k].get("properties")) == (
            "invalidProperties", ["bodyStructure"]), (k, nc[k])


def _drafts(j):
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    return [m["id"] for m in mb["list"] if m["role"] == "drafts"][0]


def _raw_head(j, blob):
    st, _, raw = j.request("GET", "/jmap/download/%s/%s/m.eml" % (j.account, blob))
    assert st == 200, st
    return b"\r\n" + raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"


def _refused(j, drafts, bad):
    """Each Email of bad (a creation id to its properties) is refused as
    invalidProperties naming its properties."""
    _, r = j.one("Email/set", {"create": {
        k: dict({"mailboxIds": {drafts: True}}, **v) for k, v in bad.items()}})
    assert r["created"] is None, r
    for k, v in bad.items():
        nc = r["notCreated"][k]
        assert (nc["type"], nc.get("properties")) == ("invalidProperties", list(v)), (k, nc)


def test_jmap_create_header_folding():
    """Email/set create folds unstructured text (subject, :asText) at
    whitespace so lines stay within 78 (RFC 5322 §2.1.1, §2.2.3); a word
    no line of 998 holds becomes RFC 2047 encoded words a line each (§2,
    joined again on reading, §6.2), so the value reads back the same, as
    does text with "=?" in it. A
    Raw value keeps its folds; one with a line over 998 octets (or a
    field name that long) is invalidProperties."""
    s, j = hal(JOY)
    drafts = _drafts(j)
    words = " ".join("word%02d" % i for i in range(40))
    long_word = "x" * 1500
    utf = "\u00e9t\u00e9 " * 60
    # Text that looks like an encoded word is encoded itself, so a
    # reader does not decode it (RFC 2047 §5: a reader would).
    props = {"subject": words, "header:X-Long:asText": "a " + long_word + " b",
             "header:X-Utf:asText": utf.strip(), "header:X-Folded": " one\r\n two",
             "header:X-Lit:asText": "see =?utf-8?q?caf=C3=A9?= here"}
    _, r = j.one("Email/set", {"create": {"c": dict({"mailboxIds": {drafts: True}}, **props)}})
    assert r["notCreated"] is None, r
    c = r["created"]["c"]
    head = _raw_head(j, c["blobId"])
    assert max(len(line) for line in head.split(b"\r\n")) <= 78, head
    assert b"\r\nSubject: word00 word01" in head and b"\r\n word32 " in head, head
    assert b"\r\nX-Long: =?utf-8?q?a_xx" in head, head
    assert b"\r\nX-Folded: one\r\n two\r\n" in head, head
    assert b"\r\nX-Lit: =?utf-8?q?see_=3D=3Futf" in head, head
    _, g = j.one("Email/get", {"ids": [c["id"]], "properties": list(props)})
    e = g["list"][0]
    for k, v in props.items():
        assert e[k] == v, (k, e[k], v)

    bad = {
        "b1": {"header:X-Raw": " " + "y" * 1000},
        "b2": {"header:X-Raw": " a\r\n " + "y" * 1000},
        "b3": {"header:X-" + "N" * 1000 + ":asText": "v"},
        "b4": {"header:X-Raw": " a\r\nb"},
    }
    _refused(j, drafts, bad)


def test_jmap_create_message_id_once():
    """RFC 5322 §3.6.4: Message-ID holds one msg-id (Resent-Message-ID
    too, §3.6.6) where In-Reply-To and References hold a list, and §3.6's
    table allows Message-ID, Subject, From... once: at create, whatever
    property gives the field (messageId, header:Message-ID:asMessageIds,
    :all), more is invalidProperties."""
    s, j = hal(JOY)
    drafts = _drafts(j)
    two = ["a@x.test", "b@x.test"]
    ok = {"header:In-Reply-To:asMessageIds": two, "header:References:asMessageIds": two,
          "header:Message-ID:asMessageIds:all": [["one@x.test"]],
          "header:Resent-Message-ID:asMessageIds:all": [["r1@x.test"], ["r2@x.test"]]}
    _, r = j.one("Email/set", {"create": {"c": dict({"mailboxIds": {drafts: True}}, **ok)}})
    assert r["notCreated"] is None, r
    _, g = j.one("Email/get", {"ids": [r["created"]["c"]["id"]], "properties": list(ok)})
    for k, v in ok.items():
        assert g["list"][0][k] == v, (k, g["list"][0])
    bad = {
        "b1": {"messageId": two},
        "b2": {"header:Message-ID:asMessageIds": two},
        "b3": {"header:message-id:asMessageIds:all": [["a@x.test"], ["b@x.test"]]},
        "b4": {"header:Resent-Message-ID:asMessageIds": two},
        "b5": {"header:Subject:asText:all": ["one", "two"]},
        "b6": {"header:From:asAddresses:all": [[{"email": "a@x.test"}], [{"email": "b@x.test"}]]},
    }
    _refused(j, drafts, bad)


def test_jmap_create_root_part_headers():
    """RFC 8621 §4.6: the bodyStructure part MUST NOT have a property for
    a header field the Email already gives: its fields are the message's
    own. So are those of a lone textBody or htmlBody part, held to the
    same. A field only the root part gives is written once (a Date or
    Message-ID there is not made again); a part further down may repeat
    the message's fields in its own header."""
    s, j = hal(JOY)
    drafts = _drafts(j)
    leaf = {"type": "text/plain", "partId": "1"}
    vals = {"1": {"value": "x"}}
    _, r = j.one("Email/set", {"create": {"c": {
        "mailboxIds": {drafts: True}, "subject": "top", "bodyValues": vals,
        "bodyStructure": dict(leaf, **{"header:Date:asDate": "2026-11-20T13:00:00Z",
                                        "header:Message-ID:asMessageIds": ["root@x.test"]})},
        "d": {"mailboxIds": {drafts: True}, "subject": "top", "bodyValues": vals,
              "bodyStructure": {"type": "multipart/mixed", "subParts": [
                  dict(leaf, **{"header:Subject:asText": "inner"})]}}}})
    assert r["notCreated"] is None, r
    head = _raw_head(j, r["created"]["c"]["blobId"])
    assert head.count(b"\r\nDate:") == 1 and head.count(b"\r\nMessage-ID:") == 1, head
    _, g = j.one("Email/get", {"ids": [r["created"]["c"]["id"]], "properties": ["sentAt", "messageId"]})
    assert g["list"][0]["sentAt"] == "2026-11-20T13:00:00Z", g
    assert g["list"][0]["messageId"] == ["root@x.test"], g
    head = _raw_head(j, r["created"]["d"]["blobId"])
    assert head.count(b"\r\nSubject:") == 1, head

    bad = {
        "b1": {"subject": "top", "bodyStructure": dict(leaf, **{"header:Subject:asText": "x"})},
        "b2": {"header:X-A:asText": "a", "bodyStructure": dict(leaf, **{"header:x-a": " b"})},
        "b3": {"bodyStructure": dict(leaf, **{"header:MIME-Version": " 1.0"})},
        "b4": {"sentAt": "2026-11-20T13:00:00Z",
               "bodyStructure": {"type": "multipart/mixed", "header:Date:asDate":
                                 "2026-11-20T13:00:00Z", "subParts": [leaf]}},
        "b5": {"from": [{"email": "a@x.test"}],
               "textBody": [dict(leaf, **{"header:From:asAddresses": [{"email": "b@x.test"}]})]},
    }
    for v in bad.values():
        v["bodyValues"] = vals
    _, r = j.one("Email/set", {"create": {
        k: dict({"mailboxIds": {drafts: True}}, **v) for k, v in bad.items()}})
    assert r["created"] is None, r
    want = {"b1": "bodyStructure", "b2": "bodyStructure", "b3": "bodyStructure",
            "b4": "bodyStructure", "b5": "textBody"}
    for k in bad:
        nc = r["notCreated"][k]
        assert (nc["type"], nc.get("properties")) == ("invalidProperties", [want[k]]), (k, nc)


def test_jmap_create_part_language_location():
    """RFC 8621 §4.1.4: an EmailBodyPart's language (String[]) and
    location (String) can be set at create: written as Content-Language
    (RFC 3282, folded) and Content-Location (RFC 2557), read back by
    Email/get's bodyStructure. Not a list of tags (or more than Email/get
    reads back), not a URI, a line over 998, or the same field again as
    header:Content-Language is invalidProperties."""
    s, j = hal(JOY)
    drafts = _drafts(j)
    _, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, b"\x00\x01data",
                         {"Content-Type": "application/octet-stream"})
    tags = ["x-tag%05d" % i for i in range(16)]
    leaf = {"type": "text/plain", "partId": "1", "language": ["fr", "en-GB"],
            "location": "https://x.test/a.txt?q=1"}
    att = {"type": "application/octet-stream", "blobId": up["blobId"], "language": tags}
    _, r = j.one("Email/set", {"create": {"c": {
        "mailboxIds": {drafts: True}, "bodyValues": {"1": {"value": "Salut.\n"}},
        "bodyStructure": {"type": "multipart/mixed", "location": "https://x.test/",
                          "subParts": [leaf, att]}}}})
    assert r["notCreated"] is None, r
    c = r["created"]["c"]
    _, g = j.one("Email/get", {"ids": [c["id"]], "properties": ["bodyStructure"],
                               "bodyProperties": ["subParts", "language", "location"]})
    bs = g["list"][0]["bodyStructure"]
    assert (bs["location"], bs["language"]) == ("https://x.test/", None), bs
    p1, p2 = bs["subParts"]
    assert (p1["language"], p1["location"]) == (leaf["language"], leaf["location"]), p1
    assert (p2["language"], p2["location"]) == (tags, None), p2
    st, _, raw = j.request("GET", "/jmap/download/%s/%s/m.eml" % (j.account, c["blobId"]))
    assert b"Content-Language: fr, en-GB\r\nContent-Location: https://x.test/a.txt?q=1\r\n" in raw, raw
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78, raw

    base = {"type": "text/plain", "partId": "1"}
    bad = {
        "b1": {"language": "fr"},
        "b2": {"language": []},
        "b3": {"language": ["f r"]},
        "b4": {"language": tags + ["x-more"]},
        "b5": {"location": "has space"},
        "b6": {"location": "https://x.test/" + "p" * 1000},
        "b7": {"language": ["fr"], "header:Content-Language": " de"},
        "b8": {"location": "https://x.test/", "header:Content-Location:asRaw": " https://y.test/"},
    }
    _, r = j.one("Email/set", {"create": {
        k: {"mailboxIds": {drafts: True}, "bodyValues": {"1": {"value": "x"}},
            "bodyStructure": dict(base, **v)} for k, v in bad.items()}})
    assert r["created"] is None, r
    for k in bad:
        nc = r["notCreated"][k]
        assert (nc["type"], nc.get("properties")) == ("invalidProperties", ["bodyStructure"]), (k, nc)


def test_jmap_create_display_name_tab():
    """A display name in ASCII with a tab and specials (RFC 5322 §3.2.3:
    a tab is no atext) goes in a quoted string like any other with
    specials: written bare, "Lee,<tab>Ann" read back as two addresses."""
    s, j = hal(JOY)
    frm = [{"name": "Lee,\tAnn", "email": "ann@x.test"}]
    _, r = j.one("Email/set", {"create": {"c": {"mailboxIds": {_drafts(j): True}, "from": frm}}})
    assert r["notCreated"] is None, r
    _, g = j.one("Email/get", {"ids": [r["created"]["c"]["id"]], "properties": ["from"]})
    assert g["list"][0]["from"] == frm, g


def test_jmap_create_email_not_an_object():
    """An Email/set create value that is no object (an array with elements,
    a string, a number, null) is invalidProperties and the server goes on;
    an array of elements took the server down (a null key compared while
    the root part was chosen, before the type was checked). So are parts
    and bodies of the wrong type, at any depth."""
    s, j = hal(JOY)
    drafts = _drafts(j)
    _, r = j.one("Email/set", {"create": {
        "a": ["urn:ietf:params:jmap:mail", {"x": 1}], "s": "text", "n": 7, "z": None,
        "b": {"mailboxIds": {drafts: True}, "bodyStructure": ["x", "y"]},
        "t": {"mailboxIds": {drafts: True}, "textBody": [["x"]]},
        "d": {"mailboxIds": {drafts: True}, "bodyStructure": {
            "type": "multipart/mixed", "subParts": [[1, 2], "p"]}}}})
    assert r["created"] is None, r
    assert sorted(r["notCreated"]) == ["a", "b", "d", "n", "s", "t", "z"], r
    for k, v in r["notCreated"].items():
        assert v["type"] == "invalidProperties", (k, v)
    # Still serving.
    _, r = j.one("Email/set", {"create": {"ok": {
        "mailboxIds": {drafts: True}, "subject": "after",
        "bodyValues": {"1": {"value": "x"}}, "textBody": [{"partId": "1", "type": "text/plain"}]}}})
    assert list(r["created"]) == ["ok"], r


def test_jmap_create_body_value_flags():
    """A created Email's bodyValues may not say isTruncated or
    isEncodingProblem true (RFC 8621 §4.6: false or omitted): such a value
    is invalidProperties (bodyValues); it was stored as if whole."""
    s, j = hal(JOY)
    drafts = _drafts(j)

    def one(**flags):
        return {"mailboxIds": {drafts: True}, "subject": "flags",
                "bodyValues": {"1": dict({"value": "x"}, **flags)},
                "textBody": [{"partId": "1", "type": "text/plain"}]}
    _, r = j.one("Email/set", {"create": {
        "t": one(isTruncated=True), "e": one(isEncodingProblem=True), "s": one(isTruncated="no"),
        "ok": one(isTruncated=False, isEncodingProblem=False)}})
    assert list(r["created"]) == ["ok"], r
    assert sorted(r["notCreated"]) == ["e", "s", "t"], r
    for v in r["notCreated"].values():
        assert v["type"] == "invalidProperties" and v["properties"] == ["bodyValues"], r


KIT = ("kit@example.test", "kit-password-1")


def test_jmap_vacation_set_state_is_stored_state():
    """VacationResponse/set's newState is the state a /get then tells, and
    a following set with ifInState of it goes through: the state is of
    what was stored. It was of the patched value, which the stored one can
    differ from (an empty textBody read as null, a fromDate to the second),
    so the next read moved the state and ifInState failed with
    stateMismatch. Such properties come back in "updated" (RFC 8620 §5.3)."""
    s, j = hal(KIT)
    va = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:vacationresponse"]
    state = j.one("VacationResponse/get", {}, using=va)[1]["state"]
    for patch, told in (({"isEnabled": True, "subject": "Away", "textBody": ""}, {"textBody": None}),
                        ({"fromDate": "2026-02-01T00:00:00.5Z"}, {"fromDate": "2026-02-01T00:00:00Z"}),
                        ({"textBody": "Back soon."}, None)):
        name, st = j.one("VacationResponse/set", {"ifInState": state,
                                                  "update": {"singleton": patch}}, using=va)
        assert name == "VacationResponse/set" and st["updated"] == {"singleton": told}, (patch, st)
        _, g = j.one("VacationResponse/get", {}, using=va)
        assert g["state"] == st["newState"] != state, (patch, st, g)
        state = st["newState"]


def test_jmap_vacation_dates_in_order():
    """A fromDate not before toDate leaves no moment to reply in: the
    update is refused, invalidProperties naming both (RFC 8620 §5.3), and
    nothing changes. Before, it was stored and isEnabled read true for a
    reply never sent."""
    s, j = hal(("vera@example.test", "vera-password-1"))
    va = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:vacationresponse"]
    _, before = j.one("VacationResponse/get", {}, using=va)
    for f, t in (("2026-03-01T00:00:00Z", "2026-02-01T00:00:00Z"),
                 ("2026-03-01T00:00:00Z", "2026-03-01T00:00:00.5Z")):
        _, st = j.one("VacationResponse/set", {"update": {"singleton": {
            "isEnabled": True, "fromDate": f, "toDate": t}}}, using=va)
        err = (st.get("notUpdated") or {}).get("singleton")
        assert err and err["type"] == "invalidProperties", (f, t, st)
        assert sorted(err["properties"]) == ["fromDate", "toDate"], err
        _, g = j.one("VacationResponse/get", {}, using=va)
        assert g["list"] == before["list"] and g["state"] == before["state"], (g, before)
    # In order, it is taken.
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {
        "fromDate": "2026-02-01T00:00:00Z", "toDate": "2026-03-01T00:00:00Z"}}}, using=va)
    assert "singleton" in st["updated"], st


LEO = ("leo@example.test", "leo-password-1")


def test_jmap_address_sorts_fold_case():
    """Email/query's from and to sorts compare the names folded, as the
    subject sort does (RFC 8620 §5.5: the default collation SHOULD be
    case-insensitive): "émile" before "Éric", as "bob" before "Carl". A
    capital outside ASCII (É) was compared as written, before all small
    ones."""
    s, j = hal(LEO)
    names = ["=?utf-8?q?=C3=89ric?= <e@x.test>", "=?utf-8?q?=C3=A9mile?= <m@x.test>",
             "Carl <c@x.test>", "bob <b@x.test>"]
    ids = import_msgs(j, ["From: %s\r\nTo: %s\r\nSubject: s\r\n\r\nx\r\n" % (n, n) for n in names],
                      {})
    for prop in ("from", "to"):
        _, q = j.one("Email/query", {"sort": [{"property": prop}]})
        assert [ids.index(i) for i in q["ids"]] == [3, 2, 1, 0], (prop, q)
        # i;ascii-casemap folds a-z only (RFC 4790 §9.2): the others
        # compare as octets, so "Éric" (C3 89) comes before "émile"
        # (C3 A9), both after every ASCII letter (it was taken as
        # i;unicode-casemap).
        _, q = j.one("Email/query", {"sort": [{"property": prop, "collation": "i;ascii-casemap"}]})
        assert [ids.index(i) for i in q["ids"]] == [3, 2, 0, 1], (prop, q)


MAX = ("max@example.test", "max-password-1")
MAX_RULES = ('require ["fileinto", "mailbox"];\n'
             'if header :contains "subject" "[list]" { fileinto :create "Lists"; }\n')


def test_jmap_vacation_keeps_filters():
    """Turning the vacation response on keeps the user's own filters
    running, and turning it off gives them back as they were: the
    vacation script includes the script that was active (RFC 6609) and
    is made the active one; off, that script is active again. Before,
    VacationResponse/set activated the vacation script in the filters'
    place, so a list's mail landed in the Inbox for as long as the user
    was away, and stayed there after: nothing turned the filters back
    on."""
    s, j = hal(MAX)
    va = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:vacationresponse"]
    s.cli("sieve", "put", MAX[0], "rules", input=MAX_RULES)
    s.cli("sieve", "activate", MAX[0], "rules")

    def lists():
        try:
            return len(s.messages(MAX[0], "Lists"))
        except AssertionError:  # tern fetch: no such mailbox (yet)
            return 0

    def send(n):
        """Delivers list message n; the number in Lists once it is filed
        (or in the Inbox)."""
        before = lists() + len(s.messages(MAX[0]))
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.sendmail("joe@remote.test", [MAX[0]],
                       "From: ann@remote.test\r\nTo: %s\r\nSubject: [list] n%d\r\n"
                       "Message-ID: <list%d@remote.test>\r\n\r\nq\r\n" % (MAX[0], n, n))
        deadline = time.time() + 10
        while lists() + len(s.messages(MAX[0])) == before and time.time() < deadline:
            time.sleep(0.05)
        return lists()

    _, st = j.one("VacationResponse/set", {"update": {"singleton": {
        "isEnabled": True, "subject": "Away", "textBody": "Back Monday."}}}, using=va)
    assert st["updated"] == {"singleton": None}, st
    _, v = j.one("VacationResponse/get", {}, using=va)
    assert v["list"][0]["isEnabled"] is True and v["list"][0]["textBody"] == "Back Monday.", v
    assert s.cli("sieve", "list", MAX[0]).stdout == b"rules\nvacation ACTIVE\n"
    # The filter files the message, and the away reply goes out.
    sent = s.log_text().count("event=vacation_sent")
    assert send(1) == 1, s.messages(MAX[0])
    deadline = time.time() + 10
    while s.log_text().count("event=vacation_sent") == sent and time.time() < deadline:
        time.sleep(0.05)
    assert s.log_text().count("event=vacation_sent") == sent + 1, s.log_text()[-2000:]
    # Saving it again while on keeps the filters included.
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {"subject": "Still away"}}},
                  using=va)
    assert st["updated"] == {"singleton": None}, st
    assert send(2) == 2, s.messages(MAX[0])
    # Off: the filters are the active script again.
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {"isEnabled": False}}}, using=va)
    assert st["updated"] == {"singleton": None}, st
    assert s.cli("sieve", "list", MAX[0]).stdout == b"rules ACTIVE\nvacation\n"
    _, v = j.one("VacationResponse/get", {}, using=va)
    assert v["list"][0]["isEnabled"] is False and v["list"][0]["subject"] == "Still away", v
    assert send(3) == 3, s.messages(MAX[0])
    # On again with no script active: the vacation script alone, and off
    # again nothing is active.
    s.cli("sieve", "deactivate", MAX[0])
    j.one("VacationResponse/set", {"update": {"singleton": {"isEnabled": True}}}, using=va)
    assert s.cli("sieve", "list", MAX[0]).stdout == b"rules\nvacation ACTIVE\n"
    j.one("VacationResponse/set", {"update": {"singleton": {"isEnabled": False}}}, using=va)
    assert s.cli("sieve", "list", MAX[0]).stdout == b"rules\nvacation\n"


OLGA = ("olga@example.test", "olga-password-1")


def test_jmap_vacation_off_checks_the_filters_it_reactivates():
    """Turning the reply off made the filters it included active again
    with no check: filters whose include was deleted while the reply was
    on came back active and failed every delivery. They now go through
    the check every activation takes (script_check): refused, none is
    active, the set still succeeds (RFC 8621 §8 has no error for it), the
    log says why, and mail goes to the Inbox."""
    s, j = hal(OLGA)
    va = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:vacationresponse"]
    s.cli("sieve", "put", OLGA[0], "helper", input='require ["fileinto"];\n')
    s.cli("sieve", "put", OLGA[0], "rules",
          input='require ["include"];\ninclude :personal "helper";\n')
    s.cli("sieve", "activate", OLGA[0], "rules")
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {
        "isEnabled": True, "subject": "Away", "textBody": "Back Monday."}}}, using=va)
    assert st["updated"] == {"singleton": None}, st
    assert s.cli("sieve", "list", OLGA[0]).stdout == b"helper\nrules\nvacation ACTIVE\n"
    s.cli("sieve", "del", OLGA[0], "helper")
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {"isEnabled": False}}},
                  using=va)
    assert st["updated"] == {"singleton": None}, st
    assert s.cli("sieve", "list", OLGA[0]).stdout == b"rules\nvacation\n"
    _, v = j.one("VacationResponse/get", {}, using=va)
    assert v["list"][0]["isEnabled"] is False, v
    log = s.log_text()
    assert "event=vacation_filters_not_reactivated" in log and "script=rules" in log, log[-2000:]
    # With no script active, a message is filed in the Inbox.
    before = len(s.messages(OLGA[0]))
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        c.sendmail("joe@remote.test", [OLGA[0]],
                   "From: ann@remote.test\r\nTo: %s\r\nSubject: after\r\n"
                   "Message-ID: <olga1@remote.test>\r\n\r\nq\r\n" % OLGA[0])
    deadline = time.time() + 10
    while len(s.messages(OLGA[0])) == before and time.time() < deadline:
        time.sleep(0.05)
    assert len(s.messages(OLGA[0])) == before + 1, s.log_text()[-2000:]


PIA = ("pia@example.test", "pia-password-1")


def test_jmap_vacation_on_checks_the_filters_it_includes():
    """Turning the reply on made the vacation script active with no check:
    its include of the filters is :optional, which covers only filters
    that are gone. Filters that include "vacation" back (recursion, no
    :once) or whose own include was deleted made every delivery fail once
    the reply was on. Now the activation takes the check every other one
    takes: refused with invalidSieve (as SieveScript/set), saying where
    and why, and nothing changes: the filters stay active, no vacation
    script is stored, the reply reads off."""
    s, j = hal(PIA)
    va = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:vacationresponse"]
    on = {"update": {"singleton": {"isEnabled": True, "subject": "Away",
                                   "textBody": "Back Monday."}}}

    def refused(why):
        """Turning the reply on is refused for why; rules stay active."""
        _, st = j.one("VacationResponse/set", on, using=va)
        e = (st.get("notUpdated") or {}).get("singleton")
        assert e and e["type"] == "invalidSieve", st
        assert 'not made active: the script would fail at every delivery: ' \
            'script "rules", line 2, column 1: ' + why in e["description"], e
        assert s.cli("sieve", "list", PIA[0]).stdout == b"rules ACTIVE\n"

    # Recursion: the filters include the vacation script back.
    s.cli("sieve", "put", PIA[0], "rules",
          input='require ["include"];\ninclude :personal :optional "vacation";\n')
    s.cli("sieve", "activate", PIA[0], "rules")
    refused('recursive include of "vacation"')
    _, v = j.one("VacationResponse/get", {}, using=va)
    assert v["list"][0]["isEnabled"] is False and v["list"][0]["subject"] is None, v
    # Filters whose own include was deleted while they were active.
    s.cli("sieve", "put", PIA[0], "helper", input='require ["fileinto"];\n')
    s.cli("sieve", "put", PIA[0], "rules",
          input='require ["include"];\ninclude :personal "helper";\n')
    s.cli("sieve", "del", PIA[0], "helper")
    refused('no such personal script to include "helper"')
    # Mended, the same set turns the reply on, the filters included.
    s.cli("sieve", "put", PIA[0], "helper", input='require ["fileinto"];\n')
    _, st = j.one("VacationResponse/set", on, using=va)
    assert st["updated"] == {"singleton": None}, st
    assert s.cli("sieve", "list", PIA[0]).stdout == b"helper\nrules\nvacation ACTIVE\n"
    assert b'include :personal :optional "rules";' in \
        s.cli("sieve", "get", PIA[0], "vacation").stdout


NED = ("ned@example.test", "ned-password-1")


def test_jmap_vacation_filters_may_reject():
    """A filter that rejects still gets its own SMTP transaction while the
    vacation response includes it: RCPT answers it 452 4.5.3 beside
    another account's recipient (RFC 5429 §2.1: the refusal is a reply of
    its own), and alone the reject is the answer to DATA. Only the active
    script's own require was looked at, and the vacation script's has no
    "reject": the recipient was taken with the other, and the reject
    skipped (the message kept)."""
    s, j = hal(NED)
    va = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:vacationresponse"]
    s.cli("sieve", "put", NED[0], "rules", input='require ["reject"];\n'
          'if header :contains "subject" "[spam]" { reject "No spam, thanks."; stop; }\n')
    s.cli("sieve", "activate", NED[0], "rules")
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {
        "isEnabled": True, "textBody": "Away."}}}, using=va)
    assert st["updated"] == {"singleton": None}, st
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        c.ehlo("client.remote.test")
        assert c.mail("joe@remote.test")[0] == 250
        assert c.rcpt(EVE[0])[0] == 250
        code, msg = c.rcpt(NED[0])
        assert code == 452 and b"4.5.3" in msg, (code, msg)
        c.rset()
        assert c.mail("joe@remote.test")[0] == 250
        assert c.rcpt(NED[0])[0] == 250
        code, msg = c.data(b"From: joe@remote.test\r\nTo: ned@example.test\r\n"
                           b"Subject: [spam] x\r\n\r\nbuy\r\n")
        assert code == 550 and b"No spam, thanks." in msg, (code, msg)


OLA = ("ola@example.test", "ola-password-1")
PIP = ("pip@example.test", "pip-password-1")


def test_jmap_vacation_null_bodies():
    """A VacationResponse with textBody and htmlBody both null reads back
    null (RFC 8621 §8: what was set), and the reply sent has a default
    body, which the RFC wants generated then, with the default subject
    "Auto: " and the original's (RFC 3834 §3.1.5) when subject is null
    too. Before, textBody read back "" and the reply's body was empty."""
    s, j = hal(OLA)
    va = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:vacationresponse"]
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {
        "isEnabled": True, "subject": None, "textBody": None, "htmlBody": None}}}, using=va)
    assert st["updated"] == {"singleton": None}, st
    _, v = j.one("VacationResponse/get", {}, using=va)
    assert v["list"] == [{"id": "singleton", "isEnabled": True, "fromDate": None, "toDate": None,
                          "subject": None, "textBody": None, "htmlBody": None}], v
    # An empty text is no body either: it is told back as null.
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {"textBody": ""}}}, using=va)
    assert st["updated"] == {"singleton": {"textBody": None}}, st
    if s.cli("account", "list").stdout.decode().find(PIP[0]) < 0:
        s.cli("account", "add", PIP[0], input=PIP[1] + "\n")
    f, got = reply_to(s, PIP, OLA[0], "From: pip@example.test\r\nTo: ola@example.test\r\n"
                      "Subject: lunch on Friday?\r\n\r\nq\r\n", "Auto: lunch on Friday?")
    _, g = f.one("Email/get", {"ids": got, "properties": ["subject", "textBody", "bodyValues"],
                               "fetchTextBodyValues": True})
    r = g["list"][0]
    assert r["subject"] == "Auto: lunch on Friday?", r
    text = r["bodyValues"][r["textBody"][0]["partId"]]["value"]
    assert "lunch on Friday?" in text and "automatic" in text, r


TESS = ("tess@example.test", "tess-password-1")
PIA = ("pia@example.test", "pia-password-1")


def test_jmap_vacation_answers_alias():
    """The VacationResponse answers a message whose To names one of the
    user's other addresses, an alias of the account (RFC 5230 §4.5: all
    the user's addresses count). The script JMAP writes has no
    :addresses; only the envelope recipient counted, so a message to
    tess@ whose To was her alias tess.desk@ (a Bcc, a copy to both) was
    skipped, reason=not_addressed, and pia got no reply."""
    s, j = hal(TESS)
    if s.cli("alias", "list").stdout.decode().find("tess.desk@example.test") < 0:
        s.cli("alias", "add", "tess.desk@example.test", TESS[0])
    if s.cli("account", "list").stdout.decode().find(PIA[0]) < 0:
        s.cli("account", "add", PIA[0], input=PIA[1] + "\n")
    va = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:vacationresponse"]
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {
        "isEnabled": True, "textBody": "Tess is away."}}}, using=va)
    assert st["updated"] == {"singleton": None}, st
    reply_to(s, PIA, TESS[0], "From: pia@example.test\r\nTo: Desk <tess.desk@example.test>\r\n"
             "Subject: desk question\r\n\r\nq\r\n", "Auto: desk question")


RAY = ("ray@example.test", "ray-password-1")


def test_jmap_vacation_html_only_has_text():
    """An HTML-only VacationResponse (textBody null) sends a text/plain
    alternative made from the HTML (RFC 8621 §8: a plaintext body part
    SHOULD be generated from htmlBody), and textBody still reads back
    null. Before, the reply was text/html alone."""
    s, j = hal(RAY)
    va = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:vacationresponse"]
    html = "<p>Gone <b>fishing</b> &amp; back Monday</p><style>p{}</style>"
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {
        "isEnabled": True, "subject": "Fishing", "htmlBody": html}}}, using=va)
    assert st["updated"] == {"singleton": None}, st
    _, v = j.one("VacationResponse/get", {}, using=va)
    assert v["list"][0]["textBody"] is None and v["list"][0]["htmlBody"] == html, v
    if s.cli("account", "list").stdout.decode().find(PIP[0]) < 0:
        s.cli("account", "add", PIP[0], input=PIP[1] + "\n")
    f, got = reply_to(s, PIP, RAY[0], "From: pip@example.test\r\nTo: ray@example.test\r\n"
                      "Subject: boat?\r\n\r\nq\r\n", "Fishing")
    _, g = f.one("Email/get", {"ids": got, "properties": ["textBody", "htmlBody", "bodyValues"],
                               "fetchTextBodyValues": True, "fetchHTMLBodyValues": True})
    r = g["list"][0]
    assert [p["type"] for p in r["textBody"]] == ["text/plain"], r
    assert [p["type"] for p in r["htmlBody"]] == ["text/html"], r
    text = r["bodyValues"][r["textBody"][0]["partId"]]["value"]
    assert "Gone fishing & back Monday" in text and "<" not in text and "p{}" not in text, r
    assert r["bodyValues"][r["htmlBody"][0]["partId"]]["value"] == html, r
    # An HTML that fits the Sieve string alone but not beside its text
    # goes alone (the MAY), rather than being refused as tooLarge.
    big = "<p>" + "y" * 40000 + "</p>"
    _, st = j.one("VacationResponse/set", {"update": {"singleton": {"htmlBody": big}}}, using=va)
    assert st["updated"] == {"singleton": None}, st
    _, v = j.one("VacationResponse/get", {}, using=va)
    assert v["list"][0]["textBody"] is None and v["list"][0]["htmlBody"] == big, v
