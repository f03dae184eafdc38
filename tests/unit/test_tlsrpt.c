/*
 * test_tlsrpt.c — RFC 8460: the _smtp._tls TXT record (§3's examples and
 * refusals, byte at a time) and the JSON report checked field by field
 * against §4.4 (names, nesting, types, RFC 3339 UTC dates), read back
 * with the JSON parser.
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "http/json.h"
#include "queue/queue_tlsrpt.h"
#include "report/tlsrpt_send.h"
#include "report/tlsrpt_seen.h"
#include "tlspol/dane.h"
#include "tlspol/tlsrpt_in.h"
#include "tlspol/tlsrpt.h"
#include "unit.h"

static int rec(const char *s, struct tlsrpt_record *r)
{
	return tlsrpt_txt_parse(s, strlen(s), r);
}

static void test_record(void)
{
	struct tlsrpt_record r;

	/* §3's examples. */
	CHECK_EQ_INT(rec("v=TLSRPTv1;rua=mailto:reports@example.com", &r), 0);
	CHECK_EQ_INT((int)r.nrua, 1);
	CHECK_EQ_STR(r.rua[0], "mailto:reports@example.com");
	CHECK_EQ_INT(rec("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt", &r), 0);
	CHECK_EQ_STR(r.rua[0], "https://reporting.example.com/v1/tlsrpt");
	CHECK_EQ_INT(rec("v=TLSRPTv1; rua=mailto:a@example.com, https://r.example/x ;ext=1;", &r), 0);
	CHECK_EQ_INT((int)r.nrua, 2);
	CHECK_EQ_STR(r.rua[1], "https://r.example/x");
	/* Another scheme is skipped; none left: refused. */
	CHECK_EQ_INT(rec("v=TLSRPTv1; rua=ftp://x.example/,mailto:b@example.com", &r), 0);
	CHECK_EQ_INT((int)r.nrua, 1);
	CHECK_EQ_INT(rec("v=TLSRPTv1; rua=http://x.example/", &r), -1);
	/* Refusals: version first and exact, rua required. */
	CHECK_EQ_INT(rec("rua=mailto:a@example.com; v=TLSRPTv1", &r), -1);
	CHECK_EQ_INT(rec("v=TLSRPTv2; rua=mailto:a@example.com", &r), -1);
	CHECK_EQ_INT(rec("v=TLSRPTv1", &r), -1);
	CHECK_EQ_INT(rec("v=TLSRPTv1; rua", &r), -1);
	CHECK_EQ_INT(rec("v=STSv1; id=1", &r), -1);
	/* More URIs than kept (RFC 8460 §3 sets no limit): the first four
	 * usable ones get the report; the tern before this refused the
	 * record, and the domain got none. */
	CHECK_EQ_INT(rec("v=TLSRPTv1; rua=ftp://z,mailto:a@x,mailto:b@x,mailto:c@x,mailto:d@x,mailto:e@x", &r), 0);
	CHECK_EQ_INT((int)r.nrua, TLSRPT_RUA_MAX);
	CHECK_EQ_STR(r.rua[0], "mailto:a@x");
	CHECK_EQ_STR(r.rua[3], "mailto:d@x");
	/* Every prefix short of the first URI's end is refused. */
	const char *full = "v=TLSRPTv1; rua=mailto:r@example.com";
	for (size_t i = 0; i < strlen(full) - 12; i++)
		CHECK_EQ_INT(tlsrpt_txt_parse(full, i, &r), -1);

	/* §3 over a whole answer: other kinds skipped; exactly one TLSRPTv1
	 * record, and valid, else none (an invalid one beside a valid one
	 * counts: the valid one was taken alone before). */
	const char *one[] = {"v=spf1 -all", "v=TLSRPTv1; rua=mailto:r@example.com", "v=TLSRPTv10; x"};
	CHECK_EQ_INT(tlsrpt_txt_pick(one, 3, &r), 0);
	CHECK_EQ_STR(r.rua[0], "mailto:r@example.com");
	const char *bad_too[] = {"v=TLSRPTv1; rua=mailto:r@example.com", "v=TLSRPTv1;rua=ftp://x"};
	CHECK_EQ_INT(tlsrpt_txt_pick(bad_too, 2, &r), -1);
	const char *two[] = {"v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1 ; rua=mailto:b@x"};
	CHECK_EQ_INT(tlsrpt_txt_pick(two, 2, &r), -1);
	const char *invalid[] = {"v=TLSRPTv1"};
	CHECK_EQ_INT(tlsrpt_txt_pick(invalid, 1, &r), -1);
	CHECK_EQ_INT(tlsrpt_txt_pick(NULL, 0, &r), -1);
}

static const struct json_value *get(const struct json_value *o, const char *k)
{
	const struct json_value *v = o ? json_get(o, k) : NULL;
	CHECK(v != NULL);
	return v;
}

static void check_str(const struct json_value *o, const char *k, const char *want)
{
	const struct json_value *v = get(o, k);
	if (v) {
		CHECK_EQ_INT(v->type, JSON_STRING);
		CHECK_EQ_STR(v->str, want);
	}
}

static void check_int(const struct json_value *o, const char *k, int64_t want)
{
	const struct json_value *v = get(o, k);
	if (v) {
		CHECK_EQ_INT(v->type, JSON_NUMBER);
		CHECK(v->is_int && v->integer == want);
	}
}

static void test_report(void)
{
	static struct tlsrpt_report r;
	r.organization = "Company-X";
	r.contact = "sts-reporting@company-x.example";
	r.report_id = "5065427c-23d3-47ca-b6e0-946ea0e8c4be";
	r.start = 1459468800; /* 2016-04-01T00:00:00Z, §4.4's example */
	r.end = 1459555199;   /* 2016-04-01T23:59:59Z */
	r.npolicies = 2;
	struct tlsrpt_policy *p = &r.policies[0];
	p->type = TLSRPT_STS;
	snprintf(p->domain, sizeof p->domain, "company-y.example");
	p->strings[0] = "version: STSv1";
	p->strings[1] = "mode: testing";
	p->strings[2] = "mx: *.mail.company-y.example";
	p->strings[3] = "max_age: 86400";
	p->nstrings = 4;
	p->mx_hosts[0] = "*.mail.company-y.example";
	p->nmx = 1;
	p->successful = 5326;
	p->failed = 303;
	p->nfailures = 1;
	p->failures[0] = (struct tlsrpt_failure){TLSRPT_STARTTLS_NOT_SUPPORTED, "2001:db8:abcd:0012::1",
						 ".mail.company-y.example", "203.0.113.56", 200,
						 "https://reports.company-x.example/x", "no STARTTLS"};
	struct tlsrpt_policy *q = &r.policies[1];
	q->type = TLSRPT_NO_POLICY;
	snprintf(q->domain, sizeof q->domain, "plain.example");
	q->successful = 7;

	struct buf b;
	buf_init(&b, 64 * 1024);
	CHECK_EQ_INT(tlsrpt_report_json(&r, &b), 0);
	struct arena *a = arena_new(4096);
	char err[128];
	const struct json_value *root = json_parse(buf_data(&b), buf_len(&b), a, err, sizeof err);
	CHECK(root != NULL && root->type == JSON_OBJECT);
	/* §4.4 top level. */
	check_str(root, "organization-name", "Company-X");
	const struct json_value *dr = get(root, "date-range");
	check_str(dr, "start-datetime", "2016-04-01T00:00:00Z");
	check_str(dr, "end-datetime", "2016-04-01T23:59:59Z");
	check_str(root, "contact-info", "sts-reporting@company-x.example");
	check_str(root, "report-id", "5065427c-23d3-47ca-b6e0-946ea0e8c4be");
	const struct json_value *pols = get(root, "policies");
	CHECK(pols && pols->type == JSON_ARRAY && pols->count == 2);
	if (!pols || pols->count != 2)
		goto out;
	/* The MTA-STS policy: policy, summary, failure-details. */
	const struct json_value *p0 = pols->first, *pol = get(p0, "policy");
	check_str(pol, "policy-type", "sts");
	const struct json_value *ps = get(pol, "policy-string");
	CHECK(ps && ps->type == JSON_ARRAY && ps->count == 4);
	CHECK_EQ_STR(ps->first->str, "version: STSv1");
	CHECK_EQ_STR(ps->first->next->next->str, "mx: *.mail.company-y.example");
	check_str(pol, "policy-domain", "company-y.example");
	const struct json_value *mxh = get(pol, "mx-host");
	CHECK(mxh && mxh->count == 1);
	CHECK_EQ_STR(mxh->first->str, "*.mail.company-y.example");
	const struct json_value *sum = get(p0, "summary");
	check_int(sum, "total-successful-session-count", 5326);
	check_int(sum, "total-failure-session-count", 303);
	const struct json_value *fd = get(p0, "failure-details");
	CHECK(fd && fd->type == JSON_ARRAY && fd->count == 1);
	const struct json_value *f0 = fd ? fd->first : NULL;
	check_str(f0, "result-type", "starttls-not-supported");
	check_str(f0, "sending-mta-ip", "2001:db8:abcd:0012::1");
	check_str(f0, "receiving-mx-hostname", ".mail.company-y.example");
	check_str(f0, "receiving-ip", "203.0.113.56");
	check_int(f0, "failed-session-count", 200);
	check_str(f0, "additional-information", "https://reports.company-x.example/x");
	/* §4.4: the error in words is failure-reason-code. */
	check_str(f0, "failure-reason-code", "no STARTTLS");
	/* No policy: its type, domain and counts; no policy-string, no details. */
	const struct json_value *p1 = p0->next, *pol1 = get(p1, "policy");
	check_str(pol1, "policy-type", "no-policy-found");
	check_str(pol1, "policy-domain", "plain.example");
	CHECK(json_get(pol1, "policy-string") == NULL);
	CHECK(json_get(p1, "failure-details") == NULL);
	check_int(get(p1, "summary"), "total-successful-session-count", 7);
	check_int(get(p1, "summary"), "total-failure-session-count", 0);
	/* The result names are the RFC's (§4.3). */
	CHECK_EQ_STR(tlsrpt_result_name(TLSRPT_CERTIFICATE_HOST_MISMATCH), "certificate-host-mismatch");
	CHECK_EQ_STR(tlsrpt_result_name(TLSRPT_STS_WEBPKI_INVALID), "sts-webpki-invalid");
	CHECK_EQ_STR(tlsrpt_result_name(TLSRPT_DANE_REQUIRED), "dane-required");
	CHECK_EQ_STR(tlsrpt_policy_type_name(TLSRPT_TLSA), "tlsa");
	/* A buffer too small: -1. */
	struct buf small;
	buf_init(&small, 64);
	CHECK_EQ_INT(tlsrpt_report_json(&r, &small), -1);
	buf_free(&small);
out:
	arena_free(&a);
	buf_free(&b);
}

/* The stored counts (tlsrpt_seen.h's record) read back into a report's policies. */
static void test_seen_parse(void)
{
	char text[] = "3\tS\tsts\n"
		      "1\tP\tsts\tversion: STSv1\x1fmode: enforce\x1fmx: *.example.net\x1fmax_age: 600\n"
		      "2\tF\tsts\tcertificate-expired\tmx1.example.net\t192.0.2.1\texpired\t198.51.100.7\n"
		      "5\tF\tno-policy-found\tstarttls-not-supported\tmx2.example.net\t\t\t\n"
		      "1\tF\tsts\tno-such-result\tx\t\t\t\n"
		      "7\tX\tsts\n";
	struct tlsrpt_report r;
	memset(&r, 0, sizeof r);
	/* Unreadable rows are reported (-1) and skipped; the rest are read. */
	CHECK_EQ_INT(tlsrpt_seen_parse(text, strlen(text), "example.net", &r), -1);
	CHECK_EQ_INT((int)r.npolicies, 2);
	const struct tlsrpt_policy *p = &r.policies[0], *q = &r.policies[1];
	CHECK_EQ_INT(p->type, TLSRPT_STS);
	CHECK_EQ_STR(p->domain, "example.net");
	CHECK_EQ_INT((int)p->successful, 3);
	CHECK_EQ_INT((int)p->failed, 2);
	CHECK_EQ_INT((int)p->nstrings, 4);
	CHECK_EQ_STR(p->strings[1], "mode: enforce");
	CHECK_EQ_INT((int)p->nmx, 1);
	CHECK_EQ_STR(p->mx_hosts[0], "*.example.net");
	CHECK_EQ_INT((int)p->nfailures, 1);
	CHECK_EQ_INT(p->failures[0].result, TLSRPT_CERTIFICATE_EXPIRED);
	CHECK_EQ_STR(p->failures[0].receiving_mx_hostname, "mx1.example.net");
	CHECK_EQ_STR(p->failures[0].receiving_ip, "192.0.2.1");
	CHECK_EQ_STR(p->failures[0].sending_mta_ip, "198.51.100.7");
	/* Our words: a failure-reason-code; additional-information is a URI (§4.4). */
	CHECK_EQ_STR(p->failures[0].failure_reason_code, "expired");
	CHECK_EQ_STR(p->failures[0].additional_information, "");
	CHECK_EQ_INT((int)p->failures[0].failed_session_count, 2);
	CHECK_EQ_INT(q->type, TLSRPT_NO_POLICY);
	CHECK_EQ_INT((int)q->failed, 5);
	CHECK_EQ_INT(q->failures[0].result, TLSRPT_STARTTLS_NOT_SUPPORTED);
	CHECK_EQ_STR(q->failures[0].receiving_ip, "");

	/* More failures than a policy holds: the rest join the last of their type. */
	char many[4096] = "";
	for (int i = 0; i < TLSRPT_FAILURES_MAX + 3; i++) {
		char line[128];
		snprintf(line, sizeof line, "1\tF\ttlsa\tvalidation-failure\tmx%d.example.net\t\t\t\n", i);
		strcat(many, line);
	}
	memset(&r, 0, sizeof r);
	CHECK_EQ_INT(tlsrpt_seen_parse(many, strlen(many), "example.net", &r), 0);
	CHECK_EQ_INT((int)r.policies[0].nfailures, TLSRPT_FAILURES_MAX);
	CHECK_EQ_INT((int)r.policies[0].failed, TLSRPT_FAILURES_MAX + 3);
	CHECK_EQ_INT((int)r.policies[0].failures[TLSRPT_FAILURES_MAX - 1].failed_session_count, 4);
	/* Past the room, a type with no entry yet gets one (two entries of
	 * another type merged): before, its 7 sessions went to the last
	 * entry, counted as validation-failure. */
	many[0] = '\0'; /* the parse cut the text up in place */
	for (int i = 0; i < TLSRPT_FAILURES_MAX + 3; i++) {
		char line[128];
		snprintf(line, sizeof line, "1\tF\ttlsa\tvalidation-failure\tmx%d.example.net\t\t\t\n", i);
		strcat(many, line);
	}
	strcat(many, "5\tF\ttlsa\tcertificate-expired\tmx1.example.net\t\t\t\n"
		     "2\tF\ttlsa\tcertificate-expired\tmx99.example.net\t\t\t\n");
	memset(&r, 0, sizeof r);
	CHECK_EQ_INT(tlsrpt_seen_parse(many, strlen(many), "example.net", &r), 0);
	const struct tlsrpt_policy *mp = &r.policies[0];
	CHECK_EQ_INT((int)mp->nfailures, TLSRPT_FAILURES_MAX);
	CHECK_EQ_INT((int)mp->failed, TLSRPT_FAILURES_MAX + 3 + 7);
	uint64_t per[TLSRPT_STS_WEBPKI_INVALID + 1] = {0};
	for (size_t i = 0; i < mp->nfailures; i++)
		per[mp->failures[i].result] += mp->failures[i].failed_session_count;
	CHECK_EQ_INT((int)per[TLSRPT_VALIDATION_FAILURE], TLSRPT_FAILURES_MAX + 3);
	CHECK_EQ_INT((int)per[TLSRPT_CERTIFICATE_EXPIRED], 7);
}

/* A received report: dates, required fields, bounds, unknown result types. */
static void test_report_in(void)
{
	int64_t t;
	CHECK_EQ_INT(tlsrpt_datetime_parse("2016-04-01T00:00:00Z", &t), 0);
	CHECK_EQ_INT((int)(t / 86400), 16892);
	CHECK_EQ_INT(tlsrpt_datetime_parse("2016-04-01T01:30:00.25+01:30", &t), 0);
	CHECK_EQ_INT((int)(t % 86400), 0);
	CHECK_EQ_INT(tlsrpt_datetime_parse("2016-04-01 00:00:00Z", &t), 0);
	CHECK_EQ_INT(tlsrpt_datetime_parse("2016-04-01T00:00:00", &t), -1);
	CHECK_EQ_INT(tlsrpt_datetime_parse("2016-13-01T00:00:00Z", &t), -1);
	CHECK_EQ_INT(tlsrpt_datetime_parse("1969-12-31T23:59:59Z", &t), -1);
	CHECK_EQ_INT(tlsrpt_datetime_parse("2016-04-01T00:00:00.Z", &t), -1);

	const char *ok = "{\"organization-name\":\"X\",\"date-range\":{\"start-datetime\":"
			 "\"2016-04-01T00:00:00Z\",\"end-datetime\":\"2016-04-01T23:59:59Z\"},"
			 "\"report-id\":\"r\",\"ext\":1,\"policies\":[{\"policy\":{\"policy-type\":\"tlsa\","
			 "\"policy-string\":[\"3 1 1 aa\"],\"policy-domain\":\"example.net\"},"
			 "\"summary\":{\"total-successful-session-count\":2,\"total-failure-session-count\":1},"
			 "\"failure-details\":[{\"result-type\":\"novel\",\"failed-session-count\":1}]}]}";
	struct arena *a = arena_new(4096);
	struct tlsrpt_report r;
	char err[128];
	CHECK_EQ_INT(tlsrpt_report_parse(ok, strlen(ok), a, &r, err, sizeof err), 0);
	CHECK_EQ_STR(r.organization, "X");
	CHECK_EQ_STR(r.contact, "");
	CHECK_EQ_INT((int)(r.end - r.start), 86399);
	CHECK_EQ_INT(r.policies[0].type, TLSRPT_TLSA);
	CHECK_EQ_STR(r.policies[0].strings[0], "3 1 1 aa");
	CHECK_EQ_INT(r.policies[0].failures[0].result, TLSRPT_VALIDATION_FAILURE);
	CHECK_EQ_STR(r.policies[0].failures[0].additional_information, "novel");
	/* A known type: its additional-information URI and failure-reason-code
	 * text both kept; one longer than its room is cut between characters
	 * (300 bytes of two-byte "\xc3\xa9": the old cut left a lone \xc3). */
	{
		struct buf tb;
		buf_init(&tb, 8192);
		const char *fd = strstr(ok, "\"failure-details\"");
		buf_append(&tb, ok, (size_t)(fd - ok));
		buf_append_c(&tb, "\"failure-details\":[{\"result-type\":\"certificate-expired\","
				 "\"failed-session-count\":1,\"failure-reason-code\":\"X509_V_ERR\","
				 "\"additional-information\":\"");
		for (int i = 0; i < 150; i++)
			buf_append_c(&tb, "\xc3\xa9");
		buf_append_c(&tb, "\"}]}]}");
		CHECK_EQ_INT(tlsrpt_report_parse(buf_data(&tb), buf_len(&tb), a, &r, err, sizeof err), 0);
		const struct tlsrpt_failure *f = &r.policies[0].failures[0];
		CHECK_EQ_INT(f->result, TLSRPT_CERTIFICATE_EXPIRED);
		CHECK_EQ_STR(f->failure_reason_code, "X509_V_ERR");
		size_t l = strlen(f->additional_information);
		CHECK_EQ_INT((int)l, 254);
		CHECK_EQ_INT((unsigned char)f->additional_information[l - 1], 0xa9);
		buf_free(&tb);
	}
	CHECK_EQ_INT((int)r.flags, 0);
	/* RFC 8460 sets no length on organization-name, contact-info or
	 * report-id: one past 255 octets is cut there (between characters:
	 * 150 two-byte "\xc3\xa9" keep 127 of them) and the report kept,
	 * flagged, as DMARC's intake cuts and keeps. It was refused whole. */
	{
		struct buf tb;
		buf_init(&tb, 8192);
		buf_append_c(&tb, "{\"organization-name\":\"");
		for (int i = 0; i < 150; i++)
			buf_append_c(&tb, "\xc3\xa9");
		buf_append_c(&tb, "\",\"contact-info\":\"");
		for (int i = 0; i < 300; i++)
			buf_append_c(&tb, "c");
		/* ok from its date-range on, its report-id "r" made 256 long */
		const char *dr = strstr(ok, "\"date-range\""), *rid = strstr(ok, "\"report-id\":\"r\"");
		buf_append_c(&tb, "\",");
		buf_append(&tb, dr, (size_t)(rid - dr));
		buf_append_c(&tb, "\"report-id\":\"");
		for (int i = 0; i < 256; i++)
			buf_append_c(&tb, "r");
		buf_append_c(&tb, rid + strlen("\"report-id\":\"r"));
		CHECK_EQ_INT(tlsrpt_report_parse(buf_data(&tb), buf_len(&tb), a, &r, err, sizeof err), 0);
		CHECK_EQ_INT((int)strlen(r.organization), 254);
		CHECK_EQ_INT((unsigned char)r.organization[253], 0xa9);
		CHECK_EQ_INT((int)strlen(r.contact), 255);
		CHECK_EQ_INT((int)strlen(r.report_id), 255);
		CHECK_EQ_INT((int)r.flags, (int)TLSRPT_REPORT_CUT);
		CHECK_EQ_INT((int)r.npolicies, 1);
		buf_free(&tb);
	}
	/* An unknown member is skipped, but counts against the values parsed. */
	for (int n = 1000; n <= TLSRPT_IN_VALUES_MAX; n += TLSRPT_IN_VALUES_MAX - 1000) {
		struct buf big;
		buf_init(&big, TLSRPT_IN_MAX);
		const char *ext = strstr(ok, "1,\"policies\"");
		buf_append(&big, ok, (size_t)(ext - ok));
		buf_append(&big, "[0", 2);
		for (int i = 1; i < n; i++)
			buf_append(&big, ",0", 2);
		buf_append(&big, "]", 1);
		buf_append(&big, ext + 1, strlen(ext + 1));
		int rc = tlsrpt_report_parse(buf_data(&big), buf_len(&big), a, &r, err, sizeof err);
		CHECK_EQ_INT(rc, n == 1000 ? 0 : -1);
		if (rc < 0)
			CHECK_EQ_STR(err, "too many JSON values");
		buf_free(&big);
	}
	/* Refused: no report-id, a negative count, an unknown policy type, not an object. */
	const char *bad[] = {
	    "{\"organization-name\":\"X\",\"date-range\":{\"start-datetime\":\"2016-04-01T00:00:00Z\","
	    "\"end-datetime\":\"2016-04-01T23:59:59Z\"},\"policies\":[]}",
	    "[1]",
	    "{\"organization-name\":\"X\",\"date-range\":{\"start-datetime\":\"2016-04-01T00:00:00Z\","
	    "\"end-datetime\":\"2016-04-01T23:59:59Z\"},\"report-id\":\"r\",\"policies\":[{\"policy\":"
	    "{\"policy-type\":\"dane\",\"policy-domain\":\"e.net\"},\"summary\":{\"total-successful-session-count\":1,"
	    "\"total-failure-session-count\":0}}]}",
	    "{\"organization-name\":\"X\",\"date-range\":{\"start-datetime\":\"2016-04-01T00:00:00Z\","
	    "\"end-datetime\":\"2016-04-01T23:59:59Z\"},\"report-id\":\"r\",\"policies\":[{\"policy\":"
	    "{\"policy-type\":\"sts\",\"policy-domain\":\"e.net\"},\"summary\":{\"total-successful-session-count\":-1,"
	    "\"total-failure-session-count\":0}}]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ_INT(tlsrpt_report_parse(bad[i], strlen(bad[i]), a, &r, err, sizeof err), -1);
	arena_free(&a);
}

/* BearSSL's refusals as RFC 8460 §4.3 result types. */
static void test_cert_results(void)
{
	CHECK_EQ_INT(queue_tlsrpt_cert_result(BR_ERR_X509_EXPIRED), TLSRPT_CERTIFICATE_EXPIRED);
	CHECK_EQ_INT(queue_tlsrpt_cert_result(BR_ERR_X509_BAD_SERVER_NAME),
		     TLSRPT_CERTIFICATE_HOST_MISMATCH);
	CHECK_EQ_INT(queue_tlsrpt_cert_result(BR_ERR_X509_NOT_TRUSTED), TLSRPT_CERTIFICATE_NOT_TRUSTED);
	CHECK_EQ_INT(queue_tlsrpt_cert_result(DANE_ERR_NO_MATCH), TLSRPT_VALIDATION_FAILURE);
	CHECK_EQ_INT(queue_tlsrpt_cert_result(BR_ERR_X509_BAD_SIGNATURE), TLSRPT_VALIDATION_FAILURE);
}


/* The longest line of b, without its CRLF. */
static size_t longest_line(const struct buf *b)
{
	size_t line = 0, best = 0;
	for (size_t i = 0; i < buf_len(b); i++) {
		if (buf_data(b)[i] == '\n')
			line = 0;
		else if (buf_data(b)[i] != '\r' && ++line > best)
			best = line;
	}
	return best;
}

/*
 * The report message (§5.3) keeps every line within RFC 5322 §2.1.1's
 * 998 octets: a record's four mailto: URIs of 300 octets each make a To
 * field that must be folded (it was one line of 1200).
 */
static void test_message_lines(void)
{
	static char to[4 * 310];
	size_t n = 0;
	for (int i = 0; i < 4; i++) {
		n += (size_t)snprintf(to + n, sizeof to - n, "%s", i ? ", " : "");
		for (int k = 0; k < 280; k++)
			to[n++] = 'r';
		n += (size_t)snprintf(to + n, sizeof to - n, "%d@reports.example", i);
	}
	static const uint8_t gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	struct buf out;
	buf_init(&out, 1 << 16);
	CHECK_EQ_INT(tlsrpt_message("tlsrpt@mail.example.test", to, "mail.example.test",
				    "example.org", "rid-1@mail.example.test", 1459468800,
				    1459555199, 1459558800, gz, sizeof gz, &out), 0);
	CHECK(longest_line(&out) <= 998);
	CHECK(strstr(buf_data(&out), "rrr0@reports.example,\r\n rrr") != NULL);
	CHECK(strstr(buf_data(&out), "3@reports.example\r\nDate: ") != NULL);
	CHECK(strstr(buf_data(&out), "Subject: Report Domain: example.org Submitter: mail.example.test"
				     " Report-ID:\r\n <rid-1@mail.example.test>\r\n") != NULL);
	/* §5.3: delivered despite TLS failures (RFC 8689 §5 tells the queue). */
	CHECK(strstr(buf_data(&out), "\r\nTLS-Required: No\r\n") != NULL);
	/* §5.1: the file name's unique-id is letters and digits only. */
	CHECK(strstr(buf_data(&out), "filename=\"mail.example.test!example.org!1459468800!1459555199!"
				     "rid1mailexampletest.json.gz\"") != NULL);
	buf_free(&out);
}

/* An MTA-STS policy that could not be fetched is counted with no MX and
 * no session (queue/sts.c): its failure-details leave sending-mta-ip and
 * receiving-mx-hostname out; they were written as "". */
static void test_report_policy_failure(void)
{
	static struct tlsrpt_report r;
	r.organization = "mx.example.org";
	r.contact = "tls@example.org";
	r.report_id = "1";
	r.start = 1459468800;
	r.end = 1459555199;
	r.npolicies = 1;
	struct tlsrpt_policy *p = &r.policies[0];
	p->type = TLSRPT_STS;
	snprintf(p->domain, sizeof p->domain, "example.net");
	p->failed = 1;
	p->nfailures = 1;
	p->failures[0] = (struct tlsrpt_failure){TLSRPT_STS_POLICY_FETCH_ERROR, "", "", "", 1, "",
						 "HTTP 404"};
	struct buf b;
	buf_init(&b, 64 * 1024);
	CHECK_EQ_INT(tlsrpt_report_json(&r, &b), 0);
	CHECK(strstr(buf_data(&b), "\"sts-policy-fetch-error\"") != NULL);
	CHECK(strstr(buf_data(&b), "\"sending-mta-ip\"") == NULL);
	CHECK(strstr(buf_data(&b), "\"receiving-mx-hostname\"") == NULL);
	CHECK(strstr(buf_data(&b), "\"receiving-ip\"") == NULL);
	CHECK(strstr(buf_data(&b), "\"failed-session-count\"") != NULL);
	/* And it reads back (our intake takes what we send). */
	struct arena *a = arena_new(4096);
	struct tlsrpt_report back;
	char err[128];
	CHECK_EQ_INT(tlsrpt_report_parse(buf_data(&b), buf_len(&b), a, &back, err, sizeof err), 0);
	CHECK(strstr(buf_data(&b), "\"failure-reason-code\":\"HTTP 404\"") != NULL);
	CHECK(strstr(buf_data(&b), "\"additional-information\"") == NULL);
	CHECK_EQ_STR(back.policies[0].failures[0].failure_reason_code, "HTTP 404");
	arena_free(&a);
	buf_free(&b);
}

int main(void)
{
	test_report_policy_failure();
	test_message_lines();
	test_cert_results();
	test_report_in();
	test_record();
	test_report();
	test_seen_parse();
	return unit_done("test_tlsrpt");
}
