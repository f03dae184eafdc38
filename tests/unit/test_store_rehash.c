/*
 * test_store_rehash.c — a password hash made before SASLprep (of the text
 * as typed, NFD here) is replaced at the first login that matches it by a
 * hash of the prepared form: afterwards both spellings sign in, the
 * credentials stamp (what sessions compare, session_watch.h) has not
 * moved, the SCRAM record still opens, and a password set between a
 * login's read and its re-hash is never overwritten (acct_rehash is a
 * compare-and-swap). A hash with weaker argon2id parameters is replaced
 * the same way.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/password.h"
#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

static const char nfc[] = "p\xc3\xa4ss-w\xc3\xb6rd-1";   /* U+00E4, U+00F6 */
static const char nfd[] = "pa\xcc\x88ss-wo\xcc\x88rd-1"; /* a, o + U+0308 */

struct put {
	uint32_t id;
	const char *hash;
};

/* Writes hash as the account's password hash as an older build did
 * (no re-hash fields). */
static int put_hash(struct store *st, MDB_txn *txn, void *ctx)
{
	struct put *p = ctx;
	struct acct_rec a;
	char sealed[2][STORE_SCRAM_SEALED_MAX];
	int rc = acct_get(txn, st, p->id, &a);
	/* The SCRAM keys of the same password, beside that hash. */
	for (int i = 0; rc == 0 && i < 2; i++)
		rc = scram_get_txn(txn, st, p->id, a.hash, i, sealed[i], sizeof sealed[i]);
	if (rc)
		return rc;
	snprintf(a.hash, sizeof a.hash, "%s", p->hash);
	a.stamp_src[0] = '\0';
	rc = acct_put(txn, st, p->id, &a);
	return rc ? rc : scram_set_txn(txn, st, p->id, a.hash, sealed);
}

static void stored_hash(struct store *st, uint32_t id, char out[STORE_HASH_MAX])
{
	MDB_txn *txn;
	struct acct_rec a;

	out[0] = '\0';
	CHECK_EQ_INT(store_rd_begin(st, &txn), 0);
	CHECK_EQ_INT(acct_get(txn, st, id, &a), 0);
	store_rd_end(st, txn);
	memcpy(out, a.hash, STORE_HASH_MAX);
}

static uint64_t stamp(struct store *st, uint32_t acc)
{
	uint64_t c = 0;
	CHECK_EQ_INT(store_account_creds(st, &acc, NULL, &c, 1), STORE_OK);
	return c;
}

/* The account's sealed SCRAM-SHA-256 text, "" when there is none for
 * its hash. */
static void scram_text(struct store *st, const char *u, char out[STORE_SCRAM_SEALED_MAX])
{
	struct store_scram r;
	out[0] = '\0';
	if (store_account_scram(st, u, 1, &r) == STORE_OK)
		memcpy(out, r.sealed, STORE_SCRAM_SEALED_MAX);
	sodium_memzero(&r, sizeof r);
}

int main(void)
{
	const char *u = "bob@example.test";
	char err[256], old[STORE_HASH_MAX], now[STORE_HASH_MAX], h[STORE_HASH_MAX];
	struct store *st;
	uint32_t acc = 0;
	uint64_t cred = 0;

	if (unit_env_begin(base, sizeof base, "rehash") < 0)
		return 1;
	st = unit_store_with_account(base, 0, u, &acc);
	if (!st)
		return unit_done("test_store_rehash");
	CHECK_EQ_INT(store_account_passwd(st, u, nfd, err, sizeof err), STORE_OK);
	char sc0[STORE_SCRAM_SEALED_MAX], sc1[STORE_SCRAM_SEALED_MAX];

	/* The hash an older build made: of the NFD text itself. */
	CHECK_EQ_INT(crypto_pwhash_str_alg(old, nfd, strlen(nfd), 2, (size_t)19 << 20,
					   crypto_pwhash_ALG_ARGON2ID13),
		     0);
	struct put p = {acc, old};
	CHECK_EQ_INT(store_write(st, put_hash, &p), STORE_OK);
	password_cache_clear();
	CHECK_EQ_INT(crypto_pwhash_str_verify(old, nfc, strlen(nfc)), -1);
	uint64_t c0 = stamp(st, acc);
	scram_text(st, u, sc0);
	CHECK(sc0[0] != '\0');

	/* The NFD login matches as typed and re-hashes to the prepared form. */
	CHECK_EQ_INT(store_account_login(st, u, nfd, NULL, &cred, NULL), 1);
	stored_hash(st, acc, now);
	CHECK(strcmp(now, old) != 0);
	CHECK_EQ_INT(crypto_pwhash_str_verify(now, nfc, strlen(nfc)), 0);
	CHECK_EQ_INT(password_needs_rehash(now), 0);
	/* Same stamp: before the re-hash, as the login reported it, after. */
	CHECK(cred == c0);
	CHECK(stamp(st, acc) == c0);
	/* The same SCRAM keys, now beside the new hash (not made again). */
	scram_text(st, u, sc1);
	CHECK_EQ_STR(sc1, sc0);
	password_cache_clear();
	CHECK_EQ_INT(store_account_login(st, u, nfc, NULL, &cred, NULL), 1);
	CHECK_EQ_INT(store_account_login(st, u, nfd, NULL, NULL, NULL), 1);
	CHECK(cred == c0);
	/* A second login re-hashes nothing. */
	stored_hash(st, acc, h);
	CHECK_EQ_STR(h, now);
	CHECK(stamp(st, acc) == c0);

	/* A password change still moves the stamp (the re-hash's source is
	 * bound to the hash it stood beside). */
	CHECK_EQ_INT(store_account_passwd(st, u, "new one", err, sizeof err), STORE_OK);
	uint64_t c1 = stamp(st, acc);
	CHECK(c1 != c0);
	CHECK_EQ_INT(store_account_login(st, u, nfc, NULL, NULL, NULL), 0);

	/* A concurrent change wins: a re-hash computed from the hash a login
	 * read, after a new password was set, writes nothing. */
	stored_hash(st, acc, h);
	CHECK_EQ_INT(store_account_passwd(st, u, "newer", err, sizeof err), STORE_OK);
	char fresh[STORE_HASH_MAX];
	CHECK_EQ_INT(password_hash("new one", fresh, sizeof fresh), 0);
	CHECK_EQ_INT(acct_rehash(st, acc, h, fresh), 1);
	stored_hash(st, acc, now);
	CHECK(strcmp(now, fresh) != 0 && strcmp(now, h) != 0);
	CHECK_EQ_INT(store_account_login(st, u, "newer", NULL, NULL, NULL), 1);
	CHECK_EQ_INT(store_account_login(st, u, "new one", NULL, NULL, NULL), 0);
	CHECK_EQ_INT(acct_rehash(st, 999, h, fresh), STORE_ENOTFOUND);

	/* Weaker parameters (one pass, 8 MiB): replaced at the login too, the
	 * stamp kept. */
	CHECK_EQ_INT(crypto_pwhash_str_alg(old, "plain", 5, 1, (size_t)8 << 20,
					   crypto_pwhash_ALG_ARGON2ID13),
		     0);
	p.hash = old;
	CHECK_EQ_INT(store_write(st, put_hash, &p), STORE_OK);
	c0 = stamp(st, acc);
	CHECK_EQ_INT(password_needs_rehash(old), 1);
	CHECK_EQ_INT(store_account_login(st, u, "plain", NULL, NULL, NULL), 1);
	stored_hash(st, acc, now);
	CHECK_EQ_INT(password_needs_rehash(now), 0);
	CHECK(stamp(st, acc) == c0);
	/* A wrong password re-hashes nothing. */
	CHECK_EQ_INT(store_account_login(st, u, "plainx", NULL, NULL, NULL), 0);
	stored_hash(st, acc, h);
	CHECK_EQ_STR(h, now);

	store_close(&st);
	return unit_done("test_store_rehash");
}
