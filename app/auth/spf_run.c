/*
 * spf_run.c — drives an SPF evaluation over a struct dns_resolver with
 * the shared step/answer loop (dns_drive.h), as DMARC and iprev do. See
 * spf.h.
 */
#include "auth/spf.h"

#include <stdlib.h>

#include "core/xalloc.h"
#include "dns/dns_drive.h"

struct spf_run {
	struct dns_drive *d;
	struct spf_eval *e;
	spf_done_cb *done;
	void *arg;
};

static int step(void *ev, const char **name_r, uint16_t *type_r)
{
	return spf_eval_step(ev, name_r, type_r) == SPF_STEP_QUERY;
}

static void answer(void *ev, const struct dns_answer *a)
{
	spf_eval_answer(ev, a);
}

static const struct dns_drive_ops ops = { step, answer };

static void finished(void *arg)
{
	struct spf_run *run = arg;
	spf_done_cb *done = run->done;
	void *darg = run->arg;
	struct spf_eval *e = run->e;
	/* An end inside dns_drive() leaves run to spf_run(); a later one frees it here. */
	if (run->d)
		free(run);
	done(darg, e);
}

struct spf_run *spf_run(const struct dns_resolver *r, struct spf_eval *e, spf_done_cb *done,
			void *arg)
{
	struct spf_run *run = xcalloc(1, sizeof *run);
	run->e = e;
	run->done = done;
	run->arg = arg;
	struct dns_drive *d = dns_drive(r, &ops, e, finished, run);
	if (!d) {
		free(run);
		return NULL;
	}
	run->d = d;
	return run;
}

void spf_run_cancel(struct spf_run *run)
{
	if (!run)
		return;
	dns_drive_cancel(run->d);
	free(run);
}
