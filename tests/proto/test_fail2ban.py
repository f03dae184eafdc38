"""fail2ban against a real tern log (issue 28, finding 4): Debian's
fail2ban-regex runs the filters of scripts/fail2ban/ (the ones README.md
shows) over the log of a server that saw failed logins on every protocol,
some with user names built to look like another failure record. Only the
real client address may come out, once per failure; in the text log and
in the JSON log."""
import base64
import json
import os
import re
import socket
import ssl
import subprocess
import threading

from harness import ROOT, Server, free_port
from httpc import Api

BOB, BOB_PW = "bob@example.test", "bob-pw-1"
FILTERS = os.path.join(ROOT, "scripts", "fail2ban")
INJECTED = [
    "module=http event=auth_failed ip=6.6.6.7",
    'x" ip=6.6.6.8',
    "y\nlevel=warn module=http event=auth_failed what=login failures=1 ip=6.6.6.9",
    'z\\" ip=6.6.6.10',
]


def need_fail2ban():
    if subprocess.run(["sh", "-c", "command -v fail2ban-regex"],
                      stdout=subprocess.DEVNULL).returncode != 0:
        raise AssertionError("fail2ban-regex missing: run scripts/install-test-deps")


def ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def tls_lines(port):
    sock = ctx().wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30))
    f = sock.makefile("rwb")

    def cmd(text=None):
        if text is not None:
            f.write(text.encode() + b"\r\n")
            f.flush()
        return f.readline().decode().rstrip("\r\n")
    return sock, cmd


def plain(user, pw):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode()).decode()


def imap_fail(s, user):
    # AUTHENTICATE PLAIN carries any byte, newlines included.
    sock, cmd = tls_lines(s.imaps_port)
    cmd()
    assert cmd("a AUTHENTICATE PLAIN " + plain(user, "wrong")).startswith("a NO [AUTH"), user
    sock.close()


def smtp_fail(s, user):
    sock, cmd = tls_lines(s.submissions_port)
    cmd()
    line = cmd("EHLO test")
    while line[3] == "-":
        line = cmd()
    assert cmd("AUTH PLAIN " + plain(user, "wrong")).startswith("535"), user
    sock.close()


def pop3_fail(s, user):
    # USER takes the rest of the line, quotes and all.
    sock, cmd = tls_lines(s.pop3s_port)
    cmd()
    assert cmd("USER " + user).startswith("+OK")
    assert cmd("PASS wrong").startswith("-ERR [AUTH]"), user
    sock.close()


def sieve_fail(s, user):
    # ManageSieve logs as module=sieve; AUTHENTICATE's base64 carries any byte.
    sock = socket.create_connection(("127.0.0.1", s.sieve_port), timeout=30)
    f = sock.makefile("rwb")

    def response():
        while True:
            line = f.readline()
            assert line, "closed"
            if line.startswith((b"OK", b"NO", b"BYE")):
                return line
    response()
    f.write(b"STARTTLS\r\n")
    f.flush()
    assert response().startswith(b"OK")
    sock = ctx().wrap_socket(sock)
    f = sock.makefile("rwb")
    response()
    f.write(('AUTHENTICATE "PLAIN" "%s"\r\n' % plain(user, "wrong")).encode())
    f.flush()
    assert response().startswith(b"NO"), user
    sock.close()


def http_fail(s, what):
    b = Api(s)
    if what == "login":
        assert b.login("wrong")[0] == 401
    else:
        b.token = "0" * 64
        assert b.call("GET", "/stats")[0] == 401


def fail_everywhere(s):
    """Failed logins on every protocol, in parallel (each reply is held
    back 1-5 s), no more than the address's limit of 10; returns how many."""
    tries = [(imap_fail, u) for u in INJECTED[:3]] + [(sieve_fail, INJECTED[3])] + \
        [(smtp_fail, INJECTED[0]), (smtp_fail, INJECTED[2]),
         (pop3_fail, INJECTED[1]), (pop3_fail, INJECTED[3]),
         (http_fail, "login"), (http_fail, "token")]
    errors = []

    def run(fn, arg):
        try:
            fn(s, arg)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((fn.__name__, arg, e))
    threads = [threading.Thread(target=run, args=t) for t in tries]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return len(tries)


def f2b(log_path, filt):
    out = subprocess.run(["fail2ban-regex", "-o", "ip", log_path, os.path.join(FILTERS, filt)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def run_server(json_log):
    env = {"TERN_ADMIN_PASSWORD": "admin-password-1-Vq8r"}
    if json_log:
        env["TERN_LOG_FORMAT"] = "json"
    sieve_port = free_port()
    env["TERN_LISTEN_SIEVE"] = "127.0.0.1:%d" % sieve_port
    s = Server(env=env, accounts=[(BOB, BOB_PW)], imap=True, pop3=True, submission=True,
               http=True)
    s.sieve_port = sieve_port
    with s:
        n = fail_everywhere(s)
        log = s.log_text()
        path = os.path.join(s.tmp, "tern.log")
        with open(path, "w") as f:
            f.write(log)
        return n, log, f2b(path, "tern-json.conf" if json_log else "tern.conf")


def test_fail2ban_filters_match_only_real_failures():
    need_fail2ban()
    # README shows the text filter: the two must not drift apart.
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    with open(os.path.join(FILTERS, "tern.conf")) as f:
        conf = f.read()
    for line in conf.splitlines():
        if line.startswith(("failregex", "datepattern")):
            assert line in readme, line

    n, log, ips = run_server(json_log=False)
    assert ips == ["127.0.0.1"] * n, (n, ips)
    assert not re.search(r"^\S*6\.6\.6", "\n".join(ips), re.M)
    # The injected names are in the log, quoted and escaped, never bare.
    assert 'user="module=http event=auth_failed ip=6.6.6.7" ip=127.0.0.1\n' in log
    assert "\\x0alevel=warn" in log
    assert re.search(r"module=sieve session=[0-9a-f]+ event=auth_failed .*ip=127\.0\.0\.1$", log, re.M)

    n, log, ips = run_server(json_log=True)
    assert ips == ["127.0.0.1"] * n, (n, ips)
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    failed = [r for r in records if r.get("event") == "auth_failed"]
    assert len(failed) == n
    assert all(list(r)[-1] == "ip" and r["ip"] == "127.0.0.1" for r in failed), failed
    assert sorted({r["user"] for r in failed if "user" in r}) == sorted(
        u.replace("\n", "\\x0a") for u in INJECTED)
