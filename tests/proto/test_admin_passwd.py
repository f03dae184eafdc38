"""The web admin's password: `tern admin passwd` (issue 31) changes it
while the server runs: the new one signs in, the old one no longer does;
a short one is refused; with TERN_ADMIN_PASSWORD set the command refuses
(the variable wins) and changes nothing. PUT /admin/password asks for the
current one and ends the other admin sessions, as the portal does."""
import subprocess

from harness import TERN
from httpc import Api, admin_server

OLD = "admin-password-1-Vq8r"
NEW = "new-admin-pw-2"


def test_admin_passwd_from_cli():
    s, a = admin_server(password=OLD)
    with s:
        r = s.cli("admin", "passwd", input="short\n", check=False)
        assert r.returncode == 2 and b"8 to 256" in r.stderr, r.stderr
        env = dict(s.env, TERN_ADMIN_PASSWORD="env-admin-pw-3")
        r = subprocess.run([TERN, "admin", "passwd"], env=env, input=NEW.encode() + b"\n",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert r.returncode == 1 and b"locked" in r.stderr, r.stderr
        assert Api(s).login(OLD)[0] == 200

        r = s.cli("admin", "passwd", input=NEW + "\n")
        assert b"changed" in r.stdout, r.stdout
        assert Api(s).login(NEW)[0] == 200
        assert Api(s).login(OLD)[0] == 401


def test_admin_password_from_api():
    """As in the portal: the current password is asked (checked like a
    sign-in: a wrong one is logged for fail2ban, guessing it is limited),
    and the change ends every other admin session, this one going on; API
    tokens stay. `tern admin passwd` ends the sessions too."""
    s, a = admin_server(password=OLD)
    with s:
        other = Api(s)
        assert other.login(OLD)[0] == 200 and other.call("GET", "/stats")[0] == 200
        tok = s.cli("token", "add", "scripts").stdout.decode().strip()
        bearer = Api(s)
        bearer.token = tok

        st, _, p = a.call("PUT", "/admin/password", {"password": NEW})
        assert st == 400 and p["field"] == "current", p
        st, _, p = a.call("PUT", "/admin/password", {"current": OLD + "x", "password": NEW})
        assert st == 400 and p["code"] == "wrong_password" and p["field"] == "current", p
        assert s.wait_log("module=http event=auth_failed what=admin_password failures=1 ip=127.0.0.1")
        st, _, p = a.call("PUT", "/admin/password", {"current": OLD, "password": "short"})
        assert st == 400 and p["field"] == "password", p
        assert Api(s).login(OLD)[0] == 200  # nothing changed so far

        assert a.call("PUT", "/admin/password", {"current": OLD, "password": NEW})[0] == 204
        assert a.call("GET", "/stats")[0] == 200          # this session goes on
        assert other.call("GET", "/stats")[0] == 401      # the others end
        assert bearer.call("GET", "/stats")[0] == 200     # tokens stay
        assert Api(s).login(NEW)[0] == 200
        assert Api(s).login(OLD)[0] == 401

        # The CLI's change ends the sessions as well.
        r = s.cli("admin", "passwd", input=NEW + "-3\n")
        assert b"changed" in r.stdout, r.stdout
        assert a.call("GET", "/stats")[0] == 401

        # Guessing the current password from a session is limited like a sign-in.
        b = Api(s, source="127.0.0.7")
        assert b.login(NEW + "-3")[0] == 200
        statuses = []
        for i in range(12):
            st, hd, _ = b.call("PUT", "/admin/password", {"current": "guess-%d" % i, "password": NEW})
            statuses.append(st)
            if st == 429:
                break
        assert statuses[-1] == 429 and set(statuses[:-1]) == {400}, statuses
