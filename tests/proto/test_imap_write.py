"""IMAP read-write mailboxes: flags and keywords (STORE), the implicit \\Seen
of FETCH BODY[], EXPUNGE / UID EXPUNGE / CLOSE with renumbering, a second
session seeing EXPUNGE and FETCH FLAGS on NOOP and during IDLE, SEARCH and
STATUS on flags, mailbox management (CREATE, RENAME with children, RENAME
INBOX, DELETE, SUBSCRIBE, LSUB), and mbsync syncing flags and deletions
both ways."""
import imaplib
import os
import re
import shutil
import subprocess
import tempfile
import time

from test_imap import BOB, Raw, deliver, login, mbsync_conf, srv, wait_count


def flags_of(data):
    """{seq: set(flags)} from imaplib FETCH/STORE data."""
    out = {}
    for d in data:
        if isinstance(d, tuple):
            d = d[0]
        if not d:
            continue
        m = re.match(rb"(\d+) \(.*FLAGS \(([^)]*)\)", d)
        if m:
            # \Recent is the session's (test_imap_compliance checks it).
            out[int(m.group(1))] = set(m.group(2).decode().split()) - {"\\Recent"}
    return out


def test_imap_store_flags_and_seen():
    with srv() as s:
        deliver(s, 4)
        wait_count(s, 4)
        m = login(s)
        typ, data = m.select("INBOX")
        assert typ == "OK" and data == [b"4"]
        assert m.untagged_responses.get("READ-WRITE") is not None or "READ-WRITE" in str(m.response("READ-WRITE"))
        typ, data = m.fetch("1:4", "(FLAGS)")
        assert flags_of(data) == {1: set(), 2: set(), 3: set(), 4: set()}, data
        typ, data = m.store("1", "+FLAGS", "(\\Flagged \\Answered)")
        assert typ == "OK" and flags_of(data) == {1: {"\\Flagged", "\\Answered"}}, data
        typ, data = m.store("1", "-FLAGS", "(\\Answered)")
        assert flags_of(data) == {1: {"\\Flagged"}}, data
        typ, data = m.store("2", "FLAGS", "(\\Draft Work $Label1)")
        assert flags_of(data) == {2: {"\\Draft", "Work", "$Label1"}}, data
        typ, data = m.store("3", "+FLAGS.SILENT", "(\\Deleted)")
        assert typ == "OK" and data == [None], data
        typ, data = m.uid("STORE", "4", "+FLAGS", "(\\Seen)")
        assert typ == "OK" and b"UID 4" in data[0] and b"\\Seen" in data[0], data
        try:
            m.store("1", "+FLAGS", "(\\Recent)")
            assert False, "\\Recent stored"
        except imaplib.IMAP4.error as e:
            assert "BAD" in str(e)
        typ, data = m.fetch("1:4", "(FLAGS)")
        assert flags_of(data) == {1: {"\\Flagged"}, 2: {"\\Draft", "Work", "$Label1"},
                                  3: {"\\Deleted"}, 4: {"\\Seen"}}, data
        # BODY.PEEK leaves \Seen alone; BODY[] sets it and says so.
        typ, data = m.fetch("1", "(BODY.PEEK[])")
        typ, data = m.fetch("1", "(FLAGS)")
        assert "\\Seen" not in flags_of(data)[1]
        typ, data = m.fetch("1", "(BODY[])")
        assert typ == "OK" and b"\\Seen" in data[1], data
        typ, data = m.fetch("1", "(FLAGS)")
        assert flags_of(data)[1] == {"\\Flagged", "\\Seen"}
        # SEARCH on flags and keywords.
        assert m.search(None, "SEEN") == ("OK", [b"1 4"])
        assert m.search(None, "UNSEEN") == ("OK", [b"2 3"])
        assert m.search(None, "DELETED") == ("OK", [b"3"])
        assert m.search(None, "FLAGGED") == ("OK", [b"1"])
        assert m.search(None, "DRAFT") == ("OK", [b"2"])
        assert m.search(None, "KEYWORD", "WORK") == ("OK", [b"2"])
        assert m.search(None, "UNKEYWORD", "work") == ("OK", [b"1 3 4"])
        # This session selected them first: all \Recent (RFC 3501 §2.3.2),
        # NEW is RECENT UNSEEN.
        assert m.search(None, "NEW") == ("OK", [b"2 3"])
        assert m.search(None, "OLD") == ("OK", [b""])
        typ, data = m.status("INBOX", "(UNSEEN DELETED MESSAGES)")
        assert b"UNSEEN 2" in data[0] and b"DELETED 1" in data[0], data
        # EXAMINE is read-only: no STORE, no implicit \Seen.
        m.select("INBOX", readonly=True)
        typ, data = m.store("2", "+FLAGS", "(\\Seen)")
        assert typ == "NO"
        m.fetch("2", "(BODY[])")
        typ, data = m.fetch("2", "(FLAGS)")
        assert "\\Seen" not in flags_of(data)[2]
        m.logout()


def test_imap_expunge_and_other_session():
    with srv() as s:
        deliver(s, 5)
        wait_count(s, 5)
        a = login(s)
        a.select("INBOX")
        b = Raw(s)
        b.login()
        b.send("s SELECT INBOX\r\n")
        assert b"* 5 EXISTS" in b.until_tag("s")
        # A flag change by a is seen by b at NOOP.
        a.store("2", "+FLAGS", "(\\Flagged)")
        b.send("n NOOP\r\n")
        out = b.until_tag("n")
        assert b"* 2 FETCH (FLAGS (\\Flagged))" in out, out
        # Delete 2 and 4; EXPUNGE renumbers.
        a.store("2,4", "+FLAGS", "(\\Deleted)")
        typ, data = a.expunge()
        assert typ == "OK" and data == [b"4", b"2"], data
        typ, data = a.fetch("1:3", "(UID)")
        uids = [int(re.search(rb"UID (\d+)", d).group(1)) for d in data]
        assert uids == [1, 3, 5], data
        # b sees both EXPUNGEs at NOOP, highest first.
        b.send("n2 NOOP\r\n")
        out = b.until_tag("n2")
        assert out[:2] == [b"* 4 EXPUNGE", b"* 2 EXPUNGE"], out
        # UID EXPUNGE only removes the UIDs asked for; b sees it while idling.
        b.send("i IDLE\r\n")
        assert b.line() == b"+ idling"
        a.store("1:3", "+FLAGS", "(\\Deleted)")
        got = [b.line() for _ in range(3)]
        assert all(g.endswith(b"FETCH (FLAGS (\\Deleted))") for g in got), got
        typ, data = a.uid("EXPUNGE", "3")
        assert typ == "OK" and a.response("EXPUNGE")[1] == [b"2"], data
        assert b.line() == b"* 2 EXPUNGE"
        b.send("DONE\r\n")
        assert b.until_tag("i")[-1] == b"i OK Idle completed."
        # CLOSE expunges the rest silently.
        typ, data = a.close()
        assert typ == "OK"
        assert len(s.messages(BOB)) == 0
        b.send("n3 NOOP\r\n")
        out = b.until_tag("n3")
        # No EXISTS: the EXPUNGE already lowered the count (RFC 9051 §7.5.1).
        assert b"* 1 EXPUNGE" in out and not any(l.endswith(b" EXISTS") for l in out), out
        b.close()
        a.logout()


def test_imap_mailbox_management():
    with srv() as s:
        deliver(s, 2)
        wait_count(s, 2)
        m = login(s)
        assert m.create("Work/2024/Q1")[0] == "OK"
        typ, data = m.create("Work")
        assert typ == "NO" and b"ALREADYEXISTS" in data[0]
        assert m.create("Projects/")[0] == "OK"
        names = {re.match(rb'\(.*?\) "/" (.*)', d).group(1).strip(b'"') for d in m.list()[1]}
        assert {b"Work", b"Work/2024", b"Work/2024/Q1", b"Projects"} <= names, names
        typ, data = m.list('""', "Work")
        assert b"\\HasChildren" in data[0]
        # Rename with children.
        assert m.rename("Work", "Old/Job")[0] == "OK"
        names = {re.match(rb'\(.*?\) "/" (.*)', d).group(1).strip(b'"') for d in m.list()[1]}
        assert b"Work" not in names and {b"Old", b"Old/Job", b"Old/Job/2024/Q1"} <= names, names
        typ, data = m.rename("Nope", "X")
        assert typ == "NO" and b"NONEXISTENT" in data[0]
        typ, data = m.rename("Sent", "Trash")
        assert typ == "NO" and b"ALREADYEXISTS" in data[0]
        # Subscriptions.
        typ, data = m.lsub()
        assert len(data) == 6, data
        assert m.subscribe("Old/Job")[0] == "OK"
        typ, data = m.lsub()
        assert any(d.endswith(b"Old/Job") for d in data) and len(data) == 7, data
        assert m.unsubscribe("Sent")[0] == "OK"
        typ, data = m.lsub()
        assert not any(d.endswith(b"Sent") for d in data), data
        # Delete: INBOX no, a parent no, leaves yes.
        typ, data = m.delete("INBOX")
        assert typ == "NO"
        typ, data = m.delete("Old/Job")
        assert typ == "NO" and b"[CANNOT]" in data[0], data
        assert m.delete("Old/Job/2024/Q1")[0] == "OK"
        assert m.delete("Trash")[0] == "OK"
        typ, data = m.delete("Trash")
        assert typ == "NO" and b"NONEXISTENT" in data[0]
        # RENAME INBOX moves its messages; INBOX stays, empty.
        assert m.rename("INBOX", "Saved")[0] == "OK"
        typ, data = m.status("Saved", "(MESSAGES UIDNEXT)")
        assert b"MESSAGES 2" in data[0] and b"UIDNEXT 3" in data[0], data
        typ, data = m.status("INBOX", "(MESSAGES)")
        assert b"MESSAGES 0" in data[0], data
        typ, data = m.select("Saved")
        assert data == [b"2"]
        typ, data = m.fetch("1:2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        bodies = [d[1] for d in data if isinstance(d, tuple)]
        assert b"msg 0" in bodies[0] and b"msg 1" in bodies[1], data
        # Into a child of INBOX too (RFC 9051 §6.3.6: INBOX is not moved,
        # its messages are): it was refused with NO [CANNOT].
        m.append("INBOX", None, None, b"Subject: kept\r\n\r\nbody\r\n")
        typ, data = m.rename("INBOX", "INBOX/Old")
        assert typ == "OK", data
        typ, data = m.status("INBOX/Old", "(MESSAGES)")
        assert b"MESSAGES 1" in data[0], data
        typ, data = m.status("INBOX", "(MESSAGES)")
        assert b"MESSAGES 0" in data[0], data
        typ, data = m.list('""', "INBOX*")
        assert sorted(data) == [b'(\\HasChildren) "/" INBOX', b'(\\HasNoChildren) "/" INBOX/Old'], data
        assert m.rename("INBOX", "INBOX/Old")[0] == "NO"  # there now
        m.logout()
        # A name with CR LF (modified UTF-7, a literal, UTF-8 after
        # ENABLE) is refused in one line: the answers echo the name, and
        # its CR LF ended the line there, sending the rest of the name
        # to the client as a response of its own.
        r = Raw(s)
        r.login()
        for tag, name in (("c1", b'"&AA0ACg-c1 OK forged"'), ("c2", b'"x&AAo-y"'),
                          ("c3", b"{15+}\r\nz\r\nc3 OK forged")):
            for verb in (b"SELECT", b"STATUS", b"DELETE", b"RENAME", b"CREATE"):
                args = {b"STATUS": b" (MESSAGES)", b"RENAME": b" y"}.get(verb, b"")
                r.send(tag.encode() + b" " + verb + b" " + name + args + b"\r\n")
                out = r.until_tag(tag)
                assert len(out) == 1 and out[0].startswith(tag.encode() + b" NO "), out
                assert b"\n" not in out[0] and b"forged" not in out[0], out
        r.send(b"e ENABLE UTF8=ACCEPT\r\n")
        assert r.until_tag("e")[-1].startswith(b"e OK")
        r.send(b"f SELECT {14+}\r\nf\r\nf OK forged\r\n")
        out = r.until_tag("f")
        assert len(out) == 1 and out[0].startswith(b"f NO "), out
        r.send(b"g NOOP\r\n")
        assert r.until_tag("g") == [b"g OK NOOP completed."]
        # No level "." or "..": tern export --format mbox wrote a mailbox
        # "../../x" as DIR/EMAIL/../../x.mbox, outside DIR. Dots inside a
        # level are names like any other.
        for i, (verb, name) in enumerate(((b"CREATE", b'"../../escaped"'), (b"CREATE", b'"a/../b"'),
                                          (b"CREATE", b'"."'), (b"CREATE", b'"x/."'),
                                          (b"RENAME", b'Saved "Saved/.."'), (b"RENAME", b'Saved ".."'))):
            r.send(b"d%d %s %s\r\n" % (i, verb, name))
            out = r.until_tag("d%d" % i)
            assert out == [b"d%d NO [CANNOT] Invalid mailbox name" % i], out
        for i, name in enumerate((b"...", b"a..b/.c", b".hidden")):
            r.send(b'h%d CREATE "%s"\r\n' % (i, name))
            assert re.fullmatch(rb"h%d OK \[MAILBOXID \(M[0-9a-f]{8}\)\] Create completed\." % i,
                                r.until_tag("h%d" % i)[-1])
        r.close()
        out = os.path.join(s.tmp, "export", "deep")
        os.makedirs(out)
        s.cli("export", BOB, out, "--format", "mbox")
        assert os.listdir(os.path.dirname(out)) == ["deep"]
        assert os.listdir(out) == [BOB]


def test_imap_mbsync_two_way():
    if not shutil.which("mbsync"):
        return "skip"
    with srv(env={"TERN_HOSTNAME": "localhost"}) as s:
        deliver(s, 4)
        wait_count(s, 4)
        tmp = tempfile.mkdtemp(prefix="tern-mbsync2-")
        try:
            conf, maildir = mbsync_conf(s, tmp, implicit=True)

            def run():
                r = subprocess.run(["mbsync", "-c", conf, "-a"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=60,
                                   env={"HOME": tmp, "PATH": "/usr/bin:/bin"})
                assert r.returncode == 0, r.stdout.decode(errors="replace")
                return r.stdout.decode(errors="replace")

            def local():
                out = []
                for sub in ("new", "cur"):
                    d = os.path.join(maildir, "INBOX", sub)
                    for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                        out.append(os.path.join(d, n))
                return out

            run()
            files = local()
            assert len(files) == 4, files
            # Flag a message on the Maildir side (F = flagged, S = seen).
            target = None
            for p in files:
                with open(p, "rb") as fh:
                    if b"Subject: msg 0" in fh.read():
                        target = p
            assert target
            d, name = os.path.split(target)
            base = name.split(":2,")[0]
            os.rename(target, os.path.join(os.path.dirname(d), "cur", base + ":2,FS"))
            run()
            m = login(s)
            m.select("INBOX")
            typ, data = m.search(None, "FLAGGED")
            assert typ == "OK" and len(data[0].split()) == 1, data
            typ, data = m.fetch(data[0], "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] FLAGS)")
            assert b"msg 0" in data[0][1] and b"\\Seen" in data[1], data
            # Delete one on the server side; the next sync removes it locally.
            m.store("2", "+FLAGS", "(\\Deleted)")
            m.expunge()
            m.logout()
            run()
            files = local()
            assert len(files) == 3, files
            # Nothing left to do the second time.
            run()
            assert len(local()) == 3
            # New local messages are pushed up (APPEND, with their flags).
            for i in range(3):
                name = "1700000000.%d_%d.local:2,%s" % (i, os.getpid(), "S" if i == 0 else "")
                sub = "cur" if i == 0 else "new"
                with open(os.path.join(maildir, "INBOX", sub, name.split(":")[0] if sub == "new" else name), "wb") as fh:
                    fh.write(b"From: me@example.test\r\nSubject: local %d\r\n\r\nup %d\r\n" % (i, i))
            out = run()
            m = login(s)
            m.select("INBOX")
            typ, data = m.search(None, "SUBJECT", "local")
            assert len(data[0].split()) == 3, (data, out)
            typ, data = m.search(None, "SUBJECT", "local", "SEEN")
            assert len(data[0].split()) == 1, data
            m.logout()
            assert len(local()) == 6
            # Twice more: the second time nothing moves either way (same
            # local files, same server state and HIGHESTMODSEQ: no write).
            run()

            def server_state():
                m = login(s)
                st = m.status("INBOX", "(HIGHESTMODSEQ MESSAGES UIDNEXT)")[1][0]
                m.select("INBOX", readonly=True)
                fl = m.fetch("1:*", "(UID FLAGS)")[1]
                m.logout()
                return st, fl

            before = (sorted(local()), server_state())
            run()
            assert (sorted(local()), server_state()) == before
            assert len(local()) == 6 and len(s.messages(BOB)) == 6
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def test_imap_session_ends_when_its_account_is_deleted():
    """`tern account del` while the user is logged in: a session with a
    mailbox selected and one without both get BYE within about a second,
    without sending anything (auth/session_watch.h; they used to go on
    with errors such as "[SERVERBUG] Internal error reading mailboxes"),
    and a login to the account made again under the same address sees the
    new, empty account."""
    with srv() as s:
        deliver(s, 2)
        wait_count(s, 2)
        selected, plain = Raw(s), Raw(s)
        for r in (selected, plain):
            r.login()
        selected.send("s SELECT INBOX\r\n")
        assert selected.until_tag("s")[-1].startswith(b"s OK")
        s.cli("account", "del", BOB)
        for r in (selected, plain):
            line = r.line()
            assert line.startswith(b"* BYE Account was deleted"), line
            try:
                line = r.line()
                raise AssertionError("the session went on: %r" % line)
            except EOFError:
                pass
        s.cli("account", "add", BOB, input="new-password-71\n")
        m = login(s, pw="new-password-71")
        typ, data = m.select("INBOX")
        assert typ == "OK" and data == [b"0"], data
        m.logout()
        assert s.wait_log("event=credentials_revoked reason=account_deleted")
