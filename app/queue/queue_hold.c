/*
 * queue_hold.c — Future Release (RFC 4865): a held entry submitted again
 * at its release time. See queue_hold.h for the design.
 */
#include "queue/queue_hold.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hostname.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "queue/dsn.h"
#include "queue/queue.h"
#include "store/store.h"
#include "store/store_queue.h"

struct release {
	struct queue_request req;
	struct queue_rcpt *rcpts;
	uint64_t held_id;
	const struct store_queue_entry *e;
	struct store *st;
	void (*done)(void *arg, int result);
	void *arg;
};

/* The queue_request flags the held entry was submitted with
 * (queue.c's entry_flags, the other way round). Held entries come from
 * submission only, whose local copies run their accounts' scripts. */
static unsigned request_flags(uint32_t f)
{
	return ((f & SQ_8BITMIME) ? QUEUE_8BITMIME : 0) | ((f & SQ_SMTPUTF8) ? QUEUE_SMTPUTF8 : 0) |
	       ((f & SQ_RET_FULL) ? QUEUE_RET_FULL : 0) | ((f & SQ_RET_HDRS) ? QUEUE_RET_HDRS : 0) |
	       ((f & SQ_REQUIRETLS) ? QUEUE_REQUIRETLS : 0) | ((f & SQ_BY) ? QUEUE_BY : 0) |
	       ((f & SQ_BY_RETURN) ? QUEUE_BY_RETURN : 0) | ((f & SQ_BY_TRACE) ? QUEUE_BY_TRACE : 0) |
	       QUEUE_SIEVE;
}

/*
 * In the released message's commit: the held entry goes (every recipient
 * final, no notice owed: store_queue_put_txn deletes it and its blob
 * reference). Gone already (`tern queue del` at the release time): the
 * release stands, since failing here would fail every request of the
 * writer's batch (store.h).
 */
static int drop_held(struct store *st, void *txn, void *arg)
{
	struct release *rl = arg;
	struct store_queue_entry old, e;
	int rc = store_queue_get_txn(st, txn, rl->held_id, &old);
	if (rc == STORE_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	rc = store_queue_get_txn(st, txn, rl->held_id, &e);
	if (rc == 0) {
		for (size_t i = 0; i < e.nrcpts; i++) {
			e.rcpts[i].state = SQ_SENT;
			e.rcpts[i].dsn_done = 1;
		}
		rc = store_queue_put_txn(st, txn, &old, &e);
		store_queue_entry_free(&e);
	}
	store_queue_entry_free(&old);
	return rc;
}

/*
 * NOTIFY=SUCCESS of recipients the release delivered here (RFC 3461
 * §5.2.2: "delivered"); the scheduler reports the others once relayed.
 */
static void notify_local(struct release *rl)
{
	const struct store_queue_entry *e = rl->e;
	struct dsn_rcpt *dr = xcalloc(e->nrcpts ? e->nrcpts : 1, sizeof *dr);
	size_t n = 0;
	int64_t now = (int64_t)time_wall();

	for (size_t i = 0; e->sender[0] && i < e->nrcpts; i++) {
		const struct store_queue_rcpt *q = &e->rcpts[i];
		uint32_t acc[16];
		size_t nacc = 0;
		if (!(q->notify & SQ_NOTIFY_SUCCESS))
			continue;
		enum store_rcpt res = store_resolve_rcpt(rl->st, q->addr, acc, 16, &nacc);
		if ((res == STORE_RCPT_OK || res == STORE_RCPT_OVER_QUOTA) && nacc)
			dr[n++] = (struct dsn_rcpt){q->addr, q->orcpt, "2.0.0 Ok: delivered to mailbox", "",
						    DSN_DELIVERED, now};
	}
	if (n) {
		struct dsn_info in = {
		    .hostname = hostname_now(), .to = e->sender, .envid = e->envid, .arrival = now,
		    .now = now, .ret_full = (e->flags & SQ_RET_FULL) != 0, .msg = rl->req.data,
		    .msglen = rl->req.len, .rcpts = dr, .nrcpts = n,
		    .requiretls = (e->flags & SQ_REQUIRETLS) != 0,
		};
		queue_notify_delivered(rl->st, rl->req.loop, NULL, &in);
	}
	free(dr);
}

static void released(struct queue_request *r, void *arg)
{
	struct release *rl = arg;

	if (r->result == STORE_OK) {
		log_info("queue", NULL, "event=released id=%llu queue_id=%llu local=%zu remote=%zu",
			 (unsigned long long)rl->held_id, (unsigned long long)r->queue_id, r->nlocal,
			 r->nremote);
		if (r->nlocal)
			notify_local(rl);
	}
	rl->done(rl->arg, r->result);
	free(rl->rcpts);
	free(rl);
}

void queue_hold_release(struct store *st, struct loop *loop, const struct store_queue_entry *e,
			const char *data, size_t len, void (*done)(void *arg, int result), void *arg)
{
	struct release *rl = xcalloc(1, sizeof *rl);
	struct queue_request *r = &rl->req;
	size_t n = 0;

	rl->rcpts = xcalloc(e->nrcpts ? e->nrcpts : 1, sizeof *rl->rcpts);
	for (size_t i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].state == SQ_PENDING)
			rl->rcpts[n++] = (struct queue_rcpt){e->rcpts[i].addr,
							     e->rcpts[i].orcpt[0] ? e->rcpts[i].orcpt : NULL,
							     queue_notify_of(e->rcpts[i].notify)};
	rl->held_id = e->id;
	rl->e = e;
	rl->st = st;
	rl->done = done;
	rl->arg = arg;
	r->data = data;
	r->len = len;
	r->sender = e->sender;
	r->envid = e->envid[0] ? e->envid : NULL;
	r->flags = request_flags(e->flags);
	r->by_deadline = e->by_deadline;
	r->mt_priority = e->priority;
	r->rcpts = rl->rcpts;
	r->nrcpts = n;
	r->account = e->account;
	r->received_at = 0; /* now: the release is its arrival (queue_hold.h) */
	r->txn_also = drop_held;
	r->txn_also_arg = rl;
	r->loop = loop;
	r->done = released;
	r->arg = rl;
	queue_submit(st, r);
}
