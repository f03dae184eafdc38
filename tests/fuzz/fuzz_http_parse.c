/*
 * fuzz_http_parse.c — the HTTP request parsers that need no libmicrohttpd
 * (http_parse.h). The input, up to its first NUL, is a header value; the
 * whole input (NULs ending it early) is an autodiscover body. Host: a
 * result is "" or a lowercase name without a port (or one bracketed
 * IPv6-like literal) and normalizing it again changes nothing.
 * Accept-Encoding: the answer is the OR of the comma-separated elements
 * tried alone, ",gzip" appended always admits gzip and ",gzip;q=0"
 * appended changes nothing. If-None-Match: a value matches itself and the
 * last member of a list. Autodiscover: what is found passes
 * http_safe_email() unchanged; an address taken from the input, escaped
 * into a request body as XML, comes back exactly, and that body (no
 * schema named) is taken as Outlook's. Framing: a
 * Content-Length judged the same as twice itself; a Transfer-Encoding is
 * always refused beside a length or in HTTP/1.0, and one taken becomes
 * 501 with an unknown coding before it. Absolute-form: a split target
 * gives a host without '/', '?', '#' or '@' and a path starting with '/',
 * and "http://" before that host and path splits the same way. A
 * download's type: the value itself (printable, no comma, quote or
 * backslash, a '/') or octets, and octets with ",text/html" appended.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "http/http_parse.h"

static void check_host(struct arena *a, const char *h)
{
	const char *o = http_host_normalize(a, h);
	size_t n = strlen(o);

	assert(n <= 255);
	for (size_t i = 0; i < n; i++)
		assert((o[i] >= 'a' && o[i] <= 'z') || (o[i] >= '0' && o[i] <= '9') || o[i] == '-' ||
		       o[i] == '.' || o[i] == '[' || o[i] == ']' || o[i] == ':');
	if (n && o[0] == '[')
		assert(o[n - 1] == ']' && strchr(o, ']') == o + n - 1);
	else
		assert(!strchr(o, ':'));
	if (n)
		assert(strcmp(http_host_normalize(a, o), o) == 0);
}

static void check_gzip(char *ae, size_t n)
{
	int whole = http_gzip_ok(ae), any = 0;
	char *cat = malloc(n + 16);

	for (char *e = ae;; e++) {
		char *c = strchr(e, ',');
		if (c)
			*c = '\0';
		any |= http_gzip_ok(e);
		if (!c)
			break;
		*c = ',';
		e = c;
	}
	assert(whole == any);
	memcpy(cat, ae, n);
	memcpy(cat + n, ",gzip", 6);
	assert(http_gzip_ok(cat) == 1);
	memcpy(cat + n, ",gzip;q=0", 10);
	assert(http_gzip_ok(cat) == whole);
	free(cat);
}

static void check_etag(const char *v, size_t n)
{
	char *list = malloc(n + 16);

	assert(http_etag_match(v, v) == 1);
	assert(http_etag_match(NULL, v) == 0);
	memcpy(list, "\"x\", ", 5);
	memcpy(list + 5, v, n + 1);
	assert(http_etag_match(list, v) == 1);
	free(list);
}

static void check_pox(struct arena *a, const char *body, const char *addr)
{
	const char *e = http_pox_email(a, body);
	char req[2048];
	size_t o = 0;

	assert(e == NULL || strlen(e) <= 254);
	if (e && *e)
		assert(strcmp(http_safe_email(a, e), e) == 0);

	/* Round trip: escape a plausible address the way a client does. */
	const char *s = http_safe_email(a, addr);
	if (!*s)
		return;
	static const char pre[] = "<Autodiscover><Request><EMailAddress>";
	memcpy(req, pre, sizeof(pre) - 1);
	o = sizeof(pre) - 1;
	for (const char *p = s; *p; p++) {
		const char *rep = *p == '&' ? "&amp;" : *p == '\'' ? "&apos;" : NULL;
		if (rep) {
			memcpy(req + o, rep, strlen(rep));
			o += strlen(rep);
		} else {
			req[o++] = *p;
		}
	}
	size_t esc = o - (sizeof(pre) - 1);
	snprintf(req + o, sizeof(req) - o, "</EMailAddress></Request></Autodiscover>");
	e = http_pox_email(a, req);
	assert(e != NULL);
	/* No schema named: Outlook's; the mobilesync one: not ours. */
	assert(http_pox_schema_ok(req) == 1);
	assert(http_pox_schema_ok("<AcceptableResponseSchema> http://schemas.microsoft.com/exchange/"
				  "autodiscover/mobilesync/responseschema/2006</AcceptableResponseSchema>") == 0);
	if (esc <= 254)
		assert(strcmp(e, s) == 0);
	else
		assert(*e == '\0');
}

static void check_framing(const char *v, size_t n)
{
	char *twice = malloc(2 * n + 3);
	int cl = http_framing_status(0, v, NULL), te = http_framing_status(0, NULL, v);

	assert(cl == 0 || cl == 400);
	assert(te == 0 || te == 400 || te == 501);
	memcpy(twice, v, n);
	memcpy(twice + n, ", ", 2);
	memcpy(twice + n + 2, v, n + 1);
	assert(http_framing_status(0, twice, NULL) == cl);
	assert(http_framing_status(1, NULL, v) == 400 && http_framing_status(0, "1", v) == 400);
	if (te == 0) {
		memcpy(twice, "gzip, ", 6);
		memcpy(twice + 6, v, n + 1);
		assert(http_framing_status(0, NULL, twice) == 501);
	}
	free(twice);
}

static void check_target(struct arena *a, const char *t)
{
	const char *auth = NULL, *path = NULL;
	int r = http_absolute_target(a, t, &auth, &path);

	assert(r >= -1 && r <= 1);
	if (r != 1)
		return;
	assert(*auth && !strpbrk(auth, "/?#@") && path[0] == '/');
	const char *again = arena_printf(a, "http://%s%s", auth, path), *auth2, *path2;
	assert(http_absolute_target(a, again, &auth2, &path2) == 1);
	assert(strcmp(auth2, auth) == 0 && (strcmp(path2, path) == 0 || strchr(path, '#')));
}

static void check_download_type(struct arena *a, const char *t)
{
	const char *o = http_download_type(t);

	if (o == t) {
		assert(!strpbrk(t, ",\"\\") && strchr(t, '/'));
		for (const char *p = t; *p; p++)
			assert((unsigned char)*p >= 0x20 && (unsigned char)*p <= 0x7e);
	} else {
		assert(strcmp(o, "application/octet-stream") == 0);
	}
	/* A list's last member is what a browser takes: never kept. */
	o = http_download_type(arena_printf(a, "%s,text/html", t));
	assert(strcmp(o, "application/octet-stream") == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size + 1);
	struct arena *a = arena_new(0);

	memcpy(p, data, size);
	p[size] = '\0';
	size_t n = strlen(p);
	check_host(a, p);
	check_host(a, NULL);
	check_gzip(p, n);
	check_etag(p, n);
	check_pox(a, p, p);
	check_framing(p, n);
	check_target(a, p);
	check_download_type(a, p);
	arena_free(&a);
	free(p);
	return 0;
}
