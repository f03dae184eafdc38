"""The mail fetchers over IMAPS, where tests/proto/test_pop3.py has them on
POP3: fetchmail takes everything and deletes it (STORE \\Deleted,
EXPUNGE), then waits in IDLE and fetches a message delivered meanwhile;
getmail6 fetches into a Maildir and, with move_on_delete, leaves the
messages in Archive, whole and not \\Deleted."""
import os
import signal
import subprocess
import time

from test_imap import BOB, BOB_PW, deliver, login, srv, wait_count
from test_pop3 import (check_getmail, bsmtp_count, make_maildir,
                       need, run_getmail)


def fetchmailrc(s, options):
    rc = os.path.join(s.tmp, "fetchmailrc-imap")
    with open(rc, "w") as f:
        f.write('set no syslog\npoll 127.0.0.1 proto imap port %d\n'
                '  user "%s" password "%s" is "root" here\n  no sslcertck ssl %s\n'
                % (s.imaps_port, BOB, BOB_PW, options))
    os.chmod(rc, 0o600)
    return rc


def fetchmail(s, rc, out, *args):
    """fetchmail's command line; its own lock and id files under s.tmp."""
    return (["fetchmail", "-f", rc, "-i", os.path.join(s.tmp, "fetchids-imap"),
             "--pidfile", os.path.join(s.tmp, "fetchmail-imap.pid"), "--bsmtp", out]
            + list(args))


def test_fetchmail_imaps_fetchall_then_idle():
    need("fetchmail")
    with srv() as s:
        deliver(s, 20, body=".stuffed\r\nline\r\n")
        wait_count(s, 20)
        out = os.path.join(s.tmp, "imap.bsmtp")
        env = dict(os.environ, HOME=s.tmp)
        r = subprocess.run(fetchmail(s, fetchmailrc(s, "fetchall no keep"), out), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        text = r.stdout.decode(errors="replace")
        assert r.returncode == 0, text  # 0: mail was retrieved
        assert bsmtp_count(out) == 20, (bsmtp_count(out), text)
        assert s.messages(BOB) == []

        # In the foreground with IDLE and a poll interval of 5 minutes: a
        # message delivered while it waits is fetched and deleted within
        # seconds only if IDLE told it.
        p = subprocess.Popen(fetchmail(s, fetchmailrc(s, "idle no keep"), out, "-N", "-d", "300"),
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            # Its login, then a moment to select and enter IDLE (a message
            # that came before IDLE would be fetched all the same).
            deadline = time.time() + 15
            while s.log_text().count("event=login") < 2 and time.time() < deadline:
                time.sleep(0.1)
            time.sleep(1)
            deliver(s, 1, subject="while idle %d")
            deadline = time.time() + 20
            while bsmtp_count(out) < 21 and time.time() < deadline:
                time.sleep(0.2)
            assert bsmtp_count(out) == 21, bsmtp_count(out)
            deadline = time.time() + 10
            while s.messages(BOB) and time.time() < deadline:
                time.sleep(0.2)
            assert s.messages(BOB) == []
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_getmail_imaps_move_on_delete():
    need("getmail")
    getmail_move_once()


def getmail_move_once():
    with srv() as s:
        deliver(s, 10)
        wait_count(s, 10)
        maildir, user = make_maildir(s)
        r = run_getmail(s, "SimpleIMAPSSLRetriever", s.imaps_port, True, maildir, user,
                        'mailboxes = ("INBOX",)\nmove_on_delete = Archive\n')
        code, text = r
        check_getmail(code, text)
        assert len(os.listdir(os.path.join(maildir, "new"))) == 10, text
        assert s.messages(BOB) == []
        m = login(s)
        assert m.status("Archive", "(MESSAGES DELETED)")[1][0].endswith(
            b"(MESSAGES 10 DELETED 0)")
        m.select("Archive", readonly=True)
        typ, data = m.fetch("1:*", "(FLAGS RFC822.SIZE)")
        assert len(data) == 10 and all(b"\\Deleted" not in d for d in data), data
        m.logout()
