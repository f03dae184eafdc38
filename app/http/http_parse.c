/*
 * http_parse.c — request parsers without libmicrohttpd. See http_parse.h.
 *
 * Moved here unchanged from http_server.c (host_of), http_static.c
 * (gzip_ok, etag_match) and autoconfig.c (safe_email, pox_email) so that
 * they are fuzzed; only the way they receive the header or body changed.
 */
#include "http/http_parse.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"

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
	return arena_strdup(a, e);
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
	const char *s = body ? strstr(body, "<EMailAddress>") : NULL;
	if (!s)
		return "";
	s += 14;
	const char *e = strstr(s, "</EMailAddress>");
	if (!e || e - s > 254)
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
