"""`tern spam train` and `tern spam test` (issue 34, DESIGN.md §5) on
small made-up corpora, no server: ham from an mbox file, spam from a
Maildir and a directory of message files; then new messages of each
kind get the verdict of their kind, with the rules and weights printed
(the classifier's and the byte-gram regression's on their side);
an executable attachment and a link whose text names another domain
show their rules; --account trains a user's own model and fuzzy memory,
so a near-copy of that user's Junk is spam for that user only."""
import os
import subprocess
import tempfile

from harness import TERN

SPAM_WORDS = ["cheap", "pills", "offer", "winner", "casino", "credit", "loan", "free",
              "bonus", "click", "unsubscribe", "discount"]
HAM_WORDS = ["meeting", "patch", "review", "kernel", "build", "lunch", "thanks", "branch",
             "release", "agenda", "notes", "commit"]


def message(spam, i, extra=""):
    w = SPAM_WORDS if spam else HAM_WORDS
    words = " ".join(w[(i + k * 5) % 12] for k in range(8))
    sender = "deals@promo.example" if spam else "dev@team.example"
    return (f"From: {sender}\r\nTo: u@ours.example\r\nSubject: {w[i % 12]} {w[(i + 3) % 12]}\r\n"
            f"Date: Mon, 2 Sep 2024 10:00:00 +0000\r\nMessage-ID: <{spam}.{i}@x.example>\r\n"
            f"{extra}\r\n{words} number {i}\r\n")


def tern(env, *args):
    return subprocess.run([TERN] + list(args), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=120)


def verdict(env, path, *opts):
    r = tern(env, "spam", "test", *opts, path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    return lines[0].split()[0], float(lines[0].split("score=")[1]), lines[1:]


def test_spam_train_and_test():
    with tempfile.TemporaryDirectory() as d:
        env = {"PATH": "/usr/bin:/bin", "TERN_DATA_DIR": os.path.join(d, "data")}
        # ham in an mbox, spam half in a Maildir, half in a plain directory
        with open(os.path.join(d, "ham.mbox"), "w") as f:
            for i in range(30):
                f.write("From dev@team.example Mon Sep  2 10:00:00 2024\n")
                f.write(message(0, i).replace("\r\n", "\n") + "\n")
        for sub in ("Junk/cur", "Junk/new", "Junk/tmp", "more"):
            os.makedirs(os.path.join(d, sub))
        for i in range(30):
            where = "Junk/cur" if i % 2 else "more"
            with open(os.path.join(d, where, f"{i}.eml"), "w") as f:
                f.write(message(1, i))
        # What Dovecot keeps beside a Maildir folder's messages (as a real
        # one wrote them, abridged): no mail, so nothing learned from them;
        # an empty file is no message either.
        junk_files = {
            "dovecot-uidlist": "3 V1795887048 N4 G35bf9c2ac80f0b6b\n1 :1795887048.M3P1.vm\n",
            "dovecot-keywords": "0 $Junk\n",
            "dovecot.index.log": "\x01\x03\x18\x00\xc8\x0f\x0b\x6b" * 40,
            "maildirfolder": "",
        }
        for name, text in junk_files.items():
            with open(os.path.join(d, "Junk", name), "w") as f:
                f.write(text)
        with open(os.path.join(d, "Junk/tmp", "9.eml"), "w") as f:
            f.write(message(1, 9))  # still being written
        open(os.path.join(d, "more", "empty.eml"), "w").close()
        r = tern(env, "spam", "train", "ham", os.path.join(d, "ham.mbox"))
        assert r.returncode == 0 and b"learned 30 ham" in r.stdout, (r.stdout, r.stderr)
        # the byte-gram regression waits for both classes
        assert b"byte grams: 0 spam and 30 ham lessons, too few" in r.stdout, r.stdout
        r = tern(env, "spam", "train", "spam", os.path.join(d, "Junk"), os.path.join(d, "more"))
        assert r.returncode == 0 and b"learned 30 spam" in r.stdout, (r.stdout, r.stderr)
        assert b"byte grams: 30 spam and 30 ham lessons, weights fitted" in r.stdout, r.stdout

        for spam in (0, 1):
            p = os.path.join(d, f"new{spam}.eml")
            with open(p, "w") as f:
                f.write(message(spam, 77))
            v, score, rules = verdict(env, p)
            assert v == ("spam" if spam else "ham"), (v, score, rules)
            assert any(l.split()[0] == ("BAYES_SPAM" if spam else "BAYES_HAM") for l in rules)
            assert any(l.split()[0] == ("GRAMS_SPAM" if spam else "GRAMS_HAM") for l in rules), rules

        # rules print with weights and descriptions
        p = os.path.join(d, "exe.eml")
        with open(p, "w") as f:
            f.write("From: a@b.example\r\nSubject: invoice\r\n"
                    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                    "Content-Type: text/html\r\n\r\n<a href=\"http://evil.example/\">"
                    "www.bank.example</a>\r\n--b\r\nContent-Type: application/octet-stream\r\n"
                    "Content-Disposition: attachment; filename=\"scan.pdf.exe\"\r\n\r\n"
                    "MZ\r\n--b--\r\n")
        v, score, rules = verdict(env, p)
        names = {l.split()[0]: l for l in rules}
        for n in ("ATTACH_EXEC", "ATTACH_DOUBLE_EXT", "PHISH_LINK_MISMATCH", "MISSING_DATE"):
            assert n in names, (n, rules)
        assert "executable attachment" in names["ATTACH_EXEC"]
        assert v in ("spam", "reject") and score >= 5, (v, score)

        # two files: a block each
        r = tern(env, "spam", "test", os.path.join(d, "new0.eml"), os.path.join(d, "new1.eml"))
        out = r.stdout.decode()
        assert out.count("file: ") == 2 and "\nspam score=" in out, out

        # a user's own Junk: a near-copy is spam for u, not for v
        r = subprocess.run([TERN, "domain", "add", "ours.example"], env=env, capture_output=True)
        for u in ("u", "v"):
            subprocess.run([TERN, "account", "add", f"{u}@ours.example"], env=env,
                           input=b"Velvet-Otter-Harbor-47\n", capture_output=True, check=True)
        body = ("Dear friend I am writing to you about the shipment of the parcel number {} "
                "that is waiting for you at our depot in the city please confirm your address "
                "and pay the small handling fee today so that we can deliver it")
        junk, near = os.path.join(d, "junk.eml"), os.path.join(d, "near.eml")
        for path, num in ((junk, 4471), (near, 9902)):
            with open(path, "w") as f:
                f.write("From: Post <post@parcel.example>\r\nSubject: your parcel\r\n"
                        "Date: Mon, 2 Sep 2024 10:00:00 +0000\r\n"
                        f"Message-ID: <{num}@parcel.example>\r\n\r\n{body.format(num)}\r\n")
        before = verdict(env, near, "--account", "u@ours.example")
        r = tern(env, "spam", "train", "spam", "--account", "u@ours.example", junk)
        assert r.returncode == 0, r.stderr
        after_u = verdict(env, near, "--account", "u@ours.example")
        after_v = verdict(env, near, "--account", "v@ours.example")
        assert not any("FUZZY_JUNK" in l for l in before[2])
        assert any("FUZZY_JUNK" in l for l in after_u[2]) and after_u[0] != "ham", after_u
        assert not any("FUZZY_JUNK" in l for l in after_v[2]), after_v
        r = tern(env, "spam", "test", "--account", "nobody@ours.example", near)
        assert r.returncode == 1 and b"no such account" in r.stderr


def test_spam_test_uses_the_servers_thresholds():
    """`tern spam test` decides with the thresholds the server uses (the
    Spam page's), not the built-in defaults: the verdict it prints is the
    one a delivery would get."""
    from httpc import admin_server
    s, api = admin_server(domains=("ours.example",))
    try:
        p = os.path.join(s.tmp, "exe.eml")
        with open(p, "w") as f:
            f.write("From: a@b.example\r\nSubject: invoice\r\n"
                    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                    "Content-Type: text/plain\r\n\r\nthe invoice\r\n--b\r\n"
                    "Content-Type: application/octet-stream\r\n"
                    "Content-Disposition: attachment; filename=\"scan.pdf.exe\"\r\n\r\n"
                    "MZ\r\n--b--\r\n")

        def verdict_now():
            r = s.cli("spam", "test", p)
            first = r.stdout.decode().splitlines()[0]
            return first.split()[0], float(first.split("score=")[1])

        v, score = verdict_now()
        assert v == "spam" and 5 <= score < 19, (v, score)  # the defaults: 5 and 19
        st, _, cfg = api.call("PUT", "/spam", {"junk": score + 1, "reject": score + 2})
        assert st == 200, cfg
        assert verdict_now() == ("ham", score)
        st, _, cfg = api.call("PUT", "/spam", {"junk": 1, "reject": score - 1})
        assert st == 200, cfg
        assert verdict_now() == ("reject", score)
    finally:
        s.cleanup()


def model_line(out):
    return [l for l in out.decode().splitlines() if l.startswith("model: ")][0]


def test_files_with_lf_line_ends_are_known_by_their_body():
    """Message files as mbox and Maildir keep them on disk, with LF line
    ends: each is known by its From, Subject and body, as its stored
    (CRLF) copy is, so messages that share a From and Subject (a list's
    digests, a sender's notices) are all learned, and the CRLF copy of
    one is the same message."""
    with tempfile.TemporaryDirectory() as d:
        env = {"PATH": "/usr/bin:/bin", "TERN_DATA_DIR": os.path.join(d, "data")}
        ham = os.path.join(d, "ham")
        os.makedirs(ham)
        for i in range(4):
            with open(os.path.join(ham, f"{i}.eml"), "w", newline="") as f:
                f.write("From: List <list@team.example>\nSubject: weekly digest\n"
                        f"Message-ID: <{i}@team.example>\n\nissue {i}: the build notes\n")
        r = tern(env, "spam", "train", "ham", ham)
        assert r.returncode == 0, r.stderr
        assert b"learned 4 ham (global model), 0 already learned" in r.stdout, r.stdout
        crlf = os.path.join(d, "crlf.eml")
        with open(os.path.join(ham, "2.eml"), newline="") as f:
            text = f.read()
        with open(crlf, "w", newline="") as f:
            f.write(text.replace("\n", "\r\n"))
        r = tern(env, "spam", "train", "ham", crlf)
        assert b"learned 0 ham (global model), 1 already learned" in r.stdout, r.stdout


def test_training_again_learns_each_message_once():
    """`tern spam train` run again on the same files learns nothing new
    (each message once, as Rspamd's learn cache), and the same message
    given twice in one run counts once; training the other class moves
    the messages (the first lesson forgotten, the counts unchanged), for
    the global model and for an account's own, whose fuzzy memory lets a
    message go when it is moved to ham."""
    with tempfile.TemporaryDirectory() as d:
        env = {"PATH": "/usr/bin:/bin", "TERN_DATA_DIR": os.path.join(d, "data")}
        os.makedirs(os.path.join(d, "spam"))
        for i in range(5):
            with open(os.path.join(d, "spam", f"{i}.eml"), "w") as f:
                f.write(message(1, i))
        copy = os.path.join(d, "copy.eml")
        with open(copy, "w") as f:
            f.write(message(1, 0))  # a copy of spam/0.eml
        spam_dir = os.path.join(d, "spam")
        r = tern(env, "spam", "train", "spam", spam_dir, copy)
        assert r.returncode == 0, r.stderr
        assert b"learned 5 spam (global model), 1 already learned, 0 moved from ham" in r.stdout, r.stdout
        first = model_line(r.stdout)
        assert "5 spam and 0 ham learned" in first, first
        assert b"byte grams: 5 spam and 0 ham lessons" in r.stdout, r.stdout
        r = tern(env, "spam", "train", "spam", spam_dir)
        assert r.returncode == 0, r.stderr
        assert b"learned 0 spam (global model), 5 already learned" in r.stdout, r.stdout
        assert model_line(r.stdout) == first, (model_line(r.stdout), first)
        assert b"byte grams: 5 spam and 0 ham lessons" in r.stdout, r.stdout
        # the other class: moved, not learned on top
        r = tern(env, "spam", "train", "ham", os.path.join(spam_dir, "0.eml"),
                 os.path.join(spam_dir, "1.eml"))
        assert r.returncode == 0, r.stderr
        assert b"learned 2 ham (global model), 0 already learned, 2 moved from spam" in r.stdout, r.stdout
        assert "3 spam and 2 ham learned" in model_line(r.stdout), r.stdout
        assert b"byte grams: 3 spam and 2 ham lessons" in r.stdout, r.stdout
        r = tern(env, "spam", "train", "ham", os.path.join(spam_dir, "0.eml"))
        assert b"learned 0 ham (global model), 1 already learned" in r.stdout, r.stdout

        # an account's model, and its fuzzy memory
        subprocess.run([TERN, "domain", "add", "ours.example"], env=env, capture_output=True)
        subprocess.run([TERN, "account", "add", "u@ours.example"], env=env,
                       input=b"Velvet-Otter-Harbor-47\n", capture_output=True, check=True)
        acct = ("--account", "u@ours.example")
        copy = os.path.join(d, "parcel.eml")  # long enough for a fuzzy hash
        with open(copy, "w") as f:
            f.write("From: Post <post@parcel.example>\r\nSubject: your parcel\r\n"
                    "Date: Mon, 2 Sep 2024 10:00:00 +0000\r\nMessage-ID: <1@parcel.example>\r\n\r\n"
                    "Dear friend I am writing to you about the shipment of the parcel number 4471 "
                    "that is waiting for you at our depot in the city please confirm your address "
                    "and pay the small handling fee today so that we can deliver it\r\n")
        r = tern(env, "spam", "train", "spam", *acct, copy)
        assert b"learned 1 spam (u@ours.example), 0 already learned" in r.stdout, r.stdout
        assert any("FUZZY_JUNK" in l for l in verdict(env, copy, *acct)[2])
        r = tern(env, "spam", "train", "spam", *acct, copy)
        assert b"learned 0 spam (u@ours.example), 1 already learned" in r.stdout, r.stdout
        assert "1 spam and 0 ham learned" in model_line(r.stdout), r.stdout
        r = tern(env, "spam", "train", "ham", *acct, copy)
        assert b"learned 1 ham (u@ours.example), 0 already learned, 1 moved from spam" in r.stdout, r.stdout
        assert "0 spam and 1 ham learned" in model_line(r.stdout), r.stdout
        assert not any("FUZZY_JUNK" in l for l in verdict(env, copy, *acct)[2])
