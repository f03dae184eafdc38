/*
 * acme_http.h — one HTTPS request at a time for the ACME client: verified
 * TLS (net/client.h over net/anchors.h), HTTP/1.1 with "Connection:
 * close", the response read to its end and parsed in one go.
 *
 * Design. ACME exchanges a handful of small JSON messages a day, so each
 * request opens its own connection: no keep-alive, no pipelining, and the
 * response is parsed only when the peer has closed or sent all it said it
 * would (acme_http_parse, a pure function the fuzz target drives).
 * Host names resolve through dns_route() on the loop's resolver; an
 * address literal is used as is.
 *
 * Caveats: everything runs on the loop that started the request; the
 * callback runs exactly once, from the loop (never inside
 * acme_http_request(); inside acme_http_cancel() when cancelled).
 */
#ifndef TERN_ACME_ACME_HTTP_H
#define TERN_ACME_ACME_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct loop;
struct dns;

/* Largest response accepted unless the request says (a certificate chain is a few KiB). */
#define ACME_HTTP_MAX (1024 * 1024)

/* Alternate certificate chains kept from one response's Link headers (RFC 8555 §7.4.2). */
#define ACME_ALTERNATES_MAX 4

struct acme_http_resp {
	int status;             /* HTTP status; 0 when no response (error says why) */
	char location[1024];    /* Location, "" when none */
	char nonce[256];        /* Replay-Nonce, "" when none, not base64url or too long */
	char content_type[128]; /* Content-Type, lower case, parameters dropped */
	long retry_after;       /* Retry-After in seconds from now (acme_retry_after_parse), -1 when none */
	char error[256];        /* transport or parse failure, "" when status != 0 */
	int x509_err;           /* BearSSL's X.509 error when the server's certificate was
	                         * refused (status 0), else 0 */
	/* Link: <url>;rel="alternate" targets, absolute https URLs in the
	 * order sent; the first ACME_ALTERNATES_MAX kept, one longer than
	 * 511 bytes left out */
	char alternates[ACME_ALTERNATES_MAX][512];
	size_t nalternates;
	const char *body;       /* the decoded body (chunked undone), NUL-terminated */
	size_t body_len;
};

/*
 * Parses a complete HTTP/1.1 response p[0..n) into r (body points into
 * scratch, which the caller owns, created with a maximum of at least n).
 * Chunked bodies are decoded; a Content-Length body shorter than stated,
 * or a chunked body without its last chunk, is refused. Returns 0, or -1
 * with r->error set (r->status is then 0).
 */
int acme_http_parse(const char *p, size_t n, struct acme_http_resp *r, struct buf *scratch);

/*
 * Adds to r->alternates the targets of the links in one Link header value
 * v[0..vlen) (RFC 8288 §3: "<url>; rel=alternate, <url>; rel=\"up
 * alternate\"", parameters in any order, rel's value a quoted string or
 * a token holding space-separated relation types, compared without
 * case) whose rel holds "alternate" and whose target is an absolute
 * https URL. A malformed value ends the reading there (the links before
 * it are kept).
 */
void acme_link_alternates(const char *v, size_t vlen, struct acme_http_resp *r);

/* The longest Retry-After read: 30 days (the callers cap it further). */
#define ACME_RETRY_AFTER_MAX (86400L * 30)

/*
 * A Retry-After value v[0..vlen) (RFC 9110 §10.2.3): delay-seconds, or an
 * HTTP-date in any of its three forms (IMF-fixdate, the obsolete RFC 850
 * and asctime forms) taken relative to now (Unix time). Returns the wait
 * in seconds, capped at ACME_RETRY_AFTER_MAX (a number too large for any
 * type too), 0 for a date already past, -1 when v is neither form.
 */
long acme_retry_after_parse(const char *v, size_t vlen, int64_t now);

typedef void acme_http_cb(void *arg, const struct acme_http_resp *r);

/*
 * Sends method (GET, HEAD or POST) to url ("https://host[:port]/path").
 * body/len with content_type for POST (NULL/0 otherwise). cb(arg, r) runs
 * later on loop with the response, or with r->status 0 and r->error
 * ("cannot resolve ...", "TLS handshake failed: certificate not trusted",
 * "timed out", ...) after timeout_ms at most. r is valid during the call
 * only. Returns 0, or -1 when url is not an https URL (cb does not run).
 */
int acme_http_request(struct loop *loop, struct dns *dns, const char *method, const char *url,
                      const char *content_type, const void *body, size_t len,
                      unsigned timeout_ms, acme_http_cb *cb, void *arg);

/*
 * The same with headers (complete "Name: value\r\n" lines, or NULL)
 * added to the request, and addr_ok (or NULL) asked about the address
 * the host resolved to (or the literal) before connecting: when it
 * returns 0, cb gets r->status 0 and an error saying the address was
 * refused, and max (0: ACME_HTTP_MAX) the largest response accepted, all
 * of it held in memory; a larger one ends the connection as soon as its
 * byte max + 1 arrives (r->status 0, "response larger than max bytes"). JMAP's push to a client's URL uses it
 * (http_pushsub.c), and the phishing feed's download (a few MiB).
 */
struct sockaddr;
struct acme_http_req;
int acme_http_request_opts(struct loop *loop, struct dns *dns, const char *method,
			   const char *url, const char *content_type, const void *body, size_t len,
			   unsigned timeout_ms, const char *headers,
			   int (*addr_ok)(const struct sockaddr *sa), size_t max, acme_http_cb *cb,
			   void *arg, struct acme_http_req **req_r);

/*
 * Ends a request *req_r named (when not NULL) before its answer: cb runs
 * now, inside this call, with r->status 0 and "cancelled", and the
 * connection, lookup and timer go. The handle is valid until cb has run
 * (the owner forgets it there); a request already answered is not
 * cancelled again. On the request's loop only. A subsystem stopping
 * calls it, or the request (its TLS client, its buffers) would outlive
 * the loop that stops.
 */
void acme_http_cancel(struct acme_http_req *q);

/* Splits an https URL: host (brackets removed), port (443 when absent), path ("/" when absent). 0 or -1. */
int acme_url_split(const char *url, char *host, size_t hostsz, unsigned *port_r, const char **path_r);

#endif
