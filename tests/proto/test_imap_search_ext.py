"""IMAP SEARCH extensions: ESEARCH return options (RFC 4731), the saved
result "$" of SEARCHRES (RFC 5182) in SEARCH, FETCH, STORE and UID
EXPUNGE, WITHIN's OLDER/YOUNGER (RFC 5032), SENTBEFORE/SENTON/SENTSINCE on
the Date header, and the CONDSTORE MODSEQ search key. Exact responses over
raw connections."""
import base64
import re
import smtplib

from test_imap import BOB, Raw, srv, wait_count


def send_raw(s, texts, to=BOB):
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        for t in texts:
            c.sendmail("alice@remote.test", [to], t)
    wait_count(s, len(texts), account=to)


def mail(subject, date=None):
    head = "From: alice@remote.test\r\nTo: bob@example.test\r\nSubject: %s\r\n" % subject
    if date is not None:
        head += "Date: %s\r\n" % date
    return head + "\r\nbody of %s\r\n" % subject


def cmd(r, tag, text):
    """Sends one command; returns (untagged lines, tagged line)."""
    r.send("%s %s\r\n" % (tag, text))
    lines = r.until_tag(tag)
    return lines[:-1], lines[-1]


def session(s):
    r = Raw(s)
    r.login()
    u, t = cmd(r, "s", "SELECT INBOX")
    assert t.startswith(b"s OK"), t
    return r


def test_imap_esearch_return_options():
    with srv() as s:
        send_raw(s, [mail("m%d" % i) for i in range(6)])
        r = session(s)
        cmd(r, "f", "STORE 2,4,5 +FLAGS.SILENT (\\Flagged)")
        assert cmd(r, "a", "SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED") == (
            [b'* ESEARCH (TAG "a") MIN 2 MAX 5 COUNT 3 ALL 2,4:5'], b"a OK Search completed.")
        # RETURN () is RETURN (ALL); UID SEARCH says UID.
        assert cmd(r, "b", "UID SEARCH RETURN () 1:3")[0] == [b'* ESEARCH (TAG "b") UID ALL 1:3']
        assert cmd(r, "c", "SEARCH RETURN (COUNT) ALL")[0] == [b'* ESEARCH (TAG "c") COUNT 6']
        # Nothing found: only COUNT is said.
        assert cmd(r, "d", "SEARCH RETURN (MIN MAX COUNT ALL) DELETED")[0] == [
            b'* ESEARCH (TAG "d") COUNT 0']
        assert cmd(r, "e", "SEARCH RETURN (MIN) UNFLAGGED")[0] == [b'* ESEARCH (TAG "e") MIN 1']
        # CHARSET after RETURN, and the classic form still works.
        assert cmd(r, "g", "SEARCH RETURN (MAX) CHARSET UTF-8 SUBJECT m")[0] == [
            b'* ESEARCH (TAG "g") MAX 6']
        assert cmd(r, "h", "SEARCH FLAGGED")[0] == [b"* SEARCH 2 4 5"]
        u, t = cmd(r, "i", "SEARCH RETURN (FIRST) ALL")
        assert t.startswith(b"i BAD"), t
        u, t = cmd(r, "j", "SEARCH RETURN ALL")
        assert t.startswith(b"j BAD"), t
        r.close()


def test_imap_searchres_dollar():
    with srv() as s:
        send_raw(s, [mail("m%d" % i) for i in range(5)])
        r = session(s)
        # "$" before any SAVE is empty.
        assert cmd(r, "a", "FETCH $ (UID)") == ([], b"a OK Fetch completed.")
        # SAVE alone sends no ESEARCH.
        assert cmd(r, "b", "SEARCH RETURN (SAVE) 2:4") == ([], b"b OK Search completed.")
        u, t = cmd(r, "c", "FETCH $ (UID)")
        assert u == [b"* 2 FETCH (UID 2)", b"* 3 FETCH (UID 3)", b"* 4 FETCH (UID 4)"], u
        u, t = cmd(r, "d", "STORE $ +FLAGS (\\Flagged)")
        assert len(u) == 3 and all(b"\\Flagged" in x for x in u), u
        assert cmd(r, "e", "SEARCH $ FLAGGED")[0] == [b"* SEARCH 2 3 4"]
        assert cmd(r, "f", "UID SEARCH UID $")[0] == [b"* SEARCH 2 3 4"]
        assert cmd(r, "g", "SEARCH NOT $")[0] == [b"* SEARCH 1 5"]
        # Expunged messages leave "$"; numbers follow the new view.
        cmd(r, "h", "STORE 1,3 +FLAGS.SILENT (\\Deleted)")
        u, t = cmd(r, "i", "EXPUNGE")
        assert t.startswith(b"i OK"), t
        u, t = cmd(r, "j", "UID FETCH $ (FLAGS)")
        # \Recent: this session was the first to select them.
        assert u == [b"* 1 FETCH (UID 2 FLAGS (\\Recent \\Flagged))",
                     b"* 2 FETCH (UID 4 FLAGS (\\Recent \\Flagged))"], u
        # SAVE with MIN and MAX only keeps those two.
        cmd(r, "k", "SEARCH RETURN (SAVE MIN MAX) ALL")
        assert cmd(r, "l", "SEARCH $")[0] == [b"* SEARCH 1 3"]
        # SAVE together with MIN and COUNT keeps everything, and answers.
        assert cmd(r, "m", "UID SEARCH RETURN (SAVE MIN COUNT) 2:3")[0] == [
            b'* ESEARCH (TAG "m") UID MIN 4 COUNT 2']
        assert cmd(r, "n", "UID SEARCH $")[0] == [b"* SEARCH 4 5"]
        # A failed SEARCH ... SAVE empties "$".
        u, t = cmd(r, "o", "SEARCH RETURN (SAVE) NOSUCHKEY")
        assert t.startswith(b"o BAD"), t
        assert cmd(r, "p", "SEARCH $")[0] == [b"* SEARCH"]
        # So does a failed SORT ... RETURN (SAVE) (RFC 5267 §3 gives SORT
        # the SAVE of RFC 5182), however it fails.
        for i, bad in enumerate(("(SUBJECT) UTF-8 NOSUCHKEY", "(NOSUCHKEY) UTF-8 ALL",
                                 "(SUBJECT) NO-SUCH-CHARSET ALL", "(REVERSE) UTF-8 ALL")):
            assert cmd(r, "p%da" % i, "SEARCH RETURN (SAVE) ALL")[1].startswith(b"p%da OK" % i)
            u, t = cmd(r, "p%db" % i, "SORT RETURN (SAVE) " + bad)
            assert t.startswith(b"p%db BAD" % i) or t.startswith(b"p%db NO" % i), (bad, t)
            assert cmd(r, "p%dc" % i, "SEARCH $")[0] == [b"* SEARCH"], bad
        # UID EXPUNGE $
        cmd(r, "q", "SEARCH RETURN (SAVE) 1")
        cmd(r, "r", "STORE $ +FLAGS.SILENT (\\Deleted)")
        u, t = cmd(r, "t", "UID EXPUNGE $")
        assert u[0] == b"* 1 EXPUNGE" and t.startswith(b"t OK"), (u, t)
        # A new SELECT forgets "$".
        cmd(r, "u", "SEARCH RETURN (SAVE) ALL")
        cmd(r, "v", "SELECT INBOX")
        assert cmd(r, "w", "SEARCH $")[0] == [b"* SEARCH"]
        r.close()


def test_imap_search_sent_dates_and_within():
    with srv() as s:
        send_raw(s, [
            mail("a", "Tue, 3 Mar 2020 23:30:00 -0800"),   # 4 Mar in UTC; 3 Mar as written
            mail("b", "5 Mar 2020 01:00 +0200"),           # no day name, no seconds
            mail("c", "Thu, 05 Mar 20 10:00:00 GMT (comment)"),  # two-digit year
            mail("d", "not a date"),                       # falls back to the internal date
            mail("e"),                                     # no Date at all: likewise
        ])
        r = session(s)
        assert cmd(r, "a", "SEARCH SENTON 3-Mar-2020")[0] == [b"* SEARCH 1"]
        assert cmd(r, "b", "SEARCH SENTON 5-Mar-2020")[0] == [b"* SEARCH 2 3"]
        assert cmd(r, "c", "SEARCH SENTBEFORE 5-Mar-2020")[0] == [b"* SEARCH 1"]
        assert cmd(r, "d", "SEARCH SENTSINCE 4-Mar-2020 SENTBEFORE 1-Jan-2021")[0] == [
            b"* SEARCH 2 3"]
        assert cmd(r, "e", 'SEARCH SENTSINCE "1-Jan-2021"')[0] == [b"* SEARCH 4 5"]
        assert cmd(r, "f", "SEARCH OR SENTON 3-Mar-2020 SUBJECT e")[0] == [b"* SEARCH 1 5"]
        u, t = cmd(r, "g", "SEARCH SENTON 31-Feb-2020")
        assert t.startswith(b"g BAD"), t
        # WITHIN: everything arrived just now.
        assert cmd(r, "h", "SEARCH YOUNGER 3600")[0] == [b"* SEARCH 1 2 3 4 5"]
        assert cmd(r, "i", "SEARCH OLDER 3600")[0] == [b"* SEARCH"]
        assert cmd(r, "j", "SEARCH RETURN (COUNT) NOT OLDER 86400")[0] == [
            b'* ESEARCH (TAG "j") COUNT 5']
        u, t = cmd(r, "k", "SEARCH YOUNGER 0")
        assert t.startswith(b"k BAD"), t
        r.close()


def test_imap_search_modseq_key():
    with srv() as s:
        send_raw(s, [mail("m%d" % i) for i in range(3)])
        r = session(s)
        u, t = cmd(r, "a", "SEARCH MODSEQ 1")
        # The key turns CONDSTORE on: the mailbox's HIGHESTMODSEQ comes
        # first (RFC 7162 §3.1).
        assert len(u) == 2 and u[0].startswith(b"* OK [HIGHESTMODSEQ "), u
        u = u[1:]
        m = re.match(rb"\* SEARCH 1 2 3 \(MODSEQ (\d+)\)$", u[0])
        assert m and len(u) == 1, u
        high = int(m.group(1))
        cmd(r, "b", "STORE 2 +FLAGS.SILENT (\\Draft)")
        u, t = cmd(r, "c", "SEARCH MODSEQ %d" % (high + 1))
        m = re.match(rb"\* SEARCH 2 \(MODSEQ (\d+)\)$", u[0])
        assert m and int(m.group(1)) > high, u
        u, t = cmd(r, "d", 'SEARCH MODSEQ "/flags/\\\\draft" all %d' % (high + 1))
        assert re.match(rb"\* SEARCH 2 \(MODSEQ \d+\)$", u[0]), u
        u, t = cmd(r, "e", "UID SEARCH RETURN (COUNT) MODSEQ %d" % (high + 1))
        assert re.match(rb'\* ESEARCH \(TAG "e"\) UID COUNT 1 MODSEQ \d+$', u[0]), u
        # Nothing matched: no MODSEQ.
        assert cmd(r, "f", "SEARCH MODSEQ 99999999")[0] == [b"* SEARCH"]
        u, t = cmd(r, "g", 'SEARCH MODSEQ "/flags/x" bogus 1')
        assert t.startswith(b"g BAD"), t
        r.close()


def test_imap_search_unicode_case():
    with srv() as s:
        greek = "=?UTF-8?B?%s?=" % base64.b64encode("ΣΟΦΟΣ Άρθρο Ґанок Աշխարհ".encode()).decode()
        send_raw(s, [mail("=?UTF-8?Q?=C3=89cole_=C3=84rger_=CE=91=CE=B8=CE=AE=CE=BD=CE=B1?="),
                     mail("plain"), mail(greek)])
        r = session(s)
        # Quoted UTF-8 (RFC 9051) and a literal; case folds beyond ASCII.
        assert cmd(r, "a", 'SEARCH CHARSET UTF-8 SUBJECT "école"')[0] == [b"* SEARCH 1"]
        assert cmd(r, "b", 'SEARCH SUBJECT "ÄRGER"')[0] == [b"* SEARCH 1"]
        assert cmd(r, "c", 'SEARCH SUBJECT "αθήνα"')[0] == [b"* SEARCH 1"]
        r.send('d SEARCH CHARSET UTF-8 SUBJECT {6}\r\n')
        assert r.line().startswith(b"+")
        r.send("ÉCOLE".encode() + b"\r\n")
        assert r.until_tag("d") == [b"* SEARCH 1", b"d OK Search completed."]
        assert cmd(r, "e", 'SEARCH SUBJECT "ecole"')[0] == [b"* SEARCH"]
        # Final sigma, a capital with tonos, Ukrainian Ґ, Armenian: as
        # Unicode's case folding has them (RFC 5051's i;unicode-casemap).
        for word in ("σοφος", "ΣΟΦΟς", "άρθρο", "ґанок", "աշխարհ"):
            u, t = cmd(r, "w", 'SEARCH CHARSET UTF-8 SUBJECT "%s"' % word)
            assert u == [b"* SEARCH 3"], (word, u, t)
        # A Latin-1 search string is converted before matching.
        r.send('f SEARCH CHARSET ISO-8859-1 SUBJECT {5}\r\n')
        assert r.line().startswith(b"+")
        r.send(b"\xc9COLE\r\n")
        assert r.until_tag("f") == [b"* SEARCH 1", b"f OK Search completed."]
        r.close()


def test_imap_search_mixed_flag_and_text_keys():
    # Flag keys are decided from the session's view before any message is
    # read; the answers must be those of evaluating everything.
    with srv() as s:
        send_raw(s, [mail(x) for x in ("apple", "banana", "apple pie", "cherry", "apple")])
        r = session(s)
        cmd(r, "f", "STORE 1,2,4 +FLAGS.SILENT (\\Seen)")
        assert cmd(r, "a", "SEARCH SEEN SUBJECT apple")[0] == [b"* SEARCH 1"]
        assert cmd(r, "b", "SEARCH UNSEEN SUBJECT apple")[0] == [b"* SEARCH 3 5"]
        assert cmd(r, "c", "SEARCH OR SEEN SUBJECT apple")[0] == [b"* SEARCH 1 2 3 4 5"]
        assert cmd(r, "d", "SEARCH OR UNSEEN SUBJECT cherry")[0] == [b"* SEARCH 3 4 5"]
        assert cmd(r, "e", "SEARCH NOT (SEEN SUBJECT apple)")[0] == [b"* SEARCH 2 3 4 5"]
        assert cmd(r, "g", "SEARCH NOT OR UNSEEN SUBJECT banana")[0] == [b"* SEARCH 1 4"]
        assert cmd(r, "h", "SEARCH SEEN NOT SUBJECT apple SENTBEFORE 1-Jan-2000")[0] == [
            b"* SEARCH"]
