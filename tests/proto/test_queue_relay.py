"""The outbound queue, part two: the relay host (TERN_RELAY_HOST) with
STARTTLS and AUTH, and with implicit TLS on port 465; DSN parameters
(NOTIFY=NEVER, NOTIFY=SUCCESS, RET=FULL, ENVID, ORCPT) honoured in the
notices; SIZE and lifetime failures; the one delay notice; and a real
Postfix (Debian) as the receiving MTA."""
import email
import email.policy
import time

import atexit
import shutil
import tempfile

from mailpeers import (PostfixPeer, Receiver, ca_signed, free_port_on, test_ca,
                       unique_ips)
from test_queue import ALICE, World, dsn_of, mx, status_fields, zone
from test_submission import dkimpy


def _relay_certs(name):
    """A private CA and a certificate it issued for name (files in a temp dir)."""
    tmp = tempfile.mkdtemp(prefix="tern-relayca-")
    atexit.register(shutil.rmtree, tmp, True)
    ca = test_ca(tmp)
    return ca, ca_signed(tmp, ca, name)


def test_relay_host_starttls_and_auth():
    """The relay's certificate is verified (issue 30): one issued for its
    name by the CA in TERN_TLS_CA_FILE is accepted and AUTH goes out."""
    ips = unique_ips(1)
    port = free_port_on(ips)
    ca, crt = _relay_certs("relay.remote.test")
    env = {"TERN_RELAY_HOST": "relay.remote.test:%d" % port, "TERN_RELAY_USER": "relayuser",
           "TERN_RELAY_PASSWORD": "relay-secret-1", "TERN_TLS_CA_FILE": ca[0]}
    # Only the relay's own name in DNS: everything goes to the relay host.
    with World({"relay.remote.test": {"A": [ips[0]]}}, env=env) as w:
        r = Receiver(ips[0], port, tls=True, auth=("relayuser", "relay-secret-1"), cert=crt)
        w.receivers.append(r)
        w.send(["carol@remote.test", "erin@other.test"])
        msgs = r.wait_messages(1)
        assert len(msgs) == 1, w.srv.log_text()
        assert msgs[0]["tls"] and msgs[0]["auth"] == "relayuser"
        assert sorted(msgs[0]["rcpts"]) == ["carol@remote.test", "erin@other.test"]
        assert w.wait_queue_empty()
        assert "relay-secret-1" not in w.srv.log_text()


def test_relay_host_certificate_for_another_name_gets_no_auth():
    """Issue 30's finding: AUTH PLAIN went to a relay whose certificate was
    for another name. A certificate from a trusted CA, but for another
    name, now ends the session after the handshake: no AUTH, no mail, the
    message stays queued with a 4.7.5 status and a log line saying why."""
    ips = unique_ips(1)
    port = free_port_on(ips)
    ca, crt = _relay_certs("someone-else.test")
    env = {"TERN_RELAY_HOST": "relay.remote.test:%d" % port, "TERN_RELAY_USER": "relayuser",
           "TERN_RELAY_PASSWORD": "relay-secret-3", "TERN_TLS_CA_FILE": ca[0]}
    with World({"relay.remote.test": {"A": [ips[0]]}}, env=env) as w:
        r = Receiver(ips[0], port, tls=True, auth=("relayuser", "relay-secret-3"), cert=crt)
        w.receivers.append(r)
        w.send(["carol@remote.test"])
        out = w.wait_list("TLS not verified")
        assert "pending" in out and "4.7.5" in out, out
        assert "not issued for that name" in out, out
        assert r.messages == []
        assert not any(c.upper().startswith("AUTH") for c in r.commands), r.commands
        assert "STARTTLS" in [c.upper() for c in r.commands]
        log = w.srv.log_text()
        assert "event=relay_tls_unverified" in log, log
        assert "relay-secret-3" not in log


def test_relay_host_address_literal_is_checked_against_its_ip_san():
    """TERN_RELAY_HOST=[addr]:port, verified: no SNI goes (RFC 6066 §3
    forbids an address there), and the certificate must carry the
    address as an iPAddress (RFC 5280 §4.2.1.6). BearSSL, given no name,
    checked none: a trusted CA's certificate for any name at all got the
    password."""
    ips = unique_ips(1)
    port = free_port_on(ips)
    tmp = tempfile.mkdtemp(prefix="tern-relayca-")
    atexit.register(shutil.rmtree, tmp, True)
    ca = test_ca(tmp)
    good = ca_signed(tmp, ca, "relay.remote.test", also=(ips[0],))
    other = ca_signed(tmp, ca, "someone-else.test")
    env = {"TERN_RELAY_HOST": "[%s]:%d" % (ips[0], port), "TERN_RELAY_USER": "relayuser",
           "TERN_RELAY_PASSWORD": "relay-secret-9", "TERN_TLS_CA_FILE": ca[0]}
    with World({}, env=env) as w:
        r = Receiver(ips[0], port, tls=True, auth=("relayuser", "relay-secret-9"), cert=other)
        w.receivers.append(r)
        w.send(["carol@remote.test"])
        out = w.wait_list("TLS not verified")
        assert "pending" in out and "not issued for that name" in out, out
        # Every try (the queue retries each second) went without SNI.
        assert r.messages == [] and r.snis and set(r.snis) == {None}, (r.snis, r.commands)
        assert not any(c.upper().startswith("AUTH") for c in r.commands), r.commands
    with World({}, env=env) as w:
        r = Receiver(ips[0], port, tls=True, auth=("relayuser", "relay-secret-9"), cert=good)
        w.receivers.append(r)
        w.send(["carol@remote.test"])
        msgs = r.wait_messages(1)
        assert len(msgs) == 1 and msgs[0]["auth"] == "relayuser", w.srv.log_text()[-3000:]
        assert r.snis and set(r.snis) == {None}, r.snis
        assert w.wait_queue_empty()


def test_relay_host_self_signed_refused_unless_verification_is_off():
    """A self-signed certificate for another name (the issue's relay): with
    the default, nothing is sent; TERN_RELAY_TLS_VERIFY=off is the
    explicit opt-out, and then the mail and AUTH go through."""
    ips = unique_ips(1)
    port = free_port_on(ips)
    zone_ = {"relay.remote.test": {"A": [ips[0]]}}
    env = {"TERN_RELAY_HOST": "relay.remote.test:%d" % port, "TERN_RELAY_USER": "relayuser",
           "TERN_RELAY_PASSWORD": "relay-secret-4"}
    with World(zone_, env=env) as w:
        r = Receiver(ips[0], port, tls=True, auth=("relayuser", "relay-secret-4"))
        w.receivers.append(r)
        w.send(["carol@remote.test"])
        out = w.wait_list("TLS not verified")
        assert "pending" in out and "4.7.5" in out, out
        assert r.messages == []
        assert not any(c.upper().startswith("AUTH") for c in r.commands), r.commands
    env["TERN_RELAY_TLS_VERIFY"] = "off"
    with World(zone_, env=env) as w:
        r = Receiver(ips[0], port, tls=True, auth=("relayuser", "relay-secret-4"))
        w.receivers.append(r)
        w.send(["carol@remote.test"])
        msgs = r.wait_messages(1)
        assert len(msgs) == 1 and msgs[0]["auth"] == "relayuser", w.srv.log_text()
        assert w.wait_queue_empty()


def test_relay_host_with_weak_tls_gets_no_auth():
    """The relay gets the account's password, so its TLS is held to the
    server side's profile (net/tls_client.h, strict): a relay offering
    only a CBC suite, or signing its key exchange only with SHA-1, was
    accepted (BearSSL's full client set-up) and got AUTH. Now the
    handshake fails, nothing is sent and the mail waits with a status
    saying why; verified (CA-issued certificate) or not
    (TERN_RELAY_TLS_VERIFY=off) alike."""
    ips = unique_ips(1)
    port = free_port_on(ips)
    ca, crt = _relay_certs("relay.remote.test")
    zone_ = {"relay.remote.test": {"A": [ips[0]]}}
    base = {"TERN_RELAY_HOST": "relay.remote.test:%d" % port, "TERN_RELAY_USER": "relayuser",
            "TERN_RELAY_PASSWORD": "relay-secret-7"}
    for weak, env in (("cbc", dict(base, TERN_TLS_CA_FILE=ca[0])),
                      ("cbc", dict(base, TERN_RELAY_TLS_VERIFY="off")),
                      ("sha1", dict(base, TERN_TLS_CA_FILE=ca[0])),
                      ("sha1", dict(base, TERN_RELAY_TLS_VERIFY="off"))):
        with World(zone_, env=env) as w:
            r = Receiver(ips[0], port, tls=True, auth=("relayuser", "relay-secret-7"), cert=crt,
                         tls_weak=weak)
            w.receivers.append(r)
            w.send(["carol@remote.test"])
            out = w.wait_list("TLS handshake failed")
            assert "pending" in out and "4.4.1" in out, (weak, out)
            assert "no cipher suite or signature hash in common" in out, (weak, out)
            assert r.messages == [], weak
            assert "STARTTLS" in [c.upper() for c in r.commands], (weak, r.commands)
            assert not any(c.upper().startswith(("AUTH", "MAIL")) for c in r.commands), \
                (weak, r.commands)


def test_relay_host_without_starttls_is_not_used_in_plaintext():
    ips = unique_ips(1)
    port = free_port_on(ips)
    env = {"TERN_RELAY_HOST": "%s:%d" % (ips[0], port), "TERN_RELAY_USER": "u",
           "TERN_RELAY_PASSWORD": "p-secret"}
    with World({}, env=env) as w:
        r = Receiver(ips[0], port, tls=False)
        w.receivers.append(r)
        w.send(["carol@remote.test"])
        out = w.wait_list("STARTTLS")
        assert "pending" in out
        assert r.messages == []
        assert not any(c.upper().startswith("AUTH") for c in r.commands)


def test_relay_host_offering_no_auth_gets_none_and_the_mail_waits():
    """Credentials set, and a relay that offers no AUTH after STARTTLS
    (none at all, then only a mechanism we do not speak): AUTH PLAIN went
    out all the same (RFC 4954 §4: only when offered). Now no AUTH is
    sent, nor the mail, which a relay that wants AUTH would refuse for
    good: it stays queued with a 4.7.0 status and a log line. (A relay
    that offers AUTH only after STARTTLS gets it: the EHLO after TLS is
    the one read, test_relay_host_starttls_and_auth.)"""
    ips = unique_ips(1)
    port = free_port_on(ips)
    ca, crt = _relay_certs("relay.remote.test")
    env = {"TERN_RELAY_HOST": "relay.remote.test:%d" % port, "TERN_RELAY_USER": "relayuser",
           "TERN_RELAY_PASSWORD": "relay-secret-5", "TERN_TLS_CA_FILE": ca[0]}
    for extra in ([], ["AUTH CRAM-MD5"]):
        with World({"relay.remote.test": {"A": [ips[0]]}}, env=env) as w:
            r = Receiver(ips[0], port, tls=True, cert=crt, extra_ehlo=extra)
            w.receivers.append(r)
            w.send(["carol@remote.test"])
            out = w.wait_list("offers no AUTH")
            assert "pending" in out and "4.7.0" in out, out
            assert r.messages == []
            assert "STARTTLS" in [c.upper() for c in r.commands], r.commands
            assert not any(c.upper().startswith(("AUTH", "MAIL")) for c in r.commands), r.commands
            log = w.srv.log_text()
            assert "event=relay_auth_not_offered" in log, log
            assert "relay-secret-5" not in log


def test_relay_host_implicit_tls_on_465():
    ips = unique_ips(1)
    ca, crt = _relay_certs("relay.remote.test")
    env = {"TERN_RELAY_HOST": "relay.remote.test:465", "TERN_RELAY_USER": "relayuser",
           "TERN_RELAY_PASSWORD": "relay-secret-2", "TERN_TLS_CA_FILE": ca[0]}
    with World({"relay.remote.test": {"A": [ips[0]]}}, env=env) as w:
        # The relay announces RFC 9422 LIMITS RCPTDOMAINMAX=1: one
        # transaction a recipient domain, on the one session.
        r = Receiver(ips[0], 465, implicit_tls=True, auth=("relayuser", "relay-secret-2"),
                     cert=crt, extra_ehlo=["LIMITS RCPTDOMAINMAX=1"])
        w.receivers.append(r)
        w.send(["carol@remote.test", "erin@other.test", "finn@Remote.test"])
        msgs = r.wait_messages(2)
        got = sorted(sorted(a.lower() for a in m["rcpts"]) for m in msgs)
        assert got == [["carol@remote.test", "finn@remote.test"], ["erin@other.test"]], got
        assert all(m["tls"] and m["auth"] == "relayuser" for m in msgs)
        assert r.connections == 1
        assert w.wait_queue_empty()


def test_notify_never_and_success_ret_full_envid_orcpt():
    with World(lambda ips: zone(mx(ips, 0))) as w:
        w.receiver(0, rcpt=lambda a: "550 5.1.1 unknown" if a.startswith("gone") else "250 ok")
        # NOTIFY=NEVER: a failure without notice.
        w.send(["gone@remote.test"], subject="never", rcpt_options=["NOTIFY=NEVER"])
        assert w.wait_queue_empty()
        time.sleep(1)
        assert w.srv.messages(ALICE) == []
        # NOTIFY=SUCCESS with RET=FULL, ENVID and ORCPT: a "relayed" notice
        # (the remote does not speak DSN) carrying ENVID and ORCPT.
        w.send(["carol@remote.test"], subject="tell me",
               mail_options=["RET=FULL", "ENVID=env+2Dtest"],
               rcpt_options=["NOTIFY=SUCCESS", "ORCPT=rfc822;Carol@remote.test"])
        m, raw = dsn_of(w)
        assert m.get_content_type() == "multipart/report"
        blocks = status_fields(m)
        assert blocks[0]["original-envelope-id"] == "env-test", blocks
        assert blocks[1]["action"] == "relayed"
        assert blocks[1]["status"].startswith("2.")
        assert blocks[1]["original-recipient"] == "rfc822;Carol@remote.test"
        parts = [p.get_content_type() for p in m.iter_parts()]
        # RET=FULL applies to failure notices only (RFC 3461 §4.3): a
        # success notice returns the header, never the body.
        assert parts[2] == "text/rfc822-headers", parts
        assert b"Subject: tell me" in raw and b"Hello, remote." not in raw
        # An ORCPT of 450 characters (RFC 3461 §4.2 allows 500): RCPT
        # took it, and the queue refused the whole message after DATA.
        long_orcpt = "rfc822;" + "d" * 430 + "@remote.test"
        w.send(["dave@remote.test"], subject="long orcpt",
               rcpt_options=["NOTIFY=SUCCESS", "ORCPT=" + long_orcpt])
        msgs = w.inbox(ALICE, 2)
        assert len(msgs) == 2, msgs
        m = email.message_from_bytes(w.srv.raw(ALICE, max(i for i, _ in msgs)),
                                     policy=email.policy.default)
        assert status_fields(m)[1]["original-recipient"] == long_orcpt
        # ORCPT=utf-8;<UTF-8> (RFC 6533 §3 utf-8-addr-unitext, as Postfix
        # relays it under SMTPUTF8) was 501: kept in its ASCII form.
        w.send(["erin@remote.test"], subject="utf-8 orcpt", mail_options=["SMTPUTF8"],
               rcpt_options=["NOTIFY=SUCCESS", "ORCPT=utf-8;\u00e9rin@remote.test"])
        msgs = w.inbox(ALICE, 3)
        assert len(msgs) == 3, msgs
        m = email.message_from_bytes(w.srv.raw(ALICE, max(i for i, _ in msgs)),
                                     policy=email.policy.default)
        assert status_fields(m)[1]["original-recipient"] == "utf-8;\\x{E9}rin@remote.test"


def test_ret_passed_on_as_the_sender_gave_it():
    """RET is optional (RFC 3461 §4.3): a sender that gave none leaves the
    choice to the next hop, so none is passed on (as Postfix relays);
    RET=HDRS and RET=FULL go as given. The queue sent RET=HDRS for none."""
    with World(lambda ips: zone(mx(ips, 0))) as w:
        r = w.receiver(0, dsn=True)
        for i, opts in enumerate(([], ["RET=HDRS"], ["RET=FULL"])):
            w.send(["carol@remote.test"], subject="ret %d" % i, mail_options=opts)
            r.wait_messages(i + 1)
        lines = [m["mail_line"] for m in r.messages]
        assert len(lines) == 3, lines
        assert lines[0].startswith("MAIL FROM:<%s>" % ALICE), lines
        assert "RET=" not in lines[0].upper(), lines
        assert " RET=HDRS" in lines[1] and " RET=FULL" in lines[2], lines


def test_size_over_remote_limit_fails_at_once():
    with World(lambda ips: zone(mx(ips, 0))) as w:
        r = w.receiver(0, size=1000)
        w.send(["carol@remote.test"], body="x" * 3000 + "\r\n")
        m, _ = dsn_of(w)
        blocks = status_fields(m)
        assert blocks[1]["status"] == "5.3.4", blocks
        assert r.messages == []
        assert not any(c.startswith("MAIL") for c in r.commands)


def test_delay_notice_once_then_lifetime_failure():
    env = {"TERN_QUEUE_DELAY_NOTICE": "1", "TERN_QUEUE_LIFETIME": "4",
           "TERN_QUEUE_RETRY_SCHEDULE": "1"}
    with World(lambda ips: zone(mx(ips, 0)), env=env) as w:
        w.receiver(0, rcpt=lambda a: "450 4.2.0 mailbox busy")
        w.send(["carol@remote.test"])
        msgs = w.inbox(ALICE, 2, timeout=30)
        assert len(msgs) == 2, msgs
        kinds, blocks = [], []
        for mid, _ in msgs:
            m = email.message_from_bytes(w.srv.raw(ALICE, mid), policy=email.policy.default)
            blocks.append(status_fields(m)[1])
            kinds.append(blocks[-1]["action"])
        assert kinds == ["delayed", "failed"], kinds
        # The failure at the lifetime's end (5.4.7) still reports what the
        # remote last said as the Diagnostic-Code (RFC 3464 §2.3.6).
        assert blocks[1]["status"] == "5.4.7", blocks
        assert blocks[1]["diagnostic-code"] == "smtp; 450 4.2.0 mailbox busy", blocks
        assert w.wait_queue_empty()


def test_delay_notice_not_before_the_lifetime_is_none():
    """TERN_QUEUE_DELAY_NOTICE as long as TERN_QUEUE_LIFETIME turns delay
    notices off (Postfix's default, delay_warning_time = 0h; README): a
    recipient retried till the end gets the failure notice alone."""
    env = {"TERN_QUEUE_DELAY_NOTICE": "3", "TERN_QUEUE_LIFETIME": "3",
           "TERN_QUEUE_RETRY_SCHEDULE": "1"}
    with World(lambda ips: zone(mx(ips, 0)), env=env) as w:
        r = w.receiver(0, rcpt=lambda a: "450 4.2.0 mailbox busy")
        w.send(["carol@remote.test"])
        m, _ = dsn_of(w)
        assert [b["action"] for b in status_fields(m)[1:]] == ["failed"], status_fields(m)
        assert w.wait_queue_empty()
        time.sleep(1)
        assert len(w.srv.messages(ALICE)) == 1, w.srv.messages(ALICE)
        assert sum(c.upper().startswith("RCPT") for c in r.commands) >= 2, r.commands


def test_postfix_receives_and_dkim_verifies():
    """A real MTA on the other end: Debian's Postfix in a private instance
    takes the message over STARTTLS and stores it; both DKIM signatures
    made at submission verify with dkimpy on what Postfix stored. That
    Postfix has SMTPUTF8 off: an SMTPUTF8 message to carol@münchen.test
    with an ASCII header reaches it as carol@xn--mnchen-3ya.test."""
    ips = unique_ips(1)
    port = free_port_on(ips)
    alabel = "xn--mnchen-3ya.test"
    pf = PostfixPeer(ips[0], port, "remote.test", mailboxes=["@remote.test", "@" + alabel],
                     main_extra="smtputf8_enable = no\n"
                                "smtpd_discard_ehlo_keywords = 8bitmime\n"
                                "virtual_mailbox_domains = remote.test %s\n" % alabel)
    try:
        pf.start()
        records = {"remote.test": {"MX": [[10, "mx.remote.test"]]},
                   alabel: {"MX": [[10, "mx.remote.test"]]},
                   "mx.remote.test": {"A": [ips[0]]}}
        with World(records, nips=1, env={"TERN_QUEUE_MX_PORT": str(port)}) as w:
            w.send(["carol@remote.test"], subject="to postfix")
            msgs = pf.wait_messages(1)
            assert len(msgs) == 1, pf.log_text()[-3000:]
            assert w.wait_queue_empty()
            # Postfix counts STARTTLS in its disconnect line; tern keeps the
            # session open a few seconds for the next message first.
            deadline = time.time() + 15
            while "starttls=1" not in pf.log_text() and time.time() < deadline:
                time.sleep(0.2)
            assert "starttls=1" in pf.log_text(), pf.log_text()[-3000:]
            raw = msgs[0].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            assert b"Subject: to postfix" in raw
            assert dkimpy(w.srv, raw) == ["rsa-sha256=True", "ed25519-sha256=True"]
            w.send(["carol@m\u00fcnchen.test"], subject="idn to postfix",
                   mail_options=["SMTPUTF8"], to_header="carol@" + alabel)
            msgs = pf.wait_messages(2)
            assert len(msgs) == 2, w.srv.log_text()[-2000:] + pf.log_text()[-3000:]
            assert "to=<carol@%s>" % alabel in pf.log_text(), pf.log_text()[-3000:]
            # Our Received field names the recipient in the same A-labels.
            idn = [m for m in msgs if b"Subject: idn to postfix" in m]
            assert len(idn) == 1 and ("\tfor <carol@%s>;" % alabel).encode() in idn[0], msgs
            assert w.wait_queue_empty()
            # That Postfix offers no 8BITMIME: 8-bit mail reaches it in
            # quoted-printable, signed again, and reads as it was written.
            w.send(["carol@remote.test"], subject="eight bit to postfix",
                   body="gr\u00fc\u00dfe aus K\u00f6ln\r\n", mail_options=["BODY=8BITMIME"],
                   headers="MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: 8bit\r\n")
            msgs = pf.wait_messages(3)
            assert len(msgs) == 3, w.srv.log_text()[-2000:] + pf.log_text()[-3000:]
            eight = [m for m in msgs if b"Subject: eight bit to postfix" in m][0]
            assert all(c < 0x80 for c in eight), eight
            raw = eight.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            assert dkimpy(w.srv, raw) == ["rsa-sha256=True", "ed25519-sha256=True"], raw
            m = email.message_from_bytes(eight, policy=email.policy.default)
            assert m["Content-Transfer-Encoding"] == "quoted-printable", eight
            assert m.get_content() == "gr\u00fc\u00dfe aus K\u00f6ln\n", eight
            # A body line over 998 octets: quoted-printable, which this
            # Postfix stores with every line short, signed again.
            long_line = " ".join("w%04d" % i for i in range(500))
            w.send(["carol@remote.test"], subject="long line to postfix", body=long_line + "\r\n")
            msgs = pf.wait_messages(4)
            assert len(msgs) == 4, w.srv.log_text()[-2000:] + pf.log_text()[-3000:]
            lng = [m for m in msgs if b"Subject: long line to postfix" in m][0]
            assert max(len(l) for l in lng.splitlines()) <= 998, lng[:4000]
            raw = lng.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            assert dkimpy(w.srv, raw) == ["rsa-sha256=True", "ed25519-sha256=True"], raw
            m = email.message_from_bytes(lng, policy=email.policy.default)
            assert m.get_content() == long_line + "\n", lng[:4000]
            assert w.wait_queue_empty()
    finally:
        pf.stop()
