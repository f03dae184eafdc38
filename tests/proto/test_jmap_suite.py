"""JMAP behaviour a third-party conformance suite (Fastmail's
JMAP-TestSuite) probes that the other test_jmap_* modules leave out,
checked against RFC 8620 and RFC 8621 rather than against that suite:
where the two disagree the RFC decides. Email/get's bodyProperties
naming "subParts" gives that property on every part, null where the
part is no multipart. One server for the module."""
from jmapc import Jmap, shared_server

BOB = ("bob@example.test", "bob-suite-pass-3x")


def srv():
    return shared_server([BOB])


def import_msg(j, raw):
    st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, raw,
                          {"Content-Type": "message/rfc822"})
    assert st == 201, (st, up)
    _, q = j.one("Mailbox/query", {"filter": {"role": "inbox"}})
    _, r = j.one("Email/import", {"emails": {"i": {
        "blobId": up["blobId"], "mailboxIds": {q["ids"][0]: True}}}})
    return r["created"]["i"]["id"]


MIXED = (b"From: Ann <ann@remote.test>\r\nTo: bob@example.test\r\nSubject: parts\r\n"
         b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
         b"--b1\r\nContent-Type: text/plain\r\n\r\nthe text\r\n"
         b"--b1\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\n"
         b"Content-Disposition: attachment\r\n\r\nPDF\r\n--b1--\r\n")


def test_subparts_asked_is_on_every_part():
    """RFC 8620 §5.1: the properties a /get names are the ones each object
    gets; RFC 8621 §4.1.4 types subParts "EmailBodyPart[]|null", a list
    for a multipart. A leaf part asked for subParts says null, in
    bodyStructure and in the flat lists alike, and a multipart keeps its
    list."""
    j = Jmap(srv(), *BOB)
    eid = import_msg(j, MIXED)
    _, r = j.one("Email/get", {"ids": [eid],
                               "properties": ["bodyStructure", "textBody", "attachments"],
                               "bodyProperties": ["partId", "type", "subParts"]})
    e = r["list"][0]
    root = e["bodyStructure"]
    assert root["type"] == "multipart/mixed" and root["partId"] is None, root
    assert [p["type"] for p in root["subParts"]] == ["text/plain", "application/pdf"], root
    for p in root["subParts"] + e["textBody"] + e["attachments"]:
        assert set(p) == {"partId", "type", "subParts"} and p["subParts"] is None, p
    assert [p["type"] for p in e["textBody"]] == ["text/plain"], e
    assert [p["type"] for p in e["attachments"]] == ["application/pdf"], e

    # Not asked for: a leaf has no subParts, a multipart still lists its
    # parts (the default bodyProperties of §4.1.4, bodyStructure's tree).
    _, r = j.one("Email/get", {"ids": [eid], "properties": ["bodyStructure", "textBody"]})
    e = r["list"][0]
    assert len(e["bodyStructure"]["subParts"]) == 2, e
    assert all("subParts" not in p for p in e["bodyStructure"]["subParts"] + e["textBody"]), e
    _, r = j.one("Email/get", {"ids": [eid], "properties": ["textBody"],
                               "bodyProperties": ["size", "name", "type"]})
    assert r["list"][0]["textBody"] == [{"size": 8, "name": None, "type": "text/plain"}], r


def test_create_part_by_value_of_any_type():
    """RFC 8621 §4.6 asks of a part given by partId only that its value
    is in bodyValues and that it has no charset or size; it asks no text
    type. An attachment of another type given so is created, carrying
    the value's UTF-8 octets as they are (no charset, no line ends
    rewritten), downloadable as such, with its name, disposition, cid
    and language."""
    j = Jmap(srv(), *BOB)
    _, q = j.one("Mailbox/query", {"filter": {"role": "drafts"}})
    value = '{"name": "thing",\n "size": "caf\u00e9"}'
    _, r = j.one("Email/set", {"create": {"e": {
        "mailboxIds": {q["ids"][0]: True}, "subject": "by value",
        "textBody": [{"partId": "t"}],
        "attachments": [{"partId": "a", "type": "application/json", "name": "thing.json",
                         "disposition": "attachment", "cid": "j1@x", "language": ["en"]}],
        "bodyValues": {"t": {"value": "see the attachment"}, "a": {"value": value}}}}})
    assert r["notCreated"] is None, r
    eid = r["created"]["e"]["id"]
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["attachments", "hasAttachment",
                                                            "textBody"]})
    e = g["list"][0]
    assert e["hasAttachment"] is True and len(e["textBody"]) == 1, e
    att = e["attachments"]
    assert len(att) == 1, att
    a = att[0]
    want = {"type": "application/json", "name": "thing.json", "disposition": "attachment",
            "cid": "j1@x", "language": ["en"], "charset": None, "size": len(value.encode())}
    assert {k: a[k] for k in want} == want, a
    st, _, data = j.request("GET", "/jmap/download/%s/%s/thing.json?accept=application/octet-stream"
                            % (j.account, a["blobId"]))
    assert st == 200 and data == value.encode(), (st, data)


def test_query_position_past_the_end():
    """RFC 8620 §5.5: a position at or past the end of the results gives
    no ids "but this is not an error", and the position answered is the
    index of the first id to return, the one asked for, not the total;
    a negative one counts from the end and stops at 0. Likewise an
    anchorOffset that runs past the end."""
    j = Jmap(srv(), *BOB)
    _, q = j.one("Mailbox/query", {"sort": [{"property": "name"}], "calculateTotal": True})
    n = q["total"]
    assert n >= 6 and q["position"] == 0, q

    def window(**kw):
        _, r = j.one("Mailbox/query", dict({"sort": [{"property": "name"}]}, **kw))
        assert "ids" in r, r
        return r["position"], r["ids"]
    assert window(position=n + 4) == (n + 4, [])
    assert window(position=n, limit=3) == (n, [])
    assert window(position=n - 1) == (n - 1, q["ids"][-1:])
    assert window(position=-1) == (n - 1, q["ids"][-1:])
    assert window(position=-(n + 10)) == (0, q["ids"])
    assert window(anchor=q["ids"][-2], anchorOffset=5) == (n + 3, [])
    assert window(anchor=q["ids"][1], anchorOffset=-9) == (0, q["ids"])
    _, e = j.one("Email/query", {"position": 1000})
    assert e["position"] == 1000 and e["ids"] == [], e


def _mixed(second):
    return (b"From: Ann <ann@remote.test>\r\nTo: bob@example.test\r\nSubject: has att\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            b"--b1\r\nContent-Type: text/plain\r\n\r\nthe text\r\n"
            b"--b1\r\n" + second + b"\r\n\r\nsecond part\r\n--b1--\r\n")


def test_has_attachment_follows_attachments():
    """RFC 8621 §4.1.4: hasAttachment SHOULD be true when "attachments"
    holds an item without Content-Disposition: inline. A text part that
    parseStructure puts there (a text/plain with a file name after the
    first part, a text/csv, which is neither text/plain nor text/html)
    counts though it has no Content-Disposition; so does Email/query's
    hasAttachment filter. An inline second text/plain stays body."""
    j = Jmap(srv(), *BOB)
    cases = [(b"Content-Type: text/plain; name=\"notes.txt\"", True),
             (b"Content-Type: text/csv", True),
             (b"Content-Type: text/plain", False)]
    ids = []
    for second, want in cases:
        eid = import_msg(j, _mixed(second))
        ids.append(eid)
        _, r = j.one("Email/get", {"ids": [eid], "properties": ["attachments", "hasAttachment"],
                                   "bodyProperties": ["partId", "type", "disposition"]})
        e = r["list"][0]
        assert (len(e["attachments"]) == 1) == want, (second, e)
        assert e["hasAttachment"] is want, (second, e)
    _, q = j.one("Email/query", {"filter": {"hasAttachment": True, "subject": "has att"}})
    assert sorted(q["ids"]) == sorted(ids[:2]), (q, ids)
    _, q = j.one("Email/query", {"filter": {"hasAttachment": False, "subject": "has att"}})
    assert q["ids"] == ids[2:], (q, ids)
