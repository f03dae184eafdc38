/*
 * dns_drive.c — the step/answer loop over a resolver. See dns_drive.h.
 */
#include "dns/dns_drive.h"

#include <stdlib.h>

#include "core/xalloc.h"

struct dns_drive {
	const struct dns_resolver *r;
	const struct dns_drive_ops *ops;
	void *ev;
	void (*done)(void *arg);
	void *arg;
	void *handle;  /* the lookup in flight */
	int in_start;  /* inside r->start(): answers are recorded, not acted on */
	int answered;  /* an answer came inside r->start() */
};

static int pump(struct dns_drive *d);

static void on_answer(void *arg, const struct dns_answer *a)
{
	struct dns_drive *d = arg;

	d->handle = NULL;
	d->ops->answer(d->ev, a);
	if (d->in_start) {
		d->answered = 1;
		return;
	}
	pump(d);
}

/* Steps until the evaluation ends (then frees d and calls done: 1) or a lookup is in flight (0). */
static int pump(struct dns_drive *d)
{
	const char *name;
	uint16_t type;

	while (d->ops->step(d->ev, &name, &type)) {
		d->in_start = 1;
		d->answered = 0;
		void *h = d->r->start(d->r->ctx, name, type, on_answer, d);
		d->in_start = 0;
		if (!d->answered) {
			d->handle = h;
			return 0;
		}
	}
	void (*done)(void *) = d->done;
	void *arg = d->arg;
	free(d);
	done(arg);
	return 1;
}

struct dns_drive *dns_drive(const struct dns_resolver *r, const struct dns_drive_ops *ops,
			    void *ev, void (*done)(void *arg), void *arg)
{
	struct dns_drive *d = xcalloc(1, sizeof *d);
	d->r = r;
	d->ops = ops;
	d->ev = ev;
	d->done = done;
	d->arg = arg;
	return pump(d) ? NULL : d;
}

void dns_drive_cancel(struct dns_drive *d)
{
	if (!d)
		return;
	if (d->handle)
		d->r->cancel(d->r->ctx, d->handle);
	free(d);
}
