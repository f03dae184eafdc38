/*
 * dns_stub.c — dns/dns.h for unit and fuzz builds, which have no host
 * build of c-ares: no resolver; lookups of IP literals still work (the
 * relay-host path), names fail temporarily. The real binary links
 * app/dns/dns.c.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "dns/dns.h"

struct dns *dns_new(struct loop *loop, const char *servers, char *err, size_t errsz)
{
	(void)loop;
	(void)servers;
	snprintf(err, errsz, "no DNS in this build");
	return NULL;
}

void dns_free(struct dns **d)
{
	*d = NULL;
}

struct dns_lookup *dns_route(struct dns *d, const char *name, int mx, uint16_t port,
			     dns_route_cb *cb, void *arg)
{
	return dns_route_ip(d, name, mx, port, DNS_IP_V4_THEN_V6, cb, arg);
}

struct dns_lookup *dns_route_ip(struct dns *d, const char *name, int mx, uint16_t port,
				enum dns_ip_strategy ip, dns_route_cb *cb, void *arg)
{
	struct dns_addr a;
	int lit = dns_route_literal(name, mx, port, &a);
	(void)d;
	(void)ip; /* a literal is used as given */
	if (lit != 0) {
		if (lit > 0)
			cb(arg, DNS_OK, &a, 1, "");
		else
			cb(arg, DNS_NOTFOUND, NULL, 0, "no such address literal");
		return NULL;
	}
	cb(arg, DNS_TEMP, NULL, 0, "no DNS resolver");
	return NULL;
}

void dns_cancel(struct dns_lookup *l)
{
	(void)l;
}

/* No resolver here: every typed query fails temporarily, at once. */
struct dns_query *dns_query(struct dns *d, const char *name, uint16_t type, dns_answer_cb *cb,
			    void *arg)
{
	static struct dns_answer a;
	(void)d;
	(void)name;
	dns_answer_init(&a, type, DNS_ANS_TEMP, 0);
	cb(arg, &a);
	return NULL;
}

struct dns_query *dns_query_flags(struct dns *d, const char *name, uint16_t type, unsigned flags,
				  dns_answer_cb *cb, void *arg)
{
	(void)flags;
	return dns_query(d, name, type, cb, arg);
}

void dns_query_cancel(struct dns_query *q)
{
	(void)q;
}

static void *stub_start(void *ctx, const char *name, uint16_t type, dns_answer_cb *cb, void *arg)
{
	return dns_query(ctx, name, type, cb, arg);
}

static void stub_cancel(void *ctx, void *handle)
{
	(void)ctx;
	(void)handle;
}

struct dns_resolver dns_resolver_of(struct dns *d)
{
	return (struct dns_resolver){ stub_start, stub_cancel, d };
}

void dns_thread_set(struct dns *d)
{
	(void)d;
}

struct dns *dns_thread(void)
{
	return NULL;
}
