"""The store's writes failing, where test_store_limits.py does not go.

- At one exact system call (strace's fault injection on a running `tern
  serve`), where a full tmpfs cannot reach: ENOSPC at each write of a
  commit in turn, the meta page's included (on a copy-on-write file
  system, btrfs or ZFS, even an overwrite needs room). Each time: a
  temporary error or a 250, never a 250 for what is then missing, and a
  server that works again afterwards.
- A full disk under the writes of the other protocols (submission,
  ManageSieve, POP3 DELE+QUIT, IMAP CREATE/RENAME/SETMETADATA/RESETKEY, JMAP
  Email/import, Email/set, Identity/set, PushSubscription/set,
  EmailSubmission/set), a kill -9
  and a start on the full disk,
  then room again: everything works without another restart.
"""
import base64
import imaplib
import os
import poplib
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import time

from harness import Server, free_port, message, reader_held, small_tmpfs
from httpc import admin_server
from jmapc import Jmap
from test_imap import ctx, login
from test_store_limits import fill

BOB = ("bob@example.test", "bob-pw-1")
CAROL = ("carol@example.test", "carol-pw-1")


def send(s, subject):
    """The reply to DATA of one small message to bob: a code, or None when
    the connection broke before an answer (the server ended). What QUIT
    gets after it does not count: a server that stops after a halted
    store answers it 421."""
    try:
        c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30)
    except (smtplib.SMTPServerDisconnected, ConnectionError):
        return None
    try:
        c.sendmail("a@remote.test", [BOB[0]], message(subject=subject))
        return 250
    except smtplib.SMTPDataError as e:
        return e.smtp_code
    except smtplib.SMTPRecipientsRefused as e:
        return list(e.recipients.values())[0][0]
    except (smtplib.SMTPServerDisconnected, ConnectionError):
        return None
    finally:
        try:
            c.quit()
        except (smtplib.SMTPException, OSError):
            c.close()


def untraced_leaks():
    """Server settings for one strace attaches to: LeakSanitizer cannot
    run its check under ptrace (it ends with a "fatal error" report), and
    the server may end while traced; the leak check is left to the other
    modules (the same as test_backup's traced restore)."""
    opts = (os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    return {"ASAN_OPTIONS": opts}


class Inject:
    """strace attached to every thread of the server, failing the nth call
    of syscall on data.mdb with err (err None: SIGKILL at it instead);
    detached on exit."""

    def __init__(self, s, syscall, nth, err="ENOSPC"):
        self.out = os.path.join(s.tmp, "strace.%s.%d" % (syscall, nth))
        self.p = subprocess.Popen(
            ["strace", "-f", "-o", self.out, "-p", str(s.proc.pid), "-P",
             os.path.join(s.data, "data.mdb"), "-e", "trace=" + syscall,
             "-e", "inject=%s:%s:when=%d" % (syscall, "error=" + err if err else "signal=SIGKILL", nth)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # "Process N attached with M threads": every thread is traced.
        line = self.p.stderr.readline()
        assert "attached" in line, line

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # strace ends by itself when the server has; an interrupt while
        # the last thread exits can be lost, so it is killed after a while
        # (the kernel detaches what it still traced).
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()

    def injected(self):
        with open(self.out) as f:
            return "(INJECTED)" in f.read()


def subjects(s):
    return sorted(line.split()[4] for _, line in s.messages(BOB[0]))


def test_each_write_of_a_commit_failing():
    # A delivery's commit writes its pages (pwrite64, writev), flushes
    # them, then writes the meta page (a pwrite64 too). Each pwrite64 in
    # turn fails with ENOSPC. The meta page's failure left LMDB's
    # environment marked unusable (MDB_PANIC): the server stayed up and
    # answered every later command 451 ("Temporary lookup failure" at
    # RCPT), even with the disk back, until someone restarted it by hand.
    # Now the server ends with one line saying so, and started again it
    # has every message it answered 250 for, once, and none other.
    if not shutil.which("strace"):
        print("  (no strace)")
        return "skip"
    with Server(accounts=[BOB], env=untraced_leaks()) as s:
        assert send(s, "first") == 250
        acked, refused, ended = ["first"], [], 0
        for nth in range(1, 13):
            with Inject(s, "pwrite64", nth) as inj:
                code = send(s, "m%d" % nth)
            (acked if code == 250 else refused).append("m%d" % nth)
            assert code in (250, 451, 452, None), (nth, code)
            probe = send(s, "p%d" % nth) if s.proc.poll() is None else None
            if probe is None:
                # Ended: at the failed commit or at the next transaction.
                assert s.proc.wait(30) == 75, s.proc.returncode  # STORE_EXIT_HALTED
                s.reader.join(5)
                assert "event=fatal" in s.log_text() and \
                    "the store could not record a commit" in s.log_text(), s.log_text()[-3000:]
                ended += 1
                print("  pwrite64 #%d failed (%s): %s, then the server ended; restarted" %
                      (nth, "injected" if inj.injected() else "not reached", code))
                s.start()
                probe = send(s, "p%d" % nth)
            assert probe == 250, (nth, code, probe, s.log_text()[-3000:])
            acked.append("p%d" % nth)
            if ended:
                break
        assert ended, "no pwrite64 of the first 12 was the meta page's"
        # Every message answered 250 is there once; no refused one is.
        s.kill9()
        s.start()
        got = subjects(s)
        assert got == sorted(acked), (got, acked, refused)
        print("  %d answered 250, all there once; %d refused, none there" % (len(acked), len(refused)))



def test_the_flush_failing():
    # The flushes of a lone delivery's commit (fdatasync of data.mdb: the
    # one in LMDB's commit before the meta page is written, then tern's
    # after it that makes the batch durable) fail in turn with EIO. The
    # old server answered 451 and went on: later commits built on pages
    # the kernel may have dropped (after a failed fdatasync Linux may
    # mark them clean, and the next flush succeeds without them), and
    # their 250s vouched for those too. Now the store halts: the sender
    # gets 451, the log says so once, every later write is refused, and
    # the server stops (its drain) with exit status 75 for its supervisor
    # to start it again; started again, every message answered 250 is
    # there. A full disk at the commit's flush (ENOSPC, as a short write)
    # is not such a failure: the commit did not go in, and it goes on.
    if not shutil.which("strace"):
        print("  (no strace)")
        return "skip"
    for nth, err in ((1, "EIO"), (2, "EIO"), (1, "ENOSPC")):
        with Server(accounts=[BOB], env=untraced_leaks()) as s:
            acked = []
            for i in range(3):
                assert send(s, "a%d" % i) == 250
                acked.append("a%d" % i)
            with Inject(s, "fdatasync", nth, err) as inj:
                code = send(s, "f")
                if err == "ENOSPC":
                    assert code in (250, 451, 452), code
                    if code == 250:
                        acked.append("f")
                    assert send(s, "q") == 250, s.log_text()[-3000:]
                    acked.append("q")
                else:
                    # The injected flush may be a commit of the full-text
                    # index after the a* deliveries: then "f" is refused
                    # because the store halted before it. Either way 451.
                    assert code == 451, (code, s.log_text()[-3000:])
                    assert s.wait_log("event=store_halted", timeout=30), s.log_text()[-3000:]
                    assert s.proc.wait(60) == 75, s.proc.returncode
                    s.reader.join(5)
                    assert inj.injected()
            log = s.log_text()
            if err == "EIO":
                assert log.count("event=store_halted") == 1, log[-3000:]
                assert "action=stop" in log and "event=stopping" in log and \
                    "reason=store_halted" in log and "event=stopped status=75" in log, log[-3000:]
            else:
                assert "event=store_halted" not in log, log[-3000:]
            print("  fdatasync #%d %s: %s" % (nth, err, code))
            if err == "ENOSPC":
                s.kill9()  # it went on; what it answered 250 is there after a crash
            s.start()
            got = subjects(s)
            assert sorted(x for x in got if x in acked) == sorted(acked), (got, acked)
            assert len(got) == len(set(got)), got
            assert send(s, "after") == 250


class Sieve:
    """A ManageSieve session (STARTTLS, PLAIN), one command at a time."""

    def __init__(self, s, user, pw):
        sock = socket.create_connection(("127.0.0.1", s.sieve_port), 10)
        self.f = sock.makefile("rb")
        self.response()
        sock.sendall(b"STARTTLS\r\n")
        assert self.response().startswith(b"OK"), "STARTTLS"
        self.sock = ctx().wrap_socket(sock)
        self.f = self.sock.makefile("rb")
        self.response()
        plain = base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode()).decode()
        assert self.cmd('AUTHENTICATE "PLAIN" "%s"' % plain).startswith(b"OK"), "login"

    def response(self):
        """The lines up to OK/NO/BYE, joined."""
        out = b""
        while True:
            line = self.f.readline()
            assert line, "connection closed after %r" % out
            out += line
            if line.startswith((b"OK", b"NO", b"BYE")):
                return out

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.response()

    def put(self, name, script):
        """The last line of PUTSCRIPT's response."""
        r = self.cmd('PUTSCRIPT "%s" {%d+}\r\n%s' % (name, len(script), script))
        return r.splitlines()[-1]


def take_the_rest(mnt):
    """Another program takes what is left of the disk."""
    with open(os.path.join(mnt, "filler"), "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


def submit(s, subject):
    """Bob submits to carol and a remote address: the reply to DATA."""
    with smtplib.SMTP("127.0.0.1", s.submission_port, timeout=30) as c:
        c.starttls(context=ctx())
        c.login(*BOB)
        try:
            c.sendmail(BOB[0], [CAROL[0], "x@remote.test"],
                       message(sender=BOB[0], to=CAROL[0], subject=subject,
                               body=("s" * 900 + "\r\n") * 60))
            return 250, b""
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error


TEMP_SIEVE = re.compile(rb'^NO \(TRYLATER\)')
FULL_IMAP = b"[OVERQUOTA] Not enough disk space on the server."


def test_full_disk_on_the_other_write_paths():
    # Each write path on a full disk (no reserve: TERN_DISK_RESERVE=0, so
    # the writes that add no mail are refused too once LMDB's free pages
    # are used up): tried until refused, the refusal must be a temporary
    # one said as the protocol says it, the session stays, and what was
    # there before is unchanged. Killed and started again on the full
    # disk, the server starts; once the file system grows, every path
    # works again without a restart.
    if os.geteuid() != 0:
        print("  (needs root to mount a small tmpfs)")
        return "skip"
    with small_tmpfs("8m", "tern-paths-") as mnt:
        sieve_port = free_port()
        s, api = admin_server(accounts=[BOB, CAROL], data_dir=os.path.join(mnt, "data"),
                              imap=True, pop3=True, submission=True,
                              env={"TERN_DISK_RESERVE": "0",
                                   "TERN_LISTEN_SIEVE": "127.0.0.1:%d" % sieve_port})
        s.sieve_port = sieve_port
        with s:
            for i in range(3):
                with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
                    c.sendmail("a@remote.test", [CAROL[0]], message(to=CAROL[0], subject="pop%d" % i))
            ms = Sieve(s, *BOB)
            assert ms.put("old", "keep;\r\n").startswith(b"OK")
            assert ms.cmd('SETACTIVE "old"').startswith(b"OK")
            # A blob to import later (an upload on the full disk is 507).
            j = Jmap(s, *BOB)
            st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account,
                                  message(subject="imported").encode(),
                                  {"Content-Type": "message/rfc822"})
            assert st == 201, up
            _, mb = j.one("Mailbox/get", {"properties": ["role"]})
            inbox = [x["id"] for x in mb["list"] if x["role"] == "inbox"][0]
            # A draft and an identity to submit it with.
            sub = ("urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail",
                   "urn:ietf:params:jmap:submission")
            _, res = j.one("Email/set", {"create": {"d": {
                "mailboxIds": {inbox: True}, "subject": "to send", "keywords": {"$draft": True},
                "from": [{"email": BOB[0]}], "to": [{"email": "x@remote.test"}],
                "bodyValues": {"b": {"value": "hello"}},
                "textBody": [{"partId": "b", "type": "text/plain"}]}}})
            draft = res["created"]["d"]["id"]
            _, res = j.one("Identity/set", {"create": {"i": {"name": "Bob", "email": BOB[0]}}}, sub)
            identity = res["created"]["i"]["id"]
            print("  %d deliveries of 100 KB, then 452" % fill(s, 100000, "big"))
            take_the_rest(mnt)

            # Submission: until refused (the first may fit the pages the
            # refused delivery's rerun made reusable: one CI run took a
            # 55 KB submission there), then 452 4.3.1, and the queue holds
            # exactly the ones accepted, nothing half.
            for n in range(20):
                code, text = submit(s, "full%d" % n)
                if code != 250:
                    break
            print("  submission: %d accepted, then %d %s" % (n, code, text[:5]))
            assert (code, text[:5]) == (452, b"4.3.1"), (code, text)
            queued = api.call("GET", "/queue?limit=100")[2]["messages"]
            assert len(queued) == n and all(q["to"] == ["x@remote.test"] for q in queued), queued
            # IMAP: CREATE until NO [OVERQUOTA]; RENAME and SETMETADATA
            # done or refused the same way, never a BYE or a [SERVERBUG].
            m = login(s)
            for i in range(2000):
                typ, d = m.create("Box%04d" % i + "n" * 200)
                if typ != "OK":
                    break
            print("  CREATE: %d made, then %s %s" % (i, typ, d[0]))
            assert (typ, d[0]) == ("NO", FULL_IMAP), (typ, d)
            typ, d = m.rename("Box0000" + "n" * 200, "R" * 200)
            assert typ == "OK" or d[0] == FULL_IMAP, d
            # SETMETADATA until refused: the refusal said [SERVERBUG]
            # Internal error. Each call adds an entry of its own (3,000
            # octets, an overflow page), so the store must grow and the
            # full disk refuses it; a comment on each CREATEd mailbox in
            # turn replaced too little when few were made (a loaded run
            # made few: every update fitted the pages the last one freed).
            imaplib.Commands.setdefault("SETMETADATA", ("AUTH", "SELECTED"))
            imaplib.Commands.setdefault("RESETKEY", ("AUTH", "SELECTED"))
            for k in range(1, 300):
                typ, d = m._simple_command("SETMETADATA", "INBOX",
                                           '(/private/vendor/tern-test/e%d "%s")' % (k, "m" * 3000))
                if typ != "OK":
                    break
            print("  SETMETADATA: %d done, then %s %s" % (k - 1, typ, d[-1]))
            assert (typ, d[-1]) == ("NO", FULL_IMAP), ("SETMETADATA", typ, d)
            # RESETKEY (URLAUTH's new key, a metadata entry too) on each
            # mailbox in turn: done, or refused the same way (a small
            # entry may fit the pages the last write freed), never a BYE
            # or [SERVERBUG].
            for k in range(1, i):
                typ, d = m._simple_command("RESETKEY", "Box%04d" % k + "n" * 200)
                if typ != "OK":
                    break
            print("  RESETKEY: %s %s" % (typ, d[-1]))
            assert typ == "OK" or (typ, d[-1]) == ("NO", FULL_IMAP), ("RESETKEY", typ, d)
            assert m.noop()[0] == "OK"
            m.logout()
            # ManageSieve, LMDB's free pages used up by the CREATEs: refused
            # TRYLATER, and the active script is still the old one.
            body = 'require "fileinto";\r\nif true { fileinto "x"; }\r\n# ' + "c" * 3000 + "\r\n"
            for i in range(30):
                r = ms.put("s%d" % i, body)
                if not r.startswith(b"OK"):
                    break
            print("  PUTSCRIPT: %d stored, then %r" % (i, r.strip()))
            assert TEMP_SIEVE.match(r), r
            listed = ms.cmd("LISTSCRIPTS")
            assert b'"old" ACTIVE' in listed, listed
            # JMAP, with a read transaction held (reader_held): every write
            # from here must take pages the full disk has not got, so each
            # loop below ends refused, however little it writes.
            core = "urn:ietf:params:jmap:core"
            with reader_held(s, BOB[0]):
                # New mail through JMAP: Email/import and a draft by
                # Email/set, refused overQuota as APPEND is (the floor).
                for method, args in (
                        ("Email/import", {"emails": {"i": {"blobId": up["blobId"],
                                                           "mailboxIds": {inbox: True}}}}),
                        ("Email/set", {"create": {"d": {
                            "mailboxIds": {inbox: True}, "subject": "draft",
                            "keywords": {"$draft": True},
                            "bodyValues": {"b": {"value": "x" * 2000}},
                            "textBody": [{"partId": "b", "type": "text/plain"}]}}})):
                    # Until refused: the first may fit the pages freed
                    # before the reader began.
                    for n in range(200):
                        _, res = j.one(method, args)
                        bad = list((res.get("notCreated") or {}).values())
                        if bad:
                            break
                    print("  %s: %d stored, then %s" % (method, n, bad[:1]))
                    assert bad and bad[0]["type"] == "overQuota", res
                # Identity/set and PushSubscription/set until refused
                # overQuota for the disk, never for their counts (an
                # account holds at most 100 identities, 16 subscriptions).
                for method, using, args in (
                        ("Identity/set", (core, "urn:ietf:params:jmap:submission"),
                         lambda n: {"accountId": j.account, "create": {"i%d" % n: {
                             "name": "n" * 500 + str(n), "email": BOB[0],
                             "textSignature": "t" * 3000}}}),
                        ("PushSubscription/set", (core,), lambda n: {"create": {"p": {
                            "deviceClientId": "d" * 200 + str(n),
                            "url": "https://127.0.0.1:1/" + "u" * 500}}})):
                    made = 0
                    for n in range(9):
                        res = j.call([[method, args(n), "0"]],
                                     using=using)["methodResponses"][0][1]
                        made += len(res.get("created") or {})
                        bad = list((res.get("notCreated") or {}).values())
                        if bad:
                            break
                    print("  %s: %d created, then %s" % (method, made, bad[:1]))
                    assert bad and all(e["type"] == "overQuota" and
                                       "storage is full" in e["description"] for e in bad), res
                # EmailSubmission/set: the queue refuses it for the disk:
                # overQuota as any create (it said serverFail).
                _, res = j.one("EmailSubmission/set", {"create": {"s": {
                    "identityId": identity, "emailId": draft}}}, sub)
                bad = list((res.get("notCreated") or {}).values())
                print("  EmailSubmission/set: %s" % (bad[:1] or res.get("created")))
                assert bad and bad[0]["type"] == "overQuota" and \
                    "storage is full" in bad[0]["description"], res
            # POP3: DELE 1 and QUIT: done, or "-ERR [SYS/TEMP]" and the
            # message still there; never half.
            p = poplib.POP3_SSL("127.0.0.1", s.pop3s_port, context=ctx())
            p.user(CAROL[0])
            p.pass_(CAROL[1])
            before = p.stat()[0]
            p.dele(1)
            try:
                quit_ok = p.quit().startswith(b"+OK")
            except poplib.error_proto as e:
                assert str(e).startswith("b'-ERR [SYS/TEMP]"), e
                quit_ok = False
            print("  POP3 DELE+QUIT: %s" % ("done" if quit_ok else "-ERR [SYS/TEMP]"))
            p = poplib.POP3_SSL("127.0.0.1", s.pop3s_port, context=ctx())
            p.user(CAROL[0])
            p.pass_(CAROL[1])
            assert p.stat()[0] == before - quit_ok, (before, quit_ok)
            p.quit()

            # Killed on the full disk, started again on it: it serves.
            # (452, or 250 when the start's sweep of freed bytes made room.)
            s.kill9()
            s.start()
            assert send_full(s) in (250, 452)
            assert s.proc.poll() is None

            # Room again: every path works, without a restart.
            os.remove(os.path.join(mnt, "filler"))
            subprocess.run(["mount", "-o", "remount,size=32m", mnt], check=True)
            # The writer looks at the disk again at its next batch (or
            # after its reserve's retry time): until the first 250.
            deadline = time.time() + 30
            while send_full(s) != 250:
                assert time.time() < deadline, "deliveries stayed refused with room:\n" + \
                    "\n".join(x for x in s.log_text().splitlines() if "module=store" in x)
                time.sleep(0.5)
            assert submit(s, "room")[0] == 250
            ms = Sieve(s, *BOB)
            assert ms.put("after", body).startswith(b"OK")
            assert ms.cmd('SETACTIVE "after"').startswith(b"OK")
            m = login(s)
            assert m.create("AfterRoom")[0] == "OK"
            m.logout()
            res = j.call([["Identity/set", {"accountId": j.account, "create": {"i": {
                "name": "after", "email": BOB[0]}}}, "0"]],
                using=(core, "urn:ietf:params:jmap:submission"))["methodResponses"][0][1]
            assert "i" in (res.get("created") or {}), res
            assert s.proc.poll() is None


def send_full(s):
    """One small delivery to bob: its code."""
    return send(s, "probe")


def test_first_start_on_a_full_disk():
    # A fresh data directory on a full disk: LMDB makes its lock file as
    # holes and writes it through its map, and the first write was a
    # SIGBUS: `tern serve` and every command died without a word (status
    # -7). Now each says the disk is full, and with room the same
    # directory starts as a fresh one does.
    if os.geteuid() != 0:
        print("  (needs root to mount a small tmpfs)")
        return "skip"
    with small_tmpfs("2m", "tern-fresh-") as mnt:
        s = Server(data_dir=os.path.join(mnt, "data"), domains=(), start=False)
        take_the_rest(mnt)
        r = subprocess.run([s.binary, "serve"], env=s.env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
        err = r.stderr.decode(errors="replace")
        print("  serve: status %d, %s" % (r.returncode, err.strip().splitlines()[-1:]))
        assert r.returncode == 2 and "the disk is full" in err, (r.returncode, err)
        r = s.cli("domain", "add", "example.test", check=False)
        err = r.stderr.decode(errors="replace")
        print("  domain add: status %d, %s" % (r.returncode, err.strip().splitlines()[-1:]))
        assert r.returncode == 1 and "the disk is full" in err, (r.returncode, err)
        os.remove(os.path.join(mnt, "filler"))
        s.cli("domain", "add", "example.test")
        s.cli("account", "add", BOB[0], input=BOB[1] + "\n")
        s.start()
        with s:
            assert send(s, "fresh") == 250
            assert subjects(s) == ["fresh"]


def test_killed_between_commit_and_answer():
    # kill -9 at the worst moment for writes test_kill9_mixed.py does not
    # make: as the store flushes the commit it has just written (its meta
    # page in place, the client not answered), for a ManageSieve
    # PUTSCRIPT and a JMAP Identity/set. Restarted, the server starts,
    # each object is there whole or not at all, and the same write then
    # works.
    if not shutil.which("strace"):
        print("  (no strace)")
        return "skip"
    sieve_port = free_port()
    s = Server(accounts=[BOB], imap=True, http=True,
               env=dict(untraced_leaks(), TERN_LISTEN_SIEVE="127.0.0.1:%d" % sieve_port))
    s.sieve_port = sieve_port
    sub = ("urn:ietf:params:jmap:core", "urn:ietf:params:jmap:submission")
    script = 'require "fileinto";\r\nif header :contains "subject" "k" { fileinto "K"; }\r\n'
    with s:
        ms = Sieve(s, *BOB)
        j = Jmap(s, *BOB)
        j.account  # the session, before the kill
        for what in ("PUTSCRIPT", "Identity/set"):
            with Inject(s, "fdatasync", 2, err=None):
                try:
                    if what == "PUTSCRIPT":
                        ms.put("k", script)
                    else:
                        j.one("Identity/set", {"create": {"i": {"name": "Killed", "email": BOB[0]}}}, sub)
                except (AssertionError, OSError) as e:
                    print("  %s: cut (%s)" % (what, type(e).__name__))
            assert s.proc.wait(30) == -9, s.proc.returncode
            s.reader.join(5)
            s.start()
            ms = Sieve(s, *BOB)
            if what == "PUTSCRIPT":
                got = ms.cmd('GETSCRIPT "k"')
                there = got.startswith(b"{")
                assert there and script.encode() in got or got.startswith(b"NO (NONEXISTENT)"), got
                assert ms.put("k", script).startswith(b"OK")
                assert script.encode() in ms.cmd('GETSCRIPT "k"')
            else:
                _, res = j.one("Identity/get", {}, sub)
                names = [i["name"] for i in res["list"]]
                there = "Killed" in names
                assert names.count("Killed") <= 1, names
                _, res = j.one("Identity/set", {"create": {"i": {"name": "After", "email": BOB[0]}}}, sub)
                assert "i" in (res.get("created") or {}), res
            print("  %s killed after its commit: %s after the restart" % (
                what, "there, whole" if there else "not there"))
