/*
 * test_login_wake.c — a login the loop flow holds because its address's
 * budget is taken by checks under way (LOGIN_GATE_BUSY, auth/login_limit.h)
 * is woken when any of those checks settles, a web sign-in's too: the HTTP
 * side settled with login_limit.h directly, so the held login waited for
 * another settle or its 30 s backstop (login.c's LOGIN_HOLD_MAX_MS).
 *
 * The settle is the one every caller uses (auth/login.h); the web
 * admin's http_login_ok/_failed call it. Deterministic without a clock: the wake is posted to the loop while the
 * sign-in settles, so a probe posted after it runs after it, and finds
 * the held login through the gate again (the address busy once more).
 */
#include <string.h>

#include "auth/login.h"
#include "auth/login_limit.h"
#include "core/loop.h"
#include "unit.h"

#define IP "192.0.2.77"

static struct loop *loop;
static struct login_ticket held_by[LOGIN_IP_LIMIT];
static int done_called, probe_gate = -1;

static void on_done(void *arg, const struct login_result *r)
{
	(void)arg;
	(void)r;
	done_called = 1;
	loop_stop(loop);
}

/* After the wakes the sign-in's settle posted: one more attempt from the
 * address. The held login, woken, took the place the sign-in freed (and,
 * malformed, failed at once: a counted failure), so the address is busy
 * again; not woken, the place is free and this one would go. */
static void probe(void *arg)
{
	struct login_ticket t;

	(void)arg;
	probe_gate = (int)login_limit_admit_now(IP, "probe@example.test", loop_now_ms(), &t);
	if (probe_gate == LOGIN_GATE_GO)
		login_settle_cancel(&t);
	/* The other checks end: the held login finishes either way. */
	for (unsigned i = 1; i < LOGIN_IP_LIMIT; i++)
		login_settle_cancel(&held_by[i]);
}

int main(void)
{
	static const struct login_proto proto = { "imap", METRIC_AUTHFAIL_IMAP, on_done };
	struct login_creds c = { "plain", STR_LIT("held@example.test"), STR_LIT("pw"), "malformed",
				 NULL };
	struct login_request rq;
	char user[32];

	login_limit_reset();
	loop = loop_new();
	/* The address's budget taken by checks under way, none failed: the
	 * first is the web admin's sign-in (an HTTP thread's ticket). */
	for (unsigned i = 0; i < LOGIN_IP_LIMIT; i++) {
		snprintf(user, sizeof user, "user%u@example.test", i);
		CHECK_EQ_INT(login_limit_admit_now(IP, i ? user : "(admin)", loop_now_ms(), &held_by[i]),
			     LOGIN_GATE_GO);
	}
	login_request_init(&rq, &proto, NULL, loop, "s1", IP, NULL, &c);
	struct login *l = login_start(&rq);
	CHECK(l != NULL);
	CHECK(!done_called);

	/* The sign-in was right: settled as http_login_ok() does (the HTTP
	 * code is not in the host-side test library). */
	login_settle_ok(&held_by[0], loop_now_ms());
	loop_post(loop, probe, NULL);
	loop_run(loop);
	CHECK_EQ_INT(probe_gate, LOGIN_GATE_BUSY);
	CHECK(done_called);
	loop_free(&loop);
	return unit_done("test_login_wake");
}
