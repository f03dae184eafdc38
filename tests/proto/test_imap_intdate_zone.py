"""IMAP INTERNALDATE keeps the zone APPEND gave it (RFC 9051 §2.3.3,
§6.3.12), and SEARCH BEFORE, ON and SINCE judge the date in that zone
("disregarding time and timezone", §6.4.4). imaptest's search-intdate
script takes a server that fetches dates in the zones they were appended
with; Dovecot instead shows and searches them in its own zone (UTC in
test_imap_core_diff, where this is a listed difference).

Before, tern kept the instant alone: APPEND "01-Jan-2020 23:30:00 -0800"
was answered "02-Jan-2020 07:30:00 +0000", and SEARCH ON 1-Jan-2020 did
not find it (its UTC day is the 2nd). The zone is a trailing field of the
email record (app/store/SCHEMA.md): records without it, every one an
earlier build wrote (test_upgrade_fixtures.py opens those), read +0000 as
before. Checked here too: a flag change (the record rewritten), COPY (a
new record) and a restart keep the zone, SORT ARRIVAL still orders by
the instant, and JMAP's receivedAt is that instant in UTC."""
import os
import re

import test_upgrade_fixtures as fixtures
from harness import ROOT, Server
from jmapc import Jmap
from test_imap import BOB, BOB_PW, Raw, srv

# Internal dates as APPEND gives them (the instant in UTC noted).
DATES = [
    "01-Jan-2020 23:30:00 -0800",  # 2 Jan 07:30 UTC
    "02-Jan-2020 00:30:00 +0200",  # 1 Jan 22:30 UTC
    "01-Jan-2020 12:00:00 +0000",
    "15-Mar-2021 08:00:00 -9959",  # the widest zone: 19 Mar 11:59 UTC
]


def cmd(r, tag, text):
    r.send("%s %s\r\n" % (tag, text))
    out = r.until_tag(tag)
    assert out[-1].startswith(tag.encode() + b" OK"), out
    return out


def intdates(r, tag, what="1:*"):
    out = cmd(r, tag, "FETCH %s INTERNALDATE" % what)
    return [re.search(rb'INTERNALDATE "([^"]*)"', l).group(1).decode()
            for l in out if b" FETCH " in l]


def search(r, tag, key):
    out = cmd(r, tag, "SEARCH %s" % key)
    line = [l for l in out if l.startswith(b"* SEARCH")][0]
    return [int(x) for x in line.split()[2:]]


def append(r, tag, box, date, n):
    body = b"Subject: zone %d\r\n\r\nbody\r\n" % n
    r.send('%s APPEND %s "%s" {%d+}\r\n' % (tag, box, date, len(body)))
    r.send(body + b"\r\n")
    out = r.until_tag(tag)
    assert out[-1].startswith(tag.encode() + b" OK"), out


def check_dates(r):
    assert intdates(r, "f") == DATES
    # Each message's own calendar day.
    assert search(r, "o1", "ON 1-Jan-2020") == [1, 3]
    assert search(r, "o2", "ON 2-Jan-2020") == [2]
    assert search(r, "b", "BEFORE 2-Jan-2020") == [1, 3]
    assert search(r, "s", "SINCE 2-Jan-2020") == [2, 4]
    assert search(r, "o3", "ON 15-Mar-2021") == [4]
    # OLDER/YOUNGER and SORT ARRIVAL are about the instant.
    out = cmd(r, "a", "SORT (ARRIVAL) UTF-8 ALL")
    line = [l for l in out if l.startswith(b"* SORT")][0]
    assert line.split()[2:] == [b"3", b"2", b"1", b"4"], line


def received_at(s):
    """JMAP receivedAt of the INBOX's emails, oldest first."""
    j = Jmap(s, BOB, BOB_PW)
    r = j.call([["Email/query", {"accountId": j.account,
                                 "sort": [{"property": "receivedAt", "isAscending": True}]}, "q"],
                ["Email/get", {"accountId": j.account, "properties": ["receivedAt"],
                               "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}},
                 "g"]])
    by_id = {e["id"]: e["receivedAt"] for e in r["methodResponses"][1][1]["list"]}
    return [by_id[i] for i in r["methodResponses"][0][1]["ids"]]


def test_internaldate_keeps_the_zone_and_searches_its_day():
    with srv(http=True) as s:
        r = Raw(s)
        r.login()
        cmd(r, "c", "CREATE other")
        for i, d in enumerate(DATES):
            append(r, "p%d" % i, "INBOX", d, i)
        cmd(r, "x", "SELECT INBOX")
        check_dates(r)
        got = received_at(s)
        assert got == ["2020-01-01T12:00:00Z", "2020-01-01T22:30:00Z",
                       "2020-01-02T07:30:00Z", "2021-03-19T11:59:00Z"], got
        # "-0000" is the same zone as "+0000" (RFC 5322 gives it no
        # other meaning IMAP keeps).
        append(r, "m", "other", "05-May-2022 10:00:00 -0000", 9)
        # A flag change rewrites the record; COPY makes a new one.
        cmd(r, "t", "STORE 1:* +FLAGS.SILENT (\\Seen kw)")
        cmd(r, "k", "COPY 1:* other")
        check_dates(r)
        cmd(r, "y", "SELECT other")
        assert intdates(r, "g") == ["05-May-2022 10:00:00 +0000"] + DATES
        cmd(r, "z", "LOGOUT")
        r.close()
        # Stored, not a session's memory.
        s.stop()
        s.start()
        r = Raw(s)
        r.login()
        cmd(r, "x", "SELECT INBOX")
        check_dates(r)
        cmd(r, "z", "LOGOUT")
        r.close()


# A store written by the build before zones were kept (schema 15, commit
# 285f0ff3), by scripts/make-store-fixture run with TZ=America/Los_Angeles:
# its three APPENDs gave "-0800" dates, which that build showed in +0000
# (expected.json). See tests/data/stores/README.
ZONELESS = os.path.join(ROOT, "tests", "data", "stores", "zoneless-15.tar.gz")
OLD_DATE = "15-Nov-2023 00:13:20 +0000"  # APPENDed as "14-Nov-2023 16:13:20 -0800"
OLD_BOX = "&AMk-t&AOk-"


def test_a_store_from_before_zones_reads_plus_0000():
    """No migration: every email record an earlier build wrote has no
    zone and reads +0000, which is what it showed, so the store opens at
    the same schema, every INTERNALDATE is the one it showed (and its
    UTC day is what SEARCH judges, as before); a message APPENDed after
    the upgrade keeps its zone, a COPY of an old one stays +0000."""
    gen = fixtures._generator()
    with fixtures._extracted(ZONELESS, "tern-zoneless-") as (tmp, want, servers):
        s = Server(data_dir=os.path.join(tmp, "data"), domains=(), imap=True)
        servers.append(s)
        for addr, pw in want["accounts"]:
            assert gen.state(s.imaps_port, addr, pw) == want["state"][addr], addr
        r = Raw(s)
        r.login(*want["accounts"][0])
        cmd(r, "x", 'SELECT "%s"' % OLD_BOX)
        assert intdates(r, "f") == [OLD_DATE]
        assert search(r, "o1", "ON 15-Nov-2023") == [1]
        append(r, "p", '"%s"' % OLD_BOX, "14-Nov-2023 16:13:20 -0800", 1)
        cmd(r, "k", 'COPY 1 "%s"' % OLD_BOX)
        assert intdates(r, "g") == [OLD_DATE, "14-Nov-2023 16:13:20 -0800", OLD_DATE]
        assert search(r, "o2", "ON 14-Nov-2023") == [2]
        assert search(r, "o3", "ON 15-Nov-2023") == [1, 3]
        cmd(r, "z", "LOGOUT")
        r.close()
