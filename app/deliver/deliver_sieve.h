/*
 * deliver_sieve.h — stage 5 of the delivery pipeline for Sieve: the
 * recipient account's active script runs over the message and its
 * result becomes the account's plan (DESIGN.md §3b).
 *
 * What is carried out today: keep and fileinto "INBOX" (the INBOX, which
 * overrides a Junk default: an explicit choice), fileinto "Junk" or
 * fileinto :specialuse "\\Junk" (the Junk mailbox), fileinto of any
 * other name (the plan names the mailbox; the store resolves it, and
 * with :create creates it, in the commit, or falls back to the INBOX),
 * one copy per mailbox named by keep, fileinto (:copy too) and the
 * implicit keep (the first is the plan's own, the others its further
 * copies), discard (no copy), reject/ereject when alone, vacation,
 * redirect (the caller's, see struct deliver_sieve_out), duplicate's
 * memory, notify by mailto (sent after the commit), and the flags of
 * each keep/fileinto (imap4flags) as that copy's keywords, and
 * editheader (RFC 5293): the header the script left becomes this
 * account's own copy (deliver_plan.own_header; Received and
 * Auto-Submitted cannot be deleted, nor the fields delivery prepends:
 * the script reads those, sieve_env.head, but they stay the server's).
 * vacation and notify give their :from only
 * when the account owns it as port 587 judges a From (smtp_submit_owned:
 * its address, +tags, aliases; no display name showing another), else
 * the recipient's address (logged event=sieve_from_refused); each of
 * their messages counts against the account's share of
 * TERN_FORWARD_RATE (forward.h), past which it is not sent (logged
 * event=sieve_action_skipped action=vacation|notify reason=rate; the
 * delivery is not affected). When an
 * action that
 * is not carried out would have replaced the implicit keep (a redirect
 * refused, a reject not alone), the copy goes to the INBOX: mail is
 * never lost to a script. A script that fails (does
 * not compile, a run-time error) leaves the plan as it was and is
 * logged (event=sieve_failed): an error never changes the verdict.
 *
 * Caveats: runs on the calling thread (a loop at end of DATA); a run is
 * bounded by SIEVE_STEPS_MAX and the header/body byte limits.
 */
#ifndef TERN_DELIVER_DELIVER_SIEVE_H
#define TERN_DELIVER_DELIVER_SIEVE_H

#include "core/arena.h"
#include "core/str.h"
#include "deliver/deliver.h"

/*
 * What a run decided besides the account's plan (deliver_sieve_plan
 * fills it; the caller carries it out):
 *   after      what follows the commit, a chain (vacation's reply,
 *              duplicate's ids): deliver_sieve_reply_send() after a
 *              commit that stored the message, else
 *              deliver_sieve_reply_free();
 *   reject     with may_reject, the reason of a reject/ereject (one line
 *              of printable ASCII, from a), the plan then discarded;
 *   redirects  the addresses a redirect sends the message to (from a),
 *              in the script's order, after the loop, self and rate
 *              checks: the caller delivers local ones to their accounts
 *              and forwards outside ones (forward/forward_copy.h, SRS
 *              and ARC), in the message's commit. A redirect not carried
 *              out (a loop: our Delivered-To for env_to in the message;
 *              to env_to itself; TERN_FORWARD_RATE reached for env_to)
 *              is logged (event=sieve_redirect_skipped) and the copy
 *              goes to the INBOX when nothing else keeps it.
 */
#define DELIVER_SIEVE_REDIRECTS_MAX 4 /* = SIEVE_REDIRECTS_MAX */
struct deliver_sieve_out {
	struct deliver_sieve_reply *after;
	const char *reject;
	const char *redirects[DELIVER_SIEVE_REDIRECTS_MAX];
	/* redirect-dsn (RFC 6009 §5), per redirect: :notify as
	 * DELIVER_NOTIFY_* bits (0: not given), :ret as 1 FULL, -1 HDRS,
	 * 0 not given. */
	unsigned redirect_notify[DELIVER_SIEVE_REDIRECTS_MAX];
	int redirect_ret[DELIVER_SIEVE_REDIRECTS_MAX];
	/* redirect-deliverby (RFC 6009 §5), per redirect: DELIVER_BY* bits
	 * (0: not given) and the deadline (seconds since the epoch). */
	unsigned redirect_by[DELIVER_SIEVE_REDIRECTS_MAX];
	int64_t redirect_by_deadline[DELIVER_SIEVE_REDIRECTS_MAX];
	unsigned nredirects;
	/* Per redirect, what it carries (RFC 5293 §5): the message as the
	 * scripts had edited it when the redirect ran (editheader, replace,
	 * enclose; the global script's edits included), contiguous in the
	 * arena; redirects run at one point share one pointer. p NULL: as
	 * received. */
	struct str redirect_msg[DELIVER_SIEVE_REDIRECTS_MAX];
};
#define DELIVER_BY 1u        /* a deadline was given */
#define DELIVER_BY_RETURN 2u /* R mode ("return"), else N ("notify") */
#define DELIVER_BY_TRACE 4u
#define DELIVER_NOTIFY_NEVER 1u /* = SQ_NOTIFY_* (store_queue.h) */
#define DELIVER_NOTIFY_SUCCESS 2u
#define DELIVER_NOTIFY_FAILURE 4u
#define DELIVER_NOTIFY_DELAY 8u

/* The DSN parameters of the transaction that reached the account
 * (envelope-dsn, RFC 6009 §3): as struct sieve_env's dsn_* (empty:
 * absent). */
struct deliver_sieve_dsn {
	struct str notify, orcpt, ret, envid;
	/* envelope-deliverby (RFC 6009 §4): MAIL's BY= as DELIVER_BY* bits
	 * (0: none) and its deadline (seconds since the epoch). */
	unsigned by;
	int64_t by_deadline;
	/* environment (RFC 5183 §4.1): the SMTP client's address and the
	 * name iprev verified for it; empty when unknown. */
	struct str remote_ip, remote_host;
	/* envelope "auth" (RFC 4954 §5's AUTH= identity): the address of the
	 * account that signed in and submitted the message; empty for mail
	 * from port 25, whose AUTH= nobody vouches for. */
	struct str auth;
};

/*
 * Applies the active script of plan->account (if any) to plan. msg is
 * the message as received; head the fields the store puts in front of it
 * (deliver.h's delivery.head: Return-Path, our Received, the stages'
 * fields), which the script reads before msg's own with the plan's
 * own_fields after them, as the stored copy has them; env_from the MAIL FROM (empty for <>), env_to
 * the RCPT TO that reached the account, dsn its DSN parameters (NULL:
 * none). spam_score is what the spamtest
 * and spamtestplus tests see (RFC 5235: 1..10, 0 = not tested): the spam
 * stage's hook; virus_score what virustest sees (RFC 5235 §3.3: 1
 * clean, 0 not scanned): clamd's verdict. Keywords are allocated from a,
 * which must live as long as the plan. session names the log lines.
 * out is zeroed first.
 *
 * may_reject: the caller can refuse the message for this account alone
 * (one recipient, DESIGN.md §3b): a reject/ereject then sets out->reject
 * and the plan to discard; without it a reject is not carried out and
 * the copy goes to the INBOX.
 */
struct deliver_sieve_reply;
void deliver_sieve_plan(struct store *st, struct deliver_plan *plan, struct str msg,
                        struct str head, struct str env_from, struct str env_to, int spam_score,
                        int virus_score, struct arena *a, const char *session, int may_reject,
                        const struct deliver_sieve_dsn *dsn,
                        struct deliver_sieve_out *out);

/* 1 when the account's active script can reject (it, or a script it
 * includes by a constant name, RFC 6609, requires "reject" or "ereject";
 * the global script's likewise): RCPT answers a later recipient 452
 * 4.5.3 so that each such account comes back in a transaction of its
 * own. */
int deliver_sieve_may_reject(struct store *st, uint32_t account);

/*
 * What follows the commit (out->after, NULL when nothing): a vacation
 * reply (RFC 5230's rules of sieve_vacation.h, then the account's memory
 * of replies to this sender), notifications (RFC 5436: none about an
 * automatic message) and the ids duplicate tests saw (RFC 7352).
 * After the message's commit the caller runs the chain:
 * deliver_sieve_reply_send() records each entry in the account's memory
 * (the reply for the action's :days/:seconds, an id for its :seconds),
 * unless the commit did (deliver_sieve_reply_seen below), and submits a
 * reply to the outbound queue from the null sender (RFC 5230 §5); it
 * frees the chain when done. When the message was not
 * stored, the caller frees it with deliver_sieve_reply_free() instead
 * (NULL is fine): an id is remembered only for a message delivered.
 */
void deliver_sieve_reply_send(struct store *st, struct deliver_sieve_reply *r, struct loop *loop,
                              const char *session, int remembered);
/*
 * The memory entries of the chain r (one per entry with a :days,
 * :seconds or an id to keep), the first max of them into out; returns
 * how many there are. The caller may give them to the message's own
 * commit (struct delivery.seen) and then pass remembered = 1 (when
 * delivery.seen_stored) to deliver_sieve_reply_send(), which otherwise
 * records each with a write of its own (store_sieve_seen_put: a commit
 * and flush, on the calling thread).
 */
size_t deliver_sieve_reply_seen(const struct deliver_sieve_reply *r, struct store_seen *out,
                                size_t max);
/* The memory entries of n chains (NULL ones skipped) as d->seen/d->nseen,
 * allocated in a: how port 25 and the queue give them to the commit. */
void deliver_sieve_seen_attach(struct delivery *d, struct deliver_sieve_reply *const *chains,
                               size_t n, struct arena *a);
void deliver_sieve_reply_free(struct deliver_sieve_reply *r);

#endif
