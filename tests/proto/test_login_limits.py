"""Brute-force limits shared by every protocol (issue 28, finding 3), with
real TLS clients from several loopback addresses (127.0.0.0/8 gives each
simulated attacker its own address):

(a) a successful login to the attacker's own account does not reset the
    address's failures;
(b) parallel attempts from one fresh address get at most the limit (10)
    password checks, on SMTP AUTH, IMAP LOGIN and POP3 PASS alike;
(c) many addresses guessing one account are spaced out, while the real
    user, who logged in from her address before, still gets in.
All three run against one server at once, each from its own addresses.
(d) IPv6 clients, as a trusted proxy names them (PROXY protocol): the
    /64s of one /48 share a budget, so one attacker cannot take ten
    guesses from each of its 65,536 /64s; another server."""
import base64
import imaplib
import re
import smtplib
import socket
import ssl
import threading
import time

from harness import Server
from logins import Imap
from mailpeers import unique_ips

ALICE, ALICE_PW = "alice@example.test", "alice-pw-1"
MALLORY, MALLORY_PW = "mallory@example.test", "mallory-pw-1"
CAROL, CAROL_PW = "carol@example.test", "carol-pw-1"
ACCOUNTS = [(ALICE, ALICE_PW), (MALLORY, MALLORY_PW), (CAROL, CAROL_PW)]
PARALLEL = 30  # under the per-address connection limit


def ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


class Tls:
    """A line client on an implicit-TLS port, from a chosen source address."""

    def __init__(self, port, source):
        raw = socket.create_connection(("127.0.0.1", port), timeout=30,
                                       source_address=(source, 0))
        self.sock = ctx().wrap_socket(raw)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def close(self):
        self.sock.close()


def imap_login(s, source, user, pw, ready=None):
    """The tagged reply to LOGIN: "OK ...", "NO [AUTHENTICATIONFAILED] ...".
    ready: a threading.Barrier to wait at once greeted, before LOGIN."""
    return imap_login_on(Tls(s.imaps_port, source), user, pw, ready)


def imap_login_on(c, user, pw, ready=None):
    """imap_login() on connection c (a Tls), which it closes."""
    try:
        assert c.line().startswith("* OK")
        if ready:
            ready.wait()
        c.send('a LOGIN "%s" "%s"' % (user, pw))
        while True:
            line = c.line()
            if line.startswith("a "):
                return line[2:]
    finally:
        c.close()


def pop3_login(s, source, user, pw):
    c = Tls(s.pop3s_port, source)
    try:
        assert c.line().startswith("+OK")
        c.send("USER " + user)
        assert c.line().startswith("+OK")
        c.send("PASS " + pw)
        return c.line()
    finally:
        c.close()


def smtp_login(s, source, user, pw, ready=None, hang_up=False):
    """The reply to AUTH PLAIN; hang_up: close once AUTH is sent, reply
    unread ("sent")."""
    c = Tls(s.submissions_port, source)
    try:
        assert c.line().startswith("220")
        c.send("EHLO test")
        while c.line()[3] == "-":
            pass
        if ready:
            ready.wait()
        c.send("AUTH PLAIN " + base64.b64encode(b"\0%s\0%s" % (user.encode(), pw.encode())).decode())
        return "sent" if hang_up else c.line()
    finally:
        c.close()


def parallel(fn, args):
    out = [None] * len(args)

    def run(i):
        try:
            out[i] = fn(*args[i])
        except Exception as e:  # noqa: BLE001 - recorded, asserted below
            out[i] = "error: %r" % e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(args))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def failures_from(log, ip):
    return len(re.findall(r"event=auth_failed .* ip=%s\n" % re.escape(ip), log))


def scenario_parallel(s, res):
    """(b): PARALLEL attempts per protocol, each protocol from a fresh address."""
    def one(proto, fn, ip, failed, refused):
        # Names of their own: the address's limit alone is at work.
        out = parallel(fn, [(s, ip, "x%d@example.test" % i, "guess") for i in range(PARALLEL)])
        res[proto] = (out, failed, refused, ip)
    parallel(one, [
        ("smtp", smtp_login, "127.0.0.11", "535 5.7.8", "454 4.7.0"),
        ("imap", imap_login, "127.0.0.12", "NO [AUTHENTICATIONFAILED]", "NO [UNAVAILABLE]"),
        ("pop3", pop3_login, "127.0.0.13", "-ERR [AUTH]", "-ERR [SYS/TEMP]")])


def scenario_own_success(s, res):
    """(a): failures, then a login to the attacker's own account, then more."""
    ip = "127.0.0.21"
    first = parallel(imap_login, [(s, ip, "victim%d@example.test" % (i % 3), "guess")
                                  for i in range(9)])
    own = imap_login(s, ip, MALLORY, MALLORY_PW)
    tenth = []
    t = threading.Thread(target=lambda: tenth.append(
        imap_login(s, ip, "victim3@example.test", "guess")))
    t.start()
    # Once the tenth failure is counted (its reply still held back), the
    # right password of the attacker's own account is not even checked.
    s.wait_log("failures=10 delay_ms=5000 user=\"victim3@example.test\" ip=%s" % ip)
    after = imap_login(s, ip, MALLORY, MALLORY_PW)
    t.join()
    tenth = tenth[0]
    res["own"] = (first, own, tenth, after, ip)


def scenario_botnet(s, res):
    """(c): one guess at carol from each of many addresses at once."""
    home = "127.0.0.30"
    before = imap_login(s, home, CAROL, CAROL_PW)
    bots = ["127.0.1.%d" % i for i in range(1, 41)]
    t0 = time.monotonic()
    out = parallel(imap_login, [(s, ip, CAROL, "guess-%s" % ip) for ip in bots])
    res["botnet_s"] = time.monotonic() - t0
    # Carol, at home, is not held up by the attack on her account.
    during = imap_login(s, home, CAROL, CAROL_PW)
    res["botnet"] = (before, out, during, bots)


def botnet_checks_max(spread_s):
    """How many checks the account's spacing (login_limit.h) lets through
    to attempts arriving within spread_s seconds: six at once (five free,
    the sixth opens the spacing), then one at each slot 1, 3, 7, 15, 31 ...
    s on (gaps doubling from 1 s) that is at most LOGIN_WAIT_MAX_MS (10 s)
    after an arrival. Attempts that all arrive at once get 9; a loaded
    machine that spreads the forty connections over seconds lets a few
    more slots in, never forty. unit test_login_limit pins the slots with
    a driven clock."""
    n, slot, gap = 6, 1.0, 1.0
    while slot <= spread_s + 10:
        n += 1
        gap = min(gap * 2, 60)
        slot += gap
    return n


def test_login_limits_cannot_be_bypassed():
    with Server(accounts=ACCOUNTS, imap=True, pop3=True, submission=True) as s:
        res = {}
        threads = [threading.Thread(target=f, args=(s, res))
                   for f in (scenario_parallel, scenario_own_success, scenario_botnet)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        log = s.log_text()

        # (b) every attempt was answered; at most ten were checked.
        for proto in ("smtp", "imap", "pop3"):
            out, failed, refused, ip = res[proto]
            assert all(o.startswith(failed) or o.startswith(refused) for o in out), (proto, out)
            n_failed = sum(o.startswith(failed) for o in out)
            assert n_failed == 10, (proto, n_failed, out)
            assert failures_from(log, ip) == n_failed, (proto, n_failed)

        # (a) the own account's success did not wipe the nine failures.
        first, own, tenth, after, ip = res["own"]
        assert all(f.startswith("NO [AUTHENTICATIONFAILED]") for f in first), first
        assert own.startswith("OK"), own
        assert tenth.startswith("NO [AUTHENTICATIONFAILED]"), tenth
        assert after.startswith("NO [UNAVAILABLE]"), after
        assert failures_from(log, ip) == 10

        # (c) the botnet got a handful of checks, not forty; carol got in.
        before, out, during, bots = res["botnet"]
        assert before.startswith("OK") and during.startswith("OK"), (before, during)
        checked = sum(o.startswith("NO [AUTHENTICATIONFAILED]") for o in out)
        assert all(o.startswith("NO [") for o in out), out
        assert 1 <= checked <= botnet_checks_max(res["botnet_s"]), (checked, res["botnet_s"], out)
        assert sum(failures_from(log, ip) for ip in bots) == checked
        assert "event=auth_refused reason=account_busy" in log


SITE_LIMIT = 100  # LOGIN_SITE_LIMIT (app/auth/login_limit.h)


def imap_login_via_proxy(s, proxy, client, user, pw):
    """imap_login() through a trusted proxy that names client (PROXY v1,
    before the TLS handshake of the implicit-TLS port)."""
    raw = socket.create_connection(("127.0.0.1", s.imaps_port), timeout=30,
                                   source_address=(proxy, 0))
    raw.sendall(b"PROXY TCP6 %s ::1 40000 993\r\n" % client.encode())
    c = Tls.__new__(Tls)
    c.sock, c.buf = ctx().wrap_socket(raw), b""
    return imap_login_on(c, user, pw)


def test_ipv6_site_shares_a_budget():
    """(d) One failure from each of SITE_LIMIT /64s of 2001:db8:7::/48 (none
    near its own limit of 10) spends the /48's budget: a fresh /64 of it
    is refused without a check, with the auth_refused line fail2ban can
    read, while a /64 of another /48 is still checked."""
    proxy, = unique_ips(1)
    with Server(accounts=ACCOUNTS, imap=True, env={"TERN_TRUSTED_PROXIES": proxy}) as s:
        args = [(s, proxy, "2001:db8:7:%x::1" % i, "x%d@example.test" % i, "guess")
                for i in range(SITE_LIMIT)]
        for at in range(0, SITE_LIMIT, 20):
            out = parallel(imap_login_via_proxy, args[at:at + 20])
            assert all(o.startswith("NO [AUTHENTICATIONFAILED]") for o in out), out
        fresh = imap_login_via_proxy(s, proxy, "2001:db8:7:ffff::1", ALICE, ALICE_PW)
        assert fresh.startswith("NO [UNAVAILABLE]"), fresh
        # The log names the tier that refused: the /48, not the /64.
        assert s.wait_log("event=auth_refused reason=site_failures mech=login "
                          'user="%s" ip=2001:db8:7:ffff::1' % ALICE)
        other = imap_login_via_proxy(s, proxy, "2001:db8:8::1", ALICE, ALICE_PW)
        assert other.startswith("OK"), other


BURST = 12  # more than LOGIN_IP_LIMIT, under the per-address connection limit


def burst(s, source, user, pws, login):
    """len(pws) logins from source to user with login (smtp_login,
    imap_login), each connection ready (greeted, EHLO answered) before any
    sends its credentials, so they all arrive while the others are in
    flight. Returns the replies."""
    ready = threading.Barrier(len(pws))
    return parallel(login, [(s, source, user, pw, ready) for pw in pws])


def test_new_client_opening_many_connections_gets_in():
    """A client that never logged in from its address (a phone on a new
    network, a sending tool with parallel sessions) opens BURST
    connections at once and logs in on each: all succeed, on submission
    and IMAP. The first attempt of the (address, account) pair leads; the
    others wait for it and, once it succeeded, go on as a trusted pair. A
    guesser doing the same with wrong passwords still gets no more checks
    than the address's limit, and a refusal for the busy account no longer
    claims failed authentications."""
    home_smtp, home_imap, bad_smtp, bad_imap = unique_ips(4)
    with Server(accounts=ACCOUNTS, imap=True, submission=True) as s:
        out = burst(s, home_smtp, ALICE, [ALICE_PW] * BURST, smtp_login)
        assert all(o.startswith("235 ") for o in out), out
        out = burst(s, home_imap, CAROL, [CAROL_PW] * BURST, imap_login)
        assert all(o.startswith("OK") for o in out), out

        # Unknown names count like accounts; one each, so the first
        # burst's failures do not space out the second's checks.
        for ip, login, failed, refused in (
                (bad_smtp, smtp_login, "535 5.7.8", "454 4.7.0"),
                (bad_imap, imap_login, "NO [AUTHENTICATIONFAILED]", "NO [UNAVAILABLE]")):
            victim = "victim-%s@example.test" % ip
            out = burst(s, ip, victim, ["guess-%d" % i for i in range(BURST)], login)
            assert all(o.startswith(failed) or o.startswith(refused) for o in out), out
            n_failed = sum(o.startswith(failed) for o in out)
            assert 1 <= n_failed <= 10, (ip, n_failed, out)
            log = s.log_text()
            assert failures_from(log, ip) == n_failed, (ip, n_failed)
            # Refused for the account's spacing (the burst had more than
            # its free checks): a temporary failure, not "too many failed".
            busy = len(re.findall(r"event=auth_refused reason=account_busy .* ip=%s\n"
                                  % re.escape(ip), log))
            temp = sum(o.startswith(refused) and "Temporary authentication failure" in o
                       for o in out)
            assert busy >= 1 and busy == temp, (ip, busy, out)


def test_held_logins_that_hang_up_are_dropped():
    """Half of a new client's burst hangs up right after AUTH, while
    held behind the first attempt (a session paused for its login sees
    the hang-up only when it answers: the held ones are woken, checked,
    and their replies dropped): the others still get in, nothing counts
    as a failure, and nothing is left behind (under ASan too)."""
    ip, = unique_ips(1)
    with Server(accounts=ACCOUNTS, submission=True) as s:
        ready = threading.Barrier(BURST)
        out = parallel(smtp_login, [(s, ip, ALICE, ALICE_PW, ready, i % 2 == 1)
                                    for i in range(BURST)])
        assert all(o.startswith("235 ") for o in out[0::2]), out
        assert all(o == "sent" for o in out[1::2]), out
        assert smtp_login(s, ip, ALICE, ALICE_PW).startswith("235 ")
        assert failures_from(s.log_text(), ip) == 0


def imaplib_login(s, source, user, pw, ready):
    """"OK", or "NO <text>" of the refused LOGIN."""
    c = Imap(s.imaps_port, source)
    try:
        ready.wait()
        try:
            c.login(user, pw)
            return "OK"
        except imaplib.IMAP4.error as e:
            return "NO %s" % e
    finally:
        c.shutdown()


def smtplib_login(s, source, user, pw, ready):
    """"235", or the code and text of the refused AUTH PLAIN (one attempt:
    smtplib's login() would try the next mechanism after a refusal)."""
    c = smtplib.SMTP_SSL("127.0.0.1", s.submissions_port, timeout=60, context=ctx(),
                         source_address=(source, 0))
    try:
        c.ehlo("test")
        ready.wait()
        c.user, c.password = user, pw
        try:
            c.auth("PLAIN", c.auth_plain)
            return "235"
        except smtplib.SMTPAuthenticationError as e:
            return "%d %s" % (e.smtp_code, e.smtp_error.decode())
    finally:
        c.close()


HOUSEHOLD = 20  # more than LOGIN_IP_LIMIT accounts, under the connection limit
MEMBERS = [("member%d@example.test" % i, "member-pw-%d" % i) for i in range(HOUSEHOLD)]


def test_correct_logins_to_many_accounts_at_once_are_not_failures():
    """A household's phones behind one NAT (or a webmail, an office)
    reconnect at once after an outage: HOUSEHOLD correct logins from one
    new address to HOUSEHOLD different accounts, with imaplib and smtplib
    in parallel threads. All get in: the checks under way fill the
    address's budget (10) but are not failures, so the others wait for
    them (before, they were refused "Too many failed logins" although
    nothing had failed). A guesser spraying as many accounts from one
    address still gets LOGIN_IP_LIMIT password checks, no more: each
    wrong one is an auth_failed line, counted here (10 before the fix,
    10 after), and the rest are refused for those failures."""
    imap_ip, smtp_ip, spray_imap, spray_smtp = unique_ips(4)
    with Server(accounts=MEMBERS, imap=True, submission=True) as s:
        for ip, login, ok in ((imap_ip, imaplib_login, "OK"), (smtp_ip, smtplib_login, "235")):
            ready = threading.Barrier(HOUSEHOLD)
            out = parallel(login, [(s, ip, u, pw, ready) for u, pw in MEMBERS])
            assert out == [ok] * HOUSEHOLD, (ip, out)
            log = s.log_text()
            assert failures_from(log, ip) == 0, ip
            assert not re.search(r"event=auth_refused .* ip=%s\n" % re.escape(ip), log), ip

        for ip, login, failed, refused in (
                (spray_imap, imaplib_login, "NO [AUTHENTICATIONFAILED]",
                 "NO [UNAVAILABLE] Too many failed logins"),
                (spray_smtp, smtplib_login, "535 5.7.8",
                 "454 4.7.0 Too many failed authentications")):
            ready = threading.Barrier(HOUSEHOLD)
            out = parallel(login, [(s, ip, u, "guess", ready) for u, _ in MEMBERS])
            out = [o.replace("NO b'", "NO ").replace('NO b"', "NO ") for o in out]
            checks = failures_from(s.log_text(), ip)
            assert checks == 10, (ip, checks, out)
            assert sum(o.startswith(failed) for o in out) == 10, (ip, out)
            assert sum(o.startswith(refused) for o in out) == HOUSEHOLD - 10, (ip, out)
