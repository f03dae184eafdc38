/*
 * test_admin_rehash.c — the admin password, like an account's, is re-hashed
 * at a sign-in that matches a hash made before SASLprep (of the NFD text as
 * typed): afterwards both spellings sign in and admin_password_stamp() (what
 * admin web sessions compare) has not moved, while a real change still
 * moves it. The re-hash is a compare-and-swap (store_meta_put_if): a hash
 * stored meanwhile wins.
 */
#include <sodium.h>
#include <string.h>

#include "admin/admin_meta.h"
#include "auth/password.h"
#include "unit_env.h"

static const char nfc[] = "p\xc3\xa4ss-w\xc3\xb6rd-1";   /* U+00E4, U+00F6 */
static const char nfd[] = "pa\xcc\x88ss-wo\xcc\x88rd-1"; /* a, o + U+0308 */

static void stored(struct store *st, char out[PASSWORD_HASH_MAX])
{
	size_t len = 0;
	out[0] = '\0';
	CHECK_EQ_INT(store_meta_get(st, "admin/password", out, PASSWORD_HASH_MAX - 1, &len),
		     STORE_OK);
	out[len] = '\0';
}

static void test_rehash(struct store *st)
{
	char old[PASSWORD_HASH_MAX], now[PASSWORD_HASH_MAX], h[PASSWORD_HASH_MAX];

	/* The hash an older build stored: of the NFD text itself. */
	CHECK_EQ_INT(crypto_pwhash_str_alg(old, nfd, strlen(nfd), 2, (size_t)19 << 20,
					   crypto_pwhash_ALG_ARGON2ID13),
		     0);
	CHECK_EQ_INT(store_meta_put(st, "admin/password", old, strlen(old), 0), STORE_OK);
	password_cache_clear();
	uint64_t s0 = admin_password_stamp(st);
	CHECK(s0 > 1);
	CHECK_EQ_INT(admin_password_check(st, NULL, nfc), 0);

	/* The NFD sign-in matches as typed and re-hashes to the prepared form. */
	CHECK_EQ_INT(admin_password_check(st, NULL, nfd), 1);
	stored(st, now);
	CHECK(strcmp(now, old) != 0);
	CHECK_EQ_INT(crypto_pwhash_str_verify(now, nfc, strlen(nfc)), 0);
	CHECK_EQ_INT(password_needs_rehash(now), 0);
	/* The web sessions stand: same stamp. */
	CHECK(admin_password_stamp(st) == s0);
	password_cache_clear();
	CHECK_EQ_INT(admin_password_check(st, NULL, nfc), 1);
	CHECK_EQ_INT(admin_password_check(st, NULL, nfd), 1);
	/* Nothing more to re-hash. */
	stored(st, h);
	CHECK_EQ_STR(h, now);
	CHECK(admin_password_stamp(st) == s0);

	/* A change moves the stamp and drops the old password. */
	CHECK_EQ_INT(admin_password_set(st, "another one", 0), STORE_OK);
	uint64_t s1 = admin_password_stamp(st);
	CHECK(s1 != s0 && s1 > 1);
	CHECK_EQ_INT(admin_password_check(st, NULL, nfc), 0);
	CHECK_EQ_INT(admin_password_check(st, NULL, "another one"), 1);

	/* Weaker parameters (one pass, 8 MiB): replaced too, stamp kept. */
	CHECK_EQ_INT(crypto_pwhash_str_alg(old, "plain pw", 8, 1, (size_t)8 << 20,
					   crypto_pwhash_ALG_ARGON2ID13),
		     0);
	CHECK_EQ_INT(admin_password_set(st, "x", 0), STORE_OK);
	CHECK_EQ_INT(store_meta_put(st, "admin/password", old, strlen(old), 0), STORE_OK);
	s0 = admin_password_stamp(st);
	CHECK_EQ_INT(admin_password_check(st, NULL, "plain pw"), 1);
	stored(st, now);
	CHECK_EQ_INT(password_needs_rehash(now), 0);
	CHECK(admin_password_stamp(st) == s0);
	/* A wrong password re-hashes nothing. */
	CHECK_EQ_INT(admin_password_check(st, NULL, "plain px"), 0);
	stored(st, h);
	CHECK_EQ_STR(h, now);
}

/* The compare-and-swap under the re-hash: written only while the name
 * holds the value expected. */
static void test_put_if(struct store *st)
{
	struct store_meta_item it[2] = {{"test/a", "new", 3}, {"test/b", "also", 4}};
	char v[16];
	size_t len;

	CHECK_EQ_INT(store_meta_put(st, "test/a", "old", 3, 0), STORE_OK);
	CHECK_EQ_INT(store_meta_put_if(st, "test/a", "other", 5, it, 2), 1);
	CHECK_EQ_INT(store_meta_get(st, "test/a", v, sizeof v, &len), STORE_OK);
	CHECK(len == 3 && memcmp(v, "old", 3) == 0);
	CHECK_EQ_INT(store_meta_get(st, "test/b", v, sizeof v, &len), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_meta_put_if(st, "test/a", "ol", 2, it, 2), 1);
	CHECK_EQ_INT(store_meta_put_if(st, "test/none", "old", 3, it, 2), 1);
	CHECK_EQ_INT(store_meta_put_if(st, "test/a", "old", 3, it, 2), STORE_OK);
	CHECK_EQ_INT(store_meta_get(st, "test/a", v, sizeof v, &len), STORE_OK);
	CHECK(len == 3 && memcmp(v, "new", 3) == 0);
	CHECK_EQ_INT(store_meta_get(st, "test/b", v, sizeof v, &len), STORE_OK);
	CHECK(len == 4 && memcmp(v, "also", 4) == 0);
	CHECK_EQ_INT(store_meta_put_if(st, "bad", "old", 3, it, 2), STORE_EINVAL);
}

int main(void)
{
	char base[256], err[256];
	struct store *st = NULL;

	if (unit_env_begin(base, sizeof base, "admin-rehash") < 0)
		return 1;
	CHECK_EQ_INT(store_open(base, 0, &st, err, sizeof err), STORE_OK);
	if (st) {
		test_rehash(st);
		test_put_if(st);
		store_close(&st);
	}
	unit_rmrf(base);
	return unit_done("test_admin_rehash");
}
