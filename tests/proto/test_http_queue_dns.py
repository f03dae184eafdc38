"""REST API parts that need peers: the outbound queue (a message submitted
with AUTH to a relay that refuses connections stays queued; list, retry
now, delete) and the live DNS check against a local authoritative DNS
server (dns_server.py) with records found, missing and different, and
checks waiting on a silent DNS server not holding the daemon's threads."""
import http.client
import smtplib
import socket
import threading
import time

from harness import free_port
from httpc import Api, admin_server, tls_ctx
from mailpeers import DnsServer

ALICE, ALICE_PW = "alice@example.test", "alice-password-17"


def test_queue_list_retry_delete():
    closed = free_port()  # nothing listens: every attempt is deferred
    s, a = admin_server(submission=True, accounts=[(ALICE, ALICE_PW)],
                        env={"TERN_RELAY_HOST": "127.0.0.1:%d" % closed,
                             "TERN_QUEUE_RETRY_SCHEDULE": "3600", "TERN_QUEUE_TIMEOUT": "2"})
    with s:
        assert a.call("GET", "/queue")[2] == {"messages": []}
        c = smtplib.SMTP("127.0.0.1", s.submission_port, timeout=20)
        c.starttls(context=tls_ctx())
        c.login(ALICE, ALICE_PW)
        c.sendmail(ALICE, ["carol@remote.test", "dave@remote.test"],
                   b"From: alice@example.test\r\nTo: carol@remote.test\r\nSubject: q\r\n\r\nhi\r\n",
                   mail_options=["MT-PRIORITY=3"])
        c.quit()
        deadline = time.time() + 20
        while time.time() < deadline:
            st, _, q = a.call("GET", "/queue")
            if q["messages"] and q["messages"][0]["attempts"] >= 1:
                break
            time.sleep(0.2)
        assert st == 200 and len(q["messages"]) == 1, q
        m = q["messages"][0]
        assert m["from"] == ALICE and sorted(m["to"]) == ["carol@remote.test", "dave@remote.test"], m
        assert m["size"] > 50 and m["attempts"] >= 1 and m["last_error"], m
        assert {r["state"] for r in m["recipients"]} == {"pending"}, m
        # The MT-PRIORITY it was submitted with (RFC 6710), as `tern queue list` shows it.
        assert m["priority"] == 3 and "(priority 3)" in s.cli("queue", "list").stdout.decode(), m
        st, _, page = a.call("GET", "/queue?limit=10")
        assert st == 200 and page["messages"][0]["priority"] == 3, page
        st, _, stats = a.call("GET", "/stats")
        assert stats["queue"] == {"size": 1, "available": True}, stats
        assert stats["hours"][-1]["sent"] == 1, stats
        # Retry now: due at once, the scheduler tries again.
        assert a.call("POST", "/queue/%d/retry" % m["id"])[0] == 204
        deadline = time.time() + 20
        while time.time() < deadline:
            m2 = a.call("GET", "/queue")[2]["messages"][0]
            if m2["attempts"] > m["attempts"]:
                break
            time.sleep(0.2)
        assert m2["attempts"] > m["attempts"], (m, m2)
        assert a.call("POST", "/queue/999999/retry")[0] == 404
        assert a.call("DELETE", "/queue/abc")[0] == 404
        assert a.call("DELETE", "/queue/%d" % m["id"])[0] == 204
        assert a.call("GET", "/queue")[2] == {"messages": []}
        assert a.call("DELETE", "/queue/%d" % m["id"])[0] == 404
        assert "queue is empty" in s.cli("queue", "list").stdout.decode()


def fill_queue(port, n, first=0, batch=200):
    """n messages to r<i>@remote.test (odd i: @other.test) in pipelined
    BDAT transactions on one submission session (run several at once:
    their commits are grouped): a long queue quickly."""
    c = smtplib.SMTP("127.0.0.1", port, timeout=60)
    c.starttls(context=tls_ctx())
    c.login(ALICE, ALICE_PW)
    for start in range(first, first + n, batch):
        k = min(batch, first + n - start)
        out = []
        for i in range(start, start + k):
            body = b"From: %s\r\nSubject: q%d\r\n\r\nx\r\n" % (ALICE.encode(), i)
            out.append(b"MAIL FROM:<%s>\r\nRCPT TO:<r%d@%s.test>\r\nBDAT %d LAST\r\n%s"
                       % (ALICE.encode(), i, b"other" if i % 2 else b"remote", len(body), body))
        c.sock.sendall(b"".join(out))
        for _ in range(3 * k):
            code, msg = c.getreply()
            assert code == 250, (code, msg)
    c.quit()


def test_queue_listed_page_by_page():
    """A long queue (a remote domain down) is listed in pages of at most
    `limit` entries, each once, in id order, with the queue's size and the
    next page's cursor; `domain=` keeps the entries with a recipient
    there; the call without paging parameters answers as before."""
    hang = socket.socket()  # listens, never accepts: deliveries wait
    hang.bind(("127.0.0.1", 0))
    hang.listen(1)
    s, a = admin_server(submission=True, accounts=[(ALICE, ALICE_PW)],
                        env={"TERN_RELAY_HOST": "127.0.0.1:%d" % hang.getsockname()[1],
                             "TERN_QUEUE_RETRY_SCHEDULE": "3600", "TERN_QUEUE_TIMEOUT": "60",
                             "TERN_SEND_RATE": "0"})
    n = 200  # the 20,000 of a real outage page alike (test_queue.c walks them)
    with s:
        st, _, q = a.call("GET", "/queue?limit=10")
        assert st == 200 and q == {"messages": [], "total": 0, "held": 0, "next": None}, q
        threads = [threading.Thread(target=fill_queue, args=(s.submission_port, n // 4, j * n // 4))
                   for j in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        def walk(query):
            seen, after, pages = [], None, 0
            while True:
                st, _, q = a.call("GET", "/queue?" + query + ("&after=" + after if after else ""))
                assert st == 200, q
                assert q["total"] == n and len(q["messages"]) <= 20, (q["total"], len(q["messages"]))
                seen += q["messages"]
                pages += 1
                after = q["next"]
                if after is None:
                    return seen, pages
                # A string, as /accounts' and every other listing's next.
                assert after == str(q["messages"][-1]["id"]), q
        seen, pages = walk("limit=20")
        ids = [m["id"] for m in seen]
        assert pages == n // 20 and ids == sorted(set(ids)) and len(ids) == n, (pages, len(ids))
        assert {m["to"][0] for m in seen} == {"r%d@%s.test" % (i, "other" if i % 2 else "remote")
                                              for i in range(n)}
        other, _ = walk("limit=20&domain=OTHER.test")
        assert sorted(m["id"] for m in other) == sorted(m["id"] for m in seen
                                                        if m["to"][0].endswith("@other.test"))
        assert a.call("GET", "/queue")[2]["messages"] == seen  # as before paging
        assert a.call("GET", "/stats")[2]["queue"] == {"size": n, "available": True}
        for bad in ("limit=0", "limit=1001", "limit=x", "after=-1", "domain=a@b"):
            st, _, p = a.call("GET", "/queue?" + bad)
            assert st == 400 and p["code"] == "invalid_field", (bad, st, p)
        # Closed before the server's stop: its 20 deliveries waiting in the
        # backlog for a greeting are reset and end, instead of holding the
        # stop's 6 s drain.
        hang.close()


def split_txt(value):
    # dns_server.py quotes a TXT value as one string: give it pieces of 255.
    parts = [value[i:i + 255] for i in range(0, len(value), 255)]
    return '" "'.join(parts)


def test_dns_check_found_missing_different():
    dns = DnsServer({})
    try:
        s, a = admin_server(env={"TERN_DNS_SERVERS": dns.servers,
                                 "TERN_LISTEN_IMAPS": "127.0.0.1:%d" % free_port()})
        with s:
            st, _, d = a.call("GET", "/domains/example.test/dns")
            want = {(r["type"], r["name"]): r["value"] for r in d["records"]}
            dkim = [(n, v) for (t, n), v in want.items() if "._domainkey." in n]
            rsa = [x for x in dkim if "k=rsa" in x[1]][0]
            imaps = want[("SRV", "_imaps._tcp.example.test.")]
            # The SPF record after 400 verification tokens: a 48 KiB answer,
            # truncated on UDP and asked again over TCP, kept whole.
            clutter = ["google-site-verification=%03d-%s" % (i, "x" * 80) for i in range(400)]
            dns.zone({
                "example.test": {"MX": [[20, "mx.example.test"]],            # found (priority ignored)
                                 "TXT": clutter + ["v=spf1 a mx ~all"]},     # different
                rsa[0]: {"TXT": [split_txt(rsa[1])]},                          # found, split in strings
                # different, and 900 octets: over 512, within EDNS0's 1232.
                "_dmarc.example.test": {"TXT": [split_txt("v=DMARC1; p=none; " + "x" * 880)]},
                "_imaps._tcp.example.test": {"SRV": [imaps]},                  # found
                "_submissions._tcp.example.test": {"SRV": ["0 1 9999 mx.example.test."]},  # different port
                "autoconfig.example.test": {"CNAME": ["mx.example.test."]},    # found
                "autodiscover.example.test": {"CNAME": ["elsewhere.test."]},   # different
                "_smtp._tls.example.test": {"TXT": [want[("TXT", "_smtp._tls.example.test.")]]},
            })
            st, _, d = a.call("GET", "/domains/example.test/dns/check")
            assert st == 200, d
            got = {(r["type"], r["name"]): r["check"] for r in d["records"]}

            def status(t, n):
                return got[(t, n)]["status"]
            assert status("MX", "example.test.") == "found", got
            assert status("TXT", "example.test.") == "different", got
            assert got[("TXT", "example.test.")]["found"] == ["v=spf1 a mx ~all"], got
            assert "example.test" in dns.tcp_names(), dns.tcp_names()
            # Queries offer EDNS0 (RFC 6891, 1232 octets): the 900-octet
            # answer came over UDP alone (it went to TCP before).
            assert "_dmarc.example.test" not in dns.tcp_names(), dns.tcp_names()
            assert status("TXT", rsa[0]) == "found", got[("TXT", rsa[0])]
            ed = [n for n, v in dkim if "k=ed25519" in v][0]
            assert status("TXT", ed) == "missing", got
            assert status("TXT", "_dmarc.example.test.") == "different"
            assert status("SRV", "_imaps._tcp.example.test.") == "found", got
            assert status("SRV", "_submissions._tcp.example.test.") == "different", got
            assert status("SRV", "_pop3._tcp.example.test.") == "missing"
            assert status("CNAME", "autoconfig.example.test.") == "found", got
            assert status("CNAME", "autodiscover.example.test.") == "different", got
            assert got[("CNAME", "autodiscover.example.test.")]["found"] == ["elsewhere.test."]
            assert want[("TXT", "_smtp._tls.example.test.")] == \
                "v=TLSRPTv1; rua=mailto:postmaster@example.test", want
            assert status("TXT", "_smtp._tls.example.test.") == "found", got
            # HTTPS is not on port 443 here: no MTA-STS records to check.
            assert ("TXT", "_mta-sts.example.test.") not in want, want

            # The user fixes a record and checks again: answers are asked
            # fresh, not taken from the resolver's cache. A name that fails
            # (SERVFAIL) is an error, not "missing".
            zone = {
                "example.test": {"MX": [[20, "mx.example.test"]], "TXT": ["v=spf1 a mx ~all"]},
                "autodiscover.example.test": {"CNAME": ["mx.example.test."]},
                "_dmarc.example.test": {"SERVFAIL": True},
            }
            dns.zone(zone)
            st, _, d = a.call("GET", "/domains/example.test/dns/check")
            assert st == 200, d
            got = {(r["type"], r["name"]): r["check"] for r in d["records"]}
            assert status("CNAME", "autodiscover.example.test.") == "found", got
            assert status("TXT", "_dmarc.example.test.") == "error", got
            assert status("SRV", "_imaps._tcp.example.test.") == "missing", got

            # A server that knows no EDNS (FORMERR to an OPT record, RFC
            # 6891 §7) is asked again without it: answers as before.
            zone["$edns_formerr"] = True
            zone["_dmarc.example.test"] = {"TXT": ["v=DMARC1; p=none"]}
            dns.zone(zone)
            st, _, d = a.call("GET", "/domains/example.test/dns/check")
            assert st == 200, d
            got = {(r["type"], r["name"]): r["check"] for r in d["records"]}
            assert status("MX", "example.test.") == "found", got
            assert status("CNAME", "autodiscover.example.test.") == "found", got
            assert status("TXT", "_dmarc.example.test.") == "different", got
            assert status("SRV", "_imaps._tcp.example.test.") == "missing", got
    finally:
        dns.stop()


def test_dns_check_holds_no_thread():
    """A DNS check waiting on a server that never answers (up to 8 s) has
    its request suspended, not one of the HTTPS daemon's 4 threads held:
    with eight checks waiting, another request is answered before any
    check ends; each check then ends with every record "error"."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    silent.settimeout(0.5)
    s, a = admin_server(env={"TERN_DNS_SERVERS": "127.0.0.1:%d" % silent.getsockname()[1]})
    try:
        with s:
            done = []

            def check():
                done.append(a.call("GET", "/domains/example.test/dns/check"))
            threads = [threading.Thread(target=check) for _ in range(8)]
            for t in threads:
                t.start()
            # Each check asks on a resolver channel of its own: eight
            # source ports seen means all eight are waiting.
            ports, deadline = set(), time.time() + 30
            while len(ports) < 8 and time.time() < deadline:
                try:
                    ports.add(silent.recvfrom(4096)[1][1])
                except socket.timeout:
                    pass
            assert len(ports) >= 8 and not done, (ports, len(done))
            st, _, d = a.call("GET", "/domains/example.test/dns")
            assert st == 200 and d["records"], (st, d)
            assert not done, "the other request waited for a DNS check"
            for t in threads:
                t.join(60)
            assert len(done) == 8, len(done)
            for st, _, d in done:
                assert st == 200, (st, d)
                assert {r["check"]["status"] for r in d["records"]} == {"error"}, d

            # Stopping while a check waits: the check ends at once and
            # its request is answered within the drain (it waited 8 s,
            # past the drain: the answer was cut and the HTTP daemon's
            # stop gave up on the check's thread), then tern exits cleanly.
            silent.setblocking(False)
            while True:  # what the first checks sent, unread
                try:
                    silent.recvfrom(4096)
                except BlockingIOError:
                    break
            silent.settimeout(30)
            done.clear()
            late = threading.Thread(target=lambda: _try(check))
            late.start()
            silent.recvfrom(4096)  # it is waiting
            assert s.stop() == 0, s.log_text()[-2000:]
            late.join(60)
            assert len(done) == 1 and done[0][0] == 200, done
            assert {r["check"]["status"] for r in done[0][2]["records"]} == {"error"}, done
            log = s.log_text()
            assert "event=drain_timeout" not in log and "event=stop_timeout" not in log, log[-3000:]
    finally:
        silent.close()


def _try(fn):
    try:
        fn()
    except (OSError, http.client.HTTPException):
        pass  # the server went away under the request: expected here


def test_edns_offered_again_after_a_formerr():
    """One FORMERR to EDNS (a server that knew none, restarted since; or
    a forged answer) costs EDNS on one c-ares channel, not for good:
    c-ares 1.18 took it off the channel and every ares_dup of it, so each
    later answer past 512 octets went over TCP. A new channel, every 64
    queries, offers it again (dns_private.h). One loop (TERN_THREADS=1):
    every inbound session's checks share its resolver."""
    big = split_txt("v=spf1 " + " ".join("ip4:10.%d.0.0/16" % i for i in range(60)) + " -all")
    zone = {"$edns_formerr": True, "*": {"TXT": [big]}}
    dns = DnsServer(zone)
    s = None
    try:
        from harness import Server
        s = Server(env={"TERN_DNS_SERVERS": dns.servers, "TERN_THREADS": "1"},
                   accounts=[("bob@example.test", "bob-pw-1-Vq8r")])

        def deliver(domain):
            c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30)
            try:
                c.ehlo("client.example.org")
                assert c.mail("a@" + domain)[0] == 250
                r = c.rcpt("bob@example.test")
                assert r[0] == 250, r
                # SPF fails (-all): refused or taken, the record was read.
                c.data(b"Subject: hi\r\n\r\nhi\r\n")
            finally:
                c.close()
        deliver("d0.test")  # FORMERR: asked again without EDNS, answered
        zone["$edns_formerr"] = False
        dns.zone(zone)
        for i in range(1, 40):  # a few queries each: past 64
            deliver("d%d.test" % i)
        before = len(dns.tcp_names())
        deliver("last.test")
        tcp = dns.tcp_names()[before:]
        # The 900-octet SPF record came over UDP alone (EDNS0, 1232).
        assert "last.test" not in tcp, tcp
        assert any("last.test" in line for line in s.log_text().splitlines()), s.log_text()[-2000:]
    finally:
        if s:
            s.cleanup()
        dns.stop()
