"""JMAP uploads bounded by what the server can make of them, on one server
with a small TERN_MAX_MESSAGE_SIZE (100K):

- maxSizeUpload and maxSizeBlobSet (RFC 8620 §2, RFC 9404) are the largest
  message (an upload may be a whole message for Email/import), and
  maxSizeAttachmentsPerEmail (RFC 8621 §1.3.1) what base64 leaves of it;
  /upload and Blob/upload keep to them (413 with the limit problem, tooLarge).
- An upload to an account with a quota must fit it with what the account
  stores and the user's other live uploads (413, overQuota); an upload
  imported as an email is charged once, as the email; parallel uploads
  cannot each take the same room, and the same bytes again take none.
- At most JMAP_UPLOAD_MAX_LIVE live uploads per user in an account."""
import base64
import http.client
import json
import os
import re

from jmapc import CORE, MAIL, Jmap, _ctx, shared_server

BOB = ("bob@example.test", "bob-password-1")
MAX = 100 * 1024
BLOB = "urn:ietf:params:jmap:blob"
MAX_LIVE = 10000  # JMAP_UPLOAD_MAX_LIVE


def srv():
    return shared_server([BOB], env={"TERN_MAX_MESSAGE_SIZE": "100K"})


def upload(j, data):
    return j.request("POST", "/jmap/upload/%s/" % j.account, data,
                     {"Content-Type": "application/octet-stream"})


def add(s, user, quota):
    pw = "pw-%s-password" % user.split("@")[0]
    s.cli("account", "add", user, "--quota", str(quota), input=pw + "\n")
    return user, pw


def used(s, user):
    for line in s.cli("account", "list").stdout.decode().splitlines():
        f = line.split()
        if f and f[0] == user:
            return int(re.search(r"used=(\d+)", line).group(1))
    raise AssertionError("no account %s" % user)


def msg(n, tag):
    """A message of n octets in lines of 76, unlike any other of another
    tag (uploads are by content)."""
    head = b"Subject: %s\r\n\r\n" % tag.encode()
    data = (head + (b"x" * 74 + b"\r\n") * (n // 76 + 1))[:n]
    return data[:-1] + b"y" if data.endswith(b"\r") else data


def test_upload_limits_follow_message_size():
    s = srv()
    j = Jmap(s, *BOB)
    sess = j.session()
    assert sess["capabilities"][CORE]["maxSizeUpload"] == MAX, sess["capabilities"][CORE]
    acct = sess["accounts"][j.account]["accountCapabilities"]
    assert acct[BLOB]["maxSizeBlobSet"] == MAX, acct[BLOB]
    # Attachments are base64 in the message: 57 octets a 78-octet line.
    att = acct[MAIL]["maxSizeAttachmentsPerEmail"]
    assert att == (MAX - MAX // 32) // 78 * 57, att
    # One octet past the limit: 413 with the limit problem; at it: taken.
    st, _, body = upload(j, b"x" * (MAX + 1))
    assert st == 413 and body["type"] == "urn:ietf:params:jmap:error:limit", (st, body)
    assert body["limit"] == "maxSizeUpload", body
    data = msg(MAX, "at the limit")
    st, _, body = upload(j, data)
    assert st == 201 and body["size"] == MAX, (st, body)
    # ... and what is uploaded at the limit imports (it is a message).
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    inbox = [m["id"] for m in mb["list"] if m["role"] == "inbox"][0]
    _, r = j.one("Email/import", {"emails": {"m": {"blobId": body["blobId"],
                                                   "mailboxIds": {inbox: True}}}})
    assert r["created"]["m"]["size"] == MAX, r
    # Blob/upload keeps to maxSizeBlobSet.
    _, r = j.one("Blob/upload", {"create": {"a": {"data": [{"data:asText": "y" * (MAX + 1)}]},
                                            "b": {"data": [{"data:asText": "y" * MAX}]}}},
                 using=(CORE, BLOB))
    assert r["notCreated"]["a"]["type"] == "tooLarge", r
    assert r["created"]["b"]["size"] == MAX, r


def test_upload_counts_in_quota():
    s = srv()
    user, pw = add(s, "uq@example.test", 50000)
    j = Jmap(s, user, pw)
    a, b, c, d = (msg(20000, "a"), msg(20000, "b"), msg(20000, "c"), msg(9000, "d"))
    st, _, ua = upload(j, a)
    assert st == 201, (st, ua)
    st, _, ub = upload(j, b)
    assert st == 201, (st, ub)
    # 40000 of 50000 taken by uploads: 20000 more is over the quota.
    st, _, body = upload(j, c)
    assert st == 413 and body["type"] == "urn:ietf:params:jmap:error:overQuota", (st, body)
    st, _, ud = upload(j, d)
    assert st == 201, (st, ud)
    st, _, body = upload(j, b"z" * 1001)
    assert st == 413 and body["type"] == "urn:ietf:params:jmap:error:overQuota", (st, body)
    # a becomes an email: charged as the email, no longer as an upload.
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    inbox = [m["id"] for m in mb["list"] if m["role"] == "inbox"][0]
    _, r = j.one("Email/import", {"emails": {"a": {"blobId": ua["blobId"],
                                                   "mailboxIds": {inbox: True}}}})
    assert r["created"] and "a" in r["created"], r
    u = used(s, user)
    room = 50000 - u - 20000 - 9000
    assert room > 0, u
    st, _, body = upload(j, msg(room, "room"))
    assert st == 201, (st, body, u)
    st, _, body = upload(j, b"w")
    assert st == 413 and body["type"] == "urn:ietf:params:jmap:error:overQuota", (st, body)
    # An account without a quota is not bounded by it.
    st, _, body = upload(Jmap(s, *BOB), msg(60000, "bob"))
    assert st == 201, (st, body)


def test_upload_over_quota_from_header():
    """An account with no room left is refused from the header alone (the
    body is not read), as over maxSizeUpload."""
    s = srv()
    user, pw = add(s, "full@example.test", 2000)
    j = Jmap(s, user, pw)
    st, _, body = upload(j, msg(2000, "fill"))
    assert st == 201, (st, body)
    st, _, body = upload(j, msg(1500, "more"))
    assert st == 413 and body["type"] == "urn:ietf:params:jmap:error:overQuota", (st, body)


def open_upload(s, user, pw, acct, size):
    """An upload of size octets whose header and first half are sent; the
    connection and the rest to send."""
    c = http.client.HTTPSConnection("127.0.0.1", s.https_port, timeout=30, context=_ctx())
    cred = base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
    c.putrequest("POST", "/jmap/upload/%s/" % acct)
    c.putheader("Authorization", "Basic " + cred)
    c.putheader("Content-Type", "application/octet-stream")
    c.putheader("Content-Length", str(size))
    c.endheaders()
    return c


def test_parallel_uploads_share_the_room():
    """Uploads at once (up to maxConcurrentUpload) each saw the room the
    others would take, and all of them were taken past the quota: the
    room is taken as each upload is entered, once its body is in."""
    s = srv()
    user, pw = add(s, "par@example.test", 50000)
    j = Jmap(s, user, pw)
    bodies = [msg(20000, "par %d" % i) for i in range(4)]
    conns = []
    for b in bodies:
        c = open_upload(s, user, pw, j.account, len(b))
        c.send(b[:10000])
        conns.append(c)
    answers = []
    for c, b in zip(conns, bodies):
        c.send(b[10000:])
        r = c.getresponse()
        answers.append((r.status, json.loads(r.read())))
        c.close()
    taken = [a for a in answers if a[0] == 201]
    refused = [a for a in answers if a[0] != 201]
    assert len(taken) == 2, answers
    assert all(st == 413 and body["type"] == "urn:ietf:params:jmap:error:overQuota"
               for st, body in refused), answers


def test_same_bytes_again_take_no_more_room():
    """The same bytes uploaded again only start their time to live over:
    they took the room already, and are taken again however little is
    left (they were refused, counted twice)."""
    s = srv()
    user, pw = add(s, "again@example.test", 50000)
    j = Jmap(s, user, pw)
    a, b = msg(20000, "again a"), msg(20000, "again b")
    for data in (a, b):
        st, _, body = upload(j, data)
        assert st == 201, (st, body)
    st, _, body = upload(j, a)
    assert st == 201 and body["size"] == 20000, (st, body)
    st, _, body = upload(j, msg(20000, "again c"))
    assert st == 413 and body["type"] == "urn:ietf:params:jmap:error:overQuota", (st, body)


def test_live_uploads_bounded_per_user():
    """At most JMAP_UPLOAD_MAX_LIVE live uploads per user in an account,
    found in the directory as a restarted server finds them: then an
    imported one is forgotten to make room, and with none imported a new
    upload is refused (429; Blob/upload: rateLimit). Expired files there
    are removed, not counted."""
    s = srv()
    user, pw = add(s, "many@example.test", 10 ** 9)
    j = Jmap(s, user, pw)
    d = os.path.join(s.data, "upload", j.account[1:])
    os.makedirs(d, exist_ok=True)
    for i in range(MAX_LIVE - 1):
        with open(os.path.join(d, "%064x" % (i + 1)), "wb") as f:
            f.write(b"u")
    old = os.path.join(d, "%064x" % (MAX_LIVE + 1))
    with open(old, "wb") as f:
        f.write(b"o")
    os.utime(old, (1, 1))
    st, _, last = upload(j, msg(1000, "the last one"))
    assert st == 201, (st, last)
    assert not os.path.exists(old)
    st, _, body = upload(j, msg(1000, "one too many"))
    assert st == 429, (st, body)
    _, r = j.one("Blob/upload", {"create": {"b": {"data": [{"data:asText": "also too many"}]}}},
                 using=(CORE, BLOB))
    assert r["notCreated"]["b"]["type"] == "rateLimit", r
    # The same bytes again are a renewal, not a new one.
    st, _, body = upload(j, msg(1000, "the last one"))
    assert st == 201, (st, body)
    # One of them imported: forgotten for the next.
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    inbox = [m["id"] for m in mb["list"] if m["role"] == "inbox"][0]
    _, r = j.one("Email/import", {"emails": {"m": {"blobId": last["blobId"],
                                                   "mailboxIds": {inbox: True}}}})
    assert "m" in (r.get("created") or {}), r
    st, _, body = upload(j, msg(1000, "now there is room"))
    assert st == 201, (st, body)
    st, _, body = upload(j, msg(1000, "and none again"))
    assert st == 429, (st, body)
