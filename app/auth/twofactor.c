/*
 * twofactor.c — TOTP enrolment, recovery codes and the sign-in check over
 * auth/totp.c and the store's two-factor record (see twofactor.h).
 */
#include "auth/twofactor.h"

#include <sodium.h>
#include <string.h>
#include <time.h>

#include "admin/admin_secret.h"
#include "auth/totp.h"
#include "core/log.h"

/* The alphabet of app passwords: no 0/o, 1/l/i. */
static const char ALPHA[] = "abcdefghjkmnpqrstuvwxyz23456789";

int twofactor_recovery_hash(const char *code, uint8_t out[STORE_TOTP_HASH])
{
	char norm[TWOFACTOR_RECOVERY_LEN];
	size_t n = 0;

	for (const char *p = code; *p; p++) {
		char c = *p;
		if (c == '-' || c == ' ')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		if (n == 10 || !strchr(ALPHA, c))
			return -1;
		norm[n++] = c;
	}
	if (n != 10)
		return -1;
	crypto_generichash(out, STORE_TOTP_HASH, (const uint8_t *)norm, n, NULL, 0);
	sodium_memzero(norm, sizeof norm);
	return 0;
}

/* The secret of owner's record, unsealed: its byte count, or -1. */
static int secret_of(const char *dir, const struct store_totp *t, uint8_t *key, size_t keysz)
{
	char b32[TOTP_B32_MAX];
	int n = -1;

	if (admin_secret_open(dir, t->secret, b32, sizeof b32) == 0)
		n = totp_b32_decode(b32, key, keysz);
	sodium_memzero(b32, sizeof b32);
	return n;
}

int twofactor_begin(struct store *st, const char *dir, uint32_t owner, const char *issuer,
		    const char *label, char *uri, size_t urisz)
{
	struct store_totp t;
	uint8_t key[TOTP_SECRET_BYTES];
	char b32[TOTP_B32_MAX];
	int rc = store_totp_get(st, owner, &t);

	if (rc == STORE_OK && t.on) {
		sodium_memzero(&t, sizeof t);
		return STORE_EEXIST;
	}
	if (rc != STORE_OK && rc != STORE_ENOTFOUND)
		return STORE_ETEMP;
	memset(&t, 0, sizeof t);
	randombytes_buf(key, sizeof key);
	rc = STORE_ETEMP;
	if (totp_b32_encode(key, sizeof key, b32, sizeof b32) == 0 &&
	    admin_secret_seal(dir, b32, t.secret, sizeof t.secret) == 0 &&
	    totp_uri(issuer, label, key, sizeof key, uri, urisz) == 0) {
		t.created_at = (int64_t)time(NULL);
		rc = store_totp_put(st, owner, &t);
	}
	sodium_memzero(key, sizeof key);
	sodium_memzero(b32, sizeof b32);
	sodium_memzero(&t, sizeof t);
	if (rc != STORE_OK)
		uri[0] = '\0';
	return rc;
}

/* Checks a 6-digit code against t's secret; 1 with *step_r, 0, or -1. */
static int code_ok(const char *dir, const struct store_totp *t, const char *code, int64_t now,
		   uint64_t *step_r)
{
	uint8_t key[64];
	char digits[8];
	size_t n = 0;

	for (const char *p = code; *p; p++) {
		if (*p == ' ')
			continue;
		if (*p < '0' || *p > '9' || n == 6)
			return 0;
		digits[n++] = *p;
	}
	if (n != 6)
		return 0;
	digits[n] = '\0';
	int kl = secret_of(dir, t, key, sizeof key);
	if (kl <= 0) {
		sodium_memzero(key, sizeof key);
		return -1;
	}
	int r = totp_check(key, (size_t)kl, digits, now, t->last_step, step_r);
	sodium_memzero(key, sizeof key);
	return r;
}

static void make_code(char out[TWOFACTOR_RECOVERY_LEN + 1])
{
	size_t o = 0;
	for (int i = 0; i < 10; i++) {
		if (i == 5)
			out[o++] = '-';
		out[o++] = ALPHA[randombytes_uniform(sizeof ALPHA - 1)];
	}
	out[o] = '\0';
}

int twofactor_confirm(struct store *st, const char *dir, uint32_t owner, const char *code,
		      int64_t now, twofactor_codes codes)
{
	struct store_totp t;
	uint64_t step = 0;
	int rc = store_totp_get(st, owner, &t);

	if (rc != STORE_OK)
		return rc == STORE_ENOTFOUND ? STORE_ENOTFOUND : STORE_ETEMP;
	if (t.on) {
		sodium_memzero(&t, sizeof t);
		return STORE_EEXIST;
	}
	int ok = code_ok(dir, &t, code, now, &step);
	if (ok != 1) {
		sodium_memzero(&t, sizeof t);
		if (ok < 0)
			log_error("auth", NULL, "event=totp_secret_unreadable owner=%u", owner);
		return ok < 0 ? STORE_ETEMP : 0;
	}
	for (int i = 0; i < STORE_TOTP_RECOVERY; i++) {
		make_code(codes[i]);
		twofactor_recovery_hash(codes[i], t.recovery[i]);
	}
	t.on = 1;
	t.last_step = step;
	rc = store_totp_put(st, owner, &t);
	sodium_memzero(&t, sizeof t);
	if (rc != STORE_OK) {
		sodium_memzero(codes, sizeof(twofactor_codes));
		return rc == STORE_ENOTFOUND ? STORE_ENOTFOUND : STORE_ETEMP;
	}
	return 1;
}

int twofactor_enabled(struct store *st, uint32_t owner)
{
	struct store_totp t = {.on = 0};
	int rc = store_totp_get(st, owner, &t);
	int on = t.on;
	sodium_memzero(&t, sizeof t);
	if (rc == STORE_ENOTFOUND)
		return 0;
	return rc == STORE_OK ? on : STORE_ETEMP;
}

int twofactor_verify(struct store *st, const char *dir, uint32_t owner, const char *code,
		     int64_t now)
{
	struct store_totp t;
	uint8_t h[STORE_TOTP_HASH];
	uint64_t step = 0;
	int rc = store_totp_get(st, owner, &t);

	if (rc == STORE_ENOTFOUND)
		return 0;
	if (rc != STORE_OK)
		return STORE_ETEMP;
	int on = t.on;
	int ok = on ? code_ok(dir, &t, code, now, &step) : 0;
	sodium_memzero(&t, sizeof t);
	if (!on)
		return 0;
	/* A secret that cannot be opened (secrets.key lost or replaced)
	 * leaves the recovery codes, which need no key. */
	if (ok < 0)
		log_error("auth", NULL, "event=totp_secret_unreadable owner=%u", owner);
	if (ok == 1)
		/* A code seen since (another sign-in racing) makes this 0. */
		return store_totp_advance(st, owner, step);
	if (twofactor_recovery_hash(code, h) != 0)
		return 0;
	rc = store_totp_recovery_use(st, owner, h);
	if (rc == 1)
		log_info("auth", NULL, "event=totp_recovery_used owner=%u", owner);
	return rc;
}

int twofactor_disable(struct store *st, const char *dir, uint32_t owner, const char *code,
		      int64_t now)
{
	int rc = twofactor_verify(st, dir, owner, code, now);
	if (rc != 1)
		return rc;
	rc = store_totp_del(st, owner);
	return rc == STORE_OK || rc == STORE_ENOTFOUND ? 1 : STORE_ETEMP;
}

int twofactor_reset(struct store *st, uint32_t owner)
{
	return store_totp_del(st, owner);
}
