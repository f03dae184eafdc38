"""Differential test of IMAP's core commands against a private Debian
Dovecot started here (dovecot_peer), in the manner of imaptest's scripted
tests: SELECT and EXAMINE, re-SELECT, CLOSE and UNSELECT, STATUS,
CREATE/DELETE/RENAME, SUBSCRIBE/LSUB, STORE, COPY/MOVE, sequence and UID
sets, EXPUNGE, SEARCH's edge keys, APPEND's edge cases, IDLE, NOOP and
CHECK, ENABLE, NAMESPACE, ID, LOGOUT, and commands in the wrong state or
with bad syntax (RFC 9051 and RFC 3501, with UIDPLUS, MOVE, CONDSTORE,
LIST-STATUS, UTF8=ACCEPT and SEARCHRES).

The same scripted raw sessions run on both servers, as the other *_diff
tests do (their Run, normal() and check() are used here): each step's
responses are compared after normalising what legitimately differs (the
tag, human text, UIDVALIDITY and MODSEQ values, capability lists, the
order of flags in a list). The untagged data of SELECT and EXAMINE is
compared as a sorted list, since RFC 9051 §6.3.2 lists the required
responses without an order. Setup steps are checked for OK on both sides,
not compared. Every difference that remains is in a KNOWN_* list with
tern's exact answer and the RFC text that allows it (quoted, or marked
paraphrased); any other difference, another answer from tern, or a
listed one that went away, fails the test. Where tern was wrong it was
fixed instead (each failed here on the old build): LSUB "" "foo" listed
an unsubscribed foo, flagged Noselect, for a subscribed foo/bar, and NOOP,
CHECK, LOGOUT, NAMESPACE and UNSELECT took arguments ("LOGOUT x" logged
out).

Connections: 0 to 5 are bob's (CoreRun replaces one after a few BADs),
8 is not logged in, 9 is carol's (whose INBOX is renamed). dan's account
may not sign in (tern's cannot_sign_in, Dovecot's nologin)."""
import atexit
import base64
import email.utils
import re
import socket
import time

import dovecot_peer
from test_imap import BOB, BOB_PW, CAROL, CAROL_PW, Raw, raw_response, srv
from test_imap_compliance import cmd_rest
import test_imap_ext_diff
from test_imap_ext_diff import DOVECOT_EXTRA, MSG, SPECIAL, Run, Side, send_command
from test_imap_fetch_diff import Plain

_pair = {}
DAN, DAN_PW = "dan@example.test", "dan-pw-1"


def sides():
    """(tern, Dovecot): one server of each for the module, bob on both;
    each test gets its own connections."""
    if not _pair:
        s = srv()
        s.__enter__()
        atexit.register(s.cleanup)
        # dan may not sign in: tern's state cannot_sign_in, Dovecot's
        # passdb extra field nologin.
        s.cli("account", "add", DAN, input=DAN_PW + "\n")
        s.cli("account", "state", DAN, "cannot_sign_in")
        d = dovecot_peer.DovecotPeer([(BOB, BOB_PW), (CAROL, CAROL_PW), (DAN, DAN_PW + "::::::nologin")],
                                     extra=DOVECOT_EXTRA)
        atexit.register(d.stop)

        def tern_plain():
            return Raw(s)

        def dovecot_plain():
            return Plain(d.port)

        def logged_in(plain, user=BOB, pw=BOB_PW):
            def connect():
                c = plain()
                c.send('l LOGIN "%s" "%s"\r\n' % (user, pw))
                out = cmd_rest(c, "l")
                assert out[-1][0].startswith(b"l OK"), out
                return c
            return connect

        t, dv = Side("tern", logged_in(tern_plain)), Side("dovecot", logged_in(dovecot_plain))
        t.plain, dv.plain = tern_plain, dovecot_plain
        t.carol, dv.carol = logged_in(tern_plain, CAROL, CAROL_PW), logged_in(dovecot_plain, CAROL, CAROL_PW)
        _pair.update(t=t, d=dv)
        # tern makes these mailboxes for every account, subscribed: so
        # on Dovecot too, that LIST and LSUB see the same set.
        for user, pw in ((BOB, BOB_PW), (CAROL, CAROL_PW)):
            c = logged_in(dovecot_plain, user, pw)()
            listed = send_command(dv, c, "c", "LIST \"\" *")
            for name in SPECIAL:
                if not any(b'"/" %s' % name.encode() in x for x, _ in listed):
                    send_command(dv, c, "c", "CREATE %s" % name)
            for name in SPECIAL + ("INBOX",):
                send_command(dv, c, "s", "SUBSCRIBE %s" % name)
            c.close()
    for side in (_pair["t"], _pair["d"]):
        for c in side.conns:
            c.close()
        side.conns, side.vars = [], {}
    return _pair["t"], _pair["d"]


def available():
    return dovecot_peer.available()


class CoreRun(Run):
    """Run, reconnecting a connection after a few BAD answers: Dovecot
    closes a session after too many invalid commands (its own limit, no
    RFC's), so the connection is replaced, with what it had enabled and
    selected done again, before Dovecot would."""

    def __init__(self, sides, scenario):
        Run.__init__(self, sides, scenario)
        self.bad, self.redo = {}, {}

    def cmd(self, conn, parts, label=None, compare=True, ok=False, save=None):
        out = Run.cmd(self, conn, parts, label, compare, ok, save)
        if isinstance(parts, str) and conn < 8:
            word = parts.split(" ")[0].upper()
            redo = self.redo.setdefault(conn, [])
            if word in ("SELECT", "EXAMINE"):  # a failed one leaves none selected
                self.redo[conn] = [x for x in redo if not x.startswith(("SELECT", "EXAMINE"))]
                if all(o and o[-1].startswith("T OK") for o in out):
                    self.redo[conn].append(parts)
            elif word in ("CLOSE", "UNSELECT"):
                self.redo[conn] = [x for x in redo if not x.startswith(("SELECT", "EXAMINE"))]
            elif word == "ENABLE":
                redo.insert(0, parts)
        if any(o and "BAD" in o[-1] for o in out):
            self.bad[conn] = self.bad.get(conn, 0) + 1
            if self.bad[conn] >= 8:
                self.bad[conn] = 0
                for side in self.sides:
                    side.conns[conn].close()
                    side.conns[conn] = side.connect()
                for x in self.redo.get(conn, []):
                    Run.cmd(self, conn, x, compare=False)
        return out


def expand_set(text):
    """A sequence set as the numbers it names, written out: "1:3" and
    "1,2,3" are the same set (RFC 9051 sequence-set)."""
    out = []
    for part in text.split(","):
        a, _, b = part.partition(":")
        lo, hi = sorted((int(a), int(b or a)))
        out += range(lo, hi + 1)
    return ",".join(str(n) for n in out)


def internaldate_now(m):
    """An INTERNALDATE within ten minutes of the clock reads as NOW."""
    try:
        when = email.utils.parsedate_to_datetime(m.group(1).strip().replace("-", " ", 2)).timestamp()
    except (TypeError, ValueError):
        return m.group(0)
    return 'INTERNALDATE NOW' if abs(when - time.time()) < 600 else m.group(0)


def core_normal(line):
    """What else legitimately differs, on top of test_imap_ext_diff's
    normal(): the order of STATUS items (RFC 9051's status-att-list
    fixes none), how a set in [MODIFIED] is written, ID's values,
    SEARCH's MODSEQ value and an INTERNALDATE of "now" (an APPEND with
    no date takes the time it arrives, which for the two servers may
    fall in different seconds)."""
    m = re.match(r"^(\* STATUS \S+|\* STATUS \"[^\"]*\") \((.*)\)$", line)
    if m:
        items = re.findall(r"(\S+) (\S+)", m.group(2))
        line = "%s (%s)" % (m.group(1), " ".join("%s %s" % i for i in sorted(items)))
    # The server's ID values are its own (RFC 2971 §3.3).
    line = re.sub(r"^\* ID \(.*\)$", "* ID (...)", line)
    line = re.sub(r'INTERNALDATE "([^"]+)"', internaldate_now, line)
    # RFC 5258's mbox-list-extended-item-tag is an astring: quoted or not.
    line = line.replace('("CHILDINFO" (', '(CHILDINFO (')
    line = re.sub(r"\(MODSEQ \d+\)$", "(MODSEQ M)", line)  # SEARCH MODSEQ (RFC 7162 §3.1.5)
    return re.sub(r"\[MODIFIED ([\d,:]+)\]", lambda m: "[MODIFIED %s]" % expand_set(m.group(1)), line)


def core_lines(lines):
    """A step's responses, normalised; LIST and LSUB lines sorted, as the
    RFCs give mailboxes no order."""
    lines = [core_normal(x) for x in lines if not x.startswith("* OK [MAILBOXID ")]
    listed = sorted(x for x in lines if x.startswith(("* LIST ", "* LSUB ")))
    if not listed:
        return lines
    return listed + [x for x in lines if not x.startswith(("* LIST ", "* LSUB "))]


def check(run, known):
    """test_imap_ext_diff.check() after core_normal(). Dovecot 2.3 does
    not offer OBJECTID (RFC 8474), whose [MAILBOXID] tern sends on every
    SELECT and EXAMINE (RFC 8474 §4.2: a server that offers it MUST):
    that line is dropped."""
    steps = []
    for label, a, b in run.steps:
        a, b = core_lines(a), core_lines(b)
        steps.append((label, a, b))
    run.steps = steps
    test_imap_ext_diff.check(run, known)


def carol(run, i):
    """Connection i of both servers: carol's, logged in."""
    for side in run.sides:
        side.conn(i)
        side.conns[i].close()
        side.conns[i] = side.carol()


def unauth(run, i):
    """Connection i of both servers, greeted but not logged in."""
    for side in run.sides:
        side.conn(i)
        side.conns[i].close()
        side.conns[i] = side.plain()


def sorted_step(run):
    """The last step's untagged responses as a sorted list: SELECT's
    responses come in no order RFC 9051 §6.3.2 fixes."""
    label, a, b = run.steps[-1]
    run.steps[-1] = (label, sorted(a[:-1]) + a[-1:], sorted(b[:-1]) + b[-1:])


def sel(run, conn, what, label=None):
    run.cmd(conn, what, label=label)
    sorted_step(run)


def lines_until(c, tag=None, limit=5):
    """Responses until the one tagged `tag`, or until the server closes
    the connection (or `limit` seconds of silence)."""
    out = []
    c.sock.settimeout(limit)
    try:
        while True:
            out.append(raw_response(c))
            if tag and out[-1][0].startswith(tag.encode() + b" "):
                break
    except (EOFError, OSError, socket.timeout):
        out.append((b"<closed>", []))
    finally:
        c.sock.settimeout(10)
    return out


# ---- SELECT, EXAMINE, CLOSE, UNSELECT, STATUS -------------------------

NONEXISTENT = ("RFC 5530 §3: 'NONEXISTENT: The operation attempts to affect something (a mailbox) "
               "that does not exist' (paraphrased); Dovecot gives this NO no code")
NO_DELETED = ("RFC 9051 §6.3.11 lists DELETED as a STATUS item ('The number of messages with the "
              "\\Deleted flag set'); Dovecot 2.3 is IMAP4rev1 and answers BAD")
HIGHESTMODSEQ_ALWAYS = (
    "RFC 7162 §3.1.2.1: 'A server supporting the persistent storage of mod-sequences for the "
    "mailbox MUST send the OK untagged response including HIGHESTMODSEQ response code with every "
    "successful SELECT or EXAMINE command'; tern keeps them for every mailbox, Dovecot only once "
    "a client has used CONDSTORE on it (and sends no NOMODSEQ before)")

KNOWN_SELECT = {
    'select': (
        ['* 5 EXISTS', '* 5 RECENT', '* FLAGS (\\Answered \\Deleted \\Draft \\Flagged \\Seen)', '* OK [HIGHESTMODSEQ M]', '* OK [PERMANENTFLAGS (\\* \\Answered \\Deleted \\Draft \\Flagged \\Seen)]', '* OK [UIDNEXT 6]', '* OK [UIDVALIDITY V]', '* OK [UNSEEN 1]', 'T OK [READ-WRITE]'],
        HIGHESTMODSEQ_ALWAYS),
    'reselect': (
        ['* 0 RECENT', '* 5 EXISTS', '* FLAGS ($Label1 \\Answered \\Deleted \\Draft \\Flagged \\Seen)', '* OK [CLOSED]', '* OK [HIGHESTMODSEQ M]', '* OK [PERMANENTFLAGS ($Label1 \\* \\Answered \\Deleted \\Draft \\Flagged \\Seen)]', '* OK [UIDNEXT 6]', '* OK [UIDVALIDITY V]', '* OK [UNSEEN 2]', 'T OK [READ-WRITE]'],
        HIGHESTMODSEQ_ALWAYS),
    'examine after select': (
        ['* 0 RECENT', '* 5 EXISTS', '* FLAGS ($Label1 \\Answered \\Deleted \\Draft \\Flagged \\Seen)', '* OK [CLOSED]', '* OK [HIGHESTMODSEQ M]', '* OK [PERMANENTFLAGS ()]', '* OK [UIDNEXT 6]', '* OK [UIDVALIDITY V]', '* OK [UNSEEN 2]', 'T OK [READ-ONLY]'],
        HIGHESTMODSEQ_ALWAYS),
    'select again': (
        ['* 0 RECENT', '* 5 EXISTS', '* FLAGS ($Label1 \\Answered \\Deleted \\Draft \\Flagged \\Seen)', '* OK [HIGHESTMODSEQ M]', '* OK [PERMANENTFLAGS ($Label1 \\* \\Answered \\Deleted \\Draft \\Flagged \\Seen)]', '* OK [UIDNEXT 6]', '* OK [UIDVALIDITY V]', '* OK [UNSEEN 2]', 'T OK [READ-WRITE]'],
        HIGHESTMODSEQ_ALWAYS),
    'select before close': (
        ['* 0 RECENT', '* 5 EXISTS', '* FLAGS ($Label1 \\Answered \\Deleted \\Draft \\Flagged \\Seen)', '* OK [HIGHESTMODSEQ M]', '* OK [PERMANENTFLAGS ($Label1 \\* \\Answered \\Deleted \\Draft \\Flagged \\Seen)]', '* OK [UIDNEXT 6]', '* OK [UIDVALIDITY V]', '* OK [UNSEEN 2]', 'T OK [READ-WRITE]'],
        HIGHESTMODSEQ_ALWAYS),
    'select inbox lower case': (
        ['* 0 EXISTS', '* 0 RECENT', '* FLAGS (\\Answered \\Deleted \\Draft \\Flagged \\Seen)', '* OK [HIGHESTMODSEQ M]', '* OK [PERMANENTFLAGS (\\* \\Answered \\Deleted \\Draft \\Flagged \\Seen)]', '* OK [UIDNEXT 1]', '* OK [UIDVALIDITY V]', 'T OK [READ-WRITE]'],
        HIGHESTMODSEQ_ALWAYS),
    "status deleted": (['* STATUS sel (DELETED 0)', 'T OK'], NO_DELETED),
    "status deleted of selected": (['* STATUS sel (DELETED 1)', 'T OK'], NO_DELETED),
    "status missing mailbox": (['T NO [NONEXISTENT]'], NONEXISTENT),
    "select missing": (['* OK [CLOSED]', 'T NO [NONEXISTENT]'], NONEXISTENT),
    "status of selected": (
        ['* STATUS sel (MESSAGES 5 RECENT 5 SIZE 811 UIDNEXT 6 UNSEEN 4)', 'T OK'],
        "RFC 3501 §6.3.10: 'the STATUS command SHOULD NOT be used on the currently selected "
        "mailbox'; Dovecot adds [CLIENTBUG] (RFC 5530, optional), tern does not"),
    "store read-only": (
        ['T NO [READ-ONLY]'],
        "RFC 9051 §6.3.3: with EXAMINE 'no changes to the permanent state of the mailbox, "
        "including per-user state, are permitted' and §6.4.6 answers STORE 'NO - store error: "
        "cannot store that data', with §7.1's READ-ONLY (as MOVE); Dovecot says OK and changes "
        "nothing"),
    "expunge read-only": (
        ['T NO [READ-ONLY]'],
        "as 'store read-only': RFC 9051 §6.4.3 'NO - expunge failure: can't expunge (e.g., "
        "permission denied)'; Dovecot says OK and expunges nothing"),
    "select extra argument": (
        ['T BAD'],
        "RFC 9051 §9: 'select = \"SELECT\" SP mailbox [select-params]' with select-params "
        "parenthesised: a bare atom after the name is a syntax error; Dovecot ignores it"),
    "list-status": (
        ['* LIST (\\HasNoChildren) "/" sel', '* STATUS sel (MESSAGES 4 UIDNEXT 6 UNSEEN 3)', 'T OK'],
        "RFC 5258 §4 on CHILDREN: 'a server MAY provide it even if the option is not "
        "specified' (paraphrased); tern always does, Dovecot not with RETURN (STATUS)"),
}


def test_imap_select_status_matches_dovecot():
    if not available():
        return "skip"
    r = CoreRun(sides(), "select")
    r.cmd(0, "CREATE sel", compare=False, ok=True)
    r.fill("sel")
    r.cmd(0, "STATUS sel (MESSAGES UIDNEXT UNSEEN RECENT)", label="status after append")
    r.cmd(0, "STATUS sel (DELETED)", label="status deleted")
    r.cmd(0, "STATUS sel (SIZE)", label="status size")
    r.cmd(0, "STATUS sel (UIDVALIDITY)", label="status uidvalidity")
    r.cmd(0, "STATUS sel ()", label="status empty list")
    r.cmd(0, "STATUS sel (FOO)", label="status unknown item")
    r.cmd(0, "STATUS sel", label="status no list")
    r.cmd(0, "STATUS nosuch (MESSAGES)", label="status missing mailbox")
    sel(r, 0, "SELECT sel", label="select")
    r.cmd(0, "STORE 1 +FLAGS.SILENT (\\Seen)", compare=False, ok=True)
    r.cmd(0, "STORE 2 +FLAGS.SILENT (\\Deleted)", compare=False, ok=True)
    r.cmd(0, "STORE 3 +FLAGS.SILENT ($Label1)", compare=False, ok=True)
    r.cmd(0, "STATUS sel (MESSAGES UIDNEXT UNSEEN RECENT SIZE)", label="status of selected")
    r.cmd(0, "STATUS sel (DELETED)", label="status deleted of selected")
    sel(r, 0, "SELECT sel", label="reselect")
    sel(r, 0, "EXAMINE sel", label="examine after select")
    r.cmd(0, "STORE 4 +FLAGS (\\Seen)", label="store read-only")
    r.cmd(0, "EXPUNGE", label="expunge read-only")
    r.cmd(0, "CLOSE", label="close read-only")
    r.cmd(0, "STATUS sel (MESSAGES)", label="close read-only kept deleted")
    r.cmd(0, "CLOSE", label="close not selected")
    r.cmd(0, "UNSELECT", label="unselect not selected")
    sel(r, 0, "SELECT sel", label="select again")
    r.cmd(0, "UNSELECT", label="unselect")
    r.cmd(0, "STATUS sel (MESSAGES)", label="unselect kept deleted")
    sel(r, 0, "SELECT sel", label="select before close")
    r.cmd(0, "CLOSE", label="close")
    r.cmd(0, "STATUS sel (MESSAGES UIDNEXT)", label="close expunged deleted")
    r.cmd(0, "SELECT sel", compare=False, ok=True)
    r.cmd(0, "SELECT nosuch", label="select missing")
    r.cmd(0, "FETCH 1 (UID)", label="fetch after failed select")
    r.cmd(0, "SELECT", label="select no argument")
    r.cmd(4, "SELECT sel extra", label="select extra argument")
    sel(r, 0, "SELECT inbox", label="select inbox lower case")
    # CONDSTORE: HIGHESTMODSEQ once enabled (RFC 7162 §3.1.2.1), and the
    # SELECT parameter that enables it.
    sel(r, 1, "SELECT sel (CONDSTORE)", label="select condstore parameter")
    r.cmd(2, "ENABLE CONDSTORE", label="enable condstore")
    sel(r, 2, "EXAMINE sel", label="examine condstore")
    sel(r, 3, "SELECT sel (FOO)", label="select unknown parameter")
    r.cmd(0, "STATUS sel (MESSAGES UIDNEXT messages)", label="status item twice")
    # LIST-STATUS (RFC 5819).
    r.cmd(0, 'LIST "" "sel" RETURN (STATUS (MESSAGES UIDNEXT UNSEEN))', label="list-status")
    r.cmd(0, 'LIST "" "nosuch" RETURN (STATUS (MESSAGES))', label="list-status nothing")
    check(r, KNOWN_SELECT)


# ---- CREATE, DELETE, RENAME, SUBSCRIBE --------------------------------

MAILDIR_PARENTS = ("RFC 9051 §6.3.4: 'the server SHOULD create any superior hierarchical names "
                   "that are needed for the CREATE command to be successfully completed' "
                   "(paraphrased); tern creates them as mailboxes, Dovecot's Maildir lists them "
                   "\\Noselect, so DELETE and RENAME of them differ too")
DOVECOT_INBOX = ("RFC 9051 §6.3.6: 'Renaming INBOX is permitted' and moves its messages to the new "
                 "name, leaving INBOX empty; Dovecot's Maildir refuses it with NO [CANNOT]")
NO_UTF8 = ("RFC 6855 (UTF8=ACCEPT), which tern offers: UTF-8 names after ENABLE, shown in "
           "modified UTF-7 to a session without it (§3); Dovecot 2.3 has no UTF8=ACCEPT")
KNOWN_MAILBOX = {
    "list created parents": (
        ['* LIST (\\HasChildren) "/" mb3', '* LIST (\\HasChildren) "/" mb3/a',
         '* LIST (\\HasNoChildren) "/" mb3/a/b', 'T OK'], MAILDIR_PARENTS),
    "delete parent made by create": (['T NO [CANNOT]'], MAILDIR_PARENTS),
    "delete with children": (
        ['T NO [CANNOT]'],
        "RFC 9051 §6.3.5: a server that does not permit deleting a name with inferior names "
        "'SHOULD disallow the DELETE command by returning a tagged NO response' (the other "
        "choice, Dovecot's, sets \\Noselect); tern says [HASCHILDREN] to IMAP4rev2 sessions and "
        "RFC 5530's [CANNOT] to IMAP4rev1 ones, which know no HASCHILDREN"),
    "delete inbox": (
        ['T NO [CANNOT]'],
        "RFC 5530 §3: 'CANNOT: The operation violates some invariant of the server and can never "
        "succeed' (paraphrased); Dovecot gives the NO no code"),
    "delete again with children": (['T NO [CANNOT]'], "as 'delete with children' (Dovecot deleted it)"),
    "list after delete child": (['* LIST (\\HasNoChildren) "/" mb4', 'T OK'],
                                "as 'delete with children': mb4 is still there on tern"),
    "create star": (
        ['T NO [CANNOT]'],
        "RFC 9051 §5.1: the list wildcards are valid in a name but 'it is difficult to use "
        "such mailbox names with the LIST command' (paraphrased); RFC 9051 §6.3.4 lets CREATE "
        "fail with 'NO - create failure: cannot create mailbox with that name'; tern refuses "
        "them (RFC 5530 CANNOT), Dovecot creates them"),
    "create percent": (['T NO [CANNOT]'], "as 'create star'"),
    "create control char": (
        ['T NO [CANNOT]'],
        "RFC 5530 §3: 'CANNOT: The operation violates some invariant of the server and can never "
        "succeed' (paraphrased): a name the server can never take; Dovecot gives the NO no code"),
    "create tab": (['T NO [CANNOT]'], "as 'create control char'"),
    "create mutf7 unterminated": (['T NO [CANNOT]'], "as 'create control char' (RFC 3501 §5.1.3)"),
    "create mutf7 ascii encoded": (['T NO [CANNOT]'], "as 'create mutf7 unterminated'"),
    "create mutf7 bad base64": (['T NO [CANNOT]'], "as 'create mutf7 unterminated'"),
    "create 8bit without utf8": (['T NO [CANNOT]'], "as 'create mutf7 unterminated'"),
    "list after rename with children": (
        ['* LIST (\\HasChildren) "/" rn5', '* LIST (\\HasNoChildren) "/" rn1',
         '* LIST (\\HasNoChildren) "/" rn2', '* LIST (\\HasNoChildren) "/" rn5/x', 'T OK'],
        MAILDIR_PARENTS + " (rn4 was made by 'CREATE rn4/x')"),
    "rename into own child": (
        ['T NO [CANNOT]'],
        "a mailbox cannot become its own descendant; RFC 5530 §3 CANNOT ('The operation "
        "violates some invariant of the server and can never succeed', paraphrased); Dovecot "
        "gives the NO no code"),
    "rename inbox": (['T OK'], DOVECOT_INBOX),
    "inbox after rename": (['* STATUS INBOX (MESSAGES 0 UIDNEXT 3)', 'T OK'], DOVECOT_INBOX),
    "renamed inbox": (['* STATUS oldinbox (MESSAGES 2 UIDNEXT 3)', 'T OK'], DOVECOT_INBOX),
    "list after rename inbox": (['* LIST (\\HasNoChildren) "/" INBOX', '* LIST (\\HasNoChildren) "/" oldinbox',
                                 'T OK'], DOVECOT_INBOX),
    "subscribe missing": (
        ['T OK'],
        "RFC 9051 §6.3.7: 'A server MAY validate the mailbox argument to SUBSCRIBE to verify "
        "that it exists'; tern does not, Dovecot does"),
    "lsub": (
        ['* LSUB () "/" Archive', '* LSUB () "/" Drafts', '* LSUB () "/" INBOX', '* LSUB () "/" Junk',
         '* LSUB () "/" Sent', '* LSUB () "/" Trash', '* LSUB () "/" mb1', '* LSUB () "/" rn5/x',
         '* LSUB (\\Noselect) "/" nosuch', 'T OK'],
        "'subscribe missing' kept the name (RFC 3501 §7.2.2 \\Noselect: 'It is not possible to "
        "use this name as a selectable mailbox')"),
    "lsub after delete": (
        ['* LSUB () "/" Archive', '* LSUB () "/" Drafts', '* LSUB () "/" INBOX', '* LSUB () "/" Junk',
         '* LSUB () "/" Sent', '* LSUB () "/" Trash', '* LSUB (\\Noselect) "/" nosuch',
         '* LSUB (\\Noselect) "/" rn5/x', 'T OK'],
        "RFC 3501 §6.3.9: a deleted mailbox stays subscribed ('The server MUST NOT unilaterally "
        "remove an existing mailbox name from the subscription list'); tern flags it \\Noselect "
        "since it cannot be selected (§7.2.2), Dovecot gives no attribute"),
    "enable utf8": (['* ENABLED UTF8=ACCEPT', 'T OK'], NO_UTF8),
    "create utf8 literal": (['T OK'], NO_UTF8),
    "list utf8": (['* LIST (\\HasNoChildren) "/" "caf\u00e9"', 'T OK'], NO_UTF8),
    "list utf8 from mutf7 session": (['* LIST (\\HasNoChildren) "/" caf&AOk-', 'T OK'], NO_UTF8),
}


def test_imap_mailbox_management_matches_dovecot():
    if not available():
        return "skip"
    r = CoreRun(sides(), "mailbox")
    r.cmd(0, "CREATE mb1", label="create")
    r.cmd(0, "CREATE mb1", label="create existing")
    r.cmd(0, "CREATE INBOX", label="create inbox")
    r.cmd(0, "CREATE inbox", label="create inbox lower case")
    r.cmd(0, "CREATE mb2/", label="create trailing separator")
    r.cmd(0, 'LIST "" "mb2*"', label="list trailing separator")
    r.cmd(0, "CREATE mb2//", label="create two trailing separators")
    r.cmd(0, "CREATE mb6//", label="create new with two trailing separators")
    r.cmd(0, 'CREATE "mb6//x"', label="create empty level")
    r.cmd(0, 'LIST "" "mb6*"', label="list after empty levels")
    r.cmd(0, "CREATE mb3/a/b", label="create with parents")
    r.cmd(0, 'LIST "" "mb3*"', label="list created parents")
    r.cmd(0, "DELETE mb3", label="delete parent made by create")
    r.cmd(0, "CREATE mb4", compare=False, ok=True)
    r.cmd(0, "CREATE mb4/a", compare=False, ok=True)
    r.cmd(0, "DELETE mb4", label="delete with children")
    r.cmd(0, 'LIST "" "mb4*"', label="list after delete with children")
    r.cmd(0, "DELETE mb4", label="delete again with children")
    r.cmd(0, "DELETE mb4/a", label="delete child")
    r.cmd(0, 'LIST "" "mb4*"', label="list after delete child")
    r.cmd(0, "DELETE nosuch", label="delete missing")
    r.cmd(0, "DELETE INBOX", label="delete inbox")
    r.cmd(0, "DELETE", label="delete no argument")
    r.cmd(0, 'CREATE "a*b"', label="create star")
    r.cmd(0, 'CREATE "a%b"', label="create percent")
    r.cmd(0, ["CREATE ", (b"ctl\x01x", True)], label="create control char")
    r.cmd(0, ["CREATE ", (b"tab\tx", True)], label="create tab")
    r.cmd(0, 'CREATE ""', label="create empty")
    r.cmd(0, 'CREATE "&AOk-t&AOk-"', label="create mutf7")
    r.cmd(0, 'LIST "" "&AOk-t&AOk-"', label="list mutf7")
    r.cmd(0, 'CREATE "&AOk"', label="create mutf7 unterminated")
    r.cmd(0, 'CREATE "&AGE-"', label="create mutf7 ascii encoded")
    r.cmd(0, 'CREATE "&-x"', label="create mutf7 ampersand")
    r.cmd(0, 'CREATE "&Jjo!"', label="create mutf7 bad base64")
    r.cmd(0, 'CREATE "caf\xe9"', label="create 8bit without utf8")
    r.cmd(0, "CREATE rn1", compare=False, ok=True)
    r.cmd(0, "CREATE rn2", compare=False, ok=True)
    r.cmd(0, "RENAME rn1 rn2", label="rename to existing")
    r.cmd(0, "RENAME nosuch rn3", label="rename missing")
    r.cmd(0, "RENAME rn1 rn1", label="rename to itself")
    r.cmd(0, "RENAME rn1 INBOX", label="rename to inbox")
    r.cmd(0, "RENAME rn1", label="rename one argument")
    r.cmd(0, "CREATE rn4/x", compare=False, ok=True)
    r.cmd(0, "RENAME rn4 rn5", label="rename with children")
    r.cmd(0, 'LIST "" "rn*"', label="list after rename with children")
    r.cmd(0, "RENAME rn5 rn5/x/y", label="rename into own child")
    # RENAME INBOX moves its messages and leaves INBOX, empty (RFC 9051 §6.3.6).
    # Carol's INBOX, so that bob's stays as the other tests expect it.
    carol(r, 9)
    for m in MSG[:2]:
        r.cmd(9, ["APPEND INBOX ", (m, False)], compare=False, ok=True)
    r.cmd(9, "RENAME INBOX oldinbox", label="rename inbox")
    r.cmd(9, "STATUS INBOX (MESSAGES UIDNEXT)", label="inbox after rename")
    r.cmd(9, "STATUS oldinbox (MESSAGES UIDNEXT)", label="renamed inbox")
    r.cmd(9, 'LIST "" "*inbox"', label="list after rename inbox")
    # SUBSCRIBE, UNSUBSCRIBE, LSUB.
    r.cmd(0, "SUBSCRIBE mb1", label="subscribe")
    r.cmd(0, "SUBSCRIBE mb1", label="subscribe twice")
    r.cmd(0, "SUBSCRIBE nosuch", label="subscribe missing")
    r.cmd(0, "SUBSCRIBE rn5/x", label="subscribe child")
    r.cmd(0, 'LSUB "" "*"', label="lsub")
    r.cmd(0, 'LSUB "" "rn5"', label="lsub parent of subscribed")
    r.cmd(0, 'LSUB "" "rn5%"', label="lsub percent")
    r.cmd(0, "UNSUBSCRIBE mb1", label="unsubscribe")
    r.cmd(0, "UNSUBSCRIBE mb1", label="unsubscribe twice")
    r.cmd(0, "DELETE rn5/x", compare=False, ok=True)
    r.cmd(0, 'LSUB "" "*"', label="lsub after delete")
    r.cmd(0, "UNSUBSCRIBE nosuch", label="unsubscribe missing")
    r.cmd(0, "UNSUBSCRIBE nosuch", label="unsubscribe missing twice")
    # Levels above a subscribed name whose mailbox went away, none a
    # mailbox or subscribed: LSUB "%" lists them \Noselect (RFC 3501
    # §6.3.9's "news.comp"), RECURSIVEMATCH \NonExistent with CHILDINFO
    # (RFC 5258 §3.5). tern listed neither.
    r.cmd(0, "CREATE lv/a/b", compare=False, ok=True)
    r.cmd(0, "SUBSCRIBE lv/a/b", compare=False, ok=True)
    r.cmd(0, "RENAME lv lw", compare=False, ok=True)
    r.cmd(0, 'LSUB "" "lv%"', label="lsub level above orphaned subscription")
    r.cmd(0, 'LSUB "lv/" "%"', label="lsub middle level above orphaned subscription")
    r.cmd(0, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "lv/%"', label="recursivematch orphaned level")
    r.cmd(0, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "lv" RETURN (SUBSCRIBED)',
          label="recursivematch orphaned top level")
    r.cmd(0, 'LIST (SUBSCRIBED) "" "lv%"', label="subscribed selection without recursivematch")
    r.cmd(0, 'LIST "" "lv*"', label="list orphaned levels")
    r.cmd(0, "UNSUBSCRIBE lv/a/b", compare=False, ok=True)
    # UTF8=ACCEPT (RFC 6855): names in UTF-8 after ENABLE.
    r.cmd(1, "ENABLE UTF8=ACCEPT", label="enable utf8")
    r.cmd(1, ["CREATE ", (u"caf\u00e9".encode(), True)], label="create utf8 literal")
    r.cmd(1, 'LIST "" "caf*"', label="list utf8")
    r.cmd(0, 'LIST "" "caf*"', label="list utf8 from mutf7 session")
    r.cmd(1, 'CREATE "&AOk-x"', label="create mutf7 after utf8 enable")
    check(r, KNOWN_MAILBOX)


# ---- STORE, COPY, MOVE, sequence sets, EXPUNGE ------------------------

KNOWN_STORE = {
    "store no flags": (
        ['T BAD'],
        "RFC 9051 §9: 'store-att-flags = ([\"+\" / \"-\"] \"FLAGS\" [\".SILENT\"]) SP (flag-list / "
        "(flag *(SP flag)))': the flags are not optional; Dovecot says OK"),
    "uid store": (
        ['* 2 FETCH (UID 2 FLAGS (\\Answered \\Draft \\Seen))', '* 3 FETCH (UID 3 FLAGS (\\Seen))', 'T OK'],
        "RFC 9051 §6.4.6: after +FLAGS 'The new value of the flags is returned as if a FETCH of "
        "those flags was done' (paraphrased); tern answers for every message of the set, "
        "Dovecot only for those whose flags changed (2 had \\Seen already)"),
    "unchangedsince current": (
        ['* 4 FETCH (FLAGS (\\Flagged) MODSEQ (M))', 'T OK'],
        "RFC 9051 §9: 'msg-att = \"(\" (msg-att-dynamic / msg-att-static) *(SP ...) \")\"' fixes no "
        "order of the items"),
    "unchangedsince mixed": (
        ['T OK [MODIFIED 3,4]'],
        "RFC 7162 §3.1.3: 'if the mod-sequence of any metadata item of the message is greater "
        "than the specified UNCHANGEDSINCE value, then the requested operation MUST NOT be "
        "performed' and the message goes into MODIFIED; message 3 changed after the modseq "
        "given. Dovecot passes it since -FLAGS would not change it"),
    "unchangedsince zero": (
        ['T OK [MODIFIED 1,2,3,4,5]'],
        "both fail every message (RFC 7162 §3.1.3: UNCHANGEDSINCE 0 always fails for a flag); "
        "Dovecot also announces the keyword $X in FLAGS and PERMANENTFLAGS though no message "
        "got it"),
    "expunge with argument": (
        ['T BAD'],
        "RFC 9051 §9: 'expunge = \"EXPUNGE\"' takes no arguments (UID EXPUNGE takes the set); "
        "Dovecot ignores it and expunges"),
}


def test_imap_store_copy_matches_dovecot():
    if not available():
        return "skip"
    r = CoreRun(sides(), "store")
    for mb in ("st", "dst"):
        r.cmd(0, "CREATE %s" % mb, compare=False, ok=True)
    r.fill("st")
    r.cmd(0, "SELECT st", compare=False, ok=True)
    r.cmd(0, "STORE 1 +FLAGS (\\Flagged)", label="+flags")
    r.cmd(0, "STORE 1 +FLAGS.SILENT (\\Seen)", label="+flags.silent")
    r.cmd(0, "STORE 1 -FLAGS (\\Flagged)", label="-flags")
    r.cmd(0, "STORE 2 FLAGS (\\Answered $Foo)", label="flags with keyword")
    r.cmd(0, "STORE 2 FLAGS ()", label="flags empty")
    r.cmd(0, "STORE 2 FLAGS.SILENT (\\Draft)", label="flags.silent")
    r.cmd(0, "STORE 2 +FLAGS \\Seen", label="flag without parens")
    r.cmd(0, "STORE 2 +FLAGS \\Seen \\Answered", label="flags without parens")
    r.cmd(0, "STORE 1 +FLAGS (\\Recent)", label="store recent")
    r.cmd(0, "STORE 1 +FLAGS (\\Foo)", label="store unknown system flag")
    r.cmd(0, "STORE 1 +FLAGS ($Bar)", label="store keyword")
    r.cmd(0, "STORE 1 +FLAGS (\\*)", label="store flag-perm star")
    r.cmd(0, "STORE 1 +FLAGS (a(b)", label="store bad keyword")
    r.cmd(0, "STORE 1 XFLAGS (\\Seen)", label="store bad item")
    r.cmd(0, "STORE 1 +FLAGS", label="store no flags")
    r.cmd(0, "STORE 99 +FLAGS (\\Seen)", label="store past exists")
    r.cmd(0, "STORE 0 +FLAGS (\\Seen)", label="store seq zero")
    r.cmd(0, "UID STORE 99 +FLAGS (\\Seen)", label="uid store past uidnext")
    r.cmd(0, "UID STORE 2:3 +FLAGS (\\Seen)", label="uid store")
    r.cmd(0, "FETCH 1:* (FLAGS)", label="flags after stores")
    # CONDSTORE's UNCHANGEDSINCE (RFC 7162 §3.1.3).
    r.cmd(0, "ENABLE CONDSTORE", compare=False)
    r.cmd(0, "STORE 3 (UNCHANGEDSINCE 1) +FLAGS (\\Flagged)", label="unchangedsince old")
    r.cmd(0, "FETCH 4 (MODSEQ)", compare=False, save=("ms", r"MODSEQ \((\d+)\)"))
    r.cmd(0, "STORE 4 (UNCHANGEDSINCE <<ms>>) +FLAGS (\\Flagged)", label="unchangedsince current")
    r.cmd(0, "STORE 3:4 (UNCHANGEDSINCE <<ms>>) -FLAGS (\\Flagged)", label="unchangedsince mixed")
    r.cmd(0, "UID STORE 1:5 (UNCHANGEDSINCE 0) +FLAGS ($X)", label="unchangedsince zero")
    r.cmd(0, "STORE 1 (FOO 1) +FLAGS ($X)", label="store unknown modifier")
    # COPY and MOVE with UIDPLUS (RFC 4315) and MOVE (RFC 6851).
    r.cmd(0, "COPY 1:2 dst", label="copy")
    r.cmd(0, "COPY 1 nosuch", label="copy to missing")
    r.cmd(0, "UID COPY 99 dst", label="uid copy nothing")
    r.cmd(0, "COPY 99 dst", label="copy past exists")
    r.cmd(0, "COPY 1 st", label="copy to itself")
    r.cmd(0, "MOVE 3 dst", label="move")
    r.cmd(0, "UID MOVE 5,4 dst", label="uid move two")
    r.cmd(0, "MOVE 1 nosuch", label="move to missing")
    r.cmd(0, "UID MOVE 99 dst", label="uid move nothing")
    r.cmd(0, "COPY 1", label="copy no mailbox")
    r.cmd(0, "STATUS dst (MESSAGES UIDNEXT)", label="dst after copies")
    # Sequence and UID sets (RFC 9051 §9 seq-number, sequence-set).
    r.cmd(0, "SELECT dst", compare=False, ok=True)
    for q in ("FETCH * (UID)", "FETCH *:1 (UID)", "FETCH 5:3 (UID)", "FETCH 3,1,2 (UID)",
              "FETCH 1:99 (UID)", "FETCH 99 (UID)", "FETCH 99:* (UID)", "FETCH 0 (UID)", "FETCH 1: (UID)",
              "FETCH 1,,2 (UID)", "FETCH 4294967296 (UID)",
              "UID FETCH * (FLAGS)", "UID FETCH *:1 (FLAGS)", "UID FETCH 5:3 (FLAGS)",
              "UID FETCH 100:* (FLAGS)", "UID FETCH 100:200 (FLAGS)", "UID FETCH 0:2 (FLAGS)",
              "UID FETCH 4294967295 (FLAGS)",
              "SEARCH RETURN (SAVE) 2:3", "FETCH $ (UID)", "UID FETCH $ (UID)", "FETCH $,1 (UID)",
              "UID SEARCH UID $"):
        r.cmd(0, q)
    # EXPUNGE and UID EXPUNGE.
    r.cmd(0, "STORE 1,3,5 +FLAGS.SILENT (\\Deleted)", compare=False, ok=True)
    r.cmd(0, "UID FETCH 1:* (UID)", compare=False, save=("u3", r"\* 3 FETCH \(UID (\d+)\)"))
    r.cmd(0, "UID EXPUNGE <<u3>>", label="uid expunge one")
    r.cmd(0, "UID EXPUNGE 999", label="uid expunge nothing")
    r.cmd(0, "EXPUNGE", label="expunge")
    r.cmd(0, "EXPUNGE", label="expunge again")
    r.cmd(0, "EXPUNGE 1", label="expunge with argument")
    r.cmd(0, "UID EXPUNGE", label="uid expunge no set")
    r.cmd(0, "FETCH 1:* (UID FLAGS)", label="left after expunge")
    check(r, KNOWN_STORE)


# ---- SEARCH and APPEND ------------------------------------------------

BAD_DATE = ("RFC 9051 §9: 'date-day = 1*2DIGIT ; Day of month' within a real date: a day the "
            "month does not have is no date, and RFC 9051 §7.1.3 answers arguments that are not "
            "valid with BAD; Dovecot rolls it over")
KNOWN_SEARCH = {
    "SEARCH SENTBEFORE 32-Jan-2024": (['T BAD'], BAD_DATE),
    "SEARCH SINCE 29-Feb-2023": (['T BAD'], BAD_DATE),
    "SEARCH KEYWORD \\Seen": (
        ['* SEARCH 2 4', 'T OK'],
        "RFC 9051 §9: 'KEYWORD SP flag-keyword' and \\Seen is no flag-keyword, so neither server "
        "answers as the grammar would (BAD); tern reads it as the system flag, Dovecot as a "
        "keyword no message has (left as it is, see the commit)"),
    "SEARCH CHARSET X-NOSUCH SUBJECT bravo": (
        ['T NO [BADCHARSET (UTF-8 US-ASCII ISO-8859-1 ISO-8859-15 WINDOWS-1252 ISO-8859-2 WINDOWS-1250 '
         'ISO-8859-5 WINDOWS-1251 KOI8-R KOI8-U GB2312 GBK GB18030 BIG5 BIG5-HKSCS EUC-KR SHIFT_JIS '
         'EUC-JP ISO-2022-JP)]'],
        "RFC 9051 §7.1: 'BADCHARSET Optionally followed by a parenthesized list of charsets' "
        "(paraphrased); tern lists its own, Dovecot none"),
    "append date hour": (
        ['T BAD'],
        "RFC 9051 §9: 'time = 2DIGIT \":\" 2DIGIT \":\" 2DIGIT ; Hours minutes seconds': hour 25 is no "
        "time, BAD (§7.1.3); Dovecot rolls it over"),
    "append date zone": (
        ['T BAD'],
        "RFC 9051 §9: 'zone = (\"+\" / \"-\") 4DIGIT': the sign is required; Dovecot takes '0000'"),
    "append date feb 31": (['T BAD'], BAD_DATE),
    "appended": (
        ['* 6 FETCH (FLAGS ($Kw \\Seen) INTERNALDATE NOW RFC822.SIZE 162)',
         '* 7 FETCH (FLAGS () INTERNALDATE "01-Jan-2024 10:00:00 +0000" RFC822.SIZE 162)',
         '* 8 FETCH (FLAGS () INTERNALDATE "01-Jan-2024 10:00:00 -0530" RFC822.SIZE 162)',
         '* 9 FETCH (FLAGS () INTERNALDATE "01-Jan-2024 10:00:00 +0000" RFC822.SIZE 162)',
         '* 10 FETCH (FLAGS () INTERNALDATE "31-Dec-2016 23:59:59 +0000" RFC822.SIZE 162)',
         '* 11 FETCH (FLAGS () INTERNALDATE "30-Jun-2015 19:59:59 -0400" RFC822.SIZE 162)',
         '* 12 FETCH (FLAGS () INTERNALDATE "01-Jan-2024 10:00:59 +0000" RFC822.SIZE 162)',
         '* 13 FETCH (FLAGS () INTERNALDATE NOW RFC822.SIZE 162)', 'T OK'],
        "RFC 9051 §2.3.3: an APPENDed message's internal date SHOULD be the date and time the "
        "APPEND gave, and §6.4.4 has BEFORE/ON/SINCE disregard its time and zone: tern keeps "
        "the zone given (the same instant) and judges the day there (imaptest's search-intdate "
        "takes a server that fetches dates in the zones they were appended with); this Dovecot "
        "shows every internal date in its own zone, UTC here"),
    "append date second 61": (
        ['T BAD'],
        "RFC 9051 §9's time is 'Hours minutes seconds': a minute has 61 seconds at most (a leap "
        "second, :60, which both take as :59); Dovecot rolls :61 over"),
}


def test_imap_search_append_matches_dovecot():
    if not available():
        return "skip"
    r = CoreRun(sides(), "search")
    for mb in ("se", "se2"):
        r.cmd(0, "CREATE %s" % mb, compare=False, ok=True)
    r.fill("se")
    r.cmd(0, "SELECT se", compare=False, ok=True)
    r.cmd(0, "STORE 2,4 +FLAGS.SILENT (\\Seen)", compare=False, ok=True)
    r.cmd(0, "STORE 3 +FLAGS.SILENT (\\Flagged $Foo)", compare=False, ok=True)
    for q in ("SEARCH 2:4", "SEARCH 4:2", "SEARCH *", "SEARCH 2,4:*", "SEARCH 9", "SEARCH 1:99",
              "SEARCH UID 2:*", "SEARCH UID *", "SEARCH UID 99", "UID SEARCH UID 3:1",
              "SEARCH NOT 1", "SEARCH NOT NOT 1", "SEARCH OR 1 OR 2 3", "SEARCH OR (1 2) 3",
              "SEARCH NOT (OR SEEN FLAGGED)", "SEARCH (SEEN) (NOT 2)", "SEARCH ()",
              "SEARCH OR SEEN", "SEARCH NOT", "SEARCH (SEEN", "SEARCH SEEN)",
              "SEARCH LARGER 150", "SEARCH SMALLER 150", "SEARCH LARGER -1", "SEARCH LARGER x",
              "SEARCH LARGER 99999999999999999999",
              "SEARCH SENTBEFORE 1-Jan-2024", "SEARCH SENTON 1-Jan-2024", "SEARCH SENTSINCE 1-Jan-2024",
              "SEARCH SENTBEFORE \"2-Jan-2024\"", "SEARCH SENTBEFORE 2024-01-01",
              "SEARCH SENTBEFORE 32-Jan-2024", "SEARCH SENTBEFORE 1-Foo-2024", "SEARCH SINCE 1-Jan-24",
              "SEARCH BEFORE 01-Jan-2030", "SEARCH ON", "SEARCH SINCE 29-Feb-2023",
              "SEARCH KEYWORD $Foo", "SEARCH UNKEYWORD $Foo", "SEARCH KEYWORD \\Seen",
              "SEARCH HEADER Subject alpha", "SEARCH HEADER X-None \"\"", "SEARCH SUBJECT",
              "SEARCH FOO", "SEARCH ALL ALL", "SEARCH CHARSET UTF-8 SUBJECT bravo",
              "SEARCH CHARSET us-ascii SUBJECT bravo", "SEARCH CHARSET X-NOSUCH SUBJECT bravo",
              "SEARCH CHARSET", "SEARCH NEW", "SEARCH OLD", "SEARCH RECENT", "SEARCH UNDRAFT DRAFT",
              "SEARCH BODY \"line one\"", "SEARCH TEXT alice", "SEARCH FROM alice SUBJECT echo",
              "SEARCH TO bob@", "SEARCH CC x", "SEARCH BCC x",
              "SEARCH UID 1:* NOT UID 2"):
        r.cmd(0, q)
    r.cmd(0, ["SEARCH SUBJECT ", (b"charlie", True)], label="search literal")
    r.cmd(0, "SEARCH MODSEQ 1", label="search modseq")
    r.cmd(0, ["SEARCH CHARSET UTF-8 SUBJECT ", (b"echo", False)], label="search literal+")
    r.cmd(0, ["SEARCH SUBJECT ", (b"", True)], label="search empty literal")
    # APPEND (RFC 9051 §6.3.12) with UIDPLUS's APPENDUID.
    msg = MSG[0]
    r.cmd(1, "SELECT se", compare=False, ok=True)
    r.cmd(0, ["APPEND se (\\Seen $Kw) ", (msg, True)], label="append flags")
    r.cmd(0, ["APPEND se () \"01-Jan-2024 10:00:00 +0000\" ", (msg, True)], label="append date")
    r.cmd(0, ["APPEND se \" 1-Jan-2024 10:00:00 -0530\" ", (msg, True)], label="append date space")
    r.cmd(0, ["APPEND se \"1-Jan-2024 10:00:00 +0000\" ", (msg, True)], label="append date no pad")
    r.cmd(0, ["APPEND se2 \"2024-01-01 10:00:00 +0000\" ", (msg, True)], label="append date iso")
    r.cmd(0, ["APPEND se2 \"01-Jan-2024 25:00:00 +0000\" ", (msg, True)], label="append date hour")
    r.cmd(0, ["APPEND se2 \"01-Jan-2024 10:00:00 0000\" ", (msg, True)], label="append date zone")
    r.cmd(0, ["APPEND se2 \"31-Feb-2024 10:00:00 +0000\" ", (msg, True)], label="append date feb 31")
    r.cmd(0, ["APPEND se () \"31-Dec-2016 23:59:60 +0000\" ", (msg, True)], label="append leap second")
    r.cmd(0, ["APPEND se \"30-Jun-2015 19:59:60 -0400\" ", (msg, False)], label="append leap second zone")
    r.cmd(0, ["APPEND se2 \"01-Jan-2024 10:00:61 +0000\" ", (msg, True)], label="append date second 61")
    r.cmd(0, ["APPEND se \"01-Jan-2024 10:00:60 +0000\" ", (msg, True)], label="append date second 60")
    r.cmd(0, ["APPEND se (\\Recent) ", (msg, True)], label="append recent flag")
    r.cmd(0, ["APPEND se (\\Foo) ", (msg, True)], label="append unknown flag")
    r.cmd(0, ["APPEND se ", (b"", True)], label="append empty")
    r.cmd(0, ["APPEND se ", (msg, False)], label="append literal+")
    r.cmd(0, ["APPEND nosuch ", (msg, True)], label="append missing")
    r.cmd(0, ["APPEND nosuch ", (msg, False)], label="append missing literal+")
    r.cmd(0, "APPEND se", label="append no message")
    r.cmd(0, 'APPEND se "quoted message"', label="append quoted")
    r.cmd(0, ["APPEND se (\\Seen) ", (msg, True), " extra"], label="append extra")
    r.cmd(1, "NOOP", label="other session sees appends")
    r.cmd(1, "FETCH 6:* (FLAGS INTERNALDATE RFC822.SIZE)", label="appended")
    check(r, KNOWN_SEARCH)


# ---- IDLE, NOOP, ENABLE, NAMESPACE, ID, state, syntax, LOGOUT ---------

NOARGS = ("RFC 9051 §9: 'command-any = \"CAPABILITY\" / \"LOGOUT\" / \"NOOP\" / x-command / id', "
          "'command-select = \"CHECK\" / \"CLOSE\" / \"UNSELECT\" / ...' and 'namespace = "
          "\"NAMESPACE\"' take no arguments: anything after is BAD (§7.1.3); Dovecot ignores it")
NO_UTF8_S = "RFC 6855 (UTF8=ACCEPT), which tern offers; Dovecot 2.3 has none"
KNOWN_SESSION = {
    "noop argument": (['T BAD'], NOARGS),
    "check argument": (['T BAD'], NOARGS),
    "unselect argument": (['T BAD'], NOARGS),
    "namespace argument": (['T BAD'], NOARGS),
    "namespace": (
        ['* NAMESPACE (("" "/")) (("Shared/" "/")) NIL', 'T OK'],
        "RFC 2342 §5: the other users' namespace is listed when the server has one; tern shares "
        "mailboxes under Shared/OWNER/ (RFC 4314), the Dovecot peer here has no shared namespace "
        "configured"),
    "capability argument": (['T BAD'], NOARGS),
    "logout argument": (['T BAD'], NOARGS),
    "idle argument": (['i3 BAD'], "RFC 9051 §9: 'idle = \"IDLE\" CRLF \"DONE\"'; Dovecot starts IDLE"),
    "enable condstore twice": (
        ['* ENABLED', 'T OK'],
        "RFC 5161 §3.1: the ENABLED response lists 'the capabilities that were enabled' by this "
        "command (paraphrased), and CONDSTORE already was; Dovecot lists it again"),
    "enable when selected": (['* ENABLED', 'T OK'], "as 'enable condstore twice'"),
    "enable unknown": (
        ['* ENABLED', 'T OK'],
        "RFC 5161 §3.2: 'enable-data = \"ENABLED\" *(SP capability)': an empty ENABLED is valid, "
        "and so is none (Dovecot)"),
    "enable nothing": (['T BAD'], "RFC 5161 §4: 'enable = \"ENABLE\" 1*(SP capability)'; Dovecot says OK"),
    "enable utf8 and unknown": (['* ENABLED UTF8=ACCEPT', 'T OK'], NO_UTF8_S),
    "id odd list": (
        ['T BAD'],
        "RFC 2971 §4: 'id_params_list ::= \"(\" #(string SPACE nstring) \")\" / nil': a field "
        "without a value is a syntax error; Dovecot answers it"),
    "id no argument": (['T BAD'], "RFC 2971 §4: 'id ::= \"ID\" SPACE id_params_list'; Dovecot answers it"),
    "tag with bracket": (
        ['T OK', 'T OK'],
        "RFC 9051 §9: 'tag = 1*<any ASTRING-CHAR except \"+\">' and ASTRING-CHAR includes "
        "resp-specials (']'); Dovecot refuses it"),
    "empty line": (
        ['T OK'],
        "an empty line is no command; tern ignores it, Dovecot answers '* BAD'. RFC 9051 §7.1.3 "
        "gives the untagged BAD for an error whose command cannot be told (left as it is)"),
    "two spaces after tag": (
        ['T OK', 'T OK'],
        "RFC 9051 §9: 'command = tag SP (...)' has one SP, so Dovecot's BAD is what the grammar "
        "says; tern's parser skips the second space (left as it is: a leniency no client is "
        "harmed by)"),
    "over-long line": (
        ['x1 BAD [TOOBIG]', 'x2 OK'],
        "RFC 9051 §7.1: 'TOOBIG ... the server refuses to process the command because ... too "
        "large' (paraphrased) and §4 lets a server limit a line (RFC 7162 §4 suggests 8192 "
        "octets at least); tern's limit is 64 KiB, the session goes on"),
    "not authenticated: ENABLE CONDSTORE": (
        ['T BAD'],
        "RFC 5161 §3.1: ENABLE is valid only in the authenticated state (paraphrased); Dovecot's "
        "login process answers it"),
}


def test_imap_session_matches_dovecot():
    if not available():
        return "skip"
    r = CoreRun(sides(), "session")
    r.cmd(0, "CREATE ss", compare=False, ok=True)
    r.fill("ss", MSG[:2])
    r.cmd(0, "NOOP", label="noop")
    r.cmd(0, "CHECK", label="check not selected")
    r.cmd(0, "NOOP x", label="noop argument")
    # Commands of the selected state, in the authenticated state.
    for q in ("FETCH 1 (UID)", "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL", "UID SEARCH ALL",
              "EXPUNGE", "UID EXPUNGE 1", "COPY 1 ss", "MOVE 1 ss", "UID FETCH 1 (UID)",
              "SORT (DATE) UTF-8 ALL", "THREAD REFERENCES UTF-8 ALL"):
        r.cmd(0, q, label="authenticated: " + q)
    r.cmd(0, "SELECT ss", compare=False, ok=True)
    r.cmd(0, "CHECK", label="check")
    r.cmd(0, "CHECK x", label="check argument")
    r.cmd(0, "UNSELECT x", label="unselect argument")
    r.cmd(0, "CLOSE x", label="close argument")
    r.raw(0, "i1 IDLE\r\n", until=r"\+", label="idle")
    r.raw(0, "DONE\r\n", until=r"i1 ", label="done")
    r.raw(0, "i2 IDLE\r\n", until=r"\+", label="idle again")
    r.raw(0, "NOOP\r\n", until=r"i2 ", label="idle ended by other than done")
    out = []
    for side in r.sides:  # one server might take it as IDLE
        c = side.conns[0]
        c.send("i3 IDLE x\r\n")
        got = [raw_response(c)]
        if got[0][0].startswith(b"+"):
            c.send("DONE\r\n")
            got += cmd_rest(c, "i3")
        out.append([t.decode()[:6] for t, _ in got])
    r.steps.append(("idle argument", out[0], out[1]))
    r.cmd(0, "DONE", label="done outside idle")
    # ENABLE (RFC 5161).
    r.cmd(1, "ENABLE CONDSTORE", label="enable condstore")
    r.cmd(1, "ENABLE CONDSTORE", label="enable condstore twice")
    r.cmd(1, "ENABLE QRESYNC", label="enable qresync")
    r.cmd(1, "ENABLE XFOO", label="enable unknown")
    r.cmd(1, "ENABLE", label="enable nothing")
    r.cmd(1, "ENABLE UTF8=ACCEPT XFOO", label="enable utf8 and unknown")
    r.cmd(1, "SELECT ss", compare=False, ok=True)
    r.cmd(1, "ENABLE CONDSTORE", label="enable when selected")
    r.cmd(1, "NAMESPACE", label="namespace")
    r.cmd(1, "NAMESPACE x", label="namespace argument")
    r.cmd(1, "ID NIL", label="id nil")
    r.cmd(1, 'ID ("name" "imaptest")', label="id list")
    r.cmd(1, 'ID ("name")', label="id odd list")
    r.cmd(1, "ID", label="id no argument")
    # Unknown commands, tags, arguments.
    r.cmd(1, "XNOSUCH", label="unknown command")
    r.cmd(1, "XNOSUCH a b c", label="unknown command arguments")
    r.cmd(1, "LOGIN bob x", label="login when authenticated")
    r.cmd(1, "CAPABILITY x", label="capability argument")
    r.cmd(1, "FETCH 1", label="fetch no items")
    r.cmd(1, "FETCH 1 (XFOO)", label="fetch unknown item")
    r.cmd(1, "RENAME", label="rename no arguments")
    r.cmd(1, "LIST", label="list no arguments")
    r.cmd(1, 'LIST ""', label="list one argument")
    sel(r, 1, "SELECT ss  ", label="trailing spaces")
    r.cmd(1, "noop", label="lower case command")
    for data, label in ((b"a+b NOOP\r\n", "tag with plus"), (b"a{b NOOP\r\n", "tag with brace"),
                        (b"a%b NOOP\r\n", "tag with percent"), (b"a*b NOOP\r\n", "tag with star"),
                        (b"a]b NOOP\r\n", "tag with bracket"), (b"a(b NOOP\r\n", "tag with paren"),
                        (b"NOOP\r\n", "tag alone"), (b"\r\n", "empty line"),
                        (b"ab  NOOP\r\n", "two spaces after tag")):
        r.raw(1, data.decode() + "q NOOP\r\n", until=r"q ", label=label)
    # Over-long lines: either answered or the connection closed.
    long_line = "x1 NOOP " + "a" * 200000 + "\r\n"
    for side in r.sides:
        side.conn(2)
    out = []
    for side in r.sides:
        c = side.conns[2]
        c.send(long_line + "x2 NOOP\r\n")
        got = lines_until(c, "x2")
        out.append([re.sub(r"^(\S+ (?:OK|NO|BAD|BYE)( \[[^\]]*\])?).*", r"\1", t.decode("utf-8", "replace"))
                    for t, _ in got])
    r.steps.append(("over-long line", out[0], out[1]))
    # Not authenticated.
    # A connection each: Dovecot's login process closes one after a few
    # errors.
    for q in ("SELECT ss", "LIST \"\" *", "STATUS ss (MESSAGES)", "FETCH 1 (UID)", "ENABLE CONDSTORE",
              "NAMESPACE", "IDLE", "CREATE x", "NOOP", "ID NIL", "XNOSUCH"):
        unauth(r, 8)
        r.cmd(8, q, label="not authenticated: " + q)
    r.cmd(5, "LOGOUT x", label="logout argument")
    # LOGOUT: BYE before the tagged OK, then the connection closes.
    out = []
    for side in r.sides:
        c = side.conns[1]
        c.send("lo LOGOUT\r\n")
        out.append([re.sub(r"^(\S+ (?:OK|NO|BAD|BYE)).*", r"\1", t.decode()) for t, _ in lines_until(c)])
    r.steps.append(("logout", out[0], out[1]))
    check(r, KNOWN_SESSION)


KNOWN_DISABLED = {}


def test_imap_disabled_account_matches_dovecot():
    # An account that may not sign in, given its right password, is told
    # so: NO [CONTACTADMIN] (RFC 5530 §3: "the user should contact their
    # system administrator or support desk"), as Dovecot says for a
    # nologin user, to LOGIN and to AUTHENTICATE alike; tern said
    # [AUTHENTICATIONFAILED], so the user retyped a right password. A
    # wrong password is AUTHENTICATIONFAILED, disabled or not: the code
    # tells nothing to who does not know the password.
    if not available():
        return "skip"
    r = CoreRun(sides(), "disabled")
    plain = base64.b64encode(("\0%s\0%s" % (DAN, DAN_PW)).encode()).decode()
    wrong = base64.b64encode(("\0%s\0%s" % (DAN, "wrong")).encode()).decode()
    for q, label in (("LOGIN %s %s" % (DAN, DAN_PW), "login disabled"),
                     ("AUTHENTICATE PLAIN " + plain, "authenticate disabled"),
                     ("LOGIN %s wrong" % DAN, "login disabled wrong password"),
                     ("AUTHENTICATE PLAIN " + wrong, "authenticate disabled wrong password")):
        unauth(r, 8)
        r.cmd(8, q, label=label)
    check(r, KNOWN_DISABLED)
