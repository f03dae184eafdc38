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

#define POLICY_TEXT_MAX 1000

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
	return TLSRPT_NO_POLICY;
}

static void note(const struct queue_tlsrpt_pol *p, int ok, enum tlsrpt_result r, const char *mx,
		 const struct sockaddr_storage *sa, const char *info)
{
	char pol[POLICY_TEXT_MAX], ip[48];
	int64_t now = time_wall();
	enum tlsrpt_policy_type t = policy_text(p, pol, sizeof pol);
	ip_text(sa, ip);
	if (t != TLSRPT_NO_POLICY) {
		struct tlsrpt_seen_sess ps = {.domain = p->domain, .type = t, .policy = pol};
		tlsrpt_seen_note(&ps, now);
	}
	struct tlsrpt_seen_sess s = {.domain = p->domain, .type = t, .ok = ok, .result = r,
				     .mx = mx, .ip = ip, .info = info ? info : "",
				     .sending_ip = p->sending_ip ? p->sending_ip : ""};
	tlsrpt_seen_note(&s, now);
}

void queue_tlsrpt_session(const struct queue_tlsrpt_pol *p, const char *mx,
			  const struct sockaddr_storage *ip, int tls_outcome, int tls_err)
{
	switch (tls_outcome) {
	case SMTPC_TLS_OK:
		note(p, 1, 0, mx, ip, NULL);
		return;
	case SMTPC_TLS_NOT_OFFERED:
		note(p, 0, TLSRPT_STARTTLS_NOT_SUPPORTED, mx, ip, NULL);
		return;
	case SMTPC_TLS_FAILED:
		if (tls_err > BR_ERR_X509_OK && tls_err < BR_ERR_X509_OK + 64)
			note(p, 0, queue_tlsrpt_cert_result(tls_err), mx, ip,
			     client_tls_error_text(tls_err));
		else
			note(p, 0, TLSRPT_VALIDATION_FAILURE, mx, ip, "TLS handshake failed");
		return;
	default:
		return; /* no TLS outcome to tell */
	}
}

void queue_tlsrpt_failure(const struct queue_tlsrpt_pol *p, enum tlsrpt_result r, const char *mx,
			  const struct sockaddr_storage *ip, const char *info)
{
	note(p, 0, r, mx, ip, info);
}
