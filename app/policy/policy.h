/*
 * policy.h — policy verdicts as data, and the message-level decision of
 * the authentication stage (DESIGN.md §3b stage 4).
 *
 * Design. A protocol command goes check -> policy (may wait) -> proceed.
 * A policy stage never writes a reply: it returns a struct verdict (SMTP
 * code, enhanced status code, text, log reason) that the protocol layer
 * renders (smtp/smtp_policy.c) and logs. The decision is a pure function
 * of the results and the administrator's exceptions, so its whole table
 * is unit-tested (tests/unit/test_policy.c) without DNS or a session.
 *
 * The authentication decision (policy_auth_decide), in order:
 *   0. From fields that name no single Author Domain but a second domain,
 *      or an address without one, beside one, or a second From field
 *      (auth_author_domain's -2): 550 5.7.1. DMARC has no result for them, so accepting would let a
 *      forged second address lift the policy of the domain a reader
 *      sees, and skip rule 4 for our own; RFC 7489 §6.6.1 says such mail
 *      is typically rejected.
 *   1. DMARC pass, or an Author Domain of ours with an aligned SPF or
 *      DKIM pass: accept.
 *   2. DMARC temperror (a DNS lookup failed that could change the
 *      outcome, or the SPF or DKIM check of an identifier that would
 *      align failed temporarily): 451 4.7.1, as OpenDMARC with Postfix
 *      does, so the sender retries rather than we guess, never a 550
 *      for a DNS error. Not when the record was read and a fail would
 *      get none (temp_moot) for a domain not ours: accepted, as a
 *      retry could not change what is done.
 *   3. the Author Domain is on the tolerated list, or a trusted ARC
 *      sealer's chain (cv=pass) shows a pass upstream for that same
 *      Author Domain (arc_trusted): accept (logged).
 *   4. an Author Domain we serve (the spoofing case): 550 5.7.1 whatever
 *      its record says, also when it publishes none: our own users send
 *      through submission, never unauthenticated on port 25.
 *   5. DMARC fail with disposition reject: 550 5.7.1 (RFC 9989 §4.10.1:
 *      refused in the SMTP transaction, never accepted and bounced);
 *      quarantine: delivered to each recipient's Junk mailbox with the
 *      $Junk keyword; none: accept.
 *   6. anything else (no record, permerror): accept.
 */
#ifndef TERN_POLICY_POLICY_H
#define TERN_POLICY_POLICY_H

#include <stddef.h>

#include "auth/dmarc.h"

/* A policy's answer: what the protocol layer says and logs. */
struct verdict {
	unsigned code;         /* SMTP reply code: 250, 451, 550, ... */
	const char *enhanced;  /* RFC 3463 enhanced status code: "5.7.1" */
	const char *text;      /* the reply's text (static) */
	const char *reason;    /* one key=value-safe word for the log (static) */
};

/* What to do with the message as a whole. */
enum policy_action {
	POLICY_ACCEPT,   /* deliver as planned (INBOX) */
	POLICY_JUNK,     /* deliver to each recipient's Junk mailbox */
	POLICY_REFUSE,   /* answer the verdict (4xx or 5xx), store nothing */
};

/* The results the decision needs (filled by the stage that ran them). */
struct policy_auth_in {
	enum dmarc_result dmarc;
	enum dmarc_policy disposition; /* dmarc_verdict.disposition (t=y lowered) */
	int from_ours;       /* the Author Domain is one of our served domains (or under one) */
	int own_aligned;     /* from_ours: an SPF or DKIM pass aligned with it (relaxed) */
	int tolerated;       /* the Author Domain is on the admin's tolerated list */
	int arc_override;    /* a trusted sealer's cv=pass chain showed a pass upstream */
	int from_ambiguous;  /* auth_author_domain() said -2 */
	int temp_moot;       /* dmarc_verdict.temp_moot: temperror, but a fail would get none */
};

struct policy_decision {
	enum policy_action action;
	struct verdict verdict; /* for POLICY_REFUSE; an informational 250 otherwise */
	const char *reason;     /* why (log word): "dmarc_pass", "dmarc_reject", ... */
};

/* The decision table above. Never fails. */
void policy_auth_decide(const struct policy_auth_in *in, struct policy_decision *out);

/*
 * Relaxed alignment of an authenticated domain with an Author Domain of
 * ours: equal, or one under the other (both lowercase, no trailing dot).
 * 1 or 0.
 */
int policy_domain_related(const char *a, const char *b);

/*
 * Whether domain is on a list of domains separated by commas, spaces or
 * line ends (the admin's setting; case-insensitive; an entry matches the
 * domain itself and its subdomains). 1 or 0.
 */
int policy_domain_listed(const char *list, const char *domain);

#endif
