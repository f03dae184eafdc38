"""Encryption at rest: an account that sets its public key through the
portal (/api/v1/me/encryption) gets the mail delivered to it stored
encrypted to that key, and only the key's holder reads it.

OpenPGP: a Curve25519 key made by gpg; a message to that account and a
plain one in the same SMTP transaction: the account's copy is PGP/MIME
(RFC 3156) with its header fields in the clear, gpg decrypts the
armored part (integrity check passing) to exactly the original MIME
entity, IMAP shows multipart/encrypted; the other account's copy is as
sent. What the user stores (IMAP APPEND, JMAP Email/set) stays as it is
until they ask for it to be sealed too; then gpg decrypts it as well. A
message already encrypted is stored as it came. S/MIME: an RSA
certificate made by openssl: `openssl cms -decrypt` reads the stored
message back to the entity. The admin sees the same state; keys that
cannot encrypt (a secret key, a signing-only key, an EC certificate,
garbage) are refused with the reason and change nothing; DELETE turns
it off. The key text is never given back and never logged."""
import base64
import imaplib
import os
import re
import smtplib
import subprocess
import tempfile
import time

from httpc import admin_server
from jmapc import Jmap
from test_portal import Portal

USER = "enc@example.test"
PW = "portal-pw-enc-1"
OTHER = "plain@example.test"

ENTITY = ("Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
          "\r\n"
          "--b1\r\n"
          "Content-Type: text/plain; charset=utf-8\r\n"
          "Content-Transfer-Encoding: 8bit\r\n"
          "\r\n"
          "The launch code is 0000, caf\u00e9.\r\n"
          "--b1\r\n"
          "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
          "Content-Transfer-Encoding: base64\r\n"
          "\r\n"
          "AAECAwQFBgcICQ==\r\n"
          "--b1--\r\n").encode()


def message(subject, entity=ENTITY, extra=b""):
    return (b"From: Alice <alice@origin.test>\r\nTo: enc@example.test\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"Message-ID: <" + subject.encode() + b"@origin.test>\r\n"
            b"MIME-Version: 1.0\r\n" + extra + entity)


def send(s, msg, rcpts):
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=20) as c:
        c.ehlo("mta.origin.test")
        c.sendmail("alice@origin.test", rcpts, msg)


def stored(s, account, subject):
    for mid, line in s.messages(account):
        if subject in line:
            return s.raw(account, mid)
    raise AssertionError("no %s in %s: %s" % (subject, account, s.messages(account)))


def header_and_body(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    return head, body


def gpg(home, *args, input=None):
    return subprocess.run(["gpg", "--batch", "--homedir", home] + list(args), input=input,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)


def make_pgp_key(home):
    uid = "Enc <enc@example.test>"
    assert gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign,cert",
               "never").returncode == 0
    fpr = re.search(r"^fpr:+([0-9A-F]{40}):", gpg(home, "--with-colons", "--list-keys",
                                                    uid).stdout.decode(), re.M).group(1)
    assert gpg(home, "--passphrase", "", "--quick-add-key", fpr, "cv25519", "encr",
               "never").returncode == 0
    colons = gpg(home, "--with-colons", "--with-subkey-fingerprints", "--list-keys",
                 uid).stdout.decode()
    sub = re.search(r"^sub:[^\n]*\nfpr:+([0-9A-F]{40}):", colons, re.M).group(1)
    pub = gpg(home, "--armor", "--export", uid).stdout.decode()
    sec = gpg(home, "--armor", "--pinentry-mode", "loopback", "--passphrase", "",
              "--export-secret-keys", uid).stdout.decode()
    assert "PUBLIC KEY BLOCK" in pub and "PRIVATE KEY BLOCK" in sec
    return fpr, sub, pub, sec


def test_encryption_at_rest():
    tmp = tempfile.mkdtemp(prefix="tern-enc-")
    home = os.path.join(tmp, "gnupg")
    os.mkdir(home, 0o700)
    s = None
    try:
        s, admin = admin_server(accounts=[(USER, PW), (OTHER, "portal-pw-enc-2")], imap=True)
        p = Portal(s)
        assert p.login(USER, PW)[0] == 200
        st, body = p.call("GET", "/me/encryption")
        assert st == 200 and body == {"method": "none"}, body

        fpr, sub, pub, sec = make_pgp_key(home)
        # Refused with the reason, nothing set: a secret key, garbage, a
        # signing-only key, a bad method or cipher, no key.
        bad_key = gpg(home, "--passphrase", "", "--quick-gen-key", "Sign <s@example.test>",
                      "ed25519", "sign,cert", "never")
        assert bad_key.returncode == 0
        sign_only = gpg(home, "--armor", "--export", "s@example.test").stdout.decode()
        # A Curve25519 subkey whose point is u = 0 (of small order): read
        # well, refused because nothing can be encrypted to it.
        binary = gpg(home, "--export", "enc@example.test").stdout
        at = binary.rindex(b"\x01\x07\x40") + 3
        zero = binary[:at] + bytes(32) + binary[at + 32:]
        weak = ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n%s\n-----END PGP PUBLIC KEY BLOCK-----\n"
                % base64.b64encode(zero).decode())
        for body, field, why in (
                ({"method": "openpgp", "key": weak}, "key", "cannot encrypt"),
                ({"method": "openpgp", "key": sec}, "key", "secret"),
                ({"method": "openpgp", "key": "hello"}, "key", "not an OpenPGP key"),
                ({"method": "openpgp", "key": sign_only}, "key", "no encryption key"),
                ({"method": "openpgp", "key": pub[:len(pub) // 2]}, "key", ""),
                ({"method": "rot13", "key": pub}, "method", ""),
                ({"method": "openpgp", "cipher": "des", "key": pub}, "cipher", ""),
                ({"method": "openpgp"}, "key", "")):
            st, out = p.call("PUT", "/me/encryption", body)
            assert st == 400 and out["field"] == field and why in out["detail"], (body, out)
        assert p.call("GET", "/me/encryption")[1] == {"method": "none"}
        # A good key takes the current password besides the session: one
        # the owner cannot decrypt with would leave them unreadable mail.
        st, out = p.call("PUT", "/me/encryption", {"method": "openpgp", "key": pub})
        assert st == 400 and out["code"] == "missing_field" and out["field"] == "password", out
        st, out = p.call("PUT", "/me/encryption", {"method": "openpgp", "key": pub,
                                                    "password": "not-the-password"})
        assert st == 400 and out["code"] == "wrong_password" and out["field"] == "password", out
        assert s.wait_log("event=auth_failed what=account_password failures=1")
        assert p.call("GET", "/me/encryption")[1] == {"method": "none"}

        st, body = p.call("PUT", "/me/encryption", {"method": "openpgp", "key": pub, "password": PW})
        assert st == 200, body
        assert body["method"] == "openpgp" and body["cipher"] == "aes256" and body["usable"], body
        assert body["fingerprint"] == sub and body["primary_fingerprint"] == fpr, (body, sub, fpr)
        assert body["algorithm"] == "cv25519" and body["user_id"] == "Enc <enc@example.test>"
        assert body["expires"] is None and "key" not in body, body
        st, _, seen = admin.call("GET", "/accounts/%s/encryption" % USER)
        assert st == 200 and seen == body, seen

        # One transaction, two accounts: one sealed copy, one as sent.
        msg = message("pgp-one")
        send(s, msg, [USER, OTHER])
        raw = stored(s, USER, "pgp-one")
        head, body = header_and_body(raw)
        assert b"Subject: pgp-one" in head and b"From: Alice <alice@origin.test>" in head
        assert b"Message-ID: <pgp-one@origin.test>" in head
        assert re.search(rb"Content-Type: multipart/encrypted; "
                         rb"protocol=\"application/pgp-encrypted\";", head), head
        assert head.count(b"MIME-Version:") == 1 and b"multipart/mixed" not in head, head
        assert b"launch code" not in raw and b"AAECAwQFBgcICQ" not in raw, raw[:2000]
        assert b"Version: 1\r\n" in body and b"-----BEGIN PGP MESSAGE-----" in body
        armored = body[body.index(b"-----BEGIN PGP MESSAGE-----"):
                       body.index(b"-----END PGP MESSAGE-----") + 25]
        assert gpg(home, "--import", input=sec.encode()).returncode == 0
        r = gpg(home, "--status-fd", "2", "--decrypt", input=armored)
        assert r.returncode == 0 and b"GOODMDC" in r.stderr, r.stderr.decode()
        assert r.stdout == ENTITY, r.stdout[:500]
        assert s.log_text().count(pub.splitlines()[3]) == 0

        plain = stored(s, OTHER, "pgp-one")
        assert plain.endswith(msg), plain[-400:]

        # IMAP sees a PGP/MIME message: BODYSTRUCTURE, and the header.
        c = imaplib.IMAP4("127.0.0.1", s.imap_port)
        c.starttls()
        c.login(USER, PW)
        c.select("INBOX")
        typ, data = c.fetch("1", "(BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        flat = b" ".join(x if isinstance(x, bytes) else b" ".join(x) for x in data)
        assert b'"encrypted"' in flat and b'"application" "pgp-encrypted"' in flat, flat
        assert b"Subject: pgp-one" in flat, flat

        # What the user stores is theirs, as it is, unless they ask.
        plain_append = message("appended-plain")
        typ, _ = c.append("INBOX", None, None, plain_append)
        assert typ == "OK"
        assert stored(s, USER, "appended-plain") == plain_append
        st, body = p.call("PUT", "/me/encryption", {"method": "openpgp", "key": pub, "password": PW,
                                                     "encrypt_on_append": True})
        assert st == 200 and body["encrypt_on_append"] is True, body
        typ, _ = c.append("Sent", None, None, message("appended-sealed"))
        assert typ == "OK"
        raw = None
        for mid, line in s.messages(USER, "Sent"):
            if "appended-sealed" in line:
                raw = s.raw(USER, mid)
        assert raw and b"launch code" not in raw and b"Subject: appended-sealed" in raw, raw
        _, body = header_and_body(raw)
        armored = body[body.index(b"-----BEGIN PGP MESSAGE-----"):
                       body.index(b"-----END PGP MESSAGE-----") + 25]
        r = gpg(home, "--decrypt", input=armored)
        assert r.returncode == 0 and r.stdout == ENTITY, r.stderr.decode()
        c.logout()
        # JMAP's Email/set create is sealed the same way.
        j = Jmap(s, USER, PW)
        boxes = j.one("Mailbox/get", {"ids": None})[1]["list"]
        inbox = [b["id"] for b in boxes if b["role"] == "inbox"][0]
        _, got = j.one("Email/set", {"create": {"k": {
            "mailboxIds": {inbox: True}, "subject": "jmap-made",
            "from": [{"email": USER}], "textBody": [{"partId": "1", "type": "text/plain"}],
            "bodyValues": {"1": {"value": "jmap secret text"}}}}})
        assert "k" in got.get("created", {}), got
        raw = stored(s, USER, "jmap-made")
        assert b"jmap secret text" not in raw and b"multipart/encrypted" in raw, raw[:600]
        r = gpg(home, "--decrypt", input=raw[raw.index(b"-----BEGIN PGP MESSAGE-----"):])
        assert r.returncode == 0 and b"jmap secret text" in r.stdout, r.stderr.decode()

        # Already encrypted (by its sender): stored as it came.
        sealed = (b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data; "
                  b"name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIAC\r\n")
        msg2 = message("already", entity=sealed)
        send(s, msg2, [USER])
        assert stored(s, USER, "already").endswith(msg2)
        inline = message("inline", entity=b"Content-Type: text/plain\r\n\r\n"
                         b"-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA\r\n-----END PGP MESSAGE-----\r\n")
        send(s, inline, [USER])
        assert stored(s, USER, "inline").endswith(inline)

        # A Sieve script that files before and after an edit: each copy is
        # the message as edited when its action ran (RFC 5293 §5), each
        # sealed; the edit shows in the clear header of the later one.
        s.cli("sieve", "put", USER, "s", input='require ["editheader", "fileinto", "mailbox"];\n'
              'fileinto :create "First"; addheader "X-Step" "two"; keep;\n')
        s.cli("sieve", "activate", USER, "s")
        send(s, message("sieve-steps"), [USER])
        first = [s.raw(USER, mid) for mid, line in s.messages(USER, "First") if "sieve-steps" in line]
        kept = stored(s, USER, "sieve-steps")
        assert len(first) == 1, s.messages(USER, "First")
        for raw, stepped in ((first[0], False), (kept, True)):
            head, body = header_and_body(raw)
            assert (b"X-Step: two\r\n" in head) == stepped and b"launch code" not in raw, head
            armored = body[body.index(b"-----BEGIN PGP MESSAGE-----"):
                           body.index(b"-----END PGP MESSAGE-----") + 25]
            r = gpg(home, "--decrypt", input=armored)
            assert r.returncode == 0 and r.stdout == ENTITY, r.stderr.decode()
        s.cli("sieve", "deactivate", USER)

        # S/MIME: an RSA certificate, AES-128.
        key, cert = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", cert, "-days", "30", "-subj", "/CN=Enc",
                        "-addext", "subjectAltName=email:enc@example.test"],
                       check=True, capture_output=True)
        ec_key, ec_cert = os.path.join(tmp, "ek.pem"), os.path.join(tmp, "ec.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ec_key, "-out",
                        ec_cert, "-days", "30", "-subj", "/CN=Ec"], check=True, capture_output=True)
        st, out = p.call("PUT", "/me/encryption",
                         {"method": "smime", "key": open(ec_cert).read()})
        assert st == 400 and out["field"] == "key" and "RSA" in out["detail"], out
        assert p.call("GET", "/me/encryption")[1]["method"] == "openpgp"
        st, body = p.call("PUT", "/me/encryption",
                          {"method": "smime", "cipher": "aes128", "key": open(cert).read(),
                           "password": PW})
        assert st == 200 and body["method"] == "smime" and body["cipher"] == "aes128", body
        assert body["email"] == USER and body["algorithm"] == "rsa2048" and body["usable"], body
        msg3 = message("smime-one")
        send(s, msg3, [USER])
        raw = stored(s, USER, "smime-one")
        assert b"launch code" not in raw
        head, _ = header_and_body(raw)
        assert b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data;" in head, head
        path = os.path.join(tmp, "m.eml")
        with open(path, "wb") as f:
            f.write(raw)
        r = subprocess.run(["openssl", "cms", "-decrypt", "-in", path, "-recip", cert,
                            "-inkey", key], capture_output=True)
        assert r.returncode == 0, r.stderr.decode()
        assert r.stdout == ENTITY, r.stdout[:300]
        r = subprocess.run(["openssl", "cms", "-cmsout", "-print", "-in", path],
                           capture_output=True)
        assert b"aes-128-cbc" in r.stdout, r.stdout[:2000]

        # Big (past the worker threshold, the sealed copy spooled): gpg
        # reads back every octet.
        st, body = p.call("PUT", "/me/encryption", {"method": "openpgp", "key": pub, "password": PW})
        assert st == 200, body
        blob = base64.encodebytes(os.urandom(3 << 20)).replace(b"\n", b"\r\n")
        big = (b"Content-Type: application/octet-stream\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + blob)
        send(s, message("big-one", entity=big), [USER])
        raw = stored(s, USER, "big-one")
        _, body = header_and_body(raw)
        armored = body[body.index(b"-----BEGIN PGP MESSAGE-----"):
                       body.index(b"-----END PGP MESSAGE-----") + 25]
        r = gpg(home, "--status-fd", "2", "--decrypt", input=armored)
        assert r.returncode == 0 and b"GOODMDC" in r.stderr and r.stdout == big, r.stderr.decode()

        # A key that expires after it was set: mail is stored as it comes,
        # the log says why, GET shows it. (The subkey is made a day in the
        # past, valid for a day, so it lapses a few seconds from now.)
        soon = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() - 86400 + 4))
        lapse = "Lapse <lapse@example.test>"
        old = ["--passphrase", "", "--ignore-time-conflict", "--faked-system-time", soon]
        r = gpg(home, *old, "--quick-gen-key", lapse, "ed25519", "sign,cert", "never")
        assert r.returncode == 0, r.stderr.decode()
        lfpr = re.search(r"^fpr:+([0-9A-F]{40}):", gpg(home, "--with-colons", "--list-keys",
                                                         lapse).stdout.decode(), re.M).group(1)
        r = gpg(home, *old, "--quick-add-key", lfpr, "cv25519", "encr", "1d")
        assert r.returncode == 0, r.stderr.decode()
        pub2 = gpg(home, "--armor", "--export", lapse).stdout.decode()
        st, body = p.call("PUT", "/me/encryption", {"method": "openpgp", "key": pub2, "password": PW})
        assert st == 200 and body["usable"] and body["primary_fingerprint"] == lfpr, body
        assert body["expires"] and body["expires"] - time.time() < 10, body
        time.sleep(max(0, body["expires"] - time.time() + 1))
        st, body = p.call("GET", "/me/encryption")
        assert st == 200 and body["usable"] is False and "expired" in body["problem"], body
        msg5 = message("lapsed")
        send(s, msg5, [USER])
        assert stored(s, USER, "lapsed").endswith(msg5)
        assert s.wait_log("event=encrypt_skipped account_id=1")

        # Off: the next message is stored as sent.
        st, _ = p.call("DELETE", "/me/encryption")
        assert st == 204
        assert p.call("GET", "/me/encryption")[1] == {"method": "none"}
        msg4 = message("after-off")
        send(s, msg4, [USER])
        assert stored(s, USER, "after-off").endswith(msg4)
        assert s.wait_log("event=encryption_set")
    finally:
        if s:
            s.cleanup()
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True)
        subprocess.run(["rm", "-rf", tmp])
