"""Email/copy and Blob/copy between the user's own account and accounts
other users share with it (RFC 8620 sections 5.4 and 6.3, RFC 8621
section 4.7), held to the IMAP ACL rights (RFC 4314) as IMAP's COPY into
or out of a shared mailbox is: reading the source needs "l" and "r" on a
mailbox holding the email (else notFound, as for an id that does not
exist), each target mailbox "i" (forbidden), the keywords are cut to what
"s" and "w" on the targets allow, the copy is charged to the target
owner's quota, and onSuccessDestroyOriginal is an implicit Email/set
destroy in the source account, held to "t" and "e" there. One server for
the module: Bob and Dave own, Carol is given rights, Eve owns with a small
quota."""
import http.client
import json

import jmapc
from jmapc import Jmap, shared_server
from test_imap import login

BOB = ("bob@example.test", "bob-password-1Xy")
CAROL = ("carol@example.test", "carol-password-2Zq")
DAVE = ("dave@example.test", "dave-password-3Wr")
EVE = ("eve@example.test", "eve-password-4Vs")

_ids = {}


def srv():
    return shared_server([BOB, CAROL, DAVE])


def imap(user):
    return login(srv(), user=user[0], pw=user[1])


def grant(owner, name, who, rights):
    """`tern acl set` (rights "" removes the grant: `tern acl del`)."""
    if rights:
        srv().cli("acl", "set", owner[0], name, who, rights)
    else:
        srv().cli("acl", "del", owner[0], name, who, check=False)


def call(j, method, args):
    r = j.call([[method, args, "c"]])["methodResponses"]
    assert len(r) == 1, r
    return r[0][0], r[0][1]


def mailbox_ids(user):
    _, r = Jmap(srv(), *user).one("Mailbox/get", {"ids": None, "properties": ["name"]})
    return {b["name"]: b["id"] for b in r["list"]}


def setup():
    """Bob's Team and Private, Dave's Inbox-like Drop, Carol's Keep, each
    with a message flagged and seen; ids by (user, name)."""
    if _ids:
        return _ids
    for user, boxes in ((BOB, ("Team", "Private")), (DAVE, ("Drop",)), (CAROL, ("Keep",))):
        m = imap(user)
        for name in boxes:
            assert m.create(name)[0] == "OK"
            msg = b"From: a@remote.test\r\nSubject: %s of %s\r\n\r\nbody\r\n" % (
                name.encode(), user[0].encode())
            assert m.append(name, r"(\Seen \Flagged)", None, msg)[0] == "OK"
        m.logout()
        j = Jmap(srv(), *user)
        _ids[user] = j.account
        for name, mid in mailbox_ids(user).items():
            _ids[(user, name)] = mid
    return _ids


def emails_in(user, acc, mailbox):
    _, r = call(Jmap(srv(), *user), "Email/query",
                {"accountId": acc, "filter": {"inMailbox": mailbox}})
    return r["ids"]


def fresh(owner, mailbox, subject):
    """A new message, seen and flagged, in owner's mailbox: its id."""
    m = imap(owner)
    msg = b"From: a@remote.test\r\nSubject: %s\r\n\r\nbody of %s\r\n" % (
        subject.encode(), subject.encode())
    assert m.append(mailbox, r"(\Seen \Flagged)", None, msg)[0] == "OK"
    m.logout()
    ids = setup()
    j = Jmap(srv(), *owner)
    _, r = call(j, "Email/query", {"accountId": ids[owner],
                                    "filter": {"inMailbox": ids[(owner, mailbox)],
                                               "subject": subject}})
    assert len(r["ids"]) == 1, r
    return r["ids"][0]


def get(user, acc, eid, props=("mailboxIds", "keywords", "blobId", "subject", "receivedAt")):
    _, r = call(Jmap(srv(), *user), "Email/get",
                {"accountId": acc, "ids": [eid], "properties": list(props)})
    return r["list"][0] if r["list"] else None


def copy(user, frm, to, create, **kw):
    args = {"fromAccountId": frm, "accountId": to, "create": create}
    args.update(kw)
    return Jmap(srv(), *user).call([["Email/copy", args, "c"]])["methodResponses"]


def test_copy_out_of_a_shared_account_needs_read():
    ids = setup()
    bob, carol = ids[BOB], ids[CAROL]
    src = fresh(BOB, "Team", "out of team")
    private = emails_in(BOB, bob, ids[(BOB, "Private")])[0]
    keep = ids[(CAROL, "Keep")]
    grant(BOB, "Team", CAROL[0], "l")
    try:
        # "l" alone: the email is not there for Carol, as one that never
        # existed and one in the unshared Private.
        r = copy(CAROL, bob, carol, {
            "a": {"id": src, "mailboxIds": {keep: True}},
            "b": {"id": private, "mailboxIds": {keep: True}},
            "c": {"id": "Effffff0", "mailboxIds": {keep: True}}})
        assert r[0][0] == "Email/copy", r
        res = r[0][1]
        assert res["fromAccountId"] == bob and res["accountId"] == carol, res
        assert res["created"] is None, res
        assert {k: v["type"] for k, v in res["notCreated"].items()} == {
            "a": "notFound", "b": "notFound", "c": "notFound"}, res
        assert (res["notCreated"]["a"]["description"] ==
                res["notCreated"]["c"]["description"]), res

        grant(BOB, "Team", CAROL[0], "lr")
        before = get(CAROL, bob, src)
        r = copy(CAROL, bob, carol, {"a": {"id": src, "mailboxIds": {keep: True}},
                                      "b": {"id": private, "mailboxIds": {keep: True}}})
        res = r[0][1]
        assert list(res["created"]) == ["a"], res
        assert res["notCreated"]["b"]["type"] == "notFound", res
        made = res["created"]["a"]
        assert made["id"] != src and made["blobId"] == before["blobId"], (made, before)
        # Carol's own account: every flag kept (her rights there are all).
        assert made["keywords"] == {"$seen": True, "$flagged": True}, made
        mine = get(CAROL, carol, made["id"])
        assert mine["mailboxIds"] == {keep: True}, mine
        assert mine["subject"] == "out of team" and mine["receivedAt"] == before["receivedAt"]
        # The states moved in Carol's account only; Bob's email is there.
        assert res["oldState"] != res["newState"], res
        assert get(BOB, bob, src)["mailboxIds"] == {ids[(BOB, "Team")]: True}
    finally:
        grant(BOB, "Team", CAROL[0], "")


def test_copy_into_a_shared_account_needs_insert():
    ids = setup()
    bob, carol = ids[BOB], ids[CAROL]
    team = ids[(BOB, "Team")]
    src = fresh(CAROL, "Keep", "into team")
    grant(BOB, "Team", CAROL[0], "lr")
    try:
        r = copy(CAROL, carol, bob, {"a": {"id": src, "mailboxIds": {team: True}}})
        res = r[0][1]
        assert res["created"] is None and res["notCreated"]["a"]["type"] == "forbidden", res
        assert res["notCreated"]["a"]["properties"] == ["mailboxIds"], res
        # A mailbox Carol does not see is no mailbox for her.
        grant(BOB, "Team", CAROL[0], "lri")
        r = copy(CAROL, carol, bob, {"a": {"id": src,
                                            "mailboxIds": {ids[(BOB, "Private")]: True}}})
        assert r[0][1]["notCreated"]["a"]["type"] == "invalidProperties", r

        # "i" alone: copied, no flag kept (neither "s" nor "w").
        r = copy(CAROL, carol, bob, {"a": {"id": src, "mailboxIds": {team: True}}})
        made = r[0][1]["created"]["a"]
        assert made["keywords"] == {}, made
        got = get(BOB, bob, made["id"])
        assert got["mailboxIds"] == {team: True} and got["keywords"] == {}, got
        # "s": $seen kept, $flagged not.
        grant(BOB, "Team", CAROL[0], "lris")
        r = copy(CAROL, carol, bob, {"a": {"id": src, "mailboxIds": {team: True}}})
        made = r[0][1]["created"]["a"]
        assert get(BOB, bob, made["id"])["keywords"] == {"$seen": True}, made
        # Keywords given replace the source's, cut the same way; and
        # receivedAt may be given.
        grant(BOB, "Team", CAROL[0], "lriw")
        r = copy(CAROL, carol, bob, {"a": {
            "id": src, "mailboxIds": {team: True},
            "keywords": {"$seen": True, "$answered": True},
            "receivedAt": "2020-01-02T03:04:05Z"}})
        made = r[0][1]["created"]["a"]
        got = get(BOB, bob, made["id"])
        assert got["keywords"] == {"$answered": True}, got
        assert got["receivedAt"] == "2020-01-02T03:04:05Z", got
        # Another property is not Email/copy's to set.
        r = copy(CAROL, carol, bob, {"a": {"id": src, "mailboxIds": {team: True},
                                            "subject": "x"}})
        bad = r[0][1]["notCreated"]["a"]
        assert bad["type"] == "invalidProperties" and bad["properties"] == ["subject"], bad
        # Carol's original is untouched.
        assert get(CAROL, carol, src)["keywords"] == {"$seen": True, "$flagged": True}
    finally:
        grant(BOB, "Team", CAROL[0], "")


def test_copy_never_carries_imap_deleted():
    """\\Deleted is an IMAP membership's mark, no JMAP keyword (RFC 8621
    section 4.1.1 has none for it): an Email/copy of a message Bob's
    IMAP client marked \\Deleted is a new email with the keywords shown,
    never marked for the next EXPUNGE in the target, where Carol's JMAP
    client could neither see nor clear the mark."""
    ids = setup()
    bob, carol = ids[BOB], ids[CAROL]
    keep = ids[(CAROL, "Keep")]
    src = fresh(BOB, "Team", "deleted in team")
    m = imap(BOB)
    assert m.select("Team")[0] == "OK"
    _, found = m.uid("SEARCH", None, "SUBJECT", '"deleted in team"')
    assert len(found[0].split()) == 1, found
    assert m.uid("STORE", found[0], "+FLAGS", r"(\Deleted)")[0] == "OK"
    m.logout()
    grant(BOB, "Team", CAROL[0], "lr")
    try:
        r = copy(CAROL, bob, carol, {"a": {"id": src, "mailboxIds": {keep: True}}})
        made = r[0][1]["created"]["a"]
        assert made["keywords"] == {"$seen": True, "$flagged": True}, made
        m = imap(CAROL)
        assert m.select("Keep")[0] == "OK"
        _, found = m.uid("SEARCH", None, "SUBJECT", '"deleted in team"')
        assert len(found[0].split()) == 1, found
        _, flags = m.uid("FETCH", found[0], "(FLAGS)")
        assert b"\\Deleted" not in flags[0] and b"\\Seen" in flags[0], flags
        m.logout()
    finally:
        grant(BOB, "Team", CAROL[0], "")


def test_copy_into_several_mailboxes():
    """mailboxIds naming two target mailboxes: one email in both (the
    copy, then a membership, as Email/import adds them), each needing
    "i"; the keywords are cut to what every target allows."""
    ids = setup()
    bob, carol = ids[BOB], ids[CAROL]
    src = fresh(CAROL, "Keep", "two targets")
    team, private = ids[(BOB, "Team")], ids[(BOB, "Private")]
    grant(BOB, "Team", CAROL[0], "lris")
    grant(BOB, "Private", CAROL[0], "lri")
    try:
        r = copy(CAROL, carol, bob, {"a": {"id": src,
                                            "mailboxIds": {team: True, private: True}}})
        made = r[0][1]["created"]["a"]
        got = get(BOB, bob, made["id"])
        assert got["mailboxIds"] == {team: True, private: True}, got
        assert got["keywords"] == {} and made["keywords"] == {}, (got, made)
        # Private without "i": nothing copied at all.
        grant(BOB, "Private", CAROL[0], "lr")
        before = emails_in(BOB, bob, team)
        r = copy(CAROL, carol, bob, {"a": {"id": src,
                                            "mailboxIds": {team: True, private: True}}})
        assert r[0][1]["notCreated"]["a"]["type"] == "forbidden", r
        assert emails_in(BOB, bob, team) == before, r
    finally:
        grant(BOB, "Team", CAROL[0], "")
        grant(BOB, "Private", CAROL[0], "")


def test_copy_between_two_shared_accounts():
    ids = setup()
    bob, dave = ids[BOB], ids[DAVE]
    src = fresh(BOB, "Team", "bob to dave")
    drop = ids[(DAVE, "Drop")]
    grant(BOB, "Team", CAROL[0], "lr")
    grant(DAVE, "Drop", CAROL[0], "lis")
    try:
        r = copy(CAROL, bob, dave, {"a": {"id": src, "mailboxIds": {drop: True}}})
        res = r[0][1]
        assert res["fromAccountId"] == bob and res["accountId"] == dave, res
        made = res["created"]["a"]
        got = get(DAVE, dave, made["id"])
        assert got["mailboxIds"] == {drop: True} and got["keywords"] == {"$seen": True}, got
        assert got["subject"] == "bob to dave", got
        # Dave shares nothing with Bob: not Bob's account to copy from.
        r = Jmap(srv(), *BOB).call([["Email/copy", {
            "fromAccountId": dave, "accountId": bob,
            "create": {"a": {"id": made["id"], "mailboxIds": {ids[(BOB, "Team")]: True}}}},
            "c"]])["methodResponses"]
        assert r[0][0] == "error" and r[0][1]["type"] == "fromAccountNotFound", r
        # An account to itself is not a copy (RFC 8620 section 5.4).
        r = copy(CAROL, bob, bob, {"a": {"id": src, "mailboxIds": {ids[(BOB, "Team")]: True}}})
        assert r[0][0] == "error" and r[0][1]["type"] == "invalidArguments", r
    finally:
        grant(BOB, "Team", CAROL[0], "")
        grant(DAVE, "Drop", CAROL[0], "")


def test_on_success_destroy_original_needs_remove_rights():
    ids = setup()
    bob, carol = ids[BOB], ids[CAROL]
    keep = ids[(CAROL, "Keep")]
    src = fresh(BOB, "Team", "to move")
    grant(BOB, "Team", CAROL[0], "lr")
    try:
        r = copy(CAROL, bob, carol, {"a": {"id": src, "mailboxIds": {keep: True}}},
                 onSuccessDestroyOriginal=True)
        assert [x[0] for x in r] == ["Email/copy", "Email/set"], r
        assert r[0][1]["created"]["a"] and r[1][2] == "c", r
        st = r[1][1]
        assert st["accountId"] == bob and not st["destroyed"], st
        assert st["notDestroyed"][src]["type"] == "forbidden", st
        assert get(BOB, bob, src) is not None

        grant(BOB, "Team", CAROL[0], "lrte")
        _, g = call(Jmap(srv(), *CAROL), "Email/get", {"accountId": bob, "ids": []})
        # destroyFromIfInState is the implicit Email/set's ifInState.
        r = copy(CAROL, bob, carol, {"a": {"id": src, "mailboxIds": {keep: True}}},
                 onSuccessDestroyOriginal=True, destroyFromIfInState="1")
        assert [x[0] for x in r] == ["Email/copy", "error"], r
        assert r[1][1]["type"] == "stateMismatch", r
        assert get(BOB, bob, src) is not None
        r = copy(CAROL, bob, carol, {"a": {"id": src, "mailboxIds": {keep: True}}},
                 onSuccessDestroyOriginal=True, destroyFromIfInState=g["state"])
        assert [x[0] for x in r] == ["Email/copy", "Email/set"], r
        assert r[1][1]["destroyed"] == [src], r
        assert get(BOB, bob, src) is None
        assert get(CAROL, carol, r[0][1]["created"]["a"]["id"])["subject"] == "to move"
        # Nothing copied: no implicit call.
        r = copy(CAROL, bob, carol, {"a": {"id": src, "mailboxIds": {keep: True}}},
                 onSuccessDestroyOriginal=True)
        assert [x[0] for x in r] == ["Email/copy"], r
    finally:
        grant(BOB, "Team", CAROL[0], "")


def test_copy_states_checked():
    ids = setup()
    bob, carol = ids[BOB], ids[CAROL]
    keep = ids[(CAROL, "Keep")]
    src = fresh(BOB, "Team", "states")
    grant(BOB, "Team", CAROL[0], "lr")
    try:
        _, g = call(Jmap(srv(), *CAROL), "Email/get", {"accountId": bob, "ids": []})
        _, mine = call(Jmap(srv(), *CAROL), "Email/get", {"accountId": carol, "ids": []})
        create = {"a": {"id": src, "mailboxIds": {keep: True}}}
        r = copy(CAROL, bob, carol, create, ifFromInState="1")
        assert r[0][0] == "error" and r[0][1]["type"] == "stateMismatch", r
        r = copy(CAROL, bob, carol, create, ifInState="1")
        assert r[0][0] == "error" and r[0][1]["type"] == "stateMismatch", r
        r = copy(CAROL, bob, carol, create, ifFromInState=g["state"], ifInState=mine["state"])
        assert r[0][0] == "Email/copy" and r[0][1]["created"]["a"], r
        assert r[0][1]["oldState"] == mine["state"], r
    finally:
        grant(BOB, "Team", CAROL[0], "")


def test_copy_charged_to_the_target_quota():
    ids = setup()
    s = srv()
    s.cli("account", "add", EVE[0], "--quota", "2K", input=EVE[1] + "\n")
    m = imap(EVE)
    assert m.create("Box")[0] == "OK"
    m.logout()
    eve = Jmap(s, *EVE).account
    box = mailbox_ids(EVE)["Box"]
    small = fresh(CAROL, "Keep", "small one")
    m = imap(CAROL)
    big = b"From: a@remote.test\r\nSubject: big one\r\n\r\n" + b"x" * 4000 + b"\r\n"
    assert m.append("Keep", None, None, big)[0] == "OK"
    m.logout()
    _, q = Jmap(s, *CAROL).one("Email/query", {"filter": {"subject": "big one"}})
    grant(EVE, "Box", CAROL[0], "lri")
    try:
        r = copy(CAROL, ids[CAROL], eve, {"big": {"id": q["ids"][0], "mailboxIds": {box: True}},
                                           "small": {"id": small, "mailboxIds": {box: True}}})
        res = r[0][1]
        assert res["notCreated"]["big"]["type"] == "overQuota", res
        assert list(res["created"]) == ["small"], res
        _, own = Jmap(s, *EVE).one("Email/query", {"filter": {"inMailbox": box}})
        assert own["ids"] == [res["created"]["small"]["id"]], own
    finally:
        grant(EVE, "Box", CAROL[0], "")


def test_blob_copy_between_accounts():
    ids = setup()
    bob, carol = ids[BOB], ids[CAROL]
    src = fresh(BOB, "Team", "blob of team")
    private = emails_in(BOB, bob, ids[(BOB, "Private")])[0]
    blob = get(BOB, bob, src)["blobId"]
    pblob = get(BOB, bob, private)["blobId"]
    j = Jmap(srv(), *CAROL)

    def blob_copy(frm, to, blob_ids):
        r = j.call([["Blob/copy", {"fromAccountId": frm, "accountId": to, "blobIds": blob_ids},
                     "c"]])["methodResponses"]
        assert r[0][0] == "Blob/copy", r
        return r[0][1]
    grant(BOB, "Team", CAROL[0], "l")
    try:
        # Carol cannot read it in her account, nor copy it without "r".
        res = blob_copy(carol, carol, [blob])
        # RFC 8620 section 6.3: a blob not found is "notFound".
        assert res["notCopied"][blob]["type"] == "notFound", res
        res = blob_copy(bob, carol, [blob, pblob])
        assert res["copied"] is None and set(res["notCopied"]) == {blob, pblob}, res
        grant(BOB, "Team", CAROL[0], "lr")
        res = blob_copy(bob, carol, [blob, pblob])
        assert res["copied"] == {blob: blob}, res
        assert res["notCopied"][pblob]["type"] == "notFound", res
        # Now Carol's: importable in her own account.
        _, r = j.one("Email/import", {"emails": {"i": {
            "blobId": blob, "mailboxIds": {ids[(CAROL, "Keep")]: True}}}})
        assert r["created"]["i"]["blobId"] == blob, r
    finally:
        grant(BOB, "Team", CAROL[0], "")


def test_blob_copy_into_a_shared_account_needs_i():
    """A Blob/copy into a shared account stores an upload there, so it
    needs "i" on a mailbox of it, as Blob/upload and the upload URL do;
    with "lr" alone Carol's own blob was copied into Bob's account and
    downloadable there (notCopied forbidden now, nothing stored)."""
    ids = setup()
    bob, carol = ids[BOB], ids[CAROL]
    j = Jmap(srv(), *CAROL)
    data = b"carol's bytes for bob's account"
    st, _, body = j.request("POST", "/jmap/upload/%s/" % carol, data)
    assert st == 201, (st, body)
    blob = body["blobId"]

    def blob_copy():
        r = j.call([["Blob/copy", {"fromAccountId": carol, "accountId": bob,
                                   "blobIds": [blob]}, "c"]])["methodResponses"]
        assert r[0][0] == "Blob/copy", r
        return r[0][1]

    def download():
        return j.request("GET", "/jmap/download/%s/%s/x.bin" % (bob, blob))[0]
    grant(BOB, "Team", CAROL[0], "lr")
    try:
        res = blob_copy()
        assert res["copied"] is None, res
        assert res["notCopied"][blob]["type"] == "forbidden", res
        assert download() == 404
        grant(BOB, "Team", CAROL[0], "lri")
        res = blob_copy()
        assert res["copied"] == {blob: blob}, res
        assert download() == 200
    finally:
        grant(BOB, "Team", CAROL[0], "")


def _pairs_once(pairs):
    """json.loads' object_pairs_hook: a member name twice is an error
    (RFC 8259 section 4: names SHOULD be unique; a client keeps one)."""
    names = [k for k, _ in pairs]
    assert len(names) == len(set(names)), names
    return dict(pairs)


def test_blob_copy_names_each_blob_once():
    """blobIds naming a blob twice: copied and notCopied are maps keyed
    by blobId (RFC 8620 section 6.3), so each blob is answered once, as
    /get answers a repeated id once (RFC 8620 section 5.1); the response
    held the same member name twice."""
    ids = setup()
    bob, carol = ids[BOB], ids[CAROL]
    src = fresh(BOB, "Team", "blob twice")
    blob = get(BOB, bob, src)["blobId"]
    missing = "B" + "4" * 64
    j = Jmap(srv(), *CAROL)
    grant(BOB, "Team", CAROL[0], "lr")
    try:
        body = json.dumps({"using": [jmapc.CORE], "methodCalls": [[
            "Blob/copy", {"fromAccountId": bob, "accountId": carol,
                          "blobIds": [blob, missing, blob, missing]}, "c"]]})
        c = http.client.HTTPSConnection("127.0.0.1", srv().https_port, timeout=30,
                                        context=jmapc._ctx())
        try:
            c.request("POST", "/jmap/api/", body=body,
                      headers=j.headers({"Content-Type": "application/json"}))
            r = c.getresponse()
            st, data = r.status, r.read()
        finally:
            c.close()
        assert st == 200, (st, data)
        res = json.loads(data, object_pairs_hook=_pairs_once)["methodResponses"][0]
        assert res[0] == "Blob/copy", res
        assert res[1]["copied"] == {blob: blob}, res
        assert res[1]["notCopied"] == {missing: {"type": "notFound"}}, res
    finally:
        grant(BOB, "Team", CAROL[0], "")
