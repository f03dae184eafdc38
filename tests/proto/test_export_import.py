"""tern import and tern export (issue 35): a real Debian Dovecot is filled
over IMAP with varied messages (the MIME corpus, flags, keywords, nested
folders, a UTF-8 folder name, internal dates); `tern import` of Dovecot's
own Maildir gives the same messages byte for byte, with the same flags,
keywords and internal dates, in the same folders; a second run imports
nothing. `tern migrate` from that Dovecot over IMAP gives the same mail
again (and a second run copies nothing). Then `tern export` as Maildir and
as mbox, each imported into another account, gives the same mail again."""
import imaplib
import json
import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import time

import dovecot_peer
from harness import SANITIZED, Server
from test_imap import ACCOUNTS, BOB, CAROL, ctx

DAVE, DAVE_PW = "dave@example.test", "dave-pw-1"
ERIN, ERIN_PW = "erin@example.test", "erin-pw-1"
FRED, FRED_PW = "fred@example.test", "fred-pw-1"
CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fetch_corpus")
# Dovecot's names (Maildir++: "." separates) and tern's.
FOLDERS = [("INBOX", "INBOX"), ("Work", "Work"), ("Work.Projects", "Work/Projects"),
           ("&AMk-t&AOk-", "&AMk-t&AOk-")]  # Été, in modified UTF-7 on the wire
FLAGSETS = ["", "\\Seen", "\\Seen \\Answered", "\\Flagged $Label1", "\\Draft", "\\Seen Later $Label1",
            "\\Seen \\Deleted"]


def messages():
    out = []
    for n in sorted(os.listdir(CORPUS)):
        with open(os.path.join(CORPUS, n), "rb") as fh:
            raw = fh.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        out.append(raw)
    for i in range(12):
        out.append(("From: Someone <s%d@remote.test>\r\nTo: bob@example.test\r\nSubject: plain %d "
                    "\u00e9t\u00e9\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: 8bit\r\n\r\nLine %d \u00e9\r\nFrom the start of a line\r\n"
                    ">From quoted already\r\n" % (i, i, i)).encode() + b"x" * (i * 300) + b"\r\n")
    return out


def mutf7_decode(name):
    """A modified UTF-7 mailbox name (RFC 3501 5.1.3) as text."""
    return re.sub(r"&([^-]*)-", lambda g: "&" if not g.group(1) else
                  ("+" + g.group(1).replace(",", "/") + "-").encode().decode("utf-7"), name)


def state(host, port, user, pw, folders, ssl=False):
    """{folder: sorted [(bytes, flags, internal date)]}."""
    m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx()) if ssl else imaplib.IMAP4(host, port)
    m.login(user, pw)
    # The stored bytes: a server offering UTF8=ACCEPT (tern) gives a
    # client that has not enabled it a downgraded header (RFC 6855), and
    # then takes mailbox names in UTF-8, not modified UTF-7.
    utf8 = "UTF8=ACCEPT" in m.capability()[1][0].decode().upper().split()
    if utf8:
        m.enable("UTF8=ACCEPT")
    out = {}
    for f in folders:
        typ, data = m.select('"%s"' % (mutf7_decode(f) if utf8 else f), readonly=True)
        assert typ == "OK", (f, data)
        rows = []
        if int(data[0]) > 0:
            typ, data = m.fetch("1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
            for d in data:
                if isinstance(d, tuple):
                    flags = re.search(rb"FLAGS \(([^)]*)\)", d[0]).group(1).decode()
                    flags = frozenset(x.lower() for x in flags.split() if x != "\\Recent")
                    date = time.mktime(imaplib.Internaldate2tuple(d[0]))
                    rows.append((d[1], flags, date))
        out[f] = sorted(rows, key=lambda r: (r[0], sorted(r[1]), r[2]))
    m.logout()
    return out


def tmp_and_server(prefix):
    """A scratch folder and a server with every account these tests use."""
    return tempfile.mkdtemp(prefix=prefix), Server(
        accounts=ACCOUNTS + [(DAVE, DAVE_PW), (ERIN, ERIN_PW), (FRED, FRED_PW)], imap=True)


def alice(dc):
    """An IMAP session of the Dovecot peer's user."""
    m = imaplib.IMAP4("127.0.0.1", dc.port)
    m.login("alice", "alice-pw")
    return m


def imported(r):
    return int(re.search(rb": (\d+) imported", r.stdout).group(1))


def test_import_dovecot_maildir_export_round_trip():
    if not dovecot_peer.available():
        return "skip"
    tmp, s = tmp_and_server("tern-export-")
    try:
        with dovecot_peer.DovecotPeer([("alice", "alice-pw")]) as dc:
            m = alice(dc)
            for f, _ in FOLDERS[1:]:
                assert m.create(f)[0] == "OK", f
            msgs = messages()
            k = 0
            for fi, (f, _) in enumerate(FOLDERS):
                for j, raw in enumerate(msgs):
                    if (j + fi) % 3 == 0 and fi:
                        continue  # not every message everywhere
                    flags = FLAGSETS[k % len(FLAGSETS)]
                    date = imaplib.Time2Internaldate(1600000000 + k * 86413)
                    typ, data = m.append(f, "(%s)" % flags if flags else None, date, raw)
                    assert typ == "OK", data
                    k += 1
            m.logout()
            want = state("127.0.0.1", dc.port, "alice", "alice-pw", [f for f, _ in FOLDERS])
            maildir = os.path.join(dc.tmp, "mail", "alice")
            copy = os.path.join(tmp, "dovecot-maildir")
            shutil.copytree(maildir, copy)

            # tern migrate over IMAP from the same Dovecot: equal too, and
            # a second run copies nothing.
            url = "imap://alice@127.0.0.1:%d" % dc.port
            r = s.cli("migrate", ERIN, "--from", url, input="alice-pw\n")
            assert imported(r) == k, (r.stdout, r.stderr)
            r = s.cli("migrate", ERIN, "--from", url, input="alice-pw\n")
            assert imported(r) == 0 and b"%d already there" % k in r.stdout, r.stdout
            r = s.cli("migrate", ERIN, "--from", url, input="wrong\n", check=False)
            assert r.returncode == 1 and b"login refused" in r.stderr, r.stderr
            # Killed (SIGKILL) partway, then run again: it ends the same.
            # Where the kill lands does not matter: the outcome must not
            # depend on it.
            p = subprocess.Popen([s.binary, "migrate", FRED, "--from", url], env=s.env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            p.stdin.write(b"alice-pw\n")
            p.stdin.close()
            time.sleep(0.3)
            p.kill()
            p.wait()
            p.stdout.close()
            p.stderr.close()
            r = s.cli("migrate", FRED, "--from", url, input="alice-pw\n")
            done = imported(r) + int(re.search(rb"(\d+) already there", r.stdout).group(1))
            assert done == k, r.stdout

        # Dovecot's Maildir into bob: the same folders, bytes, flags, dates.
        r = s.cli("import", BOB, copy)
        assert imported(r) == k, r.stdout
        got = state("127.0.0.1", s.imaps_port, BOB, "bob-pw-1", [t for _, t in FOLDERS], ssl=True)
        for f, t in FOLDERS:
            assert len(got[t]) == len(want[f]), (t, len(got[t]), len(want[f]))
            for a, b in zip(got[t], want[f]):
                assert a[0] == b[0], (t, a[0][:200], b[0][:200])
                assert a[1] == b[1], (t, a[1], b[1])
                assert a[2] == b[2], (t, a[2], b[2])
        # Idempotent: a second run imports nothing.
        r = s.cli("import", BOB, copy)
        assert imported(r) == 0 and b"%d already there" % k in r.stdout, r.stdout

        # Export as Maildir and as mbox, import each elsewhere: equal again.
        out = os.path.join(tmp, "out")
        # The archive's settings: Sieve scripts (one active, one named so it
        # needs escaping as a file) and an app password's name.
        rules = b'require ["fileinto"];\r\nif header :is "x-tag" "a" { fileinto "Work"; }\r\n'
        other = b'keep;\r\n'
        s.cli("sieve", "put", BOB, "rules", input=rules.decode())
        s.cli("sieve", "put", BOB, ".odd/name", input=other.decode())
        s.cli("sieve", "activate", BOB, "rules")
        s.cli("account", "app-password", "add", BOB, "phone")
        s.cli("export", BOB, out)
        with open(os.path.join(out, BOB, "account.json")) as f:
            acct = json.load(f)
        assert [a["name"] for a in acct["app_passwords"]] == ["phone"], acct
        assert sorted((x["name"], x["active"]) for x in acct["sieve"]) == \
            [(".odd/name", False), ("rules", True)], acct["sieve"]
        assert os.path.exists(os.path.join(out, BOB, "sieve", "%2Eodd%2Fname.sieve"))
        s.cli("export", BOB, os.path.join(tmp, "outm"), "--format", "mbox")
        assert os.path.exists(os.path.join(out, BOB, "account.json"))
        r = s.cli("import", CAROL, os.path.join(out, BOB))
        assert imported(r) == k, r.stdout
        assert b"sieve: 2 scripts imported (active: rules)" in r.stdout, r.stdout
        assert b"app passwords: 1 named" in r.stdout, r.stdout
        assert s.cli("sieve", "list", CAROL).stdout.decode().split("\n")[:2] == \
            [".odd/name", "rules ACTIVE"]
        assert s.cli("sieve", "get", CAROL, "rules").stdout == rules
        r = s.cli("import", DAVE, os.path.join(tmp, "outm", BOB))
        assert imported(r) == k, r.stdout
        assert imported(s.cli("import", DAVE, os.path.join(tmp, "outm", BOB))) == 0
        names = [t for _, t in FOLDERS]
        for who, pw in ((CAROL, "carol-pw-1"), (DAVE, DAVE_PW), (ERIN, ERIN_PW), (FRED, FRED_PW)):
            again = state("127.0.0.1", s.imaps_port, who, pw, names, ssl=True)
            for t in names:
                assert len(again[t]) == len(got[t]), (who, t, len(again[t]), len(got[t]))
                extra = set(again[t]) - set(got[t])
                missing = set(got[t]) - set(again[t])
                assert not extra and not missing, (who, t, [(x[0][:60], x[1], x[2]) for x in extra],
                                                   [(x[0][:60], x[1], x[2]) for x in missing])
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_export_import_sort_order():
    """A mailbox's JMAP sortOrder (RFC 8621 §2) goes into account.json
    ("sort_order") and `tern import` of the folder sets it again, Mailbox/get
    shows it; an account.json from before it was written (no "sort_order")
    still imports, every sortOrder 0."""
    from jmapc import Jmap
    tmp = tempfile.mkdtemp(prefix="tern-export-so-")
    s = Server(accounts=ACCOUNTS + [(DAVE, DAVE_PW)], imap=True, http=True)
    try:
        j = Jmap(s, BOB, "bob-pw-1")
        _, st = j.one("Mailbox/set", {"create": {
            "p": {"name": "Projects", "sortOrder": 7},
            "e": {"name": "Empty", "sortOrder": 4294967295},
            "z": {"name": "Zero"},
        }})
        assert set(st["created"]) == {"p", "e", "z"}, st
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
        m.login(BOB, "bob-pw-1")
        for f in ("INBOX", "Projects", "Zero"):
            assert m.append(f, None, None, b"Subject: x\r\n\r\nbody\r\n")[0] == "OK"
        # A "." in a name is no level: the Maildir++ folder escapes it as
        # Dovecot's listescape does ("\2e"), so "Work.2024" and
        # "Work/2024" stay two mailboxes through export and import.
        for f in ("Work.2024", "Work/2024"):
            assert m.create(f)[0] == "OK"
            assert m.append(f, None, None, b"Subject: in " + f.encode() + b"\r\n\r\nb\r\n")[0] == "OK"
        m.logout()
        _, g = j.one("Mailbox/get", {"properties": ["name", "role"]})
        inbox = [x["id"] for x in g["list"] if x["role"] == "inbox"][0]
        _, st = j.one("Mailbox/set", {"update": {inbox: {"sortOrder": 3}}})
        assert inbox in st["updated"], st

        out = os.path.join(tmp, "out")
        s.cli("export", BOB, out)
        with open(os.path.join(out, BOB, "account.json")) as f:
            acct = json.load(f)
        got = {x["name"]: x["sort_order"] for x in acct["mailboxes"]}
        assert {k: got.get(k) for k in ("INBOX", "Projects", "Empty", "Zero")} == \
            {"INBOX": 3, "Projects": 7, "Empty": 4294967295, "Zero": 0}, acct["mailboxes"]

        def orders(user, pw):
            _, g = Jmap(s, user, pw).one("Mailbox/get", {"properties": ["name", "sortOrder"]})
            return {x["name"]: x["sortOrder"] for x in g["list"]}

        r = s.cli("import", CAROL, os.path.join(out, BOB))
        o = orders(CAROL, "carol-pw-1")
        assert (o.get("INBOX"), o.get("Projects"), o.get("Zero")) == (3, 7, 0), (o, r.stdout, r.stderr)
        assert o.get("Empty") == 4294967295, o
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
        m.login(CAROL, "carol-pw-1")
        for f in ("Work.2024", "Work/2024"):
            typ, data = m.select('"%s"' % f, readonly=True)
            assert typ == "OK" and data == [b"1"], (f, typ, data, r.stdout, r.stderr)
            typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            assert data[0][1].strip() == b"Subject: in " + f.encode(), (f, data)
        m.logout()

        # An older archive: no "sort_order" members at all.
        for x in acct["mailboxes"]:
            del x["sort_order"]
        with open(os.path.join(out, BOB, "account.json"), "w") as f:
            json.dump(acct, f)
        r = s.cli("import", DAVE, os.path.join(out, BOB))
        o = orders(DAVE, DAVE_PW)
        assert (o.get("INBOX"), o.get("Projects"), o.get("Zero")) == (0, 0, 0), (o, r.stdout, r.stderr)
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def export_is_synced(s, tmp, *args):
    """Under strace: before it reports success, `tern export` fsyncs
    every file and folder it wrote, the account's directory's entry in
    the export directory and that directory's own entry (it made it)."""
    if not shutil.which("strace"):
        print("  (no strace: export sync check skipped)")
        return
    out = os.path.join(tmp, "synced", "out")
    os.makedirs(os.path.dirname(out))
    log = os.path.join(tmp, "export.strace")
    env = dict(s.env)
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    r = subprocess.run(["strace", "-f", "-y", "-qq", "-e", "trace=fsync,fdatasync", "-o", log,
                        s.binary, "export", BOB, out] + list(args), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    assert r.returncode == 0, r.stderr
    text = open(log, encoding="utf-8", errors="replace").read()
    synced = set(re.findall(r"(?:fsync|fdatasync)\(\d+<([^>]+)>\) = 0", text))
    want = {out, os.path.dirname(out)}
    for dp, dns, fns in os.walk(out):
        want.update(os.path.join(dp, n) for n in dns + fns)
    assert len(want) > 4, want
    missing = sorted(want - synced)
    assert not missing, (missing, sorted(synced))


def test_export_mbox_sender_state_fields():
    """A sender's own Status:, X-Status:, X-Keywords: or Content-Length:
    fields are mbox state to a reader: an mbox export must not carry
    them, or importing it sets the flags the sender chose (\\Deleted,
    \\Seen, keywords) and a Content-Length that ends at the next From_
    line makes the reader take the quoted ">From " lines verbatim."""
    tmp = tempfile.mkdtemp(prefix="tern-export-st-")
    s = Server(accounts=ACCOUNTS, imap=True)
    try:
        body = "hello\r\nFrom the start\r\n"
        raw = ("From: eve@remote.test\r\nTo: %s\r\nSubject: forged state\r\n"
               "Status: RO\r\nX-Status: DF\r\nX-Keywords: $Important\r\n"
               "Content-Length: %d\r\n\r\n%s" % (BOB, len(body.replace("\r\n", "\n")) + 1, body))
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.sendmail("eve@remote.test", [BOB], raw.encode())
        deadline = time.time() + 10
        while not s.messages(BOB) and time.time() < deadline:
            time.sleep(0.05)
        out = os.path.join(tmp, "out")
        s.cli("export", BOB, out, "--format", "mbox")
        r = s.cli("import", CAROL, os.path.join(out, BOB))
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
        m.login(CAROL, "carol-pw-1")
        m.select("INBOX")
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[TEXT])")
        m.logout()
        fetched = [d for d in data if isinstance(d, tuple)]
        assert len(fetched) == 1, (data, r.stdout, r.stderr)
        flags = re.search(rb"FLAGS \(([^)]*)\)", fetched[0][0]).group(1)
        assert flags in (b"", b"\\Recent"), flags
        assert fetched[0][1] == body.encode(), fetched[0][1]
        export_is_synced(s, tmp)
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_import_maildir_absurd_mtime():
    """A Maildir file's modification time is the message's internal date;
    one out of any real range (a tar archive, a file system that keeps
    64-bit times: tmpfs, btrfs) must not become an INTERNALDATE that is
    not a date (RFC 9051: a 4-digit year) or that the server cannot
    render: the import takes the time of the import instead."""
    if not os.path.isdir("/dev/shm"):
        print("  (needs /dev/shm: a tmpfs keeps any modification time)")
        return "skip"
    tmp = tempfile.mkdtemp(prefix="tern-import-mt-", dir="/dev/shm")
    s = Server(accounts=ACCOUNTS, imap=True)
    try:
        md = os.path.join(tmp, "Maildir")
        for d in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, d))
        for i, t in enumerate((2 ** 62, 253402300800, 4102444800)):
            f = os.path.join(md, "cur", "%d.M1P1.host:2,S" % (1000 + i))
            with open(f, "wb") as fh:
                fh.write(b"Subject: t%d\r\n\r\nbody\r\n" % i)
            os.utime(f, (t, t))
        before = time.time()
        r = s.cli("import", BOB, md)
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
        m.login(BOB, "bob-pw-1")
        m.select("INBOX")
        typ, data = m.fetch("1:*", "(INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        m.logout()
        dates = {}
        for d in data:
            if isinstance(d, tuple):
                subj = re.search(rb"Subject: (t\d)", d[1]).group(1).decode()
                dates[subj] = imaplib.Internaldate2tuple(d[0])
        assert sorted(dates) == ["t0", "t1", "t2"], (data, r.stdout, r.stderr)
        assert all(dates.values()), dates  # each a date imaplib reads
        # The absurd ones are the import's time; 2100 stays 2100.
        assert time.mktime(dates["t0"]) >= before - 86400 and time.mktime(dates["t1"]) >= before - 86400
        assert dates["t2"].tm_year == 2100, dates
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def import_peak_anon(s, *args):
    """Runs tern import with args; its exit status, output and the peak
    of its anonymous memory (RssAnon, KiB, sampled every 2 ms: the
    mapped input and spool files are file pages, not counted)."""
    p = subprocess.Popen([s.binary, "import"] + list(args), env=s.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    peak = 0
    while p.poll() is None:
        try:
            with open("/proc/%d/status" % p.pid) as fh:
                for line in fh:
                    if line.startswith("RssAnon:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.002)
    out, err = p.communicate()
    return p.returncode, out, err, peak


def test_import_large_message_memory_bounded():
    """A message of tens of MB, from a Maildir (LF line ends, made CRLF)
    and from an mbox (mboxrd quoting undone), goes in whole, and the
    import's anonymous memory stays well under twice its size: the
    message is read from the mapped file into a spool that goes to disk
    past the memory budget, as SMTP DATA and IMAP APPEND hold one; what
    remains is the store's own copy while it commits (LMDB's dirty
    pages). The import used to hold it twice over (the file read whole,
    then its CRLF copy), a 2 GiB message included."""
    tmp = tempfile.mkdtemp(prefix="tern-import-big-")
    s = Server(accounts=ACCOUNTS, imap=True)
    try:
        line = b"0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\n"
        n = (16 << 20) // len(line)
        big = {}
        md = os.path.join(tmp, "Maildir")
        for d in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, d))
        raw = b"Subject: big maildir\nFrom: a@remote.test\n\n" + line * n
        with open(os.path.join(md, "cur", "1.M1P1.host:2,S"), "wb") as fh:
            fh.write(raw)
        big["big maildir"] = raw.replace(b"\n", b"\r\n")
        mbox = os.path.join(tmp, "big.mbox")
        body = b"Subject: big mbox\nFrom: a@remote.test\n\n>From the start\n" + line * n
        with open(mbox, "wb") as fh:
            fh.write(b"From a@remote.test Mon Jan  1 00:00:00 2024\n" + body + b"\n")
        big["big mbox"] = body.replace(b">From the", b"From the").replace(b"\n", b"\r\n")
        for src, args in (("big maildir", [BOB, md]), ("big mbox", [BOB, mbox, "--mailbox", "Big"])):
            rc, out, err, peak = import_peak_anon(s, *args)
            size = len(big[src])
            print("  %s: %d MiB, import RssAnon peak %.1f MiB" % (src, size >> 20, peak / 1024))
            assert rc == 0 and b"1 imported" in out, (rc, out, err)
            # Under ASan the heap's shadow and the quarantine of freed
            # blocks are anonymous memory too: only the bytes are checked.
            assert SANITIZED or peak * 1024 < size * 3 // 2, (src, peak, size)
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
        m.login(BOB, "bob-pw-1")
        for box, src in (("INBOX", "big maildir"), ("Big", "big mbox")):
            typ, data = m.select(box, readonly=True)
            assert typ == "OK", data
            typ, data = m.search(None, "SUBJECT", '"%s"' % src)
            num = data[0].split()[-1]
            # Its size, its head (the quoting undone) and its tail.
            want = big[src]
            typ, data = m.fetch(num, "(RFC822.SIZE BODY.PEEK[]<0.300>)")
            assert b"RFC822.SIZE %d " % len(want) in data[0][0], (src, data[0][0], len(want))
            assert data[0][1] == want[:300], (src, data[0][1])
            typ, data = m.fetch(num, "(BODY.PEEK[]<%d.300>)" % (len(want) - 300))
            assert data[0][1] == want[-300:], (src, data[0][1])
        m.logout()
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_import_tree_bad_folder_names():
    """An mbox tree's file names are folder names: one that no mailbox can
    have (a control byte, bytes that are not UTF-8) is skipped with a
    line that shows no raw control byte, and the other folders are
    imported; the exit status says something was left out."""
    tmp = tempfile.mkdtemp(prefix="tern-import-bn-")
    s = Server(accounts=ACCOUNTS, imap=True)
    try:
        d = os.path.join(tmp, "in").encode()
        os.makedirs(d)
        for name in (b"Good.mbox", b"a\x1b[2Jb.mbox", b"\xff\xfe.mbox", b"Also.mbox"):
            with open(os.path.join(d, name), "wb") as fh:
                fh.write(b"From a@b Mon Jan  1 00:00:00 2024\nSubject: s\n\nbody\n\n")
        # A Maildir whose cur/ holds a FIFO (not a message: skipped, never
        # waited on) and a file past the 2 GiB a message may have (sparse):
        # that one is named on stderr and counted as failed, not dropped
        # without a word.
        md = os.path.join(d, b"Md")
        for sub in (b"cur", b"new", b"tmp"):
            os.makedirs(os.path.join(md, sub))
        with open(os.path.join(md, b"cur", b"1.M1P1.host:2,S"), "wb") as fh:
            fh.write(b"Subject: kept\n\nbody\n")
        os.mkfifo(os.path.join(md, b"cur", b"2.M1P1.host:2,"))
        with open(os.path.join(md, b"cur", b"3.M1P1.host:2,"), "wb") as fh:
            fh.truncate((2 << 30) + 1)
        r = subprocess.run([s.binary, "import", BOB, d], env=s.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
        assert r.returncode == 1 and b"\x1b" not in r.stderr, (r.returncode, r.stdout, r.stderr)
        assert b"3.M1P1.host:2," in r.stderr and b"2.M1P1" not in r.stderr, r.stderr
        assert b", 1 failed" in r.stdout, r.stdout
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
        m.login(BOB, "bob-pw-1")
        for f in ("Good", "Also", "Md"):
            typ, data = m.select(f, readonly=True)
            assert typ == "OK" and data == [b"1"], (f, typ, data, r.stdout, r.stderr)
        m.logout()

        # Symlinks in the tree imported are never followed (they could
        # point at any file the admin can read): an mbox, a Maildir, a
        # message, a Maildir++ folder and a cur/ that are links to files
        # outside are each named and left out; the rest comes in.
        out = os.path.join(tmp, "outside")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(out, "md", sub))
        with open(os.path.join(out, "md", "cur", "9.M1P1.host:2,S"), "wb") as fh:
            fh.write(b"Subject: secret maildir\n\nsecret\n")
        with open(os.path.join(out, "secret.mbox"), "wb") as fh:
            fh.write(b"From a@b Mon Jan  1 00:00:00 2024\nSubject: secret mbox\n\nsecret\n\n")
        t = os.path.join(tmp, "links")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(t, "Real", sub))
        with open(os.path.join(t, "Real", "cur", "1.M1P1.host:2,S"), "wb") as fh:
            fh.write(b"Subject: real\n\nbody\n")
        os.symlink(os.path.join(out, "md", "cur", "9.M1P1.host:2,S"),
                   os.path.join(t, "Real", "cur", "2.M1P1.host:2,S"))
        os.symlink(os.path.join(out, "secret.mbox"), os.path.join(t, "Evil.mbox"))
        os.symlink(os.path.join(out, "md"), os.path.join(t, "EvilDir"))
        os.makedirs(os.path.join(t, "HalfLink"))
        os.symlink(os.path.join(out, "md", "cur"), os.path.join(t, "HalfLink", "cur"))
        r = subprocess.run([s.binary, "import", CAROL, t], env=s.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
        for n in (b"Evil.mbox", b"EvilDir", b"2.M1P1.host:2,S"):
            assert n in r.stderr and b"symbolic link" in r.stderr, (n, r.stderr)
        pp = os.path.join(tmp, "pp")  # Maildir++: .Evil a link to a Maildir outside
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(pp, sub))
        os.symlink(os.path.join(out, "md"), os.path.join(pp, ".Evil"))
        r2 = subprocess.run([s.binary, "import", CAROL, pp], env=s.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=20)
        assert r2.returncode == 1 and b".Evil" in r2.stderr, (r2.returncode, r2.stdout, r2.stderr)
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
        m.login(CAROL, "carol-pw-1")
        typ, data = m.select("Real", readonly=True)
        assert typ == "OK" and data == [b"1"], (typ, data, r.stdout, r.stderr)
        typ, data = m.list()
        names = b" ".join(data)
        assert b"Evil" not in names and b"HalfLink" not in names, names
        for f in ("INBOX", "Real"):
            m.select(f, readonly=True)
            typ, data = m.search(None, "BODY", "secret")
            assert typ == "OK" and data == [b""], (f, data)
        m.logout()
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_import_leaves_a_failing_active_script_inactive():
    """An archive's active script that would fail at every delivery here
    (its include deleted while it was active: the export is faithful) was
    made active by tern import with no check, and every delivery to the
    account then failed. It now takes the check every activation takes,
    as tern migrate --sieve does: stored with its text but not active, the
    account's own active script left as it was, why on stderr, "not made
    active" in the summary, exit 1; the other scripts are imported."""
    tmp = tempfile.mkdtemp(prefix="tern-export-chk-")
    s = Server(accounts=ACCOUNTS)
    rules = b'require ["include"];\r\ninclude :personal "lib";\r\n'
    try:
        s.cli("sieve", "put", BOB, "lib", input="keep;\r\n")
        s.cli("sieve", "put", BOB, "rules", input=rules.decode())
        s.cli("sieve", "put", BOB, "other", input="keep;\r\n")
        s.cli("sieve", "activate", BOB, "rules")
        s.cli("sieve", "del", BOB, "lib")
        out = os.path.join(tmp, "out")
        s.cli("export", BOB, out)
        s.cli("sieve", "put", CAROL, "mine", input="keep;\r\n")
        s.cli("sieve", "activate", CAROL, "mine")
        r = s.cli("import", CAROL, os.path.join(out, BOB), check=False)
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert b'tern: Sieve script "rules" not made active: the script would fail at every ' \
            b'delivery: line 2, column 1: no such personal script to include "lib"' \
            in r.stderr, r.stderr
        assert b"sieve: 2 scripts imported (not made active: rules)" in r.stdout, r.stdout
        assert s.cli("sieve", "list", CAROL).stdout == b"mine ACTIVE\nother\nrules\n"
        assert s.cli("sieve", "get", CAROL, "rules").stdout == rules
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_export_import_long_script_names():
    """Sieve script names of 128 characters (RFC 5804 §1.6), up to 512
    octets, survive export and import: a file name has at most 255 octets,
    so a long name's file is its first characters and a hash of it, and
    account.json keeps the name whole."""
    tmp = tempfile.mkdtemp(prefix="tern-export-sv-")
    s = Server(accounts=ACCOUNTS)
    e128, g128, p128 = "\u00e9" * 128, "\U0001F600" * 128, "%/" * 64  # 256, 512, 128 octets
    try:
        s.cli("sieve", "put", BOB, e128, input="keep;\r\n")
        s.cli("sieve", "put", BOB, g128, input="discard;\r\n")
        s.cli("sieve", "put", BOB, p128, input="stop;\r\n")  # escaped: 384 octets
        s.cli("sieve", "put", BOB, g128[:50], input="keep;\r\n")  # 200 octets: whole
        s.cli("sieve", "activate", BOB, g128)
        out = os.path.join(tmp, "out")
        s.cli("export", BOB, out)
        with open(os.path.join(out, BOB, "account.json")) as f:
            acct = json.load(f)
        files = {x["name"]: x["file"] for x in acct["sieve"]}
        assert set(files) == {e128, g128, p128, g128[:50]}, files
        assert len(set(files.values())) == 4, files
        for name, rel in files.items():
            base = os.path.basename(rel)
            assert len(base.encode()) <= 255 and os.path.exists(os.path.join(out, BOB, rel)), (name, rel)
        assert os.path.basename(files[g128[:50]]) == g128[:50] + ".sieve", files
        assert "%~" in files[e128] and "%~" in files[p128], files
        r = s.cli("import", CAROL, os.path.join(out, BOB))
        assert b"sieve: 4 scripts imported (active: %s)" % g128.encode() in r.stdout, r.stdout
        listed = s.cli("sieve", "list", CAROL).stdout.decode().split("\n")
        assert sorted(x for x in listed if x) == sorted([e128, g128 + " ACTIVE", p128, g128[:50]]), listed
        assert s.cli("sieve", "get", CAROL, p128).stdout == b"stop;\r\n"
        assert s.cli("sieve", "get", CAROL, g128).stdout == b"discard;\r\n"

        # An archive's account.json, sieve/ and script files are never
        # read through a symlink (it could name any file the admin can
        # read): each is refused by name, exit 1, nothing of it stored.
        outside = os.path.join(tmp, "outside")
        os.makedirs(outside)
        with open(os.path.join(outside, "x.sieve"), "w") as fh:
            fh.write("# from outside\r\nkeep;\r\n")
        cases = {}
        for case in ("script", "dir", "json"):
            d = os.path.join(tmp, case)
            shutil.copytree(os.path.join(out, BOB), d, symlinks=True)
            cases[case] = d
        sf = os.path.join(cases["script"], files[g128[:50]])
        os.unlink(sf)
        os.symlink(os.path.join(outside, "x.sieve"), sf)
        shutil.rmtree(os.path.join(cases["dir"], "sieve"))
        shutil.copytree(os.path.join(out, BOB, "sieve"), os.path.join(outside, "sieve"))
        for rel in files.values():
            with open(os.path.join(outside, rel), "w") as fh:
                fh.write("# from outside\r\nkeep;\r\n")
        os.symlink(os.path.join(outside, "sieve"), os.path.join(cases["dir"], "sieve"))
        aj = os.path.join(cases["json"], "account.json")
        shutil.move(aj, os.path.join(outside, "account.json"))
        os.symlink(os.path.join(outside, "account.json"), aj)
        for case, d in cases.items():
            r = subprocess.run([s.binary, "import", CAROL, d], env=s.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
            assert r.returncode == 1, (case, r.returncode, r.stdout, r.stderr)
            assert b"symlink" in r.stderr or b"not a regular file" in r.stderr, (case, r.stderr)
            for name in files:
                got = s.cli("sieve", "get", CAROL, name).stdout
                assert b"from outside" not in got, (case, name, got)

        # Export creates each file new (O_EXCL) and goes through no
        # symlink below its folder: one planted where account.json,
        # subscriptions, sieve/, a script, INBOX's cur/ or INBOX.mbox go
        # fails the export and leaves what it names untouched.
        victim = os.path.join(outside, "victim")
        with open(victim, "w") as fh:
            fh.write("untouched\n")
        vdir = os.path.join(outside, "vdir")
        os.makedirs(vdir)
        plants = [("account.json", victim, []), ("subscriptions", victim, []),
                  ("sieve", vdir, []), (files[e128], victim, []), ("cur", vdir, []),
                  ("INBOX.mbox", victim, ["--format", "mbox"])]
        s.cli("sieve", "put", BOB, "x", input="keep;\r\n")
        for i, (rel, target, args) in enumerate(plants):
            root = os.path.join(tmp, "exp%d" % i)
            os.makedirs(os.path.dirname(os.path.join(root, BOB, rel)), exist_ok=True)
            os.symlink(target, os.path.join(root, BOB, rel))
            r = subprocess.run([s.binary, "export", BOB, root] + args, env=s.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            assert r.returncode == 1, (rel, r.returncode, r.stdout, r.stderr)
            assert open(victim).read() == "untouched\n", rel
            assert os.listdir(vdir) == [], (rel, os.listdir(vdir))
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def imap_lines(m, *args):
    """The untagged LIST replies of one command (decoded)."""
    typ, data = m._simple_command(*args)
    assert typ == "OK", (args, data)
    _, lines = m._untagged_response(typ, data, args[0])
    return [x.decode() for x in lines if x]


def jmap_state(srv, user, pw):
    """JMAP's view of an account's mailboxes: ({full name: role} of those
    with one, {full names subscribed})."""
    from jmapc import Jmap
    _, g = Jmap(srv, user, pw).one("Mailbox/get", {"properties": ["name", "role",
                                                                   "isSubscribed", "parentId"]})
    by_id = {x["id"]: x for x in g["list"]}

    def full(x):
        return (full(by_id[x["parentId"]]) + "/" if x["parentId"] else "") + x["name"]
    return ({full(x): x["role"] for x in g["list"] if x["role"]},
            {full(x) for x in g["list"] if x["isSubscribed"]})


def imap_state(srv, user, pw):
    """IMAP's view: the replies of LIST (SPECIAL-USE), LIST (SUBSCRIBED)
    and LSUB."""
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=ctx())
    m.login(user, pw)
    special = imap_lines(m, "LIST", "(SPECIAL-USE)", '""', '"*"')
    subscribed = imap_lines(m, "LIST", "(SUBSCRIBED)", '""', '"*"')
    lsub = imap_lines(m, "LSUB", '""', '"*"')
    m.logout()
    return special, subscribed, lsub


def test_export_import_roles_subscriptions():
    """Each mailbox's role (special-use) and every subscribed name, one
    without a mailbox too, go into account.json and come back with
    `tern import`: into a fresh account on another server the archive's
    "Sent Items" takes the sent role from the empty default "Sent"; into
    an account whose "Sent" already holds mail that one keeps it; a
    second mailbox of the same role and a mailbox of the same name as the
    holder change nothing; nothing is unsubscribed. An archive from
    before "subscriptions" was written imports its mailboxes'
    subscriptions, and one without account.json imports as a Maildir."""
    from jmapc import Jmap
    tmp = tempfile.mkdtemp(prefix="tern-export-roles-")
    s = Server(accounts=ACCOUNTS + [(ERIN, ERIN_PW)], imap=True, http=True)
    s2 = Server(accounts=[(DAVE, DAVE_PW), (FRED, FRED_PW)], imap=True, http=True)
    msg = b"Subject: x\r\n\r\nbody\r\n"
    try:
        # The source: Exchange's names for Sent and Trash, a "Spam" junk
        # folder made over JMAP, a second archive folder, subscriptions
        # to a folder and to a name with no mailbox, Drafts unsubscribed.
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
        m.login(BOB, "bob-pw-1")
        for f in ("Sent", "Junk"):
            assert m.delete(f)[0] == "OK", f
        assert m._simple_command("CREATE", '"Sent Items"', "(USE (\\Sent))")[0] == "OK"
        assert m._simple_command("CREATE", '"Old Archive"', "(USE (\\Archive))")[0] == "OK"
        assert m.rename("Trash", '"Deleted Items"')[0] == "OK"
        assert m.create("Projects")[0] == "OK"
        for f in ("Projects", "Gone/Folder"):
            assert m.subscribe(f)[0] == "OK", f
        assert m.unsubscribe("Drafts")[0] == "OK"
        j = Jmap(s, BOB, "bob-pw-1")
        _, st = j.one("Mailbox/set", {"create": {"s": {"name": "Spam", "role": "junk",
                                                         "isSubscribed": True}}})
        assert "s" in st["created"], st
        for f in ('"Sent Items"', "Spam", '"Deleted Items"', "Drafts", "Archive"):
            assert m.append(f, None, None, msg)[0] == "OK", f
        m.logout()
        want_roles = {"Sent Items": "sent", "Spam": "junk", "Deleted Items": "trash",
                      "Drafts": "drafts", "Archive": "archive", "Old Archive": "archive"}

        out, outm = os.path.join(tmp, "out"), os.path.join(tmp, "outm")
        s.cli("export", BOB, out)
        s.cli("export", BOB, outm, "--format", "mbox")
        with open(os.path.join(out, BOB, "account.json")) as f:
            acct = json.load(f)
        roles = {x["name"]: x["role"] for x in acct["mailboxes"] if x["role"]}
        assert roles == dict(want_roles, INBOX="inbox"), roles
        assert "Gone/Folder" in acct["subscriptions"] and "Drafts" not in acct["subscriptions"], acct
        with open(os.path.join(out, BOB, "subscriptions")) as f:
            text = f.read()  # Dovecot's format: levels apart by tabs
            assert text.startswith("V\t2\n\n") and "\nGone\tFolder\n" in text, text

        # A fresh account on another server, from the mbox archive: every
        # role as it was; the default Sent, Junk and Trash stay, empty and
        # plain, beside the mailboxes that took their roles.
        r = s2.cli("import", DAVE, os.path.join(outm, BOB))
        assert imported(r) == 5, (r.stdout, r.stderr)
        assert b"roles: sent moved to \"Sent Items\" from \"Sent\"" in r.stdout, r.stdout
        assert b"\"Old Archive\" comes without role archive: \"Archive\" has it" in r.stderr, r.stderr
        roles, subs = jmap_state(s2, DAVE, DAVE_PW)
        want = dict(want_roles, INBOX="inbox")
        del want["Old Archive"]
        assert roles == want, roles
        assert {"Spam", "Projects", "Drafts"} <= subs and "Sent Items" not in subs, subs
        special, subscribed, lsub = imap_state(s2, DAVE, DAVE_PW)
        assert any(x.endswith('"Sent Items"') and "\\Sent" in x for x in special), special
        assert any(x.endswith("Spam") and "\\Junk" in x for x in special), special
        assert not any(x.endswith(" Sent") or x.endswith(" Junk") or x.endswith(" Trash")
                       for x in special), special
        assert any(x.endswith("Gone/Folder") and "\\NonExistent" in x for x in subscribed), subscribed
        assert any(x.endswith("Gone/Folder") for x in lsub), lsub
        # Again: nothing changes, nothing fails.
        r = s2.cli("import", DAVE, os.path.join(outm, BOB))
        assert imported(r) == 0 and b"moved" not in r.stdout, (r.stdout, r.stderr)
        assert jmap_state(s2, DAVE, DAVE_PW) == (roles, subs)

        # An account whose Sent already holds mail keeps it as its sent
        # mailbox; the other roles come as before; Drafts (the same
        # mailbox by name) stays subscribed although the archive's was not.
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
        m.login(CAROL, "carol-pw-1")
        assert m.append("Sent", None, None, b"Subject: mine\r\n\r\nsent\r\n")[0] == "OK"
        m.logout()
        r = s.cli("import", CAROL, os.path.join(out, BOB))
        assert imported(r) == 5, (r.stdout, r.stderr)
        assert b"\"Sent Items\" comes without role sent: \"Sent\" keeps it" in r.stderr, r.stderr
        roles, subs = jmap_state(s, CAROL, "carol-pw-1")
        assert roles.get("Sent") == "sent" and "Sent Items" not in roles, roles
        assert (roles.get("Spam"), roles.get("Deleted Items"), roles.get("Drafts")) == \
            ("junk", "trash", "drafts"), roles
        assert "Junk" not in roles and "Trash" not in roles, roles
        assert {"Drafts", "Spam", "Projects"} <= subs, subs
        special, subscribed, _ = imap_state(s, CAROL, "carol-pw-1")
        assert any(x.endswith("Gone/Folder") and "\\NonExistent" in x for x in subscribed), subscribed

        # An archive from before "subscriptions": each mailbox's own flag.
        del acct["subscriptions"]
        with open(os.path.join(out, BOB, "account.json"), "w") as f:
            json.dump(acct, f)
        r = s.cli("import", ERIN, os.path.join(out, BOB))
        assert imported(r) == 5, (r.stdout, r.stderr)
        roles, subs = jmap_state(s, ERIN, ERIN_PW)
        assert roles.get("Sent Items") == "sent" and "Sent" not in roles, roles
        assert {"Spam", "Projects"} <= subs, subs
        _, subscribed, _ = imap_state(s, ERIN, ERIN_PW)
        assert not any("Gone/Folder" in x for x in subscribed), subscribed
        # Without account.json: a plain Maildir++ tree, the roles as they were.
        os.unlink(os.path.join(out, BOB, "account.json"))
        r = s2.cli("import", FRED, os.path.join(out, BOB))
        assert imported(r) == 5 and b"roles" not in r.stdout, (r.stdout, r.stderr)
        roles, _ = jmap_state(s2, FRED, FRED_PW)
        assert roles.get("Sent") == "sent" and "Sent Items" not in roles, roles
    finally:
        s.cleanup()
        s2.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def lsub(host, port, user, pw, ssl=False):
    """The sorted names LSUB "" "*" gives, as sent (modified UTF-7)."""
    m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx()) if ssl else imaplib.IMAP4(host, port)
    m.login(user, pw)
    typ, data = m.lsub('""', "*")
    m.logout()
    assert typ == "OK", data
    names = []
    for d in data:
        if d:
            name = re.match(rb'\([^)]*\) (?:"[^"]*"|NIL) (.*)$', d).group(1)
            names.append(name.strip(b'"').decode())
    return sorted(names)


def test_import_dovecot_and_courier_subscriptions():
    """tern import of a Maildir++ tree subscribes what its subscriptions
    file lists: Dovecot's (version 2: levels apart by tabs, here written by
    a real Dovecot, with a nested name, a modified UTF-7 one and one
    whose folder is gone; version 1: "." between levels) and Courier's
    courierimapsubscribed ("INBOX." before each). LSUB then answers as
    Dovecot's did. A name that is no mailbox name, a line too long and an
    oversized file are reported, and the rest goes in."""
    if not dovecot_peer.available():
        return "skip"
    tmp, s = tmp_and_server("tern-subs-")
    try:
        with dovecot_peer.DovecotPeer([("alice", "alice-pw")]) as dc:
            m = alice(dc)
            for f in ("Work", "Work.Deep", "&AMk-t&AOk-", "Gone", "Unsubscribed"):
                assert m.create('"%s"' % f)[0] == "OK", f
            for f in ("Work", "Work.Deep", "&AMk-t&AOk-", "Gone"):
                assert m.subscribe('"%s"' % f)[0] == "OK", f
            assert m.delete("Gone")[0] == "OK"
            m.logout()
            want = lsub("127.0.0.1", dc.port, "alice", "alice-pw")
            copy = os.path.join(tmp, "dovecot")
            shutil.copytree(os.path.join(dc.tmp, "mail", "alice"), copy)
        with open(os.path.join(copy, "subscriptions"), "rb") as f:
            assert f.read().startswith(b"V\t2\n\n"), "not the version 2 format"
        # Dovecot's names use "." between levels; tern's "/".
        assert want == ["&AMk-t&AOk-", "Gone", "Work", "Work.Deep"], want
        # An account starts subscribed to its own INBOX, Sent, ...
        accounts = {BOB: "bob-pw-1", DAVE: DAVE_PW, ERIN: ERIN_PW, FRED: FRED_PW}
        base = {u: lsub("127.0.0.1", s.imaps_port, u, p, ssl=True) for u, p in accounts.items()}

        def added(user):
            return sorted(set(lsub("127.0.0.1", s.imaps_port, user, accounts[user], ssl=True)) -
                          set(base[user]))
        r = s.cli("import", BOB, copy)
        assert b"subscriptions: 4 names subscribed" in r.stdout, r.stdout
        assert added(BOB) == ["&AMk-t&AOk-", "Gone", "Work", "Work/Deep"], added(BOB)
        # A second run changes nothing.
        s.cli("import", BOB, copy)
        assert added(BOB) == ["&AMk-t&AOk-", "Gone", "Work", "Work/Deep"], added(BOB)

        # Version 1 (older Dovecot) and Courier, with bad lines among them.
        os.remove(os.path.join(copy, "subscriptions"))
        with open(os.path.join(copy, "courierimapsubscribed"), "wb") as f:
            f.write(b"INBOX\nINBOX.Work\nINBOX.Work.Deep\r\nINBOX.Caf\xc3\xa9\nINBOX.\xff\xfe\n"
                    + b"INBOX." + b"x" * 3000 + b"\n")
        r = s.cli("import", DAVE, copy, check=False)
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert b"subscriptions: 4 names subscribed" in r.stdout, r.stdout
        assert b'"\xff\xfe" skipped: not a mailbox name' in r.stderr, r.stderr
        assert b'"xxxx' in r.stderr, r.stderr
        assert added(DAVE) == ["Caf&AOk-", "Work", "Work/Deep"], added(DAVE)
        os.remove(os.path.join(copy, "courierimapsubscribed"))
        with open(os.path.join(copy, "subscriptions"), "wb") as f:
            f.write(b"Work\nWork.Deep\n&AMk-t&AOk-\n")
        r = s.cli("import", ERIN, copy)
        assert b"subscriptions: 3 names subscribed" in r.stdout, r.stdout
        assert added(ERIN) == ["&AMk-t&AOk-", "Work", "Work/Deep"], added(ERIN)
        # A file past its bound is skipped, said so; the mail still goes in.
        with open(os.path.join(copy, "subscriptions"), "wb") as f:
            f.write(b"Work\n" * (1 << 20))
        r = s.cli("import", FRED, copy, check=False)
        assert r.returncode == 1 and b"subscriptions skipped: not a file of at most" in r.stderr, \
            r.stderr
        assert added(FRED) == [], added(FRED)
        assert s.cli("import", FRED, copy, check=False).returncode == 1

        # tern export writes Dovecot's format: a Dovecot serving the
        # exported tree lists what tern did ("." between its levels).
        out = os.path.join(tmp, "out")
        s.cli("export", BOB, out)
        with dovecot_peer.DovecotPeer([("alice", "alice-pw")]) as dc:
            home = os.path.join(dc.tmp, "mail", "alice")
            shutil.copytree(os.path.join(out, BOB), home)
            subprocess.run(["chown", "-R", "nobody:", home], check=True)
            got = lsub("127.0.0.1", dc.port, "alice", "alice-pw")
        mine = lsub("127.0.0.1", s.imaps_port, BOB, "bob-pw-1", ssl=True)
        assert got == sorted(x.replace("/", ".") for x in mine), (got, mine)
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
