"""One effective host name (issue 31). With no TERN_HOSTNAME, the system's
name is used and, not being fully qualified, warned about in the log and
the API; once Settings stores a name it is used at once, without a
restart, by the SMTP greeting and EHLO, autoconfig, the Apple profile,
Message-IDs added to submitted mail and `tern domain dns`'s MX (which
printed the system's name even after a restart); the certificate keeps
the start-time name, and the API says a restart is needed for it. After
a restart the stored name stays. One server, restarted once."""
import plistlib
import smtplib
import ssl
import xml.etree.ElementTree as ET

from harness import Raw, Server
from httpc import Api, setup_code_from_log

NEW = "mail.new-name.test"
BOB = ("bob@example.test", "bob-password-1")


def check_name(s, a, name):
    r = Raw(s.smtp_port)
    assert name in r.greeting[1][0], r.greeting
    code, lines = r.cmd("EHLO client.test")
    assert code == 250 and lines[0].startswith("250-" + name), lines
    r.close()
    st, _, body = Api(s, https=False).raw(
        "GET", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=bob%40example.test")
    assert st == 200
    hosts = {x.find("hostname").text for x in ET.fromstring(body).iter() if x.tag.endswith("Server")}
    assert hosts == {name}, hosts
    st, _, body = a.call("GET", "/accounts/bob@example.test/mobileconfig")
    mail = plistlib.loads(body)["PayloadContent"][0]
    assert mail["IncomingMailServerHostName"] == name == mail["OutgoingMailServerHostName"], mail
    out = s.cli("domain", "dns", "example.test").stdout.decode()
    assert "MX" in out and "10 %s." % name in out, out
    # Submitted mail without a Message-ID gets one in the host's name.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = smtplib.SMTP_SSL("127.0.0.1", s.submissions_port, context=ctx, timeout=20)
    c.login(*BOB)
    c.sendmail(BOB[0], [BOB[0]], ("From: %s\r\nTo: %s\r\nSubject: id %s\r\n\r\nHi.\r\n"
                                  % (BOB[0], BOB[0], name)).encode())
    c.quit()
    ids = [mid for mid, line in s.messages(BOB[0]) if ("id " + name) in line]
    assert ids, s.messages(BOB[0])
    raw = s.raw(BOB[0], ids[-1]).decode()
    mids = [l for l in raw.splitlines() if l.lower().startswith("message-id:")]
    assert mids and mids[0].rstrip().endswith("@%s>" % name), mids


def test_hostname_live_everywhere():
    # IMAP on: a profile needs an incoming server (test_autoconfig).
    s = Server(http=True, submission=True, imap=True, accounts=[BOB], start=False)
    del s.env["TERN_HOSTNAME"]  # the system's name, as a container has
    s.env["TERN_DOMAIN"] = "example.test"
    s.start()
    with s:
        a = Api(s)
        a.setup_code = setup_code_from_log(s)
        assert a.call("POST", "/setup/admin", {"password": "admin-password-1-Vq8r"})[0] == 201
        a.setup_code = None
        st, _, d = a.call("GET", "/settings")
        system = d["hostname"]["value"]
        if "." not in system:
            assert "event=hostname_not_qualified hostname=%s" % system in s.log_text()
            assert d["hostname_status"]["fqdn"] is False, d
        # Names DNS and EHLO cannot carry are refused, not stored and
        # greeted with (an empty label, a '-' at a label's end, a label
        # over 63 octets: RFC 1035 §2.3.4, RFC 5321 §4.1.2).
        for bad in ("mail..new-name.test", "mail-.new-name.test", "a" * 64 + ".new-name.test"):
            st, _, d = a.call("PUT", "/settings", {"hostname": bad})
            assert st == 400 and d["code"] == "invalid_field", (bad, st, d)
        st, _, d = a.call("PUT", "/settings", {"hostname": NEW})
        assert st in (200, 204), d
        st, _, d = a.call("GET", "/settings")
        assert d["hostname"]["value"] == NEW and d["hostname_status"]["fqdn"] is True, d
        assert d["hostname_status"]["restart_required"] is True, d
        assert d["hostname_status"]["certificate_name"] == system, d
        check_name(s, a, NEW)  # no restart
        s.stop()
        s.start()
        a = Api(s)
        assert a.login("admin-password-1-Vq8r")[0] == 200
        check_name(s, a, NEW)
        st, _, d = a.call("GET", "/settings")
        assert d["hostname_status"]["restart_required"] is False, d
