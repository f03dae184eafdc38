"""IMAP SORT against a reference written from RFC 5256 and RFC 5957.

Sixty messages with random senders and recipients (display names or
none, local parts with dots, digits, underscores and capitals, Cc only
sometimes), subjects built from reply and forward markers ("Re:",
"FWD:", "[list]" blobs, "(fwd)" trailers, "[fwd: ...]" wrappers, odd
white space, encoded-words), Date headers in several zones (some missing
or unreadable), internal dates with ties, and sizes, are sorted by
random criteria lists (one to three keys, each maybe REVERSE) over random
search keys. Each UID SORT must give the order this module computes:
addr-mailbox of the first address, display name or else addr-spec for
DISPLAYFROM/DISPLAYTO, base subject by RFC 5256 §2.1, the Date in UTC or
else the internal date, strings compared as i;unicode-casemap keys
(RFC 5051 §2: each code point's simple titlecase mapping from
UnicodeData.txt, then NFKD, so "ÉLODIE", "élodie" written decomposed and
"Élodie" are one key and sort among the e's, while "STRASSE" and
"Straße" are not) as octets, and ties in sequence order.
"""
import base64
import datetime
import os
import email.utils
import random
import re
import unicodedata

from test_imap import append_uid, login, srv

LOCALS = ["ann", "Bob", "bob_x", "bobx", "carl.d", "Dora2", "_eve", "zed", "a-b", "AB"]
NAMES = ["", "", "Ann Lee", "bob", "Zoe", "[Team]", "_under", "Émile", "e\u0301lodie", "ÉLODIE",
         "Élodie", "Ölaf", "Emma", "STRASSE", "Straße"]
WORDS = ["alpha", "Beta", "gamma", "_x", "[z]", "ab", "AB c", "\ufb01x", "FIX"]


def rand_subject(rnd):
    s = " ".join(rnd.sample(WORDS, rnd.randint(1, 2)))
    for _ in range(rnd.randint(0, 3)):
        form = rnd.choice(["Re: %s", "RE:%s", "Fwd: %s", "fw: %s", "Re[2]: %s", "[list] %s",
                           "[list] Re: %s", "%s (fwd)", "%s  (FWD) ", "[fwd: %s]", "Re:  %s"])
        s = form % s
    if rnd.random() < 0.2:
        s = "=?utf-8?b?%s?=" % base64.b64encode(s.encode()).decode()
    return s


def rand_addr(rnd):
    local = rnd.choice(LOCALS)
    dom = rnd.choice(["a.test", "b.test"])
    name = rnd.choice(NAMES)
    if not name:
        return "%s@%s" % (local, dom), "", "%s@%s" % (local, dom)
    enc = name if name.isascii() else "=?utf-8?q?%s?=" % "".join(
        "=%02X" % b for b in name.encode())
    return '"%s" <%s@%s>' % (enc, local, dom), name, "%s@%s" % (local, dom)


def decoded(s):
    """A subject of rand_subject() without its encoded-word, if any."""
    m = re.fullmatch(r"=\?utf-8\?b\?(.*)\?=", s)
    return base64.b64decode(m.group(1)).decode() if m else s


def base_and_reply(s):
    """(base subject, reply or forward) by RFC 5256 §2.1 steps (1) to (6).
    A reply or forward is a subject from which a subj-refwd, a "(fwd)"
    subj-trailer or a subj-fwd-hdr/subj-fwd-trl pair was removed."""
    if s is None:
        return "", False
    s = re.sub(r"[ \t]+", " ", decoded(s))  # (1)
    reply = False
    while True:
        while True:  # (2) subj-trailer: "(fwd)" / WSP
            t = s.rstrip(" \t")
            if t[-5:].lower() == "(fwd)":
                t, reply = t[:-5], True
            if t == s:
                break
            s = t
        while True:  # (3) to (5): subj-leader, then a subj-blob if something is left
            s = s.lstrip(" \t")
            m = re.match(r"(?i)(\[[^\[\]]*\][ \t]*)*(re|fwd?)[ \t]*(\[[^\[\]]*\][ \t]*)?:", s)
            if m:
                s, reply = s[m.end():], True
                continue
            m = re.match(r"\[[^\[\]]*\][ \t]*", s)
            if m and s[m.end():]:
                s = s[m.end():]
                continue
            break
        m = re.fullmatch(r"(?i)\[fwd:(.*)\]", s)  # (6)
        if m:
            s, reply = m.group(1), True
            continue
        return s.strip(" \t"), reply


def base_subject(s):
    """RFC 5256 §2.1, steps (1) to (6)."""
    return base_and_reply(s)[0]


_TITLE = {}


def unicode_casemap(s):
    """RFC 5051 §2: each code point's simple titlecase mapping
    (UnicodeData.txt field 14, read from vendor/out as the build reads
    it), then NFKD; keys compare as octets."""
    if not _TITLE:
        path = os.path.join(os.path.dirname(__file__), "..", "..", "vendor", "out", "host",
                            "share", "UnicodeData.txt")
        with open(path) as f:
            for line in f:
                v = line.split(";")
                if v[14].strip():
                    _TITLE[int(v[0], 16)] = chr(int(v[14], 16))
    t = "".join(_TITLE.get(ord(c), c) for c in s)
    return unicodedata.normalize("NFKD", t).encode()


class Msg:
    def __init__(self, rnd, n):
        self.n = n
        self.frm = rand_addr(rnd)
        self.to = rand_addr(rnd)
        self.cc = rand_addr(rnd) if rnd.random() < 0.6 else None
        self.subject = rand_subject(rnd)
        self.internal = datetime.datetime(2024, 5, rnd.randint(1, 4), rnd.choice([9, 12]), 0, 0,
                                          tzinfo=datetime.timezone.utc)
        self.date = rnd.choice(["zone", "zone", "zone", None, "bad"])
        if self.date == "zone":
            tz = datetime.timezone(datetime.timedelta(hours=rnd.choice([-7, 0, 2, 9])))
            self.date = datetime.datetime(2024, 5, rnd.randint(1, 4), rnd.randint(0, 23),
                                          rnd.choice([0, 30]), 0, tzinfo=tz)
        self.pad = rnd.randint(0, 400)

    def text(self):
        h = "From: %s\r\nTo: %s\r\n" % (self.frm[0], self.to[0])
        if self.cc:
            h += "Cc: %s\r\n" % self.cc[0]
        h += "Subject: %s\r\n" % self.subject
        if isinstance(self.date, datetime.datetime):
            h += "Date: %s\r\n" % email.utils.format_datetime(self.date)
        elif self.date == "bad":
            h += "Date: the day after tomorrow\r\n"
        return (h + "\r\n" + "x" * self.pad + "\r\n").encode()

    def key(self, crit):
        if crit == "ARRIVAL":
            return self.internal
        if crit == "DATE":
            return self.date if isinstance(self.date, datetime.datetime) else self.internal
        if crit == "SIZE":
            return self.size
        if crit == "SUBJECT":
            return unicode_casemap(base_subject(self.subject))
        addr = {"FROM": self.frm, "TO": self.to, "CC": self.cc,
                "DISPLAYFROM": self.frm, "DISPLAYTO": self.to}[crit]
        if addr is None:
            return b""
        if crit.startswith("DISPLAY"):
            return unicode_casemap(addr[1] or addr[2])
        return unicode_casemap(addr[2].split("@")[0])


def sort_ref(msgs, crits):
    order = list(range(len(msgs)))  # sequence order first: ties keep it
    for rev, crit in reversed(crits):
        # Stable, and so is reverse=True: ties keep sequence order, as
        # RFC 5256 wants also under REVERSE.
        order.sort(key=lambda i: msgs[i].key(crit), reverse=rev)
    return order


def test_imap_sort_matches_a_reference():
    rnd = random.Random(5)
    msgs = [Msg(rnd, n) for n in range(60)]
    with srv() as s:
        m = login(s)
        for x in msgs:
            text = x.text()
            d = x.internal.strftime('"%d-%b-%Y %H:%M:%S +0000"')
            x.uid = append_uid(m, text, None, d)
            x.size = len(text)
        m.select("INBOX")
        # SIZE is RFC822.SIZE (RFC 5256 §3): imaplib never enables UTF-8,
        # so a raw UTF-8 header counts downgraded (test_imap_downgrade
        # checks that size against BODY[]); an ASCII one as appended.
        for x in msgs:
            typ, data = m.uid("FETCH", str(x.uid), "(RFC822.SIZE)")
            size = int(re.search(rb"RFC822\.SIZE (\d+)", data[0]).group(1))
            if x.text().split(b"\r\n\r\n")[0].isascii():
                assert size == x.size, (x.uid, size, x.size)
            x.size = size
        for q in range(300):
            r = random.Random(q)
            crits = [(r.random() < 0.3, r.choice(["ARRIVAL", "CC", "DATE", "FROM", "SIZE",
                                                   "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"]))
                     for _ in range(r.randint(1, 3))]
            lo = r.randint(1, 60)
            hi = r.randint(lo, 60)
            text = " ".join(("REVERSE " if rev else "") + c for rev, c in crits)
            typ, data = m.uid("SORT", "(%s)" % text, "UTF-8", "%d:%d" % (lo, hi))
            assert typ == "OK", (text, data)
            got = [int(x) for x in data[0].split()]
            want = [msgs[i].uid for i in sort_ref(msgs, crits) if lo <= i + 1 <= hi]
            assert got == want, "SORT (%s) %d:%d\n got  %r\n want %r\n%s" % (
                text, lo, hi, got, want, "\n".join(
                    "%d: %r" % (msgs[i].uid, [msgs[i].key(c) for _, c in crits])
                    for i in range(lo - 1, hi) if got.index(msgs[i].uid) !=
                    want.index(msgs[i].uid))[:3000])
        m.logout()
