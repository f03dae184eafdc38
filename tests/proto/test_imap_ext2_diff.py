"""Differential test of IMAP extensions against a private Debian Dovecot
(dovecot_peer), second part: CONDSTORE and QRESYNC (RFC 7162), METADATA
(RFC 5464), QUOTA (RFC 9208) and SPECIAL-USE with CREATE-SPECIAL-USE
(RFC 6154). The machinery is test_imap_ext_diff's: the same scripted raw
sessions run on both servers, each compared step's responses normalised,
every remaining difference listed in KNOWN_* with tern's exact answer
and the RFC's reason, and a listed difference that went away fails.

Besides test_imap_ext_diff's normalisation, mod-sequences are compared
by their relations, not their values (RFC 7162 leaves the numbers to the
server, only their order means something): within one step each value
becomes its rank among the step's values plus its relation (<, =, >) to
every mod-sequence the script saved before (<<ms_...>>), which later
commands send back (CHANGEDSINCE, UNCHANGEDSINCE, QRESYNC). Limits that
are configuration are set alike on both sides where they can be: a
storage quota of 100 KiB for bob; the mailboxes tern makes for every
account, with their special-use attributes, are Dovecot mailboxes with
special_use and auto = create."""
import atexit
import re

import dovecot_peer
from harness import Server
from test_imap import BOB, BOB_PW, CAROL, CAROL_PW, Raw
from test_imap_compliance import cmd_rest
from test_imap_ext_diff import MSG, Run, Side, check, normal
from test_imap_fetch_diff import Plain

QUOTA_BYTES = 100 * 1024
DOVECOT_EXTRA = """\
namespace inbox {
  inbox = yes
  separator = /
  mailbox Archive {
    special_use = \\Archive
    auto = create
  }
  mailbox Drafts {
    special_use = \\Drafts
    auto = create
  }
  mailbox Junk {
    special_use = \\Junk
    auto = create
  }
  mailbox Sent {
    special_use = \\Sent
    auto = create
  }
  mailbox Trash {
    special_use = \\Trash
    auto = create
  }
}
imap_metadata = yes
mail_attribute_dict = file:%%h/attributes
mail_plugins = $mail_plugins quota
protocol imap {
  mail_plugins = $mail_plugins imap_quota
}
plugin {
  quota = count:User quota
  quota_rule = *:storage=%dB
  quota_vsizes = yes
}
""" % QUOTA_BYTES

MODSEQ_RE = re.compile(r"(?i)(HIGHESTMODSEQ |MODSEQ \(|MODSEQ )(\d+)")


def seqset(text):
    """A sequence set in one canonical form: "1,2,3,5" and "1:3,5" are
    the same set (RFC 9051's sequence-set leaves the form to the sender)."""
    nums = set()
    for part in text.split(","):
        a, _, b = part.partition(":")
        lo, hi = sorted((int(a), int(b or a)))
        nums.update(range(lo, hi + 1))
    out, run = [], []
    for n in sorted(nums):
        if run and n == run[-1] + 1:
            run.append(n)
            continue
        if run:
            out.append("%d:%d" % (run[0], run[-1]) if len(run) > 1 else str(run[0]))
        run = [n]
    if run:
        out.append("%d:%d" % (run[0], run[-1]) if len(run) > 1 else str(run[0]))
    return ",".join(out)


def items(text):
    """The top-level items of a parenthesised list's inside."""
    out, depth, cur, quoted = [], 0, "", False
    for ch in text:
        if ch == '"' and not (cur.endswith("\\") and quoted):
            quoted = not quoted
        if not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
        if ch == " " and depth == 0 and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return out + ([cur] if cur else [])


def pairs_sorted(inside):
    it = items(inside)
    return " ".join(sorted("%s %s" % (it[i], it[i + 1]) for i in range(0, len(it) - 1, 2)))


def norm(text, lits, side):
    """test_imap_ext_diff's normal(), with each mod-sequence kept as
    <n> for modseq_relations() to rewrite once the step is whole, and
    what else the server may choose: the order of FETCH and STATUS items
    (RFC 9051's msg-att and status-att-list put none), the form of a
    MODIFIED or VANISHED set, the child and marked attributes LIST gives
    unasked (RFC 5258 §4 lets a server send CHILDREN information without
    RETURN (CHILDREN), and \\Marked/\\Unmarked are optional, RFC 9051
    §7.3.1)."""
    text = MODSEQ_RE.sub(lambda m: m.group(1) + "<%s>" % m.group(2),
                         text.decode("utf-8", "replace")).encode()
    s = normal(text, lits)
    s = re.sub(r"(?i)(UIDVALIDITY |QRESYNC \()\d+", r"\1V", s)
    m = re.match(r"^(\* \d+ FETCH \()(.*)\)$", s)
    if m:
        s = m.group(1) + pairs_sorted(m.group(2)) + ")"
    m = re.match(r"^(\* METADATA \S+ \()(.*)\)$", s)
    if m:  # RFC 5464 §4.4.1 orders the entries in no way
        s = m.group(1) + pairs_sorted(m.group(2)) + ")"
    m = re.match(r"^(\* STATUS .* \()([^()]*)\)$", s)
    if m:
        s = m.group(1) + pairs_sorted(m.group(2)) + ")"
    s = re.sub(r"(\[MODIFIED |^\* VANISHED (?:\(EARLIER\) )?)([\d:,]+)",
               lambda m: m.group(1) + seqset(m.group(2)), s)
    m = re.match(r"^(\* LIST \()([^)]*)(\).*)$", s)
    if m:
        fl = [f for f in m.group(2).split() if f.lower() not in
              ("\\haschildren", "\\hasnochildren", "\\marked", "\\unmarked")]
        s = m.group(1) + " ".join(sorted(fl)) + m.group(3)
    return s


def step_order(lines):
    """Drops what only one server offers: OBJECTID's MAILBOXID (RFC 8474;
    Dovecot 2.3 has no OBJECTID). Puts the lines whose order is the
    server's in one: "* n RECENT" right after EXISTS (RFC 9051 §6.3.2
    orders SELECT's untagged data in no way) and LIST replies sorted (RFC
    9051 §6.3.9 orders them in no way either)."""
    lines = [l for l in lines if not l.startswith("* OK [MAILBOXID")]
    recent = [l for l in lines if re.match(r"^\* \d+ RECENT$", l)]
    if len(recent) == 1 and any(re.match(r"^\* \d+ EXISTS$", l) for l in lines):
        lines.remove(recent[0])
        at = [i for i, l in enumerate(lines) if re.match(r"^\* \d+ EXISTS$", l)][-1]
        lines.insert(at + 1, recent[0])
    lists = sorted(l for l in lines if l.startswith("* LIST "))
    if lists:
        rest = [l for l in lines if not l.startswith("* LIST ")]
        lines = lists + rest
    return lines


def modseq_relations(lines, side):
    """Each <n> of one step's lines as m<rank> plus its relation to the
    mod-sequences saved so far (vars named ms_*)."""
    vals = sorted({int(v) for l in lines for v in re.findall(r"<(\d+)>", l)})
    refs = sorted((k, int(v)) for k, v in side.vars.items() if k.startswith("ms_"))

    def label(m):
        v = int(m.group(1))
        rel = ",".join("%s%s" % ("<" if v < r else "=" if v == r else ">", k) for k, r in refs)
        return "m%d{%s}" % (vals.index(v) + 1, rel)
    return [re.sub(r"<(\d+)>", label, l) for l in lines]


class DiffRun(Run):
    """A Run whose steps have their mod-sequences as relations."""

    def __init__(self, sides, scenario):
        super().__init__(sides, scenario, norm=norm)

    def _fix(self, before):
        for i in range(before, len(self.steps)):
            label, a, b = self.steps[i]
            self.steps[i] = (label, modseq_relations(step_order(a), self.sides[0]),
                             modseq_relations(step_order(b), self.sides[1]))

    def cmd(self, *a, **kw):
        before = len(self.steps)
        out = super().cmd(*a, **kw)
        self._fix(before)
        return out

    def events(self, *a, **kw):
        before = len(self.steps)
        super().events(*a, **kw)
        self._fix(before)


_pair = {}


def sides():
    """(tern, Dovecot): one server of each for the module, bob on both
    with the same storage quota."""
    if not _pair:
        s = Server(accounts=[(CAROL, CAROL_PW)], imap=True, start=False)
        atexit.register(s.cleanup)
        s.cli("account", "add", BOB, "--quota", str(QUOTA_BYTES), input=BOB_PW + "\n")
        s.start()
        d = dovecot_peer.DovecotPeer([(BOB, BOB_PW)], extra=DOVECOT_EXTRA)
        atexit.register(d.stop)

        def tern():
            r = Raw(s)
            r.login()
            return r

        def dovecot():
            c = Plain(d.port)
            c.send('l LOGIN "%s" "%s"\r\n' % (BOB, BOB_PW))
            out = cmd_rest(c, "l")
            assert out[-1][0].startswith(b"l OK"), out
            return c

        _pair.update(t=Side("tern", tern), d=Side("dovecot", dovecot), dv=d)
    for side in (_pair["t"], _pair["d"]):  # each test its own connections
        for c in side.conns:
            c.close()
        side.conns, side.vars = [], {}
    return _pair["t"], _pair["d"]


def available():
    return dovecot_peer.available()


# ---- CONDSTORE (RFC 7162 §3.1) ----------------------------------------

KNOWN_CONDSTORE = {
    'fetch modseq': (
        ['* 1 FETCH (FLAGS (\\Recent) MODSEQ (m1{<ms_h0}) UID 1)', '* 2 FETCH (FLAGS (\\Recent) MODSEQ (m2{<ms_h0}) UID 2)', '* 3 FETCH (FLAGS (\\Recent) MODSEQ (m3{<ms_h0}) UID 3)', '* 4 FETCH (FLAGS (\\Recent) MODSEQ (m4{<ms_h0}) UID 4)', '* 5 FETCH (FLAGS (\\Recent) MODSEQ (m5{=ms_h0}) UID 5)', 'T OK'],
        "RFC 7162 §3.1 (paraphrased) asks only that a message's mod-sequence grow with each "
        "change and HIGHESTMODSEQ be at least every message's; tern gave each APPEND its own, "
        'Dovecot gave the five the same'),
    'store that changes nothing': (
        ['* 2 FETCH (FLAGS (\\Flagged \\Recent) MODSEQ (m1{>ms_h0,=ms_s1}))', 'T OK'],
        'RFC 9051 §6.4.6 (paraphrased): STORE without .SILENT answers the flags in an untagged '
        'FETCH; tern does so whether or not they changed, with the unchanged MODSEQ (RFC 7162 '
        '§3.1.3); Dovecot says nothing when nothing changed'),
    'other store seen by select (condstore) session': (
        ['* 1 FETCH (FLAGS (\\Seen) MODSEQ (m2{>ms_h0,>ms_s1}))', '* 3 FETCH (FLAGS (\\Seen) MODSEQ (m2{>ms_h0,>ms_s1}))', '* 4 FETCH (FLAGS (\\Answered) MODSEQ (m1{>ms_h0,>ms_s1}))', '* 5 FETCH (FLAGS (\\Flagged \\Seen) MODSEQ (m3{>ms_h0,>ms_s1}))', 'T OK'],
        'message 2 was flagged and unflagged again since this session last looked; tern reports '
        'net flag changes only (RFC 9051 §7.5.2, paraphrased: FETCH FLAGS tells a change of '
        'flags), Dovecot every message whose mod-sequence moved; no change is lost either way '
        '(RFC 7162 §3.2): a later UNCHANGEDSINCE on message 2 answers [MODIFIED 2]'),
    'other store seen without condstore': (
        ['* 1 FETCH (FLAGS (\\Seen))', '* 3 FETCH (FLAGS (\\Seen))', '* 4 FETCH (FLAGS (\\Answered))', '* 5 FETCH (FLAGS (\\Flagged \\Seen))', 'T OK'],
        'as "other store seen by select (condstore) session"'),
    'unchangedsince 0 keyword': (
        ['T OK [MODIFIED 2:5]'],
        'nothing was stored ([MODIFIED 2:5]; message 1 had been expunged), so no keyword was '
        'defined; RFC 9051 §7.3.5 (paraphrased) sends FLAGS when the defined flags change. '
        'Dovecot announces $Custom anyway'),
}


def test_imap_condstore_matches_dovecot():
    if not available():
        return "skip"
    r = DiffRun(sides(), "condstore")
    r.cmd(0, "CREATE cs", compare=False, ok=True)
    r.fill("cs")
    # Session 0 enables CONDSTORE by ENABLE, session 1 by SELECT
    # (CONDSTORE), session 2 not at all (then by FETCH MODSEQ).
    r.cmd(0, "ENABLE CONDSTORE", label="enable condstore")
    r.cmd(0, "SELECT cs", label="select after enable", save=("ms_h0", r"HIGHESTMODSEQ (\d+)"))
    r.cmd(1, "SELECT cs", label="select without condstore")
    r.cmd(1, "SELECT cs (CONDSTORE)", label="select (condstore)")
    r.cmd(2, "EXAMINE cs", label="examine without condstore")
    r.cmd(0, "FETCH 1:* (UID FLAGS MODSEQ)", label="fetch modseq")
    r.cmd(0, "STORE 2 +FLAGS (\\Flagged)", label="store answers modseq", save=("ms_s1", r"MODSEQ \((\d+)\)"))
    r.cmd(0, "STORE 2 +FLAGS (\\Flagged)", label="store that changes nothing")
    r.cmd(0, "STORE 4 +FLAGS.SILENT (\\Answered)", label="store silent")
    r.cmd(0, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE <<ms_h0>>)", label="changedsince")
    r.cmd(0, "FETCH 1:* (FLAGS) (CHANGEDSINCE <<ms_s1>>)", label="changedsince later")
    r.cmd(0, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE <<ms_h0>> VANISHED)", label="vanished without qresync")
    r.cmd(0, "FETCH 1 (FLAGS) (CHANGEDSINCE)", label="changedsince without value")
    r.cmd(0, "FETCH 1 (FLAGS) (CHANGEDSINCE x)", label="changedsince not a number")
    # UNCHANGEDSINCE: 2 and 4 changed after h0.
    r.cmd(0, "STORE 1:5 (UNCHANGEDSINCE <<ms_h0>>) +FLAGS (\\Seen)", label="unchangedsince modified")
    r.cmd(0, "UID STORE 1:5 (UNCHANGEDSINCE <<ms_h0>>) +FLAGS (\\Seen)", label="uid unchangedsince modified")
    r.cmd(0, "STORE 2 (UNCHANGEDSINCE <<ms_s1>>) -FLAGS (\\Flagged)", label="unchangedsince equal")
    r.cmd(0, "STORE 3 (UNCHANGEDSINCE 0) +FLAGS (\\Draft)", label="unchangedsince 0")
    r.cmd(0, "STORE 3 (UNCHANGEDSINCE 0) FLAGS.SILENT ()", label="unchangedsince 0 silent")
    r.cmd(0, "STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Draft)", label="unchangedsince not a number")
    r.cmd(0, "STORE 1 (NOSUCH 1) +FLAGS (\\Draft)", label="store unknown modifier")
    r.cmd(0, "STORE 9 (UNCHANGEDSINCE 9999) +FLAGS (\\Draft)", label="unchangedsince bad sequence")
    # Another session's change reaches 0 and 1 with its MODSEQ; 2
    # (CONDSTORE not enabled) sees no MODSEQ.
    r.cmd(3, "SELECT cs", compare=False, ok=True)
    r.cmd(3, "STORE 5 +FLAGS (\\Flagged)", label="store by another session")
    r.events(0, "other store seen by condstore session")
    r.events(1, "other store seen by select (condstore) session")
    r.events(2, "other store seen without condstore")
    r.cmd(2, "FETCH 5 (MODSEQ)", label="fetch modseq enables")
    r.cmd(2, "NOOP", label="noop after implicit enable")
    # SEARCH MODSEQ: entry names and types.
    r.cmd(0, "SEARCH MODSEQ <<ms_h0>>", label="search modseq")
    r.cmd(0, "UID SEARCH MODSEQ <<ms_s1>>", label="uid search modseq")
    r.cmd(0, 'SEARCH MODSEQ "/flags/\\\\Flagged" all <<ms_h0>>', label="search modseq entry all")
    r.cmd(0, 'SEARCH MODSEQ "/flags/\\\\Seen" shared <<ms_h0>>', label="search modseq entry shared")
    r.cmd(0, 'SEARCH MODSEQ "/flags/\\\\Seen" other 1', label="search modseq bad entry type")
    r.cmd(0, "SEARCH MODSEQ 99999999", label="search modseq none")
    r.cmd(0, "SEARCH FLAGGED", label="search without modseq criterion")
    r.cmd(0, "SEARCH RETURN (MIN MAX) MODSEQ <<ms_h0>>", label="esearch min max modseq")
    r.cmd(0, "SEARCH RETURN (ALL) MODSEQ <<ms_h0>>", label="esearch all modseq")
    r.cmd(0, "SEARCH RETURN (COUNT) MODSEQ <<ms_h0>>", label="esearch count modseq")
    r.cmd(0, "UID SEARCH RETURN (MIN) MODSEQ 99999999", label="esearch modseq none")
    r.cmd(0, "SEARCH MODSEQ x", label="search modseq not a number")
    # STATUS from a session with nothing selected (Dovecot answers STATUS
    # of the selected mailbox with OK [CLIENTBUG]).
    r.cmd(4, "STATUS cs (HIGHESTMODSEQ MESSAGES)", label="status highestmodseq")
    # An expunge raises HIGHESTMODSEQ (RFC 7162 §3.1.2.1, paraphrased: it
    # changes the mailbox's state).
    r.cmd(0, "STORE 1 +FLAGS.SILENT (\\Deleted)", compare=False, ok=True)
    r.cmd(4, "STATUS cs (HIGHESTMODSEQ)", label="status before expunge", save=("ms_x0", r"HIGHESTMODSEQ (\d+)"))
    r.cmd(0, "EXPUNGE", label="expunge with condstore")
    r.cmd(0, "SELECT cs", label="reselect after expunge")
    # Last, as Dovecot announces a keyword a failed STORE named in FLAGS.
    r.cmd(0, "UID STORE 1:* (UNCHANGEDSINCE 0) +FLAGS ($Custom)", label="unchangedsince 0 keyword")
    r.cmd(0, 'SEARCH MODSEQ "/flags/$Custom" priv <<ms_h0>>', label="search modseq entry priv keyword")
    check(r, KNOWN_CONDSTORE)


# ---- QRESYNC (RFC 7162 §3.2) ------------------------------------------

KNOWN_QRESYNC = {
    'qresync twice': (
        ['T BAD'],
        'tern refuses a SELECT parameter given twice (BAD, as it refuses a repeated FETCH '
        'modifier: which of two QRESYNC lists would hold?); Dovecot takes the command. RFC 4466 '
        'has no word on repeats either way'),
    'qresync seq-match-data mismatch': (
        ['* OK [CLOSED]', '* FLAGS (\\Answered \\Deleted \\Draft \\Flagged \\Seen)', '* OK [PERMANENTFLAGS (\\* \\Answered \\Deleted \\Draft \\Flagged \\Seen)]', '* 6 EXISTS', '* 0 RECENT', '* OK [UNSEEN 1]', '* OK [UIDVALIDITY V]', '* OK [UIDNEXT 9]', '* OK [HIGHESTMODSEQ m2{>ms_h0}]', '* VANISHED (EARLIER) 5', '* 2 FETCH (FLAGS (\\Flagged) MODSEQ (m1{>ms_h0}) UID 3)', 'T OK [READ-WRITE]'],
        'RFC 7162 §3.2.5.2 (paraphrased): the server uses the sequence match data to send fewer '
        'VANISHED UIDs. The client pairs message 3 with UID 4, which still holds (UIDs 1 and 3 '
        'are below it on both sides), so it knows UID 2 is gone and tern leaves it out; the pair '
        '(5, 6) no longer holds, so 5 is told. Dovecot uses the data only when its expunge log '
        'does not reach back to the modseq, and repeats 2'),
    'other expunge seen with qresync': (
        ['* 2 FETCH (FLAGS (\\Flagged \\Recent) MODSEQ (m1{>ms_h0}) UID 3)', '* 6 RECENT', '* OK [HIGHESTMODSEQ m2{>ms_h0}]', '* VANISHED 2,5', 'T OK'],
        'the events are compared sorted: tern sends VANISHED 2,5 first and then the flag change '
        'of UID 3 as message 2, Dovecot the flag change as message 3 first, both consistent (RFC '
        '9051 §7.5.1). Both tell the HIGHESTMODSEQ the expunge moved to, the same value: tern in '
        'an untagged OK after the sync, Dovecot in the tagged OK of the NOOP'),
    'qresync modseq 1': (
        ['* OK [CLOSED]', '* FLAGS (\\Answered \\Deleted \\Draft \\Flagged \\Seen)', '* OK [PERMANENTFLAGS (\\* \\Answered \\Deleted \\Draft \\Flagged \\Seen)]', '* 6 EXISTS', '* 0 RECENT', '* OK [UNSEEN 1]', '* OK [UIDVALIDITY V]', '* OK [UIDNEXT 9]', '* OK [HIGHESTMODSEQ m7{>ms_h0}]', '* VANISHED (EARLIER) 2,5', '* 1 FETCH (FLAGS () MODSEQ (m1{<ms_h0}) UID 1)', '* 2 FETCH (FLAGS (\\Flagged) MODSEQ (m6{>ms_h0}) UID 3)', '* 3 FETCH (FLAGS () MODSEQ (m2{<ms_h0}) UID 4)', '* 4 FETCH (FLAGS () MODSEQ (m3{<ms_h0}) UID 6)', '* 5 FETCH (FLAGS () MODSEQ (m4{<ms_h0}) UID 7)', '* 6 FETCH (FLAGS () MODSEQ (m5{=ms_h0}) UID 8)', 'T OK [READ-WRITE]'],
        'as "fetch modseq": each message its own mod-sequence in tern'),
    'select missing while selected': (
        ['* OK [CLOSED]', 'T NO [NONEXISTENT]'],
        'RFC 5530 §3 NONEXISTENT: the operation targets a mailbox that does not exist '
        '(paraphrased); Dovecot gives the NO no code. Both send CLOSED first (RFC 7162 §3.2.11)'),
    'qresync no list': (
        ['T BAD'],
        'a BAD command is not carried out (RFC 9051 §7.1.3, paraphrased: BAD is a protocol-level '
        'error), so the selected mailbox stays selected and nothing is CLOSED; Dovecot closes it '
        'before refusing'),
    'qresync uidvalidity 0': (
        ['T BAD'],
        'RFC 7162 formal syntax (paraphrased): the QRESYNC parameter\'s uidvalidity is "nz-number" and "mod- '
        'sequence-value = 1*DIGIT ; Positive unsigned 63-bit integer ... (1 <= n <= ...)"; tern '
        'answers BAD, Dovecot takes 0'),
    'qresync modseq 0': (
        ['T BAD'],
        'as "qresync uidvalidity 0": 0 is no mod-sequence-value'),
    'qresync not numbers': (
        ['T BAD'],
        'as "qresync no list"'),
    'qresync with condstore': (
        ['* OK [CLOSED]', '* FLAGS (\\Answered \\Deleted \\Draft \\Flagged \\Seen)', '* OK [PERMANENTFLAGS (\\* \\Answered \\Deleted \\Draft \\Flagged \\Seen)]', '* 6 EXISTS', '* 0 RECENT', '* OK [UNSEEN 1]', '* OK [UIDVALIDITY V]', '* OK [UIDNEXT 9]', '* OK [HIGHESTMODSEQ m2{>ms_h0}]', '* VANISHED (EARLIER) 2,5', '* 2 FETCH (FLAGS (\\Flagged) MODSEQ (m1{>ms_h0}) UID 3)', 'T OK [READ-WRITE]'],
        'RFC 7162 §3.2.11 (paraphrased): the server sends [CLOSED] when a SELECT closes the '
        'selected mailbox; tern does, Dovecot leaves it out for this SELECT'),
}


def test_imap_qresync_matches_dovecot():
    if not available():
        return "skip"
    r = DiffRun(sides(), "qresync")
    r.cmd(0, "CREATE qr", compare=False, ok=True)
    r.cmd(0, "CREATE qr2", compare=False, ok=True)
    r.fill("qr", MSG + MSG[:3])  # 8 messages
    r.cmd(0, "ENABLE QRESYNC", label="enable qresync")
    r.cmd(0, "SELECT qr", label="select after enable qresync", save=("ms_h0", r"HIGHESTMODSEQ (\d+)"))
    r.cmd(0, "STATUS qr (UIDVALIDITY)", compare=False, ok=True, save=("uv", r"UIDVALIDITY (\d+)"))
    # Another session changes a flag and expunges 2 and 5; session 0
    # is told VANISHED, not EXPUNGE.
    r.cmd(1, "SELECT qr", compare=False, ok=True)
    r.cmd(1, "STORE 3 +FLAGS (\\Flagged)", compare=False, ok=True)
    r.cmd(1, "STORE 2,5 +FLAGS (\\Deleted)", compare=False, ok=True)
    r.cmd(1, "EXPUNGE", label="expunge without qresync")
    r.events(0, "other expunge seen with qresync")
    # Re-select with what was known before: CLOSED, VANISHED (EARLIER),
    # the changed message.
    r.cmd(0, "SELECT qr (QRESYNC (<<uv>> <<ms_h0>>))", label="qresync select")
    r.cmd(0, "SELECT qr (QRESYNC (<<uv>> <<ms_h0>> 1:4))", label="qresync known uids")
    r.cmd(0, "SELECT qr (QRESYNC (<<uv>> <<ms_h0>> 1:8 (1:3 1:3)))", label="qresync seq-match-data")
    r.cmd(0, "SELECT qr (QRESYNC (<<uv>> <<ms_h0>> 1:8 (3,5 4,6)))", label="qresync seq-match-data mismatch")
    r.cmd(0, "EXAMINE qr (QRESYNC (<<uv>> <<ms_h0>> 3:4))", label="qresync examine")
    r.cmd(0, "SELECT qr (QRESYNC (123 <<ms_h0>>))", label="qresync wrong uidvalidity")
    r.cmd(0, "SELECT qr (QRESYNC (<<uv>> 1))", label="qresync modseq 1")
    r.cmd(0, "SELECT qr2 (QRESYNC (<<uv>> <<ms_h0>>))", label="qresync other mailbox")
    r.cmd(0, "SELECT nosuch", label="select missing while selected")
    r.cmd(0, "SELECT qr", compare=False, ok=True)
    r.cmd(0, "SELECT qr2", label="select closes")
    r.cmd(0, "UNSELECT", compare=False, ok=True)
    r.cmd(0, "SELECT qr", label="select after unselect")
    # Parameter errors.
    for label, arg in (("qresync no list", "(QRESYNC)"),
                       ("qresync empty list", "(QRESYNC ())"),
                       ("qresync one value", "(QRESYNC (<<uv>>))"),
                       ("qresync uidvalidity 0", "(QRESYNC (0 <<ms_h0>>))"),
                       ("qresync modseq 0", "(QRESYNC (<<uv>> 0))"),
                       ("qresync not numbers", "(QRESYNC (x y))"),
                       ("qresync star in known uids", "(QRESYNC (<<uv>> <<ms_h0>> 1:*))"),
                       ("qresync odd seq-match", "(QRESYNC (<<uv>> <<ms_h0>> 1:8 (1:3)))"),
                       ("qresync seq-match lengths", "(QRESYNC (<<uv>> <<ms_h0>> 1:8 (1:3 1:2)))"),
                       ("qresync with condstore", "(CONDSTORE QRESYNC (<<uv>> <<ms_h0>>))"),
                       ("qresync twice", "(QRESYNC (<<uv>> <<ms_h0>>) QRESYNC (<<uv>> <<ms_h0>>))")):
        r.cmd(0, "SELECT qr %s" % arg, label=label)
    r.cmd(0, "SELECT qr", compare=False, ok=True)
    r.cmd(2, "SELECT qr (QRESYNC (<<uv>> <<ms_h0>>))", label="qresync not enabled")
    r.cmd(2, "ENABLE CONDSTORE", compare=False)
    r.cmd(2, "SELECT qr (QRESYNC (<<uv>> <<ms_h0>>))", label="qresync with only condstore enabled")
    # FETCH VANISHED.
    r.cmd(0, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE <<ms_h0>> VANISHED)", label="uid fetch vanished")
    r.cmd(0, "UID FETCH 3:7 (FLAGS) (CHANGEDSINCE <<ms_h0>> VANISHED)", label="uid fetch vanished range")
    r.cmd(0, "FETCH 1:* (FLAGS) (CHANGEDSINCE <<ms_h0>> VANISHED)", label="fetch vanished without uid")
    r.cmd(0, "UID FETCH 1:* (FLAGS) (VANISHED)", label="vanished without changedsince")
    # Own expunges: VANISHED.
    r.cmd(0, "STORE 1,2 +FLAGS.SILENT (\\Deleted)", compare=False, ok=True)
    r.cmd(0, "UID EXPUNGE 1", label="uid expunge with qresync")
    r.cmd(0, "EXPUNGE", label="expunge with qresync")
    r.cmd(0, "UID EXPUNGE 1:100", label="uid expunge nothing")
    r.cmd(0, "UID MOVE 7 qr2", label="move with qresync")
    r.cmd(0, "CLOSE", label="close with qresync")
    check(r, KNOWN_QRESYNC)


# ---- METADATA (RFC 5464) ----------------------------------------------

NONEXISTENT_MD = ("RFC 5530 §3: 'NONEXISTENT: The operation attempts to affect something (a "
                  "mailbox) that does not exist' (paraphrased), as tern answers SELECT and STATUS; "
                  "Dovecot gives this NO no code")
KNOWN_METADATA = {
    'missing mailbox get': (['T NO [NONEXISTENT]'], NONEXISTENT_MD),
    'missing mailbox set': (['T NO [NONEXISTENT]'], NONEXISTENT_MD),
    'set value 8bit': (
        ['T OK'],
        "a quoted string with 8-bit octets (the client's error without UTF8=ACCEPT); tern stores "
        'the octets, RFC 5464 §3.2 values being binary data (paraphrased); Dovecot fails with '
        'SERVERBUG'),
    'value too big': (
        ['T NO [METADATA MAXSIZE 65536]'],
        "RFC 5464 §4.3 (paraphrased): a value over the server's limit is NO [METADATA MAXSIZE n]; "
        'tern refuses a literal over its 64 KiB before its "+" (STYLE: never read what will be '
        'refused), Dovecot (no such limit configured) sends "+"'),
}


def test_imap_metadata_matches_dovecot():
    if not available():
        return "skip"
    r = DiffRun(sides(), "metadata")
    r.cmd(0, "CREATE md", compare=False, ok=True)
    r.cmd(0, 'GETMETADATA "" /private/comment', label="server entry missing")
    r.cmd(0, 'SETMETADATA "" (/private/comment "server words")', label="set server entry")
    r.cmd(0, 'GETMETADATA "" /private/comment', label="get server entry")
    r.cmd(0, 'GETMETADATA "" (/private/comment /shared/comment)', label="get server two")
    r.cmd(0, 'SETMETADATA md (/private/comment "mine" /shared/comment "ours")', label="set mailbox two")
    r.cmd(0, "GETMETADATA md (/shared/comment /private/comment)", label="get mailbox two")
    r.cmd(0, 'GETMETADATA md /private/comment', label="mailbox entry is not the server's")
    r.cmd(0, ["SETMETADATA md (/private/vendor/t/a ", (b"line one\r\nline two", True), ")"],
          label="set literal value")
    r.cmd(0, ["SETMETADATA md (/private/vendor/t/b ", (b"x" * 40, False), ")"], label="set literal+ value")
    r.cmd(0, 'SETMETADATA md (/private/vendor/t/a/deep "d" /private/vendor/t/a/deep/er "e")', label="set deep")
    r.cmd(0, "GETMETADATA md /private/vendor/t/a", label="get literal value")
    r.cmd(0, "GETMETADATA (DEPTH 0) md /private/vendor/t", label="depth 0")
    r.cmd(0, "GETMETADATA (DEPTH 1) md /private/vendor/t", label="depth 1")
    r.cmd(0, "GETMETADATA (DEPTH infinity) md /private/vendor/t", label="depth infinity")
    r.cmd(0, "GETMETADATA (DEPTH 1) md /private/vendor", label="depth 1 over a gap")
    r.cmd(0, "GETMETADATA (MAXSIZE 5) md (/private/vendor/t/a /private/vendor/t/b /private/comment)",
          label="maxsize longentries")
    r.cmd(0, "GETMETADATA (MAXSIZE 100 DEPTH infinity) md /private/vendor", label="maxsize depth")
    r.cmd(0, "GETMETADATA (DEPTH infinity MAXSIZE 1) md /private/vendor/t", label="depth maxsize all long")
    r.cmd(0, "SETMETADATA md (/private/vendor/t/b NIL)", label="set nil deletes")
    r.cmd(0, "SETMETADATA md (/private/vendor/t/nosuch NIL)", label="set nil of nothing")
    r.cmd(0, "GETMETADATA (DEPTH infinity) md /private/vendor/t", label="after delete")
    r.cmd(0, 'SETMETADATA md (/private/vendor/t/e "")', label="set empty value")
    r.cmd(0, "GETMETADATA md /private/vendor/t/e", label="get empty value")
    r.cmd(0, "GETMETADATA md /PRIVATE/Vendor/T/A", label="names in any case")
    r.cmd(1, "GETMETADATA md /private/comment", label="other session reads")
    # Errors: names, options, mailboxes.
    for label, c in (("name without prefix", 'GETMETADATA md /comment'),
                     ("set name without prefix", 'SETMETADATA md (/comment "x")'),
                     ("name trailing slash", 'GETMETADATA md /private/comment/'),
                     ("name double slash", 'GETMETADATA md /private//comment'),
                     ("name with star", 'GETMETADATA md /private/a*'),
                     ("name with percent", 'SETMETADATA md (/private/a% "x")'),
                     ("name not starting with slash", 'GETMETADATA md private/comment'),
                     ("bare prefix", 'SETMETADATA md (/private "x")'),
                     ("depth 2", 'GETMETADATA (DEPTH 2) md /private/comment'),
                     ("maxsize not a number", 'GETMETADATA (MAXSIZE x) md /private/comment'),
                     ("unknown option", 'GETMETADATA (NOSUCH 1) md /private/comment'),
                     ("odd set list", 'SETMETADATA md (/private/comment)'),
                     ("empty set list", 'SETMETADATA md ()'),
                     ("empty get list", 'GETMETADATA md ()'),
                     ("missing mailbox get", 'GETMETADATA nosuch /private/comment'),
                     ("missing mailbox set", 'SETMETADATA nosuch (/private/comment "x")'),
                     ("shared server entry", 'SETMETADATA "" (/shared/admin "x")'),
                     ("set value 8bit", 'SETMETADATA md (/private/vendor/t/q "caf\xc3\xa9")')):
        r.cmd(0, c, label=label)
    # Limits: a value over the server's size limit, before its "+".
    r.cmd(0, ["SETMETADATA md (/private/vendor/t/big ", (16 * 1024 * 1024, True)], label="value too big")
    check(r, KNOWN_METADATA)


# ---- QUOTA (RFC 9208) -------------------------------------------------

KNOWN_QUOTA = {
    'getquota unknown root': (
        ['T NO [NONEXISTENT]'],
        'RFC 5530 §3 NONEXISTENT (paraphrased: the operation names something that does not '
        'exist); Dovecot gives the NO no code'),
    'getquotaroot missing mailbox': (
        ['T NO [NONEXISTENT]'],
        'RFC 9208 §4.3.2 (paraphrased) lists the quota roots of a mailbox; a mailbox that does '
        'not exist has none, NO [NONEXISTENT]; Dovecot answers for a mailbox that is not there'),
    'status deleted size': (
        ['* STATUS qt (DELETED 1 MESSAGES 3 SIZE 488)', 'T OK'],
        'RFC 9208 adds the STATUS item DELETED and RFC 8438 the item SIZE (tern offers both, '
        'paraphrased); Dovecot 2.3 predates RFC 9208 and answers BAD'),
    'status deleted none': (
        ['* STATUS INBOX (DELETED 0)', 'T OK'],
        'as "status deleted size"'),
    'setquota': (
        ['T NO [NOPERM]'],
        'RFC 9208 §4.1.3 (paraphrased): SETQUOTA that the user may not do is NO, and RFC 5530 §3 '
        'NOPERM is that code; Dovecot gives the NO no code'),
}


def test_imap_quota_matches_dovecot():
    if not available():
        return "skip"
    r = DiffRun(sides(), "quota")
    r.cmd(0, "CREATE qt", compare=False, ok=True)
    r.cmd(0, "GETQUOTAROOT INBOX", label="getquotaroot")
    r.cmd(0, "GETQUOTAROOT qt", label="getquotaroot other mailbox")
    r.cmd(0, 'GETQUOTA "User quota"', label="getquota")
    r.cmd(0, 'GETQUOTA "nosuch"', label="getquota unknown root")
    r.cmd(0, "GETQUOTAROOT nosuch", label="getquotaroot missing mailbox")
    r.fill("qt", MSG[:3])
    r.cmd(0, 'GETQUOTA "User quota"', label="getquota after appends")
    r.cmd(0, "SELECT qt", compare=False, ok=True)
    r.cmd(0, "STORE 2 +FLAGS.SILENT (\\Deleted)", compare=False, ok=True)
    r.cmd(0, "STATUS qt (MESSAGES DELETED SIZE)", label="status deleted size")
    r.cmd(0, "STATUS INBOX (DELETED)", label="status deleted none")
    r.cmd(0, "EXPUNGE", compare=False, ok=True)
    r.cmd(0, 'GETQUOTA "User quota"', label="getquota after expunge")
    r.cmd(0, 'SETQUOTA "User quota" (STORAGE 1000)', label="setquota")
    # Over quota: refused, usage unchanged.
    big = b"Subject: big\r\n\r\n" + b"y" * (QUOTA_BYTES + 100) + b"\r\n"
    r.cmd(0, ["APPEND qt ", (big, True)], label="append over quota")
    r.cmd(0, ["APPEND qt ", (big, False)], label="append over quota literal+")
    r.cmd(0, 'GETQUOTA "User quota"', label="getquota after refusal")
    half = b"Subject: half\r\n\r\n" + b"z" * (QUOTA_BYTES // 2) + b"\r\n"
    r.cmd(0, ["APPEND qt ", (half, False)], label="append under quota")
    r.cmd(0, ["APPEND qt ", (half, False)], label="append past quota")
    r.cmd(0, "COPY 1:* qt", label="copy past quota")
    r.cmd(0, "STORE 1:* +FLAGS.SILENT (\\Deleted)", compare=False, ok=True)
    r.cmd(0, "CLOSE", compare=False, ok=True)
    r.cmd(0, 'GETQUOTA "User quota"', label="getquota at the end")
    check(r, KNOWN_QUOTA)


# ---- SPECIAL-USE and CREATE-SPECIAL-USE (RFC 6154) --------------------

KNOWN_SPECIAL_USE = {
    'create use unknown': (
        ['T NO [USEATTR]'],
        'RFC 6154 §3 (paraphrased): a CREATE whose special use cannot be assigned MUST NOT create '
        'the mailbox and is NO, with USEATTR when the use is the reason; tern refuses \\Bogus so, '
        'Dovecot answers OK and creates a mailbox without it'),
    'create use two': (
        ['T NO [USEATTR]'],
        'as "create use unknown": tern gives one mailbox one role (JMAP\'s role, RFC 8621 §2) and '
        'refuses two with [USEATTR]'),
    'create use not a flag': (
        ['T NO [USEATTR]'],
        'as "create use unknown": "Archive" is no use attribute'),
    'create unknown option': (
        ['T BAD'],
        'RFC 4466 §2.2 (paraphrased): a create-param the server does not know is BAD; Dovecot '
        'ignores it and creates the mailbox'),
    'list after creates': (
        ['* LIST (\\Archive) "/" Archive', '* LIST (\\Archive) "/" su-archive', '* LIST (\\Drafts) "/" Drafts', '* LIST (\\Junk) "/" Junk', '* LIST (\\Sent) "/" Sent', '* LIST (\\Sent) "/" su-sent', '* LIST (\\Trash) "/" Trash', 'T OK'],
        'Dovecot answered OK to CREATE ... (USE (\\Archive)) but kept no special use (RFC 6154 §3: '
        'such a mailbox MUST NOT be created without it, paraphrased); tern lists su-archive and '
        'su-sent with theirs'),
    'list created': (
        ['* LIST () "/" su-empty', '* LIST (\\Archive) "/" su-archive', '* LIST (\\Sent) "/" su-sent', 'T OK'],
        'as "list after creates": and Dovecot created the mailboxes tern refused (su-bogus, su- '
        'two, su-notflag, su-opt)'),
    'list created selection': (
        ['* LIST (\\Archive) "/" su-archive', '* LIST (\\Sent) "/" su-sent', 'T OK'],
        'as "list after creates"'),
}


def test_imap_special_use_matches_dovecot():
    if not available():
        return "skip"
    r = DiffRun(sides(), "special-use")
    r.cmd(0, 'LIST "" "*" RETURN (SPECIAL-USE)', label="list return special-use")
    r.cmd(0, 'LIST (SPECIAL-USE) "" "*"', label="list special-use selection")
    r.cmd(0, 'LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)', label="list special-use both")
    r.cmd(0, 'LIST "" "S*" RETURN (SPECIAL-USE)', label="list pattern return special-use")
    r.cmd(0, 'LIST "" "*"', label="list without return")
    r.cmd(0, "CREATE su-archive (USE (\\Archive))", label="create use archive")
    r.cmd(0, "CREATE su-sent (USE (\\Sent))", label="create use sent")
    r.cmd(0, "CREATE su-bogus (USE (\\Bogus))", label="create use unknown")
    r.cmd(0, "CREATE su-empty (USE ())", label="create use empty")
    r.cmd(0, "CREATE su-two (USE (\\Drafts \\Junk))", label="create use two")
    r.cmd(0, "CREATE su-notflag (USE (Archive))", label="create use not a flag")
    r.cmd(0, "CREATE su-opt (NOSUCH (\\Archive))", label="create unknown option")
    r.cmd(0, 'LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)', label="list after creates")
    r.cmd(0, 'LIST "" "su-*" RETURN (SPECIAL-USE)', label="list created")
    r.cmd(0, 'LIST (SPECIAL-USE) "" "su-*"', label="list created selection")
    for mb in ("su-archive", "su-sent", "su-bogus", "su-empty", "su-two", "su-notflag", "su-opt"):
        r.cmd(0, "DELETE %s" % mb, compare=False)
    check(r, KNOWN_SPECIAL_USE)
