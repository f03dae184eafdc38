/*
 * test_admin_secret.c — sealed settings (admin_secret.h): the sealed text
 * opens with its key only and never when altered; the key file is made
 * once, 0600, beside the store; the relay password goes into the store
 * sealed, and one stored in the clear by an older build is sealed in
 * place by admin_settings_seal().
 */
#include <sodium.h>
#include <sys/stat.h>

#include "admin/admin_meta.h"
#include "admin/admin_secret.h"
#include "unit_env.h"

static void test_seal_open(void)
{
	uint8_t key[ADMIN_SECRET_KEY_BYTES], other[ADMIN_SECRET_KEY_BYTES];
	char sealed[ADMIN_SECRET_SEALED_MAX], again[ADMIN_SECRET_SEALED_MAX], out[256];
	char long_value[ADMIN_SECRET_VALUE_MAX + 2];

	randombytes_buf(key, sizeof key);
	randombytes_buf(other, sizeof other);
	CHECK_EQ_INT(admin_secret_seal_with(key, "p@ss word", sealed, sizeof sealed), 0);
	CHECK(admin_secret_is_sealed(sealed) && !strstr(sealed, "p@ss"));
	CHECK_EQ_INT(admin_secret_open_with(key, sealed, out, sizeof out), 0);
	CHECK_EQ_STR(out, "p@ss word");
	/* A fresh nonce each time: the same value never seals the same. */
	CHECK_EQ_INT(admin_secret_seal_with(key, "p@ss word", again, sizeof again), 0);
	CHECK(strcmp(sealed, again) != 0);
	/* Another key, one changed digit, cut short, extra text: refused. */
	CHECK_EQ_INT(admin_secret_open_with(other, sealed, out, sizeof out), -1);
	CHECK_EQ_STR(out, "");
	size_t n = strlen(sealed);
	sealed[n - 1] = sealed[n - 1] == '0' ? '1' : '0';
	CHECK_EQ_INT(admin_secret_open_with(key, sealed, out, sizeof out), -1);
	CHECK_EQ_INT(admin_secret_open_with(key, "sb1:", out, sizeof out), -1);
	CHECK_EQ_INT(admin_secret_open_with(key, "sb1:abc", out, sizeof out), -1);
	CHECK_EQ_INT(admin_secret_open_with(key, "plain text", out, sizeof out), -1);
	strcat(again, "00");
	CHECK_EQ_INT(admin_secret_open_with(key, again, out, sizeof out), -1);
	again[strlen(again) - 2] = '\0';
	strcat(again, " ");
	CHECK_EQ_INT(admin_secret_open_with(key, again, out, sizeof out), -1);
	/* Longest value: fits; one more: refused; a small out: refused. */
	memset(long_value, 'x', sizeof long_value - 1);
	long_value[ADMIN_SECRET_VALUE_MAX] = '\0';
	CHECK_EQ_INT(admin_secret_seal_with(key, long_value, sealed, sizeof sealed), 0);
	CHECK_EQ_INT(admin_secret_open_with(key, sealed, out, sizeof out), 0);
	CHECK_EQ_INT(admin_secret_open_with(key, sealed, out, 10), -1);
	long_value[ADMIN_SECRET_VALUE_MAX] = 'x';
	long_value[ADMIN_SECRET_VALUE_MAX + 1] = '\0';
	CHECK_EQ_INT(admin_secret_seal_with(key, long_value, sealed, sizeof sealed), -1);
}

/* 1 when the file at path holds needle anywhere. */
static int file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	static char data[8 << 20];
	size_t n = f ? fread(data, 1, sizeof data, f) : 0;
	if (f)
		fclose(f);
	return memmem(data, n, needle, strlen(needle)) != NULL;
}

static void test_store_and_migration(const char *base)
{
	char dir[600], key[700], mdb[700], out[256], raw[ADMIN_SECRET_SEALED_MAX];
	struct stat sb;
	struct store *st = NULL;
	size_t len;

	snprintf(dir, sizeof dir, "%s/data", base);
	snprintf(key, sizeof key, "%s/secrets.key", dir);
	snprintf(mdb, sizeof mdb, "%s/data.mdb", dir);
	char err[256];
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	if (!st)
		return;
	/* No key until something is sealed; opening makes none. */
	CHECK_EQ_INT(admin_secret_open(dir, "sb1:00", out, sizeof out), -1);
	CHECK(stat(key, &sb) != 0);

	CHECK_EQ_INT(admin_setting_set(st, SETTING_RELAY_PASSWORD, "relay-pw-1"), STORE_OK);
	CHECK(stat(key, &sb) == 0 && (sb.st_mode & 0777) == 0600 && sb.st_size == 32);
	CHECK_EQ_INT(store_meta_get(st, "setting/relay_password", raw, sizeof raw - 1, &len),
		     STORE_OK);
	raw[len] = '\0';
	CHECK(admin_secret_is_sealed(raw) && !strstr(raw, "relay-pw-1"));
	CHECK_EQ_INT(admin_setting_get(st, SETTING_RELAY_PASSWORD, out, sizeof out), STORE_OK);
	CHECK_EQ_STR(out, "relay-pw-1");
	/* Other settings stay plain text. */
	CHECK_EQ_INT(admin_setting_set(st, SETTING_RELAY_USER, "ru"), STORE_OK);
	CHECK_EQ_INT(store_meta_get(st, "setting/relay_user", raw, sizeof raw - 1, &len), STORE_OK);
	CHECK(len == 2 && memcmp(raw, "ru", 2) == 0);

	/* An older build's clear value is read as it is, then sealed in place. */
	CHECK_EQ_INT(store_meta_put(st, "setting/relay_password", "old-clear-pw", 12, 0), STORE_OK);
	CHECK_EQ_INT(admin_setting_get(st, SETTING_RELAY_PASSWORD, out, sizeof out), STORE_OK);
	CHECK_EQ_STR(out, "old-clear-pw");
	CHECK_EQ_INT(admin_settings_seal(st), STORE_OK);
	CHECK_EQ_INT(store_meta_get(st, "setting/relay_password", raw, sizeof raw - 1, &len),
		     STORE_OK);
	raw[len] = '\0';
	CHECK(admin_secret_is_sealed(raw));
	CHECK_EQ_INT(admin_setting_get(st, SETTING_RELAY_PASSWORD, out, sizeof out), STORE_OK);
	CHECK_EQ_STR(out, "old-clear-pw");
	CHECK_EQ_INT(admin_settings_seal(st), STORE_OK); /* nothing left to do */
	store_close(&st);
	/* A value set through admin_setting_set never reaches the file in
	 * the clear. (The migrated one may linger in pages LMDB freed until
	 * it reuses them: admin_meta.h's caveat.) */
	CHECK(!file_has(mdb, "relay-pw-1"));

	/* Without the key the value is lost, not garbage: "" and a log line.
	 * (At the next start: the running process keeps the key it read.) */
	CHECK_EQ_INT(unlink(key), 0);
	admin_secret_forget();
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	if (!st)
		return;
	CHECK_EQ_INT(admin_setting_get(st, SETTING_RELAY_PASSWORD, out, sizeof out), STORE_OK);
	CHECK_EQ_STR(out, "");
	store_close(&st);
}

/* Derived keys: stable for one key file and purpose, distinct across
 * purposes and ids, never the sealing key; made with the file when missing. */
static void test_derive(const char *base)
{
	char dir[600], key[700];
	uint8_t a[ADMIN_SECRET_KEY_BYTES], b[ADMIN_SECRET_KEY_BYTES], c[ADMIN_SECRET_KEY_BYTES];
	uint8_t raw[ADMIN_SECRET_KEY_BYTES];
	struct stat sb;

	snprintf(dir, sizeof dir, "%s/derive", base);
	snprintf(key, sizeof key, "%s/secrets.key", dir);
	CHECK_EQ_INT(mkdir(dir, 0700), 0);
	CHECK_EQ_INT(admin_secret_derive(dir, 1, "tern-srs", a), 0);
	CHECK(stat(key, &sb) == 0 && sb.st_size == ADMIN_SECRET_KEY_BYTES);
	CHECK_EQ_INT(admin_secret_derive(dir, 1, "tern-srs", b), 0);
	CHECK(memcmp(a, b, sizeof a) == 0);
	CHECK_EQ_INT(admin_secret_derive(dir, 2, "tern-srs", c), 0);
	CHECK(memcmp(a, c, sizeof a) != 0);
	CHECK_EQ_INT(admin_secret_derive(dir, 1, "tern-xyz", c), 0);
	CHECK(memcmp(a, c, sizeof a) != 0);
	FILE *f = fopen(key, "rb");
	CHECK(f && fread(raw, 1, sizeof raw, f) == sizeof raw);
	if (f)
		fclose(f);
	CHECK(memcmp(a, raw, sizeof a) != 0);
	/* A new key file, a new derived key (at the next start). */
	CHECK_EQ_INT(unlink(key), 0);
	admin_secret_forget();
	CHECK_EQ_INT(admin_secret_derive(dir, 1, "tern-srs", c), 0);
	CHECK(memcmp(a, c, sizeof a) != 0);
	/* No directory: -1 and a zeroed key. */
	snprintf(dir, sizeof dir, "%s/missing/dir", base);
	memset(c, 7, sizeof c);
	CHECK_EQ_INT(admin_secret_derive(dir, 1, "tern-srs", c), -1);
	memset(b, 0, sizeof b);
	CHECK(memcmp(b, c, sizeof c) == 0);
}

/* Writes key to dir's key file, replacing it as a restore by hand would. */
static void key_write(const char *dir, const uint8_t key[ADMIN_SECRET_KEY_BYTES])
{
	char path[700], tmp[720];

	snprintf(path, sizeof path, "%s/secrets.key", dir);
	snprintf(tmp, sizeof tmp, "%s.new", path);
	FILE *f = fopen(tmp, "wb");
	CHECK(f && fwrite(key, 1, ADMIN_SECRET_KEY_BYTES, f) == ADMIN_SECRET_KEY_BYTES);
	if (f)
		fclose(f);
	CHECK_EQ_INT(chmod(tmp, 0600), 0);
	CHECK_EQ_INT(rename(tmp, path), 0);
}

/* The key is read once and kept: opening and deriving do not read the
 * file again (every login read it); a seal does, and so does an open the
 * kept key fails, so a key file replaced while the process runs is seen
 * where it matters. */
static void test_kept(const char *base)
{
	char dir[600], key[700], out[64], sealed[ADMIN_SECRET_SEALED_MAX];
	char other_sealed[ADMIN_SECRET_SEALED_MAX];
	uint8_t a[ADMIN_SECRET_KEY_BYTES], b[ADMIN_SECRET_KEY_BYTES];
	uint8_t k2[ADMIN_SECRET_KEY_BYTES], k3[ADMIN_SECRET_KEY_BYTES];

	snprintf(dir, sizeof dir, "%s/kept", base);
	snprintf(key, sizeof key, "%s/secrets.key", dir);
	CHECK_EQ_INT(mkdir(dir, 0700), 0);
	admin_secret_forget();
	CHECK_EQ_INT(admin_secret_seal(dir, "v1", sealed, sizeof sealed), 0);
	CHECK_EQ_INT(admin_secret_derive(dir, 1, "tern-tst", a), 0);

	/* The file gone: opening and deriving go on with the kept key. */
	CHECK_EQ_INT(unlink(key), 0);
	CHECK_EQ_INT(admin_secret_open(dir, sealed, out, sizeof out), 0);
	CHECK_EQ_STR(out, "v1");
	CHECK_EQ_INT(admin_secret_derive(dir, 1, "tern-tst", b), 0);
	CHECK(memcmp(a, b, sizeof a) == 0);

	/* Replaced by another key (another process made it): a value sealed
	 * with it opens (the failed open read the file), and from then on
	 * the new key is the kept one. */
	randombytes_buf(k2, sizeof k2);
	key_write(dir, k2);
	CHECK_EQ_INT(admin_secret_derive(dir, 1, "tern-tst", b), 0);
	CHECK(memcmp(a, b, sizeof a) == 0); /* not read again */
	CHECK_EQ_INT(admin_secret_seal_with(k2, "v2", other_sealed, sizeof other_sealed), 0);
	CHECK_EQ_INT(admin_secret_open(dir, other_sealed, out, sizeof out), 0);
	CHECK_EQ_STR(out, "v2");
	CHECK_EQ_INT(admin_secret_derive(dir, 1, "tern-tst", b), 0);
	CHECK(memcmp(a, b, sizeof a) != 0);

	/* A seal reads the file: what it seals opens with the file's key. */
	randombytes_buf(k3, sizeof k3);
	key_write(dir, k3);
	CHECK_EQ_INT(admin_secret_seal(dir, "v3", sealed, sizeof sealed), 0);
	CHECK_EQ_INT(admin_secret_open_with(k3, sealed, out, sizeof out), 0);
	CHECK_EQ_STR(out, "v3");

	/* Forgotten (a new start): the file's key, read again. */
	admin_secret_forget();
	randombytes_buf(k2, sizeof k2);
	key_write(dir, k2);
	CHECK_EQ_INT(admin_secret_open(dir, sealed, out, sizeof out), -1);
	CHECK_EQ_STR(out, "");
	sodium_memzero(k2, sizeof k2);
	sodium_memzero(k3, sizeof k3);
}

int main(void)
{
	char base[256];

	if (sodium_init() < 0 || unit_env_begin(base, sizeof base, "secret") < 0)
		return 1;
	test_seal_open();
	test_store_and_migration(base);
	test_derive(base);
	test_kept(base);
	unit_rmrf(base);
	return unit_done("test_admin_secret");
}
