"""Differential FETCH test: every message of tests/proto/fetch_corpus/
(real-world shapes and malformed MIME, the issue 32 failures' cases
among them) is APPENDed to tern and to a private Debian Dovecot started
here, and ENVELOPE, BODYSTRUCTURE, RFC822.SIZE, BODY[HEADER], BODY[TEXT],
and BODY[n] and BODY[n.MIME] of every part BODYSTRUCTURE lists are
compared octet for octet. Each difference that remains is listed in
KNOWN below with the RFC sentence that makes tern's answer right; any
other difference, or a listed one that went away, fails the test."""
import os
import re
import socket

import dovecot_peer
from test_imap import BOB, BOB_PW, Raw, raw_response, srv

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "fetch_corpus")

# (message file, item): why tern's answer is the right one. Every other
# item of every message is answered alike by both servers.
RFC2046_CRLF = ("RFC 2046 §5.1.1: 'the CRLF preceding the boundary delimiter line is "
                "conceptually attached to the boundary'; Dovecot counts it into a "
                "message/rfc822 part's body (size and lines one line longer)")
RFC2045_DEFAULT = ("RFC 2045 §5.2: 'It is also recommend that this default "
                   "[text/plain; charset=us-ascii] be assumed when a syntactically invalid "
                   "Content-Type header field is encountered'")
BCHARS = ("RFC 2046 §5.1.1: bcharsnospace includes '=', so the sender's boundary is "
          "'----=_Part_1_2.3' whole; Dovecot cuts the unquoted value at '=' and splits "
          "the message at every '------' line")
KNOWN = {
    ("04-rfc822-forward.eml", "BODYSTRUCTURE"): RFC2046_CRLF,
    ("04-rfc822-forward.eml", "BODY[2]"): RFC2046_CRLF,
    ("23-rfc822-header-only.eml", "BODYSTRUCTURE"): RFC2046_CRLF,
    ("23-rfc822-header-only.eml", "BODY[1]"): RFC2046_CRLF,
    ("13-message-rfc822-base64.eml", "BODYSTRUCTURE"): RFC2046_CRLF,
    ("13-message-rfc822-base64.eml", "BODY[1]"): RFC2046_CRLF,
    ("13-message-rfc822-base64.eml", "BODY[1.1.MIME]"):
        "RFC 9051 §6.4.5: 'The MIME part specifier refers to the [MIME-IMB] header for this "
        "part'; part 1.1 is the empty text/plain both BODYSTRUCTUREs list inside the "
        "encoded message, which has no header (Dovecot sends the base64 body)",
    ("14-odd-content-type.eml", "BODYSTRUCTURE"): RFC2045_DEFAULT + " ('text' alone has no "
        "subtype; Dovecot sends an empty subtype)",
    ("18-missing-boundary-param.eml", "BODYSTRUCTURE"): RFC2045_DEFAULT + " (RFC 2046 §5.1.1: "
        "'the boundary parameter is required'; Dovecot lists an empty multipart)",
    ("18-missing-boundary-param.eml", "BODY[1]"): RFC2045_DEFAULT + ": part 1 of a text/plain "
        "message is its body",
    ("18-missing-boundary-param.eml", "BODY[1.MIME]"): RFC2045_DEFAULT + ": the MIME header of "
        "part 1 of a non-multipart message is the message's header",
    ("11-rfc2231.eml", "BODYSTRUCTURE"): BCHARS,
    ("11-rfc2231.eml", "BODY[3]"): BCHARS + " (no part 3 then)",
    ("11-rfc2231.eml", "BODY[3.MIME]"): BCHARS + " (no part 3 then)",
}


class Plain:
    """A raw IMAP connection without TLS (Dovecot's side)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), 10)
        self.buf = b""
        raw_response(self)  # greeting

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def close(self):
        self.sock.close()


def command(c, tag, text, literal=None):
    """[(text, literals)] up to the tagged response, which must be OK."""
    if literal is not None:
        c.send("%s %s {%d}\r\n" % (tag, text, len(literal)))
        line, _ = raw_response(c)
        assert line.startswith(b"+"), line
        c.send(literal + b"\r\n")
    else:
        c.send("%s %s\r\n" % (tag, text))
    out = []
    while True:
        text_, lits = raw_response(c)
        out.append((text_, lits))
        if text_.startswith(tag.encode() + b" "):
            assert text_.split(b" ")[1] == b"OK", out
            return out


def parse(text, lits):
    """An IMAP response's text ({} for each literal) as nested lists of
    bytes; quoted strings and literals become ("s", value), NIL None."""
    pos, li = 0, iter(lits)

    def items(end):
        nonlocal pos
        out = []
        while pos < len(text):
            ch = text[pos:pos + 1]
            if ch == b" ":
                pos += 1
            elif ch == b"(":
                pos += 1
                out.append(items(b")"))
            elif ch == b")":
                pos += 1
                return out
            elif ch == b'"':
                pos += 1
                v = b""
                while text[pos:pos + 1] != b'"':
                    if text[pos:pos + 1] == b"\\":
                        pos += 1
                    v += text[pos:pos + 1]
                    pos += 1
                pos += 1
                out.append(("s", v))
            elif text[pos:pos + 2] == b"{}":
                pos += 2
                out.append(("s", next(li)))
            else:
                m = re.compile(rb"[^ ()\[]+(\[[^\]]*\](<\d+>)?)?").match(text, pos)
                pos = m.end()
                out.append(None if m.group(0) == b"NIL" else m.group(0))
        return out

    return items(None)


def fetch_items(c, tag, uid, what):
    """{item name: value} of one UID FETCH."""
    for text, lits in command(c, tag, "UID FETCH %d (%s)" % (uid, what)):
        if b" FETCH (" in text:
            toks = parse(text, lits)[3]
            return {toks[i]: toks[i + 1] for i in range(0, len(toks), 2)}
    raise AssertionError("no FETCH for %d %s" % (uid, what))


def part_numbers(bs, prefix=""):
    """Section numbers of every part a BODYSTRUCTURE lists, as FETCH
    names them (RFC 9051 §6.4.5)."""
    out = []
    if isinstance(bs[0], list):  # multipart: its children are 1, 2, ...
        children = []
        for c in bs:  # the parts come first, then the subtype
            if not isinstance(c, list):
                break
            children.append(c)
        for i, child in enumerate(children):
            num = "%s%d" % (prefix, i + 1)
            out.append(num)
            out += part_numbers(child, num + ".")
        return out
    if not prefix:
        out.append("1")  # a non-multipart message's body is part 1
    kind = (bs[0][1].lower(), bs[1][1].lower())
    if kind in ((b"message", b"rfc822"), (b"message", b"global")) and len(bs) > 8:
        inner = bs[8]
        sub = prefix or "1."
        if isinstance(inner[0], list):
            out += part_numbers(inner, sub)
        else:
            out.append(sub + "1")
    return out


def answers(c, uid):
    """Every compared item of one message: {name: value}."""
    got = fetch_items(c, "a", uid, "ENVELOPE BODYSTRUCTURE RFC822.SIZE BODY.PEEK[HEADER] "
                                   "BODY.PEEK[TEXT]")
    out = {k.decode(): v for k, v in got.items() if k != b"UID" and k != b"FLAGS"}
    nums = part_numbers(got[b"BODYSTRUCTURE"])
    if nums:
        what = " ".join("BODY.PEEK[%s] BODY.PEEK[%s.MIME]" % (n, n) for n in nums)
        got = fetch_items(c, "b", uid, what)
        out.update({k.decode(): v for k, v in got.items() if k != b"UID" and k != b"FLAGS"})
    return out


def append(c, data):
    out = command(c, "p", "APPEND INBOX", data)
    return int(re.search(rb"APPENDUID \d+ (\d+)", out[-1][0]).group(1))


def test_imap_fetch_matches_dovecot():
    if not dovecot_peer.available():
        return "skip"
    files = sorted(f for f in os.listdir(CORPUS) if f.endswith(".eml"))
    assert len(files) >= 20, files
    with srv() as s, dovecot_peer.DovecotPeer([("bob", BOB_PW)]) as d:
        t = Raw(s)
        t.login()
        dv = Plain(d.port)
        command(dv, "l", 'LOGIN bob "%s"' % BOB_PW)
        uids = []
        for f in files:
            with open(os.path.join(CORPUS, f), "rb") as fh:
                data = fh.read()
            uids.append((f, append(t, data), append(dv, data)))
        command(t, "s", "SELECT INBOX")
        command(dv, "s", "SELECT INBOX")
        diffs, compared = {}, 0
        for f, tu, du in uids:
            a, b = answers(t, tu), answers(dv, du)
            for item in sorted(set(a) | set(b)):
                compared += 1
                if a.get(item) != b.get(item):
                    diffs[(f, item)] = (a.get(item), b.get(item))
        t.close()
        dv.close()
    unexplained = {k: v for k, v in diffs.items() if k not in KNOWN}
    gone = [k for k in KNOWN if k not in diffs]
    for k, (x, y) in sorted(unexplained.items()):
        print("DIFF %s %s\n  tern:    %r\n  dovecot: %r" % (k[0], k[1], x, y))
    print("fetch diff: %d messages, %d items compared, %d known differences" %
          (len(files), compared, len(diffs) - len(unexplained)))
    assert not unexplained, sorted(unexplained)
    assert not gone, "listed differences no longer seen: %r" % gone
