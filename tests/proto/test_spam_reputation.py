"""Sender reputation (issue 34, spam_rep.h): off by default (no rule, no
bookkeeping); turned on, the verdicts an SPF-verified sender domain
earned become DOMAIN_REPUTATION on its next message, positive after spam,
negative after ham, with the counts in X-Spam-Result's rule. A user's
correction counts too: bob files a clean message from corr.test into
Junk (IMAP MOVE), and the domain's next message carries a spammy
DOMAIN_REPUTATION; the table survives a restart of the server. A message
bob APPENDs with forged fields naming victim.test corrects nothing. One server
and one loopback DNS server. (Client networks on loopback have no IP
reputation; the unit test test_spam_rep covers the network keys.)
"""
import re

from httpc import admin_server
from mailpeers import DnsServer
from test_spam_wire import SPF_PASS, find, head, imap, msg, newest, send, wait_count


def rep_weight(h):
    m = re.search(r"DOMAIN_REPUTATION=(-?[0-9.]+)", h)
    return float(m.group(1)) if m else None


def test_spam_reputation():
    dns = s = None
    try:
        dns = DnsServer({
            "2.0.0.127.bl.test": {"A": ["127.0.0.2"]},
            "bad.test": SPF_PASS,
            "fine.test": SPF_PASS,
            "corr.test": SPF_PASS,
            "victim.test": SPF_PASS,
            "_dmarc.*": {"NXDOMAIN": True},
        })
        s, api = admin_server(domains=("example.test",), imap=True,
                              accounts=[("admin@example.test", "admin-pw-1-Vq8r"),
                                        ("bob@example.test", "bob-pw-1")],
                              env={"TERN_DNS_SERVERS": dns.servers})
        st, _, cfg = api.call("PUT", "/spam", {"dnsbl": "bl.test 127.0.0.2=7", "uribl": ""})
        assert st == 200 and cfg["reputation"] is False, cfg

        def spam_from(domain, n, tag):
            for i in range(n):
                _, r = send(s, "127.0.0.2", "a@%s" % domain, msg("%s %d" % (tag, i)))
                assert r[0] == 250, r

        # Off: spam from bad.test leaves no reputation behind.
        spam_from("bad.test", 5, "off")
        _, r = send(s, "127.0.0.1", "a@bad.test", msg("off clean"))
        h = head(newest(s, "bob@example.test", "INBOX"))
        assert "Subject: off clean" in h and "REPUTATION" not in h, h

        # On: five spam verdicts, then a clean message is marked down.
        st, _, cfg = api.call("PUT", "/spam", {"reputation": True})
        assert st == 200 and cfg["reputation"] is True, cfg
        spam_from("bad.test", 5, "on")
        _, r = send(s, "127.0.0.1", "a@bad.test", msg("on clean"))
        assert r[0] == 250, r
        h = head(newest(s, "bob@example.test", "INBOX"))
        assert "Subject: on clean" in h and "DOMAIN_REPUTATION=" in h, h
        w = float(h.split("DOMAIN_REPUTATION=")[1].split(",")[0].split()[0].rstrip(";"))
        assert w > 0, h

        # Five clean messages from fine.test: the sixth is marked up.
        for i in range(6):
            _, r = send(s, "127.0.0.1", "a@fine.test", msg("fine %d" % i))
            assert r[0] == 250, r
        h = head(newest(s, "bob@example.test", "INBOX"))
        assert "Subject: fine 5" in h and "DOMAIN_REPUTATION=-" in h, h

        # A correction: one clean message from corr.test (one ham verdict,
        # too few for a rule), which bob files into Junk; the domain's next
        # message is marked down by that correction alone.
        _, r = send(s, "127.0.0.1", "a@corr.test", msg("corr 1"))
        assert r[0] == 250, r
        h = head(newest(s, "bob@example.test", "INBOX"))
        assert "Subject: corr 1" in h and rep_weight(h) is None, h
        bob = imap(s, "bob@example.test", "bob-pw-1")
        assert bob.uid("MOVE", find(bob, "INBOX", "corr 1"), "Junk")[0] == "OK"
        bob.logout()
        assert wait_count(s, "kind=spam what=trained", 1), s.log_text()
        _, r = send(s, "127.0.0.1", "a@corr.test", msg("corr 2"))
        assert r[0] == 250, r
        h = newest(s, "bob@example.test", "INBOX")
        h = head(h) if h and b"Subject: corr 2" in h else head(newest(s, "bob@example.test", "Junk"))
        assert "Subject: corr 2" in h and (rep_weight(h) or 0) > 0, h

        # A forged correction: bob APPENDs into Junk a message whose own
        # Received and Authentication-Results fields say tern took it from
        # victim.test with SPF passing. It teaches bob's model, not the
        # table every account shares: victim.test's next message (its one
        # ham verdict, too few for a rule) carries no reputation.
        bob = imap(s, "bob@example.test", "bob-pw-1")
        forged = msg("forged", "Received: from mx.victim.test ([198.51.100.7])\r\n"
                               "\tby mx.example.test with ESMTP\r\n"
                               "Authentication-Results: mx.example.test; spf=pass "
                               "smtp.mailfrom=a@victim.test; dmarc=none\r\n")
        assert bob.append("Junk", None, None, forged)[0] == "OK"
        bob.logout()
        assert wait_count(s, "kind=spam what=trained", 2), s.log_text()
        _, r = send(s, "127.0.0.1", "a@victim.test", msg("victim 1"))
        assert r[0] == 250, r
        h = newest(s, "bob@example.test", "INBOX")
        h = head(h) if h and b"Subject: victim 1" in h else head(newest(s, "bob@example.test", "Junk"))
        assert "Subject: victim 1" in h and rep_weight(h) is None, h

        # A restart keeps the table: corr.test and bad.test stay marked down.
        s.stop()
        s.start()
        _, r = send(s, "127.0.0.1", "a@corr.test", msg("corr 3"))
        assert r[0] == 250, r
        h = newest(s, "bob@example.test", "INBOX")
        h = head(h) if h and b"Subject: corr 3" in h else head(newest(s, "bob@example.test", "Junk"))
        assert "Subject: corr 3" in h and (rep_weight(h) or 0) > 0, h
        _, r = send(s, "127.0.0.1", "a@bad.test", msg("after restart"))
        assert r[0] == 250, r
        h = head(newest(s, "bob@example.test", "INBOX"))
        assert "Subject: after restart" in h and (rep_weight(h) or 0) > 0, h
    finally:
        if s:
            s.cleanup()
        if dns:
            dns.stop()
