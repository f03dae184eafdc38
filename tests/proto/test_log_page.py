"""The log page and the dashboard's chart (issue 31): GET /logs gives the
newest lines first (order=newest) with a seq to page back from (before=)
and says when older lines exist, so the page can go past one screen (it
opened at the oldest line and stopped at 500); the mail-flow chart's
hours are kept in the store and survive a restart (they were lost). One
server, restarted once."""
import smtplib

from harness import Raw, message
from httpc import Api, admin_server

PW = "admin-password-1-Vq8r"


def page_all(a, limit):
    seen, before = [], None
    while True:
        st, _, r = a.call("GET", "/logs?level=debug&order=newest&limit=%d%s"
                          % (limit, "&before=%d" % before if before else ""))
        assert st == 200, r
        lines = r["lines"]
        assert lines, r
        seqs = [l["seq"] for l in lines]
        assert seqs == sorted(seqs, reverse=True), seqs  # newest first
        # Times follow seq only roughly: two threads stamp a record before
        # taking the ring's lock, so neighbours may swap by a few ms.
        assert lines[0]["time"] + 1 >= lines[-1]["time"], (lines[0], lines[-1])
        if seen:
            assert seqs[0] < seen[-1]["seq"]  # no overlap with the page before
        seen += lines
        if not r["more"]:
            return seen
        before = seqs[-1]


def test_log_paging_and_chart_history():
    s, a = admin_server(password=PW, accounts=[("bob@example.test", "bob-password-1")])
    with s:
        c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=20)
        c.sendmail("alice@remote.test", ["bob@example.test"], message().encode())
        c.quit()
        st, _, stats = a.call("GET", "/stats")
        before = sum(h["received"] for h in stats["hours"])
        assert before >= 1, stats["hours"]
        for _ in range(300):  # each session logs its connect and disconnect
            r = Raw(s.smtp_port)
            r.cmd("QUIT")
            r.close()
        lines = page_all(a, 200)
        assert len(lines) > 500, len(lines)
        assert any("event=started" in l["text"] for l in lines[-60:]), "the oldest page has the start"
        assert a.call("GET", "/logs?before=x")[0] == 400
        assert a.call("GET", "/logs?order=sideways")[0] == 400

        s.stop()
        s.start()
        a = Api(s)
        assert a.login(PW)[0] == 200
        st, _, stats = a.call("GET", "/stats")
        assert sum(h["received"] for h in stats["hours"]) == before, stats["hours"]
