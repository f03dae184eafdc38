/*
 * fuzz_http_head.c — the request header the bridge reads itself for push
 * requests (http_head_parse, http_query_param in http_parse.h). The input
 * is taken up to where http_header_end says the header ends (all of it
 * when it does not). Checks: every slice parsed lies inside the input; the
 * method is a token; the target has no blank or control octet and is
 * empty only for an absolute-form target without a path ("http://h",
 * whose authority went to host: http_parse.h, RFC 9112 §3.2.2); a header
 * that parsed parses the same when fed again with CRLF turned into LF;
 * a query parameter found is NUL-terminated within the output size and
 * holds no NUL.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parse.h"

static void inside(struct str s, const char *p, size_t n)
{
	if (s.p)
		assert(s.p >= p && s.p + s.len <= p + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	unsigned line = HTTP_HEADER_START;
	long end = http_header_end(&line, p, size);
	size_t n = end < 0 ? size : (size_t)end;
	struct http_head h;

	if (http_head_parse(p, n, &h) < 0)
		return 0;
	struct str *f[] = {&h.method, &h.target, &h.authorization, &h.upgrade, &h.connection,
			   &h.last_event_id, &h.ws_key, &h.ws_version, &h.ws_protocol,
			   &h.host, &h.origin};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		inside(*f[i], p, n);
	assert(h.method.len > 0);
	/* The authority of "http://h" sits right after its "//". */
	assert(h.target.len > 0 || (h.host.len > 0 && h.host.p < h.method.p + h.method.len + 10 &&
				    h.host.p[-1] == '/' && h.host.p[-2] == '/'));
	for (size_t i = 0; i < h.target.len; i++)
		assert((unsigned char)h.target.p[i] > ' ' && h.target.p[i] != 0x7f);

	/* The same header with bare LFs. */
	char *lf = malloc(n + 1);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!(p[i] == '\r' && i + 1 < n && p[i + 1] == '\n'))
			lf[m++] = p[i];
	struct http_head h2;
	{
		int r = http_head_parse(lf, m, &h2);
		/* A lone CR inside a value is refused either way; otherwise
		 * the two parse alike. */
		if (r == 0) {
			assert(h2.method.len == h.method.len && h2.target.len == h.target.len);
			assert(!memcmp(h2.target.p, h.target.p, h.target.len));
			assert(h2.authorization.len == h.authorization.len);
		}
	}
	free(lf);

	static const char *names[] = {"types", "ping", "closeafter", "", "a"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char out[64];
		int r = http_query_param(h.target, names[i], out, sizeof out);
		assert(r >= -1 && r <= 1);
		if (r == 1)
			assert(strlen(out) < sizeof out);
	}
	return 0;
}
