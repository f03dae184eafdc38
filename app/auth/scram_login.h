/*
 * scram_login.h — SCRAM (auth/scram.h) against the store: the keys made
 * and sealed when a password is set, the salt and iteration count a
 * client-first message is answered with, and the proof check the login
 * flow (auth/login.h) runs on its worker.
 *
 * Design. The keys are sealed with the data directory's secrets.key
 * (admin/admin_secret.h) like the TOTP secrets, and kept per account by
 * store_scram.c. A user name with no keys (no such account, an account
 * without a password, one whose password predates SCRAM and has not been
 * used since) is answered with a fake salt that is stable per name: a
 * BLAKE2b keyed with a key derived from secrets.key, so two tries show
 * the same salt, as for a real account, and nobody without the key can
 * tell it from one. The iteration count is SCRAM_ITERATIONS either way.
 *
 * Caveats. SCRAM proves one password per user: an account with
 * two-factor sign-in on (its own password is refused on mail protocols)
 * and app passwords cannot sign in with it; that fails like a wrong
 * password. The keys are unsealed on the caller's thread, once per
 * exchange (at the challenge), with the key admin_secret.h keeps in
 * memory: secrets.key is read again only when they do not open with it.
 */
#ifndef TERN_AUTH_SCRAM_LOGIN_H
#define TERN_AUTH_SCRAM_LOGIN_H

#include <stdint.h>

#include "auth/scram.h"
#include "store/store.h"

/*
 * Derives both hashes' keys from SASLprep(password) (core/saslprep.h,
 * RFC 5802 §2.2; fresh salts) and seals each for data directory dir into
 * sealed[SCRAM_SHA1] and sealed[SCRAM_SHA256]. 0, or -1 (both "") when
 * SASLprep refuses the password (a control character, a bidi mix, an
 * unassigned code point: SCRAM then fails for it while PLAIN, which
 * checks the argon2id hash of the password as typed, takes it) or the
 * key file cannot be read or made.
 */
int scram_login_seal(const char *dir, const char *password,
		     char sealed[2][STORE_SCRAM_SEALED_MAX]);

/* 1 when sealed (a store record's text for one hash) opens with data
 * directory dir's key and holds keys, else 0 ("" included): the login
 * makes them again from the password then. */
int scram_login_opens(const char *dir, const char *sealed);

/* The base64 of a server-final message ("v=" and 32 octets in base64),
 * NUL included. */
#define SCRAM_FINAL_B64_MAX 96
/* The base64 of a server-first message, NUL included. */
#define SCRAM_CHALLENGE_MAX ((SCRAM_MSG_MAX + 2) / 3 * 4 + 1)
/*
 * The challenge after SCRAM's client-first message (auth/sasl.h's
 * SASL_STEP_CHALLENGE): the server-first message for s, base64 into b64
 * (size >= SCRAM_CHALLENGE_MAX). Its salt and iteration count are those
 * of the keys of the account login_user_name(s->user) names, unsealed
 * now and kept in s for scram_login_check() (so they are unsealed once
 * an exchange), or of fake keys (see above; their StoredKey matches no
 * proof). 0, or -1 when s is not waiting for it.
 */
int scram_login_challenge(struct store *st, struct scram_server *s, char *b64, size_t b64sz);

/*
 * On a worker: checks client-final message msg of exchange s (user
 * s->user, as login_user_name() made it) against the keys
 * scram_login_challenge() kept in s, and wipes them; the account's record
 * is read again, and a proof counts only while it is the record those
 * keys came from (the same password). Returns 1 when the proof
 * holds and the account may sign in, with *id_r, *cred_r and the
 * server-final message in sfinal (size >= 64); STORE_LOGIN_NOLOGIN when
 * the proof holds but the account may not sign in; 0 for anything else
 * (a wrong or malformed message, a replayed nonce, no keys, two-factor
 * on); STORE_ETEMP when the store failed.
 */
int scram_login_check(struct store *st, struct scram_server *s, struct str msg, char *sfinal,
		      size_t sfinalsz, uint32_t *id_r, uint64_t *cred_r);

#endif
