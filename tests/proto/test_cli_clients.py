"""Three command-line clients from Debian against tern: msmtp (submission),
mpop (POP3) and s-nail (mailx: SMTP, IMAP and POP3), each run with its own
configuration in the test's temporary directory.

msmtp sends over submission with STARTTLS (the certificate pinned by its
SHA-256 fingerprint, AUTH PLAIN as msmtp chooses) and over implicit TLS
(no certificate check, AUTH LOGIN), and what arrives must be the message as
sent apart from the fields tern puts on top; a wrong password, a sender or
From the account does not own and AUTH without TLS must fail, each with
msmtp's exit status and the server's reply; its DSN options go out on MAIL
and RCPT and are taken (on the MX port, kept in the stored envelope).

mpop retrieves over POP3S into a Maildir and over STLS into an mbox,
keeping or deleting, fetches only what is new across runs (UIDL), and
fails cleanly on a wrong password or without TLS.

s-nail sends through submission (STARTTLS, implicit TLS; without STARTTLS
its AUTH is refused) and, in batch mode (-#) with commands on stdin, reads
over IMAPS and IMAP+STARTTLS (headers, print, delete, quit: expunged) and
over POP3S and POP3+STLS (DELE at quit)."""
import hashlib
import os
import re
import ssl
import subprocess
import tempfile
import time

from harness import Server
from test_imap import deliver, login, mailbox_flags, raw_messages, wait_count
from test_pop3 import need

ALICE, ALICE_PW = "alice@example.test", "alice-pw-1"
BOB, BOB_PW = "bob@example.test", "bob-pw-1"
ACCOUNTS = [(ALICE, ALICE_PW), (BOB, BOB_PW)]

# sysexits.h, as msmtp and mpop exit
EX_DATAERR, EX_UNAVAILABLE, EX_NOPERM = 65, 69, 77

# What tern puts on top of a message it stores (submission: all three).
ADDED_FIELDS = {"return-path", "dkim-signature", "received"}


def run(tmp, argv, stdin=b"", env=None):
    """(exit status, stdout, stderr) of one client run with HOME in tmp, so
    no file of the machine's user is read or written."""
    e = {"HOME": tmp, "PATH": "/usr/bin:/bin", "LC_ALL": "C"}
    e.update(env or {})
    r = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30, env=e)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def write_rc(path, text):
    # msmtp and mpop refuse a file with a password that others may read.
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def fingerprint(s):
    """SHA-256 of the server's self-signed certificate, as msmtp and mpop
    write it (AA:BB:...)."""
    with open(os.path.join(s.data, "tls", "self-signed.crt")) as f:
        pem = f.read()
    first = pem[:pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    h = hashlib.sha256(ssl.PEM_cert_to_DER_cert(first)).hexdigest().upper()
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


def log_since(s, mark):
    return s.log_text()[mark:]


def wait_since(s, mark, needle, timeout=10):
    """True once needle is in the log after position mark."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if needle in log_since(s, mark):
            return True
        time.sleep(0.02)
    return False


def split_added(raw, sent):
    """raw is what tern stored for the message sent (LF line ends, as
    the client read it): it must be sent with CRLF, byte for byte, under
    fields tern added. Returns those fields' names (lower case)."""
    want = sent.replace(b"\n", b"\r\n")
    assert raw.endswith(want), (raw, want)
    top = raw[:-len(want)]
    assert top.endswith(b"\r\n") or not top, top
    names = [line.split(b":", 1)[0].decode().lower()
             for line in top.split(b"\r\n") if line and line[:1] not in (b" ", b"\t")]
    assert set(names) <= ADDED_FIELDS, names
    return names


def by_subject(raws):
    out = {}
    for raw in raws:
        m = re.search(rb"^Subject: ([^\r\n]*)", raw, re.M)
        out[m.group(1).decode()] = raw
    return out


# ---- msmtp ----

MSMTPRC = """\
defaults
logfile %(tmp)s/msmtp.log
host 127.0.0.1
tls on
auth on
user %(user)s
password %(pw)s
from %(user)s

account starttls
port %(sub)d
tls_starttls on
tls_fingerprint %(fp)s

account implicit
port %(subs)d
tls_starttls off
tls_certcheck off
auth login

account badfp : starttls
tls_fingerprint %(badfp)s

account wrongpw : implicit
password not-the-password

account plaintext : starttls
tls off

account mx
port %(smtp)d
tls_starttls on
tls_certcheck off
auth off
from carol@remote.test
"""


def msmtprc(s, tmp):
    fp = fingerprint(s)
    badfp = fp[:-2] + ("00" if fp[-2:] != "00" else "11")
    return write_rc(os.path.join(tmp, "msmtprc"), MSMTPRC % {
        "tmp": tmp, "user": ALICE, "pw": ALICE_PW, "sub": s.submission_port,
        "subs": s.submissions_port, "fp": fp, "badfp": badfp, "smtp": s.smtp_port})


def msmtp(tmp, rc, account, text, *args, to=BOB):
    return run(tmp, ["msmtp", "-C", rc, "-a", account] + list(args) + ["--", to], text)


def mail_text(subject, frm=ALICE, to=BOB):
    """A message with Date and Message-ID of its own (so msmtp adds
    nothing) and lines that test transparency: dots, a From, trailing
    blanks, an empty line, a tab. LF line ends, as a user's file has."""
    return ("From: %s\nTo: %s\nSubject: %s\nDate: Fri, 20 Nov 2026 12:00:00 +0000\n"
            "Message-ID: <%s@client.test>\n\n"
            "First line.\n.leading dot\n..two dots\n.\nFrom the start of a line\n"
            "trailing blanks   \n\n\ttab first\nlast line\n"
            % (frm, to, subject, subject.replace(" ", "-"))).encode()


def test_msmtp_starttls_and_implicit_tls_arrive_exact():
    need("msmtp")
    with Server(accounts=ACCOUNTS, submission=True, imap=True) as s:
        tmp = tempfile.mkdtemp(prefix="msmtp-", dir=s.tmp)
        rc = msmtprc(s, tmp)

        # 587: STARTTLS, the certificate pinned, AUTH as msmtp picks (PLAIN).
        sent587 = mail_text("msmtp starttls")
        code, out, err = msmtp(tmp, rc, "starttls", sent587)
        assert code == 0, err
        assert s.wait_log("event=login user=%s mech=plain" % ALICE)
        # 465: implicit TLS, no certificate check, AUTH LOGIN.
        sent465 = mail_text("msmtp implicit")
        code, out, err = msmtp(tmp, rc, "implicit", sent465)
        assert code == 0, err
        assert s.wait_log("event=login user=%s mech=login" % ALICE)

        # The pin is really checked: a wrong fingerprint sends nothing.
        code, out, err = msmtp(tmp, rc, "badfp", mail_text("msmtp badfp"))
        assert code != 0 and "fingerprint does not match" in err, (code, err)

        wait_count(s, 2)
        got = by_subject(raw_messages(s))
        assert set(got) == {"msmtp starttls", "msmtp implicit"}, list(got)
        for subject, sent in (("msmtp starttls", sent587), ("msmtp implicit", sent465)):
            raw = got[subject]
            names = split_added(raw, sent)
            assert names.count("received") == 1 and names.count("return-path") == 1, names
            assert b"Return-Path: <%s>\r\n" % ALICE.encode() in raw
            received = re.search(rb"^Received:.*?(?=\r\n\S)", raw, re.M | re.S).group(0)
            assert b"with ESMTPSA" in received, received
            assert b"(Authenticated sender: %s)" % ALICE.encode() in received, received
        assert s.log_text().count("event=submitted") == 2
        with open(os.path.join(tmp, "msmtp.log")) as f:
            mlog = f.read()
        assert mlog.count("smtpstatus=250") == 2 and mlog.count("exitcode=EX_OK") == 2, mlog


def test_msmtp_refusals():
    need("msmtp")
    with Server(accounts=ACCOUNTS, submission=True) as s:
        tmp = tempfile.mkdtemp(prefix="msmtp-", dir=s.tmp)
        rc = msmtprc(s, tmp)

        # A wrong password: 535 from the server, EX_NOPERM from msmtp.
        code, out, err = msmtp(tmp, rc, "wrongpw", mail_text("wrong password"))
        assert code == EX_NOPERM, (code, err)
        assert "535 5.7.8" in err and "authentication failed" in err, err
        assert s.wait_log('event=auth_failed mech=login reason=password ')
        assert 'user="%s" ip=127.0.0.1\n' % ALICE in s.log_text()
        assert "not-the-password" not in s.log_text()

        # An envelope sender alice does not own: 553 to MAIL FROM.
        code, out, err = msmtp(tmp, rc, "starttls", mail_text("forged envelope", frm=BOB),
                               "--from=%s" % BOB)
        assert code == EX_DATAERR, (code, err)
        assert "553 5.7.1" in err and "Sender address rejected" in err, err
        assert s.wait_log("event=sender_rejected user=%s from=%s reason=not_owned" % (ALICE, BOB))

        # Her own envelope but Bob in From: 553 after the data.
        code, out, err = msmtp(tmp, rc, "starttls", mail_text("forged from", frm=BOB))
        assert code == EX_UNAVAILABLE, (code, err)
        assert "553 5.7.1" in err and "From address rejected" in err, err
        assert s.wait_log("event=from_rejected field=From user=%s from=%s reason=not_owned"
                          % (ALICE, BOB))

        # Without TLS the server offers STARTTLS and no AUTH, so msmtp
        # (auth on, tls off) gives up before it sends the password.
        code, out, err = run(tmp, ["msmtp", "-C", rc, "-a", "plaintext", "--serverinfo"])
        assert code == 0, err
        caps = out.split("Capabilities:", 1)[1]
        assert "STARTTLS" in caps and "AUTH" not in caps, out
        mark = len(s.log_text())
        code, out, err = msmtp(tmp, rc, "plaintext", mail_text("no tls"), "-d")
        assert code == EX_UNAVAILABLE, (code, out, err)
        assert "does not support authentication" in err, err
        assert "--> AUTH" not in out and "--> MAIL" not in out, out
        assert wait_since(s, mark, "event=disconnect")
        new = log_since(s, mark)
        assert "service=submission" in new and "event=login" not in new, new
        assert "event=auth_failed" not in new, new

        assert s.messages(BOB) == []
        with open(os.path.join(tmp, "msmtp.log")) as f:
            mlog = f.read()
        assert "smtpstatus=535" in mlog and mlog.count("smtpstatus=553") == 2, mlog


def test_msmtp_dsn_options():
    need("msmtp")
    with Server(accounts=ACCOUNTS, submission=True, imap=True) as s:
        tmp = tempfile.mkdtemp(prefix="msmtp-", dir=s.tmp)
        rc = msmtprc(s, tmp)
        cases = (  # msmtp's options, then the MAIL and RCPT lines that must go out
            (("--dsn-notify=success,failure", "--dsn-return=hdrs"),
             "--> MAIL FROM:<%s> RET=HDRS" % ALICE,
             "--> RCPT TO:<%s> NOTIFY=SUCCESS,FAILURE" % BOB),
            (("-N", "delay,failure", "-R", "full"),
             "--> MAIL FROM:<%s> RET=FULL" % ALICE, "--> RCPT TO:<%s> NOTIFY=DELAY,FAILURE" % BOB),
            (("--dsn-notify=never",),
             "--> MAIL FROM:<%s>" % ALICE, "--> RCPT TO:<%s> NOTIFY=NEVER" % BOB),
        )
        for i, (opts, mail, rcpt) in enumerate(cases):
            code, out, err = msmtp(tmp, rc, "starttls" if i % 2 == 0 else "implicit",
                                   mail_text("dsn %d" % i), "-d", *opts)
            assert code == 0, (code, out, err)
            lines = [line.rstrip("\r") for line in out.splitlines()]
            assert mail in lines and rcpt in lines, out
            # The server took both (250 to MAIL and RCPT, pipelined) and the data.
            assert "<-- 250 2.1.0 Ok" in lines and "<-- 250 2.1.5 Ok" in lines, out
            assert any(line.startswith("<-- 250 2.0.0 Ok: queued") for line in lines), out
        wait_count(s, 3)
        assert sorted(by_subject(raw_messages(s))) == ["dsn 0", "dsn 1", "dsn 2"]
        # NOTIFY=SUCCESS to a local recipient: alice gets one "delivered"
        # notice, with the original's header only (RET=HDRS).
        assert s.wait_log("event=notice kind=delivered to=local")
        notices = raw_messages(s, user=ALICE, pw=ALICE_PW)
        assert len(notices) == 1, notices
        n = notices[0]
        assert b"Action: delivered\r\nStatus: 2.0.0" in n and b"Subject: dsn 0" in n, n
        assert b"text/rfc822-headers" in n

        # On the MX port tern keeps the envelope with the message: the
        # parameters msmtp sent are the ones stored.
        code, out, err = msmtp(tmp, rc, "mx", mail_text("dsn mx", frm="carol@remote.test"),
                               "--dsn-notify=success,delay", "--dsn-return=full")
        assert code == 0, (code, out, err)
        wait_count(s, 4)
        mid = [m for m, line in s.messages(BOB) if "dsn mx" in line][0]
        env = s.cli("fetch", BOB, "--id", str(mid), "--envelope").stdout
        assert env == (b"MAIL FROM:<carol@remote.test> RET=FULL\r\n"
                       b"RCPT TO:<%s> NOTIFY=SUCCESS,DELAY\r\n" % BOB.encode()), env


# ---- mpop ----

MPOPRC = """\
defaults
host 127.0.0.1
user %(user)s
password %(pw)s
tls on
received_header off

account pop3s
port %(pop3s)d
tls_starttls off
tls_certcheck off
uidls_file %(tmp)s/uidls-pop3s
delivery maildir %(tmp)s/Maildir
keep on

account stls
port %(pop3)d
tls_starttls on
tls_fingerprint %(fp)s
auth user
uidls_file %(tmp)s/uidls-stls
delivery mbox %(tmp)s/mbox
keep off

account wrongpw : stls
password wrong-password

account plaintext : stls
tls off
auth on

account plainuser : plaintext
auth user
"""


def mpoprc(s, tmp):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(tmp, "Maildir", sub))
    return write_rc(os.path.join(tmp, "mpoprc"), MPOPRC % {
        "tmp": tmp, "user": BOB, "pw": BOB_PW, "pop3": s.pop3_port, "pop3s": s.pop3s_port,
        "fp": fingerprint(s)})


def maildir_files(tmp):
    d = os.path.join(tmp, "Maildir", "new")
    out = {}
    for name in os.listdir(d):
        with open(os.path.join(d, name), "rb") as f:
            out[name] = f.read()
    return out


def pop3_sessions(s, mark, timeout=10):
    """(retrieved, expunged) of each POP3 session logged since mark, once
    one is: the client may exit before the server logs the session's end,
    and another module's disconnect (an SMTP delivery's) may be logged
    after mark, so waiting for any "event=disconnect" is not enough."""
    deadline = time.time() + timeout
    while True:
        found = [(int(a), int(b)) for a, b in re.findall(
            r"module=pop3 .*event=disconnect reason=quit user=\S+ .*retrieved=(\d+) expunged=(\d+)",
            log_since(s, mark))]
        if found or time.time() > deadline:
            return found
        time.sleep(0.02)


def mpop_ok(s, tmp, rc, *args):
    """Runs mpop with args, which must succeed; (where the server log
    stood before it ran, mpop's stdout)."""
    mark = len(s.log_text())
    code, out, err = run(tmp, ["mpop", "-C", rc] + list(args))
    assert code == 0, err
    return mark, out


def test_mpop_pop3s_maildir_keep_and_only_new():
    need("mpop")
    with Server(accounts=ACCOUNTS, pop3=True, imap=True) as s:
        tmp = tempfile.mkdtemp(prefix="mpop-", dir=s.tmp)
        rc = mpoprc(s, tmp)
        deliver(s, 3, body="Body.\r\n.stuffed\r\nFrom here\r\n..\r\nend\r\n")
        wait_count(s, 3)
        raws = raw_messages(s)

        # keep on: all three, exactly as stored (LF line ends in the
        # Maildir, no Received of mpop's), and all three still there.
        mark, out = mpop_ok(s, tmp, rc, "-q", "pop3s")
        got = maildir_files(tmp)
        assert sorted(got.values()) == sorted(r.replace(b"\r\n", b"\n") for r in raws), got
        assert len(s.messages(BOB)) == 3
        assert pop3_sessions(s, mark) == [(3, 0)]

        # Again: nothing new (UIDL), nothing fetched.
        mark, out = mpop_ok(s, tmp, rc, "pop3s")
        assert "new: no messages, total: 3 messages" in out, out
        assert len(maildir_files(tmp)) == 3
        assert pop3_sessions(s, mark) == [(0, 0)]

        # One delivery later: exactly that one.
        deliver(s, 1, subject="late %d")
        wait_count(s, 4)
        mark, out = mpop_ok(s, tmp, rc, "-q", "pop3s")
        now = maildir_files(tmp)
        new = [v for k, v in now.items() if k not in got]
        assert len(now) == 4 and len(new) == 1 and b"\nSubject: late 0\n" in new[0], now.keys()
        assert pop3_sessions(s, mark) == [(1, 0)]

        # keep off: mpop deletes what it has retrieved, in earlier runs too.
        mark, out = mpop_ok(s, tmp, rc, "-q", "--keep=off", "pop3s")
        assert len(maildir_files(tmp)) == 4
        assert s.wait_log("event=expunged user=%s marked=4 removed=4" % BOB)
        assert wait_since(s, mark, "event=disconnect")
        assert pop3_sessions(s, mark) == [(0, 4)]
        assert s.messages(BOB) == []
        m = login(s)
        assert m.select("INBOX", readonly=True)[1] == [b"0"]
        m.logout()


def mbox_messages(path):
    """The messages of an mboxrd file (mpop's format), unquoted."""
    with open(path, "rb") as f:
        text = f.read()
    parts = re.split(rb"^From \S+ +\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n", text, flags=re.M)
    assert parts[0] == b"", parts[0][:200]
    out = []
    for p in parts[1:]:
        assert p.endswith(b"\n\n"), p[-50:]  # each message ends with an empty line
        out.append(re.sub(rb"^>(>*From )", rb"\1", p[:-1], flags=re.M))
    return out


def test_mpop_stls_mbox_delete_and_failures():
    need("mpop")
    with Server(accounts=ACCOUNTS, pop3=True, imap=True) as s:
        tmp = tempfile.mkdtemp(prefix="mpop-", dir=s.tmp)
        rc = mpoprc(s, tmp)
        mbox = os.path.join(tmp, "mbox")
        deliver(s, 3, body="Body.\r\nFrom here\r\n>From quoted\r\n.stuffed\r\n")
        wait_count(s, 3)
        raws = raw_messages(s)

        # STLS (certificate pinned), USER/PASS, into an mbox, keep off.
        mark, out = mpop_ok(s, tmp, rc, "-q", "stls")
        got = mbox_messages(mbox)
        assert sorted(got) == sorted(r.replace(b"\r\n", b"\n") for r in raws), got
        with open(mbox, "rb") as f:
            text = f.read()
        assert text.count(b"\n>From here\n") == 3 and text.count(b"\n>>From quoted\n") == 3
        assert s.wait_log("event=expunged user=%s marked=3 removed=3" % BOB)
        assert pop3_sessions(s, mark) == [(3, 3)]
        new = log_since(s, mark)
        assert "tls=no" in new, new  # the POP3 port: TLS came with STLS
        assert re.search(r"event=login user=%s mech=user .*tls=TLSv1" % BOB, new), new
        assert s.messages(BOB) == []

        # A wrong password: mpop fails (EX_NOPERM), fetches and deletes
        # nothing; the server logged the failure.
        deliver(s, 1, subject="waiting %d")
        wait_count(s, 1)
        code, out, err = run(tmp, ["mpop", "-C", rc, "wrongpw"])
        assert code == EX_NOPERM, (code, out, err)
        assert "authentication failed" in err, err
        assert s.wait_log('event=auth_failed mech=user reason=password ')
        assert 'user="%s" ip=127.0.0.1\n' % BOB in s.log_text()
        assert "wrong-password" not in s.log_text()

        # Without TLS the server offers neither USER nor SASL, and mpop
        # (auth on: it chooses) will not send the password in the clear.
        mark = len(s.log_text())
        code, out, err = run(tmp, ["mpop", "-C", rc, "plaintext"])
        assert code == EX_UNAVAILABLE, (code, out, err)
        assert "cannot use a secure authentication method" in err, err
        assert wait_since(s, mark, "event=disconnect")
        assert "event=login" not in log_since(s, mark)
        # Told to use USER all the same, it sends USER and PASS; the
        # server refuses both and logs nobody in.
        mark = len(s.log_text())
        code, out, err = run(tmp, ["mpop", "-C", rc, "plainuser"])
        assert code == EX_NOPERM, (code, out, err)
        assert "-ERR [AUTH] Plaintext authentication disallowed" in err, err
        assert wait_since(s, mark, "event=disconnect")
        assert "event=login" not in log_since(s, mark)

        assert len(mbox_messages(mbox)) == 3
        left = s.messages(BOB)
        assert len(left) == 1 and "waiting 0" in left[0][1], left


# ---- s-nail ----

def snail(tmp, args, stdin=b""):
    """s-nail with no resource files (-:/), the v15 variable names, no
    dead.letter, the self-signed certificate accepted."""
    return run(tmp, ["s-nail", "-:/", "-Sv15-compat", "-Snosave", "-Stls-verify=ignore",
                     "-Sttycharset=utf-8"] + args, stdin, env={"COLUMNS": "200", "LINES": "100"})


def snail_send(s, tmp, url, subject, body, extra=()):
    hostport = url.rsplit("@", 1)[1]
    return snail(tmp, ["-Sexpandaddr=fail,-all,+addr", "-Smta=%s" % url, "-Sfrom=%s" % ALICE,
                       "-Spassword-%s@%s=%s" % (ALICE, hostport, ALICE_PW)] + list(extra)
                 + ["-s", subject, "-.", BOB], body)


def test_snail_sends_over_submission():
    need("s-nail")
    with Server(accounts=ACCOUNTS, submission=True, imap=True) as s:
        tmp = tempfile.mkdtemp(prefix="snail-", dir=s.tmp)
        user = ALICE.replace("@", "%40")
        # (No line starts with "From ": s-nail would send it quoted-printable.)
        body = b"Hello from s-nail.\n.leading dot\n..two\n.\n\nend\n"

        # 587 with STARTTLS, AUTH PLAIN.
        code, out, err = snail_send(s, tmp, "smtp://%s@127.0.0.1:%d" % (user, s.submission_port),
                                    "snail starttls", body,
                                    ["-Ssmtp-use-starttls", "-Ssmtp-auth=plain"])
        assert code == 0, err
        assert s.wait_log("event=login user=%s mech=plain" % ALICE)
        # 465, AUTH LOGIN.
        code, out, err = snail_send(s, tmp, "smtps://%s@127.0.0.1:%d" % (user, s.submissions_port),
                                    "snail implicit", body, ["-Ssmtp-auth=login"])
        assert code == 0, err
        assert s.wait_log("event=login user=%s mech=login" % ALICE)
        # 587 without STARTTLS: AUTH is refused before any password.
        code, out, err = snail_send(s, tmp, "smtp://%s@127.0.0.1:%d" % (user, s.submission_port),
                                    "snail plaintext", body, ["-Ssmtp-auth=plain"])
        assert code != 0, (code, err)
        assert "530 5.7.0 Must issue a STARTTLS command first" in err, err
        assert "message not sent" in err, err

        wait_count(s, 2)
        got = by_subject(raw_messages(s))
        assert set(got) == {"snail starttls", "snail implicit"}, list(got)
        for raw in got.values():
            head, text = raw.split(b"\r\n\r\n", 1)
            assert text == body.replace(b"\n", b"\r\n"), text
            assert b"\r\nFrom: %s\r\n" % ALICE.encode() in head, head
            assert b"\r\nTo: %s\r\n" % BOB.encode() in head, head
            assert b"User-Agent: s-nail" in head and b"with ESMTPSA" in head, head
        assert s.log_text().count("event=submitted") == 2


def test_snail_reads_imaps_and_deletes():
    need("s-nail")
    with Server(accounts=ACCOUNTS, imap=True) as s:
        tmp = tempfile.mkdtemp(prefix="snail-", dir=s.tmp)
        deliver(s, 3, subject="snail msg %d")
        wait_count(s, 3)
        host = "127.0.0.1:%d" % s.imaps_port
        # hold: a message read stays in the folder (batch mode's MBOX is
        # /dev/null, and without hold a read message would go there).
        code, out, err = snail(tmp, ["-#", "-Shold", "-Spassword-%s@%s=%s" % (BOB, host, BOB_PW),
                                     "-f", "imaps://%s@%s/INBOX" % (BOB.replace("@", "%40"), host)],
                               b"headers\nprint 2\ndelete 3\nquit\n")
        assert code == 0, (code, out, err)
        listed = [line for line in out.splitlines() if re.match(r"^[> ]\S* +\d+ ", line)]
        assert len(listed) == 3 and all("snail msg %d" % i in listed[i] for i in range(3)), out
        assert "Subject: snail msg 1" in out and "Body 1." in out, out
        assert "Body 0." not in out and "Body 2." not in out, out
        assert s.wait_log("event=disconnect reason=logout user=%s" % BOB)
        assert "event=login user=%s mech=login" % BOB in s.log_text()

        # quit expunged the deleted message; the one printed is \Seen.
        flags = mailbox_flags(s)
        assert sorted(flags) == ["snail msg 0", "snail msg 1"], flags
        assert b"\\Seen" in flags["snail msg 1"] and b"\\Seen" not in flags["snail msg 0"], flags

        # The IMAP port with STARTTLS sees the same two.
        host = "127.0.0.1:%d" % s.imap_port
        code, out, err = snail(tmp, ["-#", "-Shold", "-Simap-use-starttls",
                                     "-Spassword-%s@%s=%s" % (BOB, host, BOB_PW),
                                     "-f", "imap://%s@%s/INBOX" % (BOB.replace("@", "%40"), host)],
                               b"headers\nquit\n")
        assert code == 0, (code, out, err)
        listed = [line for line in out.splitlines() if re.match(r"^[> ]\S* +\d+ ", line)]
        assert len(listed) == 2 and "snail msg 0" in listed[0] and "snail msg 1" in listed[1], out
        assert len(s.messages(BOB)) == 2


def test_snail_reads_pop3_and_deletes():
    need("s-nail")
    with Server(accounts=ACCOUNTS, pop3=True) as s:
        tmp = tempfile.mkdtemp(prefix="snail-", dir=s.tmp)
        deliver(s, 3, subject="pop msg %d")
        wait_count(s, 3)
        host = "127.0.0.1:%d" % s.pop3s_port
        mark = len(s.log_text())
        code, out, err = snail(tmp, ["-#", "-Shold", "-Spassword-%s@%s=%s" % (BOB, host, BOB_PW),
                                     "-f", "pop3s://%s@%s" % (BOB.replace("@", "%40"), host)],
                               b"headers\nprint 1\ndelete 2\nquit\n")
        assert code == 0, (code, out, err)
        listed = [line for line in out.splitlines() if re.match(r"^[> ]\S* +\d+ ", line)]
        assert len(listed) == 3 and all("pop msg %d" % i in listed[i] for i in range(3)), out
        assert "Subject: pop msg 0" in out and "Body 0." in out, out
        assert s.wait_log("event=expunged user=%s marked=1 removed=1" % BOB)
        assert pop3_sessions(s, mark) == [(1, 1)]
        subjects = [line for _, line in s.messages(BOB)]
        assert len(subjects) == 2 and "pop msg 0" in subjects[0] and "pop msg 2" in subjects[1], \
            subjects

        # STLS on the POP3 port: the two that are left.
        host = "127.0.0.1:%d" % s.pop3_port
        code, out, err = snail(tmp, ["-#", "-Shold", "-Spop3-use-starttls",
                                     "-Spassword-%s@%s=%s" % (BOB, host, BOB_PW),
                                     "-f", "pop3://%s@%s" % (BOB.replace("@", "%40"), host)],
                               b"headers\nquit\n")
        assert code == 0, (code, out, err)
        listed = [line for line in out.splitlines() if re.match(r"^[> ]\S* +\d+ ", line)]
        assert len(listed) == 2 and "pop msg 0" in listed[0] and "pop msg 2" in listed[1], out
        assert len(s.messages(BOB)) == 2
