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
};

/* Re-arms the loop timer from ares_timeout(); call after starting queries. */
void dns_rearm(struct dns *d);

#endif
