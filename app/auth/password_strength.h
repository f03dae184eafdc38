/*
 * password_strength.h — how many guesses a password would take an attacker
 * who tries the likely ones first, estimated from the patterns people use.
 *
 * Design. The password (its first PW_STRENGTH_MAX_LEN bytes; more only
 * makes it stronger) is covered by the cheapest sequence of pieces, each
 * with its number of guesses, and the estimate is their product (a
 * shortest path over the positions, in log10):
 *   - a word of the dictionary (Debian's SCOWL lists, vendor/manifest,
 *     generated into build/gen/words_table.c; and a short list of our own
 *     of words people pick for passwords), forwards or reversed, with
 *     capitals and the usual substitutions (4/@ for a, 3 for e, 1/! for
 *     i or l, 0 for o, 5/$ for s, 7 for t) each adding a little;
 *   - a repeat (aaaa, abcabc: the unit's guesses times the count);
 *   - a sequence (abcd, 9876, in steps of one);
 *   - a keyboard walk on a US layout (qwerty, zxcvb, 1qaz: by length
 *     and turns);
 *   - a date or year (1987, 240680, 19870624);
 *   - any other character alone (its class: 10 digits, 26 letters, 33
 *     symbols, 100 for the rest).
 * The score follows zxcvbn's scale, which users know from other sites:
 * 0 under 10^3 guesses, 1 under 10^6, 2 under 10^8, 3 under 10^10, else 4.
 *
 * Caveats. An estimate, not a measure: a random-looking password made by
 * a pattern we do not know scores too high. English words only. Cost is
 * O(n^2 log W) for n <= PW_STRENGTH_MAX_LEN; no allocation after the first
 * call (which indexes the dictionary once, thread-safe).
 */
#ifndef TERN_AUTH_PASSWORD_STRENGTH_H
#define TERN_AUTH_PASSWORD_STRENGTH_H

#define PW_STRENGTH_MAX_LEN 64

struct pw_strength {
	double log10_guesses; /* the estimate */
	int score;            /* 0..4 (above) */
	const char *weakness; /* the biggest piece's kind ("a common word", ...), or "" */
};

/* Estimates pw (NUL-terminated, any bytes) into *r. */
void password_strength(const char *pw, struct pw_strength *r);

#endif
