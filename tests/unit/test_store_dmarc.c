/*
 * test_store_dmarc.c — DMARC reports in the store (store_dmarc.c): a
 * report stored and read back field for field, filed under the served
 * parent of its policy domain, a report mailed twice kept once, refused
 * for a domain not served, expired reports removed when the next one is
 * stored, gone with their domain; and the dmarc_seen rows: counts add up
 * per (day, domain, row), list stops at the day given, delete by day and
 * domain. Reports mailed in (dmarc_intake_message): malformed ones, ones
 * not ours, a gzip bomb, a zip of several members, TLS-RPT policies of
 * another domain.
 */
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "core/buf.h"
#include "mime/mime_decode.h"
#include "report/dmarc_intake.h"
#include "report/dmarc_report.h"
#include "report/tlsrpt_intake.h"
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

static char *slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	CHECK(f != NULL);
	char *b = calloc(1, 1 << 20);
	*len_r = f ? fread(b, 1, (1 << 20) - 1, f) : 0;
	if (f)
		fclose(f);
	return b;
}

/* A message to the rua address: a text part, then one attachment of
 * type ctype holding data (base64). */
static void report_mail(struct buf *m, const char *ctype, const void *data, size_t n)
{
	buf_reset(m);
	buf_append_c(m, "From: reports@example.net\r\nTo: postmaster@example.org\r\n"
			"Subject: Report Domain: example.org\r\nMIME-Version: 1.0\r\n"
			"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
			"--b1\r\nContent-Type: text/plain\r\n\r\nA report.\r\n");
	buf_printf(m, "--b1\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\n\r\n", ctype);
	mime_base64_lines(m, data, n);
	buf_append_c(m, "--b1--\r\n");
}

struct tlsrpt_got {
	int n;
	size_t npolicies;
	char domains[256];
};

static void on_tlsrpt(void *arg, const struct tlsrpt_report *r, int64_t received_at,
		      const char *dkim)
{
	struct tlsrpt_got *g = arg;
	(void)received_at;
	(void)dkim;
	g->n++;
	g->npolicies = r->npolicies;
	for (size_t i = 0; i < r->npolicies; i++) {
		size_t l = strlen(g->domains);
		snprintf(g->domains + l, sizeof g->domains - l, "%s ", r->policies[i].domain);
	}
}

/*
 * Reports mailed in (dmarc_intake_message) that are malformed or not
 * ours (RFC 9990 §3, RFC 8460 §3-4): found by their bytes whatever the
 * MIME type says; a report of a domain not served is refused with a
 * reason; a gzip bomb stops at the limit; a zip of several members
 * gives its report; a TLS-RPT report keeps only the policies of its
 * own domain.
 */
static void test_intake(struct store *st, int64_t now)
{
	size_t xn, zn;
	char *x = slurp("tests/data/dmarc/google.xml", &xn); /* about example.org */
	char *zip = slurp("tests/data/dmarc/several.zip", &zn);
	uint8_t *gz;
	size_t gzlen;
	char err[200];
	struct buf m;
	buf_init(&m, (size_t)1 << 24);
	struct got g = {0};
	CHECK_EQ_INT(store_dmarc_report_list(st, "example.org", on_report, &g), STORE_OK);
	int before = g.n;

	/* gzip sent as application/octet-stream: taken by its bytes. */
	CHECK_EQ_INT(dmarc_report_gzip((const uint8_t *)x, xn, &gz, &gzlen), 0);
	report_mail(&m, "application/octet-stream", gz, gzlen);
	CHECK_EQ_INT(dmarc_intake_message(st, buf_data(&m), buf_len(&m), now, NULL, NULL, err, sizeof err), 1);
	CHECK_EQ_STR(err, "");
	free(gz);
	/* A zip labelled application/gzip, a folder entry and a readme
	 * before the report: the .xml member is stored (the same report:
	 * kept once). */
	report_mail(&m, "application/gzip", zip, zn);
	CHECK_EQ_INT(dmarc_intake_message(st, buf_data(&m), buf_len(&m), now, NULL, NULL, err, sizeof err), 1);
	memset(&g, 0, sizeof g);
	CHECK_EQ_INT(store_dmarc_report_list(st, "example.org", on_report, &g), STORE_OK);
	CHECK_EQ_INT(g.n, before + 1);
	/* A report about a domain not served here: refused, said why. */
	char *other = malloc(xn + 16);
	memcpy(other, x, xn + 1);
	char *d = strstr(other, "<domain>example.org</domain>");
	CHECK(d != NULL);
	if (d)
		memcpy(d + 8, "example.net", 11);
	report_mail(&m, "application/xml", other, xn);
	CHECK_EQ_INT(dmarc_intake_message(st, buf_data(&m), buf_len(&m), now, NULL, NULL, err, sizeof err), 0);
	CHECK_EQ_STR(err, "example.net is not a served domain");
	free(other);
	/* Bytes that are no report under a report's type: nothing, quietly. */
	report_mail(&m, "application/gzip", "\x1f\x8bnot really gzip", 17);
	CHECK_EQ_INT(dmarc_intake_message(st, buf_data(&m), buf_len(&m), now, NULL, NULL, err, sizeof err), 0);
	CHECK_EQ_STR(err, "corrupt compressed data");
	report_mail(&m, "application/zip", "hello", 5);
	CHECK_EQ_INT(dmarc_intake_message(st, buf_data(&m), buf_len(&m), now, NULL, NULL, err, sizeof err), 0);
	CHECK_EQ_STR(err, "");
	/* A gzip bomb: 64 MiB of zeros in some 64 KiB; stops at the limit. */
	size_t big = (size_t)64 << 20;
	uint8_t *zeros = calloc(1, big);
	CHECK_EQ_INT(dmarc_report_gzip(zeros, big, &gz, &gzlen), 0);
	free(zeros);
	report_mail(&m, "application/gzip", gz, gzlen);
	CHECK_EQ_INT(dmarc_intake_message(st, buf_data(&m), buf_len(&m), now, NULL, NULL, err, sizeof err), 0);
	CHECK_EQ_STR(err, "report larger than the limit once inflated");
	free(gz);

	/* TLS-RPT (RFC 8460 §4.3-4.4): a report is about one policy
	 * domain; a second policy about another domain (served or not)
	 * is not filed under this one. It was. */
	static const char json[] =
		"{\"organization-name\":\"X\",\"date-range\":{\"start-datetime\":"
		"\"2026-11-20T00:00:00Z\",\"end-datetime\":\"2026-11-20T23:59:59Z\"},"
		"\"report-id\":\"mixed\",\"policies\":["
		"{\"policy\":{\"policy-type\":\"no-policy-found\",\"policy-domain\":\"example.org\"},"
		"\"summary\":{\"total-successful-session-count\":2,\"total-failure-session-count\":0}},"
		"{\"policy\":{\"policy-type\":\"no-policy-found\",\"policy-domain\":\"other.example\"},"
		"\"summary\":{\"total-successful-session-count\":9,\"total-failure-session-count\":9}},"
		"{\"policy\":{\"policy-type\":\"no-policy-found\",\"policy-domain\":\"MX.Example.ORG\"},"
		"\"summary\":{\"total-successful-session-count\":1,\"total-failure-session-count\":0}}]}";
	CHECK_EQ_INT(dmarc_report_gzip((const uint8_t *)json, sizeof json - 1, &gz, &gzlen), 0);
	report_mail(&m, "application/tlsrpt+gzip", gz, gzlen);
	CHECK_EQ_INT(dmarc_intake_message(st, buf_data(&m), buf_len(&m), now, NULL, NULL, err, sizeof err), 1);
	free(gz);
	struct tlsrpt_got tg = {0};
	CHECK_EQ_INT(tlsrpt_report_list(st, "example.org", on_tlsrpt, &tg), STORE_OK);
	CHECK_EQ_INT(tg.n, 1);
	CHECK_EQ_INT((int)tg.npolicies, 2);
	CHECK_EQ_STR(tg.domains, "example.org MX.Example.ORG ");
	/* The first policy's domain decides: not ours, refused. */
	static const char json2[] =
		"{\"organization-name\":\"X\",\"date-range\":{\"start-datetime\":"
		"\"2026-11-20T00:00:00Z\",\"end-datetime\":\"2026-11-20T23:59:59Z\"},"
		"\"report-id\":\"theirs\",\"policies\":["
		"{\"policy\":{\"policy-type\":\"no-policy-found\",\"policy-domain\":\"other.example\"},"
		"\"summary\":{\"total-successful-session-count\":9,\"total-failure-session-count\":9}}]}";
	report_mail(&m, "application/tlsrpt+json", json2, sizeof json2 - 1);
	CHECK_EQ_INT(dmarc_intake_message(st, buf_data(&m), buf_len(&m), now, NULL, NULL, err, sizeof err), 0);
	CHECK_EQ_STR(err, "policy-domain is not served here");

	buf_free(&m);
	free(x);
	free(zip);
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

	test_intake(st, now);

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
