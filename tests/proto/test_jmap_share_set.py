"""Mailbox/set in a shared account (RFC 8621 section 2.5, RFC 8620
section 5.3), held to the rights IMAP's CREATE, DELETE and RENAME of a
"Shared/OWNER/NAME" name need (RFC 4314 section 4): a create needs "k" on
the parent (on the owner's INBOX at the top) and the new mailbox takes
the parent's grants; a rename "x" on the mailbox and "k" where it goes;
a destroy "x", and "t" and "e" too when its emails go with it
(onDestroyRemoveEmails). A role is the owner's to give; sortOrder, one
value every user sees, needs "a"; isSubscribed is the user's own
subscription of the IMAP name "Shared/OWNER/NAME". A missing right is
"forbidden", a mailbox without "l" "notFound". Email/set create and
Email/import need "i" on every mailbox and cut the keywords to the
rights as APPEND cuts flags; the upload URL takes the account with "i"
somewhere, and the download URL gives the user's own uploads there and
the emails it may read ("l" and "r"), nothing else. Grants are set with
`tern acl`. One server for the module."""
from jmapc import Jmap, shared_server
from test_imap import login

BOB = ("bob@example.test", "bob-password-1Xy")
CAROL = ("carol@example.test", "carol-password-2Zq")


def srv():
    return shared_server([BOB, CAROL])


def imap(user):
    return login(srv(), user=user[0], pw=user[1])


def bob_mailboxes(*names):
    """Creates Bob's mailboxes (IMAP), a message in each: {name: id}."""
    m = imap(BOB)
    for n in names:
        assert m.create(n)[0] == "OK", n
        assert m.append(n, None, None, b"Subject: in %s\r\n\r\nx\r\n" % n.encode())[0] == "OK"
    m.logout()
    return bob_ids()


def bob_ids():
    """Bob's mailboxes by full name: {name: id}, and "account"."""
    bob = Jmap(srv(), *BOB)
    _, r = bob.one("Mailbox/get", {"ids": None, "properties": ["name", "parentId"]})
    byid = {b["id"]: b for b in r["list"]}

    def full(b):
        return b["name"] if not b["parentId"] else full(byid[b["parentId"]]) + "/" + b["name"]
    ids = {full(b): b["id"] for b in r["list"]}
    ids["account"] = bob.account
    return ids


def bob_get(mid, props):
    _, r = Jmap(srv(), *BOB).one("Mailbox/get", {"ids": [mid], "properties": props})
    return r["list"][0] if r["list"] else None


def grant(name, rights):
    """Carol's grant on Bob's mailbox (rights "": none)."""
    if rights:
        srv().cli("acl", "set", BOB[0], name, CAROL[0], rights)
    else:
        srv().cli("acl", "del", BOB[0], name, CAROL[0], check=False)


def mset(args):
    """Carol's Mailbox/set in Bob's account: the response arguments."""
    args = dict(args, accountId=bob_ids()["account"])
    r = Jmap(srv(), *CAROL).call([["Mailbox/set", args, "c"]])["methodResponses"]
    assert r[0][0] == "Mailbox/set", r
    return r[0][1]


def carol_subscribed():
    """The names Carol's IMAP LSUB lists (none here has a space)."""
    m = imap(CAROL)
    try:
        typ, lines = m.lsub('""', "*")
        assert typ == "OK"
        return {ln.decode().rsplit(" ", 1)[-1].strip('"') for ln in lines if ln}
    finally:
        m.logout()


def shared(name):
    return "Shared/%s/%s" % (BOB[0], name)


def test_create_needs_k_on_the_parent():
    ids = bob_mailboxes("Proj")
    grant("Proj", "lr")
    try:
        new = {"name": "Kid", "parentId": ids["Proj"]}
        r = mset({"create": {"k": new}})
        assert r["notCreated"]["k"]["type"] == "forbidden", r
        assert "Proj/Kid" not in bob_ids()
        grant("Proj", "lrk")
        r = mset({"create": {"k": new}})
        kid = r["created"]["k"]["id"]
        assert bob_ids()["Proj/Kid"] == kid
        # It took the parent's grant: Carol's rights there are Proj's.
        rights = r["created"]["k"]["myRights"]
        assert rights["mayCreateChild"] and rights["mayReadItems"], rights
        assert not rights["mayDelete"] and not rights["mayAddItems"], rights
        # Subscribed as Carol's own IMAP name; Bob's is untouched.
        assert r["created"]["k"]["isSubscribed"] is True, r
        assert shared("Proj/Kid") in carol_subscribed()
        assert bob_get(kid, ["isSubscribed"])["isSubscribed"] is False
        # A role is the owner's; sortOrder needs "a" on the parent.
        r = mset({"create": {"r": {"name": "Arch", "parentId": ids["Proj"], "role": "archive"}}})
        assert r["notCreated"]["r"]["type"] == "forbidden", r
        r = mset({"create": {"s": {"name": "Sorted", "parentId": ids["Proj"], "sortOrder": 7}}})
        assert r["notCreated"]["s"]["type"] == "forbidden", r
        grant("Proj", "lrka")
        r = mset({"create": {"s": {"name": "Sorted", "parentId": ids["Proj"], "sortOrder": 7}}})
        assert bob_get(r["created"]["s"]["id"], ["sortOrder"])["sortOrder"] == 7, r
        # A parent Carol does not see is no parent.
        grant("Proj", "")
        r = mset({"create": {"k": {"name": "Kid2", "parentId": ids["Proj"]}}})
        assert r["notCreated"]["k"]["type"] == "invalidProperties", r
    finally:
        for n in ("Proj", "Proj/Kid", "Proj/Sorted"):
            grant(n, "")


def test_create_at_the_top_needs_k_on_the_inbox():
    bob_mailboxes("Seen")  # an account Carol sees
    grant("Seen", "lr")
    try:
        r = mset({"create": {"t": {"name": "TopNew"}}})
        assert r["notCreated"]["t"]["type"] == "forbidden", r
        assert "TopNew" not in bob_ids()
        grant("INBOX", "lk")
        r = mset({"create": {"t": {"name": "TopNew"}}})
        assert bob_ids()["TopNew"] == r["created"]["t"]["id"], r
        assert r["created"]["t"]["myRights"]["mayCreateChild"] is True, r
    finally:
        for n in ("Seen", "INBOX", "TopNew"):
            grant(n, "")


def test_rename_needs_x_on_it_and_k_on_the_parent():
    ids = bob_mailboxes("Ren", "Ren/Box", "Dest")
    box = ids["Ren/Box"]
    grant("Ren", "lr")
    grant("Ren/Box", "lr")
    grant("Dest", "lr")
    try:
        r = mset({"update": {box: {"name": "Box2"}}})
        assert r["notUpdated"][box]["type"] == "forbidden", r
        grant("Ren/Box", "lrx")
        r = mset({"update": {box: {"name": "Box2"}}})
        assert r["notUpdated"][box]["type"] == "forbidden", r  # no "k" on Ren
        grant("Ren", "lrk")
        r = mset({"update": {box: {"name": "Box2"}}})
        assert box in r["updated"], r
        assert bob_ids()["Ren/Box2"] == box
        # Elsewhere: "k" on the new parent.
        r = mset({"update": {box: {"parentId": ids["Dest"]}}})
        assert r["notUpdated"][box]["type"] == "forbidden", r
        grant("Dest", "lrk")
        r = mset({"update": {box: {"parentId": ids["Dest"]}}})
        assert box in r["updated"], r
        assert bob_ids()["Dest/Box2"] == box
    finally:
        for n in ("Ren", "Ren/Box", "Ren/Box2", "Dest", "Dest/Box2"):
            grant(n, "")


def test_rename_under_a_mailbox_the_user_does_not_see():
    """Hid is not Carol's to see (no "l"): Vis shows at the top, and a
    new name keeps it under Hid, where Bob has it. Her "k" on Hid counts
    for nothing, as Hid is not there for her (RFC 4314 section 6; IMAP's
    CREATE and RENAME take "k" from the closest parent she sees, else
    the owner's INBOX): the rename needs "k" on the INBOX."""
    ids = bob_mailboxes("Hid", "Hid/Vis")
    vis = ids["Hid/Vis"]
    grant("Hid", "k")
    grant("Hid/Vis", "lrx")
    try:
        r = mset({"update": {vis: {"name": "Vis2"}}})
        assert r["notUpdated"][vis]["type"] == "forbidden", r
        grant("INBOX", "k")
        r = mset({"update": {vis: {"name": "Vis2"}}})
        assert vis in r["updated"], r
        now = bob_ids()
        assert now["Hid/Vis2"] == vis and "Vis2" not in now, now
    finally:
        for n in ("Hid", "Hid/Vis2", "Hid/Vis", "INBOX"):
            grant(n, "")


def test_destroy_needs_x_and_te_for_its_emails():
    ids = bob_mailboxes("Gone", "Gone2")
    gone = ids["Gone"]
    grant("Gone", "lr")
    try:
        r = mset({"destroy": [gone]})
        assert r["notDestroyed"][gone]["type"] == "forbidden", r
        grant("Gone", "lrx")
        r = mset({"destroy": [gone]})
        assert r["notDestroyed"][gone]["type"] == "mailboxHasEmail", r
        r = mset({"destroy": [gone], "onDestroyRemoveEmails": True})
        assert r["notDestroyed"][gone]["type"] == "forbidden", r  # no "t" "e"
        grant("Gone", "lrxt")
        r = mset({"destroy": [gone], "onDestroyRemoveEmails": True})
        assert r["notDestroyed"][gone]["type"] == "forbidden", r  # no "e"
        assert "Gone" in bob_ids()
        grant("Gone", "lrxte")
        r = mset({"destroy": [gone], "onDestroyRemoveEmails": True})
        assert r["destroyed"] == [gone], r
        assert "Gone" not in bob_ids()
        # Without "l" it is not there for Carol, whatever else she holds
        # (the account is, through the INBOX).
        grant("INBOX", "l")
        grant("Gone2", "rxte")
        r = mset({"destroy": [ids["Gone2"]], "onDestroyRemoveEmails": True})
        assert r["notDestroyed"][ids["Gone2"]]["type"] == "notFound", r
        assert "Gone2" in bob_ids()
    finally:
        grant("INBOX", "")
        grant("Gone2", "")


def test_subscription_sortorder_and_role_updates():
    ids = bob_mailboxes("Upd")
    upd = ids["Upd"]
    grant("Upd", "l")
    try:
        # isSubscribed: Carol's own, "l" is enough; Bob's stays.
        before = bob_get(upd, ["isSubscribed"])["isSubscribed"]
        r = mset({"update": {upd: {"isSubscribed": True}}})
        assert upd in r["updated"], r
        assert shared("Upd") in carol_subscribed()
        assert bob_get(upd, ["isSubscribed"])["isSubscribed"] == before
        r = mset({"update": {upd: {"isSubscribed": False}}})
        assert upd in r["updated"], r
        assert shared("Upd") not in carol_subscribed()
        # sortOrder: "a".
        r = mset({"update": {upd: {"sortOrder": 3}}})
        assert r["notUpdated"][upd]["type"] == "forbidden", r
        grant("Upd", "la")
        r = mset({"update": {upd: {"sortOrder": 3}}})
        assert upd in r["updated"], r
        assert bob_get(upd, ["sortOrder"])["sortOrder"] == 3
        # role: the owner's, whatever the rights.
        grant("Upd", "lrswipkxtea")
        r = mset({"update": {upd: {"role": "archive"}}})
        assert r["notUpdated"][upd]["type"] == "forbidden", r
        assert bob_get(upd, ["role"])["role"] is None
    finally:
        grant("Upd", "")


def test_rename_keeps_the_users_subscription():
    ids = bob_mailboxes("Sub1")
    sub = ids["Sub1"]
    grant("INBOX", "k")
    grant("Sub1", "lx")
    try:
        assert sub in mset({"update": {sub: {"isSubscribed": True}}})["updated"]
        r = mset({"update": {sub: {"name": "Sub1b"}}})
        assert sub in r["updated"], r
        names = carol_subscribed()
        assert shared("Sub1b") in names and shared("Sub1") not in names, names
        _, g = Jmap(srv(), *CAROL).one("Mailbox/get", {"accountId": ids["account"],
                                                       "ids": [sub], "properties": ["isSubscribed"]})
        assert g["list"][0]["isSubscribed"] is True, g
    finally:
        grant("INBOX", "")
        grant("Sub1b", "")


def upload(j, acc, data, ctype="message/rfc822"):
    st, _, body = j.request("POST", "/jmap/upload/%s/" % acc, data, {"Content-Type": ctype})
    return st, body


def download(j, acc, blob):
    st, _, body = j.request("GET", "/jmap/download/%s/%s/x.bin" % (acc, blob))
    return st, body


def carol_call(method, args):
    args = dict(args, accountId=bob_ids()["account"])
    r = Jmap(srv(), *CAROL).call([[method, args, "c"]])["methodResponses"]
    assert r[0][0] == method, r
    return r[0][1]


def new_email(mailboxes, **extra):
    e = {"mailboxIds": {m: True for m in mailboxes}, "subject": "from carol",
         "from": [{"email": CAROL[0]}],
         "bodyStructure": {"type": "text/plain", "partId": "1"},
         "bodyValues": {"1": {"value": "hello"}}}
    e.update(extra)
    return e


def bob_keywords(eid):
    _, r = Jmap(srv(), *BOB).one("Email/get", {"ids": [eid], "properties": ["keywords"]})
    return r["list"][0]["keywords"]


def bob_email_ids(mid):
    _, r = Jmap(srv(), *BOB).one("Email/query", {"filter": {"inMailbox": mid}})
    return r["ids"]


def test_email_create_needs_i_and_cuts_keywords():
    ids = bob_mailboxes("Drop", "Closed")
    drop = ids["Drop"]
    grant("Drop", "lr")
    try:
        before = bob_email_ids(drop)
        r = carol_call("Email/set", {"create": {"e": new_email([drop])}})
        assert r["notCreated"]["e"]["type"] == "forbidden", r
        grant("Drop", "lri")
        r = carol_call("Email/set", {"create": {"e": new_email([drop])}})
        eid = r["created"]["e"]["id"]
        assert set(bob_email_ids(drop)) == set(before) | {eid}
        # Keywords are cut to their rights, as APPEND's flags are, and
        # created tells what was kept.
        kw = new_email([drop], keywords={"$seen": True})
        r = carol_call("Email/set", {"create": {"s": kw}})
        assert r["created"]["s"]["keywords"] == {}, r
        assert bob_keywords(r["created"]["s"]["id"]) == {}
        grant("Drop", "lris")
        r = carol_call("Email/set", {"create": {"s": kw}})
        assert "keywords" not in r["created"]["s"], r
        assert bob_keywords(r["created"]["s"]["id"]) == {"$seen": True}
        both = new_email([drop], keywords={"$seen": True, "$flagged": True})
        r = carol_call("Email/set", {"create": {"f": both}})
        assert r["created"]["f"]["keywords"] == {"$seen": True}, r
        assert bob_keywords(r["created"]["f"]["id"]) == {"$seen": True}
        # A mailbox Carol does not see is no mailbox.
        r = carol_call("Email/set", {"create": {"c": new_email([drop, ids["Closed"]])}})
        assert r["notCreated"]["c"]["type"] == "invalidProperties", r
        assert len(bob_email_ids(ids["Closed"])) == 1
    finally:
        grant("Drop", "")


def test_upload_email_import_and_attachments():
    ids = bob_mailboxes("Imp", "Locked")
    imp = ids["Imp"]
    acc = ids["account"]
    carol, bob = Jmap(srv(), *CAROL), Jmap(srv(), *BOB)
    msg = b"From: carol@example.test\r\nSubject: imported by carol\r\n\r\nbody\r\n"
    grant("Imp", "lr")
    try:
        # Uploading needs "i" on some mailbox of the account.
        st, body = upload(carol, acc, msg)
        assert st == 403, (st, body)
        grant("Imp", "lri")
        st, body = upload(carol, acc, msg)
        assert st == 201 and body["accountId"] == acc, (st, body)
        blob = body["blobId"]
        # It is Carol's: she reads it there, Bob does not (his own id).
        assert download(carol, acc, blob) == (200, msg)
        assert download(bob, acc, blob)[0] == 404
        # Email/import of it; one from Carol's own account is no blob here.
        r = carol_call("Email/import", {"emails": {"i": {"blobId": blob, "mailboxIds": {imp: True},
                                                         "keywords": {"$seen": True}}}})
        eid = r["created"]["i"]["id"]
        assert eid in bob_email_ids(imp)
        assert r["created"]["i"]["keywords"] == {} == bob_keywords(eid), r  # no "s"
        own = msg.replace(b"imported", b"own")
        st, b2 = upload(carol, carol.account, own)
        assert st == 201, b2
        r = carol_call("Email/import", {"emails": {"o": {"blobId": b2["blobId"],
                                                         "mailboxIds": {imp: True}}}})
        assert r["notCreated"]["o"]["type"] == "invalidProperties", r
        assert download(carol, acc, b2["blobId"])[0] == 404
        # Without "i": forbidden, nothing stored.
        grant("Imp", "lr")
        n = len(bob_email_ids(imp))
        r = carol_call("Email/import", {"emails": {"i": {"blobId": blob, "mailboxIds": {imp: True}}}})
        assert r["notCreated"]["i"]["type"] == "forbidden", r
        assert len(bob_email_ids(imp)) == n
        # An attachment from a blob uploaded there.
        grant("Imp", "lri")
        att = new_email([imp], bodyStructure={"type": "multipart/mixed", "subParts": [
            {"type": "text/plain", "partId": "1"},
            {"type": "message/rfc822", "blobId": blob, "name": "m.eml"}]})
        r = carol_call("Email/set", {"create": {"a": att}})
        assert "a" in r["created"], r
        att["bodyStructure"]["subParts"][1]["blobId"] = b2["blobId"]
        r = carol_call("Email/set", {"create": {"b": att}})
        assert r["notCreated"]["b"]["type"] == "blobNotFound", r
        # Blob/copy of her own blob into Bob's account makes it her
        # upload there, which Email/import reads; and back out again.
        r = carol_call("Blob/copy", {"fromAccountId": carol.account, "blobIds": [b2["blobId"]]})
        assert r["copied"] == {b2["blobId"]: b2["blobId"]}, r
        assert download(carol, acc, b2["blobId"]) == (200, own)
        assert download(bob, acc, b2["blobId"])[0] == 404
        r = carol_call("Email/import", {"emails": {"c": {"blobId": b2["blobId"],
                                                         "mailboxIds": {imp: True}}}})
        assert "c" in r["created"], r
        third = msg.replace(b"imported", b"third")
        st, b3 = upload(carol, acc, third)
        assert st == 201, b3
        r = Jmap(srv(), *CAROL).call([["Blob/copy", {"fromAccountId": acc, "accountId": carol.account,
                                                     "blobIds": [b3["blobId"]]}, "c"]])
        assert r["methodResponses"][0][1]["copied"] == {b3["blobId"]: b3["blobId"]}, r
        assert download(carol, carol.account, b3["blobId"]) == (200, third)
    finally:
        grant("Imp", "")


def test_download_only_what_the_user_may_read():
    ids = bob_mailboxes("Open", "Shut")
    acc = ids["account"]
    carol, bob = Jmap(srv(), *CAROL), Jmap(srv(), *BOB)
    _, g = bob.one("Email/get", {"ids": bob_email_ids(ids["Open"]) + bob_email_ids(ids["Shut"]),
                                 "properties": ["blobId", "mailboxIds", "textBody"]})
    by = {list(e["mailboxIds"])[0]: e for e in g["list"]}
    open_e, shut_e = by[ids["Open"]], by[ids["Shut"]]
    grant("Open", "l")
    try:
        # "l" without "r": not readable, so absent.
        assert download(carol, acc, open_e["blobId"])[0] == 404
        grant("Open", "lr")
        st, body = download(carol, acc, open_e["blobId"])
        assert st == 200 and b"Subject: in Open" in body, (st, body)
        st, body = download(carol, acc, open_e["textBody"][0]["blobId"])
        assert st == 200 and body.strip() == b"x", (st, body)
        # Shut is not shared: its email and part are absent for Carol.
        assert download(carol, acc, shut_e["blobId"])[0] == 404
        assert download(carol, acc, shut_e["textBody"][0]["blobId"])[0] == 404
        # Bob's own upload is his, not Carol's.
        st, body = upload(bob, acc, b"bob's own bytes", "text/plain")
        assert st == 201, body
        assert download(carol, acc, body["blobId"])[0] == 404
    finally:
        grant("Open", "")
    # No grant left: not an account of Carol's.
    st, body = download(carol, acc, open_e["blobId"])
    assert st == 404 and body["detail"] == "no such account", (st, body)
