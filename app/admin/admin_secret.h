/*
 * admin_secret.h — settings that must be replayed in the clear (the relay
 * password) sealed before they go into the store, with a key kept apart
 * from it.
 *
 * Design. The key is 32 random bytes in $TERN_DATA_DIR/secrets.key (mode
 * 0600, made on first use with O_EXCL, so two processes end up with one
 * key), never in data.mdb: a copy of the store, a backup or a leaked
 * data.mdb alone does not give the password away. A sealed value is text,
 * "sb1:" then the hex of a 24-byte random nonce and the libsodium
 * crypto_secretbox (XSalsa20-Poly1305) of the value; "sb1" versions the
 * layout. Values without the prefix are clear text written by older
 * builds (admin_meta.c migrates them in place).
 *
 * The _with functions are pure (key given): the unit tests and the fuzz
 * target use them. The others read or make the key file under dir, and
 * keep the key read in memory (one data directory's, zeroed by
 * admin_secret_forget): opening and deriving use the kept key, so a login
 * does not read the file; sealing reads the file again (what is sealed
 * opens with the key the file holds, should someone have replaced it while
 * the server runs), and so does an open that fails with the kept key.
 * Nothing in tern rewrites an existing key file: it is made once when
 * missing, and a restore writes only into an unused data directory.
 *
 * Caveats: losing secrets.key loses the sealed values (the relay password
 * must be entered again); tern says so in the log. Protection is against
 * a store that leaves the machine without the key file, not against root
 * on the machine.
 */
#ifndef TERN_ADMIN_ADMIN_SECRET_H
#define TERN_ADMIN_ADMIN_SECRET_H

#include <stddef.h>
#include <stdint.h>

#define ADMIN_SECRET_KEY_BYTES 32
#define ADMIN_SECRET_PREFIX "sb1:"
/* Longest clear value sealed, and the sealed text's size for it (prefix,
 * hex of nonce 24 + MAC 16 + value, NUL). */
#define ADMIN_SECRET_VALUE_MAX 255
#define ADMIN_SECRET_SEALED_MAX (4 + 2 * (24 + 16 + ADMIN_SECRET_VALUE_MAX) + 1)

/* 1 when value has the sealed layout's prefix, else 0. */
int admin_secret_is_sealed(const char *value);

/*
 * Seals plain (NUL-terminated, at most ADMIN_SECRET_VALUE_MAX octets) with
 * key into out (size >= ADMIN_SECRET_SEALED_MAX). Returns 0, or -1 when
 * plain is too long or out too small.
 */
int admin_secret_seal_with(const uint8_t key[ADMIN_SECRET_KEY_BYTES], const char *plain,
			   char *out, size_t outsz);

/*
 * Opens sealed (NUL-terminated) with key into out (NUL-terminated).
 * Returns 0, or -1 when sealed is not a well-formed sealed value, was not
 * sealed with key, was altered, or does not fit out (out is then "").
 */
int admin_secret_open_with(const uint8_t key[ADMIN_SECRET_KEY_BYTES], const char *sealed,
			   char *out, size_t outsz);

/* As _with, with the key of data directory dir (made when missing, for
 * sealing only). -1 also when the key file cannot be read or made. */
int admin_secret_seal(const char *dir, const char *plain, char *out, size_t outsz);
int admin_secret_open(const char *dir, const char *sealed, char *out, size_t outsz);

/* Zeroes the kept key: the next use reads the file (as a new process
 * would). At the server's end, and in tests. */
void admin_secret_forget(void);

/* At the server's start: removes from dir the temporary key files
 * (secrets.key.PID.tmp, exactly that pattern) whose process is gone, left
 * by a kill while the key was first written; a live PID's file is another
 * command making the key now, and stays. Returns how many were removed. */
int admin_secret_sweep(const char *dir);

/*
 * A key of its own for one purpose, derived from the key file of data
 * directory dir (made when missing): libsodium's crypto_kdf (BLAKE2b) with
 * id and context (exactly 8 characters, e.g. "tern-srs"), so each purpose
 * (SRS hashes, ...) has an independent key and none reveals the sealing
 * key. The same file, id and context always give the same key. 0, or -1
 * when the key file cannot be read or made (out is then zeroed).
 */
int admin_secret_derive(const char *dir, uint64_t id, const char context[8],
			uint8_t out[ADMIN_SECRET_KEY_BYTES]);

#endif
