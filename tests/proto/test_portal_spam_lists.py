"""An account's own allow and block lists from the portal: GET and PUT
/api/v1/me/spam-lists read and write the signed-in account's lists, the
ones the administrator sees at /api/v1/spam/lists/{email}, with the same
checks (a bad entry, a list over its size: 400 naming the field; entries
lowercased and sorted); there is no way to name another account (the
route has no scope, a "scope" field is refused, another account's lists
stay as they were), and without a portal session the route is 401. A
sender the user blocked is then refused for that user on port 25 and
accepted for another. One tern."""
import smtplib

from httpc import admin_server
from test_portal import Portal

PAT, PAT_PW = "pat@example.test", "portal-pw-1"
SAM, SAM_PW = "sam@example.test", "portal-pw-2"


def rcpt_reply(s, sender, rcpt):
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=20) as c:
        c.ehlo("mta.origin.test")
        c.mail(sender)
        code, _ = c.rcpt(rcpt)
        if code != 250:
            return code
        code, _ = c.data(("From: <%s>\r\nTo: <%s>\r\nSubject: hi\r\n"
                          "Message-ID: <1@origin.test>\r\n\r\nHello.\r\n" % (sender, rcpt)).encode())
        return code


def test_account_edits_its_own_spam_lists():
    s, admin = admin_server(accounts=[(PAT, PAT_PW), (SAM, SAM_PW)])
    with s:
        assert Portal(s).call("GET", "/me/spam-lists")[0] == 401
        assert Portal(s).call("PUT", "/me/spam-lists", {"block": ["x.test"]})[0] == 401
        st, _, body = admin.call("PUT", "/spam/lists/" + SAM, {"block": ["sam-blocks.test"]})
        assert st == 200, body

        p = Portal(s)
        assert p.login(PAT, PAT_PW)[0] == 200
        st, body = p.call("GET", "/me/spam-lists")
        assert st == 200 and body == {"scope": PAT, "allow": [], "block": []}, body

        st, body = p.call("PUT", "/me/spam-lists",
                          {"allow": ["Friend.Test", "192.0.2.0/24"], "block": ["@Blocked.test"]})
        assert st == 200, body
        assert body == {"scope": PAT, "allow": ["192.0.2.0/24", "friend.test"],
                        "block": ["@blocked.test"]}, body
        # What the administrator sees for the account.
        st, _, body = admin.call("GET", "/spam/lists/" + PAT)
        assert st == 200 and body["allow"] == ["192.0.2.0/24", "friend.test"], body
        assert body["block"] == ["@blocked.test"], body

        # The admin's checks: a bad entry, a list over 16 KiB.
        for field, bad in (("block", ["not a domain!"]), ("allow", ["10.0.0.0/99"]),
                           ("allow", "friend.test")):
            st, body = p.call("PUT", "/me/spam-lists", {field: bad})
            assert st == 400 and body["field"] == field, (bad, body)
        st, body = p.call("PUT", "/me/spam-lists",
                          {"block": ["s%d-%s.example.org" % (i, "x" * 30) for i in range(1000)]})
        assert st == 400 and body["field"] == "block" and "over 16384" in body["detail"], body
        # No other account: no scope to name, sam's lists untouched.
        st, body = p.call("PUT", "/me/spam-lists", {"scope": SAM, "block": ["evil.test"]})
        assert st == 400 and body["code"] == "unknown_field", body
        st, _, body = admin.call("GET", "/spam/lists/" + SAM)
        assert st == 200 and body["block"] == ["sam-blocks.test"] and body["allow"] == [], body
        st, body = p.call("GET", "/me/spam-lists")
        assert body["block"] == ["@blocked.test"], body

        # Without the session's CSRF token a write is refused.
        token, p.csrf = p.csrf, None
        assert p.call("PUT", "/me/spam-lists", {"block": []})[0] == 403
        p.csrf = token

        # The block counts for pat, not for sam.
        assert rcpt_reply(s, "x@blocked.test", PAT) == 550
        assert rcpt_reply(s, "x@blocked.test", SAM) == 250

        # An emptied list.
        st, body = p.call("PUT", "/me/spam-lists", {"block": []})
        assert st == 200 and body["block"] == [] and body["allow"] == ["192.0.2.0/24", "friend.test"], body
        assert rcpt_reply(s, "x@blocked.test", PAT) == 250


def test_a_refused_put_changes_nothing():
    """A PUT of the spam settings or of a scope's lists whose last field
    is bad is 400 naming that field, and the good fields before it are
    not stored either: the client was told the request failed. The admin's
    PUT /spam, its PUT /spam/lists/{scope} and the portal's own lists."""
    s, admin = admin_server(accounts=[(PAT, PAT_PW)])
    with s:
        st, _, before = admin.call("GET", "/spam")
        assert st == 200, before
        st, _, body = admin.call("PUT", "/spam", {
            "dnsbl": "", "junk": 7, "greylist": not before["greylist"],
            "allow": ["friend.test"], "hashes_url": "http://feeds.test/not-https.txt"})
        assert st == 400 and body["field"] == "hashes_url", body
        st, _, after = admin.call("GET", "/spam")
        assert st == 200 and after == before, (before, after)

        st, _, body = admin.call("PUT", "/spam/lists/" + PAT,
                                 {"allow": ["friend.test"], "block": ["not a domain!"]})
        assert st == 400 and body["field"] == "block", body
        p = Portal(s)
        assert p.login(PAT, PAT_PW)[0] == 200
        st, body = p.call("PUT", "/me/spam-lists", {"allow": ["pal.test"], "block": ["10.0.0.0/99"]})
        assert st == 400 and body["field"] == "block", body
        st, _, body = admin.call("GET", "/spam/lists/" + PAT)
        assert st == 200 and body["allow"] == [] and body["block"] == [], body
