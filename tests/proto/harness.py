"""harness.py — start the real tern binary on loopback and drive it.

Each test gets a fresh data directory and free high ports. The server's log
(stderr) is kept in memory and in DATA_DIR/../server.log so a failing test
can show it. Nothing here talks to anything but 127.0.0.1 / ::1.

A TLS client that does not verify the server (the servers under test have
self-signed certificates) takes ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
and turns off check_hostname and verification: ssl.create_default_context()
is the same context plus the system's ~140 trusted CAs, parsed on every
call (tens of ms of CPU) and never used once verification is off; made per
request, they were most of the Python side's CPU (test_http: 45% of all
its samples in OpenSSL's PEM decoder).
"""
import array
import atexit
import contextlib
import fcntl
import hashlib
import http.server
import os
import random
import select
import shutil
import signal
import socket
import socketserver
import subprocess
import tempfile
import termios
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# `make proto-asan` points the tests at build/tern-asan (glibc, ASan/UBSan),
# `make proto-tsan` at build/tern-tsan (ThreadSanitizer):
# the same tests, but not the product, so a test of the static binary
# itself (the empty chroot, `file`) skips when SANITIZED.
TERN = os.environ.get("TERN_TEST_BIN") or os.path.join(ROOT, "build", "tern")
SANITIZED = bool(os.environ.get("TERN_TEST_BIN"))
SANITIZER_LOGS = os.environ.get("TERN_SANITIZER_LOGS")
# What a sanitizer writes on stderr. ASan and LeakSanitizer honour
# ASAN_OPTIONS=log_path, but UBSan inside an ASan build writes to stderr
# whatever UBSAN_OPTIONS says (gcc 12), so stderr is searched too.
_SANITIZER_MARKS = ("runtime error:", "==ERROR: ", "AddressSanitizer", "LeakSanitizer",
                    "ThreadSanitizer")


def keep_sanitizer_output(text, what):
    """Under `make proto-asan`, copy a sanitizer's report found in a tern
    process's stderr into TERN_SANITIZER_LOGS, where run.py fails the run
    for it."""
    if not SANITIZER_LOGS:
        return
    at = [text.find(m) for m in _SANITIZER_MARKS if m in text]
    if not at:
        return
    start = text.rfind("\n", 0, min(at)) + 1
    fd, _ = tempfile.mkstemp(prefix="stderr.", dir=SANITIZER_LOGS)
    with os.fdopen(fd, "w") as f:
        f.write("%s\n%s" % (what, text[start:]))


# The test run.py is running (module:function), for name_report.
current_test = None


def name_report(pid, what):
    """A sanitizer's report file for pid (log_path adds the pid to its
    name), headed with what wrote it and the test that was running, so a
    leak reported at the end of the run says which test shows it."""
    if not SANITIZER_LOGS:
        return
    for kind in ("asan", "ubsan"):
        path = os.path.join(SANITIZER_LOGS, "%s.%d" % (kind, pid))
        if os.path.exists(path):
            with open(path, "r+", errors="replace") as f:
                text = f.read()
                f.seek(0)
                f.write("%s, stopped in or after %s\n%s" % (what, current_test or "?", text))


# The CLI commands (first two words) a module has run under LeakSanitizer
# (Server.cli).
_cli_leak_checked = set()


# How long Server.cleanup waits for a SIGTERM'd server: its stop is
# bounded by the drain (6 s), the cut sessions (1 s), the deliveries'
# stop (5 s) and the store's last requests (2 s), server.c. The drain
# waits only for sessions and for deliveries that have sent MAIL: one
# still connecting or waiting for a silent remote's greeting is cut at
# once (queue_sched_quiesce).
STOP_TIMEOUT = 20
# The seconds each cleanup's stop took; with TERN_TEST_STOP_TIMES set, a
# line "module stops seconds longest" is added to that file at the
# module's exit (to measure what the clean stops cost a run).
_stop_seconds = []


# Servers started and not yet cleaned up: a test that never calls
# cleanup (or a module-shared server whose module forgot it) is stopped
# when the module's process exits, not left running without its reader.
_live = set()


def _at_exit():
    for s in list(_live):
        s.cleanup()
    path = os.environ.get("TERN_TEST_STOP_TIMES")
    if path and _stop_seconds:
        with open(path, "a") as f:
            f.write("%s %d %.2f %.2f\n" % ((current_test or "?").split(":")[0], len(_stop_seconds),
                                            sum(_stop_seconds), max(_stop_seconds)))


atexit.register(_at_exit)


# Settings that only say where something is (the data dir, the server's
# own listeners, the loopback peers it talks to: DNS, the MX port, a
# relay, clamd, an ACME CA): `tern domain add` and `tern account add`
# write the same store whatever they say, so Server._seed's templates are
# not told apart by them. Each test's helpers (a DnsServer, a free port
# for the remotes) made every such server's key new: test_queue seeded
# its two accounts and domain afresh for each of its 50 tests.
_WHERE_TO = ("TERN_DATA_DIR", "TERN_DNS_SERVERS", "TERN_QUEUE_MX_PORT", "TERN_RELAY_HOST",
             "TERN_CLAMD", "TERN_ACME_DNS_SERVER", "TERN_ACME_DIRECTORY", "TERN_MTA_STS_PORT")


def _where_to(setting):
    return setting in _WHERE_TO or setting.startswith("TERN_LISTEN_")


# Server._seed's data dirs, by what made them, and the folder that holds
# them (removed when the module's process ends).
_templates = {}
_template_dir = []


def _template_root():
    if not _template_dir:
        _template_dir.append(tempfile.mkdtemp(prefix="tern-templates-"))
        atexit.register(shutil.rmtree, _template_dir[0], True)
    return _template_dir[0]


def _template(key, make):
    """The folder of the template for key, made by make(folder) if none
    is. Under run.py, TERN_TEST_TEMPLATES names a folder the whole run
    shares (run.py removes it at the end), so the modules that start
    servers with the same domains, accounts and settings seed them once a
    run, not once a module: a lock per key makes the others wait for the
    first, and a template appears under its name only whole (a rename).
    A module run alone keeps its own, removed when it ends."""
    shared = os.environ.get("TERN_TEST_TEMPLATES")
    if not shared:
        folder = tempfile.mkdtemp(dir=_template_root())
        make(folder)
        return folder
    folder = os.path.join(shared, hashlib.sha256(repr(key).encode()).hexdigest()[:32])
    fd = os.open(folder + ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not os.path.isdir(folder):
            part = tempfile.mkdtemp(dir=shared, prefix="part-")
            try:
                make(part)
            except BaseException:
                shutil.rmtree(part, ignore_errors=True)
                raise
            os.rename(part, folder)
    finally:
        os.close(fd)
    return folder


# Ports handed out by free_port() in this run: never handed out twice, so
# two listeners of one server (or a server and a peer) cannot be given the
# same port.
_given_ports = set()
_port_range = None  # (lo, hi), read once
_port_lock_fd = None  # one file; a lock on byte PORT reserves that port


def _reserve_port(port):
    """Reserves port among every test process on this machine, for this
    process's life: a lock on byte `port` of one shared file (the kernel
    drops it when the process ends). The per-worker slices keep one run's
    modules apart, but two runs at once (engineers sharing a machine) draw
    from the same slices, and a port free at the probe was taken before
    tern bound it: test_spam_wire's tern exited 2 with "Address in use" on
    its IMAP port while another run.py was running here. A stopped and
    restarted server keeps its ports reserved too."""
    global _port_lock_fd
    if _port_lock_fd is None:
        path = os.path.join(tempfile.gettempdir(), "tern-test-ports.lock")
        _port_lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.lockf(_port_lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port)
        return True
    except OSError:
        return False


def npm_ci(folder):
    """npm ci in folder (a tests/ folder with a package-lock.json) when its
    node_modules is older than the lockfile. scripts/install-test-deps fills
    them all before a run; this covers a lockfile changed since. Modules
    that share a folder (the test_webui* ones) may get here at once, and two
    npm ci in one folder at the same time leave it half installed: a lock
    file serialises them, and the second finds the work done."""
    have = os.path.join(folder, "node_modules", ".package-lock.json")
    lock = os.path.join(folder, "package-lock.json")
    key = os.path.abspath(folder).replace(os.sep, "_")
    fd = os.open(os.path.join(tempfile.gettempdir(), "tern-npm-%s.lock" % key),
                 os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.path.exists(have) and os.path.getmtime(have) >= os.path.getmtime(lock):
            return
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder,
                       check=True, timeout=300)
    finally:
        os.close(fd)


def _free_port_range():
    """From 20000 to just below the kernel's ephemeral range."""
    global _port_range
    if _port_range is None:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            hi = int(f.read().split()[0]) - 1
        lo, hi = (20000, hi) if hi - 20000 >= 1000 else (10000, 19999)
        # run.py's workers each draw from their own slice, so two test
        # modules running at once never pick the same port.
        slot = os.environ.get("TERN_TEST_PORT_SLOT")
        if slot:
            k, n = (int(x) for x in slot.split("/"))
            width = (hi - lo + 1) // n
            lo, hi = lo + k * width, lo + (k + 1) * width - 1
        _port_range = (lo, hi)
    return _port_range


def free_port(ips=("127.0.0.1",), udp=False):
    """A TCP port free on every address in ips (with udp, UDP too on the
    first), never handed out before.

    Drawn from below the kernel's ephemeral range: a port from bind(0) is
    free when chosen, but the test's own client connections draw their
    source ports from that range, so one could take it before tern binds
    it. A CI run lost a test where tern exited 1 while opening its
    listeners; the log that would say why was cut (see start()), and a
    port taken by then is the only cause in sight.
    """
    lo, hi = _free_port_range()
    probes = [(ip, socket.SOCK_STREAM) for ip in ips]
    if udp:
        probes.append((ips[0], socket.SOCK_DGRAM))
    for _ in range(500):
        port = random.randint(lo, hi)
        if port in _given_ports or not _reserve_port(port):
            continue
        socks = []
        try:
            for ip, kind in probes:
                s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, kind)
                socks.append(s)
                s.bind((ip, port))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        _given_ports.add(port)
        return port
    raise RuntimeError("no free port")


class LoopbackHTTPServer(http.server.ThreadingHTTPServer):
    """http.server's threading server without its reverse lookup: its
    server_bind asks socket.getfqdn(ip) for a name nobody reads, and for a
    loopback address not in /etc/hosts (127.x.y.z) that is a PTR query to
    the machine's resolver, the test stalling on the resolver's timeout
    when the answer is lost (scripts/netcheck saw it)."""

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


_default_dns = {}


def default_dns():
    """The loopback DNS server every Server uses unless a test passes its
    own (one for the whole run, started on first use): DMARC policy names
    (_dmarc.*) do not exist, so port 25's DMARC check of a test message
    ends in "none"; nullmx.test publishes a null MX (RFC 7505); every
    other name fails at once (SERVFAIL), as the closed port used before
    did, so SPF is a temperror and the queue defers."""
    if "servers" not in _default_dns:
        import atexit
        import json
        d = tempfile.mkdtemp(prefix="tern-dns-default-")
        path = os.path.join(d, "zone.json")
        with open(path, "w") as f:
            json.dump({"_dmarc.*": {"NXDOMAIN": True}, "*": {"SERVFAIL": True},
                       "nullmx.test": {"MX": [[0, "."]]}}, f)
        port = free_port(udp=True)
        proc = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "tests", "proto", "dns_server.py"), str(port), path],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("dns_server did not start: " + proc.stderr.read())

        def stop():
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        atexit.register(stop)
        _default_dns["servers"] = "127.0.0.1:%d" % port
    return _default_dns["servers"]



@contextlib.contextmanager
def small_tmpfs(size, prefix):
    """A tmpfs of size ("8m") mounted on a new directory, for a disk that
    fills up; unmounted and removed afterwards. Needs root: callers skip
    without it."""
    mnt = tempfile.mkdtemp(prefix=prefix)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", mnt], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", mnt])
        os.rmdir(mnt)


@contextlib.contextmanager
def reader_held(s, account):
    """Keeps a read transaction on the store open: `tern fetch` of a
    100 KB message (the account must hold one whose subject has the word
    "big") into a pipe nobody reads blocks in its write, its transaction
    open, once the pipe is full. LMDB reuses no page freed after its
    oldest reader began, so from here every write needs pages
    the pages freed before it cannot all supply: on a full disk each is
    refused after the first few, whatever earlier commits left free
    (without it, small writes fitted the freed pages for as long as a
    test tried, one CI run in several)."""
    listed = subprocess.run([s.binary, "fetch", account], env=s.env, capture_output=True,
                            timeout=30, check=True).stdout.decode()
    big = [ln.split()[0] for ln in listed.splitlines() if " big " in ln]
    assert big, listed
    p = subprocess.Popen([s.binary, "fetch", account, "--id", big[0]], env=s.env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        cap = fcntl.fcntl(p.stdout.fileno(), fcntl.F_GETPIPE_SZ)
        n = array.array("i", [0])
        deadline = time.time() + 30
        while time.time() < deadline and p.poll() is None:
            fcntl.ioctl(p.stdout.fileno(), termios.FIONREAD, n)
            if n[0] >= cap:
                break
            time.sleep(0.01)
        assert n[0] >= cap and p.poll() is None, (n[0], cap, p.poll())
        yield
    finally:
        out = p.stdout.read()
        assert p.wait(timeout=30) == 0 and len(out) + cap > 100000, (p.returncode, len(out))


@contextlib.contextmanager
def empty_chroot(prefix="tern-chroot-"):
    """The static binary alone in an empty directory with an empty data/,
    as the container runs it (no /dev, no /etc). Yields (root, run):
    run(*args, input=b"") runs /tern chrooted there with TERN_DATA_DIR=/data
    and TERN_HOSTNAME=chroot.example.test. Yields None under a sanitizer
    build (not static) or when not root; the caller then skips its part."""
    if SANITIZED or os.geteuid() != 0:
        print("  (chroot part needs root and the static binary)")
        yield None
        return
    root = tempfile.mkdtemp(prefix=prefix)
    try:
        shutil.copy(TERN, os.path.join(root, "tern"))
        os.mkdir(os.path.join(root, "data"))
        env = {"TERN_DATA_DIR": "/data", "TERN_HOSTNAME": "chroot.example.test"}

        def jail():
            os.chroot(root)
            os.chdir("/")

        def run(*args, input=b""):
            return subprocess.run(["/tern"] + list(args), env=env, preexec_fn=jail, input=input,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        yield root, run
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ThreadSanitizer's shadow and meta memory on x86_64 Linux (its layout, as
# /proc/PID/maps shows it for build/tern-tsan): the shadow from 0x0100 0000
# 0000 to 0x2000 0000 0000, the meta from 0x3000 0000 0000 to 0x3400 0000
# 0000. Not a pointer of the program's is there.
_TSAN_SHADOW = (0x010000000000, 0x340000000000)


def _rss_anon_without_shadow(pid):
    """RssAnon of pid in KiB, less what lies in _TSAN_SHADOW."""
    kib, shadow = 0, False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            head = line.split(None, 1)[0]
            if "-" in head and not head.endswith(":"):
                lo = int(head.split("-")[0], 16)
                shadow = _TSAN_SHADOW[0] <= lo < _TSAN_SHADOW[1]
            elif head == "Anonymous:" and not shadow:
                kib += int(line.split()[1])
    return kib


class Server:
    """A tern serve process with its own data dir and ports."""

    def __init__(self, env=None, data_dir=None, domains=("example.test",), accounts=(),
                 start=True, binary=TERN, wrap=None, pop3=False, imap=False,
                 submission=False, http=False):
        self.tmp = tempfile.mkdtemp(prefix="tern-test-")
        self.data = data_dir or os.path.join(self.tmp, "data")
        self.smtp_port = free_port()
        # pop3=True also listens for POP3 (STLS) and POP3S on free ports.
        self.pop3_port = free_port() if pop3 else None
        self.pop3s_port = free_port() if pop3 else None
        # imap=True also listens for IMAP (STARTTLS) and IMAPS on free ports.
        self.imap_port = free_port() if imap else None
        self.imaps_port = free_port() if imap else None
        # submission=True also listens for submission (STARTTLS) and
        # submissions (implicit TLS) on free ports.
        self.submission_port = free_port() if submission else None
        self.submissions_port = free_port() if submission else None
        # http=True also listens for HTTP and HTTPS (web admin, API) on free ports.
        self.http_port = free_port() if http else None
        self.https_port = free_port() if http else None
        self.binary = binary
        self.wrap = wrap or []
        self.env = {
            "PATH": "/usr/bin:/bin",
            "TERN_DATA_DIR": self.data,
            "TERN_HOSTNAME": "mx.example.test",
            "TERN_LISTEN_SMTP": "127.0.0.1:%d" % self.smtp_port,
            "TERN_LISTEN_SUBMISSION": "", "TERN_LISTEN_SUBMISSIONS": "",
            "TERN_LISTEN_IMAP": "", "TERN_LISTEN_IMAPS": "",
            "TERN_LISTEN_POP3": "", "TERN_LISTEN_POP3S": "",
            "TERN_LISTEN_SIEVE": "", "TERN_LISTEN_HTTP": "", "TERN_LISTEN_HTTPS": "",
            "TERN_LOG_LEVEL": "debug",
            # DNS stays on loopback: port 25's checks ask for every
            # message. See default_dns(); tests that need answers pass
            # their own dns_server.py.
            "TERN_DNS_SERVERS": default_dns(),
        }
        if pop3:
            self.env["TERN_LISTEN_POP3"] = "127.0.0.1:%d" % self.pop3_port
            self.env["TERN_LISTEN_POP3S"] = "127.0.0.1:%d" % self.pop3s_port
        if imap:
            self.env["TERN_LISTEN_IMAP"] = "127.0.0.1:%d" % self.imap_port
            self.env["TERN_LISTEN_IMAPS"] = "127.0.0.1:%d" % self.imaps_port
        if submission:
            self.env["TERN_LISTEN_SUBMISSION"] = "127.0.0.1:%d" % self.submission_port
            self.env["TERN_LISTEN_SUBMISSIONS"] = "127.0.0.1:%d" % self.submissions_port
        if http:
            self.env["TERN_LISTEN_HTTP"] = "127.0.0.1:%d" % self.http_port
            self.env["TERN_LISTEN_HTTPS"] = "127.0.0.1:%d" % self.https_port
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):  # where reports go
            if k in os.environ:
                self.env[k] = os.environ[k]
        if env:
            self.env.update(env)
        self.proc = None
        self.log = []
        self.log_taken = 0  # octets the reader took from the pipe
        self.log_lock = threading.Lock()
        if data_dir is None and not self.wrap and (domains or accounts):
            self._seed(tuple(domains), tuple(accounts))
        else:
            self._add(domains, accounts)
        if start:
            self.start()

    def _add(self, domains, accounts):
        for d in domains:
            self.cli("domain", "add", d)
        for addr, pw in accounts:
            self.cli("account", "add", addr, input=pw + "\n")

    def _seed(self, domains, accounts):
        """Fills the fresh data dir with the domains and accounts: the
        first time the run (a module run alone: the module) asks for these
        (with this binary and these settings, _where_to aside) through
        `tern domain add` and `tern account add`, into a template kept for
        the run (_template); after that as a copy of the template. The commands cost a DKIM key and an argon2id hash each,
        and most modules start dozens of servers with the same few
        accounts: copies took the plain run from 3,425 tern processes to
        2,923 and their CPU from 353 s to 304. What each test starts from
        is the same store either way."""
        settings = tuple(sorted((k, v) for k, v in self.env.items() if not _where_to(k)))
        key = (self.binary, domains, accounts, settings)
        template = _templates.get(key)
        if template is None:
            template = _template(key, lambda into: self._add_into(into, domains, accounts))
            _templates[key] = template
        # Not LMDB's lock file: the server makes its own. Nor secrets.key
        # (`tern account add` makes it, to seal the SCRAM keys): each
        # server has its own, as two installs do; the template accounts'
        # SCRAM keys then do not open, and their first PLAIN/LOGIN login
        # makes them again (store_scram.c).
        shutil.copytree(template, self.data,
                        ignore=shutil.ignore_patterns("lock.mdb", "secrets.key"))

    def _add_into(self, folder, domains, accounts):
        data, self.env["TERN_DATA_DIR"] = self.data, folder
        try:
            self._add(domains, accounts)
        finally:
            self.env["TERN_DATA_DIR"] = data

    # ---- process control ----
    # 30 s: a start that fails exits and is seen at once (poll below); only
    # a slow one waits, and a 2-core machine running five modules with
    # ASan has taken more than 10 s (test_http_model, session 79).
    def start(self, timeout=30):
        self.log_file = open(os.path.join(self.tmp, "server.log"), "a")
        self.proc = subprocess.Popen(self.wrap + [self.binary, "serve"], env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        _live.add(self)
        # A restarted server keeps its log; only this run's lines say it
        # has started (the first run's line would let a test connect early).
        with self.log_lock:
            first_line = len(self.log)
        self.reader = threading.Thread(target=self._read_log, args=(first_line,), daemon=True)
        self.reader.start()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                # The reader may not have the last lines yet: they say why.
                self.reader.join(2)
                raise RuntimeError("tern exited with %s:\n%s" % (self.proc.returncode, self.log_text()))
            with self.log_lock:
                now = "".join(self.log[first_line:])
            if "event=started" in now or "\"event\":\"started\"" in now:
                return
            time.sleep(0.02)
        # Do not leave a half-started server behind: the caller never gets
        # an object to clean up when the constructor raises.
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("tern did not start:\n" + self.log_text())

    def _read_log(self, first_line):
        # Octets leave the pipe only under log_lock and are in self.log
        # when it is let go; log_text() relies on it (below).
        fd = self.proc.stderr.fileno()
        os.set_blocking(fd, False)
        partial = b""
        poller = select.poll()  # not select(): a test may hold 1,000 descriptors
        poller.register(fd, select.POLLIN)
        while True:
            poller.poll()
            with self.log_lock:
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                self.log_taken += len(chunk)
                *whole, partial = (partial + chunk).split(b"\n")
                lines = [raw.decode("utf-8", "replace") + "\n" for raw in whole]
                self.log.extend(lines)
            self.log_file.write("".join(lines))
            self.log_file.flush()
        with self.log_lock:
            if partial:
                self.log.append(partial.decode("utf-8", "replace"))
                self.log_file.write(self.log[-1])
            this_run = "".join(self.log[first_line:])
        keep_sanitizer_output(this_run, "stderr of tern serve (%s)" % self.tmp)

    def _pipe_pending(self):
        try:
            n = array.array("i", [0])
            fcntl.ioctl(self.proc.stderr.fileno(), termios.FIONREAD, n)
            return n[0]
        except (AttributeError, OSError, ValueError):
            return 0  # no server, or its stderr is closed

    def log_text(self):
        """Every whole line the server wrote before this call: a line it
        wrote before a reply may still sit in the pipe when the reply
        reaches the test, so this waits (2 s at most) until the reader
        thread has taken the octets the pipe held at the call (not until
        it is empty: a busy server may never leave it so)."""
        deadline = time.time() + 2
        with self.log_lock:
            target = self.log_taken + self._pipe_pending()
        while True:
            with self.log_lock:
                if self.log_taken >= target or time.time() > deadline:
                    return "".join(self.log)
            time.sleep(0.001)

    def wait_log(self, needle, timeout=30):
        """Waits for needle, a string or a compiled pattern, in the log: a
        loop holds its lines back and writes them together (log_defer), so a
        line can arrive after the reply of the request that logged it.
        True as soon as it is there; the deadline is generous (30 s) since
        a loaded ASan run is several times slower, and only a failing
        test waits it out (no caller waits for a line not to come)."""
        deadline = time.time() + timeout
        found = needle.search if hasattr(needle, "search") else (lambda t: needle in t)
        while time.time() < deadline:
            if found(self.log_text()):
                return True
            time.sleep(0.02)
        return False

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("tern did not stop within %ss" % timeout)
        self.reader.join(2)
        name_report(self.proc.pid, "tern serve (%s)" % self.tmp)
        return self.proc.returncode

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.reader.join(2)

    def rss_kib(self, field="VmRSS"):
        """A figure of /proc/PID/status in KiB: VmRSS, or RssAnon (what the
        server allocated, without the store's and spool files' mappings).
        Under ThreadSanitizer, RssAnon leaves out the race detector's
        shadow: several times each byte the server touched, even the
        pages of a file it mapped (a 50 MB upload read from its spool
        file's mapping added 190 MiB of shadow), so it would measure
        TSan, not the server."""
        if field == "RssAnon" and os.environ.get("TERN_TEST_BUILD") == "tsan":
            return _rss_anon_without_shadow(self.proc.pid)
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    # ---- admin commands ----
    def memory_holds(self, needles, region_max=1 << 30):
        """Which of needles (bytes) the server's writable private memory
        holds now: its heap, its threads' stacks, mimalloc's arenas. For
        the tests that a secret is wiped once used. Regions over
        region_max are skipped: a sanitizer's shadow reserves terabytes,
        nearly all never touched, and holds no copy of anything."""
        found = set()
        keep = max(len(n) for n in needles) - 1
        with open("/proc/%d/maps" % self.proc.pid) as maps, \
                open("/proc/%d/mem" % self.proc.pid, "rb", 0) as mem:
            for line in maps:
                f = line.split()
                lo, hi = (int(x, 16) for x in f[0].split("-"))
                if not f[1].startswith("rw") or len(f) > 5 and f[5].startswith("/") \
                        or hi - lo > region_max:
                    continue
                tail = b""
                for at in range(lo, hi, 1 << 20):
                    try:
                        mem.seek(at)
                        chunk = tail + mem.read(min(1 << 20, hi - at))
                    except (OSError, ValueError):
                        break
                    found.update(n for n in needles if n in chunk)
                    tail = chunk[-keep:] if keep else b""
        return found

    def cli(self, *args, input=None, check=True):
        env = self.env
        if SANITIZED:
            # LeakSanitizer's check at exit is about 60 ms of a short
            # command's 115 under ASan; a module runs `domain add` and
            # `account add` for every server it starts. Each command
            # (its first two words) is leak-checked the first time a
            # module runs it; the same command again is not.
            verb = tuple(args[:2])
            if verb in _cli_leak_checked:
                env = dict(env, ASAN_OPTIONS=(env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":"))
            _cli_leak_checked.add(verb)
        r = subprocess.run(self.wrap + [self.binary] + list(args), env=env, input=(input or "").encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        keep_sanitizer_output(r.stderr.decode("utf-8", "replace"), "stderr of tern " + " ".join(args))
        if check and r.returncode != 0:
            raise AssertionError("tern %s failed (%d): %s" % (" ".join(args), r.returncode,
                                                              r.stderr.decode(errors="replace")))
        return r

    def messages(self, account, mailbox="INBOX"):
        """[(id, from+subject line)] listed by `tern fetch`."""
        r = self.cli("fetch", account, "--mailbox", mailbox)
        out = []
        for line in r.stdout.decode("utf-8", "replace").splitlines():
            parts = line.split(None, 1)
            if parts and parts[0].isdigit():
                out.append((int(parts[0]), line))
        return out

    def raw(self, account, msg_id):
        return self.cli("fetch", account, "--id", str(msg_id)).stdout

    def cleanup(self):
        """Stops the server as an operator would (SIGTERM), so that under
        `--build asan` LeakSanitizer checks it at its exit: killed, a
        server's leaks went unseen. SIGKILL only when it does not stop in
        time, said in the module's output (a stop that hangs is a defect
        too, and a killed server's leaks are not checked)."""
        if self.proc and self.proc.poll() is None:
            t0 = time.time()
            with self.log_lock:
                before = len(self.log)  # what this stop logs comes after
            try:
                self.stop(timeout=STOP_TIMEOUT)
            except AssertionError:
                print("harness: tern serve (pid %d, %s) did not stop within %d s of SIGTERM: "
                      "killed (SIGKILL)%s" % (self.proc.pid, self.tmp, STOP_TIMEOUT,
                                              ", its leaks unchecked" if SANITIZED else ""),
                      flush=True)
            _stop_seconds.append(time.time() - t0)
            # A drain that ran out its time: something (a session, a
            # delivery) the test left under way held the stop up.
            with self.log_lock:
                since = self.log[before:]
            held = [l.strip() for l in since
                    if "event=stopping" in l or "event=drain_timeout" in l]
            if any("drain_timeout" in l for l in held):
                print("harness: tern serve (%s) stopped in %.1f s, after its drain timed out: %s"
                      % (self.tmp, _stop_seconds[-1], " | ".join(held[-2:])), flush=True)
        _live.discard(self)
        subprocess.run(["rm", "-rf", self.tmp])


class Raw:
    """A raw line-oriented SMTP client for what smtplib will not send."""

    def __init__(self, port, host="127.0.0.1", timeout=10, greet=True, source=None):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""
        if greet:
            self.greeting = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; buffered %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """One full (possibly multi-line) reply: (code, [texts])."""
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def closed(self, timeout=5):
        """True when the server closes the connection (reads drain to EOF)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def message(subject="test", body="Hello.\r\n", sender="alice@remote.test", to="bob@example.test",
            extra=""):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@remote.test>\r\n"
            "Date: Fri, 20 Nov 2026 12:00:00 +0000\r\n%s\r\n%s") % (
                sender, to, subject, "%x" % int(time.time() * 1e6), extra, body)


def _enter(self):
    return self


def _exit(self, *exc):
    if exc[0] is not None:
        print("---- server log (last 60 lines) ----")
        print("".join(self.log_text().splitlines(True)[-60:]))
    self.cleanup()
    return False


Server.__enter__ = _enter
Server.__exit__ = _exit
