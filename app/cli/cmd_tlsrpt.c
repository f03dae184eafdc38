/*
 * cmd_tlsrpt.c — tern tlsrpt report [--send] [--today]: the TLS-RPT
 * reports (RFC 8460) tern sends about its outbound TLS sessions
 * (report/tlsrpt_send.h), for users and tests.
 *
 * Without --send it lists what waits in the store, one line per (day,
 * policy domain): "DAY DOMAIN successful=N failed=M". With --send it
 * makes and sends the reports of the days before today now, as the
 * server does once an hour (--today includes today so far), and prints
 * "mailed: N", "posted: N", then "from:", "no-record:", "deferred:" and
 * "failed:" lines. The server keeps the last few minutes' counts in
 * memory; SIGHUP makes it store them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "net/anchors.h"
#include "report/dmarc_reporter.h"
#include "report/tlsrpt_intake.h"
#include "report/tlsrpt_seen.h"
#include "report/tlsrpt_send.h"
#include "store/store.h"

static int usage(void)
{
	return cli_usage("tlsrpt");
}

static void on_meta(void *arg, const char *name, const void *val, size_t len)
{
	unsigned *lines = arg;
	const char *p = name + strlen(TLSRPT_SEEN_PREFIX);
	char *end, *text = xmalloc(len + 1);
	unsigned long day = strtoul(p, &end, 10);
	if (*end != '/') {
		free(text);
		return;
	}
	memcpy(text, val, len);
	text[len] = '\0';
	struct tlsrpt_report *r = xcalloc(1, sizeof *r);
	tlsrpt_seen_parse(text, len, end + 1, r);
	uint64_t ok = 0, failed = 0;
	for (size_t i = 0; i < r->npolicies; i++) {
		ok += r->policies[i].successful;
		failed += r->policies[i].failed;
	}
	char when[16];
	time_t t = (time_t)day * 86400;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d", &tm);
	printf("%s %s successful=%llu failed=%llu\n", when, end + 1, (unsigned long long)ok,
	       (unsigned long long)failed);
	(*lines)++;
	free(r);
	free(text);
}

static void rfc3339(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *or_dash(const char *s)
{
	return s && s[0] ? s : "-";
}

static void on_report(void *arg, const struct tlsrpt_report *r, int64_t received_at,
		      const char *dkim_v)
{
	unsigned *n = arg;
	char s[32], e[32];
	(void)received_at;
	char dkim[TLSRPT_DKIM_MAX + 8];
	snprintf(dkim, sizeof dkim, " dkim=%s", dkim_v);
	rfc3339(r->start, s);
	rfc3339(r->end, e);
	for (size_t i = 0; i < r->npolicies; i++) {
		const struct tlsrpt_policy *p = &r->policies[i];
		printf("%s %s %s %s %s %s successful=%llu failed=%llu%s\n", s, e,
		       or_dash(r->organization), or_dash(r->report_id), p->domain,
		       tlsrpt_policy_type_name(p->type), (unsigned long long)p->successful,
		       (unsigned long long)p->failed, dkim);
		for (size_t k = 0; k < p->nfailures; k++) {
			const struct tlsrpt_failure *f = &p->failures[k];
			printf("  %s mx=%s ip=%s sessions=%llu\n", tlsrpt_result_name(f->result),
			       or_dash(f->receiving_mx_hostname), or_dash(f->receiving_ip),
			       (unsigned long long)f->failed_session_count);
		}
	}
	(*n)++;
}

static int list(const struct config *cfg, const char *domain)
{
	struct store *st = cli_store_open(cfg, CLI_STORE_READ);
	unsigned n = 0;
	if (st == NULL)
		return 1;
	if (store_domain_is_local(st, domain) != 1) {
		fprintf(stderr, "tern: %s is not a served domain\n", domain);
		store_close(&st);
		return 1;
	}
	int rc = tlsrpt_report_list(st, domain, on_report, &n);
	store_close(&st);
	if (n == 0)
		printf("no reports\n");
	return rc == STORE_OK ? 0 : 1;
}

int cli_tlsrpt(const struct config *cfg, int argc, char **argv)
{
	int send = 0, today = 0;
	if (argc == 2 && strcmp(argv[0], "list") == 0)
		return list(cfg, argv[1]);
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
	/* https: destinations are verified as the server verifies them. */
	char err[256];
	if (send && cfg->tls_ca_file[0] && anchors_add_file(cfg->tls_ca_file, err, sizeof err) < 0) {
		fprintf(stderr, "tern: TERN_TLS_CA_FILE: %s\n", err);
		return 2;
	}
	int64_t now = time_wall();
	uint32_t before = (uint32_t)(now / 86400) + (today ? 1 : 0);
	struct store *st = cli_store_open(cfg, send ? CLI_STORE_CHANGE : CLI_STORE_READ);
	if (st == NULL)
		return 1;
	if (!send) {
		unsigned lines = 0;
		int rc = store_meta_list(st, TLSRPT_SEEN_PREFIX, on_meta, &lines);
		if (lines == 0)
			printf("nothing to report\n");
		store_close(&st);
		return rc == STORE_OK ? 0 : 1;
	}
	struct tlsrpt_send_result res;
	char from[320];
	dmarc_reporter_from(cfg, st, from, sizeof from);
	int rc = tlsrpt_reporter_run(cfg, st, before, now, &res);
	store_close(&st);
	if (rc < 0) {
		fprintf(stderr, "tern tlsrpt report: cannot read the store\n");
		return 1;
	}
	printf("mailed: %u\nposted: %u\n", res.mailed, res.posted);
	printf("from: %s\n", rc == 1 ? "off (TERN_DMARC_REPORT_FROM or the setting)" : from);
	printf("no-record: %u\ndeferred: %u\nfailed: %u\n", res.no_dest, res.deferred, res.failed);
	return 0;
}
