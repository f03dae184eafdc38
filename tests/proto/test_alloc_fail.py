"""An allocation failure in a session ends that session with a temporary
error, never the process (issue 28, finding 1; core/xalloc.c).

TERN_TEST_ALLOC_FAIL=N (test-only) makes the first attempt of every
allocation of exactly N bytes fail, as malloc would when memory runs out.
An IMAP command with a literal of LIT bytes (the largest the parser keeps
in its arena, imap_parser.c SMALL_LITERAL) makes it ask for one arena block
of exactly ALLOC bytes (app/core/arena.c: a request that does not fit the
4 KiB head block and is over a quarter of it gets its own block, a 32-byte
header + the literal and its NUL rounded to 16), so one chosen session
hits it.

Shown: the session that hit it gets `* BYE [UNAVAILABLE]` and is closed;
another logged-in session goes on; new connections work; the server did
not exit; the reserve is taken back, so a second failure is survived the
same way; a later delivery is stored. On the code before the reserve the
server exited at the first failure (event=out_of_memory).
"""
import smtplib

from harness import message
from test_imap import BOB, Raw, deliver, srv, wait_count

LIT = 4096
ALLOC = 32 + ((LIT + 1 + 15) & ~15)


def hit(s):
    """A session whose allocation fails: returns what it was told."""
    r = Raw(s)
    r.login()
    r.send("a SELECT {%d}\r\n" % LIT)
    assert r.line().startswith(b"+"), "no continuation"
    r.send("x" * LIT + "\r\n")
    lines = []
    try:
        while True:
            lines.append(r.line())
    except (EOFError, OSError):
        pass  # closed by the server: what the test wants
    r.close()
    return lines


def test_alloc_failure_ends_the_session_not_the_process():
    with srv(env={"TERN_TEST_ALLOC_FAIL": str(ALLOC)}) as s:
        other = Raw(s)
        other.login()
        other.send("o1 SELECT INBOX\r\n")
        assert other.until_tag("o1")[-1].startswith(b"o1 OK")

        for round_ in range(2):
            lines = hit(s)
            assert s.proc.poll() is None, "tern exited:\n" + s.log_text()[-3000:]
            assert lines and lines[-1].startswith(b"* BYE [UNAVAILABLE]"), lines
            # The session that was open all along still works.
            other.send("o%d NOOP\r\n" % (round_ + 2))
            assert other.until_tag("o%d" % (round_ + 2))[-1].startswith(b"o%d OK" % (round_ + 2))
            # New connections work, and mail is still delivered.
            deliver(s, n=1, subject="after %d" % round_ + " %d")
            wait_count(s, round_ + 1)
            fresh = Raw(s)
            fresh.login()
            fresh.send("f SELECT INBOX\r\n")
            assert fresh.until_tag("f")[-1].startswith(b"f OK")
            fresh.close()
        other.close()

        log = s.log_text()
        assert log.count("event=memory_reserve_drawn ") == 2, log[-3000:]
        assert log.count("event=memory_reserve_restored") >= 1, log[-3000:]
        assert "reason=out_of_memory" in log
        assert "event=out_of_memory" not in log
        assert s.proc.poll() is None
