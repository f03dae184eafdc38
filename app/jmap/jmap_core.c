/*
 * jmap_core.c — Core/echo (RFC 8620 §4): the arguments back as they came
 * (after result references were resolved), for testing connectivity.
 */
#include "jmap/jmap_private.h"

#include "core/asan.h"

#if TERN_TEST_KNOBS
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

/* The longest a test hold lasts when its file never comes. */
#define TEST_HOLD_MAX_MS 60000

/*
 * Test-only, read by a sanitizer build alone (build/tern-asan and tern-tsan, as
 * TERN_TEST_LOGIN_HOLD_MAX_MS; a release build has no such code): with
 * TERN_TEST_JMAP_HOLD_FILE set, a Core/echo whose arguments hold
 * "testHold": true runs until that file exists (TEST_HOLD_MAX_MS at
 * most), so a test can keep a long request under way for as long as it
 * needs and watch what else goes on meanwhile, without a request that
 * takes that long for real. Logs event=test_hold when it starts holding
 * and when it ends.
 */
static void test_hold(const struct json_value *args)
{
	const char *path = getenv("TERN_TEST_JMAP_HOLD_FILE");
	const struct json_value *h = args->type == JSON_OBJECT ? json_get(args, "testHold") : NULL;

	if (!path || !*path || !h || h->type != JSON_BOOL || !h->boolean)
		return;
	log_info("jmap", NULL, "event=test_hold state=held");
	unsigned ms = 0;
	for (; ms < TEST_HOLD_MAX_MS && access(path, F_OK) != 0; ms += 10)
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	log_info("jmap", NULL, "event=test_hold state=%s",
		 ms < TEST_HOLD_MAX_MS ? "released" : "expired");
}
#endif

void jmap_core_echo(struct jmap_call *c)
{
#if TERN_TEST_KNOBS
	test_hold(c->args);
#endif
	jw_value(&c->w, c->args);
}
