"""JMAP uploads bounded by what the server can make of them, on one server
with a small TERN_MAX_MESSAGE_SIZE (100K):

- maxSizeUpload and maxSizeBlobSet (RFC 8620 §2, RFC 9404) are the largest
  message (an upload may be a whole message for Email/import), and
  maxSizeAttachmentsPerEmail (RFC 8621 §1.3.1) what base64 leaves of it;
  /upload and Blob/upload keep to them (413 with the limit problem, tooLarge).
- An upload to an account with a quota must fit it with what the account
  stores and the user's other live uploads (413, overQuota); an upload
  imported as an email is charged once, as the email."""
import re

from jmapc import CORE, MAIL, Jmap, shared_server

BOB = ("bob@example.test", "bob-password-1")
MAX = 100 * 1024
BLOB = "urn:ietf:params:jmap:blob"


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
