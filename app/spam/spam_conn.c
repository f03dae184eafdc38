/*
 * spam_conn.c — connection and authentication results as rules
 * (spam_conn.h).
 */
#include <arpa/inet.h>
#include <string.h>

#include "auth/dmarc.h"
#include "auth/iprev.h"
#include "spam/spam_conn.h"

static void add(struct spam_result *t, const char *name, double w, const char *desc)
{
	spam_result_add_desc(t, name, w, desc);
}

int spam_helo_bare_ip(const char *helo)
{
	unsigned char a[16];
	return inet_pton(AF_INET, helo, a) == 1 || inet_pton(AF_INET6, helo, a) == 1;
}

static void helo_rules(const struct spam_conn_in *in, struct spam_result *t)
{
	const char *h = in->helo ? in->helo : "";
	if (spam_helo_bare_ip(h))
		add(t, "HELO_BARE_IP", 2, "HELO is a bare IP address");
	else if (h[0] == '[')
		add(t, "HELO_IP_LITERAL", 0.5, "HELO is an address literal");
	else if (!strchr(h, '.'))
		add(t, "HELO_NOT_FQDN", 1.5, "HELO is not a fully qualified name");
	else if (in->helo_ours)
		add(t, "HELO_OURS", 3, "HELO claims our own name");
}

void spam_conn_rules(const struct spam_conn_in *in, struct spam_result *t)
{
	helo_rules(in, t);
	if (in->has_iprev && in->iprev == IPREV_PERMERROR)
		add(t, "IPREV_NONE", 1.5, "the client's address has no PTR record");
	else if (in->has_iprev && in->iprev == IPREV_FAIL)
		add(t, "IPREV_FAIL", 1, "the client's PTR name does not lead back to it");

	int vouched = in->arc_trusted || in->tolerated;
	if (in->arc_trusted)
		add(t, "ARC_TRUSTED", -1, "a trusted ARC sealer saw it pass upstream");
	else if (in->tolerated)
		add(t, "DMARC_TOLERATED", 0, "the From domain's DMARC failures are tolerated");
	switch (vouched && in->spf != SPAM_AUTH_PASS ? SPAM_AUTH_NONE : in->spf) {
	case SPAM_AUTH_PASS: add(t, "SPF_PASS", -0.2, "SPF pass for the envelope sender"); break;
	case SPAM_AUTH_FAIL: add(t, "SPF_FAIL", 2, "SPF fail for the envelope sender"); break;
	case SPAM_AUTH_SOFT: add(t, "SPF_SOFTFAIL", 0.5, "SPF softfail for the envelope sender"); break;
	case SPAM_AUTH_ERROR: add(t, "SPF_PERMERROR", 0.5, "the sender's SPF record is broken"); break;
	default: break;
	}
	if (in->dkim_pass)
		add(t, "DKIM_PASS", -0.2, "a valid DKIM signature");
	else if (in->dkim_fail && !vouched)
		add(t, "DKIM_FAIL", 1, "a DKIM signature that does not verify");

	if (in->dmarc == SPAM_AUTH_PASS)
		add(t, "DMARC_PASS", -0.5, "DMARC pass");
	else if (vouched)
		; /* failures explained above */
	else if (in->dmarc == SPAM_AUTH_FAIL && in->dmarc_policy == DMARC_POLICY_REJECT)
		add(t, "DMARC_REJECT", 3.5, "DMARC fail, the domain asks to reject");
	else if (in->dmarc == SPAM_AUTH_FAIL && in->dmarc_policy == DMARC_POLICY_QUARANTINE)
		add(t, "DMARC_QUARANTINE", 2.5, "DMARC fail, the domain asks to quarantine");
	else if (in->dmarc == SPAM_AUTH_FAIL)
		add(t, "DMARC_FAIL", 1, "DMARC fail, policy none");

	if (in->arc == SPAM_AUTH_PASS)
		add(t, "ARC_PASS", -0.5, "a valid ARC chain");
	else if (in->arc == SPAM_AUTH_FAIL)
		add(t, "ARC_FAIL", 0.5, "a broken ARC chain");
	if (in->reply_to_sent)
		add(t, "REPLY_TO_SENT", -4, "a reply to a message the recipient sent");
}
