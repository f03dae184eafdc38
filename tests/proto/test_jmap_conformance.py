"""JMAP against RFC 8620 and RFC 8621 the way a conformance suite probes a
server, for what test_jmap_core, test_jmap_email, test_jmap_mailbox and
test_jmap_mail_ext leave out: the Request object's wrong types (each a
problem+json notRequest, status 400), sessionState against the session's
state, the URL templates' variables; filters checked whatever the
account holds (an unknown or badly typed condition is unsupportedFilter
or invalidArguments on an empty account, past a condition's false first
property, in SearchSnippet/get and every other /query), an unknown
collation is unsupportedSort; result references with "~0"/"~1" escapes,
"*" over arrays of arrays and incomplete ResultReferences; /get with an
id given twice (once in list or notFound, for every type); Email and
Thread /changes paged by maxChanges; /set with creation ids used before
their create in the same call and in later methods, the SetErrors
(notFound, invalidProperties naming the property, invalidPatch for a
path deeper than the property allows, "~1" in a keyword path), Mailbox
roles unique and myRights in created, onDestroyRemoveEmails; /query's
window (position, anchor, anchorOffset, limit, collapseThreads) and
Thread/get; Email/get's from/to/cc with RFC 5322 groups and a body value
cut inside a UTF-8 sequence; EmailSubmission of an email created in the
same request. No answer in this file may be serverFail. One server for
the module."""
import base64
import http.client
import json
import time

from jmapc import CORE, MAIL, Jmap, _ctx, shared_server

BOB = ("bob@example.test", "bob-password-1")
ZED = ("zed@example.test", "zed-password-1")  # an account that stays empty
AMY = ("amy@example.test", "amy-lantern-7q")
CLEO = ("cleo@example.test", "cleo-harbour-4k")
DORA = ("dora@example.test", "dora-lantern-9v")  # Thread/get's ids null
ACCOUNTS = [BOB, ZED, AMY, CLEO, DORA]
SUB = "urn:ietf:params:jmap:submission"
USING = [CORE, MAIL, SUB]


# A Web Push client's keys (RFC 8291 section 3.2): a P-256 point and a
# 16-octet auth secret; PushSubscription/set refuses others.
P256DH = "BDkke2mlJmcrZtFsbQZTcONn8_LFxBpNAju7oXcGJa_fRyn365L62zpODenA1GSrXl-GgxQN6X22fZUtTfvCh_0"
AUTH = "MIYG2KCwl1jOHdji0GUk4g"


def srv():
    return shared_server(ACCOUNTS)


def no_server_fail(r):
    for m in r["methodResponses"]:
        assert not (m[0] == "error" and m[1].get("type") == "serverFail"), m
    return r


def run(j, calls, using=USING):
    """The responses of calls (accountId filled in where absent, but for
    Core/echo), by call id: an implicit call's (same id) under id + "+"."""
    for c in calls:
        if c[0] != "Core/echo":
            c[1].setdefault("accountId", j.account)
    r = no_server_fail(j.call(calls, using))
    out = {}
    for m in r["methodResponses"]:
        k = m[2] + "+" if m[2] in out else m[2]
        out[k] = (m[0], m[1])
    return out


def err(resp):
    name, a = resp
    assert name == "error", resp
    return a["type"]


def import_msg(j, raw, received="2026-01-01T00:00:00Z", mailbox=None, keywords=None):
    st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, raw,
                          {"Content-Type": "message/rfc822"})
    assert st == 201, (st, up)
    if mailbox is None:
        _, q = j.one("Mailbox/query", {"filter": {"role": "inbox"}})
        mailbox = q["ids"][0]
    _, r = j.one("Email/import", {"emails": {"i": {
        "blobId": up["blobId"], "mailboxIds": {mailbox: True}, "receivedAt": received,
        "keywords": keywords or {}}}})
    return r["created"]["i"]["id"]


def msg(subject, body="Hello.\r\n", extra=""):
    return ("From: Alice <alice@remote.test>\r\nTo: bob@example.test\r\n"
            "Subject: %s\r\nMessage-ID: <%s@remote.test>\r\n%s"
            "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n\r\n%s"
            % (subject, subject.replace(" ", "-").replace(":", ""), extra, body)).encode()


_emails = []


def emails(j):
    """Four emails in bob's INBOX, the last two one thread, received a
    minute apart: made once."""
    if not _emails:
        _emails.append(import_msg(j, msg("one"), "2026-01-01T00:01:00Z"))
        _emails.append(import_msg(j, msg("two"), "2026-01-01T00:02:00Z"))
        _emails.append(import_msg(j, msg("three"), "2026-01-01T00:03:00Z"))
        _emails.append(import_msg(j, msg("Re: three", extra="In-Reply-To: <three@remote.test>\r\n"
                                         "References: <three@remote.test>\r\n"),
                                  "2026-01-01T00:04:00Z"))
    return list(_emails)


def test_request_object_types():
    j = Jmap(srv(), *BOB)
    bad = [
        b'{"using": "urn:ietf:params:jmap:core", "methodCalls": []}',
        b'{"using": [], "methodCalls": {}}',
        b'{"using": [1], "methodCalls": []}',
        b'{"using": null, "methodCalls": []}',
        b'{"using": [], "methodCalls": [["Core/echo", {}, 1]]}',
        b'{"using": [], "methodCalls": [["Core/echo", [], "a"]]}',
        b'{"using": [], "methodCalls": [[1, {}, "a"]]}',
        b'{"using": [], "methodCalls": ["Core/echo"]}',
        b'{"using": [], "methodCalls": [], "createdIds": []}',
        b'{"using": [], "methodCalls": [], "createdIds": {"k": 1}}',
        b'null',
        b'"text"',
    ]
    for body in bad:
        st, hd, p = j.post(body)
        assert st == 400 and hd["content-type"] == "application/problem+json", (body, st, hd)
        assert p["type"] == "urn:ietf:params:jmap:error:notRequest" and p["status"] == 400, (body, p)
    for body in (b"", b'{"using": [], "methodCalls": []} []', b"\xff{}"):
        st, hd, p = j.post(body)
        assert st == 400 and hd["content-type"] == "application/problem+json", (body, st, hd)
        assert p["type"] == "urn:ietf:params:jmap:error:notJSON", (body, p)
    # The limit a request breaks is named (§3.6.1).
    st, _, p = j.post(json.dumps({"using": [CORE], "methodCalls": [
        ["Core/echo", {}, str(i)] for i in range(33)]}))
    assert st == 400 and p["limit"] == "maxCallsInRequest", p
    # sessionState is the session's state (§3.4).
    sess = j.session()
    r = j.call([], using=[CORE])
    assert r["sessionState"] == sess["state"], (r, sess["state"])
    for k in ("accountId", "blobId", "type", "name"):
        assert "{%s}" % k in sess["downloadUrl"], sess["downloadUrl"]
    assert "{accountId}" in sess["uploadUrl"], sess["uploadUrl"]
    for k in ("types", "closeafter", "ping"):
        assert "{%s}" % k in sess["eventSourceUrl"], sess["eventSourceUrl"]
    assert j.account in sess["accounts"] and sess["username"] == BOB[0], sess
    core = sess["capabilities"][CORE]
    for k in ("maxSizeUpload", "maxConcurrentUpload", "maxSizeRequest", "maxConcurrentRequests",
              "maxCallsInRequest", "maxObjectsInGet", "maxObjectsInSet"):
        assert isinstance(core[k], int) and core[k] > 0, (k, core)


def test_filters_and_sorts_checked_up_front():
    s = srv()
    j, z = Jmap(s, *BOB), Jmap(s, *ZED)
    emails(j)
    bad_filters = [
        ({"nope": 1}, "unsupportedFilter"),
        ({"operator": "XOR", "conditions": []}, "unsupportedFilter"),
        ({"operator": "AND"}, "invalidArguments"),
        ({"before": "yesterday"}, "invalidArguments"),
        # A UTCDate is RFC 3339's, every field its width and in range
        # (RFC 8620 §1.4): these were taken (Feb 30 as Mar 2).
        ({"before": "2026-02-30T00:00:00Z"}, "invalidArguments"),
        ({"after": "2025-02-29T00:00:00Z"}, "invalidArguments"),
        ({"after": "2026-1-01T00:00:00Z"}, "invalidArguments"),
        ({"after": " 2026-01-01T00:00:00Z"}, "invalidArguments"),
        ({"after": "2026-01-01T24:00:00Z"}, "invalidArguments"),
        ({"after": "2026-01-01T00:00:00.Z"}, "invalidArguments"),
        ({"minSize": -1}, "invalidArguments"),
        ({"inMailbox": 5}, "invalidArguments"),
        ({"hasAttachment": "yes"}, "invalidArguments"),
        ({"operator": "NOT", "conditions": [{"text": 1}]}, "invalidArguments"),
    ]
    for f, want in bad_filters:
        # An account with no email judges no condition; a condition whose
        # first property is false for every email stops there.
        for who, filt in ((z, f), (j, {"operator": "AND", "conditions": [
                {"inMailbox": "Mffffffff"}, f]}), (j, dict({"inMailbox": "Mffffffff"}, **f)
                                                  if "operator" not in f else f)):
            r = run(who, [["Email/query", {"filter": filt}, "q"],
                          ["SearchSnippet/get", {"filter": filt, "emailIds": emails(j)[:1]}, "s"]])
            assert err(r["q"]) == want, (filt, r["q"])
            if who is j:
                assert err(r["s"]) == want, (filt, r["s"])
    # The other /query methods, on an account with no submission, script
    # or quota, and past a property that is false for every mailbox.
    more = [[m, {"filter": {"nope": 1}}, "q%d" % i] for i, m in enumerate(
        ("EmailSubmission/query", "SieveScript/query", "Quota/query", "Mailbox/query"))]
    more += [["Mailbox/query", {"filter": {"role": "no-such-role", "nope": 1}}, "q4"],
             ["Mailbox/query", {"filter": {"role": "no-such-role", "isSubscribed": "x"}}, "q5"],
             ["EmailSubmission/query", {"filter": {"undoStatus": 5}}, "q6"]]
    r = run(z, more, using=USING + ["urn:ietf:params:jmap:sieve", "urn:ietf:params:jmap:quota"])
    assert [err(r["q%d" % i]) for i in range(7)] == ["unsupportedFilter"] * 5 + [
        "invalidArguments"] * 2, r
    # A good filter that names an unknown mailbox is no error (§4.4.1).
    r = run(z, [["Email/query", {"filter": {"inMailbox": "Mffffffff", "text": "x"}}, "q"]])
    assert r["q"][1]["ids"] == [], r
    # An unknown collation cannot be honoured: unsupportedSort (§5.5).
    for m, prop in (("Email/query", "receivedAt"), ("Mailbox/query", "name")):
        r = run(j, [[m, {"sort": [{"property": prop, "collation": "i;klingon"}]}, "a"],
                    [m, {"sort": [{"property": prop, "collation": "i;unicode-casemap"}]}, "b"],
                    [m, {"sort": [{"property": prop, "collation": 7}]}, "c"],
                    [m, {"sort": [{"property": "nope"}]}, "d"]])
        assert err(r["a"]) == "unsupportedSort" and r["b"][0] == m, r
        assert err(r["c"]) == "invalidArguments" and err(r["d"]) == "unsupportedSort", r


def test_result_references():
    j = Jmap(srv(), *BOB)
    src = {"a/b": [1, 2], "m~n": {"x": 3}, "nest": [[{"v": 1}, {"v": 2}], [{"v": 3}]],
           "objs": [{"v": [1, 2]}, {"v": [3]}, {"v": []}], "arr": [[1, 2], [3]]}

    def ref(path, **kw):
        r = {"resultOf": "e", "name": "Core/echo", "path": path}
        r.update(kw)
        return {k: v for k, v in r.items() if v is not None}

    calls = [["Core/echo", src, "e"]]
    good = {"/a~1b": [1, 2], "/m~0n/x": 3, "/objs/*/v": [1, 2, 3], "/nest/*/*/v": [1, 2, 3],
            "/arr/*": [1, 2, 3], "/objs/1/v/0": 3, "/nest/*/0/v": [1, 3]}
    for i, p in enumerate(good):
        calls.append(["Core/echo", {"#x": ref(p)}, "g%d" % i])
    bad = [ref("/a/b"), ref("/m~n/x"), ref("a~1b"), ref("/objs/01"), ref("/objs/3"),
           ref("/objs/-"), ref("/objs/*/w"), ref("/m~0n/*"), ref("/a~1b", resultOf=None),
           ref(None), ref("/a~1b", name=None), ref("/a~1b", resultOf="later"),
           ref("/a~1b", name="Core/echoes"), "/a~1b"]
    for i, b in enumerate(bad):
        calls.append(["Core/echo", {"#x": b}, "b%d" % i])
    calls.append(["Core/echo", {}, "later"])
    r = run(j, calls, using=[CORE])
    for i, p in enumerate(good):
        assert r["g%d" % i] == ("Core/echo", {"x": good[p]}), (p, r["g%d" % i])
    for i, b in enumerate(bad):
        assert err(r["b%d" % i]) == "invalidResultReference", (b, r["b%d" % i])


def test_get_ids_given_twice():
    j = Jmap(srv(), *BOB)
    e = emails(j)
    r = run(j, [
        ["Email/get", {"ids": [e[0], e[0], "Enope", "Enope", e[1]], "properties": ["subject"]}, "e"],
    ])
    g = r["e"][1]
    assert [x["id"] for x in g["list"]] == [e[0], e[1]] and g["notFound"] == ["Enope"], g
    _, q = j.one("Mailbox/query", {"filter": {"role": "inbox"}})
    inbox = q["ids"][0]
    _, t = j.one("Email/get", {"ids": [e[0]], "properties": ["threadId", "blobId"]})
    tid, bid = t["list"][0]["threadId"], t["list"][0]["blobId"]
    _, i = j.one("Identity/get", {}, using=USING)
    ident = i["list"][0]["id"]
    r = run(j, [
        ["Mailbox/get", {"ids": [inbox, inbox, "Mnope", "Mnope"], "properties": ["name"]}, "m"],
        ["Thread/get", {"ids": [tid, tid, "Tnope", "Tnope"]}, "t"],
        ["Identity/get", {"ids": [ident, ident, "Inope", "Inope"], "properties": ["email"]}, "i"],
        ["Blob/get", {"ids": [bid, bid, "Bnope", "Bnope"], "properties": ["size"]}, "b"],
    ], using=USING + ["urn:ietf:params:jmap:blob"])
    for k, one in (("m", inbox), ("t", tid), ("i", ident), ("b", bid)):
        g = r[k][1]
        assert [x["id"] for x in g["list"]] == [one], (k, g)
        assert len(g["notFound"]) == 1, (k, g)
    # SearchSnippet/get too: each email once (it gave a snippet per copy).
    r = run(j, [["SearchSnippet/get", {"emailIds": [e[0], e[0], "Enope", "Enope"],
                                       "filter": {"text": "hello"}}, "s"]])
    g = r["s"][1]
    assert [x["emailId"] for x in g["list"]] == [e[0]] and g["notFound"] == ["Enope"], g
    # Email/parse and MDN/parse: each blob parsed once, "parsed" with no key
    # twice (a JSON object's names unique) and notFound naming it once.
    calls = [[m, {"accountId": j.account, "blobIds": [bid, bid, "Bnope", "Bnope"]}, m]
             for m in ("Email/parse", "MDN/parse")]
    c = http.client.HTTPSConnection("127.0.0.1", j.s.https_port, timeout=30, context=_ctx())
    c.request("POST", "/jmap/api/", json.dumps(
        {"using": USING + ["urn:ietf:params:jmap:mdn"], "methodCalls": calls}),
        j.headers({"Content-Type": "application/json"}))
    body = c.getresponse().read()
    c.close()

    def unique(pairs):
        assert len(pairs) == len(dict(pairs)), pairs
        return dict(pairs)
    r = json.loads(body, object_pairs_hook=unique)
    (_, pe, _), (_, pm, _) = r["methodResponses"]
    assert list(pe["parsed"]) == [bid] and pe["notFound"] == ["Bnope"], pe
    assert pm["notFound"] == ["Bnope"], pm
    # properties [] still gives the id; an unknown property is refused.
    r = run(j, [["Mailbox/get", {"ids": [inbox], "properties": []}, "a"],
                ["Email/get", {"ids": [e[0]], "properties": []}, "b"],
                ["Email/get", {"ids": [e[0]], "properties": ["subject", "nope"]}, "c"],
                ["Email/get", {"ids": [e[0]], "bodyProperties": ["nope"]}, "d"]])
    assert r["a"][1]["list"] == [{"id": inbox}] and r["b"][1]["list"] == [{"id": e[0]}], r
    assert err(r["c"]) == "invalidArguments" and err(r["d"]) == "invalidArguments", r


def test_changes_paged():
    j = Jmap(srv(), *BOB)
    _, g = j.one("Email/get", {"ids": []})
    since = g["state"]
    ids = [import_msg(j, msg("paged %d" % i)) for i in range(3)]
    seen, state, rounds = [], since, 0
    while True:
        _, ch = j.one("Email/changes", {"sinceState": state, "maxChanges": 1})
        assert len(ch["created"]) + len(ch["updated"]) + len(ch["destroyed"]) <= 1, ch
        assert ch["oldState"] == state, ch
        seen += ch["created"]
        state, rounds = ch["newState"], rounds + 1
        if not ch["hasMoreChanges"]:
            break
        assert rounds < 10, ch
    assert seen == ids and rounds >= 3, (seen, ids, rounds)
    _, ch = j.one("Email/changes", {"sinceState": state})
    assert ch["created"] == [] and ch["hasMoreChanges"] is False and ch["newState"] == state, ch
    # Thread/changes pages too: three new threads, one at a time.
    _, t = j.one("Email/get", {"ids": ids, "properties": ["threadId"]})
    threads = [x["threadId"] for x in t["list"]]
    seen, state, rounds = [], since, 0
    while True:
        name, ch = j.one("Thread/changes", {"sinceState": state, "maxChanges": 1})
        assert name == "Thread/changes" and ch["oldState"] == state, ch
        assert len(ch["created"]) + len(ch["updated"]) + len(ch["destroyed"]) <= 1, ch
        seen += ch["created"]
        state, rounds = ch["newState"], rounds + 1
        if not ch["hasMoreChanges"]:
            break
        assert rounds < 10, ch
    assert seen == threads and rounds >= 3, (seen, threads, rounds)
    r = run(j, [["Email/changes", {"sinceState": since, "maxChanges": 0}, "a"],
                ["Email/changes", {"sinceState": since, "maxChanges": -1}, "b"],
                ["Mailbox/changes", {"sinceState": "not-a-state"}, "c"],
                ["Email/changes", {"sinceState": "99999999"}, "d"],
                ["Email/queryChanges", {"sinceQueryState": "junk"}, "e"],
                ["Email/changes", {}, "f"]])
    assert [err(r[k]) for k in "abcdef"] == [
        "invalidArguments", "invalidArguments", "cannotCalculateChanges", "cannotCalculateChanges",
        "cannotCalculateChanges", "invalidArguments"], r


def test_set_creation_ids_and_set_errors():
    j = Jmap(srv(), *BOB)
    e = emails(j)
    r = run(j, [
        ["Mailbox/set", {"create": {"k": {"name": "Kid", "parentId": "#p"},
                                    "p": {"name": "Parent"}}}, "m"],
        ["Email/set", {"create": {"d": {"mailboxIds": {"#k": True}, "subject": "draft",
                                        "keywords": {"$draft": True}}}}, "e"],
        ["Email/get", {"#ids": {"resultOf": "e", "name": "Email/set", "path": "/created/d/id"},
                       "properties": ["mailboxIds", "subject"]}, "g"],
    ])
    m = r["m"][1]
    assert set(m["created"]) == {"p", "k"} and m["notCreated"] is None, m
    p, k = m["created"]["p"]["id"], m["created"]["k"]["id"]
    # myRights is server-set: the created object has it (§5.3).
    assert m["created"]["k"]["myRights"]["mayDelete"] is True, m
    d = r["e"][1]["created"]["d"]
    assert set(d) >= {"id", "blobId", "threadId", "size"}, d
    # The id a get answers is a list, not the id (a path to one value).
    assert err(r["g"]) == "invalidArguments", r["g"]
    _, g = j.one("Email/get", {"ids": [d["id"]], "properties": ["mailboxIds", "subject"]})
    assert g["list"][0]["mailboxIds"] == {k: True} and g["list"][0]["subject"] == "draft", g
    _, gm = j.one("Mailbox/get", {"ids": [k], "properties": ["parentId"]})
    assert gm["list"][0]["parentId"] == p, gm

    target = e[0]
    r = run(j, [["Email/set", {
        "create": {"x": {"mailboxIds": {}}, "y": {"mailboxIds": {"#nope": True}},
                   "z": {"mailboxIds": {k: True}, "size": 5}},
        "update": {"Effffffff": {"keywords/$seen": True},
                   target: {"size": 1}},
        "destroy": ["Effffffff"]}, "s"]])
    s = r["s"][1]
    assert {c: v["type"] for c, v in s["notCreated"].items()} == {
        "x": "invalidProperties", "y": "invalidProperties", "z": "invalidProperties"}, s
    assert s["notCreated"]["x"]["properties"] == ["mailboxIds"], s
    assert s["notCreated"]["z"]["properties"] == ["size"], s
    assert s["notUpdated"]["Effffffff"]["type"] == "notFound", s
    nu = s["notUpdated"][target]
    assert nu["type"] == "invalidProperties" and nu["properties"] == ["size"], s
    assert s["notDestroyed"] == {"Effffffff": {"type": "notFound"}} and s["destroyed"] is None, s

    def update(patch):
        _, u = j.one("Email/set", {"update": {target: patch}})
        if target in (u["updated"] or {}):
            _, g = j.one("Email/get", {"ids": [target], "properties": ["keywords"]})
            return g["list"][0]["keywords"]
        return u["notUpdated"][target]["type"]

    assert update({"keywords/$seen": True, "keywords/$flagged": True}) == {
        "$seen": True, "$flagged": True}
    assert update({"keywords/$flagged": None}) == {"$seen": True}
    # A keyword with "/" is written "~1" in a path (RFC 6901).
    assert update({"keywords/a~1b": True}) == {"$seen": True, "a/b": True}
    assert update({"keywords/a~1b": None}) == {"$seen": True}
    # A path into a keyword's value (true) or a bad escape is invalidPatch.
    assert update({"keywords/a/b": True}) == "invalidPatch"
    assert update({"keywords/a~2b": True}) == "invalidPatch"
    assert update({"keywords": {}, "keywords/$seen": True}) == "invalidPatch"
    assert update({"keywords/$seen": False}) == "invalidProperties"
    assert update({"mailboxIds": {}}) == "invalidProperties"
    _, q = j.one("Mailbox/query", {"filter": {"role": "inbox"}})
    assert update({"mailboxIds/" + q["ids"][0]: None}) == "invalidProperties"
    assert update({"subject": "new"}) == "invalidProperties"
    assert update({"keywords": {"$seen": True}}) == {"$seen": True}

    # Roles are unique (RFC 8621 §2), also within one request.
    r = run(j, [["Mailbox/set", {"create": {
        "a": {"name": "Sent 2", "role": "sent"}, "b": {"name": "Inbox 2", "role": "inbox"},
        "c": {"name": "Old 1", "role": "archive"}}}, "r0"],
        ["Mailbox/set", {"create": {"a": {"name": "Bin 1", "role": "trash"},
                                    "b": {"name": "Bin 2", "role": "trash"}}}, "r1"],
        ["Mailbox/get", {"properties": ["role"]}, "g"]])
    nc = r["r0"][1]["notCreated"]
    assert set(nc) == {"a", "b", "c"}, r["r0"]
    assert all(v["type"] == "invalidProperties" and v["properties"] == ["role"]
               for v in nc.values()), nc
    assert set(r["r1"][1]["notCreated"]) == {"a", "b"}, r["r1"]
    roles = [x["role"] for x in r["g"][1]["list"] if x["role"]]
    assert len(roles) == len(set(roles)), roles

    # onDestroyRemoveEmails: refused without it, the email goes with it.
    r = run(j, [["Mailbox/set", {"destroy": [k]}, "a"],
                ["Mailbox/set", {"destroy": [k], "onDestroyRemoveEmails": True}, "b"],
                ["Email/get", {"ids": [d["id"]]}, "c"],
                ["Mailbox/set", {"destroy": [p], "ifInState": "stale"}, "d"]])
    assert r["a"][1]["notDestroyed"][k]["type"] == "mailboxHasEmail", r["a"]
    assert r["b"][1]["destroyed"] == [k], r["b"]
    assert r["c"][1]["notFound"] == [d["id"]], r["c"]
    assert err(r["d"]) == "stateMismatch", r["d"]


def test_query_window():
    j = Jmap(srv(), *BOB)
    e = emails(j)
    _, q = j.one("Mailbox/query", {"filter": {"role": "inbox"}})
    f = {"inMailbox": q["ids"][0], "after": "2026-01-01T00:00:30Z",
         "before": "2026-01-01T00:05:00Z"}
    srt = [{"property": "receivedAt", "isAscending": True}]

    def ids(**kw):
        a = {"filter": f, "sort": srt}
        a.update(kw)
        name, r = j.one("Email/query", a)
        assert name == "Email/query", r
        return r["position"], r["ids"], r.get("total")

    assert ids(calculateTotal=True) == (0, e, 4)
    assert ids(position=1, limit=2) == (1, e[1:3], None)
    assert ids(position=-1) == (3, e[3:], None)
    assert ids(position=-10) == (0, e, None)
    assert ids(position=10)[1] == []
    assert ids(anchor=e[2], anchorOffset=-1, limit=2) == (1, e[1:3], None)
    assert ids(anchor=e[0], anchorOffset=-5, limit=1) == (0, e[:1], None)
    assert ids(anchor=e[1], anchorOffset=1) == (2, e[2:], None)
    assert ids(collapseThreads=True, calculateTotal=True) == (0, e[:3], 3)
    # Five comparators (no limit in §4.4.2; more than four was
    # unsupportedSort): the fifth decides, the first four all tie.
    five = [{"property": p} for p in ("from", "to", "sentAt")] + [
        {"property": "hasKeyword", "keyword": "$nope"},
        {"property": "receivedAt", "isAscending": False}]
    assert ids(sort=five) == (0, e[::-1], None)
    r = run(j, [["Email/query", {"filter": f, "limit": -1}, "a"],
                ["Email/query", {"filter": f, "anchor": "Effffffff"}, "b"],
                ["Email/query", {"filter": f, "position": "1"}, "c"]])
    assert [err(r[k]) for k in "abc"] == ["invalidArguments", "anchorNotFound",
                                          "invalidArguments"], r

    # Thread/get: the thread of the reply holds both, in received order.
    _, g = j.one("Email/get", {"ids": e[2:], "properties": ["threadId"]})
    t = {x["threadId"] for x in g["list"]}
    assert len(t) == 1, g
    _, th = j.one("Thread/get", {"ids": list(t)})
    assert th["list"] == [{"id": list(t)[0], "emailIds": e[2:]}], th


def test_addresses_with_groups():
    j = Jmap(srv(), *BOB)
    raw = ("From: \"Alice A.\" <alice@remote.test>, carl@remote.test\r\n"
           "To: undisclosed-recipients:;\r\n"
           "Cc: Team: ann@x.test, \"B B\" <bb@x.test>;, solo@y.test\r\n"
           "Bcc: root, <>, @only.test, Name <nodomain>, \"a b\"@q.test\r\n"
           "Subject: groups\r\nMessage-ID: <groups@remote.test>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n" + "h\u00e9\u00e9\u00e9\r\n").encode()
    eid = import_msg(j, raw)
    _, g = j.one("Email/get", {"ids": [eid], "properties": [
        "from", "to", "cc", "bcc", "header:Bcc:asAddresses", "header:Cc:asAddresses",
        "header:To:asGroupedAddresses", "bodyValues"],
        "fetchTextBodyValues": True, "maxBodyValueBytes": 4})
    m = g["list"][0]
    # Groups are flattened; a group's name is no address (RFC 8621 §4.1.2.3).
    cc = [{"name": None, "email": "ann@x.test"}, {"name": "B B", "email": "bb@x.test"},
          {"name": None, "email": "solo@y.test"}]
    assert m["from"] == [{"name": "Alice A.", "email": "alice@remote.test"},
                         {"name": None, "email": "carl@remote.test"}], m
    assert m["to"] == [] and m["cc"] == cc and m["header:Cc:asAddresses"] == cc, m
    assert m["header:To:asGroupedAddresses"] == [
        {"name": "undisclosed-recipients", "addresses": []}], m
    # An address without its local part or domain is what the header has,
    # not ENVELOPE's placeholders (MISSING_DOMAIN would read as a domain):
    # §4.1.2.3 lets "email" be no addr-spec.
    bcc = [{"name": None, "email": "root"}, {"name": None, "email": ""},
           {"name": None, "email": "@only.test"}, {"name": "Name", "email": "nodomain"},
           {"name": None, "email": "\"a b\"@q.test"}]
    assert m["bcc"] == bcc and m["header:Bcc:asAddresses"] == bcc, m
    # 4 octets of "hé..." end inside the second é: cut before it.
    assert list(m["bodyValues"].values()) == [
        {"value": "h\u00e9", "isEncodingProblem": False, "isTruncated": True}], m
    # Email/parse writes the same.
    _, b = j.one("Email/get", {"ids": [eid], "properties": ["blobId"]})
    blob = b["list"][0]["blobId"]
    _, p = j.one("Email/parse", {"blobIds": [blob], "properties": ["to", "cc"]})
    assert p["parsed"][blob] == {"to": [], "cc": cc}, p


def test_email_create_addresses_are_addr_specs():
    """An EmailAddress's email is an addr-spec (RFC 8621 §4.1.2.3, RFC
    5322 §3.4.1): one that is not is invalidProperties naming the
    property; an empty address list writes no field (an address-list has
    one address at least), a group without addresses is still written."""
    j = Jmap(srv(), *BOB)
    _, q = j.one("Mailbox/query", {"filter": {"role": "inbox"}})
    mb = {q["ids"][0]: True}
    bad = {"a": {"to": [{"email": "bad"}]},
           "b": {"header:From:asAddresses": [{"email": "a@b@c.test"}]},
           "c": {"cc": [{"name": "x", "email": "a b@c.test"}]},
           "d": {"header:Bcc:asGroupedAddresses": [{"name": "G", "addresses": [{"email": "@c.test"}]}]},
           "e": {"replyTo": [{"email": "a@"}]},
           "f": {"header:X-To:asAddresses": [{"email": "a@b.test>, evil@x.test"}]}}
    for k, v in bad.items():
        v["mailboxIds"] = mb
    good = {"g": {"mailboxIds": mb, "to": [], "subject": "empty to",
                  "cc": [{"email": "\"a b\"@c.test"}, {"name": "N", "email": "n@[192.0.2.1]"}],
                  "header:Bcc:asGroupedAddresses": [{"name": "undisclosed-recipients",
                                                     "addresses": []}]}}
    r = run(j, [["Email/set", {"create": dict(bad, **good)}, "s"]])
    nc = r["s"][1]["notCreated"]
    assert {k: (e["type"], e["properties"]) for k, e in nc.items()} == {
        "a": ("invalidProperties", ["to"]), "b": ("invalidProperties", ["header:From:asAddresses"]),
        "c": ("invalidProperties", ["cc"]), "d": ("invalidProperties", ["header:Bcc:asGroupedAddresses"]),
        "e": ("invalidProperties", ["replyTo"]), "f": ("invalidProperties", ["header:X-To:asAddresses"])}, nc
    _, g = j.one("Email/get", {"ids": [r["s"][1]["created"]["g"]["id"]],
                               "properties": ["blobId", "to", "cc"]})
    e = g["list"][0]
    assert e["to"] is None and e["cc"] == [{"name": None, "email": "\"a b\"@c.test"},
                                           {"name": "N", "email": "n@[192.0.2.1]"}], e
    st, _, raw = j.request("GET", "/jmap/download/%s/%s/m.eml" % (j.account, e["blobId"]))
    assert st == 200 and b"\r\nTo:" not in raw, raw
    assert b"\r\nBcc: undisclosed-recipients:;\r\n" in raw, raw


def test_part_name_prefers_rfc2231_form():
    """EmailBodyPart.name (RFC 8621 §4.1.4): the filename, else the name;
    of a plain value and an RFC 2231 one side by side, in either order,
    the RFC 2231 one (the plain one is the ASCII fallback)."""
    j = Jmap(srv(), *BOB)
    raw = ("From: a@remote.test\r\nSubject: names\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=n\r\n\r\n--n\r\n"
           "Content-Type: application/pdf; name=\"fallback.pdf\"; name*=utf-8''%C3%A9t%C3%A9.pdf\r\n"
           "\r\nx\r\n--n\r\n"
           "Content-Type: application/pdf\r\n"
           "Content-Disposition: attachment; filename*=iso-8859-1''na%EFve.pdf;\r\n"
           " filename=\"naive.pdf\"\r\n\r\ny\r\n--n\r\n"
           "Content-Type: application/pdf; name=\"only.pdf\"\r\n\r\nz\r\n--n--\r\n").encode()
    eid = import_msg(j, raw)
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["attachments"],
                               "bodyProperties": ["name"]})
    assert g["list"][0]["attachments"] == [
        {"name": "\u00e9t\u00e9.pdf"}, {"name": "na\u00efve.pdf"}, {"name": "only.pdf"}], g


def test_submission_of_email_created_in_request():
    s = srv()
    j, z = Jmap(s, *BOB), Jmap(s, *AMY)
    _, i = j.one("Identity/get", {}, using=USING)
    ident = i["list"][0]["id"]
    _, q = j.one("Mailbox/query", {"filter": {"role": "drafts"}})
    drafts = q["ids"][0]
    r = run(j, [
        ["Email/set", {"create": {"d": {
            "mailboxIds": {drafts: True}, "keywords": {"$draft": True},
            "from": [{"email": BOB[0]}], "to": [{"email": AMY[0]}], "subject": "made and sent",
            "bodyStructure": {"type": "text/plain", "partId": "1"},
            "bodyValues": {"1": {"value": "Hello Amy."}}}}}, "e"],
        ["EmailSubmission/set", {"create": {"s": {"identityId": ident, "emailId": "#d"}},
                                 "onSuccessUpdateEmail": {"#s": {"keywords/$draft": None}}}, "s"],
    ])
    eid = r["e"][1]["created"]["d"]["id"]
    sub = r["s"][1]
    assert r["s"][0] == "EmailSubmission/set" and r["s+"][0] == "Email/set", r
    assert r["s+"][1]["updated"] == {eid: None}, r
    assert set(sub["created"]) == {"s"} and sub["notCreated"] is None, sub
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["keywords"]})
    assert g["list"][0]["keywords"] == {}, g
    _, gs = j.one("EmailSubmission/get", {"ids": [sub["created"]["s"]["id"]]}, using=USING)
    assert gs["list"][0]["emailId"] == eid and gs["list"][0]["identityId"] == ident, gs
    deadline = time.time() + 10
    while True:
        _, zq = z.one("Email/query", {"filter": {"subject": "made and sent"}})
        if zq["ids"] or time.time() > deadline:
            break
        time.sleep(0.05)
    assert len(zq["ids"]) == 1, zq


def test_set_update_destroy_by_creation_id():
    """RFC 8620 §5.3 (errata 6607): update keys and destroy entries may be
    "#" and a creation id of the request, from the same call or an
    earlier one; the answer names the object by its id, and a creation id
    that made nothing is notFound under the key as given. For every /set."""
    j = Jmap(srv(), *BOB)
    vac = "urn:ietf:params:jmap:vacationresponse"
    sieve = "urn:ietf:params:jmap:sieve"
    st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, b"keep;\r\n",
                          {"Content-Type": "application/sieve"})
    assert st == 201, up
    r = run(j, [
        ["Mailbox/set", {"create": {"a": {"name": "Ref A"}, "b": {"name": "Ref B"}},
                         "update": {"#a": {"name": "Ref A2"}, "#zz": {"name": "x"}},
                         "destroy": ["#b", "#zz"]}, "m"],
        ["Email/set", {"create": {"e": {"mailboxIds": {"#a": True}, "subject": "by cid"},
                                  "f": {"mailboxIds": {"#a": True}, "subject": "gone"}},
                       "update": {"#e": {"keywords/$flagged": True}}}, "e"],
        ["Email/set", {"update": {"#f": {"keywords/$seen": True}},
                       "destroy": ["#f", "#zz"]}, "e2"],
        ["Identity/set", {"create": {"i": {"email": BOB[0], "name": "By cid"}}}, "i"],
        ["Identity/set", {"update": {"#i": {"name": "By cid 2"}}, "destroy": ["#i"]}, "i2"],
        ["SieveScript/set", {"create": {"s": {"name": "bycid", "blobId": up["blobId"]}},
                             "update": {"#s": {"name": "bycid2"}}}, "s"],
        ["SieveScript/set", {"destroy": ["#s"]}, "s2"],
        ["VacationResponse/set", {"update": {"#zz": {"isEnabled": False}}}, "v"],
        # Gone now: notFound under the id the creation id names.
        ["Mailbox/set", {"update": {"#b": {"name": "x"}}, "destroy": ["#b"]}, "m3"],
        ["Identity/set", {"update": {"#i": {"name": "x"}}, "destroy": ["#i"]}, "i3"],
        ["SieveScript/set", {"update": {"#s": {"name": "x"}}, "destroy": ["#s"]}, "s3"],
    ], using=USING + [vac, sieve])
    m = r["m"][1]
    a, b = m["created"]["a"]["id"], m["created"]["b"]["id"]
    assert m["updated"] == {a: None} and m["destroyed"] == [b], m
    assert m["notUpdated"] == {"#zz": {"type": "notFound"}}, m
    assert m["notDestroyed"] == {"#zz": {"type": "notFound"}}, m
    e = r["e"][1]
    eid, fid = e["created"]["e"]["id"], e["created"]["f"]["id"]
    assert e["updated"] == {eid: None} and e["notUpdated"] is None, e
    e2 = r["e2"][1]
    assert e2["updated"] == {fid: None} and e2["destroyed"] == [fid], e2
    assert e2["notDestroyed"] == {"#zz": {"type": "notFound"}}, e2
    _, g = j.one("Email/get", {"ids": [eid, fid], "properties": ["keywords", "mailboxIds"]})
    assert g["list"] == [{"id": eid, "keywords": {"$flagged": True}, "mailboxIds": {a: True}}], g
    assert g["notFound"] == [fid], g
    _, gm = j.one("Mailbox/get", {"ids": [a, b], "properties": ["name"]})
    assert gm["list"] == [{"id": a, "name": "Ref A2"}] and gm["notFound"] == [b], gm
    iid = r["i"][1]["created"]["i"]["id"]
    assert r["i2"][1]["updated"] == {iid: None} and r["i2"][1]["destroyed"] == [iid], r["i2"]
    sid = r["s"][1]["created"]["s"]["id"]
    assert r["s"][1]["updated"] == {sid: None}, r["s"]
    assert r["s2"][1]["destroyed"] == [sid], r["s2"]
    assert r["v"][1]["notUpdated"] == {"#zz": {"type": "notFound"}}, r["v"]
    for k, oid in (("m3", b), ("i3", iid), ("s3", sid)):
        assert r[k][1]["notUpdated"] == {oid: {"type": "notFound"}}, r[k]
        assert r[k][1]["notDestroyed"] == {oid: {"type": "notFound"}}, r[k]

    # A creation id of an earlier request is not known; createdIds given
    # with the request are (§3.3).
    r = run(j, [["Email/set", {"update": {"#e": {"keywords/$seen": True}}}, "x"]])
    assert r["x"][1]["notUpdated"] == {"#e": {"type": "notFound"}}, r
    st, _, resp = j.post(json.dumps({"using": USING, "createdIds": {"old": eid}, "methodCalls": [
        ["Email/set", {"accountId": j.account, "update": {"#old": {"keywords/$seen": True}}},
         "y"]]}))
    assert st == 200 and resp["methodResponses"][0][1]["updated"] == {eid: None}, resp

    # PushSubscription (no account) and EmailSubmission.
    p = j.call([["PushSubscription/set", {"create": {"p": {
        "deviceClientId": "dev-cid", "url": "https://push.example.invalid/cid", "types": None}},
        "destroy": ["#p"]}, "p"],
        ["PushSubscription/set", {"update": {"#p": {"expires": None}}, "destroy": ["#p"]}, "p2"]])
    p, p2 = p["methodResponses"][0][1], p["methodResponses"][1][1]
    pid = p["created"]["p"]["id"]
    assert p["destroyed"] == [pid], p
    assert p2["notUpdated"] == {pid: {"type": "notFound"}}, p2
    assert p2["notDestroyed"] == {pid: {"type": "notFound"}}, p2
    _, i = j.one("Identity/get", {}, using=USING)
    _, q = j.one("Mailbox/query", {"filter": {"role": "drafts"}})
    r = run(j, [
        ["Email/set", {"create": {"d": {
            "mailboxIds": {q["ids"][0]: True}, "from": [{"email": BOB[0]}],
            "to": [{"email": AMY[0]}], "subject": "submitted by cid",
            "bodyStructure": {"type": "text/plain", "partId": "1"},
            "bodyValues": {"1": {"value": "Hi."}}}}}, "e"],
        ["EmailSubmission/set", {"create": {"s": {"identityId": i["list"][0]["id"],
                                                  "emailId": "#d"}}}, "s"],
        ["EmailSubmission/set", {"update": {"#s": {"undoStatus": "canceled"}},
                                 "destroy": ["#s"]}, "s2"],
    ])
    sub = r["s"][1]["created"]["s"]["id"]
    assert r["s2"][1]["notUpdated"] == {sub: {"type": "cannotUnsend"}}, r["s2"]
    assert r["s2"][1]["destroyed"] == [sub], r["s2"]
    did = r["e"][1]["created"]["d"]["id"]
    r = run(j, [
        ["EmailSubmission/set", {"create": {"t": {"identityId": i["list"][0]["id"],
                                                  "emailId": did}}}, "t"],
        ["EmailSubmission/set", {"destroy": ["#t"]}, "t2"],
        ["EmailSubmission/set", {"update": {"#t": {"undoStatus": "canceled"}},
                                 "destroy": ["#t"]}, "t3"],
    ])
    sub = r["t"][1]["created"]["t"]["id"]
    assert r["t3"][1]["notUpdated"] == {sub: {"type": "notFound"}}, r["t3"]
    assert r["t3"][1]["notDestroyed"] == {sub: {"type": "notFound"}}, r["t3"]


def test_patch_paths_in_every_set():
    """RFC 8620 §5.3: a PatchObject key with "/" is a path whose parts
    before the last name objects that exist, never an array (replaced
    whole), and no key is the prefix of another; else invalidPatch, in
    every /set that takes updates."""
    j = Jmap(srv(), *AMY)
    vac, sieve = "urn:ietf:params:jmap:vacationresponse", "urn:ietf:params:jmap:sieve"
    _, g = j.one("Identity/get", {}, (CORE, MAIL, SUB))
    ident = g["list"][0]["id"]

    def upd(method, oid, patch, using):
        _, u = j.one(method, {"update": {oid: patch}}, using)
        if oid in (u.get("updated") or {}):
            return "updated"
        return u["notUpdated"][oid]["type"]

    ok = {"name": "Amy", "email": "amy@example.test"}
    for patch, want in [
            ({"replyTo": [ok]}, "updated"),
            ({"replyTo/0": ok}, "invalidPatch"),            # into an array
            ({"replyTo/0/name": "X"}, "invalidPatch"),
            ({"bcc/0": ok}, "invalidPatch"),
            ({"name/x": "y"}, "invalidPatch"),               # into a string
            ({"replyTo": None, "replyTo/0": ok}, "invalidPatch"),
            ({"nosuch/x": 1}, "invalidPatch"),
            ("name", "invalidPatch"),                         # no PatchObject
            ({"name": "Amy L"}, "updated")]:
        assert upd("Identity/set", ident, patch, (CORE, MAIL, SUB)) == want, (patch, want)
    _, g = j.one("Identity/get", {"ids": [ident]}, (CORE, MAIL, SUB))
    assert g["list"][0]["replyTo"] == [ok] and g["list"][0]["name"] == "Amy L", g

    for patch, want in [({"subject/x": "y"}, "invalidPatch"),
                        ({"isEnabled": False, "isEnabled/x": True}, "invalidPatch"),
                        ([], "invalidPatch"),
                        ({"subject": "Away"}, "updated")]:
        assert upd("VacationResponse/set", "singleton", patch, (CORE, MAIL, vac)) == want, patch

    _, q = j.one("Mailbox/query", {"filter": {"role": "inbox"}})
    inbox = q["ids"][0]
    _, m = j.one("Mailbox/set", {"create": {"a": {"name": "Patched"}}})
    mb = m["created"]["a"]["id"]
    for patch, want in [({"name/x": "y"}, "invalidPatch"),
                        ({"myRights/mayDelete": False}, "invalidProperties"),
                        ({"myRights/x/y": False}, "invalidPatch"),
                        (None, "invalidPatch"),
                        ({"sortOrder": 3}, "updated")]:
        assert upd("Mailbox/set", mb, patch, (CORE, MAIL)) == want, (patch, want)

    e = import_msg(j, msg("patch paths"), mailbox=inbox)
    for patch, want in [({"subject/x": "y"}, "invalidPatch"),
                        ({"from/0": ok}, "invalidPatch"),
                        ({"mailboxIds": {inbox: True}, "mailboxIds/" + mb: True}, "invalidPatch"),
                        ({"keywords/$seen": True}, "updated")]:
        assert upd("Email/set", e, patch, (CORE, MAIL)) == want, (patch, want)

    st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, b"keep;\r\n",
                          {"Content-Type": "application/sieve"})
    assert st == 201, up
    _, s = j.one("SieveScript/set", {"create": {"s": {"name": "p", "blobId": up["blobId"]}}},
                 (CORE, sieve))
    sid = s["created"]["s"]["id"]
    for patch, want in [({"name/x": "y"}, "invalidPatch"), (1, "invalidPatch"),
                        ({"name": "q"}, "updated")]:
        assert upd("SieveScript/set", sid, patch, (CORE, sieve)) == want, (patch, want)

    r = j.call([["PushSubscription/set", {"create": {"p": {
        "deviceClientId": "patch-dev", "url": "https://127.0.0.1:9/push",
        "keys": {"p256dh": P256DH, "auth": AUTH}, "types": ["Email"]}}}, "c"]], (CORE,))
    p = r["methodResponses"][0][1]
    assert "p" in p["created"], p
    pid = p["created"]["p"]["id"]
    for patch, want in [({"types/0": "Mailbox"}, "invalidPatch"),
                        ({"expires/x": 1}, "invalidPatch"),
                        ({"keys/auth": "eA"}, "invalidProperties"),
                        (True, "invalidPatch"),
                        ({"types": ["Mailbox"]}, "updated")]:
        r = j.call([["PushSubscription/set", {"update": {pid: patch}}, "c"]], (CORE,))
        u = r["methodResponses"][0][1]
        got = "updated" if pid in (u.get("updated") or {}) else u["notUpdated"][pid]["type"]
        assert got == want, (patch, u)


def test_query_changes_by_thread_keywords():
    """Email/queryChanges for a query on a thread's keywords (RFC 8621
    §4.4.1): flagging one email of a thread brings its unchanged sibling
    into someInThreadHaveKeyword's results and out of
    noneInThreadHaveKeyword's, and moves it in a sort by them; the old
    results patched with the changes equal a fresh query's."""
    j = Jmap(srv(), *AMY)
    a = import_msg(j, msg("thread kw"), "2026-02-01T00:01:00Z")
    b = import_msg(j, msg("Re: thread kw", extra="In-Reply-To: <thread-kw@remote.test>\r\n"
                          "References: <thread-kw@remote.test>\r\n"), "2026-02-01T00:02:00Z")
    import_msg(j, msg("thread kw other"), "2026-02-01T00:03:00Z")
    _, g = j.one("Email/get", {"ids": [a, b], "properties": ["threadId"]})
    assert g["list"][0]["threadId"] == g["list"][1]["threadId"], g
    queries = [{"filter": {"someInThreadHaveKeyword": "$flagged"}},
               {"filter": {"operator": "NOT", "conditions": [
                   {"noneInThreadHaveKeyword": "$flagged"}]}},
               {"filter": {"noneInThreadHaveKeyword": "$flagged"}},
               {"sort": [{"property": "someInThreadHaveKeyword", "keyword": "$flagged",
                          "isAscending": False}, {"property": "receivedAt"}]}]
    before = [j.one("Email/query", q)[1] for q in queries]
    _, u = j.one("Email/set", {"update": {a: {"keywords/$flagged": True}}})
    assert a in u["updated"], u
    for q, old in zip(queries, before):
        _, now = j.one("Email/query", q)
        name, ch = j.one("Email/queryChanges", dict(q, sinceQueryState=old["queryState"]))
        if name == "error":
            assert ch["type"] == "cannotCalculateChanges", (q, ch)
            continue
        ids = [x for x in old["ids"] if x not in ch["removed"]]
        for add in sorted(ch["added"], key=lambda x: x["index"]):
            ids.insert(add["index"], add["id"])
        assert ids == now["ids"], (q, old["ids"], ch, now["ids"])


def test_query_changes_up_to_id():
    """Email/queryChanges with upToId (RFC 8620 5.6): when filter and sort
    are on immutable properties only, changes after upToId in the results
    are left out, and an email's keyword change (which cannot move it)
    is no change; with a mutable one upToId is ignored. Applied to the
    client's cached head of the old results, the answer gives the head
    of a fresh query's (tern ignored upToId: every change was told)."""
    j = Jmap(srv(), *CLEO)
    a = import_msg(j, msg("upto a"), "2026-03-01T00:01:00Z")
    b = import_msg(j, msg("upto b"), "2026-03-01T00:03:00Z")
    c = import_msg(j, msg("upto c"), "2026-03-01T00:05:00Z")
    fixed = {"filter": {"subject": "upto"}, "sort": [{"property": "receivedAt"}]}
    moving = {"filter": {"subject": "upto", "notKeyword": "$junk"},
              "sort": [{"property": "receivedAt"}]}
    _, old = j.one("Email/query", fixed)
    _, old_m = j.one("Email/query", moving)
    assert old["ids"] == [a, b, c] and old_m["ids"] == [a, b, c], (old, old_m)
    d = import_msg(j, msg("upto d"), "2026-03-01T00:02:00Z")
    e = import_msg(j, msg("upto e"), "2026-03-01T00:09:00Z")
    _, r = j.one("Email/set", {"destroy": [c], "update": {a: {"keywords/$flagged": True}}})
    assert r["destroyed"] == [c] and a in r["updated"], r
    _, now = j.one("Email/query", fixed)
    assert now["ids"] == [a, d, b, e], now
    name, ch = j.one("Email/queryChanges", dict(fixed, sinceQueryState=old["queryState"],
                                                 upToId=b))
    assert name == "Email/queryChanges", ch
    assert sorted(ch["removed"]) == sorted([c, d]), ch
    assert ch["added"] == [{"id": d, "index": 1}], ch
    head = [x for x in old["ids"][:2] if x not in ch["removed"]]
    for add in sorted(ch["added"], key=lambda x: x["index"]):
        head.insert(add["index"], add["id"])
    assert head == now["ids"][:3], (head, now)
    # upToId no longer in the results: no cut.
    _, ch = j.one("Email/queryChanges", dict(fixed, sinceQueryState=old["queryState"],
                                             upToId=c))
    assert {x["id"] for x in ch["added"]} >= {d, e}, ch
    # A mutable condition: upToId ignored, every change told.
    _, ch = j.one("Email/queryChanges", dict(moving, sinceQueryState=old_m["queryState"],
                                             upToId=b))
    assert {x["id"] for x in ch["added"]} >= {d, e} and c in ch["removed"], ch


def test_server_set_sent_unchanged_in_every_set():
    """RFC 8620 §5.3: an update naming a server-set or immutable property
    is rejected "unless the value is the same as the current value"
    (a client echoing back what it read); the same property with another
    value is invalidProperties naming it, in every /set that updates."""
    s = srv()
    j = Jmap(s, *CLEO)
    vac, sieve = "urn:ietf:params:jmap:vacationresponse", "urn:ietf:params:jmap:sieve"

    def upd(method, oid, patch, using):
        _, u = j.one(method, {"update": {oid: patch}}, using)
        if oid in (u.get("updated") or {}):
            return "updated"
        e = u["notUpdated"][oid]
        return (e["type"], e.get("properties"))

    bad = lambda p: ("invalidProperties", [p])  # noqa: E731

    _, g = j.one("Identity/get", {}, USING)
    ident = g["list"][0]
    for patch, want in [({"id": ident["id"], "mayDelete": ident["mayDelete"], "name": "Cleo"},
                         "updated"),
                        ({"mayDelete": not ident["mayDelete"]}, bad("mayDelete")),
                        ({"id": "Ixx"}, bad("id"))]:
        assert upd("Identity/set", ident["id"], patch, USING) == want, (patch, want)

    _, g = j.one("Mailbox/get", {})
    inbox = [m for m in g["list"] if m["role"] == "inbox"][0]
    for patch, want in [({"id": inbox["id"], "totalEmails": inbox["totalEmails"],
                          "unreadThreads": inbox["unreadThreads"], "role": "inbox",
                          "myRights/mayDelete": False, "isSubscribed": inbox["isSubscribed"]},
                         "updated"),
                        ({"myRights": inbox["myRights"]}, "updated"),
                        ({"totalEmails": inbox["totalEmails"] + 1}, bad("totalEmails")),
                        ({"myRights/mayDelete": True}, bad("myRights/mayDelete"))]:
        assert upd("Mailbox/set", inbox["id"], patch, (CORE, MAIL)) == want, (patch, want)

    e = import_msg(j, msg("echoed back"), mailbox=inbox["id"])
    props = ["blobId", "threadId", "size", "receivedAt", "subject", "from", "messageId",
             "header:Subject:asText"]
    _, g = j.one("Email/get", {"ids": [e], "properties": props})
    cur = g["list"][0]
    patch = {k: cur[k] for k in props}
    patch["keywords/$flagged"] = True
    assert upd("Email/set", e, patch, (CORE, MAIL)) == "updated", patch
    for k, v in [("subject", "other"), ("size", cur["size"] + 1), ("from", None),
                 ("header:Subject:asText", "x")]:
        assert upd("Email/set", e, {k: v}, (CORE, MAIL)) == bad(k), k

    assert upd("VacationResponse/set", "singleton", {"id": "singleton", "isEnabled": False},
               (CORE, MAIL, vac)) == "updated"
    assert upd("VacationResponse/set", "singleton", {"id": "other"},
               (CORE, MAIL, vac)) == bad("id")

    st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, b"keep;\r\n",
                          {"Content-Type": "application/sieve"})
    assert st == 201, up
    _, r = j.one("SieveScript/set", {"create": {"s": {"name": "echo", "blobId": up["blobId"]}}},
                 (CORE, sieve))
    sid = r["created"]["s"]["id"]
    assert upd("SieveScript/set", sid, {"id": sid, "isActive": False, "name": "echo2"},
               (CORE, sieve)) == "updated"
    assert upd("SieveScript/set", sid, {"isActive": True}, (CORE, sieve)) == bad("isActive")

    sub = {"deviceClientId": "echo-dev", "url": "https://127.0.0.1:9/push",
           "keys": {"p256dh": P256DH, "auth": AUTH}, "types": ["Email"]}
    bare = {k: sub[k] for k in ("deviceClientId", "url")}
    r = j.call([["PushSubscription/set", {"create": {"p": sub, "q": bare}}, "c"]], (CORE,))
    made = r["methodResponses"][0][1]["created"]
    pid = made["p"]["id"]
    # created: the server's properties and the defaults of those left out.
    assert made["q"] == {"id": made["q"]["id"], "expires": made["q"]["expires"],
                         "verificationCode": None, "types": None}, made
    assert "types" not in made["p"], made
    for patch, want in [(dict(sub, id=pid, types=["Mailbox"]), "updated"),
                        ({"url": "https://127.0.0.1:9/other"}, bad("url")),
                        ({"keys": {"p256dh": P256DH, "auth": "eA"}}, bad("keys"))]:
        r = j.call([["PushSubscription/set", {"update": {pid: patch}}, "c"]], (CORE,))
        u = r["methodResponses"][0][1]
        got = "updated" if pid in (u.get("updated") or {}) else (
            u["notUpdated"][pid]["type"], u["notUpdated"][pid].get("properties"))
        assert got == want, (patch, u)

    # An EmailSubmission: only undoStatus "canceled" changes anything
    # (cannotUnsend: it went at once); "final" and the rest as they are
    # change nothing.
    _, q = j.one("Mailbox/query", {"filter": {"role": "drafts"}})
    r = run(j, [
        ["Email/set", {"create": {"d": {
            "mailboxIds": {q["ids"][0]: True}, "from": [{"email": CLEO[0]}],
            "to": [{"email": CLEO[0]}], "subject": "to myself",
            "bodyStructure": {"type": "text/plain", "partId": "1"},
            "bodyValues": {"1": {"value": "Hi."}}}}}, "e"],
        ["EmailSubmission/set", {"create": {"s": {"identityId": ident["id"],
                                                  "emailId": "#d"}}}, "s"]])
    made = r["s"][1]["created"]["s"]
    sid = made["id"]
    _, g = j.one("EmailSubmission/get", {"ids": [sid]}, USING)
    cur = g["list"][0]
    # created: the server-set properties and the envelope it made (RFC
    # 8621 §7), as /get has them; not what the client gave.
    server_set = ("id", "threadId", "sendAt", "undoStatus", "dsnBlobIds", "mdnBlobIds",
                  "envelope")
    assert {k: v for k, v in made.items() if k != "deliveryStatus"} == {
        k: cur[k] for k in server_set}, (made, cur)
    assert "deliveryStatus" in made and "emailId" not in made, made
    same = {k: cur[k] for k in ("id", "identityId", "emailId", "threadId", "undoStatus")}
    assert upd("EmailSubmission/set", sid, same, USING) == "updated", same
    assert upd("EmailSubmission/set", sid, {"undoStatus": "canceled"},
               USING)[0] == "cannotUnsend"
    assert upd("EmailSubmission/set", sid, {"emailId": "Exx"}, USING)[0] == "invalidProperties"


def test_set_destroy_id_given_twice():
    """An id given twice in /set's destroy is one destroy: in destroyed
    once and not in notDestroyed (it was answered notFound for the
    second), for Mailbox and Email."""
    j = Jmap(srv(), *CLEO)
    _, m = j.one("Mailbox/set", {"create": {"a": {"name": "Twice"}}})
    mb = m["created"]["a"]["id"]
    e = import_msg(j, msg("destroyed twice"))
    for method, oid in (("Mailbox/set", mb), ("Email/set", e)):
        _, d = j.one(method, {"destroy": [oid, oid]})
        assert d["destroyed"] == [oid] and d["notDestroyed"] is None, (method, d)


def test_creation_ids_are_ids():
    """RFC 8620 §5.3: a /set's create is an Id[Foo] and its update an
    Id[PatchObject] (an id, or "#" and a creation id): a key that is no
    Id (empty, a space, "#" in a creation id: §1.2's 1-255 URL-safe
    base64 characters) is invalidArguments naming the map, and nothing
    is written; so for Email/import's emails, Blob/upload's create,
    MDN/send's send and EmailSubmission/set's onSuccessUpdateEmail. A
    creation id such as "#c" could never be referenced (it would be
    "##c"). Keys that are Ids still create."""
    j = Jmap(srv(), *CLEO)
    mdn, blob, sieve = ("urn:ietf:params:jmap:mdn", "urn:ietf:params:jmap:blob",
                        "urn:ietf:params:jmap:sieve")
    _, g = j.one("Mailbox/get", {"properties": ["name"]})
    names = {m["name"] for m in g["list"]}
    for bad in ("", "a b", "#c", "x" * 256, "caf\u00e9"):
        calls = [
            ("Mailbox/set", {"create": {bad: {"name": "NotAnId"}}}, "create", USING),
            ("Mailbox/set", {"update": {bad: {"name": "NotAnId"}}}, "update", USING),
            ("Email/set", {"create": {bad: {"mailboxIds": {"x": True}}}}, "create", USING),
            ("Identity/set", {"create": {bad: {"email": CLEO[0]}}}, "create", USING),
            ("EmailSubmission/set", {"create": {bad: {}}}, "create", USING),
            ("EmailSubmission/set", {"onSuccessUpdateEmail": {bad: {}}},
             "onSuccessUpdateEmail", USING),
            ("Email/import", {"emails": {bad: {}}}, "emails", USING),
            ("Blob/upload", {"create": {bad: {"data": [{"data:asText": "x"}]}}}, "create",
             [CORE, blob]),
            ("MDN/send", {"identityId": "I1", "send": {bad: {}}}, "send", USING + [mdn]),
            ("SieveScript/set", {"create": {bad: {"name": "n", "blobId": "B1"}}}, "create",
             [CORE, sieve]),
        ]
        if bad == "#c":  # a patch's key may be a creation id reference
            calls = [x for x in calls if x[2] not in ("update", "onSuccessUpdateEmail")]
        for method, args, arg, using in calls:
            args["accountId"] = j.account
            r = no_server_fail(j.call([[method, args, "c"]], using))["methodResponses"]
            assert r[0][0] == "error" and r[0][1]["type"] == "invalidArguments" and \
                r[0][1].get("arguments") == [arg], (bad, method, r)
    _, g = j.one("Mailbox/get", {"properties": ["name"]})
    assert {m["name"] for m in g["list"]} == names, g
    _, st = j.one("Mailbox/set", {"create": {"A-z_09": {"name": "AnId"}}})
    assert set(st["created"] or {}) == {"A-z_09"}, st


def test_email_created_names_its_defaults():
    """RFC 8620 §5.3: created holds the server-set properties and those
    the client omitted and the server gave their default; an Email's
    receivedAt (default: the time of creation) and keywords (default {},
    RFC 8621 §4.1.1) when left out of an Email/set create, as Email/get
    reads them after. Email/import's created is id, blobId, threadId and
    size (RFC 8621 §4.8)."""
    j = Jmap(srv(), *CLEO)
    _, q = j.one("Mailbox/query", {"filter": {"role": "inbox"}})
    inbox = q["ids"][0]
    _, r = j.one("Email/set", {"create": {
        "a": {"mailboxIds": {inbox: True}, "subject": "defaults"},
        "b": {"mailboxIds": {inbox: True}, "subject": "given", "keywords": {"$seen": True},
              "receivedAt": "2025-05-05T05:05:05Z"}}})
    a, b = r["created"]["a"], r["created"]["b"]
    _, g = j.one("Email/get", {"ids": [a["id"], b["id"]], "properties": ["receivedAt", "keywords"]})
    got = {e["id"]: e for e in g["list"]}
    assert a["receivedAt"] == got[a["id"]]["receivedAt"] and a["keywords"] == {}, (a, g)
    assert got[b["id"]]["receivedAt"] == "2025-05-05T05:05:05Z", g
    assert {"id", "blobId", "threadId", "size"} <= set(b), b
    st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, msg("imported defaults"),
                          {"Content-Type": "message/rfc822"})
    assert st == 201, up
    _, r = j.one("Email/import", {"emails": {"i": {"blobId": up["blobId"],
                                                   "mailboxIds": {inbox: True}}}})
    assert set(r["created"]["i"]) == {"id", "blobId", "threadId", "size"}, r


def test_thread_get_ids_null():
    """RFC 8620 §5.1: /get with ids null returns every object of the type
    when there are at most maxObjectsInGet: Thread/get lists the threads
    of the account's emails (each with its emailIds, oldest first, as
    asked by id), an empty account none; past maxObjectsInGet threads it
    is requestTooLarge."""
    j = Jmap(srv(), *DORA)
    _, t = j.one("Thread/get", {"ids": None})
    assert t["list"] == [] and t["notFound"] == [], t
    for subject in ("alone", "pair"):
        import_msg(j, msg(subject))
    import_msg(j, msg("Re: pair", extra="In-Reply-To: <pair@remote.test>\r\n"), "2026-01-02T00:00:00Z")
    _, e = j.one("Email/get", {"ids": None, "properties": ["threadId"]})
    threads = {m["threadId"] for m in e["list"]}
    assert len(e["list"]) == 3 and len(threads) == 2, e
    _, t = j.one("Thread/get", {"ids": None})
    _, by_id = j.one("Thread/get", {"ids": sorted(threads)})
    assert sorted(t["list"], key=lambda x: x["id"]) == sorted(by_id["list"], key=lambda x: x["id"]), (t, by_id)
    assert {x["id"] for x in t["list"]} == threads and t["notFound"] == [], t
    _, q = j.one("Mailbox/query", {"filter": {"role": "inbox"}})
    max_get = j.session()["capabilities"][CORE]["maxObjectsInGet"]

    def more_threads(left):
        while left > 0:
            n = min(left, 400)
            _, r = j.one("Email/set", {"create": {"c%d" % i: {
                "mailboxIds": {q["ids"][0]: True}, "subject": "thread %d %d" % (left, i)}
                for i in range(n)}})
            assert len(r["created"] or {}) == n, r
            left -= n

    more_threads(max_get - len(threads))
    _, t = j.one("Thread/get", {"ids": None, "properties": ["id"]})
    assert len({x["id"] for x in t["list"]}) == max_get, len(t["list"])
    more_threads(1)
    _, e = j.one("Thread/get", {"ids": None})
    assert e == {"type": "requestTooLarge"}, e


def test_set_members_without_entries_are_null():
    """RFC 8620 §5.3: created, updated, destroyed and the notX members of
    a /set answer are null when they have no entry ("This argument is
    null if no Foo objects were successfully created"), present all the
    same, for every /set (one writer, SieveScript/set's own, and
    PushSubscription/set's without states), as Email/import and
    Blob/upload answer; they were {} and []."""
    j = Jmap(srv(), *AMY)
    members = ("created", "updated", "destroyed", "notCreated", "notUpdated", "notDestroyed")
    calls = [["Mailbox/set", {"destroy": ["Mffffff00"]}, "m"],
             ["Identity/set", {"update": {"Iffffff00": {"name": "x"}}}, "i"],
             ["EmailSubmission/set", {}, "s"],
             ["VacationResponse/set", {}, "v"],
             ["SieveScript/set", {"destroy": ["Sffffff00"]}, "ss"]]
    r = run(j, calls, USING + ["urn:ietf:params:jmap:vacationresponse",
                               "urn:ietf:params:jmap:sieve"])
    # PushSubscription/set has no accountId (RFC 8620 §7.2).
    calls.append(["PushSubscription/set", {"destroy": ["Pffffff00"]}, "p"])
    (r["p"],) = [tuple(m[:2]) for m in j.call([calls[-1]], [CORE])["methodResponses"]]
    for (method, _, cid), has in zip(calls, ("notDestroyed", "notUpdated", None, None,
                                             "notDestroyed", "notDestroyed")):
        name, a = r[cid]
        assert name == method, (method, a)
        for k in members:
            assert k in a and (a[k] is None) == (k != has), (method, k, a)
    _, d = j.one("Mailbox/set", {"create": {"n": {"name": "Null members"}}})
    assert set(d["created"]) == {"n"} and all(d[k] is None for k in members[1:]), d


def test_max_mailboxes_per_email_kept():
    """The session tells the most mailboxes an email may be in
    (maxMailboxesPerEmail, RFC 8621 §1.3.1), and Email/set keeps to it: a
    patch past it is invalidProperties (mailboxIds); it was "updated"
    with the mailboxes past the 64th dropped."""
    j = Jmap(srv(), *CLEO)
    most = j.session()["accounts"][j.account]["accountCapabilities"][MAIL]["maxMailboxesPerEmail"]
    assert most == 64, most
    _, m = j.one("Mailbox/set", {"create": {"m%d" % i: {"name": "Many %d" % i}
                                            for i in range(most)}})
    mbs = [m["created"]["m%d" % i]["id"] for i in range(most)]
    e = import_msg(j, msg("in many mailboxes"))
    _, u = j.one("Email/set", {"update": {e: {"mailboxIds/" + x: True for x in mbs[:most - 1]}}})
    assert u["updated"] == {e: None}, u
    _, u = j.one("Email/set", {"update": {e: {"mailboxIds/" + mbs[-1]: True}}})
    assert u["notUpdated"][e]["type"] == "invalidProperties", u
    assert u["notUpdated"][e]["properties"] == ["mailboxIds"], u
    _, u = j.one("Email/set", {"update": {e: {"mailboxIds": {x: True for x in mbs} |
                                              {mbs[0]: True}}}})
    assert u["updated"] == {e: None}, u
    _, g = j.one("Email/get", {"ids": [e], "properties": ["mailboxIds"]})
    assert sorted(g["list"][0]["mailboxIds"]) == sorted(mbs), g


def test_body_value_malformed_charset_is_encoding_problem():
    """isEncodingProblem (RFC 8621 §4.1.4) is true when octets malformed in
    the part's charset were found: invalid UTF-8 in a utf-8 part (each
    shown as U+FFFD) is one; a U+FFFD the text itself holds is not. It was
    false for the invalid octets."""
    j = Jmap(srv(), *AMY)
    bad = import_msg(j, msg("bad utf8", base64.b64encode(b"caf\xe9 ok\r\n").decode() + "\r\n",
                            "Content-Type: text/plain; charset=utf-8\r\n"
                            "Content-Transfer-Encoding: base64\r\n"))
    _, g = j.one("Email/get", {"ids": [bad], "properties": ["bodyValues"],
                               "fetchTextBodyValues": True})
    assert g["list"][0]["bodyValues"] == {"0": {"value": "caf\ufffd ok\n", "isEncodingProblem": True,
                                                "isTruncated": False}}, g
    good = import_msg(j, msg("literal fffd", "a \ufffd b\r\n", "Content-Type: text/plain; "
                                                            "charset=utf-8\r\n"))
    _, g = j.one("Email/get", {"ids": [good], "properties": ["bodyValues"],
                               "fetchTextBodyValues": True})
    assert g["list"][0]["bodyValues"] == {"0": {"value": "a \ufffd b\n", "isEncodingProblem": False,
                                                "isTruncated": False}}, g


def test_body_value_line_ends_and_no_limit():
    """An EmailBodyValue's value has "any CRLF replaced with a single LF"
    (RFC 8621 §4.1.4; a lone CR stays), in Email/get and Email/parse, and
    maxBodyValueBytes counts the octets so sent; 0, the argument's default,
    is no truncation (§4.2: "If greater than zero ..."). The CRLFs were
    kept, and 0 was invalidArguments."""
    j = Jmap(srv(), *AMY)
    eid = import_msg(j, msg("line ends", "one\r\ntwo\rthree\r\n\r\nend\r\n"))
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["bodyValues", "blobId"],
                               "fetchTextBodyValues": True, "maxBodyValueBytes": 0})
    assert g["list"][0]["bodyValues"] == {"0": {"value": "one\ntwo\rthree\n\nend\n",
                                                "isEncodingProblem": False,
                                                "isTruncated": False}}, g
    blob = g["list"][0]["blobId"]
    # 9 octets: "one\ntwo\rt", which is 11 with CRLF.
    _, p = j.one("Email/parse", {"blobIds": [blob], "properties": ["bodyValues"],
                                 "fetchAllBodyValues": True, "maxBodyValueBytes": 9})
    assert p["parsed"][blob]["bodyValues"] == {"0": {"value": "one\ntwo\rt",
                                                     "isEncodingProblem": False,
                                                     "isTruncated": True}}, p


def test_html_body_value_not_cut_inside_a_tag():
    """RFC 8621 §4.2 maxBodyValueBytes: for text/html the server "SHOULD
    NOT truncate inside an HTML tag, e.g., in the middle of <a
    href=...>": a limit that falls inside a tag cuts before its "<"; one
    between tags cuts there; text/plain is cut at the limit whatever it
    holds. The HTML was cut at the limit, mid-tag."""
    j = Jmap(srv(), *AMY)
    html = '<p>Hi <a href="https://example.com/x">link</a> end</p>\r\n'
    eid = import_msg(j, msg("html cut", html, "MIME-Version: 1.0\r\n"
                                              "Content-Type: text/html; charset=utf-8\r\n"))
    plain = import_msg(j, msg("plain cut", html))

    def value(email, n):
        _, g = j.one("Email/get", {"ids": [email], "properties": ["bodyValues"],
                                   "fetchAllBodyValues": True, "maxBodyValueBytes": n})
        v = g["list"][0]["bodyValues"]["0"]
        assert v["isTruncated"] is (n < len(html) - 1), (n, v)
        return v["value"]
    assert value(eid, 20) == "<p>Hi ", value(eid, 20)          # inside <a href=...>
    assert value(eid, 6) == "<p>Hi ", value(eid, 6)            # at the tag's "<"
    assert value(eid, 2) == "", value(eid, 2)                  # inside the first tag
    assert value(eid, 41) == html[:41], value(eid, 41)        # text between tags
    assert value(eid, 45) == html[:42], value(eid, 45)        # inside </a>
    assert value(eid, 46) == html[:46], value(eid, 46)        # just past </a>
    assert value(plain, 20) == html[:20], value(plain, 20)


def test_text_forms_are_nfc():
    """RFC 8621 §4.1.2.2: the Text form's last step converts the decoded
    value to NFC; subject (header:Subject:asText) and the display names
    of from/to and asAddresses get the same. A decomposed "e" and U+0301,
    raw or in an RFC 2047 word, was passed on decomposed; the Raw form
    keeps what the message has."""
    j = Jmap(srv(), *AMY)
    nfd = "Cafe\u0301"
    word = "=?utf-8?q?Cafe=CC=81?="
    raw = ("From: %s <alice@remote.test>\r\nTo: bob@example.test\r\n"
           "Subject: %s and %s\r\nMessage-ID: <nfc@remote.test>\r\n"
           "X-Note: %s\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\nx\r\n"
           % (word, nfd, word, nfd)).encode()
    eid = import_msg(j, raw)
    _, g = j.one("Email/get", {"ids": [eid], "properties": [
        "subject", "from", "header:Subject:asText", "header:X-Note:asText",
        "header:From:asAddresses", "header:X-Note"]})
    m = g["list"][0]
    assert m["subject"] == "Caf\u00e9 and Caf\u00e9", m
    assert m["header:Subject:asText"] == m["subject"], m
    assert m["header:X-Note:asText"] == "Caf\u00e9", m
    assert m["from"] == [{"name": "Caf\u00e9", "email": "alice@remote.test"}], m
    assert m["header:From:asAddresses"] == m["from"], m
    assert m["header:X-Note"] == " " + nfd, m


def test_text_form_trims_only_leading_spaces():
    """RFC 8621 §4.1.2.2's Text form: unfolded, the terminating CRLF and
    "any SP characters at the beginning of the value removed", decoded,
    NFC; nothing else is trimmed (Cyrus keeps a trailing space too).
    Trailing spaces and tabs were cut from asText and from subject, which
    is header:Subject:asText; a fold inside the value stays a space."""
    j = Jmap(srv(), *AMY)
    raw = ("From: alice@remote.test\r\nTo: bob@example.test\r\n"
           "Subject:   Hello  =?utf-8?q?w=C3=B6rld?= \t \r\nMessage-ID: <trim@remote.test>\r\n"
           "X-Note: folded\r\n  line  \r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain\r\n\r\nx\r\n").encode()
    eid = import_msg(j, raw)
    _, g = j.one("Email/get", {"ids": [eid], "properties": [
        "subject", "header:Subject:asText", "header:X-Note:asText", "header:Subject"]})
    m = g["list"][0]
    assert m["header:Subject:asText"] == "Hello  w\u00f6rld \t ", m
    assert m["subject"] == m["header:Subject:asText"], m
    assert m["header:X-Note:asText"] == "folded  line  ", m
    assert m["header:Subject"] == "   Hello  =?utf-8?q?w=C3=B6rld?= \t ", m


def test_filter_nested_as_deep_as_json_allows():
    """RFC 8620 §5.5 sets no depth for FilterOperators: a filter nested 13
    deep (as deep as the request's JSON may go) is judged, in Email/query,
    SearchSnippet/get and Mailbox/query alike, as the condition it wraps
    (an even number of NOTs). Past 8 levels it was invalidArguments "a
    filter is an object"."""
    j = Jmap(srv(), *BOB)
    ids = emails(j)
    def nest(cond):
        f = cond
        for i in range(13):
            f = {"operator": "NOT" if i % 2 else "AND", "conditions": [f]}
        return f
    r = run(j, [
        ["Email/query", {"filter": {"subject": "three"}}, "flat"],
        ["Email/query", {"filter": nest({"subject": "three"})}, "deep"],
        ["SearchSnippet/get", {"emailIds": ids[:1], "filter": nest({"text": "x"})}, "snip"],
        ["Mailbox/query", {"filter": nest({"role": "inbox"})}, "mb"],
    ])
    assert r["flat"][1]["ids"] and r["deep"][1]["ids"] == r["flat"][1]["ids"], r
    assert r["snip"][0] == "SearchSnippet/get", r["snip"]
    assert r["mb"][0] == "Mailbox/query" and len(r["mb"][1]["ids"]) == 1, r["mb"]


def test_query_by_creation_id():
    """RFC 8620 §5.3: a "#" and creation id stands for the id made earlier
    in the request wherever an id is expected, the /query arguments too:
    Email/query's inMailbox, inMailboxOtherThan and anchor, Mailbox/query's
    parentId. They were taken as ids no object has (no results,
    anchorNotFound)."""
    j = Jmap(srv(), *CLEO)
    r = run(j, [
        ["Mailbox/set", {"create": {"p": {"name": "Ref parent"},
                                    "k": {"name": "Ref kid", "parentId": "#p"}}}, "m"],
        ["Email/set", {"create": {"a": {"mailboxIds": {"#p": True}, "subject": "in p"},
                                  "b": {"mailboxIds": {"#p": True, "#k": True},
                                        "subject": "in p and k"}}}, "e"],
        ["Email/query", {"filter": {"inMailbox": "#p"},
                         "sort": [{"property": "subject"}]}, "in"],
        ["Email/query", {"filter": {"operator": "AND", "conditions": [
            {"inMailbox": "#k"}, {"inMailboxOtherThan": ["#k"]}]}}, "other"],
        ["Email/query", {"filter": {"inMailbox": "#p"}, "sort": [{"property": "subject"}],
                         "anchor": "#b", "anchorOffset": 0}, "anchor"],
        ["Email/query", {"filter": {"inMailbox": "#p"}, "anchor": "#zz"}, "nope"],
        ["Mailbox/query", {"filter": {"parentId": "#p"}}, "kids"],
    ])
    a, b = r["e"][1]["created"]["a"]["id"], r["e"][1]["created"]["b"]["id"]
    kid = r["m"][1]["created"]["k"]["id"]
    assert r["in"][1]["ids"] == [a, b], r["in"]
    assert r["other"][1]["ids"] == [b], r["other"]
    assert r["anchor"][1]["ids"] == [b] and r["anchor"][1]["position"] == 1, r["anchor"]
    assert err(r["nope"]) == "anchorNotFound", r["nope"]
    assert r["kids"][1]["ids"] == [kid], r["kids"]
    # EmailSubmission/query's emailIds and anchor alike.
    _, i = j.one("Identity/get", {}, using=USING)
    _, q = j.one("Mailbox/query", {"filter": {"role": "drafts"}})
    r = run(j, [
        ["Email/set", {"create": {"d": {
            "mailboxIds": {q["ids"][0]: True}, "from": [{"email": CLEO[0]}],
            "to": [{"email": AMY[0]}], "subject": "queried by cid",
            "bodyStructure": {"type": "text/plain", "partId": "1"},
            "bodyValues": {"1": {"value": "Hi."}}}}}, "e"],
        ["EmailSubmission/set", {"create": {"s": {"identityId": i["list"][0]["id"],
                                                  "emailId": "#d"}}}, "s"],
        ["EmailSubmission/query", {"filter": {"emailIds": ["#d"]}, "anchor": "#s"}, "q"],
    ])
    assert r["q"][1]["ids"] == [r["s"][1]["created"]["s"]["id"]], r["q"]
    # And SieveScript/query's anchor.
    sieve = "urn:ietf:params:jmap:sieve"
    st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, b"keep;\r\n",
                          {"Content-Type": "application/sieve"})
    assert st == 201, up
    r = run(j, [
        ["SieveScript/set", {"create": {"s": {"name": "anchored", "blobId": up["blobId"]}}}, "s"],
        ["SieveScript/query", {"anchor": "#s"}, "q"],
    ], using=USING + [sieve])
    assert r["q"][1]["ids"] == [r["s"][1]["created"]["s"]["id"]], r["q"]


def test_attached_message_is_an_attachment():
    """A message forwarded as an attachment (message/rfc822 holding only
    text) is in "attachments", so hasAttachment is true (RFC 8621 §4.1.4:
    SHOULD when that list holds an item not marked inline), and the
    hasAttachment filter finds it; one marked inline, holding only text,
    is not. Each was false."""
    j = Jmap(srv(), *CLEO)

    def fwd(subject, disposition):
        return ("From: Alice <alice@remote.test>\r\nTo: cleo@example.test\r\nSubject: %s\r\n"
                "Message-ID: <%s@remote.test>\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
                "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                "--b\r\nContent-Type: text/plain\r\n\r\nForwarded below.\r\n"
                "--b\r\nContent-Type: message/rfc822\r\n%s\r\n"
                "From: Carol <carol@x.test>\r\nSubject: inner\r\n\r\nInner text.\r\n"
                "--b--\r\n" % (subject, subject, disposition)).encode()

    att = import_msg(j, fwd("fwd-att", ""))
    inl = import_msg(j, fwd("fwd-inline", "Content-Disposition: inline\r\n"))
    _, g = j.one("Email/get", {"ids": [att, inl], "properties": ["hasAttachment", "attachments"],
                               "bodyProperties": ["type"]})
    got = {e["id"]: e for e in g["list"]}
    assert got[att]["attachments"] == [{"type": "message/rfc822"}], got
    assert got[att]["hasAttachment"] is True and got[inl]["hasAttachment"] is False, got
    _, q = j.one("Email/query", {"filter": {"hasAttachment": True}})
    assert att in q["ids"] and inl not in q["ids"], q


def test_mailbox_changes_within_max_changes():
    """Mailbox/changes never names more than maxChanges mailboxes (RFC
    8620 §5.2 MUST NOT): a keyword change moves the counts of every
    mailbox the email is in, though its log entry names one of them. With
    an email in two mailboxes flagged seen and then a mailbox made, it
    answered all three to maxChanges 2; now two, then the third."""
    j = Jmap(srv(), *CLEO)
    _, q = j.one("Mailbox/query", {"filter": {"role": "inbox"}})
    inbox = q["ids"][0]
    _, r = j.one("Mailbox/set", {"create": {"a": {"name": "Both"}}})
    other = r["created"]["a"]["id"]
    eid = import_msg(j, msg("in two"), mailbox=inbox)
    _, r = j.one("Email/set", {"update": {eid: {"mailboxIds/" + other: True}}})
    state = r["newState"]
    _, r = j.one("Email/set", {"update": {eid: {"keywords/$seen": True}}})
    assert r["updated"] == {eid: None}, r
    _, r = j.one("Mailbox/set", {"create": {"b": {"name": "Later"}}})
    later = r["created"]["b"]["id"]
    seen, n = set(), 0
    while True:
        name, r = j.one("Mailbox/changes", {"sinceState": state, "maxChanges": 2})
        assert name == "Mailbox/changes", r
        told = r["created"] + r["updated"] + r["destroyed"]
        assert len(told) <= 2, r
        seen |= set(told)
        n += 1
        if not r["hasMoreChanges"]:
            break
        assert r["newState"] != state and n < 5, r
        state = r["newState"]
    assert seen == {inbox, other, later} and n == 2, (seen, n)


def test_identity_addresses_read_back_with_name():
    """An EmailAddress is {name, email} (RFC 8621 §4.1.2.3, name
    String|null): an Identity's replyTo and bcc given as {"email": ...}
    alone read back with "name": null. They were kept and shown as the client sent them, without the
    name (a client reading name as a property found none)."""
    j = Jmap(srv(), *AMY)
    _, r = j.one("Identity/set", {"create": {"i": {
        "email": AMY[0], "name": "Amy alias",
        "replyTo": [{"email": "reply@example.test"}],
        "bcc": [{"email": "keep@example.test"}, {"name": "Log", "email": "log@example.test"}]}}},
        using=USING)
    ident = r["created"]["i"]["id"]
    _, g = j.one("Identity/get", {"ids": [ident], "properties": ["replyTo", "bcc"]}, using=USING)
    assert g["list"] == [{"id": ident,
                          "replyTo": [{"name": None, "email": "reply@example.test"}],
                          "bcc": [{"name": None, "email": "keep@example.test"},
                                  {"name": "Log", "email": "log@example.test"}]}], g
    # Replaced whole (a patch may not point inside an array, RFC 8620
    # §5.3), the new list reads back the same way.
    _, r = j.one("Identity/set", {"update": {ident: {"replyTo": [{"email": "r2@example.test"}]}}},
                 using=USING)
    assert r["updated"] == {ident: None}, r
    _, g = j.one("Identity/get", {"ids": [ident], "properties": ["replyTo"]}, using=USING)
    assert g["list"][0]["replyTo"] == [{"name": None, "email": "r2@example.test"}], g
    _, r = j.one("Identity/set", {"destroy": [ident]}, using=USING)
    assert r["destroyed"] == [ident], r
