"""IMAP mailbox hierarchy under change, checked against a model.

Three IMAPS sessions of one account take random steps (seeded; every
failure names its seed and step): s0 has ENABLEd IMAP4rev2, s1
UTF8=ACCEPT (both send and read names as UTF-8), s2 neither (names in
modified UTF-7, RFC 3501 §5.1.3; the server's encoding must be the
canonical one). Names are sent as atoms, quoted strings or literals and
hold spaces, quotes, backslashes, "&", accented letters, CJK and a
character outside the BMP. Most steps are one command of one session;
one step in ten is a race: two sessions send their commands at once and
the results must be those of one of the two serial orders (the
mailbox writes are serialised in the store; the model keeps whichever
order the answers and the state afterwards fit).

Steps: CREATE (nested names with "/", the delimiter LIST "" "" gives;
missing parents made on the way, RFC 9051 §6.3.4; a trailing "/"
dropped; names that exist; invalid names; CREATE ... (USE (\\Sent)) and
an unsupported USE, RFC 6154), DELETE (a leaf, a mailbox with children,
INBOX, a name that does not exist, a special-use mailbox), RENAME (a
leaf, a parent with its children, onto an existing name, into its own
subtree, onto a name another mailbox held before, INBOX),
SUBSCRIBE/UNSUBSCRIBE (of names that exist and that do not), APPEND
into random mailboxes, SELECT/EXAMINE (of names deleted or renamed by
another session too), UNSELECT and STATUS. The server is restarted
(data kept) in the middle and at the end of each seed.

After every step, from every session: LIST "" "*" (names, \\HasChildren
or \\HasNoChildren, special-use attributes, never \\Noselect or
\\NonExistent) and LIST (SUBSCRIBED) "" "*" must equal the model; a
session with a mailbox selected sends NOOP, which must bring its EXISTS
to the model's count (RENAME INBOX expunges from INBOX) or end the
session with BYE when that mailbox was deleted. One session (in turn)
STATUSes every mailbox: MESSAGES, UIDNEXT, UIDVALIDITY and MAILBOXID
must be the model's. Every tenth step and after each restart every
session also checks LSUB and LIST ... RETURN (SUBSCRIBED SPECIAL-USE
STATUS (...)), and after a restart every message is FETCHed where the
model says it is (a SELECT does that for its mailbox too).

Identity rules checked throughout: (mailbox name, UIDVALIDITY, UID)
names one message forever (RFC 9051 §6.4.9; §6.3.4-6 for a name used
again after DELETE or RENAME: its new mailbox gets a new UIDVALIDITY or
higher UIDs); a RENAMEd mailbox keeps UIDVALIDITY, UIDs and MAILBOXID;
no two mailboxes ever report the same MAILBOXID (RFC 8474 §4).

Where RFC 9051 leaves the choice, the model holds the server's:
- DELETE of a mailbox with children is refused (NO [HASCHILDREN] in an
  IMAP4rev2 session, some NO before), the alternative of §6.3.5
  (\\Noselect) is not used, so no name is ever \\Noselect.
- Missing parents are made as real mailboxes by CREATE and RENAME.
- Subscriptions are names of their own (store_subscription.c), as
  Dovecot keeps them: SUBSCRIBE takes any valid name, existing or not;
  DELETE and RENAME leave them alone (§6.3.7: the server "MUST NOT
  unilaterally remove an existing mailbox name from the subscription
  list even if a mailbox by that name no longer exists"), so LIST
  (SUBSCRIBED) lists a subscribed name without a mailbox as
  \\NonExistent and a mailbox CREATEd again under it is subscribed.
  Before IMAP4rev2 UNSUBSCRIBE of an unknown name may be NO (RFC 3501
  §6.3.12); after ENABLE IMAP4rev2 it must be OK (§6.3.8).
- RENAME INBOX makes the new mailbox (new UIDVALIDITY, UIDs from 1 in
  INBOX's order) and leaves INBOX empty with its UIDNEXT; INBOX's
  children stay, RENAME INBOX INBOX/x too (INBOX itself does not move);
  RENAME into a mailbox's own subtree is refused (NO), as are DELETE
  INBOX and RENAME x INBOX.
- Special-use: roles live with the mailbox: RENAME moves the attribute
  to the new name, DELETE removes it, a mailbox CREATEd later under the
  old name has none; several mailboxes may have the same use;
  CREATE ... (USE (\\Bogus)) is NO [USEATTR] (every use of the IANA
  registry JMAP has as a role is taken, \\All and \\Flagged among them).
- A session whose selected mailbox is deleted (by any session, itself
  included) gets "* BYE" at its next NOOP and is closed; one whose
  selected mailbox is renamed stays on it under the new name. A SELECT
  of a name that is gone is NO [NONEXISTENT] and leaves no mailbox
  selected.
- Every mailbox made gets a UIDVALIDITY above any handed out before
  (store_mailbox_ops.c new_uidvalidity()), stricter than the RFC.

Three seeds of 300 steps take about 9 s. The other tests here are
minimal reproductions of what this model found, each asserting what the
RFC requires: the six mailboxes of a new account share one UIDVALIDITY
and so one MAILBOXID (store_admin.c), which lets a name RENAMEd from one
of them to another name a second message under the same UIDVALIDITY and
UID; UNSUBSCRIBE of a name that is no mailbox is NO after ENABLE
IMAP4rev2; CREATE inbox/x makes INBOX/x, which SELECT, STATUS and
APPEND of inbox/x then do not find.
"""
import base64
import collections
import copy
import random
import re
import socket

from test_imap import BOB, BOB_PW, Raw, ctx, raw_response, srv

DEFAULTS = [("INBOX", None), ("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"),
            ("Junk", "\\Junk"), ("Archive", "\\Archive")]
USES = ["\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive", "\\Important", "\\Flagged",
        "\\All", "\\Memos", "\\Scheduled", "\\Snoozed"]
L1 = ["Work", "work", "Home", "Ärger", "R&D", "Trips 2024", "日本語", 'Q"t', "Back\\slash",
      "\U0001F4C1 Files", "Sent", "Archive", "INBOX"]
L2 = ["a", "B", "Old", "ä", "x&y", "Q1", "Drafts", "sp ace"]
INVALID = ["a//b", "/lead", "st*r", "pc%t", "tab\there"]
MAX_BOXES = 40
STATUS_ITEMS = b"(MESSAGES UIDNEXT UIDVALIDITY MAILBOXID)"


class ModelError(AssertionError):
    pass


# ---- names on the wire ----

def mutf7_encode(name):
    """Modified UTF-7 (RFC 3501 §5.1.3), the canonical form."""
    out, run = [], []

    def flush():
        if run:
            b = "".join(run).encode("utf-16-be")
            out.append("&" + base64.b64encode(b).decode().rstrip("=").replace("/", ",") + "-")
            run.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def mutf7_decode(wire):
    out, i = [], 0
    while i < len(wire):
        if wire[i] != "&":
            out.append(wire[i])
            i += 1
            continue
        j = wire.index("-", i)
        if j == i + 1:
            out.append("&")
        else:
            b64 = wire[i + 1:j].replace(",", "/")
            out.append(base64.b64decode(b64 + "=" * (-len(b64) % 4)).decode("utf-16-be"))
        i = j + 1
    return "".join(out)


def astring(text, lits):
    """(value, rest of text) of the astring text starts with; a literal
    shows as {} in text and its octets are the next of lits."""
    if text.startswith('"'):
        out, i = [], 1
        while text[i] != '"':
            if text[i] == "\\":
                i += 1
            out.append(text[i])
            i += 1
        return "".join(out), text[i + 1:]
    if text.startswith("{}"):
        return lits.pop(0).decode("utf-8"), text[2:]
    m = re.match(r"[^ ()]*", text)
    return m.group(0), text[m.end():]


def norm(name):
    """The name the store keeps: INBOX in any case is INBOX."""
    return "INBOX" if name.upper() == "INBOX" else name


def valid(name):
    return bool(name) and not name.startswith("/") and not name.endswith("/") and \
        "//" not in name and not re.search(r"[\x00-\x1f\x7f*%]", name)


def parent_of(name):
    return name.rsplit("/", 1)[0] if "/" in name else None


# ---- the model ----

class Box:
    def __init__(self, ident, name, role=None, sub=False):
        self.ident, self.name, self.role, self.sub = ident, name, role, sub
        self.uv = None       # UIDVALIDITY, learned from the server
        self.mid = None      # MAILBOXID, learned from the server
        self.uidnext = 1
        self.msgs = []       # [(uid, subject)] in UID order
        self.fresh = True    # made during the run: its UIDVALIDITY must be new


class Expect:
    """What a command must answer: statuses allowed, response codes
    allowed on NO (None: any), APPENDUID (box ident, UIDVALIDITY or None
    when still unknown, UID)."""

    def __init__(self, status, codes=None, appenduid=None):
        self.status, self.codes, self.appenduid = status, codes, appenduid

    def __repr__(self):
        return "%s%s%s" % ("|".join(sorted(self.status)),
                           " %s" % sorted(self.codes) if self.codes else "",
                           " APPENDUID %r" % (self.appenduid[1:],) if self.appenduid else "")


def ok(appenduid=None):
    return Expect({"OK"}, appenduid=appenduid)


def no(*codes):
    return Expect({"NO"}, None if None in codes else set(codes))


class Model:
    def __init__(self):
        self.boxes = {}      # name -> Box
        self.next_ident = 1
        self.vacated = set()  # names once held by a mailbox, free now
        self.keys = {}       # (name, UIDVALIDITY, UID) -> subject, forever
        self.mids = {}       # MAILBOXID -> box ident, forever
        self.top_uv = 0      # the highest UIDVALIDITY seen before this step
        self.step_top = 0    # and during it
        self.subs = set()    # subscribed names, mailboxes or not
        for name, role in DEFAULTS:
            b = self.add(name, role)
            b.fresh = False
            self.subs.add(name)

    def add(self, name, role=None):
        b = Box(self.next_ident, name, role)
        self.next_ident += 1
        self.boxes[name] = b
        self.vacated.discard(name)
        return b

    def by_ident(self, ident):
        for b in self.boxes.values():
            if b.ident == ident:
                return b
        return None

    def has_children(self, name):
        return any(n.startswith(name + "/") for n in self.boxes)

    def create_path(self, name):
        """name and its missing parents, made as the store makes them."""
        parts = name.split("/")
        for i in range(1, len(parts) + 1):
            n = "/".join(parts[:i])
            if n not in self.boxes:
                self.add(n)
        return self.boxes[name]

    def apply(self, op, rev2):
        """Applies op as the server must; returns the Expect."""
        kind = op[0]
        if kind == "CREATE":
            name, use = op[1], op[2]
            if use and use not in USES:
                return no("USEATTR")
            while len(name) > 1 and name.endswith("/"):
                name = name[:-1]  # RFC 9051 §6.3.4: the trailing delimiter is a declaration
            if not valid(name):
                return no(None)
            name = norm(name)
            if name in self.boxes:
                return no("ALREADYEXISTS")
            self.create_path(name).role = use
            return ok()
        if kind == "DELETE":
            name = norm(op[1])
            if name not in self.boxes:
                return no("NONEXISTENT")
            if name == "INBOX":
                return no(None)
            if self.has_children(name):
                return no("HASCHILDREN" if rev2 else None)
            del self.boxes[name]
            self.vacated.add(name)
            return ok()
        if kind == "RENAME":
            a, b = norm(op[1]), norm(op[2])
            errs = []
            if not valid(a) or a not in self.boxes:
                errs.append("NONEXISTENT")
            if not valid(b):
                errs.append(None)
            elif b in self.boxes:
                errs.append("ALREADYEXISTS")
            if a != "INBOX" and b.startswith(a + "/"):
                errs.append(None)
            if errs:
                return no(*errs)
            if a == "INBOX":
                inbox = self.boxes["INBOX"]
                dst = self.create_path(b)
                dst.msgs = [(i + 1, subj) for i, (_, subj) in enumerate(inbox.msgs)]
                dst.uidnext = len(dst.msgs) + 1
                inbox.msgs = []
                return ok()
            if parent_of(b):
                self.create_path(parent_of(b))
            moving = [n for n in self.boxes if n == a or n.startswith(a + "/")]
            boxes = [self.boxes.pop(n) for n in moving]
            for bx in boxes:
                bx.name = b + bx.name[len(a):]
                self.boxes[bx.name] = bx
            self.vacated.update(n for n in moving if n not in self.boxes)
            return ok()
        if kind in ("SUBSCRIBE", "UNSUBSCRIBE"):
            name = norm(op[1])
            if kind == "SUBSCRIBE":
                if not valid(name):
                    return no(None)
                self.subs.add(name)
                return ok()
            if name not in self.subs:
                # RFC 9051 §6.3.8: OK "if the mailbox is not subscribed";
                # RFC 3501 §6.3.12 allowed NO.
                return ok() if rev2 else Expect({"OK", "NO"}, {"NONEXISTENT"})
            self.subs.discard(name)
            return ok()
        if kind == "APPEND":
            name = norm(op[1])
            if name not in self.boxes:
                return no("TRYCREATE")
            bx = self.boxes[name]
            bx.msgs.append((bx.uidnext, op[2]))
            bx.uidnext += 1
            return ok((bx.ident, bx.uv, bx.uidnext - 1))
        if kind in ("SELECT", "EXAMINE", "STATUS"):
            return ok() if norm(op[1]) in self.boxes else no("NONEXISTENT")
        if kind == "UNSELECT":
            return ok()
        raise AssertionError(op)

    # What the server tells is learned once and must stay.
    def learn(self, box, uv, mid, fail):
        if box.uv is None:
            if box.fresh and uv <= self.top_uv:
                fail("%r was made with UIDVALIDITY %d, not above %d handed out before"
                     % (box.name, uv, self.top_uv))
            box.uv = uv
        elif uv != box.uv:
            fail("UIDVALIDITY of %r went from %d to %d" % (box.name, box.uv, uv))
        self.step_top = max(self.step_top, uv)
        if mid is None:
            return
        if box.mid is None:
            other = self.mids.get(mid)
            if other is not None and other != box.ident:
                holder = self.by_ident(other)
                fail("MAILBOXID %s of %r is also that of %s (RFC 8474 §4: never two mailboxes)"
                     % (mid, box.name, repr(holder.name) if holder else "a mailbox deleted before"))
            box.mid = mid
            self.mids[mid] = box.ident
        elif mid != box.mid:
            fail("MAILBOXID of %r went from %s to %s" % (box.name, box.mid, mid))

    def record_keys(self, fail):
        """(name, UIDVALIDITY, UID) of every message as it sits now: one
        message forever (RFC 9051 §6.4.9)."""
        for b in self.boxes.values():
            if b.uv is None:
                continue
            for uid, subj in b.msgs:
                key = (b.name, b.uv, uid)
                was = self.keys.setdefault(key, subj)
                if was != subj:
                    fail("mailbox %r UIDVALIDITY %d UID %d was message %s and is %s now: a name "
                         "used again must get a new UIDVALIDITY or higher UIDs (RFC 9051 §6.3.6, "
                         "§6.4.9)" % (b.name, b.uv, uid, was, subj))


# ---- sessions ----

Reply = collections.namedtuple("Reply", "untagged tagged")


class Conn:
    """One IMAPS session; mode "rev2", "utf8" or "rev1"."""

    def __init__(self, run, name, mode):
        self.run, self.name, self.mode = run, name, mode
        self.utf8 = mode in ("rev2", "utf8")
        self.rev2 = mode == "rev2"
        self.tagn = 0
        self.connect()

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.run.srv.imaps_port), 30)
        self.sock = ctx().wrap_socket(sock, server_hostname="mx.example.test")
        self.buf = b""
        self.bye = None
        self.selected, self.selected_before, self.exists = None, None, 0
        self.response()
        self.simple([b'LOGIN "%s" "%s"' % (BOB.encode(), BOB_PW.encode())])
        if self.mode != "rev1":
            self.simple([b"ENABLE " + (b"IMAP4rev2" if self.rev2 else b"UTF8=ACCEPT")])
        u = self.simple([b'LIST "" ""']).untagged
        if [t for t, _ in u] != ['* LIST (\\Noselect) "/" ""']:
            self.run.fail("%s: the delimiter is not \"/\": %r" % (self.name, u))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- bytes --
    def response(self):
        text, lits = raw_response(self)
        text = text.decode("utf-8")
        self.run.trace.append("%s S: %s" % (self.name, text[:200]))
        return text, lits

    # -- names --
    def arg(self, name):
        """name as this session sends it: atom, quoted string or literal."""
        enc = name if self.utf8 else mutf7_encode(name)
        r = self.run.rnd.random()
        if r < 0.1:
            return b"{%d+}\r\n" % len(enc.encode()) + enc.encode()
        if r < 0.55 and enc.upper() != "NIL" and \
                re.fullmatch(r"[!#$&'+,\-./0-9:;<=>?@A-Z\[^_`a-z|}~]+", enc):
            return enc.encode()
        return ('"' + enc.replace("\\", "\\\\").replace('"', '\\"') + '"').encode()

    def unwire(self, wire):
        """The UTF-8 name of a name the server sent."""
        if self.utf8:
            return wire
        if not all(" " <= c <= "~" for c in wire) or mutf7_encode(mutf7_decode(wire)) != wire:
            self.run.fail("%s: %r is not canonical modified UTF-7" % (self.name, wire))
        return mutf7_decode(wire)

    def op_parts(self, op):
        kind = op[0]
        if kind == "CREATE":
            use = [b"(USE (%s))" % op[2].encode()] if op[2] else []
            return [b"CREATE", self.arg(op[1])] + use
        if kind == "RENAME":
            return [b"RENAME", self.arg(op[1]), self.arg(op[2])]
        if kind == "APPEND":
            msg = ("From: alice@remote.test\r\nSubject: %s\r\n\r\nbody of %s\r\n"
                   % (op[2], op[2])).encode()
            return [b"APPEND", self.arg(op[1]), b"{%d+}\r\n" % len(msg) + msg]
        if kind == "STATUS":
            return [b"STATUS", self.arg(op[1]), STATUS_ITEMS]
        if kind == "UNSELECT":
            return [b"UNSELECT"]
        return [kind.encode(), self.arg(op[1])]

    # -- commands --
    def send(self, cmds):
        """Sends the commands (lists of byte parts) at once; their tags."""
        tags, data = [], b""
        for parts in cmds:
            self.tagn += 1
            tags.append("%s.%d" % (self.name, self.tagn))
            line = tags[-1].encode() + b" " + b" ".join(parts)
            self.run.trace.append("%s C: %s" % (self.name, line[:200].decode("utf-8", "replace")))
            data += line + b"\r\n"
        self.sock.sendall(data)
        return tags

    def read(self, tags):
        """The Reply of each tag; after "* BYE" the rest are None and the
        connection is closed."""
        out, cur, untagged = {}, 0, []
        while cur < len(tags):
            try:
                text, lits = self.response()
            except (EOFError, OSError):
                if not self.bye:
                    self.run.fail("%s: connection closed without BYE" % self.name)
                break
            if text.startswith(tags[cur] + " "):
                out[tags[cur]] = Reply(untagged, text)
                cur, untagged = cur + 1, []
                continue
            if not text.startswith("* "):
                self.run.fail("%s: unexpected %r" % (self.name, text))
            if text.startswith("* BYE"):
                self.bye = text
            m = re.match(r"\* (\d+) (EXISTS|EXPUNGE)$", text)
            if m and m.group(2) == "EXISTS":
                self.exists = int(m.group(1))
            elif m:
                self.exists -= 1
            untagged.append((text, lits))
        if self.bye:
            self.close()
        return [out.get(t) for t in tags]

    def batch(self, cmds):
        return self.read(self.send(cmds))

    def simple(self, parts):
        r = self.batch([parts])[0]
        if r is None or not r.tagged.split(" ", 2)[1] == "OK":
            self.run.fail("%s: %r failed: %r" % (self.name, parts, r))
        return r


def parse_tagged(text):
    """(status, response code, its arguments) of a tagged line."""
    m = re.match(r"\S+ (OK|NO|BAD)(?: \[([A-Z-]+)([^\]]*)\])?", text)
    return m.group(1), m.group(2), (m.group(3) or "").split()


def list_lines(conn, untagged, word="LIST"):
    """{name: set of attributes (lower case)} of LIST or LSUB answers,
    and {name: {item: value}} of the STATUS answers among them."""
    names, status = {}, {}
    for text, lits in untagged:
        lits = list(lits)
        m = re.match(r"\* %s \(([^)]*)\) (\S+) " % word, text)
        if m:
            if m.group(2) != '"/"':
                conn.run.fail("%s: delimiter %s in %r" % (conn.name, m.group(2), text))
            wire, rest = astring(text[m.end():], lits)
            name = conn.unwire(wire)
            if name in names:
                conn.run.fail("%s: %r listed twice" % (conn.name, name))
            names[name] = set(m.group(1).lower().split())
            continue
        if text.startswith("* STATUS "):
            wire, rest = astring(text[len("* STATUS "):], lits)
            status[conn.unwire(wire)] = {k: int(v) if v.isdigit() else v
                                         for k, v in re.findall(r"([A-Z]+) \(?(\w+)\)?", rest)}
    return names, status


# ---- the run ----

class Run:
    def __init__(self, s, seed, steps):
        self.srv, self.seed, self.steps = s, seed, steps
        self.rnd = random.Random(seed)
        self.step = 0
        self.trace = collections.deque(maxlen=40)   # raw lines
        self.log = collections.deque(maxlen=25)     # steps and their answers
        self.subjects = 0
        self.races = self.restarts = self.byes = 0
        self.seen = collections.Counter()  # which cases were reached

    def fail(self, why):
        raise ModelError("seed %d step %d: %s\n--- last steps ---\n%s\n--- last lines ---\n%s"
                         % (self.seed, self.step, why, "\n".join(self.log), "\n".join(self.trace)))

    def subject(self):
        self.subjects += 1
        return "m%d" % self.subjects

    # -- picking steps --
    def new_name(self, model):
        r = self.rnd
        names = sorted(model.boxes)
        base = r.choice(names)
        if r.random() < 0.4 and base.count("/") < 3:
            name = base + "/" + r.choice(L2)
        else:
            name = "/".join([r.choice(L1)] + [r.choice(L2) for _ in range(r.randint(0, 2))])
        return name

    def inbox(self):
        return "".join(c.lower() if self.rnd.random() < 0.3 else c for c in "INBOX")

    def gen(self, model, kind, conn=None):
        """One op of kind, or None when the model has nothing for it."""
        r = self.rnd
        names = sorted(model.boxes)
        leaves = [n for n in names if n != "INBOX" and not model.has_children(n)]
        parents = [n for n in names if n != "INBOX" and model.has_children(n)]
        special = [n for n in names if model.boxes[n].role]
        vacated = sorted(model.vacated - set(names))
        # Mailboxes some session has selected (the acting one included).
        chosen = [b.name for b in (model.by_ident(c.selected) for c in self.conns
                                   if c.selected is not None) if b and b.name != "INBOX"]
        if len(names) > MAX_BOXES and kind.startswith("create"):
            kind = "delete_leaf"
        if kind == "create_new":
            return ("CREATE", self.new_name(model) + ("/" if r.random() < 0.05 else ""), None)
        if kind == "create_vacated":
            return ("CREATE", r.choice(vacated), None) if vacated else None
        if kind == "create_existing":
            return ("CREATE", r.choice(names + ["inbox"]), None)
        if kind == "create_use":
            use = r.choice(USES) if r.random() < 0.85 else r.choice(["\\Bogus", "\\Noselect"])
            return ("CREATE", self.new_name(model), use)
        if kind == "create_invalid":
            return ("CREATE", r.choice(INVALID), None)
        if kind == "delete_leaf":
            return ("DELETE", r.choice(leaves)) if leaves else None
        if kind == "delete_parent":
            return ("DELETE", r.choice(parents)) if parents else None
        if kind == "delete_special":
            return ("DELETE", r.choice(special)) if special else None
        if kind == "delete_selected":
            return ("DELETE", r.choice(chosen)) if chosen else None
        if kind == "rename_selected":
            return ("RENAME", r.choice(chosen), self.new_name(model)) if chosen else None
        if kind == "delete_inbox":
            return ("DELETE", self.inbox())
        if kind == "delete_missing":
            return ("DELETE", r.choice(vacated or ["Nope"]))
        if kind == "rename_leaf":
            return ("RENAME", r.choice(leaves), self.new_name(model)) if leaves else None
        if kind == "rename_parent":
            return ("RENAME", r.choice(parents), self.new_name(model)) if parents else None
        if kind == "rename_special":
            return ("RENAME", r.choice(special), r.choice(vacated or [self.new_name(model)])) \
                if special else None
        if kind == "rename_to_vacated":
            # A name whose former mailbox held messages, taken by one that
            # holds some too: their UIDs must not be taken for each other's.
            used = sorted({k[0] for k in model.keys} & set(vacated)) or vacated
            full = [n for n in leaves + parents if model.boxes[n].msgs] or leaves + parents
            return ("RENAME", r.choice(full), r.choice(used)) if used and full else None
        if kind == "rename_existing":
            return ("RENAME", r.choice(names), r.choice(names + [self.inbox()]))
        if kind == "rename_into_self":
            src = r.choice(leaves + parents + ["INBOX"])
            return ("RENAME", src, src + "/" + r.choice(L2))
        if kind == "rename_inbox":
            dst = r.choice(vacated) if vacated and r.random() < 0.3 else self.new_name(model)
            return ("RENAME", self.inbox(), dst)
        if kind == "rename_missing":
            return ("RENAME", r.choice(vacated or ["Nope"]), self.new_name(model))
        if kind == "subscribe":
            return ("SUBSCRIBE", r.choice(names))
        if kind == "unsubscribe":
            return ("UNSUBSCRIBE", r.choice(names))
        if kind == "subscribe_missing":
            return ("SUBSCRIBE", r.choice(vacated or ["Nope"]))
        if kind == "unsubscribe_missing":
            return ("UNSUBSCRIBE", r.choice(vacated or ["Nope"]))
        if kind == "append":
            old = [n for n in names if not model.boxes[n].fresh]  # INBOX and the special-use ones
            target = r.choice(old) if r.random() < 0.3 else \
                r.choice(names) if r.random() < 0.93 else r.choice(vacated or ["Nope"])
            return ("APPEND", self.inbox() if target == "INBOX" else target, self.subject())
        if kind in ("select", "examine"):
            target = r.choice(names)
            return (kind.upper(), self.inbox() if target == "INBOX" else target)
        if kind == "select_vacated":
            return ("SELECT", r.choice(vacated)) if vacated else None
        if kind == "status_missing":
            return ("STATUS", r.choice(vacated or ["Nope"]))
        if kind == "unselect":
            return ("UNSELECT",) if conn.selected is not None else None
        raise AssertionError(kind)

    SERIAL = [("create_new", 14), ("create_vacated", 4), ("create_existing", 3), ("create_use", 3),
              ("create_invalid", 1), ("delete_leaf", 8), ("delete_parent", 3),
              ("delete_special", 1), ("delete_inbox", 1), ("delete_missing", 1),
              ("rename_leaf", 5), ("rename_parent", 4), ("rename_special", 2),
              ("rename_to_vacated", 4), ("rename_existing", 2), ("rename_into_self", 1),
              ("rename_inbox", 2), ("rename_missing", 1), ("delete_selected", 3),
              ("rename_selected", 2), ("subscribe", 3), ("unsubscribe", 3),
              ("subscribe_missing", 1), ("unsubscribe_missing", 2), ("append", 16),
              ("select", 8), ("examine", 1), ("select_vacated", 3), ("unselect", 4),
              ("status_missing", 1), ("race", 10)]
    RACY = ["create_new", "create_vacated", "create_existing", "delete_leaf", "delete_parent",
            "rename_leaf", "rename_parent", "rename_to_vacated", "rename_inbox", "subscribe",
            "unsubscribe", "append", "append"]

    def pick(self, model, kinds, conn=None):
        while True:
            kind = self.rnd.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
            op = kind if kind == "race" else self.gen(model, kind, conn)
            if op:
                self.seen[kind] += 1
                return op

    # -- running steps --
    def match(self, conn, op, exp, reply, model):
        """The answer to op is what the model expects."""
        fail = self.fail
        if reply is None:
            fail("%s: no answer to %r (%s)" % (conn.name, op, conn.bye))
        status, code, args = parse_tagged(reply.tagged)
        if status not in exp.status or \
                (status == "NO" and exp.codes is not None and code not in exp.codes):
            fail("%s: %r answered %r, the model says %r" % (conn.name, op, reply.tagged, exp))
        if status == "OK" and exp.appenduid:
            if code != "APPENDUID":
                fail("%s: no APPENDUID: %r" % (conn.name, reply.tagged))
            ident, uv, uid = exp.appenduid
            if int(args[1]) != uid or (uv is not None and int(args[0]) != uv):
                fail("%s: %r got APPENDUID %s, the model says %s %d"
                     % (conn.name, op, " ".join(args), uv, uid))
            box = model.by_ident(ident)
            if box is not None:
                model.learn(box, int(args[0]), None, fail)

    def serial(self, model, conns):
        conn = self.rnd.choice(conns)
        op = self.pick(model, self.SERIAL, conn)
        if op == "race":
            return self.race(model, conns)
        reply = conn.batch([conn.op_parts(op)])[0]
        self.log.append("%d %s %r -> %s" % (self.step, conn.name, op, reply and reply.tagged))
        if conn.bye:
            self.fail("%s: BYE during %r: %s" % (conn.name, op, conn.bye))
        target = model.boxes.get(norm(op[1])) if len(op) > 1 else None
        exp = model.apply(op, conn.rev2)
        self.match(conn, op, exp, reply, model)
        if op[0] in ("SELECT", "EXAMINE", "UNSELECT"):
            conn.selected = None
            if reply.tagged.split(" ", 2)[1] == "OK" and op[0] != "UNSELECT":
                conn.selected = target.ident
                self.check_select(conn, target, reply, model)
        return [model]

    def race(self, model, conns):
        """Two sessions send one change each at once: the answers and the
        state must be those of one serial order."""
        self.races += 1
        a, b = self.rnd.sample(conns, 2)
        op_a = self.pick(model, [(k, 1) for k in self.RACY])
        op_b = self.pick(model, [(k, 1) for k in self.RACY])
        if self.rnd.random() < 0.5 and op_a[0] in ("RENAME", "DELETE", "CREATE") and \
                op_b[0] in ("APPEND", "SUBSCRIBE", "DELETE", "CREATE", "RENAME"):
            # Aim at the same names.
            names = op_a[1:3] if op_a[0] == "RENAME" else op_a[1:2]
            pick = norm(self.rnd.choice(names)).rstrip("/") or "x"
            op_b = (op_b[0], pick) + op_b[2:] if op_b[0] != "RENAME" else \
                ("RENAME", pick, self.new_name(model))
        for c in (a, b):
            if c.selected is not None:
                # A DELETE in the race could end the session in the middle of
                # its own command: not what this step looks at.
                c.simple([b"UNSELECT"])
                c.selected = None
        ta, tb = a.send([a.op_parts(op_a)]), b.send([b.op_parts(op_b)])
        ra, rb = a.read(ta)[0], b.read(tb)[0]
        self.log.append("%d race %s %r -> %s | %s %r -> %s" % (
            self.step, a.name, op_a, ra and ra.tagged, b.name, op_b, rb and rb.tagged))
        cands, errors = [], []
        for order in (((a, op_a, ra), (b, op_b, rb)), ((b, op_b, rb), (a, op_a, ra))):
            m = copy.deepcopy(model)
            try:
                for c, op, r in order:
                    self.match(c, op, m.apply(op, c.rev2), r, m)
                cands.append(m)
            except ModelError as e:
                errors.append(str(e).split("\n", 1)[0])
        if not cands:
            self.fail("race %s %r / %s %r: answers fit neither order: %s"
                      % (a.name, op_a, b.name, op_b, "; ".join(errors)))
        return cands

    def check_select(self, conn, box, reply, model):
        text = "\n".join(t for t, _ in reply.untagged)
        exists = re.search(r"^\* (\d+) EXISTS$", text, re.M)
        uv = re.search(r"\[UIDVALIDITY (\d+)\]", text)
        nxt = re.search(r"\[UIDNEXT (\d+)\]", text)
        mid = re.search(r"\[MAILBOXID \((\w+)\)\]", text)
        if not (exists and uv and nxt and mid):
            self.fail("%s: SELECT of %r lacks EXISTS/UIDVALIDITY/UIDNEXT/MAILBOXID: %r"
                      % (conn.name, box.name, text))
        got = (int(exists.group(1)), int(nxt.group(1)))
        if got != (len(box.msgs), box.uidnext):
            self.fail("%s: SELECT %r gave EXISTS, UIDNEXT %r, the model says %r"
                      % (conn.name, box.name, got, (len(box.msgs), box.uidnext)))
        model.learn(box, int(uv.group(1)), mid.group(1), self.fail)
        conn.exists = got[0]
        self.check_messages(conn, box)

    def check_messages(self, conn, box):
        """The selected mailbox holds the model's messages under its UIDs."""
        if not box.msgs:
            return
        r = conn.simple([b"UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])"])
        got = []
        for text, lits in r.untagged:
            m = re.match(r"\* \d+ FETCH \(.*UID (\d+)", text)
            if m:
                subj = re.search(rb"Subject: (\S+)", lits[0]).group(1).decode()
                got.append((int(m.group(1)), subj))
        if sorted(got) != box.msgs:
            self.fail("%s: %r holds %r, the model says %r"
                      % (conn.name, box.name, sorted(got), box.msgs))

    # -- checking everything --
    def observe(self, conns, status_conns, full):
        """Every session's view, read from the server: {conn name: dict}."""
        obs = {}
        base = [[b'LIST "" "*"'], [b'LIST (SUBSCRIBED) "" "*"']]
        if full:
            base += [[b'LSUB "" "*"'],
                     [b'LIST "" "*" RETURN (SUBSCRIBED SPECIAL-USE STATUS ' + STATUS_ITEMS + b")"]]
        sent = {}
        for c in conns:
            cmds = ([[b"NOOP"]] if c.selected is not None else []) + base
            sent[c.name] = (c.selected is not None, c.send(cmds))
        for c in conns:
            noop, tags = sent[c.name]
            replies = c.read(tags)
            o = obs[c.name] = {"bye": None}
            if noop:
                o["noop"] = replies.pop(0)
                o["exists"] = c.exists
                if c.bye:
                    o["bye"] = c.bye
                    c.connect()
                    replies = c.batch(base)
            for what, r in zip(["list", "sub", "lsub", "liststatus"], replies):
                if r is None or parse_tagged(r.tagged)[0] != "OK":
                    self.fail("%s: %s failed: %r" % (c.name, what, r))
                o[what] = list_lines(c, r.untagged, "LSUB" if what == "lsub" else "LIST")
        for c in status_conns:
            names = sorted(obs[c.name]["list"][0])
            replies = c.batch([[b"STATUS", c.arg(n), STATUS_ITEMS] for n in names])
            st = {}
            for n, r in zip(names, replies):
                if r is None or parse_tagged(r.tagged)[0] != "OK":
                    self.fail("%s: STATUS %r failed: %r" % (c.name, n, r))
                got = list_lines(c, r.untagged)[1]
                if list(got) != [n]:
                    self.fail("%s: STATUS %r answered for %r" % (c.name, n, list(got)))
                st[n] = got[n]
            obs[c.name]["status"] = st
        return obs

    def compare(self, model, obs, conns):
        """obs (observe()) against model; learns what the model did not
        know yet (UIDVALIDITY, MAILBOXID of new mailboxes)."""
        fail = self.fail
        want = {}
        for name, b in model.boxes.items():
            attrs = {"\\haschildren" if model.has_children(name) else "\\hasnochildren"}
            if b.role:
                attrs.add(b.role.lower())
            want[name] = attrs
        subs = model.subs
        for c in conns:
            o = obs[c.name]
            if "noop" in o:
                box = model.by_ident(c.selected_before)
                if box is None and not o["bye"]:
                    fail("%s: its selected mailbox was deleted, NOOP gave %r, no BYE"
                         % (c.name, o["noop"]))
                if box is not None and o["bye"]:
                    fail("%s: BYE at NOOP, its mailbox %r is there: %s"
                         % (c.name, box.name, o["bye"]))
                if box is not None and o["exists"] != len(box.msgs):
                    fail("%s: %r selected, NOOP leaves %d messages, the model says %d"
                         % (c.name, box.name, o["exists"], len(box.msgs)))
            got = o["list"][0]
            if got != want:
                diff = {n: (got.get(n), want.get(n)) for n in set(got) | set(want)
                        if got.get(n) != want.get(n)}
                fail("%s: LIST \"\" \"*\" differs from the model (got, want): %r" % (c.name, diff))
            got = o["sub"][0]
            if set(got) != subs:
                fail("%s: LIST (SUBSCRIBED) gives %r, the model %r"
                     % (c.name, sorted(got), sorted(subs)))
            for n, attrs in got.items():
                if attrs != want.get(n, {"\\nonexistent"}) | {"\\subscribed"}:
                    fail("%s: LIST (SUBSCRIBED) %r has %r" % (c.name, n, sorted(attrs)))
            if "lsub" in o and set(o["lsub"][0]) != subs:
                fail("%s: LSUB gives %r, the model %r"
                     % (c.name, sorted(o["lsub"][0]), sorted(subs)))
            if "liststatus" in o:
                names, st = o["liststatus"]
                for n, attrs in names.items():
                    if attrs != want.get(n, set()) | ({"\\subscribed"} if n in subs else set()):
                        fail("%s: LIST RETURN (...) %r has %r" % (c.name, n, sorted(attrs)))
                if set(names) != set(want) or set(st) != set(want):
                    fail("%s: LIST-STATUS lists %r" % (c.name, sorted(st)))
                self.compare_status(model, st, c, "LIST-STATUS")
            if "status" in o:
                self.compare_status(model, o["status"], c, "STATUS")
        model.record_keys(fail)
        model.top_uv = max(model.top_uv, model.step_top)

    def compare_status(self, model, st, c, what):
        for n, items in st.items():
            b = model.boxes[n]
            got = (items.get("MESSAGES"), items.get("UIDNEXT"))
            if got != (len(b.msgs), b.uidnext):
                self.fail("%s: %s %r gives MESSAGES, UIDNEXT %r, the model says %r"
                     % (c.name, what, n, got, (len(b.msgs), b.uidnext)))
            model.learn(b, items["UIDVALIDITY"], items["MAILBOXID"], self.fail)

    def check(self, cands, conns, full=False):
        """Reads every session's view and keeps the first candidate model
        (one, or two after a race) it fits."""
        for c in conns:
            c.selected_before = c.selected
        turn = conns[self.step % len(conns)]
        obs = self.observe(conns, conns if full else [turn], full)
        first = None
        for m in cands:
            try:
                self.compare(m, obs, conns)
            except ModelError as e:
                first = first or e
                continue
            for c in conns:
                if obs[c.name]["bye"]:
                    self.byes += 1
            return m
        raise first


def run_model(seed, steps=300):
    with srv() as s:
        run = Run(s, seed, steps)
        model = Model()
        conns = run.conns = [Conn(run, "s0", "rev2"), Conn(run, "s1", "utf8"),
                             Conn(run, "s2", "rev1")]
        model = run.check([model], conns, full=True)
        for step in range(1, steps + 1):
            run.step = step
            cands = run.serial(model, conns)
            model = run.check(cands, conns, full=run.step % 10 == 0)
            if step in (steps // 2, steps):
                restart(run, model, conns)
        return run, model


def restart(run, model, conns):
    """Stops and starts the server on the same data; everything must be
    as it was, each message where the model has it."""
    run.restarts += 1
    for c in conns:
        c.close()
    run.srv.stop()
    run.srv.start()
    for c in conns:
        c.connect()
    run.check([model], conns, full=True)
    c = conns[run.restarts % len(conns)]
    for name, box in sorted(model.boxes.items()):
        if box.msgs:
            r = c.batch([[b"EXAMINE", c.arg(name)]])[0]
            if r is None or parse_tagged(r.tagged)[0] != "OK":
                run.fail("%s: EXAMINE %r after the restart: %r" % (c.name, name, r))
            run.check_select(c, box, r, model)
            c.simple([b"UNSELECT"])


def test_imap_mailbox_hierarchy_model():
    seen, byes = collections.Counter(), 0
    for seed in (1, 2, 3):
        run, model = run_model(seed)
        assert run.races >= 15 and run.restarts == 2, (seed, run.races, run.restarts)
        assert sum(len(b.msgs) for b in model.boxes.values()) >= 10, (seed, "few messages")
        seen.update(run.seen)
        byes += run.byes
    # The seeds reached what the model is for (races change the path a
    # seed takes, so the counts are over all three).
    missed = [k for k, _ in Run.SERIAL if not seen[k]]
    assert not missed and byes >= 3, (missed, byes, seen)


def cmd(r, tag, text):
    r.send("%s %s\r\n" % (tag, text))
    lines = r.until_tag(tag)
    return lines[:-1], lines[-1].decode()


def append(r, tag, mailbox, subject):
    """APPENDs a small message; (UIDVALIDITY, UID) from APPENDUID."""
    msg = "Subject: %s\r\n\r\nbody\r\n" % subject
    _, t = cmd(r, tag, "APPEND %s {%d+}\r\n%s" % (mailbox, len(msg), msg))
    m = re.search(r"OK \[APPENDUID (\d+) (\d+)\]", t)
    assert m, t
    return int(m.group(1)), int(m.group(2))


def test_imap_default_mailboxes_have_distinct_mailboxids():
    """RFC 8474 §4: "The server MUST NOT report the same MAILBOXID for
    two mailboxes at the same time." The six mailboxes a new account
    starts with are six mailboxes."""
    with srv() as s:
        r = Raw(s)
        r.login()
        ids = {}
        for name, _ in DEFAULTS:
            u, t = cmd(r, "s", "STATUS %s (MAILBOXID)" % name)
            ids[name] = re.search(rb"MAILBOXID \((\w+)\)", u[0]).group(1).decode()
        assert len(set(ids.values())) == len(ids), "one MAILBOXID for several mailboxes: %r" % ids
        r.close()


def test_imap_name_taken_over_by_rename_gets_new_uids():
    """RFC 9051 §6.4.9: "The combination of mailbox name, UIDVALIDITY,
    and UID must refer to a single immutable message on that server
    forever", and §6.3.6: a name used again must not reuse the former
    mailbox's UIDs "unless the new incarnation has a different unique
    identifier validity value". Sent's UID 1 is one message; after Sent
    is renamed away and Drafts renamed to Sent, the (Sent, UIDVALIDITY,
    1) a client cached must not name another message."""
    with srv() as s:
        r = Raw(s)
        r.login()
        first = append(r, "a", "Sent", "first")
        assert cmd(r, "r1", 'RENAME Sent "Sent old"')[1].startswith("r1 OK")
        assert cmd(r, "r2", "RENAME Drafts Sent")[1].startswith("r2 OK")
        second = append(r, "b", "Sent", "second")
        assert second != first, \
            "Sent UIDVALIDITY %d UID %d named message 'first', now 'second'" % first
        # The same through DELETE and a RENAME onto the freed name.
        third = append(r, "c", "Trash", "third")
        assert cmd(r, "d", "DELETE Trash")[1].startswith("d OK")
        assert cmd(r, "r3", "RENAME Junk Trash")[1].startswith("r3 OK")
        fourth = append(r, "e", "Trash", "fourth")
        assert fourth != third, \
            "Trash UIDVALIDITY %d UID %d named message 'third', now 'fourth'" % third
        r.close()


def test_imap_unsubscribe_of_unknown_name_rev2():
    """RFC 9051 §6.3.8: UNSUBSCRIBE "returns a tagged OK response if the
    unsubscription is successful or if the mailbox is not subscribed"; a
    name that names no mailbox is not subscribed, and a deleted mailbox's
    subscribed name can be unsubscribed."""
    with srv() as s:
        r = Raw(s)
        r.login()
        assert cmd(r, "e", "ENABLE IMAP4rev2")[1].startswith("e OK")
        assert cmd(r, "c", "CREATE Gone")[1].startswith("c OK")
        assert cmd(r, "s", "SUBSCRIBE Gone")[1].startswith("s OK")
        assert cmd(r, "d", "DELETE Gone")[1].startswith("d OK")
        for name in ("Gone", "Nope", "Nope/Deeper"):
            _, t = cmd(r, "u", "UNSUBSCRIBE %s" % name)
            assert t.startswith("u OK"), "UNSUBSCRIBE %s: %s" % (name, t)
        r.close()


def test_imap_inbox_child_named_in_any_case():
    """RFC 9051 §6.3.4: "An OK response is returned only if a new mailbox
    with that name has been created." CREATE inbox/Sub answers OK (the
    store keeps it as INBOX/Sub, INBOX being any case), so a mailbox of
    that name exists and SELECT, STATUS and APPEND must find it under the
    name CREATE took; otherwise a client that gets [TRYCREATE] from
    APPEND and then [ALREADYEXISTS] from CREATE cannot go on."""
    with srv() as s:
        r = Raw(s)
        r.login()
        assert cmd(r, "c", "CREATE inbox/Sub")[1].startswith("c OK")
        _, t = cmd(r, "c2", "CREATE inbox/Sub")
        assert t.startswith("c2 NO [ALREADYEXISTS]"), t
        for tag, text in (("st", "STATUS inbox/Sub (MESSAGES)"), ("se", "SELECT inbox/Sub")):
            _, t = cmd(r, tag, text)
            assert t.startswith(tag + " OK"), "%s: %s" % (text, t)
        assert append(r, "a", "inbox/Sub", "x")[1] == 1
        u, t = cmd(r, "st2", "STATUS INBOX/Sub (MESSAGES)")
        assert u == [b"* STATUS INBOX/Sub (MESSAGES 1)"], u
        r.close()
