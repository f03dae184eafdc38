/*
 * push_follow.c — a push subscriber follows the accounts shared with its
 * own, through their owners' change feeds; see push_follow.h.
 *
 * Each owner has a feed of this kind (follow_feed_ops) on a loop, beside
 * the one its own subscribers use, with one peer per (subscriber, owner)
 * holding the owner's state last told to that subscriber.
 */
#include <stdlib.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "http/push_feed.h"
#include "http/push_follow.h"

struct follow_feed {
	struct push_feed f; /* first: the feed is the owner's */
	struct push_follow_peer *peers;
};

struct push_follow_peer {
	struct push_follow *fw;
	struct follow_feed *ff;
	uint64_t told;                      /* the owner's state last told to fw's subscriber */
	int pending;                        /* a change came while the subscriber waited */
	int catch_up;                       /* tell every type at the next read (below) */
	int gone;                           /* the owner's removal was told: leaves */
	int unshared;                       /* a start found the owner no longer sharing */
	struct push_follow_peer *feed_next; /* the feed's other peers */
	struct push_follow_peer *sub_next;  /* the subscriber's other peers */
};

static int peer_ready(const struct push_follow_peer *pe)
{
	return pe->fw->ops->ready(pe->fw->sub);
}

static unsigned peer_types(const struct push_follow_peer *pe)
{
	return pe->fw->ops->types(pe->fw->sub) & PUSH_FOLLOW_TYPES;
}

/* push_feed: the peers whose subscriber takes a read now; the others
 * wait for it to (push_follow_kick), as their told stays behind. */
static void follow_collect(struct push_feed *f, struct push_calc *k)
{
	for (struct push_follow_peer *pe = ((struct follow_feed *)f)->peers; pe; pe = pe->feed_next)
		if (peer_ready(pe))
			push_calc_add(k, &pe->told, peer_types(pe));
		else
			pe->pending = 1;
}

/* The owner's read k for one peer: 1 when it needs another read. */
static int peer_apply(struct push_follow_peer *pe, const struct push_calc *k)
{
	struct push_follow *fw = pe->fw;

	if (!peer_ready(pe) || fw->ops->wait(fw->sub)) {
		pe->pending = 1; /* push_follow_kick reads again */
		return 0;
	}
	if (k->gone || pe->unshared) {
		/* The owner was removed or shares no more with the
		 * subscriber's account (push_follow.h): every type, at a
		 * state no read ever gave (the grant that showed the account
		 * moved its state past 0). */
		unsigned mask = peer_types(pe);
		pe->gone = 1;
		if (mask)
			fw->ops->tell(fw->sub, pe->ff->f.account, mask, 0);
		return 0;
	}
	long i = push_calc_find(k, pe->told);
	if (i < 0)
		return 1;
	unsigned changed = pe->catch_up ? PUSH_FOLLOW_TYPES : k->types[i];
	unsigned mask = changed & peer_types(pe);
	if (k->upto[i] > pe->told)
		pe->told = k->upto[i];
	pe->catch_up = 0;
	if (mask)
		fw->ops->tell(fw->sub, pe->ff->f.account, mask, pe->told);
	return 0;
}

static void peer_leave(struct push_follow_peer **pp);

/* The link to pe in its subscriber's list. */
static struct push_follow_peer **peer_link(struct push_follow_peer *pe)
{
	struct push_follow_peer **pp = &pe->fw->peers;
	while (*pp != pe)
		pp = &(*pp)->sub_next;
	return pp;
}

/* push_feed: the read for each peer, each subscriber held meanwhile
 * (ops->hold): one that telling frees is freed at its release, with its
 * peers, so what releases it is kept apart from them. */
static int follow_apply(struct push_feed *f, const struct push_calc *k)
{
	struct held {
		struct push_follow_peer *pe;
		const struct push_follow_ops *ops;
		void *sub;
	};
	struct follow_feed *ff = (struct follow_feed *)f;
	size_t n = 0;
	for (struct push_follow_peer *pe = ff->peers; pe; pe = pe->feed_next)
		n++;
	struct held *v = xcalloc(n ? n : 1, sizeof *v);
	n = 0;
	for (struct push_follow_peer *pe = ff->peers; pe; pe = pe->feed_next) {
		v[n++] = (struct held){.pe = pe, .ops = pe->fw->ops, .sub = pe->fw->sub};
		if (pe->fw->ops->hold)
			pe->fw->ops->hold(pe->fw->sub);
	}
	int more = 0;
	for (size_t i = 0; i < n; i++)
		more |= peer_apply(v[i].pe, k);
	for (size_t i = 0; i < n; i++)
		if (v[i].pe->gone)
			peer_leave(peer_link(v[i].pe));
	for (size_t i = 0; i < n; i++)
		if (v[i].ops->release)
			v[i].ops->release(v[i].sub);
	free(v);
	return more;
}

static const struct push_feed_ops follow_feed_ops = {
    .collect = follow_collect, .apply = follow_apply, .gone = follow_apply};

static void peer_join(struct push_follow *fw, uint32_t owner, uint64_t told, int catch_up)
{
	struct follow_feed *ff = (struct follow_feed *)push_feed_join(&follow_feed_ops, fw->st,
	                                                              fw->loop, owner, sizeof *ff);
	struct push_follow_peer *pe = xcalloc(1, sizeof *pe);

	pe->fw = fw;
	pe->ff = ff;
	pe->told = told;
	pe->catch_up = catch_up;
	pe->feed_next = ff->peers;
	ff->peers = pe;
	pe->sub_next = fw->peers;
	fw->peers = pe;
}

/* fw stops reading which owners there are (a read under way is dropped). */
static void follow_abandon(struct push_follow *fw)
{
	if (fw->calc) {
		fw->calc->arg = NULL; /* follow_done frees it */
		fw->calc = NULL;
	}
}

/* pe leaves its feed and fw (pp: the link to it in fw's list). */
static void peer_leave(struct push_follow_peer **pp)
{
	struct push_follow_peer *pe = *pp;

	*pp = pe->sub_next;
	for (struct push_follow_peer **fp = &pe->ff->peers; *fp; fp = &(*fp)->feed_next)
		if (*fp == pe) {
			*fp = pe->feed_next;
			break;
		}
	push_feed_leave(&pe->ff->f);
	free(pe);
}

void push_follow_leave(struct push_follow *fw)
{
	follow_abandon(fw);
	while (fw->peers)
		peer_leave(&fw->peers);
}

void push_follow_kick(struct push_follow *fw)
{
	for (struct push_follow_peer *pe = fw->peers; pe; pe = pe->sub_next)
		if (pe->pending) {
			pe->pending = 0;
			push_feed_kick(&pe->ff->f);
		}
}

/* Whether k read owner among the accounts shared. */
static int owner_read(const struct push_calc *k, uint32_t owner)
{
	for (size_t i = 0; i < k->nshared; i++)
		if (k->shared_owner[i] == owner)
			return 1;
	return 0;
}

static struct push_follow_peer *peer_of(const struct push_follow *fw, uint32_t owner)
{
	for (struct push_follow_peer *pe = fw->peers; pe; pe = pe->sub_next)
		if (pe->ff->f.account == owner)
			return pe;
	return NULL;
}

/*
 * fw follows the owners k read: it keeps the peer of one it followed
 * already (with what it was last told, and a change waiting to be told:
 * a start again, as WebSocketPushEnable sent anew, must not skip it) and
 * joins the others from their states read. A peer of an owner no longer
 * sharing (or removed: its feed's read may not have come yet) is told
 * the removal at its feed's read, as a removal read there is (peer_apply),
 * then leaves: left at once, a client that had followed the owner lost
 * the account without a word. Each feed then reads once: a change
 * between the read and the join came when no feed followed that owner
 * here (no notification), and a kept peer may have one waiting; a read
 * with nothing new tells nothing, except to a peer joined with
 * fw->catch_up, which is told every type at the state read
 * (push_follow_start).
 */
static void follow_owners(struct push_follow *fw, const struct push_calc *k)
{
	for (struct push_follow_peer *pe = fw->peers; pe; pe = pe->sub_next)
		pe->unshared = !owner_read(k, pe->ff->f.account);
	for (size_t i = 0; i < k->nshared; i++)
		if (!peer_of(fw, k->shared_owner[i]))
			peer_join(fw, k->shared_owner[i], k->shared_modseq[i], fw->catch_up);
	for (struct push_follow_peer *pe = fw->peers; pe; pe = pe->sub_next) {
		pe->pending = 0;
		push_feed_kick(&pe->ff->f);
	}
}

/* On the loop: the owners read; fw follows them. */
static void follow_done(void *arg)
{
	struct push_calc *k = arg;
	struct push_follow *fw = k->arg;

	if (!fw) {
		push_calc_free(k);
		return;
	}
	fw->calc = NULL;
	if (!k->shared_ok) {
		log_warn("jmap", NULL, "event=push_read_failed account=%u what=shared",
		         fw->account);
	} else if (fw->ops->live && !fw->ops->live(fw->sub)) {
		push_follow_leave(fw);
	} else {
		follow_owners(fw, k);
		if (fw->id)
			log_info("jmap", NULL,
			         "event=push_shared kind=%s account=%u owners=%zu id=%s", fw->kind,
			         fw->account, k->nshared, fw->id);
		else
			log_info("jmap", NULL, "event=push_shared kind=%s account=%u owners=%zu",
			         fw->kind, fw->account, k->nshared);
	}
	push_calc_free(k);
}

void push_follow_start(struct push_follow *fw, const struct push_follow_ops *ops, void *sub,
                       struct store *st, struct loop *loop, uint32_t account, const char *kind,
                       const char *id, int catch_up)
{
	if (fw->peers && (fw->sub != sub || fw->loop != loop || fw->account != account))
		push_follow_leave(fw);
	follow_abandon(fw);
	fw->ops = ops;
	fw->sub = sub;
	fw->st = st;
	fw->loop = loop;
	fw->account = account;
	fw->kind = kind;
	fw->id = id;
	fw->catch_up = catch_up;
	struct push_calc *k = push_calc_new(st, account);
	k->shared = 1;
	k->arg = fw;
	fw->calc = k;
	push_calc_submit(k, loop, follow_done);
}
