"""IMAP SORT (RFC 5256, SORT=DISPLAY RFC 5957) and THREAD (REFERENCES,
ORDEREDSUBJECT): exact responses over a raw connection, on messages whose
Date, Subject, addresses, Message-ID, References and In-Reply-To are
chosen so every rule shows (base subjects with Re:/Fwd:/[blob], a missing
parent, a reply without references, REVERSE, ties in sequence order)."""
import re

from test_imap import Raw, srv
from test_imap_search_ext import cmd, send_raw


def mail(n, subject, mid=None, refs=None, irt=None, frm="alice@remote.test", to="bob@example.test",
         cc=None, minute=None, body="x"):
    h = "From: %s\r\nTo: %s\r\nSubject: %s\r\n" % (frm, to, subject)
    h += "Date: Mon, 1 Jun 2026 10:%02d:00 +0000\r\n" % (n if minute is None else minute)
    if cc:
        h += "Cc: %s\r\n" % cc
    h += "Message-ID: <%s@x.test>\r\n" % (mid or n)
    if refs:
        h += "References: %s\r\n" % " ".join("<%s@x.test>" % r for r in refs)
    if irt:
        h += "In-Reply-To: <%s@x.test> (sent by someone)\r\n" % irt
    return h + "\r\n" + body + "\r\n"


THREADED = [
    mail(1, "Topic A"),
    mail(2, "Re: Topic A", refs=[1]),
    mail(3, "RE: [list] Topic A", irt=1),
    mail(4, "Re: Re: Topic A", refs=[1, 2]),
    mail(5, "Other"),
    mail(6, "Lost child", refs=["missing"]),
    mail(7, "Re: Lost child", refs=["missing"]),
    mail(8, "Re: other (fwd)"),
]


def session(s):
    r = Raw(s)
    r.login()
    u, t = cmd(r, "s", "SELECT INBOX")
    assert t.startswith(b"s OK"), t
    return r


def test_imap_thread():
    with srv() as s:
        send_raw(s, THREADED)
        r = session(s)
        caps = cmd(r, "c", "CAPABILITY")[0][0]
        for cap in (b"THREAD=REFERENCES", b"THREAD=ORDEREDSUBJECT", b"SORT", b"SORT=DISPLAY"):
            assert b" " + cap in caps, caps
        # I18NLEVEL=1 (RFC 5255 §4: SEARCH and SORT under
        # i;unicode-casemap, test_imap_sort's i18n part), not level 2's
        # COMPARATOR.
        assert b" I18NLEVEL=1" in caps and b"COMPARATOR" not in caps, caps
        assert cmd(r, "a", "THREAD REFERENCES UTF-8 ALL") == (
            [b"* THREAD (1 (2 4)(3))(5 8)((6)(7))"], b"a OK Thread completed.")
        assert cmd(r, "b", "THREAD ORDEREDSUBJECT UTF-8 ALL")[0] == [
            b"* THREAD (1 (2)(3)(4))(5 8)(6 7)"]
        # The search keys choose the messages; UID THREAD shows UIDs.
        cmd(r, "d", "STORE 1 +FLAGS.SILENT (\\Deleted)")
        cmd(r, "e", "EXPUNGE")
        assert cmd(r, "f", "UID THREAD REFERENCES US-ASCII ALL")[0] == [
            b"* THREAD ((2 4)(3))(5 8)((6)(7))"]
        assert cmd(r, "g", "THREAD REFERENCES UTF-8 NOT SUBJECT lost")[0] == [
            b"* THREAD ((1 3)(2))(4 7)"]
        assert cmd(r, "h", "THREAD ORDEREDSUBJECT UTF-8 DELETED")[0] == [b"* THREAD"]
        u, t = cmd(r, "i", "THREAD BOGUS UTF-8 ALL")
        assert t.startswith(b"i BAD"), t
        u, t = cmd(r, "j", "THREAD REFERENCES UTF-16 ALL")
        assert t.startswith(b"j NO [BADCHARSET"), t
        # ORDEREDSUBJECT orders and groups by one key, SORT's: the "fi"
        # ligature's key is a small "fi" (RFC 5051: NFKD after the
        # titlecase), so it is another subject than "Final report", and
        # both "Final report" messages make one thread.
        assert cmd(r, "k", "CREATE Lig")[1].startswith(b"k OK")
        for n, subj in ((1, "Final report"), (2, "=?UTF-8?Q?=EF=AC=81nal_report?="),
                        (3, "Final report")):
            m = mail(n, subj).encode()
            r.send(b"a%d APPEND Lig {%d+}\r\n%s\r\n" % (n, len(m), m))
            assert r.until_tag("a%d" % n)[-1].startswith(b"a%d OK" % n)
        assert cmd(r, "l", "SELECT Lig")[1].startswith(b"l OK")
        assert cmd(r, "m", "SORT (SUBJECT) UTF-8 ALL")[0] == [b"* SORT 1 3 2"]
        assert cmd(r, "n", "THREAD ORDEREDSUBJECT UTF-8 ALL")[0] == [b"* THREAD (1 3)(2)"]
        r.close()


def test_imap_sort():
    with srv() as s:
        send_raw(s, [
            mail(1, "[list] Re: beta", frm='"Zed" <zed@a.test>', to="carol@b.test", cc="m@c.test", minute=30, body="x" * 50),
            mail(2, "Alpha", frm="bob@a.test", to='"Ann" <yan@b.test>', minute=10, body="x" * 10),
            mail(3, "Fwd: gamma", frm='"=?UTF-8?Q?=C3=89mile?=" <emile@a.test>', to="Al@b.test", cc="a@c.test", minute=20, body="x" * 30),
            mail(4, "alpha", frm="Adam@a.test", to="dora@b.test", minute=20, body="x" * 30),
        ])
        r = session(s)
        sort = lambda tag, crit, keys="ALL": cmd(r, tag, "SORT (%s) UTF-8 %s" % (crit, keys))[0]
        assert sort("a", "SUBJECT") == [b"* SORT 2 4 1 3"]           # alpha alpha beta gamma
        assert sort("b", "DATE") == [b"* SORT 2 3 4 1"]              # ties (3, 4) in sequence order
        assert sort("c", "REVERSE DATE") == [b"* SORT 1 3 4 2"]
        assert sort("d", "ARRIVAL") == [b"* SORT 1 2 3 4"]
        assert sort("e", "SIZE SUBJECT") == [b"* SORT 2 4 3 1"]
        assert sort("f", "FROM") == [b"* SORT 4 2 3 1"]              # adam bob emile zed
        # i;unicode-casemap: Émile sorts among the e's, as in Dovecot
        assert sort("g", "DISPLAYFROM") == [b"* SORT 4 2 3 1"]       # adam@ bob@ émile zed
        assert sort("h", "TO") == [b"* SORT 3 1 4 2"]                # al carol dora yan
        assert sort("i", "DISPLAYTO") == [b"* SORT 3 2 1 4"]         # al@ ann carol@ dora@
        assert sort("j", "CC") == [b"* SORT 2 4 3 1"]                # "" "" a m
        assert sort("k", "REVERSE SUBJECT REVERSE DATE") == [b"* SORT 3 1 4 2"]
        assert sort("l", "SUBJECT", "SUBJECT alpha") == [b"* SORT 2 4"]
        # Ties keep sequence order even under REVERSE.
        assert cmd(r, "m", "UID SORT (REVERSE SUBJECT) UTF-8 2:4")[0] == [b"* SORT 3 2 4"]
        assert sort("n", "DATE", "DELETED") == [b"* SORT"]
        for bad in ("SORT (BOGUS) UTF-8 ALL", "SORT () UTF-8 ALL", "SORT (REVERSE) UTF-8 ALL",
                    "SORT SUBJECT UTF-8 ALL", "SORT (DATE) UTF-8"):
            u, t = cmd(r, "x", bad)
            assert t.startswith(b"x BAD"), (bad, t)
        u, t = cmd(r, "y", "SORT (DATE) UTF-16 ALL")
        assert t.startswith(b"y NO [BADCHARSET (UTF-8 US-ASCII ISO-8859-1"), t
        assert sort("z", "DATE", "FROM emile") == [b"* SORT 3"]
        assert cmd(r, "z2", "SORT (DATE) WINDOWS-1252 FROM emile")[0] == [b"* SORT 3"]
        i18n(s, r)
        r.close()



def test_imap_sort_tells_modseq():
    """A MODSEQ search key makes SORT answer "(MODSEQ n)" after the
    numbers as SEARCH does (RFC 7162 §3.1.5 and its search-sort-mod-seq),
    and ESORT "MODSEQ n": the highest mod-sequence of the messages
    returned (MIN: the first in sort order). THREAD answers as ever."""
    with srv() as s:
        send_raw(s, [mail(1, "c"), mail(2, "a"), mail(3, "b")])
        r = session(s)
        assert cmd(r, "a", "STORE 2 +FLAGS.SILENT (\\Flagged)")[1].startswith(b"a OK")
        u, t = cmd(r, "b", "FETCH 1:3 (MODSEQ)")
        ms = {int(n): int(m) for n, m in re.findall(rb"\* (\d) FETCH \(MODSEQ \((\d+)\)\)", b"\n".join(u))}
        high = max(ms.values())
        assert sorted(ms) == [1, 2, 3] and ms[2] == high > ms[1], u
        assert cmd(r, "c", "SORT (SUBJECT) UTF-8 MODSEQ 1")[0] == [b"* SORT 2 3 1 (MODSEQ %d)" % high]
        assert cmd(r, "d", "UID SORT (SUBJECT) UTF-8 MODSEQ %d" % ms[2])[0] == [b"* SORT 2 (MODSEQ %d)" % high]
        assert cmd(r, "e", "SORT (SUBJECT) UTF-8 MODSEQ %d" % (high + 1))[0] == [b"* SORT"]
        u, t = cmd(r, "f", "SORT RETURN (MIN) (REVERSE SUBJECT) UTF-8 MODSEQ 1")
        assert u == [b'* ESEARCH (TAG "f") MIN 1 MODSEQ %d' % ms[1]], u
        u, t = cmd(r, "g", "SORT RETURN (COUNT ALL) (SUBJECT) UTF-8 MODSEQ 1")
        assert u == [b'* ESEARCH (TAG "g") COUNT 3 ALL 2:3,1 MODSEQ %d' % high], u
        assert cmd(r, "h", "THREAD ORDEREDSUBJECT UTF-8 MODSEQ 1")[0] == [b"* THREAD (1)(2)(3)"]
        r.close()

# Pairs of subjects i;unicode-casemap (RFC 5051 §2: each code point's
# simple titlecase mapping, then its full decomposition of any type) makes
# one key, as messages 5.. after test_imap_sort's four.
I18N = [
    "Note \u00b2", "Note 2",        # 5 6: superscript two is 2 (<super>)
    "\uff21rc", "arc",              # 7 8: fullwidth A is A (<wide>)
    "\ufb01le", "file",             # 9 10: the ligature decomposes to small "fi" and
                                   #      has no titlecase: "fiLE" is not "FILE"
    "caf\u00e9", "cafe\u0301",      # 11 12: precomposed and decomposed
    "\u0131x", "Ix",                # 13 14: dotless i titlecases to I (no Turkic rule)
    "\u0130x",                      # 15: dotted capital I is I + U+0307
]


def i18n(s, r):
    send_raw(s, [("From: a@remote.test\r\nTo: bob@example.test\r\nSubject: %s\r\n"
                  "Date: Mon, 1 Jun 2026 11:00:00 +0000\r\n\r\nx\r\n" % subj).encode()
                 for subj in I18N])
    cmd(r, "n0", "NOOP")

    def search(tag, needle):
        b = needle.encode()
        r.send(b"%s SEARCH CHARSET UTF-8 SUBJECT {%d+}\r\n%s\r\n" % (tag.encode(), len(b), b))
        lines = r.until_tag(tag)
        assert lines[-1].startswith(tag.encode() + b" OK"), lines
        return lines[0]

    for needle, want in (("2", b"5 6"), ("\u00b2", b"5 6"), ("note \u00b2", b"5 6"),
                         ("\uff41RC", b"7 8"), ("ARC", b"7 8"), ("\uff21RC", b"7 8"),
                         ("\ufb01le", b"9"), ("FILE", b"10"), ("fi", b"10"), ("\ufb01", b"9"),
                         ("CAF\u00c9", b"11 12"), ("cafe\u0301", b"11 12"), ("cafe", b"11 12"),
                         ("\u0131X", b"13 14"), ("ix", b"13 14"), ("\u0130", b"15"),
                         ("i\u0307x", b"15")):
        got = search("q", needle)
        assert got == b"* SEARCH " + want, (needle, got)
    # Equal keys sort as equal: sequence order whichever way round.
    for pair in ("5:6", "7:8", "11:12", "13:14"):
        a, b = pair.split(":")
        for crit in ("SUBJECT", "REVERSE SUBJECT"):
            assert cmd(r, "o", "SORT (%s) UTF-8 %s" % (crit, pair))[0] == [
                ("* SORT %s %s" % (a, b)).encode()], (pair, crit)
    # "FILE" and "fiLE" differ: as octets F (0x46) before f (0x66).
    assert cmd(r, "p", "SORT (SUBJECT) UTF-8 9:10")[0] == [b"* SORT 10 9"]
    assert cmd(r, "p", "SORT (REVERSE SUBJECT) UTF-8 9:10")[0] == [b"* SORT 9 10"]
    # Accented letters sort next to their base: ARC < CAFE\u0301 < FILE < IX < NOTE 2 < fiLE
    assert cmd(r, "p", "SORT (SUBJECT) UTF-8 5:15")[0] == [b"* SORT 7 8 11 12 10 13 14 15 5 6 9"]
