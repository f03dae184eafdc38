/*
 * totp.h — time-based one-time passwords (RFC 6238 over RFC 4226's HOTP)
 * for two-factor sign-in, with the base32 secrets and otpauth:// URIs
 * authenticator apps read.
 *
 * Design. A secret is TOTP_SECRET_BYTES random bytes, shown to the user
 * as unpadded upper-case base32 (RFC 4648) inside an otpauth:// URI (the
 * QR code's text). Codes are 6 digits over 30-second steps with HMAC-SHA1,
 * what every authenticator app does by default; SHA-256/512 and 8 digits
 * exist for RFC 6238's test vectors. totp_check() takes the step before
 * and after the current one (clock drift) and refuses any step not after
 * the last one accepted, so a code seen once is refused a second time:
 * the caller stores *step_r with the account.
 *
 * Caveats. The caller keeps the secret; nothing here logs or stores.
 */
#ifndef TERN_AUTH_TOTP_H
#define TERN_AUTH_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define TOTP_SECRET_BYTES 20
#define TOTP_PERIOD 30
/* base32 of up to 64 bytes, NUL included. */
#define TOTP_B32_MAX 104

enum totp_hash { TOTP_SHA1, TOTP_SHA256, TOTP_SHA512 };

/* HOTP (RFC 4226 §5.3) of counter: the code as a number below 10^digits
 * (digits 6..8). -1 for bad arguments. */
long totp_hotp(enum totp_hash h, const uint8_t *key, size_t keylen, uint64_t counter, int digits);

/*
 * Checks a 6-digit code typed by a user at time now (seconds) against
 * key (SHA-1, 30 s steps): the steps now-1, now and now+1 are accepted,
 * but only after last_step (0 = none accepted yet). Returns 1 with the
 * step matched in *step_r, else 0 (wrong, malformed, or already used).
 */
int totp_check(const uint8_t *key, size_t keylen, const char *code, int64_t now,
               uint64_t last_step, uint64_t *step_r);

/* Unpadded upper-case base32 of n bytes into out (size outsz); -1 if too small. */
int totp_b32_encode(const uint8_t *in, size_t n, char *out, size_t outsz);
/* Decodes base32 (any case; spaces, '-' and '=' padding ignored) into out;
 * the byte count, or -1 for a bad character or too long. */
int totp_b32_decode(const char *in, uint8_t *out, size_t outsz);

/*
 * The otpauth:// URI for key (RFC 6238 defaults made explicit):
 * otpauth://totp/ISSUER:ACCOUNT?secret=B32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
 * with issuer and account percent-encoded. -1 if out is too small.
 */
int totp_uri(const char *issuer, const char *account, const uint8_t *key, size_t keylen,
             char *out, size_t outsz);

#endif
