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
of the principals they saw, jmap_typestate.c) tells them it is gone.

What the users it shared mailboxes with see: its account leaves their
JMAP session (whose state moves), their push clients are told, and its
mailboxes leave their IMAP sessions."""
import os

from httpc import ADMIN_PW, admin_server
from jmapc import CORE, MAIL, Jmap
from test_imap import Raw, login

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


def test_removed_owner_leaves_the_grantees_session_and_push():
    """An owner's removal takes the mailboxes it shared: the grantee's
    session no longer lists its account and the session's state moves
    (RFC 8620 section 2: a Response's sessionState tells the client to
    fetch the session again); a call naming the account is
    accountNotFound (section 3.6.2); connected push clients are told a
    StateChange naming the account (section 7.1: its data changed, all
    of it gone), with states the client never held, so it asks, gets
    accountNotFound and the new sessionState; IMAP's LIST no longer
    shows the shared mailboxes, and a session idling in one ends as for
    a mailbox deleted under it (BYE, as Dovecot does). Both ways an
    account goes: the CLI (a command beside the server) and the REST
    API (the web admin's way)."""
    from test_jmap_push import EventStream, WebSocket
    s, api = admin_server(accounts=[BOB, CAROL, DAVE], imap=True)
    try:
        carol = Jmap(s, *CAROL)
        owners = {who[0]: Jmap(s, *who).account for who in (BOB, DAVE)}
        for who in (BOB, DAVE):
            s.cli("acl", "set", who[0], "INBOX", CAROL[0], "lr")
        mine = int(carol.account[1:], 16)
        es = EventStream(s, CAROL)
        assert es.status == 200, es.headers
        assert s.wait_log("event=push_shared kind=eventsource account=%d owners=2" % mine, 30)
        ws = WebSocket(s, CAROL)
        assert ws.status == 101, ws.headers
        ws.send_json({"@type": "WebSocketPushEnable", "dataTypes": None})
        assert s.wait_log("event=push_shared kind=websocket account=%d owners=2" % mine, 30)

        def listed():
            m = login(s, user=CAROL[0], pw=CAROL[1])
            typ, data = m.list('""', "*")
            m.logout()
            assert typ == "OK", data
            return b"\n".join(d for d in data if d)

        def by_cli(who):
            assert s.cli("account", "del", who[0]).returncode == 0

        def by_api(who):
            st, _, body = api.call("DELETE", "/accounts/" + who[0], {"password": ADMIN_PW})
            assert st == 204, (st, body)

        for who, remove in ((BOB, by_cli), (DAVE, by_api)):
            acc = owners[who[0]]
            before = carol.session()
            assert acc in before["accounts"], before["accounts"]
            _, held = carol.one("Mailbox/get", {"accountId": acc, "ids": []})
            assert ("Shared/%s/INBOX" % who[0]).encode() in listed()
            idle = Raw(s)
            idle.login(CAROL[0], CAROL[1])
            idle.send('s SELECT "Shared/%s/INBOX"\r\n' % who[0])
            assert idle.until_tag("s")[-1].startswith(b"s OK")
            idle.send("i IDLE\r\n")
            assert idle.line() == b"+ idling"
            own = Raw(s)  # the owner's own session, idling in its INBOX
            own.login(who[0], who[1])
            own.send("s SELECT INBOX\r\n")
            assert own.until_tag("s")[-1].startswith(b"s OK")
            own.send("i IDLE\r\n")
            assert own.line() == b"+ idling"

            remove(who)

            after = carol.session()
            assert acc not in after["accounts"], after["accounts"]
            assert after["state"] != before["state"], (after["state"], before["state"])
            name, err = carol.one("Mailbox/get", {"accountId": acc, "ids": None})
            assert name == "error" and err["type"] == "accountNotFound", (name, err)
            resp = carol.call([["Core/echo", {}, "e"]])
            assert resp["sessionState"] == after["state"], resp
            assert ("Shared/%s/" % who[0]).encode() not in listed()

            # Push: the removed account's types, at states Carol never held.
            ev = es.event(30)
            assert ev["event"] == "state", ev
            ch = ev["data"]["changed"]
            assert list(ch) == [acc] and set(ch[acc]) == {"Mailbox", "Email", "Thread"}, ch
            assert held["state"] not in ch[acc].values(), (held, ch)
            got = ws.recv_json(30)
            assert got["@type"] == "StateChange" and got["changed"] == ch, (got, ch)
            # IMAP: the selected mailbox went, and the idling session with it.
            idle.sock.settimeout(30)
            line = idle.line()
            assert line == b"* BYE Selected mailbox was deleted, have to disconnect.", line
            idle.close()
            # The owner's session ends as its account's removal says.
            own.sock.settimeout(30)
            line = own.line()
            assert line == b"* BYE Account was deleted, have to disconnect.", line
            own.close()
        es.close()
        ws.close()
    finally:
        s.cleanup()
