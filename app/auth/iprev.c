/*
 * iprev.c — the iprev check (RFC 8601 §3). See iprev.h.
 */
#include "auth/iprev.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "dns/dns_drive.h"

struct iprev_eval {
	uint8_t ip[16];
	int ip6;
	char iptext[64];
	char qname[256];
	uint16_t qtype;
	char names[IPREV_NAMES_MAX][256];
	int nnames, next;   /* PTR names, and the next to resolve forward */
	int asked_ptr, temp, done;
	enum iprev_result result;
	char passed[256];
};

const char *iprev_result_name(enum iprev_result r)
{
	static const char *const n[] = { "pass", "fail", "temperror", "permerror" };
	return (unsigned)r < 4 ? n[r] : "permerror";
}

struct iprev_eval *iprev_eval_new(const char *ip)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t b[16];
	struct iprev_eval *e = xcalloc(1, sizeof *e);
	if (inet_pton(AF_INET, ip, b) == 1) {
		memcpy(e->ip, b, 4);
	} else if (inet_pton(AF_INET6, ip, b) == 1 && memcmp(b, mapped, 12) == 0) {
		memcpy(e->ip, b + 12, 4);
	} else if (inet_pton(AF_INET6, ip, b) == 1) {
		memcpy(e->ip, b, 16);
		e->ip6 = 1;
	} else {
		free(e);
		return NULL;
	}
	inet_ntop(e->ip6 ? AF_INET6 : AF_INET, e->ip, e->iptext, sizeof e->iptext);
	return e;
}

void iprev_eval_free(struct iprev_eval **e)
{
	free(*e);
	*e = NULL;
}

static void finish(struct iprev_eval *e, enum iprev_result r)
{
	e->done = 1;
	e->result = r;
}

int iprev_eval_step(struct iprev_eval *e, const char **name_r, uint16_t *type_r)
{
	if (e->done)
		return 0;
	if (!e->asked_ptr) {
		e->asked_ptr = 1;
		dns_reverse_name(e->ip, e->ip6, e->qname, sizeof e->qname);
		e->qtype = DNS_T_PTR;
	} else if (e->next < e->nnames) {
		snprintf(e->qname, sizeof e->qname, "%s", e->names[e->next++]);
		e->qtype = e->ip6 ? DNS_T_AAAA : DNS_T_A;
	} else {
		/* Every name was tried and none came back to the address. */
		finish(e, e->temp ? IPREV_TEMPERROR : IPREV_FAIL);
		return 0;
	}
	*name_r = e->qname;
	*type_r = e->qtype;
	return 1;
}

void iprev_eval_answer(struct iprev_eval *e, const struct dns_answer *a)
{
	if (e->done)
		return;
	if (e->qtype == DNS_T_PTR) {
		if (a->status == DNS_ANS_TEMP) {
			finish(e, IPREV_TEMPERROR);
			return;
		}
		for (size_t i = 0; a->status == DNS_ANS_OK && i < a->nrr && e->nnames < IPREV_NAMES_MAX; i++)
			if (a->rr[i].type == DNS_T_PTR && dns_rr_text(a, i)[0])
				snprintf(e->names[e->nnames++], sizeof e->names[0], "%s", dns_rr_text(a, i));
		if (e->nnames == 0)
			finish(e, IPREV_PERMERROR);
		return;
	}
	if (a->status == DNS_ANS_TEMP) {
		e->temp = 1;
		return;
	}
	size_t want = e->ip6 ? 16 : 4;
	for (size_t i = 0; a->status == DNS_ANS_OK && i < a->nrr; i++) {
		if (a->rr[i].type == e->qtype && a->rr[i].len == want &&
		    memcmp(a->data + a->rr[i].off, e->ip, want) == 0) {
			snprintf(e->passed, sizeof e->passed, "%s", e->qname);
			finish(e, IPREV_PASS);
			return;
		}
	}
}

void iprev_eval_abort(struct iprev_eval *e)
{
	if (!e->done)
		finish(e, IPREV_TEMPERROR);
}

enum iprev_result iprev_eval_result(const struct iprev_eval *e)
{
	return e->result;
}

const char *iprev_eval_name(const struct iprev_eval *e)
{
	return e->passed;
}

const char *iprev_eval_ip(const struct iprev_eval *e)
{
	return e->iptext;
}

static int step(void *ev, const char **name_r, uint16_t *type_r)
{
	return iprev_eval_step(ev, name_r, type_r);
}

static void answer(void *ev, const struct dns_answer *a)
{
	iprev_eval_answer(ev, a);
}

static const struct dns_drive_ops ops = { step, answer };

struct dns_drive *iprev_run(const struct dns_resolver *r, struct iprev_eval *e,
			    void (*done)(void *arg), void *arg)
{
	return dns_drive(r, &ops, e, done, arg);
}
