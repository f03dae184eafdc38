/*
 * dns.h — asynchronous DNS on an event loop (c-ares): the route to a mail
 * domain (MX, then A/AAAA of each exchanger) or to one host.
 *
 * Design. One struct dns per loop wraps a c-ares channel whose sockets
 * are registered with the loop's epoll (c-ares' socket-state callback) and
 * whose retransmissions run on one loop timer re-armed from
 * ares_timeout(). Nothing blocks. Servers come from TERN_DNS_SERVERS
 * ("ip[:port],...", IPv6 as "[ip]:port") or else /etc/resolv.conf; when
 * that file is missing (a FROM-scratch container) dns_new() logs it and
 * c-ares falls back to a resolver on 127.0.0.1.
 *
 * dns_route() in MX mode follows RFC 5321 §5.1: MX records in preference
 * order, random order among equal preferences; no MX records means the
 * domain itself is the exchanger (implicit MX); a single MX "." is a null
 * MX (RFC 7505): the domain accepts no mail. Each exchanger's A and AAAA
 * records, the families interleaved IPv4 first (host_addrs; or as
 * dns_route_ip()'s strategy says), become the
 * list of addresses to try, in order, one exchanger's after another's.
 * Its lookups go through dns_query(), so mail routes share the cache
 * (and its TTLs and negative answers) with policy lookups.
 *
 * dns_query() is the typed lookup policy code uses (SPF, DKIM keys,
 * DMARC, ...): any record type, TTLs honoured, one shared cache for every
 * loop.
 *
 * Caveats: callbacks run on the loop's thread. A lookup may complete
 * synchronously inside dns_route() (an immediate failure). After
 * dns_cancel() its callback never runs.
 */
#ifndef TERN_DNS_DNS_H
#define TERN_DNS_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct loop;
struct dns;
struct dns_lookup;

#define DNS_ADDRS_MAX 16
#define DNS_MX_MAX 10

struct dns_addr {
	char host[256]; /* the exchanger (or host) name the address belongs to */
	struct sockaddr_storage sa; /* with the port filled in */
	socklen_t salen;
	/* The MX preference of host (0 for an implicit MX, an address
	 * literal or a host route): the queue drops what is not better
	 * than ourselves (RFC 5321 §5.1). */
	unsigned pref;
};

enum dns_status {
	DNS_OK,       /* addresses follow, at least one */
	DNS_NULL_MX,  /* the domain publishes a null MX: it takes no mail */
	DNS_NOTFOUND, /* the domain or every exchanger has no address: permanent */
	DNS_TEMP,     /* timeout, SERVFAIL, no resolver: try later */
};

/*
 * Creates the resolver for loop. servers is TERN_DNS_SERVERS or "" for
 * /etc/resolv.conf. Returns NULL with err filled when c-ares cannot start
 * or servers is malformed.
 */
struct dns *dns_new(struct loop *loop, const char *servers, char *err, size_t errsz);
/* Cancels every lookup (their callbacks do not run) and frees *d (NULL after). */
void dns_free(struct dns **d);

/*
 * cb(arg, status, addrs, n, why): addrs (n <= DNS_ADDRS_MAX) is valid during
 * the call only; why is a short reason for logs and DSNs ("no MX or A
 * records for example.net", "DNS timeout").
 */
typedef void dns_route_cb(void *arg, enum dns_status st, const struct dns_addr *addrs, size_t n,
			  const char *why);
/*
 * Which address families a route holds, in which order (the outbound
 * queue's TERN_QUEUE_IP_STRATEGY, Stalwart's ip-strategy). Each host's
 * addresses stay together; with both families they alternate, the first
 * named leading (RFC 8305 §4), so an unreachable family costs one try.
 * An IP literal is used as given whatever the strategy.
 */
enum dns_ip_strategy {
	DNS_IP_V4_THEN_V6 = 0, /* both, IPv4 first: the default */
	DNS_IP_V6_THEN_V4,     /* both, IPv6 first */
	DNS_IP_V4_ONLY,        /* no AAAA lookup */
	DNS_IP_V6_ONLY,        /* no A lookup */
};

/* "ipv4_then_ipv6", "ipv6_then_ipv4", "ipv4_only", "ipv6_only": 0 with
 * *ip_r set, -1 for anything else. */
int dns_ip_strategy_parse(const char *s, enum dns_ip_strategy *ip_r);
/* The name dns_ip_strategy_parse() takes for ip (static). */
const char *dns_ip_strategy_name(enum dns_ip_strategy ip);

/*
 * Starts a lookup of name: with mx 1 the mail route of a domain, with mx
 * 0 the addresses of one host (an IP literal is returned as is). port is
 * put into every address. Returns a handle for dns_cancel(), or NULL when
 * the lookup already completed (cb has run). dns_route() is
 * dns_route_ip() with DNS_IP_V4_THEN_V6.
 */
struct dns_lookup *dns_route(struct dns *d, const char *name, int mx, uint16_t port,
			     dns_route_cb *cb, void *arg);
struct dns_lookup *dns_route_ip(struct dns *d, const char *name, int mx, uint16_t port,
				enum dns_ip_strategy ip, dns_route_cb *cb, void *arg);
/*
 * What dns_route() answers without a lookup (dns_literal.c): 1 with the
 * address in *a (port put in) when name is an IP literal — "[192.0.2.1]"
 * or "[IPv6:2001:db8::1]" (RFC 5321 §4.1.3) for a mail domain (mx 1), the
 * host itself with no MX lookup (§5.1); that, a bare address or "[::1]"
 * for a host (mx 0). 0 when name is to be looked up; -1 when it is in
 * brackets but no such address (no lookup, a permanent failure).
 */
int dns_route_literal(const char *name, int mx, uint16_t port, struct dns_addr *a);
/* a set to family's address addr (4 or 16 octets) at port, named host. */
void dns_addr_put(struct dns_addr *a, const char *host, int family, const void *addr,
                  uint16_t port);
/* Stops a lookup: its callback will not run. */
void dns_cancel(struct dns_lookup *l);

/* ---- Typed, cached lookups for policy (dns_query.c) ---- */

#include "dns/dns_resolver.h"

struct dns_query;

/*
 * Looks up (name, type): the answer comes from the process-wide cache
 * (dns_cache.h) when it holds one, else from the network through d's
 * channel; it is parsed by dns_msg_parse(), a CNAME chain the resolver
 * left unfinished is followed (8 hops at most), and the result is cached
 * for its TTL (negative answers too, RFC 2308). cb gets exactly one
 * answer, DNS_ANS_TEMP on timeout (c-ares' tries), SERVFAIL or when d is
 * NULL. Returns a handle for dns_query_cancel(), or NULL when cb already
 * ran (a cache hit answers at once).
 */
struct dns_query *dns_query(struct dns *d, const char *name, uint16_t type, dns_answer_cb *cb,
			    void *arg);
/* Skips reading the cache (the answer is still stored): for checks a user just fixed. */
#define DNS_QUERY_FRESH 1u
/*
 * A temporary failure (c-ares' tries timed out, SERVFAIL, no server
 * reachable) is remembered DNS_FAILURE_TTL seconds (dns_cache.h), and
 * a query with this flag gets DNS_ANS_TEMP from it at once meanwhile:
 * for checks that pass on a failure, so a dead resolver costs one
 * timeout, not one a session. Queries without it ask again.
 */
#define DNS_QUERY_FAILURE_CACHED 2u
#define DNS_FAILURE_TTL 60
/* dns_query() with flags (DNS_QUERY_FRESH, DNS_QUERY_FAILURE_CACHED). */
struct dns_query *dns_query_flags(struct dns *d, const char *name, uint16_t type, unsigned flags,
				  dns_answer_cb *cb, void *arg);
/* Stops a query: its callback will not run. */
void dns_query_cancel(struct dns_query *q);
/* dns_query() as the resolver interface evaluators take (valid while d is). */
struct dns_resolver dns_resolver_of(struct dns *d);
/*
 * The resolver of the loop running on this thread: each I/O loop's thread
 * creates one at start (server.c) and sets it here, so sessions find their
 * loop's channel. NULL on other threads or when it could not be created.
 */
void dns_thread_set(struct dns *d);
struct dns *dns_thread(void);

#endif
