"""tern backup / tern backup --verify / tern restore (issue 35).

One server takes SMTP deliveries and IMAP APPENDs without pause while
`tern backup` runs beside it. The backup is verified and restored into an
empty data directory, and a server started on it must show every message
acknowledged before the backup began, byte for byte, with the same
UIDs under a new UIDVALIDITY, and no message half there (the restored
UIDs of each mailbox are exactly the original's below the restored
UIDNEXT). An incremental backup reuses the first one's blobs; mbsync,
synced against the original, sees the UIDVALIDITY change against the
restored server and loses nothing. A restore of a backup older than
what clients saw hands out no UID, email id, POP3 UIDL or JMAP state of
the lost time again. Then the
refusals and failures: a non-empty target, a damaged blob, a manifest cut
short, a backup of a newer schema, and a disk that fills up during a
backup (a clear error, nothing left that looks like a backup)."""
import contextlib
import ctypes
import ctypes.util
import hashlib
import imaplib
import fcntl
import os
import poplib
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import threading
import time

from harness import Server, message, small_tmpfs
from jmapc import Jmap
from test_imap import (ACCOUNTS, BOB, BOB_PW, CAROL, CAROL_PW, ctx, deliver, login, mbsync_conf,
                       wait_count)

PRELOAD = 150
STORE_RESTORING = "restoring.mdb"  # a restore's store until it is whole


class Load:
    """SMTP deliveries and IMAP APPENDs in two threads until stopped; each
    acknowledged message is recorded with the time its reply came."""

    def __init__(self, s):
        self.s = s
        self.stop = threading.Event()
        self.acked = []  # (monotonic time of the reply, subject)
        self.lock = threading.Lock()
        self.errors = []
        self.threads = [threading.Thread(target=self.smtp), threading.Thread(target=self.append)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)
        assert not self.errors, self.errors

    def note(self, subj):
        with self.lock:
            self.acked.append((time.monotonic(), subj))

    def smtp(self):
        try:
            with smtplib.SMTP("127.0.0.1", self.s.smtp_port, timeout=30) as c:
                i = 0
                while not self.stop.is_set():
                    subj = "load smtp %d" % i
                    body = ("line %d of the load\r\n" % i) * (1 + i % 40)
                    c.sendmail("alice@remote.test", [BOB], message(subject=subj, to=BOB, body=body))
                    self.note(subj)
                    i += 1
        except Exception as e:  # noqa: BLE001 - reported by finish()
            self.errors.append("smtp: %r" % e)

    def append(self):
        try:
            m = login(self.s)
            i = 0
            while not self.stop.is_set():
                subj = "load append %d" % i
                typ, data = m.append("Work", "(\\Seen)" if i % 2 else None, None,
                                     message(subject=subj, to=BOB).encode())
                assert typ == "OK", data
                self.note(subj)
                i += 1
            m.logout()
        except Exception as e:  # noqa: BLE001
            self.errors.append("append: %r" % e)


def mailbox_state(s, mailbox):
    """(UIDVALIDITY, UIDNEXT, {uid: (flags, bytes)}) of one of bob's mailboxes."""
    m = login(s)
    typ, data = m.select(mailbox, readonly=True)
    assert typ == "OK", data
    uidvalidity = int(m.untagged_responses["UIDVALIDITY"][-1])
    uidnext = int(m.untagged_responses["UIDNEXT"][-1])
    out = {}
    if int(data[0]) > 0:
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
        for d in data:
            if isinstance(d, tuple):
                uid = int(re.search(rb"UID (\d+)", d[0]).group(1))
                flags = re.search(rb"FLAGS \(([^)]*)\)", d[0]).group(1)
                out[uid] = (flags, d[1])
    m.logout()
    return uidvalidity, uidnext, out


def subject(raw):
    return re.search(rb"(?m)^Subject: ([^\r\n]*)", raw).group(1).decode()


def tern(s, *args, data=None, check=False, timeout=120):
    env = dict(s.env)
    if data:
        env["TERN_DATA_DIR"] = data
    return subprocess.run([s.binary] + list(args), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, check=check)


def kv(out):
    return dict(line.split(": ", 1) for line in out.decode().splitlines()[1:] if ": " in line)


def run_mbsync(conf, home):
    r = subprocess.run(["mbsync", "-V", "-c", conf, "-a"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120,
                       env={"HOME": home, "PATH": "/usr/bin:/bin"})
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out
    return out


def maildir_files(root):
    out = {}
    for dp, _, names in os.walk(root):
        for n in names:
            if n.startswith(".mbsync") or n == "mbsyncrc":
                continue  # its state file: rewritten on every run
            p = os.path.join(dp, n)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


def test_backup_under_load_restore_same_uids():
    tmp = tempfile.mkdtemp(prefix="tern-backup-")
    s = Server(accounts=ACCOUNTS, imap=True, env={"TERN_HOSTNAME": "localhost"})
    r2 = None
    try:
        deliver(s, PRELOAD, subject="pre %d")
        wait_count(s, PRELOAD, timeout=30)
        m = login(s)
        assert m.create("Work")[0] == "OK"
        m.logout()

        # 1. A backup while deliveries and APPENDs go on.
        load = Load(s)
        load.start()
        while len(load.acked) < 20:
            time.sleep(0.01)
        b1 = os.path.join(tmp, "b1")
        began = time.monotonic()
        r = tern(s, "backup", b1)
        # The load went on across the backup's start (at least one
        # acknowledgement after it), then stops.
        deadline = time.time() + 60
        while not any(t >= began for t, _ in list(load.acked)) and time.time() < deadline:
            time.sleep(0.01)
        load.finish()
        assert r.returncode == 0, r.stderr
        out = kv(r.stdout)
        assert r.stdout.startswith(b"ok\n"), r.stdout
        assert int(out["store-growth-bytes"]) >= 0 and int(out["reused"]) == 0, out
        before = {subj for t, subj in load.acked if t < began}
        assert len(before) >= 20 and len(load.acked) > len(before), (len(before), len(load.acked))

        v = tern(s, "backup", "--verify", b1)
        assert v.returncode == 0 and v.stdout.startswith(b"ok\n"), v.stdout + v.stderr
        assert kv(v.stdout)["emails"] == out["emails"]

        # 2. Restore into an empty directory; a server on it shows the
        # snapshot: everything acknowledged before, whole, same UIDs.
        restored = os.path.join(tmp, "restored")
        r = tern(s, "restore", b1, data=restored)
        assert r.returncode == 0, r.stderr
        # The CLI reads the restored store before any tern serve.
        r = tern(s, "account", "list", data=restored)
        assert r.returncode == 0 and BOB.encode() in r.stdout, r.stdout + r.stderr
        r2 = Server(data_dir=restored, domains=(), imap=True, env={"TERN_HOSTNAME": "localhost"})
        have = set()
        total = 0
        for mbox in ("INBOX", "Work"):
            uv0, _, orig = mailbox_state(s, mbox)
            uv1, next1, rest = mailbox_state(r2, mbox)
            # A new UIDVALIDITY (the lost server may have handed out the
            # UIDs from next1 on), the snapshot's UIDs under it.
            assert uv1 > uv0, (mbox, uv0, uv1)
            # No holes and nothing extra: the snapshot is a prefix of UIDs.
            assert sorted(rest) == sorted(u for u in orig if u < next1), mbox
            for uid, (flags, raw) in rest.items():
                assert raw == orig[uid][1], (mbox, uid)
                assert flags == orig[uid][0], (mbox, uid, flags, orig[uid][0])
                have.add(subject(raw))
            total += len(rest)
        assert before <= have, sorted(before - have)[:5]
        assert {"pre %d" % i for i in range(PRELOAD)} <= have
        acct = tern(r2, "account", "list").stdout.decode()
        assert "emails=%d " % total in acct, acct
        r2.stop()
        r2.cleanup()
        r2 = None

        # 3. Quiet now: mbsync pulls everything, an incremental backup reuses
        # the first one's blobs, and against its restore mbsync has nothing
        # to do.
        if shutil.which("mbsync"):
            home = os.path.join(tmp, "mbsync")
            os.makedirs(home)
            conf, maildir = mbsync_conf(s, home, implicit=True, pull_only=True)
            run_mbsync(conf, home)
            synced = maildir_files(home)
        b2 = os.path.join(tmp, "b2")
        r = tern(s, "backup", "--base", b1, b2)
        assert r.returncode == 0, r.stderr
        out2 = kv(r.stdout)
        assert int(out2["reused"]) >= int(out["blobs"]) - 5, (out, out2)
        assert int(out2["blobs"]) >= int(out["blobs"]), (out, out2)
        assert os.stat(os.path.join(b2, "store.mdb")).st_ino != os.stat(os.path.join(b1, "store.mdb")).st_ino
        assert tern(s, "backup", "--verify", b2).returncode == 0
        restored2 = os.path.join(tmp, "restored2")
        assert tern(s, "restore", b2, data=restored2).returncode == 0
        s.stop()
        r2 = Server(data_dir=restored2, domains=(), imap=True, env={"TERN_HOSTNAME": "localhost"})
        if shutil.which("mbsync"):
            with open(conf) as fh:
                text = fh.read()
            text = text.replace("Port %d" % s.imaps_port, "Port %d" % r2.imaps_port)
            with open(conf, "w") as fh:
                fh.write(text)
            r = subprocess.run(["mbsync", "-V", "-c", conf, "-a"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=120,
                               env={"HOME": home, "PATH": "/usr/bin:/bin"})
            log = r.stdout.decode(errors="replace")
            # A new UIDVALIDITY: mbsync notices, so it never takes a UID
            # the restored server hands out again for one it cached; it
            # matches the messages up by Message-ID (isync 1.4), so
            # nothing is fetched twice or lost.
            assert r.returncode == 0 and "UIDVALIDITY" in log, log
            assert maildir_files(home) == synced, log
    finally:
        if r2:
            r2.cleanup()
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


SUB = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail",
       "urn:ietf:params:jmap:submission"]


def jmap_email_state(s):
    """(state, sorted email ids) of bob's account, and the Jmap client."""
    j = Jmap(s, BOB, BOB_PW)
    r = j.call([["Email/query", {"accountId": j.account}, "q"],
                ["Email/get", {"accountId": j.account, "ids": [], "properties": ["id"]}, "g"]])
    ids = sorted(r["methodResponses"][0][1]["ids"])
    return r["methodResponses"][1][1]["state"], ids, j


def pop3_uidls(s):
    p = poplib.POP3_SSL("127.0.0.1", s.pop3s_port, context=ctx(), timeout=10)
    p.user(BOB)
    p.pass_(BOB_PW)
    out = {}
    for line in p.uidl()[1]:
        n, u = line.decode().split()
        out[u] = subject(b"\r\n".join(p.top(int(n), 0)[1]))
    p.quit()
    return out


def test_restore_of_older_backup_reuses_no_uid_id_or_state():
    """A backup is restored after its server went on (and a client synced
    there): the restored server must not hand out the UIDs, email ids,
    POP3 UIDLs or JMAP states of that lost time again for other messages."""
    tmp = tempfile.mkdtemp(prefix="tern-backup-")
    s = Server(accounts=ACCOUNTS, imap=True, pop3=True, http=True)
    r2 = None
    try:
        deliver(s, 3, subject="old %d")
        wait_count(s, 3)
        ji = Jmap(s, BOB, BOB_PW)
        _, g = ji.one("Identity/get", {}, using=SUB)
        ident0 = g["state"]
        b = os.path.join(tmp, "b")
        assert tern(s, "backup", b).returncode == 0
        # After the backup: an Identity made (a type state of its own).
        _, r = ji.one("Identity/set", {"create": {"w": {"email": BOB, "name": "Lost"}}}, using=SUB)
        ident_lost = r["newState"]
        # After the backup: two more messages that a client syncs.
        deliver(s, 2, subject="lost %d")
        wait_count(s, 5)
        uv0, next0, lost = mailbox_state(s, "INBOX")
        m = login(s)
        m.enable("CONDSTORE")
        m.select("INBOX", readonly=True)
        hms0 = int(m.untagged_responses["HIGHESTMODSEQ"][-1])
        m.logout()
        state0, ids0, _ = jmap_email_state(s)
        uidl0 = pop3_uidls(s)
        s.stop()

        restored = os.path.join(tmp, "restored")
        r = tern(s, "restore", b, data=restored)
        assert r.returncode == 0, r.stderr
        r2 = Server(data_dir=restored, domains=(), imap=True, pop3=True, http=True)
        # Push from a lost state (EventSource Last-Event-ID, RFC 8620 §7.3):
        # everything may have changed, so every type is told at once.
        from test_jmap_push import EventStream
        e = EventStream(r2, (BOB, BOB_PW), "types=*&closeafter=state&ping=0", last_id=state0)
        ev = e.event()
        assert ev["event"] == "state", ev
        assert {"Email", "Mailbox", "Thread"} <= set(next(iter(ev["data"]["changed"].values()))), ev
        # The id is the modseq, then the other types' states (jmap_push_state_format).
        assert int(ev["id"].split("_")[0]) > int(state0), ev
        e.close()
        deliver(r2, 2, subject="new %d")
        wait_count(r2, 5)
        uv1, next1, now = mailbox_state(r2, "INBOX")
        # The client's cache is keyed by (UIDVALIDITY, UID): a UID it holds
        # for a lost message must not name a new one under the same
        # UIDVALIDITY. So the UIDVALIDITY changes (and grows).
        reused = [u for u in now if u in lost and subject(now[u][1]) != subject(lost[u][1])]
        assert not (uv1 == uv0 and reused), ("UIDs reused under one UIDVALIDITY", uv0, reused)
        assert uv1 > uv0, (uv0, uv1)
        assert sorted(subject(raw) for _, raw in now.values()) == \
            ["new 0", "new 1", "old 0", "old 1", "old 2"]
        m = login(r2)
        m.enable("CONDSTORE")
        m.select("INBOX", readonly=True)
        assert int(m.untagged_responses["UIDVALIDITY"][-1]) == uv1
        m.logout()
        # JMAP: no state repeats, a lost state cannot be answered with a
        # delta, and no email id of a lost message names a new one.
        state1, ids1, j = jmap_email_state(r2)
        assert int(state1) > int(state0), (state0, state1)
        for st in (state0, "1"):
            resp = j.call([["Email/changes", {"accountId": j.account, "sinceState": st}, "c"],
                           ["Mailbox/changes", {"accountId": j.account, "sinceState": st}, "m"]])
            for name, args, _ in resp["methodResponses"]:
                assert name == "error" and args["type"] == "cannotCalculateChanges", (st, name, args)
        new_ids = set(ids1) - set(ids0[:3])
        assert len(new_ids) == 2 and not new_ids & set(ids0), (ids0, ids1)
        resp = j.call([["Email/changes", {"accountId": j.account, "sinceState": state1}, "c"]])
        assert resp["methodResponses"][0][0] == "Email/changes", resp
        # Identity: an identity made on the restored server must not bring
        # back the lost state's string; the lost state cannot be answered,
        # the backup's own state still is, exactly.
        _, r = j.one("Identity/set", {"create": {"n": {"email": BOB, "name": "New"}}}, using=SUB)
        assert r["newState"] != ident_lost, r
        name, r = j.one("Identity/changes", {"sinceState": ident_lost}, using=SUB)
        assert name == "error" and r["type"] == "cannotCalculateChanges", (name, r)
        name, r = j.one("Identity/changes", {"sinceState": ident0}, using=SUB)
        assert name == "Identity/changes" and len(r["created"]) == 1, (name, r)
        # POP3: a UIDL names one message only.
        uidl1 = pop3_uidls(r2)
        for u, subj in uidl1.items():
            assert u not in uidl0 or uidl0[u] == subj, (u, subj, uidl0[u])
        assert hms0 > 0
    finally:
        if r2:
            r2.cleanup()
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def set_first_blob_size(store_mdb, size):
    """Writes size into the first blobref record of a backup's store.mdb
    (through the system's liblmdb: a record no tern writes)."""
    set_first_blob_u64(store_mdb, 9, size)  # version, refs, then the size


def set_first_blob_u64(store_mdb, at, value):
    """Writes value (8 octets, big-endian) at offset at of the first
    blobref record of a backup's store.mdb: 1 its refcount, 9 its size."""
    lib = ctypes.CDLL(ctypes.util.find_library("lmdb") or "liblmdb.so.0")

    class Val(ctypes.Structure):
        _fields_ = [("mv_size", ctypes.c_size_t), ("mv_data", ctypes.c_void_p)]

    env, txn, cur, dbi = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_uint()
    assert lib.mdb_env_create(ctypes.byref(env)) == 0
    lib.mdb_env_set_maxdbs(env, 64)
    lib.mdb_env_set_mapsize(env, ctypes.c_size_t(os.path.getsize(store_mdb) + (16 << 20)))
    assert lib.mdb_env_open(env, store_mdb.encode(), 0x4000 | 0x400000, 0o600) == 0  # NOSUBDIR|NOLOCK
    assert lib.mdb_txn_begin(env, None, 0, ctypes.byref(txn)) == 0
    assert lib.mdb_dbi_open(txn, b"blobref", 0, ctypes.byref(dbi)) == 0
    assert lib.mdb_cursor_open(txn, dbi, ctypes.byref(cur)) == 0
    k, v = Val(), Val()
    assert lib.mdb_cursor_get(cur, ctypes.byref(k), ctypes.byref(v), 0) == 0  # MDB_FIRST
    rec = bytearray(ctypes.string_at(v.mv_data, v.mv_size))
    rec[at:at + 8] = value.to_bytes(8, "big")
    buf = ctypes.create_string_buffer(bytes(rec), len(rec))
    nv = Val(len(rec), ctypes.cast(buf, ctypes.c_void_p))
    assert lib.mdb_cursor_put(cur, ctypes.byref(k), ctypes.byref(nv), 0x40) == 0  # MDB_CURRENT
    lib.mdb_cursor_close(cur)
    assert lib.mdb_txn_commit(txn) == 0
    lib.mdb_env_close(env)


def set_meta_u32(store_mdb, key, value):
    """Writes a meta record (version 1, then value as u32 big-endian)
    into a backup's store.mdb through the system's liblmdb."""
    lib = ctypes.CDLL(ctypes.util.find_library("lmdb") or "liblmdb.so.0")

    class Val(ctypes.Structure):
        _fields_ = [("mv_size", ctypes.c_size_t), ("mv_data", ctypes.c_void_p)]

    env, txn, dbi = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_uint()
    assert lib.mdb_env_create(ctypes.byref(env)) == 0
    lib.mdb_env_set_maxdbs(env, 64)
    lib.mdb_env_set_mapsize(env, ctypes.c_size_t(os.path.getsize(store_mdb) + (16 << 20)))
    assert lib.mdb_env_open(env, store_mdb.encode(), 0x4000 | 0x400000, 0o600) == 0  # NOSUBDIR|NOLOCK
    assert lib.mdb_txn_begin(env, None, 0, ctypes.byref(txn)) == 0
    assert lib.mdb_dbi_open(txn, b"meta", 0, ctypes.byref(dbi)) == 0
    kb = ctypes.create_string_buffer(key, len(key))
    vb = ctypes.create_string_buffer(b"\x01" + value.to_bytes(4, "big"), 5)
    k = Val(len(key), ctypes.cast(kb, ctypes.c_void_p))
    v = Val(5, ctypes.cast(vb, ctypes.c_void_p))
    assert lib.mdb_put(txn, dbi, ctypes.byref(k), ctypes.byref(v), 0) == 0
    assert lib.mdb_txn_commit(txn) == 0
    lib.mdb_env_close(env)


def drop_first_blob_record(backup):
    """Deletes the first blobref record of a backup's store.mdb (through
    the system's liblmdb) and makes the MANIFEST agree: its counts and
    store.mdb's checksum. An email then names bytes the backup lacks."""
    lib = ctypes.CDLL(ctypes.util.find_library("lmdb") or "liblmdb.so.0")

    class Val(ctypes.Structure):
        _fields_ = [("mv_size", ctypes.c_size_t), ("mv_data", ctypes.c_void_p)]

    store_mdb = os.path.join(backup, "store.mdb")
    env, txn, cur, dbi = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_uint()
    assert lib.mdb_env_create(ctypes.byref(env)) == 0
    lib.mdb_env_set_maxdbs(env, 64)
    lib.mdb_env_set_mapsize(env, ctypes.c_size_t(os.path.getsize(store_mdb) + (16 << 20)))
    assert lib.mdb_env_open(env, store_mdb.encode(), 0x4000 | 0x400000, 0o600) == 0  # NOSUBDIR|NOLOCK
    assert lib.mdb_txn_begin(env, None, 0, ctypes.byref(txn)) == 0
    assert lib.mdb_dbi_open(txn, b"blobref", 0, ctypes.byref(dbi)) == 0
    assert lib.mdb_cursor_open(txn, dbi, ctypes.byref(cur)) == 0
    k, v = Val(), Val()
    assert lib.mdb_cursor_get(cur, ctypes.byref(k), ctypes.byref(v), 0) == 0  # MDB_FIRST
    size = int.from_bytes(ctypes.string_at(v.mv_data, v.mv_size)[9:17], "big")
    assert lib.mdb_cursor_del(cur, 0) == 0
    lib.mdb_cursor_close(cur)
    assert lib.mdb_txn_commit(txn) == 0
    lib.mdb_env_close(env)
    path = os.path.join(backup, "MANIFEST")
    text = open(path, "rb").read()
    blobs = int(re.search(rb"(?m)^blobs (\d+)$", text).group(1))
    nbytes = int(re.search(rb"(?m)^blob-bytes (\d+)$", text).group(1))
    text = re.sub(rb"(?m)^blobs \d+$", b"blobs %d" % (blobs - 1), text)
    text = re.sub(rb"(?m)^blob-bytes \d+$", b"blob-bytes %d" % (nbytes - size), text)
    with open(path, "wb") as fh:
        fh.write(text)
    rehash_in_manifest(backup, "store.mdb")


def resealed(text):
    """A MANIFEST's text edited by a test, its check line made to match
    again (the BLAKE2b-256 of every line above it): without it, the
    edit itself is what verify and restore refuse."""
    body = re.sub(rb"(?m)^(check [0-9a-f]+|end)\n", b"", text)
    h = hashlib.blake2b(body, digest_size=32).hexdigest().encode()
    return body + b"check " + h + b"\nend\n"


def rehash_in_manifest(backup, rel):
    """The MANIFEST's line for rel made to match the file again."""
    with open(os.path.join(backup, rel), "rb") as fh:
        data = fh.read()
    h = hashlib.blake2b(data, digest_size=32).hexdigest()
    path = os.path.join(backup, "MANIFEST")
    with open(path, "rb") as fh:
        text = fh.read()
    text = re.sub(rb"(?m)^file %s \d+ [0-9a-f]+$" % re.escape(rel.encode()),
                  b"file %s %d %s" % (rel.encode(), len(data), h.encode()), text)
    with open(path, "wb") as fh:
        fh.write(resealed(text))


def restore_is_synced_and_reads_store_once(s, b, tmp):
    """Under strace: before reporting success, a restore fsyncs every file
    and directory it wrote (the store under its restoring name, which a
    rename makes data.mdb) and the directory it created the data
    directory in; and it reads the backup's store.mdb once, hashing it
    as it copies it (no check-then-copy window)."""
    if not shutil.which("strace"):
        print("  (no strace: restore sync check skipped)")
        return
    target = os.path.join(tmp, "r-sync")
    log = os.path.join(tmp, "restore.strace")
    env = dict(s.env, TERN_DATA_DIR=target)
    # LeakSanitizer cannot run under ptrace (an ASan build's leak check off here).
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    r = subprocess.run(["strace", "-f", "-y", "-qq", "-e", "trace=open,openat,fsync,fdatasync",
                        "-o", log, s.binary, "restore", b], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    assert r.returncode == 0, r.stderr
    text = open(log, encoding="utf-8", errors="replace").read()
    synced = set(re.findall(r"(?:fsync|fdatasync)\(\d+<([^>]+)>\) = 0", text))
    synced = {p.replace("restoring.mdb", "data.mdb") for p in synced}
    want = {target, os.path.dirname(target)}
    for dp, dns, fns in os.walk(target):
        want.update(os.path.join(dp, n) for n in dns + fns if n != "lock.mdb")
    assert len(want) > 3, want
    missing = sorted(want - synced)
    assert not missing, (missing, sorted(synced))
    opens = re.findall(r"open(?:at)?\([^\n]*%s/store\.mdb\"" % re.escape(b), text)
    assert len(opens) == 1, opens


def test_backup_refusals_and_damage():
    tmp = tempfile.mkdtemp(prefix="tern-backup-")
    s = Server(accounts=ACCOUNTS, imap=True)
    try:
        deliver(s, 5)
        wait_count(s, 5)
        b = os.path.join(tmp, "b")
        r = subprocess.run([s.binary, "backup", b], env=s.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120, preexec_fn=lambda: os.umask(0))
        assert r.returncode == 0, r.stderr
        # It holds the server's secrets (secrets.key, the TLS key, DKIM
        # keys in store.mdb): only its owner reads any of it, even made
        # with umask 0.
        with open(os.path.join(s.data, "secrets.key"), "rb") as fh:
            assert open(os.path.join(b, "keys", "secrets.key"), "rb").read() == fh.read()
        for dp, dns, fns in os.walk(b):
            assert os.stat(dp).st_mode & 0o777 == 0o700, (dp, oct(os.stat(dp).st_mode))
            for n in fns:
                mode = os.stat(os.path.join(dp, n)).st_mode & 0o777
                assert mode == 0o600, (os.path.join(dp, n), oct(mode))

        # A target that is not empty is refused, and so is a data directory.
        r = tern(s, "backup", b)
        assert r.returncode == 2 and b"not empty" in r.stderr, r.stderr
        # What a backup cut short left (killed: no MANIFEST) is no other
        # data: the next backup there starts over, and is whole.
        half = os.path.join(tmp, "half")
        shutil.copytree(b, half)
        os.unlink(os.path.join(half, "MANIFEST"))
        open(os.path.join(half, "MANIFEST.tmp"), "w").close()
        r = tern(s, "backup", half)
        assert r.returncode == 0, r.stderr
        r = tern(s, "backup", "--verify", half)
        assert r.returncode == 0 and kv(r.stdout)["emails"] == "5", r.stdout
        # Beside anything else, it is still refused and left as it was.
        os.unlink(os.path.join(half, "MANIFEST"))
        open(os.path.join(half, "notes.txt"), "w").close()
        before = sorted(os.listdir(half))
        r = tern(s, "backup", half)
        assert r.returncode == 2 and b"not empty" in r.stderr, r.stderr
        assert sorted(os.listdir(half)) == before
        r = tern(s, "restore", b)  # the live server's own data directory
        assert r.returncode == 2 and b"in use by a running tern serve" in r.stderr, r.stderr

        # A data directory emptied under a server still running on it:
        # the restore is refused while the server's lock (flock on the
        # directory, seen held here on the live server's) is held, else
        # the server would go on with its unlinked store and the mail it
        # accepts would be lost; the directory is left empty.
        fd = os.open(s.data, os.O_RDONLY | os.O_DIRECTORY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                raise AssertionError("tern serve holds no lock on its data directory")
            except BlockingIOError:
                pass
        finally:
            os.close(fd)
        emptied = os.path.join(tmp, "r-emptied")
        os.makedirs(emptied)
        fd = os.open(emptied, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            r = tern(s, "restore", b, data=emptied)
            assert r.returncode == 2 and b"in use by a running tern serve" in r.stderr, \
                (r.returncode, r.stderr)
            assert not os.listdir(emptied), os.listdir(emptied)
        finally:
            os.close(fd)
        r = tern(s, "restore", b, data=emptied)
        assert r.returncode == 0, r.stderr

        # The root of a file system just made (a new disk mounted as the
        # target) holds an empty lost+found: an unused place for a backup
        # or a restore, not one "not empty". It is left as it was.
        for name in ("disk-b", "disk-r"):
            os.makedirs(os.path.join(tmp, name, "lost+found"))
        r = tern(s, "backup", os.path.join(tmp, "disk-b"))
        assert r.returncode == 0, r.stderr
        r = tern(s, "backup", "--verify", os.path.join(tmp, "disk-b"))
        assert r.returncode == 0 and r.stdout.startswith(b"ok\n"), r.stdout
        r = tern(s, "restore", os.path.join(tmp, "disk-b"), data=os.path.join(tmp, "disk-r"))
        assert r.returncode == 0, r.stderr
        assert {"data.mdb", "lost+found"} <= set(os.listdir(os.path.join(tmp, "disk-r"))), \
            os.listdir(os.path.join(tmp, "disk-r"))
        # Anything else there is still refused, a lost+found that is a
        # file too.
        for target in ("lf-file", "lf-other"):
            os.makedirs(os.path.join(tmp, target))
        open(os.path.join(tmp, "lf-file", "lost+found"), "w").close()
        os.makedirs(os.path.join(tmp, "lf-other", "lost+found"))
        open(os.path.join(tmp, "lf-other", "other"), "w").close()
        for target in ("lf-file", "lf-other"):
            r = tern(s, "backup", os.path.join(tmp, target))
            assert r.returncode == 2 and b"not empty" in r.stderr, (target, r.stderr)
            r = tern(s, "restore", b, data=os.path.join(tmp, target))
            assert r.returncode == 2 and b"not empty" in r.stderr, (target, r.stderr)

        restore_is_synced_and_reads_store_once(s, b, tmp)

        # Damage is found: a blob changed, a manifest cut short.
        bad = os.path.join(tmp, "bad")
        shutil.copytree(b, bad)
        blob = next(os.path.join(dp, n) for dp, _, ns in os.walk(os.path.join(bad, "blobs")) for n in ns)
        with open(blob, "r+b") as fh:
            fh.seek(10)
            c = fh.read(1)
            fh.seek(10)
            fh.write(bytes([c[0] ^ 1]))
        r = tern(s, "backup", "--verify", bad)
        assert r.returncode == 1 and r.stdout.startswith(b"bad\n") and b"damaged" in r.stdout, r.stdout
        r = tern(s, "restore", bad, data=os.path.join(tmp, "r-bad"))
        assert r.returncode != 0 and b"damaged" in r.stderr, r.stderr
        assert not os.listdir(os.path.join(tmp, "r-bad")), "a failed restore leaves nothing"

        # An incremental backup over a base whose blob changed (same size)
        # takes that blob from the store, not the base: it verifies and
        # restores the right bytes.
        inc = os.path.join(tmp, "inc")
        r = tern(s, "backup", "--base", bad, inc)
        assert r.returncode == 0, r.stderr
        assert kv(r.stdout)["reused"] == str(int(kv(r.stdout)["blobs"]) - 1), r.stdout
        r = tern(s, "backup", "--verify", inc)
        assert r.returncode == 0 and r.stdout.startswith(b"ok\n"), r.stdout

        # A write of the MANIFEST interrupted by a signal before it wrote
        # anything (EINTR: strace makes the first write to it fail so) is
        # done again, not a failed backup.
        if shutil.which("strace"):
            short = os.path.join(tmp, "short")
            env = dict(s.env)
            env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
            r = subprocess.run(["strace", "-f", "-qq", "-o", os.devnull, "-P",
                                os.path.join(short, "MANIFEST.tmp"), "-e", "trace=write",
                                "-e", "inject=write:error=EINTR:when=1", s.binary, "backup", short],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            assert r.returncode == 0, r.stderr
            r = tern(s, "backup", "--verify", short)
            assert r.returncode == 0 and r.stdout.startswith(b"ok\n"), r.stdout

        # A base blob gone between its lstat and its link (the base
        # pruned by the schedule meanwhile: strace makes the first link
        # fail with ENOENT) is taken from the store, not a failed backup.
        if shutil.which("strace"):
            gone = os.path.join(tmp, "inc-gone")
            env = dict(s.env)
            env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
            r = subprocess.run(["strace", "-f", "-qq", "-o", os.devnull, "-e", "trace=link,linkat",
                                "-e", "inject=link,linkat:error=ENOENT:when=1", s.binary, "backup",
                                "--base", b, gone], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
            assert r.returncode == 0, r.stderr
            assert kv(r.stdout)["reused"] == str(int(kv(r.stdout)["blobs"]) - 1), r.stdout
            r = tern(s, "backup", "--verify", gone)
            assert r.returncode == 0 and r.stdout.startswith(b"ok\n"), r.stdout

        # Files in keys/ that the manifest does not list stay out of the
        # restored data directory; those it lists come back.
        extra = os.path.join(tmp, "extra")
        shutil.copytree(b, extra)
        listed = re.findall(rb"(?m)^file keys/(\S+) ", open(os.path.join(b, "MANIFEST"), "rb").read())
        assert listed, "the backup holds key files"
        for d in ("tls", "acme"):
            os.makedirs(os.path.join(extra, "keys", d), exist_ok=True)
            with open(os.path.join(extra, "keys", d, "planted.pem"), "w") as fh:
                fh.write("not from the backup\n")
        r_extra = os.path.join(tmp, "r-extra")
        r = tern(s, "restore", extra, data=r_extra)
        assert r.returncode == 0, r.stderr
        for d in ("tls", "acme"):
            assert not os.path.exists(os.path.join(r_extra, d, "planted.pem")), d
        for rel in listed:
            assert os.path.isfile(os.path.join(r_extra, rel.decode())), rel

        # A symlink in a backup is refused, even to a file with the very
        # bytes the manifest lists: the restore would read (and copy into
        # the data directory) whatever it points at.
        sym = os.path.join(tmp, "sym")
        shutil.copytree(b, sym)
        key = os.path.join(sym, "keys", listed[0].decode())
        os.rename(key, os.path.join(tmp, "outside"))
        os.symlink(os.path.join(tmp, "outside"), key)
        r = tern(s, "backup", "--verify", sym)
        assert r.returncode == 1 and b"not a regular file" in r.stdout, r.stdout
        # A file the manifest lists that is not there is said missing,
        # not taken for a symlink.
        gone = os.path.join(tmp, "gone")
        shutil.copytree(b, gone)
        os.unlink(os.path.join(gone, "keys", "secrets.key"))
        r = tern(s, "backup", "--verify", gone)
        assert r.returncode == 1 and b"secrets.key: missing" in r.stdout, r.stdout
        r = tern(s, "restore", gone, data=os.path.join(tmp, "r-gone"))
        assert r.returncode == 2 and b"secrets.key: missing" in r.stderr, (r.returncode, r.stderr)
        r = tern(s, "restore", sym, data=os.path.join(tmp, "r-sym"))
        assert r.returncode == 2 and b"not a regular file" in r.stderr, r.stderr

        # A store.mdb whose blob sizes add up past any map (its manifest
        # made to match: the manifest proves nothing) is refused, not
        # sized for in a loop that never ends.
        huge = os.path.join(tmp, "huge")
        shutil.copytree(b, huge)
        set_first_blob_size(os.path.join(huge, "store.mdb"), 1 << 63)
        rehash_in_manifest(huge, "store.mdb")
        r = tern(s, "restore", huge, data=os.path.join(tmp, "r-huge"), timeout=20)
        assert r.returncode == 2 and b"damaged" in r.stderr, (r.returncode, r.stderr)
        assert not os.listdir(os.path.join(tmp, "r-huge")), "a failed restore leaves nothing"

        # An email whose bytes have no blob record (the rest agreeing:
        # counts, checksums) is damage verify finds: the restored message
        # could not be read.
        orphan = os.path.join(tmp, "orphan")
        shutil.copytree(b, orphan)
        drop_first_blob_record(orphan)
        r = tern(s, "backup", "--verify", orphan)
        assert r.returncode == 1 and b"not in the backup" in r.stdout, r.stdout
        r = tern(s, "restore", orphan, data=os.path.join(tmp, "r-orphan"))
        assert r.returncode == 2 and b"not in the backup" in r.stderr, (r.returncode, r.stderr)
        assert not os.listdir(os.path.join(tmp, "r-orphan")), "a failed restore leaves nothing"

        # A blob's refcount that is not the number of emails and queue
        # entries naming it (the rest agreeing: counts, checksums): one
        # too many keeps bytes nothing refers to for ever, one too few
        # frees them while a message still names them. verify said ok
        # and restore made that store.
        for refs in (2, 0):
            wrong = os.path.join(tmp, "refs-%d" % refs)
            shutil.copytree(b, wrong)
            set_first_blob_u64(os.path.join(wrong, "store.mdb"), 1, refs)
            rehash_in_manifest(wrong, "store.mdb")
            r = tern(s, "backup", "--verify", wrong)
            assert r.returncode == 1 and b"references recorded but" in r.stdout, (refs, r.stdout)
            r = tern(s, "restore", wrong, data=os.path.join(tmp, "r-refs-%d" % refs))
            assert r.returncode == 2 and b"references recorded but" in r.stderr, \
                (refs, r.returncode, r.stderr)
            assert not os.listdir(os.path.join(tmp, "r-refs-%d" % refs)), "a failed restore leaves nothing"

        cut = os.path.join(tmp, "cut")
        shutil.copytree(b, cut)
        with open(os.path.join(cut, "MANIFEST"), "r+b") as fh:
            text = fh.read()
            fh.seek(0)
            fh.truncate()
            fh.write(text[:-4])
        r = tern(s, "backup", "--verify", cut)
        assert r.returncode == 1 and b"cut short" in r.stdout, r.stdout

        # One byte of the MANIFEST changed where nothing else says what
        # it should be (a digit of created, which orders and ages runs;
        # a key made unknown, which the reader skips): verify said ok.
        # The check line above end covers every byte.
        for what, edit in ((b"created", lambda t: re.sub(rb"(?m)^(created \d*)(\d)$",
                                                         lambda m: m.group(1) + bytes([m.group(2)[0] ^ 1]), t)),
                           (b"key", lambda t: t.replace(b"\nstore-growth ", b"\nstore-Growth "))):
            changed = os.path.join(tmp, "changed-" + what.decode())
            shutil.copytree(b, changed)
            with open(os.path.join(changed, "MANIFEST"), "r+b") as fh:
                text = fh.read()
                fh.seek(0)
                fh.write(edit(text))
            assert open(os.path.join(changed, "MANIFEST"), "rb").read() != text, what
            r = tern(s, "backup", "--verify", changed)
            assert r.returncode == 1 and r.stdout.startswith(b"bad\n") and b"changed" in r.stdout, \
                (what, r.stdout)
            r = tern(s, "restore", changed, data=os.path.join(tmp, "r-changed-" + what.decode()))
            assert r.returncode == 2 and b"changed" in r.stderr, (what, r.returncode, r.stderr)
            left = os.path.join(tmp, "r-changed-" + what.decode())
            assert not os.path.exists(left) or not os.listdir(left), os.listdir(left)

        # A blob or a MANIFEST that is a FIFO (or another file that is not
        # regular) is refused at once: reading one waited forever for a
        # writer, in verify, restore and the web admin's list of backups.
        fifo = os.path.join(tmp, "fifo")
        shutil.copytree(b, fifo)
        blob = next(os.path.join(dp, n) for dp, _, ns in os.walk(os.path.join(fifo, "blobs")) for n in ns)
        os.unlink(blob)
        os.mkfifo(blob)
        r = tern(s, "backup", "--verify", fifo, timeout=20)
        assert r.returncode == 1 and b"not a regular file" in r.stdout, r.stdout
        r = tern(s, "restore", fifo, data=os.path.join(tmp, "r-fifo"), timeout=20)
        assert r.returncode == 2 and b"not a regular file" in r.stderr, (r.returncode, r.stderr)
        assert not os.listdir(os.path.join(tmp, "r-fifo")), "a failed restore leaves nothing"
        mfifo = os.path.join(tmp, "mfifo")
        shutil.copytree(b, mfifo)
        os.unlink(os.path.join(mfifo, "MANIFEST"))
        os.mkfifo(os.path.join(mfifo, "MANIFEST"))
        r = tern(s, "backup", "--verify", mfifo, timeout=20)
        assert r.returncode == 1 and b"not a regular file" in r.stdout, r.stdout

        # A restore killed half-way (kill -9 as it opens a blob: strace
        # sends the signal at that open, after the records, among the
        # blobs) must not leave a store that opens as if whole.
        if not shutil.which("strace"):
            print("  (no strace: restore kill -9 check skipped)")
        else:
            half = os.path.join(tmp, "r-half")
            env = dict(s.env, TERN_DATA_DIR=half)
            env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
            blob = next(os.path.join(dp, n) for dp, _, ns in os.walk(os.path.join(b, "blobs")) for n in ns)
            r = subprocess.run(["strace", "-f", "-qq", "-o", os.devnull, "-P", blob, "-e", "trace=open,openat",
                                "-e", "inject=open,openat:signal=SIGKILL", s.binary, "restore", b],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            assert r.returncode == -9 or r.returncode == 137, (r.returncode, r.stderr)
            assert any(n.endswith(".mdb") for n in os.listdir(half)), os.listdir(half)
            # No listener: the server must stop at the store, not serve.
            env.update({k: "" for k in env if k.startswith("TERN_LISTEN_")})
            for args in (["serve"], ["account", "list"]):
                try:
                    r = subprocess.run([s.binary] + args, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, timeout=10)
                except subprocess.TimeoutExpired:
                    raise AssertionError("tern %s runs on a half-restored store" % args[0])
                assert r.returncode != 0 and b"cut short" in r.stderr, (args, r.returncode, r.stdout, r.stderr)
            # Run again, the restore starts over on what the cut one left
            # (nothing else is there) and ends with the whole store.
            r = tern(s, "restore", b, data=half)
            assert r.returncode == 0, r.stderr
            assert sorted(os.listdir(half)) == sorted(os.listdir(os.path.join(tmp, "r-extra"))), \
                (os.listdir(half), os.listdir(os.path.join(tmp, "r-extra")))
            r = tern(s, "account", "list", data=half)
            assert r.returncode == 0 and BOB.encode() in r.stdout, (r.returncode, r.stdout, r.stderr)
            # Beside anything else, it is still refused.
            os.makedirs(os.path.join(tmp, "r-half2"))
            open(os.path.join(tmp, "r-half2", STORE_RESTORING), "w").close()
            open(os.path.join(tmp, "r-half2", "notes.txt"), "w").close()
            r = tern(s, "restore", b, data=os.path.join(tmp, "r-half2"))
            assert r.returncode == 2 and b"not empty" in r.stderr, (r.returncode, r.stderr)
            assert sorted(os.listdir(os.path.join(tmp, "r-half2"))) == sorted([STORE_RESTORING, "notes.txt"])

        newer = os.path.join(tmp, "newer")
        shutil.copytree(b, newer)
        with open(os.path.join(newer, "MANIFEST"), "r+b") as fh:
            text = resealed(re.sub(rb"(?m)^schema \d+$", b"schema 999", fh.read()))
            fh.seek(0)
            fh.truncate()
            fh.write(text)
        r = tern(s, "restore", newer, data=os.path.join(tmp, "r-newer"))
        assert r.returncode == 2 and b"newer" in r.stderr, r.stderr
        # The store.mdb of a newer schema under a manifest saying this
        # one (a manifest of format 1 has no check; a bug): the restore
        # made a data directory no server of this build starts on. It
        # reads the schema in the store itself.
        lying = os.path.join(tmp, "lying")
        shutil.copytree(b, lying)
        set_meta_u32(os.path.join(lying, "store.mdb"), b"schema_version", 999)
        rehash_in_manifest(lying, "store.mdb")
        r = tern(s, "restore", lying, data=os.path.join(tmp, "r-lying"))
        assert r.returncode == 2 and b"newer" in r.stderr, (r.returncode, r.stderr)
        assert not os.listdir(os.path.join(tmp, "r-lying")), "a failed restore leaves nothing"
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_backup_store_cut_short_is_refused():
    # A backup whose store.mdb lost its tail, the manifest made to match
    # (it proves nothing): verify and restore died of SIGBUS reading a
    # page past the end. Verify now says "bad" and damaged, restore
    # refuses in one line and leaves nothing behind.
    tmp = tempfile.mkdtemp(prefix="tern-backup-")
    s = Server(accounts=ACCOUNTS, imap=True)
    try:
        deliver(s, 5)
        wait_count(s, 5)
        b = os.path.join(tmp, "b")
        assert tern(s, "backup", b).returncode == 0
        store = os.path.join(b, "store.mdb")
        with open(store, "r+b") as fh:
            fh.truncate(3 * 4096)
        rehash_in_manifest(b, "store.mdb")
        r = tern(s, "backup", "--verify", b, timeout=30)
        print("  verify: %d %s" % (r.returncode, r.stdout.decode().strip().splitlines()))
        assert r.returncode == 1 and r.stdout.startswith(b"bad\n") and b"damaged" in r.stdout, \
            (r.returncode, r.stdout, r.stderr)
        target = os.path.join(tmp, "r")
        r = tern(s, "restore", b, data=target, timeout=30)
        print("  restore: %d %s" % (r.returncode, r.stderr.decode().strip()))
        assert r.returncode == 2 and b"damaged" in r.stderr, (r.returncode, r.stderr)
        assert not os.path.exists(target) or not os.listdir(target), \
            "a failed restore leaves nothing"
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_backup_disk_full():
    if os.geteuid() != 0:
        print("  (needs root to mount a small tmpfs)")
        return "skip"
    tmp = tempfile.mkdtemp(prefix="tern-backup-")
    mnt = os.path.join(tmp, "small")
    os.makedirs(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt], check=True)
    s = Server(accounts=ACCOUNTS, http=True)
    sched = os.path.join(tmp, "sched")
    try:
        # About 2 MiB of mail: more than the 1 MiB file system holds.
        deliver(s, 40, body="x" * 70 + "\r\n" * 1 + ("y" * 76 + "\r\n") * 650)
        wait_count(s, 40, timeout=30)
        b = os.path.join(mnt, "b")
        r = tern(s, "backup", b)
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
        assert b"no space left on device" in r.stderr, r.stderr
        assert r.stdout == b"", r.stdout
        # Nothing that looks like a backup stays, and the room is given back.
        assert not os.path.exists(os.path.join(b, "MANIFEST"))
        assert not os.path.exists(b) or not os.listdir(b), os.listdir(b)
        r = tern(s, "backup", "--verify", b)
        assert r.returncode == 1 and r.stdout.startswith(b"bad\n"), r.stdout
        st = os.statvfs(mnt)
        assert st.f_bfree * st.f_frsize > 900 * 1024, st

        # A restore onto a disk too small says so plainly, and leaves
        # the data directory empty.
        ok = os.path.join(tmp, "ok")
        r = tern(s, "backup", ok)
        assert r.returncode == 0, r.stderr
        target = os.path.join(mnt, "r")
        r = tern(s, "restore", ok, data=target)
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
        assert b"no space left on device" in r.stderr, r.stderr
        assert not os.listdir(target), os.listdir(target)
        st = os.statvfs(mnt)
        assert st.f_bfree * st.f_frsize > 900 * 1024, st

        # A scheduled run on a 4 MiB backup disk that a run cut short by a
        # crash (no MANIFEST, 3 MiB of blobs written) left nearly full:
        # the leftover goes before the run, which then fits (it was only
        # removed by the prune after a good run, which never came).
        os.makedirs(sched)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", sched], check=True)
        crashed = os.path.join(sched, "tern-20000101T000000Z")
        os.makedirs(os.path.join(crashed, "blobs", "00"))
        with open(os.path.join(crashed, "blobs", "00", "00" * 32), "wb") as fh:
            fh.write(b"x" * (3 << 20))
        from httpc import Api
        a = Api(s)
        a.token = s.cli("token", "add", "backups").stdout.decode().strip()
        st, _, d = a.call("PUT", "/backups/schedule", {"dir": sched, "time": "04:05", "keep": 2})
        assert st == 200, d
        st, _, d = a.call("POST", "/backups", {})
        assert st == 202, d
        deadline = time.time() + 60
        while time.time() < deadline:
            st, _, d = a.call("GET", "/backups")
            if d["backups"] and d["running"] is None:
                break
            time.sleep(0.1)
        assert [b["result"] for b in d["backups"]] == ["ok"], d
        assert not os.path.exists(crashed), os.listdir(sched)
        assert s.wait_log("event=backup_stale_removed"), s.log_text()[-2000:]
    finally:
        s.cleanup()
        subprocess.run(["umount", "-l", mnt])
        if os.path.ismount(sched):
            subprocess.run(["umount", "-l", sched])
        shutil.rmtree(tmp, ignore_errors=True)


def wait_backups(a, n_ok, n_failed=0, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, _, d = a.call("GET", "/backups")
        assert st == 200, d
        ok = [b for b in d["backups"] if b["result"] == "ok"]
        failed = [b for b in d["backups"] if b["result"] == "failed"]
        if len(ok) >= n_ok and len(failed) >= n_failed and d["running"] is None:
            return d
        time.sleep(0.1)
    raise AssertionError("backups not done: %r" % d)


def runs(bdir):
    """The runs in a backup directory (its TERN-BACKUPS marker aside)."""
    return sorted(n for n in os.listdir(bdir) if n.startswith("tern-"))


def metric(a, name):
    st, _, body = a.raw("GET", "/metrics", headers={"Authorization": "Bearer " + a.token})
    assert st == 200
    m = re.search(rb"(?m)^%s (\d+)$" % name.encode(), body)
    return int(m.group(1)) if m else None


def test_backup_scheduled_web_admin_metrics():
    from httpc import Api
    tmp = tempfile.mkdtemp(prefix="tern-backup-")
    bdir = os.path.join(tmp, "backups")
    s = Server(accounts=ACCOUNTS, http=True,
               env={"TERN_BACKUP_DIR": bdir, "TERN_BACKUP_TIME": "04:05", "TERN_BACKUP_KEEP": "2"})
    try:
        a = Api(s)
        a.token = s.cli("token", "add", "backups").stdout.decode().strip()
        st, _, d = a.call("GET", "/backups")
        assert st == 200 and d["configured"] and d["time"] == "04:05" and d["keep"] == 2, d
        assert d["backups"] == [] and d["last_good"] == 0 and d["next"] % 86400 == 4 * 3600 + 5 * 60, d
        assert metric(a, "tern_backup_last_success_age_seconds") is None  # none yet
        assert metric(a, "tern_backup_last_success_bytes") is None
        deliver(s, 10)
        wait_count(s, 10)

        # Three started from the web admin: each incremental on the one
        # before, and only the newest two stay.
        names = []
        for i in range(3):
            st, _, r = a.call("POST", "/backups", {})
            assert st == 202, r
            d = wait_backups(a, min(i + 1, 2))
            names.append(d["backups"][0]["name"])
            if i == 0:
                assert d["backups"][0]["reused"] == 0 and d["backups"][0]["emails"] == 10, d
            else:
                assert d["backups"][0]["reused"] == 10, d
            time.sleep(1.05)  # names are to the second
        assert runs(bdir) == sorted(names[1:]), (os.listdir(bdir), names)
        assert [b["name"] for b in d["backups"]] == [names[2], names[1]], d
        assert tern(s, "backup", "--verify", os.path.join(bdir, names[2])).returncode == 0
        age = metric(a, "tern_backup_last_success_age_seconds")
        assert age is not None and 0 <= age < 60, age
        # The newest backup's size and duration, as its manifest says.
        assert metric(a, "tern_backup_last_success_bytes") == d["backups"][0]["bytes"], d
        st, _, body = a.raw("GET", "/metrics", headers={"Authorization": "Bearer " + a.token})
        m = re.search(rb"(?m)^tern_backup_last_success_duration_seconds (\d+)\.(\d{3})$", body)
        assert m and int(m.group(1)) * 1000 + int(m.group(2)) == d["backups"][0]["duration_ms"], d
        assert metric(a, "tern_backup_failures_total") == 0

        # Pruning deletes neither a run whose MANIFEST is there but
        # damaged (it may be all there is: kept and logged), nor through
        # a symlink named like a run (to a backup or to a run without a
        # manifest elsewhere): both names sort oldest.
        damaged = os.path.join(bdir, "tern-00000000T000000Z")
        shutil.copytree(os.path.join(bdir, names[1]), damaged)
        with open(os.path.join(damaged, "MANIFEST"), "r+b") as fh:
            fh.truncate(20)
        outside = os.path.join(tmp, "outside")
        shutil.copytree(os.path.join(bdir, names[1]), os.path.join(outside, "good"))
        shutil.copytree(os.path.join(bdir, names[1]), os.path.join(outside, "stale"))
        os.unlink(os.path.join(outside, "stale", "MANIFEST"))
        os.symlink(os.path.join(outside, "good"), os.path.join(bdir, "tern-00000000T000001Z"))
        os.symlink(os.path.join(outside, "stale"), os.path.join(bdir, "tern-00000000T000002Z"))
        before = {n: sorted(os.listdir(os.path.join(outside, n))) for n in ("good", "stale")}
        # A run without a MANIFEST yet is pruned as stale only when no
        # run holds its lock (backup.h backup_lock: a flock on the run's
        # directory, as `tern backup` by hand into this directory takes):
        # the one this test locks stays, the crashed one goes.
        writing = os.path.join(bdir, "tern-00000000T000003Z")
        crashed = os.path.join(bdir, "tern-00000000T000004Z")
        for w in (writing, crashed):
            shutil.copytree(os.path.join(bdir, names[1]), w)
            os.unlink(os.path.join(w, "MANIFEST"))
        lock = os.open(writing, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        st, _, r = a.call("POST", "/backups", {})
        assert st == 202, r
        d = wait_backups(a, 2)
        assert s.wait_log("event=backup_pruned"), s.log_text()[-2000:]
        assert s.wait_log("event=backup_stale_kept"), s.log_text()[-2000:]
        assert not os.path.exists(crashed), os.listdir(bdir)
        assert sorted(os.listdir(writing)) == ["blobs", "keys", "store.mdb"], os.listdir(writing)
        os.close(lock)
        shutil.rmtree(writing)
        assert s.wait_log("event=backup_manifest_unreadable"), s.log_text()[-2000:]
        assert sorted(os.listdir(damaged)) == ["MANIFEST", "blobs", "keys", "store.mdb"], \
            os.listdir(damaged)
        assert {n: sorted(os.listdir(os.path.join(outside, n))) for n in ("good", "stale")} == before
        assert "tern-00000000T000001Z" not in [b["name"] for b in d["backups"]], d
        assert not os.path.exists(os.path.join(bdir, names[1])), os.listdir(bdir)
        shutil.rmtree(damaged)
        for n in ("tern-00000000T000001Z", "tern-00000000T000002Z"):
            os.unlink(os.path.join(bdir, n))

        # After the clock went back, runs named ahead of it (made before,
        # while the clock was ahead: their manifests' run numbers lower)
        # are the older ones: pruned, while the runs made since are kept.
        def set_run(d, run):
            mp = os.path.join(bdir, d, "MANIFEST")
            text = open(mp, "rb").read()
            assert re.search(rb"(?m)^run \d+$", text), text
            with open(mp, "wb") as fh:
                fh.write(resealed(re.sub(rb"(?m)^run \d+$", b"run %d" % run, text)))
        ahead = ["tern-29990101T000000Z", "tern-29990102T000000Z"]
        for i, n in enumerate(ahead):
            shutil.copytree(os.path.join(bdir, names[2]), os.path.join(bdir, n))
            set_run(n, 1 + i)
        # Listed newest first by run: the real ones, then those ahead.
        kept_real = [b["name"] for b in wait_backups(a, 2)["backups"] if b["result"] == "ok"]
        assert kept_real[2:] == [ahead[1], ahead[0]], kept_real
        before = set(runs(bdir))
        st, _, r = a.call("POST", "/backups", {})
        assert st == 202, r
        wait_backups(a, 2)
        assert s.wait_log("event=backup_pruned path=\"%s/%s" % (bdir, ahead[0])), s.log_text()[-2000:]
        new = set(runs(bdir)) - before
        assert len(new) == 1, (sorted(before), os.listdir(bdir))
        new = new.pop()
        assert os.path.isfile(os.path.join(bdir, new, "MANIFEST"))
        # Kept: the run just made and the newest real one before it.
        assert runs(bdir) == sorted([new, kept_real[0]]), (os.listdir(bdir), kept_real)

        # A failure is logged, listed and counted, never silent.
        shutil.rmtree(bdir)
        with open(bdir, "w") as fh:  # a file where the directory was
            fh.write("not a directory\n")
        st, _, r = a.call("POST", "/backups", {})
        assert st == 202, r
        d = wait_backups(a, 0, 1)
        f = [b for b in d["backups"] if b["result"] == "failed"]
        assert f and f[0]["error"], d
        assert metric(a, "tern_backup_failures_total") == 1
        assert s.wait_log("event=backup_failed"), s.log_text()[-2000:]

        # Bad values stop with one line naming the variable (exit 2).
        for var, val in (("TERN_BACKUP_TIME", "24:00"), ("TERN_BACKUP_TIME", "3:30"),
                         ("TERN_BACKUP_KEEP", "0"), ("TERN_BACKUP_DIR", "relative/dir")):
            env = dict(s.env, **{var: val})
            r = subprocess.run([s.binary, "account", "list"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
            assert r.returncode == 2 and var.encode() in r.stderr, (var, val, r.stderr)
            assert r.stderr.count(b"\n") == 1, r.stderr
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_backup_schedule_set_from_web_admin():
    """The schedule set from the web admin (PUT /backups/schedule): off at
    first, on at once in the directory given (a backup can be started),
    kept across a restart, its time and count changed in place, bad
    values refused naming the field, turned off again; and locked while a
    TERN_BACKUP_* variable sets it."""
    from httpc import Api
    tmp = tempfile.mkdtemp(prefix="tern-bsched-")
    bdir = os.path.join(tmp, "backups")
    s = Server(accounts=ACCOUNTS, http=True)
    try:
        a = Api(s)
        a.token = s.cli("token", "add", "schedule").stdout.decode().strip()
        st, _, d = a.call("GET", "/backups")
        assert st == 200 and not d["configured"] and not d["locked"], d
        st, _, r = a.call("POST", "/backups", {})
        assert st == 409 and r["code"] == "not_configured", r
        st, _, d = a.call("PUT", "/backups/schedule", {"dir": bdir, "time": "02:15", "keep": 3})
        assert st == 200 and d["configured"] and d["dir"] == bdir and d["time"] == "02:15", d
        assert d["keep"] == 3 and d["next"] % 86400 == 2 * 3600 + 15 * 60, d
        deliver(s, 3)
        wait_count(s, 3)
        st, _, r = a.call("POST", "/backups", {})
        assert st == 202, r
        d = wait_backups(a, 1)
        assert d["backups"][0]["emails"] == 3, d
        for body, field in (({"dir": "relative"}, "dir"), ({"dir": bdir, "time": "25:00"}, "time"),
                            ({"dir": bdir, "keep": 0}, "keep")):
            st, _, p = a.call("PUT", "/backups/schedule", body)
            assert st == 400 and p["field"] == field, (body, p)
        # A directory another server's TERN-BACKUPS marks is refused at
        # once, not left to fail every night.
        foreign = os.path.join(tmp, "foreign")
        os.makedirs(foreign)
        with open(os.path.join(foreign, "TERN-BACKUPS"), "w") as fh:
            fh.write("tern-backups 1\nowner %s\nhost other\ndata-dir /data\n" % ("0" * 32))
        st, _, p = a.call("PUT", "/backups/schedule", {"dir": foreign})
        assert st == 400 and p["field"] == "dir" and "another tern server" in p["detail"], p
        assert a.call("GET", "/backups")[2]["dir"] == bdir

        s.stop()
        s.start()  # stored: still on, same list
        st, _, d = a.call("GET", "/backups")
        assert d["configured"] and d["dir"] == bdir and d["time"] == "02:15" and d["keep"] == 3, d
        assert len([b for b in d["backups"] if b["result"] == "ok"]) == 1, d
        # /metrics has the size of the backup made before the restart.
        assert metric(a, "tern_backup_last_success_bytes") == d["backups"][0]["bytes"] > 0, d
        # (unless 02:15 UTC fell between that backup and this start)
        since_slot = (time.time() - (2 * 3600 + 15 * 60)) % 86400
        if since_slot > 120:
            assert "event=backup_missed" not in s.log_text(), s.log_text()[-2000:]

        # The run due at 02:15 was missed (tern was down then: the newest
        # good backup is from two days ago): made at the start, not a day
        # late; the restart before (its backup made since 02:15) made none.
        s.stop()
        first = d["backups"][0]["name"]
        mp = os.path.join(bdir, first, "MANIFEST")
        text = open(mp, "rb").read()
        with open(mp, "wb") as fh:
            fh.write(resealed(re.sub(rb"(?m)^created \d+$", b"created %d" %
                                     (time.time() - 2 * 86400), text)))
        s.start()
        d = wait_backups(a, 2)
        assert [b["name"] for b in d["backups"]][1:] == [first], d
        assert s.wait_log("event=backup_missed"), s.log_text()[-2000:]
        st, _, d = a.call("PUT", "/backups/schedule", {"dir": bdir, "time": "05:00", "keep": 9})
        assert st == 200 and d["time"] == "05:00" and d["keep"] == 9 and len(d["backups"]) == 2, d

        # More to keep than a status list holds (64): pruning still finds
        # the oldest. 70 older runs (a manifest each, no run number, named
        # before the real ones), keep 66: the new run makes 73, the oldest
        # 7 go.
        st, _, d = a.call("PUT", "/backups/schedule", {"dir": bdir, "time": "05:00", "keep": 66})
        assert st == 200 and d["keep"] == 66, d
        text = open(os.path.join(bdir, d["backups"][0]["name"], "MANIFEST"), "rb").read()
        text = resealed(re.sub(rb"(?m)^run \d+\n", b"", text))
        old = ["tern-20000101T%06dZ" % i for i in range(70)]
        for n in old:
            os.mkdir(os.path.join(bdir, n))
            with open(os.path.join(bdir, n, "MANIFEST"), "wb") as fh:
                fh.write(text)
        real = sorted(set(runs(bdir)) - set(old))
        st, _, r = a.call("POST", "/backups", {})
        assert st == 202, r
        wait_backups(a, 3)
        left = runs(bdir)
        assert len(left) == 66 and left[:63] == old[7:], left
        assert set(real) < set(left[63:]), (real, left)
        for n in old[7:]:
            shutil.rmtree(os.path.join(bdir, n))
        st, _, d = a.call("PUT", "/backups/schedule", {"dir": ""})
        assert st == 200 and not d["configured"], d
        s.stop()
        s.start()
        st, _, d = a.call("GET", "/backups")
        assert not d["configured"], d
        s.stop()

        # The environment wins, and the API says so.
        s.env["TERN_BACKUP_DIR"] = bdir
        s.start()
        st, _, d = a.call("GET", "/backups")
        assert d["configured"] and d["locked"], d
        st, _, p = a.call("PUT", "/backups/schedule", {"dir": ""})
        assert st == 409 and p["code"] == "locked" and "TERN_BACKUP_DIR" in p["detail"], p
    finally:
        s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_upgrade_kill9_and_newer_schema():
    """A store of the previous schema: `tern serve` killed with SIGKILL
    during its start (the migration is one LMDB transaction: wherever the
    kill lands, the store is the old one or the new one), then started
    again: the mail is all there and the schema is current. A store of a
    newer schema than the binary's is refused with one line naming both
    versions, exit 2, and left as it was."""
    from test_store_limits import set_schema_on_disk
    s = Server(accounts=ACCOUNTS, imap=True)
    try:
        deliver(s, 20)
        wait_count(s, 20)
        before = sorted(line for _, line in s.messages(BOB))
        s.stop()
        path = os.path.join(s.data, "data.mdb")
        with open(path, "rb") as fh:
            raw = fh.read()
        at = raw.index(b"schema_version\x01") + 15
        cur = int.from_bytes(raw[at:at + 4], "big")
        for delay in (0.0, 0.05, 0.2):
            set_schema_on_disk(s.data, cur, cur - 1)
            p = subprocess.Popen([s.binary, "serve"], env=s.env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            p.kill()
            p.wait()
            # The old schema (the read-only open asks for a migration) or
            # the new one, readable either way; never damage.
            r = tern(s, "account", "list")
            assert r.returncode == 0 or b"run tern serve once to migrate" in r.stderr, r.stderr
            # Copies an interrupted start made stay until a start that
            # served; a later migration makes its own again.
            shutil.rmtree(os.path.join(s.data, "backup-schema-%d" % (cur - 1)), ignore_errors=True)
            s.start()
            assert sorted(line for _, line in s.messages(BOB)) == before
            s.stop()
            assert tern(s, "account", "list").returncode == 0  # current schema again
            shutil.rmtree(os.path.join(s.data, "backup-schema-%d" % (cur - 1)), ignore_errors=True)

        set_schema_on_disk(s.data, cur, cur + 1)
        r = subprocess.run([s.binary, "serve"], env=s.env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        err = r.stderr.decode().strip().splitlines()
        assert r.returncode == 2, (r.returncode, err)
        line = [x for x in err if "newer" in x]
        assert len(line) == 1 and str(cur + 1) in line[0] and str(cur) in line[0], err
        r = tern(s, "account", "list")
        assert r.returncode == 1 and b"run a newer tern" in r.stderr, r.stderr  # left as it was
    finally:
        s.cleanup()


def backup_stop_restore(s, tmp):
    """`tern backup` of server s into tmp/b, s stopped, the backup
    restored into tmp/restored: (that data directory, the restore's
    CompletedProcess)."""
    b = os.path.join(tmp, "b")
    s.cli("backup", b)
    s.stop()
    restored = os.path.join(tmp, "restored")
    r = tern(s, "restore", b, data=restored)
    assert r.returncode == 0, r.stderr
    return restored, r


def test_restore_holds_the_restored_queue():
    """A backup holds the outbound queue as it was; by the restore, those
    messages may well have left. The restored server holds them (listed
    as held, never tried) until the admin releases them with `tern queue
    flush` or drops them with `tern queue del`, as `postsuper -h` would:
    the remote must not get a message twice because a backup was restored.
    Mail queued after the restore leaves as usual. Held entries never
    expire (as Postfix's hold queue): `tern queue list` says so from the
    restore on (before any server opened the store), each start logs how
    many wait, and /metrics counts them (tern_queue_held)."""
    from httpc import Api
    from test_queue import World, mx, zone
    with World(lambda ips: zone(mx(ips, 0)), http=True) as w, tempfile.TemporaryDirectory() as tmp:
        # Nothing listens: retried every second, so the backup's entry
        # is due again at once when its server comes back.
        w.send(["carol@remote.test"], subject="before the backup")
        w.wait_list("connection refused")
        restored, r = backup_stop_restore(w.srv, tmp)
        # Said at the restore, before any server starts on it.
        assert kv(r.stdout)["queue-held"] == "1", r.stdout
        assert b"tern queue flush" in r.stderr, r.stderr
        # Listed as held before a server opened the restored store (the
        # hold is written at that first open): read-only, it showed the
        # backup's next attempt, a time long past.
        r = tern(w.srv, "queue", "list", data=restored)
        assert r.returncode == 0 and b"next held" in r.stdout, r.stdout
        w.srv.data = w.srv.env["TERN_DATA_DIR"] = restored
        rcv = w.receiver(0)
        w.srv.start()
        out = w.wait_list("held")
        assert "carol@remote.test" in out, out
        assert w.srv.wait_log("event=queue_held held=1"), w.srv.log_text()[-2000:]
        a = Api(w.srv)
        a.token = w.srv.cli("token", "add", "metrics").stdout.decode().strip()
        assert metric(a, "tern_queue_held") == 1
        st, _, page = a.call("GET", "/queue?limit=100")
        assert st == 200 and page["held"] == 1 and page["total"] == 1, page
        # A message sent now leaves; the held one, due long before it on
        # the old code, has not gone with it.
        w.send(["dave@remote.test"], subject="after the restore")
        got = rcv.wait_messages(1, timeout=20)
        assert len(got) == 1 and b"after the restore" in got[0]["data"], got
        assert "carol@remote.test" in w.queue_list()
        # Released by the admin: it leaves.
        w.srv.cli("queue", "flush")
        got = rcv.wait_messages(2, timeout=20)
        assert len(got) == 2 and b"before the backup" in got[1]["data"], got
        assert w.wait_queue_empty()
        assert metric(a, "tern_queue_held") == 0
        assert a.call("GET", "/queue?limit=100")[2]["held"] == 0


def test_restore_drops_the_reports_pending_in_the_backup():
    """A backup holds the DMARC results and TLS-RPT outcomes not reported
    yet when it was taken; by the restore, the lost server has reported
    those days (RFC 9990, RFC 8460: a report per day and domain), and sent
    again the receivers would count the same mail twice. The first open
    of the restored store drops them (and says how many); what is counted
    after the restore is reported as usual."""
    from test_queue import World, mx, zone

    def records(ips):
        return zone(mx(ips, 0), {
            "example.org": {"TXT": ["v=spf1 ip4:127.0.0.2 -all"]},
            "_dmarc.example.org": {"TXT": ["v=DMARC1; p=none; rua=mailto:dmarc@example.org"]}})

    with World(records) as w, tempfile.TemporaryDirectory() as tmp:
        rcv = w.receiver(0)
        # A TLS-RPT session (no-policy-found) and a DMARC result.
        w.send(["carol@remote.test"], subject="counted")
        assert len(rcv.wait_messages(1, timeout=20)) == 1
        path = os.path.join(tmp, "m.eml")
        with open(path, "wb") as f:
            f.write(b"From: a@example.org\r\nTo: b@example.test\r\nSubject: s\r\n\r\nHi.\r\n")

        def record():
            r = w.srv.cli("check", "auth", "--ip", "127.0.0.2", "--helo", "mail.example.org",
                          "--mail-from", "a@example.org", "--record", path)
            assert "recorded: example.org" in r.stdout.decode(), r.stdout
        record()
        w.srv.proc.send_signal(signal.SIGHUP)
        assert w.srv.wait_log(re.compile(r"module=tlsrpt event=seen_flushed rows=[1-9]")), \
            w.srv.log_text()[-2000:]
        assert "example.org" in w.srv.cli("dmarc", "report").stdout.decode()
        assert "remote.test" in w.srv.cli("tlsrpt", "report").stdout.decode()
        restored, _ = backup_stop_restore(w.srv, tmp)
        # Read-only before any server opened it: as the first open makes it.
        for what in ("dmarc", "tlsrpt"):
            r = tern(w.srv, what, "report", data=restored)
            assert r.stdout == b"nothing to report\n", (what, r.stdout, r.stderr)
        w.srv.data = w.srv.env["TERN_DATA_DIR"] = restored
        w.srv.start()
        assert w.srv.wait_log(re.compile(r"event=restore_renewed .*dmarc_rows_dropped=1 "
                                         r"tlsrpt_days_dropped=1 ")), w.srv.log_text()[-2000:]
        assert w.srv.cli("dmarc", "report").stdout.decode() == "nothing to report\n"
        assert w.srv.cli("tlsrpt", "report").stdout.decode() == "nothing to report\n"
        # Counted after the restore: there to report.
        record()
        assert "example.org" in w.srv.cli("dmarc", "report").stdout.decode()


def test_restore_gives_no_share_notification_id_again():
    """A ShareNotification's id is its account's sequence number
    (store_sharenote.c). After the backup the lost server went on: a
    grant changed and the grantee's client saw that notification's id.
    The restored server must not give that id to a new notification
    (RFC 8620 §1.2: an id is never reused), nor give an account the
    backup holds no notification of (Dave) the id of its first."""
    from jmapc import CORE, MAIL
    using = (CORE, MAIL, "urn:ietf:params:jmap:principals")
    dave = ("dave@example.test", "dave-pw-1")
    s = Server(accounts=ACCOUNTS + [dave], imap=True, http=True)

    def notes(srv, user):
        j = Jmap(srv, *user)
        r = j.call([["ShareNotification/get", {"accountId": j.account, "ids": None}, "c"]],
                   using)["methodResponses"][0]
        assert r[0] == "ShareNotification/get", r
        return [n["id"] for n in r[1]["list"]]

    def setacl(srv, who, rights):
        m = login(srv)
        try:
            assert m.setacl("Team", who, rights)[0] == "OK"
        finally:
            m.logout()

    with tempfile.TemporaryDirectory() as tmp:
        try:
            m = login(s)
            assert m.create("Team")[0] == "OK"
            m.logout()
            setacl(s, CAROL, "lr")
            assert len(notes(s, (CAROL, CAROL_PW))) == 1
            b = os.path.join(tmp, "b")
            s.cli("backup", b)
            # After the backup: one more for Carol, a first for Dave.
            setacl(s, CAROL, "lrs")
            setacl(s, dave[0], "lr")
            seen = {CAROL: set(notes(s, (CAROL, CAROL_PW))), dave[0]: set(notes(s, dave))}
            assert len(seen[CAROL]) == 2 and len(seen[dave[0]]) == 1, seen
            s.stop()
            restored = os.path.join(tmp, "restored")
            r = tern(s, "restore", b, data=restored)
            assert r.returncode == 0, r.stderr
            s.data = s.env["TERN_DATA_DIR"] = restored
            s.start()
            setacl(s, CAROL, "lrw")
            setacl(s, dave[0], "lrw")
            for user in ((CAROL, CAROL_PW), dave):
                now = notes(s, user)
                assert len(now) == (2 if user[0] == CAROL else 1), (user, now)
                new = now[-1]
                assert new not in seen[user[0]], (user[0], new, seen[user[0]])
        finally:
            s.cleanup()


def backup_now(s, n_ok, n_failed=0):
    """Starts a scheduled-style backup on s from the web admin and waits
    for it to end: the GET /backups answer."""
    from httpc import Api
    a = Api(s)
    # tern(), not s.cli(): a server run under strace would run it so too.
    a.token = tern(s, "token", "add", "backups-%d" % time.monotonic_ns(),
                   check=True).stdout.decode().strip()
    st, _, r = a.call("POST", "/backups", {})
    assert st == 202, r
    return wait_backups(a, n_ok, n_failed)


def test_two_servers_never_share_a_backup_dir():
    """Two servers pointed at one TERN_BACKUP_DIR (two containers on one
    NAS share): the first to back up there owns it (its TERN-BACKUPS
    marker names it by a key derived from its secrets.key, which a restore
    keeps); the other's runs fail with a clear error and write or prune
    nothing there. Before, with TERN_BACKUP_KEEP=1, the second's run
    pruned the first's only backup."""
    tmp = tempfile.mkdtemp(prefix="tern-bshare-")
    bdir = os.path.join(tmp, "backups")
    env = {"TERN_BACKUP_DIR": bdir, "TERN_BACKUP_KEEP": "1"}
    s1 = s2 = None
    try:
        s1 = Server(accounts=ACCOUNTS, http=True, env=env)
        s2 = Server(accounts=ACCOUNTS, http=True, env=env)
        keys = [open(os.path.join(s.data, "secrets.key"), "rb").read() for s in (s1, s2)]
        assert keys[0] != keys[1]  # two servers, each its own key
        d = backup_now(s1, 1)
        first = d["backups"][0]["name"]
        assert os.path.isfile(os.path.join(bdir, "TERN-BACKUPS"))
        time.sleep(1.05)  # names are to the second
        d = backup_now(s2, 0, 1)
        f = [b for b in d["backups"] if b["result"] == "failed"]
        assert f and "another tern server" in f[0]["error"], d
        assert s2.wait_log("event=backup_failed"), s2.log_text()[-2000:]
        assert sorted(os.listdir(bdir)) == ["TERN-BACKUPS", first], os.listdir(bdir)
        # The owner goes on as before.
        time.sleep(1.05)
        d = backup_now(s1, 1)
        assert d["backups"][0]["name"] != first and len(os.listdir(bdir)) == 2, os.listdir(bdir)
        # Restarted, the other does not take the owner's backups for its
        # own: no last success in /metrics (an alert on its age would
        # never fire), and no run "missed" made at the start.
        s2.stop()
        s2.start()
        from httpc import Api
        a = Api(s2)
        a.token = s2.cli("token", "add", "metrics").stdout.decode().strip()
        assert metric(a, "tern_backup_last_success_age_seconds") is None
        assert a.call("GET", "/backups")[2]["last_good"] == 0
    finally:
        for s in (s1, s2):
            if s:
                s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_backup_dir_not_mounted_is_refused():
    """The backup disk is not mounted (a missing bind mount, a NAS down):
    TERN_BACKUP_DIR is then an empty directory on the root disk, or none
    (tern makes it). A server that made backups there finds no TERN-BACKUPS
    marker and refuses, saying why, instead of filling the root disk; an
    empty TERN-BACKUPS (a new disk put there on purpose) is adopted."""
    tmp = tempfile.mkdtemp(prefix="tern-bmount-")
    bdir = os.path.join(tmp, "backups")
    s = None
    try:
        s = Server(accounts=ACCOUNTS, http=True, env={"TERN_BACKUP_DIR": bdir})
        deliver(s, 3)
        wait_count(s, 3)
        backup_now(s, 1)
        s.stop()
        os.rename(bdir, bdir + ".disk")  # the disk, unmounted
        s.start()
        d = backup_now(s, 0, 1)
        f = [b for b in d["backups"] if b["result"] == "failed"]
        assert f and "not mounted" in f[0]["error"], d
        assert os.listdir(bdir) == [], os.listdir(bdir)
        # A new, empty disk there on purpose: the admin says so.
        open(os.path.join(bdir, "TERN-BACKUPS"), "w").close()
        d = backup_now(s, 1)
        assert len(os.listdir(bdir)) == 2 and os.path.getsize(os.path.join(bdir, "TERN-BACKUPS")) > 0
        # The disk back: its backups, with this server's marker, are used.
        s.stop()
        shutil.rmtree(bdir)
        os.rename(bdir + ".disk", bdir)
        s.start()
        d = backup_now(s, 2)
        assert d["backups"][0]["reused"] == d["backups"][0]["emails"] == 3, d
        # A restored server remembers the backup directories too (its
        # backups carry the list): on a new machine whose backup disk is
        # not mounted yet, its first run is refused as well.
        s.stop()
        restored = os.path.join(tmp, "restored")
        r = tern(s, "restore", os.path.join(bdir, d["backups"][0]["name"]), data=restored)
        assert r.returncode == 0, r.stderr
        os.rename(bdir, bdir + ".disk")
        s.data = s.env["TERN_DATA_DIR"] = restored
        s.start()
        d = backup_now(s, 0, 1)
        f = [b for b in d["backups"] if b["result"] == "failed"]
        assert f and "not mounted" in f[0]["error"], d
        assert os.listdir(bdir) == [], os.listdir(bdir)
    finally:
        if s:
            s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_keep_one_keeps_the_good_backup_through_a_failed_run():
    """TERN_BACKUP_KEEP=1 on a backup disk with room for one backup: a run
    that fails half-way (the disk fills) removes what it wrote and leaves
    the one good backup whole (it verifies): pruning comes only after a
    good run."""
    if os.geteuid() != 0:
        print("  (needs root to mount a small tmpfs)")
        return "skip"
    with small_tmpfs("2m", "tern-bkeep1-") as bdir:
        keep_one_through_a_failed_run(bdir)


def keep_one_through_a_failed_run(bdir):
    s = None
    try:
        s = Server(accounts=ACCOUNTS, http=True, env={"TERN_BACKUP_DIR": bdir, "TERN_BACKUP_KEEP": "1"})
        big = "x" * 70 + "\r\n" + ("y" * 76 + "\r\n") * 650  # about 50 KiB
        deliver(s, 10, body=big)
        wait_count(s, 10, timeout=30)
        good = backup_now(s, 1)["backups"][0]["name"]
        # Room for the first, not for the first and a second beside it.
        deliver(s, 40, body=big, subject="more %d")
        wait_count(s, 50, timeout=30)
        time.sleep(1.05)  # names are to the second
        d = backup_now(s, 1, 1)
        f = [b for b in d["backups"] if b["result"] == "failed"]
        assert f and "no space left on device" in f[0]["error"], d
        assert runs(bdir) == [good], os.listdir(bdir)
        r = tern(s, "backup", "--verify", os.path.join(bdir, good))
        assert r.returncode == 0 and kv(r.stdout)["emails"] == "10", r.stdout
    finally:
        if s:
            s.cleanup()


@contextlib.contextmanager
def strace_server(prefix, strace_args):
    """(server, its TERN_BACKUP_DIR) for a server with http run under
    strace, which strace_args(that directory) tells what to trace and
    inject (and where to write, -o, else nowhere); killed, removed and its
    directory with it at the end.
    LeakSanitizer cannot run under ptrace (at an ASan build's exit: the
    commands that set the server up run under strace too)."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    bdir = os.path.join(tmp, "backups")
    asan = (os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    s = None
    try:
        args = strace_args(bdir)
        s = Server(accounts=ACCOUNTS, http=True, env={"TERN_BACKUP_DIR": bdir, "ASAN_OPTIONS": asan},
                   wrap=["strace", "-f", "-qq"] + ([] if "-o" in args else ["-o", "/dev/null"]) + args)
        yield s, bdir
    finally:
        if s:
            kill_under_strace(s)
            s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def strace_tracees(s):
    """The pids strace (s.proc) runs, the server first."""
    with open("/proc/%d/task/%d/children" % (s.proc.pid, s.proc.pid)) as fh:
        return [int(pid) for pid in fh.read().split()]


def kill_under_strace(s):
    """strace killed leaves its tracee running: the server is killed first."""
    if s.proc and s.proc.poll() is None:
        for pid in strace_tracees(s):
            os.kill(pid, signal.SIGKILL)


def test_backup_dir_without_hard_links_is_marked():
    """A backup share whose file system has no hard links (CIFS/SMB, some
    FUSE mounts: link(2) fails EPERM) still gets its TERN-BACKUPS marker:
    the marker is written without one there, and the run is good (strace
    makes the server's link(2) to the marker fail so)."""
    if shutil.which("strace") is None:
        print("  (no strace: skipped)")
        return "skip"
    with strace_server("tern-bnolink-", lambda bdir: [
            "-P", os.path.join(bdir, "TERN-BACKUPS"), "-e", "trace=link,linkat",
            "-e", "inject=link,linkat:error=EPERM"]) as (s, bdir):
        d = backup_now(s, 1)
        assert d["backups"][0]["result"] == "ok", d
        with open(os.path.join(bdir, "TERN-BACKUPS")) as fh:
            assert fh.read().startswith("tern-backups 1\nowner "), os.listdir(bdir)
        assert [n for n in os.listdir(bdir) if n.startswith(".")] == [], os.listdir(bdir)


def test_stop_during_a_scheduled_backup():
    """tern serve stopped (SIGTERM) while a scheduled backup writes its
    blobs (strace slows each link(2), by which an incremental run takes
    the previous run's blobs, by 1 s): the run ends at its next message
    and what it wrote goes, so nothing there looks like a whole backup
    but the good one made before; after the restart the next run is good
    and verifies."""
    if shutil.which("strace") is None:
        print("  (no strace: skipped)")
        return "skip"
    from httpc import Api
    with strace_server("tern-bstop-", lambda bdir: [
            "-e", "trace=link,linkat", "-e", "inject=link,linkat:delay_enter=1000000"]) as (s, bdir):
        deliver(s, 5)
        wait_count(s, 5)
        good = backup_now(s, 1)["backups"][0]["name"]
        deliver(s, 40, subject="more %d")
        wait_count(s, 45, timeout=60)
        time.sleep(1.05)  # names are to the second
        a = Api(s)
        a.token = tern(s, "token", "add", "stop-%d" % time.monotonic_ns(),
                       check=True).stdout.decode().strip()
        assert a.call("POST", "/backups", {})[0] == 202
        deadline = time.time() + 30
        while time.time() < deadline:
            run = a.call("GET", "/backups")[2]["running"]
            if run and run["done_bytes"] > 0:
                break
            time.sleep(0.05)
        assert run and run["done_bytes"] > 0, run
        assert len(runs(bdir)) == 2, os.listdir(bdir)  # the run, half written
        # The server itself (strace passes no signal on to it).
        os.kill(strace_tracees(s)[0], signal.SIGTERM)
        s.proc.wait(timeout=60)
        assert "event=backup_failed" in s.log_text(), s.log_text()[-2000:]
        assert runs(bdir) == [good], os.listdir(bdir)
        s.start()
        d = backup_now(s, 2)
        newest = d["backups"][0]
        assert newest["name"] != good and newest["emails"] == 45, d
        r = tern(s, "backup", "--verify", os.path.join(bdir, newest["name"]))
        assert r.returncode == 0 and kv(r.stdout)["emails"] == "45", r.stdout


def test_backup_and_restore_across_file_systems():
    """An incremental backup whose base lies on another file system (a
    hard link cannot cross it: the blobs are copied and checked instead)
    and a restore into a data directory on a third one: the restored
    server serves every message, and the copies are whole backups."""
    if os.geteuid() != 0:
        print("  (needs root to mount a small tmpfs)")
        return "skip"
    s = None
    with small_tmpfs("32m", "tern-bfs1-") as fs1, small_tmpfs("64m", "tern-bfs2-") as fs2:
        try:
            s = Server(accounts=ACCOUNTS)
            deliver(s, 12)
            wait_count(s, 12)
            base = os.path.join(s.tmp, "base")
            r = tern(s, "backup", base)
            assert r.returncode == 0, r.stderr
            deliver(s, 3, subject="later %d")
            wait_count(s, 15)
            before = sorted(line for _, line in s.messages(BOB))
            inc = os.path.join(fs1, "inc")
            r = tern(s, "backup", "--base", base, inc)
            assert r.returncode == 0, r.stderr
            out = kv(r.stdout)
            assert out["reused"] == "12" and out["emails"] == "15", r.stdout
            r = tern(s, "backup", "--verify", inc)
            assert r.returncode == 0, r.stdout
            s.stop()
            restored = os.path.join(fs2, "data")
            r = tern(s, "restore", inc, data=restored)
            assert r.returncode == 0, r.stderr
            s.data = s.env["TERN_DATA_DIR"] = restored
            s.start()
            assert sorted(line for _, line in s.messages(BOB)) == before
        finally:
            if s:
                s.cleanup()


def test_backup_into_a_symlinked_directory():
    """`tern backup LINK` where LINK is a symlink to an empty directory
    (/backup pointing at a mounted disk): the backup goes into the
    directory it names, as cp or tar would write there; it refused with
    "cannot lock (another run, or removed) ...: Not a directory". The
    backup verifies and restores through the link too."""
    s = Server(accounts=ACCOUNTS)
    try:
        deliver(s, 3)
        wait_count(s, 3)
        real = os.path.join(s.tmp, "disk")
        os.mkdir(real)
        link = os.path.join(s.tmp, "backup")
        os.symlink(real, link)
        r = tern(s, "backup", link)
        assert r.returncode == 0, r.stderr
        assert kv(r.stdout)["emails"] == "3", r.stdout
        assert os.path.isfile(os.path.join(real, "MANIFEST")) and os.path.islink(link)
        r = tern(s, "backup", "--verify", link)
        assert r.returncode == 0, r.stdout
        s.stop()
        restored = os.path.join(s.tmp, "restored")
        r = tern(s, "restore", link, data=restored)
        assert r.returncode == 0, r.stderr
        s.data = s.env["TERN_DATA_DIR"] = restored
        s.start()
        assert len(s.messages(BOB)) == 3
    finally:
        s.cleanup()


def test_stop_while_a_scheduled_backup_makes_its_directories():
    """A stop reaches a scheduled backup while it makes the 256 blobs/XX
    directories too (each mkdir slowed by 0.2 s under strace, as on a
    slow network share): it used to look for the stop only between
    messages, so tern serve went on making all of them before it could
    stop (51 s here, past a container's 10 s before SIGKILL)."""
    if shutil.which("strace") is None:
        print("  (no strace: skipped)")
        return "skip"
    from httpc import Api
    out = tempfile.mktemp(prefix="tern-bmkdir-", suffix=".strace")
    try:
        with strace_server("tern-bmkdir-", lambda bdir: [
                "-o", out, "-e", "trace=mkdir,mkdirat",
                "-e", "inject=mkdir,mkdirat:delay_enter=200000"]) as (s, bdir):
            with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
                c.sendmail("alice@remote.test", [BOB], message(subject="one", to=BOB, body="x\r\n"))
            a = Api(s)
            a.token = tern(s, "token", "add", "mkdir", check=True).stdout.decode().strip()
            assert a.call("POST", "/backups", {})[0] == 202

            def blob_dirs():
                with open(out, errors="replace") as fh:
                    return len(re.findall(r'mkdir(?:at)?\([^"]*"[^"]*/blobs/[0-9a-f]{2}"', fh.read()))
            deadline = time.time() + 30
            while time.time() < deadline and blob_dirs() < 2:
                time.sleep(0.05)
            assert blob_dirs() >= 2
            os.kill(strace_tracees(s)[0], signal.SIGTERM)
            s.proc.wait(timeout=120)
            assert "event=backup_failed" in s.log_text(), s.log_text()[-2000:]
            assert runs(bdir) == [], os.listdir(bdir)
            # Stopped at the next directory, not after all 256.
            assert blob_dirs() < 64, blob_dirs()
    finally:
        if os.path.exists(out):
            os.unlink(out)


def test_backup_carries_hundreds_of_key_files():
    """A data directory whose acme/ holds 300 files and tls/ 40 (what an
    operator's per-name certificates and keys add up to): the backup
    lists every one, verifies and restores them byte for byte. The
    manifest held at most 64 files in all (store.mdb, secrets.key and
    62 more), and a 63rd key file made every backup fail with
    "cannot copy the key files into ...: Argument list too long"."""
    s = Server(accounts=ACCOUNTS)
    try:
        deliver(s, 2)
        wait_count(s, 2)
        want = {}
        for sub, n in (("acme", 300), ("tls", 40)):
            os.makedirs(os.path.join(s.data, sub), exist_ok=True)
            for i in range(n):
                rel = "%s/name%03d.example.test.pem" % (sub, i)
                body = ("%s %d\n" % (rel, i)).encode() * (i % 7 + 1)
                with open(os.path.join(s.data, rel), "wb") as f:
                    f.write(body)
                want[rel] = body
        out = os.path.join(s.tmp, "many")
        r = tern(s, "backup", out)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(out, "MANIFEST")) as f:
            listed = [line.split()[1] for line in f if line.startswith("file ")]
        for rel in want:
            assert "keys/" + rel in listed, rel
        r = tern(s, "backup", "--verify", out)
        assert r.returncode == 0, r.stdout
        s.stop()
        restored = os.path.join(s.tmp, "restored")
        r = tern(s, "restore", out, data=restored)
        assert r.returncode == 0, r.stderr
        for rel, body in want.items():
            with open(os.path.join(restored, rel), "rb") as f:
                assert f.read() == body, rel
        s.data = s.env["TERN_DATA_DIR"] = restored
        s.start()
        assert len(s.messages(BOB)) == 2
    finally:
        s.cleanup()


def test_backup_says_which_key_files_it_leaves_out():
    """A symlink in tls/ (a certificate kept elsewhere) and a file whose
    name a manifest cannot hold ("+") are not carried: the backup says
    so, with how many and where, rather than leaving them out unsaid;
    the regular files beside them are carried."""
    s = Server(accounts=ACCOUNTS)
    try:
        tls = os.path.join(s.data, "tls")
        os.makedirs(tls, exist_ok=True)
        with open(os.path.join(s.tmp, "elsewhere.pem"), "w") as f:
            f.write("cert\n")
        os.symlink(os.path.join(s.tmp, "elsewhere.pem"), os.path.join(tls, "linked.pem"))
        with open(os.path.join(tls, "a+b.pem"), "w") as f:
            f.write("odd\n")
        with open(os.path.join(tls, "plain.pem"), "w") as f:
            f.write("plain\n")
        out = os.path.join(s.tmp, "b")
        r = tern(s, "backup", out)
        assert r.returncode == 0, r.stderr
        assert b"event=backup_key_files_skipped" in r.stderr and b"count=2" in r.stderr, r.stderr
        assert os.path.isfile(os.path.join(out, "keys", "tls", "plain.pem"))
    finally:
        s.cleanup()
