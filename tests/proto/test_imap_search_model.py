"""IMAP SEARCH against a reference evaluator, with random queries.

A mailbox of 60 messages with known subjects, senders, recipients,
bodies (plain, quoted-printable, base64), sizes, flags, keywords,
internal dates (APPEND) and Date headers (some missing, some unreadable)
is searched with random key trees (seeded): flags and their UN- forms,
KEYWORD, LARGER, SMALLER, BEFORE/ON/SINCE, SENTBEFORE/SENTON/SENTSINCE,
FROM, TO, SUBJECT, HEADER, BODY, TEXT, sequence and UID sets, NOT, OR and
parenthesised lists, nested up to four deep. Each UID SEARCH must give
the UIDs this module computes from what it put in, following RFC 9051
§6.4.4 (substring matches in any case over decoded text; dates by day,
disregarding time and zone; a Date header that cannot be read counts as
the internal date, as Dovecot does). SEARCH by sequence number must name
the same messages, and ESEARCH's MIN, MAX and COUNT must agree.
"""
import base64
import datetime
import quopri
import random
import re

from test_imap import append_uid, login, srv

WORDS = ["alpha", "Beta", "gamma", "DELTA", "caf\u00e9", "\u00fcber", "zeta"]
PEOPLE = ["ann@a.test", "Bob Smith <bob@b.test>", "carl@c.test", "dora@a.test"]
KEYWORDS = ["$work", "$later", "project"]
FLAGS = ["\\Seen", "\\Flagged", "\\Answered", "\\Draft", "\\Deleted"]
DAYS = [datetime.date(2024, 3, d) for d in (1, 2, 3, 5, 8)]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def imap_date(d):
    return "%d-%s-%d" % (d.day, MONTHS[d.month - 1], d.year)


class Msg:
    def __init__(self, rnd, n):
        self.subject = " ".join(rnd.sample(WORDS, rnd.randint(1, 3))) + " n%d" % n
        self.sender = rnd.choice(PEOPLE)
        self.to = rnd.choice(PEOPLE)
        self.body = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(0, 30))) + " end%d" % n
        self.flags = set(rnd.sample(FLAGS, rnd.randint(0, 2)))
        self.keywords = set(rnd.sample(KEYWORDS, rnd.randint(0, 2)))
        self.internal = rnd.choice(DAYS)
        self.sent = rnd.choice(DAYS + [None, "bad"])
        self.cte = rnd.choice(["8bit", "quoted-printable", "base64"])
        self.pad = rnd.randint(0, 3000)
        self.extra = rnd.random() < 0.3  # an X-Tag header

    def text(self):
        body = (self.body + "\n" + "p" * self.pad).encode()
        if self.cte == "base64":
            body = base64.encodebytes(body)
        elif self.cte == "quoted-printable":
            body = quopri.encodestring(body)
        body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        subject = "=?utf-8?b?%s?=" % base64.b64encode(self.subject.encode()).decode()
        head = "From: %s\r\nTo: %s\r\nSubject: %s\r\n" % (self.sender, self.to, subject)
        if self.sent == "bad":
            head += "Date: someday soon\r\n"
        elif self.sent:
            head += "Date: %s, %d %s %d 12:00:00 +0000\r\n" % (
                ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][self.sent.weekday()],
                self.sent.day, MONTHS[self.sent.month - 1], self.sent.year)
        if self.extra:
            head += "X-Tag: marker %s\r\n" % self.subject.split()[0]
        head += ("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: %s\r\n\r\n" % self.cte)
        return head.encode() + body

    def sent_day(self):
        return self.sent if isinstance(self.sent, datetime.date) else self.internal


def has(hay, needle):
    return needle.lower() in hay.lower()


class Query:
    """A random search key as IMAP text and as a test on a message."""

    def __init__(self, rnd, nmsgs, uids):
        self.rnd, self.nmsgs, self.uids = rnd, nmsgs, uids

    def key(self, depth):
        r = self.rnd
        if depth > 0 and r.random() < 0.45:
            kind = r.choice(["not", "or", "list"])
            if kind == "not":
                t, f = self.key(depth - 1)
                return "NOT " + t, lambda m, i: not f(m, i)
            if kind == "or":
                (t1, f1), (t2, f2) = self.key(depth - 1), self.key(depth - 1)
                return "OR %s %s" % (t1, t2), lambda m, i: f1(m, i) or f2(m, i)
            parts = [self.key(depth - 1) for _ in range(r.randint(1, 3))]
            return ("(%s)" % " ".join(t for t, _ in parts),
                    lambda m, i: all(f(m, i) for _, f in parts))
        kind = r.choice(["flag", "unflag", "keyword", "unkeyword", "larger", "smaller", "date",
                         "sent", "from", "to", "subject", "header", "body", "text", "seq", "uid",
                         "all"])
        if kind in ("flag", "unflag"):
            flag = r.choice(FLAGS)
            name = flag[1:].upper()
            if kind == "flag":
                return name, lambda m, i: flag in m.flags
            return "UN" + name, lambda m, i: flag not in m.flags
        if kind in ("keyword", "unkeyword"):
            kw = r.choice(KEYWORDS + ["$never"])
            want = kind == "keyword"
            return "%s %s" % (kind.upper(), kw), lambda m, i: (kw in m.keywords) == want
        if kind in ("larger", "smaller"):
            n = r.randint(200, 3500)
            if kind == "larger":
                return "LARGER %d" % n, lambda m, i: m.size > n
            return "SMALLER %d" % n, lambda m, i: m.size < n
        if kind in ("date", "sent"):
            d = r.choice(DAYS + [datetime.date(2024, 3, 4)])
            op = r.choice(["BEFORE", "ON", "SINCE"])
            test = {"BEFORE": lambda x: x < d, "ON": lambda x: x == d,
                    "SINCE": lambda x: x >= d}[op]
            if kind == "date":
                return "%s %s" % (op, imap_date(d)), lambda m, i: test(m.internal)
            return "SENT%s %s" % (op, imap_date(d)), lambda m, i: test(m.sent_day())
        if kind in ("from", "to"):
            s = r.choice(["a.test", "bob", "SMITH", "carl@c", "dora"])
            field = "sender" if kind == "from" else "to"
            return '%s "%s"' % (kind.upper(), s), lambda m, i: has(getattr(m, field), s)
        if kind == "subject":
            s = r.choice(WORDS + ["n1", "ta ga"])
            return 'SUBJECT "%s"' % s, lambda m, i: has(m.subject, s)
        if kind == "header":
            s = r.choice(["", "marker", "MARKER " + r.choice(WORDS)])
            return ('HEADER X-Tag "%s"' % s,
                    lambda m, i: m.extra and has("marker " + m.subject.split()[0], s))
        if kind == "body":
            s = r.choice(WORDS + ["end1", "pppp"])
            return 'BODY "%s"' % s, lambda m, i: has(m.body + "\n" + "p" * m.pad, s)
        if kind == "text":
            s = r.choice(WORDS + ["marker", "end2"])
            return ('TEXT "%s"' % s, lambda m, i: has(m.body + "\n" + "p" * m.pad, s) or
                    has(m.subject, s) or has(m.sender, s) or has(m.to, s) or
                    (m.extra and has("marker " + m.subject.split()[0], s)))
        if kind == "seq":
            a = r.randint(1, self.nmsgs)
            b = r.choice([a, min(self.nmsgs, a + r.randint(0, 9)), "*"])
            hi = self.nmsgs if b == "*" else b
            return "%d:%s" % (a, b), lambda m, i: a <= i + 1 <= hi
        if kind == "uid":
            pick = sorted(r.sample(self.uids, r.randint(1, 5)))
            return "UID %s" % ",".join(map(str, pick)), lambda m, i: m.uid in pick
        return "ALL", lambda m, i: True


def uids_of(data):
    return sorted(int(x) for line in data if line for x in line.split())


def test_imap_search_matches_a_reference_evaluator():
    rnd = random.Random(7)
    msgs = [Msg(rnd, n) for n in range(60)]
    with srv() as s:
        m = login(s)
        for x in msgs:
            flags = " ".join(sorted(x.flags | x.keywords))
            text = x.text()
            x.uid = append_uid(m, text, "(%s)" % flags,
                               '"%s 12:00:00 +0000"' % imap_date(x.internal).rjust(11, "0"))
            x.size = len(text)
        # Search strings in UTF-8, quoted (RFC 6855). Only after the
        # APPENDs: imaplib then wraps an APPEND's text in "UTF8 (...)"
        # inside the literal, which stores that as the message.
        m.enable("UTF8=ACCEPT")
        typ, data = m.select("INBOX")
        assert data == [b"60"], data
        uids = [x.uid for x in msgs]
        for seed in range(500):
            q = Query(random.Random(seed), len(msgs), uids)
            text, test = q.key(rnd.randint(0, 4))
            want = sorted(x.uid for i, x in enumerate(msgs) if test(x, i))
            typ, data = m.uid("SEARCH", text)
            assert typ == "OK", (text, data)
            got = uids_of(data)
            assert got == want, "query %d: UID SEARCH %s\n  got  %r\n  want %r" % (
                seed, text, got, want)
            typ, data = m.search(None, text)
            assert [uids[int(n) - 1] for n in uids_of(data)] == want, ("SEARCH", text)
            if seed % 10 == 0:
                typ, data = m.uid("SEARCH", "RETURN", "(MIN MAX COUNT)", text)
                assert typ == "OK", data
                line = m.response("ESEARCH")[1][-1].decode()
                count = int(re.search(r"COUNT (\d+)", line).group(1))
                assert count == len(want), (text, line)
                if want:
                    assert "MIN %d" % want[0] in line and "MAX %d" % want[-1] in line, line
        m.logout()
