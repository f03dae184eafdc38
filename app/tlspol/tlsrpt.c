/*
 * tlsrpt.c — RFC 8460's TXT record and JSON report. See tlsrpt.h.
 */
#include "tlspol/tlsrpt.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/json.h"
#include "tlspol/mta_sts.h"

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Adds the URI p[0..n) (white space trimmed) when it is mailto: or https:
 * and TLSRPT_RUA_MAX are not kept yet: RFC 8460 §3 sets no limit, and a
 * record naming more still wants its reports, as DMARC's rua= (RFC 7489
 * §6.2: a receiver MAY limit the URIs it sends to) gets them at the first
 * DMARC_DEST_MAX. */
static void add_uri(struct tlsrpt_record *r, const char *p, size_t n)
{
	while (n && is_wsp(*p))
		p++, n--;
	while (n && is_wsp(p[n - 1]))
		n--;
	int ok = (n > 7 && strncasecmp(p, "mailto:", 7) == 0) ||
		 (n > 8 && strncasecmp(p, "https://", 8) == 0);
	if (!ok || n > TLSRPT_URI_MAX || r->nrua == TLSRPT_RUA_MAX)
		return; /* another scheme, absurd, or past the ones kept: skipped (§3) */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] <= 32 || (unsigned char)p[i] >= 127)
			return;
	memcpy(r->rua[r->nrua], p, n);
	r->rua[r->nrua][n] = '\0';
	r->nrua++;
}

int tlsrpt_txt_parse(const char *p, size_t n, struct tlsrpt_record *r)
{
	size_t i = 0, field = 0;
	int have_rua = 0;

	memset(r, 0, sizeof *r);
	while (i < n) {
		while (i < n && is_wsp(p[i]))
			i++;
		if (i == n)
			break;
		size_t ks = i;
		while (i < n && p[i] != '=' && p[i] != ';')
			i++;
		if (i == n || p[i] != '=')
			return -1;
		size_t ke = i;
		while (ke > ks && is_wsp(p[ke - 1]))
			ke--;
		i++;
		size_t vs = i;
		while (i < n && p[i] != ';')
			i++;
		size_t ve = i;
		if (i < n)
			i++;
		while (vs < ve && is_wsp(p[vs]))
			vs++;
		while (ve > vs && is_wsp(p[ve - 1]))
			ve--;
		if (field++ == 0) {
			/* §3: "v=TLSRPTv1" first, exactly. */
			if (ke - ks != 1 || p[ks] != 'v' || ve - vs != 8 || memcmp(p + vs, "TLSRPTv1", 8) != 0)
				return -1;
		} else if (ke - ks == 3 && memcmp(p + ks, "rua", 3) == 0 && !have_rua) {
			have_rua = 1;
			size_t s = vs;
			for (size_t k = vs; k <= ve; k++)
				if (k == ve || p[k] == ',') {
					add_uri(r, p + s, k - s);
					s = k + 1;
				}
		}
	}
	return field > 0 && r->nrua > 0 ? 0 : -1;
}

int tlsrpt_txt_pick(const char *const *texts, size_t n, struct tlsrpt_record *r)
{
	const char *one = mta_sts_txt_only(texts, n, "v=TLSRPTv1");
	if (!one) {
		memset(r, 0, sizeof *r);
		return -1;
	}
	return tlsrpt_txt_parse(one, strlen(one), r);
}

static const char *const result_names[] = {
    "starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
    "certificate-not-trusted", "validation-failure",        "tlsa-invalid",
    "dnssec-invalid",          "dane-required",             "sts-policy-fetch-error",
    "sts-policy-invalid",      "sts-webpki-invalid",
};

const char *tlsrpt_result_name(enum tlsrpt_result r)
{
	return (size_t)r < sizeof result_names / sizeof result_names[0] ? result_names[r]
									 : "validation-failure";
}

const char *tlsrpt_policy_type_name(enum tlsrpt_policy_type t)
{
	return t == TLSRPT_STS ? "sts" : t == TLSRPT_TLSA ? "tlsa" : "no-policy-found";
}

/* An entry of p, other than the one at skip, of result r: its index, or -1. */
static long failure_of(const struct tlsrpt_policy *p, enum tlsrpt_result r, size_t skip)
{
	for (size_t i = p->nfailures; i-- > 0;)
		if (i != skip && p->failures[i].result == r)
			return (long)i;
	return -1;
}

struct tlsrpt_failure *tlsrpt_failure_add(struct tlsrpt_policy *p, enum tlsrpt_result r,
					  uint64_t n)
{
	size_t slot = p->nfailures;
	if (slot == TLSRPT_FAILURES_MAX) {
		long same = failure_of(p, r, TLSRPT_FAILURES_MAX);
		if (same >= 0) {
			p->failures[same].failed_session_count += n;
			return NULL;
		}
		/* The last entry whose type another entry shares gives way. */
		long into = -1;
		for (slot = TLSRPT_FAILURES_MAX; slot-- > 0;)
			if ((into = failure_of(p, p->failures[slot].result, slot)) >= 0)
				break;
		if (into < 0) { /* not with TLSRPT_FAILURES_MAX over the types */
			p->failures[TLSRPT_FAILURES_MAX - 1].failed_session_count += n;
			return NULL;
		}
		p->failures[into].failed_session_count += p->failures[slot].failed_session_count;
	} else {
		p->nfailures++;
	}
	struct tlsrpt_failure *x = &p->failures[slot];
	memset(x, 0, sizeof *x);
	x->result = r;
	x->failed_session_count = n;
	return x;
}

/* RFC 3339 date-time in UTC, as §4.4's examples ("2016-04-01T00:00:00Z"). */
static void datetime(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void policy_json(struct jw *w, const struct tlsrpt_policy *p)
{
	jw_obj_begin(w);
	jw_key(w, "policy");
	jw_obj_begin(w);
	jw_kstr(w, "policy-type", tlsrpt_policy_type_name(p->type));
	if (p->type != TLSRPT_NO_POLICY) {
		jw_key(w, "policy-string");
		jw_arr_begin(w);
		for (size_t i = 0; i < p->nstrings; i++)
			jw_str(w, p->strings[i]);
		jw_arr_end(w);
	}
	jw_kstr(w, "policy-domain", p->domain);
	if (p->type == TLSRPT_STS) {
		jw_key(w, "mx-host");
		jw_arr_begin(w);
		for (size_t i = 0; i < p->nmx; i++)
			jw_str(w, p->mx_hosts[i]);
		jw_arr_end(w);
	}
	jw_obj_end(w);
	jw_key(w, "summary");
	jw_obj_begin(w);
	jw_kuint(w, "total-successful-session-count", p->successful);
	jw_kuint(w, "total-failure-session-count", p->failed);
	jw_obj_end(w);
	if (p->nfailures) {
		jw_key(w, "failure-details");
		jw_arr_begin(w);
		for (size_t i = 0; i < p->nfailures; i++) {
			const struct tlsrpt_failure *f = &p->failures[i];
			jw_obj_begin(w);
			jw_kstr(w, "result-type", tlsrpt_result_name(f->result));
			/* A policy that could not be fetched has no MX and no
			 * session: the fields are left out rather than "", which
			 * is neither an address nor a host name. */
			if (f->sending_mta_ip[0])
				jw_kstr(w, "sending-mta-ip", f->sending_mta_ip);
			if (f->receiving_mx_hostname[0])
				jw_kstr(w, "receiving-mx-hostname", f->receiving_mx_hostname);
			if (f->receiving_ip[0])
				jw_kstr(w, "receiving-ip", f->receiving_ip);
			jw_kuint(w, "failed-session-count", f->failed_session_count);
			if (f->additional_information[0])
				jw_kstr(w, "additional-information", f->additional_information);
			if (f->failure_reason_code[0])
				jw_kstr(w, "failure-reason-code", f->failure_reason_code);
			jw_obj_end(w);
		}
		jw_arr_end(w);
	}
	jw_obj_end(w);
}

int tlsrpt_report_json(const struct tlsrpt_report *r, struct buf *out)
{
	struct jw w;
	char s[32], e[32];

	datetime(r->start, s);
	datetime(r->end, e);
	jw_init(&w, out);
	jw_obj_begin(&w);
	jw_kstr(&w, "organization-name", r->organization);
	jw_key(&w, "date-range");
	jw_obj_begin(&w);
	jw_kstr(&w, "start-datetime", s);
	jw_kstr(&w, "end-datetime", e);
	jw_obj_end(&w);
	jw_kstr(&w, "contact-info", r->contact);
	jw_kstr(&w, "report-id", r->report_id);
	jw_key(&w, "policies");
	jw_arr_begin(&w);
	for (size_t i = 0; i < r->npolicies && i < TLSRPT_POLICIES_MAX; i++)
		policy_json(&w, &r->policies[i]);
	jw_arr_end(&w);
	jw_obj_end(&w);
	return jw_failed(&w) ? -1 : 0;
}
