"""Differential test of inbound SMTP (port 25, the MX role) against a
private Debian Postfix smtpd started here (mailpeers.PostfixPeer), the
final destination of example.test with bob@ and postmaster@ as its only
mailboxes, on its own loopback address.

The same scripted sessions (raw sockets, one fresh connection per
scenario) run against tern and against Postfix. Each reply is reduced to
its code, its enhanced status code (RFC 3463, announced by RFC 2034's
ENHANCEDSTATUSCODES) and its number of lines; an EHLO reply to its
extension keywords. The free text is for humans and is dropped. Where
only one server gives an enhanced code, the code alone is compared
(RFC 2034 lets a server leave it off the greeting, 354 and the replies
to HELO and EHLO; check_enhanced() holds tern to the rest).

Postfix is set to tern's site policy where a setting is a choice and not
the RFC's: the same SIZE limit and recipient limit, HELO/EHLO required
before MAIL, no relaying for loopback clients, no error sleeps. Every
other difference is in KNOWN with tern's exact answer and why it is
allowed, from the RFC (quoted, or marked paraphrased) or because Postfix
is the one off it. Any other difference, another answer from tern, or a
listed one that went away, fails the test. Where tern was wrong it was
fixed instead, each failing here on the old build: VRFY's 252 2.5.2 (X.5.2
is a syntax error), 500 5.5.6 for a command line too long (X.5.6 is the
AUTH exchange's), SIZE= of twenty digits past 2^64 refused as bad syntax
instead of too big, <"bob"@example.test> not taken as bob's mailbox,
the chunk of a BDAT with a bad line read as commands, and 503 to a DATA
or BDAT in a transaction with no recipient accepted (RFC 2920 §3.2's
example and Postfix say 554 5.5.1, "no valid recipients")."""
import atexit
import os
import re
import socket
import ssl

import diffcheck
from harness import Raw, Server
from mailpeers import PostfixPeer, free_port_on, unique_ips

BOB = "bob@example.test"
SIZE = 52428800  # tern's default TERN_MAX_MESSAGE_SIZE
RCPT_LIMIT = 100  # tern's recipients per transaction

# Site policy, set alike on both sides (see the module's comment).
POSTFIX_POLICY = """\
mynetworks = 192.0.2.1/32
myorigin = example.test
message_size_limit = %d
smtpd_recipient_limit = %d
smtpd_helo_required = yes
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 100
smtpd_junk_command_limit = 1000
smtpd_forbid_unauth_pipelining = yes
""" % (SIZE, RCPT_LIMIT)


class Side:
    """One server under test: makes connections and keeps, for each
    compared step, its label and the normalised replies."""

    def __init__(self, name, host, port):
        self.name, self.host, self.port = name, host, port
        self.steps = []


class Session:
    """One connection of a scenario on one side."""

    def __init__(self, side):
        self.side = side
        # 30 s, not Raw's 10: a fresh-clone run on a loaded machine once
        # waited more than 10 s for a greeting (Postfix's master starts an
        # smtpd per connection). A side that never greets still fails,
        # and says which it was.
        try:
            self.r = Raw(side.port, host=side.host, timeout=30)
        except TimeoutError:
            raise AssertionError("%s gave no greeting within 30 s" % side.name)
        self.after_ehlo = False
        self.greeting = self.r.greeting

    def _send(self, data):
        try:
            self.r.send(data)
        except OSError:
            pass  # closed: the reads say so

    def _read(self, n):
        out = []
        for _ in range(n):
            try:
                out.append(self.r.reply()[1])
            except (EOFError, OSError):
                out.append(["closed"])
                break
        return out

    def _keep(self, label, replies, verb):
        if label is None:
            return replies
        if os.environ.get("TERN_DIFF_RAW"):
            print(self.side.name, label, replies)
        # Only the first of several replies read at once is known to
        # answer the first verb sent.
        self.side.steps.append((label, [normal(lines, verb if i == 0 else b"")
                                        for i, lines in enumerate(replies)]))
        if self.side.name == "tern":
            check_enhanced(label, replies, verb, self.after_ehlo)
        return replies

    def cmd(self, line, label=None, n=1):
        """Sends one command line (str or bytes, CRLF added) and reads n
        replies; compared under label unless label is None."""
        data = line if isinstance(line, bytes) else line.encode()
        self._send(data + b"\r\n")
        verb = data.split(b" ", 1)[0].upper()
        replies = self._read(n)
        if verb == b"EHLO" and replies and replies[0][0].startswith("250"):
            self.after_ehlo = True
        kept = self._keep(label, replies, verb)
        if verb == b"STARTTLS" and replies and replies[0][0].startswith("220"):
            self.starttls()
        return kept

    def raw(self, data, n, label=None):
        """Sends bytes as they are and reads n replies."""
        self._send(data)
        verb = data.split(b"\r\n", 1)[0].split(b" ", 1)[0].upper()
        return self._keep(label, self._read(n), verb)

    def closed(self, label):
        """Whether the server has closed the connection, as a step."""
        self.r.sock.settimeout(1.5)
        try:
            data = self.r.sock.recv(4096)
            state = "closed" if not data else "data " + repr(data[:20])
        except (socket.timeout, TimeoutError):
            state = "open"
        except ConnectionResetError:
            state = "closed"
        self.r.sock.settimeout(10)
        self.side.steps.append((label, [state]))

    def starttls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.r.sock = ctx.wrap_socket(self.r.sock, server_hostname="mx.example.test")
        self.r.buf = b""
        self.after_ehlo = False

    def close(self):
        try:
            self.r.close()
        except OSError:
            pass


# EHLO keywords one server offers and the other not, each allowed: they
# are left out of the comparison of EHLO replies.
EXTENSIONS_APART = {
    "DELIVERBY": "tern: RFC 2852 Deliver By; Postfix does not implement it",
    "REQUIRETLS": "tern, over TLS only: RFC 8689 §4 'REQUIRETLS ... MUST only be offered ... after "
                  "a successful STARTTLS' (paraphrased); Postfix 3.7 does not implement it",
    "VRFY": "Postfix lists VRFY as a keyword (RFC 5321 §4.5.1 makes VRFY part of the base "
            "protocol, so it needs none); tern answers VRFY 252 without listing it",
    "LIMITS": "tern: RFC 9422 (RCPTMAX, the recipient limit both servers apply with 452); "
              "Postfix 3.7 does not implement it",
    "MT-PRIORITY": "tern: RFC 6710 Message Transfer Priorities (MIXER); Postfix does not "
                   "implement it",
    "ETRN": "Postfix: RFC 1985 remote queue starting, for a server that keeps mail for others; "
            "tern is a final destination and has no such queue",
}

ENH = re.compile(r"^(\d)\d\d[ -](\d)\.(\d{1,3})\.(\d{1,3})(?: |$)")


def enhanced(line):
    m = ENH.match(line)
    return "%s.%s.%s" % m.group(2, 3, 4) if m else None


def normal(lines, verb):
    """One reply as a comparable string: code, enhanced code, and the line
    count of a multi-line reply (an EHLO reply: its keywords, sorted)."""
    if lines == ["closed"]:
        return "closed"
    code = lines[0][:3]
    ok = all(l[:3] == code for l in lines) and all(l[3:4] == "-" for l in lines[:-1]) and \
        lines[-1][3:4] in (" ", "")
    s = code if ok else "MALFORMED " + repr(lines)
    enh = enhanced(lines[0])
    if enh:
        s += " " + enh
    if verb == b"EHLO" and code == "250" and len(lines) > 1:
        words = [l[4:].upper() for l in lines[1:]]
        s += " [" + " ".join(sorted(w for w in words if w.split(" ")[0] not in EXTENSIONS_APART)) + "]"
    elif len(lines) > 1:
        s += " x%d" % len(lines)
    return s


def check_enhanced(label, replies, verb, after_ehlo):
    """RFC 2034 §3 (paraphrased): once the client has sent EHLO, every
    2xx, 4xx and 5xx reply but the greeting and those to HELO and EHLO
    carries an enhanced status code, and its class is the reply's first
    digit (RFC 3463 §2)."""
    for lines in replies:
        if lines == ["closed"] or verb in (b"EHLO", b"HELO") or lines[0][0] not in "245":
            continue
        m = ENH.match(lines[0])
        if after_ehlo:
            assert m, ("tern gave no enhanced status code", label, lines)
        if m:
            assert m.group(1) == m.group(2), ("enhanced class is not the reply's", label, lines)


def same(a, b):
    """Two normalised replies agree; an enhanced code only one side gave
    is not compared."""
    if a == b:
        return True
    pa, pb = a.split(" "), b.split(" ")
    ea = len(pa) > 1 and re.match(r"\d\.\d+\.\d+$", pa[1])
    eb = len(pb) > 1 and re.match(r"\d\.\d+\.\d+$", pb[1])
    if ea and not eb:
        return " ".join(pa[:1] + pa[2:]) == b
    if eb and not ea:
        return " ".join(pb[:1] + pb[2:]) == a
    return False


# ---- the two servers --------------------------------------------------

_pair = {}


def sides():
    """(tern, Postfix): one of each for the module."""
    if not _pair:
        s = Server(accounts=[(BOB, "bob-pw-1")], env={"TERN_SMTP_MAX_ERRORS": "100"})
        s.__enter__()
        atexit.register(s.cleanup)
        ip = unique_ips(1)[0]
        pf = PostfixPeer(ip, free_port_on([ip]), "example.test",
                         mailboxes=[BOB, "postmaster@example.test"], main_extra=POSTFIX_POLICY)
        atexit.register(pf.stop)
        pf.start()
        _pair.update(s=s, pf=pf)
    return (Side("tern", "127.0.0.1", _pair["s"].smtp_port),
            Side("postfix", _pair["pf"].ip, _pair["pf"].port))


def run(scenario, sides_):
    for side in sides_:
        sess = Session(side)
        try:
            scenario(sess)
        finally:
            sess.close()


def check(sides_, known):
    """diffcheck.verdict() over the two sides' steps, replies compared
    line by line with same()."""
    t, p = sides_
    assert [l for l, _ in t.steps] == [l for l, _ in p.steps], "scripts ran apart"
    steps = [(label, a, b) for (label, a), (_, b) in zip(t.steps, p.steps)]
    diffcheck.verdict(steps, known, ref="postfix",
                      same=lambda a, b: len(a) == len(b) and all(same(x, y) for x, y in zip(a, b)))


# ---- scenarios ---------------------------------------------------------

def hello(x):
    x.cmd("EHLO client.remote.test")


def tx(x, sender="<alice@remote.test>"):
    hello(x)
    x.cmd("MAIL FROM:" + sender)


def sc_helo(x):
    x.cmd("EHLO", "ehlo no argument")
    x.cmd("HELO", "helo no argument")
    x.cmd("EHLO  ", "ehlo only spaces")
    x.cmd("MAIL FROM:<a@remote.test>", "mail before helo")
    x.cmd("EHLO client.remote.test", "ehlo")
    x.cmd("HELO client.remote.test", "helo after ehlo")
    x.cmd("EHLO [127.0.0.1]", "ehlo ipv4 literal")
    x.cmd("EHLO [IPv6:::1]", "ehlo ipv6 literal")
    x.cmd("EHLO bad_name!", "ehlo bad domain")
    x.cmd("EHLO [999.1.1.1]", "ehlo bad literal")
    x.cmd("EHLO one two", "ehlo two words")
    x.cmd("ehlo lower.test", "ehlo lowercase")
    x.cmd("HeLo mixed.test", "helo mixed case")
    x.cmd("MAIL FROM:<a@remote.test>", "mail after helo")
    x.cmd("EHLO again.test", "ehlo mid-transaction")
    x.cmd("RCPT TO:<%s>" % BOB, "rcpt after ehlo reset")
    x.cmd("QUIT", "quit")
    x.closed("closed after quit")


MAIL_FROM = [
    ("FROM:<alice@remote.test>", "plain"),
    ("FROM:alice@remote.test", "no brackets"),
    ("FROM: <alice@remote.test>", "space after colon"),
    ("FROM:  <alice@remote.test>", "two spaces after colon"),
    ("FROM :<alice@remote.test>", "space before colon"),
    ("FROM:<>", "null path"),
    ("FROM:<@a.test,@b.test:alice@remote.test>", "source route"),
    ("FROM:<@a.test:alice@remote.test>", "source route one hop"),
    ("FROM:<\"al ice\"@remote.test>", "quoted local part"),
    ("FROM:<\"al\\\"ice\"@remote.test>", "quoted pair"),
    ("FROM:<alice@remote.test", "missing close bracket"),
    ("FROM:<alice>", "no domain"),
    ("FROM:<postmaster>", "postmaster no domain"),
    ("FROM:<alice@[127.0.0.1]>", "ipv4 literal domain"),
    ("FROM:<alice@[IPv6:::1]>", "ipv6 literal domain"),
    ("FROM:<alice@-bad.test>", "domain leading hyphen"),
    ("FROM:<alice@bad..test>", "domain empty label"),
    ("FROM:<alice@bad_domain.test>", "domain underscore"),
    ("FROM:<alice@remote.test.>", "domain trailing dot"),
    ("FROM:<a..b@remote.test>", "local part double dot"),
    ("FROM:<.a@remote.test>", "local part leading dot"),
    ("FROM:<%s@remote.test>" % ("a" * 64), "local part 64"),
    ("FROM:<%s@remote.test>" % ("a" * 65), "local part 65"),
    ("FROM:<a@%s.test>" % ("b" * 64), "label 64"),
    ("FROM:<a@%s>" % ".".join(["b" * 60] * 5), "domain 304"),
    ("FROM:<%s@%s>" % ("a" * 64, ".".join(["b" * 60] * 3 + ["c" * 6])), "path 256"),
    ("FROM:<%s@%s>" % ("a" * 64, ".".join(["b" * 60] * 3 + ["c" * 7])), "path 257"),
    ("FROM:<@[192.0.2.1],@b.test:alice@remote.test>", "source route via a literal"),
    ("FROM:<@a.test,b.test:alice@remote.test>", "source route hop without @"),
    ("FROM:<@a.test:>", "source route without mailbox"),
    ("FROM:<\"a\\\\b\"@remote.test>", "quoted backslash pair"),
    ("FROM:<\"\"@remote.test>", "empty quoted local part"),
    ("FROM:<\"a b\".c@remote.test>", "quoted then dot-string"),
    ("FROM:<alice@[IPv6:2001:db8::1.2.3.4]>", "ipv6v4 literal domain"),
    ("FROM:<alice@[IPv6:fe80::1%eth0]>", "ipv6 literal with zone"),
    ("FROM:<alice@[tag:stuff]>", "general address literal"),
    ("FROM:<alice@[1.2.3]>", "short ipv4 literal"),
    ("FROM:<> SIZE=0", "null path size 0"),
    ("FROM:<> BODY=8BITMIME RET=HDRS ENVID=x+2By", "null path with parameters"),
    ("FROM:<alice@remote.test> ENVID=a+2g", "dsn envid bad hex"),
    ("FROM:<alice@remote.test> RET=", "dsn ret empty"),
    ("FROM:<alice@remote.test> =x", "parameter without keyword"),
    ("FROM:<alice@remote.test> FOO=BAR", "unknown parameter"),
    ("FROM:<alice@remote.test> FOO", "unknown keyword"),
    ("FROM:<alice@remote.test> AUTH=<>", "auth parameter empty, AUTH not offered"),
    ("FROM:<alice@remote.test> AUTH=alice@remote.test", "auth parameter, AUTH not offered"),
    ("FROM:<alice@remote.test> SIZE=1000", "size ok"),
    ("FROM:<alice@remote.test> SIZE=%d" % (SIZE + 1), "size over limit"),
    ("FROM:<alice@remote.test> SIZE=abc", "size not a number"),
    ("FROM:<alice@remote.test> SIZE=", "size empty"),
    ("FROM:<alice@remote.test> SIZE", "size no value"),
    ("FROM:<alice@remote.test> SIZE=99999999999999999999", "size 20 digits"),
    ("FROM:<alice@remote.test> SIZE=00000000000000000001000", "size 23 digits"),
    ("FROM:<alice@remote.test> SIZE=10 SIZE=20", "size twice"),
    ("FROM:<alice@remote.test> BODY=8BITMIME", "body 8bitmime"),
    ("FROM:<alice@remote.test> BODY=7BIT", "body 7bit"),
    ("FROM:<alice@remote.test> BODY=BINARYMIME", "body binarymime"),
    ("FROM:<alice@remote.test> BODY=BOGUS", "body bad"),
    ("FROM:<alice@remote.test> body=8bitmime", "body lowercase"),
    ("FROM:<alice@remote.test> BODY=7BIT BODY=8BITMIME", "body twice"),
    ("FROM:<alice@remote.test> SMTPUTF8", "smtputf8 ascii"),
    ("FROM:<alice@remote.test> SMTPUTF8=yes", "smtputf8 with value"),
    ("FROM:<señor@remote.test> SMTPUTF8", "smtputf8 utf8 local"),
    ("FROM:<señor@remote.test>", "utf8 local without smtputf8"),
    ("FROM:<alice@bücher.test> SMTPUTF8", "smtputf8 utf8 domain"),
    ("FROM:<alice@remote.test> RET=HDRS ENVID=QQ314159", "dsn ret envid"),
    ("FROM:<alice@remote.test> RET=BOGUS", "dsn ret bad"),
    ("FROM:<alice@remote.test> RET=FULL RET=HDRS", "dsn ret twice"),
    ("FROM:<alice@remote.test> ENVID=a+2", "dsn envid bad xtext"),
    ("FROM:<alice@remote.test> ENVID=a+0Db", "dsn envid control"),
    ("FROM:<alice@remote.test> ENVID=a+20b", "dsn envid space"),
    ("FROM:<alice@remote.test> RET=hdrs", "dsn ret lower"),
    ("FROM:<alice@remote.test> ENVID=%s" % ("x" * 101), "dsn envid too long"),
    ("FROM:<alice@remote.test> NOTIFY=SUCCESS", "rcpt parameter on mail"),
    ("FROM:<alice@remote.test>  SIZE=10", "two spaces before parameter"),
    ("FROM:<alice@remote.test>SIZE=10", "no space before parameter"),
    ("FROM:<alice@remote.test> ", "trailing space"),
    ("FROM:", "from empty"),
    ("FROM<alice@remote.test>", "from no colon"),
    ("TO:<alice@remote.test>", "to instead of from"),
]


def sc_mail(x):
    hello(x)
    for arg, label in MAIL_FROM:
        x.cmd("MAIL " + arg, "mail " + label)
        x.cmd("RSET")
    x.cmd("mail from:<alice@remote.test>", "mail lowercase verb")
    x.cmd("MAIL FROM:<alice@remote.test>", "second mail in a transaction")


RCPT_TO = [
    ("TO:<%s>" % BOB, "plain"),
    ("TO:%s" % BOB, "no brackets"),
    ("TO: <%s>" % BOB, "space after colon"),
    ("TO:<>", "null path"),
    ("TO:<@a.test,@b.test:%s>" % BOB, "source route"),
    ("TO:<Postmaster>", "postmaster no domain"),
    ("TO:<POSTMASTER>", "postmaster upper case"),
    ("TO:<postmaster@example.test>", "postmaster with domain"),
    ("TO:<PostMaster@EXAMPLE.test>", "postmaster with domain mixed case"),
    ("TO:<postmaster> NOTIFY=NEVER", "postmaster no domain with parameter"),
    ("TO:<postmaster@[127.0.0.1]>", "postmaster at an address literal"),
    ("TO:<nobody@example.test>", "unknown user"),
    ("TO:<someone@elsewhere.test>", "relay"),
    ("TO:<\"bob\"@example.test>", "quoted local part"),
    ("TO:<Bob@Example.TEST>", "mixed case"),
    ("TO:<%s> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.test" % BOB, "dsn notify orcpt"),
    ("TO:<%s> NOTIFY=NEVER,SUCCESS" % BOB, "dsn notify never with other"),
    ("TO:<%s> NOTIFY=BOGUS" % BOB, "dsn notify bad"),
    ("TO:<%s> ORCPT=bogus" % BOB, "dsn orcpt bad"),
    ("TO:<%s> ORCPT=rfc822;a+0Db@x.test" % BOB, "dsn orcpt control"),
    ("TO:<%s> ORCPT=utf-8;b\\x{E9}@x.test" % BOB, "dsn orcpt utf8 xtext"),
    ("TO:<%s> ORCPT=x-foo;bar" % BOB, "dsn orcpt other type"),
    ("TO:<%s> ORCPT=rfc822;%s" % (BOB, "x" * 495), "dsn orcpt 502"),
    ("TO:<%s> NOTIFY=SUCCESS NOTIFY=FAILURE" % BOB, "dsn notify twice"),
    ("TO:<%s> NOTIFY=" % BOB, "dsn notify empty"),
    ("TO:<%s> NOTIFY=FAILURE,DELAY,SUCCESS" % BOB, "dsn notify three"),
    ("TO:<%s> NOTIFY=FAILURE,FAILURE" % BOB, "dsn notify repeated"),
    ("TO:<%s> ORCPT=rfc822;" % BOB, "dsn orcpt empty address"),
    ("TO:<%s> ORCPT=;bob@example.test" % BOB, "dsn orcpt empty type"),
    ("TO:<%s> ORCPT=rfc822;bob+40example.test" % BOB, "dsn orcpt xtext"),
    ("TO:<%s> ORCPT=rfc822;bob+4" % BOB, "dsn orcpt bad xtext"),
    ("TO:<@[192.0.2.1]:%s>" % BOB, "source route via a literal"),
    ("TO:<%s> FOO=BAR" % BOB, "unknown parameter"),
    ("TO:<%s> SIZE=10" % BOB, "mail parameter on rcpt"),
    ("TO:<%s@example.test>" % ("a" * 65), "local part 65"),
    ("TO:<bob@example.test.>", "domain trailing dot"),
    ("TO:<b\\ob@example.test>", "backslash outside quotes"),
    ("TO:<jörg@example.test>", "utf8 without smtputf8"),
    ("TO:<bob@example.test", "missing close bracket"),
    ("TO:", "to empty"),
]


def sc_rcpt(x):
    hello(x)
    x.cmd("RCPT TO:<%s>" % BOB, "rcpt before mail")
    x.cmd("MAIL FROM:<alice@remote.test>")
    x.cmd("DATA", "data before rcpt")
    x.cmd("RSET")
    x.cmd("MAIL FROM:<alice@remote.test>")
    x.cmd("BDAT 0 LAST", "bdat before rcpt")
    x.cmd("RSET")
    x.cmd("MAIL FROM:<alice@remote.test>")
    for arg, label in RCPT_TO:
        x.cmd("RCPT " + arg, "rcpt " + label)
    x.cmd("rcpt to:<%s>" % BOB, "rcpt lowercase verb")
    x.cmd("RSET", "rset mid-transaction")
    x.cmd("RCPT TO:<%s>" % BOB, "rcpt after rset")


def sc_rcpt_utf8(x):
    hello(x)
    x.cmd("MAIL FROM:<alice@remote.test> SMTPUTF8")
    x.cmd("RCPT TO:<jörg@example.test>", "rcpt utf8 unknown user with smtputf8")
    x.cmd("RCPT TO:<%s>" % BOB, "rcpt plain with smtputf8")


def sc_too_many(x):
    hello(x)
    x.cmd("MAIL FROM:<alice@remote.test>")
    x.raw(("RCPT TO:<%s>\r\n" % BOB).encode() * RCPT_LIMIT, RCPT_LIMIT)
    x.cmd("RCPT TO:<%s>" % BOB, "rcpt one too many")
    x.cmd("RCPT TO:<%s>" % BOB, "rcpt two too many")
    x.cmd("DATA", "data after too many")
    x.raw(b"Subject: many\r\n\r\nx\r\n.\r\n", 1, "end of data after too many")


def sc_misc(x):
    x.cmd("NOOP", "noop before helo")
    x.cmd("NOOP hello there", "noop with argument")
    x.cmd("RSET", "rset before helo")
    x.cmd("RSET now", "rset with argument")
    x.cmd("VRFY bob", "vrfy before helo")
    hello(x)
    x.cmd("VRFY bob", "vrfy")
    x.cmd("VRFY", "vrfy no argument")
    x.cmd("EXPN staff", "expn")
    x.cmd("EXPN", "expn no argument")
    x.cmd("HELP", "help")
    x.cmd("HELP MAIL", "help mail")
    x.cmd("FOO bar", "unknown command")
    x.cmd("", "empty line")
    x.cmd("   ", "only spaces")
    x.cmd(" NOOP", "noop leading space")
    x.cmd("\tNOOP", "noop leading tab")
    x.cmd("NOOP   ", "noop trailing spaces")
    x.cmd("NOOP\t", "noop trailing tab")
    x.cmd("nOoP", "noop mixed case")
    x.cmd("DATA", "data before mail")
    x.cmd("DATA now", "data with argument")
    x.cmd("TURN", "turn")
    x.cmd("ETRN example.test", "etrn")
    x.cmd("AUTH PLAIN AGJvYgBib2I=", "auth on port 25")
    x.cmd("AUTH", "auth no argument")
    x.cmd("QUIT now", "quit with argument")


def sc_long(x):
    hello(x)
    x.cmd("NOOP " + "a" * 505, "noop 512")
    x.cmd("NOOP " + "a" * 1500, "noop 1506")
    x.cmd("NOOP " + "a" * 5000, "noop 5006")
    x.cmd("NOOP", "noop after long line")
    x.cmd("MAIL FROM:<alice@remote.test> ENVID=" + "a" * 3000, "mail long line")
    x.cmd("NOOP", "noop after long mail")


def sc_bare(x):
    hello(x)
    x.raw(b"NOOP\n", 1, "bare lf noop")
    x.cmd("NOOP", "noop after bare lf")
    x.raw(b"MAIL FROM:<alice@remote.test>\n", 1, "bare lf mail")
    x.cmd("RSET")
    x.raw(b"NO\rOP\r\n", 1, "bare cr inside")
    x.cmd("MAIL FROM:<alice@remote.test>")
    x.cmd("RCPT TO:<%s>" % BOB)
    x.raw(b"BDAT 5 LAST\r\nx\r\ny\n", 1, "bdat bare lf")


def sc_data(x):
    tx(x)
    x.cmd("RCPT TO:<%s>" % BOB)
    x.cmd("DATA", "data")
    x.raw(b"Subject: one\r\n\r\nbody\r\n.\r\n", 1, "end of data")
    x.cmd("DATA", "data after message")
    x.cmd("MAIL FROM:<alice@remote.test>", "mail after message")
    x.cmd("RCPT TO:<%s>" % BOB)
    x.cmd("DATA")
    x.raw(b"Subject: two\r\n\r\n..dot stuffed\r\n.\r\n", 1, "end of dot-stuffed data")
    x.cmd("MAIL FROM:<> BODY=8BITMIME", "null sender 8bitmime")
    x.cmd("RCPT TO:<%s>" % BOB)
    x.cmd("DATA")
    x.raw("Subject: 8bit\r\n\r\nGrüße\r\n.\r\n".encode(), 1, "end of 8bit data")


def sc_bdat_early(x):
    hello(x)
    # Postfix reads a chunk before it answers its BDAT, tern answers at
    # once: the chunk goes with its command.
    x.raw(b"BDAT 10\r\n0123456789", 1, "bdat without mail")
    x.cmd("NOOP", "noop after refused bdat")


def sc_bdat(x):
    hello(x)
    x.cmd("MAIL FROM:<alice@remote.test>")
    x.cmd("RCPT TO:<%s>" % BOB)
    x.cmd("BDAT 0 LAST", "bdat 0 last")
    x.cmd("MAIL FROM:<alice@remote.test>")
    x.cmd("RCPT TO:<%s>" % BOB)
    body = b"Subject: chunked\r\n\r\nfirst "
    x.raw(b"BDAT %d\r\n%s" % (len(body), body), 1, "bdat chunk")
    x.cmd("RCPT TO:<postmaster@example.test>", "rcpt after bdat")
    x.cmd("DATA", "data after bdat")
    x.raw(b"BDAT 6 LAST\r\nend.\r\n", 1, "bdat last chunk")
    x.cmd("MAIL FROM:<alice@remote.test>")
    x.cmd("RCPT TO:<%s>" % BOB)
    x.raw(b"BDAT 6 last\r\nx\r\ny\r\n", 1, "bdat lowercase last")
    x.cmd("MAIL FROM:<alice@remote.test>")
    x.cmd("RCPT TO:<%s>" % BOB)
    x.cmd("BDAT 0", "bdat 0 not last")
    x.cmd("BDAT 0 LAST", "bdat 0 last after empty chunk")


def sc_bdat_bad(x):
    tx(x)
    x.cmd("RCPT TO:<%s>" % BOB)
    x.cmd("BDAT", "bdat no size")
    x.cmd("NOOP", "noop after bdat no size")


def sc_bdat_bad2(x):
    tx(x)
    x.cmd("RCPT TO:<%s>" % BOB)
    x.cmd("BDAT x LAST", "bdat size not a number")
    x.cmd("NOOP", "noop after bad bdat size")


def sc_bdat_bad3(x):
    tx(x)
    x.cmd("RCPT TO:<%s>" % BOB)
    x.raw(b"BDAT 12\r\nSubject: a\r\n", 1, "bdat chunk before a bad one")
    x.raw(b"BDAT 5 MORE\r\nhello", 1, "bdat bad keyword")
    x.cmd("NOOP", "noop after bdat bad keyword")
    x.raw(b"BDAT 4 LAST\r\n\r\nx\n", 1, "bdat last after a bad one")


def sc_bdat_bad4(x):
    tx(x)
    x.cmd("RCPT TO:<%s>" % BOB)
    x.cmd("BDAT -1", "bdat negative size")
    x.cmd("NOOP", "noop after bdat negative size")


def sc_pipeline_data(x):
    hello(x)
    x.raw(b"MAIL FROM:<alice@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
          b"RCPT TO:<nobody@example.test>\r\nDATA\r\n", 4, "transaction in one write")
    x.raw(b"Subject: piped\r\n\r\nx\r\n.\r\nQUIT\r\n", 2, "text and quit in one write")
    x.closed("closed after pipelined quit")


def sc_pipeline_bdat(x):
    body = b"Subject: piped bdat\r\n\r\nx\r\n"
    hello(x)
    x.raw(b"MAIL FROM:<alice@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
          b"BDAT %d LAST\r\n%sMAIL FROM:<>\r\nRCPT TO:<nobody@example.test>\r\nBDAT 3 LAST\r\nabcQUIT\r\n"
          % (len(body), body), 7, "bdat transactions in one write")


# Address and parameter forms past the common ones above: RFC 5321
# §4.1.2's grammar at its edges (every atext special, a ">" or a space
# quoted, an escaped backslash ending a quoted local part, the IPv6
# literal's tag in lower case, its "::" standing for one group), and
# parameters in lower case or after a tab.
MAIL_FROM_FORMS = [
    ("FROM:<alice@remote.test>\tSIZE=10", "tab before parameter"),
    ("FROM:<alice@remote.test> SIZE=10 BODY=8BITMIME SMTPUTF8", "three parameters"),
    ("FROM:<a!#$%&'*+-/=?^_`{|}~@remote.test>", "every atext special"),
    ("FROM:<\"a>b\"@remote.test>", "quoted greater-than"),
    ("FROM:<\"a b\"@remote.test> SIZE=10", "quoted space then parameter"),
    ("FROM:<\"a\\\\\"@remote.test>", "quoted ends in escaped backslash"),
    ("FROM:<a@b-c.remote.test>", "hyphen in a label"),
    ("FROM:<a@xn--bcher-kva.test>", "a-label domain"),
    ("FROM:<a@1.2.3.4>", "dotted quad without brackets"),
    ("FROM:<a@[IPv6:::ffff:1.2.3.4]>", "ipv4-mapped ipv6 literal"),
    ("FROM:<a@[ipv6:::1]>", "ipv6 tag lower case"),
    ("FROM:<a@[IPv6:1:2:3:4:5:6:7::]>", "ipv6 double colon for one group"),
    ("FROM:<a@remote.test> ret=full envid=abc", "dsn parameters lower case"),
    ("FROM:<a@%s.test>" % ".".join(["b" * 60] * 4), "domain 249"),
]

RCPT_TO_FORMS = [
    ("TO:<%s> " % BOB, "trailing space"),
    ("TO:<@a.test:postmaster>", "routed postmaster without domain"),
    ("TO:<postmaster@EXAMPLE.TEST>", "postmaster domain upper case"),
    ("TO:<\"post master\"@example.test>", "quoted space, unknown user"),
    ("TO:<\"b\\ob\"@example.test>", "quoted pair in a known user"),
    ("TO:<bob@[IPv6:0:0:0:0:0:0:0:1]>", "full ipv6 literal, not ours"),
    ("TO:<bob@[192.0.2.7]>", "ipv4 literal, not ours"),
    ("TO:<%s@example.test>" % ("a" * 64), "local part 64, unknown user"),
    ("TO:<%s> notify=success,delay orcpt=RFC822;bob@example.test" % BOB, "dsn parameters lower case"),
    ("TO:<BOB@example.test>", "local part upper case"),
]


def sc_forms(x):
    hello(x)
    for arg, label in MAIL_FROM_FORMS:
        x.cmd("MAIL " + arg, "mail " + label)
        x.cmd("RSET")
    x.cmd("MAIL FROM:<alice@remote.test>")
    for arg, label in RCPT_TO_FORMS:
        x.cmd("RCPT " + arg, "rcpt " + label)
    x.cmd("QUIT", "quit in a transaction")
    x.closed("closed after quit in a transaction")


def sc_content(x):
    """Content at its edges: an empty message, text lines past RFC 5321
    §4.5.3.1.6's 1000 octets (a limit for senders: both servers take
    them), a line of a dot and a space (no end of data), a BDAT message
    without a final CRLF; and the transaction rules around them: RSET
    after a chunk, DATA after RSET, BDAT after every RCPT failed, DATA
    between chunks."""
    def envelope():
        x.cmd("MAIL FROM:<alice@remote.test>")
        x.cmd("RCPT TO:<%s>" % BOB)
    hello(x)
    envelope()
    x.cmd("DATA")
    x.raw(b".\r\n", 1, "empty message")
    for n in (1200, 20000):
        envelope()
        x.cmd("DATA")
        x.raw(b"Subject: long\r\n\r\n" + b"y" * n + b"\r\n.\r\n", 1, "text line of %d" % n)
    envelope()
    x.cmd("DATA")
    x.raw(b"Subject: dot space\r\n\r\n. \r\n.\r\n", 1, "line of a dot and a space")
    envelope()
    x.cmd("RSET", "rset after rcpt")
    x.cmd("DATA", "data after rset")
    envelope()
    x.raw(b"BDAT 3\r\nabc", 1, "first chunk")
    x.cmd("RSET", "rset after a chunk")
    envelope()
    body = b"Subject: x\r\n\r\nno CRLF"
    x.raw(b"BDAT %d LAST\r\n%s" % (len(body), body), 1, "bdat message without final crlf")
    x.cmd("MAIL FROM:<alice@remote.test>")
    x.cmd("RCPT TO:<nobody@example.test>")
    x.raw(b"BDAT 3 LAST\r\nabc", 1, "bdat after every rcpt failed")
    x.cmd("NOOP", "noop after bdat after failed rcpt")
    x.cmd("RSET")
    envelope()
    x.raw(b"BDAT 3\r\nabc", 1, "chunk before data")
    x.cmd("DATA", "data between chunks")
    x.raw(b"BDAT 5 LAST\r\n\r\nx\r\n", 1, "last chunk after refused data")


# RFC 2920 §3.1: no pipelining before EHLO offered it, and EHLO, DATA,
# VRFY, EXPN and NOOP end a group. Both servers cut a client that does
# not wait (Postfix: smtpd_forbid_unauth_pipelining, its 3.9 default).
def sc_pipeline_ehlo(x):
    x.raw(b"EHLO pipe.test\r\nMAIL FROM:<alice@remote.test>\r\n", 1, "mail behind ehlo")
    x.closed("closed after mail behind ehlo")


def sc_pipeline_helo(x):
    x.cmd("HELO client.remote.test")
    x.raw(b"MAIL FROM:<alice@remote.test>\r\nRCPT TO:<bob@example.test>\r\n", 1,
          "pipelining after helo")
    x.closed("closed after pipelining after helo")


def sc_pipeline_noop(x):
    hello(x)
    x.raw(b"RSET\r\nNOOP\r\n", 2, "noop last in a group")
    x.raw(b"NOOP\r\nRSET\r\n", 1, "rset behind noop")
    x.closed("closed after rset behind noop")


def sc_pipeline_text(x):
    hello(x)
    x.raw(b"MAIL FROM:<alice@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
          b"DATA\r\nSubject: early\r\n\r\nx\r\n.\r\n", 3, "text behind data")
    x.closed("closed after text behind data")


def sc_starttls_early(x):
    # RFC 3207 asks for no EHLO before STARTTLS; Postfix starts TLS. tern
    # said 503 until it did the same.
    x.cmd("STARTTLS", "starttls before ehlo")
    x.cmd("MAIL FROM:<alice@remote.test>", "mail after early tls without ehlo")
    x.cmd("EHLO client.remote.test", "ehlo after early tls")
    x.cmd("MAIL FROM:<alice@remote.test>", "mail after early tls")


def sc_starttls_tx(x):
    tx(x)
    x.cmd("STARTTLS", "starttls in a transaction")


def sc_starttls(x):
    hello(x)
    x.cmd("STARTTLS now", "starttls with argument")
    x.cmd("STARTTLS", "starttls")
    x.cmd("MAIL FROM:<alice@remote.test>", "mail after tls without ehlo")
    x.cmd("EHLO client.remote.test", "ehlo after tls")
    x.cmd("STARTTLS", "starttls twice")
    x.cmd("MAIL FROM:<alice@remote.test>", "mail after tls")
    x.cmd("QUIT", "quit after tls")


def sc_starttls_helo(x):
    x.cmd("HELO client.remote.test", "helo before starttls")
    x.cmd("STARTTLS", "starttls after helo")


SCENARIOS = [sc_helo, sc_mail, sc_forms, sc_content, sc_rcpt, sc_rcpt_utf8, sc_too_many, sc_misc, sc_long, sc_bare,
             sc_data, sc_bdat_early, sc_bdat, sc_bdat_bad, sc_bdat_bad2, sc_bdat_bad3, sc_bdat_bad4,
             sc_pipeline_data, sc_pipeline_bdat, sc_pipeline_ehlo, sc_pipeline_helo,
             sc_pipeline_noop, sc_pipeline_text, sc_starttls_early, sc_starttls_tx, sc_starttls, sc_starttls_helo]

# Reasons shared by several entries of KNOWN.
GRAMMAR = ("RFC 5321 §4.1.2: 'Reverse-path = Path / \"<>\"', 'Path = \"<\" [ A-d-l \":\" ] Mailbox "
           "\">\"', 'Mailbox = Local-part \"@\" ( Domain / address-literal )'; a command outside the "
           "grammar is 501 (§4.2.3 'Syntax error in parameters or arguments'). Postfix takes it "
           "(strict_rfc821_envelopes = no, its default)")
LOCAL_GRAMMAR = ("RFC 5321 §4.1.2: 'Dot-string = Atom *(\".\"  Atom)': no empty atom. Postfix takes it")
DOMAIN_GRAMMAR = ("RFC 5321 §4.1.2: 'sub-domain = Let-dig [Ldh-str]', 'Ldh-str = *( ALPHA / DIGIT / "
                  "\"-\" ) Let-dig': letters, digits and hyphens. Postfix takes an underscore")
TRAILING_DOT = ("RFC 5321 §4.1.2: 'Domain = sub-domain *(\".\" sub-domain)': no empty label after "
                "a final dot (the root's dot belongs to DNS master files, not to mail addresses). "
                "Postfix takes it")
TOO_LONG = ("RFC 5321 §4.5.3.1.1 'The maximum total length of a user name or other local-part is 64 "
            "octets', §4.5.3.1.3 'The maximum total length of a reverse-path or forward-path is 256 "
            "octets (including the punctuation and element separators)'; §4.5.3.1 gives '501 Path "
            "too long' as the reply for exceeding them (paraphrased). Postfix has no such limit")
RECOGNISED = ("RFC 5321 §4.1.1.11 (paraphrased): 555 is for a parameter the server does not recognize "
              "or cannot implement; this one is recognized and its value is malformed (RFC 1870 "
              "'size-param ::= \"SIZE=\" size-value', RFC 6152 'body-value ::= \"7BIT\" / "
              "\"8BITMIME\"', RFC 6531 'SMTPUTF8' takes no value), which is §4.2.3's 501. "
              "Postfix says 555 'Unsupported option'")
TWICE = ("tern's reading: no extension gives a meaning to a parameter given twice (RFC 5321 "
         "§4.1.1.11 leaves parameters to their extensions), so the command is ambiguous and "
         "refused as a syntax error; Postfix keeps the last")
UTF8 = ("RFC 6531 (paraphrased): a non-ASCII address in a transaction without the SMTPUTF8 "
        "parameter is refused with 553 and X.6.7, 'Non-ASCII addresses not permitted for that "
        "sender/recipient' (RFC 5248's registry); Postfix takes it")
BDAT_UNFRAMED = ("RFC 3030 §2 sends a chunk right after its BDAT line, so with no size readable "
                 "nothing says where commands start again. tern answers 501 and then, before "
                 "closing, 421 (RFC 5321 §3.8: a server closes on its own only after a 421); "
                 "Postfix answers 521 and closes (RFC 7504's 521 is for a host that takes no mail)")
BDAT_ZERO = ("RFC 3030's grammar 'chunk-size ::= 1*DIGIT' allows 0 without LAST; Postfix refuses "
             "it (551 5.7.1 'Null BDAT request') and then discards the transaction's chunks up to "
             "LAST (551 5.0.0)")

KNOWN = {
    "mail no brackets": (["501 5.1.7"], GRAMMAR),
    "mail no domain": (["501 5.1.7"], GRAMMAR + "; it appends its own domain"),
    "mail postmaster no domain": (["501 5.1.7"], "RFC 5321 §4.1.1.3 allows the domain-less "
                                  "<Postmaster> in RCPT only ('Rcpt = \"RCPT TO:\" ( \"<Postmaster@\" "
                                  "Domain \">\" / \"<Postmaster>\" / Forward-path ) ...'); in MAIL: " + GRAMMAR),
    "mail domain underscore": (["501 5.1.7"], DOMAIN_GRAMMAR),
    "mail source route hop without @": (["501 5.1.7"], "RFC 5321 §4.1.2: 'A-d-l = At-domain *( \",\" "
                                        "At-domain )', 'At-domain = \"@\" Domain': each hop has its \"@\". "
                                        "Postfix takes it"),
    "mail source route without mailbox": (["501 5.1.7"], GRAMMAR),
    "mail quoted then dot-string": (["501 5.1.7"], "RFC 5321 §4.1.2: 'Local-part = Dot-string / "
                                    "Quoted-string': one or the other, not RFC 5322's obsolete mix of "
                                    "words. Postfix takes it"),
    "mail parameter without keyword": (["501 5.5.4"], "RFC 5321 §4.1.2: 'esmtp-param = esmtp-keyword "
                                       "[\"=\" esmtp-value]', 'esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / "
                                       "DIGIT / \"-\")': '=x' has no keyword, a syntax error (501, §4.2.3), "
                                       "not a parameter to recognize (555). Postfix says 555"),
    "rcpt dsn notify repeated": (["501 5.5.4"], "RFC 3461 §4.1 (paraphrased): NOTIFY is NEVER or a "
                                 "list of SUCCESS, FAILURE and DELAY; tern refuses a keyword given twice "
                                 "as it refuses a parameter given twice. Postfix takes it"),
    "rcpt dsn orcpt control": (["501 5.5.4"], "RFC 3461 §4.2 (paraphrased): the original recipient "
                               "address before xtext encoding is printable US-ASCII (graphic "
                               "characters and space), as ENVID's (§4.4); '+0D' decodes to a CR. "
                               "Postfix takes it"),
    "rcpt dsn orcpt empty address": (["501 5.5.4"], "RFC 3461 §4.2: the xtext 'MUST contain an encoded "
                                     "\"original-recipient-address\"' of its type, and an empty one is "
                                     "no rfc822 address. Postfix takes it"),
    "mail domain trailing dot": (["501 5.1.7"], TRAILING_DOT),
    "rcpt routed postmaster without domain": (["501 5.1.3"], "RFC 5321 §4.1.1.3: 'Rcpt = \"RCPT TO:\" "
                                              "( \"<Postmaster@\" Domain \">\" / \"<Postmaster>\" / "
                                              "Forward-path ) ...': the domain-less form has no source "
                                              "route, and a Forward-path's Mailbox has a domain. Postfix "
                                              "takes it"),
    "rcpt domain trailing dot": (["501 5.1.3"], TRAILING_DOT),
    "rcpt backslash outside quotes": (["501 5.1.3"], "RFC 5321 §4.1.2: a backslash is a "
                                      "quoted-pair only inside a Quoted-string and is not atext "
                                      "('Atom = 1*atext'). " + LOCAL_GRAMMAR[-16:]),
    "mail local part double dot": (["501 5.1.7"], LOCAL_GRAMMAR),
    "mail local part leading dot": (["501 5.1.7"], LOCAL_GRAMMAR),
    "mail local part 65": (["501 5.1.7"], TOO_LONG),
    "mail path 257": (["501 5.1.7"], TOO_LONG),
    "rcpt local part 65": (["501 5.1.3"], TOO_LONG + "; it answers 550 5.1.1 (no such user)"),
    "rcpt no brackets": (["501 5.1.3"], GRAMMAR.replace("Reverse-path = Path / \"<>\"", "Forward-path = Path")),
    "mail size no value": (["501 5.5.4"], RECOGNISED),
    "mail body bad": (["501 5.5.4"], RECOGNISED),
    "mail smtputf8 with value": (["501 5.5.4"], RECOGNISED),
    "mail size 23 digits": (["501 5.5.4"], "RFC 1870: 'size-value ::= 1*20DIGIT'; Postfix takes 23 digits"),
    "mail size twice": (["501 5.5.4"], TWICE),
    "mail body twice": (["501 5.5.4"], TWICE),
    "mail utf8 local without smtputf8": (["553 5.6.7"], UTF8),
    "rcpt utf8 without smtputf8": (["553 5.6.7"], UTF8 + " (550: it has no such user)"),
    "mail dsn envid too long": (["501 5.5.4"], "RFC 3461 §4.4 (paraphrased): the ENVID value may be "
                                "at most 100 characters; Postfix takes 101"),
    "rcpt dsn orcpt 502": (["501 5.5.4"], "RFC 3461 §4.2 (paraphrased): the ORCPT value may be "
                           "at most 500 characters; Postfix takes 502"),
    "mail long line": (["501 5.5.4"], "the same ENVID past 100 characters (RFC 3461 §4.4), "
                       "in a 3000-octet line both servers read whole"),
    "mail no space before parameter": (["501 5.5.4"], "both 501; the enhanced code is the server's "
                                       "pick: tern X.5.4 'Invalid command arguments' (RFC 3463), "
                                       "Postfix X.1.7 'Bad sender mailbox address syntax'"),
    "expn": (["502 5.5.1"], "RFC 5321 §4.2.4 (paraphrased): 502 for a command recognized but not "
             "implemented (§7.3 lets a site turn EXPN off); Postfix says 500, not recognized"),
    "expn no argument": (["501 5.5.4"], "RFC 5321 §4.1.1.7 'expn = \"EXPN\" SP String CRLF': a syntax "
                         "error; Postfix does not know EXPN (500)"),
    "help": (["214 2.0.0"], "RFC 5321 §4.1.1.8 HELP, answered 214; Postfix does not implement it "
             "(§4.5.1's minimum implementation does not include HELP)"),
    "help mail": (["214 2.0.0"], "as 'help': 'help = \"HELP\" [ SP String ] CRLF'"),
    "etrn": (["500 5.5.2"], "ETRN is RFC 1985's extension, for a server that keeps mail for others; "
             "tern does not offer it, Postfix does"),
    "auth no argument": (["501 5.5.4"], "no AUTH on port 25 on either; tern answers the missing "
                         "mechanism (RFC 4954 §4: 'AUTH mechanism [initial-response]') first, "
                         "Postfix that AUTH is off (503)"),
    "noop leading space": (["500 5.5.2"], "RFC 5321 §4.1.1: 'SMTP commands are character strings "
                           "terminated by <CRLF>. The commands themselves are alphabetic characters "
                           "terminated by <SP> if parameters follow and <CRLF> otherwise', and every "
                           "command's grammar starts with its verb (§4.1.1.9 'noop = \"NOOP\" [ SP "
                           "String ] CRLF'): a line that starts with a space is no command, "
                           "§4.2.4's 500 'Syntax error, command unrecognized'. Postfix skips the "
                           "white space first"),
    "noop leading tab": (["500 5.5.2"], "as 'noop leading space'"),
    "quit with argument": (["501 5.5.4"], "RFC 5321 §4.1.1.10: 'quit = \"QUIT\" CRLF'; Postfix "
                           "ignores the argument and says 221"),
    "noop 5006": (["500 5.5.2"], "RFC 5321 §4.5.3.1.4 'The maximum total length of a command line "
                  "including the command word and the <CRLF> is 512 octets'; tern takes up to 4096 "
                  "(extension parameters), and past that '500 Line too long' (§4.5.3.1). Postfix "
                  "reads any length"),
    "bare lf noop": (["500 5.5.2"], "RFC 5321 §2.3.8: 'SMTP client implementations MUST NOT "
                     "transmit these characters except when they are intended as line terminators "
                     "and then MUST ... transmit them only as a <CRLF> sequence'; tern refuses a "
                     "command ended by a bare LF (SMTP smuggling). Postfix 3.7 takes it "
                     "(smtpd_forbid_bare_newline = no)"),
    "bare lf mail": (["500 5.5.2"], "as 'bare lf noop'"),
    "bdat bare lf": (["554 5.6.0"], "as 'bare lf noop', for content: tern refuses a message with a "
                     "bare CR or LF or a NUL whether DATA or BDAT carried it. Postfix 3.7 takes it "
                     "(smtpd_forbid_bare_newline = no)"),
    "bdat 0 not last": (["250 2.0.0"], BDAT_ZERO),
    "bdat 0 last after empty chunk": (["250 2.0.0"], BDAT_ZERO),
    "bdat no size": (["501 5.5.4"], BDAT_UNFRAMED),
    "noop after bdat no size": (["421 4.5.0"], BDAT_UNFRAMED),
    "bdat size not a number": (["501 5.5.4"], BDAT_UNFRAMED),
    "noop after bad bdat size": (["421 4.5.0"], BDAT_UNFRAMED),
    "bdat negative size": (["501 5.5.4"], BDAT_UNFRAMED),
    "noop after bdat negative size": (["421 4.5.0"], BDAT_UNFRAMED),
    "bdat bad keyword": (["501 5.5.4"], "'BDAT 5 MORE' is outside RFC 3030's 'bdat-cmd ::= \"BDAT\" "
                         "SP chunk-size [ SP end-marker ] CR LF'; its size is known, so tern "
                         "answers 501, skips the 5 octets and stays; Postfix says 521 and closes"),
    "noop after bdat bad keyword": (["250 2.0.0"], "as 'bdat bad keyword': tern is still in step"),
    "bdat last after a bad one": (["503 5.5.1"], "RFC 3030 §2 (paraphrased): after a 4xx or 5xx to a "
                                  "BDAT the transaction has failed; tern refuses to deliver it "
                                  "without the refused chunk (Postfix has closed)"),
    "ehlo bad literal": (["501 5.5.4"], "RFC 5321 §4.1.3 gives address literals a syntax; "
                         "tern refuses one that breaks it (\"[999.1.1.1]\"), Postfix takes any "
                         "HELO name unless reject_invalid_helo_hostname is set"),
    "starttls in a transaction": (["503 5.5.1"], "RFC 3207 §4.2 resets the session after the "
                                  "handshake; tern does not drop an open transaction for it and says "
                                  "503 (bad sequence, RSET first), Postfix drops it and starts TLS"),
}


def available():
    return os.path.exists("/usr/sbin/postfix") and os.geteuid() == 0


def test_smtp_matches_postfix():
    if not available():
        return "skip"
    both = sides()
    for sc in SCENARIOS:
        run(sc, both)
    check(both, KNOWN)


def test_smtp_quoted_local_part_is_the_mailbox():
    """<"bob"@example.test> is bob's mailbox (RFC 5322 §3.2.4: quoted-string
    is identical to atom, semantically): the message is in bob's INBOX and
    its envelope sender is kept unquoted too."""
    if not available():
        return "skip"
    sides()
    s = _pair["s"]
    before = len(s.messages(BOB))
    r = Raw(s.smtp_port)
    r.cmd("EHLO quoted.test")
    assert r.cmd('MAIL FROM:<"al\\ice"@remote.test>')[0] == 250
    assert r.cmd('RCPT TO:<"bob"@example.test>')[0] == 250
    assert r.cmd("DATA")[0] == 354
    code, lines = r.cmd("Subject: quoted\r\n\r\nx\r\n.")
    assert code == 250, lines
    r.close()
    msgs = s.messages(BOB)
    assert len(msgs) == before + 1, msgs
    raw = s.raw(BOB, msgs[-1][0])
    assert raw.startswith(b"Return-Path: <alice@remote.test>\r\n"), raw[:200]
