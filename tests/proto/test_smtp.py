"""Inbound SMTP with Python's smtplib and raw sockets: the happy paths,
extensions, address resolution and recipient policy."""
import base64
import imaplib
import os
import smtplib
import ssl
import time

from harness import Server, Raw, message
from test_submission import inbox, smtp587

ACCOUNTS = [("bob@example.test", "bob-pw-1"), ("carol@example.test", "carol-pw-1"),
            ("dave@other.test", "dave-pw-1")]


def srv(**kw):
    return Server(domains=("example.test", "other.test"), accounts=ACCOUNTS, **kw)


def test_plain_delivery_and_headers():
    with srv() as s:
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10) as c:
            code, caps = c.ehlo("client.remote.test")
            assert code == 250
            text = caps.decode()
            for ext in ("PIPELINING", "SIZE 52428800", "8BITMIME", "SMTPUTF8",
                        "ENHANCEDSTATUSCODES", "STARTTLS", "CHUNKING", "DSN",
                        "LIMITS RCPTMAX=100"):  # RFC 9422: the limit cmd_rcpt applies
                assert ext in text, (ext, text)
            refused = c.sendmail("alice@remote.test", ["bob@example.test"],
                                 message(subject="plain one"))
            assert refused == {}
        msgs = s.messages("bob@example.test")
        assert len(msgs) == 1 and "plain one" in msgs[0][1], msgs
        raw = s.raw("bob@example.test", msgs[0][0])
        assert raw.startswith(b"Return-Path: <alice@remote.test>\r\nReceived: from client.remote.test ([127.0.0.1])"), raw[:200]
        assert b"with ESMTP id" in raw and b"for <bob@example.test>" in raw
        assert raw.endswith(b"Hello.\r\n"), raw[-50:]


def test_senders_return_path_is_not_stored():
    """The Return-Path is the final delivery's (RFC 5321 §4.4): one the
    sender wrote is dropped, inbound and on a local copy of submitted
    mail, so no second, forged envelope sender stands under ours."""
    with srv(submission=True) as s:
        forged = "Return-Path: <forged@evil.test>\r\nreturn-path:\r\n <other@evil.test>\r\n"
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10) as c:
            c.sendmail("alice@remote.test", ["bob@example.test"],
                       message(subject="forged rp", extra=forged))
        with smtp587(s, ("carol@example.test", "carol-pw-1")) as c:
            c.sendmail("carol@example.test", ["dave@other.test"],
                       message(subject="submitted rp", sender="carol@example.test",
                               to="dave@other.test", extra=forged))
        for who, rp in (("bob@example.test", b"alice@remote.test"),
                        ("dave@other.test", b"carol@example.test")):
            msgs = inbox(s, who, 1)
            raw = s.raw(who, msgs[0][0])
            head = raw.partition(b"\r\n\r\n")[0]
            assert head.lower().count(b"return-path:") == 1, head
            assert head.startswith(b"Return-Path: <" + rp + b">\r\n"), head
            assert b"evil.test" not in head and b"Message-ID:" in head, head


def test_starttls_session():
    with srv() as s:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10) as c:
            c.ehlo("tls.remote.test")
            c.starttls(context=ctx)
            code, caps = c.ehlo("tls.remote.test")
            assert code == 250 and b"STARTTLS" not in caps
            assert c.sock.version() == "TLSv1.2"
            cipher = c.sock.cipher()[0]
            assert "GCM" in cipher or "CHACHA20" in cipher, cipher
            c.sendmail("alice@remote.test", ["bob@example.test"], message(subject="over tls"))
        raw = s.raw("bob@example.test", s.messages("bob@example.test")[0][0])
        assert b"with ESMTPS id" in raw and b"(using TLSv1.2 with cipher" in raw, raw[:400]
        # HELO after STARTTLS: still ESMTPS (STARTTLS is an ESMTP extension);
        # "SMTPS" is no registered transmission type (RFC 3848).
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10) as c:
            c.ehlo("tls.remote.test")
            c.starttls(context=ctx)
            assert c.helo("old.remote.test")[0] == 250
            c.sendmail("alice@remote.test", ["bob@example.test"], message(subject="helo over tls"))
        raw = s.raw("bob@example.test", s.messages("bob@example.test")[-1][0])
        assert b"from old.remote.test" in raw and b"with ESMTPS id" in raw, raw[:400]


def test_starttls_discards_pipelined_plaintext():
    # RFC 3207 5: commands sent with STARTTLS before the handshake are dropped.
    with srv() as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO x.test")
        r.send("STARTTLS\r\nMAIL FROM:<evil@remote.test>\r\n")
        code, _ = r.reply()
        assert code == 220
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        t = ctx.wrap_socket(r.sock, server_hostname="mx.example.test")
        t.sendall(b"RCPT TO:<bob@example.test>\r\n")
        reply = t.recv(4096).decode()
        assert reply.startswith("503"), reply  # no MAIL survived the switch
        t.close()


def pipeline_messages(r, subjects):
    """Sends a message per subject as RFC 2920 §3.1 lets a client: MAIL,
    RCPT and DATA in one write, the text once the 354 came, and behind
    its final dot the next transaction's group (QUIT after the last).
    The replies' codes, in order."""
    group = "MAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
    r.send(group)
    codes = [r.reply()[0] for _ in range(3)]
    for i, subject in enumerate(subjects):
        last = i == len(subjects) - 1
        r.send(message(subject=subject) + ".\r\n" + ("QUIT\r\n" if last else group))
        codes += [r.reply()[0] for _ in range(2 if last else 4)]
    return codes


def test_pipelining_over_tls():
    # Commands pipelined behind the data must be answered once the store
    # commits, even when TLS already decrypted them (no socket event follows).
    with srv() as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO pipe.test")
        assert r.cmd("STARTTLS")[0] == 220
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        r.sock = ctx.wrap_socket(r.sock, server_hostname="mx.example.test")
        r.cmd("EHLO pipe.test")
        codes = pipeline_messages(r, ["tls pipe %d" % i for i in range(3)])
        assert codes == [250, 250, 354] + [250, 250, 250, 354] * 2 + [250, 221], codes
        assert len(s.messages("bob@example.test")) == 3


def test_pipelining_many_messages_one_session():
    with srv() as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO pipe.test")
        codes = pipeline_messages(r, ["pipe %d" % i for i in range(5)])
        assert codes == [250, 250, 354] + [250, 250, 250, 354] * 4 + [250, 221], codes
        assert len(s.messages("bob@example.test")) == 5


def test_port25_refuses_commands_pipelined_past_a_sync_point():
    # RFC 2920 §3.1: a client pipelines only once EHLO offered PIPELINING,
    # and EHLO, DATA, VRFY, EXPN and NOOP end a group (the client waits for
    # their reply). On port 25 one that does not wait, a spam engine
    # blasting its script, is answered 554 5.5.0 instead of the command and
    # cut, as Postfix 3.9's smtpd_forbid_unauth_pipelining (its default).
    def cut(first, group, before=()):
        with srv() as s:
            r = Raw(s.smtp_port)
            for line in first:
                r.cmd(line)
            r.send(group)
            assert [r.reply()[0] for _ in before] == list(before), group
            code, lines = r.reply()
            assert (code, lines[0][4:9]) == (554, "5.5.0"), (group, lines)
            assert r.closed(), group
            assert s.messages("bob@example.test") == []
    cut([], "EHLO pipe.test\r\nMAIL FROM:<a@remote.test>\r\n")
    cut([], "HELO pipe.test\r\nMAIL FROM:<a@remote.test>\r\n")
    cut([], "MAIL FROM:<a@remote.test>\r\nNOOP\r\n")  # before any EHLO
    # HELO offers no PIPELINING: each command waits for its reply.
    cut(["HELO pipe.test"], "MAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.test>\r\n")
    cut(["EHLO pipe.test"], "NOOP\r\nRSET\r\n")
    cut(["EHLO pipe.test"], "VRFY bob\r\nRSET\r\n")
    cut(["EHLO pipe.test"], "EHLO pipe.test\r\nMAIL FROM:<a@remote.test>\r\n")
    # The message sent behind an accepted DATA, before its 354.
    cut(["EHLO pipe.test"], "MAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
        "DATA\r\n" + message(subject="early") + ".\r\n", before=(250, 250))
    # What RFC 2920 allows goes on: RSET, MAIL, RCPT in a group ending with
    # DATA, the text after the 354, QUIT behind the final dot.
    with srv() as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO pipe.test")
        r.send("RSET\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
        assert [r.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
        r.send(message(subject="waited") + ".\r\nQUIT\r\n")
        assert [r.reply()[0] for _ in range(2)] == [250, 221]
        assert len(s.messages("bob@example.test")) == 1


def test_refused_data_with_text_behind_it_ends_the_session():
    # RFC 2920 §3.1: DATA ends a pipelined group, the client waits for its
    # reply. One that sent its message behind a DATA refused for want of
    # recipients (554 5.5.1, RFC 2920 §3.2's example) would have the text
    # read as commands: here its own "RCPT TO:" and "DATA" lines, which
    # before delivered the message to bob in a transaction nobody sent.
    # On port 25 the DATA is not run at all (554 5.5.0, as Postfix's
    # smtpd_forbid_unauth_pipelining); on submission it is, then 421.
    with srv() as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO pipe.test")
        text = ("RCPT TO:<bob@example.test>\r\nDATA\r\n" +
                message(subject="smuggled") + ".\r\n")
        r.send("MAIL FROM:<a@remote.test>\r\nRCPT TO:<nobody@example.test>\r\nDATA\r\n" + text)
        replies = [r.reply() for _ in range(3)]
        codes = [(c, lines[0][4:9]) for c, lines in replies]
        assert codes == [(250, "2.1.0"), (550, "5.1.1"), (554, "5.5.0")], replies
        assert r.closed()
        assert s.messages("bob@example.test") == []
        # A DATA refused with nothing behind it leaves the session as it was.
        r = Raw(s.smtp_port)
        r.cmd("EHLO pipe.test")
        r.cmd("MAIL FROM:<a@remote.test>")
        assert r.cmd("DATA")[1][0].startswith("554 5.5.1 ")
        assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
        assert r.cmd("DATA")[0] == 354
        assert r.cmd(message(subject="waited") + ".")[0] == 250
        r.close()
        assert len(s.messages("bob@example.test")) == 1


def test_refused_data_with_text_after_the_reply_ends_the_session():
    # The same message sent in a packet after the 554 (the client did not
    # read it): its lines were read as commands, the header fields got
    # 500 each and its "RCPT TO:" line was run (250 2.1.5: a recipient
    # nobody sent; a "DATA" line in a packet of its own would then have
    # taken the rest as a message). Now its first line, no command, ends
    # the session with 421; a client that goes on with a command is served.
    with srv() as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO late.test")
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        assert r.cmd("RCPT TO:<nobody@example.test>")[0] == 550
        code, lines = r.cmd("DATA")
        assert code == 554 and lines[0].startswith("554 5.5.1 "), lines
        r.send("From: a@remote.test\r\nSubject: smuggled\r\n\r\n"
               "RCPT TO:<bob@example.test>\r\nDATA\r\nhi\r\n.\r\n")
        code, lines = r.reply()
        assert code == 421 and lines[0].startswith("421 4.5.0 "), lines
        assert r.closed()
        assert s.messages("bob@example.test") == []
        r = Raw(s.smtp_port)
        r.cmd("EHLO late.test")
        r.cmd("MAIL FROM:<a@remote.test>")
        assert r.cmd("DATA")[0] == 554
        assert r.cmd("RSET")[0] == 250
        assert r.cmd("FOO")[0] == 500  # only right after the refused DATA
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
        assert r.cmd("DATA")[0] == 354
        assert r.cmd(message(subject="waited") + ".")[0] == 250
        r.close()
        assert len(s.messages("bob@example.test")) == 1


def test_bdat_chunking():
    with srv() as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO chunk.test")
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
        part1 = "Subject: chunked\r\nFrom: a@remote.test\r\n\r\nfirst half "
        part2 = "second half\r\n.not stuffed\r\n"
        r.send("BDAT %d\r\n%s" % (len(part1), part1))
        code, lines = r.reply()
        assert code == 250 and "octets" in lines[0], lines
        r.send("BDAT %d LAST\r\n%s" % (len(part2), part2))
        assert r.reply()[0] == 250
        # BDAT 0 LAST with an empty message is valid too
        r.cmd("MAIL FROM:<a@remote.test>")
        r.cmd("RCPT TO:<carol@example.test>")
        assert r.cmd("BDAT 0 LAST")[0] == 250
        assert r.cmd("QUIT")[0] == 221
        msgs = s.messages("bob@example.test")
        raw = s.raw("bob@example.test", msgs[0][0])
        assert raw.endswith((part1 + part2).encode()), raw
        assert len(s.messages("carol@example.test")) == 1


def test_bdat_message_without_final_crlf_gets_one():
    """RFC 3030 frames BDAT by count, so a message may stop in the middle
    of its last line; RFC 5322 §2.1 makes a message lines ended by CRLF,
    and DATA can carry no other. The last line is closed when the message
    is stored, as Postfix does (a message over DATA gets the same octets),
    once: a message that ends with its CRLF, or an empty one, is kept."""
    with srv() as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO chunk.test")
        sent = (("bob@example.test", ["Subject: open end\r\n\r\nfirst ", "no final line end"]),
                ("carol@example.test", ["Subject: closed end\r\n\r\nends well\r\n", ""]))
        for rcpt, (part1, part2) in sent:
            assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
            assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
            r.send("BDAT %d\r\n%s" % (len(part1), part1))
            assert r.reply()[0] == 250
            r.send("BDAT %d LAST\r\n%s" % (len(part2), part2))
            assert r.reply()[0] == 250
        assert r.cmd("QUIT")[0] == 221
        raw = s.raw("bob@example.test", s.messages("bob@example.test")[0][0])
        assert raw.endswith(b"\r\n\r\nfirst no final line end\r\n"), raw[-80:]
        raw = s.raw("carol@example.test", s.messages("carol@example.test")[0][0])
        assert raw.endswith(b"\r\n\r\nends well\r\n"), raw[-80:]


def test_rcpt_between_bdat_chunks_is_refused():
    # RFC 3030 §2: the chunks follow the envelope. A RCPT after the first
    # chunk was taken, and carol got the message whose Received field
    # ("for <bob@...>") and checks were made without her; Postfix says 503.
    with srv() as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO chunk.test")
        r.cmd("MAIL FROM:<a@remote.test>")
        assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
        head = "Subject: chunks\r\n\r\n"
        r.send("BDAT %d\r\n%s" % (len(head), head))
        assert r.reply()[0] == 250
        code, lines = r.cmd("RCPT TO:<carol@example.test>")
        assert code == 503 and lines[0].startswith("503 5.5.1 "), lines
        r.send("BDAT 5 LAST\r\nend\r\n")
        assert r.reply()[0] == 250  # the message goes on, to bob alone
        r.close()
        assert len(s.messages("bob@example.test")) == 1
        assert s.messages("carol@example.test") == []


def test_bdat_refused_chunk_is_skipped():
    # A BDAT without recipients is refused, and its bytes must not be read as commands.
    with srv() as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO chunk.test")
        payload = "RSET\r\nQUIT\r\n"
        r.send("BDAT %d\r\n%s" % (len(payload), payload))
        assert r.reply()[0] == 503
        assert r.cmd("NOOP")[0] == 250


def test_helo_session_has_no_extensions():
    # A client that greets with HELO was offered no extension (RFC 5321
    # §4.1.1.1, RFC 1869 §4.5): its MAIL and RCPT parameters are ones this
    # session does not implement (555, RFC 5321 §4.1.1.11), and BDAT,
    # CHUNKING's verb (RFC 3030 §2), is out of sequence (503) with its
    # chunk skipped. EHLO offers them again. (Ten refusals: no error
    # limit or error sleep in the way.)
    with srv(env={"TERN_SMTP_MAX_ERRORS": "100", "TERN_SMTP_SOFT_ERRORS": "100"}) as s:
        r = Raw(s.smtp_port)
        assert r.cmd("HELO old.test")[0] == 250
        for params in ("BODY=8BITMIME", "SIZE=100", "SMTPUTF8", "RET=HDRS", "ENVID=x",
                       "BY=600;N", "AUTH=<>"):
            code, lines = r.cmd("MAIL FROM:<a@remote.test> " + params)
            assert code == 555 and lines[0].startswith("555 5.5.4 "), (params, lines)
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        for params in ("NOTIFY=SUCCESS", "ORCPT=rfc822;bob@example.test"):
            code, lines = r.cmd("RCPT TO:<bob@example.test> " + params)
            assert code == 555 and lines[0].startswith("555 5.5.4 "), (params, lines)
        assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
        chunk = "Subject: chunk\r\n\r\nx\r\n"
        r.send("BDAT %d LAST\r\n%s" % (len(chunk), chunk))
        code, lines = r.reply()
        assert code == 503 and lines[0].startswith("503 5.5.1 "), lines
        assert r.cmd("NOOP")[0] == 250  # the chunk was not read as commands
        # The transaction goes on with DATA, which HELO's protocol has.
        assert r.cmd("DATA")[0] == 354
        code, lines = r.cmd("Subject: plain\r\n\r\nhello\r\n.")
        assert code == 250, lines
        assert r.cmd("EHLO new.test")[0] == 250
        assert r.cmd("MAIL FROM:<a@remote.test> BODY=8BITMIME SIZE=100")[0] == 250
        assert r.cmd("RCPT TO:<bob@example.test> NOTIFY=SUCCESS")[0] == 250
        r.send("BDAT %d LAST\r\n%s" % (len(chunk), chunk))
        assert r.reply()[0] == 250
        r.close()
        subjects = sorted(s.raw("bob@example.test", m[0]).split(b"Subject: ")[1].split(b"\r\n")[0]
                          for m in s.messages("bob@example.test"))
        assert subjects == [b"chunk", b"plain"], subjects


def test_utf8_addresses():
    with srv() as s:
        s.cli("account", "add", "jörg@example.test", input="pw-jörg-123\n")
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10) as c:
            c.ehlo("utf8.test")
            msg = message(subject="grüße", sender="señor@remote.test", to="jörg@example.test")
            c.sendmail("señor@remote.test", ["jörg@example.test"], msg.encode("utf-8"),
                       mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        msgs = s.messages("jörg@example.test")
        assert len(msgs) == 1
        raw = s.raw("jörg@example.test", msgs[0][0])
        assert "Return-Path: <señor@remote.test>".encode() in raw
        assert b"with UTF8SMTP id" in raw
        # Without SMTPUTF8 the same address is refused.
        r = Raw(s.smtp_port)
        r.cmd("EHLO x.test")
        code, _ = r.cmd("MAIL FROM:<señor@remote.test>")
        assert code == 553, code
        # A UTF-8 HELO name stays out of a message without SMTPUTF8 too:
        # the Received field gives its A-labels (or '?' if it has none);
        # with SMTPUTF8 it is kept as sent.
        for helo, smtputf8, want in (("bücher.test".encode(), "", b"from xn--bcher-kva.test (["),
                                     (b"b\xffcher_x", "", b"from b?cher_x (["),
                                     ("bücher.test".encode(), " SMTPUTF8", "from bücher.test ([".encode())):
            h = Raw(s.smtp_port)
            h.send(b"EHLO " + helo + b"\r\n")
            assert h.reply()[0] == 250
            for cmd in ("MAIL FROM:<a@remote.test>" + smtputf8, "RCPT TO:<bob@example.test>", "DATA"):
                assert h.cmd(cmd)[0] in (250, 354), cmd
            assert h.cmd("Subject: helo %r\r\n\r\nx\r\n." % helo)[0] == 250
            h.close()
            raw = s.raw("bob@example.test", s.messages("bob@example.test")[-1][0])
            assert want in raw, (helo, raw[:300])
            assert smtputf8 or all(b < 0x80 for b in raw), raw[:300]
        # An IDN domain is one domain in either spelling (RFC 5890
        # §2.3.2.1): added as U-labels, mail to its A-labels arrives
        # without SMTPUTF8; added as A-labels, mail to its U-labels with.
        s.cli("domain", "add", "bücher.test")
        s.cli("account", "add", "anna@bücher.test", input="pw-anna-Qx7-bücher\n")
        s.cli("domain", "add", "xn--mnchen-3ya.test")
        s.cli("account", "add", "max@xn--mnchen-3ya.test", input="pw-max-Qx7-munich\n")
        r.cmd("RSET")
        for cmd, want in [("MAIL FROM:<a@remote.test>", 250),
                          ("RCPT TO:<anna@xn--bcher-kva.test>", 250),
                          ("RCPT TO:<anna@xn--bcher-kvb.test>", 554),
                          ("DATA", 354),
                          ("Subject: a-label\r\n\r\nx\r\n.", 250),
                          ("MAIL FROM:<a@remote.test> SMTPUTF8", 250),
                          ("RCPT TO:<max@münchen.test>", 250),
                          ("RCPT TO:<max@xn--mnchen-3ya.test>", 250),
                          # NFD spellings (e + U+0308, a macOS client)
                          # are the NFC-created account and domain.
                          ("RCPT TO:<jo\u0308rg@example.test>", 250),
                          ("RCPT TO:<anna@bu\u0308cher.test>", 250),
                          ("DATA", 354),
                          ("Subject: u-label\r\n\r\nx\r\n.", 250)]:
            code, lines = r.cmd(cmd)
            assert code == want, (cmd, lines)
        r.close()
        got = s.messages("anna@bücher.test")
        assert len(got) == 2 and [m for m in got if "a-label" in m[1]] and \
            [m for m in got if "u-label" in m[1]], got
        got = s.messages("jörg@example.test")
        assert len(got) == 2 and [m for m in got if "u-label" in m[1]], got
        raw = s.raw("anna@bücher.test", got[0][0])
        # The rewritten UTF-8 address stays out of a message without
        # SMTPUTF8: the Received field names it in its A-labels.
        assert b"\tfor <anna@xn--bcher-kva.test>;" in raw and all(b < 0x80 for b in raw), raw
        got = s.messages("max@xn--mnchen-3ya.test")
        assert len(got) == 1 and "u-label" in got[0][1], got


def test_aliases_catchall_plus_addressing():
    with srv() as s:
        s.cli("alias", "add", "info@example.test", "bob@example.test")
        s.cli("alias", "add", "team@example.test", "bob@example.test")
        s.cli("alias", "add", "team@example.test", "carol@example.test")
        s.cli("alias", "add", "@other.test", "carol@example.test")
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10) as c:
            c.sendmail("a@remote.test", ["info@example.test"], message(subject="via alias"))
            c.sendmail("a@remote.test", ["team@example.test"], message(subject="to team"))
            c.sendmail("a@remote.test", ["nobody@other.test"], message(subject="catch all"))
            c.sendmail("a@remote.test", ["dave@other.test"], message(subject="real user wins"))
            c.sendmail("a@remote.test", ["Bob+lists@Example.TEST"], message(subject="plus tag"))
        bob = [m[1] for m in s.messages("bob@example.test")]
        carol = [m[1] for m in s.messages("carol@example.test")]
        dave = [m[1] for m in s.messages("dave@other.test")]
        assert any("via alias" in m for m in bob) and any("plus tag" in m for m in bob), bob
        assert any("to team" in m for m in bob) and any("to team" in m for m in carol)
        assert any("catch all" in m for m in carol), carol
        assert any("real user wins" in m for m in dave) and not any("real user wins" in m for m in carol)


def test_alias_to_many_accounts_reaches_every_one():
    """An alias that names more than 16 accounts (a staff list): RCPT
    answered 250, so every account gets its copy; none are dropped
    silently past a fixed-size array (the 17th and later got nothing),
    and every member may send as it on 587."""
    many = [("m%02d@example.test" % i, "many-pw-%02d" % i) for i in range(17)]
    with Server(domains=("example.test",), accounts=many, submission=True) as s:
        for a, _ in many:
            s.cli("alias", "add", "staff@example.test", a)
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10) as c:
            assert c.sendmail("a@remote.test", ["staff@example.test"], message(subject="all staff")) == {}
        missing = [a for a, _ in many if len(s.messages(a)) != 1]
        assert missing == [], missing
        # The alias is each member's to send as (submission's rule), the
        # 17th's too: it was refused 553 as not owned.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", s.submission_port, timeout=10) as c:
            c.starttls(context=ctx)
            c.login(*many[16])
            assert c.docmd("MAIL FROM:<staff@example.test>")[0] == 250


def question(data):
    """(name, type) of a DNS query's first question: "a.test", 15."""
    labels, i = [], 12
    while i < len(data) and data[i]:
        labels.append(data[i + 1:i + 1 + data[i]].decode("ascii", "replace").lower())
        i += 1 + data[i]
    return ".".join(labels), int.from_bytes(data[i + 1:i + 3], "big")


class SlowDns:
    """Relays DNS queries to the run's loopback server, the answers about
    names holding `only` (as wire labels) held back delay seconds: port
    25's checks then wait that long. With delay None those queries are
    never answered, only counted (held). MX queries about names holding
    hold_mx are never answered either (held). Every query's (name, type)
    is kept in asked, in order."""

    def __init__(self, delay, only=b"\x06_dmarc", hold_mx=None):
        import socket
        import threading
        from harness import default_dns
        host, port = default_dns().split(":")
        self.up = (host, int(port))
        self.delay, self.only, self.hold_mx = delay, only, hold_mx
        self.held = 0
        self.asked = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.servers = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import socket
        import threading
        while not self.stopped:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            q = question(data)
            self.asked.append(q)
            if (self.delay is None and self.only in data) or \
                    (self.hold_mx and self.hold_mx in data and q[1] == 15):
                self.held += 1
                continue
            threading.Thread(target=self._relay, args=(data, peer), daemon=True).start()

    def _relay(self, data, peer):
        import socket
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(2)
            try:
                u.sendto(data, self.up)
                answer = u.recv(4096)
            except OSError:
                return
        if self.only in data:
            time.sleep(self.delay)
        try:
            self.sock.sendto(answer, peer)
        except OSError:
            pass

    def stop(self):
        self.stopped = True
        self.thread.join()
        self.sock.close()


def test_idle_timeout_still_armed_after_a_slow_delivery():
    """The idle timer that fires while the message is being checked and
    stored (our side working) must be armed again: it was dropped, so a
    client that went silent after a 250 kept its connection (and its slot
    of the per-IP and stress-mode limits) for the whole session limit,
    an hour, instead of TERN_SMTP_TIMEOUT."""
    dns = SlowDns(0.6)
    try:
        with srv(env={"TERN_DNS_SERVERS": dns.servers, "TERN_SMTP_TIMEOUT": "1",
                      "TERN_SMTP_STRESS_TIMEOUT": "1"}) as s:
            r = Raw(s.smtp_port)
            assert r.cmd("EHLO slow.test")[0] == 250
            assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
            assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
            assert r.cmd("DATA")[0] == 354
            t0 = time.time()
            code, lines = r.cmd(message(subject="slow checks") + ".")
            assert code == 250, lines
            assert time.time() - t0 > 1.0  # the checks outlived an idle period
            r.sock.settimeout(4)
            code, lines = r.reply()
            assert code == 421 and "timeout" in lines[0], lines
            r.close()
    finally:
        dns.stop()


def test_checks_end_at_their_deadline():
    """Nameservers that never answer must not hold the end of DATA: the
    checks' lookups were each bounded (c-ares' tries) but not their sum,
    with the idle and session limits suspended meanwhile. At the deadline
    (TERN_TEST_CHECKS_DEADLINE_MS, test-only; 30 s in production) what
    still runs ends as temperror: DMARC's is a 451; a DKIM key alone
    leaves dkim=temperror and the message is delivered."""
    import base64 as b64
    dns = SlowDns(None, only=b"\x04slow\x04test")
    sig = ("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=slow.test; s=sel;\r\n"
           " h=from:to:subject; bh=%s;\r\n b=%s\r\n") % (
               b64.b64encode(bytes(32)).decode(), b64.b64encode(bytes(128)).decode())
    try:
        with srv(env={"TERN_DNS_SERVERS": dns.servers,
                      "TERN_TEST_CHECKS_DEADLINE_MS": "1000"}) as s:
            r = Raw(s.smtp_port, timeout=6)
            assert r.cmd("EHLO slow.test")[0] == 250
            # Everything about slow.test hangs: SPF, the key, DMARC.
            assert r.cmd("MAIL FROM:<a@slow.test>")[0] == 250
            assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
            assert r.cmd("DATA")[0] == 354
            t0 = time.time()
            code, lines = r.cmd(sig + message(subject="hung", sender="alice@slow.test") + ".")
            assert code == 451 and "4.7.1" in lines[0], lines
            assert time.time() - t0 < 4, time.time() - t0
            # Only the key hangs: SPF fails at once, DMARC has no record.
            assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
            assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
            assert r.cmd("DATA")[0] == 354
            t0 = time.time()
            code, lines = r.cmd(sig + message(subject="key hangs") + ".")
            assert code == 250, lines
            assert time.time() - t0 < 4, time.time() - t0
            r.close()
            # Logged lines can follow the reply (log_defer): wait for them.
            assert s.wait_log("event=checks_timeout checks=dkim\n"), s.log_text()
            log = s.log_text()
            assert "event=checks_timeout checks=dkim,spf,dmarc" in log, log
            assert "event=checks_timeout checks=dkim\n" in log, log
            raw = s.raw("bob@example.test", s.messages("bob@example.test")[0][0])
            assert b"dkim=temperror" in raw, raw
    finally:
        dns.stop()


def test_abandoned_spf_checks_do_not_pile_up():
    """MAIL starts the SPF check; RSET cancelled it, but its lookup stayed
    in flight in c-ares for all its tries (3 s x 3, doubling): a client
    pipelining MAIL FROM:<a@slow.test> RSET in a loop made one query
    (and its memory) per transaction, to nameservers that never answer:
    unbounded memory here and a flood for them. A session keeps one
    abandoned check at most, and the next transaction's SPF waits for
    it."""
    dns = SlowDns(None, only=b"\x04slow\x04test")
    try:
        # 2 s, not less: the last message's DMARC lookup (answered at once)
        # must finish inside it even under ASan on a loaded machine, or its
        # temperror makes the answer 451 (it did once at 500 ms).
        with srv(env={"TERN_DNS_SERVERS": dns.servers,
                      "TERN_TEST_CHECKS_DEADLINE_MS": "2000"}) as s:
            r = Raw(s.smtp_port)
            assert r.cmd("EHLO slow.test")[0] == 250
            n = 95  # RSETs: under the junk command limit (100)
            r.send("MAIL FROM:<a@x.slow.test>\r\nRSET\r\n" * n)
            for _ in range(2 * n):
                assert r.reply()[0] == 250
            time.sleep(0.3)
            assert dns.held <= 2, dns.held
            # The session still works: its message's SPF ends at the deadline.
            assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
            assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
            assert r.cmd("DATA")[0] == 354
            code, lines = r.cmd(message(subject="after the flood") + ".")
            assert code == 250, lines
            r.close()
            assert s.wait_log("checks=spf"), s.log_text()
    finally:
        dns.stop()


def test_null_mx_sender_refused_without_holding_replies():
    """RFC 7505 §4.2: mail from a domain that publishes a null MX ("0 .")
    could get no bounce: 550 5.7.27, as Postfix does. Its MX query runs
    beside SPF's and holds no reply: MAIL, RCPT and DATA pipelined are
    250, 250, 354 while the answer is held back; by the decision at the
    end of DATA (SPF and DMARC, held as long) it is in, and the message
    is refused. Then the answer is known: MAIL is refused at once, in this
    session and the next. A domain whose lookup fails passes, and its
    failure is remembered: the next session does not ask again. An MX
    query that is never answered holds nothing: the message is delivered
    when SPF and DMARC are done (the first try waited for it there, up to
    the checks' 30 s)."""
    dns = SlowDns(0.5, only=b"\x06nullmx\x04test", hold_mx=b"\x06mxhang\x04test")
    try:
        with srv(env={"TERN_DNS_SERVERS": dns.servers}) as s:
            r = Raw(s.smtp_port)
            assert r.cmd("EHLO client.test")[0] == 250
            r.send("MAIL FROM:<a@nullmx.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
            assert [r.reply()[0] for _ in range(3)] == [250, 250, 354]
            code, lines = r.cmd(message(subject="from nowhere", sender="a@nullmx.test") + ".")
            assert code == 550 and lines[0].startswith("550 5.7.27 <a@nullmx.test>"), lines
            code, lines = r.cmd("MAIL FROM:<b@NullMX.test>")
            assert code == 550 and "5.7.27" in lines[0], lines
            assert r.cmd("RCPT TO:<bob@example.test>")[0] == 503  # no transaction
            r.close()
            r = Raw(s.smtp_port)
            assert r.cmd("EHLO client.test")[0] == 250
            assert r.cmd("MAIL FROM:<c@nullmx.test>")[0] == 550  # from the cache
            # SERVFAIL (the run's zone): a pass, remembered.
            assert r.cmd("MAIL FROM:<a@flaky.test>")[0] == 250
            assert s.wait_log("event=null_mx_check domain=flaky.test result=temperror")
            asked = dns.asked.count(("flaky.test", 15))
            assert asked >= 1, dns.asked
            assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
            assert r.cmd("DATA")[0] == 354
            code, lines = r.cmd(message(subject="flaky") + ".")
            assert code == 250, lines
            r.close()
            r = Raw(s.smtp_port)
            assert r.cmd("EHLO client.test")[0] == 250
            assert r.cmd("MAIL FROM:<b@flaky.test>")[0] == 250
            assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
            r.close()
            assert dns.asked.count(("flaky.test", 15)) == asked, dns.asked
            assert dns.asked.count(("nullmx.test", 15)) == 1, dns.asked
            assert len(s.messages("bob@example.test")) == 1  # flaky's alone
            r = Raw(s.smtp_port, timeout=5)
            assert r.cmd("EHLO client.test")[0] == 250
            assert r.cmd("MAIL FROM:<a@mxhang.test>")[0] == 250
            assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
            assert r.cmd("DATA")[0] == 354
            code, lines = r.cmd(message(subject="mx hangs") + ".")
            assert code == 250, lines
            r.close()
            assert dns.held >= 1 and ("mxhang.test", 15) in dns.asked, dns.asked
            assert s.wait_log("event=message_rejected reason=null_mx from=a@nullmx.test")
    finally:
        dns.stop()


def test_one_blob_many_recipients_and_dedup():
    with srv() as s:
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10) as c:
            c.sendmail("a@remote.test", ["bob@example.test", "carol@example.test", "bob+x@example.test"],
                       message(subject="to many"))
        assert len(s.messages("bob@example.test")) == 1  # bob and bob+x are one account
        assert len(s.messages("carol@example.test")) == 1
        rb = s.raw("bob@example.test", s.messages("bob@example.test")[0][0])
        rc = s.raw("carol@example.test", s.messages("carol@example.test")[0][0])
        assert rb == rc and b"\tfor <" not in rb
        # Each account keeps only its own envelope recipients (no Bcc leak).
        env = s.cli("fetch", "carol@example.test", "--id", "1", "--envelope").stdout.decode()
        assert "RCPT TO:<carol@example.test>" in env and "bob" not in env, env
        env = s.cli("fetch", "bob@example.test", "--id", "1", "--envelope").stdout.decode()
        assert "RCPT TO:<bob@example.test>" in env and "RCPT TO:<bob+x@example.test>" in env, env


def test_recipient_policy():
    with srv(env={"TERN_DOMAIN": "example.test"}) as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO policy.test")
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        code, lines = r.cmd("RCPT TO:<nobody@example.test>")
        assert code == 550 and "5.1.1" in lines[0], lines
        code, lines = r.cmd("RCPT TO:<someone@elsewhere.test>")
        assert code == 554 and "5.7.1" in lines[0], lines
        code, lines = r.cmd("DATA")
        assert code == 554 and "5.5.1" in lines[0], lines  # no valid recipients
        # Postmaster at a literal of the address the client connected to
        # is ours (RFC 1123 §5.2.17: "An SMTP MUST accept and recognize a
        # domain literal for any of its own IP addresses"); at another
        # address it is not. Another local part at our literal is that
        # user of the primary domain (TERN_DOMAIN), as Postfix takes a
        # local user there; an unknown one is unknown, not relayed.
        for rcpt, want in (("<Postmaster@[192.0.2.1]>", 554), ("<bob@[192.0.2.1]>", 554),
                           ("<postmaster@[IPv6:::1]>", 554), ("<bob@[IPv6:::1]>", 554),
                           ("<nobody@[127.0.0.1]>", 550), ("<dave@[127.0.0.1]>", 550),
                           ("<postmaster@[127.0.0.1]>", 250), ("<bob@[127.0.0.1]>", 250)):
            code, lines = r.cmd("RCPT TO:" + rcpt)
            assert code == want, (rcpt, lines)
        assert r.cmd("DATA")[0] == 354
        code, lines = r.cmd("Subject: to the postmaster\r\n\r\nx\r\n.")
        assert code == 250, lines
        r.close()
        # No postmaster account: the administrator's (the oldest account).
        got = s.messages("bob@example.test")
        assert len(got) == 1 and "to the postmaster" in got[0][1], got


def test_literal_without_primary_domain():
    """Without a primary domain (no TERN_DOMAIN, no wizard), a local part
    at a literal of our own address names this host (RFC 5321 §4.1.3) but
    no user: 550 5.1.1 User unknown, as Postfix answers a local part it
    does not know. It was 554 5.7.1 Relay access denied, as if the host
    were someone else's. Postmaster there is still ours; another host's
    literal is still a relay."""
    with srv() as s:
        assert "TERN_DOMAIN" not in s.env
        r = Raw(s.smtp_port)
        r.cmd("EHLO literal.test")
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        for rcpt, want in (("<bob@[127.0.0.1]>", "550 5.1.1"), ("<nobody@[127.0.0.1]>", "550 5.1.1"),
                           ("<bob@[192.0.2.1]>", "554 5.7.1"), ("<postmaster@[127.0.0.1]>", "250 2.1.5")):
            code, lines = r.cmd("RCPT TO:" + rcpt)
            assert lines[0].startswith(want), (rcpt, lines)
        r.close()


def test_starttls_after_helo():
    """STARTTLS after HELO (not EHLO), which offered no extension: taken,
    as Postfix's smtpd takes it (its STARTTLS asks for no EHLO before;
    RFC 3207 sets no order), and the session starts over inside TLS: EHLO
    there no longer offers STARTTLS, a second one is refused, and mail
    goes through."""
    with srv() as s:
        r = Raw(s.smtp_port)
        assert r.cmd("HELO old.remote.test")[0] == 250
        code, lines = r.cmd("STARTTLS")
        assert code == 220, lines
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        r.sock = ctx.wrap_socket(r.sock, server_hostname="mx.example.test")
        # what HELO said is gone (RFC 3207 §4.2)
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 503
        code, lines = r.cmd("EHLO tls.remote.test")
        assert code == 250 and not any("STARTTLS" in l for l in lines), lines
        code, lines = r.cmd("STARTTLS")
        assert code == 554 and "already active" in lines[0], lines
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
        assert r.cmd("DATA")[0] == 354
        assert r.cmd(message(subject="starttls after helo") + ".")[0] == 250
        r.close()
        raw = s.raw("bob@example.test", s.messages("bob@example.test")[-1][0])
        assert b"with ESMTPS id" in raw and b"starttls after helo" in raw, raw[:400]


def test_too_many_recipients():
    with srv() as s:
        s.cli("alias", "add", "@example.test", "bob@example.test")
        r = Raw(s.smtp_port)
        r.cmd("EHLO many.test")
        r.cmd("MAIL FROM:<a@remote.test>")
        batch = "".join("RCPT TO:<u%d@example.test>\r\n" % i for i in range(101))
        r.send(batch)
        replies = [r.reply() for _ in range(101)]
        assert all(c == 250 for c, _ in replies[:100])
        assert replies[100][0] == 452 and "4.5.3" in replies[100][1][0], replies[100]
        # A client that ignores the 452: past 1,000 more (Postfix's
        # smtpd_recipient_overshoot_limit) each is an error, the 10th closes.
        r.send("".join("RCPT TO:<u%d@example.test>\r\n" % i for i in range(101, 1110)))
        assert [r.reply()[0] for _ in range(1009)] == [452] * 1009
        code, lines = r.reply()
        assert code == 421 and "too many errors" in lines[0], lines
        assert r.closed()


def test_size_limit():
    with srv(env={"TERN_MAX_MESSAGE_SIZE": "64K"}) as s:
        r = Raw(s.smtp_port)
        code, lines = r.cmd("EHLO size.test")
        assert "250-SIZE 65536" in lines
        code, lines = r.cmd("MAIL FROM:<a@remote.test> SIZE=100000")
        assert code == 552 and "5.3.4" in lines[0]
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
        assert r.cmd("DATA")[0] == 354
        r.send(("x" * 998 + "\r\n") * 100 + ".\r\n")
        code, lines = r.reply()
        assert code == 552 and "5.3.4" in lines[0], lines
        assert r.cmd("NOOP")[0] == 250  # still in step
        assert s.messages("bob@example.test") == []
        # BDAT is held to the same SIZE: 65,536 octets of content go in,
        # one more is refused (the spool's room for our Received field
        # let a chunked message through up to some 4K over).
        head = message(subject="exact", body="").encode()
        pad = 65536 - len(head)
        nlines = (pad - 2) // 100
        exact = head + b"y" * (pad - 100 * nlines - 2) + b"\r\n" + (b"y" * 98 + b"\r\n") * nlines
        assert len(exact) == 65536, len(exact)
        for body, want in ((exact + b"z", 552), (exact, 250)):
            assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
            assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
            r.send(b"BDAT %d LAST\r\n" % len(body) + body)
            code, lines = r.reply()
            assert code == want and lines[0][4:9] == ("5.3.4" if want == 552 else "2.0.0"), lines
            if code != 250:
                assert r.cmd("RSET")[0] == 250
        got = s.messages("bob@example.test")
        assert len(got) == 1 and "exact" in got[0][1], got


def test_bdat_chunks_past_the_size_limit_are_one_refusal():
    # A client that pipelines a message in chunks (RFC 3030 §4.2) and
    # passes SIZE with one gets 552 5.3.4 for that chunk and for each it
    # had sent behind it, LAST included, counted as one error as DATA's
    # one 552 is; LAST ends the transaction as DATA's end does. Before,
    # each later chunk was "503 ... send RSET" and one more error, so a
    # message of a dozen chunks was cut with 421 (TERN_SMTP_MAX_ERRORS),
    # which a client takes as "try again later", for ever.
    with srv(env={"TERN_MAX_MESSAGE_SIZE": "100000"}) as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO chunks.test")
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
        chunk = b"y" * 30000 + b"\r\n"
        r.send((b"BDAT %d\r\n" % len(chunk) + chunk) * 13 + b"BDAT 2 LAST\r\n\r\n")
        codes = []
        for _ in range(14):
            try:
                code, lines = r.reply()
            except EOFError:
                code = "closed"
            codes.append(code)
            if code == "closed":
                break
            if code == 552:
                assert lines[0].startswith("552 5.3.4 "), lines
        assert codes == [250] * 3 + [552] * 11, codes
        assert r.cmd("NOOP")[0] == 250
        # The transaction is over: a new one needs no RSET.
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        r.close()
        assert s.messages("bob@example.test") == []
        assert s.wait_log("event=message_rejected reason=too_big"), s.log_text()


def test_dsn_parameters_accepted():
    with srv() as s:
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10) as c:
            c.ehlo("dsn.test")
            c.sendmail("a@remote.test", ["bob@example.test"], message(subject="dsn"),
                       mail_options=["RET=HDRS", "ENVID=QQ314159"],
                       rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob@example.test"])
        msgs = s.messages("bob@example.test")
        assert len(msgs) == 1
        env = s.cli("fetch", "bob@example.test", "--id", str(msgs[0][0]), "--envelope").stdout
        assert env == (b"MAIL FROM:<a@remote.test> RET=HDRS ENVID=QQ314159\r\n"
                       b"RCPT TO:<bob@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.test\r\n"), env
        r = Raw(s.smtp_port)
        r.cmd("EHLO dsn.test")
        assert r.cmd("MAIL FROM:<a@remote.test> RET=BOGUS")[0] == 501
        assert r.cmd("MAIL FROM:<a@remote.test> FOO=BAR")[0] == 555


def test_success_notices_for_local_delivery():
    """RFC 3461: a recipient whose RCPT asked NOTIFY=SUCCESS gets its sender
    a notice with Action: delivered once the message is in the mailbox
    (Thunderbird's "Delivery Status Notification" asks for it). From the
    null sender, into a local sender's INBOX; none for NOTIFY=FAILURE
    alone, NEVER, or a null sender."""
    with srv() as s:
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10) as c:
            c.ehlo("dsn.test")
            c.sendmail("carol@example.test", ["bob@example.test", "dave@other.test"],
                       message(subject="wants a receipt", body="Secret body.\r\n"),
                       mail_options=["ENVID=ENV42"],
                       rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob@example.test"])
            # No notice: FAILURE only, NEVER, absent, or the null sender.
            c.sendmail("carol@example.test", ["bob@example.test"], message(subject="f"),
                       rcpt_options=["NOTIFY=FAILURE"])
            c.sendmail("carol@example.test", ["bob@example.test"], message(subject="n"),
                       rcpt_options=["NOTIFY=NEVER"])
            c.sendmail("carol@example.test", ["bob@example.test"], message(subject="a"))
            c.sendmail("", ["bob@example.test"], message(subject="z"),
                       rcpt_options=["NOTIFY=SUCCESS"])
        assert len(inbox(s, "bob@example.test", 5)) == 5
        assert s.wait_log("event=notice kind=delivered to=local")
        time.sleep(0.5)  # a wrong second notice would have come by now
        msgs = s.messages("carol@example.test")
        assert len(msgs) == 1, msgs
        raw = s.raw("carol@example.test", msgs[0][0]).decode()
        head, _, body = raw.partition("\r\n\r\n")
        assert head.startswith("Return-Path: <>\r\n"), head
        assert "\r\nTo: <carol@example.test>\r\n" in head
        assert "Subject: Successful Mail Delivery Report" in head
        assert "multipart/report; report-type=delivery-status" in head
        assert "Original-Envelope-Id: ENV42\r\n" in body
        # One recipient per RCPT that asked, even with two accounts behind them.
        assert body.count("Final-Recipient: ") == 2, body
        for who in ("bob@example.test", "dave@other.test"):
            assert ("Final-Recipient: rfc822; %s\r\n" % who) in body, body
        assert "Original-Recipient: rfc822;bob@example.test\r\n" in body
        assert body.count("Action: delivered\r\nStatus: 2.0.0\r\n") == 2, body
        # RET absent = headers only: the subject comes back, the body does not.
        assert "Subject: wants a receipt" in body and "Secret body." not in body
        assert "text/rfc822-headers" in body

        # A sender outside our domains cannot be verified on port 25: no
        # notice (test_policy.py covers it).


def test_stored_in_place_and_notices_see_the_message():
    """The stored message is the head written in front of the received
    bytes in their spool, not a copy of both (deliver.h, data_spool):
    Return-Path, our Received, the checks' fields, then the message as
    sent, for a message held in memory and one in a file (3 MiB, past
    SPOOL_MEM_MAX). The success notice is made after the commit from the
    received bytes: it carries our Received field as stored, so the
    octets the head was written over were put back. A big message with
    a forged verdict field is composed without it, as before."""
    with srv() as s:
        big = "".join("line %06d %s\r\n" % (i, "x" * 60) for i in range(3 * 1024 * 1024 // 72))
        sent = {"small in place": message(subject="small in place"),
                "big in place": message(subject="big in place", body=big),
                "big forged": message(subject="big forged", body=big,
                                      extra="X-Spam-Flag: NO\r\n")}
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.ehlo("client.remote.test")
            for m in sent.values():
                assert c.sendmail("carol@example.test", ["bob@example.test"], m,
                                  rcpt_options=["NOTIFY=SUCCESS"]) == {}
        received = {}
        for mid, line in inbox(s, "bob@example.test", 3):
            subject = next(k for k in sent if k in line)
            raw = s.raw("bob@example.test", mid).decode()
            assert raw.startswith("Return-Path: <carol@example.test>\r\n"
                                  "Received: from client.remote.test ([127.0.0.1])"), raw[:300]
            want = sent[subject].replace("X-Spam-Flag: NO\r\n", "")
            assert raw.endswith(want), (subject, raw[:600])
            assert "X-Spam-Flag" not in raw
            # Our Received field: its first line and the folded ones after.
            lines = raw.split("\r\n")[1:]
            n = 1
            while lines[n][:1] in (" ", "\t"):
                n += 1
            received[subject] = "\r\n".join(lines[:n]) + "\r\n"
            assert "for <bob@example.test>" in received[subject], received[subject]
        notices = []
        for _ in range(100):
            notices = s.messages("carol@example.test")
            if len(notices) == 3:
                break
            time.sleep(0.1)
        assert len(notices) == 3, notices
        for mid, _ in notices:
            body = s.raw("carol@example.test", mid).decode()
            subject = next(k for k in sent if ("Subject: %s\r\n" % k) in body)
            assert "Action: delivered" in body
            assert received[subject] + "From: alice@remote.test\r\n" in body, (subject, body[-1500:])


def test_misc_commands():
    with srv() as s:
        r = Raw(s.smtp_port)
        assert r.greeting[0] == 220 and "ESMTP" in r.greeting[1][0]
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 503  # before EHLO
        assert r.cmd("HELO old.test")[0] == 250
        assert r.cmd("VRFY bob")[0] == 252
        assert r.cmd("EXPN staff")[0] == 502
        assert r.cmd("HELP")[0] == 214
        assert r.cmd("NOOP")[0] == 250
        assert r.cmd("RSET")[0] == 250
        assert r.cmd("AUTH PLAIN AGJvYgBib2I=")[0] == 503  # no AUTH on port 25
        assert r.cmd("FOO bar")[0] == 500
        # BURL is submission's (RFC 4468): port 25 does not know it in any
        # state, with or without a transaction (it said 503 outside one).
        assert r.cmd("BURL imap://x.test/;urlauth=x LAST")[0] == 500
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        assert r.cmd("BURL imap://x.test/;urlauth=x LAST")[0] == 500
        assert r.cmd("QUIT")[0] == 221
        assert r.closed()


def _big_multipart(subject, mib=3):
    """A multipart message of about MIB MiB: a text part and two base64
    attachments, so its structure has three leaves."""
    # Two attachments, base64 (4/3 of the raw size): MIB MiB in all.
    blob = base64.encodebytes(os.urandom(mib * 1024 * 1024 * 3 // 8)).decode()
    blob = blob.replace("\n", "\r\n")
    parts = ["--BB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attachments.\r\n"]
    for name in ("one.bin", "two.bin"):
        parts.append("--BB\r\nContent-Type: application/octet-stream; name=%s\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n%s" % (name, blob))
    body = "".join(parts) + "--BB--\r\n"
    return message(subject=subject, body=body,
                   extra="MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n")


def test_big_message_prepared_on_a_worker():
    # Past 1 MiB the blob id and the MIME structure are computed on the
    # worker pool, not on the loop: the bytes, the de-duplication (one blob
    # for two accounts, found by that id) and the structure must come out
    # as they do for a small message.
    msg = _big_multipart("big one")
    assert len(msg) > 2 * 1024 * 1024
    with srv(imap=True) as s:
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            assert c.sendmail("a@remote.test", ["bob@example.test", "carol@example.test"],
                              msg) == {}
            # The loop kept serving this session while the worker ran.
            assert c.noop()[0] == 250
        mb = s.messages("bob@example.test")
        mc = s.messages("carol@example.test")
        assert len(mb) == 1 and "big one" in mb[0][1], mb
        assert len(mc) == 1
        rb, rc = s.raw("bob@example.test", mb[0][0]), s.raw("carol@example.test", mc[0][0])
        assert rb == rc and rb.endswith(msg.encode()), (len(rb), len(msg))
        assert s.wait_log("event=delivered"), s.log_text()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx, timeout=30)
        try:
            m.login("bob@example.test", "bob-pw-1")
            m.select("INBOX")
            typ, data = m.fetch("1", "(BODYSTRUCTURE)")
            assert typ == "OK", data
            bs = data[0].decode() if isinstance(data[0], bytes) else data[0][0].decode()
            assert bs.count('"application" "octet-stream"') == 2, bs
            assert '"text" "plain"' in bs and '"mixed"' in bs, bs
            typ, data = m.fetch("1", "(BODY.PEEK[3])")
            assert typ == "OK" and data[0][1].startswith(msg.split("name=two.bin\r\n", 1)[1]
                                                          .split("\r\n\r\n", 1)[1][:1000].encode())
        finally:
            m.logout()


def test_big_message_client_hangs_up_after_the_dot():
    # The client sends a big message and hangs up at once, without waiting
    # for the reply: the message is whole, so it is stored whole (the
    # sender never saw 250 and will send it again, as after any lost
    # reply), exactly once, and the server goes on.
    msg = _big_multipart("gone after dot", mib=2)
    with srv() as s:
        r = Raw(s.smtp_port, timeout=30)
        r.cmd("EHLO gone.test")
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
        assert r.cmd("DATA")[0] == 354
        r.send(msg + ".\r\n")
        r.close()
        assert s.wait_log("event=disconnect", timeout=20)
        deadline = time.time() + 20
        while time.time() < deadline and not s.messages("bob@example.test"):
            time.sleep(0.1)
        got = s.messages("bob@example.test")
        assert len(got) == 1, got
        assert s.raw("bob@example.test", got[0][0]).endswith(msg.encode())
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10) as c:
            assert c.sendmail("a@remote.test", ["bob@example.test"], message(subject="after")) == {}
        assert len(s.messages("bob@example.test")) == 2
        assert s.proc.poll() is None
