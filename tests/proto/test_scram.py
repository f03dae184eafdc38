"""SCRAM-SHA-256 and SCRAM-SHA-1 (RFC 5802, RFC 7677) on every login that
offers them: Cyrus SASL's clients (sivtest, imtest from cyrus-clients,
with libsasl2-modules' SCRAM plugin) sign in for real, and a client
written here from RFC 5802 (hashlib's PBKDF2 and HMAC, nothing of tern's)
drives the cases a real client never sends: a wrong password, an unknown
user (its salt stable per name, like a real one's), a two-factor account,
a replayed nonce, a forged proof, bad base64, a '*' cancel. Each failure
must look like a failed PLAIN (same reply, the auth_failed line with its
mech). An account from a store written before SCRAM (the newest fixture
under tests/data/stores) gains SCRAM after one PLAIN login."""
import atexit
import base64
import glob
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import tempfile


import logins
from logins import ctx
from harness import ROOT, Server, free_port

BOB, BOB_PW = "bob@example.test", "bob-scram-pw-1"
TWO, TWO_PW = "two@example.test", "two-scram-pw-1"
CYRUS = "/usr/lib/cyrus/bin"
HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-1": "sha1"}

_srv = None


def scram_env():
    """A ManageSieve listener's settings, with SCRAM offered (it is off
    unless TERN_SASL_SCRAM=1)."""
    env, port = logins.sieve_env()
    env["TERN_SASL_SCRAM"] = "1"
    return env, port


def srv():
    global _srv
    if _srv is None:
        env, port = scram_env()
        _srv = Server(imap=True, env=env)
        _srv.sieve_port = port
        add_accounts(_srv, (BOB, BOB_PW), (TWO, TWO_PW))
    return _srv


def add_accounts(s, *accounts):
    """`tern account add` on the running server's data directory: the
    SCRAM keys are sealed with its secrets.key. (Server(accounts=...)
    copies a template whose secrets.key stays behind: see harness.py.)"""
    for user, pw in accounts:
        s.cli("account", "add", user, input=pw + "\n")


class Client:
    """The client side of RFC 5802 §3, for one exchange."""

    def __init__(self, mech, user, pw, gs2="n,,"):
        self.h = HASHES[mech]
        self.user, self.pw, self.gs2 = user, pw, gs2
        self.cnonce = base64.b64encode(os.urandom(18)).decode()
        self.bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"), self.cnonce)

    def first(self):
        return (self.gs2 + self.bare).encode()

    def final(self, server_first, nonce=None, proof_xor=0):
        """The client-final message for server_first (bytes); nonce replaces
        the combined nonce (a replay), proof_xor flips proof bits."""
        sf = server_first.decode()
        attrs = dict(a.split("=", 1) for a in sf.split(","))
        assert attrs["r"].startswith(self.cnonce), sf
        self.salt, self.iter = base64.b64decode(attrs["s"]), int(attrs["i"])
        salted = hashlib.pbkdf2_hmac(self.h, self.pw.encode(), self.salt, self.iter)
        ck = hmac.new(salted, b"Client Key", self.h).digest()
        sk = hashlib.new(self.h, ck).digest()
        without = "c=%s,r=%s" % (base64.b64encode(self.gs2.encode()).decode(), nonce or attrs["r"])
        auth = ("%s,%s,%s" % (self.bare, sf, without)).encode()
        sig = hmac.new(sk, auth, self.h).digest()
        proof = bytes(a ^ b for a, b in zip(ck, sig))
        proof = bytes([proof[0] ^ proof_xor]) + proof[1:]
        server_key = hmac.new(salted, b"Server Key", self.h).digest()
        self.verifier = b"v=" + base64.b64encode(hmac.new(server_key, auth, self.h).digest())
        return ("%s,p=%s" % (without, base64.b64encode(proof).decode())).encode()


def b64(b):
    return base64.b64encode(b).decode()


# ---- ManageSieve (RFC 5804 §2.1) ----

class Sieve:
    def __init__(self, s, source=logins.DEVICE):
        self.sock = socket.create_connection(("127.0.0.1", s.sieve_port), 30,
                                             source_address=(source, 0))
        self.f = self.sock.makefile("rb")
        self.caps = self.response()
        self.sock.sendall(b"STARTTLS\r\n")
        assert self.response()[-1].startswith(b"OK")
        self.sock = ctx().wrap_socket(self.sock)
        self.f = self.sock.makefile("rb")
        self.caps = self.response()

    def response(self):
        out = []
        while True:
            line = self.f.readline()
            assert line, "closed after %r" % out
            out.append(line)
            if line.startswith((b"OK", b"NO", b"BYE")):
                return out

    def line(self):
        return self.f.readline()

    def challenge(self):
        """A SASL challenge: a string, quoted or (as tern sends SCRAM's,
        like Cyrus timsieved) a literal; decoded."""
        line = self.f.readline()
        m = re.match(rb"\{(\d+)\}\r\n$", line)
        if m:
            data = self.f.read(int(m.group(1)))
            assert self.f.readline() == b"\r\n"
            return base64.b64decode(data)
        assert line.startswith(b'"'), line
        return base64.b64decode(line.strip().strip(b'"'))

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def close(self):
        self.sock.close()


def sieve_scram(s, mech, user, pw, source=logins.DEVICE, **final_kw):
    """One exchange; returns the last line (OK ... / NO ...) and the client."""
    c, cl = Sieve(s, source), Client(mech, user, pw)
    try:
        c.send('AUTHENTICATE "%s" "%s"' % (mech, b64(cl.first())))
        c.send('"%s"' % b64(cl.final(c.challenge(), **final_kw)))
        return c.response()[-1], cl
    finally:
        c.close()


def test_sieve_advertises_scram_over_tls_only():
    s = srv()
    c = socket.create_connection(("127.0.0.1", s.sieve_port), 30)
    f, pre = c.makefile("rb"), b""
    while not pre.endswith(b'ready."\r\n'):
        line = f.readline()
        assert line, pre
        pre += line
    c.close()
    assert b'"SASL" ""' in pre, pre
    t = Sieve(s)
    sasl = [l for l in t.caps if l.startswith(b'"SASL"')]
    t.close()
    assert sasl == [b'"SASL" "SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN"\r\n'], sasl


def test_sieve_scram_both_hashes():
    s = srv()
    for mech in HASHES:
        last, cl = sieve_scram(s, mech, BOB, BOB_PW)
        m = re.match(rb'OK \(SASL "([^"]+)"\)', last)
        assert m, last
        # The server proved it holds the keys (RFC 5802 §3, ServerSignature).
        assert base64.b64decode(m.group(1)) == cl.verifier, last
        assert cl.iter == 10000 and len(cl.salt) == 16


def test_sieve_sivtest_signs_in():
    """Cyrus SASL's client: SCRAM-SHA-256 and SCRAM-SHA-1, STARTTLS; and
    LOGIN and PLAIN without an initial response (-i), whose challenges
    ("Username:", "Password:", the empty one) sivtest reads only as
    literals, as timsieved sends them: after a quoted one it waited for
    ever."""
    s = srv()
    runs = [(mech, []) for mech in HASHES] + [("LOGIN", []), ("PLAIN", ["-i"])]
    for mech, extra in runs:
        p = subprocess.run([CYRUS + "/sivtest", "-t", "", "-m", mech, "-a", BOB, "-u", BOB,
                            "-w", BOB_PW] + extra + ["-p", str(s.sieve_port), "127.0.0.1"],
                           input=b"LOGOUT\r\n", capture_output=True, timeout=60)
        out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
        assert "Authenticated." in out, (mech, out)
        if mech in HASHES:
            assert 'OK (SASL "' in out, out
    assert s.wait_log("mech=scram-sha-1 tls=")
    assert s.wait_log("mech=login tls=")


def _failed(s, mech, user):
    """The auth_failed line for user with mech (as fail2ban reads it)."""
    s.wait_log('event=auth_failed mech=%s' % mech.lower())
    lines = [l for l in s.log_text().splitlines()
             if "event=auth_failed mech=%s " % mech.lower() in l and 'user="%s"' % user in l]
    assert lines, s.log_text()[-2000:]
    return lines[-1]


def test_sieve_wrong_password_unknown_user_look_alike():
    s = srv()
    wrong, _ = sieve_scram(s, "SCRAM-SHA-256", BOB, "not-it", source=next(logins.SOURCES))
    nobody, _ = sieve_scram(s, "SCRAM-SHA-256", "nobody@example.test", "x",
                            source=next(logins.SOURCES))
    plain = logins.sieve_ok(s, BOB, "not-it", next(logins.SOURCES))
    assert not plain
    assert wrong == nobody == b'NO "Authentication failed."\r\n', (wrong, nobody)
    line = _failed(s, "SCRAM-SHA-256", BOB)
    assert "reason=password" in line and "module=sieve" in line, line
    _failed(s, "SCRAM-SHA-256", "nobody@example.test")
    # fail2ban's filter (scripts/fail2ban) bans on these lines as on PLAIN's.
    from test_fail2ban import f2b, need_fail2ban
    need_fail2ban()
    lines = [l for l in s.log_text().splitlines()
             if "event=auth_failed mech=scram-sha-256 " in l]
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    try:
        ips = f2b(f.name, "tern.conf")
    finally:
        os.unlink(f.name)
    want = [re.search(r"ip=(\S+)$", l).group(1) for l in lines]
    assert want and ips == want, (ips, want)


def _server_first(s, mech, user):
    # (a cancel after the challenge is a failed attempt: a fresh address)
    c, cl = Sieve(s, next(logins.SOURCES)), Client(mech, user, "x")
    try:
        c.send('AUTHENTICATE "%s" "%s"' % (mech, b64(cl.first())))
        sf = c.challenge().decode()
        c.send('"*"')
        c.response()
    finally:
        c.close()
    attrs = dict(a.split("=", 1) for a in sf.split(","))
    return attrs["s"], attrs["i"]


def test_unknown_user_salt_stable_and_shaped_like_a_real_one():
    s = srv()
    a = _server_first(s, "SCRAM-SHA-256", "ghost@example.test")
    b = _server_first(s, "SCRAM-SHA-256", "GHOST@example.test")
    c = _server_first(s, "SCRAM-SHA-256", "ghost2@example.test")
    real = _server_first(s, "SCRAM-SHA-256", BOB)
    assert a == b, (a, b)
    assert a != c
    assert a[1] == real[1] == "10000"
    assert len(base64.b64decode(a[0])) == len(base64.b64decode(real[0])) == 16
    assert _server_first(s, "SCRAM-SHA-1", "ghost@example.test") != a


def test_sieve_replayed_nonce_and_forged_proof_fail():
    s = srv()
    # A final message whose nonce is another exchange's (or cut) fails.
    last, _ = sieve_scram(s, "SCRAM-SHA-256", BOB, BOB_PW, source=next(logins.SOURCES),
                          nonce="AAAA")
    assert last == b'NO "Authentication failed."\r\n', last
    last, _ = sieve_scram(s, "SCRAM-SHA-1", BOB, BOB_PW, source=next(logins.SOURCES),
                          proof_xor=1)
    assert last == b'NO "Authentication failed."\r\n', last
    # A whole exchange replayed on a new connection: its server nonce is new.
    c1, cl = Sieve(s), Client("SCRAM-SHA-256", BOB, BOB_PW)
    c1.send('AUTHENTICATE "SCRAM-SHA-256" "%s"' % b64(cl.first()))
    final = cl.final(c1.challenge())
    c1.send('"%s"' % b64(final))
    assert c1.response()[-1].startswith(b"OK (SASL")
    c1.close()
    c2 = Sieve(s, next(logins.SOURCES))
    c2.send('AUTHENTICATE "SCRAM-SHA-256" "%s"' % b64(cl.first()))
    c2.challenge()
    c2.send('"%s"' % b64(final))
    assert c2.response()[-1] == b'NO "Authentication failed."\r\n'
    c2.close()


def test_sieve_bad_base64_cancel_and_refusals():
    s = srv()
    c = Sieve(s, next(logins.SOURCES))
    c.send('AUTHENTICATE "SCRAM-SHA-256" "%s"' % b64(Client("SCRAM-SHA-256", BOB, "x").first()))
    c.challenge()
    c.send('"not base64!"')
    assert c.response()[-1].startswith(b'NO "Invalid base64'), "bad base64"
    c.send('AUTHENTICATE "SCRAM-SHA-256" "%s"' % b64(Client("SCRAM-SHA-256", BOB, "x").first()))
    c.challenge()
    c.send('"*"')
    assert c.response()[-1].startswith(b"NO"), "cancel"
    c.close()
    # Channel binding asked for (no -PLUS offered), an authzid of another
    # user, the reserved m=: each a failed login.
    for gs2 in ("p=tls-unique,,", "n,a=carol@example.test,"):
        c = Sieve(s, next(logins.SOURCES))
        cl = Client("SCRAM-SHA-256", BOB, BOB_PW, gs2=gs2)
        c.send('AUTHENTICATE "SCRAM-SHA-256" "%s"' % b64(cl.first()))
        assert c.response()[-1] == b'NO "Authentication failed."\r\n', gs2
        c.close()
    c = Sieve(s, next(logins.SOURCES))
    c.send('AUTHENTICATE "SCRAM-SHA-256" "%s"' % b64(b"n,,m=x,n=bob@example.test,r=abc"))
    assert c.response()[-1] == b'NO "Authentication failed."\r\n'
    c.close()
    assert "reason=authzid" in _failed(s, "SCRAM-SHA-256", BOB)


def test_two_factor_account_cannot_scram():
    """SCRAM proves one password: with TOTP on, the account's own password
    is refused on mail logins, and so is its SCRAM proof (the app
    password, which PLAIN takes, has no SCRAM keys)."""
    from httpc import admin_server
    from test_portal import Codes, Portal, secret_of
    env, port = scram_env()
    s, _ = admin_server(env=env)
    s.sieve_port = port
    with s:
        add_accounts(s, (TWO, TWO_PW))
        last, _ = sieve_scram(s, "SCRAM-SHA-256", TWO, TWO_PW)
        assert last.startswith(b"OK (SASL"), last
        p = Portal(s)
        assert p.login(TWO, TWO_PW)[0] == 200
        st, ap = p.call("POST", "/me/app-passwords", {"name": "phone", "password": TWO_PW})
        assert st == 201, ap
        st, en = p.call("POST", "/me/totp")
        assert st == 200, en
        st, body = p.call("POST", "/me/totp/confirm",
                          {"code": Codes(secret_of(en["uri"])).fresh(), "password": TWO_PW})
        assert st == 200, body
        for mech in HASHES:
            last, _ = sieve_scram(s, mech, TWO, TWO_PW, source=next(logins.SOURCES))
            assert last == b'NO "Authentication failed."\r\n', last
            last, _ = sieve_scram(s, mech, TWO, ap["password"], source=next(logins.SOURCES))
            assert last == b'NO "Authentication failed."\r\n', last
        assert "reason=password" in _failed(s, "SCRAM-SHA-1", TWO)
        # PLAIN with the app password still works.
        assert logins.sieve_ok(s, TWO, ap["password"])


def test_store_before_scram_gains_it_at_one_plain_login():
    """The newest store fixture was written before SCRAM: its accounts have
    no keys, so SCRAM fails like a wrong password until one PLAIN login
    with the password derives them."""
    path = max(glob.glob(os.path.join(ROOT, "tests", "data", "stores", "schema-*.tar.gz")),
               key=lambda f: int(re.search(r"schema-(\d+)", f).group(1)))
    tmp = tempfile.mkdtemp(prefix="tern-scram-")
    try:
        with tarfile.open(path) as t:
            t.extractall(tmp)
        with open(os.path.join(tmp, "expected.json")) as f:
            user, pw = json.load(f)["accounts"][0]
        env, port = scram_env()
        s = Server(data_dir=os.path.join(tmp, "data"), domains=(), env=env)
        s.sieve_port = port
        with s:
            last, _ = sieve_scram(s, "SCRAM-SHA-256", user, pw, source=next(logins.SOURCES))
            assert last == b'NO "Authentication failed."\r\n', last
            assert logins.sieve_ok(s, user, pw)
            for mech in HASHES:
                last, _ = sieve_scram(s, mech, user, pw)
                assert last.startswith(b"OK (SASL"), (mech, last)
            # Kept: after a restart too.
            s.stop()
            s.start()
            last, _ = sieve_scram(s, "SCRAM-SHA-256", user, pw)
            assert last.startswith(b"OK (SASL"), last
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_secrets_key_replaced_keys_made_again_at_plain_login():
    """Keys sealed with a secrets.key that is gone (lost, or a data
    directory copied without it) do not open: SCRAM fails like a wrong
    password, and the next PLAIN login makes them again."""
    env, port = scram_env()
    s = Server(env=env)
    s.sieve_port = port
    with s:
        add_accounts(s, ("dan@example.test", "dan-scram-pw-1"))
        last, _ = sieve_scram(s, "SCRAM-SHA-1", "dan@example.test", "dan-scram-pw-1")
        assert last.startswith(b"OK (SASL"), last
        s.stop()
        os.unlink(os.path.join(s.data, "secrets.key"))
        s.start()
        last, _ = sieve_scram(s, "SCRAM-SHA-1", "dan@example.test", "dan-scram-pw-1",
                              source=next(logins.SOURCES))
        assert last == b'NO "Authentication failed."\r\n', last
        assert logins.sieve_ok(s, "dan@example.test", "dan-scram-pw-1")
        for mech in HASHES:
            last, _ = sieve_scram(s, mech, "dan@example.test", "dan-scram-pw-1")
            assert last.startswith(b"OK (SASL"), (mech, last)


def test_scram_password_changed_between_messages_fails():
    """The challenge unseals the account's keys and keeps them in the
    exchange; the check takes the proof against those only while the
    record is the one they came from (its credentials stamp). A password
    changed between server-first and client-final fails like a wrong
    one, though the kept keys would take the proof (without the stamp
    check this login succeeded).

    That the keys are unsealed once an exchange is not told by a test:
    secrets.key is read once and kept in memory (test_secrets_key_kept_
    in_memory_and_a_new_one_seen), so moving the file away between the
    two messages, which this test did too, passed as well with the check
    unsealing the keys again (tried: scram_login_check calling real_keys
    again passed it), and a second unseal changes no reply."""
    env, port = scram_env()
    s = Server(env=env)
    s.sieve_port = port
    user, pw = "erin@example.test", "erin-scram-pw-1"

    with s:
        add_accounts(s, (user, pw))
        c, cl = Sieve(s, logins.DEVICE), Client("SCRAM-SHA-256", user, pw)
        try:
            c.send('AUTHENTICATE "SCRAM-SHA-256" "%s"' % b64(cl.first()))
            sf = c.challenge()
            s.cli("account", "passwd", user, input="erin-new-pw-2\n")
            c.send('"%s"' % b64(cl.final(sf)))
            last = c.response()[-1]
        finally:
            c.close()
        assert last == b'NO "Authentication failed."\r\n', last


def test_secrets_key_kept_in_memory_and_a_new_one_seen():
    """The server reads secrets.key once and keeps it (every login read it:
    an open, fstat, read and close on a worker). Moved away while the
    server runs, SCRAM logins go on with the kept key (before, each failed
    like a wrong password). A key file another process makes then (`tern
    account passwd` makes one when it is missing and seals the new keys
    with it) is seen: an open that fails with the kept key reads the file
    again, so SCRAM and PLAIN logins with the new password work."""
    env, port = scram_env()
    s = Server(env=env)
    s.sieve_port = port
    user, pw, pw2 = "fay@example.test", "fay-scram-pw-1", "fay-scram-pw-2"
    key = os.path.join(s.data, "secrets.key")
    with s:
        add_accounts(s, (user, pw))
        last, _ = sieve_scram(s, "SCRAM-SHA-256", user, pw)
        assert last.startswith(b"OK (SASL"), last
        os.rename(key, key + ".away")
        for mech in HASHES:
            last, _ = sieve_scram(s, mech, user, pw)
            assert last.startswith(b"OK (SASL"), (mech, last)
        s.cli("account", "passwd", user, input=pw2 + "\n")
        with open(key, "rb") as new, open(key + ".away", "rb") as old:
            assert new.read() != old.read()
        for mech in HASHES:
            last, _ = sieve_scram(s, mech, user, pw2)
            assert last.startswith(b"OK (SASL"), (mech, last)
        assert logins.sieve_ok(s, user, pw2)


def saslprep(pw):
    """RFC 4013 with the standard library's RFC 3454 tables (Unicode 3.2),
    as client libraries (python-scramp, passlib) do it: what RFC 5802's
    Normalize(password) gives; None when the password is refused."""
    import stringprep
    import unicodedata
    pw = "".join(" " if stringprep.in_table_c12(c) else c
                 for c in pw if not stringprep.in_table_b1(c))
    pw = unicodedata.ucd_3_2_0.normalize("NFKC", pw)
    bad = (stringprep.in_table_a1, stringprep.in_table_c12, stringprep.in_table_c21_c22,
           stringprep.in_table_c3, stringprep.in_table_c4, stringprep.in_table_c5,
           stringprep.in_table_c6, stringprep.in_table_c7, stringprep.in_table_c8,
           stringprep.in_table_c9)
    if not pw or any(t(c) for c in pw for t in bad):
        return None
    if any(map(stringprep.in_table_d1, pw)) and (
            any(map(stringprep.in_table_d2, pw)) or
            not (stringprep.in_table_d1(pw[0]) and stringprep.in_table_d1(pw[-1]))):
        return None
    return pw


def test_saslprep_password():
    """RFC 5802 §2.2: the keys are of SASLprep(password), as a client
    derives them: a soft hyphen, an em space and a ligature sign in with
    SCRAM as with PLAIN. A password SASLprep refuses (an Arabic letter
    then Latin ones: RFC 3454 §6) has no SCRAM keys; PLAIN still takes
    it."""
    s = srv()
    user, pw = "dora@example.test", "dora\u00ad-pw\u2003\ufb01ne-1"
    assert saslprep(pw) == "dora-pw fine-1"
    s.cli("account", "add", user, input=pw + "\n")
    for mech in HASHES:
        last, _ = sieve_scram(s, mech, user, saslprep(pw))
        assert last.startswith(b"OK (SASL"), (mech, last)
    assert logins.sieve_ok(s, user, pw)
    user, pw = "eve@example.test", "\u0627eve-pw-1"
    assert saslprep(pw) is None
    s.cli("account", "add", user, input=pw + "\n")
    assert logins.sieve_ok(s, user, pw)
    last, _ = sieve_scram(s, "SCRAM-SHA-256", user, pw, source=next(logins.SOURCES))
    assert last == b'NO "Authentication failed."\r\n', last


def test_password_change_replaces_the_keys():
    """`tern account passwd`: the old password's proof fails, the new one's
    passes (the keys are written with the hash, in one transaction)."""
    s = srv()
    user = "carol@example.test"
    s.cli("account", "add", user, input="carol-old-pw-1\n")
    last, _ = sieve_scram(s, "SCRAM-SHA-256", user, "carol-old-pw-1")
    assert last.startswith(b"OK (SASL"), last
    s.cli("account", "passwd", user, input="carol-new-pw-2\n")
    last, _ = sieve_scram(s, "SCRAM-SHA-256", user, "carol-old-pw-1", source=next(logins.SOURCES))
    assert last == b'NO "Authentication failed."\r\n', last
    last, _ = sieve_scram(s, "SCRAM-SHA-256", user, "carol-new-pw-2")
    assert last.startswith(b"OK (SASL"), last



def test_idn_domain_in_the_other_spelling():
    """An address at an IDN domain signs in in either spelling (RFC 5890
    §2.3.2.1, as PLAIN does): the challenge carries the account's salt,
    not a stranger's."""
    s = srv()
    s.cli("domain", "add", "b\u00fccher.test")
    s.cli("account", "add", "ann@b\u00fccher.test", input="ann-idn-pw-1\n")
    for user in ("ann@b\u00fccher.test", "ann@xn--bcher-kva.test"):
        last, _ = sieve_scram(s, "SCRAM-SHA-256", user, "ann-idn-pw-1")
        assert last.startswith(b"OK (SASL"), (user, last)

# ---- IMAP (RFC 9051 §6.2.2, SASL-IR RFC 4959) ----

class Imap:
    def __init__(self, s, source=logins.DEVICE):
        sock = socket.create_connection(("127.0.0.1", s.imaps_port), 30, source_address=(source, 0))
        self.sock = ctx().wrap_socket(sock)
        self.f = self.sock.makefile("rb")
        self.greeting = self.f.readline()

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def line(self):
        line = self.f.readline()
        assert line, "closed"
        return line

    def tagged(self, tag):
        while True:
            line = self.line()
            if line.startswith(tag.encode() + b" "):
                return line

    def close(self):
        self.sock.close()


def imap_scram(s, mech, user, pw, source=logins.DEVICE, ir=True, ack=b"", **final_kw):
    """One AUTHENTICATE; returns (tagged reply, the client, the server-final
    challenge or None)."""
    c, cl = Imap(s, source), Client(mech, user, pw)
    try:
        if ir:
            c.send("a AUTHENTICATE %s %s" % (mech, b64(cl.first())))
        else:
            c.send("a AUTHENTICATE %s" % mech)
            assert c.line() == b"+ \r\n"
            c.send(b64(cl.first()))
        ch = c.line()
        assert ch.startswith(b"+ "), ch
        c.send(b64(cl.final(base64.b64decode(ch[2:].strip()), **final_kw)))
        r = c.line()
        if not r.startswith(b"+ "):
            return r, cl, None
        sfinal = base64.b64decode(r[2:].strip())
        c.sock.sendall(ack + b"\r\n")
        return c.tagged("a"), cl, sfinal
    finally:
        c.close()


def test_imap_advertises_scram_strongest_first():
    s = srv()
    c = Imap(s)
    c.send("a CAPABILITY")
    caps = c.line()
    c.close()
    auth = re.findall(rb"AUTH=(\S+)", caps)
    assert auth == [b"SCRAM-SHA-256", b"SCRAM-SHA-1", b"PLAIN", b"LOGIN"], caps
    plain = socket.create_connection(("127.0.0.1", s.imap_port), 30)
    g = plain.makefile("rb").readline()
    plain.close()
    assert b"AUTH=" not in g and b"LOGINDISABLED" in g, g


def test_imap_imtest_signs_in():
    s = srv()
    for mech in HASHES:
        p = subprocess.run([CYRUS + "/imtest", "-s", "-m", mech, "-a", BOB, "-w", BOB_PW,
                            "-p", str(s.imaps_port), "127.0.0.1"],
                           input=b"a LOGOUT\r\n", capture_output=True, timeout=60)
        out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
        assert "Authenticated." in out and "Logged in" in out, out
    assert s.wait_log("mech=scram-sha-256 tls=")


def test_imap_scram_exchange_and_failures():
    s = srv()
    for mech in HASHES:
        for ir in (True, False):
            r, cl, sfinal = imap_scram(s, mech, BOB, BOB_PW, ir=ir)
            assert r.startswith(b"a OK [CAPABILITY"), r
            assert sfinal == cl.verifier
    # Aborting after the server-final challenge: not signed in.
    r, _, sfinal = imap_scram(s, "SCRAM-SHA-256", BOB, BOB_PW, ack=b"*")
    assert sfinal and r.startswith(b"a BAD"), r
    # A wrong password, an unknown user, a forged proof, a replayed nonce:
    # the reply of a wrong PLAIN password.
    plain = Imap(s, next(logins.SOURCES))
    plain.send("a AUTHENTICATE PLAIN %s" % b64(b"\0" + BOB.encode() + b"\0wrong"))
    want = plain.tagged("a")
    plain.close()
    assert want == b"a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", want
    for user, pw, kw in ((BOB, "wrong", {}), ("nobody@example.test", "x", {}),
                         (BOB, BOB_PW, {"proof_xor": 4}), (BOB, BOB_PW, {"nonce": "x"})):
        r, _, sfinal = imap_scram(s, "SCRAM-SHA-1", user, pw, source=next(logins.SOURCES), **kw)
        assert r == want and sfinal is None, (user, kw, r)
    assert "module=imap" in _failed(s, "SCRAM-SHA-1", "nobody@example.test")
    # '*' cancels; bad base64 is BAD.
    c = Imap(s)
    c.send("a AUTHENTICATE SCRAM-SHA-256 %s" % b64(Client("SCRAM-SHA-256", BOB, "x").first()))
    assert c.line().startswith(b"+ ")
    c.send("*")
    assert c.tagged("a").startswith(b"a BAD"), "cancel"
    c.send("b AUTHENTICATE SCRAM-SHA-256 %s" % b64(Client("SCRAM-SHA-256", BOB, "x").first()))
    assert c.line().startswith(b"+ ")
    c.send("%%%")
    assert c.tagged("b").startswith(b"b BAD Invalid base64"), "bad base64"
    c.close()



# ---- SMTP submission (RFC 4954) and POP3 (RFC 5034) ----

class Lines:
    """A line protocol over implicit TLS (submissions, POP3S) or after
    STARTTLS/STLS on the plain port."""

    def __init__(self, port, source=logins.DEVICE, starttls=None):
        sock = socket.create_connection(("127.0.0.1", port), 30, source_address=(source, 0))
        if starttls:
            f = sock.makefile("rb")
            self.sock, self.f = sock, f
            for cmd in starttls:
                self.send(cmd)
                self.reply()
            sock = ctx().wrap_socket(sock)
        else:
            sock = ctx().wrap_socket(sock)
        self.sock = sock
        self.f = sock.makefile("rb")

    def send(self, text):
        self.sock.sendall((text if isinstance(text, bytes) else text.encode()) + b"\r\n")

    def reply(self):
        """One reply; SMTP's multiline ones whole (their last line)."""
        while True:
            line = self.f.readline()
            assert line, "closed"
            if not re.match(rb"\d{3}-", line):
                return line

    def close(self):
        self.sock.close()


def smtp_open(s, source=logins.DEVICE):
    sock = socket.create_connection(("127.0.0.1", s.submission_port), 30,
                                    source_address=(source, 0))
    c = Lines.__new__(Lines)
    c.sock, c.f = sock, sock.makefile("rb")
    assert c.reply().startswith(b"220")
    c.send("EHLO client.test")
    c.reply()
    c.send("STARTTLS")
    assert c.reply().startswith(b"220")
    c.sock = ctx().wrap_socket(sock)
    c.f = c.sock.makefile("rb")
    c.send("EHLO client.test")
    c.ehlo = b""
    while True:
        line = c.f.readline()
        c.ehlo += line
        if not line.startswith(b"250-"):
            break
    return c


def pop3_open(s, source=logins.DEVICE):
    sock = socket.create_connection(("127.0.0.1", s.pop3s_port), 30, source_address=(source, 0))
    c = Lines.__new__(Lines)
    c.sock = ctx().wrap_socket(sock)
    c.f = c.sock.makefile("rb")
    assert c.f.readline().startswith(b"+OK")
    return c


# What each protocol sends: (open, AUTH command, challenge prefix).
LINE_PROTOS = {
    "smtp": (smtp_open, "AUTH %s", b"334 "),
    "pop3": (pop3_open, "AUTH %s", b"+ "),
}


def line_scram(s, proto, mech, user, pw, source=logins.DEVICE, ir=True, ack=b"", **kw):
    """One AUTH over SMTP or POP3: (the final reply, the client, the
    server-final message or None)."""
    opener, cmd, cont = LINE_PROTOS[proto]
    c, cl = opener(s, source), Client(mech, user, pw)
    try:
        if ir:
            c.send((cmd % mech) + " " + b64(cl.first()))
        else:
            c.send(cmd % mech)
            assert c.f.readline() == cont.rstrip(b" ") + b" \r\n"
            c.send(b64(cl.first()))
        ch = c.f.readline()
        assert ch.startswith(cont), ch
        c.send(b64(cl.final(base64.b64decode(ch[len(cont):].strip()), **kw)))
        r = c.f.readline()
        if not r.startswith(cont):
            return r, cl, None
        sfinal = base64.b64decode(r[len(cont):].strip())
        c.send(ack)
        r = c.f.readline()
        if proto == "pop3" and r.startswith(b"+OK"):
            # The maildrop stays locked until the server sees the session
            # end; QUIT's answer comes after the unlock, a bare close may
            # not, and the next login would race it to [IN-USE].
            c.send("QUIT")
            c.f.readline()
        return r, cl, sfinal
    finally:
        c.close()


def line_srv():
    """A server with submission and POP3 (the shared one has neither)."""
    global _line
    if _line is None:
        _line = Server(submission=True, pop3=True, env={"TERN_SASL_SCRAM": "1"})
        add_accounts(_line, (BOB, BOB_PW))
    return _line


_line = None


def test_smtp_pop3_advertise_scram():
    s = line_srv()
    c = smtp_open(s)
    assert b"250-AUTH SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN\r\n" in c.ehlo, c.ehlo
    c.close()
    p = pop3_open(s)
    p.send("CAPA")
    capa = b"".join(iter(p.f.readline, b".\r\n"))
    p.close()
    assert b"SASL SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN\r\n" in capa, capa


def test_smtp_pop3_cyrus_clients_sign_in():
    s = line_srv()
    for tool, port, extra in (("smtptest", s.submission_port, ["-t", ""]),
                              ("pop3test", s.pop3_port, ["-t", ""])):
        for mech in HASHES:
            p = subprocess.run([CYRUS + "/" + tool] + extra +
                               ["-m", mech, "-a", BOB, "-w", BOB_PW, "-p", str(port), "127.0.0.1"],
                               input=b"QUIT\r\n", capture_output=True, timeout=60)
            out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
            assert "Authenticated." in out, (tool, mech, out)
    assert s.wait_log("module=smtp") and s.wait_log("mech=scram-sha-1 messages=")


def test_smtp_pop3_scram_failures_look_like_plain():
    s = line_srv()
    for proto, plain_cmd in (("smtp", "AUTH PLAIN %s"), ("pop3", "AUTH PLAIN %s")):
        for mech in HASHES:
            for ir in (True, False):
                r, cl, sfinal = line_scram(s, proto, mech, BOB, BOB_PW, ir=ir)
                assert r.startswith((b"235", b"+OK")), (proto, r)
                assert sfinal == cl.verifier
        c = LINE_PROTOS[proto][0](s, next(logins.SOURCES))
        c.send(plain_cmd % b64(b"\0" + BOB.encode() + b"\0wrong"))
        want = c.f.readline()
        c.close()
        assert want.startswith((b"535", b"-ERR")), want
        for user, pw, kw in ((BOB, "wrong", {}), ("nobody@example.test", "x", {}),
                             (BOB, BOB_PW, {"proof_xor": 2}), (BOB, BOB_PW, {"nonce": "zz"})):
            r, _, sfinal = line_scram(s, proto, "SCRAM-SHA-256", user, pw,
                                      source=next(logins.SOURCES), **kw)
            assert r == want and sfinal is None, (proto, user, kw, r, want)
        assert "module=%s" % proto in _failed(s, "SCRAM-SHA-256", "nobody@example.test")
        # Aborting after the server-final challenge: no login...
        r, _, sfinal = line_scram(s, proto, "SCRAM-SHA-1", BOB, BOB_PW, ack=b"*")
        assert sfinal and r.startswith((b"501", b"-ERR")), (proto, r)
        # ... and, for POP3, the maildrop it had locked is free again.
        r, _, _ = line_scram(s, proto, "SCRAM-SHA-1", BOB, BOB_PW)
        assert r.startswith((b"235", b"+OK")), (proto, r)
        # '*' cancels (a failed attempt: another name and address, so
        # bob's own count does not space the next loop's checks); bad
        # base64 is a protocol error.
        c = LINE_PROTOS[proto][0](s, next(logins.SOURCES))
        c.send("AUTH SCRAM-SHA-256 " + b64(Client("SCRAM-SHA-256", "gone@example.test", "x").first()))
        assert c.f.readline().startswith(LINE_PROTOS[proto][2])
        c.send("*")
        assert c.f.readline().startswith((b"501", b"-ERR")), proto
        c.send("AUTH SCRAM-SHA-256 " + b64(Client("SCRAM-SHA-256", BOB, "x").first()))
        assert c.f.readline().startswith(LINE_PROTOS[proto][2])
        c.send("%%%")
        assert c.f.readline().startswith((b"501", b"-ERR Invalid base64")), proto
        c.close()


def test_cancel_after_challenge_counts_as_a_failure():
    """'*' after SCRAM's challenge (which read the store and secrets.key
    for the user) is a failed attempt, as Dovecot counts an aborted
    exchange: logged reason=aborted with the address's failure count, so
    the login gate stops a client looping on client-first + '*'. The
    reply stays the protocol's answer to a cancel. A PLAIN cancel read
    nothing and is not counted. Checked on POP3; the decision is shared
    (sasl_login_cancel_counts)."""
    s = line_srv()
    src = next(logins.SOURCES)
    c = pop3_open(s, src)
    c.send("AUTH PLAIN")
    assert c.f.readline().startswith(b"+ ")
    c.send("*")
    assert c.f.readline() == b"-ERR Authentication aborted by client.\r\n"
    for n in (1, 2):
        c.send("AUTH SCRAM-SHA-256 " + b64(Client("SCRAM-SHA-256", BOB, "x").first()))
        assert c.f.readline().startswith(b"+ ")
        c.send("*")
        assert c.f.readline() == b"-ERR Authentication aborted by client.\r\n", n
    c.close()
    # (the log may trail the reply: wait for the last line)
    assert s.wait_log(re.compile(r"reason=aborted failures=2 .* ip=%s\n" % re.escape(src)))
    lines = [l for l in s.log_text().splitlines()
             if "event=auth_failed" in l and l.endswith(" ip=%s" % src)]
    assert len(lines) == 2, lines
    for n, l in enumerate(lines, 1):
        assert "mech=scram-sha-256 reason=aborted failures=%d " % n in l, l
        assert 'user="%s"' % BOB in l and "module=pop3" in l, l
    # IMAP and ManageSieve answer with their cancel reply, and count it.
    s, src = srv(), next(logins.SOURCES)
    c = Imap(s, src)
    c.send("a AUTHENTICATE SCRAM-SHA-1 " + b64(Client("SCRAM-SHA-1", BOB, "x").first()))
    assert c.line().startswith(b"+ ")
    c.send("*")
    assert c.tagged("a") == b"a BAD Authentication aborted by client.\r\n"
    c.close()
    c = Sieve(s, src)
    c.send('AUTHENTICATE "SCRAM-SHA-1" "%s"' % b64(Client("SCRAM-SHA-1", BOB, "x").first()))
    c.challenge()
    c.send('"*"')
    assert c.response()[-1] == b'NO "Authentication aborted by client."\r\n'
    c.close()
    assert s.wait_log(re.compile(r"reason=aborted failures=2 .* ip=%s\n" % re.escape(src)))
    lines = [l for l in s.log_text().splitlines()
             if "event=auth_failed" in l and l.endswith(" ip=%s" % src)]
    assert len(lines) == 2 and "module=imap" in lines[0] and "module=sieve" in lines[1], lines
    assert "reason=aborted failures=1 " in lines[0], lines


def test_zz_stop():
    global _srv, _line
    if _line is not None:
        _line.stop()
        _line.cleanup()
        _line = None
    if _srv is not None:
        _srv.stop()
        _srv.cleanup()
        _srv = None


# A run of chosen tests leaves test_zz_stop out: the process stops the
# server when it exits all the same.
atexit.register(test_zz_stop)


def test_scram_is_off_unless_turned_on():
    """Without TERN_SASL_SCRAM=1 no protocol offers or takes SCRAM:
    clients that see it offered choose it before PLAIN (mbsync and
    neomutt through Cyrus SASL do), and an account whose password predates
    its keys, one with two-factor on, or an app password cannot do it."""
    import imaplib
    env, port = logins.sieve_env()
    with Server(imap=True, submission=True, pop3=True, env=env) as s:
        s.sieve_port = port
        add_accounts(s, (BOB, BOB_PW))
        i = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
        assert "AUTH=PLAIN" in i.capabilities and not any("SCRAM" in c for c in i.capabilities)
        typ, data = i._simple_command("AUTHENTICATE", "SCRAM-SHA-256")
        assert typ == "NO", (typ, data)
        i.logout()
        c = smtp_open(s)
        assert b"250-AUTH PLAIN LOGIN\r\n" in c.ehlo, c.ehlo
        c.send("AUTH SCRAM-SHA-256")
        assert c.reply().startswith(b"504"), "SCRAM taken"
        c.close()
        p = pop3_open(s)
        p.send("AUTH")
        assert b"".join(iter(p.f.readline, b".\r\n")) == b"+OK\r\nPLAIN\r\nLOGIN\r\n"
        p.send("AUTH SCRAM-SHA-1")
        assert p.f.readline().startswith(b"-ERR")
        p.close()
        t = Sieve(s)
        sasl = [l for l in t.caps if l.startswith(b'"SASL"')]
        assert sasl == [b'"SASL" "PLAIN LOGIN"\r\n'], sasl
        t.send('AUTHENTICATE "SCRAM-SHA-256" "%s"' % b64(Client("SCRAM-SHA-256", BOB, BOB_PW).first()))
        last = t.response()[-1]
        t.close()
        assert last.startswith(b"NO"), last
        assert logins.sieve_ok(s, BOB, BOB_PW)
