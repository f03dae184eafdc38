"""IMAP FETCH of MIME sections against messages built here at random.

The test builds 100 random MIME messages (seeded): multipart/mixed,
alternative and digest nested up to three deep, message/rfc822 parts
holding messages of their own, text and binary leaves in 7bit, 8bit,
quoted-printable and base64, preambles and epilogues, empty bodies,
parts with no header at all, delimiters with transport padding, folded
and upper-case header values, and multiparts cut short before their
close-delimiter. The top-level header carries folded and repeated
fields, checked with HEADER.FIELDS and HEADER.FIELDS.NOT. Because it
wrote every octet, it knows each part's exact bytes, and checks for
every part what RFC 9051 §6.4.5 says the server returns: BODY[n] (the
part's body; for a message/rfc822 part the whole message inside), BODY[n.MIME], BODY[n.HEADER] and BODY[n.TEXT]
of encapsulated messages, partial fetches BODY[n]<o.l>, BINARY[n] (the
body decoded, RFC 3516) and BINARY.SIZE[n]; and in BODYSTRUCTURE, each
leaf's type, subtype, encoding, octet count, line count for text, and its
parameters (quoted values with ";" and escapes), Content-ID,
Content-Description and Content-Disposition with its filename.
"""
import base64
import quopri
import random
import re

from test_imap import append_uid, login, srv

CRLF = b"\r\n"


class Part:
    """A MIME entity built from its pieces: header lines, body octets."""

    def __init__(self, ctype, header, body, children=(), decoded=None, encoding="7bit",
                 inner=None):
        self.ctype, self.header, self.body = ctype, header, body
        self.children, self.decoded, self.encoding = list(children), decoded, encoding
        self.inner = inner  # message/rfc822: the Part of the message inside
        self.is_message = False  # a whole message (its header is the message's)
        self.ext = None  # leaf(): (params, id, description, disposition) written

    def octets(self):
        return self.header + CRLF + self.body


def text_body(rnd):
    lines = []
    for _ in range(rnd.randint(0, 8)):
        lines.append(rnd.choice(["plain words %d" % rnd.randint(0, 999), "",
                                 "\u00fcml\u00e4ut caf\u00e9", "x" * rnd.randint(60, 200),
                                 "--not-a-boundary", "trailing space "]))
    return "\n".join(lines) + ("\n" if rnd.random() < 0.8 else "")


def qp_decode(body):
    """RFC 2045 §6.7: soft line breaks go, =XX is the octet XX."""
    body = body.replace(b"=\r\n", b"")
    return re.sub(rb"=([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), body)


def leaf(rnd, depth):
    kind = rnd.choice(["text/plain", "text/html", "application/octet-stream", "image/png"])
    enc = rnd.choice(["7bit", "8bit", "quoted-printable", "base64"])
    if kind.startswith("text/"):
        raw = text_body(rnd).encode()
    else:
        raw = bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 600)))
        enc = "base64"
    if enc in ("7bit", "8bit"):
        if enc == "7bit":
            raw = raw.decode().encode("ascii", "replace")
        body = raw.replace(b"\n", CRLF)
    elif enc == "quoted-printable":
        body = quopri.encodestring(raw).replace(b"\n", CRLF)
    else:
        body = base64.encodebytes(raw).replace(b"\n", CRLF)
    if body and not body.endswith(CRLF) and rnd.random() < 0.5:
        body += CRLF
    decoded = (raw if enc == "base64" else qp_decode(body) if enc == "quoted-printable"
               else body)
    # Parameters, id, description and disposition, as BODYSTRUCTURE's
    # extension data must give them back (RFC 9051 §7.5.2).
    params = [("charset", "utf-8")] if kind.startswith("text/") else []
    if rnd.random() < 0.4:
        params.append(("name", rnd.choice(["report.pdf", "a b; c.txt", "x\"y.bin"])))
    if rnd.random() < 0.2:
        params.append(("format", "flowed"))
    ptext = "".join("; %s=%s" % (k, v if re.fullmatch(r"[\w.-]+", v) else
                                 '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"'))
                    for k, v in params)
    header = "Content-Type: %s%s\r\nContent-Transfer-Encoding: %s\r\n" % (
        kind, ptext, enc.upper() if rnd.random() < 0.2 else enc)
    cid = "<c%d@mime.test>" % rnd.randint(0, 999) if rnd.random() < 0.3 else None
    desc = rnd.choice([None, None, "a part, described"])
    dsp = None
    if cid:
        header += "Content-ID: %s\r\n" % cid
    if desc:
        header += "Content-Description: %s\r\n" % desc
    if rnd.random() < 0.4:
        dsp = (rnd.choice(["attachment", "inline"]),
               [("filename", rnd.choice(["a.txt", "b c.pdf"]))])
        header += 'Content-Disposition: %s; filename="%s"\r\n' % (dsp[0], dsp[1][0][1])
    part = Part(kind, header.encode(), body, decoded=decoded, encoding=enc)
    part.ext = (params, cid, desc, dsp)
    return part


def multipart(rnd, depth, sub=None):
    sub = sub or rnd.choice(["mixed", "alternative", "digest", "related"])
    boundary = "b%d_%d" % (depth, rnd.randint(0, 10**9))
    kids = [entity(rnd, depth + 1, in_digest=sub == "digest")
            for _ in range(rnd.randint(1, 3))]
    body = b""
    if rnd.random() < 0.3:
        body += b"This is a preamble.\r\n"
    unclosed = depth == 0 and rnd.random() < 0.15  # cut short: no close-delimiter
    for i, k in enumerate(kids):
        # A delimiter line may carry transport padding (RFC 2046 §5.1.1).
        pad = rnd.choice([b"", b"", b"  ", b"\t"])
        body += b"--" + boundary.encode() + pad + CRLF + k.octets()
        if not (unclosed and i == len(kids) - 1):
            body += CRLF
    if not unclosed:
        body += b"--" + boundary.encode() + b"--"
        if rnd.random() < 0.3:
            body += b"\r\nan epilogue\r\n"
        elif rnd.random() < 0.5:
            body += CRLF
    ctype = rnd.choice(["multipart/%s", "Multipart/%s", "MULTIPART/%s"]) % sub
    fold = rnd.choice(["; ", ";\r\n\t"])
    header = ('Content-Type: %s%sboundary="%s"\r\n' % (ctype, fold, boundary)).encode()
    return Part("multipart/" + sub, header, body, children=kids)


def message_part(rnd, depth):
    inner = message(rnd, depth + 1)
    header = b"Content-Type: message/rfc822\r\n"
    return Part("message/rfc822", header, inner.octets(), inner=inner)


def entity(rnd, depth, in_digest=False):
    r = rnd.random()
    if depth < 3 and r < 0.25:
        return multipart(rnd, depth)
    if depth < 3 and r < 0.4:
        return message_part(rnd, depth)
    if in_digest and r < 0.55:
        # No Content-Type in a digest: message/rfc822 by default (RFC 2046).
        inner = message(rnd, depth + 1)
        return Part("message/rfc822", b"", inner.octets(), inner=inner)
    if not in_digest and r < 0.5:
        # No header at all: text/plain in US-ASCII (RFC 2045).
        body = text_body(rnd).encode("ascii", "replace").replace(b"\n", CRLF)
        return Part("text/plain", b"", body, decoded=body)
    return leaf(rnd, depth)


def message(rnd, depth=0):
    top = multipart(rnd, depth) if rnd.random() < 0.7 or depth == 0 and rnd.random() < 0.9 \
        else leaf(rnd, depth)
    head = ("From: a@b.test\r\nTo: c@d.test\r\nSubject: level %d\r\nMIME-Version: 1.0\r\n"
            % depth).encode()
    extra = [b"Received: from x.test\r\n\tby y.test; Mon, 1 Jan 2024 00:00:00 +0000\r\n",
             b"X-Dup: one\r\n", b"x-dup: two\r\n", b"X-Long: a\r\n b\r\n  c\r\n",
             b"X-Empty:\r\n", b"Received: from z.test by y.test\r\n"]
    head += b"".join(rnd.sample(extra, rnd.randint(0, len(extra))))
    msg = Part(top.ctype, head + top.header, top.body, children=top.children,
               decoded=top.decoded, encoding=top.encoding, inner=top.inner)
    msg.is_message = True
    msg.ext = top.ext
    return msg


def fields(header, names, negate=False):
    """RFC 9051 HEADER.FIELDS (NOT): the header's fields named (any case)
    or not named in names, in order, with their folded lines, and the
    blank line."""
    out, keep = b"", False
    for line in header.split(CRLF)[:-1]:
        if line[:1] not in (b" ", b"\t"):
            keep = (line.split(b":", 1)[0].lower() in names) != negate
        if keep:
            out += line + CRLF
    return out + CRLF


def sections(p, prefix=""):
    """(section, part) for every part below p, numbered as RFC 9051 does."""
    out = []
    kids = p.children if p.ctype.startswith("multipart/") else [p]
    for i, k in enumerate(kids, 1):
        sec = "%s%d" % (prefix, i)
        out.append((sec, k))
        if k.ctype.startswith("multipart/"):
            out += sections(k, sec + ".")
        elif k.inner is not None:
            out += sections(k.inner, sec + ".")
    return out


def fetch_one(m, uid, item):
    typ, data = m.uid("FETCH", str(uid), "(%s)" % item)
    assert typ == "OK", (item, data)
    for d in data:
        if isinstance(d, tuple):
            return d[1]
    # An empty body comes as "" (a quoted string), not as a literal.
    if data and isinstance(data[0], bytes) and b'""' in data[0]:
        return b""
    if data and isinstance(data[0], bytes):
        m2 = re.search(rb"BINARY\.SIZE\[[\d.]*\] (\d+)", data[0])
        if m2:
            return int(m2.group(1))
    raise AssertionError("no %s in %r" % (item, data))


def parse_sexp(s, i=0):
    """An IMAP parenthesised list (BODYSTRUCTURE) as nested Python lists."""
    out = []
    assert s[i] == "("
    i += 1
    while True:
        while s[i] == " ":
            i += 1
        c = s[i]
        if c == ")":
            return out, i + 1
        if c == "(":
            v, i = parse_sexp(s, i)
        elif c == '"':
            j = i + 1
            v = ""
            while s[j] != '"':
                if s[j] == "\\":
                    j += 1
                v += s[j]
                j += 1
            i = j + 1
        elif c == "{":
            raise AssertionError("literal in BODYSTRUCTURE: " + s[i:i + 40])
        else:
            j = i
            while s[j] not in " ()":
                j += 1
            v = s[i:j]
            i = j
            if v.isdigit():
                v = int(v)
            elif v == "NIL":
                v = None
        out.append(v)


def pairs(plist):
    """A BODYSTRUCTURE parameter list as [(lower-case name, value)]."""
    return [(plist[i].lower(), plist[i + 1]) for i in range(0, len(plist or []), 2)]


def structure_leaves(bs):
    """[(type/subtype, encoding, octets, lines or None)] in part order."""
    if isinstance(bs[0], list):  # multipart: parts first, then subtype
        out = []
        for x in bs:
            if not isinstance(x, list):
                break
            out += structure_leaves(x)
        return out
    ctype = ("%s/%s" % (bs[0], bs[1])).lower()
    leaf_ = [(ctype, (bs[5] or "").lower(), bs[6], bs[7] if ctype.startswith("text/") else None)]
    if ctype != "message/rfc822":
        dsp = bs[9 if ctype.startswith("text/") else 8]
        leaf_[0] += (pairs(bs[2]), bs[3], bs[4],
                     (dsp[0].lower(), pairs(dsp[1])) if dsp else None)
    if ctype == "message/rfc822":
        return leaf_ + structure_leaves(bs[8])
    return leaf_


def expected_leaves(p):
    """What structure_leaves() must find for p (a whole message)."""
    out = []
    kids = p.children if p.ctype.startswith("multipart/") else [p]
    for k in kids:
        if k.ctype.startswith("multipart/"):
            out += expected_leaves(k)
        else:
            lines = k.body.count(b"\n")  # line ends, as Dovecot counts them
            out.append((k.ctype, k.encoding if k.header else "7bit", len(k.body),
                        lines if k.ctype.startswith("text/") else None))
            if k.ctype != "message/rfc822":
                params, cid, desc, dsp = k.ext or (
                    [("charset", "us-ascii")] if k.ctype.startswith("text/") else [],
                    None, None, None)
                out[-1] += (params, cid, desc, dsp)
            if k.inner is not None:
                out += expected_leaves(k.inner)
    return out


def test_imap_fetch_sections_of_random_mime_trees():
    rnd = random.Random(11)
    msgs = [message(rnd) for _ in range(100)]
    with srv() as s:
        m = login(s)
        uids = [append_uid(m, msg.octets()) for msg in msgs]
        m.select("INBOX")
        checked = 0
        for n, (msg, uid) in enumerate(zip(msgs, uids)):
            assert fetch_one(m, uid, "BODY.PEEK[]") == msg.octets()
            names = rnd.sample([b"from", b"subject", b"x-dup", b"received", b"x-long",
                                b"x-empty", b"x-absent", b"content-type"], rnd.randint(1, 4))
            for negate in (False, True):
                item = "BODY.PEEK[HEADER.FIELDS%s (%s)]" % (
                    ".NOT" if negate else "", " ".join(x.decode().upper() for x in names))
                got = fetch_one(m, uid, item)
                want = fields(msg.header, names, negate)
                assert got == want, "message %d %s:\n got  %r\n want %r" % (n, item, got, want)
            for sec, part in sections(msg):
                what = "message %d section %s (%s)" % (n, sec, part.ctype)
                want = part.body
                got = fetch_one(m, uid, "BODY.PEEK[%s]" % sec)
                assert got == want, "%s: BODY[] %r, want %r" % (what, got[:120], want[:120])
                if not part.is_message:
                    got = fetch_one(m, uid, "BODY.PEEK[%s.MIME]" % sec)
                    assert got == part.header + CRLF, "%s: MIME %r" % (what, got[:200])
                if part.inner is not None:
                    got = fetch_one(m, uid, "BODY.PEEK[%s.HEADER]" % sec)
                    assert got == part.inner.header + CRLF, "%s: HEADER %r" % (what, got[:200])
                    got = fetch_one(m, uid, "BODY.PEEK[%s.TEXT]" % sec)
                    assert got == part.inner.body, "%s: TEXT %r" % (what, got[:200])
                if len(want) > 10:
                    o = rnd.randint(0, len(want) - 1)
                    got = fetch_one(m, uid, "BODY.PEEK[%s]<%d.7>" % (sec, o))
                    assert got == want[o:o + 7], "%s: partial <%d.7>" % (what, o)
                if part.decoded is not None and not part.ctype.startswith("multipart/"):
                    got = fetch_one(m, uid, "BINARY.PEEK[%s]" % sec)
                    assert got == part.decoded, "%s: BINARY %r, want %r" % (
                        what, got[:100], part.decoded[:100])
                    size = fetch_one(m, uid, "BINARY.SIZE[%s]" % sec)
                    assert size == len(part.decoded), "%s: BINARY.SIZE %r" % (what, size)
                checked += 1
            typ, data = m.uid("FETCH", str(uid), "(BODYSTRUCTURE)")
            text = data[0].decode() if isinstance(data[0], bytes) else data[0][0].decode()
            bs, _ = parse_sexp(text, text.index("BODYSTRUCTURE (") + len("BODYSTRUCTURE "))
            got = structure_leaves(bs)
            want = expected_leaves(msg)
            assert got == want, "message %d BODYSTRUCTURE\n got  %r\n want %r" % (n, got, want)
        assert checked > 400, checked
        m.logout()
