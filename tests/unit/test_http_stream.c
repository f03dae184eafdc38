/*
 * test_http_stream.c — the bridge's request stream (http_stream_feed):
 * each request's header checked, its body skipped by its framing
 * (Content-Length, chunked with extensions and a trailer section, none),
 * and the next request's header checked as the first, RFC 9112 §5, §6,
 * §7.1. Every case is fed whole, one octet at a time and in random
 * splits, and must give the same events at the same offsets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parse.h"
#include "unit.h"

/* The events of s[0..n) fed in pieces of step octets (0: random sizes
 * from seed): "h<offset>" a header's end, "e<offset>" a body's end,
 * "s<offset>" stopped, "x<status>@<offset>" refused; then where the
 * stream is: '.' between requests, 'b' in a body, '-' in a header. */
static void trace(const char *s, size_t n, size_t step, unsigned seed, char *out, size_t outsz)
{
	struct http_stream st;
	size_t off = 0, o = 0;
	http_stream_init(&st);
	out[0] = '\0';
	while (off < n) {
		size_t k = step ? step : 1 + (size_t)rand_r(&seed) % 9;
		if (k > n - off)
			k = n - off;
		for (size_t used = 0; used < k;) {
			int ev;
			used += http_stream_feed(&st, s + off + used, k - used, &ev);
			size_t at = off + used;
			if (ev == HTTP_STREAM_HEAD_END)
				o += (size_t)snprintf(out + o, outsz - o, "h%zu ", at);
			else if (ev == HTTP_STREAM_BODY_END)
				o += (size_t)snprintf(out + o, outsz - o, "e%zu ", at);
			else if (ev == HTTP_STREAM_STOP || ev >= 400) {
				if (ev == HTTP_STREAM_STOP)
					snprintf(out + o, outsz - o, "s%zu", at);
				else
					snprintf(out + o, outsz - o, "x%d@%zu", ev, at);
				return;
			}
		}
		off += k;
	}
	snprintf(out + o, outsz - o, "%s",
	         http_stream_in_body(&st)    ? "b"
	         : http_stream_at_start(&st) ? "."
	                                     : "-");
}

static void same_every_way(const char *s, size_t n, const char *want)
{
	char whole[256], got[256];
	trace(s, n, n, 0, whole, sizeof whole);
	if (getenv("SHOW"))
		printf("%s | %s\n", whole, want);
	CHECK_EQ_STR(whole, want);
	trace(s, n, 1, 0, got, sizeof got);
	CHECK_EQ_STR(got, want);
	for (unsigned seed = 1; seed <= 40; seed++) {
		trace(s, n, 0, seed, got, sizeof got);
		CHECK_EQ_STR(got, want);
	}
}

#define CASE(s, want) same_every_way(s, sizeof(s) - 1, want)

#define GET "GET /a HTTP/1.1\r\nHost: a\r\n\r\n" /* 28 octets */

static void bodies(void)
{
	CASE(GET, "h28 .");
	CASE(GET GET, "h28 h56 .");
	CASE("\r\n\r\n" GET, "h32 .");
	CASE("GET /a HTTP/1.1\nHost: a\n\n", "h25 .");
	/* A length: its octets are body, whatever they look like. */
	CASE("POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\0}\r\n X\r\n" GET, "h38 e47 h75 .");
	CASE("POST / HTTP/1.1\r\ncontent-LENGTH:\t9 \r\n\r\n{\0}\r\n X\r\n", "h39 e48 .");
	CASE("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhel", "h57 b");
	CASE("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n" GET, "h38 h66 .");
	/* Not the field: no body. */
	CASE("POST / HTTP/1.1\r\nContent-Lengthx: 5\r\nX-Content-Length: 5\r\n\r\n" GET,
	     "h60 h88 .");
	/* Chunked: sizes in either case, extensions, a trailer section,
	 * bare LFs. */
	CASE("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	     "4;ext=\"a b\";x\r\n\0\r\n \r\nA\r\nGET / HTTP\r\n0\r\nX-T: 1\r\n\r\n" GET,
	     "h47 e96 h124 .");
	CASE("POST / HTTP/1.1\nTransfer-Encoding: Chunked\n\na\n0123456789\n0\n\n" GET,
	     "h44 e60 h88 .");
	CASE("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", "h47 b");
	CASE("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n", "h47 b");
	CASE("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000000\r\n\r\n",
	     "h47 e67 .");
	/* HTTP/1.0 with a length. */
	CASE("POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nab" GET, "h38 e40 h68 .");
}

static void refused(void)
{
	/* The second request meets the first's checks: a fold, a NUL, a
	 * bare CR, a control, a bad request line, no colon. */
	CASE(GET "GET /b HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", "h28 x400@54");
	CASE(GET "GET /b HTTP/1.1\r\nAuthorization: x\0y\r\n\r\n", "h28 x400@61");
	CASE(GET "GET /b HTTP/1.1\r\nX: a\rb\r\n\r\n", "h28 x400@50");
	CASE(GET "GET /b HTTP/1.1\r\nX: a\x01\r\n\r\n", "h28 x400@49");
	CASE(GET "GET  /b HTTP/1.1\r\n\r\n", "h28 x400@32");
	CASE(GET "GET /b HTTP/1.1\r\nHost a\r\n\r\n", "h28 x400@49");
	/* After a body too. */
	CASE("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\tX: y\r\n\r\n",
	     "h38 e41 x400@58");
	CASE("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	     "GET /b HTTP/1.1\r\nX: \0\r\n\r\n",
	     "h47 e52 x400@72");
	/* Broken chunk framing: not hex, more than 16 digits, a blank
	 * before ';', no CRLF after the data, a bad trailer field. */
	CASE("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "h47 x400@47");
	CASE("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
	     "h47 x400@63");
	CASE("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2 ;a\r\n", "h47 x400@48");
	CASE("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "h47 x400@52");
	CASE("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\r\n", "h47 x400@53");
	CASE("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n X: 1\r\n\r\n",
	     "h47 x400@50");
	CASE("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;a\x01\r\n", "h47 x400@50");
	/* Framing libmicrohttpd's answer refuses (http_framing_status) or a
	 * length past 2^64: stopped after the header. */
	CASE("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello" GET,
	     "h57 s57");
	CASE("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	     "h66 s66");
	CASE("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "h47 s47");
	CASE("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "h53 s53");
	CASE("POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\nab", "h57 s57");
	CASE("POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\nab", "h57 b");
}

/* The limits, on the second request as on the first. */
static void limits(void)
{
	char *big = malloc(40000);
	size_t n = (size_t)snprintf(big, 40000, "%sGET /b HTTP/1.1\r\nX: ", GET);
	size_t head = n - strlen(GET);
	memset(big + n, 'a', HTTP_HEAD_BYTES_MAX - head - 4);
	n += HTTP_HEAD_BYTES_MAX - head - 4;
	memcpy(big + n, "\r\n\r\n", 4);
	char want[64];
	same_every_way(big, n + 4, "h28 h16412 .");
	memcpy(big + n, "a\r\n\r\n", 5); /* one more octet */
	snprintf(want, sizeof want, "h28 x431@%d", 28 + HTTP_HEAD_BYTES_MAX);
	same_every_way(big, n + 5, want);

	/* The limit passed in the request target: 414 URI Too Long (RFC
	 * 9110 §15.5.15), not 431 (it names the header fields); in the
	 * fields after a long target: 431. */
	n = (size_t)snprintf(big, 40000, "%sGET /", GET);
	memset(big + n, 'a', 20000);
	snprintf(want, sizeof want, "h28 x414@%d", 28 + HTTP_HEAD_BYTES_MAX);
	same_every_way(big, n + 20000, want);
	n = (size_t)snprintf(big, 40000, "%sGET /", GET);
	memset(big + n, 'a', 9000);
	n += 9000;
	n += (size_t)snprintf(big + n, 40000 - n, " HTTP/1.1\r\nX: ");
	memset(big + n, 'b', 9000);
	snprintf(want, sizeof want, "h28 x431@%d", 28 + HTTP_HEAD_BYTES_MAX);
	same_every_way(big, n + 9000, want);

	n = (size_t)snprintf(big, 40000, "%sGET /b HTTP/1.1\r\n", GET);
	for (int i = 0; i < HTTP_HEAD_LINES_MAX; i++)
		n += (size_t)snprintf(big + n, 40000 - n, "X: %d\r\n", i % 10);
	same_every_way(big, n, "h28 x431@644");
	/* A trailer section has the header's limits. */
	n = (size_t)snprintf(big, 40000,
	                     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n");
	for (int i = 0; i <= HTTP_HEAD_LINES_MAX; i++)
		n += (size_t)snprintf(big + n, 40000 - n, "X: %d\r\n", i % 10);
	same_every_way(big, n, "h47 x431@655");
	/* A chunk line without end. */
	n = (size_t)snprintf(big, 40000, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;");
	memset(big + n, 'e', 20000);
	snprintf(want, sizeof want, "h47 x400@%d", 47 + HTTP_HEAD_BYTES_MAX);
	same_every_way(big, n + 20000, want);
	/* Chunk extensions: HTTP_CHUNK_EXT_MAX octets in a body, whatever
	 * the number of chunks that carry them; one more is refused. */
	_Static_assert(HTTP_CHUNK_EXT_MAX == 128 * 128, "128 chunks of 128 below");
	n = (size_t)snprintf(big, 40000, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 128; i++) {
		n += (size_t)snprintf(big + n, 40000 - n, "1;");
		memset(big + n, 'e', 127); /* with the ';', 128 octets */
		n += 127;
		n += (size_t)snprintf(big + n, 40000 - n, "\r\nx\r\n");
	}
	size_t chunks = n;
	n += (size_t)snprintf(big + n, 40000 - n, "0\r\n\r\n");
	snprintf(want, sizeof want, "h47 e%zu .", n);
	same_every_way(big, n, want);
	n = chunks + (size_t)snprintf(big + chunks, 40000 - chunks, "1;e\r\nx\r\n0\r\n\r\n");
	snprintf(want, sizeof want, "h47 x400@%zu", chunks + 1);
	same_every_way(big, n, want);
	/* A framing field longer than kept: refused, not misread. */
	n = (size_t)snprintf(big, 40000, "POST / HTTP/1.1\r\nContent-Length: 1");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(big + n, 40000 - n, ", 1");
	n += (size_t)snprintf(big + n, 40000 - n, "\r\n\r\nx");
	snprintf(want, sizeof want, "x400@%d", 32 + HTTP_FRAMING_FIELD_MAX);
	same_every_way(big, n, want);
	free(big);
	/* Memory: the struct, whatever comes. */
	CHECK(sizeof(struct http_stream) < 512);
}

int main(void)
{
	bodies();
	refused();
	limits();
	return unit_done("test_http_stream");
}
