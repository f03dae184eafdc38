"""IMAP4rev2 (RFC 9051) conformance, found by a probe of what public
conformance suites check (odd MIME structures, sequence sets, SEARCH
keys, two sessions on one mailbox, response codes): one test for each
deviation from a MUST or SHOULD, each failing on the code before its fix.
Answers are read raw where the exact octets matter."""
import unicodedata

from test_imap import Raw, srv


def cmd(r, tag, text):
    r.send((tag + " " + text + "\r\n").encode())
    return r.until_tag(tag)


def lists(out):
    return [l for l in out if l.startswith(b"* LIST ")]


def test_imap_rev2_select_sends_the_mailbox_list_line():
    """RFC 9051 §6.3.2: "REQUIRED untagged responses: FLAGS, EXISTS,
    LIST" — "The server MUST return a LIST response with the mailbox
    name. The list of mailbox attributes MUST be accurate", and a name
    given de-normalized comes back normalized with OLDNAME. IMAP4rev1
    sessions get no LIST (RFC 3501 has none there)."""
    nfc = "Caf\u00e9"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    with srv() as s:
        r = Raw(s)
        r.login()
        assert cmd(r, "a", "ENABLE IMAP4rev2")[-1].startswith(b"a OK")
        for name in ("Parent/Child", "Sent2", nfc):
            assert cmd(r, "b", 'CREATE "%s"' % name)[-1].startswith(b"b OK")

        out = cmd(r, "c", "SELECT inbox")
        assert out[-1].startswith(b"c OK [READ-WRITE]"), out
        assert lists(out) == [b'* LIST (\\HasNoChildren) "/" INBOX'], out
        out = cmd(r, "d", "EXAMINE Parent")
        assert out[-1].startswith(b"d OK [READ-ONLY]"), out
        assert lists(out) == [b'* LIST (\\HasChildren) "/" Parent'], out
        out = cmd(r, "e", "SELECT Parent/Child")
        assert lists(out) == [b'* LIST (\\HasNoChildren) "/" Parent/Child'], out
        # Special use, as LIST gives it.
        listed = lists(cmd(r, "f", 'LIST "" Sent'))
        out = cmd(r, "g", "SELECT Sent")
        assert lists(out) == listed and b"\\Sent" in listed[0], (out, listed)
        # Asked decomposed: the normalized name, and the one asked as OLDNAME.
        out = cmd(r, "h", 'SELECT "%s"' % nfd)
        assert out[-1].startswith(b"h OK"), out
        want = ('* LIST (\\HasNoChildren) "/" "%s" ("OLDNAME" ("%s"))' % (nfc, nfd)).encode()
        assert lists(out) == [want], out
        out = cmd(r, "i", 'SELECT "%s"' % nfc)
        assert lists(out) == [('* LIST (\\HasNoChildren) "/" "%s"' % nfc).encode()], out
        # A name of the longest kind (TERN_MAX_MAILBOX_NAME, 255 octets):
        # its line is longer than 256 octets, a bound it once had.
        long = "Long/" + "n" * 250
        assert cmd(r, "k", 'CREATE "%s"' % long)[-1].startswith(b"k OK")
        out = cmd(r, "l", 'SELECT "%s"' % long)
        assert lists(out) == [('* LIST (\\HasNoChildren) "/" %s' % long).encode()], out
        # A failed SELECT lists nothing.
        out = cmd(r, "j", "SELECT Nosuch")
        assert out[-1].startswith(b"j NO [NONEXISTENT]") and not lists(out), out
        r.close()

        r1 = Raw(s)
        r1.login()
        out = cmd(r1, "a", "SELECT INBOX")
        assert out[-1].startswith(b"a OK") and not lists(out), out
        r1.close()
