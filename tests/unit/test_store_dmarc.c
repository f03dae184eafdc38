/*
 * test_store_dmarc.c — DMARC reports in the store (store_dmarc.c): a
 * report stored and read back field for field, filed under the served
 * parent of its policy domain, a report mailed twice kept once, refused
 * for a domain not served, expired reports removed when the next one is
 * stored, gone with their domain; and the dmarc_seen rows: counts add up
 * per (day, domain, row), list stops at the day given, delete by day and
 * domain.
 */
#include <stdlib.h>
#include <string.h>

#include "report/dmarc_report.h"
#include "unit_env.h"

struct got {
	int n;
	char ids[512];
	uint64_t total;
	int64_t received;
	struct dmarc_report first;
	struct dmarc_report_row row0;
};

static void on_report(void *arg, const struct dmarc_report *r, int64_t received_at)
{
	struct got *g = arg;
	if (g->n++ == 0) {
		g->first = *r;
		g->first.rows = NULL;
		if (r->nrows)
			g->row0 = r->rows[0];
		g->received = received_at;
	}
	g->total += r->total_count;
	strncat(g->ids, r->report_id, sizeof g->ids - strlen(g->ids) - 2);
	strcat(g->ids, " ");
}

static void report(struct dmarc_report *r, struct dmarc_report_row *row, const char *domain,
		   const char *id, int64_t begin)
{
	memset(r, 0, sizeof *r);
	memset(row, 0, sizeof *row);
	snprintf(r->org_name, sizeof r->org_name, "google.com");
	snprintf(r->email, sizeof r->email, "noreply@google.com");
	snprintf(r->report_id, sizeof r->report_id, "%s", id);
	snprintf(r->domain, sizeof r->domain, "%s", domain);
	snprintf(r->p, sizeof r->p, "reject");
	r->pct = -1;
	r->begin = begin;
	r->end = begin + 86400;
	snprintf(row->source_ip, sizeof row->source_ip, "192.0.2.1");
	row->count = 7;
	snprintf(row->disposition, sizeof row->disposition, "none");
	snprintf(row->dkim, sizeof row->dkim, "pass");
	snprintf(row->spf, sizeof row->spf, "fail");
	snprintf(row->header_from, sizeof row->header_from, "%s", domain);
	row->ndkim = 1;
	snprintf(row->dkim_auth[0].domain, sizeof row->dkim_auth[0].domain, "%s", domain);
	snprintf(row->dkim_auth[0].selector, sizeof row->dkim_auth[0].selector, "s1");
	snprintf(row->dkim_auth[0].result, sizeof row->dkim_auth[0].result, "pass");
	r->rows = row;
	r->nrows = 1;
	r->total_count = 7;
}

struct seen {
	int n;
	char text[1024];
};

static void on_seen(void *arg, uint32_t day, const char *d, const char *row, uint32_t count)
{
	struct seen *s = arg;
	s->n++;
	size_t l = strlen(s->text);
	snprintf(s->text + l, sizeof s->text - l, "%u %s %s %u;", day, d, row, count);
}

int main(void)
{
	char dir[256], err[256];
	uint32_t acc;
	if (unit_env_begin(dir, sizeof dir, "store-dmarc") != 0)
		return 1;
	struct store *st = unit_store_with_account(dir, 0, "admin@example.org", &acc);
	if (st == NULL)
		return 1;

	int64_t now = 1795305600; /* 2026-11-22 */
	struct dmarc_report r;
	struct dmarc_report_row row;
	report(&r, &row, "news.example.org", "a1", now - 86400);
	CHECK_EQ_INT(store_dmarc_report_put(st, &r, now, err, sizeof err), STORE_OK);
	/* The same report mailed again is one record. */
	CHECK_EQ_INT(store_dmarc_report_put(st, &r, now, err, sizeof err), STORE_OK);
	report(&r, &row, "example.org", "a0", now - 2 * 86400);
	CHECK_EQ_INT(store_dmarc_report_put(st, &r, now, err, sizeof err), STORE_OK);
	report(&r, &row, "example.net", "x", now);
	CHECK_EQ_INT(store_dmarc_report_put(st, &r, now, err, sizeof err), STORE_ENOTFOUND);
	CHECK_EQ_STR(err, "example.net is not a served domain");

	struct got g = {0};
	CHECK_EQ_INT(store_dmarc_report_list(st, "EXAMPLE.org", on_report, &g), STORE_OK);
	CHECK_EQ_INT(g.n, 2);
	CHECK_EQ_STR(g.ids, "a0 a1 ");
	CHECK_EQ_INT(g.total, 14);
	CHECK_EQ_INT(g.received, now);
	CHECK_EQ_STR(g.first.org_name, "google.com");
	CHECK_EQ_STR(g.first.p, "reject");
	CHECK_EQ_INT(g.first.pct, -1);
	CHECK_EQ_INT(g.first.end, now - 86400);
	CHECK_EQ_STR(g.row0.source_ip, "192.0.2.1");
	CHECK_EQ_INT(g.row0.count, 7);
	CHECK_EQ_STR(g.row0.spf, "fail");
	CHECK_EQ_STR(g.row0.dkim_auth[0].selector, "s1");
	CHECK_EQ_INT(store_dmarc_report_list(st, "example.net", on_report, &g), STORE_ENOTFOUND);

	/* Half a year later, storing a report removes the expired ones. */
	int64_t later = now + (int64_t)(STORE_DMARC_KEEP_DAYS + 1) * 86400;
	report(&r, &row, "example.org", "new", later - 86400);
	CHECK_EQ_INT(store_dmarc_report_put(st, &r, later, err, sizeof err), STORE_OK);
	memset(&g, 0, sizeof g);
	CHECK_EQ_INT(store_dmarc_report_list(st, "example.org", on_report, &g), STORE_OK);
	CHECK_EQ_STR(g.ids, "new ");

	/* dmarc_seen: counts add up; list stops at the day; delete. */
	const char *rows[] = {"192.0.2.1\tnone\tpass\tfail", "192.0.2.2\treject\tfail\tfail"};
	uint32_t counts[] = {2, 1};
	CHECK_EQ_INT(store_dmarc_seen_add(st, 20000, "Example.COM", rows, counts, 2), STORE_OK);
	CHECK_EQ_INT(store_dmarc_seen_add(st, 20000, "example.com", rows, counts, 1), STORE_OK);
	CHECK_EQ_INT(store_dmarc_seen_add(st, 20001, "example.com", rows, counts, 1), STORE_OK);
	struct seen s = {0};
	CHECK_EQ_INT(store_dmarc_seen_list(st, 20001, on_seen, &s), STORE_OK);
	CHECK_EQ_INT(s.n, 2);
	CHECK(strstr(s.text, "20000 example.com 192.0.2.1\tnone\tpass\tfail 4;") != NULL);
	CHECK(strstr(s.text, "20000 example.com 192.0.2.2\treject\tfail\tfail 1;") != NULL);
	CHECK_EQ_INT(store_dmarc_seen_del(st, 20000, "example.com"), STORE_OK);
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(store_dmarc_seen_list(st, 30000, on_seen, &s), STORE_OK);
	CHECK_EQ_INT(s.n, 1);
	CHECK(strncmp(s.text, "20001 example.com", 17) == 0);

	/* Deleting the domain deletes its reports. */
	CHECK_EQ_INT(store_account_del(st, "admin@example.org", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_domain_del(st, "example.org", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_domain_add(st, "example.org", err, sizeof err), STORE_OK);
	memset(&g, 0, sizeof g);
	CHECK_EQ_INT(store_dmarc_report_list(st, "example.org", on_report, &g), STORE_OK);
	CHECK_EQ_INT(g.n, 0);

	store_close(&st);
	unit_rmrf(dir);
	return unit_done("test_store_dmarc");
}
