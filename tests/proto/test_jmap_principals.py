"""JMAP Sharing (RFC 9670): the principals capability in the session,
Principal/get, /changes, /query, /queryChanges and /set (forbidden), a
Mailbox's shareWith (read with "a", written by Mailbox/set through the
same grants IMAP's SETACL writes, so IMAP MYRIGHTS and GETACL agree),
myRights.mayShare, and ShareNotification/get, /changes, /set, /query
and /queryChanges: one for each change of a grant given to the user,
whoever made it (JMAP, IMAP SETACL, `tern acl`), told by push. Bob owns
the mailboxes; Carol and Dave are of his domain, Erin of another. One
server for the module."""
from jmapc import CORE, MAIL, Jmap, shared_server
from test_imap import login

PRINCIPALS = "urn:ietf:params:jmap:principals"
OWNER = "urn:ietf:params:jmap:principals:owner"
U = (CORE, MAIL, PRINCIPALS)

BOB = ("bob@example.test", "bob-password-1Xy")
CAROL = ("carol@example.test", "carol-password-2Zq")
DAVE = ("dave@example.test", "dave-password-3Wr")
ERIN = ("erin@other.test", "erin-password-4Vs")

_made = {}


def srv():
    return shared_server([BOB, CAROL, DAVE, ERIN], domains=("example.test", "other.test"))


def imap(user):
    return login(srv(), user=user[0], pw=user[1])


def pid(j):
    """A user's principal id: "P" and its account number."""
    return "P" + j.account[1:]


def call(j, method, args, using=U):
    a = dict(args)
    a.setdefault("accountId", j.account)
    r = j.call([[method, a, "c"]], using)["methodResponses"]
    assert len(r) == 1, r
    return r[0][0], r[0][1]


def mailbox(name):
    """Bob's mailbox name (made once over IMAP): its JMAP id."""
    if name not in _made:
        m = imap(BOB)
        assert m.create(name)[0] == "OK"
        m.logout()
        _, r = call(Jmap(srv(), *BOB), "Mailbox/get", {"ids": None, "properties": ["name"]})
        _made[name] = [b["id"] for b in r["list"] if b["name"] == name][0]
    return _made[name]


def share(mbid, patch):
    """Bob's Mailbox/set update of one mailbox: the (name, args)."""
    return call(Jmap(srv(), *BOB), "Mailbox/set", {"update": {mbid: patch}})


def myrights(user, name):
    m = imap(user)
    try:
        typ, data = m.myrights('"Shared/%s/%s"' % (BOB[0], name))
        assert typ == "OK", data
        return data[0].decode().rsplit(" ", 1)[1].strip('"')
    finally:
        m.logout()


def rights(**on):
    names = ("mayReadItems", "mayAddItems", "mayRemoveItems", "maySetSeen", "maySetKeywords",
             "mayCreateChild", "mayRename", "mayDelete", "maySubmit", "mayShare")
    return {n: bool(on.get(n)) for n in names}


def test_session_names_the_principals():
    j = Jmap(srv(), *CAROL)
    s = j.session()
    assert s["capabilities"][PRINCIPALS] == {}, s["capabilities"]
    assert s["primaryAccounts"][PRINCIPALS] == j.account, s["primaryAccounts"]
    caps = s["accounts"][j.account]["accountCapabilities"]
    assert caps[PRINCIPALS] == {"currentUserPrincipalId": pid(j)}, caps
    assert caps[OWNER] == {"accountIdForPrincipal": j.account, "principalId": pid(j)}, caps
    # Without the capability in "using", the methods are unknown.
    name, r = call(j, "Principal/get", {"ids": None}, using=(CORE, MAIL))
    assert name == "error" and r["type"] == "unknownMethod", (name, r)


def test_principals_a_user_sees():
    s = srv()
    bob, carol, dave, erin = (Jmap(s, *u) for u in (BOB, CAROL, DAVE, ERIN))
    name, r = call(bob, "Principal/get", {"ids": None})
    assert name == "Principal/get", r
    got = {p["id"]: p for p in r["list"]}
    # His domain's accounts, himself included; Erin's domain is not his.
    assert set(got) == {pid(bob), pid(carol), pid(dave)}, got
    me = got[pid(bob)]
    assert me["type"] == "individual" and me["email"] == BOB[0] and me["name"] == BOB[0], me
    assert me["description"] is None and me["timeZone"] is None and me["capabilities"] == {}
    assert list(me["accounts"]) == [bob.account], me
    assert me["accounts"][bob.account]["isPersonal"] is True, me
    assert got[pid(carol)]["accounts"] is None, got
    # Erin sees herself alone; Bob's id is not found for her.
    _, r = call(erin, "Principal/get", {"ids": [pid(erin), pid(bob)], "properties": ["email"]})
    assert r["list"] == [{"id": pid(erin), "email": ERIN[0]}], r
    assert r["notFound"] == [pid(bob)], r
    _, q = call(bob, "Principal/query", {"filter": {"email": "CAROL@"}})
    assert q["ids"] == [pid(carol)] and q["canCalculateChanges"] is False, q
    _, q = call(bob, "Principal/query", {"filter": {"operator": "OR", "conditions": [
        {"text": "dave"}, {"accountIds": [bob.account]}]}, "sort": [
        {"property": "email", "isAscending": False}], "calculateTotal": True})
    assert q["ids"] == [pid(dave), pid(bob)] and q["total"] == 2, q
    _, q = call(bob, "Principal/query", {"filter": {"type": "group"}})
    assert q["ids"] == [], q
    name, r = call(bob, "Principal/query", {"filter": {"nope": "x"}})
    assert name == "error" and r["type"] == "unsupportedFilter", (name, r)
    name, r = call(bob, "Principal/queryChanges", {"sinceQueryState": q["queryState"]})
    assert name == "error" and r["type"] == "cannotCalculateChanges", (name, r)
    # RFC 9670 §3.3: every change refused with a forbidden SetError, in
    # a standard /set answer; an id Bob cannot see is notFound.
    _, st = call(bob, "Principal/get", {"ids": []})
    name, r = call(bob, "Principal/set", {
        "ifInState": st["state"], "destroy": [pid(carol), pid(erin)],
        "update": {pid(bob): {"name": "Bobby"}}, "create": {"k": {"name": "x"}}})
    assert name == "Principal/set", (name, r)
    assert r["oldState"] == r["newState"] == st["state"], r
    assert r["notDestroyed"][pid(carol)]["type"] == "forbidden", r
    assert r["notDestroyed"][pid(erin)]["type"] == "notFound", r
    assert r["notUpdated"][pid(bob)]["type"] == "forbidden", r
    assert r["notCreated"]["k"]["type"] == "forbidden", r
    assert not r["destroyed"] and not r["updated"] and not r["created"], r
    name, r = call(bob, "Principal/set", {"ifInState": "0", "destroy": [pid(carol)]})
    assert name == "error" and r["type"] == "stateMismatch", (name, r)

    # A share from Bob brings him into Erin's principals, with the
    # account she now has of his; /changes says so.
    _, before = call(erin, "Principal/get", {"ids": []})
    mb = mailbox("ForErin")
    s.cli("acl", "set", BOB[0], "ForErin", ERIN[0], "lr")
    try:
        _, r = call(erin, "Principal/get", {"ids": [pid(bob)]})
        acc = r["list"][0]["accounts"]
        assert list(acc) == [bob.account] and acc[bob.account]["isPersonal"] is False, r
        sess = erin.session()["accounts"][bob.account]["accountCapabilities"][OWNER]
        assert sess == {"accountIdForPrincipal": erin.account, "principalId": pid(bob)}, sess
        name, ch = call(erin, "Principal/changes", {"sinceState": before["state"]})
        assert name == "Principal/changes", ch
        assert ch["created"] == [pid(bob)] and ch["updated"] == [] and ch["destroyed"] == [], ch
    finally:
        s.cli("acl", "del", BOB[0], "ForErin", ERIN[0])
    assert mb


def test_share_with_writes_the_grants():
    s = srv()
    bob, carol, dave = (Jmap(s, *u) for u in (BOB, CAROL, DAVE))
    mb = mailbox("Proj")
    _, r = call(bob, "Mailbox/get", {"ids": [mb], "properties": ["shareWith", "myRights"]})
    assert r["list"][0]["shareWith"] == {}, r
    assert r["list"][0]["myRights"]["mayShare"] is True, r
    try:
        # One principal's rights: Carol reads; IMAP agrees.
        name, r = share(mb, {"shareWith/" + pid(carol): {"mayReadItems": True}})
        assert name == "Mailbox/set" and list(r["updated"]) == [mb], r
        assert myrights(CAROL, "Proj") == "lr"
        assert bob.account in carol.session()["accounts"]
        # One right added.
        _, r = share(mb, {"shareWith/%s/mayAddItems" % pid(carol): True})
        assert list(r["updated"]) == [mb], r
        assert myrights(CAROL, "Proj") == "lri"
        _, r = call(bob, "Mailbox/get", {"ids": [mb], "properties": ["shareWith"]})
        assert r["list"][0]["shareWith"] == {
            pid(carol): rights(mayReadItems=True, mayAddItems=True)}, r
        m = imap(BOB)
        typ, data = m.getacl("Proj")
        m.logout()
        assert typ == "OK" and b'"%s" "lri"' % CAROL[0].encode() in data[0], data

        # Carol, without "a": shareWith is not hers to see.
        _, r = call(carol, "Mailbox/get", {"accountId": bob.account, "ids": [mb],
                                           "properties": ["shareWith", "myRights"]})
        assert r["list"][0]["shareWith"] is None, r
        assert r["list"][0]["myRights"]["mayShare"] is False, r
        # With "a" she sees it.
        _, r = share(mb, {"shareWith/%s/mayShare" % pid(carol): True})
        assert myrights(CAROL, "Proj") == "lria"
        _, r = call(carol, "Mailbox/get", {"accountId": bob.account, "ids": [mb],
                                           "properties": ["shareWith", "myRights"]})
        assert set(r["list"][0]["shareWith"]) == {pid(carol)}, r
        assert r["list"][0]["myRights"]["mayShare"] is True, r

        # The whole map: Carol, not named, loses hers; Dave gets his.
        _, r = share(mb, {"shareWith": {pid(dave): rights(mayReadItems=True, mayRename=True,
                                                          mayDelete=True)}})
        assert list(r["updated"]) == [mb], r
        assert myrights(DAVE, "Proj") == "lrxd"  # "d": RFC 4314 §2.1.1
        assert bob.account not in carol.session()["accounts"]

        # Refused, and nothing written: the owner, a bad right, an
        # unknown principal, a name change in the same update.
        for patch in ({"shareWith/" + pid(bob): rights(mayReadItems=True)},
                      {"shareWith/%s/mayFly" % pid(dave): True},
                      {"shareWith/P7ffffff0": {"mayReadItems": True}},
                      {"shareWith/" + pid(dave): {"mayReadItems": 1}},
                      {"shareWith/" + pid(carol): {"mayReadItems": True}, "name": "a/b"},
                      # mayRename and mayDelete are one letter ("x"):
                      # rights that would read back otherwise than asked.
                      {"shareWith/" + pid(carol): rights(mayReadItems=True, mayRename=True)},
                      {"shareWith": {pid(dave): rights(mayReadItems=True, mayDelete=True)}},
                      {"shareWith/%s/mayDelete" % pid(dave): False},
                      {"shareWith/%s/mayRename" % pid(dave): False,
                       "shareWith/%s/mayDelete" % pid(dave): True}):
            _, r = share(mb, patch)
            assert r["notUpdated"][mb]["type"] == "invalidProperties", (patch, r)
        # RFC 8620 §5.3: no path may be the prefix of another's.
        for patch in ({"shareWith": {pid(carol): rights(mayReadItems=True)},
                       "shareWith/%s/mayRename" % pid(dave): False},
                      {"shareWith/" + pid(carol): rights(mayReadItems=True),
                       "shareWith/%s/mayAddItems" % pid(carol): True}):
            _, r = share(mb, patch)
            assert r["notUpdated"][mb]["type"] == "invalidPatch", (patch, r)
        assert myrights(DAVE, "Proj") == "lrxd"  # "d": RFC 4314 §2.1.1
        m = imap(BOB)
        typ, data = m.getacl("Proj")
        m.logout()
        assert CAROL[0].encode() not in data[0], data
        # Both names of "x" at once: taken away together.
        _, r = share(mb, {"shareWith/%s/mayRename" % pid(dave): False,
                          "shareWith/%s/mayDelete" % pid(dave): False})
        assert list(r["updated"]) == [mb], r
        assert myrights(DAVE, "Proj") == "lr"
        # null removes a grant.
        _, r = share(mb, {"shareWith/" + pid(dave): None})
        assert list(r["updated"]) == [mb], r
        _, r = call(bob, "Mailbox/get", {"ids": [mb], "properties": ["shareWith"]})
        assert r["list"][0]["shareWith"] == {}, r
    finally:
        for u in (CAROL, DAVE):
            s.cli("acl", "del", BOB[0], "Proj", u[0], check=False)


def notes(j, **args):
    _, r = call(j, "ShareNotification/get", dict({"ids": None}, **args))
    return r


def test_share_notifications():
    s = srv()
    bob, dave = Jmap(s, *BOB), Jmap(s, *DAVE)
    mb = mailbox("Notes")
    start = notes(dave)
    seen = {n["id"] for n in start["list"]}
    try:
        # IMAP SETACL by the owner.
        m = imap(BOB)
        assert m.setacl("Notes", DAVE[0], "lrs")[0] == "OK"
        m.logout()
        r = notes(dave)
        new = [n for n in r["list"] if n["id"] not in seen]
        assert len(new) == 1, r
        n = new[0]
        assert n["changedBy"] == {"name": BOB[0], "email": BOB[0], "principalId": pid(bob)}, n
        assert n["objectType"] == "Mailbox" and n["objectAccountId"] == bob.account, n
        assert n["objectId"] == mb and n["name"] == "Notes", n
        assert n["oldRights"] is None, n
        assert n["newRights"] == rights(mayReadItems=True, maySetSeen=True), n
        assert n["created"].endswith("Z"), n
        name, ch = call(dave, "ShareNotification/changes", {"sinceState": start["state"]})
        assert name == "ShareNotification/changes" and ch["created"] == [n["id"]], ch

        # `tern acl` (an administrator) and JMAP's shareWith make theirs.
        s.cli("acl", "set", BOB[0], "Notes", DAVE[0], "+i")
        share(mb, {"shareWith/" + pid(dave): None})
        r = notes(dave)
        new = [x for x in r["list"] if x["id"] not in seen]
        assert len(new) == 3, r
        admin, jm = new[1], new[2]
        assert admin["changedBy"] == {"name": "Administrator", "email": None,
                                      "principalId": None}, admin
        assert admin["newRights"] == rights(mayReadItems=True, maySetSeen=True,
                                            mayAddItems=True), admin
        assert jm["changedBy"]["principalId"] == pid(bob), jm
        assert jm["oldRights"] == admin["newRights"] and jm["newRights"] is None, jm
        # The same rights again make none.
        s.cli("acl", "del", BOB[0], "Notes", DAVE[0], check=False)
        assert len(notes(dave)["list"]) == len(r["list"])

        # Query: newest first, by owner; a bad sort refused.
        _, q = call(dave, "ShareNotification/query", {
            "filter": {"objectAccountId": bob.account, "after": "2000-01-01T00:00:00Z"},
            "sort": [{"property": "created", "isAscending": False}]})
        assert q["ids"][:3] == [jm["id"], admin["id"], n["id"]], q
        # RFC 9670: after and before are UTCDate|null; null bounds nothing.
        name, q2 = call(dave, "ShareNotification/query", {
            "filter": {"objectAccountId": bob.account, "after": None, "before": None},
            "sort": [{"property": "created", "isAscending": False}]})
        assert name == "ShareNotification/query" and q2["ids"] == q["ids"], (name, q2)
        name, e = call(dave, "ShareNotification/query", {"filter": {"after": 5}})
        assert name == "error" and e["type"] == "invalidArguments", (name, e)
        name, e = call(dave, "ShareNotification/query", {"sort": [{"property": "name"}]})
        assert name == "error" and e["type"] == "unsupportedSort", (name, e)
        name, e = call(dave, "ShareNotification/queryChanges",
                       {"sinceQueryState": q["queryState"]})
        assert name == "error" and e["type"] == "cannotCalculateChanges", (name, e)

        # Set: destroy only.
        name, r = call(dave, "ShareNotification/set", {
            "destroy": [n["id"], "N00000000000000ff"],
            "create": {"x": {"name": "mine"}}, "update": {admin["id"]: {"name": "y"}}})
        assert name == "ShareNotification/set", r
        assert r["destroyed"] == [n["id"]], r
        assert r["notDestroyed"]["N00000000000000ff"]["type"] == "notFound", r
        assert r["notCreated"]["x"]["type"] == "forbidden", r
        assert r["notUpdated"][admin["id"]]["type"] == "forbidden", r
        assert r["oldState"] != r["newState"], r
        _, g = call(dave, "ShareNotification/get", {"ids": [n["id"]]})
        assert g["notFound"] == [n["id"]], g
        # Bob, the owner, was told of none.
        assert notes(bob)["list"] == [], notes(bob)
    finally:
        s.cli("acl", "del", BOB[0], "Notes", DAVE[0], check=False)


def test_share_notification_names_who_changed_it():
    """changedBy's name is the changer's display name, as its Principal's
    name is; the address only when it has none."""
    s = srv()
    bob, carol = Jmap(s, *BOB), Jmap(s, *CAROL)
    mailbox("Named")
    seen = {n["id"] for n in notes(carol)["list"]}
    s.cli("account", "name", BOB[0], "Bob Builder")
    try:
        m = imap(BOB)
        assert m.setacl("Named", CAROL[0], "lr")[0] == "OK"
        m.logout()
        new = [n for n in notes(carol)["list"] if n["id"] not in seen]
        assert len(new) == 1, new
        _, p = call(carol, "Principal/get", {"ids": [pid(bob)], "properties": ["name"]})
        assert p["list"] == [{"id": pid(bob), "name": "Bob Builder"}], p
        assert new[0]["changedBy"] == {"name": "Bob Builder", "email": BOB[0],
                                       "principalId": pid(bob)}, new[0]
    finally:
        s.cli("account", "name", BOB[0], "")
        s.cli("acl", "del", BOB[0], "Named", CAROL[0], check=False)


def test_push_tells_a_share_notification():
    """A grant's change, by IMAP SETACL or `tern acl`, reaches the
    grantee's EventSource as a StateChange naming ShareNotification with
    /get's state."""
    from test_jmap_push import EventStream
    s = srv()
    carol = Jmap(s, *CAROL)
    mailbox("Pushed")
    e = EventStream(s, CAROL, "types=ShareNotification&closeafter=no&ping=0")
    try:
        assert e.status == 200, e.headers
        m = imap(BOB)
        assert m.setacl("Pushed", CAROL[0], "lr")[0] == "OK"
        m.logout()
        ev = e.event(30)
        assert ev["event"] == "state", ev
        _, g = call(carol, "ShareNotification/get", {"ids": []})
        assert ev["data"]["changed"] == {carol.account: {"ShareNotification": g["state"]}}, ev
        # `tern acl`, another process, is told through the store's note
        # of its changes (store_xchg.c) within about a second.
        s.cli("acl", "set", BOB[0], "Pushed", CAROL[0], "+s")
        ev = e.event(30)
        _, g2 = call(carol, "ShareNotification/get", {"ids": []})
        assert g2["state"] != g["state"], (g, g2)
        assert ev["data"]["changed"] == {carol.account: {"ShareNotification": g2["state"]}}, ev
    finally:
        e.close()
        s.cli("acl", "del", BOB[0], "Pushed", CAROL[0], check=False)


def test_account_removal_tells_the_owner():
    """Removing an account a mailbox was shared with takes its grant,
    and the owner's shareWith loses it: the owner's EventSource is told
    at once (RFC 8620 §7), a StateChange with its new Mailbox state,
    although the removal is another process's (`tern account del`, told
    through the store's note of its changes). The owner gets no
    ShareNotification: RFC 9670 §5's record a change of the user's own
    rights, and an owner's are implicit and did not change."""
    from test_jmap_push import EventStream
    s = srv()
    bob = Jmap(s, *BOB)
    mb = mailbox("Leaving")
    frank = ("frank@example.test", "frank-password-5Ut")
    s.cli("account", "add", frank[0], input=frank[1] + "\n")
    fid = [p for p in call(bob, "Principal/query", {})[1]["ids"]]
    _, g = call(bob, "Principal/get", {"ids": fid, "properties": ["email"]})
    frank_pid = [p["id"] for p in g["list"] if p["email"] == frank[0]][0]
    # JMAP's own write: told before its response, not later.
    _, r = share(mb, {"shareWith/" + frank_pid: {"mayReadItems": True}})
    assert list(r["updated"]) == [mb], r
    _, g = call(bob, "Mailbox/get", {"ids": [mb], "properties": ["shareWith"]})
    assert list(g["list"][0]["shareWith"]) == [frank_pid], g
    before = notes(bob)["list"]
    e = EventStream(s, BOB, "types=Mailbox&closeafter=no&ping=0")
    try:
        assert e.status == 200, e.headers
        s.cli("account", "del", frank[0])
        ev = e.event(30)
        assert ev["event"] == "state", ev
        _, g = call(bob, "Mailbox/get", {"ids": [mb], "properties": ["shareWith"]})
        assert g["list"][0]["shareWith"] == {}, g
        assert ev["data"]["changed"] == {bob.account: {"Mailbox": g["state"]}}, ev
        assert notes(bob)["list"] == before, notes(bob)
    finally:
        e.close()
        s.cli("account", "del", frank[0], check=False)


def test_delegate_setacl_names_the_delegate():
    """IMAP SETACL and DELETEACL by a delegate (a user given "a" on
    another's mailbox): the grantee's ShareNotification names the
    delegate who made the change (RFC 9670 §5, changedBy), as a
    delegate's Mailbox/set shareWith does, not the mailbox's owner."""
    s = srv()
    bob, carol, dave = (Jmap(s, *u) for u in (BOB, CAROL, DAVE))
    mailbox("Delegated")
    name = '"Shared/%s/Delegated"' % BOB[0]
    seen = {n["id"] for n in notes(dave)["list"]}
    try:
        s.cli("acl", "set", BOB[0], "Delegated", CAROL[0], "lra")
        m = imap(CAROL)
        try:
            typ, data = m.setacl(name, DAVE[0], "lrs")
            assert typ == "OK", data
            typ, data = m._simple_command("DELETEACL", name, DAVE[0])
            assert typ == "OK", data
        finally:
            m.logout()
        new = [n for n in notes(dave)["list"] if n["id"] not in seen]
        assert len(new) == 2, new
        want = {"name": CAROL[0], "email": CAROL[0], "principalId": pid(carol)}
        assert [n["changedBy"] for n in new] == [want, want], new
        assert new[0]["oldRights"] is None and new[1]["newRights"] is None, new
        assert new[0]["objectAccountId"] == bob.account, new
    finally:
        s.cli("acl", "del", BOB[0], "Delegated", CAROL[0], check=False)
        s.cli("acl", "del", BOB[0], "Delegated", DAVE[0], check=False)


def test_share_with_right_of_a_principal_not_in_it():
    """RFC 8620 §5.3: every part of a patch's path before the last must
    exist on the object. "shareWith/P…/mayX" for a principal not in
    shareWith patches nothing that is there: invalidPatch, nothing
    written; its whole rights object ("shareWith/P…") adds it."""
    s = srv()
    bob, carol = Jmap(s, *BOB), Jmap(s, *CAROL)
    mb = mailbox("Patched")
    try:
        for patch in ({"shareWith/%s/mayReadItems" % pid(carol): True},
                      {"shareWith/%s/mayAddItems" % pid(carol): False}):
            _, r = share(mb, patch)
            assert r["notUpdated"][mb]["type"] == "invalidPatch", (patch, r)
        _, g = call(bob, "Mailbox/get", {"ids": [mb], "properties": ["shareWith"]})
        assert g["list"][0]["shareWith"] == {}, g
        m = imap(BOB)
        typ, data = m.getacl("Patched")
        m.logout()
        assert typ == "OK" and CAROL[0].encode() not in data[0], data
        # Once she is in it, one right is a patch of what is there.
        _, r = share(mb, {"shareWith/" + pid(carol): {"mayReadItems": True}})
        assert list(r["updated"]) == [mb], r
        _, r = share(mb, {"shareWith/%s/mayAddItems" % pid(carol): True})
        assert list(r["updated"]) == [mb], r
        assert myrights(CAROL, "Patched") == "lri"
    finally:
        s.cli("acl", "del", BOB[0], "Patched", CAROL[0], check=False)


def test_share_with_only_principals_the_user_sees():
    """RFC 9670 §4: shareWith's keys are Principal ids. Bob does not see
    Erin's Principal (another domain, nothing shared with him), so her
    id is no principal for him: invalidProperties, told as an unknown
    id is, and nothing written. A grant an administrator gave her is in
    shareWith already: Bob may keep it in a whole map, or remove it."""
    s = srv()
    bob, erin = Jmap(s, *BOB), Jmap(s, *ERIN)
    mb = mailbox("Seen")
    _, r = call(bob, "Principal/get", {"ids": [pid(erin)]})
    assert r["notFound"] == [pid(erin)], r
    try:
        for patch in ({"shareWith/" + pid(erin): {"mayReadItems": True}},
                      {"shareWith": {pid(erin): rights(mayReadItems=True)}}):
            _, r = share(mb, patch)
            err = r["notUpdated"][mb]
            assert err["type"] == "invalidProperties", (patch, r)
            assert err["description"] == "no such principal", (patch, r)
        m = imap(BOB)
        typ, data = m.getacl("Seen")
        m.logout()
        assert typ == "OK" and ERIN[0].encode() not in data[0], data
        # Given by `tern acl`, she is in Bob's shareWith: his own map,
        # read and written back whole, keeps her; one right changes.
        s.cli("acl", "set", BOB[0], "Seen", ERIN[0], "lr")
        _, g = call(bob, "Mailbox/get", {"ids": [mb], "properties": ["shareWith"]})
        sw = g["list"][0]["shareWith"]
        assert list(sw) == [pid(erin)], g
        _, r = share(mb, {"shareWith": sw})
        assert list(r["updated"]) == [mb], r
        _, r = share(mb, {"shareWith/%s/maySetSeen" % pid(erin): True})
        assert list(r["updated"]) == [mb], r
        assert myrights(ERIN, "Seen") == "lrs"
        _, r = share(mb, {"shareWith/" + pid(erin): None})
        assert list(r["updated"]) == [mb], r
        _, g = call(bob, "Mailbox/get", {"ids": [mb], "properties": ["shareWith"]})
        assert g["list"][0]["shareWith"] == {}, g
    finally:
        s.cli("acl", "del", BOB[0], "Seen", ERIN[0], check=False)


def test_subscribing_takes_the_share_notifications():
    """RFC 9670 §5: "The server SHOULD automatically destroy a
    notification about an object if the user subscribes to that
    object." JMAP's isSubscribed true in the owner's account, and IMAP's
    SUBSCRIBE of the shared name, each take the user's notifications
    about that mailbox and leave the others; /changes tells them
    destroyed."""
    s = srv()
    bob, carol = Jmap(s, *BOB), Jmap(s, *CAROL)
    one, two = mailbox("SubOne"), mailbox("SubTwo")
    seen = {n["id"] for n in notes(carol)["list"]}
    try:
        s.cli("acl", "set", BOB[0], "SubOne", CAROL[0], "lr")
        s.cli("acl", "set", BOB[0], "SubOne", CAROL[0], "+s")
        s.cli("acl", "set", BOB[0], "SubTwo", CAROL[0], "lr")
        start = notes(carol)
        new = {n["id"]: n["objectId"] for n in start["list"] if n["id"] not in seen}
        assert sorted(new.values()) == sorted([one, one, two]), start
        # JMAP: SubOne's two go, SubTwo's stays.
        _, r = call(carol, "Mailbox/set", {"accountId": bob.account,
                                           "update": {one: {"isSubscribed": True}}})
        assert list(r["updated"]) == [one], r
        left = {n["id"]: n["objectId"] for n in notes(carol)["list"] if n["id"] in new}
        assert list(left.values()) == [two], left
        _, ch = call(carol, "ShareNotification/changes", {"sinceState": start["state"]})
        assert sorted(ch["destroyed"]) == sorted(i for i in new if new[i] == one), ch
        # IMAP: SUBSCRIBE of the shared name.
        m = imap(CAROL)
        try:
            typ, data = m.subscribe('"Shared/%s/SubTwo"' % BOB[0])
            assert typ == "OK", data
        finally:
            m.logout()
        assert [n for n in notes(carol)["list"] if n["id"] in new] == [], notes(carol)
    finally:
        s.cli("acl", "del", BOB[0], "SubOne", CAROL[0], check=False)
        s.cli("acl", "del", BOB[0], "SubTwo", CAROL[0], check=False)
        m = imap(CAROL)
        for name in ("SubOne", "SubTwo"):
            m.unsubscribe('"Shared/%s/%s"' % (BOB[0], name))
        m.logout()
