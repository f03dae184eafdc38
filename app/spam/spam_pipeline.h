/*
 * spam_pipeline.h — what the delivery pipeline does with a spam result
 * (spam.h) beyond the score: the decisions that are not weights, and the
 * rendering of the verdict as header fields and log pairs.
 *
 * Design. Every signal source adds (name, weight) rules to one struct
 * spam_result: the content analysis (spam_analyse), the connection and
 * authentication rules (spam_conn.h), the DNS blocklists (spam_dnsbl.h).
 * A decision of the administrator or the user is not a weight but a
 * flag (struct spam_flags): an allow-list entry makes the message ham
 * whatever the sum, a block-list entry rejects it unless allow matched
 * too, a spam trap's message is accepted into Junk (a refusal would tell
 * the sender which address is the trap), and a message to the
 * postmaster is never refused (RFC 5321 §4.5.1): Junk at worst.
 */
#ifndef TERN_SPAM_SPAM_PIPELINE_H
#define TERN_SPAM_SPAM_PIPELINE_H

#include "spam/spam.h"

struct buf;

struct spam_flags {
	int allowed;    /* an allow-list entry matched */
	int blocked;    /* a block-list entry matched */
	int trap;       /* sent to a spam trap */
	int postmaster; /* the postmaster is a recipient */
};

/* Sets and returns res->verdict from the score, th and f (above). */
enum spam_verdict spam_pipeline_decide(struct spam_result *res, const struct spam_thresholds *th,
				       const struct spam_flags *f);

/*
 * Appends the two header fields, each ending in CRLF, folded at about 78
 * columns:
 *   X-Spam-Status: Yes, score=7.50 required=5.00 action=spam
 *   X-Spam-Result: score=7.50; RBL_BL_TEST=5.00, SPF_FAIL=1.00, ...
 * ("No" for ham; " allow-listed" after the action when f->allowed).
 * 0, or -1 when out refused (its max).
 */
int spam_pipeline_fields(const struct spam_result *res, const struct spam_thresholds *th,
			 const struct spam_flags *f, struct buf *out);
/* Appends " spam=VERDICT spam_score=N spam_rules=A,B,..." for a log record. 0 or -1. */
int spam_pipeline_log(const struct spam_result *res, struct buf *out);
/*
 * The score as Sieve's spamtest sees it (RFC 5235 §3.2): 1 (surely not
 * spam: under a fifth of the tag threshold, or allow-listed) up to 10
 * (at or over the reject threshold), 5..9 from tag to reject. Never 0
 * ("not tested"): the caller passes 0 itself when the filter did not run.
 */
int spam_pipeline_spamtest(const struct spam_result *res, const struct spam_thresholds *th,
			   const struct spam_flags *f);

/* The rule named name in res, or NULL. */
const struct spam_rule *spam_pipeline_rule(const struct spam_result *res, const char *name);

#endif
