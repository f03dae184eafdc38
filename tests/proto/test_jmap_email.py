"""JMAP Email (RFC 8621 §4) on the same store as IMAP: Email/query
(mailbox, keyword and size filters, sorts, collapseThreads, anchors),
Email/get (record and header properties, exact), Email/set (keywords by
patch and whole, mailboxIds move, destroy, the refusals), Email/changes;
across protocols: a keyword set in JMAP shows in IMAP FETCH with a new
MODSEQ and an IMAP STORE shows in Email/get and Email/changes, a JMAP move
and destroy show in IMAP, an IMAP EXPUNGE shows in Email/changes, and
threadId equals IMAP's THREADID. One server for the module."""
import re
import smtplib

from jmapc import Jmap, shared_server
from test_imap import Raw
from test_imap_search_ext import cmd, wait_count

CAT = ("cat@example.test", "cat-password-1")
DOG = ("dog@example.test", "dog-password-1-Vq8r")

MSGS = [
    "Message-ID: <e1@remote.test>\r\nFrom: \"Alice A.\" <alice@remote.test>\r\n"
    "To: cat@example.test, Bob <bob@example.test>\r\nSubject: =?utf-8?q?Caf=C3=A9?= plans\r\n"
    "Date: Fri, 20 Nov 2026 12:00:00 +0100\r\n\r\nFirst line of one.\r\n",
    "Message-ID: <e2@remote.test>\r\nIn-Reply-To: <e1@remote.test>\r\n"
    "References: <e0@remote.test> <e1@remote.test>\r\nFrom: alice@remote.test\r\n"
    "To: cat@example.test\r\nSubject: Re: Café plans\r\n\r\ntwo\r\n",
    "From: zed@remote.test\r\nTo: cat@example.test\r\nSubject: other\r\n\r\n" + "x" * 2000 + "\r\n",
]


def srv():
    return shared_server([CAT, DOG])


def imap(s):
    r = Raw(s)
    r.send("l LOGIN %s %s\r\n" % CAT)
    assert r.until_tag("l")[-1].startswith(b"l OK")
    return r


def test_jmap_email():
    s = srv()
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        for m in MSGS:
            c.sendmail("alice@remote.test", [CAT[0]], m.encode())
    wait_count(s, 3, account=CAT[0])
    j = Jmap(s, *CAT)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    role = {m["role"]: m["id"] for m in mb["list"]}
    inbox, archive = role["inbox"], role["archive"]

    r = imap(s)
    cmd(r, "e", "ENABLE CONDSTORE")
    cmd(r, "s", "SELECT INBOX")
    u, _ = cmd(r, "f", "FETCH 1:3 (EMAILID THREADID RFC822.SIZE MODSEQ)")
    imapv = [re.search(rb"EMAILID \((E\w+)\) THREADID \((T\w+)\) RFC822.SIZE (\d+) MODSEQ \((\d+)\)",
                       x) for x in u]
    assert all(imapv), u
    ids = [m.group(1).decode() for m in imapv]
    threads = [m.group(2).decode() for m in imapv]
    sizes = [int(m.group(3)) for m in imapv]
    modseq0 = int(imapv[0].group(4))

    # Email/query.
    _, q = j.one("Email/query", {"filter": {"inMailbox": inbox},
                                 "sort": [{"property": "receivedAt", "isAscending": False},
                                          {"property": "id", "isAscending": False}],
                                 "calculateTotal": True})
    assert q["ids"] == ids[::-1] and q["total"] == 3 and q["position"] == 0, q
    _, q = j.one("Email/query", {"sort": [{"property": "id"}], "collapseThreads": True})
    assert q["ids"] == [ids[0], ids[2]], q
    _, q = j.one("Email/query", {"filter": {"operator": "AND", "conditions": [
        {"minSize": 1000}, {"notKeyword": "$seen"}]}})
    assert q["ids"] == [ids[2]], q
    _, q = j.one("Email/query", {"sort": [{"property": "size"}], "anchor": ids[2],
                                 "anchorOffset": -1, "limit": 1})
    assert q["position"] == 1 and len(q["ids"]) == 1, q
    name, e = j.one("Email/query", {"filter": {"nonsense": "x"}})
    assert name == "error" and e["type"] == "unsupportedFilter", e
    name, e = j.one("Email/query", {"sort": [{"property": "allInThreadHaveKeyword"}]})
    assert name == "error" and e["type"] == "invalidArguments", e  # no keyword
    name, e = j.one("Email/query", {"sort": [{"property": "nonsense"}]})
    assert name == "error" and e["type"] == "unsupportedSort", e

    # Email/get: exact values, threadId = IMAP THREADID.
    hdr = ["id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt",
           "messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc",
           "replyTo", "subject", "sentAt", "hasAttachment", "preview"]
    _, g = j.one("Email/get", {"ids": [ids[0], ids[1], "E7fffffff"], "properties": hdr})
    assert g["notFound"] == ["E7fffffff"], g
    e0, e1 = g["list"]
    assert e0["threadId"] == threads[0] == e1["threadId"] == threads[1] != threads[2]
    assert re.fullmatch(r"B[0-9a-f]{64}", e0["blobId"]), e0
    assert e0 == {
        "id": ids[0], "blobId": e0["blobId"], "threadId": threads[0], "mailboxIds": {inbox: True},
        "keywords": {}, "size": sizes[0], "receivedAt": e0["receivedAt"],
        "messageId": ["e1@remote.test"], "inReplyTo": None, "references": None,
        "sender": None, "from": [{"name": "Alice A.", "email": "alice@remote.test"}],
        "to": [{"name": None, "email": "cat@example.test"},
               {"name": "Bob", "email": "bob@example.test"}],
        "cc": None, "bcc": None, "replyTo": None, "subject": "Café plans",
        "sentAt": "2026-11-20T12:00:00+01:00", "hasAttachment": False,
        "preview": "First line of one."}, e0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e0["receivedAt"])
    assert e1["inReplyTo"] == ["e1@remote.test"]
    assert e1["references"] == ["e0@remote.test", "e1@remote.test"]
    _, g = j.one("Email/get", {"ids": [ids[2]], "properties": ["subject", "size"]})
    assert g["list"] == [{"id": ids[2], "subject": "other", "size": sizes[2]}], g
    name, e = j.one("Email/get", {"ids": [ids[0]], "properties": ["header:Subject:asDate"]})
    assert name == "error" and e["type"] == "invalidArguments", e
    # The default properties (RFC 8621 4.2) include the body ones, not bodyStructure.
    _, g = j.one("Email/get", {"ids": [ids[0]]})
    assert set(g["list"][0]) == set(hdr) | {"textBody", "htmlBody", "attachments", "bodyValues"}
    assert g["list"][0]["textBody"] == g["list"][0]["htmlBody"] and g["list"][0]["bodyValues"] == {}

    # JMAP keyword -> IMAP FETCH with a new MODSEQ.
    _, st = j.one("Email/set", {"update": {ids[0]: {"keywords/$flagged": True, "keywords/work": True}}})
    assert st["updated"] == {ids[0]: None} and st["notUpdated"] is None, st
    state1 = st["newState"]
    cmd(r, "n0", "NOOP")
    u, _ = cmd(r, "f2", "FETCH 1 (FLAGS MODSEQ)")
    m = re.search(rb"FLAGS \(([^)]*)\) MODSEQ \((\d+)\)", u[-1])
    assert m and sorted(m.group(1).split()) == [b"\\Flagged", b"\\Recent", b"work"], u
    assert int(m.group(2)) > modseq0, u

    # IMAP STORE -> Email/get and Email/changes.
    cmd(r, "st", "STORE 2 +FLAGS (\\Seen \\Answered)")
    _, ch = j.one("Email/changes", {"sinceState": state1})
    assert ch["created"] == [] and ch["updated"] == [ids[1]] and ch["destroyed"] == [], ch
    _, g = j.one("Email/get", {"ids": [ids[1]], "properties": ["keywords"]})
    assert g["list"][0]["keywords"] == {"$seen": True, "$answered": True}, g
    # Keywords come back in lower case (RFC 8621 §4.1.1), however IMAP or
    # JMAP spelled them; IMAP keeps its spelling.
    cmd(r, "st2", "STORE 2 +FLAGS (Work $Junk)")
    _, st = j.one("Email/set", {"update": {ids[1]: {"keywords/Urgent": True}}})
    assert st["updated"] == {ids[1]: None}, st
    _, g = j.one("Email/get", {"ids": [ids[1]], "properties": ["keywords"]})
    assert g["list"][0]["keywords"] == {"$seen": True, "$answered": True, "work": True,
                                        "$junk": True, "urgent": True}, g
    u, _ = cmd(r, "f3", "FETCH 2 FLAGS")
    assert b"$Junk" in u[-1], u
    _, st = j.one("Email/set", {"update": {ids[1]: {"keywords": {"$seen": True,
                                                                 "$answered": True}}}})
    assert st["updated"] == {ids[1]: None}, st
    _, q = j.one("Email/query", {"filter": {"hasKeyword": "$seen"}})
    assert q["ids"] == [ids[1]], q
    _, q = j.one("Email/query", {"filter": {"someInThreadHaveKeyword": "$seen"},
                                 "sort": [{"property": "id"}]})
    assert q["ids"] == [ids[0], ids[1]], q

    # Whole keywords; refusals.
    _, st = j.one("Email/set", {"update": {
        ids[0]: {"keywords": {"$seen": True}},
        ids[1]: {"keywords/$deleted": True},
        ids[2]: {"subject": "new"},
        "E7fffffff": {"keywords": {}},
    }, "create": {"k": {"subject": "x"}}})
    assert st["updated"] == {ids[0]: None}, st
    assert {k: v["type"] for k, v in st["notUpdated"].items()} == {
        ids[1]: "invalidProperties", ids[2]: "invalidProperties", "E7fffffff": "notFound"}, st
    # Create (test_jmap_blob has its own tests): an Email needs a mailbox.
    assert {k: st["notCreated"]["k"][k] for k in ("type", "properties")} == {
        "type": "invalidProperties", "properties": ["mailboxIds"]}, st
    cmd(r, "n1", "NOOP")
    u, _ = cmd(r, "f3", "FETCH 1 (FLAGS)")
    assert b"FLAGS (\\Seen \\Recent)" in u[-1] or b"FLAGS (\\Recent \\Seen)" in u[-1], u

    # Move to Archive (mailboxIds whole), then an IMAP EXPUNGE, then a destroy.
    state2 = st["newState"]
    _, st = j.one("Email/set", {"update": {ids[2]: {"mailboxIds": {archive: True}}}})
    assert st["updated"] == {ids[2]: None}, st
    # One commit (one modseq): no reader ever sees it in both mailboxes
    # or in neither; a copy then an expunge were two.
    assert int(st["newState"]) == int(st["oldState"]) + 1, st
    _, g = j.one("Email/get", {"ids": [ids[2]], "properties": ["mailboxIds"]})
    assert g["list"][0]["mailboxIds"] == {archive: True}, g
    # Conditions naming different mailboxes, each judged on its own (the
    # query resolves a mailbox id once per string, not once per email).
    by_id = [{"property": "id"}]
    for f, want in (({"operator": "OR", "conditions": [{"inMailbox": archive},
                                                       {"inMailbox": inbox}]}, sorted(ids)),
                    ({"operator": "OR", "conditions": [{"inMailbox": inbox},
                                                       {"inMailbox": archive}]}, sorted(ids)),
                    ({"operator": "AND", "conditions": [{"inMailbox": inbox},
                                                        {"inMailbox": archive}]}, []),
                    ({"operator": "NOT", "conditions": [{"inMailbox": inbox}]}, [ids[2]])):
        _, q = j.one("Email/query", {"filter": f, "sort": by_id})
        assert q["ids"] == want, (f, q)
    u, _ = cmd(r, "n", "NOOP")
    assert b"* 3 EXPUNGE" in u, u
    u, _ = cmd(r, "sa", "STATUS Archive (MESSAGES)")
    assert u == [b"* STATUS Archive (MESSAGES 1)"], u
    _, st = j.one("Email/set", {"update": {ids[2]: {"mailboxIds/" + archive: None}}})
    assert st["notUpdated"][ids[2]]["type"] == "invalidProperties", st  # none left
    _, ch = j.one("Email/changes", {"sinceState": state2})
    assert ch["updated"] == [ids[2]], ch

    cmd(r, "d", "STORE 2 +FLAGS (\\Deleted)")
    cmd(r, "x", "EXPUNGE")
    _, ch = j.one("Email/changes", {"sinceState": state2})
    assert ch["destroyed"] == [ids[1]] and ch["updated"] == [ids[2]], ch
    _, st = j.one("Email/set", {"destroy": [ids[0], "E7fffffff"]})
    assert st["destroyed"] == [ids[0]] and st["notDestroyed"]["E7fffffff"]["type"] == "notFound"
    u, _ = cmd(r, "n2", "NOOP")
    assert b"* 1 EXPUNGE" in u, u
    _, ch = j.one("Email/changes", {"sinceState": "0"})
    assert ch["created"] == [ids[2]] and ch["updated"] == [] and ch["destroyed"] == [], ch
    _, ch = j.one("Email/changes", {"sinceState": "0", "maxChanges": 1})
    assert ch["hasMoreChanges"] is True and len(ch["created"]) <= 1, ch
    r.close()


MULTI = (
    "From: alice@remote.test\r\nTo: dog@example.test\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=m\r\n\r\n"
    "--m\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n"
    "--a\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    "Gr=FC=DFe aus K=F6ln, a long enough line.\r\n"
    "--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>html</b></p>\r\n"
    "--a--\r\n"
    "--m\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\nContent-ID: <c1@x>\r\n\r\nJVBERi0xLjQK\r\n"
    "--m--\r\n")


def test_jmap_email_body():
    s = srv()
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        c.sendmail("alice@remote.test", [DOG[0]], MULTI.encode())
    wait_count(s, 1, account=DOG[0])
    j = Jmap(s, *DOG)
    _, q = j.one("Email/query", {})
    eid = q["ids"][0]
    n = int(eid[1:], 16)
    _, g = j.one("Email/get", {"ids": [eid], "properties": [
        "bodyStructure", "textBody", "htmlBody", "attachments", "bodyValues", "hasAttachment"],
        "fetchAllBodyValues": True, "maxBodyValueBytes": 13})
    e = g["list"][0]

    def leaf(pid, typ, size, charset=None, name=None, disp=None, cid=None):
        return {"partId": pid, "blobId": "P%08x_%s" % (n, pid), "size": size, "name": name,
                "type": typ, "charset": charset, "disposition": disp, "cid": cid,
                "language": None, "location": None}
    text = leaf("2", "text/plain", 35, "iso-8859-1")  # decoded; the CRLF before "--a" is the boundary's
    html = leaf("3", "text/html", 24, "utf-8")
    pdf = leaf("4", "application/pdf", 9, None, "report.pdf", "attachment", "c1@x")
    multi = {"partId": None, "blobId": None, "name": None, "charset": None,
             "disposition": None, "cid": None, "language": None, "location": None}
    # A multipart's size is that of its content (RFC 8621 4.1.4: the
    # octets after transfer decoding, none for a multipart): the body
    # after its header, to the CRLF its enclosing boundary takes (it was
    # 0, which a client showing a part's size, or checking it, took for
    # an empty part).
    outer = MULTI.split("\r\n\r\n", 1)[1]
    inner = outer[outer.index("\r\n\r\n") + 4:outer.index("\r\n--m\r\nContent-Type: application")]
    assert e["bodyStructure"] == dict(multi, type="multipart/mixed", size=len(outer), subParts=[
        dict(multi, type="multipart/alternative", size=len(inner), subParts=[text, html]),
        pdf]), e["bodyStructure"]
    assert e["textBody"] == [text] and e["htmlBody"] == [html] and e["attachments"] == [pdf], e
    assert e["hasAttachment"] is True
    # Decoded (quoted-printable, Latin-1), cut at 13 octets on a character boundary.
    assert e["bodyValues"] == {
        "2": {"value": "Grüße aus K", "isEncodingProblem": False, "isTruncated": True},
        "3": {"value": "<p>Hello <b>h", "isEncodingProblem": False, "isTruncated": True}}, e
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["bodyValues"],
                               "fetchTextBodyValues": True, "bodyProperties": ["partId"]})
    assert g["list"][0]["bodyValues"] == {"2": {"value": "Grüße aus Köln, a long enough line.",
                                                "isEncodingProblem": False, "isTruncated": False}}, g
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["bodyValues"],
                               "fetchTextBodyValues": True, "maxBodyValueBytes": 3})
    assert g["list"][0]["bodyValues"]["2"]["value"] == "Gr", g  # not half of the ü
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["textBody"], "bodyProperties": ["type"]})
    assert g["list"][0]["textBody"] == [{"type": "text/plain"}], g
    name, err = j.one("Email/get", {"ids": [eid], "bodyProperties": ["nonsense"]})
    assert name == "error" and err["type"] == "invalidArguments", err


ATTACHED = (
    b"From: alice@remote.test\r\nTo: dog@example.test\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n"
    b"--x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee attached\r\n"
    b"--x\r\nContent-Type: message/rfc822\r\n\r\n"
    b"From: bob@remote.test\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=y\r\n\r\n"
    b"--y\r\nContent-Type: text/plain\r\n\r\ninner text\r\n"
    b"--y\r\nContent-Type: text/html\r\n\r\n<p>inner</p>\r\n--y--\r\n"
    b"--x--\r\n")


def test_jmap_email_values_stop_at_an_attached_message():
    """(Runs after test_jmap_email_body, which takes DOG's first email.)
    fetchAllBodyValues gives the text parts of bodyStructure (RFC 8621
    §4.2): an attached message/rfc822 is one leaf there, so the text
    parts inside it have no partId a client can see and no value."""
    j = Jmap(srv(), *DOG)
    st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, ATTACHED,
                          {"Content-Type": "message/rfc822"})
    assert st == 201, up
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    inbox = [m["id"] for m in mb["list"] if m["role"] == "inbox"][0]
    _, r = j.one("Email/import", {"emails": {"i": {"blobId": up["blobId"],
                                                   "mailboxIds": {inbox: True}}}})
    eid = r["created"]["i"]["id"]
    props = ["bodyStructure", "bodyValues"]
    _, g = j.one("Email/get", {"ids": [eid], "properties": props, "fetchAllBodyValues": True})
    _, p = j.one("Email/parse", {"blobIds": [up["blobId"]], "properties": props,
                                 "fetchAllBodyValues": True})
    for e in (g["list"][0], p["parsed"][up["blobId"]]):
        subs = e["bodyStructure"]["subParts"]
        assert [s["type"] for s in subs] == ["text/plain", "message/rfc822"], e
        assert "subParts" not in subs[1] or subs[1]["subParts"] is None, e
        assert list(e["bodyValues"]) == [subs[0]["partId"]], e
        assert e["bodyValues"][subs[0]["partId"]]["value"] == "see attached", e


OWL = ("owl@example.test", "owl-password-1-Kp3z")


def test_jmap_email_query_in_one_mailbox_after_every_write():
    """Email/query with inMailbox reads that mailbox's emails only
    (store_mailbox_emails: by the uid index for a mailbox holding a part
    of the account, as Archive and Lists here) where the query looks at
    no other:
    its answer (ids, position, total, queryState, canCalculateChanges) is
    the same as the whole account's, read when the filter is wrapped in
    an OR, and its ids are those Email/get says are in the mailbox; so
    after each kind of write (SMTP delivery, keyword, move, a second
    mailbox, Email/import, an IMAP COPY into the same mailbox, destroy,
    IMAP EXPUNGE, a mailbox destroyed with its emails)."""
    s = shared_server([OWL])
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        for i in range(6):
            # The 3rd and 5th answer the 1st: one thread.
            reply = i in (2, 4)
            c.sendmail("alice@remote.test", [OWL[0]],
                       ("Message-ID: <q%d@remote.test>\r\n%sFrom: alice@remote.test\r\n"
                        "To: owl@example.test\r\nSubject: %s\r\n\r\n%s\r\n"
                        % (i, "In-Reply-To: <q0@remote.test>\r\n" if reply else "",
                           "Re: q0" if reply else "q%d" % i, "y" * (100 * (6 - i)))).encode())
    wait_count(s, 6, account=OWL[0], timeout=60)
    j = Jmap(s, *OWL)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    role = {m["role"]: m["id"] for m in mb["list"]}
    inbox, archive = role["inbox"], role["archive"]
    _, r = j.one("Mailbox/set", {"create": {"l": {"name": "Lists"}}})
    lists = r["created"]["l"]["id"]

    def members():
        _, q = j.one("Email/query", {})
        _, g = j.one("Email/get", {"ids": q["ids"], "properties": ["mailboxIds"]})
        return {e["id"]: set(e["mailboxIds"]) for e in g["list"]}

    def queries(pairs):
        """Runs the (args, args) pairs' Email/query calls, 32 to a
        request (maxCallsInRequest); returns their (name, args) pairs."""
        calls = []
        for a, b in pairs:
            for x in (a, b):
                calls.append(["Email/query", dict(x, accountId=j.account), str(len(calls))])
        out = []
        for i in range(0, len(calls), 32):
            out += [(m[0], m[1]) for m in j.call(calls[i:i + 32])["methodResponses"]]
        return [(out[k], out[k + 1]) for k in range(0, len(out), 2)]

    def check(step):
        inside = members()
        pairs = []
        for box in (inbox, archive, lists, "Mffffff0"):
            for args in ({"sort": [{"property": "receivedAt", "isAscending": False}]},
                         {"sort": [{"property": "size"}], "collapseThreads": True},
                         {"position": 1, "limit": 2, "calculateTotal": True},
                         {"position": -2, "calculateTotal": True},
                         {"filter": {"operator": "AND", "conditions": [
                             {"inMailbox": box}, {"notKeyword": "$flagged"}]}},
                         {"sort": [{"property": "hasKeyword", "keyword": "$flagged"}]},
                         # A thread's emails in other mailboxes count here:
                         # these read the whole account.
                         {"filter": {"operator": "AND", "conditions": [
                             {"inMailbox": box}, {"someInThreadHaveKeyword": "$flagged"}]}},
                         {"sort": [{"property": "someInThreadHaveKeyword",
                                    "keyword": "$flagged"}, {"property": "id"}]},
                         {}):
                args = dict(args)
                flt = args.setdefault("filter", {"inMailbox": box})
                pairs.append((args, dict(args, filter={"operator": "OR", "conditions": [flt]})))
        res = queries(pairs)
        for (a, b), (got, whole) in zip(pairs, res):
            assert got[0] == "Email/query" and got == whole, (step, a, got, whole)
        anchored = []
        for (a, _), (got, _) in zip(pairs, res):
            box = a["filter"].get("inMailbox")
            if len(a) > 1 or box is None:
                continue
            want = {e for e, m in inside.items() if box in m}
            ids = got[1]["ids"]
            assert set(ids) == want and len(ids) == len(want), (step, box, got, want)
            for extra in ({"anchor": ids[0], "anchorOffset": 1, "limit": 2},
                          {"anchor": ids[-1], "anchorOffset": -1}) if ids else ():
                x = dict(a, **extra)
                anchored.append((x, dict(x, filter={"operator": "OR", "conditions": [a["filter"]]})))
        for (a, _), (got, whole) in zip(anchored, queries(anchored)):
            assert got[0] == "Email/query" and got == whole, (step, a, got, whole)
        return inside

    ids = sorted(check("delivered"))
    assert len(ids) == 6
    _, g = j.one("Email/get", {"ids": ids, "properties": ["threadId"]})
    thread = [e["threadId"] for e in g["list"]]
    assert thread[0] == thread[2] == thread[4] and len(set(thread)) == 4, thread
    # The first email (of the thread of the 3rd and 5th, moved to Archive
    # below) and the second flagged.
    _, r = j.one("Email/set", {"update": {ids[1]: {"keywords/$flagged": True},
                                          ids[0]: {"keywords/$flagged": True}}})
    assert ids[1] in r["updated"] and ids[0] in r["updated"], r
    check("keyword")
    _, r = j.one("Email/set", {"update": {ids[0]: {"mailboxIds": {archive: True}},
                                          ids[4]: {"mailboxIds": {archive: True}}}})
    assert len(r["updated"]) == 2, r
    check("moved")
    _, r = j.one("Email/set", {"update": {ids[2]: {"mailboxIds/" + lists: True},
                                          ids[0]: {"mailboxIds/" + lists: True}}})
    assert len(r["updated"]) == 2, r
    check("two mailboxes")
    st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account,
                          b"From: bob@remote.test\r\nSubject: imported\r\n\r\nhi\r\n",
                          {"Content-Type": "message/rfc822"})
    assert st == 201, up
    _, r = j.one("Email/import", {"emails": {"i": {"blobId": up["blobId"],
                                                   "mailboxIds": {lists: True}}}})
    assert "i" in r["created"], r
    check("imported")
    imap_r = Raw(s)
    imap_r.send("l LOGIN %s %s\r\n" % OWL)
    assert imap_r.until_tag("l")[-1].startswith(b"l OK")
    cmd(imap_r, "s", "SELECT Archive")
    _, t = cmd(imap_r, "c", "COPY 1 Archive")
    assert b"OK" in t, t
    check("IMAP COPY into the same mailbox")
    _, r = j.one("Email/set", {"destroy": [ids[3]]})
    assert r["destroyed"] == [ids[3]], r
    check("destroyed")
    cmd(imap_r, "s", "SELECT INBOX")
    _, t = cmd(imap_r, "f", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    _, t = cmd(imap_r, "x", "EXPUNGE")
    assert b"OK" in t, t
    check("IMAP EXPUNGE")
    _, r = j.one("Mailbox/set", {"destroy": [lists], "onDestroyRemoveEmails": True})
    assert r["destroyed"] == [lists], r
    left = check("mailbox destroyed")
    assert not any(lists in m for m in left.values())
    imap_r.send("z LOGOUT\r\n")
