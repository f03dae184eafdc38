/*
 * spf_macro.c — SPF macro strings (RFC 7208 §7): checking a domain-spec or
 * explain-string and expanding it. See spf_record.h.
 */
#include "auth/spf_record.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "core/hex.h"

#define VALUE_MAX 512 /* longer identities are cut; no real one comes close */
#define DOMAIN_MAX 253

static int lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_delim(char c)
{
	return c && strchr(".-+,/_=", c) != NULL;
}

/*
 * Parses the macro-expand at s.p[i] == '%' . Returns its length, or -1.
 * Fills the letter, the digits (0 = all), reversal and delimiters.
 */
struct macro {
	char letter; /* as written: uppercase asks for URL escaping */
	unsigned digits;
	int reverse;
	struct str delims;
};

static int read_macro(struct str s, size_t i, int exp, struct macro *m)
{
	if (i + 1 >= s.len)
		return -1;
	char c = s.p[i + 1];
	if (c == '%' || c == '_' || c == '-') {
		m->letter = c;
		return 2;
	}
	if (c != '{')
		return -1;
	size_t j = i + 2;
	if (j >= s.len)
		return -1;
	m->letter = s.p[j++];
	const char *letters = exp ? "slodiphcrtv" : "slodiphv";
	if (!strchr(letters, lower(m->letter)) || m->letter == '\0')
		return -1;
	m->digits = 0;
	size_t d0 = j;
	while (j < s.len && s.p[j] >= '0' && s.p[j] <= '9') {
		/* Any count past the parts there are means all of them: cap, never overflow. */
		if (m->digits < 1000)
			m->digits = m->digits * 10 + (unsigned)(s.p[j] - '0');
		j++;
	}
	if (j > d0 && m->digits == 0)
		return -1; /* §7.1: the DIGIT transformer must be nonzero */
	m->reverse = 0;
	if (j < s.len && lower(s.p[j]) == 'r') {
		m->reverse = 1;
		j++;
	}
	size_t e0 = j;
	while (j < s.len && is_delim(s.p[j]))
		j++;
	m->delims = (struct str){ s.p + e0, j - e0 };
	if (j >= s.len || s.p[j] != '}')
		return -1;
	return (int)(j + 1 - i);
}

/* toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static int toplabel_ok(const char *p, size_t n)
{
	int alpha = 0, hyphen = 0;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '-')
			hyphen = 1;
		else if (!is_alnum(p[i]))
			return 0;
		else if (!(p[i] >= '0' && p[i] <= '9'))
			alpha = 1;
	}
	if (hyphen)
		return p[0] != '-' && p[n - 1] != '-';
	return alpha;
}

/* macro-literal = %x21-24 / %x26-7E; an explain-string also has spaces. */
static int literal_ok(char c, int exp)
{
	return (c >= 0x21 && c <= 0x7e) || (exp && c == ' ');
}

int spf_macro_check(struct str s, int exp)
{
	struct macro m;
	size_t last_macro_end = 0; /* one past the last macro-expand */
	int ends_in_macro = 0;

	for (size_t i = 0; i < s.len;) {
		char c = s.p[i];
		if (c == '%') {
			int n = read_macro(s, i, exp, &m);
			if (n < 0)
				return SPF_MACRO_BAD;
			i += (size_t)n;
			last_macro_end = i;
			ends_in_macro = i == s.len;
			continue;
		}
		if (!literal_ok(c, exp))
			return SPF_MACRO_BAD;
		i++;
	}
	if (exp || ends_in_macro)
		return 0;
	/* domain-end = ( "." toplabel [ "." ] ) / macro-expand */
	size_t end = s.len;
	if (end > last_macro_end && s.p[end - 1] == '.')
		end--;
	size_t dot = end;
	while (dot > last_macro_end && s.p[dot - 1] != '.')
		dot--;
	if (dot <= last_macro_end || !toplabel_ok(s.p + dot, end - dot))
		return SPF_MACRO_BAD;
	return 0;
}

int spf_macro_uses_ptr(struct str s)
{
	for (size_t i = 0; i + 2 < s.len; i++)
		if (s.p[i] == '%' && s.p[i + 1] == '{' && lower(s.p[i + 2]) == 'p')
			return 1;
	return 0;
}

struct out {
	char *p;
	size_t cap, len;
	int overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (n > o->cap - 1 - o->len) {
		n = o->cap - 1 - o->len;
		o->overflow = 1;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

/* The value of a macro letter into v (VALUE_MAX). -1 when p is not known yet. */
static int value(char letter, const struct spf_macro_ctx *c, char *v)
{
	const char *s = NULL, *at;
	char tmp[VALUE_MAX];

	switch (lower(letter)) {
	case 's': s = c->sender; break;
	case 'l':
	case 'o':
		at = strrchr(c->sender, '@');
		if (!at) {
			s = lower(letter) == 'l' ? "postmaster" : c->sender;
		} else if (lower(letter) == 'o') {
			s = at + 1;
		} else {
			size_t n = (size_t)(at - c->sender);
			if (n >= VALUE_MAX)
				n = VALUE_MAX - 1;
			memcpy(tmp, c->sender, n);
			tmp[n] = '\0';
			s = tmp;
		}
		break;
	case 'd': s = c->domain; break;
	case 'i':
		if (c->ip6 && c->ip16) {
			size_t k = 0;
			for (int i = 0; i < 16; i++) {
				tmp[k++] = hex_lower[c->ip16[i] >> 4];
				tmp[k++] = '.';
				tmp[k++] = hex_lower[c->ip16[i] & 15];
				tmp[k++] = i == 15 ? '\0' : '.';
			}
			s = tmp;
		} else {
			s = c->ip;
		}
		break;
	case 'c': s = c->ip; break;
	case 'p':
		if (!c->ptr)
			return -1;
		s = c->ptr;
		break;
	case 'h': s = c->helo; break;
	case 'v': s = c->ip6 ? "ip6" : "in-addr"; break;
	case 'r': s = c->host && *c->host ? c->host : "unknown"; break;
	case 't':
		snprintf(tmp, sizeof tmp, "%lld", (long long)c->now);
		s = tmp;
		break;
	}
	snprintf(v, VALUE_MAX, "%s", s ? s : "");
	return 0;
}

/* Splits v on the delimiters, reverses and keeps the rightmost parts, joined by dots (§7.3). */
static void transform(const char *v, const struct macro *m, char *out)
{
	uint16_t start[VALUE_MAX + 1], len[VALUE_MAX + 1];
	size_t n = 0, vl = strlen(v), s0 = 0, o = 0;

	for (size_t i = 0; i <= vl; i++) {
		int d = i == vl;
		if (!d) {
			d = m->delims.len ? memchr(m->delims.p, v[i], m->delims.len) != NULL : v[i] == '.';
		}
		if (d) {
			start[n] = (uint16_t)s0;
			len[n++] = (uint16_t)(i - s0);
			s0 = i + 1;
		}
	}
	size_t first = (m->digits && m->digits < n) ? n - m->digits : 0;
	for (size_t k = first; k < n; k++) {
		/* The k-th part of the list after the optional reversal. */
		size_t idx = m->reverse ? n - 1 - k : k;
		if (k > first)
			out[o++] = '.';
		memcpy(out + o, v + start[idx], len[idx]);
		o += len[idx];
	}
	out[o] = '\0';
}

static void url_escape(struct out *o, const char *s)
{
	for (; *s; s++) {
		char c = *s;
		if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			put(o, &c, 1);
		} else {
			char e[4];
			snprintf(e, sizeof e, "%%%02X", (unsigned char)c);
			put(o, e, 3);
		}
	}
}

int spf_macro_expand(struct str s, int exp, const struct spf_macro_ctx *ctx, char *out,
		     size_t outsz)
{
	struct out o = { out, outsz, 0, 0 };
	struct macro m;
	char v[VALUE_MAX], t[VALUE_MAX + 1];

	out[0] = '\0';
	for (size_t i = 0; i < s.len;) {
		if (s.p[i] != '%') {
			size_t j = i;
			for (; j < s.len && s.p[j] != '%'; j++)
				if (!literal_ok(s.p[j], exp))
					return SPF_MACRO_BAD;
			put(&o, s.p + i, j - i);
			i = j;
			continue;
		}
		int n = read_macro(s, i, exp, &m);
		if (n < 0)
			return SPF_MACRO_BAD;
		i += (size_t)n;
		if (m.letter == '%' || m.letter == '_' || m.letter == '-') {
			put(&o, m.letter == '%' ? "%" : m.letter == '_' ? " " : "%20", m.letter == '-' ? 3 : 1);
			continue;
		}
		if (value(m.letter, ctx, v) < 0)
			return SPF_MACRO_NEED_PTR;
		transform(v, &m, t);
		if (m.letter >= 'A' && m.letter <= 'Z')
			url_escape(&o, t);
		else
			put(&o, t, strlen(t));
	}
	if (exp)
		return (int)o.len;
	if (o.overflow)
		return SPF_MACRO_BAD;
	/* §7.3: drop labels from the left until the name fits. */
	size_t off = 0;
	while (o.len - off > DOMAIN_MAX) {
		const char *dot = memchr(out + off, '.', o.len - off);
		if (!dot) {
			off = o.len;
			break;
		}
		off = (size_t)(dot - out) + 1;
	}
	if (off) {
		memmove(out, out + off, o.len - off + 1);
		o.len -= off;
	}
	return (int)o.len;
}
