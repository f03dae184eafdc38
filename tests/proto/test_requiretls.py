"""REQUIRETLS (RFC 8689, issue 30), end to end with scripted
python3-aiosmtpd peers (requiretls_peer.py): tern offers REQUIRETLS only
over TLS and refuses the MAIL parameter without it; a submitted message
with MAIL FROM REQUIRETLS goes only to a next hop authenticated by an
MTA-STS policy (or DANE) that offers REQUIRETLS, and carries the
parameter on; a domain with no policy (5.7.10) or a hop that does not
offer it (5.7.30) fails at once with a notice; "TLS-Required: No" makes
the queue skip the recipient's MTA-STS policy; a failure notice about a
REQUIRETLS message is itself sent with REQUIRETLS (§5)."""
import atexit
import json
import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import time

from harness import Server
from mailpeers import SYSTEM_PYTHON, ca_signed, free_port_on, self_signed, test_ca
from test_mta_sts_out import PolicyServer, _policy
from test_queue import ALICE, World, ctx, dsn_of, status_fields

HERE = os.path.dirname(os.path.abspath(__file__))


class Peer:
    def __init__(self, ip, port, cert, advertise, tmp):
        self.out = os.path.join(tmp, "peer-%s.jsonl" % ip)
        self.proc = subprocess.Popen([SYSTEM_PYTHON, os.path.join(HERE, "requiretls_peer.py"), ip,
                                      str(port), cert[0], cert[1], "1" if advertise else "0",
                                      self.out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("requiretls_peer did not start: " + self.proc.stderr.read())

    def messages(self, n=0, timeout=20):
        deadline = time.time() + timeout
        while True:
            try:
                with open(self.out) as f:
                    got = [json.loads(l) for l in f if l.strip()]
            except FileNotFoundError:
                got = []
            if len(got) >= n or time.time() > deadline:
                return got
            time.sleep(0.1)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _zone(ips, sts_domains):
    z = {}
    for dom, i in (("sts.test", 0), ("plain.test", 1), ("noext.test", 2), ("badsts.test", 1)):
        z[dom] = {"MX": [[10, "mx." + dom]]}
        z["mx." + dom] = {"A": [ips[i]]}
        if dom in sts_domains:
            z["mta-sts." + dom] = {"A": [ips[3]]}
            z["_mta-sts." + dom] = {"TXT": ["v=STSv1; id=1;"]}
    return z


def test_inbound_offer_and_refusal():
    with Server() as s:
        c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10)
        code, ehlo = c.ehlo("client.test")
        assert b"REQUIRETLS" not in ehlo, ehlo
        code, msg = c.docmd("MAIL FROM:<a@remote.test> REQUIRETLS")
        assert code == 530 and b"5.7.10" in msg, (code, msg)
        c.rset()
        c.starttls(context=ctx())
        code, ehlo = c.ehlo("client.test")
        assert b"REQUIRETLS" in ehlo, ehlo
        code, msg = c.docmd("MAIL FROM:<a@remote.test> REQUIRETLS")
        assert code == 250, (code, msg)
        code, msg = c.docmd("MAIL FROM:<a@remote.test> REQUIRETLS=yes")
        assert code == 501 or code == 503 or code == 555, (code, msg)
        c.close()


def test_requiretls_end_to_end_and_tls_required_no():
    tmp = tempfile.mkdtemp(prefix="tern-rtls-")
    atexit.register(shutil.rmtree, tmp, True)
    ca = test_ca(tmp)
    seen = {}
    sts_domains = ("sts.test", "noext.test", "badsts.test")

    def records(ips):
        seen["ips"] = ips
        return _zone(ips, sts_domains)

    peers, ps = [], None
    with World(records, nips=4, start=False,
               env={"TERN_TLS_CA_FILE": ca[0]}) as w:
        try:
            ips = seen["ips"]
            sts_port = free_port_on([ips[3]])
            w.srv.env["TERN_MTA_STS_PORT"] = str(sts_port)
            ps = PolicyServer(ips[3], sts_port,
                              ca_signed(tmp, ca, "mta-sts.sts.test",
                                        ("mta-sts.noext.test", "mta-sts.badsts.test")),
                              {"mta-sts.sts.test": _policy("enforce", "mx.sts.test"),
                               "mta-sts.noext.test": _policy("enforce", "mx.noext.test"),
                               "mta-sts.badsts.test": _policy("enforce", "mx.badsts.test")})
            a = Peer(ips[0], w.port, ca_signed(tmp, ca, "mx.sts.test"), True, tmp)
            b = Peer(ips[1], w.port, self_signed(tmp, "mx.plain.test"), True, tmp)
            c = Peer(ips[2], w.port, ca_signed(tmp, ca, "mx.noext.test"), False, tmp)
            peers += [a, b, c]
            w.srv.start()
            w.send(["carol@sts.test", "dave@plain.test", "erin@noext.test"],
                   subject="rtls", mail_options=["REQUIRETLS"])
            got = a.messages(1)
            assert len(got) == 1 and got[0]["rcpts"] == ["carol@sts.test"], w.srv.log_text()
            assert got[0]["tls"] and got[0]["requiretls"], got
            m, raw = dsn_of(w)
            st = {f["final-recipient"].lower(): f for f in status_fields(m)[1:]}
            assert st["rfc822; dave@plain.test"]["status"] == "5.7.10", st
            assert st["rfc822; erin@noext.test"]["status"] == "5.7.30", st
            assert b.messages() == [] and c.messages() == []
            assert w.wait_queue_empty()

            # TLS-Required: No: badsts.test's enforce policy names mx.badsts.test,
            # whose certificate is self-signed; the policy is skipped.
            w.send(["fred@badsts.test"], subject="optional",
                   body="Hello.\r\n", sender=ALICE)  # without the header: held
            out = w.wait_list("TLS not verified")
            assert "fred@badsts.test" in out, out
            msg = ("From: %s\r\nTo: gina@badsts.test\r\nSubject: optional\r\n"
                   "TLS-Required: No\r\n\r\nHello.\r\n" % ALICE)
            s = smtplib.SMTP("127.0.0.1", w.srv.submission_port, timeout=20)
            s.starttls(context=ctx())
            s.login(*_alice_login())
            s.sendmail(ALICE, ["gina@badsts.test"], msg.encode())
            s.quit()
            got = b.messages(1)
            assert [m["rcpts"] for m in got] == [["gina@badsts.test"]], w.srv.log_text()
            assert "TLS-Required: No" in got[0]["data"]
            assert "event=tls_policy_skipped" in w.srv.log_text()
            # fred's next try (a second apart) comes while gina's session
            # could still be kept for the next message to badsts.test: it
            # must not ride on a session that skipped the policy.
            mark = len(w.srv.log_text())
            fred = re.compile(r"event=(deferred|sent) id=\d+ rcpt=fred@badsts\.test")
            deadline = time.time() + 20
            while not fred.search(w.srv.log_text()[mark:]) and time.time() < deadline:
                time.sleep(0.1)
            tried = fred.search(w.srv.log_text()[mark:])
            assert tried and tried.group(1) == "deferred", w.srv.log_text()
            assert [m["rcpts"] for m in b.messages()] == [["gina@badsts.test"]]

            # RFC 8689 §5: a notice about a REQUIRETLS message goes with
            # REQUIRETLS too. A REQUIRETLS message from carol@sts.test on
            # port 25 is forwarded (an alias) to plain.test, which no policy
            # covers: 5.7.10, and the failure notice reaches carol's MX
            # (MTA-STS enforce, REQUIRETLS offered) with REQUIRETLS.
            # (SPF passes for carol: notices go only to a verified sender.)
            z = _zone(ips, sts_domains)
            z["sts.test"]["TXT"] = ["v=spf1 ip4:127.0.0.1 -all"]
            w.dns.zone(z)
            w.srv.cli("alias", "add", "fwd@example.test", "hal@plain.test")
            s = smtplib.SMTP("127.0.0.1", w.srv.smtp_port, timeout=20)
            s.ehlo("mx.sts.test")
            s.starttls(context=ctx())
            s.ehlo("mx.sts.test")
            s.sendmail("carol@sts.test", ["fwd@example.test"],
                       b"From: carol@sts.test\r\nTo: fwd@example.test\r\nSubject: fwd\r\n\r\nHi.\r\n",
                       mail_options=["REQUIRETLS"])
            s.quit()
            got = a.messages(2)
            assert len(got) == 2, w.srv.log_text()[-3000:]
            dsn = got[1]
            assert dsn["from"] in ("", "<>") and dsn["rcpts"] == ["carol@sts.test"], dsn
            assert dsn["tls"] and dsn["requiretls"], dsn
            assert "5.7.10" in dsn["data"] and "hal@plain.test" in dsn["data"], dsn["data"][:2000]

            # The "delivered" notice (NOTIFY=SUCCESS) of a REQUIRETLS message
            # quotes it too: it leaves with REQUIRETLS. The envelope sender
            # is a served address that forwards to carol@sts.test.
            w.srv.cli("alias", "add", "back@example.test", "carol@sts.test")
            s = smtplib.SMTP("127.0.0.1", w.srv.smtp_port, timeout=20)
            s.ehlo("mx.sts.test")
            s.starttls(context=ctx())
            s.ehlo("mx.sts.test")
            s.sendmail("back@example.test", ["bob@example.test"],
                       b"From: carol@sts.test\r\nTo: bob@example.test\r\nSubject: ok\r\n\r\nHi.\r\n",
                       mail_options=["REQUIRETLS"], rcpt_options=["NOTIFY=SUCCESS"])
            s.quit()
            got = a.messages(3)
            assert len(got) == 3, w.srv.log_text()[-3000:]
            dsn = got[2]
            assert dsn["from"] in ("", "<>") and dsn["rcpts"] == ["carol@sts.test"], dsn
            assert "Action: delivered" in dsn["data"], dsn["data"][:2000]
            assert dsn["tls"] and dsn["requiretls"], dsn
        finally:
            for p in peers:
                p.stop()
            if ps:
                ps.stop()


def _alice_login():
    from test_queue import ALICE_PW
    return ALICE, ALICE_PW
