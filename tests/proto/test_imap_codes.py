"""IMAP failure paths and the response code each NO carries (RFC 5530,
RFC 9051 §7.1), for what a client decides on the code alone: CANNOT (the
request can never succeed: DELETE INBOX, CREATE of a name the server
refuses), LIMIT (an implementation limit: a name longer than the server
takes), NONEXISTENT (the mailbox named is not there, whatever the
command, GETMETADATA and SETMETADATA included). Raw sessions over TLS,
one server for the module's tests."""
import atexit

from test_imap import Raw, srv
from test_imap_compliance import cmd_rest

_srv = []


def server():
    if not _srv:
        s = srv()
        s.__enter__()
        atexit.register(s.cleanup)
        _srv.append(s)
    return _srv[0]


def session(utf8=False):
    c = Raw(server())
    c.login()
    if utf8:
        assert tagged(c, "ENABLE UTF8=ACCEPT").startswith(b"OK"), "enable"
    return c


def tagged(c, line, tag="t"):
    """The tagged answer to one command, without the tag."""
    c.send("%s %s\r\n" % (tag, line) if isinstance(line, str) else b"%s %s\r\n" % (tag.encode(), line))
    return cmd_rest(c, tag)[-1][0][len(tag) + 1:]


def code(answer):
    """'NO [CODE]' of a tagged answer, the code's arguments left out;
    an OK is "OK" whatever its code."""
    words = answer.split(b" ", 2)
    if words[0] == b"OK":
        return "OK"
    if len(words) > 1 and words[1].startswith(b"["):
        return (words[0] + b" " + words[1].split(b"]")[0].rstrip(b"]") + b"]").decode()
    return words[0].decode()


def test_delete_inbox_is_cannot():
    # RFC 5530 §3: CANNOT, "the operation violates some invariant of the
    # server and can never succeed"; it said a bare NO.
    c = session()
    assert code(tagged(c, "DELETE INBOX")) == "NO [CANNOT]"
    assert code(tagged(c, "DELETE inbox")) == "NO [CANNOT]"
    c.close()


def test_metadata_of_a_missing_mailbox_is_nonexistent():
    # As SELECT, STATUS, DELETE and RENAME say it (RFC 5530 §3
    # NONEXISTENT); GETMETADATA and SETMETADATA said a bare NO.
    c = session()
    assert code(tagged(c, "GETMETADATA nosuch /private/comment")) == "NO [NONEXISTENT]"
    assert code(tagged(c, 'SETMETADATA nosuch (/private/comment "x")')) == "NO [NONEXISTENT]"
    assert code(tagged(c, "GETMETADATA INBOX /private/comment")) == "OK"
    c.close()
