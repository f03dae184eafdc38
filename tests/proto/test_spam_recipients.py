"""A spam verdict per recipient (issue 34, DESIGN.md §3b stages 4-5): when
the recipients of one SMTP transaction have models of their own, the
message is parsed and tokenized once and each recipient's model decides
for that recipient: bob taught his model that a kind of message is spam,
carol taught hers it is ham; one transaction to both lands it in bob's
Junk with his X-Spam-Status: Yes and in carol's INBOX with her
X-Spam-Status: No. Before, the first recipient's verdict held for all.
"""
import os
import re
import smtplib
import tempfile

from harness import Server
from mailpeers import DnsServer

GLOBAL_HAM = ("meeting", "patch", "review", "kernel", "build", "lunch", "thanks", "branch",
              "release", "agenda", "notes", "commit")
GLOBAL_SPAM = ("cheap", "pills", "offer", "winner", "casino", "credit", "loan", "bonus",
               "jackpot", "prize", "discount", "pharmacy")
SHAPE = ("vintage", "bicycle", "catalogue", "frame", "saddle", "chrome", "spokes", "leather",
         "touring", "restored", "brass", "lugs")


def message(words, i, sender="news@shop.test", subject=None):
    w = [words[(i + k * 5) % len(words)] for k in range(10)]
    return ("From: Sender <%s>\r\nTo: someone@example.test\r\nSubject: %s\r\n"
            "Date: Mon, 23 Nov 2026 08:00:00 +0000\r\nMessage-ID: <%d.%s@shop.test>\r\n\r\n"
            "%s\r\nnumber %d\r\n" % (sender, subject or " ".join(w[:3]), i, w[0], " ".join(w), i))


def write_all(d, name, words, n, offset=0):
    path = os.path.join(d, name)
    os.makedirs(path)
    for i in range(n):
        with open(os.path.join(path, "%d.eml" % i), "w") as f:
            f.write(message(words, offset + i))
    return path


def test_spam_verdict_per_recipient():
    dns = s = None
    try:
        dns = DnsServer({"shop.test": {"TXT": ["v=spf1 ip4:127.0.0.0/8 -all"]},
                         "_dmarc.*": {"NXDOMAIN": True}})
        s = Server(accounts=[("bob@example.test", "Bob-Velvet-Harbor-47"),
                             ("carol@example.test", "Carol-Otter-Meadow-58")],
                   env={"TERN_DNS_SERVERS": dns.servers})
        with tempfile.TemporaryDirectory() as d:
            # A global model that knows neither kind, then each user's lesson.
            s.cli("spam", "train", "ham", write_all(d, "gham", GLOBAL_HAM, 25))
            s.cli("spam", "train", "spam", write_all(d, "gspam", GLOBAL_SPAM, 25))
            shape = write_all(d, "shape", SHAPE, 25)
            s.cli("spam", "train", "spam", "--account", "bob@example.test", shape)
            s.cli("spam", "train", "ham", "--account", "carol@example.test", shape)

        c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30)
        c.ehlo("client.example.org")
        refused = c.sendmail("news@shop.test", ["bob@example.test", "carol@example.test"],
                             message(SHAPE, 1000, subject="new arrivals"))
        c.quit()
        assert refused == {}, refused

        def only(account, mailbox):
            got = [i for i, line in s.messages(account, mailbox) if "new arrivals" in line]
            return s.raw(account, got[0]).split(b"\r\n\r\n", 1)[0].decode() if got else None

        bob = only("bob@example.test", "Junk")
        assert bob is not None, s.messages("bob@example.test", "INBOX")
        assert bob.count("X-Spam-Status:") == 1 and "X-Spam-Status: Yes" in bob, bob
        assert "BAYES_SPAM" in bob and "BAYES_HAM" not in bob, bob
        assert only("bob@example.test", "INBOX") is None
        carol = only("carol@example.test", "INBOX")
        assert carol is not None, s.messages("carol@example.test", "Junk")
        assert carol.count("X-Spam-Status:") == 1 and "X-Spam-Status: No" in carol, carol
        assert "BAYES_HAM" in carol and "BAYES_SPAM" not in carol, carol
        assert only("carol@example.test", "Junk") is None
        # the log says each account's verdict where they differ
        assert s.wait_log("event=spam_verdict account="), s.log_text()
        verdicts = re.findall(r"event=spam_verdict account=\d+ spam=(\w+)", s.log_text())
        assert sorted(verdicts) == ["ham", "spam"], verdicts
    finally:
        if s:
            s.cleanup()
        if dns:
            dns.stop()


def stored_copy(words, i, spam):
    """A message as a user's mail folder keeps it after tern delivered it:
    the Return-Path first, our Received, our authentication results and
    verdict. `tern spam train` of such a folder is how users seed the
    classifier."""
    sender = "bounce@promo.test" if spam else "list-bounces@team.test"
    return ("Return-Path: <%s>\r\n"
            "Received: from mx.sender.test ([192.0.2.7])\r\n\tby mx.example.test (tern) with ESMTPS"
            " id 9f.%d;\r\n\tMon, 23 Nov 2026 08:00:00 +0000\r\n"
            "Authentication-Results: mx.example.test; spf=%s smtp.mailfrom=%s\r\n"
            "X-Spam-Status: %s, score=%s required=5.00\r\n%s"
            % (sender, i, "fail" if spam else "pass", sender.split("@")[1],
               "Yes" if spam else "No", "9.00" if spam else "-3.00",
               message(words, i, sender=sender)))


def classifier_weights(lines):
    """{rule: weight} of the classifiers' rules (BAYES_*, GRAMS_*)."""
    return {name: float(w) for name, w in re.findall(r"\b((?:BAYES|GRAMS)_[A-Z]+)[= ](-?[0-9.]+)",
                                                      "\n".join(lines))}


def test_spam_scored_as_stored():
    """The message scored in its SMTP transaction reads, to both
    classifiers, as the copy that is then stored (and that a user may
    train from): the delivery's Return-Path is in it, and the fields tern
    adds to the stored copy (its Received, Authentication-Results,
    X-Spam-*) count for neither. So `tern spam test` of the stored copy
    gives the classifiers' rules the very weights X-Spam-Result gave at
    SMTP time. Before, the Return-Path was missing at SMTP time and our
    added fields were words for the classifier in a stored copy."""
    dns = s = None
    try:
        dns = DnsServer({"team.test": {"TXT": ["v=spf1 ip4:127.0.0.0/8 -all"]},
                         "_dmarc.*": {"NXDOMAIN": True}})
        s = Server(accounts=[("bob@example.test", "Bob-Velvet-Harbor-47")],
                   env={"TERN_DNS_SERVERS": dns.servers})
        with tempfile.TemporaryDirectory() as d:
            for kind, words, spam in (("ham", GLOBAL_HAM, 0), ("spam", GLOBAL_SPAM, 1)):
                path = os.path.join(d, kind)
                os.makedirs(path)
                for i in range(30):
                    with open(os.path.join(path, "%d.eml" % i), "w") as f:
                        f.write(stored_copy(words, i, spam))
                s.cli("spam", "train", kind, path)
            # words of both kinds: weights the classifiers do not clip
            mixed = GLOBAL_HAM[:6] + GLOBAL_SPAM[:3] + SHAPE[:3]
            c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30)
            c.ehlo("client.example.org")
            refused = c.sendmail("list-bounces@team.test", ["bob@example.test"],
                                 message(mixed, 7, sender="list-bounces@team.test",
                                         subject="both kinds"))
            c.quit()
            assert refused == {}, refused
            got = [i for mbox in ("INBOX", "Junk") for i, line in s.messages("bob@example.test", mbox)
                   if "both kinds" in line]
            assert len(got) == 1, got
            raw = s.raw("bob@example.test", got[0])
            header = raw.split(b"\r\n\r\n", 1)[0].decode()
            assert header.startswith("Return-Path: <list-bounces@team.test>\r\n"), header
            assert "Authentication-Results:" in header and "X-Spam-Result:" in header, header
            at_smtp = classifier_weights(re.findall(r"X-Spam-Result:[^\r]*(?:\r\n\t[^\r]*)*", header))
            assert set(at_smtp) & {"BAYES_SPAM", "BAYES_HAM"}, header
            assert set(at_smtp) & {"GRAMS_SPAM", "GRAMS_HAM"}, header
            # not at a clip, where a difference could not show
            assert all(-4.9 < w < 6.3 for w in at_smtp.values()), at_smtp
            copy = os.path.join(d, "stored.eml")
            with open(copy, "wb") as f:
                f.write(raw)
            r = s.cli("spam", "test", "--account", "bob@example.test", copy)
            assert classifier_weights(r.stdout.decode().splitlines()[1:]) == at_smtp, \
                (r.stdout.decode(), at_smtp)
    finally:
        if s:
            s.cleanup()
        if dns:
            dns.stop()
