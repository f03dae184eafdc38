"""IMAP sessions under concurrent change, checked against a model.

Five sessions of one account work the same three mailboxes at once with
random commands (seeded, so a failure names its seed): FETCH, STORE and
UID STORE of flags and keywords, EXPUNGE and UID EXPUNGE, UID COPY and
UID MOVE between the mailboxes (so one email soon sits in several
mailboxes, and twice in one), APPEND and one MULTIAPPEND of 300, SELECT,
CLOSE, UNSELECT, SEARCH, STATUS, IDLE, deliveries over SMTP, and CREATE,
RENAME and DELETE of a fourth mailbox that takes copies. One session has QRESYNC
(VANISHED instead of EXPUNGE), the others CONDSTORE. A POP3 client
takes rounds on the same INBOX meanwhile (STAT, LIST, UIDL and RETR must
agree; DELE, QUIT).

Each session keeps the mailbox as the server has told it: sequence
number -> UID, flags, MODSEQ. After every response it checks what a
client relies on: EXISTS never shrinks the mailbox, EXPUNGE and FETCH
name a message that exists, a sequence number keeps its UID, UIDs stay
ascending, no EXPUNGE arrives during FETCH, STORE or SEARCH by sequence
number (RFC 9051 §7.5.1), a MODSEQ never goes back, COPYUID pairs add
up, and every body read is the one sent (a digest in its header).

Then, all quiet, each session's NOOP must leave it with the flags the
server holds: the same as a new session sees, and as a new session sees
after a restart (no kept snapshot, imap_view_cache.h). STATUS counts and
SEARCH by flag must agree with FETCH, HIGHESTMODSEQ must bound every
MODSEQ, SEARCH by text must find exactly the messages holding it, and a
client that knew a mailbox before the run must catch up exactly with one
SELECT (QRESYNC ...); the account's email count and storage used must
be those of its distinct emails. This found views that kept old flags for the
second copy of an email in one mailbox (store_view.c, report_email),
messages whose MODSEQ stood above their mailbox's HIGHESTMODSEQ after a
copy elsewhere was expunged (store_expunge.c), and POP3 dropping the
connection at RETR of a message IMAP had expunged (pop3_mail.c).
"""
import hashlib
import poplib
import random
import re
import smtplib
import socket
import threading
import time

from test_imap import BOB, BOB_PW, ctx, raw_response, srv, uid_list

BOXES = ["INBOX", "Archive", "Work"]
SYSFLAGS = [r"\Seen", r"\Deleted", r"\Deleted", r"\Flagged", "$Work"]


class ModelError(AssertionError):
    pass


class Messages:
    """Message texts, each with a digest of its body in X-Sum."""

    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def make(self, tag):
        with self.lock:
            self.n += 1
            n = self.n
        body = ("line %d of %s\r\n" % (n, tag)) * (1 + n % 7)
        digest = hashlib.sha256(body.encode()).hexdigest()[:16]
        return ("From: alice@remote.test\r\nTo: %s\r\nSubject: m%d %s\r\n"
                "Message-ID: <m%d@model.test>\r\nX-Sum: %s\r\n\r\n%s"
                % (BOB, n, tag, n, digest, body)).encode()


def check_body(raw):
    """The body matches the digest in its header: not cut, not mixed up."""
    head, _, body = raw.partition(b"\r\n\r\n")
    m = re.search(rb"\r\nX-Sum: (\w+)", head)
    if not m:
        raise ModelError("no X-Sum in %r" % raw[:300])
    if hashlib.sha256(body).hexdigest()[:16].encode() != m.group(1):
        raise ModelError("body does not match its digest: %r" % raw[:400])


def set_count(s):
    n = 0
    for part in s.split(","):
        a, _, b = part.partition(":")
        n += abs(int(b) - int(a)) + 1 if b else 1
    return n


def uid_set(s):
    return set(uid_list(s))


class Session:
    """One IMAPS connection and the mailbox as the server told it."""

    def __init__(self, s, name, rnd=None, qresync=False):
        self.srv, self.name, self.rnd = s, name, rnd or random.Random(0)
        sock = socket.create_connection(("127.0.0.1", s.imaps_port), 30)
        self.sock = ctx().wrap_socket(sock, server_hostname="mx.example.test")
        self.buf = b""
        self.tagn = 0
        self.box = None
        self.view = None     # sequence number - 1 -> UID (None until fetched)
        self.flags = {}      # UID -> set of flags, of the selected mailbox
        self.modseq = {}     # (mailbox, UID) -> highest MODSEQ seen
        self.qresync = qresync
        self.resync = False
        self.bulked = False
        self.trace = []
        self.response()
        self.cmd('LOGIN "%s" "%s"' % (BOB, BOB_PW))
        self.cmd("ENABLE QRESYNC" if qresync else "ENABLE CONDSTORE")

    def fail(self, why):
        raise ModelError("%s in %s: %s\n%s" % (self.name, self.box, why,
                                              "\n".join(self.trace[-30:])))

    def response(self):
        """One response: its text (a literal shows as {}) and its literals."""
        try:
            text, lits = raw_response(self)
        except EOFError:
            self.fail("connection closed")
        text = text.decode("utf-8", "replace")
        self.trace.append("S: " + text[:160])
        return text, lits

    def send(self, text, literal=None):
        self.trace.append("C: " + text[:160])
        self.sock.sendall(text.encode() + b"\r\n" + (literal + b"\r\n" if literal else b""))

    def cmd(self, text, literal=None, seq=False, may_no=False):
        """Runs a command; returns (untagged responses, tagged line).
        seq: a command by sequence number (no EXPUNGE may arrive)."""
        self.tagn += 1
        tag = "t%d" % self.tagn
        if literal is not None:
            text = "%s {%d+}" % (text, len(literal))
        self.send("%s %s" % (tag, text), literal)
        return self.finish(tag, seq, may_no)

    def finish(self, tag, seq=False, may_no=False):
        out = []
        while True:
            text, lits = self.response()
            if text.startswith(tag + " "):
                ok = text.startswith(tag + " OK")
                if not ok and not (may_no and text.startswith(tag + " NO")):
                    self.fail("command failed: " + text)
                self.fill()
                return out, text
            if not text.startswith("* "):
                self.fail("unexpected " + text)
            self.untagged(text, seq)
            out.append((text, lits))

    def untagged(self, text, seq):
        if self.view is None:
            return
        m = re.match(r"\* VANISHED (\(EARLIER\) )?(\S+)$", text)
        if m:
            if not self.qresync:
                self.fail("VANISHED without QRESYNC")
            if seq:
                self.fail("VANISHED during a command by sequence number")
            for uid in uid_set(m.group(2)):
                if uid in self.view:
                    self.view.remove(uid)
                    self.flags.pop(uid, None)
                elif m.group(1) is None:
                    if None not in self.view:
                        self.fail("VANISHED %d, not in the mailbox" % uid)
                    # A message announced but not fetched yet: which one
                    # is unknown, so fill() learns every UID again.
                    self.view.remove(None)
                    self.resync = True
            return
        m = re.match(r"\* (\d+) (EXISTS|EXPUNGE|FETCH)(.*)", text)
        if not m:
            return
        n, what, rest = int(m.group(1)), m.group(2), m.group(3)
        if what == "EXISTS":
            if n < len(self.view):
                self.fail("EXISTS %d below %d" % (n, len(self.view)))
            self.view.extend([None] * (n - len(self.view)))
            return
        if self.resync and what == "FETCH":
            return  # numbers unsure until fill() has read the UIDs again
        if not 1 <= n <= len(self.view):
            self.fail("%s %d of %d messages" % (what, n, len(self.view)))
        if what == "EXPUNGE":
            if self.qresync:
                self.fail("EXPUNGE with QRESYNC enabled")
            if seq:
                self.fail("EXPUNGE during a command by sequence number")
            self.flags.pop(self.view.pop(n - 1), None)
            return
        uid = self.view[n - 1]
        um = re.search(r"\bUID (\d+)", rest)
        if um:
            if uid is not None and uid != int(um.group(1)):
                self.fail("message %d is UID %s, now %s" % (n, uid, um.group(1)))
            uid = self.view[n - 1] = int(um.group(1))
        elif self.qresync:
            self.fail("FETCH without UID under QRESYNC")
        if uid is None:
            return
        fm = re.search(r"\bFLAGS \(([^)]*)\)", rest)
        if fm:
            # \Recent is the session's, not the message's (RFC 3501 §2.3.2).
            self.flags[uid] = set(fm.group(1).lower().split()) - {"\\recent"}
        mm = re.search(r"\bMODSEQ \((\d+)\)", rest)
        if mm:
            key = (self.box, uid)
            if int(mm.group(1)) < self.modseq.get(key, 0):
                self.fail("MODSEQ of UID %d went back to %s" % (uid, mm.group(1)))
            self.modseq[key] = int(mm.group(1))
        known = [u for u in self.view if u is not None]
        if known != sorted(set(known)):
            self.fail("UIDs not ascending: %r" % known)

    def fill(self):
        """Learns the UIDs of messages announced by EXISTS."""
        if self.resync:
            self.resync = False
            self.view = [None] * len(self.view)
        if self.view and None in self.view:
            self.cmd("FETCH 1:* (UID FLAGS)", seq=True)
            if None in self.view:
                self.fail("FETCH 1:* left messages without a UID")

    def select(self, box):
        self.view, self.box, self.flags = None, box, {}
        out, _ = self.cmd("SELECT " + box)
        n = [int(m.group(1)) for t, _ in out for m in [re.match(r"\* (\d+) EXISTS", t)] if m]
        self.view = [None] * n[-1]
        self.fill()

    def some_uids(self):
        known = [u for u in self.view if u is not None]
        if not known:
            return None
        return ",".join(map(str, self.rnd.sample(known, self.rnd.randint(1, min(4, len(known))))))

    def step(self, messages):
        r = self.rnd
        op = r.choice(["noop", "fetch", "uidfetch", "store", "uidstore", "uidstore",
                       "expunge", "uidexpunge", "copy", "move", "append", "select",
                       "search", "uidsearch", "status", "idle", "deliver", "body", "close",
                       "bulk", "tmp"])
        self.trace.append("-- " + op)
        if op == "noop":
            self.cmd("NOOP")
        elif op == "fetch" and self.view:
            self.cmd("FETCH 1:* (UID FLAGS MODSEQ)", seq=True)
        elif op == "uidfetch":
            before = [u for u in self.view if u is not None]
            out, _ = self.cmd("UID FETCH 1:* (FLAGS)")
            got = {int(m.group(1)) for t, _ in out for m in [re.search(r"\bUID (\d+)", t)] if m}
            missed = [u for u in before if u not in got and u in self.view]
            if missed:
                self.fail("UID FETCH 1:* left out UIDs %r" % missed)
        elif op == "store" and self.view:
            self.cmd("STORE %d %sFLAGS (%s)" % (r.randint(1, len(self.view)), r.choice("+-"),
                                                r.choice(SYSFLAGS)), seq=True)
        elif op == "uidstore":
            uids = self.some_uids()
            if uids:
                self.cmd("UID STORE %s %sFLAGS (%s)" % (uids, r.choice("+-"), r.choice(SYSFLAGS)))
        elif op == "expunge":
            self.cmd("EXPUNGE")
        elif op == "uidexpunge":
            uids = self.some_uids()
            if uids:
                self.cmd("UID EXPUNGE " + uids)
        elif op in ("copy", "move"):
            uids = self.some_uids()
            if uids:
                dest = r.choice([b for b in BOXES if b != self.box])
                out, tagged = self.cmd("UID %s %s %s" % (op.upper(), uids, dest), may_no=True)
                if not tagged.split(" ", 2)[1] == "OK":
                    # A set holding a message another session expunged
                    # fails whole (RFC 9051 §7.1 EXPUNGEISSUED), after the
                    # EXPUNGE that names it: then one of the UIDs is gone.
                    if ("[EXPUNGEISSUED]" not in tagged or
                            set(map(int, uids.split(","))) <= set(self.view)):
                        self.fail("command failed: " + tagged)
                    return
                m = re.search(r"\[COPYUID \d+ (\S+) (\S+)\]", tagged + " ".join(t for t, _ in out))
                if not m:
                    # Nothing copied: right only when all were expunged
                    # by another session (the sync after COPY says so).
                    if set(map(int, uids.split(","))) & set(self.view):
                        self.fail("no COPYUID: " + tagged)
                    return
                if set_count(m.group(1)) != set_count(m.group(2)):
                    self.fail("COPYUID pairs do not add up: " + m.group(0))
        elif op == "append":
            fl = r.choice(["", r"(\Seen) ", r"(\Deleted) ", r"(\Flagged $Work) "])
            _, tagged = self.cmd("APPEND %s %s" % (r.choice(BOXES), fl.strip()),
                                 literal=messages.make(self.name))
            if "[APPENDUID " not in tagged:
                self.fail("no APPENDUID")
        elif op == "bulk" and not self.bulked and self.name == "s1":
            # One MULTIAPPEND of 300: more than a view patches from the
            # change log, so the other sessions read that mailbox whole.
            self.bulked = True
            texts = [messages.make(self.name + "-bulk") for _ in range(300)]
            self.tagn += 1
            tag = "t%d" % self.tagn
            data = ("%s APPEND %s" % (tag, r.choice(BOXES))).encode()
            for t in texts:
                data += b" {%d+}\r\n" % len(t) + t
            self.trace.append("C: %s APPEND (300 messages)" % tag)
            self.sock.sendall(data + b"\r\n")
            _, tagged = self.finish(tag)
            m = re.search(r"\[APPENDUID \d+ (\S+)\]", tagged)
            if not m or set_count(m.group(1)) != 300:
                self.fail("MULTIAPPEND of 300: " + tagged)
        elif op == "tmp":
            # A mailbox no session selects, made, filled, renamed and
            # deleted under the others: DELETE expunges what it holds.
            name, other = r.sample(["Tmp", "Tmp2"], 2)
            uids = self.some_uids()
            what = r.choice(["CREATE %s" % name, "DELETE %s" % name, "RENAME %s %s" % (name, other),
                             "STATUS %s (MESSAGES)" % name,
                             "UID COPY %s %s" % (uids, name) if uids else "NOOP"])
            self.cmd(what, may_no=True)
            out, _ = self.cmd('LIST "" "*"')
            names = [t.rsplit(" ", 1)[1].strip('"') for t, _ in out if t.startswith("* LIST")]
            if len(names) != len(set(names)) or not set(BOXES) <= set(names):
                self.fail("LIST: %r" % names)
        elif op == "select":
            self.select(r.choice(BOXES))
        elif op == "close":
            # CLOSE expunges \Deleted silently; UNSELECT does not.
            self.view = None
            self.cmd(r.choice(["CLOSE", "UNSELECT"]))
            self.select(r.choice(BOXES))
        elif op == "search" and self.view:
            out, _ = self.cmd("SEARCH ALL", seq=True)
            for t, _ in out:
                nums = [int(x) for x in t.split()[2:]] if t.startswith("* SEARCH") else []
                if nums and max(nums) > len(self.view):
                    self.fail("SEARCH gave %d of %d" % (max(nums), len(self.view)))
        elif op == "uidsearch":
            before = set(u for u in self.view if u is not None)
            out, _ = self.cmd("UID SEARCH ALL")
            for t, _ in out:
                if t.startswith("* SEARCH"):
                    got = set(int(x) for x in t.split()[2:])
                    missed = (before & set(self.view)) - got
                    if missed:
                        self.fail("UID SEARCH ALL left out %r" % sorted(missed))
        elif op == "status":
            self.cmd("STATUS %s (MESSAGES UIDNEXT UNSEEN DELETED HIGHESTMODSEQ)" % r.choice(BOXES))
        elif op == "idle":
            self.tagn += 1
            tag = "t%d" % self.tagn
            self.send(tag + " IDLE")
            text, _ = self.response()
            if not text.startswith("+"):
                self.fail("IDLE refused: " + text)
            time.sleep(r.random() * 0.1)
            self.send("DONE")
            self.finish(tag)
        elif op == "deliver":
            with smtplib.SMTP("127.0.0.1", self.srv.smtp_port, timeout=30) as c:
                c.sendmail("alice@remote.test", [BOB], messages.make(self.name + "-smtp"))
        elif op == "body" and self.view:
            # NO [EXPUNGEISSUED] is allowed when another session expunged it.
            out, _ = self.cmd("FETCH %d (UID BODY.PEEK[])" % r.randint(1, len(self.view)),
                              seq=True, may_no=True)
            for _, lits in out:
                if lits:
                    check_body(lits[0])

    def state(self):
        """(mailbox, [(uid, flags)]) as this session was told."""
        return self.box, [(u, frozenset(self.flags.get(u, ()))) for u in self.view]

    def close(self):
        self.sock.close()


def fresh_state(s, box):
    f = Session(s, "fresh")
    f.select(box)
    if f.view:
        f.cmd("FETCH 1:* (UID FLAGS)", seq=True)
    st = f.state()
    f.cmd("LOGOUT")
    f.close()
    return st


def full_state(s, box):
    """A new session's (UIDVALIDITY, HIGHESTMODSEQ, {uid: (flags, size,
    modseq)}) of box, with QRESYNC on."""
    f = Session(s, "full", qresync=True)
    out, _ = f.cmd("SELECT " + box)
    text = " ".join(t for t, _ in out)
    validity = int(re.search(r"UIDVALIDITY (\d+)", text).group(1))
    highest = int(re.search(r"HIGHESTMODSEQ (\d+)", text).group(1))
    msgs = {}
    if int(re.search(r"\* (\d+) EXISTS", text).group(1)):
        out, _ = f.cmd("UID FETCH 1:* (FLAGS RFC822.SIZE MODSEQ)")
        for t, _ in out:
            m = re.search(r"UID (\d+)", t)
            if m:
                msgs[int(m.group(1))] = (
                    frozenset(re.search(r"FLAGS \(([^)]*)\)", t).group(1).lower().split()) -
                    {"\\recent"},
                    int(re.search(r"RFC822.SIZE (\d+)", t).group(1)),
                    int(re.search(r"MODSEQ \((\d+)\)", t).group(1)))
    f.close()
    return validity, highest, msgs


def check_counts(s, box, seed):
    """STATUS and SEARCH agree with what FETCH says of every message."""
    _, highest, msgs = full_state(s, box)
    f = Session(s, "counts")
    out, _ = f.cmd("STATUS %s (MESSAGES UNSEEN DELETED SIZE UIDNEXT HIGHESTMODSEQ)" % box)
    st = dict(re.findall(r"([A-Z]+) (\d+)", out[0][0].split("(", 1)[1]))
    want = {
        "MESSAGES": len(msgs),
        "UNSEEN": sum(1 for fl, _, _ in msgs.values() if "\\seen" not in fl),
        "DELETED": sum(1 for fl, _, _ in msgs.values() if "\\deleted" in fl),
        "SIZE": sum(size for _, size, _ in msgs.values()),
        "HIGHESTMODSEQ": highest,
    }
    got = {k: int(st[k]) for k in want}
    assert got == want, "seed %d: STATUS %s %r, FETCH says %r" % (seed, box, got, want)
    assert int(st["UIDNEXT"]) > max(msgs, default=0)
    top = max(msgs.items(), key=lambda kv: kv[1][2], default=(0, (0, 0, 0)))
    assert highest >= top[1][2], "seed %d: HIGHESTMODSEQ %d of %s, UID %d has MODSEQ %d" % (
        seed, highest, box, top[0], top[1][2])
    f.select(box)
    for key, flag, has in (("FLAGGED", "\\flagged", True), ("UNSEEN", "\\seen", False),
                           ("DELETED", "\\deleted", True), ("KEYWORD $Work", "$work", True)):
        out, _ = f.cmd("UID SEARCH " + key)
        got = {int(x) for t, _ in out if t.startswith("* SEARCH") for x in t.split()[2:]}
        want = {u for u, (fl, _, _) in msgs.items() if (flag in fl) == has}
        assert got == want, "seed %d: SEARCH %s in %s: %r, FETCH says %r" % (
            seed, key, box, sorted(got), sorted(want))
    f.close()


def check_usage(s, seed):
    """The account's counters (`tern account list`) agree
    with its mailboxes: one email per message in a mailbox (an IMAP COPY
    is a message of its own, though it shows its source's EMAILID), and
    the storage used is their sizes (a copy counts, as in Dovecot)."""
    f = Session(s, "usage")
    emails = {}
    out, _ = f.cmd('LIST "" "*"')
    for name in [t.rsplit(" ", 1)[1].strip('"') for t, _ in out if t.startswith("* LIST")]:
        f.select(name)
        if f.view:
            out, _ = f.cmd("FETCH 1:* (UID RFC822.SIZE)", seq=True)
            for t, _ in out:
                m = re.search(r"UID (\d+)", t)
                if m:
                    emails[name, m.group(1)] = int(re.search(r"RFC822.SIZE (\d+)", t).group(1))
    f.close()
    line = [x for x in s.cli("account", "list").stdout.decode().splitlines() if BOB in x][0]
    got = dict(re.findall(r"(emails|used)=(\d+)", line))
    want = {"emails": str(len(emails)), "used": str(sum(emails.values()))}
    assert got == want, "seed %d: account list says %r, the mailboxes hold %r" % (
        seed, got, want)


def check_text_search(s, box, seed, rnd):
    """SEARCH SUBJECT, BODY and TEXT give the messages whose text holds
    the string (RFC 9051: substring, any case), after all the copying and
    expunging: computed here from every message FETCHed whole."""
    f = Session(s, "text")
    f.select(box)
    texts = {}
    if f.view:
        out, _ = f.cmd("UID FETCH 1:* BODY.PEEK[]")
        for t, lits in out:
            texts[int(re.search(r"UID (\d+)", t).group(1))] = lits[0].lower()
    subjects = sorted(set(re.search(rb"\r\nsubject: (m\d+)", x).group(1) for x in texts.values()))
    probes = [("SUBJECT", w.decode()) for w in rnd.sample(subjects, min(3, len(subjects)))]
    probes += [("BODY", "line %d of s%d" % (rnd.randint(1, 60), rnd.randint(0, 4))),
               ("BODY", "-bulk"), ("TEXT", "-smtp"), ("TEXT", "line 2 of s1"),
               ("TEXT", "%s@model" % rnd.choice(subjects).decode())]
    for key, what in probes:
        out, _ = f.cmd('UID SEARCH %s "%s"' % (key, what))
        got = {int(x) for t, _ in out if t.startswith("* SEARCH") for x in t.split()[2:]}
        w = what.lower().encode()
        if key == "SUBJECT":
            want = {u for u, x in texts.items()
                    if w in re.search(rb"\r\nsubject: ([^\r]*)", x).group(1)}
        elif key == "BODY":
            want = {u for u, x in texts.items() if w in x.split(b"\r\n\r\n", 1)[1]}
        else:
            want = {u for u, x in texts.items() if w in x}
        assert got == want, "seed %d: SEARCH %s %r in %s: %d found, %d hold it" % (
            seed, key, what, box, len(got), len(want))
    f.close()


def check_qresync(s, box, before, seed):
    """A client that knew box as `before` (full_state earlier) catches up
    with one SELECT (QRESYNC ...) naming the UIDs it knows, then a UID
    FETCH of those past them (the known UIDs bound what the SELECT tells,
    RFC 7162 §3.2.5, so new messages are the client's to fetch, as it
    fetches their contents anyway): VANISHED (EARLIER) and the FETCHes it
    gets must turn its old copy into what a new session sees."""
    validity, highest, old = before
    f = Session(s, "qresync", qresync=True)
    known = ",".join(map(str, sorted(old))) or "1"
    out, _ = f.cmd("SELECT %s (QRESYNC (%d %d %s))" % (box, validity, highest, known))
    new, _ = f.cmd("UID FETCH %d:* (FLAGS)" % (max(old, default=0) + 1))
    mine = {u: fl for u, (fl, _, _) in old.items()}
    for t, _ in out + new:
        m = re.match(r"\* VANISHED \(EARLIER\) (\S+)", t)
        if m:
            for u in uid_set(m.group(1)):
                mine.pop(u, None)
        m = re.match(r"\* \d+ FETCH \(.*UID (\d+)", t)
        if m:
            mine[int(m.group(1))] = frozenset(
                re.search(r"FLAGS \(([^)]*)\)", t).group(1).lower().split())
    f.close()
    now = {u: fl for u, (fl, _, _) in full_state(s, box)[2].items()}
    assert mine == now, "seed %d: QRESYNC of %s from modseq %d gives %r, a new session %r" % (
        seed, box, highest, sorted(mine.items()), sorted(now.items()))


def pop3_rounds(s, rnd, rounds, stop, done):
    """POP3 on the INBOX the IMAP sessions change: each round a
    maildrop snapshot whose STAT, LIST, UIDL and RETR agree (sizes exact,
    unique-ids unique, bodies whole), some DELEs, then QUIT."""
    for _ in range(rounds):
        if stop.is_set():
            return
        c = poplib.POP3_SSL("127.0.0.1", s.pop3s_port, context=ctx(), timeout=30)
        c.user(BOB)
        c.pass_(BOB_PW)
        count, total = c.stat()
        sizes = dict(map(int, x.split()) for x in c.list()[1])
        ids = dict((int(n), u) for n, u in (x.split() for x in c.uidl()[1]))
        assert len(sizes) == count == len(ids) and sum(sizes.values()) == total, (count, total)
        assert len(set(ids.values())) == count, "UIDL repeats a unique-id"
        for n in rnd.sample(sorted(sizes), min(3, count)):
            try:
                lines = c.retr(n)[1]
            except poplib.error_proto as e:  # expunged by IMAP since login
                assert e.args[0].startswith(b"-ERR Message %d was removed" % n), e
                continue
            raw = b"\r\n".join(lines) + b"\r\n"
            assert len(raw) == sizes[n], "RETR %d gave %d octets, LIST said %d" % (
                n, len(raw), sizes[n])
            check_body(raw)
        for n in rnd.sample(sorted(sizes), min(rnd.randint(0, 2), count)):
            c.dele(n)
        c.quit()
        done[0] += 1
        time.sleep(rnd.random() * 0.2)


def run_model(seed, steps=250, nsessions=5):
    with srv(pop3=True) as s:
        messages = Messages()
        setup = Session(s, "setup")
        setup.cmd("CREATE Work")
        for box in BOXES:
            for _ in range(5):
                setup.cmd("APPEND " + box, literal=messages.make("seed"))
        setup.close()
        before = {box: full_state(s, box) for box in BOXES}

        sessions = [Session(s, "s%d" % i, random.Random(seed * 100 + i), qresync=(i == 0))
                    for i in range(nsessions)]
        errors = []

        def work(sess):
            try:
                sess.select(sess.rnd.choice(BOXES))
                for _ in range(steps):
                    sess.step(messages)
            except Exception as e:  # reported below with the seed
                errors.append(e)

        stop = threading.Event()
        pop3_done = [0]

        def pop3():
            try:
                pop3_rounds(s, random.Random(seed), 40, stop, pop3_done)
            except Exception as e:
                errors.append(e)

        threads = [threading.Thread(target=work, args=(x,)) for x in sessions]
        for t in threads:
            t.start()
        popper = threading.Thread(target=pop3)
        popper.start()
        for t in threads:
            t.join(120)
        stop.set()
        popper.join(60)
        threads.append(popper)
        assert not any(t.is_alive() for t in threads), "seed %d: a session hung" % seed
        assert not errors, "seed %d: %s" % (seed, errors[0])
        assert pop3_done[0] >= 5, pop3_done  # POP3 ran alongside
        assert sessions[1].bulked, "seed %d: no MULTIAPPEND of 300" % seed

        # All quiet: one NOOP brings each session up to date.
        finals = []
        for x in sessions:
            x.cmd("NOOP")
            finals.append(x.state())
            assert finals[-1] == fresh_state(s, x.box), \
                "seed %d: %s differs from a new session's view of %s" % (seed, x.name, x.box)
            x.close()

        for box in BOXES:
            check_counts(s, box, seed)
            check_text_search(s, box, seed, random.Random(seed))
            check_qresync(s, box, before[box], seed)

        check_usage(s, seed)

        # The same after a restart: nothing kept from before.
        s.stop()
        s.start()
        for st in finals:
            assert st == fresh_state(s, st[0]), \
                "seed %d: %s differs after a restart" % (seed, st[0])

        # Every message whole.
        c = Session(s, "check")
        n = 0
        for box in BOXES:
            c.select(box)
            if c.view:
                out, _ = c.cmd("FETCH 1:* BODY.PEEK[]", seq=True)
                for _, lits in out:
                    check_body(lits[0])
                    n += 1
        c.close()
        assert n >= 15, n
        return n


def test_imap_sessions_agree_under_concurrent_change():
    for seed in (1, 2, 3):
        run_model(seed)
