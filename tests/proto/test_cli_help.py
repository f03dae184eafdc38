"""The CLI as a newcomer meets it (issue 31): `tern --help` and every
`tern SUBCOMMAND --help` print help on stdout with exit 0 without reading
the configuration or opening a store; a bad argument gets one line naming
it; a new password typed on a terminal is asked twice. No server."""
import os
import pty
import subprocess
import tempfile

from harness import ROOT, TERN

COMMANDS = [["serve"], ["version"], ["health"], ["account"], ["account", "add"],
            ["account", "app-password", "add"], ["domain"], ["domain", "dns"], ["alias"],
            ["fetch"], ["setup-code"], ["admin"], ["admin", "passwd"], ["token"], ["queue"],
            ["backup"], ["restore"], ["export"], ["import"], ["migrate"], ["check"],
            ["check", "dkim"], ["check", "arc"], ["check", "spf"], ["check", "auth"],
            ["acme"], ["dmarc"], ["sieve"], ["sieve", "test"], ["spam"], ["spam", "train"],
            # Added since the list was first written: each has its help too.
            ["tlsrpt"], ["tlsrpt", "report"], ["tlsrpt", "list"], ["dmarc", "report"],
            ["spam", "test"], ["spam", "phish"], ["spam", "hashes"], ["sieve", "list"],
            ["acme", "status"], ["acme", "renew"], ["account", "name"], ["token", "add"],
            ["acl"], ["acl", "set"]]


def run(args, env=None, input=b""):
    # A data directory that cannot exist and a bad variable: help must
    # not need either.
    e = env or {"PATH": "/usr/bin:/bin", "TERN_DATA_DIR": "/nonexistent/tern-data",
                 "TERN_LOG_LEVEL": "bogus"}
    return subprocess.run([TERN] + args, env=e, input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=30)


def test_help_on_stdout():
    for flag in ("--help", "-h", "help"):
        r = run([flag])
        assert r.returncode == 0 and b"usage: tern serve" in r.stdout and not r.stderr, (flag, r)
    for cmd in COMMANDS:
        r = run(cmd + ["--help"])
        assert r.returncode == 0, (cmd, r.returncode, r.stderr)
        assert r.stdout.startswith(b"usage: tern"), (cmd, r.stdout)
        assert r.stderr == b"", (cmd, r.stderr)
    # The usage error itself still goes to stderr with 2.
    good = {"PATH": "/usr/bin:/bin", "TERN_DATA_DIR": "/nonexistent/tern-data"}
    r = run(["account"], good)
    assert r.returncode == 2 and b"usage: tern account" in r.stderr and not r.stdout, r
    r = run(["frobnicate"], good)
    assert r.returncode == 2 and b"frobnicate" in r.stderr, r
    # A wrong or missing verb, or arguments a command takes none of: that
    # command's own usage on stderr, exit 2 (`check` said "unknown
    # command", `restore` printed backup's usage, `health` and `version`
    # ran with arguments they ignored).
    for args, want in ((["check"], b"usage: tern check"), (["check", "bogus"], b"usage: tern check"),
                       (["restore"], b"usage: tern restore"), (["health", "x"], b"usage: tern health"),
                       (["version", "x"], b"usage: tern version"),
                       (["tlsrpt", "bogus"], b"usage: tern tlsrpt"),
                       (["spam", "phish", "bogus"], b"usage: tern spam"),
                       (["dmarc", "report", "--bogus"], b"usage: tern dmarc"),
                       # `list` took any words after it and listed all
                       # (`tern account list example.com` is no filter).
                       (["account", "list", "example.com"], b"usage: tern account"),
                       (["domain", "list", "x"], b"usage: tern domain"),
                       (["alias", "list", "x"], b"usage: tern alias"),
                       (["acl", "bogus"], b"usage: tern acl"),
                       (["acl", "set", "a@example.test", "INBOX", "anyone"], b"usage: tern acl")):
        r = run(args, good)
        assert r.returncode == 2 and r.stderr.startswith(want) and not r.stdout, (args, r)
    # An option the verb does not take is refused, not dropped: `del`,
    # `passwd`, `disable` and `enable` ran with --quota and ignored it.
    for verb in ("del", "passwd", "disable", "enable"):
        r = run(["account", verb, "bob@example.test", "--quota", "1G"], good, input=b"a long password 12\n")
        assert r.returncode == 2 and b"--quota" in r.stderr and not r.stdout, (verb, r)


def test_every_readme_command_in_the_help():
    """Each command and subcommand README's "Commands" block lists is in
    `tern --help` and in its command's own help (account disable, state
    and name and admin totp-off were missing from the first)."""
    import re
    readme = open(os.path.join(ROOT, "README.md")).read()
    block = readme.split("## Commands\n\n```\n", 1)[1].split("```", 1)[0]
    top = run(["--help"]).stdout.decode()
    seen = 0
    for line in block.splitlines():
        for seg in re.split(r"\s[;|]\s(?=tern )", line.strip()):
            m = re.match(r"tern ([a-z-]+)(?: ([a-z][a-z|-]*))?", seg)
            if not m:
                continue
            cmd, subs = m.group(1), (m.group(2) or "").split("|")
            own = run([cmd, "--help"]).stdout.decode()
            for sub in filter(None, subs):
                assert re.search(r"tern %s\b[^\n]*\b%s\b" % (cmd, sub), top), (cmd, sub, "tern --help")
                assert re.search(r"\b%s\b" % sub, own), (cmd, sub, "tern %s --help" % cmd)
                seen += 1
            assert re.search(r"tern %s\b" % cmd, top), (cmd, "tern --help")
    assert seen >= 40, seen


def test_every_help_command_in_the_readme():
    """The other way round: each command and subcommand `tern --help`
    lists, and each option any command's help names, is in README's
    "Commands" block (`sieve test`'s --metadata and --bench were
    missing)."""
    import re
    readme = open(os.path.join(ROOT, "README.md")).read()
    block = readme.split("## Commands\n\n```\n", 1)[1].split("```", 1)[0]
    segs = [seg for l in block.splitlines() for seg in re.split(r"\s[;|]\s(?=tern )", l.strip())]
    top = run(["--help"]).stdout.decode()
    seen = 0
    for line in top.splitlines():
        line = line.replace("usage:", "").strip()
        for seg in re.split(r"\s[;|]\s(?=tern )", line):
            m = re.match(r"tern ([a-z-]+)(?: ([a-z][a-z|-]*))?", seg)
            if not m or m.group(1) == "COMMAND":
                continue
            cmd = m.group(1)
            assert any(re.match(r"tern %s\b" % cmd, g) for g in segs), (cmd, "README Commands")
            for sub in filter(None, (m.group(2) or "").split("|")):
                assert any(re.match(r"tern %s\b.*\b%s\b" % (cmd, sub), g) for g in segs), \
                    (cmd, sub, "README Commands")
                seen += 1
    assert seen >= 40, seen
    options = set()
    for cmd in COMMANDS:
        options |= set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", run(cmd + ["--help"]).stdout.decode()))
    options.discard("--help")
    assert len(options) >= 20, options
    for opt in sorted(options):
        assert re.search(r"%s\b" % re.escape(opt), block), (opt, "README Commands")


def test_errors_name_the_argument():
    with tempfile.TemporaryDirectory() as d:
        env = {"PATH": "/usr/bin:/bin", "TERN_DATA_DIR": d}
        cases = [(["account", "add", "a@example.test", "--quota", "10X"], b"--quota: '10X'"),
                 (["account", "add", "a@example.test", "--quta", "1G"], b"--quta"),
                 (["token", "add", "t", "--expires", "soon"], b"--expires: 'soon'"),
                 (["queue", "del", "abc"], b"ID: 'abc'"),
                 (["fetch", "a@example.test", "--id", "x1"], b"--id: 'x1'"),
                 (["export", "a@example.test", d, "--format", "zip"], b"--format: 'zip'")]
        for args, want in cases:
            r = run(args, env, b"password-1234\n")
            assert r.returncode == 2, (args, r)
            assert want in r.stderr and b"usage:" not in r.stderr, (args, r.stderr)
            assert len(r.stderr.splitlines()) == 1, (args, r.stderr)
        # A password longer than any allowed is said to be too long, as
        # one a little over the limit is; it was "a password is expected
        # on standard input" (one had been given).
        for pw in (b"Xy9-" * 70 + b"\n", b"Xy9-" * 3000 + b"\n"):
            r = run(["account", "add", "a@example.test"], env, pw)
            assert r.returncode == 2 and b"8 to 256 characters" in r.stderr, (len(pw), r.stderr)
            assert len(r.stderr.splitlines()) == 1, r.stderr
        # The longest password the rule allows, 256 characters of four
        # octets each (1 KiB), fits the line read: it was refused as too
        # long (the 1 KiB buffer had no room for its newline).
        pw = "".join(chr(0x1F600 + i % 79) for i in range(256))
        r = run(["domain", "add", "example.test"], env)
        assert r.returncode == 0, r.stderr
        r = run(["account", "add", "a@example.test"], env, pw.encode() + b"\r\n")
        assert r.returncode == 0 and b"added" in r.stdout, (r.returncode, r.stderr)


def on_terminal(args, env, typed):
    """Runs tern with a pseudo-terminal as stdin; returns (rc, all output)."""
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([TERN] + args, env=env, stdin=slave, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        os.close(slave)
        slave = -1
        out = b""
        # Each line is typed once its prompt shows, as a person would.
        for i, line in enumerate(typed):
            while out.count(b": ") <= i:
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    break
                out += chunk
            os.write(master, line.encode() + b"\n")
        rest, _ = p.communicate(timeout=30)
        return p.returncode, out + rest
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)


def test_password_asked_twice_on_a_terminal():
    with tempfile.TemporaryDirectory() as d:
        env = {"PATH": "/usr/bin:/bin", "TERN_DATA_DIR": d}
        assert run(["domain", "add", "example.test"], env).returncode == 0
        rc, out = on_terminal(["account", "add", "a@example.test"], env,
                              ["first-password-1-Vq8r", "other-password-2-Vq8r"])
        assert rc == 2 and b"differ" in out, out
        assert b"a@example.test" not in run(["account", "list"], env).stdout
        rc, out = on_terminal(["account", "add", "a@example.test"], env,
                              ["first-password-1-Vq8r", "first-password-1-Vq8r"])
        assert rc == 0 and b"Again" in out and b"added" in out, out
        # A pipe gives the password once, as scripts do.
        r = run(["account", "passwd", "a@example.test"], env, b"second-password-2-Vq8r\n")
        assert r.returncode == 0, r


# Commands that read, change or delete what a store holds: on a data
# directory that is missing or empty they say so on stderr with exit 3
# and create nothing (no directory, no data.mdb); before, the read-write
# ones (account del, queue flush...) made an empty store first.
NEEDS_STORE = [["account", "list"], ["account", "del", "a@example.test"],
               ["account", "passwd", "a@example.test"], ["account", "disable", "a@example.test"],
               ["account", "state", "a@example.test", "inactive"],
               ["account", "app-password", "del", "a@example.test", "phone"],
               ["domain", "list"], ["domain", "del", "example.test"],
               ["domain", "dns", "example.test"], ["alias", "list"],
               ["alias", "del", "info@example.test"], ["queue", "list"], ["queue", "del", "5"],
               ["queue", "flush"], ["fetch", "a@example.test"], ["admin", "totp-off"],
               ["token", "del", "1a2b3c4d"], ["sieve", "list", "a@example.test"],
               ["sieve", "del", "a@example.test", "s"], ["acme", "status"],
               # --record counts into the store the reports read: it made
               # an empty one (and printed the field first).
               ["check", "auth", "--ip", "192.0.2.1", "--helo", "h.example.test",
                "--mail-from", "a@example.test", "--record", "/nonexistent/msg"],
               ["dmarc", "report"], ["tlsrpt", "report"], ["tlsrpt", "list", "example.test"],
               ["spam", "test", "/nonexistent/msg"], ["spam", "phish", "status"],
               ["spam", "hashes", "status"], ["token", "list"], ["backup", "/nonexistent/b"],
               ["account", "app-password", "list", "a@example.test"],
               ["acl", "list", "a@example.test"],
               ["acl", "del", "a@example.test", "Team", "anyone"]]


def test_missing_store_is_not_created():
    with tempfile.TemporaryDirectory() as top:
        missing, empty = os.path.join(top, "missing"), os.path.join(top, "empty")
        os.mkdir(empty)
        for d in (missing, empty):
            env = {"PATH": "/usr/bin:/bin", "TERN_DATA_DIR": d}
            for args in NEEDS_STORE:
                r = run(args, env, b"Vq7-plover-kd9-Lmz\n")
                assert r.returncode == 3, (d, args, r)
                assert r.stderr.startswith(b"tern: no mail store in " + d.encode()), (args, r)
                assert r.stdout == b"", (args, r.stdout)
            assert os.path.exists(d) == (d == empty) and (d == missing or not os.listdir(d)), d
        # A command meant to set a store up still makes one.
        env = {"PATH": "/usr/bin:/bin", "TERN_DATA_DIR": missing}
        r = run(["domain", "add", "example.test"], env)
        assert r.returncode == 0, r
        assert os.path.exists(os.path.join(missing, "data.mdb"))
        r = run(["account", "del", "a@example.test"], env)
        assert r.returncode == 1 and b"no account" in r.stderr, r
