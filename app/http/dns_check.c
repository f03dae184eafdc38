/*
 * dns_check.c — c-ares lookups comparing published records with the ones
 * tern asks for. See dns_check.h.
 *
 * Comparison rules: MX, SRV and CNAME compare the target host (and the SRV
 * port), not priorities or weights, which users tune; TXT records compare
 * the whole text with white space squeezed, except DKIM keys, which
 * compare the p= tag. A record of the same kind with another value (an
 * MX to another host, a "v=spf1" with other terms) is "different".
 */
#include "http/dns_check.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

const char *dns_status_name(enum dns_check_status s)
{
	switch (s) {
	case DNS_CHECK_FOUND: return "found";
	case DNS_CHECK_MISSING: return "missing";
	case DNS_CHECK_DIFFERENT: return "different";
	default: return "error";
	}
}

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_ok;

static void ares_setup(void)
{
	ares_ok = ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS;
}

struct query {
	const struct admin_dns_record *rec;
	struct dns_result *res;
	int type;
	int done;
};

/* CNAME targets from a raw answer (c-ares has no CNAME parser). */
static void parse_cname(struct query *q, const unsigned char *abuf, int alen)
{
	if (alen < 12)
		return;
	int qd = abuf[4] << 8 | abuf[5], an = abuf[6] << 8 | abuf[7];
	const unsigned char *p = abuf + 12;
	for (int i = 0; i < qd; i++) {
		char *name;
		long len;
		if (ares_expand_name(p, abuf, alen, &name, &len) != ARES_SUCCESS)
			return;
		ares_free_string(name);
		p += len + 4;
		if (p > abuf + alen)
			return;
	}
	for (int i = 0; i < an; i++) {
		char *name, *target;
		long len;
		if (ares_expand_name(p, abuf, alen, &name, &len) != ARES_SUCCESS)
			return;
		ares_free_string(name);
		p += len;
		if (p + 10 > abuf + alen)
			return;
		int type = p[0] << 8 | p[1], rdlen = p[8] << 8 | p[9];
		p += 10;
		if (p + rdlen > abuf + alen)
			return;
		if (type == 5 && ares_expand_name(p, abuf, alen, &target, &len) == ARES_SUCCESS) {
			char v[300];
			snprintf(v, sizeof(v), "%s.", target);
			ares_free_string(target);
			dns_check_compare(q->rec, q->res, v);
		}
		p += rdlen;
	}
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct query *q = arg;
	char v[ADMIN_DNS_VALUE_MAX];
	(void)timeouts;

	q->done = 1;
	if (status == ARES_EDESTRUCTION || status == ARES_ETIMEOUT) {
		q->res->status = DNS_CHECK_ERROR;
		dns_check_note_found(q->res, "timeout");
		return;
	}
	if (status == ARES_ENODATA || status == ARES_ENOTFOUND) {
		q->res->status = DNS_CHECK_MISSING;
		return;
	}
	if (status != ARES_SUCCESS) {
		q->res->status = DNS_CHECK_ERROR;
		dns_check_note_found(q->res, ares_strerror(status));
		return;
	}
	q->res->status = DNS_CHECK_MISSING; /* until a record of its kind shows up */
	if (q->type == ns_t_mx) {
		struct ares_mx_reply *mx = NULL;
		if (ares_parse_mx_reply(abuf, alen, &mx) == ARES_SUCCESS) {
			for (struct ares_mx_reply *m = mx; m; m = m->next) {
				snprintf(v, sizeof(v), "%u %s.", m->priority, m->host);
				dns_check_compare(q->rec, q->res, v);
			}
			ares_free_data(mx);
		}
	} else if (q->type == ns_t_srv) {
		struct ares_srv_reply *srv = NULL;
		if (ares_parse_srv_reply(abuf, alen, &srv) == ARES_SUCCESS) {
			for (struct ares_srv_reply *s = srv; s; s = s->next) {
				snprintf(v, sizeof(v), "%u %u %u %s.", s->priority, s->weight, s->port,
					 s->host[0] ? s->host : "");
				dns_check_compare(q->rec, q->res, v);
			}
			ares_free_data(srv);
		}
	} else if (q->type == ns_t_txt) {
		struct ares_txt_ext *txt = NULL;
		if (ares_parse_txt_reply_ext(abuf, alen, &txt) == ARES_SUCCESS) {
			/* Chunks of one record are joined without separators (RFC 7208 §3.3). */
			size_t o = 0;
			v[0] = '\0';
			for (struct ares_txt_ext *t = txt; t; t = t->next) {
				if (t->record_start && o) {
					dns_check_compare(q->rec, q->res, v);
					o = 0;
					v[0] = '\0';
				}
				size_t n = t->length;
				if (n > sizeof(v) - 1 - o)
					n = sizeof(v) - 1 - o;
				memcpy(v + o, t->txt, n);
				o += n;
				v[o] = '\0';
			}
			if (o)
				dns_check_compare(q->rec, q->res, v);
			ares_free_data(txt);
		}
	} else {
		parse_cname(q, abuf, alen);
	}
}

static int rr_type(const char *t)
{
	if (strcmp(t, "MX") == 0)
		return ns_t_mx;
	if (strcmp(t, "SRV") == 0)
		return ns_t_srv;
	if (strcmp(t, "TXT") == 0)
		return ns_t_txt;
	return ns_t_cname;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void dns_check(const struct admin_dns *d, const char *servers, struct dns_result *res)
{
	struct query q[ADMIN_DNS_MAX];
	ares_channel ch;
	struct ares_options opt = { .timeout = 2000, .tries = 2 };

	memset(res, 0, sizeof(res[0]) * d->n);
	for (size_t i = 0; i < d->n; i++)
		res[i].status = DNS_CHECK_ERROR;
	pthread_once(&ares_once, ares_setup);
	if (!ares_ok || ares_init_options(&ch, &opt, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS) {
		log_warn("http", NULL, "event=dns_check_failed error=\"c-ares init\"");
		return;
	}
	if (servers && servers[0] && ares_set_servers_ports_csv(ch, servers) != ARES_SUCCESS)
		log_warn("http", NULL, "event=dns_check_servers_bad servers=%s", servers);
	for (size_t i = 0; i < d->n; i++) {
		q[i] = (struct query){ .rec = &d->rec[i], .res = &res[i], .type = rr_type(d->rec[i].type) };
		char name[sizeof(d->rec[i].name)];
		dns_check_canon(d->rec[i].name, name, sizeof(name));
		ares_query(ch, name, ns_c_in, q[i].type, on_answer, &q[i]);
	}
	uint64_t deadline = mono_ms() + DNS_CHECK_TIMEOUT_MS;
	for (;;) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		struct pollfd pfd[ARES_GETSOCK_MAXNUM];
		int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM), n = 0;
		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			/* Not c-ares's ARES_GETSOCK_WRITABLE: it shifts a signed 1
			 * by up to 31 places, undefined behaviour UBSan reports. */
			unsigned ub = (unsigned)bits;
			short ev = (short)((ub >> i & 1u ? POLLIN : 0) |
					   (ub >> (i + ARES_GETSOCK_MAXNUM) & 1u ? POLLOUT : 0));
			if (ev)
				pfd[n++] = (struct pollfd){ .fd = socks[i], .events = ev };
		}
		if (n == 0)
			break;
		uint64_t now = mono_ms();
		if (now >= deadline)
			break;
		struct timeval tv, *tvp, maxtv = { 1, 0 };
		tvp = ares_timeout(ch, &maxtv, &tv);
		int wait = (int)(tvp->tv_sec * 1000 + tvp->tv_usec / 1000);
		if ((uint64_t)wait > deadline - now)
			wait = (int)(deadline - now);
		int r = poll(pfd, (nfds_t)n, wait);
		if (r <= 0) {
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (int i = 0; i < n; i++)
			ares_process_fd(ch, (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) ? pfd[i].fd : ARES_SOCKET_BAD,
					(pfd[i].revents & POLLOUT) ? pfd[i].fd : ARES_SOCKET_BAD);
	}
	ares_destroy(ch); /* calls on_answer with ARES_EDESTRUCTION for the rest */
}
