/*
 * acme_dnsprop.h — DNS-01: waits until every authoritative server of the
 * zone serves the TXT record just added, before the challenge is answered.
 *
 * Design. The RFC 2136 update reaches the primary (TERN_ACME_DNS_SERVER);
 * the secondaries the zone's NS records name get it at their next
 * transfer, seconds or minutes later, and the CA asks any of them. Told
 * "ready" at once, Let's Encrypt may ask one still without the record:
 * the challenge fails, and the name with it. So, as lego does: the NS
 * records of the zone (tern's resolver), the addresses of each, then the
 * TXT record asked of each address directly (a channel of app/dns/ to
 * that server, port 53, the cache not read) every PROP_INTERVAL seconds
 * until each NS name serves it at one of its addresses (an IPv6 one a
 * host without IPv6 cannot reach does not hold it up), or the bound passes.
 *
 * Caveats: a zone whose NS records cannot be found (not delegated, a
 * private zone) is not checked: cb says ok at once, with why saying so.
 * At most ACME_DNSPROP_SERVERS addresses are asked.
 */
#ifndef TERN_ACME_ACME_DNSPROP_H
#define TERN_ACME_ACME_DNSPROP_H

#include <stddef.h>

struct loop;
struct dns;
struct acme_dnsprop;

#define ACME_DNSPROP_SERVERS 16

/*
 * cb(arg, ok, nservers, why): ok 1 when every NS name serves the record
 * at one of its addresses (nservers addresses known in all; why "", or
 * why the check was skipped), 0 when the
 * bound passed first (why names a server that does not). Runs on loop,
 * once, never inside the start call.
 */
typedef void acme_dnsprop_cb(void *arg, int ok, size_t nservers, const char *why);

/*
 * Starts the check for TXT owner = txt in zone, asking dns for the NS
 * records and their addresses, for max_secs at most. Returns the handle
 * (freed after cb has run), or NULL when out of memory.
 */
struct acme_dnsprop *acme_dnsprop_start(struct loop *loop, struct dns *dns, const char *zone,
                                        const char *owner, const char *txt, unsigned max_secs,
                                        acme_dnsprop_cb *cb, void *arg);
/* Stops a check (NULL: nothing): its cb will not run. */
void acme_dnsprop_cancel(struct acme_dnsprop *p);

#endif
