/*
 * policy_auth.c — the authentication stage's decision table (policy.h).
 */
#include "policy/policy.h"

#include <string.h>
#include <strings.h>

static const struct verdict v_accept = {250, "2.0.0", "Ok", "accepted"};
static const struct verdict v_temp = {451, "4.7.1",
				      "Authentication checks could not complete (DNS), try again later",
				      "dmarc_temperror"};
static const struct verdict v_reject = {550, "5.7.1",
					"Message rejected: the sender's domain refuses unauthenticated mail (DMARC)",
					"dmarc_reject"};
static const struct verdict v_spoof = {550, "5.7.1",
				       "Message rejected: unauthenticated mail from a domain of this server",
				       "own_domain_unauthenticated"};
static const struct verdict v_ambiguous = {550, "5.7.1",
					   "Message rejected: the From field must name one author domain",
					   "from_ambiguous"};

static void set(struct policy_decision *out, enum policy_action a, const struct verdict *v,
		const char *reason)
{
	out->action = a;
	out->verdict = *v;
	out->reason = reason;
}

void policy_auth_decide(const struct policy_auth_in *in, struct policy_decision *out)
{
	if (in->from_ambiguous) {
		set(out, POLICY_REFUSE, &v_ambiguous, v_ambiguous.reason);
		return;
	}
	if (in->dmarc == DMARC_RESULT_PASS) {
		set(out, POLICY_ACCEPT, &v_accept, "dmarc_pass");
		return;
	}
	if (in->from_ours && in->own_aligned) {
		set(out, POLICY_ACCEPT, &v_accept, "own_domain_aligned");
		return;
	}
	if (in->dmarc == DMARC_RESULT_TEMPERROR && (!in->temp_moot || in->from_ours)) {
		set(out, POLICY_REFUSE, &v_temp, v_temp.reason);
		return;
	}
	if (in->tolerated) {
		set(out, POLICY_ACCEPT, &v_accept, "dmarc_tolerated");
		return;
	}
	if (in->arc_override) {
		set(out, POLICY_ACCEPT, &v_accept, "arc_trusted");
		return;
	}
	if (in->from_ours) {
		set(out, POLICY_REFUSE, &v_spoof, v_spoof.reason);
		return;
	}
	if (in->dmarc == DMARC_RESULT_FAIL) {
		if (in->disposition == DMARC_POLICY_REJECT) {
			set(out, POLICY_REFUSE, &v_reject, v_reject.reason);
			return;
		}
		if (in->disposition == DMARC_POLICY_QUARANTINE) {
			set(out, POLICY_JUNK, &v_accept, "dmarc_quarantine");
			return;
		}
		set(out, POLICY_ACCEPT, &v_accept, "dmarc_fail_none");
		return;
	}
	set(out, POLICY_ACCEPT, &v_accept,
	    in->dmarc == DMARC_RESULT_PERMERROR	    ? "dmarc_permerror"
	    : in->dmarc == DMARC_RESULT_TEMPERROR ? "dmarc_temperror_policy_none"
						    : "dmarc_none");
}

/* b is a or a subdomain of it. */
static int under(const char *b, const char *a)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la == 0 || lb < la || strcasecmp(b + lb - la, a) != 0)
		return 0;
	return lb == la || b[lb - la - 1] == '.';
}

int policy_domain_related(const char *a, const char *b)
{
	if (!a || !b || !*a || !*b)
		return 0;
	return under(a, b) || under(b, a);
}

int policy_domain_listed(const char *list, const char *domain)
{
	char entry[256];
	if (!list || !domain || !*domain)
		return 0;
	for (const char *p = list; *p;) {
		while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		size_t n = 0;
		while (p[n] && p[n] != ',' && p[n] != ' ' && p[n] != '\t' && p[n] != '\r' && p[n] != '\n')
			n++;
		if (n > 0 && n < sizeof entry) {
			memcpy(entry, p, n);
			entry[n] = '\0';
			if (entry[n - 1] == '.')
				entry[n - 1] = '\0';
			if (under(domain, entry))
				return 1;
		}
		p += n;
	}
	return 0;
}
