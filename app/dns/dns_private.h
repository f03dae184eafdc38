/*
 * dns_private.h — struct dns, shared by the c-ares glue files (dns.c:
 * channel, sockets, routes; dns_query.c: typed cached lookups). Nothing
 * outside app/dns includes it.
 */
#ifndef TERN_DNS_DNS_PRIVATE_H
#define TERN_DNS_DNS_PRIVATE_H

#include <ares.h>
#include <stdint.h>

/*
 * EDNS0 (RFC 6891): queries carry an OPT record offering UDP answers up to
 * this many octets, the DNS flag day 2020 value (no IP fragmentation on
 * any path), so a DKIM key, a TLSA set or an SPF record past 512 octets
 * comes in one UDP exchange instead of a truncated one and a TCP
 * connection. A truncated answer (TC) still goes to TCP. A server that
 * answers FORMERR without an OPT record does not know EDNS: c-ares asks
 * it again without, and, in 1.18, takes EDNS off that channel for good
 * (its answers past 512 octets then go to TCP) and off every ares_dup()
 * of it. So a new channel (DNS_ROTATE_QUERIES below) is a copy of a
 * template that never sends, EDNS on: one FORMERR, a server's restart
 * from an old version or a forged one, costs EDNS on at most the
 * channel's DNS_ROTATE_QUERIES queries, not for the life of the
 * process. A FORMERR that c-ares passes on to us (its channel's EDNS
 * already off) is asked again without EDNS too, that query alone
 * (dns_query.c).
 */
#define DNS_EDNS_UDP 1232

#define DNS_FDS_MAX 64 /* UDP and TCP, each server, each channel (the current and DNS_OLD_MAX) */

struct loop;

/*
 * c-ares 1.18 keeps one UDP socket, so one source port, for as long as
 * queries are in flight: under steady load, for good, leaving a forger
 * the 16-bit ID alone to guess (RFC 5452 §9.2). So every
 * DNS_ROTATE_QUERIES queries the loop moves to a fresh channel (a fresh
 * socket, a port the kernel picks at random); the old one only takes the
 * answers it still awaits and is destroyed once it has them all.
 */
#define DNS_ROTATE_QUERIES 64
#define DNS_OLD_MAX 8

struct dns_old {
	ares_channel ch; /* NULL: a free slot */
	unsigned pending;
};

struct dns {
	struct loop *loop;
	ares_channel ch; /* where new queries go */
	ares_channel tmpl; /* never sends: each new ch is its copy (EDNS on, above) */
	unsigned ch_sent, ch_pending;
	struct dns_old old[DNS_OLD_MAX];
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

/* The channel a new query goes to (after a rotation, when due); the
 * query counts as pending there until dns_chan_done(). */
ares_channel dns_chan_take(struct dns *d);
void dns_chan_done(struct dns *d, ares_channel ch);
/* ares_cancel() on every channel (the reap), then the drained ones go. */
void dns_cancel_all(struct dns *d);

/* Re-arms the loop timer from ares_timeout(); call after starting queries. */
void dns_rearm(struct dns *d);

#endif
