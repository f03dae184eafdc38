"""What the removal of an account leaves behind outside the store. Its
JMAP uploads (jmap_blob.h) are files in the data directory's upload
directory: its own, those it made to accounts shared with it
("<owner>.<user>") and those other users made to its account. They go
with the account, whether the CLI (`tern account del`) or the REST API
(as the web admin does) removes it; another account's stay.

What other accounts keep: the ShareNotifications (RFC 9670 §5) of the
changes it made to their grants. They are their user's history, which
the user destroys (ShareNotification/set), bounded per account; the
change's author is then a removed account, with no address and no
principal id (jmap_sharenote.c). Their Principal/changes (snapshots
of the principals they saw, jmap_typestate.c) tells them it is gone."""
import os

from httpc import ADMIN_PW, admin_server
from jmapc import CORE, MAIL, Jmap
from test_imap import login

BOB = ("bob@example.test", "bob-password-1Xy")
CAROL = ("carol@example.test", "carol-password-2Zq")
DAVE = ("dave@example.test", "dave-password-3Wr")


def upload(j, account, data):
    st, _, body = j.request("POST", "/jmap/upload/%s/" % account, data,
                            {"Content-Type": "message/rfc822"})
    assert st == 201, (st, body)


def upload_dirs(s):
    d = os.path.join(s.data, "upload")
    return set(os.listdir(d)) if os.path.isdir(d) else set()


def new_dir(s, before):
    """The one upload directory made since before."""
    made = upload_dirs(s) - before
    assert len(made) == 1, (before, made)
    return made.pop()


def test_removal_takes_the_accounts_uploads():
    s, api = admin_server(accounts=[BOB, CAROL, DAVE], imap=True)
    try:
        bob, carol, dave = (Jmap(s, *u) for u in (BOB, CAROL, DAVE))
        msg = b"From: x@example.test\r\nSubject: up\r\n\r\nbytes of %s\r\n"
        # Each may add to the others' INBOX: uploads to their accounts.
        for owner, user in ((BOB, CAROL), (CAROL, BOB), (CAROL, DAVE)):
            s.cli("acl", "set", owner[0], "INBOX", user[0], "lri")
        hexid = {}
        for name, j in (("bob", bob), ("carol", carol), ("dave", dave)):
            before = upload_dirs(s)
            upload(j, j.account, msg % name.encode())
            hexid[name] = new_dir(s, before)
        upload(bob, carol.account, msg % b"bob to carol")
        upload(carol, bob.account, msg % b"carol to bob")
        upload(dave, carol.account, msg % b"dave to carol")
        b, c, d = hexid["bob"], hexid["carol"], hexid["dave"]
        assert upload_dirs(s) == {b, c, d, c + "." + b, b + "." + c, c + "." + d}, upload_dirs(s)

        # The CLI removes Bob: his own, his to Carol and Carol's to him.
        r = s.cli("account", "del", BOB[0])
        assert r.returncode == 0, r.stderr
        assert upload_dirs(s) == {c, d, c + "." + d}, upload_dirs(s)
        # The REST API removes Dave: his own and his to Carol.
        st, _, body = api.call("DELETE", "/accounts/" + DAVE[0], {"password": ADMIN_PW})
        assert st == 204, (st, body)
        assert upload_dirs(s) == {c}, upload_dirs(s)
        assert s.wait_log("event=uploads_dropped account=", timeout=30)
        # Carol's own upload is still hers.
        upload(carol, carol.account, msg % b"carol")
        assert upload_dirs(s) == {c}, upload_dirs(s)
    finally:
        s.cleanup()


def test_share_notifications_by_a_removed_account_stay():
    s, api = admin_server(accounts=[BOB, CAROL], imap=True)
    using = (CORE, MAIL, "urn:ietf:params:jmap:principals")
    try:
        m = login(s, user=BOB[0], pw=BOB[1])
        assert m.setacl("INBOX", CAROL[0], "lr")[0] == "OK"
        m.logout()
        carol = Jmap(s, *CAROL)

        def notes():
            r = carol.call([["ShareNotification/get", {"accountId": carol.account, "ids": None},
                             "c"]], using)["methodResponses"][0]
            assert r[0] == "ShareNotification/get", r
            return r[1]["list"]
        before = notes()
        assert len(before) == 1 and before[0]["changedBy"]["email"] == BOB[0], before
        st, _, body = api.call("DELETE", "/accounts/" + BOB[0], {"password": ADMIN_PW})
        assert st == 204, (st, body)
        after = notes()
        assert [n["id"] for n in after] == [before[0]["id"]], after
        assert after[0]["changedBy"] == {"name": "A removed account", "email": None,
                                         "principalId": None}, after
        assert after[0]["newRights"] == before[0]["newRights"], after
    finally:
        s.cleanup()


def test_principal_changes_tell_the_removal():
    s, api = admin_server(accounts=[BOB, CAROL], imap=True)
    using = (CORE, MAIL, "urn:ietf:params:jmap:principals")
    try:
        carol, bob = Jmap(s, *CAROL), Jmap(s, *BOB)
        pbob = "P" + bob.account[1:]

        def call(method, args):
            a = dict(args, accountId=carol.account)
            r = carol.call([[method, a, "c"]], using)["methodResponses"][0]
            assert r[0] == method, r
            return r[1]
        g = call("Principal/get", {"ids": None, "properties": ["email"]})
        assert pbob in [p["id"] for p in g["list"]], g
        st, _, body = api.call("DELETE", "/accounts/" + BOB[0], {"password": ADMIN_PW})
        assert st == 204, (st, body)
        ch = call("Principal/changes", {"sinceState": g["state"]})
        assert ch["destroyed"] == [pbob] and ch["created"] == [] and ch["updated"] == [], ch
        g2 = call("Principal/get", {"ids": [pbob]})
        assert g2["notFound"] == [pbob], g2
    finally:
        s.cleanup()
