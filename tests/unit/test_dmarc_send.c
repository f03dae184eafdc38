/*
 * test_dmarc_send.c — the reports tern sends: results counted in memory
 * (dmarc_seen_note) and flushed to the store add up per row; the row text
 * reads back; destinations from a table of records (rua= inside the
 * policy domain, an external one verified, one not verified, one with a
 * size limit too small, a temporary failure, no record); and a whole run
 * (dmarc_send_reports): one queued message per (day, domain) with a
 * record, DKIM-signed by the From domain, whose gzip attachment parses
 * (dmarc_report_parse) into the rows counted; days without a record are
 * dropped, today's are kept; and port 25's observer
 * (auth_results_observe) counting what was done, with the override
 * reason when that differs from the policy.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "admin/admin_domain.h"
#include "auth/auth_results.h"
#include "dkim/dkim.h"
#include "dns/dns_table.h"
#include "mime/mime_decode.h"
#include "mime/mime_tree.h"
#include "core/arena.h"
#include "core/log.h"
#include "report/dmarc_fail.h"
#include "report/dmarc_out.h"
#include "report/dmarc_seen.h"
#include "report/dmarc_send.h"
#include "report/report_queue.h"
#include "store/store_private.h"
#include "store/store_queue.h"
#include "unit_env.h"

static const char zone[] =
	"_dmarc.example.net TXT v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@example.net,mailto:agg@reports.example, mailto:nope@other.example,mailto:%22tiny%20ip=1.2.3.4%20y=%22@example.net!100\n"
	"example.net._report._dmarc.reports.example TXT v=DMARC1\n"
	"_dmarc.norua.example TXT v=DMARC1; p=none\n"
	"_dmarc.flaky.example TXT SERVFAIL\n"
	"_dmarc.sub.example.com TXT v=DMARC1; p=quarantine; rua=mailto:r@example.com\n"
	"_dmarc.example.com TXT v=DMARC1; p=none\n"
	"_dmarc.lone.example.org TXT v=DMARC1; p=none; rua=mailto:r@example.org\n"
	"_dmarc.news.example.co.uk TXT v=DMARC1; p=none; rua=mailto:psd@co.uk,mailto:org@example.co.uk,mailto:sib@reports.example.co.uk\n"
	"_dmarc.example.co.uk TXT v=DMARC1; p=reject\n"
	"_dmarc.co.uk TXT v=DMARC1; p=none; psd=y\n"
	"_dmarc.verified.co.uk TXT v=DMARC1; p=none; rua=mailto:psd@co.uk\n"
	"verified.co.uk._report._dmarc.co.uk TXT v=DMARC1\n"
	"_dmarc.flakyorg.example TXT v=DMARC1; p=none; rua=mailto:a@sub.flakyorg.example\n"
	"_dmarc.sub.flakyorg.example TXT SERVFAIL\n"
	"_dmarc.twice.example TXT v=DMARC1; p=none; rua=mailto:a@two.example,mailto:b@mixed.example\n"
	"twice.example._report._dmarc.two.example TXT v=DMARC1\n"
	"twice.example._report._dmarc.two.example TXT v=DMARC1; rua=mailto:x@two.example\n"
	"twice.example._report._dmarc.mixed.example TXT v=DMARC1\n"
	"twice.example._report._dmarc.mixed.example TXT something else\n"
	"_dmarc.other.example TXT v=DMARC1; p=none; rua=mailto:a@spf.example,mailto:b@x.example\n"
	"other.example._report._dmarc.spf.example TXT v=spf1 -all\n"
	"other.example._report._dmarc.spf.example TXT v=DMARC1x\n"
	"other.example._report._dmarc.x.example TXT v=DMARC2\n"
	"_dmarc.enc.example TXT v=DMARC1; p=none; rua=mailto:dmarc%2Breports@enc.example?subject=hi,"
	"mailto:dmarc+reports@ENC.example!10m, ftp://enc.example/x,mailto:bad%0D%0A@enc.example,"
	"mailto:x@enc.example!10q,mailto:big@enc.example!1k,mailto:big@enc.example!2k,"
	"mailto:agg@Reports%2Eexample\n"
	"enc.example._report._dmarc.reports.example TXT v=DMARC1\n"
	"_dmarc.over.example TXT v=DMARC1; p=none; rua=mailto:a@rcv.example,mailto:b@far.example; ruf=mailto:r@rcv.example\n"
	"over.example._report._dmarc.rcv.example TXT v=DMARC1; rua=mailto:away@evil.example,mailto:in@RCV.example!5k,mailto:second@rcv.example; ruf=mailto:f@rcv.example\n"
	"over.example._report._dmarc.far.example TXT v=DMARC1; rua=mailto:x@evil.example\n"
	"_dmarc.psd.example TXT v=DMARC1; p=reject; psd=y; rua=mailto:a@psd.example; ruf=mailto:f@psd.example\n"
	"_dmarc.size.example TXT v=DMARC1; p=none; rua=mailto:small@size.example!1k,mailto:all@size.example\n";

static struct dmarc_verdict verdict(const char *pdomain, const char *from, int pass)
{
	struct dmarc_verdict v;
	memset(&v, 0, sizeof v);
	v.result = pass ? DMARC_RESULT_PASS : DMARC_RESULT_FAIL;
	v.policy = DMARC_POLICY_REJECT;
	v.disposition = pass ? DMARC_POLICY_NONE : DMARC_POLICY_REJECT;
	v.dkim_aligned = pass;
	snprintf(v.header_from, sizeof v.header_from, "%s", from);
	snprintf(v.policy_domain, sizeof v.policy_domain, "%s", pdomain);
	return v;
}

static void note(const char *pdomain, const char *ip, int pass, int64_t now)
{
	struct dmarc_verdict v = verdict(pdomain, pdomain, pass);
	struct dmarc_seen_dkim dk = {pdomain, "s1", pass ? "pass" : "fail"};
	struct dmarc_seen_msg m = {&v, ip, "bounce.example", "bounce.example", "mfrom", "pass", &dk, 1, NULL, NULL};
	dmarc_seen_note(&m, now);
}

static void test_row_text(void)
{
	struct dmarc_verdict v = verdict("example.net", "example.net", 0);
	struct dmarc_seen_dkim dk[2] = {{"example.net", "s1", "fail"}, {"list\texample", "x", "pass"}};
	struct dmarc_seen_msg m = {&v, "192.0.2.1", "bounce.example", "bounce.example", "mfrom",
	                           "softfail", dk, 2, NULL, NULL};
	char t[2048];
	struct dmarc_report_row r;
	CHECK_EQ_INT(dmarc_seen_row_text(&m, t, sizeof t), 0);
	CHECK_EQ_STR(t, "192.0.2.1\treject\tfail\tfail\texample.net\tbounce.example\t2\texample.net\ts1\t"
	                "fail\tlist example\tx\tpass\tbounce.example\tmfrom\tsoftfail\t");
	CHECK_EQ_INT(dmarc_seen_row_parse(t, &r), 0);
	CHECK_EQ_STR(r.disposition, "reject");
	CHECK_EQ_INT(r.ndkim, 2);
	CHECK_EQ_STR(r.dkim_auth[1].domain, "list example");
	CHECK_EQ_STR(r.spf_auth[0].result, "softfail");
	CHECK_EQ_INT(r.nspf, 1);
	CHECK_EQ_INT(dmarc_seen_row_parse("1.2.3.4\tnone", &r), -1);
	CHECK_EQ_INT(dmarc_seen_row_text(&m, t, 40), -1);
	/* A temperror (tern check auth --record) carries what a fail would
	 * get; nothing was done to the message: none. */
	v.result = DMARC_RESULT_TEMPERROR;
	CHECK_EQ_INT(dmarc_seen_row_text(&m, t, sizeof t), 0);
	CHECK(strncmp(t, "192.0.2.1\tnone\t", 15) == 0);
	v.result = DMARC_RESULT_FAIL;
	/* The local policy's own disposition wins (a tolerated domain). */
	m.applied = "none";
	m.reason = "local_policy";
	CHECK_EQ_INT(dmarc_seen_row_text(&m, t, sizeof t), 0);
	CHECK(strncmp(t, "192.0.2.1\tnone\tfail\tfail\t", 24) == 0);
	CHECK_EQ_INT(dmarc_seen_row_parse(t, &r), 0);
	CHECK_EQ_STR(r.reason, "local_policy");
	struct dmarc_report rep = {0};
	struct buf xb;
	char perr[100];
	buf_init(&xb, 1 << 16);
	snprintf(rep.org_name, sizeof rep.org_name, "o");
	snprintf(rep.report_id, sizeof rep.report_id, "i");
	snprintf(rep.domain, sizeof rep.domain, "example.net");
	rep.rows = &r;
	rep.nrows = 1;
	CHECK_EQ_INT(dmarc_out_xml(&rep, &xb), 0);
	struct dmarc_report back;
	CHECK_EQ_INT(dmarc_report_parse(buf_data(&xb), buf_len(&xb), &back, perr, sizeof perr), 0);
	if (back.nrows == 1)
		CHECK_EQ_STR(back.rows[0].reason, "local_policy");
	dmarc_report_free(&back);
	buf_free(&xb);

	/* Every name and selector at its longest (a signature's selector
	 * may have several labels, up to 253 octets with the domain): the
	 * row is made and comes back whole, through the report's XML too.
	 * Rows over 2048 octets were dropped, selectors cut at 63. */
	char dom[254], sel[254], ip[] = "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff";
	for (int i = 0; i < 253; i++)
		dom[i] = sel[i] = (i % 50 == 49) ? '.' : 'a' + i % 26;
	dom[253] = sel[253] = '\0';
	sel[200] = '\0';
	struct dmarc_verdict lv = verdict(dom, dom, 0);
	struct dmarc_seen_dkim ldk[3] = {{dom, sel, "fail"}, {dom, sel, "fail"}, {dom, sel, "neutral"}};
	struct dmarc_seen_msg lm = {&lv, ip, dom, dom, "mfrom", "softfail", ldk, 3, NULL, NULL};
	char lt[4001];
	CHECK_EQ_INT(dmarc_seen_row_text(&lm, lt, sizeof lt), 0);
	CHECK(strlen(lt) > 2048);
	CHECK_EQ_INT(dmarc_seen_row_parse(lt, &r), 0);
	CHECK_EQ_INT(r.ndkim, 3);
	CHECK_EQ_STR(r.dkim_auth[2].selector, sel);
	CHECK_EQ_STR(r.dkim_auth[2].domain, dom);
	buf_init(&xb, 1 << 16);
	CHECK_EQ_INT(dmarc_out_xml(&rep, &xb), 0);
	CHECK_EQ_INT(dmarc_report_parse(buf_data(&xb), buf_len(&xb), &back, perr, sizeof perr), 0);
	CHECK_EQ_INT(back.flags & DMARC_REPORT_CUT, 0);
	if (back.nrows == 1)
		CHECK_EQ_STR(back.rows[0].dkim_auth[0].selector, sel);
	dmarc_report_free(&back);
	buf_free(&xb);

	/* A signature without s= (a permerror) and an SPF check without a
	 * domain: RFC 9990's schema requires selector, domain and result, so
	 * they are written empty, not left out (the report failed it). */
	struct dmarc_seen_dkim edk[1] = {{"example.net", "", "permerror"}};
	struct dmarc_seen_msg em = {&v, "192.0.2.1", "", "", "mfrom", "none", edk, 1, NULL, NULL};
	CHECK_EQ_INT(dmarc_seen_row_text(&em, t, sizeof t), 0);
	CHECK_EQ_INT(dmarc_seen_row_parse(t, &r), 0);
	buf_init(&xb, 1 << 16);
	CHECK_EQ_INT(dmarc_out_xml(&rep, &xb), 0);
	buf_append(&xb, "", 1);
	CHECK(strstr(buf_data(&xb), "<dkim>\n        <domain>example.net</domain>\n"
				    "        <selector></selector>\n        <result>permerror</result>\n") != NULL);
	CHECK(strstr(buf_data(&xb), "<spf>\n        <domain></domain>\n        <scope>mfrom</scope>\n"
				    "        <result>none</result>\n") != NULL);
	CHECK_EQ_INT(dmarc_report_parse(buf_data(&xb), buf_len(&xb) - 1, &back, perr, sizeof perr), 0);
	if (back.nrows == 1)
		CHECK_EQ_STR(back.rows[0].dkim_auth[0].result, "permerror");
	dmarc_report_free(&back);
	buf_free(&xb);
}

static void set_done(void *arg)
{
	*(int *)arg = 1;
}

static void test_dest(void)
{
	struct dns_table *tab = dns_table_new(zone, sizeof zone - 1);
	struct dns_resolver res = dns_table_resolver(tab);
	struct dmarc_dest d;
	int done = 0;

	dmarc_dest_init(&d, "Example.NET");
	CHECK(dns_drive(&res, &dmarc_dest_ops, &d, set_done, &done) == NULL);
	CHECK(done);
	CHECK_EQ_INT(dmarc_dest_status(&d), DMARC_DEST_OK);
	CHECK_EQ_INT(d.ndest, 4);
	CHECK_EQ_STR(d.dest[0].addr, "dmarc@example.net");
	CHECK(!d.dest[0].external && d.dest[0].state == 1);
	CHECK_EQ_STR(d.dest[1].addr, "agg@reports.example");
	CHECK(d.dest[1].external && d.dest[1].state == 1);
	CHECK_EQ_STR(d.dest[2].addr, "nope@other.example");
	CHECK(d.dest[2].external && d.dest[2].state == -1);
	CHECK_EQ_INT(d.dest[3].max_size, 100);
	/* Eight lookups: the record; the Tree Walks (RFC 9989 §4.10) of
	 * example.net (itself, net), reports.example (itself, example) and
	 * other.example (itself: example is known); the two destinations
	 * outside example.net's organization. */
	CHECK_EQ_INT(dns_table_queries(tab), 8);

	dmarc_dest_init(&d, "norua.example");
	dns_drive(&res, &dmarc_dest_ops, &d, set_done, &done);
	CHECK_EQ_INT(dmarc_dest_status(&d), DMARC_DEST_NONE);
	dmarc_dest_init(&d, "flaky.example");
	dns_drive(&res, &dmarc_dest_ops, &d, set_done, &done);
	CHECK_EQ_INT(dmarc_dest_status(&d), DMARC_DEST_TEMP);
	dmarc_dest_init(&d, "nothing.example");
	dns_drive(&res, &dmarc_dest_ops, &d, set_done, &done);
	CHECK_EQ_INT(dmarc_dest_status(&d), DMARC_DEST_NONE);
	/* The parent is the Organizational Domain (its record has the
	 * fewest labels, RFC 9989 §4.10.2): its address is inside, no
	 * verification asked; the record, then the walks from
	 * sub.example.com (itself, example.com, com) and example.com (both
	 * answered already). */
	unsigned before = dns_table_queries(tab);
	dmarc_dest_init(&d, "sub.example.com");
	dns_drive(&res, &dmarc_dest_ops, &d, set_done, &done);
	CHECK_EQ_INT(dmarc_dest_status(&d), DMARC_DEST_OK);
	CHECK(!d.dest[0].external && d.dest[0].state == 1);
	CHECK_EQ_INT(dns_table_queries(tab) - before, 4);
	dmarc_dest_clear(&d);
	/* A parent without a record is not the organization of a domain
	 * that has one (the walk finds lone.example.org's alone): outside,
	 * verified, and refused without example.org's record. */
	dmarc_dest_init(&d, "lone.example.org");
	dns_drive(&res, &dmarc_dest_ops, &d, set_done, &done);
	CHECK(d.dest[0].external && d.dest[0].state == -1);
	CHECK_EQ_INT(dmarc_dest_status(&d), DMARC_DEST_NONE);
	dmarc_dest_clear(&d);
	/*
	 * RFC 9990 §4 with RFC 9989's Tree Walk: the public suffix above
	 * the policy domain (co.uk, psd=y) is another organization, so its
	 * address is verified and refused without the record (the tern
	 * before this took it as inside, a parent, and sent to it); the
	 * Organizational Domain and a sibling under it are inside (the
	 * sibling was verified, and refused, before).
	 */
	dmarc_dest_init(&d, "news.example.co.uk");
	dns_drive(&res, &dmarc_dest_ops, &d, set_done, &done);
	CHECK_EQ_INT(d.ndest, 3);
	CHECK_EQ_STR(d.dest[0].addr, "psd@co.uk");
	CHECK(d.dest[0].external && d.dest[0].state == -1);
	CHECK_EQ_STR(d.dest[1].addr, "org@example.co.uk");
	CHECK(!d.dest[1].external && d.dest[1].state == 1);
	CHECK_EQ_STR(d.dest[2].addr, "sib@reports.example.co.uk");
	CHECK(!d.dest[2].external && d.dest[2].state == 1);
	CHECK_EQ_INT(dmarc_dest_status(&d), DMARC_DEST_OK);
	dmarc_dest_clear(&d);
	/* With the verification record the suffix's address is used. */
	dmarc_dest_init(&d, "verified.co.uk");
	dns_drive(&res, &dmarc_dest_ops, &d, set_done, &done);
	CHECK(d.dest[0].external && d.dest[0].state == 1);
	CHECK_EQ_INT(dmarc_dest_status(&d), DMARC_DEST_OK);
	dmarc_dest_clear(&d);
	/* A walk that fails temporarily: that destination waits. */
	dmarc_dest_init(&d, "flakyorg.example");
	dns_drive(&res, &dmarc_dest_ops, &d, set_done, &done);
	CHECK_EQ_INT(d.dest[0].state, -2);
	CHECK_EQ_INT(dmarc_dest_status(&d), DMARC_DEST_TEMP);
	dmarc_dest_clear(&d);
	/* Cut short inside the walks (a deadline): clearing frees them. */
	dmarc_dest_init(&d, "news.example.co.uk");
	{
		static struct dns_answer ans;
		const char *qn;
		uint16_t qt;
		for (int i = 0; i < 3; i++) { /* the record and two walk steps */
			CHECK(dmarc_dest_ops.step(&d, &qn, &qt) == 1);
			dns_table_lookup(tab, qn, qt, &ans);
			dmarc_dest_ops.answer(&d, &ans);
		}
		CHECK(d.org != NULL);
	}
	dmarc_dest_clear(&d);
	CHECK(d.org == NULL);
	/* Several records at the verification name (two v=DMARC1, or one
	 * beside another TXT): verified, the others discarded (RFC 7489
	 * §7.1 steps 5-7, RFC 9990 §4 steps 6-8); the one with a rua= says
	 * where on two.example the reports go (step 8). */
	dmarc_dest_init(&d, "twice.example");
	dns_drive(&res, &dmarc_dest_ops, &d, set_done, &done);
	CHECK_EQ_INT(d.ndest, 2);
	CHECK_EQ_STR(d.dest[0].addr, "x@two.example");
	CHECK_EQ_INT(d.dest[0].state, 1);
	CHECK_EQ_INT(d.dest[1].state, 1);
	CHECK_EQ_INT(dmarc_dest_status(&d), DMARC_DEST_OK);
	/* None that starts with v=DMARC1: not verified. */
	dmarc_dest_init(&d, "other.example");
	dns_drive(&res, &dmarc_dest_ops, &d, set_done, &done);
	CHECK_EQ_INT(d.ndest, 2);
	CHECK_EQ_INT(d.dest[0].state, -1);
	CHECK_EQ_INT(d.dest[1].state, -1);
	CHECK_EQ_INT(dmarc_dest_status(&d), DMARC_DEST_NONE);
	/* Percent-decoded (RFC 6068), hfields ignored, written twice used
	 * once under the larger limit; a CR/LF, a bad size, another scheme
	 * refused; the decoded domain is the one verified. */
	before = dns_table_queries(tab);
	dmarc_dest_init(&d, "enc.example");
	dns_drive(&res, &dmarc_dest_ops, &d, set_done, &done);
	CHECK_EQ_INT(d.ndest, 3);
	CHECK_EQ_STR(d.dest[0].addr, "dmarc+reports@enc.example");
	CHECK(d.dest[0].max_size == 0 && d.dest[0].state == 1);
	CHECK_EQ_STR(d.dest[1].addr, "big@enc.example");
	CHECK(d.dest[1].max_size == 2048);
	CHECK_EQ_STR(d.dest[2].addr, "agg@reports.example");
	CHECK(d.dest[2].external && d.dest[2].state == 1);
	/* the record, the walks of enc.example (2) and reports.example (1),
	 * the one verification */
	CHECK_EQ_INT(dns_table_queries(tab) - before, 5);

	/* RFC 7489 §7.1 step 8: the verification record's rua= replaces the
	 * destination with its URIs on the same host (its "!size" with it;
	 * one more is added), never with one elsewhere; a record naming
	 * only another host changes nothing. The tern before this sent to
	 * a@rcv.example. */
	before = dns_table_queries(tab);
	dmarc_dest_init(&d, "over.example");
	dns_drive(&res, &dmarc_dest_ops, &d, set_done, &done);
	CHECK_EQ_INT(dmarc_dest_status(&d), DMARC_DEST_OK);
	CHECK_EQ_INT(d.ndest, 3);
	CHECK_EQ_STR(d.dest[0].addr, "in@rcv.example");
	CHECK(d.dest[0].state == 1 && d.dest[0].max_size == 5120);
	CHECK_EQ_STR(d.dest[1].addr, "b@far.example");
	CHECK_EQ_INT(d.dest[1].state, 1);
	CHECK_EQ_STR(d.dest[2].addr, "second@rcv.example");
	CHECK(d.dest[2].state == 1 && d.dest[2].external && d.dest[2].max_size == 0);
	/* the record, the walks (over.example 2, rcv.example 1, far.example
	 * 1), the two verifications */
	CHECK_EQ_INT(dns_table_queries(tab) - before, 7);
	/* The failure reports' list: ruf= of the same record. */
	dmarc_dest_init(&d, "over.example");
	d.ruf = 1;
	dns_drive(&res, &dmarc_dest_ops, &d, set_done, &done);
	CHECK_EQ_INT(d.ndest, 1);
	CHECK_EQ_STR(d.dest[0].addr, "f@rcv.example");
	CHECK_EQ_INT(d.dest[0].state, 1);
	/* RFC 9991: no failure reports for a psd=y record (its aggregate
	 * reports still go). The tern before this reported to f@psd.example. */
	dmarc_dest_init(&d, "psd.example");
	d.ruf = 1;
	dns_drive(&res, &dmarc_dest_ops, &d, set_done, &done);
	CHECK_EQ_INT(d.ndest, 0);
	CHECK_EQ_INT(dmarc_dest_status(&d), DMARC_DEST_NONE);
	dmarc_dest_init(&d, "psd.example");
	dns_drive(&res, &dmarc_dest_ops, &d, set_done, &done);
	CHECK_EQ_INT(dmarc_dest_status(&d), DMARC_DEST_OK);
	CHECK_EQ_STR(d.dest[0].addr, "a@psd.example");
	dns_table_free(&tab);
}

struct entries {
	int n;
	struct store *st;
	char *data;
	size_t len;
	char rcpts[512];
	char sender[128];
};

static void on_entry(void *arg, const struct store_queue_entry *e)
{
	struct entries *q = arg;
	q->n++;
	snprintf(q->sender, sizeof q->sender, "%s", e->sender);
	for (size_t i = 0; i < e->nrcpts; i++) {
		strcat(q->rcpts, e->rcpts[i].addr);
		strcat(q->rcpts, " ");
	}
	free(q->data);
	CHECK_EQ_INT(store_queue_blob(q->st, e->blob_id, &q->data, &q->len), STORE_OK);
}

/* How many queued messages hold each of two strings. */
struct holding {
	struct store *st;
	const char *a, *b;
	int na, nb;
};

static void on_holding(void *arg, const struct store_queue_entry *e)
{
	struct holding *h = arg;
	char *data = NULL;
	size_t len = 0;
	if (store_queue_blob(h->st, e->blob_id, &data, &len) != STORE_OK)
		return;
	h->na += strstr(data, h->a) != NULL;
	h->nb += strstr(data, h->b) != NULL;
	free(data);
}

/* The XML of the message's gzip attachment. */
static int attachment_xml(const char *msg, size_t len, struct dmarc_report *r)
{
	struct arena *a = arena_new(8192);
	struct mime_tree t;
	int rc = -1;
	mime_tree_parse(msg, len, a, &t);
	for (uint32_t i = 0; i < t.nparts; i++) {
		const struct mime_part *p = &t.parts[i];
		if (!mime_part_is(p, "application", "gzip"))
			continue;
		struct buf raw;
		buf_init(&raw, len);
		mime_decode_all(mime_cte_parse(p->encoding),
		                str_make(msg + p->body_off, (size_t)(p->body_end - p->body_off)), &raw);
		uint8_t *xml;
		size_t xl;
		char err[128];
		if (dmarc_report_unpack((const uint8_t *)buf_data(&raw), buf_len(&raw), 1 << 20, &xml,
		                        &xl, err, sizeof err) == 0) {
			rc = dmarc_report_parse((const char *)xml, xl, r, err, sizeof err);
			if (rc)
				fprintf(stderr, "report: %s\n", err);
			free(xml);
		}
		buf_free(&raw);
	}
	arena_free(&a);
	return rc;
}

static int table_lookup(void *arg, struct dmarc_dest *d)
{
	int done = 0;
	dns_drive(arg, &dmarc_dest_ops, d, set_done, &done);
	return done ? 0 : -1;
}

struct rows {
	char text[8192];
};

static void on_row(void *arg, uint32_t day, const char *d, const char *row, uint32_t count)
{
	struct rows *r = arg;
	size_t l = strlen(r->text);
	(void)day;
	snprintf(r->text + l, sizeof r->text - l, "%s %u %s;", d, count, row);
}

/* A store in a fresh unit directory (dir, 256 bytes), or NULL (checked). */
static struct store *env_store(char *dir, const char *name)
{
	char err[256];
	struct store *st = NULL;
	if (unit_env_begin(dir, 256, name) != 0)
		return NULL;
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	return st;
}

/* Port 25's observer (auth_results_observe) counts what was done and,
 * when that is not what the policy asked, why. */
static void test_observe(void)
{
	char dir[256];
	struct store *st = env_store(dir, "dmarc-observe");
	if (!st)
		return;
	struct dmarc_verdict v = verdict("example.net", "example.net", 0);
	struct auth_results r = {0};
	r.client_ip = "192.0.2.7";
	r.mail_from = "b@example.net";
	r.helo = "h.example.net";
	r.has_spf = 1;
	r.spf = SPF_FAIL;
	r.spf_domain = "example.net";
	r.dmarc = DMARC_RESULT_FAIL;
	r.dmarc_verdict = &v;
	const char *cases[][2] = {{"accept", "dmarc_tolerated"}, {"accept", "arc_trusted"},
	                          {"reject", "dmarc_reject"}, {"tempfail", "dmarc_temperror"}};
	for (size_t i = 0; i < 4; i++) {
		r.client_ip = i == 0 ? "192.0.2.7" : i == 1 ? "192.0.2.8" : "192.0.2.9";
		r.action = cases[i][0];
		r.policy_reason = cases[i][1];
		auth_results_observe(&r);
	}
	CHECK_EQ_INT(dmarc_seen_flush(st), 3);
	struct rows rows = {""};
	CHECK_EQ_INT(store_dmarc_seen_list(st, UINT32_MAX, on_row, &rows), STORE_OK);
	CHECK(strstr(rows.text, "192.0.2.7\tnone\tfail\tfail\texample.net\texample.net\t0\t"
	                        "example.net\tmfrom\tfail\tlocal_policy;") != NULL);
	CHECK(strstr(rows.text, "192.0.2.8\tnone\t") != NULL &&
	      strstr(rows.text, "\ttrusted_forwarder;") != NULL);
	/* What the policy asked: no reason; a 451 is not counted. */
	CHECK(strstr(rows.text, "example.net 1 192.0.2.9\treject\t") != NULL &&
	      strstr(rows.text, "\tfail\t;") != NULL);
	if (unit_failures)
		fprintf(stderr, "rows: %s\n", rows.text);

	/* A row over 2048 octets (three signatures with 253-octet domains
	 * and 240-octet selectors) is counted, not dropped. */
	char sel[241], envfrom[254];
	for (int i = 0; i < 240; i++)
		sel[i] = (i % 50 == 49) ? '.' : 'a' + i % 26;
	sel[240] = '\0';
	memset(envfrom, 'e', 253);
	envfrom[253] = '\0';
	for (int i = 50; i < 253; i += 50)
		envfrom[i] = '.';
	struct dmarc_seen_dkim ldk[3] = {{envfrom, sel, "fail"}, {envfrom, sel, "fail"},
	                                 {envfrom, sel, "fail"}};
	struct dmarc_seen_msg lm = {&v, "192.0.2.10", envfrom, envfrom, "mfrom", "fail", ldk, 3, NULL, NULL};
	dmarc_seen_note(&lm, (int64_t)time(NULL));
	CHECK_EQ_INT(dmarc_seen_flush(st), 1);
	rows.text[0] = '\0';
	CHECK_EQ_INT(store_dmarc_seen_list(st, UINT32_MAX, on_row, &rows), STORE_OK);
	CHECK(strstr(rows.text, sel) != NULL && strstr(rows.text, "192.0.2.10\t") != NULL);
	store_close(&st);
	unit_rmrf(dir);
}

/* A store in a new test directory, with example.org (the reports' From
 * domain) and its DKIM keys; NULL when it could not be made. */
static struct store *store_with_sender(char *dir, size_t dirsz, const char *name)
{
	char err[256];
	struct store *st = NULL;
	if (unit_env_begin(dir, dirsz, name) != 0)
		return NULL;
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	if (!st)
		return NULL;
	struct dkim_keys k;
	CHECK_EQ_INT(admin_domain_add(st, "example.org", &k, err, sizeof err), STORE_OK);
	dkim_keys_wipe(&k);
	return st;
}

static void test_send(void)
{
	char dir[256];
	struct store *st = store_with_sender(dir, sizeof dir, "dmarc-send");
	if (!st)
		return;

	int64_t day = 20413, now = day * 86400 + 3600;
	for (int i = 0; i < 5; i++)
		note("example.net", "192.0.2.1", 1, now);
	note("example.net", "198.51.100.7", 0, now);
	note("norua.example", "192.0.2.9", 1, now);
	note("example.net", "192.0.2.1", 1, now + 86400); /* the next day: not yet */
	struct dmarc_verdict none = verdict("", "x.example", 0);
	struct dmarc_seen_msg nm = {&none, "192.0.2.3", "x", "x", "mfrom", "none", NULL, 0, NULL, NULL};
	dmarc_seen_note(&nm, now); /* no policy record: not counted */
	CHECK_EQ_INT(dmarc_seen_flush(st), 4);
	CHECK_EQ_INT(dmarc_seen_flush(st), 0);
	note("example.net", "192.0.2.1", 1, now);
	CHECK_EQ_INT(dmarc_seen_flush(st), 1);

	struct dns_table *tab = dns_table_new(zone, sizeof zone - 1);
	struct dns_resolver res = dns_table_resolver(tab);
	struct dmarc_send_opts o = {"postmaster@example.org", "mx.example.org", (uint32_t)day + 1,
	                            now + 86400, table_lookup, &res};
	struct dmarc_send_result r;
	/* The log, as JSON (a parser of the key=value pairs): a quote and a
	 * space in an address of the domain's own rua= stay inside its value. */
	char lpath[] = "/tmp/tern-dmarc-log-XXXXXX";
	int lfd = mkstemp(lpath);
	CHECK(lfd >= 0);
	log_init(lfd, LOG_INFO, 1);
	CHECK_EQ_INT(dmarc_send_reports(st, &o, &r), 0);
	log_init(2, LOG_WARN, 0);
	static char logged[16384];
	ssize_t ln = pread(lfd, logged, sizeof logged - 1, 0);
	logged[ln > 0 ? ln : 0] = '\0';
	close(lfd);
	unlink(lpath);
	CHECK(strstr(logged, "\"event\":\"report_too_big\",\"domain\":\"example.net\","
	                     "\"to\":\"\\\"tiny ip=1.2.3.4 y=\\\"@example.net\"") != NULL);
	CHECK(strstr(logged, "\"ip\":\"1.2.3.4\"") == NULL);
	CHECK(strstr(logged, "\"event\":\"report_queued\"") != NULL);
	CHECK_EQ_INT(r.reports, 1);
	CHECK_EQ_INT(r.no_dest, 1);
	CHECK_EQ_INT(r.deferred + r.failed, 0);

	struct entries q = {0};
	q.st = st;
	CHECK_EQ_INT(store_queue_list(st, on_entry, &q), STORE_OK);
	CHECK_EQ_INT(q.n, 1);
	CHECK_EQ_STR(q.sender, "postmaster@example.org");
	/* The verified destinations; the tiny one's limit is under the size. */
	CHECK_EQ_STR(q.rcpts, "dmarc@example.net agg@reports.example ");
	if (q.data) {
		CHECK(strncmp(q.data, "DKIM-Signature:", 15) == 0);
		CHECK(strstr(q.data, "d=example.org;") != NULL);
		/* Folded at 78 (RFC 5322 §2.1.1), as RFC 7489 §7.2.1.1's example is. */
		CHECK(strstr(q.data, "\r\nSubject: Report Domain: example.net Submitter: mx.example.org "
		                     "Report-ID:\r\n <204131763773200examplenet>\r\n") != NULL);
		/* The unique-id is letters and digits (RFC 7489 §7.2.1.1). */
		CHECK(strstr(q.data, "filename=\"mx.example.org!example.net!1763683200!1763769599!"
		                     "204131763773200examplenet.xml.gz\"") != NULL);
		struct dmarc_report rep;
		CHECK_EQ_INT(attachment_xml(q.data, q.len, &rep), 0);
		CHECK_EQ_STR(rep.org_name, "mx.example.org");
		CHECK_EQ_STR(rep.domain, "example.net");
		CHECK_EQ_STR(rep.p, "reject");
		CHECK_EQ_STR(rep.adkim, "s");
		/* Absent sp= is p=, fo= defaults to 0: both written, RFC 7489
		 * Appendix C's schema requires them. */
		CHECK_EQ_STR(rep.sp, "reject");
		CHECK_EQ_STR(rep.fo, "0");
		CHECK_EQ_INT(rep.begin, day * 86400);
		CHECK_EQ_INT(rep.nrows, 2);
		CHECK_EQ_INT(rep.total_count, 7);
		for (size_t i = 0; i < rep.nrows; i++) {
			const struct dmarc_report_row *w = &rep.rows[i];
			if (strcmp(w->source_ip, "192.0.2.1") == 0) {
				CHECK_EQ_INT(w->count, 6);
				CHECK_EQ_STR(w->dkim, "pass");
				CHECK_EQ_STR(w->disposition, "none");
			} else {
				CHECK_EQ_STR(w->source_ip, "198.51.100.7");
				CHECK_EQ_STR(w->disposition, "reject");
				CHECK_EQ_STR(w->dkim_auth[0].result, "fail");
			}
			CHECK_EQ_STR(w->spf_auth[0].scope, "mfrom");
		}
		if (rep.nrows)
			dmarc_report_free(&rep);
	}
	free(q.data);
	/* Reported and dropped days are gone; the next day is still kept. */
	CHECK_EQ_INT(dmarc_send_reports(st, &o, &r), 0);
	CHECK_EQ_INT(r.reports + r.no_dest + r.deferred + r.failed, 0);
	o.before_day = (uint32_t)day + 2;
	CHECK_EQ_INT(dmarc_send_reports(st, &o, &r), 0);
	CHECK_EQ_INT(r.reports, 1);
	/* The same day again (sent in parts, as --today does): the same
	 * row, a new run, a new Report-ID; with the day and domain alone it
	 * repeated the first part's and the receiver dropped it. */
	int64_t first = o.now;
	note("example.net", "192.0.2.1", 1, now + 86400);
	CHECK_EQ_INT(dmarc_seen_flush(st), 1);
	o.now += 60;
	CHECK_EQ_INT(dmarc_send_reports(st, &o, &r), 0);
	CHECK_EQ_INT(r.reports, 1);
	char ida[64], idb[64];
	snprintf(ida, sizeof ida, "<20414%lldexamplenet>", (long long)first);
	snprintf(idb, sizeof idb, "<20414%lldexamplenet>", (long long)o.now);
	struct holding hq = {st, ida, idb, 0, 0};
	CHECK_EQ_INT(store_queue_list(st, on_holding, &hq), STORE_OK);
	CHECK_EQ_INT(hq.na, 1);
	CHECK_EQ_INT(hq.nb, 1);
	/* More rows than one report holds (DMARC_REPORT_ROWS_MAX): the rest
	 * go in a second report of the same day; they were dropped. */
	for (int i = 0; i <= DMARC_REPORT_ROWS_MAX; i++) {
		char ip[32];
		snprintf(ip, sizeof ip, "10.%d.%d.1", i / 200, i % 200);
		note("example.net", ip, 1, now + 2 * 86400);
	}
	CHECK_EQ_INT(dmarc_seen_flush(st), DMARC_REPORT_ROWS_MAX + 1);
	o.before_day = (uint32_t)day + 3;
	CHECK_EQ_INT(dmarc_send_reports(st, &o, &r), 0);
	CHECK_EQ_INT(r.reports, 2);
	snprintf(ida, sizeof ida, "<20415%lldexamplenet>", (long long)o.now);
	snprintf(idb, sizeof idb, "<20415%lld1examplenet>", (long long)o.now);
	hq = (struct holding){st, ida, idb, 0, 0};
	CHECK_EQ_INT(store_queue_list(st, on_holding, &hq), STORE_OK);
	CHECK_EQ_INT(hq.na, 1);
	CHECK_EQ_INT(hq.nb, 1);
	/* Both sent, the day is forgotten. */
	CHECK_EQ_INT(dmarc_send_reports(st, &o, &r), 0);
	CHECK_EQ_INT(r.reports + r.no_dest + r.deferred + r.failed, 0);
	/* Queued if and only if its rows are consumed: every write after the
	 * queue's commit failing (a full disk, a crash in between), the rows
	 * were left and the next run queued the same report again. */
	note("example.net", "192.0.2.1", 1, now + 3 * 86400);
	CHECK_EQ_INT(dmarc_seen_flush(st), 1);
	o.before_day = (uint32_t)day + 4;
	o.now += 60;
	store_test_fail_commits_after(st, 1, EIO);
	CHECK_EQ_INT(dmarc_send_reports(st, &o, &r), 0);
	store_test_fail_commits(st, 0);
	CHECK_EQ_INT(r.reports, 1);
	o.now += 60;
	CHECK_EQ_INT(dmarc_send_reports(st, &o, &r), 0);
	CHECK_EQ_INT(r.reports + r.no_dest + r.deferred + r.failed, 0);
	/* And a report whose commit fails takes nothing: the rows wait. */
	note("example.net", "192.0.2.1", 1, now + 4 * 86400);
	CHECK_EQ_INT(dmarc_seen_flush(st), 1);
	o.before_day = (uint32_t)day + 5;
	store_test_fail_commit_once(st, EIO);
	CHECK_EQ_INT(dmarc_send_reports(st, &o, &r), 0);
	CHECK_EQ_INT(r.failed, 1);
	CHECK_EQ_INT(dmarc_send_reports(st, &o, &r), 0);
	CHECK_EQ_INT(r.reports, 1);
	dns_table_free(&tab);
	store_close(&st);
	unit_rmrf(dir);
}

/*
 * A "!size" limit is compared with the message that carries the report,
 * its attachment base64-encoded (RFC 7489 §7.2.1: "after compression and
 * after any encoding required by the particular transport mechanism"),
 * as failure reports already were: a one-row report's gzip is a few
 * hundred bytes, its message over 1 KiB, and the tern before this sent it
 * to small@ (it compared the gzip's size).
 */
static void test_size_limit(void)
{
	char dir[256];
	struct store *st = store_with_sender(dir, sizeof dir, "dmarc-size");
	if (!st)
		return;
	int64_t day = 20413, now = day * 86400 + 3600;
	note("size.example", "192.0.2.1", 1, now);
	CHECK_EQ_INT(dmarc_seen_flush(st), 1);
	struct dns_table *tab = dns_table_new(zone, sizeof zone - 1);
	struct dns_resolver res = dns_table_resolver(tab);
	struct dmarc_send_opts o = {"postmaster@example.org", "mx.example.org", (uint32_t)day + 1,
	                            now + 86400, table_lookup, &res};
	struct dmarc_send_result r;
	CHECK_EQ_INT(dmarc_send_reports(st, &o, &r), 0);
	CHECK_EQ_INT(r.reports, 1);
	struct entries q = {0};
	q.st = st;
	CHECK_EQ_INT(store_queue_list(st, on_entry, &q), STORE_OK);
	CHECK_EQ_INT(q.n, 1);
	CHECK_EQ_STR(q.rcpts, "all@size.example ");
	CHECK(q.len > 1024);
	CHECK(strstr(q.data ? q.data : "", "\r\nTo: all@size.example\r\n") != NULL);
	free(q.data);
	dns_table_free(&tab);
	store_close(&st);
	unit_rmrf(dir);
}

/* Failure reports: which fo= asks for which outcome, and what is queued. */
static void test_failure(void)
{
	/* fo=0: DMARC failed; 1: either mechanism unaligned; d/s: that one
	 * failed, reported as a DKIM (RFC 6651) or SPF (RFC 6652) failure:
	 * every report said Auth-Failure: dmarc, even when DMARC passed. */
	CHECK_EQ_STR(dmarc_fail_type("0", 1, 0, 0, 1, 0), "dmarc");
	CHECK(dmarc_fail_type("0", 0, 1, 0, 0, 1) == NULL);
	CHECK(dmarc_fail_type("", 0, 1, 0, 0, 1) == NULL);
	CHECK_EQ_STR(dmarc_fail_type("1", 0, 1, 0, 0, 0), "dmarc");
	CHECK(dmarc_fail_type("1", 0, 1, 1, 0, 0) == NULL);
	CHECK_EQ_STR(dmarc_fail_type("d", 0, 1, 1, 0, 1), "signature");
	CHECK(dmarc_fail_type("d", 1, 0, 0, 1, 0) == NULL);
	CHECK_EQ_STR(dmarc_fail_type("s", 0, 0, 1, 1, 0), "spf");
	CHECK_EQ_STR(dmarc_fail_type("d:s", 0, 0, 1, 1, 0), "spf");
	CHECK(dmarc_fail_type("d:s", 1, 0, 0, 0, 0) == NULL);
	CHECK_EQ_STR(dmarc_fail_type("d:s", 0, 1, 1, 1, 1), "signature");
	CHECK_EQ_STR(dmarc_fail_type("0:d", 1, 0, 0, 0, 1), "dmarc");
	CHECK_EQ_STR(dmarc_fail_type("s:1", 0, 1, 0, 1, 0), "dmarc");

	struct dmarc_verdict v = verdict("example.net", "example.net", 0);
	snprintf(v.fo, sizeof v.fo, "0");
	v.has_ruf = 1;
	const char plain[] = "From: a@example.net\r\nSubject: s\r\n\r\nsecret body\r\n";
	const char report[] = "From: a@example.net\r\nContent-Type:\r\n multipart/report; x=y\r\n\r\nb\r\n";
	struct dmarc_fail_msg m = {&v, "192.0.2.1", "b@example.net", "Authentication-Results: x; none\r\n",
				   "reject", 1, 0, NULL, NULL, plain, sizeof plain - 1, 0, 0, NULL,
				   DKIM_FAILED_SIGNATURE, NULL};
	int64_t now = 1800000000;
	CHECK_EQ_INT(dmarc_fail_note(&m, now), 1);
	CHECK_EQ_INT(dmarc_fail_note(&m, now + 10), 0);   /* same pair within the hour */
	m.source_ip = "192.0.2.2";
	m.mail_from = "";
	CHECK_EQ_INT(dmarc_fail_note(&m, now), 0);        /* a bounce */
	m.mail_from = "b@example.net";
	m.msg = report;
	m.len = sizeof report - 1;
	CHECK_EQ_INT(dmarc_fail_note(&m, now), 0);        /* a report */
	m.msg = plain;
	m.len = sizeof plain - 1;
	v.has_ruf = 0;
	CHECK_EQ_INT(dmarc_fail_note(&m, now), 0);        /* no ruf= */
	v.has_ruf = 1;
	CHECK_EQ_INT(dmarc_fail_note(&m, now), 1);
	m.source_ip = "192.0.2.1";
	CHECK_EQ_INT(dmarc_fail_note(&m, now + 3600), 1); /* an hour later */
	CHECK_EQ_INT(dmarc_fail_pending(), 3);

	/* The message: the header, not the body. */
	struct dmarc_fail_job j;
	memset(&j, 0, sizeof j);
	snprintf(j.pdomain, sizeof j.pdomain, "example.net");
	snprintf(j.alignment, sizeof j.alignment, "dkim");
	snprintf(j.dkim_domain, sizeof j.dkim_domain, "example.net");
	snprintf(j.dkim_identity, sizeof j.dkim_identity, "@example.net");
	snprintf(j.dkim_selector, sizeof j.dkim_selector, "s1");
	j.auth_results = (char *)"Authentication-Results: x; dmarc=fail\r\n";
	j.header = (char *)"From: a@example.net\nSubject: s\n";
	struct buf b;
	buf_init(&b, 1 << 16);
	CHECK_EQ_INT(dmarc_fail_message(&j, "r@example.org", "f@example.net", "mx.example.org", now, &b), 0);
	buf_append(&b, "", 1);
	CHECK(strstr(buf_data(&b), "Content-Type: multipart/report; report-type=feedback-report;") != NULL);
	CHECK(strstr(buf_data(&b), "\r\nAuth-Failure: dmarc\r\nAuthentication-Results: x; dmarc=fail\r\n") != NULL);
	CHECK(strstr(buf_data(&b), "text/rfc822-headers\r\n\r\nFrom: a@example.net\r\nSubject: s\r\n\r\n--") != NULL);
	/* RFC 9991: DKIM-Domain, -Identity and -Selector for a DKIM failure of an aligned identifier. */
	CHECK(strstr(buf_data(&b), "\r\nIdentity-Alignment: dkim\r\n") != NULL);
	CHECK(strstr(buf_data(&b), "\r\nDKIM-Domain: example.net\r\nDKIM-Identity: @example.net\r\n"
				   "DKIM-Selector: s1\r\n") != NULL);
	buf_free(&b);
	/* A report fo=s asked for while DMARC passed: an SPF failure report. */
	snprintf(j.type, sizeof j.type, "spf");
	buf_init(&b, 1 << 16);
	CHECK_EQ_INT(dmarc_fail_message(&j, "r@example.org", "f@example.net", "mx.example.org", now,
					&b),
		     0);
	buf_append(&b, "", 1);
	CHECK(strstr(buf_data(&b), "\r\nAuth-Failure: spf\r\n") != NULL);
	CHECK(strstr(buf_data(&b), "Auth-Failure: dmarc") == NULL);
	CHECK(strstr(buf_data(&b), "SPF-DNS") == NULL); /* none kept: none written */
	buf_free(&b);
	/* A body hash failure, with the SPF records read: one SPF-DNS field
	 * each (RFC 6591 §3.1), a long one folded within 998 octets. */
	snprintf(j.type, sizeof j.type, "bodyhash");
	static char lines[6000];
	size_t ll = (size_t)snprintf(lines, sizeof lines, "txt: example.net: v=spf1 include:_spf.example.net -all\n"
							    "txt: _spf.example.net: v=spf1");
	for (int i = 0; i < 200; i++)
		ll += (size_t)snprintf(lines + ll, sizeof lines - ll, " ip4:198.51.100.%d", i);
	snprintf(lines + ll, sizeof lines - ll, " -all\n");
	j.spf_dns = lines;
	buf_init(&b, 1 << 16);
	CHECK_EQ_INT(dmarc_fail_message(&j, "r@example.org", "f@example.net", "mx.example.org", now, &b), 0);
	buf_append(&b, "", 1);
	CHECK(strstr(buf_data(&b), "\r\nAuth-Failure: bodyhash\r\n") != NULL);
	CHECK(strstr(buf_data(&b), "\r\nSPF-DNS: txt: example.net: v=spf1 include:_spf.example.net -all\r\n"
				   "SPF-DNS: txt: _spf.example.net: v=spf1 ip4:198.51.100.0") != NULL);
	CHECK(strstr(buf_data(&b), "ip4:198.51.100.199 -all\r\n\r\n--") != NULL);
	size_t longest = 0, cur = 0;
	for (const char *c = buf_data(&b); *c; c++) {
		cur = *c == '\n' ? 0 : cur + 1;
		longest = cur > longest ? cur : longest;
	}
	CHECK(longest < 998);
	j.spf_dns = NULL;
	buf_free(&b);

	/* Reports off: the queue is emptied, nothing sent. */
	CHECK_EQ_INT(dmarc_fail_send(NULL, "", "h", NULL, NULL, now), 0);
	CHECK_EQ_INT(dmarc_fail_pending(), 0);
}

/* The saved failure reports' fields (NUL-separated), by record. */
struct saved {
	int n;
	char alignment[8][16], identity[8][64], type[8][16], spf_dns[8][256];
};

static void on_saved(void *arg, const char *name, const void *val, size_t len)
{
	struct saved *sv = arg;
	(void)name;
	const char *f[14] = {0};
	size_t at = 0;
	for (int k = 0; k < 14 && at < len; k++) {
		f[k] = (const char *)val + at;
		at += strlen(f[k]) + 1;
	}
	if (sv->n < 8 && f[5]) {
		snprintf(sv->alignment[sv->n], sizeof sv->alignment[0], "%s", f[5]);
		snprintf(sv->identity[sv->n], sizeof sv->identity[0], "%s", f[11] ? f[11] : "(none)");
		snprintf(sv->type[sv->n], sizeof sv->type[0], "%s", f[12] ? f[12] : "(none)");
		snprintf(sv->spf_dns[sv->n], sizeof sv->spf_dns[0], "%s", f[13] ? f[13] : "(none)");
		sv->n++;
	}
}

/*
 * Identity-Alignment is what failed to authenticate an aligned identity
 * (RFC 9991, which redefines RFC 7489's field): it was what passed
 * aligned, so "none" in every report of a DMARC failure. Kept across a
 * stop with the DKIM identity; a report saved before the identity was
 * still loads.
 */
static void test_failure_alignment(void)
{
	char dir[256];
	struct store *st = env_store(dir, "dmarc-fail-align");
	if (!st)
		return;
	struct dmarc_verdict v = verdict("example.net", "example.net", 0);
	snprintf(v.fo, sizeof v.fo, "0");
	v.has_ruf = 1;
	const char plain[] = "From: a@example.net\r\nSubject: s\r\n\r\nbody\r\n";
	struct dmarc_fail_msg m = {&v, "192.0.2.50", "b@example.net",
				   "Authentication-Results: x; none\r\n",
				   "reject", 1, 1, "example.net", "s1", plain, sizeof plain - 1,
				   1, 1, "x@\r\n example.net", DKIM_FAILED_SIGNATURE, NULL};
	int64_t now = 1800000000;
	CHECK_EQ_INT(dmarc_fail_note(&m, now), 1);
	m.source_ip = "192.0.2.51";
	m.spf_aligned_failed = 0;
	CHECK_EQ_INT(dmarc_fail_note(&m, now), 1);
	m.source_ip = "192.0.2.52";
	m.dkim_aligned_failed = 0;
	m.dkim_identity = NULL;
	CHECK_EQ_INT(dmarc_fail_note(&m, now), 1);
	m.source_ip = "192.0.2.53";
	m.spf_aligned_failed = 1;
	CHECK_EQ_INT(dmarc_fail_note(&m, now), 1);
	/* DMARC passed, SPF failed: fo=s asks for an SPF failure report. */
	struct dmarc_verdict pv = verdict("example.net", "example.net", 1);
	snprintf(pv.fo, sizeof pv.fo, "s");
	pv.has_ruf = 1;
	m.verdict = &pv;
	m.source_ip = "192.0.2.54";
	CHECK_EQ_INT(dmarc_fail_note(&m, now), 1);
	/*
	 * fo=d, a signature whose body hash did not match: Auth-Failure:
	 * bodyhash (RFC 6591 §3.2.2, RFC 6651), and a revoked key's:
	 * revoked; both were "signature". With the SPF evaluation, its
	 * records as SPF-DNS values (RFC 6591 §3.1), which were not written.
	 */
	static const char spf_zone[] = "example.net TXT v=spf1 include:_spf.example.net -all\n"
				       "_spf.example.net TXT v=spf1 ip4:203.0.113.0/24 -all\n";
	struct dns_table *tab = dns_table_new(spf_zone, sizeof spf_zone - 1);
	struct spf_eval *spf = spf_eval_new(SPF_ID_MAILFROM, "192.0.2.55", "b@example.net", "h", NULL, now);
	const char *qn;
	uint16_t qt;
	static struct dns_answer ans;
	while (spf_eval_step(spf, &qn, &qt) == SPF_STEP_QUERY) {
		dns_table_lookup(tab, qn, qt, &ans);
		spf_eval_answer(spf, &ans);
	}
	snprintf(pv.fo, sizeof pv.fo, "d");
	m.dkim_failure = DKIM_FAILED_BODYHASH;
	m.spf = spf;
	m.source_ip = "192.0.2.55";
	CHECK_EQ_INT(dmarc_fail_note(&m, now), 1);
	m.dkim_failure = DKIM_FAILED_REVOKED;
	m.spf = NULL;
	m.source_ip = "192.0.2.56";
	CHECK_EQ_INT(dmarc_fail_note(&m, now), 1);
	spf_eval_free(&spf);
	dns_table_free(&tab);
	dmarc_fail_stop();
	CHECK_EQ_INT(dmarc_fail_save(st), 7);
	struct saved sv = {0};
	CHECK_EQ_INT(store_meta_list(st, STORE_DMARC_FAIL_PREFIX, on_saved, &sv), STORE_OK);
	CHECK_EQ_INT(sv.n, 7);
	CHECK_EQ_STR(sv.type[5], "bodyhash");
	CHECK_EQ_STR(sv.spf_dns[5], "txt: example.net: v=spf1 include:_spf.example.net -all\n"
				    "txt: _spf.example.net: v=spf1 ip4:203.0.113.0/24 -all\n");
	CHECK_EQ_STR(sv.type[6], "revoked");
	CHECK_EQ_STR(sv.spf_dns[6], "");
	CHECK_EQ_STR(sv.type[0], "dmarc");
	CHECK_EQ_STR(sv.type[4], "spf");
	CHECK_EQ_STR(sv.alignment[0], "dkim, spf");
	CHECK_EQ_STR(sv.identity[0], "x@example.net"); /* unfolded */
	CHECK_EQ_STR(sv.alignment[1], "dkim");
	CHECK_EQ_STR(sv.alignment[2], "none");
	CHECK_EQ_STR(sv.identity[2], "");
	CHECK_EQ_STR(sv.alignment[3], "spf");
	/* One saved by an older tern: eleven fields, no identity. */
	static const char old[] = "example.org\0example.org\0" "192.0.2.9\0b@example.org\0"
				  "delivered\0none\0\0\0A-R: x\r\n\0From: a@example.org\r\n\0"
				  "1800000000";
	CHECK_EQ_INT(store_meta_put(st, STORE_DMARC_FAIL_PREFIX "99", old, sizeof old, 0), STORE_OK);
	CHECK_EQ_INT(dmarc_fail_load(st), 8);
	CHECK_EQ_INT(dmarc_fail_send(NULL, "", "h", NULL, NULL, now), 0); /* reports off: emptied */
	CHECK_EQ_INT(dmarc_fail_pending(), 0);
	store_close(&st);
	unit_rmrf(dir);
}

/*
 * A report From an internationalized domain (TERN_DOMAIN may be a U-label)
 * is signed as submission signs: with the domain's keys in either
 * spelling, d= in A-labels (RFC 8616). report_queue_signed refused it.
 */
static void test_signed_idn(void)
{
	char dir[256], err[256];
	if (unit_env_begin(dir, sizeof dir, "report-idn") != 0)
		return;
	struct store *st = NULL;
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	if (!st)
		return;
	struct dkim_keys k;
	CHECK_EQ_INT(admin_domain_add(st, "b\xc3\xbc" "cher.example", &k, err, sizeof err), STORE_OK);
	dkim_keys_wipe(&k);
	static const char msg[] = "From: postmaster@xn--bcher-kva.example\r\nTo: r@example.net\r\n"
	                          "Subject: Report\r\n\r\nbody\r\n";
	const char *rcpts[] = {"r@example.net"};
	const char *froms[] = {"postmaster@b\xc3\xbc" "cher.example", "postmaster@xn--bcher-kva.example"};
	for (size_t i = 0; i < 2; i++) {
		uint64_t id = 0;
		CHECK_EQ_INT(report_queue_signed(st, "dmarc", froms[i], rcpts, 1, msg, sizeof msg - 1,
		                                 1700000000, NULL, NULL, &id),
		             0);
		struct entries q = {0};
		q.st = st;
		CHECK_EQ_INT(store_queue_list(st, on_entry, &q), STORE_OK);
		CHECK_EQ_INT(q.n, (int)i + 1);
		if (q.data) {
			CHECK(strncmp(q.data, "DKIM-Signature:", 15) == 0);
			CHECK(strstr(q.data, "d=xn--bcher-kva.example;") != NULL);
		}
		free(q.data);
	}
	store_close(&st);
	unit_rmrf(dir);
}

int main(void)
{
	test_row_text();
	test_dest();
	test_observe();
	test_send();
	test_size_limit();
	test_failure();
	test_failure_alignment();
	test_signed_idn();
	return unit_done("test_dmarc_send");
}
