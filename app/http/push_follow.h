/*
 * push_follow.h — a push subscriber follows the change feeds of the
 * accounts other users share with its account (RFC 8620 §7: a
 * StateChange may name any account the user can access). The one
 * implementation for both transports: http_push.c (an EventSource or
 * WebSocket connection) and http_pushsub.c (a PushSubscription).
 *
 * A subscriber (the transport's connection or subscription) starts
 * following with push_follow_start: which owners share with its account
 * (jmap/jmap_share.c) and each one's state now are read once, on the
 * worker pool; it then joins each owner's feed (http/push_feed.h) on its
 * loop, as a peer holding the owner's state last told to it, and logs
 * event=push_shared (event=push_read_failed what=shared when the read
 * failed). A grant given later is followed from the next start.
 *
 * Each change of an owner's account is read once for all the peers on
 * that feed; each peer whose subscriber takes reads (ops->ready) is told
 * the mail types that changed there, EmailDelivery aside (the owner's
 * new mail is not the user's), through ops->tell with the owner's
 * account id. Any change of the owner's account counts, as a state may
 * change with nothing the user sees (RFC 8620 §5.1). A subscriber that
 * cannot be told now (ops->wait: output queued, a POST on its way) has
 * the peer wait, and calls push_follow_kick when it can take events
 * again: the waiting peers' feeds are read again then. So does a change
 * that comes while the subscriber takes no reads (ops->ready), and one
 * between the read of the owners and the join: each feed joined is read
 * once then.
 *
 * An owner removed (its removal is told on its feed, store_account_del)
 * takes its account from the user's session. RFC 8620 pushes no session
 * change; a StateChange naming the account, every type the subscriber
 * asked for (PUSH_FOLLOW_TYPES) at state "0", which differs from every
 * state it was told or read, makes the client ask there: accountNotFound
 * (§3.6.2), and the Response's sessionState tells it to fetch the
 * session again (§2). It waits like any change (ops->wait); the peer
 * then leaves. A start that finds an owner followed no longer sharing
 * with the account (its grants taken back, or its removal not read on
 * its feed yet) tells the same, the same way: leaving it without a
 * word lost the account to a client re-enabling push in between.
 */
#ifndef TERN_HTTP_PUSH_FOLLOW_H
#define TERN_HTTP_PUSH_FOLLOW_H

#include <stdint.h>

#include "jmap/jmap.h"

struct loop;
struct push_calc;
struct push_follow_peer;
struct store;

/* The mail types told for a shared account. */
#define PUSH_FOLLOW_TYPES (JMAP_TYPES_MAIL & ~JMAP_TYPE_EMAIL_DELIVERY)

struct push_follow_ops {
	/* Whether sub takes reads now (a peer of one that does not is
	 * neither read for nor told: it waits, and sub calls
	 * push_follow_kick once it does). */
	int (*ready)(void *sub);
	/* The types sub asked for (only PUSH_FOLLOW_TYPES of them count). */
	unsigned (*types)(void *sub);
	/* 1 when sub cannot be told now: the peer waits, and sub calls
	 * push_follow_kick once it can. */
	int (*wait)(void *sub);
	/* Tells sub that the types in mask of owner's account now have
	 * state modseq. */
	void (*tell)(void *sub, uint32_t owner, unsigned mask, uint64_t modseq);
	/* Optional: whether sub still follows once the owners were read
	 * (else nothing is joined nor logged); NULL: it does. */
	int (*live)(void *sub);
	/* Optional: sub held while a feed's read is told to its peers (a
	 * subscriber that tell may free is freed after release). */
	void (*hold)(void *sub);
	void (*release)(void *sub);
};

/* A subscriber's following; zeroed, it follows nothing. */
struct push_follow {
	const struct push_follow_ops *ops;
	void *sub;
	struct store *st;
	struct loop *loop;
	uint32_t account;               /* the subscriber's account */
	const char *kind;               /* the log line's kind= */
	const char *id;                 /* and its id= (NULL: none) */
	int catch_up;                   /* owners joined are told at once (start) */
	struct push_follow_peer *peers; /* the owners followed */
	struct push_calc *calc;         /* which they are, being read */
};

/*
 * sub (on loop, this thread's) follows the accounts shared with account:
 * reads on the pool which they are, then follows a new one from its
 * state now, keeps following one it followed already (from what it was
 * last told) and leaves those no longer shared, each told its removal
 * (state "0", above). kind and id (NULL for
 * none) name it in the log line and must outlive fw's following.
 * catch_up: each owner joined now is told at once, every type sub asked
 * for, at its state read (or later, when it changed meanwhile), as it
 * waits like any change (ops->wait): for a subscriber that cannot know
 * what changed there since it last listened (an EventSource reconnecting
 * with a Last-Event-ID, a WebSocketPushEnable with a pushState: each
 * carries only its own account's state). A state told that did not
 * change costs the client a /changes that finds nothing (RFC 8620 §7.1:
 * it compares states); one not told is a change lost.
 */
void push_follow_start(struct push_follow *fw, const struct push_follow_ops *ops, void *sub,
                       struct store *st, struct loop *loop, uint32_t account, const char *kind,
                       const char *id, int catch_up);
/* fw follows no shared account (and stops reading which there are).
 * Not while one of its feeds' reads is told to it (ops->hold). */
void push_follow_leave(struct push_follow *fw);
/* fw's subscriber can be told again (or takes reads now): the feeds its
 * waiting peers follow are read again. */
void push_follow_kick(struct push_follow *fw);

#endif
