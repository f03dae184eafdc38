"""Real clients on the extension paths they take, one server, the
clients' own protocol logs read back (mbsync -Dn, neomutt -d 5):

mbsync (isync) turns COMPRESS=DEFLATE on by itself after login, then
syncs the INBOX both ways: a message it uploads gets its UID from
APPENDUID (UIDPLUS), so it never searches for it (no "X-TUID" SEARCH),
and a message deleted locally is marked \Deleted and expunged (CLOSE),
leaving the others. The run after that has nothing to do.

neomutt with imap_condstore and imap_qresync and a header cache:
ENABLE QRESYNC, SELECT (CONDSTORE); after another session expunged one
message and flagged another, its next open asks only for changes
(UID FETCH ... (CHANGEDSINCE m VANISHED)), gets "VANISHED (EARLIER)"
for the expunged one and the flag, and shows exactly that on screen."""
import os
import re
import shutil
import subprocess
import tempfile
import time

from test_imap import BOB, BOB_PW, deliver, login, mailbox_flags, mbsync_conf, srv, wait_count
from test_neomutt import Terminal, muttrc
from test_pop3 import need


def run_mbsync(conf, tmp):
    r = subprocess.run(["mbsync", "-Dn", "-c", conf, "-a"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120,
                       env={"HOME": tmp, "PATH": "/usr/bin:/bin"})
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out[-3000:]
    return out


def sent(log):
    """The commands mbsync's log shows it sent (">>> " lines, some after
    "(n in progress) ")."""
    return [x.split(">>> ", 1)[1] for x in log.splitlines() if ">>> " in x]


def check_mbsync(s, tmp):
    conf, maildir = mbsync_conf(s, tmp, True)
    out = run_mbsync(conf, tmp)
    cmds = sent(out)
    assert "2 COMPRESS DEFLATE" in cmds and "2 OK Begin compression." in out, cmds[:4]
    new = os.path.join(maildir, "INBOX", "new")
    assert len(os.listdir(new)) == 3, os.listdir(new)
    with open(os.path.join(new, "1700000000.1_1.local"), "wb") as f:
        f.write(b"From: bob@example.test\nSubject: mb up\n\nUploaded.\n")
    gone = sorted(x for x in os.listdir(new) if not x.endswith(".local"))[0]
    with open(os.path.join(new, gone), "rb") as f:
        gone_subject = re.search(rb"\nSubject: ([^\r\n]+)", f.read()).group(1).decode()
    os.rename(os.path.join(new, gone), os.path.join(maildir, "INBOX", "cur", gone + ":2,T"))
    out = run_mbsync(conf, tmp)
    cmds = sent(out)
    assert any(re.match(r"\d+ APPEND \"INBOX\"", c) for c in cmds), cmds
    assert re.search(r"\d+ OK \[APPENDUID \d+ 4\]", out), out[-2000:]
    assert not any("X-TUID" in c for c in cmds if "APPEND" not in c), cmds
    assert any(re.match(r"\d+ UID STORE \d+ \+FLAGS.SILENT \(\\Deleted\)", c) for c in cmds), cmds
    assert cmds[-2:][0].endswith(" CLOSE"), cmds  # mbsync expunges with CLOSE
    v = mailbox_flags(s, "INBOX")
    want = sorted(["mb 0", "mb 1", "mb 2", "mb up"])
    want.remove(gone_subject)
    assert sorted(v) == want, (v, gone_subject)
    out = run_mbsync(conf, tmp)
    assert not any(re.search(r"APPEND|STORE|EXPUNGE", c) for c in sent(out)), sent(out)


def check_neomutt(s, tmp):
    os.makedirs(os.path.join(tmp, "hc"))
    rc = muttrc(s, tmp, "smtp://localhost:%d/" % s.smtp_port, BOB, """\
set imap_user="%s"
set imap_pass="%s"
set folder="imaps://localhost:%d/"
set spoolfile="+INBOX"
set header_cache="%s/hc"
set imap_condstore=yes
set imap_qresync=yes
set mark_old=no
set mail_check=1
set timeout=1
""" % (BOB, BOB_PW, s.imaps_port, tmp))

    def session(n, pred, what):
        log = os.path.join(tmp, "nmlog%d" % n)
        term = Terminal(tmp, command="neomutt -n -F %s -d 5 -l %s" % (rc, log))
        try:
            screen = term.wait(pred, what)
            term.keys("q")
            deadline = time.time() + 10
            while term.alive() and time.time() < deadline:
                time.sleep(0.1)
        finally:
            term.close()
        # neomutt numbers its log file: log0 is this session's.
        with open(log + "0", errors="replace") as f:
            return screen, [x.split("> ", 1)[1] if "4> " in x else x
                            for x in f.read().splitlines()]

    screen, log = session(1, lambda t: all("nq %d" % i in t for i in range(3)), "nq 0..2")
    assert any(x.endswith("ENABLE QRESYNC") for x in log), [x for x in log if "ENABLE" in x]
    assert any(x.endswith('SELECT "INBOX" (CONDSTORE)') for x in log), log[-40:]
    m = login(s)
    m.select("INBOX")
    typ, data = m.uid("SEARCH", None, "SUBJECT", '"nq 0"')
    gone = data[0].decode()
    m.uid("STORE", gone, "+FLAGS", "\\Deleted")
    m.expunge()
    typ, data = m.search(None, "SUBJECT", '"nq 2"')
    m.store(data[0], "+FLAGS", "\\Flagged")
    m.logout()
    screen, log = session(2, lambda t: "nq 1" in t and "nq 2" in t, "nq 1 and nq 2")
    changed = [x for x in log if "(CHANGEDSINCE " in x and x.endswith(" VANISHED)")]
    assert changed, [x for x in log if "FETCH" in x]
    assert any(x.endswith("< * VANISHED (EARLIER) %s" % gone) for x in log), [x for x in log if "< *" in x]
    assert "nq 0" not in screen, screen
    flagged = [x for x in screen.splitlines() if "nq 2" in x]
    assert flagged and "!" in flagged[0], screen


def test_imap_clients_on_extension_paths():
    need("mbsync")
    need("neomutt")
    need("tmux")
    with srv(env={"TERN_HOSTNAME": "localhost"}) as s:
        deliver(s, 3, subject="mb %d")
        wait_count(s, 3)
        tmp = tempfile.mkdtemp(prefix="tern-clientext-")
        try:
            check_mbsync(s, tmp)
            m = login(s)
            m.select("INBOX")
            m.store("1:*", "+FLAGS", "\\Deleted")
            m.expunge()
            m.logout()
            deliver(s, 3, subject="nq %d")
            wait_count(s, 3)
            os.makedirs(os.path.join(tmp, "nm"))
            check_neomutt(s, os.path.join(tmp, "nm"))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
