/*
 * json.c — recursive-descent JSON parser into an arena, and the writer.
 * See json.h. Recursion is bounded by JSON_DEPTH_MAX.
 */
#include "http/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/hex.h"
#include "core/utf8.h"

struct parser {
	const char *p;
	size_t n, off;
	struct arena *a;
	const char *why;
	size_t *left; /* values it may still make, or NULL for any number */
	int over;     /* failed for want of *left */
};

static void ws(struct parser *ps)
{
	while (ps->off < ps->n) {
		char c = ps->p[ps->off];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		ps->off++;
	}
}

static int fail(struct parser *ps, const char *why)
{
	if (!ps->why)
		ps->why = why;
	return -1;
}

static int hex4(const char *s, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		int d = hex_digit(s[i]);
		if (d < 0)
			return -1;
		*v = *v << 4 | (unsigned)d;
	}
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* At the opening quote. The decoded string is never longer than the raw one. */
static int parse_string(struct parser *ps, const char **s_r, size_t *len_r)
{
	size_t start = ++ps->off, end = start;

	/* Find the closing quote first to size the copy. */
	while (end < ps->n && ps->p[end] != '"') {
		if (ps->p[end] == '\\')
			end++;
		end++;
	}
	if (end >= ps->n)
		return fail(ps, "unterminated string");
	char *out = arena_alloc(ps->a, end - start + 1);
	size_t o = 0;
	while (ps->off < end) {
		unsigned char c = (unsigned char)ps->p[ps->off];
		if (c < 0x20)
			return fail(ps, "control character in string");
		if (c != '\\') {
			/* A run of plain octets and whole UTF-8 sequences, copied
			 * at once (per octet, the copy's call cost the most). It
			 * ends at a control character or a backslash (both seen
			 * above) or at invalid UTF-8, which then starts a run of
			 * none. */
			size_t from = ps->off;
			while (ps->off < end) {
				unsigned char d = (unsigned char)ps->p[ps->off];
				size_t k = d < 0x80 ? d >= 0x20 && d != '\\'
						    : utf8_seq((const unsigned char *)ps->p + ps->off,
							       end - ps->off);
				if (k == 0)
					break;
				ps->off += k;
			}
			if (ps->off == from)
				return fail(ps, "invalid UTF-8");
			memcpy(out + o, ps->p + from, ps->off - from);
			o += ps->off - from;
			continue;
		}
		if (ps->off + 1 >= end)
			return fail(ps, "bad escape");
		char e = ps->p[ps->off + 1];
		ps->off += 2;
		switch (e) {
		case '"': out[o++] = '"'; break;
		case '\\': out[o++] = '\\'; break;
		case '/': out[o++] = '/'; break;
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			if (ps->off + 4 > end || hex4(ps->p + ps->off, &cp) < 0)
				return fail(ps, "bad \\u escape");
			ps->off += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return fail(ps, "lone low surrogate");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (ps->off + 6 > end || ps->p[ps->off] != '\\' ||
				    ps->p[ps->off + 1] != 'u' || hex4(ps->p + ps->off + 2, &lo) < 0 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return fail(ps, "lone high surrogate");
				ps->off += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			/* \uXXXX (6 bytes) -> at most 3; a pair (12) -> 4. */
			o += put_utf8(out + o, cp);
			break;
		}
		default:
			return fail(ps, "bad escape");
		}
	}
	out[o] = '\0';
	ps->off = end + 1;
	*s_r = out;
	*len_r = o;
	return 0;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * The value of the number text t (already checked against the grammar)
 * into *out when it is exactly an integer within int64, whatever its
 * spelling: JSON has numbers, not integers (RFC 8259 §6), so 1e5,
 * 100000.0 and 1.5e3 are integers and 1.5, 1e-1 or 1e19 are not. Works
 * on the digits, not on a double (100000.0000000000000001 is no integer
 * though strtod rounds it to one). 1 when it is one, else 0.
 */
static int exact_int(const char *t, int64_t *out)
{
	int neg = *t == '-';
	const char *d = t + neg, *frac = NULL, *e;
	size_t nd = 0; /* significant digits, trailing zeros dropped */
	long scale = 0, ex = 0;
	char digits[JSON_NUMBER_MAX];

	for (; *d && *d != 'e' && *d != 'E'; d++) {
		if (*d == '.') {
			frac = d;
			continue;
		}
		if (nd || *d != '0')
			digits[nd++] = *d;
		if (frac)
			scale--; /* each fraction digit divides by ten */
	}
	e = d;
	if (*e) {
		int eneg = e[1] == '-';
		/* Saturated: past a few thousand the answer is known anyway. */
		for (e += 1 + (e[1] == '-' || e[1] == '+'); *e; e++)
			if (ex < 100000)
				ex = ex * 10 + (*e - '0');
		scale += eneg ? -ex : ex;
	}
	while (nd && digits[nd - 1] == '0') {
		nd--;
		scale++;
	}
	if (!nd) {
		*out = 0; /* 0, -0.0, 0e99 */
		return 1;
	}
	if (scale < 0)
		return 0;
	uint64_t acc = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (size_t i = 0; i < nd + (size_t)(scale > 20 ? 20 : scale); i++) {
		unsigned dv = i < nd ? (unsigned)(digits[i] - '0') : 0;
		if (acc > (lim - dv) / 10)
			return 0;
		acc = acc * 10 + dv;
	}
	*out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	return 1;
}

static int parse_number(struct parser *ps, struct json_value *v)
{
	size_t s = ps->off, i = s;
	int plain = 1; /* digits only: no fraction, no exponent */
	char stack[64], *tmp = stack;

	if (i < ps->n && ps->p[i] == '-')
		i++;
	if (i >= ps->n || !is_digit(ps->p[i]))
		return fail(ps, "bad number");
	if (ps->p[i] == '0' && i + 1 < ps->n && is_digit(ps->p[i + 1]))
		return fail(ps, "leading zero");
	while (i < ps->n && is_digit(ps->p[i]))
		i++;
	if (i < ps->n && ps->p[i] == '.') {
		plain = 0;
		i++;
		if (i >= ps->n || !is_digit(ps->p[i]))
			return fail(ps, "bad number");
		while (i < ps->n && is_digit(ps->p[i]))
			i++;
	}
	if (i < ps->n && (ps->p[i] == 'e' || ps->p[i] == 'E')) {
		plain = 0;
		i++;
		if (i < ps->n && (ps->p[i] == '+' || ps->p[i] == '-'))
			i++;
		if (i >= ps->n || !is_digit(ps->p[i]))
			return fail(ps, "bad number");
		while (i < ps->n && is_digit(ps->p[i]))
			i++;
	}
	/* Any number JSON allows, to JSON_NUMBER_MAX octets: one past a
	 * double's precision is I-JSON too (RFC 7493 §2.2 is a SHOULD NOT),
	 * kept as its text below. */
	if (i - s > JSON_NUMBER_MAX)
		return fail(ps, "number too long");
	if (i - s >= sizeof(stack) && !(tmp = arena_alloc(ps->a, i - s + 1)))
		return fail(ps, "out of memory");
	memcpy(tmp, ps->p + s, i - s);
	tmp[i - s] = '\0';
	v->type = JSON_NUMBER;
	v->number = strtod(tmp, NULL);
	v->is_int = exact_int(tmp, &v->integer);
	/* Any spelling but plain digits is kept, so that jw_value writes
	 * the number back as it came (1e5 stays 1e5, -0.0 stays -0.0). */
	if ((!v->is_int || !plain) &&
	    !(v->num = tmp != stack ? tmp : arena_strndup(ps->a, tmp, i - s)))
		return fail(ps, "out of memory");
	ps->off = i;
	return 0;
}

static int literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);
	if (ps->n - ps->off < n || memcmp(ps->p + ps->off, word, n) != 0)
		return fail(ps, "unexpected character");
	ps->off += n;
	return 0;
}

static struct json_value *parse_value(struct parser *ps, int depth);

/* Members whose names parse_container compares one by one. */
#define DUP_SCAN_MAX 16

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 when no two members of object v share a name: sorted, n log n. */
static int keys_unique(struct parser *ps, const struct json_value *v)
{
	const char **k = arena_alloc(ps->a, v->count * sizeof *k);
	size_t n = 0;
	for (const struct json_value *c = v->first; c; c = c->next)
		k[n++] = c->key;
	qsort(k, n, sizeof *k, key_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(k[i - 1], k[i]) == 0)
			return 0;
	return 1;
}

static int parse_container(struct parser *ps, struct json_value *v, int depth, int object)
{
	struct json_value **tail = &v->first;
	char close = object ? '}' : ']';

	if (depth >= JSON_DEPTH_MAX)
		return fail(ps, "nested too deeply");
	ps->off++;
	ws(ps);
	if (ps->off < ps->n && ps->p[ps->off] == close) {
		ps->off++;
		return 0;
	}
	for (;;) {
		const char *key = NULL;
		size_t keylen = 0;
		ws(ps);
		if (object) {
			if (ps->off >= ps->n || ps->p[ps->off] != '"')
				return fail(ps, "expected a member name");
			if (parse_string(ps, &key, &keylen) < 0)
				return -1;
			if (strlen(key) != keylen)
				return fail(ps, "NUL in member name");
			/* Past the first few members, duplicates are found once
			 * the object is closed (keys_unique): a walk of all the
			 * earlier ones per member cost n^2/2 comparisons, minutes
			 * of CPU for a JMAP request or a TLS report's megabyte of
			 * short distinct names. */
			for (struct json_value *c = v->first; c && v->count < DUP_SCAN_MAX; c = c->next)
				if (strcmp(c->key, key) == 0)
					return fail(ps, "duplicate member name");
			ws(ps);
			if (ps->off >= ps->n || ps->p[ps->off] != ':')
				return fail(ps, "expected ':'");
			ps->off++;
		}
		struct json_value *c = parse_value(ps, depth + 1);
		if (!c)
			return -1;
		if (object)
			c->key = key;
		*tail = c;
		tail = &c->next;
		v->count++;
		ws(ps);
		if (ps->off >= ps->n)
			return fail(ps, "unexpected end");
		if (ps->p[ps->off] == ',') {
			ps->off++;
			continue;
		}
		if (ps->p[ps->off] == close) {
			ps->off++;
			if (object && v->count > DUP_SCAN_MAX && !keys_unique(ps, v))
				return fail(ps, "duplicate member name");
			return 0;
		}
		return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static struct json_value *parse_value(struct parser *ps, int depth)
{
	if (ps->left) {
		if (*ps->left == 0) {
			ps->over = 1;
			fail(ps, "too many values");
			return NULL;
		}
		(*ps->left)--;
	}
	struct json_value *v = arena_zalloc(ps->a, sizeof(*v));
	int rc;

	/* An object member's key is set by its object; any other value has
	 * "" (never NULL), so code that walks a value's children by key
	 * without checking it is an object meets no null pointer. */
	v->key = "";
	ws(ps);
	if (ps->off >= ps->n) {
		fail(ps, "unexpected end");
		return NULL;
	}
	switch (ps->p[ps->off]) {
	case '{':
		v->type = JSON_OBJECT;
		rc = parse_container(ps, v, depth, 1);
		break;
	case '[':
		v->type = JSON_ARRAY;
		rc = parse_container(ps, v, depth, 0);
		break;
	case '"':
		v->type = JSON_STRING;
		rc = parse_string(ps, &v->str, &v->len);
		break;
	case 't':
		v->type = JSON_BOOL;
		v->boolean = 1;
		rc = literal(ps, "true");
		break;
	case 'f':
		v->type = JSON_BOOL;
		rc = literal(ps, "false");
		break;
	case 'n':
		v->type = JSON_NULL;
		rc = literal(ps, "null");
		break;
	default:
		rc = parse_number(ps, v);
		break;
	}
	return rc < 0 ? NULL : v;
}

struct json_value *json_parse(const char *p, size_t n, struct arena *a, char *err, size_t errsz)
{
	return json_parse_capped(p, n, a, NULL, NULL, err, errsz);
}

struct json_value *json_parse_capped(const char *p, size_t n, struct arena *a, size_t *left,
				     int *over_r, char *err, size_t errsz)
{
	struct parser ps = { .p = p, .n = n, .a = a, .left = left };
	struct json_value *v = parse_value(&ps, 0);

	if (over_r)
		*over_r = ps.over;

	if (v) {
		ws(&ps);
		if (ps.off != n) {
			fail(&ps, "trailing characters");
			v = NULL;
		}
	}
	if (!v)
		snprintf(err, errsz, "%s at byte %zu", ps.why ? ps.why : "invalid JSON", ps.off);
	return v;
}

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (const struct json_value *c = obj->first; c; c = c->next)
		if (strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

static const char *kind_name(enum json_kind k)
{
	switch (k) {
	case JK_STRING: return "a string";
	case JK_INT: return "a non-negative integer";
	case JK_BOOL: return "true or false";
	case JK_OBJECT: return "an object";
	default: return "a value";
	}
}

static int kind_ok(const struct json_value *v, enum json_kind k)
{
	switch (k) {
	case JK_STRING: return v->type == JSON_STRING && strlen(v->str) == v->len;
	case JK_INT: return v->type == JSON_NUMBER && v->is_int && v->integer >= 0;
	case JK_BOOL: return v->type == JSON_BOOL;
	case JK_OBJECT: return v->type == JSON_OBJECT;
	default: return 1;
	}
}

int json_check_object(const struct json_value *v, const struct json_field *fields, size_t n,
		      const char **field_r, const char **code_r, char *detail, size_t detailsz)
{
	if (!v || v->type != JSON_OBJECT) {
		/* The body's fault, as an empty or malformed one is: no field. */
		*field_r = "";
		*code_r = "bad_json";
		snprintf(detail, detailsz, "the request body must be a JSON object");
		return -1;
	}
	for (const struct json_value *c = v->first; c; c = c->next) {
		size_t i;
		for (i = 0; i < n && strcmp(fields[i].name, c->key) != 0; i++)
			;
		if (i == n) {
			*field_r = c->key;
			*code_r = "unknown_field";
			snprintf(detail, detailsz, "unknown field '%.64s'", c->key);
			return -1;
		}
		if (!kind_ok(c, fields[i].kind)) {
			*field_r = fields[i].name;
			*code_r = "invalid_field";
			snprintf(detail, detailsz, "field '%s' must be %s", fields[i].name,
				 kind_name(fields[i].kind));
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (fields[i].required && !json_get(v, fields[i].name)) {
			*field_r = fields[i].name;
			*code_r = "missing_field";
			snprintf(detail, detailsz, "field '%s' is required", fields[i].name);
			return -1;
		}
	}
	return 0;
}

/* ---- writer ---- */

void jw_init(struct jw *w, struct buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

void jw_flush_to(struct jw *w, int (*flush)(void *cls, struct buf *b), void *cls)
{
	w->flush = flush;
	w->flush_cls = cls;
}

static void put(struct jw *w, const char *s, size_t n)
{
	if (!w->failed && buf_append(w->b, s, n) < 0)
		w->failed = 1;
	if (!w->failed && w->flush && buf_len(w->b) >= JW_FLUSH_AT && w->flush(w->flush_cls, w->b) < 0)
		w->failed = 1;
}

/* Comma before a value unless it is the first at its depth or follows a key. */
static void pre_value(struct jw *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->written[w->depth])
		put(w, ",", 1);
	w->written[w->depth] = 1; /* a flag, not a count: a count would wrap */
}

static void open_(struct jw *w, char c)
{
	pre_value(w);
	put(w, &c, 1);
	if (w->depth + 1 < JSON_DEPTH_MAX)
		w->depth++;
	else
		w->failed = 1;
	w->written[w->depth] = 0;
}

static void close_(struct jw *w, char c)
{
	put(w, &c, 1);
	if (w->depth > 0)
		w->depth--;
}

void jw_obj_begin(struct jw *w) { open_(w, '{'); }
void jw_obj_end(struct jw *w) { close_(w, '}'); }
void jw_arr_begin(struct jw *w) { open_(w, '['); }
void jw_arr_end(struct jw *w) { close_(w, ']'); }

/*
 * Bytes that go out as they are (printable ASCII but '"' and '\\', and
 * whole UTF-8 sequences but U+2028/2029) are written a run at a time: one
 * put per run, not per byte. Per byte, a 5 MB Core/echo spent most of its
 * time in buf_append's call and bounds check for every octet.
 */
static void str_body(struct jw *w, const char *s, size_t n)
{
	size_t run = 0; /* start of the bytes not yet put */

	put(w, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		const char *esc;
		char u[8];
		size_t k = 1, elen;
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c == '"' || c == '\\') {
			u[0] = '\\';
			u[1] = (char)c;
			esc = u;
			elen = 2;
		} else if (c < 0x80) { /* a control character or DEL */
			elen = (size_t)snprintf(u, sizeof(u), "\\u%04x", c);
			esc = u;
		} else if ((k = utf8_seq((const unsigned char *)s + i, n - i)) == 0) {
			k = 1;
			esc = "\\ufffd";
			elen = 6;
		} else if (k == 3 && c == 0xe2 && (unsigned char)s[i + 1] == 0x80 &&
			   ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
			/* U+2028/2029 escaped so the output is also valid JavaScript. */
			esc = (unsigned char)s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
			elen = 6;
		} else {
			i += k; /* a valid sequence: part of the run */
			continue;
		}
		put(w, s + run, i - run);
		put(w, esc, elen);
		i += k;
		run = i;
	}
	put(w, s + run, n - run);
	put(w, "\"", 1);
}

void jw_key(struct jw *w, const char *key)
{
	pre_value(w);
	str_body(w, key, strlen(key));
	put(w, ":", 1);
	w->after_key = 1;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	pre_value(w);
	str_body(w, s ? s : "", s ? n : 0);
}

void jw_str(struct jw *w, const char *s)
{
	jw_strn(w, s, s ? strlen(s) : 0);
}

void jw_int(struct jw *w, int64_t v)
{
	char t[32];
	int k = snprintf(t, sizeof(t), "%lld", (long long)v);
	pre_value(w);
	put(w, t, (size_t)k);
}

void jw_uint(struct jw *w, uint64_t v)
{
	char t[32];
	int k = snprintf(t, sizeof(t), "%llu", (unsigned long long)v);
	pre_value(w);
	put(w, t, (size_t)k);
}

void jw_double(struct jw *w, double v)
{
	char t[40];
	/* JSON has no infinities; -0 is written 0 like every other zero. */
	int k = !isfinite(v) ? snprintf(t, sizeof(t), "null")
		: v == 0   ? snprintf(t, sizeof(t), "0")
			   : snprintf(t, sizeof(t), "%.17g", v);
	pre_value(w);
	put(w, t, (size_t)k);
}

void jw_bool(struct jw *w, int v)
{
	pre_value(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(struct jw *w)
{
	pre_value(w);
	put(w, "null", 4);
}

void jw_raw(struct jw *w, const char *json)
{
	pre_value(w);
	put(w, json, strlen(json));
}

void jw_rawn(struct jw *w, const char *json, size_t n)
{
	pre_value(w);
	put(w, json, n);
}

void jw_value(struct jw *w, const struct json_value *v)
{
	switch (v ? v->type : JSON_NULL) {
	case JSON_NULL: jw_null(w); break;
	case JSON_BOOL: jw_bool(w, v->boolean); break;
	case JSON_NUMBER:
		if (v->num)
			jw_raw(w, v->num); /* checked by the parser: one number */
		else if (v->is_int)
			jw_int(w, v->integer);
		else
			jw_double(w, v->number);
		break;
	case JSON_STRING: jw_strn(w, v->str, v->len); break;
	case JSON_ARRAY:
		jw_arr_begin(w);
		for (const struct json_value *c = v->first; c; c = c->next)
			jw_value(w, c);
		jw_arr_end(w);
		break;
	case JSON_OBJECT:
		jw_obj_begin(w);
		for (const struct json_value *c = v->first; c; c = c->next) {
			jw_key(w, c->key);
			jw_value(w, c);
		}
		jw_obj_end(w);
		break;
	}
}

void jw_kstr(struct jw *w, const char *key, const char *s) { jw_key(w, key); jw_str(w, s); }
void jw_kint(struct jw *w, const char *key, int64_t v) { jw_key(w, key); jw_int(w, v); }
void jw_kuint(struct jw *w, const char *key, uint64_t v) { jw_key(w, key); jw_uint(w, v); }
void jw_kbool(struct jw *w, const char *key, int v) { jw_key(w, key); jw_bool(w, v); }
