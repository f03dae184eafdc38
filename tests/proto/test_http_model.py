"""The admin REST API and the CLI under random steps, checked against a model.

One server; for each seed (named in every failure, with the last steps)
the domains, accounts, aliases, catch-alls and tokens go back to a
baseline, then 300 random steps run: domains, accounts (password, quota,
disabled), password changes, aliases with local and outside targets (an
outside target is forwarded, README "Forwarding"), catch-alls, API
tokens, and bad input of every kind API.md names: malformed or non-UTF-8
JSON, wrong types, missing and unknown fields, bad and over-long names,
duplicates, unknown names and ids, a wrong Content-Type, an oversized body,
no credentials, no CSRF header. Bad input must get the documented status,
code and problem shape and change nothing. About one change in four goes
through `tern domain|account|alias|token` while the server runs: the API
and the CLI must see one store. Requests go mostly over plain HTTP with a
bearer token (loopback), some over HTTPS, some with the UI's session.

After every step the API's lists (domains with their counts, accounts with
their aliases, aliases and catch-alls) must equal the model; every 10 steps
the tokens, /stats and single GETs too, every 50 the CLI's lists. Every 25
steps inbound SMTP must agree: RCPT TO an account, an alias, a
plus-address, an unknown user with and without a catch-all, a domain that
is not ours, resolved as store_resolve.c documents. Halfway, accounts log in
(IMAP LOGIN or AUTHENTICATE PLAIN over IMAPS, AUTH PLAIN on submissions),
which fills the verified-login cache; at the end current passwords must
work and old ones (changed after such a login, or of a deleted account)
must not, nor a disabled account's. A refused login costs a 1 s delay, so
a round runs its logins at once, each from its own loopback address
(failures are counted per address).

It found that a domain's "aliases" count counted targets, not aliases, and
that password and token-name limits counted octets, not characters
(test_documented_lengths_and_alias_count).
"""
import base64
import collections
import imaplib
import json
import random
import re
import smtplib
import socket
import threading
import urllib.parse

from harness import SANITIZED, Raw, Server
from httpc import Api, tls_ctx

ADMIN_PW = "model-admin-password-Vq8r"
PRIMARY = "example.test"  # TERN_DOMAIN: the primary domain
# Domains the steps add and delete (sub.d1.test's names end in "d1.test" but
# are not d1.test's; bücher.test is UTF-8).
DOMAINS = [PRIMARY, "d1.test", "sub.d1.test", "d2.test", "b\u00fccher.test"]
FOREIGN = ["remote.test", "gmail.test"]  # never local
LOCALS = ["bob", "carol", "dave", "info", "x.y", "a-b", "u_1", "sales+eu", "j\u00f6rg",
          "postmaster"]
BAD_DOMAINS = ["bad domain!", "-lead.test", "trail-.test", "a..b.test", ".dot.test",
               "dot.test.", "under_score.test", "x@y.test", "", "a b.test",
               "l" * 64 + ".test",                             # a label over 63
               ".".join(["abcdefghi"] * 25) + ".test"]         # 254 octets in all
BAD_LOCALS = ["a b", ".lead", "trail.", "two..dots", 'quo"te', "semi;colon", "l" * 65,
              "angle<", "at@sign"]
# Under the sanitized build one seed: it looks for memory errors on the
# same paths, at twice the cost a step.
SEEDS = (11,) if SANITIZED else (11, 12, 13)
# API.md's stable error codes.
DOC_CODES = ("bad_json", "invalid_field", "unknown_field", "missing_field", "too_large",
             "unauthorized", "csrf", "setup_code", "forbidden", "not_found", "exists", "in_use",
             "locked", "rate_limited", "method", "temporary", "setup_done", "invalid_script",
             "active", "limit")
STEPS = 300
BAD_TOKEN_SOURCE = "127.0.0.77"


def lower(s):
    """Names are lowercased in ASCII only (store_names.c: no Unicode folding)."""
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s)


def mixcase(rnd, s):
    return "".join(c.upper() if c.isascii() and rnd.random() < 0.3 else c for c in s)


def domain_of(addr):
    return addr.rsplit("@", 1)[1]


def seg(rnd, name):
    """A path segment: percent-encoded, '@' and '+' sometimes left as they are."""
    return urllib.parse.quote(name, safe=rnd.choice(["", "@", "@+"]))


def short(v, n=160):
    s = v if isinstance(v, str) else repr(v)
    return s if len(s) <= n else s[:n] + "..."


class SourcedIMAP(imaplib.IMAP4_SSL):
    """IMAPS from a chosen loopback address (failed logins count per address)."""

    def __init__(self, source, *args, **kw):
        self.source = source
        super().__init__(*args, **kw)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.source, 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


class Model:
    """What the store holds, per API.md and README."""

    def __init__(self):
        self.domains = {PRIMARY}
        self.accounts = {}   # email -> {"pw", "quota", "disabled"}
        self.aliases = {}    # alias ("@d" for a catch-all) -> set of targets
        self.tokens = {}     # id -> name
        self.old_pw = []     # (email, password) that no longer log in
        self.logged_in = set()  # accounts that logged in (the verified-login cache has them)

    # ---- what the API must answer ----
    def account_obj(self, email):
        a = self.accounts[email]
        return {"email": email, "quota": a["quota"], "used": 0, "emails": 0,
                "disabled": a["disabled"],
                "state": "cannot_sign_in" if a["disabled"] else "active", "display_name": "",
                "aliases": sorted(al for al, ts in self.aliases.items() if email in ts)}

    def alias_obj(self, alias):
        return {"alias": alias, "targets": sorted(self.aliases[alias]),
                "catch_all": alias.startswith("@")}

    def domain_obj(self, d):
        return {"name": d, "primary": d == PRIMARY,
                "accounts": sum(1 for e in self.accounts if domain_of(e) == d),
                # API.md: the number of aliases of the domain, as GET /aliases
                # lists them (one object per alias, however many targets).
                "aliases": sum(1 for al in self.aliases if domain_of(al) == d)}

    def login_ok(self, email, pw):
        a = self.accounts.get(lower(email))
        return a is not None and not a["disabled"] and a["pw"] == pw

    # ---- changes ----
    def set_pw(self, email, pw):
        a = self.accounts[email]
        self.old_pw.append((email, a["pw"]))
        a["pw"] = pw

    def del_account(self, email):
        self.old_pw.append((email, self.accounts.pop(email)["pw"]))

    def del_domain(self, d):
        # The store deletes the domain's aliases (and catch-all) with it;
        # aliases elsewhere that point into it stay (they resolve again if
        # the domain comes back).
        self.domains.discard(d)
        for al in [al for al in self.aliases if domain_of(al) == d]:
            del self.aliases[al]

    # ---- inbound SMTP (store_resolve.c) ----
    def rcpt(self, address):
        """250, 550, 554 (or 451: postmaster with no account) for RCPT TO:<address> on port 25."""
        addr = lower(address)
        at = addr.rfind("@")
        if addr[at + 1:] not in self.domains:
            return 554
        found, forwards, path = set(), set(), []

        def account(a):
            if a in self.accounts:
                found.add(a)
                return True
            return False

        def alias(a):
            if a not in self.aliases:
                return False
            if len(path) >= 8:
                return True
            path.append(a)
            for t in sorted(self.aliases[a]):
                target(t)
            path.pop()
            return True

        def target(t):
            if domain_of(t) not in self.domains:
                forwards.add(t)  # forwarded outside: the RCPT is accepted
                return
            if t in path:
                account(t)
            elif not alias(t):
                account(t)

        if not (alias(addr) or account(addr)):
            plus = addr.find("+", 0, at)
            stripped = addr[:plus] + addr[at:] if plus > 0 else None
            if not (stripped and (alias(stripped) or account(stripped))):
                alias(addr[at:])
        if not found and not forwards and addr[:at] == "postmaster":
            # RFC 5321 §4.5.1: always accepted, for the administrator's
            # account (or the oldest); with no account at all, later.
            return 250 if self.accounts else 451
        return 250 if found or forwards else 550


class Run:
    def __init__(self, s, main_token, main_id, seed):
        self.s, self.seed, self.main_id = s, seed, main_id
        self.secrets = {}  # token id -> token, for those the run made
        self.rnd = random.Random(seed)
        self.m = Model()
        self.m.tokens[main_id] = "model main"
        self.trace = []
        self.step_no = 0
        self.pw_n = 0
        self.ip_n = 0
        self.seen = collections.Counter()   # what the run covered, printed at its end
        self.plain = Api(s, https=False)      # bearer token over plain HTTP from loopback
        self.plain.token = main_token
        self.https = Api(s)                   # bearer token over HTTPS
        self.https.token = main_token
        self.sess = Api(s)                    # the UI's way: session cookie + CSRF
        st, _, body = self.sess.login(ADMIN_PW)
        assert st == 200, body

    # ---- plumbing ----
    def note(self, text):
        self.trace.append("step %d: %s" % (self.step_no, text))
        del self.trace[:-30]

    def fail(self, why):
        raise AssertionError("seed %d step %d: %s\nlast steps:\n  %s" % (
            self.seed, self.step_no, why, "\n  ".join(self.trace)))

    def check(self, cond, why):
        if not cond:
            self.fail(why)

    def call(self, method, path, body=None, raw=None, ctype=None, via=None):
        """One API request over a random channel; (status, headers, JSON or bytes)."""
        if via is None:
            r = self.rnd.random()
            via = "session" if r < 0.06 else "https" if r < 0.09 else "plain"
        client = {"plain": self.plain, "https": self.https, "session": self.sess}[via]
        data = raw
        if data is None and body is not None:
            # Sometimes raw UTF-8 rather than \u escapes.
            data = json.dumps(body, ensure_ascii=self.rnd.random() < 0.5).encode()
        st, hd, out = client.call(method, path, data, ctype=ctype)
        what = re.sub(r"^/(\w+)/[^/?]+", r"/\1/X", path.split("?")[0])
        self.seen["%s %s %d" % (method, what, st)] += 1
        self.note("%s %s %s %s -> %d %s" % (via, method, path, short(data or b""), st, short(out)))
        return st, hd, out

    def bad_token(self, res):
        """A wrong bearer token: 401, and once this address has had ten,
        429 without a look (auth/login_limit.h; valid tokens still work)."""
        # Counted on the server object: the seeds share one server.
        self.s.bad_tokens = getattr(self.s, "bad_tokens", 0) + 1
        if self.s.bad_tokens <= 10:
            self.problem(res, 401, "unauthorized")
        else:
            self.problem(res, 429, "rate_limited")

    def problem(self, res, status, code, field=None, no_field=False, detail=None):
        """res is an RFC 9457 problem with this status and code (and field)."""
        st, hd, p = res
        self.check(st == status, "expected %d %s, got %d %r" % (status, code, st, p))
        self.check(hd.get("content-type") == "application/problem+json",
                   "problem Content-Type %r" % hd.get("content-type"))
        self.check(isinstance(p, dict) and p.get("type") == "about:blank" and p.get("status") == st
                   and isinstance(p.get("title"), str) and p["title"]
                   and isinstance(p.get("detail"), str), "problem shape %r" % (p,))
        if isinstance(code, tuple):
            self.check(p.get("code") in code, "code %r, expected one of %r" % (p.get("code"), code))
        else:
            self.check(p.get("code") == code, "code %r, expected %r: %r" % (p.get("code"), code, p))
        if field is not None:
            self.check(p.get("field") == field, "field %r, expected %r: %r" % (p.get("field"), field, p))
        if no_field:
            self.check("field" not in p, "a field on a non-field error: %r" % (p,))
        if detail:
            self.check(detail in p["detail"], "detail %r lacks %r" % (p["detail"], detail))

    def cli(self, *args, input=None):
        r = self.s.cli(*args, input=input, check=False)
        self.seen["tern %s %s %s" % (args[0], args[1], "ok" if r.returncode == 0 else "refused")] += 1
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        self.note("cli tern %s -> %d %s" % (" ".join(args), r.returncode, short(out.strip())))
        return r.returncode, out

    def cli_expect(self, ok, *args, input=None, says=None):
        rc, out = self.cli(*args, input=input)
        if ok:
            self.check(rc == 0, "tern %s failed (%d): %s" % (" ".join(args), rc, out))
        else:
            self.check(rc == 1, "tern %s: exit %d, expected 1: %s" % (" ".join(args), rc, out))
            self.check(says is None or says in out, "tern %s: %r lacks %r" % (" ".join(args), out, says))
        return out

    def password(self):
        """A password never used before, valid whether "8..256 characters"
        counts characters or octets (test_documented_lengths_and_alias_count
        has the cases where the two differ)."""
        self.pw_n += 1
        r = self.rnd.random()
        base = "pw%d-%d-" % (self.seed, self.pw_n)
        if r < 0.05:
            # 8, the shortest; one of each class twice, so the strength
            # rule (score 3 of 4) takes it.
            return "".join(self.rnd.choice(c) for c in ("ABCDEFGHJKLMNPQRSTUVWXYZ",
                           "abcdefghijkmnpqrstuvwxyz", "23456789", "#!%+=?@*") * 2)
        if r < 0.1:
            return base + "y" * (256 - len(base))  # 256, the longest
        if r < 0.35:
            return base + self.rnd.choice(["caf\u00e9 \u00fcber", "stra\u00dfe", "\u65e5\u672c\u8a9e",
                                           'q"uote\\back'])
        return base + "".join(self.rnd.choice("abcdefghijkmnpqrstuvwxyz23456789-. ")
                              for _ in range(self.rnd.randint(4, 30)))

    def some_domain(self, local_bias=0.85):
        local = sorted(self.m.domains)
        if local and self.rnd.random() < local_bias:
            return self.rnd.choice(local)
        return self.rnd.choice(DOMAINS + FOREIGN)

    def some_address(self):
        return "%s@%s" % (self.rnd.choice(LOCALS), self.some_domain())

    def new_address(self, domain=None):
        """A valid address of a local domain that is no account yet (None if none)."""
        doms = [domain] if domain else sorted(self.m.domains)
        free = ["%s@%s" % (l, d) for d in doms for l in LOCALS if "%s@%s" % (l, d) not in self.m.accounts]
        return self.rnd.choice(free) if free else None

    # ---- comparing with the model ----
    def get(self, path):
        st, _, out = self.plain.call("GET", path)
        self.check(st == 200, "GET %s: %d %r" % (path, st, out))
        return out

    def check_domain_obj(self, got, want, where):
        self.check(isinstance(got.get("dkim"), list) and len(got["dkim"]) == 2 and all(
            re.fullmatch(r"tern-(rsa|ed)-\d{6}", k) for k in got["dkim"]),
                   "%s: dkim %r" % (where, got.get("dkim")))
        g = {k: v for k, v in got.items() if k not in ("dkim", "aliases")}
        w = {k: v for k, v in want.items() if k != "aliases"}
        self.check(g == w, "%s: domain %r, model %r" % (where, got, want))
        self.check(got.get("aliases") == want["aliases"],
                  "%s: domain %s counts %r aliases; it has %d (%s): GET /aliases lists one "
                  "object per alias" % (where, want["name"], got.get("aliases"), want["aliases"],
                                        sorted(al for al in self.m.aliases
                                               if domain_of(al) == want["name"])))

    def check_account_obj(self, got, email, where):
        want = self.m.account_obj(email)
        got = dict(got)
        if isinstance(got.get("aliases"), list):
            got["aliases"] = sorted(got["aliases"])
        self.check(got == want, "%s: account %r, model %r" % (where, got, want))

    def check_alias_obj(self, got, alias, where):
        got = dict(got)
        if isinstance(got.get("targets"), list):
            got["targets"] = sorted(got["targets"])
        want = self.m.alias_obj(alias)
        self.check(got == want, "%s: alias %r, model %r" % (where, got, want))

    def compare(self):
        doms = self.get("/domains")["domains"]
        names = [d["name"] for d in doms]
        self.check(sorted(names) == sorted(self.m.domains) and len(set(names)) == len(names),
                   "domains %r, model %r" % (names, sorted(self.m.domains)))
        for d in doms:
            self.check_domain_obj(d, self.m.domain_obj(d["name"]), "GET /domains")
        accts = self.get("/accounts")["accounts"]
        emails = [a["email"] for a in accts]
        self.check(sorted(emails) == sorted(self.m.accounts) and len(set(emails)) == len(emails),
                   "accounts %r, model %r" % (emails, sorted(self.m.accounts)))
        for a in accts:
            self.check_account_obj(a, a["email"], "GET /accounts")
        als = self.get("/aliases")["aliases"]
        anames = [a["alias"] for a in als]
        self.check(sorted(anames) == sorted(self.m.aliases) and len(set(anames)) == len(anames),
                   "aliases %r, model %r" % (anames, sorted(self.m.aliases)))
        for a in als:
            self.check_alias_obj(a, a["alias"], "GET /aliases")

    def compare_more(self):
        """Tokens, /stats counts, GET of single objects (present and absent)."""
        toks = self.get("/tokens")["tokens"]
        got = {t["id"]: t["name"] for t in toks}
        self.check(got == self.m.tokens and len(toks) == len(got),
                   "tokens %r, model %r" % (toks, self.m.tokens))
        self.check(all(set(t) == {"id", "name", "created", "scope", "expires"} for t in toks),
                   "token fields %r" % toks)
        stats = self.get("/stats")
        self.check(stats["accounts"] == len(self.m.accounts) and stats["domains"] == len(self.m.domains),
                   "stats %r, model %d accounts %d domains" % (stats, len(self.m.accounts),
                                                                len(self.m.domains)))
        for d in DOMAINS:
            res = self.call("GET", "/domains/" + seg(self.rnd, mixcase(self.rnd, d)), via="plain")
            if d in self.m.domains:
                self.check(res[0] == 200, "GET domain %s: %r" % (d, res[2]))
                self.check_domain_obj(res[2], self.m.domain_obj(d), "GET /domains/" + d)
            else:
                self.problem(res, 404, "not_found")
        for _ in range(3):
            e = self.pick_account(0.5) if self.m.accounts else self.some_address()
            res = self.call("GET", "/accounts/" + seg(self.rnd, mixcase(self.rnd, e)), via="plain")
            if e in self.m.accounts:
                self.check(res[0] == 200, "GET account %s: %r" % (e, res[2]))
                self.check_account_obj(res[2], e, "GET /accounts/" + e)
            else:
                self.problem(res, 404, "not_found")

    def compare_cli(self):
        """The CLI reads the same store: its lists equal the model."""
        rc, out = self.cli("domain", "list")
        self.check(rc == 0 and sorted(out.split()) == sorted(self.m.domains),
                   "tern domain list %r, model %r" % (out, sorted(self.m.domains)))
        rc, out = self.cli("account", "list")
        got = {}
        for line in out.splitlines():
            m = re.fullmatch(r"(\S+)\s+emails=0 used=0 quota=(\d+|unlimited) state=(active|cannot_sign_in)", line)
            self.check(m, "tern account list line %r" % line)
            got[m.group(1)] = 0 if m.group(2) == "unlimited" else int(m.group(2))
        want = {e: a["quota"] for e, a in self.m.accounts.items()}
        self.check(rc == 0 and got == want, "tern account list %r, model %r" % (got, want))
        rc, out = self.cli("alias", "list")
        pairs = sorted(tuple(line.split(" -> ")) for line in out.splitlines())
        want = sorted((al, t) for al, ts in self.m.aliases.items() for t in ts)
        self.check(rc == 0 and pairs == want, "tern alias list %r, model %r" % (pairs, want))
        rc, out = self.cli("token", "list")
        ids = sorted(line.split("\t")[0] for line in out.splitlines())
        self.check(rc == 0 and ids == sorted(self.m.tokens), "tern token list %r, model %r" % (
            out, self.m.tokens))

    # ---- the mail side ----
    def smtp_check(self):
        """RCPT TO on port 25 gives what the model resolves: 250, 550 5.1.1, 554 5.7.1."""
        probes = set()
        for e in self.rnd.sample(sorted(self.m.accounts), min(8, len(self.m.accounts))):
            probes.add(mixcase(self.rnd, e))
            local, d = e.rsplit("@", 1)
            probes.add("%s+tag%d@%s" % (local, self.rnd.randint(0, 99), d))
        for al in self.rnd.sample(sorted(self.m.aliases), min(8, len(self.m.aliases))):
            if not al.startswith("@"):
                probes.add(al)
                local, d = al.rsplit("@", 1)
                probes.add("%s+x@%s" % (local, d))
        for d in DOMAINS + FOREIGN:
            probes.add("nobody%d@%s" % (self.rnd.randint(0, 999), d))
            probes.add("%s@%s" % (self.rnd.choice(LOCALS), d))
            probes.add("%s+%s@%s" % (self.rnd.choice(LOCALS), self.rnd.choice(LOCALS), d))
        c = Raw(self.s.smtp_port, timeout=30)
        try:
            self.check(c.greeting[0] == 220, "greeting %r" % (c.greeting,))
            self.check(c.cmd("EHLO model.test")[0] == 250, "EHLO")
            # One transaction a probe: an account that may not have room
            # for the message (a small quota) does not share a transaction
            # with another account (452 4.5.3, smtp_quota.c), which is not
            # what this model checks: how an address resolves.
            for addr in sorted(probes):
                want = self.m.rcpt(addr)
                self.check(c.cmd("MAIL FROM:<probe@remote.test> SMTPUTF8")[0] == 250, "MAIL")
                code, lines = c.cmd("RCPT TO:<%s>" % addr)
                self.note("RCPT TO:<%s> -> %s (model %d)" % (addr, lines[-1], want))
                self.check(code == want, "RCPT TO:<%s>: %r, model says %d" % (addr, lines, want))
                enh = {250: "2.1.5", 550: "5.1.1", 554: "5.7.1", 451: "4.3.0"}[want]
                self.check(lines[-1][4:].startswith(enh), "RCPT TO:<%s>: %r, expected %s" % (
                    addr, lines, enh))
                self.seen["RCPT %d" % code] += 1
                self.check(c.cmd("RSET")[0] == 250, "RSET")
            c.cmd("QUIT")
        finally:
            c.close()

    def login(self, email, pw, how, source):
        """True when the server lets email in with pw (False on a refusal)."""
        if how == "smtp":
            c = smtplib.SMTP_SSL("127.0.0.1", self.s.submissions_port, timeout=30,
                                 context=tls_ctx(), source_address=(source, 0))
            try:
                c.ehlo("model.test")
                cred = base64.b64encode(("\0%s\0%s" % (email, pw)).encode()).decode()
                code, text = c.docmd("AUTH", "PLAIN " + cred)
                if code not in (235, 535):
                    raise AssertionError("AUTH PLAIN %s: %d %r" % (email, code, text))
                return code == 235
            finally:
                c.close()
        m = SourcedIMAP(source, "127.0.0.1", self.s.imaps_port, ssl_context=tls_ctx(), timeout=30)
        try:
            if how == "imap-login":
                m.login(email, pw)
            else:
                m.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (email, pw)).encode())
            m.logout()
            return True
        except imaplib.IMAP4.error as e:
            if "AUTHENTICATIONFAILED" not in str(e):
                raise AssertionError("IMAP %s %s: %s" % (how, email, e))
            return False

    def login_round(self, refusals=True):
        """Logins agree with the model: current passwords work, old ones, a
        disabled account's and a deleted account's do not. Without refusals
        (each costs a 1 s delay) only logins that must succeed, which also
        fill the verified-login cache that a later old password must not
        get through."""
        checks = []
        old = [(e, p) for e, p in self.m.old_pw if not self.m.login_ok(e, p)]
        # Old passwords of accounts that logged in before first: the
        # verified-login cache must not let them in.
        self.rnd.shuffle(old)
        old.sort(key=lambda ep: ep[0] not in self.m.logged_in)
        accts = sorted(self.m.accounts)
        self.rnd.shuffle(accts)
        disabled = [e for e in accts if self.m.accounts[e]["disabled"]]
        enabled = [e for e in accts if not self.m.accounts[e]["disabled"]]
        if refusals:
            checks += old[:4]
            self.m.old_pw = [ep for ep in self.m.old_pw if ep not in checks]
            checks += [(e, self.m.accounts[e]["pw"]) for e in disabled[:1]]
        checks += [(e, self.m.accounts[e]["pw"]) for e in enabled[:4 if refusals else 6]]
        if not checks:
            return
        results, errors = {}, []

        def one(i, email, pw):
            try:
                ascii_only = (email + pw).isascii()
                how = self.rnd_login[i % len(self.rnd_login)] if ascii_only else (
                    "imap-plain" if i % 2 else "smtp")
                results[i] = (how, self.login(mixcase(random.Random(i), email) if email.isascii() else email,
                                              pw, how, self.sources[i]))
            except Exception as e:  # reported below with the seed
                errors.append("%s %s: %r" % (email, pw, e))

        self.rnd_login = self.rnd.sample(["imap-login", "imap-plain", "smtp"], 3)
        self.sources = []
        for _ in checks:
            self.ip_n += 1
            self.sources.append("127.%d.%d.%d" % (100 + self.seed % 100, self.ip_n // 250,
                                                   1 + self.ip_n % 250))
        threads = [threading.Thread(target=one, args=(i, e, p)) for i, (e, p) in enumerate(checks)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.check(not errors and len(results) == len(checks), "login errors: %r" % errors)
        for i, (e, p) in enumerate(checks):
            how, ok = results[i]
            want = self.m.login_ok(e, p)
            self.note("login %s %s %r -> %s (model %s)" % (how, e, p, ok, want))
            self.check(ok == want, "%s login of %s with %r: %s, model says %s (%s)" % (
                how, e, p, "accepted" if ok else "refused", want,
                "current password" if p == self.m.accounts.get(e, {}).get("pw") else "old password"))
            self.seen["login %s %s" % (how, "ok" if ok else "refused")] += 1
            if ok:
                self.m.logged_in.add(e)

    # ---- steps ----
    def step_domain_add(self):
        d = self.rnd.choice(DOMAINS)
        exists = d in self.m.domains
        if self.rnd.random() < 0.25:
            self.cli_expect(not exists, "domain", "add", mixcase(self.rnd, d))
            if not exists:
                self.m.domains.add(d)
            return
        res = self.call("POST", "/domains", {"name": mixcase(self.rnd, d)})
        if exists:
            self.problem(res, 409, "exists", no_field=True)
            return
        self.check(res[0] == 201, "POST /domains %s: %r" % (d, res[2]))
        self.m.domains.add(d)
        self.check_domain_obj(res[2], self.m.domain_obj(d), "POST /domains")

    def step_domain_del(self):
        d = self.rnd.choice(DOMAINS)
        exists = d in self.m.domains
        if self.rnd.random() < 0.5:
            # Empty it first (else accounts pile up and no domain ever goes):
            # its aliases must then go with it.
            for e in sorted(e for e in self.m.accounts if domain_of(e) == d):
                self.step_account_del(e)
        busy = any(domain_of(e) == d for e in self.m.accounts)
        if self.rnd.random() < 0.25:
            self.cli_expect(exists and not busy, "domain", "del", mixcase(self.rnd, d))
        else:
            res = self.call("DELETE", "/domains/" + seg(self.rnd, mixcase(self.rnd, d)))
            if not exists:
                self.problem(res, 404, "not_found")
            elif busy:
                self.problem(res, 409, "in_use", no_field=True)
            else:
                self.check(res[0] == 204 and res[2] == b"", "DELETE /domains/%s: %r" % (d, res))
        if exists and not busy:
            self.m.del_domain(d)

    def step_account_add(self):
        if self.rnd.random() < 0.7:
            e = self.new_address() or self.some_address()
        else:
            e = self.some_address()  # maybe an existing one, maybe not a local domain
        # An address that is an alias is taken too (issue 28, finding 8): 409.
        exists, local = e in self.m.accounts or e in self.m.aliases, domain_of(e) in self.m.domains
        pw = self.password()
        if self.rnd.random() < 0.25:
            quota, qarg = self.rnd.choice([(0, []), (123, ["--quota", "123"]),
                                           (512 * 1024, ["--quota", "512K"]),
                                           (10 * 1024 * 1024, ["--quota", "10M"])])
            self.cli_expect(local and not exists, "account", "add", mixcase(self.rnd, e), *qarg,
                            input=pw + "\n")
            if local and not exists:
                self.m.accounts[e] = {"pw": pw, "quota": quota, "disabled": False}
            return
        # The admin password: asked of a session, ignored with a token.
        body = {"email": mixcase(self.rnd, e), "password": pw, "current": ADMIN_PW}
        if self.rnd.random() < 0.5:
            body["quota"] = self.rnd.choice([0, 1, 1024, 5000000, 2**63 - 1])
        res = self.call("POST", "/accounts", body)
        if not local:
            self.problem(res, 404, "not_found", field="email")
        elif exists:
            self.problem(res, 409, "exists", no_field=True)
        else:
            self.check(res[0] == 201, "POST /accounts %s: %r" % (e, res[2]))
            self.m.accounts[e] = {"pw": pw, "quota": body.get("quota", 0), "disabled": False}
            self.check_account_obj(res[2], e, "POST /accounts")

    def pick_account(self, known=0.85):
        if self.m.accounts and self.rnd.random() < known:
            return self.rnd.choice(sorted(self.m.accounts))
        return self.some_address()

    def step_account_del(self, e=None):
        e = e or self.pick_account(0.8)
        exists = e in self.m.accounts
        if self.rnd.random() < 0.25:
            self.cli_expect(exists, "account", "del", mixcase(self.rnd, e))
        else:
            res = self.call("DELETE", "/accounts/" + seg(self.rnd, mixcase(self.rnd, e)),
                            {"password": ADMIN_PW})
            if exists:
                self.check(res[0] == 204 and res[2] == b"", "DELETE /accounts/%s: %r" % (e, res))
            else:
                self.problem(res, 404, "not_found")
        if exists:
            self.m.del_account(e)

    def step_passwd(self):
        e = self.pick_account(0.9)
        exists = e in self.m.accounts
        pw = self.password()
        if self.rnd.random() < 0.3:
            self.cli_expect(exists, "account", "passwd", mixcase(self.rnd, e), input=pw + "\n")
        else:
            res = self.call("POST", "/accounts/%s/password" % seg(self.rnd, mixcase(self.rnd, e)),
                            {"password": pw, "current": ADMIN_PW})
            if exists:
                self.check(res[0] == 204 and res[2] == b"", "password of %s: %r" % (e, res))
            else:
                self.problem(res, 404, "not_found")
        if exists:
            self.m.set_pw(e, pw)

    def step_patch(self):
        e = self.pick_account(0.9)
        body = {}
        if self.rnd.random() < 0.6:
            body["quota"] = self.rnd.choice([0, 7, 2**20, 2**63 - 1])
        if self.rnd.random() < 0.6:
            body["disabled"] = self.rnd.random() < 0.5
        res = self.call("PATCH", "/accounts/" + seg(self.rnd, mixcase(self.rnd, e)), body)
        if e not in self.m.accounts:
            self.problem(res, 404, "not_found")
            return
        self.check(res[0] == 200, "PATCH %s %r: %r" % (e, body, res[2]))
        self.m.accounts[e]["quota"] = body.get("quota", self.m.accounts[e]["quota"])
        self.m.accounts[e]["disabled"] = body.get("disabled", self.m.accounts[e]["disabled"])
        self.check_account_obj(res[2], e, "PATCH")

    def step_alias_add(self):
        r = self.rnd.random()
        if r < 0.2:
            alias = "@" + self.some_domain()  # a catch-all
        elif r < 0.35 and self.m.aliases:
            alias = self.rnd.choice(sorted(self.m.aliases))  # another target for an alias
        else:
            alias = self.some_address()
        r = self.rnd.random()
        if r < 0.45 and self.m.accounts:
            target = self.rnd.choice(sorted(self.m.accounts))
        elif r < 0.6 and self.m.aliases:
            target = self.rnd.choice([a for a in sorted(self.m.aliases) if not a.startswith("@")]
                                     or [self.some_address()])
        elif r < 0.85 and self.m.aliases.get(alias):
            target = self.rnd.choice(sorted(self.m.aliases[alias]))  # a duplicate
        else:
            target = self.some_address()  # an unknown user, maybe of a foreign domain
        alias_local = domain_of(alias) in self.m.domains
        dup = target in self.m.aliases.get(alias, ())
        # An alias cannot take an account's address (issue 28, finding 8).
        taken = dup or alias in self.m.accounts
        # A target outside our domains is forwarded (issue 29): accepted.
        ok = alias_local and not taken
        if self.rnd.random() < 0.25:
            self.cli_expect(ok, "alias", "add", mixcase(self.rnd, alias), mixcase(self.rnd, target))
            if ok:
                self.m.aliases.setdefault(alias, set()).add(target)
            return
        res = self.call("POST", "/aliases", {"alias": mixcase(self.rnd, alias),
                                             "target": mixcase(self.rnd, target),
                                             "password": ADMIN_PW})
        # The API (not the CLI) refuses a target of ours that is no
        # account and no alias: mail to it would bounce.
        unknown = (domain_of(target) in self.m.domains and target not in self.m.accounts
                   and target not in self.m.aliases)
        if not alias_local:
            self.problem(res, 404, "not_found")
        elif taken:
            self.problem(res, 409, "exists", no_field=True)
        elif unknown:
            self.problem(res, 400, "invalid_field", field="target")
        else:
            self.check(res[0] == 201, "POST /aliases %s -> %s: %r" % (alias, target, res[2]))
            self.m.aliases.setdefault(alias, set()).add(target)
            self.check_alias_obj(res[2], alias, "POST /aliases")

    def step_alias_del(self):
        if self.m.aliases and self.rnd.random() < 0.8:
            alias = self.rnd.choice(sorted(self.m.aliases))
        else:
            alias = self.rnd.choice(["@", self.rnd.choice(LOCALS) + "@"]) + self.some_domain()
        targets = self.m.aliases.get(alias, set())
        target = None
        if self.rnd.random() < 0.4:
            target = self.rnd.choice(sorted(targets)) if targets and self.rnd.random() < 0.8 \
                else self.some_address()
        exists = bool(targets) and (target is None or target in targets)
        if self.rnd.random() < 0.25:
            self.cli_expect(exists, "alias", "del", mixcase(self.rnd, alias),
                            *([mixcase(self.rnd, target)] if target else []))
        else:
            path = "/aliases/" + seg(self.rnd, mixcase(self.rnd, alias))
            if target:
                path += "?target=" + urllib.parse.quote(mixcase(self.rnd, target), safe="@")
            res = self.call("DELETE", path)
            if exists:
                self.check(res[0] == 204 and res[2] == b"", "DELETE %s: %r" % (path, res))
            else:
                self.problem(res, 404, "not_found")
        if exists:
            if target is None:
                del self.m.aliases[alias]
            else:
                targets.discard(target)
                if not targets:
                    del self.m.aliases[alias]

    def step_token(self):
        others = sorted(set(self.m.tokens) - {self.main_id})
        r = self.rnd.random()
        if r < 0.5 or not others:
            name = self.rnd.choice(["backup", "t%d" % self.step_no, "n" * 64, "caf\u00e9 script"])
            if self.rnd.random() < 0.3:
                rc, out = self.cli("token", "add", name)
                self.check(rc == 0, "tern token add %r: %s" % (name, out))
                tok = out.strip()
            else:
                st, _, t = self.call("POST", "/tokens", {"name": name, "password": ADMIN_PW})
                self.check(st == 201 and t["name"] == name and isinstance(t["created"], int),
                           "POST /tokens %r: %d %r" % (name, st, t))
                tok = t["token"]
                self.check(tok.startswith("tern_%s_" % t["id"]), "token %r" % t)
            m = re.fullmatch(r"tern_([0-9a-f]{8})_[0-9a-f]{64}", tok)
            self.check(m and m.group(1) not in self.m.tokens, "new token %r" % tok)
            self.m.tokens[m.group(1)] = name
            self.secrets[m.group(1)] = tok
            return
        tid = self.rnd.choice(others)
        if self.rnd.random() < 0.3:
            self.cli_expect(True, "token", "del", tid)
        else:
            st, _, out = self.call("DELETE", "/tokens/" + tid)
            self.check(st == 204, "DELETE /tokens/%s: %d %r" % (tid, st, out))
        del self.m.tokens[tid]
        # The deleted token no longer opens anything.
        gone = Api(self.s, https=False, source=BAD_TOKEN_SOURCE)
        gone.token = self.secrets.pop(tid)
        res = gone.call("GET", "/domains")
        self.note("GET /domains with deleted token -> %d" % res[0])
        self.bad_token(res)

    def step_read(self):
        if self.rnd.random() < 0.5 and self.m.accounts:
            e = self.rnd.choice(sorted(self.m.accounts))
            res = self.call("GET", "/accounts/" + seg(self.rnd, mixcase(self.rnd, e)))
            self.check(res[0] == 200, "GET account %s: %r" % (e, res[2]))
            self.check_account_obj(res[2], e, "GET /accounts/" + e)
        else:
            d = self.rnd.choice(DOMAINS)
            res = self.call("GET", "/domains/" + seg(self.rnd, d))
            if d in self.m.domains:
                self.check(res[0] == 200, "GET domain %s: %r" % (d, res[2]))
                self.check_domain_obj(res[2], self.m.domain_obj(d), "GET /domains/" + d)
            else:
                self.problem(res, 404, "not_found")

    def step_bad(self):
        """Bad input: the documented 4xx and problem shape; the model does
        not change, so the comparison after the step proves nothing moved."""
        rnd = self.rnd
        new = self.new_address() or "fresh@" + PRIMARY
        acct = self.pick_account(0.9) if self.m.accounts else None
        kind = rnd.randrange(26)
        if kind == 0:
            self.problem(self.call("POST", "/domains", {"name": rnd.choice(BAD_DOMAINS)}),
                         400, "invalid_field", field="name")
        elif kind == 1:
            # Not UTF-8 (a Latin-1 name), inside an otherwise good body.
            raw = b'{"name":"caf\xe9.test"}' if rnd.random() < 0.5 else \
                b'{"email":"j\xf6rg@' + PRIMARY.encode() + b'","password":"long-enough-1"}'
            path = "/domains" if raw.startswith(b'{"name"') else "/accounts"
            self.problem(self.call("POST", path, raw=raw), 400, "bad_json")
        elif kind == 2:
            raw = rnd.choice([b'{"name":', b'{"name":"a.test",}', b"{'name':'a.test'}",
                              b'{"name":"a.test"} x', b"nul\x00", b'{"name":"\\ud800.test"}'])
            self.problem(self.call("POST", "/domains", raw=raw), 400, "bad_json")
        elif kind == 3:
            self.problem(self.call("POST", "/domains", {"name": rnd.choice([5, None, True, ["a.test"],
                                                                           {"n": 1}])}),
                         400, "invalid_field", field="name")
        elif kind == 4:
            self.problem(self.call("POST", "/domains", {}), 400, "missing_field", field="name")
        elif kind == 5:
            self.problem(self.call("POST", "/domains", {"name": "new.test", "dkim": True}),
                         400, "unknown_field", field="dkim")
        elif kind == 6:
            email = "%s@%s" % (rnd.choice(BAD_LOCALS), self.some_domain(1.0))
            self.problem(self.call("POST", "/accounts", {"email": email, "password": "long-enough-1",
                                                         "current": ADMIN_PW}),
                         400, "invalid_field", field="email")
        elif kind == 7:
            email = rnd.choice(["@" + PRIMARY, "no-at-sign", "x@" + rnd.choice(BAD_DOMAINS[:8])])
            self.problem(self.call("POST", "/accounts", {"email": email, "password": "long-enough-1",
                                                         "current": ADMIN_PW}),
                         400, "invalid_field", field="email")
        elif kind == 8:
            pw = rnd.choice(["", "short", "x" * 7, "y" * 257, "z" * 1000])
            self.problem(self.call("POST", "/accounts", {"email": new, "password": pw}),
                         400, "invalid_field", field="password")
        elif kind == 9:
            q = rnd.choice(["10", -1, 1.5, 2**64, True, None, [1]])
            self.problem(self.call("POST", "/accounts", {"email": new, "password": "long-enough-1",
                                                         "quota": q}),
                         400, "invalid_field", field="quota")
        elif kind == 10:
            body = rnd.choice([{"email": new}, {"password": "long-enough-1"}])
            missing = "password" if "email" in body else "email"
            self.problem(self.call("POST", "/accounts", body), 400, "missing_field", field=missing)
        elif kind == 11:
            self.problem(self.call("POST", "/accounts", {"email": new, "password": "long-enough-1",
                                                         "admin": True}),
                         400, "unknown_field", field="admin")
        elif kind == 12 and acct in self.m.accounts:
            pw = rnd.choice(["", "1234567", "p" * 257])
            self.problem(self.call("POST", "/accounts/%s/password" % seg(rnd, acct), {"password": pw}),
                         400, "invalid_field", field="password")
        elif kind == 13 and acct in self.m.accounts:
            body, field, code = rnd.choice([({"disabled": "yes"}, "disabled", "invalid_field"),
                                            ({"disabled": 1}, "disabled", "invalid_field"),
                                            ({"quota": -5}, "quota", "invalid_field"),
                                            ({"quota": "5"}, "quota", "invalid_field"),
                                            ({"email": "x@" + PRIMARY}, "email", "unknown_field"),
                                            ({"password": "long-enough-1"}, "password", "unknown_field")])
            self.problem(self.call("PATCH", "/accounts/" + seg(rnd, acct), body), 400, code, field=field)
        elif kind == 14 and acct in self.m.accounts:
            self.problem(self.call("POST", "/accounts/%s/password" % seg(rnd, acct), {}),
                         400, "missing_field", field="password")
        elif kind == 15:
            alias = "%s@%s" % (rnd.choice(BAD_LOCALS), self.some_domain(1.0))
            self.problem(self.call("POST", "/aliases", {"alias": alias, "target": new}),
                         400, "invalid_field", field="alias")
        elif kind == 16:
            target = rnd.choice(["@" + PRIMARY, "nobody", "%s@%s" % (rnd.choice(BAD_LOCALS), PRIMARY),
                                 "x@" + rnd.choice(BAD_DOMAINS[:8])])
            self.problem(self.call("POST", "/aliases", {"alias": "new-alias@" + self.some_domain(1.0),
                                                        "target": target, "password": ADMIN_PW}),
                         400, "invalid_field", field="target")
        elif kind == 17:
            body = rnd.choice([{"alias": "x@" + PRIMARY}, {"target": new}])
            missing = "target" if "alias" in body else "alias"
            self.problem(self.call("POST", "/aliases", body), 400, "missing_field", field=missing)
        elif kind == 18:
            # Unknown names and ids.
            path = rnd.choice(["/tokens/deadbeef", "/tokens/nothex!!", "/accounts/nobody@nowhere.test",
                               "/accounts/%FF@" + PRIMARY, "/domains/%FF.test", "/domains/nowhere.test",
                               "/aliases/nobody@nowhere.test", "/aliases/%C3%28@" + PRIMARY,
                               "/aliases/@nowhere.test"])
            # (an account's deletion takes the admin password with a session)
            body = {"password": ADMIN_PW} if path.startswith("/accounts/") else None
            self.problem(self.call("DELETE", path, body), 404, "not_found")
        elif kind == 19:
            path = rnd.choice(["/accounts/nobody@nowhere.test", "/domains/nowhere.test",
                               "/accounts/" + seg(rnd, new)])
            self.problem(self.call("GET", path), 404, "not_found")
            self.problem(self.call("PATCH", "/accounts/" + seg(rnd, new), {"quota": 1}), 404, "not_found")
            self.problem(self.call("POST", "/accounts/%s/password" % seg(rnd, new),
                                   {"password": "long-enough-1"}), 404, "not_found")
        elif kind == 20:
            st, hd, p = self.call("POST", "/domains", raw=b"name=new.test",
                                  ctype=rnd.choice(["application/x-www-form-urlencoded", "text/plain"]))
            self.problem((st, hd, p), 415, DOC_CODES)  # API.md names no code for 415
        elif kind == 21:
            big = json.dumps({"name": "x" * 70000}).encode()
            self.problem(self.call("POST", "/domains", raw=big), 413, "too_large")
        elif kind == 22:
            # No credentials (HTTPS: plain HTTP without a token redirects),
            # or a token that never existed: 401 before the body is read.
            # From an address of its own: wrong tokens count against it
            # (bad_token), and must not lock the admin's address out.
            anon = Api(self.s, https=rnd.random() < 0.3, source=BAD_TOKEN_SOURCE)
            if not anon.https:
                anon.token = "tern_%08x_%s" % (rnd.getrandbits(32), "0" * 64)
            res = anon.call("POST", "/domains", rnd.choice([{"name": "new.test"}, b"{bad json"]))
            self.note("anonymous POST /domains -> %d" % res[0])
            if anon.token:
                self.bad_token(res)
            else:
                self.problem(res, 401, "unauthorized")
        elif kind == 23:
            # A session without its CSRF header changes nothing.
            res = self.sess.call("POST", "/domains", {"name": "csrf.test"}, csrf=False)
            self.note("session POST /domains without CSRF -> %d" % res[0])
            self.problem(res, 403, "csrf")
        elif kind == 24:
            self.problem(self.call("POST", "/tokens", {"name": rnd.choice(["", "n" * 65]),
                                                       "password": ADMIN_PW}),
                         400, "invalid_field", field="name")
        elif kind == 25:
            # The CLI refuses what the API refuses.
            r = rnd.random()
            if r < 0.4 and self.m.domains:
                self.cli_expect(False, "alias", "add", "fw@" + rnd.choice(sorted(self.m.domains)),
                                "me@" + rnd.choice(BAD_DOMAINS[:-2]), says="invalid target address")
            elif r < 0.6:
                self.cli_expect(False, "domain", "add", rnd.choice(BAD_DOMAINS[:-2]))
            elif r < 0.8:
                self.cli_expect(False, "account", "add", "%s@%s" % (rnd.choice(BAD_LOCALS), PRIMARY),
                                input="long-enough-1\n")
            else:
                self.cli_expect(False, "alias", "add", "x@nowhere.test", new)

    def step(self):
        rnd = self.rnd
        choices = [(self.step_domain_add, 3), (self.step_domain_del, 3), (self.step_account_add, 7),
                   (self.step_account_del, 4), (self.step_passwd, 5), (self.step_patch, 5),
                   (self.step_alias_add, 16), (self.step_alias_del, 7), (self.step_token, 2),
                   (self.step_read, 4), (self.step_bad, 18)]
        fn = rnd.choices([c[0] for c in choices], [c[1] for c in choices])[0]
        fn()

    def run(self):
        self.compare()
        for self.step_no in range(1, STEPS + 1):
            self.step()
            self.compare()
            if self.step_no % 10 == 0:
                self.compare_more()
            if self.step_no % 25 == 0:
                self.smtp_check()
            if self.step_no % 50 == 0:
                self.compare_cli()
            if self.step_no == STEPS // 2:
                self.login_round(refusals=False)
            if self.step_no == STEPS:
                self.login_round()
        print("seed %d: %d steps; %s" % (self.seed, STEPS, ", ".join(
            "%s: %d" % kv for kv in sorted(self.seen.items()))))


def reset(s, a, main_id):
    """Back to the baseline: the primary domain alone, the main token alone."""
    q = lambda n: urllib.parse.quote(n, safe="")
    for al in a.call("GET", "/aliases")[2]["aliases"]:
        assert a.call("DELETE", "/aliases/" + q(al["alias"]))[0] == 204, al
    for ac in a.call("GET", "/accounts")[2]["accounts"]:
        assert a.call("DELETE", "/accounts/" + q(ac["email"]))[0] == 204, ac
    for d in a.call("GET", "/domains")[2]["domains"]:
        if d["name"] != PRIMARY:
            assert a.call("DELETE", "/domains/" + q(d["name"]))[0] == 204, d
    if PRIMARY not in [d["name"] for d in a.call("GET", "/domains")[2]["domains"]]:
        assert a.call("POST", "/domains", {"name": PRIMARY})[0] == 201
    for t in a.call("GET", "/tokens")[2]["tokens"]:
        if t["id"] != main_id:
            assert a.call("DELETE", "/tokens/" + t["id"])[0] == 204, t


def model_server():
    s = Server(http=True, imap=True, submission=True, domains=(),
               env={"TERN_ADMIN_PASSWORD": ADMIN_PW, "TERN_DOMAIN": PRIMARY,
                    "TERN_SMTP_MAX_ERRORS": "1000"})
    tok = s.cli("token", "add", "model main").stdout.decode().strip()
    return s, tok, tok.split("_")[1]


def test_http_model_random_admin_steps():
    s, tok, main_id = model_server()
    with s:
        a = Api(s, https=False)
        a.token = tok
        for seed in SEEDS:
            reset(s, a, main_id)
            Run(s, tok, main_id, seed).run()


def test_documented_lengths_and_alias_count():
    """API.md: passwords are 8..256 *characters* and token names 1..64
    *characters*; a non-ASCII character is one character however many
    octets UTF-8 gives it. And a domain's "aliases" is its number of
    aliases, one per object of GET /aliases, not one per target. Each case
    is checked and all misses are reported together."""
    s, tok, _ = model_server()
    with s:
        a = Api(s, https=False)
        a.token = tok
        wrong = []

        def expect(what, res, status):
            if res[0] != status:
                wrong.append("%s: %d %r, expected %d" % (what, res[0], res[2], status))

        # 10 and 400 octets; the long one random letters of U+00E0..U+00FF
        # (two octets each), so the strength rule takes it.
        rnd = random.Random(7)
        e5, e200 = "\u00e9" * 5, "".join(chr(rnd.randrange(0xe0, 0x100)) for _ in range(200))
        expect("POST /accounts with a 5-character password (10 octets)",
               a.call("POST", "/accounts", {"email": "short@" + PRIMARY, "password": e5}), 400)
        expect("POST /accounts with a 200-character password (400 octets)",
               a.call("POST", "/accounts", {"email": "long@" + PRIMARY, "password": e200}), 201)
        for who in ("bob", "carol"):
            assert a.call("POST", "/accounts", {"email": "%s@%s" % (who, PRIMARY),
                                                "password": who + "-password-Vq8r"})[0] == 201
        expect("POST /accounts/bob/password with 5 characters",
               a.call("POST", "/accounts/bob@%s/password" % PRIMARY, {"password": e5}), 400)
        expect("POST /accounts/bob/password with 200 characters",
               a.call("POST", "/accounts/bob@%s/password" % PRIMARY, {"password": e200}), 204)
        expect("POST /tokens with a 64-character name (128 octets)",
               a.call("POST", "/tokens", {"name": "\u00e9" * 64}), 201)
        expect("POST /tokens with a 65-character name",
               a.call("POST", "/tokens", {"name": "\u00e9" * 65}), 400)
        for t in ("bob@" + PRIMARY, "carol@" + PRIMARY):
            a.call("POST", "/aliases", {"alias": "info@" + PRIMARY, "target": t})
        st, _, al = a.call("GET", "/aliases")
        n = sum(1 for x in al["aliases"] if x["alias"].endswith("@" + PRIMARY))
        st, _, d = a.call("GET", "/domains/" + PRIMARY)
        if d["aliases"] != n:
            wrong.append("GET /domains/%s says aliases=%r; GET /aliases lists %d alias(es) of it: %r"
                         % (PRIMARY, d["aliases"], n, al["aliases"]))
        assert not wrong, "\n".join(wrong)
