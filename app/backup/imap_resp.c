/*
 * imap_resp.c — LIST, LSUB and FETCH responses of another IMAP server
 * (imap_resp.h), for tern migrate.
 */
#include <string.h>
#include <strings.h>

#include "backup/imap_resp.h"
#include "core/buf.h"

struct cur {
	const char *p;
	size_t len, i;
};

static void sp(struct cur *c)
{
	while (c->i < c->len && c->p[c->i] == ' ')
		c->i++;
}

static int num(struct cur *c, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;
	size_t s = c->i;
	while (c->i < c->len && c->p[c->i] >= '0' && c->p[c->i] <= '9') {
		v = v * 10 + (uint64_t)(c->p[c->i] - '0');
		if (v > max || c->i - s > 19)
			return -1;
		c->i++;
	}
	if (c->i == s)
		return -1;
	*v_r = v;
	return 0;
}

static int lit(struct cur *c, const char **s_r, size_t *n_r)
{
	uint64_t n;
	if (c->i >= c->len || c->p[c->i] != '{')
		return -1;
	c->i++;
	if (num(c, UINT64_MAX >> 1, &n))
		return -1;
	if (c->i < c->len && c->p[c->i] == '+')
		c->i++;
	if (c->i + 3 > c->len || c->p[c->i] != '}' || c->p[c->i + 1] != '\r' || c->p[c->i + 2] != '\n')
		return -1;
	c->i += 3;
	if (n > c->len - c->i)
		return -1;
	*s_r = c->p + c->i;
	*n_r = (size_t)n;
	c->i += (size_t)n;
	return 0;
}

/* A quoted string (escapes undone into out when out is given) or a
 * literal or NIL: its bytes (raw) in *s_r, *n_r. 1 NIL, 0 ok, -1 bad. */
static int string(struct cur *c, const char **s_r, size_t *n_r, struct buf *out)
{
	if (c->i < c->len && c->p[c->i] == '"') {
		size_t s = ++c->i;
		while (c->i < c->len && c->p[c->i] != '"') {
			if (c->p[c->i] == '\\') {
				if (c->i + 1 >= c->len)
					return -1;
				c->i++;
			}
			if (c->p[c->i] == '\r' || c->p[c->i] == '\n')
				return -1;
			if (out && buf_append(out, c->p + c->i, 1))
				return -1;
			c->i++;
		}
		if (c->i >= c->len)
			return -1;
		*s_r = c->p + s;
		*n_r = c->i - s;
		c->i++;
		return 0;
	}
	if (c->i < c->len && c->p[c->i] == '{') {
		if (lit(c, s_r, n_r))
			return -1;
		return out && buf_append(out, *s_r, *n_r) ? -1 : 0;
	}
	if (c->len - c->i >= 3 && strncasecmp(c->p + c->i, "NIL", 3) == 0) {
		c->i += 3;
		*s_r = NULL;
		*n_r = 0;
		return 1;
	}
	return -1;
}

/* An atom (with [..] sections as one) into *s_r, *n_r. */
static int atom(struct cur *c, const char **s_r, size_t *n_r)
{
	size_t s = c->i;
	int depth = 0;
	while (c->i < c->len) {
		char ch = c->p[c->i];
		if (ch == '[')
			depth++;
		else if (ch == ']')
			depth--;
		else if (depth == 0 && (ch == ' ' || ch == '(' || ch == ')' || ch == '\r' || ch == '\n'))
			break;
		if (depth < 0 || depth > 8)
			return -1;
		c->i++;
	}
	if (c->i == s)
		return -1;
	*s_r = c->p + s;
	*n_r = c->i - s;
	return 0;
}

/* A parenthesised list: its inside in *s_r, *n_r (nested lists and strings
 * skipped over whole). */
static int plist(struct cur *c, const char **s_r, size_t *n_r)
{
	int depth = 0;
	if (c->i >= c->len || c->p[c->i] != '(')
		return -1;
	size_t s = c->i + 1;
	while (c->i < c->len) {
		char ch = c->p[c->i];
		if (ch == '"' || ch == '{') {
			const char *x;
			size_t n;
			if (string(c, &x, &n, NULL) < 0)
				return -1;
			continue;
		}
		if (ch == '(')
			depth++;
		if (ch == ')' && --depth == 0) {
			*s_r = c->p + s;
			*n_r = c->i - s;
			c->i++;
			return 0;
		}
		if (depth > 32)
			return -1;
		c->i++;
	}
	return -1;
}

static int word(struct cur *c, const char *w)
{
	size_t n = strlen(w);
	if (c->len - c->i < n || strncasecmp(c->p + c->i, w, n) != 0)
		return 0;
	c->i += n;
	return 1;
}

int imapr_date(const char *p, size_t len, time_t *t_r)
{
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct cur c = {p, len, 0};
	uint64_t d, y, h, mi, s, z;
	int m = -1;

	sp(&c);
	if (num(&c, 31, &d) || c.i >= len || p[c.i++] != '-' || c.i + 4 > len)
		return -1;
	for (int k = 0; k < 12; k++)
		if (strncasecmp(p + c.i, mon[k], 3) == 0)
			m = k;
	if (m < 0 || p[c.i + 3] != '-')
		return -1;
	c.i += 4;
	if (num(&c, 9999, &y) || y < 1970 || !word(&c, " ") || num(&c, 23, &h) || !word(&c, ":") ||
	    num(&c, 59, &mi) || !word(&c, ":") || num(&c, 60, &s) || !word(&c, " ") || c.i >= len)
		return -1;
	int sign = p[c.i] == '-' ? -1 : p[c.i] == '+' ? 1 : 0;
	if (!sign || (c.i++, num(&c, 9999, &z)) || d == 0)
		return -1;
	/* Days from the civil date (proleptic Gregorian), no timegm needed. */
	int64_t yy = (int64_t)y - (m < 2), era = yy / 400;
	int64_t yoe = yy - era * 400, mp = (m + 10) % 12; /* m is 0-based: March is 0 here */
	int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1, doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;
	int64_t t = days * 86400 + (int64_t)(h * 3600 + mi * 60 + s);
	t -= sign * (int64_t)((z / 100) * 3600 + (z % 100) * 60);
	*t_r = (time_t)t;
	return 0;
}

int imapr_fetch(const char *p, size_t len, struct imapr_fetch *f)
{
	struct cur c = {p, len, 0};
	uint64_t v;

	memset(f, 0, sizeof *f);
	if (!word(&c, "* "))
		return 0;
	if (num(&c, UINT32_MAX, &v) || !word(&c, " "))
		return 0;
	f->seq = (uint32_t)v;
	if (!word(&c, "FETCH "))
		return 0;
	sp(&c);
	if (!word(&c, "("))
		return -1;
	for (;;) {
		const char *a, *s;
		size_t an, n;
		sp(&c);
		if (word(&c, ")"))
			return 1;
		if (atom(&c, &a, &an))
			return -1;
		sp(&c);
		if (an == 3 && strncasecmp(a, "UID", 3) == 0) {
			if (num(&c, UINT32_MAX, &v))
				return -1;
			f->uid = (uint32_t)v;
		} else if (an == 5 && strncasecmp(a, "FLAGS", 5) == 0) {
			if (plist(&c, &s, &n))
				return -1;
			f->flags = s;
			f->flags_len = n;
		} else if (an == 12 && strncasecmp(a, "INTERNALDATE", 12) == 0) {
			int r = string(&c, &s, &n, NULL);
			if (r < 0 || (r == 0 && imapr_date(s, n, &f->internaldate)))
				return -1;
		} else if ((an == 6 && strncasecmp(a, "BODY[]", 6) == 0) ||
		           (an == 6 && strncasecmp(a, "RFC822", 6) == 0) ||
		           (an >= 7 && strncasecmp(a, "BODY[]<", 7) == 0)) {
			int r = string(&c, &s, &n, NULL);
			if (r < 0)
				return -1;
			f->body = s;
			f->body_len = n;
			f->has_body = r == 0;
		} else {
			/* Anything else: a number, a string, a list or an atom. */
			if (c.i < len && c.p[c.i] == '(') {
				if (plist(&c, &s, &n))
					return -1;
			} else if (c.i < len && (c.p[c.i] == '"' || c.p[c.i] == '{')) {
				if (string(&c, &s, &n, NULL) < 0)
					return -1;
			} else if (atom(&c, &s, &n)) {
				return -1;
			}
		}
		if (c.i >= len)
			return -1;
	}
}

int imapr_list(const char *p, size_t len, const char **attrs, size_t *attrs_len, char *delim_r,
               struct buf *name)
{
	struct cur c = {p, len, 0};
	const char *s;
	size_t n;

	if (!word(&c, "* LIST ") && !word(&c, "* LSUB "))
		return 0;
	sp(&c);
	if (plist(&c, attrs, attrs_len))
		return -1;
	sp(&c);
	int r = string(&c, &s, &n, NULL);
	if (r < 0 || (r == 0 && n != 1 && !(n == 2 && s[0] == '\\')))
		return -1; /* one character, or "\\" (an escaped backslash) */
	*delim_r = r == 1 ? '\0' : s[n - 1];
	sp(&c);
	if (c.i < len && (c.p[c.i] == '"' || c.p[c.i] == '{')) {
		if (string(&c, &s, &n, name) != 0)
			return -1;
	} else {
		if (atom(&c, &s, &n) || buf_append(name, s, n))
			return -1;
	}
	return 1;
}

/* One class of a NAMESPACE response: NIL or ((prefix delim ext*)*). */
static int ns_class(struct cur *c, struct imapr_ns *ns, int k)
{
	const char *s;
	size_t n;
	sp(c);
	if (word(c, "NIL"))
		return 0;
	if (c->i >= c->len || c->p[c->i] != '(')
		return -1;
	c->i++;
	while (c->i < c->len && c->p[c->i] == '(') {
		size_t start = c->i, in;
		const char *inner;
		if (plist(c, &inner, &in))
			return -1;
		struct cur e = {c->p, start + 1 + in, start + 1};
		struct buf pre;
		buf_init(&pre, IMAPR_NS_PREFIX_MAX - 1);
		int r = string(&e, &s, &n, &pre);
		size_t pl = buf_len(&pre);
		if (r == 0 && ns->n[k] < IMAPR_NS_MAX)
			memcpy(ns->v[k][ns->n[k]].prefix, buf_data(&pre), pl);
		buf_free(&pre);
		if (r != 0)
			return -1;
		sp(&e);
		r = string(&e, &s, &n, NULL);
		if (r < 0 || (r == 0 && n != 1 && !(n == 2 && s[0] == '\\')))
			return -1;
		if (ns->n[k] < IMAPR_NS_MAX) {
			ns->v[k][ns->n[k]].prefix[pl] = '\0';
			ns->v[k][ns->n[k]].delim = r == 1 ? '\0' : s[n - 1];
			ns->n[k]++;
		}
	}
	if (c->i >= c->len || c->p[c->i] != ')')
		return -1;
	c->i++;
	return 0;
}

int imapr_namespace(const char *p, size_t len, struct imapr_ns *ns)
{
	struct cur c = {p, len, 0};
	if (!word(&c, "* NAMESPACE "))
		return 0;
	memset(ns, 0, sizeof *ns);
	for (int k = 0; k < 3; k++)
		if (ns_class(&c, ns, k))
			return -1;
	return 1;
}

int imapr_string(const char *p, size_t len, size_t *off, struct buf *out)
{
	struct cur c = {p, len, *off};
	const char *s;
	size_t n;
	sp(&c);
	int r = string(&c, &s, &n, out);
	if (r >= 0)
		*off = c.i;
	return r;
}

int imapr_literal_at_end(const char *line, size_t len, uint64_t *n_r)
{
	size_t e = len;
	if (e < 3 || line[e - 1] != '}')
		return 0;
	e--;
	if (line[e - 1] == '+')
		e--;
	size_t d = e;
	while (d > 0 && line[d - 1] >= '0' && line[d - 1] <= '9')
		d--;
	if (d == e || d == 0 || line[d - 1] != '{')
		return 0;
	if (e - d > 19)
		return -1;
	uint64_t v = 0;
	for (size_t i = d; i < e; i++)
		v = v * 10 + (uint64_t)(line[i] - '0');
	*n_r = v;
	return 1;
}

int imapr_code_num(const char *p, size_t len, const char *code, uint32_t *v_r)
{
	size_t n = strlen(code), i;
	uint64_t v = 0;

	if (len < 7 + n || strncasecmp(p, "* OK [", 6) != 0 || strncasecmp(p + 6, code, n) != 0 ||
	    p[6 + n] != ' ')
		return 0;
	/* Digit by digit, refused once past 32 bits. */
	for (i = 7 + n; i < len && p[i] >= '0' && p[i] <= '9'; i++)
		if ((v = v * 10 + (uint64_t)(p[i] - '0')) > UINT32_MAX)
			return -1;
	if (i == 7 + n || i >= len || p[i] != ']')
		return -1;
	*v_r = (uint32_t)v;
	return 1;
}
