"""The spam filter learns from JMAP as from IMAP (issue 34): Email/set
changing an email's mailboxIds tells the store's Junk hook one lesson
decided from the memberships before and after.

- into Junk: spam;
- a label added while the email stays in Junk: no lesson (the copy into
  the other mailbox is not a move out of Junk);
- Junk dropped while another mailbox stays: ham (no copy happens, only
  the removal);
- out of Junk into Trash only: no lesson.
One server, one account.
"""
import re
import smtplib
import time

from jmapc import Jmap, shared_server

CAT = ("cat@example.test", "cat-password-1")


def msg(n):
    return ("From: seller@remote.test\r\nTo: cat@example.test\r\nSubject: offer %d\r\n"
            "Message-ID: <offer-%d@remote.test>\r\n\r\nCheap watches, offer number %d.\r\n"
            % (n, n, n)).encode()


def lessons(s):
    return re.findall(r"event=learned \S+ email=(\d+) kind=(\w+) what=(\S+)", s.log_text())


def wait_lessons(s, n, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(lessons(s)) >= n:
            return lessons(s)
        time.sleep(0.02)
    raise AssertionError("%d lessons expected: %s" % (n, lessons(s)))


def test_spam_jmap():
    s = shared_server([CAT])
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        for n in (1, 2, 3):
            c.sendmail("seller@remote.test", [CAT[0]], msg(n))
    j = Jmap(s, *CAT)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    role = {m["role"]: m["id"] for m in mb["list"]}
    inbox, junk, archive, trash = role["inbox"], role["junk"], role["archive"], role["trash"]
    deadline = time.time() + 10
    while time.time() < deadline:
        _, q = j.one("Email/query", {"filter": {"inMailbox": inbox}})
        if len(q["ids"]) == 3:
            break
        time.sleep(0.05)
    ids = q["ids"]
    assert len(ids) == 3, q

    def move(eid, boxes):
        _, r = j.one("Email/set", {"update": {eid: {"mailboxIds": {b: True for b in boxes}}}})
        assert eid in r.get("updated", {}), r

    # Into Junk: spam.
    move(ids[0], [junk])
    assert [x[1:] for x in wait_lessons(s, 1)] == [("spam", "trained")], lessons(s)
    # A label added in Junk teaches nothing; a second email into Junk is
    # the marker that the first change's lesson, if any, had its turn.
    move(ids[0], [junk, archive])
    move(ids[1], [junk])
    got = wait_lessons(s, 2)
    assert all(k == "spam" for _, k, _ in got), got
    # Junk dropped, the Archive label stays: ham, the spam lesson taken back.
    move(ids[0], [archive])
    got = wait_lessons(s, 3)
    assert [x[1:] for x in got].count(("ham", "retrained")) == 1, got
    # Out of Junk into Trash only: none; the third email into Junk marks it.
    move(ids[1], [trash])
    move(ids[2], [junk])
    got = wait_lessons(s, 4)
    assert [k for _, k, _ in got].count("ham") == 1 and len(got) == 4, got


DOG = ("dog@example.test", "dog-password-1")


def test_spam_jmap_import():
    """Email/import (and Email/set create, Email/copy: one path) puts a
    new email in its mailboxIds as IMAP APPEND does, and is the same
    lesson: into Junk is spam, whatever other mailboxes it goes to and
    in whichever order mailboxIds names them; elsewhere none."""
    s = shared_server([DOG])
    j = Jmap(s, *DOG)
    _, mb = j.one("Mailbox/get", {"properties": ["role"]})
    role = {m["role"]: m["id"] for m in mb["list"]}
    inbox, junk, archive = role["inbox"], role["junk"], role["archive"]

    def imported(n, boxes):
        st, _, up = j.request("POST", "/jmap/upload/%s/" % j.account, msg(n),
                              {"Content-Type": "message/rfc822"})
        assert st == 201, up
        _, r = j.one("Email/import", {"emails": {"k": {
            "blobId": up["blobId"], "mailboxIds": {b: True for b in boxes}}}})
        assert "k" in (r.get("created") or {}), r
        return r["created"]["k"]["id"]

    def lesson_of(eid, before):
        num = str(int(eid[1:], 16))
        deadline = time.time() + 10
        while time.time() < deadline:
            got = [x[1:] for x in lessons(s)[before:] if x[0] == num]
            if got:
                return got
            time.sleep(0.02)
        return []

    for n, boxes in ((12, [inbox, junk]), (11, [junk]), (13, [junk, archive])):
        before = len(lessons(s))
        eid = imported(n, boxes)
        assert lesson_of(eid, before) == [("spam", "trained")], (boxes, lessons(s))
    # Not into Junk: no lesson; the next import into Junk marks its turn.
    before = len(lessons(s))
    plain = imported(14, [inbox, archive])
    marker = imported(15, [junk])
    assert lesson_of(marker, before) == [("spam", "trained")], lessons(s)
    assert not [x for x in lessons(s)[before:] if x[0] == str(int(plain[1:], 16))], lessons(s)
