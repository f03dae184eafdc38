/*
 * auth_results.h — the results of one message's authentication checks
 * (iprev, SPF, DKIM, ARC, DMARC) as one struct,
 * the Authentication-Results field (RFC 8601) that shows them, and the
 * point where a message's DMARC result is known.
 *
 * Design. The SMTP stage (smtp/smtp_auth_stage.c) and `tern check auth`
 * fill a struct auth_results and render it with auth_results_field(), so
 * the field a user sees in a stored message and the one the command
 * prints come from one renderer. auth_results_observe() is called once
 * per message on port 25, after the policy decided and before the reply:
 * the one place consumers of the results hook into; today it counts the
 * message for the DMARC aggregate reports tern sends (report/dmarc_seen.h,
 * RFC 9990), with what was done to it (action).
 *
 * Caveats: pvalues (the MAIL FROM, HELO) that are not plain dot-atoms
 * are written as RFC 8601 quoted-strings; the field is folded before each
 * method so no line passes 998 octets for up to DKIM_VERIFY_SIGS_MAX
 * signatures.
 */
#ifndef TERN_AUTH_AUTH_RESULTS_H
#define TERN_AUTH_AUTH_RESULTS_H

#include <stddef.h>

#include "auth/arc.h"
#include "auth/dmarc.h"
#include "auth/iprev.h"
#include "auth/spf.h"
#include "core/buf.h"
#include "dkim/dkim_verify.h"

struct auth_results {
	const char *authserv_id;  /* TERN_HOSTNAME */
	const char *client_ip;    /* the connecting address (policy.iprev) */
	int has_iprev;
	enum iprev_result iprev;
	const char *iprev_name;   /* the validated name on pass, else NULL */
	int has_spf;
	enum spf_result spf;
	const char *mail_from;    /* the MAIL FROM address; "" for the null path */
	const char *helo;         /* the HELO name (the null path's SPF identity) */
	const char *spf_reason;
	const char *spf_domain;   /* the domain SPF checked (spf_eval_domain), or NULL */
	size_t ndkim;
	const struct dkim_sig_result *dkim[DKIM_VERIFY_SIGS_MAX + 1];
	const struct arc_result *arc; /* the chain validation, NULL when not run */
	const char *arc_trusted;      /* a trusted sealer whose AAR showed dmarc=pass, or NULL */
	enum dmarc_result dmarc;
	const char *header_from;  /* the Author Domain, "" when none */
	const struct dmarc_verdict *dmarc_verdict; /* NULL when DMARC did not run */
	/* The policy outcome (for the log and observers). */
	const char *action;       /* "accept", "junk", "reject", "tempfail" */
	const char *policy_reason;
};

/*
 * Appends "Authentication-Results: ...\r\n" (folded) for r to out.
 * 0, or -1 when out's ceiling was hit.
 */
int auth_results_field(const struct auth_results *r, struct buf *out);

/*
 * Appends the results as key=value pairs for a log record, each with a
 * leading space: " iprev=pass spf=pass dkim=pass,fail dmarc=pass
 * header_from=example.com action=accept policy=dmarc_pass".
 */
void auth_results_log(const struct auth_results *r, struct buf *out);

/* The message's DMARC result is known (see above). */
void auth_results_observe(const struct auth_results *r);

/*
 * The Author Domain (dmarc_author_domain) of the header section of
 * msg[0..len); "" when there is not exactly one From domain. Returns 0
 * with the domain; -1 when no From field names one; -2 when the author
 * is ambiguous: more than one From field, a From naming a second domain
 * or an address without one beside a domain, or a header section the
 * parser gave up on before its end (a From field may follow unread).
 */
int auth_author_domain(const char *msg, size_t len, char *out, size_t outsz);

/*
 * DMARC's DKIM inputs from a verifier's results: the d= of each signature
 * that authenticates (dkim_result_authenticates) into pass, and of each
 * whose result is temperror into temp, at most max of each. Sets *np and
 * *nt; the strings are the verifier's.
 */
void auth_dkim_for_dmarc(const struct dkim_verifier *v, const char **pass, size_t *np,
			 const char **temp, size_t *nt, size_t max);

#endif
