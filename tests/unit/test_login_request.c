/*
 * test_login_request.c — login_request_init(), the one constructor every
 * protocol's login goes through (auth/login.h): each field comes from the
 * protocol, the session or the attempt it belongs to, and whatever the
 * request held before is gone (scope, after_ok: a caller sets them after).
 */
#include <string.h>

#include "auth/login.h"
#include "unit.h"

static void done_a(void *arg, const struct login_result *r)
{
	(void)arg;
	(void)r;
}

static enum login_outcome after_ok(struct store *st, uint32_t account, void **extra_r)
{
	(void)st;
	(void)account;
	*extra_r = NULL;
	return LOGIN_OK;
}

static void test_fields(void)
{
	static const struct login_proto proto = { "pop3", METRIC_AUTHFAIL_POP3, done_a };
	struct store *st = (struct store *)0x1000;
	struct loop *loop = (struct loop *)0x2000;
	struct scram_server scram;
	int arg;
	struct login_creds c = { "plain", STR_LIT("bob@example.test"), STR_LIT("pw"), NULL, &scram };
	struct login_request rq;

	/* A request reused from an earlier attempt: nothing of it survives. */
	memset(&rq, 0x5a, sizeof rq);
	rq.after_ok = after_ok;
	rq.scope = 3;
	login_request_init(&rq, &proto, st, loop, "s1", "192.0.2.7", &arg, &c);
	CHECK(rq.store == st);
	CHECK(rq.loop == loop);
	CHECK_EQ_STR(rq.module, "pop3");
	CHECK_EQ_STR(rq.session, "s1");
	CHECK_EQ_STR(rq.ip, "192.0.2.7");
	CHECK_EQ_STR(rq.mech, "plain");
	CHECK_EQ_INT(rq.metric, METRIC_AUTHFAIL_POP3);
	CHECK(str_eq(rq.user, STR_LIT("bob@example.test")));
	CHECK(str_eq(rq.pass, STR_LIT("pw")));
	CHECK(rq.malformed == NULL);
	CHECK(rq.scram == &scram);
	CHECK(rq.done == done_a);
	CHECK(rq.arg == &arg);
	CHECK_EQ_INT(rq.scope, 0);
	CHECK(rq.after_ok == NULL);
	CHECK(rq.extra_free == NULL);
}

static void test_malformed_without_session(void)
{
	/* JMAP's shape: no session, no loop, no done; a request whose
	 * credentials cannot succeed keeps the reason and no password. */
	static const struct login_proto proto = { "jmap", METRIC_AUTHFAIL_HTTP, NULL };
	struct login_creds c = { "basic", STR_LIT(""), STR_NULL, "malformed", NULL };
	struct login_request rq;

	login_request_init(&rq, &proto, NULL, NULL, NULL, "2001:db8::1", NULL, &c);
	CHECK_EQ_STR(rq.module, "jmap");
	CHECK(rq.session == NULL && rq.loop == NULL && rq.done == NULL && rq.arg == NULL);
	CHECK_EQ_STR(rq.malformed, "malformed");
	CHECK_EQ_INT(rq.user.len, 0);
	CHECK_EQ_INT(rq.pass.len, 0);
	CHECK(rq.scram == NULL);
	CHECK_EQ_INT(rq.metric, METRIC_AUTHFAIL_HTTP);
}

int main(void)
{
	test_fields();
	test_malformed_without_session();
	return unit_done("test_login_request");
}
