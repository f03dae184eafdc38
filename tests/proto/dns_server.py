#!/usr/bin/python3
"""A tiny authoritative DNS server for the queue tests, on loopback.

Run under /usr/bin/python3 (Debian's python3-dnspython). Usage:

    dns_server.py PORT ZONE.json [ADDRESS]

ADDRESS is 127.0.0.1 unless given (::1 for a resolver over IPv6).

ZONE.json maps lowercase names to record sets, e.g.

    {"remote.test": {"MX": [[10, "mx1.remote.test"]], "TXT": ["v=spf1 -all"]},
     "mx1.remote.test": {"A": ["127.0.0.2"], "AAAA": []},
     "nullmx.test": {"MX": [[0, "."]]}}

A listed name without records of the asked type answers NOERROR with no
answer (NODATA); a name not listed answers NXDOMAIN; a name listed as
{"SERVFAIL": true} answers SERVFAIL (a temporary failure, at once), one
listed as {"NXDOMAIN": true} NXDOMAIN, one listed as {"SILENT": true}
gets no answer at all (a server that does not answer), one with "SILENT":
["TXT", ...] none to those types only; a name with "CNAME": "target" is
an alias: asked for another type, the answer holds the CNAME and then
what the target answers (as a recursive resolver gives it), with AD only
when every name of the chain has it; "AD": true in a name's set marks its
answers as DNSSEC-validated (the AD bit), as a validating resolver would. "$negative_ttl": N puts an SOA
with that MINIMUM in negative answers, so they may be cached. "$edns_formerr": true makes it a
server that knows no EDNS: FORMERR without OPT to every query with one.
A TXT record given as a list of strings is that many character-strings,
taken octet for octet as UTF-8 (an empty list: a record of none); given as
one string it is zone-file text ("a\\000b"). A name not listed is looked up as
"PREFIX.*" (any name starting with "PREFIX.") and then "*". The file is re-read
when it changes, so a test can change records while tern runs. Answers on
UDP and TCP; prints "ready" once both sockets listen. A UDP answer larger
than 512 octets (or the query's EDNS payload size) goes out empty with TC
set, as real servers send it (RFC 1035 §4.2.1, RFC 6891 §6.2.5), so the
client must ask again over TCP; each name answered over TCP is appended
to ZONE.json.tcp.
"""
import json
import os
import socket
import socketserver
import sys
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

PORT = int(sys.argv[1])
ZONE_FILE = sys.argv[2]
_zone = {"mtime": None, "data": {}}
_lock = threading.Lock()


def zone():
    with _lock:
        try:
            m = os.stat(ZONE_FILE).st_mtime_ns
        except OSError:
            return _zone["data"]
        if m != _zone["mtime"]:
            with open(ZONE_FILE) as f:
                _zone["data"] = {k.lower().rstrip("."): v for k, v in json.load(f).items()}
            _zone["mtime"] = m
        return _zone["data"]


def answer(wire):
    q = dns.message.from_wire(wire)
    r = dns.message.make_response(q)
    r.flags |= dns.flags.AA
    if not q.question:
        r.set_rcode(dns.rcode.FORMERR)
        return r.to_wire()
    z = zone()
    if z.get("$edns_formerr") and q.edns >= 0:
        # A server from before EDNS (RFC 6891 §7): FORMERR, no OPT.
        r.use_edns(False)
        r.set_rcode(dns.rcode.FORMERR)
        return r.to_wire()
    qq = q.question[0]
    rtype = dns.rdatatype.to_text(qq.rdtype)
    owner, name, ad = qq.name, key_of(qq.name), True
    for _hop in range(8):
        if name not in z:
            # Wildcards: "PREFIX.*" for names starting with PREFIX., then "*".
            key = next((k for k in z if k.endswith(".*") and name.startswith(k[:-1])), None)
            name = key or ("*" if "*" in z else name)
        silent = z.get(name, {}).get("SILENT")
        if silent is True or (isinstance(silent, list) and rtype in silent):
            return None
        if name not in z or z[name].get("NXDOMAIN"):
            r.set_rcode(dns.rcode.NXDOMAIN)
            negative_soa(z, r)
            return r.to_wire()
        if z[name].get("SERVFAIL"):
            r.set_rcode(dns.rcode.SERVFAIL)
            return r.to_wire()
        ad = ad and bool(z[name].get("AD"))
        target = z[name].get("CNAME")
        if isinstance(target, list):  # the record-list form: ["target."]
            target = target[0] if target else None
        if not target or rtype == "CNAME":
            break
        target = target.rstrip(".") + "."
        r.answer.append(dns.rrset.from_text_list(owner, 60, dns.rdataclass.IN, "CNAME", [target]))
        owner = dns.name.from_text(target)
        name = key_of(owner)
    if ad:
        r.flags |= dns.flags.AD  # "validated" (RFC 4035 §3.2.3), for DANE tests
    recs = z[name].get(rtype, [])
    if rtype == "CNAME" and target:
        recs = [target.rstrip(".") + "."]
    rdatas = []
    for rec in recs:
        if rtype == "MX":
            rec = "%d %s" % (rec[0], rec[1] if rec[1].endswith(".") else rec[1] + ".")
        elif rtype == "TXT" and isinstance(rec, list):
            rdatas.append(dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, qq.rdtype,
                                                  [t.encode() for t in rec]))
            continue
        elif rtype == "TXT":
            rec = '"%s"' % rec
        rdatas.append(dns.rdata.from_text(dns.rdataclass.IN, qq.rdtype, rec))
    if rdatas:
        r.answer.append(dns.rrset.from_rdata_list(owner, 60, rdatas))
    else:
        negative_soa(z, r)
    # In the zone file's order (dnspython shuffles a record set by
    # default), so a test can say where a record stands in the answer.
    # max_size: dnspython would hold an answer to an EDNS query to the
    # query's payload size, over TCP too (raising TooBig); the UDP
    # handler truncates instead.
    return r.to_wire(want_shuffle=False, max_size=65535)


def key_of(name):
    """A name as the zone file spells it: its labels' octets as UTF-8 (not
    dnspython's text form, which escapes a space as "\\032"), lowercase."""
    return ".".join(l.decode("utf-8", "replace") for l in name.labels if l).lower()


def negative_soa(z, r):
    """With "$negative_ttl": N in the zone, a negative answer carries an SOA
    whose MINIMUM is N, as real authoritative servers send (RFC 2308), so
    resolvers may cache it; without it, nothing (tests that change records
    mid-run want every answer fresh)."""
    n = z.get("$negative_ttl")
    if n is not None:
        r.authority.append(dns.rrset.from_text(
            "test.", int(n), dns.rdataclass.IN, dns.rdatatype.SOA,
            "ns.test. hostmaster.test. 1 3600 600 86400 %d" % int(n)))


class Udp(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        try:
            out = answer(data)
            if out is None:
                return
            q = dns.message.from_wire(data)
            if len(out) > max(512, q.payload if q.edns >= 0 else 0):
                r = dns.message.make_response(q)
                r.flags |= dns.flags.AA | dns.flags.TC
                out = r.to_wire()
            sock.sendto(out, self.client_address)
        except Exception as e:  # a test server: log and go on
            print("dns_server: %r" % e, file=sys.stderr, flush=True)


class Tcp(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            n = int.from_bytes(self.request.recv(2), "big")
            data = b""
            while len(data) < n:
                chunk = self.request.recv(n - len(data))
                if not chunk:
                    return
                data += chunk
            out = answer(data)
            if out is None:
                return
            q = dns.message.from_wire(data)
            if q.question:
                with _lock, open(ZONE_FILE + ".tcp", "a") as f:
                    f.write(q.question[0].name.to_text().lower().rstrip(".") + "\n")
            self.request.sendall(len(out).to_bytes(2, "big") + out)
        except Exception as e:
            print("dns_server: %r" % e, file=sys.stderr, flush=True)


class UdpServer(socketserver.ThreadingUDPServer):
    allow_reuse_address = True


class TcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    HOST = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    if ":" in HOST:
        UdpServer.address_family = TcpServer.address_family = socket.AF_INET6
    u = UdpServer((HOST, PORT), Udp)
    t = TcpServer((HOST, PORT), Tcp)
    threading.Thread(target=t.serve_forever, daemon=True).start()
    print("ready", flush=True)
    u.serve_forever()
