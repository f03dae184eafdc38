"""imapfilter, the scripted IMAP filter people run from cron, against tern
over IMAPS: its Lua rules SEARCH (FROM, SUBJECT, BODY, BEFORE, UNSEEN,
SEEN, DELETED, FLAGGED), then MOVE, COPY, STORE and delete (STORE \\Deleted
and EXPUNGE), and what it counted and the server's state afterwards must
agree with the rules."""
import os
import shutil
import smtplib
import subprocess
import tempfile

from test_imap import BOB, BOB_PW, login, mailbox_flags, wait_count
from test_pop3 import need
from harness import Server

MESSAGES = [  # (sender, subject, body)
    ("alice@remote.test", "Invoice 1", "Please pay."),
    ("news@lists.test", "[list] hello", "List mail."),
    ("alice@remote.test", "Meeting", "See you tomorrow."),
    ("spam@bad.test", "WIN MONEY", "Click here."),
    ("news@lists.test", "[list] again", "More list mail."),
]

RULES = """
options.timeout = 20
options.certificates = true
options.hostnames = false
options.info = false
acct = IMAP {
  server = 'localhost', port = %(port)d, ssl = 'auto',
  username = '%(user)s', password = '%(pw)s',
}
acct:create_mailbox('Lists')
acct:create_mailbox('Spam')
local out = io.open('%(out)s', 'w')
local lists = acct.INBOX:contain_from('@lists.test')
out:write('lists ', #lists, '\\n')
lists:move_messages(acct['Lists'])
local spam = acct.INBOX:contain_subject('MONEY')
spam:mark_seen()
spam:copy_messages(acct['Spam'])
spam:delete_messages()
local todo = acct.INBOX:contain_subject('Invoice') + acct.INBOX:contain_body('tomorrow')
out:write('todo ', #todo, '\\n')
todo:mark_flagged()
local old = acct.INBOX:is_older(30)
out:write('old ', #old, '\\n')
old:move_messages(acct['Archive'])
out:write('unseen ', #acct.INBOX:is_unseen(), '\\n')
out:write('flagged ', #acct.INBOX:is_flagged(), '\\n')
out:write('spam_seen ', #acct['Spam']:is_seen(), '\\n')
out:write('spam_deleted ', #acct['Spam']:is_deleted(), '\\n')
out:close()
"""


def test_imapfilter_rules():
    need("imapfilter")
    with Server(env={"TERN_HOSTNAME": "localhost"}, accounts=[(BOB, BOB_PW)], imap=True) as s:
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            for sender, subject, body in MESSAGES:
                c.sendmail(sender, [BOB], "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n%s\r\n"
                           % (sender, BOB, subject, body))
        wait_count(s, len(MESSAGES))
        # One message from long ago (its internal date), put there by APPEND.
        m = login(s)
        typ, data = m.append("INBOX", None, '"01-Jan-2020 10:00:00 +0000"',
                             b"From: old@remote.test\r\nSubject: Ancient\r\n\r\nOld.\r\n")
        assert typ == "OK", data
        m.logout()

        tmp = tempfile.mkdtemp(prefix="tern-imapfilter-")
        try:
            home = os.path.join(tmp, ".imapfilter")
            os.makedirs(home)
            # The certificate it would ask to accept, accepted beforehand:
            # imapfilter then checks the server's against this copy (it
            # verifies against the system's CAs only with hostnames on).
            shutil.copy(os.path.join(s.data, "tls", "self-signed.crt"),
                        os.path.join(home, "certificates"))
            out = os.path.join(tmp, "counts")
            conf = os.path.join(home, "config.lua")
            with open(conf, "w") as f:
                f.write(RULES % {"port": s.imaps_port, "user": BOB, "pw": BOB_PW, "out": out})
            r = subprocess.run(["imapfilter", "-c", conf], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120,
                               env={"HOME": tmp, "PATH": "/usr/bin:/bin"})
            assert r.returncode == 0, r.stdout.decode(errors="replace")
            with open(out) as f:
                counts = dict((k, int(v)) for k, v in (line.split() for line in f))
            assert counts == {"lists": 2, "todo": 2, "old": 1, "unseen": 2, "flagged": 2,
                              "spam_seen": 1, "spam_deleted": 0}, counts

            inbox = mailbox_flags(s, "INBOX")
            assert sorted(inbox) == ["Invoice 1", "Meeting"], inbox
            assert all(b"\\Flagged" in f and b"\\Seen" not in f for f in inbox.values()), inbox
            assert sorted(mailbox_flags(s, "Lists")) == ["[list] again", "[list] hello"]
            spam = mailbox_flags(s, "Spam")
            assert list(spam) == ["WIN MONEY"] and spam["WIN MONEY"] == b"\\Seen", spam
            assert list(mailbox_flags(s, "Archive")) == ["Ancient"]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
