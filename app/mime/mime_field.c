/*
 * mime_field.c — Content-Type style parameters with RFC 2231, address
 * lists, token lists (see mime_field.h).
 */
#include "mime/mime_field.h"

#include <stdlib.h>
#include <string.h>

#include "core/hex.h"
#include "core/xalloc.h"
#include "mime/mime_decode.h"

/* Raw "attribute=value" pairs looked at per field, RFC 2231 sections included. */
#define RAW_PARAMS_MAX 256
/* Highest RFC 2231 section number accepted ("name*9999"). */
#define SECTION_MAX 9999

struct lex {
	const char *p;
	size_t len, i;
	struct str comment; /* inside of the last comment skipped */
};

static int is_ws(char c)
{
	/* CR and LF can survive unfolding as stray octets. */
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips white space and (nested) comments, remembering the last comment. */
static void skip_cfws(struct lex *l)
{
	for (;;) {
		while (l->i < l->len && is_ws(l->p[l->i]))
			l->i++;
		if (l->i >= l->len || l->p[l->i] != '(')
			return;
		size_t start = l->i + 1, depth = 0;

		while (l->i < l->len) {
			char c = l->p[l->i];

			if (c == '\\' && l->i + 1 < l->len) {
				l->i += 2;
				continue;
			}
			if (c == '(') {
				depth++;
			} else if (c == ')' && --depth == 0) {
				break;
			}
			l->i++;
		}
		l->comment = str_make(l->p + start, (l->i < l->len ? l->i : l->len) - start);
		if (l->i < l->len)
			l->i++;
	}
}

static int is_tspecial(char c)
{
	return c != '\0' && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* RFC 2045 token octet. */
static int is_token(char c)
{
	unsigned char u = (unsigned char)c;

	return u > 32 && u < 127 && !is_tspecial(c);
}

static struct str read_token(struct lex *l)
{
	size_t s = l->i;

	while (l->i < l->len && is_token(l->p[l->i]))
		l->i++;
	return str_make(l->p + s, l->i - s);
}

/* Index just past the quoted-string starting at l->i (its '"'), or len. */
static size_t quoted_end(const struct lex *l, size_t *has_escape_r)
{
	size_t i = l->i + 1;

	*has_escape_r = 0;
	while (i < l->len && l->p[i] != '"') {
		if (l->p[i] == '\\' && i + 1 < l->len) {
			(*has_escape_r)++;
			i++;
		}
		i++;
	}
	return i;
}

/* Content of p[0..n) with quoted-pairs resolved, written to dst; returns length. */
static size_t unescape(const char *p, size_t n, char *dst)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\\' && i + 1 < n)
			i++;
		dst[k++] = p[i];
	}
	return k;
}

/* Reads a quoted-string at l->i; the content is a slice or an arena copy. */
static struct str read_quoted(struct arena *a, struct lex *l)
{
	size_t esc, end = quoted_end(l, &esc), s = l->i + 1;
	struct str r;

	if (esc) {
		char *d = arena_alloc(a, end - s + 1);

		r = str_make(d, unescape(l->p + s, end - s, d));
	} else {
		r = str_make(l->p + s, end - s);
	}
	l->i = end < l->len ? end + 1 : end;
	return r;
}

/* Moves to the next ';' at this level (quoted strings and comments skipped). */
static void skip_to_semicolon(struct lex *l)
{
	size_t esc;

	while (l->i < l->len && l->p[l->i] != ';') {
		if (l->p[l->i] == '"') {
			l->i = quoted_end(l, &esc);
			if (l->i < l->len)
				l->i++;
		} else if (l->p[l->i] == '(') {
			skip_cfws(l);
		} else {
			l->i++;
		}
	}
}

/* A lenient unquoted parameter value: anything up to ';', white space
 * before a comment or a quote, or the end; inner spaces are kept. */
static struct str read_bare_value(struct lex *l)
{
	size_t s = l->i;

	/* An RFC 2045 §5.1 token ends at white space: what follows it up to
	 * the next ';' ("charset=us-ascii format=flowed") is not part of
	 * the value, and the caller skips it, as Dovecot does. "/", "=" and
	 * "?" stay in (real mailers write them unquoted). */
	while (l->i < l->len && l->p[l->i] != ';' && l->p[l->i] != '"' && l->p[l->i] != '(' &&
	       !is_ws(l->p[l->i]))
		l->i++;
	return str_make(l->p + s, l->i - s);
}

struct raw_param {
	struct str attr, value;
	struct str base; /* RFC 2231: name without the star part */
	unsigned section;
	unsigned ext : 1; /* value is charset'lang'%XX or %XX */
	unsigned is2231 : 1;
	unsigned used : 1;
};

static void classify_2231(struct raw_param *r)
{
	ptrdiff_t star = str_chr(r->attr, '*');
	size_t k = 0, d;
	struct str rest;

	r->is2231 = 0;
	if (star <= 0)
		return;
	rest = str_make(r->attr.p + star + 1, r->attr.len - (size_t)star - 1);
	r->base = str_make(r->attr.p, (size_t)star);
	if (rest.len == 0) {
		r->is2231 = 1;
		r->ext = 1;
		r->section = 0;
		return;
	}
	while (k < rest.len && rest.p[k] >= '0' && rest.p[k] <= '9')
		k++;
	if (k == 0 || k > 4 || (k > 1 && rest.p[0] == '0'))
		return;
	if (k == rest.len)
		r->ext = 0;
	else if (k + 1 == rest.len && rest.p[k] == '*')
		r->ext = 1;
	else
		return;
	r->section = 0;
	for (d = 0; d < k; d++)
		r->section = r->section * 10 + (unsigned)(rest.p[d] - '0');
	r->is2231 = r->section <= SECTION_MAX;
}

/* RFC 2231 §4: %XX in an extended value; a bad '%' stays as sent. dst
 * has room for s.len + 1 (decoding never lengthens). */
static size_t percent_decode(struct str s, char *dst)
{
	size_t n = 0;

	(void)pct_decode(s.p, s.len, dst, s.len + 1, &n, PCT_LENIENT);
	return n;
}

/* Joins the sections of the RFC 2231 parameter raw[first] and its siblings. */
static void join_2231(struct arena *a, struct raw_param *raw, size_t nraw, size_t first,
                      struct mime_param *out)
{
	size_t idx[RAW_PARAMS_MAX], n = 0, i, j, total = 0, len = 0;
	int any_ext = 0;
	char *buf;
	struct str charset = STR_NULL, lang = STR_NULL;

	for (i = first; i < nraw; i++) {
		if (!raw[i].is2231 || raw[i].used || !str_eq_ci(raw[i].base, raw[first].base))
			continue;
		raw[i].used = 1;
		/* Insertion sort by section; the first of a duplicate wins. */
		for (j = n; j > 0 && raw[idx[j - 1]].section > raw[i].section; j--)
			idx[j] = idx[j - 1];
		idx[j] = i;
		n++;
		total += raw[i].value.len;
	}
	buf = arena_alloc(a, total + 1);
	for (i = 0; i < n; i++) {
		struct raw_param *r = &raw[idx[i]];
		struct str v = r->value;

		if (i > 0 && raw[idx[i - 1]].section == r->section)
			continue;
		if (r->ext) {
			any_ext = 1;
			if (i == 0 && r->section == 0) {
				ptrdiff_t q1 = str_chr(v, '\''), q2;

				charset = str_make(v.p, 0);
				lang = str_make(v.p, 0);
				if (q1 >= 0) {
					charset = str_make(v.p, (size_t)q1);
					v = str_make(v.p + q1 + 1, v.len - (size_t)q1 - 1);
					q2 = str_chr(v, '\'');
					if (q2 >= 0) {
						lang = str_make(v.p, (size_t)q2);
						v = str_make(v.p + q2 + 1, v.len - (size_t)q2 - 1);
					}
				}
			}
			len += percent_decode(v, buf + len);
		} else {
			memcpy(buf + len, v.p, v.len);
			len += v.len;
		}
	}
	memset(out, 0, sizeof(*out));
	out->name = raw[first].base;
	out->value = str_make(buf, len);
	if (!any_ext)
		return;
	out->flags = MIME_PARAM_EXTENDED;
	out->charset = charset.p ? charset : str_make(buf, 0);
	out->language = lang.p ? lang : str_make(buf, 0);
	if (mime_charset_known(out->charset)) {
		char *u = arena_alloc(a, 3 * len + 1);
		ptrdiff_t un = mime_charset_to_utf8(out->charset, buf, len, u);

		out->value = str_make(u, (size_t)un);
		out->flags |= MIME_PARAM_UTF8;
	}
}

int mime_field_params(struct arena *a, struct str v, struct str *value_r, struct str *subtype_r,
                      struct mime_param **params_r, uint32_t *nparams_r, uint32_t max_params)
{
	struct lex l = {v.p, v.len, 0, STR_NULL};
	struct raw_param *raw;
	struct mime_param *out;
	size_t nraw = 0, cap = 1, i;
	uint32_t n = 0;

	*value_r = STR_NULL;
	if (subtype_r)
		*subtype_r = STR_NULL;
	*params_r = NULL;
	*nparams_r = 0;

	skip_cfws(&l);
	*value_r = read_token(&l);
	if (value_r->len == 0)
		goto bad;
	if (subtype_r) {
		skip_cfws(&l);
		if (l.i >= l.len || l.p[l.i] != '/')
			goto bad;
		l.i++;
		skip_cfws(&l);
		*subtype_r = read_token(&l);
		if (subtype_r->len == 0)
			goto bad;
	}

	for (i = l.i; i < v.len; i++)
		cap += v.p[i] == ';';
	if (cap > RAW_PARAMS_MAX)
		cap = RAW_PARAMS_MAX;
	raw = arena_alloc(a, cap * sizeof(*raw));
	while (nraw < cap) {
		struct raw_param *r = &raw[nraw];

		skip_cfws(&l);
		if (l.i >= l.len)
			break;
		if (l.p[l.i] != ';') {
			skip_to_semicolon(&l);
			continue;
		}
		l.i++;
		skip_cfws(&l);
		memset(r, 0, sizeof(*r));
		/* '*' is a token octet, so RFC 2231 names come whole. */
		r->attr = read_token(&l);
		skip_cfws(&l);
		if (r->attr.len == 0 || l.i >= l.len || l.p[l.i] != '=')
			continue; /* the loop skips to the next ';' */
		l.i++;
		skip_cfws(&l);
		if (l.i < l.len && l.p[l.i] == '"')
			r->value = read_quoted(a, &l);
		else
			r->value = read_bare_value(&l);
		classify_2231(r);
		nraw++;
	}

	if (nraw == 0)
		return 0;
	out = arena_alloc(a, nraw * sizeof(*out));
	for (i = 0; i < nraw && n < max_params; i++) {
		if (raw[i].used)
			continue;
		if (raw[i].is2231) {
			join_2231(a, raw, nraw, i, &out[n++]);
			continue;
		}
		memset(&out[n], 0, sizeof(out[n]));
		out[n].name = raw[i].attr;
		out[n].value = raw[i].value;
		n++;
	}
	*params_r = n ? out : NULL;
	*nparams_r = n;
	return 0;
bad:
	*value_r = str_make(v.p, 0);
	if (subtype_r)
		*subtype_r = str_make(v.p, 0);
	return -1;
}

struct str mime_param_get(const struct mime_param *params, uint32_t n, const char *name)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (str_eq_ci_c(params[i].name, name))
			return params[i].value;
	return STR_NULL;
}

void mime_field_tokens(struct arena *a, struct str v, struct str **list_r, uint32_t *n_r,
                       uint32_t max)
{
	struct lex l = {v.p, v.len, 0, STR_NULL};
	size_t cap = 1, i;
	struct str *list;
	uint32_t n = 0;

	*list_r = NULL;
	*n_r = 0;
	for (i = 0; i < v.len; i++)
		cap += v.p[i] == ',';
	if (cap > max)
		cap = max;
	if (cap == 0)
		return;
	list = arena_alloc(a, cap * sizeof(*list));
	while (n < cap) {
		skip_cfws(&l);
		if (l.i >= l.len)
			break;
		size_t s = l.i;

		while (l.i < l.len && l.p[l.i] != ',' && l.p[l.i] != '(' && !is_ws(l.p[l.i]))
			l.i++;
		if (l.i > s)
			list[n++] = str_make(l.p + s, l.i - s);
		skip_cfws(&l);
		/* Anything else up to the comma is noise. */
		while (l.i < l.len && l.p[l.i] != ',')
			l.i++;
		if (l.i < l.len)
			l.i++;
	}
	if (n)
		*list_r = list;
	*n_r = n;
}

/* Address lists (RFC 5322 §3.4, §4.4 obsolete forms). */

enum tok_kind {
	T_END,
	T_ATOM,
	T_QSTR, /* raw includes the quotes */
	T_DLIT, /* "[...]" */
	T_SPECIAL,
};

struct tok {
	enum tok_kind kind;
	char c; /* T_SPECIAL */
	struct str raw;
	int ws; /* white space or a comment came before it */
};

static int is_addr_special(char c)
{
	return c != '\0' && strchr("()<>[]:;@\\,.\"", c) != NULL;
}

static void lex_next(struct lex *l, struct tok *t)
{
	size_t before = l->i, s, esc;

	skip_cfws(l);
	t->ws = l->i > before;
	t->c = 0;
	if (l->i >= l->len) {
		t->kind = T_END;
		t->raw = str_make(l->p + l->len, 0);
		return;
	}
	s = l->i;
	if (l->p[s] == '"') {
		l->i = quoted_end(l, &esc);
		if (l->i < l->len)
			l->i++;
		t->kind = T_QSTR;
	} else if (l->p[s] == '[') {
		while (l->i < l->len && l->p[l->i] != ']')
			l->i++;
		if (l->i < l->len)
			l->i++;
		t->kind = T_DLIT;
	} else if (is_addr_special(l->p[s])) {
		t->kind = T_SPECIAL;
		t->c = l->p[s];
		l->i++;
	} else {
		while (l->i < l->len && !is_addr_special(l->p[l->i]) && !is_ws(l->p[l->i]))
			l->i++;
		t->kind = T_ATOM;
	}
	t->raw = str_make(l->p + s, l->i - s);
}

static int is_sp(const struct tok *t, char c)
{
	return t->kind == T_SPECIAL && t->c == c;
}

static int is_word(const struct tok *t)
{
	return t->kind == T_ATOM || t->kind == T_QSTR || is_sp(t, '.');
}

struct addr_ctx {
	struct arena *a;
	struct lex l;
	struct mime_address *out;
	uint32_t n, cap, max;
	int in_group;
	char *scratch; /* v.len octets for building a string */
};

static struct str keep(struct addr_ctx *c, const char *p, size_t n)
{
	return str_make(arena_strndup(c->a, p, n), n);
}

static void emit(struct addr_ctx *c, struct str name, struct str adl, struct str mailbox,
                 struct str host)
{
	struct mime_address *m;

	if (c->n >= c->cap)
		return;
	m = &c->out[c->n++];
	m->name = name;
	m->adl = adl;
	m->mailbox = mailbox;
	m->host = host;
}

static void group_end(struct addr_ctx *c)
{
	if (c->in_group)
		emit(c, STR_NULL, STR_NULL, STR_NULL, STR_NULL);
	c->in_group = 0;
}

/* Reads a domain after "@": atoms and literals joined by dots. */
static struct str read_domain(struct addr_ctx *c)
{
	struct lex save;
	struct tok t;
	size_t n = 0;
	int after_dot = 1;

	for (;;) {
		save = c->l;
		lex_next(&c->l, &t);
		if ((t.kind == T_ATOM || t.kind == T_DLIT) && after_dot) {
			memcpy(c->scratch + n, t.raw.p, t.raw.len);
			n += t.raw.len;
			after_dot = 0;
		} else if (is_sp(&t, '.')) {
			c->scratch[n++] = '.';
			after_dot = 1;
		} else {
			c->l = save;
			break;
		}
	}
	return keep(c, c->scratch, n);
}

/* Skips to just after the next ',' or to (not past) the next ';'. */
static void skip_to_sep(struct addr_ctx *c)
{
	struct lex save;
	struct tok t;

	for (;;) {
		save = c->l;
		lex_next(&c->l, &t);
		if (t.kind == T_END || is_sp(&t, ','))
			return;
		if (is_sp(&t, ';')) {
			c->l = save;
			return;
		}
	}
}

/* Comment text as a display name, or STR_NULL. */
static struct str comment_name(struct addr_ctx *c)
{
	struct str s = str_trim(c->l.comment);

	if (c->l.comment.p == NULL || s.len == 0)
		return STR_NULL;
	return keep(c, c->scratch, unescape(s.p, s.len, c->scratch));
}

size_t mime_local_part_content(struct str w, char *dst)
{
	size_t i, k = 0;
	int quoted = 0;

	for (i = 0; i < w.len; i++) {
		if (w.p[i] == '"') {
			quoted = !quoted;
			continue;
		}
		if (quoted && w.p[i] == '\\' && i + 1 < w.len)
			i++;
		dst[k++] = w.p[i];
	}
	return k;
}

static const struct str missing_mailbox = {"MISSING_MAILBOX", 15};
static const struct str missing_domain = {"MISSING_DOMAIN", 14};

static int is_missing(struct str s, struct str placeholder)
{
	return s.len == 0 || str_eq(s, placeholder);
}

const char *mime_address_email(struct arena *a, const struct mime_address *ad)
{
	if (!ad->mailbox.p || !ad->host.p)
		return NULL;
	struct str m = is_missing(ad->mailbox, missing_mailbox) ? str_make("", 0) : ad->mailbox;
	if (is_missing(ad->host, missing_domain))
		return arena_strndup(a, m.p, m.len);
	return arena_printf(a, "%.*s@%.*s", (int)m.len, m.p, (int)ad->host.len, ad->host.p);
}

int mime_address_complete(const struct mime_address *ad)
{
	return ad->mailbox.p && ad->host.p && !is_missing(ad->mailbox, missing_mailbox) &&
	       !is_missing(ad->host, missing_domain);
}

/* After "<": [route ":"] local-part ["@" domain] ">". */
static void read_angle(struct addr_ctx *c, struct str name)
{
	struct str adl = STR_NULL, mailbox, host = STR_NULL;
	struct lex save;
	struct tok t;
	size_t n = 0;

	lex_next(&c->l, &t);
	if (is_sp(&t, '@')) {
		/* Obsolete route "@a,@b:"; built in a buffer of its own (read_domain
		 * uses the scratch), then kept: growing an arena copy by each
		 * domain took a 60 KB route's square, 600 MB. */
		struct buf route;

		buf_init(&route, 2 * c->l.len + 16);
		while (is_sp(&t, '@')) {
			struct str d = read_domain(c);

			if (buf_len(&route))
				buf_append(&route, ",", 1);
			buf_append(&route, "@", 1);
			buf_append(&route, d.p, d.len);
			lex_next(&c->l, &t);
			while (is_sp(&t, ','))
				lex_next(&c->l, &t);
		}
		adl = keep(c, buf_data(&route), buf_len(&route));
		buf_free(&route);
		if (is_sp(&t, ':'))
			lex_next(&c->l, &t);
	}
	while (is_word(&t)) {
		memcpy(c->scratch + n, t.raw.p, t.raw.len);
		n += t.raw.len;
		save = c->l;
		lex_next(&c->l, &t);
	}
	mailbox = keep(c, c->scratch, n);
	if (is_sp(&t, '@')) {
		host = read_domain(c);
		save = c->l;
		lex_next(&c->l, &t);
	} else {
		save = c->l;
	}
	if (!is_sp(&t, '>'))
		c->l = save; /* unterminated: the caller skips what is left */
	if (mailbox.len == 0 && (host.p == NULL || host.len == 0)) {
		host = str_make(mailbox.p, 0); /* "<>" */
	} else {
		if (mailbox.len == 0)
			mailbox = missing_mailbox;
		if (host.p == NULL || host.len == 0)
			host = missing_domain;
	}
	if (name.p == NULL) {
		c->l.comment = STR_NULL;
		skip_cfws(&c->l);
		name = comment_name(c);
	}
	emit(c, name, adl, mailbox, host);
}

void mime_field_addresses(struct arena *a, struct str v, struct mime_address **list_r,
                          uint32_t *n_r, uint32_t max)
{
	struct addr_ctx c;
	struct tok t;
	size_t seps = 0, i;
	char *name_buf;

	*list_r = NULL;
	*n_r = 0;
	if (max == 0)
		return;
	for (i = 0; i < v.len; i++)
		seps += v.p[i] == ',' || v.p[i] == ';' || v.p[i] == ':';
	memset(&c, 0, sizeof(c));
	c.a = a;
	c.l = (struct lex){v.p, v.len, 0, STR_NULL};
	c.max = max;
	c.cap = 2 * seps + 3 < (size_t)max + 1 ? (uint32_t)(2 * seps + 3) : max + 1;
	c.out = arena_alloc(a, c.cap * sizeof(*c.out));
	c.scratch = xmalloc(2 * v.len + 16);
	name_buf = c.scratch + v.len + 8;

	for (;;) {
		size_t nn = 0, ln = 0, nw = 0;
		struct str name;

		c.l.comment = STR_NULL;
		lex_next(&c.l, &t);
		if (t.kind == T_END)
			break;
		if (is_sp(&t, ','))
			continue;
		if (is_sp(&t, ';')) {
			group_end(&c);
			continue;
		}
		/* A phrase (display name or group name) or a local part: build
		 * both readings until the next token decides. */
		while (is_word(&t)) {
			if (nw && t.ws)
				name_buf[nn++] = ' ';
			if (t.kind == T_QSTR) {
				size_t qn = t.raw.len >= 2 && t.raw.p[t.raw.len - 1] == '"'
				                ? t.raw.len - 2
				                : t.raw.len - 1;

				nn += unescape(t.raw.p + 1, qn, name_buf + nn);
			} else {
				memcpy(name_buf + nn, t.raw.p, t.raw.len);
				nn += t.raw.len;
			}
			memcpy(c.scratch + ln, t.raw.p, t.raw.len);
			ln += t.raw.len;
			nw++;
			lex_next(&c.l, &t);
		}
		if (is_sp(&t, ':')) {
			group_end(&c);
			if (c.n < c.max) {
				emit(&c, STR_NULL, STR_NULL, keep(&c, name_buf, nn), STR_NULL);
				c.in_group = 1;
			}
			continue;
		}
		if (is_sp(&t, '<')) {
			name = nn ? keep(&c, name_buf, nn) : STR_NULL;
			if (c.n < c.max)
				read_angle(&c, name);
			skip_to_sep(&c);
			continue;
		}
		if (is_sp(&t, '@') ||
		    (nw && (t.kind == T_END || is_sp(&t, ',') || is_sp(&t, ';')))) {
			/* "@domain" alone is MISSING_MAILBOX@domain, as Dovecot
			 * has it: an address, not nothing */
			struct str mailbox = nw ? keep(&c, c.scratch, ln) : missing_mailbox,
				   host = missing_domain;
			struct lex save;

			if (is_sp(&t, '@')) {
				host = read_domain(&c);
				if (host.len == 0)
					host = missing_domain;
				save = c.l;
				c.l.comment = STR_NULL;
				skip_cfws(&c.l);
				name = comment_name(&c);
				c.l = save;
			} else {
				name = comment_name(&c);
			}
			if (c.n < c.max)
				emit(&c, name, STR_NULL, mailbox, host);
			if (is_sp(&t, ';'))
				group_end(&c);
			else if (is_sp(&t, '@'))
				skip_to_sep(&c);
			if (t.kind == T_END)
				break;
			continue;
		}
		if (is_sp(&t, ';')) {
			group_end(&c);
			continue;
		}
		if (t.kind == T_END)
			break;
		skip_to_sep(&c);
	}
	group_end(&c);
	free(c.scratch);
	*list_r = c.n ? c.out : NULL;
	*n_r = c.n;
}
