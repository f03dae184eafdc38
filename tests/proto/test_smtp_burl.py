"""BURL on submission (RFC 4468) with URLAUTH (RFC 4467), one server: bob
keeps a draft in Drafts over IMAP, signs its URL for the submission
server (GENURLAUTH ...;URLAUTH=submit+bob), and sends it with
"BURL url LAST" without uploading it again: carol receives the draft's
octets (after the header lines submission adds). A URL chunk followed by
BDAT LAST makes one message. Refusals: a wrong token, a URL signed for
someone else's submission, an authuser URL of another account that bob
may read (taken), BURL before RCPT (503), BURL on port 25 (500); EHLO on
submission offers "BURL imap"."""
import re
import smtplib

from test_imap import BOB, BOB_PW, CAROL, CAROL_PW, Raw, ctx, srv, wait_count
from test_imap_search_ext import cmd

DRAFT = (b"From: bob@example.test\r\nTo: carol@example.test\r\nSubject: from a draft\r\n\r\n"
         b"Written once, sent by URL.\r\n")


def submission(s, user=BOB, pw=BOB_PW):
    c = smtplib.SMTP("127.0.0.1", s.submission_port, timeout=20)
    c.starttls(context=ctx())
    c.ehlo()
    c.login(user, pw)
    return c


def fetch_last(s, user, pw):
    r = Raw(s)
    r.login(user, pw)
    u, t = cmd(r, "s", "SELECT INBOX")
    n = int([x for x in u if x.endswith(b"EXISTS")][0].split()[1])
    r.send(b"f FETCH %d BODY.PEEK[]\r\n" % n)
    out = r.until_tag("f")
    size = int(re.search(rb"\{(\d+)\}$", out[0]).group(1))
    raw = b"\r\n".join(out[1:-1])[:size]
    r.close()
    return raw


def test_smtp_burl():
    with srv(submission=True) as s:
        r = Raw(s)
        r.login()
        r.send(b"a APPEND Drafts (\\Draft) {%d+}\r\n%s\r\n" % (len(DRAFT), DRAFT))
        uid = int(re.search(rb"APPENDUID \d+ (\d+)", r.until_tag("a")[-1]).group(1))
        base = "imap://bob%%40example.test@mx.example.test/Drafts/;UID=%d" % uid

        def gen(access):
            u, t = cmd(r, "g", 'GENURLAUTH "%s;URLAUTH=%s" INTERNAL' % (base, access))
            assert t.startswith(b"g OK"), t
            return re.fullmatch(rb'\* GENURLAUTH "([^"]+)"', u[0]).group(1).decode()

        url = gen("submit+bob%40example.test")
        c = submission(s)
        assert "burl" in c.esmtp_features and c.esmtp_features["burl"].strip() == "imap", c.esmtp_features
        assert c.docmd("BURL", url + " LAST")[0] == 503  # no transaction yet
        c.mail(BOB)
        c.rcpt(CAROL)
        code, text = c.docmd("BURL", url + " LAST")
        assert code == 250, (code, text)
        wait_count(s, 1, account=CAROL)
        got = fetch_last(s, CAROL, CAROL_PW)
        assert got.endswith(DRAFT), got
        # A URL chunk, then the rest by BDAT LAST.
        c.mail(BOB)
        c.rcpt(CAROL)
        code, text = c.docmd("BURL", url)
        assert code == 250 and b"octets received" in text, (code, text)
        c.send(b"BDAT 8 LAST\r\n-- bob\r\n")
        assert c.getreply()[0] == 250
        wait_count(s, 2, account=CAROL)
        assert fetch_last(s, CAROL, CAROL_PW).endswith(DRAFT + b"-- bob\r\n")
        # Refusals: a changed token; a URL for carol's submission.
        c.mail(BOB)
        c.rcpt(CAROL)
        bad = url[:-1] + ("0" if url[-1] != "0" else "1")
        assert c.docmd("BURL", bad + " LAST") == (554, b"5.6.6 IMAP URL resolution failed")
        c.rset()
        other = gen("submit+carol%40example.test")
        c.mail(BOB)
        c.rcpt(CAROL)
        assert c.docmd("BURL", other + " LAST")[0] == 554
        c.rset()
        # An authuser URL is one bob may read: taken.
        c.mail(BOB)
        c.rcpt(CAROL)
        assert c.docmd("BURL", gen("authuser") + " LAST")[0] == 250
        wait_count(s, 3, account=CAROL)
        # A draft the store kept with a bare CR (IMAP APPEND keeps it, as
        # Dovecot does) goes on with CRLF line ends only (RFC 5321 §2.3.8).
        bare = DRAFT.replace(b"Written once", b"Written\ronce")
        r.send(b"b APPEND Drafts (\\Draft) {%d+}\r\n%s\r\n" % (len(bare), bare))
        buid = int(re.search(rb"APPENDUID \d+ (\d+)", r.until_tag("b")[-1]).group(1))
        u, t = cmd(r, "g", 'GENURLAUTH "imap://bob%%40example.test@mx.example.test/Drafts/;UID=%d'
                   ';URLAUTH=submit+bob%%40example.test" INTERNAL' % buid)
        burl = re.fullmatch(rb'\* GENURLAUTH "([^"]+)"', u[0]).group(1).decode()
        c.mail(BOB)
        c.rcpt(CAROL)
        assert c.docmd("BURL", burl + " LAST")[0] == 250
        wait_count(s, 4, account=CAROL)
        got = fetch_last(s, CAROL, CAROL_PW)
        assert got.endswith(DRAFT.replace(b"Written once", b"Written\r\nonce")), got
        assert re.search(rb"\r(?!\n)|(?<!\r)\n", got) is None, got
        c.quit()
        # Not on port 25.
        m = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=20)
        m.ehlo()
        assert "burl" not in m.esmtp_features
        m.mail("x@remote.test")
        m.rcpt(CAROL)
        assert m.docmd("BURL", url + " LAST")[0] == 500
        m.quit()
        r.close()


def test_burl_past_the_size_limit_ends_its_transaction():
    # A draft that takes a message past TERN_MAX_MESSAGE_SIZE (a BDAT
    # chunk, then "BURL url LAST") is refused 552 5.3.4 and, being the
    # last chunk, ends the transaction as DATA's and BDAT's 552 do (it
    # stayed open: the next MAIL was "503 nested MAIL command"), logged
    # as a rejected message.
    big = DRAFT + b"x" * 1500 + b"\r\n"
    with srv(submission=True, env={"TERN_MAX_MESSAGE_SIZE": "2K"}) as s:
        r = Raw(s)
        r.login()
        r.send(b"a APPEND Drafts (\\Draft) {%d+}\r\n%s\r\n" % (len(big), big))
        uid = int(re.search(rb"APPENDUID \d+ (\d+)", r.until_tag("a")[-1]).group(1))
        u, t = cmd(r, "g", 'GENURLAUTH "imap://bob%%40example.test@mx.example.test/Drafts/;UID=%d'
                   ';URLAUTH=submit+bob%%40example.test" INTERNAL' % uid)
        url = re.fullmatch(rb'\* GENURLAUTH "([^"]+)"', u[0]).group(1).decode()
        r.close()
        c = submission(s)
        c.mail(BOB)
        c.rcpt(CAROL)
        c.send(b"BDAT 1000\r\n" + b"y" * 998 + b"\r\n")
        assert c.getreply()[0] == 250
        code, text = c.docmd("BURL", url + " LAST")
        assert (code, text[:5]) == (552, b"5.3.4"), (code, text)
        code, text = c.docmd("MAIL", "FROM:<%s>" % BOB)
        assert code == 250, (code, text)
        c.quit()
        # log_defer: the line may follow the reply.
        assert s.wait_log("event=message_rejected reason=too_big", timeout=60)


def test_burl_of_a_draft_without_final_crlf_gets_one():
    """A draft whose last line has no CRLF (IMAP stores what APPEND gave)
    sent by "BURL url LAST" arrives with that line closed, as a BDAT
    message would (smtp_tx.c's bdat_close_line, RFC 5322 §2.1), once;
    a URL chunk without its CRLF followed by more is joined as it is."""
    open_end = DRAFT.rstrip(b"\r\n")
    with srv(submission=True) as s:
        r = Raw(s)
        r.login()
        r.send(b"a APPEND Drafts (\\Draft) {%d+}\r\n%s\r\n" % (len(open_end), open_end))
        uid = int(re.search(rb"APPENDUID \d+ (\d+)", r.until_tag("a")[-1]).group(1))
        u, t = cmd(r, "g", 'GENURLAUTH "imap://bob%%40example.test@mx.example.test/Drafts/;UID=%d;'
                   'URLAUTH=submit+bob%%40example.test" INTERNAL' % uid)
        assert t.startswith(b"g OK"), t
        url = re.fullmatch(rb'\* GENURLAUTH "([^"]+)"', u[0]).group(1).decode()
        r.close()
        c = submission(s)
        c.mail(BOB)
        c.rcpt(CAROL)
        code, text = c.docmd("BURL", url + " LAST")
        assert code == 250, (code, text)
        wait_count(s, 1, account=CAROL)
        got = fetch_last(s, CAROL, CAROL_PW)
        assert got.endswith(open_end + b"\r\n") and not got.endswith(b"\r\n\r\n"), got[-60:]
        c.mail(BOB)
        c.rcpt(CAROL)
        assert c.docmd("BURL", url)[0] == 250
        c.send(b"BDAT 7 LAST\r\n, bob\r\n")
        assert c.getreply()[0] == 250
        wait_count(s, 2, account=CAROL)
        got = fetch_last(s, CAROL, CAROL_PW)
        assert got.endswith(open_end + b", bob\r\n"), got[-60:]
        c.quit()
