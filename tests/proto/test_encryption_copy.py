"""Encryption at rest for copies into another account (crypt_copy.h):
IMAP COPY and MOVE into or out of a shared mailbox (RFC 4314) and JMAP
Email/copy (RFC 8621 section 4.7) make a message of the target owner's;
when that owner has set a key the copy is stored sealed to it, as a
delivery would be, never as a plaintext copy of the source's bytes.

Bob has an OpenPGP key (his own appends not sealed), Carol and Dave
none. Carol copying or moving into Bob's shared Team is mail Bob did
not write: sealed (gpg decrypts it with Bob's key to the original
entity), and Bob's quota is charged the sealed size. Bob copying into
his own account from Carol's shared mailbox is his own act, as an
APPEND: sealed only once he asks for his appends to be sealed. Dave has
no key: a copy into his mailbox stays as it is. A message already
encrypted is copied byte for byte. Carol's originals are untouched.
The same rule holds for what Carol stores into Bob's shared mailbox
herself (IMAP APPEND, JMAP Email/import): sealed, as Bob did not write
it."""
import os
import shutil
import tempfile

from httpc import admin_server
from jmapc import Jmap
from test_encryption import ENTITY, gpg, header_and_body, make_pgp_key
from test_imap import login

BOB = ("bob@example.test", "bob-password-1Xy")
CAROL = ("carol@example.test", "carol-password-2Zq")
DAVE = ("dave@example.test", "dave-password-3Wr")

# Already encrypted: an S/MIME enveloped entity (kept as it came).
ENVELOPED = (b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data; "
             b"name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             b"MIAGCSqGSIb3DQEHA6CAMIACAQAxggEwMIIBLAIBADCBkzCBjTELMAkGA1UEBhMC\r\n")

_st = {}


def message(subject, entity=ENTITY):
    return (b"From: Alice <alice@origin.test>\r\nTo: carol@example.test\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"Message-ID: <" + subject.encode() + b"@origin.test>\r\n"
            b"MIME-Version: 1.0\r\n" + entity)


def env():
    """The module's server, Bob's key set (appends not sealed), Bob's
    Team shared with Carol, Carol's Keep with Bob, Dave's Drop with
    Carol."""
    if _st:
        return _st
    tmp = tempfile.mkdtemp(prefix="tern-enccopy-")
    home = os.path.join(tmp, "gnupg")
    os.mkdir(home, 0o700)
    s, admin = admin_server(accounts=[BOB, CAROL, DAVE], imap=True)
    _st.update(s=s, admin=admin, tmp=tmp, home=home)
    _, _, pub, sec = make_pgp_key(home)
    assert gpg(home, "--import", input=sec.encode()).returncode == 0
    _st["pub"] = pub
    set_bob_key(on_append=False)
    for user, box, who in ((BOB, "Team", CAROL), (CAROL, "Keep", BOB), (DAVE, "Drop", CAROL)):
        m = login(s, user=user[0], pw=user[1])
        assert m.create(box)[0] == "OK"
        m.logout()
        s.cli("acl", "set", user[0], box, who[0], "lrswited")
    return _st


def teardown_module():
    if _st:
        _st["s"].cleanup()
        shutil.rmtree(_st["tmp"], ignore_errors=True)


def set_bob_key(on_append):
    from httpc import ADMIN_PW
    st, _, body = _st["admin"].call("PUT", "/accounts/%s/encryption" % BOB[0], {
        "method": "openpgp", "key": _st["pub"], "encrypt_on_append": on_append,
        "password": ADMIN_PW})
    assert st == 200 and body["encrypt_on_append"] is on_append, body


def used(user):
    st, _, body = _st["admin"].call("GET", "/accounts/%s" % user[0])
    assert st == 200, body
    return body["used"]


def stored(user, mailbox, subject):
    """The bytes of the one message with subject in user's mailbox."""
    s = _st["s"]
    found = [mid for mid, line in s.messages(user[0], mailbox) if subject in line]
    assert len(found) == 1, (subject, s.messages(user[0], mailbox))
    return s.raw(user[0], found[0])


def assert_sealed(raw, subject):
    """raw is the message sealed to Bob's key: the header in the clear,
    the entity PGP/MIME, and gpg reads back exactly the original one."""
    head, body = header_and_body(raw)
    assert b"Subject: " + subject.encode() in head, head
    assert b"multipart/encrypted" in head and b"launch code" not in raw, raw[:1500]
    armored = body[body.index(b"-----BEGIN PGP MESSAGE-----"):
                   body.index(b"-----END PGP MESSAGE-----") + 25]
    r = gpg(_st["home"], "--status-fd", "2", "--decrypt", input=armored)
    assert r.returncode == 0 and b"GOODMDC" in r.stderr, r.stderr.decode()
    assert r.stdout == ENTITY, r.stdout[:500]


def append(user, mailbox, msg):
    m = login(_st["s"], user=user[0], pw=user[1])
    assert m.append(mailbox, None, None, msg)[0] == "OK"
    m.logout()


def imap_copy(user, source, subject, target, move=False):
    m = login(_st["s"], user=user[0], pw=user[1])
    assert m.select(source)[0] == "OK"
    typ, data = m.search(None, "SUBJECT", '"%s"' % subject)
    assert typ == "OK" and len(data[0].split()) == 1, data
    if move:
        typ, data = m._simple_command("MOVE", data[0].decode(), target)
    else:
        typ, data = m.copy(data[0].decode(), target)
    assert typ == "OK", data
    m.logout()


def test_imap_copy_by_a_grantee_is_sealed_to_the_owner():
    env()
    msg = message("copied-in")
    append(CAROL, "INBOX", msg)
    before = used(BOB)
    imap_copy(CAROL, "INBOX", "copied-in", '"Shared/bob@example.test/Team"')
    raw = stored(BOB, "Team", "copied-in")
    assert_sealed(raw, "copied-in")
    # The sealed form is what Bob's quota is charged.
    assert used(BOB) - before == len(raw), (used(BOB), before, len(raw))
    # Carol's original is as she stored it.
    assert stored(CAROL, "INBOX", "copied-in") == msg


def test_imap_move_by_a_grantee_is_sealed_and_leaves_the_source():
    env()
    append(CAROL, "INBOX", message("moved-in"))
    imap_copy(CAROL, "INBOX", "moved-in", '"Shared/bob@example.test/Team"', move=True)
    assert_sealed(stored(BOB, "Team", "moved-in"), "moved-in")
    assert not [x for x in _st["s"].messages(CAROL[0]) if "moved-in" in x[1]]


def test_owner_copying_into_their_own_account_is_an_append():
    env()
    msg = message("taken-home")
    append(CAROL, "Keep", msg)
    try:
        # Bob's own act: his appends are not sealed, nor this copy.
        imap_copy(BOB, '"Shared/carol@example.test/Keep"', "taken-home", "INBOX")
        assert stored(BOB, "INBOX", "taken-home") == msg
        set_bob_key(on_append=True)
        imap_copy(BOB, '"Shared/carol@example.test/Keep"', "taken-home", "Team")
        assert_sealed(stored(BOB, "Team", "taken-home"), "taken-home")
    finally:
        set_bob_key(on_append=False)


def test_owner_without_a_key_gets_the_copy_as_it_is():
    env()
    msg = message("to-dave")
    append(CAROL, "INBOX", msg)
    imap_copy(CAROL, "INBOX", "to-dave", '"Shared/dave@example.test/Drop"')
    assert stored(DAVE, "Drop", "to-dave") == msg


def test_an_encrypted_source_is_copied_as_it_is():
    env()
    msg = message("already-sealed", ENVELOPED)
    append(CAROL, "INBOX", msg)
    imap_copy(CAROL, "INBOX", "already-sealed", '"Shared/bob@example.test/Team"')
    assert stored(BOB, "Team", "already-sealed") == msg


def test_jmap_email_copy_by_a_grantee_is_sealed():
    st = env()
    msg = message("jmap-copied")
    append(CAROL, "INBOX", msg)
    carol = Jmap(st["s"], *CAROL)
    bob = Jmap(st["s"], *BOB)
    _, r = carol.one("Email/query", {"filter": {"subject": "jmap-copied"}})
    assert len(r["ids"]) == 1, r
    _, boxes = bob.one("Mailbox/get", {"ids": None, "properties": ["name"]})
    team = [b["id"] for b in boxes["list"] if b["name"] == "Team"][0]
    before = used(BOB)
    res = carol.call([["Email/copy", {"fromAccountId": carol.account, "accountId": bob.account,
                                      "create": {"a": {"id": r["ids"][0],
                                                       "mailboxIds": {team: True}}}},
                       "c"]])["methodResponses"][0][1]
    assert res.get("created") and "a" in res["created"], res
    made = res["created"]["a"]
    raw = stored(BOB, "Team", "jmap-copied")
    assert_sealed(raw, "jmap-copied")
    assert made["size"] == len(raw) and used(BOB) - before == len(raw), (made, len(raw))
    assert stored(CAROL, "INBOX", "jmap-copied") == msg


def test_a_grantees_append_is_sealed_to_the_owner():
    env()
    append(CAROL, '"Shared/bob@example.test/Team"', message("appended-in"))
    assert_sealed(stored(BOB, "Team", "appended-in"), "appended-in")



def test_a_grantees_jmap_import_is_sealed_to_the_owner():
    """Email/import into Bob's shared account (RFC 8621 section 4.8) by
    Carol, from a blob she uploaded there: mail Bob did not write, sealed
    as her IMAP APPEND is, though Bob's own appends are not."""
    st = env()
    msg = message("jmap-imported")
    carol = Jmap(st["s"], *CAROL)
    bob = Jmap(st["s"], *BOB)
    acc = bob.account
    code, _, body = carol.request("POST", "/jmap/upload/%s/" % acc, msg,
                                  {"Content-Type": "message/rfc822"})
    assert code == 201, (code, body)
    blob = body["blobId"]
    _, boxes = carol.one("Mailbox/get", {"accountId": acc, "ids": None, "properties": ["name"]})
    team = [b["id"] for b in boxes["list"] if b["name"] == "Team"][0]
    _, r = carol.one("Email/import", {"accountId": acc, "emails": {
        "i": {"blobId": blob, "mailboxIds": {team: True}}}})
    assert "i" in (r.get("created") or {}), r
    assert_sealed(stored(BOB, "Team", "jmap-imported"), "jmap-imported")
