"""The store under abuse (issue 28): one server per data directory, quotas
that hold under parallel deliveries, a full disk that can still free itself,
and a backup before every schema upgrade."""
import os
import smtplib
import subprocess
import threading
import time

from harness import Server, TERN, free_port, message

ACCOUNTS = [("bob@example.test", "bob-pw-1")]


def test_second_server_on_one_data_dir_is_refused():
    # Two containers on one volume: the second `tern serve` stops at once
    # with one line and status 2, the first keeps serving, and the CLI
    # works beside it.
    with Server(accounts=ACCOUNTS) as s:
        env = dict(s.env, TERN_LISTEN_SMTP="127.0.0.1:%d" % free_port(), TERN_LOG_LEVEL="info")
        r = subprocess.run([TERN, "serve"], env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        err = r.stderr.decode().strip().splitlines()
        assert r.returncode == 2, (r.returncode, err)
        assert len(err) == 1 and "in use by another tern serve" in err[0], err
        assert s.proc.poll() is None
        r = s.cli("account", "list")
        assert b"bob@example.test" in r.stdout, r.stdout
        s.cli("account", "add", "carol@example.test", input="carol-pw\n")
        # Once the first one stops, the directory is free again.
        s.stop()
        s.start()
        assert s.proc.poll() is None


def account_usage(s, email):
    """(emails, used, quota text) from `tern account list`."""
    for line in s.cli("account", "list").stdout.decode().splitlines():
        f = line.split()
        if f and f[0] == email:
            kv = dict(x.split("=", 1) for x in f[1:])
            return int(kv["emails"]), int(kv["used"]), kv["quota"]
    raise AssertionError("no account %s" % email)


def test_quota_holds_under_parallel_deliveries():
    # 20 parallel deliveries of 20 KB into a 50 KB quota: RCPT lets them
    # all through (the account is empty then), the commit takes what fits
    # and refuses the rest with 452 4.2.2; a message larger than the whole
    # quota gets 552 5.2.2.
    with Server(start=False) as s:
        s.cli("account", "add", "bob@example.test", "--quota", "51200", input="bob-pw-1\n")
        s.cli("account", "add", "carol@example.test", "--quota", "51200", input="carol-pw\n")
        s.start()
        body = ("x" * 998 + "\r\n") * 20
        replies = []
        lock = threading.Lock()
        go = threading.Barrier(20)

        def send(n):
            c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30)
            c.ehlo()
            c.mail("a@remote.test")
            code, _ = c.rcpt("bob@example.test")
            assert code == 250, code
            go.wait()
            try:
                r = c.data(message(subject="q%d" % n, body=body))
            except smtplib.SMTPResponseException as e:
                r = (e.smtp_code, e.smtp_error)
            with lock:
                replies.append(r)
            c.quit()

        threads = [threading.Thread(target=send, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        codes = sorted(c for c, _ in replies)
        print("  replies: %s" % codes)
        assert len(codes) == 20 and set(codes) <= {250, 452}, replies
        refused = [t for c, t in replies if c == 452]
        assert refused and all(t.startswith(b"4.2.2") for t in refused), refused
        emails, used, quota = account_usage(s, "bob@example.test")
        assert used <= 51200 and emails == codes.count(250) >= 1, (emails, used, codes)
        assert len(s.messages("bob@example.test")) == emails
        # Larger than the whole quota: it never fits, a permanent refusal
        # (carol is empty, so RCPT accepts).
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.ehlo()
            c.mail("a@remote.test")
            assert c.rcpt("carol@example.test")[0] == 250
            try:
                r = c.data(message(subject="huge", body=("y" * 998 + "\r\n") * 60))
            except smtplib.SMTPResponseException as e:
                r = (e.smtp_code, e.smtp_error)
        assert r[0] == 552 and r[1].startswith(b"5.2.2"), r
        assert account_usage(s, "carol@example.test")[:2] == (0, 0)
