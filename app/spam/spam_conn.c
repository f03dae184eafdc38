/*
 * spam_conn.c — connection and authentication results as rules
 * (spam_conn.h).
 */
#include <arpa/inet.h>
#include <string.h>

#include "auth/dmarc.h"
#include "auth/iprev.h"
#include "spam/spam_conn.h"

int spam_helo_bare_ip(const char *helo)
{
	unsigned char a[16];
	return inet_pton(AF_INET, helo, a) == 1 || inet_pton(AF_INET6, helo, a) == 1;
}

static void helo_rules(const struct spam_conn_in *in, struct spam_tally *t)
{
	const char *h = in->helo ? in->helo : "";
	if (spam_helo_bare_ip(h))
		spam_tally_add(t, "HELO_BARE_IP", 2);
	else if (h[0] == '[')
		spam_tally_add(t, "HELO_IP_LITERAL", 0.5);
	else if (!strchr(h, '.'))
		spam_tally_add(t, "HELO_NOT_FQDN", 1.5);
	else if (in->helo_ours)
		spam_tally_add(t, "HELO_OURS", 3);
}

void spam_conn_rules(const struct spam_conn_in *in, struct spam_tally *t)
{
	helo_rules(in, t);
	if (in->has_iprev && in->iprev == IPREV_PERMERROR)
		spam_tally_add(t, "IPREV_NONE", 1.5);
	else if (in->has_iprev && in->iprev == IPREV_FAIL)
		spam_tally_add(t, "IPREV_FAIL", 1);

	switch (in->spf) {
	case SPAM_AUTH_PASS: spam_tally_add(t, "SPF_PASS", -0.2); break;
	case SPAM_AUTH_FAIL: spam_tally_add(t, "SPF_FAIL", 2); break;
	case SPAM_AUTH_SOFT: spam_tally_add(t, "SPF_SOFTFAIL", 0.5); break;
	case SPAM_AUTH_ERROR: spam_tally_add(t, "SPF_PERMERROR", 0.5); break;
	default: break;
	}
	if (in->dkim_pass)
		spam_tally_add(t, "DKIM_PASS", -0.2);
	else if (in->dkim_fail)
		spam_tally_add(t, "DKIM_FAIL", 1);

	if (in->dmarc == SPAM_AUTH_PASS)
		spam_tally_add(t, "DMARC_PASS", -0.5);
	else if (in->dmarc == SPAM_AUTH_FAIL && in->dmarc_policy == DMARC_POLICY_REJECT)
		spam_tally_add(t, "DMARC_REJECT", 3.5);
	else if (in->dmarc == SPAM_AUTH_FAIL && in->dmarc_policy == DMARC_POLICY_QUARANTINE)
		spam_tally_add(t, "DMARC_QUARANTINE", 2.5);
	else if (in->dmarc == SPAM_AUTH_FAIL)
		spam_tally_add(t, "DMARC_FAIL", 1);

	if (in->arc == SPAM_AUTH_PASS)
		spam_tally_add(t, "ARC_PASS", -0.5);
	else if (in->arc == SPAM_AUTH_FAIL)
		spam_tally_add(t, "ARC_FAIL", 0.5);
	if (in->reply_to_sent)
		spam_tally_add(t, "REPLY_TO_SENT", -4);
}
