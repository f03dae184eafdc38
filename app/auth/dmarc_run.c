/*
 * dmarc_run.c — drives a DMARC evaluation over a struct dns_resolver. See
 * dmarc.h.
 *
 * The resolver may answer inside start() (the table resolver always does,
 * the cache often does), so answers are taken in a loop rather than by
 * recursion: an answer that arrives while we are still inside start() is
 * only recorded, and the loop goes on from there.
 *
 * Caveat: this is spf_run.c's loop with DMARC's step and answer; the two
 * should become one driver over a step/answer pair (noted, not yet done).
 */
#include "auth/dmarc.h"

#include <stdlib.h>

#include "core/xalloc.h"
#include "dns/dns_resolver.h"

struct dmarc_run {
	const struct dns_resolver *r;
	struct dmarc_eval *e;
	dmarc_done_cb *done;
	void *arg;
	void *handle;   /* the lookup in flight */
	int in_start;   /* inside r->start(): answers are recorded, not acted on */
	int answered;   /* an answer came inside r->start() */
};

static int pump(struct dmarc_run *run);

static void on_answer(void *arg, const struct dns_answer *a)
{
	struct dmarc_run *run = arg;

	run->handle = NULL;
	dmarc_eval_answer(run->e, a);
	if (run->in_start) {
		run->answered = 1;
		return;
	}
	pump(run);
}

/* Steps until the evaluation ends (then frees run and calls done: 1) or a lookup is in flight (0). */
static int pump(struct dmarc_run *run)
{
	const char *name;
	uint16_t type;

	while (dmarc_eval_step(run->e, &name, &type) == DMARC_STEP_QUERY) {
		run->in_start = 1;
		run->answered = 0;
		void *h = run->r->start(run->r->ctx, name, type, on_answer, run);
		run->in_start = 0;
		if (!run->answered) {
			run->handle = h;
			return 0;
		}
	}
	dmarc_done_cb *done = run->done;
	void *arg = run->arg;
	struct dmarc_eval *e = run->e;
	free(run);
	done(arg, e);
	return 1;
}

struct dmarc_run *dmarc_run(const struct dns_resolver *r, struct dmarc_eval *e, dmarc_done_cb *done,
			void *arg)
{
	struct dmarc_run *run = xcalloc(1, sizeof *run);
	run->r = r;
	run->e = e;
	run->done = done;
	run->arg = arg;
	return pump(run) ? NULL : run;
}

void dmarc_run_cancel(struct dmarc_run *run)
{
	if (!run)
		return;
	if (run->handle)
		run->r->cancel(run->r->ctx, run->handle);
	free(run);
}
