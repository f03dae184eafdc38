/*
 * session_watch.c — the per-loop list of logged-in sessions and the
 * once-a-second credentials check (see session_watch.h).
 */
#include "auth/session_watch.h"

#include "core/loop.h"
#include "store/store.h"

#define BATCH 256 /* accounts read per transaction */

static __thread struct session_watch *head;
static __thread uint64_t tick_timer;
static __thread struct loop *tick_loop;

static void tick(struct loop *loop, void *arg);

static void arm(struct loop *loop)
{
	if (!tick_timer) {
		tick_loop = loop;
		tick_timer = loop_timer_add(loop, SESSION_WATCH_TICK_MS, tick, NULL);
	}
}

/* Marks the sessions of one batch whose stamps changed. 0, or -1 on a store error. */
static int check_batch(struct session_watch **ws, size_t n)
{
	uint32_t ids[BATCH] = {0}, aps[BATCH] = {0};
	uint64_t creds[BATCH];

	for (size_t i = 0; i < n; i++) {
		ids[i] = ws[i]->account;
		aps[i] = ws[i]->apppass;
	}
	if (store_account_creds(ws[0]->store, ids, aps, creds, n) != STORE_OK)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (creds[i] != ws[i]->cred) {
			ws[i]->dead = 1;
			ws[i]->cred = creds[i]; /* 0: gone */
		}
	}
	return 0;
}

static void tick(struct loop *loop, void *arg)
{
	struct session_watch *batch[BATCH], *w, *next;
	size_t n = 0;

	(void)arg;
	tick_timer = 0;
	for (w = head; w; w = w->next) {
		batch[n++] = w;
		if (n == BATCH) {
			check_batch(batch, n);
			n = 0;
		}
	}
	if (n)
		check_batch(batch, n); /* a store error: the next tick tries again */
	/* Off the list first, then the callback: it may free the session,
	 * never another one. */
	for (w = head; w; w = next) {
		next = w->next;
		if (!w->dead)
			continue;
		int gone = w->cred == 0;
		session_watch_leave(w);
		w->revoked(w->arg, gone);
	}
	if (head)
		arm(loop);
}

void session_watch_join(struct session_watch *w, struct store *st, struct loop *loop,
			uint32_t account, uint32_t apppass, uint64_t cred,
			void (*revoked)(void *arg, int gone), void *arg)
{
	if (w->joined)
		session_watch_leave(w);
	w->store = st;
	w->loop = loop;
	w->account = account;
	w->apppass = apppass;
	w->cred = cred;
	w->revoked = revoked;
	w->arg = arg;
	w->dead = 0;
	w->joined = 1;
	w->prev = NULL;
	w->next = head;
	if (head)
		head->prev = w;
	head = w;
	arm(loop);
}

void session_watch_leave(struct session_watch *w)
{
	if (!w->joined)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	w->joined = 0;
	if (!head && tick_timer) {
		loop_timer_del(tick_loop, tick_timer);
		tick_timer = 0;
	}
}
