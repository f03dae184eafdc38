"""The relay host (issue 31): one validation for the web UI, the wizard
and TERN_RELAY_HOST: a port past 65535 or no host at all is refused by
the API (400) as by start-up (exit 2). Deferred mail's log lines
name the relay, not relay=none, when the relay did not answer."""
import subprocess
import time

from harness import TERN, Raw
from httpc import ADMIN_PW, admin_server
from test_queue import World

BAD = ["smtp.example.net:99999", ":587", "smtp.example.net:0", "smtp example.net",
       "smtp.example.net:58x7", "[::1"]


def test_relay_host_one_validation():
    s, a = admin_server()
    with s:
        for v in BAD:
            st, _, body = a.call("PUT", "/settings", {"relay_host": v})
            assert st == 400 and body.get("field") == "relay_host", (v, st, body)
            # TERN_RELAY_HOST: the same values stop start-up.
            r = subprocess.run([TERN, "serve"], env=dict(s.env, TERN_RELAY_HOST=v),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            assert r.returncode == 2 and b"TERN_RELAY_HOST" in r.stderr, (v, r.stderr)
        for v in ("smtp.example.net:587", "smtp.example.net", "[::1]:2525", "192.0.2.1:25"):
            st, _, body = a.call("PUT", "/settings", {"relay_host": v, "password": ADMIN_PW})
            assert st in (200, 204), (v, st, body)
        st, _, body = a.call("PUT", "/settings", {"relay_host": ""})
        assert st in (200, 204), body


def test_deferred_mail_names_the_relay():
    # A relay on a loopback port nobody listens on: refused at connect.
    w = World({}, env={"TERN_RELAY_HOST": "127.0.0.1:9"})
    with w:
        w.send(["carol@remote.test"])
        assert w.srv.wait_log("event=deferred"), w.srv.log_text()
        lines = [l for l in w.srv.log_text().splitlines() if "event=deferred" in l]
        assert lines and all("relay=127.0.0.1:9 " in l for l in lines), lines
        assert not any("relay=none" in l for l in lines), lines
