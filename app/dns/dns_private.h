/*
 * dns_private.h — struct dns, shared by the c-ares glue files (dns.c:
 * channel, sockets, routes; dns_query.c: typed cached lookups). Nothing
 * outside app/dns includes it.
 */
#ifndef TERN_DNS_DNS_PRIVATE_H
#define TERN_DNS_DNS_PRIVATE_H

#include <ares.h>
#include <stdint.h>

#define DNS_FDS_MAX 16

struct loop;

struct dns {
	struct loop *loop;
	ares_channel ch;
	uint64_t timer;
	int fds[DNS_FDS_MAX]; /* registered with the loop, -1 = free */
	int closing; /* in dns_free(): new queries fail at once */
	/* Our queries c-ares holds, and how many of them were cancelled:
	 * those are reaped together (dns_query.c) rather than left to run
	 * all their tries against a server that may never answer. */
	unsigned inflight, cancelled;
	uint64_t reap_timer;
	int reaping; /* inside ares_cancel(): live queries are asked again */
};

/* Reaps the cancelled queries when they are all that is in flight, or
 * most of it (dns_query.c); from the loop, never inside c-ares. */
void dns_reap_maybe(struct dns *d);

/* Re-arms the loop timer from ares_timeout(); call after starting queries. */
void dns_rearm(struct dns *d);

#endif
