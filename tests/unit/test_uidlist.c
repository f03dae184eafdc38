/*
 * test_uidlist.c — Dovecot's dovecot-uidlist (backup/uidlist.h): the
 * version 3 header's fields in any order, extension fields before the
 * ':' of a message line, a Courier (version 1) file, CRLF line ends,
 * lines that do not parse left out and counted, a name found without its
 * info part, headers refused (version 2, no UIDVALIDITY, a number past 32
 * bits), and every prefix of a file parsed without harm.
 */
#include <stdio.h>
#include <string.h>

#include "backup/uidlist.h"
#include "unit.h"

static const char V3[] =
    "3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n"
    "1 :1275660208.M1P2.host,S=100,W=102\n"
    "7 W2048 S2000 :1275660300.M9P3.host\n"
    "x :bad-uid\n"
    "8 no-colon-here\n"
    "0 :zero-uid\n"
    "25021 G00112233445566778899aabbccddeeff :1275669999.M1P1.host,S=5\n";

int main(void)
{
	struct uidlist ul;

	CHECK_EQ_INT(uidlist_parse(V3, sizeof V3 - 1, &ul), 0);
	CHECK(ul.uidvalidity == 1275660208u && ul.uidnext == 25022u);
	CHECK_EQ_INT((int)ul.n, 3);
	CHECK_EQ_INT((int)ul.bad, 3);
	CHECK_EQ_INT((int)uidlist_find(&ul, "1275660208.M1P2.host,S=100,W=102:2,S"), 1);
	CHECK_EQ_INT((int)uidlist_find(&ul, "1275660208.M1P2.host,S=100,W=102"), 1);
	CHECK_EQ_INT((int)uidlist_find(&ul, "1275660300.M9P3.host:2,FS"), 7);
	CHECK_EQ_INT((int)uidlist_find(&ul, "1275669999.M1P1.host,S=5:2,"), 25021);
	CHECK_EQ_INT((int)uidlist_find(&ul, "1275660208.M1P2.host"), 0); /* a prefix is not it */
	CHECK_EQ_INT((int)uidlist_find(&ul, "bad-uid"), 0);
	uidlist_free(&ul);

	/* Fields in another order, CRLF ends, an unknown field. */
	static const char ORDER[] = "3 G00 X7 N9 V42\r\n4 :a.host\r\n";
	CHECK_EQ_INT(uidlist_parse(ORDER, sizeof ORDER - 1, &ul), 0);
	CHECK(ul.uidvalidity == 42 && ul.uidnext == 9 && ul.n == 1);
	CHECK_EQ_INT((int)uidlist_find(&ul, "a.host:2,S"), 4);
	uidlist_free(&ul);

	/* Courier's version 1. */
	static const char V1[] = "1 1100000000 12\n3 1100000001.M1.host\n11 1100000002.M2.host\n";
	CHECK_EQ_INT(uidlist_parse(V1, sizeof V1 - 1, &ul), 0);
	CHECK(ul.uidvalidity == 1100000000u && ul.uidnext == 12 && ul.n == 2);
	CHECK_EQ_INT((int)uidlist_find(&ul, "1100000002.M2.host:2,RS"), 11);
	uidlist_free(&ul);

	/* Refused headers. */
	static const char *const bad[] = {"2 V1 N2\n1 :a\n", "3 N5 G00\n", "3 V4294967296 N1\n",
	                                  "", "V1 N1\n", "1 0 5\n", "3\n"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_EQ_INT(uidlist_parse(bad[i], strlen(bad[i]), &ul), -1);
		CHECK(ul.uidvalidity == 0 && ul.n == 0);
		uidlist_free(&ul);
	}

	/* Every prefix: parses or is refused, never finds past what it has. */
	for (size_t n = 0; n <= sizeof V3 - 1; n++) {
		int r = uidlist_parse(V3, n, &ul);
		CHECK(r == 0 || r == -1);
		if (r == 0)
			CHECK(ul.n <= 3 && ul.uidvalidity != 0 &&
			      (n < 55 || ul.uidvalidity == 1275660208u));
		uidlist_free(&ul);
	}
	return unit_done("test_uidlist");
}
