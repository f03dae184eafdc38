/*
 * test_policy.c — the authentication stage's decision table
 * (policy/policy.h), the domain helpers behind its inputs, the
 * Authentication-Results renderer (auth/auth_results.h) and the
 * forged-field test of deliver/ (deliver_ar_claims, deliver_clean).
 */
#include <stdlib.h>
#include <string.h>

#include "auth/auth_results.h"
#include "core/arena.h"
#include "deliver/deliver.h"
#include "policy/policy.h"
#include "unit.h"

static struct policy_decision decide(enum dmarc_result r, enum dmarc_policy disp, int ours,
				     int aligned, int tolerated, int arc)
{
	struct policy_auth_in in = {r, disp, ours, aligned, tolerated, arc, 0, 0};
	struct policy_decision d;
	memset(&d, 0xff, sizeof d);
	policy_auth_decide(&in, &d);
	return d;
}

#define EXPECT(d, act, smtp_code, why)                            \
	do {                                                      \
		struct policy_decision d_ = (d);                  \
		CHECK_EQ_INT(d_.action, act);                     \
		CHECK_EQ_INT(d_.verdict.code, smtp_code);         \
		CHECK_EQ_STR(d_.reason, why);                     \
	} while (0)

static void table(void)
{
	enum dmarc_policy N = DMARC_POLICY_NONE, Q = DMARC_POLICY_QUARANTINE, R = DMARC_POLICY_REJECT;

	/* Passing mail goes in, whatever else is true. */
	EXPECT(decide(DMARC_RESULT_PASS, N, 0, 0, 0, 0), POLICY_ACCEPT, 250, "dmarc_pass");
	EXPECT(decide(DMARC_RESULT_PASS, N, 1, 0, 0, 0), POLICY_ACCEPT, 250, "dmarc_pass");
	/* Failures by the sender's policy. */
	EXPECT(decide(DMARC_RESULT_FAIL, R, 0, 0, 0, 0), POLICY_REFUSE, 550, "dmarc_reject");
	EXPECT(decide(DMARC_RESULT_FAIL, Q, 0, 0, 0, 0), POLICY_JUNK, 250, "dmarc_quarantine");
	EXPECT(decide(DMARC_RESULT_FAIL, N, 0, 0, 0, 0), POLICY_ACCEPT, 250, "dmarc_fail_none");
	/* t=y lowered reject to quarantine before us: the disposition rules. */
	EXPECT(decide(DMARC_RESULT_FAIL, Q, 0, 0, 0, 0), POLICY_JUNK, 250, "dmarc_quarantine");
	/* No record, or a broken one: accepted. */
	EXPECT(decide(DMARC_RESULT_NONE, DMARC_POLICY_ABSENT, 0, 0, 0, 0), POLICY_ACCEPT, 250, "dmarc_none");
	EXPECT(decide(DMARC_RESULT_PERMERROR, DMARC_POLICY_ABSENT, 0, 0, 0, 0), POLICY_ACCEPT, 250,
	       "dmarc_permerror");
	/* DNS trouble: try again later, never accept or refuse for good. */
	EXPECT(decide(DMARC_RESULT_TEMPERROR, DMARC_POLICY_ABSENT, 0, 0, 0, 0), POLICY_REFUSE, 451,
	       "dmarc_temperror");
	EXPECT(decide(DMARC_RESULT_TEMPERROR, DMARC_POLICY_ABSENT, 1, 0, 0, 0), POLICY_REFUSE, 451,
	       "dmarc_temperror");
	EXPECT(decide(DMARC_RESULT_TEMPERROR, DMARC_POLICY_ABSENT, 0, 0, 1, 0), POLICY_REFUSE, 451,
	       "dmarc_temperror");
	/* ... unless the record was read and a fail would get none (p=none,
	 * or t=y below quarantine): a retry changes nothing done. Our own
	 * domain is still asked to retry, never refused for a DNS error. */
	struct policy_auth_in moot = {DMARC_RESULT_TEMPERROR, N, 0, 0, 0, 0, 0, 1};
	struct policy_decision dm;
	policy_auth_decide(&moot, &dm);
	EXPECT(dm, POLICY_ACCEPT, 250, "dmarc_temperror_policy_none");
	moot.from_ours = 1;
	policy_auth_decide(&moot, &dm);
	EXPECT(dm, POLICY_REFUSE, 451, "dmarc_temperror");
	/* Our own domains: the spoofing case, with or without a record. */
	EXPECT(decide(DMARC_RESULT_NONE, DMARC_POLICY_ABSENT, 1, 0, 0, 0), POLICY_REFUSE, 550,
	       "own_domain_unauthenticated");
	EXPECT(decide(DMARC_RESULT_FAIL, N, 1, 0, 0, 0), POLICY_REFUSE, 550, "own_domain_unauthenticated");
	EXPECT(decide(DMARC_RESULT_FAIL, Q, 1, 0, 0, 0), POLICY_REFUSE, 550, "own_domain_unauthenticated");
	EXPECT(decide(DMARC_RESULT_PERMERROR, DMARC_POLICY_ABSENT, 1, 0, 0, 0), POLICY_REFUSE, 550,
	       "own_domain_unauthenticated");
	/* ... unless an SPF or DKIM pass aligns with it (no record needed). */
	EXPECT(decide(DMARC_RESULT_NONE, DMARC_POLICY_ABSENT, 1, 1, 0, 0), POLICY_ACCEPT, 250,
	       "own_domain_aligned");
	EXPECT(decide(DMARC_RESULT_TEMPERROR, DMARC_POLICY_ABSENT, 1, 1, 0, 0), POLICY_ACCEPT, 250,
	       "own_domain_aligned");
	/* The administrator's exceptions. */
	EXPECT(decide(DMARC_RESULT_FAIL, R, 0, 0, 1, 0), POLICY_ACCEPT, 250, "dmarc_tolerated");
	EXPECT(decide(DMARC_RESULT_FAIL, Q, 0, 0, 1, 0), POLICY_ACCEPT, 250, "dmarc_tolerated");
	EXPECT(decide(DMARC_RESULT_FAIL, R, 0, 0, 0, 1), POLICY_ACCEPT, 250, "arc_trusted");
	EXPECT(decide(DMARC_RESULT_NONE, DMARC_POLICY_ABSENT, 1, 0, 0, 1), POLICY_ACCEPT, 250, "arc_trusted");

	/* From fields naming a second domain beside one: refused, whatever
	 * else holds (DMARC has no result for them). */
	struct policy_auth_in amb = {DMARC_RESULT_NONE, DMARC_POLICY_ABSENT, 0, 0, 0, 1, 1, 0};
	struct policy_decision d;
	policy_auth_decide(&amb, &d);
	EXPECT(d, POLICY_REFUSE, 550, "from_ambiguous");
	CHECK_EQ_STR(d.verdict.enhanced, "5.7.1");

	/* Verdicts carry every part the SMTP layer renders. */
	d = decide(DMARC_RESULT_FAIL, R, 0, 0, 0, 0);
	CHECK_EQ_STR(d.verdict.enhanced, "5.7.1");
	CHECK(d.verdict.text && strlen(d.verdict.text) > 10);
	CHECK_EQ_STR(d.verdict.reason, "dmarc_reject");
	d = decide(DMARC_RESULT_TEMPERROR, N, 0, 0, 0, 0);
	CHECK_EQ_STR(d.verdict.enhanced, "4.7.1");
}

static void domains(void)
{
	CHECK(policy_domain_related("example.com", "example.com"));
	CHECK(policy_domain_related("mail.example.com", "example.com"));
	CHECK(policy_domain_related("example.com", "a.b.example.com"));
	CHECK(policy_domain_related("EXAMPLE.com", "example.COM"));
	CHECK(!policy_domain_related("badexample.com", "example.com"));
	CHECK(!policy_domain_related("example.com.evil", "example.com"));
	CHECK(!policy_domain_related("", "example.com"));
	CHECK(!policy_domain_related(NULL, "example.com"));

	const char *list = "lists.example.org\nforwarder.test, other.test.\n";
	CHECK(policy_domain_listed(list, "lists.example.org"));
	CHECK(policy_domain_listed(list, "a.lists.example.org"));
	CHECK(policy_domain_listed(list, "other.test"));
	CHECK(policy_domain_listed(list, "FORWARDER.TEST"));
	CHECK(!policy_domain_listed(list, "example.org"));
	CHECK(!policy_domain_listed(list, "xforwarder.test"));
	CHECK(!policy_domain_listed("", "example.org"));
	CHECK(!policy_domain_listed(NULL, "example.org"));
}

static void claims(void)
{
	CHECK(deliver_ar_claims(str_c(" mx.example.com; spf=pass"), "mx.example.com"));
	CHECK(deliver_ar_claims(str_c("MX.Example.COM;dkim=pass"), "mx.example.com"));
	CHECK(deliver_ar_claims(str_c(" (a (nested) comment)\r\n\tmx.example.com 1; none"), "mx.example.com"));
	CHECK(deliver_ar_claims(str_c(" \"mx.example.com\"; none"), "mx.example.com"));
	CHECK(deliver_ar_claims(str_c("mx.example.com"), "mx.example.com"));
	CHECK(!deliver_ar_claims(str_c(" mx.example.com.evil; spf=pass"), "mx.example.com"));
	CHECK(!deliver_ar_claims(str_c(" other.example; spf=pass smtp.mailfrom=mx.example.com"), "mx.example.com"));
	CHECK(!deliver_ar_claims(str_c(" x.mx.example.com; none"), "mx.example.com"));
	CHECK(!deliver_ar_claims(str_c(""), "mx.example.com"));
	CHECK(!deliver_ar_claims(str_c(" (unclosed comment mx.example.com"), "mx.example.com"));
}

/* What Sieve reads (deliver_clean): what deliver_compose stores. */
static void clean(void)
{
	struct arena *a = arena_new(0);
	struct str m = str_c("Authentication-Results: mx.example.com; dmarc=pass\r\n"
			     "Subject: hi\r\nX-Spam-Flag: NO\r\n"
			     "Authentication-Results: other.example; spf=pass\r\n\r\nbody\r\n");
	struct str c = deliver_clean(m, "mx.example.com", a);
	CHECK_EQ_SLICE(c, "Subject: hi\r\nAuthentication-Results: other.example; spf=pass\r\n\r\nbody\r\n");
	/* Nothing to remove: the message itself, no copy. */
	struct str plain = str_c("Subject: hi\r\n\r\nbody\r\n");
	CHECK(deliver_clean(plain, "mx.example.com", a).p == plain.p);
	/* Below a field over the parser's 64 KiB limit a forged field still goes. */
	size_t big = 70000;
	char *longm = malloc(big + 200);
	memcpy(longm, "X-Long: ", 8);
	memset(longm + 8, 'a', big);
	strcpy(longm + 8 + big,
	       "\r\n\tmore\r\nAuthentication-Results: mx.example.com; dmarc=pass\r\n"
	       "X-Spam-Flag: NO\r\nSubject: hi\r\n\r\nAuthentication-Results: mx.example.com; "
	       "body\r\n");
	c = deliver_clean(str_c(longm), "mx.example.com", a);
	CHECK(c.len == 8 + big +
	                   strlen("\r\n\tmore\r\nSubject: hi\r\n\r\nAuthentication-Results: "
	                          "mx.example.com; body\r\n"));
	CHECK(memmem(c.p, c.len, "dmarc=pass", 10) == NULL &&
	      memmem(c.p, c.len, "X-Spam", 6) == NULL);
	CHECK(memmem(c.p, c.len, "; body\r\n", 8) != NULL);
	free(longm);
	/* Past a name over the parser's limit, a line "\rX" is a malformed
	 * header line to the parser (only "\r\n" or "\n" ends the section),
	 * so the forged field below it is still in the header and goes. */
	char name[400];
	memset(name, 'n', 300);
	strcpy(name + 300, ":\n\rp\nAuthentication-Results: mx.example.com; dmarc=pass\r\n"
	                   "X-Spam-Flag: NO\r\nSubject: hi\r\n\r\nbody\r\n");
	c = deliver_clean(str_c(name), "mx.example.com", a);
	CHECK(c.len == 300 + strlen(":\n\rp\nSubject: hi\r\n\r\nbody\r\n"));
	CHECK(memmem(c.p, c.len, "dmarc=pass", 10) == NULL &&
	      memmem(c.p, c.len, "X-Spam", 6) == NULL);
	/* The same, the forged field's authserv-id quoted with no closing
	 * quote: the parser's value ends before the line end, so it claims us. */
	strcpy(name + 300, ":\nAuthentication-Results: \"mx.example.com\r\nSubject: hi\r\n\r\n");
	c = deliver_clean(str_c(name), "mx.example.com", a);
	CHECK(c.len == 300 + strlen(":\nSubject: hi\r\n\r\n"));
	/* Only a forged field: nothing left. */
	CHECK_EQ_INT(deliver_clean(str_c("Authentication-Results: mx.example.com; none\r\n"), "mx.example.com", a).len, 0);
	/* Other filters' verdicts, which mail clients and users' rules
	 * trust, go as ours do; look-alike names stay. */
	c = deliver_clean(str_c("X-Spamd-Result: default: False [-5.00 / 15.00]\r\n"
				"X-Spamd-Bar: /\r\nX-Rspamd-Action: no action\r\n"
				"X-Spam: No\r\nX-DSPAM-Result: Innocent\r\n"
				"X-Bogosity: Ham, tests=bogofilter\r\nX-SpamPal: PASS\r\n"
				"X-Text-Classification: ham\r\n"
				"X-Spambayes-Classification: ham\r\nX-SpamCatcher-Score: 1\r\n"
				"X-Spammy-Note: kept\r\nX-Spamd: kept\r\nX-Rspamdx: kept\r\n"
				"Subject: hi\r\n\r\nX-Spamd-Bar: body\r\n"),
			  "mx.example.com", a);
	CHECK_EQ_SLICE(c, "X-Spammy-Note: kept\r\nX-Spamd: kept\r\nX-Rspamdx: kept\r\n"
			  "Subject: hi\r\n\r\nX-Spamd-Bar: body\r\n");
	arena_free(&a);
}

static void field(void)
{
	struct dkim_sig_result d1 = {.result = DKIM_RESULT_PASS, .d = "example.org", .s = "sel"};
	struct dkim_sig_result d2 = {.result = DKIM_RESULT_FAIL, .d = "", .s = ""};
	struct dkim_sig_result d3 = {.result = DKIM_RESULT_PERMERROR, .d = "example.org", .s = ""};
	struct dmarc_verdict dv = {.result = DMARC_RESULT_PASS, .policy = DMARC_POLICY_REJECT};
	struct auth_results r = {
	    .authserv_id = "mx.example.com",
	    .client_ip = "192.0.2.1",
	    .has_iprev = 1,
	    .iprev = IPREV_PASS,
	    .has_spf = 1,
	    .spf = SPF_PASS,
	    .mail_from = "\"odd name\"@example.org",
	    .helo = "h.example.org",
	    .ndkim = 3,
	    .dkim = {&d1, &d2, &d3},
	    .dmarc = DMARC_RESULT_PASS,
	    .header_from = "example.org",
	    .dmarc_verdict = &dv,
	    .action = "accept",
	    .policy_reason = "dmarc_pass",
	};
	struct buf b;
	buf_init(&b, 4096);
	CHECK_EQ_INT(auth_results_field(&r, &b), 0);
	buf_append(&b, "", 1);
	CHECK_EQ_STR(buf_data(&b), "Authentication-Results: mx.example.com;\r\n"
	                           "\tiprev=pass policy.iprev=192.0.2.1;\r\n"
	                           "\tspf=pass smtp.mailfrom=\"\\\"odd name\\\"@example.org\";\r\n"
	                           "\tdkim=pass header.d=example.org header.s=sel;\r\n"
	                           "\tdkim=fail;\r\n"
	                           "\tdkim=permerror header.d=example.org;\r\n"
	                           "\tdmarc=pass header.from=example.org policy.dmarc=reject\r\n");
	/* header.b (RFC 6008 §4): 8 characters of b=, more where two
	 * signatures start alike, quoted when they hold "/" or "=". */
	{
		struct dkim_sig_result b1 = {.result = DKIM_RESULT_PASS, .d = "example.org", .s = "sel",
		                             .b = "ab/defghXYZ0123"};
		struct dkim_sig_result b2 = {.result = DKIM_RESULT_FAIL, .d = "example.org", .s = "sel",
		                             .b = "ab/defghQRS0123"};
		struct dkim_sig_result b3 = {.result = DKIM_RESULT_PASS, .d = "example.net", .s = "s2",
		                             .b = "AbCd+EfGhIj"};
		struct dkim_sig_result b4 = {.result = DKIM_RESULT_PASS, .d = "example.com", .s = "s3",
		                             .b = "Ab=="};
		struct auth_results rb = {.authserv_id = "mx.example.com", .ndkim = 4,
		                          .dkim = {&b1, &b2, &b3, &b4}};
		buf_reset(&b);
		CHECK_EQ_INT(auth_results_field(&rb, &b), 0);
		buf_append(&b, "", 1);
		CHECK_EQ_STR(buf_data(&b), "Authentication-Results: mx.example.com;\r\n"
		                           "\tdkim=pass header.d=example.org header.s=sel header.b=\"ab/defghX\";\r\n"
		                           "\tdkim=fail header.d=example.org header.s=sel header.b=\"ab/defghQ\";\r\n"
		                           "\tdkim=pass header.d=example.net header.s=s2 header.b=AbCd+EfG;\r\n"
		                           "\tdkim=pass header.d=example.com header.s=s3 header.b=\"Ab==\"\r\n");
	}
	buf_reset(&b);
	auth_results_log(&r, &b);
	buf_append(&b, "", 1);
	CHECK_EQ_STR(buf_data(&b),
	             " iprev=pass spf=pass dkim=pass,fail,permerror dmarc=pass dmarc_policy=reject"
	             " header_from=example.org action=accept policy=dmarc_pass");
	/* ARC's result sits before DMARC's, rendered by arc.h. */
	static struct arc_result arc = {.cv = ARC_CV_NONE};
	r.arc = &arc;
	buf_reset(&b);
	CHECK_EQ_INT(auth_results_field(&r, &b), 0);
	buf_append(&b, "", 1);
	CHECK(strstr(buf_data(&b), ";\r\n\tarc=none smtp.remote-ip=192.0.2.1;\r\n\tdmarc=pass") != NULL);
	r.arc = NULL;
	/* The null path names the HELO identity; no DKIM signature is dkim=none. */
	buf_reset(&b);
	r.mail_from = "";
	r.ndkim = 0;
	r.has_iprev = 0;
	r.dmarc_verdict = NULL;
	CHECK_EQ_INT(auth_results_field(&r, &b), 0);
	buf_append(&b, "", 1);
	CHECK_EQ_STR(buf_data(&b), "Authentication-Results: mx.example.com;\r\n"
				   "\tspf=pass smtp.helo=h.example.org;\r\n\tdkim=none\r\n");
	buf_free(&b);
}

int main(void)
{
	table();
	domains();
	claims();
	clean();
	field();
	return unit_done("test_policy");
}
