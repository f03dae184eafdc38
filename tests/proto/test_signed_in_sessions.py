"""Where you are signed in (OWASP ASVS 4.0 V3.3.4): an account lists its
own portal sessions (GET /me/sessions) and ends one of them (DELETE
/me/sessions/{handle}) or every other (DELETE /me/sessions); the admin
the same for its own (/sessions). The list names a session by a handle,
never by its id (the cookie's secret); a handle works only for its
owner (another account's is 404); ending takes the owner's password and
the CSRF token as every other DELETE; the user agent is cut to 160
bytes; an account holds at most 8 sessions (the least recently used
goes)."""
from httpc import ACCOUNT_COOKIE, Api, admin_server

BOB, BOB_PW = "bob@example.test", "bob-password-1-Zq"
EVE, EVE_PW = "eve@example.test", "eve-password-1-Zq"


def portal(s, email, password, source, agent):
    p = Api(s, source=source, cookie_name=ACCOUNT_COOKIE)
    st, _, out = p.call("POST", "/me/session", {"email": email, "password": password},
                        headers={"User-Agent": agent})
    assert st == 200, out
    p.password = password
    return p


def listed(client, path="/me/sessions"):
    st, _, out = client.call("GET", path)
    assert st == 200, out
    return out


def test_portal_sessions_list_and_end():
    s, a = admin_server(accounts=[(BOB, BOB_PW), (EVE, EVE_PW)])
    with s:
        laptop = portal(s, BOB, BOB_PW, "127.0.0.5", "Laptop/1.0 " + "x" * 400)
        phone = portal(s, BOB, BOB_PW, "127.0.0.6", "Phone/2.0")
        eve = portal(s, EVE, EVE_PW, "127.0.0.7", "Eve/1.0")

        # Both of bob's, this one marked; no id, no cookie value in it.
        out = listed(laptop)
        assert out["max"] == 8, out
        rows = out["sessions"]
        assert len(rows) == 2, out
        by_agent = {r["user_agent"].split("/")[0]: r for r in rows}
        assert by_agent["Laptop"]["current"] is True and by_agent["Phone"]["current"] is False, rows
        assert by_agent["Laptop"]["ip"] == "127.0.0.5" and by_agent["Phone"]["ip"] == "127.0.0.6", rows
        assert len(by_agent["Laptop"]["user_agent"]) == 160, rows
        assert all(r["created"] > 0 and r["last_used"] >= r["created"] for r in rows), rows
        assert all(len(r["handle"]) == 32 for r in rows), rows
        text = repr(out)
        assert laptop.cookie not in text and phone.cookie not in text, out
        assert laptop.csrf not in text and phone.csrf not in text, out
        phone_handle = by_agent["Phone"]["handle"]
        # The phone sees the same sessions, itself marked.
        assert [r["current"] for r in listed(phone)["sessions"] if r["handle"] == phone_handle] == [True]

        # Another account's handle is none of eve's: 404, and bob's phone goes on.
        st, _, out = eve.call("DELETE", "/me/sessions/" + phone_handle)
        assert st == 404 and out["code"] == "not_found", out
        assert [r["handle"] for r in listed(eve)["sessions"]] != [phone_handle]
        # Nor the admin's list or routes: the admin sees only its own.
        admin_rows = listed(a, "/sessions")["sessions"]
        assert phone_handle not in [r["handle"] for r in admin_rows], admin_rows
        st, _, out = a.call("DELETE", "/sessions/" + phone_handle)
        assert st == 404, out
        st, _, _ = phone.call("GET", "/me")
        assert st == 200

        # Ending is a write: without the CSRF token 403, without the
        # password 400, nothing ended; an unknown field 400 as elsewhere.
        st, _, out = laptop.call("DELETE", "/me/sessions/" + phone_handle, {"password": BOB_PW}, csrf=False)
        assert st == 403 and out["code"] == "csrf", out
        st, _, out = laptop.call("DELETE", "/me/sessions/" + phone_handle, {})
        assert st == 400 and out["code"] == "missing_field", out
        st, _, out = laptop.call("DELETE", "/me/sessions/" + phone_handle, {"password": "wrong-one-1"})
        assert st == 400 and out["code"] == "wrong_password", out
        st, _, out = laptop.call("DELETE", "/me/sessions/" + phone_handle,
                                 {"password": BOB_PW, "all": True})
        assert st == 400 and out["code"] == "unknown_field", out
        st, _, _ = phone.call("GET", "/me")
        assert st == 200

        # The laptop ends the phone: the phone's cookie gets 401, the laptop goes on.
        st, _, out = laptop.call("DELETE", "/me/sessions/" + phone_handle)
        assert st == 204, out
        st, _, out = phone.call("GET", "/me")
        assert st == 401, out
        st, _, out = laptop.call("GET", "/me")
        assert st == 200, out
        assert [r["current"] for r in listed(laptop)["sessions"]] == [True]
        st, _, out = laptop.call("DELETE", "/me/sessions/" + phone_handle)
        assert st == 404, out

        # "Everywhere else": three more sign-ins, then only this one is left.
        others = [portal(s, BOB, BOB_PW, "127.0.0.%d" % (8 + i), "Other/%d" % i) for i in range(3)]
        assert len(listed(laptop)["sessions"]) == 4
        st, _, out = laptop.call("DELETE", "/me/sessions", {"password": BOB_PW}, csrf=False)
        assert st == 403, out
        st, _, out = laptop.call("DELETE", "/me/sessions")
        assert st == 204, out
        rows = listed(laptop)["sessions"]
        assert len(rows) == 1 and rows[0]["current"] and rows[0]["user_agent"].startswith("Laptop/"), rows
        for o in others:
            st, _, _ = o.call("GET", "/me")
            assert st == 401
        st, _, _ = eve.call("GET", "/me")
        assert st == 200, "another account's session ended with bob's"

        # Ending this very session by its handle is signing out.
        st, hd, out = laptop.call("DELETE", "/me/sessions/" + rows[0]["handle"])
        assert st == 204 and hd["set-cookie"].startswith("__Host-tern_account=;"), (out, hd)
        st, _, _ = Api(s, cookie_name=ACCOUNT_COOKIE).call("GET", "/me/sessions")
        assert st == 401


def test_sessions_capped_per_account():
    s, a = admin_server(accounts=[(BOB, BOB_PW)])
    with s:
        first = portal(s, BOB, BOB_PW, "127.0.0.5", "First/1")
        rest = [portal(s, BOB, BOB_PW, "127.0.0.6", "N/%d" % i) for i in range(8)]
        rows = listed(rest[-1])["sessions"]
        assert len(rows) == 8, rows
        assert "First/1" not in [r["user_agent"] for r in rows], rows
        st, _, _ = first.call("GET", "/me")
        assert st == 401


def test_admin_sessions_list_and_end():
    s, a = admin_server()
    with s:
        b = Api(s, source="127.0.0.9")
        st, _, out = b.call("POST", "/session", {"password": a.password}, headers={"User-Agent": "Second/1"})
        assert st == 200, out
        b.password = a.password
        rows = listed(a, "/sessions")["sessions"]
        assert len(rows) == 2 and sorted(r["current"] for r in rows) == [False, True], rows
        other = [r for r in rows if not r["current"]][0]
        assert other["user_agent"] == "Second/1" and other["ip"] == "127.0.0.9", rows
        assert a.cookie not in repr(rows) and b.cookie not in repr(rows)

        st, _, out = a.call("DELETE", "/sessions/" + other["handle"], {"password": a.password}, csrf=False)
        assert st == 403 and out["code"] == "csrf", out
        st, _, out = a.call("DELETE", "/sessions/" + other["handle"])
        assert st == 204, out
        st, _, _ = b.call("GET", "/session")
        assert st == 401
        st, _, _ = a.call("GET", "/session")
        assert st == 200

        # A bearer token sees every admin session, none current, and
        # "everywhere else" from it ends them all.
        st, _, tok = a.call("POST", "/tokens", {"name": "t", "password": a.password})
        assert st == 201, tok
        t = Api(s)
        t.token = tok["token"]
        rows = listed(t, "/sessions")["sessions"]
        assert len(rows) == 1 and rows[0]["current"] is False, rows
        b.call("POST", "/session", {"password": a.password})
        st, _, out = a.call("DELETE", "/sessions")
        assert st == 204, out
        st, _, _ = b.call("GET", "/session")
        assert st == 401
        st, _, _ = a.call("GET", "/session")
        assert st == 200
        st, _, out = t.call("DELETE", "/sessions")
        assert st == 204, out
        st, _, _ = a.call("GET", "/session")
        assert st == 401
