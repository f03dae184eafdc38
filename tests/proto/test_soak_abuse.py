"""A soak under mixed abuse (issue 28): while other processes flood port
25, drip bytes, start big messages they never finish, guess passwords on
IMAP, POP3 and submission and flood HTTP, a legitimate user keeps sending
mail through submission, reading it over IMAP and POP3 and asking the web
admin's health: every one of those operations succeeds, every message sent
arrives, the abuse hit every limit it was meant to, and the server is alive
at the end. The slowest operations are printed.

`make soak` (TERN_SOAK_STRICT=1) is the product's promise: a minute of it,
and every operation answered within a second (three against the sanitized
build). `make test` runs 20 s (10 sanitized) and asserts no latency: a
timing bound depends on what else the machine runs, and the suite runs
on busy two-core CI machines. TERN_SOAK_SECONDS sets the length.

The abusers are processes, not threads, so that Python's own lock does not
make the legitimate client look slow."""
import imaplib
import multiprocessing
import os
import poplib
import re
import smtplib
import socket
import ssl
import time

from harness import SANITIZED, Server
from httpc import Api

# Measures the server under load or loads the machine: run.py runs it alone.
EXCLUSIVE = True

BOB, BOB_PW = "bob@example.test", "bob-pw-1"
EVE, EVE_PW = "eve@example.test", "eve-pw-1"
# make soak: what the user waits for at most per operation. A sanitized
# build is several times slower at everything, so it gets more.
STRICT = os.environ.get("TERN_SOAK_STRICT") == "1"
LIMIT = 3.0 if SANITIZED else 1.0


def ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def _until(stop_at, fn):
    while time.time() < stop_at:
        try:
            fn()
        except Exception:
            time.sleep(0.05)


def flood25(port, stop_at, first):
    """Holds as many idle port-25 connections as it can from 10 addresses,
    opening new ones as the server drops them."""
    held = []

    def step():
        for i in range(10):
            c = socket.socket()
            c.settimeout(2)
            c.bind(("127.0.%d.%d" % (first, 10 + i), 0))
            c.connect(("127.0.0.1", port))
            held.append(c)
        alive = []
        for c in held:
            c.setblocking(False)
            try:
                if c.recv(4096) == b"":
                    c.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                c.close()
                continue
            alive.append(c)
        held[:] = alive
        time.sleep(0.2)
    _until(stop_at, step)


def drip25(port, stop_at):
    """Sessions that send a command one byte a second. Each byte looks at
    the clock: a session outlives the soak by minutes otherwise, and the
    test waited 15 s for this process at the end."""
    def step():
        c = socket.create_connection(("127.0.0.1", port), timeout=5,
                                     source_address=("127.0.1.50", 0))
        c.recv(512)
        for b in b"EHLO dripping.example\r\n" * 10:
            if time.time() >= stop_at:
                break
            c.sendall(bytes([b]))
            time.sleep(1)
        c.close()
    _until(stop_at, step)


def big_data(port, stop_at, n):
    """Messages of tens of megabytes whose end never comes."""
    chunk = (b"X" * 998 + b"\r\n") * 1024  # 1 MiB

    def step():
        c = socket.create_connection(("127.0.0.1", port), timeout=10,
                                     source_address=("127.0.1.%d" % (60 + n), 0))
        f = c.makefile("rb")
        f.readline()
        for line in (b"EHLO big.example", b"MAIL FROM:<big@remote.example>",
                     b"RCPT TO:<%s>" % BOB.encode(), b"DATA"):
            c.sendall(line + b"\r\n")
            while True:
                r = f.readline()
                if not r or r[3:4] != b"-":
                    break
        for _ in range(30):
            if time.time() >= stop_at:
                break
            c.sendall(chunk)
            time.sleep(0.05)  # about 20 MB/s: the server's work, not the machine's
        time.sleep(1)
        c.close()
    _until(stop_at, step)


def guess(s_ports, stop_at, n):
    """Password guessing on every protocol, against the real user too."""
    imap_port, pop3_port, sub_port = s_ports
    src = ("127.0.2.%d" % (10 + n), 0)

    def step():
        i = socket.create_connection(("127.0.0.1", imap_port), timeout=10, source_address=src)
        i.recv(512)
        i.sendall(b"a STARTTLS\r\n")
        i.recv(512)
        i = ctx().wrap_socket(i)
        for k in range(3):
            i.sendall(b"g%d LOGIN %s wrong-%d\r\n" % (k, BOB.encode(), k))
            i.recv(512)
        i.close()
        # poplib cannot pick its source address: the lines by hand.
        p = socket.create_connection(("127.0.0.1", pop3_port), timeout=10, source_address=src)
        p.recv(512)
        p.sendall(b"STLS\r\n")
        p.recv(512)
        p = ctx().wrap_socket(p)
        for k in range(3):
            p.sendall(b"USER %s\r\n" % BOB.encode())
            p.recv(512)
            p.sendall(b"PASS wrong-%d\r\n" % k)
            p.recv(512)
        p.close()
        c = smtplib.SMTP("127.0.0.1", sub_port, timeout=10, source_address=src)
        c.starttls(context=ctx())
        c.ehlo()
        try:
            c.login(BOB, "wrong")
        except smtplib.SMTPException:
            pass
        c.close()
    _until(stop_at, step)


def http_flood(https_port, http_port, stop_at, n):
    """Connections opened and dropped, and headers sent a byte at a time."""
    def step():
        socks = []
        for i in range(200):
            c = socket.socket()
            c.bind(("127.0.3.%d" % (10 + n * 5 + i % 5), 0))
            c.connect(("127.0.0.1", https_port if i % 2 else http_port))
            socks.append(c)
        for k in range(3):
            for c in socks:
                try:
                    c.send(b"GET / HTTP/1.1\r\n"[k:k + 1])
                except OSError:
                    pass
            time.sleep(1)
        for c in socks:
            c.close()
    _until(stop_at, step)


class Timer:
    def __init__(self):
        self.times = {}

    def __call__(self, name, fn, *a):
        t0 = time.time()
        r = fn(*a)
        self.times.setdefault(name, []).append(time.time() - t0)
        return r


def legit_round(s, t, n):
    """One round of a real user's work; returns the subject it sent."""
    subject = "soak %d" % n
    c = t("submission connect", lambda: smtplib.SMTP("127.0.0.1", s.submission_port, timeout=10))
    t("submission starttls", lambda: c.starttls(context=ctx()))
    t("submission login", c.login, BOB, BOB_PW)
    body = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nround %d\r\n" % (BOB, BOB, subject, n))
    t("submission send", c.sendmail, BOB, [BOB], body)
    t("submission quit", c.quit)

    m = t("imap connect", lambda: imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port,
                                                    ssl_context=ctx(), timeout=10))
    t("imap login", m.login, BOB, BOB_PW)
    t("imap select", m.select, "INBOX")
    typ, data = t("imap search", m.search, None, "SUBJECT", '"%s"' % subject)
    t("imap logout", m.logout)

    p = t("pop3 connect", lambda: poplib.POP3_SSL("127.0.0.1", s.pop3s_port, context=ctx(),
                                                  timeout=10))
    t("pop3 login", lambda: (p.user(BOB), p.pass_(BOB_PW)))
    t("pop3 stat", p.stat)
    t("pop3 quit", p.quit)

    st = t("https healthz", lambda: Api(s).raw("GET", "/healthz")[0])
    assert st == 200
    return subject, typ == "OK" and data and data[0].strip() != b""


def test_soak_mixed_abuse():
    # The sanitized run looks for memory errors under the same mix; the
    # minute the soak must last is the product's (make soak's plain run).
    default = (20 if SANITIZED else 60) if STRICT else (10 if SANITIZED else 20)
    seconds = int(os.environ.get("TERN_SOAK_SECONDS", str(default)))
    s = Server(imap=True, pop3=True, submission=True, http=True,
               accounts=[(BOB, BOB_PW), (EVE, EVE_PW)],
               env={"TERN_LOG_LEVEL": "info",
                    "TERN_ADMIN_PASSWORD": "soak-admin-password-1",
                    "TERN_SMTP_MAX_CONNECTIONS": "200",
                    "TERN_SMTP_MAX_CONNECTIONS_PER_IP": "10",
                    "TERN_SMTP_STRESS_TIMEOUT": "3",
                    "TERN_LOGIN_TIMEOUT": "10",
                    "TERN_HTTP_HEADER_TIMEOUT": "3",
                    # The user's client sends a message a round as fast as
                    # it can (467 rounds a minute on a quiet machine): past
                    # the default 500 an hour, TERN_SEND_RATE would refuse
                    # it, which is not what this test is about.
                    "TERN_SEND_RATE": "0"})
    procs = []
    try:
        # The user's devices were logged in before the attack began (a
        # login guessed at meanwhile must not lock them out).
        t = Timer()
        sent, n = [], 0
        subject, _ = legit_round(s, t, n)
        sent.append(subject)
        n += 1
        stop_at = time.time() + seconds
        mp = multiprocessing.get_context("fork")
        jobs = [(flood25, (s.smtp_port, stop_at, 0)), (flood25, (s.smtp_port, stop_at, 1)),
                (drip25, (s.smtp_port, stop_at))]
        # Few processes, each doing much: the machine has to run the
        # legitimate client too.
        jobs += [(big_data, (s.smtp_port, stop_at, k)) for k in range(3)]
        jobs += [(guess, ((s.imap_port, s.pop3_port, s.submission_port), stop_at, k))
                 for k in range(2)]
        jobs += [(http_flood, (s.https_port, s.http_port, stop_at, 0))]
        for fn, args in jobs:
            p = mp.Process(target=fn, args=args, daemon=True)
            p.start()
            procs.append(p)
        time.sleep(2)  # let the abuse build up

        while time.time() < stop_at:
            subject, _ = legit_round(s, t, n)
            sent.append(subject)
            n += 1
        # An abuser in the middle of a step (a guess whose failure the
        # server answers late, a drip) has nothing left to show: a second
        # to finish, then it is ended (waiting for them took 15 s).
        for p in procs:
            p.join(max(0.0, stop_at + 1 - time.time()))
            if p.is_alive():
                p.terminate()
                p.join(5)
        assert s.proc.poll() is None, "tern died under the soak:\n" + s.log_text()[-3000:]

        report = sorted((max(v), k, len(v)) for k, v in t.times.items())
        print("soak: %d rounds in %ds; slowest operations:" % (n, seconds))
        for worst, name, count in report[::-1][:6]:
            v = sorted(t.times[name])
            print("  %-22s max %.3fs, median %.3fs, over 0.5s %d of %d" %
                  (name, worst, v[len(v) // 2], sum(1 for x in v if x > 0.5), count))
        # The abuse was real: it hit every limit it was meant to.
        log = s.log_text()
        seen_abuse = {what: log.count(needle) for what, needle in (
            ("refused", "event=refused"), ("stress timeouts", "stress=1"),
            ("failed logins", "failed"), ("http header timeouts", "kind=request_header"))}
        seen_abuse["unfinished messages over 10 MB"] = sum(
            1 for m in re.finditer(r"module=smtp .*event=disconnect .* in=(\d+) ", log)
            if int(m.group(1)) > 10 << 20)
        print("  abuse seen in the log: %s" % seen_abuse)
        for what in seen_abuse:
            assert seen_abuse[what] > 0, "no %s: the abuse did not happen" % what
        slow = [(k, round(w, 3)) for w, k, _ in report if w > LIMIT]
        if STRICT:
            assert not slow, "operations slower than %.1fs: %s" % (LIMIT, slow)
        elif slow:
            print("  slower than %.1fs (asserted by make soak only): %s" % (LIMIT, slow))
        # At least one round under the abuse (the first ran before it).
        assert n >= (5 if STRICT else 2), "only %d rounds" % n

        # Every message sent arrived (the abuse cost no mail).
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx(), timeout=30)
        m.login(BOB, BOB_PW)
        m.select("INBOX", readonly=True)
        for subject in sent:
            deadline = time.time() + 10
            while True:
                typ, data = m.search(None, "SUBJECT", '"%s"' % subject)
                if data and data[0].strip() or time.time() > deadline:
                    break
                time.sleep(0.2)
            assert data and data[0].strip(), "%s never arrived" % subject
        m.logout()
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        s.cleanup()
