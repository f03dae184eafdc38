"""IMAP THREAD (RFC 5256 §3, REFERENCES and ORDEREDSUBJECT) against a
reference written from the RFC.

Each seed makes 60 to 120 messages (one MULTIAPPEND) whose Message-ID,
References and In-Reply-To fields form a random forest: parents among the
messages and among ids no message has (gaps), References truncated,
reordered, with a stranger inserted or an id repeated, some messages
answering by In-Reply-To alone (one id, several, a phrase or a comment
round it), some References holding nothing valid (so In-Reply-To counts),
self-references, loops of two and three messages (A references B, B
references A), missing, duplicated and malformed Message-IDs (no angle
brackets, "<>"), ids inside comments (not ids), odd spacing, commas and
folding between ids, field names in any case. Subjects come from the SORT
model's generator (reply and forward markers, blobs, encoded-words) or
reply to the parent's subject in any case, some empty. Date fields in
several zones and forms (no day name, no seconds, obsolete zone names,
comments, two-digit years, folded), some missing or unreadable, internal
dates in several zones, many ties. A few messages are expunged, so
sequence numbers and UIDs differ; flags and sizes vary for the search
keys.

THREAD and UID THREAD, both algorithms, over random search keys (sets of
sequence numbers or UIDs, flags, sizes, NOT, OR, lists) must give exactly
the response this module computes; each response is first parsed as RFC
5256 thread-lists, so a malformed one fails on its own. The reference:

- Message ids (§3 step 1, RFC 5322 §3.6.4): the first valid msg-id of
  Message-ID ("<" dot-atom or quoted-string "@" dot-atom or literal ">");
  none, or one an earlier message (lower sequence number) has, gives the
  message an id of its own. The references: the valid msg-ids of
  References, in order, or else the first valid one of In-Reply-To. Ids
  inside comments, and in quoted strings of an obsolete phrase, are not
  msg-ids. A quoted local part is the same id as the unquoted one (§3:
  "MUST normalize any msg-id in order to avoid false non-matches due to
  differences in quoting").
- Step 1A links consecutive references unless the child has a parent
  already or the link would make a loop; 1B breaks the message's parent
  link and links it under its last reference unless that makes a loop.
  Step 3 prunes dummies, step 4 sorts the roots by sent date, step 5
  merges roots by base subject (§2.1, compared without case; a reply or
  forward is a subject from which a subj-refwd, a "(fwd)" trailer or a
  "[fwd: ...]" wrapper was removed), step 6 sorts every sibling list.
- Sent date (§2.2): the Date field in UTC, else the internal date; ties
  in sequence order; a dummy sorts as its first child.
- ORDEREDSUBJECT: messages grouped by base subject, each thread its
  earliest message with the others as its children, threads ordered by
  their first message.

Where RFC 5256 leaves the reading open, this module follows the server's,
which is sound:
- Step 1B, "break the current parent/child link before creating the new
  correct one. As in step 1.A, do not create the parent/child link if
  creating that link would introduce a loop", is read in order: the old
  link goes even when the new one is refused (as with no references at
  all: "it will now have no parent").
- Step 3: a dummy's own dummy children are pruned before the dummy is
  judged, so "unless there is only one child" counts the children left
  after pruning. Judging first could leave a dummy with one child at the
  top, which the response grammar (thread-nested = 2*thread-list) cannot
  express.
- Msg-ids without "@" ("<abc>") are not generated: RFC 5256 says "valid
  Message ID" and no more.

test_imap_thread_matches_a_reference writes every msg-id unquoted and no
quoted string holding "<" or "(". test_imap_thread_msgid_syntax adds
both (see its docstring).
"""
import base64
import datetime
import email.utils
import random
import re

from test_imap import Raw, srv
from test_imap_search_ext import cmd
from test_imap_sort_model import base_and_reply, base_subject, decoded, rand_subject, unicode_casemap


# ---- the reference: msg-ids (RFC 5322 §3.6.4) ----

ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
DOT_ATOM = r"%s+(?:\.%s+)*" % (ATEXT, ATEXT)
QUOTED = r'"(?:[^"\\\r\n]|\\[^\r\n])*"'
MSG_ID = re.compile(r"<(%s|%s)@(%s|\[[^\[\]\\\s]*\])>" % (DOT_ATOM, QUOTED, DOT_ATOM))


def unfold(v):
    return re.sub(r"\r\n(?=[ \t])", "", v)


def msg_ids(value):
    """The valid msg-ids of a field value, in order, normalized: a quoted
    local part unquoted. Comments and quoted strings outside msg-ids are
    skipped, and whatever else is not a msg-id."""
    out = []
    if value is None:
        return out
    v, i = unfold(value), 0
    while i < len(v):
        c = v[i]
        if c == "(":
            depth, i = 1, i + 1
            while i < len(v) and depth:
                if v[i] == "\\":
                    i += 1
                elif v[i] == "(":
                    depth += 1
                elif v[i] == ")":
                    depth -= 1
                i += 1
        elif c == '"':
            i += 1
            while i < len(v) and v[i] != '"':
                i += 2 if v[i] == "\\" else 1
            i += 1
        elif c == "<" and MSG_ID.match(v, i):
            m = MSG_ID.match(v, i)
            left = m.group(1)
            if left.startswith('"'):
                left = re.sub(r"\\(.)", r"\1", left[1:-1])
            out.append("%s@%s" % (left, m.group(2)))
            i = m.end()
        else:
            i += 1
    return out


# ---- the reference: base subject and reply (RFC 5256 §2.1) ----

# ---- the reference: the two algorithms (RFC 5256 §3) ----

class Box:
    """A container of step (1): a message, or a dummy (msg None)."""
    __slots__ = ("msg", "parent", "kids")

    def __init__(self, msg=None):
        self.msg, self.parent, self.kids = msg, None, []


def link(p, c):
    c.parent = p
    p.kids.append(c)


def unlink(c):
    c.parent.kids.remove(c)
    c.parent = None


def at_or_below(a, b):
    """a is b or one of b's descendants."""
    while a is not None:
        if a is b:
            return True
        a = a.parent
    return False


def first_msg(b):
    """The message a box sorts and is named by: its own, or a dummy's
    first child's (dummies only ever hold messages, see prune)."""
    return b.msg if b.msg is not None else b.kids[0].msg


def date_key(b):
    m = first_msg(b)
    return m.sent, m.seq


def sort_all(b):
    """Step (6): the youngest sibling lists first, so a dummy's first
    child is known when the dummy is sorted."""
    for c in b.kids:
        sort_all(c)
    b.kids.sort(key=date_key)


def prune(b, at_root):
    """Step (3), children first (see the module docstring)."""
    kids = []
    for c in b.kids:
        prune(c, False)
        if c.msg is None and (not c.kids or not at_root or len(c.kids) == 1):
            for g in c.kids:
                g.parent = b
                kids.append(g)
            continue
        kids.append(c)
    b.kids = kids


def thread_subject(b):
    return unicode_casemap(first_msg(b).base)


def references(ms):
    """THREAD=REFERENCES over ms (in sequence order): the root box."""
    table, boxes = {}, []

    def box_for(mid):
        if mid not in table:
            table[mid] = Box()
            boxes.append(table[mid])
        return table[mid]

    # (1) One container per message id; an id already taken by an earlier
    # message (a duplicate), or none, makes a container of its own.
    for m in ms:
        if m.mid is not None and (m.mid not in table or table[m.mid].msg is None):
            me = box_for(m.mid)
            me.msg = m
        else:
            me = Box(m)
            boxes.append(me)
        # (A) consecutive references: parent and child, unless the child
        # has a parent already or the link would make a loop
        for a, b in zip(m.refs, m.refs[1:]):
            pa, pb = box_for(a), box_for(b)
            if pb.parent is None and not at_or_below(pa, pb):
                link(pa, pb)
        # (B) the last reference is the parent: the old link goes, the
        # new one is made unless it would make a loop
        if me.parent is not None:
            unlink(me)
        if m.refs:
            p = box_for(m.refs[-1])
            if not at_or_below(p, me):
                link(p, me)
    # (2) the root set
    root = Box()
    for b in boxes:
        if b.parent is None:
            link(root, b)
    # (3)
    prune(root, True)
    # (4) the roots by date, a dummy by its earliest child
    for r in root.kids:
        if r.msg is None:
            r.kids.sort(key=date_key)
    root.kids.sort(key=date_key)
    # (5B) one root per thread subject: a dummy first, then a non-reply
    subjects = {}
    for r in root.kids:
        s = thread_subject(r)
        if not s:
            continue
        t = subjects.get(s)
        if t is None:
            subjects[s] = r
        elif t.msg is not None and (r.msg is None or (t.msg.reply and not r.msg.reply)):
            subjects[s] = r
    # (5C) merge the others into it
    for r in list(root.kids):
        if r.parent is not root:
            continue
        s = thread_subject(r)
        if not s or subjects[s] is r:
            continue
        t = subjects[s]
        if t.msg is None and r.msg is None:
            for c in list(r.kids):
                unlink(c)
                link(t, c)
            unlink(r)
        elif t.msg is None:
            unlink(r)
            link(t, r)
        elif r.msg is None:
            raise AssertionError("a dummy root was not chosen for its subject")
        elif r.msg.reply and not t.msg.reply:
            unlink(r)
            link(t, r)
        else:
            d = Box()
            root.kids[root.kids.index(t)] = d
            d.parent, t.parent = root, None
            link(d, t)
            unlink(r)
            link(d, r)
            subjects[s] = d
    # (6)
    sort_all(root)
    return root


def orderedsubject(ms):
    """THREAD=ORDEREDSUBJECT over ms: the root box."""
    groups = {}
    for m in sorted(ms, key=lambda m: (m.sent, m.seq)):
        groups.setdefault(unicode_casemap(m.base), []).append(m)
    root = Box()
    for g in sorted(groups.values(), key=lambda g: (g[0].sent, g[0].seq)):
        head = Box(g[0])
        link(root, head)
        for m in g[1:]:
            link(head, Box(m))
    return root


def render(root, num):
    """The thread-lists of RFC 5256 §4 (a chain of single children as
    thread-members, two or more children as thread-nested)."""
    def members(b):
        if b.msg is None:
            return "".join("(%s)" % members(c) for c in b.kids)
        s = str(num(b.msg))
        if len(b.kids) == 1:
            return s + " " + members(b.kids[0])
        if b.kids:
            return s + " " + "".join("(%s)" % members(c) for c in b.kids)
        return s

    return ["(%s)" % members(r) for r in root.kids]


NZ_NUMBER = re.compile(r"[1-9][0-9]*")


def parse_threads(text):
    """Splits a THREAD response's data into its thread-lists, checking the
    grammar of RFC 5256 §4: thread-list = "(" (thread-members /
    thread-nested) ")", thread-members = nz-number *(SP nz-number) [SP
    thread-nested], thread-nested = 2*thread-list."""
    pos = 0

    def thread_list():
        nonlocal pos
        assert text[pos] == "(", "thread-list expected at %d" % pos
        pos += 1
        nums = 0
        while text[pos].isdigit():
            m = NZ_NUMBER.match(text, pos)
            assert m, "nz-number expected at %d" % pos
            pos, nums = m.end(), nums + 1
            assert text[pos] in " )", "SP or ')' expected after a number at %d" % pos
            if text[pos] == " ":
                pos += 1
                assert text[pos] in "(123456789", "thread data expected at %d" % pos
        nested = 0
        while text[pos] == "(":
            thread_list()
            nested += 1
        assert nums or nested, "empty thread-list at %d" % pos
        assert nested == 0 or nested >= 2, "thread-nested of one thread-list before %d" % pos
        assert text[pos] == ")", "')' expected at %d" % pos
        pos += 1

    out = []
    while pos < len(text):
        start = pos
        thread_list()
        out.append(text[start:pos])
    return out


# ---- the messages ----

ZONES = [(-7 * 60, "PDT"), (-5 * 60, "EST"), (-4 * 60, "EDT"), (0, "GMT"), (0, "UT"),
         (2 * 60, None), (9 * 60, None), (5 * 60 + 30, None)]
BAD_DATES = ["the day after tomorrow", "", "Wed, 32 May 2024 10:00:00 +0000",
             "Wed, 1 May 2024 24:10:00 +0000", "1 Foo 2024 10:00 +0000"]
FLAGS = ["\\Flagged", "\\Seen", "$Junk"]


def zone_text(minutes):
    return "%s%02d%02d" % ("-" if minutes < 0 else "+", abs(minutes) // 60, abs(minutes) % 60)


def rand_date(rnd):
    """(Date field value or None, its instant or None when unreadable)."""
    k = rnd.random()
    if k < 0.1:
        return None, None
    if k < 0.2:
        return rnd.choice(BAD_DATES), None
    off, name = rnd.choice(ZONES)
    dt = datetime.datetime(2024, 5, rnd.randint(1, 3), rnd.choice([0, 9, 12, 23]),
                           rnd.choice([0, 30]), rnd.choice([0, 0, 0, 15]),
                           tzinfo=datetime.timezone(datetime.timedelta(minutes=off)))
    day, mon, z = dt.strftime("%a"), dt.strftime("%b"), zone_text(off)
    hms = dt.strftime("%H:%M:%S")
    forms = [email.utils.format_datetime(dt),
             "%d %s %d %s %s" % (dt.day, mon, dt.year, hms, z),
             "%s, %d %s %d %s %s (%s)" % (day, dt.day, mon, dt.year, hms, z, name or "local"),
             "%s, %d %s %d\r\n %s %s" % (day, dt.day, mon, dt.year, hms, z),
             "%s,  %d  %s  %02d  %s   %s" % (day, dt.day, mon, dt.year % 100, hms, z)]
    if dt.second == 0:
        forms.append("%s, %02d %s %d %s %s" % (day, dt.day, mon, dt.year, dt.strftime("%H:%M"), z))
    if name:
        forms.append("%s, %d %s %d %s %s" % (day, dt.day, mon, dt.year, hms, name))
    return rnd.choice(forms), int(dt.timestamp())


def rand_internal(rnd):
    off, _ = rnd.choice(ZONES)
    dt = datetime.datetime(2024, 5, rnd.randint(1, 3), rnd.choice([9, 12, 23]), 0, 0,
                           tzinfo=datetime.timezone(datetime.timedelta(minutes=off)))
    return dt.strftime('"%d-%b-%Y %H:%M:%S ') + zone_text(off) + '"', int(dt.timestamp())


def id_text(rnd, mid, quoting):
    """<mid>, with the local part quoted sometimes when quoting."""
    left, right = mid.split("@")
    if quoting and rnd.random() < 0.4:
        left = '"%s"' % left
    return "<%s@%s>" % (left, right)


SEPARATORS = [" ", " ", " ", "  ", "", "\r\n ", "\r\n\t", ", ", " ,", "\t",
              " (see <x9@nowhere.test>) ", " (nested (c) <y@z.test>) "]
JUNK = ["bare@thr.test", "<>", "<half@open.test", "half@closed.test>", "(only <a comment@x>)"]


def refs_text(rnd, ids, quoting, junk=0.08):
    """A References value holding ids in order, with separators, junk
    and comments between them."""
    parts = []
    for mid in ids:
        if rnd.random() < junk:
            parts.append(rnd.choice(JUNK))
        parts.append(id_text(rnd, mid, quoting))
    out = ""
    for p in parts:
        out += (rnd.choice(SEPARATORS) if out else rnd.choice(["", " "])) + p
    return out


def irt_text(rnd, ids, quoting):
    """An In-Reply-To value: one id, or several, or with a phrase or a
    comment (the obsolete forms of RFC 5322 §4.5.4)."""
    first = id_text(rnd, ids[0], quoting)
    k = rnd.random()
    if quoting and k < 0.2:  # "<" and "(" inside a quoted string are text
        return rnd.choice(['"about <m%d@thr.test>" %s' % (rnd.randrange(20), first),
                           'Your message of "Wed, 1 May 2024 (EDT" %s' % first])
    if k < 0.5 or len(ids) == 1 and k < 0.7:
        return first
    if k < 0.7:
        return first + " " + " ".join(id_text(rnd, i, quoting) for i in ids[1:])
    if k < 0.8:
        return "%s (sent by Bob)" % first
    if k < 0.9:
        return 'Your message of "Wed, 1 May 2024" %s' % first
    return "bare@thr.test %s" % first


class Msg:
    pass


def field(fields, name):
    """The value of the first field called name, or None."""
    return next((v for f, v in fields if f.lower() == name.lower()), None)


def make_messages(rnd, n, quoting=False):
    """n messages in append order, with what the reference needs."""
    ghosts = rnd.randint(n // 8, n // 5)
    names = ["m%d@thr.test" % k for k in range(n)] + ["g%d@gone.test" % k for k in range(ghosts)]
    order = list(range(len(names)))
    rnd.shuffle(order)
    parent, subject = {}, {}
    for i, node in enumerate(order):
        parent[node] = None if i == 0 or rnd.random() < 0.25 else order[rnd.randrange(i)]
        p = parent[node]
        if p is not None and subject.get(p) is not None and rnd.random() < 0.65:
            subject[node] = rnd.choice(["Re: %s", "RE: %s", "Re: Re: %s", "Fwd: %s", "%s (fwd)",
                                        "[list] Re: %s", "%s"]) % rnd.choice(
                                            [str, str, str.upper, str.lower, str.swapcase])(
                                            decoded(subject[p]))
            if rnd.random() < 0.15:
                subject[node] = "=?utf-8?b?%s?=" % base64.b64encode(
                    subject[node].encode()).decode()
        elif rnd.random() < 0.08:
            subject[node] = rnd.choice([None, "", "Re:", "Fwd: ", "(fwd)", "[fwd: ]", "  "])
        elif rnd.random() < 0.4:
            # A few subjects often: roots of one subject, replies and not,
            # whose order (step 4) decides how step 5 merges them.
            subject[node] = rnd.choice(["%s", "%s", "Re: %s", "Fwd: %s", "[list] %s"]) % (
                rnd.choice(["alpha", "Beta gamma", "ab"]))
        else:
            subject[node] = rand_subject(rnd)

    def chain(node):
        out = []
        while parent[node] is not None:
            node = parent[node]
            out.append(names[node])
        return out[::-1]

    refs = {}
    for k in range(n):
        r = chain(k)
        if r and rnd.random() < 0.3:  # truncated, as long threads are
            r = r[-rnd.randint(1, len(r)):]
        if len(r) > 2 and rnd.random() < 0.1:
            del r[rnd.randrange(len(r) - 1)]
        if rnd.random() < 0.08:
            r.insert(rnd.randint(0, len(r)), rnd.choice(names))
        if r and rnd.random() < 0.05:
            i = rnd.randrange(len(r))
            r.insert(i, r[i])
        if len(r) > 1 and rnd.random() < 0.08:
            i = rnd.randrange(len(r) - 1)
            r[i], r[i + 1] = r[i + 1], r[i]
        if rnd.random() < 0.04:
            r.append(names[k])  # a self-reference as the parent
        elif rnd.random() < 0.04:
            r.insert(rnd.randint(0, len(r)), names[k])
        refs[k] = r
    for _ in range(rnd.randint(2, 4)):  # loops of two and three messages
        ring = rnd.sample(range(n), rnd.choice([2, 2, 3]))
        for a, b in zip(ring, ring[1:] + ring[:1]):
            refs[a] = refs[a] + [names[b]]

    msgs = []
    for k in range(n):
        x = Msg()
        fields = []
        form = rnd.random()
        if form < 0.07:
            pass  # no Message-ID
        elif form < 0.12:
            fields.append(("Message-ID", rnd.choice([names[k], "<>", "(c) " + names[k]])))
        elif form < 0.2:
            fields.append(("Message-ID", id_text(rnd, rnd.choice(names[:n]), quoting)))
        else:
            fields.append(("Message-ID", rnd.choice(["", " ", "(id) ", "\r\n "]) +
                           id_text(rnd, names[k], quoting) +
                           rnd.choice(["", "", " ", " (host)", " (<m0@thr.test>)"])))
        r = refs[k]
        style = rnd.random()
        if r and style < 0.6:
            fields.append(("References", refs_text(rnd, r, quoting)))
            if rnd.random() < 0.6:  # references win over In-Reply-To
                irt = [rnd.choice(names)] if rnd.random() < 0.4 else r[-1:]
                fields.append(("In-Reply-To", irt_text(rnd, irt, quoting)))
        elif r and style < 0.85:
            ids = r[::-1] if rnd.random() < 0.2 else r[-1:]
            fields.append(("In-Reply-To", irt_text(rnd, ids, quoting)))
        elif r and style < 0.92:
            fields.append(("References", rnd.choice(["", " ", "bare@thr.test", "<>",
                                                     "(nothing <here@x.test>)"])))
            fields.append(("In-Reply-To", irt_text(rnd, r[-1:], quoting)))
        elif style < 0.96:
            fields.append(("In-Reply-To", rnd.choice(["", "(none)", "not an id"])))
        if subject[k] is not None:
            fields.append(("Subject", subject[k]))
        x.date_text, x.date = rand_date(rnd)
        if x.date_text is not None:
            fields.append(("Date", x.date_text))
        fields.append(("From", "ann@a.test"))
        rnd.shuffle(fields)
        head = ""
        for name, value in fields:
            if rnd.random() < 0.15:
                name = rnd.choice([name.lower(), name.upper()])
            head += "%s: %s\r\n" % (name, value)
        x.text = (head + "\r\n" + "x" * rnd.randint(0, 300) + "\r\n").encode()
        x.size = len(x.text)
        x.internal_text, x.internal = rand_internal(rnd)
        x.flags = [f for f in FLAGS if rnd.random() < 0.35]
        observe(x, fields)
        msgs.append(x)
    return msgs


def observe(x, fields):
    """Sets what the reference sees, from the field text alone."""
    x.fields = fields
    ids = msg_ids(field(fields, "Message-ID"))
    x.mid = ids[0] if ids else None
    x.refs = msg_ids(field(fields, "References")) or msg_ids(field(fields, "In-Reply-To"))[:1]
    subj = field(fields, "Subject")
    x.base, x.reply = base_and_reply(subj and unfold(subj))
    # The SORT model's base subject agrees (a check of both references).
    assert subj is None or x.base == base_subject(unfold(subj)), subj
    x.sent = x.date if x.date is not None else x.internal


# ---- the search keys ----

def rand_set(r, hi, star):
    """A sequence set over 1..hi, in the many ways IMAP allows."""
    parts = []
    for _ in range(r.randint(1, 3)):
        a, b = r.randint(1, hi), r.randint(1, hi)
        k = r.random()
        if k < 0.3:
            parts.append(("%d" % a, {a}))
        elif k < 0.45:
            parts.append(("%d:*" % a, set(range(a, star + 1)) if a <= star else {star}))
        else:
            parts.append(("%d:%d" % (a, b), set(range(min(a, b), max(a, b) + 1))))
    return ",".join(p for p, _ in parts), set().union(*(s for _, s in parts))


def rand_key(r, msgs, depth=0):
    """(search key text, predicate on a message)."""
    k = r.random()
    if depth > 1 or k < 0.25:
        w = r.random()
        if w < 0.35:
            text, s = rand_set(r, len(msgs), len(msgs))
            return text, lambda m, s=s: m.seq in s
        if w < 0.55:
            uids = [m.uid for m in msgs]
            text, s = rand_set(r, max(uids) + 2, max(uids))
            return "UID " + text, lambda m, s=s: m.uid in s
        if w < 0.8:
            f = r.choice(FLAGS)
            neg = r.random() < 0.4
            name = {"\\Flagged": "FLAGGED", "\\Seen": "SEEN"}.get(f)
            text = ("UN" + name if neg else name) if name else (
                ("UNKEYWORD " if neg else "KEYWORD ") + f)
            return text, lambda m, f=f, neg=neg: (f in m.flags) != neg
        size = r.choice(msgs).size
        if r.random() < 0.5:
            return "LARGER %d" % size, lambda m, v=size: m.size > v
        return "SMALLER %d" % size, lambda m, v=size: m.size < v
    if k < 0.45:
        t, p = rand_key(r, msgs, depth + 1)
        return "NOT " + t, lambda m, p=p: not p(m)
    if k < 0.7:
        (t1, p1), (t2, p2) = rand_key(r, msgs, depth + 1), rand_key(r, msgs, depth + 1)
        return "OR %s %s" % (t1, t2), lambda m, p1=p1, p2=p2: p1(m) or p2(m)
    (t1, p1), (t2, p2) = rand_key(r, msgs, depth + 1), rand_key(r, msgs, depth + 1)
    return "(%s %s)" % (t1, t2), lambda m, p1=p1, p2=p2: p1(m) and p2(m)


# ---- the test ----

def describe(msgs, nums, num):
    """The fields of the messages numbered nums, for a failure message."""
    out = []
    for m in msgs:
        if num(m) in nums:
            out.append("%d: sent=%d seq=%d mid=%r refs=%r base=%r reply=%r\n    %r" % (
                num(m), m.sent, m.seq, m.mid, m.refs, m.base, m.reply, m.fields))
    return "\n".join(out)


def load(r, msgs, rnd):
    """Appends msgs in one MULTIAPPEND (RFC 3502; one APPEND each would
    take most of the test's time), expunges a few; sets uid and seq on
    the rest."""
    data = b"a APPEND INBOX"
    for x in msgs:
        flags = " (%s)" % " ".join(x.flags) if x.flags else ""
        data += b"%s %s {%d+}\r\n%s" % (flags.encode(), x.internal_text.encode(), len(x.text),
                                        x.text)
    r.send(data + b"\r\n")
    t = r.until_tag("a")[-1]
    m = re.match(rb"a OK \[APPENDUID \d+ (\d+):(\d+)\]", t)
    assert m and int(m.group(2)) - int(m.group(1)) + 1 == len(msgs), t
    for i, x in enumerate(msgs):
        x.uid = int(m.group(1)) + i
    u, t = cmd(r, "s", "SELECT INBOX")
    assert t.startswith(b"s OK"), t
    gone = rnd.sample(msgs, len(msgs) // 12)
    if gone:
        u, t = cmd(r, "d", "UID STORE %s +FLAGS.SILENT (\\Deleted)" %
                   ",".join(str(x.uid) for x in gone))
        assert t.startswith(b"d OK"), t
        u, t = cmd(r, "e", "EXPUNGE")
        assert t.startswith(b"e OK"), t
    left = sorted((x for x in msgs if x not in gone), key=lambda x: x.uid)
    for i, x in enumerate(left):
        x.seq = i + 1
    # LARGER/SMALLER compare RFC822.SIZE: this session never enables
    # UTF-8, so a raw UTF-8 header counts downgraded (test_imap_downgrade
    # checks that size against BODY[]); an ASCII one as appended.
    u, t = cmd(r, "z", "FETCH 1:* (UID RFC822.SIZE)")
    assert t.startswith(b"z OK"), t
    sizes = dict((int(a), int(b)) for a, b in
                 (re.search(rb"UID (\d+) RFC822\.SIZE (\d+)", l).groups() for l in u))
    for x in left:
        if x.text.split(b"\r\n\r\n")[0].isascii():
            assert sizes[x.uid] == len(x.text), (x.uid, sizes[x.uid], len(x.text))
        x.size = sizes[x.uid]
    return left


def check_threads(r, seed, msgs, queries, quoting=False):
    for q in range(queries):
        qr = random.Random(seed * 1000 + q)
        alg = "REFERENCES" if q % 2 == 0 else "ORDEREDSUBJECT"
        uid = qr.random() < 0.5
        if q < 4:
            key, pred = "ALL", lambda m: True
        else:
            key, pred = rand_key(qr, msgs)
        charset = "US-ASCII" if qr.random() < 0.1 else "UTF-8"
        line = "%sTHREAD %s %s %s" % ("UID " if uid else "", alg, charset, key)
        untagged, tagged = cmd(r, "t%d" % q, line)
        assert tagged.startswith(b"t%d OK" % q), (seed, line, tagged)
        assert len(untagged) == 1 and untagged[0].startswith(b"* THREAD"), (seed, line, untagged)
        data = untagged[0].decode()[len("* THREAD"):]
        # thread-data = "THREAD" [SP 1*thread-list]
        assert data == "" or data.startswith(" ") and len(data) > 1, (seed, line, data)
        try:
            got = parse_threads(data[1:])
        except (AssertionError, IndexError) as e:
            raise AssertionError("seed %d: %s: malformed response %r: %s" % (seed, line, data, e))
        num = (lambda m: m.uid) if uid else (lambda m: m.seq)
        chosen = [m for m in msgs if pred(m)]
        want = render((references if alg == "REFERENCES" else orderedsubject)(chosen), num)
        if got != want:
            bad_got = [t for t in got if t not in want]
            bad_want = [t for t in want if t not in got]
            nums = {int(x) for t in bad_got + bad_want for x in re.findall(r"\d+", t)}
            raise AssertionError(
                "seed %d%s: %s\n got  %s\n want %s\n threads only got: %s\n"
                " threads only wanted: %s\n%s" % (
                    seed, " (quoted ids)" if quoting else "", line, "".join(got)[:1500],
                    "".join(want)[:1500], bad_got[:6], bad_want[:6],
                    describe(msgs, nums, num)[:6000]))


def run_seed(seed, quoting=False, queries=40):
    rnd = random.Random(seed)
    msgs = make_messages(rnd, rnd.randint(60, 120), quoting)
    with srv() as s:
        r = Raw(s)
        r.login()
        msgs = load(r, msgs, rnd)
        check_threads(r, seed, msgs, queries, quoting)
        r.close()


def test_imap_thread_matches_a_reference():
    for seed in (1, 2, 3):
        run_seed(seed)


def test_imap_thread_msgid_syntax():
    """Msg-ids as RFC 5322 writes them. A quoted local part is the same id
    as the unquoted one (RFC 5256 §3 step 1: "Implementations of the
    REFERENCES threading algorithm MUST normalize any msg-id in order to
    avoid false non-matches due to differences in quoting. For example,
    the msg-id <"01KF8JCEOCBS0045PS"@xxx.yyy.com> and the msg-id
    <01KF8JCEOCBS0045PS@xxx.yyy.com> MUST be interpreted as being the same
    Message ID."). In the quoted string of an obsolete In-Reply-To phrase
    (RFC 5322 §4.5.4), "<...>" is no msg-id and "(" opens no comment, so
    the first valid msg-id is the one after it. The server used to compare
    the octets between the angle brackets and did not know quoted strings
    (mime_msgid_norm now takes the quoting away)."""
    # Five messages, then the random model with quoted ids.
    fixed = [[("Message-ID", '<"q1"@x.test>')],
             [("Message-ID", "<q2@x.test>"), ("References", "<q1@x.test>")],
             [("Message-ID", "<q3@x.test>"), ("References", '<"q2"@x.test>')],
             [("Message-ID", "<q4@x.test>"), ("In-Reply-To", '"about <q3@x.test>" <q1@x.test>')],
             [("Message-ID", "<q5@x.test>"),
              ("In-Reply-To", 'Your message of "Wed, 1 May 2024 (EDT" <q4@x.test>')]]
    msgs = []
    for i, fields in enumerate(fixed):
        x = Msg()
        fields += [("Subject", "s%d" % i), ("Date", "Wed, 1 May 2024 10:0%d:00 +0000" % i)]
        x.text = ("".join("%s: %s\r\n" % f for f in fields) + "\r\nx\r\n").encode()
        x.date = x.internal = 1714557600 + 60 * i
        x.internal_text, x.flags, x.seq = '"01-May-2024 10:00:00 +0000"', [], i + 1
        observe(x, fields)
        msgs.append(x)
    assert render(references(msgs), lambda m: m.seq) == ["(1 (2 3)(4 5))"]
    with srv() as s:
        r = Raw(s)
        r.login()
        load(r, msgs, random.Random(0))
        got = cmd(r, "a", "THREAD REFERENCES UTF-8 ALL")[0]
        assert got == [b"* THREAD (1 (2 3)(4 5))"], "%r\n%s" % (got, "\n".join(
            "%d: %r" % (i + 1, f) for i, f in enumerate(fixed)))
        r.close()
    run_seed(11, quoting=True, queries=12)
