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
 * Caveats: an element that is not an address ("unknown", an obfuscated
 * "_hidden" name, garbage) stops the walk with no answer: past it nothing
 * is known, and guessing would let a client choose its address. Values
 * longer than FORWARDED_MAX are not read.
 */
#ifndef TERN_NET_FORWARDED_H
#define TERN_NET_FORWARDED_H

#include <stddef.h>

#define FORWARDED_MAX 4096

/*
 * The client address (literal IPv4 or IPv6 text, no port or brackets) per
 * fwd (the Forwarded value, or NULL) or, without it, xff (the
 * X-Forwarded-For value, or NULL), skipping addresses inside the CIDR
 * list trusted. Returns 1 with out (outsz >= 46) filled; 0 when neither
 * names a usable address (out untouched).
 */
int forwarded_client(const char *fwd, const char *xff, const char *trusted, char *out,
		     size_t outsz);

#endif
