/*
 * test_http_header_end.c — where a request header ends in the bridge's
 * byte stream (http_header_end, the HTTP request-header deadline): whole,
 * one byte at a time, and at every split point the answer is the same.
 */
#include <string.h>

#include "http/http_parse.h"
#include "unit.h"

/* The header's length (-2: not ended) fed in pieces of step bytes. */
static long feed(const char *s, size_t n, size_t step)
{
	unsigned st = HTTP_HEADER_START;
	for (size_t off = 0; off < n; off += step) {
		size_t k = n - off < step ? n - off : step;
		long r = http_header_end(&st, s + off, k);
		if (r >= 0)
			return (long)off + r;
	}
	return -2;
}

static void same_every_way(const char *s, long want)
{
	size_t n = strlen(s);
	for (size_t step = 1; step <= n; step++)
		CHECK_EQ_INT(feed(s, n, step), want);
}

int main(void)
{
	same_every_way("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27);
	same_every_way("GET / HTTP/1.1\r\nHost: a\r\n\r\nbody", 27);
	same_every_way("GET / HTTP/1.1\nHost: a\n\n", 24);
	same_every_way("GET / HTTP/1.0\r\n\r\n", 18);
	/* One empty line before the request line is not its end. */
	same_every_way("\r\nGET / HTTP/1.1\r\n\r\n", 20);
	same_every_way("\nGET / HTTP/1.1\r\n\r\n", 19);
	/* Unfinished: a drip never ends the header. */
	same_every_way("GET / HTTP/1.1\r\nHost: a\r\n", -2);
	same_every_way("GET / HTTP/1.1\r\nHost: a\r\n\r", -2);
	same_every_way("G", -2);
	/* CRs alone are skipped, not line ends; a line of CRs is empty. */
	same_every_way("GET / HTTP/1.1\r\r\n\r\r\n", 20);
	/* NUL is line content. */
	{
		const char s[] = "GET / HTTP/1.1\r\nX: \0\r\n\r\n";
		unsigned st = HTTP_HEADER_START;
		CHECK_EQ_INT(http_header_end(&st, s, sizeof(s) - 1), (long)sizeof(s) - 1);
	}
	/* The state says where a line stands. */
	{
		unsigned st = HTTP_HEADER_START;
		CHECK_EQ_INT(http_header_end(&st, "ab", 2), -2);
		CHECK_EQ_INT(st, 3);
		CHECK_EQ_INT(http_header_end(&st, "\n", 1), -2);
		CHECK_EQ_INT(st, 0);
		CHECK_EQ_INT(http_header_end(&st, "\r\n", 2), 2);
	}
	return unit_done("test_http_header_end");
}
