/*
 * dns_drive.h — drives a resumable policy evaluator (SPF, DMARC, iprev;
 * spf_run.c and dmarc_run.c only adapt their typed callbacks) over a
 * struct dns_resolver: step until it asks a query, ask the resolver, hand
 * the answer back, step again, until it is done.
 *
 * Design. An evaluator is a pointer and two functions: step() returns 1
 * with the name and type of the next query, or 0 when the evaluation is
 * over; answer() takes the answer to the last query. The resolver may
 * answer inside start() (the table resolver always does, the cache often
 * does), so answers are taken in a loop rather than by recursion: an
 * answer arriving while we are inside start() is only recorded.
 *
 * Caveats: one query in flight at a time, as the evaluators want.
 */
#ifndef TERN_DNS_DNS_DRIVE_H
#define TERN_DNS_DNS_DRIVE_H

#include <stdint.h>

#include "dns/dns_resolver.h"

struct dns_drive_ops {
	/* 1: *name_r (valid until the next call) and *type_r to look up; 0: done. */
	int (*step)(void *ev, const char **name_r, uint16_t *type_r);
	/* The answer to the last query (valid during the call only). */
	void (*answer)(void *ev, const struct dns_answer *a);
};

struct dns_drive;

/*
 * Steps ev to its end through r. done(arg) runs exactly once, possibly
 * before dns_drive() returns (then it returns NULL), unless
 * dns_drive_cancel() is called first. ops, r and ev must outlive the run.
 */
struct dns_drive *dns_drive(const struct dns_resolver *r, const struct dns_drive_ops *ops,
			    void *ev, void (*done)(void *arg), void *arg);
/* Stops a run: its lookup is cancelled and done will not run. NULL is a no-op. */
void dns_drive_cancel(struct dns_drive *d);

#endif
