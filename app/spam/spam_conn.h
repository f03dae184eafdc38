/*
 * spam_conn.h — the connection, envelope and authentication signals of a
 * message as spam rules (DESIGN.md §3b stages 1, 2 and 4): HELO sanity,
 * iprev, and the SPF, DKIM, DMARC and ARC results port 25's checks
 * computed (smtp/smtp_checks.c), plus a reply to mail the recipient sent.
 *
 * Design. A pure function of the results, so the whole table is unit
 * tested without DNS. Weights are small next to a blocklist listing or
 * the classifier: an authentication result alone rarely says spam (a
 * broken forwarder fails SPF) and a pass only says who sent it, not that
 * it is wanted. The names and weights:
 *   HELO_BARE_IP 2, HELO_IP_LITERAL 0.5, HELO_NOT_FQDN 1.5,
 *   HELO_OURS 3 (an outside client naming our host or a served domain),
 *   IPREV_NONE 1.5 (no PTR), IPREV_FAIL 1 (PTR does not lead back),
 *   SPF_FAIL 2, SPF_SOFTFAIL 0.5, SPF_PERMERROR 0.5, SPF_PASS -0.2,
 *   DKIM_FAIL 1, DKIM_PASS -0.2, DMARC_FAIL 1 (policy none),
 *   DMARC_QUARANTINE 2.5, DMARC_REJECT 3.5 (a failure the policy stage
 *   let through), DMARC_PASS -0.5,
 *   ARC_PASS -0.5, ARC_FAIL 0.5, REPLY_TO_SENT -4 (In-Reply-To or
 *   References names a Message-ID the recipient's server sent).
 * When the administrator vouched for the message's authentication (its
 * From domain is on the DMARC-tolerated list, or a trusted ARC sealer
 * saw it pass upstream), the SPF, DKIM and DMARC failures are what a
 * forwarder broke and do not count: ARC_TRUSTED -1 or DMARC_TOLERATED 0
 * is shown instead.
 */
#ifndef TERN_SPAM_SPAM_CONN_H
#define TERN_SPAM_SPAM_CONN_H

#include <stddef.h>

#include "spam/spam.h"

enum spam_auth { SPAM_AUTH_NONE, SPAM_AUTH_PASS, SPAM_AUTH_FAIL, SPAM_AUTH_SOFT, SPAM_AUTH_ERROR };

struct spam_conn_in {
	const char *helo;    /* as the client gave it */
	int helo_ours;       /* it names our host or a domain we serve */
	int has_iprev;
	int iprev;           /* enum iprev_result (auth/iprev.h) */
	enum spam_auth spf;  /* of MAIL FROM (SOFT: softfail, ERROR: permerror) */
	/* Signatures that authenticate the message (dkim_result_authenticates)
	 * and that fail; one under a key in testing mode (t=y) is neither. */
	size_t dkim_pass, dkim_fail;
	enum spam_auth dmarc;
	int dmarc_policy;    /* enum dmarc_policy of a failing message's record */
	enum spam_auth arc;
	int reply_to_sent;
	int arc_trusted;     /* a trusted sealer's chain showed a pass upstream */
	int tolerated;       /* the From domain is on the DMARC-tolerated list */
};

/* Adds the rules above that apply. Never fails. */
void spam_conn_rules(const struct spam_conn_in *in, struct spam_result *res);

/* 1 when helo is an IP address (bare, not in brackets). */
int spam_helo_bare_ip(const char *helo);

#endif
