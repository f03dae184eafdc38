/*
 * smtp_reply.c — SMTP reply lines, multi-line replies, EHLO keywords and
 * enhanced status codes for the outbound client. See smtp_reply.h.
 */
#include "queue/smtp_reply.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

long smtp_reply_line_find(const char *p, size_t n, size_t max)
{
	size_t lim = n < max ? n : max;
	const char *lf = memchr(p, '\n', lim);

	if (lf)
		return (long)(lf - p) + 1;
	return n >= max ? -1 : 0;
}

void smtp_reply_init(struct smtp_reply *r)
{
	r->code = 0;
	r->lines = 0;
	r->textlen = 0;
	r->text[0] = '\0';
	r->ehlo.ext = 0;
	r->ehlo.size = 0;
	r->ehlo.rcptmax = r->ehlo.mailmax = r->ehlo.rcptdomainmax = 0;
}

static void ehlo_line(const char *p, size_t n, struct smtp_ehlo *e);

static void text_add(struct smtp_reply *r, const char *p, size_t n)
{
	if (r->lines > 1 && r->textlen < SMTP_REPLY_TEXT_MAX)
		r->text[r->textlen++] = '\n';
	size_t room = SMTP_REPLY_TEXT_MAX - r->textlen;
	if (n > room)
		n = room;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		/* Logs and DSNs get printable text only. */
		r->text[r->textlen++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	r->text[r->textlen] = '\0';
}

int smtp_reply_line(struct smtp_reply *r, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9')
		return -1;
	int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->lines > 0 && code != r->code)
		return -1;
	if (r->lines < UINT_MAX)
		r->lines++; /* only "first line or not" matters past here */
	r->code = code;
	if (len == 3) {
		text_add(r, "", 0);
		return 1;
	}
	if (line[3] != ' ' && line[3] != '-')
		return -1;
	text_add(r, line + 4, len - 4);
	if (r->lines > 1) /* the first line is the greeting part */
		ehlo_line(line + 4, len - 4, &r->ehlo);
	return line[3] == ' ';
}

static int word_is(const char *p, size_t n, const char *w)
{
	size_t wl = strlen(w);
	if (n != wl)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 32);
		if (c != w[i])
			return 0;
	}
	return 1;
}

/*
 * The parameter of an RFC 9422 LIMITS keyword: limit names, each with an
 * optional "=value", separated by spaces. The three we use take a
 * positive decimal value; a name we do not know is skipped, as is one
 * whose value is not a number or is 0 (not a usable limit: as if not
 * announced). Names are compared without case, like EHLO keywords.
 */
static void limits_param(const char *p, size_t n, struct smtp_ehlo *e)
{
	size_t k = 0;
	while (k < n) {
		while (k < n && p[k] == ' ')
			k++;
		size_t s = k;
		while (k < n && p[k] != ' ' && p[k] != '=')
			k++;
		size_t nl = k - s;
		int has_val = k < n && p[k] == '=';
		uint64_t v = 0;
		int ok = has_val;
		if (has_val) {
			size_t vs = ++k;
			for (; k < n && p[k] != ' '; k++) {
				if (p[k] < '0' || p[k] > '9')
					ok = 0;
				else if (v <= SMTP_LIMIT_MAX)
					v = v * 10 + (uint64_t)(p[k] - '0');
			}
			if (k == vs || v == 0)
				ok = 0;
		}
		if (!ok)
			continue;
		unsigned u = v > SMTP_LIMIT_MAX ? SMTP_LIMIT_MAX : (unsigned)v;
		if (word_is(p + s, nl, "RCPTMAX"))
			e->rcptmax = u;
		else if (word_is(p + s, nl, "MAILMAX"))
			e->mailmax = u;
		else if (word_is(p + s, nl, "RCPTDOMAINMAX"))
			e->rcptdomainmax = u;
	}
}

static void ehlo_line(const char *p, size_t n, struct smtp_ehlo *e)
{
	size_t i = 0, k;

	while (i < n && p[i] != ' ')
		i++;
	const char *kw = p;
	size_t kwn = i;
	if (word_is(kw, kwn, "PIPELINING"))
		e->ext |= SMTP_EXT_PIPELINING;
	else if (word_is(kw, kwn, "STARTTLS"))
		e->ext |= SMTP_EXT_STARTTLS;
	else if (word_is(kw, kwn, "8BITMIME"))
		e->ext |= SMTP_EXT_8BITMIME;
	else if (word_is(kw, kwn, "SMTPUTF8"))
		e->ext |= SMTP_EXT_SMTPUTF8;
	else if (word_is(kw, kwn, "DSN"))
		e->ext |= SMTP_EXT_DSN;
	else if (word_is(kw, kwn, "REQUIRETLS"))
		e->ext |= SMTP_EXT_REQUIRETLS;
	else if (word_is(kw, kwn, "DELIVERBY"))
		e->ext |= SMTP_EXT_DELIVERBY;
	else if (word_is(kw, kwn, "MT-PRIORITY"))
		e->ext |= SMTP_EXT_MTPRIORITY;
	else if (word_is(kw, kwn, "ENHANCEDSTATUSCODES"))
		e->ext |= SMTP_EXT_ENHANCEDSTATUSCODES;
	else if (word_is(kw, kwn, "LIMITS"))
		limits_param(p + i, n - i, e);
	else if (word_is(kw, kwn, "SIZE")) {
		uint64_t v = 0;
		e->ext |= SMTP_EXT_SIZE;
		for (k = i + 1; k < n && p[k] >= '0' && p[k] <= '9'; k++) {
			if (v > (UINT64_MAX - 9) / 10) {
				v = 0; /* absurd: treat as no limit */
				break;
			}
			v = v * 10 + (uint64_t)(p[k] - '0');
		}
		e->size = v;
	} else if (word_is(kw, kwn, "AUTH")) {
		for (k = i; k < n;) {
			while (k < n && p[k] == ' ')
				k++;
			size_t s = k;
			while (k < n && p[k] != ' ')
				k++;
			if (word_is(p + s, k - s, "PLAIN"))
				e->ext |= SMTP_EXT_AUTH_PLAIN;
			else if (word_is(p + s, k - s, "LOGIN"))
				e->ext |= SMTP_EXT_AUTH_LOGIN;
		}
	}
}

void smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *e)
{
	*e = r->ehlo;
}

/* Length of a "c.s.d" enhanced code at p (RFC 3463), 0 when none. */
static size_t enhanced_len(const char *p, size_t n)
{
	size_t i = 0;
	if (n < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t s = i;
		while (i < n && p[i] >= '0' && p[i] <= '9' && i - s < 3)
			i++;
		if (i == s)
			return 0;
		if (part == 0) {
			if (i >= n || p[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && p[i] != ' ')
		return 0;
	return i;
}

static const char *fallback(char cls, char *out, size_t outsz)
{
	snprintf(out, outsz, "%c.0.0", cls == '2' || cls == '4' || cls == '5' ? cls : '4');
	return out;
}

const char *smtp_reply_status(const struct smtp_reply *r, char *out, size_t outsz)
{
	char cls = (char)('0' + r->code / 100);
	size_t n = enhanced_len(r->text, r->textlen);
	if (n && r->text[0] == cls && n < outsz) {
		memcpy(out, r->text, n);
		out[n] = '\0';
		return out;
	}
	return fallback(cls, out, outsz);
}

int smtp_status_is_reply(const char *s)
{
	return s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
	       s[2] <= '9' && s[3] == ' ';
}

const char *smtp_status_code(const char *status, char *out, size_t outsz)
{
	size_t n = strlen(status);
	size_t e = enhanced_len(status, n);
	if (e && e < outsz) {
		memcpy(out, status, e);
		out[e] = '\0';
		return out;
	}
	if (n >= 4 && status[3] == ' ') {
		e = enhanced_len(status + 4, n - 4);
		if (e && status[4] == status[0] && e < outsz) {
			memcpy(out, status + 4, e);
			out[e] = '\0';
			return out;
		}
	}
	return fallback(n ? status[0] : '4', out, outsz);
}
