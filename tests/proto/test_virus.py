"""Virus scanning through a real clamd (Debian's clamav-daemon) on
loopback (TERN_CLAMD): a private clamd.conf, and a database directory
holding only a body signature this module writes (no freshclam, no
network), so clamd starts in a moment with one signature.

- port 25 (clamd over TCP): a clean message is stored, an infected one
  gets 554 5.7.1 before any 250 and nothing is stored; the log names the
  signature and nothing of the message; /metrics counts both;
- submission, 587 and 465 (clamd over its unix socket): the same;
- clamd stopped, clamd refusing a stream over its StreamMaxLength: 451
  4.7.1 (clamav-milter's OnFail Defer), nothing stored;
- a "clamd" that accepts and never answers: 451 after the timeout, and
  meanwhile the server serves another session;
- Sieve's virustest (RFC 5235): 1 for a message clamd found clean (port
  25, and submission to a local account), 0 when no scanner is set;
- a clamd host name with several addresses: one refusing is passed over.
"""
import os
import smtplib
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request

from harness import Raw, Server, free_port, message

BOB = ("bob@example.test", "bob-pw-1")
ALICE = ("alice@example.test", "alice-pw-1")
MARK = b"TERN-TEST-VIRUS-SIGNATURE-4f1c9b"
SIGNATURE = "Tern.Test.Virus.UNOFFICIAL"  # clamd names a local signature so


class Clamd:
    """A private clamd on 127.0.0.1:port and a unix socket."""

    def __init__(self, stream_max="25M"):
        self.dir = tempfile.mkdtemp(prefix="tern-clamd-")
        os.mkdir(os.path.join(self.dir, "db"))
        # A body signature (.ndb): Name:TargetType:Offset:HexSignature.
        with open(os.path.join(self.dir, "db", "tern.ndb"), "w") as f:
            f.write("Tern.Test.Virus:0:*:%s\n" % MARK.hex())
        self.port = free_port()
        self.sock = os.path.join(self.dir, "clamd.sock")
        with open(os.path.join(self.dir, "clamd.conf"), "w") as f:
            f.write("Foreground yes\nLogFile %s/clamd.log\nDatabaseDirectory %s/db\n"
                    "TCPSocket %d\nTCPAddr 127.0.0.1\nLocalSocket %s\nStreamMaxLength %s\n"
                    % (self.dir, self.dir, self.port, self.sock, stream_max))
        self.proc = subprocess.Popen(["/usr/sbin/clamd", "-c", os.path.join(self.dir, "clamd.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while not self.ping():
            assert self.proc.poll() is None, self.log()
            assert time.time() < deadline, self.log()
            time.sleep(0.1)

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as c:
                c.sendall(b"zPING\0")
                return c.recv(16) == b"PONG\0"
        except OSError:
            return False

    def log(self):
        try:
            with open(os.path.join(self.dir, "clamd.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def scan(self, data):
        """What clamd itself says of data (the test's own check of its signature)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as c:
            c.sendall(b"zINSTREAM\0" + struct.pack(">I", len(data)) + data + b"\0\0\0\0")
            out = b""
            while not out.endswith(b"\0"):
                chunk = c.recv(256)
                if not chunk:
                    break
                out += chunk
            return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        subprocess.run(["rm", "-rf", self.dir])


def infected(subject="infected"):
    return message(subject=subject, body="An attachment:\r\n%s\r\n" % MARK.decode())


def across_chunks(subject):
    """A message of three 256 KiB chunks and more whose signature spans
    the first chunk's end (clamd sees the stream whole, or misses it)."""
    head = message(subject=subject, body="")
    cut = 256 * 1024 - 16 - len(head)
    body = ("y" * 78 + "\r\n") * (cut // 80) + "z" * (cut % 80)
    body += MARK.decode() + "\r\n" + ("w" * 78 + "\r\n") * 6000
    msg = head + body
    assert msg.index(MARK.decode()) == 256 * 1024 - 16
    return msg


def send25(s, msg, rcpt=BOB[0]):
    c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=60)
    try:
        c.ehlo("client.remote.test")
        c.mail("alice@remote.test")
        c.rcpt(rcpt)
        code, text = c.data(msg.encode() if isinstance(msg, str) else msg)
        return code, text.decode()
    finally:
        c.close()


def log_line(s, needle):
    """The first log line with needle, once the server logged it."""
    assert s.wait_log(needle, timeout=60), s.log_text()[-2000:]
    return next(ln for ln in s.log_text().splitlines() if needle in ln)


def count(s, account=BOB[0], box="INBOX"):
    return len(s.messages(account, box))


def metrics(s):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % s.http_port, timeout=10) as r:
        text = r.read().decode()
    return {ln.split()[0]: int(ln.split()[1]) for ln in text.splitlines()
            if ln.startswith("tern_virus_scans_total")}


def test_port25_clean_and_infected():
    cd = Clamd()
    try:
        assert cd.scan(MARK) == b"stream: %s FOUND\0" % SIGNATURE.encode()
        with Server(accounts=[BOB], http=True,
                    env={"TERN_CLAMD": "127.0.0.1:%d" % cd.port}) as s:
            code, text = send25(s, message(subject="clean"))
            assert code == 250, (code, text)
            assert count(s) == 1
            code, text = send25(s, infected())
            assert code == 554 and text.startswith("5.7.1 "), (code, text)
            assert count(s) == 1
            # Several chunks: clean, then a signature across a chunk's end.
            big = across_chunks("big")
            code, text = send25(s, big.replace(MARK.decode(), "x" * len(MARK)))
            assert code == 250, (code, text)
            code, text = send25(s, big)
            assert code == 554, (code, text)
            assert count(s) == 2
            # BDAT LAST (RFC 3030) is scanned as DATA is.
            r = Raw(s.smtp_port)
            r.cmd("EHLO client.remote.test")
            assert r.cmd("MAIL FROM:<alice@remote.test>")[0] == 250
            assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
            body = infected("bdat").encode()
            half = len(body) // 2
            r.send(b"BDAT %d\r\n" % half + body[:half])
            assert r.reply()[0] == 250
            r.send(b"BDAT %d LAST\r\n" % (len(body) - half) + body[half:])
            code, lines = r.reply()
            assert code == 554 and lines[0].startswith("554 5.7.1 "), lines
            assert r.cmd("NOOP")[0] == 250
            r.close()
            assert count(s) == 2
            line = log_line(s, "event=virus_found")
            assert 'signature="%s"' % SIGNATURE in line, line
            assert MARK.decode() not in s.log_text()
            m = metrics(s)
            assert m['tern_virus_scans_total{result="clean"}'] == 2, m
            assert m['tern_virus_scans_total{result="infected"}'] == 3, m
            assert m['tern_virus_scans_total{result="failed"}'] == 0, m
    finally:
        cd.stop()


def tls():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def submit(s, msg, implicit):
    if implicit:
        c = smtplib.SMTP_SSL("127.0.0.1", s.submissions_port, timeout=60, context=tls())
    else:
        c = smtplib.SMTP("127.0.0.1", s.submission_port, timeout=60)
        c.starttls(context=tls())
    try:
        c.ehlo()
        c.login(*ALICE)
        c.mail(ALICE[0])
        c.rcpt(BOB[0])
        code, text = c.data(msg.encode())
        return code, text.decode()
    finally:
        c.close()


def wait_count(s, n, timeout=20):
    deadline = time.time() + timeout
    while count(s) < n and time.time() < deadline:
        time.sleep(0.1)
    return count(s)


def test_submission_over_unix_socket():
    cd = Clamd()
    try:
        with Server(accounts=[ALICE, BOB], submission=True,
                    env={"TERN_CLAMD": cd.sock}) as s:
            code, text = submit(s, message(subject="clean587", sender=ALICE[0]), False)
            assert code == 250, (code, text)
            assert wait_count(s, 1) == 1
            code, text = submit(s, infected("bad465").replace("alice@remote.test", ALICE[0]), True)
            assert code == 554 and text.startswith("5.7.1 "), (code, text)
            code, text = submit(s, infected("bad587").replace("alice@remote.test", ALICE[0]), False)
            assert code == 554, (code, text)
            log_line(s, "event=virus_found")
            code, text = submit(s, message(subject="clean465", sender=ALICE[0]), True)
            assert code == 250, (code, text)
            assert wait_count(s, 2) == 2
            assert not any("bad" in m[1] for m in s.messages(BOB[0]))
            # Clean, then refused by submission's own check (no From):
            # the session goes on after that reply too.
            c = smtplib.SMTP("127.0.0.1", s.submission_port, timeout=60)
            c.starttls(context=tls())
            c.ehlo()
            c.login(*ALICE)
            c.mail(ALICE[0])
            c.rcpt(BOB[0])
            code, text = c.data(message(subject="nofrom", sender=ALICE[0])
                                .replace("From: %s\r\n" % ALICE[0], "").encode())
            assert code == 554 and text.startswith(b"5.6.0"), (code, text)
            assert c.noop()[0] == 250
            c.sendmail(ALICE[0], [BOB[0]], message(subject="after", sender=ALICE[0]))
            c.quit()
            assert wait_count(s, 3) == 3
    finally:
        cd.stop()


def test_clamd_down_and_size_limit_defer():
    cd = Clamd(stream_max="1M")
    try:
        with Server(accounts=[BOB], env={"TERN_CLAMD": "127.0.0.1:%d" % cd.port}) as s:
            # Over clamd's StreamMaxLength: clamd says ERROR, the sender waits.
            big = message(subject="big", body=("x" * 998 + "\r\n") * 1200)
            code, text = send25(s, big)
            assert code == 451 and text.startswith("4.7.1 "), (code, text)
            line = log_line(s, "event=virus_scan_failed")
            assert "reason=size_limit" in line, line
            cd.stop()
            code, text = send25(s, message(subject="clamd gone"))
            assert code == 451 and text.startswith("4.7.1 "), (code, text)
            assert log_line(s, "reason=unreachable")
            assert count(s) == 0
    finally:
        cd.stop()


def test_clamd_hangs():
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(8)
    accepted = threading.Event()
    held = []

    def accept():
        c, _ = lst.accept()
        held.append(c)  # read nothing, answer nothing
        accepted.set()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        with Server(accounts=[BOB], env={"TERN_CLAMD": "127.0.0.1:%d" % lst.getsockname()[1],
                                         "TERN_TEST_CLAMD_TIMEOUT_MS": "3000"}) as s:
            r = Raw(s.smtp_port)
            r.cmd("EHLO client.remote.test")
            assert r.cmd("MAIL FROM:<alice@remote.test>")[0] == 250
            assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
            assert r.cmd("DATA")[0] == 354
            r.send(message(subject="held") + ".\r\n")
            assert accepted.wait(30)
            # The scan waits on clamd; the server serves others.
            other = Raw(s.smtp_port)
            assert other.cmd("EHLO other.remote.test")[0] == 250
            assert other.cmd("NOOP")[0] == 250
            other.close()
            r.sock.settimeout(60)
            code, lines = r.reply()
            assert code == 451 and lines[0].startswith("451 4.7.1 "), lines
            assert "reason=timeout" in log_line(s, "event=virus_scan_failed")
            assert r.cmd("NOOP")[0] == 250  # the session goes on
            r.close()
            assert count(s) == 0
    finally:
        for c in held:
            c.close()
        lst.close()


def test_client_half_closes_during_scan():
    """A client that sends the message and shuts its sending side while
    clamd works (a "clamd" here that answers OK when told) still gets
    its reply, and the message is stored: the session lives until then."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(8)
    streamed, answer = threading.Event(), threading.Event()

    def fake():
        c, _ = lst.accept()
        got = b""
        while not got.endswith(b"\0\0\0\0"):  # the zero length: the stream's end
            chunk = c.recv(65536)
            if not chunk:
                return
            got += chunk
        streamed.set()
        answer.wait(30)
        c.sendall(b"stream: OK\0")
        c.close()

    t = threading.Thread(target=fake, daemon=True)
    t.start()
    try:
        with Server(accounts=[BOB], env={"TERN_CLAMD": "127.0.0.1:%d" % lst.getsockname()[1]}) as s:
            r = Raw(s.smtp_port)
            r.cmd("EHLO client.remote.test")
            assert r.cmd("MAIL FROM:<alice@remote.test>")[0] == 250
            assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
            assert r.cmd("DATA")[0] == 354
            r.send(message(subject="halfclosed") + ".\r\n")
            assert streamed.wait(30)
            r.sock.shutdown(socket.SHUT_WR)  # its FIN leaves before clamd's answer
            answer.set()
            r.sock.settimeout(60)
            code, lines = r.reply()
            assert code == 250, lines
            assert count(s) == 1
            assert Raw(s.smtp_port).cmd("NOOP")[0] == 250
    finally:
        answer.set()
        lst.close()


VIRUSTEST = ('require ["virustest", "fileinto", "mailbox", "relational", '
             '"comparator-i;ascii-numeric"];\n'
             'if virustest :value "eq" :comparator "i;ascii-numeric" "1" '
             '{ fileinto :create "Clean"; }\n'
             'elsif virustest :value "eq" :comparator "i;ascii-numeric" "0" '
             '{ fileinto :create "Unscanned"; }\n')


def test_sieve_virustest():
    cd = Clamd()
    try:
        with Server(accounts=[BOB], env={"TERN_CLAMD": "127.0.0.1:%d" % cd.port}) as s:
            s.cli("sieve", "put", BOB[0], "v", input=VIRUSTEST)
            s.cli("sieve", "activate", BOB[0], "v")
            assert send25(s, message(subject="scanned"))[0] == 250
            assert count(s, box="Clean") == 1
            assert count(s, box="INBOX") == 0
    finally:
        cd.stop()
    with Server(accounts=[BOB]) as s:
        s.cli("sieve", "put", BOB[0], "v", input=VIRUSTEST)
        s.cli("sieve", "activate", BOB[0], "v")
        assert send25(s, message(subject="unscanned"))[0] == 250
        assert count(s, box="Unscanned") == 1


def test_sieve_virustest_submission():
    """A message submitted (587) to a local account was scanned before it
    was queued: that account's script sees virustest 1, as on port 25."""
    cd = Clamd()
    try:
        with Server(accounts=[ALICE, BOB], submission=True,
                    env={"TERN_CLAMD": cd.sock}) as s:
            s.cli("sieve", "put", BOB[0], "v", input=VIRUSTEST)
            s.cli("sieve", "activate", BOB[0], "v")
            code, text = submit(s, message(subject="scanned587", sender=ALICE[0]), False)
            assert code == 250, (code, text)
            # Local copies are stored before the 250 (queue.h): the box
            # the script chose is there now.
            listed = s.cli("fetch", BOB[0], "--mailbox", "Clean", check=False)
            assert listed.returncode == 0 and b"scanned587" in listed.stdout, \
                (listed.stdout, listed.stderr, s.cli("fetch", BOB[0], "--mailbox", "Unscanned",
                                                     check=False).stdout)
    finally:
        cd.stop()


def test_bad_address_stops_start():
    for bad in ("clamav", "clamav:0", "run/clamd.ctl", "bad_name:3310"):
        s = Server(domains=(), start=False, env={"TERN_CLAMD": bad})
        try:
            s.start()
            raise AssertionError("started with TERN_CLAMD=%s" % bad)
        except RuntimeError as e:
            assert 'TERN_CLAMD="%s" is invalid' % bad in str(e), str(e)[-600:]
        finally:
            s.cleanup()


def test_service_name():
    """host:port with a docker-compose service's name: looked up on
    tern's resolver for each message (a name that has no address: 451)."""
    from mailpeers import DnsServer
    cd = Clamd()
    dns = DnsServer({"clamav": {"A": ["127.0.0.1"]}})
    try:
        for name, want in (("clamav", 554), ("nosuch", 451)):
            with Server(accounts=[BOB], env={"TERN_DNS_SERVERS": dns.servers,
                                             "TERN_CLAMD": "%s:%d" % (name, cd.port)}) as s:
                code, text = send25(s, infected())
                assert code == want, (name, code, text)
                assert count(s) == 0
                if want == 451:
                    assert "reason=not_found" in log_line(s, "event=virus_scan_failed")
    finally:
        dns.stop()
        cd.stop()


def test_service_name_second_address():
    """A service name with two addresses, the first refusing (a stopped
    replica; clamd listens on 127.0.0.1 only, so 127.0.0.2 refuses):
    the scan goes on at the second, as the outbound queue goes down an
    MX's addresses; with no address taking it, 451 (reason=unreachable)."""
    from mailpeers import DnsServer
    cd = Clamd()
    dns = DnsServer({"clamav": {"A": ["127.0.0.2", "127.0.0.1"]},
                     "gone": {"A": ["127.0.0.2", "127.0.0.3"]}})
    try:
        with Server(accounts=[BOB], env={"TERN_DNS_SERVERS": dns.servers,
                                         "TERN_CLAMD": "clamav:%d" % cd.port}) as s:
            code, text = send25(s, infected())
            assert code == 554 and text.startswith("5.7.1 "), (code, text)
            line = log_line(s, "event=clamd_address_failed")
            assert "address=127.0.0.2 reason=connection_refused" in line, line
            assert send25(s, message(subject="clean"))[0] == 250
            assert count(s) == 1
        with Server(accounts=[BOB], env={"TERN_DNS_SERVERS": dns.servers,
                                         "TERN_CLAMD": "gone:%d" % cd.port}) as s:
            code, text = send25(s, message(subject="nowhere"))
            assert code == 451 and text.startswith("4.7.1 "), (code, text)
            assert "reason=unreachable" in log_line(s, "event=virus_scan_failed")
            assert count(s) == 0
    finally:
        dns.stop()
        cd.stop()


def test_service_name_silent_first_address():
    """The first address takes no connection (its listener's accept
    queue is full, so the kernel drops the SYN and connect() hangs): once
    the connect timeout passes, the scan goes on at the second address."""
    from mailpeers import DnsServer
    cd = Clamd()
    dns = DnsServer({"clamav": {"A": ["127.0.0.2", "127.0.0.1"]}})
    full = socket.socket()
    full.bind(("127.0.0.2", cd.port))
    full.listen(0)
    held = socket.create_connection(("127.0.0.2", cd.port), timeout=10)  # fills the queue
    try:
        with Server(accounts=[BOB], env={"TERN_DNS_SERVERS": dns.servers,
                                         "TERN_CLAMD": "clamav:%d" % cd.port,
                                         "TERN_TEST_CLAMD_TIMEOUT_MS": "5000"}) as s:
            code, text = send25(s, infected())
            assert code == 554 and text.startswith("5.7.1 "), (code, text)
            line = log_line(s, "event=clamd_address_failed")
            assert "address=127.0.0.2 reason=connect_timeout" in line, line
    finally:
        held.close()
        full.close()
        dns.stop()
        cd.stop()
