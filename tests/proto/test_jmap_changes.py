"""Exact JMAP /changes where tern answered cannotCalculateChanges: a
Thread/changes range in which emails were destroyed (a thread with emails
left is updated, one with none destroyed, one created and destroyed in
the range not named); Identity, EmailSubmission and SieveScript /changes
from older states. And expired PushSubscriptions removed. One server for
the module."""
import imaplib
import smtplib
import ssl
import time

from jmapc import CORE, MAIL, Jmap, shared_server

ANN = ("ann@example.test", "ann-password-1-Vq8r")


def srv():
    return shared_server([ANN])


def deliver(s, j, msgs):
    """SMTP deliveries to ANN of (subject, Message-ID, more fields); the
    JMAP ids in order."""
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        for subj, mid, extra in msgs:
            c.sendmail("joe@remote.test", [ANN[0]],
                       ("From: joe@remote.test\r\nTo: %s\r\nSubject: %s\r\n"
                        "Message-ID: %s\r\n%s\r\nx\r\n" % (ANN[0], subj, mid, extra)).encode())
    ids = []
    for _, mid, _ in msgs:
        deadline = time.time() + 10
        while time.time() < deadline:
            _, q = j.one("Email/query", {"filter": {"header": ["Message-ID", mid]}})
            if q["ids"]:
                ids.append(q["ids"][0])
                break
            time.sleep(0.1)
    assert len(ids) == len(msgs), ids
    return ids


def threads(j, ids):
    _, g = j.one("Email/get", {"ids": ids, "properties": ["threadId"]})
    return [e["threadId"] for e in g["list"]]


def destroy(j, ids):
    _, r = j.one("Email/set", {"destroy": ids})
    assert sorted(r["destroyed"]) == sorted(ids), r


def tchanges(j, since):
    name, r = j.one("Thread/changes", {"sinceState": since})
    assert name == "Thread/changes", r
    return sorted(r["created"]), sorted(r["updated"]), sorted(r["destroyed"])


def test_jmap_thread_changes_after_destroy():
    s = srv()
    j = Jmap(s, *ANN)
    _, g = j.one("Mailbox/get", {"properties": ["role"]})
    s0 = g["state"]
    a, b, c = deliver(s, j, [
        ("walk plans", "<walk1@remote.test>", ""),
        ("Re: walk plans", "<walk2@remote.test>",
         "In-Reply-To: <walk1@remote.test>\r\nReferences: <walk1@remote.test>\r\n"),
        ("other thing", "<other1@remote.test>", "")])
    ta, tb, tc = threads(j, [a, b, c])
    assert ta == tb != tc, (ta, tb, tc)
    _, g = j.one("Mailbox/get", {"properties": ["role"]})
    s1 = g["state"]

    destroy(j, [b])
    assert tchanges(j, s1) == ([], [ta], []), tchanges(j, s1)
    destroy(j, [c])
    assert tchanges(j, s1) == ([], [ta], [tc]), tchanges(j, s1)
    # From before the three: the walk thread was created; the other one
    # was created and destroyed in the range, so it is not named.
    assert tchanges(j, s0) == ([ta], [], []), tchanges(j, s0)
    destroy(j, [a])
    assert tchanges(j, s1) == ([], [], sorted([ta, tc])), tchanges(j, s1)
    assert tchanges(j, s0) == ([], [], []), tchanges(j, s0)
    # maxChanges counts the threads told; more are told in pages, through
    # intermediate states (RFC 8620 §5.2).
    told, state = set(), s1
    for _ in range(5):
        name, r = j.one("Thread/changes", {"sinceState": state, "maxChanges": 1})
        assert name == "Thread/changes" and r["oldState"] == state, r
        assert r["created"] == [] and r["updated"] == [] and len(r["destroyed"]) == 1, r
        told |= set(r["destroyed"])
        state = r["newState"]
        if not r["hasMoreChanges"]:
            break
    assert not r["hasMoreChanges"] and told == {ta, tc}, (r, told)


SUB = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail",
       "urn:ietf:params:jmap:submission"]
SIEVE = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:sieve"]


def changes(j, typ, since, using, **kw):
    args = {"sinceState": since}
    args.update(kw)
    name, r = j.one(typ + "/changes", args, using=using)
    assert name == typ + "/changes", r
    return r


def test_jmap_identity_submission_sieve_changes():
    """Identity, EmailSubmission and SieveScript /changes from older
    states are exact (they answered cannotCalculateChanges)."""
    s = srv()
    j = Jmap(s, *ANN)
    # Identity: create, update the default one, destroy the created one.
    _, g = j.one("Identity/get", {}, using=SUB)
    i0, default = g["state"], g["list"][0]["id"]
    _, r = j.one("Identity/set", {"create": {"w": {"email": ANN[0], "name": "Work"}}}, using=SUB)
    work = r["created"]["w"]["id"]
    i1 = r["newState"]
    r = changes(j, "Identity", i0, SUB)
    assert (r["created"], r["updated"], r["destroyed"]) == ([work], [], []), r
    assert r["oldState"] == i0 and r["newState"] == i1 and not r["hasMoreChanges"], r
    _, r = j.one("Identity/set", {"update": {default: {"name": "Ann"}}}, using=SUB)
    i2 = r["newState"]
    _, r = j.one("Identity/set", {"destroy": [work]}, using=SUB)
    r = changes(j, "Identity", i1, SUB)
    assert (r["created"], r["updated"], r["destroyed"]) == ([], [default], [work]), r
    r = changes(j, "Identity", i0, SUB)
    assert (r["created"], r["updated"], r["destroyed"]) == ([], [default], []), r
    # maxChanges 1 from i1 (two changes since) stops at the state between.
    r = changes(j, "Identity", i1, SUB, maxChanges=1)
    assert r["hasMoreChanges"] and r["newState"] == i2 and r["updated"] == [default], r
    assert r["created"] == [] and r["destroyed"] == [], r
    r = changes(j, "Identity", i2, SUB, maxChanges=1)
    assert not r["hasMoreChanges"] and r["destroyed"] == [work] and r["updated"] == [], r
    name, r = j.one("Identity/changes", {"sinceState": "J999"}, using=SUB)
    assert name == "error" and r["type"] == "cannotCalculateChanges", r
    name, r = j.one("Identity/changes", {"sinceState": "0123abcd0123abcd"}, using=SUB)
    assert name == "error" and r["type"] == "cannotCalculateChanges", r

    # EmailSubmission: one sent to ANN herself (local), then destroyed.
    _, g = j.one("EmailSubmission/get", {}, using=SUB)
    s0 = g["state"]
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    drafts = [m["id"] for m in mb["list"] if m["role"] == "drafts"][0]
    _, r = j.one("Email/set", {"create": {"d": {
        "mailboxIds": {drafts: True}, "from": [{"email": ANN[0]}], "to": [{"email": ANN[0]}],
        "subject": "note to self", "bodyValues": {"b": {"value": "hi"}},
        "textBody": [{"partId": "b", "type": "text/plain"}]}}})
    eid = r["created"]["d"]["id"]
    _, r = j.one("EmailSubmission/set", {"create": {"k": {"identityId": default,
                                                          "emailId": eid}}}, using=SUB)
    sid = r["created"]["k"]["id"]
    r = changes(j, "EmailSubmission", s0, SUB)
    assert (r["created"], r["updated"], r["destroyed"]) == ([sid], [], []), r
    s1 = r["newState"]
    j.one("EmailSubmission/set", {"destroy": [sid]}, using=SUB)
    r = changes(j, "EmailSubmission", s1, SUB)
    assert (r["created"], r["updated"], r["destroyed"]) == ([], [], [sid]), r
    r = changes(j, "EmailSubmission", s0, SUB)
    assert (r["created"], r["updated"], r["destroyed"]) == ([], [], []), r

    # SieveScript: create, then change its content, then destroy.
    _, g = j.one("SieveScript/get", {}, using=SIEVE)
    v0 = g["state"]
    blobs = []
    for text in (b"keep;\r\n", b"discard;\r\n"):
        st, hd, up = j.request("POST", "/jmap/upload/%s/" % j.account, text,
                               {"Content-Type": "application/sieve"})
        assert st == 201, up
        blobs.append(up["blobId"])
    _, r = j.one("SieveScript/set", {"create": {"a": {"name": "one", "blobId": blobs[0]}}},
                 using=SIEVE)
    scr = r["created"]["a"]["id"]
    v1 = r["newState"]
    r = changes(j, "SieveScript", v0, SIEVE)
    assert (r["created"], r["updated"], r["destroyed"]) == ([scr], [], []), r
    _, r = j.one("SieveScript/set", {"update": {scr: {"blobId": blobs[1]}}}, using=SIEVE)
    assert scr in r["updated"], r
    r = changes(j, "SieveScript", v1, SIEVE)
    assert (r["created"], r["updated"], r["destroyed"]) == ([], [scr], []), r
    j.one("SieveScript/set", {"destroy": [scr]}, using=SIEVE)
    r = changes(j, "SieveScript", v1, SIEVE)
    assert (r["created"], r["updated"], r["destroyed"]) == ([], [], [scr]), r


def test_jmap_pushsub_expired_removed():
    """A PushSubscription past its expires is removed from meta (RFC 8620
    §7.2 lets the server): /get no longer lists it, without another
    /set to wake the server up."""
    s = srv()
    j = Jmap(s, *ANN)
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    r = j.call([["PushSubscription/set", {"create": {"p": {
        "deviceClientId": "dev-1", "url": "https://push.example.invalid/x",
        "expires": soon, "types": None}}}, "s"]])["methodResponses"][0][1]
    assert list(r["created"]) == ["p"], r
    pid = r["created"]["p"]["id"]
    g = j.call([["PushSubscription/get", {}, "g"]])["methodResponses"][0][1]
    assert [x["id"] for x in g["list"]] == [pid], g
    # The server's expiry timer removes it (no other request wakes it):
    # wait for that event, however loaded the machine, then ask again.
    assert s.wait_log("event=pushsub_expired account=", timeout=60), s.log_text()[-2000:]
    deadline = time.time() + 30
    while True:
        g = j.call([["PushSubscription/get", {}, "g"]])["methodResponses"][0][1]
        if not g["list"] or time.time() > deadline:
            break
        time.sleep(0.2)  # the reload after the delete is asynchronous
    assert g["list"] == [], g


def test_jmap_email_changes_many():
    """Email/changes over a log of hundreds of entries (300 emails
    created, a third of them updated, a fifth destroyed, some of those
    updated first): every email in exactly the list it belongs in, from
    before the creates and from between, whole and in pages of
    maxChanges applied one after another. (Each email written costs
    some milliseconds: more would cost the suite seconds.)"""
    s = srv()
    j = Jmap(s, *ANN)
    _, g = j.one("Mailbox/get", {"properties": ["role"]})
    inbox = [m["id"] for m in g["list"] if m["role"] == "inbox"][0]
    s0 = j.one("Email/get", {"ids": []})[1]["state"]
    acc = j.account
    calls = [["Email/set", {"accountId": acc, "create": {
        "n%d" % i: {"mailboxIds": {inbox: True}, "subject": "many %d" % i}
        for i in range(k * 100, k * 100 + 100)}}, "k%d" % k] for k in range(3)]
    ids = []
    for name, r, _ in j.call(calls)["methodResponses"]:
        assert name == "Email/set" and len(r["created"]) == 100, r
        ids += [r["created"]["n%d" % i]["id"] for i in sorted(int(c[1:]) for c in r["created"])]
    s1 = j.one("Email/get", {"ids": []})[1]["state"]
    upd, gone = ids[::3], ids[::5]
    calls = [["Email/set", {"accountId": acc, "update": {
        e: {"keywords/$seen": True} for e in upd[k:k + 500]}}, "u%d" % k]
        for k in range(0, len(upd), 500)]
    calls += [["Email/set", {"accountId": acc, "destroy": gone}, "d"]]
    for name, r, _ in j.call(calls)["methodResponses"]:
        assert name == "Email/set" and not r.get("notUpdated") and not r.get("notDestroyed"), r

    def whole(since, **kw):
        """The pages applied one after another, as a client would."""
        made, changed, dropped = set(), set(), set()
        while True:
            r = changes(j, "Email", since, (CORE, MAIL), **kw)
            assert sum(len(r[k]) for k in ("created", "updated", "destroyed")) <= \
                kw.get("maxChanges", len(ids) * 3), r
            made |= set(r["created"])
            changed |= set(r["updated"]) - made
            for e in r["destroyed"]:
                if e in made:
                    made.discard(e)
                else:
                    dropped.add(e)
                changed.discard(e)
            since = r["newState"]
            if not r["hasMoreChanges"]:
                return made, changed, dropped

    left = set(ids) - set(gone)
    for kw in ({}, {"maxChanges": 40}):
        assert whole(s0, **kw) == (left, set(), set()), kw
        assert whole(s1, **kw) == (set(), set(upd) - set(gone), set(gone)), kw


def test_jmap_changes_page_inside_one_step():
    """One store step naming many emails (a mailbox of 50 destroyed with
    onDestroyRemoveEmails, an IMAP EXPUNGE of 30) is paged by
    Email/changes and Thread/changes with maxChanges 7 (RFC 8620 5.2: an intermediate
    newState, hasMoreChanges) rather than refused with
    cannotCalculateChanges: every email told destroyed once, none
    created or updated, no page over 7; the state held from before the
    step (a plain modseq) still answers, whole and in pages. Thread/changes
    the same for the 50 threads (one email each) emptied."""
    import imaplib
    s = srv()
    j = Jmap(s, *ANN)
    acc = j.account

    def fill(name, n):
        _, r = j.one("Mailbox/set", {"create": {"b": {"name": name}}})
        box = r["created"]["b"]["id"]
        _, r = j.one("Email/set", {"create": {
            "e%d" % i: {"mailboxIds": {box: True}, "subject": "%s %d" % (name, i)}
            for i in range(n)}})
        assert len(r["created"]) == n, r
        return box, [v["id"] for v in r["created"].values()]

    def pages(since, max_changes, typ="Email"):
        told, n = [], 0
        while True:
            r = changes(j, typ, since, (CORE, MAIL), maxChanges=max_changes)
            assert r["created"] == [] and r["updated"] == [], r
            assert len(r["destroyed"]) <= max_changes, r
            told += r["destroyed"]
            n += 1
            since = r["newState"]
            if not r["hasMoreChanges"]:
                return told, n, since

    box, ids = fill("bulk50", 50)
    tids = threads(j, ids)
    assert len(set(tids)) == 50, tids
    s1 = j.one("Email/get", {"ids": []})[1]["state"]
    t1 = j.one("Thread/get", {"ids": []})[1]["state"]
    _, r = j.one("Mailbox/set", {"destroy": [box], "onDestroyRemoveEmails": True})
    assert r["destroyed"] == [box], r
    now = j.one("Email/get", {"ids": []})[1]["state"]
    told, n, end = pages(s1, 7)
    assert sorted(told) == sorted(ids) and len(told) == 50 and n >= 8, (told, n)
    assert end == now, (end, now)
    whole = changes(j, "Email", s1, (CORE, MAIL))
    assert sorted(whole["destroyed"]) == sorted(ids) and not whole["hasMoreChanges"], whole
    told, n, _ = pages(t1, 7, "Thread")
    assert sorted(told) == sorted(tids) and len(told) == 50 and n >= 8, (told, n)

    box, ids = fill("exp30", 30)
    tids = threads(j, ids)
    im = imaplib.IMAP4("127.0.0.1", s.imap_port)
    ctx = __import__("ssl").SSLContext(__import__("ssl").PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = __import__("ssl").CERT_NONE
    im.starttls(ssl_context=ctx)
    im.login(*ANN)
    assert im.select("exp30")[0] == "OK"
    assert im.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")[0] == "OK"
    s2 = j.one("Email/get", {"ids": []})[1]["state"]
    assert im.expunge()[0] == "OK"
    im.logout()
    told, n, _ = pages(s2, 7)
    assert sorted(told) == sorted(ids) and len(told) == 30 and n >= 5, (told, n)
    told, n, _ = pages(s2, 7, "Thread")
    assert sorted(told) == sorted(tids) and len(told) == 30 and n >= 5, (told, n)
    # An intermediate state is Email/changes' own: another type refuses it.
    r = changes(j, "Email", s2, (CORE, MAIL), maxChanges=7)
    assert "." in r["newState"], r
    name, m = j.one("Mailbox/changes", {"sinceState": r["newState"]})
    assert name == "error" and m["type"] == "cannotCalculateChanges", m
    step = r["newState"].split(".")[0]
    for bad in (step + ".", "." + step, step + ".0", "0.3", step + ".3.1", "99999999.1"):
        name, m = j.one("Email/changes", {"sinceState": bad, "maxChanges": 7})
        assert name == "error" and m["type"] == "cannotCalculateChanges", (bad, m)



def imap_login(s):
    import imaplib
    import ssl
    im = imaplib.IMAP4("127.0.0.1", s.imap_port)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    im.starttls(ssl_context=ctx)
    im.login(*ANN)
    return im


def test_jmap_mailbox_changes_page_inside_one_step():
    """One store step naming more mailboxes than maxChanges is paged by
    Mailbox/changes (RFC 8620 5.2: an intermediate newState,
    hasMoreChanges) rather than refused with cannotCalculateChanges:
    an IMAP STORE \\Seen on 9 emails each also in a mailbox of its own
    (10 mailboxes' counts move), an IMAP RENAME of a parent with 9
    children (10 mailboxes updated). Every mailbox told once, no page
    over maxChanges, updatedProperties the counts only for the first
    (RFC 8621 2.2) and null for the rename, the last newState the
    current one; an email moved out of a mailbox between two pages (its
    mailboxes are read when asked, not as they were at the step) does
    not make a later page skip one."""
    s = srv()
    j = Jmap(s, *ANN)
    counts = ["totalEmails", "totalThreads", "unreadEmails", "unreadThreads"]
    _, r = j.one("Mailbox/set", {"create": {"src": {"name": "kwsrc"}}})
    src = r["created"]["src"]["id"]
    _, r = j.one("Mailbox/set", {"create": {"b%d" % i: {"name": "kwpage%d" % i}
                                            for i in range(9)}})
    boxes = [r["created"]["b%d" % i]["id"] for i in range(9)]
    _, r = j.one("Email/set", {"create": {
        "e%d" % i: {"mailboxIds": {src: True, boxes[i]: True}, "subject": "kw %d" % i}
        for i in range(9)}})
    emails = [r["created"]["e%d" % i]["id"] for i in range(9)]

    def state():
        return j.one("Mailbox/get", {"ids": []})[1]["state"]

    def pages(since, max_changes, props, between=None):
        told, n = [], 0
        while True:
            name, r = j.one("Mailbox/changes", {"sinceState": since, "maxChanges": max_changes})
            assert name == "Mailbox/changes", r
            assert r["created"] == [] and r["destroyed"] == [], r
            assert 0 < len(r["updated"]) <= max_changes, r
            assert (sorted(r["updatedProperties"]) if r["updatedProperties"] else None) == props, r
            told += r["updated"]
            n += 1
            since = r["newState"]
            if between and n == 1:
                between()
            if not r["hasMoreChanges"]:
                return told, n, since

    im = imap_login(s)
    assert im.select("kwsrc")[0] == "OK"
    s1 = state()
    assert im.store("1:*", "+FLAGS.SILENT", "(\\Seen)")[0] == "OK"
    told, n, end = pages(s1, 4, counts)
    assert sorted(told) == sorted(boxes + [src]) and n == 3, (told, n)
    assert end == state(), end

    # The email of the lowest kwpage mailbox leaves it after the first page.
    s2 = state()
    assert im.store("1:*", "-FLAGS.SILENT", "(\\Seen)")[0] == "OK"

    def move():
        _, r = j.one("Email/set", {"update": {emails[0]: {"mailboxIds/" + boxes[0]: None}}})
        assert r["updated"], r
    told, n, _ = pages(s2, 4, counts, move)
    assert set(told) == set(boxes + [src]), (sorted(told), sorted(boxes + [src]))

    # A rename of the parent renames its children in the same step.
    assert im.create("kwtree")[0] == "OK"
    kids = ["kwtree/k%d" % i for i in range(9)]
    for k in kids:
        assert im.create(k)[0] == "OK"
    s3 = state()
    assert im.rename("kwtree", "kwtree2")[0] == "OK"
    im.logout()
    told, n, end = pages(s3, 4, None)
    assert len(told) == 10 and len(set(told)) == 10 and n == 3, (told, n)
    assert end == state(), end
    # A place inside a step is Mailbox/changes' own; bad spellings refused.
    name, r = j.one("Mailbox/changes", {"sinceState": s3, "maxChanges": 4})
    mid = r["newState"]
    assert "m" in mid, r
    name, r = j.one("Email/changes", {"sinceState": mid})
    assert name == "error" and r["type"] == "cannotCalculateChanges", r
    step = mid.split("m")[0]
    for bad in (step + "m", "m" + step, step + "m0", "0m3", step + "m3m1", "99999999m1"):
        name, r = j.one("Mailbox/changes", {"sinceState": bad})
        assert name == "error" and r["type"] == "cannotCalculateChanges", (bad, r)


def test_jmap_identity_changes_page_inside_one_state():
    """One Identity/set creating 5 identities and updating the default is
    one state step; Identity/changes with maxChanges 2 pages inside it
    (RFC 8620 5.2: an intermediate newState, hasMoreChanges) rather than
    refusing with cannotCalculateChanges: every id told once, in its
    own list, no page over 2, the last newState the current one; a page
    from the intermediate state onwards through a later step too."""
    s = srv()
    j = Jmap(s, *ANN)
    _, g = j.one("Identity/get", {}, using=SUB)
    i0, default = g["state"], g["list"][0]["id"]
    _, r = j.one("Identity/set", {"create": {"p%d" % i: {"email": ANN[0], "name": "P%d" % i}
                                             for i in range(5)},
                                  "update": {default: {"name": "Paged"}}}, using=SUB)
    made = [r["created"]["p%d" % i]["id"] for i in range(5)]
    i1 = r["newState"]

    def pages(since, max_changes):
        c, u, d, n = [], [], [], 0
        while True:
            r = changes(j, "Identity", since, SUB, maxChanges=max_changes)
            assert len(r["created"]) + len(r["updated"]) + len(r["destroyed"]) <= max_changes, r
            c, u, d, n = c + r["created"], u + r["updated"], d + r["destroyed"], n + 1
            since = r["newState"]
            if not r["hasMoreChanges"]:
                return c, u, d, n, since

    c, u, d, n, end = pages(i0, 2)
    assert sorted(c) == sorted(made) and u == [default] and d == [] and n == 3, (c, u, d, n)
    assert end == i1, (end, i1)
    # From a place inside the step through a later one (2 destroyed).
    r = changes(j, "Identity", i0, SUB, maxChanges=2)
    mid, first = r["newState"], r["created"] + r["updated"]
    _, r = j.one("Identity/set", {"destroy": made[:2]}, using=SUB)
    c, u, d, n, end = pages(mid, 10)
    assert n == 1 and end == r["newState"], (n, end)
    seen = set(first) | set(c) | set(u)
    assert seen == set(made[2:] + [default]) | (set(first) & set(made[:2])), (first, c, u, d)
    assert set(d) == set(made[:2]) & set(first), (first, d)
    for bad in (mid + ".1", mid.replace(".", ".0"), mid.replace(".", ""), "J0.1"):
        name, r = j.one("Identity/changes", {"sinceState": bad}, using=SUB)
        assert name == "error" and r["type"] == "cannotCalculateChanges", (bad, r)
    name, r = j.one("Mailbox/changes", {"sinceState": mid})
    assert name == "error" and r["type"] == "cannotCalculateChanges", r


def test_jmap_mailbox_changes_thread_elsewhere():
    """A mailbox's unreadThreads counts a thread unread when one of its
    emails in any mailbox but the trash is unread (RFC 8621 2), so an
    email made, read or destroyed moves the counts of every mailbox its
    thread is in: Mailbox/changes names those too (it named only the
    email's own mailboxes, and a client kept a stale unreadThreads for
    the mailbox holding the rest of the conversation)."""
    s = srv()
    j = Jmap(s, *ANN)
    _, r = j.one("Mailbox/set", {"create": {"a": {"name": "convA"}, "b": {"name": "convB"}}})
    ca, cb = r["created"]["a"]["id"], r["created"]["b"]["id"]
    _, r = j.one("Email/set", {"create": {"e1": {
        "mailboxIds": {ca: True}, "subject": "conv", "messageId": ["c1@conv.test"],
        "keywords": {"$seen": True}}}})
    e1 = r["created"]["e1"]["id"]

    def unread_threads():
        _, g = j.one("Mailbox/get", {"ids": [ca], "properties": ["unreadThreads"]})
        return g["list"][0]["unreadThreads"], g["state"]

    def told(since):
        _, r = j.one("Mailbox/changes", {"sinceState": since})
        assert r["created"] == [] and r["destroyed"] == [], r
        return r["updated"]

    u0, st = unread_threads()
    _, r = j.one("Email/set", {"create": {"e2": {
        "mailboxIds": {cb: True}, "subject": "Re: conv", "messageId": ["c2@conv.test"],
        "inReplyTo": ["c1@conv.test"], "references": ["c1@conv.test"]}}})
    e2 = r["created"]["e2"]["id"]
    _, g = j.one("Email/get", {"ids": [e1, e2], "properties": ["threadId"]})
    assert g["list"][0]["threadId"] == g["list"][1]["threadId"], g
    u1, st1 = unread_threads()
    assert (u0, u1) == (0, 1), (u0, u1)
    assert ca in told(st), told(st)
    j.one("Email/set", {"update": {e2: {"keywords/$seen": True}}})
    u2, st2 = unread_threads()
    assert u2 == 0 and ca in told(st1), (u2, told(st1))
    j.one("Email/set", {"update": {e2: {"keywords/$seen": None}}})
    u3, st3 = unread_threads()
    assert u3 == 1 and ca in told(st2), (u3, told(st2))
    j.one("Email/set", {"destroy": [e2]})
    u4, _ = unread_threads()
    assert u4 == 0 and ca in told(st3), (u4, told(st3))


def test_jmap_mailbox_changes_trash_moved():
    """The trash role moving to another mailbox changes the unreadThreads
    of mailboxes sharing a thread with an email in either (an unread
    email only in the trash does not make its thread unread elsewhere,
    RFC 8621 2): Mailbox/changes names them (only the two mailboxes
    whose role changed were logged, so a client kept the old count)."""
    s = srv()
    j = Jmap(s, *ANN)
    _, g = j.one("Mailbox/get", {"properties": ["role"]})
    trash = [m["id"] for m in g["list"] if m["role"] == "trash"][0]
    _, r = j.one("Mailbox/set", {"create": {"x": {"name": "trX"}, "t": {"name": "trT"}}})
    tx, tt = r["created"]["x"]["id"], r["created"]["t"]["id"]
    _, r = j.one("Email/set", {"create": {
        "e1": {"mailboxIds": {tx: True}, "subject": "tr", "messageId": ["t1@tr.test"],
               "keywords": {"$seen": True}},
        "e2": {"mailboxIds": {tt: True}, "subject": "Re: tr", "messageId": ["t2@tr.test"],
               "references": ["t1@tr.test"]}}})
    assert len(r["created"]) == 2, r

    def unread_threads():
        _, g = j.one("Mailbox/get", {"ids": [tx], "properties": ["unreadThreads"]})
        return g["list"][0]["unreadThreads"], g["state"]

    u0, st = unread_threads()
    _, r = j.one("Mailbox/set", {"update": {trash: {"role": None}}})
    assert trash in r["updated"], r
    _, r = j.one("Mailbox/set", {"update": {tt: {"role": "trash"}}})
    assert tt in r["updated"], r
    u1, st1 = unread_threads()
    assert (u0, u1) == (1, 0), (u0, u1)
    _, r = j.one("Mailbox/changes", {"sinceState": st})
    assert tx in r["updated"] and r["updatedProperties"] is None, r
    j.one("Mailbox/set", {"update": {tt: {"role": None}}})
    j.one("Mailbox/set", {"update": {trash: {"role": "trash"}}})
    u2, _ = unread_threads()
    _, r = j.one("Mailbox/changes", {"sinceState": st1})
    assert u2 == 1 and tx in r["updated"], (u2, r)


def test_jmap_query_changes_collapsed_after_destroy():
    """Email/queryChanges with collapseThreads across destroys (RFC 8620
    §5.6, RFC 8621 §4.4): destroying the email that stood for its thread
    brings the thread's next one in, destroying a thread's first email
    leaves the thread where it was, destroying a thread's last takes it
    out. The old results patched with removed and added equal a fresh
    query's, from each state and from the first (the destroyed email's
    thread is in the change log); it was cannotCalculateChanges."""
    s = srv()
    j = Jmap(s, *ANN)
    _, m = j.one("Mailbox/set", {"create": {"m": {"name": "collapsed"}}})
    mb = m["created"]["m"]["id"]

    def imp(subj, mid, at, refs=None):
        raw = "From: joe@remote.test\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\n" % (ANN[0], subj, mid)
        if refs:
            raw += "In-Reply-To: <%s>\r\nReferences: <%s>\r\n" % (refs, refs)
        _, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, (raw + "\r\nx\r\n").encode(),
                             {"Content-Type": "message/rfc822"})
        _, r = j.one("Email/import", {"emails": {"k": {"blobId": up["blobId"], "mailboxIds": {mb: True},
                                                      "receivedAt": at}}})
        return r["created"]["k"]["id"]

    p = imp("Topic", "qc-topic@remote.test", "2024-01-01T00:00:00Z")
    o = imp("Other", "qc-other@remote.test", "2024-01-02T00:00:00Z")
    r1 = imp("Re: Topic", "qc-r1@remote.test", "2024-01-03T00:00:00Z", "qc-topic@remote.test")
    r2 = imp("Re: Topic", "qc-r2@remote.test", "2024-01-04T00:00:00Z", "qc-topic@remote.test")
    q = {"filter": {"inMailbox": mb}, "collapseThreads": True,
         "sort": [{"property": "receivedAt", "isAscending": False}]}
    _, q0 = j.one("Email/query", q)
    assert q0["ids"] == [r2, o], (q0, p, o, r1, r2)

    def patched(old):
        name, ch = j.one("Email/queryChanges", dict(q, sinceQueryState=old["queryState"]))
        assert name == "Email/queryChanges", ch
        ids = [x for x in old["ids"] if x not in ch["removed"]]
        for add in sorted(ch["added"], key=lambda x: x["index"]):
            ids.insert(add["index"], add["id"])
        return ids

    prev = q0
    for gone, want in (([r2], [r1, o]), ([p], [r1, o]), ([o], [r1]), ([r1], [])):
        destroy(j, gone)
        _, now = j.one("Email/query", q)
        assert now["ids"] == want, (gone, now)
        assert patched(prev) == want and patched(q0) == want, gone
        prev = now


def test_jmap_emptied_thread_id_not_reused():
    """A thread whose emails were all destroyed stays destroyed: a reply
    to its message that arrives later starts a thread of its own, which
    Thread/changes tells created, and a second reply to the same message
    joins that one. The reply joined the destroyed thread's id, so a
    client told that thread destroyed was then told it updated (RFC 8620
    §5.2: a record it no longer had), and Thread/get showed again an id
    it had dropped."""
    s = srv()
    j = Jmap(s, *ANN)
    (lone,) = deliver(s, j, [("Lonely", "<lonely@remote.test>", "")])
    (t0,) = threads(j, [lone])
    _, st = j.one("Thread/get", {"ids": []})
    destroy(j, [lone])
    _, st1 = j.one("Thread/get", {"ids": []})
    assert tchanges(j, st["state"]) == ([], [], [t0])
    refs = "In-Reply-To: <lonely@remote.test>\r\nReferences: <lonely@remote.test>\r\n"
    r1, r2 = deliver(s, j, [("Re: Lonely", "<lonely-r1@remote.test>", refs),
                            ("Re: Lonely", "<lonely-r2@remote.test>", refs)])
    t1, t2 = threads(j, [r1, r2])
    assert t1 != t0 and t2 == t1, (t0, t1, t2)
    assert tchanges(j, st1["state"]) == ([t1], [], [])
    assert tchanges(j, st["state"]) == ([t1], [], [t0])
    _, g = j.one("Thread/get", {"ids": [t0, t1]})
    assert g["notFound"] == [t0] and g["list"] == [{"id": t1, "emailIds": [r1, r2]}], g


def test_jmap_mailbox_changes_quiet_keyword():
    """A keyword change that moves no count ($flagged, or $seen on an
    email already seen) changes no Mailbox property (RFC 8621 2.2: only
    the counts can change through an email): Mailbox/changes names no
    mailbox for it (it named the email's mailboxes, and their threads',
    so a client refetched them for every flag). A change of $seen still
    names them, with the counts as updatedProperties; so does IMAP STORE
    of \\Seen, and not STORE of \\Flagged."""
    s = srv()
    j = Jmap(s, *ANN)
    _, r = j.one("Mailbox/set", {"create": {"q": {"name": "quietQ"}}})
    mq = r["created"]["q"]["id"]
    _, r = j.one("Email/set", {"create": {"e": {
        "mailboxIds": {mq: True}, "subject": "quiet", "messageId": ["q1@quiet.test"]}}})
    e = r["created"]["e"]["id"]

    def state():
        _, g = j.one("Mailbox/get", {"ids": [mq], "properties": ["unreadEmails"]})
        return g["state"]

    def told(since):
        _, r = j.one("Mailbox/changes", {"sinceState": since})
        assert r["created"] == [] and r["destroyed"] == [], r
        return r["updated"], r["updatedProperties"]

    st = state()
    _, r = j.one("Email/set", {"update": {e: {"keywords/$flagged": True}}})
    assert e in r["updated"], r
    assert told(st) == ([], None), told(st)
    st = state()
    j.one("Email/set", {"update": {e: {"keywords/$seen": True}}})
    up, props = told(st)
    assert up == [mq] and sorted(props) == sorted(
        ["totalEmails", "unreadEmails", "totalThreads", "unreadThreads"]), (up, props)
    st = state()
    j.one("Email/set", {"update": {e: {"keywords": {"$seen": True, "work": True}}}})
    assert told(st) == ([], None), told(st)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx) as im:
        im.login(*ANN)
        im.select("quietQ")
        st = state()
        im.store("1", "+FLAGS", "(\\Flagged)")
        assert told(st) == ([], None), told(st)
        im.store("1", "-FLAGS", "(\\Seen)")
        assert told(st)[0] == [mq], told(st)


def test_jmap_keyword_patch_one_step():
    """An Email/set update that adds one keyword and removes another
    ("keywords/$seen": true, "keywords/$flagged": null) is one change
    (RFC 8620 5.3: an update applies whole): one state step (the state
    is the account's modseq, one more), Email/changes from the state
    before names the email once, one change a page, with no more; the
    email has both changes. It was two store writes: two modseqs, two
    change records, and a failure between them left half the patch."""
    s = srv()
    j = Jmap(s, *ANN)
    _, r = j.one("Mailbox/set", {"create": {"p": {"name": "patchP"}}})
    mb = r["created"]["p"]["id"]
    _, r = j.one("Email/set", {"create": {"e": {
        "mailboxIds": {mb: True}, "subject": "patch", "keywords": {"$flagged": True}}}})
    e = r["created"]["e"]["id"]
    _, g = j.one("Email/get", {"ids": [e], "properties": ["keywords"]})
    st = g["state"]
    _, r = j.one("Email/set", {"update": {e: {"keywords/$seen": True,
                                               "keywords/$flagged": None}}})
    assert e in r["updated"], r
    _, g = j.one("Email/get", {"ids": [e], "properties": ["keywords"]})
    assert st.isdigit() and g["state"].isdigit(), (st, g["state"])
    assert int(g["state"]) - int(st) == 1, (st, g["state"])
    r = changes(j, "Email", st, (CORE, MAIL), maxChanges=1)
    assert r["updated"] == [e] and r["created"] == [] and r["destroyed"] == [], r
    assert not r["hasMoreChanges"], r
    _, g = j.one("Email/get", {"ids": [e], "properties": ["keywords"]})
    assert r["newState"] == g["state"], (r, g["state"])
    assert g["list"][0]["keywords"] == {"$seen": True}, g
    r = changes(j, "Email", r["newState"], (CORE, MAIL))
    assert r["updated"] == [] and not r["hasMoreChanges"], r


def test_jmap_update_destroy_one_step():
    """An Email/set update of keywords and mailboxIds together, and the
    destroy of an email in three mailboxes, are each one change (RFC 8620
    5.3: applied whole): one state step, Email/changes one change a page
    with no more. Mailbox/changes still names both mailboxes of a move
    whose keyword half ($flagged) moved no count. They were a store write
    for the keywords, one a copy and one a removal: a state step each,
    with the halves in between to see."""
    s = srv()
    j = Jmap(s, *ANN)
    _, r = j.one("Mailbox/set", {"create": {n: {"name": "step" + n} for n in "abc"}})
    a, b, c = (r["created"][n]["id"] for n in "abc")
    _, r = j.one("Email/set", {"create": {"e": {
        "mailboxIds": {a: True}, "subject": "step", "keywords": {"$flagged": True}}}})
    e = r["created"]["e"]["id"]

    def state(typ):
        _, g = j.one(typ + "/get", {"ids": []})
        return g["state"]

    def one_step(st):
        now = state("Email")
        assert int(now) - int(st) == 1, (st, now)
        return changes(j, "Email", st, (CORE, MAIL), maxChanges=1)

    st, mst = state("Email"), state("Mailbox")
    _, r = j.one("Email/set", {"update": {e: {"keywords/$flagged": None,
                                               "mailboxIds/" + a: None,
                                               "mailboxIds/" + b: True}}})
    assert e in r["updated"], r
    r = one_step(st)
    assert r["updated"] == [e] and r["created"] == [] and not r["hasMoreChanges"], r
    _, g = j.one("Email/get", {"ids": [e], "properties": ["keywords", "mailboxIds"]})
    assert g["list"][0]["keywords"] == {} and g["list"][0]["mailboxIds"] == {b: True}, g
    _, r = j.one("Mailbox/changes", {"sinceState": mst})
    assert sorted(r["updated"]) == sorted([a, b]), r

    # Into a second and a third mailbox with $seen: one step too.
    st = state("Email")
    _, r = j.one("Email/set", {"update": {e: {"keywords/$seen": True,
                                               "mailboxIds": {a: True, b: True, c: True}}}})
    assert e in r["updated"], r
    r = one_step(st)
    assert r["updated"] == [e] and not r["hasMoreChanges"], r

    # Its destroy from the three.
    st = state("Email")
    _, r = j.one("Email/set", {"destroy": [e]})
    assert r["destroyed"] == [e], r
    r = one_step(st)
    assert r["destroyed"] == [e] and r["updated"] == [] and not r["hasMoreChanges"], r
    _, g = j.one("Mailbox/get", {"ids": [a, b, c], "properties": ["totalEmails"]})
    assert [m["totalEmails"] for m in g["list"]] == [0, 0, 0], g
