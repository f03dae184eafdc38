"""tern migrate against a Dovecot set up the way other servers are
(issue 35): STARTTLS on imap:// verified against TERN_TLS_CA_FILE (and
refused without it: no password goes to a server whose certificate does
not verify), Courier-style names (personal namespace "INBOX.", "."
separator) taken off so INBOX.Work.Deep becomes Work/Deep, a public
namespace's folders left out, and --sieve copying Sieve scripts over
ManageSieve (STARTTLS too) with the active one made active, and a script
tern cannot run reported, not stored. Also: the source's special-use
roles and subscriptions brought over, from servers with and without
SPECIAL-USE and LSUB (an ImapFilter proxy plays the older ones)."""
import base64
import imaplib
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import dovecot_peer
from harness import Server, free_port
from mailpeers import ca_signed, test_ca as make_ca

BOB, BOB_PW = "bob@example.test", "bob-pw-1"
CAROL, CAROL_PW = "carol@example.test", "carol-pw-1"

RULES = b'require ["fileinto"];\r\nif header :contains "subject" "report" {\r\n  fileinto "Work";\r\n}\r\n'
AWAY = b'require ["vacation"];\r\nvacation :days 3 "Away until Monday.";\r\n'
# A Pigeonhole-only extension: tern's compiler refuses it.
ODD = b'require ["vnd.dovecot.debug"];\r\ndebug_log "hello";\r\n'


def msg(i, subject):
    return ("From: s%d@remote.test\r\nTo: alice@example.test\r\nSubject: %s %d\r\n"
            "Message-ID: <m%d@remote.test>\r\n\r\nBody %d\r\n" % (i, subject, i, i, i)).encode()


def folder_counts(port, user, pw):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
    m.login(user, pw)
    out = {}
    for line in m.list()[1]:
        name = re.search(rb'"([^"]*)"$|(\S+)$', line)
        name = (name.group(1) or name.group(2)).decode()
        typ, data = m.select('"%s"' % name, readonly=True)
        out[name] = int(data[0])
    m.logout()
    return out


def test_migrate_starttls_namespaces_sieve():
    if not dovecot_peer.available() or not os.path.exists("/usr/lib/dovecot/managesieve"):
        return "skip"
    tmp = tempfile.mkdtemp(prefix="tern-migrate-")
    ca = make_ca(tmp)
    cert = ca_signed(tmp, ca, "localhost")
    s = Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True,
               env={"TERN_TLS_CA_FILE": ca[0]})
    try:
        with dovecot_peer.DovecotPeer([("alice", "alice-pw")], cert=cert, courier=True,
                                      sieve=True) as dc:
            m = imaplib.IMAP4("127.0.0.1", dc.port)
            m.login("alice", "alice-pw")
            for f in ("INBOX.Work", "INBOX.Work.Deep"):
                assert m.create(f)[0] == "OK", f
            assert m.create("Public.Announcements")[0] == "OK"
            want = {"INBOX": 3, "INBOX.Work": 2, "INBOX.Work.Deep": 1}
            k = 0
            for f, n in want.items():
                for _ in range(n):
                    assert m.append(f, None, None, msg(k, "note"))[0] == "OK"
                    k += 1
            assert m.append("Public.Announcements", None, None, msg(99, "public"))[0] == "OK"
            m.logout()
            # Alice's scripts, as Pigeonhole keeps them: rules active.
            home = os.path.join(dc.tmp, "home", "alice")
            os.makedirs(os.path.join(home, "sieve"))
            for name, text in (("rules", RULES), ("away", AWAY), ("odd", ODD)):
                with open(os.path.join(home, "sieve", name + ".sieve"), "wb") as f:
                    f.write(text)
            os.symlink("sieve/rules.sieve", os.path.join(home, ".dovecot.sieve"))
            for root, dirs, files in os.walk(home):
                for x in dirs + files:
                    os.lchown(os.path.join(root, x), 65534, 65534)
            os.lchown(home, 65534, 65534)

            url = "imap://alice@localhost:%d" % dc.port
            # The certificate's issuer unknown to tern: refused before LOGIN.
            before = dc.log(None).count("Login: user=<alice>")
            plain = dict(s.env)
            plain.pop("TERN_TLS_CA_FILE")
            r = subprocess.run([s.binary, "migrate", CAROL, "--from", url], env=plain,
                               input=b"alice-pw\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            assert r.returncode == 1 and b"not signed by a trusted authority" in r.stderr, r.stderr
            assert dc.log(None).count("Login: user=<alice>") == before, dc.log()

            r = s.cli("migrate", BOB, "--from", url, "--sieve-port", str(dc.sieve_port),
                      input="alice-pw\n", check=False)
            # odd is refused by tern's compiler: reported, the run fails,
            # the others are copied and rules is active.
            assert r.returncode == 1, (r.stdout, r.stderr)
            assert b'Sieve script "odd" not copied' in r.stderr, r.stderr
            assert b"sieve: 2 of 3 scripts copied (active: rules)" in r.stdout, r.stdout
            assert b"1 folders of other users or shared namespaces left out" in r.stdout, r.stdout
            assert b"%d imported" % k in r.stdout, r.stdout
            log = dc.log(None)
            logins = [l for l in log.splitlines() if "Login: user=<alice>" in l]
            assert any("imap-login" in l and "TLS" in l for l in logins), logins
            assert any("managesieve-login" in l and "TLS" in l for l in logins), logins
            assert not any("imap-login" in l and "TLS" not in l and "method=PLAIN" in l
                           for l in logins[1:]), logins

            got = folder_counts(s.imaps_port, BOB, BOB_PW)
            assert got.get("INBOX") == 3 and got.get("Work") == 2 and got.get("Work/Deep") == 1, got
            assert not any(n.startswith(("INBOX/", "Public")) for n in got), got
            lst = s.cli("sieve", "list", BOB).stdout.decode().split("\n")
            assert "rules ACTIVE" in lst and "away" in lst and "odd" not in " ".join(lst), lst
            assert s.cli("sieve", "get", BOB, "rules").stdout == RULES

            # Again: nothing new.
            r = s.cli("migrate", BOB, "--from", url, "--sieve-port", str(dc.sieve_port),
                      input="alice-pw\n", check=False)
            assert b"0 imported" in r.stdout and b"%d already there" % k in r.stdout, r.stdout

            # An active script that would fail at every delivery here (an
            # include of a script the source has not got) is copied but
            # not made active, with where and why, as SETACTIVE refuses it
            # (tern made it active: every delivery then failed).
            with open(os.path.join(home, "sieve", "main.sieve"), "wb") as f:
                f.write(b'require "include";\r\ninclude "nolib";\r\n')
            os.lchown(os.path.join(home, "sieve", "main.sieve"), 65534, 65534)
            os.remove(os.path.join(home, ".dovecot.sieve"))
            os.symlink("sieve/main.sieve", os.path.join(home, ".dovecot.sieve"))
            os.lchown(os.path.join(home, ".dovecot.sieve"), 65534, 65534)
            r = s.cli("migrate", CAROL, "--from", url, "--sieve-port", str(dc.sieve_port),
                      input="alice-pw\n", check=False)
            assert r.returncode == 1, (r.stdout, r.stderr)
            assert b'Sieve script "main" not made active: the script would fail at every ' \
                b'delivery: line 2, column 1: no such personal script to include "nolib"' \
                in r.stderr, r.stderr
            assert b"scripts copied (not made active: main)" in r.stdout, r.stdout
            lst = s.cli("sieve", "list", CAROL).stdout.decode().split("\n")
            assert "main" in lst and "rules" in lst and " ACTIVE" not in " ".join(lst), lst
    finally:
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_migrate_from_web_admin():
    """The web admin's "copy mail from another server": POST
    /accounts/{email}/migrate runs tern migrate in the background; GET
    /jobs/{id} follows it to the end with its counts; a wrong password
    ends in a failed job that says why; a password inside the URL and an
    unknown account are refused before anything starts."""
    if not dovecot_peer.available():
        return "skip"
    from httpc import Api
    s = Server(accounts=[(BOB, BOB_PW)], http=True, imap=True)
    try:
        with dovecot_peer.DovecotPeer([("alice", "alice-pw")]) as dc:
            m = imaplib.IMAP4("127.0.0.1", dc.port)
            m.login("alice", "alice-pw")
            m.create("Old")
            for i in range(40):
                m.append("INBOX" if i % 2 else "Old", "(\\Seen)" if i % 3 else None, None, msg(i, "web"))
            m.logout()
            a = Api(s)
            a.token = s.cli("token", "add", "jobs").stdout.decode().strip()
            url = "imap://alice@127.0.0.1:%d" % dc.port

            def run(body, account=BOB):
                st, _, j = a.call("POST", "/accounts/%s/migrate" % account, body)
                if st != 202:
                    return st, j
                for _ in range(600):
                    st, _, j = a.call("GET", "/jobs/%d" % j["id"])
                    assert st == 200, j
                    if j["state"] != "running":
                        return 202, j
                    time.sleep(0.05)
                raise AssertionError("job did not end: %r" % j)

            st, j = run({"from": url, "password": "alice-pw"})
            assert st == 202 and j["state"] == "done", j
            assert "40 imported" in j["result"] and j["account"] == BOB and j["source"] == url, j
            got = folder_counts(s.imaps_port, BOB, BOB_PW)
            assert got["INBOX"] == 20 and got["Old"] == 20, got
            st, j = run({"from": url, "password": "alice-pw"})
            assert j["state"] == "done" and "0 imported" in j["result"], j  # resumes: nothing new

            st, j = run({"from": url, "password": "wrong"})
            assert j["state"] == "failed" and "login refused" in j["error"], j
            st, _, lst = a.call("GET", "/jobs")
            assert [x["state"] for x in lst["jobs"]] == ["failed", "done", "done"], lst

            st, _, p = a.call("POST", "/accounts/%s/migrate" % BOB,
                              {"from": "imap://alice:pw@127.0.0.1:1", "password": "x"})
            assert st == 400 and p["field"] == "from", p
            st, _, p = a.call("POST", "/accounts/nobody@example.test/migrate",
                              {"from": url, "password": "x"})
            assert st == 404, p
            assert "alice-pw" not in s.log_text()  # the password is never logged
    finally:
        s.cleanup()


def test_import_mbox_upload_from_web_admin():
    """The web admin's "upload an mbox": POST /accounts/{email}/import
    takes the file as its body, streamed to disk, and runs tern import on
    it in the background; GET /jobs/{id} follows it. The messages arrive
    byte for byte (a body line starting "From " is un-escaped as tern
    import does), a second upload of the same file imports nothing, the
    file is gone from the spool when the job ends, and a file that is not
    an mbox, an unknown account and a request without credentials are
    refused before anything is imported (credentials before the body)."""
    from httpc import Api
    import socket
    s = Server(accounts=[(BOB, BOB_PW)], http=True, imap=True)
    try:
        a = Api(s)
        a.token = s.cli("token", "add", "jobs").stdout.decode().strip()
        bodies = [msg(i, "upload") for i in range(30)]
        bodies[3] = bodies[3].replace(b"Body 3\r\n", b"Body 3\r\nFrom the start\r\n")
        mbox = b"".join(b"From s%d@remote.test Mon Nov  2 10:00:00 2026\n" % i +
                        b.replace(b"\r\n", b"\n").replace(b"\nFrom ", b"\n>From ") + b"\n"
                        for i, b in enumerate(bodies))

        def upload(data, account=BOB, query="?name=Archive.mbox&mailbox=Archive"):
            st, _, j = a.call("POST", "/accounts/%s/import%s" % (account, query), data,
                              ctype="application/mbox")
            if st != 202:
                return st, j
            for _ in range(600):
                st, _, j = a.call("GET", "/jobs/%d" % j["id"])
                assert st == 200, j
                if j["state"] != "running":
                    return 202, j
                time.sleep(0.05)
            raise AssertionError("job did not end: %r" % j)

        st, j = upload(mbox)
        assert st == 202 and j["state"] == "done", j
        assert j["kind"] == "import" and j["source"] == "Archive.mbox" and j["account"] == BOB, j
        assert "30 imported" in j["result"], j
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx)
        m.login(BOB, BOB_PW)
        typ, data = m.select("Archive", readonly=True)
        assert int(data[0]) == 30, data
        typ, data = m.fetch("1:*", "(BODY.PEEK[])")
        got = sorted(d[1] for d in data if isinstance(d, tuple))
        assert got == sorted(bodies), (got[:2], bodies[:2])
        m.logout()

        st, j = upload(mbox)  # the same file again: nothing new
        assert st == 202 and j["state"] == "done" and "0 imported" in j["result"], j
        assert [f for f in os.listdir(os.path.join(s.data, "spool")) if "named" in f] == []

        st, p = upload(b"Subject: not an mbox\r\n\r\nhello\r\n")
        assert st == 415 and p["code"] == "not_mbox", p
        st, p = upload(mbox, account="nobody@example.test")
        assert st == 404, p
        st, p = upload(mbox, query="?mailbox=%2A")
        assert st == 400 and p["field"] == "mailbox", p

        # No credentials: answered from the header, the body never read.
        # A client announcing 100 MB and sending none still gets its 401.
        raw = socket.create_connection(("127.0.0.1", s.https_port), 10)
        t = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        t.check_hostname = False
        t.verify_mode = ssl.CERT_NONE
        raw = t.wrap_socket(raw, server_hostname="localhost")
        raw.sendall(("POST /api/v1/accounts/%s/import HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/mbox\r\nContent-Length: 100000000\r\n\r\n"
                     % BOB).encode())
        raw.settimeout(10)
        head = raw.recv(4096)
        raw.close()
        assert head.startswith(b"HTTP/1.1 401"), head
        st, _, lst = a.call("GET", "/jobs")
        assert [x["kind"] for x in lst["jobs"]] == ["import", "import"], lst
    finally:
        s.cleanup()


USE_ATTRS = {b"\\sent", b"\\drafts", b"\\junk", b"\\trash", b"\\archive", b"\\all",
             b"\\flagged"}


class ImapFilter:
    """A loopback proxy in front of a plain-IMAP Dovecot that plays an
    older or stricter server: the capabilities in strip are taken off
    what it announces, each command in refuse reaches Dovecot under
    another name, so it is answered BAD (an IMAP4rev2-only server without
    LSUB), and with unmarked=True LIST carries no special-use attributes
    (a server from before RFC 6154)."""

    def __init__(self, upstream, strip=(), refuse=(), unmarked=False):
        self.upstream, self.strip, self.refuse = upstream, strip, refuse
        self.unmarked = unmarked
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pump, args=(c, u, self._command), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, self._response), daemon=True).start()

    @staticmethod
    def _pump(src, dst, fix):
        try:
            for line in src.makefile("rb"):
                dst.sendall(fix(line))
        except OSError:
            pass
        for x in (src, dst):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _command(self, line):
        w = line.split(b" ", 2)
        if len(w) > 1 and w[1].upper().decode(errors="replace") in self.refuse:
            w[1] = b"X" + w[1]
        return b" ".join(w)

    def _response(self, line):
        if line.startswith(b"* CAPABILITY ") or b"[CAPABILITY " in line:
            for c in self.strip:
                line = re.sub(rb"(?i) " + re.escape(c.encode()) + rb"(?=[ \]\r])", b"", line)
        m = re.match(rb"(\* LIST \()([^)]*)(\).*)", line, re.S)
        if self.unmarked and m:
            attrs = [a for a in m.group(2).split() if a.lower() not in USE_ATTRS]
            line = m.group(1) + b" ".join(attrs) + m.group(3)
        return line

    def close(self):
        self.sock.close()


# Exchange's names, a Courier-style namespace ("INBOX.", "."): each
# special-use folder in Dovecot's own configuration, as
# conf.d/15-mailboxes.conf does it.
SPECIAL = """\
namespace inbox {
  mailbox "Sent Items" {
    special_use = \\Sent
  }
  mailbox "Deleted Items" {
    special_use = \\Trash
  }
  mailbox Spam {
    special_use = \\Junk
  }
  mailbox Drafts {
    special_use = \\Drafts
  }
}
"""


def test_migrate_roles_subscriptions():
    """tern migrate gives the source's special-use folders their roles
    (RFC 6154) and subscribes its subscriptions, names translated as the
    folders are: "INBOX.Sent Items" (\\Sent) becomes the sent mailbox
    "Sent Items", decided before the mail, so the empty default Sent gives
    it up even though the source's plain "Sent" fills it; an account whose
    Sent already held mail keeps it. LIST (SPECIAL-USE), LIST
    (SUBSCRIBED), LSUB and JMAP Mailbox/get show it; a second run changes
    nothing; nothing is unsubscribed. A server that does not announce
    SPECIAL-USE but marks folders in its plain LIST (RFC 6154 §2) has them
    taken; one that marks none gets no roles mapped (the output says so);
    one that refuses LSUB is asked LIST (SUBSCRIBED), and without
    LIST-EXTENDED the mail is still copied and a warning says the
    subscriptions were not."""
    if not dovecot_peer.available():
        return "skip"
    from test_export_import import imap_state, jmap_state
    DAVE, ERIN = "dave@example.test", "erin@example.test"
    s = Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW), (DAVE, "dave-pw-1"),
                         (ERIN, "erin-pw-1")], imap=True, http=True)
    proxies = []
    try:
        with dovecot_peer.DovecotPeer([("alice", "alice-pw")], courier=True, extra=SPECIAL) as dc:
            m = imaplib.IMAP4("127.0.0.1", dc.port)
            m.login("alice", "alice-pw")
            folders = {"INBOX": 1, '"INBOX.Sent Items"': 2, '"INBOX.Deleted Items"': 1,
                       "INBOX.Spam": 1, "INBOX.Drafts": 1, "INBOX.Sent": 1,
                       "INBOX.Work.Deep": 1, "INBOX.Entw&APw-rfe": 0}
            k = 0
            for f, n in folders.items():
                if f != "INBOX":
                    assert m.create(f)[0] == "OK", f
                for _ in range(n):
                    assert m.append(f, None, None, msg(k, "kept"))[0] == "OK", f
                    k += 1
            # Subscribed: a special-use folder, a deep one, a non-ASCII
            # one and a name whose folder is gone; Spam is not.
            assert m.create("INBOX.Gone")[0] == "OK"
            for f in ('"INBOX.Sent Items"', "INBOX.Work.Deep", "INBOX.Entw&APw-rfe", "INBOX.Gone"):
                assert m.subscribe(f)[0] == "OK", f
            assert m.delete("INBOX.Gone")[0] == "OK"
            typ, lsub = m.lsub()
            assert any(x.endswith(b"INBOX.Gone") for x in lsub), lsub
            m.logout()

            def migrate(account, port, *more):
                return s.cli("migrate", account, "--from", "imap://alice@127.0.0.1:%d" % port,
                             *more, input="alice-pw\n", check=False)

            r = migrate(BOB, dc.port)
            assert r.returncode == 0, (r.stdout, r.stderr)
            assert b"%d imported" % k in r.stdout, r.stdout
            for role, name in (("sent", "Sent Items"), ("trash", "Deleted Items"), ("junk", "Spam")):
                assert b'roles: %s moved to "%s" from' % (role.encode(), name.encode()) in r.stdout, \
                    r.stdout
            assert b"roles: 3 given" in r.stdout, r.stdout
            assert b"subscriptions: 4 names subscribed" in r.stdout, r.stdout
            roles, subs = jmap_state(s, BOB, BOB_PW)
            assert roles == {"INBOX": "inbox", "Sent Items": "sent", "Deleted Items": "trash",
                             "Spam": "junk", "Drafts": "drafts", "Archive": "archive"}, roles
            assert {"Sent Items", "Work/Deep", "Entwürfe"} <= subs, subs
            assert "Spam" not in subs, subs
            special, subscribed, lsub = imap_state(s, BOB, BOB_PW)
            for attr, name in (("\\Sent", '"Sent Items"'), ("\\Trash", '"Deleted Items"'),
                               ("\\Junk", "Spam"), ("\\Drafts", "Drafts")):
                assert any(x.endswith(" " + name) and attr in x for x in special), (attr, special)
            assert not any(x.endswith((" Sent", " Trash", " Junk")) for x in special), special
            for name in ('"Sent Items"', "Work/Deep", "Entw&APw-rfe", "Gone"):
                assert any(x.endswith(" " + name) for x in subscribed), (name, subscribed)
                assert any(x.endswith(" " + name) for x in lsub), (name, lsub)
            assert any(x.endswith(" Gone") and "\\NonExistent" in x for x in subscribed), subscribed
            got = folder_counts(s.imaps_port, BOB, BOB_PW)
            assert got["Sent Items"] == 2 and got["Sent"] == 1 and got["Deleted Items"] == 1, got
            # Again: nothing new, nothing moves, the same state.
            r = migrate(BOB, dc.port)
            assert r.returncode == 0 and b"0 imported" in r.stdout, (r.stdout, r.stderr)
            assert b"moved" not in r.stdout and b"given" not in r.stdout, r.stdout
            assert jmap_state(s, BOB, BOB_PW) == (roles, subs)

            # Carol's Sent holds her mail: it stays her sent mailbox; the
            # unused default Trash and Junk give theirs up.
            t = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port,
                                  ssl_context=ssl._create_unverified_context())
            t.login(CAROL, CAROL_PW)
            assert t.append("Sent", None, None, b"Subject: mine\r\n\r\nsent\r\n")[0] == "OK"
            t.logout()
            # Her Sent cannot take the source's UIDVALIDITY: without
            # --new-uids that folder would be left out (test_migrate_uids).
            r = migrate(CAROL, dc.port, "--new-uids")
            assert r.returncode == 0, (r.stdout, r.stderr)
            assert b"Sent: holds other mail already: new UIDs (--new-uids)" in r.stdout, r.stdout
            assert b'"Sent Items" comes without role sent: "Sent" keeps it' in r.stderr, r.stderr
            roles, _ = jmap_state(s, CAROL, CAROL_PW)
            assert roles.get("Sent") == "sent" and "Sent Items" not in roles, roles
            assert roles.get("Deleted Items") == "trash" and roles.get("Spam") == "junk", roles

            # No SPECIAL-USE announced, the folders marked in plain LIST
            # all the same; LSUB refused: LIST (SUBSCRIBED).
            p = ImapFilter(dc.port, strip=("SPECIAL-USE",), refuse=("LSUB",))
            proxies.append(p)
            r = migrate(DAVE, p.port)
            assert r.returncode == 0, (r.stdout, r.stderr)
            assert b"%d imported" % k in r.stdout, r.stdout
            assert b"roles: 3 given" in r.stdout, r.stdout
            assert b"subscriptions: 4 names subscribed" in r.stdout, (r.stdout, r.stderr)
            roles, subs = jmap_state(s, DAVE, "dave-pw-1")
            assert roles.get("Sent Items") == "sent" and "Sent" not in roles, roles
            assert {"Sent Items", "Work/Deep", "Entwürfe"} <= subs, subs
            lsub = imap_state(s, DAVE, "dave-pw-1")[2]
            assert any(x.endswith(" Gone") for x in lsub), lsub
            # No marks, no LSUB, no LIST-EXTENDED: no roles mapped and the
            # output says so; the mail still comes, with a warning.
            p = ImapFilter(dc.port, strip=("SPECIAL-USE", "LIST-EXTENDED"), refuse=("LSUB",),
                           unmarked=True)
            proxies.append(p)
            r = migrate(ERIN, p.port)
            assert r.returncode == 0, (r.stdout, r.stderr)
            assert b"%d imported" % k in r.stdout, r.stdout
            assert b"(the server announces no SPECIAL-USE): no roles mapped" in r.stdout, r.stdout
            assert b"warning: subscriptions not copied" in r.stderr, r.stderr
            roles, subs = jmap_state(s, ERIN, "erin-pw-1")
            assert roles.get("Sent") == "sent" and "Sent Items" not in roles, roles
            assert "Sent Items" not in subs and "Work/Deep" not in subs, subs
    finally:
        for p in proxies:
            p.close()
        s.cleanup()


def test_migrate_from_a_utf8_server_copies_the_stored_bytes():
    """tern migrate from a server offering UTF8=ACCEPT (tern itself here)
    enables it: such a server gives a client that has not enabled it a
    downgraded header (RFC 6855 §3; tern does since d6cb8cd2), which the
    migration copied as if it were the mail: encoded words for the raw
    UTF-8 Subject, another size, another message. Names then come in
    UTF-8 and go back so ("Été" stays "Été")."""
    tmp = tempfile.mkdtemp(prefix="tern-migrate-utf8-")
    ca = make_ca(tmp)
    crt, key = ca_signed(tmp, ca, "localhost")
    s = Server(accounts=[(BOB, BOB_PW), (CAROL, CAROL_PW)], imap=True,
               env={"TERN_TLS_CA_FILE": ca[0], "TERN_TLS_CERT": crt, "TERN_TLS_KEY": key})
    raw = (b"From: J\xc3\xbcrgen M\xc3\xbcller <juergen@example.test>\r\n"
           b"To: carol@example.test\r\nSubject: Gr\xc3\xbc\xc3\x9fe aus M\xc3\xbcnchen\r\n"
           b"Date: Tue, 4 Jun 2024 09:30:00 +0000\r\nMessage-ID: <utf8-migrate@example.test>\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           b"Gr\xc3\xbc\xc3\x9fe!\r\n")
    ctx = ssl.create_default_context(cafile=ca[0])

    def stored(user, pw, folder):
        m = imaplib.IMAP4_SSL("localhost", s.imaps_port, ssl_context=ctx)
        m.login(user, pw)
        m.enable("UTF8=ACCEPT")
        typ, data = m.select('"%s"' % folder, readonly=True)
        assert typ == "OK", data
        typ, data = m.fetch("1", "(BODY.PEEK[] RFC822.SIZE)")
        m.logout()
        return [d[1] for d in data if isinstance(d, tuple)]

    try:
        with s:
            # By hand: imaplib's append sends "UTF8 (" inside its literal.
            c = ctx.wrap_socket(socket.create_connection(("localhost", s.imaps_port), 10),
                                server_hostname="localhost")
            f = c.makefile("rb")
            f.readline()

            def cmd(line, literal=None):
                c.sendall(line)
                if literal is not None:
                    assert f.readline().startswith(b"+")
                    c.sendall(literal + b")\r\n")
                while True:
                    got = f.readline()
                    assert got, "connection closed"
                    if got.startswith(b"t "):
                        assert got.startswith(b"t OK"), got
                        return

            cmd(b't LOGIN "%s" "%s"\r\n' % (CAROL.encode(), CAROL_PW.encode()))
            cmd(b"t ENABLE UTF8=ACCEPT\r\n")
            cmd('t CREATE "\u00c9t\u00e9"\r\n'.encode())
            cmd('t APPEND "\u00c9t\u00e9" UTF8 (~{%d}\r\n'.encode() % len(raw), raw)
            c.close()
            got = stored(CAROL, CAROL_PW, "\u00c9t\u00e9")
            assert got == [raw], got
            url = "imaps://%s@localhost:%d" % (CAROL, s.imaps_port)
            r = s.cli("migrate", BOB, "--from", url, input=CAROL_PW + "\n")
            assert b"1 imported" in r.stdout or b"imported 1" in r.stdout, r.stdout
            assert stored(BOB, BOB_PW, "\u00c9t\u00e9") == [raw], r.stdout
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Utf8Source:
    """A scripted IMAP source with a non-ASCII personal namespace prefix
    ("Boîte/", as a server in French might name it) that offers
    UTF8=ACCEPT: until ENABLE UTF8=ACCEPT it sends names (in NAMESPACE
    and LIST alike) in modified UTF-7, after it in UTF-8 (RFC 6855 §3).
    No TLS: tern migrate warns and goes on. One connection at a time."""

    PREFIX = "Bo\u00eete/"
    FOLDERS = {"INBOX": [], PREFIX + "Travail": [msg(1, "travail")]}

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(2)
        self.port = self.sock.getsockname()[1]
        self.commands = []
        threading.Thread(target=self._accept, daemon=True).start()

    @staticmethod
    def _name(n, utf8):
        """n in UTF-8, or in modified UTF-7 (RFC 3501 5.1.3)."""
        if utf8:
            return n.encode()
        out, run = b"", ""
        for ch in n + "\0":
            if " " <= ch <= "~" or ch == "\0":
                if run:
                    b = base64.b64encode(run.encode("utf-16-be")).rstrip(b"=")
                    out += b"&" + b.replace(b"/", b",") + b"-"
                    run = ""
                out += b"&-" if ch == "&" else ch.encode() if ch != "\0" else b""
            else:
                run += ch
        return out

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                self._session(c)

    def _session(self, c):
        f = c.makefile("rb")
        out = c.sendall
        out(b"* OK scripted\r\n")
        utf8, box = False, None
        for line in f:
            tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
            verb = rest.split(b" ")[0].upper()
            self.commands.append(rest.decode(errors="replace"))
            if verb == b"CAPABILITY":
                out(b"* CAPABILITY IMAP4rev1 NAMESPACE ENABLE UTF8=ACCEPT\r\n")
            elif verb == b"ENABLE" and b"UTF8=ACCEPT" in rest.upper():
                utf8 = True
                out(b"* ENABLED UTF8=ACCEPT\r\n")
            elif verb == b"NAMESPACE":
                out(b'* NAMESPACE (("%s" "/")) NIL NIL\r\n' % self._name(self.PREFIX, utf8))
            elif verb in (b"LIST", b"LSUB"):
                for n in self.FOLDERS:
                    out(b'* %s () "/" "%s"\r\n' % (verb, self._name(n, utf8)))
            elif verb == b"EXAMINE":
                name = rest.split(b" ", 1)[1].strip(b'"')
                box = next((n for n in self.FOLDERS if self._name(n, utf8) == name), None)
                if box is None:
                    out(tag + b" NO no such folder\r\n")
                    continue
                out(b"* %d EXISTS\r\n" % len(self.FOLDERS[box]))
            elif verb == b"UID":
                for i, m in enumerate(self.FOLDERS[box], 1):
                    out(b'* %d FETCH (UID %d FLAGS (\\Seen) INTERNALDATE '
                        b'"01-Jun-2024 10:00:00 +0000" BODY[] {%d}\r\n%s)\r\n' % (i, i, len(m), m))
            elif verb == b"LOGOUT":
                out(b"* BYE\r\n" + tag + b" OK bye\r\n")
                return
            out(tag + b" OK done\r\n")

    def close(self):
        self.sock.close()


def test_migrate_non_ascii_namespace_prefix_with_utf8_accept():
    """A personal namespace prefix with non-ASCII characters ("Boîte/")
    on a server offering UTF8=ACCEPT: NAMESPACE was asked before ENABLE
    UTF8=ACCEPT, so the prefix came in modified UTF-7 ("Bo&AO4-te/")
    while LIST, after ENABLE, gave the names in UTF-8: the prefix matched
    none, and "Boîte/Travail" was copied as a folder "Boîte/Travail"
    instead of "Travail". NAMESPACE is now asked after ENABLE."""
    src = Utf8Source()
    s = Server(accounts=[(BOB, BOB_PW)], imap=True)
    try:
        with s:
            r = s.cli("migrate", BOB, "--from", "imap://alice@127.0.0.1:%d" % src.port,
                      input="alice-pw\n", check=False)
            assert r.returncode == 0, (r.stdout, r.stderr, src.commands)
            cmds = [c.split(" ")[0].upper() for c in src.commands]
            assert "ENABLE" in cmds and "NAMESPACE" in cmds, src.commands
            got = folder_counts(s.imaps_port, BOB, BOB_PW)
            assert got.get("Travail") == 1, (got, r.stdout, src.commands)
            assert not any(n.startswith("Bo") for n in got), got
    finally:
        src.close()
        s.cleanup()


def test_migrate_source_user_escapes_are_checked():
    """The --from URL's user part is percent-decoded (RFC 5092 §3: "%40"
    for an "@" in it). A malformed escape was decoded anyway: "%zz" became
    a NUL that cut the name short ("al%zzice" logged in as "al"), "%4z"
    the octet 4. Now such a source is refused before any connection, and
    a well-formed escape still reaches the login."""
    s = Server(accounts=[(BOB, BOB_PW)])
    try:
        for bad in ("al%zzice", "al%00ice", "al%4zice", "alice%4"):
            r = s.cli("migrate", BOB, "--from", "imap://%s@127.0.0.1:1" % bad,
                      input="pw\n", check=False)
            assert r.returncode == 2, (bad, r.returncode, r.stderr)
            assert b"--from" in r.stderr and b"escapes" in r.stderr, (bad, r.stderr)
        # Port 1 refuses the connection: the URL itself was taken.
        r = s.cli("migrate", BOB, "--from", "imap://a%40b@127.0.0.1:1", input="pw\n",
                  check=False)
        assert r.returncode != 0 and b"escapes" not in r.stderr, r.stderr
    finally:
        s.cleanup()


def test_migrate_from_address_literals_verifies_the_ip_san():
    """imaps://USER@127.0.0.1 and imap://USER@[::1] (STARTTLS): the source's
    certificate is verified against the address, as an iPAddress in its
    subjectAltName (RFC 5280 §4.2.1.6), and no SNI carries the address
    (RFC 6066 §3). The address went as SNI and was matched against the
    certificate's DNS names, so no certificate could ever verify and such
    a source could not be migrated from at all. A certificate for
    another name (only "localhost") is still refused before LOGIN."""
    tmp = tempfile.mkdtemp(prefix="tern-migrate-ip-")
    ca = make_ca(tmp)
    for_ips = ca_signed(tmp, ca, "mail.source.test", also=("127.0.0.1", "::1"))
    for_name = ca_signed(tmp, ca, "localhost")
    v6_port = free_port(("::1",))
    dest = Server(accounts=[(BOB, BOB_PW)], env={"TERN_TLS_CA_FILE": ca[0]})
    try:
        with dest:
            for cert, ok in ((for_name, False), (for_ips, True)):
                src = Server(accounts=[(CAROL, CAROL_PW)], imap=True,
                             env={"TERN_TLS_CERT": cert[0], "TERN_TLS_KEY": cert[1],
                                  "TERN_LISTEN_IMAP": "[::1]:%d" % v6_port})
                with src:
                    ctx = ssl.create_default_context(cafile=ca[0])
                    ctx.check_hostname = False
                    m = imaplib.IMAP4_SSL("127.0.0.1", src.imaps_port, ssl_context=ctx)
                    m.login(CAROL, CAROL_PW)
                    assert m.append("INBOX", None, None, msg(1, "from an address"))[0] == "OK"
                    m.logout()
                    for url, said in (
                            ("imaps://carol%%40example.test@127.0.0.1:%d" % src.imaps_port,
                             b": 1 imported, 0 already there"),
                            ("imap://carol%%40example.test@[::1]:%d" % v6_port,
                             b": 0 imported, 1 already there")):
                        r = dest.cli("migrate", BOB, "--from", url, input=CAROL_PW + "\n",
                                     check=False)
                        if ok:
                            assert r.returncode == 0, (url, r.stdout, r.stderr)
                            assert said in r.stdout, (url, r.stdout)
                        else:
                            assert r.returncode == 1, (url, r.stdout, r.stderr)
                            assert b"not issued for that name" in r.stderr, (url, r.stderr)
                    # Ours, then the migrations' (none without a verified certificate).
                    logins = src.log_text().count("event=login ")
                    assert logins == (3 if ok else 1), src.log_text()[-3000:]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
