/*
 * acme_dnsprop.c — DNS-01's wait for the record on every authoritative
 * server. See acme_dnsprop.h.
 *
 * Steps: NS of the zone -> the addresses of each name (dns_route, port
 * 53) -> rounds: the TXT record asked of each server not yet seen with
 * it, every PROP_INTERVAL s. The end (cb) always runs from a timer, so
 * a c-ares callback never frees the channel it runs on.
 */
#include "acme/acme_dnsprop.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/loop.h"
#include "core/xalloc.h"
#include "dns/dns.h"

#define PROP_INTERVAL_MS 2000
#define NS_MAX 8

struct server {
	struct acme_dnsprop *p;
	size_t ns; /* the NS name it is an address of */
	char addr[64]; /* "ip:53" or "[ip6]:53", as dns_new takes it */
	struct dns *d;
	struct dns_query *q;
	int ok;
};

struct ns_name {
	struct acme_dnsprop *p;
	char name[256];
	struct dns_lookup *l;
};

struct acme_dnsprop {
	struct loop *loop;
	struct dns *dns;
	char zone[256], owner[300], txt[64];
	uint64_t deadline_ms;
	acme_dnsprop_cb *cb;
	void *arg;
	struct dns_query *ns_q;
	struct ns_name ns[NS_MAX];
	size_t nns, ns_left;
	struct server srv[ACME_DNSPROP_SERVERS];
	size_t nsrv, round_left;
	uint64_t timer;
	int ok;
	char why[512];
};

static void end_timer(struct loop *loop, void *arg);

/* Ends the check: cb runs from a timer, after the callback under way returns. */
static void finish(struct acme_dnsprop *p, int ok, const char *why)
{
	p->ok = ok;
	snprintf(p->why, sizeof p->why, "%s", why);
	if (p->timer)
		loop_timer_del(p->loop, p->timer);
	p->timer = loop_timer_add(p->loop, 0, end_timer, p);
}

static void round_start(struct loop *loop, void *arg);

/* 1 when one of the addresses of NS name i serves the record: a host
 * with an IPv6 address a server without IPv6 cannot reach is served all
 * the same, and the others of its addresses are not asked again. */
static int ns_done(const struct acme_dnsprop *p, size_t i)
{
	for (size_t k = 0; k < p->nsrv; k++)
		if (p->srv[k].ns == i && p->srv[k].ok)
			return 1;
	return 0;
}

static void txt_answer(void *arg, const struct dns_answer *a)
{
	struct server *s = arg;
	struct acme_dnsprop *p = s->p;
	s->q = NULL;
	if (a->status == DNS_ANS_OK)
		for (size_t i = 0; i < a->nrr && !s->ok; i++)
			s->ok = a->rr[i].type == DNS_T_TXT && strcmp(dns_rr_text(a, i), p->txt) == 0;
	if (--p->round_left > 0)
		return;
	for (size_t i = 0; i < p->nsrv; i++) {
		if (ns_done(p, p->srv[i].ns))
			continue;
		if (loop_now_ms() >= p->deadline_ms) {
			char why[256];
			snprintf(why, sizeof why, "the authoritative server %s (%s) does not serve it",
			         p->ns[p->srv[i].ns].name, p->srv[i].addr);
			finish(p, 0, why);
		} else {
			p->timer = loop_timer_add(p->loop, PROP_INTERVAL_MS, round_start, p);
		}
		return;
	}
	finish(p, 1, "");
}

/* Asks each server not yet seen with the record. */
static void round_start(struct loop *loop, void *arg)
{
	struct acme_dnsprop *p = arg;
	(void)loop;
	p->timer = 0;
	p->round_left = 0;
	int ask[ACME_DNSPROP_SERVERS];
	for (size_t i = 0; i < p->nsrv; i++)
		p->round_left += ask[i] = !ns_done(p, p->srv[i].ns);
	size_t left = p->round_left;
	for (size_t i = 0; i < p->nsrv && left > 0; i++) {
		struct server *s = &p->srv[i];
		if (!ask[i])
			continue;
		left--;
		/* may answer at once (a failure), p->round_left then counts it */
		s->q = dns_query_flags(s->d, p->owner, DNS_T_TXT, DNS_QUERY_FRESH, txt_answer, s);
	}
}

static void servers_ready(struct acme_dnsprop *p)
{
	if (p->nsrv == 0) {
		finish(p, 1, "no address for the zone's NS records: not checked");
		return;
	}
	round_start(p->loop, p);
}

static void ns_addrs(void *arg, enum dns_status st, const struct dns_addr *addrs, size_t n,
                     const char *why)
{
	struct ns_name *ns = arg;
	struct acme_dnsprop *p = ns->p;
	(void)why;
	ns->l = NULL;
	for (size_t i = 0; st == DNS_OK && i < n && p->nsrv < ACME_DNSPROP_SERVERS; i++) {
		char ip[INET6_ADDRSTRLEN], err[256];
		struct server *s = &p->srv[p->nsrv];
		const struct sockaddr *sa = (const struct sockaddr *)&addrs[i].sa;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip);
		else
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip);
		snprintf(s->addr, sizeof s->addr, sa->sa_family == AF_INET ? "%s:53" : "[%s]:53", ip);
		size_t dup = 0;
		while (dup < p->nsrv && strcmp(p->srv[dup].addr, s->addr) != 0)
			dup++;
		if (dup < p->nsrv || (s->d = dns_new(p->loop, s->addr, err, sizeof err)) == NULL)
			continue;
		s->p = p;
		s->ns = (size_t)(ns - p->ns);
		p->nsrv++;
	}
	if (--p->ns_left == 0)
		servers_ready(p);
}

static void ns_answer(void *arg, const struct dns_answer *a)
{
	struct acme_dnsprop *p = arg;
	p->ns_q = NULL;
	if (a->status != DNS_ANS_OK) {
		finish(p, 1, "no NS records for the zone: not checked");
		return;
	}
	for (size_t i = 0; i < a->nrr && p->nns < NS_MAX; i++)
		if (a->rr[i].type == DNS_T_NS)
			snprintf(p->ns[p->nns++].name, sizeof p->ns[0].name, "%s", dns_rr_text(a, i));
	p->ns_left = p->nns + 1; /* the +1: no lookup ends the wait before all started */
	for (size_t i = 0; i < p->nns; i++) {
		p->ns[i].p = p;
		p->ns[i].l = dns_route(p->dns, p->ns[i].name, 0, 53, ns_addrs, &p->ns[i]);
	}
	if (--p->ns_left == 0)
		servers_ready(p);
}

static void start_timer(struct loop *loop, void *arg)
{
	struct acme_dnsprop *p = arg;
	(void)loop;
	p->timer = 0;
	p->ns_q = dns_query_flags(p->dns, p->zone, DNS_T_NS, DNS_QUERY_FRESH, ns_answer, p);
}

struct acme_dnsprop *acme_dnsprop_start(struct loop *loop, struct dns *dns, const char *zone,
                                        const char *owner, const char *txt, unsigned max_secs,
                                        acme_dnsprop_cb *cb, void *arg)
{
	struct acme_dnsprop *p = xcalloc(1, sizeof *p);
	p->loop = loop;
	p->dns = dns;
	snprintf(p->zone, sizeof p->zone, "%s", zone);
	snprintf(p->owner, sizeof p->owner, "%s", owner);
	snprintf(p->txt, sizeof p->txt, "%s", txt);
	p->deadline_ms = loop_now_ms() + (uint64_t)max_secs * 1000;
	p->cb = cb;
	p->arg = arg;
	/* from a timer: cb never runs inside this call */
	p->timer = loop_timer_add(loop, 0, start_timer, p);
	return p;
}

void acme_dnsprop_cancel(struct acme_dnsprop *p)
{
	if (p == NULL)
		return;
	if (p->timer)
		loop_timer_del(p->loop, p->timer);
	if (p->ns_q)
		dns_query_cancel(p->ns_q);
	for (size_t i = 0; i < p->nns; i++)
		if (p->ns[i].l)
			dns_cancel(p->ns[i].l);
	for (size_t i = 0; i < p->nsrv; i++) {
		if (p->srv[i].q)
			dns_query_cancel(p->srv[i].q);
		dns_free(&p->srv[i].d);
	}
	free(p);
}

static void end_timer(struct loop *loop, void *arg)
{
	struct acme_dnsprop *p = arg;
	(void)loop;
	p->timer = 0;
	acme_dnsprop_cb *cb = p->cb;
	void *cbarg = p->arg;
	int ok = p->ok;
	size_t n = p->nsrv;
	char why[sizeof p->why];
	memcpy(why, p->why, sizeof why);
	acme_dnsprop_cancel(p);
	cb(cbarg, ok, n, why);
}
