"""Inbound SMTP under random sessions, checked against a model.

Several clients at once send random command sequences (seeded, so a
failure names its seed): EHLO or HELO, MAIL with and without SIZE and
BODY, RCPT to a local user, a plus-address, an unknown user and a remote
domain, DATA with dot-stuffed lines, 8-bit text, long lines and, now and
then, a bare LF or a NUL, BDAT in one or several chunks, DATA after BDAT,
commands out of order, RSET, NOOP, VRFY, HELP, unknown verbs, pipelined
MAIL/RCPT/DATA groups, and connections dropped in the middle of a message.

The model knows what each reply must be where RFC 5321 and RFC 3030 say
(a 503 for a command out of sequence, 550 and 554 for the recipients, 354
then 250 for a good message, a refusal for a bad one) and counts every
message the server accepted. At the end each account holds exactly the
messages accepted for it, once per transaction, each ending with the
octets sent (after un-stuffing): nothing refused, dropped or half-sent is
there.
"""
import random
import re
import threading

from harness import Raw
from test_imap import raw_messages
from test_smtp import srv as smtp_srv

LOCAL = {"bob@example.test": "bob@example.test", "bob+model@example.test": "bob@example.test",
         "carol@example.test": "carol@example.test"}
REFUSED = {"nobody@example.test": 550, "someone@remote.test": 554}
PASSWORDS = {"bob@example.test": "bob-pw-1", "carol@example.test": "carol-pw-1"}


class Counter:
    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def next(self):
        with self.lock:
            self.n += 1
            return self.n


def body_lines(rnd, bad):
    """The message's lines (without line ends) and whether it is bad."""
    lines = []
    for _ in range(rnd.randint(0, 12)):
        kind = rnd.random()
        if kind < 0.2:
            lines.append("." * rnd.randint(1, 3) + "dot line")   # needs stuffing
        elif kind < 0.3:
            lines.append("")
        elif kind < 0.4:
            lines.append("x" * rnd.randint(500, 990))
        elif kind < 0.5:
            lines.append("8-bit: caf\u00e9 \u00fcber \u65e5\u672c")
        else:
            lines.append("line %d" % rnd.randint(0, 10**6))
    return lines


class Dropped(Exception):
    """The server ended the session after too many errors (421)."""


class Client:
    def __init__(self, s, rnd, ids, seed):
        self.s, self.rnd, self.ids, self.seed = s, rnd, ids, seed
        self.accepted = []  # (id, [accounts], exact message octets)
        self.trace = []
        self.conn = None

    def fail(self, why):
        raise AssertionError("seed %d: %s\n%s" % (self.seed, why, "\n".join(self.trace[-25:])))

    def connect(self):
        self.conn = Raw(self.s.smtp_port, timeout=30)
        if self.conn.greeting[0] != 220:
            self.fail("greeting %r" % (self.conn.greeting,))
        self.helo = self.esmtp = False
        self.errors = 0
        self.data_refused = False  # the last command was a refused DATA
        self.reset()

    def reset(self):
        self.mail = False
        self.rcpts = []       # accepted recipients' accounts
        self.bdat = None      # octets sent in BDAT chunks so far, or None

    def cmd(self, text):
        return self.cmd_lines(text)[0]

    def cmd_lines(self, text):
        self.trace.append("C: " + text[:100])
        self.conn.send(text + "\r\n")
        code, lines = self.reply()
        # (in a transaction: the server takes what follows for its text)
        self.data_refused = text[:4].upper() == "DATA" and code != 354 and self.mail
        return code, lines

    def reply(self):
        """The next reply. Every 5xx counts as an error; past
        TERN_SMTP_MAX_ERRORS (10) the server says 421 and hangs up."""
        code, lines = self.conn.reply()
        self.trace.append("S: %d %s" % (code, lines[-1][:100]))
        if code >= 500:
            self.errors += 1
        if code == 421 and "too many errors" in lines[-1]:
            if self.errors < 10:
                self.fail("421 after %d errors" % self.errors)
            raise Dropped()
        return code, lines

    def expect(self, text, *codes):
        code = self.cmd(text)
        if code not in codes:
            self.fail("%s -> %d, expected %r" % (text, code, codes))
        return code

    def message(self):
        """(octets as stored, octets on the wire for DATA, bad)."""
        n = self.ids.next()
        bad = self.rnd.random() < 0.08
        head = ["From: alice@remote.test", "To: bob@example.test",
                "Subject: model %d" % n, "X-Model-Id: %d" % n, ""]
        lines = head + body_lines(self.rnd, bad)
        text = "".join(l + "\r\n" for l in lines).encode()
        if bad:  # a bare LF or a NUL inside a line: refused as a whole
            cut = len(text) // 2
            text = text[:cut] + self.rnd.choice([b"\n", b"\0"]) + text[cut:]
        wire = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                        for l in text.split(b"\r\n")[:-1])
        return n, text, wire, bad

    def step(self):
        r = self.rnd
        if r.random() < 0.7:  # mostly the next step of a transaction
            op = ("ehlo" if not self.helo else r.choice(["mail", "pipeline"]) if not self.mail
                  else "rcpt" if not self.rcpts else "bdat" if self.bdat is not None
                  else r.choice(["rcpt", "data", "data", "bdat", "bdat"]))
        else:  # anything, in or out of order
            op = r.choice(["ehlo", "mail", "rcpt", "data", "bdat", "rset", "noop", "vrfy",
                           "help", "unknown", "pipeline", "drop", "quit"])
        self.trace.append("-- " + op)
        if op == "ehlo":
            verb = r.choice(["EHLO", "EHLO", "HELO"])
            self.expect(verb + " client%d.remote.test" % r.randint(0, 9), 250)
            self.helo, self.esmtp = True, verb == "EHLO"
            self.reset()
        elif op == "mail":
            size = body = ""
            if self.esmtp:  # parameters are ESMTP's
                size = r.choice(["", " SIZE=%d" % r.randint(1, 10**6), " SIZE=999999999"])
                body = r.choice(["", " BODY=8BITMIME"])
            code, lines = self.cmd_lines("MAIL FROM:<alice@remote.test>%s%s" % (size, body))
            want = (503 if not self.helo or self.mail else 552 if "999999999" in size else 250)
            if code != want:
                self.fail("MAIL -> %d, expected %d" % (code, want))
            if self.mail and "nested MAIL" not in lines[-1]:
                self.fail("a second MAIL is answered %r" % lines[-1])
            self.mail = self.mail or code == 250
        elif op == "rcpt":
            self.rcpt(r.choice(sorted(LOCAL) + sorted(REFUSED)))
        elif op == "data":
            self.data()
        elif op == "bdat" and self.esmtp:
            self.bdat_step()
        elif op == "rset":
            self.expect("RSET", 250)
            self.reset()
        elif op == "noop":
            self.expect("NOOP", 250)
        elif op == "vrfy":
            self.expect("VRFY bob", 252)
        elif op == "help":
            self.expect("HELP", 214)
        elif op == "unknown":
            # (DATA in a transaction with no recipient: 554, no valid recipients)
            text = r.choice(["XYZZY", "MAIL", "RCPT TO:", "DATA now"])
            if text == "XYZZY" and self.data_refused:
                # No command right after a refused DATA: message text the
                # client sent anyway, which ends the session (421).
                self.expect(text, 421)
                self.conn.close()
                self.connect()
            else:
                self.expect(text, 500, 501, 502, 503, 554)
        elif op == "pipeline" and self.esmtp and not self.mail:
            self.pipeline()
        elif op == "drop" and self.esmtp:
            self.drop()
        elif op == "quit":
            self.expect("QUIT", 221)
            self.conn.close()
            self.connect()

    def rcpt(self, addr):
        code = self.cmd("RCPT TO:<%s>" % addr)
        if not self.mail or self.bdat is not None:
            if code != 503:  # (RFC 3030: no RCPT once the chunks began)
                self.fail("RCPT without MAIL or after BDAT -> %d" % code)
            return
        want = REFUSED.get(addr, 250)
        account = LOCAL.get(addr)
        if account in self.rcpts:
            return  # the same account twice: either answer will do
        if code != want:
            self.fail("RCPT %s -> %d, expected %d" % (addr, code, want))
        if code == 250:
            self.rcpts.append(account)

    def data(self):
        if self.bdat is not None:
            self.expect("DATA", 503)  # RFC 3030: no DATA after BDAT
            return
        code = self.cmd("DATA")
        if not self.mail or not self.rcpts:
            if code not in (503, 554):
                self.fail("DATA without recipients -> %d" % code)
            return
        if code != 354:
            self.fail("DATA -> %d" % code)
        self.send_text()

    def send_text(self):
        """A message's text after 354: a good one must get 250 (and is
        counted for the recipients accepted), a bad one a refusal."""
        n, text, wire, bad = self.message()
        self.conn.send(wire + b".\r\n")
        code, lines = self.reply()
        if bad:
            if code < 500:
                self.fail("a message with a bare LF or NUL -> %d" % code)
        elif code != 250:
            self.fail("end of DATA -> %d %s" % (code, lines))
        else:
            self.accepted.append((n, list(self.rcpts), text))
        self.reset()

    def bdat_step(self):
        if not self.mail or not self.rcpts:
            code = self.cmd("BDAT 0 LAST")
            if code not in (503, 554):
                self.fail("BDAT without recipients -> %d" % code)
            return
        if self.bdat is None:
            self.bdat = (self.message(), 0)
        (n, text, wire, bad), off = self.bdat
        if bad:  # binary chunks take any octet; keep BDAT to clean text
            text = text.replace(b"\0", b"").replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")
        last = self.rnd.random() < 0.5 or len(text) - off < 50
        end = len(text) if last else self.rnd.randint(off, len(text))
        chunk = text[off:end]
        self.trace.append("C: BDAT %d%s" % (len(chunk), " LAST" if last else ""))
        self.conn.send(b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk)
        self.data_refused = False
        code, lines = self.reply()
        if code != 250:
            self.fail("BDAT -> %d %s" % (code, lines))
        if last:
            self.accepted.append((n, list(self.rcpts), text))
            self.reset()
        else:
            self.bdat = ((n, text, wire, False), end)

    def pipeline(self):
        """MAIL, RCPTs and DATA in one write (RFC 2920), then the text."""
        addrs = self.rnd.sample(sorted(LOCAL) + sorted(REFUSED), self.rnd.randint(1, 3))
        accounts = []
        for a in addrs:
            if a in LOCAL and LOCAL[a] not in accounts:
                accounts.append(LOCAL[a])
        if len(accounts) != len([a for a in addrs if a in LOCAL]):
            return  # two addresses of one account: leave that to rcpt()
        batch = "MAIL FROM:<alice@remote.test>\r\n" + "".join(
            "RCPT TO:<%s>\r\n" % a for a in addrs) + "DATA\r\n"
        self.trace.append("C: (pipelined) " + batch.replace("\r\n", " | ")[:200])
        self.conn.send(batch)
        codes = [self.reply()[0] for _ in range(len(addrs) + 2)]
        self.trace.append("S: %r" % codes)
        want = [250] + [REFUSED.get(a, 250) for a in addrs]
        if codes[:-1] != want:
            self.fail("pipelined replies %r, expected %r" % (codes, want + ["354"]))
        if not accounts:
            if codes[-1] not in (503, 554):
                self.fail("pipelined DATA without recipients -> %d" % codes[-1])
            self.data_refused = True
            self.mail = True  # the transaction stays open (RSET or RCPT next)
            return
        if codes[-1] != 354:
            self.fail("pipelined DATA -> %d" % codes[-1])
        self.mail, self.rcpts = True, accounts
        self.send_text()

    def drop(self):
        """A transaction cut off in the middle of its text: nothing stays."""
        if not self.mail:
            self.expect("MAIL FROM:<alice@remote.test>", 250)
            self.mail = True
        if "bob@example.test" not in self.rcpts:
            self.rcpt("bob@example.test")
        if self.bdat is None:
            self.expect("DATA", 354)
            n, text, wire, bad = self.message()
            self.conn.send(wire[:len(wire) // 2])
        else:
            self.conn.send(b"BDAT 100000 LAST\r\npartial")
        self.conn.close()
        self.connect()


def stored(s, account):
    """{model id: raw octets} of every message in the account's INBOX."""
    out = {}
    for raw in raw_messages(s, account, PASSWORDS[account]):
        mid = int(re.search(rb"\r\nX-Model-Id: (\d+)\r\n", raw).group(1))
        if mid in out:
            raise AssertionError("message %d stored twice in %s" % (mid, account))
        out[mid] = raw
    return out


def run_model(seed, nclients=5, steps=120):
    with smtp_srv(imap=True) as s:
        ids = Counter()
        clients = [Client(s, random.Random(seed * 100 + i), ids, seed) for i in range(nclients)]
        errors = []

        def work(c):
            try:
                c.connect()
                for _ in range(steps):
                    try:
                        c.step()
                    except Dropped:
                        c.conn.close()
                        c.connect()
                c.expect("QUIT", 221)
            except Exception as e:  # reported with the seed below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), "seed %d: a client hung" % seed
        assert not errors, errors[0]

        want = {a: {} for a in PASSWORDS}
        for c in clients:
            for n, accounts, text in c.accepted:
                for a in accounts:
                    want[a][n] = text
        assert sum(len(v) for v in want.values()) >= 20, "seed %d: too few accepted" % seed
        for account, msgs in want.items():
            got = stored(s, account)
            assert sorted(got) == sorted(msgs), "seed %d: %s holds %r, accepted %r" % (
                seed, account, sorted(got), sorted(msgs))
            for n, text in msgs.items():
                assert got[n].endswith(b"\r\n" + text), "seed %d: message %d differs" % (seed, n)


def test_smtp_random_sessions_store_exactly_what_was_accepted():
    for seed in (1, 2, 3):
        run_model(seed, steps=150)
