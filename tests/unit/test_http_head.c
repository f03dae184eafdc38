/*
 * test_http_head.c — the request header the bridge reads itself for push
 * requests (http_head_parse) and query parameters (http_query_param):
 * the fields kept, blanks trimmed, LF-only lines, and every malformed
 * shape refused; percent-decoding and its failures; an absolute-form
 * request target split into authority and path (http_absolute_target);
 * which Host values are valid (http_host_valid); the type a JMAP download
 * is sent with (http_download_type).
 */
#include <string.h>

#include "core/arena.h"
#include "http/http_parse.h"
#include "unit.h"

static int parse(const char *s, struct http_head *h)
{
	return http_head_parse(s, strlen(s), h);
}

static int eq(struct str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

int main(void)
{
	struct http_head h;
	char v[16];

	CHECK_EQ_INT(parse("GET /jmap/eventsource/?types=*&ping=30 HTTP/1.1\r\n"
			   "Host: a\r\nauthorization:  Basic eA==\t \r\nLast-Event-ID: 7\r\n\r\n",
			   &h),
		     0);
	CHECK(eq(h.method, "GET"));
	CHECK(eq(h.target, "/jmap/eventsource/?types=*&ping=30"));
	CHECK(eq(h.authorization, "Basic eA=="));
	CHECK(eq(h.last_event_id, "7"));
	CHECK(eq(h.host, "a"));
	CHECK(h.upgrade.p == NULL && h.ws_key.len == 0 && h.origin.p == NULL);
	/* Origin and Host, kept for the WebSocket origin check; a second
	 * Host is malformed (RFC 9112 §3.2). */
	CHECK_EQ_INT(parse("GET /jmap/ws/ HTTP/1.1\r\nHost: a:1\r\nOrigin: https://a:1\r\n\r\n", &h),
		     0);
	CHECK(eq(h.origin, "https://a:1") && eq(h.host, "a:1"));
	CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", &h), -1);
	/* LF only, an empty line first, an empty value. */
	CHECK_EQ_INT(parse("\nGET / HTTP/1.0\nUpgrade:\nConnection: Upgrade\n\n", &h), 0);
	CHECK(h.upgrade.p != NULL && h.upgrade.len == 0);
	CHECK(eq(h.connection, "Upgrade"));
	/* Refused: a field twice, folding, no colon, a bad name, controls,
	 * a bad request line. */
	CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nUpgrade: a\r\nupgrade: b\r\n\r\n", &h), -1);
	CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", &h), -1);
	CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nnocolon\r\n\r\n", &h), -1);
	CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nBad Name: a\r\n\r\n", &h), -1);
	CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", &h), -1);
	CHECK_EQ_INT(parse("GET / HTTP/2.0\r\n\r\n", &h), -1);
	CHECK_EQ_INT(parse("GET  / HTTP/1.1\r\n\r\n", &h), -1);
	CHECK_EQ_INT(parse("GET /\x7f HTTP/1.1\r\n\r\n", &h), -1);
	CHECK_EQ_INT(parse("G(T / HTTP/1.1\r\n\r\n", &h), -1);
	/* A Host field with an invalid value is malformed (RFC 9112 §3.2). */
	CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", &h), -1);
	CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", &h), -1);
	CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n", &h), 0);
	/* An absolute-form target (RFC 9112 §3.2.2): its authority is the
	 * host (the Host field's value is still checked), its path the target. */
	CHECK_EQ_INT(parse("GET https://mx.example.test:8443/jmap/ws/?x HTTP/1.1\r\nHost: other\r\n\r\n", &h),
		     0);
	CHECK(eq(h.host, "mx.example.test:8443") && eq(h.target, "/jmap/ws/?x"));
	CHECK_EQ_INT(parse("GET HTTP://h HTTP/1.1\r\n\r\n", &h), 0);
	CHECK(eq(h.host, "h") && eq(h.target, ""));
	CHECK_EQ_INT(parse("GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", &h), -1);
	CHECK_EQ_INT(parse("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", &h), -1);
	CHECK_EQ_INT(parse("GET http://h/x HTTP/1.1\r\nHost: a b\r\n\r\n", &h), -1);
	/* Unknown fields may repeat. */
	CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nX: a\r\nX: b\r\n\r\n", &h), 0);

	struct str t = str_c("/p?types=Email%2CMailbox&ping=30&x&closeafter=st+ate&bad=%4");
	CHECK_EQ_INT(http_query_param(t, "types", v, sizeof v), 1);
	CHECK_EQ_STR(v, "Email,Mailbox");
	CHECK_EQ_INT(http_query_param(t, "ping", v, sizeof v), 1);
	CHECK_EQ_STR(v, "30");
	CHECK_EQ_INT(http_query_param(t, "closeafter", v, sizeof v), 1);
	CHECK_EQ_STR(v, "st ate");
	CHECK_EQ_INT(http_query_param(t, "pin", v, sizeof v), 0);
	CHECK_EQ_INT(http_query_param(t, "x", v, sizeof v), 0);
	CHECK_EQ_INT(http_query_param(t, "bad", v, sizeof v), -1);
	CHECK_EQ_INT(http_query_param(t, "types", v, 5), -1); /* does not fit */
	CHECK_EQ_INT(http_query_param(str_c("/p?a=%00"), "a", v, sizeof v), -1);
	CHECK_EQ_INT(http_query_param(str_c("/p"), "a", v, sizeof v), 0);
	CHECK_EQ_INT(http_query_param(str_c("/p?a="), "a", v, sizeof v), 1);
	CHECK_EQ_STR(v, "");

	/* RFC 9112 §3.2.2: absolute-form, any case of the scheme; no path is "/". */
	struct arena *a = arena_new(0);
	const char *auth = NULL, *path = NULL;
	CHECK_EQ_INT(http_absolute_target(a, "https://mx.example.test:8443/api/v1/stats", &auth, &path), 1);
	CHECK_EQ_STR(auth, "mx.example.test:8443");
	CHECK_EQ_STR(path, "/api/v1/stats");
	CHECK_EQ_INT(http_absolute_target(a, "HTTP://[::1]", &auth, &path), 1);
	CHECK_EQ_STR(auth, "[::1]");
	CHECK_EQ_STR(path, "/");
	CHECK_EQ_INT(http_absolute_target(a, "http://h#frag", &auth, &path), 1);
	CHECK_EQ_STR(path, "/");
	/* Not absolute-form: left alone. */
	CHECK_EQ_INT(http_absolute_target(a, "/healthz", &auth, &path), 0);
	CHECK_EQ_INT(http_absolute_target(a, "*", &auth, &path), 0);
	CHECK_EQ_INT(http_absolute_target(a, "ftp://h/x", &auth, &path), 0);
	CHECK_EQ_INT(http_absolute_target(a, "/http://h/x", &auth, &path), 0);
	/* No host, or userinfo (RFC 9110 §4.2.4). */
	CHECK_EQ_INT(http_absolute_target(a, "https:///x", &auth, &path), -1);
	CHECK_EQ_INT(http_absolute_target(a, "http://", &auth, &path), -1);
	CHECK_EQ_INT(http_absolute_target(a, "http://u:p@h/x", &auth, &path), -1);
	CHECK_EQ_INT(http_absolute_target(a, "http://a b/x", &auth, &path), -1);
	CHECK_EQ_INT(http_absolute_target(a, "http://h:8x/", &auth, &path), -1);

	/* Host values (RFC 9110 §7.2, RFC 3986 §3.2.2): a reg-name of
	 * unreserved, sub-delims and pct-encoded characters, an IPv4 or a
	 * bracketed literal, an optional port of digits; empty is allowed. */
	static const char *const good[] = {
		"", "mx.example.test", "MX.Example.Test:443", "tern_mail_1", "a:", "192.0.2.1:80",
		"[::1]", "[2001:db8::1]:8443", "[v1.x]", "xn--bcher-kva.example", "a%2Db", "a~b!$&'()*+,;=",
	};
	static const char *const bad[] = {
		"a b", "a/b", "a?b", "a#b", "u@h", "a:b", "a:1:2", "[::1", "[]", "[::1]x", "[::1]:x",
		"a%2", "a%zz", "b\xc3\xbc" "cher.example", "a\tb", "::1", "a\"b", "<a>",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK(http_host_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(!http_host_valid(bad[i], strlen(bad[i])));

	/* A download's Content-Type: what a browser would run or render as
	 * a page of the origin, or could read as another type, goes as
	 * octets; passive types stay as the client named them. */
	static const char *const active[] = {
		"text/javascript", "Application/JavaScript; charset=utf-8", "text/x-ecmascript",
		"text/jscript", "text/html", "TEXT/HTML ;charset=x", "application/xhtml+xml",
		"image/svg+xml", "text/xml", "application/xml", "application/rss+xml", "text/css",
		"text/xsl", "multipart/x-mixed-replace; boundary=x", "text/plain, text/html",
		"text/plain; x=\"a,b\"", "text/html\t", "text /html", "/html", "text/", "text",
		"/a/b", "a/b/c", "", "text/plain\x80", "image/png\\",
	};
	static const char *const passive[] = {
		"image/png", "image/jpeg", "application/pdf", "text/plain; charset=utf-8",
		"message/rfc822", "application/octet-stream", "application/x-test", " audio/ogg ",
		"application/json", "application/xml-dtd",
	};
	CHECK_EQ_STR(http_download_type(NULL), "application/octet-stream");
	for (size_t i = 0; i < sizeof active / sizeof active[0]; i++)
		CHECK_EQ_STR(http_download_type(active[i]), "application/octet-stream");
	for (size_t i = 0; i < sizeof passive / sizeof passive[0]; i++)
		CHECK_EQ_STR(http_download_type(passive[i]), passive[i]);
	arena_free(&a);
	return unit_done("test_http_head");
}
