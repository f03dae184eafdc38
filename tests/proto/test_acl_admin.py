"""Shared mailboxes as an administrator sets them (RFC 4314 grants):
`tern acl` gives, changes and takes away a grant, and a real client of
the grantee (imaplib) then sees the mailbox in the other users'
namespace (RFC 2342), reads it, appends by the right given, and loses it
again; the grant `tern acl` wrote is the one the owner's GETACL shows.
The REST API does the same (/api/v1/accounts/{email}/acl, .../shared),
with the CLI's checks answered 400 or 404, the admin password asked of a
session for a grant that gives a right, and an audit line per write.
README's list of IMAP capabilities names every one the server announces
(ACL and RIGHTS=texk were missing once sharing was switched on)."""
import imaplib
import os
import re
import urllib.parse

from harness import ROOT, Server
from httpc import ADMIN_PW, admin_server
from jmapc import CORE, Jmap
from test_imap import BOB, BOB_PW, CAROL, CAROL_PW, login

for _c in ("GETACL", "MYRIGHTS"):
    imaplib.Commands.setdefault(_c, ("AUTH", "SELECTED"))

SHARED = "Shared/%s/Team" % BOB


def listed(m):
    typ, data = m.list('""', "*")
    assert typ == "OK", data
    return [d.decode() for d in data if d]


def untagged(m, name, *args):
    typ, dat = m._simple_command(name, *args)
    assert typ == "OK", (name, dat)
    return m._untagged_response(typ, dat, "ACL" if name == "GETACL" else name)[1]


def test_cli_grant_seen_by_the_grantee():
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        owner = login(s)
        assert owner.create("Team")[0] == "OK"
        assert owner.append("Team", None, None, b"Subject: hello\r\n\r\nHi.\r\n")[0] == "OK"
        carol = login(s, user=CAROL, pw=CAROL_PW)
        assert not any(SHARED in l for l in listed(carol)), listed(carol)

        r = s.cli("acl", "set", BOB, "Team", CAROL, "lr")
        assert r.stdout == b"%s Team: %s may lr\n" % (BOB.encode(), CAROL.encode()), r.stdout
        assert any(l.endswith('"/" "%s"' % SHARED) or l.endswith('"/" %s' % SHARED)
                   for l in listed(carol)), listed(carol)
        typ, data = carol.select('"%s"' % SHARED, readonly=True)
        assert typ == "OK" and data == [b"1"], data
        mine = untagged(carol, "MYRIGHTS", '"%s"' % SHARED)
        assert mine == [('%s "lr"' % SHARED).encode()], mine
        # Read only: "i" is not given yet.
        typ, data = carol.append('"%s"' % SHARED, None, None, b"Subject: x\r\n\r\nx\r\n")
        assert typ == "NO", data

        # "+i" adds to the grant as SETACL's "+" does; the owner's GETACL
        # shows what the command wrote.
        r = s.cli("acl", "set", BOB, "Team", CAROL, "+i")
        assert r.stdout.endswith(b"may lri\n"), r.stdout
        assert carol.append('"%s"' % SHARED, None, None, b"Subject: from carol\r\n\r\nx\r\n")[0] == "OK"
        assert untagged(owner, "GETACL", "Team") == [
            b'Team "bob@example.test" "lrswipkxteacd" "carol@example.test" "lri"']
        # tern acl list shows what GETACL does: the owner's implicit
        # rights first (RFC 4314 section 2), then the grants.
        r = s.cli("acl", "list", BOB, "Team")
        assert r.stdout == b"Team\tbob@example.test\tlrswipkxteacd\nTeam\tcarol@example.test\tlri\n", \
            r.stdout

        # Removed: gone from the grantee's list, and its name answers as
        # a mailbox that does not exist (RFC 4314 section 6).
        carol.close()
        r = s.cli("acl", "del", BOB, "Team", CAROL)
        assert r.stdout == b"%s Team: %s removed\n" % (BOB.encode(), CAROL.encode()), r.stdout
        assert not any(SHARED in l for l in listed(carol)), listed(carol)
        typ, data = carol.select('"%s"' % SHARED)
        assert typ == "NO" and b"NONEXISTENT" in data[0], data
        assert untagged(owner, "GETACL", "Team") == [b'Team "bob@example.test" "lrswipkxteacd"']
        r = s.cli("acl", "list", BOB, "Team")
        assert r.stdout == b"Team\tbob@example.test\tlrswipkxteacd\n", r.stdout
        carol.logout()
        owner.logout()


TEAM = "team@example.test"  # an alias of bob's
SUB = "Shared/%s/Team/Sub" % BOB


def acl_query(**kw):
    return "/accounts/%s/acl?%s" % (BOB, urllib.parse.urlencode(kw))


def test_rest_grants():
    s, a = admin_server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True)
    with s:
        s.cli("alias", "add", TEAM, BOB)
        owner = login(s)
        assert owner.create("Team/Sub")[0] == "OK"
        carol = login(s, user=CAROL, pw=CAROL_PW)
        base = "/accounts/%s/acl" % BOB
        st, _, body = a.call("GET", base)
        assert st == 200 and body == {"grants": []}, body

        # A grant that gives a right takes the admin password from a session.
        grant = {"mailbox": "Team/Sub", "identifier": CAROL, "rights": "lr"}
        st, _, body = a.call("PUT", base, grant)
        assert st == 400 and (body["code"], body["field"]) == ("missing_field", "password"), body
        st, _, body = a.call("PUT", base, dict(grant, password="not-the-password"))
        assert st == 400 and body["code"] == "wrong_password", body
        st, _, body = a.call("PUT", base, dict(grant, password=ADMIN_PW))
        assert st == 200 and body == grant, body
        assert s.wait_log("event=acl_set account_id=")
        assert any(SUB in l for l in listed(carol)), listed(carol)
        typ, data = carol.select('"%s"' % SUB, readonly=True)  # "lr": read-only
        assert typ == "OK", data
        carol.close()

        # "+" adds and "-" takes away, as SETACL; taking away asks nothing.
        st, _, body = a.call("PUT", base, dict(grant, rights="+i", password=ADMIN_PW))
        assert st == 200 and body["rights"] == "lri", body
        st, _, body = a.call("PUT", base, dict(grant, rights="-i"))
        assert st == 200 and body["rights"] == "lr", body
        assert untagged(owner, "GETACL", '"Team/Sub"') == [
            b'Team/Sub "bob@example.test" "lrswipkxteacd" "carol@example.test" "lr"']

        # Refused as the CLI refuses, each naming its field; nothing changed.
        for change, field, word in (({"identifier": TEAM}, "identifier", "alias"),
                                    ({"identifier": "zed@example.test"}, "identifier", "account"),
                                    ({"identifier": BOB}, "identifier", "every right"),
                                    ({"rights": "lrz"}, "rights", "lrswipkxtea"),
                                    ({"rights": "=l"}, "rights", "lrswipkxtea")):
            st, _, body = a.call("PUT", base, dict(grant, password=ADMIN_PW, **change))
            assert st == 400 and body["code"] == "invalid_field" and body["field"] == field, (change, body)
            assert word in body["detail"], (change, body)
        # A NUL inside a name does not cut it short (to "Team/Sub", or bob).
        for field, value in (("mailbox", "Team/Sub\u0000x"), ("identifier", BOB + "\u0000x")):
            st, _, body = a.call("PUT", base, dict(grant, password=ADMIN_PW, **{field: value}))
            assert st == 400 and body["field"] == field, (field, body)
        st, _, body = a.call("PUT", base, dict(grant, mailbox="Nothing", password=ADMIN_PW))
        assert st == 404 and body["field"] == "mailbox" and "Nothing" in body["detail"], body
        st, _, body = a.call("PUT", "/accounts/zed@example.test/acl", dict(grant, password=ADMIN_PW))
        assert st == 404, body
        st, _, body = a.call("PUT", base, {"identifier": CAROL, "rights": "l", "password": ADMIN_PW})
        assert st == 400 and body["field"] == "mailbox", body
        st, _, body = a.call("GET", acl_query(mailbox="Nothing"))
        assert st == 404 and body["field"] == "mailbox", body

        # anyone, on another mailbox; one mailbox's grants, or all of them.
        st, _, body = a.call("PUT", base, {"mailbox": "INBOX", "identifier": "anyone", "rights": "l",
                                           "password": ADMIN_PW})
        assert st == 200 and body == {"mailbox": "INBOX", "identifier": "anyone", "rights": "l"}, body
        st, _, body = a.call("GET", acl_query(mailbox="Team/Sub"))
        assert st == 200 and body == {"grants": [grant]}, body
        st, _, body = a.call("GET", base)
        assert st == 200 and sorted(body["grants"], key=lambda g: g["mailbox"]) == [
            {"mailbox": "INBOX", "identifier": "anyone", "rights": "l"}, grant], body

        # What is shared with carol: her grant and anyone's.
        st, _, body = a.call("GET", "/accounts/%s/shared" % CAROL)
        assert st == 200 and sorted(body["mailboxes"], key=lambda m: m["name"]) == [
            {"owner": BOB, "mailbox": "INBOX", "name": "Shared/%s/INBOX" % BOB, "rights": "l"},
            {"owner": BOB, "mailbox": "Team/Sub", "name": SUB, "rights": "lr"}], body
        st, _, body = a.call("GET", "/accounts/%s/shared" % BOB)
        assert st == 200 and body == {"mailboxes": []}, body
        assert a.call("GET", "/accounts/zed@example.test/shared")[0] == 404

        # DELETE names the grant in the query (a mailbox name holds "/").
        st, _, body = a.call("DELETE", acl_query(mailbox="Team/Sub"))
        assert st == 400 and body["field"] == "identifier", body
        st, _, body = a.call("DELETE", acl_query(mailbox="Team/Sub", identifier=TEAM))
        assert st == 400 and body["field"] == "identifier", body
        st, _, body = a.call("DELETE", acl_query(mailbox="Team/Sub", identifier=CAROL))
        assert st == 204, body
        assert s.wait_log("event=acl_deleted account_id=")
        assert not any(SUB in l for l in listed(carol)), listed(carol)
        st, _, body = a.call("GET", "/accounts/%s/shared" % CAROL)
        assert st == 200 and [m["name"] for m in body["mailboxes"]] == ["Shared/%s/INBOX" % BOB], body
        # Every REST write is the administrator's: Carol's JMAP
        # ShareNotifications (RFC 9670 §5) name no account as changedBy,
        # the DELETE's as the PUTs'.
        j = Jmap(s, CAROL, CAROL_PW)
        r = j.call([["ShareNotification/get", {"accountId": j.account, "ids": None}, "n"]],
                   (CORE, "urn:ietf:params:jmap:principals"))["methodResponses"][0][1]
        got = [(n["name"], n["changedBy"]) for n in r["list"]]
        admin = {"name": "Administrator", "email": None, "principalId": None}
        assert got and got[-1][1] == admin and all(b == admin for _, b in got), got
        assert r["list"][-1]["newRights"] is None, r["list"][-1]
        r = s.cli("acl", "list", BOB)
        assert r.stdout == b"INBOX\tbob@example.test\tlrswipkxteacd\nINBOX\tanyone\tl\n", r.stdout
        carol.logout()
        owner.logout()


def test_readme_names_every_capability():
    with Server(accounts=[(BOB, BOB_PW)], imap=True) as s:
        m = login(s)
        caps = m.capabilities
        m.logout()
    readme = open(os.path.join(ROOT, "README.md")).read()
    listed = readme.split("wrong passwords always do. Capabilities:", 1)[1].split("GETJMAPACCESS", 1)[0]
    words = {w.upper() for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9=+.-]*", listed)}
    # A limit's value is the variable README names: APPENDLIMIT=<...>;
    # the SASL mechanisms are told in prose ("AUTHENTICATE PLAIN/LOGIN").
    missing = [c for c in caps if c.upper() not in words and c.split("=")[0] + "=" not in listed
               and not c.startswith("AUTH=")]
    assert "ACL" in caps and not missing, missing
