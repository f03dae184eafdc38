"""What tern knows about an SMTP client's connection: the peer address and
port it logs come from accept4 (not a getpeername per connection), and a
loop's info records, written once per loop iteration, reach the log while
the session is still open and idle."""
import smtplib

from harness import Server, Raw, message

ACCOUNTS = [("bob@example.test", "bob-pw-1")]


def test_connect_record_names_the_peer_address_and_port():
    with Server(accounts=ACCOUNTS) as s:
        held = []
        for source in ("127.0.0.2", "127.0.0.3"):
            r = Raw(s.smtp_port, source=source)
            assert r.greeting[0] == 220
            port = r.sock.getsockname()[1]
            # The session stays open and idle: the record must not wait
            # for its end.
            s.wait_log("event=connect peer=%s port=%d service=mx" % (source, port))
            held.append(r)
        for r in held:
            assert r.cmd("QUIT")[0] == 221
            r.close()


def test_delivery_records_in_order():
    with Server(accounts=ACCOUNTS) as s:
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10) as c:
            c.sendmail("alice@sender.test", ["bob@example.test"],
                       message(subject="peer test", sender="alice@sender.test"))
        s.wait_log("event=disconnect reason=quit")
        lines = [l for l in s.log_text().splitlines() if "module=smtp" in l]
        events = [l.split("event=")[1].split()[0] for l in lines if "event=" in l]
        # Port 25's SPF record (test_check_spf.py) and the null MX check's
        # record of a failed lookup (smtp_nullmx.c) land wherever their DNS
        # answers do.
        events = [e for e in events if e not in ("spf", "null_mx_check")]
        assert events[-3:] == ["connect", "delivered", "disconnect"], events
