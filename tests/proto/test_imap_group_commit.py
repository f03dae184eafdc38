"""IMAP writes of many sessions through the store's group commit, killed
right after the last answer.

The writer answers a batch only after the flush that covers its commit,
which may be the next batch's (store_writer.c, "One flush per commit"),
so an answer must never come before its commit. Eight sessions of bob,
each owning one message, send their writes pipelined (one packet of
commands, not waiting for the answers): 24 UID STOREs that replace the
message's keywords, each with the next of its own keywords, then two
APPENDs, one with \\Deleted, and a UID EXPUNGE of that one. Every answer
must be OK and in the order sent (the FETCH a STORE sends back carries
that command's keyword: the session's writes are applied in its order),
and every session must get all its answers (none is starved by the
others).

The moment the last session has its last answer, the server is killed
(SIGKILL) and started again on the same data: each owned message holds
exactly its session's last keyword, each session's other APPEND is there,
the expunged ones are gone.

A kill of the process keeps what reached the kernel's page cache: this
checks that nothing is answered before it is committed and that the
commits are whole, not the flush itself (test_store_group's unit test
makes a flush fail and sees the answer say so).
"""
import re
import socket
import threading

from test_imap import BOB, BOB_PW, ctx, deliver, srv, wait_count

SESSIONS = 8
STORES = 24


class Pipe:
    """A raw IMAPS session that sends commands without waiting."""

    def __init__(self, s):
        sock = socket.create_connection(("127.0.0.1", s.imaps_port), timeout=60)
        self.sock = ctx().wrap_socket(sock, server_hostname="mx.example.test")
        self.buf = b""
        self.line()  # greeting

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise AssertionError("connection closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def until(self, tag):
        """The untagged lines before tag's answer, and that answer."""
        out = []
        while True:
            line = self.line()
            if line.startswith(tag + " "):
                return out, line[len(tag) + 1:]
            out.append(line)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def session(s, k, uid, results, errors):
    """Session k: pipelined writes on its message uid; results[k] gets the
    APPENDUIDs of the message kept and the one expunged."""
    try:
        p = Pipe(s)
        p.sock.sendall(b'a LOGIN "%s" "%s"\r\nb SELECT INBOX\r\n' % (BOB.encode(), BOB_PW.encode()))
        for tag in ("a", "b"):
            _, ans = p.until(tag)
            assert ans.startswith("OK"), (k, tag, ans)
        keep = b"Subject: keep %d\r\n\r\nkept\r\n" % k
        gone = b"Subject: gone %d\r\n\r\ngone\r\n" % k
        cmds = [b"s%d UID STORE %d FLAGS (k%d_%d)" % (j, uid, k, j) for j in range(STORES)]
        cmds.append(b"p1 APPEND INBOX {%d+}\r\n%s" % (len(keep), keep))
        cmds.append(b"p2 APPEND INBOX (\\Deleted) {%d+}\r\n%s" % (len(gone), gone))
        p.sock.sendall(b"\r\n".join(cmds) + b"\r\n")
        for j in range(STORES):
            untagged, ans = p.until("s%d" % j)
            assert ans.startswith("OK"), (k, j, ans)
            fetched = [u for u in untagged if re.search(r"UID %d\b" % uid, u)]
            # The FETCH of this STORE shows this STORE's keyword: the
            # writes are applied in the order the session sent them.
            assert fetched and "k%d_%d" % (k, j) in fetched[-1], (k, j, untagged)
        appended = []
        for tag in ("p1", "p2"):
            _, ans = p.until(tag)
            m = re.search(r"\[APPENDUID \d+ (\d+)\]", ans)
            assert ans.startswith("OK") and m, (k, tag, ans)
            appended.append(int(m.group(1)))
        p.sock.sendall(b"x UID EXPUNGE %d\r\n" % appended[1])
        _, ans = p.until("x")
        assert ans.startswith("OK"), (k, "x", ans)
        results[k] = appended
        p.close()
    except Exception as e:  # reported by the main thread
        errors.append("session %d: %r" % (k, e))


def test_imap_group_commit_kill9():
    with srv() as s:
        deliver(s, SESSIONS)
        wait_count(s, SESSIONS)
        results, errors = {}, []
        threads = [threading.Thread(target=session, args=(s, k, k + 1, results, errors))
                   for k in range(SESSIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        # The last answer is in: kill at once, nothing may be lost.
        s.kill9()
        assert not errors, errors
        assert sorted(results) == list(range(SESSIONS)), results  # none starved
        s.start()
        p = Pipe(s)
        p.sock.sendall(b'a LOGIN "%s" "%s"\r\nb SELECT INBOX\r\nc UID FETCH 1:* (FLAGS)\r\n'
                       % (BOB.encode(), BOB_PW.encode()))
        p.until("a")
        p.until("b")
        untagged, ans = p.until("c")
        assert ans.startswith("OK"), ans
        flags = {}
        for u in untagged:
            m = re.match(r"\* \d+ FETCH \(.*?UID (\d+).*?FLAGS \(([^)]*)\)|"
                         r"\* \d+ FETCH \(.*?FLAGS \(([^)]*)\).*?UID (\d+)", u)
            if m:
                uid = int(m.group(1) or m.group(4))
                flags[uid] = set((m.group(2) if m.group(1) else m.group(3)).split())
        for k in range(SESSIONS):
            got = flags.get(k + 1, set()) - {"\\Recent"}
            assert got == {"k%d_%d" % (k, STORES - 1)}, (k, got)
            kept, gone = results[k]
            assert kept in flags, (k, kept, sorted(flags))
            assert gone not in flags, (k, gone, sorted(flags))
        assert len(flags) == 2 * SESSIONS, sorted(flags)
        p.close()
