/*
 * password_policy.h — the one rule a new password must meet, wherever it
 * is set: the web UI and API (accounts, the admin, the portal), the CLI
 * (tern account add|passwd, tern admin passwd) and TERN_ADMIN_PASSWORD.
 *
 * The rule: 8 to 256 characters (UTF-8 sequences, as the UI counts them),
 * and not too easy to guess: the strength estimate (password_strength.h:
 * dictionary words with substitutions, keyboard walks, repeats,
 * sequences, dates) must reach PASSWORD_MIN_SCORE, 3 on zxcvbn's scale,
 * that is at least 10^8 guesses, what zxcvbn's authors advise for
 * account passwords ("safely unguessable" against an online attack with
 * some offline margin): "password1", "admin-password-1", "Tr0mb0ne!",
 * "19870624" and the like are refused, with the weakness named. Debian
 * serves zxcvbn-c's binary packages (libzxcvbn-dev 2.5+dfsg-1, glibc
 * builds) but not its source tarballs (404 on the mirror), and tern
 * vendors sources only, so the estimator is ours and its dictionary comes
 * from Debian's scowl (vendor/manifest).
 *
 * Caveats: an existing password that breaks the rule still works (a
 * weak TERN_ADMIN_PASSWORD after an upgrade is warned about, never
 * refused: server.c and the Settings page).
 */
#ifndef TERN_AUTH_PASSWORD_POLICY_H
#define TERN_AUTH_PASSWORD_POLICY_H

#include <stddef.h>

#define PASSWORD_MIN_CHARS 8
#define PASSWORD_MAX_CHARS 256
#define PASSWORD_MIN_SCORE 3 /* password_strength()'s score, 0..4 */

/* What the rule says of a password, for the check and for the live
 * meter (POST /api/v1/password/strength). */
struct password_rating {
	int ok;               /* 1: the rule accepts it */
	int score;            /* 0..4 (password_strength.h); 0 when too short or long */
	double log10_guesses;
	const char *weakness; /* the biggest pattern ("a common word", ...) or "" */
	char message[200];    /* a sentence for the user: why it is refused, or how strong */
};

/* Rates pw (NUL-terminated) into *r. Pure, thread-safe. */
void password_policy_rate(const char *pw, struct password_rating *r);

/* 0 when pw may be set; -1 with a sentence for the user in err. */
int password_policy_check(const char *pw, char *err, size_t errsz);

#endif
