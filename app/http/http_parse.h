/*
 * http_parse.h — the HTTP side's parsers of request data that need no
 * libmicrohttpd: the Host header, Accept-Encoding, If-None-Match, the
 * body framing fields (Content-Length, Transfer-Encoding), and the e-mail
 * address of an Outlook autodiscover request body; the end of a request
 * header in the raw byte stream; and the request stream itself, header
 * checks and body framing (for the bridge).
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
#include <stdint.h>

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
 * e when it is a plausible address (at most 254 octets of UTF-8, an '@',
 * no space, control octet, '<', '>' or '"'), copied into a; else "" (also
 * for NULL).
 * Used only to fill response templates, never trusted.
 */
const char *http_safe_email(struct arena *a, const char *e);

/*
 * The Content-Type to send a JMAP download (RFC 8620 §6.2) with, for the
 * type t the client named (or the part's own; NULL for none): t itself
 * when it is passive, else "application/octet-stream". A download is
 * served on the origin of the admin pages: a type a browser would run or
 * render as a document there (JavaScript, HTML, XML and every +xml type
 * such as SVG and XHTML, CSS, XSL, multipart/x-mixed-replace) is not
 * kept, nor is a value it could read otherwise (not printable ASCII, a
 * comma, which makes a list whose last member wins, a quote or a
 * backslash, an essence that is not token "/" token).
 */
const char *http_download_type(const char *t);

/*
 * The text of the first <EMailAddress> element of an autodiscover request
 * body (NULL allowed), surrounding whitespace trimmed and the five
 * predefined XML entities decoded, when its raw text is at most 254 octets
 * and http_safe_email() accepts the result; "" when the element is there
 * but holds no such address (or is not closed); NULL when there is none.
 * Allocated from a.
 */
const char *http_pox_email(struct arena *a, const char *body);
/*
 * 1 when an autodiscover request body (NULL allowed) accepts the Outlook
 * response schema (.../outlook/responseschema/2006a) or names none, 0 when
 * its <AcceptableResponseSchema> asks another (ActiveSync's mobilesync).
 */
int http_pox_schema_ok(const char *body);

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
	/* target: path and query as sent (an absolute-form target's: its
	 * authority is then host, RFC 9112 §3.2.2) */
	struct str method, target;
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
 * Whether [p, p+n) is a valid Host field value (RFC 9110 §7.2: uri-host
 * [":" port], RFC 3986 §3.2.2 and §3.2.3): an IP-literal in brackets or a
 * reg-name (unreserved, pct-encoded and sub-delims characters; an IPv4
 * address is one, and so is the empty name a target without an authority
 * sends), then digits after a colon. A blank, '/', '?', '#', '@', a
 * second colon outside brackets or a non-ASCII byte make it invalid,
 * which RFC 9112 §3.2 says a server MUST answer with 400.
 */
int http_host_valid(const char *p, size_t n);

/*
 * A request target in absolute-form ("http://host[:port]/path" or
 * https, the scheme in any case: RFC 9112 §3.2.2, which a server MUST
 * accept) split into its authority and its path, both copied into a:
 * the path "/" when the target has none (RFC 9110 §4.2.3). 1 when split,
 * 0 when target is not in absolute-form (origin-form, "*", or another
 * scheme: left as it is), -1 when it is but has no host, carries
 * userinfo ("user@host", an error by RFC 9110 §4.2.4) or an authority
 * http_host_valid() refuses.
 */
int http_absolute_target(struct arena *a, const char *target, const char **authority_r,
			 const char **path_r);

/*
 * A client's request stream on one connection, byte by byte, as the
 * bridge passes it to libmicrohttpd (http_bridge.c): each request's
 * header checked, then its body skipped by its framing, then the next
 * request's header checked the same way, so a request pipelined behind
 * another (in the same packet or later on a keep-alive connection) meets
 * the checks the first one met.
 *
 * The header: the request line (RFC 9112 §3: method token, SP, target
 * without controls, SP, "HTTP/d.d", CRLF; empty lines before it ignored,
 * §2.2) and field lines (§5: a token, a colon with no blank before it, a
 * value without NUL, bare CR or any control but HTAB, RFC 9110 §5.5; no
 * line starting with a blank, the obs-fold §5.2 allows a server to
 * refuse), within HTTP_HEAD_BYTES_MAX octets and HTTP_HEAD_LINES_MAX
 * lines (else 431; 414 when the octets run out in the request target). Its Content-Length and Transfer-Encoding are kept
 * (HTTP_FRAMING_FIELD_MAX octets each, joined; more is 400) and judged
 * by http_framing_status() at its end: a body of that many octets, a
 * chunked body (§7.1: chunk sizes of at most 16 hex digits, then ';'
 * and extensions, any text but controls, on their line, no blank before
 * the ';', HTTP_CHUNK_EXT_MAX octets of them in the body; data followed
 * by CRLF; the last chunk; a trailer section checked as field lines are),
 * or none when neither is given.
 * A framing that http_framing_status() refuses, or a length past 2^64,
 * stops the stream: libmicrohttpd answers that request with an error and
 * closes, and nothing after its header may be read as a request.
 *
 * Line ends are CRLF or a bare LF (§2.2), in chunk lines too. Memory is
 * this struct, whatever the client sends.
 */
/* Well below what fills libmicrohttpd's 32 KiB connection pool, whose
 * own 431 carries none of our security headers. */
#define HTTP_HEAD_BYTES_MAX (16 * 1024)
#define HTTP_HEAD_LINES_MAX 100
#define HTTP_FRAMING_FIELD_MAX 128
/* Chunk-extension octets (';' on) in one chunked body, all its chunk
 * lines together: nothing reads them, and a body of one-octet chunks
 * each carrying a chunk line's worth of them made its sender's 8 MiB of
 * data (HTTP_DISCARD_MAX) cost 128 GiB of reading. Node.js has kept the
 * same total since CVE-2024-22019. */
#define HTTP_CHUNK_EXT_MAX (16 * 1024)

struct http_stream {
	int st;                /* where in the request (http_parse.c) */
	int status;            /* once refused: 400, 414 or 431 */
	unsigned bytes, lines; /* of the header, trailer section or chunk line being read */
	unsigned name;         /* octets of the field name read */
	unsigned char cands;   /* framing fields the name may still be */
	unsigned char field;   /* the framing field whose value is being read */
	unsigned char seen;    /* framing fields given */
	unsigned char trailer; /* the field lines are a chunked body's trailer section */
	char major, minor;     /* the request's HTTP version digits */
	uint64_t left;         /* octets of the body or the chunk's data to come */
	unsigned digits;       /* of the chunk size */
	unsigned ext;          /* chunk-extension octets of this body */
	unsigned short len[2]; /* of cl, te */
	char val[2][HTTP_FRAMING_FIELD_MAX + 1]; /* Content-Length, Transfer-Encoding */
};

/* What http_stream_feed() stopped at, besides a refusal status (400,
 * 414 or 431: the octet at the returned offset is refused, and so is all that
 * follows). */
#define HTTP_STREAM_MORE 0     /* all n octets taken */
#define HTTP_STREAM_HEAD_END 1 /* a request header ended at the last octet taken */
#define HTTP_STREAM_STOP 2     /* stopped: nothing more is a request (nothing taken) */
#define HTTP_STREAM_BODY_END 3 /* a request's body ended at the last octet taken */

void http_stream_init(struct http_stream *s);
/* Takes octets of p[0..n) up to the first event (*ev, above); returns how
 * many. Bodies are skipped in bulk. A request without a body ends with
 * its header (HTTP_STREAM_HEAD_END alone). */
size_t http_stream_feed(struct http_stream *s, const char *p, size_t n, int *ev);
/* 1 between a request's header end and its body's end. */
int http_stream_in_body(const struct http_stream *s);
/* 1 in a request's header (its first octet to come included), not in a
 * chunked body's trailer section. */
int http_stream_in_header(const struct http_stream *s);
/* 1 when no octet of the next request (but empty lines) has come. */
int http_stream_at_start(const struct http_stream *s);

#endif
