"""IMAP compliance failures of issue 32, one test each, written from the
failure's description and the RFC sentence it breaks (each failed on the
code before its fix). Messages are APPENDed with imaplib; answers are read
raw where the exact octets matter."""
import re

from test_imap import BOB, Raw, append_uid, login, raw_response, srv

CRLF = "\r\n"


def crlf(text):
    return text.replace("\n", CRLF)


def cmd(r, tag, text):
    """Sends one command; returns [(response text, literals)] up to and
    including the tagged one."""
    r.send("%s %s\r\n" % (tag, text))
    out = []
    while True:
        text, lits = raw_response(r)
        out.append((text, lits))
        if text.startswith(tag.encode() + b" "):
            return out


def tagged_ok(out):
    assert b" OK" in out[-1][0][:12], out[-1]
    return out


def append_uid_raw(r, text):
    data = text.encode()
    r.send("p APPEND INBOX {%d}\r\n" % len(data))
    assert r.line().startswith(b"+")
    r.send(data + b"\r\n")
    out = tagged_ok(cmd_rest(r, "p"))
    return int(re.search(rb"APPENDUID \d+ (\d+)", out[-1][0]).group(1))


def cmd_rest(r, tag):
    out = []
    while True:
        text, lits = raw_response(r)
        out.append((text, lits))
        if text.startswith(tag.encode() + b" "):
            return out


def fetch_one(r, tag, what):
    """FETCH of one UID: (response text, literals)."""
    out = tagged_ok(cmd(r, tag, what))
    hits = [o for o in out if b" FETCH " in o[0]]
    assert len(hits) == 1, out
    return hits[0]


def two_sessions(s, subject):
    """APPENDs two small messages ("<subject>0", "<subject>1") and returns
    two raw sessions logged in, nothing selected."""
    m = login(s)
    for i in range(2):
        append_uid(m, ("Subject: %s%d\r\n\r\nx\r\n" % (subject, i)).encode())
    m.logout()
    a, b = Raw(s), Raw(s)
    a.login()
    b.login()
    return a, b


STRAY_FROM = crlf("""From: Alice <alice@remote.test>
To: bob@example.test
From alice@remote.test Mon Jan  1 00:00:00 2024
Subject: stray mbox line kept
Date: Mon, 1 Jan 2024 00:00:00 +0000

Body after the stray line.
""")


def test_imap_header_keeps_lines_without_colon():
    """Failure 2: RFC 5322 §2.1 ends the header section at the first empty
    line only; a line without a colon stays in the header."""
    with srv() as s:
        m = login(s)
        uid = append_uid(m, STRAY_FROM.encode())
        m.select("INBOX")
        typ, data = m.uid("SEARCH", "SUBJECT", "stray")
        assert data[0].split() == [str(uid).encode()], data
        m.logout()
        r = Raw(s)
        r.login()
        tagged_ok(cmd(r, "s", "SELECT INBOX"))
        text, lits = fetch_one(r, "f", "UID FETCH %d (ENVELOPE BODY[TEXT] BODY[HEADER] "
                                         "BODY[HEADER.FIELDS (SUBJECT)])" % uid)
        assert b'"stray mbox line kept"' in text, text
        assert b'(("Alice" NIL "alice" "remote.test"))' in text, text
        body_at = STRAY_FROM.index("\r\n\r\n") + 4
        assert lits[0] == STRAY_FROM[body_at:].encode(), lits
        assert lits[1] == STRAY_FROM[:body_at].encode(), lits
        assert lits[2] == b"Subject: stray mbox line kept\r\n\r\n", lits
        # RFC 3501 §6.4.5: "the blank line is included in all header
        # fetches, except in the case of a message which has no body and
        # no blank line" (HEADER.FIELDS added one regardless); a header
        # that starts with a folded line keeps it under .NOT, as Dovecot.
        for text in (b"From: a@example.test\r\nSubject: no body\r\n", b" folded\r\nSubject: s\r\n\r\n"):
            r.send(b"a APPEND INBOX {%d+}\r\n%s\r\n" % (len(text), text))
            u = int(re.search(rb"APPENDUID \d+ (\d+)", cmd_rest(r, "a")[-1][0]).group(1))
            _, lits = fetch_one(r, "h", "UID FETCH %d (BODY[HEADER] BODY[HEADER.FIELDS (Subject)] "
                                        "BODY[HEADER.FIELDS.NOT (X-None)])" % u)
            if text.startswith(b"From"):
                assert lits == [text, b"Subject: no body\r\n", text], lits
            else:
                assert lits == [text, b"Subject: s\r\n\r\n", text], lits
        r.close()


COMMENTED_FROM = crlf("""From: <user-from (comment)@ (comment) domain.org>
To: "To Name" <user-to@ domain.org (x)>
Subject: addresses with comments inside
Date: Mon, 1 Jan 2024 00:00:00 +0000

Body.
""")


def test_imap_search_address_as_envelope_parses_it():
    """Failure 8: SEARCH FROM/TO match the address as the ENVELOPE parses
    it, so comments inside an addr-spec (RFC 5322 §3.2.2 CFWS) do not hide
    it."""
    with srv() as s:
        m = login(s)
        other = append_uid(m, STRAY_FROM.encode())
        uid = append_uid(m, COMMENTED_FROM.encode())
        m.select("INBOX")
        for key, arg in (("FROM", "user-from@domain.org"), ("TO", "user-to@domain.org"),
                         ("TO", '"To Name <user-to@domain"'), ("FROM", "comment"),
                         ("HEADER", 'From "user-from@domain.org"')):
            typ, data = m.uid("SEARCH", key, arg)
            assert typ == "OK" and data[0].split() == [str(uid).encode()], (key, arg, data)
        typ, data = m.uid("SEARCH", "FROM", "alice@remote.test")
        assert data[0].split() == [str(other).encode()], data
        typ, data = m.uid("SEARCH", "FROM", "user-from@domain.orgx")
        assert data[0].split() == [], data
        m.logout()


NO_PARTS = crlf("""From: a@example.test
Subject: a multipart without boundary lines
Content-Type: multipart/mixed; boundary="nob"

no boundary here
""")
HEADER_ONLY_PART = crlf("""From: a@example.test
Subject: a part with a header and no body
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain; charset=us-ascii
--b
Content-Type: text/plain

x
--b--
""")
BARE_PARAMS = crlf("""From: a@example.test
Subject: unquoted parameter values
Content-Type: text/plain; charset=us-ascii format=flowed; name=a b.txt

x
""")


def test_imap_empty_parts_and_parameter_tokens():
    """Failure 3: BODY[1] of the empty part BODYSTRUCTURE lists for a
    multipart without parts is "" (RFC 9051 §6.4.5: every part listed has
    a section); a header-only part's MIME header is its header as written;
    an unquoted parameter value is a token (RFC 2045 §5.1), ending at
    white space. Answers as Dovecot gives them."""
    with srv() as s:
        m = login(s)
        uids = [append_uid(m, x.encode()) for x in (NO_PARTS, HEADER_ONLY_PART, BARE_PARAMS)]
        m.logout()
        r = Raw(s)
        r.login()
        tagged_ok(cmd(r, "s", "SELECT INBOX"))
        text, lits = fetch_one(r, "a", "UID FETCH %d (BODY.PEEK[1] BODY.PEEK[1.MIME])" % uids[0])
        assert b"BODY[1] {} BODY[1.MIME] {}" in text and lits == [b"", b""], (text, lits)
        text, lits = fetch_one(r, "b", "UID FETCH %d (BODY.PEEK[1] BODY.PEEK[1.MIME] "
                                       "BODY.PEEK[2.MIME])" % uids[1])
        assert lits == [b"", b"Content-Type: text/plain; charset=us-ascii",
                        b"Content-Type: text/plain\r\n\r\n"], lits
        # The line end before a boundary is the boundary's (RFC 2046
        # §5.1.1): the empty line right before it is not the header's.
        uid = append_uid_raw(r, crlf("""Subject: header-only last part
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain; name=empty.txt

--b--
"""))
        text, lits = fetch_one(r, "d", "UID FETCH %d (BODY.PEEK[1.MIME] BODYSTRUCTURE)" % uid)
        assert lits == [b"Content-Type: text/plain; name=empty.txt\r\n"], lits
        assert b'("name" "empty.txt" "charset" "us-ascii")' in text, text
        text, lits = fetch_one(r, "c", "UID FETCH %d (BODYSTRUCTURE)" % uids[2])
        assert b'("text" "plain" ("charset" "us-ascii" "name" "a") NIL NIL "7bit" 3 1 ' in text, text
        r.close()


def test_imap_condstore_enabling_and_search_min_max_modseq():
    """Failure 6: the first CONDSTORE-enabling command after a plain
    SELECT gets OK [HIGHESTMODSEQ] (RFC 7162 §3.1); ESEARCH MIN/MAX with
    a MODSEQ key gives the modseq of the messages returned (§3.1.5)."""
    with srv() as s:
        m = login(s)
        for i in range(3):
            append_uid(m, ("Subject: m%d\r\n\r\nx\r\n" % i).encode())
        m.logout()
        r = Raw(s)
        r.login()
        tagged_ok(cmd(r, "s", "SELECT INBOX"))
        out = tagged_ok(cmd(r, "f", "FETCH 1 (FLAGS) (CHANGEDSINCE 1)"))
        hm = [o[0] for o in out if o[0].startswith(b"* OK [HIGHESTMODSEQ ")]
        assert len(hm) == 1, out
        # Message 1 changes last: its modseq is the highest.
        tagged_ok(cmd(r, "t", "STORE 1 +FLAGS (\\Flagged)"))
        out = tagged_ok(cmd(r, "m", "FETCH 1:3 (MODSEQ)"))
        mod = {int(re.search(rb"\* (\d+) FETCH", o[0]).group(1)):
               int(re.search(rb"MODSEQ \((\d+)\)", o[0]).group(1)) for o in out if b"FETCH" in o[0]}
        assert mod[1] > mod[3] and mod[1] > mod[2], mod
        for ret, want in (("MAX", mod[3]), ("MIN", mod[1]), ("MIN MAX", max(mod[1], mod[3])),
                          ("COUNT", max(mod.values()))):
            out = tagged_ok(cmd(r, "e", "SEARCH RETURN (%s) MODSEQ 1" % ret))
            line = [o[0] for o in out if o[0].startswith(b"* ESEARCH")][0]
            assert line.endswith(b" MODSEQ %d" % want), (ret, line, mod)
        # A second enabling command says nothing more.
        out = tagged_ok(cmd(r, "g", "FETCH 1 (FLAGS) (CHANGEDSINCE 1)"))
        assert not [o for o in out if b"HIGHESTMODSEQ" in o[0]], out
        r.close()


def test_imap_keywords_keep_case_and_are_announced():
    """Failure 1: a keyword keeps the case it was first given and is
    compared in any case; a new keyword is announced with FLAGS and
    PERMANENTFLAGS (RFC 9051 §7.3.5) in the session that set it, in
    another selected session, and on the next SELECT."""
    with srv() as s:
        r, o = two_sessions(s, "k")
        tagged_ok(cmd(r, "s", "SELECT INBOX"))
        out = tagged_ok(cmd(o, "s", "SELECT INBOX"))
        assert b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)" in [x[0] for x in out]
        out = tagged_ok(cmd(r, "a", "STORE 1 +FLAGS ($Forwarded $MailFlagBit0)"))
        lines = [x[0] for x in out]
        flags = b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded $MailFlagBit0)"
        assert lines[0] == flags, lines
        assert lines[1].startswith(b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
                                   b"\\Draft $Forwarded $MailFlagBit0 \\*)]"), lines
        assert b"$Forwarded $MailFlagBit0)" in lines[2], lines
        # Another case of the same keyword changes nothing; search in any case.
        out = tagged_ok(cmd(r, "b", "STORE 1:2 +FLAGS ($forwarded)"))
        lines = [x[0] for x in out]
        assert not [x for x in lines if x.startswith(b"* FLAGS")], lines
        assert any(b"* 2 FETCH (FLAGS (\\Recent $Forwarded))" in x for x in lines), lines
        out = tagged_ok(cmd(r, "c", "SEARCH KEYWORD $FORWARDED"))
        assert out[0][0] == b"* SEARCH 1 2", out
        out = tagged_ok(cmd(r, "d", "FETCH 1 (FLAGS)"))
        assert b"$Forwarded $MailFlagBit0)" in out[0][0], out
        # The other session hears of it at its next command.
        out = tagged_ok(cmd(o, "n", "NOOP"))
        lines = [x[0] for x in out]
        assert flags in lines, lines
        assert lines.index(flags) < min(i for i, x in enumerate(lines) if b"FETCH" in x), lines
        # Removing in another case removes it.
        tagged_ok(cmd(r, "e", "STORE 1 -FLAGS ($mailflagbit0)"))
        out = tagged_ok(cmd(r, "f", "FETCH 1 (FLAGS)"))
        assert b" $Forwarded)" in out[0][0] and b"Bit0" not in out[0][0], out
        # A new SELECT lists what is in use, in the case first given.
        out = tagged_ok(cmd(r, "g", "SELECT INBOX"))
        lines = [x[0] for x in out]
        assert b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)" in lines, lines
        r.close()
        o.close()


def test_imap_lsub_noselect_parent_and_recursivematch_childinfo():
    """Failure 7 (LIST/LSUB half): LSUB "" parent/% shows the unsubscribed
    parent/a of a subscribed parent/a/x with \\Noselect (RFC 3501
    §6.3.9); LIST (SUBSCRIBED RECURSIVEMATCH) lists an unsubscribed
    mailbox only with CHILDINFO ("SUBSCRIBED"), and only when the pattern
    misses its subscribed descendant (RFC 5258 §3.5)."""
    with srv() as s:
        r = Raw(s)
        r.login()
        tagged_ok(cmd(r, "c", "CREATE parent/a/x"))
        tagged_ok(cmd(r, "u", "SUBSCRIBE parent/a/x"))
        out = tagged_ok(cmd(r, "l", 'LSUB "" parent/%'))
        assert [o[0] for o in out[:-1]] == [b'* LSUB (\\Noselect) "/" parent/a'], out
        out = tagged_ok(cmd(r, "m", 'LSUB "" parent/*'))
        assert [o[0] for o in out[:-1]] == [b'* LSUB () "/" parent/a/x'], out
        out = tagged_ok(cmd(r, "n", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "parent*"'))
        # The parents add nothing here: the pattern reaches parent/a/x
        # (RFC 5258 §3.5: redundant non-matching names are suppressed).
        lines = sorted(o[0] for o in out[:-1])
        assert lines == [b'* LIST (\\HasNoChildren \\Subscribed) "/" parent/a/x'], lines
        out = tagged_ok(cmd(r, "o", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"'))
        assert b'* LIST (\\HasChildren) "/" parent ("CHILDINFO" ("SUBSCRIBED"))' in \
            [o[0] for o in out], out
        r.close()



def listed(out):
    return sorted(o[0] for o in out[:-1])


def test_imap_subscriptions_outlive_their_mailboxes():
    """Failure 7 (subscription half): a subscription is a name, not a flag
    of a mailbox. RFC 9051 §6.3.7: the server "MUST NOT unilaterally
    remove an existing mailbox name from the subscription list even if a
    mailbox by that name no longer exists", so DELETE keeps it and
    LIST (SUBSCRIBED) shows it \\NonExistent (RFC 5258), LSUB
    \\Noselect; SUBSCRIBE takes a name that does not exist (as Dovecot
    does); RENAME moves no subscription; UNSUBSCRIBE of a vanished name
    works; a mailbox created again under a subscribed name is subscribed."""
    with srv() as s:
        r = Raw(s)
        r.login()
        tagged_ok(cmd(r, "a", "CREATE gone"))
        tagged_ok(cmd(r, "b", "SUBSCRIBE gone"))
        tagged_ok(cmd(r, "c", "DELETE gone"))
        out = tagged_ok(cmd(r, "d", 'LIST (SUBSCRIBED) "" gone'))
        assert listed(out) == [b'* LIST (\\NonExistent \\Subscribed) "/" gone'], out
        out = tagged_ok(cmd(r, "e", 'LSUB "" gone'))
        assert listed(out) == [b'* LSUB (\\Noselect) "/" gone'], out
        # A plain LIST lists mailboxes only.
        out = tagged_ok(cmd(r, "f", 'LIST "" gone'))
        assert listed(out) == [], out
        # Created again: subscribed, as the name was.
        tagged_ok(cmd(r, "g", "CREATE gone"))
        out = tagged_ok(cmd(r, "h", 'LIST (SUBSCRIBED) "" gone'))
        assert listed(out) == [b'* LIST (\\HasNoChildren \\Subscribed) "/" gone'], out
        # A name that never existed.
        tagged_ok(cmd(r, "i", "SUBSCRIBE never/there"))
        out = tagged_ok(cmd(r, "j", 'LIST (SUBSCRIBED) "" never*'))
        assert listed(out) == [b'* LIST (\\NonExistent \\Subscribed) "/" never/there'], out
        out = tagged_ok(cmd(r, "k", 'LIST "" never*'))
        assert listed(out) == [], out
        # RENAME leaves the subscription on the old name.
        tagged_ok(cmd(r, "l", "CREATE old"))
        tagged_ok(cmd(r, "m", "SUBSCRIBE old"))
        tagged_ok(cmd(r, "n", "RENAME old new"))
        out = tagged_ok(cmd(r, "o", 'LIST (SUBSCRIBED) "" "*"'))
        lines = listed(out)
        assert b'* LIST (\\NonExistent \\Subscribed) "/" old' in lines, lines
        assert not [x for x in lines if x.endswith(b'"/" new')], lines
        out = tagged_ok(cmd(r, "p", 'LIST "" new RETURN (SUBSCRIBED)'))
        assert listed(out) == [b'* LIST (\\HasNoChildren) "/" new'], out
        # UNSUBSCRIBE of names with no mailbox.
        tagged_ok(cmd(r, "q", "UNSUBSCRIBE old"))
        tagged_ok(cmd(r, "r", "UNSUBSCRIBE never/there"))
        out = tagged_ok(cmd(r, "s", 'LSUB "" "*"'))
        lines = listed(out)
        assert not [x for x in lines if x.endswith(b" old") or b"never" in x], lines
        assert b'* LSUB () "/" gone' in lines, lines
        r.close()


def recent_of(out):
    got = [int(o[0].split()[1]) for o in out if o[0].endswith(b" RECENT")]
    assert len(got) == 1, out
    return got[0]


def test_imap_recent_for_imap4rev1_sessions():
    """Failure 5: \\Recent (RFC 3501 §2.3.2): the first session to SELECT
    the mailbox after a message arrived sees it \\Recent (SELECT's RECENT,
    FETCH FLAGS, SEARCH RECENT/NEW/OLD), later ones do not; EXAMINE and
    STATUS only look; IMAP4rev2 sessions neither show nor take it."""
    with srv() as s:
        a, b = two_sessions(s, "r")
        out = tagged_ok(cmd(b, "s", "STATUS INBOX (RECENT MESSAGES)"))
        assert b"(RECENT 2 MESSAGES 2)" in out[0][0], out
        tagged_ok(cmd(b, "e", "ENABLE IMAP4rev2"))
        out = tagged_ok(cmd(b, "x", "SELECT INBOX"))
        assert not [o for o in out if o[0].endswith(b" RECENT")], out
        out = tagged_ok(cmd(b, "f", "FETCH 1 (FLAGS)"))
        assert b"\\Recent" not in out[0][0], out
        assert recent_of(tagged_ok(cmd(a, "x", "EXAMINE INBOX"))) == 2
        assert recent_of(tagged_ok(cmd(a, "s", "SELECT INBOX"))) == 2
        out = tagged_ok(cmd(a, "f", "FETCH 1:2 (FLAGS)"))
        assert all(b"\\Recent" in o[0] for o in out[:-1]), out
        tagged_ok(cmd(a, "t", "STORE 1 +FLAGS.SILENT (\\Seen)"))
        for key, want in (("RECENT", b"* SEARCH 1 2"), ("NEW", b"* SEARCH 2"), ("OLD", b"* SEARCH")):
            out = tagged_ok(cmd(a, "q", "SEARCH " + key))
            assert out[0][0] == want, (key, out)
        # Claimed: nobody else sees them recent any more.
        out = tagged_ok(cmd(b, "s", "STATUS INBOX (RECENT)"))
        assert b"(RECENT 0)" in out[0][0], out
        c = Raw(s)
        c.login()
        assert recent_of(tagged_ok(cmd(c, "s", "SELECT INBOX"))) == 0
        out = tagged_ok(cmd(c, "f", "FETCH 1:2 (FLAGS)"))
        assert not any(b"\\Recent" in o[0] for o in out), out
        out = tagged_ok(cmd(c, "q", "SEARCH RECENT"))
        assert out[0][0] == b"* SEARCH", out
        check_recent_while_selected(s, a, c)
        for r in (a, b, c):
            r.close()


def check_recent_while_selected(s, a, c):
    """A message that arrives while IMAP4rev1 sessions have the mailbox
    selected is \\Recent in exactly one of them, the first told of it
    ("* n RECENT" after its EXISTS), and STATUS from a third says RECENT 0
    (RFC 3501 §2.3.2, as imaptest's append group checks): both the
    appender's own session and, for a message appended elsewhere, the
    first of the others to sync."""
    from test_imap_search_ext import cmd as cmd1
    d = Raw(s)
    d.login()

    def flags(r, seq):
        u, t = cmd1(r, "f", "FETCH %d (FLAGS)" % seq)
        return u[0]

    data = b"Subject: r2\r\n\r\nx\r\n"
    a.send(b"p APPEND INBOX {%d+}\r\n%s\r\n" % (len(data), data))
    out = a.until_tag("p")
    assert out[:2] == [b"* 3 EXISTS", b"* 3 RECENT"], out  # 1 and 2 since its SELECT
    u, t = cmd1(c, "n", "NOOP")
    assert u == [b"* 3 EXISTS"], u
    assert b"(RECENT 0)" in cmd1(d, "s", "STATUS INBOX (RECENT)")[0][0]
    assert b"\\Recent" in flags(a, 3) and b"\\Recent" not in flags(c, 3)
    data = b"Subject: r3\r\n\r\nx\r\n"
    d.send(b"p APPEND INBOX {%d+}\r\n%s\r\n" % (len(data), data))
    assert d.until_tag("p")[-1].startswith(b"p OK")
    u, t = cmd1(c, "n", "NOOP")
    assert u == [b"* 4 EXISTS", b"* 1 RECENT"], u
    u, t = cmd1(a, "n", "NOOP")
    assert u == [b"* 4 EXISTS"], u
    assert b"\\Recent" in flags(c, 4) and b"\\Recent" not in flags(a, 4)
    assert b"(RECENT 0)" in cmd1(d, "s", "STATUS INBOX (RECENT)")[0][0]
    d.close()


def test_imap_status_recent_of_the_examined_mailbox():
    """STATUS (RECENT) of the mailbox this session has EXAMINEd counts each
    \\Recent message once (RFC 3501 §2.3.2): EXAMINE shows them without
    claiming them, so they are the store's unclaimed ones and not also the
    session's own; after a SELECT claims them they are the session's, and
    another session's STATUS says 0."""
    from test_imap_search_ext import cmd as cmd1
    with srv() as s:
        a, b = Raw(s), Raw(s)
        a.login()
        b.login()
        assert cmd1(a, "c", "CREATE Rec")[1].startswith(b"c OK")
        for i in range(3):
            data = b"Subject: r%d\r\n\r\nx\r\n" % i
            a.send(b"p APPEND Rec {%d+}\r\n%s\r\n" % (len(data), data))
            assert a.until_tag("p")[-1].startswith(b"p OK")

        def recent(r):
            u, t = cmd1(r, "s", "STATUS Rec (RECENT)")
            assert t.startswith(b"s OK"), t
            return u

        u, t = cmd1(a, "e", "EXAMINE Rec")
        assert b"* 3 RECENT" in u, u
        assert recent(a) == [b"* STATUS Rec (RECENT 3)"]
        assert recent(b) == [b"* STATUS Rec (RECENT 3)"]
        u, t = cmd1(a, "e", "SELECT Rec")
        assert b"* 3 RECENT" in u, u
        assert recent(a) == [b"* STATUS Rec (RECENT 3)"]
        assert recent(b) == [b"* STATUS Rec (RECENT 0)"]
        a.close()
        b.close()


NUL_MSG = (b"From: a@example.test\r\nSubject: a binary part with NUL\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
           b"text\r\n--b\r\nContent-Type: application/octet-stream\r\n"
           b"Content-Transfer-Encoding: binary\r\n\r\nA\x00B\x00C\r\n--b--\r\n")


def test_imap_no_nul_outside_literal8():
    """Failure 4: a binary part with NUL, APPENDed as literal8 (RFC 3516),
    is never sent with NUL in a plain literal (RFC 3501 §4.3: CHAR8 has no
    NUL): BODY[2] and BODY[] carry 0x80 there, as Dovecot sends; BINARY[2]
    returns the real octets in a literal8."""
    with srv() as s:
        r = Raw(s)
        r.login()
        r.send(b"p APPEND INBOX ~{%d}\r\n" % len(NUL_MSG))
        assert r.line().startswith(b"+")
        r.send(NUL_MSG + b"\r\n")
        tagged_ok(cmd_rest(r, "p"))
        tagged_ok(cmd(r, "s", "SELECT INBOX"))
        text, lits = fetch_one(r, "f", "FETCH 1 (BODY.PEEK[2] BODY.PEEK[] BINARY.PEEK[2])")
        assert lits[0] == b"A\x80B\x80C", lits
        assert lits[1] == NUL_MSG.replace(b"\x00", b"\x80"), lits
        assert lits[2] == b"A\x00B\x00C", lits
        assert b"BINARY[2] ~{}" in text, text
        assert b"\x00" not in text
        r.close()


def test_imap_closed_whenever_select_closes_a_mailbox():
    """RFC 7162 §3.2.11: a server implementing QRESYNC "MUST return the
    CLOSED response code when the currently selected mailbox is closed
    implicitly using the SELECT/EXAMINE command on another mailbox",
    whether the client enabled it or not (an IMAP4rev1 session here, as
    Dovecot answers it). A SELECT that fails closes the mailbox too (RFC
    9051 §6.3.2), so it says CLOSED before its NO; the first SELECT has
    nothing to close."""
    with srv() as s:
        r = Raw(s)
        r.login()
        out = tagged_ok(cmd(r, "a", "SELECT INBOX"))
        assert not [o for o in out if b"[CLOSED]" in o[0]], out
        out = tagged_ok(cmd(r, "b", "EXAMINE INBOX"))
        assert out[0][0] == b"* OK [CLOSED] Previous mailbox closed.", out
        out = cmd(r, "c", "SELECT nosuch")
        assert [o[0] for o in out] == [b"* OK [CLOSED] Previous mailbox closed.",
                                       b"c NO [NONEXISTENT] Mailbox doesn't exist: nosuch"], out
        out = cmd(r, "d", "FETCH 1 (UID)")
        assert out[-1][0].startswith(b"d BAD"), out
        out = cmd(r, "e", "SELECT nosuch")
        assert [o[0][:4] for o in out] == [b"e NO"], out
        r.close()


QUOTED_LOCAL = crlf("""From: "Sales" <"salestoner@bol.com.br"@example.com>
To: "a\\\\b\\"c".d@example.com
Subject: quoted local parts

x
""")


def test_imap_changedsince_0_and_quoted_local_part():
    """Issue 32: FETCH (CHANGEDSINCE 0) is accepted as Dovecot accepts it
    (every modseq is above 0: all messages, with MODSEQ); ENVELOPE's
    mailbox name is a quoted local part's content (quotes dropped,
    quoted-pairs resolved, as Dovecot gives it), and SEARCH FROM finds
    the address with and without the quotes."""
    with srv() as s:
        m = login(s)
        other = append_uid(m, STRAY_FROM.encode())
        uid = append_uid(m, QUOTED_LOCAL.encode())
        for needle in ('"\\"salestoner@bol.com.br\\"@example.com"', "salestoner@bol.com.br",
                       "Sales"):
            m.select("INBOX")
            typ, data = m.uid("SEARCH", "FROM", needle)
            assert typ == "OK" and data[0].split() == [str(uid).encode()], (needle, data)
        m.logout()
        r = Raw(s)
        r.login()
        tagged_ok(cmd(r, "s", "SELECT INBOX"))
        out = tagged_ok(cmd(r, "f", "FETCH 1:* (FLAGS) (CHANGEDSINCE 0)"))
        hits = [o[0] for o in out if b" FETCH " in o[0]]
        assert len(hits) == 2 and all(b"MODSEQ (" in h for h in hits), out
        text, lits = fetch_one(r, "e", "UID FETCH %d (ENVELOPE)" % uid)
        env = text + b"".join(lits)
        assert b'(("Sales" NIL "salestoner@bol.com.br" "example.com"))' in env, env
        assert b'((NIL NIL "a\\\\b\\"c.d" "example.com"))' in env, env
        out = tagged_ok(cmd(r, "o", "UID SORT (FROM) UTF-8 ALL"))
        line = [o[0] for o in out if o[0].startswith(b"* SORT")][0]
        # by the content "salestoner..." sorts after "alice..."; with its
        # quote ("\"" < "a") it would sort first
        assert line.split()[2:] == [str(other).encode(), str(uid).encode()], line
        r.close()


def test_imap_enable_while_selected():
    """RFC 5161 §3.1 (and RFC 9051 §6.3.1): clients "MUST NOT issue ENABLE
    once they SELECT/EXAMINE a mailbox; however, server implementations
    don't have to check". Dovecot answers OK there, so tern does (it
    answered BAD): CONDSTORE then sends the mailbox's HIGHESTMODSEQ (RFC
    7162 §3.1), and after QRESYNC another session's expunge comes as
    VANISHED."""
    with srv() as s:
        a, b = two_sessions(s, "e")
        tagged_ok(cmd(a, "s", "SELECT INBOX"))
        out = tagged_ok(cmd(a, "e", "ENABLE CONDSTORE"))
        texts = [o[0] for o in out]
        assert any(t.startswith(b"* OK [HIGHESTMODSEQ ") for t in texts), out
        assert b"* ENABLED CONDSTORE" in texts, out
        out = tagged_ok(cmd(a, "q", "ENABLE QRESYNC"))
        assert b"* ENABLED QRESYNC" in [o[0] for o in out], out
        tagged_ok(cmd(b, "s", "SELECT INBOX"))
        tagged_ok(cmd(b, "d", "UID STORE 1 +FLAGS.SILENT (\\Deleted)"))
        tagged_ok(cmd(b, "x", "EXPUNGE"))
        out = tagged_ok(cmd(a, "n", "NOOP"))
        texts = [o[0] for o in out]
        assert b"* VANISHED 1" in texts and not any(t.endswith(b" EXPUNGE") for t in texts), out
        a.close()
        b.close()


def test_imap_append_bare_lf_made_crlf():
    """A message APPENDed in a plain literal with bare LF line ends is
    stored with CRLF, as Dovecot serves it (RFC 9051 §4.3: CR and LF only
    as CRLF in text): BODY[] comes back with CRLF, RFC822.SIZE is its
    length, and BODYSTRUCTURE's size and lines, BINARY.SIZE[1] and
    BODY[TEXT] agree. Before, BODY[] kept the LFs (44 octets) while
    BODYSTRUCTURE counted 21 for a 19-octet BODY[TEXT]. A bare CR stays;
    a literal8's octets are stored as sent."""
    msg = b"Subject: lf\nFrom: a@b.c\n\nline1\nline2\r\nline3\rx\n"
    want = b"Subject: lf\r\nFrom: a@b.c\r\n\r\nline1\r\nline2\r\nline3\rx\r\n"
    with srv() as s:
        r = Raw(s)
        r.login()
        r.send("p APPEND INBOX {%d}\r\n" % len(msg))
        assert r.line().startswith(b"+")
        r.send(msg + b"\r\n")
        tagged_ok(cmd_rest(r, "p"))
        binary = b"Subject: b\nContent-Transfer-Encoding: binary\n\nab\ncd\x01\n"
        r.send("q APPEND INBOX ~{%d+}\r\n" % len(binary))
        r.send(binary + b"\r\n")
        tagged_ok(cmd_rest(r, "q"))
        tagged_ok(cmd(r, "s", "SELECT INBOX"))
        text, lits = fetch_one(r, "f", "FETCH 1 (RFC822.SIZE BINARY.SIZE[1] BODY[] BODY[TEXT] "
                                        "BODYSTRUCTURE)")
        assert lits[0] == want, lits
        assert lits[1] == want[want.index(b"\r\n\r\n") + 4:], lits
        assert b"RFC822.SIZE %d " % len(want) in text, text
        assert b"BINARY.SIZE[1] %d " % len(lits[1]) in text, text
        assert b'"7bit" %d 3 ' % len(lits[1]) in text, text
        text, lits = fetch_one(r, "g", "FETCH 2 (RFC822.SIZE BINARY[1])")
        assert b"RFC822.SIZE %d " % len(binary) in text and lits == [b"ab\ncd\x01\n"], (text, lits)
        r.close()


def test_imap_recent_after_expunge():
    """RFC 3501 §7.3.2: RECENT is sent "if the size of the mailbox
    changes"; an expunge that removes \\Recent messages of an IMAP4rev1
    session says how many are left ("* 1 RECENT" after the EXPUNGE, as
    Dovecot sends it; tern sent none, so the client's count stayed 2),
    whether the session expunged them or another did (seen at NOOP). An
    expunge of messages that were not \\Recent leaves the count alone and
    sends none."""
    with srv() as s:
        a, b = two_sessions(s, "x")
        out = tagged_ok(cmd(a, "s", "SELECT INBOX"))
        assert recent_of(out) == 2, out
        tagged_ok(cmd(a, "d", "STORE 1 +FLAGS.SILENT (\\Deleted)"))
        out = tagged_ok(cmd(a, "x", "EXPUNGE"))
        texts = [o[0] for o in out]
        assert texts[0] == b"* 1 EXPUNGE" and b"* 1 RECENT" in texts, out
        # b (selected later: nothing recent to it) expunges a's last one
        out = tagged_ok(cmd(b, "s", "SELECT INBOX"))
        assert recent_of(out) == 0, out
        tagged_ok(cmd(b, "d", "STORE 1 +FLAGS.SILENT (\\Deleted)"))
        out = tagged_ok(cmd(b, "x", "EXPUNGE"))
        assert not [o for o in out if o[0].endswith(b" RECENT")], out
        out = tagged_ok(cmd(a, "n", "NOOP"))
        texts = [o[0] for o in out]
        assert b"* 1 EXPUNGE" in texts and b"* 0 RECENT" in texts, out
        a.close()
        b.close()


def test_imap_uid_command_sees_other_sessions_changes():
    """A UID command answers from the mailbox as it is, not as it was at
    the last NOOP: another session's flag change shows in UID FETCH's
    FLAGS, and its expunge is told first (RFC 9051 §7.5.1 allows EXPUNGE
    during a UID command; during FETCH, STORE and SEARCH it does not, so
    those keep the numbers as they were, telling the flag change only).
    Before, UID FETCH 1:* FLAGS answered the flags of the last NOOP and
    the gone message with them."""
    with srv() as s:
        a, b = two_sessions(s, "sync")
        tagged_ok(cmd(a, "a", "SELECT INBOX"))
        tagged_ok(cmd(b, "a", "SELECT INBOX"))
        tagged_ok(cmd(b, "b", "UID STORE 1 +FLAGS (\\Flagged)"))
        tagged_ok(cmd(b, "c", "UID STORE 2 +FLAGS (\\Deleted)"))
        tagged_ok(cmd(b, "d", "EXPUNGE"))
        # FETCH: no EXPUNGE, both numbers still there, but the flag
        # change is told (as Dovecot does).
        out = tagged_ok(cmd(a, "b", "FETCH 1:* (UID)"))
        assert not [o for o in out if b"EXPUNGE" in o[0]], out
        assert b"* 2 FETCH (UID 2)" in [o[0] for o in out], out
        assert [o[0] for o in out if o[0].startswith(b"* 1 FETCH (FLAGS")] == [
            b"* 1 FETCH (FLAGS (\\Recent \\Flagged))"], out
        out = tagged_ok(cmd(a, "b2", "SEARCH FLAGGED"))
        assert [o[0] for o in out] == [b"* SEARCH 1", b"b2 OK Search completed."], out
        out = tagged_ok(cmd(a, "c", "UID FETCH 1:* (FLAGS)"))
        lines = [o[0] for o in out]
        assert b"* 2 EXPUNGE" in lines, out
        assert lines.index(b"* 2 EXPUNGE") < len(lines) - 2, out  # before the answer
        answer = [l for l in lines if b"UID 1 " in l]
        assert len(answer) == 1 and b"\\Flagged" in answer[0], out
        assert not [l for l in lines if b"UID 2 " in l], out
        # Nothing more to tell afterwards.
        out = tagged_ok(cmd(a, "d", "NOOP"))
        assert len(out) == 1, out
        # A .SILENT STORE that tells another session's change to the
        # same message first also tells the flags the STORE left: a
        # client that applied the FETCH last would lose \Seen otherwise
        # (Dovecot sends the same line).
        tagged_ok(cmd(b, "e", "STORE 1 +FLAGS (Kw9)"))
        out = tagged_ok(cmd(a, "e", "STORE 1 +FLAGS.SILENT (\\Seen)"))
        told = [o[0] for o in out if o[0].startswith(b"* 1 FETCH")]
        assert told and told[-1] == b"* 1 FETCH (FLAGS (\\Recent \\Flagged \\Seen Kw9))", out
        # Without another session's change .SILENT stays silent.
        out = tagged_ok(cmd(a, "f", "STORE 1 -FLAGS.SILENT (\\Seen)"))
        assert len(out) == 1, out
        # UID STORE, whose sync before it is the full one, the same.
        tagged_ok(cmd(b, "g", "STORE 1 -FLAGS (Kw9)"))
        out = tagged_ok(cmd(a, "g", "UID STORE 1 +FLAGS.SILENT (\\Answered)"))
        told = [o[0] for o in out if o[0].startswith(b"* 1 FETCH")]
        assert told and told[-1] == b"* 1 FETCH (UID 1 FLAGS (\\Recent \\Answered \\Flagged))", out
        a.close()
        b.close()


def test_imap_flags_told_before_a_held_back_expunge_keep_modseq():
    """A flag change told during FETCH while an expunge waits for NOOP
    keeps the message's MODSEQ below that expunge's: FETCH MODSEQ turns
    CONDSTORE on (RFC 7162 §3.1) and a client resyncing from the highest
    MODSEQ it saw would skip the expunge (RFC 7162 §3.2)."""
    with srv() as s:
        a, b = two_sessions(s, "held")
        out = tagged_ok(cmd(b, "a", "STATUS INBOX (HIGHESTMODSEQ)"))
        h0 = int(re.search(rb"HIGHESTMODSEQ (\d+)", out[0][0]).group(1))
        tagged_ok(cmd(a, "a", "SELECT INBOX"))
        tagged_ok(cmd(b, "b", "SELECT INBOX"))
        tagged_ok(cmd(b, "c", "STORE 2 +FLAGS.SILENT (\\Deleted)"))
        tagged_ok(cmd(b, "d", "EXPUNGE"))
        tagged_ok(cmd(b, "e", "STORE 1 +FLAGS.SILENT (\\Flagged)"))
        out = tagged_ok(cmd(a, "b", "FETCH 1 (FLAGS MODSEQ)"))
        got = [o[0] for o in out if b"MODSEQ (" in o[0]]
        assert len(got) == 1 and b"\\Flagged" in got[0], out
        assert int(re.search(rb"MODSEQ \((\d+)\)", got[0]).group(1)) <= h0, (h0, out)
        out = tagged_ok(cmd(a, "c", "NOOP"))
        assert b"* 2 EXPUNGE" in [o[0] for o in out], out
        out = tagged_ok(cmd(a, "d", "FETCH 1 (MODSEQ)"))
        assert int(re.search(rb"MODSEQ \((\d+)\)", out[0][0]).group(1)) > h0, out
        a.close()
        b.close()
