"""JMAP mail beyond the record (RFC 8621): Email/get's headers and
header:NAME:asForm[:all] properties with exact values from §4.1.2's rules
(Raw, Text, Addresses, GroupedAddresses, MessageIds, Date, URLs) and the
forms a field may not be asked in. One server for the module."""
import smtplib

from jmapc import Jmap, shared_server
from test_imap_search_ext import wait_count

EVE = ("eve@example.test", "eve-password-1")

HDR_MSG = (
    "From: \"Joe Q. Public\" <john.q.public@example.com>\r\n"
    "To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\r\n"
    "Cc: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>\r\n"
    "To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\r\n"
    "Subject: =?UTF-8?Q?Caf=C3=A9?= news\r\n"
    "Date: Fri, 20 Nov 2026 12:00:00 -0500\r\n"
    "Message-ID: <m1@x.test>\r\n"
    "References: <r1@x.test>\r\n <r2@x.test>\r\n"
    "List-Unsubscribe: <mailto:u@l.test>, <https://l.test/u>\r\n"
    "X-Custom:  value one\r\n"
    "X-Custom: =?UTF-8?B?w6k=?=\r\n folded\r\n"
    "\r\nbody\r\n")


def srv():
    return shared_server([EVE])


def deliver(s, user, texts):
    with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as c:
        for t in texts:
            c.sendmail("joe@remote.test", [user], t.encode())
    wait_count(s, len(texts), account=user)


def ids_in_order(j):
    _, q = j.one("Email/query", {"sort": [{"property": "id"}]})
    return q["ids"]


def test_jmap_header_forms():
    s = srv()
    deliver(s, EVE[0], [HDR_MSG])
    j = Jmap(s, *EVE)
    eid = ids_in_order(j)[0]
    props = ["header:Subject:asText", "header:Subject", "header:From:asAddresses",
             "header:to:asGroupedAddresses", "header:To:asAddresses:all",
             "header:Cc:asAddresses", "header:Date:asDate", "sentAt",
             "header:References:asMessageIds", "header:List-Unsubscribe:asURLs",
             "header:X-Custom:all", "header:X-Custom:asText", "header:X-Missing",
             "header:X-Missing:asText:all", "header:Message-ID:asMessageIds"]
    _, g = j.one("Email/get", {"ids": [eid], "properties": props})
    e = g["list"][0]
    mary = [{"name": "Mary Smith", "email": "mary@x.test"},
            {"name": None, "email": "jdoe@example.org"},
            {"name": "Who?", "email": "one@y.test"}]
    group = [{"name": "Ed Jones", "email": "c@a.test"}, {"name": None, "email": "joe@where.test"},
             {"name": "John", "email": "jdoe@one.test"}]
    assert e == {
        "id": eid,
        "header:Subject:asText": "Caf\u00e9 news",
        "header:Subject": " =?UTF-8?Q?Caf=C3=A9?= news",
        "header:From:asAddresses": [{"name": "Joe Q. Public", "email": "john.q.public@example.com"}],
        "header:to:asGroupedAddresses": [{"name": "A Group", "addresses": group}],
        "header:To:asAddresses:all": [mary, group],
        "header:Cc:asAddresses": [{"name": None, "email": "boss@nil.test"},
                                  {"name": "Giant; \"Big\" Box", "email": "sysservices@example.net"}],
        "header:Date:asDate": "2026-11-20T12:00:00-05:00",
        "sentAt": "2026-11-20T12:00:00-05:00",
        "header:References:asMessageIds": ["r1@x.test", "r2@x.test"],
        "header:List-Unsubscribe:asURLs": ["mailto:u@l.test", "https://l.test/u"],
        "header:X-Custom:all": ["  value one", " =?UTF-8?B?w6k=?=\r\n folded"],
        "header:X-Custom:asText": "\u00e9 folded",
        "header:X-Missing": None,
        "header:X-Missing:asText:all": [],
        "header:Message-ID:asMessageIds": ["m1@x.test"],
    }, e
    # Grouped: addresses outside a group gather under name null.
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["header:To:asGroupedAddresses:all"]})
    assert g["list"][0]["header:To:asGroupedAddresses:all"] == [
        [{"name": None, "addresses": mary}], [{"name": "A Group", "addresses": group}]], g
    # headers: every field in order with its raw value (delivery's own
    # trace fields come first).
    _, g = j.one("Email/get", {"ids": [eid], "properties": ["headers"]})
    hs = g["list"][0]["headers"]
    tail = hs[[h["name"] for h in hs].index("From"):]
    assert [h["name"] for h in tail] == ["From", "To", "Cc", "To", "Subject", "Date", "Message-ID",
                                         "References", "List-Unsubscribe", "X-Custom", "X-Custom"], hs
    assert tail[7] == {"name": "References", "value": " <r1@x.test>\r\n <r2@x.test>"}, tail
    # Forms a field does not allow, unknown forms and bad names.
    for bad in ["header:Subject:asAddresses", "header:From:asDate", "header:X:asBogus",
                "header:Received:asText", "header:Date:asURLs", "header:", "header:A B",
                "header:X-Custom:asRaw:some"]:
        name, err = j.one("Email/get", {"ids": [eid], "properties": [bad]})
        assert name == "error" and err["type"] == "invalidArguments", (bad, err)
