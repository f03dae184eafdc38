"""offlineimap (Debian offlineimap3) against the real binary: a full sync
of every mailbox into a Maildir over IMAPS and over STARTTLS, a local new
message and a local flag change pushed up (APPEND, STORE), a server-side
expunge pulled down, and a last run that changes nothing on either side."""
import os
import shutil
import subprocess
import tempfile

from test_imap import BOB, BOB_PW, deliver, login, srv, wait_count

CONF = """[general]
accounts = tern
metadata = %(tmp)s/meta
ui = basic

[Account tern]
localrepository = near
remoterepository = far

[Repository near]
type = Maildir
localfolders = %(tmp)s/mail

[Repository far]
type = IMAP
remotehost = localhost
remoteport = %(port)d
remoteuser = %(user)s
remotepass = %(pw)s
ssl = %(ssl)s
starttls = %(starttls)s
sslcacertfile = %(cert)s
"""


def offlineimap(tmp, conf):
    r = subprocess.run(["offlineimap", "-c", conf, "-o", "-u", "basic"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120,
                       env={"HOME": tmp, "PATH": "/usr/bin:/bin"})
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0 and "ERROR" not in out, out
    return out


def maildir_files(root, box):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(root, box, sub)
        out += [os.path.join(d, n) for n in sorted(os.listdir(d))] if os.path.isdir(d) else []
    return out


def run_sync(implicit):
    if not shutil.which("offlineimap"):
        return "skip"
    with srv(env={"TERN_HOSTNAME": "localhost"}) as s:
        deliver(s, 5)
        wait_count(s, 5)
        m = login(s)
        m.create("Projects")
        m.append("Projects", "(\\Flagged)", None, b"Subject: in projects\r\n\r\np\r\n")
        m.logout()
        tmp = tempfile.mkdtemp(prefix="tern-offlineimap-")
        try:
            conf = os.path.join(tmp, "offlineimaprc")
            with open(conf, "w") as f:
                f.write(CONF % {"tmp": tmp, "port": s.imaps_port if implicit else s.imap_port,
                                "user": BOB, "pw": BOB_PW, "ssl": "yes" if implicit else "no",
                                "starttls": "no" if implicit else "yes",
                                "cert": os.path.join(s.data, "tls", "self-signed.crt")})
            mail = os.path.join(tmp, "mail")
            offlineimap(tmp, conf)
            assert len(maildir_files(mail, "INBOX")) == 5
            proj = maildir_files(mail, "Projects")
            assert len(proj) == 1 and proj[0].endswith(":2,F"), proj
            for box in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
                assert os.path.isdir(os.path.join(mail, box)), box
            # Local changes go up: a new message (APPEND) and a flag (STORE).
            with open(os.path.join(mail, "INBOX", "new", "1700000000.1.local"), "wb") as fh:
                fh.write(b"From: me@example.test\r\nSubject: written offline\r\n\r\nhi\r\n")
            first = maildir_files(mail, "INBOX")[0]
            os.rename(first, first.split(":2,")[0] + ":2,S")
            offlineimap(tmp, conf)
            m = login(s)
            m.select("INBOX")
            assert len(m.search(None, "SUBJECT", "offline")[1][0].split()) == 1
            assert len(m.search(None, "SEEN")[1][0].split()) == 1
            # A server-side expunge comes down.
            m.store("2", "+FLAGS.SILENT", "(\\Deleted)")
            m.expunge()
            m.logout()
            offlineimap(tmp, conf)
            assert len(maildir_files(mail, "INBOX")) == 5
            # Nothing left to do: same files, no write on the server.
            def state():
                c = login(s)
                st = c.status("INBOX", "(HIGHESTMODSEQ MESSAGES)")[1][0]
                c.logout()
                return sorted(maildir_files(mail, "INBOX")), st
            before = state()
            offlineimap(tmp, conf)
            assert state() == before
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def test_imap_offlineimap_imaps():
    return run_sync(True)


def test_imap_offlineimap_starttls():
    return run_sync(False)
