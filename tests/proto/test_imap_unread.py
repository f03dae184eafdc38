"""Clients that leave the server's IMAP output unread: what the server
holds for them stays bounded, and they still learn the final state once
they read.

The change feed used to sync an IDLE (or NOTIFY) session at every change, whether or
not its client read: each STORE on the whole mailbox by another session
added a "* n FETCH (FLAGS ...)" line per message to the idle session's
pending output, up to IMAP_PEND_MAX (64 MiB) a session. Measured with
20 idle sessions that never read, 2,000 messages and 600 STOREs flipping
\\Flagged on all of them: RssAnon grew 826 MiB; 50 sessions an address
make that over 3 GiB. Now a change waits while the client has not read
what came before, and one sync tells every change since once it reads.
"""
import socket

from harness import SANITIZED
from test_imap import BOB, BOB_PW, Raw, ctx, srv

NMSG = 1000
ROUNDS = 600  # some 25 octets a message a round: 15 MB a session, unheld
IDLERS = 2


def socket_held_lines():
    """FETCH lines the kernel may hold for a client that does not read:
    its largest send buffer (Linux autotunes up to tcp_wmem's third
    figure), of lines of 20 octets at least."""
    with open("/proc/sys/net/ipv4/tcp_wmem") as f:
        return int(f.read().split()[2]) // 20


class Slow(Raw):
    """An IMAPS connection with a small receive buffer, read only when
    the test says so."""

    def __init__(self, s):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(60)
        sock.connect(("127.0.0.1", s.imaps_port))
        self.sock = ctx().wrap_socket(sock, server_hostname="mx.example.test")
        self.buf = b""
        self.greeting = self.line()

    def cmd(self, tag, text):
        self.send("%s %s\r\n" % (tag, text))
        lines = self.until_tag(tag)
        assert lines[-1].startswith(tag.encode() + b" OK"), lines[-3:]
        return lines


def flags_of(lines, seen):
    """Records the FLAGS each "* n FETCH" line tells in seen; how many."""
    n = 0
    for line in lines:
        parts = line.split(b" ", 3)
        if len(parts) == 4 and parts[0] == b"*" and parts[2] == b"FETCH":
            n += 1
            seen[int(parts[1])] = b"\\Flagged" in parts[3]
    return n


def never_read(watch, done):
    """IDLERS sessions watch INBOX (watch: the command that starts it,
    done: what ends it, or None) and read nothing while another session
    flips \\Flagged on every message ROUNDS times."""
    with srv() as s:
        watch_and_flip(s, watch, done)


def watch_and_flip(s, watch, done):
    w = Slow(s)
    w.cmd("l", 'LOGIN "%s" "%s"' % (BOB, BOB_PW))
    msg = b"From: a@remote.test\r\nSubject: x\r\n\r\nhi\r\n"
    w.send(b"".join(b"a%d APPEND INBOX {%d+}\r\n%s\r\n" % (i, len(msg), msg)
                    for i in range(NMSG)))
    assert w.until_tag("a%d" % (NMSG - 1))[-1].startswith(b"a%d OK" % (NMSG - 1))
    w.cmd("s", "SELECT INBOX")
    watchers = []
    for _ in range(IDLERS):
        c = Slow(s)
        c.cmd("l", 'LOGIN "%s" "%s"' % (BOB, BOB_PW))
        c.cmd("s", "SELECT INBOX")
        watch(c)
        watchers.append(c)
    base = s.rss_kib("RssAnon")
    # An even number of rounds: every message ends without \Flagged.
    for k in range(ROUNDS):
        w.cmd("t%d" % k, "STORE 1:* %sFLAGS.SILENT (\\Flagged)" % "+-"[k % 2])
    grew = s.rss_kib("RssAnon") - base
    print("%d sessions never read while %d STOREs of %d messages ran: "
          "RssAnon grew %.1f MiB" % (IDLERS, ROUNDS, NMSG, grew / 1024))
    # The server goes on answering others.
    w.cmd("n", "NOOP")
    for c in watchers:
        # The client reads at last: the changes held back come, once
        # each, and they say where the flags are now.
        seen = {}
        told = flags_of(done(c), seen) if done else 0
        told += flags_of(c.cmd("n", "NOOP"), seen)
        print("a session was told %d flag changes" % told)
        assert sorted(seen) == list(range(1, NMSG + 1)), len(seen)
        assert not any(seen.values()), "a message still told \\Flagged"
        # Every change one by one would be ROUNDS * NMSG lines; now it is
        # what the socket and the output buffers took (IMAP_OUT_MAX is
        # 256 KiB) before the client stopped reading, then one sync.
        bound = socket_held_lines() + (256 * 1024) // 20 + 2 * NMSG
        assert bound < ROUNDS * NMSG // 2, bound
        assert told < bound, (told, bound)
    # The bound the plain run can measure (ASan's quarantine blurs it):
    # unheld, the two sessions' lines were over 20 MiB.
    if not SANITIZED:
        assert grew < 12 * 1024, grew


def idle(c):
    c.send("i IDLE\r\n")
    assert c.line().startswith(b"+ ")


def idle_done(c):
    c.send("DONE\r\n")
    return c.until_tag("i")


def test_idle_client_that_never_reads_holds_no_backlog():
    never_read(idle, idle_done)


def test_notify_client_that_never_reads_holds_no_backlog():
    # NOTIFY tells the selected mailbox's changes between commands, as
    # IDLE does (RFC 5465 §5.1); the same feed, the same hold.
    never_read(lambda c: c.cmd("n", "NOTIFY SET (SELECTED (MessageNew MessageExpunge "
                                    "FlagChange))"), None)
