/*
 * password.h — password hashing with argon2id (libsodium).
 *
 * Design. Stored password hashes are PHC-format strings
 * ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash") produced by libsodium's
 * crypto_pwhash_str_alg with a random salt. The parameters travel inside the
 * string, so hashes made with other costs still verify, and
 * password_needs_rehash() tells when one should be replaced at the next
 * successful login. libsodium is initialised once, on first use, whatever
 * thread gets there first.
 *
 * Passwords are compared after SASLprep (RFC 4013, core/saslprep.h), as
 * the SASL mechanisms and POP3/IMAP UTF-8 logins ask: the hash is of the
 * prepared form, and a check tries the text as given, then (only if that
 * failed and SASLprep changes it) its prepared form. A hash of the text as
 * typed, made before, matches only that text until a login with it
 * replaces it (password_check(), store_admin.c's re-hash).
 *
 * Caveats. Each hash or verification allocates the full memory cost
 * (19 MiB) and burns tens of milliseconds of CPU: run it off the I/O loops
 * and bound how many run at once. Nothing here logs; callers must never log
 * a password either.
 */
#ifndef TERN_AUTH_PASSWORD_H
#define TERN_AUTH_PASSWORD_H

#include <stddef.h>

/* Bytes a hash string may need, NUL included (crypto_pwhash_STRBYTES). */
#define PASSWORD_HASH_MAX 128

/*
 * Hashes password (NUL-terminated, any bytes) with argon2id and a fresh salt
 * into out (size outsz, at least PASSWORD_HASH_MAX), NUL-terminated: its
 * SASLprep, or the text itself when SASLprep refuses it. Returns 0, or -1
 * when outsz is too small or memory could not be had.
 */
int password_hash(const char *password, char *out, size_t outsz);

/*
 * Checks password against a hash string made by password_hash() (or any
 * argon2i/argon2id PHC string): as given, and when that fails and SASLprep
 * makes another text of it, that text (a second argon2id run). The
 * comparison inside libsodium is constant time. Returns 1 when it matches,
 * 0 otherwise (including a malformed hash).
 */
int password_verify(const char *hash, const char *password);

/*
 * password_verify(), and when it matched, *rehash_r (when not NULL) says
 * whether the stored hash should be replaced by password_hash(password)
 * at this login: it is of the text as typed where SASLprep makes another
 * text of it (a hash made before passwords were prepared, which other
 * spellings of the password do not match), or password_needs_rehash().
 * A match answered by the verified-login cache judges the parameters
 * only (the verification that filled it judged the form). *rehash_r is 0
 * whenever 0 is returned.
 */
int password_check(const char *hash, const char *password, int *rehash_r);

/* Verifications answered by the verified-login cache (see password.c),
 * and emptying it (tests; a password change needs no clearing). */
unsigned long password_cache_hits(void);
void password_cache_clear(void);

/*
 * Spends the same time as a failed password_verify() against a real hash
 * (two runs when SASLprep changes password), for an unknown user, so that
 * response time does not reveal which user names exist. Always "fails"
 * (returns 0).
 */
int password_verify_dummy(const char *password);

/*
 * 1 when hash was made with parameters other than the current ones (or is
 * not an argon2id hash) and should be replaced after a successful login.
 */
int password_needs_rehash(const char *hash);

#endif
