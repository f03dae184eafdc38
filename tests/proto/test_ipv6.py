"""IPv6 end to end (issue: IPv6 audit): every listener on `[::1]:port`
(the README's `[addr]:port` form) takes real clients over ::1; port 25
over ::1 takes `EHLO [IPv6:::1]`, knows `user@[IPv6:::1]` as its own
literal and writes `[IPv6:::1]` in its Received field; an IPv4 client of
a dual-stack socket (one bound to ::ffff:127.0.0.1, which takes IPv4
connections to 127.0.0.1 as mapped addresses) is the IPv4 address it
is, in the log and the trace; HTTP answers `Host: [::1]:port`.
Connections go to ::1 and 127.0.0.1 only."""
import http.client
import imaplib
import poplib
import re
import smtplib
import socket
import time

import dovecot_peer
from harness import Raw, Server, free_port, message
from httpc import Api, admin_server, tls_ctx
from mailpeers import DnsServer, Receiver
from test_queue import World

BOB, BOB_PW = "bob@example.test", "bob-pw-1"


def v6_server(env=None, **kw):
    """A server whose listeners are all on [::1]."""
    ports = {k: free_port(("::1",)) for k in ("SMTP", "SUBMISSION", "SUBMISSIONS", "IMAP",
                                               "IMAPS", "POP3", "POP3S", "SIEVE", "HTTP",
                                               "HTTPS")}
    e = {"TERN_LISTEN_" + k: "[::1]:%d" % p for k, p in ports.items()}
    e.update(env or {})
    s = Server(accounts=[(BOB, BOB_PW)], env=e, **kw)
    s.v6 = ports
    return s


def test_every_listener_on_v6_loopback():
    with v6_server() as s:
        p = s.v6
        r = Raw(p["SMTP"], host="::1")
        assert r.greeting[0] == 220, r.greeting
        code, lines = r.cmd("EHLO [IPv6:::1]")
        assert code == 250, lines
        r.close()
        sub = smtplib.SMTP("::1", p["SUBMISSION"], timeout=10)
        sub.starttls(context=tls_ctx())
        sub.ehlo()
        sub.login(BOB, BOB_PW)
        sub.quit()
        subs = smtplib.SMTP_SSL("::1", p["SUBMISSIONS"], timeout=10, context=tls_ctx())
        subs.login(BOB, BOB_PW)
        subs.quit()
        im = imaplib.IMAP4("::1", p["IMAP"])
        im.starttls(ssl_context=tls_ctx())
        im.login(BOB, BOB_PW)
        im.logout()
        ims = imaplib.IMAP4_SSL("::1", p["IMAPS"], ssl_context=tls_ctx())
        ims.login(BOB, BOB_PW)
        ims.logout()
        po = poplib.POP3("::1", p["POP3"], timeout=10)
        po.stls(context=tls_ctx())
        po.user(BOB)
        po.pass_(BOB_PW)
        po.quit()
        pos = poplib.POP3_SSL("::1", p["POP3S"], timeout=10, context=tls_ctx())
        pos.user(BOB)
        pos.pass_(BOB_PW)
        pos.quit()
        sv = socket.create_connection(("::1", p["SIEVE"]), timeout=10)
        greet = b""
        while b"OK" not in greet:
            chunk = sv.recv(4096)
            assert chunk, greet
            greet += chunk
        sv.close()
        for port, tls in ((p["HTTP"], False), (p["HTTPS"], True)):
            c = socket.create_connection(("::1", port), timeout=10)
            if tls:
                c = tls_ctx().wrap_socket(c)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: [::1]:%d\r\nConnection: close\r\n\r\n"
                      % port)
            got = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                got += chunk
            c.close()
            status = got.split(b"\r\n", 1)[0]
            # Plain HTTP redirects to HTTPS except its own paths (health
            # among them); either way the request was understood.
            assert status.split()[1] in (b"200", b"301", b"308"), got[:300]
        assert s.wait_log("peer=::1 "), s.log_text()[-3000:]
        assert "peer=::ffff:" not in s.log_text()


def test_smtp_literals_and_trace_over_v6():
    with v6_server(env={"TERN_DOMAIN": "example.test"}) as s:
        r = Raw(s.v6["SMTP"], host="::1")
        # EHLO takes any argument, as Postfix does (smtp_parse.c); its
        # literal is checked where it matters: in a path.
        code, lines = r.cmd("EHLO [IPv6:0:0::1]")
        assert code == 250, lines
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        for bad in ("[IPv6:1:::2]", "[IPv6:1:2:3:4:5:6:7::]", "[IPv6:::ffff:1.2.3]", "[::1]"):
            code, lines = r.cmd("RCPT TO:<bob@%s>" % bad)
            assert code == 501, (bad, lines)
        r.cmd("RSET")
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        # Our own address as a literal (RFC 1123 §5.2.17), in any of its spellings.
        for rcpt, want in (("<bob@[IPv6:::1]>", 250), ("<postmaster@[IPv6:0::0:1]>", 250),
                           ("<bob@[IPv6:::2]>", 554), ("<bob@[127.0.0.1]>", 554)):
            code, lines = r.cmd("RCPT TO:" + rcpt)
            assert code == want, (rcpt, lines)
        assert r.cmd("DATA")[0] == 354
        code, lines = r.cmd("Subject: over v6\r\n\r\nx\r\n.")
        assert code == 250, lines
        r.close()
        got = s.messages(BOB)
        assert len(got) == 1, got  # postmaster is bob too (the oldest account)
        raw = s.raw(BOB, got[0][0]).decode()
        assert "Received: from [IPv6:0:0::1] ([IPv6:::1])" in raw, raw[:600]


def test_mapped_client_is_ipv4():
    """A dual-stack socket sees an IPv4 client as ::ffff:a.b.c.d; every
    use of the address (log, limits, trace) is the IPv4 address."""
    port = free_port(("127.0.0.1", "::1"))
    with Server(accounts=[(BOB, BOB_PW)],
                env={"TERN_LISTEN_SMTP": "[::ffff:127.0.0.1]:%d" % port,
                     "TERN_SMTP_MAX_CONNECTIONS_PER_IP": "1"}) as s:
        r = Raw(port, host="127.0.0.1")
        assert r.greeting[0] == 220
        code, lines = r.cmd("EHLO client.test")
        assert code == 250 and lines[0].endswith("[127.0.0.1]"), lines
        # The per-client limit counts 127.0.0.1 (one connection).
        r2 = Raw(port, host="127.0.0.1")
        assert r2.greeting[0] == 421, r2.greeting
        r2.close()
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        assert r.cmd("RCPT TO:<%s>" % BOB)[0] == 250
        assert r.cmd("DATA")[0] == 354
        assert r.cmd("Subject: mapped\r\n\r\nx\r\n.")[0] == 250
        r.close()
        got = s.messages(BOB)
        raw = s.raw(BOB, got[0][0]).decode()
        assert "Received: from client.test ([127.0.0.1])" in raw, raw[:600]
        assert s.wait_log("peer=127.0.0.1 ")
        assert "::ffff:" not in s.log_text(), [l for l in s.log_text().splitlines()
                                               if "::ffff:" in l]


def receiver_at(w, ip, port=None, **kw):
    """A receiver on ip at the world's MX port (free_port reserved that
    port number for this run, ::1's too) or at port."""
    r = Receiver(ip, port or w.port, **kw)
    w.receivers.append(r)
    return r


def test_outbound_to_aaaa_only_mx():
    """An exchanger with only an AAAA record gets the mail over IPv6."""
    def records(ips):
        return {"remote.test": {"MX": [[10, "mx6.remote.test"]]},
                "mx6.remote.test": {"AAAA": ["::1"]}}
    with World(records, nips=1) as w:
        r = receiver_at(w, "::1")
        w.send(["carol@remote.test"], subject="to v6")
        msgs = r.wait_messages(1)
        assert len(msgs) == 1 and msgs[0]["peer"] == "::1", msgs
        assert w.wait_queue_empty()


def attempts(w):
    """The addresses the queue tried and failed, in order, from the log's
    event=attempt_failed lines (why="4.4.1 HOST[ADDR]: ...")."""
    return re.findall(r"event=attempt_failed .*?why=\"?\S+ [^\[ ]+\[([^\]]+)\]",
                      w.srv.log_text())


def test_outbound_both_families_falls_back():
    """An exchanger with A and AAAA is tried IPv4 first, then IPv6 (dns.c
    host_addrs): when one family refuses the connection, the other gets
    the mail before any other exchanger is tried."""
    for listen in ("::1", "v4"):
        def records(ips):
            return {"remote.test": {"MX": [[10, "mx.remote.test"]]},
                    "mx.remote.test": {"A": [ips[0]], "AAAA": ["::1"]}}
        with World(records, nips=1) as w:
            r = receiver_at(w, w.ips[0] if listen == "v4" else "::1")
            w.send(["carol@remote.test"], subject="fallback")
            msgs = r.wait_messages(1)
            assert len(msgs) == 1, (listen, w.srv.log_text()[-3000:])
            assert w.wait_queue_empty()
            # IPv4 first: only the IPv6 listener's case falls back, from IPv4.
            want = [w.ips[0]] if listen == "::1" else []
            assert attempts(w) == want, (listen, w.srv.log_text()[-4000:])


def test_outbound_families_before_next_mx():
    """RFC 5321 §5.1 with both families: every address of the better
    exchanger (IPv4, then IPv6, then the next IPv4: the families
    alternate) is tried before the less preferred exchanger's, whose
    IPv4 address then takes the mail."""
    def records(ips):
        return {"remote.test": {"MX": [[20, "mx2.remote.test"], [10, "mx1.remote.test"]]},
                "mx1.remote.test": {"A": [ips[0], ips[1]], "AAAA": ["::1"]},
                "mx2.remote.test": {"A": [ips[2]], "AAAA": ["::1"]}}
    with World(records, nips=3) as w:
        r = w.receiver(2)
        w.send(["carol@remote.test"], subject="in order")
        msgs = r.wait_messages(1)
        assert len(msgs) == 1, w.srv.log_text()[-3000:]
        assert w.wait_queue_empty()
        # Two A records and one AAAA: v4, v6, then the other v4.
        assert attempts(w) == [w.ips[0], "::1", w.ips[1]], w.srv.log_text()[-4000:]


def test_outbound_ip_strategy():
    """TERN_QUEUE_IP_STRATEGY: ipv6_then_ipv4 tries the exchanger's IPv6
    address first (refused there, IPv4 takes the mail); ipv6_only never
    tries its IPv4 address, ipv4_only never its IPv6 one (nothing listens
    on the family it keeps to: the mail waits, every attempt on that
    family); an exchanger with no address of the family kept to fails
    the message, saying which family it lacked."""
    def records(ips):
        return {"remote.test": {"MX": [[10, "mx.remote.test"]]},
                "mx.remote.test": {"A": [ips[0]], "AAAA": ["::1"]},
                "v6only.test": {"MX": [[10, "mx6.v6only.test"]]},
                "mx6.v6only.test": {"AAAA": ["::1"]}}
    with World(records, nips=1, env={"TERN_QUEUE_IP_STRATEGY": "ipv6_then_ipv4"}) as w:
        assert w.srv.wait_log("ip_strategy=ipv6_then_ipv4")
        r = receiver_at(w, w.ips[0])
        w.send(["carol@remote.test"], subject="v6 first")
        assert len(r.wait_messages(1)) == 1, w.srv.log_text()[-3000:]
        assert w.wait_queue_empty()
        assert attempts(w) == ["::1"], w.srv.log_text()[-4000:]
    for strategy, listen, other in (("ipv6_only", "v4", "::1"), ("ipv4_only", "::1", None)):
        with World(records, nips=1, env={"TERN_QUEUE_IP_STRATEGY": strategy}) as w:
            other = other or w.ips[0]
            r = receiver_at(w, w.ips[0] if listen == "v4" else "::1")
            w.send(["carol@remote.test"], subject=strategy)
            deadline = time.time() + 20
            while len(attempts(w)) < 2 and time.time() < deadline:
                time.sleep(0.2)
            tried = attempts(w)
            assert len(tried) >= 2 and set(tried) == {other}, (strategy, tried)
            assert r.messages == [], strategy
            assert "carol@remote.test" in w.queue_list()
    with World(records, nips=1, env={"TERN_QUEUE_IP_STRATEGY": "ipv4_only"}) as w:
        receiver_at(w, "::1")
        w.send(["dave@v6only.test"], subject="no v4")
        assert w.wait_queue_empty(), w.queue_list()
        assert w.srv.wait_log("no IPv4 address for: mx6.v6only.test"), w.srv.log_text()[-3000:]
        assert attempts(w) == []


def test_migrate_from_ipv6_literal():
    """`tern migrate --from imap://USER@[v6]:PORT` (RFC 3986's IP-literal,
    the only way to write an IPv6 host in a URL) reaches the server at
    that address, with or without the port."""
    if not dovecot_peer.available():
        return "skip"
    with dovecot_peer.DovecotPeer([("alice", "alice-pw")], listen="::1") as dc, \
            Server(accounts=[(BOB, BOB_PW)]) as s:
        m = imaplib.IMAP4("::1", dc.port)
        m.login("alice", "alice-pw")
        typ, data = m.append("INBOX", None, None, message("from v6").encode())
        assert typ == "OK", data
        m.logout()
        r = s.cli("migrate", BOB, "--from", "imap://alice@[::1]:%d" % dc.port,
                  input="alice-pw\n", check=False)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert b": 1 imported" in r.stdout, r.stdout
        assert "from v6" in s.messages(BOB)[0][1]
        # No port: 143, which nothing on ::1 here listens on (refused, not
        # a host name "[:" or a port "1]").
        r = s.cli("migrate", BOB, "--from", "imap://alice@[::1]", input="alice-pw\n",
                  check=False)
        assert r.returncode == 1 and b"::1" in r.stderr and b"143" in r.stderr, r.stderr
        assert b"resolve" not in r.stderr, r.stderr
        for bad in ("imap://alice@[::1", "imap://alice@[::1]x", "imap://alice@[nothost]:143",
                    "imap://alice@::1:143"):
            r = s.cli("migrate", BOB, "--from", bad, input="alice-pw\n", check=False)
            assert r.returncode == 2 and b"--from" in r.stderr, (bad, r.returncode, r.stderr)


class V6Api(Api):
    """The REST API over ::1 (Api's connections go to 127.0.0.1)."""

    def conn(self):
        return http.client.HTTPSConnection("::1", self.s.v6["HTTPS"], timeout=30,
                                           context=tls_ctx())


def test_forwarded_ipv6_clients():
    """Behind a proxy on ::1, the client its X-Forwarded-For names is
    logged as the address it is: an IPv4-mapped one (a proxy on a
    dual-stack socket writes those) as IPv4, which is what fail2ban can
    ban; any IPv6 spelling in its one canonical text."""
    with v6_server(env={"TERN_TRUSTED_PROXIES": "::1/128"}) as s:
        api = V6Api(s)
        # The failures are counted per IPv4 address and per IPv6 /64:
        # 2001:db8::78 is the second of its /64.
        for xff, want, n in (("::ffff:203.0.113.50", "203.0.113.50", 1),
                             ("[::FFFF:203.0.113.51]:4711", "203.0.113.51", 1),
                             ("2001:DB8:0:0::0:77", "2001:db8::77", 1),
                             ("2001:db8::78, ::1", "2001:db8::78", 2)):
            st, _, _ = api.call("POST", "/session", {"password": "wrong-password"},
                                headers={"X-Forwarded-For": xff})
            assert st == 401, st
            assert s.wait_log("module=http event=auth_failed what=login failures=%d ip=%s\n"
                              % (n, want)), (xff, s.log_text()[-2000:])
        st, _, _ = api.call("POST", "/session", {"password": "wrong-password"},
                            headers={"Forwarded": 'for="[::ffff:198.51.100.9]"'})
        assert s.wait_log("module=http event=auth_failed what=login failures=1 "
                          "ip=198.51.100.9\n"), s.log_text()[-2000:]
        assert "ip=::ffff:" not in s.log_text()



def test_port25_checks_over_ipv6_dns():
    """Port 25 from ::1, its resolver on ::1 too ([::1]:port): iprev
    asks the ip6.arpa nibble name and confirms with AAAA, SPF matches
    `a//128` and expands %{i} (dotted nibbles) and %{v} (ip6) for an
    IPv6 client (RFC 7208 §5.3, §7.3)."""
    nib = ".".join("0" * 31 + "1")
    zone = {
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa":
            {"PTR": ["mx.v6.test."]},
        "mx.v6.test": {"AAAA": ["::1"]},
        "v6.test": {"TXT": ["v=spf1 a:mx.v6.test//128 -all"]},
        "m.v6.test": {"TXT": ["v=spf1 exists:%{i}.%{v}.x.v6.test -all"]},
        nib + ".ip6.x.v6.test": {"A": ["127.0.0.2"]},
        # /32 is the IPv4 prefix (§5.6 dual-cidr-length): ::1 still matches.
        "v4len.v6.test": {"TXT": ["v=spf1 a:mx.v6.test/32 -all"]},
        "near.v6.test": {"TXT": ["v=spf1 a:n.v6.test//64 -all"], "AAAA": []},
        "n.v6.test": {"AAAA": ["::2"]},
        "no.v6.test": {"TXT": ["v=spf1 a:n.v6.test//127 ip6:2001:db8::/32 -all"]},
    }
    dns = DnsServer(zone, host="::1")
    try:
        with v6_server(env={"TERN_DNS_SERVERS": dns.servers}) as s:
            r = Raw(s.v6["SMTP"], host="::1")
            assert r.cmd("EHLO mx.v6.test")[0] == 250
            senders = (("a@v6.test", "pass"), ("b@m.v6.test", "pass"), ("c@v4len.v6.test", "pass"),
                       ("d@near.v6.test", "pass"), ("e@no.v6.test", "fail"))
            for sender, _ in senders:
                assert r.cmd("MAIL FROM:<%s>" % sender)[0] == 250
                assert r.cmd("RCPT TO:<%s>" % BOB)[0] == 250
                assert r.cmd("DATA")[0] == 354
                code, lines = r.cmd("From: %s\r\nSubject: %s\r\n\r\nx\r\n." % (sender, sender))
                assert code in (250, 550), lines
            r.close()
            for sender, spf in senders:
                assert s.wait_log("event=spf identity=mailfrom result=%s domain=%s"
                                  % (spf, sender.split("@")[1])), (sender, s.log_text()[-3000:])
            assert s.wait_log("iprev=pass"), s.log_text()[-3000:]
    finally:
        dns.stop()


def proxied_send(port, client, subject):
    """A message to bob from client, presented by a PROXY header from
    ::1 to port 25 on [::1]:port: the reply to its RCPT when not 250,
    else to the end of its data."""
    r = Raw(port, host="::1", greet=False)
    try:
        r.send("PROXY TCP6 %s ::1 40000 25\r\n" % client)
        assert r.reply()[0] == 220
        assert r.cmd("EHLO client.example.org")[0] == 250
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        code, lines = r.cmd("RCPT TO:<%s>" % BOB)
        if code != 250:
            return code, lines
        assert r.cmd("DATA")[0] == 354
        return r.cmd("From: a@remote.test\r\nSubject: %s\r\n\r\nx\r\n." % subject)
    finally:
        r.close()


def test_spam_lists_ipv6_prefix():
    """A block list entry that is an IPv6 prefix refuses every client in
    it and none outside."""
    port = free_port(("::1",))
    s, api = admin_server(accounts=[(BOB, BOB_PW)],
                          env={"TERN_LISTEN_SMTP": "[::1]:%d" % port,
                               "TERN_TRUSTED_PROXIES": "::1"})
    with s:
        st, _, body = api.call("PUT", "/spam/lists/%s" % BOB, {"block": ["2001:db8:1::/48"]})
        assert st == 200 and body["block"] == ["2001:db8:1::/48"], body
        code, lines = proxied_send(port, "2001:db8:1:5::7", "inside")
        assert code == 550 and "blocked" in lines[0], lines
        code, lines = proxied_send(port, "2001:db8:2::7", "outside")
        assert code == 250, lines


def test_greylist_counts_the_64():
    """Greylisting keys a triplet on the client's /64 (one IPv6 host may
    use any address of its /64): the retry from another address of the
    same /64 passes; one from the next /64 is a new triplet. The clients
    are presented by a PROXY header from ::1, a trusted proxy."""
    port = free_port(("::1",))
    s, api = admin_server(accounts=[(BOB, BOB_PW)],
                          env={"TERN_LISTEN_SMTP": "[::1]:%d" % port,
                               "TERN_TRUSTED_PROXIES": "::1"})
    with s:
        st, _, cfg = api.call("PUT", "/spam", {"greylist": True, "greylist_delay": 4})
        assert st == 200 and cfg["greylist"], cfg

        def send(client, subject):
            return proxied_send(port, client, subject)

        code, lines = send("2001:db8:1:2::5", "first")
        assert code == 451 and "4.7.1" in lines[0], lines
        time.sleep(4.2)  # the delay passes (the retry is not before it)
        code, lines = send("2001:db8:1:2:ffff::9", "retry")
        assert code == 250, lines
        code, lines = send("2001:db8:1:3::5", "next /64")
        assert code == 451, lines


def metrics_status(port):
    c = http.client.HTTPSConnection("::1", port, timeout=30, context=tls_ctx())
    try:
        c.request("GET", "/metrics", headers={"Host": "[::1]:%d" % port})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def test_metrics_allow_list_ipv6():
    """TERN_METRICS_ALLOW's default (127.0.0.0/8,::1/128) lets ::1 read
    /metrics without a token; an IPv6 prefix elsewhere does not."""
    with v6_server() as s:
        assert metrics_status(s.v6["HTTPS"]) == 200
    with v6_server(env={"TERN_METRICS_ALLOW": "2001:db8::/32,127.0.0.0/8"}) as s:
        assert metrics_status(s.v6["HTTPS"]) in (401, 403)
    with v6_server(env={"TERN_METRICS_ALLOW": "::/127"}) as s:
        assert metrics_status(s.v6["HTTPS"]) == 200


def test_mapped_proxy_is_ipv4():
    """A trusted proxy reaching a dual-stack socket over IPv4 is its
    IPv4 address in the log lines about its PROXY header too."""
    port = free_port(("127.0.0.1", "::1"))
    with Server(env={"TERN_LISTEN_SMTP": "[::ffff:127.0.0.1]:%d" % port,
                     "TERN_TRUSTED_PROXIES": "127.0.0.1"}) as s:
        r = Raw(port, host="127.0.0.1", greet=False)
        r.send("PROXY TCP6 ::ffff:203.0.113.9 ::1 40000 25\r\n")
        assert r.reply()[0] == 220
        code, lines = r.cmd("EHLO client.test")
        assert code == 250 and lines[0].endswith("[203.0.113.9]"), lines
        r.close()
        g = Raw(port, host="127.0.0.1", greet=False)
        g.send("EHLO no-header.test\r\n")
        assert g.closed()
        assert s.wait_log("event=proxied listener=smtp proxy=127.0.0.1 client=203.0.113.9 ")
        assert s.wait_log("event=proxy_refused listener=smtp proxy=127.0.0.1 reason=bad_header")
        assert "::ffff:" not in s.log_text(), [l for l in s.log_text().splitlines()
                                               if "::ffff:" in l]


def test_relay_host_ipv6_literal():
    """TERN_RELAY_HOST=[::1]:port: all outbound mail goes to the relay
    over IPv6 (STARTTLS; its certificate unchecked here)."""
    port = free_port(("::1",))
    env = {"TERN_RELAY_HOST": "[::1]:%d" % port, "TERN_RELAY_TLS_VERIFY": "off"}
    with World({}, nips=1, env=env) as w:
        r = receiver_at(w, "::1", port=port, tls=True)
        w.send(["carol@remote.test"], subject="via v6 relay")
        msgs = r.wait_messages(1)
        assert len(msgs) == 1 and msgs[0]["tls"] and msgs[0]["peer"] == "::1", \
            w.srv.log_text()[-3000:]
        assert w.wait_queue_empty()


def test_outbound_to_ipv6_literal():
    """A recipient at an IPv6 address literal, in any spelling, goes to
    that address with no MX lookup (RFC 5321 §5.1)."""
    with World({}, nips=1) as w:
        r = receiver_at(w, "::1")
        w.send(["carol@[IPv6:::1]", "dave@[IPv6:0:0:0::0:1]"], subject="to a v6 literal")
        msgs = r.wait_messages(1)
        assert len(msgs) >= 1 and all(m["peer"] == "::1" for m in msgs), msgs
        got = sorted(x.lower() for m in msgs for x in m["rcpts"])
        if len(got) < 2:
            got = sorted(x.lower() for m in r.wait_messages(2) for x in m["rcpts"])
        assert got == ["carol@[ipv6:::1]", "dave@[ipv6:0:0:0::0:1]"], got
        assert w.wait_queue_empty()
