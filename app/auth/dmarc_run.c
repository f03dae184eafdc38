/*
 * dmarc_run.c — drives a DMARC evaluation over a struct dns_resolver with
 * the shared step/answer loop (dns_drive.h). See dmarc.h.
 */
#include "auth/dmarc.h"

#include <stdlib.h>

#include "core/xalloc.h"
#include "dns/dns_drive.h"

struct dmarc_run {
	struct dns_drive *d;
	struct dmarc_eval *e;
	dmarc_done_cb *done;
	void *arg;
};

static int step(void *ev, const char **name_r, uint16_t *type_r)
{
	return dmarc_eval_step(ev, name_r, type_r) == DMARC_STEP_QUERY;
}

static void answer(void *ev, const struct dns_answer *a)
{
	dmarc_eval_answer(ev, a);
}

static const struct dns_drive_ops ops = { step, answer };

static void finished(void *arg)
{
	struct dmarc_run *run = arg;
	dmarc_done_cb *done = run->done;
	void *darg = run->arg;
	struct dmarc_eval *e = run->e;
	/* An end inside dns_drive() leaves run to dmarc_run(); a later one frees it here. */
	if (run->d)
		free(run);
	done(darg, e);
}

struct dmarc_run *dmarc_run(const struct dns_resolver *r, struct dmarc_eval *e,
			    dmarc_done_cb *done, void *arg)
{
	struct dmarc_run *run = xcalloc(1, sizeof *run);
	run->e = e;
	run->done = done;
	run->arg = arg;
	struct dns_drive *d = dns_drive(r, &ops, e, finished, run);
	if (!d) {
		/* done already ran, inside dns_drive() (run->d was NULL then). */
		free(run);
		return NULL;
	}
	run->d = d;
	return run;
}

void dmarc_run_cancel(struct dmarc_run *run)
{
	if (!run)
		return;
	dns_drive_cancel(run->d);
	free(run);
}
