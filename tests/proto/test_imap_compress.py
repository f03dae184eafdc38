"""COMPRESS=DEFLATE (RFC 4978) over IMAPS and over STARTTLS'ed 143, with
one server for every check: a raw client with Python's zlib (raw
DEFLATE both ways) selects, fetches a 3 MB message streamed through the
layer (bytes compared), appends a compressible 1 MB literal, sees its
second COMPRESS refused with NO [COMPRESSIONACTIVE], and logs out; an
unknown mechanism gets NO and bad arguments BAD, COMPRESS before login
BAD and not advertised there (only after login, as Dovecot); a broken
deflate stream and a line that inflates past the line limit end only
that connection (the next one works); mbsync (isync 1.4, which
turns COMPRESS on when offered) syncs the mailbox over it, its network
trace showing the command."""
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import zlib

from test_imap import BOB, BOB_PW, ctx, deliver, mbsync_conf, srv, wait_count


class ZClient:
    """A raw IMAPS connection that can turn COMPRESS on."""

    def __init__(self, s, implicit=True):
        sock = socket.create_connection(("127.0.0.1", s.imaps_port if implicit else s.imap_port), 20)
        if not implicit:
            sock.recv(4096)
            sock.sendall(b"t STARTTLS\r\n")
            assert sock.recv(4096).startswith(b"t OK")
        self.sock = ctx().wrap_socket(sock, server_hostname="mx.example.test")
        self.buf = b""
        self.z = None
        if implicit:
            self.greeting = self.line()
            assert self.greeting.startswith(b"* OK"), self.greeting

    def send(self, data):
        if self.z:
            data = self.z[0].compress(data) + self.z[0].flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError(self.buf)
        self.buf += self.z[1].decompress(d) if self.z else d

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def cmd(self, tag, text):
        self.send(b"%s %s\r\n" % (tag.encode(), text.encode() if isinstance(text, str) else text))
        out = []
        while True:
            line = self.line()
            out.append(line)
            if line.startswith(tag.encode() + b" "):
                return out

    def compress(self):
        out = self.cmd("z", "COMPRESS DEFLATE")
        assert out == [b"z OK Begin compression."], out
        self.z = (zlib.compressobj(6, zlib.DEFLATED, -15), zlib.decompressobj(-15))

    def closed(self):
        try:
            while True:
                self.fill()
        except (EOFError, ConnectionError, ssl.SSLError):
            return True

    def close(self):
        self.sock.close()


def big_message():
    body = b"".join(b"line %07d of a long message that compresses well\r\n" % i
                    for i in range(60000))
    return b"From: alice@remote.test\r\nTo: bob@example.test\r\nSubject: big\r\n\r\n" + body


def streamed(s, implicit):
    c = ZClient(s, implicit)
    out = c.cmd("l", 'LOGIN "%s" "%s"' % (BOB, BOB_PW))
    assert out[-1].startswith(b"l OK") and b"COMPRESS=DEFLATE" in out[-1], out
    c.compress()
    out = c.cmd("s", "SELECT INBOX")
    assert out[-1].startswith(b"s OK"), out
    n = 5
    # The big one (the fifth delivered) whole, through the layer.
    c.send(b"f FETCH %d BODY.PEEK[]\r\n" % n)
    head = c.line()
    m = re.match(rb"\* %d FETCH \(BODY\[\] \{(\d+)\}$" % n, head)
    assert m, head
    data = c.take(int(m.group(1)))
    assert data.endswith(big_message().split(b"\r\n\r\n", 1)[1]), len(data)
    assert c.line() == b")"
    assert c.line() == b"f OK Fetch completed."
    # A compressible literal up, then a second COMPRESS.
    msg = b"Subject: up\r\n\r\n" + b"z" * 1000000 + b"\r\n"
    c.send(b"a APPEND INBOX {%d+}\r\n%s\r\n" % (len(msg), msg))
    while True:
        line = c.line()
        if line.startswith(b"a "):
            break
    assert line.startswith(b"a OK [APPENDUID"), line
    assert c.cmd("y", "COMPRESS DEFLATE") == [b"y NO [COMPRESSIONACTIVE] COMPRESSION already enabled."]
    assert c.cmd("o", "LOGOUT")[-1] == b"o OK Logout completed."
    c.close()


def errors(s):
    c = ZClient(s)
    # COMPRESS is a command-auth (RFC 4978 §5): BAD before login, so not
    # offered there (RFC 9051 §7.2.2 lets the list grow after login), as
    # Dovecot does; the LOGIN OK and CAPABILITY then carry it.
    assert b"COMPRESS=DEFLATE" not in c.greeting, c.greeting
    out = c.cmd("k", "CAPABILITY")
    assert out[-1].startswith(b"k OK") and b"COMPRESS=DEFLATE" not in out[0], out
    out = c.cmd("a", "COMPRESS DEFLATE")
    assert out[-1].startswith(b"a BAD"), out  # not authenticated
    out = c.cmd("l", 'LOGIN "%s" "%s"' % (BOB, BOB_PW))
    assert out[-1].startswith(b"l OK [CAPABILITY ") and b" COMPRESS=DEFLATE " in out[-1], out
    out = c.cmd("m", "CAPABILITY")
    assert out[-1].startswith(b"m OK") and b" COMPRESS=DEFLATE " in out[0], out
    assert c.cmd("b", "COMPRESS GZIP") == [b"b NO Unknown compression mechanism."]
    assert c.cmd("c", "COMPRESS")[-1].startswith(b"c BAD")
    assert c.cmd("d", "COMPRESS DEFLATE X")[-1].startswith(b"d BAD")
    c.compress()
    assert c.cmd("e", "NOOP") == [b"e OK NOOP completed."]
    # Garbage that is not a deflate stream: the connection ends.
    c.z = None
    c.sock.sendall(b"\xff" * 64)
    assert c.closed()
    c.close()
    # A line that inflates past the line limit: refused, then closed or
    # resynchronised, never more than the bounded buffers held.
    c = ZClient(s)
    c.cmd("l", 'LOGIN "%s" "%s"' % (BOB, BOB_PW))
    c.compress()
    c.send(b"x NOOP " + b"a" * (4 << 20) + b"\r\n")
    try:
        line = c.line()
        assert b"BAD" in line or line.startswith(b"* BYE"), line
    except (EOFError, ConnectionError, ssl.SSLError):
        pass
    c.close()
    # The server is still fine.
    c = ZClient(s)
    assert c.cmd("l", 'LOGIN "%s" "%s"' % (BOB, BOB_PW))[-1].startswith(b"l OK")
    c.close()


def mbsync(s):
    if not shutil.which("mbsync"):
        return
    tmp = tempfile.mkdtemp(prefix="tern-mbsync-z-")
    try:
        conf, maildir = mbsync_conf(s, tmp, implicit=True, pull_only=True)
        r = subprocess.run(["mbsync", "-Dn", "-c", conf, "-a"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120,
                           env={"HOME": tmp, "PATH": "/usr/bin:/bin"})
        out = r.stdout.decode(errors="replace")
        assert r.returncode == 0, out[-3000:]
        assert "COMPRESS DEFLATE" in out, out[-3000:]
        files = [n for sub in ("new", "cur") for n in os.listdir(os.path.join(maildir, "INBOX", sub))]
        assert len(files) == 7, (files, out[-2000:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_imap_compress():
    with srv(env={"TERN_HOSTNAME": "localhost"}) as s:
        deliver(s, 4)
        wait_count(s, 4)
        import smtplib
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as m:
            m.sendmail("alice@remote.test", [BOB], big_message())
        wait_count(s, 5)
        streamed(s, implicit=True)
        streamed(s, implicit=False)
        errors(s)
        mbsync(s)
