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
