"""Differential test of IMAP extensions against a private Debian Dovecot
started here (dovecot_peer): CATENATE (RFC 4469), URLAUTH (RFC 4467),
ESORT and CONTEXT=SEARCH/SORT (RFC 5267, PARTIAL of RFC 9394) and NOTIFY
(RFC 5465). The same scripted sessions (one or two connections of one
account, raw sockets) run against tern and against Dovecot; each step's
responses are compared after normalising what legitimately differs:
the tag, the human-readable text after a status or response code,
UIDVALIDITY values, URLAUTH tokens, capability lists, quoted string or
literal or atom where the grammar leaves it to the server, the order of
flags in a list and of ESEARCH return data, and Dovecot's untagged
"* NO" warnings (URLFETCH explains each NIL so). Setup steps (LOGIN,
CREATE, SELECT, the APPENDs that fill a mailbox) are checked for OK on
both sides, not compared.

Every difference that remains is listed per extension (KNOWN_*) with
tern's exact answer and the RFC text that allows it or that Dovecot does
not follow (quoted where the text is grammar or was at hand, otherwise
marked "paraphrased"); any other difference, another answer from tern,
or a listed one that went away, fails the test. Differences where tern
was wrong were fixed instead (each failed here on the old build):
RESETKEY of a mailbox without [URLMECH INTERNAL], a 4 GB CATENATE TEXT
literal answered BAD [TOOBIG] instead of NO [TOOBIG], and no
"* n RECENT" for the session's own APPEND once another session had
claimed messages in between.

Events another session causes (NOTIFY, CONTEXT updates) are collected by
waiting until the watching connection has been quiet for a while
(Dovecot learns of changes through inotify, a little later than tern),
then by a NOOP; their lines are compared as a sorted list, since the
RFCs order events of different mailboxes in no way."""
import atexit
import os
import re
import socket
import time

import diffcheck
import dovecot_peer
from test_imap import BOB, BOB_PW, Raw, raw_response, srv
from test_imap_compliance import cmd_rest
from test_imap_fetch_diff import Plain

URL_HOST = "mx.example.test"
USER_URL = BOB.replace("@", "%40")
# Dovecot offers URLAUTH only with imap_urlauth_host; URLs name this host
# (port 143 by default). tern takes any host in a URL of its own user.
# Dovecot's maildir namespace uses "." between names by default; tern "/".
# URLAUTH also needs somewhere to keep the mailbox keys (attributes); the
# quota plugin's largest message gives Dovecot tern's APPENDLIMIT (50 MiB).
DOVECOT_EXTRA = """\
imap_urlauth_host = %s
mail_attribute_dict = file:%%h/attributes
namespace inbox {
  inbox = yes
  separator = /
}
mail_plugins = quota
plugin {
  quota = maildir:User quota
  quota_max_mail_size = 50M
}
""" % URL_HOST
# Mailboxes tern makes for every account; made on Dovecot too, so that
# LIST and NOTIFY's (personal) see the same set.
SPECIAL = ("Archive", "Drafts", "Junk", "Sent", "Trash")

MSG = [("From: alice@remote.test\r\nTo: bob@example.test\r\nSubject: %s\r\n"
        "Date: Mon, 1 Jan 2024 0%d:00:00 +0000\r\nMessage-ID: <m%d@remote.test>\r\n\r\n"
        "Body %d line one.\r\nline two.\r\n" % (subj, i, i, i)).encode()
       for i, subj in enumerate(("delta", "alpha", "charlie", "bravo", "echo"))]


class Side:
    """One server under test: its connections and the values a script
    saves from its answers (a URL GENURLAUTH made, a mailbox's
    UIDVALIDITY), which later commands name as <<name>>."""

    def __init__(self, name, connect):
        self.name, self.connect = name, connect
        self.conns, self.vars = [], {}

    def conn(self, i):
        while len(self.conns) <= i:
            self.conns.append(self.connect())
        return self.conns[i]

    def expand(self, text):
        return re.sub(r"<<(\w+)>>", lambda m: self.vars[m.group(1)], text)


def send_command(side, c, tag, parts):
    """parts: a str, or a list of str and (bytes, sync) literals; a
    synchronizing literal waits for the server's "+" (and a refusal in
    its place ends the command). Returns [(text, literals)]."""
    if isinstance(parts, str):
        parts = [parts]
    buf = ("%s " % tag).encode()
    for p in parts:
        if isinstance(p, str):
            buf += side.expand(p).encode()
            continue
        data, sync = p
        if isinstance(data, int):  # announced, never sent: must be refused
            c.send(buf + b"{%d}\r\n" % data)
            text, lits = raw_response(c)
            if text.startswith(b"+"):
                c.close()  # the server waits for the octets: this connection is spent
                side.conns[side.conns.index(c)] = side.connect()
                return [(text, lits)]
            return [(text, lits)] + (cmd_rest(c, tag) if not text.startswith(tag.encode()) else [])
        if not sync:
            buf += b"{%d+}\r\n%s" % (len(data), data)
            continue
        c.send(buf + b"{%d}\r\n" % len(data))
        buf = b""
        text, lits = raw_response(c)
        if not text.startswith(b"+"):
            return [(text, lits)] + (cmd_rest(c, tag) if not text.startswith(tag.encode()) else [])
        buf = data
    c.send(buf + b"\r\n")
    return cmd_rest(c, tag)


def drain(c, quiet=1.2, limit=8.0):
    """Responses that arrive unasked until c has been quiet for `quiet`
    seconds (at most `limit` in all)."""
    out = []
    end = time.time() + limit
    c.sock.settimeout(quiet)
    try:
        while time.time() < end:
            try:
                out.append(raw_response(c))
            except (socket.timeout, TimeoutError):
                break
    finally:
        c.sock.settimeout(10)
    return out


def quote(data):
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\r\n", b"\\r\\n") + b'"'


def normal(text, lits):
    """One response as a comparable string."""
    for lit in lits:  # literal or quoted string: the server's choice
        text = text.replace(b"{}", quote(lit), 1)
    s = text.decode("utf-8", "replace")
    s = re.sub(r'^[^ *+]\S* ', "T ", s)  # the tag
    # The text after a status and its response code is for humans.
    m = re.match(r'^(T|\*) (OK|NO|BAD|BYE|PREAUTH)( \[[^\]]*\])?', s)
    if m:
        s = m.group(0)
    # CREATE's [MAILBOXID (...)] (RFC 8474 §4.1): Dovecot 2.3 has no OBJECTID.
    s = re.sub(r"^T OK \[MAILBOXID \([^()]*\)\]$", "T OK", s)
    if s.startswith("+"):
        s = "+"
    s = re.sub(r"\[CAPABILITY [^\]]*\]", "[CAPABILITY]", s)
    if s.startswith("* CAPABILITY"):
        s = "* CAPABILITY"
    s = re.sub(r"(?i)(UIDVALIDITY[ =]|APPENDUID |COPYUID )\d+", r"\1V", s)
    s = re.sub(r"(?i)(:internal:)[0-9a-f]+", r"\1TOKEN", s)
    # URLFETCH's URL is an astring: quoted or atom, the server's choice.
    s = re.sub(r'^(\* URLFETCH )"([^" ]*)"', r"\1\2", s)
    s = re.sub(r"(?i)(HIGHESTMODSEQ |MODSEQ \()\d+", r"\1M", s)
    # ESEARCH return data come in any order (RFC 4731's formal syntax: "esearch-response
    # = "ESEARCH" [search-correlator] [SP "UID"] *(SP search-return-data)").
    m = re.match(r'(\* ESEARCH(?: \(TAG "[^"]*"\))?(?: UID)?)(.*)$', s)
    if m:
        items = re.findall(r' (\S+) (\([^)]*\)|\S+)', m.group(2))
        s = m.group(1) + "".join(" %s %s" % i for i in sorted(items))
    # The order of flags in a list is the server's (RFC 9051 flag-list).
    s = re.sub(r"FLAGS \(([^()]*)\)", lambda m: "FLAGS (%s)" % " ".join(sorted(m.group(1).split())), s)
    return s


class Run:
    """Runs steps on both servers and keeps each compared step's pair."""

    def __init__(self, sides, scenario, norm=None):
        """norm(text, literals, side): one response as a comparable
        string, this module's normal() unless given."""
        self.sides, self.scenario = sides, scenario
        self.steps, self.n = [], 0
        self.norm = norm or (lambda text, lits, side: normal(text, lits))

    def cmd(self, conn, parts, label=None, compare=True, ok=False, save=None):
        """One command on connection `conn` of both servers. save=(name,
        regex): the regex's first group, taken from the answer, becomes
        <<name>> for that server's later commands."""
        self.n += 1
        out = []
        for side in self.sides:
            c = side.conn(conn)
            got = send_command(side, c, "t%d" % self.n, parts)
            if ok:
                assert re.match(rb"t\d+ OK", got[-1][0]), (side.name, parts, got)
            if save:
                blob = b"\n".join(t for t, _ in got).decode("utf-8", "replace")
                m = re.search(save[1], blob)
                assert m, (side.name, save, blob)
                side.vars[save[0]] = m.group(1)
            if os.environ.get("TERN_DIFF_RAW"):
                print(side.name, got)
            out.append([x for x in (self.norm(t, lits, side) for t, lits in got) if x != "* NO"])
        if compare:
            self.steps.append((label or (parts if isinstance(parts, str) else
                                         "".join(p if isinstance(p, str) else "{lit}" for p in parts)),
                               out[0], out[1]))
        return out

    def events(self, conn, label):
        """What connection `conn` was told unasked, then by a NOOP,
        sorted (see the module's comment)."""
        self.n += 1
        out = []
        for side in self.sides:
            c = side.conn(conn)
            got = drain(c)
            c.send("t%d NOOP\r\n" % self.n)
            got += cmd_rest(c, "t%d" % self.n)
            out.append(sorted(self.norm(t, lits, side) for t, lits in got))
        self.steps.append((label, out[0], out[1]))

    def raw(self, conn, data, until=None, label=None):
        """Sends bytes as they are (IDLE, DONE); reads until a line
        matching `until` (a regex) or, without one, until quiet."""
        self.n += 1
        out = []
        for side in self.sides:
            c = side.conn(conn)
            c.send(side.expand(data).encode())
            got = []
            if until:
                while True:
                    t, lits = raw_response(c)
                    got.append((t, lits))
                    if re.match(until.encode(), t):
                        break
            else:
                got = drain(c)
            out.append([self.norm(t, lits, side) for t, lits in got])
        if label:
            self.steps.append((label, out[0], out[1]))
        return out

    def fill(self, mailbox, msgs=MSG):
        for m in msgs:
            self.cmd(0, ["APPEND %s " % mailbox, (m, False)], compare=False, ok=True)


_pair = {}


def sides():
    """(tern, Dovecot): one server of each per module, bob on both."""
    if not _pair:
        s = srv()
        s.__enter__()
        atexit.register(s.cleanup)
        d = dovecot_peer.DovecotPeer([(BOB, BOB_PW)], extra=DOVECOT_EXTRA)
        atexit.register(d.stop)

        def tern():
            r = Raw(s)
            r.login()
            return r

        def dovecot():
            c = Plain(d.port)
            c.send('l LOGIN "%s" "%s"\r\n' % (BOB, BOB_PW))
            out = cmd_rest(c, "l")
            assert out[-1][0].startswith(b"l OK"), out
            return c

        _pair.update(t=Side("tern", tern), d=Side("dovecot", dovecot), dv=d)
        setup = Run((_pair["t"], _pair["d"]), "setup")
        listed = setup.cmd(0, "LIST \"\" *", compare=False)
        for name in SPECIAL:
            if not any('"/" %s' % name in x for x in listed[1]):
                send_command(_pair["d"], _pair["d"].conn(0), "c", "CREATE %s" % name)
    for side in (_pair["t"], _pair["d"]):  # each test its own connections
        for c in side.conns:
            c.close()
        side.conns, side.vars = [], {}
    return _pair["t"], _pair["d"]


def check(run, known):
    """diffcheck.verdict() over the run's steps (against Dovecot)."""
    diffcheck.verdict(run.steps, known)


def available():
    return dovecot_peer.available()


# ---- CATENATE (RFC 4469) ----------------------------------------------

KNOWN_CATENATE = {
    "toobig literal": (
        ["T NO [TOOBIG]"],
        "RFC 4469 §5 defines the TOOBIG response code for a CATENATE message the server will "
        "not take, and RFC 7889 has the limit told before the upload; tern refuses the 4 GB "
        "TEXT literal before its '+' (it answered BAD [TOOBIG] from the command parser "
        "before this test), Dovecot sends '+' and would read it all"),
    "toobig plain append": (
        ["T NO [TOOBIG]"],
        "RFC 4469 §5 (TOOBIG) and RFC 5530 §3 ('TOOBIG ... The server cannot ... because "
        "the message is too large', paraphrased); Dovecot's quota plugin answers [LIMIT]"),
    "badurl missing section": (
        ["T NO [BADURL /cat/;UID=1/;SECTION=4]"],
        "RFC 4469 answers a URL that names no data on the server with NO [BADURL url] "
        "(paraphrased); part 4 of a one-part message is no data. Dovecot appends the TEXT "
        "part alone"),
}


def test_imap_catenate_matches_dovecot():
    if not available():
        return "skip"
    r = Run(sides(), "catenate")
    for mb in ("cat", "cat2", "cat3"):
        r.cmd(0, "CREATE %s" % mb, compare=False, ok=True)
    r.fill("cat")
    r.cmd(0, "STATUS cat (UIDVALIDITY)", compare=False, ok=True, save=("uv", r"UIDVALIDITY (\d+)"))
    r.cmd(0, "SELECT cat2", compare=False, ok=True)
    hdr = b"From: bob@example.test\r\nSubject: built\r\n\r\n"
    # TEXT and URL parts, literal+ and a synchronizing literal.
    r.cmd(0, ["APPEND cat2 CATENATE (TEXT ", (hdr, False), ' URL "/cat/;UID=1/;SECTION=TEXT" TEXT ',
              (b"-- \r\nsig\r\n", True), ")"], label="text url text")
    # An absolute URL, one with the mailbox's UIDVALIDITY, a section, a partial.
    r.cmd(0, ['APPEND cat2 (\\Seen) CATENATE (URL "imap://%s@%s/cat/;UID=2" TEXT ' % (USER_URL, URL_HOST),
              (b"\r\nmore\r\n", False), ")"], label="absolute url")
    r.cmd(0, ['APPEND cat2 CATENATE (URL "/cat;UIDVALIDITY=<<uv>>/;UID=3/;SECTION=HEADER" '
              'URL "/cat/;UID=3/;SECTION=TEXT/;PARTIAL=5.10")'], label="uidvalidity section partial")
    r.cmd(0, ['APPEND cat2 CATENATE (URL "/cat/;UID=4/;SECTION=HEADER.FIELDS%20(SUBJECT)" TEXT ',
              (b"x\r\n", False), ")"], label="header.fields")
    r.cmd(0, 'APPEND cat2 CATENATE (URL "/cat/;UID=1/;SECTION=1")', label="section 1 of a plain message")
    # Bad URLs: NO [BADURL url] (RFC 4469; the url a bare imapurl, its
    # errata 4046).
    for label, url in (("missing message", "/cat/;UID=99"),
                       ("missing mailbox", "/nosuch/;UID=1"),
                       ("stale uidvalidity", "/cat;UIDVALIDITY=1/;UID=1"),
                       ("syntax", "/cat/;UIDX=1"),
                       ("not imap", "http://example.test/"),
                       ("other server", "imap://other.test/cat/;UID=1"),
                       ("partial past the end", "/cat/;UID=1/;PARTIAL=5000.10")):
        r.cmd(0, ['APPEND cat2 CATENATE (TEXT ', (b"a\r\n", False), ' URL "%s")' % url], label="badurl " + label)
    # A bad URL after a synchronizing literal: the whole APPEND fails.
    r.cmd(0, ['APPEND cat2 CATENATE (TEXT ', (b"a\r\n", True), ' URL "/cat/;UID=77")'], label="badurl after sync")
    # TOOBIG: a TEXT part larger than either server keeps (RFC 4469's
    # TOOBIG response code).
    r.cmd(0, ['APPEND cat2 CATENATE (TEXT ', (4000000000, True)], label="toobig literal")
    r.cmd(0, "SELECT cat2", compare=False, ok=True)
    r.cmd(0, 'APPEND cat2 CATENATE ()', label="empty catenate")
    r.cmd(0, 'APPEND cat2 CATENATE (TEXT "quoted")', label="quoted text part")
    r.cmd(0, "NOOP", compare=False)  # Dovecot's "* BAD" for the rest of that line
    # MULTIAPPEND (RFC 3502) with CATENATE: all or nothing.
    r.cmd(0, ['APPEND cat2 CATENATE (URL "/cat/;UID=5") (\\Flagged) CATENATE (TEXT ', (hdr, False),
              ' URL "/cat/;UID=5/;SECTION=TEXT") ', (b"Subject: plain\r\n\r\nx\r\n", False)],
          label="multiappend")
    r.cmd(0, ['APPEND cat2 CATENATE (URL "/cat/;UID=5") CATENATE (URL "/cat/;UID=55")'],
          label="multiappend one bad")
    r.cmd(0, "NOOP", label="noop after appends")
    r.cmd(0, "UID FETCH 1:* (FLAGS RFC822.SIZE BODY.PEEK[])", label="what was built")
    # Appending to the selected mailbox from a URL into itself.
    r.cmd(0, 'APPEND cat2 CATENATE (URL "/cat2/;UID=1")', label="self url")
    r.cmd(0, "UID FETCH 10:* (BODY.PEEK[])", label="self built")
    # A URL starting at ";UID=" is relative to the selected mailbox (RFC
    # 5092 §7.1: relative IMAP URLs resolve as RFC 3986 §5 says, with
    # ";UID=" part of the path; the selected mailbox's URL is the base).
    r.cmd(0, 'APPEND cat2 CATENATE (URL ";UID=1/;SECTION=TEXT")', label="relative to selected")
    r.cmd(0, "UID FETCH 11:* (BODY.PEEK[])", label="relative built")
    # Cases the servers answer apart: into cat3, which nothing reads.
    r.cmd(0, ['APPEND cat3 CATENATE (TEXT ', (b"a\r\n", False), ' URL "/cat/;UID=1/;SECTION=4")'],
          label="badurl missing section")
    r.cmd(0, ['APPEND cat3 ', (60 * 1024 * 1024, True)], label="toobig plain append")
    check(r, KNOWN_CATENATE)


# ---- URLAUTH (RFC 4467) -----------------------------------------------

KNOWN_URLAUTH = {
    "genurlauth expired": (
        ['* GENURLAUTH "imap://bob%40example.test@mx.example.test/ua;UIDVALIDITY=V/;UID=1;'
         'EXPIRE=2001-01-01T00:00:00Z;URLAUTH=user+bob%40example.test:internal:TOKEN"', "T OK"],
        "RFC 4467 makes a URL past its EXPIRE invalid for URLFETCH (tern answers NIL for it) "
        "and gives GENURLAUTH no rule against signing one; Dovecot refuses it with BAD"),
    "genurlauth no urlauth": (
        ["T NO [BADURL imap://bob%40example.test@mx.example.test/ua;UIDVALIDITY=V/;UID=1]"],
        "the command is well formed (RFC 4467: genurlauth = \"GENURLAUTH\" 1*(SP url SP "
        "mechanism)); a URL that cannot be signed is NO [BADURL] as RFC 4469 §5 defines the "
        "code, not BAD (RFC 9051 §7.1.3: BAD is a protocol-level error). Dovecot answers BAD"),
    "genurlauth other user": (
        ["T NO [BADURL imap://carol%40example.test@mx.example.test/INBOX/;UID=1;URLAUTH=anonymous]"],
        "as 'genurlauth no urlauth': another user's URL cannot be signed; NO [BADURL], Dovecot BAD"),
    "resetkey missing mailbox": (
        ["T NO [NONEXISTENT]"],
        "RFC 5530 §3: 'NONEXISTENT: The operation attempts to ... a mailbox that does not "
        "exist' (paraphrased); Dovecot gives the NO no code"),
    "resetkey unknown mechanism": (
        ["T BAD"],
        "RFC 4467 gives no status for an unknown mechanism; tern answers it as its GENURLAUTH "
        "does (both servers BAD there), Dovecot's RESETKEY says NO"),
}


def test_imap_urlauth_matches_dovecot():
    if not available():
        return "skip"
    r = Run(sides(), "urlauth")
    r.cmd(0, "CREATE ua", compare=False, ok=True)
    r.fill("ua")
    r.cmd(0, "STATUS ua (UIDVALIDITY)", compare=False, ok=True, save=("uv", r"UIDVALIDITY (\d+)"))
    base = "imap://%s@%s/ua;UIDVALIDITY=<<uv>>/;UID=" % (USER_URL, URL_HOST)
    gen = r'\* GENURLAUTH "?([^" ]+)'
    r.cmd(0, 'GENURLAUTH "%s1;URLAUTH=user+%s" INTERNAL' % (base, USER_URL), label="genurlauth user+",
          save=("user", gen))
    r.cmd(0, 'GENURLAUTH "%s2/;SECTION=TEXT;URLAUTH=submit+%s" INTERNAL' % (base, USER_URL),
          label="genurlauth submit+", save=("submit", gen))
    r.cmd(0, 'GENURLAUTH "%s3;URLAUTH=authuser" INTERNAL "%s4/;PARTIAL=0.10;URLAUTH=anonymous" INTERNAL'
          % (base, base), label="genurlauth two", save=("authuser", gen))
    r.cmd(0, 'GENURLAUTH "%s1;EXPIRE=2001-01-01T00:00:00Z;URLAUTH=user+%s" INTERNAL' % (base, USER_URL),
          label="genurlauth expired", save=("expired", r'\* GENURLAUTH "?([^" ]+)|(t\d+ (?:NO|BAD))'))
    r.cmd(0, 'GENURLAUTH "%s1;EXPIRE=2099-01-01T00:00:00Z;URLAUTH=user+%s" INTERNAL' % (base, USER_URL),
          label="genurlauth future", save=("future", gen))
    for side in r.sides:  # a token with its last digit changed
        u = side.vars["user"]
        side.vars["wrong"] = u[:-1] + ("0" if u[-1] != "0" else "1")
    r.cmd(0, "URLFETCH <<user>>", label="urlfetch user+")
    r.cmd(0, "URLFETCH <<authuser>> <<submit>>", label="urlfetch authuser and submit+")
    r.cmd(0, "URLFETCH <<future>>", label="urlfetch future expire")
    r.cmd(0, "URLFETCH <<wrong>>", label="urlfetch wrong token")
    r.cmd(0, 'URLFETCH "%s1;URLAUTH=user+%s"' % (base, USER_URL), label="urlfetch without token")
    r.cmd(0, 'URLFETCH "%s99;URLAUTH=user+%s:INTERNAL:00"' % (base, USER_URL), label="urlfetch missing uid")
    # Errors of GENURLAUTH: an unknown mechanism, a URL without URLAUTH,
    # another user's URL.
    r.cmd(0, 'GENURLAUTH "%s1;URLAUTH=user+%s" XSHA' % (base, USER_URL), label="genurlauth mechanism")
    r.cmd(0, 'GENURLAUTH "%s1" INTERNAL' % base, label="genurlauth no urlauth")
    r.cmd(0, 'GENURLAUTH "imap://carol%%40example.test@%s/INBOX/;UID=1;URLAUTH=anonymous" INTERNAL'
          % URL_HOST, label="genurlauth other user")
    # URLs without URLAUTH, the mailbox selected (both servers: NIL).
    r.cmd(0, "SELECT ua", compare=False, ok=True)
    r.cmd(0, 'URLFETCH "%s1"' % base, label="urlfetch not authorized, selected")
    r.cmd(0, 'URLFETCH "/ua/;UID=1"', label="urlfetch relative, selected")
    # RESETKEY: every URL signed before is dead.
    r.cmd(0, "RESETKEY ua", label="resetkey mailbox")
    r.cmd(0, "URLFETCH <<user>>", label="urlfetch after resetkey")
    r.cmd(0, 'GENURLAUTH "%s1;URLAUTH=user+%s" INTERNAL' % (base, USER_URL), label="genurlauth again",
          save=("again", gen))
    r.cmd(1, "URLFETCH <<again>>", label="urlfetch from another session")
    r.cmd(0, "RESETKEY", label="resetkey all")
    r.cmd(1, "URLFETCH <<again>>", label="urlfetch after resetkey all")
    r.cmd(0, "RESETKEY nosuch", label="resetkey missing mailbox")
    r.cmd(0, "RESETKEY ua XSHA", label="resetkey unknown mechanism")
    check(r, KNOWN_URLAUTH)


# ---- ESORT and ESEARCH (RFC 5267, RFC 4731) ---------------------------

RFC9394 = ("RFC 9394 (PARTIAL) defines negative ranges, counted from the end of the result "
           "(partial-range-last); Dovecot 2.3 predates it and answers BAD")
KNOWN_ESORT = {
    "SORT RETURN (PARTIAL -1:-2) (SUBJECT) UTF-8 ALL": (
        ['* ESEARCH (TAG "t21") PARTIAL (-1:-2 1,5)', "T OK"], RFC9394),
    "UID SEARCH RETURN (PARTIAL -1:-2) ALL": (
        ['* ESEARCH (TAG "t30") UID PARTIAL (-1:-2 4:5)', "T OK"], RFC9394),
}


def test_imap_esort_esearch_matches_dovecot():
    if not available():
        return "skip"
    r = Run(sides(), "esort")
    r.cmd(0, "CREATE es", compare=False, ok=True)
    r.fill("es")
    r.cmd(0, "SELECT es", compare=False, ok=True)
    r.cmd(0, "STORE 2,4 +FLAGS (\\Flagged)", compare=False, ok=True)
    for q in ("SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 ALL",
              "SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 SUBJECT nothing-matches",
              "SORT RETURN () (SUBJECT) UTF-8 ALL",
              "SORT RETURN (COUNT) (REVERSE DATE) UTF-8 FLAGGED",
              "SORT RETURN (MIN) (SUBJECT) UTF-8 FLAGGED",
              "SORT RETURN (MAX) (REVERSE SUBJECT) UTF-8 UNFLAGGED",
              "SORT RETURN (ALL) (DATE) UTF-8 NOT FLAGGED",
              "UID SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 ALL",
              "UID SORT RETURN (ALL) (SUBJECT) UTF-8 UID 2:4",
              "SORT RETURN (SAVE) (SUBJECT) UTF-8 FLAGGED",
              "UID SEARCH $",
              "SORT RETURN (PARTIAL 1:2) (SUBJECT) UTF-8 ALL",
              "SORT RETURN (PARTIAL -1:-2) (SUBJECT) UTF-8 ALL",
              "SORT RETURN (XYZ) (SUBJECT) UTF-8 ALL",
              "SEARCH RETURN (MIN MAX COUNT ALL) ALL",
              "SEARCH RETURN (MIN MAX COUNT ALL) SUBJECT nothing-matches",
              "SEARCH RETURN () FLAGGED",
              "UID SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED",
              "UID SEARCH RETURN (COUNT) UID 1:*",
              "SEARCH RETURN (PARTIAL 1:2) ALL",
              "SEARCH RETURN (PARTIAL 2:100) ALL",
              "UID SEARCH RETURN (PARTIAL -1:-2) ALL",
              "SEARCH RETURN (PARTIAL 10:20) ALL",
              "SEARCH RETURN (PARTIAL 0:2) ALL",
              "SEARCH RETURN (COUNT PARTIAL 1:1) FLAGGED"):
        r.cmd(0, q)
    check(r, KNOWN_ESORT)


# ---- CONTEXT=SEARCH / CONTEXT=SORT (RFC 5267) -------------------------

KNOWN_CONTEXT = {
    "own store adds": (
        ['* 1 FETCH (FLAGS (\\Flagged \\Recent))', '* ESEARCH (TAG "t13") UID REMOVEFROM (0 1)',
         '* ESEARCH (TAG "t12") ADDTO (0 1)', 'T OK'],
        "RFC 5267 orders the ADDTO/REMOVEFROM of one search, not the updates of two "
        "searches against each other; tern tells the newer search first, Dovecot the older"),
    "sort update other store": (
        ['* 2 FETCH (FLAGS (\\Flagged \\Recent \\Seen))', '* ESEARCH (TAG "t32") REMOVEFROM (4 2)', 'T OK'],
        "RFC 5267 (CONTEXT=SORT) gives the position of a removed message in the sorted "
        "result (charlie, 2, is 4th of alpha 1, alpha 6, bravo 3, charlie 2, ...); Dovecot "
        "does not offer CONTEXT=SORT and answers 0, 'position unknown'"),
}


def test_imap_context_update_matches_dovecot():
    if not available():
        return "skip"
    r = Run(sides(), "context")
    r.cmd(0, "CREATE ctx", compare=False, ok=True)
    r.fill("ctx")
    r.cmd(0, "SELECT ctx", compare=False, ok=True)
    r.cmd(1, "SELECT ctx", compare=False, ok=True)
    r.cmd(0, "STORE 2,4 +FLAGS (\\Flagged)", compare=False, ok=True)
    r.cmd(0, "NOOP", compare=False)
    r.cmd(1, "NOOP", compare=False)
    r.cmd(0, ["SEARCH RETURN (UPDATE) FLAGGED"], label="search update")
    flagged_tag = "t%d" % r.n
    r.cmd(0, "UID SEARCH RETURN (UPDATE COUNT) UNFLAGGED", label="uid search update count")
    # Changes made by the same session update the result too (RFC 5267).
    r.cmd(0, "STORE 1 +FLAGS (\\Flagged)", label="own store adds")
    r.cmd(0, "STORE 4 -FLAGS (\\Flagged)", label="own store removes")
    # Another session's store, expunge and append.
    r.cmd(1, "STORE 3 +FLAGS (\\Flagged)", compare=False, ok=True)
    r.events(0, "other store")
    r.cmd(1, "STORE 1 +FLAGS (\\Deleted)", compare=False, ok=True)
    r.events(0, "other deleted flag")
    r.cmd(1, "EXPUNGE", compare=False, ok=True)
    r.events(0, "other expunge")
    r.cmd(1, ["APPEND ctx (\\Flagged) ", (MSG[0], False)], compare=False, ok=True)
    r.cmd(1, ["APPEND ctx ", (MSG[1], False)], compare=False, ok=True)
    r.events(0, "other append")
    # Session 1 out of the mailbox: session 0 alone is told of its own
    # APPEND, so it is the first (RFC 3501 §2.3.2 \Recent), on both.
    r.cmd(1, "UNSELECT", compare=False, ok=True)
    r.cmd(0, ["APPEND ctx (\\Flagged) ", (MSG[2], False)], label="own append")
    r.cmd(0, 'CANCELUPDATE "%s"' % flagged_tag, label="cancelupdate")
    r.cmd(0, 'CANCELUPDATE "nosuch"', label="cancelupdate unknown tag")
    r.cmd(1, "SELECT ctx", compare=False, ok=True)
    r.cmd(1, "STORE 1:* +FLAGS (\\Flagged)", compare=False, ok=True)
    r.events(0, "after cancelupdate")
    r.cmd(0, "SORT RETURN (UPDATE) (SUBJECT) UTF-8 UNSEEN", label="sort update")
    r.cmd(1, "STORE 2 +FLAGS (\\Seen)", compare=False, ok=True)
    r.events(0, "sort update other store")
    r.cmd(0, "SEARCH RETURN (UPDATE PARTIAL 1:2) ALL", label="update with partial")
    r.cmd(0, "SEARCH RETURN (UPDATE SAVE) ALL", label="update with save")
    r.cmd(0, "CLOSE", label="close ends updates")
    check(r, KNOWN_CONTEXT)


# ---- NOTIFY (RFC 5465) ------------------------------------------------

KNOWN_NOTIFY = {
    "status expunge": (
        ['* STATUS nf2 (MESSAGES 0 UIDNEXT 2 UIDVALIDITY V UNSEEN 0)', 'T OK'],
        "RFC 5465 asks for a STATUS with at least MESSAGES (paraphrased) for a mailbox not selected; "
        "tern sends the same items as for MessageNew (UIDVALIDITY among them), Dovecot fewer"),
    "status new again": (
        ['* STATUS nf2 (MESSAGES 1 UIDNEXT 3 UIDVALIDITY V UNSEEN 1)', 'T OK'],
        "as for status expunge: tern names UIDVALIDITY too, Dovecot not"),
    "seen elsewhere": (
        ['* STATUS nf2 (MESSAGES 1 UIDNEXT 3 UIDVALIDITY V UNSEEN 0)', 'T OK'],
        "RFC 5465 leaves the items of a STATUS for a mailbox not selected to the server beyond the "
        "counters it names; tern sends the same items for every event (UNSEEN tells the \\Seen "
        "change), Dovecot only the item that changed"),
    "unknown event": (
        ['T NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange '
         'MailboxMetadataChange ServerMetadataChange)]'],
        "RFC 5465's formal syntax: 'unsupported-events-code = \"BADEVENT\" SP \"(\" event *(SP event) \")\"' "
        "and event-ext is an atom, so an unknown event is well formed and refused with NO "
        "[BADEVENT (the events served)]; Dovecot answers BAD"),
    "metadata event": (
        ["T OK"],
        "tern offers METADATA (RFC 5464), so MailboxMetadataChange is served; "
        "Dovecot here has no METADATA and says NO [BADEVENT]"),
    "set without filters": (
        ["T BAD"],
        "RFC 5465's formal syntax: 'notify-set = \"SET\" [status-indicator] SP event-groups' with "
        "'event-groups = event-group *(SP event-group)': SET needs one group at least; "
        "Dovecot says OK"),
}


def test_imap_notify_matches_dovecot():
    if not available():
        return "skip"
    r = Run(sides(), "notify")
    for mb in ("nf", "nf2"):
        r.cmd(0, "CREATE %s" % mb, compare=False, ok=True)
    r.fill("nf", MSG[:2])
    r.cmd(0, "SELECT nf", compare=False, ok=True)
    r.cmd(1, "NOOP", compare=False)
    r.cmd(0, "NOTIFY SET (SELECTED (MessageNew MessageExpunge FlagChange)) "
             "(PERSONAL (MailboxName SubscriptionChange))", label="notify set")
    r.cmd(1, ["APPEND nf ", (MSG[2], False)], compare=False, ok=True)
    r.events(0, "new message")
    r.cmd(1, "SELECT nf", compare=False, ok=True)
    r.cmd(1, "STORE 1 +FLAGS (\\Flagged)", compare=False, ok=True)
    r.events(0, "flag change")
    r.cmd(1, "STORE 2 +FLAGS (\\Deleted)", compare=False, ok=True)
    r.events(0, "deleted flag")  # told apart from the expunge, on both
    r.cmd(1, "EXPUNGE", compare=False, ok=True)
    r.events(0, "expunge")
    r.cmd(1, "CREATE nf3", compare=False, ok=True)
    r.events(0, "mailbox created")
    r.cmd(1, "RENAME nf3 nf4", compare=False, ok=True)
    r.events(0, "mailbox renamed")
    r.cmd(1, "SUBSCRIBE nf4", compare=False, ok=True)
    r.events(0, "subscribed")
    r.cmd(1, "DELETE nf4", compare=False, ok=True)
    r.events(0, "mailbox deleted")
    # STATUS for mailboxes not selected.
    r.cmd(0, "NOTIFY SET STATUS (MAILBOXES nf2 (MessageNew MessageExpunge))", label="notify set status")
    r.cmd(1, ["APPEND nf2 ", (MSG[3], False)], compare=False, ok=True)
    r.events(0, "status new")
    r.cmd(1, "SELECT nf2", compare=False, ok=True)
    r.cmd(1, "STORE 1 +FLAGS (\\Deleted)", compare=False, ok=True)
    r.cmd(1, "EXPUNGE", compare=False, ok=True)
    r.events(0, "status expunge")
    # FlagChange in a mailbox not selected, without CONDSTORE: a STATUS
    # whose UNSEEN tells a \Seen change.
    r.cmd(1, ["APPEND nf2 ", (MSG[3], False)], compare=False, ok=True)
    r.events(0, "status new again")
    r.cmd(0, "NOTIFY SET (MAILBOXES nf2 (MessageNew MessageExpunge FlagChange))", label="notify set flags")
    r.cmd(1, "NOOP", compare=False, ok=True)
    r.events(0, "flags elsewhere set")
    r.cmd(1, "STORE 1 +FLAGS (\\Seen)", compare=False, ok=True)
    r.events(0, "seen elsewhere")
    r.cmd(1, "STORE 1 +FLAGS (\\Flagged)", compare=False, ok=True)
    r.events(0, "flagged elsewhere")
    # IDLE with NOTIFY: the events come during IDLE.
    r.cmd(0, "NOTIFY SET (SELECTED (MessageNew MessageExpunge))", label="notify set selected")
    r.raw(0, "i IDLE\r\n", until=r"\+", label="idle")
    r.cmd(1, ["APPEND nf ", (MSG[4], False)], compare=False, ok=True)
    r.raw(0, "", until=r"\* \d+ EXISTS", label="idle event")
    r.raw(0, "DONE\r\n", until=r"i ", label="done")
    r.cmd(0, "NOTIFY NONE", label="notify none")
    r.cmd(1, ["APPEND nf2 ", (MSG[0], False)], compare=False, ok=True)
    r.events(0, "after notify none")
    # Errors.
    r.cmd(0, "NOTIFY SET (SELECTED (MessageNew))", label="messagenew alone")
    r.cmd(0, "NOTIFY SET (SELECTED (FlagChange))", label="flagchange alone")
    r.cmd(0, "NOTIFY SET (PERSONAL (XNoSuchEvent))", label="unknown event")
    r.cmd(0, "NOTIFY SET (PERSONAL (MailboxMetadataChange))", label="metadata event")
    r.cmd(0, "NOTIFY SET (MAILBOXES nosuch (MessageNew MessageExpunge))", label="missing mailbox")
    r.cmd(0, "NOTIFY SET (XFILTER (MessageNew MessageExpunge))", label="unknown filter")
    r.cmd(0, "NOTIFY SET (PERSONAL (MessageNew MessageExpunge (UID)))", label="fetch att outside selected")
    r.cmd(0, "NOTIFY SET (SUBTREE nf (MessageNew MessageExpunge))", label="subtree")
    r.cmd(0, "NOTIFY SET (INBOXES (MessageNew MessageExpunge))", label="inboxes")
    r.cmd(0, "NOTIFY SET (SELECTED-DELAYED (MessageNew MessageExpunge FlagChange))", label="selected-delayed")
    r.cmd(0, "NOTIFY SET", label="set without filters")
    r.cmd(0, "NOTIFY", label="no arguments")
    check(r, KNOWN_NOTIFY)
