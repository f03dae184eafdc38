"""Abuse policy (issue 28): what the API tells a stranger, names that cannot
be taken over, who may be named as the sender on submission, where success
notices may go, and the mailbox limits. One server per group of checks."""
import json

from harness import Server
from httpc import Api, admin_server

ADMIN_PW = "admin-password-1-Vq8r"


def test_setup_state_and_alias_takeover():
    s, a = admin_server(password=ADMIN_PW, domains=("example.test",),
                        accounts=(("a@example.test", "a-password-1-Vq8r"),
                                  ("b@example.test", "b-password-1-Vq8r")))
    with s:
        # Finding 8: an alias on an account's address would take b's mail
        # (aliases resolve first) and let a send as b. Refused by the API
        # and the CLI; the account keeps its mail.
        st, _, p = a.call("POST", "/aliases", {"alias": "b@example.test", "target": "a@example.test"})
        assert st == 409 and p["code"] == "exists" and "account" in p["detail"], (st, p)
        r = s.cli("alias", "add", "B@example.test", "a@example.test", check=False)
        assert r.returncode != 0 and b"is an account" in r.stderr + r.stdout, r
        assert "b@example.test" not in s.cli("alias", "list").stdout.decode()
        # The reverse: an account on an alias's address.
        s.cli("alias", "add", "info@example.test", "a@example.test")
        st, _, p = a.call("POST", "/accounts", {"email": "info@example.test", "current": ADMIN_PW,
                                                "password": "info-password-1-Vq8r"})
        assert st == 409 and p["code"] == "exists" and "alias" in p["detail"], (st, p)
        r = s.cli("account", "add", "info@example.test", input="info-password-1-Vq8r\n", check=False)
        assert r.returncode != 0 and b"is an alias" in r.stderr + r.stdout, r
        # A catch-all is not an account's address: still allowed.
        assert a.call("POST", "/aliases", {"alias": "@example.test",
                                           "target": "a@example.test"})[0] == 201

        # Finding 7: after setup a stranger learns that setup is done,
        # nothing more (not the relay, host name or account count).
        assert a.call("PUT", "/setup/relay", {"host": "smtp.relay.test:587", "user": "relayuser",
                                              "password": "relay-secret",
                                              "current": ADMIN_PW})[0] == 200
        st, _, state = a.call("POST", "/setup/complete")
        assert st == 200 and state["completed"], state
        anon = Api(s)
        st, _, pub = anon.call("GET", "/setup")
        assert st == 200 and pub == {"completed": True}, pub
        raw = json.dumps(pub)
        for secret in ("relay", "smtp.relay.test", "mx.example.test", "count"):
            assert secret not in raw, raw
        # A wrong session cookie or token is a stranger too.
        anon.token = "0" * 64
        assert anon.call("GET", "/setup")[2] == {"completed": True}
        # The admin still sees the whole state.
        st, _, full = a.call("GET", "/setup")
        assert full["relay"]["host"] == "smtp.relay.test:587" and full["account"]["count"] == 2, full


def test_setup_state_before_admin():
    """Before an admin exists a stranger sees the flags the wizard's first
    steps need; the rest needs the setup code (a wrong one counts as a
    failed login), and after the admin exists a session."""
    with Server(http=True, domains=(), env={"TERN_RELAY_HOST": "relay.env.test",
                                            "TERN_RELAY_USER": "envuser",
                                            "TERN_RELAY_PASSWORD": "env-secret-1"}) as s:
        a = Api(s)
        st, _, pub = a.call("GET", "/setup")
        assert pub == {"completed": False, "admin_exists": False, "code_required": True,
                       "admin": {"done": False, "locked": False}}, pub
        a.setup_code = "AAAA-BBBB-CCCC"
        assert "relay" not in a.call("GET", "/setup")[2]
        assert s.wait_log("event=auth_failed")
        from httpc import setup_code_from_log
        a.setup_code = setup_code_from_log(s)
        st, _, full = a.call("GET", "/setup")
        assert full["relay"]["host"] == "relay.env.test" and full["hostname"]["locked"], full
        assert a.call("POST", "/setup/admin", {"password": ADMIN_PW})[0] == 201
        a.setup_code = None
        # A stranger, while the wizard is not finished: flags only.
        st, _, pub = Api(s).call("GET", "/setup")
        assert pub == {"completed": False, "admin_exists": True, "code_required": False,
                       "admin": {"done": True, "locked": False}}, pub
        assert a.call("GET", "/setup")[2]["relay"]["user"] == "envuser"


class dns_stopped:
    def __init__(self, dns):
        self.dns = dns

    def __enter__(self):
        return self.dns

    def __exit__(self, *a):
        self.dns.stop()


def test_success_notices_not_reflected():
    """Finding 10: on port 25 `MAIL FROM:<victim@elsewhere> RET=FULL` with
    NOTIFY=SUCCESS made tern mail the whole message to the victim. No
    notice goes to a sender outside our domains (nothing verifies it yet),
    and a success notice carries the header only, whatever RET says
    (RFC 3461 §4.3)."""
    import smtplib
    from harness import message
    from mailpeers import DnsServer
    # carol@example.test sends from this machine with SPF passing: port 25
    # refuses mail from our own domains that does not (test_inbound_auth).
    dns = DnsServer({"example.test": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]}})
    with dns_stopped(dns), Server(accounts=(("bob@example.test", "bob-password-1"),
                                            ("carol@example.test", "carol-password-19")),
                                  env={"TERN_DNS_SERVERS": dns.servers}) as s:
        big = "Secret body line.\r\n" + ("x" * 70 + "\r\n") * 3000
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10) as c:
            c.sendmail("victim@elsewhere.test", ["bob@example.test"],
                       message(subject="reflect", body=big, sender="victim@elsewhere.test"),
                       mail_options=["RET=FULL"], rcpt_options=["NOTIFY=SUCCESS"])
            c.sendmail("carol@example.test", ["bob@example.test"],
                       message(subject="local receipt", body=big, sender="carol@example.test"),
                       mail_options=["RET=FULL"], rcpt_options=["NOTIFY=SUCCESS"])
        assert s.wait_log("event=notice_skipped kind=delivered reason=unverified_sender")
        assert s.wait_log("event=notice kind=delivered to=local")
        assert "to=remote" not in s.log_text()
        assert b"queue is empty" in s.cli("queue", "list").stdout
        msgs = s.messages("carol@example.test")
        assert len(msgs) == 1, msgs
        raw = s.raw("carol@example.test", msgs[0][0])
        assert b"Subject: Successful Mail Delivery Report" in raw
        assert b"Subject: local receipt" in raw and b"text/rfc822-headers" in raw, raw[:2000]
        assert b"Secret body line" not in raw and b"message/rfc822" not in raw
        assert len(raw) < 8000, len(raw)


def test_submission_resent_and_display_name():
    """Submission: Resent-From / Resent-Sender must be the account's own,
    like From and Sender, and a display name (or comment) that shows an
    address other than the real one is refused: the reader would see it."""
    import smtplib
    from test_submission import ALICE, ALICE_PW, BOB, ACCOUNTS, msg, refused, smtp465, inbox
    with Server(submission=True, accounts=ACCOUNTS) as s:
        bad = [
            ("From", '"bob@example.test" <alice@example.test>', "display name"),
            ("From", "bob@example.test <alice@example.test>", "not understood"),
            ("From", "alice@example.test (bob@example.test)", "display name"),
            ("From", "=?utf-8?b?Ym9iQGV4YW1wbGUudGVzdA==?= <alice@example.test>", "display name"),
            ("From", '"bob\uff20example.test" <alice@example.test>', "display name"),
            ("Resent-From", BOB, "not owned"),
            ("Resent-Sender", BOB, "not owned"),
            ("Resent-From", '"bob@example.test" <alice@example.test>', "display name"),
        ]
        for field, value, why in bad:
            c = smtp465(s, (ALICE, ALICE_PW))
            if field == "From":
                m = msg(frm=value)
            else:
                m = msg(extra="Resent-Date: Fri, 20 Nov 2026 12:00:00 +0000\r\n%s: %s\r\n" % (field, value))
            text = refused(lambda: c.sendmail(ALICE, [BOB], m.encode()), 553)
            assert text.startswith("5.7.1") and why in text, (field, value, text)
            c.quit()
        # The account's own address shown as itself, in a name or a
        # Resent block, is fine, and so is another address of the account
        # (its alias); so are names that are not addresses.
        s.cli("alias", "add", "sales@example.test", ALICE)
        c = smtp465(s, (ALICE, ALICE_PW))
        for frm, extra in (('"alice@example.test" <Alice@Example.TEST>', ""),
                           ('"Sales (sales@example.test)" <alice@example.test>', ""),
                           ('"Alice @ home" <alice@example.test>', ""),
                           ("Alice <alice@example.test>",
                            "Resent-From: Alice (alice@example.test) <alice@example.test>\r\n"
                            "Resent-Sender: alice@example.test\r\n")):
            c.sendmail(ALICE, [BOB], msg(frm=frm, extra=extra))
        c.quit()
        assert len(inbox(s, BOB, 4)) == 4
        assert "reason=name_shows_other" in s.log_text()


def test_mailbox_limits():
    """No account grows its mailbox list without bound: new names of at
    most TERN_MAX_MAILBOX_NAME octets (255 by default) get NO [LIMIT]
    beyond, and at most TERN_MAX_MAILBOXES mailboxes (1000 by default; 12
    here) get NO [LIMIT] beyond (RFC 5530 codes). A bad value stops start-up."""
    import imaplib
    import subprocess
    from harness import TERN
    with Server(imap=True, accounts=(("bob@example.test", "bob-password-1"),),
                env={"TERN_MAX_MAILBOXES": "12"}) as s:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        c = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx, timeout=20)
        c.login("bob@example.test", "bob-password-1")

        def no(cmd, *args):
            typ, data = getattr(c, cmd)(*args)
            assert typ == "NO", (cmd, typ, data)
            return data[0].decode()

        assert c.create("n" * 255)[0] == "OK"
        assert no("create", "n" * 256).startswith("[LIMIT]")
        assert no("create", "n" * 3000).startswith("[LIMIT]")
        assert no("create", "a/" + "n" * 254).startswith("[LIMIT]")
        assert c.create("Parent")[0] == "OK" and c.create("Parent/" + "k" * 200)[0] == "OK"
        # A rename whose children's names would pass the limit changes nothing.
        assert no("rename", "Parent", "P" * 60).startswith("[LIMIT]")
        # 6 default mailboxes + 3 = 9 of 12: a path with 4 new levels does
        # not fit and creates none of them; 3 more fit, then no more.
        assert no("create", "w/x/y/z").startswith("[LIMIT]")
        assert c.create("w/x/y")[0] == "OK"
        assert no("create", "v").startswith("[LIMIT]")
        # Deleting makes room again.
        assert c.delete("w/x/y")[0] == "OK" and c.create("v")[0] == "OK"
        typ, names = c.list()
        assert len(names) == 12 and not any(b"w/x/y/z" in n for n in names), names
        c.logout()
    for var, val in (("TERN_MAX_MAILBOXES", "5"), ("TERN_MAX_MAILBOX_NAME", "2000")):
        r = subprocess.run([TERN, "serve"], env={"PATH": "/usr/bin:/bin", var: val,
                                                 "TERN_DATA_DIR": "/nonexistent-tern-policy"},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        assert r.returncode == 2 and var in r.stderr.decode(), (var, r)
        assert len(r.stderr.decode().strip().splitlines()) == 1, r.stderr


def test_relay_password_sealed_apart_from_the_store():
    """The relay password stored by the wizard / API is sealed with a key
    file kept beside the store (secrets.key, mode 0600), never in data.mdb
    in the clear; the relay still gets it after a restart."""
    import os
    import smtplib
    import stat
    from mailpeers import Receiver, free_port_on, unique_ips
    from test_submission import ctx
    ips = unique_ips(1)
    port = free_port_on(ips)
    secret = "relay-Secret-4711"
    # The relay's certificate is verified: its self-signed one is pinned.
    r = Receiver(ips[0], port, tls=True, auth=("relayuser", secret))
    s, a = admin_server(password=ADMIN_PW, submission=True,
                        accounts=(("alice@example.test", "alice-password-17"),),
                        env={"TERN_QUEUE_RETRY_SCHEDULE": "1", "TERN_QUEUE_TIMEOUT": "3",
                             "TERN_TLS_CA_FILE": os.path.join(r.tmp, "peer.crt")})
    with s:
        st, _, body = a.call("PUT", "/settings", {"relay_host": "%s:%d" % (ips[0], port),
                                                  "relay_user": "relayuser",
                                                  "relay_password": secret,
                                                  "password": ADMIN_PW})
        assert st == 200, body
        key = os.path.join(s.data, "secrets.key")
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600 and os.path.getsize(key) == 32
        with open(os.path.join(s.data, "data.mdb"), "rb") as f:
            store = f.read()
        assert secret.encode() not in store and b"sb1:" in store
        # Stored relay settings apply at the next start.
        s.stop()
        s.start()
        try:
            c = smtplib.SMTP("127.0.0.1", s.submission_port, timeout=20)
            c.starttls(context=ctx())
            c.login("alice@example.test", "alice-password-17")
            c.sendmail("alice@example.test", ["carol@remote.test"],
                       "From: alice@example.test\r\nTo: carol@remote.test\r\nSubject: via relay\r\n\r\nHi.\r\n")
            c.quit()
            msgs = r.wait_messages(1)
            assert len(msgs) == 1 and msgs[0]["auth"] == "relayuser", s.log_text()
        finally:
            r.stop()
        assert secret not in s.log_text()


def test_key_file_left_half_made_is_removed_at_start():
    """The key file is written as secrets.key.PID.tmp, fsynced and linked
    into place; a kill in between (the first start's, or a command's) left
    the temporary file for good. A start now removes those whose process
    is gone, and nothing else: another process's file while it lives,
    names not of that pattern."""
    import os
    import subprocess
    p = subprocess.Popen(["true"])
    p.wait()
    dead = p.pid  # a PID no process has now
    stale = "secrets.key.%d.tmp" % dead
    kept = ["secrets.key.%d.tmp" % os.getpid(), "secrets.key.x%d.tmp" % dead,
            "secrets.key.%d.tmpx" % dead, "secrets.key.%d" % dead, "other.%d.tmp" % dead]
    with Server() as s:
        s.stop()
        for name in [stale] + kept:
            with open(os.path.join(s.data, name), "wb") as f:
                f.write(b"k" * 7)
        s.start()
        left = set(os.listdir(s.data))
        assert stale not in left, left
        assert set(kept) <= left, left
        assert "event=secret_tmp_removed files=1" in s.log_text()
