"""A grant change is a change of its mailbox (RFC 8620 section 5.2, RFC
8621 section 2, RFC 9670 section 4: shareWith and myRights are Mailbox
properties): it moves the owner's state, whoever writes it (JMAP
Mailbox/set shareWith, IMAP SETACL, `tern acl`), and every view's
Mailbox/changes names the mailbox updated; the grantee's names it
destroyed once "l" is gone. Emails that appear or vanish with a grant
("l" and "r" given or taken) make the grantee's Email/changes,
Thread/changes and Email/queryChanges answer cannotCalculateChanges; a
grant that leaves "l" and "r" as they were does not. Mailbox/queryChanges
adds a mailbox that appears and removes one that vanishes. IMAP's
HIGHESTMODSEQ of the mailbox moves with the grant (RFC 7162), and a
FETCH CHANGEDSINCE over it reports no message. One server for the
module."""
import re

from jmapc import CORE, MAIL, Jmap, shared_server
from test_imap import login

PRINCIPALS = "urn:ietf:params:jmap:principals"

BOB = ("bob@example.test", "bob-password-1Xy")
CAROL = ("carol@example.test", "carol-password-2Zq")
DAVE = ("dave@example.test", "dave-password-3Wr")

_ids = {}


def srv():
    return shared_server([BOB, CAROL, DAVE])


def imap(user):
    return login(srv(), user=user[0], pw=user[1])


def call(j, method, args, using=(CORE, MAIL)):
    r = j.call([[method, args, "c"]], using)["methodResponses"]
    assert len(r) == 1, r
    return r[0][0], r[0][1]


def owner_setup():
    """Bob's mailboxes once, each with a message: Base (shared with Carol
    and Dave for the whole module, so that Bob's account stays in their
    sessions), Other, Big; their JMAP ids by name."""
    if _ids:
        return _ids
    s = srv()
    m = imap(BOB)
    for name in ("Base", "Other", "Big"):
        assert m.create(name)[0] == "OK"
        msg = b"From: a@remote.test\r\nSubject: in %s\r\n\r\nbody\r\n" % name.encode()
        assert m.append(name, None, None, msg)[0] == "OK"
    m.logout()
    for who in (CAROL, DAVE):
        s.cli("acl", "set", BOB[0], "Base", who[0], "lr")
    bob = Jmap(s, *BOB)
    _, r = call(bob, "Mailbox/get", {"accountId": bob.account, "ids": None,
                                      "properties": ["name"]})
    for b in r["list"]:
        _ids[b["name"]] = b["id"]
    _ids["account"] = bob.account
    return _ids


def grant(name, who, rights):
    """`tern acl set` (rights "" removes the grant: `tern acl del`)."""
    if rights:
        srv().cli("acl", "set", BOB[0], name, who, rights)
    else:
        srv().cli("acl", "del", BOB[0], name, who, check=False)


def state(j, acc, typ="Mailbox"):
    _, r = call(j, typ + "/get", {"accountId": acc, "ids": []})
    return r["state"]


def changes(j, acc, since, typ="Mailbox"):
    return call(j, typ + "/changes", {"accountId": acc, "sinceState": since})


def test_share_with_moves_the_owners_mailbox_state():
    ids = owner_setup()
    bob, carol = Jmap(srv(), *BOB), Jmap(srv(), *CAROL)
    acc = ids["account"]
    since = state(bob, acc)
    try:
        name, r = call(bob, "Mailbox/set", {
            "accountId": acc,
            "update": {ids["Other"]: {"shareWith/P" + carol.account[1:]: {"mayReadItems": True}}}},
            (CORE, MAIL, PRINCIPALS))
        assert name == "Mailbox/set" and list(r["updated"]) == [ids["Other"]], r
        assert r["newState"] != r["oldState"] == since, r
        name, ch = changes(bob, acc, since)
        assert name == "Mailbox/changes", ch
        assert ch["updated"] == [ids["Other"]], ch
        assert ch["created"] == [] and ch["destroyed"] == [], ch
        assert ch["updatedProperties"] is None, ch  # not the counts alone
        assert ch["newState"] == r["newState"], (ch, r)
        # Mailbox/get and the next /changes agree on the new state.
        assert state(bob, acc) == r["newState"]
        _, ch = changes(bob, acc, r["newState"])
        assert ch["updated"] == [] and not ch["hasMoreChanges"], ch
    finally:
        grant("Other", CAROL[0], "")


def test_imap_setacl_moves_the_owners_state_and_highestmodseq():
    ids = owner_setup()
    bob = Jmap(srv(), *BOB)
    acc = ids["account"]
    since = state(bob, acc)
    m = imap(BOB)
    try:
        typ, data = m.status("Other", "(HIGHESTMODSEQ)")
        assert typ == "OK", data
        hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", data[0]).group(1))
        typ, data = m.select("Other")
        assert typ == "OK", data
        assert m._simple_command("SETACL", "Other", DAVE[0], "lrw")[0] == "OK"
        name, ch = changes(bob, acc, since)
        assert name == "Mailbox/changes" and ch["updated"] == [ids["Other"]], ch
        assert ch["newState"] != since, ch
        # The mailbox's HIGHESTMODSEQ moved (RFC 7162 section 3.1.2.1
        # lets it grow with no message changed); no message is reported
        # as changed since the old one.
        typ, data = m.status("Other", "(HIGHESTMODSEQ)")
        assert typ == "OK", data
        now = int(re.search(rb"HIGHESTMODSEQ (\d+)", data[0]).group(1))
        assert now > hms, (hms, now)
        typ, data = m.uid("FETCH", "1:*", "(FLAGS) (CHANGEDSINCE %d)" % hms)
        assert typ == "OK" and data in ([None], []), data
        assert m._simple_command("DELETEACL", "Other", DAVE[0])[0] == "OK"
        _, ch = changes(bob, acc, ch["newState"])
        assert ch["updated"] == [ids["Other"]], ch
    finally:
        m.logout()
        grant("Other", DAVE[0], "")


def test_grantee_mailbox_changes_tell_given_and_taken():
    ids = owner_setup()
    carol = Jmap(srv(), *CAROL)
    acc = ids["account"]
    since = state(carol, acc)
    try:
        # "l" given: the mailbox shows (updated: the log cannot tell
        # whether Carol saw it before; she fetches it).
        grant("Other", CAROL[0], "lr")
        name, r = changes(carol, acc, since)
        assert name == "Mailbox/changes", r
        assert r["updated"] == [ids["Other"]] and r["destroyed"] == [], r
        assert r["created"] == [], r
        _, g = call(carol, "Mailbox/get", {"accountId": acc, "ids": r["updated"],
                                           "properties": ["myRights"]})
        assert g["list"][0]["myRights"]["mayReadItems"] is True, g
        since = r["newState"]

        # Another right: myRights changed, updated.
        grant("Other", CAROL[0], "lrw")
        _, r = changes(carol, acc, since)
        assert r["updated"] == [ids["Other"]] and r["destroyed"] == [], r
        since = r["newState"]

        # "l" taken away: destroyed, not left out.
        grant("Other", CAROL[0], "")
        _, r = changes(carol, acc, since)
        assert r["destroyed"] == [ids["Other"]], r
        assert r["created"] == [] and r["updated"] == [], r

        # Someone else's grant on a mailbox Carol does not see: nothing.
        since = r["newState"]
        grant("Big", DAVE[0], "lr")
        _, r = changes(carol, acc, since)
        assert r["created"] == [] and r["updated"] == [] and r["destroyed"] == [], r
        # Anyone's grant counts for Carol as her own would.
        since = r["newState"]
        grant("Other", "anyone", "l")
        grant("Other", "anyone", "")
        _, r = changes(carol, acc, since)
        assert r["destroyed"] == [ids["Other"]] and r["updated"] == [], r
    finally:
        grant("Other", CAROL[0], "")
        grant("Other", "anyone", "")
        grant("Big", DAVE[0], "")


def test_grantee_email_changes_when_reading_comes_or_goes():
    ids = owner_setup()
    bob, carol = Jmap(srv(), *BOB), Jmap(srv(), *CAROL)
    acc = ids["account"]
    before = {t: state(carol, acc, t) for t in ("Email", "Thread")}
    _, q = call(carol, "Email/query", {"accountId": acc})
    try:
        # "l" and "r" given on Other: its email appears with no change
        # of its own, which the log cannot list bounded.
        grant("Other", CAROL[0], "lr")
        for t in ("Email", "Thread"):
            name, r = changes(carol, acc, before[t], t)
            assert name == "error" and r["type"] == "cannotCalculateChanges", (t, name, r)
        name, r = call(carol, "Email/queryChanges", {"accountId": acc,
                                                      "sinceQueryState": q["queryState"]})
        assert name == "error" and r["type"] == "cannotCalculateChanges", (name, r)
        # The owner's own view is not touched by it: nothing changed.
        name, r = changes(bob, acc, before["Email"], "Email")
        assert name == "Email/changes", r
        assert r["created"] == [] and r["updated"] == [] and r["destroyed"] == [], r

        # From a state after the grant: a right that leaves "l" and "r"
        # as they were changes no email, and /changes answers.
        after = {t: state(carol, acc, t) for t in ("Email", "Thread")}
        grant("Other", CAROL[0], "lrw")
        for t in ("Email", "Thread"):
            name, r = changes(carol, acc, after[t], t)
            assert name == t + "/changes", (t, r)
            assert r["created"] == [] and r["updated"] == [] and r["destroyed"] == [], r

        # "r" taken away: the email vanishes, told the same way.
        after = state(carol, acc, "Email")
        grant("Other", CAROL[0], "lw")
        name, r = changes(carol, acc, after, "Email")
        assert name == "error" and r["type"] == "cannotCalculateChanges", (name, r)
    finally:
        grant("Other", CAROL[0], "")


def test_grantee_mailbox_query_changes_add_and_remove():
    ids = owner_setup()
    carol = Jmap(srv(), *CAROL)
    acc = ids["account"]
    _, q0 = call(carol, "Mailbox/query", {"accountId": acc})
    assert ids["Other"] not in q0["ids"], q0
    try:
        grant("Other", CAROL[0], "lr")
        name, r = call(carol, "Mailbox/queryChanges", {"accountId": acc,
                                                        "sinceQueryState": q0["queryState"]})
        assert name == "Mailbox/queryChanges", r
        assert [a["id"] for a in r["added"]] == [ids["Other"]], r
        _, q1 = call(carol, "Mailbox/query", {"accountId": acc})
        assert ids["Other"] in q1["ids"], q1

        grant("Other", CAROL[0], "")
        name, r = call(carol, "Mailbox/queryChanges", {"accountId": acc,
                                                        "sinceQueryState": q1["queryState"]})
        assert name == "Mailbox/queryChanges", r
        assert r["removed"] == [ids["Other"]] and r["added"] == [], r
    finally:
        grant("Other", CAROL[0], "")
