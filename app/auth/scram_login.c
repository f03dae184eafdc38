/*
 * scram_login.c — SCRAM's keys sealed in the store, the fake salts of
 * unknown users, and the proof check of the login flow (see
 * scram_login.h).
 */
#include "auth/scram_login.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_secret.h"
#include "auth/login.h"
#include "core/base64.h"
#include "core/saslprep.h"
#include "core/xalloc.h"

_Static_assert(STORE_SCRAM_SEALED_MAX >= ADMIN_SECRET_SEALED_MAX, "a sealed text fits");
_Static_assert(SCRAM_STORED_MAX <= ADMIN_SECRET_VALUE_MAX, "the stored form can be sealed");

int scram_login_seal(const char *dir, const char *password,
		     char sealed[2][STORE_SCRAM_SEALED_MAX])
{
	char text[SCRAM_STORED_MAX], *prepared = xmalloc(SASLPREP_OUT_MAX);
	struct scram_keys k;
	size_t plen;
	/* RFC 5802 §2.2: the keys are of Normalize(password), as every client
	 * derives them; a password SASLprep refuses gets none. */
	int rc = saslprep(password, strlen(password), prepared, SASLPREP_OUT_MAX, &plen);

	memset(&k, 0, sizeof k);
	for (int h = 0; h < SCRAM_HASHES && rc == 0; h++) {
		scram_keys_new((enum scram_hash)h, prepared, plen, &k);
		if (scram_keys_format(&k, text, sizeof text) < 0 ||
		    admin_secret_seal(dir, text, sealed[h], STORE_SCRAM_SEALED_MAX) < 0)
			rc = -1;
	}
	sodium_memzero(&k, sizeof k);
	sodium_memzero(text, sizeof text);
	sodium_memzero(prepared, SASLPREP_OUT_MAX);
	free(prepared);
	if (rc)
		sealed[0][0] = sealed[1][0] = '\0';
	return rc;
}

int scram_login_opens(const char *dir, const char *sealed)
{
	char text[SCRAM_STORED_MAX + 1];
	struct scram_keys k;
	int ok = sealed[0] && admin_secret_open(dir, sealed, text, sizeof text) == 0 &&
		 scram_keys_parse(text, &k) == 0;

	sodium_memzero(text, sizeof text);
	sodium_memzero(&k, sizeof k);
	return ok;
}

/* The account's keys for hash h: 0, or -1 when it has none usable. */
static int real_keys(struct store *st, const struct store_scram *r, enum scram_hash h,
		     struct scram_keys *k)
{
	char text[SCRAM_STORED_MAX + 1];
	int rc = -1;

	if (r->sealed[0] &&
	    admin_secret_open(store_data_dir(st), r->sealed, text, sizeof text) == 0 &&
	    scram_keys_parse(text, k) == 0 && k->hash == h)
		rc = 0;
	sodium_memzero(text, sizeof text);
	return rc;
}

/* A salt no one without secrets.key can tell from a real one, the same for
 * the same name (lowercased by the caller, as login.c checks it) and hash
 * every time; keys that match no proof. */
static void fake_keys(struct store *st, const char *user, enum scram_hash h,
		      struct scram_keys *k)
{
	uint8_t key[ADMIN_SECRET_KEY_BYTES], tag = (uint8_t)h;
	crypto_generichash_state g;

	memset(k, 0, sizeof *k);
	k->hash = h;
	k->iter = SCRAM_ITERATIONS;
	k->salt_len = SCRAM_SALT_LEN;
	if (admin_secret_derive(store_data_dir(st), 1, "tern-scr", key) < 0)
		randombytes_buf(key, sizeof key); /* no key file: nothing stable to hide */
	crypto_generichash_init(&g, key, sizeof key, SCRAM_SALT_LEN);
	crypto_generichash_update(&g, &tag, 1);
	crypto_generichash_update(&g, (const uint8_t *)user, strlen(user));
	crypto_generichash_final(&g, k->salt, SCRAM_SALT_LEN);
	randombytes_buf(k->stored_key, sizeof k->stored_key);
	randombytes_buf(k->server_key, sizeof k->server_key);
	sodium_memzero(key, sizeof key);
}

/* The keys that answer s's client-first message, into s: the account's,
 * unsealed now, the one unsealing in the exchange (the check takes them
 * from s); else fake ones, with cred 0. */
static void exchange_keys(struct store *st, struct scram_server *s)
{
	struct store_scram r;
	char name[LOGIN_USER_MAX + 1];

	/* The account the login flow will check. */
	login_user_name(st, str_c(s->user), name);
	s->account = 0;
	s->cred = 0;
	if (store_account_scram(st, name, (int)s->hash, &r) == STORE_OK &&
	    real_keys(st, &r, s->hash, &s->keys) == 0) {
		s->account = r.id;
		s->cred = r.cred;
	} else {
		fake_keys(st, name, s->hash, &s->keys);
	}
	sodium_memzero(&r, sizeof r);
	sodium_memzero(name, sizeof name);
}

int scram_login_challenge(struct store *st, struct scram_server *s, char *b64, size_t b64sz)
{
	char msg[SCRAM_MSG_MAX];

	if (s->step != 0)
		return -1;
	exchange_keys(st, s);
	int rc = scram_server_first(s, &s->keys, msg, sizeof msg);
	if (rc == 0)
		rc = base64_encode(msg, strlen(msg), 0, b64, b64sz);
	sodium_memzero(msg, sizeof msg);
	return rc;
}

int scram_login_check(struct store *st, struct scram_server *s, struct str msg, char *sfinal,
		      size_t sfinalsz, uint32_t *id_r, uint64_t *cred_r)
{
	struct store_scram r;
	struct scram_keys k = s->keys;
	int rc = store_account_scram(st, s->user, (int)s->hash, &r);

	sodium_memzero(&s->keys, sizeof s->keys);
	if (rc == STORE_ETEMP) {
		sodium_memzero(&k, sizeof k);
		return STORE_ETEMP;
	}
	/* The proof is checked against the keys the challenge was made with,
	 * fake ones too, so the time taken does not tell; it counts only
	 * while the record is the one they came from: a password changed in
	 * between changes the stamp (it covers the hash), and fails like a
	 * wrong proof. */
	int real = rc == STORE_OK && s->cred != 0 && r.id == s->account && r.cred == s->cred;
	int ok = scram_client_final(s, &k, msg, sfinal, sfinalsz) == 1 && real;
	sodium_memzero(&k, sizeof k);
	/* SCRAM cannot carry a second factor: refused like a wrong proof. */
	if (ok && r.totp)
		ok = 0;
	if (ok && !r.active)
		rc = STORE_LOGIN_NOLOGIN;
	else if (ok)
		rc = 1;
	else
		rc = 0;
	if (rc == 1) {
		*id_r = r.id;
		*cred_r = r.cred;
	}
	if (rc != 1)
		sodium_memzero(sfinal, sfinalsz);
	sodium_memzero(&r, sizeof r);
	return rc;
}
