"""aerc, a terminal mail client written in Go (go-imap, go-smtp), against
tern over IMAPS and SMTPS (port 465).

aerc checks certificates and has no switch to skip that, so the server
runs as "localhost" and aerc trusts its self-signed certificate through
SSL_CERT_FILE (Go reads it). In a tmux terminal it lists the INBOX,
flags a message, moves one to Archive and deletes one; after each step
imaplib checks the server. It composes a message (an editor script
writes the body) and sends it through submission with AUTH PLAIN: the
message arrives and its copy is APPENDed to Sent. A message delivered
while aerc is open shows up on its screen (IDLE)."""
import os
import shutil
import smtplib
import tempfile

from harness import Server, message
from test_imap import BOB, BOB_PW, mailbox_flags
from test_neomutt import Terminal, wait_view
from test_pop3 import need

SUBJECTS = ("ae one", "ae two", "ae three")


def deliver(s, subject):
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        c.sendmail("alice@remote.test", [BOB], message(subject=subject))


def test_aerc_reads_flags_moves_deletes_and_sends():
    need("aerc")
    need("tmux")
    with Server(accounts=[(BOB, BOB_PW)], imap=True, submission=True,
                env={"TERN_HOSTNAME": "localhost"}) as s:
        for subj in SUBJECTS:
            deliver(s, subj)
        tmp = tempfile.mkdtemp(prefix="tern-aerc-")
        term = None
        try:
            conf = os.path.join(tmp, ".config", "aerc")
            os.makedirs(conf)
            user = BOB.replace("@", "%40")
            with open(os.path.join(conf, "accounts.conf"), "w") as f:
                f.write("[bob]\nsource = imaps://%s:%s@localhost:%d\n"
                        "outgoing = smtps://%s:%s@localhost:%d\ndefault = INBOX\n"
                        "from = Bob <%s>\ncopy-to = Sent\n" % (
                            user, BOB_PW, s.imaps_port, user, BOB_PW, s.submissions_port, BOB))
            os.chmod(os.path.join(conf, "accounts.conf"), 0o600)
            with open(os.path.join(conf, "aerc.conf"), "w") as f:
                f.write("[general]\nunsafe-accounts-conf = true\n")
            editor = os.path.join(tmp, "editor")
            with open(editor, "w") as f:
                f.write('#!/bin/sh\nprintf "Written in aerc.\\n" >> "$1"\n')
            os.chmod(editor, 0o755)
            term = Terminal(tmp, command="aerc", env={
                "SSL_CERT_FILE": os.path.join(s.data, "tls", "self-signed.crt"),
                "EDITOR": editor, "XDG_CONFIG_HOME": os.path.join(tmp, ".config")})
            term.wait(lambda t: all(x in t for x in SUBJECTS), "the three messages", timeout=30)

            # Flag the selected message: exactly one is \Flagged.
            term.keys(":flag", "Enter")
            view = wait_view(s, lambda v: sum(b"\\Flagged" in f for f in v.values()) == 1,
                             "one flagged message")
            flagged = [k for k, f in view.items() if b"\\Flagged" in f][0]

            # Move the next one to Archive.
            term.keys("j")
            term.keys(":move Archive", "Enter")
            view = wait_view(s, lambda v: len(v) == 2, "two messages")
            archived = wait_view(s, lambda v: len(v) == 1, "the moved message",
                                 mailbox="Archive")
            moved = list(archived)[0]
            assert moved in SUBJECTS and moved not in view and flagged in view, (view, moved)

            # Delete one: the INBOX keeps only the other.
            term.keys(":delete", "Enter")
            view = wait_view(s, lambda v: len(v) == 1, "one message")

            # IDLE: a delivery shows up on the screen.
            deliver(s, "ae idle")
            term.wait(lambda t: "ae idle" in t, "the message delivered meanwhile")

            # Compose and send through submission (SMTPS, AUTH); a copy goes to Sent.
            term.keys(':compose -H "To: %s" -H "Subject: ae sent"' % BOB, "Enter")
            term.wait(lambda t: "Send this email?" in t, "the review screen")
            term.keys("y")
            wait_view(s, lambda v: "ae sent" in v, "the sent message")
            sent = wait_view(s, lambda v: "ae sent" in v, "the copy", mailbox="Sent")
            assert b"\\Seen" in sent["ae sent"], sent
            assert s.wait_log("service=submissions") and s.wait_log("mech=plain")
            term.keys(":quit", "Enter")
        finally:
            if term:
                term.close()
            shutil.rmtree(tmp, ignore_errors=True)
        assert moved in mailbox_flags(s, "Archive")
