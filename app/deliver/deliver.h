/*
 * deliver.h — the one local-delivery entry (DESIGN.md §3b): every message
 * that ends up in a local mailbox goes through deliver_submit(): inbound
 * SMTP (smtp/smtp_tx.c), the local copies of submitted mail and the
 * "delivered" notices (queue/queue.c, queue_notify.c through
 * queue_submit), and the scheduler's failure and delay notices
 * (queue/queue_sched.c).
 *
 * Design. The stages of §3b decide; this module carries out what they
 * decided, in one store commit:
 *   1-4. connect, EHLO/MAIL, RCPT, end of DATA (the protocol's policy
 *        stages: SPF, DKIM, DMARC, iprev, later spam) give a message
 *        verdict and the header fields to prepend (Return-Path,
 *        Authentication-Results): struct delivery.head;
 *   5.   per recipient account, a plan: which mailbox by role (the INBOX,
 *        or Junk for a DMARC quarantine; later the spam verdict) or by
 *        name (Sieve fileinto, resolved in the commit), keywords, further
 *        copies (fileinto :copy), or discard: struct deliver_plan. Later
 *        stages (spam -> Junk, Sieve fileinto, Sieve redirect) fill in
 *        these plans and need no path of their own;
 *   6.   one group commit of every copy (the store writer), with the
 *        caller's transaction hook (the outbound queue's entry, a notice)
 *        in the same commit;
 *   7.   done() runs after the commit: only then may the caller promise
 *        durability (SMTP 250).
 * The bytes stored are head + the message, with every incoming
 * Authentication-Results field that claims our authserv-id removed (RFC
 * 8601 §5: only we may speak for us) and, with an authserv_id, every
 * incoming spam filter verdict field (X-Spam-*, X-Spamd-*, X-Rspamd-*,
 * ...: the spam stage's verdict is in head) and every Return-Path the
 * sender wrote (RFC 5321 §4.4: the final delivery's is in head); identical bytes share one
 * blob however many accounts get them, so head must not name a recipient.
 *
 * The work linear in the size (the copy with the head, or with
 * data_spool head written in front of data in place, its blob id, the
 * MIME structure record kept with the email) runs on the worker pool for
 * messages over WORKER_MESSAGE_BYTES, inline otherwise.
 *
 * Copies of one plan become one email in several mailboxes when their
 * keywords agree (store.h, struct store_target).
 *
 * Encryption at rest (crypt/crypt_rest.h): the copies of an account that
 * has set a public key are its stored bytes sealed to that key, a blob
 * of their own, made in the same linear step (after every stage has read
 * the message); the key is read from the store when the delivery starts.
 *
 * Caveats: plans for the same account twice store two copies: the caller
 * resolves recipients to distinct accounts. Discarded plans are dropped
 * before the store sees them; a delivery whose plans are all discarded
 * and that has no hook completes with STORE_OK and stores nothing.
 */
#ifndef TERN_DELIVER_DELIVER_H
#define TERN_DELIVER_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/spool.h"
#include "core/str.h"
#include "core/worker.h"
#include "store/store.h"

struct loop;

/* Longest head (the fields we prepend): Return-Path and one
 * Authentication-Results with up to 16 DKIM results fit easily. */
#define DELIVER_HEAD_MAX 16384

/* A further copy into the same account (Sieve fileinto :copy, or
 * several fileinto): where it goes, as store_target. */
struct deliver_copy {
	enum store_target_role folder;
	const char *mailbox; /* non-NULL: by name (store_target.mailbox) */
	int create;
	const char *keywords;
	/* Not empty: this copy's own header (a whole header section), on the
	 * plan's own_body, a blob of its own: a Sieve script's edits after
	 * the plan's own copy was filed, or before this one (RFC 5293 §5).
	 * Empty: the plan's bytes. The caller's, as data. */
	struct str own_header;
};

/* What one recipient account gets (stage 5). */
struct deliver_plan {
	uint32_t account;
	enum store_target_role folder; /* STORE_TARGET_INBOX or STORE_TARGET_JUNK */
	const char *mailbox;           /* non-NULL: the mailbox by name instead (store.h) */
	int create;                    /* with mailbox: created if missing */
	const char *keywords;          /* space-separated ("$Junk"), or NULL */
	const struct deliver_copy *more; /* further copies in the account (not when discard) */
	size_t nmore;
	int discard;                   /* 1: no copy for this account */
	const char *envelope;          /* MAIL FROM and the RCPT TO lines that reached it, or NULL */
	/* Sieve editheader (deliver_sieve.h): when own_header is not empty,
	 * this account's copies (the further ones too, unless they have
	 * their own) are own_header (a whole header section, its empty line
	 * included) then own_body, composed with head as data is, a blob of
	 * their own; the other accounts still share data's. own_body is set
	 * too when only a further copy has its own header. Both the
	 * caller's, as data. */
	struct str own_header, own_body;
	/* Header fields for this account only (its own spam verdict when the
	 * recipients' models disagreed, smtp_spam.c), each ending in CRLF,
	 * after head: when not empty, this account's copies are a blob of
	 * their own as with own_header. The caller's, as data. */
	struct str own_fields;
};

struct deliver_own; /* deliver.c */

struct delivery {
	/* Input: the caller's, unchanged until done() runs. */
	struct str data;         /* the message as received (CRLF lines) */
	struct str head;         /* header fields to prepend, each ending in CRLF; may be empty */
	const char *authserv_id; /* non-NULL: incoming Authentication-Results claiming it are removed */
	struct deliver_plan *plans;
	size_t nplans;
	int64_t received_at;     /* seconds since the epoch */
	int quota_check;         /* as store_delivery.quota_check (port 25: 1) */
	const char *spam_from;   /* as store_delivery.spam_from (port 25's filter), or NULL */
	/* Optional, passed to the store as they are (store.h): the hook runs
	 * in the same write transaction as the copies. */
	int (*txn_hook)(struct store *st, void *txn, struct store_delivery *d);
	int (*txn_once)(struct store *st, void *txn, struct store_delivery *d);
	void *hook_arg;
	size_t hook_len;
	int keep_always;
	/* Optional: the finished spool data lies in, with room in front of
	 * it (spool_reserve_front). When head fits before data there and
	 * nothing is to be removed from data, the stored message is head
	 * written in place in front of data (spool_front_put), not a copy
	 * of both: for a big message that is one pass over its bytes and
	 * one file of its size fewer. The octets before data that head
	 * covers are put back before done() runs; till then the caller
	 * does not read them. */
	struct spool *data_spool;
	/* Optional: Sieve's memory to record with the message, in its commit
	 * (store_delivery.seen); the caller's until done() runs. Only when
	 * there is a copy to store: see seen_stored. */
	const struct store_seen *seen;
	size_t nseen;
	/* Completion, once, on loop after the commit (NULL: on the thread
	 * that finished the work: the writer or a worker). */
	struct loop *loop;
	void (*done)(struct delivery *dl, void *arg);
	void *arg;
	/* Optional: once, before done, the same way, when the commit is
	 * written but not yet flushed (store_delivery.applied: a killed
	 * process keeps it, a power cut may not). Not when it failed, nor
	 * when nothing went to the store. */
	void (*applied)(struct delivery *dl, void *arg);

	/* Output, valid in done(). */
	int result;       /* as store_delivery.result; STORE_ETEMP also when the copy failed */
	size_t len;       /* bytes of the stored message (head included) */
	size_t copies;    /* copies planned (discards excluded, further copies counted) */
	uint32_t first_account, first_email; /* the first copy stored (0, 0: none) */
	int seen_stored;  /* 1: seen was recorded in the commit (result STORE_OK with copies) */

	/* Private. */
	struct store *st_;
	struct worker_job wj_;
	struct store_delivery sd_;
	struct spool msg_;
	struct buf meta_;
	uint32_t *accounts_;
	uint32_t *email_ids_;
	struct store_target *targets_;
	const char **envelopes_;
	/* per plan (plans with own_header or encryption), then per further
	 * copy (those with own_header): nown_ of them */
	struct deliver_own *own_;
	size_t nown_;
};

/*
 * Builds the stored message and commits every plan (and the hook) in one
 * group commit; done() is always called exactly once, possibly before
 * this returns (no store writer thread, nothing to store). Thread-safe.
 * Everything private is freed before done() runs, so done may free dl.
 */
void deliver_submit(struct store *st, struct delivery *dl);

/*
 * The stored bytes: initialises out (no budget peer) and appends head,
 * then data without the Authentication-Results fields that claim
 * authserv_id, spam filters' verdict fields and Return-Path fields
 * (authserv_id NULL: all kept). 0, or -1 when the spool refused (out must be
 * spool_free()d either way). Linear in the size.
 */
int deliver_compose(struct spool *out, struct str head, struct str data, const char *authserv_id);

/*
 * data as deliver_compose() stores it (without the Authentication-Results
 * fields that claim authserv_id, spam verdict fields and Return-Path
 * fields), for what
 * reads the message before it is stored (Sieve: RFC 8601 §5, a forged
 * field must not be relied on): a copy in a, or data itself when nothing
 * goes. authserv_id must not be NULL.
 */
struct arena;
struct str deliver_clean(struct str data, const char *authserv_id, struct arena *a);

/*
 * Whether an Authentication-Results value (after the colon, folds kept)
 * names authserv_id as its authserv-id (RFC 8601 §2.2: the first token,
 * compared without case, CFWS around it skipped). 1 or 0.
 */
int deliver_ar_claims(struct str value, const char *authserv_id);

#endif
