/*
 * login_cache.h — remembers, for a few minutes, user name and password
 * pairs that passed the login flow, for protocols whose clients send them
 * with every request (JMAP over HTTP Basic), so that each request does not
 * pay an argon2id check.
 *
 * Design. A fixed table of LOGIN_CACHE_SLOTS entries, each a keyed
 * BLAKE2b-256 of "user NUL password" (the key is random per process, so
 * the table holds nothing a password can be recovered from), the account
 * id and credentials stamp the login gave, and an expiry. A lookup that
 * hits still compares the stamp with the account's current one
 * (store_account_creds): a password change, app password revocation or
 * disabled account takes effect on the next request. A full table
 * replaces the entry closest to expiry. Thread-safe (one mutex).
 *
 * Caveats: a hit is not counted by the login limits (it is not a guess:
 * the same pair passed before); a miss goes through login_check_wait().
 * The stamp covers the app password used (its revocation changes it) and
 * the account's state and two-factor setting.
 */
#ifndef TERN_AUTH_LOGIN_CACHE_H
#define TERN_AUTH_LOGIN_CACHE_H

#include <stdint.h>

#include "core/str.h"

struct store;

#define LOGIN_CACHE_SLOTS 256
#define LOGIN_CACHE_TTL_S 120

/* 1 with *account_r when user/pass passed within the TTL and the account's
 * credentials are unchanged since; 0 otherwise. apppass_r and cred_r, when
 * not NULL, get the app password used (0: the account's own) and the
 * credentials stamp, what a session_watch joins with. */
int login_cache_get(struct store *st, struct str user, struct str pass, uint32_t *account_r,
		    uint32_t *apppass_r, uint64_t *cred_r);

/* Remembers a pair that just passed: the account, the app password it
 * used (0: the account's own) and the credentials stamp. */
void login_cache_put(struct str user, struct str pass, uint32_t account, uint32_t apppass,
		     uint64_t cred);

/* Forgets everything (tests). */
void login_cache_clear(void);

#endif
