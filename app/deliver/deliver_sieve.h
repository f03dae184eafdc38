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
 * copies), discard (no copy), reject/ereject when alone, vacation, and
 * the flags of each keep/fileinto (imap4flags) as that copy's keywords.
 * Not carried out yet, each logged as event=sieve_action_skipped:
 * redirect, notify, editheader, duplicate tracking. When an action that
 * is not carried out would have replaced the implicit keep (a redirect,
 * a reject not alone), the copy goes to the INBOX: mail is never lost to
 * a script. A script that fails (does
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
 * Applies the active script of plan->account (if any) to plan. msg is
 * the message as received; env_from the MAIL FROM (empty for <>), env_to
 * the RCPT TO that reached the account. Keywords are allocated from a,
 * which must live as long as the plan. session names the log lines.
 */
struct deliver_sieve_reply;
/*
 * may_reject: the caller can refuse the message for this account alone
 * (one recipient, DESIGN.md §3b): a reject/ereject then sets *reject_r to
 * the reason (one line, printable ASCII, from a) and the plan to discard;
 * without it a reject is not carried out and the copy goes to the INBOX.
 */
void deliver_sieve_plan(struct store *st, struct deliver_plan *plan, struct str msg,
                        struct str env_from, struct str env_to, struct arena *a,
                        const char *session, struct deliver_sieve_reply **reply_r,
                        int may_reject, const char **reject_r);

/* 1 when the account's active script can reject (requires "reject" or
 * "ereject"): RCPT answers a later recipient 452 4.5.3 so that each such
 * account comes back in a transaction of its own. */
int deliver_sieve_may_reject(struct store *st, uint32_t account);

/*
 * A vacation reply decided by deliver_sieve_plan() (*reply_r, NULL when
 * none is due: RFC 5230's rules of sieve_vacation.h, then the account's
 * memory of replies to this sender). After the message's commit the
 * caller sends it: deliver_sieve_reply_send() records the reply in the
 * account's memory for the action's :days/:seconds and submits it to
 * the outbound queue from the null sender (RFC 5230 §5); it frees the
 * reply when done. When the message was not stored, the caller frees it
 * with deliver_sieve_reply_free() instead (NULL is fine).
 */
void deliver_sieve_reply_send(struct store *st, struct deliver_sieve_reply *r, struct loop *loop,
                              const char *session);
void deliver_sieve_reply_free(struct deliver_sieve_reply *r);

#endif
