/*
 * dns.c — c-ares on the event loop, and mail routes (MX, implicit MX, null
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

/* c-ares doubles the timeout at each try: 3 + 6 + 12 s for one server.
 * Tests whose DNS server stays silent on purpose shorten the first with
 * TERN_TEST_DNS_TIMEOUT_MS (test-only, as TERN_TEST_ALLOC_FAIL; not a user
 * setting). */
#define DNS_TIMEOUT_MS 3000
#define DNS_TRIES 3

/* One exchanger and the addresses found for it (raw, IPv4 and IPv6 apart:
 * the route interleaves them, IPv4 first, whatever order the answers
 * come in: host_addrs()). */
struct mx_host {
	char name[256];
	unsigned pref;
	uint32_t rnd;
	uint8_t v4[DNS_ADDRS_MAX][4], v6[DNS_ADDRS_MAX][16];
	uint8_t n4, n6;
};

/* One A or AAAA lookup of one exchanger. */
struct addr_query {
	struct dns_lookup *l;
	struct dns_query *h; /* NULL once answered (or answered synchronously) */
	uint8_t host, v6;
};

struct dns_lookup {
	dns_route_cb *cb; /* NULL once the result went out */
	void *arg;
	uint16_t port;
	enum dns_ip_strategy ip;
	int outstanding; /* lookups not answered yet */
	int starting;    /* inside dns_route(): it frees l, not a callback */
	int temp;        /* some lookup failed temporarily */
	struct dns *dns;
	struct dns_query *mxq;
	char name[256];
	struct mx_host hosts[DNS_MX_MAX];
	size_t nhosts;
	struct addr_query aq[DNS_MX_MAX * 2];
};

ares_channel dns_chan_take(struct dns *d)
{
	if (d->ch_sent >= DNS_ROTATE_QUERIES && !d->closing && !d->reaping) {
		for (int i = 0; i < DNS_OLD_MAX; i++) {
			ares_channel n;
			if (d->old[i].ch)
				continue;
			if (ares_dup(&n, d->tmpl) != ARES_SUCCESS)
				break; /* the old channel goes on */
			d->old[i] = (struct dns_old){ d->ch, d->ch_pending };
			d->ch = n;
			d->ch_sent = d->ch_pending = 0;
			break;
		}
		/* All slots draining: this channel goes on a while longer. */
	}
	d->ch_sent++;
	d->ch_pending++;
	return d->ch;
}

void dns_chan_done(struct dns *d, ares_channel ch)
{
	if (ch == d->ch) {
		d->ch_pending--;
		return;
	}
	for (int i = 0; i < DNS_OLD_MAX; i++)
		if (d->old[i].ch == ch) {
			d->old[i].pending--;
			return;
		}
}

/* Destroys the old channels that have all their answers; from the loop,
 * never inside c-ares (a channel may not be destroyed from its callback). */
static void sweep(struct dns *d)
{
	for (int i = 0; i < DNS_OLD_MAX; i++)
		if (d->old[i].ch && d->old[i].pending == 0) {
			ares_channel ch = d->old[i].ch;
			d->old[i].ch = NULL;
			ares_destroy(ch);
		}
}

/* Every channel in use now: a callback may rotate while they are processed. */
static int channels(struct dns *d, ares_channel *out)
{
	int n = 0;
	out[n++] = d->ch;
	for (int i = 0; i < DNS_OLD_MAX; i++)
		if (d->old[i].ch)
			out[n++] = d->old[i].ch;
	return n;
}

static void fd_event(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct dns *d = arg;
	ares_channel chs[DNS_OLD_MAX + 1];
	(void)loop;
	/* A channel not owning fd just looks at its timeouts. */
	for (int i = 0, n = channels(d, chs); i < n; i++)
		ares_process_fd(chs[i], (events & (LOOP_READ | LOOP_HUP)) ? fd : ARES_SOCKET_BAD,
				(events & LOOP_WRITE) ? fd : ARES_SOCKET_BAD);
	sweep(d);
	dns_rearm(d);
}

void dns_cancel_all(struct dns *d)
{
	ares_channel chs[DNS_OLD_MAX + 1];
	for (int i = 0, n = channels(d, chs); i < n; i++)
		ares_cancel(chs[i]);
	sweep(d);
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
	ares_channel chs[DNS_OLD_MAX + 1];
	for (int i = 0, n = channels(d, chs); i < n; i++)
		ares_process_fd(chs[i], ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	sweep(d);
	dns_rearm(d);
}

void dns_rearm(struct dns *d)
{
	struct timeval tv, *tvp = ares_timeout(d->ch, NULL, &tv);
	for (int i = 0; i < DNS_OLD_MAX; i++) {
		struct timeval otv, *o;
		if (d->old[i].ch && (o = ares_timeout(d->old[i].ch, tvp, &otv)) != NULL) {
			tv = *o;
			tvp = &tv;
		}
	}

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

static int timeout_ms(void)
{
	const char *v = getenv("TERN_TEST_DNS_TIMEOUT_MS");
	unsigned long ms = v && *v ? strtoul(v, NULL, 10) : 0;
	return ms && ms <= DNS_TIMEOUT_MS ? (int)ms : DNS_TIMEOUT_MS;
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
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_EDNS;
	o.ednspsz = DNS_EDNS_UDP;
	o.timeout = timeout_ms();
	o.tries = DNS_TRIES;
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = d;
	o.lookups = (char *)"b";
	rc = ares_init_options(&d->ch, &o,
			       ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
				   ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS | ARES_OPT_EDNSPSZ);
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
	if ((rc = ares_dup(&d->tmpl, d->ch)) != ARES_SUCCESS) {
		snprintf(err, errsz, "c-ares: %s", ares_strerror(rc));
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
	ares_destroy(d->tmpl);
	for (int i = 0; i < DNS_OLD_MAX; i++)
		if (d->old[i].ch)
			ares_destroy(d->old[i].ch);
	if (d->timer)
		loop_timer_del(d->loop, d->timer);
	if (d->reap_timer)
		loop_timer_del(d->loop, d->reap_timer);
	for (int i = 0; i < DNS_FDS_MAX; i++)
		if (d->fds[i] >= 0)
			loop_del_fd(d->loop, d->fds[i]);
	free(d);
}

void dns_cancel(struct dns_lookup *l)
{
	if (!l)
		return;
	/* The cache and the channel own the lookups: cancelled, they never call back. */
	dns_query_cancel(l->mxq);
	for (size_t i = 0; i < l->nhosts * 2; i++)
		dns_query_cancel(l->aq[i].h);
	free(l);
}

/* Delivers the result, once; a callback frees l afterwards unless dns_route() still runs. */
static void finish(struct dns_lookup *l, enum dns_status st, const struct dns_addr *a, size_t n,
		   const char *why)
{
	dns_route_cb *cb = l->cb;
	l->cb = NULL;
	if (cb)
		cb(l->arg, st, a, n, why);
}

/* After a callback: frees l once its result went out and nothing is in flight. */
static void settle(struct dns_lookup *l)
{
	if (!l->starting && l->cb == NULL && l->outstanding == 0)
		free(l);
}

/*
 * Appends host m's addresses to out (n so far, at most DNS_ADDRS_MAX),
 * the families interleaved, IPv4 first unless ip says IPv6 (a family
 * the strategy leaves out was not looked up): when one family cannot connect
 * (no IPv6 route, a firewalled IPv4 address) the other is the very next
 * try, and both fit in the queue's per-delivery address limit, as RFC
 * 8305 §4 interleaves a host's addresses. IPv4 leads, not IPv6 as RFC
 * 8305 prefers: a home or small server's IPv6 address often has no PTR
 * record and is not in its SPF record, and the big receivers refuse mail
 * over IPv6 from such a sender that they take over IPv4 (Stalwart's
 * ip-strategy offers ipv4_then_ipv6 for this). The host's addresses stay
 * together, so a less preferred exchanger's never come before all of a
 * better one's (RFC 5321 §5.1). Returns the new count.
 */
static size_t host_addrs(const struct mx_host *m, uint16_t port, enum dns_ip_strategy ip,
			 struct dns_addr *out, size_t n)
{
	size_t i6 = 0, i4 = 0;
	int six = ip == DNS_IP_V6_THEN_V4; /* whose turn it is */
	while (n < DNS_ADDRS_MAX && (i6 < m->n6 || i4 < m->n4)) {
		if (i4 == m->n4 || (six && i6 < m->n6))
			dns_addr_put(&out[n], m->name, AF_INET6, m->v6[i6++], port);
		else
			dns_addr_put(&out[n], m->name, AF_INET, m->v4[i4++], port);
		out[n++].pref = m->pref;
		six = !six;
	}
	return n;
}

static void addresses_done(struct dns_lookup *l)
{
	struct dns_addr *out = xmalloc(DNS_ADDRS_MAX * sizeof *out);
	size_t n = 0;
	char why[320];

	for (size_t h = 0; h < l->nhosts; h++)
		n = host_addrs(&l->hosts[h], l->port, l->ip, out, n);
	if (n) {
		finish(l, DNS_OK, out, n, "");
	} else {
		/* With one family only, say which: the other may exist. */
		const char *none = l->ip == DNS_IP_V4_ONLY   ? "no IPv4 address for"
				   : l->ip == DNS_IP_V6_ONLY ? "no IPv6 address for"
							     : "no address for";
		snprintf(why, sizeof why, "%s: %s", l->temp ? "DNS lookup failed" : none,
			 l->nhosts == 1 ? l->hosts[0].name : l->name);
		finish(l, l->temp ? DNS_TEMP : DNS_NOTFOUND, NULL, 0, why);
	}
	free(out);
}

static void addr_answer(void *arg, const struct dns_answer *a)
{
	struct addr_query *q = arg;
	struct dns_lookup *l = q->l;
	struct mx_host *h = &l->hosts[q->host];

	q->h = NULL;
	l->outstanding--;
	if (a->status == DNS_ANS_TEMP)
		l->temp = 1;
	for (size_t i = 0; a->status == DNS_ANS_OK && i < a->nrr; i++) {
		const struct dns_rr *rr = &a->rr[i];
		if (!q->v6 && rr->type == DNS_T_A && rr->len == 4 && h->n4 < DNS_ADDRS_MAX)
			memcpy(h->v4[h->n4++], a->data + rr->off, 4);
		else if (q->v6 && rr->type == DNS_T_AAAA && rr->len == 16 && h->n6 < DNS_ADDRS_MAX)
			memcpy(h->v6[h->n6++], a->data + rr->off, 16);
	}
	if (l->outstanding == 0 && l->cb)
		addresses_done(l);
	settle(l);
}

/* Whether the route's strategy wants addresses of that family. */
static int family_wanted(const struct dns_lookup *l, int v6)
{
	return v6 ? l->ip != DNS_IP_V4_ONLY : l->ip != DNS_IP_V6_ONLY;
}

static void query_addrs(struct dns_lookup *l)
{
	/* Count every lookup first: a cached answer calls back inside dns_query(). */
	int per_host = family_wanted(l, 0) + family_wanted(l, 1);
	l->outstanding += (int)l->nhosts * per_host;
	for (size_t i = 0; i < l->nhosts * 2; i++) {
		struct addr_query *q = &l->aq[i];
		*q = (struct addr_query){ .l = l, .host = (uint8_t)(i / 2), .v6 = (uint8_t)(i % 2) };
		if (!family_wanted(l, q->v6))
			continue; /* never asked: q->h stays NULL */
		q->h = dns_query(l->dns, l->hosts[i / 2].name, q->v6 ? DNS_T_AAAA : DNS_T_A,
				 addr_answer, q);
	}
}

static int host_cmp(const void *a, const void *b)
{
	const struct mx_host *x = a, *y = b;
	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return x->rnd < y->rnd ? -1 : x->rnd > y->rnd;
}

static void mx_answer(void *arg, const struct dns_answer *a)
{
	struct dns_lookup *l = arg;
	char why[320];

	l->mxq = NULL;
	l->outstanding--;
	if (a->status == DNS_ANS_NXDOMAIN) {
		snprintf(why, sizeof why, "domain %s does not exist", l->name);
		finish(l, DNS_NOTFOUND, NULL, 0, why);
	} else if (a->status == DNS_ANS_NODATA) {
		/* No MX: the domain is its own exchanger (RFC 5321 §5.1). */
		snprintf(l->hosts[0].name, sizeof l->hosts[0].name, "%s", l->name);
		l->nhosts = 1;
		query_addrs(l);
	} else if (a->status != DNS_ANS_OK) {
		snprintf(why, sizeof why, "MX lookup for %s failed: temporary DNS error", l->name);
		finish(l, DNS_TEMP, NULL, 0, why);
	} else {
		size_t n = 0;
		int null_mx = 0;
		for (size_t i = 0; i < a->nrr; i++) {
			const struct dns_rr *rr = &a->rr[i];
			const char *host = (const char *)a->data + rr->off;
			if (rr->type != DNS_T_MX)
				continue;
			if (host[0] == '\0') { /* the root: a null MX (RFC 7505) */
				null_mx = 1;
				continue;
			}
			if (rr->len >= sizeof l->hosts[0].name)
				continue;
			/* Past DNS_MX_MAX the least preferred host kept gives way
			 * to a more preferred one: the answer's order is the
			 * server's, and a domain with more exchangers than we
			 * keep must not lose its best ones to it. */
			struct mx_host *h = n < DNS_MX_MAX ? &l->hosts[n++] : NULL;
			if (h == NULL) {
				struct mx_host *worst = &l->hosts[0];
				for (size_t k = 1; k < n; k++)
					if (l->hosts[k].pref > worst->pref)
						worst = &l->hosts[k];
				if (rr->pref < worst->pref)
					h = worst;
			}
			if (h) {
				memcpy(h->name, host, rr->len);
				h->name[rr->len] = '\0';
				h->pref = rr->pref;
				if (getrandom(&h->rnd, sizeof h->rnd, GRND_NONBLOCK) != sizeof h->rnd)
					h->rnd = (uint32_t)rand();
			}
		}
		if (n == 0) {
			if (null_mx)
				snprintf(why, sizeof why, "domain %s does not accept mail (null MX)", l->name);
			else
				snprintf(why, sizeof why, "no usable MX for %s", l->name);
			finish(l, null_mx ? DNS_NULL_MX : DNS_NOTFOUND, NULL, 0, why);
		} else {
			qsort(l->hosts, n, sizeof l->hosts[0], host_cmp);
			l->nhosts = n;
			query_addrs(l);
		}
	}
	settle(l);
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

	/* An address literal needs no lookup ("[::1]" or "127.0.0.1"), nor
	 * does a mail domain that is one (RFC 5321 §5.1). */
	int lit = dns_route_literal(name, mx, port, &a);
	if (lit != 0) {
		if (lit > 0)
			cb(arg, DNS_OK, &a, 1, "");
		else
			cb(arg, DNS_NOTFOUND, NULL, 0, "no such address literal");
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
	l->ip = ip;
	l->starting = 1; /* a cached answer calls back at once: l must outlive it */
	snprintf(l->name, sizeof l->name, "%s", name);
	if (mx) {
		l->outstanding = 1;
		l->mxq = dns_query(d, l->name, DNS_T_MX, mx_answer, l);
	} else {
		snprintf(l->hosts[0].name, sizeof l->hosts[0].name, "%s", name);
		l->nhosts = 1;
		query_addrs(l);
	}
	l->starting = 0;
	if (l->cb == NULL) { /* answered from the cache (or failed) already */
		free(l);
		return NULL;
	}
	return l;
}
