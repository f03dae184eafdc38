"""METADATA and METADATA-SERVER (RFC 5464), one server for every check:
the RFC's examples (server and mailbox entries, a missing entry answered
NIL, DEPTH 1 and infinity, MAXSIZE with OK [METADATA LONGENTRIES n]),
names compared in any case and answered in lower case, NIL removing an
entry, a literal8 value holding NUL coming back as literal8, the server's
/shared entries refused (NO [CANNOT], as Dovecot), the syntax errors
Dovecot answers BAD (a name without /private or /shared, a trailing "/",
"*", DEPTH 2, an unknown option, an odd list), an unknown mailbox NO;
limits: a literal value over 64 KiB refused before "+" with NO [METADATA
MAXSIZE 65536], more than 1000 entries NO [METADATA TOOMANY] (so too
more than 64 in one command, and NO [LIMIT] for GETMETADATA), more than
1 MiB NO [METADATA MAXSIZE], nothing stored by a refused command; two
sessions (one sets, the other reads), another account sees nothing,
RENAME keeps a mailbox's entries and DELETE drops them; imaplib drives
the two-session part. /private/specialuse is the mailbox's special-use
attribute, read only (RFC 6154 §4). Sieve at delivery reads the same
entries (RFC 5490 mboxmetadata, servermetadata), and finds mailboxes by
special-use (RFC 8579) and by MAILBOXID (RFC 9042)."""
import imaplib
import re
import time

from test_imap import BOB, BOB_PW, CAROL, CAROL_PW, ctx, deliver, srv
from test_imap_search_ext import cmd
from test_imap import Raw


def session(s, user=BOB, pw=BOB_PW):
    r = Raw(s)
    r.login(user, pw)
    return r


def rfc_examples(r):
    u, t = cmd(r, "a", "CAPABILITY")
    assert b" METADATA METADATA-SERVER" in u[0], u
    assert cmd(r, "b", 'GETMETADATA "" /shared/comment') == (
        [b'* METADATA "" (/shared/comment NIL)'], b"b OK Getmetadata completed.")
    assert cmd(r, "c", 'SETMETADATA "" (/private/comment "My own words")') == (
        [], b"c OK Setmetadata completed.")
    assert cmd(r, "d", 'SETMETADATA INBOX (/private/comment "My comment" /shared/comment "Shared")') == (
        [], b"d OK Setmetadata completed.")
    assert cmd(r, "e", "GETMETADATA INBOX /private/comment")[0] == [
        b'* METADATA INBOX (/private/comment "My comment")']
    assert cmd(r, "f", "GETMETADATA INBOX (/shared/comment /private/comment)")[0] == [
        b'* METADATA INBOX (/shared/comment "Shared" /private/comment "My comment")']
    assert cmd(r, "g", 'GETMETADATA "" /private/comment')[0] == [
        b'* METADATA "" (/private/comment "My own words")']
    # Depth: the entry and one level, or all below; nothing found: no METADATA.
    cmd(r, "h", 'SETMETADATA INBOX (/private/Vendor/X "v" /private/vendor/x/y "deep" '
                '/private/vendor/x/y/z "deeper")')
    assert cmd(r, "i", "GETMETADATA (DEPTH 1) INBOX /private/vendor")[0] == [
        b'* METADATA INBOX (/private/vendor/x "v")']
    assert cmd(r, "j", "GETMETADATA (DEPTH infinity) INBOX /private/vendor")[0] == [
        b'* METADATA INBOX (/private/vendor/x "v" /private/vendor/x/y "deep" '
        b'/private/vendor/x/y/z "deeper")']
    assert cmd(r, "k", "GETMETADATA (DEPTH 1) INBOX /private/none") == (
        [], b"k OK Getmetadata completed.")
    assert cmd(r, "l", "GETMETADATA INBOX /PRIVATE/VENDOR/X")[0] == [
        b'* METADATA INBOX (/private/vendor/x "v")']
    # MAXSIZE: longer values left out, the longest told.
    assert cmd(r, "m", "GETMETADATA (MAXSIZE 4 DEPTH infinity) INBOX /private/vendor") == (
        [b'* METADATA INBOX (/private/vendor/x "v" /private/vendor/x/y "deep")'],
        b"m OK [METADATA LONGENTRIES 6] Getmetadata completed.")
    # NIL removes; a NUL-holding value is sent back as literal8.
    assert cmd(r, "n", "SETMETADATA INBOX (/private/vendor/x NIL)")[1] == b"n OK Setmetadata completed."
    assert cmd(r, "o", "GETMETADATA INBOX /private/vendor/x")[0] == [
        b"* METADATA INBOX (/private/vendor/x NIL)"]
    r.send(b"p SETMETADATA INBOX (/private/bin ~{3+}\r\na\x00b)\r\n")
    assert r.until_tag("p")[-1] == b"p OK Setmetadata completed."
    r.send(b"q GETMETADATA INBOX /private/bin\r\n")
    assert r.until_tag("q") == [b"* METADATA INBOX (/private/bin ~{3}", b"a\x00b)",
                                b"q OK Getmetadata completed."]
    assert cmd(r, "r", 'SETMETADATA INBOX (/private/empty "")')[1].startswith(b"r OK")
    assert cmd(r, "s", "GETMETADATA INBOX /private/empty")[0] == [
        b'* METADATA INBOX (/private/empty "")']


def errors(r):
    assert cmd(r, "a", 'SETMETADATA "" (/shared/admin "me")') == (
        [], b"a NO [CANNOT] Server /shared entries are the administrator's.")
    for tag, line in (("b", 'SETMETADATA INBOX (/bad "x")'), ("c", 'SETMETADATA INBOX (/private/x/ "x")'),
                      ("d", 'SETMETADATA INBOX (/private/x* "x")'), ("e", "SETMETADATA INBOX (/private/x)"),
                      ("f", "GETMETADATA (DEPTH 2) INBOX /private"), ("g", "GETMETADATA (FOO 1) INBOX /private"),
                      ("h", "GETMETADATA INBOX"), ("i", "GETMETADATA INBOX private/x"),
                      ("j", 'SETMETADATA INBOX (/private//x "y")'), ("k", "SETMETADATA INBOX /private/x")):
        u, t = cmd(r, tag, line)
        assert t.startswith(tag.encode() + b" BAD") and not u, (line, u, t)
    assert cmd(r, "l", 'SETMETADATA Nope (/private/x "a")')[1] == b"l NO [NONEXISTENT] Mailbox doesn't exist: Nope"
    assert cmd(r, "m", "GETMETADATA Nope /private/x")[1] == b"m NO [NONEXISTENT] Mailbox doesn't exist: Nope"
    # Not before login.
    r2 = Raw.__new__(Raw)
    Raw.__init__(r2, r.srv)
    u, t = cmd(r2, "n", "GETMETADATA INBOX /private/x")
    assert t.startswith(b"n BAD"), t
    r2.close()


def limits(r):
    # A literal over 64 KiB: refused before "+".
    r.send(b"a SETMETADATA INBOX (/private/big {70000}\r\n")
    assert r.line() == b"a NO [METADATA MAXSIZE 65536] Metadata value too long."
    # 1 MiB per account: the 17th value of 64 KiB does not fit.
    v = b"x" * 65000
    for i in range(20):
        r.send(b"b%d SETMETADATA INBOX (/private/v%d {%d+}\r\n%s)\r\n" % (i, i, len(v), v))
        last = r.until_tag("b%d" % i)[-1]
        if not last.startswith(b"b%d OK" % i):
            break
    assert last == b"b%d NO [METADATA MAXSIZE 65536] Metadata too large." % i, (i, last)
    assert cmd(r, "c", "GETMETADATA INBOX /private/v%d" % i)[0] == [
        b"* METADATA INBOX (/private/v%d NIL)" % i]
    for k in range(i):
        cmd(r, "d", "SETMETADATA INBOX (/private/v%d NIL)" % k)
    # More than 64 entries in one command: a limit of the server, not a
    # syntax error, so NO [METADATA TOOMANY] (RFC 5464 §4.3) for
    # SETMETADATA and NO [LIMIT] for GETMETADATA, nothing stored.
    pairs = " ".join('/private/many/%d "%d"' % (k, k) for k in range(65))
    u, t = cmd(r, "e0", 'SETMETADATA "" (%s)' % pairs)
    assert t.startswith(b"e0 NO [METADATA TOOMANY]"), t
    names = " ".join("/private/many/%d" % k for k in range(65))
    u, t = cmd(r, "e1", 'GETMETADATA "" (%s)' % names)
    assert u == [] and t.startswith(b"e1 NO [LIMIT]"), (u, t)
    u, t = cmd(r, "e2", 'GETMETADATA (DEPTH infinity) "" /private/many')
    assert u == [] and t == b"e2 OK Getmetadata completed.", (u, t)
    # 1000 entries per account: 64 at a time until TOOMANY; the refused
    # command stores none of its 64.
    for n in range(20):
        pairs = " ".join('/private/n/%d/%d "%d"' % (n, k, k) for k in range(64))
        u, t = cmd(r, "e", 'SETMETADATA "" (%s)' % pairs)
        if not t.startswith(b"e OK"):
            break
    assert t == b"e NO [METADATA TOOMANY] Too many metadata entries.", t
    u, t = cmd(r, "f", 'GETMETADATA (DEPTH 1) "" /private/n/%d' % n)
    assert u == [] and t == b"f OK Getmetadata completed.", u[:1]
    for k in range(n):
        pairs = " ".join("/private/n/%d/%d NIL" % (k, m) for m in range(64))
        assert cmd(r, "g", 'SETMETADATA "" (%s)' % pairs)[1].startswith(b"g OK")


def two_sessions(s):
    # imaplib has no METADATA commands of its own: declare them.
    for name in ("GETMETADATA", "SETMETADATA"):
        imaplib.Commands.setdefault(name, ("AUTH", "SELECTED"))
    a = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
    b = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
    a.login(BOB, BOB_PW)
    b.login(BOB, BOB_PW)
    assert a.create("Projects")[0] == "OK"
    typ, data = a._simple_command("SETMETADATA", "Projects", '(/private/comment "Q4 plans")')
    assert typ == "OK", data
    typ, data = b._simple_command("GETMETADATA", "Projects", "/private/comment")
    assert typ == "OK" and b._untagged_response(typ, data, "METADATA")[1] == [
        b'Projects (/private/comment "Q4 plans")']
    # RENAME keeps, DELETE drops (a new mailbox by the name has none).
    assert b.rename("Projects", "Archive/Projects")[0] == "OK"
    typ, data = a._simple_command("GETMETADATA", "Archive/Projects", "/private/comment")
    assert a._untagged_response(typ, data, "METADATA")[1] == [
        b'Archive/Projects (/private/comment "Q4 plans")']
    assert a.delete("Archive/Projects")[0] == "OK"
    assert a.create("Archive/Projects")[0] == "OK"
    typ, data = b._simple_command("GETMETADATA", "Archive/Projects", "/private/comment")
    assert b._untagged_response(typ, data, "METADATA")[1] == [
        b"Archive/Projects (/private/comment NIL)"]
    # Another account has its own.
    c = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
    c.login(CAROL, CAROL_PW)
    typ, data = c._simple_command("GETMETADATA", '""', "/private/comment")
    assert c._untagged_response(typ, data, "METADATA")[1] == [b'"" (/private/comment NIL)']
    for m in (a, b, c):
        m.logout()


def specialuse(r):
    """RFC 6154 §4: a mailbox's /private/specialuse is its special-use
    attribute, the one LIST shows, and the server must not take any value
    for it blindly: read only here (NO [CANNOT]), as in Dovecot. Before,
    it was a free entry: NIL for Sent, and "\\Junk" stored on INBOX."""
    u, t = cmd(r, "u1", "GETMETADATA Sent /private/specialuse")
    assert u == [b'* METADATA Sent (/private/specialuse "\\\\Sent")'], u
    u, t = cmd(r, "u2", "GETMETADATA (DEPTH 1) Drafts /private")
    assert u == [b'* METADATA Drafts (/private/specialuse "\\\\Drafts")'], u
    u, t = cmd(r, "u3", 'SETMETADATA INBOX (/private/comment "c2" /private/SpecialUse "\\\\Junk")')
    assert t.startswith(b"u3 NO [CANNOT]"), t
    u, t = cmd(r, "u4", "GETMETADATA INBOX (/private/comment /private/specialuse)")
    # Nothing of the refused command stored (its comment neither).
    assert u == [b'* METADATA INBOX (/private/comment "My comment" /private/specialuse NIL)'], u
    u, t = cmd(r, "u5", "SETMETADATA Sent (/private/specialuse NIL)")
    assert t.startswith(b"u5 NO [CANNOT]"), t


def sieve_reads(s):
    """A script reads what SETMETADATA wrote: a mailbox's entry (as a
    fileinto target) and a server entry; metadataexists of an entry that
    is not there is false. fileinto :specialuse and :mailboxid file into
    the mailbox of that use or id, not the name given, and
    specialuse_exists / mailboxidexists see them (at delivery both were
    always false, and both tags ignored); INBOX has no special-use, and a
    mailbox's /private/specialuse reads as GETMETADATA answers it."""
    r = session(s, CAROL, CAROL_PW)
    u, t = cmd(r, "m1", "CREATE Projects")
    assert t.startswith(b"m1 OK"), t
    u, t = cmd(r, "m2", 'SETMETADATA INBOX (/private/Route "Projects")')
    assert t.startswith(b"m2 OK"), t
    u, t = cmd(r, "m3", 'SETMETADATA "" (/private/mode "filing")')
    assert t.startswith(b"m3 OK"), t
    u, t = cmd(r, "m4", "STATUS Projects (MAILBOXID UIDVALIDITY)")
    mid = re.search(rb"MAILBOXID \(([^()\s]+)\)", b"".join(u)).group(1).decode()
    # Earlier builds' MAILBOXID was the UIDVALIDITY: a stored script's id
    # of that spelling still names the mailbox.
    legacy = "M%08x" % int(re.search(rb"UIDVALIDITY (\d+)", b"".join(u)).group(1))
    cmd(r, "m6", "CREATE Gone")
    u, t = cmd(r, "m7", "STATUS Gone (MAILBOXID)")
    gone = re.search(rb"MAILBOXID \(([^()\s]+)\)", b"".join(u)).group(1).decode()
    assert cmd(r, "m8", "DELETE Gone")[1].startswith(b"m8 OK")
    r.close()
    text = ('require ["mboxmetadata", "servermetadata", "fileinto", "variables", "special-use",\n'
            '         "mailboxid"];\n'
            'if header :is "subject" "md0" {\n'
            '  if allof (servermetadata :is "/private/mode" "FILING",\n'
            '            metadata :matches "INBOX" "/private/route" "*",\n'
            '            not metadataexists "INBOX" "/private/none") { fileinto "${1}"; }\n'
            '} elsif header :is "subject" "su0" {\n'
            '  if allof (specialuse_exists "\\\\Sent", not specialuse_exists "\\\\Inbox",\n'
            '            specialuse_exists "Drafts" "\\\\Drafts",\n'
            '            metadata "Sent" "/private/specialuse" "\\\\Sent",\n'
            '            not metadataexists "INBOX" "/private/specialuse") {\n'
            '    fileinto :specialuse "\\\\Sent" "Elsewhere";\n'
            '  }\n'
            '} elsif header :is "subject" "id0" {\n'
            '  if mailboxidexists "%s" { fileinto :mailboxid "%s" "Elsewhere"; }\n'
            '} elsif header :is "subject" "ie0" {\n'
            '  if mailboxidexists "%s" { fileinto :mailboxid "%s" "Elsewhere"; }\n'
            '} elsif header :is "subject" "if0" {\n'
            '  if not mailboxidexists "%s" { fileinto :mailboxid "%s" "Projects"; }\n'
            '}\n' % (mid, mid, legacy, legacy, gone, gone))
    s.cli("sieve", "put", CAROL, "s", input=text)
    s.cli("sieve", "activate", CAROL, "s")
    for subj in ("md%d", "su%d", "id%d", "ie%d", "if%d"):
        deliver(s, 1, to=CAROL, subject=subj)
    want = {"Projects": 4, "Sent": 1}
    deadline = time.time() + 10
    while time.time() < deadline and any(len(s.messages(CAROL, b)) < n for b, n in want.items()):
        time.sleep(0.05)
    got = {b: [m[1].split()[-1] for m in s.messages(CAROL, b)] for b in ("INBOX", "Projects", "Sent")}
    assert sorted(got["Projects"]) == ["id0", "ie0", "if0", "md0"] and got["Sent"] == ["su0"], got
    assert got["INBOX"] == [], got
    u, t = cmd(session(s, CAROL, CAROL_PW), "m5", "LIST \"\" Elsewhere")
    assert u == [], u


def test_imap_metadata():
    with srv() as s:
        r = session(s)
        r.srv = s
        rfc_examples(r)
        specialuse(r)
        errors(r)
        limits(r)
        r.close()
        two_sessions(s)
        sieve_reads(s)
