/*
 * password_policy.c — the one password rule. See password_policy.h.
 */
#include "auth/password_policy.h"

#include <stdio.h>
#include <string.h>

#include "auth/password_strength.h"
#include "core/str.h"
#include "core/utf8.h"

void password_policy_rate(const char *pw, struct password_rating *r)
{
	static const char *const words[] = {"very weak", "weak", "fair", "good", "strong"};
	memset(r, 0, sizeof *r);
	r->weakness = "";
	size_t n = utf8_chars(str_c(pw));
	if (n < PASSWORD_MIN_CHARS || n > PASSWORD_MAX_CHARS) {
		snprintf(r->message, sizeof r->message, "a password must be %d to %d characters",
			 PASSWORD_MIN_CHARS, PASSWORD_MAX_CHARS);
		return;
	}
	struct pw_strength s;
	password_strength(pw, &s);
	r->score = s.score;
	r->log10_guesses = s.log10_guesses;
	r->weakness = s.weakness;
	r->ok = s.score >= PASSWORD_MIN_SCORE;
	if (!r->ok)
		/* The pattern that made it cheap, named: what to change. */
		snprintf(r->message, sizeof r->message,
			 "this password is too easy to guess (%s%s): add words or characters "
			 "that follow no pattern",
			 s.weakness[0] ? s.weakness : "too short for its kind of characters",
			 s.weakness[0] && s.score == PASSWORD_MIN_SCORE - 1 ? ", nearly enough" : "");
	else
		snprintf(r->message, sizeof r->message, "%s password", words[s.score]);
}

int password_policy_check(const char *pw, char *err, size_t errsz)
{
	struct password_rating r;
	password_policy_rate(pw, &r);
	if (r.ok)
		return 0;
	snprintf(err, errsz, "%s", r.message);
	return -1;
}
