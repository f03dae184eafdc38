/*
 * test_password_strength.c — the one password rule (auth/password_policy.c)
 * on zxcvbn-c's estimate: each kind of pattern zxcvbn-c reports is named
 * in the refusal, capitals and substitutions do not rescue a common
 * password, unrelated words and random characters pass, scores 1 and 2
 * are refused (zxcvbn's advice for account passwords is 3), the score
 * follows zxcvbn's scale on the estimate, length is checked first, and
 * the longest password the rule takes is estimated without a read past it.
 */
#include <math.h>
#include <string.h>

#include "auth/password_policy.h"
#include "unit.h"

static struct password_rating rate(const char *pw)
{
	struct password_rating r;
	password_policy_rate(pw, &r);
	return r;
}

/* zxcvbn's scale, written out again so the test does not reuse the code's. */
static int scale(double g)
{
	return g < 3 ? 0 : g < 6 ? 1 : g < 8 ? 2 : g < 10 ? 3 : 4;
}

int main(void)
{
	/* Each pattern zxcvbn-c finds, named (the words a user reads). */
	static const struct {
		const char *pw, *why;
	} weak[] = {
		{"password", "a common password or word"},
		{"Sunshine", "a common password or word"},
		{"drowssap", "a common password or word"},
		{"12345678", "a common password or word"},
		{"P@ssw0rd", "a common password or word with look-alike substitutions"},
		{"Tr0mb0ne!", "a common password or word with look-alike substitutions"},
		{"abcdefghij", "a sequence"},
		{"zyxwvuts", "a sequence"},
		{"19870624", "a date"},
		{"tern2024tern", "a word of this service"},
		{"summer2024", "a common password or word"},
	};
	char err[256], want[200];
	for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++) {
		struct password_rating r = rate(weak[i].pw);
		CHECK(!r.ok && r.score < PASSWORD_MIN_SCORE);
		CHECK_EQ_STR(r.weakness, weak[i].why);
		CHECK(password_policy_check(weak[i].pw, err, sizeof err) < 0);
		snprintf(want, sizeof want, "too easy to guess (%s", weak[i].why);
		CHECK(strstr(err, want) != NULL);
		CHECK_EQ_STR(r.message, err);
	}
	/* A keyboard walk and a repeat zxcvbn-c has no dictionary entry for. */
	CHECK_EQ_STR(rate("xcvbnm,./").weakness, "a keyboard pattern");
	CHECK_EQ_STR(rate("xkxkxkxkxkxk").weakness, "a repeat");
	CHECK(!rate("xkxkxkxkxkxk").ok && !rate("xcvbnm,./").ok);
	/* Score 2 is refused too, the pattern named and "nearly enough". */
	static const char *const middling[] = {"monkey-tree", "blue-house", "trombone42"};
	for (size_t i = 0; i < sizeof middling / sizeof middling[0]; i++) {
		struct password_rating r = rate(middling[i]);
		CHECK_EQ_INT(r.score, 2);
		CHECK(!r.ok && strstr(r.message, "nearly enough") != NULL);
	}
	/* Unrelated words and random characters pass. */
	static const char *const strong[] = {"violet-kettle-49", "correct horse battery staple",
					     "kx7#Qp2!vZ", "caf\xc3\xa9-\xc3\xbc" "ber-stra\xc3\x9f" "e"};
	for (size_t i = 0; i < sizeof strong / sizeof strong[0]; i++) {
		struct password_rating r = rate(strong[i]);
		CHECK(r.ok && r.score == 4);
		CHECK_EQ_STR(r.message, "strong password");
		CHECK_EQ_INT(password_policy_check(strong[i], err, sizeof err), 0);
	}
	/* The score is zxcvbn's scale on the estimate, wherever it lands. */
	static const char *const any[] = {"password", "19870624", "Tr0mb0ne!", "monkey-tree",
					  "Blue-bicycle", "violet-kettle-49"};
	for (size_t i = 0; i < sizeof any / sizeof any[0]; i++) {
		struct password_rating r = rate(any[i]);
		CHECK(isfinite(r.log10_guesses) && r.log10_guesses >= 0);
		CHECK_EQ_INT(r.score, scale(r.log10_guesses));
		CHECK_EQ_INT(r.ok, r.score >= PASSWORD_MIN_SCORE);
	}
	/* Length first: too short or too long is refused for its length,
	 * before any estimate. */
	struct password_rating r = rate("Xk9#");
	CHECK(!r.ok && r.score == 0 && strstr(r.message, "8 to 256"));
	char longpw[4 * PASSWORD_MAX_CHARS + 2];
	memset(longpw, 'q', PASSWORD_MAX_CHARS + 1);
	longpw[PASSWORD_MAX_CHARS + 1] = '\0';
	r = rate(longpw);
	CHECK(!r.ok && strstr(r.message, "8 to 256"));
	/* The longest the rule takes, 256 four-byte characters: estimated
	 * whole (ASan sees any read past it). */
	for (size_t i = 0; i < 4 * PASSWORD_MAX_CHARS; i += 4)
		memcpy(longpw + i, "\xf0\x9f\x98\x80", 4);
	longpw[4 * PASSWORD_MAX_CHARS] = '\0';
	r = rate(longpw);
	CHECK(r.score >= 1 && isfinite(r.log10_guesses));
	return unit_done("test_password_strength");
}
