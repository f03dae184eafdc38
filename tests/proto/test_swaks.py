"""Inbound SMTP driven by swaks, the SMTP swiss army knife from Debian."""
import shutil
import subprocess

from harness import Server

ACCOUNTS = [("bob@example.test", "bob-pw-1")]


def swaks(port, *args):
    cmd = ["swaks", "--server", "127.0.0.1", "--port", str(port), "--helo", "swaks.remote.test",
           "--from", "sender@remote.test", "--timeout", "20"] + list(args)
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)


def test_swaks_plain_starttls_pipelining():
    assert shutil.which("swaks"), "swaks is installed by scripts/install-test-deps"
    with Server(accounts=ACCOUNTS) as s:
        r = swaks(s.smtp_port, "--to", "bob@example.test", "--header", "Subject: swaks plain")
        assert r.returncode == 0, r.stdout.decode()
        r = swaks(s.smtp_port, "--to", "bob@example.test", "--tls", "--header", "Subject: swaks tls")
        out = r.stdout.decode()
        assert r.returncode == 0 and "TLS started" in out, out
        r = swaks(s.smtp_port, "--to", "bob@example.test", "--pipeline", "--header", "Subject: swaks pipe")
        assert r.returncode == 0, r.stdout.decode()
        subjects = " ".join(m[1] for m in s.messages("bob@example.test"))
        for subj in ("swaks plain", "swaks tls", "swaks pipe"):
            assert subj in subjects, subjects
        # Relay attempt: swaks exits non-zero and the server said 554 5.7.1.
        r = swaks(s.smtp_port, "--to", "victim@elsewhere.test")
        out = r.stdout.decode()
        assert r.returncode != 0 and "554 5.7.1" in out, out
        # A large message through swaks' own data generator.
        r = swaks(s.smtp_port, "--to", "bob@example.test", "--header", "Subject: swaks big",
                  "--body", "x" * 900 + "\n" * 1, "--add-header", "X-Pad: " + "y" * 900)
        assert r.returncode == 0, r.stdout.decode()
