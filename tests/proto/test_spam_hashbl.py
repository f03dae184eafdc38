"""Hash lists over DNS (issue 34), as Spamhaus HBL and MSBL EBL publish
them: a loopback DNS server answers for the hashes a message is asked
about.

- the settings API takes hash list lines (email[/md5|/sha256], wallet or file,
  then the zone as for the other lists, name= for the rule) and refuses
  a bad one with 400 naming the field and the line;
- a message whose From address, Reply-To address or an address in its
  text is listed (SHA-1 hex of the lowercased address, the default) gets
  HASHBL_<NAME> in X-Spam-Result and lands in Junk (a "+tag" dropped
  before the hash, as the lists hold the box); the zone's access
  key never shows in the header; an MD5 zone (email/md5) is asked with
  MD5 hex;
- a message naming a listed cryptocurrency wallet (SHA-1 hex of the
  address as written, under a "wallet" zone) lands in Junk;
- a message whose attachment's decoded content is listed (SHA-256,
  lowercase unpadded base32, under a "file" zone) lands in Junk with its
  rule; the same message with another attachment does not;
- an address in a domain we serve is never asked about, even when the
  list would answer for it; a list's error answer (127.255.255.x) never
  counts;
- name= on a plain IP list names its rule too (RBL_NAME).
"""
import base64
import hashlib
import smtplib
from email.message import EmailMessage

from httpc import admin_server
from mailpeers import DnsServer
from test_spam_phish import header_of

KEY = "s3cr3tkey"


def sha1(addr):
    return hashlib.sha1(addr.lower().encode()).hexdigest()


def md5(addr):
    return hashlib.md5(addr.lower().encode()).hexdigest()


def b32sha256(data):
    return base64.b32encode(hashlib.sha256(data).digest()).decode().rstrip("=").lower()


MALWARE = b"MZ\x90\x00\x03" + bytes(range(256)) * 40 + b"this program cannot be run\r\n"
WALLET = "1TernTestWa11etAddrXyzABCDEF"
HARMLESS = b"%PDF-1.4\n" + b"quarterly figures\n" * 300


def message(subject, sender="Desk <desk@sender.test>", body="Hello.", reply_to=None, attach=None):
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "bob@example.test"
    m["Subject"] = subject
    m["Date"] = "Tue, 24 Nov 2026 12:00:00 +0000"
    m["Message-ID"] = "<%s@sender.test>" % subject.replace(" ", ".")
    if reply_to:
        m["Reply-To"] = reply_to
    m.set_content(body)
    if attach:
        m.add_attachment(attach, maintype="application", subtype="octet-stream", filename="file.bin")
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def deliver(s, subject, source="127.0.0.1", **kw):
    c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30, source_address=(source, 0))
    try:
        c.ehlo("client.example.org")
        c.sendmail("desk@sender.test", ["bob@example.test"], message(subject, **kw))
    finally:
        c.close()


def test_spam_hash_lists():
    dns = s = None
    ezone, fzone, wzone = ("_%s.%s.hbl.test" % (k, KEY) for k in ("email", "file", "cw"))
    try:
        dns = DnsServer({
            sha1("drop.box@payout.test") + "." + ezone: {"A": ["127.0.3.2"]},
            sha1("claims@payout.test") + "." + ezone: {"A": ["127.0.3.2"]},
            sha1("scam@sender2.test") + "." + ezone: {"A": ["127.0.3.2"]},
            sha1("paydesk@gmail.com") + "." + ezone: {"A": ["127.0.3.2"]},
            sha1("bob@example.test") + "." + ezone: {"A": ["127.0.3.2"]},
            sha1("error@payout.test") + "." + ezone: {"A": ["127.255.255.254"]},
            md5("md5.only@payout.test") + ".ebl.test": {"A": ["127.0.0.2"]},
            b32sha256(MALWARE) + "." + fzone: {"A": ["127.0.3.10"]},
            hashlib.sha1(WALLET.encode()).hexdigest() + "." + wzone: {"A": ["127.0.3.20"]},
            "5.0.0.127.%s.zen.test" % KEY: {"A": ["127.0.0.2"]},
            "sender.test": {"TXT": ["v=spf1 ip4:127.0.0.0/8 -all"]},
            "sender2.test": {"TXT": ["v=spf1 ip4:127.0.0.0/8 -all"]},
            "_dmarc.*": {"NXDOMAIN": True},
        })
        s, api = admin_server(domains=("example.test",), accounts=[("bob@example.test", "bob-pw-1")],
                              env={"TERN_DNS_SERVERS": dns.servers})

        # None by default (the lists want a key); a bad line is refused.
        st, _, cfg = api.call("GET", "/spam")
        assert st == 200 and cfg["hashbl"] == "", cfg
        for bad in ("file/md5 %s 10" % fzone, "email", "url x.test 3", "email x.test name=a-b"):
            st, _, body = api.call("PUT", "/spam", {"hashbl": bad})
            assert st == 400 and body.get("field") == "hashbl" and "line 1" in body["detail"], (bad, body)
        lines = ("email %s 127.0.3.2=8 name=SH_HBL_EMAIL\n"
                 "file %s 127.0.3.10=10 name=SH_HBL_FILE\n"
                 "email/md5 ebl.test 7 # MD5 hex\n"
                 "wallet %s 127.0.3.20=9 name=SH_HBL_CW\n" % (ezone, fzone, wzone))
        st, _, cfg = api.call("PUT", "/spam", {"hashbl": lines, "uribl": "",
                                                "dnsbl": "%s.zen.test 127.0.0.2=2 name=ZEN" % KEY})
        assert st == 200 and cfg["hashbl"] == lines, cfg

        # An address in the text, in Reply-To, in From: each listed one fires.
        for subject, kw in (("body address", {"body": "Send your fee to Drop.Box@payout.test today."}),
                            ("reply to", {"reply_to": "Claims+Case-12@payout.test"}),
                            ("from", {"sender": "Scam <scam@sender2.test>"}),
                            # Gmail's one mailbox, asked without dots at gmail.com
                            ("gmail", {"body": "Reply to Pay.Desk@GoogleMail.com now."})):
            deliver(s, subject, **kw)
            box, h = header_of(s, subject)
            assert box == "Junk" and "HASHBL_SH_HBL_EMAIL=8.00" in h, (subject, h)
            assert KEY not in h, h
        # MD5 hex under an email/md5 zone.
        deliver(s, "md5 zone", body="Write to md5.only@payout.test.")
        box, h = header_of(s, "md5 zone")
        assert box == "Junk" and "HASHBL_EBL_TEST=7.00" in h, h

        # A wallet, hashed as written (SHA-1 hex, its case kept).
        deliver(s, "ransom", body="Pay 0.05 BTC to %s within 48 hours." % WALLET)
        box, h = header_of(s, "ransom")
        assert box == "Junk" and "HASHBL_SH_HBL_CW=9.00" in h, h

        # Our user's address is never asked about; an error answer never counts.
        deliver(s, "ours and error", body="Ask bob@example.test or error@payout.test.")
        box, h = header_of(s, "ours and error")
        assert box == "INBOX" and "HASHBL_" not in h, h

        # An attachment by its decoded content's SHA-256.
        deliver(s, "malware", attach=MALWARE)
        box, h = header_of(s, "malware")
        assert box == "Junk" and "HASHBL_SH_HBL_FILE=10.00" in h, h
        deliver(s, "harmless", attach=HARMLESS)
        box, h = header_of(s, "harmless")
        assert box == "INBOX" and "HASHBL_" not in h, h

        # name= names a plain list's rule: the key stays out of the header.
        deliver(s, "named zone", source="127.0.0.5")
        box, h = header_of(s, "named zone")
        assert "RBL_ZEN=2.00" in h and KEY not in h, h
    finally:
        if s:
            s.stop()
        if dns:
            dns.stop()
