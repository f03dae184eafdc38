/*
 * test_imap_url.c — relative IMAP URLs for CATENATE (imap/imap_url.c):
 * the RFC 5092 forms tern takes, percent-decoding, keywords in any case,
 * and the refusals (absolute, URLAUTH, malformed numbers and escapes).
 */
#include <string.h>

#include "imap/imap_parser.h"
#include "imap/imap_url.h"
#include "unit.h"

static int parse(const char *s, struct imap_url *u)
{
	return imap_url_parse(str_c(s), u);
}

int main(void)
{
	struct imap_url u;

	CHECK_EQ_INT(parse("/INBOX;UIDVALIDITY=385759045/;UID=20/;SECTION=1.2.MIME", &u), IMAP_URL_OK);
	CHECK_EQ_STR(u.mailbox, "INBOX");
	CHECK_EQ_INT((int)u.uidvalidity, 385759045);
	CHECK_EQ_INT((int)u.uid, 20);
	CHECK_EQ_STR(u.section, "1.2.MIME");
	CHECK_EQ_INT(u.partial, 0);
	CHECK_EQ_INT(parse("/Archive%2F2024/;uid=3/;partial=10.20", &u), IMAP_URL_OK);
	CHECK_EQ_STR(u.mailbox, "Archive/2024");
	CHECK_EQ_INT((int)u.uidvalidity, 0);
	CHECK_EQ_INT(u.partial, 1);
	CHECK(u.offset == 10 && u.length == 20);
	CHECK_EQ_INT(parse("/Lists/tern/;UID=7/;PARTIAL=5", &u), IMAP_URL_OK);
	CHECK_EQ_STR(u.mailbox, "Lists/tern");
	CHECK(u.offset == 5 && u.length == UINT64_MAX);
	CHECK_EQ_INT(parse("/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(SUBJECT)", &u), IMAP_URL_OK);
	CHECK_EQ_STR(u.section, "HEADER.FIELDS (SUBJECT)");

	CHECK_EQ_INT(parse("imap://bob@host/INBOX/;UID=1", &u), IMAP_URL_NOT_RELATIVE);
	CHECK_EQ_INT(parse("//host/INBOX/;UID=1", &u), IMAP_URL_NOT_RELATIVE);
	CHECK_EQ_INT(parse("", &u), IMAP_URL_NOT_RELATIVE);
	CHECK_EQ_INT(parse("/INBOX/;UID=1;URLAUTH=anonymous:internal:0123", &u), IMAP_URL_URLAUTH);
	static const char *const bad[] = {
		"/INBOX", "/;UID=1", "/INBOX/;UID=0", "/INBOX/;UID=01", "/INBOX/;UID=4294967296",
		"/INBOX/;UID=", "/INBOX/;UID=1x", "/INBOX;UIDVALIDITY=0/;UID=1", "/IN%2", "/IN%zzBOX/;UID=1",
		"/IN%00BOX/;UID=1", "/INBOX/;UID=1/;SECTION=", "/INBOX/;UID=1/;PARTIAL=a",
		"/INBOX/;UID=1/;PARTIAL=1.", "/INBOX/;UID=1/junk", "/IN;BOX/;UID=1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(parse(bad[i], &u), IMAP_URL_BAD);
	/* Every prefix of a good URL parses or is refused, never overruns. */
	const char *good = "/INBOX;UIDVALIDITY=9/;UID=20/;SECTION=1.2/;PARTIAL=3.4";
	for (size_t n = 0; n <= strlen(good); n++) {
		int r = imap_url_parse(str_make(good, n), &u);
		CHECK(r == IMAP_URL_OK || r == IMAP_URL_BAD || r == IMAP_URL_NOT_RELATIVE);
	}
	/* URLAUTH URLs (RFC 4467). */
	struct imap_url_auth a;
	const char *full = "imap://bob%40example.test@mx.example.test:993/INBOX;UIDVALIDITY=7/;UID=20"
			   "/;SECTION=1.2;EXPIRE=2099-01-02T03:04:05+01:00;URLAUTH=user+fred:INTERNAL:"
			   "91354a473744909de610943775f92038";
	CHECK_EQ_INT(imap_url_parse_auth(str_c(full), &a), 0);
	CHECK_EQ_STR(a.user, "bob@example.test");
	CHECK_EQ_STR(a.u.mailbox, "INBOX");
	CHECK_EQ_INT((int)a.u.uid, 20);
	CHECK_EQ_STR(a.u.section, "1.2");
	CHECK_EQ_STR(a.access, "user");
	CHECK_EQ_STR(a.access_user, "fred");
	CHECK(a.expire == 4071002645); /* 2099-01-02T02:04:05Z */
	CHECK_EQ_STR(a.mech, "INTERNAL");
	CHECK_EQ_STR(a.token, "91354a473744909de610943775f92038");
	CHECK_EQ_INT((int)a.rump_len, (int)(strstr(full, ":INTERNAL") - full));
	CHECK_EQ_INT(imap_url_parse_auth(str_c("IMAP://u@h/X/;UID=1;URLAUTH=anonymous"), &a), 0);
	CHECK(a.mech[0] == '\0' && strcmp(a.access, "anonymous") == 0);
	CHECK_EQ_INT(imap_url_parse_auth(str_c("imap://u@h/X/;UID=1;URLAUTH=AuthUser"), &a), 0);
	CHECK_EQ_STR(a.access, "authuser");
	/* A login with its "@" unencoded: the user part ends at the last "@". */
	CHECK_EQ_INT(imap_url_parse_auth(str_c("imap://bob@example.test@mx.example.test/INBOX/;UID=3"
					       ";URLAUTH=user+bob@example.test"), &a), 0);
	CHECK_EQ_STR(a.user, "bob@example.test");
	CHECK_EQ_STR(a.u.mailbox, "INBOX");
	CHECK_EQ_STR(a.access_user, "bob@example.test");
	static const char *const badauth[] = {
		"imap://h/X/;UID=1;URLAUTH=anonymous",            /* no owner */
		"imap://@h/X/;UID=1;URLAUTH=anonymous",           /* empty owner */
		"imap://u@h/X/;UID=1;URLAUTH=a@b/c",              /* "@" only before the path */
		"imap://u@h/X/;UID=1",                            /* no URLAUTH */
		"imap://u@h/X/;UID=1;URLAUTH=someone",            /* unknown access */
		"imap://u@h/X/;UID=1;URLAUTH=user+",              /* empty user */
		"imap://u@h/X/;UID=1;URLAUTH=anonymous:internal", /* no token */
		"imap://u@h/X/;UID=1;URLAUTH=anonymous:internal:xyz",
		"imap://u@h/X/;UID=1;EXPIRE=yesterday;URLAUTH=anonymous",
		"/X/;UID=1;URLAUTH=anonymous",
	};
	for (size_t i = 0; i < sizeof(badauth) / sizeof(badauth[0]); i++)
		CHECK_EQ_INT(imap_url_parse_auth(str_c(badauth[i]), &a), -1);
	for (size_t n = 0; n <= strlen(full); n++)
		(void)imap_url_parse_auth(str_make(full, n), &a);
	/* HEADER.FIELDS sections (CATENATE URLs): names as atoms, quoted ones
	 * without their quotes, the part number before it. */
	struct imap_arg f[IMAP_URL_FIELDS_MAX + 1];
	struct str spec;
	int not = -1;
	const char *hf = "1.2.header.fields.NOT (Subject \"X-A b\" From)";
	CHECK_EQ_INT(imap_url_header_fields(str_c(hf), &spec, &not, f), 1);
	CHECK(not == 1 && spec.len == 3 && memcmp(spec.p, "1.2", 3) == 0);
	CHECK(f[0].type == IMAP_ARG_ATOM && str_eq_ci_c(f[0].str, "subject"));
	CHECK(f[1].str.len == 5 && memcmp(f[1].str.p, "X-A b", 5) == 0);
	CHECK(str_eq_ci_c(f[2].str, "FROM") && f[3].type == IMAP_ARG_END);
	CHECK_EQ_INT(imap_url_header_fields(str_c("HEADER.FIELDS (A)"), &spec, &not, f), 1);
	CHECK(not == 0 && spec.len == 0 && str_eq_ci_c(f[0].str, "A"));
	static const char *const other[] = { "HEADER", "1.MIME", "TEXT", "2", "1.HEADERS.FIELDS (A)" };
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		CHECK_EQ_INT(imap_url_header_fields(str_c(other[i]), &spec, &not, f), 0);
	static const char *const badhf[] = { "HEADER.FIELDS", "HEADER.FIELDS ()", "HEADER.FIELDS(A)",
					      "HEADER.FIELDS (A  B)", "HEADER.FIELDS (A )",
					      "HEADER.FIELDS ( A)", "HEADER.FIELDS (A) ",
					      "HEADER.FIELDS (\"A)", "HEADER.FIELDS (A(B))",
					      "HEADER.FIELDS.NOT A" };
	for (size_t i = 0; i < sizeof(badhf) / sizeof(badhf[0]); i++)
		CHECK_EQ_INT(imap_url_header_fields(str_c(badhf[i]), &spec, &not, f), -1);
	char many[1024] = "HEADER.FIELDS (";
	for (int i = 0; i <= IMAP_URL_FIELDS_MAX; i++)
		strcat(many, i ? " A" : "A");
	strcat(many, ")");
	CHECK_EQ_INT(imap_url_header_fields(str_c(many), &spec, &not, f), -1);
	for (size_t n = 0; n <= strlen(hf); n++)
		(void)imap_url_header_fields(str_make(hf, n), &spec, &not, f);
	return unit_done("test_imap_url");
}
