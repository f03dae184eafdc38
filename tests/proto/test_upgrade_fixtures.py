"""Stores written by earlier tern builds, one per schema version
(tests/data/stores/schema-N.tar.gz, made once by scripts/make-store-fixture
with a binary of that version; see the README there), open under this
binary: the migration runs in place, and every account then shows over
IMAP exactly what it showed before (UIDVALIDITY, UIDNEXT, UIDs, flags and
keywords, internal dates, sizes, the bytes of every message, the
subscriptions), passwords and aliases still work, Sieve scripts (where
the fixture has them) are all there, a copy of the old store
is kept beside it, and new mail gets the next UID, never a reused one."""
import glob
import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import tarfile
import tempfile

from harness import ROOT, Server

FIXTURES = os.path.join(ROOT, "tests", "data", "stores")


def _generator():
    path = os.path.join(ROOT, "scripts", "make-store-fixture")
    loader = importlib.machinery.SourceFileLoader("make_store_fixture", path)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def test_fixture_stores_migrate():
    gen = _generator()
    files = sorted(glob.glob(os.path.join(FIXTURES, "schema-*.tar.gz")))
    assert len(files) >= 3, files
    for path in files:
        tmp = tempfile.mkdtemp(prefix="tern-fixture-")
        s = None
        try:
            with tarfile.open(path) as t:
                t.extractall(tmp)
            with open(os.path.join(tmp, "expected.json")) as f:
                want = json.load(f)
            data = os.path.join(tmp, "data")
            s = Server(data_dir=data, domains=(), imap=True)
            assert os.path.isdir(os.path.join(data, "backup-schema-%d" % want["schema"])), \
                (path, os.listdir(data))
            for addr, pw in want["accounts"]:
                got = gen.state(s.imaps_port, addr, pw)
                assert got == want["state"][addr], (path, addr, got, want["state"][addr])
            # Sieve scripts (fixtures of schema 13 on record them): names,
            # the active one and every text as they were.
            for owner, scripts in want.get("sieve", {}).items():
                listed = s.cli("sieve", "list", owner).stdout.decode().splitlines()
                assert sorted(listed) == sorted(n + (" ACTIVE" if a else "") for n, a, _ in scripts), \
                    (path, owner, listed)
                for n, _, text in scripts:
                    assert s.cli("sieve", "get", owner, n).stdout.decode() == text, (path, owner, n)
            aliases = s.cli("alias", "list").stdout.decode()
            for a, t in want["aliases"]:
                assert re.search(r"%s\s.*%s" % (re.escape(a), re.escape(t)), aliases), (path, aliases)
            # New mail after the upgrade: the next UID, through the alias too.
            alice, alice_pw = want["accounts"][0]
            uidnext = want["state"][alice]["mailboxes"]["INBOX"]["uidnext"]
            import smtplib
            with smtplib.SMTP("127.0.0.1", s.smtp_port) as c:
                c.sendmail("x@remote.test", ["sales@example.test"],
                           b"From: x@remote.test\r\nSubject: after\r\n\r\nafter the upgrade\r\n")
            got = gen.state(s.imaps_port, alice, alice_pw)["mailboxes"]["INBOX"]["messages"]
            assert got[-1]["uid"] == uidnext, (path, got[-1], uidnext)
            # A second start is a plain start.
            s.stop()
            s.start()
            assert gen.state(s.imaps_port, alice, alice_pw)["mailboxes"]["INBOX"]["messages"] == got
        finally:
            if s:
                s.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)
