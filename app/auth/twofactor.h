/*
 * twofactor.h — two-factor sign-in (TOTP, RFC 6238) for accounts and for
 * the web admin: enrolment, confirmation with a first code, recovery
 * codes, the check at sign-in, and turning it off. The one implementation
 * the admin's sign-in and the account portal share.
 *
 * Design. Enrolment makes a TOTP_SECRET_BYTES secret, seals its base32
 * with the data directory's key (admin/admin_secret.h: a copy of
 * data.mdb alone does not give it away) and stores it pending (on = 0,
 * store/store.h's store_totp). The user's app reads the otpauth:// URI
 * (a QR code of it); the first code it shows confirms: 2FA is on and
 * STORE_TOTP_RECOVERY recovery codes are made, shown once and kept only
 * as BLAKE2b-128 hashes (each has ~49 random bits, so a fast hash is
 * enough). At sign-in a 6-digit code is checked for the steps around now
 * and accepted only when its step is after the last one accepted (the
 * store moves that step forward in one write, so a code works once); a
 * recovery code works once too. Turning 2FA off needs a code (the admin
 * API can also remove an account's record: twofactor_reset).
 *
 * An account with 2FA on signs in to mail protocols with app passwords
 * only (store_account_login); the web sign-ins ask for the code.
 *
 * Caveats. Synchronous store writes: call from an HTTP thread or the CLI,
 * never from an event loop. owner is an account id or STORE_TOTP_ADMIN.
 */
#ifndef TERN_AUTH_TWOFACTOR_H
#define TERN_AUTH_TWOFACTOR_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* "xxxxx-xxxxx": ten letters and digits without look-alikes. */
#define TWOFACTOR_RECOVERY_LEN 11
#define TWOFACTOR_URI_MAX 512

typedef char twofactor_codes[STORE_TOTP_RECOVERY][TWOFACTOR_RECOVERY_LEN + 1];

/*
 * Starts (or starts again) an enrolment for owner: a new secret, stored
 * pending. uri (size urisz, TWOFACTOR_URI_MAX is enough) receives the
 * otpauth:// URI with issuer and label (the address, or "admin").
 * Returns STORE_OK; STORE_EEXIST when 2FA is already on (turn it off
 * first); STORE_ENOTFOUND (no such account); STORE_ETEMP (the store, or
 * the key file cannot be read or made).
 */
int twofactor_begin(struct store *st, const char *dir, uint32_t owner, const char *issuer,
		    const char *label, char *uri, size_t urisz);

/*
 * Confirms a pending enrolment with a code from the app at time now
 * (seconds): returns 1 when it matched (2FA is on, its step is spent, and
 * codes holds the recovery codes to show once); 0 when it did not;
 * STORE_ENOTFOUND when no enrolment is pending; STORE_EEXIST when 2FA is
 * on already; STORE_ETEMP.
 */
int twofactor_confirm(struct store *st, const char *dir, uint32_t owner, const char *code,
		      int64_t now, twofactor_codes codes);

/* 1 when owner has 2FA on, 0 when not, STORE_ETEMP. */
int twofactor_enabled(struct store *st, uint32_t owner);

/*
 * The sign-in check: code is a 6-digit TOTP code (spaces ignored) or a
 * recovery code (any case, '-' optional). Returns 1 when accepted (and
 * spent), 0 when not (wrong, used before, malformed, or 2FA is not on),
 * STORE_ETEMP.
 */
int twofactor_verify(struct store *st, const char *dir, uint32_t owner, const char *code,
		     int64_t now);

/* Turns 2FA off after twofactor_verify() accepted code: 1 off, 0 the code
 * was refused (nothing changed), STORE_ETEMP. */
int twofactor_disable(struct store *st, const char *dir, uint32_t owner, const char *code,
		      int64_t now);

/* Removes owner's 2FA without a code (the admin for a user who lost the
 * phone, or a pending enrolment): STORE_OK, STORE_ENOTFOUND, STORE_ETEMP. */
int twofactor_reset(struct store *st, uint32_t owner);

/* The recovery-code hash of code (normalised: lower case, no '-'): -1 when
 * it does not have a recovery code's shape. For the fuzz target too. */
int twofactor_recovery_hash(const char *code, uint8_t out[STORE_TOTP_HASH]);

#endif
