/*
 * smtp_spam.h — port 25's spam stage (DESIGN.md §3b): the client's
 * address against the IP blocklists from the connect on (stage 1), the
 * recipients' lists at RCPT (stage 3), and at the end of DATA, after the
 * authentication checks, one score over every signal (app/spam/), then
 * its decision: 550 before the 250, greylisting's 451, delivery to Junk
 * or the INBOX with X-Spam-Status / X-Spam-Result prepended, or discard.
 *
 * Submission never comes here: authenticated mail is never scored.
 */
#ifndef TERN_SMTP_SMTP_SPAM_H
#define TERN_SMTP_SMTP_SPAM_H

#include <stddef.h>
#include <stdint.h>

#include "spam/spam_conn.h"

struct smtp_session;
struct smtp_tx;

/* Connect (port 25, checks on): starts the IP blocklist lookups. */
void smtp_spam_connect(struct smtp_session *s);
/* The session is freed: cancels them. */
void smtp_spam_session_free(struct smtp_session *s);
/* The transaction ends: frees the message's stage. */
void smtp_spam_tx_free(struct smtp_tx *tx);

/*
 * RCPT accepted for ids[0..n) through address addr (postmaster: it was
 * the postmaster address): a recipient whose spam policy (its lists, a
 * trap) differs from the transaction's first gets 452 4.5.3 and comes
 * back in a transaction of its own (DESIGN.md §3b). A transaction with
 * the postmaster among its recipients is never refused for spam (Junk at
 * worst). 0, or -1 after replying.
 */
int smtp_spam_rcpt(struct smtp_session *s, const char *addr, const uint32_t *ids, size_t n,
		   int postmaster);

/*
 * End of DATA, after the authentication decision let the message in:
 * scores it with in (the results) and author (the From domain, may be
 * ""), then delivers with fields plus the spam fields (junk: the
 * authentication stage already chose Junk), or replies the refusal.
 */
void smtp_spam_message(struct smtp_session *s, const struct spam_conn_in *in, const char *author,
		       const char *fields, int junk);

#endif
