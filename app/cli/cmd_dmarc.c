/*
 * cmd_dmarc.c — tern dmarc report [--send] [--today]: the DMARC aggregate
 * reports tern sends (report/dmarc_reporter.h), for users and tests.
 *
 * Without --send it lists what waits in the store, one line per (day,
 * policy domain): "DAY DOMAIN rows=N messages=M". With --send it makes
 * and queues the reports of the days before today now, as the server
 * does once an hour (--today includes today so far), and prints
 * "reports: N" then "from:", "no-destination:", "deferred:" and
 * "failed:" lines. The server keeps the last few minutes' counts in
 * memory; SIGHUP makes it store them (kill -HUP), as `tern check auth
 * --record` stores its one result at once.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/loop.h"
#include "report/dmarc_reporter.h"
#include "report/dmarc_seen.h"
#include "store/store.h"

static int usage(void)
{
	return cli_usage("dmarc");
}

struct pending {
	uint32_t day;
	char domain[254];
	unsigned rows;
	uint64_t messages;
	unsigned lines;
};

static void print_group(struct pending *p)
{
	char when[16];
	time_t t = (time_t)p->day * 86400;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d", &tm);
	printf("%s %s rows=%u messages=%llu\n", when, p->domain, p->rows,
	       (unsigned long long)p->messages);
	p->lines++;
}

static void on_seen(void *arg, uint32_t day, const char *d, const char *row, uint32_t count)
{
	struct pending *p = arg;
	(void)row;
	if (p->rows && (p->day != day || strcmp(p->domain, d) != 0)) {
		print_group(p);
		p->rows = 0;
		p->messages = 0;
	}
	p->day = day;
	snprintf(p->domain, sizeof p->domain, "%s", d);
	p->rows++;
	p->messages += count;
}

int cli_dmarc(const struct config *cfg, int argc, char **argv)
{
	int send = 0, today = 0;
	if (argc < 1 || strcmp(argv[0], "report") != 0)
		return usage();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--send") == 0)
			send = 1;
		else if (strcmp(argv[i], "--today") == 0)
			today = 1;
		else
			return usage();
	}
	int64_t now = time_wall();
	uint32_t before = (uint32_t)(now / 86400) + (today ? 1 : 0);
	struct store *st = cli_store_open(cfg, send ? CLI_STORE_CHANGE : CLI_STORE_READ);
	if (st == NULL)
		return 1;
	if (!send) {
		struct pending p = {0};
		int rc = store_dmarc_seen_list(st, UINT32_MAX, on_seen, &p);
		if (p.rows)
			print_group(&p);
		if (p.lines == 0)
			printf("nothing to report\n");
		store_close(&st);
		return rc == STORE_OK ? 0 : 1;
	}
	struct dmarc_send_result res;
	char from[320];
	dmarc_reporter_from(cfg, st, from, sizeof from);
	int rc = dmarc_reporter_run(cfg, st, before, now, &res);
	store_close(&st);
	if (rc < 0) {
		fprintf(stderr, "tern dmarc report: cannot read the store\n");
		return 1;
	}
	printf("reports: %u\n", res.reports);
	printf("from: %s\n", rc == 1 ? "off (TERN_DMARC_REPORT_FROM or the setting)" : from);
	printf("no-destination: %u\ndeferred: %u\nfailed: %u\n", res.no_dest, res.deferred, res.failed);
	return 0;
}
