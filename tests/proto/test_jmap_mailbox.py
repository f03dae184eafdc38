"""JMAP Mailbox and Thread (RFC 8621 §2-3) on the same store as IMAP:
Mailbox/get with roles, rights and counts, /query (filters, sorts,
sortAsTree, anchors), /set (create with a parent by creation id, rename,
subscribe, destroy with its errors, ifInState), /changes (exact, with the
counts as updatedProperties and maxChanges), and Thread/get and
Thread/changes; across protocols: IMAP sees JMAP's mailboxes, an IMAP flag
change and EXPUNGE show in Mailbox/changes, and IMAP THREADID equals JMAP's
Thread ids, and MAILBOXID and EMAILID equal JMAP's Mailbox and Email ids
(RFC 9698 §4); GETJMAPACCESS names the session. One server for the module."""
import os
import re
import smtplib

from jmapc import Jmap, shared_server
from test_imap import Raw
from test_imap_search_ext import cmd, wait_count

BOB = ("bob@example.test", "bob-password-1")
ANN = ("ann@example.test", "ann-password-1-Vq8r")
CAROL = ("carol@example.test", "carol-password-19")
DAVE = ("dave@example.test", "dave-password-7Kq2")
ERIN = ("erin@example.test", "erin-password-4Wd9")
FRED = ("fred@example.test", "fred-password-8Hn3")
GINA = ("gina@example.test", "gina-password-3Tz6")
HANK = ("hank@example.test", "hank-password-5Rm1")
IVY = ("ivy@example.test", "ivy-password-2Gx7")
JUNE = ("june@example.test", "june-password-6Pc4")
ACCOUNTS = [BOB, ANN, CAROL, DAVE, ERIN, FRED, GINA, HANK, IVY, JUNE]

HDR = "From: alice@remote.test\r\nTo: %s\r\nSubject: %s\r\n"
MSGS = [
    "Message-ID: <p1@remote.test>\r\n" + HDR + "\r\none\r\n",
    "Message-ID: <p2@remote.test>\r\nIn-Reply-To: <p1@remote.test>\r\n" + HDR % ("%s", "Re: Plans") + "\r\ntwo\r\n",
    HDR + "\r\nthree\r\n",
]


def srv():
    return shared_server(ACCOUNTS)


def deliver(s, user, texts):
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        for t in texts:
            c.sendmail("alice@remote.test", [user], t)
    wait_count(s, len(texts), account=user)


def imap(s, user, pw):
    r = Raw(s)
    r.send("l LOGIN %s %s\r\n" % (user, pw))
    assert r.until_tag("l")[-1].startswith(b"l OK")
    return r


def rss_anon(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def by_name(lst):
    return {m["name"]: m for m in lst}


def test_jmap_mailbox_get_query_threads():
    s = srv()
    user, pw = BOB
    deliver(s, user, [MSGS[0] % (user, "Plans"), MSGS[1] % user, MSGS[2] % (user, "Other")])
    j = Jmap(s, user, pw)
    _, g = j.one("Mailbox/get", {"ids": None})
    assert re.fullmatch(r"\d+", g["state"]) and g["notFound"] == [], g
    mbs = by_name(g["list"])
    assert sorted(mbs) == ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"], mbs
    inbox = mbs["INBOX"]
    rights = {k: True for k in ("mayReadItems", "mayAddItems", "mayRemoveItems", "maySetSeen",
                                "maySetKeywords", "mayCreateChild", "mayRename", "mayDelete",
                                "maySubmit", "mayShare")}
    assert inbox == {"id": inbox["id"], "name": "INBOX", "parentId": None, "role": "inbox",
                     "sortOrder": 0, "totalEmails": 3, "unreadEmails": 3, "totalThreads": 2,
                     "unreadThreads": 2, "myRights": dict(rights, mayRename=False, mayDelete=False),
                     "isSubscribed": True, "shareWith": {}}, inbox
    assert mbs["Trash"]["role"] == "trash" and mbs["Trash"]["totalEmails"] == 0
    assert mbs["Trash"]["myRights"] == rights
    _, g2 = j.one("Mailbox/get", {"ids": [inbox["id"], "M7fffffff"], "properties": ["role"]})
    assert g2["list"] == [{"id": inbox["id"], "role": "inbox"}] and g2["notFound"] == ["M7fffffff"]

    # Mailbox/query.
    _, q = j.one("Mailbox/query", {"filter": {"hasAnyRole": True}, "sort": [{"property": "name"}],
                                   "calculateTotal": True})
    names = {m["id"]: n for n, m in mbs.items()}
    assert [names[i] for i in q["ids"]] == ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]
    assert q["total"] == 6 and q["position"] == 0 and q["canCalculateChanges"] is True, q
    _, q = j.one("Mailbox/query", {"filter": {"operator": "NOT", "conditions": [{"name": "r"}]},
                                   "sort": [{"property": "name", "isAscending": False}]})
    assert [names[i] for i in q["ids"]] == ["Sent", "Junk", "INBOX"], q
    _, q = j.one("Mailbox/query", {"sort": [{"property": "name"}], "anchor": mbs["INBOX"]["id"],
                                   "anchorOffset": 1, "limit": 2})
    assert [names[i] for i in q["ids"]] == ["Junk", "Sent"] and q["position"] == 3, q
    name, q = j.one("Mailbox/query", {"anchor": "M7fffffff"})
    assert name == "error" and q["type"] == "anchorNotFound", q
    name, q = j.one("Mailbox/query", {"sort": [{"property": "totalEmails"}]})
    assert name == "error" and q["type"] == "unsupportedSort", q
    name, q = j.one("Mailbox/query", {"filter": {"color": "red"}})
    assert name == "error" and q["type"] == "unsupportedFilter", q
    name, q = j.one("Mailbox/queryChanges", {"sinceQueryState": "x1"})
    assert name == "error" and q["type"] == "cannotCalculateChanges", q

    # Threads: IMAP's THREADID is JMAP's Thread id; emailIds oldest first.
    r = imap(s, user, pw)
    cmd(r, "s", "SELECT INBOX")
    u, _ = cmd(r, "f", "FETCH 1:3 (EMAILID THREADID)")
    got = [re.search(rb"EMAILID \((E[0-9a-f]{8})\) THREADID \((T[0-9a-f]{8})\)", x).groups()
           for x in u]
    got = [(e.decode(), t.decode()) for e, t in got]
    assert got[0][1] == got[1][1] != got[2][1], got
    _, t = j.one("Thread/get", {"ids": [got[0][1], got[2][1], "T7fffffff"]})
    assert t["list"] == [{"id": got[0][1], "emailIds": [got[0][0], got[1][0]]},
                         {"id": got[2][1], "emailIds": [got[2][0]]}], t
    assert t["notFound"] == ["T7fffffff"] and t["state"] == g["state"], t
    by_id = t["list"]
    # ids null: every thread of the account (RFC 8620 §5.1), these two.
    _, t = j.one("Thread/get", {"ids": None})
    assert sorted(t["list"], key=lambda x: x["id"]) == sorted(by_id, key=lambda x: x["id"]), t
    assert t["notFound"] == [], t

    # An IMAP flag change: Mailbox/changes names INBOX with the counts.
    state = g["state"]
    cmd(r, "st", "STORE 3 +FLAGS (\\Seen)")
    _, ch = j.one("Mailbox/changes", {"sinceState": state})
    assert ch == {"accountId": j.account, "oldState": state, "newState": ch["newState"],
                  "hasMoreChanges": False, "created": [], "updated": [inbox["id"]], "destroyed": [],
                  "updatedProperties": ["totalEmails", "unreadEmails", "totalThreads",
                                        "unreadThreads"]}, ch
    assert int(ch["newState"]) > int(state)
    _, g3 = j.one("Mailbox/get", {"ids": [inbox["id"]],
                                  "properties": ["unreadEmails", "unreadThreads"]})
    assert g3["list"] == [{"id": inbox["id"], "unreadEmails": 2, "unreadThreads": 1}], g3
    _, tc = j.one("Thread/changes", {"sinceState": state})
    assert tc["created"] == [] and tc["updated"] == [] and tc["destroyed"] == [], tc
    _, tc = j.one("Thread/changes", {"sinceState": "0"})
    assert sorted(tc["created"]) == sorted([got[0][1], got[2][1]]) and tc["updated"] == [], tc
    name, tc = j.one("Thread/changes", {"sinceState": "99999"})
    assert name == "error" and tc["type"] == "cannotCalculateChanges", tc
    # IMAP EXPUNGE: the counts change again.
    cmd(r, "st2", "STORE 3 +FLAGS (\\Deleted)")
    cmd(r, "ex", "EXPUNGE")
    _, ch2 = j.one("Mailbox/changes", {"sinceState": ch["newState"]})
    assert ch2["updated"] == [inbox["id"]] and ch2["created"] == [] == ch2["destroyed"], ch2
    _, g4 = j.one("Mailbox/get", {"ids": [inbox["id"]], "properties": ["totalEmails", "totalThreads"]})
    assert g4["list"] == [{"id": inbox["id"], "totalEmails": 2, "totalThreads": 1}], g4
    r.close()


def test_jmap_mailbox_counts_kept():
    """The counts the store keeps (RFC 8621 §2): a draft is not unread, a
    thread is unread in every mailbox it has an email in, and an unread
    email moved to the trash leaves the other mailboxes' unreadThreads
    and counts in the trash's."""
    s = srv()
    user, pw = CAROL
    deliver(s, user, [MSGS[0] % (user, "Plans"), MSGS[1] % user, MSGS[2] % (user, "Other")])
    r = imap(s, user, pw)
    cmd(r, "s", "SELECT INBOX")
    cmd(r, "d", "STORE 3 +FLAGS (\\Draft)")
    cmd(r, "f", "STORE 1 +FLAGS (\\Seen)")
    j = Jmap(s, user, pw)
    props = ["name", "totalEmails", "unreadEmails", "totalThreads", "unreadThreads"]
    _, g = j.one("Mailbox/get", {"properties": props})
    mbs = by_name(g["list"])
    inbox, trash, archive = mbs["INBOX"]["id"], mbs["Trash"]["id"], mbs["Archive"]["id"]
    assert mbs["INBOX"] == {"id": inbox, "name": "INBOX", "totalEmails": 3, "unreadEmails": 1,
                            "totalThreads": 2, "unreadThreads": 1}, mbs["INBOX"]
    _, q = j.one("Email/query", {"filter": {"inMailbox": inbox}, "sort": [{"property": "id"}]})
    e1, e2, _e3 = q["ids"]
    # e1 (read) also in Archive: its thread is unread there through e2.
    _, st = j.one("Email/set", {"update": {e1: {"mailboxIds/" + archive: True}}})
    assert e1 in st["updated"], st
    _, g = j.one("Mailbox/get", {"ids": [archive], "properties": props[1:]})
    assert g["list"] == [{"id": archive, "totalEmails": 1, "unreadEmails": 0, "totalThreads": 1,
                          "unreadThreads": 1}], g
    # e2 (unread) to the trash: ignored by the others, counted there.
    _, st = j.one("Email/set", {"update": {e2: {"mailboxIds": {trash: True}}}})
    assert e2 in st["updated"], st
    _, g = j.one("Mailbox/get", {"ids": [inbox, archive, trash], "properties": props[1:]})
    assert g["list"] == [
        {"id": inbox, "totalEmails": 2, "unreadEmails": 0, "totalThreads": 2, "unreadThreads": 0},
        {"id": archive, "totalEmails": 1, "unreadEmails": 0, "totalThreads": 1, "unreadThreads": 0},
        {"id": trash, "totalEmails": 1, "unreadEmails": 1, "totalThreads": 1, "unreadThreads": 1},
    ], g
    r.close()


def test_jmap_mailbox_set_and_changes():
    s = srv()
    user, pw = ANN
    j = Jmap(s, user, pw)
    _, g = j.one("Mailbox/get", {})
    state0 = g["state"]
    mbs = by_name(g["list"])
    _, st = j.one("Mailbox/set", {"ifInState": state0, "create": {
        "p": {"name": "Projects", "isSubscribed": True},
        "c": {"name": "2026", "parentId": "#p"},
        "bad1": {"name": "a/b"},
        "bad2": {"name": "Trash"},
        "bad3": {"name": "X", "totalEmails": 5},
        "bad4": {"name": "X", "parentId": "M7fffffff"},
    }})
    assert set(st["created"]) == {"p", "c"}, st
    p, c = st["created"]["p"]["id"], st["created"]["c"]["id"]
    rights = {k: True for k in ("mayReadItems", "mayAddItems", "mayRemoveItems", "maySetSeen",
                                "maySetKeywords", "mayCreateChild", "mayRename", "mayDelete",
                                "maySubmit", "mayShare")}
    # What the server set, and the defaults of what the client left out
    # (RFC 8620 §5.3): parentId and role, but not for c, which gave one.
    assert st["created"]["p"] == {"id": p, "sortOrder": 0, "isSubscribed": True, "totalEmails": 0,
                                  "unreadEmails": 0, "totalThreads": 0, "unreadThreads": 0,
                                  "myRights": rights, "parentId": None, "role": None}, st
    assert "parentId" not in st["created"]["c"] and st["created"]["c"]["role"] is None, st
    # isSubscribed left out: true for the user's own new mailbox (RFC 8621 §2).
    assert st["created"]["c"]["isSubscribed"] is True, st
    assert {k: v["type"] for k, v in st["notCreated"].items()} == {
        "bad1": "invalidProperties", "bad2": "alreadyExists", "bad3": "invalidProperties",
        "bad4": "invalidProperties"}, st
    assert st["notCreated"]["bad2"]["existingId"] == mbs["Trash"]["id"], st
    assert st["notCreated"]["bad3"]["properties"] == ["totalEmails"]
    assert st["oldState"] == state0 and int(st["newState"]) > int(state0)
    _, g = j.one("Mailbox/get", {"ids": [c]})
    assert g["list"][0]["parentId"] == p and g["list"][0]["name"] == "2026", g

    # IMAP sees them, with the hierarchy.
    r = imap(s, user, pw)
    u, _ = cmd(r, "l", 'LIST "" "Projects*"')
    assert sorted(u) == [b'* LIST (\\HasChildren) "/" Projects',
                         b'* LIST (\\HasNoChildren) "/" Projects/2026'], u

    # Rename (children follow), stale state, then destroys with their errors.
    name, e = j.one("Mailbox/set", {"ifInState": state0, "update": {p: {"name": "Work"}}})
    assert name == "error" and e["type"] == "stateMismatch", e
    _, st2 = j.one("Mailbox/set", {"update": {p: {"name": "Work"}, c: {"isSubscribed": True},
                                              mbs["INBOX"]["id"]: {"name": "Box"},
                                              "M7fffffff": {"name": "x"},
                                              mbs["Trash"]["id"]: {"role": "junk"}}})
    assert st2["updated"] == {p: None, c: None}, st2
    assert {k: v["type"] for k, v in st2["notUpdated"].items()} == {
        mbs["INBOX"]["id"]: "forbidden", "M7fffffff": "notFound",
        mbs["Trash"]["id"]: "invalidProperties"}, st2
    u, _ = cmd(r, "l2", 'LSUB "" "Work*"')
    assert sorted(u) == [b'* LSUB () "/" Work/2026'] or b'Work/2026' in b"".join(u), u
    u, _ = cmd(r, "l3", 'LIST "" "Work*"')
    assert len(u) == 2 and b'Work/2026' in u[1] + u[0], u
    # A message in the child: destroying it needs onDestroyRemoveEmails.
    data = b"Subject: x\r\n\r\nx\r\n"
    r.send("a APPEND Work/2026 {%d}\r\n" % len(data))
    assert r.line().startswith(b"+")
    r.send(data + b"\r\n")
    assert r.until_tag("a")[-1].startswith(b"a OK")
    _, d = j.one("Mailbox/set", {"destroy": [p, c, mbs["INBOX"]["id"]]})
    assert {k: v["type"] for k, v in d["notDestroyed"].items()} == {
        p: "mailboxHasChild", c: "mailboxHasEmail", mbs["INBOX"]["id"]: "forbidden"}, d
    # The parent named before its child goes too: children are destroyed
    # first (it was mailboxHasChild).
    _, d = j.one("Mailbox/set", {"destroy": [p, c], "onDestroyRemoveEmails": True})
    assert d["destroyed"] == [c, p] and d["notDestroyed"] is None, d
    u, _ = cmd(r, "l4", 'LIST "" "Work*"')
    assert u == [], u
    r.close()

    # Changes since the start: created and destroyed since cancel out.
    _, ch = j.one("Mailbox/changes", {"sinceState": state0})
    assert ch["created"] == [] and ch["destroyed"] == [] and ch["updated"] == [], ch
    assert ch["hasMoreChanges"] is False and ch["newState"] == d["newState"], ch
    # maxChanges: one modseq at a time (each set above was its own commits).
    _, st3 = j.one("Mailbox/set", {"create": {"a": {"name": "A1"}}})
    _, st4 = j.one("Mailbox/set", {"create": {"b": {"name": "B1"}}})
    a1, b1 = st3["created"]["a"]["id"], st4["created"]["b"]["id"]
    _, ch = j.one("Mailbox/changes", {"sinceState": d["newState"], "maxChanges": 1})
    assert ch["created"] == [a1] and ch["hasMoreChanges"] is True, ch
    _, ch = j.one("Mailbox/changes", {"sinceState": ch["newState"], "maxChanges": 1})
    assert ch["created"] == [b1] and ch["hasMoreChanges"] is False, ch
    assert ch["newState"] == st4["newState"]
    for bad in ("", "x", "-1", "01", "99999999"):
        name, e = j.one("Mailbox/changes", {"sinceState": bad})
        assert name == "error" and e["type"] == "cannotCalculateChanges", (bad, e)
    name, e = j.one("Mailbox/changes", {"sinceState": "1", "maxChanges": 0})
    assert name == "error" and e["type"] == "invalidArguments", e


def test_jmap_mailbox_sort_order_kept():
    """sortOrder (RFC 8621 §2) is kept: set at create and by update, read
    back by Mailbox/get, told by Mailbox/changes as an update, used by
    Mailbox/query's sort, kept across an IMAP RENAME; a value that is no
    UnsignedInt of 32 bits is invalidProperties."""
    s = srv()
    user, pw = CAROL
    j = Jmap(s, user, pw)
    _, st = j.one("Mailbox/set", {"create": {
        "a": {"name": "Zeta", "sortOrder": 5},
        "b": {"name": "Alpha", "sortOrder": 10},
        "neg": {"name": "N1", "sortOrder": -1},
        "big": {"name": "N2", "sortOrder": 2 ** 32},
        "str": {"name": "N3", "sortOrder": "1"},
    }})
    assert set(st["created"]) == {"a", "b"}, st
    assert st["created"]["a"]["sortOrder"] == 5 and st["created"]["b"]["sortOrder"] == 10, st
    assert {k: (v["type"], v["properties"]) for k, v in st["notCreated"].items()} == {
        k: ("invalidProperties", ["sortOrder"]) for k in ("neg", "big", "str")}, st
    a, b = st["created"]["a"]["id"], st["created"]["b"]["id"]
    _, g = j.one("Mailbox/get", {"ids": [a, b], "properties": ["sortOrder"]})
    assert {m["id"]: m["sortOrder"] for m in g["list"]} == {a: 5, b: 10}, g
    state = g["state"]

    def order():
        _, q = j.one("Mailbox/query", {"filter": {"name": "a"},
                                       "sort": [{"property": "sortOrder"}, {"property": "name"}]})
        return [x for x in q["ids"] if x in (a, b)]

    assert order() == [a, b]
    _, st = j.one("Mailbox/set", {"update": {a: {"sortOrder": 20}, b: {"sortOrder": 4294967295}}})
    assert set(st["updated"]) == {a, b}, st
    _, ch = j.one("Mailbox/changes", {"sinceState": state})
    assert set(ch["updated"]) == {a, b} and ch["created"] == [] and ch["destroyed"] == [], ch
    assert order() == [a, b]
    _, st = j.one("Mailbox/set", {"update": {b: {"sortOrder": 1}}})
    assert order() == [b, a]
    _, st = j.one("Mailbox/set", {"update": {a: {"sortOrder": -3}}})
    assert st["notUpdated"][a]["type"] == "invalidProperties", st

    # An IMAP RENAME keeps it.
    r = imap(s, user, pw)
    cmd(r, "r", "RENAME Zeta Zeta2")
    _, g = j.one("Mailbox/get", {"ids": [a], "properties": ["name", "sortOrder"]})
    assert g["list"][0] == {"id": a, "name": "Zeta2", "sortOrder": 20}, g


def test_jmap_mailbox_get_all_past_max_objects():
    """Mailbox/get with ids null lists every mailbox of an account with
    more of them than maxObjectsInGet (500; TERN_MAX_MAILBOXES is 1,000
    by default): a client learns the folder tree from that one call.
    Explicit ids stay held to maxObjectsInGet; the Mailbox/set of
    hundreds of creates keeps its memory small. Mailbox/changes over
    those hundreds of mailboxes, whole and in pages, names each once."""
    s = srv()
    j = Jmap(s, *DAVE)
    acc = j.account
    s0 = j.one("Mailbox/get", {"ids": []})[1]["state"]
    # One call of 495 creates where its memory is measured; a sanitized
    # build, slower, makes them in five calls (each within the client's
    # timeout) and does not measure (its allocator keeps memory its way).
    plain = os.environ.get("TERN_TEST_BUILD", "plain") == "plain"
    rss0 = rss_anon(s.proc.pid)
    made = set()
    for k in range(0, 495, 495 if plain else 99):
        r = j.one("Mailbox/set", {"create": {
            "m%d" % i: {"name": "f%03d" % i} for i in range(k, k + (495 if plain else 99))}})[1]
        assert len(r["created"]) == (495 if plain else 99), r
        made |= {v["id"] for v in r["created"].values()}
    # Each create reloads the list, into memory of its own: kept in the
    # request's arena, the 495 lists grew the server by some 36 MiB.
    grew = rss_anon(s.proc.pid) - rss0
    assert not plain or grew < 16 << 20, grew
    name, g = j.one("Mailbox/get", {"ids": None, "properties": ["name"]})
    assert name == "Mailbox/get", g
    assert len(g["list"]) == 501 and made <= {m["id"] for m in g["list"]}, len(g["list"])
    ids = [m["id"] for m in g["list"]]
    name, g = j.one("Mailbox/get", {"ids": ids, "properties": ["name"]})
    assert name == "error" and g["type"] == "requestTooLarge", g
    name, g = j.one("Mailbox/get", {"ids": ids[:500], "properties": ["name"]})
    assert name == "Mailbox/get" and len(g["list"]) == 500, g
    _, ch = j.one("Mailbox/changes", {"sinceState": s0})
    assert set(ch["created"]) == made and len(ch["created"]) == 495, ch
    assert ch["updated"] == [] and ch["destroyed"] == [] and not ch["hasMoreChanges"], ch
    seen, since = [], s0
    while True:
        _, ch = j.one("Mailbox/changes", {"sinceState": since, "maxChanges": 100})
        assert len(ch["created"]) <= 100 and not ch["updated"] and not ch["destroyed"], ch
        seen += ch["created"]
        since = ch["newState"]
        if not ch["hasMoreChanges"]:
            break
    assert sorted(seen) == sorted(made), len(seen)


def test_jmap_mailbox_query_as_tree():
    """Mailbox/query's sortAsTree (RFC 8621 §2.3): each parent followed
    by its children in the sort's order, a mailbox whose parent is not in
    the results a root, however deep the tree (70 levels here); with
    filterAsTree a mailbox shows only when its parents all match."""
    j = Jmap(srv(), *ERIN)
    create = {"t": {"name": "Tree"}, "b": {"name": "b", "parentId": "#t"},
              "a": {"name": "a", "parentId": "#t"}, "c": {"name": "c", "parentId": "#t"},
              "ax": {"name": "x", "parentId": "#a"}, "cy": {"name": "y", "parentId": "#c"}}
    create.update({"d%d" % i: {"name": "dd", "parentId": "#d%d" % (i - 1) if i else "#t"}
                   for i in range(70)})
    _, r = j.one("Mailbox/set", {"create": create})
    assert len(r["created"]) == len(create), r["notCreated"]
    _, g = j.one("Mailbox/get", {"ids": None, "properties": ["name", "parentId"]})
    mbs = {m["id"]: m for m in g["list"]}

    def matches(m, needle, negate):
        return (needle in m["name"].lower()) != negate

    def expected(needle, negate, filter_tree):
        def shown(m):
            ok = matches(m, needle, negate)
            if filter_tree and ok and m["parentId"]:
                return shown(mbs[m["parentId"]])
            return ok
        hits = [m for m in mbs.values() if shown(m)]
        ids = {m["id"] for m in hits}
        out = []

        def walk(parent):
            for m in sorted((m for m in hits if (m["parentId"] if m["parentId"] in ids else None)
                             == parent), key=lambda m: (m["name"].upper(), m["name"], m["id"]),
                             reverse=True):
                out.append(m["id"])
                walk(m["id"])
        walk(None)
        return out

    for needle, negate, filter_tree in [("", False, False), ("c", True, True),
                                        ("d", False, False), ("d", False, True)]:
        cond = {"name": needle}
        _, q = j.one("Mailbox/query", {
            "filter": {"operator": "NOT", "conditions": [cond]} if negate else cond,
            "sort": [{"property": "name", "isAscending": False}],
            "sortAsTree": True, "filterAsTree": filter_tree})
        want = expected(needle, negate, filter_tree)
        assert q["ids"] == want, (needle, negate, filter_tree,
                                  [mbs[i]["name"] for i in q["ids"]], [mbs[i]["name"] for i in want])

    # Names sort without regard to case (RFC 8620 §5.5: the default
    # collation SHOULD be case-insensitive; i;ascii-casemap is): "apple",
    # "Banana", "cherry", not the capital first as it was.
    _, r = j.one("Mailbox/set", {"create": {"p": {"name": "Case"},
                                            **{n: {"name": n, "parentId": "#p"}
                                               for n in ("cherry", "Banana", "apple")}}})
    kids = {n: r["created"][n]["id"] for n in ("cherry", "Banana", "apple")}
    for coll in ({}, {"collation": "i;ascii-casemap"}, {"collation": "i;unicode-casemap"}):
        _, q = j.one("Mailbox/query", {"filter": {"parentId": r["created"]["p"]["id"]},
                                       "sort": [dict({"property": "name"}, **coll)]})
        assert q["ids"] == [kids[n] for n in ("apple", "Banana", "cherry")], (coll, q)
    # i;ascii-casemap folds a-z only (RFC 4790 §9.2; it was taken as
    # i;unicode-casemap): other octets compare as they are, so "Éa"
    # (C3 89) sorts before "éb" (C3 A9), both after ASCII letters.
    _, r = j.one("Mailbox/set", {"create": {"p": {"name": "Ascii"},
                                            **{"k%d" % i: {"name": n, "parentId": "#p"}
                                               for i, n in enumerate(("éb", "Zoo", "Éa",
                                                                      "zed"))}}})
    kid = [r["created"]["k%d" % i]["id"] for i in range(4)]
    parent = {"parentId": r["created"]["p"]["id"]}
    _, q = j.one("Mailbox/query", {"filter": parent, "sort": [
        {"property": "name", "collation": "i;ascii-casemap"}]})
    assert q["ids"] == [kid[3], kid[1], kid[2], kid[0]], q
    _, q = j.one("Mailbox/query", {"filter": parent, "sort": [{"property": "name"}]})
    assert q["ids"] == [kid[2], kid[0], kid[3], kid[1]], q

    # i;unicode-casemap: a decomposed "É" sorts among the e's (after
    # "ember": the mark follows the e), and the name filter matches it
    # written composed; i;ascii-numeric orders by the leading number.
    names = ("Zed", "E\u0301lan", "ember", "10 a", "9 b")
    _, r = j.one("Mailbox/set", {"create": {"p": {"name": "Coll"},
                                            **{"k%d" % i: {"name": n, "parentId": "#p"}
                                               for i, n in enumerate(names)}}})
    kid = {n: r["created"]["k%d" % i]["id"] for i, n in enumerate(names)}
    # stored in NFC, and the created answer says so (RFC 8620 §5.3)
    assert r["created"]["k1"]["name"] == "\u00c9lan", r["created"]["k1"]
    assert "name" not in r["created"]["k0"], r["created"]["k0"]
    _, u = j.one("Mailbox/set", {"update": {kid["Zed"]: {"name": "Ze\u0301d"},
                                            kid["ember"]: {"name": "ember"}}})
    assert u["updated"] == {kid["Zed"]: {"name": "Z\u00e9d"}, kid["ember"]: None}, u
    _, u = j.one("Mailbox/set", {"update": {kid["Zed"]: {"name": "Zed"}}})
    parent = {"parentId": r["created"]["p"]["id"]}
    _, q = j.one("Mailbox/query", {"filter": parent, "sort": [{"property": "name"}]})
    assert q["ids"] == [kid[n] for n in ("10 a", "9 b", "ember", "E\u0301lan", "Zed")], q
    _, q = j.one("Mailbox/query", {"filter": parent, "sort": [
        {"property": "name", "collation": "i;ascii-numeric"}]})
    assert q["ids"][:2] == [kid["9 b"], kid["10 a"]], q
    _, q = j.one("Mailbox/query", {"filter": {"operator": "AND", "conditions": [
        parent, {"name": "\u00e9LAN"}]}})
    assert q["ids"] == [kid["E\u0301lan"]], q


def test_jmap_mailbox_role_update():
    """Mailbox/set update sets role (RFC 8621 §2: settable, null clears,
    no two mailboxes share one): taken from one mailbox and given to
    another, told by Mailbox/changes and seen by IMAP LIST (RFC 6154); a
    role another mailbox has, an unknown one, "inbox", and a change of
    the INBOX's are invalidProperties. A mailbox created in the call is
    at once updatable and destroyable by its creation id."""
    s = srv()
    user, pw = FRED
    j = Jmap(s, user, pw)
    _, g = j.one("Mailbox/get", {})
    mbs = by_name(g["list"])
    inbox, archive, sent = mbs["INBOX"]["id"], mbs["Archive"]["id"], mbs["Sent"]["id"]
    _, st = j.one("Mailbox/set", {"create": {"r": {"name": "Receipts"}, "g": {"name": "Gone"}},
                                  "update": {"#r": {"sortOrder": 7}},
                                  "destroy": ["#g"]})
    assert set(st["created"]) == {"r", "g"} and st["notCreated"] is None, st
    rec = st["created"]["r"]["id"]
    assert st["updated"] == {rec: None} and st["destroyed"] == [st["created"]["g"]["id"]], st
    state = st["newState"]
    _, st = j.one("Mailbox/set", {"update": {
        rec: {"role": "archive"}, sent: {"role": "bogus"}, archive: {"role": "inbox"},
        inbox: {"role": None}}})
    assert st["updated"] is None, st
    assert {k: (v["type"], v["properties"]) for k, v in st["notUpdated"].items()} == {
        k: ("invalidProperties", ["role"]) for k in (rec, sent, archive, inbox)}, st
    # A refused update changes nothing: the rename fails (the name is
    # taken: alreadyExists), so the role stays.
    _, st = j.one("Mailbox/set", {"update": {archive: {"role": None, "name": "Sent"}}})
    assert st["notUpdated"][archive]["type"] == "alreadyExists", st
    _, g = j.one("Mailbox/get", {"ids": [archive], "properties": ["role", "name"]})
    assert g["list"][0]["role"] == "archive" and g["list"][0]["name"] == "Archive", g
    _, st = j.one("Mailbox/set", {"update": {archive: {"role": None}, rec: {"role": "archive"},
                                             inbox: {"role": "inbox"}}})
    assert st["updated"] == {archive: None, rec: None, inbox: None}, st
    _, g = j.one("Mailbox/get", {"ids": [archive, rec, inbox],
                                 "properties": ["role", "sortOrder", "name"]})
    assert {m["id"]: (m["role"], m["sortOrder"]) for m in g["list"]} == {
        archive: (None, 0), rec: ("archive", 7), inbox: ("inbox", 0)}, g
    _, ch = j.one("Mailbox/changes", {"sinceState": state})
    assert set(ch["updated"]) == {archive, rec}, ch
    r = imap(s, user, pw)
    u, _ = cmd(r, "l", 'LIST "" "*" RETURN (SPECIAL-USE)')
    arch = [x for x in u if b"\\Archive" in x]
    assert len(arch) == 1 and arch[0].endswith(b" Receipts"), u
    r.close()


def test_jmap_mailbox_registered_roles():
    """Every role of the IANA "IMAP Mailbox Name Attributes" registry that
    JMAP uses can be given (RFC 8621 §2: a role is one of its names in
    lowercase), "important" (RFC 8457), "flagged" and "all" (RFC 6154)
    among them (they were invalidProperties), once per account, at
    create and at update; IMAP LIST shows them as the attributes and
    CREATE ... (USE (\\Important)) gives the role. Names the registry
    marks "not used by JMAP" stay refused."""
    s = srv()
    user, pw = IVY
    j = Jmap(s, user, pw)
    roles = ["important", "flagged", "all", "memos", "scheduled", "snoozed"]
    _, st = j.one("Mailbox/set", {"create": {
        r: {"name": "R-" + r, "role": r} for r in roles[:3]}})
    assert set(st["created"]) == set(roles[:3]) and st["notCreated"] is None, st
    made = {r: st["created"][r]["id"] for r in roles[:3]}
    _, st = j.one("Mailbox/set", {"create": {
        r: {"name": "R-" + r} for r in roles[3:] + ["dup", "bad"]}})
    ids = {r: st["created"][r]["id"] for r in roles[3:] + ["dup", "bad"]}
    _, st = j.one("Mailbox/set", {"update": {
        ids["memos"]: {"role": "memos"}, ids["scheduled"]: {"role": "scheduled"},
        ids["snoozed"]: {"role": "snoozed"}, ids["dup"]: {"role": "flagged"},
        ids["bad"]: {"role": "noselect"}}})
    assert set(st["updated"]) == {ids[r] for r in roles[3:]}, st
    assert {k: (v["type"], v["properties"]) for k, v in st["notUpdated"].items()} == {
        ids["dup"]: ("invalidProperties", ["role"]),
        ids["bad"]: ("invalidProperties", ["role"])}, st
    made.update({r: ids[r] for r in roles[3:]})
    _, g = j.one("Mailbox/get", {"ids": list(made.values()), "properties": ["role"]})
    assert {m["id"]: m["role"] for m in g["list"]} == {v: k for k, v in made.items()}, g
    _, q = j.one("Mailbox/query", {"filter": {"role": "flagged"}})
    assert q["ids"] == [made["flagged"]], q
    r = imap(s, user, pw)
    u, _ = cmd(r, "l", 'LIST "" "R-*" RETURN (SPECIAL-USE)')
    attrs = {x.rsplit(b" ", 1)[1].decode(): x for x in u}
    for role, attr in [("important", b"\\Important"), ("flagged", b"\\Flagged"),
                       ("all", b"\\All"), ("memos", b"\\Memos"),
                       ("scheduled", b"\\Scheduled"), ("snoozed", b"\\Snoozed")]:
        assert attr in attrs["R-" + role], (role, u)
    j.one("Mailbox/set", {"update": {made["important"]: {"role": None}}})
    _, t = cmd(r, "c", "CREATE Imp (USE (\\Important))")
    assert t.startswith(b"c OK"), t
    r.close()
    _, q = j.one("Mailbox/query", {"filter": {"role": "important"}})
    _, g = j.one("Mailbox/get", {"ids": q["ids"], "properties": ["name"]})
    assert [m["name"] for m in g["list"]] == ["Imp"], g


def test_jmap_imap_one_id_per_object():
    """RFC 9698 §4 (and RFC 9042, which files by that id): a mailbox, an
    email and a thread have one id, the same in IMAP's OBJECTID and in
    JMAP. A mailbox made over IMAP shows in Mailbox/get under its
    MAILBOXID, and a JMAP Mailbox id is what SELECT and STATUS say; an
    EMAILID is the Email's id, a THREADID its threadId."""
    s = srv()
    user, pw = GINA
    deliver(s, user, [MSGS[2] % (user, "one id")])
    r = imap(s, user, pw)
    assert cmd(r, "c", "CREATE OneId")[1].startswith(b"c OK")
    u, _ = cmd(r, "st", "STATUS OneId (MAILBOXID)")
    made = re.fullmatch(rb"\* STATUS OneId \(MAILBOXID \((M[0-9a-f]{8})\)\)", u[0]).group(1).decode()
    u, _ = cmd(r, "sel", "SELECT INBOX")
    inbox = [re.fullmatch(rb"\* OK \[MAILBOXID \((\S+)\)\] .*", x) for x in u]
    inbox = [m.group(1).decode() for m in inbox if m]
    u, _ = cmd(r, "f", "FETCH 1 (EMAILID THREADID)")
    m = re.fullmatch(rb"\* 1 FETCH \(EMAILID \((\S+)\) THREADID \((\S+)\)\)", u[0])
    emailid, threadid = m.group(1).decode(), m.group(2).decode()
    j = Jmap(s, user, pw)
    _, g = j.one("Mailbox/get", {"ids": None, "properties": ["name"]})
    ids = {x["name"]: x["id"] for x in g["list"]}
    assert ids["OneId"] == made and [ids["INBOX"]] == inbox, (ids, made, inbox)
    _, e = j.one("Email/query", {"filter": {"inMailbox": ids["INBOX"]}})
    assert e["ids"] == [emailid], (e, emailid)
    _, e = j.one("Email/get", {"ids": [emailid], "properties": ["threadId", "mailboxIds"]})
    assert e["list"] == [{"id": emailid, "threadId": threadid, "mailboxIds": {inbox[0]: True}}], e
    # A JMAP rename keeps the id IMAP shows.
    _, st = j.one("Mailbox/set", {"update": {made: {"name": "OneId2"}}})
    assert made in st["updated"], st
    u, _ = cmd(r, "st2", "STATUS OneId2 (MAILBOXID UIDVALIDITY)")
    assert u[0].startswith(b"* STATUS OneId2 (MAILBOXID (" + made.encode() + b") "), u
    # RFC 9698: JMAPACCESS, and GETJMAPACCESS names the session resource
    # that /.well-known/jmap leads to, which these credentials open.
    assert b" JMAPACCESS" in cmd(r, "cap", "CAPABILITY")[0][0]
    u, t = cmd(r, "ja", "GETJMAPACCESS")
    assert t.startswith(b"ja OK") and len(u) == 1, (u, t)
    m = re.fullmatch(rb'\* JMAPACCESS "https://([^/":]+)(?::(\d+))?(/[^"]*)"', u[0])
    assert m and int(m.group(2) or 443) == s.https_port, u
    st, hd, _ = j.request("GET", "/.well-known/jmap")
    assert st == 307 and hd["location"] == m.group(3).decode(), (st, hd)
    st, _, sess = j.request("GET", m.group(3).decode())
    assert st == 200 and sess["primaryAccounts"]["urn:ietf:params:jmap:mail"] == j.account, sess
    assert cmd(r, "ja2", "GETJMAPACCESS x")[1].startswith(b"ja2 BAD")
    r.close()
    # Not before login (RFC 9698 §3: authenticated and selected states).
    r = Raw(s)
    assert cmd(r, "ja3", "GETJMAPACCESS")[1].startswith(b"ja3 BAD"), "GETJMAPACCESS before login"
    r.close()


def test_jmap_mailbox_same_name_already_exists():
    """A create or a rename (name or parentId) to the name of a sibling is
    alreadyExists with the sibling's id as existingId (RFC 8620 §5.4's
    SetError, the one for a duplicate; RFC 8621 §2: no two siblings share
    a name), the INBOX's name in any case included; invalidProperties is
    for a bad value. Nothing is written."""
    j = Jmap(srv(), *ERIN)
    _, g = j.one("Mailbox/get", {"properties": ["name", "role"]})
    inbox = [m["id"] for m in g["list"] if m["role"] == "inbox"][0]
    _, st = j.one("Mailbox/set", {"create": {"a": {"name": "Twin"}, "p": {"name": "Elsewhere"}}})
    a, p = st["created"]["a"]["id"], st["created"]["p"]["id"]
    _, st = j.one("Mailbox/set", {"create": {"b": {"name": "Twin", "parentId": "#k"},
                                             "k": {"name": "Kid", "parentId": p},
                                             "c": {"name": "Twin"}, "i": {"name": "inbox"},
                                             "d": {"name": "Twin", "sortOrder": -1}}})
    nc = st["notCreated"]
    assert set(nc) == {"c", "i", "d"} and set(st["created"]) == {"b", "k"}, st
    assert nc["c"]["type"] == "alreadyExists" and nc["c"]["existingId"] == a, st
    assert nc["i"]["type"] == "alreadyExists" and nc["i"]["existingId"] == inbox, st
    assert nc["d"]["type"] == "invalidProperties" and nc["d"]["properties"] == ["sortOrder"], st
    b, k = st["created"]["b"]["id"], st["created"]["k"]["id"]
    _, st = j.one("Mailbox/set", {"update": {b: {"parentId": None}, k: {"name": "Elsewhere",
                                                                       "parentId": None}}})
    nu = st["notUpdated"]
    assert nu[b]["type"] == "alreadyExists" and nu[b]["existingId"] == a, st
    assert nu[k]["type"] == "alreadyExists" and nu[k]["existingId"] == p, st
    _, g = j.one("Mailbox/get", {"ids": [b, k], "properties": ["name", "parentId"]})
    assert {m["id"]: (m["name"], m["parentId"]) for m in g["list"]} == {
        b: ("Twin", k), k: ("Kid", p)}, g


def test_jmap_mailbox_rename_keeps_is_subscribed():
    """isSubscribed is the Mailbox's (RFC 8621 §2) while the store keeps
    IMAP's subscriptions by name: a rename by name or parentId keeps it,
    for the mailbox and the children that move with it, subscribed or
    not, and IMAP's LSUB follows to the new names. A mailbox created
    under a name still subscribed from before (IMAP SUBSCRIBE, or DELETE
    leaving it) is as isSubscribed asked."""
    s = srv()
    j = Jmap(s, *JUNE)
    _, st = j.one("Mailbox/set", {"create": {
        "p": {"name": "Plans"}, "k": {"name": "Kid", "parentId": "#p"},
        "u": {"name": "Quiet", "parentId": "#p", "isSubscribed": False},
        "o": {"name": "Other"}}})
    ids = {k: v["id"] for k, v in st["created"].items()}
    assert len(ids) == 4, st
    r = imap(s, *JUNE)
    try:
        r.send('s SUBSCRIBE "Taken"\r\n')
        assert r.until_tag("s")[-1].startswith(b"s OK")
        _, st = j.one("Mailbox/set", {"update": {ids["p"]: {"name": "Plans2"},
                                                 ids["o"]: {"parentId": ids["p"]}}})
        assert set(st["updated"] or {}) == {ids["p"], ids["o"]}, st
        _, st = j.one("Mailbox/set", {"update": {ids["u"]: {"name": "Taken", "parentId": None}},
                                      "create": {"n": {"name": "Plans", "isSubscribed": False}}})
        assert set(st["updated"] or {}) == {ids["u"]} and "n" in st["created"], st
        ids["n"] = st["created"]["n"]["id"]
        _, g = j.one("Mailbox/get", {"ids": list(ids.values()),
                                     "properties": ["name", "isSubscribed"]})
        got = {m["id"]: (m["name"], m["isSubscribed"]) for m in g["list"]}
        assert got == {ids["p"]: ("Plans2", True), ids["k"]: ("Kid", True),
                       ids["u"]: ("Taken", False), ids["o"]: ("Other", True),
                       ids["n"]: ("Plans", False)}, got
        r.send('l LSUB "" "*"\r\n')
        lsub = {ln.split(b'"/" ', 1)[1].strip().strip(b'"').decode()
                for ln in r.until_tag("l") if ln.startswith(b"* LSUB ")}
        assert lsub == {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive",
                        "Plans2", "Plans2/Kid", "Plans2/Other"}, lsub
    finally:
        r.close()


def test_jmap_mailbox_query_changes():
    """Mailbox/queryChanges (RFC 8620 §5.6) answers from an old
    queryState: applying removed then added to the old ids gives the new
    query's ids, whatever changed (a create, a rename that moves one, a
    destroy, a subscription); email changes (counts) are no query change.
    A tree query (sortAsTree, filterAsTree) that a mailbox change may
    reorder below its parent is cannotCalculateChanges unless nothing
    changed; maxChanges and calculateTotal as /queryChanges has them."""
    j = Jmap(srv(), *HANK)
    sort = [{"property": "name"}]
    _, st = j.one("Mailbox/set", {"create": {"a": {"name": "Alder"}, "b": {"name": "Birch"},
                                             "c": {"name": "Cedar"}}})
    a, b, c = (st["created"][k]["id"] for k in "abc")
    _, q0 = j.one("Mailbox/query", {"sort": sort})
    assert q0["canCalculateChanges"] is True, q0
    _, t0 = j.one("Mailbox/query", {"sort": sort, "sortAsTree": True})

    def apply(old, ch):
        ids = [i for i in old if i not in ch["removed"]]
        for e in sorted(ch["added"], key=lambda e: e["index"]):
            ids.insert(e["index"], e["id"])
        return ids

    name, ch = j.one("Mailbox/queryChanges", {"sort": sort, "sinceQueryState": q0["queryState"]})
    assert name == "Mailbox/queryChanges" and ch["removed"] == [] and ch["added"] == [], ch
    assert ch["oldQueryState"] == q0["queryState"], ch
    j.one("Mailbox/set", {"create": {"d": {"name": "Dogwood"}},
                          "update": {a: {"name": "Zelkova"}, c: {"isSubscribed": False}},
                          "destroy": [b]})
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    inbox = [m["id"] for m in mb["list"] if m["role"] == "inbox"][0]
    j.one("Email/set", {"create": {"e": {"mailboxIds": {inbox: True}, "subject": "counts"}}})
    _, q1 = j.one("Mailbox/query", {"sort": sort})
    name, ch = j.one("Mailbox/queryChanges", {"sort": sort, "sinceQueryState": q0["queryState"],
                                               "calculateTotal": True})
    assert name == "Mailbox/queryChanges", ch
    assert apply(q0["ids"], ch) == q1["ids"], (q0["ids"], ch, q1["ids"])
    assert ch["newQueryState"] == q1["queryState"] and ch["total"] == len(q1["ids"]), ch
    assert inbox not in ch["removed"], ch
    name, ch = j.one("Mailbox/queryChanges", {"sort": sort, "sinceQueryState": q0["queryState"],
                                               "maxChanges": 2})
    assert name == "error" and ch["type"] == "tooManyChanges", ch
    name, ch = j.one("Mailbox/queryChanges", {"sort": sort, "sortAsTree": True,
                                               "sinceQueryState": t0["queryState"]})
    assert name == "error" and ch["type"] == "cannotCalculateChanges", ch
    name, ch = j.one("Mailbox/queryChanges", {"sort": sort, "sortAsTree": True,
                                               "sinceQueryState": q1["queryState"]})
    assert name == "Mailbox/queryChanges" and ch["removed"] == [] and ch["added"] == [], ch
