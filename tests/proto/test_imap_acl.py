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
exist; and mbsync, a real client, reading and flagging a shared mailbox."""
import imaplib
import os
import re
import shutil
import subprocess
import tempfile

from harness import Server
from test_imap import BOB, BOB_PW, CAROL, CAROL_PW, Raw, login
from test_imap_search_ext import cmd as cmd_raw

for _c in ("SETACL", "DELETEACL", "GETACL", "LISTRIGHTS", "MYRIGHTS"):
    imaplib.Commands.setdefault(_c, ("AUTH", "SELECTED"))
imaplib.Commands.setdefault("REPLACE", ("SELECTED",))
for _c in ("SETMETADATA", "GETMETADATA", "GENURLAUTH", "NOTIFY"):
    imaplib.Commands.setdefault(_c, ("AUTH", "SELECTED"))
imaplib.Commands.setdefault("MOVE", ("SELECTED",))

TEAM = "team@example.test"  # an alias of bob's


def cmd(m, name, *args):
    """Runs name with args as they are (atoms or quoted by the caller):
    (tagged status, tagged text, untagged lines of that name)."""
    try:
        typ, dat = m._simple_command(name, *args)
    except imaplib.IMAP4.error as e:  # a BAD comes as an exception
        return "BAD", str(e).encode(), []
    untagged = {"GETACL": "ACL", "GETMETADATA": "METADATA"}.get(name, name)
    _, lines = m._untagged_response(typ, dat, untagged)
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
        # The namespace's root is no own mailbox name, even now (the
        # store refuses it: it would be hidden once sharing is on).
        for name in ("Shared", '"Shared/x"'):
            typ, data = m.create(name)
            assert typ == "NO" and b"[CANNOT]" in data[0], (name, data)
        assert m.create('"Shared (mine)"')[0] == "OK"
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
        assert r.stdout == (b"Team\tbob@example.test\tlrswipkxteacd\nTeam\tanyone\tl\n"
                            b"Team\tcarol@example.test\tlrwted\n"), r.stdout

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

        # The shared namespace's own levels are no mailboxes, and a RENAME
        # stays within one account: refused, nothing made, whatever the
        # rights (test_acl_create_delete_rename_shared has the rest).
        assert cmd(m, "SETACL", "Team", CAROL, "lrkx")[0] == "OK"
        for args in (("CREATE", "Shared"), ("CREATE", '"Shared/x"'),
                     ("CREATE", '"Shared/bob@example.test"'), ("DELETE", '"Shared/x"'),
                     ("RENAME", "INBOX", '"Shared/x"'), ("RENAME", shared, "Mine"),
                     ("RENAME", shared, '"Shared/carol@example.test/Team"')):
            typ, text, _ = cmd(c, *args)
            assert typ == "NO" and b"[CANNOT]" in text, (args, text)
        bobs = _names(m.list('""', "*")[1])
        assert not any(n.startswith("Shared") for n in bobs), bobs
        hers = _names(c.list('""', "*")[1])
        assert "Mine" not in hers and "Shared/x" not in hers, hers
        assert "Shared/bob@example.test/Team" in hers, hers  # still there, still hers to see
        c.logout()
        m.logout()


def test_acl_create_delete_rename_shared():
    """CREATE, DELETE and RENAME in another user's namespace (RFC 4314 §4):
    CREATE needs "k" on the parent (on the owner's INBOX for a top level,
    as Cyrus and Dovecot's acl_defaults_from_inbox), the new mailbox is
    the owner's and takes the parent's grants; DELETE needs "x"; RENAME
    "x" on the old name and "k" on the new parent, keeping the grants and
    the messages. A lacking right is NOPERM; a mailbox without "l" is
    NONEXISTENT, as a missing one; the owner's LIST and STATUS see each
    change, and so does another grantee's LIST."""
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        for name in ("Team", "Team/Hidden", "Private"):
            assert m.create(name)[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "lr")[0] == "OK"
        assert cmd(m, "SETACL", "Team", "anyone", "l")[0] == "OK"
        c = login(s, user=CAROL, pw=CAROL_PW)
        pre = "Shared/bob@example.test/"

        def q(name):
            return '"%s%s"' % (pre, name)

        # No "k": NOPERM, for a parent she sees, one she does not, a top
        # level, and an owner who is no account or is herself alike.
        for name in (q("Team/New"), q("Private/New"), q("Top"),
                     '"Shared/nobody@example.test/New"', '"Shared/carol@example.test/New"'):
            typ, text, _ = cmd(c, "CREATE", name)
            assert typ == "NO" and b"[NOPERM]" in text, (name, text)
        assert cmd(m, "SETACL", "Team", CAROL, "lrk")[0] == "OK"
        typ, text, _ = cmd(c, "CREATE", q("Team/New"))
        assert typ == "OK" and b"[MAILBOXID (" in text, text
        typ, text, _ = cmd(c, "CREATE", q("Team/New"))
        assert typ == "NO" and b"[ALREADYEXISTS]" in text, text
        typ, text, _ = cmd(c, "CREATE", q("Team/Hidden"))  # there, not hers to see
        assert typ == "NO" and b"[NOPERM]" in text, text
        # Bob's, with Team's grants; her own namespace has none of it.
        assert "Team/New" in _names(m.list('""', "Team/*")[1])
        assert m.status("Team/New", "(MESSAGES)")[1] == [b"Team/New (MESSAGES 0)"]
        _, _, acl = cmd(m, "GETACL", "Team/New")
        assert acl == [b'Team/New "bob@example.test" "lrswipkxteacd" anyone "l" '
                       b'"carol@example.test" "lrkc"'], acl
        hers = _names(c.list('""', "*")[1])
        assert pre + "Team/New" in hers and "Team/New" not in hers, hers
        typ, _, mine = cmd(c, "MYRIGHTS", q("Team/New"))
        assert mine == [b'Shared/bob@example.test/Team/New "lrkc"'], mine

        # DELETE: "x" on the mailbox; without "l" as if not there.
        typ, text, _ = cmd(c, "DELETE", q("Team/New"))
        assert typ == "NO" and b"[NOPERM]" in text, text
        gone = []
        for name in ("Team/Hidden", "Private", "Nothing"):
            typ, text, _ = cmd(c, "DELETE", q(name))
            assert typ == "NO" and b"[NONEXISTENT]" in text, (name, text)
            gone.append(text.replace(name.encode(), b"NAME"))
        assert gone[0] == gone[1] == gone[2], gone
        assert cmd(m, "SETACL", "Team/New", CAROL, "+x")[0] == "OK"
        assert cmd(c, "DELETE", q("Team/New"))[0] == "OK"
        assert "Team/New" not in _names(m.list('""', "*")[1])
        assert pre + "Team/New" not in _names(c.list('""', "*")[1])
        assert "Team/Hidden" in _names(m.list('""', "*")[1])

        # RENAME: "x" on the old name, "k" on the new parent; the mailbox
        # keeps its messages and grants.
        assert m.create("Team/Old")[0] == "OK"
        assert m.append("Team/Old", None, None, b"Subject: o\r\n\r\nold\r\n")[0] == "OK"
        assert cmd(m, "SETACL", "Team/Old", CAROL, "lr")[0] == "OK"
        typ, text, _ = cmd(c, "RENAME", q("Team/Old"), q("Team/Renamed"))
        assert typ == "NO" and b"[NOPERM]" in text, text
        assert cmd(m, "SETACL", "Team/Old", CAROL, "lrx")[0] == "OK"
        typ, text, _ = cmd(c, "RENAME", q("Team/Old"), q("Private/Old"))
        assert typ == "NO" and b"[NOPERM]" in text, text  # no "k" on Private
        typ, text, _ = cmd(c, "RENAME", q("Team/Old"), q("Team/Hidden"))
        assert typ == "NO" and b"[NOPERM]" in text, text
        for to in ("INBOX", '"Shared/nobody@example.test/Old"'):
            typ, text, _ = cmd(c, "RENAME", q("Team/Old"), to)
            assert typ == "NO" and b"[CANNOT]" in text, (to, text)
        typ, text, _ = cmd(c, "RENAME", q("Private"), q("Team/Private"))
        assert typ == "NO" and b"[NONEXISTENT]" in text, text
        assert cmd(c, "RENAME", q("Team/Old"), q("Team/Renamed"))[0] == "OK"
        bobs = _names(m.list('""', "Team/*")[1])
        assert "Team/Renamed" in bobs and "Team/Old" not in bobs, bobs
        assert m.status("Team/Renamed", "(MESSAGES)")[1] == [b"Team/Renamed (MESSAGES 1)"]
        _, _, acl = cmd(m, "GETACL", "Team/Renamed")
        assert acl == [b'Team/Renamed "bob@example.test" "lrswipkxteacd" '
                       b'"carol@example.test" "lrxd"'], acl
        assert c.status(q("Team/Renamed"), "(MESSAGES)")[0] == "OK"

        # The owner's INBOX stays his to rename; a top level needs "k" on it.
        assert cmd(m, "SETACL", "INBOX", CAROL, "lkx")[0] == "OK"
        typ, text, _ = cmd(c, "RENAME", q("INBOX"), q("Team/In"))
        assert typ == "NO" and b"[CANNOT]" in text and b"INBOX" in text, text
        typ, text, _ = cmd(c, "CREATE", q("Top/Sub/"))
        assert typ == "OK", text
        bobs = _names(m.list('""', "*")[1])
        assert "Top" in bobs and "Top/Sub" in bobs and "Team/In" not in bobs, bobs
        typ, _, mine = cmd(c, "MYRIGHTS", q("Top/Sub"))
        assert mine == [b'Shared/bob@example.test/Top/Sub "lkxcd"'], mine
        # A special-use attribute is the owner's to give.
        typ, text, _ = cmd(c, "CREATE", q("Team/Sent2"), "(USE (\\Sent))")
        assert typ == "NO" and b"[CANNOT]" in text, text
        c.logout()
        m.logout()


def test_acl_create_counts_against_the_owner():
    """A mailbox created in another user's namespace counts against the
    owner's mailbox limit (TERN_MAX_MAILBOXES), not the creator's."""
    env = {"TERN_MAX_MAILBOXES": "10"}
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True, env=env) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        assert m.create("Team")[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "lrk")[0] == "OK"
        i = 0
        while len(_names(m.list('""', "*")[1])) < 9:
            assert m.create("Fill%d" % i)[0] == "OK"
            i += 1
        c = login(s, user=CAROL, pw=CAROL_PW)
        assert len([n for n in _names(c.list('""', "*")[1]) if not n.startswith("Shared")]) < 9
        assert cmd(c, "CREATE", '"Shared/bob@example.test/Team/A"')[0] == "OK"
        typ, text, _ = cmd(c, "CREATE", '"Shared/bob@example.test/Team/B"')
        assert typ == "NO" and b"[LIMIT]" in text, text
        assert len(_names(m.list('""', "*")[1])) == 10
        assert c.create("Mine")[0] == "OK"  # her own count is hers
        c.logout()
        m.logout()


def test_acl_move_within_owner_keeps_only_allowed_flags():
    """MOVE (RFC 6851) between two of the owner's mailboxes shared with
    the user keeps the message (its EMAILID) but only the flags the user
    may set in the target (RFC 4314 §4: \\Seen needs "s", \\Deleted "t",
    the others "w"), as a COPY there does; with "w" and "t" as well, all
    of them."""
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        for name in ("Team", "Seen", "All"):
            assert m.create(name)[0] == "OK"
        for i in range(2):
            assert m.append("Team", "(\\Seen \\Flagged \\Deleted $Label)", None,
                            b"Subject: m%d\r\n\r\nbody\r\n" % i)[0] == "OK"
        m.select("Team")
        typ, data = m.fetch("1:2", "(EMAILID)")
        ids = [re.search(rb"EMAILID \(([^)]+)\)", x).group(1) for x in data]
        assert cmd(m, "SETACL", "Team", CAROL, "lrte")[0] == "OK"
        assert cmd(m, "SETACL", "Seen", CAROL, "lris")[0] == "OK"
        assert cmd(m, "SETACL", "All", CAROL, "lriswt")[0] == "OK"
        c = login(s, user=CAROL, pw=CAROL_PW)
        assert c.select('"Shared/bob@example.test/Team"')[0] == "OK"
        typ, text, _ = cmd(c, "UID", "MOVE", "1", '"Shared/bob@example.test/Seen"')
        assert typ == "OK", text
        typ, text, _ = cmd(c, "UID", "MOVE", "2", '"Shared/bob@example.test/All"')
        assert typ == "OK", text
        c.logout()
        m.select("Team")
        assert m.status("Team", "(MESSAGES)")[1] == [b"Team (MESSAGES 0)"]
        for name, want, emailid in (("Seen", {"\\Seen"}, ids[0]),
                                    ("All", {"\\Seen", "\\Flagged", "\\Deleted", "$Label"},
                                     ids[1])):
            m.select(name)
            typ, data = m.fetch("1", "(FLAGS EMAILID)")
            flags = set(re.search(rb"FLAGS \(([^)]*)\)", data[0]).group(1).decode().split())
            flags.discard("\\Recent")  # bob's first look at it
            assert flags == want, (name, data)
            assert re.search(rb"EMAILID \(([^)]+)\)", data[0]).group(1) == emailid, data
        m.logout()


def test_acl_status_needs_read():
    """STATUS on a shared mailbox: the owner's counts with "r"; "l" alone
    is NOPERM; nothing granted is NONEXISTENT, as for no mailbox."""
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        assert m.create("Team")[0] == "OK"
        for i in range(2):
            msg = b"Subject: t%d\r\n\r\nhello\r\n" % i
            assert m.append("Team", "(\\Seen)" if i else None, None, msg)[0] == "OK"
        c = login(s, user=CAROL, pw=CAROL_PW)
        shared = '"Shared/bob@example.test/Team"'
        typ, data = c.status(shared, "(MESSAGES UNSEEN)")
        assert typ == "NO" and b"[NONEXISTENT]" in data[0], data
        assert cmd(m, "SETACL", "Team", CAROL, "l")[0] == "OK"
        typ, data = c.status(shared, "(MESSAGES UNSEEN)")
        assert typ == "NO" and b"[NOPERM]" in data[0], data
        assert cmd(m, "SETACL", "Team", CAROL, "lr")[0] == "OK"
        typ, data = c.status(shared, "(MESSAGES UNSEEN)")
        assert typ == "OK" and data == [b"Shared/bob@example.test/Team (MESSAGES 2 UNSEEN 1)"], data
        # Carol's own mailboxes are her own, as ever.
        typ, data = c.status("INBOX", "(MESSAGES)")
        assert typ == "OK" and data == [b"INBOX (MESSAGES 0)"], data
        c.logout()
        m.logout()


def test_acl_select_and_flags_by_rights():
    """SELECT of a shared mailbox: NONEXISTENT without rights, NOPERM with
    "l", READ-ONLY with "lr" (FETCH reads the owner's message and sets no
    \\Seen; STORE is refused), READ-WRITE once "s" is there: PERMANENTFLAGS
    names \\Seen alone, STORE changes only \\Seen (a flag it may not change
    is left out; nothing left is NOPERM; FLAGS is NOPERM), FETCH BODY[]
    sets \\Seen, EXPUNGE without "e" is NOPERM. Flags are shared: the
    owner sees the reader's \\Seen. The owner's new message reaches the
    reader's IDLE."""
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        assert m.create("Team")[0] == "OK"
        assert m.append("Team", None, None, b"Subject: one\r\n\r\nfirst body\r\n")[0] == "OK"
        c = login(s, user=CAROL, pw=CAROL_PW)
        shared = '"Shared/bob@example.test/Team"'
        typ, data = c.select(shared)
        assert typ == "NO" and b"[NONEXISTENT]" in data[0], data
        assert cmd(m, "SETACL", "Team", CAROL, "l")[0] == "OK"
        typ, data = c.select(shared)
        assert typ == "NO" and b"[NOPERM]" in data[0], data
        assert cmd(m, "SETACL", "Team", CAROL, "lr")[0] == "OK"
        try:  # imaplib raises on a READ-ONLY answer to SELECT, selected all the same
            c.select(shared)
            assert False, "SELECT of an lr mailbox was not READ-ONLY"
        except imaplib.IMAP4.readonly:
            c.is_readonly = True  # so that imaplib goes on
        assert c.state == "SELECTED" and c.untagged_responses.get("EXISTS") == [b"1"], \
            c.untagged_responses
        typ, data = c.fetch("1", "(BODY[TEXT] FLAGS)")
        assert typ == "OK" and data[0][1] == b"first body\r\n", data
        typ, data = c.fetch("1", "(FLAGS)")
        assert typ == "OK" and b"\\Seen" not in data[0], data
        typ, data = c.search(None, "BODY", "first")
        assert typ == "OK" and data == [b"1"], data
        typ, data = c.store("1", "+FLAGS", "(\\Flagged)")
        assert typ == "NO", data
        # Into a mailbox not shared with the owner: not TRYCREATE.
        m.select("INBOX")
        assert m.append("INBOX", None, None, b"Subject: own\r\n\r\nown\r\n")[0] == "OK"
        m.select("INBOX")
        for verb in ("COPY", "MOVE"):
            typ, text, _ = cmd(m, verb, "1", '"Shared/carol@example.test/INBOX"')
            assert typ == "NO" and b"[NONEXISTENT]" in text, (verb, text)

        # "s": read-write, \Seen only.
        assert cmd(m, "SETACL", "Team", CAROL, "lrs")[0] == "OK"
        c.is_readonly = False
        c.untagged_responses.clear()
        typ, data = c.select(shared)
        assert typ == "OK" and data == [b"1"], data
        perm = [x for x in c.untagged_responses.get("OK", []) if b"PERMANENTFLAGS" in x]
        assert perm == [b"[PERMANENTFLAGS (\\Seen)] Flags permitted."], perm
        typ, data = c.store("1", "+FLAGS", "(\\Seen \\Flagged)")
        assert typ == "OK" and b"\\Seen" in data[0] and b"\\Flagged" not in data[0], data
        typ, data = c.store("1", "+FLAGS", "(\\Flagged)")
        assert typ == "NO" and b"[NOPERM]" in data[0], data
        typ, data = c.store("1", "FLAGS", "(\\Seen)")
        assert typ == "NO" and b"[NOPERM]" in data[0], data
        typ, data = c.store("1", "-FLAGS", "(\\Seen)")
        assert typ == "OK", data
        typ, data = c.fetch("1", "(BODY[TEXT])")
        assert typ == "OK", data
        typ, data = c.fetch("1", "(FLAGS)")
        assert typ == "OK" and b"\\Seen" in data[0], data  # the implicit \Seen
        typ, data = c.expunge()
        assert typ == "NO" and b"[NOPERM]" in data[0], data
        c.literal = b"Subject: r\r\n\r\nr\r\n"  # REPLACE: needs "t" and "e" here
        typ, text, _ = cmd(c, "REPLACE", "1", "INBOX")
        assert typ == "NO" and b"[NOPERM]" in text, text
        # The owner sees it: flags are shared.
        m.select("Team")
        typ, data = m.fetch("1", "(FLAGS)")
        assert typ == "OK" and b"\\Seen" in data[0] and b"\\Flagged" not in data[0], data

        # The owner's delivery reaches the reader in IDLE.
        c.sock.settimeout(30)
        tag = c._new_tag()
        c.send(tag + b" IDLE\r\n")
        assert c.readline().startswith(b"+"), "no IDLE continuation"
        assert m.append("Team", None, None, b"Subject: two\r\n\r\nsecond\r\n")[0] == "OK"
        line = c.readline()
        assert line == b"* 2 EXISTS\r\n", line
        c.send(b"DONE\r\n")
        while not (line := c.readline()).startswith(tag):
            pass
        assert b"OK" in line, line
        typ, data = c.fetch("2", "(BODY.PEEK[TEXT])")
        assert typ == "OK" and data[0][1] == b"second\r\n", data
        c.logout()
        m.logout()


def _copyuid(text):
    """The (UIDVALIDITY, source UIDs, target UIDs) of a COPYUID code."""
    mm = re.search(rb"\[COPYUID (\d+) (\S+) (\S+)\]", text)
    assert mm, text
    return int(mm.group(1)), mm.group(2), mm.group(3)


def _uidvalidity(m, name):
    typ, data = m.status(name, "(UIDVALIDITY)")
    assert typ == "OK", data
    return int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))


def test_acl_copy_across_accounts():
    """COPY out of a shared mailbox into the user's own (a message of the
    user's, all flags kept, the user's quota charged, the owner's
    unchanged), into a shared one from the user's own ("i" needed: NOPERM
    without; only the flags "s", "w", "t" allow kept; the owner's quota
    charged and OVERQUOTA when full) and between two mailboxes of the
    same owner; COPYUID names the target's UIDVALIDITY and UIDs (RFC
    4315). MOVE out of a shared mailbox needs "t" and "e" (RFC 4314 §4); a
    MOVE between accounts is one commit (RFC 6851): refused whole over the
    target owner's quota, else the COPYUID, the source's EXPUNGE and the
    message in the target account, into a shared mailbox and out of one."""
    with Server(accounts=[(CAROL, CAROL_PW)], imap=True, start=False) as s:
        s.cli("account", "add", BOB, "--quota", "16384", input=BOB_PW + "\n")
        s.start()
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        assert m.create("Team")[0] == "OK" and m.create("Other")[0] == "OK"
        text = b"t" * 3500 + b"\r\n"
        body = b"Subject: team\r\n\r\n" + text

        def bobs_kib(n):  # bob's usage with n messages, as GETQUOTA shows it
            return [b'"User quota" (STORAGE %d 16)' % ((n * len(body) + 1023) // 1024)]

        assert m.append("Team", "(\\Seen \\Flagged $Label)", None, body)[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "lr")[0] == "OK"
        c = login(s, user=CAROL, pw=CAROL_PW)
        shared = '"Shared/bob@example.test/Team"'
        try:
            c.select(shared)
        except imaplib.IMAP4.readonly:
            c.is_readonly = True
        assert c.state == "SELECTED"

        # Out of it into carol's INBOX: carol's message, flags and all.
        typ, data = c.copy("1", "INBOX")
        assert typ == "OK", data
        assert _copyuid(data[0]) == (_uidvalidity(c, "INBOX"), b"1", b"1"), data
        c2 = login(s, user=CAROL, pw=CAROL_PW)
        c2.select("INBOX")
        typ, data = c2.fetch("1", "(FLAGS BODY.PEEK[TEXT])")
        assert typ == "OK" and data[0][1] == text, data
        flags = data[0][0]
        assert b"\\Seen" in flags and b"\\Flagged" in flags and b"$Label" in flags, flags
        assert m.getquota('"User quota"')[1] == bobs_kib(1)
        assert m.status("Team", "(MESSAGES)")[1] == [b"Team (MESSAGES 1)"]
        # A MOVE out of a read-only selection is refused.
        typ, no, _ = cmd(c, "MOVE", "1", "INBOX")
        assert typ == "NO" and b"[READ-ONLY]" in no, no

        # Into the shared mailbox from carol's INBOX: "i" needed.
        typ, data = c2.copy("1", shared)
        assert typ == "NO" and b"[NOPERM]" in data[0], data
        assert cmd(m, "SETACL", "Team", CAROL, "lris")[0] == "OK"
        typ, data = c2.copy("1", shared)
        assert typ == "OK", data
        assert _copyuid(data[0]) == (_uidvalidity(m, "Team"), b"1", b"2"), data
        m.select("Team")
        typ, data = m.fetch("2", "(FLAGS BODY.PEEK[TEXT])")
        assert typ == "OK" and data[0][1] == text, data
        assert b"\\Seen" in data[0][0] and b"\\Flagged" not in data[0][0] and \
            b"$Label" not in data[0][0], data
        assert m.getquota('"User quota"')[1] == bobs_kib(2)

        # Between two of bob's mailboxes (Other needs "i" too); a MOVE
        # out of Team needs "t" and "e" besides.
        assert cmd(m, "SETACL", "Other", CAROL, "lri")[0] == "OK"
        c.is_readonly = False
        typ, _ = c.select(shared)
        assert typ == "OK"
        typ, no, _ = cmd(c, "MOVE", "1", '"Shared/bob@example.test/Other"')
        assert typ == "NO" and b"[NOPERM]" in no, no
        typ, data = c.copy("1:2", '"Shared/bob@example.test/Other"')
        assert typ == "OK", data
        assert _copyuid(data[0]) == (_uidvalidity(m, "Other"), b"1:2", b"1:2"), data
        m.select("Other")
        typ, data = m.fetch("1:2", "(FLAGS)")
        assert typ == "OK" and all(b"\\Seen" not in x and b"\\Flagged" not in x
                                   for x in data), data

        assert m.getquota('"User quota"')[1] == bobs_kib(4)

        # Bob's quota full: OVERQUOTA, nothing copied, nothing moved.
        typ, data = c2.copy("1", shared)
        assert typ == "NO" and b"[OVERQUOTA]" in data[0], data
        typ, no, _ = cmd(c2, "MOVE", "1", shared)
        assert typ == "NO" and b"[OVERQUOTA]" in no, no
        assert m.status("Team", "(MESSAGES)")[1] == [b"Team (MESSAGES 2)"]
        assert c2.status("INBOX", "(MESSAGES)")[1] == [b"INBOX (MESSAGES 1)"]
        assert m.getquota('"User quota"')[1] == bobs_kib(4)

        # Room again: carol's MOVE into Team.
        m.select("Other")
        m.store("1:2", "+FLAGS.SILENT", "(\\Deleted)")
        assert m.expunge()[0] == "OK"
        c2.untagged_responses.clear()
        typ, no, _ = cmd(c2, "MOVE", "1", shared)
        assert typ == "OK", no
        oks = c2.untagged_responses.get("OK", [])
        assert len(oks) == 1 and _copyuid(oks[0]) == (_uidvalidity(m, "Team"), b"1", b"3"), oks
        assert c2.untagged_responses.get("EXPUNGE") == [b"1"], c2.untagged_responses
        assert m.status("Team", "(MESSAGES)")[1] == [b"Team (MESSAGES 3)"]
        assert c2.status("INBOX", "(MESSAGES)")[1] == [b"INBOX (MESSAGES 0)"]
        assert m.getquota('"User quota"')[1] == bobs_kib(3)

        # And out of it, with "t" and "e": the message is carol's again.
        assert cmd(m, "SETACL", "Team", CAROL, "lriste")[0] == "OK"
        assert c.select(shared)[0] == "OK"
        c.untagged_responses.clear()
        typ, no, _ = cmd(c, "UID", "MOVE", "3", "INBOX")
        assert typ == "OK", no
        oks = c.untagged_responses.get("OK", [])
        assert len(oks) == 1 and _copyuid(oks[0]) == (_uidvalidity(c2, "INBOX"), b"3", b"2"), oks
        assert c.untagged_responses.get("EXPUNGE") == [b"3"], c.untagged_responses
        assert m.status("Team", "(MESSAGES)")[1] == [b"Team (MESSAGES 2)"]
        assert m.getquota('"User quota"')[1] == bobs_kib(2)
        c2.select("INBOX")
        typ, data = c2.fetch("1", "(BODY.PEEK[TEXT])")
        assert typ == "OK" and data[0][1] == text, data
        c2.logout()
        c.logout()
        m.logout()


def _names(data):
    """LIST/LSUB answers as {name: attributes}."""
    out = {}
    for line in data:
        mm = re.match(rb'\(([^)]*)\) "/" (.*)$', line)
        assert mm, line
        name = mm.group(2)
        if name.startswith(b'"'):
            name = name[1:-1]
        out[name.decode()] = mm.group(1).decode()
    return out


def test_acl_list_other_users_namespace():
    """LIST shows a shared mailbox only with "l", under Shared/OWNER/, the
    levels above it \\Noselect \\HasChildren (RFC 9051 §6.3.9 with "*" and
    "%"); SUBSCRIBE and LSUB work for shared names; LIST-STATUS gives a
    shared mailbox's STATUS only with "r"."""
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        for name in ("Team", "Team/Support", "Private", "Hidden"):
            assert m.create(name)[0] == "OK"
        assert m.append("Team/Support", None, None, b"Subject: s\r\n\r\nx\r\n")[0] == "OK"
        assert cmd(m, "SETACL", "Team/Support", CAROL, "lr")[0] == "OK"
        assert cmd(m, "SETACL", "INBOX", "anyone", "l")[0] == "OK"
        assert cmd(m, "SETACL", "Hidden", CAROL, "r")[0] == "OK"  # no "l": not listed
        c = login(s, user=CAROL, pw=CAROL_PW)
        typ, data = c.list('""', "*")
        got = _names(data)
        assert typ == "OK", data
        assert got["Shared"] == "\\Noselect \\HasChildren", got
        assert got["Shared/bob@example.test"] == "\\Noselect \\HasChildren", got
        assert got["Shared/bob@example.test/Team"] == "\\Noselect \\HasChildren", got
        assert got["Shared/bob@example.test/Team/Support"] == "\\HasNoChildren", got
        assert got["Shared/bob@example.test/INBOX"] == "\\HasNoChildren", got
        assert not any("Private" in n or "Hidden" in n for n in got), got
        assert "INBOX" in got and "Sent" in got, got  # her own, as ever
        # "%" stops at each level.
        typ, data = c.list('""', "%")
        got = _names(data)
        assert got["Shared"] == "\\Noselect \\HasChildren" and "INBOX" in got, got
        assert not any(n.startswith("Shared/") for n in got), got
        typ, data = c.list('""', "Shared/%")
        assert _names(data) == {"Shared/bob@example.test": "\\Noselect \\HasChildren"}, data
        typ, data = c.list("Shared/bob@example.test/", "%")
        assert _names(data) == {"Shared/bob@example.test/INBOX": "\\HasNoChildren",
                                "Shared/bob@example.test/Team": "\\Noselect \\HasChildren"}, data
        # Subscriptions are names: a shared one is listed as subscribed.
        shared = '"Shared/bob@example.test/Team/Support"'
        assert c.subscribe(shared)[0] == "OK"
        typ, data = c.lsub('""', "Shared/*")
        assert _names(data) == {"Shared/bob@example.test/Team/Support": ""}, data
        typ, data = c.list('(SUBSCRIBED) ""', "Shared/*")
        assert _names(data) == {"Shared/bob@example.test/Team/Support":
                                "\\HasNoChildren \\Subscribed"}, data
        # LIST-STATUS: STATUS only where "r" is held.
        c.untagged_responses.pop("STATUS", None)
        typ, data = c.list('""', "Shared/* RETURN (STATUS (MESSAGES))")
        assert typ == "OK" and len(data) == 4, data
        st = c.untagged_responses.pop("STATUS", [])
        assert st == [b"Shared/bob@example.test/Team/Support (MESSAGES 1)"], st
        c.logout()
        m.logout()


def test_acl_append_into_shared():
    """APPEND into a shared mailbox needs "i"; the message is the owner's
    (its quota charged, not the writer's; GETQUOTA shows it) and the
    owner's IDLE on the mailbox sees it; flags the writer may not set are
    left out; nothing granted is NONEXISTENT (not TRYCREATE)."""
    with Server(accounts=[(CAROL, CAROL_PW)], imap=True, start=False) as s:
        s.cli("account", "add", BOB, "--quota", "1048576", input=BOB_PW + "\n")
        s.start()
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        assert m.create("Team")[0] == "OK"
        c = login(s, user=CAROL, pw=CAROL_PW)
        shared = '"Shared/bob@example.test/Team"'
        msg = b"Subject: from carol\r\n\r\n" + b"z" * 4000 + b"\r\n"
        typ, data = c.append(shared, None, None, msg)
        assert typ == "NO" and b"[NONEXISTENT]" in data[0] and b"TRYCREATE" not in data[0], data
        assert cmd(m, "SETACL", "Team", CAROL, "lr")[0] == "OK"
        typ, data = c.append(shared, None, None, msg)
        assert typ == "NO" and b"[NOPERM]" in data[0], data
        assert cmd(m, "SETACL", "Team", CAROL, "lris")[0] == "OK"
        before = m.getquota('"User quota"')[1]
        m.select("Team")
        m.sock.settimeout(30)
        tag = m._new_tag()
        m.send(tag + b" IDLE\r\n")
        assert m.readline().startswith(b"+"), "no IDLE continuation"
        typ, data = c.append(shared, "(\\Seen \\Flagged)", None, msg)
        assert typ == "OK" and b"APPENDUID" in data[0], data
        line = m.readline()
        assert line == b"* 1 EXISTS\r\n", line
        m.send(b"DONE\r\n")
        while not (line := m.readline()).startswith(tag):
            pass
        typ, data = m.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK" and b"\\Seen" in data[0][0] and b"\\Flagged" not in data[0][0], data
        assert b"from carol" in data[0][1], data
        kib = (len(msg) + 1023) // 1024
        assert before == [b'"User quota" (STORAGE 0 1024)'], before
        after = m.getquota('"User quota"')[1]
        assert after == [b'"User quota" (STORAGE %d 1024)' % kib], after
        assert c.status("INBOX", "(MESSAGES)")[1] == [b"INBOX (MESSAGES 0)"]
        # RFC 9208 on the shared mailbox names the owner's root.
        typ, data = c.getquotaroot(shared)
        assert typ == "OK" and data == [[b'Shared/bob@example.test/Team "Shared/bob@example.test"'],
                                        [b'"Shared/bob@example.test" (STORAGE %d 1024)' % kib]], data
        typ, data = c.getquota('"Shared/bob@example.test"')
        assert typ == "OK" and data == [b'"Shared/bob@example.test" (STORAGE %d 1024)' % kib], data
        for root in ('"Shared/zed@example.test"', '"Shared/carol@example.test"', '"Shared/"'):
            typ, data = c.getquota(root)
            assert typ == "NO" and b"[NONEXISTENT]" in data[0], (root, data)
        typ, data = m.getquota('"Shared/carol@example.test"')  # carol shares nothing with bob
        assert typ == "NO" and b"[NONEXISTENT]" in data[0], data
        c.logout()
        m.logout()


def test_acl_append_quota_before_continuation():
    """An APPEND's literal into a shared mailbox is weighed against the
    owner's quota before "+" (RFC 9208 §4.3, RFC 7888: no message sent
    for nothing), not the writer's: over the owner's, NO [OVERQUOTA] in
    place of "+"; over the writer's alone, "+" and the message stored."""
    with Server(imap=True, start=False) as s:
        s.cli("account", "add", BOB, "--quota", "4096", input=BOB_PW + "\n")
        s.cli("account", "add", CAROL, "--quota", "1024", input=CAROL_PW + "\n")
        s.start()
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        assert m.create("Team")[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "lri")[0] == "OK"
        c = login(s, user=CAROL, pw=CAROL_PW)
        c.sock.settimeout(30)
        for size, over in ((5000, True), (2000, False)):
            c.send(b'a%d APPEND "Shared/bob@example.test/Team" {%d}\r\n' % (size, size))
            line = c.readline()
            if over:
                assert line.startswith(b"a%d NO [OVERQUOTA]" % size), line
                continue
            assert line.startswith(b"+"), line
            c.send(b"Subject: q\r\n\r\n" + b"q" * (size - 16) + b"\r\n" + b"\r\n")  # the literal, the line end
            line = c.readline()
            assert line.startswith(b"a%d OK [APPENDUID" % size), line
        assert m.status("Team", "(MESSAGES)")[1] == [b"Team (MESSAGES 1)"]
        c.logout()
        m.logout()


def _mbsync_shared_conf(s, tmp):
    """An mbsyncrc in tmp with carol syncing bob's shared Team (over IMAPS)
    with the Maildir tmp/mail/team. Returns (file, that Maildir)."""
    cert = os.path.join(s.data, "tls", "self-signed.crt")
    maildir = os.path.join(tmp, "mail") + "/"
    os.makedirs(maildir)
    conf = os.path.join(tmp, "mbsyncrc")
    with open(conf, "w") as f:
        f.write("""IMAPAccount tern
Host localhost
Port %d
User %s
Pass %s
SSLType IMAPS
CertificateFile %s

IMAPStore far
Account tern

MaildirStore near
Path %s
Inbox %sINBOX

Channel team
Far :far:"Shared/bob@example.test/Team"
Near :near:team
Sync All
Create Near
SyncState *
""" % (s.imaps_port, CAROL, CAROL_PW, cert, maildir, maildir))
    return conf, os.path.join(maildir, "team")


def test_acl_mbsync_reads_and_flags_a_shared_mailbox():
    """A real client: mbsync (isync) with a channel on the shared name
    brings bob's Team down to carol's Maildir, and the flags carol sets
    there ("lrsw": \\Seen and \\Flagged) reach bob's mailbox."""
    if not shutil.which("mbsync"):
        return "skip"
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True,
                env={"TERN_HOSTNAME": "localhost"}) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        assert m.create("Team")[0] == "OK"
        for i in range(3):
            assert m.append("Team", None, None, b"Subject: team %d\r\n\r\nbody %d\r\n" % (i, i))[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "lrsw")[0] == "OK"
        tmp = tempfile.mkdtemp(prefix="tern-acl-mbsync-")
        try:
            conf, near = _mbsync_shared_conf(s, tmp)

            def run():
                r = subprocess.run(["mbsync", "-c", conf, "-a"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=120,
                                   env={"HOME": tmp, "PATH": "/usr/bin:/bin"})
                out = r.stdout.decode(errors="replace")
                assert r.returncode == 0, out
                return out

            run()
            files = {}
            for sub in ("new", "cur"):
                for n in os.listdir(os.path.join(near, sub)):
                    with open(os.path.join(near, sub, n), "rb") as fh:
                        # mbsync stores the lines with LF ends
                        subj = fh.read().split(b"Subject: ", 1)[1].split(b"\n", 1)[0]
                    files[subj.rstrip(b"\r").decode()] = os.path.join(near, sub, n)
            assert sorted(files) == ["team 0", "team 1", "team 2"], files
            # Carol flags "team 1" and reads "team 2" in her Maildir.
            for subj, flag in (("team 1", "F"), ("team 2", "S")):
                p = files[subj]
                base = os.path.basename(p).split(":2,", 1)[0]
                os.rename(p, os.path.join(near, "cur", base + ":2," + flag))
            run()
            m.select("Team", readonly=True)
            typ, data = m.fetch("1:3", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            got = {}
            for d in data:
                if isinstance(d, tuple):
                    subj = d[1].split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
                    got[subj] = set(d[0].split(b"FLAGS (", 1)[1].split(b")", 1)[0].decode().split())
            assert got == {"team 0": set(), "team 1": {"\\Flagged"}, "team 2": {"\\Seen"}}, got
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        m.logout()


def test_acl_rights_change_applies_to_next_command():
    """Rights are read again before each command on a selected shared
    mailbox (as Dovecot does; RFC 4314 leaves it open): a grant of "w"
    while the reader has it selected is told as PERMANENTFLAGS at the
    next command and lets STORE set \\Flagged; taking "s" and "w" away
    makes it read-only (PERMANENTFLAGS (), STORE refused); taking "r"
    away ends the session with BYE before the command reads anything."""
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        assert m.create("Team")[0] == "OK"
        assert m.append("Team", None, None, b"Subject: one\r\n\r\nsecret\r\n")[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "lrs")[0] == "OK"
        c = login(s, user=CAROL, pw=CAROL_PW)
        c.sock.settimeout(30)
        shared = '"Shared/bob@example.test/Team"'
        assert c.select(shared)[0] == "OK"
        typ, data = c.store("1", "+FLAGS", "(\\Flagged)")
        assert typ == "NO" and b"[NOPERM]" in data[0], data

        def perm():
            return [x for x in c.untagged_responses.pop("OK", []) if b"PERMANENTFLAGS" in x]

        assert cmd(m, "SETACL", "Team", CAROL, "+w")[0] == "OK"
        c.untagged_responses.clear()
        assert c.noop()[0] == "OK"
        p = perm()
        assert len(p) == 1 and b"\\Flagged" in p[0] and b"\\Seen" in p[0] and \
            b"\\Deleted" not in p[0], p
        typ, data = c.store("1", "+FLAGS", "(\\Flagged)")
        assert typ == "OK" and b"\\Flagged" in data[0], data

        assert cmd(m, "SETACL", "Team", CAROL, "lr")[0] == "OK"
        c.untagged_responses.clear()
        typ, data = c.store("1", "+FLAGS", "(\\Seen)")
        assert typ == "NO", data
        assert perm() == [b"[PERMANENTFLAGS ()] Read-only mailbox."], c.untagged_responses
        c.is_readonly = True  # imaplib stops on the READ-ONLY code otherwise
        m.select("Team")
        typ, data = m.fetch("1", "(FLAGS)")
        assert typ == "OK" and b"\\Seen" not in data[0], data

        assert cmd(m, "SETACL", "Team", CAROL, "l")[0] == "OK"
        try:
            typ, data = c.fetch("1", "(BODY.PEEK[TEXT])")
            bye = c.untagged_responses.get("BYE", [])
            assert typ != "OK" or not any(b"secret" in x[1] for x in data
                                          if isinstance(x, tuple)), data
        except imaplib.IMAP4.abort as e:
            bye = [str(e).encode()]
        assert any(b"revoked" in x for x in bye), bye
        assert s.wait_log("event=selected_mailbox_revoked", timeout=60)
        m.logout()


def test_acl_idle_revoked_ends_session():
    """A reader idling in a shared mailbox whose grant the owner takes
    away (DELETEACL) is told BYE when the owner's change feed next wakes
    it, as between commands (imap_select_rights_check): the owner's new
    message is not pushed as EXISTS to a session without "r" any more. A
    change of other rights while idling applies too: it is told as
    FLAGS and PERMANENTFLAGS before the EXISTS."""
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        assert m.create("Team")[0] == "OK"
        assert m.append("Team", None, None, b"Subject: one\r\n\r\nsecret\r\n")[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "lrs")[0] == "OK"
        c = login(s, user=CAROL, pw=CAROL_PW)
        c.sock.settimeout(30)
        assert c.select('"Shared/bob@example.test/Team"')[0] == "OK"

        # Rights changed, "r" kept: the new PERMANENTFLAGS, then EXISTS.
        tag = c._new_tag()
        c.send(tag + b" IDLE\r\n")
        assert c.readline().startswith(b"+"), "no IDLE continuation"
        assert cmd(m, "SETACL", "Team", CAROL, "+w")[0] == "OK"
        assert m.append("Team", None, None, b"Subject: two\r\n\r\nsecond\r\n")[0] == "OK"
        lines = []
        while not (line := c.readline()).startswith(b"* 2 EXISTS"):
            assert line, lines
            lines.append(line)
        perm = [x for x in lines if b"PERMANENTFLAGS" in x]
        assert len(perm) == 1 and b"\\Flagged" in perm[0], lines
        c.send(b"DONE\r\n")
        while not (line := c.readline()).startswith(tag):
            assert line, "connection closed before IDLE ended"
        assert b"OK" in line, line

        # "r" taken away while idling: BYE, and nothing of the new message.
        tag = c._new_tag()
        c.send(tag + b" IDLE\r\n")
        assert c.readline().startswith(b"+"), "no IDLE continuation"
        assert cmd(m, "DELETEACL", "Team", CAROL)[0] == "OK"
        assert m.append("Team", None, None, b"Subject: three\r\n\r\nthird\r\n")[0] == "OK"
        rest = []
        while line := c.readline():
            rest.append(line)
            if b"EXISTS" in line:  # pushed without "r": no need to wait for more
                break
        assert rest and rest[0].startswith(b"* BYE") and b"revoked" in rest[0], rest
        assert not any(b"EXISTS" in x or b"FETCH" in x for x in rest), rest
        assert s.wait_log("event=selected_mailbox_revoked", timeout=60)
        m.logout()


def test_acl_shared_names_elsewhere_answer_cleanly():
    """URLAUTH and CATENATE URLs do not take shared names yet: a shared
    name is answered as a mailbox that is not there (BADURL, NO) and the
    owner's mailbox does not change; no own mailbox can take such a name
    (the store refuses it), so nothing acts on one of the user's own.
    (METADATA takes them: test_acl_metadata_on_shared_mailbox; NOTIFY
    too: the owner's new message is told, here at the NOOP, and
    test_acl_notify_shared_mailboxes.)"""
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        assert m.create("Team")[0] == "OK"
        assert m.append("Team", None, None, b"Subject: t\r\n\r\nteam\r\n")[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "lrswipkxtea")[0] == "OK"
        c = login(s, user=CAROL, pw=CAROL_PW)
        shared = '"Shared/bob@example.test/Team"'
        url = "imap://carol@example.test@localhost/Shared%2Fbob%40example.test%2FTeam/;UID=1"
        typ, text, _ = cmd(c, "GENURLAUTH", '"%s;urlauth=user+carol@example.test" INTERNAL' % url)
        assert typ == "NO", text
        c.literal = None
        typ, text, _ = cmd(c, "APPEND", "INBOX", 'CATENATE (URL "/%s/;UID=1")'
                           % "Shared%2Fbob%40example.test%2FTeam")
        assert typ == "NO" and b"[BADURL" in text, text
        assert c.status("INBOX", "(MESSAGES)")[1] == [b"INBOX (MESSAGES 0)"]
        typ, text, _ = cmd(c, "NOTIFY", "SET", "(MAILBOXES %s (MessageNew MessageExpunge))"
                           % shared)
        assert typ == "OK", text
        c.untagged_responses.clear()
        assert m.append("Team", None, None, b"Subject: t2\r\n\r\nteam\r\n")[0] == "OK"
        assert c.noop()[0] == "OK"
        status = c.untagged_responses.get("STATUS", [])
        assert len(status) == 1 and re.match(rb'"?Shared/bob@example\.test/Team"? \(MESSAGES 2 ',
                                             status[0]), c.untagged_responses
        assert m.status("Team", "(MESSAGES)")[1] == [b"Team (MESSAGES 2)"]
        c.logout()
        m.logout()


def _notify_session(s):
    """carol on a raw connection, reading what NOTIFY sends unasked."""
    r = Raw(s)
    r.sock.settimeout(60)
    r.login(CAROL, CAROL_PW)
    return r


def _next_status(r, seen, prefix=b"* STATUS "):
    """Lines up to the next one starting with prefix (returned; the
    others into seen)."""
    while not (line := r.line()).startswith(prefix):
        seen.append(line)
    return line


def test_acl_notify_shared_mailboxes():
    """NOTIFY (RFC 5465) with the other users' namespace: MAILBOXES and
    SUBTREE naming shared mailboxes watch the owner's mailboxes the user
    may look up ("l"), told as they change through the owner's change
    feed; their STATUS only with "r" (RFC 5465 §5: nothing of a mailbox
    the client cannot access). INBOXES, SUBSCRIBED and PERSONAL are the
    user's own mailboxes only (RFC 5465 §6), even when the owner's INBOX
    is shared. MailboxMetadataChange names the owner's entry (with "lr";
    not with "l" alone). The rights are read again at each event: "r"
    taken away stops the STATUS, the grant taken away makes the mailbox
    \\NonExistent to MailboxName. SUBTREE "Shared" is every owner's; a
    selected shared mailbox gets EXISTS (SELECTED), not STATUS."""
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        for name in ("Team", "Other", "Secret"):
            assert m.create(name)[0] == "OK"
        assert m.append("Team", None, None, b"Subject: 1\r\n\r\nx\r\n")[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "lr")[0] == "OK"
        assert cmd(m, "SETACL", "Other", CAROL, "l")[0] == "OK"
        assert cmd(m, "SETACL", "INBOX", CAROL, "lr")[0] == "OK"
        team = rb'\* STATUS "?Shared/bob@example\.test/Team"? \(MESSAGES %d UIDNEXT %d '
        r = _notify_session(s)

        # Own filters and one shared name: the STATUS at once names the
        # user's mailboxes and Team, not bob's shared INBOX.
        u, t = cmd_raw(r, "n", "NOTIFY SET STATUS (INBOXES (MessageNew MessageExpunge)) "
                       "(SUBSCRIBED (MessageNew MessageExpunge)) (PERSONAL (MessageNew "
                       'MessageExpunge)) (MAILBOXES "Shared/bob@example.test/Team" '
                       "(MessageNew MessageExpunge))")
        assert t == b"n OK NOTIFY completed.", t
        shared = [x for x in u if b"Shared/" in x]
        assert len(shared) == 1 and re.match(team % (1, 2), shared[0]), u
        assert any(x.startswith(b"* STATUS INBOX ") for x in u), u
        # bob's INBOX changes, then Team: only Team is told, unasked.
        assert m.append("INBOX", None, None, b"Subject: i\r\n\r\nx\r\n")[0] == "OK"
        assert m.append("Team", None, None, b"Subject: 2\r\n\r\nx\r\n")[0] == "OK"
        seen = []
        line = _next_status(r, seen)
        assert re.match(team % (2, 3), line) and not seen, (line, seen)

        # The owner's subtree: "l" alone shows no STATUS, "lr" does.
        u, t = cmd_raw(r, "n", 'NOTIFY SET (SUBTREE "Shared/bob@example.test" (MessageNew '
                       "MessageExpunge MailboxName MailboxMetadataChange))")
        assert t == b"n OK NOTIFY completed." and not u, (u, t)
        assert m.append("Other", None, None, b"Subject: o\r\n\r\nx\r\n")[0] == "OK"
        assert m.append("Team", None, None, b"Subject: 3\r\n\r\nx\r\n")[0] == "OK"
        line = _next_status(r, seen)
        assert re.match(team % (3, 4), line) and not seen, (line, seen)
        assert m.append("INBOX", None, None, b"Subject: i\r\n\r\nx\r\n")[0] == "OK"
        line = _next_status(r, seen)
        assert re.match(rb'\* STATUS "?Shared/bob@example\.test/INBOX"? \(MESSAGES 2 ', line), \
            (line, seen)
        assert not seen, seen
        # Metadata: Other's ("l" only) is not told, Team's is.
        assert cmd(m, "SETMETADATA", "Other", '(/shared/comment "o")')[0] == "OK"
        assert cmd(m, "SETMETADATA", "Team", '(/shared/comment "t")')[0] == "OK"
        line = _next_status(r, seen, b"* METADATA ")
        assert re.fullmatch(rb'\* METADATA "?Shared/bob@example\.test/Team"? '
                            rb'"?/shared/comment"?', line) and not seen, (line, seen)

        # "r" taken away: Team's changes are no longer told.
        assert cmd(m, "SETACL", "Team", CAROL, "l")[0] == "OK"
        assert m.append("Team", None, None, b"Subject: 4\r\n\r\nx\r\n")[0] == "OK"
        assert m.append("INBOX", None, None, b"Subject: i\r\n\r\nx\r\n")[0] == "OK"
        line = _next_status(r, seen)
        assert b"/INBOX" in line and b"MESSAGES 3 " in line and not seen, (line, seen)
        # The grant taken away: Team is gone for carol (MailboxName).
        assert cmd(m, "DELETEACL", "Team", CAROL)[0] == "OK"
        assert m.append("INBOX", None, None, b"Subject: i\r\n\r\nx\r\n")[0] == "OK"
        lines = []
        while not (any(b"/INBOX" in x for x in lines) and any(b"NonExistent" in x for x in lines)):
            lines.append(r.line())
        assert not any(b"STATUS" in x and b"Team" in x for x in lines), lines
        gone = [x for x in lines if b"NonExistent" in x]
        assert len(gone) == 1 and re.fullmatch(
            rb'\* LIST \(\\NonExistent\) "/" "?Shared/bob@example\.test/Team"?', gone[0]), lines

        # Every owner's subtree, and bob's INBOX selected: its news as
        # EXISTS, a newly granted mailbox's as STATUS.
        cmd_raw(r, "x", 'EXAMINE "Shared/bob@example.test/INBOX"')
        u, t = cmd_raw(r, "n", "NOTIFY SET (SELECTED (MessageNew MessageExpunge)) "
                       "(SUBTREE Shared (MessageNew MessageExpunge))")
        assert t == b"n OK NOTIFY completed.", t
        assert cmd(m, "SETACL", "Secret", CAROL, "lr")[0] == "OK"
        assert m.append("INBOX", None, None, b"Subject: i\r\n\r\nx\r\n")[0] == "OK"
        assert m.append("Secret", None, None, b"Subject: s\r\n\r\nx\r\n")[0] == "OK"
        seen = []
        line = _next_status(r, seen)
        assert re.match(rb'\* STATUS "?Shared/bob@example\.test/Secret"? \(MESSAGES 1 ', line), \
            (line, seen)
        assert b"* 5 EXISTS" in seen and not any(b"STATUS" in x for x in seen), seen
        cmd_raw(r, "z", "LOGOUT")
        r.close()
        m.logout()


def test_acl_metadata_on_shared_mailbox():
    """GETMETADATA and SETMETADATA (RFC 5464) on a shared mailbox need "l"
    and one of "r", "s", "w", "i", "p" (RFC 5464's ACL rule): without
    "l" the mailbox is NONEXISTENT, with "l" alone NOPERM. Its /shared
    entries are the owner's, seen by both and set by the user with "w"
    too; /private entries are
    each user's own (RFC 5464 §3.2): neither sees the other's, and the
    user's own mailbox of the same id holds none of them."""
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        assert m.create("Team")[0] == "OK"
        typ, text, _ = cmd(m, "SETMETADATA", "Team",
                           '(/private/comment "bob\'s" /shared/comment "team")')
        assert typ == "OK", text
        c = login(s, user=CAROL, pw=CAROL_PW)
        assert c.create("Mine")[0] == "OK"
        ids = [re.search(rb"MAILBOXID \((\w+)\)", x.status(n, "(MAILBOXID)")[1][0]).group(1)
               for x, n in ((m, "Team"), (c, "Mine"))]
        assert ids[0] == ids[1], ids  # the same id in each account
        shared = '"Shared/bob@example.test/Team"'
        both = "(/private/comment /shared/comment)"
        for rights, code in (("", b"[NONEXISTENT]"), ("r", b"[NONEXISTENT]"),
                             ("l", b"[NOPERM]"), ("lkxtea", b"[NOPERM]")):
            if rights:
                assert cmd(m, "SETACL", "Team", CAROL, rights)[0] == "OK"
            for verb, args in (("GETMETADATA", both),
                               ("SETMETADATA", '(/private/comment "x")')):
                typ, text, _ = cmd(c, verb, shared, args)
                assert typ == "NO" and code in text, (rights, verb, text)
        assert cmd(m, "SETACL", "Team", CAROL, "lr")[0] == "OK"
        typ, text, lines = cmd(c, "GETMETADATA", shared, both)
        assert typ == "OK" and lines == [b'Shared/bob@example.test/Team '
                                         b'(/private/comment NIL /shared/comment "team")'], lines
        # Reading is not writing what Bob and every grantee read: a
        # /shared entry takes "w" as well.
        typ, text, _ = cmd(c, "SETMETADATA", shared, '(/shared/comment "ours")')
        assert typ == "NO" and b"[NOPERM]" in text, text
        assert cmd(m, "SETACL", "Team", CAROL, "lrw")[0] == "OK"
        typ, text, _ = cmd(c, "SETMETADATA", shared,
                           '(/private/comment "carol\'s" /shared/comment "ours")')
        assert typ == "OK", text
        typ, text, lines = cmd(c, "GETMETADATA", shared, both)
        assert lines == [b'Shared/bob@example.test/Team '
                         b'(/private/comment "carol\'s" /shared/comment "ours")'], lines
        typ, text, lines = cmd(m, "GETMETADATA", "(DEPTH infinity)", "Team", "/private")
        assert lines == [b'Team (/private/comment "bob\'s")'], lines
        typ, text, lines = cmd(m, "GETMETADATA", "Team", "/shared/comment")
        assert lines == [b'Team (/shared/comment "ours")'], lines
        typ, text, lines = cmd(c, "GETMETADATA", "(DEPTH infinity)", "Mine", "/private")
        assert typ == "OK" and lines == [], lines
        # Her NIL takes hers away, not his; "i" alone is enough as well.
        assert cmd(m, "SETACL", "Team", CAROL, "li")[0] == "OK"
        typ, text, _ = cmd(c, "SETMETADATA", shared, "(/private/comment NIL)")
        assert typ == "OK", text
        typ, text, lines = cmd(c, "GETMETADATA", shared, "/private/comment")
        assert lines == [b"Shared/bob@example.test/Team (/private/comment NIL)"], lines
        typ, text, lines = cmd(m, "GETMETADATA", "Team", "/private/comment")
        assert lines == [b'Team (/private/comment "bob\'s")'], lines
        c.logout()
        m.logout()


def test_acl_replace_across_accounts():
    """REPLACE (RFC 8508) out of a shared mailbox into the user's own, and
    from the user's own into a shared one: one commit that stores the new
    message in the target's account and expunges the old one in the
    other (APPENDUID of the target, EXPUNGE in the selected mailbox);
    out of a shared mailbox it needs "t" and "e" (NOPERM, nothing stored,
    without them)."""
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        assert m.create("Team")[0] == "OK"
        assert m.append("Team", None, None, b"Subject: old\r\n\r\nold\r\n")[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "lrsi")[0] == "OK"
        c = login(s, user=CAROL, pw=CAROL_PW)
        shared = '"Shared/bob@example.test/Team"'
        assert c.select(shared)[0] == "OK"
        c.literal = b"Subject: new\r\n\r\nnew\r\n"
        typ, text, _ = cmd(c, "REPLACE", "1", "INBOX")
        assert typ == "NO" and b"[NOPERM]" in text, text
        assert c.status("INBOX", "(MESSAGES)")[1] == [b"INBOX (MESSAGES 0)"]

        # Out of bob's Team into carol's INBOX.
        assert cmd(m, "SETACL", "Team", CAROL, "lriste")[0] == "OK"
        assert c.select(shared)[0] == "OK"
        c.untagged_responses.clear()
        c.literal = b"Subject: new\r\n\r\nnew\r\n"
        typ, text, _ = cmd(c, "REPLACE", "1", "INBOX")
        assert typ == "OK", text
        oks = c.untagged_responses.get("OK", [])
        assert any(b"[APPENDUID %d 1]" % _uidvalidity(c, "INBOX") in x for x in oks), oks
        assert c.untagged_responses.get("EXPUNGE") == [b"1"], c.untagged_responses
        assert m.status("Team", "(MESSAGES)")[1] == [b"Team (MESSAGES 0)"]
        c2 = login(s, user=CAROL, pw=CAROL_PW)
        c2.select("INBOX")
        typ, data = c2.fetch("1", "(BODY.PEEK[TEXT])")
        assert typ == "OK" and data[0][1] == b"new\r\n", data

        # From carol's INBOX into bob's Team.
        c2.untagged_responses.clear()
        c2.literal = b"Subject: newer\r\n\r\nnewer\r\n"
        typ, text, _ = cmd(c2, "REPLACE", "1", shared)
        assert typ == "OK", text
        oks = c2.untagged_responses.get("OK", [])
        assert any(b"[APPENDUID %d 2]" % _uidvalidity(m, "Team") in x for x in oks), oks
        assert c2.untagged_responses.get("EXPUNGE") == [b"1"], c2.untagged_responses
        assert c2.status("INBOX", "(MESSAGES)")[1] == [b"INBOX (MESSAGES 0)"]
        m.select("Team")
        typ, data = m.fetch("1", "(UID BODY.PEEK[TEXT])")
        assert typ == "OK" and b"UID 2" in data[0][0] and data[0][1] == b"newer\r\n", data
        c2.logout()
        c.logout()
        m.logout()


def test_acl_owner_deletes_or_revokes():
    """The owner deletes a mailbox a reader has selected: the reader's next
    NOOP says BYE as for its own mailbox deleted; the grants went with the
    mailbox (a new one of the same name is not shared). Revoking the
    grant: the name is then NONEXISTENT to the reader."""
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        assert m.create("Team")[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "lr")[0] == "OK"
        c = login(s, user=CAROL, pw=CAROL_PW)
        shared = '"Shared/bob@example.test/Team"'
        try:
            c.select(shared)
        except imaplib.IMAP4.readonly:
            c.is_readonly = True
        assert c.state == "SELECTED"
        assert m.delete("Team")[0] == "OK"
        c.sock.settimeout(30)
        try:
            typ, data = c.noop()
            bye = c.untagged_responses.get("BYE", [])
        except imaplib.IMAP4.abort as e:
            bye = [str(e).encode()]
        assert any(b"deleted" in x for x in bye), bye
        assert m.create("Team")[0] == "OK"
        c2 = login(s, user=CAROL, pw=CAROL_PW)
        typ, data = c2.status(shared, "(MESSAGES)")
        assert typ == "NO" and b"[NONEXISTENT]" in data[0], data
        assert cmd(m, "SETACL", "Team", CAROL, "lr")[0] == "OK"
        assert c2.status(shared, "(MESSAGES)")[0] == "OK"
        assert cmd(m, "DELETEACL", "Team", CAROL)[0] == "OK"
        typ, data = c2.status(shared, "(MESSAGES)")
        assert typ == "NO" and b"[NONEXISTENT]" in data[0], data
        c2.logout()
        m.logout()


def _idle(r, tag):
    r.send(tag + " IDLE\r\n")
    line = r.line()
    assert line.startswith(b"+"), line


def test_acl_grant_change_told_at_once():
    """A grant change is told on the change feed when it commits, with no
    other change after it: a NOTIFY session watching the shared subtree
    gets LIST for a mailbox granted to it (through its own feed: it
    follows no feed of that owner yet) and LIST \\NonExistent for one
    taken away (through the owner's); a reader idling in the shared
    mailbox gets its new FLAGS and PERMANENTFLAGS at SETACL, its BYE at
    `tern acl del` (another process; the REST API and DELETEACL use the
    same store call). The owner's own IDLE, woken by each, is told
    nothing (no message changed: the grant's modseq moves the mailbox's
    HIGHESTMODSEQ alone, which RFC 7162 needs no line for). Each line is waited
    for with no later change that could bring it."""
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        for name in ("Team", "Secret"):
            assert m.create(name)[0] == "OK"
        assert m.append("Team", None, None, b"Subject: one\r\n\r\nx\r\n")[0] == "OK"

        # bob idles in Team: the grant changes are nothing to him.
        own = Raw(s)
        own.sock.settimeout(60)
        own.login()
        cmd_raw(own, "s", "SELECT Team")
        _idle(own, "i")

        # Nothing of bob's is shared with carol yet: Secret becomes
        # visible through her own feed, goes through bob's.
        watcher = _notify_session(s)
        u, t = cmd_raw(watcher, "n", "NOTIFY SET (SUBTREE Shared (MailboxName))")
        assert t == b"n OK NOTIFY completed." and not u, (u, t)
        assert cmd(m, "SETACL", "Secret", CAROL, "lr")[0] == "OK"
        line = watcher.line()
        assert re.fullmatch(rb'\* LIST \(\) "/" "?Shared/bob@example\.test/Secret"?', line), line
        assert cmd(m, "DELETEACL", "Secret", CAROL)[0] == "OK"
        line = watcher.line()
        assert re.fullmatch(rb'\* LIST \(\\NonExistent\) "/" "?Shared/bob@example\.test/Secret"?',
                            line), line
        cmd_raw(watcher, "z", "LOGOUT")
        watcher.close()

        assert cmd(m, "SETACL", "Team", CAROL, "lrs")[0] == "OK"
        reader = _notify_session(s)
        u, t = cmd_raw(reader, "s", 'SELECT "Shared/bob@example.test/Team"')
        assert t.startswith(b"s OK"), (u, t)
        _idle(reader, "i")
        # "w" added: told as new FLAGS/PERMANENTFLAGS, with no append.
        assert cmd(m, "SETACL", "Team", CAROL, "+w")[0] == "OK"
        seen = []
        while b"PERMANENTFLAGS" not in (line := reader.line()):
            seen.append(line)
        assert b"\\Flagged" in line and not any(b"EXISTS" in x for x in seen), (line, seen)
        # "r" taken away by `tern acl del` (another process): BYE.
        s.cli("acl", "del", BOB, "Team", CAROL)
        rest = []
        try:
            while not (line := reader.line()).startswith(b"* BYE"):
                rest.append(line)
        except EOFError as e:
            raise AssertionError(("closed without BYE", rest, str(e)))
        assert b"revoked" in line and not any(b"EXISTS" in x for x in rest), (line, rest)
        assert s.wait_log("event=selected_mailbox_revoked", timeout=60)
        reader.close()

        # bob's IDLE: DONE ends it with nothing told in between.
        own.send("DONE\r\n")
        out = own.until_tag("i")
        assert len(out) == 1 and out[0].startswith(b"i OK"), out
        own.close()
        m.logout()


def test_acl_revoked_grant_drops_private_metadata():
    """A user that loses every right on a shared mailbox loses the
    /private entries it set there, in the same commit: they are kept in
    the owner's key space and count against the owner's limits (RFC 5464
    §3.2 makes them the user's own), and the user could no longer see or
    remove them. A grant given again does not bring them back. A user
    that keeps a right (here "l" after "-rswipkxtea", or through
    "anyone") keeps them; the owner's own /private entries and the
    /shared ones stay."""
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        assert m.create("Team")[0] == "OK"
        typ, text, _ = cmd(m, "SETMETADATA", "Team", '(/private/comment "bob" /shared/comment "t")')
        assert typ == "OK", text
        c = login(s, user=CAROL, pw=CAROL_PW)
        shared = '"Shared/bob@example.test/Team"'

        def carols():
            typ, text, lines = cmd(c, "GETMETADATA", shared, "/private/comment")
            assert typ == "OK", text
            return lines

        def set_carols():
            typ, text, _ = cmd(c, "SETMETADATA", shared, '(/private/comment "carol")')
            assert typ == "OK", text

        assert cmd(m, "SETACL", "Team", CAROL, "lr")[0] == "OK"
        set_carols()
        # Rights reduced but not all gone: kept.
        assert cmd(m, "SETACL", "Team", CAROL, "-r")[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "+r")[0] == "OK"
        assert carols() == [b'Shared/bob@example.test/Team (/private/comment "carol")']
        # Her own grant goes, "anyone" still gives her "lr": kept.
        assert cmd(m, "SETACL", "Team", "anyone", "lr")[0] == "OK"
        assert cmd(m, "DELETEACL", "Team", CAROL)[0] == "OK"
        assert carols() == [b'Shared/bob@example.test/Team (/private/comment "carol")']
        # Every right gone (anyone's too): hers go; given again, not back.
        assert cmd(m, "DELETEACL", "Team", "anyone")[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "lr")[0] == "OK"
        assert carols() == [b"Shared/bob@example.test/Team (/private/comment NIL)"]
        # The same through `tern acl` (the same store call).
        set_carols()
        s.cli("acl", "set", BOB, "Team", CAROL, "-lr")
        assert cmd(m, "SETACL", "Team", CAROL, "lr")[0] == "OK"
        assert carols() == [b"Shared/bob@example.test/Team (/private/comment NIL)"]
        typ, text, lines = cmd(m, "GETMETADATA", "Team", "(/private/comment /shared/comment)")
        assert lines == [b'Team (/private/comment "bob" /shared/comment "t")'], lines
        c.logout()
        m.logout()


def test_acl_invisible_mailbox_answers_as_absent():
    """RFC 4314 §6: a mailbox the user may not look up ("l") is answered
    as one that does not exist, by every command that names it: a name
    that is there without "l" (no right, or "wkxte") gets the very answer
    a name that is not there gets, whether the command looks it up
    (DELETE, RENAME's old name, SELECT, EXAMINE, STATUS, the ACL
    commands, GETMETADATA, SETMETADATA, GETQUOTAROOT, APPEND, COPY, MOVE;
    only MYRIGHTS shows rights held, as RFC 4314 §4 asks "any right")
    or makes it (CREATE, RENAME's new name, NOPERM without "k"). A
    mailbox it may not see is not the parent whose "k" a new name needs
    either: under it, CREATE and RENAME succeed as they do under a name
    that is not there (the new mailbox takes the grants of the parent
    that gave "k"). Left as it is: a name that is there, not seen, with
    "k" on its parent gets NOPERM where a free name gets OK (the name is
    taken; Cyrus answers the same)."""
    with Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True) as s:
        m = login(s)
        if "ACL" not in caps(m):
            m.logout()
            return "skip"
        for name in ("Team", "Team/Hidden", "Vis"):
            assert m.create(name)[0] == "OK"
        assert m.append("Team/Hidden", None, None, b"Subject: h\r\n\r\nhidden\r\n")[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "lr")[0] == "OK"
        assert cmd(m, "SETACL", "Vis", CAROL, "lrx")[0] == "OK"
        c = login(s, user=CAROL, pw=CAROL_PW)
        assert c.create("Mine")[0] == "OK"
        assert c.append("Mine", None, None, b"Subject: y\r\n\r\nmine\r\n")[0] == "OK"
        pre = "Shared/bob@example.test/"
        for n in ("GETQUOTAROOT",):
            imaplib.Commands.setdefault(n, ("AUTH", "SELECTED"))

        def answers(name):
            """Each command's answer on pre + name, the name cut out."""
            q = '"%s%s"' % (pre, name)
            out = []
            for verb, args in (("CREATE", (q,)), ("DELETE", (q,)),
                               ("RENAME", (q, '"%sTeam/Zz"' % pre)),
                               ("RENAME", ('"%sVis"' % pre, q)),
                               ("SELECT", (q,)), ("EXAMINE", (q,)),
                               ("STATUS", (q, "(MESSAGES)")), ("GETACL", (q,)),
                               ("MYRIGHTS", (q,)), ("LISTRIGHTS", (q, CAROL)),
                               ("SETACL", (q, CAROL, "l")), ("DELETEACL", (q, CAROL)),
                               ("GETMETADATA", (q, "/shared/comment")),
                               ("SETMETADATA", (q, '(/private/comment "c")')),
                               ("GETQUOTAROOT", (q,))):
                typ, text, _ = cmd(c, verb, *args)
                out.append((verb, typ, text.replace(name.encode(), b"NAME")))
            typ, dat = c.append(q, None, None, b"Subject: z\r\n\r\nz\r\n")
            out.append(("APPEND", typ, dat[-1].replace(name.encode(), b"NAME")))
            assert c.select("Mine")[0] == "OK"
            for verb in ("COPY", "MOVE"):
                typ, text, _ = cmd(c, verb, "1", q)
                out.append((verb, typ, text.replace(name.encode(), b"NAME")))
            c.close()
            return out

        for rights in ("", "wkxte"):
            if rights:
                assert cmd(m, "SETACL", "Team/Hidden", CAROL, rights)[0] == "OK"
            hidden, absent = answers("Team/Hidden"), answers("Team/Absent")
            if rights:  # MYRIGHTS shows any right held (RFC 4314 §4)
                assert hidden[8] == ("MYRIGHTS", "OK", b"Myrights completed."), hidden
                del hidden[8], absent[8]
            assert hidden == absent, (rights, [(h, a) for h, a in zip(hidden, absent) if h != a])
            assert all(typ == "NO" for _, typ, _ in hidden), hidden
            assert hidden[0][2] == b"[NOPERM] Permission denied.", hidden
            assert b"[NONEXISTENT]" in hidden[1][2], hidden
        assert m.status("Team/Hidden", "(MESSAGES)")[1] == [b"Team/Hidden (MESSAGES 1)"]
        bobs = _names(m.list('""', "*")[1])
        assert "Team/Hidden" in bobs and "Vis" in bobs and not any(
            "Absent" in x or "Zz" in x for x in bobs), bobs

        # With "k" on Team: under Team/Hidden (no right of hers) as under
        # a name not there.
        assert cmd(m, "DELETEACL", "Team/Hidden", CAROL)[0] == "OK"
        assert cmd(m, "SETACL", "Team", CAROL, "lrk")[0] == "OK"
        for name in ("Team/Hidden/New", "Team/Absent/New"):
            typ, text, _ = cmd(c, "CREATE", '"%s%s"' % (pre, name))
            assert typ == "OK", (name, text)
            typ, _, mine = cmd(c, "MYRIGHTS", '"%s%s"' % (pre, name))
            assert mine == [('%s%s "lrkc"' % (pre, name)).encode()], mine
        assert cmd(m, "SETACL", "Team/Absent/New", CAROL, "+x")[0] == "OK"
        typ, text, _ = cmd(c, "RENAME", '"%sTeam/Absent/New"' % pre, '"%sTeam/Hidden/Moved"' % pre)
        assert typ == "OK", text
        bobs = sorted(_names(m.list('""', "Team/Hidden/*")[1]))
        assert bobs == ["Team/Hidden/Moved", "Team/Hidden/New"], bobs
        hers = [x for x in _names(c.list('""', "*")[1]) if x.startswith(pre)]
        assert pre + "Team/Hidden/New" in hers and pre + "Team/Hidden/Moved" in hers, hers
        typ, text, _ = cmd(c, "STATUS", '"%sTeam/Hidden"' % pre, "(MESSAGES)")
        assert typ == "NO" and b"[NONEXISTENT]" in text, text
        c.logout()
        m.logout()
