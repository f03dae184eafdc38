/*
 * test_dmarc.c — DMARC (RFC 9989): the record parser (every tag, the
 * older pct/ri/rf, every way a record is not one), the Author Domain
 * rule, and the evaluator against a table of records: RFC 9989's
 * alignment examples (Appendix B.1) and tree walk examples (§4.10,
 * §4.10.2, §5.1.8), sp=, np=, psd=y and psd=n, t=, strict and relaxed
 * alignment for SPF and DKIM, and each failure branch (no record, several
 * records, bad v=, invalid p= with and without rua=, temperror at each
 * stage, the query budget), synchronously and with deferred answers.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/dmarc.h"
#include "auth/dmarc_record.h"
#include "dns/dns_table.h"
#include "unit.h"

/* ---- the record ---- */

static int parse(const char *s, struct dmarc_record *r)
{
	return dmarc_record_parse(s, strlen(s), r);
}

static void test_record(void)
{
	struct dmarc_record r;

	CHECK_EQ_INT(parse("v=DMARC1; p=reject", &r), 1);
	CHECK_EQ_INT(r.p, DMARC_POLICY_REJECT);
	CHECK_EQ_INT(r.sp, DMARC_POLICY_ABSENT);
	CHECK_EQ_INT(r.np, DMARC_POLICY_ABSENT);
	CHECK_EQ_INT(r.psd, DMARC_PSD_U);
	CHECK_EQ_INT(r.adkim, 'r');
	CHECK_EQ_INT(r.aspf, 'r');
	CHECK_EQ_INT(r.testing, 0);
	CHECK_EQ_SLICE(r.fo, "0");
	CHECK_EQ_INT(r.bad_tags, 0);

	/* Every tag at once, white space where §4.8 allows it, a trailing ";". */
	const char *all = "v = DMARC1 ; p = quarantine; sp=reject; np=none; psd=n; t=y; adkim=s; "
			  "aspf=s; rua=mailto:a@example.com, mailto:b@example.net!10m; "
			  "ruf=mailto:f@example.com; fo=0:d:s ;";
	CHECK_EQ_INT(parse(all, &r), 1);
	CHECK_EQ_INT(r.p, DMARC_POLICY_QUARANTINE);
	CHECK_EQ_INT(r.sp, DMARC_POLICY_REJECT);
	CHECK_EQ_INT(r.np, DMARC_POLICY_NONE);
	CHECK_EQ_INT(r.psd, DMARC_PSD_N);
	CHECK_EQ_INT(r.testing, 1);
	CHECK_EQ_INT(r.adkim, 's');
	CHECK_EQ_INT(r.aspf, 's');
	CHECK_EQ_SLICE(r.rua, "mailto:a@example.com, mailto:b@example.net!10m");
	CHECK_EQ_INT(r.rua_valid, 1);
	CHECK_EQ_SLICE(r.ruf, "mailto:f@example.com");
	CHECK_EQ_SLICE(r.fo, "0:d:s");
	CHECK_EQ_INT(r.bad_tags, 0);
	/* Every prefix of it parses without reading past its end; short ones are not records. */
	for (size_t n = 0; n <= strlen(all); n++) {
		char *cut = malloc(n ? n : 1);
		memcpy(cut, all, n);
		int got = dmarc_record_parse(cut, n, &r);
		if (n < strlen("v = DMARC1"))
			CHECK_EQ_INT(got, 0);
		else
			CHECK_EQ_INT(got, 1);
		free(cut);
	}

	/* Not a DMARC record at all: v= missing, not first, wrong case, wrong version. */
	CHECK_EQ_INT(parse("p=reject; v=DMARC1", &r), 0);
	CHECK_EQ_INT(parse("v=dmarc1; p=reject", &r), 0);
	CHECK_EQ_INT(parse("v=DMARC2; p=reject", &r), 0);
	CHECK_EQ_INT(parse("v=spf1 -all", &r), 0);
	CHECK_EQ_INT(parse("", &r), 0);
	CHECK_EQ_INT(parse("v=DMARC1x; p=none", &r), 0);
	CHECK_EQ_INT(parse("V=DMARC1", &r), 1); /* the tag name is case-insensitive ABNF */
	CHECK_EQ_INT(r.p, DMARC_POLICY_ABSENT);

	/* Policies: invalid values are kept as invalid (§4.10.1 decides later). */
	CHECK_EQ_INT(parse("v=DMARC1; p=bogus; sp=REJECT; np=x", &r), 1);
	CHECK_EQ_INT(r.p, DMARC_POLICY_INVALID);
	CHECK_EQ_INT(r.sp, DMARC_POLICY_REJECT);
	CHECK_EQ_INT(r.np, DMARC_POLICY_INVALID);
	/* The first of a repeated tag wins. */
	CHECK_EQ_INT(parse("v=DMARC1; p=none; p=reject", &r), 1);
	CHECK_EQ_INT(r.p, DMARC_POLICY_NONE);

	/* Bad values keep defaults and are counted; unknown tags and pieces are ignored. */
	CHECK_EQ_INT(parse("v=DMARC1; p=none; adkim=x; aspf=; psd=maybe; t=yes; fo=0:1; foo=bar; junk", &r), 1);
	CHECK_EQ_INT(r.adkim, 'r');
	CHECK_EQ_INT(r.aspf, 'r');
	CHECK_EQ_INT(r.psd, DMARC_PSD_U);
	CHECK_EQ_INT(r.testing, 0);
	CHECK_EQ_SLICE(r.fo, "0");
	CHECK_EQ_INT(r.bad_tags, 4); /* aspf= is not a tag-spec at all */
	CHECK_EQ_INT(parse("v=DMARC1; p=none; rua=not a uri", &r), 1);
	CHECK_EQ_INT(r.rua_valid, 0);
	CHECK_EQ_INT(parse("v=DMARC1; p=none; rua=bogus, mailto:x@example.com", &r), 1);
	CHECK_EQ_INT(r.rua_valid, 1);

	/* Older records (Appendix A.6): pct=0 is t=y, other pct is t=n, t= wins; ri/rf ignored. */
	CHECK_EQ_INT(parse("v=DMARC1; p=reject; pct=0", &r), 1);
	CHECK_EQ_INT(r.testing, 1);
	CHECK_EQ_INT(parse("v=DMARC1; p=reject; pct=50; ri=86400; rf=afrf", &r), 1);
	CHECK_EQ_INT(r.testing, 0);
	CHECK_EQ_INT(r.pct, 50);
	CHECK_EQ_INT(r.bad_tags, 0);
	CHECK_EQ_INT(parse("v=DMARC1; p=reject; pct=0; t=n", &r), 1);
	CHECK_EQ_INT(r.testing, 0);
	CHECK_EQ_INT(parse("v=DMARC1; p=reject; pct=101", &r), 1);
	CHECK_EQ_INT(r.testing, 0);
	CHECK_EQ_INT(r.bad_tags, 1);

	CHECK_EQ_STR(dmarc_policy_name(DMARC_POLICY_QUARANTINE), "quarantine");
	CHECK_EQ_STR(dmarc_policy_name(DMARC_POLICY_INVALID), "none");
}

/* ---- the Author Domain ---- */

static int author(const char *a, const char *b, char *out)
{
	struct str v[2] = { str_c(a), str_c(b) };
	return dmarc_author_domain(v, b ? 2 : (a ? 1 : 0), out, DMARC_DOMAIN_MAX);
}

/*
 * A From field with more addresses than are read: the ones past the
 * limit must not go unseen, or 32 addresses of a forger's domain (or 16
 * empty groups) in front hide the domain a reader also sees after them.
 */
static void test_author_many(void)
{
	char d[DMARC_DOMAIN_MAX], v[4096];
	size_t n = 0;
	for (int i = 0; i < 32; i++)
		n += (size_t)snprintf(v + n, sizeof v - n, "a%d@evil.example, ", i);
	snprintf(v + n, sizeof v - n, "CEO <ceo@bank.example>");
	CHECK_EQ_INT(author(v, NULL, d), -2);
	n = 0;
	for (int i = 0; i < 16; i++)
		n += (size_t)snprintf(v + n, sizeof v - n, "g%d:;, ", i);
	snprintf(v + n, sizeof v - n, "ceo@bank.example");
	CHECK_EQ_INT(author(v, NULL, d), -2);
	/* 32 addresses of one domain are read whole: that domain. */
	n = 0;
	for (int i = 0; i < 32; i++)
		n += (size_t)snprintf(v + n, sizeof v - n, "%sa%d@Bank.example", i ? ", " : "", i);
	CHECK_EQ_INT(author(v, NULL, d), 0);
	CHECK_EQ_STR(d, "bank.example");
}

/*
 * An address the parser skips as malformed, which a lenient client shows
 * (the text before "<" as a display name, a second address after the
 * first): the author is ambiguous. An "@" quoted, in a comment or in a
 * source route is no address.
 */
static void test_author_skipped(void)
{
	char d[DMARC_DOMAIN_MAX];
	CHECK_EQ_INT(author("x@evil.example <ceo@bank.example>", NULL, d), -2);
	CHECK_EQ_INT(author("ceo@bank.example <x@evil.example>", NULL, d), -2);
	CHECK_EQ_INT(author("x@evil.example ceo@bank.example", NULL, d), -2);
	CHECK_EQ_INT(author("CEO <ceo@bank.example", NULL, d), 0); /* read as the reader sees it */
	CHECK_EQ_STR(d, "bank.example");
	CHECK_EQ_INT(author("\"x@evil.example\" <ceo@Bank.example>", NULL, d), 0);
	CHECK_EQ_STR(d, "bank.example");
	CHECK_EQ_INT(author("\"a\\\"@\" (c (x@evil.example) \\)@) <ceo@bank.example>", NULL, d), 0);
	CHECK_EQ_INT(author("<@r1.example,@r2.example:ceo@bank.example>", NULL, d), 0);
	CHECK_EQ_INT(author("\"a@b\"@bank.example, ceo@[192.0.2.1]", NULL, d), -2); /* a literal: unusable */
	CHECK_EQ_INT(author("g: a@bank.example, b@bank.example;", NULL, d), 0);
	CHECK_EQ_STR(d, "bank.example");
	/* The address again as the display name (careless scripts): one domain. */
	CHECK_EQ_INT(author("noreply@Shop.example. <noreply@shop.example>", NULL, d), 0);
	CHECK_EQ_STR(d, "shop.example");
	CHECK_EQ_INT(author("x@[192.0.2.1] <ceo@bank.example>", NULL, d), -2);
}

static void test_author(void)
{
	char d[DMARC_DOMAIN_MAX];
	CHECK_EQ_INT(author("Alice <alice@Example.COM>", NULL, d), 0);
	CHECK_EQ_STR(d, "example.com");
	CHECK_EQ_INT(author("a@example.com, \"B\" <b@EXAMPLE.com>", NULL, d), 0);
	CHECK_EQ_STR(d, "example.com");
	CHECK_EQ_INT(author("a@example.com", "b@example.com", d), 0);
	/* §5.3.1: several domains or none: no DMARC; several (-2) are
	 * refused on port 25, also a second address without a domain. */
	CHECK_EQ_INT(author("a@example.com, b@example.net", NULL, d), -2);
	CHECK_EQ_INT(author("a@example.com", "b@example.org", d), -2);
	CHECK_EQ_INT(author("a@example.com, no-domain", NULL, d), -2);
	CHECK_EQ_INT(author("no-domain", "a@example.com", d), -2);
	CHECK_EQ_INT(author("undisclosed-recipients:;", NULL, d), -1);
	/* A domain with an empty label is none (one final dot is allowed). */
	CHECK_EQ_INT(author("alice@example.com..", NULL, d), -1);
	CHECK_EQ_INT(author("alice@example..com", NULL, d), -1);
	CHECK_EQ_INT(author("alice@.example.com", NULL, d), -1);
	CHECK_EQ_INT(author("alice@example.com..", "bob@example.com", d), -2);
	CHECK_EQ_INT(author("alice@example.com.", NULL, d), 0);
	CHECK_EQ_STR(d, "example.com");
	test_author_many();
	test_author_skipped();
	/* A U-label From finds the policy at its A-label (RFC 7489 §3.2),
	 * and is the same domain as the A-label form. */
	CHECK_EQ_INT(author("CEO <ceo@B\xc3\xa4nk.Test>", NULL, d), 0);
	CHECK_EQ_STR(d, "xn--bnk-qla.test");
	CHECK_EQ_INT(author("a@b\xc3\xa4nk.test, b@xn--bnk-qla.test", NULL, d), 0);
	/* Letters outside ASCII fold too: BÄNK, Bänk and bänk are one domain
	 * (as EXAMPLE and example are), and so are ΤΡΑΠΕΖΑ and τραπεζα. */
	CHECK_EQ_INT(author("CEO <ceo@B\xc3\x84NK.test>", NULL, d), 0);
	CHECK_EQ_STR(d, "xn--bnk-qla.test");
	CHECK_EQ_INT(author("a@B\xc3\x84NK.test, b@b\xc3\xa4nk.test", NULL, d), 0);
	CHECK_EQ_INT(author("a@\xce\xa4\xce\xa1\xce\x91.test", NULL, d), 0);
	char d2[DMARC_DOMAIN_MAX];
	CHECK_EQ_INT(author("a@\xcf\x84\xcf\x81\xce\xb1.test", NULL, d2), 0);
	CHECK_EQ_STR(d, d2);
	CHECK_EQ_INT(author("a@\xe1\xba\xa0.test", NULL, d), 0); /* U+1EA0, Vietnamese */
	CHECK_EQ_INT(author("a@\xe1\xba\xa1.test", NULL, d2), 0);
	CHECK_EQ_STR(d, d2);
	CHECK_EQ_INT(author("a@b\xff\xfenk.test", NULL, d), -1); /* not UTF-8 */
	CHECK_EQ_INT(author("no-domain", NULL, d), -1);
	CHECK_EQ_INT(author(NULL, NULL, d), -1);
}

/* ---- the evaluator ---- */

/* A resolver over a table that logs each name asked and may defer answers. */
struct logres {
	struct dns_table *t;
	char names[64][300];
	int n;
	int defer;
	dns_answer_cb *cb;
	void *arg;
	uint16_t type;
};

static void *log_start(void *ctx, const char *name, uint16_t type, dns_answer_cb *cb, void *arg)
{
	struct logres *l = ctx;
	if (l->n < 64)
		snprintf(l->names[l->n], sizeof l->names[0], "%s %s", dns_type_name(type), name);
	l->n++;
	if (l->defer) {
		l->cb = cb;
		l->arg = arg;
		l->type = type;
		return l;
	}
	struct dns_answer *a = malloc(sizeof *a);
	dns_table_lookup(l->t, name, type, a);
	cb(arg, a);
	free(a);
	return NULL;
}

static void log_cancel(void *ctx, void *h)
{
	struct logres *l = ctx;
	(void)h;
	l->cb = NULL;
}

struct outcome {
	struct dmarc_verdict v;
	int calls;
	unsigned queries;
};

static void done(void *arg, struct dmarc_eval *e)
{
	struct outcome *o = arg;
	o->calls++;
	o->v = *dmarc_eval_verdict(e);
	o->queries = dmarc_eval_queries(e);
}

static const char *const base_zone =
	"_dmarc.example.com TXT v=DMARC1; p=reject; rua=mailto:d@example.com\n"
	"example.com A 192.0.2.1\n"
	"child.example.com A 192.0.2.2\n"
	"example.net A 192.0.2.3\n";

static struct logres lr;
static unsigned sample; /* dmarc_input.sample of the next eval() */
static const char *dkim_temp; /* d= of the next eval()'s DKIM temperrors, space-separated */

/* Evaluates with the base zone plus extra; dkim is a space-separated list of passing d=. */
static struct outcome eval(const char *extra, const char *from, enum spf_result spf,
			   const char *spf_domain, const char *dkim)
{
	char dk[512], dt[512];
	const char *doms[DMARC_DKIM_MAX + 8], *temps[8];
	size_t nd = 0, nt = 0, zsz = strlen(base_zone) + (extra ? strlen(extra) : 0) + 1;
	char *zone = malloc(zsz);
	snprintf(zone, zsz, "%s%s", base_zone, extra ? extra : "");
	snprintf(dk, sizeof dk, "%s", dkim ? dkim : "");
	for (char *tok = strtok(dk, " "); tok && nd < DMARC_DKIM_MAX + 8; tok = strtok(NULL, " "))
		doms[nd++] = tok;
	snprintf(dt, sizeof dt, "%s", dkim_temp ? dkim_temp : "");
	for (char *tok = strtok(dt, " "); tok && nt < 8; tok = strtok(NULL, " "))
		temps[nt++] = tok;
	memset(&lr, 0, sizeof lr);
	lr.t = dns_table_new(zone, strlen(zone));
	struct dns_resolver r = { log_start, log_cancel, &lr };
	struct dmarc_input in = { from, spf, spf_domain, doms, nd, sample, temps, nt };
	struct dmarc_eval *e = dmarc_eval_new(&in);
	struct outcome o = { 0 };
	CHECK(dmarc_run(&r, e, done, &o) == NULL);
	CHECK_EQ_INT(o.calls, 1);
	CHECK_EQ_INT(o.queries, (unsigned)lr.n);
	CHECK((unsigned)lr.n <= DMARC_QUERIES_MAX);
	dmarc_eval_free(&e);
	dns_table_free(&lr.t);
	free(zone);
	return o;
}

/* Appendix B.1: the SPF and DKIM alignment examples (example.com publishes p=reject). */
static void test_rfc_alignment(void)
{
	struct outcome o;
	/* B.1.1 Example 1: strict SPF alignment. */
	o = eval(NULL, "example.com", SPF_PASS, "example.com", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	CHECK(o.v.spf_aligned && !o.v.dkim_aligned);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_NONE);
	CHECK_EQ_INT(o.v.policy, DMARC_POLICY_REJECT);
	CHECK_EQ_STR(o.v.header_from, "example.com");
	CHECK_EQ_STR(o.v.policy_domain, "example.com");
	CHECK_EQ_STR(o.v.policy_tag, "p");
	/* Example 2: relaxed, MAIL FROM child.example.com. */
	o = eval(NULL, "example.com", SPF_PASS, "child.example.com", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	CHECK(o.v.spf_aligned);
	/* ... which strict aspf=s refuses. */
	o = eval("_dmarc.strict.test TXT v=DMARC1; p=reject; aspf=s\n", "strict.test", SPF_PASS,
		 "child.strict.test", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_REJECT);
	/* Example 3: no alignment; the subdomain's policy comes from example.com's record. */
	o = eval(NULL, "child.example.com", SPF_PASS, "example.net", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_REJECT);
	CHECK_EQ_STR(o.v.policy_domain, "example.com");
	CHECK_EQ_STR(o.v.org_domain, "example.com");
	CHECK_EQ_STR(o.v.header_from, "child.example.com");
	/* A failing SPF aligns nothing, even for the same domain. */
	o = eval(NULL, "example.com", SPF_SOFTFAIL, "example.com", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);

	/* B.1.2: DKIM strict, relaxed, none. */
	o = eval(NULL, "example.com", SPF_NONE, NULL, "example.com");
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	CHECK(o.v.dkim_aligned && !o.v.spf_aligned);
	CHECK_EQ_STR(o.v.dkim_domain, "example.com");
	o = eval(NULL, "child.example.com", SPF_NONE, NULL, "example.com");
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	o = eval(NULL, "child.example.com", SPF_NONE, NULL, "example.net");
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	/* adkim=s: d= a parent or a child is not enough. */
	o = eval("_dmarc.strict.test TXT v=DMARC1; p=quarantine; adkim=s\nsub.strict.test A 192.0.2.9\n",
		 "strict.test", SPF_NONE, NULL, "sub.strict.test");
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_QUARANTINE);
	o = eval("_dmarc.strict.test TXT v=DMARC1; p=quarantine; adkim=s\n", "strict.test", SPF_NONE,
		 NULL, "other.test strict.test");
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	CHECK_EQ_STR(o.v.dkim_domain, "strict.test");
	/* A d= under another organization that merely ends alike does not align. */
	o = eval(NULL, "example.com", SPF_PASS, "badexample.com", "notexample.com");
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	CHECK_EQ_STR(o.v.reason, "no authenticated identifier aligned");
}

/* The alignment of identifiers that did not pass (failure reports' Identity-Alignment). */
static void test_verdict_aligned(void)
{
	/* A spoof of child.example.com: example.com's record, relaxed modes. */
	struct outcome o = eval(NULL, "child.example.com", SPF_FAIL, "example.net", NULL);
	CHECK_EQ_INT(o.v.aspf, 'r');
	CHECK_EQ_INT(o.v.adkim, 'r');
	CHECK(dmarc_verdict_aligned(&o.v, "child.example.com", 's'));
	CHECK(dmarc_verdict_aligned(&o.v, "CHILD.example.com", 's'));
	CHECK(!dmarc_verdict_aligned(&o.v, "example.com", 's'));
	CHECK(dmarc_verdict_aligned(&o.v, "example.com", 'r'));
	CHECK(dmarc_verdict_aligned(&o.v, "bounce.example.com", 'r'));
	CHECK(!dmarc_verdict_aligned(&o.v, "notexample.com", 'r'));
	CHECK(!dmarc_verdict_aligned(&o.v, "example.net", 'r'));
	CHECK(!dmarc_verdict_aligned(&o.v, "com", 'r'));
	CHECK(!dmarc_verdict_aligned(&o.v, "", 'r'));
	CHECK(!dmarc_verdict_aligned(&o.v, NULL, 'r'));
	/* The record's modes are the verdict's. */
	o = eval("_dmarc.strict.test TXT v=DMARC1; p=reject; aspf=s; adkim=s\n", "strict.test", SPF_FAIL,
		 "strict.test", NULL);
	CHECK_EQ_INT(o.v.aspf, 's');
	CHECK_EQ_INT(o.v.adkim, 's');
	CHECK(dmarc_verdict_aligned(&o.v, "strict.test", o.v.aspf));
	CHECK(!dmarc_verdict_aligned(&o.v, "sub.strict.test", o.v.adkim));
	/* No record: nothing is aligned with anything. */
	o = eval(NULL, "nowhere.test", SPF_FAIL, "nowhere.test", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_NONE);
	CHECK(!dmarc_verdict_aligned(&o.v, "nowhere.test", 'r'));
}

/* §4.10: the tree walk's queries, including the shortcut for long names. */
static void test_walk(void)
{
	struct outcome o = eval(NULL, "a.b.c.d.e.f.g.h.i.j.mail.example.com", SPF_NONE, NULL, NULL);
	static const char *const want[] = {
		"TXT _dmarc.a.b.c.d.e.f.g.h.i.j.mail.example.com", "TXT _dmarc.g.h.i.j.mail.example.com",
		"TXT _dmarc.h.i.j.mail.example.com", "TXT _dmarc.i.j.mail.example.com",
		"TXT _dmarc.j.mail.example.com", "TXT _dmarc.mail.example.com",
		"TXT _dmarc.example.com", "TXT _dmarc.com",
	};
	CHECK_EQ_INT(lr.n, 8);
	for (int i = 0; i < 8 && i < lr.n; i++)
		CHECK_EQ_STR(lr.names[i], want[i]);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	CHECK_EQ_STR(o.v.policy_domain, "example.com");
	CHECK_EQ_STR(o.v.org_domain, "example.com");

	/* §5.1.8: the psd=n record at b.c.d.e.f.g.example.com is never seen from a 10-label name. */
	o = eval("_dmarc.b.c.d.e.f.g.example.com TXT v=DMARC1; p=none; psd=n\n",
		 "mail.a.b.c.d.e.f.g.example.com", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(lr.n, 8);
	CHECK_EQ_STR(lr.names[1], "TXT _dmarc.c.d.e.f.g.example.com");
	CHECK_EQ_STR(o.v.policy_domain, "example.com");
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_REJECT);
	/* ... unless the Author Domain publishes its own, which is always asked first. */
	o = eval("_dmarc.mail.a.b.c.d.e.f.g.example.com TXT v=DMARC1; p=none\n",
		 "mail.a.b.c.d.e.f.g.example.com", SPF_NONE, NULL, NULL);
	CHECK_EQ_STR(o.v.policy_domain, "mail.a.b.c.d.e.f.g.example.com");
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_NONE);

	/* §4.10.2's examples: records at mail.example.com and example.com: org is example.com. */
	o = eval("_dmarc.mail.example.com TXT v=DMARC1; p=quarantine\n", "a.mail.example.com",
		 SPF_NONE, NULL, NULL);
	CHECK_EQ_STR(o.v.org_domain, "example.com");
	CHECK_EQ_STR(o.v.policy_domain, "example.com");
	/* ... psd=n at mail.example.com: it is the org domain and its record governs. */
	o = eval("_dmarc.mail.example.com TXT v=DMARC1; p=quarantine; psd=n\n", "a.mail.example.com",
		 SPF_NONE, NULL, "example.com");
	CHECK_EQ_STR(o.v.org_domain, "mail.example.com");
	CHECK_EQ_STR(o.v.policy_domain, "mail.example.com");
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL); /* d=example.com is another organization now */
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_QUARANTINE);
	o = eval("_dmarc.mail.example.com TXT v=DMARC1; p=quarantine; psd=n\n", "a.mail.example.com",
		 SPF_NONE, NULL, "b.mail.example.com");
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	/* ... only a psd=y record at the top: the org domain is the label below it. */
	o = eval("_dmarc.psd.test TXT v=DMARC1; p=reject; psd=y\n", "a.mail.brand.psd.test",
		 SPF_NONE, NULL, "brand.psd.test");
	CHECK_EQ_STR(o.v.org_domain, "brand.psd.test");
	CHECK_EQ_STR(o.v.policy_domain, "psd.test");
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	o = eval("_dmarc.psd.test TXT v=DMARC1; p=reject; psd=y\nbrand.psd.test A 192.0.2.5\n"
		 "a.brand.psd.test A 192.0.2.6\n",
		 "a.brand.psd.test", SPF_PASS, "other.psd.test", "x.other.psd.test");
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_REJECT);
	CHECK_EQ_STR(o.v.policy_tag, "p");
	/* RFC 9991: the ruf= of a psd=y record is not to be considered, so
	 * the verdict names none (no failure report is queued for it); an
	 * Organizational Domain's ruf= still counts. */
	o = eval("_dmarc.psd.test TXT v=DMARC1; p=reject; psd=y; ruf=mailto:f@psd.test\n",
		 "a.brand.psd.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	CHECK_EQ_STR(o.v.policy_domain, "psd.test");
	CHECK_EQ_INT(o.v.has_ruf, 0);
	o = eval("_dmarc.psd.test TXT v=DMARC1; p=reject; psd=y; ruf=mailto:f@psd.test\n"
		 "_dmarc.brand.psd.test TXT v=DMARC1; p=none; ruf=mailto:f@brand.psd.test\n",
		 "a.brand.psd.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_STR(o.v.policy_domain, "brand.psd.test");
	CHECK_EQ_INT(o.v.has_ruf, 1);
	/* A PSD's record does not replace the Organizational Domain's own. */
	o = eval("_dmarc.psd.test TXT v=DMARC1; p=reject; psd=y\n_dmarc.brand.psd.test TXT v=DMARC1; p=none\n",
		 "a.brand.psd.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_STR(o.v.policy_domain, "brand.psd.test");
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_NONE);
	/* psd=y on the Author Domain's own record: it is its own org domain. */
	o = eval("_dmarc.psd.test TXT v=DMARC1; p=reject; psd=y\n", "psd.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_STR(o.v.org_domain, "psd.test");
	CHECK_EQ_INT(lr.n, 1);
}

/* Appendix B.4: the tree walk examples, each identifier checked on its own. */
static void test_rfc_tree_walks(void)
{
	const char *signing = "_dmarc.signing.example.com TXT v=DMARC1; p=none\n";
	struct outcome o;
	/* B.4.1: example.com and signing.example.com publish, com does not. */
	o = eval(signing, "example.com", SPF_PASS, "example.com", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	CHECK_EQ_STR(o.v.org_domain, "example.com");
	o = eval(signing, "example.com", SPF_NONE, NULL, "signing.example.com");
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	CHECK(o.v.dkim_aligned);
	CHECK_EQ_STR(lr.names[0], "TXT _dmarc.example.com");
	CHECK_EQ_STR(lr.names[1], "TXT _dmarc.com");
	CHECK_EQ_STR(lr.names[2], "TXT _dmarc.signing.example.com");
	CHECK_EQ_INT(lr.n, 3); /* example.com and com are not asked twice */
	CHECK_EQ_STR(o.v.policy_domain, "example.com");

	/* B.4.2: a deep Author Domain without a record; example.com governs. */
	o = eval(signing, "a.b.c.d.e.f.g.h.i.j.k.example.com", SPF_PASS, "example.com", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	CHECK_EQ_STR(lr.names[1], "TXT _dmarc.g.h.i.j.k.example.com");
	CHECK_EQ_INT(lr.n, 8);
	o = eval(signing, "a.b.c.d.e.f.g.h.i.j.k.example.com", SPF_NONE, NULL, "signing.example.com");
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	CHECK_EQ_STR(o.v.policy_domain, "example.com");
	o = eval(signing, "a.b.c.d.e.f.g.h.i.j.k.example.com", SPF_FAIL, "example.com", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_REJECT);

	/* B.4.3: bank.example is a PSD; giant.bank.example its own organization. */
	const char *bank = "_dmarc.bank.example TXT v=DMARC1; p=reject; psd=y\n"
			   "_dmarc.giant.bank.example TXT v=DMARC1; p=quarantine\n";
	o = eval(bank, "giant.bank.example", SPF_PASS, "mail.giant.bank.example", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	CHECK_EQ_STR(o.v.org_domain, "giant.bank.example");
	CHECK_EQ_STR(o.v.policy_domain, "giant.bank.example");
	o = eval(bank, "giant.bank.example", SPF_NONE, NULL, "mail.mega.bank.example");
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_QUARANTINE);
}

/* sp= for existing subdomains, np= for non-existent ones, p= at the domain itself. */
static void test_subdomain_policy(void)
{
	const char *z = "_dmarc.org.test TXT v=DMARC1; p=none; sp=quarantine; np=reject\n"
			"exists.org.test A 192.0.2.7\nmx.org.test MX 10 mail.org.test\n";
	struct outcome o = eval(z, "org.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_NONE);
	CHECK_EQ_STR(o.v.policy_tag, "p");
	o = eval(z, "exists.org.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_QUARANTINE);
	CHECK_EQ_STR(o.v.policy_tag, "sp");
	/* Any record makes a name exist (Appendix A.4): an MX alone will do. */
	o = eval(z, "mx.org.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_STR(o.v.policy_tag, "sp");
	o = eval(z, "ghost.org.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_REJECT);
	CHECK_EQ_STR(o.v.policy_tag, "np");
	CHECK_EQ_STR(lr.names[lr.n - 1], "A ghost.org.test");
	/*
	 * RFC 9091 §2.1: NODATA for A, AAAA and MX is non-existent too (a
	 * name with a TXT record only), and any of the three makes it exist.
	 */
	const char *z2 = "_dmarc.org.test TXT v=DMARC1; p=none; sp=quarantine; np=reject\n"
			 "txt.org.test TXT hello\nsix.org.test AAAA 2001:db8::1\n"
			 "mx.org.test MX 10 mail.org.test\n"
			 "late.org.test TXT x\nlate.org.test AAAA SERVFAIL\n";
	o = eval(z2, "txt.org.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_STR(o.v.policy_tag, "np");
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_REJECT);
	CHECK_EQ_STR(lr.names[lr.n - 3], "A txt.org.test");
	CHECK_EQ_STR(lr.names[lr.n - 2], "AAAA txt.org.test");
	CHECK_EQ_STR(lr.names[lr.n - 1], "MX txt.org.test");
	o = eval(z2, "six.org.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_STR(o.v.policy_tag, "sp");
	CHECK_EQ_STR(lr.names[lr.n - 1], "AAAA six.org.test");
	o = eval(z2, "mx.org.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_STR(o.v.policy_tag, "sp");
	o = eval(z2, "late.org.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_TEMPERROR);
	/* Without np=, a non-existent subdomain gets sp=, and without sp= it gets p=. */
	o = eval("_dmarc.org.test TXT v=DMARC1; p=none; sp=quarantine\n", "ghost.org.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_STR(o.v.policy_tag, "sp");
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_QUARANTINE);
	o = eval("_dmarc.org.test TXT v=DMARC1; p=reject\n", "ghost.org.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_STR(o.v.policy_tag, "p");
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_REJECT);
	/* The existence check failing temporarily is a temperror. */
	o = eval("_dmarc.org.test TXT v=DMARC1; p=none; np=reject\nghost.org.test A SERVFAIL\n",
		 "ghost.org.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_TEMPERROR);
	/* An absent p= reads as p=none (§4.7). */
	o = eval("_dmarc.nop.test TXT v=DMARC1; rua=mailto:x@nop.test\n", "nop.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_NONE);
}

/* t=y and pct=0: the policy applied is one step below. */
static void test_testing(void)
{
	struct outcome o = eval("_dmarc.t.test TXT v=DMARC1; p=reject; t=y\n", "t.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	CHECK_EQ_INT(o.v.policy, DMARC_POLICY_REJECT);
	CHECK(o.v.testing);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_QUARANTINE);
	o = eval("_dmarc.t.test TXT v=DMARC1; p=quarantine; pct=0\n", "t.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_NONE);
	o = eval("_dmarc.t.test TXT v=DMARC1; p=quarantine; pct=20\n", "t.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_QUARANTINE);
	CHECK_EQ_INT(o.v.pct, 20);
	CHECK(!o.v.sampled_out);
	/* RFC 7489 §6.6.4: pct=20 applies the policy to a sample of 20 in
	 * 100 (sample 0..19), the next less strict one to the rest. */
	static const struct { const char *rec; unsigned sample; int out; enum dmarc_policy d; } pc[] = {
		{ "p=reject; pct=20", 19, 0, DMARC_POLICY_REJECT },
		{ "p=reject; pct=20", 20, 1, DMARC_POLICY_QUARANTINE },
		{ "p=quarantine; pct=50", 99, 1, DMARC_POLICY_NONE },
		{ "p=quarantine; pct=99", 98, 0, DMARC_POLICY_QUARANTINE },
		{ "p=reject; pct=100", 99, 0, DMARC_POLICY_REJECT },
		{ "p=reject", 99, 0, DMARC_POLICY_REJECT },
		/* An explicit t= wins over pct= (RFC 9989 Appendix A.6). */
		{ "p=reject; pct=20; t=n", 99, 0, DMARC_POLICY_REJECT },
		{ "p=reject; pct=20; t=y", 0, 0, DMARC_POLICY_QUARANTINE },
	};
	for (size_t i = 0; i < sizeof pc / sizeof pc[0]; i++) {
		char z[128];
		snprintf(z, sizeof z, "_dmarc.t.test TXT v=DMARC1; %s\n", pc[i].rec);
		sample = pc[i].sample;
		o = eval(z, "t.test", SPF_NONE, NULL, NULL);
		CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
		CHECK_EQ_INT(o.v.sampled_out, pc[i].out);
		CHECK_EQ_INT(o.v.disposition, pc[i].d);
	}
	/* A pass is never sampled out. */
	o = eval("_dmarc.t.test TXT v=DMARC1; p=reject; pct=1\n", "t.test", SPF_PASS, "t.test", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	CHECK(!o.v.sampled_out);
	sample = 0;
	/* Testing says nothing about a pass. */
	o = eval("_dmarc.t.test TXT v=DMARC1; p=reject; t=y\n", "t.test", SPF_PASS, "t.test", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_NONE);
}

static void test_failures(void)
{
	struct outcome o;
	/* No record anywhere: none, after walking to the top. */
	o = eval(NULL, "mail.example.org", SPF_PASS, "mail.example.org", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_NONE);
	CHECK_EQ_STR(o.v.policy_tag, "");
	CHECK_EQ_INT(o.v.policy, DMARC_POLICY_NONE);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_NONE);
	CHECK_EQ_INT(lr.n, 3);
	/* Several DMARC records at one name: none there (the walk goes on to the parent). */
	o = eval("_dmarc.multi.test TXT v=DMARC1; p=reject\n_dmarc.multi.test TXT v=DMARC1; p=none\n",
		 "multi.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_NONE);
	o = eval("_dmarc.multi.test TXT v=DMARC1; p=reject\n_dmarc.multi.test TXT v=DMARC1; p=none\n"
		 "_dmarc.test TXT v=DMARC1; p=quarantine; psd=y\n",
		 "multi.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_STR(o.v.policy_domain, "test");
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_QUARANTINE);
	/* Other TXT records beside one DMARC record are ignored. */
	o = eval("_dmarc.mixed.test TXT v=spf1 -all\n_dmarc.mixed.test TXT v=DMARC1; p=reject\n",
		 "mixed.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_REJECT);
	/* Bad v=: not a record. */
	o = eval("_dmarc.badv.test TXT v=DMARC2; p=reject\n", "badv.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_NONE);
	/* Unknown p= without a valid rua=: permerror; with one: p=none. */
	o = eval("_dmarc.badp.test TXT v=DMARC1; p=bogus\n", "badp.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PERMERROR);
	o = eval("_dmarc.badp.test TXT v=DMARC1; p=bogus; rua=mailto:r@badp.test\n", "badp.test",
		 SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_NONE);
	/* An invalid sp= matters for a subdomain only. */
	o = eval("_dmarc.badp.test TXT v=DMARC1; p=reject; sp=bogus\nsub.badp.test A 192.0.2.8\n",
		 "sub.badp.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PERMERROR);
	o = eval("_dmarc.badp.test TXT v=DMARC1; p=reject; sp=bogus\n", "badp.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_REJECT);
	/* A usable Author Domain is needed. */
	o = eval(NULL, "", SPF_PASS, "example.com", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_NONE);
	CHECK_EQ_INT(lr.n, 0);
	o = eval(NULL, "a..example.com", SPF_PASS, "example.com", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_NONE);

	/* temperror: at the Author Domain, in the walk, in an alignment walk. */
	o = eval("_dmarc.tf.test TXT SERVFAIL\n", "tf.test", SPF_PASS, "tf.test", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_TEMPERROR);
	/* More TXT records than an answer keeps, none of them kept a DMARC
	 * record: the policy may be among those dropped, so temperror, not none. */
	{
		char z[DNS_RR_MAX * 40 + 64];
		size_t off = 0;
		for (int i = 0; i < DNS_RR_MAX; i++)
			off += (size_t)snprintf(z + off, sizeof z - off, "_dmarc.big.test TXT x=%d\n", i);
		snprintf(z + off, sizeof z - off, "_dmarc.big.test TXT v=DMARC1; p=reject\n");
		o = eval(z, "big.test", SPF_PASS, "big.test", NULL);
		CHECK_EQ_INT(o.v.result, DMARC_RESULT_TEMPERROR);
	}
	o = eval("_dmarc.example.com TXT SERVFAIL\n", "child.example.com", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_TEMPERROR);
	o = eval("_dmarc.x.example.com TXT SERVFAIL\n", "example.com", SPF_NONE, NULL, "x.example.com");
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_TEMPERROR);
	/* A parent's SERVFAIL above the Author Domain's own record: an exact match still passes. */
	o = eval("_dmarc.com TXT SERVFAIL\n", "example.com", SPF_PASS, "example.com", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	CHECK_EQ_INT(o.v.policy, DMARC_POLICY_REJECT);
	o = eval("_dmarc.com TXT SERVFAIL\n", "example.com", SPF_NONE, NULL, "example.com");
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	CHECK(o.v.dkim_aligned);
	/* ... a relaxed one needs the Organizational Domain: temperror. */
	o = eval("_dmarc.com TXT SERVFAIL\n", "example.com", SPF_PASS, "child.example.com", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_TEMPERROR);
	/* ... which does not matter once another identifier aligned. */
	o = eval("_dmarc.x.example.com TXT SERVFAIL\n", "example.com", SPF_PASS, "example.com", "x.example.com");
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);

	/* The budget: many passing d= under the organization, each a fresh walk. */
	char dk[2048] = "", recs[3072] = "";
	for (int i = 0; i < DMARC_DKIM_MAX; i++) {
		char one[96];
		snprintf(one, sizeof one, "a%d.b%d.c%d.example.com ", i, i, i);
		strcat(dk, one);
		/* Each c<i> is its own organization: no d= aligns, each walk costs 3 queries. */
		snprintf(one, sizeof one, "_dmarc.c%d.example.com TXT v=DMARC1; p=none; psd=n\n", i);
		strcat(recs, one);
	}
	o = eval(recs, "example.com", SPF_NONE, NULL, dk);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_REJECT);
	CHECK_EQ_INT(o.queries, DMARC_QUERIES_MAX);
	CHECK_EQ_STR(o.v.reason, "no identifier aligned within the DNS query budget");

	CHECK_EQ_STR(dmarc_result_name(DMARC_RESULT_TEMPERROR), "temperror");
	CHECK_EQ_STR(dmarc_result_name(DMARC_RESULT_PERMERROR), "permerror");
}

/*
 * An SPF or DKIM check that failed temporarily for an identifier that
 * would have aligned: its pass was not ruled out, so no aligned pass is
 * temperror, not fail (rspamd's DMARC_DNSFAIL); the disposition says what
 * a fail would get, and temp_moot that a retry cannot change what is done.
 */
static void test_temporary_identifiers(void)
{
	struct outcome o;
	/* SPF temperror for the Author Domain, nothing else: not a fail to reject. */
	o = eval(NULL, "example.com", SPF_TEMPERROR, "example.com", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_TEMPERROR);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_REJECT);
	CHECK(!o.v.temp_moot);
	CHECK_EQ_STR(o.v.policy_domain, "example.com");
	/* ... for a domain aligned in relaxed mode only: the same. */
	o = eval(NULL, "example.com", SPF_TEMPERROR, "bounce.example.com", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_TEMPERROR);
	/* ... for another organisation's domain: its pass would not align. */
	o = eval(NULL, "example.com", SPF_TEMPERROR, "example.net", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	/* ... strict aspf=s and a subdomain: would not align. */
	o = eval("_dmarc.strict.test TXT v=DMARC1; p=reject; aspf=s\n", "strict.test", SPF_TEMPERROR,
		 "child.strict.test", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	/* An aligned pass is a pass whatever else failed temporarily. */
	dkim_temp = "example.com";
	o = eval(NULL, "example.com", SPF_PASS, "example.com", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	/* A DKIM key lookup that failed temporarily for an aligned d=. */
	o = eval(NULL, "child.example.com", SPF_FAIL, "example.com", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_TEMPERROR);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_REJECT);
	dkim_temp = "example.net";
	o = eval(NULL, "child.example.com", SPF_FAIL, "example.com", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_FAIL);
	dkim_temp = NULL;
	/* p=none (or t=y lowering quarantine): a retry changes nothing done. */
	o = eval("_dmarc.mon.test TXT v=DMARC1; p=none\n", "mon.test", SPF_TEMPERROR, "mon.test", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_TEMPERROR);
	CHECK_EQ_INT(o.v.disposition, DMARC_POLICY_NONE);
	CHECK(o.v.temp_moot);
	o = eval("_dmarc.mon.test TXT v=DMARC1; p=quarantine; t=y\n", "mon.test", SPF_TEMPERROR,
		 "mon.test", NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_TEMPERROR);
	CHECK(o.v.temp_moot);
	/* A policy lookup that failed: nothing known, never moot. */
	o = eval("_dmarc.down.test TXT SERVFAIL\n", "down.test", SPF_NONE, NULL, NULL);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_TEMPERROR);
	CHECK(!o.v.temp_moot);
}

/* Deferred answers: the same result; cancelling in flight: done never runs. */
static void test_async(void)
{
	memset(&lr, 0, sizeof lr);
	lr.t = dns_table_new(base_zone, strlen(base_zone));
	lr.defer = 1;
	struct dns_resolver r = { log_start, log_cancel, &lr };
	const char *d[] = { "example.com" };
	struct dmarc_input in = { "a.child.example.com", SPF_FAIL, "example.com", d, 1, 0, NULL, 0 };
	struct dmarc_eval *e = dmarc_eval_new(&in);
	struct outcome o = { 0 };
	struct dmarc_run *run = dmarc_run(&r, e, done, &o);
	CHECK(run != NULL);
	struct dns_answer *a = malloc(sizeof *a);
	int steps = 0;
	while (lr.cb && steps++ < 20) {
		dns_answer_cb *cb = lr.cb;
		lr.cb = NULL;
		dns_table_lookup(lr.t, strchr(lr.names[lr.n - 1], ' ') + 1, lr.type, a);
		cb(lr.arg, a);
	}
	CHECK_EQ_INT(o.calls, 1);
	CHECK_EQ_INT(o.v.result, DMARC_RESULT_PASS);
	CHECK_EQ_INT(steps, 4); /* a.child, child, example.com, com (psd=u: the walk goes on) */
	dmarc_eval_free(&e);

	memset(&o, 0, sizeof o);
	e = dmarc_eval_new(&in);
	run = dmarc_run(&r, e, done, &o);
	CHECK(run != NULL && lr.cb != NULL);
	dmarc_run_cancel(run);
	CHECK(lr.cb == NULL);
	CHECK_EQ_INT(o.calls, 0);
	/* The caller's time ran out (smtp_checks.c): temperror, with its reason. */
	dmarc_eval_abort(e, "out of time");
	CHECK_EQ_INT(dmarc_eval_verdict(e)->result, DMARC_RESULT_TEMPERROR);
	CHECK_EQ_STR(dmarc_eval_verdict(e)->reason, "out of time");
	dmarc_eval_abort(e, "again"); /* a finished evaluation stays as it is */
	CHECK_EQ_STR(dmarc_eval_verdict(e)->reason, "out of time");
	dmarc_eval_free(&e);
	free(a);
	dns_table_free(&lr.t);
}

int main(void)
{
	test_record();
	test_author();
	test_rfc_alignment();
	test_verdict_aligned();
	test_walk();
	test_rfc_tree_walks();
	test_subdomain_policy();
	test_testing();
	test_failures();
	test_temporary_identifiers();
	test_async();
	return unit_done("test_dmarc");
}
