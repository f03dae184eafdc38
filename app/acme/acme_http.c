/*
 * acme_http.c — HTTPS requests over net/client.c. See acme_http.h.
 */
#include "acme/acme_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hex.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "dns/dns.h"
#include "mime/mime_date.h"
#include "net/client.h"
#include "net/tls.h"

int acme_url_split(const char *url, char *host, size_t hostsz, unsigned *port_r, const char **path_r)
{
	if (strncmp(url, "https://", 8) != 0)
		return -1;
	const char *h = url + 8, *end = h + strcspn(h, "/?#"), *colon = NULL, *hs = h, *he;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (rb == NULL)
			return -1;
		hs = h + 1;
		he = rb;
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return -1;
			colon = rb + 1;
		}
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		he = colon ? colon : end;
	}
	if (he == hs || (size_t)(he - hs) >= hostsz)
		return -1;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	*port_r = 443;
	if (colon != NULL) {
		unsigned v = 0;
		const char *q = colon + 1;
		if (q == end)
			return -1;
		for (; q < end; q++) {
			if (*q < '0' || *q > '9' || (v = v * 10 + (unsigned)(*q - '0')) > 65535)
				return -1;
		}
		if (v == 0)
			return -1;
		*port_r = v;
	}
	*path_r = *end == '/' ? end : "/";
	return 0;
}

/* ---- response parsing ---- */

static void header_copy(char *dst, size_t dstsz, const char *v, size_t n)
{
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/*
 * RFC 8555 §6.5.1: a Replay-Nonce is base64url, and the client ignores
 * an invalid one. One too long for dst is ignored too: cut, it went out
 * as another nonce and came back badNonce, a resend each time. Ignored,
 * the next signed request fetches a fresh nonce (newNonce).
 */
static void nonce_copy(char *dst, size_t dstsz, const char *v, size_t n)
{
	dst[0] = '\0';
	if (n == 0 || n >= dstsz)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return;
	}
	header_copy(dst, dstsz, v, n);
}

static int parse_ulong(const char *p, size_t n, int hex, unsigned long *v_r)
{
	unsigned long v = 0;
	size_t i = 0;

	if (n == 0)
		return -1;
	for (; i < n; i++) {
		int d = hex ? hex_digit(p[i]) : p[i] >= '0' && p[i] <= '9' ? p[i] - '0' : -1;
		if (d < 0)
			break;
		if (v > (ULONG_MAX - 15) / 16)
			return -1; /* would overflow; the scratch buffer bounds the rest */
		v = v * (hex ? 16 : 10) + (unsigned long)d;
	}
	if (i == 0)
		return -1;
	*v_r = v;
	return 0;
}

static int fail(struct acme_http_resp *r, const char *why)
{
	r->status = 0;
	snprintf(r->error, sizeof r->error, "%s", why);
	return -1;
}

/* Undoes chunked transfer coding of p[0..n) into out. */
static int dechunk(const char *p, size_t n, struct buf *out)
{
	for (;;) {
		const char *eol = memmem(p, n, "\r\n", 2);
		unsigned long len;
		if (eol == NULL || parse_ulong(p, (size_t)(eol - p), 1, &len) < 0)
			return -1;
		size_t hdr = (size_t)(eol - p) + 2;
		if (len == 0)
			return 0; /* trailers ignored */
		if (len > n - hdr || n - hdr - len < 2)
			return -1;
		if (buf_append(out, eol + 2, len) < 0)
			return -1;
		p += hdr + len + 2;
		n -= hdr + len + 2;
	}
}

/* Two digits at p (0..99), or -1. */
static int two_digits(const char *p)
{
	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
		return -1;
	return (p[0] - '0') * 10 + (p[1] - '0');
}

/* "hh:mm:ss" at p into seconds of the day, or -1. */
static long time_of_day(const char *p)
{
	int h = two_digits(p), m = two_digits(p + 3), s = two_digits(p + 6);
	if (h < 0 || m < 0 || s < 0 || p[2] != ':' || p[5] != ':' || h > 23 || m > 59 || s > 60)
		return -1;
	return h * 3600L + m * 60L + s;
}

/* A three-letter month name at p (exact case, as RFC 9110 writes it): 1..12, or 0. */
static unsigned month_of(const char *p)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	for (unsigned i = 0; i < 12; i++)
		if (memcmp(p, names + 3 * i, 3) == 0)
			return i + 1;
	return 0;
}

/* An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, obsolete RFC 850 and
 * asctime forms) in v[0..n) into Unix time. 0 or -1. */
static int http_date_parse(const char *v, size_t n, int64_t now, int64_t *t_r)
{
	char s[64];
	if (n >= sizeof s)
		return -1;
	memcpy(s, v, n);
	s[n] = '\0';
	const char *comma = memchr(s, ',', n);
	int64_t y;
	unsigned mon, day;
	long tod;
	if (comma && comma - s == 3 && n == 29) {
		/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
		const char *p = s + 5;
		int d = two_digits(p), c = two_digits(p + 7), yy = two_digits(p + 9);
		mon = month_of(p + 3);
		tod = time_of_day(p + 12);
		if (s[4] != ' ' || p[2] != ' ' || p[6] != ' ' || p[11] != ' ' || d < 0 || c < 0 ||
		    yy < 0 || mon == 0 || tod < 0 || strcmp(p + 20, " GMT") != 0)
			return -1;
		day = (unsigned)d;
		y = c * 100 + yy;
	} else if (comma && comma - s >= 6 && comma - s <= 9 && n == (size_t)(comma - s) + 24) {
		/* rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT"; a two-digit
		 * year more than 50 years ahead is the latest past one. */
		const char *p = comma + 2;
		int d = two_digits(p), yy = two_digits(p + 7);
		mon = month_of(p + 3);
		tod = time_of_day(p + 10);
		if (comma[1] != ' ' || p[2] != '-' || p[6] != '-' || p[9] != ' ' || d < 0 || yy < 0 ||
		    mon == 0 || tod < 0 || strcmp(p + 18, " GMT") != 0)
			return -1;
		day = (unsigned)d;
		int64_t cy = 1970 + now / (365 * 86400 + 86400 / 4);
		y = cy - cy % 100 + yy;
		if (y > cy + 50)
			y -= 100;
	} else if (comma == NULL && n == 24) {
		/* asctime-date: "Sun Nov  6 08:49:37 1994" */
		int d = s[8] == ' ' ? two_digits((const char[]){'0', s[9]}) : two_digits(s + 8);
		int c = two_digits(s + 20), yy = two_digits(s + 22);
		mon = month_of(s + 4);
		tod = time_of_day(s + 11);
		if (s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' || d < 0 || c < 0 ||
		    yy < 0 || mon == 0 || tod < 0)
			return -1;
		day = (unsigned)d;
		y = c * 100 + yy;
	} else {
		return -1;
	}
	static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (day < 1 || day > mdays[mon - 1])
		return -1;
	*t_r = mime_days_from_civil(y, mon, day) * 86400 + tod;
	return 0;
}

/* Whether rel's value v[0..n) holds the relation type "alternate". */
static int rel_alternate(const char *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		size_t s = i;
		while (i < n && v[i] != ' ' && v[i] != '\t')
			i++;
		if (i - s == 9 && strncasecmp(v + s, "alternate", 9) == 0)
			return 1;
	}
	return 0;
}

void acme_link_alternates(const char *v, size_t vlen, struct acme_http_resp *r)
{
	const char *p = v, *end = v + vlen;
#define SKIP_WS() while (p < end && (*p == ' ' || *p == '\t')) p++
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		if (p == end || *p != '<')
			return;
		const char *url = ++p;
		while (p < end && *p != '>')
			p++;
		if (p == end)
			return;
		size_t ulen = (size_t)(p - url);
		int alt = 0;
		p++;
		for (;;) {
			SKIP_WS();
			if (p == end || *p == ',')
				break;
			if (*p != ';')
				return;
			p++;
			SKIP_WS();
			const char *name = p;
			while (p < end && *p != '=' && *p != ';' && *p != ',' && *p != ' ' &&
			       *p != '\t')
				p++;
			size_t nlen = (size_t)(p - name);
			SKIP_WS();
			if (p == end || *p != '=')
				continue; /* a parameter without a value */
			p++;
			SKIP_WS();
			/* The value: a quoted string (its escapes kept: rel's types
			 * have none to undo) or a token. */
			const char *val = p;
			size_t n;
			if (p < end && *p == '"') {
				val = ++p;
				while (p < end && *p != '"')
					p += *p == '\\' && p + 1 < end ? 2 : 1;
				if (p >= end)
					return;
				n = (size_t)(p++ - val);
			} else {
				while (p < end && *p != ';' && *p != ',' && *p != ' ' && *p != '\t')
					p++;
				n = (size_t)(p - val);
			}
			if (nlen == 3 && strncasecmp(name, "rel", 3) == 0 && rel_alternate(val, n))
				alt = 1;
		}
		if (alt && ulen >= 9 && ulen < sizeof r->alternates[0] &&
		    strncasecmp(url, "https://", 8) == 0 && r->nalternates < ACME_ALTERNATES_MAX) {
			memcpy(r->alternates[r->nalternates], url, ulen);
			r->alternates[r->nalternates++][ulen] = '\0';
		}
	}
#undef SKIP_WS
}

long acme_retry_after_parse(const char *v, size_t vlen, int64_t now)
{
	unsigned long ra;
	int64_t t;
	/* Longer than 30 days (or past unsigned long) still asks for the
	 * longest wait, which the callers cap further: a dropped one meant
	 * retrying after the first minute. */
	if (parse_ulong(v, vlen, 0, &ra) == 0)
		return ra < ACME_RETRY_AFTER_MAX ? (long)ra : ACME_RETRY_AFTER_MAX;
	if (vlen > 0 && v[0] >= '0' && v[0] <= '9')
		return ACME_RETRY_AFTER_MAX;
	/* An HTTP-date: the wait until then (a date past means at once). */
	if (http_date_parse(v, vlen, now, &t) == 0)
		return t <= now ? 0 : t - now < ACME_RETRY_AFTER_MAX ? (long)(t - now) : ACME_RETRY_AFTER_MAX;
	return -1;
}

int acme_http_parse(const char *p, size_t n, struct acme_http_resp *r, struct buf *scratch)
{
	int64_t now = time_wall();
	memset(r, 0, sizeof *r);
	r->retry_after = -1;
	r->body = "";
	const char *end = memmem(p, n, "\r\n\r\n", 4);
	if (end == NULL)
		return fail(r, "response header incomplete");
	if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' || !isdigit((unsigned char)p[9]) ||
	    !isdigit((unsigned char)p[10]) || !isdigit((unsigned char)p[11]))
		return fail(r, "not an HTTP/1.x response");
	int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	long clen = -1;
	int chunked = 0;
	const char *line = memmem(p, (size_t)(end - p) + 2, "\r\n", 2) + 2;
	while (line < end + 2) {
		const char *eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
		const char *colon = memchr(line, ':', (size_t)(eol - line));
		if (colon == NULL)
			return fail(r, "malformed header line");
		size_t nlen = (size_t)(colon - line);
		const char *v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		size_t vlen = (size_t)(eol - v);
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(line, name, nlen) == 0)
		if (IS("Location")) {
			header_copy(r->location, sizeof r->location, v, vlen);
		} else if (IS("Replay-Nonce")) {
			nonce_copy(r->nonce, sizeof r->nonce, v, vlen);
		} else if (IS("Content-Type")) {
			size_t k = strcspn(v, ";\r");
			if (k > vlen)
				k = vlen;
			while (k > 0 && v[k - 1] == ' ')
				k--;
			header_copy(r->content_type, sizeof r->content_type, v, k);
			for (char *c = r->content_type; *c; c++)
				*c = (char)tolower((unsigned char)*c);
		} else if (IS("Link")) {
			acme_link_alternates(v, vlen, r);
		} else if (IS("Retry-After")) {
			r->retry_after = acme_retry_after_parse(v, vlen, now);
		} else if (IS("Content-Length")) {
			unsigned long cl;
			if (parse_ulong(v, vlen, 0, &cl) < 0 || cl > scratch->max)
				return fail(r, "bad Content-Length");
			clen = (long)cl;
		} else if (IS("Transfer-Encoding")) {
			chunked = vlen >= 7 && strncasecmp(v + vlen - 7, "chunked", 7) == 0;
		}
#undef IS
		line = eol + 2;
	}
	const char *body = end + 4;
	size_t blen = n - (size_t)(body - p);
	buf_reset(scratch);
	if (chunked) {
		if (dechunk(body, blen, scratch) < 0)
			return fail(r, "truncated or malformed chunked body");
	} else {
		if (clen >= 0) {
			if ((size_t)clen > blen)
				return fail(r, "body shorter than Content-Length");
			blen = (size_t)clen;
		}
		if (buf_append(scratch, body, blen) < 0)
			return fail(r, "response too large");
	}
	if (buf_append(scratch, "", 1) < 0)
		return fail(r, "response too large");
	r->body = buf_data(scratch);
	r->body_len = buf_len(scratch) - 1;
	r->status = status;
	return 0;
}

/* ---- one request ---- */

struct acme_http_req {
	struct loop *loop;
	struct dns *dns;
	struct dns_lookup *lookup;
	struct client *c;
	uint64_t timer;
	char host[256];
	unsigned port;
	struct buf out;
	acme_http_cb *cb;
	void *arg;
	int done;
	int (*addr_ok)(const struct sockaddr *sa);
	size_t max; /* the largest response accepted */
	int too_large; /* more than max arrived: closed without waiting for the rest */
	int x509_err;  /* the certificate's BearSSL error, for the answer (x509_err) */
	int started;   /* start() ran: until then only the posted call holds q */
};

static void finish(struct acme_http_req *q, const struct acme_http_resp *r)
{
	if (q->done)
		return;
	q->done = 1;
	if (q->timer)
		loop_timer_del(q->loop, q->timer);
	q->timer = 0;
	if (q->lookup)
		dns_cancel(q->lookup);
	q->lookup = NULL;
	q->cb(q->arg, r);
}

static void finish_error(struct acme_http_req *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void finish_error(struct acme_http_req *q, const char *fmt, ...)
{
	struct acme_http_resp r;
	va_list ap;
	memset(&r, 0, sizeof r);
	r.retry_after = -1;
	r.body = "";
	r.x509_err = q->x509_err;
	va_start(ap, fmt);
	vsnprintf(r.error, sizeof r.error, fmt, ap);
	va_end(ap);
	finish(q, &r);
}

static void req_free(struct acme_http_req *q)
{
	buf_free(&q->out);
	free(q);
}

static void on_connected(struct client *c, void *arg)
{
	struct acme_http_req *q = arg;
	if (client_start_tls_verified(c, q->host, 1) < 0)
		client_close(c, "tls_start_failed");
}

static void on_tls(struct client *c, void *arg)
{
	struct acme_http_req *q = arg;
	client_write(c, buf_data(&q->out), buf_len(&q->out));
}

static void on_data(struct client *c, void *arg)
{
	struct acme_http_req *q = arg;
	/* Read to the end, parsed in on_close. The buffer holds one byte
	 * more than max: when that byte comes the response is too large,
	 * and the connection ends now rather than stalling, unread, until
	 * the timeout (the rest is never read: memory and bandwidth). */
	if (buf_room(&c->in) == 0) {
		q->too_large = 1;
		client_close(c, "response_too_large");
	}
}

static void on_close(struct client *c, void *arg, const char *reason)
{
	struct acme_http_req *q = arg;
	q->c = NULL;
	if (!q->done) {
		if (!client_tls_established(c)) {
			int e = client_tls_error(c);
			if (e >= BR_ERR_X509_OK + 1 && e < BR_ERR_X509_OK + 64) {
				q->x509_err = e;
				finish_error(q, "certificate of %s not trusted (BearSSL X.509 error %d)",
				             q->host, e);
			} else if (e != 0) {
				finish_error(q, "TLS handshake with %s failed: %s (BearSSL error %d)", q->host,
				             client_tls_error_text(e), e);
			} else {
				finish_error(q, "connection to %s:%u failed (%s)", q->host, q->port, reason);
			}
		} else if (q->too_large) {
			/* Never parsed: a body without a length would look complete. */
			finish_error(q, "response larger than %zu bytes", q->max);
		} else {
			struct acme_http_resp r;
			struct buf scratch;
			buf_init(&scratch, q->max + 1);
			if (acme_http_parse(buf_data(&c->in), buf_len(&c->in), &r, &scratch) < 0 &&
			    buf_room(&c->in) == 0)
				snprintf(r.error, sizeof r.error, "response larger than %zu bytes",
				         q->max);
			finish(q, &r);
			buf_free(&scratch);
		}
	}
	req_free(q);
}

static const struct client_ops ops = {on_connected, on_tls, on_data, NULL, on_close};

static void on_timeout(struct loop *loop, void *arg)
{
	struct acme_http_req *q = arg;
	(void)loop;
	q->timer = 0;
	finish_error(q, "no answer from %s in time", q->host);
	if (q->c != NULL) {
		client_close(q->c, "timeout"); /* frees q in on_close */
	} else {
		if (q->lookup)
			dns_cancel(q->lookup);
		req_free(q);
	}
}

static void connect_to(struct acme_http_req *q, const struct sockaddr *sa, socklen_t salen)
{
	if (q->addr_ok && !q->addr_ok(sa)) {
		finish_error(q, "the address of %s is refused (loopback, private or link-local)",
			     q->host);
		req_free(q);
		return;
	}
	q->c = client_connect(q->loop, sa, salen, q->max + 1, 256 * 1024, &ops, q);
	if (q->c == NULL) {
		finish_error(q, "cannot connect: %s", strerror(errno));
		req_free(q);
	}
}

static void route_done(void *arg, enum dns_status st, const struct dns_addr *addrs, size_t n,
                       const char *why)
{
	struct acme_http_req *q = arg;
	q->lookup = NULL;
	if (st != DNS_OK || n == 0) {
		finish_error(q, "cannot resolve: %s", why ? why : "no address");
		req_free(q);
		return;
	}
	connect_to(q, (const struct sockaddr *)&addrs[0].sa, addrs[0].salen);
}

static void start(void *arg)
{
	struct acme_http_req *q = arg;
	struct sockaddr_in sin = {0};
	struct sockaddr_in6 sin6 = {0};

	q->started = 1;
	if (q->done) {
		req_free(q); /* cancelled before it began */
		return;
	}
	if (inet_pton(AF_INET, q->host, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)q->port);
		connect_to(q, (struct sockaddr *)&sin, sizeof sin);
	} else if (inet_pton(AF_INET6, q->host, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((uint16_t)q->port);
		connect_to(q, (struct sockaddr *)&sin6, sizeof sin6);
	} else if (q->dns == NULL) {
		finish_error(q, "cannot resolve %s: no resolver", q->host);
		req_free(q);
	} else {
		q->lookup = dns_route(q->dns, q->host, 0, (uint16_t)q->port, route_done, q);
	}
}

int acme_http_request(struct loop *loop, struct dns *dns, const char *method, const char *url,
                      const char *content_type, const void *body, size_t len,
                      unsigned timeout_ms, acme_http_cb *cb, void *arg)
{
	return acme_http_request_opts(loop, dns, method, url, content_type, body, len, timeout_ms,
				      NULL, NULL, 0, cb, arg, NULL);
}

int acme_http_request_opts(struct loop *loop, struct dns *dns, const char *method,
			   const char *url, const char *content_type, const void *body, size_t len,
			   unsigned timeout_ms, const char *headers,
			   int (*addr_ok)(const struct sockaddr *sa), size_t max, acme_http_cb *cb,
			   void *arg, struct acme_http_req **req_r)
{
	char host[256];
	unsigned port;
	const char *path;

	if (acme_url_split(url, host, sizeof host, &port, &path) < 0)
		return -1;
	struct acme_http_req *q = xcalloc(1, sizeof *q);
	q->loop = loop;
	q->dns = dns;
	q->cb = cb;
	q->arg = arg;
	q->port = port;
	q->addr_ok = addr_ok;
	q->max = max ? max : ACME_HTTP_MAX;
	snprintf(q->host, sizeof q->host, "%s", host);
	buf_init(&q->out, 256 * 1024);
	int v6 = strchr(host, ':') != NULL;
	buf_printf(&q->out, "%s %s HTTP/1.1\r\nHost: %s%s%s", method, path, v6 ? "[" : "", host,
	           v6 ? "]" : "");
	if (port != 443)
		buf_printf(&q->out, ":%u", port);
	buf_printf(&q->out, "\r\nUser-Agent: tern/%s\r\nAccept: */*\r\nConnection: close\r\n",
	           "acme");
	if (body != NULL) {
		buf_printf(&q->out, "Content-Type: %s\r\nContent-Length: %zu\r\n",
		           content_type ? content_type : "application/octet-stream", len);
	}
	if (headers)
		buf_append_c(&q->out, headers);
	buf_append(&q->out, "\r\n", 2);
	if (body != NULL && buf_append(&q->out, body, len) < 0) {
		req_free(q);
		return -1;
	}
	q->timer = loop_timer_add(loop, timeout_ms, on_timeout, q);
	/* Never call back from inside this function. */
	loop_post(loop, start, q);
	if (req_r != NULL)
		*req_r = q;
	return 0;
}

void acme_http_cancel(struct acme_http_req *q)
{
	if (q == NULL || q->done)
		return;
	finish_error(q, "cancelled"); /* the timer and a lookup go with it */
	if (!q->started)
		return; /* start() frees it */
	if (q->c != NULL)
		client_close(q->c, "cancelled"); /* frees q in on_close */
	else
		req_free(q); /* was resolving */
}
