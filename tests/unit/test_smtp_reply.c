/*
 * test_smtp_reply.c — the outbound client's reply reader: line finding
 * (also fed one byte at a time), multi-line replies, malformed replies,
 * EHLO keywords, enhanced status codes.
 */
#include <stdio.h>
#include <string.h>

#include "queue/smtp_reply.h"
#include "unit.h"

/* Feeds input through line finding and the reply parser, one byte at a
 * time when bytewise; returns the number of complete replies, -1 on error;
 * the last reply in *r. */
static int feed(const char *in, int bytewise, struct smtp_reply *r)
{
	char buf[8192];
	size_t have = 0, n = strlen(in), pos = 0;
	int replies = 0;

	smtp_reply_init(r);
	while (pos < n) {
		size_t take = bytewise ? 1 : n - pos;
		memcpy(buf + have, in + pos, take);
		have += take;
		pos += take;
		for (;;) {
			long l = smtp_reply_line_find(buf, have, SMTP_REPLY_LINE_MAX);
			if (l < 0)
				return -1;
			if (l == 0)
				break;
			int rc = smtp_reply_line(r, buf, (size_t)l - 1);
			memmove(buf, buf + l, have - (size_t)l);
			have -= (size_t)l;
			if (rc < 0)
				return -1;
			if (rc == 1) {
				replies++;
				if (pos < n || have)
					smtp_reply_init(r);
			}
		}
	}
	return replies;
}

static void test_replies(void)
{
	struct smtp_reply r;
	char st[16];

	for (int bw = 0; bw < 2; bw++) {
		CHECK_EQ_INT(feed("220 mx.example.net ESMTP\r\n", bw, &r), 1);
		CHECK_EQ_INT(r.code, 220);
		CHECK_EQ_STR(r.text, "mx.example.net ESMTP");

		CHECK_EQ_INT(feed("250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
				  "250-8BITMIME\r\n250-AUTH LOGIN PLAIN\r\n250-starttls\r\n"
				  "250-DSN\r\n250 SMTPUTF8\r\n",
				  bw, &r),
			     1);
		CHECK_EQ_INT(r.code, 250);
		CHECK_EQ_INT(r.lines, 8);
		struct smtp_ehlo e;
		smtp_ehlo_parse(&r, &e);
		CHECK_EQ_INT(e.ext, SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME |
					SMTP_EXT_AUTH_LOGIN | SMTP_EXT_AUTH_PLAIN | SMTP_EXT_STARTTLS |
					SMTP_EXT_DSN | SMTP_EXT_SMTPUTF8);
		CHECK_EQ_INT(e.size, 1000);

		/* Bare LF and a code alone are accepted; codes must agree. */
		CHECK_EQ_INT(feed("354\n", bw, &r), 1);
		CHECK_EQ_INT(r.code, 354);
		CHECK_EQ_INT(feed("250-a\r\n251 b\r\n", bw, &r), -1);
		CHECK_EQ_INT(feed("25x ok\r\n", bw, &r), -1);
		CHECK_EQ_INT(feed("250_ok\r\n", bw, &r), -1);
		CHECK_EQ_INT(feed("150 ok\r\n", bw, &r), -1);
		/* Two replies pipelined in one read. */
		CHECK_EQ_INT(feed("250 2.1.0 ok\r\n550 5.1.1 no such user\r\n", bw, &r), 2);
		CHECK_EQ_INT(r.code, 550);
		CHECK_EQ_STR(smtp_reply_status(&r, st, sizeof st), "5.1.1");
	}

	/* Status codes: a class that disagrees with the reply is not taken. */
	CHECK_EQ_INT(feed("450 5.1.1 mixed\r\n", 0, &r), 1);
	CHECK_EQ_STR(smtp_reply_status(&r, st, sizeof st), "4.0.0");
	CHECK_EQ_INT(feed("421 try later\r\n", 0, &r), 1);
	CHECK_EQ_STR(smtp_reply_status(&r, st, sizeof st), "4.0.0");
	CHECK_EQ_STR(smtp_status_code("550 5.7.1 relay denied", st, sizeof st), "5.7.1");
	CHECK_EQ_STR(smtp_status_code("5.1.10 null MX", st, sizeof st), "5.1.10");
	CHECK_EQ_STR(smtp_status_code("554 rejected", st, sizeof st), "5.0.0");
	CHECK_EQ_STR(smtp_status_code("", st, sizeof st), "4.0.0");
	CHECK_EQ_STR(smtp_status_code("5.1234.1 x", st, sizeof st), "5.0.0");

	/* A line over the limit is an error, not a buffer to grow. */
	static char big[SMTP_REPLY_LINE_MAX + 10];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK_EQ_INT(smtp_reply_line_find(big, sizeof big - 1, SMTP_REPLY_LINE_MAX), -1);

	/* Long multi-line text is cut, never overflows, still completes. */
	smtp_reply_init(&r);
	char line[600];
	memset(line, 'x', sizeof line);
	memcpy(line, "250-", 4);
	int rc = 0;
	for (int i = 0; i < 10; i++)
		rc = smtp_reply_line(&r, line, sizeof line);
	CHECK_EQ_INT(rc, 0);
	line[3] = ' ';
	CHECK_EQ_INT(smtp_reply_line(&r, line, sizeof line), 1);
	CHECK_EQ_INT(r.textlen, SMTP_REPLY_TEXT_MAX);
	CHECK_EQ_INT(strlen(r.text), SMTP_REPLY_TEXT_MAX);

	/* Keywords past the first 1 KiB of text still count: a remote
	 * announcing many long keywords (XCLIENT lists, vendor ones) before
	 * PIPELINING and STARTTLS must not lose them to the text's cut. */
	smtp_reply_init(&r);
	CHECK_EQ_INT(smtp_reply_line(&r, "250-mx.example.net", 18), 0);
	memset(line, 'X', sizeof line);
	memcpy(line, "250-XVENDOR ", 12);
	for (int i = 0; i < 6; i++)
		CHECK_EQ_INT(smtp_reply_line(&r, line, 300), 0);
	CHECK_EQ_INT(smtp_reply_line(&r, "250-SIZE 5000", 13), 0);
	CHECK_EQ_INT(smtp_reply_line(&r, "250-PIPELINING", 14), 0);
	CHECK_EQ_INT(smtp_reply_line(&r, "250 STARTTLS", 12), 1);
	CHECK(r.textlen == SMTP_REPLY_TEXT_MAX); /* the text was cut before them */
	struct smtp_ehlo e2;
	smtp_ehlo_parse(&r, &e2);
	CHECK_EQ_INT(e2.ext, SMTP_EXT_SIZE | SMTP_EXT_PIPELINING | SMTP_EXT_STARTTLS);
	CHECK_EQ_INT(e2.size, 5000);
	/* The first line is the greeting even when it looks like a keyword. */
	CHECK_EQ_INT(feed("250-STARTTLS\r\n250 DSN\r\n", 0, &r), 1);
	smtp_ehlo_parse(&r, &e2);
	CHECK_EQ_INT(e2.ext, SMTP_EXT_DSN);

	/* Thousands of lines are one reply (RFC 5321 sets no limit; a
	 * reply of 257 lines was refused as malformed): the keywords past
	 * them all still count, the text stays within its bound. */
	smtp_reply_init(&r);
	rc = smtp_reply_line(&r, "250-mx.example greets you", 25);
	for (int i = 0; i < 5000 && rc == 0; i++) {
		char l[32];
		int n = snprintf(l, sizeof l, "250-X-PAD-%d", i);
		rc = smtp_reply_line(&r, l, (size_t)n);
	}
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(smtp_reply_line(&r, "250 PIPELINING", 14), 1);
	CHECK_EQ_INT(r.code, 250);
	CHECK(r.textlen <= SMTP_REPLY_TEXT_MAX);
	smtp_ehlo_parse(&r, &e2);
	CHECK_EQ_INT(e2.ext, SMTP_EXT_PIPELINING);
	/* A code that changes within a reply is malformed (§4.2.1: the same
	 * code on every line), not read as either. */
	CHECK_EQ_INT(feed("250-first\r\n550 changed\r\n", 0, &r), -1);
	CHECK_EQ_INT(feed("354-go\r\n250 on\r\n", 1, &r), -1);
}

/* RFC 9422 LIMITS: the three limits the client uses, names without case,
 * unknown names and valueless ones skipped, malformed values and 0 taken
 * as not announced, huge values capped. */
static void test_limits(void)
{
	struct smtp_reply r;
	struct smtp_ehlo e;

	CHECK_EQ_INT(feed("250-mx\r\n250-LIMITS RCPTMAX=20 MAILMAX=3 rcptdomainmax=2\r\n250 DSN\r\n", 1,
			  &r),
		     1);
	smtp_ehlo_parse(&r, &e);
	CHECK_EQ_INT(e.rcptmax, 20);
	CHECK_EQ_INT(e.mailmax, 3);
	CHECK_EQ_INT(e.rcptdomainmax, 2);
	CHECK_EQ_INT(e.ext, SMTP_EXT_DSN);

	CHECK_EQ_INT(feed("250-mx\r\n250-limits  X-FOO  BAR=baz;1 RCPTMAX=12x MAILMAX=0 "
			  "RCPTDOMAINMAX= RCPTMAX RCPTMAXX=5 MAILMAX=99999999999999999999 RCPTDOMAINMAX=7\r\n"
			  "250 PIPELINING\r\n",
			  0, &r),
		     1);
	smtp_ehlo_parse(&r, &e);
	CHECK_EQ_INT(e.rcptmax, 0);
	CHECK_EQ_INT(e.mailmax, SMTP_LIMIT_MAX);
	CHECK_EQ_INT(e.rcptdomainmax, 7);
	CHECK_EQ_INT(e.ext, SMTP_EXT_PIPELINING);

	/* No LIMITS: nothing announced; the keyword alone neither. */
	CHECK_EQ_INT(feed("250-mx\r\n250 LIMITS\r\n", 0, &r), 1);
	smtp_ehlo_parse(&r, &e);
	CHECK_EQ_INT(e.rcptmax + e.mailmax + e.rcptdomainmax, 0);
}

int main(void)
{
	test_replies();
	test_limits();
	return unit_done("test_smtp_reply");
}
