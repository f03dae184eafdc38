"""RFC 9404 Blob/upload, Blob/get and Blob/lookup in an account another
user shares (RFC 8620 section 1.6.2), held to the rule the download and
upload URLs keep there (jmap_share_blob.c): the user reads its own
uploads there and the emails (and their body parts) in a mailbox it holds
"l" and "r" on, and nothing else, a blob it may not read being not found
exactly as one that does not exist; Blob/upload needs "i" on a mailbox it
sees (else forbidden) and makes the user's own upload there; Blob/lookup
names only the emails it may read, their threads, and of their mailboxes
those it may read. The session lists the blob capability for the shared
account with the same object as for the user's own. Grants are set with
`tern acl`. One server for the module."""
import base64
import hashlib

from jmapc import CORE, MAIL, Jmap, shared_server
from test_imap import login

BLOB = "urn:ietf:params:jmap:blob"
USING = (CORE, MAIL, BLOB)

BOB = ("bob@example.test", "bob-password-1Xy")
CAROL = ("carol@example.test", "carol-password-2Zq")
DAVE = ("dave@example.test", "dave-password-3Wr")

_ids = {}


def srv():
    return shared_server([BOB, CAROL, DAVE])


def grant(name, rights):
    """Carol's grant on Bob's mailbox (rights "": none)."""
    if rights:
        srv().cli("acl", "set", BOB[0], name, CAROL[0], rights)
    else:
        srv().cli("acl", "del", BOB[0], name, CAROL[0], check=False)


def blob_id(data):
    return "B" + hashlib.blake2b(data, digest_size=32).hexdigest()


def setup():
    """Bob's Open, Look (to be "l" only) and Shut, a message in Open and
    one in Shut; the Open one is also in Look. Ids by name, the emails'
    blobId, threadId and text part, and Bob's account."""
    if _ids:
        return _ids
    m = login(srv(), user=BOB[0], pw=BOB[1])
    for n in ("Open", "Look", "Shut"):
        assert m.create(n)[0] == "OK", n
    for n in ("Open", "Shut"):
        msg = b"From: a@remote.test\r\nSubject: in %s\r\n\r\nbody of %s\r\n" % (n.encode(), n.encode())
        assert m.append(n, None, None, msg)[0] == "OK", n
    m.logout()
    bob = Jmap(srv(), *BOB)
    _, r = bob.one("Mailbox/get", {"ids": None, "properties": ["name"]})
    mb = {b["name"]: b["id"] for b in r["list"]}
    for name in ("Open", "Shut"):
        _, r = bob.one("Email/query", {"filter": {"inMailbox": mb[name]}})
        _, r = bob.one("Email/get", {"ids": r["ids"], "properties": [
            "blobId", "threadId", "textBody"]})
        e, = r["list"]
        _ids[name + "Email"] = {"id": e["id"], "blobId": e["blobId"], "threadId": e["threadId"],
                                "part": e["textBody"][0]["blobId"]}
    _, r = bob.one("Email/set", {"update": {_ids["OpenEmail"]["id"]: {
        "mailboxIds/%s" % mb["Look"]: True}}})
    assert _ids["OpenEmail"]["id"] in r["updated"], r
    _ids.update(mb)
    _ids["account"] = bob.account
    return _ids


def call(user, method, args, acc=None):
    """One method in Bob's account (or acc) as user: (name, arguments)."""
    j = Jmap(srv(), *user)
    args = dict(args, accountId=acc or setup()["account"])
    r = j.call([[method, args, "c"]], USING)["methodResponses"]
    assert len(r) == 1, r
    return r[0][0], r[0][1]


def blob_get(ids, **kw):
    name, r = call(CAROL, "Blob/get", dict({"ids": ids}, **kw))
    assert name == "Blob/get", r
    return {x["id"]: x for x in r["list"]}, r["notFound"]


def download(user, acc, blob):
    st, _, body = Jmap(srv(), *user).request("GET", "/jmap/download/%s/%s/x.bin" % (acc, blob))
    return st, body


def test_session_lists_the_blob_capability():
    ids = setup()
    carol = Jmap(srv(), *CAROL)
    grant("Open", "lr")
    try:
        sess = carol.session()
        own = sess["accounts"][carol.account]["accountCapabilities"][BLOB]
        shared = sess["accounts"][ids["account"]]["accountCapabilities"]
        # RFC 9404 section 3: the account supports the methods, with the
        # same limits and types as the user's own account.
        assert shared.get(BLOB) == own, shared
        assert own["supportedTypeNames"] == ["Mailbox", "Thread", "Email"], own
    finally:
        grant("Open", "")


def test_blob_get_reads_only_what_the_user_may_read():
    ids = setup()
    open_e, shut_e = ids["OpenEmail"], ids["ShutEmail"]
    absent = "B" + "7" * 64
    st, _, own = Jmap(srv(), *CAROL).request(
        "POST", "/jmap/upload/%s/" % Jmap(srv(), *CAROL).account, b"carol's own bytes")
    assert st == 201, own
    st, _, bobs = Jmap(srv(), *BOB).request("POST", "/jmap/upload/%s/" % ids["account"],
                                            b"bob's own bytes")
    assert st == 201, bobs
    grant("Open", "l")
    try:
        # "l" without "r": its email is not readable, so not there.
        got, nf = blob_get([open_e["blobId"], open_e["part"], absent])
        assert got == {} and nf == [open_e["blobId"], open_e["part"], absent], (got, nf)
        grant("Open", "lr")
        msg = download(BOB, ids["account"], open_e["blobId"])[1]
        assert b"Subject: in Open" in msg, msg
        got, nf = blob_get([open_e["blobId"], open_e["part"], shut_e["blobId"], shut_e["part"],
                            absent, bobs["blobId"], own["blobId"]],
                           properties=["data:asText", "size", "digest:sha", "digest:sha-256"])
        assert got[open_e["blobId"]] == {
            "id": open_e["blobId"], "data:asText": msg.decode(), "size": len(msg),
            "digest:sha": base64.b64encode(hashlib.sha1(msg).digest()).decode(),
            "digest:sha-256": base64.b64encode(hashlib.sha256(msg).digest()).decode()}, got
        assert got[open_e["part"]]["data:asText"].strip() == "body of Open", got
        # Shut's email and part, Bob's upload and one of Carol's own
        # account: each answered as the absent id is, nothing more.
        assert set(got) == {open_e["blobId"], open_e["part"]}, got
        assert nf == [shut_e["blobId"], shut_e["part"], absent, bobs["blobId"], own["blobId"]], nf
        # offset and length as in the user's own account.
        got, _ = blob_get([open_e["blobId"]], offset=6, length=2 * len(msg),
                          properties=["data:asText", "size"])
        assert got[open_e["blobId"]] == {"id": open_e["blobId"], "data:asText": msg[6:].decode(),
                                         "isTruncated": True, "size": len(msg)}, got
        # Dave holds no grant: not an account of his.
        name, r = call(DAVE, "Blob/get", {"ids": [open_e["blobId"]]})
        assert name == "error" and r["type"] == "accountNotFound", (name, r)
    finally:
        grant("Open", "")
    # With the grant gone the account is no longer Carol's.
    name, r = call(CAROL, "Blob/get", {"ids": [open_e["blobId"]]})
    assert name == "error" and r["type"] == "accountNotFound", (name, r)


def test_blob_upload_needs_i_and_is_the_users_own_upload():
    ids = setup()
    acc, open_e, shut_e = ids["account"], ids["OpenEmail"], ids["ShutEmail"]
    carol = Jmap(srv(), *CAROL)
    st, _, own = carol.request("POST", "/jmap/upload/%s/" % carol.account, b"carol's own")
    assert st == 201, own
    text = {"data": [{"data:asText": "made by carol"}], "type": "text/plain"}
    grant("Open", "lr")
    try:
        # No "i" anywhere: refused as the upload URL's 403, nothing kept.
        name, r = call(CAROL, "Blob/upload", {"create": {"t": text}})
        assert name == "error" and r["type"] == "forbidden", (name, r)
        assert download(CAROL, acc, blob_id(b"made by carol"))[0] == 404
        grant("Open", "lri")
        msg = download(BOB, acc, open_e["blobId"])[1]
        name, r = call(CAROL, "Blob/upload", {"create": {
            "t": text,
            "m": {"data": [{"blobId": open_e["blobId"]}, {"data:asText": "!"}]},
            "shut": {"data": [{"blobId": shut_e["blobId"]}]},
            "shutpart": {"data": [{"blobId": shut_e["part"]}]},
            "own": {"data": [{"blobId": own["blobId"]}]},
            "range": {"data": [{"blobId": open_e["part"], "offset": 0, "length": 4}]}}})
        assert name == "Blob/upload", r
        made = blob_id(b"made by carol")
        assert r["created"] == {
            "t": {"id": made, "type": "text/plain", "size": 13},
            "m": {"id": blob_id(msg + b"!"), "type": None, "size": len(msg) + 1},
            "range": {"id": blob_id(b"body"), "type": None, "size": 4}}, r
        # Blobs she may not read there are as absent as none.
        assert {k: v["type"] for k, v in r["notCreated"].items()} == {
            "shut": "blobNotFound", "shutpart": "blobNotFound", "own": "blobNotFound"}, r
        # Her upload there: she reads it (Blob/get, download), Bob and
        # her own account do not.
        assert download(CAROL, acc, made) == (200, b"made by carol")
        assert download(BOB, acc, made)[0] == 404
        got, _ = blob_get([made], properties=["data:asText"])
        assert got[made]["data:asText"] == "made by carol", got
        name, r = call(CAROL, "Blob/get", {"ids": [made]}, acc=carol.account)
        assert r["notFound"] == [made], r
        # A creation id is read at once in the same request, in the
        # shared account.
        r = carol.call([["Blob/upload", {"accountId": acc, "create": {
            "n": {"data": [{"data:asText": "Subject: up\r\n\r\nhi\r\n"}]}}}, "0"],
            ["Blob/get", {"accountId": acc, "ids": ["#n"], "properties": ["size"]}, "1"]], USING)
        (_, r0, _), (_, r1, _) = r["methodResponses"]
        nid = r0["created"]["n"]["id"]
        assert r1["list"] == [{"id": nid, "size": 19}], r1
        # Email/import there takes it, as an HTTP upload there.
        name, r = call(CAROL, "Email/import", {"emails": {"i": {
            "blobId": nid, "mailboxIds": {ids["Open"]: True}}}})
        assert name == "Email/import" and "i" in r["created"], r
    finally:
        grant("Open", "")


def test_blob_lookup_names_only_what_the_user_sees():
    ids = setup()
    acc, open_e, shut_e = ids["account"], ids["OpenEmail"], ids["ShutEmail"]
    bob = Jmap(srv(), *BOB)
    # The Open email's bytes imported by Bob into Shut too: a second
    # email with that blob, one Carol may not read.
    _, r = bob.one("Email/import", {"emails": {"s": {"blobId": open_e["blobId"],
                                                     "mailboxIds": {ids["Shut"]: True}}}})
    second = r["created"]["s"]["id"]
    absent = "B" + "8" * 64
    types = ["Email", "Thread", "Mailbox"]
    grant("Open", "lri")
    grant("Look", "l")
    try:
        # Bob sees both emails and all three mailboxes.
        name, r = call(BOB, "Blob/lookup", {"typeNames": ["Email", "Mailbox"],
                                            "ids": [open_e["blobId"]]})
        assert sorted(r["list"][0]["matchedIds"]["Email"]) == sorted([open_e["id"], second]), r
        assert sorted(r["list"][0]["matchedIds"]["Mailbox"]) == sorted(
            [ids["Open"], ids["Look"], ids["Shut"]]), r
        name, up = call(CAROL, "Blob/upload", {"create": {"u": {"data": [{"data:asText": "u"}]}}})
        mine = up["created"]["u"]["id"]
        name, r = call(CAROL, "Blob/lookup", {"typeNames": types, "ids": [
            open_e["blobId"], open_e["part"], shut_e["blobId"], shut_e["part"], mine, absent]})
        assert name == "Blob/lookup", r
        want = {"Email": [open_e["id"]], "Thread": [open_e["threadId"]], "Mailbox": [ids["Open"]]}
        # Not Look ("l" alone shows no emails) nor Shut, nor Bob's second
        # email there.
        assert r["list"] == [
            {"id": open_e["blobId"], "matchedIds": want},
            {"id": open_e["part"], "matchedIds": want},
            {"id": mine, "matchedIds": {"Email": [], "Thread": [], "Mailbox": []}}], r
        assert r["notFound"] == [shut_e["blobId"], shut_e["part"], absent], r
        # "l" alone on Open: its email is no more there than an absent one.
        grant("Open", "l")
        name, r = call(CAROL, "Blob/lookup", {"typeNames": types, "ids": [
            open_e["blobId"], open_e["part"], absent]})
        assert r["list"] == [] and r["notFound"] == [open_e["blobId"], open_e["part"], absent], r
    finally:
        grant("Open", "")
        grant("Look", "")
