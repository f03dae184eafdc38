"""mbsync (isync) against tern at the scale issue 3 asks for, once over
STARTTLS (port 143) and once over implicit TLS (993): 300 messages synced
down, 100 local ones pushed up, flag changes and deletions made on each side
and carried to the other, and then a run with nothing left to do (no file
moves, no server change, HIGHESTMODSEQ unchanged)."""
import os
import shutil
import subprocess
import tempfile

from test_imap import BOB, deliver, login, mbsync_conf, srv, wait_count

DOWN, UP = 300, 100


def local_files(maildir):
    """{path: (subject, maildir flags)} of the local INBOX."""
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(maildir, "INBOX", sub)
        for n in os.listdir(d) if os.path.isdir(d) else []:
            p = os.path.join(d, n)
            with open(p, "rb") as fh:
                head = fh.read(4096)
            subj = head.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].split(b"\n", 1)[0].decode()
            flags = n.split(":2,", 1)[1] if ":2," in n else ""
            out[p] = (subj, flags)
    return out


def server_state(s):
    """(STATUS, {subject: set(flags)}) of the server's INBOX."""
    m = login(s)
    st = m.status("INBOX", "(HIGHESTMODSEQ MESSAGES UIDNEXT)")[1][0]
    typ, data = m.select("INBOX", readonly=True)
    state = {}
    if int(data[0]) > 0:
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        for d in data:
            if isinstance(d, tuple):
                flags = d[0].split(b"FLAGS (", 1)[1].split(b")", 1)[0].decode().split()
                subj = d[1].split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
                state[subj] = set(flags)
    m.logout()
    return st, state


def by_subject(files):
    return {subj: (p, flags) for p, (subj, flags) in files.items()}


def scenario(implicit):
    if not shutil.which("mbsync"):
        return "skip"
    with srv(env={"TERN_HOSTNAME": "localhost"}) as s:
        deliver(s, DOWN, subject="down %d")
        wait_count(s, DOWN, timeout=30)
        tmp = tempfile.mkdtemp(prefix="tern-mbsync-")
        try:
            conf, maildir = mbsync_conf(s, tmp, implicit)

            def run():
                r = subprocess.run(["mbsync", "-c", conf, "-a"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=120,
                                   env={"HOME": tmp, "PATH": "/usr/bin:/bin"})
                out = r.stdout.decode(errors="replace")
                assert r.returncode == 0, out
                return out

            # 1. Everything comes down, whole.
            run()
            files = by_subject(local_files(maildir))
            assert sorted(files) == sorted("down %d" % i for i in range(DOWN)), len(files)

            # 2. 100 local messages go up (APPEND with their flags).
            for i in range(UP):
                seen = i % 2 == 0
                sub = "cur" if seen else "new"
                name = "1700000000.%d_%d.local" % (i, os.getpid()) + (":2,S" if seen else "")
                with open(os.path.join(maildir, "INBOX", sub, name), "wb") as fh:
                    fh.write(b"From: me@example.test\r\nTo: bob@example.test\r\n"
                             b"Subject: up %d\r\n\r\nwritten locally %d\r\n" % (i, i))
            run()
            st, state = server_state(s)
            assert len(state) == DOWN + UP, len(state)
            for i in range(UP):
                assert ("\\Seen" in state["up %d" % i]) == (i % 2 == 0), (i, state["up %d" % i])

            # 3. Flags and deletions on the local side go up.
            files = by_subject(local_files(maildir))
            for i in range(0, 40):  # flag down 0..39 (F) and mark them seen
                p, flags = files["down %d" % i]
                base = os.path.basename(p).split(":2,")[0]
                os.rename(p, os.path.join(maildir, "INBOX", "cur", base + ":2,FS"))
            for i in range(40, 60):  # delete down 40..59 locally
                os.unlink(files["down %d" % i][0])
            run()
            st, state = server_state(s)
            assert len(state) == DOWN + UP - 20, len(state)
            for i in range(0, 40):
                assert {"\\Flagged", "\\Seen"} <= state["down %d" % i], state["down %d" % i]
            assert not any("down %d" % i in state for i in range(40, 60))

            # 4. Flags and deletions on the server go down.
            m = login(s, implicit=implicit)
            m.select("INBOX")
            typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            seq_of = {}
            for d in data:
                if isinstance(d, tuple):
                    subj = d[1].split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
                    seq_of[subj] = d[0].split()[0].decode()
            answered = ",".join(seq_of["down %d" % i] for i in range(60, 90))
            typ, data = m.store(answered, "+FLAGS", "(\\Answered)")  # down 60..89
            assert typ == "OK", data
            typ, data = m.search(None, "SUBJECT", '"up 1"')  # up 1, up 10..19
            doomed = data[0].split()
            assert len(doomed) == 11, data
            m.store(b",".join(doomed).decode(), "+FLAGS", "(\\Deleted)")
            m.expunge()
            m.logout()
            run()
            files = by_subject(local_files(maildir))
            assert len(files) == DOWN + UP - 20 - 11, len(files)
            for i in range(60, 90):
                assert "R" in files["down %d" % i][1], files["down %d" % i]
            assert "up 1" not in files and "up 15" not in files and "up 2" in files

            # 5. Twice more: the second time nothing moves either way.
            run()
            before = (sorted(local_files(maildir).items()), server_state(s))
            run()
            after = (sorted(local_files(maildir).items()), server_state(s))
            assert after == before
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def test_imap_mbsync_starttls_300_down_100_up():
    return scenario(implicit=False)


def test_imap_mbsync_imaps_300_down_100_up():
    return scenario(implicit=True)
