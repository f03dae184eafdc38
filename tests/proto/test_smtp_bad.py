"""Bad input on inbound SMTP: each gets a clear reply, none crashes the
server, none stores a half message."""
import socket
import ssl
import subprocess
import time

from harness import Server, Raw, message

# Not EXCLUSIVE: no case measures the server's speed. The time limits are
# seconds long with seconds of slack, and the one that must straddle a
# commit tries longer limits when the machine is slow to send its 60 MB.

ACCOUNTS = [("bob@example.test", "bob-pw-1")]


def srv(**kw):
    return Server(accounts=ACCOUNTS, **kw)


def alive(s):
    r = Raw(s.smtp_port)
    ok = r.greeting[0] == 220 and r.cmd("NOOP")[0] == 250
    r.close()
    return ok and s.proc.poll() is None


def test_long_command_line():
    with srv() as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO long.test")
        r.send("NOOP " + "a" * 5000 + "\r\n")
        code, lines = r.reply()
        # 5.5.2: X.5.6 is for a SASL response too long (RFC 4954 §6).
        assert code == 500 and "5.5.2" in lines[0], lines
        assert r.cmd("NOOP")[0] == 250  # resynchronised after the long line
        r.send("MAIL FROM:<" + "x" * 100000)  # never ends
        assert r.reply()[0] == 500
        # Dropped, but not for ever: past 16 MiB of one line the session
        # ends (it read 1.4 GB in 3 s of such a line, for up to an hour).
        assert _flood_until_closed(r, 40 << 20), "still reading an endless line after 40 MiB"
        r.close()
        assert s.wait_log("line_too_long")  # logged after the close, maybe later
        assert alive(s)


def _flood_until_closed(r, total):
    """Sends up to total octets of "x" with no line end; True when the
    server closed the connection before all were sent, or right after."""
    piece = b"x" * (256 << 10)
    try:
        for _ in range(total // len(piece)):
            r.sock.sendall(piece)
    except (BrokenPipeError, ConnectionResetError):
        return True
    return r.closed(10)


def test_bdat_chunk_too_big_to_read_through():
    """A refused BDAT chunk is read through to stay in step (RFC 3030),
    but one past 16 MiB is not: 421 and the close, not hours of reading
    "BDAT 18446744073709551615"'s octets."""
    with srv() as s:
        # In a transaction: over the size limit (552); outside one: no
        # transaction (503). Either way its octets are not read through.
        for envelope, refusal in ((True, 552), (False, 503)):
            r = Raw(s.smtp_port)
            r.cmd("EHLO big.test")
            if envelope:
                assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
                assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
            code, lines = r.cmd("BDAT 18446744073709551615")
            assert code == refusal, lines
            code, lines = r.reply()
            assert code == 421, lines
            assert r.closed(10)
            r.close()
        # One of honest size still is.
        r = Raw(s.smtp_port)
        r.cmd("EHLO big.test")
        r.send("BDAT 5\r\nhello")
        assert r.reply()[0] == 503
        assert r.cmd("NOOP")[0] == 250
        r.close()
        assert alive(s)


def test_nul_and_bare_line_ends_in_commands():
    with srv() as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO nul.test")
        r.send(b"NOOP\x00x\r\n")
        assert r.reply()[0] == 500
        r.send(b"NOOP\n")
        code, lines = r.reply()
        assert code == 500 and "LF" in lines[0], lines
        r.send(b"NO\rOP\r\n")
        assert r.reply()[0] == 500
        assert r.cmd("NOOP")[0] == 250
        r.close()


def test_reply_lines_fit_512_octets():
    # RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with its
    # code and CRLF. EHLO's first line echoes the client's name beside
    # ours: with both long (a host name may have 253 octets, the EHLO
    # argument is kept to 255) it came to 567.
    host = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    with srv(env={"TERN_HOSTNAME": host}) as s:
        r = Raw(s.smtp_port)
        assert r.greeting[0] == 220
        helo = ".".join(["e" * 63, "f" * 63, "g" * 63, "h" * 63])
        code, lines = r.cmd("EHLO " + helo)
        assert code == 250, lines
        assert lines[0].startswith("250-" + host), lines[0][:80]
        assert "250-PIPELINING" in lines, lines
        too_long = [len(l) + 2 for l in lines if len(l) + 2 > 512]
        assert not too_long, too_long
        assert r.cmd("NOOP")[0] == 250
        r.close()


def test_ehlo_reply_echoes_only_printable_ascii():
    # RFC 5321 §4.2: reply text is "textstring = 1*(%d09 / %d32-126)".
    # EHLO's first line echoed the client's name as sent: control octets
    # (an ANSI escape sequence for the terminal of whoever reads the
    # session with swaks or telnet) and octets past ASCII went back raw.
    with srv() as s:
        r = Raw(s.smtp_port)
        for name, shown in ((b"a\x01b", "a?b"), (b"\x1b[31mred", "?[31mred"),
                            (b"caf\xc3\xa9.test", "caf??.test"), (b"\xff.test", "?.test"),
                            (b"a\x7fb", "a?b")):
            r.send(b"EHLO " + name + b"\r\n")
            code, lines = r.reply()
            assert code == 250, lines
            first = lines[0]
            assert first == "250-mx.example.test Hello %s [127.0.0.1]" % shown, (name, first)
        r.close()


def test_malformed_address_literal_in_ehlo_refused():
    """RFC 5321 §4.1.3 gives address literals a syntax: "[1.2.3]" or
    "[IPv6:1::2::3]" break it, so HELO/EHLO with one is a 501 (it was
    a 250), and the session stays where it was (§4.1.4: MAIL still
    needs a good HELO/EHLO). A well-formed literal is still welcome,
    and so is a hostname that is no domain (Postfix's leniency)."""
    with srv() as s:
        r = Raw(s.smtp_port)
        for verb, arg in (("EHLO", "[IPv6:zz]"), ("EHLO", "[1.2.3]"), ("HELO", "[IPv6:1::2::3]"),
                          ("EHLO", "[300.1.2.3]"), ("EHLO", "[tag:stuff]")):
            code, lines = r.cmd("%s %s" % (verb, arg))
            assert code == 501 and "5.5.4" in lines[0], (verb, arg, lines)
        code, lines = r.cmd("MAIL FROM:<a@remote.test>")
        assert code == 503, lines
        for arg in ("[192.0.2.1]", "[IPv6:2001:db8::1]", "under_score"):
            code, lines = r.cmd("EHLO " + arg)
            assert code == 250, (arg, lines)
        r.close()
    # swaks, a real client, sees the refusal too.
    with srv() as s:
        out = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(s.smtp_port),
                              "--ehlo", "[1.2.3]", "--to", "bob@example.test", "--quit-after",
                              "EHLO"], capture_output=True, text=True, timeout=30)
        assert "<** 501 5.5.4" in out.stdout, out.stdout


def test_bare_lf_in_data_refused():
    with srv() as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO lf.test")
        r.cmd("MAIL FROM:<a@remote.test>")
        r.cmd("RCPT TO:<bob@example.test>")
        assert r.cmd("DATA")[0] == 354
        r.send("Subject: x\r\n\r\nline one\nline two\r\n.\r\n")
        code, lines = r.reply()
        assert code == 554 and "5.6.0" in lines[0], lines
        assert r.cmd("NOOP")[0] == 250
        assert s.messages("bob@example.test") == []


def test_smtp_smuggling_is_not_possible():
    # A hidden "<LF>.<LF>" (or <CR>.<CR>, <LF>.<CR><LF>) must not end the
    # message, so the smuggled MAIL/RCPT/DATA never becomes a second message.
    for sep in (b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r\n.\r"):
        with srv() as s:
            r = Raw(s.smtp_port)
            r.cmd("EHLO smuggle.test")
            r.cmd("MAIL FROM:<a@remote.test>")
            r.cmd("RCPT TO:<bob@example.test>")
            assert r.cmd("DATA")[0] == 354
            payload = (b"Subject: first\r\n\r\nhello" + sep +
                       b"MAIL FROM:<admin@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
                       b"Subject: smuggled\r\n\r\nevil\r\n.\r\n")
            r.send(payload)
            code, lines = r.reply()
            # Whatever the verdict on the first message, nothing was smuggled.
            assert code in (250, 554), (sep, lines)
            assert r.cmd("NOOP")[0] == 250
            r.close()
            listing = " ".join(m[1] for m in s.messages("bob@example.test"))
            assert "smuggled" not in listing, (sep, listing)


def test_nul_in_data_refused():
    with srv() as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO nul.test")
        r.cmd("MAIL FROM:<a@remote.test>")
        r.cmd("RCPT TO:<bob@example.test>")
        r.cmd("DATA")
        r.send(b"Subject: x\r\n\r\nnul \x00 here\r\n.\r\n")
        assert r.reply()[0] == 554
        assert s.messages("bob@example.test") == []
        # BDAT: the same content, the same verdict as DATA's (it took them
        # all); a CRLF split across two chunks is no bare line end.
        for chunks, want in (([b"Subject: x\r\n\r\nline one\nline two\r\n"], 554),
                             ([b"Subject: x\r\n\r\nbare \r cr\r\n"], 554),
                             ([b"Subject: x\r\n\r\nnul \x00 here\r\n"], 554),
                             ([b"Subject: x\r\n\r\nlast\r"], 554),
                             ([b"Subject: x\r\n", b"\nlf first\r\n"], 554),
                             ([b"Subject: split\r\n\r\nends in cr\r", b"\nsecond\r\n"], 250)):
            b = Raw(s.smtp_port)
            for cmd in ("EHLO bdat.test", "MAIL FROM:<a@remote.test>", "RCPT TO:<bob@example.test>"):
                assert b.cmd(cmd)[0] == 250
            for c in chunks[:-1]:
                b.send(b"BDAT %d\r\n" % len(c) + c)
                assert b.reply()[0] == 250
            b.send(b"BDAT %d LAST\r\n" % len(chunks[-1]) + chunks[-1])
            code, lines = b.reply()
            assert code == want and (want == 250 or "5.6.0" in lines[0]), (chunks, lines)
            assert b.cmd("NOOP")[0] == 250
            b.close()
        assert len(s.messages("bob@example.test")) == 1


def test_pregreet_talker_rejected():
    with srv(env={"TERN_SMTP_GREET_DELAY": "700"}) as s:
        sock = socket.create_connection(("127.0.0.1", s.smtp_port))
        sock.sendall(b"EHLO hasty.test\r\n")
        data = b""
        sock.settimeout(5)
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"554 5.5.1") and b"greeting" in data, data
        # A patient client gets the greeting after the delay.
        r = Raw(s.smtp_port)
        assert r.greeting[0] == 220


def test_too_many_errors_disconnects():
    # The error sleep is test_errors_past_half_the_limit_slow_every_reply's.
    with srv(env={"TERN_SMTP_MAX_ERRORS": "5", "TERN_SMTP_SOFT_ERRORS": "5"}) as s:
        r = Raw(s.smtp_port)
        codes = [r.cmd("BOGUS %d" % i)[0] for i in range(4)]
        assert codes == [500] * 4
        code, lines = r.cmd("BOGUS 5")
        assert code == 500
        code, lines = r.reply()
        assert code == 421 and "too many errors" in lines[0], lines
        assert r.closed()

        # The limit is on errors made without delivering mail (as
        # Postfix's smtpd_hard_error_limit): a list server that sends
        # message after message on one connection, each to one stale
        # address among good ones, is not cut off at the 5th.
        e = Raw(s.smtp_port)
        e.cmd("EHLO list.test")
        for i in range(7):
            e.send("MAIL FROM:<list@remote.test>\r\nRCPT TO:<gone@example.test>\r\n"
                   "RCPT TO:<bob@example.test>\r\nDATA\r\n")
            assert [e.reply()[0] for _ in range(4)] == [250, 550, 250, 354], i
            code, lines = e.cmd("Subject: issue %d\r\n\r\nbody\r\n." % i)
            assert code == 250, (i, lines)
        e.close()

        # Commands that do no work (NOOP, RSET, VRFY, EXPN, HELP, EHLO) are
        # answered, but past 100 since the last message accepted each
        # counts as an error (Postfix's smtpd_junk_command_limit): NOOPs
        # alone cannot hold a slot for the session's hour.
        j = Raw(s.smtp_port)
        assert j.cmd("EHLO junk.test")[0] == 250
        junk = ["NOOP", "RSET", "VRFY bob", "EXPN list", "HELP"]
        # With the EHLO, 100. One at a time: NOOP, VRFY and EXPN end a
        # pipelined group (RFC 2920 §3.1), port 25 cuts a client that
        # sends more behind them.
        codes = [j.cmd(junk[i % 5])[0] for i in range(99)]
        assert codes == ([250, 250, 252, 502, 214] * 20)[:99]
        for cmd in ("MAIL FROM:<a@remote.test>", "RCPT TO:<bob@example.test>", "DATA"):
            j.cmd(cmd)
        assert j.cmd("Subject: work\r\n\r\nbody\r\n.")[0] == 250
        # The message reset the count: 100 more, then 4 errors, the 5th closes.
        assert [j.cmd("NOOP")[0] for _ in range(104)] == [250] * 104
        j.send("NOOP\r\n")
        assert j.reply()[0] == 250
        code, lines = j.reply()
        assert code == 421 and "too many errors" in lines[0], lines
        assert j.closed()
        assert s.wait_log("event=junk_commands limit=100")

        # Empty BDAT chunks (but the last) are NOOPs in a transaction.
        b = Raw(s.smtp_port)
        for cmd in ("EHLO junk.test", "MAIL FROM:<a@remote.test>", "RCPT TO:<bob@example.test>"):
            assert b.cmd(cmd)[0] == 250
        b.send("BDAT 0\r\n" * 104)
        # With the EHLO, 100 pass; the 421 answers the 104th: its chunk is not taken.
        assert [b.reply()[0] for _ in range(103)] == [250] * 103
        code, lines = b.reply()
        assert code == 421 and "too many errors" in lines[0], lines
        assert b.closed()

        # So are HELO and EHLO said again and again (one at a time: each
        # ends a pipelined group).
        h = Raw(s.smtp_port)
        codes = [h.cmd("HELO loop.test")[0] for _ in range(50)]
        codes += [h.cmd("EHLO loop.test")[0] for _ in range(54)]
        h.send("EHLO loop.test\r\n")
        assert codes + [h.reply()[0]] == [250] * 105
        code, lines = h.reply()
        assert code == 421 and "too many errors" in lines[0], lines
        assert h.closed()


def test_rcpt_4xx_counts_as_an_error():
    # A temporary refusal of RCPT (452 4.2.2 mailbox full here; 451 for a
    # lookup failure, 450 for a forward's rate) is an error like a 5xx
    # (Postfix's smtpd_hard_error_limit counts every refused command): a
    # client that loops on RCPT after it is cut off, not answered for the
    # session's hour.
    from httpc import admin_server
    s, a = admin_server(accounts=ACCOUNTS, env={"TERN_SMTP_MAX_ERRORS": "5"})
    with s:
        r = Raw(s.smtp_port)
        for cmd in ("EHLO loop.test", "MAIL FROM:<a@remote.test>", "RCPT TO:<bob@example.test>",
                    "DATA"):
            r.cmd(cmd)
        assert r.cmd("Subject: fill\r\n\r\n" + "x" * 200 + "\r\n.")[0] == 250
        st, _, acct = a.call("PATCH", "/accounts/bob@example.test", {"quota": 5})
        assert st == 200 and acct["used"] >= 5, acct
        assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        r.send("RCPT TO:<bob@example.test>\r\n" * 5)
        codes = [r.reply() for _ in range(5)]
        assert [c for c, _ in codes] == [452] * 5, codes
        code, lines = r.reply()
        assert code == 421 and "too many errors" in lines[0], lines
        assert r.closed()


def test_errors_past_half_the_limit_slow_every_reply():
    """Past half of TERN_SMTP_MAX_ERRORS (Postfix's smtpd_soft_error_limit
    under its hard limit), each further reply waits a second
    (smtpd_error_sleep_time) before the session is cut at the limit: an
    error-looping client makes one try a second, not thousands. The wait
    is a timer (the session's loop serves others meanwhile), and a client
    that pipelines gets its replies a second apart all the same. Elapsed
    times are measured from the command's sending (at least, never at
    most)."""
    with srv(env={"TERN_SMTP_MAX_ERRORS": "8"}) as s:
        r = Raw(s.smtp_port)
        assert r.cmd("EHLO slow.test")[0] == 250
        for i in range(4):  # errors 1..4: half the limit, answered at once
            assert r.cmd("BOGUS %d" % i)[0] == 500
        t0 = time.monotonic()
        assert r.cmd("BOGUS 4")[0] == 500  # the 5th error: its reply is not held yet
        t1 = time.monotonic()
        assert r.cmd("NOOP")[0] == 250  # past the soft limit: every reply waits
        assert time.monotonic() - t1 >= 0.99, time.monotonic() - t1
        # Pipelined: one second each.
        t2 = time.monotonic()
        r.send("BOGUS 5\r\nBOGUS 6\r\n")
        assert [r.reply()[0] for _ in range(2)] == [500, 500]
        assert time.monotonic() - t2 >= 1.98, time.monotonic() - t2
        t3 = time.monotonic()
        r.send("BOGUS 7\r\n")
        code, lines = r.reply()
        assert code == 500 and time.monotonic() - t3 >= 0.99
        code, lines = r.reply()
        assert code == 421 and "too many errors" in lines[0], lines
        assert r.closed()
        assert t1 > t0
        assert s.wait_log("event=error_sleep errors=5")


def test_message_refused_after_data_counts_as_an_error():
    """A message refused at the end of DATA (here the spam stage's 550 for
    a blocked sender; DMARC's reject, a Sieve reject, a quota refusal the
    same) is the client's error like a refused command: one that sends
    the refused message again and again on one connection is cut at
    TERN_SMTP_MAX_ERRORS, not answered for the session's hour."""
    from httpc import admin_server
    s, a = admin_server(accounts=ACCOUNTS, env={"TERN_SMTP_MAX_ERRORS": "3"})
    with s:
        st, _, body = a.call("PUT", "/spam/lists/global", {"block": ["blocked.test"]})
        assert st == 200, body
        r = Raw(s.smtp_port)
        assert r.cmd("EHLO loop.test")[0] == 250
        for i in range(3):
            for cmd in ("MAIL FROM:<x@blocked.test>", "RCPT TO:<bob@example.test>", "DATA"):
                assert r.cmd(cmd)[0] in (250, 354), (i, cmd)
            code, lines = r.cmd(message("again %d" % i, sender="x@blocked.test") + "\r\n.")
            assert code == 550 and "blocked" in lines[0], (i, lines)
        code, lines = r.reply()
        assert code == 421 and "too many errors" in lines[0], lines
        assert r.closed()
        assert s.wait_log("event=too_many_errors errors=3")


def test_idle_timeout():
    with srv(env={"TERN_SMTP_TIMEOUT": "1"}) as s:
        r = Raw(s.smtp_port)
        time.sleep(1.6)
        code, lines = r.reply()
        assert code == 421 and "timeout" in lines[0], lines
        assert r.closed()


def test_idle_timeout_in_every_state():
    """RFC 5321 §4.5.3.2.7: the server times out a silent client whatever
    it was waiting for, and §3.8 has it say 421 before it closes. The
    greeting's case is test_idle_timeout's; here each later wait: a
    command (after EHLO, MAIL, RCPT, half a command line), message text
    (DATA, in a line and after one), a BDAT chunk's octets, a SASL
    response on submission. Nothing half-sent is stored.

    Every connection is led to its wait first and the replies read
    after, so the run takes one timeout, not one a state. The timeout is
    3 s: each connection's steps must come within it on a loaded machine,
    its 421 is then read whenever it came (30 s at most)."""
    waits = {
        "after EHLO": [],
        "in a transaction": ["MAIL FROM:<a@remote.test>"],
        "after RCPT": ["MAIL FROM:<a@remote.test>", "RCPT TO:<bob@example.test>"],
        "half a command line": [b"NOOP"],
        "in DATA, mid-line": ["MAIL FROM:<a@remote.test>", "RCPT TO:<bob@example.test>", "DATA",
                              b"Subject: cut\r\n\r\nhalf a li"],
        "in DATA, after a line": ["MAIL FROM:<a@remote.test>", "RCPT TO:<bob@example.test>", "DATA",
                                  b"Subject: cut\r\n\r\na line\r\n"],
        "mid BDAT chunk": ["MAIL FROM:<a@remote.test>", "RCPT TO:<bob@example.test>",
                           b"BDAT 100 LAST\r\nSubject: cut\r\n"],
        "between BDAT chunks": ["MAIL FROM:<a@remote.test>", "RCPT TO:<bob@example.test>",
                                (b"BDAT 14\r\nSubject: cut\r\n", 250)],
    }
    with srv(submission=True, env={"TERN_SMTP_TIMEOUT": "3"}) as s:
        waiting = []
        for what, steps in waits.items():
            r = Raw(s.smtp_port, timeout=30)
            assert r.cmd("EHLO idle.test")[0] == 250, what
            for step in steps:
                if isinstance(step, tuple):  # bytes sent as they are, and their reply
                    r.send(step[0])
                    assert r.reply()[0] == step[1], what
                elif isinstance(step, bytes):
                    r.send(step)
                else:
                    code, lines = r.cmd(step)
                    assert code in (250, 354), (what, step, lines)
            waiting.append((what, r))
        # Submission, in the middle of AUTH PLAIN: the exchange waits for
        # the response as a command waits.
        r = Raw(s.submission_port, timeout=30)
        r.cmd("EHLO idle.test")
        assert r.cmd("STARTTLS")[0] == 220
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        r.sock = ctx.wrap_socket(r.sock, server_hostname="mx.example.test")
        r.buf = b""
        assert r.cmd("EHLO idle.test")[0] == 250
        assert r.cmd("AUTH PLAIN")[0] == 334
        waiting.append(("submission, in AUTH", r))
        for what, r in waiting:
            try:
                code, lines = r.reply()  # the server's move, 30 s at most
            except TimeoutError:
                raise AssertionError("no reply 30 s after the client fell silent " + what)
            assert code == 421 and lines[0].startswith("421 4.4.2 ") and "timeout" in lines[0], \
                (what, lines)
            assert r.closed(), what
            r.close()
        assert s.messages("bob@example.test") == []


def test_session_time_limit():
    with srv(env={"TERN_SMTP_MAX_SESSION_TIME": "2"}) as s:
        r = Raw(s.smtp_port)
        deadline = time.time() + 5
        code = None
        while time.time() < deadline:
            code, lines = r.cmd("NOOP")
            if code != 250:
                break
            time.sleep(0.3)
        assert code == 421, code
        assert r.closed()


def test_session_time_limit_waits_for_the_store():
    # The session's time runs out while the store commits its message: the
    # reply to the message (250) must still go out first, then the 421.
    # Answering 421 instead would make the sender try again a message that
    # is already delivered. A big message makes the commit long enough
    # (about a second here) to straddle the limit. The 60 MB must be sent
    # before the limit nears: on a loaded machine (this module shares it
    # with others) that can take longer than 2.5 s, or the limit can strike
    # mid-send, so a longer limit is tried then.
    for limit in (3, 6, 12, 24):
        with srv(env={"TERN_SMTP_MAX_SESSION_TIME": str(limit),
                      "TERN_MAX_MESSAGE_SIZE": "100M"}) as s:
            t0 = time.time()
            r = Raw(s.smtp_port, timeout=30)
            r.cmd("EHLO slow.test")
            assert r.cmd("MAIL FROM:<a@remote.test>")[0] == 250
            assert r.cmd("RCPT TO:<bob@example.test>")[0] == 250
            assert r.cmd("DATA")[0] == 354
            line = "x" * 998 + "\r\n"
            try:
                r.send(message(subject="at the limit", body=line * 60000))
            except OSError:
                # The limit struck while the 60 MB were still going out
                # (the server's 421, then its close: a broken pipe here).
                r.close()
                continue
            if time.time() - t0 >= limit - 0.5:
                r.close()
                continue
            time.sleep(max(0.0, t0 + limit - 0.15 - time.time()))
            r.send(".\r\n")
            code, lines = r.reply()
            assert code == 250, (code, lines)
            code, lines = r.reply()
            assert code == 421 and "time limit" in lines[0], (code, lines)
            assert r.closed()
            assert len(s.messages("bob@example.test")) == 1
            assert s.wait_log("event=timeout kind=session")  # log lines are written after the reply
            return
    assert False, "sending 60 MB took longer than the limit four times, the last 24 s"


def test_connection_limits():
    with srv(env={"TERN_SMTP_MAX_CONNECTIONS_PER_IP": "3", "TERN_SMTP_MAX_CONNECTIONS": "5"}) as s:
        held = [Raw(s.smtp_port) for _ in range(3)]
        extra = Raw(s.smtp_port, greet=False)
        code, lines = extra.reply()
        assert code == 421 and "your address" in lines[0], lines
        assert extra.closed()
        # Another loopback address has its own share, until the total.
        more = [Raw(s.smtp_port, source="127.0.0.2") for _ in range(2)]
        last = Raw(s.smtp_port, source="127.0.0.3", greet=False)
        code, lines = last.reply()
        assert code == 421 and "too many connections" in lines[0], lines
        for r in held + more:
            r.close()
        time.sleep(0.3)
        assert alive(s)


def test_disconnect_mid_data_leaves_nothing():
    with srv() as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO cut.test")
        r.cmd("MAIL FROM:<a@remote.test>")
        r.cmd("RCPT TO:<bob@example.test>")
        r.cmd("DATA")
        r.send("Subject: half\r\n\r\n" + "data line\r\n" * 1000)
        r.sock.close()
        time.sleep(0.5)
        assert alive(s)
        assert s.messages("bob@example.test") == []


def test_garbage_tls_handshake_closes_only_that_connection():
    with srv() as s:
        good = Raw(s.smtp_port)
        good.cmd("EHLO good.test")
        bad = Raw(s.smtp_port)
        bad.cmd("EHLO bad.test")
        assert bad.cmd("STARTTLS")[0] == 220
        bad.send(b"\x16\x03\x01\x00\x05hello-this-is-not-tls\r\n" * 20)
        assert bad.closed()
        assert good.cmd("NOOP")[0] == 250
        assert alive(s)


def test_flood_of_pipelined_commands():
    # HELP's reply is some 90 octets: 1,000 of them are 90 KB of replies,
    # past the half of SMTP_OUT_MAX at which the server stops reading.
    # Past 100 they count as junk commands, each an
    # error, hence the error limit at its highest.
    # (No error sleep either: it would answer the last 500 a second apart.)
    with srv(env={"TERN_SMTP_MAX_ERRORS": "1000", "TERN_SMTP_SOFT_ERRORS": "1000"}) as s:
        r = Raw(s.smtp_port)
        r.cmd("EHLO flood.test")
        # HELP, not EHLO: EHLO ends a pipelined group (RFC 2920 §3.1), and
        # port 25 cuts a client that sends more behind it.
        r.send("HELP\r\n" * 1000)
        # The server stops reading while its replies pile up, and goes on
        # once they are read: every command is answered, in order.
        for n in range(1000):
            code, lines = r.reply()
            assert code == 214 and len(lines) == 1, (n, code)
        assert r.cmd("QUIT")[0] == 221
        assert alive(s)
