"""ESORT (RFC 5267 §3) and PARTIAL (RFC 9394): SORT RETURN (MIN MAX
COUNT ALL) in sort order, RETURN () as ALL, SORT RETURN (SAVE) for "$";
SEARCH and SORT RETURN (PARTIAL a:b) and (PARTIAL -a:-b) with NIL past
the end, a reversed positive range smaller first (as Dovecot and imaptest's
search-partial), a negative range echoed as given (RFC 9394 §3.1: "the
original range"), PARTIAL with ALL refused
(BAD, as Dovecot), a zero position refused, PARTIAL with SAVE and with
MIN/MAX/COUNT; UID FETCH with the (PARTIAL range) modifier. One server
for every check; the answers were compared with Dovecot 2.3's where it
implements the same thing (ESORT, positive PARTIAL)."""
import imaplib

from test_imap import BOB, BOB_PW, ctx, srv
from test_imap_search_ext import cmd, session

SUBJECTS = ["delta", "alpha", "echo", "bravo", "charlie", "alpha2", "zulu", "kilo", "lima", "mike"]


def fill(s):
    m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
    m.login(BOB, BOB_PW)
    for i, sb in enumerate(SUBJECTS):
        typ, _ = m.append("INBOX", None, None,
                          ("From: a%d@x.test\r\nSubject: %s\r\n\r\nbody\r\n" % (i, sb)).encode())
        assert typ == "OK"
    m.logout()


def esort(r):
    u, t = cmd(r, "a", "CAPABILITY")
    assert b" ESORT" in u[0] and b" PARTIAL" in u[0], u
    assert cmd(r, "b", "SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 ALL") == (
        [b'* ESEARCH (TAG "b") MIN 2 MAX 7 COUNT 10 ALL 2,6,4:5,1,3,8:10,7'], b"b OK Sort completed.")
    assert cmd(r, "c", "SORT RETURN () (REVERSE SUBJECT) UTF-8 ALL")[0] == [
        b'* ESEARCH (TAG "c") ALL 7,10,9,8,3,1,5,4,6,2']
    assert cmd(r, "d", "UID SORT RETURN (COUNT) (SUBJECT) UTF-8 SUBJECT alpha")[0] == [
        b'* ESEARCH (TAG "d") UID COUNT 2']
    # No match: only COUNT.
    assert cmd(r, "e", "SORT RETURN (MIN MAX COUNT) (SUBJECT) UTF-8 DELETED")[0] == [
        b'* ESEARCH (TAG "e") COUNT 0']
    # Without RETURN, SORT answers as before.
    assert cmd(r, "f", "SORT (SUBJECT) UTF-8 1:3")[0] == [b"* SORT 2 1 3"]
    # SAVE: MIN is the first in sort order; "$" is then that message.
    assert cmd(r, "g", "SORT RETURN (MIN SAVE) (SUBJECT) UTF-8 ALL")[0] == [b'* ESEARCH (TAG "g") MIN 2']
    assert cmd(r, "h", "FETCH $ (UID)")[0] == [b"* 2 FETCH (UID 2)"]
    # SAVE alone sends no ESEARCH, and "$" holds every match.
    assert cmd(r, "i", "SORT RETURN (SAVE) (SUBJECT) UTF-8 4:6") == ([], b"i OK Sort completed.")
    assert cmd(r, "j", "SEARCH $")[0] == [b"* SEARCH 4 5 6"]
    u, t = cmd(r, "k", "SORT RETURN (FIRST) (SUBJECT) UTF-8 ALL")
    assert t.startswith(b"k BAD"), t
    u, t = cmd(r, "l", "SORT RETURN MIN (SUBJECT) UTF-8 ALL")
    assert t.startswith(b"l BAD"), t


def partial(r):
    assert cmd(r, "a", "UID SORT RETURN (PARTIAL 1:3) (SUBJECT) UTF-8 ALL")[0] == [
        b'* ESEARCH (TAG "a") UID PARTIAL (1:3 2,6,4)']
    assert cmd(r, "b", "SEARCH RETURN (PARTIAL -1:-3) ALL")[0] == [
        b'* ESEARCH (TAG "b") PARTIAL (-1:-3 8:10)']
    assert cmd(r, "c", "SEARCH RETURN (PARTIAL 5:1) ALL")[0] == [
        b'* ESEARCH (TAG "c") PARTIAL (1:5 1:5)']
    assert cmd(r, "d", "SEARCH RETURN (PARTIAL 9:20) ALL")[0] == [
        b'* ESEARCH (TAG "d") PARTIAL (9:20 9:10)']
    assert cmd(r, "e", "SEARCH RETURN (PARTIAL -8:-20) 5:10")[0] == [
        b'* ESEARCH (TAG "e") PARTIAL (-8:-20 NIL)']
    assert cmd(r, "f", "SEARCH RETURN (COUNT PARTIAL 1:3 MIN) DELETED")[0] == [
        b'* ESEARCH (TAG "f") COUNT 0 PARTIAL (1:3 NIL)']
    assert cmd(r, "g", "SEARCH RETURN (PARTIAL 1:2 MAX) ALL")[0] == [
        b'* ESEARCH (TAG "g") MAX 10 PARTIAL (1:2 1:2)']
    assert cmd(r, "h", "SORT RETURN (PARTIAL -2:-1) (REVERSE SUBJECT) UTF-8 ALL")[0] == [
        b'* ESEARCH (TAG "h") PARTIAL (-2:-1 6,2)']
    # The negative range as the client wrote it (it was "-2:-4" before).
    assert cmd(r, "h2", "SEARCH RETURN (PARTIAL -4:-2) ALL")[0] == [
        b'* ESEARCH (TAG "h2") PARTIAL (-4:-2 7:9)']
    assert cmd(r, "h3", "SEARCH RETURN (PARTIAL 4:2) ALL")[0] == [
        b'* ESEARCH (TAG "h3") PARTIAL (2:4 2:4)']
    for tag, bad in (("i", "(PARTIAL 1:3 ALL)"), ("j", "(PARTIAL 0:1)"), ("k", "(PARTIAL -1:3)"),
                     ("l", "(PARTIAL 1)"), ("m", "(PARTIAL)"), ("n", "(PARTIAL 1:2 PARTIAL 3:4)"),
                     ("o", "(PARTIAL 1:4294967296)")):
        u, t = cmd(r, tag, "SEARCH RETURN %s ALL" % bad)
        assert t.startswith(tag.encode() + b" BAD") and not u, (bad, u, t)
    # PARTIAL with SAVE keeps what it returned.
    assert cmd(r, "p", "SEARCH RETURN (PARTIAL 2:3 SAVE) ALL")[0] == [
        b'* ESEARCH (TAG "p") PARTIAL (2:3 2:3)']
    assert cmd(r, "q", "FETCH $ (UID)")[0] == [b"* 2 FETCH (UID 2)", b"* 3 FETCH (UID 3)"]
    # The UID FETCH modifier: the last two of the set, then positions 3..4.
    assert cmd(r, "r", "UID FETCH 1:* (FLAGS) (PARTIAL -1:-2)")[0] == [
        b"* 9 FETCH (UID 9 FLAGS (\\Recent))", b"* 10 FETCH (UID 10 FLAGS (\\Recent))"]
    assert cmd(r, "s", "UID FETCH 2:8 (UID) (PARTIAL 3:4)")[0] == [
        b"* 4 FETCH (UID 4)", b"* 5 FETCH (UID 5)"]
    assert cmd(r, "t", "UID FETCH 2:8 (UID) (PARTIAL 30:40)") == ([], b"t OK Fetch completed.")
    u, t = cmd(r, "u", "UID FETCH 1:* (UID) (PARTIAL 0:4)")
    assert t.startswith(b"u BAD"), t


def test_imap_esort_partial():
    with srv() as s:
        fill(s)
        r = session(s)
        esort(r)
        partial(r)
        r.close()
