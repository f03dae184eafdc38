/*
 * queue.h — the outbound queue: enqueueing a message, and the scheduler
 * that delivers it.
 *
 * Design. queue_submit() takes a finished message (the bytes exactly as
 * they go out: signed, with our Received field) and its envelope. Each
 * recipient is resolved against the store (aliases, catch-all, +tag):
 * local ones get a copy in their INBOX (with a Return-Path field), remote
 * ones become one queue entry with a state per recipient. Both happen in
 * the store writer's group commit (a struct store_delivery with a
 * transaction hook, store/store_queue.h), so when done() runs with
 * STORE_OK everything is durable and the caller may answer 250.
 *
 * The scheduler (queue_sched_*) runs on one event loop: it wakes entries
 * whose next attempt is due, delivers them (MX lookup or the relay host,
 * SMTP client, opportunistic TLS), marks recipients in a commit right
 * after the remote's 250 (a kept connection carries the next message
 * only once that commit is written, before its flush, so a crash of tern
 * re-sends at most one message per connection), retries with backoff for
 * TERN_QUEUE_LIFETIME, and sends RFC 3464 notices. All its state is in
 * LMDB: a restart resumes.
 *
 * A local recipient whose one account has no room for the message (it
 * is full, or the message is larger than the room left or than the
 * whole quota: store_quota_fits) gets no copy at once: it becomes a
 * recipient of the entry, and the scheduler delivers it here once there
 * is room, checking the quota in that commit, as a remote's 4xx is
 * retried (4.2.2, for TERN_QUEUE_LIFETIME), or bounces it with 5.2.2
 * when it can never fit, as a remote's 5xx (Dovecot's LMTP answers the
 * same, and Postfix retries and bounces so). An address naming several
 * accounts (an alias) or forwarding keeps the soft rule: every account
 * gets its copy, a full one going a little over (README, Quotas).
 *
 * Caveats: recipients in a local domain that resolve to no account
 * (STORE_RCPT_UNKNOWN) should have been refused at RCPT time; any that
 * reach queue_submit() are dropped with a log line. Mail to the null
 * sender never produces a notice.
 */
#ifndef TERN_QUEUE_QUEUE_H
#define TERN_QUEUE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct store;
struct config;

/* NOTIFY bits (RFC 3461) for struct queue_rcpt.notify; 0 = not given. */
#define QUEUE_NOTIFY_NEVER 1u
#define QUEUE_NOTIFY_SUCCESS 2u
#define QUEUE_NOTIFY_FAILURE 4u
#define QUEUE_NOTIFY_DELAY 8u

/* struct queue_request.flags */
#define QUEUE_8BITMIME 1u /* MAIL FROM had BODY=8BITMIME */
#define QUEUE_SMTPUTF8 2u /* MAIL FROM had SMTPUTF8 */
#define QUEUE_RET_FULL 4u /* RET=FULL (default: the header only) */
#define QUEUE_REQUIRETLS 8u /* MAIL FROM had REQUIRETLS (RFC 8689) */
/* Run each local account's active Sieve script on its copy (submission's
 * local copies, as Pigeonhole's LMTP does; the sender is authenticated):
 * fileinto, flags, discard, vacation, notify, redirect (local: that
 * account's copy, its own script run; outside: a recipient of the entry)
 * and reject (that copy not stored, a failure DSN to the sender for that
 * recipient after the commit). */
#define QUEUE_SIEVE 16u
/* Deliver By (RFC 2852, BY= on MAIL): by_deadline holds; R mode (return
 * the message when it is not delivered by then), else N (notify); trace. */
#define QUEUE_BY 32u
#define QUEUE_BY_RETURN 64u
#define QUEUE_BY_TRACE 128u
/* RET=HDRS was given (passed on; without either RET bit none is). */
#define QUEUE_RET_HDRS 256u
/* Future Release (RFC 4865, HOLDFOR/HOLDUNTIL on submission): the whole
 * message, local recipients too, waits in the queue until hold_until
 * (queue_hold.h), and is then submitted as if it arrived then. */
#define QUEUE_HOLD 512u
/* The scheduler's delivery of a queued local recipient (queue_sched.c):
 * its accounts' quotas are checked in the commit (store_delivery
 * .quota_check), the result says STORE_EQUOTA (full now: retried) or
 * STORE_ETOOBIG (larger than the whole quota: bounced), and nothing is
 * queued for a full account (see queue_submit). */
#define QUEUE_QUOTA 1024u

struct queue_rcpt {
	const char *addr;  /* envelope recipient, without angle brackets */
	const char *orcpt; /* ORCPT decoded to "rfc822;user@example.com", or NULL */
	unsigned notify;   /* QUEUE_NOTIFY_* or 0 (= FAILURE,DELAY) */
};

struct queue_request {
	/* Input: owned by the caller, unchanged until done() runs. */
	const char *data; /* the message as it will be sent (CRLF lines) */
	size_t len;
	const char *sender; /* envelope sender; "" = null sender <> */
	const char *envid;  /* ENVID decoded (xtext undone), or NULL */
	unsigned flags;     /* QUEUE_8BITMIME | QUEUE_SMTPUTF8 | QUEUE_RET_FULL */
	const struct queue_rcpt *rcpts;
	size_t nrcpts; /* 1 .. 1000 */
	uint32_t account; /* submitting account id (0 = internal) */
	int64_t by_deadline; /* with QUEUE_BY: deliver by then (seconds since the epoch) */
	int64_t hold_until;  /* with QUEUE_HOLD: release then (seconds since the epoch) */
	/* MT-PRIORITY (RFC 6710), -9..9, 0 = normal: the queue entry's
	 * priority, which the submitter has already decided to trust. */
	int mt_priority;
	/* With QUEUE_SIEVE, what the scripts' virustest sees (RFC 5235
	 * §3.3): 1 when the submitter had clamd scan data and found it
	 * clean, 0 when it was not scanned. */
	int virus_score;
	int64_t received_at; /* seconds since the epoch; 0 = now */
	/* The domain whose keys signed data (its DKIM-Signature fields on
	 * top), or NULL. With QUEUE_SIEVE, a copy a script edited and
	 * redirected outside is signed again with them: the edits may
	 * have changed what the first signatures cover. */
	const char *signed_by;
	/* Optional: runs inside the commit that stores and queues the
	 * message, after it (txn: the MDB_txn *), so what it writes is
	 * written if and only if the message is queued: a report consumes
	 * its pending records there (report_queue.h), and a failed delete
	 * afterwards can no longer send it twice; submission notes the
	 * Message-ID it sent there (spam_sent.h), no commit of its own. It may run more than once
	 * (store_delivery.txn_hook). 0, or an LMDB error that fails the
	 * request (STORE_ETEMP, nothing written). */
	int (*txn_also)(struct store *st, void *txn, void *arg);
	void *txn_also_arg;
	/* Optional output, the caller's (nrcpts entries): set to 1 for each
	 * recipient that waits in the queue for room in its mailbox (see the
	 * design paragraph), 0 for the others. A "delivered" notice
	 * (NOTIFY=SUCCESS) is then the scheduler's, once it delivers. */
	uint8_t *waits;

	/* Output, valid in done(). */
	int result;        /* STORE_OK, STORE_ETEMP (say 451) or STORE_EINVAL (say 554) */
	uint64_t queue_id; /* entry id for the log / 250 reply; 0 when all local */
	size_t nlocal, nremote; /* recipients delivered locally / queued */

	/* Completion: runs once on loop (loop_post) after the commit; with
	 * loop NULL on the store writer thread. */
	struct loop *loop;
	void (*done)(struct queue_request *r, void *arg);
	void *arg;

	void *priv_; /* private */
};

/*
 * Resolves, stores and queues r (see the design paragraph). Thread-safe,
 * non-blocking (one read transaction for the resolution). done() is always
 * called exactly once, also for bad input (STORE_EINVAL: no recipient,
 * more than 1000, an address over 320 octets, no data) and for store
 * errors (STORE_ETEMP). Without a writer thread (CLI, tests) the work is
 * done synchronously before this returns.
 */
void queue_submit(struct store *st, struct queue_request *r);

/*
 * 1 when queue_submit would drop recipient addr (see Caveats: a local
 * address that resolves to no account, or to a disabled one), resolved
 * exactly as queue_submit resolves it; else 0. For a submitter that
 * refuses such a recipient before submitting, as RCPT TO does.
 * Thread-safe (one read transaction).
 */
int queue_rcpt_dropped(struct store *st, const char *addr);

/* Whether a recipient is ours (queue_rcpt_local). */
enum queue_rcpt_where {
	QUEUE_RCPT_OUTSIDE, /* not in any of our domains */
	QUEUE_RCPT_OURS,    /* in one of our domains */
	QUEUE_RCPT_UNSURE,  /* the directory could not be read: ask again later */
};

/*
 * Whether recipient addr is in one of our domains (queue_submit would
 * resolve it here, to accounts or to nobody), resolved exactly as
 * queue_submit resolves it. QUEUE_RCPT_UNSURE when the directory could
 * not be read (STORE_RCPT_TEMPFAIL): neither here nor elsewhere for now,
 * never taken for an outside address. For the scheduler, which delivers
 * a recipient of ours of an entry here (QUEUE_QUOTA) rather than to an
 * MX, and leaves an unsure one pending for its next attempt.
 * Thread-safe (one read transaction).
 */
enum queue_rcpt_where queue_rcpt_local(struct store *st, const char *addr);

/* The QUEUE_NOTIFY_* bits of an entry recipient's SQ_NOTIFY_* ones. */
unsigned queue_notify_of(uint8_t sq_notify);

/*
 * A Sieve reject told after the message was accepted (RFC 5429 §2.1):
 * a failure DSN for rcpt with "550 5.7.1 reason", from the null sender
 * to sender (nothing for the null sender), queued now; msg[0..len) is
 * the original (its header goes in the notice). The caller makes sure
 * the sender is authenticated or verified: tern never bounces to a
 * sender it could not verify. Copies what it needs; thread-safe as
 * queue_submit; loop as queue_request.loop.
 */
void queue_reject_notice(struct store *st, struct loop *loop, const char *sender,
                         const char *envid, const char *rcpt, const char *reason, const char *msg,
                         size_t len);

struct dsn_info;
/*
 * After a commit that delivered to local recipients who asked NOTIFY=SUCCESS:
 * submits the "delivered" notice for in->rcpts (in->id is chosen here) to
 * in->to, the original envelope sender, from the null sender
 * (queue_notify.c). Nothing for the null sender. in is copied before this
 * returns; the outcome is only logged (session_id names the session).
 */
void queue_notify_delivered(struct store *st, struct loop *loop, const char *session_id,
			    const struct dsn_info *in);
/*
 * The queue_request flags (QUEUE_SMTPUTF8, QUEUE_8BITMIME) a notice made
 * by dsn_build() into msg for the envelope recipient to is submitted
 * with (dsn_needs()), so the queue declares them to the next hop or
 * fails it at a hop without them (queue_notify.c).
 */
struct buf;
unsigned queue_notice_flags(const char *to, const struct buf *msg);

/*
 * Starts the scheduler on loop (the server's first loop): reads the
 * TERN_QUEUE_* settings from cfg, sets up DNS, and begins a 1 s tick.
 * 0, or -1 with a logged reason (the server then runs without sending).
 */
int queue_sched_start(const struct config *cfg, struct store *st, struct loop *loop);
/* Thread-safe: an entry was added; look for due work now. */
void queue_sched_kick(void);
/* On the scheduler's loop: stop starting deliveries, close connections. */
void queue_sched_stop(void);
/* Deliveries in progress (for the shutdown wait). */
unsigned queue_sched_active(void);
/*
 * On the scheduler's loop, at SIGTERM: no delivery starts any more (no
 * new job, group, address or kept session); conversations under way go
 * on to their result, which is recorded. queue_sched_stop() cuts what is
 * left; the entries stay due.
 */
void queue_sched_quiesce(void);
/* Thread-safe: conversations under way (for the shutdown wait). */
unsigned queue_sched_talking(void);

#endif
