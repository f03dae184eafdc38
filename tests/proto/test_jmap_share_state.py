"""A grant change is a change of its mailbox (RFC 8620 section 5.2, RFC
9670 section 4: shareWith is a Mailbox property): it moves the owner's
state, whoever writes it (JMAP Mailbox/set shareWith, IMAP SETACL,
`tern acl`), and the owner's Mailbox/changes names the mailbox updated.
IMAP's HIGHESTMODSEQ of the mailbox moves with the grant (RFC 7162), and
a FETCH CHANGEDSINCE over it reports no message. One server for the
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
