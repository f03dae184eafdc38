"""tern import of mbox files written by Debian's own tools, not ours:
neomutt's Fcc copy of what it sends (its record folder, mbox_type=mbox:
From_ lines, its Status and Content-Length headers, a body line starting "From "
left as it is, mboxcl2 style) and git format-patch --stdout (From_ lines with a commit id and
git's fixed date). Every message arrives whole: the right count, the
subjects, the bodies with "From " lines restored, nothing of the From_
separators left in a message."""
import email
import imaplib
import os
import shutil
import subprocess
import tempfile

from harness import Server
from test_imap import ctx

CAROL, CAROL_PW = "carol@example.test", "carol-pw-mbox-1"
SUBJECTS = ["tools one", "tools two \u00e9t\u00e9", "tools three"]


def fetch_all(s, mailbox):
    m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
    m.login(CAROL, CAROL_PW)
    typ, data = m.select('"%s"' % mailbox, readonly=True)
    assert typ == "OK", data
    out = []
    if int(data[0]):
        typ, data = m.fetch("1:*", "(BODY.PEEK[])")
        out = [d[1] for d in data if isinstance(d, tuple)]
    m.logout()
    return out


def subject(raw):
    h = email.message_from_bytes(raw)["Subject"]
    return str(email.header.make_header(email.header.decode_header(h)))


def test_import_mbox_from_neomutt_and_git():
    tmp = tempfile.mkdtemp(prefix="tern-mboxtools-")
    s = Server(accounts=[(CAROL, CAROL_PW)], imap=True)
    try:
        # neomutt "sends" through /bin/true and keeps its Fcc copy in an mbox.
        mbox = os.path.join(tmp, "sent.mbox")
        rc = os.path.join(tmp, "muttrc")
        with open(rc, "w") as f:
            f.write('set from="carol@example.test"\nset sendmail="/bin/true"\nset mbox_type=mbox\n'
                    'set record="%s"\nset copy=yes\nset charset="utf-8"\nset send_charset="utf-8"\n' % mbox)
        for i, subj in enumerate(SUBJECTS):
            body = "Line one of %d\nFrom here a line that mbox must escape\n>From already quoted\n" % i
            r = subprocess.run(["neomutt", "-n", "-F", rc, "-s", subj, "--", "someone@remote.test"],
                               input=body.encode(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=60, env={"HOME": tmp, "PATH": "/usr/bin:/bin", "TERM": "dumb",
                                                "LANG": "C.UTF-8"})
            assert r.returncode == 0, r.stdout
        with open(mbox, "rb") as f:
            text = f.read()
        # neomutt writes mboxcl2: a Content-Length header and body "From "
        # lines left as they are; only a From_ line with a date separates.
        assert text.count(b"\nFrom carol@") + text.startswith(b"From carol@") == 3, text
        assert b"\nFrom here" in text and b"Content-Length:" in text, text
        r = s.cli("import", CAROL, mbox, "--mailbox", "Sent")
        assert b"3 imported" in r.stdout, r.stdout
        got = fetch_all(s, "Sent")
        assert sorted(subject(m) for m in got) == sorted(SUBJECTS), [subject(m) for m in got]
        for m in got:
            assert not m.startswith(b"From "), m[:80]
            body = email.message_from_bytes(m).get_payload(decode=True)
            assert b"\nFrom here a line" in body and b"\n>From already quoted" in body, body

        # git format-patch: one mbox of three commits.
        repo = os.path.join(tmp, "repo")
        genv = {"HOME": tmp, "PATH": "/usr/bin:/bin", "GIT_AUTHOR_NAME": "Dev",
                "GIT_AUTHOR_EMAIL": "dev@remote.test", "GIT_COMMITTER_NAME": "Dev",
                "GIT_COMMITTER_EMAIL": "dev@remote.test"}
        subprocess.run(["git", "init", "-q", repo], check=True, env=genv)
        for i in range(4):
            with open(os.path.join(repo, "f.txt"), "a") as f:
                f.write("line %d\nFrom a line in a patch %d\n" % (i, i))
            subprocess.run(["git", "-C", repo, "add", "f.txt"], check=True, env=genv)
            subprocess.run(["git", "-C", repo, "commit", "-qm", "change %d" % i], check=True, env=genv)
        patches = os.path.join(tmp, "patches.mbox")
        with open(patches, "wb") as f:
            subprocess.run(["git", "-C", repo, "format-patch", "--stdout", "HEAD~3"], check=True,
                           stdout=f, env=genv)
        r = s.cli("import", CAROL, patches, "--mailbox", "Patches")
        assert b"3 imported" in r.stdout, r.stdout
        got = fetch_all(s, "Patches")
        assert sorted(subject(m) for m in got) == ["[PATCH 1/3] change 1", "[PATCH 2/3] change 2",
                                                   "[PATCH 3/3] change 3"], [subject(m) for m in got]
        assert all(b"+From a line in a patch" in m for m in got), got[0]
        # Idempotent here too.
        assert b"0 imported" in s.cli("import", CAROL, patches, "--mailbox", "Patches").stdout
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
