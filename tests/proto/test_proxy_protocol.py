"""Behind a proxy (issue 31): the PROXY protocol (v1 as nginx's stream
module sends it, and v2) on the mail listeners and X-Forwarded-For /
Forwarded on HTTP are honoured only from TERN_TRUSTED_PROXIES, so the
logs, per-client limits and fail2ban's lines see the real client. From a
trusted proxy a header is required (a bad one closes the connection);
from anyone else a header is just bytes of the protocol. One server."""
import base64
import json
import os
import shutil
import select
import socket
import ssl
import struct
import subprocess
import tempfile
import time

from harness import Raw, Server, free_port
from httpc import Api
from mailpeers import self_signed, unique_ips

PROXY_IP, OTHER_IP = unique_ips(2)
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(client, port=40000, family="TCP4", dst="127.0.0.1"):
    return ("PROXY %s %s %s %d 25\r\n" % (family, client, dst, port)).encode()


def v2(client, port=40001, cmd=1):
    if cmd == 0:  # LOCAL: a health check from the proxy itself
        return V2_SIG + bytes([0x20, 0x00]) + struct.pack("!H", 0)
    addrs = socket.inet_aton(client) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", port, 25)
    tlv = bytes([0x04, 0x00, 0x02]) + b"ok"  # a TLV, skipped
    return V2_SIG + bytes([0x21, 0x11]) + struct.pack("!H", len(addrs) + len(tlv)) + addrs + tlv


def smtp(s, header, source=PROXY_IP):
    r = Raw(s.smtp_port, greet=False, source=source)
    if header:
        r.send(header)
    r.greeting = r.reply()
    return r


def ehlo_ip(r):
    code, lines = r.cmd("EHLO client.test")
    assert code == 250, lines
    return lines[0].rsplit("[", 1)[1].rstrip("]")


def test_proxy_protocol_and_forwarded():
    s = Server(submission=True, http=True, accounts=[("bob@example.test", "bob-password-1")],
               env={"TERN_TRUSTED_PROXIES": PROXY_IP,
                    "TERN_SMTP_MAX_CONNECTIONS_PER_IP": "1",
                    "TERN_HTTP_MAX_CONNECTIONS_PER_IP": "2"})
    with s:
        # v1 and v2 from the trusted proxy: the session has the client's address.
        a = smtp(s, v1("203.0.113.7"))
        assert a.greeting[0] == 220 and ehlo_ip(a) == "203.0.113.7"
        b = smtp(s, v2("198.51.100.9"))
        assert b.greeting[0] == 220 and ehlo_ip(b) == "198.51.100.9"
        # The per-client limit (1 here) counts the real clients: a second
        # connection for 203.0.113.7 is refused while 198.51.100.9's stands.
        c = smtp(s, v1("203.0.113.7", 40002))
        assert c.greeting[0] == 421 and "your address" in c.greeting[1][0], c.greeting
        for r in (a, b, c):
            r.close()
        # A loop holds its log lines back and writes them together (log.c's
        # log_defer): two sessions on two loops reach the log in either
        # order, so wait for each line.
        assert s.wait_log("event=connect peer=203.0.113.7 ")
        assert s.wait_log("event=connect peer=198.51.100.9 ")
        # IPv6 clients, and LOCAL (no address: the proxy's own stays).
        d = smtp(s, v1("2001:db8::5", family="TCP6", dst="::1"))
        assert ehlo_ip(d) == "2001:db8::5"
        d.close()
        e = smtp(s, v2(None, cmd=0))
        assert ehlo_ip(e) == PROXY_IP
        e.close()

        # Implicit TLS (submissions): the header comes before the handshake.
        sock = socket.create_connection(("127.0.0.1", s.submissions_port), timeout=10,
                                        source_address=(PROXY_IP, 0))
        sock.sendall(v2("192.0.2.44"))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        t = ctx.wrap_socket(sock, server_hostname="mx.example.test")
        f = t.makefile("rb")
        assert f.readline().startswith(b"220")
        t.sendall(b"EHLO client.test\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        t.sendall(b"AUTH PLAIN " + base64.b64encode(b"\0bob@example.test\0wrong") + b"\r\n")
        assert f.readline().startswith(b"535")
        t.close()
        # fail2ban's line names the client, not the proxy.
        assert s.wait_log("ip=192.0.2.44"), s.log_text()
        assert "event=auth_failed" in [l for l in s.log_text().splitlines() if "ip=192.0.2.44" in l][0]

        # From the trusted proxy a header is required: garbage closes.
        g = Raw(s.smtp_port, greet=False, source=PROXY_IP)
        g.send(b"EHLO nothing.test\r\n")
        assert g.closed(), g.buf
        assert s.wait_log("event=proxy_refused listener=smtp proxy=%s reason=bad_header" % PROXY_IP)

        # From anyone else a header is not looked for: it is a bad command,
        # and the session keeps the peer's own address.
        h = Raw(s.smtp_port, source=OTHER_IP)
        code, _ = h.cmd(v1("203.0.113.99").decode().rstrip())
        assert code >= 500, code
        assert ehlo_ip(h) == OTHER_IP
        h.close()

        # HTTP: X-Forwarded-For and Forwarded from the trusted proxy name
        # the client in the failed-login line; from others they are ignored.
        def failed_login(source, headers, want):
            api = Api(s, source=source)
            st, _, _ = api.call("POST", "/session", {"password": "wrong-password"}, headers=headers)
            assert st == 401, st
            assert s.wait_log("module=http event=auth_failed what=login failures=1 ip=%s\n" % want), \
                (want, s.log_text()[-2000:])
        failed_login(PROXY_IP, {"X-Forwarded-For": "203.0.113.50, %s" % PROXY_IP}, "203.0.113.50")
        failed_login(PROXY_IP, {"Forwarded": 'for="[2001:db8::77]:4711";proto=https'}, "2001:db8::77")
        failed_login(OTHER_IP, {"X-Forwarded-For": "203.0.113.51"}, OTHER_IP)
        assert "ip=203.0.113.51" not in s.log_text()

        # The HTTP per-client limit (2 here) counts the clients the proxy
        # names, not the proxy: three connections of the proxy all stand
        # (each answers), and a client's requests in flight count against
        # its own share, whichever connection carries them.
        held = [http_open(s, PROXY_IP) for _ in range(3)]
        assert http_ask(held[2], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") == 200
        # Two requests of 203.0.113.60 wait for their bodies (in flight)...
        def hold(c):
            c.sendall(b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      b"application/json\r\nContent-Length: 40\r\n"
                      b"X-Forwarded-For: 203.0.113.60\r\n\r\n")
        for c in held[:2]:
            hold(c)
        # ... so its third is refused, while another client is served on the
        # proxy's third connection.
        # (The two reach the server in their own time: asked until then.)
        # 30 s: a fresh-clone run on a loaded machine once saw 10 pass.
        deadline, answers = time.time() + 30, []
        while True:
            # A held request that reached the server after a third one,
            # while that one was still counted, is the one refused (a
            # loaded machine, ci44): it answers at once. Held again, on a
            # new connection, or every third would pass.
            for i in range(2):
                if select.select([held[i]], [], [], 0)[0]:
                    held[i].close()
                    held[i] = http_open(s, PROXY_IP)
                    hold(held[i])
            third = http_open(s, PROXY_IP)
            answers.append(http_ask(third, "GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                    "X-Forwarded-For: 203.0.113.60\r\n\r\n"))
            if answers[-1] == 429:
                break
            third.close()
            assert time.time() < deadline, ("the third request was never refused", answers[-20:],
                                            s.log_text()[-3000:])
            time.sleep(0.05)
        assert s.wait_log("event=refused peer=203.0.113.60 reason=per_ip_limit proxied=1")
        assert http_ask(held[2], "GET /healthz HTTP/1.1\r\nHost: x\r\n"
                        "X-Forwarded-For: 203.0.113.61\r\n\r\n") == 200
        # The held requests end: 203.0.113.60 gets its share back.
        for c in held + [third]:
            c.close()
        # (A refusal closes its connection: each try is a new one.)
        deadline = time.time() + 10
        while True:
            again = http_open(s, PROXY_IP)
            try:
                st = http_ask(again, "GET /healthz HTTP/1.1\r\nHost: x\r\n"
                              "X-Forwarded-For: 203.0.113.60\r\n\r\n")
            finally:
                again.close()
            if st == 200:
                break
            assert time.time() < deadline, "the share was not given back"
            time.sleep(0.1)
        # Anyone else still has the per-address limit on connections.
        # All three stay open until each is answered: a connection closed
        # after its answer gives its slot back, and a third the server had
        # not accepted yet (a busy machine) would then be let in.
        mine = [http_open(s, OTHER_IP) for _ in range(3)]
        answers = []
        for c in mine:
            try:
                answers.append(http_ask(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
            except OSError:
                answers.append(None)
        for c in mine:
            c.close()
        assert sorted(answers, key=str) == [200, 200, None], answers


def http_open(s, source):
    return socket.create_connection(("127.0.0.1", s.http_port), timeout=10,
                                    source_address=(source, 0))


def http_ask(sock, request):
    """Sends one request on a kept-alive connection; the status, or an
    OSError when the server closed it."""
    sock.sendall(request.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionResetError("closed")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(rest) < n:
        chunk = sock.recv(4096)
        if not chunk:
            break
        rest += chunk
    return int(head.split()[1])


def ask(s, source, lines, tls=False):
    """One request (header lines, joined here) from source to the HTTP (or
    HTTPS) port: (status, {lowercased name: value}, body bytes); the body
    as long as Content-Length says (none for a stream)."""
    sock = socket.create_connection(("127.0.0.1", s.https_port if tls else s.http_port),
                                    timeout=10, source_address=(source, 0))
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock, server_hostname="mx.example.test")
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, buf
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        hl = head.decode().split("\r\n")
        hdrs = {}
        for l in hl[1:]:
            k, _, v = l.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        while len(body) < n:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return int(hl[0].split()[1]), hdrs, body
    finally:
        sock.close()


def test_proxy_ending_tls_scheme_and_host():
    """A proxy that ends TLS and talks plain HTTP to tern says what the
    client asked for (Forwarded proto=/host=, X-Forwarded-Proto/-Host):
    from a trusted one the JMAP session's URLs, the redirect to HTTPS and
    HSTS follow it; from anyone else those fields are ignored."""
    proxy, other = unique_ips(2)
    auth = "Authorization: Basic " + base64.b64encode(b"bob@example.test:bob-password-1").decode()
    s = Server(http=True, imap=True, accounts=[("bob@example.test", "bob-password-1")],
               env={"TERN_TRUSTED_PROXIES": proxy})
    with s:
        def session(source, extra, tls=False, host="tern:8080"):
            st, h, body = ask(s, source, ["GET /jmap/session HTTP/1.1", "Host: " + host, auth]
                              + extra, tls=tls)
            assert st == 200, (st, body)
            return json.loads(body), h

        # X-Forwarded-Proto / -Host (nginx, Traefik, Caddy) over plain HTTP.
        j, h = session(proxy, ["X-Forwarded-Proto: https", "X-Forwarded-Host: mail.example.test",
                               "X-Forwarded-For: 203.0.113.5"])
        assert j["apiUrl"] == "https://mail.example.test/jmap/api/", j["apiUrl"]
        assert j["uploadUrl"].startswith("https://mail.example.test/jmap/upload/"), j
        assert j["downloadUrl"].startswith("https://mail.example.test/jmap/download/"), j
        assert j["eventSourceUrl"].startswith("https://mail.example.test/jmap/eventsource/"), j
        assert j["capabilities"]["urn:ietf:params:jmap:websocket"]["url"] == \
            "wss://mail.example.test/jmap/ws/", j["capabilities"]
        assert h.get("strict-transport-security"), h
        # Forwarded: the last element is the proxy's (a client's own comes first).
        j, _ = session(proxy, ['Forwarded: for=192.0.2.1;proto=http;host=evil.test, '
                               'for=203.0.113.5;proto=https;host="Mail.Example.test:8443"'])
        assert j["apiUrl"] == "https://mail.example.test:8443/jmap/api/", j["apiUrl"]
        # With X-Forwarded-* there, a Forwarded is the client's own (the
        # proxy writes the others and passes it on).
        j, _ = session(proxy, ['Forwarded: proto=http;host=evil.test',
                               "X-Forwarded-Proto: https", "X-Forwarded-Host: mail.example.test"])
        assert j["apiUrl"] == "https://mail.example.test/jmap/api/", j["apiUrl"]
        # A bad value is not used: the Host field is.
        j, _ = session(proxy, ["X-Forwarded-Proto: https", "X-Forwarded-Host: evil.test/x?"])
        assert j["apiUrl"] == "https://tern:8080/jmap/api/", j["apiUrl"]
        # From anyone else (over HTTPS, or plain HTTP would redirect) the
        # fields are the client's own words.
        j, _ = session(other, ["X-Forwarded-Proto: http", "X-Forwarded-Host: evil.test",
                               'Forwarded: proto=http;host=evil.test'], tls=True,
                       host="mx.example.test")
        assert j["apiUrl"] == "https://mx.example.test/jmap/api/", j["apiUrl"]
        st, h, _ = ask(s, other, ["GET /jmap/session HTTP/1.1", "Host: mx.example.test", auth,
                                  "X-Forwarded-Proto: https"])
        assert st == 301 and h["location"].startswith("https://mx.example.test:%d/" % s.https_port), h

        # Plain HTTP the proxy says is plain: to HTTPS, on the proxy's
        # (default) port, not tern's own.
        st, h, _ = ask(s, proxy, ["GET /account HTTP/1.1", "Host: tern:8080",
                                  "X-Forwarded-Proto: http", "X-Forwarded-Host: mail.example.test"])
        assert st == 301 and h["location"] == "https://mail.example.test/account", (st, h)
        assert "strict-transport-security" not in h, h

        # The EventSource through the proxy (it would be redirected before).
        st, h, _ = ask(s, proxy, ["GET /jmap/eventsource/?types=*&closeafter=no&ping=0 HTTP/1.1",
                                  "Host: tern:8080", auth, "X-Forwarded-Proto: https"])
        assert st == 200 and h["content-type"].startswith("text/event-stream"), (st, h)
        # A WebSocket too; a browser's Origin is the host the proxy names.
        ws = ["GET /jmap/ws/ HTTP/1.1", "Host: tern:8080", auth, "Upgrade: websocket",
              "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
              "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: jmap",
              "Origin: https://mail.example.test", "X-Forwarded-Proto: https"]
        st, h, _ = ask(s, proxy, ws + ["X-Forwarded-Host: mail.example.test"])
        assert st == 101 and h["sec-websocket-protocol"] == "jmap", (st, h)
        st, h, _ = ask(s, proxy, ws + ["X-Forwarded-Host: elsewhere.test"])
        assert st == 403, (st, h)
        # Not for anyone else over plain HTTP.
        st, h, _ = ask(s, other, ["GET /jmap/eventsource/?types=*&closeafter=no&ping=0 HTTP/1.1",
                                  "Host: mx.example.test", auth, "X-Forwarded-Proto: https"])
        assert st == 301, (st, h)

        # IMAP's GETJMAPACCESS: the proxy's public URL (default port).
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", s.imaps_port), timeout=10),
                            server_hostname="mx.example.test")
        f = t.makefile("rb")
        assert f.readline().startswith(b"* OK")
        t.sendall(b"a LOGIN bob@example.test bob-password-1\r\nb GETJMAPACCESS\r\n")
        lines = []
        while not lines or not lines[-1].startswith("b "):
            lines.append(f.readline().decode().rstrip())
        assert '* JMAPACCESS "https://mx.example.test/jmap/session"' in lines, lines
        t.close()


def test_forwarded_for_several_lines():
    """HAProxy's forwardfor adds a line of its own after the client's:
    every line counts, in order (RFC 9110 §5.3), so the client cannot
    name itself by sending the field first; nor by sending a Forwarded
    the proxy does not write, or a list too long to read."""
    proxy = unique_ips(1)[0]
    s = Server(http=True, env={"TERN_TRUSTED_PROXIES": proxy})
    with s:
        cases = (["X-Forwarded-For: 127.0.0.1", "X-Forwarded-For: 203.0.113.70"],
                 ["Forwarded: for=127.0.0.1", "Forwarded: for=203.0.113.71"],
                 # A client's own Forwarded, passed on by a proxy that
                 # writes X-Forwarded-For (nginx, Traefik, Caddy).
                 ["Forwarded: for=127.0.0.1", "X-Forwarded-For: 203.0.113.72"],
                 # A long list: the proxy's entry is at its end.
                 ["X-Forwarded-For: " + "127.0.0.1, " * 600 + "203.0.113.73"])
        for i, fields in enumerate(cases):
            st = ask_body(s, proxy, fields, '{"password":"wrong-password"}')
            assert st == 401, st
            assert s.wait_log("event=auth_failed what=login failures=1 ip=203.0.113.7%d\n" % i), \
                s.log_text()[-2000:]
        assert "ip=127.0.0.1\n" not in s.log_text()


def ask_body(s, source, fields, body):
    """POST /api/v1/session with body over HTTPS from source: the status."""
    sock = socket.create_connection(("127.0.0.1", s.https_port), timeout=10,
                                    source_address=(source, 0))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t = ctx.wrap_socket(sock, server_hostname="mx.example.test")
    try:
        t.sendall(("\r\n".join(["POST /api/v1/session HTTP/1.1", "Host: x",
                                "Content-Type: application/json",
                                "Content-Length: %d" % len(body)] + fields)
                   + "\r\n\r\n" + body).encode())
        buf = b""
        while b"\r\n" not in buf:
            chunk = t.recv(4096)
            assert chunk, buf
            buf += chunk
        return int(buf.split()[1])
    finally:
        t.close()


NGINX_CONF = """
daemon off;
master_process off;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %(tmp)s/body;
    proxy_temp_path %(tmp)s/proxy;
    fastcgi_temp_path %(tmp)s/fastcgi;
    uwsgi_temp_path %(tmp)s/uwsgi;
    scgi_temp_path %(tmp)s/scgi;
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    server {
        listen 127.0.0.1:%(port)d ssl;
        ssl_certificate %(crt)s;
        ssl_certificate_key %(key)s;
        location / {
            proxy_pass http://127.0.0.1:%(tern)d;
            proxy_bind %(proxy)s;
            proxy_http_version 1.1;
            proxy_buffering off;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }
    }
}
"""


def test_behind_nginx():
    """A real reverse proxy, nginx, ending TLS and passing plain HTTP to
    tern's port 80 with the README's X-Forwarded-* fields: the pages are
    served (not redirected back to HTTPS), the JMAP session names the
    public https URL, push works through it, the fail2ban line names the
    client."""
    assert shutil.which("nginx"), "nginx is not installed (scripts/install-test-deps: nginx-light)"
    proxy, client = unique_ips(2)
    s = Server(http=True, accounts=[("bob@example.test", "bob-password-1")],
               env={"TERN_TRUSTED_PROXIES": proxy})
    tmp = tempfile.mkdtemp(prefix="tern-nginx-")
    with s:
        crt, key = self_signed(tmp, "mail.example.test")
        port = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF % {"tmp": tmp, "port": port, "crt": crt, "key": key,
                                  "tern": s.http_port, "proxy": proxy})
        ng = subprocess.Popen(["nginx", "-c", conf, "-p", tmp, "-e", tmp + "/error.log"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert ng.poll() is None and time.time() < deadline, open(tmp + "/error.log").read()
                    time.sleep(0.05)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE

            def get(path, headers):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                                source_address=(client, 0))
                t = ctx.wrap_socket(sock, server_hostname="mail.example.test")
                try:
                    t.sendall(("GET %s HTTP/1.1\r\nHost: mail.example.test:%d\r\n%s\r\n"
                               % (path, port, "".join(h + "\r\n" for h in headers))).encode())
                    buf = b""
                    while b"\r\n\r\n" not in buf:
                        chunk = t.recv(65536)
                        assert chunk, buf
                        buf += chunk
                    head, _, body = buf.partition(b"\r\n\r\n")
                    hl = head.decode().split("\r\n")
                    h = {l.partition(":")[0].lower(): l.partition(":")[2].strip() for l in hl[1:]}
                    n = int(h.get("content-length", "0"))
                    while len(body) < n:
                        chunk = t.recv(65536)
                        if not chunk:
                            break
                        body += chunk
                    return int(hl[0].split()[1]), h, body
                finally:
                    t.close()

            auth = "Authorization: Basic " + base64.b64encode(b"bob@example.test:bob-password-1").decode()
            st, h, _ = get("/account", [])
            assert st == 200 and h.get("strict-transport-security"), (st, h)
            st, _, body = get("/jmap/session", [auth])
            assert st == 200, (st, body)
            j = json.loads(body)
            base = "https://mail.example.test:%d" % port
            assert j["apiUrl"] == base + "/jmap/api/", j["apiUrl"]
            assert j["eventSourceUrl"].startswith(base + "/jmap/eventsource/"), j
            assert j["capabilities"]["urn:ietf:params:jmap:websocket"]["url"] == \
                "wss://mail.example.test:%d/jmap/ws/" % port, j["capabilities"]
            st, h, _ = get("/jmap/eventsource/?types=*&closeafter=no&ping=0", [auth])
            assert st == 200 and h["content-type"].startswith("text/event-stream"), (st, h)
            st, h, _ = get("/jmap/ws/", [auth, "Upgrade: websocket", "Connection: Upgrade",
                                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                                         "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: jmap",
                                         "Origin: " + base])
            assert st == 101, (st, h)
            # A client's own X-Forwarded-For comes first (nginx adds the
            # peer), and nginx passes its Forwarded on untouched.
            st, _, body = get("/jmap/session", [auth, "Forwarded: for=127.0.0.1;proto=http;host=evil.test"])
            assert st == 200 and json.loads(body)["apiUrl"] == base + "/jmap/api/", (st, body)
            st, _, _ = get("/jmap/session", ["Authorization: Basic " +
                                             base64.b64encode(b"bob@example.test:wrong").decode(),
                                             "X-Forwarded-For: 127.0.0.1",
                                             "Forwarded: for=127.0.0.1"])
            assert st == 401, st
            assert s.wait_log("ip=%s" % client), s.log_text()[-2000:]
        finally:
            ng.terminate()
            ng.wait(10)
            shutil.rmtree(tmp, ignore_errors=True)
