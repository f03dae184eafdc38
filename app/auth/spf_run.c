/*
 * spf_run.c — drives an SPF evaluation over a struct dns_resolver. See
 * spf.h.
 *
 * The resolver may answer inside start() (the table resolver always does,
 * the cache often does), so answers are taken in a loop rather than by
 * recursion: an answer that arrives while we are still inside start() is
 * only recorded, and the loop goes on from there.
 */
#include "auth/spf.h"

#include <stdlib.h>

#include "core/xalloc.h"
#include "dns/dns_resolver.h"

struct spf_run {
	const struct dns_resolver *r;
	struct spf_eval *e;
	spf_done_cb *done;
	void *arg;
	void *handle;   /* the lookup in flight */
	int in_start;   /* inside r->start(): answers are recorded, not acted on */
	int answered;   /* an answer came inside r->start() */
};

static int pump(struct spf_run *run);

static void on_answer(void *arg, const struct dns_answer *a)
{
	struct spf_run *run = arg;

	run->handle = NULL;
	spf_eval_answer(run->e, a);
	if (run->in_start) {
		run->answered = 1;
		return;
	}
	pump(run);
}

/* Steps until the evaluation ends (then frees run and calls done: 1) or a lookup is in flight (0). */
static int pump(struct spf_run *run)
{
	const char *name;
	uint16_t type;

	while (spf_eval_step(run->e, &name, &type) == SPF_STEP_QUERY) {
		run->in_start = 1;
		run->answered = 0;
		void *h = run->r->start(run->r->ctx, name, type, on_answer, run);
		run->in_start = 0;
		if (!run->answered) {
			run->handle = h;
			return 0;
		}
	}
	spf_done_cb *done = run->done;
	void *arg = run->arg;
	struct spf_eval *e = run->e;
	free(run);
	done(arg, e);
	return 1;
}

struct spf_run *spf_run(const struct dns_resolver *r, struct spf_eval *e, spf_done_cb *done,
			void *arg)
{
	struct spf_run *run = xcalloc(1, sizeof *run);
	run->r = r;
	run->e = e;
	run->done = done;
	run->arg = arg;
	return pump(run) ? NULL : run;
}

void spf_run_cancel(struct spf_run *run)
{
	if (!run)
		return;
	if (run->handle)
		run->r->cancel(run->r->ctx, run->handle);
	free(run);
}
