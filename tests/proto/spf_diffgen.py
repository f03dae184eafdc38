#!/usr/bin/python3
"""Generated, seeded SPF cases for test_check_spf's differential check.

Run under /usr/bin/python3 (Debian's python3-spf and python3-dnspython):

    spf_diffgen.py SEED N ZONE.json PORT OUT.json

Draws N SPF checks: a record per sender domain built from every mechanism
and modifier (ip4/ip6 with prefixes, a, mx, ptr, exists, include, all,
redirect=, exp=, with qualifiers and dual cidr), macros (%{i} %{ir} %{l}
%{l-} %{o} %{d} %{d2} %{d1r} %{h} %{v} %{s}, %% %_ %-, upper case for
escaping), include and redirect chains past the 10-lookup limit, loops,
void lookups, MX and PTR sets past 10 names, malformed and duplicated
records, and an upper-case version tag. Writes the zone to ZONE.json (the
file dns_server.py serves on PORT), asks pyspf (spf.check2 through that
server) for each check, and writes OUT.json: ip, sender, helo, the records
drawn, and pyspf's result and explanation.
"""
import json
import os
import random
import sys
import time

import dns.resolver
import spf

IP4 = ["192.0.2.%d" % n for n in range(1, 9)] + ["198.51.100.7", "203.0.113.200"]
IP6 = ["2001:db8::%x" % n for n in range(1, 5)] + ["2001:db8:1::25"]
MACROS = ["%{i}", "%{ir}", "%{l}", "%{l-}", "%{o}", "%{d}", "%{d2}", "%{d1r}", "%{h}", "%{v}",
          "%{s}", "%{ir}.%{v}", "%{lr-}", "%{o1}", "%%", "%_", "%-", "%{L}", "%{I}"]
# Not %{p}: pyspf counts its PTR lookup as one more void lookup, where RFC
# 7208 §4.6.4 counts terms; tern counts the term's own lookup.


class Gen:
    def __init__(self, rng):
        self.rng = rng
        self.zone = {}
        self.n = 0

    def host(self, want=None, mx=False):
        """A host name with A and AAAA records (some from the client pool).
        An exchanger has both: whether an exchanger's empty address lookup
        counts as void is read two ways (RFC 7208 §4.6.4 limits "terms" whose
        lookups are void: tern counts the mx term's MX lookup only, pyspf
        every lookup)."""
        self.n += 1
        name = "h%d.hosts.test" % self.n
        r = self.rng
        a = r.sample(IP4, r.choice([1, 1, 2] if mx else [0, 1, 1, 2]))
        aaaa = r.sample(IP6, r.choice([1] if mx else [0, 0, 1]))
        if want and ":" in want:
            aaaa.append(want)
        elif want:
            a.append(want)
        self.zone[name] = {"A": a, "AAAA": aaaa}
        return name

    def cidr(self, six=False):
        r = self.rng
        c = ""
        if r.random() < 0.3:
            c += "/" + str(r.choice([24, 29, 30, 32, 0] if r.random() < 0.95 else [33, -1, "x"]))
        if r.random() < 0.2:
            c += "//" + str(r.choice([64, 48, 128] if r.random() < 0.9 else [129, "01"]))
        return c

    def term(self, dom, depth, ip):
        r = self.rng
        q = r.choice(["", "", "", "+", "-", "~", "?"])
        kind = r.choice(["ip4", "ip4", "ip6", "a", "a", "mx", "mx", "ptr", "exists", "include",
                         "include"] if r.random() < 0.97 else ["bad"])
        if kind == "ip4":
            net = r.choice(IP4 + [ip if "." in ip else IP4[0]])
            c = r.choice(["", "", "/24", "/30", "/32", "/31", "/0"] if r.random() < 0.95 else ["/33", "/024"])
            if r.random() < 0.03:
                net = r.choice(["192.0.2", "192.0.2.256", "192.0.2.1/", "::1"])
            return q + "ip4:" + net + c
        if kind == "ip6":
            net = r.choice(IP6 + [ip if ":" in ip else IP6[0]])
            c = r.choice(["", "/64", "/128", "/48", "/0"] if r.random() < 0.95 else ["/129"])
            return q + "ip6:" + net + c
        if kind == "a":
            if r.random() < 0.3:
                self.zone.setdefault(dom, {})["A"] = r.sample(IP4, 2)
                self.zone[dom]["AAAA"] = r.sample(IP6, 1)
                return q + "a" + self.cidr()
            target = r.choice([self.host(ip if r.random() < 0.3 else None),
                               "missing%d.hosts.test" % r.randrange(6),
                               "%{l}.hosts.test", "%{d}", "h1.hosts.test"])
            return q + "a:" + target + self.cidr()
        if kind == "mx":
            n = r.choice([1, 2, 3]) if r.random() < 0.9 else r.choice([0, 10, 11])
            mxd = dom if r.random() < 0.5 else "mx%d.%s" % (self.n, dom)
            self.zone.setdefault(mxd, {})["MX"] = [[10 * k, self.host(ip if r.random() < 0.2 else None, mx=True)]
                                                   for k in range(n)]
            return q + ("mx" if mxd == dom else "mx:" + mxd) + self.cidr()
        if kind == "ptr":
            return q + "ptr" + r.choice(["", "", ":hosts.test", ":%{d}", ":other.test"])
        if kind == "exists":
            m = r.choice(MACROS)
            name = "%s.list.%s" % (m, dom)
            return q + "exists:" + name
        if kind == "include":
            if depth > 3:
                return q + "include:" + r.choice([dom, "loop.test", "nothing.test"])
            sub = "i%d.%s" % (self.n, dom)
            self.n += 1
            self.record(sub, depth + 1, ip)
            return q + "include:" + sub
        return r.choice(["foo:bar", "ip4", "a:", "include", "mx:-", "all:x", "exists", "+-all",
                         "ptr:", "ip6:::1/", "a//", "redirect", "=x", "v=spf1"])

    def record(self, dom, depth, ip):
        r = self.rng
        n = r.choice([0, 1, 2, 3, 4, 5])
        terms = [self.term(dom, depth, ip) for _ in range(n)]
        if r.random() < 0.7:
            terms.append(r.choice(["-all", "~all", "?all", "+all", "all", "-all", "-ALL"]))
        elif r.random() < 0.6:
            target = r.choice(["r%d.redirect.test" % self.n, dom, "nothing.test", "%{d2}"])
            if target.startswith("r"):
                self.n += 1
                self.record(target, depth + 1, ip)
            terms.append("redirect=" + target)
        if r.random() < 0.3:
            why = "why%d.%s" % (self.n, dom)
            self.n += 1
            # Not %{t}: the time differs between the two runs. Not %{p}:
            # pyspf counts its PTR lookup as void (§4.6.4 leaves exp= out).
            text = " ".join(r.sample(MACROS + ["%{c}", "%{r}", "%{t}", "not", "allowed"], 3))
            text = text.replace("%{t}", "").replace("%{p}", "%{v}")
            if text.endswith("%%"):  # pyspf refuses a final %% (RFC 7208 §7.1 allows it)
                text += " end"
            self.zone[why] = {"TXT": [text]}
            terms.append("exp=" + r.choice([why, why, "nothing.test", "%{d}"]))
        if r.random() < 0.04:
            terms.append("unknown-mod=%{d}")
        if r.random() < 0.03:
            terms.append("redirect=a.test redirect=b.test")
        rr = " ".join(["v=spf1"] + terms)
        if r.random() < 0.05:
            rr = rr.replace("v=spf1", "V=SPF1")
        recs = [rr]
        if r.random() < 0.04:
            recs.append("v=spf1 -all")
        if r.random() < 0.1:
            recs.append("not spf at all")
        if r.random() < 0.03:
            recs = ["v=spf10 -all"]
        self.zone.setdefault(dom, {})["TXT"] = recs

    def fixed(self):
        z = self.zone
        z["loop.test"] = {"TXT": ["v=spf1 include:loop.test -all"]}
        # A chain of 12 includes: the 11th lookup is a permerror (§4.6.4).
        for k in range(12):
            z["c%d.chain.test" % k] = {"TXT": ["v=spf1 include:c%d.chain.test -all" % (k + 1)]}
        z["c12.chain.test"] = {"TXT": ["v=spf1 +all"]}
        for k in range(4):  # three void lookups
            z["v.voids%d.test" % k] = {"TXT": ["v=spf1 " + " ".join(
                "a:void%d.voids.test" % j for j in range(k)) + " ip4:192.0.2.0/24 -all"]}
        # Names only the PTR of a pool address gives: two for 192.0.2.3, one
        # of them valid; eleven for 192.0.2.4.
        z["3.2.0.192.in-addr.arpa"] = {"PTR": ["mail.hosts.test.", "fake.other.test."]}
        z["mail.hosts.test"] = {"A": ["192.0.2.3"]}
        z["fake.other.test"] = {"A": ["192.0.2.99"]}
        z["4.2.0.192.in-addr.arpa"] = {"PTR": ["p%d.hosts.test." % k for k in range(11)]}
        for k in range(11):
            z["p%d.hosts.test" % k] = {"A": ["192.0.2.4"]}
        z["1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"] = {
            "PTR": ["six.hosts.test."]}
        z["six.hosts.test"] = {"AAAA": ["2001:db8::1"]}
        z["servfail.test"] = {"SERVFAIL": True}
        # A target past 253 octets after expansion, cut from the left (§7.3).
        long_name = ".".join([LONG] * 4) + ".t.long.test"
        while len(long_name) > 253:
            long_name = long_name.split(".", 1)[1]
        z["long.test"] = {"TXT": ["v=spf1 exists:%{l}.%{l}.%{l}.%{l}.t.long.test -all"]}
        z[long_name] = {"A": ["127.0.0.2"]}
        z["tab.test"] = {"TXT": ["v=spf1\tip4:192.0.2.1 -all"]}  # not "v=spf1" SP: no record
        z["spaces.test"] = {"TXT": ["v=spf1  ip4:192.0.2.1   -all "]}
        z["mixed.test"] = {"TXT": ["v=spf1 IP4:192.0.2.9 A:Mixed.Test -ALL"], "A": ["192.0.2.2"]}
        z["exp2.test"] = {"TXT": ["v=spf1 -all exp=why.exp2.test"]}
        z["why.exp2.test"] = {"TXT": ["one", "two"]}  # two explanations: none (§6.2)
        z["nullmx.test"] = {"TXT": ["v=spf1 mx -all"], "MX": [[0, "."]]}
        z["zero.test"] = {"TXT": ["v=spf1 a:zero.test/0 -all"], "A": ["10.0.0.1"]}


LONG = "a" * 60
FIXED = [("192.0.2.9", LONG + "@long.test")] + [
    (ip, "x@%s.test" % d) for d in ("tab", "spaces", "mixed", "exp2", "nullmx", "zero")
    for ip in ("192.0.2.1", "192.0.2.2")]


def main():
    seed, n, zone_path, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), \
        sys.argv[5]
    rng = random.Random(seed)
    g = Gen(rng)
    g.fixed()
    cases = []
    for c in range(n):
        ip = rng.choice(IP4 + IP4 + IP6 + ["::ffff:192.0.2.1"])
        local = rng.choice(["ann", "Bob.Smith", "x-y+z", "postmaster", "a.b-c"])
        special = ["loop.test", "c0.chain.test", "c2.chain.test", "servfail.test",
                   "nothing.test"] + ["v.voids%d.test" % k for k in range(4)]
        if c < len(special):  # each once, then now and then
            dom = special[c]
        elif rng.random() < 0.05:
            dom = rng.choice(special)
        else:
            dom = "d%d.Test" % c if rng.random() < 0.1 else "d%d.test" % c
            g.record(dom.lower(), 0, ip)
            if rng.random() < 0.05:
                g.zone[dom.lower()]["TXT"].append(
                    "v=spf1 include:servfail.test -all" if rng.random() < 0.5 else "v=spf1 +all")
        helo = rng.choice(["client.example.net", "mail.hosts.test", dom])
        sender = "%s@%s" % (local, dom) if rng.random() < 0.95 else ""
        cases.append({"ip": ip, "sender": sender, "helo": helo})
    cases += [{"ip": ip, "sender": sender, "helo": "client.example.net"} for ip, sender in FIXED]
    tmp = zone_path + ".new"
    with open(tmp, "w") as f:
        json.dump(g.zone, f)
    os.replace(tmp, zone_path)
    t = time.time() + 1
    os.utime(zone_path, (t, t))

    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = port
    dns.resolver.default_resolver = res
    for c in cases:
        sender = c["sender"] or "postmaster@" + c["helo"]
        c["pyspf"] = list(spf.check2(i=c["ip"], s=sender, h=c["helo"], receiver="mx.tern.test",
                                     querytime=0, timeout=5))
        dom = sender.split("@")[1].lower()
        c["records"] = {k: v for k, v in g.zone.items() if k == dom or k.endswith("." + dom)}
    with open(out, "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main()
