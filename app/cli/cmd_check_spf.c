/*
 * cmd_check_spf.c — `tern check spf IP SENDER HELO`: the SPF result the
 * server would reach for a client address, a MAIL FROM address and a HELO
 * name (DESIGN.md §5), for users debugging their own domain's record.
 *
 * Output: the result on the first line, exactly as RFC 7208 names it
 * (pass, fail, softfail, neutral, none, temperror, permerror), then
 * "explanation: TEXT" only when the record's exp= gave one. Why the result
 * is what it is goes to stderr ("reason: ..."), so scripts can read stdout
 * alone. SENDER "" or "<>" is the null path: postmaster@HELO is checked
 * (RFC 7208 §2.4). Exit status 0 when the check ran, whatever the result;
 * 2 on usage.
 *
 * Records come from DNS on a private event loop (TERN_DNS_SERVERS, else
 * /etc/resolv.conf) through dns_query(), the resolver the server uses. An
 * evaluation still running after 20 seconds (slow servers, many lookups)
 * ends as temperror.
 */
#include <stdio.h>
#include <string.h>

#include "auth/spf.h"
#include "cli/cli.h"
#include "core/loop.h"
#include "dns/dns.h"

/* RFC 7208 §4.6.4: at least 20 seconds for a whole evaluation. */
#define CHECK_DEADLINE_MS 20000

struct check {
	struct loop *loop;
	int done;
};

static void finished(void *arg, struct spf_eval *e)
{
	struct check *c = arg;
	(void)e;
	c->done = 1;
	loop_stop(c->loop);
}

static void deadline(struct loop *loop, void *arg)
{
	(void)arg;
	loop_stop(loop);
}

int cli_check_spf(const struct config *cfg, int argc, char **argv)
{
	char err[256];

	if (argc != 3) {
		return cli_usage("check spf");
	}
	const char *sender = strcmp(argv[1], "<>") == 0 ? "" : argv[1];
	struct spf_eval *e = spf_eval_new(SPF_ID_MAILFROM, argv[0], sender, argv[2], cfg->hostname,
					  time_wall());
	if (!e) {
		fprintf(stderr, "tern check spf: %s is not an IP address\n", argv[0]);
		return 2;
	}
	struct loop *loop = loop_new();
	struct dns *dns = dns_new(loop, cfg->dns_servers, err, sizeof err);
	if (!dns) {
		fprintf(stderr, "tern check spf: %s\n", err);
		spf_eval_free(&e);
		loop_free(&loop);
		return 2;
	}
	struct dns_resolver r = dns_resolver_of(dns);
	struct check c = { .loop = loop };
	struct spf_run *run = spf_run(&r, e, finished, &c);
	if (run) {
		uint64_t t = loop_timer_add(loop, CHECK_DEADLINE_MS, deadline, NULL);
		loop_run(loop);
		loop_timer_del(loop, t);
		if (!c.done) {
			spf_run_cancel(run);
			spf_eval_abort(e, "no result within 20 seconds");
		}
	}
	printf("%s\n", spf_result_name(spf_eval_result(e)));
	if (spf_eval_explanation(e))
		printf("explanation: %s\n", spf_eval_explanation(e));
	fprintf(stderr, "reason: %s\n", spf_eval_reason(e));
	spf_eval_free(&e);
	dns_free(&dns);
	loop_free(&loop);
	return 0;
}
