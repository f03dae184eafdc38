/*
 * http_parse.h — the HTTP side's parsers of request data that need no
 * libmicrohttpd: the Host header, Accept-Encoding, If-None-Match, the
 * body framing fields (Content-Length, Transfer-Encoding), and the e-mail
 * address of an Outlook autodiscover request body; and the end of a
 * request header in the raw byte stream (for the bridge's deadline).
 *
 * Design: plain functions of NUL-terminated strings, split out of the
 * files that call them (http_server.c, http_static.c, autoconfig.c) so
 * that the unit and fuzz builds, which link no libmicrohttpd, have them
 * (tests/fuzz/fuzz_http_parse.c). Every input here comes from the client.
 *
 * Caveats: strings are C strings; a NUL inside a header or body ends it
 * here, as it does for libmicrohttpd's lookups.
 */
#ifndef TERN_HTTP_HTTP_PARSE_H
#define TERN_HTTP_HTTP_PARSE_H

#include <stddef.h>

#include "core/str.h"

struct arena;

/*
 * The Host header h without its port, lowercased, or "" when h is NULL,
 * empty, longer than 255 octets or not a plain name (letters, digits,
 * '-', '.', or an IPv6 literal in brackets). The result is allocated from
 * a (or is the literal ""), and lives as long as a's memory.
 */
const char *http_host_normalize(struct arena *a, const char *h);

/*
 * 1 when the Accept-Encoding header value ae (not NULL) admits gzip: a
 * "gzip", "x-gzip" or "*" token (any case for the names) without a q=0
 * parameter; else 0.
 */
int http_gzip_ok(const char *ae);

/*
 * 1 when the If-None-Match header value inm names etag ("*", or etag
 * followed by the end, a comma or a space); 0 when not or when inm is NULL.
 */
int http_etag_match(const char *inm, const char *etag);

/*
 * e when it is a plausible address (at most 254 octets, an '@', no space,
 * control octet, '<', '>' or '"'), copied into a; else "" (also for NULL).
 * Used only to fill response templates, never trusted.
 */
const char *http_safe_email(struct arena *a, const char *e);

/*
 * The text of the first <EMailAddress> element of an autodiscover request
 * body (NULL allowed), with the five predefined XML entities decoded, when
 * its raw text is at most 254 octets and http_safe_email() accepts the
 * result; else "". Allocated from a.
 */
const char *http_pox_email(struct arena *a, const char *body);

/*
 * Finds where a request header ends in a byte stream fed in any chunking:
 * at an empty line (CRLF or a bare LF, CRs are skipped). *line_r is the
 * state kept between calls: the length of the line being read; start it
 * at HTTP_HEADER_START (one empty line before a request line is then
 * tolerated, as RFC 9112 §2.2 asks). Returns the number of bytes of p up
 * to and including the LF that ends the header, or -2 when the header
 * has not ended within these n bytes (all were looked at). NULs and any
 * other bytes are just line content; nothing is copied or allocated.
 */
#define HTTP_HEADER_START 1u
long http_header_end(unsigned *line_r, const char *p, size_t n);

/*
 * A request header read off the raw byte stream, for the requests the
 * bridge answers on its own loop (EventSource and WebSocket, http_push.c)
 * instead of handing them to libmicrohttpd. Every member is a slice of
 * the caller's bytes (empty when absent), valid as long as they are.
 */
struct http_head {
	struct str method, target; /* target: path and query as sent */
	struct str authorization, upgrade, connection, last_event_id;
	struct str ws_key, ws_version, ws_protocol;
	struct str host, origin;
	/* read only from a trusted proxy */
	struct str forwarded, x_forwarded_for, x_forwarded_proto, x_forwarded_host;
};
/*
 * Parses the header p[0..n) (through the empty line that ends it, as
 * http_header_end found it): "METHOD SP target SP HTTP/1.x", then
 * "name: value" lines (value without surrounding blanks; CRLF or LF).
 * Only the fields of struct http_head are kept; one of them given twice,
 * an obsolete folded line, a line without a colon, a name that is not a
 * token or a control octet (other than tab) in a value is malformed:
 * -1 (answer 400). 0 otherwise. Nothing is copied or allocated.
 */
int http_head_parse(const char *p, size_t n, struct http_head *h);

/*
 * The value of query parameter name in target (after its '?'),
 * percent-decoded into out (size outsz, NUL-terminated): 1 found, 0 not
 * there, -1 when it is malformed (a bad %-escape, a NUL) or does not fit.
 */
int http_query_param(struct str target, const char *name, char *out, size_t outsz);

/*
 * Whether a request's body framing can be trusted (RFC 9112 §6): http10
 * for an HTTP/1.0 request; cl and te the Content-Length and
 * Transfer-Encoding fields, each with all its lines joined by ", " (NULL
 * when absent). 0 when the framing is sound: no Transfer-Encoding and
 * either no Content-Length or one whose list elements are all the same
 * digits (RFC 9110 §8.6), or in HTTP/1.1 a Transfer-Encoding whose only
 * coding is chunked and no Content-Length. 400 when a front end could
 * read the length otherwise than we would (request smuggling): both
 * fields, differing or malformed lengths, chunked not last or given
 * twice, or any Transfer-Encoding in HTTP/1.0 (§6.1). 501 for a coding
 * other than chunked before it (§6.1: not understood). Coding names are
 * compared without regard to case; blanks and empty list elements are
 * skipped.
 */
int http_framing_status(int http10, const char *cl, const char *te);

/*
 * A request target in absolute-form ("http://host[:port]/path" or
 * https, the scheme in any case: RFC 9112 §3.2.2, which a server MUST
 * accept) split into its authority and its path, both copied into a:
 * the path "/" when the target has none (RFC 9110 §4.2.3). 1 when split,
 * 0 when target is not in absolute-form (origin-form, "*", or another
 * scheme: left as it is), -1 when it is but has no host or carries
 * userinfo ("user@host", an error by RFC 9110 §4.2.4).
 */
int http_absolute_target(struct arena *a, const char *target, const char **authority_r,
			 const char **path_r);

#endif
