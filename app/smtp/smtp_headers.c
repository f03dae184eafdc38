/*
 * smtp_headers.c — the header facts the submission policy checks: From
 * addresses (strictly parsed, see smtp_headers.h), Date and Message-ID.
 */
#include "smtp/smtp_headers.h"

#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "mime/rfc5322.h"

static struct str unfold(struct arena *a, struct str value)
{
	char *v = arena_alloc(a, value.len + 1);
	size_t n = rfc5322_unfold(value, v);
	v[n] = '\0';
	return str_make(v, n);
}

/* 1 when raw holds a CR that does not end a line. */
static int has_bare_cr(struct str raw)
{
	for (const char *c = memchr(raw.p, '\r', raw.len); c;
	     c = memchr(c + 1, '\r', raw.len - (size_t)(c + 1 - raw.p)))
		if (c + 1 == raw.p + raw.len || c[1] != '\n')
			return 1;
	return 0;
}

int smtp_headers_scan(struct arena *a, const char *msg, size_t len, struct smtp_headers *h)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0;
	int r, ret = 0;

	memset(h, 0, sizeof(*h));
	rfc5322_init(&p);
	for (;;) {
		size_t used = 0;
		r = rfc5322_parse(&p, msg + off, len - off, 1, &used, &f);
		off += used;
		if (r == RFC5322_FIELD) {
			/* A bare CR (BDAT and JMAP let one through) ends a
			 * line for some readers (Python's email): in
			 * "X: a<CR>From: b" they would show a From that was
			 * never checked. */
			if (has_bare_cr(f.raw))
				h->malformed = 1;
			if (f.name.len == 0) {
				/* A line that is not "Name: value" (rfc5322.h
				 * keeps it in the header). */
				h->malformed = 1;
			} else if (str_eq_ci_c(f.name, "From")) {
				if (h->from_fields++ == 0) {
					h->from = unfold(a, f.value);
					/* Where it is, for submission's display name
					 * (the raw field lies in msg: all of it was given). */
					if (f.raw.p >= msg && f.raw.p + f.raw.len <= msg + len) {
						h->from_start = (uint64_t)(f.raw.p - msg);
						h->from_end = h->from_start + f.raw.len;
					}
				}
			} else if (str_eq_ci_c(f.name, "Sender")) {
				if (h->sender_fields++ == 0)
					h->sender = unfold(a, f.value);
			} else if (str_eq_ci_c(f.name, "Resent-From")) {
				if (h->resent_from_fields < SMTP_RESENT_MAX)
					h->resent_from[h->resent_from_fields] = unfold(a, f.value);
				h->resent_from_fields++;
			} else if (str_eq_ci_c(f.name, "Resent-Sender")) {
				if (h->resent_sender_fields < SMTP_RESENT_MAX)
					h->resent_sender[h->resent_sender_fields] = unfold(a, f.value);
				h->resent_sender_fields++;
			} else if (str_eq_ci_c(f.name, "Date")) {
				h->date_fields++;
			} else if (str_eq_ci_c(f.name, "Message-ID")) {
				h->msgid_fields++;
			}
			continue;
		}
		if (r == RFC5322_END) {
			h->header_end = p.body_offset;
			h->no_separator = p.no_separator;
			break;
		}
		if (r == RFC5322_MORE) {
			/* eof was given: nothing more can come; the whole input
			 * was header. */
			h->header_end = len;
			h->no_separator = 1;
			break;
		}
		ret = -1;
		break;
	}
	rfc5322_clear(&p);
	return ret;
}

/* ---- the strict From parser ---- */

enum tok_kind { TK_END, TK_ATOM, TK_QSTR, TK_SPECIAL, TK_BAD };

struct tok {
	enum tok_kind kind;
	char c; /* TK_SPECIAL: the character */
	int spaced; /* white space or a comment came before it */
	struct str text;
};

struct lexer {
	struct str v;
	size_t pos;
	/* What a reader may show of the current mailbox: its phrase words and
	 * comments (NULL when the caller wants no names). */
	char *shown;
	size_t shown_len, shown_max;
};

/* Adds p[0..n) to the shown text, after a space when sep says so. */
static void shown_add(struct lexer *l, const char *p, size_t n, int sep)
{
	if (!l->shown)
		return;
	if (sep && l->shown_len && l->shown_len < l->shown_max)
		l->shown[l->shown_len++] = ' ';
	for (size_t i = 0; i < n && l->shown_len < l->shown_max; i++)
		l->shown[l->shown_len++] = p[i];
}

static int is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1; /* RFC 6532: UTF-8 in headers */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL && c != '\0';
}

/* Skips white space and (nested) comments. Returns -1 on an unclosed comment. */
static int skip_cfws(struct lexer *l)
{
	while (l->pos < l->v.len) {
		char c = l->v.p[l->pos];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			l->pos++;
			continue;
		}
		if (c != '(')
			return 0;
		unsigned depth = 0;
		size_t open = l->pos;
		do {
			c = l->v.p[l->pos++];
			if (c == '\\') {
				if (l->pos >= l->v.len)
					return -1;
				l->pos++;
			} else if (c == '(') {
				depth++;
			} else if (c == ')') {
				depth--;
			}
		} while (depth > 0 && l->pos < l->v.len);
		if (depth > 0)
			return -1;
		/* Readers show comments ("a@b (Name)" is an old display name). */
		shown_add(l, l->v.p + open + 1, l->pos - open - 2, 1);
	}
	return 0;
}

static void lex_next(struct lexer *l, struct tok *t)
{
	size_t before = l->pos;

	memset(t, 0, sizeof(*t));
	int r = skip_cfws(l);
	t->spaced = l->pos != before;
	if (r < 0) {
		t->kind = TK_BAD;
		return;
	}
	if (l->pos >= l->v.len) {
		t->kind = TK_END;
		return;
	}
	size_t start = l->pos;
	unsigned char c = (unsigned char)l->v.p[l->pos];
	if (c == '"') {
		l->pos++;
		while (l->pos < l->v.len && l->v.p[l->pos] != '"') {
			if (l->v.p[l->pos] == '\\')
				l->pos++;
			l->pos++;
		}
		if (l->pos >= l->v.len) {
			t->kind = TK_BAD;
			return;
		}
		l->pos++;
		t->kind = TK_QSTR;
		t->text = str_make(l->v.p + start, l->pos - start);
		return;
	}
	if (is_atext(c)) {
		while (l->pos < l->v.len && is_atext((unsigned char)l->v.p[l->pos]))
			l->pos++;
		t->kind = TK_ATOM;
		t->text = str_make(l->v.p + start, l->pos - start);
		return;
	}
	l->pos++;
	t->kind = TK_SPECIAL;
	t->c = (char)c;
	t->text = str_make(l->v.p + start, 1);
}

static int is_special(const struct tok *t, char c)
{
	return t->kind == TK_SPECIAL && t->c == c;
}

/* A dot-atom: no leading, trailing or doubled dot. */
static int dot_atom_ok(struct str s)
{
	if (s.len == 0 || s.p[0] == '.' || s.p[s.len - 1] == '.')
		return 0;
	for (size_t i = 1; i < s.len; i++)
		if (s.p[i] == '.' && s.p[i - 1] == '.')
			return 0;
	return 1;
}

/*
 * Reads addr-spec (local "@" domain) starting with token *t; leaves the
 * token after the domain in *t. Writes the address to *out_r.
 */
static int read_addr_spec(struct arena *a, struct lexer *l, struct tok *t, char **out_r)
{
	struct str local, domain;

	if (t->kind == TK_QSTR)
		local = t->text;
	else if (t->kind == TK_ATOM && dot_atom_ok(t->text))
		local = t->text;
	else
		return -1;
	lex_next(l, t);
	if (!is_special(t, '@'))
		return -1;
	lex_next(l, t);
	if (t->kind != TK_ATOM || !dot_atom_ok(t->text))
		return -1;
	domain = t->text;
	char *o = arena_alloc(a, local.len + domain.len + 2);
	memcpy(o, local.p, local.len);
	o[local.len] = '@';
	for (size_t i = 0; i < domain.len; i++) {
		char c = domain.p[i];
		o[local.len + 1 + i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	o[local.len + 1 + domain.len] = '\0';
	*out_r = o;
	lex_next(l, t);
	return 0;
}

/*
 * A word (a quoted string without quotes and backslashes) to the shown
 * text, after a space only when there was one: readers join words written
 * together ("bob""@x.test" shows as bob@x.test in Python's email).
 */
static void shown_word(struct lexer *l, const struct tok *t)
{
	if (!l->shown)
		return;
	if (t->kind != TK_QSTR) {
		shown_add(l, t->text.p, t->text.len, t->spaced);
		return;
	}
	shown_add(l, "", 0, t->spaced);
	for (size_t i = 1; i + 1 < t->text.len && l->shown_len < l->shown_max; i++) {
		if (t->text.p[i] == '\\' && i + 2 < t->text.len)
			i++;
		l->shown[l->shown_len++] = t->text.p[i];
	}
}

/* The shown text of one mailbox, encoded-words decoded, into a. */
static char *shown_finish(struct arena *a, struct lexer *l)
{
	struct buf dec;
	char *out;

	buf_init(&dec, 4 * l->shown_len + 64);
	rfc5322_decode_words(str_make(l->shown, l->shown_len), &dec); /* a prefix past the cap */
	out = arena_strndup(a, buf_data(&dec), buf_len(&dec));
	buf_free(&dec);
	l->shown_len = 0;
	return out;
}

int smtp_from_addresses(struct arena *a, struct str value, char **addrs_r, unsigned max)
{
	return smtp_from_mailboxes(a, value, addrs_r, NULL, max);
}

int smtp_from_mailboxes(struct arena *a, struct str value, char **addrs_r, char **names_r,
			unsigned max)
{
	struct lexer l = { value, 0, NULL, 0, 0 };
	struct tok t;
	unsigned n = 0;

	if (value.len && memchr(value.p, '\0', value.len)) /* p is NULL when empty */
		return -1;
	if (names_r) {
		l.shown_max = 2 * value.len + 2;
		l.shown = arena_alloc(a, l.shown_max);
	}
	lex_next(&l, &t);
	for (;;) {
		/* One mailbox: either addr-spec, or [phrase] "<" addr-spec ">".
		 * Which one is known only after the words: a lone word
		 * followed by "@" is a local part. */
		struct lexer save = l;
		struct tok first = t;
		unsigned words = 0;
		while (t.kind == TK_ATOM || t.kind == TK_QSTR) {
			words++;
			shown_word(&l, &t);
			lex_next(&l, &t);
		}
		if (n == max)
			return -1;
		if (is_special(&t, '<')) {
			lex_next(&l, &t);
			if (read_addr_spec(a, &l, &t, &addrs_r[n]) < 0 || !is_special(&t, '>'))
				return -1;
			lex_next(&l, &t);
		} else if (words == 1 && is_special(&t, '@')) {
			/* No phrase after all: the word was the local part. */
			l = save;
			t = first;
			if (read_addr_spec(a, &l, &t, &addrs_r[n]) < 0)
				return -1;
		} else {
			return -1;
		}
		if (names_r)
			names_r[n] = shown_finish(a, &l);
		n++;
		if (t.kind == TK_END)
			return (int)n;
		if (!is_special(&t, ','))
			return -1;
		lex_next(&l, &t);
	}
}

/* ---- what a display name shows ---- */

static int local_char(unsigned char c)
{
	return c != '@' && (is_atext(c) || c == '"');
}

static int domain_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c >= 0x80;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Length of an at sign at p: '@', FULLWIDTH (U+FF20) or SMALL (U+FE6B)
 * COMMERCIAL AT, which a reader shows as one; 0 for anything else. */
static size_t at_sign(const char *p, size_t left)
{
	if (left >= 1 && p[0] == '@')
		return 1;
	if (left >= 3 && (unsigned char)p[0] == 0xef &&
	    (((unsigned char)p[1] == 0xbc && (unsigned char)p[2] == 0xa0) ||
	     ((unsigned char)p[1] == 0xb9 && (unsigned char)p[2] == 0xab)))
		return 3;
	return 0;
}

/* Length of a dot at p: '.', or one a reader shows as a full stop in a
 * domain: IDEOGRAPHIC (U+3002), FULLWIDTH (U+FF0E) and HALFWIDTH
 * IDEOGRAPHIC (U+FF61) FULL STOP, which IDNA takes for label separators,
 * SMALL FULL STOP (U+FE52) and ONE DOT LEADER (U+2024); 0 for anything
 * else. */
static size_t dot_sign(const char *p, size_t left)
{
	static const char *const dots[] = {"\xe3\x80\x82", "\xef\xbc\x8e", "\xef\xbd\xa1",
	                                   "\xef\xb9\x92", "\xe2\x80\xa4"};

	if (left >= 1 && p[0] == '.')
		return 1;
	for (size_t k = 0; left >= 3 && k < sizeof dots / sizeof dots[0]; k++)
		if (memcmp(p, dots[k], 3) == 0)
			return 3;
	return 0;
}

int smtp_name_shows_other(const char *name, const char *addr, smtp_shown_ok_fn *ok, void *arg)
{
	size_t n = strlen(name), alen = strlen(addr);
	const char *aat = strrchr(addr, '@');

	for (size_t i = 0; i < n; i++) {
		size_t at = at_sign(name + i, n - i);
		if (!at)
			continue;
		size_t b = i, e = i + at, end = e, dots = 0, dots_in = 0;
		int lookalike = at != 1;
		while (b > 0 && local_char((unsigned char)name[b - 1]))
			b--;
		/* Trailing dots end a sentence, not a domain: the domain ends
		 * after its last character that is not a dot. */
		while (e < n && domain_char((unsigned char)name[e])) {
			size_t d = dot_sign(name + e, n - e);
			if (d) {
				dots++;
				lookalike |= d != 1;
				e += d;
				continue;
			}
			end = ++e;
			dots_in = dots;
		}
		e = end;
		dots = dots_in;
		if (b == i || e == i + at || dots == 0)
			continue; /* "@", "x@" or "@host": not an address */
		/* Shown as local@domain: the same address (ignoring case) is fine. */
		size_t llen = i - b, dlen = e - i - at;
		int same = at == 1 && aat && llen == (size_t)(aat - addr) &&
			   dlen == alen - llen - 1;
		for (size_t k = 0; same && k < llen; k++)
			same = lower((unsigned char)name[b + k]) == lower((unsigned char)addr[k]);
		for (size_t k = 0; same && k < dlen; k++)
			same = lower((unsigned char)name[i + 1 + k]) == lower((unsigned char)aat[1 + k]);
		if (!same) {
			/* Another address the caller accepts (one the sender owns)
			 * is shown truthfully; a look-alike at sign or dot never is. */
			char shown[SMTP_SHOWN_ADDR_MAX + 1];
			if (!ok || lookalike || e - b > SMTP_SHOWN_ADDR_MAX)
				return 1;
			memcpy(shown, name + b, e - b);
			shown[e - b] = '\0';
			if (!ok(arg, shown))
				return 1;
		}
		i = e - 1;
	}
	return 0;
}
