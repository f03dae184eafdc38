"""DMARC aggregate reports received (RFC 9990): reports mailed over port
25 to a served domain's rua address (postmaster@, the one `tern domain dns`
suggests), as gzip, zip and plain XML attachments, are parsed and stored,
shown by GET /domains/{name}/dmarc-reports, and the messages still reach
the postmaster mailbox; a message to the same address without a report,
and a report to another address, add nothing. One server for all."""
import gzip
import io
import os
import smtplib
import time
import zipfile
from email.message import EmailMessage

from httpc import admin_server

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "dmarc")
PM, PM_PW = "postmaster@example.test", "postmaster-pw-1"
BOB, BOB_PW = "bob@example.test", "bob-password-1"


def report_xml(name, begin):
    """A report from tests/data/dmarc about example.test, its period moved
    to begin (the API shows recent periods)."""
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        x = f.read()
    x = x.replace("example.org", "example.test")
    for tag in ("begin", "end"):
        i = x.index("<%s>" % tag) if "<%s>" % tag in x else x.index(":%s>" % tag)
        j = x.index("<", i + 1)
        k = x.index(">", i) + 1
        x = x[:k] + str(begin if tag == "begin" else begin + 86399) + x[j:]
    return x.encode()


def mail(to, subject, attachment=None, ctype=None, filename=None):
    m = EmailMessage()
    m["From"] = "noreply-dmarc-support@google.com"
    m["To"] = to
    m["Subject"] = subject
    m.set_content("This is an aggregate report from the sender.\n")
    if attachment is not None:
        maintype, subtype = ctype.split("/")
        m.add_attachment(attachment, maintype=maintype, subtype=subtype, filename=filename)
    from email import policy
    return m.as_bytes(policy=policy.SMTP)


def send(port, to, data):
    c = smtplib.SMTP("127.0.0.1", port, timeout=20)
    c.sendmail("noreply-dmarc-support@google.com", [to], data)
    c.quit()


def test_reports_gzip_zip_xml_over_smtp():
    s, a = admin_server(accounts=[(PM, PM_PW), (BOB, BOB_PW)])
    with s:
        day = int(time.time()) // 86400 * 86400
        g = gzip.compress(report_xml("google.xml", day - 86400))
        zb = io.BytesIO()
        with zipfile.ZipFile(zb, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("enterprise.protection.outlook.com!example.test!1!2.xml",
                       report_xml("microsoft.xml", day - 2 * 86400))
        x = report_xml("dmarcbis.xml", day)
        send(s.smtp_port, PM, mail(PM, "Report Domain: example.test Submitter: google.com Report-ID: <4471920382914776512>",
                                   g, "application/gzip", "google.com!example.test!1!2.xml.gz"))
        send(s.smtp_port, PM, mail(PM, "Report Domain: example.test Submitter: Enterprise Outlook",
                                   zb.getvalue(), "application/zip", "report.zip"))
        send(s.smtp_port, "Postmaster@EXAMPLE.test", mail(PM, "plain XML", x, "text/xml", "r.xml"))
        send(s.smtp_port, PM, mail(PM, "no report here"))
        # A report to an address that is not the rua address is just mail.
        send(s.smtp_port, BOB, mail(BOB, "forwarded report", g, "application/gzip", "f.xml.gz"))

        deadline = time.time() + 20
        while time.time() < deadline:
            st, _, r = a.call("GET", "/domains/example.test/dmarc-reports?days=7")
            assert st == 200, r
            if len(r["reports"]) >= 3:
                break
            time.sleep(0.2)
        assert [x["org_name"] for x in r["reports"]] == [
            "Enterprise Outlook", "google.com", "Receiver & Sons"], r
        assert r["totals"] == {"reports": 3, "messages": 2 + 17 + 1, "pass": 2 + 14, "fail": 3 + 1}, r
        ms, goog, bis = r["reports"]
        assert goog["policy"]["p"] == "quarantine" and goog["policy"]["pct"] == 100, goog
        assert goog["messages"] == 17 and goog["rows"] == 2 and not goog["truncated"], goog
        assert bis["report_id"] == "r-2026-11-21<1>" and bis["policy"]["np"] == "reject", bis
        src = {x["source_ip"]: x for x in r["sources"]}
        assert src["192.0.2.25"]["pass"] == 14 and src["192.0.2.25"]["dkim_pass"] == 14, src
        assert src["2001:db8::bad"]["fail"] == 3 and src["2001:db8::bad"]["quarantined"] == 3, src
        assert src["203.0.113.9"]["rejected"] == 1, src
        assert r["sources"][0]["source_ip"] == "192.0.2.25", r["sources"]
        days = {x["day"]: x for x in r["by_day"]}
        assert len(r["by_day"]) == 7 and days[day - 86400] == {"day": day - 86400, "pass": 14, "fail": 3}, r["by_day"]
        assert days[day - 2 * 86400]["pass"] == 2 and days[day]["fail"] == 1, r["by_day"]

        # Mailed twice, stored once: until the second copy's store line
        # (the first reports' "stored=1" lines were there already, so
        # waiting for that text waited for nothing but a fixed 0.5 s).
        def google_stored():
            return sum(1 for line in s.log_text().splitlines()
                       if "event=dmarc_report_stored" in line and "google.com" in line)
        send(s.smtp_port, PM, mail(PM, "again", g, "application/gzip", "again.xml.gz"))
        deadline = time.time() + 30
        while google_stored() < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert google_stored() == 2, s.log_text()[-2000:]
        r2 = a.call("GET", "/domains/example.test/dmarc-reports?days=7")[2]
        assert r2["totals"]["reports"] == 3, r2["totals"]
        # Every message reached the postmaster's mailbox as any mail does.
        assert len(s.messages(PM)) == 5, s.messages(PM)
        assert len(s.messages(BOB)) == 1
        assert a.call("GET", "/domains/nowhere.test/dmarc-reports")[0] == 404
        assert a.call("GET", "/domains/example.test/dmarc-reports?days=0")[0] == 400

        # The From address of the reports tern sends: a setting.
        st, _, d = a.call("GET", "/settings")
        assert d["dmarc_reports"] == {"from": "", "effective": PM, "locked": False,
                                       "failure_reports": True}, d["dmarc_reports"]
        st, _, p = a.call("PUT", "/settings", {"dmarc_report_from": "x@nowhere.test"})
        assert st == 400 and p["field"] == "dmarc_report_from", p
        st, _, d = a.call("PUT", "/settings", {"dmarc_report_from": "Reports@EXAMPLE.test"})
        assert st == 200 and d["dmarc_reports"]["effective"] == "Reports@example.test", d
        d = a.call("PUT", "/settings", {"dmarc_report_from": "off"})[2]
        assert d["dmarc_reports"] == {"from": "off", "effective": "", "locked": False,
                                       "failure_reports": True}, d
        out = s.cli("dmarc", "report", "--send").stdout.decode()
        assert "from: off" in out, out

        # A report is mailed in by anyone: its org_name, logged when the
        # report is stored, must not forge a line (fail2ban reads the log
        # by lines and would ban the address named) nor end the quotes.
        forged = "level=warn module=http event=auth_failed what=login ip=198.51.100.77"
        x = report_xml("dmarcbis.xml", day - 3 * 86400)
        x = x.replace(b"Receiver &amp; Sons", ("Evil\n" + forged + "\n\"x=1").encode())
        x = x.replace(b"r-2026-11-21", b"forged-line")
        send(s.smtp_port, PM, mail(PM, "forged", x, "text/xml", "f.xml"))
        assert s.wait_log("Evil", timeout=10), s.log_text()[-2000:]
        time.sleep(0.1)
        lines = s.log_text().splitlines()
        assert not [l for l in lines if "198.51.100.77" in l and "event=dmarc_report_stored" not in l], lines[-5:]
        rec = [l for l in lines if "198.51.100.77" in l][0]
        assert 'org="Evil\\x0a' in rec and '\\"x=1" rows=' in rec, rec
