/*
 * test_push_follow.c — a push subscriber following a shared account
 * (http/push_follow.c over http/push_feed.c) is told every change of the
 * owner's account, whatever moment it comes at:
 * - between the read of which accounts are shared (and each one's state
 *   then) and the join of the owner's feed: no feed followed the owner
 *   yet, so no notification came; the window is made exact by running
 *   the start's read on the pool while the loop is not running yet;
 * - while the subscriber takes no reads (a PushSubscription whose own
 *   states are still being read): told once it does;
 * - while the subscriber cannot be told (output queued) and then starts
 *   following again (WebSocketPushEnable sent anew): told once it can;
 * and one that starts with catch_up (an EventSource reconnecting with a
 * Last-Event-ID) is told the owner's states at once, with no change,
 * while one beside it on the same feed without it is told nothing;
 * the owner's removal is told (every mail type at state 0) and the
 * subscriber leaves the owner, one that cannot be told then once it can.
 * The loop runs once: a driver steps through the scenarios, each step
 * waiting (WAIT_MS at most, a failure) for what it needs.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/loop.h"
#include "core/worker.h"
#include "http/push_feed.h"
#include "http/push_follow.h"
#include "jmap/jmap.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

/* Fail-path bound only: a pass never waits for it. */
#define WAIT_MS 30000
#define TICK_MS 5
#define MAIL_TOLD (JMAP_TYPE_MAILBOX | JMAP_TYPE_EMAIL | JMAP_TYPE_THREAD)

static char base[256];

struct sub {
	int ready;     /* takes reads */
	int waits;     /* cannot be told now */
	unsigned told; /* StateChanges told */
	uint32_t owner;
	unsigned mask;
	uint64_t modseq;
};

static int sub_ready(void *arg)
{
	return ((struct sub *)arg)->ready;
}

static unsigned sub_types(void *arg)
{
	(void)arg;
	return JMAP_TYPES_ALL;
}

static int sub_wait(void *arg)
{
	return ((struct sub *)arg)->waits;
}

static void sub_tell(void *arg, uint32_t owner, unsigned mask, uint64_t modseq)
{
	struct sub *s = arg;
	s->told++;
	s->owner = owner;
	s->mask = mask;
	s->modseq = modseq;
}

static const struct push_follow_ops ops = {
    .ready = sub_ready, .types = sub_types, .wait = sub_wait, .tell = sub_tell};

/* The test's state, shared by the steps. */
static struct {
	struct store *st;
	struct loop *loop;
	uint32_t owner, user;
	struct sub a, b;
	struct push_follow fa, fb;
	uint64_t after; /* the owner's modseq after the last change */
	unsigned step, waited_ms;
} t;

static uint64_t modseq(uint32_t acc)
{
	uint64_t ms = 0;
	CHECK_EQ_INT(store_account_modseq(t.st, acc, &ms), STORE_OK);
	return ms;
}

/* A change of the owner's account, published as the server does. */
static void owner_change(const char *subject)
{
	char text[200];
	snprintf(text, sizeof text, "From: a@remote.test\r\nSubject: %s\r\n\r\nx\r\n", subject);
	uint64_t before = modseq(t.owner);
	unit_deliver(t.st, t.owner, text, 1700000000, NULL);
	t.after = modseq(t.owner);
	CHECK(t.after > before);
	store_publish_change(t.st, t.owner, t.after);
}

static void start_as(struct push_follow *fw, struct sub *s, int catch_up)
{
	push_follow_start(fw, &ops, s, t.st, t.loop, t.user, "test", NULL, catch_up);
}

static void start(struct push_follow *fw, struct sub *s)
{
	start_as(fw, s, 0);
}

static void check_told(const struct sub *s)
{
	CHECK_EQ_INT(s->told, 1);
	CHECK_EQ_INT(s->owner, t.owner);
	CHECK_EQ_INT(s->mask, MAIL_TOLD);
	CHECK_EQ_INT(s->modseq == t.after, 1);
}

/* Told that the owner was removed: every mail type it asked for but
 * EmailDelivery, once, at state 0. */
static void check_gone(const struct sub *s)
{
	CHECK_EQ_INT(s->told, 1);
	CHECK_EQ_INT(s->owner, t.owner);
	CHECK_EQ_INT(s->mask, MAIL_TOLD);
	CHECK_EQ_INT(s->modseq == 0, 1);
}

/* Each step returns 1 when done, 0 to be called again (a tick later). */
static int step(void)
{
	switch (t.step) {
	/* 1: a change before the join (made before the loop ran). */
	case 0:
		if (t.a.told < 1)
			return 0;
		check_told(&t.a);
		push_follow_leave(&t.fa);
		/* 2: a change while b takes no reads: read for a, b waits. */
		t.a = (struct sub){.ready = 1};
		t.b = (struct sub){.ready = 0};
		start(&t.fa, &t.a);
		start(&t.fb, &t.b);
		return 1;
	case 1:
		if (t.fa.calc || t.fb.calc)
			return 0; /* joined both */
		owner_change("before ready");
		return 1;
	case 2:
		if (t.a.told < 1)
			return 0;
		CHECK_EQ_INT(t.b.told, 0);
		t.b.ready = 1;
		push_follow_kick(&t.fb);
		return 1;
	case 3:
		if (t.b.told < 1)
			return 0;
		check_told(&t.b);
		CHECK_EQ_INT(t.a.told, 1);
		push_follow_leave(&t.fa);
		push_follow_leave(&t.fb);
		/* 3: a change b waits to be told, then b starts again. */
		t.a = (struct sub){.ready = 1};
		t.b = (struct sub){.ready = 1, .waits = 1};
		start(&t.fa, &t.a);
		start(&t.fb, &t.b);
		return 1;
	case 4:
		if (t.fa.calc || t.fb.calc)
			return 0;
		owner_change("waiting");
		return 1;
	case 5:
		if (t.a.told < 1)
			return 0; /* the read b took too: it waits */
		CHECK_EQ_INT(t.b.told, 0);
		start(&t.fb, &t.b);
		return 1;
	case 6:
		if (t.fb.calc)
			return 0;
		t.b.waits = 0;
		push_follow_kick(&t.fb);
		return 1;
	case 7:
		if (t.b.told < 1)
			return 0;
		check_told(&t.b);
		push_follow_leave(&t.fa);
		push_follow_leave(&t.fb);
		/* 4: b starts with catch_up, a without; no change comes. */
		t.a = (struct sub){.ready = 1};
		t.b = (struct sub){.ready = 1};
		start(&t.fa, &t.a);
		start_as(&t.fb, &t.b, 1);
		return 1;
	case 8:
		if (t.b.told < 1)
			return 0;
		check_told(&t.b); /* every mail type but EmailDelivery, at the state now */
		CHECK_EQ_INT(t.a.told, 0); /* the same read told a nothing */
		push_follow_leave(&t.fa);
		push_follow_leave(&t.fb);
		/* 5: the owner is removed; b cannot be told then. */
		t.a = (struct sub){.ready = 1};
		t.b = (struct sub){.ready = 1, .waits = 1};
		start(&t.fa, &t.a);
		start(&t.fb, &t.b);
		return 1;
	case 9: {
		char err[256];
		uint32_t id = 0;
		if (t.fa.calc || t.fb.calc)
			return 0;
		CHECK_EQ_INT(store_account_del_id(t.st, "owner@example.test", &id, err, sizeof err),
			     STORE_OK);
		CHECK_EQ_INT(id, t.owner);
		return 1;
	}
	case 10:
		if (t.a.told < 1)
			return 0;
		check_gone(&t.a);
		CHECK(t.fa.peers == NULL); /* it left the owner */
		CHECK_EQ_INT(t.b.told, 0);
		CHECK(t.fb.peers != NULL); /* waiting to be told */
		t.b.waits = 0;
		push_follow_kick(&t.fb);
		return 1;
	case 11:
		if (t.b.told < 1)
			return 0;
		check_gone(&t.b);
		CHECK(t.fb.peers == NULL);
		push_follow_leave(&t.fa);
		push_follow_leave(&t.fb);
		return 1;
	default:
		return 1;
	}
}

#define STEPS 12

static void stop_post(void *arg)
{
	loop_stop(arg);
}

static void drive(struct loop *loop, void *arg)
{
	(void)arg;
	while (t.step < STEPS && step()) {
		t.step++;
		t.waited_ms = 0;
	}
	if (t.step < STEPS && (t.waited_ms += TICK_MS) <= WAIT_MS) {
		loop_timer_add(loop, TICK_MS, drive, NULL);
		return;
	}
	if (t.step < STEPS) {
		fprintf(stderr, "step %u: nothing told within %d ms\n", t.step, WAIT_MS);
		push_follow_leave(&t.fa);
		push_follow_leave(&t.fb);
	}
	/* Reads still under way end here, on the loop (they free
	 * themselves), before it stops. */
	worker_pool_stop();
	loop_post(loop, stop_post, loop);
}

int main(void)
{
	uint32_t mb = 0;
	char err[256];

	if (unit_env_begin(base, sizeof base, "push_follow") < 0)
		return 1;
	t.st = unit_store_with_account(base, 0, "owner@example.test", &t.owner);
	if (!t.st)
		return unit_done("test_push_follow");
	CHECK_EQ_INT(store_account_add(t.st, "user@example.test", "pw", 0, &t.user, err, sizeof err),
		     STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(t.st, t.owner, "Team", &mb), STORE_OK);
	CHECK_EQ_INT(store_acl_set(t.st, t.owner, mb, t.user, STORE_ACL_L | STORE_ACL_R), STORE_OK);
	worker_pool_start(2);
	t.loop = loop_new();

	/* 1: the start's read runs (its last answer is the count of
	 * owners) and its result waits for the loop; the owner's account
	 * changes before the loop runs and the subscriber joins. */
	t.a = (struct sub){.ready = 1};
	start(&t.fa, &t.a);
	struct push_calc *k = t.fa.calc;
	for (unsigned ms = 0; ms < WAIT_MS && __atomic_load_n(&k->nshared, __ATOMIC_ACQUIRE) == 0;
	     ms += TICK_MS)
		nanosleep(&(struct timespec){.tv_nsec = TICK_MS * 1000 * 1000}, NULL);
	CHECK_EQ_INT(k->nshared, 1);
	owner_change("before the join");

	loop_timer_add(t.loop, 0, drive, NULL);
	loop_run(t.loop);
	CHECK_EQ_INT(t.step, STEPS);
	loop_free(&t.loop);
	store_close(&t.st);
	unit_rmrf(base);
	return unit_done("test_push_follow");
}
