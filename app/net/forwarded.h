/*
 * forwarded.h — the client behind a reverse proxy, from the HTTP request's
 * Forwarded (RFC 7239) or X-Forwarded-For field.
 *
 * Each proxy appends the address it received the request from, so the
 * list is read from the right: addresses of trusted proxies are skipped,
 * the first other one is the client. Only the caller knows whether the
 * socket's peer is itself a trusted proxy; when it is not, these fields
 * are the client's own words and must be ignored (http_server.c).
 *
 * Which field: a proxy passes the fields it does not write on as the
 * client sent them, and the common ones (nginx, Traefik, Caddy, Apache)
 * write X-Forwarded-For and never Forwarded. So with any X-Forwarded-*
 * field present the X-Forwarded-* ones are read and Forwarded is not
 * (a proxy that writes Forwarded must drop X-Forwarded-For, or the
 * client could name itself there); Forwarded only without them.
 *
 * Caveats: an element that is not an address ("unknown", an obfuscated
 * "_hidden" name, garbage) stops the walk with no answer: past it nothing
 * is known, and guessing would let a client choose its address. Of a
 * longer value only the last FORWARDED_MAX bytes (whole elements) are
 * read: the nearest proxies' entries are there.
 */
#ifndef TERN_NET_FORWARDED_H
#define TERN_NET_FORWARDED_H

#include <stddef.h>

#define FORWARDED_MAX 4096

/*
 * The client address (literal IPv4 or IPv6 text, no port or brackets) per
 * xff (the X-Forwarded-For value, or NULL) or, without it, fwd (the
 * Forwarded value, or NULL), skipping addresses inside the CIDR list
 * trusted. Returns 1 with out (outsz >= 46) filled; 0 when neither names
 * a usable address (out untouched).
 */
int forwarded_client(const char *fwd, const char *xff, const char *trusted, char *out,
		     size_t outsz);

/*
 * What the client asked the proxy for: the scheme and the authority
 * (RFC 9110 §4.2), so the URLs tern builds are the ones the client can
 * reach. Only the proxy nearest to tern is asked, the one that knows:
 * the last value of X-Forwarded-Proto (xfproto) and X-Forwarded-Host
 * (xfhost) or, when none of these and X-Forwarded-For (xff) is there,
 * the last element of fwd (Forwarded's proto= and host=); each may be
 * NULL. A value that is not "http" or "https" (any case), or not a
 * host[:port], is not said.
 */
struct forwarded_origin {
	int https;      /* 1 https, 0 http, -1 not said */
	char host[262]; /* "name[:port]" or "[v6][:port]", lowercase; "" not said */
};
void forwarded_origin(const char *fwd, const char *xff, const char *xfproto, const char *xfhost,
		      struct forwarded_origin *o);

/* 1 when p[0..n) is a host name, IPv4 or [IPv6] literal, with an
 * optional ":port" (1-65535), at most 261 bytes; else 0. */
int forwarded_host_valid(const char *p, size_t n);

#endif
