"""The store's writes failing at one exact system call (strace's fault
injection on a running `tern serve`), where a full tmpfs cannot reach:
ENOSPC at each write of a commit in turn, the meta page's included (on a
copy-on-write file system, btrfs or ZFS, even an overwrite needs room), and
at the flush that follows. Each time: a temporary error or a 250, never a
250 for what is then missing, and a server that works again afterwards.
"""
import os
import shutil
import signal
import smtplib
import subprocess

from harness import Server, message

BOB = ("bob@example.test", "bob-pw-1")


def send(s, subject):
    """The reply to DATA of one small message to bob: a code, or None when
    the connection broke before an answer (the server ended)."""
    try:
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.sendmail("a@remote.test", [BOB[0]], message(subject=subject))
        return 250
    except smtplib.SMTPDataError as e:
        return e.smtp_code
    except smtplib.SMTPRecipientsRefused as e:
        return list(e.recipients.values())[0][0]
    except (smtplib.SMTPServerDisconnected, ConnectionError):
        return None


class Inject:
    """strace attached to every thread of the server, failing the nth call
    of syscall on data.mdb with err; detached on exit."""

    def __init__(self, s, syscall, nth, err="ENOSPC"):
        self.out = os.path.join(s.tmp, "strace.%s.%d" % (syscall, nth))
        self.p = subprocess.Popen(
            ["strace", "-f", "-o", self.out, "-p", str(s.proc.pid), "-P",
             os.path.join(s.data, "data.mdb"), "-e", "trace=" + syscall,
             "-e", "inject=%s:error=%s:when=%d" % (syscall, err, nth)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # "Process N attached with M threads": every thread is traced.
        line = self.p.stderr.readline()
        assert "attached" in line, line

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # strace ends by itself when the server has; an interrupt while
        # the last thread exits can be lost, so it is killed after a while
        # (the kernel detaches what it still traced).
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()

    def injected(self):
        with open(self.out) as f:
            return "(INJECTED)" in f.read()


def subjects(s):
    return sorted(line.split()[4] for _, line in s.messages(BOB[0]))


def test_each_write_of_a_commit_failing():
    # A delivery's commit writes its pages (pwrite64, writev), flushes
    # them, then writes the meta page (a pwrite64 too). Each pwrite64 in
    # turn fails with ENOSPC. The meta page's failure left LMDB's
    # environment marked unusable (MDB_PANIC): the server stayed up and
    # answered every later command 451 ("Temporary lookup failure" at
    # RCPT), even with the disk back, until someone restarted it by hand.
    # Now the server ends with one line saying so, and started again it
    # has every message it answered 250 for, once, and none other.
    if not shutil.which("strace"):
        print("  (no strace)")
        return "skip"
    with Server(accounts=[BOB]) as s:
        assert send(s, "first") == 250
        acked, refused, ended = ["first"], [], 0
        for nth in range(1, 13):
            with Inject(s, "pwrite64", nth) as inj:
                code = send(s, "m%d" % nth)
            (acked if code == 250 else refused).append("m%d" % nth)
            assert code in (250, 451, 452, None), (nth, code)
            probe = send(s, "p%d" % nth) if s.proc.poll() is None else None
            if probe is None:
                # Ended: at the failed commit or at the next transaction.
                assert s.proc.wait(30) == 1, s.proc.returncode
                s.reader.join(5)
                assert "event=fatal" in s.log_text() and \
                    "the store could not record a commit" in s.log_text(), s.log_text()[-3000:]
                ended += 1
                print("  pwrite64 #%d failed (%s): %s, then the server ended; restarted" %
                      (nth, "injected" if inj.injected() else "not reached", code))
                s.start()
                probe = send(s, "p%d" % nth)
            assert probe == 250, (nth, code, probe, s.log_text()[-3000:])
            acked.append("p%d" % nth)
            if ended:
                break
        assert ended, "no pwrite64 of the first 12 was the meta page's"
        # Every message answered 250 is there once; no refused one is.
        s.kill9()
        s.start()
        got = subjects(s)
        assert got == sorted(acked), (got, acked, refused)
        print("  %d answered 250, all there once; %d refused, none there" % (len(acked), len(refused)))
