"""Client autoconfiguration read as the clients read it: Thunderbird's
clientConfig for the address forms a user may type (plus tag, U-label
domain, capitals, nonsense, 300 octets), Outlook's POX request with the
address laid out on lines and the JSON "Autodiscover v2" lookup that
precedes it, and the Apple profile's identifiers across downloads.
test_http_ops holds the basic shapes of all three."""
import json
import plistlib
import re
import subprocess
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

from harness import Server
from httpc import Api, admin_server

HOST = "mx.example.test"
CONFIG = "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress="
POX_NS = {"r": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
POX_REQ = ('<?xml version="1.0"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/'
           'autodiscover/outlook/requestschema/2006"><Request><EMailAddress>%s</EMailAddress>'
           '<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/'
           'responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>')


def config(s, address, host=None):
    return Api(s, https=False).raw("GET", CONFIG + urllib.parse.quote(address, safe=""),
                                   headers={"Host": host} if host else None)


def pox(s, address):
    st, _, body = Api(s).raw("POST", "/autodiscover/autodiscover.xml",
                             (POX_REQ % address).encode(), {"Content-Type": "text/xml"})
    return st, body


def test_autoconfig_address_forms():
    # TERN_DOMAIN set, as in production: the domain an answer without an
    # address falls back to.
    s, _ = admin_server(imap=True, submission=True, domains=("example.test", "bücher.test"),
                        env={"TERN_DOMAIN": "example.test"},
                        accounts=[("bob@example.test", "bob-password-1")])
    with s:
        # What the user typed goes back as %EMAILADDRESS%: the answer is
        # the domain's, the same for an account and for no account.
        st, _, bob = config(s, "bob@example.test")
        assert st == 200, bob
        for other in ("nobody@example.test", "bob+lists@example.test"):
            st, _, body = config(s, other)
            assert st == 200 and body == bob, (other, st, body)
        names = {x.find("username").text for x in ET.fromstring(bob).iter()
                 if x.tag.endswith("Server")}
        assert names == {"%EMAILADDRESS%"}, names
        # Domains are case-insensitive: the provider is named as served.
        # Before, id and <domain> were "EXAMPLE.TEST" as typed.
        st, _, body = config(s, "Bob@EXAMPLE.Test")
        prov = ET.fromstring(body).find("emailProvider")
        assert st == 200 and prov.get("id") == "example.test", body
        assert prov.find("domain").text == "example.test", body
        # A U-label domain, in UTF-8 or asked at its A-label autoconfig host.
        st, _, body = config(s, "anna@bücher.test")
        assert st == 200 and ET.fromstring(body).find("emailProvider/domain").text == "bücher.test"
        assert Api(s, https=False).raw("GET", "/mail/config-v1.1.xml",
                                       headers={"Host": "autoconfig.xn--bcher-kva.test"})[0] == 200
        # An address given that is no address is refused, not answered
        # with the settings of the primary domain: before, each of these
        # was 200 with example.test's servers, so Thunderbird would have
        # brought the password of "john smith"@elsewhere.test here.
        for bad in ('"john smith"@elsewhere.test', "x" * 300 + "@elsewhere.test",
                    "x" * 300 + "@example.test", "no-at-sign", "a<b@example.test"):
            st, _, body = config(s, bad)
            assert st == 400 and b"clientConfig" not in body, (bad[:40], st, body[:200])
        # Not served: 404, whatever the account part.
        for other in ("bob@elsewhere.test", "bob@example.test@elsewhere.test"):
            st, _, body = config(s, other)
            assert st == 404 and b"clientConfig" not in body, (other, st)


def test_autodiscover_address_forms():
    s = Server(http=True, pop3=True, start=False, env={"TERN_DOMAIN": "example.test"})
    s.env["TERN_LISTEN_POP3S"] = ""
    s.start()
    with s:
        # XML may lay the address out on lines of its own.
        st, body = pox(s, "\n    bob@example.test\n  ")
        assert st == 200, body
        protos = ET.fromstring(body).findall(".//r:Protocol", POX_NS)
        got = {p.find("r:Type", POX_NS).text: (int(p.find("r:Port", POX_NS).text),
                                                 p.find("r:Encryption", POX_NS).text,
                                                 p.find("r:LoginName", POX_NS).text)
               for p in protos}
        # POP3 with STARTTLS only: offered as such (before: no POP3 at all).
        assert got == {"POP3": (s.pop3_port, "TLS", "bob@example.test")}, got
        # An address that is none: 400, not the primary domain's settings
        # with an empty LoginName (before: 200).
        for bad in ('"eve smith"@elsewhere.test', "", "x" * 300 + "@example.test"):
            st, body = pox(s, bad)
            assert st == 400 and b"<Protocol>" not in body, (bad[:40], st, body[:200])
        # Nor is one that is not UTF-8: before, it was copied into
        # LoginName and the answer was not well-formed XML (ParseError).
        st, _, body = Api(s).raw("POST", "/autodiscover/autodiscover.xml",
                                 (POX_REQ % "b\xffob@example.test").encode("latin-1"),
                                 {"Content-Type": "text/xml"})
        assert st == 400 and b"<Protocol>" not in body, (st, body[:200])
        # An entity a DTD declares is not expanded: "&x;" is no address.
        st, _, body = Api(s).raw("POST", "/autodiscover/autodiscover.xml",
                                 b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "bob@example.test">]>'
                                 b'<Autodiscover><Request><EMailAddress>&x;</EMailAddress></Request>'
                                 b'</Autodiscover>', {"Content-Type": "text/xml"})
        assert st == 400 and b"<Protocol>" not in body, (st, body[:200])
        # An ActiveSync client asks the mobilesync schema: Exchange's
        # "provider not available" (601), not Outlook settings it would
        # misread (before: the IMAP/POP3/SMTP document).
        req = (POX_REQ % "bob@example.test").replace(
            "outlook/responseschema/2006a", "mobilesync/responseschema/2006")
        st, _, body = Api(s).raw("POST", "/autodiscover/autodiscover.xml", req.encode(),
                                 {"Content-Type": "text/xml"})
        ns = {"a": "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"}
        assert st == 200 and b"<Protocol>" not in body, body
        assert ET.fromstring(body).find("a:Response/a:Error/a:ErrorCode", ns).text == "601", body
        # A U-label address is UTF-8 and taken as it is.
        st, body = pox(s, "jörg@example.test")
        assert st == 200 and {p.find("r:LoginName", POX_NS).text for p in
                              ET.fromstring(body).findall(".//r:Protocol", POX_NS)} == {"jörg@example.test"}
        # No address asked (a GET at the autodiscover host): the domain's
        # settings and no LoginName rather than an empty one.
        st, _, body = Api(s).raw("GET", "/autodiscover/autodiscover.xml",
                                 headers={"Host": "autodiscover.example.test"})
        assert st == 200, body
        protos = ET.fromstring(body).findall(".//r:Protocol", POX_NS)
        assert protos and all(p.find("r:LoginName", POX_NS) is None for p in protos), body


def test_autodiscover_json_points_at_pox():
    """Outlook first asks autodiscover.json?Protocol=AutodiscoverV1 and
    POSTs to the Url it gets. Before, the path was 404."""
    s = Server(http=True, imap=True)
    with s:
        for path in ("/autodiscover/autodiscover.json", "/AutoDiscover/AutoDiscover.json"):
            st, hd, body = Api(s).raw(
                "GET", path + "?Email=bob%40example.test&Protocol=AutodiscoverV1&RedirectCount=1")
            assert st == 200 and hd["content-type"].startswith("application/json"), (path, st, body)
            doc = json.loads(body)
            assert doc == {"Protocol": "AutodiscoverV1",
                           "Url": "https://%s:%d/autodiscover/autodiscover.xml" % (HOST, s.https_port)}
        url = urllib.parse.urlsplit(doc["Url"])
        st, body = pox(s, "bob@example.test")
        assert st == 200 and url.path == "/autodiscover/autodiscover.xml", body
        # Protocol names are compared without case, as Exchange does.
        assert Api(s).raw("GET", "/autodiscover/autodiscover.json?Email=bob%40example.test"
                                 "&Protocol=autodiscoverv1")[0] == 200
        for query, want in [("Email=bob%40example.test&Protocol=ActiveSync", 400),
                            ("Email=bob%40example.test", 400),
                            ("Email=bob%40elsewhere.test&Protocol=AutodiscoverV1", 404),
                            ("Email=%22a+b%22%40example.test&Protocol=AutodiscoverV1", 400)]:
            st, _, body = Api(s).raw("GET", "/autodiscover/autodiscover.json?" + query)
            assert st == want and b"Url" not in body, (query, st, body)


def test_mobileconfig_identifiers_stable_per_account():
    """iOS replaces an installed profile whose identifiers match; with new
    random ones at each download (before), installing it again added a
    second copy of the account."""
    s, a = admin_server(imap=True, submission=True,
                        accounts=[("bob@example.test", "bob-password-1"),
                                  ("carol@example.test", "Wq7-carol-kept-9z")])
    with s:
        def ids(email):
            st, _, body = a.call("GET", "/accounts/%s/mobileconfig" % email)
            assert st == 200, body
            prof = plistlib.loads(body)
            assert not [k for p in [prof] + prof["PayloadContent"] for k in p if "Password" in k
                        and k != "OutgoingPasswordSameAsIncomingPassword"], prof
            mail = prof["PayloadContent"][0]
            got = (prof["PayloadUUID"], prof["PayloadIdentifier"], mail["PayloadUUID"],
                   mail["PayloadIdentifier"])
            for u in (got[0], got[2]):
                assert str(uuid.UUID(u)).upper() == u, u
            return got
        bob = ids("bob@example.test")
        assert ids("bob@example.test") == bob
        assert bob[0] != bob[2]
        carol = ids("carol@example.test")
        assert not set(bob) & set(carol), (bob, carol)


def test_dns_records_match_the_listeners():
    """The SRV records GET /domains/{d}/dns recommends name the ports tern
    listens on, "." for a service that is off, implicit TLS before
    STARTTLS (RFC 8314 section 5.1), IMAP before POP3 (RFC 6186 section
    3.4); and Outlook's _autodiscover._tcp SRV, which was missing."""
    s, a = admin_server(imap=True, pop3=True, submission=True)
    with s:
        st, _, d = a.call("GET", "/domains/example.test/dns")
        assert st == 200, d
        srv = {r["name"]: r["value"].split() for r in d["records"] if r["type"] == "SRV"}
        ports = {"submissions": s.submissions_port, "submission": s.submission_port,
                 "imaps": s.imaps_port, "imap": s.imap_port, "pop3s": s.pop3s_port,
                 "pop3": s.pop3_port, "jmap": s.https_port, "autodiscover": s.https_port}
        prio = {}
        for name, port in ports.items():
            pr, _, p, target = srv.pop("_%s._tcp.example.test." % name)
            assert (int(p), target) == (port, HOST + "."), (name, p, target)
            prio[name] = int(pr)
        assert srv == {"_sieve._tcp.example.test.": ["0", "0", "0", "."]}, srv  # off here
        assert prio["submissions"] < prio["submission"], prio
        assert prio["imaps"] < prio["imap"] < prio["pop3s"] < prio["pop3"], prio
        cname = {r["name"]: r["value"] for r in d["records"] if r["type"] == "CNAME"}
        # HTTPS is on, but not on port 443, where senders fetch the
        # MTA-STS policy (RFC 8461 section 3.3): no MTA-STS records.
        assert cname == {"autoconfig.example.test.": HOST + ".",
                         "autodiscover.example.test.": HOST + "."}, cname
        assert not [r for r in d["records"] if "mta-sts" in r["name"]], d["records"]


def test_dns_records_for_web_names_only_when_served():
    """The autoconfig and autodiscover CNAMEs are recommended only when
    an HTTP or HTTPS listener answers there, MTA-STS's CNAME and TXT only
    when its policy can be fetched: HTTPS on port 443 (RFC 8461 section
    3.3), or a trusted proxy in front (which ends TLS and says https).
    Before, all of them whatever the listeners (tern domain dns with no
    HTTP listener at all listed autoconfig, autodiscover and mta-sts)."""
    s = Server(imap=True)
    with s:
        def names(**listen):
            env = dict(s.env, TERN_LISTEN_HTTP=listen.get("http", ""),
                       TERN_LISTEN_HTTPS=listen.get("https", ""),
                       TERN_TRUSTED_PROXIES=listen.get("proxies", ""))
            r = subprocess.run([s.binary, "domain", "dns", "example.test"], env=env,
                               capture_output=True, timeout=60)
            assert r.returncode == 0, r
            out = r.stdout.decode()
            assert "_imaps._tcp.example.test." in out, out  # the rest is there
            return [n for n in ("autoconfig.example.test.", "autodiscover.example.test.",
                                "mta-sts.example.test.", "_mta-sts.example.test.")
                    if re.search(r"^%s\s" % re.escape(n), out, re.M)]
        web = ["autoconfig.example.test.", "autodiscover.example.test."]
        sts = ["mta-sts.example.test.", "_mta-sts.example.test."]
        assert names() == [], names()
        assert names(http="127.0.0.1:80") == web
        assert names(https="127.0.0.1:8443") == web
        assert names(https="127.0.0.1:443") == web + sts
        assert names(http="127.0.0.1:80", https="127.0.0.1:443") == web + sts
        assert names(http="127.0.0.1:8080", proxies="192.0.2.0/24") == web + sts


def test_mobileconfig_follows_the_listeners():
    """With IMAP off the profile is a POP3 account on the POP3S port; with
    no mail listener at all, 409 rather than a profile whose port is 0
    (before: EmailTypeIMAP on port 0 in both cases)."""
    s, a = admin_server(pop3=True, submission=True,
                        accounts=[("bob@example.test", "bob-password-1")])
    with s:
        st, _, body = a.call("GET", "/accounts/bob@example.test/mobileconfig")
        assert st == 200, body
        mail = plistlib.loads(body)["PayloadContent"][0]
        assert mail["EmailAccountType"] == "EmailTypePOP", mail
        assert mail["IncomingMailServerPortNumber"] == s.pop3s_port and mail["IncomingMailServerUseSSL"]
        assert mail["OutgoingMailServerPortNumber"] == s.submissions_port
    s, a = admin_server(submission=True, accounts=[("bob@example.test", "bob-password-1")])
    with s:
        st, _, body = a.call("GET", "/accounts/bob@example.test/mobileconfig")
        assert st == 409 and b"plist" not in body, (st, body)
