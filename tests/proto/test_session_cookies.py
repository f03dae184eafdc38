"""The web admin's and the portal's session cookies against another host
of the same domain (OWASP ASVS 4.0 V3.4.4): a page on a sibling name
(blog.example.test next to mail.example.test) may set a cookie for the
whole domain (Domain=example.test), and the browser then sends it to
tern too. Under the names tern_session and tern_account such a cookie
was taken as the session: the attacker's own portal session planted in
the victim's browser (the victim then types mail filters and forwarding
into the attacker's account), or a junk id listed before the real
cookie, which logged the admin out on every request. The names carry
the __Host- prefix (RFC 6265bis §4.1.3.2): a browser keeps such a
cookie only from this very host, Secure, Path=/ and without Domain."""
from httpc import ACCOUNT_COOKIE, ADMIN_COOKIE, Api, admin_server

BOB = ("bob@example.test", "bob-password-1-Tq")


def cookie_attrs(set_cookie):
    name_value, *attrs = [p.strip() for p in set_cookie.split(";")]
    return name_value.split("=", 1), {a.split("=", 1)[0].lower(): a for a in attrs}


def test_session_cookies_cannot_be_planted_from_a_sibling_host():
    s, a = admin_server()
    with s:
        # What the browser is told: the prefixed names, with what the
        # prefix demands (Secure, Path=/, no Domain).
        st, hd, _ = Api(s).call("POST", "/session", {"password": a.password})
        (name, value), attrs = cookie_attrs(hd["set-cookie"])
        assert st == 200 and name == "__Host-tern_session" and len(value) == 64, hd
        assert attrs["path"] == "Path=/" and "secure" in attrs and "domain" not in attrs, attrs
        st, _, _ = a.call("POST", "/accounts", {"email": BOB[0], "password": BOB[1],
                                                 "current": a.password})
        assert st == 201
        bob = Api(s, cookie_name=ACCOUNT_COOKIE)
        st, hd, _ = bob.call("POST", "/me/session", {"email": BOB[0], "password": BOB[1]})
        (name, value), attrs = cookie_attrs(hd["set-cookie"])
        assert st == 200 and name == "__Host-tern_account" and value == bob.cookie, hd
        assert attrs["path"] == "Path=/" and "secure" in attrs and "domain" not in attrs, attrs
        # A portal 401 names the cookie to sign in with (RFC 9110 §15.5.2).
        st, hd, _ = Api(s).call("GET", "/me")
        assert st == 401 and 'cookie-name="__Host-tern_account"' in hd["www-authenticate"], hd

        def ask(path, cookies):
            return a.raw("GET", "/api/v1" + path, headers={"Cookie": cookies})[0]

        # A live session id under the name a sibling host can set opens
        # nothing, on the admin's routes or the portal's.
        assert ask("/stats", "tern_session=" + a.cookie) == 401
        assert ask("/me", "tern_account=" + bob.cookie) == 401
        # A junk id planted under the old name, sent first, no longer
        # shadows the browser's real session.
        junk = "0" * 64
        assert ask("/stats", "tern_session=%s; %s=%s" % (junk, ADMIN_COOKIE, a.cookie)) == 200
        assert ask("/me", "tern_account=%s; %s=%s" % (junk, ACCOUNT_COOKIE, bob.cookie)) == 200
        # Signing out clears the prefixed cookie, as set (Secure, Path=/).
        st, hd, _ = bob.call("DELETE", "/me/session")
        (name, value), attrs = cookie_attrs(hd["set-cookie"])
        assert st == 204 and (name, value) == ("__Host-tern_account", ""), hd
        assert attrs["max-age"] == "Max-Age=0" and "secure" in attrs and attrs["path"] == "Path=/"
        st, hd, _ = a.call("DELETE", "/session")
        (name, value), attrs = cookie_attrs(hd["set-cookie"])
        assert st == 204 and (name, value) == ("__Host-tern_session", ""), hd
        assert attrs["max-age"] == "Max-Age=0" and "secure" in attrs and attrs["path"] == "Path=/"
