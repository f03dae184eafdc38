/*
 * password_policy.c — the one password rule: length, then zxcvbn-c's
 * estimate (vendor/manifest, libzxcvbn-dev). See password_policy.h.
 */
#include "auth/password_policy.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <zxcvbn.h>

#include "core/str.h"
#include "core/utf8.h"

/* zxcvbn's scale on log10(guesses). */
static int score_of(double log10_guesses)
{
	static const double bar[4] = {3, 6, 8, 10};
	int s = 0;
	while (s < 4 && log10_guesses >= bar[s])
		s++;
	return s;
}

/* What a user can be told about a kind of match: the pattern to avoid.
 * MULTIPLE_MATCH marks a part that repeats an earlier one (xkxkxk). */
static const char *kind_name(ZxcTypeMatch_t t)
{
	if ((int)t & MULTIPLE_MATCH)
		return "a repeat";
	switch ((int)t) {
	case DICTIONARY_MATCH: return "a common password or word";
	case DICT_LEET_MATCH: return "a common password or word with look-alike substitutions";
	case USER_MATCH: case USER_LEET_MATCH: return "a word of this service";
	case REPEATS_MATCH: return "a repeat";
	case SEQUENCE_MATCH: return "a sequence";
	case SPATIAL_MATCH: return "a keyboard pattern";
	case DATE_MATCH: return "a date";
	case YEAR_MATCH: return "a year";
	default: return NULL; /* brute force or the tail of a long one: no pattern */
	}
}

/* The pattern that covers most of the password (the cheaper of two as
 * long), or "": what the user should change first. */
static const char *weakness_of(const ZxcMatch_t *m)
{
	const ZxcMatch_t *best = NULL;
	for (; m != NULL; m = m->Next) {
		if (kind_name(m->Type) == NULL)
			continue;
		if (best == NULL || m->Length > best->Length ||
		    (m->Length == best->Length && m->Entrpy < best->Entrpy))
			best = m;
	}
	return best != NULL ? kind_name(best->Type) : "";
}

/* Words people put in passwords for this server that no dictionary has;
 * zxcvbn ranks them first (USER_MATCH). */
static const char *service_words[] = {"tern", "postmaster", "mailserver", "webmail", NULL};

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
	ZxcMatch_t *info = NULL;
	double bits = ZxcvbnMatch(pw, service_words, &info);
	r->weakness = weakness_of(info);
	ZxcvbnFreeInfo(info);
	r->log10_guesses = bits > 0 ? bits * log10(2.0) : 0;
	r->score = score_of(r->log10_guesses);
	r->ok = r->score >= PASSWORD_MIN_SCORE;
	if (!r->ok)
		/* The pattern that made it cheap, named: what to change. */
		snprintf(r->message, sizeof r->message,
			 "this password is too easy to guess (%s%s): add words or characters "
			 "that follow no pattern",
			 r->weakness[0] ? r->weakness : "too short for its kind of characters",
			 r->weakness[0] && r->score == PASSWORD_MIN_SCORE - 1 ? ", nearly enough" : "");
	else
		snprintf(r->message, sizeof r->message, "%s password", words[r->score]);
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
