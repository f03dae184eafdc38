/*
 * test_smtp_submit.c — the pieces of the submission policy that need no
 * network: the strict From address parser, the header scan (From, Date,
 * Message-ID counts), the per-account sliding-window rate limit, the
 * server side of SASL PLAIN/LOGIN shared with POP3 (auth/sasl.h), and the
 * Date format written at submission and in Received (mime_date_format).
 */
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"
#include "core/arena.h"
#include "mime/mime_date.h"
#include "smtp/smtp_headers.h"
#include "smtp/smtp_rate.h"
#include "unit.h"

/* Parses v; checks the result count and, when >= 1, the addresses joined by " ". */
static void from_case(const char *v, int want_n, const char *want)
{
	struct arena *a = arena_new(1024);
	char *addrs[4];
	int n = smtp_from_addresses(a, str_c(v), addrs, 4);

	CHECK_EQ_INT(n, want_n);
	if (n != want_n)
		fprintf(stderr, "  for From: %s\n", v);
	if (n > 0 && n == want_n) {
		char joined[512] = "";
		for (int i = 0; i < n; i++) {
			if (i)
				strcat(joined, " ");
			strncat(joined, addrs[i], sizeof(joined) - strlen(joined) - 1);
		}
		CHECK_EQ_STR(joined, want);
	}
	arena_free(&a);
}

static void test_from(void)
{
	/* Accepted shapes. */
	from_case("alice@example.test", 1, "alice@example.test");
	from_case("Alice@EXAMPLE.Test", 1, "Alice@example.test");
	from_case("<alice@example.test>", 1, "alice@example.test");
	from_case("Alice Doe <alice@example.test>", 1, "alice@example.test");
	from_case("\"Doe, Alice\" <alice@example.test>", 1, "alice@example.test");
	from_case("John Q. Public <jqp@example.test>", 1, "jqp@example.test");
	from_case("alice@example.test (Alice (the) Doe)", 1, "alice@example.test");
	from_case("(c) alice (x) @ (y) example.test (z)", 1, "alice@example.test");
	from_case("=?utf-8?q?Al=C3=AFce?= <alice@example.test>", 1, "alice@example.test");
	from_case("a@x.test, B <b@y.test>", 2, "a@x.test b@y.test");
	from_case("\"quoted local\"@example.test", 1, "\"quoted local\"@example.test");
	from_case("J\xc3\xbcrgen <j\xc3\xbc@example.test>", 1, "j\xc3\xbc@example.test");
	from_case("first.last+tag@sub.example.test", 1, "first.last+tag@sub.example.test");

	/* Refused: anything a reader could show differently from what we checked. */
	static const char *const bad[] = {
		"",
		"   ",
		"alice",
		"alice@",
		"@example.test",
		"alice@example.test,",
		",alice@example.test",
		"alice@example.test,,b@x.test",
		"alice@example.test, <evil@remote.test",
		"alice@example.test <evil@remote.test>",
		"Alice <alice@example.test> evil@remote.test",
		"Alice <alice@example.test",
		"undisclosed-recipients:;",
		"group: alice@example.test;",
		"alice@[127.0.0.1]",
		"alice@example..test",
		".alice@example.test",
		"alice.@example.test",
		"alice@example.test.",
		"alice@example.test (unclosed",
		"\"unclosed@example.test",
		"<@route:alice@example.test>",
		"alice@@example.test",
		"Alice <<alice@example.test>>",
		"a@x.test, b@x.test, c@x.test, d@x.test, e@x.test",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		from_case(bad[i], -1, NULL);

	/* A NUL inside the value is refused too. */
	struct arena *a = arena_new(256);
	char *addrs[2];
	CHECK_EQ_INT(smtp_from_addresses(a, str_make("a@x.test\0b", 10), addrs, 2), -1);
	arena_free(&a);
}

static int accept_sales(void *arg, const char *shown)
{
	(void)arg;
	return strcmp(shown, "sales@x.test") == 0;
}

/* The text shown beside each mailbox, and whether it shows another address. */
static void test_shown_names(void)
{
	struct arena *a = arena_new(1024);
	char *addrs[4], *names[4];

	CHECK_EQ_INT(smtp_from_mailboxes(a, str_c("\"b@x.test\" <a@x.test>, c@x.test (Cee)"),
					 addrs, names, 4), 2);
	CHECK_EQ_STR(names[0], "b@x.test");
	CHECK_EQ_STR(names[1], "Cee");
	CHECK_EQ_INT(smtp_from_mailboxes(a, str_c("=?utf-8?q?J=C3=BCrgen?= \"Q\\\" X\" <j@x.test>"),
					 addrs, names, 4), 1);
	CHECK_EQ_STR(names[0], "J\xc3\xbcrgen Q\" X");
	CHECK_EQ_INT(smtp_from_mailboxes(a, str_c("a@x.test"), addrs, names, 4), 1);
	CHECK_EQ_STR(names[0], "");
	/* Words written together are shown together (Python's email joins
	 * them), words apart with a space. */
	CHECK_EQ_INT(smtp_from_mailboxes(a, str_c("\"b\"\"@x.test\" <a@x.test>"), addrs, names, 4), 1);
	CHECK_EQ_STR(names[0], "b@x.test");
	CHECK_EQ_INT(smtp_from_mailboxes(a, str_c("b\"@x.test\" <a@x.test>"), addrs, names, 4), 1);
	CHECK_EQ_STR(names[0], "b@x.test");
	CHECK_EQ_INT(smtp_from_mailboxes(a, str_c("\"b\" \"@x.test\"(c) <a@x.test>"), addrs, names, 4), 1);
	CHECK_EQ_STR(names[0], "b @x.test c");

	/* Another address shown: refused by submission. */
	CHECK(smtp_name_shows_other("b@x.test", "a@x.test", NULL, NULL));
	CHECK(smtp_name_shows_other("Boss (boss@corp.test)", "a@x.test", NULL, NULL));
	CHECK(smtp_name_shows_other("a@x.test b@x.test", "a@x.test", NULL, NULL));
	CHECK(smtp_name_shows_other("a\xef\xbc\xa0x.test", "a@x.test", NULL, NULL)); /* fullwidth at */
	CHECK(smtp_name_shows_other("\"b\"@x.test", "a@x.test", NULL, NULL));
	/* Look-alike dots in the domain (IDNA maps the first three to '.'). */
	CHECK(smtp_name_shows_other("b@x\xef\xbc\x8etest", "a@x.test", NULL, NULL)); /* fullwidth */
	CHECK(smtp_name_shows_other("b@x\xe3\x80\x82test", "a@x.test", NULL, NULL)); /* ideographic */
	CHECK(smtp_name_shows_other("b@x\xef\xbd\xa1test", "a@x.test", NULL, NULL)); /* halfwidth */
	CHECK(smtp_name_shows_other("b@x\xef\xb9\x92test", "a@x.test", NULL, NULL)); /* small */
	CHECK(smtp_name_shows_other("b@x\xe2\x80\xa4test", "a@x.test", NULL, NULL)); /* leader */
	CHECK(smtp_name_shows_other("Bob (b@mail\xef\xbc\x8ex.test)", "a@x.test", NULL, NULL));
	/* Its own address, or nothing that reads as one: fine. */
	CHECK(!smtp_name_shows_other("", "a@x.test", NULL, NULL));
	CHECK(!smtp_name_shows_other("A@X.TEST", "a@x.test", NULL, NULL));
	CHECK(!smtp_name_shows_other("Alice (a@x.test).", "a@x.test", NULL, NULL));
	CHECK(!smtp_name_shows_other("Alice @ home", "a@x.test", NULL, NULL));
	CHECK(!smtp_name_shows_other("@alice", "a@x.test", NULL, NULL));
	CHECK(!smtp_name_shows_other("me@home", "a@x.test", NULL, NULL));
	CHECK(!smtp_name_shows_other("me@home\xef\xbc\x8e", "a@x.test", NULL, NULL));
	CHECK(!smtp_name_shows_other("Alice (a@x.test\xe3\x80\x82)", "a@x.test", NULL, NULL));
	/* Another address the caller accepts (the account's own alias). */
	CHECK(!smtp_name_shows_other("Sales (sales@x.test)", "a@x.test", accept_sales, NULL));
	CHECK(smtp_name_shows_other("Boss (boss@x.test)", "a@x.test", accept_sales, NULL));
	CHECK(smtp_name_shows_other("sales\xef\xbc\xa0x.test", "a@x.test", accept_sales, NULL));
	CHECK(smtp_name_shows_other("sales@x\xef\xbc\x8etest", "a@x.test", accept_sales, NULL));
	arena_free(&a);
}

static void test_scan(void)
{
	struct arena *a = arena_new(1024);
	struct smtp_headers h;
	const char *m = "Subject: x\r\nFROM: Alice\r\n <alice@example.test>\r\ndate: now\r\n"
			"Sender: s@x.test\r\n\r\nFrom: body@x.test\r\nMessage-ID: <b@x>\r\n";

	CHECK_EQ_INT(smtp_headers_scan(a, m, strlen(m), &h), 0);
	CHECK_EQ_INT(h.from_fields, 1);
	CHECK_EQ_INT(h.date_fields, 1);
	CHECK_EQ_INT(h.msgid_fields, 0); /* the body's does not count */
	CHECK_EQ_INT(h.sender_fields, 1);
	CHECK_EQ_SLICE(h.from, "Alice <alice@example.test>");
	CHECK_EQ_SLICE(h.sender, "s@x.test");
	CHECK(!h.malformed);
	CHECK_EQ_INT(h.header_end, strstr(m, "\r\n\r\n") + 4 - m);
	CHECK(!h.no_separator);

	m = "From: a@x.test\r\nFrom: b@x.test\r\nMessage-Id: <1@x>\r\n";
	CHECK_EQ_INT(smtp_headers_scan(a, m, strlen(m), &h), 0);
	CHECK_EQ_INT(h.from_fields, 2);
	CHECK_EQ_SLICE(h.from, "a@x.test");
	CHECK_EQ_INT(h.msgid_fields, 1);
	CHECK(h.no_separator);

	/* Every resent block's author fields are kept, in order. */
	m = "Resent-From: r1@x.test\r\nresent-sender: rs@x.test\r\nFrom: a@x.test\r\n"
	    "Resent-From: B\r\n <r2@x.test>\r\n\r\n";
	CHECK_EQ_INT(smtp_headers_scan(a, m, strlen(m), &h), 0);
	CHECK_EQ_INT(h.resent_from_fields, 2);
	CHECK_EQ_INT(h.resent_sender_fields, 1);
	CHECK_EQ_SLICE(h.resent_from[0], "r1@x.test");
	CHECK_EQ_SLICE(h.resent_from[1], "B <r2@x.test>");
	CHECK_EQ_SLICE(h.resent_sender[0], "rs@x.test");
	CHECK(!h.malformed); /* all header up to the end */

	/* A line that is not a field stays in the header (RFC 5322 §2.1)
	 * and marks it malformed: the From after it still counts. */
	m = "From: a@x.test\r\nnot a field\r\nFrom: b@x.test\r\n\r\nbody\r\n";
	CHECK_EQ_INT(smtp_headers_scan(a, m, strlen(m), &h), 0);
	CHECK_EQ_INT(h.from_fields, 2);
	CHECK(!h.no_separator && h.malformed);
	CHECK_EQ_INT(h.header_end, strstr(m, "\r\n\r\n") + 4 - m);

	/* A bare CR in a field (BDAT lets one through) marks the header
	 * malformed: some readers start a line there, and show a From. */
	m = "From: a@x.test\r\nTo: t@x.test\rFrom: b@x.test\r\n\r\nbody\r\n";
	CHECK_EQ_INT(smtp_headers_scan(a, m, strlen(m), &h), 0);
	CHECK_EQ_INT(h.from_fields, 1);
	CHECK(h.malformed);
	m = "From: a@x.test\r\nSubject: x\r\r\n\r\nbody\r\n";
	CHECK_EQ_INT(smtp_headers_scan(a, m, strlen(m), &h), 0);
	CHECK(h.malformed);
	m = "From: a@x.test\r\nSubject: x\r\n\r\nbody\rFrom: b@x.test\r\n";
	CHECK_EQ_INT(smtp_headers_scan(a, m, strlen(m), &h), 0);
	CHECK(!h.malformed); /* the body is not header */

	/* A header section past RFC5322_HEADER_MAX cannot be checked. */
	size_t big = 2 * 1024 * 1024;
	char *p = malloc(big);
	for (size_t i = 0; i < big; i += 20)
		memcpy(p + i, "X-Pad: 01234567890\r\n", 20 <= big - i ? 20 : big - i);
	CHECK_EQ_INT(smtp_headers_scan(a, p, big - big % 20, &h), -1);
	free(p);
	arena_free(&a);
}

static void test_rate(void)
{
	const uint64_t hour = SMTP_RATE_WINDOW_MS;

	smtp_rate_init(3);
	for (int i = 0; i < 3; i++) {
		CHECK(smtp_rate_allowed(7, 1000 + (uint64_t)i));
		smtp_rate_record(7, 1000 + (uint64_t)i);
	}
	CHECK(!smtp_rate_allowed(7, 2000));
	CHECK(smtp_rate_allowed(8, 2000)); /* per account */
	/* The window slides: one hour after the first send, one slot frees. */
	CHECK(!smtp_rate_allowed(7, 1000 + hour - 1));
	CHECK(smtp_rate_allowed(7, 1000 + hour));
	smtp_rate_record(7, 1000 + hour);
	CHECK(!smtp_rate_allowed(7, 1000 + hour)); /* sends 2 and 3 are still young */
	CHECK(smtp_rate_allowed(7, 1002 + hour));

	/* 0 = unlimited. */
	smtp_rate_init(0);
	for (int i = 0; i < 1000; i++)
		smtp_rate_record(9, 5);
	CHECK(smtp_rate_allowed(9, 5));

	/* Many accounts share buckets without mixing up. */
	smtp_rate_init(1);
	for (uint32_t acc = 1; acc <= 5000; acc++)
		smtp_rate_record(acc * 1024, 10);
	CHECK(!smtp_rate_allowed(1024, 11));
	CHECK(!smtp_rate_allowed(5000 * 1024, 11));
	CHECK(smtp_rate_allowed(5001 * 1024, 11));
	smtp_rate_free();
}

static void test_sasl_login(void)
{
	struct sasl_login x;
	char buf[SASL_RESPONSE_MAX];
	struct str u, p;

	memset(&x, 0, sizeof(x));
	CHECK_EQ_INT(sasl_login_start(&x, str_c("cram-md5")), -1);
	CHECK_EQ_INT(x.mech, SASL_MECH_NONE);

	/* PLAIN: "\0alice@x.test\0pw", with and without a matching authzid. */
	CHECK_EQ_INT(sasl_login_start(&x, str_c("plain")), 0);
	CHECK_EQ_INT(sasl_login_step(&x, str_c("AGFsaWNlQHgudGVzdABwdw=="), 1, buf, &u, &p),
		     SASL_STEP_DONE);
	CHECK_EQ_SLICE(u, "alice@x.test");
	CHECK_EQ_SLICE(p, "pw");
	/* "ALICE@x.test\0alice@x.test\0pw": the same user in another case. */
	CHECK_EQ_INT(sasl_login_step(&x, str_c("QUxJQ0VAeC50ZXN0AGFsaWNlQHgudGVzdABwdw=="), 1, buf,
				     &u, &p), SASL_STEP_DONE);
	/* "bob@x.test\0alice@x.test\0pw": acting as someone else. */
	CHECK_EQ_INT(sasl_login_step(&x, str_c("Ym9iQHgudGVzdABhbGljZUB4LnRlc3QAcHc="), 1, buf, &u,
				     &p), SASL_STEP_AUTHZID);
	CHECK_EQ_SLICE(u, "alice@x.test");
	CHECK_EQ_INT(p.len, 0);
	CHECK_EQ_INT(sasl_login_step(&x, str_c("="), 1, buf, &u, &p), SASL_STEP_MALFORMED);
	CHECK_EQ_INT(sasl_login_step(&x, str_c("="), 0, buf, &u, &p), SASL_STEP_BAD_BASE64);
	CHECK_EQ_INT(sasl_login_step(&x, str_c("a b"), 0, buf, &u, &p), SASL_STEP_BAD_BASE64);

	/* LOGIN: user name, then password. */
	CHECK_EQ_INT(sasl_login_start(&x, str_c("LOGIN")), 0);
	CHECK_EQ_INT(sasl_login_step(&x, str_c("YWxpY2VAeC50ZXN0"), 0, buf, &u, &p),
		     SASL_STEP_PASSWORD);
	CHECK_EQ_INT(sasl_login_step(&x, str_c("cHc="), 0, buf, &u, &p), SASL_STEP_DONE);
	CHECK_EQ_SLICE(u, "alice@x.test");
	CHECK_EQ_SLICE(p, "pw");
	sasl_login_end(&x);
	CHECK_EQ_INT(x.mech, SASL_MECH_NONE);
	CHECK_EQ_INT(x.user[0], 0);
	/* A user name with a NUL is refused before any password. */
	CHECK_EQ_INT(sasl_login_start(&x, str_c("LOGIN")), 0);
	CHECK_EQ_INT(sasl_login_step(&x, str_c("YQBi"), 0, buf, &u, &p), SASL_STEP_MALFORMED);
}

static void test_date_format(void)
{
	char d[MIME_DATE_MAX];

	mime_date_format(0, d);
	CHECK_EQ_STR(d, "Thu, 1 Jan 1970 00:00:00 +0000");
	mime_date_format(1795226818, d);
	CHECK_EQ_STR(d, "Sat, 21 Nov 2026 02:06:58 +0000");
	mime_date_format(951782400, d); /* a leap day of a century leap year */
	CHECK_EQ_STR(d, "Tue, 29 Feb 2000 00:00:00 +0000");
	mime_date_format(-1, d);
	CHECK_EQ_STR(d, "Wed, 31 Dec 1969 23:59:59 +0000");
	/* Whatever it writes, the parser reads back to the same second. */
	for (int64_t t = -86400 * 400; t < (int64_t)4102444800; t += 86400 * 13 + 3607) {
		int64_t back = -1;
		mime_date_format(t, d);
		if (mime_date_parse(str_c(d), &back, NULL) != 0 || back != t) {
			fprintf(stderr, "  %lld -> %s -> %lld\n", (long long)t, d, (long long)back);
			CHECK(0);
			break;
		}
	}
}

int main(void)
{
	test_date_format();
	test_sasl_login();
	test_from();
	test_shown_names();
	test_scan();
	test_rate();
	return unit_done("test_smtp_submit");
}
