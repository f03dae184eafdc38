/*
 * test_acme_http.c — the ACME client's HTTP response parser and URL
 * splitter, the CA answer readers on RFC 8555's own examples, and a
 * request cancelled in each of its states.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acme/acme_http.h"
#include "acme/acme_msg.h"
#include "core/loop.h"
#include "unit.h"

/* ---- cancel ---- */

static int answers;
static char answer_error[256];
static struct acme_http_req *req;

static void on_answer(void *arg, const struct acme_http_resp *r)
{
	(void)arg;
	answers++;
	req = NULL; /* as an owner forgets it: a leak is then unreachable */
	CHECK_EQ_INT(r->status, 0);
	snprintf(answer_error, sizeof answer_error, "%s", r->error);
}

static void stop_loop(struct loop *l, void *arg)
{
	(void)arg;
	loop_stop(l);
}

static void cancel_then_stop(struct loop *l, void *arg)
{
	(void)arg;
	CHECK_EQ_INT(answers, 0); /* still waiting for the silent peer */
	CHECK(req != NULL);
	acme_http_cancel(req);
	CHECK_EQ_INT(answers, 1); /* inside the call */
	CHECK_EQ_STR(answer_error, "cancelled");
	acme_http_cancel(NULL);
	loop_timer_add(l, 100, stop_loop, NULL);
}

/* A socket on 127.0.0.1 that listens and never accepts: a connection
 * waits in the backlog, unanswered. Its port in *port_r. */
static int silent_socket(unsigned *port_r)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0);
	CHECK(listen(fd, 4) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&sin, &sl) == 0);
	*port_r = ntohs(sin.sin_port);
	return fd;
}

/*
 * A request its owner cancels (a subsystem stopping) ends there, before
 * it began and while connected (unit builds have no resolver; a lookup
 * is cancelled as the timeout does it): its answer runs once, inside
 * the cancel, and the connection, timer and buffers go (ASan's leak
 * check sees the rest: 42 KB of TLS client without the cancel). Before,
 * nothing could end a request but its answer, and one in flight at the
 * server's stop outlived the loop with its TLS client.
 */
static void test_cancel(void)
{
	char url[128];
	unsigned port;
	int fd = silent_socket(&port);
	struct loop *l = loop_new();

	/* Before it began: start() is still posted, and frees it. */
	snprintf(url, sizeof url, "https://127.0.0.1:%u/dir", port);
	answers = 0;
	CHECK(acme_http_request_opts(l, NULL, "GET", url, NULL, NULL, 0, 60000, NULL, NULL, 0,
				     on_answer, NULL, &req) == 0);
	CHECK_EQ_INT(answers, 0);
	CHECK(req != NULL);
	acme_http_cancel(req);
	CHECK_EQ_INT(answers, 1);
	CHECK_EQ_STR(answer_error, "cancelled");
	loop_timer_add(l, 100, stop_loop, NULL);
	loop_run(l);
	CHECK_EQ_INT(answers, 1);

	loop_free(&l); /* a stopped loop does not run again */

	/* Connected, in the TLS handshake with a peer that says nothing. */
	l = loop_new();
	answers = 0;
	CHECK(acme_http_request_opts(l, NULL, "POST", url, "application/json", "{}", 2, 60000,
				     NULL, NULL, 0, on_answer, NULL, &req) == 0);
	loop_timer_add(l, 300, cancel_then_stop, NULL);
	loop_run(l);
	CHECK_EQ_INT(answers, 1);

	loop_free(&l);
	close(fd);
}

static int parse(const char *s, struct acme_http_resp *r, struct buf *b)
{
	return acme_http_parse(s, strlen(s), r, b);
}

int main(void)
{
	struct acme_http_resp r;
	struct buf b;
	char host[256];
	unsigned port;
	const char *path;

	buf_init(&b, 65536);
	CHECK(parse("HTTP/1.1 201 Created\r\nReplay-Nonce: abc_-1\r\nLocation: https://ca/acct/1\r\n"
	            "Content-Type: Application/JSON; charset=utf-8\r\nContent-Length: 4\r\n"
	            "Retry-After: 120\r\n\r\n{}xxEXTRA", &r, &b) == 0);
	CHECK(r.status == 201 && r.body_len == 4 && strcmp(r.body, "{}xx") == 0);
	CHECK_EQ_STR(r.nonce, "abc_-1");
	CHECK_EQ_STR(r.location, "https://ca/acct/1");
	CHECK_EQ_STR(r.content_type, "application/json");
	CHECK(r.retry_after == 120);
	/* RFC 8555 §6.5.1: a Replay-Nonce that is not base64url is ignored
	 * (the client fetches a fresh one), and so is one too long to keep
	 * whole: cut, it would be sent as another, rejected, nonce. */
	const char *bad_nonce[] = {"abc=", "ab cd", "ab\"c", "ab+/", "a.b", "", NULL};
	for (size_t i = 0; bad_nonce[i] != NULL; i++) {
		char resp[300];
		snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nReplay-Nonce: %s\r\nContent-Length: 0\r\n\r\n",
		         bad_nonce[i]);
		CHECK(parse(resp, &r, &b) == 0);
		CHECK_EQ_STR(r.nonce, "");
	}
	{
		char resp[1200], nonce[sizeof r.nonce + 1];
		memset(nonce, 'A', sizeof nonce - 1);
		nonce[sizeof nonce - 1] = '\0';
		snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nReplay-Nonce: %s\r\nContent-Length: 0\r\n\r\n",
		         nonce);
		CHECK(parse(resp, &r, &b) == 0);
		CHECK_EQ_STR(r.nonce, "");
		nonce[sizeof r.nonce - 1] = '\0'; /* the longest kept */
		snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nReplay-Nonce: %s\r\nContent-Length: 0\r\n\r\n",
		         nonce);
		CHECK(parse(resp, &r, &b) == 0);
		CHECK_EQ_STR(r.nonce, nonce);
	}
	/* Chunked, with a chunk extension-free hex size and an empty trailer. */
	CHECK(parse("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n",
	            &r, &b) == 0);
	CHECK(r.body_len == 13 && strcmp(r.body, "abc0123456789") == 0 && r.retry_after == -1);
	/* Refused: truncated bodies, no header end, not HTTP, bad lengths. */
	CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", &r, &b) == -1 && r.status == 0);
	CHECK(strstr(r.error, "Content-Length") != NULL);
	CHECK(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", &r, &b) == -1);
	CHECK(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", &r, &b) == -1);
	CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 1", &r, &b) == -1);
	CHECK(parse("SMTP/1.1 200 OK\r\n\r\n", &r, &b) == -1);
	CHECK(parse("HTTP/1.1 2x0 OK\r\n\r\n", &r, &b) == -1);
	CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", &r, &b) == -1);
	CHECK(parse("HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n", &r, &b) == -1);
	/* Retry-After as an HTTP-date (RFC 9110 §5.6.7), all three forms, as
	 * the wait from now: it was dropped, and the next attempt came after
	 * the first minute of back-off whatever the CA asked. 784111777 is
	 * Sun, 06 Nov 1994 08:49:37 GMT. */
	const int64_t t0 = 784111777;
#define RA(s, now) acme_retry_after_parse(s, strlen(s), now)
	CHECK(RA("Sun, 06 Nov 1994 08:49:37 GMT", t0 - 3600) == 3600);
	CHECK(RA("Sunday, 06-Nov-94 08:49:37 GMT", t0 - 3600) == 3600);
	CHECK(RA("Sun Nov  6 08:49:37 1994", t0 - 3600) == 3600);
	CHECK(RA("Sun Nov 16 08:49:37 1994", t0 - 3600) == 3600 + 10 * 86400);
	CHECK(RA("Wed, 29 Feb 2028 00:00:01 GMT", 1835395200) == 1);
	/* A date past: at once; too far: the longest; a date 30 days out. */
	CHECK(RA("Sun, 06 Nov 1994 08:49:37 GMT", t0 + 1) == 0);
	CHECK(RA("Sun, 06 Nov 1994 08:49:37 GMT", t0 - 86400 * 400) == ACME_RETRY_AFTER_MAX);
	CHECK(RA("Sun, 06 Nov 1994 08:49:37 GMT", t0 - 86400 * 29) == 86400 * 29);
	/* RFC 850's two-digit year: 50 years ahead at most, else the century before. */
	CHECK(RA("Monday, 01-Jan-70 00:00:10 GMT", 0) == 10);
	CHECK(RA("Thursday, 01-Jan-26 00:00:00 GMT", 1767225600 - 10) == 10);
	CHECK(RA("Friday, 01-Jan-99 00:00:00 GMT", 1767225600) == 0);
	CHECK(RA("Monday, 01-Jan-74 00:00:00 GMT", 1767225600) == ACME_RETRY_AFTER_MAX);
	/* Not dates: bad zone, month case, day 31 in November, hour 24, junk. */
	CHECK(RA("Sun, 06 Nov 1994 08:49:37 UTC", t0 - 10) == -1);
	CHECK(RA("Sun, 06 nov 1994 08:49:37 GMT", t0 - 10) == -1);
	CHECK(RA("Sun, 31 Nov 1994 08:49:37 GMT", t0 - 10) == -1);
	CHECK(RA("Sun, 06 Nov 1994 24:49:37 GMT", t0 - 10) == -1);
	CHECK(RA("Sun Nov  x 08:49:37 1994", t0 - 10) == -1);
	CHECK(RA("soon", t0) == -1);
	CHECK(RA("", t0) == -1);
#undef RA
	CHECK(parse("HTTP/1.1 503 Busy\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\n\r\n", &r, &b) == 0);
	CHECK(r.status == 503 && r.retry_after == 0);
	CHECK(parse("HTTP/1.1 503 Busy\r\nRetry-After: Fri, 31 Dec 9999 23:59:59 GMT\r\n\r\n", &r, &b) == 0);
	CHECK(r.status == 503 && r.retry_after == ACME_RETRY_AFTER_MAX);
	/* Alternate chains (RFC 8555 §7.4.2, RFC 8288 §3): Link headers,
	 * one or several links each, rel quoted or a token, among others
	 * (index, up), parameters in any order; a relative or non-https
	 * target, and one past the fourth, left out. */
	CHECK(parse("HTTP/1.1 200 OK\r\nLink: <https://ca/dir>;rel=\"index\"\r\n"
	            "Link: <https://ca/cert/1/1>;rel=\"alternate\", <https://ca/i,x>; "
	            "title=\"a;b\\\" ,c\";REL=Alternate\r\n"
	            "link: <https://ca/cert/1/3> ; rel=\"up alternate\" , <http://ca/x>;rel=alternate,"
	            "</rel>;rel=alternate\r\n"
	            "Link: <https://ca/cert/1/4>;rel=alternate, <https://ca/cert/1/5>;rel=alternate\r\n"
	            "Content-Length: 0\r\n\r\n", &r, &b) == 0);
	CHECK(r.nalternates == 4);
	CHECK_EQ_STR(r.alternates[0], "https://ca/cert/1/1");
	CHECK_EQ_STR(r.alternates[1], "https://ca/i,x");
	CHECK_EQ_STR(r.alternates[2], "https://ca/cert/1/3");
	CHECK_EQ_STR(r.alternates[3], "https://ca/cert/1/4");
	/* Malformed: what came before is kept; "alternates" is another type. */
	memset(&r, 0, sizeof r);
	const char *cut = "<https://ca/a>;rel=alternate, <https://ca/b;rel=alternate";
	acme_link_alternates(cut, strlen(cut), &r);
	CHECK(r.nalternates == 1);
	const char *other = "<https://ca/a>;rel=alternates, <https://ca/b>;rel=\"alternate";
	acme_link_alternates(other, strlen(other), &r);
	CHECK(r.nalternates == 1);
	CHECK(parse("HTTP/1.1 503 Busy\r\nRetry-After: later\r\n\r\n", &r, &b) == 0);
	CHECK(r.retry_after == -1);
	/* A longer wait than 30 days asks for the longest still (the callers
	 * cap it to a day): ignoring it meant the one-minute back-off. */
	CHECK(parse("HTTP/1.1 429 Slow\r\nRetry-After: 2591999\r\n\r\n", &r, &b) == 0);
	CHECK(r.retry_after == 2591999);
	CHECK(parse("HTTP/1.1 429 Slow\r\nRetry-After: 5000000\r\n\r\n", &r, &b) == 0);
	CHECK(r.retry_after == 86400 * 30);
	CHECK(parse("HTTP/1.1 429 Slow\r\nRetry-After: 99999999999999999999999999\r\n\r\n", &r, &b) == 0);
	CHECK(r.retry_after == 86400 * 30);
	buf_free(&b);

	CHECK(acme_url_split("https://acme-v02.api.letsencrypt.org/directory", host, sizeof host, &port,
	                     &path) == 0);
	CHECK_EQ_STR(host, "acme-v02.api.letsencrypt.org");
	CHECK(port == 443 && strcmp(path, "/directory") == 0);
	CHECK(acme_url_split("https://[::1]:14000/dir", host, sizeof host, &port, &path) == 0);
	CHECK_EQ_STR(host, "::1");
	CHECK(port == 14000 && strcmp(path, "/dir") == 0);
	CHECK(acme_url_split("https://127.0.0.1:14000", host, sizeof host, &port, &path) == 0);
	CHECK(strcmp(path, "/") == 0 && port == 14000);
	CHECK(acme_url_split("http://ca/dir", host, sizeof host, &port, &path) == -1);
	CHECK(acme_url_split("https://ca:0/dir", host, sizeof host, &port, &path) == -1);
	CHECK(acme_url_split("https://ca:70000/dir", host, sizeof host, &port, &path) == -1);
	CHECK(acme_url_split("https://:443/dir", host, sizeof host, &port, &path) == -1);
	CHECK(acme_url_split("https://[::1/dir", host, sizeof host, &port, &path) == -1);

	/* RFC 8555 §7.1.1, §7.1.3, §7.1.4 examples (trimmed). */
	const char *dir = "{\"newNonce\":\"https://example.com/acme/new-nonce\",\"newAccount\":"
	                  "\"https://example.com/acme/new-account\",\"newOrder\":\"https://example.com/"
	                  "acme/new-order\",\"newAuthz\":\"https://example.com/acme/new-authz\","
	                  "\"meta\":{\"termsOfService\":\"https://example.com/acme/terms/2017-5-30\","
	                  "\"externalAccountRequired\":false}}";
	struct acme_dir d;
	CHECK(acme_msg_directory(dir, strlen(dir), &d) == 0 && !d.eab_required);
	CHECK_EQ_STR(d.new_order, "https://example.com/acme/new-order");
	CHECK(d.renewal_info[0] == '\0');
	CHECK(acme_msg_directory("{\"newNonce\":1}", 14, &d) == -1);
	const char *order = "{\"status\":\"valid\",\"expires\":\"2016-01-20T14:09:07.99Z\","
	                    "\"identifiers\":[{\"type\":\"dns\",\"value\":\"www.example.org\"}],"
	                    "\"authorizations\":[\"https://example.com/acme/authz/PAniVnsZcis\","
	                    "\"https://example.com/acme/authz/r4HqLzrSrpI\"],\"finalize\":"
	                    "\"https://example.com/acme/order/TOlocE8rfgo/finalize\",\"certificate\":"
	                    "\"https://example.com/acme/cert/mAt3xBGaobw\"}";
	struct acme_order o;
	CHECK(acme_msg_order(order, strlen(order), &o) == 0 && o.nauthz == 2);
	CHECK_EQ_STR(o.status, "valid");
	CHECK_EQ_STR(o.certificate, "https://example.com/acme/cert/mAt3xBGaobw");
	CHECK_EQ_STR(o.error, "");
	/* An invalid order's error (RFC 8555 §7.1.3), for the failure's log line. */
	const char *bad = "{\"status\":\"invalid\",\"finalize\":\"https://example.com/f\","
	                  "\"error\":{\"type\":\"urn:ietf:params:acme:error:caa\",\"detail\":"
	                  "\"CAA record for example.org prevents issuance\"}}";
	CHECK(acme_msg_order(bad, strlen(bad), &o) == 0);
	CHECK_EQ_STR(o.error, "caa: CAA record for example.org prevents issuance");
	const char *bad2 = "{\"status\":\"invalid\",\"finalize\":\"https://example.com/f\","
	                   "\"error\":{\"detail\":\"no type\"}}";
	CHECK(acme_msg_order(bad2, strlen(bad2), &o) == 0);
	CHECK_EQ_STR(o.error, "no type");
	const char *authz = "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":"
	                    "\"www.example.org\"},\"challenges\":[{\"type\":\"http-01\",\"url\":"
	                    "\"https://example.com/acme/chall/prV_B7yEyA4\",\"token\":"
	                    "\"DGyRejmCefe7v4NfDGDKfA\"},{\"type\":\"dns-01\",\"url\":\"https://"
	                    "example.com/acme/chall/Rg5dV14Gh1Q\",\"token\":\"evaGxfADs6pSRb2LAv9IZf17\"}]}";
	struct acme_authz z;
	CHECK(acme_msg_authz(authz, strlen(authz), "dns-01", &z) == 0);
	CHECK_EQ_STR(z.name, "www.example.org");
	CHECK_EQ_STR(z.token, "evaGxfADs6pSRb2LAv9IZf17");
	CHECK_EQ_STR(z.chall_url, "https://example.com/acme/chall/Rg5dV14Gh1Q");
	CHECK(acme_msg_authz(authz, strlen(authz), "tls-alpn-01", &z) == 0 && z.chall_url[0] == '\0');
	/* A token that is not base64url is not used. */
	const char *evil = "{\"status\":\"pending\",\"identifier\":{\"value\":\"a.example\"},"
	                   "\"challenges\":[{\"type\":\"http-01\",\"url\":\"u\",\"token\":\"../../x\"}]}";
	CHECK(acme_msg_authz(evil, strlen(evil), "http-01", &z) == 0 && z.token[0] == '\0');
	/* An invalid challenge's error: the type with the detail (what kind of
	 * failure: caa, dns, connection...), the wanted challenge's before
	 * another's, and a long detail cut to fit rather than dropped. */
	char longd[700];
	memset(longd, 'x', sizeof longd - 1);
	longd[sizeof longd - 1] = '\0';
	char failed[1200];
	snprintf(failed, sizeof failed,
	         "{\"status\":\"invalid\",\"identifier\":{\"value\":\"a.example\"},"
	         "\"challenges\":[{\"type\":\"dns-01\",\"error\":{\"detail\":\"other\"}},"
	         "{\"type\":\"http-01\",\"url\":\"u\",\"token\":\"t\",\"error\":{\"type\":"
	         "\"urn:ietf:params:acme:error:connection\",\"detail\":\"%s\"}},"
	         "{\"type\":\"tls-alpn-01\",\"error\":{\"detail\":\"later\"}}]}", longd);
	CHECK(acme_msg_authz(failed, strlen(failed), "http-01", &z) == 0);
	CHECK(strncmp(z.error, "connection: xxxx", 16) == 0 && strlen(z.error) == sizeof z.error - 1);
	const char *caa = "{\"status\":\"invalid\",\"identifier\":{\"value\":\"a.example\"},"
	                  "\"challenges\":[{\"type\":\"tls-alpn-01\",\"status\":\"invalid\",\"error\":"
	                  "{\"type\":\"urn:ietf:params:acme:error:caa\",\"detail\":\"CAA forbids\"}}]}";
	CHECK(acme_msg_authz(caa, strlen(caa), "tls-alpn-01", &z) == 0);
	CHECK_EQ_STR(z.error, "caa: CAA forbids");
	char type[64], detail[128];
	const char *prob = "{\"type\":\"urn:ietf:params:acme:error:badNonce\",\"detail\":\"stale\"}";
	acme_msg_problem(prob, strlen(prob), type, sizeof type, detail, sizeof detail);
	CHECK_EQ_STR(type, "badNonce");
	CHECK_EQ_STR(detail, "stale");
	/* A detail longer than the room is cut to fit (at a character), not lost. */
	char longp[1600];
	snprintf(longp, sizeof longp, "{\"type\":\"urn:ietf:params:acme:error:rateLimited\","
	         "\"detail\":\"%.126s\\u00e9%s\"}", longd, longd);
	acme_msg_problem(longp, strlen(longp), type, sizeof type, detail, sizeof detail);
	CHECK_EQ_STR(type, "rateLimited");
	CHECK(strlen(detail) == 126 && detail[0] == 'x');
	acme_msg_problem("not json", 8, type, sizeof type, detail, sizeof detail);
	CHECK(type[0] == '\0' && detail[0] == '\0');
	char url[32];
	const char *ua = "{\"type\":\"urn:ietf:params:acme:error:userActionRequired\","
	                 "\"instance\":\"https://ca.example/tos\"}";
	acme_msg_problem_instance(ua, strlen(ua), url, sizeof url);
	CHECK_EQ_STR(url, "https://ca.example/tos");
	acme_msg_problem_instance(prob, strlen(prob), url, sizeof url);
	CHECK(url[0] == '\0');
	acme_msg_problem_instance("{\"instance\":\"https://ca.example/a-longer-url-than-fits\"}", 56,
	                          url, sizeof url);
	CHECK(url[0] == '\0');
	acme_msg_problem_instance("not json", 8, url, sizeof url);
	CHECK(url[0] == '\0');
	test_cancel();
	return unit_done("test_acme_http");
}
