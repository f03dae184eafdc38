"""Forwarding to outside addresses from the portal (issue 31): an account
sets /api/v1/me/forwarding (up to 4 outside addresses, keep a copy or
not); mail to it on port 25 then reaches a loopback receiver as the
alias forwarding sends it (issue 29's mechanism: an SRS0 envelope sender
in our domain, an ARC set), with or without the local copy; addresses at
our own domains, malformed ones and a fifth are refused; the admin sees
the same setting at /api/v1/accounts/{email}/forwarding; an empty list
turns it off. One tern, one DNS server and one receiver."""
import re
import smtplib

from httpc import ADMIN_PW, admin_server
from mailpeers import DnsServer, Receiver, free_port_on, unique_ips
from test_portal import Portal

USER = "pat@example.test"
PW = "portal-pw-1"


def send(s, subject, rcpt=USER):
    msg = ("From: Alice <alice@origin.test>\r\nTo: %s\r\nSubject: %s\r\n"
           "Message-ID: <%s@origin.test>\r\n\r\nHello.\r\n" % (rcpt, subject, subject)).encode()
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=20) as c:
        c.ehlo("mta.origin.test")
        c.sendmail("alice@origin.test", [rcpt], msg)


def local_subjects(s):
    return [line for _, line in s.messages(USER)]


def test_portal_forwarding():
    ips = unique_ips(1)
    port = free_port_on(ips)
    dns = DnsServer({"remote.test": {"MX": [[10, "mx.remote.test"]]},
                     "mx.remote.test": {"A": [ips[0]]}})
    remote = Receiver(ips[0], port)
    s = None
    try:
        s, admin = admin_server(accounts=[(USER, PW)], env={
            "TERN_DNS_SERVERS": dns.servers, "TERN_QUEUE_MX_PORT": str(port),
            "TERN_QUEUE_RETRY_SCHEDULE": "1", "TERN_QUEUE_TIMEOUT": "5"})
        p = Portal(s)
        assert p.login()[0] == 200
        st, body = p.call("GET", "/me/forwarding")
        assert st == 200 and body == {"addresses": [], "keep": True}, body

        # Refused: our own domain (an alias does that), a bad address, five.
        for bad in (["other@example.test"], ["not an address"],
                    ["a%d@remote.test" % i for i in range(5)]):
            st, body = p.call("PUT", "/me/forwarding", {"addresses": bad, "keep": True, "password": PW})
            assert st == 400 and body["field"] == "addresses", (bad, body)
        st, body = p.call("PUT", "/me/forwarding", {"addresses": "x@remote.test"})
        assert st == 400, body

        # On, keeping a copy: lowercased, each address once.
        st, body = p.call("PUT", "/me/forwarding",
                          {"addresses": ["Pat.Away@Remote.test", "pat.away@remote.test"],
                           "keep": True, "password": PW})
        assert st == 200 and body == {"addresses": ["pat.away@remote.test"], "keep": True}, body
        st, _, body = admin.call("GET", "/accounts/%s/forwarding" % USER)
        assert st == 200 and body == {"addresses": ["pat.away@remote.test"], "keep": True}, body
        send(s, "kept")
        got = remote.wait_messages(1)
        assert len(got) == 1 and got[0]["rcpts"] == ["pat.away@remote.test"], (got, s.log_text()[-3000:])
        # The alias forwarding's mechanism: SRS sender, ARC set on top.
        assert re.fullmatch(r"SRS0=[A-Za-z0-9_-]{6}=[A-Z2-7]{2}=origin\.test=alice@example\.test",
                            got[0]["from"]), got[0]["from"]
        assert got[0]["data"].startswith(b"ARC-Seal: i=1; "), got[0]["data"][:200]
        assert b"Subject: kept" in got[0]["data"]
        assert s.wait_log("event=forwarded")
        assert any("kept" in l for l in local_subjects(s)), local_subjects(s)

        # Without a copy: forwarded only (a +tag reaches the account too).
        st, _, body = admin.call("PUT", "/accounts/%s/forwarding" % USER,
                                 {"addresses": ["pat.away@remote.test"], "keep": False,
                                  "password": ADMIN_PW})
        assert st == 200 and body["keep"] is False, body
        send(s, "only", rcpt="pat+news@example.test")
        got = remote.wait_messages(2)
        assert len(got) == 2 and b"Subject: only" in got[1]["data"], got
        assert not any("only" in l for l in local_subjects(s)), local_subjects(s)

        # Off: mail stays here.
        st, body = p.call("PUT", "/me/forwarding", {"addresses": []})
        assert st == 200 and body == {"addresses": [], "keep": True}, body
        send(s, "home")
        assert any("home" in l for l in local_subjects(s)), local_subjects(s)
        assert len(remote.wait_messages(3, timeout=1)) == 2
        assert admin.call("GET", "/accounts/nobody@example.test/forwarding")[0] == 404
    finally:
        if s:
            s.cleanup()
        remote.stop()
        dns.stop()
