/*
 * spam_tally.h — the spam score of one message as data: every rule that
 * fired with its weight, their sum, the action the thresholds give, and
 * the X-Spam-Status / X-Spam-Result fields that show it.
 *
 * Design. Each signal source (the connection and envelope rules of
 * spam_conn.h, the DNS blocklists of spam_dnsbl.h, the lists of
 * spam_lists.h, the content analysis of spam.h) adds (name, weight)
 * pairs; nothing decides until all have spoken, so one score explains the
 * verdict and every rule is printed in the header and the log. A
 * decision of the administrator or the user (an allow-list or block-list
 * entry) is not a weight but a flag: allow beats every rule, whatever
 * the sum, and block rejects unless allow matched too.
 *
 * Caveats: at most SPAM_TALLY_RULES rules are kept; a further one still
 * counts in the score and is shown as "+N more" in the header. Names are
 * copied and cut to SPAM_RULE_NAME_MAX - 1 bytes; they should be
 * [A-Z0-9_] so they need no quoting in a header or a log.
 */
#ifndef TERN_SPAM_SPAM_TALLY_H
#define TERN_SPAM_SPAM_TALLY_H

#include <stddef.h>

struct buf;

#define SPAM_TALLY_RULES 48
#define SPAM_RULE_NAME_MAX 48

struct spam_hit {
	char name[SPAM_RULE_NAME_MAX];
	double weight;
};

struct spam_tally {
	double score;
	size_t n;        /* hits kept */
	size_t dropped;  /* hits past SPAM_TALLY_RULES (counted in score) */
	int allowed;     /* an allow-list entry matched: ham, whatever the score */
	int blocked;     /* a block-list entry matched: reject (unless allowed) */
	int trap;        /* sent to a spam trap: spam by definition */
	struct spam_hit hit[SPAM_TALLY_RULES];
};

enum spam_action {
	SPAM_HAM,     /* deliver as planned */
	SPAM_JUNK,    /* tag and deliver to each recipient's Junk */
	SPAM_REJECT,  /* 550 before the 250 */
	SPAM_DISCARD, /* accept and store nothing (off unless a threshold is set) */
};

/* The administrator's thresholds; a threshold <= 0 is off (never reached). */
struct spam_thresholds {
	double junk, reject, discard;
};

/* Adds a hit (weight 0 allowed: shown, counts nothing). Never fails. */
void spam_tally_add(struct spam_tally *t, const char *name, double weight);
/* The hit named name, or NULL. */
const struct spam_hit *spam_tally_find(const struct spam_tally *t, const char *name);

/*
 * The action: allowed -> HAM; blocked -> REJECT; else the highest
 * threshold the score reaches among discard, reject, junk, except that
 * a message to a spam trap is JUNK (accepted: a refusal would tell the
 * sender which address is the trap).
 */
enum spam_action spam_tally_action(const struct spam_tally *t, const struct spam_thresholds *th);
/* "ham", "junk", "reject", "discard". */
const char *spam_action_name(enum spam_action a);

/*
 * Appends the two header fields, each ending in CRLF, folded at about 78
 * columns:
 *   X-Spam-Status: Yes, score=7.50 required=6.00 action=junk
 *   X-Spam-Result: score=7.50; RBL_BL_TEST=5.00, SPF_FAIL=1.00, ...
 * ("No" below the junk threshold). 0, or -1 when out refused (its max).
 */
int spam_tally_fields(const struct spam_tally *t, const struct spam_thresholds *th,
		      enum spam_action a, struct buf *out);
/* Appends " spam=ACTION spam_score=N spam_rules=A,B,..." for a log record. 0 or -1. */
int spam_tally_log(const struct spam_tally *t, enum spam_action a, struct buf *out);

#endif
