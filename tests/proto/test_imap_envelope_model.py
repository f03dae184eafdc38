"""IMAP FETCH ENVELOPE against address lists built here at random.

Eighty messages get From, Sender, Reply-To, To, Cc and Bcc fields written
from known parts (seeded): addresses with and without display names,
names quoted with escapes or as plain words or encoded-words, comments in
odd places, folded lines, angle addresses and bare addr-specs, groups
(empty or not) among them, and fields left out or left empty. Because the
test knows each address's parts, it knows the ENVELOPE RFC 9051 §7.5.2
asks for: (name adl mailbox host) per address, a group as
(NIL NIL "name" NIL) ... (NIL NIL NIL NIL), names as written (quotes and
escapes gone, encoded-words left encoded), comments dropped (but one is
the name of an address without a display name, "bob@x (Bob)"), Sender
and Reply-To set to From when absent or empty, and date, subject,
in-reply-to and message-id as written.
"""
import random
import re

from test_imap import append_uid, login, srv
from test_imap_mime_model import parse_sexp

LOCALS = ["ann", "bob.smith", "c_d", "x+tag", "Zoe"]
HOSTS = ["a.test", "mail.b.test"]
WORDS = ["Ann", "Smith", "Q.", "O'Neil", "Team", "a,b", "x\"y", "Dr"]


def rand_name(rnd):
    """(as written in the header, as ENVELOPE shows it) or (None, None)."""
    r = rnd.random()
    if r < 0.35:
        return None, None
    words = rnd.sample(WORDS, rnd.randint(1, 3))
    plain = " ".join(words)
    if r < 0.55 and all(re.fullmatch(r"[A-Za-z]+", w) for w in words):
        return plain, plain                       # atoms as they are
    if r < 0.7:
        enc = "=?utf-8?q?%s?=" % "".join(
            c if c.isalnum() else "_" if c == " " else "=%02X" % ord(c) for c in plain)
        return enc, enc                           # encoded-word: left encoded
    quoted = '"%s"' % plain.replace("\\", "\\\\").replace('"', '\\"')
    return quoted, plain                          # quoted-string: unquoted


def rand_mailbox(rnd):
    """(header text, envelope address tuple)."""
    local, host = rnd.choice(LOCALS), rnd.choice(HOSTS)
    written, name = rand_name(rnd)
    comment = rnd.choice(["", "", " (a comment)", " (nested (comment))"])
    # Without a display name, a comment is the name ("bob@x (Bob)"), as
    # Dovecot and the old mail readers take it.
    if written is None:
        name = comment[2:-1] or None
        if rnd.random() < 0.5:
            return "%s@%s%s" % (local, host, comment), (name, None, local, host)
    return ("%s <%s@%s>%s" % (written or "", local, host, comment)).strip(), (name, None, local,
                                                                              host)


def rand_list(rnd, allow_group):
    """(header value, [envelope items]) for an address list."""
    texts, env = [], []
    for _ in range(rnd.randint(1, 3)):
        if allow_group and rnd.random() < 0.2:
            gname = rnd.choice(["Friends", "undisclosed-recipients"])
            members = [rand_mailbox(rnd) for _ in range(rnd.randint(0, 2))]
            texts.append("%s: %s;" % (gname, ", ".join(t for t, _ in members)))
            env.append((None, None, gname, None))
            env += [a for _, a in members]
            env.append((None, None, None, None))
        else:
            t, a = rand_mailbox(rnd)
            texts.append(t)
            env.append(a)
    sep = rnd.choice([", ", ",\r\n\t", " ,  "])
    return sep.join(texts), env


class Msg:
    def __init__(self, rnd, n):
        self.lines, self.env = [], {}
        frm = rand_list(rnd, False) if rnd.random() < 0.9 else ("", [])
        self.add("From", frm)
        for field, group in (("Sender", False), ("Reply-To", True), ("To", True), ("Cc", True),
                             ("Bcc", True)):
            r = rnd.random()
            if r < 0.35:
                self.env[field] = None                       # absent
            elif r < 0.45:
                self.lines.append("%s:\r\n" % field)         # present, empty
                self.env[field] = None
            else:
                if field == "Sender":
                    text, addr = rand_mailbox(rnd)
                    self.add(field, (text, [addr]))
                else:
                    self.add(field, rand_list(rnd, group))
        for f in ("Sender", "Reply-To"):
            if not self.env[f]:
                self.env[f] = self.env["From"]
        self.subject = rnd.choice(["hello %d" % n, "Re: [list] thing %d" % n,
                                   '"quoted" \\ back %d' % n])
        self.lines.append("Subject: %s\r\n" % self.subject)
        self.date = "Tue, %d May 2024 10:00:00 +0200" % (1 + n % 28)
        self.lines.append("Date: %s\r\n" % self.date)
        self.msgid = "<m%d@env.test>" % n
        self.lines.append("Message-ID: %s\r\n" % self.msgid)
        self.irt = "<p%d@env.test>" % n if rnd.random() < 0.5 else None
        if self.irt:
            self.lines.append("In-Reply-To: %s\r\n" % self.irt)
        rnd.shuffle(self.lines)

    def add(self, field, value):
        """A field (text, [envelope items]) written and expected."""
        text, env = value
        self.lines.append("%s: %s\r\n" % (field, text))
        self.env[field] = env or None

    def text(self):
        return ("".join(self.lines) + "\r\nbody\r\n").encode()

    def expected(self):
        def addrs(f):
            v = self.env.get(f)
            return [list(a) for a in v] if v else None
        return [self.date, self.subject, addrs("From"), addrs("Sender"), addrs("Reply-To"),
                addrs("To"), addrs("Cc"), addrs("Bcc"), self.irt, self.msgid]


def test_imap_envelope_matches_the_fields_written():
    rnd = random.Random(3)
    msgs = [Msg(rnd, n) for n in range(80)]
    with srv() as s:
        m = login(s)
        for x in msgs:
            append_uid(m, x.text())
        m.select("INBOX")
        typ, data = m.fetch("1:*", "(ENVELOPE)")
        assert typ == "OK", data
        lines = [d.decode() if isinstance(d, bytes) else None for d in data]
        assert None not in lines, "a literal in ENVELOPE: %r" % data[:2]
        assert len(lines) == len(msgs)
        for n, (x, line) in enumerate(zip(msgs, lines)):
            env, _ = parse_sexp(line, line.index("ENVELOPE (") + len("ENVELOPE "))
            want = x.expected()
            names = ["date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
                     "in-reply-to", "message-id"]
            diff = ["%s: got %r, want %r" % (k, g, w)
                    for k, g, w in zip(names, env, want) if g != w]
            assert not diff, "message %d:\n%s\n%s" % (n, x.text().decode(), "\n".join(diff))
        m.logout()
