"""`tern admin passwd` (issue 31): the web admin's password changes from
the CLI while the server runs: the new one signs in, the old one no
longer does; a short one is refused; with TERN_ADMIN_PASSWORD set the
command refuses (the variable wins) and changes nothing. One server."""
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
    s, a = admin_server(password=OLD)
    with s:
        assert a.call("PUT", "/admin/password", {"password": "short"})[0] == 400
        assert a.call("PUT", "/admin/password", {"password": NEW})[0] == 204
        assert Api(s).login(NEW)[0] == 200
        assert Api(s).login(OLD)[0] == 401
