/*
 * password_policy.h — the one rule a new password must meet, wherever it
 * is set: the web UI and API (accounts, the admin, the portal), the CLI
 * (tern account add|passwd, tern admin passwd) and TERN_ADMIN_PASSWORD.
 *
 * The rule: 8 to 256 characters (UTF-8 sequences, as the UI counts them),
 * and not too easy to guess: zxcvbn's strength estimate (Debian's
 * zxcvbn-c, vendor/manifest: dictionaries of common passwords, English
 * words, first names and surnames, with capitals and l33t substitutions;
 * keyboard walks, repeats, sequences, dates and years) must reach
 * PASSWORD_MIN_SCORE, 3 on zxcvbn's 0..4 scale, that is at least 10^8
 * guesses, what zxcvbn's authors advise for account passwords ("safely
 * unguessable" against an online attack with some offline margin).
 * "password1", "Tr0mb0ne!", "19870624" and the like are refused, the
 * pattern that made them cheap named.
 *
 * zxcvbn-c returns an entropy in bits (log2 of the guesses); the score
 * is zxcvbn's scale on guesses = 2^bits: 0 under 10^3, 1 under 10^6, 2
 * under 10^8, 3 under 10^10, else 4.
 *
 * Caveats: an estimate, not a measure (a random-looking password made by
 * a pattern zxcvbn does not know scores too high); English dictionaries
 * only. zxcvbn-c scores the first 100 bytes in detail and adds a little
 * for each byte past them; the rule caps a password at 256 characters
 * (1 KiB) before estimating: one rating takes 5 to 50 us for 8 to 30
 * characters, under a millisecond at 1 KiB. An existing password that breaks the rule still works (a
 * weak TERN_ADMIN_PASSWORD after an upgrade is warned about, never
 * refused: server.c and the Settings page).
 */
#ifndef TERN_AUTH_PASSWORD_POLICY_H
#define TERN_AUTH_PASSWORD_POLICY_H

#include <stddef.h>

#define PASSWORD_MIN_CHARS 8
#define PASSWORD_MAX_CHARS 256
/* The most octets a password the rule allows can take (four a character
 * in UTF-8); a reader of a password line needs room for these, its line
 * end (CR LF) and a NUL: PASSWORD_LINE_MAX. */
#define PASSWORD_MAX_BYTES (PASSWORD_MAX_CHARS * 4)
#define PASSWORD_LINE_MAX (PASSWORD_MAX_BYTES + 3)
#define PASSWORD_MIN_SCORE 3 /* zxcvbn's score, 0..4 */

/* What the rule says of a password, for the check and for the live
 * meter (POST /api/v1/password/strength). */
struct password_rating {
	int ok;               /* 1: the rule accepts it */
	int score;            /* 0..4 (above); 0 when too short or long */
	double log10_guesses; /* zxcvbn's estimate; 0 when too short or long */
	const char *weakness; /* static: the pattern that covers most of it
			       * ("a common password or word", "a keyboard
			       * pattern", ...) or "" when none does */
	char message[200];    /* a sentence for the user: why it is refused, or how strong */
};

/* Rates pw (NUL-terminated) into *r. Pure, thread-safe (zxcvbn-c keeps
 * no state; it allocates its match list and frees it here). */
void password_policy_rate(const char *pw, struct password_rating *r);

/* 0 when pw may be set; -1 with a sentence for the user in err. */
int password_policy_check(const char *pw, char *err, size_t errsz);

#endif
