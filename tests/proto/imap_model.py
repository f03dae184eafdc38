"""A checker of IMAP sessions under concurrent change, in the spirit of
imaptest's stress mode: each Session parses every response its server
sends and asserts the rules of RFC 3501 / RFC 9051 (and RFC 7162 with
CONDSTORE, RFC 4315 UIDPLUS) that a client relies on; a World shared by
all sessions knows every command any of them sent, with when it was sent
and when its tagged reply came back, so rules that span sessions (the
flags a message may have, the UIDs a new message may get, what a message
holds) are checked only as far as concurrency lets them hold.

Rules checked as responses arrive (Session.untagged, Session.finish):
  - EXISTS never decreases; only EXPUNGE/VANISHED shrink the mailbox;
    EXPUNGE n and FETCH n have 1 <= n <= current count (RFC 9051 §7.4.1,
    §7.5.1, §7.5.2); RECENT <= EXISTS.
  - No EXPUNGE or VANISHED while a FETCH, STORE or SEARCH by sequence
    number runs (RFC 3501 §7.4.1, RFC 9051 §7.5.1, RFC 7162 §3.2.10), nor
    while no command runs, IDLE apart (RFC 3501 §5.3, RFC 2177).
  - UIDs ascend with sequence numbers; a sequence number's UID never
    changes until an EXPUNGE shifts it; UIDVALIDITY is constant; UIDNEXT
    is above every UID seen in that mailbox before the command was sent;
    APPENDUID and COPYUID name new UIDs, above every UID seen before, in
    the mailbox's UIDVALIDITY (RFC 4315 §3), and an appended message shows
    up in the appending session's next view unless some command may have
    removed it.
  - Every command gets exactly one tagged reply, OK/NO/BAD, and BAD
    never (every command sent is valid); NO only where Session.cmd's
    caller says an RFC allows it.
  - With CONDSTORE: a message's MODSEQ never decreases within a session
    and rises whenever its flags change; the same MODSEQ of the same
    message means the same flags in every session; HIGHESTMODSEQ is at
    least every MODSEQ seen in that mailbox before the command was sent
    (RFC 7162 §3.1.1, §3.1.2).
  - A keyword shows in FETCH FLAGS only once an untagged FLAGS announced
    it, and no FLAGS drops a keyword still in use (RFC 9051 §7.3.5); no
    EXPUNGE during CLOSE (RFC 3501 §6.4.2).
  - \\Recent is shown for a message to one read-write session only (RFC
    3501 §2.3.2; EXAMINE leaves it for the others, §6.3.2).
  - A message's BODY[], RFC822.SIZE, ENVELOPE, INTERNALDATE,
    BODYSTRUCTURE and header fields are the same every time, in every
    session and in every copy (IMMUTABLE), BODY[] is exactly what was
    appended, RFC822.SIZE its length, the header fields its own.
  - SEARCH gives only sequence numbers of the session's view; UID SEARCH
    only UIDs the session knows; UID SEARCH ALL right after a NOOP, with
    no command that adds or removes messages in flight meanwhile, gives
    exactly the view.

Rules checked after the run (World.check_flags): every FLAGS seen in a
FETCH is one the message could have had at some instant between the
session's last NOOP, CHECK, IDLE or SELECT (SYNC_KINDS: until then a
server may answer from its last sync) and the FETCH's arrival, given
every STORE, APPEND, COPY and MOVE that any session sent and when: a
STORE whose tagged reply came before that sync is in force unless
another STORE of that flag might have come after it; the session's own
STOREs done before show, and so does a STORE in its own FETCH. A change
to a message that may have been removed under it proves nothing.
Copies share flags when World(shared_copies=True) (tern's model until an
IMAP COPY made a message of its own; kept for the checker's own test). Then
(the test does this) all sessions, each after a NOOP, must see the same
UIDs and flags.
"""
import os
import re
import select
import socket
import ssl
import threading
import time

# FETCH items that never change for a message (RFC 3501 §2.3: a message
# is immutable; INTERNALDATE too, §2.3.3), copies included (§6.4.7).
IMMUTABLE = ("BODY[]", "RFC822.SIZE", "ENVELOPE", "INTERNALDATE", "BODYSTRUCTURE",
             "BODY[HEADER.FIELDS (SUBJECT MESSAGE-ID)]")

# Commands after which the session's flags are those of the mailbox
# then: NOOP "can be used as a periodic poll for new messages or message
# status updates" (RFC 3501 §6.1.2), CHECK and IDLE likewise, and SELECT
# reads the mailbox. Other commands (FETCH, STORE, SEARCH) may answer
# from the session's last sync; a server tells other sessions' changes
# when it chooses (RFC 3501 §5.2, §7).
SYNC_KINDS = ("NOOP", "CHECK", "IDLE", "SELECT", "EXAMINE")
FLAGS = ["\\Seen", "\\Flagged", "\\Deleted", "\\Answered", "$Kw1", "$Kw2", "$Kw3"]
ANY = "any"  # a flag value nobody can know (a copy takes its source's flags)


class ModelError(AssertionError):
    pass


def uid_set(s):
    """The numbers of an IMAP set as written, ranges ascending, in order."""
    out = []
    for part in s.split(","):
        a, _, b = part.partition(":")
        a = int(a)
        b = int(b) if b else a
        out += list(range(min(a, b), max(a, b) + 1))
    return out


def parse_list(text, lits):
    """The values of an IMAP parenthesized list written in text (a literal
    shows as {} and is taken from lits in order): atoms as str, NIL as
    None, strings and literals as bytes, lists as lists."""
    pos, lit = [0], [0]

    def value():
        while text[pos[0]] == " ":
            pos[0] += 1
        c = text[pos[0]]
        if c == "(":
            pos[0] += 1
            out = []
            while True:
                while text[pos[0]] == " ":
                    pos[0] += 1
                if text[pos[0]] == ")":
                    pos[0] += 1
                    return out
                out.append(value())
        if c == '"':
            i, s = pos[0] + 1, []
            while text[i] != '"':
                if text[i] == "\\":
                    i += 1
                s.append(text[i])
                i += 1
            pos[0] = i + 1
            return "".join(s).encode()
        if text.startswith("{}", pos[0]):
            pos[0] += 2
            lit[0] += 1
            return lits[lit[0] - 1]
        i, depth = pos[0], 0
        while i < len(text) and (depth or text[i] not in " ()"):
            depth += {"[": 1, "]": -1}.get(text[i], 0)
            i += 1
        atom, pos[0] = text[pos[0]:i], i
        return None if atom == "NIL" else atom

    return value()


def fetch_items(text, lits):
    """{ITEM: value} of the list of a FETCH response."""
    vals = parse_list(text, lits)
    return {vals[i].upper(): vals[i + 1] for i in range(0, len(vals) - 1, 2)}


class World:
    """What every session sent and saw, shared by all (under self.lock)."""

    def __init__(self, shared_copies=False):
        """shared_copies: a COPY or MOVE makes no new message but puts the
        same one in a second mailbox, whose flags are the same in both
        but \\Deleted (JMAP's mailboxIds: one Email in two mailboxes);
        otherwise a copy's flags are its own from the COPY on (RFC 3501
        §6.4.7; tern's IMAP COPY, Dovecot)."""
        self.shared_copies = shared_copies
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.texts = {}          # tag -> message text appended
        self.origin = {}         # (box, uid) -> tag of its text, or (box, uid) copied
        self.ops = {}            # (box, uid) -> [flag op]
        self.obs = []            # FETCH FLAGS seen, checked by check_flags
        self.facts = {}          # (box, uid) -> {item: value}
        self.uidvalidity = {}    # box -> UIDVALIDITY
        self.max_uid = {}        # box -> highest UID seen
        self.max_modseq = {}     # box -> highest MODSEQ seen
        self.modseq_flags = {}   # (box, uid, modseq) -> (flags, session)
        self.recent = {}         # (box, uid) -> session shown \Recent
        self.may_remove = {}     # (box, uid) -> first time a command may have removed it
        self.final = None        # (box, uid) present after the run
        self.changing = {}       # box -> [[start, end]] of commands adding/removing
        self.nops = 0
        self.sessions = []

    def dump(self, path):
        """Every session's whole trace, to a file (TERN_STRESS_TRACE)."""
        with open(path, "w") as f:
            for s in list(self.sessions):
                f.write("==== %s\n%s\n" % (s.name, "\n".join(s.trace)))

    def now(self):
        return time.monotonic() - self.t0

    def op(self, box, uid, flag, val, sess, ts):
        """Records a flag change sent; its "te" is set at the tagged reply."""
        self.nops += 1
        o = {"id": self.nops, "uid": uid, "key": (box, uid), "flag": flag, "val": val,
             "sess": sess, "ts": ts, "te": None}
        self.ops.setdefault((box, uid), []).append(o)
        return o

    def removable(self, box, uid, ts):
        self.may_remove[(box, uid)] = min(ts, self.may_remove.get((box, uid), ts))

    def born(self, box, uid, tag, flags, ts, te, sess):
        """A message made by APPEND (flags known) or COPY/MOVE (flags ANY)."""
        self.origin[(box, uid)] = tag
        for f in FLAGS:
            val = ANY if flags is ANY else f.lower() in flags
            o = self.op(box, uid, f, val, sess, ts)
            o["te"] = te
            o["init"] = True
        # A copy keeps its source's \\Deleted (RFC 9051 §6.4.7): an
        # EXPUNGE may take it.
        if flags is ANY or "\\deleted" in flags:
            self.removable(box, uid, ts)

    def fact(self, sess, box, uid, item, val):
        if val in (None, b"", "0") or isinstance(val, list) and not any(val) or \
                item == "INTERNALDATE" and val.startswith(b"01-Jan-1970"):
            # A message another session expunged may be answered with
            # NIL, empty or zero data (RFC 2180 §4.1.3; Dovecot does, and
            # gives the epoch as its INTERNALDATE).
            if (box, uid) in self.may_remove:
                return
            sess.fail("%s of UID %d is %r and nobody removed it" % (item, uid, val))
        seen = self.facts.setdefault((box, uid), {})
        if item in seen and seen[item][0] != val:
            sess.fail("%s of UID %d changed: %r was %r (seen by %s)" % (
                item, uid, val, seen[item][0], seen[item][1]))
        seen.setdefault(item, (val, sess.name))

    def root(self, key, flag=None):
        """The message whose flag key shares: itself, or with shared
        copies the one first appended."""
        for _ in range(1000):
            nxt = self.origin.get(key)
            if not self.shared_copies or flag == "\\Deleted" or not isinstance(nxt, tuple):
                return key
            key = nxt
        return key

    def flag_ops(self):
        """{(root, flag): [flag op]}: a copy's own ops join its original's,
        its unknown first flags (ANY) dropped, when copies share flags."""
        out = {}
        for key, ops in self.ops.items():
            for o in ops:
                o["unc"] = self.uncertain(o)
                r = self.root(key, o["flag"])
                if r == key or not o.get("init"):
                    out.setdefault((r, o["flag"]), []).append(o)
        return out

    def uncertain(self, o):
        """Whether a change may have found its message gone (removed
        before it came, so it did nothing)."""
        key = o["key"]
        return (key not in self.final and key in self.may_remove and
                self.may_remove[key] <= (o["te"] or float("inf")) and not o.get("init"))

    def possible(self, ops, flag, t0, t1, applied):
        """The values flag may have had at some instant in [t0, t1]: those
        of the changes sent before t1 that no change surely in force
        before t0 (or shown applied) surely came after."""
        vals = set()
        for o in ops:
            if o["ts"] >= t1:
                continue
            te = o["te"] if o["te"] is not None else float("inf")
            if any(p["ts"] > te and (p["te"] < t0 or p["id"] in applied) and not p["unc"]
                   for p in ops if p["te"] is not None):
                continue  # surely replaced before the window
            vals.add(o["val"])
        return vals

    def check_flags(self):
        """Every FLAGS seen against every flag change sent (after the run)."""
        bad, by_root = [], self.flag_ops()
        # The same FLAGS of a message seen again since the same sync holds
        # if its first sighting does (a later end of the window only
        # allows more), so each is checked once.
        first = {}
        for ob in self.obs:
            k = (ob[0], ob[1], ob[2], ob[3], frozenset(ob[5]))
            if k not in first or ob[4] < first[k][4]:
                first[k] = ob
        for box, uid, flags, t0, t1, applied, who in first.values():
            roots = {}
            if (box, uid) not in self.ops:
                bad.append("%s: %s UID %d was never appended or copied" % (who, box, uid))
                continue
            for f in FLAGS:
                ops = by_root.get((roots.get(f == "\\Deleted") or
                                   roots.setdefault(f == "\\Deleted", self.root((box, uid), f)), f),
                                  [])
                vals = self.possible(ops, f, t0, t1, applied)
                if ANY in vals:
                    continue
                if (f.lower() in flags) not in vals:
                    hist = ["%s%s by %s [%.3f, %.3f]%s" % (
                        "+" if o["val"] is True else "-" if o["val"] is False else "?", f,
                        o["sess"], o["ts"], o["te"] or -1, " init" if o.get("init") else "")
                        for o in ops if o["flag"] == f]
                    bad.append("%s: %s UID %d FLAGS (%s) in [%.3f, %.3f]: %s cannot be %s;"
                               " changes: %s" % (who, box, uid, " ".join(sorted(flags)), t0, t1,
                                                 f, f.lower() in flags, "; ".join(hist)))
                    break
        return bad

    def tag_of(self, key):
        for _ in range(1000):
            key = self.origin.get(key)
            if key is None or isinstance(key, str):
                return key
        return None

    def check_texts(self):
        """Every BODY[]/RFC822.SIZE/ENVELOPE seen against the text sent, and
        every copy of one text against the others."""
        bad, by_tag = [], {}
        for key, seen in self.facts.items():
            tag = self.tag_of(key)
            if tag is None:
                bad.append("%s UID %d: unknown origin" % key)
                continue
            text = self.texts[tag]
            if "BODY[]" in seen and seen["BODY[]"][0] != text:
                subj = re.search(rb"Subject: ([^\r]*)", seen["BODY[]"][0])
                bad.append("%s UID %d: BODY[] (%s, seen by %s) is not the text appended (%s)" % (
                    key + (subj and subj.group(1), seen["BODY[]"][1], tag)))
            if "RFC822.SIZE" in seen and seen["RFC822.SIZE"][0] != str(len(text)):
                bad.append("%s UID %d: RFC822.SIZE %s, text has %d" % (
                    key + (seen["RFC822.SIZE"][0], len(text))))
            hf = seen.get("BODY[HEADER.FIELDS (SUBJECT MESSAGE-ID)]")
            if hf and hf[0] != ("Subject: Stress %s\r\nMessage-ID: <%s@stress.test>\r\n\r\n" % (
                    tag, tag)).encode():
                bad.append("%s UID %d: header fields %r" % (key + (hf[0],)))
            if "ENVELOPE" in seen:
                env = seen["ENVELOPE"][0]
                if ("Stress " + tag).encode() not in repr(env).encode():
                    bad.append("%s UID %d: ENVELOPE %r lacks the subject" % (key + (env,)))
            for item, (val, who) in seen.items():
                other = by_tag.setdefault((tag, item), (val, key))
                if other[0] != val:
                    bad.append("%s of %s UID %d differs from its copy %s UID %d" % (
                        (item,) + key + other[1]))
        return bad


class Session:
    """One IMAP connection, the mailbox as the server told it, and the
    rules that must hold for it."""

    def __init__(self, world, name, port, user, pw, tls=True, enable=None):
        self.world, self.name = world, name
        world.sessions.append(self)
        sock = socket.create_connection(("127.0.0.1", port), 30)
        if tls:
            c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            c.check_hostname = False
            c.verify_mode = ssl.CERT_NONE
            sock = c.wrap_socket(sock, server_hostname="mx.example.test")
        self.sock, self.buf = sock, b""
        self.tagn = 0
        self.trace = []
        self.box = None
        self.view = None          # seq - 1 -> UID, None until learnt
        self.flags = {}           # UID -> flags (lower case, no \Recent)
        self.modseq = {}          # UID -> (MODSEQ, flags) last seen
        self.readonly = False
        self.announced = set()    # keywords of the last untagged FLAGS
        self.recent_count = 0     # the last RECENT
        self.condstore = enable in ("CONDSTORE", "QRESYNC")
        self.qresync = enable == "QRESYNC"
        self.cur = None           # the command in progress (dict)
        self.last_end = 0.0
        self.last_sync = 0.0      # when the last NOOP, CHECK, IDLE, SELECT began
        self.own = []             # flag changes this session sent
        self.resync = False
        text, _ = self.response()
        if not text.startswith("* OK"):
            self.fail("greeting " + text)
        self.cmd('LOGIN "%s" "%s"' % (user, pw))
        if enable:
            self.cmd("ENABLE " + enable)

    # ---- wire ----
    def fail(self, why):
        path = os.environ.get("TERN_STRESS_TRACE")
        if path:
            self.world.dump(path)
        raise ModelError("%s in %s: %s\n%s" % (self.name, self.box, why,
                                              "\n".join(self.trace[-40:])))

    def _fill(self, n):
        while len(self.buf) < n:
            try:
                d = self.sock.recv(65536)
            except (ConnectionError, socket.timeout) as e:
                self.fail("connection lost: %r" % e)
            if not d:
                self.fail("connection closed by the server")
            self.buf += d

    def response(self):
        """One response: its text (a literal shows as {}) and its literals."""
        text, lits = b"", []
        while True:
            while b"\r\n" not in self.buf:
                self._fill(len(self.buf) + 1)
            line, self.buf = self.buf.split(b"\r\n", 1)
            m = re.search(rb"\{(\d+)\+?\}$", line)
            if not m:
                text += line
                break
            n = int(m.group(1))
            self._fill(n)
            lits.append(self.buf[:n])
            self.buf = self.buf[n:]
            text += line[:m.start()] + b"{}"
        text = text.decode("utf-8", "replace")
        self.trace.append("%.3f S: %s" % (self.world.now(), text[:200]))
        return text, lits

    def send(self, text, literal=None):
        self.trace.append("%.3f C: %s" % (self.world.now(), text[:200]))
        self.sock.sendall(text.encode() + b"\r\n" + (literal + b"\r\n" if literal else b""))

    def pending(self, wait=0.0):
        """Whether the server sent something (waiting up to wait seconds)."""
        if self.buf or (isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()):
            return True
        return bool(select.select([self.sock], [], [], wait)[0])

    def between(self):
        """Reads what the server sent while no command was in progress:
        untagged responses but never EXPUNGE (RFC 3501 §5.3)."""
        while self.pending():
            self.cur = {"kind": "none", "ts": self.last_end, "seq": False, "snap_uid": {},
                        "snap_modseq": {}, "last_fetch": {}}
            text, lits = self.response()
            if not text.startswith("* "):
                self.fail("%r with no command in progress" % text)
            self.untagged(text, lits)
            self.cur = None

    # ---- commands ----
    def cmd(self, text, literal=None, kind=None, seq=False, may_no=None, ops=(), shows=False,
            changes=()):
        """Sends one command and reads up to its tagged reply: returns
        (untagged [(text, literals)], tagged text). seq: by sequence number
        FETCH/STORE/SEARCH, no EXPUNGE allowed. may_no: why a NO is allowed
        (None: only OK is). ops: flag changes it makes (World.op), as
        (uid, flag, value); shows: its last FETCH of a UID shows them;
        changes: mailboxes it may add messages to or remove from."""
        self.between()
        self.tagn += 1
        tag = "%s.%d" % (self.name, self.tagn)
        if literal is not None:
            text = "%s {%d+}" % (text, len(literal))
        with self.world.lock:
            ts = self.world.now()
            snap_uid = dict(self.world.max_uid)
            snap_modseq = dict(self.world.max_modseq)
            made = [self.world.op(self.box, u, f, v, self.name, ts) for u, f, v in ops]
            self.own.extend(made)
            for u, f, v in ops:
                if f == "\\Deleted" and v:
                    self.world.removable(self.box, u, ts)
            ch = [{"ts": ts, "te": None} for _ in changes]
            for b, c in zip(changes, ch):
                self.world.changing.setdefault(b, []).append(c)
        kind = kind or text.split()[0].upper()
        if kind in SYNC_KINDS:
            self.last_sync = ts
        self.cur = {"kind": kind, "ts": ts, "seq": seq, "tag": tag,
                    "snap_uid": snap_uid, "snap_modseq": snap_modseq, "ops": made,
                    "last_fetch": {}, "shows": shows, "ch": ch, "text": text}
        self.send("%s %s" % (tag, text), literal)
        return self.finish(may_no)

    def finish(self, may_no=None):
        tag, out = self.cur["tag"], []
        while True:
            text, lits = self.response()
            if text.startswith(tag + " "):
                break
            if text.startswith("+ ") or text == "+":
                self.fail("unexpected continuation request")
            if not text.startswith("* "):
                self.fail("unexpected %r (not untagged, not ours)" % text)
            self.untagged(text, lits)
            out.append((text, lits))
        status = text.split(" ", 2)[1] if " " in text else ""
        with self.world.lock:
            te = self.world.now()
            for o in self.cur["ops"] + self.cur["ch"]:
                o["te"] = te
            # A STORE's own FETCH shows its change (RFC 3501 §6.4.6):
            # that observation counts the STORE as applied.
            if self.cur["shows"]:
                for uid, ob in self.cur["last_fetch"].items():
                    ob[5].update(o["id"] for o in self.cur["ops"] if o["uid"] == uid)
        if status not in ("OK", "NO", "BAD"):
            self.fail("tagged reply neither OK, NO nor BAD: " + text)
        if status == "BAD" or status == "NO" and not (may_no and may_no(text)):
            self.fail("command failed: " + text)
        if status == "OK" and ".SILENT" in self.cur.get("text", "") and self.cur["ops"]:
            # No FETCH for our own .SILENT change (RFC 3501 §6.4.6): the
            # client applies it itself.
            for o in self.cur["ops"]:
                if o["uid"] in self.flags and o["uid"] not in self.cur["last_fetch"]:
                    (self.flags[o["uid"]].add if o["val"] else self.flags[o["uid"]].discard)(
                        o["flag"].lower())
        if self.view is not None and self.cur["kind"] not in ("SELECT", "EXAMINE"):
            # A message another session may have removed is left out: a
            # STORE on it, .SILENT, applied here by the model, may have
            # found it gone in the server (RFC 2180 §4.2) and made no
            # keyword there to announce.
            with self.world.lock:
                gone = set(uid for (box, uid), t in self.world.may_remove.items()
                           if box == self.box and t <= te)
            in_use = set(f for uid, fl in self.flags.items() if uid not in gone
                         for f in fl if not f.startswith("\\"))
            if in_use - self.announced:
                self.fail("FLAGS dropped keywords still in use: %r" %
                          sorted(in_use - self.announced))
        self.cur["status"] = status
        self.cur["tagged"] = text
        self.last_end = te
        self.done = self.cur
        self.cur = None
        return out, text

    # ---- untagged responses ----
    def untagged(self, text, lits):
        cur = self.cur
        m = re.match(r"\* FLAGS \((.*)\)$", text)
        if m:
            self.announced = set(f.lower() for f in m.group(1).split())
            return
        m = re.match(r"\* OK \[(UIDVALIDITY|UIDNEXT|HIGHESTMODSEQ) (\d+)\]", text)
        if m and cur["kind"] in ("SELECT", "EXAMINE"):
            self.mailbox_number(self.box, m.group(1), int(m.group(2)))
            return
        m = re.match(r'\* STATUS ("(?:[^"\\]|\\.)*"|\S+) \((.*)\)$', text)
        if m:
            box = m.group(1).strip('"')
            it = m.group(2).split()
            for k, v in zip(it[::2], it[1::2]):
                self.mailbox_number(box, k.upper(), int(v))
            return
        if self.view is None:
            return
        if text == "* SEARCH" or text.startswith("* SEARCH "):
            self.search(cur, [int(x) for x in text.split()[2:]])
            return
        m = re.match(r"\* VANISHED (\(EARLIER\) )?(\S+)$", text)
        if m:
            if not self.qresync:
                self.fail("VANISHED without QRESYNC")
            self.no_expunge_now("VANISHED")
            for uid in uid_set(m.group(2)):
                if uid in self.view:
                    self.view.remove(uid)
                    self.flags.pop(uid, None)
                elif m.group(1) is None:
                    if None not in self.view:
                        self.fail("VANISHED %d, not in the mailbox" % uid)
                    self.view.remove(None)
                    self.resync = True
            return
        m = re.match(r"\* (\d+) (EXISTS|EXPUNGE|FETCH|RECENT)(?: (.*))?$", text)
        if not m:
            if re.match(r"\* (\d+) ", text):
                self.fail("unknown response " + text)
            return
        n, what, rest = int(m.group(1)), m.group(2), m.group(3)
        if what == "EXISTS":
            if n < len(self.view):
                self.fail("EXISTS %d below %d messages" % (n, len(self.view)))
            self.view.extend([None] * (n - len(self.view)))
            return
        if what == "RECENT":
            self.recent_count = n
            if n > len(self.view):
                self.fail("RECENT %d above EXISTS %d" % (n, len(self.view)))
            return
        if not 1 <= n <= len(self.view):
            self.fail("%s %d of %d messages" % (what, n, len(self.view)))
        if what == "EXPUNGE":
            if self.qresync:
                self.fail("EXPUNGE with QRESYNC enabled (RFC 7162 §3.2.10)")
            self.no_expunge_now("EXPUNGE")
            self.flags.pop(self.view.pop(n - 1), None)
            return
        self.fetch(n, rest, lits)

    def no_expunge_now(self, what):
        kind = self.cur["kind"]
        if kind == "CLOSE":
            self.fail("%s during CLOSE (RFC 3501 §6.4.2: none is sent)" % what)
        if kind == "none":
            self.fail("%s with no command in progress (RFC 3501 §5.3)" % what)
        if self.cur["seq"]:
            self.fail("%s during %s by sequence number (RFC 9051 §7.5.1)" % (what, kind))

    def search(self, cur, nums):
        if cur["kind"] == "SEARCH":
            bad = [n for n in nums if not 1 <= n <= len(self.view)]
            if bad:
                self.fail("SEARCH gave %r, %d messages" % (bad, len(self.view)))
        elif cur["kind"] == "UID SEARCH":
            known = self.known()
            new = [u for u in nums if u not in known]
            if new and (min(new) < max(known or [0]) or len(new) > self.view.count(None)):
                self.fail("UID SEARCH gave UIDs %r not in the mailbox as announced" % new)
        cur["search"] = nums

    def mailbox_number(self, box, what, v):
        w = self.world
        with w.lock:
            if what == "UIDVALIDITY":
                if w.uidvalidity.setdefault(box, v) != v:
                    self.fail("UIDVALIDITY of %s went from %d to %d" % (box, w.uidvalidity[box], v))
            elif what == "UIDNEXT":
                if v <= self.cur["snap_uid"].get(box, 0):
                    self.fail("UIDNEXT %d of %s, UID %d seen before" % (
                        v, box, self.cur["snap_uid"][box]))
            elif what == "HIGHESTMODSEQ":
                if v < self.cur["snap_modseq"].get(box, 0):
                    self.fail("HIGHESTMODSEQ %d of %s, MODSEQ %d seen before" % (
                        v, box, self.cur["snap_modseq"][box]))

    def fetch(self, n, rest, lits):
        if self.resync:
            return  # numbers unsure until learn() has read the UIDs again
        try:
            items = fetch_items(rest, lits)
        except (IndexError, AttributeError):
            self.fail("FETCH response not parsable")
        uid = self.view[n - 1]
        if "UID" in items:
            got = int(items["UID"])
            if uid is not None and uid != got:
                self.fail("message %d is UID %d, now said to be %d" % (n, uid, got))
            uid = self.view[n - 1] = got
            known = [u for u in self.view if u is not None]
            if known != sorted(set(known)):
                self.fail("UIDs not ascending with sequence numbers")
        elif self.qresync and self.cur["kind"] not in ("FETCH", "UID FETCH"):
            # Only a FETCH that did not ask for UID may leave it out
            # (RFC 5162 errata 1807, kept by RFC 7162 §3.2.4 for QRESYNC).
            self.fail("FETCH without UID under QRESYNC during %s" % self.cur["kind"])
        if uid is None:
            return
        box, w, now = self.box, self.world, self.world.now()
        with w.lock:
            if uid > w.max_uid.get(box, 0):
                w.max_uid[box] = uid
            for item in IMMUTABLE:
                if item in items:
                    w.fact(self, box, uid, item, items[item])
            if "FLAGS" in items:
                flags = set(f.lower() for f in items["FLAGS"])
                # EXAMINE "MUST NOT cause messages to lose the \\Recent flag"
                # (RFC 3501 §6.3.2): a read-only session may see it too.
                if "\\recent" in flags and not self.readonly:
                    who = w.recent.setdefault((box, uid), self.name)
                    if who != self.name:
                        self.fail("UID %d \\Recent here and in %s (RFC 3501 §2.3.2)" % (uid, who))
                flags.discard("\\recent")
                unknown = flags - set(f.lower() for f in FLAGS)
                if unknown:
                    self.fail("flags nobody set: %r" % unknown)
                # A keyword is announced in FLAGS before a FETCH shows it
                # (RFC 9051 §7.3.5: FLAGS lists the flags and keywords
                # "applicable for this mailbox"; imaptest checks it).
                unannounced = set(f for f in flags if not f.startswith("\\")) - self.announced
                if unannounced:
                    self.fail("keywords %r shown before any FLAGS announced them" %
                              sorted(unannounced))
                self.flags[uid] = flags
                # What the session was told reflects the mailbox at its
                # last sync at least, and its own changes done before.
                # (Own changes of this message, not of another copy of
                # its email: that one is another message to the client.)
                done = set(o["id"] for o in self.own if o["key"] == (box, uid) and
                           o["te"] is not None and o["te"] <= self.cur["ts"])
                ob = [box, uid, frozenset(flags), self.last_sync, now, done, self.name]
                w.obs.append(ob)
                self.cur["last_fetch"][uid] = ob
            if "MODSEQ" in items:
                ms = int(items["MODSEQ"][0])
                w.max_modseq[box] = max(w.max_modseq.get(box, 0), ms)
                if "FLAGS" in items:
                    fl = frozenset(self.flags[uid])
                    prev = self.modseq.get(uid)
                    if prev and (ms < prev[0] or ms == prev[0] and fl != prev[1]):
                        self.fail("UID %d: MODSEQ %d FLAGS %s after MODSEQ %d FLAGS %s" % (
                            uid, ms, sorted(fl), prev[0], sorted(prev[1])))
                    self.modseq[uid] = (ms, fl)
                    other = w.modseq_flags.setdefault((box, uid, ms), (fl, self.name))
                    if other[0] != fl:
                        self.fail("UID %d MODSEQ %d: FLAGS %s here, %s in %s" % (
                            uid, ms, sorted(fl), sorted(other[0]), other[1]))
                elif uid in self.modseq and ms < self.modseq[uid][0]:
                    self.fail("UID %d: MODSEQ went back to %d" % (uid, ms))

    # ---- helpers of the test ----
    def learn(self):
        """Reads the UIDs of messages announced by EXISTS and not known."""
        if self.resync:
            self.resync = False
            self.view = [None] * len(self.view)
        for _ in range(20):
            if not self.view or None not in self.view:
                return
            # The FETCH may end with an EXISTS of newer ones (Dovecot's do).
            first, n = self.view.index(None) + 1, len(self.view)
            self.cmd("FETCH %d:* (UID FLAGS%s)" % (first, " MODSEQ" if self.condstore else ""),
                     seq=True)
            if None in self.view[:n]:
                self.fail("FETCH %d:* left messages without a UID" % first)
        self.fail("messages without a UID after 20 FETCHes")

    def select(self, box, examine=False):
        self.view, self.flags, self.modseq, self.box = None, {}, {}, box
        self.recent_count = 0
        self.readonly = examine
        out, _ = self.cmd("%s %s" % ("EXAMINE" if examine else "SELECT", box))
        n = [int(m.group(1)) for t, _ in out for m in [re.match(r"\* (\d+) EXISTS", t)] if m]
        if len(n) != 1:
            self.fail("SELECT gave %d EXISTS" % len(n))
        self.view = [None] * n[0]
        self.learn()

    def known(self):
        return [u for u in self.view if u is not None]

    def idle(self, seconds):
        """IDLE for a while, taking what comes (EXPUNGE allowed, RFC 2177)."""
        self.between()
        self.tagn += 1
        tag = "%s.%d" % (self.name, self.tagn)
        self.last_sync = self.world.now()
        self.cur = {"kind": "IDLE", "ts": self.last_sync, "seq": False, "tag": tag,
                    "snap_uid": {}, "snap_modseq": {}, "ops": [], "ch": [],
                    "last_fetch": {}, "shows": False}
        self.send(tag + " IDLE")
        text, _ = self.response()
        if not text.startswith("+"):
            self.fail("IDLE refused: " + text)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.pending(max(0.0, end - time.monotonic())):
                text, lits = self.response()
                if not text.startswith("* "):
                    self.fail("%r during IDLE" % text)
                self.untagged(text, lits)
        self.send("DONE")
        return self.finish()

    def logout(self):
        self.between()
        self.tagn += 1
        tag = "%s.%d" % (self.name, self.tagn)
        self.send(tag + " LOGOUT")
        bye = False
        while True:
            text, _ = self.response()
            bye = bye or text.startswith("* BYE")
            if text.startswith(tag + " "):
                break
        if not bye or not text.startswith(tag + " OK"):
            self.fail("LOGOUT without BYE and OK")
        self.sock.close()
