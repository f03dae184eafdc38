"""JMAP sharing (RFC 8620 section 1.6.2, RFC 8621 section 2): the mailboxes
an owner shares with a user (IMAP ACL grants, RFC 4314, set here with
`tern acl`) show in the user's JMAP session as the owner's account
(isPersonal false, isReadOnly as the grants say, the owner's own account
id), and Mailbox/get, /query and /changes there show only the mailboxes
the user holds "l" on, with myRights from the grant (RFC 8621 section 2's
table) and a parent the user cannot see replaced by the nearest one it
can. Email/get, /query, /changes, Thread/get and SearchSnippet/get show
only the emails in a mailbox the user may read ("l" and "r"), their
mailboxIds only such mailboxes; Email/set changes keywords and mailboxes
within the rights (forbidden otherwise; its create, Mailbox/set and blobs:
test_jmap_share_set); Email/queryChanges, Mailbox/queryChanges and
Thread/changes tell only what the user sees. EventSource and WebSocket
push tell the shared account's changes. Methods not written for a shared
account answer accountNotSupportedByMethod; an account that shares
nothing with the user is accountNotFound. One server for the module."""
import time

from jmapc import MAIL, Jmap, shared_server
from test_imap import login

BOB = ("bob@example.test", "bob-password-1Xy")
CAROL = ("carol@example.test", "carol-password-2Zq")
DAVE = ("dave@example.test", "dave-password-3Wr")

_ids = {}


def srv():
    return shared_server([BOB, CAROL, DAVE])


def imap(user):
    return login(srv(), user=user[0], pw=user[1])


def owner_setup():
    """Bob's mailboxes once: Team, Team/Sub, Team/Sub/Deep, Private, each
    with a message; their JMAP ids by name."""
    if _ids:
        return _ids
    s = srv()
    m = imap(BOB)
    for name in ("Team", "Team/Sub", "Team/Sub/Deep", "Private"):
        assert m.create(name)[0] == "OK"
        msg = b"From: a@remote.test\r\nSubject: in %s\r\n\r\nbody\r\n" % name.encode()
        assert m.append(name, None, None, msg)[0] == "OK"
    m.logout()
    bob = Jmap(s, *BOB)
    _, r = bob.one("Mailbox/get", {"ids": None, "properties": ["name", "parentId"]})
    byid = {b["id"]: b for b in r["list"]}

    def full(b):
        return b["name"] if not b["parentId"] else full(byid[b["parentId"]]) + "/" + b["name"]
    for b in r["list"]:
        _ids[full(b)] = b["id"]
    _ids["account"] = bob.account
    return _ids


def grant(name, who, rights):
    """`tern acl set` (rights "" removes the grant: `tern acl del`)."""
    if rights:
        srv().cli("acl", "set", BOB[0], name, who, rights)
    else:
        srv().cli("acl", "del", BOB[0], name, who, check=False)


def wait_more(s, needle, before, timeout):
    """Waits for the log to hold needle more than before times (a line
    of this test's, not an earlier one's)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if s.log_text().count(needle) > before:
            return True
        time.sleep(0.02)
    return False


def call(j, method, args):
    r = j.call([[method, args, "c"]])["methodResponses"]
    assert len(r) == 1, r
    return r[0][0], r[0][1]


def test_session_lists_the_owner_account():
    ids = owner_setup()
    s = srv()
    carol, dave = Jmap(s, *CAROL), Jmap(s, *DAVE)
    before = carol.session()
    assert ids["account"] not in before["accounts"], before["accounts"]
    grant("Team/Sub", CAROL[0], "lr")
    try:
        sess = carol.session()
        acc = sess["accounts"][ids["account"]]
        assert acc["name"] == BOB[0], acc
        assert acc["isPersonal"] is False and acc["isReadOnly"] is True, acc
        assert MAIL in acc["accountCapabilities"], acc
        # The user's own stays primary, and the state moved with the
        # accounts (RFC 8620 section 2), as Responses say it.
        assert sess["primaryAccounts"] == before["primaryAccounts"], sess["primaryAccounts"]
        assert sess["primaryAccounts"][MAIL] != ids["account"]
        assert sess["state"] != before["state"], (sess["state"], before["state"])
        r = carol.call([["Core/echo", {}, "e"]])
        assert r["sessionState"] == sess["state"], (r["sessionState"], sess["state"])
        # A mailbox at the top needs "k" on Bob's INBOX (as IMAP's
        # CREATE Shared/bob/NAME does): mayCreateTopLevelMailbox says so.
        assert acc["accountCapabilities"][MAIL]["mayCreateTopLevelMailbox"] is False, acc
        own = sess["accounts"][sess["primaryAccounts"][MAIL]]
        assert own["accountCapabilities"][MAIL]["mayCreateTopLevelMailbox"] is True, own
        grant("Team/Sub", CAROL[0], "lrk")
        sess_k = carol.session()
        assert sess_k["accounts"][ids["account"]]["accountCapabilities"][MAIL][
            "mayCreateTopLevelMailbox"] is False
        grant("INBOX", CAROL[0], "lk")
        sess_top = carol.session()
        assert sess_top["accounts"][ids["account"]]["accountCapabilities"][MAIL][
            "mayCreateTopLevelMailbox"] is True
        # The session changed, so its state did (RFC 8620 section 2).
        assert sess_top["state"] != sess_k["state"], sess_top["state"]
        grant("INBOX", CAROL[0], "")
        # A right that writes makes it read-write.
        grant("Team/Sub", CAROL[0], "lrs")
        assert carol.session()["accounts"][ids["account"]]["isReadOnly"] is False
        # Dave holds no grant: not his account.
        assert ids["account"] not in dave.session()["accounts"]
        # "r" without "l" is no visible mailbox: no account either.
        grant("Team/Sub", CAROL[0], "r")
        assert ids["account"] not in carol.session()["accounts"]
    finally:
        grant("Team/Sub", CAROL[0], "")
        grant("INBOX", CAROL[0], "")
    assert carol.session()["state"] == before["state"]


def test_mailbox_get_shows_granted_mailboxes_only():
    ids = owner_setup()
    carol = Jmap(srv(), *CAROL)
    acc = ids["account"]
    grant("Team/Sub", CAROL[0], "lrw")
    grant("Team/Sub/Deep", CAROL[0], "lrsitexp")
    try:
        name, r = call(carol, "Mailbox/get", {"accountId": acc, "ids": None})
        assert name == "Mailbox/get", r
        assert r["accountId"] == acc
        got = {b["id"]: b for b in r["list"]}
        assert set(got) == {ids["Team/Sub"], ids["Team/Sub/Deep"]}, got
        sub, deep = got[ids["Team/Sub"]], got[ids["Team/Sub/Deep"]]
        # Team is not visible: Sub hangs from the top; Deep keeps Sub.
        assert sub["parentId"] is None and sub["name"] == "Sub", sub
        assert deep["parentId"] == ids["Team/Sub"], deep
        # The counts are the mailbox's, as its owner sees them.
        _, own = Jmap(srv(), *BOB).one("Mailbox/get", {"ids": [ids["Team/Sub"]]})
        assert sub["totalEmails"] == own["list"][0]["totalEmails"] >= 1, (sub, own)
        assert sub["myRights"] == {
            "mayReadItems": True, "mayAddItems": False, "mayRemoveItems": False,
            "maySetSeen": False, "maySetKeywords": True, "mayCreateChild": False,
            "mayRename": False, "mayDelete": False, "maySubmit": False,
            "mayShare": False}, sub
        assert deep["myRights"] == {
            "mayReadItems": True, "mayAddItems": True, "mayRemoveItems": True,
            "maySetSeen": True, "maySetKeywords": False, "mayCreateChild": False,
            "mayRename": True, "mayDelete": True, "maySubmit": True,
            "mayShare": False}, deep
        # Bob's subscription is Bob's, not Carol's.
        assert sub["isSubscribed"] is False
        # "t" without "e" is not mayRemoveItems (both required).
        grant("Team/Sub", CAROL[0], "lrt")
        _, r = call(carol, "Mailbox/get", {"accountId": acc, "ids": [ids["Team/Sub"]]})
        assert r["list"][0]["myRights"]["mayRemoveItems"] is False, r

        # Private and the unshared Team by id: not found.
        _, r = call(carol, "Mailbox/get", {"accountId": acc,
                                           "ids": [ids["Private"], ids["Team"], ids["Team/Sub"]],
                                           "properties": ["name"]})
        assert [b["id"] for b in r["list"]] == [ids["Team/Sub"]], r
        assert sorted(r["notFound"]) == sorted([ids["Private"], ids["Team"]]), r

        # "l" alone on Team: visible, unreadable, Sub's parent again.
        grant("Team", CAROL[0], "l")
        _, r = call(carol, "Mailbox/get", {"accountId": acc, "ids": None})
        got = {b["id"]: b for b in r["list"]}
        assert set(got) == {ids["Team"], ids["Team/Sub"], ids["Team/Sub/Deep"]}, got
        assert got[ids["Team/Sub"]]["parentId"] == ids["Team"]
        assert got[ids["Team"]]["myRights"]["mayReadItems"] is False

        # Carol's own account is untouched by the shares.
        _, r = call(carol, "Mailbox/get", {"accountId": carol.account, "ids": None})
        assert not set(b["id"] for b in r["list"]) & set(got), r
    finally:
        for n in ("Team", "Team/Sub", "Team/Sub/Deep"):
            grant(n, CAROL[0], "")


def test_isSubscribed_is_the_users_imap_subscription():
    ids = owner_setup()
    carol = Jmap(srv(), *CAROL)
    grant("Team/Sub", CAROL[0], "lr")
    m = imap(CAROL)
    try:
        assert m.subscribe('"Shared/%s/Team/Sub"' % BOB[0])[0] == "OK"
        _, r = call(carol, "Mailbox/get", {"accountId": ids["account"], "ids": [ids["Team/Sub"]],
                                           "properties": ["isSubscribed"]})
        assert r["list"][0]["isSubscribed"] is True, r
    finally:
        m.unsubscribe('"Shared/%s/Team/Sub"' % BOB[0])
        m.logout()
        grant("Team/Sub", CAROL[0], "")


def test_query_and_changes_in_a_shared_account():
    ids = owner_setup()
    carol = Jmap(srv(), *CAROL)
    acc = ids["account"]
    grant("Team/Sub", CAROL[0], "lr")
    try:
        _, r = call(carol, "Mailbox/query", {"accountId": acc})
        assert r["ids"] == [ids["Team/Sub"]], r
        _, r = call(carol, "Mailbox/query", {"accountId": acc, "filter": {"parentId": None}})
        assert r["ids"] == [ids["Team/Sub"]], r
        _, r = call(carol, "Mailbox/get", {"accountId": acc, "ids": []})
        since = r["state"]

        # Bob writes to the shared mailbox and to his own: Carol is told
        # of the one she sees.
        m = imap(BOB)
        assert m.create("Hidden")[0] == "OK"
        assert m.append("Team/Sub", None, None, b"Subject: more\r\n\r\nx\r\n")[0] == "OK"
        assert m.append("Private", None, None, b"Subject: more\r\n\r\nx\r\n")[0] == "OK"
        m.logout()
        name, r = call(carol, "Mailbox/changes", {"accountId": acc, "sinceState": since})
        assert name == "Mailbox/changes", r
        assert r["created"] == [] and r["destroyed"] == [], r
        assert r["updated"] == [ids["Team/Sub"]], r
    finally:
        grant("Team/Sub", CAROL[0], "")


def test_other_methods_and_accounts_refused():
    ids = owner_setup()
    s = srv()
    carol, dave = Jmap(s, *CAROL), Jmap(s, *DAVE)
    acc = ids["account"]
    grant("Team/Sub", CAROL[0], "lrswitekx")
    try:
        # Not written for a shared account: refused.
        name, r = call(carol, "Email/parse", {"accountId": acc, "blobIds": []})
        assert name == "error" and r["type"] == "accountNotSupportedByMethod", (name, r)
        # No grant: the account is not Dave's to name.
        name, r = call(dave, "Mailbox/get", {"accountId": acc, "ids": None})
        assert name == "error" and r["type"] == "accountNotFound", (name, r)
        name, r = call(dave, "Mailbox/set", {"accountId": acc, "destroy": [ids["Team/Sub"]]})
        assert name == "error" and r["type"] == "accountNotFound", (name, r)
    finally:
        grant("Team/Sub", CAROL[0], "")


def emails_of(j, acc, mailbox):
    _, r = call(j, "Email/query", {"accountId": acc, "filter": {"inMailbox": mailbox}})
    return r["ids"]


def test_emails_in_a_shared_account():
    ids = owner_setup()
    s = srv()
    bob, carol = Jmap(s, *BOB), Jmap(s, *CAROL)
    acc = ids["account"]
    m = imap(BOB)
    assert m.append("Private", None, None, b"Subject: private\r\n\r\nx\r\n")[0] == "OK"
    m.logout()
    private = emails_of(bob, acc, ids["Private"])
    sub = emails_of(bob, acc, ids["Team/Sub"])
    deep = emails_of(bob, acc, ids["Team/Sub/Deep"])
    assert private and sub and deep, (private, sub, deep)
    # One email in Private and Team/Sub at once.
    both, only_private = private[0], private[1]
    _, r = bob.one("Email/set", {"update": {both: {"mailboxIds/%s" % ids["Team/Sub"]: True}}})
    assert both in r["updated"], r
    grant("Team/Sub", CAROL[0], "lr")
    grant("Team/Sub/Deep", CAROL[0], "l")  # seen, not readable
    try:
        _, r = call(carol, "Email/query", {"accountId": acc})
        assert sorted(r["ids"]) == sorted(set(sub) | {both}), (r, sub, both)
        assert emails_of(carol, acc, ids["Private"]) == []
        assert emails_of(carol, acc, ids["Team/Sub/Deep"]) == []
        # inMailboxOtherThan sees the readable mailboxes alone: the email
        # also in Private is in no other one Carol may read.
        _, r = call(carol, "Email/query", {"accountId": acc,
                                           "filter": {"inMailboxOtherThan": [ids["Team/Sub"]]}})
        assert r["ids"] == [], r

        name, r = call(carol, "Email/get", {"accountId": acc,
                                            "ids": [both, only_private, deep[0]],
                                            "properties": ["mailboxIds", "threadId", "subject"]})
        assert name == "Email/get", r
        assert [e["id"] for e in r["list"]] == [both], r
        assert r["list"][0]["mailboxIds"] == {ids["Team/Sub"]: True}, r
        assert sorted(r["notFound"]) == sorted([only_private, deep[0]]), r
        _, r = call(carol, "Email/get", {"accountId": acc, "ids": None, "properties": ["id"]})
        assert sorted(e["id"] for e in r["list"]) == sorted(set(sub) | {both}), r

        # Threads: the visible email's; Deep's is not there.
        _, g = bob.one("Email/get", {"ids": [both, deep[0]], "properties": ["threadId"]})
        th = {e["id"]: e["threadId"] for e in g["list"]}
        _, r = call(carol, "Thread/get", {"accountId": acc, "ids": [th[both], th[deep[0]]]})
        assert [t["id"] for t in r["list"]] == [th[both]], r
        assert r["list"][0]["emailIds"] == [both], r
        assert r["notFound"] == [th[deep[0]]], r
        _, r = call(carol, "Thread/get", {"accountId": acc, "ids": None})
        assert th[deep[0]] not in [t["id"] for t in r["list"]], r

        # "r" taken away: nothing readable is left.
        grant("Team/Sub", CAROL[0], "l")
        _, r = call(carol, "Email/query", {"accountId": acc})
        assert r["ids"] == [], r
        _, r = call(carol, "Email/get", {"accountId": acc, "ids": [both]})
        assert r["list"] == [] and r["notFound"] == [both], r
    finally:
        grant("Team/Sub", CAROL[0], "")
        grant("Team/Sub/Deep", CAROL[0], "")
        bob.one("Email/set", {"update": {both: {"mailboxIds/%s" % ids["Team/Sub"]: None}}})


def test_email_changes_in_a_shared_account():
    ids = owner_setup()
    s = srv()
    bob, carol = Jmap(s, *BOB), Jmap(s, *CAROL)
    acc = ids["account"]
    grant("Team/Sub", CAROL[0], "lr")
    try:
        m = imap(BOB)
        assert m.append("Team/Sub", None, None, b"Subject: to move\r\n\r\nx\r\n")[0] == "OK"
        m.logout()
        moving = emails_of(bob, acc, ids["Team/Sub"])[0]
        private = emails_of(bob, acc, ids["Private"])
        _, r = call(carol, "Email/get", {"accountId": acc, "ids": []})
        since = r["state"]

        m = imap(BOB)
        assert m.append("Team/Sub", None, None, b"Subject: new shared\r\n\r\nx\r\n")[0] == "OK"
        assert m.append("Private", None, None, b"Subject: new private\r\n\r\nx\r\n")[0] == "OK"
        m.logout()
        _, r = bob.one("Email/set", {"update": {
            moving: {"mailboxIds": {ids["Private"]: True}},
            private[0]: {"keywords/$flagged": True}}})
        assert set(r["updated"]) == {moving, private[0]}, r

        name, r = call(carol, "Email/changes", {"accountId": acc, "sinceState": since})
        assert name == "Email/changes", r
        _, q = call(carol, "Email/query", {"accountId": acc,
                                           "filter": {"inMailbox": ids["Team/Sub"]},
                                           "sort": [{"property": "receivedAt",
                                                     "isAscending": False}]})
        _, g = call(carol, "Email/get", {"accountId": acc, "ids": q["ids"],
                                         "properties": ["subject"]})
        newest = [e["id"] for e in g["list"] if e["subject"] == "new shared"]
        assert len(newest) == 1, g
        # The new shared email is created; the one moved to Private
        # left Carol's view: destroyed; Bob's private changes: nothing.
        assert r["created"] == newest, (r, newest)
        assert r["updated"] == [], r
        assert r["destroyed"] == [moving], r
    finally:
        grant("Team/Sub", CAROL[0], "")


def set_update(j, acc, eid, patch):
    name, r = call(j, "Email/set", {"accountId": acc, "update": {eid: patch}})
    assert name == "Email/set", r
    return (r["notUpdated"] or {}).get(eid)


def test_email_set_within_the_rights():
    ids = owner_setup()
    s = srv()
    bob, carol = Jmap(s, *BOB), Jmap(s, *CAROL)
    acc, sub, deep = ids["account"], ids["Team/Sub"], ids["Team/Sub/Deep"]
    m = imap(BOB)
    assert m.append("Team/Sub", None, None, b"Subject: rights\r\n\r\nx\r\n")[0] == "OK"
    m.logout()
    _, q = bob.one("Email/query", {"filter": {"inMailbox": sub, "subject": "rights"}})
    eid = q["ids"][0]

    def state_of(e):
        _, g = bob.one("Email/get", {"ids": [e], "properties": ["keywords", "mailboxIds"]})
        return g["list"][0] if g["list"] else None

    grant("Team/Sub", CAROL[0], "lrs")
    grant("Team/Sub/Deep", CAROL[0], "lr")
    try:
        # "s": $seen yes, another keyword no.
        assert set_update(carol, acc, eid, {"keywords/$seen": True}) is None
        err = set_update(carol, acc, eid, {"keywords/$flagged": True})
        assert err["type"] == "forbidden", err
        # A whole keywords object: only what changes counts ($seen goes).
        assert set_update(carol, acc, eid, {"keywords": {}}) is None
        err = set_update(carol, acc, eid, {"keywords": {"$seen": True, "$flagged": True}})
        assert err["type"] == "forbidden", err
        assert state_of(eid)["keywords"] == {}, state_of(eid)
        grant("Team/Sub", CAROL[0], "lrw")
        assert set_update(carol, acc, eid, {"keywords/$flagged": True}) is None
        assert state_of(eid)["keywords"] == {"$flagged": True}

        # Moving needs "te" where it leaves and "i" where it goes.
        move = {"mailboxIds": {deep: True}}
        err = set_update(carol, acc, eid, move)
        assert err["type"] == "forbidden", err
        grant("Team/Sub", CAROL[0], "lrwte")
        err = set_update(carol, acc, eid, move)
        assert err["type"] == "forbidden", err
        grant("Team/Sub/Deep", CAROL[0], "lri")
        assert set_update(carol, acc, eid, move) is None
        assert state_of(eid)["mailboxIds"] == {deep: True}, state_of(eid)
        # A mailbox the user does not see is no mailbox.
        err = set_update(carol, acc, eid, {"mailboxIds/%s" % ids["Private"]: True})
        assert err["type"] == "invalidProperties", err

        # Also in Private (Bob's doing): the whole mailboxIds Carol
        # sends keeps it, and keywords need rights there too.
        bob.one("Email/set", {"update": {eid: {"mailboxIds/%s" % ids["Private"]: True}}})
        grant("Team/Sub/Deep", CAROL[0], "lriwte")
        err = set_update(carol, acc, eid, {"mailboxIds": {deep: True, sub: True}})
        assert err["type"] == "forbidden", err  # no "i" on Sub
        grant("Team/Sub", CAROL[0], "lrwtei")
        err = set_update(carol, acc, eid, {"mailboxIds": {deep: True, sub: True}})
        assert err is None, err
        assert state_of(eid)["mailboxIds"] == {deep: True, sub: True, ids["Private"]: True}
        err = set_update(carol, acc, eid, {"keywords/$flagged": None})
        assert err["type"] == "forbidden", err

        # Destroy: "te" on every mailbox, Private included.
        name, r = call(carol, "Email/set", {"accountId": acc, "destroy": [eid]})
        assert r["notDestroyed"][eid]["type"] == "forbidden", r
        bob.one("Email/set", {"update": {eid: {"mailboxIds/%s" % ids["Private"]: None}}})
        name, r = call(carol, "Email/set", {"accountId": acc, "destroy": [eid]})
        assert r["destroyed"] == [eid], r
        assert state_of(eid) is None
        # (Create: test_jmap_share_set.)
    finally:
        grant("Team/Sub", CAROL[0], "")
        grant("Team/Sub/Deep", CAROL[0], "")


def test_push_tells_shared_account_changes():
    """EventSource and WebSocket (RFC 8620 section 7, RFC 8887) tell a
    change of an account shared with the user as a StateChange naming
    that account, with the owner's state, and no EmailDelivery."""
    from test_jmap_push import EventStream, WebSocket
    ids = owner_setup()
    s = srv()
    carol = Jmap(s, *CAROL)
    acc = ids["account"]
    mine = int(carol.account[1:], 16)
    grant("Team/Sub", CAROL[0], "lr")
    e = w = None
    try:
        e = EventStream(s, CAROL)
        assert e.status == 200, e.headers
        assert s.wait_log("event=push_shared kind=eventsource account=%d owners=1" % mine, 30)
        m = imap(BOB)
        assert m.append("Team/Sub", None, None, b"Subject: pushed\r\n\r\nx\r\n")[0] == "OK"
        m.logout()
        ev = e.event(30)
        assert ev["event"] == "state", ev
        ch = ev["data"]["changed"]
        assert list(ch) == [acc], ch
        assert set(ch[acc]) == {"Mailbox", "Email", "Thread"}, ch
        _, r = call(carol, "Email/get", {"accountId": acc, "ids": []})
        assert ch[acc]["Email"] == r["state"], (ch, r["state"])
        # The event id stays Carol's own account's push state.
        _, own = call(carol, "Email/get", {"accountId": carol.account, "ids": []})
        assert ev["id"].split("_")[0] == own["state"], (ev["id"], own["state"])

        w = WebSocket(s, CAROL)
        assert w.status == 101, w.headers
        w.send_json({"@type": "WebSocketPushEnable", "dataTypes": None})
        assert s.wait_log("event=push_shared kind=websocket account=%d owners=1" % mine, 30)
        _, q = call(carol, "Email/query", {"accountId": acc})
        name, r = call(Jmap(s, *BOB), "Email/set", {"accountId": acc, "update": {
            q["ids"][0]: {"keywords/$flagged": True}}})
        assert name == "Email/set" and r["updated"], r
        got = w.recv_json(30)
        assert got["@type"] == "StateChange" and list(got["changed"]) == [acc], got
        assert set(got["changed"][acc]) == {"Mailbox", "Email", "Thread"}, got
        assert got["pushState"].split("_")[0] == own["state"], got
        ev = e.event(30)  # the EventSource is told too
        assert list(ev["data"]["changed"]) == [acc], ev
    finally:
        for c in (e, w):
            if c:
                c.close()
        grant("Team/Sub", CAROL[0], "")


def test_eventsource_reconnect_tells_shared_account_states():
    """An EventSource reconnecting with Last-Event-ID (RFC 8620 section
    7.3) is told what it missed; the id carries only the user's own
    account's state, so each shared account's states are told at once
    (clients compare states, section 7.1): a change the owner made while
    the grantee was away is not lost."""
    from test_jmap_push import EventStream
    ids = owner_setup()
    s = srv()
    carol = Jmap(s, *CAROL)
    acc = ids["account"]
    mine = int(carol.account[1:], 16)
    shared = "event=push_shared kind=eventsource account=%d owners=1" % mine
    query = "types=Mailbox,Email&closeafter=no&ping=0"
    grant("Team/Sub", CAROL[0], "lr")
    e = None
    try:
        before = s.log_text().count(shared)
        e = EventStream(s, CAROL, query)
        assert e.status == 200, e.headers
        assert wait_more(s, shared, before, 30), "the stream never followed Bob"
        m = imap(CAROL)
        assert m.append("INBOX", None, None, b"Subject: own\r\n\r\nx\r\n")[0] == "OK"
        m.logout()
        ev = e.event(30)
        assert list(ev["data"]["changed"]) == [carol.account], ev
        last_id = ev["id"]
        e.close()
        e = None
        # Away: Bob changes the shared mailbox.
        m = imap(BOB)
        assert m.append("Team/Sub", None, None, b"Subject: missed\r\n\r\nx\r\n")[0] == "OK"
        m.logout()
        _, em = call(carol, "Email/get", {"accountId": acc, "ids": []})
        _, mb = call(carol, "Mailbox/get", {"accountId": acc, "ids": []})
        e = EventStream(s, CAROL, query, last_id=last_id)
        assert e.status == 200, e.headers
        ev = e.event(30)
        assert ev["event"] == "state", ev
        ch = ev["data"]["changed"]
        assert ch == {acc: {"Mailbox": mb["state"], "Email": em["state"]}}, (ch, em, mb)
        assert ev["id"] == last_id, ev  # Carol's own account did not change
    finally:
        if e:
            e.close()
        grant("Team/Sub", CAROL[0], "")


def test_websocket_push_state_tells_shared_account_states():
    """WebSocketPushEnable with a pushState (RFC 8887 section 4.3.5.2:
    the server sends all changes since it) is told what it missed; the
    pushState carries only the user's own account's state, so each shared
    account's states are told at once, on a new socket as after a
    WebSocketPushDisable on the same one. Without a pushState nothing is
    told at once: the first push is the next change."""
    from test_jmap_push import WebSocket
    ids = owner_setup()
    s = srv()
    carol = Jmap(s, *CAROL)
    acc = ids["account"]
    mine = int(carol.account[1:], 16)
    shared = "event=push_shared kind=websocket account=%d owners=1" % mine
    enable = {"@type": "WebSocketPushEnable", "dataTypes": ["Mailbox", "Email"]}
    grant("Team/Sub", CAROL[0], "lr")
    w = None

    def bob_appends(subject):
        m = imap(BOB)
        assert m.append("Team/Sub", None, None, b"Subject: %s\r\n\r\nx\r\n" % subject)[0] == "OK"
        m.logout()

    def states_now():
        _, em = call(carol, "Email/get", {"accountId": acc, "ids": []})
        _, mb = call(carol, "Mailbox/get", {"accountId": acc, "ids": []})
        return {acc: {"Mailbox": mb["state"], "Email": em["state"]}}

    def enabled(w, msg):
        before = s.log_text().count(shared)
        w.send_json(msg)
        assert wait_more(s, shared, before, 30), "the socket never followed Bob"

    try:
        w = WebSocket(s, CAROL)
        assert w.status == 101, w.headers
        enabled(w, enable)
        m = imap(CAROL)
        assert m.append("INBOX", None, None, b"Subject: own\r\n\r\nx\r\n")[0] == "OK"
        m.logout()
        got = w.recv_json(30)
        assert got["@type"] == "StateChange", got
        assert list(got["changed"]) == [carol.account], got  # not Bob's at once
        push_state = got["pushState"]
        w.close()
        w = None
        # Away: Bob changes the shared mailbox.
        bob_appends(b"missed")
        want = states_now()
        w = WebSocket(s, CAROL)
        assert w.status == 101, w.headers
        enabled(w, dict(enable, pushState=push_state))
        got = w.recv_json(30)
        assert got["@type"] == "StateChange", got
        assert got["changed"] == want, (got, want)
        assert got["pushState"] == push_state, got  # Carol's own did not change
        # Disabled, Bob changes again, enabled with the same pushState.
        w.send_json({"@type": "WebSocketPushDisable"})
        bob_appends(b"missed again")
        want2 = states_now()
        assert want2 != want
        enabled(w, dict(enable, pushState=push_state))
        got = w.recv_json(30)
        assert got["@type"] == "StateChange" and got["changed"] == want2, (got, want2)
    finally:
        if w:
            w.close()
        grant("Team/Sub", CAROL[0], "")


def test_eventsource_long_poll_resumed_waits_for_a_change():
    """closeafter=state with Last-Event-ID is not told the shared
    accounts' states at once (each poll would end at once with the same
    states): the first event is the next change, here the user's own."""
    from test_jmap_push import EventStream
    owner_setup()
    s = srv()
    carol = Jmap(s, *CAROL)
    mine = int(carol.account[1:], 16)
    shared = "event=push_shared kind=eventsource account=%d owners=1" % mine
    grant("Team/Sub", CAROL[0], "lr")
    e = None
    try:
        _, own = call(carol, "Email/get", {"accountId": carol.account, "ids": []})
        before = s.log_text().count(shared)
        e = EventStream(s, CAROL, "types=Mailbox,Email&closeafter=state&ping=0",
                        last_id=own["state"])
        assert e.status == 200, e.headers
        assert wait_more(s, shared, before, 30), "the stream never followed Bob"
        m = imap(CAROL)
        assert m.append("INBOX", None, None, b"Subject: own\r\n\r\nx\r\n")[0] == "OK"
        m.logout()
        ev = e.event(30)
        assert list(ev["data"]["changed"]) == [carol.account], ev
        assert e.closed(30), "the stream stayed open after the state event"
    finally:
        if e:
            e.close()
        grant("Team/Sub", CAROL[0], "")


def test_eventsource_closeafter_state_ends_at_a_shared_change():
    """closeafter=state (RFC 8620 section 7.3) ends the response after
    the first state event, and a StateChange naming only a shared account
    is one: mail delivered by SMTP to the owner's INBOX shared with the
    user is told (Mailbox, Email, Thread; no EmailDelivery, the owner's
    new mail is not the user's) and the stream ends after it."""
    from test_jmap_push import EventStream, deliver
    ids = owner_setup()
    s = srv()
    acc = ids["account"]
    mine = int(Jmap(s, *CAROL).account[1:], 16)
    grant("INBOX", CAROL[0], "lr")
    e = None
    try:
        # This stream's line, not an earlier test's.
        shared = "event=push_shared kind=eventsource account=%d owners=1" % mine
        before = s.log_text().count(shared)
        e = EventStream(s, CAROL, "types=*&closeafter=state&ping=0")
        assert e.status == 200, e.headers
        assert wait_more(s, shared, before, 30), "the stream never followed Bob"
        deliver(s, BOB, subject="long poll")
        ev = e.event(30)
        assert ev["event"] == "state", ev
        ch = ev["data"]["changed"]
        assert list(ch) == [acc], ch
        assert set(ch[acc]) == {"Mailbox", "Email", "Thread"}, ch
        assert e.closed(30), "the stream stayed open after the state event"
        assert e.buf == b"", e.buf  # nothing after the event
    finally:
        if e:
            e.close()
        grant("INBOX", CAROL[0], "")


def test_push_held_for_a_slow_client_tells_the_shared_change():
    """A WebSocket client that leaves an answer unread is told nothing
    meanwhile (StateChanges go between answers, RFC 8887 section 4.3.5):
    a change of the shared account and one of the user's own that come
    while it is not reading are both held, and both told once it has
    read the answer. The own account's event must not take the shared
    one's turn (session 76 read that it might)."""
    from test_jmap_push import EventStream, WebSocket, ws_request
    from jmapc import CORE
    ids = owner_setup()
    s = srv()
    acc = ids["account"]
    own = Jmap(s, *CAROL).account
    mine = int(own[1:], 16)
    grant("Team/Sub", CAROL[0], "lr")
    w = e = None
    try:
        w = WebSocket(s, CAROL)
        assert w.status == 101, w.headers
        w.send_json({"@type": "WebSocketPushEnable", "dataTypes": None})
        assert s.wait_log("event=push_shared kind=websocket account=%d owners=1" % mine, 30)
        # A second client that reads: when it was told both changes, the
        # server has read them (the slow one's are held meanwhile).
        e = EventStream(s, CAROL)
        assert e.status == 200, e.headers
        assert s.wait_log("event=push_shared kind=eventsource account=%d owners=1" % mine, 30)
        big = "x" * 1000000
        calls = [["Core/echo", {"a": big}, "0"]] + [
            ["Core/echo", {"#a": {"resultOf": "0", "name": "Core/echo", "path": "/a"}}, str(k)]
            for k in range(1, 16)]
        req = ws_request(calls)
        req["using"] = [CORE]
        w.send_json(req)
        while not w.buf:  # the answer's first bytes: it is under way
            w._more()
        m = imap(BOB)
        assert m.append("Team/Sub", None, None, b"Subject: held\r\n\r\nx\r\n")[0] == "OK"
        m.logout()
        m = imap(CAROL)
        assert m.append("INBOX", None, None, b"Subject: own\r\n\r\nx\r\n")[0] == "OK"
        m.logout()
        seen = set()
        while not {acc, own} <= seen:
            seen.update(e.event(30)["data"]["changed"])
        r = w.recv_json(60)
        assert [x[2] for x in r["methodResponses"]] == [str(k) for k in range(16)], r.keys()
        told = set()
        while told != {acc, own}:
            got = w.recv_json(30)
            assert got["@type"] == "StateChange", got
            assert set(got["changed"]) <= {acc, own}, got
            told.update(got["changed"])
    finally:
        for c in (w, e):
            if c:
                c.close()
        grant("Team/Sub", CAROL[0], "")


def test_search_snippets_in_a_shared_account():
    ids = owner_setup()
    s = srv()
    bob, carol = Jmap(s, *BOB), Jmap(s, *CAROL)
    acc = ids["account"]
    shared = emails_of(bob, acc, ids["Team/Sub"])[0]
    private = emails_of(bob, acc, ids["Private"])[0]
    grant("Team/Sub", CAROL[0], "lr")
    try:
        name, r = call(carol, "SearchSnippet/get", {
            "accountId": acc, "filter": {"text": "body"}, "emailIds": [shared, private]})
        assert name == "SearchSnippet/get", r
        assert [x["emailId"] for x in r["list"]] == [shared], r
        assert r["notFound"] == [private], r
        # The owner gets both.
        _, r = bob.one("SearchSnippet/get", {"filter": {"text": "body"},
                                             "emailIds": [shared, private]})
        assert len(r["list"]) == 2 and r["notFound"] is None, r
    finally:
        grant("Team/Sub", CAROL[0], "")


def test_query_changes_and_thread_changes_in_a_shared_account():
    """Email/queryChanges, Mailbox/queryChanges and Thread/changes in a
    shared account tell what the user may see: an email appended to the
    shared mailbox is added, one moved out of it removed (its thread
    destroyed), and the owner's private mail and mailboxes are never
    named."""
    ids = owner_setup()
    s = srv()
    bob, carol = Jmap(s, *BOB), Jmap(s, *CAROL)
    acc = ids["account"]
    grant("Team/Sub", CAROL[0], "lr")
    try:
        m = imap(BOB)
        assert m.append("Team/Sub", None, None,
                        b"Subject: leaving qc\r\nMessage-ID: <leaving-qc@x>\r\n\r\nx\r\n")[0] == "OK"
        m.logout()
        _, r = call(bob, "Email/query", {"accountId": acc, "filter": {"subject": "leaving qc"}})
        leaving = r["ids"][0]
        _, q0 = call(carol, "Email/query", {"accountId": acc})
        _, mq0 = call(carol, "Mailbox/query", {"accountId": acc})
        _, t0 = call(carol, "Thread/get", {"accountId": acc, "ids": []})
        _, g = call(bob, "Email/get", {"accountId": acc, "ids": [leaving],
                                        "properties": ["threadId"]})
        leaving_thread = g["list"][0]["threadId"]

        m = imap(BOB)
        assert m.append("Team/Sub", None, None,
                        b"Subject: arrived qc\r\nMessage-ID: <arrived-qc@x>\r\n\r\nx\r\n")[0] == "OK"
        assert m.append("Private", None, None,
                        b"Subject: private qc\r\nMessage-ID: <private-qc@x>\r\n\r\nx\r\n")[0] == "OK"
        assert m.create("HiddenQc")[0] == "OK"
        m.logout()
        _, r = call(bob, "Email/query", {"accountId": acc, "filter": {"subject": "qc"}})
        _, g = call(bob, "Email/get", {"accountId": acc, "ids": r["ids"],
                                        "properties": ["subject", "threadId"]})
        by = {e["subject"]: e for e in g["list"]}
        arrived, private = by["arrived qc"]["id"], by["private qc"]["id"]
        _, r = bob.one("Email/set", {"update": {
            leaving: {"mailboxIds": {ids["Private"]: True}},
            private: {"keywords/$flagged": True}}})
        assert set(r["updated"]) == {leaving, private}, r

        name, r = call(carol, "Email/queryChanges", {"accountId": acc,
                                                      "sinceQueryState": q0["queryState"]})
        assert name == "Email/queryChanges", r
        added = [a["id"] for a in r["added"]]
        assert added == [arrived], r
        assert leaving in r["removed"] and private not in r["removed"], r
        assert set(r["removed"]) <= {leaving, arrived}, r
        _, q1 = call(carol, "Email/query", {"accountId": acc})
        assert r["newQueryState"] == q1["queryState"], (r, q1)
        assert q1["ids"].index(arrived) == r["added"][0]["index"], (r, q1)

        name, r = call(carol, "Mailbox/queryChanges", {"accountId": acc,
                                                        "sinceQueryState": mq0["queryState"]})
        assert name == "Mailbox/queryChanges", r
        assert r["added"] == [] and r["removed"] == [], r

        name, r = call(carol, "Thread/changes", {"accountId": acc, "sinceState": t0["state"]})
        assert name == "Thread/changes", r
        assert r["created"] == [by["arrived qc"]["threadId"]], r
        assert r["destroyed"] == [leaving_thread], r
        assert by["private qc"]["threadId"] not in r["created"] + r["updated"], r
    finally:
        grant("Team/Sub", CAROL[0], "")
