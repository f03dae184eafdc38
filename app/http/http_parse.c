/*
 * http_parse.c — request parsers without libmicrohttpd. See http_parse.h.
 *
 * Moved here unchanged from http_server.c (host_of), http_static.c
 * (gzip_ok, etag_match) and autoconfig.c (safe_email, pox_email) so that
 * they are fuzzed; only the way they receive the header or body changed.
 */
#include "http/http_parse.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/hex.h"
#include "core/utf8.h"

const char *http_host_normalize(struct arena *a, const char *h)
{
	if (!h)
		return "";
	size_t n = strlen(h);
	if (n == 0 || n > 255)
		return "";
	char *o = arena_alloc(a, n + 1);
	size_t k = 0;
	if (h[0] == '[') { /* IPv6 literal: keep the brackets, drop the port */
		const char *e = strchr(h, ']');
		if (!e)
			return "";
		k = (size_t)(e - h + 1);
		memcpy(o, h, k);
	} else {
		for (; k < n && h[k] != ':'; k++)
			o[k] = h[k];
	}
	o[k] = '\0';
	for (size_t i = 0; i < k; i++) {
		char c = o[i];
		if (c >= 'A' && c <= 'Z')
			o[i] = (char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			   c == '.' || c == '[' || c == ']' || c == ':'))
			return "";
	}
	return o;
}

int http_gzip_ok(const char *ae)
{
	const char *p = ae;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *tok = p;
		while (*p && *p != ',' && *p != ';' && *p != ' ')
			p++;
		size_t n = (size_t)(p - tok);
		int match = (n == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
			    (n == 6 && strncasecmp(tok, "x-gzip", 6) == 0) || (n == 1 && *tok == '*');
		/* q=0 refuses. */
		int refused = 0;
		while (*p && *p != ',') {
			if (*p == 'q' && p[1] == '=') {
				const char *q = p + 2;
				refused = q[0] == '0' && (q[1] != '.' || strspn(q + 2, "0") ==
							  strcspn(q + 2, ", "));
			}
			p++;
		}
		if (match && !refused)
			return 1;
	}
	return 0;
}

int http_etag_match(const char *inm, const char *etag)
{
	if (!inm)
		return 0;
	if (strcmp(inm, "*") == 0)
		return 1;
	size_t n = strlen(etag);
	for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag)) {
		char after = p[n];
		if (after == '\0' || after == ',' || after == ' ')
			return 1;
	}
	return 0;
}

const char *http_safe_email(struct arena *a, const char *e)
{
	if (!e)
		return "";
	size_t n = strlen(e);
	if (n == 0 || n > 254 || !strchr(e, '@'))
		return "";
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)e[i] <= 0x20 || e[i] == '<' || e[i] == '>' || e[i] == '"')
			return "";
	/* An address is UTF-8 (RFC 6531), and the documents that carry it
	 * say so: an octet that is none would make them ill-formed XML. */
	if (!utf8_valid(str_make(e, n)))
		return "";
	return arena_strdup(a, e);
}

/* The text of the first <tag> element in body, XML whitespace around it
 * trimmed, into *s and *e: 1; 0 when it is not closed; -1 when there is
 * none. */
static int pox_text(const char *body, const char *tag, const char **s, const char **e)
{
	char open[48], close[48];

	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	*s = body ? strstr(body, open) : NULL;
	if (!*s)
		return -1;
	*s += strlen(open);
	*e = strstr(*s, close);
	if (!*e)
		return 0;
	while (*s < *e && strchr(" \t\r\n", **s))
		(*s)++;
	while (*e > *s && strchr(" \t\r\n", (*e)[-1]))
		(*e)--;
	return 1;
}

int http_pox_schema_ok(const char *body)
{
	static const char outlook[] =
		"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
	const char *s, *e;
	int rc = pox_text(body, "AcceptableResponseSchema", &s, &e);

	if (rc < 0)
		return 1;
	return rc == 1 && (size_t)(e - s) == sizeof outlook - 1 &&
	       memcmp(s, outlook, sizeof outlook - 1) == 0;
}

/*
 * Its text is XML: the five predefined entities are decoded (an address
 * may hold "&" or "'"), so the answer, escaped again, does not escape them
 * twice.
 */
const char *http_pox_email(struct arena *a, const char *body)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' },
		     { "&apos;", '\'' } };
	const char *s, *e;
	int rc = pox_text(body, "EMailAddress", &s, &e);

	if (rc < 0)
		return NULL;
	if (rc == 0 || e - s > 254)
		return "";
	char *out = arena_strndup(a, s, (size_t)(e - s)), *w = out;
	for (const char *r = out; *r;) {
		size_t i = 0;
		while (i < sizeof(ents) / sizeof(ents[0]) && strncmp(r, ents[i].ent, strlen(ents[i].ent)))
			i++;
		if (i < sizeof(ents) / sizeof(ents[0])) {
			*w++ = ents[i].c;
			r += strlen(ents[i].ent);
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return http_safe_email(a, out);
}

long http_header_end(unsigned *line_r, const char *p, size_t n)
{
	unsigned line = *line_r;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (line == 0) {
				*line_r = 0;
				return (long)i + 1;
			}
			line = 0;
		} else if (p[i] != '\r' && line < UINT_MAX) {
			line++;
		}
	}
	*line_r = line;
	return -2;
}

/* RFC 3986 §2.3 unreserved or §2.2 sub-delims. */
static int host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-._~!$&'()*+,;=", c));
}

int http_host_valid(const char *p, size_t n)
{
	size_t i = 0;
	if (n && p[0] == '[') {
		/* IP-literal: what the brackets hold is the address's business;
		 * only characters a literal can have, and something. */
		for (i = 1; i < n && p[i] != ']'; i++)
			if (!host_char((unsigned char)p[i]) && p[i] != ':')
				return 0;
		if (i == n || i == 1)
			return 0;
		i++;
	} else {
		for (; i < n && p[i] != ':'; i++) {
			if (p[i] == '%') {
				if (i + 2 >= n || hex_digit(p[i + 1]) < 0 || hex_digit(p[i + 2]) < 0)
					return 0;
				i += 2;
			} else if (!host_char((unsigned char)p[i])) {
				return 0;
			}
		}
	}
	if (i == n)
		return 1;
	if (p[i] != ':')
		return 0;
	for (i++; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

/* RFC 9110 §5.6.2 tchar. */
static int tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* 1 when the lowercase media type essence m (token "/" token) is one a
 * browser runs or renders as a document of the origin that serves it. */
static int active_type(const char *m)
{
	static const char *const words[] = { "javascript", "ecmascript", "jscript", "livescript" };
	static const char *const exact[] = { "text/html", "text/css", "text/xsl", "text/xml",
					     "application/xml", "multipart/x-mixed-replace" };
	const char *sub = strchr(m, '/') + 1;
	size_t n = strlen(sub);

	for (size_t i = 0; i < sizeof words / sizeof *words; i++)
		if (strstr(sub, words[i]))
			return 1;
	for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
		if (!strcmp(m, exact[i]))
			return 1;
	/* Any XML one (RFC 7303 §4.2: +xml): SVG, XHTML, XSLT, feeds. */
	return !strcmp(sub, "xml") || (n >= 4 && !strcmp(sub + n - 4, "+xml"));
}

const char *http_download_type(const char *t)
{
	static const char octets[] = "application/octet-stream";
	char m[256];
	size_t i = 0, slash = 0; /* where '/' is; 0: none (or first, as bad) */

	if (!t || strlen(t) >= sizeof m || strpbrk(t, ",\"\\"))
		return octets;
	for (const char *p = t; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return octets;
	const char *p = t + strspn(t, " ");
	for (; tchar((unsigned char)*p) || (*p == '/' && !slash && i); p++, i++) {
		if (*p == '/')
			slash = i;
		m[i] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	}
	m[i] = '\0';
	p += strspn(p, " ");
	if (!slash || slash + 1 == i || (*p && *p != ';'))
		return octets;
	return active_type(m) ? octets : t;
}

/* Takes the next line of [*pp, e) without its CR LF (or bare LF). */
static struct str next_line(const char **pp, const char *e)
{
	const char *p = *pp, *nl = memchr(p, '\n', (size_t)(e - p));
	const char *end = nl ? nl : e;
	*pp = nl ? nl + 1 : e;
	if (end > p && end[-1] == '\r')
		end--;
	return str_make(p, (size_t)(end - p));
}

static int head_field(struct http_head *h, struct str name, struct str value)
{
	static const struct {
		const char *name;
		size_t off;
	} known[] = {
	    {"authorization", offsetof(struct http_head, authorization)},
	    {"upgrade", offsetof(struct http_head, upgrade)},
	    {"connection", offsetof(struct http_head, connection)},
	    {"last-event-id", offsetof(struct http_head, last_event_id)},
	    {"sec-websocket-key", offsetof(struct http_head, ws_key)},
	    {"sec-websocket-version", offsetof(struct http_head, ws_version)},
	    {"sec-websocket-protocol", offsetof(struct http_head, ws_protocol)},
	    {"forwarded", offsetof(struct http_head, forwarded)},
	    {"x-forwarded-for", offsetof(struct http_head, x_forwarded_for)},
	    {"x-forwarded-proto", offsetof(struct http_head, x_forwarded_proto)},
	    {"x-forwarded-host", offsetof(struct http_head, x_forwarded_host)},
	    {"host", offsetof(struct http_head, host)},
	    {"origin", offsetof(struct http_head, origin)},
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		if (!str_eq_ci_c(name, known[i].name))
			continue;
		struct str *f = (struct str *)((char *)h + known[i].off);
		if (f->p)
			return -1; /* twice: which one would the other side read? */
		*f = value.p ? value : str_make(name.p + name.len, 0);
		return 0;
	}
	return 0;
}

/*
 * RFC 9112 §3.2.2: a server MUST accept an absolute-form target, whose
 * authority then stands for the Host field and whose path and query are
 * the target: h is made to say so, and a push request in that form is
 * one like any other (it was not taken over, and answered 404). -1 for
 * the authorities http_absolute_target() refuses.
 */
static int head_absolute(struct http_head *h)
{
	struct str t = h->target;
	size_t skip = t.len >= 7 && !strncasecmp(t.p, "http://", 7)    ? 7
		      : t.len >= 8 && !strncasecmp(t.p, "https://", 8) ? 8
								       : 0;
	if (!skip)
		return 0;
	struct str rest = str_make(t.p + skip, t.len - skip);
	size_t n = 0;
	while (n < rest.len && rest.p[n] != '/' && rest.p[n] != '?' && rest.p[n] != '#')
		n++;
	if (n == 0 || memchr(rest.p, '@', n) || !http_host_valid(rest.p, n))
		return -1;
	h->host = str_make(rest.p, n);
	h->target = str_make(rest.p + n, rest.len - n);
	return 0;
}

int http_head_parse(const char *p, size_t n, struct http_head *h)
{
	const char *e = p + n;

	memset(h, 0, sizeof *h);
	struct str l = next_line(&p, e);
	if (l.len == 0) /* one empty line before the request line (RFC 9112 §2.2) */
		l = next_line(&p, e);
	const char *sp1 = memchr(l.p, ' ', l.len);
	if (!sp1 || sp1 == l.p)
		return -1;
	const char *rest = sp1 + 1, *le = l.p + l.len;
	const char *sp2 = memchr(rest, ' ', (size_t)(le - rest));
	if (!sp2 || sp2 == rest || (size_t)(le - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return -1;
	h->method = str_make(l.p, (size_t)(sp1 - l.p));
	h->target = str_make(rest, (size_t)(sp2 - rest));
	for (size_t i = 0; i < h->method.len; i++)
		if (!tchar((unsigned char)h->method.p[i]))
			return -1;
	for (size_t i = 0; i < h->target.len; i++)
		if ((unsigned char)h->target.p[i] <= ' ' || h->target.p[i] == 0x7f)
			return -1;
	while (p < e) {
		l = next_line(&p, e);
		if (l.len == 0)
			break; /* the end of the header */
		const char *colon = memchr(l.p, ':', l.len);
		if (!colon || colon == l.p)
			return -1; /* also a folded line: it starts with a blank */
		struct str name = str_make(l.p, (size_t)(colon - l.p));
		for (size_t i = 0; i < name.len; i++)
			if (!tchar((unsigned char)name.p[i]))
				return -1;
		struct str v = str_make(colon + 1, (size_t)(l.p + l.len - colon - 1));
		for (size_t i = 0; i < v.len; i++)
			if (((unsigned char)v.p[i] < ' ' && v.p[i] != '\t') || v.p[i] == 0x7f)
				return -1;
		while (v.len && (v.p[0] == ' ' || v.p[0] == '\t'))
			v = str_make(v.p + 1, v.len - 1);
		while (v.len && (v.p[v.len - 1] == ' ' || v.p[v.len - 1] == '\t'))
			v.len--;
		if (head_field(h, name, v) < 0)
			return -1;
	}
	/* RFC 9112 §3.2: a Host field with an invalid value is refused. */
	if (h->host.p && !http_host_valid(h->host.p, h->host.len))
		return -1;
	return head_absolute(h);
}

int http_query_param(struct str target, const char *name, char *out, size_t outsz)
{
	const char *q = memchr(target.p, '?', target.len), *e = target.p + target.len;
	size_t nl = strlen(name);

	if (!q || outsz == 0)
		return 0;
	for (const char *p = q + 1; p < e;) {
		const char *amp = memchr(p, '&', (size_t)(e - p)), *pe = amp ? amp : e;
		if ((size_t)(pe - p) >= nl + 1 && memcmp(p, name, nl) == 0 && p[nl] == '=') {
			const char *v = p + nl + 1;
			size_t o;
			if (pct_decode(v, (size_t)(pe - v), out, outsz, &o, PCT_NO_NUL | PCT_PLUS_SPACE) < 0)
				return -1;
			return 1;
		}
		p = amp ? amp + 1 : e;
	}
	return 0;
}

/* The next non-empty element of a comma-separated list at *pp, without
 * the blanks around it (RFC 9110 §5.6.1); 0 at the end. */
static int list_next(const char **pp, struct str *el)
{
	const char *p = *pp;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *b = p, *e;
		while (*p && *p != ',')
			p++;
		for (e = p; e > b && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		if (*p == ',')
			p++;
		if (e > b) {
			*pp = p;
			*el = str_make(b, (size_t)(e - b));
			return 1;
		}
	}
	*pp = p;
	return 0;
}

/* Content-Length: every element the same run of digits. */
static int length_sound(const char *cl)
{
	struct str first = { 0 }, el;
	int n = 0;
	while (list_next(&cl, &el)) {
		for (size_t i = 0; i < el.len; i++)
			if (el.p[i] < '0' || el.p[i] > '9')
				return 0;
		if (n++ && !str_eq(el, first))
			return 0;
		first = el;
	}
	return n > 0;
}

int http_framing_status(int http10, const char *cl, const char *te)
{
	if (!te)
		return !cl || length_sound(cl) ? 0 : 400;
	/* A front end that reads the other field, or an HTTP/1.0 one that
	 * knows no Transfer-Encoding, frames the body differently. */
	if (cl || http10)
		return 400;
	struct str el;
	int codings = 0, chunked_last = 0;
	while (list_next(&te, &el)) {
		if (chunked_last)
			return 400; /* chunked, then something: not final, or twice */
		codings++;
		chunked_last = str_eq_ci_c(el, "chunked");
	}
	if (!chunked_last)
		return 400; /* no length to read the body by (§6.3) */
	return codings == 1 ? 0 : 501;
}

int http_absolute_target(struct arena *a, const char *target, const char **authority_r,
			 const char **path_r)
{
	size_t skip;
	if (strncasecmp(target, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(target, "https://", 8) == 0)
		skip = 8;
	else
		return 0;
	const char *auth = target + skip;
	size_t n = strcspn(auth, "/?#");
	if (n == 0 || memchr(auth, '@', n) || !http_host_valid(auth, n))
		return -1;
	*authority_r = arena_strndup(a, auth, n);
	*path_r = auth[n] == '/' ? arena_strdup(a, auth + n) : "/";
	return 1;
}

/*
 * The request stream (http_parse.h). The header's states first: the
 * request line, then field lines; a trailer section runs through the
 * field-line states too. Then the body's.
 */
enum { RL_START, RL_METHOD, RL_TARGET0, RL_TARGET, RL_VERSION /* .. +7 */, RL_EOL = RL_VERSION + 8,
       RL_LF, FL_START, FL_NAME, FL_VALUE, FL_VALUE_CR, FL_END, RL_DONE, RL_BAD,
       ST_BODY, CH_SIZE0, CH_SIZE, CH_EXT, CH_LF, CH_DATA, CH_DCR, CH_DLF, ST_STOP, ST_BAD };

static const char *const framing_names[2] = {"content-length", "transfer-encoding"};

static int line_step(int st, unsigned char ch)
{
	static const char version[] = "HTTP/#.#";
	switch (st) {
	case RL_START: return ch == '\r' || ch == '\n' ? RL_START : tchar(ch) ? RL_METHOD : RL_BAD;
	case RL_METHOD: return ch == ' ' ? RL_TARGET0 : tchar(ch) ? RL_METHOD : RL_BAD;
	case RL_TARGET0:
	case RL_TARGET:
		if (ch == ' ' && st == RL_TARGET)
			return RL_VERSION;
		return ch > 0x20 && ch != 0x7f ? RL_TARGET : RL_BAD;
	case RL_EOL: return ch == '\r' ? RL_LF : ch == '\n' ? FL_START : RL_BAD;
	case RL_LF: return ch == '\n' ? FL_START : RL_BAD;
	case FL_START:
		/* A blank first is an obs-fold (RFC 9112 §5.2): libmicrohttpd
		 * glued it to the line before without the SP the RFC asks for
		 * ("chun" + " ked" read as chunked). */
		return ch == '\r' ? FL_END : ch == '\n' ? RL_DONE : tchar(ch) ? FL_NAME : RL_BAD;
	case FL_NAME: return ch == ':' ? FL_VALUE : tchar(ch) ? FL_NAME : RL_BAD;
	case FL_VALUE:
		/* RFC 9110 §5.5, RFC 9112 §2.2: NUL, a bare CR, any control but
		 * HTAB in a value is refused (libmicrohttpd cut the value at a
		 * NUL, so "Bearer TOKEN\0junk" was the token, and kept a bare
		 * CR), as http_head_parse() refuses them. */
		return ch == '\n' ? FL_START : ch == '\r' ? FL_VALUE_CR
		       : (ch < 0x20 && ch != '\t') || ch == 0x7f ? RL_BAD : FL_VALUE;
	case FL_VALUE_CR: return ch == '\n' ? FL_START : RL_BAD;
	case FL_END: return ch == '\n' ? RL_DONE : RL_BAD;
	default: {
		char want = version[st - RL_VERSION];
		int ok = want == '#' ? ch >= '0' && ch <= '9' : ch == (unsigned char)want;
		return !ok ? RL_BAD : st + 1;
	}
	}
}

static void request_done(struct http_stream *s)
{
	memset(s, 0, sizeof *s);
	s->st = RL_START;
}

void http_stream_init(struct http_stream *s)
{
	request_done(s);
}

/* Keeps what the header says of Content-Length and Transfer-Encoding,
 * each field's lines joined by ", " as http_framing_status() takes them.
 * 400 when one is longer than we keep. */
static int framing_capture(struct http_stream *s, int prev, int st, unsigned char ch)
{
	if (prev == FL_START && st == FL_NAME) {
		s->name = 0;
		s->cands = 3;
	}
	if (st == FL_NAME) {
		for (int k = 0; k < 2; k++)
			if (s->name >= strlen(framing_names[k]) ||
			    (ch | 0x20) != (unsigned char)framing_names[k][s->name])
				s->cands &= (unsigned char)~(1u << k);
		s->name++;
	} else if (prev == FL_NAME && st == FL_VALUE) {
		s->field = 0;
		for (int k = 0; k < 2; k++)
			if ((s->cands & (1u << k)) && s->name == strlen(framing_names[k]))
				s->field = (unsigned char)(k + 1);
		if (!s->field)
			return 0;
		int k = s->field - 1;
		if (s->seen & (1u << k)) {
			if (s->len[k] + 2 > HTTP_FRAMING_FIELD_MAX)
				return 400;
			s->val[k][s->len[k]++] = ',';
			s->val[k][s->len[k]++] = ' ';
		}
		s->seen |= (unsigned char)(1u << k);
	} else if (prev == FL_VALUE && st == FL_VALUE && s->field) {
		int k = s->field - 1;
		if (s->len[k] + 1 > HTTP_FRAMING_FIELD_MAX)
			return 400;
		s->val[k][s->len[k]++] = (char)ch;
	} else if (st != FL_VALUE) {
		s->field = 0;
	}
	return 0;
}

/* The first element of a sound Content-Length as a number; 0 past 2^64-1. */
static int length_value(const char *cl, uint64_t *len_r)
{
	struct str el;
	uint64_t v = 0;
	if (!list_next(&cl, &el))
		return 0;
	for (size_t i = 0; i < el.len; i++) {
		unsigned d = (unsigned)(el.p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*len_r = v;
	return 1;
}

/* The header ended: where its body ends (RFC 9112 §6.3). */
static void head_done(struct http_stream *s)
{
	const char *cl = s->seen & 1 ? s->val[0] : NULL, *te = s->seen & 2 ? s->val[1] : NULL;
	uint64_t len = 0;
	if (http_framing_status(s->major == '1' && s->minor == '0', cl, te) != 0 ||
	    (cl && !length_value(cl, &len))) {
		s->st = ST_STOP; /* the daemon refuses it and closes */
		return;
	}
	s->field = 0;
	s->bytes = 0;
	if (te)
		s->st = CH_SIZE0;
	else if (len)
		s->st = ST_BODY, s->left = len;
	else
		request_done(s);
}

/* One octet of a header or trailer section. */
static int head_step(struct http_stream *s, unsigned char ch)
{
	/* Past the limit in the request target: 414 URI Too Long (RFC 9110
	 * §15.5.15); 431 names the header fields (RFC 6585 §5). */
	if (++s->bytes > HTTP_HEAD_BYTES_MAX)
		return s->st == RL_TARGET ? 414 : 431;
	int prev = s->st, st = line_step(prev, ch);
	if (st == RL_BAD)
		return 400;
	if (ch == '\n' && st != RL_DONE && ++s->lines > HTTP_HEAD_LINES_MAX)
		return 431;
	s->st = st;
	if (prev >= RL_VERSION && prev < RL_EOL) {
		if (prev - RL_VERSION == 5)
			s->major = (char)ch;
		else if (prev - RL_VERSION == 7)
			s->minor = (char)ch;
	}
	if (!s->trailer && framing_capture(s, prev, st, ch))
		return 400;
	if (st != RL_DONE)
		return HTTP_STREAM_MORE;
	if (s->trailer) {
		request_done(s);
		return HTTP_STREAM_BODY_END;
	}
	head_done(s);
	return HTTP_STREAM_HEAD_END;
}

/* The end of a chunk-size line: its data, or the trailer section after
 * the last chunk. */
static void chunk_line_end(struct http_stream *s)
{
	if (s->left) {
		s->st = CH_DATA;
		return;
	}
	s->st = FL_START;
	s->trailer = 1;
	s->bytes = s->lines = 0;
}

/* One octet of a chunked body outside chunk data (RFC 9112 §7.1:
 * chunk-size [chunk-ext] CRLF, chunk-data CRLF). No blank between the
 * size and a ';' (the BWS §7.1.1 allows there): libmicrohttpd 0.9.75
 * refuses it with its own page, without the security headers, so it is
 * refused here first. */
static int chunk_step(struct http_stream *s, unsigned char ch)
{
	if (++s->bytes > HTTP_HEAD_BYTES_MAX)
		return 400; /* a chunk line without end */
	int h = hex_digit(ch);
	switch (s->st) {
	case CH_SIZE0:
		if (h < 0)
			return 400;
		s->left = (uint64_t)h;
		s->digits = 1;
		s->st = CH_SIZE;
		return HTTP_STREAM_MORE;
	case CH_SIZE:
		if (h >= 0) {
			if (++s->digits > 16)
				return 400; /* past 2^64 */
			s->left = s->left << 4 | (uint64_t)h;
			return HTTP_STREAM_MORE;
		}
		if (ch == ';') {
			s->st = CH_EXT;
			return ++s->ext > HTTP_CHUNK_EXT_MAX ? 400 : HTTP_STREAM_MORE;
		}
		break;
	case CH_EXT:
		if (ch == '\t' || (ch >= 0x20 && ch != 0x7f))
			return ++s->ext > HTTP_CHUNK_EXT_MAX ? 400 : HTTP_STREAM_MORE;
		break;
	case CH_LF:
		if (ch != '\n')
			return 400;
		chunk_line_end(s);
		return HTTP_STREAM_MORE;
	case CH_DCR:
	case CH_DLF:
		if (ch == '\r' && s->st == CH_DCR) {
			s->st = CH_DLF;
			return HTTP_STREAM_MORE;
		}
		if (ch != '\n')
			return 400;
		s->st = CH_SIZE0;
		s->bytes = 0;
		return HTTP_STREAM_MORE;
	}
	/* The end of the chunk-size line. */
	if (ch == '\r') {
		s->st = CH_LF;
		return HTTP_STREAM_MORE;
	}
	if (ch != '\n')
		return 400;
	chunk_line_end(s);
	return HTTP_STREAM_MORE;
}

size_t http_stream_feed(struct http_stream *s, const char *p, size_t n, int *ev)
{
	*ev = HTTP_STREAM_MORE;
	for (size_t i = 0; i < n;) {
		if (s->st == ST_BAD || s->st == ST_STOP) {
			*ev = s->st == ST_BAD ? s->status : HTTP_STREAM_STOP;
			return i;
		}
		if (s->st == ST_BODY || s->st == CH_DATA) {
			size_t k = (uint64_t)(n - i) < s->left ? n - i : (size_t)s->left;
			s->left -= k;
			i += k;
			if (s->left == 0 && s->st == CH_DATA) {
				s->st = CH_DCR;
			} else if (s->left == 0) {
				request_done(s);
				*ev = HTTP_STREAM_BODY_END;
				return i;
			}
			continue;
		}
		int r = s->st <= RL_DONE ? head_step(s, (unsigned char)p[i])
					 : chunk_step(s, (unsigned char)p[i]);
		if (r >= 400) {
			s->status = r;
			s->st = ST_BAD;
			*ev = r;
			return i;
		}
		i++;
		if (r != HTTP_STREAM_MORE) {
			*ev = r;
			return i;
		}
	}
	return n;
}

int http_stream_in_body(const struct http_stream *s)
{
	return s->trailer || (s->st >= ST_BODY && s->st <= CH_DLF);
}

int http_stream_in_header(const struct http_stream *s)
{
	return s->st <= RL_DONE && !s->trailer;
}

int http_stream_at_start(const struct http_stream *s)
{
	return s->st == RL_START;
}
