/*
 * test_clamd.c — clamd's replies (virus/clamd.h): where a NUL-terminated
 * reply ends (also fed one byte at a time), what each form says, that
 * nothing but "stream: OK" reads as clean, and TERN_CLAMD's forms
 * (config_clamd_parse).
 */
#include <string.h>

#include "core/config.h"
#include "unit.h"
#include "virus/clamd.h"

/* in, fed one byte at a time when bytewise, through clamd_reply_find
 * then clamd_reply_parse; the find's last answer. */
static long feed(const char *in, size_t n, int bytewise, struct clamd_result *r)
{
	long got = -2;
	for (size_t have = bytewise ? 1 : n; have <= n; have++) {
		got = clamd_reply_find(in, have);
		if (got != -2)
			break;
	}
	if (got >= 0)
		clamd_reply_parse(in, (size_t)got, r);
	return got;
}

static void test_forms(void)
{
	static const struct {
		const char *in;
		enum clamd_status st;
		const char *name, *why;
	} cases[] = {
	    {"stream: OK", CLAMD_CLEAN, "", NULL},
	    {"stream: OK\n", CLAMD_CLEAN, "", NULL},
	    {"stream: Eicar-Signature FOUND", CLAMD_INFECTED, "Eicar-Signature", NULL},
	    {"stream: Win.Test.EICAR_HDB-1 FOUND", CLAMD_INFECTED, "Win.Test.EICAR_HDB-1", NULL},
	    {"stream: Tern.Test.Virus.UNOFFICIAL FOUND\n", CLAMD_INFECTED,
	     "Tern.Test.Virus.UNOFFICIAL", NULL},
	    /* a name with what a log line must not carry */
	    {"stream: a\"b c\\d FOUND", CLAMD_INFECTED, "a?b?c?d", NULL},
	    {"INSTREAM size limit exceeded. ERROR", CLAMD_FAILED,
	     "INSTREAM?size?limit?exceeded.?ERROR", "size_limit"},
	    {"stream: Can't allocate memory ERROR", CLAMD_FAILED, "stream:?Can't?allocate?memory?ERROR",
	     "error"},
	    {"UNKNOWN COMMAND", CLAMD_FAILED, "UNKNOWN?COMMAND", "bad_reply"},
	    /* never clean unless it says exactly OK */
	    {"stream: OKAY", CLAMD_FAILED, "stream:?OKAY", "bad_reply"},
	    {"stream:  OK", CLAMD_FAILED, "stream:??OK", "bad_reply"},
	    {"OK", CLAMD_FAILED, "OK", "bad_reply"},
	    {"stream: FOUND", CLAMD_FAILED, "stream:?FOUND", "bad_reply"},
	    {"stream:  FOUND", CLAMD_FAILED, "stream:??FOUND", "bad_reply"},
	    {"", CLAMD_FAILED, "", "bad_reply"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		for (int bytewise = 0; bytewise < 2; bytewise++) {
			char in[256];
			size_t n = strlen(cases[i].in);
			memcpy(in, cases[i].in, n);
			in[n] = '\0';
			struct clamd_result r;
			CHECK_EQ_INT(feed(in, n + 1, bytewise, &r), (long)n);
			CHECK_EQ_INT(r.status, cases[i].st);
			CHECK_EQ_STR(r.name, cases[i].name);
			if (cases[i].why)
				CHECK_EQ_STR(r.why, cases[i].why);
			else
				CHECK(r.why == NULL);
		}
	}
}

static void test_bounds(void)
{
	static char big[CLAMD_REPLY_MAX + 8];
	struct clamd_result r;

	/* no NUL yet: need more, until CLAMD_REPLY_MAX octets came */
	memset(big, 'A', sizeof big);
	CHECK_EQ_INT(clamd_reply_find(big, 0), -2);
	CHECK_EQ_INT(clamd_reply_find(big, CLAMD_REPLY_MAX - 1), -2);
	CHECK_EQ_INT(clamd_reply_find(big, CLAMD_REPLY_MAX), -1);
	CHECK_EQ_INT(clamd_reply_find(big, sizeof big), -1);
	/* a NUL past the bound is not looked for */
	big[CLAMD_REPLY_MAX] = '\0';
	CHECK_EQ_INT(clamd_reply_find(big, sizeof big), -1);
	big[CLAMD_REPLY_MAX - 1] = '\0';
	CHECK_EQ_INT(clamd_reply_find(big, sizeof big), CLAMD_REPLY_MAX - 1);
	/* a long name is cut to fit */
	memcpy(big, "stream: ", 8);
	memcpy(big + CLAMD_REPLY_MAX - 7, " FOUND", 6);
	clamd_reply_parse(big, CLAMD_REPLY_MAX - 1, &r);
	CHECK_EQ_INT(r.status, CLAMD_INFECTED);
	CHECK_EQ_INT(strlen(r.name), CLAMD_NAME_MAX - 1);
	/* what follows the NUL is not the reply's */
	CHECK_EQ_INT(clamd_reply_find("stream: OK\0junk", 15), 10);
}

static void test_address(void)
{
	struct listen_addr a;
	CHECK_EQ_INT(config_clamd_parse("/run/clamav/clamd.ctl", &a), 1);
	CHECK_EQ_INT(config_clamd_parse("127.0.0.1:3310", &a), 0);
	CHECK_EQ_STR(a.host, "127.0.0.1");
	CHECK_EQ_INT(a.port, 3310);
	CHECK_EQ_INT(config_clamd_parse("clamav:3310", &a), 0);
	CHECK_EQ_STR(a.host, "clamav");
	CHECK_EQ_INT(config_clamd_parse("[::1]:3310", &a), 0);
	CHECK_EQ_STR(a.host, "::1");
	CHECK_EQ_INT(config_clamd_parse("clamav", &a), -1);      /* no port */
	CHECK_EQ_INT(config_clamd_parse("clamav:0", &a), -1);
	CHECK_EQ_INT(config_clamd_parse("clamav:65536", &a), -1);
	CHECK_EQ_INT(config_clamd_parse(":3310", &a), -1);       /* no host */
	CHECK_EQ_INT(config_clamd_parse("bad_name:3310", &a), -1);
	CHECK_EQ_INT(config_clamd_parse("run/clamd.ctl", &a), -1); /* relative */
	char longpath[120];
	memset(longpath, 'a', sizeof longpath);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = '\0';
	CHECK_EQ_INT(config_clamd_parse(longpath, &a), -1); /* past sun_path */
}

int main(void)
{
	test_forms();
	test_bounds();
	test_address();
	return unit_done("test_clamd");
}
