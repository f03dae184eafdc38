/*
 * api_encryption.c — an account's encryption at rest through the REST API
 * (GET/PUT/DELETE /api/v1/accounts/{email}/encryption, and the portal's
 * /api/v1/me/encryption through api_me.c): the public key mail to the
 * account is sealed to before it is stored (crypt/crypt_rest.h). PUT
 * takes {"method": "openpgp"|"smime", "cipher": "aes128"|"aes256"
 * (default), "key": the armored OpenPGP key or the PEM certificate,
 * "encrypt_on_append": also what the user stores (default false)}; the
 * key is read here, so a key that cannot encrypt is refused with the
 * reason (400) and nothing changes; a PUT of a key from a session also
 * takes "password": the account's current password in the portal, the
 * admin password on the admin route. GET answers what the key
 * is (its fingerprint or certificate's address and expiry), never the
 * key text.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "crypt/crypt_rest.h"
#include "http/http_internal.h"
#include "http/json.h"
#include "store/store.h"

static const char *curve_name(int curve)
{
	switch (curve) {
	case 29: return "cv25519";
	case 23: return "nistp256";
	case 24: return "nistp384";
	default: return "nistp521";
	}
}

static void write_state(struct http_ctx *x, const struct store_encrypt *e)
{
	struct crypt_key k;
	char err[256];
	struct jw w;

	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kstr(&w, "method", crypt_method_name((enum crypt_method)e->method));
	if (e->method == CRYPT_NONE) {
		jw_obj_end(&w);
		return;
	}
	jw_kstr(&w, "cipher", e->aes_bits == 128 ? "aes128" : "aes256");
	jw_kbool(&w, "encrypt_on_append", e->on_append);
	jw_kint(&w, "set_at", e->set_at);
	/* Read again, as a delivery would: a key that has expired since
	 * says so here. */
	int ok = crypt_key_load(&k, (enum crypt_method)e->method, e->aes_bits, e->key, e->keylen, err,
				sizeof err) == 0;
	jw_kbool(&w, "usable", ok);
	if (!ok) {
		jw_kstr(&w, "problem", err);
	} else if (k.method == CRYPT_PGP) {
		char fpr[41], alg[32];
		pgp_fpr_hex(k.pgp.fpr, fpr);
		jw_kstr(&w, "fingerprint", fpr);
		pgp_fpr_hex(k.pgp.primary_fpr, fpr);
		jw_kstr(&w, "primary_fingerprint", fpr);
		if (k.pgp.algo == PGP_PK_ECDH)
			snprintf(alg, sizeof alg, "%s", curve_name(k.pgp.curve));
		else
			snprintf(alg, sizeof alg, "rsa%u", k.pgp.bits);
		jw_kstr(&w, "algorithm", alg);
		jw_kstr(&w, "user_id", k.pgp.uid);
		jw_key(&w, "expires");
		if (k.pgp.expires)
			jw_int(&w, k.pgp.expires);
		else
			jw_null(&w);
	} else {
		char alg[32];
		snprintf(alg, sizeof alg, "rsa%u", k.cert.bits);
		jw_kstr(&w, "algorithm", alg);
		jw_kstr(&w, "email", k.cert.email);
		jw_kint(&w, "expires", k.cert.not_after);
	}
	crypt_key_free(&k);
	jw_obj_end(&w);
}

void api_encryption_get(struct http_ctx *x)
{
	struct store_encrypt e;
	uint32_t id;
	if (http_account_param(x, &id) < 0)
		return;
	if (store_account_encrypt_get(http_store, id, &e) != STORE_OK) {
		http_store_problem(x, STORE_ETEMP, "store error, see the log");
		return;
	}
	write_state(x, &e);
	store_encrypt_free(&e);
}

static void set(struct http_ctx *x, uint32_t id, const struct store_encrypt *e)
{
	int rc = store_account_encrypt_set(http_store, id, e);
	if (rc != STORE_OK) {
		http_store_problem(x, rc, "store error, see the log");
		return;
	}
	log_info("http", NULL, "event=encryption_set account_id=%u method=%s ip=%s", id,
		 crypt_method_name((enum crypt_method)e->method), x->ip);
	struct store_encrypt now;
	if (store_account_encrypt_get(http_store, id, &now) != STORE_OK) {
		http_store_problem(x, STORE_ETEMP, "store error, see the log");
		return;
	}
	write_state(x, &now);
	store_encrypt_free(&now);
}

void api_encryption_put(struct http_ctx *x)
{
	static const struct json_field fields[] = {
		{ "method", JK_STRING, 1 },
		{ "cipher", JK_STRING, 0 },
		{ "key", JK_STRING, 0 },
		{ "encrypt_on_append", JK_BOOL, 0 },
		{ "password", JK_STRING, 0 },
	};
	uint32_t id;
	char err[256];

	if (http_body_check(x, fields, 5) < 0 || http_account_param(x, &id) < 0)
		return;
	const struct json_value *m = json_get(x->json, "method");
	const struct json_value *c = json_get(x->json, "cipher");
	const struct json_value *kv = json_get(x->json, "key");
	const struct json_value *ap = json_get(x->json, "encrypt_on_append");
	struct store_encrypt e = { .aes_bits = 256, .set_at = (int64_t)time(NULL) };
	if (strcmp(m->str, "none") == 0) {
		set(x, id, &e);
		return;
	}
	e.method = crypt_method_parse(m->str);
	if (e.method == CRYPT_NONE) {
		http_problem(x, 400, "invalid_field", "method",
			     "field 'method' must be \"openpgp\", \"smime\" or \"none\"");
		return;
	}
	if (c && strcmp(c->str, "aes128") == 0) {
		e.aes_bits = 128;
	} else if (c && strcmp(c->str, "aes256") != 0) {
		http_problem(x, 400, "invalid_field", "cipher",
			     "field 'cipher' must be \"aes128\" or \"aes256\"");
		return;
	}
	if (!kv || kv->len == 0) {
		http_problem(x, 400, "invalid_field", "key",
			     "field 'key' must hold the public key (an armored OpenPGP key or a "
			     "PEM certificate)");
		return;
	}
	struct crypt_key k;
	int ok = crypt_key_load(&k, (enum crypt_method)e.method, e.aes_bits, kv->str, kv->len, err,
				sizeof err) == 0 &&
		 crypt_key_check(&k, err, sizeof err) == 0;
	crypt_key_free(&k);
	if (!ok) {
		http_problem(x, 400, "invalid_field", "key", "%s", err);
		return;
	}
	/* A key seals every new message to whoever holds its secret half:
	 * one the owner does not hold leaves them mail they cannot read, and
	 * whoever set it can read what a backup or a copy of the store
	 * holds. A session alone (perhaps a stolen cookie, the portal's or
	 * the admin's) must not set or change it: the account's password in
	 * the portal, the admin password on the admin route (a bearer token
	 * is not asked). Turning it off needs nothing. */
	if (http_current_password_check(x) < 0)
		return;
	e.key = (char *)kv->str;
	e.keylen = kv->len;
	e.on_append = ap && ap->boolean;
	set(x, id, &e);
}

void api_encryption_del(struct http_ctx *x)
{
	uint32_t id;
	struct store_encrypt e = { 0 };
	if (http_account_param(x, &id) < 0)
		return;
	int rc = store_account_encrypt_set(http_store, id, &e);
	if (rc != STORE_OK) {
		http_store_problem(x, rc, "store error, see the log");
		return;
	}
	log_info("http", NULL, "event=encryption_set account_id=%u method=none ip=%s", id, x->ip);
	http_no_content(x);
}
