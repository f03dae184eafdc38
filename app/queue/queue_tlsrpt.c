/*
 * queue_tlsrpt.c — TLS outcomes of the queue as TLS-RPT data
 * (queue_tlsrpt.h).
 */
#include "queue/queue_tlsrpt.h"

#include <arpa/inet.h>
#include <bearssl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/loop.h"
#include "net/client.h"
#include "queue/smtp_client.h"
#include "report/tlsrpt_seen.h"
#include "tlspol/dane.h"

#define POLICY_TEXT_MAX sizeof(((struct queue_tlsrpt_row *)0)->policy)

enum tlsrpt_result queue_tlsrpt_cert_result(int e)
{
	switch (e) {
	case BR_ERR_X509_EXPIRED:
		return TLSRPT_CERTIFICATE_EXPIRED;
	case BR_ERR_X509_BAD_SERVER_NAME:
		return TLSRPT_CERTIFICATE_HOST_MISMATCH;
	case BR_ERR_X509_NOT_TRUSTED:
		return TLSRPT_CERTIFICATE_NOT_TRUSTED;
	default:
		/* DANE_ERR_NO_MATCH and the rest: no closer type in §4.3. */
		return TLSRPT_VALIDATION_FAILURE;
	}
}

static void ip_text(const struct sockaddr_storage *sa, char out[48])
{
	out[0] = '\0';
	if (!sa)
		return;
	if (sa->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, 48);
	else if (sa->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, 48);
}

/* The policy's type and strings (§4.4 "policy-string") into text. */
static enum tlsrpt_policy_type policy_text(const struct queue_tlsrpt_pol *p, char *text, size_t sz)
{
	size_t n = 0;
	text[0] = '\0';
	if (p->dane) {
		for (size_t i = 0; i < p->ntlsa; i++) {
			const struct tlsa_rec *r = &p->tlsa[i];
			int k = snprintf(text + n, sz - n, "%s%u %u %u ", n ? "\n" : "", r->usage,
					 r->selector, r->mtype);
			if (k < 0 || (size_t)k >= sz - n)
				break;
			n += (size_t)k;
			for (size_t j = 0; j < r->len && n + 3 < sz; j++)
				n += (size_t)snprintf(text + n, sz - n, "%02x", r->data[j]);
		}
		return TLSRPT_TLSA;
	}
	if (p->sts && p->sts->mode != MTA_STS_NONE) {
		int k = snprintf(text, sz, "version: STSv1\nmode: %s", mta_sts_mode_name(p->sts->mode));
		n = k > 0 && (size_t)k < sz ? (size_t)k : 0;
		for (size_t i = 0; i < p->sts->nmx; i++) {
			k = snprintf(text + n, sz - n, "\nmx: %s", p->sts->mx[i]);
			if (k < 0 || (size_t)k >= sz - n)
				break;
			n += (size_t)k;
		}
		snprintf(text + n, sz - n, "\nmax_age: %u", (unsigned)p->sts->max_age);
		return TLSRPT_STS;
	}
	if (p->sts_failed)
		return TLSRPT_STS;
	return TLSRPT_NO_POLICY;
}

static void row_note(const struct queue_tlsrpt_row *w, int64_t now)
{
	if (w->type != TLSRPT_NO_POLICY && w->policy[0]) {
		struct tlsrpt_seen_sess ps = {.domain = w->domain, .type = w->type, .policy = w->policy};
		tlsrpt_seen_note(&ps, now);
	}
	struct tlsrpt_seen_sess s = {.domain = w->domain, .type = w->type, .ok = w->ok,
				     .result = w->result, .mx = w->mx, .ip = w->ip, .info = w->info,
				     .sending_ip = w->sending_ip};
	tlsrpt_seen_note(&s, now);
}

static void note(const struct queue_tlsrpt_pol *p, int ok, enum tlsrpt_result r, const char *mx,
		 const struct sockaddr_storage *sa, const char *info, struct queue_tlsrpt_row *row_r)
{
	struct queue_tlsrpt_row local, *w = row_r ? row_r : &local;
	memset(w, 0, sizeof *w);
	w->set = 1;
	w->ok = ok;
	w->result = r;
	w->type = policy_text(p, w->policy, sizeof w->policy);
	snprintf(w->domain, sizeof w->domain, "%s", p->domain);
	snprintf(w->mx, sizeof w->mx, "%s", mx ? mx : "");
	ip_text(sa, w->ip);
	snprintf(w->info, sizeof w->info, "%s", info ? info : "");
	snprintf(w->sending_ip, sizeof w->sending_ip, "%s", p->sending_ip ? p->sending_ip : "");
	row_note(w, time_wall());
}

void queue_tlsrpt_replay(const struct queue_tlsrpt_row *row)
{
	if (row->set)
		row_note(row, time_wall());
}

void queue_tlsrpt_session(const struct queue_tlsrpt_pol *p, const char *mx,
			  const struct sockaddr_storage *ip, int tls_outcome, int tls_err,
			  struct queue_tlsrpt_row *row_r)
{
	if (row_r)
		row_r->set = 0;
	switch (tls_outcome) {
	case SMTPC_TLS_OK:
		note(p, 1, 0, mx, ip, NULL, row_r);
		return;
	case SMTPC_TLS_NOT_OFFERED:
		note(p, 0, TLSRPT_STARTTLS_NOT_SUPPORTED, mx, ip, NULL, row_r);
		return;
	case SMTPC_TLS_FAILED:
		if (tls_err > BR_ERR_X509_OK && tls_err < BR_ERR_X509_OK + 64)
			note(p, 0, queue_tlsrpt_cert_result(tls_err), mx, ip,
			     client_tls_error_text(tls_err), row_r);
		else
			note(p, 0, TLSRPT_VALIDATION_FAILURE, mx, ip, "TLS handshake failed", row_r);
		return;
	default:
		return; /* no TLS outcome to tell */
	}
}

void queue_tlsrpt_failure(const struct queue_tlsrpt_pol *p, enum tlsrpt_result r, const char *mx,
			  const struct sockaddr_storage *ip, const char *info,
			  struct queue_tlsrpt_row *row_r)
{
	note(p, 0, r, mx, ip, info, row_r);
}
