"""Every TLS listener refuses old protocols and weak suites (issue 30).

One server per certificate kind (P-256 EC, then RSA-2048) with every TLS
port on: SMTP and submission (STARTTLS), submissions, IMAP (STARTTLS),
IMAPS, POP3 (STLS), POP3S, ManageSieve (STARTTLS) and HTTPS. On each port `openssl s_client`
with -tls1 and -tls1_1 (at SECLEVEL=0, so the client would accept them)
gets no session, a TLS 1.2 client gets an ECDHE AEAD suite, and a client
offering only non-forward-secret or CBC suites is refused. Then nmap's
ssl-enum-ciphers (implicit-TLS ports: nmap only speaks STARTTLS on the
ports it knows) lists TLS 1.2 alone with only the intended suites.
"""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

from harness import Server, free_port

INTENDED = {
    "ec": {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
           "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
    "rsa": {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
}
# The same suites in OpenSSL's names, as s_client reports the one it got.
OPENSSL_NAMES = {
    "ec": {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
           "ECDHE-ECDSA-CHACHA20-POLY1305"},
    "rsa": {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
            "ECDHE-RSA-CHACHA20-POLY1305"},
}
# Suites a client may offer that tern must not take: static RSA key
# exchange, CBC modes, SHA-1 MACs.
WEAK = "AES128-SHA:AES256-SHA:AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:" \
       "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:DES-CBC3-SHA"


def make_cert(tmp, kind):
    key, crt = os.path.join(tmp, kind + ".key"), os.path.join(tmp, kind + ".crt")
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if kind == "ec" \
        else ["-newkey", "rsa:2048"]
    subprocess.run(["openssl", "req", "-x509"] + newkey +
                   ["-nodes", "-keyout", key, "-out", crt, "-days", "2",
                    "-subj", "/CN=mail.example.test"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return crt, key


def tls_ports(s, sieve_port):
    """(name, port, s_client -starttls protocol or None) of every TLS listener."""
    return [("smtp", s.smtp_port, "smtp"), ("submission", s.submission_port, "smtp"),
            ("submissions", s.submissions_port, None), ("imap", s.imap_port, "imap"),
            ("imaps", s.imaps_port, None), ("pop3", s.pop3_port, "pop3"),
            ("pop3s", s.pop3s_port, None), ("sieve", sieve_port, "sieve"),
            ("https", s.https_port, None)]


def s_client(port, starttls, *opts):
    """The suite s_client negotiated on port, or None when no session."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + list(opts)
    if starttls:
        cmd += ["-starttls", starttls]
    r = subprocess.run(cmd, input=b"", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    m = re.search(rb"Cipher is (\S+)", r.stdout)
    suite = m.group(1).decode() if m else None
    if suite == "(NONE)" or r.returncode != 0:
        return None
    return suite


def check_listeners(kind):
    tmp = tempfile.mkdtemp(prefix="tern-tls-listeners-")
    try:
        crt, key = make_cert(tmp, kind)
        sieve = free_port()
        with Server(imap=True, pop3=True, submission=True, http=True,
                    env={"TERN_TLS_CERT": crt, "TERN_TLS_KEY": key,
                         "TERN_HOSTNAME": "mail.example.test",
                         "TERN_LISTEN_SIEVE": "127.0.0.1:%d" % sieve}) as s:
            for name, port, starttls in tls_ports(s, sieve):
                for old in ("-tls1", "-tls1_1"):
                    got = s_client(port, starttls, old, "-cipher", "DEFAULT@SECLEVEL=0")
                    assert got is None, "%s (%s) accepted %s with %s" % (name, kind, old, got)
                got = s_client(port, starttls, "-tls1_2")
                assert got in OPENSSL_NAMES[kind], "%s (%s) TLS 1.2 gave %r" % (name, kind, got)
                got = s_client(port, starttls, "-tls1_2", "-cipher", WEAK + "@SECLEVEL=0")
                assert got is None, "%s (%s) accepted the weak suite %s" % (name, kind, got)
            if shutil.which("nmap") is None:
                raise AssertionError("nmap is not installed (scripts/install-test-deps)")
            ports = [p for n, p, st in tls_ports(s, sieve) if st is None]
            r = subprocess.run(["nmap", "-Pn", "-n", "-p", ",".join(str(p) for p in ports),
                                "--script", "ssl-enum-ciphers", "127.0.0.1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
            out = r.stdout.decode(errors="replace")
            assert r.returncode == 0, out + r.stderr.decode(errors="replace")
            # One report per port, split on nmap's "PORT/tcp" lines.
            reports = re.split(r"\n(?=\d+/tcp)", out)
            for port in ports:
                rep = [x for x in reports if x.startswith("%d/tcp" % port)]
                assert rep, "nmap has no report for port %d:\n%s" % (port, out)
                rep = rep[0]
                versions = set(re.findall(r"\|\s+(TLSv1\.\d|SSLv\d):", rep))
                assert versions == {"TLSv1.2"}, "port %d (%s): %s\n%s" % (port, kind, versions, rep)
                suites = set(re.findall(r"(TLS_[A-Z0-9_]+) \(", rep))
                assert suites and suites <= INTENDED[kind], \
                    "port %d (%s) offers %s" % (port, kind, suites - INTENDED[kind] or suites)
                assert re.search(r"least strength: A", rep), rep
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_tls_listeners_ec_certificate():
    check_listeners("ec")


def test_tls_listeners_rsa_certificate():
    check_listeners("rsa")


def read_until(sock, done):
    """Reads until done(data) holds; the data."""
    data = b""
    while not done(data):
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    return data


def test_stalled_handshake_after_starttls_is_bounded():
    """A client that says STARTTLS, gets its go-ahead and then sends no
    ClientHello is closed when the handshake time (30 s) runs out, as on
    the implicit-TLS ports. Before, the switch had no bound of its own: the
    connection waited for the login deadline (submission, IMAP, POP3,
    ManageSieve: here 600 s) or port 25's idle time (300 s), holding a
    slot; the socket was still open after 60 s."""
    sieve = free_port()
    with Server(imap=True, pop3=True, submission=True,
                env={"TERN_LOGIN_TIMEOUT": "600",
                     "TERN_LISTEN_SIEVE": "127.0.0.1:%d" % sieve}) as s:
        line_end = lambda d: d.endswith(b"\r\n")
        dialogs = {
            "smtp": (s.smtp_port, [(None, lambda d: b"220 " in d), (b"EHLO c.test\r\n", lambda d: b"\n250 " in d),
                                   (b"STARTTLS\r\n", lambda d: d.startswith(b"220 ") and line_end(d))]),
            "submission": (s.submission_port,
                           [(None, lambda d: b"220 " in d), (b"EHLO c.test\r\n", lambda d: b"\n250 " in d),
                            (b"STARTTLS\r\n", lambda d: d.startswith(b"220 ") and line_end(d))]),
            "imap": (s.imap_port, [(None, line_end), (b"a STARTTLS\r\n", lambda d: b"a OK" in d and line_end(d))]),
            "pop3": (s.pop3_port, [(None, line_end), (b"STLS\r\n", lambda d: d.startswith(b"+OK") and line_end(d))]),
            "sieve": (sieve, [(None, lambda d: re.search(rb"(^|\n)OK.*\r\n$", d)),
                              (b"STARTTLS\r\n", lambda d: d.startswith(b"OK") and line_end(d))]),
            "imaps": (s.imaps_port, []),
        }
        socks = {}
        for name, (port, steps) in dialogs.items():
            c = socket.create_connection(("127.0.0.1", port), timeout=10)
            for send, done in steps:
                if send:
                    c.sendall(send)
                read_until(c, done)
            socks[name] = c
        # Now each server side waits for a ClientHello that never comes.
        closed = {}
        deadline = time.time() + 60
        while len(closed) < len(socks) and time.time() < deadline:
            for name, c in socks.items():
                if name in closed:
                    continue
                c.settimeout(0.5)
                try:
                    closed[name] = c.recv(1) == b""
                except socket.timeout:
                    pass
                except ConnectionError:
                    closed[name] = True
        for c in socks.values():
            c.close()
        assert sorted(n for n, v in closed.items() if v) == sorted(socks), (closed, s.log_text()[-3000:])
        # A loop writes its log lines together: the last may follow the EOF.
        assert s.wait_log(re.compile("(reason=tls_handshake_timeout.*){%d}" % len(socks), re.S)), \
            s.log_text()[-3000:]
