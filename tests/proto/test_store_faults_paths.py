"""More write paths under test_store_faults.py's two faults (its Inject,
strace on the running server, reused): a kill -9 as the store flushes a
commit it has just written (meta page in place, the client not yet
answered), and ENOSPC at the commit's first page write.

- ManageSieve SETACTIVE and RENAMESCRIPT of the active script: after
  either fault exactly one script is active (the old one or the new one,
  never none, never two), and a renamed script is under one name only.
- IMAP CATENATE: the built message is there whole or not at all.
- JMAP Mailbox/set, Email/set, VacationResponse/set, SieveScript/set,
  PushSubscription/set: after the kill, the state /get gives and the
  /changes from the state before agree with what is in the store (an
  object there is listed as changed; none is listed that is not).
- REST PUT /settings of several fields: after either fault all of them
  changed or none did.
"""
import re
import shutil
import subprocess

from harness import Server, free_port, message
from httpc import admin_server
from jmapc import Jmap
from test_imap import Raw
from test_imap_catenate import ATTACHED, append, body, count, lit
from test_store_faults import BOB, CAROL, TEMP_SIEVE, Inject, Sieve, untraced_leaks

CORE = "urn:ietf:params:jmap:core"
MAIL = "urn:ietf:params:jmap:mail"
SIEVE = "urn:ietf:params:jmap:sieve"
VACATION = "urn:ietf:params:jmap:vacationresponse"


def server():
    sieve_port = free_port()
    s = Server(accounts=[BOB, CAROL], imap=True, http=True,
               env=dict(untraced_leaks(), TERN_LISTEN_SIEVE="127.0.0.1:%d" % sieve_port))
    s.sieve_port = sieve_port
    return s


def active(ms):
    """The names LISTSCRIPTS marks ACTIVE, and every name."""
    out = ms.cmd("LISTSCRIPTS")
    names = re.findall(rb'^"([^"]*)"( ACTIVE)?\r?$', out, re.M)
    return [n.decode() for n, a in names if a], sorted(n.decode() for n, _ in names)


def killed(s, what, fn):
    """fn() with a SIGKILL at the second flush of data.mdb (the one after
    the meta page); then the server started again."""
    with Inject(s, "fdatasync", 2, err=None):
        try:
            got = fn()
            print("  %s: answered before the kill: %r" % (what, got))
        except (AssertionError, OSError, EOFError, IndexError, ValueError) as e:
            print("  %s: cut (%s)" % (what, type(e).__name__))
    assert s.proc.wait(30) == -9, (what, s.proc.returncode)
    s.reader.join(5)
    s.start()


def jmap_agrees(j, typ, using, since, ids):
    """After a restart: typ/get's state and typ/changes from since agree
    about ids (each there is listed changed, each gone listed destroyed
    or never listed at all); returns which ids are there."""
    _, got = j.one(typ + "/get", {"ids": None}, using)
    there = {x["id"] for x in got["list"]}
    _, ch = j.one(typ + "/changes", {"sinceState": since}, using)
    changed = set(ch["created"]) | set(ch["updated"])
    assert ch["newState"] == got["state"] or ch["hasMoreChanges"], (typ, ch, got["state"])
    for i in ids:
        if i in there:
            assert i in changed, (typ, i, ch)
        else:
            assert i not in changed, (typ, i, ch)
    if since == got["state"]:
        assert not changed and not ch["destroyed"], (typ, ch)
    return there


def test_killed_after_commit_managesieve_and_catenate():
    if not shutil.which("strace"):
        print("  (no strace)")
        return "skip"
    with server() as s:
        ms = Sieve(s, *BOB)
        for n in ("a", "b"):
            assert ms.put(n, "keep;\r\n").startswith(b"OK")
        assert ms.cmd('SETACTIVE "a"').startswith(b"OK")
        killed(s, "SETACTIVE", lambda: ms.cmd('SETACTIVE "b"'))
        ms = Sieve(s, *BOB)
        act, names = active(ms)
        print("  SETACTIVE killed: active %s" % act)
        assert len(act) == 1 and act[0] in ("a", "b") and names == ["a", "b"], (act, names)
        old = act[0]
        killed(s, "RENAMESCRIPT", lambda: ms.cmd('RENAMESCRIPT "%s" "renamed"' % old))
        ms = Sieve(s, *BOB)
        act, names = active(ms)
        print("  RENAMESCRIPT of the active one killed: active %s, scripts %s" % (act, names))
        assert act in ([old], ["renamed"]), (act, names)
        assert sorted(set(names) - {"a", "b", "renamed"}) == [] and len(names) == 2, names
        assert ms.cmd('SETACTIVE "%s"' % [n for n in names if n != act[0]][0]).startswith(b"OK")

        r = Raw(s)
        r.login()
        out = append(r, "a", b"INBOX " + lit(ATTACHED))
        uid = int(re.search(rb"APPENDUID \d+ (\d+)", out[-1]).group(1))
        killed(s, "CATENATE", lambda: append(
            r, "c", b'INBOX CATENATE (URL "/INBOX/;UID=%d" TEXT %s)' % (uid, lit(b"more\r\n"))))
        r = Raw(s)
        r.login()
        n = count(r)
        print("  CATENATE killed: %d messages" % n)
        assert n in (1, 2), n
        r.send(b"s SELECT INBOX\r\n")
        r.until_tag("s")
        if n == 2:
            assert body(r, uid + 1) == ATTACHED + b"more\r\n"
        out = append(r, "d", b'INBOX CATENATE (URL "/INBOX/;UID=%d" TEXT %s)' % (uid, lit(b"again\r\n")))
        assert out[-1].startswith(b"d OK [APPENDUID"), out
        assert int(re.search(rb"APPENDUID \d+ (\d+)", out[-1]).group(1)) == uid + n
        assert count(r) == n + 1


def test_killed_after_commit_jmap_states():
    if not shutil.which("strace"):
        print("  (no strace)")
        return "skip"
    with server() as s:
        j = Jmap(s, *BOB)
        _, mb = j.one("Mailbox/get", {"properties": ["role"]})
        inbox = [x["id"] for x in mb["list"] if x["role"] == "inbox"][0]
        _, res = j.one("Email/set", {"create": {"e": {
            "mailboxIds": {inbox: True}, "subject": "kept",
            "bodyValues": {"b": {"value": "x"}}, "textBody": [{"partId": "b", "type": "text/plain"}]}}})
        email = res["created"]["e"]["id"]

        # Mailbox/set create: the new mailbox's id is not answered; it
        # is found by name.
        since = j.one("Mailbox/get", {"ids": []})[1]["state"]
        killed(s, "Mailbox/set", lambda: j.one("Mailbox/set", {"create": {"m": {"name": "Killed"}}}))
        _, mb = j.one("Mailbox/get", {"properties": ["name"]})
        made = [x["id"] for x in mb["list"] if x["name"] == "Killed"]
        assert len(made) <= 1, mb
        jmap_agrees(j, "Mailbox", (CORE, MAIL), since, made)
        print("  Mailbox/set killed: %s" % ("there" if made else "not there"))

        since = j.one("Email/get", {"ids": []})[1]["state"]
        killed(s, "Email/set", lambda: j.one("Email/set", {"update": {email: {"keywords/$flagged": True}}}))
        _, got = j.one("Email/get", {"ids": [email], "properties": ["keywords"]})
        flagged = "$flagged" in got["list"][0]["keywords"]
        _, ch = j.one("Email/changes", {"sinceState": since})
        assert (email in ch["updated"]) == flagged, (flagged, ch)
        assert ch["newState"] == got["state"], (ch, got["state"])
        print("  Email/set killed: %s" % ("flagged" if flagged else "not flagged"))

        # Email/import: the imported message found by its subject.
        st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account,
                              message(subject="imported-k").encode(), {"Content-Type": "message/rfc822"})
        assert st == 201, up
        since = j.one("Email/get", {"ids": []})[1]["state"]
        killed(s, "Email/import", lambda: j.one("Email/import", {"emails": {"i": {
            "blobId": up["blobId"], "mailboxIds": {inbox: True}}}}))
        _, q = j.one("Email/query", {"filter": {"subject": "imported-k"}})
        assert len(q["ids"]) <= 1, q
        _, ch = j.one("Email/changes", {"sinceState": since})
        assert set(ch["created"]) == set(q["ids"]), (q, ch)
        assert ch["newState"] == j.one("Email/get", {"ids": []})[1]["state"], ch
        print("  Email/import killed: %s" % ("there" if q["ids"] else "not there"))

        using = (CORE, VACATION)
        _, v = j.one("VacationResponse/get", {}, using)
        killed(s, "VacationResponse/set", lambda: j.one("VacationResponse/set", {"update": {
            "singleton": {"isEnabled": True, "textBody": "away"}}}, using))
        _, v2 = j.one("VacationResponse/get", {}, using)
        on = v2["list"][0]["isEnabled"]
        assert on == (v2["list"][0]["textBody"] == "away"), v2
        assert (v2["state"] != v["state"]) == on, (v, v2)
        print("  VacationResponse/set killed: %s" % ("applied" if on else "not applied"))

        using = (CORE, SIEVE)
        _, sv = j.one("SieveScript/get", {}, using)
        n_before = len(sv["list"])
        st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, b"keep;\r\n",
                          {"Content-Type": "application/sieve"})
        assert st == 201, up
        killed(s, "SieveScript/set", lambda: j.one("SieveScript/set", {"create": {"k": {
            "name": "jk", "blobId": up["blobId"]}}, "onSuccessActivateScript": "#k"}, using))
        _, sv2 = j.one("SieveScript/get", {}, using)
        there = [x for x in sv2["list"] if x["name"] == "jk"]
        assert len(sv2["list"]) == n_before + len(there), (sv, sv2)
        assert (sv2["state"] != sv["state"]) == bool(there), (sv, sv2)
        # The activation on success is a second write (RFC 8620 makes
        # each create atomic, not the call): the one active before (the
        # vacation reply's script) or the new one after, never none.
        act = [x["name"] for x in sv2["list"] if x["isActive"]]
        was = [x["name"] for x in sv["list"] if x["isActive"]]
        assert len(was) == 1 and act in (was, ["jk"]) and (act == was or there), (sv, sv2)
        print("  SieveScript/set killed: %s" % (
            "not there" if not there else "there, active" if act else "there, not active yet"))

        def push(method, args):  # no accountId (RFC 8620 7.2)
            return j.call([[method, args, "0"]], using=(CORE,))["methodResponses"][0][1]
        ps = push("PushSubscription/get", {"ids": None})
        killed(s, "PushSubscription/set", lambda: push("PushSubscription/set", {"create": {"p": {
            "deviceClientId": "killed", "url": "https://127.0.0.1:1/push"}}}))
        ps2 = push("PushSubscription/get", {"ids": None})
        mine = [x for x in ps2["list"] if x["deviceClientId"] == "killed"]
        assert len(mine) <= 1 and len(ps2["list"]) == len(ps["list"]) + len(mine), ps2
        print("  PushSubscription/set killed: %s" % ("there" if mine else "not there"))


def each_write_failing(s, what, op, check, most=8):
    """op() under ENOSPC at the nth writev, then the nth pwrite64, of
    data.mdb (LMDB writes runs of pages with the one, a lone page and the
    meta page with the other), n = 1, 2, ... until op makes fewer such
    calls than n (or n passes most: the writes after the answer, a
    JMAP request's own, are not op's): op returns True (done), False
    (refused, temporary) or None (the session cut: the server ended at a
    meta page's failure, as test_store_faults says it must, and is
    started again). check(answer) then says what the store must hold."""
    for call in ("writev", "pwrite64"):
        for nth in range(1, most + 1):
            if not one_write_failing(s, what, op, check, call, nth):
                break


def set_answer(j, method, args, using, done):
    """A /set of one object ("singleton" or "k") as each_write_failing's
    op: True when done (under done, "created" or "updated"), False when
    refused for the store, None when the connection was cut."""
    try:
        _, res = j.one(method, args, using)
    except (AssertionError, OSError, EOFError):
        return None
    key = list((args.get("update") or args.get("create")))[0]
    if key in (res.get(done) or {}):
        return True
    bad = res["notUpdated" if done == "updated" else "notCreated"][key]
    assert bad["type"] in ("serverUnavailable", "overQuota"), res
    return False


def one_write_failing(s, what, op, check, call, nth):
    """each_write_failing's one try: whether the fault was reached."""
    with Inject(s, call, nth) as inj:
        got = op()
    ended = got is None
    if not ended:
        try:
            check(got)
        except (AssertionError, OSError, EOFError) as e:
            # The meta page's failure ends the server at the failed
            # commit or at the next transaction (test_store_faults).
            try:
                s.proc.wait(10)
            except subprocess.TimeoutExpired:
                raise e
            ended = True
    if ended:
        assert s.proc.wait(30) == 75, (what, nth, s.proc.returncode)  # STORE_EXIT_HALTED
        s.reader.join(5)
        assert "event=fatal" in s.log_text(), s.log_text()[-2000:]
        s.start()
        check(got)
    print("  %s, %s #%d failing: %s%s" % (
        what, call, nth, {True: "done", False: "refused", None: "cut"}[got],
        ", the server ended; restarted" if ended else ""))
    return inj.injected()


def test_disk_full_at_each_write_more_paths():
    if not shutil.which("strace"):
        print("  (no strace)")
        return "skip"
    with server() as s:
        ms = [Sieve(s, *BOB)]
        for n in ("a", "b"):
            assert ms[0].put(n, "keep;\r\n").startswith(b"OK")
        assert ms[0].cmd('SETACTIVE "a"').startswith(b"OK")
        cur = ["a"]

        def answer(r):
            if r.startswith(b"OK"):
                return True
            assert TEMP_SIEVE.match(r), r
            return False

        def setactive():
            try:
                return answer(ms[0].cmd('SETACTIVE "%s"' % ("b" if cur[0] == "a" else "a")))
            except (AssertionError, OSError, EOFError):
                return None

        def check(got):
            ms[0] = Sieve(s, *BOB)
            act, names = active(ms[0])
            new = "b" if cur[0] == "a" else "a"
            want = {True: [[new]], False: [[cur[0]]], None: [[new], [cur[0]]]}[got]
            assert act in want and names == ["a", "b"], (got, act, names)
            cur[0] = act[0]
        each_write_failing(s, "SETACTIVE", setactive, check)

        def rename():
            try:
                return answer(ms[0].cmd('RENAMESCRIPT "%s" "%s"' % (cur[0], cur[0] + "x")))
            except (AssertionError, OSError, EOFError):
                return None

        def check_rename(got):
            ms[0] = Sieve(s, *BOB)
            act, names = active(ms[0])
            new = cur[0] + "x"
            want = {True: [[new]], False: [[cur[0]]], None: [[new], [cur[0]]]}[got]
            assert act in want and len(names) == 2 and act[0] in names, (got, act, names)
            assert cur[0] not in names or new not in names, names
            cur[0] = act[0]
        each_write_failing(s, "RENAMESCRIPT", rename, check_rename)

        # VacationResponse/set: the reply's text and its being on (its
        # script active) change together or not at all.
        j = Jmap(s, *BOB)
        using = (CORE, VACATION)
        vac = [False, ""]
        turn = [0]

        def vacation():
            turn[0] += 1
            return set_answer(j, "VacationResponse/set", {"update": {"singleton": {
                "isEnabled": not vac[0], "textBody": "away %d" % turn[0]}}}, using, "updated")

        def check_vacation(got):
            _, v = j.one("VacationResponse/get", {}, using)
            now = [v["list"][0]["isEnabled"], v["list"][0]["textBody"] or ""]
            new = [not vac[0], "away %d" % turn[0]]
            want = {True: [new], False: [vac], None: [new, vac]}[got]
            assert now in want, (got, now, want)
            vac[:] = now
        each_write_failing(s, "VacationResponse/set", vacation, check_vacation)

        # SieveScript/set create: there and answered, or refused and not.
        using = (CORE, SIEVE)
        st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, b"keep;\r\n",
                              {"Content-Type": "application/sieve"})
        assert st == 201, up
        made = [0]  # creates asked

        def script():
            made[0] += 1
            return set_answer(j, "SieveScript/set", {"create": {"k": {
                "name": "f%d" % made[0], "blobId": up["blobId"]}}}, using, "created")

        def check_script(got):
            _, sv = j.one("SieveScript/get", {}, using)
            there = "f%d" % made[0] in [x["name"] for x in sv["list"]]
            assert got is None or there == got, (got, sv)
        each_write_failing(s, "SieveScript/set", script, check_script)

        # CATENATE: the built message stored and answered, or neither.
        r = [Raw(s)]
        r[0].login()
        out = append(r[0], "a", b"INBOX " + lit(ATTACHED))
        uid = int(re.search(rb"APPENDUID \d+ (\d+)", out[-1]).group(1))
        had = [count(r[0])]

        def catenate():
            try:
                out = append(r[0], "c", b'INBOX CATENATE (URL "/INBOX/;UID=%d" TEXT %s)' % (uid, lit(b"x\r\n")))
            except (AssertionError, OSError, EOFError):
                return None
            if out[-1].startswith(b"c OK"):
                return True
            assert out[-1].startswith(b"c NO ["), out
            return False

        def check_catenate(got):
            r[0] = Raw(s)
            r[0].login()
            n = count(r[0])
            want = {True: [had[0] + 1], False: [had[0]], None: [had[0], had[0] + 1]}[got]
            assert n in want, (got, n, had)
            had[0] = n
        each_write_failing(s, "CATENATE", catenate, check_catenate)


def test_killed_after_commit_domain_and_dkim():
    # POST /domains stored the domain, then its DKIM keys in a second
    # write: killed after the first commit, the restarted server had the
    # domain with no keys ("dkim": [] in GET /domains/killed.test, which
    # only reads) and its mail left unsigned until someone opened its DNS
    # records, which made keys then. Now both are one write: after the
    # kill the domain is there with its keys or not at all, and the
    # selectors the DNS page publishes stay the keys' through another
    # restart.
    if not shutil.which("strace"):
        print("  (no strace)")
        return "skip"
    s, api = admin_server(env=untraced_leaks())
    with s:
        killed(s, "POST /domains", lambda: api.call("POST", "/domains", {"name": "killed.test"})[0])
        api.login(api.password)  # the admin's session ends with the server
        st, _, d = api.call("GET", "/domains/killed.test")
        print("  after the restart: %s, %s" % (st, (d or {}).get("dkim")))
        assert st == 404 or (st == 200 and d["dkim"]), (st, d)
        if st == 404:  # the commit was lost: none of it is there
            assert api.call("POST", "/domains", {"name": "killed.test"})[0] == 201
        st, _, d = api.call("GET", "/domains/killed.test/dkim")
        assert st == 200 and d["keys"], (st, d)
        keys = sorted((k["record_name"], k["record_value"]) for k in d["keys"])
        s.kill9()
        s.start()
        api.login(api.password)
        st, _, d = api.call("GET", "/domains/killed.test/dkim")
        assert st == 200 and sorted((k["record_name"], k["record_value"]) for k in d["keys"]) == keys, d
        st, _, dns = api.call("GET", "/domains/killed.test/dns")
        assert st == 200, dns
        text = str(dns)
        for name, value in keys:
            assert name in text and value[:60] in text, (name, dns)


# PUT /settings with several fields, and what GET /settings shows of each.
SETTINGS = {"dmarc_tolerated": ["tolerated.test"], "arc_trusted": ["forwarder.test"],
            "dmarc_report_from": "reports@example.test", "mta_sts_mode": "enforce",
            "dmarc_failure_reports": False}


def settings_now(api):
    st, _, d = api.call("GET", "/settings")
    assert st == 200, d
    return (d["auth"]["dmarc_tolerated"], d["auth"]["arc_trusted"], d["dmarc_reports"]["from"],
            d["mta_sts"]["mode"], d["dmarc_reports"]["failure_reports"])


def settings_all_or_none(api, before, what):
    """The fields of SETTINGS all changed, or none did."""
    now = settings_now(api)
    after = (SETTINGS["dmarc_tolerated"], SETTINGS["arc_trusted"], SETTINGS["dmarc_report_from"],
             SETTINGS["mta_sts_mode"], SETTINGS["dmarc_failure_reports"])
    assert now in (before, after), (what, before, now)
    return now == after


def test_settings_put_all_or_nothing():
    # PUT /settings stored each field in a write transaction of its own:
    # killed after the first commit, the restarted server had only
    # dmarc_tolerated changed; a full disk partway left it half applied,
    # the client told it had failed. One transaction: all or none.
    if not shutil.which("strace"):
        print("  (no strace)")
        return "skip"
    s, api = admin_server(env=untraced_leaks())
    with s:
        before = settings_now(api)
        killed(s, "PUT /settings", lambda: api.call("PUT", "/settings", SETTINGS)[0])
        api.login(api.password)  # the admin's session ends with the server
        print("  after the restart: %s" % ("all" if settings_all_or_none(api, before, "killed")
                                          else "none"))

    s, api = admin_server(env=untraced_leaks())
    with s:
        before = settings_now(api)

        def put():
            try:
                st, _, d = api.call("PUT", "/settings", SETTINGS)
            except (AssertionError, OSError, EOFError):
                return None
            assert st in (200, 503, 507), (st, d)
            return st == 200

        def check(got):
            if api.call("GET", "/settings")[0] == 401:  # a restart ended the session
                api.login(api.password)
            done = settings_all_or_none(api, before, "disk full")
            assert got is None or done == got, (got, done)
            if done:  # back to the start for the next write failing
                st, _, d = api.call("PUT", "/settings", {
                    "dmarc_tolerated": before[0], "arc_trusted": before[1],
                    "dmarc_report_from": before[2], "mta_sts_mode": before[3],
                    "dmarc_failure_reports": before[4]})
                assert st == 200 and settings_now(api) == before, d
        each_write_failing(s, "PUT /settings", put, check)
