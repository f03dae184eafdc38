"""Differential test against a private Debian Dovecot started here, with
Dovecot as the oracle. One mailbox, built alike on both servers: every
message of tests/proto/fetch_corpus/ (written here: real-world shapes and
malformed MIME, the issue 32 failures' cases among them) and a fixed
sample of the SpamAssassin corpus (/work/shared/corpora/spam, every
SAMPLE_STEP-th message of its MANIFEST; TERN_ORACLE_ALL=1 takes all of
it, about 3 to 5 minutes, and the lists below cover it too), each
APPENDed with the same internal date to both.

FETCH: ENVELOPE, BODYSTRUCTURE, RFC822.SIZE, INTERNALDATE, BODY[HEADER],
BODY[TEXT], BODY[HEADER.FIELDS (...)] and [HEADER.FIELDS.NOT (...)], BODY[]<100.50>,
and BODY[n], BODY[n.MIME] of every part BODYSTRUCTURE lists,
BODY[n.HEADER] / BODY[n.TEXT] of every message/rfc822 part and
BINARY[n] and BINARY.SIZE[n] of every leaf part are compared octet for
octet.
SEARCH, SORT and THREAD: a fixed list of queries, answers compared.

Each difference that remains is listed below with the RFC sentence that
makes tern's answer right: per message in KNOWN, or, for a kind of
difference the sample meets in many messages, as a named rule in
EXPLAINED that rewrites both answers the one way the RFC allows and is
applied only to the items it names, or (binary_size_own) a BINARY.SIZE
that is the length of tern's own BINARY where Dovecot's is not of its
own; any other difference, or a listed one that went away, fails the
test."""
import atexit
import os
import re
import socket

import dovecot_peer
from test_imap import BOB, BOB_PW, Raw, raw_response, srv

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "fetch_corpus")
SPAM = "/work/shared/corpora/spam"
SAMPLE_STEP = 20  # 212 of the 4232 messages: the module stays well under 30 s

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
CTE_ALONE = ("RFC 2045 §6.1: a Content-Transfer-Encoding field applies whatever the type; "
             "'8bit' is what the header says (Dovecot answers 7bit for a part without "
             "Content-Type)")
BAD_ADDRESS = ("RFC 3501 §7.4.2 defines no answer for an address RFC 5322 §3.4 cannot "
               "parse; Dovecot's placeholders are its own")
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
    ("11-rfc2231.eml", "BINARY.SIZE[3]"): BCHARS + " (no part 3 then)",
    ("04-rfc822-forward.eml", "BODY[2.TEXT]"): RFC2046_CRLF,
    ("04-rfc822-forward.eml", "BINARY.SIZE[2]"): RFC2046_CRLF,
    ("23-rfc822-header-only.eml", "BINARY.SIZE[1]"): RFC2046_CRLF,
    ("00398-spam-2", "BODY[1]"): RFC2046_CRLF + " (here a multipart part's)",
    ("00704-spam-2", "BODY[1]"): RFC2046_CRLF + " (here a multipart part's)",
    ("01188-spam-2", "BODY[1]"): RFC2046_CRLF + " (here a multipart part's)",
    ("18-missing-boundary-param.eml", "BINARY.SIZE[1]"): RFC2045_DEFAULT + ": part 1 is "
        "the text body (Dovecot: an empty multipart, 0)",
    ("13-message-rfc822-base64.eml", "BODY[1.HEADER]"):
        "RFC 2046 §5.2.1: 'No encoding other than \"7bit\", \"8bit\", or \"binary\" is "
        "permitted for the body of a \"message/rfc822\" entity': the encoded body is no "
        "message whose header could be sent (Dovecot sends the base64 text as the header)",
    ("13-message-rfc822-base64.eml", "BODY[1.TEXT]"):
        "RFC 2046 §5.2.1, as for BODY[1.HEADER] (Dovecot sends an empty text)",
    ("04-rfc822-forward.eml", "BINARY[2]"): RFC2046_CRLF,
    ("23-rfc822-header-only.eml", "BINARY[1]"): RFC2046_CRLF,
    ("11-rfc2231.eml", "BINARY[3]"): BCHARS + " (no part 3 then)",
    ("18-missing-boundary-param.eml", "BINARY[1]"): RFC2045_DEFAULT + ": part 1 is the text "
        "body (Dovecot: an empty multipart, \"\")",
    ("13-message-rfc822-base64.eml", "BINARY[1]"):
        "RFC 3516 §4.2: BINARY 'requests that the specified section be transmitted after "
        "performing decoding of the section's Content-Transfer-Encoding'; Dovecot sends the "
        "base64 text as it is",
    ("01317-easy-ham-2", "BODYSTRUCTURE"): CTE_ALONE,
    ("28-rfc2231-continuations.eml", "BODYSTRUCTURE"):
        "RFC 2231 §4: 'charset*=us-ascii'en'us-ascii' is the parameter charset with the "
        "value us-ascii, and an extended value is presented decoded when it is ASCII "
        "(filename*=''plain%20name.txt is filename \"plain name.txt\") or in UTF-8 "
        "(title*, name*: 'Asterisks (\"*\") are reused to provide the indicator that "
        "language and character set information is present'); Dovecot passes the raw "
        "parameters. RFC 3501 body-fld-lang: 'nstring / \"(\" string *(SP string) \")\"': "
        "one language as a string is the first form (Dovecot sends a list of one)",
    ("10-no-header-end.eml", "BODY[HEADER.FIELDS (FROM SUBJECT X-MAILER RECEIVED)]"):
        "RFC 3501 §6.4.5: 'the blank line is included in all header fetches, except in the "
        "case of a message which has no body and no blank line'; Dovecot adds one to "
        "HEADER.FIELDS here (not to HEADER or HEADER.FIELDS.NOT)",
    ("13-message-rfc822-base64.eml", "BODY[1.HEADER.FIELDS (SUBJECT MESSAGE-ID)]"):
        "RFC 2046 §5.2.1, as for BODY[1.HEADER] (Dovecot sends an empty string)",
    ("00118-spam-2", "ENVELOPE"): BAD_ADDRESS + " ('<Undisclosed Recipients@netnoteinc.com>': "
        "tern joins the two words, Dovecot answers (NIL NIL \"Undisclosed\" \"SYNTAX_ERROR\"))",
    ("00281-spam-2", "ENVELOPE"): BAD_ADDRESS + " ('\"\"<>': tern answers empty mailbox and "
        "host, Dovecot MISSING_MAILBOX and MISSING_DOMAIN)",
    ("00657-spam-2", "ENVELOPE"): BAD_ADDRESS + " ('\"woie\"q_ewo6443' with no '@': tern "
        "answers it as the mailbox, Dovecot as a name with MISSING_MAILBOX)",
}

# Differences met only in the whole corpus (TERN_ORACLE_ALL; the sample
# does not hold these messages, so they are never reported as gone there).
CR_RUNS = ("RFC 9051 §6.4.5: BODY[] is the message as stored, octet for octet; the "
           "APPENDed body has CR CR CR LF line ends and Dovecot (storing LF line ends) "
           "gives back CR CR LF, one CR short")
UNDECODABLE = ("RFC 2045 §6.8: 'Any characters outside of the base64 alphabet are to be "
               "ignored', and §6.7 (quoted-printable) lets a decoder keep an '=' not "
               "followed by two hex digits: tern decodes such parts; Dovecot refuses them "
               "(NO [PARSE] Invalid data in MIME part)")
KNOWN.update({(m, "BODY[1]"): RFC2046_CRLF + " (here a multipart part's)" for m in (
    "00209-spam-2",
    "00215-spam-2",
    "00216-spam-2",
    "00219-spam-2",
    "00223-spam-2",
    "00224-spam-2",
    "00225-spam-2",
    "00239-spam-1",
    "00338-spam-1",
    "00982-spam-2",
    "01041-spam-2",
    "01262-spam-2",
    "01288-spam-2",
    "01316-spam-2",
    "01317-spam-2",
)})
KNOWN.update({(m, "BINARY[%s]" % n): UNDECODABLE for m, n in (
    ("00164-spam-2", "1"),
    ("00183-hard-ham-1", "1"),
    ("00183-hard-ham-1", "2"),
    ("00260-spam-1", "1"),
    ("00260-spam-1", "2"),
    ("00276-spam-2", "1"),
    ("00588-spam-2", "1"),
    ("00619-spam-2", "1"),
    ("00673-spam-2", "1"),
    ("00673-spam-2", "2"),
    ("00960-spam-2", "1"),
    ("01041-spam-2", "1.1"),
    ("01041-spam-2", "1.2"),
    ("01064-spam-2", "1"),
    ("01072-spam-2", "1"),
)})
KNOWN.update({(m, "ENVELOPE"): BAD_ADDRESS + " (an address RFC 5322 §3.4 cannot parse: "
              "'<Undisclosed Recipients@...>', 'undisclosed-recipients:;' in a '<>', '\"\" <>', "
              "'@neto.net', '<a@b>knoshaug.com'; placeholders on either side)" for m in (
    "00013-spam-2",
    "00019-spam-2",
    "00022-spam-2",
    "00024-spam-2",
    "00025-spam-2",
    "00026-spam-2",
    "00030-spam-2",
    "00033-spam-2",
    "00041-spam-2",
    "00047-spam-2",
    "00055-spam-2",
    "00088-spam-2",
    "00096-spam-1",
    "00103-spam-2",
    "00104-spam-2",
    "00121-spam-2",
    "00123-spam-2",
    "00124-spam-2",
    "00133-spam-1",
    "00136-spam-2",
    "00142-spam-2",
    "00144-spam-2",
    "00174-spam-2",
    "00199-hard-ham-1",
    "00230-spam-1",
    "00296-spam-1",
    "00344-spam-2",
    "00351-spam-1",
    "00368-spam-1",
    "00373-spam-1",
    "00629-spam-2",
    "00676-spam-2",
    "00778-spam-2",
    "00864-spam-2",
    "00929-spam-2",
    "00930-spam-2",
    "00970-spam-2",
    "01042-spam-2",
    "01324-easy-ham-2",
    "01325-easy-ham-2",
    "01349-spam-2",
    "01392-spam-2",
    "00528-spam-2",
)})
# A message whose header has UTF-8 fields is, for a client without UTF-8,
# the downgraded header and the stored body (imap_downgrade.h): its size and
# every cut of it differ from Dovecot's stored octets.
DOWNGRADED_SIZE = (
    "RFC 6855 §3: no UTF-8 header field to a client that did not enable UTF-8; tern's "
    "BODY[] is the downgraded header (longer: RFC 2047 words) and the stored body, and "
    "RFC 3501 §6.4.5 RFC822.SIZE and partial octets count what BODY[] sends; Dovecot 2.3 "
    "sends the stored UTF-8")
KNOWN.update({(m, k): DOWNGRADED_SIZE
              for m in ("29-8bit-headers.eml", "40-casemap-a.eml", "41-casemap-b.eml")
              for k in ("RFC822.SIZE", "BODY[]<100>")})
KNOWN.update({("00083-spam-2", k): CR_RUNS for k in (
    "BODY[1]", "BODY[TEXT]", "BINARY[1]", "BINARY.SIZE[1]", "RFC822.SIZE", "BODYSTRUCTURE")})
KNOWN.update({(m, "BODYSTRUCTURE"): "RFC 2045 §6: Content-Transfer-Encoding stands without "
              "a Content-Type ('8BIT' here, the body text/plain by default); Dovecot answers the "
              "default 7bit when there is no Content-Type" for m in (
    "00056-spam-2", "00068-spam-2", "00148-spam-2")})
KNOWN.update({
    ("00464-spam-2", "ENVELOPE"): BAD_ADDRESS + " ('To: [hotmail.com]@...': Dovecot's "
        "placeholders; the repeated Cc lines are joined on both sides)",
    ("01006-spam-2", "BODYSTRUCTURE"): "RFC 3501 body-fld-lang: 'nstring / \"(\" string "
        "*(SP string) \")\"': one language as a string is the first form (Dovecot sends a "
        "list of one)",
    ("01294-easy-ham-1", "BODYSTRUCTURE"): "RFC 5322 §2.2.3 and §3.2.4, as the ENVELOPE rule "
        "of EXPLAINED, here in a message/rfc822 part's envelope (a display name's spaces kept "
        "as sent)",
})


def _lower_types(bs):
    """BODYSTRUCTURE with type, subtype, parameter names, the charset
    value and the transfer encoding lower-cased."""
    if isinstance(bs, list) and bs and isinstance(bs[0], list):
        out, parts_done = [], False
        for c in bs:  # the parts, then the subtype and extension data
            parts_done = parts_done or not isinstance(c, list)
            out.append(c if parts_done else _lower_types(c))
        return out
    out = list(bs)
    out[0] = ("s", bs[0][1].lower()) if isinstance(bs[0], tuple) else bs[0]
    out[1] = ("s", bs[1][1].lower()) if isinstance(bs[1], tuple) else bs[1]
    if isinstance(bs[2], list):
        params = list(bs[2])
        for i in range(0, len(params) - 1, 2):
            params[i] = ("s", params[i][1].lower())
            if params[i][1] == b"charset":
                params[i + 1] = ("s", params[i + 1][1].lower())
        out[2] = params
    if len(out) > 5 and isinstance(out[5], tuple):
        out[5] = ("s", out[5][1].lower())
    if len(out) > 8 and isinstance(out[8], list) and (out[0][1], out[1][1]) == \
            (b"message", b"rfc822"):
        out[8] = _lower_types(out[8])
    return out


def _squeeze(v):
    return ("s", b" ".join(v[1].split())) if isinstance(v, tuple) else v


def _env_spaces(env):
    """ENVELOPE with white space runs of the subject and display names made
    one space, and the message-ids' leading and trailing white space dropped."""
    out = list(env)
    out[1] = _squeeze(env[1])
    for i in range(2, 8):
        if isinstance(env[i], list):
            out[i] = [[_squeeze(a[0])] + a[1:] for a in env[i]]
    for i in (8, 9):
        if isinstance(env[i], tuple):
            out[i] = ("s", env[i][1].strip())
    return out


def binary_size_own(item, a, b):
    """True when item is BINARY.SIZE[n], tern's answer is the length of
    its own BINARY[n] and Dovecot's is not the length of Dovecot's (or
    Dovecot refused the part, NO [PARSE])."""
    if not item.startswith("BINARY.SIZE["):
        return False
    sect = "BINARY[" + item[len("BINARY.SIZE["):]

    def length(v):
        return str(len(v[1])).encode() if isinstance(v, tuple) else None

    return a.get(item) == length(a.get(sect)) and b.get(item) != length(b.get(sect))


BINARY_SIZE_OWN = (
    "RFC 3516 §4.2: BINARY.SIZE is 'the size of the section after removing any "
    "Content-Transfer-Encoding', so the length of what BINARY sends for it: tern's is, "
    "Dovecot's is not the length of its own BINARY (over the whole corpus 67 parts, e.g. "
    "a negative size as unsigned, or quoted-printable with soft breaks counted), or Dovecot "
    "refuses a part with undecodable data (NO [PARSE], 11 parts) where RFC 2045 §6.7/§6.8 "
    "tell the decoder to go on")


def _header_text(v):
    """A header section with its RFC 2047 words decoded, each field
    unfolded, its white space runs one space and double quotes dropped."""
    if not isinstance(v, tuple):
        return v
    import email.header
    import re as _re
    out = []
    for f in _re.split(r"\r\n(?![ \t])", v[1].decode("utf-8", "replace")):
        f = _re.sub(r"\r\n[ \t]", " ", f)
        try:
            f = str(email.header.make_header(email.header.decode_header(f)))
        except Exception:
            pass
        out.append(" ".join(f.replace('"', "").split()))
    return out


def _env_words(env):
    """_env_spaces, then the subject's and display names' RFC 2047 words
    decoded (as _header_text does)."""
    out = _env_spaces(env)

    def dec(v):
        return _header_text(v)[0] if isinstance(v, tuple) else v

    out[1] = dec(out[1])
    for i in range(2, 8):
        if isinstance(out[i], list):
            out[i] = [[dec(a[0])] + a[1:] for a in out[i]]
    return out


HEADER_WORDS = (
    "RFC 6855 (UTF8=ACCEPT): a server must not send UTF-8 header fields to a client that "
    "did not enable UTF-8; tern sends them downgraded (RFC 6857: RFC 2047 words, A-labels), "
    "Dovecot 2.3 has no UTF8=ACCEPT and sends the stored UTF-8. Decoded, the fields are the same")


# (item, rule, why): a difference of that item that the rule makes go away
# (applied to both answers) is explained by why; the rule touches nothing else.
EXPLAINED = [
    ("BODYSTRUCTURE", _lower_types,
     "RFC 2045 §5.1: 'Matching of media type and subtype is ALWAYS case-insensitive' and "
     "'The type, subtype, and parameter names are not case sensitive'; RFC 2046 §4.1.2: "
     "'the values of the charset parameter are NOT case sensitive'; RFC 2045 §6.1: the "
     "encoding values 'are not case sensitive'. tern answers the header's own spelling "
     "(TEXT/PLAIN, Charset, US-ASCII, 7BIT), Dovecot its lower-case default for every "
     "text/plain us-ascii 7bit part"),
    ("ENVELOPE", _env_spaces,
     "RFC 5322 §2.2.3: 'Unfolding is accomplished by simply removing any CRLF that is "
     "immediately followed by WSP': tern keeps the subject's other white space as sent, "
     "and a quoted display name's as quoted (§3.2.4); Dovecot collapses every run to one "
     "space. A msg-id's leading and trailing CFWS is not part of it (§3.6.4: msg-id = [CFWS] \"<\" ... "
     "\">\" [CFWS]); Dovecot keeps it"),
] + [("ENVELOPE", _env_words, HEADER_WORDS)] + [(item, _header_text, HEADER_WORDS) for item in (
    "BODY[HEADER]", "BODY[1.MIME]", "BODY[HEADER.FIELDS (FROM SUBJECT X-MAILER RECEIVED)]",
    "BODY[HEADER.FIELDS.NOT (RECEIVED X-SPAM-STATUS)]")]


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


def parts(bs, prefix=""):
    """[(section number, its BODYSTRUCTURE)] of every part, as FETCH
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
            out.append((num, child))
            out += parts(child, num + ".")
        return out
    if not prefix:
        out.append(("1", bs))  # a non-multipart message's body is part 1
    kind = (bs[0][1].lower(), bs[1][1].lower())
    if kind in ((b"message", b"rfc822"), (b"message", b"global")) and len(bs) > 8:
        inner = bs[8]
        sub = prefix or "1."
        if isinstance(inner[0], list):
            out += parts(inner, sub)
        else:
            out.append((sub + "1", inner))
    return out


def is_message(node):
    return isinstance(node[0], tuple) and (node[0][1].lower(), node[1][1].lower()) in \
        ((b"message", b"rfc822"), (b"message", b"global"))


def tagged(c, tag, text):
    """Sends one command; (tagged status line, [(text, literals)])."""
    c.send("%s %s\r\n" % (tag, text))
    out = []
    while True:
        line, lits = raw_response(c)
        if line.startswith(tag.encode() + b" "):
            return line, out
        out.append((line, lits))


def answers(c, uid):
    """Every compared item of one message: {name: value}."""
    got = fetch_items(c, "a", uid, "ENVELOPE BODYSTRUCTURE RFC822.SIZE BODY.PEEK[HEADER] "
                                   "BODY.PEEK[TEXT] BODY.PEEK[HEADER.FIELDS (From SUBJECT "
                                   "x-mailer Received)] BODY.PEEK[HEADER.FIELDS.NOT (Received "
                                   "X-Spam-Status)] BODY.PEEK[]<100.50> INTERNALDATE")
    out = {k.decode(): v for k, v in got.items() if k != b"UID" and k != b"FLAGS"}
    ps = parts(got[b"BODYSTRUCTURE"])
    what = ["BODY.PEEK[%s] BODY.PEEK[%s.MIME]" % (n, n) for n, _ in ps]
    what += ["BODY.PEEK[%s.HEADER] BODY.PEEK[%s.TEXT] BODY.PEEK[%s.HEADER.FIELDS (Subject "
             "Message-ID)]" % (n, n, n) for n, node in ps
             if is_message(node) and n != "1" or (n == "1" and is_message(node) and
                                                  "1.1" in dict(ps))]
    if what:
        got = fetch_items(c, "b", uid, " ".join(what))
        out.update({k.decode(): v for k, v in got.items() if k != b"UID" and k != b"FLAGS"})
    # BINARY.SIZE and BINARY of each leaf alone: a part whose encoding a
    # server cannot undo makes the whole FETCH NO [UNKNOWN-CTE] (RFC 3516
    # §4.3).
    for n, node in ps:
        if isinstance(node[0], list):
            continue
        line, resp = tagged(c, "z", "UID FETCH %d (BINARY.SIZE[%s] BINARY.PEEK[%s])" %
                            (uid, n, n))
        if line.split(b" ")[1] != b"OK":
            out["BINARY.SIZE[%s]" % n] = line.split(b" ", 1)[1].split(b"]")[0] + b"]"
            continue
        for text, lits in resp:
            if b" FETCH (" in text:
                # a literal8 (~{n}) is compared as a literal: the octets count
                toks = parse(text.replace(b"~{}", b"{}"), lits)[3]
                d = {toks[i]: toks[i + 1] for i in range(0, len(toks), 2)}
                for k, v in d.items():
                    if k.startswith(b"BINARY"):
                        out[k.decode()] = v
    return out


def corpus():
    """[(name, message bytes)]: fetch_corpus/ whole, then the sample of the
    SpamAssassin corpus (LF line ends made CRLF, as a client APPENDing an
    RFC 5322 message sends them)."""
    out = []
    for f in sorted(os.listdir(CORPUS)):
        if f.endswith(".eml"):
            with open(os.path.join(CORPUS, f), "rb") as fh:
                out.append((f, fh.read()))
    if os.path.exists(os.path.join(SPAM, "MANIFEST.tsv")):
        with open(os.path.join(SPAM, "MANIFEST.tsv")) as fh:
            rows = [line.rstrip("\n").split("\t")[3] for line in fh][1:]
        step = 1 if os.environ.get("TERN_ORACLE_ALL") else SAMPLE_STEP
        for r in rows[::step]:
            with open(os.path.join(SPAM, r), "rb") as fh:
                data = fh.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            out.append((r.split("/")[-1][:5] + "-" + r.split("/")[-2], data))
    return out


MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def append(c, data, i):
    """APPENDs with an internal date that depends on i only, so both
    servers hold the same dates (SEARCH BEFORE/SINCE, SORT ARRIVAL)."""
    date = '"%02d-%s-2025 %02d:00:00 +0000"' % (1 + i % 28, MONTHS[(i // 28) % 12], i % 24)
    out = command(c, "p", "APPEND INBOX %s" % date, data)
    return int(re.search(rb"APPENDUID \d+ (\d+)", out[-1][0]).group(1))


_pair = {}


def pair():
    """(tern connection, Dovecot connection, [(name, uid)]): one of each
    per module, the same mailbox selected on both, the same UIDs."""
    if not _pair:
        s = srv()
        s.__enter__()
        atexit.register(s.cleanup)
        d = dovecot_peer.DovecotPeer([("bob", BOB_PW)])
        atexit.register(d.stop)
        t = Raw(s)
        t.login()
        dv = Plain(d.port)
        command(dv, "l", 'LOGIN bob "%s"' % BOB_PW)
        msgs = []
        for i, (name, data) in enumerate(corpus()):
            tu, du = append(t, data, i), append(dv, data, i)
            assert tu == du, (name, tu, du)
            msgs.append((name, tu))
        command(t, "s", "SELECT INBOX")
        command(dv, "s", "SELECT INBOX")
        _pair.update(t=t, dv=dv, msgs=msgs, port=d.port)
    return _pair["t"], _pair["dv"], _pair["msgs"]


def test_imap_fetch_matches_dovecot():
    if not dovecot_peer.available():
        return "skip"
    t, dv, msgs = pair()
    assert len(msgs) >= 36, msgs  # fetch_corpus alone when the spam corpus is absent
    diffs, compared, explained = {}, 0, {}
    died = []
    for f, uid in msgs:
        a = answers(t, uid)
        try:
            b = answers(dv, uid)
        except EOFError:
            # Dovecot's imap process dies on a few messages of the whole
            # corpus (TERN_ORACLE_ALL; 00330-spam-1's BINARY): no oracle
            # for them, said, and a new connection for the rest.
            died.append(f)
            dv = _pair["dv"] = Plain(_pair["port"])
            command(dv, "l", 'LOGIN bob "%s"' % BOB_PW)
            command(dv, "s", "SELECT INBOX")
            continue
        for item in sorted(set(a) | set(b)):
            compared += 1
            x, y = a.get(item), b.get(item)
            if x == y:
                continue
            if binary_size_own(item, a, b):
                explained["BINARY.SIZE"] = explained.get("BINARY.SIZE", 0) + 1
                continue
            for what, rule, _ in EXPLAINED:
                if item == what and x is not None and y is not None and rule(x) == rule(y):
                    explained[what] = explained.get(what, 0) + 1
                    break
            else:
                diffs[(f, item)] = (x, y)
    unexplained = {k: v for k, v in diffs.items() if k not in KNOWN}
    gone = [k for k in KNOWN if k not in diffs and k[0] not in died and
            any(k[0] == m for m, _ in msgs)]
    for k, (x, y) in sorted(unexplained.items()):
        print("DIFF %s %s\n  tern:    %r\n  dovecot: %r" % (k[0], k[1], x, y))
    print("fetch diff: %d messages, %d items compared, %d known differences, explained "
          "by rule: %r" % (len(msgs), compared, len(diffs) - len(unexplained), explained))
    if died:
        print("Dovecot closed the connection on (not compared): %s" % " ".join(died))
    assert not unexplained, sorted(unexplained)
    assert not gone, "listed differences no longer seen: %r" % gone


# SEARCH keys over the shared mailbox: encoded words in several charsets,
# 8bit headers, folded and encoded bodies, missing and unreadable dates.
SEARCHES = [
    "ALL", "1:10,50:60,200:*", "UID 3:7,100", "NOT 5:*",
    "SUBJECT re:", "SUBJECT \"[list]\"", "SUBJECT fwd", "SUBJECT \"\"",
    "FROM jm@", "FROM \"Justin Mason\"", "FROM example.test", "TO yyyy", "CC fork",
    "BCC x", "TO \"undisclosed\"", "FROM \"smith, john\"",
    "HEADER X-Mailer Outlook", "HEADER Message-ID \"\"", "HEADER In-Reply-To <",
    "HEADER Content-Type multipart", "HEADER X-Long xxxx",
    "BODY linux", "BODY \"removed from\"", "TEXT spamassassin", "TEXT \"Content-Type\"",
    "BODY \"=3D\"", "BODY Pr\u00e4sident", "BODY \"gefaltete Zeile\"", "BODY stra\u00dfe",
    "SUBJECT \u00e9l\u00e8ve", "SUBJECT \u20acuro", "FROM \u041f\u0440\u0438\u0432\u0435\u0442",
    "TO M\u00fcnchen", "CC \u00c5sa", "SUBJECT Gr\u00fc\u00dfe", "FROM J\u00fcrgen",
    "SUBJECT r\u00e9union", "BODY Z\u00fcrich", "BODY \u00c6\u00d8\u00c5",
    "TEXT caf\u00e9",
    "LARGER 10000", "SMALLER 2000", "LARGER 3000 SMALLER 5000",
    "SENTBEFORE 1-Aug-2002", "SENTSINCE 1-Sep-2002", "SENTON 10-Sep-2002",
    "SENTSINCE 1-Jan-2026", "SENTBEFORE 1-Jan-1990",
    "BEFORE 10-Mar-2025", "SINCE 20-May-2025", "ON 5-Feb-2025",
    "OR SUBJECT viagra BODY viagra", "NOT FROM spamassassin.taint.org",
    "(OR HEADER X-Mailer mutt TO freshrpms) SENTSINCE 1-Aug-2002",
    "TEXT \"Content-Transfer-Encoding: quoted-printable\"", "TEXT boundary", "TEXT filename",
    "BODY filename", "BODY \"Content-Type\"", "TEXT JVBERi0", "BODY JVBERi0", "TEXT \"--b27\"",
    "HEADER Content-Type \"\"", "HEADER X-None \"\"", "NOT HEADER Date \"\"",
    "HEADER Subject \"re: re:\"", "SUBJECT \"  \"", "BODY \"innermost body\"",
    "TEXT \"nest-inner@example.test\"", "HEADER Message-ID nest-inner",
    "LARGER 100000", "SMALLER 400", "KEYWORD $Forwarded", "UNKEYWORD $Forwarded",
    # i;unicode-casemap (RFC 5051; I18NLEVEL=1, RFC 5255): 40-casemap-a.eml
    # and 41-casemap-b.eml write the same words in other forms
    "SUBJECT \u00b2", "SUBJECT \"note 2\"", "SUBJECT \uff41RC", "SUBJECT \ufb01le", "SUBJECT FILE",
    "SUBJECT cafe\u0301", "SUBJECT CAF\u00c9", "SUBJECT \u0131X", "SUBJECT ix",
    "BODY x\u00b2", "BODY \uff21rc", "BODY \ufb01", "BODY \u00e9te\u0301", "BODY \u0131x",
    "BODY \u01c5", "BODY dz\u030c", "BODY strasse", "BODY STRA\u00dfE", "TEXT \uff41rc",
]

SORTS = [
    "(SUBJECT)", "(REVERSE SUBJECT)", "(ARRIVAL)", "(REVERSE ARRIVAL)", "(DATE)",
    "(REVERSE DATE)", "(FROM)", "(TO)", "(CC)", "(SIZE)", "(REVERSE SIZE SUBJECT)",
    "(DISPLAYFROM)", "(DISPLAYTO)", "(SUBJECT DATE)", "(FROM REVERSE DATE)",
]


# FETCH item lists naming an item twice, and the item names tern answers
# (each once). Dovecot answers UID, FLAGS, ENVELOPE, RFC822.SIZE and
# BINARY.SIZE... once too, but a section's octets (BODY[1], BINARY[1])
# twice: tern sends them once, Dovecot's answer with its repeats dropped
# is compared. BODY[1]<0.10> and BODY[1]<0.5> are both BODY[1]<0>, two
# answers on both servers.
REPEATS = [
    ("UID UID", ["UID"]),
    ("FLAGS FLAGS", ["FLAGS"]),
    ("UID FLAGS UID RFC822.SIZE FLAGS", ["UID", "FLAGS", "RFC822.SIZE"]),
    ("ENVELOPE ENVELOPE RFC822.SIZE RFC822.SIZE", ["ENVELOPE", "RFC822.SIZE"]),
    ("BODY.PEEK[1] BODY.PEEK[1]", ["BODY[1]"]),
    ("BODY.PEEK[1]<0.10> BODY.PEEK[1]", ["BODY[1]<0>", "BODY[1]"]),
    ("BODY.PEEK[1]<0.10> BODY.PEEK[1]<0.10>", ["BODY[1]<0>"]),
    ("BODY.PEEK[1]<0.10> BODY.PEEK[1]<0.5>", ["BODY[1]<0>", "BODY[1]<0>"]),
    ("BINARY.PEEK[1] BINARY.SIZE[1] BINARY.SIZE[1] BINARY.PEEK[1]",
     ["BINARY[1]", "BINARY.SIZE[1]"]),
    ("BODY[1] BODY.PEEK[1]", ["BODY[1]"]),  # last: it stores \Seen on both
]


def fetch_pairs(c, tag, seq, what):
    """[(item name, value)] of one FETCH by sequence number, every FETCH
    response for seq together; FLAGS without \\Recent (IMAP4rev2 has
    none, Dovecot still sends it) and an implicit FLAGS (the \\Seen a
    BODY[1] stored) left out unless asked for."""
    out = []
    for text, lits in command(c, tag, "FETCH %d (%s)" % (seq, what)):
        if text.startswith(b"* %d FETCH (" % seq):
            toks = parse(text, lits)[3]
            for i in range(0, len(toks), 2):
                v = toks[i + 1]
                if toks[i] == b"FLAGS":
                    if "FLAGS" not in what:
                        continue
                    v = [f for f in v if f != b"\\Recent"]
                out.append((toks[i].decode(), repr(v)))
    return out


def test_imap_fetch_repeated_items_answered_once():
    if not dovecot_peer.available():
        return "skip"
    t, dv, msgs = pair()
    seq = [name for name, _ in msgs].index("03-mixed-attachment.eml") + 1
    for what, names in REPEATS:
        a = fetch_pairs(t, "r", seq, what)
        assert [n for n, _ in a] == names, (what, a)
        b = fetch_pairs(dv, "r", seq, what)
        # Dovecot orders the items its own way (RFC 9051 fixes no order).
        once = [p for i, p in enumerate(b) if p not in b[:i]]
        assert sorted(a) == sorted(once), (what, a, b)


def search_cmd(c, tag, text):
    """The numbers of one SEARCH/SORT (or THREAD's text) with its key sent
    as literals where it is not ASCII."""
    enc = text.encode()
    if any(b > 127 for b in enc):
        # every quoted-or-atom non-ASCII argument goes as a {n+} literal
        words = text.split(" ")
        out = b""
        for w in words:
            wb = w.encode()
            if any(b > 127 for b in wb):
                out += b"{%d+}\r\n" % len(wb) + wb + b" "
            else:
                out += wb + b" "
        enc = out[:-1]
    c.send(tag.encode() + b" " + enc + b"\r\n")
    res, status = [], None
    while True:
        line, _ = raw_response(c)
        if line.startswith(tag.encode() + b" "):
            status = line.split(b" ")[1]
            return status, res
        res.append(line)


def numbers(lines, word):
    for line in lines:
        if line.startswith(b"* " + word):
            return line[len(word) + 2:].strip()
    return None


def test_imap_search_sort_thread_match_dovecot():
    if not dovecot_peer.available():
        return "skip"
    t, _, msgs = pair()
    dv = _pair["dv"]  # a new one if the FETCH test had to reconnect
    diffs, n = [], 0
    for q in SEARCHES:
        for form in ("UID SEARCH CHARSET UTF-8 %s" % q, "SEARCH %s" % q):
            if "CHARSET" not in form and any(ord(ch) > 127 for ch in q):
                continue
            (st, a), (sd, b) = search_cmd(t, "q", form), search_cmd(dv, "q", form)
            x, y = (st, set(numbers(a, b"SEARCH").split())), (sd, set(numbers(b, b"SEARCH").split()))
            n += 1
            if x != y:
                diffs.append((form, "tern only %s" % sorted(x[1] - y[1], key=int)[:20],
                              "dovecot only %s" % sorted(y[1] - x[1], key=int)[:20]))
    for q in SORTS:
        form = "SORT %s UTF-8 ALL" % q
        (st, a), (sd, b) = search_cmd(t, "q", form), search_cmd(dv, "q", form)
        x, y = numbers(a, b"SORT"), numbers(b, b"SORT")
        n += 1
        if (st, x) != (sd, y):
            diffs.append((form, x, y))
    for alg in ("ORDEREDSUBJECT", "REFERENCES"):
        form = "THREAD %s UTF-8 ALL" % alg
        (st, a), (sd, b) = search_cmd(t, "q", form), search_cmd(dv, "q", form)
        x, y = numbers(a, b"THREAD"), numbers(b, b"THREAD")
        n += 1
        if (st, x) != (sd, y):
            diffs.append((form, x, y))
    known = dict(KNOWN_QUERIES, **(KNOWN_QUERIES_ALL if os.environ.get("TERN_ORACLE_ALL") else {}))
    unexplained = [d for d in diffs if d[0] not in known]
    gone = [q for q in known if q not in [d[0] for d in diffs]]
    for d in unexplained:
        print("DIFF %s\n  tern:    %s\n  dovecot: %s" % d)
    print("search/sort/thread diff: %d commands, %d known differences" %
          (n, len(diffs) - len(unexplained)))
    assert not unexplained, [d[0] for d in unexplained]
    assert not gone, "listed differences no longer seen: %r" % gone


NO_DATE = ("RFC 9051 §6.4.4 defines SENT* by the Date header and says nothing of a message "
           "without one; tern takes the internal date, as RFC 5256 §2.2 does for SORT: 'If "
           "the sent date cannot be determined (a Date: header is missing or cannot be "
           "parsed), the INTERNALDATE for that message is used as the sent date'. Dovecot "
           "takes 1970 (the messages of fetch_corpus/ without a Date)")
SUBJECT_SPACES = ("RFC 9051 §6.4.4: SUBJECT matches 'the specified string in the envelope "
                  "structure's SUBJECT field', which keeps the sender's runs of spaces (see "
                  "EXPLAINED); Dovecot collapses them before it searches")

# Queries that differ only over the whole corpus (TERN_ORACLE_ALL).
BAD_DATE = ("RFC 5322 §3.3: hour, minute and second are 2DIGIT and the zone is "
            "('+' / '-') 4DIGIT, so 'Mon, 22 Jul 2002 0:4:52 +-0500' (00845-spam-2), "
            "'10:28:3' (00471-spam-2) and '16:54:6' (00508-spam-2) cannot be parsed and "
            "RFC 5256 §2.2 sorts them by INTERNALDATE; Dovecot reads them leniently")
KNOWN_QUERIES_ALL = {
    "SORT (SIZE) UTF-8 ALL": CR_RUNS + " (00083-spam-2's RFC822.SIZE; the rest agrees)",
    "SORT (REVERSE SIZE SUBJECT) UTF-8 ALL": CR_RUNS + " (as SORT (SIZE))",
    "SORT (DATE) UTF-8 ALL": BAD_DATE,
    "SORT (REVERSE DATE) UTF-8 ALL": BAD_DATE,
    "SORT (FROM) UTF-8 ALL": BAD_ADDRESS + " (00030-spam-2's From '\"\" <>': tern's empty "
        "mailbox sorts first, Dovecot's MISSING_MAILBOX placeholder among the m's)",
    "SORT (FROM REVERSE DATE) UTF-8 ALL": BAD_ADDRESS + " (as SORT (FROM))",
    "THREAD ORDEREDSUBJECT UTF-8 ALL": BAD_DATE + " (RFC 5256 §3 orders threads and "
        "children by that sent date: 00845-spam-2 leads a thread)",
    "THREAD REFERENCES UTF-8 ALL": BAD_DATE + " (as THREAD ORDEREDSUBJECT)",
}

HTML_TEXT = ("RFC 9051 §6.4.4 BODY: 'the specified string in the body of the message'; tern "
             "searches an HTML part as the text a reader sees, as Dovecot with FTS (its HTML "
             "parser) and Stalwart do; Dovecot without FTS searches the markup. 00106-spam-2 "
             "(text/html, no transfer encoding) has '=3D' 36 times, each inside a tag "
             "('<meta name=3D\"GENERATOR\"'), none in its text")
KNOWN_QUERIES = {
    # 29-8bit-headers, 40-/41-casemap: their RFC822.SIZE (KNOWN) is the
    # downgraded message's for this session, and SORT (SIZE) sorts by it.
    "SORT (SIZE) UTF-8 ALL": DOWNGRADED_SIZE + " (RFC 5256 §3 SIZE: RFC822.SIZE)",
    "SORT (REVERSE SIZE SUBJECT) UTF-8 ALL": DOWNGRADED_SIZE + " (as SORT (SIZE))",
    # "X2" and "ARC" (the keys of "x\u00b2", "\uff21rc") are in HTML markup
    # only (gfx2swf.com, "...Sx2vpq..." and ".../archive/" in hrefs of the
    # hard-ham sample); both servers find both 40-/41-casemap mails
    "UID SEARCH CHARSET UTF-8 BODY x\u00b2": HTML_TEXT,
    "UID SEARCH CHARSET UTF-8 BODY \uff21rc": HTML_TEXT,
    "UID SEARCH CHARSET UTF-8 TEXT \uff41rc": HTML_TEXT,
    "UID SEARCH CHARSET UTF-8 BODY \"=3D\"": HTML_TEXT,
    "SEARCH BODY \"=3D\"": HTML_TEXT,
    "UID SEARCH CHARSET UTF-8 SENTBEFORE 1-Aug-2002": NO_DATE,
    "SEARCH SENTBEFORE 1-Aug-2002": NO_DATE,
    "UID SEARCH CHARSET UTF-8 SENTSINCE 1-Sep-2002": NO_DATE,
    "SEARCH SENTSINCE 1-Sep-2002": NO_DATE,
    "UID SEARCH CHARSET UTF-8 SENTBEFORE 1-Jan-1990": NO_DATE,
    "SEARCH SENTBEFORE 1-Jan-1990": NO_DATE,
    "SORT (TO) UTF-8 ALL": BAD_ADDRESS + " (the To of 00118-spam-2 and 00281-spam-2: "
        "RFC 5256 §3 sorts by the ENVELOPE's mailbox, which differs as listed in KNOWN)",
    "SORT (DISPLAYTO) UTF-8 ALL": BAD_ADDRESS + " (00281-spam-2's To, as for SORT (TO))",
    "UID SEARCH CHARSET UTF-8 BODY \"Content-Type\"": RFC2045_DEFAULT + " (18-missing-"
        "boundary-param.eml is a text/plain message whose body has those lines)",
    "SEARCH BODY \"Content-Type\"": RFC2045_DEFAULT + " (18-missing-boundary-param.eml)",
    "UID SEARCH CHARSET UTF-8 SUBJECT \"  \"": SUBJECT_SPACES,
    "SEARCH SUBJECT \"  \"": SUBJECT_SPACES,
    "SORT (DISPLAYFROM) UTF-8 ALL":
        "RFC 6532 §3.2 makes 8-bit header text UTF-8; the From of 00704-spam-2 and "
        "00706-spam-2 is raw big5 (no display name, so RFC 5957 §3 sorts by the mailbox), "
        "which tern compares octet for octet (RFC 4790 §9.2, i;ascii-casemap) and so before "
        "33-charset-subjects.eml's Cyrillic name; Dovecot after it",
}
