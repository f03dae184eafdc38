"""JMAP for Sieve scripts (RFC 9661) over the same scripts as ManageSieve
and the CLI: the capability and its limits, SieveScript/validate,
/set (create from an uploaded blob, server-chosen names, rename keeping
the id, onSuccessActivateScript by creation reference and by id with the
isActive changes reported, onSuccessDeactivateScript, the refusals:
invalidSieve with where and why, alreadyExists with existingId,
sieveIsActive, blobNotFound, invalidProperties, stateMismatch), /get
(blobId downloads the text, only for its account), /query (filter and
sort), /changes (exact when nothing changed, else
cannotCalculateChanges). The script set over JMAP is the one delivery
runs and `tern sieve list` shows. One server for the module."""
import hashlib
import json
import smtplib
import time

from jmapc import CORE, MAIL, Jmap, shared_server

SIEVE = "urn:ietf:params:jmap:sieve"
USING = (CORE, SIEVE)
KIM = ("kim@example.test", "kim-password-1")
LOU = ("lou@example.test", "lou-password-1")

RULES = (b'require ["fileinto", "mailbox"];\n'
         b'if header :contains "subject" "[list]" { fileinto :create "Lists"; }\n')
OTHER = b'keep;\n'
BROKEN = b'require "fileinto";\nif header :contains "subject" { fileinto "X"; }\n'


def blob_id(data):
    return "B" + hashlib.blake2b(data, digest_size=32).hexdigest()


def srv():
    return shared_server([KIM, LOU])


def lists(s):
    """What `tern fetch` lists in KIM's Lists ([] while it does not exist)."""
    try:
        return s.messages(KIM[0], "Lists")
    except AssertionError:  # tern fetch: no such mailbox yet
        return []


def upload(j, data):
    st, _, body = j.request("POST", "/jmap/upload/%s/" % j.account, data,
                            {"Content-Type": "application/sieve"})
    assert st == 201, (st, body)
    return body["blobId"]


def call(j, method, args):
    a = dict(args)
    a.setdefault("accountId", j.account)
    r = j.call([[method, a, "c"]], USING)["methodResponses"]
    assert len(r) == 1, r
    return r[0][0], r[0][1]


def test_jmap_sieve_scripts():
    s = srv()
    j = Jmap(s, *KIM)
    sess = j.session()
    assert sess["capabilities"][SIEVE] == {}, sess["capabilities"]
    cap = sess["accounts"][j.account]["accountCapabilities"][SIEVE]
    assert cap["maxNumberScripts"] == 32 and cap["maxSizeScript"] == 1048576, cap
    assert cap["maxSizeScriptName"] == 512 and cap["maxNumberRedirects"] >= 1, cap
    assert "fileinto" in cap["sieveExtensions"] and "vacation" in cap["sieveExtensions"], cap
    # RFC 5490's tests over the METADATA entries IMAP keeps
    assert {"mboxmetadata", "servermetadata"} <= set(cap["sieveExtensions"]), cap
    assert cap["notificationMethods"] == ["mailto"] and cap["externalLists"] is None, cap
    assert sess["primaryAccounts"][SIEVE] == j.account

    # Without the capability in "using" the methods do not exist.
    r = j.call([["SieveScript/get", {"accountId": j.account}, "c"]], (CORE, MAIL))
    assert r["methodResponses"][0][1]["type"] == "unknownMethod", r

    good, bad = upload(j, RULES), upload(j, BROKEN)
    assert good == blob_id(RULES)
    _, v = call(j, "SieveScript/validate", {"blobId": good})
    assert v == {"accountId": j.account, "error": None}, v
    _, v = call(j, "SieveScript/validate", {"blobId": bad})
    assert v["error"]["type"] == "invalidSieve" and "line 2" in v["error"]["description"], v
    # every error, one a line (the parser goes on after one)
    _, v = call(j, "SieveScript/validate", {"blobId": upload(j, b"frop;\nkeep;\nstop 1;\n")})
    assert v["error"]["type"] == "invalidSieve" and v["error"]["description"] == (
        'line 1, column 1: unknown command "frop"\n'
        'line 3, column 6: stop takes 0 positional arguments, found 1'), v
    _, v = call(j, "SieveScript/validate", {"blobId": blob_id(b"never uploaded")})
    assert v["error"]["type"] == "blobNotFound", v

    _, g = call(j, "SieveScript/get", {"ids": None})
    assert g["list"] == [] and g["notFound"] == [], g
    state0 = g["state"]

    # Create and activate in one call, by creation reference.
    _, r = call(j, "SieveScript/set", {"create": {"a": {"name": "rules", "blobId": good}},
                                       "onSuccessActivateScript": "#a"})
    assert r.get("oldState") == state0 and r["newState"] != state0, r
    assert set(r["created"]) == {"a"} and r["created"]["a"]["isActive"] is True, r
    sid = r["created"]["a"]["id"]
    assert "name" not in r["created"]["a"]  # given, not chosen by the server
    assert r["notCreated"] is None and r["updated"] is None and r["destroyed"] is None, r

    _, g = call(j, "SieveScript/get", {"ids": [sid, "Sffffffff"]})
    assert g["list"] == [{"id": sid, "name": "rules", "blobId": good, "isActive": True}], g
    assert g["notFound"] == ["Sffffffff"], g
    st, hd, body = j.request("GET", "/jmap/download/%s/%s/rules.sieve?accept=application/sieve"
                             % (j.account, good))
    assert st == 200 and body == RULES, (st, body)
    lou = Jmap(s, *LOU)
    st, _, _ = lou.request("GET", "/jmap/download/%s/%s/x" % (lou.account, good))
    assert st == 404  # another account's script is not its blob
    _, lg = call(lou, "SieveScript/get", {"ids": None})
    assert lg["list"] == [], lg

    # It is the script delivery runs, and the CLI sees it.
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        c.sendmail("x@remote.test", [KIM[0]],
                   b"From: x@remote.test\r\nSubject: [list] news\r\n\r\nhi\r\n")
    deadline = time.time() + 20
    while time.time() < deadline and not lists(s):
        time.sleep(0.1)
    assert len(lists(s)) == 1, s.log_text()[-2000:]
    out = s.cli("sieve", "list", KIM[0]).stdout.decode()
    assert "rules" in out, out

    # Rename: the id stays; a second script gets a name from the server.
    _, r = call(j, "SieveScript/set", {"update": {sid: {"name": "filters"}},
                                       "create": {"b": {"blobId": upload(j, OTHER)}}})
    assert r["updated"] == {sid: None}, r
    bid = r["created"]["b"]["id"]
    assert r["created"]["b"]["name"] == "script1" and r["created"]["b"]["isActive"] is False, r
    _, g = call(j, "SieveScript/get", {"ids": [sid], "properties": ["name"]})
    assert g["list"] == [{"id": sid, "name": "filters"}], g

    # Activating the other: both changes reported in "updated".
    _, r = call(j, "SieveScript/set", {"onSuccessActivateScript": bid})
    assert r["updated"] == {bid: {"isActive": True}, sid: {"isActive": False}}, r
    # An activation id that names nothing is ignored.
    _, r = call(j, "SieveScript/set", {"onSuccessActivateScript": "S00abcdef"})
    assert r["updated"] is None and r["oldState"] == r["newState"], r

    # Refusals.
    _, r = call(j, "SieveScript/set", {"create": {
        "x": {"name": "broken", "blobId": bad},
        "y": {"name": "filters", "blobId": good},
        "z": {"name": "ok", "blobId": blob_id(b"nope")},
        "w": {"name": "ok2", "blobId": good, "isActive": True},
        "v": {"name": "bad\u2028name", "blobId": good},
        "u": {"name": "\u00e9" * 129, "blobId": good}},
        "destroy": [bid, "S0000beef"]})
    nc = r["notCreated"]
    assert nc["x"]["type"] == "invalidSieve" and "line 2" in nc["x"]["description"], nc
    assert nc["y"]["type"] == "alreadyExists" and nc["y"]["existingId"] == sid, nc
    assert nc["z"]["type"] == "blobNotFound", nc
    assert nc["w"]["type"] == "invalidProperties" and nc["w"]["properties"] == ["isActive"], nc
    assert nc["v"]["type"] == "invalidProperties" and nc["v"]["properties"] == ["name"], nc
    assert nc["u"]["type"] == "invalidProperties" and nc["u"]["properties"] == ["name"], nc
    assert r["notDestroyed"][bid]["type"] == "sieveIsActive", r
    assert r["notDestroyed"]["S0000beef"]["type"] == "notFound", r
    assert r["created"] is None and r["destroyed"] is None, r
    _, r = call(j, "SieveScript/set", {"ifInState": state0, "destroy": [sid]})
    assert r["type"] == "stateMismatch", r
    # A name of 128 characters (RFC 5804 §1.6), 256 octets here: taken, then gone again.
    _, r = call(j, "SieveScript/set", {"create": {"l": {"name": "\u00e9" * 128, "blobId": good}}})
    lid = r["created"]["l"]["id"]
    _, g = call(j, "SieveScript/get", {"ids": [lid], "properties": ["name"]})
    assert g["list"] == [{"id": lid, "name": "\u00e9" * 128}], g
    _, r = call(j, "SieveScript/set", {"destroy": [lid]})
    assert r["destroyed"] == [lid], r

    # Query: filter and sort.
    _, q = call(j, "SieveScript/query", {"filter": {"isActive": True}})
    assert q["ids"] == [bid] and q["canCalculateChanges"] is False, q
    _, q = call(j, "SieveScript/query", {"sort": [{"property": "name", "isAscending": False}],
                                         "calculateTotal": True})
    assert q["ids"] == [bid, sid] and q["total"] == 2, q  # script1 > filters
    _, q = call(j, "SieveScript/query", {"filter": {"name": "FILT"}})
    assert q["ids"] == [sid], q
    _, q = call(j, "SieveScript/query", {"sort": [{"property": "size"}]})
    assert q["type"] == "unsupportedSort", q

    # Changes: exact from the current and from an older state.
    _, g = call(j, "SieveScript/get", {"ids": []})
    _, ch = call(j, "SieveScript/changes", {"sinceState": g["state"]})
    assert ch["created"] == [] and ch["updated"] == [] and ch["destroyed"] == [], ch
    _, ch = call(j, "SieveScript/changes", {"sinceState": state0})
    assert sorted(ch["created"]) == sorted([sid, bid]) and ch["updated"] == [], ch
    assert ch["destroyed"] == [] and ch["newState"] == g["state"], ch

    # Deactivate, then the inactive scripts can go.
    _, r = call(j, "SieveScript/set", {"onSuccessDeactivateScript": True})
    assert r["updated"] == {bid: {"isActive": False}}, r
    _, r = call(j, "SieveScript/set", {"destroy": [bid, sid]})
    assert sorted(r["destroyed"]) == sorted([bid, sid]), r
    _, g = call(j, "SieveScript/get", {"ids": None})
    assert g["list"] == [], g
    # Ids are never given again.
    _, r = call(j, "SieveScript/set", {"create": {"n": {"name": "filters", "blobId": good}}})
    assert r["created"]["n"]["id"] not in (sid, bid), r
    assert json.dumps(r)  # a plain JSON object


def test_activation_is_checked_as_setactive_does():
    """onSuccessActivateScript takes the check ManageSieve's SETACTIVE makes
    (script_check.c): a script not active yet that would fail at every
    delivery (RFC 6609 §3.2: an include without :optional of a script
    not there, a recursive include, nesting past 5) stays inactive, and
    the refusal is RFC 9661's invalidSieve SetError in notUpdated under
    its id, saying where and why; the creations and updates made stand,
    the active script stays, onSuccessDeactivateScript still applies. tern
    activated such a script (each delivery then failed, into INBOX)."""
    s = srv()
    amy = ("amy@example.test", "amy-pw-Sieve-7qz")
    s.cli("account", "add", amy[0], input=amy[1] + "\n")
    j = Jmap(s, *amy)
    inc = b'require "include"; '

    def refusal(r, sid, why):
        e = r["notUpdated"][sid]
        assert e["type"] == "invalidSieve" and why in e["description"], r

    _, r = call(j, "SieveScript/set", {"create": {"k": {"name": "keep",
                                                        "blobId": upload(j, OTHER)}},
                                       "onSuccessActivateScript": "#k"})
    keep = r["created"]["k"]["id"]
    _, r = call(j, "SieveScript/set", {"create": {"m": {"name": "main",
                                                        "blobId": upload(j, inc + b'include "lib";')}},
                                       "onSuccessActivateScript": "#m"})
    main = r["created"]["m"]["id"]
    assert r["created"]["m"]["isActive"] is False and r["updated"] is None, r
    refusal(r, main, 'line 1, column 20: no such personal script to include "lib" (without '
            ':optional the script fails when it runs)')
    _, g = call(j, "SieveScript/get", {"ids": None, "properties": ["name", "isActive"]})
    assert {x["name"]: x["isActive"] for x in g["list"]} == {"keep": True, "main": False}, g
    # A cycle, made in the same call that activates: lib includes main.
    _, r = call(j, "SieveScript/set", {"create": {"l": {"name": "lib",
                                                        "blobId": upload(j, inc + b'include "main";')}},
                                       "onSuccessActivateScript": main})
    assert r["created"]["l"]["isActive"] is False and r["updated"] is None, r
    refusal(r, main, 'script "lib", line 1, column 20: recursive include of "main"')
    # Nesting: n0 includes n1 ... includes n6, six deep.
    made = {}
    for k in range(7):
        text = inc + b'include "n%d";' % (k + 1) if k < 6 else b"keep;"
        _, r = call(j, "SieveScript/set", {"create": {"n": {"name": "n%d" % k,
                                                            "blobId": upload(j, text)}}})
        made[k] = r["created"]["n"]["id"]
    _, r = call(j, "SieveScript/set", {"onSuccessActivateScript": made[0],
                                       "onSuccessDeactivateScript": True})
    refusal(r, made[0], 'script "n5", line 1, column 20: include of "n6" nested deeper than 5')
    assert r["updated"] == {keep: {"isActive": False}}, r  # the deactivation stands
    # An update of the script activated is stored; the refusal is its answer.
    _, g = call(j, "SieveScript/query", {"filter": {"name": "lib"}})
    lib = g["ids"][0]
    _, r = call(j, "SieveScript/set", {"update": {lib: {"blobId": upload(j, inc + b'include "gone";')}},
                                       "onSuccessActivateScript": lib})
    refusal(r, lib, 'stored but not made active')
    assert r["updated"] is None, r
    # Fixed, it is taken.
    _, r = call(j, "SieveScript/set", {"update": {lib: {"blobId": upload(j, OTHER)}},
                                       "onSuccessActivateScript": main})
    assert r["notUpdated"] is None, r
    assert r["updated"] == {lib: None, main: {"isActive": True}}, r
    out = s.cli("sieve", "list", amy[0]).stdout.decode()
    assert "main ACTIVE" in out, out
