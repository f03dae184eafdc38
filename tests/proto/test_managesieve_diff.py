"""Differential test of ManageSieve (RFC 5804) against Debian's Dovecot
Pigeonhole managesieved, started here on loopback (dovecot_peer, with a
certificate for STARTTLS and Pigeonhole's limits set to tern's: 512 KiB a
script, 32 scripts, 1 MiB in all). The same scripted raw-socket sessions
run against both servers, one fresh connection per session on each; each
step's answer is compared after normalising what legitimately differs:
the human-readable text after OK/NO/BYE and its response code (compile
errors included, which Pigeonhole sends as a literal), a string sent
quoted or as a literal (the grammar's "string" is either), the order of
LISTSCRIPTS lines (RFC 5804 orders them in no way), and in capability
blocks their order and the values of IMPLEMENTATION and SIEVE (the
extension lists legitimately differ: each is checked to list some).
What is compared: OK/NO/BYE, the response code in parentheses with its
argument (TAG's string), every data line, and a closed connection.

Every difference that remains is listed (KNOWN) with tern's exact
normalised answer and why it is allowed, RFC text quoted or marked
"paraphrased"; any other difference, another answer from tern, or a
listed one that went away fails the test. Differences where tern was
wrong were fixed in app/sieve/msieve_*.c instead (each failed here on
the old build): GETSCRIPT, DELETESCRIPT and RENAMESCRIPT of an invalid
name answered twice (NO, then NO (NONEXISTENT)); UNAUTHENTICATE worked
but was not advertised; LOGOUT with arguments logged out; a total-size
quota overrun said QUOTA/MAXSCRIPTS with room for more scripts; a
literal whose size is no 32-bit number ({99999999999999999999+}) left
the session discarding input for ever, every later command unanswered;
a name of 128 two-octet characters was refused (the limit counted
octets, not characters); a script Pigeonhole warns about (vacation
:days 0, a last "#" comment without a line break, an include of a
personal script the owner has not got) was answered a plain OK where
RFC 5804 §2.6 has OK (WARNINGS).

Dovecot's login process closes the connection at the third bad command
before authentication (tern at the tenth), so each unauthenticated
session here makes at most two."""
import atexit
import base64
import os
import re
import socket
import ssl
import tempfile
import time

import diffcheck
import dovecot_peer
from harness import Server, free_port
from mailpeers import ca_signed, test_ca as make_ca

BOB, BOB_PW = "bob@example.test", "bob-pw-msdiff-1"
CAROL, CAROL_PW = "carol@example.test", "carol-pw-msdiff-1"
DAVE, DAVE_PW = "dave@example.test", "dave-pw-msdiff-1"      # failed logins
ERIN, ERIN_PW = "erin@example.test", "erin-pw-msdiff-1"        # script names
FRANK, FRANK_PW = "frank@example.test", "frank-pw-msdiff-1"    # session states
GRACE, GRACE_PW = "grace@example.test", "grace-pw-msdiff-1"    # SETACTIVE's checks

# Pigeonhole's limits made tern's: SIEVE_SCRIPT_MAX, STORE_SIEVE_SCRIPTS_MAX,
# STORE_SIEVE_BYTES_MAX. Without Dovecot's flat two seconds a failed login
# (its growing delay per address stays; see Run.connect) the test is faster.
DOVECOT_EXTRA = """\
auth_failure_delay = 0
plugin {
  sieve_max_script_size = 512K
  sieve_quota_max_scripts = 32
  sieve_quota_max_storage = 1M
}
"""
SCRIPT_MAX = 512 * 1024


def plain(user, pw):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode())


def tls_ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


class Conn:
    """One raw ManageSieve connection; reads responses with their literals."""

    def __init__(self, port, source=None):
        self.sock = socket.create_connection(("127.0.0.1", port), 10,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError
            self.buf += d

    def line(self):
        """One line, each literal in it read whole: (text with each literal
        shown as {}, [literals])."""
        text, lits = b"", []
        while True:
            while b"\r\n" not in self.buf:
                self._fill(len(self.buf) + 1)
            part, self.buf = self.buf.split(b"\r\n", 1)
            m = re.search(rb"\{(\d+)\+?\}$", part)
            if not m:
                return text + part, lits
            n = int(m.group(1))
            self._fill(n)
            lits.append(self.buf[:n])
            self.buf = self.buf[n:]
            text += part[:m.start()] + b"{}"

    def response(self):
        """Lines up to and including OK/NO/BYE; ends with "<closed>" when
        the server closes first."""
        out = []
        try:
            while True:
                text, lits = self.line()
                out.append((text, lits))
                if re.match(rb"(OK|NO|BYE)\b", text):
                    return out
        except EOFError:
            return out + [(b"<closed>", [])]
        except (socket.timeout, TimeoutError):
            return out + [(b"<no answer>", [])]

    def closed(self, timeout=1):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionError, ssl.SSLError):
            return True
        except (socket.timeout, TimeoutError):
            return False
        finally:
            self.sock.settimeout(10)

    def starttls(self):
        self.sock = tls_ctx().wrap_socket(self.sock)
        self.buf = b""


# ---- normalising ------------------------------------------------------

def tokens(text, lits):
    """A line as tokens: ("s", decoded string), ("a", atom), "(" and ")"."""
    out, lits, i = [], list(lits), 0
    s = text.decode("utf-8", "surrogateescape")
    while i < len(s):
        c = s[i]
        if c == " ":
            i += 1
        elif c in "()":
            out.append(c)
            i += 1
        elif s.startswith("{}", i):
            out.append(("s", lits.pop(0).decode("utf-8", "surrogateescape")))
            i += 2
        elif c == '"':
            v, i = "", i + 1
            while i < len(s) and s[i] != '"':
                if s[i] == "\\" and i + 1 < len(s):
                    i += 1
                v += s[i]
                i += 1
            out.append(("s", v))
            i += 1
        else:
            j = i
            while j < len(s) and s[j] not in ' ()"':
                j += 1
            out.append(("a", s[i:j]))
            i = j
    return out


def show(tok):
    if tok in ("(", ")"):
        return tok
    kind, v = tok
    return v if kind == "a" else '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')


def status(toks):
    """OK/NO/BYE with its response code (and the code's argument); the
    text after it is for humans."""
    out = toks[0][1]
    if len(toks) > 1 and toks[1] == "(":
        end = toks.index(")")
        out += " (%s)" % " ".join(show(t) for t in toks[2:end])
    return out


def caps(lines):
    """A capability block as one comparable line: the names, sorted, with
    their values except IMPLEMENTATION's and SIEVE's (SASL's mechanisms
    sorted)."""
    out = []
    for toks in lines:
        name = toks[0][1].upper()
        val = toks[1][1] if len(toks) > 1 else None
        if name == "SIEVE":
            # Both must list the base extensions any client looks for.
            assert {"fileinto", "envelope"} <= set(val.split()), val
            val = None
        if name == "IMPLEMENTATION":
            assert val, toks
            val = None
        if name == "SASL":
            val = " ".join(sorted(val.split()))
        out.append(name if val is None else "%s=%s" % (name, val))
    return "caps: " + " ".join(sorted(out))


def normal(resp, kind):
    """One response as a list of comparable strings."""
    lines = [tokens(t, l) if not t.startswith(b"<") else t.decode() for t, l in resp]
    out = []
    data = [t for t in lines if isinstance(t, list) and t and
            not (t[0][0] == "a" and t[0][1] in ("OK", "NO", "BYE"))]
    if kind == "caps" and data:
        out.append(caps(data))
    elif kind == "list":
        out += sorted(" ".join(show(x) for x in t) for t in data)
    else:
        out += [" ".join(show(x) for x in t) for t in data]
    for t in lines:
        if isinstance(t, str):
            out.append(t)  # <closed>, <no answer>
        elif t and t[0][0] == "a" and t[0][1] in ("OK", "NO", "BYE"):
            out.append(status(t))
    return out


# ---- the two servers --------------------------------------------------

class Side:
    def __init__(self, name, port):
        self.name, self.port = name, port
        self.conn = None


class Run:
    """Runs each step on both servers and keeps the normalised pair."""

    def __init__(self, sides):
        self.sides, self.steps = sides, []

    def connect(self, label=None, tls=True, user=None, source=None):
        """A new connection on each side: the greeting, then STARTTLS and
        AUTHENTICATE PLAIN as asked (checked, not compared). source: the
        loopback address to connect from; both servers slow every login
        from an address with failures behind it, so each failing login
        comes from one of its own and the others are not held up."""
        out = []
        for side in self.sides:
            if side.conn:
                side.conn.sock.close()
            c = side.conn = Conn(side.port, source)
            out.append(normal(c.response(), "caps"))
            if tls:
                assert normal(self._send(c, b"STARTTLS\r\n"), "")[-1] == "OK", side.name
                c.starttls()
                assert normal(c.response(), "caps")[-1] == "OK", side.name
            if user:
                got = self._send(c, b'AUTHENTICATE "PLAIN" "%s"\r\n' % plain(*user))
                assert normal(got, "")[-1] == "OK", (side.name, got)
        if label:
            self.steps.append((label, out[0], out[1]))

    @staticmethod
    def _send(c, data):
        c.send(data)
        return c.response()

    def cmd(self, label, data, kind="", read="resp"):
        """Sends data (bytes) on each side's connection. read: "resp" (to
        OK/NO/BYE), "line" (one line: a SASL challenge), "closed" (the
        answer, then whether the connection is closed)."""
        out, t0 = [], time.time()
        for side in self.sides:
            c = side.conn
            t1 = time.time()
            c.send(data)
            if read == "line":
                try:
                    got = normal([c.line()], kind)
                except EOFError:
                    got = ["<closed>"]
            else:
                got = normal(c.response(), kind)
                if read == "closed" and got[-1] != "<closed>":
                    got.append("<closed>" if c.closed() else "<open>")
            out.append(got)
            if os.environ.get("TERN_DIFF_RAW"):
                print("  %s %.2fs" % (side.name, time.time() - t1))
        if os.environ.get("TERN_DIFF_RAW"):
            print(label, out, "%.2fs" % (time.time() - t0))
        self.steps.append((label, out[0], out[1]))
        return out

    def starttls_injection(self, label):
        """STARTTLS with a command pipelined behind it in plaintext (RFC
        5804 §2.2: nothing sent before TLS may count after it)."""
        out = []
        for side in self.sides:
            if side.conn:
                side.conn.sock.close()
            c = side.conn = Conn(side.port)
            c.response()
            c.send(b'STARTTLS\r\nNOOP "injected"\r\n')
            got = normal([c.line()], "")
            try:
                c.starttls()
                got.append(normal(c.response(), "caps")[-1])
                c.send(b'NOOP "after"\r\n')
                got += normal(c.response(), "")
            except (OSError, EOFError):
                got.append("<closed>")
            out.append(got)
        self.steps.append((label, out[0], out[1]))


_pair = {}


def sides():
    """(tern, Dovecot), started once per module, the same accounts on both."""
    if not _pair:
        users = [(BOB, BOB_PW), (CAROL, CAROL_PW), (DAVE, DAVE_PW), (ERIN, ERIN_PW), (FRANK, FRANK_PW),
                 (GRACE, GRACE_PW)]
        tmp = tempfile.mkdtemp(prefix="tern-msdiff-")
        ca = make_ca(tmp)
        d = dovecot_peer.DovecotPeer(users, cert=ca_signed(tmp, ca, "localhost"), sieve=True,
                                     extra=DOVECOT_EXTRA)
        atexit.register(d.stop)
        port = free_port()
        s = Server(accounts=users, env={"TERN_LISTEN_SIEVE": "127.0.0.1:%d" % port})
        atexit.register(s.cleanup)
        atexit.register(s.stop)
        _pair.update(t=Side("tern", port), d=Side("dovecot", d.sieve_port), srv=s, dv=d)
    return Run((_pair["t"], _pair["d"]))


def check(run, known):
    """diffcheck.verdict() over the run's steps (against Pigeonhole)."""
    diffcheck.verdict(run.steps, known, ref="dovecot")


def available():
    return dovecot_peer.available() and os.path.exists("/usr/lib/dovecot/managesieve")


# ---- greeting, STARTTLS, state ----------------------------------------

CAPS_TLS = "caps: IMPLEMENTATION MAXREDIRECTS=4 NOTIFY=mailto SASL=LOGIN PLAIN SIEVE UNAUTHENTICATE VERSION=1.0"
KNOWN_SESSION = {
    "greeting": (
        ["caps: IMPLEMENTATION MAXREDIRECTS=4 NOTIFY=mailto SASL= SIEVE STARTTLS UNAUTHENTICATE VERSION=1.0", "OK"],
        "tern offers no mechanism before TLS (RFC 5804 §1.7 on SASL, paraphrased: the list may be empty "
        "only when STARTTLS is advertised too, and after STARTTLS it lists the mechanisms); Dovecot "
        "takes PLAIN over loopback in clear. MAXREDIRECTS may be sent in any state (§1.7 puts no "
        "state on it); Dovecot's login process does not know it. UNAUTHENTICATE: tern has the "
        "§2.14.1 extension, Dovecot does not"),
    "capabilities after STARTTLS": (
        [CAPS_TLS, "OK"],
        "the same capabilities as the greeting's with mechanisms and without STARTTLS, as RFC 5804 "
        "§2.2 asks (paraphrased: after TLS the server sends its capabilities again); MAXREDIRECTS and "
        "UNAUTHENTICATE as in the greeting"),
    "CAPABILITY before auth": (
        [CAPS_TLS, "OK"], "as 'capabilities after STARTTLS'"),
    "CAPABILITY after auth": (
        ["caps: IMPLEMENTATION MAXREDIRECTS=4 NOTIFY=mailto OWNER=frank@example.test SASL=LOGIN PLAIN "
         "SIEVE UNAUTHENTICATE VERSION=1.0", "OK"],
        "RFC 5804 §1.7 on OWNER (paraphrased): MUST NOT be returned before authentication and SHOULD "
        "be once authenticated; Dovecot leaves it out. §1.7 ties SASL to no state (paraphrased: "
        "it may be empty only with STARTTLS); Dovecot drops it after login"),
    "AUTHENTICATE before TLS": (
        ["NO (ENCRYPT-NEEDED)"],
        "tern takes no password before TLS, loopback included (msieve_server.h), and answers with "
        "RFC 5804 §1.3's ENCRYPT-NEEDED ('the client must ... use TLS', paraphrased); Dovecot counts "
        "loopback as secure and logs in"),
    "STARTTLS with a pipelined command": (
        ["OK", "OK", 'OK (TAG "after")'],
        "RFC 5804 §2.2 (paraphrased): the client sends nothing after STARTTLS until the handshake; "
        "what it sent anyway must not count once TLS is up. tern drops the plaintext behind "
        "STARTTLS and goes on under TLS, Dovecot closes the connection: neither runs it"),
    "UNAUTHENTICATE": (
        ["OK"],
        "RFC 5804 §2.14.1's UNAUTHENTICATE extension, advertised in tern's capabilities; Dovecot "
        "has not got it (NO, unknown command)"),
    "LISTSCRIPTS after UNAUTHENTICATE": (
        ["NO"], "tern is unauthenticated again; Dovecot never left the authenticated state"),
    "AUTHENTICATE again after UNAUTHENTICATE": (
        ["OK"], "as above: Dovecot is still authenticated and refuses a second AUTHENTICATE"),
}


def test_session_states_match_dovecot():
    if not available():
        return "skip"
    r = sides()
    r.connect("greeting", tls=False)
    r.cmd("AUTHENTICATE before TLS", b'AUTHENTICATE "PLAIN" "%s"\r\n' % plain(BOB, BOB_PW))
    r.connect(tls=False)
    r.cmd("STARTTLS", b"STARTTLS\r\n")
    for side in r.sides:
        side.conn.starttls()
    r.steps.append(("capabilities after STARTTLS",) + tuple(normal(s.conn.response(), "caps") for s in r.sides))
    r.cmd("STARTTLS again", b"STARTTLS\r\n")
    r.cmd("CAPABILITY before auth", b"CAPABILITY\r\n", "caps")
    r.cmd("lowercase noop", b"noop\r\n")
    r.cmd("NOOP with tag", b'NOOP "t1"\r\n')
    r.cmd("LOGOUT before auth", b"LOGOUT\r\n", read="closed")
    r.starttls_injection("STARTTLS with a pipelined command")
    # Commands of the authenticated state, before it (two a connection).
    r.connect()
    r.cmd("LISTSCRIPTS before auth", b"LISTSCRIPTS\r\n")
    r.cmd("PUTSCRIPT before auth", b'PUTSCRIPT "x" "keep;"\r\n')
    r.connect()
    r.cmd("unknown command before auth", b"FROB\r\n")
    r.cmd("CAPABILITY with an argument", b'CAPABILITY "x"\r\n')
    # Authenticated.
    r.connect(user=(FRANK, FRANK_PW))
    r.cmd("CAPABILITY after auth", b"CAPABILITY\r\n", "caps")
    r.cmd("AUTHENTICATE when authenticated", b'AUTHENTICATE "PLAIN" "%s"\r\n' % plain(BOB, BOB_PW))
    r.cmd("STARTTLS after auth", b"STARTTLS\r\n")
    r.cmd("lowercase listscripts", b"listscripts\r\n", "list")
    r.cmd("mixed case noop", b"NoOp\r\n")
    r.cmd("unknown command", b"FROB\r\n")
    r.cmd("NOOP tag quoted", b'NOOP "a\\"b\\\\c"\r\n')
    r.cmd("NOOP tag literal", b"NOOP {3+}\r\na\r\n\r\n")
    r.cmd("NOOP empty tag", b'NOOP ""\r\n')
    r.cmd("NOOP number", b"NOOP 12\r\n")
    r.cmd("NOOP two tags", b'NOOP "a" "b"\r\n')
    r.cmd("UNAUTHENTICATE", b"UNAUTHENTICATE\r\n")
    r.cmd("LISTSCRIPTS after UNAUTHENTICATE", b"LISTSCRIPTS\r\n")
    r.cmd("AUTHENTICATE again after UNAUTHENTICATE", b'AUTHENTICATE "PLAIN" "%s"\r\n' % plain(CAROL, CAROL_PW))
    r.connect(user=(FRANK, FRANK_PW))
    r.cmd("LOGOUT with an argument", b'LOGOUT "x"\r\n')
    r.cmd("LOGOUT", b"LOGOUT\r\n", read="closed")
    check(r, KNOWN_SESSION)


# ---- AUTHENTICATE -----------------------------------------------------

KNOWN_AUTH = {
    "bare line response": (
        ['""', "OK"],
        "RFC 5804 §2.1's grammar has each client response a string (quoted or literal); tern also "
        "takes a bare base64 line, as some clients send it (a leniency: the same octets, no other "
        "meaning possible); Dovecot refuses it"),
    "initial response and an extra argument": (
        ["NO"],
        "RFC 5804 §2.1: 'authenticate = \"AUTHENTICATE\" SP auth-type [SP string] *(CRLF string)' "
        "has one initial response at most; Dovecot ignores the extra one and logs in"),
}


def test_authenticate_matches_dovecot():
    if not available():
        return "skip"
    r = sides()
    p = plain(BOB, BOB_PW)
    r.connect()
    r.cmd("initial response quoted", b'AUTHENTICATE "PLAIN" "%s"\r\n' % p)
    r.connect()
    r.cmd("initial response literal+", b'AUTHENTICATE "PLAIN" {%d+}\r\n%s\r\n' % (len(p), p))
    r.connect()
    r.cmd("initial response literal", b'AUTHENTICATE "PLAIN" {%d}\r\n%s\r\n' % (len(p), p))
    r.connect()
    r.cmd("lowercase mechanism", b'AUTHENTICATE "plain" "%s"\r\n' % p)
    r.connect()
    r.cmd("continuation", b'AUTHENTICATE "PLAIN"\r\n', read="line")
    r.cmd("continuation response quoted", b'"%s"\r\n' % p)
    r.cmd("LISTSCRIPTS after continuation", b"LISTSCRIPTS\r\n", "list")
    r.connect()
    r.cmd("continuation 2", b'AUTHENTICATE "PLAIN"\r\n', read="line")
    r.cmd("continuation response literal+", b"{%d+}\r\n%s\r\n" % (len(p), p))
    r.connect()
    r.cmd("LOGIN mechanism", b'AUTHENTICATE "LOGIN"\r\n', read="line")
    r.cmd("LOGIN user", b'"%s"\r\n' % base64.b64encode(BOB.encode()), read="line")
    r.cmd("LOGIN password", b'{%d+}\r\n%s\r\n' % (len(base64.b64encode(BOB_PW.encode())),
                                                base64.b64encode(BOB_PW.encode())))
    r.connect(source="127.0.0.15")
    r.cmd("cancel", b'AUTHENTICATE "PLAIN"\r\n', read="line")
    r.cmd("cancel star", b'"*"\r\n')
    r.cmd("NOOP after cancel", b"NOOP\r\n")
    r.connect(source="127.0.0.16")
    r.cmd("bad base64 initial", b'AUTHENTICATE "PLAIN" "!!!notbase64"\r\n')
    r.cmd("NOOP after bad base64", b"NOOP\r\n")
    r.connect(source="127.0.0.17")
    r.cmd("continuation 3", b'AUTHENTICATE "PLAIN"\r\n', read="line")
    r.cmd("bad base64 response", b'"!!!"\r\n')
    r.connect()
    r.cmd("unknown mechanism", b'AUTHENTICATE "X-NOPE"\r\n')
    r.cmd("mechanism an atom", b"AUTHENTICATE PLAIN\r\n")
    r.connect()
    r.cmd("no mechanism", b"AUTHENTICATE\r\n")
    r.cmd("initial response and an extra argument", b'AUTHENTICATE "PLAIN" "%s" "x"\r\n' % p)
    r.connect(source="127.0.0.11")
    r.cmd("wrong password", b'AUTHENTICATE "PLAIN" "%s"\r\n' % plain(DAVE, "wrong-password"))
    r.connect(source="127.0.0.12")
    r.cmd("empty initial response", b'AUTHENTICATE "PLAIN" ""\r\n')
    r.connect(source="127.0.0.13")
    r.cmd("bare line response", b'AUTHENTICATE "PLAIN"\r\n' + p + b"\r\n", read="resp")
    r.connect(source="127.0.0.14")
    r.cmd("bare star", b'AUTHENTICATE "PLAIN"\r\n*\r\n', read="resp")
    # LOGIN's initial response is the user name (RFC 5804 §2.1 takes one
    # for any mechanism); an empty continuation; PLAIN's authorization
    # identity: the user's own is taken, another's refused (no master users).
    r.connect(source="127.0.0.18")
    r.cmd("LOGIN with an initial response", b'AUTHENTICATE "LOGIN" "%s"\r\n' % base64.b64encode(BOB.encode()),
          read="line")
    r.cmd("LOGIN password after an initial response", b'"%s"\r\n' % base64.b64encode(BOB_PW.encode()))
    r.connect(source="127.0.0.19")
    r.cmd("continuation 4", b'AUTHENTICATE "PLAIN"\r\n', read="line")
    r.cmd("empty continuation", b'""\r\n')
    r.connect(source="127.0.0.20")
    r.cmd("authzid the user's own", b'AUTHENTICATE "PLAIN" "%s"\r\n'
          % base64.b64encode(b"%s\0%s\0%s" % (BOB.encode(), BOB.encode(), BOB_PW.encode())))
    r.connect(source="127.0.0.21")
    r.cmd("authzid another user's", b'AUTHENTICATE "PLAIN" "%s"\r\n'
          % base64.b64encode(b"%s\0%s\0%s" % (CAROL.encode(), BOB.encode(), BOB_PW.encode())))
    check(r, KNOWN_AUTH)


# ---- scripts ------------------------------------------------------------

NAME_RULES = ("RFC 5804 §1.6 (paraphrased): a name is Net-Unicode without 0000-001F, 007F, "
              "0080-009F, 2028 and 2029, one octet at least; ")
KNOWN_SCRIPTS = {
    "HAVESPACE zero": (
        ["OK"],
        "an empty script is a valid Sieve script (RFC 5228 §8.2: 'start = commands', "
        "'commands = *command') and both servers store one with PUTSCRIPT; Dovecot's HAVESPACE "
        "alone refuses size 0"),
    "PUTSCRIPT name slash": (
        ["OK"], NAME_RULES + "'/' is none of them. Dovecot keeps scripts as files and refuses it"),
    "PUTSCRIPT name of 129 characters": (
        ["NO"],
        "RFC 5804 §1.6: 'Servers MUST allow names of up to 128 Unicode characters ... and MAY allow "
        "longer names' and 'A server that receives a script name longer than its internal limit "
        "MUST reject the corresponding operation' (quoted); Dovecot's limit is longer"),
    "PUTSCRIPT name of 256 characters": (
        ["NO"],
        "as for 129 characters; Dovecot's file name is too long for the file system and it answers "
        "NO (TRYLATER), an internal error"),
    "PUTSCRIPT name with NUL (literal)": (
        ["NO"], NAME_RULES + "Dovecot stores a script named \"a\", cut at the NUL"),
    "GETSCRIPT extra space": (
        ["NO"],
        "RFC 5804 §4: 'command-getscript = \"GETSCRIPT\" SP sieve-name CRLF' has one SP; Dovecot "
        "takes two"),
    "GETSCRIPT trailing space": (
        ["NO"], "as 'GETSCRIPT extra space': nothing may follow the argument but CRLF"),
    "GETSCRIPT literal and trailing space": (
        ["NO"], "as 'GETSCRIPT trailing space'"),
    "PUTSCRIPT name of 128 two-octet characters": (
        ["OK"],
        "RFC 5804 §1.6: 'Servers MUST allow names of up to 128 Unicode characters' (quoted); tern "
        "counts characters (STORE_SIEVE_NAME_CHARS in store.h, up to 512 octets), Dovecot falls "
        "short: its file name is too long for the file system and it answers NO (TRYLATER)"),
    "LISTSCRIPTS after names": (
        sorted('"%s"' % n for n in ("..", ".hidden", "a b", "a.sieve", "a/b", 'a\\"q', "a\\\\b", "café",
                                   "\u00e9", "n" * 128, "\u00e9" * 64, "\u00e9" * 128)) + ["OK"],
        "the names each server took, as listed above: tern also has \"a/b\" and the name of 128 "
        "two-octet characters, Dovecot the name of 129 characters and \"q\" (cut at the NUL); "
        "RFC 5804 §1.6 has script names in Net-Unicode (RFC 5198: NFC), so tern keeps "
        "\"e\" + U+0301 as U+00E9, Dovecot as sent"),
    "NOOP after ten invalid commands": (
        ["BYE", "<closed>"],
        "RFC 5804 sets no limit on invalid commands and lets a server end a session with BYE "
        "(paraphrased: BYE says the server closes the connection); tern ends it at the "
        "tenth before login or the tenth after (MSIEVE_MAX_ERRORS, counted afresh at login), its BYE read "
        "here after the tenth NO; Dovecot "
        "counts only before login (three)"),
}


def test_scripts_match_dovecot():
    if not available():
        return "skip"
    r = sides()
    r.connect(user=(BOB, BOB_PW))
    # HAVESPACE
    r.cmd("HAVESPACE", b'HAVESPACE "a" 100\r\n')
    r.cmd("HAVESPACE literal name", b"HAVESPACE {1+}\r\na 100\r\n")
    r.cmd("HAVESPACE zero", b'HAVESPACE "a" 0\r\n')
    r.cmd("HAVESPACE at the limit", b'HAVESPACE "a" %d\r\n' % SCRIPT_MAX)
    r.cmd("HAVESPACE past the limit", b'HAVESPACE "a" %d\r\n' % (SCRIPT_MAX + 1))
    r.cmd("HAVESPACE huge", b'HAVESPACE "a" 4294967295\r\n')
    r.cmd("HAVESPACE past 32 bits", b'HAVESPACE "a" 99999999999999999999999\r\n')
    r.cmd("HAVESPACE size an atom", b'HAVESPACE "a" x\r\n')
    r.cmd("HAVESPACE size a string", b'HAVESPACE "a" "100"\r\n')
    r.cmd("HAVESPACE negative", b'HAVESPACE "a" -1\r\n')
    r.cmd("HAVESPACE empty name", b'HAVESPACE "" 10\r\n')
    r.cmd("HAVESPACE no size", b'HAVESPACE "a"\r\n')
    # PUTSCRIPT: literal+, literal, quoted, empty.
    r.cmd("PUTSCRIPT literal+", b'PUTSCRIPT "s1" {5+}\r\nkeep;\r\n')
    r.cmd("PUTSCRIPT literal", b'PUTSCRIPT "s2" {8}\r\ndiscard;\r\n')
    r.cmd("PUTSCRIPT quoted", b'PUTSCRIPT "s3" "keep;"\r\n')
    r.cmd("PUTSCRIPT CRLF in a literal", b'PUTSCRIPT "s4" {19+}\r\n# comment\r\nkeep;\r\n\r\n')
    r.cmd("PUTSCRIPT empty", b'PUTSCRIPT "empty" ""\r\n')
    r.cmd("PUTSCRIPT empty literal", b'PUTSCRIPT "empty2" {0+}\r\n\r\n')
    r.cmd("GETSCRIPT empty", b'GETSCRIPT "empty"\r\n')
    # Scripts that do not compile: NO, nothing stored or replaced.
    r.cmd("PUTSCRIPT unknown command", b'PUTSCRIPT "bad" "kep;"\r\n')
    r.cmd("PUTSCRIPT unknown extension", b'PUTSCRIPT "bad" "require \\"nope\\"; keep;"\r\n')
    r.cmd("PUTSCRIPT unterminated block", b'PUTSCRIPT "bad" "if true {"\r\n')
    # A UTF-8 byte order mark first: no Sieve text (RFC 5228 §8.1), both refuse it.
    r.cmd("PUTSCRIPT byte order mark", b'PUTSCRIPT "bad" "\xef\xbb\xbfkeep;"\r\n')
    r.cmd("GETSCRIPT of the refused", b'GETSCRIPT "bad"\r\n')
    r.cmd("PUTSCRIPT replacing with a bad one", b'PUTSCRIPT "s1" "kep;"\r\n')
    r.cmd("GETSCRIPT of the kept", b'GETSCRIPT "s1"\r\n')
    r.cmd("PUTSCRIPT hash comment at the end", b'PUTSCRIPT "s5" "keep; # done"\r\n')
    # CHECKSCRIPT
    r.cmd("CHECKSCRIPT valid", b'CHECKSCRIPT "keep;"\r\n')
    r.cmd("CHECKSCRIPT literal", b'CHECKSCRIPT {17+}\r\nif true { keep; }\r\n')
    r.cmd("CHECKSCRIPT empty", b'CHECKSCRIPT ""\r\n')
    r.cmd("CHECKSCRIPT invalid", b'CHECKSCRIPT "kep;"\r\n')
    r.cmd("CHECKSCRIPT with a warning", b'CHECKSCRIPT "require \\"vacation\\"; vacation :days 0 \\"x\\";"\r\n')
    # RFC 6609 §3.2: a personal script included without :optional that
    # the owner has not got makes the run fail: Pigeonhole warns (tern
    # answered a plain OK); with :optional or for one that exists, no.
    r.cmd("CHECKSCRIPT include missing",
          b'CHECKSCRIPT "require \\"include\\"; include :personal \\"nope\\";"\r\n')
    r.cmd("CHECKSCRIPT include optional missing",
          b'CHECKSCRIPT "require \\"include\\"; include :optional \\"nope\\";"\r\n')
    r.cmd("CHECKSCRIPT include existing", b'CHECKSCRIPT "require \\"include\\"; include \\"s3\\";"\r\n')
    # Both refused with the script now; tern took them (a NUL: RFC 5228 §8.1 has none).
    r.cmd("CHECKSCRIPT NUL in a comment", b"CHECKSCRIPT {14+}\r\n# a\0b\r\nkeep;\r\n")
    r.cmd("CHECKSCRIPT invalid regex",
          b'CHECKSCRIPT {53+}\r\nrequire "regex"; if header :regex "s" "(" { keep; }\r\n\r\n')
    r.cmd("CHECKSCRIPT fileinto not UTF-8",
          b'CHECKSCRIPT {36+}\r\nrequire "fileinto"; fileinto "a\xff";\r\n\r\n')
    r.cmd("CHECKSCRIPT no argument", b"CHECKSCRIPT\r\n")
    r.cmd("CHECKSCRIPT two", b'CHECKSCRIPT "a" "b"\r\n')
    r.cmd("CHECKSCRIPT number", b"CHECKSCRIPT 12\r\n")
    r.cmd("LISTSCRIPTS", b"LISTSCRIPTS\r\n", "list")
    r.cmd("LISTSCRIPTS with an argument", b'LISTSCRIPTS "x"\r\n')
    # Names (RFC 5804 §1.6), in an account of their own: the servers
    # store different sets of them.
    r.connect(user=(ERIN, ERIN_PW))
    for label, name in (("space", b"a b"), ("slash", b"a/b"), ("dot", b"a.sieve"), ("leading dot", b".hidden"),
                        ("dots", b".."), ("backslash", b"a\\\\b"), ("quote", b'a\\"q'),
                        ("UTF-8", "café".encode()), ("decomposed UTF-8", "e\u0301".encode()),
                        ("of 128 characters", b"n" * 128), ("of 64 two-octet characters", "é".encode() * 64),
                        ("of 128 two-octet characters", "é".encode() * 128),
                        ("of 129 characters", b"m" * 129), ("of 256 characters", b"p" * 256),
                        ("with SOH", b"a\x01b"), ("with DEL", b"a\x7fb"), ("with TAB", b"tab\tx"),
                        ("with NEL", "x\u0085y".encode()), ("with U+2028", "x\u2028y".encode()),
                        ("not UTF-8", b"bad\xff"), ("empty", b"")):
        r.cmd("PUTSCRIPT name " + label, b'PUTSCRIPT "%s" "keep;"\r\n' % name)
    r.cmd("PUTSCRIPT name with LF (literal)", b'PUTSCRIPT {3+}\r\na\nb "keep;"\r\n')
    r.cmd("PUTSCRIPT name with NUL (literal)", b'PUTSCRIPT {3+}\r\nq\x00b "keep;"\r\n')
    r.cmd("LISTSCRIPTS after names", b"LISTSCRIPTS\r\n", "list")
    r.cmd("GETSCRIPT of a quoted name", b'GETSCRIPT {3+}\r\na"q\r\n')
    # SETACTIVE (tern ends a session at its tenth invalid command: a new one)
    r.connect(user=(BOB, BOB_PW))
    r.cmd("SETACTIVE", b'SETACTIVE "s1"\r\n')
    r.cmd("SETACTIVE again", b'SETACTIVE "s1"\r\n')
    r.cmd("LISTSCRIPTS with the active", b"LISTSCRIPTS\r\n", "list")
    r.cmd("SETACTIVE unknown", b'SETACTIVE "nope"\r\n')
    r.cmd("SETACTIVE empty", b'SETACTIVE ""\r\n')
    r.cmd("SETACTIVE empty again", b'SETACTIVE ""\r\n')
    r.cmd("LISTSCRIPTS with none active", b"LISTSCRIPTS\r\n", "list")
    r.cmd("SETACTIVE number", b"SETACTIVE 1\r\n")
    r.cmd("SETACTIVE no argument", b"SETACTIVE\r\n")
    r.cmd("SETACTIVE s1 for the rest", b'SETACTIVE "s1"\r\n')
    # GETSCRIPT
    r.cmd("GETSCRIPT", b'GETSCRIPT "s4"\r\n')
    r.cmd("GETSCRIPT unknown", b'GETSCRIPT "nope"\r\n')
    r.cmd("GETSCRIPT empty name", b'GETSCRIPT ""\r\n')
    r.cmd("GETSCRIPT control character", b'GETSCRIPT "a\x01"\r\n')
    r.cmd("GETSCRIPT literal name", b"GETSCRIPT {2+}\r\ns3\r\n")
    r.cmd("GETSCRIPT literal name without +", b"GETSCRIPT {2}\r\ns3\r\n")
    # DELETESCRIPT
    r.cmd("DELETESCRIPT active", b'DELETESCRIPT "s1"\r\n')
    r.cmd("DELETESCRIPT unknown", b'DELETESCRIPT "nope"\r\n')
    r.cmd("DELETESCRIPT empty name", b'DELETESCRIPT ""\r\n')
    r.cmd("DELETESCRIPT", b'DELETESCRIPT "s5"\r\n')
    r.cmd("GETSCRIPT deleted", b'GETSCRIPT "s5"\r\n')
    # RENAMESCRIPT (RFC 5804 §2.11.1)
    r.cmd("RENAMESCRIPT to existing", b'RENAMESCRIPT "s2" "s3"\r\n')
    r.cmd("RENAMESCRIPT to itself", b'RENAMESCRIPT "s2" "s2"\r\n')
    r.cmd("RENAMESCRIPT of unknown", b'RENAMESCRIPT "nope" "zz"\r\n')
    r.cmd("RENAMESCRIPT of unknown to existing", b'RENAMESCRIPT "nope" "s2"\r\n')
    r.cmd("RENAMESCRIPT of active", b'RENAMESCRIPT "s1" "main"\r\n')
    r.cmd("LISTSCRIPTS after renaming the active", b"LISTSCRIPTS\r\n", "list")
    r.cmd("RENAMESCRIPT to empty", b'RENAMESCRIPT "s2" ""\r\n')
    r.cmd("RENAMESCRIPT of empty", b'RENAMESCRIPT "" "x"\r\n')
    r.cmd("RENAMESCRIPT to a control character", b'RENAMESCRIPT "s2" "a\x01"\r\n')
    r.cmd("RENAMESCRIPT one argument", b'RENAMESCRIPT "s2"\r\n')
    r.cmd("PUTSCRIPT over the active", b'PUTSCRIPT "main" "discard;"\r\n')
    r.cmd("LISTSCRIPTS after replacing the active", b"LISTSCRIPTS\r\n", "list")
    r.cmd("GETSCRIPT of the replaced", b'GETSCRIPT "main"\r\n')
    # Malformed commands, nine at most a session.
    r.connect(user=(BOB, BOB_PW))
    r.cmd("GETSCRIPT atom", b"GETSCRIPT s3\r\n")
    r.cmd("GETSCRIPT unterminated string", b'GETSCRIPT "s3\r\n')
    r.cmd("GETSCRIPT two arguments", b'GETSCRIPT "s3" "x"\r\n')
    r.cmd("GETSCRIPT no argument", b"GETSCRIPT\r\n")
    r.cmd("GETSCRIPT bad escape", b'GETSCRIPT "s\\3"\r\n')
    r.cmd("GETSCRIPT bare CR", b'GETSCRIPT "s3"\rX\r\n')
    r.cmd("GETSCRIPT bare LF", b'GETSCRIPT "s3"\n')
    r.cmd("GETSCRIPT extra space", b'GETSCRIPT  "s3"\r\n')
    r.cmd("GETSCRIPT trailing space", b'GETSCRIPT "s3" \r\n')
    r.cmd("GETSCRIPT literal and trailing space", b"GETSCRIPT {2+}\r\ns3 \r\n")
    r.connect(user=(BOB, BOB_PW))
    r.cmd("GETSCRIPT literal size an atom", b"GETSCRIPT {x}\r\n")
    r.cmd("GETSCRIPT literal negative", b"GETSCRIPT {-1}\r\n")
    r.cmd("GETSCRIPT literal without CRLF", b"GETSCRIPT {2+}s3\r\n")
    r.cmd("PUTSCRIPT name a number", b'PUTSCRIPT 12 "keep;"\r\n')
    r.cmd("PUTSCRIPT script a number", b'PUTSCRIPT "a" 12\r\n')
    r.cmd("PUTSCRIPT one argument", b'PUTSCRIPT "a"\r\n')
    r.cmd("PUTSCRIPT comma", b'PUTSCRIPT "a", "keep;"\r\n')
    r.cmd("leading spaces", b"  NOOP\r\n")
    # RFC 5804 §4: a quoted string is UTF-8 (tern echoed the octets in OK (TAG ...)).
    r.cmd("NOOP tag not UTF-8", b'NOOP "a\xffb"\r\n')
    r.cmd("NOOP tag UTF-8", b'NOOP "caf\xc3\xa9"\r\n')
    r.cmd("empty line", b"\r\n")
    r.cmd("number first", b"12 NOOP\r\n")
    r.cmd("NOOP after the malformed", b"NOOP\r\n")
    # Literals over the limit: refused, skipped, the session goes on.
    r.connect(user=(BOB, BOB_PW))
    big = b"#" * (SCRIPT_MAX - 2) + b"\r\n"  # a comment ending in CRLF: no warning
    r.cmd("PUTSCRIPT at the size limit", b'PUTSCRIPT "big" {%d+}\r\n%s\r\n' % (len(big), big))
    r.cmd("DELETESCRIPT of the big", b'DELETESCRIPT "big"\r\n')
    r.cmd("PUTSCRIPT past the size limit",
          b'PUTSCRIPT "big" {%d+}\r\n%s\r\n' % (SCRIPT_MAX + 1, b"#" * (SCRIPT_MAX + 1)))
    r.cmd("NOOP after the big literal", b"NOOP\r\n")
    r.cmd("literal size past 32 bits", b"GETSCRIPT {99999999999999999999+}\r\n")
    r.cmd("NOOP after the huge literal", b"NOOP\r\n")
    r.cmd("GETSCRIPT of the refused big", b'GETSCRIPT "big"\r\n')
    # Ten invalid commands once authenticated.
    r.connect(user=(BOB, BOB_PW))
    for i in range(10):
        r.cmd("unknown command %d" % i, b"FROB\r\n")
    r.cmd("NOOP after ten invalid commands", b"NOOP\r\n", read="closed")
    check(r, KNOWN_SCRIPTS)


KNOWN_QUOTA = {
    "PUTSCRIPT past the storage quota": (
        ["NO (QUOTA)"],
        "RFC 5804 §1.3's QUOTA ('the command would have placed the user above the site-defined "
        "quota constraints', paraphrased) for the total size; QUOTA/MAXSTORAGE is Pigeonhole's own "
        "subcode, not in RFC 5804 (a client reads an unknown one as its parent, QUOTA). tern said "
        "QUOTA/MAXSCRIPTS, too many scripts, before this test"),
    "HAVESPACE past the storage quota": (
        ["NO (QUOTA)"], "as 'PUTSCRIPT past the storage quota': RFC 5804 §2.5 answers HAVESPACE "
        "with the code PUTSCRIPT would give (paraphrased)"),
}


def test_quota_matches_dovecot():
    """RFC 5804 §1.3's QUOTA codes at Pigeonhole's limits made tern's."""
    if not available():
        return "skip"
    r = sides()
    r.connect(user=(CAROL, CAROL_PW))
    big = b"#" * (SCRIPT_MAX - 2) + b"\r\n"  # a comment ending in CRLF: no warning
    r.cmd("PUTSCRIPT half the storage", b'PUTSCRIPT "big" {%d+}\r\n%s\r\n' % (len(big), big))
    r.cmd("PUTSCRIPT the other half", b'PUTSCRIPT "big2" {%d+}\r\n%s\r\n' % (len(big), big))
    r.cmd("PUTSCRIPT past the storage quota", b'PUTSCRIPT "small" "keep;"\r\n')
    r.cmd("HAVESPACE past the storage quota", b'HAVESPACE "small" 5\r\n')
    r.cmd("HAVESPACE replacing fits", b'HAVESPACE "big" %d\r\n' % SCRIPT_MAX)
    r.cmd("DELETESCRIPT the big", b'DELETESCRIPT "big"\r\n')
    r.cmd("DELETESCRIPT the other big", b'DELETESCRIPT "big2"\r\n')
    r.cmd("PUTSCRIPT small beside none", b'PUTSCRIPT "n31" "keep;"\r\n')
    for i in range(31):
        r.cmd("PUTSCRIPT to 32 scripts %d" % i, b'PUTSCRIPT "n%02d" "keep;"\r\n' % i)
    r.cmd("HAVESPACE a 33rd", b'HAVESPACE "one-more" 5\r\n')
    r.cmd("PUTSCRIPT a 33rd", b'PUTSCRIPT "one-more" "keep;"\r\n')
    r.cmd("PUTSCRIPT replacing at 32", b'PUTSCRIPT "n00" "discard;"\r\n')
    r.cmd("RENAMESCRIPT at 32", b'RENAMESCRIPT "n00" "n99"\r\n')
    r.cmd("LISTSCRIPTS at 32", b"LISTSCRIPTS\r\n", "list")
    check(r, KNOWN_QUOTA)




def test_setactive_matches_dovecot():
    """SETACTIVE of a script not active yet checks it again (Pigeonhole
    compiles it anew): an include without :optional of a script the
    account has not got is refused, warnings come back as OK (WARNINGS);
    an active script is not checked again. tern activated all of them
    with a plain OK before this test."""
    if not available():
        return "skip"
    r = sides()
    r.connect(user=(GRACE, GRACE_PW))
    r.cmd("PUTSCRIPT including a missing script",
          b'PUTSCRIPT "main" "require \\"include\\"; include :personal \\"lib\\";"\r\n')
    r.cmd("SETACTIVE including a missing script", b'SETACTIVE "main"\r\n')
    r.cmd("LISTSCRIPTS after the refused SETACTIVE", b"LISTSCRIPTS\r\n", "list")
    r.cmd("PUTSCRIPT the included", b'PUTSCRIPT "lib" "keep;"\r\n')
    r.cmd("SETACTIVE with the included there", b'SETACTIVE "main"\r\n')
    r.cmd("SETACTIVE of the active", b'SETACTIVE "main"\r\n')
    r.cmd("PUTSCRIPT including optionally", b'PUTSCRIPT "opt" "require \\"include\\"; include :optional \\"gone\\";"\r\n')
    r.cmd("SETACTIVE including optionally", b'SETACTIVE "opt"\r\n')
    r.cmd("PUTSCRIPT with a warning", b'PUTSCRIPT "vac" "require \\"vacation\\"; vacation :days 0 \\"x\\";"\r\n')
    r.cmd("SETACTIVE with a warning", b'SETACTIVE "vac"\r\n')
    r.cmd("SETACTIVE with a warning again", b'SETACTIVE "vac"\r\n')
    r.cmd("SETACTIVE none", b'SETACTIVE ""\r\n')
    r.cmd("DELETESCRIPT the included", b'DELETESCRIPT "lib"\r\n')
    r.cmd("SETACTIVE after the included went", b'SETACTIVE "main"\r\n')
    # The included scripts are walked too: one they include that is not
    # there, and recursion, fail every delivery (warned of at PUTSCRIPT).
    r.cmd("PUTSCRIPT including another", b'PUTSCRIPT "na" "require \\"include\\"; include \\"nb\\";"\r\n')
    r.cmd("PUTSCRIPT the other including a missing one",
          b'PUTSCRIPT "nb" "require \\"include\\"; include \\"nc\\";"\r\n')
    r.cmd("SETACTIVE with a missing script two down", b'SETACTIVE "na"\r\n')
    r.cmd("PUTSCRIPT the missing one, including the first",
          b'PUTSCRIPT "nc" "require \\"include\\"; include \\"na\\";"\r\n')
    r.cmd("SETACTIVE of a recursive include", b'SETACTIVE "na"\r\n')
    r.cmd("SETACTIVE of a recursive include from the middle", b'SETACTIVE "nb"\r\n')
    r.cmd("PUTSCRIPT the last without the cycle", b'PUTSCRIPT "nc" "keep;"\r\n')
    r.cmd("SETACTIVE with the chain whole", b'SETACTIVE "na"\r\n')
    r.cmd("LISTSCRIPTS at the end", b"LISTSCRIPTS\r\n", "list")
    check(r, {})


def test_zz_stop():
    if _pair:
        _pair["srv"].stop()
        _pair["srv"].cleanup()
        _pair["dv"].stop()
        _pair.clear()
