/*
 * test_twofactor.c — two-factor sign-in (auth/twofactor.c, issue 31):
 * enrolment gives an otpauth URI whose secret computes the codes (here
 * with totp_hotp, as an app would); a wrong first code does not turn it
 * on, the right one does and gives ten recovery codes; a code is taken
 * once, the next step's is taken; a recovery code once; with 2FA on, mail
 * logins take app passwords only and sessions signed in with the account
 * password see their stamp change; off again needs a code. The admin's
 * record works the same; without secrets.key its recovery codes still do. Nothing is kept in clear: the store's secret is
 * sealed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_secret.h"
#include "auth/totp.h"
#include "auth/twofactor.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

/* The secret out of an otpauth URI. */
static size_t uri_key(const char *uri, uint8_t *key, size_t keysz)
{
	char b32[TOTP_B32_MAX];
	const char *p = strstr(uri, "secret=");
	size_t n = 0;
	if (!p)
		return 0;
	for (p += 7; *p && *p != '&' && n < sizeof b32 - 1; p++)
		b32[n++] = *p;
	b32[n] = '\0';
	int k = totp_b32_decode(b32, key, keysz);
	return k > 0 ? (size_t)k : 0;
}

static void code_at(const uint8_t *key, size_t kl, int64_t t, char out[7])
{
	snprintf(out, 7, "%06ld", totp_hotp(TOTP_SHA1, key, kl, (uint64_t)t / 30, 6));
}

int main(void)
{
	const char *u = "tom@example.test";
	char err[256], uri[TWOFACTOR_URI_MAX], code[7], sec[STORE_APPPASS_SECRET_LEN + 1];
	uint8_t key[64];
	twofactor_codes codes;
	struct store *st;
	struct store_totp t;
	uint32_t acc = 0;
	uint64_t cred_pw = 0, cred_ap = 0, now2[2];
	uint32_t ap = 0;
	int64_t now = 1800000000; /* a step boundary: now/30 is whole */

	if (unit_env_begin(base, sizeof base, "twofactor") < 0)
		return 1;
	st = unit_store_with_account(base, 0, u, &acc);
	if (!st)
		return unit_done("test_twofactor");
	CHECK_EQ_INT(store_apppass_add(st, acc, "phone", sec, sizeof sec, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(twofactor_enabled(st, acc), 0);
	CHECK_EQ_INT(twofactor_verify(st, base, acc, "123456", now), 0);
	CHECK_EQ_INT(twofactor_confirm(st, base, acc, "123456", now, codes), STORE_ENOTFOUND);
	CHECK_EQ_INT(twofactor_begin(st, base, 999, "tern", "x", uri, sizeof uri), STORE_ENOTFOUND);

	/* Before 2FA: the password signs in to mail; its session's stamp. */
	CHECK_EQ_INT(store_account_login(st, u, "pw", NULL, &cred_pw, NULL), 1);
	CHECK_EQ_INT(store_account_login(st, u, sec, NULL, &cred_ap, &ap), 1);

	/* Enrolment: a URI with the secret, sealed in the store. */
	CHECK_EQ_INT(twofactor_begin(st, base, acc, "tern mx.example.test", u, uri, sizeof uri),
		     STORE_OK);
	CHECK(strncmp(uri, "otpauth://totp/", 15) == 0);
	CHECK(strstr(uri, "tom%40example.test") != NULL);
	size_t kl = uri_key(uri, key, sizeof key);
	CHECK_EQ_INT((int)kl, TOTP_SECRET_BYTES);
	CHECK_EQ_INT(store_totp_get(st, acc, &t), STORE_OK);
	CHECK_EQ_INT(t.on, 0);
	CHECK(strncmp(t.secret, "sb1:", 4) == 0);
	CHECK_EQ_INT(twofactor_enabled(st, acc), 0);

	/* A wrong first code: still off; the right one: on, with codes. */
	code_at(key, kl, now, code);
	char wrong[16];
	snprintf(wrong, sizeof wrong, "%06d", (atoi(code) + 1) % 1000000);
	CHECK_EQ_INT(twofactor_confirm(st, base, acc, wrong, now, codes), 0);
	CHECK_EQ_INT(twofactor_confirm(st, base, acc, "12345", now, codes), 0);
	CHECK_EQ_INT(twofactor_enabled(st, acc), 0);
	CHECK_EQ_INT(twofactor_confirm(st, base, acc, code, now, codes), 1);
	CHECK_EQ_INT(twofactor_enabled(st, acc), 1);
	CHECK_EQ_INT((int)strlen(codes[0]), TWOFACTOR_RECOVERY_LEN);
	CHECK(strcmp(codes[0], codes[1]) != 0);
	CHECK_EQ_INT(twofactor_begin(st, base, acc, "tern", u, uri, sizeof uri), STORE_EEXIST);
	CHECK_EQ_INT(twofactor_confirm(st, base, acc, code, now, codes), STORE_EEXIST);

	/* The confirming code was spent; the next step's is taken once; a
	 * code from the step before the last accepted one is refused. */
	CHECK_EQ_INT(twofactor_verify(st, base, acc, code, now), 0);
	code_at(key, kl, now + 30, code);
	CHECK_EQ_INT(twofactor_verify(st, base, acc, code, now + 30), 1);
	CHECK_EQ_INT(twofactor_verify(st, base, acc, code, now + 30), 0);
	code_at(key, kl, now + 60, code);
	char spaced[16];
	snprintf(spaced, sizeof spaced, "%.3s %.3s", code, code + 3);
	CHECK_EQ_INT(twofactor_verify(st, base, acc, spaced, now + 60), 1);
	CHECK_EQ_INT(twofactor_verify(st, base, acc, "", now + 60), 0);
	CHECK_EQ_INT(twofactor_verify(st, base, acc, "1234567", now + 60), 0);

	/* Recovery codes: any case, dash optional, once each. */
	char upper[16];
	snprintf(upper, sizeof upper, "%s", codes[3]);
	for (char *p = upper; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 32);
	CHECK_EQ_INT(twofactor_verify(st, base, acc, upper, now + 60), 1);
	CHECK_EQ_INT(twofactor_verify(st, base, acc, codes[3], now + 60), 0);
	char nodash[80];
	snprintf(nodash, sizeof nodash, "%.5s%s", codes[4], codes[4] + 6);
	CHECK_EQ_INT(twofactor_verify(st, base, acc, nodash, now + 60), 1);
	CHECK_EQ_INT(twofactor_verify(st, base, acc, "aaaaa-aaaaa", now + 60), 0);

	/* Mail logins: app passwords only; the password session's stamp
	 * changed (it ends), the app password's did not. */
	CHECK_EQ_INT(store_account_login(st, u, "pw", NULL, NULL, NULL), 0);
	CHECK_EQ_INT(store_account_login(st, u, sec, NULL, NULL, NULL), 1);
	CHECK_EQ_INT(store_account_check_password(st, u, "pw"), 1); /* the portal's first factor */
	uint32_t ids[2] = {acc, acc}, aps[2] = {0, ap};
	CHECK_EQ_INT(store_account_creds(st, ids, aps, now2, 2), STORE_OK);
	CHECK(now2[0] != cred_pw && now2[1] == cred_ap);

	/* Off needs a good code; then the password signs in to mail again. */
	CHECK_EQ_INT(twofactor_disable(st, base, acc, "000000", now + 90), 0);
	CHECK_EQ_INT(twofactor_enabled(st, acc), 1);
	code_at(key, kl, now + 90, code);
	CHECK_EQ_INT(twofactor_disable(st, base, acc, code, now + 90), 1);
	CHECK_EQ_INT(twofactor_enabled(st, acc), 0);
	CHECK_EQ_INT(store_account_login(st, u, "pw", NULL, NULL, NULL), 1);

	/* The admin's record, and reset; deleting an account drops its record. */
	CHECK_EQ_INT(twofactor_begin(st, base, STORE_TOTP_ADMIN, "tern", "admin", uri, sizeof uri),
		     STORE_OK);
	kl = uri_key(uri, key, sizeof key);
	code_at(key, kl, now, code);
	CHECK_EQ_INT(twofactor_confirm(st, base, STORE_TOTP_ADMIN, code, now, codes), 1);
	CHECK_EQ_INT(twofactor_enabled(st, STORE_TOTP_ADMIN), 1);
	CHECK_EQ_INT(twofactor_enabled(st, acc), 0);
	/* secrets.key lost (a store restored elsewhere): codes cannot be
	 * checked, the recovery codes still sign in. */
	char keyfile[400];
	snprintf(keyfile, sizeof keyfile, "%s/secrets.key", base);
	CHECK_EQ_INT(unlink(keyfile), 0);
	admin_secret_forget(); /* the kept key too: a restart */
	code_at(key, kl, now + 30, code);
	CHECK_EQ_INT(twofactor_verify(st, base, STORE_TOTP_ADMIN, code, now + 30), 0);
	CHECK_EQ_INT(twofactor_verify(st, base, STORE_TOTP_ADMIN, codes[9], now + 30), 1);
	CHECK_EQ_INT(twofactor_reset(st, STORE_TOTP_ADMIN), STORE_OK);
	CHECK_EQ_INT(twofactor_reset(st, STORE_TOTP_ADMIN), STORE_ENOTFOUND);
	CHECK_EQ_INT(twofactor_begin(st, base, acc, "tern", u, uri, sizeof uri), STORE_OK);
	CHECK_EQ_INT(store_account_del(st, u, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_totp_get(st, acc, &t), STORE_ENOTFOUND);

	/* Shapes of recovery codes. */
	uint8_t h[STORE_TOTP_HASH], h2[STORE_TOTP_HASH];
	CHECK_EQ_INT(twofactor_recovery_hash("abcde-fghjk", h), 0);
	CHECK_EQ_INT(twofactor_recovery_hash("ABCDEFGHJK", h2), 0);
	CHECK(memcmp(h, h2, sizeof h) == 0);
	CHECK_EQ_INT(twofactor_recovery_hash("abcde-fghj", h), -1);
	CHECK_EQ_INT(twofactor_recovery_hash("abcde-fghjkm", h), -1);
	CHECK_EQ_INT(twofactor_recovery_hash("abcde-fghj0", h), -1);

	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_twofactor");
}
