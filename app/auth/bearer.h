/*
 * bearer.h — JMAP bearer tokens as text: "tj1.<account>.<secret>".
 *
 * Design. A token is an app password record of scope JMAP
 * (store_apppass_add_scoped): its secret is generated, shown once and kept
 * as an argon2id hash like any app password. What the client is given
 * also names the account (its id in lowercase hex), so the JMAP endpoint
 * knows whose tokens to check without a user name, and hands the
 * account's address and the secret to the one login flow (auth/login.h,
 * scope STORE_APPPASS_JMAP): the same limits, delays and auth_failed
 * line as every other login. The "tj1." prefix makes a leaked token easy
 * to recognise (secret scanners) and leaves room for another format.
 *
 * Caveats. The account id is not secret (it is in every JMAP accountId);
 * the secret's 79 random bits are what protect the token.
 */
#ifndef TERN_AUTH_BEARER_H
#define TERN_AUTH_BEARER_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* "tj1." + 8 hex digits + "." + the secret, and a NUL. */
#define BEARER_TOKEN_MAX (4 + 8 + 1 + STORE_APPPASS_SECRET_LEN + 1)

/* The token for account's secret into out (size >= BEARER_TOKEN_MAX):
 * 0, or -1 when it does not fit. */
int bearer_token_format(uint32_t account, const char *secret, char *out, size_t outsz);

/*
 * Parses the token tok[0..len) (the Authorization header's value after
 * "Bearer " and its spaces): 0 with the account id in *account_r and the
 * secret, NUL-terminated, in secret (size >= STORE_APPPASS_SECRET_LEN + 1);
 * -1 for anything else (then nothing is checked: the caller fails the
 * login as malformed). Reads no byte past len.
 */
int bearer_token_parse(const char *tok, size_t len, uint32_t *account_r, char *secret,
		       size_t secretsz);

#endif
