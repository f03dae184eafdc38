"""Shared mailboxes as an administrator sets them (RFC 4314 grants):
`tern acl` gives, changes and takes away a grant, and a real client of
the grantee (imaplib) then sees the mailbox in the other users'
namespace (RFC 2342), reads it, appends by the right given, and loses it
again; the grant `tern acl` wrote is the one the owner's GETACL shows."""
import imaplib

from harness import Server
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
        r = s.cli("acl", "list", BOB, "Team")
        assert r.stdout == b"Team\tcarol@example.test\tlri\n", r.stdout

        # Removed: gone from the grantee's list, and its name answers as
        # a mailbox that does not exist (RFC 4314 section 6).
        carol.close()
        r = s.cli("acl", "del", BOB, "Team", CAROL)
        assert r.stdout == b"%s Team: %s removed\n" % (BOB.encode(), CAROL.encode()), r.stdout
        assert not any(SHARED in l for l in listed(carol)), listed(carol)
        typ, data = carol.select('"%s"' % SHARED)
        assert typ == "NO" and b"NONEXISTENT" in data[0], data
        assert untagged(owner, "GETACL", "Team") == [b'Team "bob@example.test" "lrswipkxteacd"']
        carol.logout()
        owner.logout()
