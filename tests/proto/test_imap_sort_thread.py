"""IMAP SORT (RFC 5256, SORT=DISPLAY RFC 5957) and THREAD (REFERENCES,
ORDEREDSUBJECT): exact responses over a raw connection, on messages whose
Date, Subject, addresses, Message-ID, References and In-Reply-To are
chosen so every rule shows (base subjects with Re:/Fwd:/[blob], a missing
parent, a reply without references, REVERSE, ties in sequence order)."""
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
        # No I18NLEVEL (RFC 5255 §4.3: level 1 needs i;unicode-casemap,
        # titlecase and NFKD, RFC 5051, for SEARCH and SORT alike; SEARCH
        # matches by the full case fold with NFC and SORT by the full fold
        # with NFD, so "\uff21" is not "a" nor "\u00b2" "2" in either), and
        # so no COMPARATOR (level 2, RFC 5255 §4.7).
        assert b"I18NLEVEL" not in caps and b"COMPARATOR" not in caps, caps
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
        r.close()
