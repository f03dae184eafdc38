"""Moving from Dovecot keeps UIDs and UIDVALIDITY, so that clients moved
over download nothing again: `tern import` of a Dovecot Maildir reads
its dovecot-uidlist, `tern migrate` takes what EXAMINE and UID FETCH
say. Checked against a real Dovecot on loopback (dovecot_peer): each
mailbox's UIDVALIDITY, UIDNEXT and UID -> message map as Dovecot served
them, POP3 UIDLs byte for byte (tern's and Dovecot's default format are
the same "%08x%08x" of UID and UIDVALIDITY), mbsync re-pointed from
Dovecot to tern fetching only the one message Dovecot never listed, a
message file Dovecot never saw taking the UID Dovecot would have given
it (its UIDNEXT), a migrate cut short resuming with the same UIDs, and
a mailbox that already holds other mail refused unless --new-uids, and
tern's own export (which writes dovecot-uidlist) imported elsewhere
with its UIDs."""
import contextlib
import imaplib
import os
import poplib
import re
import shutil
import ssl
import subprocess
import tempfile

import dovecot_peer
from harness import Server

BOB, BOB_PW = "bob@example.test", "bob-pw-1"


def msg(i, box):
    return ("From: s%d@remote.test\r\nTo: alice@example.test\r\nSubject: %s %d\r\n"
            "Message-ID: <%s-%d@remote.test>\r\n\r\nBody %d\r\n" % (i, box, i, box, i, i)).encode()


def unverified():
    return ssl._create_unverified_context()


@contextlib.contextmanager
def dovecot_and_tern(pop3=False, env=None):
    """(tern Server with bob, DovecotPeer with alice, dovecot_fill's state)."""
    s = Server(accounts=[(BOB, BOB_PW)], imap=True, pop3=pop3, env=env)
    try:
        with dovecot_peer.DovecotPeer([("alice", "alice-pw")], pop3=pop3) as dc:
            yield s, dc, dovecot_fill(dc)
    finally:
        s.cleanup()


def box_state(m, box):
    """(UIDVALIDITY, UIDNEXT, {uid: Message-ID}, {uid: flags}) of a mailbox."""
    st = m.status(box, "(UIDVALIDITY UIDNEXT)")[1][0].decode()
    uv = int(re.search(r"UIDVALIDITY (\d+)", st).group(1))
    un = int(re.search(r"UIDNEXT (\d+)", st).group(1))
    typ, data = m.select(box, readonly=True)
    ids, flags = {}, {}
    if int(data[0]):
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        for d in data:
            if isinstance(d, tuple):
                uid = int(re.search(rb"UID (\d+)", d[0]).group(1))
                ids[uid] = d[1].split(b"<", 1)[1].split(b">", 1)[0].decode()
                flags[uid] = set(re.search(rb"FLAGS \(([^)]*)\)", d[0]).group(1).decode().split())
    return uv, un, ids, flags


def dovecot_fill(dc):
    """INBOX with 7 messages, 2 expunged (one of them the last, so
    UIDNEXT is past the highest UID), keywords and a flag; Work with 3.
    Returns {box: box_state} as Dovecot serves it."""
    m = imaplib.IMAP4("127.0.0.1", dc.port)
    m.login("alice", "alice-pw")
    m.create("Work")
    for i in range(7):
        m.append("INBOX", None, None, msg(i, "inbox"))
    for i in range(3):
        m.append("Work", None, None, msg(i, "work"))
    m.select("INBOX")
    m.uid("STORE", "2", "+FLAGS", "($Label1 \\Flagged)")
    m.uid("STORE", "4", "+FLAGS", "(\\Seen)")
    m.uid("STORE", "3,7", "+FLAGS", "(\\Deleted)")
    m.expunge()
    m.close()
    out = {b: box_state(m, b) for b in ("INBOX", "Work")}
    m.logout()
    return out


def tern_state(s, boxes=("INBOX", "Work")):
    m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=unverified())
    m.login(BOB, BOB_PW)
    out = {b: box_state(m, b) for b in boxes}
    m.logout()
    return out


def uidls(port, user, pw, tls):
    p = poplib.POP3_SSL("127.0.0.1", port, context=unverified()) if tls else \
        poplib.POP3("127.0.0.1", port)
    p.user(user)
    p.pass_(pw)
    got = [line.split()[1].decode() for line in p.uidl()[1]]
    p.quit()
    return got


def mbsync_conf(path, maildir, host_part):
    with open(path, "w") as f:
        f.write("""IMAPAccount src
%s
IMAPStore far
Account src

MaildirStore near
Path %s
Inbox %sINBOX

Channel all
Far :far:
Near :near:
Patterns INBOX Work
Sync Pull
Create Near
SyncState *
""" % (host_part, maildir, maildir))


def mbsync(conf, home):
    r = subprocess.run(["mbsync", "-c", conf, "-a"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120,
                       env={"HOME": home, "PATH": "/usr/bin:/bin"})
    return r.returncode, r.stdout.decode(errors="replace")


def local_count(maildir):
    n = 0
    for box in ("INBOX", "Work"):
        for sub in ("new", "cur"):
            d = os.path.join(maildir, box, sub)
            n += len(os.listdir(d)) if os.path.isdir(d) else 0
    return n


def test_import_dovecot_maildir_keeps_uids():
    """tern import of Dovecot's own Maildir: UIDVALIDITY, UIDs, UIDNEXT,
    keywords and POP3 UIDLs as Dovecot served them; a file Dovecot never
    listed gets Dovecot's UIDNEXT; mbsync moved from Dovecot to tern
    fetches only that one; a second import changes nothing."""
    if not dovecot_peer.available() or not shutil.which("mbsync"):
        return "skip"
    tmp = tempfile.mkdtemp(prefix="tern-uids-")
    try:
        with dovecot_and_tern(pop3=True, env={"TERN_HOSTNAME": "localhost"}) as (s, dc, want):
            dc_uidl = uidls(dc.pop3_port, "alice", "alice-pw", False)
            assert len(dc_uidl) == 5, dc_uidl
            # mbsync's copy, as a client of Dovecot keeps it.
            maildir = os.path.join(tmp, "local") + "/"
            os.makedirs(maildir)
            conf = os.path.join(tmp, "mbsyncrc")
            mbsync_conf(conf, maildir, "Host 127.0.0.1\nPort %d\nUser alice\nPass alice-pw\n"
                        "SSLType None\nAuthMechs LOGIN\n" % dc.port)
            rc, out = mbsync(conf, tmp)
            assert rc == 0, out
            assert local_count(maildir) == 8, out
            src = os.path.join(dc.tmp, "mail", "alice")
            # Mail Dovecot never saw: no line in dovecot-uidlist.
            with open(os.path.join(src, "new", "1800000000.M1P1.late"), "wb") as f:
                f.write(msg(99, "late"))

            r = s.cli("import", BOB, src, check=False)
            out = r.stdout.decode()
            assert r.returncode == 0, (out, r.stderr)
            said = out

            got = tern_state(s)
            for box in ("INBOX", "Work"):
                uv, un, ids, flags = want[box]
                guv, gun, gids, gflags = got[box][0], got[box][1], dict(got[box][2]), dict(got[box][3])
                assert guv == uv, (box, guv, uv)
                if box == "INBOX":
                    # The late file takes the UID Dovecot would have given it.
                    assert gids.pop(un) == "late-99@remote.test", gids
                    assert gun == un + 1, (gun, un)
                    gflags.pop(un)
                else:
                    assert gun == un, (box, gun, un)
                assert gids == ids, (box, gids, ids)
                for uid in ids:
                    assert flags[uid] - {"\\Recent"} <= gflags[uid], (box, uid, flags[uid], gflags[uid])
            assert "$Label1" in got["INBOX"][3][2], got["INBOX"][3]

            # POP3: the same UIDL strings, byte for byte (the late one last).
            t_uidl = uidls(s.pop3s_port, BOB, BOB_PW, True)
            assert t_uidl[:-1] == dc_uidl, (t_uidl, dc_uidl)

            # mbsync re-pointed at tern: its sync state still holds; only the
            # message Dovecot never listed comes down.
            cert = os.path.join(s.data, "tls", "self-signed.crt")
            mbsync_conf(conf, maildir, "Host localhost\nPort %d\nUser %s\nPass %s\nSSLType IMAPS\n"
                        "CertificateFile %s\n" % (s.imaps_port, BOB, BOB_PW, cert))
            rc, out = mbsync(conf, tmp)
            assert rc == 0 and "UIDVALIDITY" not in out, out
            assert local_count(maildir) == 9, out
            for box in ("INBOX", "Work"):
                assert "%s: UIDVALIDITY %d and the messages' UIDs kept" % (box, want[box][0]) in said, said

            # Again: nothing new, nothing renumbered.
            r = s.cli("import", BOB, src)
            assert b"0 imported, 9 already there, 0 failed" in r.stdout, r.stdout
            again = tern_state(s)
            assert all(again[b][:3] == got[b][:3] for b in got), (again, got)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_import_into_a_mailbox_holding_mail():
    """A mailbox that holds other mail cannot take the source's
    UIDVALIDITY: that folder is left out with an error naming
    --new-uids (exit 1), the others keep theirs; with --new-uids it comes
    in with new UIDs, and a line says so."""
    if not dovecot_peer.available():
        return "skip"
    with dovecot_and_tern() as (s, dc, want):
        src = os.path.join(dc.tmp, "mail", "alice")
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=unverified())
        m.login(BOB, BOB_PW)
        m.append("INBOX", None, None, msg(1, "mine"))
        m.logout()
        r = s.cli("import", BOB, src, check=False)
        err = r.stderr.decode()
        assert r.returncode == 1, (r.stdout, err)
        assert "INBOX holds other mail already" in err and "--new-uids" in err, err
        got = tern_state(s)
        assert got["Work"][0] == want["Work"][0] and got["Work"][2] == want["Work"][2], got
        assert list(got["INBOX"][2].values()) == ["mine-1@remote.test"], got

        r = s.cli("import", BOB, src, "--new-uids")
        assert b"INBOX: holds other mail already: new UIDs (--new-uids)" in r.stdout, r.stdout
        assert b"5 imported, 3 already there" in r.stdout, r.stdout
        got = tern_state(s)
        assert got["INBOX"][0] != want["INBOX"][0], got
        assert sorted(got["INBOX"][2].values()) == sorted(
            ["mine-1@remote.test"] + list(want["INBOX"][2].values())), got


def test_migrate_keeps_uids_and_resumes():
    """tern migrate from a live Dovecot keeps each folder's UIDVALIDITY,
    UIDs and UIDNEXT and says so; a run cut short (a message Dovecot
    cannot read stops the fetch) resumes with the same UIDs, and mail
    that came to Dovecot since keeps its UID too."""
    if not dovecot_peer.available():
        return "skip"
    with dovecot_and_tern() as (s, dc, want):
        # INBOX's last message cannot be read: Dovecot fails the fetch
        # there, after sending the ones before it.
        home = os.path.join(dc.tmp, "mail", "alice")
        with open(os.path.join(home, "dovecot-uidlist")) as f:
            last = [l.split(":", 1)[1].strip() for l in f.read().splitlines()[1:]
                    if int(l.split()[0]) == max(want["INBOX"][2])][0]
        blocked = [os.path.join(home, "cur", n) for n in os.listdir(os.path.join(home, "cur"))
                   if n.split(":")[0] == last][0]
        os.chmod(blocked, 0)

        def migrate():
            return s.cli("migrate", BOB, "--from", "imap://alice@127.0.0.1:%d" % dc.port,
                         input="alice-pw\n", check=False)

        r = migrate()
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert b"fetching INBOX failed" in r.stderr, r.stderr
        part = tern_state(s, ("INBOX",))["INBOX"]
        assert part[0] == want["INBOX"][0], part
        assert len(part[2]) == 4 and all(want["INBOX"][2][u] == i for u, i in part[2].items()), part
        # The UIDNEXT stays where the copied ones put it: the next run
        # gives the rest their own UIDs.
        assert part[1] == max(part[2]) + 1, part

        os.chmod(blocked, 0o600)
        m = imaplib.IMAP4("127.0.0.1", dc.port)
        m.login("alice", "alice-pw")
        m.append("Work", None, None, msg(9, "work"))
        want["Work"] = box_state(m, "Work")
        m.logout()

        r = migrate()
        out = r.stdout.decode()
        assert r.returncode == 0, (out, r.stderr)
        for box in ("INBOX", "Work"):
            assert "%s: UIDVALIDITY %d and the messages' UIDs kept" % (box, want[box][0]) in out, out
        assert "new UIDs" not in out, out
        got = tern_state(s)
        for box in ("INBOX", "Work"):
            assert got[box][:3] == want[box][:3], (box, got[box], want[box])


def test_export_import_keeps_uids():
    """tern export writes dovecot-uidlist: importing its Maildir into
    another account (another server) keeps UIDVALIDITY, UIDs and UIDNEXT."""
    carol = ("carol@example.test", "carol-pw-1")
    s = Server(accounts=[(BOB, BOB_PW), carol], imap=True)
    try:
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=unverified())
        m.login(BOB, BOB_PW)
        for i in range(4):
            m.append("INBOX", None, None, msg(i, "own"))
        m.select("INBOX")
        m.uid("STORE", "2,4", "+FLAGS", "(\\Deleted)")
        m.expunge()
        want = box_state(m, "INBOX")
        m.logout()
        out = os.path.join(s.tmp, "export")
        s.cli("export", BOB, out)
        r = s.cli("import", carol[0], os.path.join(out, BOB))
        assert b"INBOX: UIDVALIDITY %d and the messages' UIDs kept" % want[0] in r.stdout, r.stdout
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=unverified())
        m.login(*carol)
        got = box_state(m, "INBOX")
        m.logout()
        assert got[:3] == want[:3] and sorted(got[2]) == [1, 3] and got[1] == 5, (got, want)
    finally:
        s.cleanup()
