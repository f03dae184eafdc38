/*
 * test_mta_sts.c — RFC 8461's TXT record and policy file, on the RFC's
 * own examples and the refusals §3 implies, and MX matching (§4.1).
 */
#include <string.h>

#include "queue/sts.h"
#include "tlspol/mta_sts.h"
#include "unit.h"

static int txt(const char *s, char *id)
{
	return mta_sts_txt_parse(s, strlen(s), id);
}

static int pol(const char *s, struct mta_sts_policy *p, const char **why)
{
	return mta_sts_policy_parse(s, strlen(s), p, why);
}

int main(void)
{
	char id[MTA_STS_ID_MAX + 1];
	struct mta_sts_policy p;
	const char *why = NULL;

	/* §3.1's example, and its variants. */
	CHECK_EQ_INT(txt("v=STSv1; id=20160831085700Z;", id), 1);
	CHECK_EQ_STR(id, "20160831085700Z");
	CHECK_EQ_INT(txt("v=STSv1;id=abc", id), 1);
	CHECK_EQ_STR(id, "abc");
	CHECK_EQ_INT(txt("v=STSv1; ext=1; id=X9 ;", id), 1);
	CHECK_EQ_STR(id, "X9");
	CHECK_EQ_INT(txt("id=abc; v=STSv1;", id), 0);            /* version not first */
	CHECK_EQ_INT(txt("v=STSv2; id=abc;", id), 0);
	CHECK_EQ_INT(txt("v=STSv1;", id), 0);                    /* no id */
	CHECK_EQ_INT(txt("v=STSv1; id=;", id), 0);
	CHECK_EQ_INT(txt("v=STSv1; id=a-b;", id), 0);            /* not alphanumeric */
	CHECK_EQ_INT(txt("v=STSv1; id=012345678901234567890123456789012;", id), 0); /* 33 */
	CHECK_EQ_INT(txt("v=STSv1; id=01234567890123456789012345678901;", id), 1);  /* 32 */
	CHECK_EQ_INT(txt("v=spf1 -all", id), 0);

	/* §3.2's example. */
	CHECK_EQ_INT(pol("version: STSv1\nmode: enforce\nmx: mail.example.com\n"
			 "mx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n", &p, &why),
		     0);
	CHECK_EQ_INT(p.mode, MTA_STS_ENFORCE);
	CHECK_EQ_INT(p.max_age, 604800);
	CHECK_EQ_INT(p.nmx, 3);
	CHECK_EQ_STR(p.mx[1], "*.example.net");
	CHECK(mta_sts_mx_match(&p, "mail.example.com"));
	CHECK(mta_sts_mx_match(&p, "MAIL.Example.COM."));
	CHECK(mta_sts_mx_match(&p, "mx1.example.net"));
	CHECK(!mta_sts_mx_match(&p, "a.mx1.example.net")); /* one label only */
	CHECK(!mta_sts_mx_match(&p, "example.net"));
	CHECK(!mta_sts_mx_match(&p, ".example.net"));
	CHECK(!mta_sts_mx_match(&p, "evil-mail.example.com"));
	CHECK(!mta_sts_mx_match(&p, "mail.example.com.evil.test"));
	CHECK(!mta_sts_mx_match(&p, ""));

	/* CRLF, blanks around values, unknown keys, repeated keys. */
	CHECK_EQ_INT(pol("version: STSv1\r\nmode:testing \r\nfoo: bar\r\nmx:  MX.Example.org\r\n"
			 "max_age: 86400\r\nmode: enforce\r\n", &p, &why), 0);
	CHECK_EQ_INT(p.mode, MTA_STS_TESTING);
	CHECK_EQ_STR(p.mx[0], "mx.example.org");
	/* A trailing dot on a pattern is the same host (found by the fuzzer). */
	CHECK_EQ_INT(pol("version: STSv1\nmode: enforce\nmx: mx.example.org.\nmax_age: 1\n", &p, &why), 0);
	CHECK_EQ_STR(p.mx[0], "mx.example.org");
	CHECK(mta_sts_mx_match(&p, "mx.example.org"));
	CHECK_EQ_INT(pol("version: STSv1\nmode: enforce\nmx: .\nmax_age: 1\n", &p, &why), -1);
	/* Two trailing dots left a pattern "a." that matched nothing (found by the fuzzer). */
	CHECK_EQ_INT(pol("version: STSv1\nmode: enforce\nmx: a..\nmax_age: 1\n", &p, &why), -1);
	/* max_age capped at about a year. */
	CHECK_EQ_INT(pol("version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 9999999999\n", &p, &why), 0);
	CHECK_EQ_INT(p.max_age, MTA_STS_MAX_AGE_MAX);
	/* none needs no mx. */
	CHECK_EQ_INT(pol("version: STSv1\nmode: none\nmax_age: 0\n", &p, &why), 0);
	CHECK_EQ_INT(p.mode, MTA_STS_NONE);

	/* Refusals. */
	CHECK_EQ_INT(pol("mode: enforce\nmx: a.b\nmax_age: 1\n", &p, &why), -1);
	CHECK_EQ_STR(why, "no version");
	CHECK_EQ_INT(pol("version: STSv1\nmx: a.b\nmax_age: 1\n", &p, &why), -1);
	CHECK_EQ_STR(why, "no mode");
	CHECK_EQ_INT(pol("version: STSv1\nmode: enforce\nmx: a.b\n", &p, &why), -1);
	CHECK_EQ_STR(why, "no max_age");
	CHECK_EQ_INT(pol("version: STSv1\nmode: enforce\nmax_age: 1\n", &p, &why), -1);
	CHECK_EQ_STR(why, "no mx");
	CHECK_EQ_INT(pol("version: STSv2\nmode: enforce\nmx: a.b\nmax_age: 1\n", &p, &why), -1);
	CHECK_EQ_INT(pol("version: STSv1\nmode: strict\nmx: a.b\nmax_age: 1\n", &p, &why), -1);
	CHECK_EQ_INT(pol("version: STSv1\nmode: enforce\nmx: a.b\nmax_age: -1\n", &p, &why), -1);
	CHECK_EQ_INT(pol("version: STSv1\nmode: enforce\nmx: a..b\nmax_age: 1\n", &p, &why), -1);
	CHECK_EQ_INT(pol("version: STSv1\nmode: enforce\nmx: *\nmax_age: 1\n", &p, &why), -1);
	CHECK_EQ_INT(pol("version: STSv1\nmode: enforce\nmx: a b\nmax_age: 1\n", &p, &why), -1);
	CHECK_EQ_INT(pol("version: STSv1\njunk\nmode: enforce\nmx: a.b\nmax_age: 1\n", &p, &why), -1);
	char big[2048] = "version: STSv1\nmode: enforce\nmax_age: 1\n";
	for (int i = 0; i <= MTA_STS_MX_MAX; i++)
		strcat(big, "mx: a.example\n");
	CHECK_EQ_INT(pol(big, &p, &why), -1);
	CHECK_EQ_STR(why, "too many mx lines");

	CHECK_EQ_STR(mta_sts_mode_name(MTA_STS_ENFORCE), "enforce");

	/* The queue's cache record (queue/sts.c): a header line, then the policy as fetched. */
	char cid[MTA_STS_ID_MAX + 1];
	int64_t exp = 0;
	const char *rec = "STS1 1700000000 1700086400 20160831085700Z\n"
			  "version: STSv1\r\nmode: enforce\r\nmx: *.example.net\r\nmax_age: 86400\r\n";
	CHECK_EQ_INT(sts_record_parse(rec, strlen(rec), &p, cid, &exp), 0);
	CHECK_EQ_STR(cid, "20160831085700Z");
	CHECK(exp == 1700086400);
	CHECK_EQ_INT(p.mode, MTA_STS_ENFORCE);
	CHECK(mta_sts_mx_match(&p, "mx1.example.net"));
	/* Byte at a time: every prefix cut before max_age's first digit is refused. */
	size_t digits = (size_t)(strstr(rec, "max_age: ") - rec) + 9;
	for (size_t i = 0; i < digits; i++)
		CHECK_EQ_INT(sts_record_parse(rec, i, &p, cid, &exp), -1);
	const char *badrec[] = {
	    "STS1 1 2\nversion: STSv1\nmode: enforce\nmx: a.b\nmax_age: 1\n",
	    "STS2 1 2 x\nversion: STSv1\nmode: enforce\nmx: a.b\nmax_age: 1\n",
	    "STS1 1 2 x\nversion: STSv1\nmode: enforce\nmax_age: 1\n",
	    "STS1 1 2 123456789012345678901234567890123\nversion: STSv1\nmode: none\nmax_age: 1\n",
	    "no newline",
	};
	for (size_t i = 0; i < sizeof badrec / sizeof badrec[0]; i++)
		CHECK_EQ_INT(sts_record_parse(badrec[i], strlen(badrec[i]), &p, cid, &exp), -1);
	/* §3.1 over a whole answer: records of other kinds skipped; exactly
	 * one STSv1 record, and valid, else no policy. */
	const char *one[] = {"v=spf1 -all", "v=STSv1; id=abc;", "v=STSv10; id=x;"};
	CHECK_EQ_INT(mta_sts_txt_pick(one, 3, id), 1);
	CHECK_EQ_STR(id, "abc");
	/* An invalid STSv1 record beside a valid one: two records, none
	 * (the valid one was taken alone before). */
	const char *bad_too[] = {"v=STSv1; id=abc;", "v=STSv1; id=a-b;"};
	CHECK_EQ_INT(mta_sts_txt_pick(bad_too, 2, id), 0);
	CHECK_EQ_STR(id, "");
	const char *no_id_too[] = {"v=STSv1 ; ext=1", "v=STSv1; id=abc;"};
	CHECK_EQ_INT(mta_sts_txt_pick(no_id_too, 2, id), 0);
	const char *two[] = {"v=STSv1; id=abc;", "v=STSv1; id=def;"};
	CHECK_EQ_INT(mta_sts_txt_pick(two, 2, id), 0);
	const char *bare[] = {"v=STSv1"};
	CHECK_EQ_INT(mta_sts_txt_pick(bare, 1, id), 0);
	CHECK_EQ_INT(mta_sts_txt_pick(NULL, 0, id), 0);
	CHECK_EQ_INT(mta_sts_txt_versioned("v=STSv1", 7, "v=STSv1"), 1);
	CHECK_EQ_INT(mta_sts_txt_versioned("v=STSv1\t;", 9, "v=STSv1"), 1);
	CHECK_EQ_INT(mta_sts_txt_versioned("v=STSv", 6, "v=STSv1"), 0);
	CHECK_EQ_INT(mta_sts_txt_versioned("V=STSv1;", 8, "v=STSv1"), 0);
	return unit_done("test_mta_sts");
}
