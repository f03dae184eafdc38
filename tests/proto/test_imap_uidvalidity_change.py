"""A selected mailbox whose UIDVALIDITY changes under an IMAP session.

`tern import` and `tern migrate` give an empty mailbox the source's
UIDVALIDITY (store_mailbox_uids_keep), and its UIDs start again at 1. A
session that has it selected holds UIDs against the UIDVALIDITY it was
told at SELECT (RFC 9051 §2.3.1.1: a UID "MUST NOT change during the
session"), and no response may give it another one for the selected
mailbox, so it is told "* BYE" and the connection closes, before any
message of the new UIDVALIDITY reaches it, as Dovecot does (its
imap-sync.c says "Mailbox UIDVALIDITY changed"; Debian's 2.3.19, INBOX
selected while `doveadm mailbox update --uid-validity` ran, answered the
next NOOP with "* BYE IMAP session state is inconsistent, please
relogin." and closed). Before, NOOP and IDLE went on with "* n EXISTS"
for the imported messages under the old UIDVALIDITY.

Also checked here: CLOSE then expunges nothing it was never shown; a
SELECT of the same mailbox in the same session gives the new UIDVALIDITY;
a mailbox deleted and made again under the same name while selected is
BYE too (another mailbox id) and has another UIDVALIDITY; POP3 (a
snapshot per session) removes nothing at QUIT that came under the new
UIDVALIDITY; JMAP's Mailbox and Email /changes from the state before
name what the import changed."""
import os
import poplib
import re
import shutil
import tempfile

from harness import Server
from jmapc import Jmap
from test_imap import BOB, BOB_PW, Raw, ctx

SOURCE_UIDVALIDITY = 1234  # below anything tern makes (the time)


def maildir(tmp, deleted=False, uids=(5, 7)):
    """A Dovecot Maildir (INBOX only): UIDVALIDITY 1234, two messages with
    UIDs uids, UIDNEXT 9; the second message \\Deleted when asked."""
    root = os.path.join(tmp, "src")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, sub))
    names = ["1700000000.M1P1.src", "1700000001.M2P2.src"]
    infos = [":2,S", ":2,T" if deleted else ":2,"]
    for i, (n, info) in enumerate(zip(names, infos)):
        with open(os.path.join(root, "cur", n + info), "wb") as f:
            f.write(("From: a@remote.test\r\nTo: %s\r\nSubject: old %d\r\n"
                     "Message-ID: <old-%d@remote.test>\r\n\r\nBody %d\r\n" % (BOB, i, i, i)).encode())
    with open(os.path.join(root, "dovecot-uidlist"), "w") as f:
        f.write("3 V%d N9 G0123456789abcdef0123456789abcdef\n%d :%s\n%d :%s\n"
                % (SOURCE_UIDVALIDITY, uids[0], names[0], uids[1], names[1]))
    return root


def run_import(s, root):
    r = s.cli("import", BOB, root)
    assert b"INBOX: UIDVALIDITY %d and the messages' UIDs kept" % SOURCE_UIDVALIDITY \
        in r.stdout, r.stdout


def selected(s, box="INBOX"):
    """A raw session with box selected: (Raw, its UIDVALIDITY)."""
    r = Raw(s)
    r.login()
    r.send("s SELECT %s\r\n" % box)
    lines = r.until_tag("s")
    assert lines[-1].startswith(b"s OK"), lines
    uv = [int(re.search(rb"UIDVALIDITY (\d+)", l).group(1)) for l in lines if b"[UIDVALIDITY" in l]
    return r, uv[0]


def until_closed(r, tag=None):
    """The lines up to the server's close (EOF), or up to the first EXISTS
    or tagged reply, which say the session went on."""
    out = []
    r.sock.settimeout(30)
    while True:
        try:
            out.append(r.line())
        except (EOFError, ConnectionResetError):
            return out
        if out[-1].endswith(b" EXISTS") or (tag and out[-1].startswith(tag.encode() + b" ")):
            return out


def status_uv(s, box="INBOX"):
    r = Raw(s)
    r.login()
    r.send("t STATUS %s (UIDVALIDITY MESSAGES)\r\n" % box)
    lines = r.until_tag("t")
    r.close()
    m = re.search(rb"UIDVALIDITY (\d+) MESSAGES (\d+)|MESSAGES (\d+) UIDVALIDITY (\d+)", lines[0])
    assert m, lines
    return int(m.group(1) or m.group(4)), int(m.group(2) or m.group(3))


def test_noop_after_import_is_bye():
    """SELECT of the empty INBOX, tern import gives it UIDVALIDITY 1234 and
    two messages: the next NOOP is BYE, with no EXISTS before it."""
    tmp = tempfile.mkdtemp(prefix="tern-uv-")
    s = Server(accounts=[(BOB, BOB_PW)], imap=True)
    try:
        r, uv = selected(s)
        assert uv != SOURCE_UIDVALIDITY
        run_import(s, maildir(tmp))
        r.send("n NOOP\r\n")
        got = until_closed(r, "n")
        assert got == [b"* BYE Mailbox UIDVALIDITY changed, have to disconnect."], got
        assert status_uv(s) == (SOURCE_UIDVALIDITY, 2)
        assert s.wait_log("event=selected_mailbox_uidvalidity_changed")
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_idle_after_import_is_bye():
    """The same while IDLE waits: BYE as soon as the change is seen,
    without DONE, and nothing before it."""
    tmp = tempfile.mkdtemp(prefix="tern-uv-")
    s = Server(accounts=[(BOB, BOB_PW)], imap=True)
    try:
        r, uv = selected(s)
        r.send("i IDLE\r\n")
        assert r.line() == b"+ idling"
        run_import(s, maildir(tmp))
        got = until_closed(r)
        assert got == [b"* BYE Mailbox UIDVALIDITY changed, have to disconnect."], got
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_close_after_import_expunges_nothing():
    """CLOSE after the change removes nothing: the imported \\Deleted
    message was never shown to the session (before, CLOSE took the new
    view and expunged it)."""
    tmp = tempfile.mkdtemp(prefix="tern-uv-")
    s = Server(accounts=[(BOB, BOB_PW)], imap=True)
    try:
        r, uv = selected(s)
        run_import(s, maildir(tmp, deleted=True))
        r.send("c CLOSE\r\n")
        assert r.until_tag("c") == [b"c OK Close completed."]
        got = status_uv(s)
        assert got == (SOURCE_UIDVALIDITY, 2), got
        r.close()
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_select_again_after_import():
    """SELECT of the selected mailbox after the change (the session's
    snapshot is brought up to date, imap_view_refresh) and a SELECT by a
    new session (from the snapshot the closed one left, imap_view_cache)
    both give the new UIDVALIDITY, UIDNEXT and messages."""
    tmp = tempfile.mkdtemp(prefix="tern-uv-")
    s = Server(accounts=[(BOB, BOB_PW)], imap=True)
    try:
        r, uv = selected(s)
        run_import(s, maildir(tmp))
        for again in (r, None):
            if again is None:
                r.send("l LOGOUT\r\n")
                r.until_tag("l")
                r.close()
                again = Raw(s)
                again.login()
            again.send("s SELECT INBOX\r\n")
            lines = again.until_tag("s")
            assert b"* 2 EXISTS" in lines, lines
            assert b"* OK [UIDVALIDITY %d] UIDs valid" % SOURCE_UIDVALIDITY in lines, lines
            assert b"* OK [UIDNEXT 9] Predicted next UID" in lines, lines
            again.send("f UID FETCH 1:* (UID)\r\n")
            assert again.until_tag("f") == [b"* 1 FETCH (UID 5)", b"* 2 FETCH (UID 7)",
                                            b"f OK Fetch completed."]
        again.close()
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_mailbox_deleted_and_made_again_while_selected():
    """Another session deletes the selected mailbox and creates one of the
    same name: the next NOOP is BYE (the mailbox is another one), and the
    new one has another UIDVALIDITY (RFC 9051 §2.3.1.1)."""
    s = Server(accounts=[(BOB, BOB_PW)], imap=True)
    try:
        o = Raw(s)
        o.login()
        o.send("c CREATE Box\r\na APPEND Box {2+}\r\nx\r\n")
        o.until_tag("a")
        r, uv = selected(s, "Box")
        o.send("d DELETE Box\r\nc CREATE Box\r\n")
        assert o.until_tag("c")[-1].startswith(b"c OK")
        r.send("n NOOP\r\n")
        got = until_closed(r, "n")
        assert got == [b"* BYE Selected mailbox was deleted, have to disconnect."], got
        uv2, n = status_uv(s, "Box")
        assert uv2 != uv and n == 0, (uv, uv2, n)
        o.close()
    finally:
        s.cleanup()


def test_pop3_session_across_the_change():
    """POP3 works from the maildrop as it was at login: its message was
    expunged (IMAP) and the import then gave INBOX UIDVALIDITY 1234 and the
    same UID 1 to another message. The session's UIDL stays as it was
    told, RETR of the gone message is -ERR, and DELE then QUIT removes
    nothing of the new UIDVALIDITY (the store refuses UIDs under another
    one)."""
    tmp = tempfile.mkdtemp(prefix="tern-uv-")
    s = Server(accounts=[(BOB, BOB_PW)], imap=True, pop3=True)
    try:
        o = Raw(s)
        o.login()
        o.send("a APPEND INBOX {2+}\r\nx\r\n")
        assert o.until_tag("a")[-1].startswith(b"a OK")
        uv, _ = status_uv(s)
        p = poplib.POP3_SSL("127.0.0.1", s.pop3s_port, context=ctx())
        p.user(BOB)
        p.pass_(BOB_PW)
        before = p.uidl()[1]
        assert before == [b"1 %08x%08x" % (1, uv)], before
        o.send("s SELECT INBOX\r\nt STORE 1 +FLAGS (\\Deleted)\r\ne EXPUNGE\r\n")
        assert o.until_tag("e")[-1].startswith(b"e OK")
        o.close()
        run_import(s, maildir(tmp, uids=(1, 2)))
        assert p.uidl()[1] == before
        try:
            p.retr(1)
            assert False, "RETR of an expunged message answered"
        except poplib.error_proto as e:
            assert str(e).startswith("b'-ERR"), e
        assert p.dele(1).startswith(b"+OK")
        try:
            p.quit()
        except poplib.error_proto:
            pass  # -ERR: nothing it marked was left to remove
        assert status_uv(s) == (SOURCE_UIDVALIDITY, 2)
        p = poplib.POP3_SSL("127.0.0.1", s.pop3s_port, context=ctx())
        p.user(BOB)
        p.pass_(BOB_PW)
        assert p.uidl()[1] == [b"1 %08x%08x" % (1, SOURCE_UIDVALIDITY),
                               b"2 %08x%08x" % (2, SOURCE_UIDVALIDITY)]
        p.quit()
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_jmap_changes_across_the_change():
    """JMAP has no UIDs: Mailbox/changes and Email/changes from the states
    before the import name INBOX as updated and the two messages as
    created, and Email/get finds them in INBOX."""
    tmp = tempfile.mkdtemp(prefix="tern-uv-")
    s = Server(accounts=[(BOB, BOB_PW)], imap=True, http=True)
    try:
        j = Jmap(s, BOB, BOB_PW)
        _, mg = j.one("Mailbox/get", {"properties": ["name"]})
        inbox = [m["id"] for m in mg["list"] if m["name"] == "Inbox" or m["name"] == "INBOX"]
        assert len(inbox) == 1, mg
        _, eq = j.one("Email/query", {})
        assert eq["ids"] == [], eq
        _, eg = j.one("Email/get", {"ids": []})
        run_import(s, maildir(tmp))
        _, mc = j.one("Mailbox/changes", {"sinceState": mg["state"]})
        assert mc["updated"] == inbox and mc["created"] == [] and mc["destroyed"] == [], mc
        _, ec = j.one("Email/changes", {"sinceState": eg["state"]})
        assert len(ec["created"]) == 2 and ec["updated"] == [] and ec["destroyed"] == [], ec
        _, got = j.one("Email/get", {"ids": ec["created"], "properties": ["mailboxIds", "subject"]})
        assert sorted(e["subject"] for e in got["list"]) == ["old 0", "old 1"], got
        assert all(list(e["mailboxIds"]) == inbox for e in got["list"]), got
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_bye_with_a_search_context():
    """A session holding a SEARCH RETURN (UPDATE) context (RFC 5267) whose
    mailbox takes another UIDVALIDITY: BYE, no ESEARCH update before it,
    and nothing left allocated (stopped cleanly, so that under --build
    asan LeakSanitizer checks the server at exit; the deletion's case is
    test_imap_context's)."""
    tmp = tempfile.mkdtemp(prefix="tern-uv-")
    s = Server(accounts=[(BOB, BOB_PW)], imap=True)
    try:
        r, _ = selected(s)
        r.send("u SEARCH RETURN (UPDATE) ALL\r\n")
        assert r.until_tag("u")[-1].startswith(b"u OK")
        run_import(s, maildir(tmp))
        r.send("n NOOP\r\n")
        got = until_closed(r, "n")
        assert got == [b"* BYE Mailbox UIDVALIDITY changed, have to disconnect."], got
        assert s.stop() == 0
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
