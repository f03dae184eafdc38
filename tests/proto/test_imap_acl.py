"""Shared mailboxes over IMAP (RFC 4314 ACL, RFC 2342 NAMESPACE), driven
with imaplib.

Shared mailboxes sit behind one switch (IMAP_ACL_ENABLED, imap_acl.h)
until every command enforces the rights. While it is off, the first test
holds the contract: no ACL capability, NAMESPACE shows the personal
namespace only, the ACL commands are unknown (BAD) and `tern acl` changes
nothing. The others need the switch on and skip without it: the commands
themselves (SETACL with replace, + and -, DELETEACL, GETACL, LISTRIGHTS,
MYRIGHTS), the owner's rights that cannot change, refused identifiers
and rights, and a mailbox not granted answered as one that does not
exist."""
import imaplib
import re

from harness import Server
from test_imap import BOB, BOB_PW, CAROL, CAROL_PW, login

for _c in ("SETACL", "DELETEACL", "GETACL", "LISTRIGHTS", "MYRIGHTS"):
    imaplib.Commands.setdefault(_c, ("AUTH", "SELECTED"))

TEAM = "team@example.test"  # an alias of bob's


def cmd(m, name, *args):
    """Runs name with args as they are (atoms or quoted by the caller):
    (tagged status, tagged text, untagged lines of that name)."""
    try:
        typ, dat = m._simple_command(name, *args)
    except imaplib.IMAP4.error as e:  # a BAD comes as an exception
        return "BAD", str(e).encode(), []
    _, lines = m._untagged_response(typ, dat, "ACL" if name == "GETACL" else name)
    return typ, dat[-1] if dat else b"", [x for x in lines if x is not None]


def caps(m):
    return m.capabilities


def test_acl_closed_while_incomplete():
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        m = login(s)
        if "ACL" in caps(m):
            m.logout()
            return "skip"
        assert not any(c.startswith("RIGHTS=") for c in caps(m)), caps(m)
        typ, data = m.namespace()
        assert typ == "OK" and data == [b'(("" "/")) NIL NIL'], data
        for name, args in (("SETACL", ("INBOX", CAROL, "lr")), ("GETACL", ("INBOX",)),
                           ("DELETEACL", ("INBOX", CAROL)), ("MYRIGHTS", ("INBOX",)),
                           ("LISTRIGHTS", ("INBOX", CAROL))):
            typ, text, _ = cmd(m, name, *args)
            assert typ == "BAD" and b"Unknown command" in text, (name, typ, text)
        m.logout()
        r = s.cli("acl", "set", BOB, "INBOX", CAROL, "lr", check=False)
        assert r.returncode == 2 and b"not available" in r.stderr, r
        r = s.cli("acl", "list", BOB, check=False)
        assert r.returncode == 2, r


def test_acl_commands_and_refusals():
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        s.cli("alias", "add", TEAM, BOB)
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        assert "RIGHTS=TEXK" in caps(m), caps(m)  # imaplib upper-cases them
        typ, data = m.namespace()
        assert typ == "OK" and data == [b'(("" "/")) (("Shared/" "/")) NIL'], data
        assert m.create("Team")[0] == "OK"

        # The owner alone: every right, shown with c and d (§2.1.1).
        typ, _, acl = cmd(m, "GETACL", "Team")
        assert typ == "OK" and acl == [b'Team "bob@example.test" "lrswipkxteacd"'], acl
        typ, _, mine = cmd(m, "MYRIGHTS", "Team")
        assert typ == "OK" and mine == [b'Team "lrswipkxteacd"'], mine

        # Replace, add, take away; "d" stands for x t e.
        assert cmd(m, "SETACL", "Team", CAROL, "lr")[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "+wd")[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "-x")[0] == "OK"
        assert cmd(m, "SETACL", "Team", "anyone", "l")[0] == "OK"
        typ, _, acl = cmd(m, "GETACL", "Team")
        assert typ == "OK" and acl == [b'Team "bob@example.test" "lrswipkxteacd" anyone "l" '
                                       b'"carol@example.test" "lrwted"'], acl
        typ, _, lr = cmd(m, "LISTRIGHTS", "Team", CAROL)
        assert typ == "OK" and lr == [b'Team "carol@example.test" "" l r s w i p k x t e a'], lr
        typ, _, lr = cmd(m, "LISTRIGHTS", "Team", BOB)
        assert typ == "OK" and lr == [b'Team "bob@example.test" lrswipkxtea'], lr

        # Refused: the owner's rights, negative rights, an unknown
        # right (BAD, §3.1), an alias or unknown account.
        typ, text, _ = cmd(m, "SETACL", "Team", BOB, "l")
        assert typ == "NO" and b"[CANNOT]" in text, text
        typ, text, _ = cmd(m, "DELETEACL", "Team", BOB)
        assert typ == "NO" and b"[CANNOT]" in text, text
        typ, text, _ = cmd(m, "SETACL", "Team", "-" + CAROL, "r")
        assert typ == "NO" and b"[CANNOT]" in text, text
        typ, text, _ = cmd(m, "SETACL", "Team", CAROL, "lrz")
        assert typ == "BAD", text
        typ, text, _ = cmd(m, "SETACL", "Team", TEAM, "lr")
        assert typ == "NO" and b"[NONEXISTENT]" in text and b"alias" in text, text
        typ, text, _ = cmd(m, "SETACL", "Nothing", CAROL, "lr")
        assert typ == "NO" and b"[NONEXISTENT]" in text, text
        r = s.cli("acl", "list", BOB)
        assert r.stdout == b"Team\tanyone\tl\nTeam\tcarol@example.test\tlrwted\n", r.stdout

        # The grantee: its rights; "l" without "a" is NOPERM to GETACL;
        # not granted is the same NONEXISTENT as not there at all.
        c = login(s, user=CAROL, pw=CAROL_PW)
        shared = '"Shared/bob@example.test/Team"'
        typ, _, mine = cmd(c, "MYRIGHTS", shared)
        assert typ == "OK" and mine == [b'Shared/bob@example.test/Team "lrwted"'], mine
        typ, text, _ = cmd(c, "GETACL", shared)
        assert typ == "NO" and b"[NOPERM]" in text, text
        typ, text, _ = cmd(c, "SETACL", shared, CAROL, "+a")
        assert typ == "NO" and b"[NOPERM]" in text, text
        no_grant = cmd(c, "MYRIGHTS", '"Shared/bob@example.test/INBOX"')
        no_box = cmd(c, "MYRIGHTS", '"Shared/bob@example.test/Nothing"')
        no_owner = cmd(c, "MYRIGHTS", '"Shared/zed@example.test/INBOX"')
        words = [re.sub(rb"Shared/\S+", b"", x[1]) for x in (no_grant, no_box, no_owner)]
        assert no_grant[0] == no_box[0] == no_owner[0] == "NO", (no_grant, no_box, no_owner)
        assert words[0] == words[1] == words[2] and b"[NONEXISTENT]" in words[0], words

        # DELETEACL: carol's grant gone, anyone's still there.
        assert cmd(m, "DELETEACL", "Team", CAROL)[0] == "OK"
        typ, _, mine = cmd(c, "MYRIGHTS", shared)
        assert typ == "OK" and mine == [b'Shared/bob@example.test/Team "l"'], mine
        assert cmd(m, "DELETEACL", "Team", "anyone")[0] == "OK"
        typ, text, _ = cmd(c, "MYRIGHTS", shared)
        assert typ == "NO" and b"[NONEXISTENT]" in text, text
        c.logout()
        m.logout()
