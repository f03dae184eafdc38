"""IMAP for a client that enabled neither UTF8=ACCEPT nor IMAP4rev2 (RFC
6855 §3), with mail whose header carries raw UTF-8 (RFC 6532, received
with SMTPUTF8): every fetch of the whole message or of a header, and every
size, is cut from one downgraded message (the header as POP3 sends it,
the body as stored), so BODY[], RFC822, BINARY[], partial fetches and
RFC822.SIZE agree octet for octet with BODY[HEADER] + BODY[TEXT]. Python's
imaplib is the client: it never enables UTF-8."""
import imaplib
import smtplib

from test_imap import BOB, Raw, deliver, login, srv, wait_count

UTF8_MSG = ("From: J\u00f6rg M\u00fcller <j\u00f6rg@b\u00fccher.test>\r\n"
            "To: Bob <bob@example.test>\r\n"
            "Subject: Gr\u00fc\u00dfe aus M\u00fcnchen\r\n"
            "Message-ID: <gr\u00fc\u00dfe.1@b\u00fccher.test>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            "H\u00ebllo, a body of some length.\r\nSecond line.\r\n")


def fetch1(m, item):
    """The one literal (or atom) of FETCH 1 item."""
    typ, data = m.fetch("1", "(%s)" % item)
    assert typ == "OK", data
    if isinstance(data[0], tuple):
        return data[0][1]
    return data[0]


def put(s):
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        c.ehlo("client.test")
        c.sendmail("alice@b\u00fccher.test", [BOB], UTF8_MSG.encode(),
                   mail_options=["SMTPUTF8"])
    deliver(s, 1)
    wait_count(s, 2)


def test_whole_message_fetches_and_sizes_agree_downgraded():
    with srv() as s:
        put(s)
        m = login(s)
        m.select("INBOX")
        # First thing in the session: the size alone, as mbsync asks it.
        typ, data = m.fetch("1:2", "(RFC822.SIZE)")
        sizes = [int(d.split(b"RFC822.SIZE ")[1].rstrip(b")")) for d in data]
        head = fetch1(m, "BODY.PEEK[HEADER]")
        text = fetch1(m, "BODY.PEEK[TEXT]")
        assert max(head) < 0x80, head
        assert b"Subject: =?utf-8?" in head and b"Downgraded-Message-ID" in head, head
        whole = fetch1(m, "BODY.PEEK[]")
        assert whole == head + text, (whole, head, text)
        assert text == UTF8_MSG.encode().split(b"\r\n\r\n", 1)[1]
        assert sizes[0] == len(whole), (sizes, len(whole))
        assert fetch1(m, "RFC822.SIZE").endswith(b"RFC822.SIZE %d)" % len(whole))
        assert fetch1(m, "BINARY.PEEK[]") == whole
        # Partial fetches are cut from the same octets: in the header,
        # across its end, in the body, and past the end.
        hl = len(head)
        for o, n in ((0, 10), (5, 20), (hl - 3, 10), (hl + 4, 7), (len(whole) - 2, 50)):
            got = fetch1(m, "BODY.PEEK[]<%d.%d>" % (o, n))
            assert got == whole[o:o + n], (o, n, got, whole[o:o + n])
            assert fetch1(m, "BINARY.PEEK[]<%d.%d>" % (o, n)) == whole[o:o + n]
        assert fetch1(m, "RFC822") == whole  # sets \Seen, last
        # The ASCII message is sent as stored, at its stored size.
        typ, data = m.fetch("2", "(BODY.PEEK[])")
        assert len(data[0][1]) == sizes[1], (len(data[0][1]), sizes)
        m.logout()
        # A session with UTF8=ACCEPT gets the stored octets, at their size.
        r = Raw(s)
        r.login()
        r.send(b"e ENABLE UTF8=ACCEPT\r\n")
        r.until_tag("e")
        r.send(b"s SELECT INBOX\r\n")
        r.until_tag("s")
        r.send(b"f FETCH 1 (RFC822.SIZE)\r\n")
        out = r.until_tag("f")
        stored = [l for l in out if b"RFC822.SIZE" in l][0]
        size = int(stored.split(b"RFC822.SIZE ")[1].rstrip(b")"))
        assert size != sizes[0]
        r.send(b"g FETCH 1 (BODY.PEEK[])\r\n")
        lit = r.line()
        assert lit.endswith(b"{%d}" % size), lit
        assert "Subject: Gr\u00fc\u00dfe".encode() in b"\r\n".join(r.until_tag("g"))
        r.close()


def test_utf8_file_name_keeps_its_content_type():
    """A part's UTF-8 file name (RFC 6532 allows it raw) goes out in RFC
    2231's extended form: the field stays Content-Type, so the client
    still sees a PDF and its name, and Python's email package reads the
    same file name back."""
    import email
    import email.policy
    msg = ("From: a@remote.test\r\nTo: bob@example.test\r\nSubject: f\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: application/pdf; name=\"r\u00e9sum\u00e9 2024.pdf\"\r\n"
           "Content-Disposition: attachment; filename=\"r\u00e9sum\u00e9 2024.pdf\"\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n").encode()
    with srv() as s:
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.ehlo("client.test")
            c.sendmail("a@remote.test", [BOB], msg, mail_options=["SMTPUTF8"])
        wait_count(s, 1)
        m = login(s)
        m.select("INBOX")
        whole = fetch1(m, "BODY.PEEK[]")
        head = whole.split(b"\r\n\r\n", 1)[0]
        assert max(head) < 0x80, head
        assert b"Downgraded-Content" not in head, head
        parsed = email.message_from_bytes(whole, policy=email.policy.default)
        assert parsed.get_content_type() == "application/pdf", head
        assert parsed.get_filename() == "r\u00e9sum\u00e9 2024.pdf", head
        assert parsed.get_param("name") == "r\u00e9sum\u00e9 2024.pdf" or \
            email.utils.collapse_rfc2231_value(parsed.get_param("name")) == "r\u00e9sum\u00e9 2024.pdf"
        m.logout()


PARAMS = ("From: a@remote.test\r\nTo: bob@example.test\r\nSubject: params\r\n"
          "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
          "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the file.\r\n"
          "--b1\r\nContent-Type: application/pdf; name=\"\u00dcbersicht 2024.pdf\"\r\n"
          "Content-Disposition: attachment; filename=\"\u00dcbersicht 2024.pdf\"\r\n"
          "Content-Description: Gr\u00fc\u00dfe\r\n"
          "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n"
          "--b1--\r\n")


def structure(m, n):
    """FETCH n (BODYSTRUCTURE) as the octets of the response."""
    typ, data = m.fetch(str(n), "(BODYSTRUCTURE)")
    assert typ == "OK", data
    return b"".join(x if isinstance(x, bytes) else x[0] + x[1] for x in data)


def test_bodystructure_describes_the_downgraded_parts():
    """RFC 6855 §3: BODYSTRUCTURE for a client without UTF-8 describes
    the message it is sent, whose part header (BODY[2.MIME]) carries a
    raw UTF-8 file name as RFC 2231's filename*=utf-8''%XX and a UTF-8
    description as RFC 2047 words. The oracle: the downgraded octets
    appended as a message of their own get the same BODYSTRUCTURE. It
    sent the raw UTF-8 in literals."""
    with srv() as s:
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.ehlo("client.test")
            c.sendmail("a@remote.test", [BOB], PARAMS.encode(), mail_options=["SMTPUTF8"])
        wait_count(s, 1)
        m = login(s)
        m.select("INBOX")
        whole = fetch1(m, "BODY.PEEK[]")
        assert b"filename*=utf-8''%C3%9Cbersicht%202024.pdf" in whole, whole
        typ, data = m.append("INBOX", None, None, whole)
        assert typ == "OK", data
        sent = structure(m, 1)
        assert max(sent) < 0x80 and b"{" not in sent, sent
        assert b'"filename*" "utf-8\'\'%C3%9Cbersicht%202024.pdf"' in sent, sent
        assert sent.split(b"BODYSTRUCTURE", 1)[1] == \
            structure(m, 2).split(b"BODYSTRUCTURE", 1)[1], (sent, structure(m, 2))
        m.logout()


NESTED = ("From: a@remote.test\r\nTo: bob@example.test\r\nSubject: fwd\r\n"
          "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
          "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
          "Content-Description: Gr\u00fc\u00dfe\r\n\r\nSee the attached m\u00e9ssage.\r\n"
          "--b1\r\nContent-Type: message/rfc822\r\n\r\n"
          "From: J\u00f6rg <j\u00f6rg@b\u00fccher.test>\r\nTo: anna@example.test\r\n"
          "Subject: Caf\u00e9 au lait, a subject long enough that its encoded words fold\r\n"
          "Message-ID: <x1@b\u00fccher.test>\r\n\r\nInner b\u00f6dy.\r\n"
          "--b1--\r\n")


def test_part_headers_and_attached_message_downgraded():
    """BODY[1.MIME] and an attached message's header (BODY[2.HEADER]) go
    out downgraded as the root header does, BODY[2] and BODY[] carry the
    same octets, and BODYSTRUCTURE's size and line count of the
    message/rfc822 part and its ENVELOPE describe what BODY[2] sends."""
    import re
    with srv() as s:
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.ehlo("client.test")
            c.sendmail("a@remote.test", [BOB], NESTED.encode(), mail_options=["SMTPUTF8"])
        wait_count(s, 1)
        m = login(s)
        m.select("INBOX")
        whole = fetch1(m, "BODY.PEEK[]")
        mime1 = fetch1(m, "BODY.PEEK[1.MIME]")
        head2 = fetch1(m, "BODY.PEEK[2.HEADER]")
        text2 = fetch1(m, "BODY.PEEK[2.TEXT]")
        part2 = fetch1(m, "BODY.PEEK[2]")
        for h in (mime1, head2):
            assert max(h) < 0x80, h
        assert b"Content-Description: =?utf-8?" in mime1, mime1
        assert b"Subject: =?utf-8?" in head2 and b"<x1@xn--bcher-kva.test>" in head2, head2
        assert part2 == head2 + text2, (part2, head2, text2)
        assert text2 == "Inner b\u00f6dy.".encode(), text2  # the CRLF is the boundary's
        assert mime1 in whole and part2 in whole
        assert fetch1(m, "RFC822.SIZE").endswith(b"RFC822.SIZE %d)" % len(whole))
        assert fetch1(m, "BODY.PEEK[2.HEADER.FIELDS (SUBJECT)]").startswith(b"Subject: =?utf-8?")
        o = whole.index(part2)
        assert fetch1(m, "BODY.PEEK[]<%d.%d>" % (o, len(part2))) == part2
        typ, data = m.fetch("1", "(BODY)")
        body = data[0] if isinstance(data[0], bytes) else b"".join(
            x if isinstance(x, bytes) else x[0] + x[1] for x in data)
        msg = re.search(rb'\("message" "rfc822" NIL NIL NIL "7bit" (\d+) ', body, re.I)
        assert msg and int(msg.group(1)) == len(part2), (body, len(part2))
        lines = re.search(rb' (\d+)\) "mixed"\)\)$', body)
        assert lines and int(lines.group(1)) == part2.count(b"\n"), (body, part2.count(b"\n"))
        # The attached message's ENVELOPE as the downgraded header shows it.
        assert b'"=?utf-8?' in body.lower() and "Caf\u00e9".encode() not in body, body
        assert b'(NIL NIL "=?UTF-8?B?SsO2cmcgPGrDtnJnQGLDvGNoZXIudGVzdD4=?=" NIL)' in body, body
        # Its Message-ID as the downgraded header has it (A-labels).
        assert b' "<x1@xn--bcher-kva.test>") ' in body, body
        m.logout()


def test_search_larger_smaller_and_sort_size_use_the_sent_size():
    """SEARCH LARGER/SMALLER compare RFC822.SIZE (RFC 3501 §6.4.4) and SORT
    (SIZE) sorts by it (RFC 5256 §3): for a session without UTF-8, the
    downgraded size FETCH gives, in a session that never fetched."""
    u = ("Subject: Gr\u00fc\u00dfe aus M\u00fcnchen, \u00e9t\u00e9\r\n"
         "From: J\u00f6rg <j\u00f6rg@b\u00fccher.test>\r\n\r\nbody\r\n").encode()
    with srv() as s:
        r = Raw(s)
        r.login()
        r.send(b"a APPEND INBOX UTF8 (~{%d+}\r\n%s)\r\n" % (len(u), u))
        assert r.until_tag("a")[-1].startswith(b"a OK")
        m = login(s)
        m.select("INBOX")
        sent = int(fetch1(m, "RFC822.SIZE").split(b"RFC822.SIZE ")[1].rstrip(b")"))
        assert sent > len(u) + 20, (sent, len(u))
        m.logout()
        # An ASCII message sized between the stored and the sent size.
        a = b"Subject: plain\r\n\r\n" + b"x" * (len(u) + (sent - len(u)) // 2 - 20) + b"\r\n"
        assert len(u) < len(a) < sent
        r.send(b"b APPEND INBOX {%d+}\r\n%s\r\n" % (len(a), a))
        assert r.until_tag("b")[-1].startswith(b"b OK")
        r.close()
        m = login(s)
        m.select("INBOX")
        assert m.search(None, "LARGER", str(sent - 1)) == ("OK", [b"1"])
        assert m.search(None, "SMALLER", str(sent)) == ("OK", [b"2"])
        assert m.search(None, "LARGER", str(len(a))) == ("OK", [b"1"])
        assert m.sort("(SIZE)", "UTF-8", "ALL") == ("OK", [b"2 1"])
        assert m.sort("(REVERSE SIZE)", "UTF-8", "ALL") == ("OK", [b"1 2"])
        m.logout()


def test_status_size_is_the_sum_of_the_sent_sizes():
    """STATUS (SIZE) is the mailbox's total RFC822.SIZE (RFC 8438 §1): for a
    session without UTF-8, the downgraded sizes FETCH gives, whether or not
    the mailbox is selected; a UTF-8 session gets the stored ones. Before,
    STATUS summed the stored octets while FETCH RFC822.SIZE gave the
    downgraded ones."""
    u = ("Subject: Gr\u00fc\u00dfe aus M\u00fcnchen, \u00e9t\u00e9\r\n"
         "From: J\u00f6rg <j\u00f6rg@b\u00fccher.test>\r\n\r\nbody\r\n").encode()
    a = b"Subject: plain\r\n\r\nplain body\r\n"
    with srv() as s:
        r = Raw(s)
        r.login()
        r.send(b"a APPEND INBOX UTF8 (~{%d+}\r\n%s)\r\n" % (len(u), u))
        assert r.until_tag("a")[-1].startswith(b"a OK")
        r.send(b"b APPEND INBOX {%d+}\r\n%s\r\n" % (len(a), a))
        assert r.until_tag("b")[-1].startswith(b"b OK")
        r.send(b"c ENABLE UTF8=ACCEPT\r\n")
        assert r.until_tag("c")[-1].startswith(b"c OK")
        r.send(b"d STATUS INBOX (SIZE)\r\n")
        got = r.until_tag("d")
        assert any(b"(SIZE %d)" % (len(u) + len(a)) in x for x in got), got
        r.close()
        m = login(s)
        typ, data = m.status("INBOX", "(SIZE)")
        unselected = int(data[0].split(b"SIZE ")[1].rstrip(b")"))
        m.select("INBOX")
        typ, data = m.fetch("1:*", "(RFC822.SIZE)")
        sizes = [int(d.split(b"RFC822.SIZE ")[1].rstrip(b")")) for d in data]
        assert sizes[0] > len(u) and sizes[1] == len(a), (sizes, len(u))
        typ, data = m.status("INBOX", "(SIZE)")
        selected = int(data[0].split(b"SIZE ")[1].rstrip(b")"))
        assert unselected == selected == sum(sizes), (unselected, selected, sizes)
        # What the downgrade adds is kept per message (imap_dg_cache.h):
        # a message added is measured, one expunged no longer counts.
        u2 = "Subject: \u65e5\u672c\u8a9e\u306e\u4ef6\u540d\r\n\r\nbody\r\n".encode()
        assert m.append("INBOX", None, None, u2)[0] == "OK"
        m.store("1", "+FLAGS", "\\Deleted")
        m.expunge()
        typ, data = m.fetch("1:*", "(RFC822.SIZE)")
        sizes = [int(d.split(b"RFC822.SIZE ")[1].rstrip(b")")) for d in data]
        assert len(sizes) == 2 and sizes[1] > len(u2), (sizes, len(u2))
        for _ in range(2):
            typ, data = m.status("INBOX", "(SIZE)")
            assert int(data[0].split(b"SIZE ")[1].rstrip(b")")) == sum(sizes), (data, sizes)
        m.logout()


ADDR_NAMES = ["\u00dcn\u00efc\u00f6d\u00e9 P\u00e9rs\u00f6n With A Really Quite Long Display Name",
              "J\u00f6rg M\u00fcller-L\u00fcdenscheidt", "Zo\u00eb"]


def test_downgraded_address_lines_hold_76():
    """RFC 2047 §2: a line that holds an encoded word is at most 76
    characters; the downgraded address lists (long display names, several
    addresses, a group, a long field name) were folded at RFC 5322's 78,
    and a word after "Disposition-Notification-To: " not at all. Each
    line is checked in the header IMAP (no UTF8=ACCEPT) and POP3 (no UTF8)
    send, and Python's email package reads the names back."""
    import email
    import email.policy
    from harness import Server
    import test_imap
    import test_pop3
    n0, n1, n2 = ADDR_NAMES
    msg = ("From: %s <from@b\u00fccher.test>\r\n"
           "To: %s <u@example.test>, %s <jm@example.test>, plain@example.test, "
           "Gr\u00fc\u00dfe-Team: a@example.test, %s <z@example.test>;\r\n"
           "Disposition-Notification-To: %s <d@example.test>\r\n"
           "Subject: addresses\r\n\r\nbody\r\n" % (n0, n0, n1, n2, n0)).encode()
    with Server(accounts=test_imap.ACCOUNTS, imap=True, pop3=True) as s:
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.ehlo("client.test")
            c.sendmail("a@remote.test", [BOB], msg, mail_options=["SMTPUTF8"])
        wait_count(s, 1)
        m = login(s)
        m.select("INBOX")
        via_imap = fetch1(m, "BODY.PEEK[HEADER]")
        # RFC 9051 §7.5.2: RFC822.SIZE is what BODY[] sends, the folded
        # downgraded lines and all.
        whole = fetch1(m, "BODY.PEEK[]")
        assert whole.startswith(via_imap) and b"\r\n =?" in via_imap, via_imap
        assert fetch1(m, "RFC822.SIZE").endswith(b"RFC822.SIZE %d)" % len(whole))
        m.logout()
        p = test_pop3.login(s, BOB, test_imap.BOB_PW)
        via_pop3 = b"\r\n".join(p.retr(1)[1]).split(b"\r\n\r\n")[0] + b"\r\n\r\n"
        p.quit()
        assert via_pop3 == via_imap, (via_pop3, via_imap)
        head = via_imap
        assert max(head) < 0x80, head
        long_lines = [l for l in head.split(b"\r\n")
                      if len(l) > (76 if b"=?" in l else 78)]
        assert not long_lines, long_lines
        parsed = email.message_from_bytes(head, policy=email.policy.default)

        def names(field):
            # Python's parser keeps a space between two adjacent encoded
            # words of a phrase (RFC 2047 §6.2 drops it): runs made one.
            return [" ".join(a.display_name.split()) for a in parsed[field].addresses]
        assert names("From") == [n0], head
        assert names("To") == [n0, n1, "", "", n2], head
        assert [g.display_name for g in parsed["To"].groups][-1] == "Gr\u00fc\u00dfe-Team", head
        # Python knows no address field of that name: read as a To.
        dnt = head.split(b"Disposition-Notification-To:")[1].split(b"\r\nSubject:")[0]
        parsed = email.message_from_bytes(b"To:" + dnt + b"\r\n\r\n", policy=email.policy.default)
        assert names("To") == [n0], head
