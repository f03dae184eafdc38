"""Port 25's verdicts on mail made by other servers' software (issue 29):
one tern, one loopback DNS server, OpenDKIM and Postfix.

- OpenDKIM's signing daemon (Debian's opendkim, a private config and key,
  loopback socket) signs a message rsa-sha256 as a milter, driven by
  miltertest (a Lua script playing the MTA); delivered straight to port
  25 from the SPF-authorised address it is stored with dkim=pass,
  spf=pass and dmarc=pass. (opendkim-testmsg signs rsa-sha1 only, which
  RFC 8301 fails: test_inbound_auth shows that case.)
- The same signed message through a private Postfix relaying to port 25
  from another loopback address (a forwarding hop): SPF of the original
  sender fails there, DKIM survives Postfix's changes (its Received
  field) and DMARC passes on DKIM alone, so p=reject does not refuse it.
"""
import json
import os
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time

from harness import Server
from mailpeers import DnsServer, PostfixPeer, free_port_on, unique_ips
from test_inbound_auth import HOST, field, last, message, send, txt_value, zone_txt

ODK_CONF = """Syslog no
Mode s
Domain example.org
Selector odk
KeyFile {dir}/odk.private
SignatureAlgorithm rsa-sha256
Canonicalization relaxed/simple
Socket inet:{port}@127.0.0.1
PidFile {dir}/opendkim.pid
RequireSafeKeys false
"""


def lua(s):
    # JSON's string escapes (\\ \" \r \n \t) read the same in Lua; the
    # message is ASCII.
    return json.dumps(s)


def milter_sign(tmp, port, mail_from, rcpt, msg):
    """msg with the DKIM-Signature field OpenDKIM asked for at end of
    message, by miltertest speaking the milter protocol to the daemon."""
    head, body = msg.decode().split("\r\n\r\n", 1)
    lines = ['local conn = mt.connect("inet:%d@127.0.0.1", 120, 0.25)' % port,
             'assert(conn ~= nil, "no connection to opendkim")',
             'assert(mt.conninfo(conn, "localhost", "127.0.0.1") == nil)',
             'assert(mt.mailfrom(conn, %s) == nil)' % lua(mail_from),
             'assert(mt.rcptto(conn, %s) == nil)' % lua(rcpt)]
    for h in head.split("\r\n"):
        k, _, v = h.partition(":")
        lines.append('assert(mt.header(conn, %s, %s) == nil)' % (lua(k), lua(v.strip())))
    lines += ['assert(mt.eoh(conn) == nil)',
              'assert(mt.bodystring(conn, %s) == nil)' % lua(body),
              'assert(mt.eom(conn) == nil)',
              'print(mt.getheader(conn, "DKIM-Signature", 0))',
              'mt.disconnect(conn)']
    script = os.path.join(tmp, "sign.lua")
    with open(script, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = subprocess.run(["miltertest", "-s", script], capture_output=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    value = r.stdout.decode().rstrip("\n").replace("\r\n", "\n").replace("\n", "\r\n")
    assert "a=rsa-sha256" in value and "d=example.org" in value, (value, r.stderr)
    return ("DKIM-Signature:" + value + "\r\n").encode() + msg


def test_opendkim_and_postfix_hop():
    tmp = tempfile.mkdtemp(prefix="tern-hops-")
    os.chmod(tmp, 0o755)
    dns = s = odk = pf = None
    try:
        r = subprocess.run(["opendkim-genkey", "-b", "2048", "-s", "odk", "-d", "example.org", "-D", tmp],
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        odk_port = free_port_on(["127.0.0.1"])
        with open(os.path.join(tmp, "opendkim.conf"), "w") as f:
            f.write(ODK_CONF.format(dir=tmp, port=odk_port))
        odk = subprocess.Popen(["/usr/sbin/opendkim", "-f", "-x", os.path.join(tmp, "opendkim.conf")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

        dns = DnsServer({
            "example.org": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]},
            "_dmarc.example.org": {"TXT": ["v=DMARC1; p=reject"]},
            "odk._domainkey.example.org": {"TXT": [zone_txt(txt_value(os.path.join(tmp, "odk.txt")))]},
            "1.0.0.127.in-addr.arpa": {"PTR": ["client.example.org."]},
            "client.example.org": {"A": ["127.0.0.1"]},
        })
        s = Server(accounts=[("bob@example.test", "bob-pw-1")],
                   env={"TERN_DNS_SERVERS": dns.servers, "TERN_HOSTNAME": HOST})
        s.__enter__()

        # Straight from the signer's address: everything passes.
        msg = milter_sign(tmp, odk_port, "ann@example.org", "bob@example.test",
                          message("Ann <ann@example.org>", "signed by the opendkim milter"))
        code, text = send(s, "ann@example.org", msg)
        assert code == 250, (code, text)
        a = field(last(s, "bob@example.test"), "Authentication-Results")
        assert len(a) == 1 and a[0].startswith(HOST + ";"), a
        assert "dkim=pass header.d=example.org header.s=odk" in a[0], a
        assert "spf=pass smtp.mailfrom=ann@example.org" in a[0], a
        assert "dmarc=pass header.from=example.org" in a[0], a

        # Through Postfix relaying from another address: SPF fails, the
        # signature holds, DMARC passes on DKIM.
        ips = unique_ips(2)
        pf = PostfixPeer(ips[0], free_port_on([ips[0]]), "relay.test")
        with open(os.path.join(pf.conf, "main.cf"), "a") as f:
            f.write("relayhost = [127.0.0.1]:%d\nsmtp_bind_address = %s\n" % (s.smtp_port, ips[1]))
        pf.start()
        msg = milter_sign(tmp, odk_port, "ann@example.org", "bob@example.test",
                          message("Ann <ann@example.org>", "forwarded by postfix"))
        c = smtplib.SMTP(ips[0], pf.port, timeout=30)
        try:
            c.sendmail("ann@example.org", ["bob@example.test"], msg)
        finally:
            c.quit()
        deadline = time.time() + 60
        while time.time() < deadline and not any("forwarded by postfix" in m[1]
                                                 for m in s.messages("bob@example.test")):
            time.sleep(0.2)
        raw = last(s, "bob@example.test")
        assert b"forwarded by postfix" in raw, (raw[:400], pf.log_text()[-2000:])
        assert b"by postfix.relay.test" in raw, raw[:800]
        a = field(raw, "Authentication-Results")
        assert len(a) == 1, a
        assert "spf=fail smtp.mailfrom=ann@example.org" in a[0], a
        assert "dkim=pass header.d=example.org header.s=odk" in a[0], a
        assert "dmarc=pass header.from=example.org" in a[0], a
    finally:
        if pf:
            pf.stop()
        if s:
            s.__exit__(None, None, None)
        if dns:
            dns.stop()
        if odk:
            odk.send_signal(signal.SIGTERM)
            odk.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
