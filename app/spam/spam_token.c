/*
 * spam_token.c — the classifier's features (spam_private.h): words of
 * the subject and text, sparse bigrams, header and metadata tokens, each
 * a 64-bit hash.
 *
 * Words: runs of letters, digits and octets of UTF-8 sequences, with
 * '$', '\'', '-', '.', '@' and '_' allowed inside (prices, contractions,
 * host names and addresses stay one word); ASCII lowercased; 2..40
 * octets (a longer run gives one "long word" token of its first octet
 * and length band, as SpamBayes does). The word splitter is incremental
 * (spam_words_feed) so any chunking gives the same words.
 *
 * Han, Hiragana/Katakana and Hangul are written without spaces, so a
 * run of them was one "long word" token, which says nothing: a run gives
 * its overlapping character bigrams instead (a lone character itself),
 * as CJK-aware filters do, at most SPAM_CJK_RUN_MAX a run and
 * SPAM_CJK_MAX a message; CJK punctuation separates runs. Chosen by
 * 5-fold cross-validation on train/ (README "Spam filter").
 *
 * Pairs: each word paired with the SPAM_OSB_WINDOW - 1 words before it
 * (the distance part of the hash, as Rspamd's sparse bigrams), so word
 * order carries weight. Adjacent pairs only: wider windows (4, as Rspamd)
 * missed more spam in 5-fold cross-validation on the corpus's train/
 * (scripts/spam-cv; README "Spam filter"), as the many rare far pairs
 * of long narrative spam drown the clues. Subject words are their own
 * tokens and pairs, and body words as well.
 *
 * Header and metadata tokens: the names of the fields present (some
 * mailers are recognisable by which they send; a mailing list's fields
 * one name between them), the words of every
 * field's value keyed by the field (Received without its time stamp;
 * not Subject, Date or a mailing list's fields; nothing of the fields
 * tern adds), the Message-ID's shape (spam_msgid_shape), the sender's
 * domain, the URLs' hosts and their bases and their paths' words
 * (url_path_tokens), the sender's shape and whether the links go to
 * the sender's domains (sender_tokens),
 * attachment types, and bands of size (without tern's fields), HTML
 * share, image count and hidden text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "mime/rfc5322.h"
#include "spam/spam_private.h"

#define SPAM_OSB_WINDOW 2
#define SPAM_CJK_RUN_MAX 64 /* bigrams of one run */
#define SPAM_CJK_MAX 1000   /* of one message */

uint64_t spam_hash(const void *p, size_t n, uint64_t seed)
{
	/* FNV-1a 64 with a final avalanche (splitmix64's): cheap and spreads
	 * short inputs well enough for a 64-bit hash table key */
	const unsigned char *s = p;
	uint64_t h = 14695981039346656037ull ^ seed;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}

static int word_octet(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80 || c == '$' || c == '\'' || c == '-' || c == '.' || c == '@' || c == '_';
}

/* Inner punctuation: allowed inside a word, stripped at its ends. */
static int inner_only(unsigned char c)
{
	return c == '\'' || c == '-' || c == '.' || c == '@' || c == '_';
}

void spam_words_init(struct spam_words *t, spam_word_fn *fn, void *arg)
{
	t->fn = fn;
	t->arg = arg;
	t->len = 0;
	t->skip = 0;
	t->ulen = 0;
	t->cplen = 0;
	t->crun = 0;
	t->cleft = SPAM_CJK_MAX;
}

/* Han, Hiragana, Katakana and Hangul: scripts written without spaces, so
 * a run of them is a phrase or a sentence, not a word. */
static int cjk_char(uint32_t c)
{
	return (c >= 0x3040 && c <= 0x30ff) || (c >= 0x31f0 && c <= 0x31ff) ||
	       (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x4e00 && c <= 0x9fff) ||
	       (c >= 0xf900 && c <= 0xfaff) || (c >= 0x20000 && c <= 0x2ffff) ||
	       (c >= 0x1100 && c <= 0x11ff) || (c >= 0x3130 && c <= 0x318f) ||
	       (c >= 0xac00 && c <= 0xd7af) || (c >= 0xff66 && c <= 0xff9f);
}

/* The ideographic space and CJK punctuation (、。「」 and the fullwidth
 * ASCII punctuation) end a run as ASCII punctuation ends a word. */
static int cjk_separator(uint32_t c)
{
	return (c >= 0x3000 && c <= 0x303f) || (c >= 0xff01 && c <= 0xff0f) ||
	       (c >= 0xff1a && c <= 0xff20) || (c >= 0xff3b && c <= 0xff40) ||
	       (c >= 0xff5b && c <= 0xff65);
}

static void cjk_end(struct spam_words *t)
{
	/* a lone character is its own token: it has no bigram */
	if (t->crun == 1 && t->cleft) {
		t->cleft--;
		t->fn(t->arg, t->cprev, t->cplen);
	}
	t->cplen = 0;
	t->crun = 0;
}

static void cjk_add(struct spam_words *t, const unsigned char *u, unsigned n)
{
	if (t->crun && t->crun <= SPAM_CJK_RUN_MAX && t->cleft) {
		char bi[8];
		memcpy(bi, t->cprev, t->cplen);
		memcpy(bi + t->cplen, u, n);
		t->cleft--;
		t->fn(t->arg, bi, t->cplen + n);
	}
	memcpy(t->cprev, u, n);
	t->cplen = n;
	t->crun++;
}

static void word_end(struct spam_words *t)
{
	if (t->skip) {
		char lw[16];
		int n = snprintf(lw, sizeof lw, "\x01long%c%u", t->w[0], (unsigned)(t->skip / 10));
		t->fn(t->arg, lw, (size_t)n);
		t->skip = 0;
		t->len = 0;
		return;
	}
	size_t s = 0, e = t->len;
	while (s < e && inner_only((unsigned char)t->w[s]))
		s++;
	while (e > s && inner_only((unsigned char)t->w[e - 1]))
		e--;
	if (e - s >= 2)
		t->fn(t->arg, t->w + s, e - s);
	t->len = 0;
}

/* A word octet: ends a CJK run, then joins the word. */
static void word_octet_add(struct spam_words *t, unsigned char c)
{
	if (t->crun)
		cjk_end(t);
	if (t->skip) {
		t->skip++;
		return;
	}
	if (t->len == 40) { /* too long to be a word: count it */
		t->skip = 41;
		return;
	}
	t->w[t->len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
}

static void separator(struct spam_words *t)
{
	if (t->crun)
		cjk_end(t);
	if (t->len || t->skip)
		word_end(t);
}

/* A held sequence that turned out not to be UTF-8: its octets are word
 * octets, as every octet above 0x7f was before CJK runs were told apart. */
static void utf8_flush(struct spam_words *t)
{
	for (unsigned i = 0; i < t->ulen; i++)
		word_octet_add(t, t->u[i]);
	t->ulen = 0;
}

static void utf8_done(struct spam_words *t)
{
	uint32_t c = t->ulen == 2 ? (t->u[0] & 0x1fu) : t->ulen == 3 ? (t->u[0] & 0x0fu) : (t->u[0] & 0x07u);
	for (unsigned i = 1; i < t->ulen; i++)
		c = c << 6 | (t->u[i] & 0x3fu);
	if (cjk_char(c)) {
		if (t->len || t->skip)
			word_end(t);
		cjk_add(t, t->u, t->ulen);
		t->ulen = 0;
	} else if (cjk_separator(c)) {
		separator(t);
		t->ulen = 0;
	} else {
		utf8_flush(t);
	}
}

void spam_words_feed(struct spam_words *t, const char *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (t->ulen) {
			if ((c & 0xc0) == 0x80) {
				t->u[t->ulen++] = c;
				if (t->ulen == t->uneed)
					utf8_done(t);
				continue;
			}
			utf8_flush(t);
		}
		if (c >= 0xc2 && c <= 0xf4) { /* a UTF-8 lead: hold it until decoded */
			t->u[0] = c;
			t->ulen = 1;
			t->uneed = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			continue;
		}
		if (!word_octet(c))
			separator(t);
		else
			word_octet_add(t, c);
	}
}

void spam_words_finish(struct spam_words *t)
{
	if (t->ulen)
		utf8_flush(t);
	separator(t);
}

struct tok_acc {
	uint64_t *out;
	size_t n, max;
	uint64_t prev[SPAM_OSB_WINDOW - 1]; /* hashes of the words before */
	unsigned nprev;
	uint64_t seed; /* subject and body words differ */
	int pairs;     /* sparse bigrams too */
	unsigned cjk_left; /* CJK bigrams the message may still give */
	struct spam_sim *sim; /* the fuzzy hash's, fed these words when set */
};

static void emit(struct tok_acc *a, uint64_t h)
{
	if (a->n < a->max)
		a->out[a->n++] = h;
}

static void on_word(void *arg, const char *w, size_t n)
{
	struct tok_acc *a = arg;
	uint64_t h = spam_hash(w, n, a->seed);
	if (a->sim)
		spam_sim_word(a->sim, h);
	emit(a, h);
	if (!a->pairs)
		return;
	for (unsigned d = 0; d < a->nprev; d++)
		emit(a, (a->prev[d] * 0x9e3779b97f4a7c15ull + h) ^ (0x51ull + d));
	memmove(a->prev + 1, a->prev, sizeof a->prev - sizeof a->prev[0]);
	a->prev[0] = h;
	if (a->nprev < SPAM_OSB_WINDOW - 1)
		a->nprev++;
}

static void words_of(struct tok_acc *a, struct str s, uint64_t seed, int pairs)
{
	struct spam_words t;
	a->seed = seed;
	a->pairs = pairs;
	a->nprev = 0;
	spam_words_init(&t, on_word, a);
	t.cleft = a->cjk_left;
	spam_words_feed(&t, s.p, s.len);
	spam_words_finish(&t);
	a->cjk_left = t.cleft;
}

static void tok_str(struct tok_acc *a, const char *kind, struct str v)
{
	char b[300];
	size_t k = strlen(kind);
	size_t n = v.len > sizeof b - k ? sizeof b - k : v.len;
	memcpy(b, kind, k);
	for (size_t i = 0; i < n; i++) {
		char c = v.p[i];
		b[k + i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
	}
	emit(a, spam_hash(b, k + n, 7));
}

static unsigned band(uint64_t v)
{
	unsigned b = 0;
	while (v > 1 && b < 40) {
		v >>= 1;
		b++;
	}
	return b;
}

/* The fields a mailing list adds: which list carried a message says
 * nothing of what the message is, yet as words they are strong ham clues
 * (the lists a user reads are mostly ham), so spam that came through a
 * list looked like the list's ham. Their values are not tokens, and
 * their names one between them (list_field). Cross-validated on
 * train/ over five fold deals: held-out ham flagged 5.2 -> 4.2 and spam
 * missed 37.0 -> 33.2 on average (README "Spam filter"). */
static const char *const list_fields[] = {
    "x-beenthere", "x-mailman-version", "mailing-list", "x-loop", "errors-to", "sender",
    "precedence",
};

/* Fields whose values are not header tokens: the subject has its own
 * words and pairs, a date says when (the time a corpus was gathered, not
 * what mail is: Date gives its shape instead, header_tokens); nor are
 * the list fields' (list_field). The fields tern
 * adds (spam_field_ours: our verdicts, authentication results, our
 * Received) give no token at all, not even their names. */
static int value_skipped(const char *name)
{
	return !strcmp(name, "subject") || !strcmp(name, "date");
}

/* Whether name is one of a mailing list's fields (List-* and those
 * above). Their names are one token between them, "came through a
 * list": a list adds five to ten of them at once, and as that many clues
 * of one fact (the lists a user reads are mostly ham) they filled the
 * ham side of the strongest clues of spam that came through a list.
 * Cross-validated on train/ over eight fold deals (CV_SEED 0-7): held-out
 * spam missed 251 -> 219, ham flagged 33 -> 34 in all (README "Spam
 * filter"). */
static int list_field(const char *name)
{
	if (!strncmp(name, "list-", 5))
		return 1;
	for (size_t i = 0; i < sizeof list_fields / sizeof list_fields[0]; i++)
		if (!strcmp(name, list_fields[i]))
			return 1;
	return 0;
}

/* The Message-ID's shape: each run of digits one '9', each run of
 * letters one 'a' (a change of case starts a new run), each octet of a
 * UTF-8 sequence's run one 'u', other octets as they are, at most
 * SPAM_MSGID_SHAPE of them; "<20020823.1234@mail.example.com>" is
 * "<9.9@a.a.a>". Mailers and bulk senders each write their own: the
 * words of the field (header_tokens) tell one id from another, the shape
 * which program made it. Cross-validated on train/ over eight fold deals
 * (CV_SEED 0-7): held-out ham flagged / spam missed at the tag threshold
 * 31 / 121 -> 30 / 118 in all, no deal worse (app/spam/ACCURACY.md). */
#define SPAM_MSGID_SHAPE 48

size_t spam_msgid_shape(struct str id, char *out)
{
	size_t n = 0;
	char last = 0;
	for (size_t i = 0; i < id.len && n < SPAM_MSGID_SHAPE; i++) {
		unsigned char c = (unsigned char)id.p[i];
		char k = c >= '0' && c <= '9'   ? '9'
		         : c >= 'a' && c <= 'z' ? 'a'
		         : c >= 'A' && c <= 'Z' ? 'A'
		         : c >= 0x80            ? 'u'
		                                : (char)c;
		if (k == last && (k == '9' || k == 'a' || k == 'A' || k == 'u'))
			continue;
		out[n++] = k == 'A' ? 'a' : k;
		last = k;
	}
	return n;
}

#define SPAM_SENDER_DOMAINS 16 /* distinct link domains told apart */
#define SPAM_URL_PATH_URLS 64  /* URLs whose paths give words */
#define SPAM_URL_PATH_WORDS 16 /* words of one path */

static int url_word_octet(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* The words of a URL's path: runs of letters, digits and non-ASCII
 * octets between the host and the query ('?') or fragment ('#'), of 2 to
 * 20 octets, at most SPAM_URL_PATH_WORDS, each a token keyed apart from
 * the text's words ("/unsubscribe/", "/track/click", "/images/"): the
 * host tells who sent a link, its path what it is for. Only URLs with an
 * authority (scheme://). Cross-validated on train/ over eight fold deals
 * (CV_SEED 0-7), beside the Message-ID's shape: held-out ham flagged /
 * spam missed at the tag threshold 30 / 118 -> 29 / 119 in all, one ham
 * fewer at thresholds 3 to 7 (app/spam/ACCURACY.md). */
static void url_path_tokens(struct tok_acc *a, struct str url)
{
	const char *s = url.p;
	size_t n = url.len, i;
	if (!s)
		return;
	const char *c = memchr(s, ':', n < 12 ? n : 12);
	if (!c || (size_t)(c - s) + 3 > n || c[1] != '/' || c[2] != '/')
		return;
	i = (size_t)(c - s) + 3;
	while (i < n && s[i] != '/' && s[i] != '?' && s[i] != '#')
		i++; /* the authority */
	unsigned nw = 0;
	while (i < n && s[i] != '?' && s[i] != '#' && nw < SPAM_URL_PATH_WORDS) {
		if (!url_word_octet((unsigned char)s[i])) {
			i++;
			continue;
		}
		size_t b = i;
		while (i < n && url_word_octet((unsigned char)s[i]))
			i++;
		if (i - b >= 2 && i - b <= 20) {
			tok_str(a, "\x03up:", str_make(s + b, i - b));
			nw++;
		}
	}
}

/* The domain of the address in a field's value: after its last '@', up
 * to '>', white space or ';'; empty when there is no '@'. */
static struct str addr_domain(struct str v)
{
	const char *at = NULL;
	for (size_t i = 0; i < v.len; i++)
		if (v.p[i] == '@')
			at = v.p + i;
	if (!at)
		return (struct str){0};
	const char *e = at + 1, *end = v.p + v.len;
	while (e < end && *e != '>' && *e != ' ' && *e != '\t' && *e != ';')
		e++;
	return str_make(at + 1, (size_t)(e - at - 1));
}

/* The header's tokens; returns the octets of the fields tern adds, which
 * give none (spam_field_ours), for the size band to leave out, and sets
 * *rp_r to the first Return-Path's domain (empty without one). */
static size_t header_tokens(struct tok_acc *a, const struct spam_msg *m, struct str *rp_r)
{
	size_t ours = 0;
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used;
	char name[64];
	int listed = 0;
	rfc5322_init(&p);
	while (rfc5322_parse(&p, m->hdr + off, m->hdr_len - off, 1, &used, &f) == RFC5322_FIELD) {
		off += used;
		if (spam_field_ours(f.name, f.value)) {
			ours += used;
			continue;
		}
		if (!f.name.len || f.name.len >= sizeof name)
			continue;
		str_lower_into(f.name, name, sizeof name);
		if (!rp_r->len && !strcmp(name, "return-path"))
			*rp_r = addr_domain(f.value);
		if (list_field(name)) {
			if (!listed)
				tok_str(a, "\x02h:", STR_LIT("\x01list"));
			listed = 1;
			continue;
		}
		tok_str(a, "\x02h:", f.name);
		if (!strcmp(name, "date")) {
			/* not the date's words but how it is written (digit and
			 * letter runs folded, as the Message-ID's shape): a
			 * mailer's habit, not the day. Cross-validated on train/
			 * over eight fold deals: held-out spam missed 113 -> 110
			 * at the tag threshold, the same ham in every deal
			 * (ACCURACY.md, session 56) */
			char shape[SPAM_MSGID_SHAPE];
			tok_str(a, "\x06" "date:", str_make(shape, spam_msgid_shape(f.value, shape)));
		}
		if (value_skipped(name))
			continue;
		/* every other field's words, keyed by the field: the relays,
		 * mailer, list and addresses mail came with tell senders apart
		 * (cross-validated on the corpus's train/: README) */
		struct str v = f.value;
		if (!strcmp(name, "received")) {
			/* the hops, not the time stamp after the last ';' */
			size_t e = v.len;
			while (e > 0 && v.p[e - 1] != ';')
				e--;
			if (e > 0)
				v.len = e - 1;
		}
		if (v.len > 512)
			v.len = 512;
		words_of(a, v, spam_hash(name, strlen(name), 3), 0);
	}
	rfc5322_clear(&p);
	return ours;
}

/* The sender's tokens, each keyed "\x07x:" and a short name with a
 * small number (sender_tokens). rp: the Return-Path's domain. */
static void sender_tok(struct tok_acc *a, const char *k, unsigned v)
{
	char b[32];
	int n = snprintf(b, sizeof b, "%s%u", k, v);
	tok_str(a, "\x07x:", str_make(b, (size_t)n));
}

static int same_base(struct str base, struct str other_base)
{
	return base.len && other_base.len && str_eq_ci(base, other_base);
}

/* How a message's sender presents itself, as tokens: whether From has a
 * display name and whether it is only the address or its local part
 * again ("fn" 0 none, 1 a name, 2 the address), digits in From's local
 * part ("fd" 0, 1-2, 3+), the Return-Path's domain against From's
 * ("frp" 0 none, 1 the same, 2 the same registrable domain, 3 another),
 * the Message-ID's ("fmid" 0 none, 1 From's registrable domain, 2
 * another), Reply-To ("frt" 0 none, 1 From's address, 2 From's
 * registrable domain, 3 elsewhere). Then whether the links go where the
 * sender is: of the links with a host, none, some or all ("lf", "lr",
 * "lm": 0, 1, 2) at the registrable domain of From, the Return-Path and
 * the Message-ID, any of them ("lany"), and the number of distinct
 * registrable domains linked ("nd": 0, 1, 2, 3-4, 5-8, 9+). Bulk senders
 * with their own mail systems link and sign from their own domains,
 * spam sends from one place and links to another. Cross-validated on
 * train/ over eight fold deals (CV_SEED 0-7): held-out ham flagged /
 * spam missed at the tag threshold 29 / 119 -> 29 / 118, at 4 39 / 83
 * -> 38 / 82, at 6 24 / 177 -> 24 / 170, no deal with more ham
 * (app/spam/ACCURACY.md, session 54). link_base[i]: the registrable
 * domain of URL i's host (empty without a host). */
static void sender_tokens(struct tok_acc *a, const struct spam_msg *m, struct str rp,
                          const struct str *link_base)
{
	struct str fd = m->from_domain.len ? spam_domain_base(m->from_domain) : (struct str){0};
	struct str rpb = rp.len ? spam_domain_base(rp) : (struct str){0};
	struct str mid = addr_domain(m->message_id);
	struct str midb = mid.len ? spam_domain_base(mid) : (struct str){0};
	unsigned nl = 0, mf = 0, mr = 0, mm = 0, nd = 0;
	struct str seen[SPAM_SENDER_DOMAINS];
	for (uint32_t i = 0; i < m->nurls; i++) {
		struct str b = link_base[i];
		if (!m->urls[i].host.len)
			continue;
		nl++;
		mf += same_base(b, fd);
		mr += same_base(b, rpb);
		mm += same_base(b, midb);
		int dup = 0;
		for (unsigned j = 0; j < nd && j < SPAM_SENDER_DOMAINS; j++)
			dup |= str_eq_ci(seen[j], b);
		if (!dup) {
			if (nd < SPAM_SENDER_DOMAINS)
				seen[nd] = b;
			nd++; /* past the array, every new one counts: 9+ all the same */
		}
	}
	if (nl) {
		sender_tok(a, "lf", mf == 0 ? 0 : mf == nl ? 2 : 1);
		sender_tok(a, "lr", mr == 0 ? 0 : mr == nl ? 2 : 1);
		sender_tok(a, "lm", mm == 0 ? 0 : mm == nl ? 2 : 1);
		sender_tok(a, "lany", mf || mr || mm);
	}
	sender_tok(a, "nd", nd < 3 ? nd : nd < 5 ? 3 : nd < 9 ? 4 : 5);

	struct str fa = m->from_addr;
	size_t at = 0;
	while (at < fa.len && fa.p[at] != '@')
		at++;
	struct str local = str_make(fa.p, at);
	unsigned digits = 0;
	for (size_t i = 0; i < local.len; i++)
		digits += local.p[i] >= '0' && local.p[i] <= '9';
	sender_tok(a, "fn", !m->from_name.len                                              ? 0
	                    : str_eq_ci(m->from_name, local) || str_eq_ci(m->from_name, fa) ? 2
	                                                                                     : 1);
	sender_tok(a, "fd", digits == 0 ? 0 : digits < 3 ? 1 : 2);
	sender_tok(a, "frp", !rp.len                        ? 0
	                     : str_eq_ci(rp, m->from_domain) ? 1
	                     : same_base(rpb, fd)            ? 2
	                                                     : 3);
	sender_tok(a, "fmid", !mid.len ? 0 : same_base(midb, fd) ? 1 : 2);
	struct str rtb = m->reply_to_domain.len ? spam_domain_base(m->reply_to_domain) : (struct str){0};
	sender_tok(a, "frt", !m->reply_to_addr.len              ? 0
	                     : str_eq_ci(m->reply_to_addr, fa)   ? 1
	                     : same_base(rtb, fd)                ? 2
	                                                         : 3);
}

/* Sorts v[0..n) ascending: LSD radix, 8 passes of a byte, O(n) whatever
 * the input. qsort (musl's smoothsort, swapping through memcpy) was half
 * of `tern spam test`'s CPU time. */
static void radix_u64(uint64_t *v, size_t n)
{
	uint64_t *tmp = xmalloc((n ? n : 1) * sizeof *tmp), *src = v, *dst = tmp;
	for (unsigned shift = 0; shift < 64; shift += 8) {
		size_t count[257] = {0};
		for (size_t i = 0; i < n; i++)
			count[((src[i] >> shift) & 0xff) + 1]++;
		if (count[((src[0] >> shift) & 0xff) + 1] == n)
			continue; /* every key has this byte: nothing moves */
		for (unsigned b = 1; b < 257; b++)
			count[b] += count[b - 1];
		for (size_t i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & 0xff]++] = src[i];
		uint64_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof *v);
	free(tmp);
}

#define BUCKET_BITS 12
/* A fuller bucket (a word repeated that often, or words chosen to
 * collide) goes to radix_u64: insertion sort within buckets of at most
 * this many keys costs at most n x BUCKET_MAX / 2 moves. */
#define BUCKET_MAX 256

/* Sorts v[0..n) of hashes ascending: one pass into buckets by the top
 * bits (about as many as keys, at most 4,096), then insertion sort within each (a hash's top bits are
 * spread evenly: a bucket holds one or two distinct keys; equal keys,
 * a word repeated, do not move). Words chosen to fill one bucket cannot
 * make it quadratic: past BUCKET_MAX keys in a bucket the radix sort
 * does it all. */
void spam_sort_hashes(uint64_t *v, size_t n)
{
	if (n < 2)
		return; /* sorted already (and v may be NULL) */
	unsigned bits = 4; /* about as many buckets as keys */
	while (bits < BUCKET_BITS && ((size_t)1 << bits) < n)
		bits++;
	size_t nb = (size_t)1 << bits;
	uint32_t *count = xcalloc(nb + 1, sizeof *count);
	for (size_t i = 0; i < n; i++)
		count[(v[i] >> (64 - bits)) + 1]++;
	for (size_t b = 1; b <= nb; b++) {
		if (count[b] > BUCKET_MAX) {
			free(count);
			radix_u64(v, n);
			return;
		}
		count[b] += count[b - 1];
	}
	uint64_t *out = xmalloc((n ? n : 1) * sizeof *out);
	for (size_t i = 0; i < n; i++)
		out[count[v[i] >> (64 - bits)]++] = v[i];
	/* count[b] now ends bucket b: insertion sort each */
	size_t start = 0;
	for (size_t b = 0; b < nb; b++) {
		size_t end = count[b];
		for (size_t i = start + 1; i < end; i++) {
			uint64_t x = out[i];
			size_t j = i;
			while (j > start && out[j - 1] > x) {
				out[j] = out[j - 1];
				j--;
			}
			out[j] = x;
		}
		start = end;
	}
	memcpy(v, out, n * sizeof *v);
	free(out);
	free(count);
}

size_t spam_tokens(const struct spam_msg *m, uint64_t *out, size_t max)
{
	return spam_tokens_marked(m, out, NULL, max, NULL);
}

size_t spam_tokens_fuzzy(const struct spam_msg *m, uint64_t *out, size_t max, uint64_t *fuzzy_r)
{
	return spam_tokens_marked(m, out, NULL, max, fuzzy_r);
}

/* hdr[i] = 1 for each out[0..n) (sorted, unique) in h[0..nh) (sorted),
 * else 0: one walk over both. */
static void mark(const uint64_t *out, size_t n, const uint64_t *h, size_t nh, unsigned char *hdr)
{
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		while (j < nh && h[j] < out[i])
			j++;
		hdr[i] = j < nh && h[j] == out[i];
	}
}

size_t spam_tokens_marked(const struct spam_msg *m, uint64_t *out, unsigned char *hdr, size_t max,
                          uint64_t *fuzzy_r)
{
	struct tok_acc a = {.out = out, .max = max, .cjk_left = SPAM_CJK_MAX};
	struct spam_sim sim;
	char b[64];

	words_of(&a, m->subject, 11, 1);
	/* the subject's words are body words too (not its pairs): a word
	 * means much the same in either place, and the body's counts are
	 * the larger. Cross-validated on train/ over eight fold deals: spam
	 * missed 193 -> 186 in all, ham flagged 34 both (with the pairs too:
	 * 184 and 34, within noise, for more tokens) */
	if (fuzzy_r) { /* the subject's and the text's words, seed 0 */
		spam_sim_init(&sim);
		a.sim = &sim;
	}
	words_of(&a, m->subject, 0, 0);
	words_of(&a, m->text, 0, 1);
	a.sim = NULL;
	if (fuzzy_r)
		*fuzzy_r = spam_sim_final(&sim);
	if (m->hidden.len)
		words_of(&a, m->hidden, 13, 1);
	struct str rp = {0};
	size_t hdr_from = a.n;
	size_t ours = header_tokens(&a, m, &rp);
	/* the header's tokens, told apart for the classifier's choice of
	 * clues (spam_model_classify: at most SPAM_HEADER_CLUES of them) */
	uint64_t *hdr_tok = NULL;
	size_t nhdr = hdr ? a.n - hdr_from : 0;
	if (nhdr) {
		hdr_tok = xmalloc(nhdr * sizeof *hdr_tok);
		memcpy(hdr_tok, out + hdr_from, nhdr * sizeof *hdr_tok);
		spam_sort_hashes(hdr_tok, nhdr);
	}
	/* the sender's tokens before the rest: a message with more tokens
	 * than SPAM_TOKENS_MAX loses the last ones */
	struct str *link_base = xmalloc((m->nurls ? m->nurls : 1) * sizeof *link_base);
	for (uint32_t i = 0; i < m->nurls; i++)
		link_base[i] = spam_domain_base(m->urls[i].host);
	sender_tokens(&a, m, rp, link_base);
	if (m->message_id.len) {
		char shape[SPAM_MSGID_SHAPE];
		tok_str(&a, "\x06mid:", str_make(shape, spam_msgid_shape(m->message_id, shape)));
	}
	if (m->from_domain.len)
		tok_str(&a, "\x03from:", m->from_domain);
	if (m->reply_to_domain.len)
		tok_str(&a, "\x03rt:", m->reply_to_domain);
	for (uint32_t i = 0; i < m->nurls; i++) {
		tok_str(&a, "\x03u:", m->urls[i].host);
		tok_str(&a, "\x03ub:", link_base[i]);
		if (i < SPAM_URL_PATH_URLS)
			url_path_tokens(&a, m->urls[i].url);
	}
	free(link_base);
	for (uint32_t i = 0; i < m->nattach; i++)
		tok_str(&a, "\x03at:", m->attach[i].type);
	int n = snprintf(b, sizeof b, "\x04size%u html%u img%u hid%u urls%u flags%u",
	                 band(m->size - ours), band(m->html_len), band(m->nimages),
	                 band(m->hidden.len), band(m->nurls), m->flags & (SPAM_MSG_HTML | SPAM_MSG_PLAIN));
	tok_str(&a, "", str_make(b, (size_t)n));

	if (a.n)
		spam_sort_hashes(out, a.n);
	size_t u = 0;
	for (size_t i = 0; i < a.n; i++)
		if (u == 0 || out[u - 1] != out[i])
			out[u++] = out[i];
	if (hdr)
		mark(out, u, hdr_tok, nhdr, hdr);
	free(hdr_tok);
	return u;
}
