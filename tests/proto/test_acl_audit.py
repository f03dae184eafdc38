"""Authorization probes (RFC 4314, RFC 8620/8621 sharing) that pin rules
the other sharing tests leave out, each seen failing or written against
a rule that is easy to break:

- a mailbox the user may look up ("l") but not read ("r") shows no
  counts (totalEmails, unreadEmails, totalThreads, unreadThreads are 0),
  as IMAP's STATUS refuses without "r";
- a thread that spans a readable and an unreadable mailbox is, for the
  grantee, only its readable emails: the *InThreadHaveKeyword filters,
  collapseThreads, Thread/get, SearchSnippet/get, Blob/get and the
  download URL never see the other one;
- a CATENATE URL relative to the selected mailbox (";UID=n") reads that
  mailbox, a shared one too, never the user's own email that happens to
  carry the same number;
- the quota root of an owner ("Shared/OWNER", GETQUOTA) answers only a
  user that may look up one of the owner's mailboxes ("l"): a grant
  without "l" is no mailbox the user can see (RFC 4314 section 6);
- RENAME by another account needs "x" on every mailbox that moves with
  the one named, not on that one alone;
- DELETE (and JMAP's destroy) of a mailbox with a child the user may
  not see is refused as a missing right, never as "has children";
- a /shared METADATA entry of another's mailbox is set only with "w";
- IMAP STORE (and FETCH's implicit \\Seen) in a shared mailbox changes
  an email's keywords only with the right on every mailbox the email is
  in, as JMAP's Email/set (RFC 8621 section 2): the others are left as
  they are, the command says OK.

One server for the module: Bob owns the mailboxes (with a quota), Carol
and Dave are grantees."""
import re

from jmapc import MAIL, Jmap, shared_server
from test_imap import login
from test_imap_acl import cmd

BOB = ("bob@example.test", "bob-password-7Kq")
CAROL = ("carol@example.test", "carol-password-8Lw")
DAVE = ("dave@example.test", "dave-password-9Mz")
BLOB = "urn:ietf:params:jmap:blob"
CORE = "urn:ietf:params:jmap:core"

_st = {}


def srv():
    s = shared_server([CAROL, DAVE])
    if not _st:
        s.cli("account", "add", BOB[0], "--quota", "10M", input=BOB[1] + "\n")
        _st["bob"] = True
    return s


def imap(user):
    return login(srv(), user=user[0], pw=user[1])


def grant(name, who, rights):
    if rights:
        srv().cli("acl", "set", BOB[0], name, who, rights)
    else:
        srv().cli("acl", "del", BOB[0], name, who, check=False)


def setup():
    """Bob's Team (one seen message, the thread's start) and Private (its
    flagged, unread reply); their ids, and the emails' ids and blobs."""
    if "team" in _st:
        return _st
    s = srv()
    m = imap(BOB)
    for name in ("Team", "Private"):
        assert m.create(name)[0] == "OK"
    assert m.append("Team", "(\\Seen)", None,
                    b"From: a@remote.test\r\nMessage-ID: <plan@remote.test>\r\n"
                    b"Subject: plan\r\n\r\nteam plan body\r\n")[0] == "OK"
    assert m.append("Private", "(\\Flagged)", None,
                    b"From: b@remote.test\r\nMessage-ID: <reply@remote.test>\r\n"
                    b"In-Reply-To: <plan@remote.test>\r\nSubject: Re: plan\r\n\r\n"
                    b"private plan reply\r\n")[0] == "OK"
    m.logout()
    bob = Jmap(s, *BOB)
    _, r = bob.one("Mailbox/get", {"ids": None, "properties": ["name"]})
    for b in r["list"]:
        _st[b["name"]] = b["id"]
    _, r = bob.one("Email/query", {"filter": {"inMailbox": _st["Team"]}})
    _st["team"] = r["ids"][0]
    _, r = bob.one("Email/query", {"filter": {"inMailbox": _st["Private"]}})
    _st["private"] = r["ids"][0]
    _, r = bob.one("Email/get", {"ids": [_st["team"], _st["private"]],
                                 "properties": ["threadId", "blobId", "textBody"]})
    got = {e["id"]: e for e in r["list"]}
    _st["private_part"] = got[_st["private"]]["textBody"][0]["blobId"]
    assert got[_st["team"]]["threadId"] == got[_st["private"]]["threadId"], got
    _st["thread"] = got[_st["team"]]["threadId"]
    _st["private_blob"] = got[_st["private"]]["blobId"]
    _st["team_blob"] = got[_st["team"]]["blobId"]
    _st["account"] = bob.account
    return _st


def calls(j, batch, using=(CORE, MAIL)):
    return {c: (n, a) for n, a, c in j.call(batch, using)["methodResponses"]}


def test_counts_need_read():
    st = setup()
    carol = Jmap(srv(), *CAROL)
    acc = st["account"]
    counts = ["totalEmails", "unreadEmails", "totalThreads", "unreadThreads"]
    grant("Private", CAROL[0], "l")
    try:
        _, r = carol.one("Mailbox/get", {"accountId": acc, "ids": [st["Private"]],
                                         "properties": counts + ["myRights"]})
        b = r["list"][0]
        assert b["myRights"]["mayReadItems"] is False, b
        # Looked up, not read: the mailbox is there, what it holds is not
        # told (IMAP's STATUS needs "r" too).
        assert [b[k] for k in counts] == [0, 0, 0, 0], b
        # Nor is a change of them told: mail that comes is no change of
        # the mailbox Carol sees.
        since = r["state"]
        m = imap(BOB)
        assert m.append("Private", None, None, b"Subject: more\r\n\r\nx\r\n")[0] == "OK"
        m.logout()
        _, ch = carol.one("Mailbox/changes", {"accountId": acc, "sinceState": since})
        assert ch["updated"] == [] and ch["created"] == [] and ch["destroyed"] == [], ch
        assert ch["newState"] != since, ch
        grant("Private", CAROL[0], "lr")
        # With "r" the counts are the owner's.
        _, r = carol.one("Mailbox/get", {"accountId": acc, "ids": [st["Private"]],
                                         "properties": counts})
        _, own = Jmap(srv(), *BOB).one("Mailbox/get", {"ids": [st["Private"]],
                                                       "properties": counts})
        assert r["list"] == own["list"] and own["list"][0]["totalEmails"] == 2, (r, own)
    finally:
        grant("Private", CAROL[0], "")


def test_thread_across_an_unreadable_mailbox():
    st = setup()
    s = srv()
    carol = Jmap(s, *CAROL)
    acc = st["account"]
    grant("Team", CAROL[0], "lr")
    grant("Private", CAROL[0], "l")  # seen, not readable
    try:
        q = {"accountId": acc}
        got = calls(carol, [
            ["Email/query", dict(q, filter={"someInThreadHaveKeyword": "$flagged"}), "some"],
            ["Email/query", dict(q, filter={"allInThreadHaveKeyword": "$seen"}), "all"],
            ["Email/query", dict(q, filter={"noneInThreadHaveKeyword": "$flagged"}), "none"],
            ["Email/query", dict(q, collapseThreads=True,
                                 sort=[{"property": "receivedAt", "isAscending": False}]), "coll"],
            ["Thread/get", dict(q, ids=[st["thread"]]), "thr"],
            ["SearchSnippet/get", dict(q, emailIds=[st["team"], st["private"]],
                                       filter={"text": "plan"}), "snip"],
            ["Email/get", dict(q, ids=[st["private"]], properties=["id"]), "get"],
            ["Blob/get", dict(q, ids=[st["private_blob"], st["private_part"], st["team_blob"]],
                              properties=["size"]), "blob"],
        ], using=(CORE, MAIL, BLOB))
        # The flagged reply is not Carol's to see: no condition on the
        # thread looks at it.
        assert got["some"][1]["ids"] == [], got["some"]
        assert got["all"][1]["ids"] == [st["team"]], got["all"]
        assert got["none"][1]["ids"] == [st["team"]], got["none"]
        assert got["coll"][1]["ids"] == [st["team"]], got["coll"]
        assert got["thr"][1]["list"] == [{"id": st["thread"], "emailIds": [st["team"]]}], got["thr"]
        snip = got["snip"][1]
        assert [x["emailId"] for x in snip["list"]] == [st["team"]], snip
        assert snip["notFound"] == [st["private"]], snip
        assert got["get"][1]["notFound"] == [st["private"]], got["get"]
        blob = got["blob"][1]
        assert [x["id"] for x in blob["list"]] == [st["team_blob"]], blob
        assert sorted(blob["notFound"]) == sorted([st["private_blob"], st["private_part"]]), blob
        # The download URL: the readable blob, and a 404 for the other,
        # as for a blob that does not exist.
        st_ok, _, body = carol.request("GET", "/jmap/download/%s/%s/m.eml?accept=message/rfc822"
                                       % (acc, st["team_blob"]))
        assert st_ok == 200 and b"team plan body" in body, (st_ok, body)
        for blob_id in (st["private_blob"], st["private_part"], "B" + "0" * 64):
            code, _, body = carol.request("GET", "/jmap/download/%s/%s/m.eml" % (acc, blob_id))
            assert code == 404, (blob_id, code, body)
    finally:
        grant("Team", CAROL[0], "")
        grant("Private", CAROL[0], "")


def test_catenate_relative_url_reads_the_selected_shared_mailbox():
    setup()
    grant("Team", CAROL[0], "lr")
    c = imap(CAROL)
    try:
        # Carol has mail of her own, numbered as Bob's is.
        assert c.append("INBOX", None, None, b"Subject: mine\r\n\r\ncarol own body\r\n")[0] == "OK"
        assert c.select('"Shared/%s/Team"' % BOB[0], readonly=True)[0] == "OK"
        c.literal = None
        typ, text, _ = cmd(c, "APPEND", "INBOX", 'CATENATE (URL ";UID=1")')
        assert typ == "OK", text
        c.close()
        assert c.select("INBOX")[0] == "OK"
        typ, dat = c.fetch("*", "(BODY.PEEK[TEXT])")
        assert typ == "OK" and b"team plan body" in dat[0][1], dat
    finally:
        c.logout()
        grant("Team", CAROL[0], "")


def test_owner_quota_root_needs_lookup():
    setup()
    d = imap(DAVE)
    root = '"Shared/%s"' % BOB[0]
    try:
        absent = cmd(d, "GETQUOTA", '"Shared/nobody@example.test"')[:2]
        assert absent[0] == "NO" and b"[NONEXISTENT]" in absent[1], absent
        # A grant without "l" is no mailbox Dave can see: nor is Bob's
        # quota root, answered as one that does not exist.
        grant("Private", DAVE[0], "w")
        assert cmd(d, "GETQUOTA", root)[:2] == absent
        grant("Private", DAVE[0], "lw")
        typ, quota = d.getquota(root)
        assert typ == "OK" and quota[0].startswith(b'"Shared/%s" (STORAGE '
                                                             % BOB[0].encode()), quota
    finally:
        d.logout()
        grant("Private", DAVE[0], "")



def test_rename_moves_only_mailboxes_the_user_may_rename():
    """RENAME takes the mailboxes under the one named along: another
    account needs "x" on each of them too, not on the top one alone."""
    setup()
    m = imap(BOB)
    for name in ("Proj", "Proj/Hidden"):
        assert m.create(name)[0] == "OK"
    grant("Proj", CAROL[0], "lrx")
    grant("INBOX", CAROL[0], "lk")  # a new top level needs "k" there
    c = imap(CAROL)
    pre = "Shared/%s/" % BOB[0]
    try:
        typ, text, _ = cmd(c, "RENAME", '"%sProj"' % pre, '"%sMoved"' % pre)
        assert typ == "NO" and b"[NOPERM]" in text, text
        names = [x.decode() for x in m.list('""', "*")[1]]
        assert any(x.endswith('"Proj/Hidden"') or x.endswith(" Proj/Hidden") for x in names), names
        assert not any("Moved" in x for x in names), names
        # With "x" on the one below as well, the rename is Carol's to do.
        grant("Proj/Hidden", CAROL[0], "lx")
        typ, text, _ = cmd(c, "RENAME", '"%sProj"' % pre, '"%sMoved"' % pre)
        assert typ == "OK", text
        names = [x.decode() for x in m.list('""', "Moved*")[1]]
        assert len(names) == 2 and any("Moved/Hidden" in x for x in names), names
    finally:
        c.logout()
        for name in ("Proj", "Proj/Hidden", "Moved", "Moved/Hidden", "INBOX"):
            grant(name, CAROL[0], "")
        m.logout()


def test_delete_with_a_child_the_user_cannot_see():
    """DELETE of a mailbox with a child the user may not look up: the
    refusal does not say a child is there (RFC 4314 §6: without "l" it is
    no mailbox of the user's), it is a right the user lacks, NOPERM, as
    for RENAME; with the child in sight it is HASCHILDREN (RFC 9051
    §6.3.5). JMAP's destroy says the same: forbidden, then
    mailboxHasChild."""
    setup()
    m = imap(BOB)
    for name in ("Attic", "Attic/Hidden"):
        assert m.create(name)[0] == "OK"
    grant("Attic", CAROL[0], "lrx")
    c = imap(CAROL)
    carol = Jmap(srv(), *CAROL)
    attic = '"Shared/%s/Attic"' % BOB[0]
    try:
        _, r = Jmap(srv(), *BOB).one("Mailbox/get", {"ids": None, "properties": ["name"]})
        box = [b["id"] for b in r["list"] if b["name"] == "Attic"][0]
        typ, text, _ = cmd(c, "DELETE", attic)
        assert typ == "NO" and b"[NOPERM]" in text and b"child" not in text.lower(), text
        _, r = carol.one("Mailbox/set", {"accountId": _st["account"], "destroy": [box]})
        err = r["notDestroyed"][box]
        assert err["type"] == "forbidden" and "child" not in str(err).lower(), err
        # The child in sight: it is there, and in the way.
        grant("Attic/Hidden", CAROL[0], "l")
        typ, text, _ = cmd(c, "DELETE", attic)
        assert typ == "NO" and (b"[HASCHILDREN]" in text or b"[CANNOT]" in text), text
        _, r = carol.one("Mailbox/set", {"accountId": _st["account"], "destroy": [box]})
        assert r["notDestroyed"][box]["type"] == "mailboxHasChild", r
        assert any(b"Attic" in x for x in m.list('""', "Attic*")[1]), "deleted"
    finally:
        c.logout()
        for name in ("Attic/Hidden", "Attic"):
            grant(name, CAROL[0], "")
            m.delete(name)
        m.logout()


def test_setmetadata_shared_entry_needs_write():
    """A /shared entry of Bob's mailbox is what Bob and every grantee read
    (RFC 5464 §3.2): a grantee who may only read ("lr") reads it and sets
    its own /private entries, but changing a /shared one takes "w" (as
    Cyrus asks; RFC 5464's "l" and one of "rswip" is the floor for
    either). "a" alone is none of "rswip": no entry at all."""
    setup()
    m = imap(BOB)
    c = imap(DAVE)
    team = '"Shared/%s/Team"' % BOB[0]
    try:
        assert cmd(m, "SETMETADATA", "Team", '(/shared/comment "bob")')[0] == "OK"
        grant("Team", DAVE[0], "lr")
        typ, text, lines = cmd(c, "GETMETADATA", team, "/shared/comment")
        assert typ == "OK" and lines == [b'Shared/%s/Team (/shared/comment "bob")'
                                         % BOB[0].encode()], (text, lines)
        assert cmd(c, "SETMETADATA", team, '(/private/comment "dave")')[0] == "OK"
        typ, text, _ = cmd(c, "SETMETADATA", team, '(/shared/comment "dave")')
        assert typ == "NO" and b"[NOPERM]" in text, text
        # All or nothing: the /private one beside it is not set either.
        typ, text, _ = cmd(c, "SETMETADATA", team,
                           '(/private/comment "two" /shared/comment NIL)')
        assert typ == "NO" and b"[NOPERM]" in text, text
        typ, text, lines = cmd(c, "GETMETADATA", team, "(/private/comment /shared/comment)")
        assert lines == [b'Shared/%s/Team (/private/comment "dave" /shared/comment "bob")'
                         % BOB[0].encode()], lines
        grant("Team", DAVE[0], "la")
        typ, text, _ = cmd(c, "GETMETADATA", team, "/shared/comment")
        assert typ == "NO" and b"[NOPERM]" in text, text
        grant("Team", DAVE[0], "lrw")
        assert cmd(c, "SETMETADATA", team, '(/shared/comment "dave")')[0] == "OK"
        typ, _, lines = cmd(m, "GETMETADATA", "Team", "/shared/comment")
        assert lines == [b'Team (/shared/comment "dave")'], lines
    finally:
        c.logout()
        grant("Team", DAVE[0], "")
        cmd(m, "SETMETADATA", "Team", "(/shared/comment NIL)")
        m.logout()


def _flags(dat):
    """{uid: set of flags but \\Recent} from the FETCH lines of a STORE
    or FETCH."""
    out = {}
    for x in dat:
        line = x[0] if isinstance(x, tuple) else x
        if not line:
            continue
        u = re.search(rb"UID (\d+)", line)
        f = re.search(rb"FLAGS \(([^)]*)\)", line)
        if u and f:
            out[int(u.group(1))] = set(f.group(1).decode().split()) - {"\\Recent"}
    return out


def test_store_needs_the_right_on_every_mailbox_of_the_email():
    """tern keeps one keyword set per email (JMAP's model): Bob's "one" is
    in Desk, shared with Carol, and in Vault, which is not. A keyword
    Carol stores through Desk would change what Bob sees in Vault, so it
    needs the right on Vault too, as Email/set asks (RFC 8621 section 2).
    Without it the message is left as it is for those flags and the
    STORE says OK (as RFC 4314 section 4 does for a flag without its
    right); "two", only in Desk, changes as before; \\Deleted belongs to
    the one message in Desk and needs "t" there alone."""
    setup()
    m = imap(BOB)
    for name in ("Desk", "Vault"):
        assert m.create(name)[0] == "OK"
    for subject in (b"one", b"two"):
        assert m.append("Desk", None, None, b"Subject: " + subject + b"\r\n\r\nx\r\n")[0] == "OK"
    bob = Jmap(srv(), *BOB)
    _, r = bob.one("Mailbox/get", {"ids": None, "properties": ["name"]})
    box = {b["name"]: b["id"] for b in r["list"]}
    _, r = bob.one("Email/query", {"filter": {"inMailbox": box["Desk"]},
                                   "sort": [{"property": "receivedAt"}]})
    one, two = r["ids"]
    _, r = bob.one("Email/set", {"update": {one: {"mailboxIds/%s" % box["Vault"]: True}}})
    assert one in r["updated"], r

    def keywords(eid):
        _, r = bob.one("Email/get", {"ids": [eid], "properties": ["keywords"]})
        return set(k.lower() for k in r["list"][0]["keywords"])

    grant("Desk", CAROL[0], "lrswt")
    c = imap(CAROL)
    try:
        assert c.select('"Shared/%s/Desk"' % BOB[0])[0] == "OK"
        typ, dat = c.uid("STORE", "1", "+FLAGS", r"(\Flagged $Carol \Deleted)")
        assert typ == "OK", dat
        assert _flags(dat) == {1: {r"\Deleted"}}, dat
        assert keywords(one) == set(), keywords(one)
        typ, dat = c.store("2", "+FLAGS", r"(\Flagged $Carol)")
        assert typ == "OK", dat
        assert keywords(two) == {"$flagged", "$carol"}, keywords(two)
        # FLAGS replaces: the keywords of "one" stay, its \Deleted goes.
        typ, dat = c.uid("STORE", "1", "FLAGS", r"(\Answered)")
        assert typ == "OK" and _flags(dat) == {1: set()}, dat
        # Nor does reading "one" make it \Seen in Vault: no "s" there.
        typ, dat = c.uid("FETCH", "1", "(BODY[])")
        assert typ == "OK", dat
        assert keywords(one) == set(), keywords(one)
        # With "s" on Vault as well, \Seen is Carol's to set, the others
        # (they need "w") still not.
        grant("Vault", CAROL[0], "ls")
        typ, dat = c.uid("FETCH", "1", "(BODY[])")
        assert typ == "OK", dat
        assert keywords(one) == {"$seen"}, keywords(one)
        typ, dat = c.uid("FETCH", "1", "(FLAGS)")
        assert typ == "OK" and _flags(dat) == {1: {r"\Seen"}}, dat
        typ, dat = c.uid("STORE", "1", "-FLAGS", r"(\Seen)")
        assert typ == "OK" and keywords(one) == set(), dat
        typ, dat = c.uid("STORE", "1", "+FLAGS", r"(\Seen \Flagged)")
        assert typ == "OK" and _flags(dat) == {1: {r"\Seen"}}, dat
        assert keywords(one) == {"$seen"}, keywords(one)
    finally:
        c.logout()
        grant("Desk", CAROL[0], "")
        grant("Vault", CAROL[0], "")
        m.logout()
