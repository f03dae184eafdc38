"""A strict reader of IMAP server responses by RFC 9051's formal syntax
(§9), with the extensions tern announces (RFC 7162 CONDSTORE/QRESYNC,
RFC 4315 UIDPLUS, RFC 4731/9051 ESEARCH, RFC 9394 PARTIAL, RFC 5258 and
RFC 5819 LIST-EXTENDED and LIST-STATUS, RFC 8474 OBJECTID, RFC 8438
STATUS=SIZE, RFC 7889 APPENDLIMIT, RFC 5530 response codes).

read_response(conn) takes one whole response off a Raw connection, its
literals included as sent ("{n}\\r\\n" and the n octets). check(resp)
parses it and raises SyntaxError naming the rule and the offset where it
stops matching; it returns the response's kind ("FETCH", "STATUS", the
tag's status...) for the caller's bookkeeping.

Only the grammar is checked, not the meaning: a FETCH's BODYSTRUCTURE
must be a body as §9 writes it, not the right one for the message."""
import re


ATOM_SPECIALS = set(b'(){ %*"\\]') | set(range(0, 0x20)) | {0x7f}
# RFC 9051 §9: resp-text-code's known forms; anything else must be
# atom [SP 1*<any TEXT-CHAR except "]">].
SIMPLE_CODES = {b"ALERT", b"PARSE", b"READ-ONLY", b"READ-WRITE", b"TRYCREATE",
                b"UIDNOTSTICKY", b"UNAVAILABLE", b"AUTHENTICATIONFAILED",
                b"AUTHORIZATIONFAILED", b"EXPIRED", b"PRIVACYREQUIRED", b"CONTACTADMIN",
                b"NOPERM", b"INUSE", b"EXPUNGEISSUED", b"CORRUPTION", b"SERVERBUG",
                b"CLIENTBUG", b"CANNOT", b"LIMIT", b"OVERQUOTA", b"ALREADYEXISTS",
                b"NONEXISTENT", b"NOTSAVED", b"HASCHILDREN", b"CLOSED", b"UNKNOWN-CTE",
                b"NOMODSEQ", b"COMPRESSIONACTIVE", b"USEATTR"}


def read_response(conn):
    """One response as sent, literals inline, without the final CRLF."""
    def fill(n):
        while len(conn.buf) < n:
            d = conn.sock.recv(65536)
            if not d:
                raise EOFError("closed; buffered %r" % conn.buf[-200:])
            conn.buf += d

    out = b""
    while True:
        while b"\r\n" not in conn.buf:
            fill(len(conn.buf) + 1)
        line, conn.buf = conn.buf.split(b"\r\n", 1)
        m = re.search(rb"~?\{(\d+)\+?\}$", line)
        if not m:
            return out + line
        n = int(m.group(1))
        fill(n)
        out += line + b"\r\n" + conn.buf[:n]
        conn.buf = conn.buf[n:]


class P:
    """Recursive descent over one response; each method is a §9 rule."""

    def __init__(self, b):
        self.b, self.i = b, 0

    def fail(self, rule):
        raise SyntaxError("%s at %d: %r|%r" % (rule, self.i, self.b[max(0, self.i - 60):self.i],
                                               self.b[self.i:self.i + 60]))

    def peek(self, s):
        return self.b.startswith(s, self.i)

    def peek_ci(self, s):
        return self.b[self.i:self.i + len(s)].upper() == s

    def lit(self, s, rule=None):
        if not self.peek_ci(s):
            self.fail(rule or repr(s))
        self.i += len(s)

    def sp(self):
        self.lit(b" ", "SP")

    def end(self):
        if self.i != len(self.b):
            self.fail("end of response")

    # ---- basic tokens ----
    def number(self, nz=False, bits=32):
        m = re.compile(rb"\d+").match(self.b, self.i)
        if not m or (len(m.group()) > 1 and m.group()[0:1] == b"0"):
            self.fail("number")
        v = int(m.group())
        if v >= 1 << (63 if bits == 64 else 32) or (nz and v == 0):
            self.fail("nz-number" if nz else "number")
        self.i = m.end()
        return v

    def atom(self, extra=b""):
        j = self.i
        while j < len(self.b) and (self.b[j] not in ATOM_SPECIALS or self.b[j] in extra):
            j += 1
        if j == self.i:
            self.fail("atom")
        a, self.i = self.b[self.i:j], j
        return a

    def quoted(self):
        self.lit(b'"', "DQUOTE")
        out = bytearray()
        while True:
            if self.i >= len(self.b):
                self.fail("quoted")
            c = self.b[self.i]
            if c == 0x22:
                self.i += 1
                return bytes(out)
            if c == 0x5c:
                if self.i + 1 >= len(self.b) or self.b[self.i + 1] not in b'"\\':
                    self.fail("quoted-specials")
                c = self.b[self.i + 1]
                self.i += 1
            elif c in (0x0d, 0x0a, 0):
                self.fail("QUOTED-CHAR")
            out.append(c)
            self.i += 1

    def literal(self, eight=False):
        if eight:
            self.lit(b"~")
        self.lit(b"{")
        n = self.number()
        self.lit(b"}\r\n", "literal CRLF")
        data = self.b[self.i:self.i + n]
        if len(data) != n or (not eight and b"\0" in data):
            self.fail("literal data")
        self.i += n
        return data

    def string(self):
        return self.quoted() if self.peek(b'"') else self.literal()

    def nstring(self):
        if self.peek_ci(b"NIL"):
            self.i += 3
            return None
        return self.string()

    def astring(self):
        if self.peek(b'"') or self.peek(b"{"):
            return self.string()
        return self.atom(extra=b"]")

    def mailbox(self):
        return self.astring()

    def seq_set(self):
        m = re.compile(rb"(\d+|\*)(:(\d+|\*))?(,(\d+|\*)(:(\d+|\*))?)*").match(self.b, self.i)
        if not m:
            self.fail("sequence-set")
        for n in re.split(rb"[,:]", m.group()):
            if n != b"*" and (n[0:1] == b"0" or int(n) >= 1 << 32):
                self.fail("nz-number in sequence-set")
        self.i = m.end()

    def flag(self):
        if self.peek(b"\\*"):
            self.i += 2
            return b"\\*"
        if self.peek(b"\\"):
            self.i += 1
            return b"\\" + self.atom()
        return self.atom()

    def flag_list(self):
        self.lit(b"(")
        first = True
        while not self.peek(b")"):
            if not first:
                self.sp()
            self.flag()
            first = False
        self.lit(b")")

    def parens(self, item):
        """ "(" item *(SP item) ")", at least one."""
        self.lit(b"(")
        item()
        while self.peek(b" "):
            self.sp()
            item()
        self.lit(b")")

    # ---- response codes (§9 resp-text-code, RFC 5530, extensions) ----
    def resp_text(self):
        if self.peek(b"["):
            self.i += 1
            self.resp_text_code()
            self.lit(b"]")
            self.sp()  # RFC 3501 requires the text; RFC 9051 allows none
        if self.i == len(self.b):
            self.fail("text (1*TEXT-CHAR)")
        for c in self.b[self.i:]:
            if c in (0x0d, 0x0a, 0):
                self.fail("TEXT-CHAR")
        self.i = len(self.b)

    def resp_text_code(self):
        name = self.atom().upper()
        if name in SIMPLE_CODES:
            return
        if name == b"BADCHARSET":
            if self.peek(b" "):
                self.sp()
                self.parens(self.astring)
        elif name == b"CAPABILITY":
            self.capabilities()
        elif name == b"PERMANENTFLAGS":
            self.sp()
            self.flag_list()
        elif name in (b"UIDNEXT", b"UIDVALIDITY"):
            self.sp()
            self.number(nz=True)
        elif name == b"APPENDUID":
            self.sp()
            self.number(nz=True)
            self.sp()
            self.seq_set()  # uid-set; a single append gives one UID
        elif name == b"COPYUID":
            self.sp()
            self.number(nz=True)
            self.sp()
            self.seq_set()
            self.sp()
            self.seq_set()
        elif name in (b"HIGHESTMODSEQ",):
            self.sp()
            self.number(nz=True, bits=64)
        elif name == b"MODIFIED":
            self.sp()
            self.seq_set()
        elif name == b"MAILBOXID":
            self.sp()
            self.lit(b"(")
            self.atom()
            self.lit(b")")
        elif name == b"APPENDLIMIT":
            self.sp()
            self.number()
        else:
            if self.peek(b" "):
                self.sp()
                j = self.i
                while j < len(self.b) and self.b[j] not in b"]\r\n":
                    j += 1
                if j == self.i:
                    self.fail("resp-text-code text")
                self.i = j

    def capabilities(self):
        seen = False
        while self.peek(b" "):
            self.sp()
            seen = True
            self.atom()
        if not seen:
            self.fail("capability-data")

    # ---- ENVELOPE and BODYSTRUCTURE (§9) ----
    def address(self):
        self.lit(b"(")
        self.nstring()
        self.sp()
        self.nstring()
        self.sp()
        self.nstring()
        self.sp()
        self.nstring()
        self.lit(b")")

    def addresses(self):
        if self.peek_ci(b"NIL"):
            self.i += 3
            return
        self.lit(b"(")
        self.address()
        while self.peek(b"("):
            self.address()
        self.lit(b")")

    def envelope(self):
        self.lit(b"(")
        self.nstring()  # date
        self.sp()
        self.nstring()  # subject
        for _ in range(6):  # from sender reply-to to cc bcc
            self.sp()
            self.addresses()
        self.sp()
        self.nstring()  # in-reply-to
        self.sp()
        self.nstring()  # message-id
        self.lit(b")")

    def fld_param(self):
        if self.peek_ci(b"NIL"):
            self.i += 3
            return
        self.lit(b"(")
        self.string()
        self.sp()
        self.string()
        while self.peek(b" "):
            self.sp()
            self.string()
            self.sp()
            self.string()
        self.lit(b")")

    def body_fields(self):
        self.fld_param()
        self.sp()
        self.nstring()  # id
        self.sp()
        self.nstring()  # description
        self.sp()
        self.string()  # encoding
        self.sp()
        self.number()  # octets

    def fld_dsp(self):
        if self.peek_ci(b"NIL"):
            self.i += 3
            return
        self.lit(b"(")
        self.string()
        self.sp()
        self.fld_param()
        self.lit(b")")

    def fld_lang(self):
        if self.peek(b"("):
            self.parens(self.string)
        else:
            self.nstring()

    def body_extension(self):
        if self.peek(b"("):
            self.parens(self.body_extension)
        elif self.b[self.i:self.i + 1].isdigit():
            self.number(bits=64)
        else:
            self.nstring()

    def ext_tail(self):
        """[SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]]"""
        if not self.peek(b" "):
            return
        self.sp()
        self.fld_dsp()
        if not self.peek(b" "):
            return
        self.sp()
        self.fld_lang()
        if not self.peek(b" "):
            return
        self.sp()
        self.nstring()
        while self.peek(b" "):
            self.sp()
            self.body_extension()

    def body(self, ext):
        self.lit(b"(")
        if self.peek(b"("):
            while self.peek(b"("):
                self.body(ext)
            self.sp()
            self.string()  # media-subtype
            if self.peek(b" "):
                if not ext:
                    self.fail("BODY has no extension data")
                self.sp()
                self.fld_param()
                self.ext_tail()
        else:
            t = self.string().upper()
            self.sp()
            st = self.string().upper()
            self.sp()
            self.body_fields()
            if t == b"MESSAGE" and st in (b"RFC822", b"GLOBAL"):
                self.sp()
                self.envelope()
                self.sp()
                self.body(ext)
                self.sp()
                self.number(bits=64)
            elif t == b"TEXT":
                self.sp()
                self.number(bits=64)
            if self.peek(b" "):
                if not ext:
                    self.fail("BODY has no extension data")
                self.sp()
                self.nstring()  # md5
                self.ext_tail()
        self.lit(b")")

    # ---- FETCH (§9 msg-att and extensions) ----
    def section(self):
        """ "[" [section-spec] "]", the spec read loosely but bracketed."""
        self.lit(b"[")
        depth = 0
        while True:
            if self.i >= len(self.b):
                self.fail("section")
            c = self.b[self.i:self.i + 1]
            if c == b"]" and depth == 0:
                self.i += 1
                return
            if c == b"(":
                depth += 1
            elif c == b")":
                depth -= 1
            elif c == b'"':
                self.quoted()
                continue
            self.i += 1

    def section_binary(self):
        self.lit(b"[")
        if not self.peek(b"]"):
            self.number(nz=True)
            while self.peek(b"."):
                self.i += 1
                self.number(nz=True)
        self.lit(b"]")

    def msg_att(self):
        m = re.compile(rb"[A-Za-z0-9.]+").match(self.b, self.i)
        if not m:
            self.fail("msg-att")
        name, self.i = m.group().upper(), m.end()
        if name == b"FLAGS":
            self.sp()
            self.flag_list()
        elif name == b"ENVELOPE":
            self.sp()
            self.envelope()
        elif name == b"INTERNALDATE":
            self.sp()
            d = self.quoted()
            if not re.fullmatch(rb"[ \d]\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}", d):
                self.fail("date-time")
        elif name in (b"RFC822.SIZE",):
            self.sp()
            self.number(bits=64)
        elif name in (b"BODY", b"BODYSTRUCTURE") and not self.peek(b"["):
            self.sp()
            self.body(ext=name == b"BODYSTRUCTURE")
        elif name in (b"BODY", b"BINARY"):
            (self.section if name == b"BODY" else self.section_binary)()
            if self.peek(b"<"):
                self.i += 1
                self.number()
                self.lit(b">")
            self.sp()
            if name == b"BINARY" and self.peek(b"~"):
                self.literal(eight=True)
            else:
                self.nstring()
        elif name == b"BINARY.SIZE":
            self.section_binary()
            self.sp()
            self.number()
        elif name in (b"RFC822", b"RFC822.HEADER", b"RFC822.TEXT"):
            self.sp()
            self.nstring()
        elif name == b"UID":
            self.sp()
            self.number(nz=True)
        elif name == b"MODSEQ":
            self.sp()
            self.lit(b"(")
            self.number(nz=True, bits=64)
            self.lit(b")")
        elif name in (b"EMAILID", b"THREADID"):
            self.sp()
            if self.peek_ci(b"NIL"):
                self.i += 3
            else:
                self.lit(b"(")
                self.atom()
                self.lit(b")")
        elif name == b"SAVEDATE":
            self.sp()
            if self.peek_ci(b"NIL"):
                self.i += 3
            else:
                self.quoted()
        elif name == b"PREVIEW":
            self.sp()
            self.nstring()
        else:
            self.fail("msg-att name %r" % name)

    # ---- untagged data ----
    def status_att(self):
        name = self.atom().upper()
        self.sp()
        if name in (b"MESSAGES", b"UNSEEN", b"DELETED", b"RECENT", b"APPENDLIMIT"):
            self.number()
        elif name in (b"UIDNEXT", b"UIDVALIDITY"):
            self.number(nz=True)
        elif name in (b"SIZE", b"DELETED-STORAGE"):
            self.number(bits=64)
        elif name == b"HIGHESTMODSEQ":
            self.number(bits=64)  # mod-sequence-valzer
        elif name == b"MAILBOXID":
            self.lit(b"(")
            self.atom()
            self.lit(b")")
        else:
            self.fail("status-att %r" % name)

    def list_ext_item(self):
        self.astring()  # mbox-list-extended-item-tag
        self.sp()
        self.tagged_ext_val()

    def tagged_ext_val(self):
        if self.peek(b"("):
            self.lit(b"(")
            if not self.peek(b")"):
                self.tagged_ext_val()
                while self.peek(b" "):
                    self.sp()
                    self.tagged_ext_val()
            self.lit(b")")
        elif self.peek(b'"') or self.peek(b"{"):
            self.string()
        else:
            self.atom()

    def mailbox_list(self):
        self.flag_list()
        self.sp()
        if self.peek_ci(b"NIL"):
            self.i += 3
        else:
            d = self.quoted()
            if len(d) != 1:
                self.fail("hierarchy delimiter")
        self.sp()
        self.mailbox()
        if self.peek(b" "):
            self.sp()
            self.lit(b"(")
            if not self.peek(b")"):
                self.list_ext_item()
                while self.peek(b" "):
                    self.sp()
                    self.list_ext_item()
            self.lit(b")")

    def esearch(self):
        if self.peek(b" (TAG "):
            self.i += 6
            self.astring()
            self.lit(b")")
        if self.peek_ci(b" UID") and (self.i + 4 == len(self.b) or self.b[self.i + 4] == 0x20):
            self.i += 4
        while self.peek(b" "):
            self.sp()
            k = self.atom().upper()
            self.sp()
            if k in (b"MIN", b"MAX"):
                self.number(nz=True)
            elif k == b"ALL":
                self.seq_set()
            elif k == b"COUNT":
                self.number()
            elif k == b"MODSEQ":
                self.number(nz=True, bits=64)
            elif k == b"PARTIAL":
                self.lit(b"(")
                if self.peek(b"-"):
                    self.i += 1
                self.number(nz=True)
                self.lit(b":")
                if self.peek(b"-"):
                    self.i += 1
                self.number(nz=True)
                self.sp()
                if self.peek_ci(b"NIL"):
                    self.i += 3
                else:
                    self.seq_set()
                self.lit(b")")
            else:
                self.fail("search-return-data %r" % k)

    def untagged(self):
        if self.b[self.i:self.i + 1].isdigit():
            self.number()
            self.sp()
            kind = self.atom().upper()
            if kind == b"FETCH":
                self.sp()
                self.parens(self.msg_att)
            elif kind not in (b"EXISTS", b"EXPUNGE", b"RECENT"):
                self.fail("message-data")
            return kind
        kind = self.atom().upper()
        if kind in (b"OK", b"NO", b"BAD", b"BYE", b"PREAUTH"):
            self.sp()
            self.resp_text()
        elif kind == b"CAPABILITY":
            self.capabilities()
        elif kind == b"ENABLED":
            while self.peek(b" "):
                self.sp()
                self.atom()
        elif kind == b"FLAGS":
            self.sp()
            self.flag_list()
        elif kind in (b"LIST", b"LSUB"):
            self.sp()
            self.mailbox_list()
        elif kind == b"STATUS":
            self.sp()
            self.mailbox()
            self.sp()
            self.lit(b"(")
            if not self.peek(b")"):
                self.status_att()
                while self.peek(b" "):
                    self.sp()
                    self.status_att()
            self.lit(b")")
        elif kind == b"ESEARCH":
            self.esearch()
        elif kind in (b"SEARCH", b"SORT"):
            while self.peek(b" "):
                self.sp()
                if self.peek(b"("):
                    self.lit(b"(MODSEQ ")
                    self.number(nz=True, bits=64)
                    self.lit(b")")
                else:
                    self.number(nz=True)
        elif kind == b"VANISHED":
            self.sp()
            if self.peek(b"(EARLIER) "):
                self.i += 10
            self.seq_set()
        elif kind == b"NAMESPACE":
            for _ in range(3):
                self.sp()
                self.namespace()
        elif kind == b"ID":
            self.sp()
            if self.peek_ci(b"NIL"):
                self.i += 3
            else:
                self.lit(b"(")
                self.string()
                self.sp()
                self.nstring()
                while self.peek(b" "):
                    self.sp()
                    self.string()
                    self.sp()
                    self.nstring()
                self.lit(b")")
        else:
            # An extension's data this reader does not know: a generic
            # tagged-ext shape is all that is checked.
            while self.peek(b" "):
                self.sp()
                self.tagged_ext_val()
        return kind

    def namespace(self):
        if self.peek_ci(b"NIL"):
            self.i += 3
            return

        def desc():
            self.lit(b"(")
            self.string()
            self.sp()
            if self.peek_ci(b"NIL"):
                self.i += 3
            else:
                self.quoted()
            while self.peek(b" "):
                self.sp()
                self.string()
                self.sp()
                self.parens(self.string)
            self.lit(b")")
        self.lit(b"(")
        desc()
        while self.peek(b"("):
            desc()
        self.lit(b")")


def check(resp):
    """Parses one response (bytes, no CRLF at its end); its kind, or
    SyntaxError."""
    p = P(resp)
    if p.peek(b"+"):
        p.i += 1
        p.sp()  # continue-req = "+" SP (resp-text / base64)
        if p.peek(b"["):
            p.resp_text()
        p.i = len(p.b)  # text or base64 (which may be empty)
        return b"+"
    if p.peek(b"* "):
        p.i += 2
        kind = p.untagged()
    else:
        if b"+" in p.atom(extra=b"]"):  # tag: 1*<any ASTRING-CHAR except "+">
            p.fail("tag")
        p.sp()
        kind = p.atom().upper()
        if kind not in (b"OK", b"NO", b"BAD"):
            p.fail("resp-cond-state")
        p.sp()
        p.resp_text()
    p.end()
    return kind
