"""neomutt, a real terminal mail client, against tern (IMAPS and POP3S).

It sends in batch mode: three messages to the inbound MX port (it takes
STARTTLS there and trusts our self-signed certificate through
certificate_file) and one through submission with AUTH. Then it runs in a
tmux terminal on bob's INBOX over IMAPS, and what it shows on the screen
is read back: the index lists the messages; a message opens (\\Seen
reaches the server at the next sync); F flags one; s saves one to another folder and d
deletes one, and $ syncs (STORE \\Deleted, EXPUNGE); a message delivered
while it is open appears in the index (IMAP IDLE). The server's state is
checked with imaplib after each step, and the saved copy must be whole
and not \\Deleted: neomutt saves with COPY, \\Deleted on the original and
EXPUNGE, which once left the copy \\Deleted too."""
import os
import shutil
import smtplib
import subprocess
import tempfile
import time

from test_imap import BOB, BOB_PW, login, mailbox_flags, wait_count
from test_pop3 import need
from harness import Server, message

SUBJECTS = ("nm one", "nm two", "nm three")


def muttrc(s, tmp, smtp_url, sender, extra=""):
    """A new neomuttrc in tmp: sending through smtp_url as sender, our
    certificate trusted, no caches, an index the test can read; extra
    lines after those. Returns its path."""
    path = os.path.join(tmp, "muttrc-%d" % len(os.listdir(tmp)))
    with open(path, "w") as f:
        f.write("""set from="%s"
set smtp_url="%s"
set certificate_file="%s"
set ssl_force_tls=yes
set record=""
set header_cache=""
set message_cachedir=""
set sort=date
set index_format="%%4C %%Z %%s"
set delete=yes
set wait_key=no
set help=no
set arrow_cursor=yes
%s""" % (sender, smtp_url, os.path.join(s.data, "tls", "self-signed.crt"), extra))
    return path


def send(tmp, rc, subject, to=BOB, body=None):
    r = subprocess.run(["neomutt", "-n", "-F", rc, "-s", subject, "--", to],
                       input=(body or "Body of %s.\n" % subject).encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                       env={"HOME": tmp, "PATH": "/usr/bin:/bin", "TERM": "dumb"})
    assert r.returncode == 0, r.stdout.decode(errors="replace")


class Terminal:
    """A terminal client (neomutt by default) in a detached tmux session on
    a private socket; env adds to its environment."""

    def __init__(self, tmp, rc=None, command=None, env=None):
        self.sock = os.path.join(tmp, "tmux.sock")
        self.env = {"HOME": tmp, "PATH": "/usr/bin:/bin", "TERM": "xterm"}
        self.env.update(env or {})
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "nm", "-x", "150", "-y", "40",
                  command or "neomutt -n -F %s" % rc)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=20, env=self.env)

    def screen(self):
        r = self.tmux("capture-pane", "-p", "-t", "nm")
        return r.stdout.decode(errors="replace") if r.returncode == 0 else ""

    def wait(self, pred, what, timeout=20):
        deadline = time.time() + timeout
        text = ""
        while time.time() < deadline:
            text = self.screen()
            if pred(text):
                return text
            time.sleep(0.2)
        raise AssertionError("the screen never showed %s:\n%s" % (what, text))

    def keys(self, *keys):
        r = self.tmux("send-keys", "-t", "nm", *keys)
        assert r.returncode == 0, r.stdout

    def goto(self, subject):
        """Puts the index cursor on the message with this subject."""
        self.keys("/", "C-u", "~s '%s'" % subject, "Enter")
        self.wait(lambda t: any(line.startswith("->") and subject in line
                                for line in t.splitlines()), "the cursor on " + subject)

    def read(self, subject, after):
        """Opens the message with this subject, waits for its body, goes
        back to the index and waits for the subject after shown there."""
        self.goto(subject)
        self.keys("Enter")
        self.wait(lambda t: "Body of %s." % subject in t, "the body of " + subject)
        self.keys("q")
        self.wait(lambda t: after in t and "Body of" not in t, "the index again")

    def alive(self):
        return self.tmux("has-session", "-t", "nm").returncode == 0

    def close(self):
        if self.alive():
            self.tmux("kill-server")


def wait_view(s, pred, what, mailbox="INBOX", timeout=20):
    deadline = time.time() + timeout
    view = {}
    while time.time() < deadline:
        view = mailbox_flags(s, mailbox)
        if pred(view):
            return view
        time.sleep(0.2)
    raise AssertionError("%s never held %s: %r" % (mailbox, what, view))


def test_neomutt_sends_and_reads_over_imaps():
    need("neomutt")
    need("tmux")
    with Server(env={"TERN_HOSTNAME": "localhost"}, accounts=[(BOB, BOB_PW)], imap=True,
                submission=True) as s:
        tmp = tempfile.mkdtemp(prefix="tern-neomutt-")
        term = None
        try:
            # Sending: the MX port (no AUTH, STARTTLS) and submission (AUTH).
            mx = muttrc(s, tmp, "smtp://localhost:%d/" % s.smtp_port, "alice@remote.test")
            for subj in SUBJECTS:
                send(tmp, mx, subj)
            sub = muttrc(s, tmp, "smtp://%s@localhost:%d/" % (BOB.replace("@", "%40"),
                                                               s.submission_port),
                         BOB, 'set smtp_pass="%s"\n' % BOB_PW)
            send(tmp, sub, "nm submitted")
            wait_count(s, 4, timeout=30)
            first = s.raw(BOB, s.messages(BOB)[0][0])
            assert b"with ESMTPS" in first and b"Subject: nm one" in first, first[:600]

            # Reading: neomutt on the INBOX over IMAPS, IDLE on.
            rc = muttrc(s, tmp, "smtp://localhost:%d/" % s.smtp_port, BOB, """\
set imap_user="%s"
set imap_pass="%s"
set folder="imaps://localhost:%d/"
set spoolfile="+INBOX"
set imap_idle=yes
set mail_check=1
set timeout=1
set move=no
set mark_old=no
set confirmappend=no
set confirmcreate=no
""" % (BOB, BOB_PW, s.imaps_port))
            term = Terminal(tmp, rc)
            everything = SUBJECTS + ("nm submitted",)
            term.wait(lambda t: all(x in t for x in everything), "the four messages")

            # Open one: its body shows. neomutt reads with BODY.PEEK and
            # stores \Seen itself at the next sync.
            term.read("nm two", "nm three")

            # Flag one, save one to Saved, delete one, then sync.
            term.goto("nm three")
            term.keys("F")
            term.goto("nm one")
            term.keys("s")
            term.wait(lambda t: "Save to mailbox" in t, "the save prompt")
            term.keys("C-u", "=Saved", "Enter")
            term.goto("nm submitted")
            term.keys("d")
            term.keys("$")
            v = wait_view(s, lambda v: "nm one" not in v and "nm submitted" not in v,
                          "nm one and nm submitted gone")
            assert sorted(v) == ["nm three", "nm two"], v
            assert b"\\Flagged" in v["nm three"], v
            assert b"\\Seen" in v["nm two"], v
            saved = mailbox_flags(s, "Saved")
            assert list(saved) == ["nm one"], saved
            assert b"\\Deleted" not in saved["nm one"], saved

            # The saved copy is whole and survives an EXPUNGE in Saved.
            m = login(s)
            m.select("Saved")
            m.expunge()
            typ, data = m.fetch("1", "(BODY.PEEK[TEXT])")
            assert typ == "OK" and data[0][1] == b"Body of nm one.\r\n", data
            m.logout()

            # A delivery while neomutt sits in the INBOX shows up.
            with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
                c.sendmail("carol@remote.test", [BOB], message(subject="nm late", to=BOB))
            term.wait(lambda t: "nm late" in t, "nm late (IDLE)", timeout=30)

            term.keys("q")
            deadline = time.time() + 15
            while term.alive() and time.time() < deadline:
                time.sleep(0.2)
            assert not term.alive(), term.screen()
            assert sorted(mailbox_flags(s)) == ["nm late", "nm three", "nm two"]
        finally:
            if term:
                term.close()
            shutil.rmtree(tmp, ignore_errors=True)


def test_neomutt_pop3s_reads_and_deletes():
    """neomutt on POP3S: it lists the maildrop, shows a message, and a
    message deleted with d is gone after it quits (DELE, QUIT)."""
    need("neomutt")
    need("tmux")
    with Server(env={"TERN_HOSTNAME": "localhost"}, accounts=[(BOB, BOB_PW)], pop3=True) as s:
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            for subj in ("pop one", "pop two", "pop three"):
                c.sendmail("alice@remote.test", [BOB],
                           message(subject=subj, to=BOB, body="Body of %s.\r\n" % subj))
        wait_count(s, 3)
        tmp = tempfile.mkdtemp(prefix="tern-neomutt-")
        term = None
        try:
            rc = muttrc(s, tmp, "smtp://localhost:%d/" % s.smtp_port, BOB, """\
set pop_user="%s"
set pop_pass="%s"
set folder="pops://localhost:%d/"
set spoolfile="+"
""" % (BOB, BOB_PW, s.pop3s_port))
            term = Terminal(tmp, rc)
            term.wait(lambda t: all(x in t for x in ("pop one", "pop two", "pop three")),
                      "the three messages")
            term.read("pop two", "pop three")
            term.keys("d")
            term.keys("q")
            deadline = time.time() + 15
            while term.alive() and time.time() < deadline:
                time.sleep(0.2)
            assert not term.alive(), term.screen()
            subjects = sorted(line.split()[-2] + " " + line.split()[-1]
                              for _, line in s.messages(BOB))
            assert subjects == ["pop one", "pop three"], s.messages(BOB)
            assert "event=expunged" in s.log_text() and "removed=1" in s.log_text()
        finally:
            if term:
                term.close()
            shutil.rmtree(tmp, ignore_errors=True)
