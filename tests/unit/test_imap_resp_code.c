/*
 * test_imap_resp_code.c — imapr_code_num (backup/imap_resp.h), how tern
 * migrate reads EXAMINE's "* OK [UIDVALIDITY n]" and "* OK [UIDNEXT n]":
 * the number, the code in any case, another code or response not taken,
 * a missing or 33-bit number or an unclosed bracket refused, and every
 * prefix of a good line handled.
 */
#include <string.h>

#include "backup/imap_resp.h"
#include "unit.h"

static int code(const char *line, const char *name, uint32_t *v)
{
	return imapr_code_num(line, strlen(line), name, v);
}

int main(void)
{
	uint32_t v = 0;
	static const char good[] = "* OK [UIDVALIDITY 4294967295] UIDs valid\r\n";

	CHECK_EQ_INT(code(good, "UIDVALIDITY", &v), 1);
	CHECK(v == 4294967295u);
	CHECK_EQ_INT(code("* ok [uidnext 26]\r\n", "UIDNEXT", &v), 1);
	CHECK_EQ_INT((int)v, 26);
	v = 9;
	CHECK_EQ_INT(code(good, "UIDNEXT", &v), 0);
	CHECK_EQ_INT(code("* OK [UIDVALIDITYX 5]\r\n", "UIDVALIDITY", &v), 0);
	CHECK_EQ_INT(code("* 3 EXISTS\r\n", "UIDVALIDITY", &v), 0);
	CHECK_EQ_INT(code("* OK [UIDVALIDITY 4294967296]\r\n", "UIDVALIDITY", &v), -1);
	CHECK_EQ_INT(code("* OK [UIDVALIDITY ]\r\n", "UIDVALIDITY", &v), -1);
	CHECK_EQ_INT(code("* OK [UIDVALIDITY 5 x]\r\n", "UIDVALIDITY", &v), -1);
	CHECK_EQ_INT(code("* OK [UIDVALIDITY 5", "UIDVALIDITY", &v), -1);
	CHECK_EQ_INT((int)v, 9); /* nothing taken from what was not one */
	for (size_t n = 0; n < sizeof good - 1; n++) {
		int r = imapr_code_num(good, n, "UIDVALIDITY", &v);
		CHECK(r == 0 || r == -1 || (r == 1 && n > 28));
	}
	return unit_done("test_imap_resp_code");
}
