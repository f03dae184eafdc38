/*
 * test_login_backstop.c — a login held because its address's budget is
 * taken by checks under way (LOGIN_GATE_BUSY, auth/login_limit.h) whose
 * checks never settle is refused by the backstop (login.c's
 * LOGIN_HOLD_MAX_MS after its first hold) as busy: a temporary failure,
 * never "failed", nothing checked. Without the backstop it would wait
 * for a settle that does not come.
 *
 * The address is kept busy by ten reservations that settle only at the
 * end, so no wake can come but the backstop's; TERN_TEST_LOGIN_HOLD_MAX_MS
 * (read by sanitizer builds only) shortens it to 50 ms. The refusal is
 * then answered after the longest reply delay (LOGIN_MAX_DELAY_MS, 5 s).
 * The guard below only keeps a broken backstop from hanging the run: it
 * is under the 30 s one, so a build that ignores the knob fails too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/login.h"
#include "auth/login_limit.h"
#include "core/loop.h"
#include "unit.h"

#define IP "192.0.2.78"
#define GUARD_MS 25000u

static struct loop *loop;
static struct login_result got;
static int done_called, guard_fired;

static void on_done(void *arg, const struct login_result *r)
{
	(void)arg;
	got = *r;
	done_called = 1;
	loop_stop(loop);
}

static void guard(struct loop *lp, void *arg)
{
	(void)arg;
	guard_fired = 1;
	loop_stop(lp);
}

int main(void)
{
	static const struct login_proto proto = { "imap", METRIC_AUTHFAIL_IMAP, on_done };
	/* malformed: were it admitted, it would fail at once (LOGIN_FAILED),
	 * not be refused, and nothing needs a store */
	struct login_creds c = { "plain", STR_LIT("held@example.test"), STR_LIT("pw"), "malformed",
				 NULL };
	struct login_ticket busy[LOGIN_IP_LIMIT], t;
	struct login_request rq;
	char user[32];

	setenv("TERN_TEST_LOGIN_HOLD_MAX_MS", "50", 1);
	login_limit_reset();
	loop = loop_new();
	for (unsigned i = 0; i < LOGIN_IP_LIMIT; i++) {
		snprintf(user, sizeof user, "user%u@example.test", i);
		CHECK_EQ_INT(login_limit_admit_now(IP, user, loop_now_ms(), &busy[i]), LOGIN_GATE_GO);
	}
	login_request_init(&rq, &proto, NULL, loop, "s1", IP, NULL, &c);
	CHECK(login_start(&rq) != NULL);
	CHECK(!done_called);
	uint64_t g = loop_timer_add(loop, GUARD_MS, guard, NULL);
	loop_run(loop);
	CHECK(!guard_fired);
	CHECK(done_called);
	CHECK_EQ_INT(got.outcome, LOGIN_REFUSED);
	CHECK(got.busy);
	CHECK_EQ_INT(login_reply_outcome(&got), LOGIN_TEMP);
	CHECK_EQ_INT(got.retry_after_s, LOGIN_MAX_DELAY_MS / 1000u);
	/* The address was busy all along: refused by the backstop, not woken. */
	CHECK_EQ_INT(login_limit_admit_now(IP, "probe@example.test", loop_now_ms(), &t),
		     LOGIN_GATE_BUSY);
	if (!guard_fired)
		loop_timer_del(loop, g);
	for (unsigned i = 0; i < LOGIN_IP_LIMIT; i++)
		login_settle_cancel(&busy[i]);
	loop_free(&loop);
	return unit_done("test_login_backstop");
}
