/*
 * dns.c — c-ares on the event loop: mail routes (MX, implicit MX, null
 * MX) and host addresses. See dns.h.
 */
#include "dns/dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "dns/dns_private.h"

#define DNS_TIMEOUT_MS 3000
#define DNS_TRIES 3

struct mx_host {
	char name[256];
	unsigned pref;
	uint32_t rnd;
	struct dns_addr addrs[DNS_ADDRS_MAX];
	size_t naddrs;
};

struct dns_lookup {
	struct dns *dns;
	dns_route_cb *cb; /* NULL once cancelled */
	void *arg;
	uint16_t port;
	int outstanding; /* queries in flight */
	int temp;        /* some query failed temporarily */
	int phase;       /* 0 MX, 1 addresses */
	char name[256];
	struct mx_host hosts[DNS_MX_MAX];
	size_t nhosts;
};

struct query {
	struct dns_lookup *l;
	size_t host;
	int family;
};


static void fd_event(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct dns *d = arg;
	(void)loop;
	ares_process_fd(d->ch, (events & (LOOP_READ | LOOP_HUP)) ? fd : ARES_SOCKET_BAD,
			(events & LOOP_WRITE) ? fd : ARES_SOCKET_BAD);
	dns_rearm(d);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	unsigned ev = (readable ? LOOP_READ : 0) | (writable ? LOOP_WRITE : 0);
	int slot = -1, freeslot = -1;

	for (int i = 0; i < DNS_FDS_MAX; i++) {
		if (d->fds[i] == fd)
			slot = i;
		else if (d->fds[i] < 0 && freeslot < 0)
			freeslot = i;
	}
	if (ev == 0) {
		if (slot >= 0) {
			loop_del_fd(d->loop, fd);
			d->fds[slot] = -1;
		}
		return;
	}
	if (slot >= 0) {
		loop_mod_fd(d->loop, fd, ev);
		return;
	}
	if (freeslot < 0 || loop_add_fd(d->loop, fd, ev, fd_event, d) < 0) {
		log_error("dns", NULL, "event=dns_fd_failed fd=%d", fd);
		return;
	}
	d->fds[freeslot] = fd;
}

static void timer_fired(struct loop *loop, void *arg)
{
	struct dns *d = arg;
	(void)loop;
	d->timer = 0;
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_rearm(d);
}

void dns_rearm(struct dns *d)
{
	struct timeval tv, *tvp = ares_timeout(d->ch, NULL, &tv);

	if (d->timer) {
		loop_timer_del(d->loop, d->timer);
		d->timer = 0;
	}
	if (tvp) {
		uint64_t ms = (uint64_t)tvp->tv_sec * 1000 + (uint64_t)tvp->tv_usec / 1000 + 1;
		d->timer = loop_timer_add(d->loop, ms, timer_fired, d);
	}
}

/* c-ares' library init keeps a plain counter: once for the process, not
 * once per loop (every loop creates its channel at the same moment). */
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_rc;

static void lib_init(void)
{
	lib_rc = ares_library_init(ARES_LIB_INIT_ALL);
}

struct dns *dns_new(struct loop *loop, const char *servers, char *err, size_t errsz)
{
	struct ares_options o;
	int rc;

	pthread_once(&lib_once, lib_init);
	if (lib_rc != ARES_SUCCESS) {
		snprintf(err, errsz, "c-ares: %s", ares_strerror(lib_rc));
		return NULL;
	}
	if ((!servers || !*servers) && access("/etc/resolv.conf", R_OK) != 0)
		log_error("dns", NULL,
			  "event=dns_no_resolvers error=\"no /etc/resolv.conf and TERN_DNS_SERVERS "
			  "unset: asking 127.0.0.1; set TERN_DNS_SERVERS\"");

	struct dns *d = xcalloc(1, sizeof *d);
	d->loop = loop;
	for (int i = 0; i < DNS_FDS_MAX; i++)
		d->fds[i] = -1;
	memset(&o, 0, sizeof o);
	o.flags = ARES_FLAG_NOSEARCH;
	o.timeout = DNS_TIMEOUT_MS;
	o.tries = DNS_TRIES;
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = d;
	o.lookups = (char *)"b";
	rc = ares_init_options(&d->ch, &o,
			       ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
				   ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errsz, "c-ares: %s", ares_strerror(rc));
		free(d);
		return NULL;
	}
	if (servers && *servers && (rc = ares_set_servers_ports_csv(d->ch, servers)) != ARES_SUCCESS) {
		snprintf(err, errsz, "TERN_DNS_SERVERS=%s: %s", servers, ares_strerror(rc));
		ares_destroy(d->ch);
		free(d);
		return NULL;
	}
	return d;
}

void dns_free(struct dns **dp)
{
	struct dns *d = *dp;
	if (!d)
		return;
	*dp = NULL;
	/* Outstanding queries call back with ARES_EDESTRUCTION: their
	 * lookups were cancelled by their owners or are freed there. A
	 * callback that asks again (an SPF evaluation) is answered at once. */
	d->closing = 1;
	ares_destroy(d->ch);
	if (d->timer)
		loop_timer_del(d->loop, d->timer);
	for (int i = 0; i < DNS_FDS_MAX; i++)
		if (d->fds[i] >= 0)
			loop_del_fd(d->loop, d->fds[i]);
	free(d);
}

void dns_cancel(struct dns_lookup *l)
{
	if (!l)
		return;
	l->cb = NULL;
	if (l->outstanding == 0)
		free(l);
}

static int put_port(struct dns_addr *a, const char *host, int family, const void *addr,
		    uint16_t port)
{
	char name[sizeof a->host];
	snprintf(name, sizeof name, "%s", host); /* host may live next to *a */
	memset(a, 0, sizeof *a);
	memcpy(a->host, name, sizeof name);
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&a->sa;
		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		memcpy(&s->sin_addr, addr, 4);
		a->salen = sizeof *s;
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&a->sa;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		memcpy(&s->sin6_addr, addr, 16);
		a->salen = sizeof *s;
	}
	return 0;
}

/* Delivers the result (once) and frees l when no query is left. */
static void finish(struct dns_lookup *l, enum dns_status st, const struct dns_addr *a, size_t n,
		   const char *why)
{
	dns_route_cb *cb = l->cb;
	l->cb = NULL;
	if (cb)
		cb(l->arg, st, a, n, why);
}

static void release(struct dns_lookup *l)
{
	if (l->outstanding == 0 && l->cb == NULL)
		free(l);
}

static void addresses_done(struct dns_lookup *l)
{
	struct dns_addr out[DNS_ADDRS_MAX];
	size_t n = 0;
	char why[320];

	for (size_t h = 0; h < l->nhosts; h++)
		for (size_t i = 0; i < l->hosts[h].naddrs && n < DNS_ADDRS_MAX; i++)
			out[n++] = l->hosts[h].addrs[i];
	if (n) {
		finish(l, DNS_OK, out, n, "");
		return;
	}
	snprintf(why, sizeof why, "%s: %s", l->temp ? "DNS lookup failed" : "no address for",
		 l->nhosts == 1 ? l->hosts[0].name : l->name);
	finish(l, l->temp ? DNS_TEMP : DNS_NOTFOUND, NULL, 0, why);
}

static int status_temp(int status)
{
	return status != ARES_SUCCESS && status != ARES_ENODATA && status != ARES_ENOTFOUND;
}

static void addr_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct query *q = arg;
	struct dns_lookup *l = q->l;
	struct mx_host *h = &l->hosts[q->host];
	(void)timeouts;

	l->outstanding--;
	if (l->cb && status == ARES_SUCCESS) {
		if (q->family == AF_INET) {
			struct ares_addrttl at[DNS_ADDRS_MAX];
			int na = DNS_ADDRS_MAX;
			if (ares_parse_a_reply(abuf, alen, NULL, at, &na) == ARES_SUCCESS) {
				/* IPv4 first: insert before any IPv6 already there. */
				size_t v6 = h->naddrs;
				struct dns_addr keep[DNS_ADDRS_MAX];
				memcpy(keep, h->addrs, v6 * sizeof *keep);
				h->naddrs = 0;
				for (int i = 0; i < na && h->naddrs < DNS_ADDRS_MAX; i++)
					put_port(&h->addrs[h->naddrs++], h->name, AF_INET,
						 &at[i].ipaddr, l->port);
				for (size_t i = 0; i < v6 && h->naddrs < DNS_ADDRS_MAX; i++)
					h->addrs[h->naddrs++] = keep[i];
			}
		} else {
			struct ares_addr6ttl at[DNS_ADDRS_MAX];
			int na = DNS_ADDRS_MAX;
			if (ares_parse_aaaa_reply(abuf, alen, NULL, at, &na) == ARES_SUCCESS)
				for (int i = 0; i < na && h->naddrs < DNS_ADDRS_MAX; i++)
					put_port(&h->addrs[h->naddrs++], h->name, AF_INET6,
						 &at[i].ip6addr, l->port);
		}
	} else if (status_temp(status)) {
		l->temp = 1;
	}
	free(q);
	if (l->outstanding == 0 && l->cb)
		addresses_done(l);
	release(l);
}

static void query_addrs(struct dns_lookup *l)
{
	l->phase = 1;
	/* Count every query first: a callback may run inside ares_query. */
	l->outstanding += (int)l->nhosts * 2;
	for (size_t h = 0; h < l->nhosts; h++) {
		for (int f = 0; f < 2; f++) {
			struct query *q = xmalloc(sizeof *q);
			*q = (struct query){l, h, f == 0 ? AF_INET : AF_INET6};
			ares_query(l->dns->ch, l->hosts[h].name, ns_c_in, f == 0 ? ns_t_a : ns_t_aaaa,
				   addr_cb, q);
		}
	}
}

static int host_cmp(const void *a, const void *b)
{
	const struct mx_host *x = a, *y = b;
	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return x->rnd < y->rnd ? -1 : x->rnd > y->rnd;
}

static void mx_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_lookup *l = arg;
	struct ares_mx_reply *mx = NULL;
	char why[320];
	(void)timeouts;

	l->outstanding--;
	if (!l->cb) {
		release(l);
		return;
	}
	if (status == ARES_SUCCESS)
		status = ares_parse_mx_reply(abuf, alen, &mx);
	if (status == ARES_ENOTFOUND) {
		snprintf(why, sizeof why, "domain %s does not exist", l->name);
		finish(l, DNS_NOTFOUND, NULL, 0, why);
		release(l);
		return;
	}
	if (status == ARES_ENODATA) {
		/* No MX: the domain is its own exchanger (RFC 5321 §5.1). */
		snprintf(l->hosts[0].name, sizeof l->hosts[0].name, "%s", l->name);
		l->nhosts = 1;
		query_addrs(l);
		release(l);
		return;
	}
	if (status != ARES_SUCCESS) {
		snprintf(why, sizeof why, "MX lookup for %s failed: %s", l->name,
			 ares_strerror(status));
		finish(l, DNS_TEMP, NULL, 0, why);
		release(l);
		return;
	}
	size_t n = 0;
	int null_mx = 0;
	for (struct ares_mx_reply *m = mx; m; m = m->next) {
		if (m->host[0] == '\0' || strcmp(m->host, ".") == 0) {
			null_mx = 1;
			continue;
		}
		if (n < DNS_MX_MAX) {
			struct mx_host *h = &l->hosts[n++];
			snprintf(h->name, sizeof h->name, "%s", m->host);
			h->pref = m->priority;
			if (getrandom(&h->rnd, sizeof h->rnd, GRND_NONBLOCK) != sizeof h->rnd)
				h->rnd = (uint32_t)rand();
		}
	}
	ares_free_data(mx);
	if (null_mx && n == 0) {
		snprintf(why, sizeof why, "domain %s does not accept mail (null MX)", l->name);
		finish(l, DNS_NULL_MX, NULL, 0, why);
		release(l);
		return;
	}
	qsort(l->hosts, n, sizeof l->hosts[0], host_cmp);
	l->nhosts = n;
	query_addrs(l);
	release(l);
}

struct dns_lookup *dns_route(struct dns *d, const char *name, int mx, uint16_t port,
			     dns_route_cb *cb, void *arg)
{
	struct dns_addr a;
	unsigned char bin[16];

	/* An address literal needs no lookup ("[::1]" or "127.0.0.1"). */
	char lit[64];
	size_t nl = strlen(name);
	if (nl >= 2 && name[0] == '[' && name[nl - 1] == ']' && nl - 2 < sizeof lit) {
		memcpy(lit, name + 1, nl - 2);
		lit[nl - 2] = '\0';
	} else {
		snprintf(lit, sizeof lit, "%s", name);
	}
	if (!mx && inet_pton(AF_INET, lit, bin) == 1) {
		put_port(&a, lit, AF_INET, bin, port);
		cb(arg, DNS_OK, &a, 1, "");
		return NULL;
	}
	if (!mx && inet_pton(AF_INET6, lit, bin) == 1) {
		put_port(&a, lit, AF_INET6, bin, port);
		cb(arg, DNS_OK, &a, 1, "");
		return NULL;
	}
	if (!d) {
		cb(arg, DNS_TEMP, NULL, 0, "no DNS resolver");
		return NULL;
	}
	struct dns_lookup *l = xcalloc(1, sizeof *l);
	l->dns = d;
	l->cb = cb;
	l->arg = arg;
	l->port = port;
	snprintf(l->name, sizeof l->name, "%s", name);
	l->outstanding = 1; /* held until we return, so a synchronous answer cannot free l */
	if (mx) {
		l->outstanding++;
		ares_query(d->ch, l->name, ns_c_in, ns_t_mx, mx_cb, l);
	} else {
		snprintf(l->hosts[0].name, sizeof l->hosts[0].name, "%s", name);
		l->nhosts = 1;
		query_addrs(l);
	}
	l->outstanding--;
	if (l->outstanding == 0 && l->cb && l->phase == 1)
		addresses_done(l); /* every answer came synchronously */
	dns_rearm(d);
	if (l->cb == NULL) {
		release(l);
		return NULL;
	}
	return l;
}
