/*
 * dmarc_xml.c — the XML parser for DMARC aggregate reports (dmarc_report.h).
 *
 * A scanner walks the buffer once and calls three events: an element
 * starts, text arrives, an element ends. The events keep a stack of the
 * open elements' local names; the report is filled at each end from the
 * path below the root ("record/row/source_ip") and the text collected
 * since the element started. Only leaf text is wanted, so the text buffer
 * is cleared at every start tag and its size is the largest field's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "report/dmarc_report.h"

#define NAME_MAX_LEN 32
#define TEXT_MAX 512
#define PATH_MAX_LEN (DMARC_XML_DEPTH_MAX * (NAME_MAX_LEN + 1))

struct xp {
	const char *p, *end;
	char names[DMARC_XML_DEPTH_MAX][NAME_MAX_LEN + 1];
	int depth;
	char text[TEXT_MAX];
	size_t tlen;
	int text_cut;
	struct dmarc_report *r;
	size_t rows_cap;
	struct dmarc_report_row *row; /* the record being read, or NULL (dropped) */
	struct dmarc_report_auth *auth; /* the auth result being read, or NULL */
	int seen_root, seen_metadata, seen_begin, seen_end;
	char *err;
	size_t errsz;
};

static int fail(struct xp *x, const char *msg)
{
	if (x->err && x->errsz)
		snprintf(x->err, x->errsz, "%s", msg);
	return -1;
}

static int starts(const struct xp *x, const char *lit)
{
	size_t n = strlen(lit);
	return (size_t)(x->end - x->p) >= n && memcmp(x->p, lit, n) == 0;
}

/* Moves past the next occurrence of lit; -1 when there is none. */
static int skip_past(struct xp *x, const char *lit)
{
	size_t n = strlen(lit);
	for (const char *q = x->p; (size_t)(x->end - q) >= n; q++)
		if (memcmp(q, lit, n) == 0) {
			x->p = q + n;
			return 0;
		}
	return -1;
}

static void text_add(struct xp *x, const char *s, size_t n)
{
	size_t room = sizeof x->text - 1 - x->tlen;
	if (n > room) {
		n = room;
		x->text_cut = 1;
	}
	memcpy(x->text + x->tlen, s, n);
	x->tlen += n;
}

static void text_add_cp(struct xp *x, unsigned long cp)
{
	char b[4];
	text_add(x, b, utf8_encode((uint32_t)cp, b));
}

/* One reference after '&' (x->p is past it). -1 when malformed. */
static int entity(struct xp *x)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"quot;", '"'}, {"apos;", '\''}};
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
		if (starts(x, named[i].name)) {
			x->p += strlen(named[i].name);
			text_add(x, &named[i].c, 1);
			return 0;
		}
	if (x->p >= x->end || *x->p != '#')
		return -1;
	x->p++;
	int hex = x->p < x->end && *x->p == 'x';
	if (hex)
		x->p++;
	unsigned long cp = 0;
	int digits = 0;
	for (; x->p < x->end && *x->p != ';'; x->p++, digits++) {
		int c = (unsigned char)*x->p;
		int d = hex ? hex_digit(c) : c >= '0' && c <= '9' ? c - '0' : -1;
		if (d < 0)
			return -1;
		if (digits >= 8)
			return -1; /* no code point needs more */
		cp = cp * (hex ? 16 : 10) + (unsigned long)d;
	}
	if (x->p >= x->end || digits == 0 || cp == 0 || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	x->p++;
	text_add_cp(x, cp);
	return 0;
}

/* Copies the trimmed text into dst (dstsz bytes with the NUL). */
static void take(struct xp *x, char *dst, size_t dstsz)
{
	const char *s = x->text, *e = x->text + x->tlen;
	while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	size_t n = (size_t)(e - s);
	if (n >= dstsz || x->text_cut) {
		x->r->flags |= DMARC_REPORT_CUT;
		if (n >= dstsz)
			n = dstsz - 1;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Decimal digits of the text; -1 when there are none or other bytes. */
static int take_u64(struct xp *x, uint64_t *v_r, uint64_t max)
{
	char b[24];
	take(x, b, sizeof b);
	if (b[0] == '\0')
		return -1;
	uint64_t v = 0;
	for (const char *s = b; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		v = v > (max - d) / 10 ? max : v * 10 + d;
	}
	*v_r = v;
	return 0;
}

/* The path of the open elements below the root, '/'-separated. */
static void path_of(const struct xp *x, char *out)
{
	size_t n = 0;
	out[0] = '\0';
	for (int i = 1; i < x->depth; i++) {
		size_t l = strlen(x->names[i]);
		if (i > 1)
			out[n++] = '/';
		memcpy(out + n, x->names[i], l);
		n += l;
		out[n] = '\0';
	}
}

static void on_start(struct xp *x, const char *path)
{
	struct dmarc_report *r = x->r;
	if (strcmp(path, "record") == 0) {
		x->row = NULL;
		if (r->nrows == DMARC_REPORT_ROWS_MAX) {
			r->flags |= DMARC_REPORT_ROWS_CUT;
			return;
		}
		if (r->nrows == x->rows_cap) {
			x->rows_cap = x->rows_cap ? x->rows_cap * 2 : 16;
			if (x->rows_cap > DMARC_REPORT_ROWS_MAX)
				x->rows_cap = DMARC_REPORT_ROWS_MAX;
			r->rows = xrealloc(r->rows, x->rows_cap * sizeof *r->rows);
		}
		x->row = &r->rows[r->nrows++];
		memset(x->row, 0, sizeof *x->row);
		return;
	}
	if (x->row == NULL)
		return;
	if (strcmp(path, "record/auth_results/dkim") == 0)
		x->auth = x->row->ndkim < DMARC_REPORT_AUTH_MAX ? &x->row->dkim_auth[x->row->ndkim++]
		                                                : NULL;
	else if (strcmp(path, "record/auth_results/spf") == 0)
		x->auth = x->row->nspf < DMARC_REPORT_AUTH_MAX ? &x->row->spf_auth[x->row->nspf++]
		                                               : NULL;
}

/* Where an element's text goes (a report field), by its path. */
static int on_end(struct xp *x, const char *path)
{
	struct dmarc_report *r = x->r;
	struct dmarc_report_row *w = x->row;
	uint64_t v;

	static const struct {
		const char *path;
		size_t off, size;
	} meta[] = {
#define F(p, f) {p, offsetof(struct dmarc_report, f), sizeof((struct dmarc_report *)0)->f}
	    F("report_metadata/org_name", org_name),
	    F("report_metadata/email", email),
	    F("report_metadata/report_id", report_id),
	    F("policy_published/domain", domain),
	    F("policy_published/p", p),
	    F("policy_published/sp", sp),
	    F("policy_published/np", np),
	    F("policy_published/adkim", adkim),
	    F("policy_published/aspf", aspf),
	    F("policy_published/testing", testing),
	    F("policy_published/fo", fo),
#undef F
	};
	for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++)
		if (strcmp(path, meta[i].path) == 0) {
			take(x, (char *)r + meta[i].off, meta[i].size);
			return 0;
		}
	if (strcmp(path, "report_metadata") == 0) {
		x->seen_metadata = 1;
		return 0;
	}
	if (strcmp(path, "report_metadata/date_range/begin") == 0) {
		if (take_u64(x, &v, INT64_MAX) != 0)
			return fail(x, "date_range begin is not a number");
		r->begin = (int64_t)v;
		x->seen_begin = 1;
		return 0;
	}
	if (strcmp(path, "report_metadata/date_range/end") == 0) {
		if (take_u64(x, &v, INT64_MAX) != 0)
			return fail(x, "date_range end is not a number");
		r->end = (int64_t)v;
		x->seen_end = 1;
		return 0;
	}
	if (strcmp(path, "policy_published/pct") == 0) {
		if (take_u64(x, &v, 100) == 0)
			r->pct = (int)v;
		return 0;
	}
	if (strncmp(path, "record/", 7) != 0)
		return 0;
	if (strcmp(path, "record/row/count") == 0) {
		if (take_u64(x, &v, UINT32_MAX) != 0)
			return fail(x, "record count is not a number");
		r->total_count += v;
		if (w)
			w->count = (uint32_t)v;
		return 0;
	}
	if (w == NULL)
		return 0;
	static const struct {
		const char *path;
		size_t off, size;
	} rowf[] = {
#define F(p, f) {p, offsetof(struct dmarc_report_row, f), sizeof((struct dmarc_report_row *)0)->f}
	    F("record/row/source_ip", source_ip),
	    F("record/row/policy_evaluated/disposition", disposition),
	    F("record/row/policy_evaluated/dkim", dkim),
	    F("record/row/policy_evaluated/spf", spf),
	    F("record/row/policy_evaluated/reason/type", reason),
	    F("record/identifiers/header_from", header_from),
	    F("record/identifiers/envelope_from", envelope_from),
	    F("record/identifiers/envelope_to", envelope_to),
#undef F
	};
	for (size_t i = 0; i < sizeof rowf / sizeof rowf[0]; i++)
		if (strcmp(path, rowf[i].path) == 0) {
			take(x, (char *)w + rowf[i].off, rowf[i].size);
			return 0;
		}
	struct dmarc_report_auth *a = x->auth;
	if (a == NULL || strncmp(path, "record/auth_results/", 20) != 0)
		return 0;
	const char *leaf = path + 20;
	if (strncmp(leaf, "dkim/", 5) == 0 || strncmp(leaf, "spf/", 4) == 0) {
		leaf = strchr(leaf, '/') + 1;
		if (strcmp(leaf, "domain") == 0)
			take(x, a->domain, sizeof a->domain);
		else if (strcmp(leaf, "selector") == 0)
			take(x, a->selector, sizeof a->selector);
		else if (strcmp(leaf, "scope") == 0)
			take(x, a->scope, sizeof a->scope);
		else if (strcmp(leaf, "result") == 0)
			take(x, a->result, sizeof a->result);
	}
	return 0;
}

static int name_char(int c)
{
	return !(c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/' || c == '>' ||
	         c == '=' || c == '<' || c == '"' || c == '\'');
}

/* Reads a tag name at x->p into out (local part, lowercase kept as is). */
static int read_name(struct xp *x, char *out)
{
	const char *s = x->p;
	while (x->p < x->end && name_char((unsigned char)*x->p))
		x->p++;
	if (x->p == s)
		return -1;
	const char *local = s;
	for (const char *q = s; q < x->p; q++)
		if (*q == ':')
			local = q + 1;
	size_t n = (size_t)(x->p - local);
	if (n == 0)
		return -1;
	if (n > NAME_MAX_LEN)
		n = NAME_MAX_LEN; /* no element we read is that long: it stays unknown */
	memcpy(out, local, n);
	out[n] = '\0';
	return 0;
}

/* A start tag after '<'; *empty_r when it closes itself. */
static int start_tag(struct xp *x, char *name, int *empty_r)
{
	if (read_name(x, name) != 0)
		return fail(x, "malformed start tag");
	/* Attributes: names and quoted values, skipped. */
	while (x->p < x->end) {
		char c = *x->p;
		if (c == '>') {
			x->p++;
			*empty_r = 0;
			return 0;
		}
		if (c == '/' && x->end - x->p >= 2 && x->p[1] == '>') {
			x->p += 2;
			*empty_r = 1;
			return 0;
		}
		if (c == '"' || c == '\'') {
			const char *q = memchr(x->p + 1, c, (size_t)(x->end - x->p - 1));
			if (q == NULL)
				break;
			x->p = q + 1;
			continue;
		}
		if (c == '<')
			break;
		x->p++;
	}
	return fail(x, "unterminated start tag");
}

static int open_element(struct xp *x, const char *name)
{
	char path[PATH_MAX_LEN + 1];
	if (x->depth == DMARC_XML_DEPTH_MAX)
		return fail(x, "elements nested too deep");
	if (x->depth == 0) {
		if (x->seen_root)
			return fail(x, "more than one root element");
		if (strcmp(name, "feedback") != 0)
			return fail(x, "the root element is not <feedback>");
		x->seen_root = 1;
	}
	memcpy(x->names[x->depth++], name, strlen(name) + 1);
	x->tlen = 0;
	x->text_cut = 0;
	path_of(x, path);
	on_start(x, path);
	return 0;
}

static int close_element(struct xp *x)
{
	char path[PATH_MAX_LEN + 1];
	path_of(x, path);
	int rc = x->depth > 1 ? on_end(x, path) : 0;
	if (strcmp(path, "record") == 0)
		x->row = NULL;
	if (strcmp(path, "record/auth_results/dkim") == 0 ||
	    strcmp(path, "record/auth_results/spf") == 0)
		x->auth = NULL;
	x->depth--;
	x->tlen = 0;
	x->text_cut = 0;
	return rc;
}

/* Markup after '<'. */
static int markup(struct xp *x)
{
	char name[NAME_MAX_LEN + 1];
	if (starts(x, "?")) {
		if (skip_past(x, "?>") != 0)
			return fail(x, "unterminated processing instruction");
		return 0;
	}
	if (starts(x, "!--")) {
		if (skip_past(x, "-->") != 0)
			return fail(x, "unterminated comment");
		return 0;
	}
	if (starts(x, "![CDATA[")) {
		if (x->depth == 0)
			return fail(x, "CDATA outside the root element");
		x->p += 8;
		const char *s = x->p;
		if (skip_past(x, "]]>") != 0)
			return fail(x, "unterminated CDATA section");
		text_add(x, s, (size_t)(x->p - 3 - s));
		return 0;
	}
	if (starts(x, "!DOCTYPE")) {
		if (x->seen_root)
			return fail(x, "DOCTYPE inside the document");
		for (; x->p < x->end && *x->p != '>'; x->p++)
			if (*x->p == '[')
				return fail(x, "DOCTYPE with an internal subset");
		if (x->p == x->end)
			return fail(x, "unterminated DOCTYPE");
		x->p++;
		return 0;
	}
	if (starts(x, "/")) {
		x->p++;
		if (read_name(x, name) != 0)
			return fail(x, "malformed end tag");
		while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\r' || *x->p == '\n'))
			x->p++;
		if (x->p == x->end || *x->p != '>')
			return fail(x, "malformed end tag");
		x->p++;
		if (x->depth == 0 || strcmp(x->names[x->depth - 1], name) != 0)
			return fail(x, "end tag does not match its start tag");
		return close_element(x);
	}
	int empty = 0; /* set by start_tag on success; the compiler at -O1 cannot tell */
	if (start_tag(x, name, &empty) != 0 || open_element(x, name) != 0)
		return -1;
	return empty ? close_element(x) : 0;
}

static int scan(struct xp *x)
{
	if (starts(x, "\xEF\xBB\xBF"))
		x->p += 3; /* UTF-8 byte order mark */
	while (x->p < x->end) {
		char c = *x->p;
		if (c == '<') {
			x->p++;
			if (markup(x) != 0)
				return -1;
			continue;
		}
		if (x->depth == 0) {
			if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
				return fail(x, "text outside the root element");
			x->p++;
			continue;
		}
		if (c == '&') {
			x->p++;
			if (entity(x) != 0)
				return fail(x, "malformed entity or character reference");
			continue;
		}
		const char *s = x->p;
		while (x->p < x->end && *x->p != '<' && *x->p != '&')
			x->p++;
		text_add(x, s, (size_t)(x->p - s));
	}
	if (x->depth != 0)
		return fail(x, "the document ends inside an element");
	if (!x->seen_root)
		return fail(x, "no <feedback> element");
	return 0;
}

int dmarc_report_parse(const char *xml, size_t len, struct dmarc_report *r, char *err,
		       size_t errsz)
{
	struct xp *x = xcalloc(1, sizeof *x);
	int rc;

	memset(r, 0, sizeof *r);
	r->pct = -1;
	x->p = xml;
	x->end = xml + len;
	x->r = r;
	x->err = err;
	x->errsz = errsz;
	rc = scan(x);
	if (rc == 0 && (!x->seen_metadata || r->org_name[0] == '\0' || r->report_id[0] == '\0'))
		rc = fail(x, "report_metadata lacks org_name or report_id");
	if (rc == 0 && (!x->seen_begin || !x->seen_end || r->end < r->begin))
		rc = fail(x, "report_metadata has no valid date_range");
	if (rc == 0 && r->domain[0] == '\0')
		rc = fail(x, "policy_published has no domain");
	free(x);
	if (rc != 0)
		dmarc_report_free(r);
	return rc;
}

void dmarc_report_free(struct dmarc_report *r)
{
	free(r->rows);
	memset(r, 0, sizeof *r);
	r->pct = -1;
}
