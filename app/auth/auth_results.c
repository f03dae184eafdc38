/*
 * auth_results.c — the Authentication-Results field (RFC 8601), the log
 * pairs and the observation point of auth_results.h.
 */
#include "auth/auth_results.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "mime/rfc5322.h"
#include "report/dmarc_seen.h"

#define FROM_FIELDS_MAX 8

/*
 * An RFC 8601 pvalue: as it is when it is a dot-atom address or name
 * (atext, ".", at most one "@"), else as a quoted-string, so a MAIL FROM
 * with a quoted local part cannot break the field's syntax.
 */
static int put_pvalue(struct buf *b, const char *v)
{
	static const char special[] = "!#$%&'*+-/=?^_`{|}~.@";
	int plain = *v != '\0', r = 0;
	for (const char *p = v; *p && plain; p++)
		plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			strchr(special, *p) != NULL;
	if (plain && strchr(v, '@') == strrchr(v, '@'))
		return buf_append(b, v, strlen(v));
	r |= buf_append(b, "\"", 1);
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			r |= buf_append(b, "\\", 1);
		if ((unsigned char)*p >= 0x20 && *p != 0x7f)
			r |= buf_append(b, p, 1);
	}
	r |= buf_append(b, "\"", 1);
	return r;
}

/*
 * header.b (RFC 6008 §4): the first 8 characters of the signature's b=,
 * more when another signature of the message starts the same, so that
 * two signatures with one d= and s= (a relay that signs again, a key
 * rotation's overlap) each get their own result. Base64's "/" and "="
 * are tspecials, which a token cannot hold: a quoted-string then.
 */
static int put_header_b(struct buf *out, const struct auth_results *r, size_t i)
{
	const char *b = r->dkim[i]->b;
	size_t blen = strlen(b), n = blen < 8 ? blen : 8;

	for (size_t k = 0; k < r->ndkim; k++) {
		const char *o = r->dkim[k]->b;
		if (k == i || strcmp(o, b) == 0)
			continue; /* the same b= twice is one signature copied */
		while (n < blen && strncmp(o, b, n) == 0)
			n++;
	}
	int quote = strcspn(b, "/=") < n;
	return buf_printf(out, " header.b=%s%.*s%s", quote ? "\"" : "", (int)n, b, quote ? "\"" : "");
}

int auth_results_field(const struct auth_results *r, struct buf *out)
{
	int e = 0;
	e |= buf_printf(out, "Authentication-Results: %s", r->authserv_id);
	if (r->has_iprev) {
		/* An IPv6 address has ":", which a token cannot: quoted then. */
		e |= buf_printf(out, ";\r\n\tiprev=%s policy.iprev=", iprev_result_name(r->iprev));
		e |= put_pvalue(out, r->client_ip ? r->client_ip : "");
	}
	if (r->has_spf) {
		/* The null path's check was of the HELO identity (RFC 7208 §2.4): say so. */
		int null_path = !r->mail_from || !*r->mail_from;
		e |= buf_printf(out, ";\r\n\tspf=%s %s=", spf_result_name(r->spf),
				null_path ? "smtp.helo" : "smtp.mailfrom");
		e |= put_pvalue(out, null_path ? (r->helo ? r->helo : "") : r->mail_from);
	}
	if (r->ndkim == 0)
		e |= buf_printf(out, ";\r\n\tdkim=none");
	for (size_t i = 0; i < r->ndkim; i++) {
		const struct dkim_sig_result *s = r->dkim[i];
		e |= buf_printf(out, ";\r\n\tdkim=%s", dkim_result_name(s->result));
		/* A property's value is never empty (RFC 8601 §2.2): a
		 * signature without a usable s= names its d= alone. */
		if (s->d[0])
			e |= buf_printf(out, " header.d=%s", s->d);
		if (s->d[0] && s->s[0])
			e |= buf_printf(out, " header.s=%s", s->s);
		if (s->b[0])
			e |= put_header_b(out, r, i);
	}
	if (r->arc) {
		e |= buf_printf(out, ";\r\n\t");
		e |= arc_authres_append(r->arc, r->client_ip, out);
	}
	if (r->dmarc_verdict) {
		e |= buf_printf(out, ";\r\n\tdmarc=%s", dmarc_result_name(r->dmarc));
		/* The sender's text (a domain literal may hold ";"): a pvalue. */
		if (r->header_from && r->header_from[0]) {
			e |= buf_printf(out, " header.from=");
			e |= put_pvalue(out, r->header_from);
		}
		/* policy.dmarc is the policy "applied/to be applied after
		 * policy options including pct: ... have been processed" (RFC
		 * 7489 §11.2's registration): on a fail, the disposition t=y or
		 * a pct= sample lowered, not the one published. */
		const struct dmarc_verdict *dv = r->dmarc_verdict;
		if (r->dmarc == DMARC_RESULT_PASS || r->dmarc == DMARC_RESULT_FAIL)
			e |= buf_printf(out, " policy.dmarc=%s",
					dmarc_policy_name(r->dmarc == DMARC_RESULT_FAIL ? dv->disposition
											: dv->policy));
	}
	e |= buf_printf(out, "\r\n");
	return e ? -1 : 0;
}

void auth_results_log(const struct auth_results *r, struct buf *out)
{
	if (r->has_iprev)
		buf_printf(out, " iprev=%s", iprev_result_name(r->iprev));
	if (r->has_spf)
		buf_printf(out, " spf=%s", spf_result_name(r->spf));
	buf_printf(out, " dkim=");
	if (r->ndkim == 0)
		buf_printf(out, "none");
	for (size_t i = 0; i < r->ndkim; i++)
		buf_printf(out, "%s%s", i ? "," : "", dkim_result_name(r->dkim[i]->result));
	if (r->arc)
		buf_printf(out, " arc=%s", arc_cv_name(r->arc->cv));
	if (r->arc_trusted)
		buf_printf(out, " arc_trusted=%s", r->arc_trusted);
	if (r->dmarc_verdict) {
		buf_printf(out, " dmarc=%s", dmarc_result_name(r->dmarc));
		if (r->dmarc == DMARC_RESULT_PASS || r->dmarc == DMARC_RESULT_FAIL)
			buf_printf(out, " dmarc_policy=%s", dmarc_policy_name(r->dmarc_verdict->policy));
	}
	if (r->header_from && r->header_from[0]) {
		char q[2 * DMARC_DOMAIN_MAX + 8];
		buf_printf(out, " header_from=%s", log_q(r->header_from, q, sizeof q));
	}
	if (r->action)
		buf_printf(out, " action=%s", r->action);
	if (r->policy_reason)
		buf_printf(out, " policy=%s", r->policy_reason);
}

void auth_results_observe(const struct auth_results *r)
{
	/* DMARC aggregate reports (RFC 9990): what was done with the message.
	 * A 451 is not counted: the sender retries, and that try counts. */
	if (!r->dmarc_verdict || !r->action || strcmp(r->action, "tempfail") == 0)
		return;
	struct dmarc_seen_dkim dk[DKIM_VERIFY_SIGS_MAX];
	size_t nd = 0;
	for (size_t i = 0; i < r->ndkim && nd < DKIM_VERIFY_SIGS_MAX; i++)
		if (r->dkim[i]->d[0])
			dk[nd++] = (struct dmarc_seen_dkim){r->dkim[i]->d, r->dkim[i]->s,
							   dkim_result_name(r->dkim[i]->result)};
	int null_path = !r->mail_from || !*r->mail_from;
	const char *at = null_path ? NULL : strrchr(r->mail_from, '@');
	struct dmarc_verdict v = *r->dmarc_verdict;
	v.result = r->dmarc;
	struct dmarc_seen_msg m = {
	    .verdict = &v,
	    .source_ip = r->client_ip ? r->client_ip : "",
	    .envelope_from = null_path ? (r->helo ? r->helo : "") : at ? at + 1 : r->mail_from,
	    .spf_domain = r->spf_domain ? r->spf_domain : "",
	    .spf_scope = null_path ? "helo" : "mfrom",
	    .spf_result = r->has_spf ? spf_result_name(r->spf) : "none",
	    .dkim = dk,
	    .ndkim = nd,
	    .applied = strcmp(r->action, "junk") == 0     ? "quarantine"
		       : strcmp(r->action, "reject") == 0 ? "reject"
							  : "none",
	};
	/* Not what the Domain Owner's policy asked: say why (RFC 9990
	 * PolicyOverrideType). The policy lowered by t=y or left out by an
	 * old pct= sample is its test mode; a trusted ARC sealer's pass is a
	 * trusted forwarder; a tolerated domain, or our own domain refused
	 * whatever its record says, the local policy. */
	const char *asked = v.result == DMARC_RESULT_FAIL ? dmarc_policy_name(v.policy) : "none";
	if (strcmp(m.applied, asked) != 0)
		m.reason = r->policy_reason && strcmp(r->policy_reason, "arc_trusted") == 0
			       ? "trusted_forwarder"
		           : v.result == DMARC_RESULT_FAIL && (v.testing || v.sampled_out) &&
				     strcmp(m.applied, dmarc_policy_name(v.disposition)) == 0
			       ? "policy_test_mode"
			       : "local_policy";
	dmarc_seen_note(&m, time_wall());
}

int auth_author_domain(const char *msg, size_t len, char *out, size_t outsz)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	struct str vals[FROM_FIELDS_MAX];
	char *copies[FROM_FIELDS_MAX];
	size_t n = 0, off = 0, used;
	int r, too_many = 0;

	rfc5322_init(&p);
	while ((r = rfc5322_parse(&p, msg + off, len - off, 1, &used, &f)) == RFC5322_FIELD) {
		off += used;
		if (!str_eq_ci_c(f.name, "From"))
			continue;
		if (n == FROM_FIELDS_MAX) {
			too_many = 1;
			continue;
		}
		copies[n] = xmalloc(f.value.len + 1);
		vals[n] = str_make(copies[n], rfc5322_unfold(f.value, copies[n]));
		n++;
	}
	rfc5322_clear(&p);
	/* A field past the parser's limits stops it: the From fields after it
	 * go unread here, not by a reader's client. A second From field
	 * (RFC 5322 §3.6 allows one) is ambiguous even with one domain: a
	 * signature vouches for the lower one (RFC 6376 §5.4.2), a client
	 * shows either. */
	int rc = r < 0 || too_many || n > 1 ? -2 : dmarc_author_domain(vals, n, out, outsz);
	if (rc != 0)
		out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		free(copies[i]);
	return rc;
}

void auth_dkim_for_dmarc(const struct dkim_verifier *v, const char **pass, size_t *np,
			 const char **temp, size_t *nt, size_t max)
{
	size_t n = dkim_verifier_count(v);
	*np = *nt = 0;
	for (size_t i = 0; i < n; i++) {
		const struct dkim_sig_result *r = dkim_verifier_result(v, i);
		if (dkim_result_authenticates(r) && *np < max)
			pass[(*np)++] = r->d;
		else if (r->result == DKIM_RESULT_TEMPERROR && r->d[0] && *nt < max)
			temp[(*nt)++] = r->d;
	}
}
