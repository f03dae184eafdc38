"""kill -9 under mixed write traffic, checked after every restart.

Several clients write at once; the server is killed (SIGKILL) at a
seeded random moment, restarted on the same data directory, checked, and
the traffic starts again: six rounds (four under the sanitized build) of
0.3-2 s, but for one of 10.5-12 s, longer than the grace before the
writer sweeps freed message bytes (STORE_GC_GRACE_MS), so that sweeps
run under the load and the kill; once, the restarted server is killed
again as it starts up. The clients, each keeping at most one
operation in flight and logging what the server acknowledged, with
times relative to the kill:

- three SMTP senders deliver to bob, carol and dave (one to three
  recipients a transaction), bodies of 0.2-40 KB ending in "END tag"
  with a digest in X-Sum;
- two IMAP sessions of bob, each owning its mailboxes (K0a, K0b and a
  scratch K0s/K0t; K1...): APPEND (APPENDUID), UID STORE of flags and
  keywords (+, -, replace), UID COPY and UID MOVE (COPYUID), UID EXPUNGE,
  CREATE, RENAME and DELETE of the scratch mailbox;
- a session of dave's files the mail SMTP delivers to him meanwhile:
  UID MOVE from the INBOX to Filed and back, UID STORE of keywords;
- a POP3 client takes carol's mail: RETR (each body whole), DELE, QUIT;
- an API client (bearer token) creates and deletes aliases and accounts.

After each restart, all quiet, every mailbox of every account is read
through one fresh IMAP session and must hold exactly what was
acknowledged: each SMTP message that got 250 is in each recipient's
INBOX once (unless a POP3 QUIT that got +OK deleted it, or dave's MOVE
put it in Filed, with the keywords his STOREs gave it), an APPEND that
got [APPENDUID v u] is UID u under v, an acknowledged STORE, COPY, MOVE,
EXPUNGE, CREATE, RENAME, DELETE and API call is reflected. What was in
flight at the kill may be done or not, but whole: the model before it
or the model after it, nothing between (a MOVE in both mailboxes or in
neither, a delivery in one recipient's INBOX and not another's, a POP3
QUIT that deleted some of its messages). A delivery whose final dot was
never sent, or a POP3 session that never sent QUIT, has no effect at all.

Invariants, per mailbox: STATUS MESSAGES = EXISTS = FETCH results,
UIDs strictly ascending, UIDNEXT above every UID and above every UID
ever acknowledged or seen in that mailbox, HIGHESTMODSEQ at least every
MODSEQ and the MODSEQ of every acknowledged STORE, STATUS SIZE the sum
of RFC822.SIZE, every body whole (digest, end line, size); per
mailbox (MAILBOXID): UIDVALIDITY never changes, is never handed to
another mailbox, and UIDNEXT and HIGHESTMODSEQ never go back across a
restart; per account: one EMAILID per message and the same bytes for
every copy of it (each copy's keywords its own), storage used (API "used"
and "emails", GETQUOTAROOT for bob) that of its messages, `tern fetch` agreeing
with IMAP. The server's log has no error and never says corrupt, panic,
fatal or a broken invariant, and it serves a last delivery at the end.

The seed is printed and in every failure; TERN_KILL9_SEED=n repeats one
(the kill lands at the same offset; the thread interleaving differs).
"""
import copy
import hashlib
import http.client
import json
import os
import poplib
import random
import re
import socket
import threading
import time
import traceback

from harness import Server, Raw, SANITIZED
from test_imap import ctx, uid_list

# Loads the machine: run.py runs it alone in the plain run. What it
# asserts, the store's consistency across kills, load does not change;
# the sanitized run joins the pool.
EXCLUSIVE = "plain"

BOB, CAROL, DAVE = "bob@example.test", "carol@example.test", "dave@example.test"
PW = {BOB: "bob-pw-1", CAROL: "carol-pw-1", DAVE: "dave-pw-1"}
FLAGS = ("\\Seen", "\\Flagged", "\\Answered", "$Work", "$Label1", "\\Deleted")
# What the log must never say. MDB_CORRUPTED is -30796, MDB_PAGE_NOTFOUND
# -30797; a kill and a restart log no error at all.
BAD_LOG = re.compile(r"corrupt|panic|page_notfound|-3079[67]|level=error|event=fatal"
                     r"|event=invariant_broken", re.I)


class Gone(Exception):
    """The connection broke (the kill): what was in flight is uncertain."""


class Refused(AssertionError):
    """An answer the test did not expect (NO, BAD, a 4xx/5xx, a status)."""


class Broken(AssertionError):
    """A stored message that is not whole."""


def make_message(tag, to, rnd, size):
    """A message whose body ends in "END tag" and whose digest is in X-Sum."""
    lines, n = [], 0
    while n < size:
        line = "%s line %d %016x" % (tag, len(lines), rnd.getrandbits(64))
        lines.append(line)
        n += len(line) + 2
    body = "\r\n".join(lines) + "\r\nEND " + tag + "\r\n"
    return ("From: alice@remote.test\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@kill9.test>\r\n"
            "X-Sum: %s\r\n\r\n%s" % (to, tag, tag, hashlib.sha256(body.encode()).hexdigest()[:20],
                                      body)).encode()


def message_tag(raw):
    """The tag of a stored message; Broken unless its body is whole."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    t = re.search(rb"(?:^|\r\n)Subject: (\S+)\r\n", head)
    d = re.search(rb"(?:^|\r\n)X-Sum: (\w+)(?:\r\n|$)", head)
    if not (sep and t and d):
        raise Broken("a message without tag or digest: %r" % raw[:300])
    tag = t.group(1).decode()
    if hashlib.sha256(body).hexdigest()[:20].encode() != d.group(1) or \
            not body.endswith(b"\r\nEND " + t.group(1) + b"\r\n"):
        raise Broken("message %s is not whole: %d octets of body, ending %r" % (
            tag, len(body), body[-60:]))
    return tag


class Imap:
    """One IMAPS session of an account with CONDSTORE enabled."""

    def __init__(self, s, user, timeout=30):
        try:
            sock = socket.create_connection(("127.0.0.1", s.imaps_port), timeout)
            self.sock = ctx().wrap_socket(sock, server_hostname="mx.example.test")
        except OSError as e:
            raise Gone("connect: %s" % e)
        self.buf, self.tagn, self.selected = b"", 0, None
        self.response()
        self.ok('LOGIN "%s" "%s"' % (user, PW[user]))
        self.ok("ENABLE CONDSTORE")

    def _fill(self, n):
        while len(self.buf) < n:
            try:
                d = self.sock.recv(1 << 18)
            except OSError as e:
                raise Gone(str(e))
            if not d:
                raise Gone("connection closed")
            self.buf += d

    def _line(self):
        start = 0
        while True:
            i = self.buf.find(b"\r\n", start)
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            start = max(0, len(self.buf) - 1)
            self._fill(len(self.buf) + 1)

    def response(self):
        """One response: its text (each literal shows as {}) and its literals."""
        text, lits = b"", []
        while True:
            line = self._line()
            m = re.search(rb"\{(\d+)\}$", line)
            if not m:
                return (text + line).decode("utf-8", "replace"), lits
            n = int(m.group(1))
            self._fill(n)
            lits.append(self.buf[:n])
            self.buf = self.buf[n:]
            text += line[:m.start()] + b"{}"

    def cmd(self, text, literal=None):
        """(untagged responses, tagged line)."""
        self.tagn += 1
        tag = "k%d" % self.tagn
        data = ("%s %s" % (tag, text)).encode()
        if literal is not None:
            data += b" {%d+}\r\n" % len(literal) + literal
        try:
            self.sock.sendall(data + b"\r\n")
        except OSError as e:
            raise Gone(str(e))
        out = []
        while True:
            text_, lits = self.response()
            if text_.startswith(tag + " "):
                return out, text_[len(tag) + 1:]
            out.append((text_, lits))

    def ok(self, text, literal=None):
        out, tagged = self.cmd(text, literal)
        if not tagged.startswith("OK"):
            raise Refused("%s -> %s" % (text[:80], tagged))
        return out, tagged

    def select(self, box):
        if self.selected != box:
            self.ok("SELECT " + box)
            self.selected = box

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Client:
    """What one client did in a round: the acknowledged operations (with
    times) and the one in flight when the connection broke."""

    def __init__(self, name, rnd):
        self.name, self.rnd, self.n = name, rnd, 0
        self.acked, self.pending, self.error, self.gone = [], None, None, None

    def begin(self, op):
        op["t_sent"] = time.monotonic()
        self.pending = op
        return op

    def done(self, op):
        op["t_ack"] = time.monotonic()
        self.pending = None
        self.acked.append(op)

    def thread(self, s, stop):
        self.acked, self.pending, self.error, self.gone = [], None, None, None

        def run():
            try:
                self.traffic(s, stop)
            except Gone as e:
                self.gone = str(e)
            except Exception:
                self.error = traceback.format_exc()
        return threading.Thread(target=run, name=self.name)

    def timeline(self, t_kill, last=6):
        """The last acknowledged operations and the one in flight, in
        seconds relative to the kill."""
        out = ["  %s:" % self.name]
        for op in self.acked[-last:]:
            out.append("    %+.3fs..%+.3fs acked   %s" % (op["t_sent"] - t_kill, op["t_ack"] - t_kill,
                                                          describe(op)))
        if self.pending:
            out.append("    %+.3fs           in flight %s (then: %s)" % (
                self.pending["t_sent"] - t_kill, describe(self.pending), self.gone))
        return out


def describe(op):
    keys = [k for k in ("box", "dst", "uids", "mode", "flags", "tag", "rcpts", "phase", "uid", "map",
                        "tags", "name") if k in op]
    return op["kind"] + " " + " ".join("%s=%s" % (k, op[k]) for k in keys)


# ---- SMTP ----

class SmtpClient(Client):
    def traffic(self, s, stop):
        r = self.rnd
        try:
            c = Raw(s.smtp_port, timeout=30)
            c.cmd("EHLO kill9.test")
        except (OSError, EOFError) as e:
            raise Gone(str(e))
        while not stop.is_set():
            self.n += 1
            tag = "%s-%d" % (self.name, self.n)
            rcpts = r.sample((BOB, CAROL, DAVE), r.choice((1, 1, 1, 2, 3)))
            size = r.randint(200, 40000) if r.random() < 0.3 else r.randint(200, 4000)
            text = make_message(tag, rcpts[0], r, size)
            op = self.begin({"kind": "smtp", "tag": tag, "rcpts": rcpts, "phase": "envelope"})
            try:
                self.expect(c.cmd("MAIL FROM:<alice@remote.test>"), 250)
                for rcpt in rcpts:
                    self.expect(c.cmd("RCPT TO:<%s>" % rcpt), 250)
                self.expect(c.cmd("DATA"), 354)
                op["phase"] = "data"
                c.send(text + b".\r\n")
                # Past here the server may have the whole message.
                op["phase"] = "dot"
                self.expect(c.reply(), 250)
            except (OSError, EOFError) as e:
                raise Gone(str(e))
            self.done(op)
            time.sleep(r.uniform(0, 0.02))

    def expect(self, reply, code):
        if reply[0] != code:
            raise Refused("SMTP %s, expected %d" % (reply, code))


# ---- POP3 ----

class Pop3Client(Client):
    def traffic(self, s, stop):
        r = self.rnd
        while not stop.is_set():
            try:
                p = poplib.POP3_SSL("127.0.0.1", s.pop3s_port, context=ctx(), timeout=30)
                p.user(CAROL)
                p.pass_(PW[CAROL])
                sizes = dict(map(int, x.split()) for x in p.list()[1])
                tags = []
                for n in r.sample(sorted(sizes), min(r.randint(0, 3), len(sizes))):
                    raw = b"\r\n".join(p.retr(n)[1]) + b"\r\n"
                    if len(raw) != sizes[n]:
                        raise Refused("RETR %d gave %d octets, LIST said %d" % (n, len(raw), sizes[n]))
                    tags.append(message_tag(raw))
                    p.dele(n)
                # Before QUIT nothing is deleted, whatever happens.
                op = self.begin({"kind": "pop3", "tags": tags})
                p.quit()
                self.done(op)
            except (OSError, EOFError) as e:
                raise Gone(str(e))
            except poplib.error_proto as e:
                if "EOF" in str(e):  # poplib's word for a closed connection
                    raise Gone(str(e))
                raise Refused("POP3: %s" % e)
            time.sleep(r.uniform(0.02, 0.15))


# ---- the API ----

class ApiClient(Client):
    def __init__(self, name, rnd, token):
        super().__init__(name, rnd)
        self.token = token
        self.aliases, self.accounts = set(), set()

    def call(self, s, method, path, body=None):
        h = {"Authorization": "Bearer " + self.token}
        if body is not None:
            h["Content-Type"] = "application/json"
            body = json.dumps(body)
        c = http.client.HTTPConnection("127.0.0.1", s.http_port, timeout=30)
        try:
            c.request(method, "/api/v1" + path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            raise Gone(str(e))
        finally:
            c.close()
        return r.status, json.loads(data) if data else None

    def traffic(self, s, stop):
        r = self.rnd
        while not stop.is_set():
            self.n += 1
            if r.random() < 0.3:
                if self.accounts and r.random() < 0.5:
                    name = r.choice(sorted(self.accounts))
                    op = self.begin({"kind": "account_del", "name": name})
                    want = (204, "DELETE", "/accounts/" + name, None)
                else:
                    name = "tmp%d@example.test" % self.n
                    op = self.begin({"kind": "account_add", "name": name})
                    want = (201, "POST", "/accounts", {"email": name, "password": "tmp-pw-%d" % self.n})
            elif self.aliases and r.random() < 0.5:
                name = r.choice(sorted(self.aliases))
                op = self.begin({"kind": "alias_del", "name": name})
                want = (204, "DELETE", "/aliases/" + name, None)
            else:
                name = "al%d@example.test" % self.n
                op = self.begin({"kind": "alias_add", "name": name})
                want = (201, "POST", "/aliases", {"alias": name, "target": DAVE})
            st, body = self.call(s, *want[1:])
            if st != want[0]:
                raise Refused("API %s %s: %d %s" % (want[1], want[2], st, body))
            self.apply(op, self.aliases, self.accounts)
            self.done(op)
            time.sleep(r.uniform(0.03, 0.15))

    @staticmethod
    def apply(op, aliases, accounts):
        {"alias_add": aliases.add, "alias_del": aliases.discard,
         "account_add": accounts.add, "account_del": accounts.discard}[op["kind"]](op["name"])


# ---- IMAP: one session owning its mailboxes ----

def new_box(validity=None):
    # validity None: not known yet (a CREATE acknowledged, its STATUS not
    # seen); maxuid: the highest UID acknowledged or seen in it; floor:
    # the highest MODSEQ an acknowledged STORE reported in it.
    return {"uids": {}, "validity": validity, "maxuid": 0, "floor": 0}


def apply_op(st, op, got=None):
    """The model state st after op, as a new state. UIDs the op created
    come from the server's answer; for an op in flight at the kill (no
    answer) they are read from got, the mailboxes observed, and None is
    returned when got cannot be op's outcome."""
    st = copy.deepcopy(st)
    boxes, kw, k = st["boxes"], st["kw"], op["kind"]
    if k == "append":
        b = boxes[op["box"]]
        uid = op.get("uid")
        if uid is None:
            if got is None or op["box"] not in got:
                return None
            new = [u for u in got[op["box"]]["uids"] if u not in b["uids"]]
            if len(new) != 1 or new[0] <= b["maxuid"]:
                return None
            uid = new[0]
        b["uids"][uid] = (op["tag"], "\\deleted" in op["flags"])
        b["maxuid"] = max(b["maxuid"], uid)
        kw[op["box"], uid] = frozenset(f for f in op["flags"] if f != "\\deleted")
    elif k == "store":
        b = boxes[op["box"]]
        fl = set(op["flags"])
        for uid in op["uids"]:
            tag, deleted = b["uids"][uid]
            keys = set(kw[op["box"], uid])
            if op["mode"] == "+":
                keys |= fl
                deleted = deleted or "\\deleted" in fl
            elif op["mode"] == "-":
                keys -= fl
                deleted = deleted and "\\deleted" not in fl
            else:
                keys = set(fl)
                deleted = "\\deleted" in fl
            kw[op["box"], uid] = frozenset(keys - {"\\deleted"})
            b["uids"][uid] = (tag, deleted)
        b["floor"] = max(b["floor"], op.get("modseq", 0))
    elif k in ("copy", "move"):
        src, dst = boxes[op["box"]], boxes[op["dst"]]
        pairs = op.get("map")
        if pairs is None:
            if got is None or op["dst"] not in got:
                return None
            new = sorted(u for u in got[op["dst"]]["uids"] if u not in dst["uids"])
            if len(new) != len(op["uids"]) or (new and new[0] <= dst["maxuid"]):
                return None
            pairs = list(zip(sorted(op["uids"]), new))
        # A copy is a message of its own: its keywords start as its
        # source's, then go their own way (RFC 9051 §6.4.7).
        for su, du in pairs:
            dst["uids"][du] = src["uids"][su]
            dst["maxuid"] = max(dst["maxuid"], du)
            kw[op["dst"], du] = kw[op["box"], su]
        if k == "move":
            for su, _ in pairs:
                del src["uids"][su]
                del kw[op["box"], su]
    elif k == "expunge":
        b = boxes[op["box"]]
        for uid in op["uids"]:
            if b["uids"][uid][1]:
                del b["uids"][uid]
    elif k == "create":
        boxes[op["box"]] = new_box()
    elif k == "rename":
        boxes[op["dst"]] = boxes.pop(op["box"])
        for key in [x for x in kw if x[0] == op["box"]]:
            kw[op["dst"], key[1]] = kw.pop(key)
    elif k == "delete":
        del boxes[op["box"]]
        for key in [x for x in kw if x[0] == op["box"]]:
            del kw[key]
    return st


def diff_state(want, got):
    """How the observed mailboxes got differ from the model state want."""
    out = []
    if set(want["boxes"]) != set(got):
        out.append("mailboxes %s, expected %s" % (sorted(got), sorted(want["boxes"])))
    for name in sorted(set(want["boxes"]) & set(got)):
        w, g = want["boxes"][name], got[name]
        if w["validity"] is not None and w["validity"] != g["validity"]:
            out.append("%s: UIDVALIDITY %d, expected %d" % (name, g["validity"], w["validity"]))
        if w["uids"] != g["uids"]:
            lost = sorted(set(w["uids"]) - set(g["uids"]))
            extra = sorted(set(g["uids"]) - set(w["uids"]))
            changed = sorted(u for u in set(w["uids"]) & set(g["uids"]) if w["uids"][u] != g["uids"][u])
            out.append("%s: %s" % (name, "; ".join(
                what % (items,) for what, items in (
                    ("missing UIDs %s", [(u, w["uids"][u]) for u in lost]),
                    ("unexpected UIDs %s", [(u, g["uids"][u]) for u in extra]),
                    ("(tag, \\Deleted) differ: %s", [(u, w["uids"][u], g["uids"][u]) for u in changed]))
                if items)))
        for uid, (tag, _) in sorted(g["uids"].items()):
            key = (name, uid)
            if key in want["kw"] and want["kw"][key] != g["kw"][uid]:
                out.append("%s UID %d (%s): keywords %s, expected %s" % (
                    name, uid, tag, sorted(g["kw"][uid]), sorted(want["kw"][key])))
    return out


class ImapClient(Client):
    """Bob's session that alone works the mailboxes K<k>a, K<k>b and the
    scratch K<k>s / K<k>t: st is what the server acknowledged."""

    def __init__(self, name, rnd, k):
        super().__init__(name, rnd)
        self.prefix = "K%d" % k
        self.st = {"boxes": {self.prefix + "a": new_box(), self.prefix + "b": new_box()}, "kw": {}}

    def traffic(self, s, stop):
        c = Imap(s, BOB)
        while not stop.is_set():
            self.step(c)

    def run(self, c, op, text, literal=None):
        self.begin(op)
        return c.ok(text, literal)

    def validity(self, box, v):
        b = self.st["boxes"][box]
        if b["validity"] is None:
            b["validity"] = v
        elif b["validity"] != v:
            raise Refused("%s: UIDVALIDITY %d in an answer, %d before" % (box, v, b["validity"]))

    def finish(self, op):
        self.st = apply_op(self.st, op)
        self.done(op)

    def step(self, c):
        r = self.rnd
        boxes = self.st["boxes"]
        full = sorted(n for n in boxes if boxes[n]["uids"])
        total = sum(len(b["uids"]) for b in boxes.values())
        kind = r.choice(["append"] * (4 if total < 40 else 1) + ["store"] * 3 + ["copy", "move", "move"]
                        + ["expunge"] * (2 if total < 40 else 6) + ["scratch"])
        if kind in ("store", "copy", "move", "expunge") and not full:
            kind = "append"
        if kind == "append":
            box = r.choice(sorted(boxes))
            flags = r.sample(FLAGS, r.randint(0, 2))
            self.n += 1
            tag = "%s-%d" % (self.name, self.n)
            op = {"kind": "append", "box": box, "flags": [f.lower() for f in flags], "tag": tag}
            _, tagged = self.run(c, op, "APPEND %s (%s)" % (box, " ".join(flags)),
                                 make_message(tag, BOB, r, r.randint(100, 3000)))
            m = re.search(r"\[APPENDUID (\d+) (\d+)\]", tagged)
            if not m:
                raise Refused("APPEND without APPENDUID: " + tagged)
            self.validity(box, int(m.group(1)))
            op["uid"] = int(m.group(2))
            self.finish(op)
            return
        if kind == "scratch":
            self.scratch(c)
            return
        box = r.choice(full)
        uids = sorted(boxes[box]["uids"])
        c.select(box)
        if kind == "expunge":
            dels = [u for u in uids if boxes[box]["uids"][u][1]]
            if not dels:
                kind = "store"
        if kind == "store":
            pick = sorted(r.sample(uids, min(len(uids), r.randint(1, 4))))
            mode = r.choice(["+", "+", "-", ""])
            flags = r.sample(FLAGS, r.randint(1, 2))
            op = {"kind": "store", "box": box, "uids": pick, "mode": mode,
                  "flags": [f.lower() for f in flags]}
            out, _ = self.run(c, op, "UID STORE %s %sFLAGS (%s)" % (
                ",".join(map(str, pick)), mode, " ".join(flags)))
            op["modseq"] = max([int(m.group(1)) for t, _ in out
                                for m in [re.search(r"MODSEQ \((\d+)\)", t)] if m] or [0])
            self.finish(op)
        elif kind == "expunge":
            keep = [u for u in uids if u not in dels]
            pick = sorted(r.sample(dels, min(len(dels), r.randint(1, 3)))
                          + r.sample(keep, min(len(keep), r.randint(0, 1))))
            op = {"kind": "expunge", "box": box, "uids": pick}
            self.run(c, op, "UID EXPUNGE " + ",".join(map(str, pick)))
            self.finish(op)
        else:
            dst = r.choice(sorted(b for b in boxes if b != box))
            pick = sorted(r.sample(uids, min(len(uids), r.randint(1, 3))))
            op = {"kind": kind, "box": box, "dst": dst, "uids": pick}
            out, tagged = self.run(c, op, "UID %s %s %s" % (kind.upper(), ",".join(map(str, pick)), dst))
            m = re.search(r"\[COPYUID (\d+) (\S+) (\S+)\]", tagged + " ".join(t for t, _ in out))
            if not m:
                raise Refused("UID %s without COPYUID: %s" % (kind.upper(), tagged))
            self.validity(dst, int(m.group(1)))
            src_uids, dst_uids = uid_list(m.group(2)), uid_list(m.group(3))
            if sorted(src_uids) != pick or len(dst_uids) != len(pick):
                raise Refused("COPYUID %s for UIDs %s" % (m.group(0), pick))
            op["map"] = list(zip(src_uids, dst_uids))
            self.finish(op)

    def scratch(self, c):
        r = self.rnd
        names = [self.prefix + "s", self.prefix + "t"]
        have = [n for n in names if n in self.st["boxes"]]
        if not have:
            op = {"kind": "create", "box": r.choice(names)}
            self.run(c, op, "CREATE " + op["box"])
            self.finish(op)
            return
        box = have[0]
        if c.selected == box:
            c.ok("UNSELECT")
            c.selected = None
        if r.random() < 0.5:
            op = {"kind": "rename", "box": box, "dst": [n for n in names if n != box][0]}
            self.run(c, op, "RENAME %s %s" % (box, op["dst"]))
        else:
            op = {"kind": "delete", "box": box}
            self.run(c, op, "DELETE " + box)
        self.finish(op)


# ---- IMAP: dave files the mail SMTP delivers ----

class MoverClient(Client):
    """Dave's session: UID MOVE of delivered mail from the INBOX (where the
    SMTP clients deliver meanwhile) to Filed and back, UID STORE of
    keywords. It knows only messages it has seen; kw is the keywords the
    server acknowledged, by tag."""

    def __init__(self, name, rnd):
        super().__init__(name, rnd)
        self.uids = {"INBOX": {}, "Filed": {}}  # mailbox -> {uid: tag}
        self.next_uid = 1                        # of the INBOX, not fetched yet
        self.kw = {}

    def traffic(self, s, stop):
        r = self.rnd
        c = Imap(s, DAVE)
        while not stop.is_set():
            if r.random() < 0.3 or len(self.uids["INBOX"]) < 3:
                self.learn(c)
            box = "INBOX" if len(self.uids["Filed"]) < 3 or r.random() < 0.6 else "Filed"
            known = sorted(self.uids[box])
            if not known:
                time.sleep(0.01)
                continue
            c.select(box)
            pick = sorted(r.sample(known, min(len(known), r.randint(1, 3))))
            tags = [self.uids[box][u] for u in pick]
            if r.random() < 0.6:
                dst = "Filed" if box == "INBOX" else "INBOX"
                op = self.begin({"kind": "move", "box": box, "dst": dst, "uids": pick, "tags": tags})
                out, tagged = c.ok("UID MOVE %s %s" % (",".join(map(str, pick)), dst))
                m = re.search(r"\[COPYUID \d+ (\S+) (\S+)\]", tagged + " ".join(t for t, _ in out))
                if not m or sorted(uid_list(m.group(1))) != pick:
                    raise Refused("UID MOVE %s: %s" % (pick, tagged))
                for su, du in zip(uid_list(m.group(1)), uid_list(m.group(2))):
                    self.uids[dst][du] = self.uids[box].pop(su)
            else:
                mode, flags = r.choice("+-"), r.sample(FLAGS[:5], r.randint(1, 2))
                op = self.begin({"kind": "store", "box": box, "uids": pick, "tags": tags, "mode": mode,
                                 "flags": [f.lower() for f in flags]})
                c.ok("UID STORE %s %sFLAGS (%s)" % (",".join(map(str, pick)), mode, " ".join(flags)))
                self.kw = self.stored(self.kw, op)
            self.done(op)

    def learn(self, c):
        """The INBOX's messages that came since it last looked."""
        c.select("INBOX")
        out, _ = c.ok("UID FETCH %d:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])" % self.next_uid)
        for t, lits in out:
            m = re.search(r"\bUID (\d+)", t)
            if m and lits and int(m.group(1)) >= self.next_uid:
                uid = int(m.group(1))
                self.uids["INBOX"][uid] = re.search(rb"Subject: (\S+)", lits[0]).group(1).decode()
                self.next_uid = uid + 1

    @staticmethod
    def stored(kw, op):
        kw = dict(kw)
        for t in op["tags"]:
            f = set(kw.get(t, ()))
            f = f | set(op["flags"]) if op["mode"] == "+" else f - set(op["flags"])
            kw[t] = frozenset(f)
        return kw


# ---- the checks ----

def observe(s, user, problems):
    """Every mailbox of user as one new session sees it: {name: {validity,
    uidnext, highest, mailboxid, msgs: {uid: {...}}}}. The per-mailbox
    invariants are checked on the way (problems gets what fails)."""
    c = Imap(s, user)
    out, _ = c.ok('LIST "" "*"')
    names = [t.rsplit(" ", 1)[1].strip('"') for t, _ in out if t.startswith("* LIST")]
    if len(names) != len(set(names)):
        problems.append("%s: LIST repeats a name: %s" % (user, names))
    boxes = {}
    for name in names:
        out, _ = c.ok("STATUS %s (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ SIZE)" % name)
        st = {k: int(v) for k, v in re.findall(r"([A-Z]+) (\d+)", out[-1][0].split("(", 1)[1])}
        out, _ = c.ok("EXAMINE " + name)
        c.selected = None
        text = " ".join(t for t, _ in out)
        b = {"validity": int(re.search(r"UIDVALIDITY (\d+)", text).group(1)),
             "uidnext": int(re.search(r"UIDNEXT (\d+)", text).group(1)),
             "highest": int(re.search(r"HIGHESTMODSEQ (\d+)", text).group(1)),
             "mailboxid": re.search(r"MAILBOXID \((\S+)\)", text).group(1),
             "msgs": {}}
        exists = int(re.search(r"\* (\d+) EXISTS", text).group(1))
        order = []
        if exists:
            out, _ = c.ok("FETCH 1:* (UID FLAGS RFC822.SIZE MODSEQ EMAILID BODY.PEEK[])")
            for t, lits in out:
                if not re.match(r"\* \d+ FETCH ", t):
                    continue
                uid = int(re.search(r"\bUID (\d+)", t).group(1))
                raw = lits[0] if lits else b""
                msg = {"flags": frozenset(re.search(r"FLAGS \(([^)]*)\)", t).group(1).lower().split())
                       - {"\\recent"},
                       "size": int(re.search(r"RFC822\.SIZE (\d+)", t).group(1)),
                       "modseq": int(re.search(r"MODSEQ \((\d+)\)", t).group(1)),
                       "emailid": re.search(r"EMAILID \((\S+)\)", t).group(1),
                       "raw": raw, "tag": None}
                try:
                    msg["tag"] = message_tag(raw)
                except Broken as e:
                    problems.append("%s %s UID %d: %s" % (user, name, uid, e))
                if len(raw) != msg["size"]:
                    problems.append("%s %s UID %d: RFC822.SIZE %d, the body has %d octets" % (
                        user, name, uid, msg["size"], len(raw)))
                if uid in b["msgs"]:
                    problems.append("%s %s: UID %d twice" % (user, name, uid))
                order.append(uid)
                b["msgs"][uid] = msg
        where = "%s %s" % (user, name)
        if not st["MESSAGES"] == exists == len(order):
            problems.append("%s: STATUS MESSAGES %d, EXISTS %d, FETCH gave %d" % (
                where, st["MESSAGES"], exists, len(order)))
        if order != sorted(set(order)):
            problems.append("%s: UIDs not strictly ascending: %s" % (where, order))
        if st["UIDVALIDITY"] != b["validity"] or st["UIDNEXT"] != b["uidnext"] or \
                st["HIGHESTMODSEQ"] != b["highest"]:
            problems.append("%s: STATUS %s, EXAMINE %s" % (where, st, b))
        if order and b["uidnext"] <= max(order):
            problems.append("%s: UIDNEXT %d, UID %d exists" % (where, b["uidnext"], max(order)))
        top = max(b["msgs"].items(), key=lambda kv: kv[1]["modseq"], default=None)
        if top and b["highest"] < top[1]["modseq"]:
            problems.append("%s: HIGHESTMODSEQ %d, UID %d has MODSEQ %d" % (
                where, b["highest"], top[0], top[1]["modseq"]))
        if st["SIZE"] != sum(m["size"] for m in b["msgs"].values()):
            problems.append("%s: STATUS SIZE %d, the messages add up to %d" % (
                where, st["SIZE"], sum(m["size"] for m in b["msgs"].values())))
        boxes[name] = b
    if user == BOB:
        out, _ = c.ok("GETQUOTAROOT INBOX")
        m = re.search(r"STORAGE (\d+) (\d+)", " ".join(t for t, _ in out))
        boxes[None] = int(m.group(1)) if m else None
    c.ok("LOGOUT")
    c.close()
    return boxes


class Run:
    def __init__(self, seed):
        self.seed, self.rnd = seed, random.Random(seed)
        self.round, self.t_kill = 0, 0.0
        self.smtp = [SmtpClient("s%d" % i, random.Random(seed * 10 + i)) for i in range(3)]
        self.pop3 = Pop3Client("p", random.Random(seed * 10 + 3))
        self.imap = [ImapClient("b%d" % k, random.Random(seed * 10 + 4 + k), k) for k in range(2)]
        self.mover = MoverClient("d", random.Random(seed * 10 + 6))
        self.api = None
        self.where = {BOB: {}, CAROL: {}, DAVE: {}}  # user -> {SMTP tag: mailbox holding it}
        self.mailboxes = {}   # (user, MAILBOXID) -> (validity, uidnext, highest) last seen
        self.validities = {}  # (user, UIDVALIDITY) -> MAILBOXID
        self.others = {}      # user -> names of the mailboxes no client writes to
        self.inflight = {}    # kind -> [done, not done]: how the kills fell

    def settled(self, kind, applied):
        self.inflight.setdefault(kind, [0, 0])[0 if applied else 1] += 1

    def clients(self):
        return self.smtp + [self.pop3] + self.imap + [self.mover, self.api]

    def fail(self, problems, who=None):
        lines = ["seed %d, round %d: %d problem(s)" % (self.seed, self.round, len(problems))]
        lines += ["- " + p for p in problems[:25]]
        lines.append("what the clients did (seconds relative to the kill):")
        for cl in who or self.clients():
            lines += cl.timeline(self.t_kill)
        raise AssertionError("\n".join(lines))

    def check(self, s):
        problems = []
        bad = [l for l in s.log_text().splitlines() if BAD_LOG.search(l)]
        if bad:
            problems.append("the log says:\n    " + "\n    ".join(bad[:10]))
        seen = {}
        try:
            for user in (BOB, CAROL, DAVE):
                seen[user] = observe(s, user, problems)
        except (Gone, Refused) as e:
            problems.append("the server failed the checks' session: %s" % e)
            self.fail(problems)
        if s.proc.poll() is not None:
            problems.append("the server died (status %s)" % s.proc.returncode)
        for user, boxes in seen.items():
            quota = boxes.pop(None, None)
            self.check_account(s, user, boxes, quota, problems)
        self.check_delivered(seen, problems)
        for cl in self.imap:
            self.check_imap_client(cl, seen[BOB], problems)
        self.check_api(s, problems)
        self.check_cli(s, seen[DAVE], problems)
        if problems:
            self.fail(problems)

    def check_account(self, s, user, boxes, quota, problems):
        ids, tags, count = {}, {}, []
        for name, b in boxes.items():
            key = (user, b["mailboxid"])
            if key in self.mailboxes:
                v, uidnext, highest = self.mailboxes[key]
                if b["validity"] != v:
                    problems.append("%s %s (%s): UIDVALIDITY %d, was %d" % (
                        user, name, b["mailboxid"], b["validity"], v))
                if b["uidnext"] < uidnext or b["highest"] < highest:
                    problems.append("%s %s: UIDNEXT %d, HIGHESTMODSEQ %d after the restart, "
                                    "%d and %d before" % (user, name, b["uidnext"], b["highest"],
                                                          uidnext, highest))
            other = self.validities.setdefault((user, b["validity"]), b["mailboxid"])
            if other != b["mailboxid"]:
                problems.append("%s %s (%s): UIDVALIDITY %d was that of mailbox %s" % (
                    user, name, b["mailboxid"], b["validity"], other))
            self.mailboxes[key] = (b["validity"], b["uidnext"], b["highest"])
            for uid, m in b["msgs"].items():
                # Every message is an email (an IMAP COPY makes one of
                # its own, with its source's EMAILID, RFC 8474 §5.1).
                count.append(m["size"])
                first = ids.setdefault(m["emailid"], m)
                if m["tag"] is None:
                    continue  # not whole: said above
                if first["raw"] != m["raw"]:
                    problems.append("%s: EMAILID %s differs between copies: %s / %s" % (
                        user, m["emailid"], first["tag"], m["tag"]))
                if tags.setdefault(m["tag"], m["emailid"]) != m["emailid"]:
                    problems.append("%s: %s is two emails, %s and %s" % (
                        user, m["tag"], tags[m["tag"]], m["emailid"]))
        used = sum(count)
        st, acct = self.api.call(s, "GET", "/accounts/" + user)
        if st != 200 or (acct["used"], acct["emails"]) != (used, len(count)):
            problems.append("%s: the API says used=%s emails=%s, the mailboxes hold %d octets in %d "
                            "emails" % (user, acct and acct.get("used"), acct and acct.get("emails"),
                                        used, len(count)))
        if user == BOB and quota != (used + 1023) // 1024:
            problems.append("%s: GETQUOTAROOT STORAGE %s, the emails take %d octets" % (
                user, quota, used))
        # The mailboxes no client creates or deletes: there, unchanged, and
        # empty but for the INBOX and dave's Filed (check_delivered).
        others = sorted(n for n in boxes if not n.startswith("K"))
        if self.others.setdefault(user, others) != others:
            problems.append("%s: mailboxes %s, before %s" % (user, others, self.others[user]))
        for n in others:
            if n not in ("INBOX", "Filed") and boxes[n]["msgs"]:
                problems.append("%s: %s holds %d messages" % (user, n, len(boxes[n]["msgs"])))

    def check_delivered(self, seen, problems):
        """The SMTP messages where the logs put them: in the INBOX of each
        recipient that got 250, gone once a POP3 QUIT got +OK, in dave's
        Filed or INBOX as his last acknowledged MOVE says, with the
        keywords his STOREs set. What was in flight at the kill: done or
        not, all together."""
        want = {u: dict(w) for u, w in self.where.items()}
        for cl in self.smtp:
            for op in cl.acked:
                for u in op["rcpts"]:
                    want[u].setdefault(op["tag"], "INBOX")
        for op in self.pop3.acked:
            for t in op["tags"]:
                want[CAROL].pop(t, None)
        for op in self.mover.acked:
            if op["kind"] == "move":
                for t in op["tags"]:
                    want[DAVE][t] = op["dst"]
        got = {}
        for u, boxes in seen.items():
            got[u] = {}
            for name in ("INBOX", "Filed") if u == DAVE else ("INBOX",):
                for m in boxes[name]["msgs"].values():
                    if m["tag"] in got[u]:
                        problems.append("%s holds %s twice (%s, %s)" % (
                            u, m["tag"], got[u][m["tag"]], name))
                    if m["tag"]:
                        got[u][m["tag"]] = name
        free = set()  # (user, tag) settled by an operation in flight
        op = self.mover.pending
        if op and op["kind"] == "move":
            places = {got[DAVE].get(t) for t in op["tags"]}
            if places not in ({op["box"]}, {op["dst"]}):
                problems.append("dave's MOVE in flight half applied: %s" % [
                    (t, got[DAVE].get(t)) for t in op["tags"]])
            self.settled("dave move", places == {op["dst"]})
            free.update((DAVE, t) for t in op["tags"])
        for cl in self.smtp:
            op = cl.pending
            if op and op["phase"] == "dot":
                there = [u for u in op["rcpts"] if op["tag"] in got[u]]
                if there and len(there) != len(op["rcpts"]):
                    problems.append("delivery in flight half applied: %s to %s, stored for %s" % (
                        op["tag"], op["rcpts"], there))
                self.settled("smtp", bool(there))
                free.update((u, op["tag"]) for u in op["rcpts"])
        op = self.pop3.pending
        if op and op["tags"]:
            there = [t for t in op["tags"] if t in got[CAROL]]
            if there and len(there) != len(op["tags"]):
                problems.append("POP3 QUIT in flight half applied: of %s, %s still there" % (
                    op["tags"], there))
            self.settled("pop3", not there)
            free.update((CAROL, t) for t in op["tags"])
        for u in want:
            lost, extra, moved = [], [], []
            for t in sorted(set(want[u]) | set(got[u])):
                w, g = want[u].get(t), got[u].get(t)
                if (u, t) in free or w == g:
                    continue
                (lost if g is None else extra if w is None else moved).append((t, w, g))
            if lost:
                problems.append("%s: acknowledged but missing: %s" % (u, lost))
            if extra:
                problems.append("%s: there but never acknowledged (or deleted since): %s" % (u, extra))
            if moved:
                problems.append("%s: not where the acknowledged MOVEs put them: %s" % (u, moved))
        self.where = got
        self.check_dave_keywords(seen[DAVE], problems)

    def check_dave_keywords(self, boxes, problems):
        """Dave's keywords are those his acknowledged STOREs set; a STORE
        in flight shows on all its messages or none."""
        cl = self.mover
        got, uids = {}, {"INBOX": {}, "Filed": {}}
        for name in uids:
            for uid, m in boxes[name]["msgs"].items():
                got[m["tag"]] = m["flags"] - {"\\deleted"}
                uids[name][uid] = m["tag"]
        op = cl.pending if cl.pending and cl.pending["kind"] == "store" else None
        after = cl.stored(cl.kw, op) if op else cl.kw
        fits = set()  # for the STORE in flight: before, after, both (no change) or neither
        for t, f in sorted(got.items()):
            before = cl.kw.get(t, frozenset())
            if op and t in op["tags"]:
                fits.add("both" if f == before == after[t] else "before" if f == before else
                         "after" if f == after[t] else "neither")
            elif f != before:
                problems.append("dave %s: keywords %s, acknowledged %s" % (t, sorted(f), sorted(before)))
        if op:
            if "neither" in fits or {"before", "after"} <= fits:
                problems.append("dave's STORE in flight half applied: %s" % [
                    (t, sorted(got.get(t, ())), sorted(cl.kw.get(t, ())), sorted(after[t]))
                    for t in op["tags"]])
            self.settled("dave store", "after" in fits)
        # What the server holds now is what dave knows.
        cl.kw = {t: frozenset(f) for t, f in got.items()}
        cl.uids = uids
        cl.next_uid = max(list(uids["INBOX"]) + [cl.next_uid - 1]) + 1

    def check_imap_client(self, cl, boxes, problems):
        """cl's mailboxes are its model, or its model with the op in flight
        applied; the one that fits becomes the model."""
        got = {}
        for name, b in boxes.items():
            if name.startswith(cl.prefix):
                msgs = b["msgs"].items()
                got[name] = {"validity": b["validity"],
                             "uids": {u: (m["tag"], "\\deleted" in m["flags"]) for u, m in msgs},
                             "kw": {u: m["flags"] - {"\\deleted"} for u, m in msgs}}
        cands = [("acknowledged", cl.st)]
        if cl.pending:
            cands.append(("with the op in flight", apply_op(cl.st, cl.pending, got)))
        diffs = []
        for what, st in cands:
            d = diff_state(st, got) if st else ["the op in flight cannot explain the UIDs"]
            if not d:
                if cl.pending:
                    self.settled(cl.pending["kind"], st is not cl.st)
                break
            diffs.append("%s: %s" % (what, "; ".join(d)))
        else:
            problems.append("%s's mailboxes are neither its model nor its model with the op in "
                            "flight:\n    %s" % (cl.name, "\n    ".join(diffs)))
            return
        # The state that fits, with what the server says now.
        for name, b in st["boxes"].items():
            g = boxes[name]
            if g["uidnext"] <= b["maxuid"]:
                problems.append("%s: UIDNEXT %d, UID %d was acknowledged or seen" % (
                    name, g["uidnext"], b["maxuid"]))
            if g["highest"] < b["floor"]:
                problems.append("%s: HIGHESTMODSEQ %d, a STORE was acknowledged with MODSEQ %d" % (
                    name, g["highest"], b["floor"]))
            b["validity"] = g["validity"]
            b["maxuid"] = max([b["maxuid"]] + list(g["msgs"]))
            b["floor"] = max(b["floor"], g["highest"])
        st["kw"] = {}
        for name, b in got.items():
            for uid in b["uids"]:
                st["kw"][name, uid] = frozenset(b["kw"][uid])
        cl.st = st

    def check_api(self, s, problems):
        cl = self.api
        st1, body1 = cl.call(s, "GET", "/aliases")
        st2, body2 = cl.call(s, "GET", "/accounts")
        if (st1, st2) != (200, 200):
            problems.append("API: GET /aliases %d, GET /accounts %d" % (st1, st2))
            return
        aliases = {a["alias"] for a in body1["aliases"] if a["alias"].startswith("al")}
        accounts = {a["email"] for a in body2["accounts"] if a["email"].startswith("tmp")}
        bad = [a for a in body1["aliases"] if a["targets"] != [DAVE]]
        bad += [a for a in body2["accounts"] if a["email"] in accounts and (a["used"] or a["emails"])]
        if bad:
            problems.append("API: %s" % bad)
        cands = [(cl.aliases, cl.accounts)]
        if cl.pending:
            al, ac = set(cl.aliases), set(cl.accounts)
            cl.apply(cl.pending, al, ac)
            cands.append((al, ac))
            self.settled(cl.pending["kind"], (aliases, accounts) == cands[-1])
        if (aliases, accounts) not in cands:
            problems.append("API: aliases %s and accounts %s; acknowledged: %s and %s" % (
                sorted(aliases), sorted(accounts), sorted(cl.aliases), sorted(cl.accounts)))
        cl.aliases, cl.accounts = aliases, accounts

    def check_cli(self, s, boxes, problems):
        """`tern fetch` (the store read without the server) agrees with IMAP."""
        listed = s.messages(DAVE)
        if len(listed) != len(boxes["INBOX"]["msgs"]):
            problems.append("tern fetch lists %d messages of dave, IMAP %d" % (
                len(listed), len(boxes["INBOX"]["msgs"])))
        if listed:
            mid = self.rnd.choice(listed)[0]
            try:
                message_tag(s.raw(DAVE, mid))
            except Broken as e:
                problems.append("tern fetch --id %d: %s" % (mid, e))

    def traffic_round(self, s, seconds, twice=False):
        self.round += 1
        stop = threading.Event()
        threads = [cl.thread(s, stop) for cl in self.clients()]
        for t in threads:
            t.start()
        time.sleep(seconds)
        self.t_kill = time.monotonic()
        s.kill9()
        stop.set()
        for t in threads:
            t.join(30)
        hung = [t.name for t in threads if t.is_alive()]
        errors = ["%s: %s" % (cl.name, cl.error) for cl in self.clients() if cl.error]
        if hung or errors:
            self.fail(["clients still running: %s" % hung] if hung else errors)
        acked = {cl.name: len(cl.acked) for cl in self.clients()}
        s.start()
        if twice:
            # Killed again while it starts up (its sweep of what the last
            # run freed, its first room): no client, so no change.
            time.sleep(self.rnd.uniform(0, 0.03))
            s.kill9()
            s.start()
        self.check(s)
        return acked


def test_kill9_mixed_traffic():
    seed = int(os.environ.get("TERN_KILL9_SEED") or random.SystemRandom().randrange(1, 1 << 30))
    rounds = 4 if SANITIZED else 6
    print("  seed %d (TERN_KILL9_SEED=%d repeats it), %d rounds" % (seed, seed, rounds))
    run = Run(seed)
    with Server(accounts=[(CAROL, PW[CAROL]), (DAVE, PW[DAVE])], imap=True, pop3=True, http=True,
                start=False) as s:
        s.cli("account", "add", BOB, "--quota", "1G", input=PW[BOB] + "\n")
        run.api = ApiClient("api", random.Random(seed * 10 + 9),
                            s.cli("token", "add", "kill9").stdout.decode().strip())
        s.start()
        c = Imap(s, BOB)
        for cl in run.imap:
            for box in sorted(cl.st["boxes"]):
                c.ok("CREATE " + box)
        c.close()
        c = Imap(s, DAVE)
        c.ok("CREATE Filed")
        c.close()
        run.check(s)
        totals = {}
        # One round outlasts the grace before freed bytes are swept
        # (STORE_GC_GRACE_MS, 10 s): the writer sweeps under load there.
        # After another, the restarted server is killed again at once.
        long, twice = run.rnd.sample(range(rounds), 2)
        for i in range(rounds):
            seconds = run.rnd.uniform(10.5, 12) if i == long else run.rnd.uniform(0.3, 2.0)
            for name, n in run.traffic_round(s, seconds, i == twice).items():
                totals[name] = totals.get(name, 0) + n
        # Still serving: one more delivery arrives whole.
        tag = "last-%d" % seed
        c = Raw(s.smtp_port)
        c.cmd("EHLO kill9.test")
        assert c.cmd("MAIL FROM:<alice@remote.test>")[0] == 250
        assert c.cmd("RCPT TO:<%s>" % DAVE)[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(make_message(tag, DAVE, random.Random(seed), 5000) + b".\r\n")
        assert c.reply()[0] == 250
        c.close()
        run.where[DAVE][tag] = "INBOX"
        for cl in run.clients():
            cl.acked, cl.pending = [], None
        run.check(s)
        assert s.stop() == 0, "seed %d: tern did not stop cleanly" % seed
        print("  acknowledged over %d kills: %s" % (rounds, totals))
        print("  in flight at a kill, done / not done: %s" % " ".join(
            "%s %d/%d" % (k, v[0], v[1]) for k, v in sorted(run.inflight.items())))
        # A client the server never answered would have tested nothing.
        assert all(n > 0 for n in totals.values()), "seed %d: %s" % (seed, totals)
