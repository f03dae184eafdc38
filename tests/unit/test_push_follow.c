/*
 * test_push_follow.c — a push subscriber following a shared account
 * (http/push_follow.c over http/push_feed.c) is told a change of the
 * owner's account that comes between the read of which accounts are
 * shared (and each one's state then) and the moment the subscriber joins
 * the owner's feed: no feed was subscribed to the owner yet, so no
 * notification came for it, and without a read at the join the change
 * waited for the owner's next one (possibly never).
 *
 * The window is made exact here: the start's read runs on the pool while
 * the loop is not running, so its answer waits on the loop; the owner's
 * account changes then, and only after that does the loop run and the
 * subscriber join.
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

/* Fail-path bounds only: a pass never waits for them. */
#define WAIT_MS 30000

static char base[256];

struct sub {
	struct loop *loop;
	int ready;     /* takes reads */
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
	(void)arg;
	return 0;
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

/* Runs loop until *told reaches want or WAIT_MS passed (a failure). */
struct until {
	const unsigned *told;
	unsigned want;
	unsigned left_ms;
};

static void until_check(struct loop *loop, void *arg)
{
	struct until *u = arg;
	if (*u->told >= u->want || u->left_ms == 0) {
		loop_stop(loop);
		return;
	}
	u->left_ms -= u->left_ms < 5 ? u->left_ms : 5;
	loop_timer_add(loop, 5, until_check, u);
}

static void run_until(struct loop *loop, const unsigned *told, unsigned want)
{
	struct until u = {.told = told, .want = want, .left_ms = WAIT_MS};
	loop_timer_add(loop, 0, until_check, &u);
	loop_run(loop);
}

static uint64_t modseq(struct store *st, uint32_t acc)
{
	uint64_t ms = 0;
	CHECK_EQ_INT(store_account_modseq(st, acc, &ms), STORE_OK);
	return ms;
}

static void stop_post(void *arg)
{
	loop_stop(arg);
}

/* A change of the owner's account, published as the server does. */
static uint64_t owner_change(struct store *st, uint32_t owner, const char *subject)
{
	char text[200];
	snprintf(text, sizeof text, "From: a@remote.test\r\nSubject: %s\r\n\r\nx\r\n", subject);
	uint64_t before = modseq(st, owner);
	unit_deliver(st, owner, text, 1700000000, NULL);
	uint64_t after = modseq(st, owner);
	CHECK(after > before);
	store_publish_change(st, owner, after);
	return after;
}

#define MAIL_TOLD (JMAP_TYPE_MAILBOX | JMAP_TYPE_EMAIL | JMAP_TYPE_THREAD)

/* A change between the read of the owners and the join is told. */
static void change_before_join(struct store *st, struct loop *loop, uint32_t owner, uint32_t user)
{
	struct sub s = {.loop = loop, .ready = 1};
	struct push_follow fw;
	memset(&fw, 0, sizeof fw);
	push_follow_start(&fw, &ops, &s, st, loop, user, "test", NULL);

	/* The start's read ran (its last answer is the count of owners),
	 * and its result waits for the loop. */
	struct push_calc *k = fw.calc;
	unsigned ms = 0;
	for (; ms < WAIT_MS && __atomic_load_n(&k->nshared, __ATOMIC_ACQUIRE) == 0; ms += 5)
		nanosleep(&(struct timespec){.tv_nsec = 5 * 1000 * 1000}, NULL);
	CHECK_EQ_INT(k->nshared, 1);
	uint64_t after = owner_change(st, owner, "before the join");

	run_until(loop, &s.told, 1);
	CHECK_EQ_INT(fw.calc == NULL, 1);
	CHECK_EQ_INT(s.told, 1);
	CHECK_EQ_INT(s.owner, owner);
	CHECK_EQ_INT(s.mask, MAIL_TOLD);
	CHECK_EQ_INT(s.modseq == after, 1);
	push_follow_leave(&fw);
}

int main(void)
{
	uint32_t owner = 0, user = 0, mb = 0;
	char err[256];

	if (unit_env_begin(base, sizeof base, "push_follow") < 0)
		return 1;
	struct store *st = unit_store_with_account(base, 0, "owner@example.test", &owner);
	if (!st)
		return unit_done("test_push_follow");
	CHECK_EQ_INT(store_account_add(st, "user@example.test", "pw", 0, &user, err, sizeof err),
		     STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, owner, "Team", &mb), STORE_OK);
	CHECK_EQ_INT(store_acl_set(st, owner, mb, user, STORE_ACL_L | STORE_ACL_R), STORE_OK);

	worker_pool_start(2);
	struct loop *loop = loop_new();
	change_before_join(st, loop, owner, user);

	/* Reads still under way end on the loop (they free themselves). */
	worker_pool_stop();
	loop_post(loop, stop_post, loop);
	loop_run(loop);
	loop_free(&loop);
	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_push_follow");
}
