"""Sieve actions at delivery on port 25 that reach past the mailbox
(issue 33): one tern, a loopback DNS server and an outside receiver
(mailpeers) shared by every check.

- redirect to an outside address leaves as the forwarded copy of aliases
  does (forward/forward_copy.h): an SRS0 envelope sender in our domain,
  our Delivered-To for the redirecting address, and an ARC set dkimpy's
  verifier finds cv=pass; without :copy nothing is kept, with :copy the
  INBOX keeps it too.
- redirect to a local address is delivered to that account (whose own
  script runs on it: it files it into a folder); two accounts redirecting
  to each other end with one copy each.
- A message that carries our Delivered-To for the address already (it
  came back) is not redirected again: kept in the INBOX, logged
  reason=loop; so is a redirect past TERN_FORWARD_RATE (reason=rate).
- duplicate (RFC 7352): the second message with a Message-ID seen is
  discarded; the id is remembered only for a message delivered.
- notify with mailto (RFC 5435/5436): the notification leaves after the
  commit from the null sender to the URI's recipients (cc too), with
  Auto-Submitted: auto-notified, our From (the URI's from= ignored), the
  URI's subject and :importance; none about a message that is itself
  automatic; one to the recipient's own address arrives once and does
  not notify again.
- vacation replies and notifications count against the account's share
  of TERN_FORWARD_RATE: past it they are not sent (reason=rate), the
  messages themselves are stored.
- The administrator's global script (tern sieve ... global, the REST API
  /sieve/global): when it decides (fileinto "Junk") the account's script
  does not run; when it leaves the implicit keep, the account's decides.
- envelope-dsn and redirect-dsn (RFC 6009): the envelope test sees the
  NOTIFY, ORCPT, RET and ENVID the SMTP client gave; a redirect's :notify
  and :ret reach the outside receiver as RCPT NOTIFY= and MAIL RET=.
- envelope-deliverby and redirect-deliverby (RFC 6009 §4, §5): the
  envelope test sees MAIL's BY= (mode, trace, time left); a redirect's
  :bytimerelative/:bymode/:bytrace reach the outside receiver (which
  offers DELIVERBY) as MAIL BY= with the time left.
- Edits travel (RFC 5293 §4): what editheader left is what a redirect
  carries, to an outside receiver and to a local account (whose copy is
  the edited one), and what a notification quotes; the global script's
  edits stay when it leaves the implicit keep (the account's script
  sees them, and they are stored).
- Submission (587): a local recipient's redirect to an outside address
  leaves as on port 25, a forwarded copy of its own: as the script edited
  it, with our Delivered-To and the redirect's own deadline (MAIL BY=),
  the sender (ours) not rewritten. duplicate's memory is written there
  with the message's copies (in its commit, as on port 25): a second
  submission with the same Message-ID is discarded. Its redirects count
  against the redirecting address's TERN_FORWARD_RATE as port 25's do,
  and one a script edited (a signed field: Subject) is signed again, so
  dkimpy verifies the copy that leaves.
- include (RFC 6609) at delivery: a personal name is one of the
  account's scripts, a :global one the administrator's; the same name in
  both is two scripts.
- A script reads the fields tern puts in front of the message it stores
  (Return-Path, our Received, Authentication-Results, the spam verdict),
  as a script under Dovecot reads what Postfix, its milters and LMTP
  added; deleteheader leaves them (they are the server's, as Received),
  and the stored copy has each once.
- An alias to several accounts whose scripts reject: all reject, DATA
  gets 550; some reject, the others deliver and a sender DMARC verified
  gets a failure DSN per rejecting account (an unverified one: the
  rejecting account keeps the message instead)."""
import atexit
import re
import smtplib
import time

from harness import Server
from mailpeers import DnsServer, Receiver, free_port_on, unique_ips
from test_forward import arc_result, dkim_results, dkim_zone, message, send

ANN = ("ann@example.test", "ann-pw-sieve-1")
BEN = ("ben@example.test", "ben-pw-sieve-1")
CAL = ("cal@example.test", "cal-pw-sieve-1")
DOT = ("dot@example.test", "dot-pw-sieve-1")
EVE = ("eve@example.test", "eve-pw-sieve-1")
FAY = ("fay@example.test", "fay-pw-sieve-1")
GIL = ("gil@example.test", "gil-pw-sieve-1")
HAL = ("hal@example.test", "hal-pw-sieve-1")
IVO = ("ivo@example.test", "ivo-pw-sieve-1")
JON = ("jon@example.test", "jon-pw-sieve-1")
KIM = ("kim@example.test", "kim-pw-sieve-1")
LEO = ("leo@example.test", "leo-pw-sieve-1")
MAX = ("max@example.test", "max-pw-sieve-1")
NED = ("ned@example.test", "ned-pw-sieve-1")
OLA = ("ola@example.test", "ola-pw-sieve-1")
PIA = ("pia@example.test", "pia-pw-sieve-1")
QUA = ("qua@example.test", "qua-pw-sieve-1")
RAY = ("ray@example.test", "ray-pw-sieve-1")
SAM = ("sam@example.test", "sam-pw-sieve-1")
TIM = ("tim@example.test", "tim-pw-sieve-1")
UNA = ("una@example.test", "una-pw-sieve-1")
VIC = ("vic@example.test", "vic-pw-sieve-1")
XAN = ("xan@example.test", "xan-pw-sieve-1")
ZOE = ("zoe@example.test", "zoe-pw-sieve-1")
WYN = ("wyn@example.test", "wyn-pw-sieve-1")
KAY = ("kay@example.test", "kay-pw-sieve-1")
LIV = ("liv@example.test", "liv-pw-sieve-1")
MIA = ("mia@example.test", "mia-pw-sieve-1")

_env = None


def env():
    """(server, dns, remote receiver), made once."""
    global _env
    if _env is None:
        ips = unique_ips(1)
        port = free_port_on(ips)
        zone = {
            "origin.test": {"TXT": ["v=spf1 ip4:127.0.0.9 -all"]},
            "example.test": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]},
            "remote.test": {"MX": [[10, "mx.remote.test"]], "TXT": ["v=spf1 ip4:127.0.0.9 -all"]},
            "_dmarc.remote.test": {"TXT": ["v=DMARC1; p=none"]},
            "mx.remote.test": {"A": [ips[0]]},
        }
        dns = DnsServer(zone)
        remote = Receiver(ips[0], port, dsn=True, extra_ehlo=("DELIVERBY",))
        srv = Server(accounts=[ANN, BEN, CAL, DOT, EVE, FAY, GIL, HAL, IVO, JON, KIM, LEO, MAX, NED,
                               OLA, PIA, QUA, RAY, SAM, TIM, UNA, VIC, XAN, ZOE, WYN, KAY, LIV,
                               MIA],
                     http=True, submission=True, env={
            "TERN_DNS_SERVERS": dns.servers, "TERN_QUEUE_MX_PORT": str(port),
            "TERN_QUEUE_RETRY_SCHEDULE": "1", "TERN_QUEUE_TIMEOUT": "5",
            "TERN_FORWARD_RATE": "3"})
        zone.update(dkim_zone(srv, "example.test"))
        dns.zone(zone)
        _env = (srv, dns, remote)
    return _env


def script(srv, account, text):
    srv.cli("sieve", "put", account, "s", input=text)
    srv.cli("sieve", "activate", account, "s")


def subjects(srv, account, box="INBOX"):
    """The subjects in box (the last column `tern fetch` lists)."""
    return sorted(m[1].split()[-1] for m in srv.messages(account, box))


def test_redirect_outside_and_local():
    srv, dns, remote = env()
    script(srv, ANN[0], 'require "copy";\n'
           'if header :contains "subject" "copyme" { redirect :copy "keep@remote.test"; }\n'
           'elsif header :contains "subject" "local" { redirect "ben@example.test"; }\n'
           'else { redirect "far@remote.test"; }\n')
    script(srv, BEN[0], 'require ["fileinto", "mailbox"];\nfileinto :create "FromAnn";\n')
    # 1. Outside, no :copy: forwarded with SRS and ARC, nothing kept.
    codes, end = send(srv, "alice@origin.test", [ANN[0]], message("away1", to=ANN[0]),
                      source="127.0.0.9")
    assert codes[0][0] == 250 and end[0] == 250, (codes, end)
    got = remote.wait_messages(1)
    assert len(got) == 1, srv.log_text()[-3000:]
    m = got[0]
    assert m["rcpts"] == ["far@remote.test"], m
    assert re.fullmatch(r"SRS0=[A-Za-z0-9_-]{6}=[A-Z2-7]{2}=origin\.test=alice@example\.test", m["from"]), m
    head = m["data"].split(b"\r\n\r\n", 1)[0]
    assert re.match(rb"ARC-Seal: i=1; .*cv=none", head), head
    assert b"\r\nDelivered-To: ann@example.test\r\n" in head and b"Subject: away1" in head, head
    cv = arc_result(dns.port, m["data"])
    assert cv[0] == "pass", cv
    assert subjects(srv, ANN[0]) == []
    assert srv.wait_log("event=forwarded") and srv.wait_log("redirects=1")
    # 2. :copy: forwarded and kept.
    codes, end = send(srv, "alice@origin.test", [ANN[0]], message("copyme2", to=ANN[0]),
                      source="127.0.0.9")
    assert end[0] == 250, end
    got = remote.wait_messages(2)
    assert len(got) == 2 and got[1]["rcpts"] == ["keep@remote.test"], got
    assert subjects(srv, ANN[0]) == ["copyme2"]
    # 3. Local: Ben's own script files it; Ann keeps nothing.
    codes, end = send(srv, "alice@origin.test", [ANN[0]], message("local3", to=ANN[0]),
                      source="127.0.0.9")
    assert end[0] == 250, end
    assert subjects(srv, BEN[0], "FromAnn") == ["local3"], srv.log_text()[-2000:]
    assert subjects(srv, ANN[0]) == ["copyme2"]
    # 4. The copy came back (our Delivered-To): not redirected again, kept.
    looped = message("loop4", to=ANN[0], extra="Delivered-To: ann@example.test\r\n")
    codes, end = send(srv, "alice@origin.test", [ANN[0]], looped, source="127.0.0.9")
    assert end[0] == 250, end
    assert subjects(srv, ANN[0]) == ["copyme2", "loop4"]
    assert srv.wait_log("event=sieve_redirect_skipped account=") and srv.wait_log("reason=loop")
    # 5. Two accounts redirecting to each other: one copy each, no loop.
    script(srv, CAL[0], 'require "copy"; redirect :copy "dot@example.test";')
    script(srv, DOT[0], 'require "copy"; redirect :copy "cal@example.test";')
    codes, end = send(srv, "alice@origin.test", [CAL[0]], message("pingpong5", to=CAL[0]),
                      source="127.0.0.9")
    assert end[0] == 250, end
    assert subjects(srv, CAL[0]) == ["pingpong5"] and subjects(srv, DOT[0]) == ["pingpong5"]
    # 6. TERN_FORWARD_RATE (3 an hour) counts Ann's redirects: 3 went out
    # (away1, copyme2 and this one), the next is kept instead.
    for subj in ("rate6", "rate7"):
        codes, end = send(srv, "alice@origin.test", [ANN[0]], message(subj, to=ANN[0]),
                          source="127.0.0.9")
        assert end[0] == 250, end
    got = remote.wait_messages(3)
    time.sleep(0.5)
    assert [g["rcpts"] for g in remote.messages] == [["far@remote.test"], ["keep@remote.test"],
                                                     ["far@remote.test"]], remote.messages
    assert subjects(srv, ANN[0]) == ["copyme2", "loop4", "rate7"]
    assert srv.wait_log("reason=rate")


def test_redirect_quoted_local_part():
    """RFC 5321 §4.1.2: "john doe"@remote.test is a Mailbox (a quoted
    local part may hold spaces). Before: the script was refused at compile
    time ("redirect to an invalid address"); "mia"@example.test (from a
    variable) is mia@example.test, and was logged unknown_user and
    dropped. Now the first leaves with its quotes in RCPT TO, the second
    reaches Mia's INBOX."""
    srv, _, remote = env()
    script(srv, LIV[0], 'require ["copy", "variables"];\n'
           'if header :contains "subject" "quoted-out" {\n'
           '  redirect :copy "\\"john doe\\"@remote.test";\n'
           '} elsif header :contains "subject" "quoted-local" {\n'
           '  set "u" "\\"mia\\"";\n  redirect :copy "${u}@Example.test";\n}\n')
    before = len(remote.messages)
    codes, end = send(srv, "alice@origin.test", [LIV[0]], message("quoted-out", to=LIV[0]),
                      source="127.0.0.9")
    assert end[0] == 250, (end, srv.log_text()[-2000:])
    got = remote.wait_messages(before + 1)
    out = [m for m in got[before:] if b"Subject: quoted-out" in m["data"]]
    assert len(out) == 1 and out[0]["rcpts"] == ['"john doe"@remote.test'], \
        (got[before:], srv.log_text()[-2000:])
    codes, end = send(srv, "alice@origin.test", [LIV[0]], message("quoted-local", to=LIV[0]),
                      source="127.0.0.9")
    assert end[0] == 250, end
    assert subjects(srv, MIA[0]) == ["quoted-local"], srv.log_text()[-2000:]
    assert subjects(srv, LIV[0]) == ["quoted-local", "quoted-out"]


def test_duplicate():
    srv, _, _ = env()
    script(srv, EVE[0], 'require "duplicate";\nif duplicate { discard; }\n')
    first = message("dup1", to=EVE[0])
    for data in (first, first, message("dup2", to=EVE[0]), first):
        codes, end = send(srv, "alice@origin.test", [EVE[0]], data, source="127.0.0.9")
        assert end[0] == 250, end
    assert subjects(srv, EVE[0]) == ["dup1", "dup2"], (subjects(srv, EVE[0]), [
        l for l in srv.log_text().splitlines() if "account=5" in l])
    # A message refused (reject) is not remembered: the second "no" is
    # refused again rather than discarded as a duplicate.
    script(srv, FAY[0], 'require ["duplicate", "reject"];\n'
           'if duplicate :handle "x" :header "subject" { discard; }\n'
           'elsif header :contains "subject" "no" { reject "no"; }\n')
    for subj, want in (("no", 550), ("no", 550), ("yes", 250), ("yes", 250)):
        data = message(subj, to=FAY[0]).replace(b"<%s@" % subj.encode(),
                                                b"<%s%d@" % (subj.encode(), time.time_ns()))
        codes, end = send(srv, "alice@origin.test", [FAY[0]], data, source="127.0.0.9")
        assert end[0] == want, (subj, end)
    assert subjects(srv, FAY[0]) == ["yes"]


def test_yy_dsn_envelope_and_redirect():
    import smtplib
    srv, _, remote = env()
    script(srv, JON[0], 'require ["envelope", "envelope-dsn", "fileinto", "mailbox", "copy",\n'
           '         "redirect-dsn"];\n'
           'if allof (envelope "notify" "success", envelope :domain "orcpt" "x.test",\n'
           '          envelope "ret" "hdrs", envelope "envid" "abc+1") {\n'
           '  fileinto :create "Dsn";\n'
           '} elsif envelope "notify" "never" {\n'
           '  redirect :copy :notify "SUCCESS,DELAY" :ret "FULL" "dsn@remote.test";\n'
           '}\n')

    def dsn_send(subj, mail_opts, rcpt_opts):
        c = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=20, source_address=("127.0.0.9", 0))
        try:
            c.ehlo("mta.origin.test")
            assert c.mail("alice@origin.test", mail_opts)[0] == 250
            assert c.rcpt(JON[0], rcpt_opts)[0] == 250
            assert c.data(message(subj, to=JON[0]))[0] == 250
        finally:
            c.quit()
    dsn_send("dsn1", ["RET=HDRS", "ENVID=abc+2B1"], ["NOTIFY=SUCCESS,FAILURE",
                                                     "ORCPT=rfc822;orig@x.test"])
    dsn_send("dsn2", [], [])
    before = len(remote.messages)
    dsn_send("dsn3", [], ["NOTIFY=NEVER"])
    assert subjects(srv, JON[0], "Dsn") == ["dsn1"], srv.log_text()[-2000:]
    assert subjects(srv, JON[0]) == ["dsn2", "dsn3"]
    got = remote.wait_messages(before + 1)
    m = got[-1]
    assert m["rcpts"] == ["dsn@remote.test"], m
    assert "NOTIFY=SUCCESS,DELAY" in m["rcpt_lines"][0].upper(), m["rcpt_lines"]
    assert "RET=FULL" in m["mail_line"].upper(), m["mail_line"]


def test_yw_deliverby_envelope_and_redirect():
    import smtplib
    srv, _, remote = env()
    script(srv, NED[0], 'require ["envelope", "envelope-deliverby", "fileinto", "mailbox", "copy",\n'
           '         "redirect-deliverby", "relational", "comparator-i;ascii-numeric"];\n'
           'if allof (envelope "bymode" "notify", envelope "bytrace" "on",\n'
           '          envelope :value "le" :comparator "i;ascii-numeric" "bytimerelative" "600") {\n'
           '  fileinto :create "ByNotify";\n'
           '} elsif envelope "bymode" "return" {\n'
           '  redirect :copy :bytimerelative 300 :bymode "return" :bytrace "by@remote.test";\n'
           '}\n')

    def by_send(subj, mail_opts):
        c = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=20, source_address=("127.0.0.9", 0))
        try:
            c.ehlo("mta.origin.test")
            assert c.mail("alice@origin.test", mail_opts)[0] == 250
            assert c.rcpt(NED[0])[0] == 250
            assert c.data(message(subj, to=NED[0]))[0] == 250
        finally:
            c.quit()
    by_send("by1", ["BY=600;NT"])
    by_send("by2", [])
    before = len(remote.messages)
    by_send("by3", ["BY=120;R"])
    assert subjects(srv, NED[0], "ByNotify") == ["by1"], srv.log_text()[-2000:]
    assert subjects(srv, NED[0]) == ["by2", "by3"]
    got = remote.wait_messages(before + 1)
    m = got[-1]
    assert m["rcpts"] == ["by@remote.test"], m
    by = m["mail_line"].upper().split("BY=")[1].split()[0]
    secs, mode = by.split(";")
    assert 280 <= int(secs) <= 300 and mode == "RT", m["mail_line"]


def test_yv_edits_travel():
    srv, _, remote = env()
    script(srv, OLA[0], 'require ["editheader", "enotify"];\n'
           'addheader "X-Edited" "ola";\ndeleteheader "X-Secret";\n'
           'if header :contains "subject" "out" { redirect "edited@remote.test"; }\n'
           'elsif header :contains "subject" "loc" { redirect "pia@example.test"; }\n'
           'else { deleteheader "subject"; addheader "Subject" "renamed";\n'
           '  notify "mailto:watch@remote.test"; }\n')
    secret = "X-Secret: s3cret\r\n"
    before = len(remote.messages)
    for subj in ("out1", "loc2", "nfy3"):
        codes, end = send(srv, "alice@origin.test", [OLA[0]],
                          message(subj, to=OLA[0], extra=secret), source="127.0.0.9")
        assert end[0] == 250, (subj, end)
    got = remote.wait_messages(before + 2)
    assert len(got) == before + 2, srv.log_text()[-3000:]
    out = [m for m in got[before:] if m["rcpts"] == ["edited@remote.test"]]
    assert len(out) == 1, got[before:]
    head = out[0]["data"].split(b"\r\n\r\n", 1)[0]
    assert b"X-Edited: ola\r\n" in head and b"s3cret" not in head and b"Subject: out1" in head, head
    nfy = [m for m in got[before:] if m["rcpts"] == ["watch@remote.test"]]
    assert len(nfy) == 1 and b"renamed" in nfy[0]["data"], got[before:]
    pia = srv.messages(PIA[0])
    assert len(pia) == 1, pia
    raw = srv.raw(PIA[0], pia[0][0])
    assert b"X-Edited: ola\r\n" in raw and b"s3cret" not in raw and b"loc2" in raw, raw[:2000]
    # The global script edits and leaves the implicit keep: its field
    # stays, and the account's script sees it.
    srv.cli("sieve", "put", "global", "tag", input='require "editheader"; addheader "X-Global" "g";')
    srv.cli("sieve", "activate", "global", "tag")
    try:
        script(srv, QUA[0], 'require ["fileinto", "mailbox"];\n'
               'if header :is "X-Global" "g" { fileinto :create "SawGlobal"; }\n')
        for who in (QUA, RAY):
            codes, end = send(srv, "alice@origin.test", [who[0]], message("glob4", to=who[0]),
                              source="127.0.0.9")
            assert end[0] == 250, end
        saw = srv.messages(QUA[0], "SawGlobal")
        assert len(saw) == 1, (saw, srv.log_text()[-2000:])
        assert b"X-Global: g\r\n" in srv.raw(QUA[0], saw[0][0])
        ray = srv.messages(RAY[0])
        assert len(ray) == 1 and b"X-Global: g\r\n" in srv.raw(RAY[0], ray[0][0]), ray
        # A fileinto before the account's own edit stores the message as
        # the global script left it (RFC 5293 §5); the keep after it, with
        # the edit too.
        script(srv, KAY[0], 'require ["editheader", "fileinto", "mailbox"];\n'
               'fileinto :create "Early"; addheader "X-Own" "y"; keep;\n')
        codes, end = send(srv, "alice@origin.test", [KAY[0]], message("glob5", to=KAY[0]),
                          source="127.0.0.9")
        assert end[0] == 250, end
        early, kept = srv.messages(KAY[0], "Early"), srv.messages(KAY[0])
        assert len(early) == 1 and len(kept) == 1, (early, kept)
        raw = srv.raw(KAY[0], early[0][0])
        assert b"X-Global: g\r\n" in raw and b"X-Own" not in raw, raw[:2000]
        raw = srv.raw(KAY[0], kept[0][0])
        assert b"X-Global: g\r\n" in raw and b"X-Own: y\r\n" in raw, raw[:2000]
    finally:
        srv.cli("sieve", "deactivate", "global")
        srv.cli("sieve", "del", "global", "tag")


def submit(srv, who, rcpt, msgs):
    """Each of msgs submitted on 587 by who (signed in) to rcpt."""
    import smtplib
    import ssl
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", srv.submission_port, timeout=30) as sm:
        sm.starttls(context=c)
        sm.login(*who)
        for m in msgs:
            sm.sendmail(who[0], [rcpt], m)


def test_yu_submission_redirect_out():
    """Before: a submitted message redirected outside joined the
    submission's own queue entry, unedited and without the redirect's
    :bytimerelative (no X-Edited, no BY= at the receiver)."""
    srv, _, remote = env()
    script(srv, SAM[0], 'require ["editheader", "redirect-deliverby"];\n'
           'addheader "X-Edited" "sam";\n'
           'redirect :bytimerelative 300 :bymode "return" "samout@remote.test";\n')
    before = len(remote.messages)
    submit(srv, ANN, SAM[0], [message("sub-out", to=SAM[0], sender=ANN[0])])
    got = remote.wait_messages(before + 1)
    out = [m for m in got[before:] if m["rcpts"] == ["samout@remote.test"]]
    assert len(out) == 1, (got[before:], srv.log_text()[-3000:])
    m = out[0]
    head = m["data"].split(b"\r\n\r\n", 1)[0]
    assert b"\r\nX-Edited: sam\r\n" in head and b"Subject: sub-out" in head, head
    assert b"Delivered-To: sam@example.test\r\n" in head, head
    assert m["from"] == ANN[0], m
    by = m["mail_line"].upper().split("BY=")[1].split()[0]
    secs, mode = by.split(";")
    assert 280 <= int(secs) <= 300 and mode == "R", m["mail_line"]
    assert subjects(srv, SAM[0]) == []


def test_yu_submission_redirect_rate():
    """A script's redirects of what our own users submit count against
    the redirecting address's TERN_FORWARD_RATE (3 here) as those of
    mail from outside do: the fourth is kept, logged reason=rate. Before,
    submitted mail was never counted: all four left."""
    srv, _, remote = env()
    script(srv, UNA[0], 'redirect "unaout@remote.test";\n')
    before = len(remote.messages)
    rated = srv.log_text().count("reason=rate")
    submit(srv, ANN, UNA[0], [message("rate%d" % i, to=UNA[0], sender=ANN[0]) for i in range(4)])
    remote.wait_messages(before + 3)
    for _ in range(100):
        if srv.log_text().count("reason=rate") > rated:
            break
        time.sleep(0.1)
    time.sleep(1)
    out = [m for m in remote.messages[before:] if m["rcpts"] == ["unaout@remote.test"]]
    assert len(out) == 3, (len(out), srv.log_text()[-3000:])
    assert subjects(srv, UNA[0]) == ["rate3"], srv.messages(UNA[0])


def test_yu_submission_redirect_edited_verifies():
    """A submitted message is DKIM-signed before the recipients' scripts
    run; a script that edits a signed field (here Subject, which the
    signature covers) and redirects it outside used to send the old
    signature with the new bytes: dkimpy found it broken. The forwarded
    copy is signed again as the script left it."""
    srv, dns, remote = env()
    script(srv, VIC[0], 'require "editheader";\n'
           'deleteheader "subject"; addheader "Subject" "renamed by vic";\n'
           'redirect "vicout@remote.test";\n')
    before = len(remote.messages)
    submit(srv, ANN, VIC[0], [message("vic-orig", to=VIC[0], sender=ANN[0])])
    got = remote.wait_messages(before + 1)
    out = [m for m in got[before:] if m["rcpts"] == ["vicout@remote.test"]]
    assert len(out) == 1, (got[before:], srv.log_text()[-3000:])
    data = out[0]["data"]
    assert b"Subject: renamed by vic\r\n" in data and b"Subject: vic-orig" not in data, data[:3000]
    res = dkim_results(dns.port, data)
    rsa = [r for r in res if r[0] == "example.test" and r[1] == "rsa-sha256"]
    assert rsa and all(r[2] for r in rsa), (res, data[:4000])
    assert arc_result(dns.port, data)[0] == "pass"


def test_yu_redirect_edited_author_not_carried():
    """A Sieve edit of the author fields (From, Sender, Resent-*) does
    not travel with a redirect outside: the copy leaves from an envelope
    sender of ours (SPF-aligned with our domains) and, for submitted
    mail, under our DKIM signature, so any user could have his script
    put From: boss@example.test in and redirect what he sent himself
    (on 587, or from outside on 25) to make that From pass DMARC at the
    next hop. Before, the edited copy left (on 587 signed again: dkimpy
    found example.test pass). Now the copy leaves as it came, logged
    reason=author_changed."""
    srv, dns, remote = env()
    YAN = ("yan@example.test", "yan-pw-sieve-1")
    srv.cli("account", "add", YAN[0], input=YAN[1] + "\n")
    script(srv, YAN[0], 'require "editheader";\n'
           'deleteheader "from"; addheader "From" "boss@example.test";\n'
           'redirect "yanout@remote.test";\n')
    before = len(remote.messages)
    submit(srv, YAN, YAN[0], [message("yan-sub", to=YAN[0], sender=YAN[0])])
    codes, end = send(srv, "yan@origin.test", [YAN[0]], message("yan-mx", to=YAN[0],
                      sender="yan@origin.test"), source="127.0.0.9")
    assert end[0] == 250, end
    got = remote.wait_messages(before + 2)
    out = [m for m in got[before:] if m["rcpts"] == ["yanout@remote.test"]]
    assert len(out) == 2, (got[before:], srv.log_text()[-3000:])
    for m in out:
        head = m["data"].split(b"\r\n\r\n", 1)[0]
        assert b"boss" not in head, head
    sub = [m["data"] for m in out if b"Subject: yan-sub" in m["data"]][0]
    assert b"From: Alice <yan@example.test>\r\n" in sub, sub[:3000]
    res = dkim_results(dns.port, sub)
    assert [r[2] for r in res if r[0] == "example.test"] == [True, True], res
    assert srv.log_text().count("action=editheader reason=author_changed") >= 2


def test_yu_submission_duplicate():
    """Submitted copies remember duplicate's ids (now in the message's
    own commit); observable only as the discard of the second."""
    srv, _, _ = env()
    script(srv, TIM[0], 'require "duplicate";\nif duplicate { discard; }\n')
    submit(srv, ANN, TIM[0], [message("subdup", to=TIM[0], sender=ANN[0])] * 2)
    assert subjects(srv, TIM[0]) == ["subdup"], srv.log_text()[-2000:]


def test_yu_submission_envelope_auth():
    """envelope "auth" (RFC 4954 §5's AUTH=, what Cyrus and Pigeonhole
    give scripts): the signed-in sender of a submitted message; mail
    from port 25 has none, so the test is false."""
    srv, _, _ = env()
    script(srv, WYN[0], 'require ["envelope", "fileinto", "mailbox", "variables"];\n'
           'if envelope :localpart :matches "auth" "*" { fileinto :create "auth-${1}"; }\n'
           'elsif envelope :domain :is "auth" "example.test" { fileinto :create "nolocal"; }\n')
    submit(srv, ANN, WYN[0], [message("byann", to=WYN[0], sender=ANN[0])])
    assert subjects(srv, WYN[0], "auth-ann") == ["byann"], srv.log_text()[-2000:]
    codes, end = send(srv, "bob@remote.test", [WYN[0]],
                      message("by25", to=WYN[0], sender="bob@remote.test"), source="127.0.0.9")
    assert end[0] == 250, end
    assert subjects(srv, WYN[0]) == ["by25"], srv.log_text()[-2000:]


def test_yx_alias_reject():
    srv, _, remote = env()
    srv.cli("alias", "add", "crew@example.test", KIM[0])
    srv.cli("alias", "add", "crew@example.test", LEO[0])
    srv.cli("alias", "add", "band@example.test", KIM[0])
    srv.cli("alias", "add", "band@example.test", MAX[0])
    for who in (KIM, LEO):
        script(srv, who[0], 'require "reject";\nif header :contains "subject" "gig" {\n'
               '  reject "%s is not coming.";\n}\n' % who[0].split("@")[0])
    script(srv, MAX[0], 'require ["fileinto", "mailbox"]; fileinto :create "Gigs";')
    # Everyone rejects: 550 at DATA, nothing stored.
    codes, end = send(srv, "bob@remote.test", ["crew@example.test"],
                      message("gig1", to="crew@example.test", sender="bob@remote.test"),
                      source="127.0.0.9")
    assert codes[0][0] == 250 and end[0] == 550, (codes, end)
    assert subjects(srv, KIM[0]) == [] and subjects(srv, LEO[0]) == []
    # Kim rejects, Max takes it: 250, a DSN to the verified sender for Kim.
    before = len(remote.messages)
    codes, end = send(srv, "bob@remote.test", ["band@example.test"],
                      message("gig2", to="band@example.test", sender="bob@remote.test"),
                      source="127.0.0.9")
    assert end[0] == 250, end
    assert subjects(srv, MAX[0], "Gigs") == ["gig2"], srv.log_text()[-2000:]
    assert subjects(srv, KIM[0]) == []
    got = remote.wait_messages(before + 1)
    assert len(got) == before + 1, srv.log_text()[-3000:]
    dsn = got[-1]
    assert dsn["from"] == "" and dsn["rcpts"] == ["bob@remote.test"], dsn
    assert b"Action: failed" in dsn["data"] and b"kim is not coming." in dsn["data"], dsn["data"][:2000]
    # The same from a sender DMARC did not verify: Kim keeps it.
    codes, end = send(srv, "alice@origin.test", ["band@example.test"],
                      message("gig3", to="band@example.test"), source="127.0.0.9")
    assert end[0] == 250, end
    assert subjects(srv, KIM[0]) == ["gig3"] and subjects(srv, MAX[0], "Gigs") == ["gig2", "gig3"]
    assert srv.wait_log("reason=unverified_sender")
    time.sleep(0.5)
    assert len(remote.messages) == before + 1, remote.messages[before + 1:]
    # RCPT NOTIFY=NEVER (RFC 3461 §4.1: no DSN under any conditions) or a
    # NOTIFY without FAILURE: Kim's reject is carried out, nobody is told.
    for i, notify in enumerate(("NEVER", "SUCCESS,DELAY")):
        c = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=20, source_address=("127.0.0.9", 0))
        c.ehlo("mta.origin.test")
        assert c.mail("bob@remote.test")[0] == 250
        assert c.rcpt("band@example.test", ["NOTIFY=" + notify])[0] == 250
        assert c.data(message("gig%d" % (5 + i), to="band@example.test",
                              sender="bob@remote.test"))[0] == 250
        c.quit()
        assert srv.wait_log("event=notice_skipped reason=notify rcpt=band@example.test "
                            "kind=sieve_reject"), srv.log_text()[-2000:]
    assert subjects(srv, MAX[0], "Gigs") == ["gig2", "gig3", "gig5", "gig6"]
    assert subjects(srv, KIM[0]) == ["gig3"]
    # A notice still goes without NOTIFY: the ones above would be before it.
    codes, end = send(srv, "bob@remote.test", ["band@example.test"],
                      message("gig7", to="band@example.test", sender="bob@remote.test"),
                      source="127.0.0.9")
    assert end[0] == 250, end
    got = remote.wait_messages(before + 2)
    assert len(got) == before + 2 and b"gig7" in got[-1]["data"], [m["data"][-300:] for m in got[before:]]


def test_y_notify():
    srv, _, remote = env()
    script(srv, GIL[0], 'require ["enotify", "variables"];\n'
           'if header :matches "subject" "*" { set "s" "${1}"; }\n'
           'notify :importance "1" :message "Mail: ${s}"\n'
           '  "mailto:pager@remote.test?cc=pal@remote.test&subject=Ping%20${s}&from=evil@x.test";\n')
    before = len(remote.messages)
    codes, end = send(srv, "alice@origin.test", [GIL[0]], message("hello9", to=GIL[0]),
                      source="127.0.0.9")
    assert end[0] == 250, end
    got = remote.wait_messages(before + 1)
    assert len(got) == before + 1, srv.log_text()[-2000:]
    n = got[-1]
    assert n["from"] == "" and sorted(n["rcpts"]) == ["pager@remote.test", "pal@remote.test"], n
    head, body = n["data"].split(b"\r\n\r\n", 1)
    # RFC 5436 §2.7.1: the owner of the script that sent it
    assert b'\r\nAuto-Submitted: auto-notified; owner-email="gil@example.test"\r\n' in head, head
    assert b"From: gil@example.test\r\n" in head and b"evil" not in head, head
    # RFC 5436 §2.6: the :message is the subject, over the URI's
    # subject= (it was "Ping hello9"); the URI's cc is a Cc field (it
    # was a second To address).
    assert b"Subject: Mail: hello9\r\n" in head and b"Importance: high" in head, head
    assert b"\r\nTo: <pager@remote.test>\r\nCc: <pal@remote.test>\r\n" in head, head
    assert b"Mail: hello9" in body, body
    assert subjects(srv, GIL[0]) == ["hello9"]
    # An automatic message causes none.
    auto = message("auto10", to=GIL[0], extra="Auto-Submitted: auto-replied\r\n")
    codes, end = send(srv, "alice@origin.test", [GIL[0]], auto, source="127.0.0.9")
    assert end[0] == 250, end
    assert srv.wait_log("event=notify_skipped account=") and srv.wait_log("reason=auto_submitted")
    # To ourselves: the notification arrives once, and notifies no more.
    script(srv, HAL[0], 'require "enotify"; notify "mailto:hal@example.test";')
    codes, end = send(srv, "alice@origin.test", [HAL[0]], message("self11", to=HAL[0]),
                      source="127.0.0.9")
    assert end[0] == 250, end
    for _ in range(50):
        if len(srv.messages(HAL[0])) >= 2:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    assert subjects(srv, HAL[0]) == ["self11", "self11"], srv.messages(HAL[0])
    assert len(remote.messages) == before + 1, remote.messages[before + 1:]


def test_yt_vacation_notify_rate():
    """vacation replies and notifications count against the account's
    share of TERN_FORWARD_RATE (3 here), as redirects count against the
    address's: each message from a new sender makes a reply and a
    notification, so of the second message's the notification is not
    sent, and the third makes neither (logged event=sieve_action_skipped
    action=vacation|notify reason=rate). Every message is still stored.
    Before, all six left."""
    srv, _, remote = env()
    WES = "wes@example.test"
    srv.cli("account", "add", WES, input="wes-pw-sieve-1\n")
    script(srv, WES, 'require ["vacation", "enotify"];\nvacation :days 1 "Away.";\n'
           'notify "mailto:wespager@remote.test";\n')
    before = len(remote.messages)
    log0 = srv.log_text()
    senders = ["wes%d@remote.test" % i for i in range(3)]
    for i, frm in enumerate(senders):
        codes, end = send(srv, frm, [WES], message("wes%d" % i, to=WES, sender=frm), source="127.0.0.9")
        assert end[0] == 250, end
    for _ in range(100):
        log = srv.log_text()[len(log0):]
        if log.count("reason=rate") >= 3:
            break
        time.sleep(0.1)
    time.sleep(1)
    log = srv.log_text()[len(log0):]
    assert log.count("action=vacation reason=rate") == 1, log[-3000:]
    assert log.count("action=notify reason=rate") == 2, log[-3000:]
    out = sorted(m["rcpts"][0] for m in remote.messages[before:]
                 if m["rcpts"][0] in senders + ["wespager@remote.test"])
    assert out == ["wes0@remote.test", "wes1@remote.test", "wespager@remote.test"], \
        (out, log[-3000:])
    assert subjects(srv, WES) == ["wes0", "wes1", "wes2"]


def vacation_reply(srv, remote, account, frm, subject, to=None):
    """Sends a message from frm to account (its To: to, else account);
    returns the header and body of the one vacation reply frm got."""
    before = len(remote.messages)
    codes, end = send(srv, frm, [account], message(subject, to=to or account, sender=frm),
                      source="127.0.0.9")
    assert end[0] == 250, end
    got = [m for m in remote.wait_messages(before + 1)[before:] if m["rcpts"] == [frm]]
    assert len(got) == 1, srv.log_text()[-2000:]
    head, body = got[0]["data"].split(b"\r\n\r\n", 1)
    return head, body


def test_yt_vacation_mime_keeps_its_own_from():
    """vacation :mime (RFC 5230 §5.8) takes the reason as a MIME entity,
    its header included: only its Content-* fields join the reply's
    header. A From (or any other field) there would give the reply a
    second From, past the check that keeps a script's :from to the
    account's own addresses; it is left out. Before, the reply left with
    "From: ceo@bank.test" under ours."""
    srv, _, remote = env()
    XAV = "xav@example.test"
    srv.cli("account", "add", XAV, input="xav-pw-sieve-1\n")
    script(srv, XAV, 'require "vacation";\nvacation :mime text:\nFrom: ceo@bank.test\n'
           'Reply-To: ceo@bank.test\nContent-Type: text/plain; charset=us-ascii\n\nBack soon.\n.\n;\n')
    head, body = vacation_reply(srv, remote, XAV, "xavfan@remote.test", "xav1")
    lines = head.split(b"\r\n")
    assert [l for l in lines if l.lower().startswith(b"from:")] == [b"From: " + XAV.encode()], head
    assert b"bank" not in head, head
    assert b"Content-Type: text/plain; charset=us-ascii" in lines, head
    assert body.startswith(b"Back soon."), body


def test_yt_vacation_from_the_address_written():
    """Without :from, the vacation reply goes from the user's address the
    original was sent to, as its To shows (RFC 5230 §5.4 and errata 2035):
    an alias of the account. One of :addresses the account does not own
    is no From of ours: the reply then goes from the account's address.
    Before, the reply always went from the envelope recipient."""
    srv, _, remote = env()
    YUL = "yul@example.test"
    srv.cli("account", "add", YUL, input="yul-pw-sieve-1\n")
    srv.cli("alias", "add", "yul.boss@example.test", YUL)
    script(srv, YUL, 'require "vacation";\nvacation :addresses "ceo@bank.test" "Away.";\n')
    for n, (to, want) in enumerate((("yul.boss@example.test", b"yul.boss@example.test"),
                                    ("ceo@bank.test", YUL.encode()))):
        head, _ = vacation_reply(srv, remote, YUL, "yulfan%d@remote.test" % n, "yul%d" % n, to=to)
        assert [l for l in head.split(b"\r\n") if l.lower().startswith(b"from:")] == \
            [b"From: " + want], head


def test_yt_vacation_from_quoted_name():
    """A :from whose quoted display name holds "<" is one RFC 5322
    mailbox (RFC 5230 §4.2); tern refused the script ("is not a valid
    address") while Pigeonhole takes it. The reply goes from it, as
    written."""
    srv, _, remote = env()
    ZED = "zed@example.test"
    srv.cli("account", "add", ZED, input="zed-pw-sieve-1\n")
    script(srv, ZED, 'require "vacation";\nvacation :from "\\"Out <of> office\\" <zed@example.test>" "Away.";\n')
    head, _ = vacation_reply(srv, remote, ZED, "zedfan@remote.test", "zed1")
    assert [l for l in head.split(b"\r\n") if l.lower().startswith(b"from:")] == \
        [b'From: "Out <of> office" <zed@example.test>'], head


def test_yz_global_script():
    from httpc import Api
    srv, _, _ = env()
    a = Api(srv)
    a.token = srv.cli("token", "add", "sieve-global").stdout.decode().strip()
    st, _, d = a.call("PUT", "/sieve/global/spam", {"script": "fileinto \"Junk\";"})
    assert st == 400 and d["code"] == "invalid_script", d
    st, _, d = a.call("PUT", "/sieve/global/spam", {"active": True, "script":
                      'require "fileinto";\nif header :contains "subject" "[SPAM]" { fileinto "Junk"; }\n'})
    assert st == 201 and d["active"] is True, d
    st, _, d = a.call("GET", "/sieve/global")
    assert st == 200 and [x["name"] for x in d["scripts"]] == ["spam"], d
    # The CLI sees the same scripts.
    assert srv.cli("sieve", "list", "global").stdout == b"spam ACTIVE\n"
    script(srv, IVO[0], 'require ["fileinto", "mailbox"]; fileinto :create "Work";')
    for subj in ("[SPAM]-cheap", "meeting"):
        codes, end = send(srv, "alice@origin.test", [IVO[0]], message(subj, to=IVO[0]),
                          source="127.0.0.9")
        assert end[0] == 250, end
    assert subjects(srv, IVO[0], "Junk") == ["[SPAM]-cheap"], srv.log_text()[-2000:]
    assert subjects(srv, IVO[0], "Work") == ["meeting"]
    assert srv.wait_log("global=1 result=junk")
    # Deactivated (CLI): the account's script decides again.
    srv.cli("sieve", "deactivate", "global")
    codes, end = send(srv, "alice@origin.test", [IVO[0]], message("[SPAM]-again", to=IVO[0]),
                      source="127.0.0.9")
    assert subjects(srv, IVO[0], "Work") == ["[SPAM]-again", "meeting"]
    assert a.call("DELETE", "/sieve/global/spam")[0] == 204
    st, _, d = a.call("GET", "/openapi.json")
    assert "/sieve/global/{name}" in d["paths"], list(d["paths"])


def test_yz_include_personal_and_global():
    srv, _, _ = env()
    lib = 'require ["fileinto", "mailbox"]; fileinto :create "%s";'
    srv.cli("sieve", "put", "global", "lib", input=lib % "FromGlobal")
    try:
        srv.cli("sieve", "put", XAN[0], "lib", input=lib % "FromPersonal")
        script(srv, XAN[0], 'require "include";\n'
               'if header :contains "subject" "incg" { include :global "lib"; }\n'
               'else { include :personal "lib"; }\n')
        for subj in ("incg", "incp"):
            codes, end = send(srv, "alice@origin.test", [XAN[0]], message(subj, to=XAN[0]),
                              source="127.0.0.9")
            assert end[0] == 250, end
        assert subjects(srv, XAN[0], "FromGlobal") == ["incg"], srv.log_text()[-2000:]
        assert subjects(srv, XAN[0], "FromPersonal") == ["incp"], srv.log_text()[-2000:]
        assert subjects(srv, XAN[0]) == []
        # The active script is the root of its include tree (RFC 6609
        # §3.2): an include :once of it is skipped (tern ran it again
        # until the depth limit, and the message went to INBOX).
        srv.cli("sieve", "put", XAN[0], "lib2", input='require ["include", "fileinto", "mailbox"]; '
                'fileinto :create "FromLib2"; include :once "s";')
        script(srv, XAN[0], 'require "include"; include "lib2";')
        codes, end = send(srv, "alice@origin.test", [XAN[0]], message("inconce", to=XAN[0]),
                          source="127.0.0.9")
        assert end[0] == 250, end
        assert subjects(srv, XAN[0], "FromLib2") == ["inconce"], srv.log_text()[-2000:]
        assert subjects(srv, XAN[0]) == []
        # A script name with "/" is a ManageSieve name like any other (RFC
        # 6609 §3.2, RFC 5804 §1.6): the script so named is included (tern
        # refused the including script at upload).
        srv.cli("sieve", "put", XAN[0], "work/lib", input=lib % "FromSlash")
        script(srv, XAN[0], 'require "include"; include "work/lib";')
        codes, end = send(srv, "alice@origin.test", [XAN[0]], message("incslash", to=XAN[0]),
                          source="127.0.0.9")
        assert end[0] == 250, end
        assert subjects(srv, XAN[0], "FromSlash") == ["incslash"], srv.log_text()[-2000:]
        assert subjects(srv, XAN[0]) == []
    finally:
        srv.cli("sieve", "del", "global", "lib")


def test_yr_script_reads_our_fields():
    srv, _, _ = env()
    script(srv, ZOE[0], 'require ["fileinto", "variables", "editheader", "mailbox"];\n'
           'if header :matches "Received" "*by mx.example.test (tern)*" { set "r" "rcvd"; }\n'
           'if header :contains "Authentication-Results" "spf=pass" { set "a" "spf"; }\n'
           'if header :matches "X-Spam-Status" "*, score=*" { set "s" "${1}"; }\n'
           'if header :is "Return-Path" "<alice@origin.test>" { set "p" "rp"; }\n'
           'deleteheader "X-Spam-Status";\n'
           'addheader "X-Seen" "${r}-${a}-${s}-${p}";\n'
           'fileinto :create "Read";\n')
    codes, end = send(srv, "alice@origin.test", [ZOE[0]], message("ours1", to=ZOE[0]),
                      source="127.0.0.9")
    assert end[0] == 250, end
    got = srv.messages(ZOE[0], "Read")
    assert len(got) == 1, (got, srv.log_text()[-2000:])
    head = srv.raw(ZOE[0], got[0][0]).split(b"\r\n\r\n", 1)[0] + b"\r\n"
    assert b"\r\nX-Seen: rcvd-spf-No-rp\r\n" in head, head
    for name in (b"Return-Path", b"Received", b"Authentication-Results", b"X-Spam-Status"):
        assert len(re.findall(rb"(?m)^" + name + rb":", head)) == 1, (name, head)


def test_yr_environment_items():
    """environment (RFC 5183 §4.1) at delivery: "host" is our host name,
    "domain" its domain, "remote-ip" the SMTP client's address; they were
    empty (no item matched even "*"). "version" is tern's."""
    srv, _, _ = env()
    script(srv, ZOE[0], 'require ["fileinto", "variables", "editheader", "mailbox", "environment"];\n'
           'if environment :matches "host" "*" { set "h" "${1}"; }\n'
           'if environment :matches "domain" "*" { set "d" "${1}"; }\n'
           'if environment :matches "remote-ip" "*" { set "i" "${1}"; }\n'
           'if environment :is "location" "MDA" { set "l" "MDA"; }\n'
           'if environment :matches "version" "*" { set "v" "${1}"; }\n'
           'addheader "X-Env" "${h}|${d}|${i}|${l}|${v}";\n'
           'fileinto :create "Env";\n')
    codes, end = send(srv, "alice@origin.test", [ZOE[0]], message("env1", to=ZOE[0]),
                      source="127.0.0.9")
    assert end[0] == 250, end
    got = srv.messages(ZOE[0], "Env")
    assert len(got) == 1, (got, srv.log_text()[-2000:])
    head = srv.raw(ZOE[0], got[0][0]).split(b"\r\n\r\n", 1)[0] + b"\r\n"
    # "version" (RFC 5183 §4.1) is what `tern version` prints (it was "1").
    version = srv.cli("version").stdout.decode().split()[1].encode()
    assert b"\r\nX-Env: mx.example.test|example.test|127.0.0.9|MDA|" + version + b"\r\n" in head, head


def test_zz_stop():
    global _env
    if _env is not None:
        srv, dns, remote = _env
        srv.cleanup()
        remote.stop()
        dns.stop()
        _env = None


# A run of chosen tests (PROTO=module:test) leaves test_zz_stop out: the
# module's process stops its servers when it exits all the same.
atexit.register(test_zz_stop)
