"""JMAP blobs (RFC 8620 §6) over the streamed upload (app/http/http_upload.h):
upload answers, credentials checked before the body is read, the size
limit, a stalled body cut while a slow one that keeps moving is not, the
per-account upload limit, a 50 MB upload with the server's anonymous
memory bounded. One server for the module (its HTTP header timeout, which
is also the stall window of a body, is 5 s)."""
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import ssl
import time
import urllib.parse

from jmapc import CORE, MAIL, Jmap, shared_server

BOB = ("bob@example.test", "bob-password-1")
EVE = ("eve@example.test", "eve-password-1")
CAT = ("cat@example.test", "cat-password-1")
ACCOUNTS = [BOB, EVE, CAT]
STALL = 5


def srv():
    return shared_server(ACCOUNTS, env={"TERN_HTTP_HEADER_TIMEOUT": str(STALL)})


def blob_id(data):
    return "B" + hashlib.blake2b(data, digest_size=32).hexdigest()


def tls(s):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", s.https_port), timeout=20)
    return c.wrap_socket(raw)


def head(user, pw, path, length=None, extra=""):
    cred = base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
    h = "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\n" % (path, cred)
    h += "Content-Type: application/octet-stream\r\n"
    if length is not None:
        h += "Content-Length: %d\r\n" % length
    return (h + extra + "\r\n").encode()


def read_answer(sock, timeout=20):
    """Status and body of one answer (Content-Length framed), or (None, b'')
    when the server closed without one."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            d = sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            d = b""
        if not d:
            return None, data
        data += d
    hdr, body = data.split(b"\r\n\r\n", 1)
    n = 0
    for line in hdr.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    # Pieces joined once: a large body appended to piece by piece is
    # copied over and over (a 29 MB one took the test minutes).
    parts, got = [body], len(body)
    while got < n:
        d = sock.recv(1 << 20)
        if not d:
            break
        parts.append(d)
        got += len(d)
    return int(hdr.split(b" ")[1]), b"".join(parts)


def test_jmap_upload():
    s = srv()
    j = Jmap(s, *BOB)
    data = b"Hello, upload.\r\n" * 100
    st, hd, body = j.request("POST", "/jmap/upload/%s/" % j.account, data,
                             {"Content-Type": "text/plain; charset=utf-8"})
    assert st == 201, (st, body)
    assert body == {"accountId": j.account, "blobId": blob_id(data),
                    "type": "text/plain; charset=utf-8", "size": len(data)}, body
    # Without the trailing slash too; no Content-Type: octet-stream.
    st, hd, body = j.request("POST", "/jmap/upload/%s" % j.account, b"")
    assert st == 201 and body["size"] == 0 and body["blobId"] == blob_id(b""), (st, body)
    # Another account's id, or none of ours: 404 (no hint either way).
    eve = Jmap(s, *EVE)
    st, hd, body = j.request("POST", "/jmap/upload/%s/" % eve.account, data)
    assert st == 404, (st, body)
    st, hd, body = j.request("POST", "/jmap/upload/Azzzzzzzz/", data)
    assert st == 404, (st, body)
    # No credentials: 401 with the challenge; a GET is not an upload.
    st, hd, body = Jmap(s).request("POST", "/jmap/upload/%s/" % j.account, data)
    assert st == 401 and hd["www-authenticate"].startswith("Basic"), (st, body)
    st, hd, body = j.request("GET", "/jmap/upload/%s/" % j.account)
    assert st == 405 and hd["allow"] == "POST", (st, body)


def test_jmap_cross_site_requests_refused():
    """A page of another site cannot have the browser upload, download or
    fetch the session with the Basic credentials it keeps for this one: a
    form's POST (a foreign Origin with a CORS-safelisted type, or
    Sec-Fetch-Mode navigate), an <img>/<script> GET (no-cors) are 403 and
    store nothing. A client outside a browser (no Origin), our own
    Origin, and a CORS request with the file's own type still work."""
    s = srv()
    j = Jmap(s, *CAT)
    up = "/jmap/upload/%s/" % j.account
    data = b"cross-site upload\r\n"
    evil = "https://evil.example"
    for h in ({"Origin": evil, "Content-Type": "text/plain"},
              {"Origin": evil, "Content-Type": "multipart/form-data; boundary=x"},
              {"Origin": evil, "Content-Type": "application/x-www-form-urlencoded"},
              {"Origin": "null", "Content-Type": "text/plain;charset=utf-8"},
              {"Origin": evil, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate",
               "Content-Type": "application/octet-stream"},
              {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors",
               "Content-Type": "image/png"}):
        st, hd, body = j.request("POST", up, data, h)
        assert st == 403, (h, st, body)
    _, b = j.one("Blob/get", {"ids": [blob_id(data)]},
                 using=(CORE, MAIL, "urn:ietf:params:jmap:blob"))
    assert b["notFound"] == [blob_id(data)], b
    # Not from a page elsewhere: stored.
    for h in ({"Content-Type": "text/plain"},
              {"Origin": "https://127.0.0.1:%d" % s.https_port, "Content-Type": "text/plain"},
              {"Origin": evil, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors",
               "Content-Type": "message/rfc822"},
              {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "no-cors",
               "Content-Type": "text/plain"}):
        st, hd, body = j.request("POST", up, data, h)
        assert st == 201 and body["blobId"] == blob_id(data), (h, st, body)
    dl = "/jmap/download/%s/%s/x.js?accept=text/javascript" % (j.account, blob_id(data))
    for path in (dl, "/jmap/session"):
        st, _, _ = j.request("GET", path, None, {"Sec-Fetch-Site": "cross-site",
                                                 "Sec-Fetch-Mode": "no-cors"})
        assert st == 403, (path, st)
        st, _, _ = j.request("GET", path, None, {"Sec-Fetch-Site": "cross-site",
                                                 "Sec-Fetch-Mode": "cors", "Origin": evil})
        assert st == 200, (path, st)
        st, _, _ = j.request("GET", path, None, {"Sec-Fetch-Site": "none",
                                                 "Sec-Fetch-Mode": "navigate"})
        assert st == 200, (path, st)


def test_jmap_upload_refused_before_body():
    """A wrong password and a body over maxSizeUpload are answered from the
    header alone: the client sends no body byte and still gets its answer."""
    s = srv()
    j = Jmap(s, *BOB)
    path = "/jmap/upload/%s/" % j.account
    c = tls(s)
    c.sendall(head(BOB[0], "wrong-password", path, 50000000))
    st, body = read_answer(c)
    c.close()
    assert st == 401, (st, body)
    c = tls(s)
    c.sendall(head(BOB[0], BOB[1], path, 50000001))
    st, body = read_answer(c)
    c.close()
    assert st == 413, (st, body)
    assert json.loads(body)["type"] == "urn:ietf:params:jmap:error:limit"
    assert json.loads(body)["limit"] == "maxSizeUpload", body


def test_jmap_upload_stalled_and_slow():
    s = srv()
    j = Jmap(s, *BOB)
    path = "/jmap/upload/%s/" % j.account
    # Stalled after 1000 of 100000 bytes: cut, nothing answered.
    c = tls(s)
    c.sendall(head(BOB[0], BOB[1], path, 100000) + b"x" * 1000)
    t0 = time.time()
    st, _ = read_answer(c, timeout=30)
    c.close()
    assert st is None and time.time() - t0 < 25, st
    s.wait_log("event=upload_cut")
    # Slow but moving: a piece a second for longer than the stall window.
    c = tls(s)
    data = bytes(range(256)) * 40
    c.sendall(head(BOB[0], BOB[1], path, len(data)))
    for i in range(0, len(data), 1024):
        c.sendall(data[i:i + 1024])
        time.sleep(0.6)
    st, body = read_answer(c)
    c.close()
    assert st == 201 and json.loads(body)["blobId"] == blob_id(data), (st, body)


def test_jmap_upload_concurrency():
    """maxConcurrentUpload (4) per account: a fifth upload in flight is
    refused with the limit; another account is not held up."""
    s = srv()
    j = Jmap(s, *BOB)
    path = "/jmap/upload/%s/" % j.account
    eve = Jmap(s, *EVE)
    eve.account  # logged in once: the uploads below find the pair cached
    held = []
    for _ in range(4):
        c = tls(s)
        c.sendall(head(BOB[0], BOB[1], path, 10000) + b"x" * 100)
        held.append(c)
    # The four are admitted on the server's own time (TLS, then the
    # credentials): until all are, a fifth still fits. Ask until it is
    # refused; a limit that never bites fails at the deadline.
    deadline = time.time() + 30
    while True:
        c = tls(s)
        c.sendall(head(BOB[0], BOB[1], path, 10) + b"0123456789")
        st, body = read_answer(c)
        c.close()
        if st != 201 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert st == 429 and json.loads(body)["limit"] == "maxConcurrentUpload", (st, body)
    st, _, body = eve.request("POST", "/jmap/upload/%s/" % eve.account, b"eve")
    assert st == 201, (st, body)
    for c in held:
        c.sendall(b"y" * 9900)
        st, body = read_answer(c)
        assert st == 201, (st, body)
        c.close()


def test_jmap_upload_50mb_memory_bounded():
    """A 50 MB upload: the server's anonymous memory grows by far less than
    the body (it goes to disk as it arrives), and the blob id is right."""
    import threading
    s = srv()
    j = Jmap(s, *BOB)
    j.account  # logged in before measuring (argon2id's memory is not the upload's)
    base = s.rss_kib("RssAnon") * 1024
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], s.rss_kib("RssAnon") * 1024)
            time.sleep(0.05)
    t = threading.Thread(target=sample)
    t.start()
    size = 50000000
    chunk = hashlib.sha512(b"seed").digest() * 16384  # 1 MiB
    h = hashlib.blake2b(digest_size=32)
    c = tls(s)
    c.sendall(head(BOB[0], BOB[1], "/jmap/upload/%s/" % j.account, size))
    sent = 0
    while sent < size:
        piece = chunk[:min(len(chunk), size - sent)]
        c.sendall(piece)
        h.update(piece)
        sent += len(piece)
    st, body = read_answer(c, timeout=60)
    c.close()
    stop.set()
    t.join()
    assert st == 201, (st, body)
    assert json.loads(body)["blobId"] == "B" + h.hexdigest() and json.loads(body)["size"] == size
    grew = peak[0] - base
    print("upload 50 MB: server RssAnon grew %.1f MiB" % (grew / 1048576))
    assert grew < 24 * 1048576, grew

    # And back, streamed from the file: the same bytes, memory as flat.
    import http.client
    base = s.rss_kib("RssAnon") * 1024
    peak = [base]
    stop.clear()
    t = threading.Thread(target=sample)
    t.start()
    c = http.client.HTTPSConnection("127.0.0.1", s.https_port, timeout=60,
                                    context=ssl._create_unverified_context())
    c.request("GET", "/jmap/download/%s/%s/big" % (j.account, json.loads(body)["blobId"]),
              headers=j.headers())
    r = c.getresponse()
    assert r.status == 200, r.status
    h2 = hashlib.blake2b(digest_size=32)
    n = 0
    while True:
        d = r.read(1 << 20)
        if not d:
            break
        h2.update(d)
        n += len(d)
    c.close()
    stop.set()
    t.join()
    assert n == size and h2.hexdigest() == h.hexdigest(), n
    grew = peak[0] - base
    print("download 50 MB: server RssAnon grew %.1f MiB" % (grew / 1048576))
    assert grew < 24 * 1048576, grew


def test_jmap_upload_disk_full():
    """A write that fails for room (here a file size limit: EFBIG, which
    the server treats as a full disk) answers 507 and drops what was
    written; the server goes on and a small upload still works."""
    from harness import Server
    s = Server(accounts=[BOB], imap=False, http=True, wrap=["prlimit", "--fsize=6000000", "--"],
               env={"TERN_MAX_MESSAGE_SIZE": "8M"})
    try:
        j = Jmap(s, *BOB)
        # Under maxSizeUpload (TERN_MAX_MESSAGE_SIZE), over the file limit.
        size = 7000000
        c = tls(s)
        c.sendall(head(BOB[0], BOB[1], "/jmap/upload/%s/" % j.account, size))
        chunk = b"z" * 1048576
        sent = 0
        try:
            while sent < size:
                c.sendall(chunk[:min(len(chunk), size - sent)])
                sent += len(chunk)
        except OSError:
            pass
        st, body = read_answer(c, timeout=30)
        c.close()
        assert st == 507, (st, body)
        s.wait_log("event=upload_dropped")
        st, _, body = j.request("POST", "/jmap/upload/%s/" % j.account, b"small")
        assert st == 201 and body["size"] == 5, (st, body)
        # The same server takes messages of at most 8M: an import that
        # its line ends made CRLF take past it is tooLarge (as SMTP and
        # APPEND refuse it); the upload itself is under both limits.
        big = b"Subject: big\n\n" + b"x\n" * 2900000
        _, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, big)
        _, mb = j.one("Mailbox/get", {"properties": ["role"]})
        inbox = [m["id"] for m in mb["list"] if m["role"] == "inbox"][0]
        _, r = j.one("Email/import", {"emails": {"b": {"blobId": up["blobId"], "mailboxIds": {inbox: True}}}})
        assert r["created"] is None and r["notCreated"]["b"]["type"] == "tooLarge", r
    finally:
        s.cleanup()



def test_upload_killed_midway_leaves_no_file_behind():
    """tern serve killed (SIGKILL) while it writes an upload: the upload's
    temporary file (upload/ACCOUNT/.tmp-*) stayed for good, since the
    sweeps pass over dot files: a disk that a crash now and then fills.
    The next start removes it; the upload sent again works."""
    if os.geteuid() != 0 or not shutil.which("strace"):
        print("  (needs root and strace)")
        return "skip"
    from harness import Server
    s = Server(accounts=[BOB], http=True)
    try:
        j = Jmap(s, *BOB)
        data = b"killed upload " * 50000
        # Killed at the upload's fsync: the file is written, not renamed.
        st = subprocess.Popen(["strace", "-f", "-qq", "-o", os.devnull, "-p", str(s.proc.pid),
                               "-e", "trace=fsync", "-e", "inject=fsync:signal=SIGKILL"])
        try:
            time.sleep(1)  # attached
            try:
                j.request("POST", "/jmap/upload/%s/" % j.account, data)
            except Exception:
                pass  # the connection ends with the server
            s.proc.wait(timeout=20)
        finally:
            st.wait(timeout=20)
        s.reader.join(2)
        updir = os.path.join(s.data, "upload")
        left = [os.path.join(dp, n) for dp, _, ns in os.walk(updir) for n in ns]
        print("  after the kill: %s" % [os.path.relpath(p, updir) for p in left])
        assert s.proc.returncode == -signal.SIGKILL and left and \
            all(os.path.basename(p).startswith(".tmp-") for p in left), (s.proc.returncode, left)
        s.start()
        left = [n for _, _, ns in os.walk(updir) for n in ns]
        assert left == [], left
        j = Jmap(s, *BOB)
        st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, data)
        assert st == 201 and up["blobId"] == blob_id(data), (st, up)
    finally:
        s.cleanup()

ATTACH = ("From: alice@remote.test\r\nTo: bob@example.test\r\nSubject: with a file\r\n"
          "Message-ID: <dl1@remote.test>\r\nMIME-Version: 1.0\r\n"
          "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
          "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
          "Caf=C3=A9 =\r\nsoon.\r\n"
          "--b\r\nContent-Type: application/octet-stream; name=\"r\xc3\xa9sum\xc3\xa9.bin\"\r\n"
          "Content-Disposition: attachment; filename=\"data.bin\"\r\n"
          "Content-Transfer-Encoding: base64\r\n\r\n"
          + base64.encodebytes(bytes(range(256)) * 300).decode().replace("\n", "\r\n") +
          "--b--\r\n")


def deliver(s, rcpt, msg):
    import smtplib
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        c.sendmail("alice@remote.test", [rcpt], msg.encode())


def test_jmap_download():
    """Download (RFC 8620 §6.2): an upload back byte for byte, a message by
    its Email blobId, a body part decoded (partId blobIds), the type from
    accept and the name in Content-Disposition; another account's blob and
    guessed ids are 404."""
    from test_imap_search_ext import wait_count
    s = srv()
    j = Jmap(s, *BOB)
    eve = Jmap(s, *EVE)
    data = bytes(range(256)) * 1000 + b"end"
    _, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, data)
    path = "/jmap/download/%s/%s/file.bin?accept=application/x-test" % (j.account, up["blobId"])
    st, hd, body = j.request("GET", path)
    assert st == 200 and body == data, (st, len(body))
    assert hd["content-type"] == "application/x-test", hd
    assert hd["content-disposition"] == "attachment; filename=\"file.bin\"; filename*=UTF-8''file.bin", hd
    assert int(hd["content-length"]) == len(data)
    # A name with a space and non-ASCII; no accept: octet-stream.
    st, hd, body = j.request("GET", "/jmap/download/%s/%s/caf%%C3%%A9%%20x.txt" % (j.account, up["blobId"]))
    assert st == 200 and body == data and hd["content-type"] == "application/octet-stream", hd
    assert hd["content-disposition"] == "attachment; filename=\"caf__ x.txt\"; filename*=UTF-8''caf%C3%A9%20x.txt", hd
    # Eve knows the id but did not upload it: 404, the same as a made-up id.
    st, _, _ = eve.request("GET", "/jmap/download/%s/%s/f" % (eve.account, up["blobId"]))
    assert st == 404, st
    st, _, _ = j.request("GET", "/jmap/download/%s/B%s/f" % (j.account, "0" * 64))
    assert st == 404, st
    st, _, _ = j.request("GET", "/jmap/download/%s/%s/f" % (eve.account, up["blobId"]))
    assert st == 404, st
    st, _, _ = Jmap(s).request("GET", path)
    assert st == 401, st

    n0 = len(s.messages(BOB[0]))
    deliver(s, BOB[0], ATTACH)
    wait_count(s, n0 + 1, account=BOB[0])
    _, q = j.one("Email/query", {})
    _, g = j.one("Email/get", {"ids": q["ids"], "properties": ["blobId", "size", "attachments", "textBody",
                                                               "messageId"]})
    e = [x for x in g["list"] if x["messageId"] == ["dl1@remote.test"]][0]
    st, hd, raw = j.request("GET", "/jmap/download/%s/%s/m.eml?accept=message/rfc822" % (j.account, e["blobId"]))
    assert st == 200 and len(raw) == e["size"] and b"Subject: with a file" in raw, (st, len(raw))
    assert raw == ATTACH.encode() or raw.endswith(ATTACH.encode()), raw[:200]
    att = e["attachments"][0]
    st, hd, body = j.request("GET", "/jmap/download/%s/%s/data.bin" % (j.account, att["blobId"]))
    assert st == 200 and body == bytes(range(256)) * 300, (st, len(body))
    assert hd["content-type"] == "application/octet-stream" and len(body) == att["size"]
    txt = e["textBody"][0]
    st, hd, body = j.request("GET", "/jmap/download/%s/%s/t.txt?accept=text/plain;charset=utf-8" % (j.account, txt["blobId"]))
    assert st == 200 and body == "Café soon.".encode(), (st, body)  # the CRLF before "--b" is the boundary's
    # Eve has no such email: her guesses at Bob's message and part fail.
    for b in (e["blobId"], att["blobId"]):
        st, _, _ = eve.request("GET", "/jmap/download/%s/%s/x" % (eve.account, b))
        assert st == 404, (b, st)
    # A part that is not there, a multipart one, malformed ids.
    n = att["blobId"][1:9]
    for b in ("P%s_99" % n, "P%s_0" % n, "P%s_01" % n, "Pzz", "B12"):
        st, _, _ = j.request("GET", "/jmap/download/%s/%s/x" % (j.account, b))
        assert st == 404, (b, st)


def test_jmap_import():
    """Email/import (RFC 8621 §4.8): exact answers, the SetErrors, and the
    message in IMAP at once: a UID in each mailbox, EXISTS during IDLE,
    keywords as flags."""
    import re
    from test_imap import Raw
    s = srv()
    j = Jmap(s, *CAT)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    role = {m["role"]: m["id"] for m in mb["list"]}
    inbox, archive = role["inbox"], role["archive"]
    msg = (b"From: Dan <dan@remote.test>\r\nTo: cat@example.test\r\nSubject: imported\r\n"
           b"Message-ID: <imp1@remote.test>\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n\r\nHello.\r\n")
    _, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, msg, {"Content-Type": "message/rfc822"})
    _, _, junk = j.request("POST", "/jmap/upload/%s/" % j.account, b"\x00\x01 not a message")

    r = Raw(s)
    r.send("l LOGIN %s %s\r\n" % CAT)
    assert r.until_tag("l")[-1].startswith(b"l OK")
    r.send("s SELECT INBOX\r\n")
    r.until_tag("s")
    r.send("i IDLE\r\n")
    assert r.line().startswith(b"+"), "no continuation"

    _, st = j.one("Mailbox/get", {"ids": []})
    _, res = j.one("Email/import", {"ifInState": st["state"], "emails": {
        "k1": {"blobId": up["blobId"], "mailboxIds": {inbox: True, archive: True},
               "keywords": {"$seen": True, "work": True}, "receivedAt": "2026-11-21T10:00:05Z"},
        "k2": {"blobId": "B" + "0" * 64, "mailboxIds": {inbox: True}},
        "k3": {"blobId": up["blobId"], "mailboxIds": {}},
        "k4": {"blobId": up["blobId"], "mailboxIds": {"Mffffffff": True}},
        "k5": {"blobId": up["blobId"], "mailboxIds": {inbox: True}, "keywords": {"bad kw": True}},
        "k6": {"blobId": junk["blobId"], "mailboxIds": {inbox: True}},
        "k7": {"blobId": up["blobId"], "mailboxIds": {inbox: True}, "receivedAt": "yesterday"},
        "k8": {"mailboxIds": {inbox: True}},
        "k9": {"blobId": up["blobId"], "mailboxIds": {inbox: True}, "size": 3},
        "k10": {"blobId": "B" + "1" * 64, "mailboxIds": {}},
        "k11": {"blobId": "#nosuch", "mailboxIds": {inbox: True}},
    }})
    e = res["created"]["k1"]
    assert set(res) == {"accountId", "oldState", "newState", "created", "notCreated"}, res
    assert res["oldState"] == st["state"] and res["newState"] != st["state"]
    assert list(res["created"]) == ["k1"], res
    assert re.fullmatch(r"E[0-9a-f]{8}", e["id"]) and re.fullmatch(r"T[0-9a-f]{8}", e["threadId"])
    assert e["blobId"] == up["blobId"] and e["size"] == len(msg), e
    nc = res["notCreated"]
    # An unknown blobId is an invalid property (RFC 8621 §4.8 "id not
    # found"), named with the other bad ones. It was blobNotFound, alone.
    assert nc["k2"] == {"type": "invalidProperties", "description": "no such blob",
                        "properties": ["blobId"]}, nc
    assert nc["k10"]["type"] == "invalidProperties", nc
    assert sorted(nc["k10"]["properties"]) == ["blobId", "mailboxIds"], nc
    assert nc["k11"]["properties"] == ["blobId"], nc
    assert nc["k3"]["type"] == "invalidProperties" and nc["k3"]["properties"] == ["mailboxIds"]
    assert nc["k4"]["properties"] == ["mailboxIds"] and nc["k5"]["properties"] == ["keywords"], nc
    assert nc["k6"]["type"] == "invalidEmail", nc
    assert nc["k7"]["properties"] == ["receivedAt"] and nc["k8"]["properties"] == ["blobId"], nc
    assert nc["k9"]["type"] == "invalidProperties" and nc["k9"]["properties"] == ["size"], nc

    # IMAP saw it during IDLE, with a UID, its flags and the same EMAILID.
    seen = []
    while not seen or not re.match(rb"\* 1 EXISTS", seen[-1]):
        seen.append(r.line())  # a FLAGS line for the new keyword may come first
    assert all(x.startswith(b"* ") for x in seen), seen
    r.send("DONE\r\n")
    r.until_tag("i")
    r.send("f UID FETCH 1:* (FLAGS EMAILID THREADID INTERNALDATE)\r\n")
    out = b"".join(r.until_tag("f"))
    assert re.search(rb"UID \d+", out) and b"\\Seen" in out and b"work" in out, out
    assert ("EMAILID (%s)" % e["id"]).encode() in out and ("THREADID (%s)" % e["threadId"]).encode() in out, out
    assert b'"21-Nov-2026 10:00:05 +0000"' in out, out
    r.send("a SELECT Archive\r\n")
    out = b"".join(r.until_tag("a"))
    assert b"* 1 EXISTS" in out, out

    _, g = j.one("Email/get", {"ids": [e["id"]], "properties": ["mailboxIds", "keywords", "receivedAt", "subject"]})
    assert g["list"][0] == {"id": e["id"], "mailboxIds": {inbox: True, archive: True},
                            "keywords": {"$seen": True, "work": True},
                            "receivedAt": "2026-11-21T10:00:05Z", "subject": "imported"}, g
    # The Email's own blob may be imported again; a stale ifInState is refused.
    _, res = j.one("Email/import", {"emails": {"a": {"blobId": e["blobId"], "mailboxIds": {archive: True}}}})
    assert list(res["created"]) == ["a"] and res["notCreated"] is None, res
    name, res = j.one("Email/import", {"ifInState": st["state"], "emails": {}})
    assert name == "error" and res == {"type": "stateMismatch"}, res


def test_jmap_import_received_at_default():
    """Email/import without receivedAt takes the date of the most recent
    (topmost) Received field, or the time of the import when there is none
    or its date does not parse (RFC 8621 §4.8); one given is kept."""
    import calendar
    s = srv()
    j = Jmap(s, *CAT)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    inbox = [m["id"] for m in mb["list"] if m["role"] == "inbox"][0]
    head = b"From: dan@remote.test\r\nTo: cat@example.test\r\nSubject: when\r\n\r\nHi.\r\n"
    msgs = {
        "two": (b"Received: from mx.remote.test by mx.example.test;\r\n"
                b"\tTue, 2 Jan 2024 11:00:00 +0100 (CET)\r\n"
                b"Received: from a by b; Mon, 1 Jan 2024 09:00:00 +0000\r\n" + head),
        "comment": b"Received: from a by b; Wed, 3 Jan 2024 12:00:00 +0000 (UTC; via x)\r\n" + head,
        "none": head,
        "bad": b"Received: from a by b; not a date\r\n" + head,
        "given": b"Received: from a by b; Mon, 1 Jan 2024 09:00:00 +0000\r\n" + head,
    }
    emails = {}
    for k, m in msgs.items():
        _, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, m, {"Content-Type": "message/rfc822"})
        emails[k] = {"blobId": up["blobId"], "mailboxIds": {inbox: True}}
    emails["given"]["receivedAt"] = "2025-05-05T05:05:05Z"
    before = int(time.time())
    _, res = j.one("Email/import", {"emails": emails})
    after = int(time.time()) + 1
    assert sorted(res["created"]) == sorted(msgs), res
    ids = [res["created"][k]["id"] for k in msgs]
    _, g = j.one("Email/get", {"ids": ids, "properties": ["receivedAt"]})
    got = {k: e["receivedAt"] for k, e in zip(msgs, g["list"])}
    assert got["two"] == "2024-01-02T10:00:00Z" and got["given"] == "2025-05-05T05:05:05Z", got
    assert got["comment"] == "2024-01-03T12:00:00Z", got
    for k in ("none", "bad"):
        t = calendar.timegm(time.strptime(got[k], "%Y-%m-%dT%H:%M:%SZ"))
        assert before <= t <= after, (k, got[k], before, after)


def test_jmap_import_bare_lf():
    """A blob with bare LF line ends is stored with CRLF, as IMAP APPEND
    stores a plain literal: the Email's size and blob and IMAP's BODY[]
    and RFC822.SIZE count the same CRLF octets (the LFs were kept: size
    counted them and BODY[] sent them, against RFC 9051 §4.3)."""
    import imaplib
    s = srv()
    j = Jmap(s, *CAT)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    inbox = [m["id"] for m in mb["list"] if m["role"] == "inbox"][0]
    crlf = (b"From: Dan <dan@remote.test>\r\nTo: cat@example.test\r\nSubject: bare lf\r\n"
            b"Message-ID: <lf1@remote.test>\r\n\r\nline one\r\nline two\r\n")
    lf = crlf.replace(b"\r\n", b"\n")
    _, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, lf, {"Content-Type": "message/rfc822"})
    _, res = j.one("Email/import", {"emails": {"k": {"blobId": up["blobId"], "mailboxIds": {inbox: True}}}})
    e = res["created"]["k"]
    assert e["size"] == len(crlf) and e["blobId"] == blob_id(crlf), (e, len(crlf))
    st, _, body = j.request("GET", "/jmap/download/%s/%s/m.eml" % (j.account, e["blobId"]))
    assert st == 200 and body == crlf, (st, body)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx)
    m.login(*CAT)
    m.select("INBOX", readonly=True)
    typ, data = m.uid("SEARCH", "HEADER", "Message-ID", "<lf1@remote.test>")
    uid = data[0].split()[-1]
    typ, data = m.uid("FETCH", uid, "(RFC822.SIZE BODY.PEEK[])")
    assert b"RFC822.SIZE %d " % len(crlf) in data[0][0] and data[0][1] == crlf, data
    m.logout()


def test_jmap_email_create():
    """Email/set create (RFC 8621 §4.6): from textBody + htmlBody +
    attachments + bodyValues and header properties, the message written
    as MIME (Message-ID and Date made), read back over download, Email/get
    and IMAP; from bodyStructure with a header:...:asText; the SetErrors."""
    import email
    import email.policy
    import re
    from test_imap import Raw
    s = srv()
    j = Jmap(s, *CAT)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    role = {m["role"]: m["id"] for m in mb["list"]}
    drafts = role["drafts"]
    pdf = b"%PDF-1.4 " + bytes(range(256)) * 20
    _, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, pdf, {"Content-Type": "application/pdf"})
    text = "Hello Zoë,\nsee the report.\n" + "long line " * 20 + "\n"
    # Names too long for one header line: RFC 2231 sections, lines short.
    long_u = "報告書" * 40 + " é.pdf"
    long_a = 'a "quoted" \\ name ' * 12 + ".txt"
    _, res = j.one("Email/set", {"create": {"d1": {
        "mailboxIds": {drafts: True}, "keywords": {"$draft": True, "$seen": True},
        "from": [{"name": "Cat Çelik", "email": "cat@example.test"}],
        "to": [{"name": "Dan, the boss", "email": "dan@remote.test"}, {"email": "eve@remote.test"}],
        "subject": "Café report", "sentAt": "2026-11-22T09:30:00+01:00",
        "inReplyTo": ["imp1@remote.test"], "references": ["imp0@remote.test", "imp1@remote.test"],
        "textBody": [{"partId": "t", "type": "text/plain"}],
        "htmlBody": [{"partId": "h", "type": "text/html"}],
        "attachments": [{"blobId": up["blobId"], "type": "application/pdf", "name": "rapport é.pdf"},
                        {"blobId": up["blobId"], "type": "application/pdf", "name": long_u},
                        {"blobId": up["blobId"], "type": "text/plain", "name": long_a}],
        "bodyValues": {"t": {"value": text}, "h": {"value": "<p>Hello Zo&euml;</p>"}},
    }}})
    assert res["notCreated"] is None, res
    c = res["created"]["d1"]
    # receivedAt left to its default is named too (RFC 8620 §5.3).
    assert set(c) == {"id", "blobId", "threadId", "size", "receivedAt"}, c
    st, hd, raw = j.request("GET", "/jmap/download/%s/%s/m.eml" % (j.account, c["blobId"]))
    assert st == 200 and len(raw) == c["size"], (st, len(raw))
    m = email.message_from_bytes(raw, policy=email.policy.default)
    assert m["Subject"] == "Café report" and m["From"].addresses[0].display_name == "Cat Çelik", raw[:400]
    assert [a.display_name for a in m["To"].addresses] == ["Dan, the boss", ""], m["To"]
    # sentAt is header:Date:asDate (RFC 8621 §4.1.3): its offset is kept.
    assert m["Date"] == "Sun, 22 Nov 2026 09:30:00 +0100", m["Date"]
    assert re.fullmatch(r"<[0-9a-f]{24}@mx\.example\.test>", m["Message-ID"]), m["Message-ID"]
    assert m["In-Reply-To"] == "<imp1@remote.test>" and m["References"] == "<imp0@remote.test> <imp1@remote.test>"
    assert m.get_content_type() == "multipart/mixed"
    assert max(len(x) for x in raw.split(b"\r\n")) <= 78, raw
    alt, att, att2, att3 = m.get_payload()
    assert att2.get_filename() == long_u and att3.get_filename() == long_a, (att2, att3)
    assert alt.get_content_type() == "multipart/alternative"
    tpart, hpart = alt.get_payload()
    assert tpart.get_content().replace("\r\n", "\n") == text and tpart.get_content_charset() == "utf-8", str(tpart)
    assert hpart.get_content_type() == "text/html" and "Zo&euml;" in hpart.get_content()
    assert att.get_content_type() == "application/pdf" and att.get_payload(decode=True) == pdf
    assert att.get_filename() == "rapport é.pdf", att.get_filename()

    _, g = j.one("Email/get", {"ids": [c["id"]], "properties": [
        "mailboxIds", "keywords", "subject", "from", "textBody", "attachments", "bodyValues",
        "sentAt"], "fetchTextBodyValues": True})
    e = g["list"][0]
    assert e["sentAt"] == "2026-11-22T09:30:00+01:00", e["sentAt"]
    assert e["mailboxIds"] == {drafts: True} and e["keywords"] == {"$draft": True, "$seen": True}
    assert e["subject"] == "Café report" and e["from"] == [{"name": "Cat Çelik", "email": "cat@example.test"}]
    tid = e["textBody"][0]["partId"]
    assert e["bodyValues"][tid]["value"].replace("\r\n", "\n") == text, e["bodyValues"]
    assert e["attachments"][0]["name"] == "rapport é.pdf" and e["attachments"][0]["size"] == len(pdf)
    assert [a["name"] for a in e["attachments"][1:]] == [long_u, long_a], e["attachments"]

    r = Raw(s)
    r.send("l LOGIN %s %s\r\n" % CAT)
    r.until_tag("l")
    r.send("s SELECT Drafts\r\nf FETCH 1:* (FLAGS EMAILID)\r\n")
    r.until_tag("s")
    out = b"".join(r.until_tag("f"))
    assert b"\\Draft" in out and c["id"].encode() in out, out

    # bodyStructure, an attachment forwarded by its part blobId, a custom field.
    _, res = j.one("Email/set", {"create": {"d2": {
        "mailboxIds": {drafts: True}, "subject": "plain", "header:X-Note:asText": "noté",
        "bodyStructure": {"type": "multipart/mixed", "subParts": [
            {"type": "text/plain", "partId": "1"},
            {"blobId": e["attachments"][0]["blobId"], "type": "application/pdf", "name": "fwd.pdf"}]},
        "bodyValues": {"1": {"value": "ASCII only.\n"}}}}})
    assert "d2" in res["created"], res
    c2 = res["created"]["d2"]
    _, _, raw2 = j.request("GET", "/jmap/download/%s/%s/m.eml" % (j.account, c2["blobId"]))
    m2 = email.message_from_bytes(raw2, policy=email.policy.default)
    assert m2["X-Note"] == "noté" and m2["Subject"] == "plain", raw2[:300]
    p1, p2 = m2.get_payload()
    assert p1.get_content().replace("\r\n", "\n") == "ASCII only.\n" and p1["Content-Transfer-Encoding"] == "7bit"
    assert p2.get_payload(decode=True) == pdf and p2.get_filename() == "fwd.pdf"

    base = {"mailboxIds": {drafts: True}}
    _, res = j.one("Email/set", {"create": {
        "e1": dict(base, textBody=[{"partId": "x"}], bodyValues={}),
        # blobNotFound lists every blobId that names nothing (§4.6).
        "e2": dict(base, attachments=[{"blobId": "B" + "1" * 64},
                                      {"blobId": e["attachments"][0]["blobId"]},
                                      {"blobId": "B" + "2" * 64}]),
        "e3": dict(base, id="E00000001"),
        "e4": dict(base, bodyStructure={"partId": "1"}, textBody=[{"partId": "1"}],
                   bodyValues={"1": {"value": "x"}}),
        "e5": dict(base, **{"from": [{"email": "bad <x>"}]}),
        "e6": dict(base, sentAt="yesterday"),
        "e7": dict(base, subject="once", **{"header:Subject": " twice"}),
        "e8": {"subject": "no mailbox"},
        # RFC 8621 §4.6: textBody is one text/plain part, htmlBody one
        # text/html part; a type that only starts so is neither.
        "e9": dict(base, textBody=[{"partId": "1", "type": "text/plainx"}],
                   bodyValues={"1": {"value": "x"}}),
        "e10": dict(base, htmlBody=[{"partId": "1", "type": "text/html2"}],
                    bodyValues={"1": {"value": "x"}}),
    }})
    nc = res["notCreated"]
    assert res["created"] is None, res
    assert {k: (v["type"], v.get("properties")) for k, v in nc.items()} == {
        "e1": ("invalidProperties", ["textBody"]), "e2": ("blobNotFound", None),
        "e3": ("invalidProperties", ["id"]), "e4": ("invalidProperties", ["bodyStructure"]),
        "e5": ("invalidProperties", ["from"]), "e6": ("invalidProperties", ["sentAt"]),
        "e7": ("invalidProperties", ["header:Subject"]), "e8": ("invalidProperties", ["mailboxIds"]),
        "e9": ("invalidProperties", ["textBody"]), "e10": ("invalidProperties", ["htmlBody"]),
    }, nc
    assert nc["e2"]["notFound"] == ["B" + "1" * 64, "B" + "2" * 64], nc


def test_jmap_email_parse():
    """Email/parse (RFC 8621 §4.9): an uploaded message and an attached
    message/rfc822 part parsed without storing them; metadata null,
    notFound and notParsable."""
    s = srv()
    j = Jmap(s, *EVE)
    inner = ("From: Fay <fay@remote.test>\r\nTo: eve@example.test\r\nSubject: inner one\r\n"
             "Message-ID: <in1@remote.test>\r\n\r\nInner text.\r\n")
    outer = ("From: Gus <gus@remote.test>\r\nTo: eve@example.test\r\nSubject: =?utf-8?q?outer_=C3=A9?=\r\n"
             "Message-ID: <out1@remote.test>\r\nMIME-Version: 1.0\r\n"
             "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\n"
             "See attached.\r\n--q\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "--q--\r\n").encode()
    _, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, outer)
    _, _, junk = j.request("POST", "/jmap/upload/%s/" % j.account, b"\x00junk")
    missing = "B" + "2" * 64
    _, r = j.one("Email/parse", {"blobIds": [up["blobId"], junk["blobId"], missing],
                                 "properties": ["id", "blobId", "size", "receivedAt", "subject", "from",
                                                "messageId", "attachments", "bodyValues", "textBody"],
                                 "fetchTextBodyValues": True})
    assert r["notParsable"] == [junk["blobId"]] and r["notFound"] == [missing], r
    e = r["parsed"][up["blobId"]]
    assert e["id"] is None and e["receivedAt"] is None and e["blobId"] == up["blobId"], e
    assert e["size"] == len(outer) and e["subject"] == "outer é", e
    assert e["from"] == [{"name": "Gus", "email": "gus@remote.test"}] and e["messageId"] == ["out1@remote.test"]
    tid = e["textBody"][0]["partId"]
    assert e["bodyValues"][tid]["value"] == "See attached.", e["bodyValues"]
    # The parsed message's parts have blobIds that download and parse
    # (RFC 8621 §4.9: an attachment of a message not stored is still
    # fetched by its blobId), a message in it as deep; they were
    # "P00000000_<n>", which named nothing. Another account's are not found.
    _, r = j.one("Email/parse", {"blobIds": [up["blobId"]], "properties": ["attachments"]})
    att = r["parsed"][up["blobId"]]["attachments"]
    assert [a["type"] for a in att] == ["message/rfc822"], att
    st, hd, body = j.request("GET", "/jmap/download/%s/%s/in.eml" % (j.account, att[0]["blobId"]))
    # The CRLF before "--q" is the boundary's.
    assert st == 200 and body == inner.encode()[:-2] and hd["content-type"] == "message/rfc822", (st, hd, body)
    _, r = j.one("Email/parse", {"blobIds": [att[0]["blobId"]], "properties": ["subject", "textBody"]})
    ie = r["parsed"][att[0]["blobId"]]
    assert ie["subject"] == "inner one", r
    st, hd, body = j.request("GET", "/jmap/download/%s/%s/t.txt" % (j.account, ie["textBody"][0]["blobId"]))
    assert st == 200 and body == b"Inner text.", (st, body)
    for bad in (att[0]["blobId"] + "9", att[0]["blobId"][:-1] + "02", up["blobId"] + "_"):
        st, _, _ = j.request("GET", "/jmap/download/%s/%s/x" % (j.account, bad))
        assert st == 404, (bad, st)
    other = Jmap(s, *CAT)
    st, _, _ = other.request("GET", "/jmap/download/%s/%s/x" % (other.account, att[0]["blobId"]))
    assert st == 404, st
    # Nothing was stored.
    _, q = j.one("Email/query", {})
    assert q["ids"] == [], q
    # Store it, then parse its attached message by the part's blobId (the
    # default properties: no id, no bodyStructure).
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    inbox = [m["id"] for m in mb["list"] if m["role"] == "inbox"][0]
    _, res = j.one("Email/import", {"emails": {"o": {"blobId": up["blobId"], "mailboxIds": {inbox: True}}}})
    eid = res["created"]["o"]["id"]
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["attachments"]})
    part = g["list"][0]["attachments"][0]
    assert part["type"] == "message/rfc822", part
    _, r = j.one("Email/parse", {"blobIds": [part["blobId"]]})
    e = r["parsed"][part["blobId"]]
    assert "id" not in e and "bodyStructure" not in e and "headers" not in e, e
    assert e["subject"] == "inner one" and e["messageId"] == ["in1@remote.test"], e
    assert r["notFound"] is None and r["notParsable"] is None, r
    # The stored email's attached message: its parts download too.
    _, r = j.one("Email/parse", {"blobIds": [part["blobId"]], "properties": ["textBody"]})
    tb = r["parsed"][part["blobId"]]["textBody"][0]["blobId"]
    assert tb == part["blobId"] + "_0", tb
    st, _, body = j.request("GET", "/jmap/download/%s/%s/t.txt" % (j.account, tb))
    assert st == 200 and body == b"Inner text.", (st, body)
    # Blob/lookup and Blob/copy know those part ids too (RFC 9404 §4.4,
    # RFC 8620 §6.3): a part of a blob is used by what uses the blob, one
    # of an email's part by that email; a part that is not there is not
    # found. They were notFound and blobNotFound.
    from jmapc import CORE, MAIL
    u = (CORE, MAIL, "urn:ietf:params:jmap:blob")
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["threadId", "mailboxIds"]})
    want = {"Email": [eid], "Thread": [g["list"][0]["threadId"]], "Mailbox": [inbox]}
    nopart = [att[0]["blobId"][:-1] + "7", tb[:-1] + "5", up["blobId"] + "_x", "P_1_1", "x_1"]
    _, r = j.one("Blob/lookup", {"typeNames": ["Email", "Thread", "Mailbox"],
                                 "ids": [att[0]["blobId"], tb] + nopart}, u)
    assert r["list"] == [{"id": att[0]["blobId"], "matchedIds": want},
                         {"id": tb, "matchedIds": want}], r
    assert r["notFound"] == nopart, r
    name, r = j.one("Blob/copy", {"fromAccountId": j.account, "blobIds": [att[0]["blobId"], tb] + nopart},
                    using=(CORE,))
    assert name == "Blob/copy" and r["copied"] == {att[0]["blobId"]: att[0]["blobId"], tb: tb}, r
    assert r["notCopied"] == {x: {"type": "notFound"} for x in nopart}, r
    # Another account's blob is not found; a part id names a part of that
    # account's own email of that number, never Eve's.
    cat = Jmap(s, *CAT)
    _, r = cat.one("Email/parse", {"blobIds": [up["blobId"], part["blobId"]], "properties": ["subject"]})
    assert r["notFound"][0] == up["blobId"], r
    assert (r["parsed"] or {}).get(part["blobId"], {}).get("subject") != "inner one", r
    # Nothing parsed: "parsed" is null (RFC 8621 section 4.9), as
    # notParsable and notFound are when empty; it was {}.
    _, r = j.one("Email/parse", {"blobIds": [junk["blobId"], missing]})
    assert r["parsed"] is None and r["notParsable"] == [junk["blobId"]], r
    assert r["notFound"] == [missing], r
    _, r = cat.one("Blob/lookup", {"typeNames": ["Email"], "ids": [att[0]["blobId"]]}, u)
    assert r["list"] == [] and r["notFound"] == [att[0]["blobId"]], r


def test_jmap_copy():
    """Email/copy and Blob/copy from an account that shares nothing with
    the user: another fromAccountId (real or not) is fromAccountNotFound
    (between shared accounts: test_jmap_share_copy); Email/copy within
    the account is invalidArguments (RFC 8620 §5.4); Blob/copy within it
    answers each readable blob with its own id and notFound else (RFC 8620
    §6.3; it was blobNotFound, Email/import's error)."""
    from jmapc import CORE
    s = srv()
    j = Jmap(s, *BOB)
    eve = Jmap(s, *EVE)
    _, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, b"copy me")
    for other in (eve.account, "Affffffff"):
        name, r = j.one("Email/copy", {"fromAccountId": other, "create": {}})
        assert name == "error" and r == {"type": "fromAccountNotFound"}, r
        name, r = j.one("Blob/copy", {"fromAccountId": other, "blobIds": [up["blobId"]]}, using=(CORE,))
        assert name == "error" and r == {"type": "fromAccountNotFound"}, r
    name, r = j.one("Email/copy", {"fromAccountId": j.account, "create": {}})
    assert name == "error" and r["type"] == "invalidArguments", r
    name, r = j.one("Email/copy", {"fromAccountId": j.account, "accountId": eve.account, "create": {}})
    assert name == "error" and r == {"type": "accountNotFound"}, r
    missing = "B" + "3" * 64
    name, r = j.one("Blob/copy", {"fromAccountId": j.account, "blobIds": [up["blobId"], missing]},
                    using=(CORE,))
    assert name == "Blob/copy" and r == {
        "fromAccountId": j.account, "accountId": j.account, "copied": {up["blobId"]: up["blobId"]},
        "notCopied": {missing: {"type": "notFound"}}}, r



def test_jmap_copy_destroy_original():
    """Email/copy's onSuccessDestroyOriginal (RFC 8620 §5.4) destroys only
    what was copied, through an Email/set answered after the copy with the
    same call id. With one account per session no copy succeeds, so no
    Email/set follows and the original stays, whatever ifFromInState and
    destroyFromIfInState say; their types are checked."""
    s = srv()
    j = Jmap(s, *BOB)
    eve = Jmap(s, *EVE)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    inbox = [m["id"] for m in mb["list"] if m["role"] == "inbox"][0]
    _, r = j.one("Email/set", {"create": {"o": {
        "mailboxIds": {inbox: True}, "subject": "original",
        "bodyValues": {"1": {"value": "x"}}, "textBody": [{"partId": "1"}]}}})
    eid = r["created"]["o"]["id"]
    for frm, want in ((eve.account, "fromAccountNotFound"), (j.account, "invalidArguments")):
        r = j.call([["Email/copy", {"fromAccountId": frm, "accountId": j.account,
                                    "onSuccessDestroyOriginal": True, "ifFromInState": None,
                                    "destroyFromIfInState": None,
                                    "create": {"k": {"id": eid, "mailboxIds": {inbox: True}}}}, "cp"],
                    ["Email/get", {"accountId": j.account, "ids": [eid], "properties": ["subject"]},
                     "g"]])
        (n0, r0, c0), (n1, r1, c1) = r["methodResponses"]
        assert (n0, r0["type"], c0) == ("error", want, "cp"), r
        assert (n1, c1) == ("Email/get", "g") and r1["list"] == [{"id": eid, "subject": "original"}], r
    for arg, v in (("onSuccessDestroyOriginal", "yes"), ("destroyFromIfInState", 5),
                   ("ifFromInState", [])):
        n, r = j.one("Email/copy", {"fromAccountId": eve.account, "create": {}, arg: v})
        assert n == "error" and r["type"] == "invalidArguments" and r["arguments"] == [arg], r

def test_jmap_blob_methods():
    """RFC 9404: Blob/upload from text, base64 and a range of another blob
    (creation ids usable at once), Blob/get with data forms, digests,
    offset/length, Blob/lookup to Emails, Threads and Mailboxes."""
    from jmapc import CORE, MAIL
    BLOB = "urn:ietf:params:jmap:blob"
    s = srv()
    j = Jmap(s, *BOB)
    u = (CORE, MAIL, BLOB)
    _, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, b"0123456789")
    r = j.call([["Blob/upload", {"accountId": j.account, "create": {
        "t": {"data": [{"data:asText": "Hello "}, {"data:asBase64": base64.b64encode(b"w\xc3\xb6rld").decode()},
                       {"blobId": up["blobId"], "offset": 2, "length": 3}], "type": "text/plain"},
        "bad": {"data": [{"data:asText": "x", "data:asBase64": "eA=="}]},
        "nf": {"data": [{"blobId": "B" + "4" * 64}]},
        "past": {"data": [{"blobId": up["blobId"], "offset": 8, "length": 5}]},
    }}, "0"]], u)
    (n0, r0, _), = r["methodResponses"]
    data = b"Hello w\xc3\xb6rld234"
    bid = blob_id(data)
    r = j.call([["Blob/get", {"accountId": j.account, "ids": [bid, up["blobId"], "B" + "5" * 64],
                              "properties": ["data:asText", "data:asBase64", "size", "digest:sha",
                                             "digest:sha-256"]}, "1"],
                ["Blob/get", {"accountId": j.account, "ids": [bid], "offset": 6, "length": 100}, "2"]], u)
    (n1, r1, _), (n2, r2, _) = r["methodResponses"]
    assert r0["created"] == {"t": {"id": bid, "type": "text/plain", "size": len(data)}}, r0
    assert {k: v["type"] for k, v in r0["notCreated"].items()} == {
        "bad": "invalidProperties", "nf": "blobNotFound", "past": "invalidProperties"}, r0
    assert r1["notFound"] == ["B" + "5" * 64], r1
    g = {x["id"]: x for x in r1["list"]}
    assert g[bid] == {"id": bid, "data:asText": data.decode(), "data:asBase64": base64.b64encode(data).decode(),
                      "size": len(data), "digest:sha": base64.b64encode(hashlib.sha1(data).digest()).decode(),
                      "digest:sha-256": base64.b64encode(hashlib.sha256(data).digest()).decode()}, g[bid]
    assert r2["list"] == [{"id": bid, "data:asText": data[6:].decode(), "isTruncated": True, "size": len(data)}], r2
    # A blob just uploaded is read by its creation id in the same request
    # (RFC 9404 §4.1.1's example): listed under the id it got; an unknown
    # creation id is not found. Both were invalidArguments.
    r = j.call([["Blob/upload", {"accountId": j.account, "create": {
        "b4": {"data": [{"data:asText": "The quick brown fox"}]}}}, "3"],
        ["Blob/get", {"accountId": j.account, "ids": ["#b4", "#nope"],
                      "properties": ["data:asText", "size"]}, "4"]], u)
    (_, r3, _), (n4, r4, _) = r["methodResponses"]
    assert n4 == "Blob/get" and r4["list"] == [{"id": r3["created"]["b4"]["id"],
                                                "data:asText": "The quick brown fox", "size": 19}], r4
    assert r4["notFound"] == ["#nope"], r4
    # Binary: data gives base64 and says so.
    _, _, bin_up = j.request("POST", "/jmap/upload/%s/" % j.account, b"\xff\xfe\x00")
    _, r = j.one("Blob/get", {"ids": [bin_up["blobId"]]}, u)
    assert r["list"] == [{"id": bin_up["blobId"], "data:asBase64": "//4A", "isEncodingProblem": True,
                          "size": 3}], r
    # Lookup: a message imported here, by its blobId and its attachment's.
    _, _, mup = j.request("POST", "/jmap/upload/%s/" % j.account, ATTACH.replace("dl1@", "lk1@").encode())
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    arch = [m["id"] for m in mb["list"] if m["role"] == "archive"][0]
    _, res = j.one("Email/import", {"emails": {"m": {"blobId": mup["blobId"], "mailboxIds": {arch: True}}}})
    _, em = j.one("Email/get", {"ids": [res["created"]["m"]["id"]],
                                "properties": ["blobId", "threadId", "mailboxIds", "attachments"]})
    e = em["list"][0]
    _, r = j.one("Blob/lookup", {"typeNames": ["Email", "Thread", "Mailbox"],
                                 "ids": [e["blobId"], e["attachments"][0]["blobId"], up["blobId"], "B" + "6" * 64]}, u)
    want = {"Email": [e["id"]], "Thread": [e["threadId"]], "Mailbox": list(e["mailboxIds"])}
    assert r["list"] == [{"id": e["blobId"], "matchedIds": want},
                         {"id": e["attachments"][0]["blobId"], "matchedIds": want},
                         {"id": up["blobId"], "matchedIds": {"Email": [], "Thread": [], "Mailbox": []}}], r
    assert r["notFound"] == ["B" + "6" * 64], r
    name, r = j.one("Blob/lookup", {"typeNames": ["Calendar"], "ids": []}, u)
    assert name == "error" and r["type"] == "unknownDataType", r
    # Without the capability in "using": unknownMethod.
    name, r = j.one("Blob/get", {"ids": []})
    assert name == "error" and r["type"] == "unknownMethod", r


def test_jmap_blob_upload_source_reads_bounded():
    """Each Blob/upload source reads its whole blob to take a range of
    it: one call reads at most four times maxSizeUpload, and at most 500
    blobs, from its sources, and the creations past that are rateLimit
    (RFC 8620 §5.3), so a small request cannot make the server copy
    terabytes (500 creations of 64 one-octet ranges of a 50 MB blob took
    an hour of CPU) or walk the account's emails 32,000 times."""
    from jmapc import CORE, MAIL
    s = srv()
    j = Jmap(s, *CAT)
    big = bytes(range(256)) * 4096 * 2  # 2 MiB
    _, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, big)
    one = [{"blobId": up["blobId"], "offset": k, "length": 1} for k in range(64)]
    _, r = j.one("Blob/upload", {"create": {"c%d" % i: {"data": one} for i in range(2)}},
                 (CORE, MAIL, "urn:ietf:params:jmap:blob"))
    assert sorted(r["created"]) == ["c0"], r  # 128 reads of 2 MiB: 268 MB > 200 MB
    assert r["created"]["c0"]["size"] == 64, r
    assert r["notCreated"]["c1"]["type"] == "rateLimit", r
    # And at most 500 sources read (maxObjectsInSet): finding a stored
    # message's blob walks all the account's emails.
    _, _, tiny = j.request("POST", "/jmap/upload/%s/" % j.account, b"t")
    one = [{"blobId": tiny["blobId"]}] * 64
    _, r = j.one("Blob/upload", {"create": {"c%d" % i: {"data": one} for i in range(8)}},
                 (CORE, MAIL, "urn:ietf:params:jmap:blob"))
    assert sorted(r["created"]) == ["c%d" % i for i in range(7)], r  # 7 x 64 = 448 reads
    assert r["notCreated"]["c7"]["type"] == "rateLimit", r


_quota = {}


def quota_account():
    """An account of the module's server with a small quota (3000
    octets): (user, password) and the room it leaves."""
    s = srv()
    if not _quota:
        user, pw = "quo@example.test", "quo-password-1"
        s.cli("account", "add", user, "--quota", "3000", input=pw + "\n")
        for line in s.cli("account", "list").stdout.decode().splitlines():
            if line.split()[:1] == [user]:
                _quota["room"] = 3000 - int(line.split("used=")[1].split()[0])
        _quota["user"] = (user, pw)
    return _quota["user"], _quota["room"]


def test_blob_upload_within_quota():
    """Blob/upload (RFC 9404) makes uploads, held to the account's quota
    as the upload URL is: a blob that does not fit with what the account
    stores and the user's other live uploads there is overQuota in
    notCreated, the rest of the call going on; the same bytes again take
    no more room (all were made past the quota, to live a day)."""
    BLOB = "urn:ietf:params:jmap:blob"
    s = srv()
    quo, room = quota_account()
    j = Jmap(s, *quo)
    a, b = "a" * (room * 2 // 3), "b" * (room // 2)
    _, r = j.one("Blob/upload", {"create": {
        "fits": {"data": [{"data:asText": a}]},
        "past": {"data": [{"data:asText": b}]},
        "again": {"data": [{"data:asText": a}]},
        "small": {"data": [{"data:asText": "small"}]}}}, (CORE, MAIL, BLOB))
    assert sorted(r["created"]) == ["again", "fits", "small"], r
    assert r["created"]["again"]["id"] == r["created"]["fits"]["id"] == blob_id(a.encode()), r
    assert list(r["notCreated"]) == ["past"], r
    assert r["notCreated"]["past"]["type"] == "overQuota", r
    # The upload URL counts what Blob/upload made: b no more fits there.
    st, _, body = j.request("POST", "/jmap/upload/%s/" % j.account, b.encode(),
                            {"Content-Type": "application/octet-stream"})
    assert st == 413 and body["type"] == "urn:ietf:params:jmap:error:overQuota", (st, body)


def test_blob_copy_within_target_quota():
    """Blob/copy (RFC 8620 section 6.3) into an account shared with the
    user makes an upload there, held to that account's quota (not the
    user's: Bob has none): one that does not fit is overQuota in
    notCopied and not there, the others are copied (all were)."""
    s = srv()
    quo, room = quota_account()
    target = Jmap(s, *quo).account
    bob = Jmap(s, *BOB)
    ids = []
    for data in (b"B" * (room + 1), b"copied into quo's account"):
        st, _, up = bob.request("POST", "/jmap/upload/%s/" % bob.account, data)
        assert st == 201, (st, up)
        ids.append(up["blobId"])
    s.cli("acl", "set", quo[0], "INBOX", BOB[0], "lri")
    try:
        _, r = bob.one("Blob/copy", {"fromAccountId": bob.account, "accountId": target,
                                     "blobIds": ids}, (CORE,))
        assert r["copied"] == {ids[1]: ids[1]}, r
        assert list(r["notCopied"]) == [ids[0]], r
        assert r["notCopied"][ids[0]]["type"] == "overQuota", r
        for blob, want in ((ids[0], 404), (ids[1], 200)):
            st, _, _ = bob.request("GET", "/jmap/download/%s/%s/x.bin" % (target, blob))
            assert st == want, (blob, st)
    finally:
        s.cli("acl", "del", quo[0], "INBOX", BOB[0], check=False)


def test_jmap_download_while_an_email_holds_it():
    """A message blob is found through the store's index by blob id: it
    downloads while any email of the account holds those bytes (two IMAP
    APPENDs of the same message are two emails with one blobId), still
    after one of them is destroyed, and no longer once the last is; never
    for another account."""
    import imaplib
    s = srv()
    j = Jmap(s, *CAT)
    eve = Jmap(s, *EVE)
    msg = b"From: a@remote.test\r\nSubject: kept twice\r\nMessage-ID: <twice@x>\r\n\r\nsame bytes\r\n"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    im = imaplib.IMAP4("127.0.0.1", s.imap_port)
    im.starttls(ssl_context=ctx)
    im.login(*CAT)
    for _ in range(2):
        assert im.append("INBOX", None, None, msg)[0] == "OK"
    im.logout()
    _, q = j.one("Email/query", {"filter": {"subject": "kept twice"}})
    assert len(q["ids"]) == 2, q
    _, g = j.one("Email/get", {"ids": q["ids"], "properties": ["blobId"]})
    bid = blob_id(msg)
    assert [e["blobId"] for e in g["list"]] == [bid, bid], g
    path = "/jmap/download/%s/%s/m.eml" % (j.account, bid)
    st, _, body = j.request("GET", path)
    assert st == 200 and body == msg, (st, body)
    st, _, _ = eve.request("GET", "/jmap/download/%s/%s/m.eml" % (eve.account, bid))
    assert st == 404, st
    for k, left in ((0, 200), (1, 404)):
        _, r = j.one("Email/set", {"destroy": [q["ids"][k]]})
        assert r["destroyed"] == [q["ids"][k]], r
        st, _, body = j.request("GET", path)
        assert st == left and (left == 404 or body == msg), (k, st)


SCRIPTED = ("From: alice@remote.test\r\nTo: dee@example.test\r\nSubject: scripted\r\n"
            "Message-ID: <dl-active@remote.test>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
            "--b\r\nContent-Type: text/plain\r\n\r\nsee the files\r\n"
            "--b\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename=p.html\r\n\r\n"
            "<script>alert(document.cookie)</script>\r\n"
            "--b\r\nContent-Type: image/svg+xml\r\nContent-Disposition: attachment; filename=i.svg\r\n\r\n"
            "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>\r\n"
            "--b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=i.png\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
            "--b--\r\n")


def test_jmap_download_never_active_on_the_origin():
    """A download is served on the origin of the admin pages, whose policy
    lets scripts of that origin run: a mail attachment fetched as
    text/javascript (the client names the type, RFC 8620 §6.2) could run
    as a script there, text/html, SVG or XHTML as a page. Such types are
    sent as application/octet-stream (nosniff then keeps the browser from
    running or rendering it), and every download carries a policy of its
    own, a sandbox with nothing allowed. Passive types (images, PDF, plain
    text, a message) keep theirs, so a webmail client still shows them."""
    from test_imap_search_ext import wait_count
    dee = ("dee@example.test", "dee-password-1")
    s = shared_server([dee])  # its own: the message below is the mailbox's
    j = Jmap(s, *dee)
    data = b"alert(document.cookie)\n"
    _, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, data)
    active = ("text/javascript", "application/javascript; charset=utf-8", "TEXT/HTML",
              "text/html;charset=utf-8", "application/xhtml+xml", "image/svg+xml",
              "text/xml", "application/xml", "application/rss+xml", "text/css",
              "application/x-ecmascript", "text/xsl", "text/plain, text/html",
              "text/plain,text/javascript", "multipart/x-mixed-replace; boundary=x",
              "text /html", "text/html\t")
    for t in active:
        path = "/jmap/download/%s/%s/x?accept=%s" % (j.account, up["blobId"],
                                                    urllib.parse.quote(t))
        st, hd, body = j.request("GET", path)
        assert st == 200 and body == data, (t, st, body)
        assert hd["content-type"] == "application/octet-stream", (t, hd)
        assert hd["x-content-type-options"] == "nosniff", hd
        assert hd["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'; sandbox", (t, hd)
        assert hd["content-disposition"].startswith("attachment;"), hd
    for t in ("image/png", "image/jpeg", "application/pdf", "text/plain; charset=utf-8",
              "message/rfc822", "application/zip", "audio/ogg"):
        path = "/jmap/download/%s/%s/x?accept=%s" % (j.account, up["blobId"],
                                                    urllib.parse.quote(t))
        st, hd, body = j.request("GET", path)
        assert st == 200 and hd["content-type"] == t, (t, hd)
        assert hd["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'; sandbox", (t, hd)
    # The parts' own types, when the client names none.
    deliver(s, dee[0], SCRIPTED)
    wait_count(s, 1, account=dee[0])
    _, q = j.one("Email/query", {"filter": {"subject": "scripted"}})
    _, g = j.one("Email/get", {"ids": q["ids"], "properties": ["attachments"]})
    got = {}
    for a in g["list"][0]["attachments"]:
        st, hd, body = j.request("GET", "/jmap/download/%s/%s/f" % (j.account, a["blobId"]))
        assert st == 200, (a, st)
        got[a["type"]] = hd["content-type"]
    assert got == {"text/html": "application/octet-stream",
                   "image/svg+xml": "application/octet-stream",
                   "image/png": "image/png"}, got
