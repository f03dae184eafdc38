"""Start-up errors a newcomer makes (issue 31): a data directory that
cannot be created or is not a directory, a certificate that cannot be
read, a port another program holds (test_appliance) each stop `tern serve`
with exit 2 and one line on stderr naming the variable, as a bad value
does; nothing else is logged first. A misspelled TERN_* variable is
warned about with the closest known name, and the server still starts."""
import os
import subprocess
import tempfile

from harness import TERN, Server


def serve(env):
    base = {"PATH": "/usr/bin:/bin", "TERN_HOSTNAME": "mx.example.test"}
    for v in ("SMTP", "SUBMISSION", "SUBMISSIONS", "IMAP", "IMAPS", "POP3", "POP3S", "SIEVE",
              "HTTP", "HTTPS"):
        base["TERN_LISTEN_" + v] = ""
    base.update(env)
    return subprocess.run([TERN, "serve"], env=base, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)


def one_line(r, var, value, why, alone=True):
    err = r.stderr.decode()
    assert r.returncode == 2, (r.returncode, err)
    if alone:
        assert len(err.splitlines()) == 1, err
    last = err.splitlines()[-1]
    assert last.startswith('config: %s="%s" ' % (var, value)) and why in last, err


def test_startup_errors_are_one_line():
    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, "file", "data")
        with open(os.path.join(d, "file"), "w") as f:
            f.write("not a directory\n")
        one_line(serve({"TERN_DATA_DIR": bad}), "TERN_DATA_DIR", bad, "cannot be created")
        notdir = os.path.join(d, "file")
        one_line(serve({"TERN_DATA_DIR": notdir}), "TERN_DATA_DIR", notdir, "Not a directory")
        data = os.path.join(d, "data")
        cert = os.path.join(d, "missing.pem")
        one_line(serve({"TERN_DATA_DIR": data, "TERN_TLS_CERT": cert, "TERN_TLS_KEY": cert}),
                 "TERN_TLS_CERT", cert, "No such file")
        # A file that is there but is no certificate: the same line, last
        # (it is parsed once the store is open, which logs a first start's
        # schema set-up).
        junk = os.path.join(d, "junk.pem")
        with open(junk, "w") as f:
            f.write("hello\n")
        one_line(serve({"TERN_DATA_DIR": data, "TERN_TLS_CERT": junk, "TERN_TLS_KEY": junk}),
                 "TERN_TLS_CERT", junk, "cannot be used", alone=False)


def test_misspelled_variable_is_named():
    s = Server(env={"TERN_HOST_NAME": "mail.example.test", "TERN_LISTEN_IMAPSS": ":993",
                    "TERN_FROBNICATE_EVERYTHING": "1"})
    with s:
        log = s.log_text()
        assert "event=unknown_variable name=TERN_HOST_NAME closest=TERN_HOSTNAME" in log, log
        assert "name=TERN_LISTEN_IMAPSS closest=TERN_LISTEN_IMAPS" in log, log
        assert "name=TERN_FROBNICATE_EVERYTHING hint=" in log, log
        # Known names are not warned about.
        assert "name=TERN_HOSTNAME " not in log and "name=TERN_DATA_DIR" not in log, log
        # The commands warn too, on stderr, and still work.
        r = s.cli("domain", "list")
        assert b"TERN_HOST_NAME" in r.stderr and b"TERN_HOSTNAME" in r.stderr, r.stderr
