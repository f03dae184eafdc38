"""The global model learns from the filter's own signals (issue 34: a
spam trap's mail, mail on several strong blocklists) each message once,
as Rspamd's learn cache has it:

- a campaign sending one text over and over to a trap is learned once,
  not once a copy (each copy grew the model's counts and pushed the
  trained byte-gram lessons out); another text is learned again;
- a trap message answered 451 by greylisting and accepted at its retry
  is learned once (it was learned at the 451 and again at the retry).

And sender reputation (when on) counts a trap's message as spam, as its
verdict is, whatever it scored: clean-looking mail to a trap made its
SPF-verified sender domain's reputation lean ham.
"""
import re
import smtplib
import time

from httpc import admin_server
from mailpeers import DnsServer


def msg(subject, body):
    return ("From: Deals <deals@remote.test>\r\nTo: trap@example.test\r\nSubject: %s\r\n"
            "Date: Sun, 22 Nov 2026 19:00:00 +0000\r\nMessage-ID: <%d@remote.test>\r\n\r\n%s\r\n"
            % (subject, time.time_ns(), body)).encode()


def send(s, data, source="127.0.0.1"):
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30, source_address=(source, 0)) as c:
        c.ehlo("client.example.org")
        assert c.mail("deals@remote.test")[0] == 250
        assert c.rcpt("trap@example.test")[0] == 250
        try:
            return c.data(data)[0]
        except smtplib.SMTPDataError as e:
            return e.smtp_code


def learned(s):
    return re.findall(r"event=spam_learn kind=spam model=global reason=trap( what=known)?",
                      s.log_text())


def wait_learned(s, n):
    deadline = time.time() + 10
    while time.time() < deadline and len(learned(s)) < n:
        time.sleep(0.02)
    return learned(s)


def global_spam(api):
    st, _, cfg = api.call("GET", "/spam")
    assert st == 200, cfg
    return cfg["classifier"]["spam"]


def test_spam_trap_learns_once():
    dns = s = None
    try:
        dns = DnsServer({"remote.test": {"TXT": ["v=spf1 ip4:127.0.0.0/8 -all"]},
                         "_dmarc.*": {"NXDOMAIN": True}})
        s, api = admin_server(domains=("example.test",),
                              accounts=[("admin@example.test", "admin-pw-1-Vq8r")],
                              env={"TERN_DNS_SERVERS": dns.servers})
        s.cli("alias", "add", "trap@example.test", "admin@example.test")
        st, _, cfg = api.call("PUT", "/spam", {"traps": ["trap@example.test"], "dnsbl": "",
                                                "uribl": ""})
        assert st == 200, cfg

        # One campaign's text three times (new Message-IDs), then another.
        offer = "Cheap watches for you, the best offer of the week, order today."
        for _ in range(3):
            assert send(s, msg("watches", offer)) == 250
        assert send(s, msg("pills", "Pills at half the price, no prescription.")) == 250
        got = wait_learned(s, 4)
        assert got == ["", " what=known", " what=known", ""], got
        deadline = time.time() + 10
        while time.time() < deadline and global_spam(api) != 2:
            time.sleep(0.05)
        assert global_spam(api) == 2, global_spam(api)

        # Greylisted at first (451), accepted at the retry: learned once.
        st, _, cfg = api.call("PUT", "/spam", {"greylist": True, "greylist_delay": 2})
        assert st == 200 and cfg["greylist"], cfg
        loan = msg("loan", "A loan approved in minutes, whatever your credit.")
        assert send(s, loan, "127.0.0.3") == 451
        time.sleep(2.5)
        assert send(s, loan, "127.0.0.3") == 250
        got = wait_learned(s, 6)
        assert got[4:] == ["", " what=known"], got
        deadline = time.time() + 10
        while time.time() < deadline and global_spam(api) != 3:
            time.sleep(0.05)
        assert global_spam(api) == 3, global_spam(api)
    finally:
        if s:
            s.cleanup()
        if dns:
            dns.stop()


def test_spam_trap_counts_as_spam_for_reputation():
    dns = s = None
    try:
        dns = DnsServer({"remote.test": {"TXT": ["v=spf1 ip4:127.0.0.0/8 -all"]},
                         "_dmarc.*": {"NXDOMAIN": True}})
        s, api = admin_server(domains=("example.test",),
                              accounts=[("admin@example.test", "admin-pw-1-Vq8r"),
                                        ("bob@example.test", "bob-pw-1-Vq8r")],
                              env={"TERN_DNS_SERVERS": dns.servers})
        s.cli("alias", "add", "trap@example.test", "admin@example.test")
        st, _, cfg = api.call("PUT", "/spam", {"traps": ["trap@example.test"], "dnsbl": "",
                                                "uribl": "", "reputation": True})
        assert st == 200 and cfg["reputation"], cfg
        # Five plain messages from remote.test (SPF pass) to the trap.
        for i in range(5):
            assert send(s, msg("note %d" % i, "Just a short note number %d." % i)) == 250
        # remote.test's next message to bob carries a spammy reputation.
        data = msg("hello bob", "A short note for bob.").replace(
            b"To: trap@example.test", b"To: bob@example.test")
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.ehlo("client.example.org")
            c.sendmail("deals@remote.test", ["bob@example.test"], data)
        # The decision is recorded before the 250 (smtp_spam.c note()).
        st, _, rec = api.call("GET", "/spam/recent")
        d = rec["decisions"][0]
        assert d["rcpt"] == "bob@example.test", d
        w = [float(r.split("=")[1]) for r in d["rules"] if r.startswith("DOMAIN_REPUTATION=")]
        assert w and w[0] > 0, d
    finally:
        if s:
            s.cleanup()
        if dns:
            dns.stop()
