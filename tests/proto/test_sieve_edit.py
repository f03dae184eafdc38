"""Sieve scripts that change what one account stores (issue 33), through
SMTP delivery on port 25 and checked over IMAP; one server for every
check.

- editheader (RFC 5293): addheader/deleteheader change the copy of the
  account whose script ran, and only it (its own blob); the other
  recipient of the same transaction gets the message as sent. Later tests
  in the script see the change; Received cannot be deleted; :index with
  :last picks from the end; a value that is not ASCII is stored as RFC
  2047 words.
- Two fileinto copies (fileinto :copy "A"; fileinto "B") are two
  messages on one blob showing the same EMAILID (RFC 8474), as an IMAP
  COPY's are; copies whose flags differ show EMAILIDs of their own.
- replace and enclose (RFC 5703): the account stores the new message
  (replace: the script's text as the body, :subject; enclose: a
  multipart/mixed with the text and the original as message/rfc822), and
  later tests in the script see it.
- Submission (587): a message submitted to local accounts runs each
  account's script on its copy, as mail from port 25 does; an alias that
  expands to several accounts whose scripts reject gives each its own
  outcome: a rejecting account stores nothing and the (authenticated)
  sender gets a failure DSN for that recipient, the others deliver.
  A submitted copy an account's script edits and redirects to another
  local account reaches it edited (RFC 5293 §4).
- Each action that stores the message stores it as edited up to that
  action: an addheader after a fileinto is not in that fileinto's copy,
  a deleteheader after it does not take the field out of it (the message
  is captured when the action runs, as Pigeonhole stores it); the
  implicit keep stores the message as the script left it. A redirect
  likewise carries the message as edited when it ran.
- fileinto :create of a name IMAP CREATE refuses (an empty level, a
  leading or trailing "/", "*" or "%", a control, a "." level, past the
  length limit) or one that is not UTF-8 creates nothing: the message
  goes to the INBOX (RFC 5228 §2.10.6), the fallback logged. A name
  that looks like modified UTF-7 is taken as written (Sieve's names are
  UTF-8): IMAP lists and selects it.
- addheader with a bare line end in its value stores a folded field (the
  whole value, one field); with a NUL (from a variable) the run fails and
  the message is kept without the field (RFC 5293 §4).""" 
import atexit
import imaplib
import re
import smtplib
import ssl
import time

from harness import Server, message

ANN = ("ann@example.test", "ann-pw-edit-1")
BEN = ("ben@example.test", "ben-pw-edit-1")
CAL = ("cal@example.test", "cal-pw-edit-1")
DOT = ("dot@example.test", "dot-pw-edit-1")
EVE = ("eve@example.test", "eve-pw-edit-1")
FAY = ("fay@example.test", "fay-pw-edit-1")
GIL = ("gil@example.test", "gil-pw-edit-1")
HAL = ("hal@example.test", "hal-pw-edit-1")
IVY = ("ivy@example.test", "ivy-pw-edit-1")
JAY = ("jay@example.test", "jay-pw-edit-1")
KIT = ("kit@example.test", "kit-pw-edit-1")
LEE = ("lee@example.test", "lee-pw-edit-1")
MAY = ("may@example.test", "may-pw-edit-1")
NIA = ("nia@example.test", "nia-pw-edit-1")
OLI = ("oli@example.test", "oli-pw-edit-1")

_srv = None


def srv():
    global _srv
    if _srv is None:
        _srv = Server(accounts=[ANN, BEN, CAL, DOT, EVE, FAY, GIL, HAL, IVY, JAY, KIT, LEE, MAY, NIA, OLI],
                      imap=True,
                      submission=True)
    return _srv


def script(s, account, text):
    s.cli("sieve", "put", account, "s", input=text)
    s.cli("sieve", "activate", account, "s")


def imap(s, who):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=c)
    m.login(*who)
    return m


def fetch_all(m, box, items):
    """{subject: fetched text} for every message of box."""
    typ, _ = m.select('"%s"' % box, readonly=True)
    assert typ == "OK", box
    typ, data = m.fetch("1:*", "(%s BODY.PEEK[HEADER])" % items)
    out = {}
    for part in data:
        if not isinstance(part, tuple):
            continue
        head = part[1].decode("utf-8", "replace")
        subj = re.search(r"(?mi)^Subject: (.*)$", head).group(1).strip()
        out[subj] = (part[0].decode(), head)
    return out


def test_editheader_own_copy():
    s = srv()
    script(s, ANN[0], 'require ["editheader", "fileinto", "mailbox"];\n'
           'addheader "X-Sieve-Tag" "ann";\n'
           'addheader :last "X-Note" "Grüße aus Köln";\n'
           'deleteheader "X-Drop";\n'
           'deleteheader "Received";\n'
           'deleteheader :index 1 :last "X-Multi";\n'
           'if allof (header :is "X-Sieve-Tag" "ann", not exists "X-Drop") {\n'
           '  fileinto :create "Tagged";\n'
           '}\n')
    extra = ("Received: from far.away by relay.remote.test; Fri, 20 Nov 2026 11:00:00 +0000\r\n"
             "X-Drop: secret\r\nX-Multi: one\r\nX-Multi: two\r\n")
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        c.sendmail("alice@remote.test", [ANN[0], BEN[0]],
                   message(subject="edit1", to=ANN[0], extra=extra, body="Body stays.\r\n"))
    m = imap(s, ANN)
    got = fetch_all(m, "Tagged", "FLAGS")
    assert list(got) == ["edit1"], (got, s.log_text()[-2000:])
    head = got["edit1"][1]
    assert head.startswith("Return-Path: <alice@remote.test>\r\nReceived: from "), head
    assert "X-Sieve-Tag: ann\r\n" in head and "X-Drop" not in head, head
    assert "Received: from far.away" in head, head  # protected (RFC 5293 §6)
    assert "X-Multi: one\r\n" in head and "X-Multi: two" not in head, head
    assert "X-Note: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\r\n\r\n" in head, head
    # :last puts X-Note after the others, the plain addheader comes first
    # of the message's own fields.
    assert head.index("X-Sieve-Tag") < head.index("From: "), head
    m.select('"Tagged"', readonly=True)
    typ, data = m.fetch("1", "(BODY.PEEK[TEXT])")
    assert data[0][1] == b"Body stays.\r\n", data
    m.logout()
    # Ben's copy is the message as sent.
    m = imap(s, BEN)
    got = fetch_all(m, "INBOX", "FLAGS")
    head = got["edit1"][1]
    assert "X-Drop: secret\r\n" in head and "X-Sieve-Tag" not in head, head
    assert "X-Multi: one\r\nX-Multi: two\r\n" in head and "X-Note" not in head, head
    m.logout()
    assert s.wait_log("event=sieve account=")


def test_fileinto_copies_one_email():
    s = srv()
    m = imap(s, CAL)
    for box in ("A", "B", "C"):
        assert m.create(box)[0] == "OK"
    script(s, CAL[0], 'require ["fileinto", "copy", "imap4flags"];\n'
           'if header :contains "subject" "two" { fileinto :copy "A"; fileinto "B"; }\n'
           'elsif header :contains "subject" "three" { fileinto :copy "A"; fileinto :copy "B"; }\n'
           'elsif header :contains "subject" "flags" {\n'
           '  fileinto :copy :flags "\\\\Flagged" "A"; fileinto "C"; }\n')
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        for subj in ("two", "three", "flags"):
            c.sendmail("alice@remote.test", [CAL[0]], message(subject=subj, to=CAL[0]))
    ids = {}
    for box in ("A", "B", "C", "INBOX"):
        for subj, (meta, _) in fetch_all(m, box, "EMAILID FLAGS").items():
            ids.setdefault(subj, {})[box] = (re.search(r"EMAILID \((\S+)\)", meta).group(1),
                                             "\\Flagged" in meta)
    # fileinto :copy "A"; fileinto "B": in A and B only, one EMAILID (each
    # a message of its own, as an IMAP COPY makes it: its flags apart).
    two = ids["two"]
    assert sorted(two) == ["A", "B"] and two["A"] == two["B"], ids
    # With the implicit keep too: one EMAILID in A, B and the INBOX.
    three = ids["three"]
    assert sorted(three) == ["A", "B", "INBOX"], ids
    assert three["A"] == three["B"] == three["INBOX"], ids
    # Flags differ: two EMAILIDs (A flagged, C not).
    fl = ids["flags"]
    assert sorted(fl) == ["A", "C"] and fl["A"][0] != fl["C"][0], ids
    assert fl["A"][1] and not fl["C"][1], ids
    # STATUS counts each message.
    for box, n in (("A", 3), ("B", 2), ("C", 1), ("INBOX", 1)):
        typ, data = m.status('"%s"' % box, "(MESSAGES)")
        assert ("MESSAGES %d)" % n).encode() in data[0], (box, data)
    m.logout()
    rows = s.messages(CAL[0], "A")
    assert len(rows) == 3, rows


def test_replace_and_enclose():
    s = srv()
    script(s, DOT[0], 'require ["replace", "enclose", "fileinto", "mailbox", "body"];\n'
           'if header :contains "subject" "swap" {\n'
           '  replace :subject "swapped" "The body was replaced.";\n'
           '  if body :contains "replaced" { fileinto :create "Swapped"; }\n'
           '} elsif header :contains "subject" "wrap" {\n'
           '  enclose :subject "wrapped" "See the attached message.";\n'
           '}\n')
    html = ("MIME-Version: 1.0\r\nContent-Type: text/html; charset=us-ascii\r\n")
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        c.sendmail("alice@remote.test", [DOT[0]],
                   message(subject="swap me", to=DOT[0], extra=html, body="<p>old</p>\r\n"))
        c.sendmail("alice@remote.test", [DOT[0]],
                   message(subject="wrap me", to=DOT[0], body="Original body.\r\n"))
    m = imap(s, DOT)
    got = fetch_all(m, "Swapped", "BODYSTRUCTURE")
    assert list(got) == ["swapped"], (got, s.log_text()[-2000:])
    meta, head = got["swapped"]
    assert '("TEXT" "PLAIN"' in meta.upper(), meta
    assert "text/html" not in head and "From: alice@remote.test" in head, head
    typ, data = m.fetch("1", "(BODY.PEEK[TEXT])")
    # The body ends with its line end (the text is written as a text
    # entity: mime_text_body, as vacation's)
    assert data[0][1] == b"The body was replaced.\r\n", data
    got = fetch_all(m, "INBOX", "BODYSTRUCTURE")
    assert list(got) == ["wrapped"], got
    meta, head = got["wrapped"]
    assert '"MIXED"' in meta.upper() and '"MESSAGE" "RFC822"' in meta.upper(), meta
    typ, data = m.fetch("1", "(BODY.PEEK[1] BODY.PEEK[2.HEADER.FIELDS (SUBJECT)] BODY.PEEK[2.TEXT])")
    parts = [p[1] for p in data if isinstance(p, tuple)]
    assert parts[0] == b"See the attached message.", parts
    assert parts[1].strip() == b"Subject: wrap me" and parts[2] == b"Original body.\r\n", parts
    m.logout()


def test_submission_runs_scripts():
    s = srv()
    s.cli("alias", "add", "team@example.test", FAY[0])
    s.cli("alias", "add", "team@example.test", GIL[0])
    script(s, EVE[0], 'require ["fileinto", "mailbox", "imap4flags"];\n'
           'if address :is "from" "ann@example.test" {\n'
           '  fileinto :create :flags "\\\\Flagged" "Colleagues";\n}\n')
    script(s, FAY[0], 'require "reject";\nif header :contains "subject" "meeting" {\n'
           '  reject "No meetings, please.";\n}\n')
    script(s, GIL[0], 'require ["fileinto", "mailbox", "reject"];\n'
           'if header :contains "subject" "never" { reject "not me"; }\n'
           'fileinto :create "Team";\n')
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", s.submission_port, timeout=30) as sm:
        sm.starttls(context=c)
        sm.login(*ANN)
        sm.sendmail(ANN[0], [EVE[0]], message(subject="sub1", sender=ANN[0], to=EVE[0]))
        sm.sendmail(ANN[0], ["team@example.test"],
                    message(subject="meeting at 3", sender=ANN[0], to="team@example.test"))
    m = imap(s, EVE)
    got = fetch_all(m, "Colleagues", "FLAGS")
    assert list(got) == ["sub1"], (got, s.log_text()[-2000:])
    assert "\\Flagged" in got["sub1"][0], got
    m.logout()
    m = imap(s, GIL)
    assert list(fetch_all(m, "Team", "FLAGS")) == ["meeting at 3"], s.log_text()[-2000:]
    m.logout()
    assert s.messages(FAY[0]) == [], s.messages(FAY[0])
    # The sender hears of Fay's reject: a failure DSN for her alone.
    m = imap(s, ANN)
    dsn = None
    for _ in range(50):
        m.select("INBOX", readonly=True)
        typ, data = m.search(None, "ALL")
        if data[0]:
            typ, data = m.fetch(data[0].split()[-1], "(BODY.PEEK[])")
            dsn = data[0][1]
            break
        time.sleep(0.1)
    m.logout()
    assert dsn is not None, s.log_text()[-2000:]
    assert b"multipart/report" in dsn and b"Action: failed" in dsn, dsn[:2000]
    # The recipient as the sender addressed it (the alias), with Fay's reason.
    assert b"Final-Recipient: rfc822; team@example.test\r\n" in dsn, dsn[:2000]
    assert b"<team@example.test>: 550 5.7.1 No meetings, please.\r\n" in dsn, dsn[:2000]
    # One notice: Gil's copy was delivered.
    m = imap(s, ANN)
    m.select("INBOX", readonly=True)
    assert len(m.search(None, "ALL")[1][0].split()) == 1
    m.logout()
    # RCPT NOTIFY=NEVER (RFC 3461 §4.1): Fay's reject stands, no notice.
    with smtplib.SMTP("127.0.0.1", s.submission_port, timeout=30) as sm:
        sm.starttls(context=c)
        sm.login(*ANN)
        sm.sendmail(ANN[0], ["team@example.test"],
                    message(subject="meeting at 4", sender=ANN[0], to="team@example.test"),
                    rcpt_options=["NOTIFY=NEVER"])
    assert s.wait_log("event=notice_skipped reason=notify rcpt=team@example.test "
                      "kind=sieve_reject"), s.log_text()[-2000:]
    m = imap(s, GIL)
    assert sorted(fetch_all(m, "Team", "FLAGS")) == ["meeting at 3", "meeting at 4"]
    m.logout()
    m = imap(s, ANN)
    m.select("INBOX", readonly=True)
    assert len(m.search(None, "ALL")[1][0].split()) == 1
    m.logout()
    assert s.messages(FAY[0]) == [], s.messages(FAY[0])


def test_submission_redirect_carries_edits():
    s = srv()
    script(s, HAL[0], 'require "editheader";\naddheader "X-Via" "hal";\n'
           'deleteheader "X-Private";\nredirect "ivy@example.test";\n')
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", s.submission_port, timeout=30) as sm:
        sm.starttls(context=c)
        sm.login(*ANN)
        sm.sendmail(ANN[0], [HAL[0]], message(subject="via-hal", sender=ANN[0], to=HAL[0],
                                              extra="X-Private: p\r\n"))
    for _ in range(50):
        got = s.messages(IVY[0])
        if got:
            break
        time.sleep(0.1)
    assert len(got) == 1, (got, s.log_text()[-2000:])
    raw = s.raw(IVY[0], got[0][0])
    assert b"X-Via: hal\r\n" in raw and b"X-Private" not in raw, raw[:2000]
    assert s.messages(HAL[0]) == []


def test_each_fileinto_stores_the_message_as_edited_so_far():
    s = srv()
    script(s, JAY[0], 'require ["editheader", "fileinto", "mailbox"];\n'
           'fileinto :create "First";\n'
           'addheader "X-Step" "two";\n'
           'fileinto :create "Second";\n'
           'deleteheader "X-Orig";\n'
           'keep;\n'
           'fileinto :create "First";\n')  # a duplicate: the first stands
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        c.sendmail("alice@remote.test", [JAY[0]],
                   message(subject="steps", to=JAY[0], extra="X-Orig: here\r\n",
                           body="Same body.\r\n"))
    assert s.wait_log("event=sieve account=")
    m = imap(s, JAY)
    heads = {}
    for box in ("First", "Second", "INBOX"):
        got = fetch_all(m, box, "FLAGS")
        assert list(got) == ["steps"], (box, got)
        heads[box] = got["steps"][1]
        m.select('"%s"' % box, readonly=True)
        typ, data = m.fetch("1", "(BODY.PEEK[TEXT])")
        assert data[0][1] == b"Same body.\r\n", (box, data)
    assert "X-Step" not in heads["First"] and "X-Orig: here\r\n" in heads["First"], heads
    assert "X-Step: two\r\n" in heads["Second"] and "X-Orig: here\r\n" in heads["Second"], heads
    assert "X-Step: two\r\n" in heads["INBOX"] and "X-Orig" not in heads["INBOX"], heads
    for h in heads.values():
        assert h.startswith("Return-Path: <alice@remote.test>\r\nReceived: from "), h
    m.logout()


def test_each_redirect_carries_the_message_as_edited_so_far():
    s = srv()
    script(s, KIT[0], 'require ["editheader", "copy"];\n'
           'redirect :copy "%s";\n'
           'addheader "X-Step" "two";\n'
           'redirect :copy "%s";\n'
           'deleteheader "X-Orig";\n' % (LEE[0], MAY[0]))
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        c.sendmail("alice@remote.test", [KIT[0]],
                   message(subject="hops", to=KIT[0], extra="X-Orig: here\r\n"))
    heads = {}
    for who in (LEE, MAY, KIT):
        # Our accounts a redirect reaches are copies of the same
        # commit: stored when the SMTP reply came.
        m = imap(s, who)
        got = fetch_all(m, "INBOX", "FLAGS")
        assert list(got) == ["hops"], (who, got, s.log_text()[-2000:])
        heads[who[0]] = got["hops"][1]
        m.logout()
    assert "X-Step" not in heads[LEE[0]] and "X-Orig: here\r\n" in heads[LEE[0]], heads
    assert "X-Step: two\r\n" in heads[MAY[0]] and "X-Orig: here\r\n" in heads[MAY[0]], heads
    assert "X-Step: two\r\n" in heads[KIT[0]] and "X-Orig" not in heads[KIT[0]], heads


def test_fileinto_names_the_store_refuses():
    s = srv()
    bad = ["foo//somedomain/org", "a/", "/a", "a//b", "a*b", "a%b", "x/./y", "..", "n" * 256,
           "n" * 1001, "a${hex:01}b", "${hex:ff}x", "${hex:c3}"]
    for i, name in enumerate(bad):
        script(s, NIA[0], 'require ["fileinto", "mailbox", "variables", "encoded-character"];\n'
               'set "v" "%s"; fileinto :create "${v}";\n' % name)
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.sendmail("alice@remote.test", [NIA[0]], message(subject="bad%d" % i, to=NIA[0]))
    script(s, NIA[0], 'require ["fileinto", "mailbox"]; fileinto :create "&AOk-";\n')
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        c.sendmail("alice@remote.test", [NIA[0]], message(subject="utf7", to=NIA[0]))
    m = imap(s, NIA)
    got = fetch_all(m, "INBOX", "FLAGS")
    assert sorted(got) == sorted("bad%d" % i for i in range(len(bad))), (got, s.log_text()[-3000:])
    typ, boxes = m.list()
    names = sorted(b.decode().rsplit('"/" ', 1)[1] for b in boxes)
    # Nothing but the account's own mailboxes and the one name the store
    # takes, "&AOk-" as written, which a client without UTF8=ACCEPT sees
    # in modified UTF-7 (RFC 9051 §5.1.3).
    assert names == ["&-AOk-", "Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"], names
    assert list(fetch_all(m, "&-AOk-", "FLAGS")) == ["utf7"]
    m.logout()
    # Each refused name logged (the two that are not UTF-8 fail the run
    # before the store sees them); a loop writes its lines late.
    assert s.wait_log(re.compile(r"(?s)(event=fileinto_fallback.*){%d}" % (len(bad) - 2))), \
        s.log_text()[-3000:]
    log = s.log_text()
    assert log.count("event=fileinto_fallback") == len(bad) - 2, log[-3000:]
    assert log.count("fileinto with a mailbox name that is not UTF-8") == 2, log[-3000:]


def test_addheader_line_end_and_nul():
    s = srv()
    script(s, OLI[0], 'require ["editheader", "fileinto", "mailbox", "variables", "encoded-character"];\n'
           'if header :is "subject" "lf" { set "v" "one${hex:0a}two${hex:0d}three"; }\n'
           'else { set "v" "a${hex:00}b"; }\n'
           'addheader "X-Val" "${v}";\n'
           'fileinto :create "Edited";\n')
    for subj in ("lf", "nul"):
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
            c.sendmail("alice@remote.test", [OLI[0]], message(subject=subj, to=OLI[0]))
    m = imap(s, OLI)
    got = fetch_all(m, "Edited", "FLAGS")
    assert list(got) == ["lf"], (got, s.log_text()[-2000:])
    head = got["lf"][1]
    assert "X-Val: one\r\n two\r\n three\r\n" in head, head
    # The NUL: the run failed, the message is in the INBOX as sent.
    got = fetch_all(m, "INBOX", "FLAGS")
    assert list(got) == ["nul"], got
    assert "X-Val" not in got["nul"][1] and "\0" not in got["nul"][1], got
    m.logout()
    assert s.wait_log("the value holds a NUL"), s.log_text()[-2000:]


def test_zz_stop():
    global _srv
    if _srv is not None:
        _srv.cleanup()
        _srv = None


# A run of chosen tests (PROTO=module:test) leaves test_zz_stop out: the
# module's process stops its servers when it exits all the same.
atexit.register(test_zz_stop)
