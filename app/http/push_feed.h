/*
 * push_feed.h — an account's changes read on the worker pool for the
 * JMAP push transports: http_push.c (EventSource, WebSocket) and
 * http_pushsub.c (PushSubscription). The one place their reads run.
 *
 * A push_feed is one account's change feed subscription on one loop
 * (store_subscribe), shared by the account's members there (a
 * transport's connections or subscriptions). Each notification runs
 * one read (struct push_calc) on the pool, one at a time per feed (a
 * notification that comes meanwhile runs another after it), which walks
 * the change log once for every state its members were last told
 * (jmap_push_changed_many), reads the credentials stamps of the logins
 * it was given, and runs the own-state types' /get once for the types
 * any member asked for. The loop only hands the result to the
 * transport, which compares and tells (writes an event, POSTs).
 *
 * What is the transport's (struct push_feed_ops): which members take a
 * read now and what each was told (collect), and what a read means to
 * each of them (apply). A transport may also run a one-off read of its
 * own (an EventSource's start): push_calc_new, push_calc_add,
 * push_calc_submit with its own done.
 */
#ifndef TERN_HTTP_PUSH_FEED_H
#define TERN_HTTP_PUSH_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "core/worker.h"
#include "jmap/jmap.h"
#include "store/store.h"

struct loop;
struct push_feed;

/* One read; the arrays are filled on the loop, the answers on the pool. */
struct push_calc {
	struct worker_job wj;
	struct push_feed *f; /* the feed's read (NULL once the feed went) */
	void *arg;           /* or a one-off read's owner (NULL once it went) */
	struct store *st;
	uint32_t account;
	size_t members;    /* the members added */
	unsigned own_mask; /* the own-state types to read */
	size_t n, n_max;   /* the states told (ascending, once each, once submitted): */
	uint64_t *since;
	unsigned *types; /* what changed since each (mail types) */
	uint64_t *upto;  /* and the state to tell for it */
	size_t m, m_max; /* the logins whose stamps are read, once each: */
	uint32_t *apppass;
	uint64_t *cred;  /* each one's stamp now (0: the account is gone) */
	int cred_ok;     /* every stamp was read */
	int ok;          /* the store answered (modseq and the log walk) */
	int gone;        /* no such account (any more): ok is 0 */
	uint64_t modseq; /* the account's now */
	int own_ok;
	struct jmap_push_own own;
	/* Asked (shared 1): the accounts shared with account
	 * (jmap_shared_accounts) and each one's modseq now; shared_ok when
	 * they were read. */
	int shared;
	int shared_ok;
	uint32_t *shared_owner;
	uint64_t *shared_modseq;
	size_t nshared;
};

struct push_calc *push_calc_new(struct store *st, uint32_t account);
/* Adds a member that asked for the types in types and was last told
 * *told (NULL: nothing yet; only the states now are read for it). */
void push_calc_add(struct push_calc *k, const uint64_t *told, unsigned types);
/* Adds a login (its app password, 0: the account's own) whose stamp is read. */
void push_calc_login(struct push_calc *k, uint32_t apppass);
/* Sorts the states told and runs the read on the pool; done then runs
 * on loop with k (and frees it: push_calc_free). */
void push_calc_submit(struct push_calc *k, struct loop *loop, void (*done)(void *));
void push_calc_free(struct push_calc *k);
/* The index of told among the states k read, or -1 when it is not one. */
long push_calc_find(const struct push_calc *k, uint64_t told);
/* The stamp k read for the login apppass: 1 with *cred_r, 0 when k did
 * not read that login. */
int push_calc_cred(const struct push_calc *k, uint32_t apppass, uint64_t *cred_r);

struct push_feed_ops {
	/* Adds to k each member that takes a read now (push_calc_add, and
	 * push_calc_login for the stamps it needs). */
	void (*collect)(struct push_feed *f, struct push_calc *k);
	/* Gives the read k to each member: 1 when one needs another read
	 * (push_calc_find found not its state). A member may leave meanwhile;
	 * the feed stays until apply returns. */
	int (*apply)(struct push_feed *f, const struct push_calc *k);
	/* Optional: the read k found the account gone (k->gone), as its
	 * removal's notification makes it do; as apply. NULL: nothing to
	 * tell (the account's own logins end by session_watch.h). */
	int (*gone)(struct push_feed *f, const struct push_calc *k);
};

struct push_feed {
	const struct push_feed_ops *ops;
	struct store *st;
	struct loop *loop;
	uint32_t account;
	struct store_sub sub;
	unsigned members;       /* joined */
	struct push_calc *calc; /* a read under way */
	int again;              /* a change came meanwhile: read again after */
	int busy;               /* in apply: not freed meanwhile */
	struct push_feed *next;
};

/*
 * A member joins account's feed for ops on loop (this thread's), which
 * is made and subscribed when there is none: size bytes (at least a
 * struct push_feed, which comes first: a transport keeps its own data
 * behind it), zeroed. Returns the feed; nothing is read until a kick.
 */
struct push_feed *push_feed_join(const struct push_feed_ops *ops, struct store *st,
                                 struct loop *loop, uint32_t account, size_t size);
/* A member leaves f; after the last one f is unsubscribed and freed
 * (once apply returned, when inside it). */
void push_feed_leave(struct push_feed *f);
/* A change (or a member that wants telling): reads the account on the
 * pool, or again after the read under way. */
void push_feed_kick(struct push_feed *f);

#endif
