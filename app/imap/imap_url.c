/*
 * imap_url.c — relative IMAP URLs (RFC 5092) naming a message or a part
 * of one, as CATENATE (RFC 4469) takes them:
 *
 *   "/" mailbox [";UIDVALIDITY=" n] "/;UID=" n ["/;SECTION=" section]
 *   ["/;PARTIAL=" offset ["." length]]
 *
 * A section may be HEADER.FIELDS[.NOT] with its list of names
 * (imap_url_header_fields() splits it). Keywords in any case; the
 * mailbox and the section percent-decoded
 * (the mailbox then is an IMAP mailbox name: modified UTF-7 unless the
 * session enabled UTF-8). Absolute URLs (imap://...) and URLAUTH are
 * refused, as Dovecot refuses them ("Relative URL required").
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/hex.h"
#include "imap/imap_parser.h"
#include "imap/imap_url.h"

/* Percent-decodes in[0..n) into out (size outsz, NUL-terminated); the
 * length, or -1 (bad escape, NUL, no room). */
static long url_decode(const char *in, size_t n, char *out, size_t outsz)
{
	size_t len;

	return pct_decode(in, n, out, outsz, &len, PCT_NO_NUL) < 0 ? -1 : (long)len;
}

/* Case-insensitive search for the ASCII word w in s[0..n); offset or -1. */
static long find_ci(const char *s, size_t n, const char *w)
{
	size_t wl = strlen(w);
	for (size_t i = 0; i + wl <= n; i++) {
		size_t k = 0;
		while (k < wl) {
			char a = s[i + k], b = w[k];
			if (a >= 'a' && a <= 'z')
				a = (char)(a - 32);
			if (a != b)
				break;
			k++;
		}
		if (k == wl)
			return (long)i;
	}
	return -1;
}

/* nz-number (or number when zero_ok) from s[0..n), all of it. */
static int parse_num(const char *s, size_t n, int zero_ok, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;
	if (n == 0 || n > 20 || (s[0] == '0' && (n > 1 || !zero_ok)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (x > (max - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return 0;
}

/* The relative part; *tail_r is where the UID's options ended (the
 * caller decides whether anything may follow). */
static int parse_rel(struct str url, struct imap_url *u, const char **tail_r);

int imap_url_parse(struct str url, struct imap_url *u)
{
	const char *tail;
	int r = parse_rel(url, u, &tail);
	const char *end = url.p + url.len;

	if (r != IMAP_URL_OK || tail == end)
		return r;
	return find_ci(tail, (size_t)(end - tail), ";URLAUTH=") >= 0 ? IMAP_URL_URLAUTH : IMAP_URL_BAD;
}

static int parse_rel(struct str url, struct imap_url *u, const char **tail_r)
{
	const char *p = url.p, *end = url.p + url.len;
	uint64_t v;

	memset(u, 0, sizeof(*u));
	if (url.len == 0 || p[0] != '/' || (url.len > 1 && p[1] == '/'))
		return IMAP_URL_NOT_RELATIVE;
	p++;
	long at = find_ci(p, (size_t)(end - p), "/;UID=");
	if (at < 0)
		return IMAP_URL_BAD;
	const char *mend = p + at;
	long uv = find_ci(p, (size_t)at, ";UIDVALIDITY=");
	if (uv >= 0) {
		const char *n0 = p + uv + 13;
		if (parse_num(n0, (size_t)(mend - n0), 0, UINT32_MAX, &v) < 0)
			return IMAP_URL_BAD;
		u->uidvalidity = (uint32_t)v;
		mend = p + uv;
	}
	if (mend == p || memchr(p, ';', (size_t)(mend - p)) ||
	    url_decode(p, (size_t)(mend - p), u->mailbox, sizeof(u->mailbox)) < 0)
		return IMAP_URL_BAD;
	p += at + 6;
	/* The UID runs to the next "/;" or ";" (URLAUTH and friends). */
	const char *q = p;
	while (q < end && *q != '/' && *q != ';')
		q++;
	if (parse_num(p, (size_t)(q - p), 0, UINT32_MAX, &v) < 0)
		return IMAP_URL_BAD;
	u->uid = (uint32_t)v;
	p = q;
	if (end - p >= 10 && find_ci(p, 10, "/;SECTION=") == 0) {
		p += 10;
		q = p;
		while (q < end && *q != '/' && *q != ';')
			q++;
		long n = url_decode(p, (size_t)(q - p), u->section, sizeof(u->section));
		if (n <= 0)
			return IMAP_URL_BAD;
		u->section_len = (size_t)n;
		p = q;
	}
	if (end - p >= 10 && find_ci(p, 10, "/;PARTIAL=") == 0) {
		p += 10;
		q = p;
		while (q < end && *q != '.' && *q != '/' && *q != ';')
			q++;
		if (parse_num(p, (size_t)(q - p), 1, UINT64_MAX >> 1, &u->offset) < 0)
			return IMAP_URL_BAD;
		u->partial = 1;
		u->length = UINT64_MAX;
		p = q;
		if (p < end && *p == '.') {
			q = ++p;
			while (q < end && *q != '/' && *q != ';')
				q++;
			if (parse_num(p, (size_t)(q - p), 0, UINT64_MAX >> 1, &u->length) < 0)
				return IMAP_URL_BAD;
			p = q;
		}
	}
	*tail_r = p;
	return IMAP_URL_OK;
}

int imap_url_parse_auth(struct str url, struct imap_url_auth *a)
{
	const char *p = url.p, *end = url.p + url.len, *q;

	memset(a, 0, sizeof(*a));
	if (url.len < 8 || find_ci(p, 7, "IMAP://") != 0)
		return -1;
	p += 7;
	/* iuserinfo "@" host [":" port]. The user part ends at the last "@"
	 * before the path: clients write a login such as bob@example.org
	 * with its "@" unencoded (RFC 3986 wants %40; both are taken). */
	const char *slash = p;
	while (slash < end && *slash != '/')
		slash++;
	q = slash;
	while (q > p && q[-1] != '@')
		q--;
	q = q > p ? q - 1 : slash;
	if (q == end || *q != '@' || q == p || memchr(p, ';', (size_t)(q - p)) ||
	    url_decode(p, (size_t)(q - p), a->user, sizeof(a->user)) <= 0)
		return -1;
	p = q + 1;
	while (p < end && *p != '/')
		p++;
	if (p == end)
		return -1;
	/* The rest is a relative URL up to its options. */
	const char *tail;
	if (parse_rel(str_make(p, (size_t)(end - p)), &a->u, &tail) != IMAP_URL_OK)
		return -1;
	p = tail;
	if (end - p >= 8 && find_ci(p, 8, ";EXPIRE=") == 0) {
		p += 8;
		q = p;
		while (q < end && *q != ';')
			q++;
		/* date-time of RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM) */
		int y, mo, d, h, mi, se;
		char rest[16] = "";
		char buf[64];
		size_t n = (size_t)(q - p) < sizeof(buf) - 1 ? (size_t)(q - p) : sizeof(buf) - 1;
		memcpy(buf, p, n);
		buf[n] = '\0';
		if (sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d%15s", &y, &mo, &d, &h, &mi, &se, rest) < 6 ||
		    mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
			return -1;
		/* days from civil (Howard Hinnant's algorithm) */
		int yy = y - (mo <= 2);
		int era = (yy >= 0 ? yy : yy - 399) / 400;
		int yoe = yy - era * 400;
		int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
		int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
		int64_t days = (int64_t)era * 146097 + doe - 719468;
		int64_t t = days * 86400 + h * 3600 + mi * 60 + se;
		const char *z = rest;
		if (*z == '.')
			while (*++z >= '0' && *z <= '9')
				;
		if (*z == '+' || *z == '-') {
			int oh, om;
			if (sscanf(z + 1, "%2d:%2d", &oh, &om) != 2)
				return -1;
			t += (*z == '+' ? -1 : 1) * (oh * 3600 + om * 60);
		} else if (!(*z == 'Z' || *z == 'z') || z[1]) {
			return -1;
		}
		a->expire = t > 0 ? t : 1;
		p = q;
	}
	if (end - p < 9 || find_ci(p, 9, ";URLAUTH=") != 0)
		return -1;
	p += 9;
	q = p;
	while (q < end && *q != ':')
		q++;
	char acc[400];
	long an = url_decode(p, (size_t)(q - p), acc, sizeof(acc));
	if (an <= 0)
		return -1;
	a->rump_len = (size_t)(q - url.p);
	if (strcasecmp(acc, "anonymous") == 0 || strcasecmp(acc, "authuser") == 0) {
		snprintf(a->access, sizeof(a->access), "%s", strcasecmp(acc, "anonymous") ? "authuser" : "anonymous");
	} else if (strncasecmp(acc, "user+", 5) == 0 || strncasecmp(acc, "submit+", 7) == 0) {
		int sub = strncasecmp(acc, "submit+", 7) == 0;
		const char *who = acc + (sub ? 7 : 5);
		if (!*who || strlen(who) >= sizeof(a->access_user))
			return -1;
		snprintf(a->access, sizeof(a->access), "%s", sub ? "submit" : "user");
		snprintf(a->access_user, sizeof(a->access_user), "%s", who);
	} else {
		return -1;
	}
	if (q == end)
		return 0;
	/* ":" mechanism ":" token (hex) */
	p = q + 1;
	q = p;
	while (q < end && *q != ':')
		q++;
	if (q == end || q == p || (size_t)(q - p) >= sizeof(a->mech) ||
	    (size_t)(end - q - 1) >= sizeof(a->token) || end - q - 1 < 1)
		return -1;
	/* Checked on the input's octets: a NUL must not cut them short. */
	for (const char *t = p; t < q; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
		      *t == '-' || *t == '.'))
			return -1;
	for (const char *t = q + 1; t < end; t++)
		if (hex_digit(*t) < 0)
			return -1;
	memcpy(a->mech, p, (size_t)(q - p));
	memcpy(a->token, q + 1, (size_t)(end - q - 1));
	return 0;
}

int imap_url_header_fields(struct str sec, struct str *spec_r, int *not_r, struct imap_arg *fields)
{
	static const char word[] = "HEADER.FIELDS";
	const size_t wl = sizeof(word) - 1;
	size_t at = 0, n = 0;

	while (at + wl <= sec.len && !(str_eq_ci_c(str_make(sec.p + at, wl), word) &&
				       (at == 0 || sec.p[at - 1] == '.')))
		at++;
	if (at + wl > sec.len)
		return 0;
	*spec_r = str_make(sec.p, at ? at - 1 : 0);
	size_t i = at + wl;
	*not_r = i + 4 <= sec.len && str_eq_ci_c(str_make(sec.p + i, 4), ".NOT");
	if (*not_r)
		i += 4;
	if (i + 3 > sec.len || sec.p[i] != ' ' || sec.p[i + 1] != '(' ||
	    sec.p[sec.len - 1] != ')')
		return -1;
	size_t end = sec.len - 1; /* the ")" */
	for (i += 2; i < end;) {
		size_t st, e;
		if (sec.p[i] == '"') {
			st = ++i;
			while (i < end && sec.p[i] != '"' && sec.p[i] != '\\')
				i++;
			if (i >= end || sec.p[i] != '"')
				return -1;
			e = i++;
		} else {
			st = i;
			while (i < end && (unsigned char)sec.p[i] > ' ' && sec.p[i] != '(' &&
			       sec.p[i] != ')' && sec.p[i] != '"' && sec.p[i] != '\\')
				i++;
			e = i;
			if (e == st)
				return -1;
		}
		if (n == IMAP_URL_FIELDS_MAX)
			return -1;
		fields[n++] = (struct imap_arg){ .type = IMAP_ARG_ATOM,
						 .str = str_make(sec.p + st, e - st) };
		if (i < end) {
			if (sec.p[i] != ' ' || i + 1 == end)
				return -1;
			i++;
		}
	}
	if (n == 0)
		return -1;
	fields[n] = (struct imap_arg){ .type = IMAP_ARG_END };
	return 1;
}
