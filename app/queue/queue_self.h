/*
 * queue_self.h — is a next hop ourselves? The MX rule of RFC 5321 §5.1.
 *
 * Design. When a domain's MX list names this server, a client delivering
 * to it must drop every MX as preferred as ours or less, and must not
 * send to itself: mail to a domain whose best MX is us, yet which is not
 * one of our domains, would come back to the queue for ever (a mistyped
 * MX, a domain not yet added). queue_self_drop() applies the rule to a
 * route; the scheduler fails the recipients with 5.4.6 "mail for X loops
 * back to myself" (RFC 3463 §3.5: routing loop detected), as Postfix
 * does, when nothing better than us is left.
 *
 * "Ourselves" is what tern knows of itself: an exchanger named as our
 * host name (TERN_HOSTNAME; a server behind NAT is known by it, not by
 * an address), or an address at which our SMTP listener (TERN_LISTEN_SMTP,
 * its port or the fallback port) takes connections: the listener's own
 * address (an IPv4-mapped one is its IPv4 address), or with one bound to
 * every address (":25", "[::]:25", and "0.0.0.0:25" for IPv4) any
 * address of a local interface (getifaddrs, read once for a route
 * however many of its addresses ask) and the loopback ranges. The port
 * counts: a route's port is TERN_QUEUE_MX_PORT (25), and another port
 * on one of our addresses is another server.
 *
 * Caveats: only what the route holds is judged (DNS_MX_MAX exchangers,
 * DNS_ADDRS_MAX addresses): an MX of ours past those limits is not seen.
 * A public address that a NAT forwards to us, with an exchanger not
 * named as our host name, is not known as ours here: the session finds
 * it when the host answers EHLO with our host name (smtp_client.h's
 * loops_back), as Postfix does.
 */
#ifndef TERN_QUEUE_QUEUE_SELF_H
#define TERN_QUEUE_QUEUE_SELF_H

#include <stddef.h>

struct dns_addr;
struct listen_addr;

/* Remembers the SMTP listener (copied); before it, no address is ours. */
void queue_self_init(const struct listen_addr *smtp);

/* 1 when name[0..len) (an exchanger's name, the name a host gave in its
 * reply to EHLO) is our host name (case aside, a final dot ignored). */
int queue_self_named(const char *name, size_t len, const char *hostname);

/* 1 when a (a route's entry) is this server, by name or address; 0 if not.
 * hostname: our current host name (hostname_now()). */
int queue_self_is(const struct dns_addr *a, const char *hostname);

/*
 * RFC 5321 §5.1 on the route a[0..n) (in preference order): when one of
 * its entries is ourselves, every entry whose preference is that one's or
 * more goes. Returns how many are left (a[] compacted, order kept); sets
 * *self_r to 1 when an entry was ourselves (else 0). n left 0 with
 * *self_r 1: the best MX is ourselves, the mail loops back.
 */
size_t queue_self_drop(struct dns_addr *a, size_t n, const char *hostname, int *self_r);

#endif
