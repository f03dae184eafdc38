"""Peers for the outbound queue tests, all on loopback: a DNS server
(dns_server.py under Debian's python3-dnspython), a scriptable SMTP
receiver (4xx/5xx/stall/STARTTLS/AUTH on demand), and a private Postfix
instance as a real receiving MTA.

Each remote MTA gets its own 127.0.0.x address; they all listen on the
same port, which tern is told with TERN_QUEUE_MX_PORT (a test-only
setting: on the internet MX delivery always uses port 25)."""
import base64
import ipaddress
import json
import os
import pwd
import random
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

from harness import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's: has python3-dnspython and python3-dkim


def free_port_on(ips):
    """A TCP port free on every address in ips, and UDP on the first."""
    return free_port(ips, udp=True)


def unique_ips(n):
    """n distinct loopback addresses unlikely to be used by another test."""
    base = random.randint(2, 254 - n)  # the last one still an octet (<= 254)
    third = random.randint(1, 250)
    return ["127.%d.%d.%d" % (random.randint(1, 250), third, base + i) for i in range(n)]


# The start of a dkimpy program (run by SYSTEM_PYTHON) whose key lookups go
# to a DnsServer on 127.0.0.1, its port in sys.argv[1]: txt is the dnsfunc
# to give dkim.verify / dkim.arc_verify.
DKIMPY_TXT = r"""
import json, sys, dkim, dns.resolver
port = int(sys.argv[1])
res = dns.resolver.Resolver(configure=False)
res.nameservers = ["127.0.0.1"]
res.port = port
def txt(name, timeout=5):
    try:
        a = res.resolve(name.decode().rstrip("."), "TXT")
    except Exception:
        return None
    return b"".join(b"".join(r.strings) for r in a)
"""


class DnsServer:
    """dns_server.py with a zone given as a dict; zone() rewrites it live."""

    def __init__(self, records, host="127.0.0.1"):
        self.tmp = tempfile.mkdtemp(prefix="tern-dns-")
        self.path = os.path.join(self.tmp, "zone.json")
        self.zone(records)
        self.host = host  # 127.0.0.1, or ::1 for a resolver over IPv6
        self.port = free_port_on([host])
        self.proc = subprocess.Popen([SYSTEM_PYTHON, os.path.join(HERE, "dns_server.py"),
                                      str(self.port), self.path, host],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError("dns_server did not start: " + self.proc.stderr.read())

    def zone(self, records):
        tmp = self.path + ".new"
        with open(tmp, "w") as f:
            json.dump(records, f)
        os.replace(tmp, self.path)
        # A later mtime even within one clock tick.
        t = time.time() + random.random()
        os.utime(self.path, (t, t))

    @property
    def servers(self):
        return ("[%s]:%d" if ":" in self.host else "%s:%d") % (self.host, self.port)

    def tcp_names(self):
        """The names asked over TCP so far (after a truncated UDP answer)."""
        try:
            with open(self.path + ".tcp") as f:
                return f.read().split()
        except FileNotFoundError:
            return []

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def weaken_tls(ctx, how):
    """Makes a TLS 1.2 server context offer only a CBC suite ("cbc") or
    sign its key exchange only with SHA-1 ("sha1"); the peers' certificates
    are ECDSA ones (self_signed). Python's ssl has no call for signature
    algorithms: SSL_CTX_ctrl(SSL_CTRL_SET_SIGALGS_LIST) is called through
    ctypes on the SSL_CTX the context object holds right after its
    PyObject header, in the libssl Python's _ssl already loaded."""
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if how == "cbc":
        ctx.set_ciphers("ECDHE-ECDSA-AES128-SHA")
        return
    assert how == "sha1", how
    ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:@SECLEVEL=0")  # SHA-1 needs level 0
    import ctypes
    libssl = ctypes.CDLL("libssl.so.3")
    libssl.SSL_CTX_ctrl.restype = ctypes.c_long
    libssl.SSL_CTX_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long,
                                    ctypes.c_char_p]
    raw = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    SSL_CTRL_SET_SIGALGS_LIST = 98
    assert libssl.SSL_CTX_ctrl(raw, SSL_CTRL_SET_SIGALGS_LIST, 0, b"ECDSA+SHA1") == 1


def self_signed(tmp, cn="mx.remote.test", ips=()):
    """A self-signed server certificate for DNS name cn, the loopback
    addresses and ips: a peer made its own trust anchor (a relay host at
    127.0.0.1:PORT) is checked against the address's iPAddress, never a
    name, and a subjectAltName with the addresses must name cn too (a
    verifier reads the CN only when there is no subjectAltName)."""
    addrs = ["127.0.0.1", "::1"] + [ip for ip in ips if ip not in ("127.0.0.1", "::1")]
    key, crt = os.path.join(tmp, "peer.key"), os.path.join(tmp, "peer.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=" + ",".join(_san(n) for n in [cn] + addrs)],
                   check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return crt, key


def test_ca(tmp):
    """A throw-away CA (cert, key) for verified-TLS tests (TERN_TLS_CA_FILE)."""
    key, crt = os.path.join(tmp, "ca.key"), os.path.join(tmp, "ca.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=tern test CA",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return crt, key


def _san(name):
    """A subjectAltName entry: IP: for an address, else DNS:."""
    try:
        ipaddress.ip_address(name)
        return "IP:" + name
    except ValueError:
        return "DNS:" + name


def ca_signed(tmp, ca, name, also=()):
    """A server certificate for DNS name `name` (and the names in also;
    an IP address among them goes in as an iPAddress) issued by ca
    (test_ca's pair)."""
    base = os.path.join(tmp, name.replace(":", "_"))
    key, csr, crt, ext = base + ".key", base + ".csr", base + ".crt", base + ".ext"
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
                    "-subj", "/CN=" + name], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\n"
                % ",".join(_san(n) for n in (name,) + tuple(also)))
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
                    "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return crt, key


def _hung_up(c):
    """Whether the peer of socket c (plain or TLS) closed its end: EOF (or
    a reset) waiting, without taking any octet of real input."""
    raw = socket.socket(fileno=os.dup(c.fileno()))
    try:
        raw.setblocking(False)
        return raw.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        raw.close()


class Receiver:
    """A scriptable SMTP server on ip:port in a thread.

    rcpt(addr) -> reply line for RCPT TO (default 250);
    data(n) -> reply line after end of data for the n-th transaction (0-based);
    stall: "greeting" (never greet), "data" (never answer end of data) or
    "close" (hang up after the end of data, unanswered);
    tls: offer STARTTLS; implicit_tls: TLS from the first byte (port 465);
    auth: (user, password) required (AUTH PLAIN or LOGIN, only over TLS);
    size: announce SIZE with this limit; ext8bit: announce 8BITMIME/SMTPUTF8;
    cert: (crt, key) files to present instead of a self-signed one;
    extra_ehlo: more EHLO keywords to announce ("DELIVERBY");
    max_rcpts: 452 past this many recipients in a transaction;
    dot_354: DATA gets 354 even without recipients (a lone "." is
    counted in .lone_dots, then 554); read_rate: the body is read at
    about this many bytes a second (a slow peer); data_extra: a line sent
    with the reply to the end of data, unasked; talk_ahead: a line sent
    with the greeting, unasked; early_reply: sent after the first line of
    the body, the rest read and dropped till the client hangs up (with
    early_hold, nothing more is read: a body bigger than the socket
    buffers cannot all go before the client sees the reply);
    greeting: the greeting line instead of 220 ("554 no service");
    tls_weak: a TLS 1.2 peer with only a weak choice, "cbc" (its one suite
    ECDHE-ECDSA-AES128-SHA) or "sha1" (its ServerKeyExchange signed with
    SHA-1 only; no SHA-2 signature to agree on);
    tls_break: what follows STARTTLS's 220 instead of a handshake, each
    session: "close" (hangs up), "garbage" (a line of text), "silent"
    (says nothing till the client gives up); the session without
    STARTTLS after it is served as usual. mail(addr) -> reply line for
    MAIL FROM (default 250). ehlo_name: the host name the reply to EHLO
    and HELO gives. esmtp=False: an RFC 821 server, EHLO refused with
    500 (HELO still served), no extension offered. data_cmd(n) -> a
    reply line refusing the DATA command of the n-th DATA (0-based), or
    None to go ahead as usual. hangup_354: the first this many DATA
    commands get their 354, then the peer hangs up without reading the
    body (later ones are served). quit_delay: the 221
    to QUIT goes this many seconds late, and .quits records for each QUIT whether the client was
    still there to read it ("open") or had hung up already ("closed").
    A 421 reply does not close the connection:
    the peer reads on, as a hostile one would, so what the client still
    sends after it is in .commands.
    .snis has each TLS handshake's SNI name (None: the client sent none).
    Received transactions are in .messages (dicts; "at" is the time.time()
    the end of data was read, before data_delay and the reply; "conn" the
    number of the connection that carried it, 1 for the first accepted).
    .data_ends counts the ends of data read that get a reply, as soon as
    read (before data_delay: a transaction is in .messages only after)."""

    def __init__(self, ip, port, rcpt=None, data=None, stall=None, tls=False,
                 implicit_tls=False, auth=None, size=None, ext8bit=True, pipelining=True,
                 dsn=False, hangup_after_data=False, tls13_only=False, data_delay=0,
                 cert=None, extra_ehlo=(), max_rcpts=None, dot_354=False, read_rate=None,
                 data_extra=None, talk_ahead=None, early_reply=None, greeting=None,
                 tls_break=None, mail=None, early_hold=False, quit_delay=0,
                 ehlo_name="mx.remote.test", esmtp=True, data_cmd=None, tls_weak=None,
                 hangup_354=0):
        self.ip, self.port = ip, port
        self.esmtp = esmtp
        self.data_cmd, self.data_cmds = data_cmd, 0
        self.hangup_354 = hangup_354
        self.ehlo_name = ehlo_name
        self.extra_ehlo = list(extra_ehlo)
        self.rcpt_fn = rcpt or (lambda a: "250 2.1.5 ok")
        self.mail_fn = mail or (lambda a: "250 2.1.0 ok")
        self.data_fn = data or (lambda n: "250 2.0.0 queued as %d" % n)
        self.stall, self.tls, self.implicit_tls, self.auth = stall, tls, implicit_tls, auth
        self.size, self.ext8bit, self.pipelining, self.dsn = size, ext8bit, pipelining, dsn
        self.hangup_after_data = hangup_after_data
        self.data_delay = data_delay
        self.max_rcpts, self.dot_354, self.read_rate = max_rcpts, dot_354, read_rate
        self.data_extra, self.talk_ahead = data_extra, talk_ahead
        self.early_reply, self.early_hold = early_reply, early_hold
        self.greeting = greeting
        self.tls_break = tls_break
        self.quit_delay, self.quits = quit_delay, []
        self.lone_dots = 0
        self.snis = []  # each handshake's SNI name, None when the client sent none
        self.open_sessions = self.max_open_sessions = 0
        self.messages, self.connections, self.commands = [], 0, []
        self.transactions = self.data_ends = 0
        self.lock = threading.Lock()
        self.tmp = tempfile.mkdtemp(prefix="tern-rcv-")
        self.ctx = None
        if tls or implicit_tls:
            crt, key = cert or self_signed(self.tmp, ips=(ip,))
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(crt, key)
            self.ctx.sni_callback = self._sni
            if tls13_only:  # BearSSL speaks TLS 1.2 at most: every handshake fails
                self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            if tls_weak:
                weaken_tls(self.ctx, tls_weak)
        self.sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if read_rate or early_reply:  # a small window: the sender feels the slow reading
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        self.sock.bind((ip, port))
        self.sock.listen(16)
        self.stopping = False
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _sni(self, sock, name, ctx):
        with self.lock:
            self.snis.append(name)

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.conns.append(c)
                n = self.connections
            threading.Thread(target=self._session, args=(c, n), daemon=True).start()

    def _session(self, c, conn):
        with self.lock:
            self.open_sessions += 1
            self.max_open_sessions = max(self.max_open_sessions, self.open_sessions)
        try:
            c.settimeout(30)
            if self.implicit_tls:
                c = self.ctx.wrap_socket(c, server_side=True)
            self._talk(c, conn)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            with self.lock:
                self.open_sessions -= 1
            try:
                c.close()
            except OSError:
                pass

    def _talk(self, c, conn):
        f = c.makefile("rb")
        out = lambda line: c.sendall(line.encode() + b"\r\n")
        if self.stall == "greeting":
            time.sleep(60)
            return
        greeting = self.greeting or "220 mx.remote.test ESMTP test receiver"
        out(greeting + ("\r\n" + self.talk_ahead if self.talk_ahead else ""))
        tls_on = self.implicit_tls
        authed = None
        mail, rcpts = None, []
        peer, helo = c.getpeername()[0], None
        while True:
            raw = f.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self.lock:
                self.commands.append(line)
            cmd = line.split(" ", 1)[0].upper()
            if cmd in ("EHLO", "HELO"):
                helo = line[5:].strip()
            if cmd == "EHLO" and not self.esmtp:
                out("500 command unrecognized")
            elif cmd == "EHLO":
                ext = ["250-" + self.ehlo_name]
                if self.pipelining:
                    ext.append("250-PIPELINING")
                if self.size:
                    ext.append("250-SIZE %d" % self.size)
                if self.ext8bit:
                    ext += ["250-8BITMIME", "250-SMTPUTF8"]
                if self.dsn:
                    ext.append("250-DSN")
                ext += ["250-" + k for k in self.extra_ehlo]
                if self.tls and not tls_on:
                    ext.append("250-STARTTLS")
                if self.auth and tls_on:
                    ext.append("250-AUTH PLAIN LOGIN")
                ext.append("250 ENHANCEDSTATUSCODES")
                out("\r\n".join(ext))
            elif cmd == "HELO":
                out("250 " + self.ehlo_name)
            elif cmd == "STARTTLS" and self.tls and not tls_on:
                out("220 2.0.0 go ahead")
                if self.tls_break == "garbage":
                    out("this is no TLS record at all, just a line of text")
                    time.sleep(1)
                if self.tls_break == "silent":
                    time.sleep(60)
                if self.tls_break:
                    return
                c = self.ctx.wrap_socket(c, server_side=True)
                f = c.makefile("rb")
                out = lambda line, c=c: c.sendall(line.encode() + b"\r\n")
                tls_on = True
            elif cmd == "AUTH" and self.auth and tls_on:
                parts = line.split()
                if parts[1].upper() == "PLAIN":
                    blob = parts[2] if len(parts) > 2 else None
                    if blob is None:
                        out("334 ")
                        blob = f.readline().decode().strip()
                    _, user, pw = base64.b64decode(blob).decode().split("\0")
                else:
                    out("334 VXNlcm5hbWU6")
                    user = base64.b64decode(f.readline().strip()).decode()
                    out("334 UGFzc3dvcmQ6")
                    pw = base64.b64decode(f.readline().strip()).decode()
                if (user, pw) == tuple(self.auth):
                    authed = user
                    out("235 2.7.0 ok")
                else:
                    out("535 5.7.8 bad credentials")
            elif cmd == "MAIL":
                if self.auth and not authed:
                    out("530 5.7.0 authentication required")
                    continue
                mail, rcpts = line[10:].split(">", 1)[0].lstrip("<"), []
                mail_line, rcpt_lines = line, []
                reply = self.mail_fn(mail)
                if not reply.startswith("2"):
                    mail = None
                out(reply)
            elif cmd == "RCPT":
                addr = line[8:].split(">", 1)[0].lstrip("<")
                reply = self.rcpt_fn(addr)
                if self.max_rcpts is not None and len(rcpts) >= self.max_rcpts:
                    reply = "452 4.5.3 too many recipients"

                if reply.startswith("2"):
                    rcpts.append(addr)
                    rcpt_lines.append(line)
                out(reply)
            elif cmd == "DATA":
                if not rcpts and self.dot_354:
                    out("354 go ahead")
                    if f.readline() == b".\r\n":
                        with self.lock:
                            self.lone_dots += 1
                    out("554 5.5.1 no valid recipients")
                    mail = None
                    continue
                if not rcpts:
                    out("554 5.5.1 no valid recipients")
                    continue
                with self.lock:
                    refusal = self.data_cmd(self.data_cmds) if self.data_cmd else None
                    self.data_cmds += 1
                if refusal:
                    out(refusal)
                    mail, rcpts = None, []
                    continue
                out("354 go ahead")
                with self.lock:
                    hangup = self.hangup_354 > 0
                    self.hangup_354 -= hangup
                if hangup:
                    return
                if self.early_reply:
                    f.readline()
                    out(self.early_reply)
                    while self.early_hold and not self.stopping:
                        time.sleep(0.1)  # reads nothing more: the body cannot end
                    while f.read1(65536):  # the rest, unread, till the client hangs up
                        pass
                    return
                # Lines kept in a list: bytes += copies the whole so far
                # each time (a 2.6 MB body of 76-octet lines took 20 s).
                lines, size = [], 0
                while True:
                    l = f.readline()
                    if not l:
                        return
                    if self.read_rate and size // 65536 != (size + len(l)) // 65536:
                        time.sleep(65536 / self.read_rate)
                    if l == b".\r\n":
                        break
                    if l.startswith(b"."):
                        l = l[1:]
                    lines.append(l)
                    size += len(l)
                data = b"".join(lines)
                if self.stall == "data":
                    time.sleep(60)
                    return
                if self.stall == "close":
                    with self.lock:
                        self.transactions += 1
                    return  # hangs up with the end of data unanswered
                taken = time.time()
                with self.lock:
                    self.data_ends += 1
                time.sleep(self.data_delay)
                with self.lock:
                    n = self.transactions
                    self.transactions += 1
                    reply = self.data_fn(n)
                    if reply.startswith("2"):
                        self.messages.append({"from": mail, "rcpts": rcpts, "data": data,
                                              "mail_line": mail_line, "rcpt_lines": rcpt_lines,
                                              "tls": tls_on, "auth": authed, "peer": peer,
                                              "helo": helo, "at": taken, "conn": conn})
                out(reply + ("\r\n" + self.data_extra if self.data_extra else ""))
                mail, rcpts = None, []
                if self.hangup_after_data:
                    return  # an idle session the client kept is cut
            elif cmd == "RSET":
                mail, rcpts = None, []
                out("250 2.0.0 ok")
            elif cmd == "QUIT":
                if self.quit_delay:
                    time.sleep(self.quit_delay)
                    with self.lock:
                        self.quits.append("closed" if _hung_up(c) else "open")
                out("221 2.0.0 bye")
                return
            elif cmd == "NOOP":
                out("250 2.0.0 ok")
            else:
                out("502 5.5.2 unknown command")

    def wait_messages(self, n, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.05)
        with self.lock:
            return list(self.messages)

    def stop(self):
        self.stopping = True
        try:
            # shutdown wakes the thread blocked in accept(); close alone does not.
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        shutil.rmtree(self.tmp, ignore_errors=True)


class PostfixPeer:
    """A private Postfix on ip:port (Debian's postfix, no chroot, own
    config/queue/data dirs) that delivers every address of `domain` into one
    Maildir with virtual(8). Started with `postfix -c DIR start`; stopped with
    `postfix -c DIR stop` (only this instance).

    mailboxes: the addresses that exist (others get 550 5.1.1 at RCPT),
    instead of every address of the domain; main_extra: main.cf lines
    appended (a parameter set twice takes its last value)."""

    def __init__(self, ip, port, domain, mailboxes=None, main_extra=""):
        self.ip, self.port, self.domain = ip, port, domain
        self.base = tempfile.mkdtemp(prefix="tern-postfix-")
        os.chmod(self.base, 0o755)
        self.conf = os.path.join(self.base, "conf")
        self.queue = os.path.join(self.base, "queue")
        self.data = os.path.join(self.base, "data")
        self.vmail = os.path.join(self.base, "vmail")
        self.log = os.path.join(self.base, "maillog")
        nobody = pwd.getpwnam("nobody")
        pf = pwd.getpwnam("postfix")
        for d in (self.conf, self.queue, self.data, self.vmail):
            os.makedirs(d)
        os.chown(self.data, pf.pw_uid, pf.pw_gid)
        os.chown(self.vmail, nobody.pw_uid, nobody.pw_gid)
        with open(os.path.join(self.conf, "vmailbox"), "w") as f:
            for addr in mailboxes or ["@" + domain]:
                f.write("%s box/\n" % addr)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(f"""compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.data}
mail_owner = postfix
setgid_group = postdrop
maillog_file = {self.log}
maillog_file_prefixes = {self.base}
myhostname = postfix.{domain}
mydomain = {domain}
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
biff = no
smtp_dns_support_level = disabled
smtpd_tls_security_level = may
smtpd_tls_cert_file = {self.base}/peer.crt
smtpd_tls_key_file = {self.base}/peer.key
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {self.vmail}
virtual_mailbox_maps = texthash:{self.conf}/vmailbox
virtual_uid_maps = static:{nobody.pw_uid}
virtual_gid_maps = static:{nobody.pw_gid}
{main_extra}""")
        self_signed(self.base, "postfix." + domain)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(f"""{ip}:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
""")
        self.started = False

    def start(self):
        r = subprocess.run(["/usr/sbin/postfix", "-c", self.conf, "start"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise RuntimeError("postfix start failed: %s %s" % (r.stdout, self.log_text()))
        self.started = True
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                socket.create_connection((self.ip, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("postfix not listening: " + self.log_text())

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def maildir_messages(self):
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.vmail, "box", sub)
            if os.path.isdir(d):
                for n in sorted(os.listdir(d)):
                    with open(os.path.join(d, n), "rb") as f:
                        out.append(f.read())
        return out

    def wait_messages(self, n, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.maildir_messages()
            if len(m) >= n:
                return m
            time.sleep(0.1)
        return self.maildir_messages()

    def stop(self):
        """`postfix stop`, and if that has not returned in 30 s, this
        instance's master and every process of its group killed. Postfix
        logs through postlogd over a unix datagram socket, whose queue
        holds net.unix.max_dgram_qlen messages (10 by default): a burst
        of warnings (test_smtp_diff's bad commands) can fill it while
        postlogd itself sends a line to it, and then postlogd, every
        process logging and `postfix stop` (its `master -t`) wait for
        ever. Seen once in a full CI run."""
        if self.started:
            p = subprocess.Popen(["/usr/sbin/postfix", "-c", self.conf, "stop"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for pgid in (p.pid, self._master_pid()):
                    try:
                        if pgid:
                            os.killpg(pgid, signal.SIGKILL)
                    except OSError:
                        pass
                p.wait()
            self.started = False
        shutil.rmtree(self.base, ignore_errors=True)

    def _master_pid(self):
        """The master's pid (it leads its own process group), or 0."""
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0
