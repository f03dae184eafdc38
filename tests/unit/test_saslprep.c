/*
 * test_saslprep.c — SASLprep (core/saslprep.h): RFC 4013 §3's examples,
 * each mapping and prohibition table of RFC 3454 it applies, the bidi
 * rule, the unassigned code points of a stored string, and the keys
 * scram_login_seal derives from the prepared password (RFC 5802 §2.2),
 * so that a client that normalises signs in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin_secret.h"
#include "auth/scram.h"
#include "auth/scram_login.h"
#include "core/saslprep.h"
#include "unit.h"

static char out[SASLPREP_OUT_MAX];

/* SASLprep of s: the prepared text, or "ERROR". */
static const char *prep(const char *s)
{
	size_t n;
	if (saslprep(s, strlen(s), out, sizeof out, &n) < 0) {
		CHECK_EQ_STR(out, "");
		return "ERROR";
	}
	CHECK_EQ_INT(n, strlen(out));
	return out;
}

int main(void)
{
	/* RFC 4013 §3. */
	CHECK_EQ_STR(prep("I\xc2\xad" "X"), "IX");	   /* 1: soft hyphen */
	CHECK_EQ_STR(prep("user"), "user");		   /* 2 */
	CHECK_EQ_STR(prep("USER"), "USER");		   /* 3: case kept */
	CHECK_EQ_STR(prep("\xc2\xaa"), "a");		   /* 4: NFKC */
	CHECK_EQ_STR(prep("\xe2\x85\xa8"), "IX");	   /* 5: U+2168 */
	CHECK_EQ_STR(prep("\x07"), "ERROR");		   /* 6: prohibited */
	CHECK_EQ_STR(prep("\xd8\xa7" "1"), "ERROR");	   /* 7: bidi */

	/* B.1 to nothing, C.1.2 to SPACE (U+2003, U+00A0, U+3000). */
	CHECK_EQ_STR(prep("a\xe2\x80\x83" "b\xc2\xa0" "c\xe3\x80\x80" "d"), "a b c d");
	CHECK_EQ_STR(prep("pa\xe2\x80\x8bss\xef\xbb\xbfw\xef\xb8\x8f" "d"), "passwd");
	/* NFKC composes: e + U+0301 is U+00E9; the ligature U+FB01 is "fi". */
	CHECK_EQ_STR(prep("e\xcc\x81"), "\xc3\xa9");
	CHECK_EQ_STR(prep("\xef\xac\x81" "x"), "fix");
	/* ASCII (with its space and punctuation) is unchanged. */
	CHECK_EQ_STR(prep("pencil Tr0ub4dor&3 ~!"), "pencil Tr0ub4dor&3 ~!");
	/* Prohibited output: C.2.1 DEL, C.2.2 U+0085, C.3 U+E000, C.4
	 * U+FFFF and U+1FFFE, C.6 U+FFFD, C.7 U+2FF0, C.8 U+200E and U+202E,
	 * C.9 U+E0041. */
	const char *bad[] = {"a\x7f",	      "a\xc2\x85",	  "a\xee\x80\x80",
			     "a\xef\xbf\xbf", "a\xf0\x9f\xbf\xbe", "a\xef\xbf\xbd",
			     "a\xe2\xbf\xb0", "a\xe2\x80\x8e",	  "a\xe2\x80\xae",
			     "a\xf3\xa0\x81\x81"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ_STR(prep(bad[i]), "ERROR");
	/* Unassigned (a stored string, RFC 5802 §2.2): U+0378. */
	CHECK_EQ_STR(prep("a\xcd\xb8"), "ERROR");
	/* Bidi: all R is fine, R with L or not R at both ends is not. */
	CHECK_EQ_STR(prep("\xd7\x90\xd7\x91"), "\xd7\x90\xd7\x91");
	CHECK_EQ_STR(prep("\xd7\x90" "1\xd7\x91"), "\xd7\x90" "1\xd7\x91");
	CHECK_EQ_STR(prep("\xd7\x90" "a\xd7\x91"), "ERROR");
	CHECK_EQ_STR(prep("1\xd7\x90"), "ERROR");
	/* Not UTF-8, a NUL, empty after mapping, too long. */
	CHECK_EQ_STR(prep("a\xff"), "ERROR");
	CHECK_EQ_STR(prep("\xc2\xad"), "ERROR");
	CHECK_EQ_STR(prep(""), "ERROR");
	size_t n;
	CHECK_EQ_INT(saslprep("a\0b", 3, out, sizeof out, &n), -1);
	static char big[SASLPREP_IN_MAX + 1];
	memset(big, 'a', sizeof big);
	CHECK_EQ_INT(saslprep(big, SASLPREP_IN_MAX, out, sizeof out, &n), 0);
	CHECK_EQ_INT(n, SASLPREP_IN_MAX);
	CHECK_EQ_INT(saslprep(big, SASLPREP_IN_MAX + 1, out, sizeof out, &n), -1);
	CHECK_EQ_INT(saslprep("abc", 3, out, 3, &n), -1);
	/* The worst growth fits SASLPREP_OUT_MAX: U+FDFA is 18 code points. */
	static char wide[SASLPREP_IN_MAX];
	for (size_t i = 0; i + 3 <= sizeof wide; i += 3)
		memcpy(wide + i, "\xef\xb7\xba", 3);
	CHECK_EQ_INT(saslprep(wide, sizeof wide - sizeof wide % 3, out, sizeof out, &n), 0);
	CHECK_EQ_INT(n, (sizeof wide / 3) * 33); /* 15 Arabic letters, 3 spaces */

	/* scram_login_seal derives the keys from the prepared password: the
	 * keys open and equal those derived from "IX" with their salt. */
	char dir[] = "/tmp/test_saslprep.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char sealed[2][STORE_SCRAM_SEALED_MAX], text[SCRAM_STORED_MAX + 1];
	CHECK_EQ_INT(scram_login_seal(dir, "I\xc2\xad" "X", sealed), 0);
	for (int h = 0; h < SCRAM_HASHES; h++) {
		struct scram_keys k, want;
		CHECK_EQ_INT(admin_secret_open(dir, sealed[h], text, sizeof text), 0);
		CHECK_EQ_INT(scram_keys_parse(text, &k), 0);
		scram_keys_derive(k.hash, "IX", 2, k.salt, k.salt_len, k.iter, &want);
		CHECK(memcmp(k.stored_key, want.stored_key, scram_hash_len(k.hash)) == 0);
		CHECK(memcmp(k.server_key, want.server_key, scram_hash_len(k.hash)) == 0);
	}
	/* A password SASLprep refuses gets no keys (PLAIN still takes it). */
	CHECK_EQ_INT(scram_login_seal(dir, "bad\x07", sealed), -1);
	CHECK_EQ_STR(sealed[0], "");
	CHECK_EQ_STR(sealed[1], "");
	char key[600];
	snprintf(key, sizeof key, "%s/secrets.key", dir);
	unlink(key);
	rmdir(dir);
	return unit_done("test_saslprep");
}
