"""The full-text index (search/fts.h) narrows IMAP SEARCH BODY and TEXT
without changing one answer: the same store searched with TERN_FTS=off
(every message read) and, after a restart, with the index built in the
background, gives the same result to every search string drawn from the
corpus (whole words, pieces from inside words, phrases across
punctuation, long tokens, header text, case changes, UTF-8 words in
other charsets, strings in no message), alone and under NOT, OR and AND.
The log shows that the index spared reading messages; mail that arrives
after the index caught up, and expunged mail, are still answered right."""
import email
import email.policy
import glob
import imaplib
import os
import random
import re
import time

from harness import SANITIZED, Server
from jmapc import Jmap
from test_imap import BOB, BOB_PW, ctx

CORPUS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "corpora", "spam",
                      "train")

EXTRA = [
    # UTF-8 and Latin-1 bodies, encoded-word subjects, capitals to fold.
    b"From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@remote.test>\r\nTo: bob@example.test\r\n"
    b"Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    b"Stra\xc3\x9fenbahnhaltestelle am Marienplatz, \xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 "
    b"\xd0\xbc\xd0\xb8\xd1\x80, \xce\xa3\xce\x9f\xce\xa6\xce\x9f\xce\xa3 sofos.\r\n",
    b"From: anne@remote.test\r\nTo: bob@example.test\r\nSubject: caf\xe9\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"Un caf=E9 cr=E8me au Caf=C9 de Flore, tr=E8s-bien.\r\n",
    b"From: longtoken@remote.test\r\nTo: bob@example.test\r\nSubject: token\r\n\r\n"
    b"key=" + b"aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC2dF4gH6jK8mN0pQ2rS4tU6vW8xY0zA" + b" end\r\n"
    b"https://tracking.example.net/c/very-long-path-segment-with-many-words-in-it?id=12345\r\n",
    # HTML: searched as the text a reader sees, by the index and without.
    b"From: html@remote.test\r\nTo: bob@example.test\r\nSubject: zebrafinchhtml\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"<html><head><style>span.q { color: red }</style></head><body><div>=\r\n"
    b"<b>Hel</b>lo <span class=3D\"q\">wor</span>ld, d&eacute;j=E0 vu&nbsp;=\r\n"
    b"ici</div></body></html>\r\n",
]


# Against the sanitized build, half the messages: every search reads every
# message in the pass without the index, and the build is several times
# slower at it (this module was the sanitized run's costliest); memory
# errors need the code paths, which half the corpus still takes.
SHARE = 2 if SANITIZED else 1


def messages(rng):
    files = []
    for sub, n in (("ham/easy-ham-1", 150), ("ham/hard-ham-1", 100), ("spam/spam-1", 100)):
        got = sorted(glob.glob(os.path.join(CORPUS, sub, "*.eml")))
        files += rng.sample(got, min(n // SHARE, len(got)))
    return [open(f, "rb").read() for f in files] + EXTRA


def text_of(raw):
    """What Python reads as the message's text (a source of search strings
    only: tern's own decoding decides the answers)."""
    m = email.message_from_bytes(raw, policy=email.policy.default)
    out = [str(m.get("Subject", "")), str(m.get("From", ""))]
    for part in m.walk():
        if part.get_content_maintype() == "text":
            try:
                out.append(part.get_content())
            except Exception:
                pass
    return "\n".join(out)


def needles(msgs, rng):
    words_re = re.compile(r"[A-Za-z0-9\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]+")
    out = ["", "a", "--", "zqxjkvwy", "the", "http", "nbsp", "<td", "e-mail", "Subject: Re",
           "From: ", "@", "ünch", "привет", "σοφος", "CAFÉ", "très-bien", "straßenbahn",
           "GH7jK9mN1pQ3sT5vW7yZ9bC2dF4gH6jK8mN0", "many-words-in", "path-segment-with",
           "3sT5vW7", "sofos.", " am Marien", "hello world", "déjà vu ici", "span",
           "zebrafinchhtml"]
    for raw in rng.sample(msgs, 30):
        text = text_of(raw)
        words = [w for w in words_re.findall(text) if len(w) >= 3]
        if not words:
            continue
        w = rng.choice(words)
        out.append(w)
        out.append(w.upper())
        if len(w) >= 6:
            out.append(w[1:-1])  # inside a word
        out.append(" " + w[:4])  # a word's beginning
        for mt in list(re.finditer(r"\w+[ ,.:;/-]+\w+", text))[:1]:
            out.append(mt.group(0))  # across a separator
        longs = [t for t in re.findall(r"\S{40,}", text)]
        if longs:
            t = rng.choice(longs)
            out.append(t[17:50])
    seen, res = set(), []
    for n in out:
        if n not in seen and "\r" not in n and "\n" not in n:
            seen.add(n)
            res.append(n)
    return res


def search(m, keys, needle):
    """UID SEARCH CHARSET UTF-8 keys needle: quoted when it can be, else
    a literal (imaplib writes a literal and its line end apart, and Nagle
    holds the second for the server's delayed ACK: 40 ms a search)."""
    if needle is None:
        typ, data = m.uid("SEARCH", *keys)
    elif needle.isascii() and '"' not in needle and "\\" not in needle:
        typ, data = m.uid("SEARCH", "CHARSET", "UTF-8", *keys, '"%s"' % needle)
    else:
        m.literal = needle.encode("utf-8")
        typ, data = m.uid("SEARCH", "CHARSET", "UTF-8", *keys)
    assert typ == "OK", (keys, needle, data)
    return sorted(int(x) for x in data[-1].split())


FORMS = [("BODY",), ("TEXT",), ("NOT", "BODY"), ("OR", "BODY", '"zzzzqqq"', "TEXT"),
         ("UNSEEN", "TEXT"), ("BODY", '"e"', "BODY")]


def answers(s, qs, derive=False):
    """Each form's UIDs for each search string. derive: search BODY and
    TEXT only and work the other forms out by set algebra (the reference
    pass reads every message for every search: this is most of the
    module's time), from ALL, UNSEEN, BODY "e" and BODY "zzzzqqq"."""
    m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
    m.login(BOB, BOB_PW)
    m.select("INBOX")
    m.uid("STORE", "1:40", "+FLAGS", "(\\Seen)")
    res = {}
    if derive:
        every = set(search(m, ("ALL",), None))
        unseen = set(search(m, ("UNSEEN",), None))
        body_e, body_z = set(search(m, ("BODY",), "e")), set(search(m, ("BODY",), "zzzzqqq"))
    for q in qs:
        for f in FORMS:
            if not derive:
                res[(f, q)] = search(m, f, q)
            elif f in (("BODY",), ("TEXT",)):
                res[(f, q)] = search(m, f, q)
        if derive:
            body, text = set(res[(("BODY",), q)]), set(res[(("TEXT",), q)])
            res[(FORMS[2], q)] = sorted(every - body)
            res[(FORMS[3], q)] = sorted(body_z | text)
            res[(FORMS[4], q)] = sorted(unseen & text)
            res[(FORMS[5], q)] = sorted(body_e & body)
    m.logout()
    return res


JMAP_FORMS = [lambda q: {"text": q}, lambda q: {"body": q},
              lambda q: {"operator": "AND", "conditions": [{"text": q}, {"minSize": 1}]},
              lambda q: {"operator": "NOT", "conditions": [{"body": q}]}]


def jmap_answers(s, qs):
    """Email/query's ids for each filter (text, body, under AND and NOT)."""
    j = Jmap(s, BOB, BOB_PW)
    res = {}
    for q in qs[:40]:
        for k, f in enumerate(JMAP_FORMS):
            name, r = j.one("Email/query", {"filter": f(q), "sort": [{"property": "id"}]})
            assert name == "Email/query", r
            res[(k, q)] = r["ids"]
    return res


def counts(s, pattern, mark, want):
    """The numbers pattern captures in the log after mark, once there are
    want of them (a loop writes its lines a little later, log_defer)."""
    for _ in range(100):
        got = [int(x) for x in pattern.findall(s.log_text()[mark:])]
        if len(got) >= want:
            return got
        time.sleep(0.05)
    return got


def test_imap_fts_same_answers():
    rng = random.Random(20261125)
    msgs = messages(rng)
    s = Server(accounts=[(BOB, BOB_PW)], imap=True, http=True, env={"TERN_FTS": "off"},
               start=False)
    try:
        # Imported as a Maildir before the start: ids 1..n, quickly.
        md = os.path.join(s.tmp, "Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, sub))
        for i, raw in enumerate(msgs):
            with open(os.path.join(md, "cur", "%d.%d.test:2," % (1700000000 + i, i)), "wb") as f:
                f.write(raw.replace(b"\r\n", b"\n"))
        r = s.cli("import", BOB, md)
        assert r.returncode == 0, r
        s.start()
        qs = needles(msgs, rng)
        assert len(qs) > 100
        plain = answers(s, qs, derive=True)
        jplain = jmap_answers(s, qs)
        jread_re = re.compile(r"event=query_text account=\d+ emails=\d+ unread=(\d+)")
        assert not any(int(x) for x in jread_re.findall(s.log_text()))
        assert "event=fts_indexed" not in s.log_text()
        unread_re = re.compile(r"event=search_text searched=\d+ unread=(\d+)")
        unread_off = sum(counts(s, unread_re, 0, len(qs) * 2 + 2))
        # The HTML message is found by its text, not by its markup.
        html = plain[(("TEXT",), "zebrafinchhtml")]
        assert len(html) == 1, html
        assert set(html) <= set(plain[(("BODY",), "hello world")])
        assert set(html) <= set(plain[(("BODY",), "déjà vu ici")])
        assert not set(html) & set(plain[(("BODY",), "span")])
        hits = sum(1 for v in plain.values() if v)
        assert hits > len(plain) // 3, "the search strings should mostly match"

        s.stop()
        s.env["TERN_FTS"] = "on"
        s.start()
        n = len(msgs)
        assert s.wait_log(re.compile(r"event=fts_indexed account=\d+ emails=\d+ through=%d\b" % n),
                          timeout=120), s.log_text()[-3000:]
        mark = len(s.log_text())
        indexed = answers(s, qs)
        for k in plain:
            assert indexed[k] == plain[k], (k, plain[k], indexed[k])
        unread = counts(s, unread_re, mark, len(qs) * len(FORMS))
        assert len(unread) == len(qs) * len(FORMS), len(unread)
        # Most strings are rare words: the index spares most messages
        # (without it only the flags of "UNSEEN TEXT x" spare any).
        assert sum(unread) - unread_off > len(unread) * n // 3, (sum(unread), unread_off)

        mark = len(s.log_text())
        jindexed = jmap_answers(s, qs)
        for k in jplain:
            assert jindexed[k] == jplain[k], (k, jplain[k], jindexed[k])
        assert sum(1 for v in jplain.values() if v) > len(jplain) // 3
        junread = counts(s, jread_re, mark, len(jplain))
        # NOT narrows nothing; the other three forms do.
        assert len(junread) == len(jplain), len(junread)
        assert sum(junread) > len(junread) * n // 3, junread

        m = imaplib.IMAP4_SSL("127.0.0.1", s.imaps_port, ssl_context=ctx())
        m.login(BOB, BOB_PW)
        m.select("INBOX")
        # After the index: a new message is found before it is indexed ...
        typ, data = m.append("INBOX", None, None,
                             b"Subject: fresh\r\n\r\nquokkaberry marmalade\r\n")
        uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
        assert search(m, ("BODY",), "kkaberr") == [uid]
        # ... and once it is.
        assert s.wait_log(re.compile(r"through=%d\b" % (n + 1)), timeout=30)
        assert search(m, ("BODY",), "kkaberr") == [uid]
        assert search(m, ("BODY",), "quokkaberry marm") == [uid]
        # An expunged message's postings stay, its answer does not.
        m.uid("STORE", str(uid), "+FLAGS", "(\\Deleted)")
        m.expunge()
        assert search(m, ("BODY",), "kkaberr") == []
        m.logout()
    finally:
        s.cleanup()
