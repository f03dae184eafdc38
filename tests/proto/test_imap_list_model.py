"""IMAP LIST against a reference, over a random tree of mailboxes.

Thirty mailboxes are created at random (seeded) three levels deep under
names of mixed case, some with spaces and non-ASCII letters, a random
half subscribed, some parents made only as the parents of their
children. Then random patterns (literal parts, "%" and "*" anywhere,
INBOX in any case) and reference names are listed, plain and with
(SUBSCRIBED), (SUBSCRIBED RECURSIVEMATCH) and RETURN (CHILDREN
SUBSCRIBED). Each must give what RFC 9051 §6.3.9 and RFC 5258 say: "%"
matches within one level, "*" across levels, names compare exactly but
INBOX in any case, \\HasChildren or \\HasNoChildren from the tree,
\\Subscribed for subscribed names, and for RECURSIVEMATCH the parents
of subscribed mailboxes the pattern does not reach listed too, and
CHILDINFO ("SUBSCRIBED") on every name with such a descendant (RFC 5258
§3.5).
"""
import random
import re

from test_imap import login, srv

LEVEL1 = ["Work", "work", "Home", "Ärger", "Trips 2024", "Archive"]
LEVEL2 = ["a", "B", "old", "Q1", "ä"]
DEFAULTS = ["INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"]


def pattern_re(ref, pat):
    """The names ref+pat matches, as a regular expression."""
    full = ref + pat
    out = ""
    for c in full:
        out += ".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c)
    return re.compile(out + r"\Z")


def matches(ref, pat, name):
    if pattern_re(ref, pat).match(name):
        return True
    # "INBOX" in a pattern is INBOX in any case (RFC 9051 §5.1).
    full = ref + pat
    return name == "INBOX" and full[:5].upper() == "INBOX" and \
        pattern_re("", "INBOX" + full[5:]).match(name) is not None


def parse_list(lines):
    """{name: (set of lower-case attributes, extended data text)}."""
    out = {}
    for line in lines:
        m = re.match(r'(?:\* LIST )?\(([^)]*)\) (?:"/"|NIL) ("(?:[^"\\]|\\.)*"|\S+)(.*)', line)
        assert m, line
        name = m.group(2)
        if name.startswith('"'):
            name = re.sub(r'\\(.)', r"\1", name[1:-1])
        out[name] = (set(m.group(1).lower().split()), m.group(3).strip())
    return out


def test_imap_list_patterns_match_a_reference():
    rnd = random.Random(17)
    names = set(DEFAULTS)
    for _ in range(30):
        parts = [rnd.choice(LEVEL1)] + [rnd.choice(LEVEL2) for _ in range(rnd.randint(0, 2))]
        names.add("/".join(parts))
    with srv() as s:
        m = login(s)
        m.enable("UTF8=ACCEPT")  # names in UTF-8, as IMAP4rev2 has them
        for n in sorted(names - set(DEFAULTS)):
            typ, data = m.create('"%s"' % n)
            assert typ == "OK" or b"already exists" in data[0], (n, data)
        # Parents made by CREATE of a child exist as mailboxes too.
        every = set(names)
        for n in list(names):
            for i in range(1, n.count("/") + 1):
                every.add("/".join(n.split("/")[:i]))
        subscribed = set(rnd.sample(sorted(every), len(every) // 2))
        for n in sorted(subscribed):
            assert m.subscribe('"%s"' % n)[0] == "OK", n
        # INBOX..., Sent... are subscribed by default when the account is made.
        typ, data = m.list('""', '"*"')
        assert typ == "OK", data
        have = parse_list(x.decode() for x in data)
        assert set(have) == every, sorted(set(have) ^ every)
        subs = {n for n, (attrs, _) in m_list(m, "(SUBSCRIBED)", "", "*").items()}
        assert subscribed <= subs, sorted(subscribed - subs)
        subscribed = subs
        children = {n for n in every if any(o.startswith(n + "/") for o in every)}

        for q in range(150):
            r = random.Random(q)
            ref = r.choice(["", "", "", "Work/", "Ärger/"])
            pat = "".join(r.choice(["%", "*", r.choice(LEVEL1), "/", r.choice(LEVEL2), "a",
                                    "INBOX", "inbox", "W"]) for _ in range(r.randint(1, 4)))
            mode = r.choice(["plain", "subscribed", "recursive", "return"])
            want = {n for n in every if matches(ref, pat, n)}
            if mode == "plain":
                got = m_list(m, None, ref, pat)
            elif mode == "return":
                got = m_list(m, None, ref, pat, ret="RETURN (CHILDREN SUBSCRIBED)")
            elif mode == "subscribed":
                got = m_list(m, "(SUBSCRIBED)", ref, pat)
                want &= subscribed
            else:
                got = m_list(m, "(SUBSCRIBED RECURSIVEMATCH)", ref, pat)
                # RFC 5258 §3.5: a parent that is not subscribed only
                # when the pattern misses its subscribed descendant.
                want = {n for n in want if n in subscribed or any(
                    o.startswith(n + "/") and not matches(ref, pat, o) for o in subscribed)}
            what = "%s LIST %r %r" % (mode, ref, pat)
            assert set(got) == want, "%s: got %r, want %r" % (what, sorted(got), sorted(want))
            for n, (attrs, ext) in got.items():
                if mode in ("plain", "return"):
                    kid = "\\haschildren" if n in children else "\\hasnochildren"
                    assert kid in attrs, (what, n, attrs)
                if mode in ("return", "subscribed", "recursive"):
                    assert ("\\subscribed" in attrs) == (n in subscribed), (what, n, attrs)
                if mode == "recursive":
                    # RFC 5258 §3.5: CHILDINFO names what the listing does
                    # not show already, a subscribed descendant the
                    # pattern does not reach.
                    below = any(o.startswith(n + "/") and not matches(ref, pat, o)
                                for o in subscribed)
                    childinfo = "CHILDINFO" in ext and "SUBSCRIBED" in ext
                    assert childinfo == below, (what, n, ext)
        m.logout()


def m_list(m, selection, ref, pat, ret=None):
    args = ([selection] if selection else []) + ['"%s"' % ref, '"%s"' % pat]
    if ret:
        args.append(ret)
    typ, data = m._simple_command("LIST", *args)
    assert typ == "OK", (args, data)
    typ, data = m._untagged_response(typ, data, "LIST")
    return parse_list(x.decode() for x in data if x)
