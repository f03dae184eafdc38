"""Stores written by earlier tern builds, one per schema version
(tests/data/stores/schema-N.tar.gz, made once by scripts/make-store-fixture
with a binary of that version; see the README there), open under this
binary: the migration runs in place, and every account then shows over
IMAP exactly what it showed before (UIDVALIDITY, UIDNEXT, UIDs, flags and
keywords, internal dates, sizes, the bytes of every message, the
subscriptions), passwords and aliases still work, Sieve scripts (where
the fixture has them) are all there, a copy of the old store
is kept beside it, and new mail gets the next UID, never a reused one.
MAILBOXIDs changed scheme (earlier builds: M and the UIDVALIDITY; now the
JMAP Mailbox id, imap_session.h): after the upgrade they are the new ones,
and a Sieve script holding an old one still files into that mailbox."""
import contextlib
import glob
import imaplib
import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import ssl
import tarfile
import tempfile
import time

from harness import ROOT, Server

FIXTURES = os.path.join(ROOT, "tests", "data", "stores")


def _generator():
    path = os.path.join(ROOT, "scripts", "make-store-fixture")
    loader = importlib.machinery.SourceFileLoader("make_store_fixture", path)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def _mailboxids(port, user, pw):
    """{name: (MAILBOXID, UIDVALIDITY)} over IMAP."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
    m.login(user, pw)
    out = {}
    for line in m.list()[1]:
        name = re.match(rb'\([^)]*\) (?:"[^"]*"|NIL) (.*)$', line).group(1).decode().strip('"')
        st = m.status('"%s"' % name, "(MAILBOXID UIDVALIDITY)")[1][0].decode()
        out[name] = (re.search(r"MAILBOXID \((\w+)\)", st).group(1),
                     int(re.search(r"UIDVALIDITY (\d+)", st).group(1)))
    m.logout()
    return out


def _objectid_upgrade(s, want):
    """The MAILBOXIDs of the migrated accounts are the new scheme's (INBOX
    is mailbox 1, every id distinct, none the old M+UIDVALIDITY), and a
    script's old-style id (what these mailboxes showed before) still files
    into its mailbox."""
    for addr, pw in want["accounts"]:
        ids = _mailboxids(s.imaps_port, addr, pw)
        assert ids["INBOX"][0] == "M00000001", (addr, ids)
        assert len({i for i, _ in ids.values()}) == len(ids), (addr, ids)
        assert all(i != "M%08x" % uv for i, uv in ids.values()), (addr, ids)
    alice, alice_pw = want["accounts"][0]
    ids = _mailboxids(s.imaps_port, alice, alice_pw)
    old = "M%08x" % ids["Archive"][1]
    before = len(s.messages(alice, "Archive"))
    s.cli("sieve", "put", alice, "legacy", input='require ["fileinto", "mailboxid"];\n'
          'if header :is "subject" "legacy id" { fileinto :mailboxid "%s" "INBOX"; }\n' % old)
    s.cli("sieve", "activate", alice, "legacy")
    s.cli("sieve", "deactivate", "global")  # its "keep" would decide first
    import smtplib
    with smtplib.SMTP("127.0.0.1", s.smtp_port) as c:
        c.sendmail("x@remote.test", [alice], b"From: x@remote.test\r\nSubject: legacy id\r\n\r\nold id\r\n")
    deadline = time.time() + 10
    while time.time() < deadline and len(s.messages(alice, "Archive")) == before:
        time.sleep(0.05)
    assert len(s.messages(alice, "Archive")) == before + 1, s.messages(alice, "INBOX")[-2:]


@contextlib.contextmanager
def _extracted(path, prefix):
    """The fixture tarball at path extracted: (its directory, its
    expected.json, a list for the servers started on it); the servers
    and the directory are removed at the end."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    servers = []
    try:
        with tarfile.open(path) as t:
            t.extractall(tmp)
        with open(os.path.join(tmp, "expected.json")) as f:
            want = json.load(f)
        yield tmp, want, servers
    finally:
        for s in servers:
            s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def _scripts_aliases_next_uid(s, gen, want, path):
    """What a fixture's store must still have on server s (expected.json
    want, from the fixture at path): Sieve scripts (fixtures of schema 13
    on record them: names, the active one and every text), aliases, and
    new mail (through the alias too) gets the next UID. The INBOX's
    messages after that mail."""
    for owner, scripts in want.get("sieve", {}).items():
        listed = s.cli("sieve", "list", owner).stdout.decode().splitlines()
        assert sorted(listed) == sorted(n + (" ACTIVE" if a else "") for n, a, _ in scripts), \
            (path, owner, listed)
        for n, _, text in scripts:
            assert s.cli("sieve", "get", owner, n).stdout.decode() == text, (path, owner, n)
    aliases = s.cli("alias", "list").stdout.decode()
    for a, t in want["aliases"]:
        assert re.search(r"%s\s.*%s" % (re.escape(a), re.escape(t)), aliases), (path, aliases)
    alice, alice_pw = want["accounts"][0]
    uidnext = want["state"][alice]["mailboxes"]["INBOX"]["uidnext"]
    import smtplib
    with smtplib.SMTP("127.0.0.1", s.smtp_port) as c:
        c.sendmail("x@remote.test", ["sales@example.test"],
                   b"From: x@remote.test\r\nSubject: after\r\n\r\nafter the upgrade\r\n")
    got = gen.state(s.imaps_port, alice, alice_pw)["mailboxes"]["INBOX"]["messages"]
    assert got[-1]["uid"] == uidnext, (path, got[-1], uidnext)
    return got


def test_fixture_stores_migrate():
    gen = _generator()
    files = sorted(glob.glob(os.path.join(FIXTURES, "schema-*.tar.gz")))
    assert len(files) >= 3, files
    newest = max(int(re.search(r"schema-(\d+)", f).group(1)) for f in files)
    for path in files:
        with _extracted(path, "tern-fixture-") as (tmp, want, servers):
            data = os.path.join(tmp, "data")
            s = Server(data_dir=data, domains=(), imap=True)
            servers.append(s)
            assert os.path.isdir(os.path.join(data, "backup-schema-%d" % want["schema"])), \
                (path, os.listdir(data))
            for addr, pw in want["accounts"]:
                got = gen.state(s.imaps_port, addr, pw)
                assert got == want["state"][addr], (path, addr, got, want["state"][addr])
            got = _scripts_aliases_next_uid(s, gen, want, path)
            # A second start is a plain start.
            s.stop()
            s.start()
            alice, alice_pw = want["accounts"][0]
            assert gen.state(s.imaps_port, alice, alice_pw)["mailboxes"]["INBOX"]["messages"] == got
            if want["schema"] == newest:
                _objectid_upgrade(s, want)


def test_older_builds_backup_restores():
    """A backup an older build made (tests/data/backups/schema-N.tar.gz:
    make-store-fixture --backup with that build's binary, of the same
    store as the store fixtures) restores under this binary: the restore
    takes the older schema, the first start migrates it in place, and
    every account shows what it showed before, byte for byte, under new
    UIDVALIDITYs (a restore's, above the old ones); Sieve scripts,
    aliases and passwords are there, and new mail gets the next UID."""
    gen = _generator()
    files = sorted(glob.glob(os.path.join(ROOT, "tests", "data", "backups", "schema-*.tar.gz")))
    assert files, "no backup fixtures"
    for path in files:
        with _extracted(path, "tern-bfixture-") as (tmp, want, servers):
            data = os.path.join(tmp, "data")
            s = Server(data_dir=data, domains=(), imap=True, start=False)
            servers.append(s)
            r = s.cli("backup", "--verify", os.path.join(tmp, "backup"), check=False)
            assert r.returncode == 0 and b"schema: %d\n" % want["schema"] in r.stdout, (path, r.stdout)
            r = s.cli("restore", os.path.join(tmp, "backup"), check=False)
            assert r.returncode == 0, (path, r.stderr)
            s.start()
            assert s.wait_log("event=schema_migrated from=%d" % want["schema"]), s.log_text()[-2000:]
            for addr, pw in want["accounts"]:
                got = gen.state(s.imaps_port, addr, pw)
                for name, box in want["state"][addr]["mailboxes"].items():
                    assert got["mailboxes"][name]["uidvalidity"] > box["uidvalidity"], (path, name)
                    got["mailboxes"][name]["uidvalidity"] = box["uidvalidity"]
                assert got == want["state"][addr], (path, addr, got, want["state"][addr])
            _scripts_aliases_next_uid(s, gen, want, path)


def test_cli_never_migrates_under_a_running_older_server():
    """A binary replaced under a running server (a source build's `make`,
    a package upgrade before the restart): a command of the new binary
    that writes opened the older store and migrated it in place while
    the older server went on writing its own records into it, then read
    by the new code as the new schema's. While a server holds the data
    directory (its flock, emulated here as test_backup does) the command
    is refused with one line and the store is left as it was; with the
    server stopped the command migrates as tern serve does."""
    import fcntl
    import subprocess
    path = os.path.join(FIXTURES, "schema-13.tar.gz")
    with _extracted(path, "tern-fixture-cli-") as (tmp, want, servers):
        data = os.path.join(tmp, "data")
        domain = want["accounts"][0][0].split("@", 1)[1]
        s = Server(data_dir=data, domains=(), start=False)
        servers.append(s)
        fd = os.open(data, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            r = s.cli("account", "add", "new@" + domain, input="a long password 12\n", check=False)
            assert r.returncode != 0 and b"tern serve" in r.stderr, (r.returncode, r.stdout, r.stderr)
            assert len(r.stderr.decode().strip().splitlines()) == 1, r.stderr
            assert not os.path.exists(os.path.join(data, "backup-schema-13")), os.listdir(data)
            r = s.cli("account", "list", check=False)
            assert r.returncode != 0 and b"schema version 13, this build reads" in r.stderr and b"run tern serve once to migrate" in r.stderr, r.stderr
        finally:
            os.close(fd)
        # No server: the command migrates (backup first) and does its work.
        r = s.cli("account", "add", "new@" + domain, input="a long password 12\n", check=False)
        assert r.returncode == 0, (r.returncode, r.stderr)
        assert os.path.isdir(os.path.join(data, "backup-schema-13")), os.listdir(data)
        # And the command kept no lock: a server starts on it.
        s.start()
        assert ("new@" + domain).encode() in s.cli("account", "list").stdout
