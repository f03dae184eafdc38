/*
 * password_policy.c — the one password rule. See password_policy.h.
 */
#include "auth/password_policy.h"

#include <stdio.h>

#include "auth/password_strength.h"
#include "core/str.h"
#include "core/utf8.h"

int password_policy_check(const char *pw, char *err, size_t errsz)
{
	size_t n = utf8_chars(str_c(pw));
	if (n < PASSWORD_MIN_CHARS || n > PASSWORD_MAX_CHARS) {
		snprintf(err, errsz, "a password must be %d to %d characters", PASSWORD_MIN_CHARS,
			 PASSWORD_MAX_CHARS);
		return -1;
	}
	struct pw_strength s;
	password_strength(pw, &s);
	if (s.score < PASSWORD_MIN_SCORE) {
		snprintf(err, errsz,
			 "this password is too easy to guess (%s): add words or characters "
			 "that follow no pattern",
			 s.weakness[0] ? s.weakness : "a short pattern");
		return -1;
	}
	return 0;
}
