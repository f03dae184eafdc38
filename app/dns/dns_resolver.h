/*
 * dns_resolver.h — what policy evaluators (SPF, later DKIM keys, DMARC)
 * see of DNS: start a typed lookup, get one struct dns_answer back.
 *
 * Design. Evaluators never call c-ares or the cache: they talk to this
 * interface, so the server hands them dns_resolver_of() (the loop's
 * c-ares channel behind the shared cache, dns.h) while unit tests and
 * fuzz targets hand them a table of records (dns_table.h).
 *
 * Caveats: an implementation may answer synchronously, inside start();
 * callers must allow for it (start then returns NULL).
 */
#ifndef TERN_DNS_DNS_RESOLVER_H
#define TERN_DNS_DNS_RESOLVER_H

#include <stdint.h>

#include "dns/dns_msg.h"

/* The answer is valid during the call only. */
typedef void dns_answer_cb(void *arg, const struct dns_answer *a);

struct dns_resolver {
	/*
	 * Looks up (name, type); cb runs exactly once unless cancel() is called
	 * first. Returns a handle for cancel(), or NULL when cb already ran.
	 */
	void *(*start)(void *ctx, const char *name, uint16_t type, dns_answer_cb *cb, void *arg);
	/* Stops a lookup started by start(); its cb will not run. */
	void (*cancel)(void *ctx, void *handle);
	void *ctx;
};

#endif
