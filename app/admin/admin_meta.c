/*
 * admin_meta.c — setup code, admin password, settings and API tokens in
 * meta. See admin_meta.h.
 */
#include "admin/admin_meta.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "admin/admin_secret.h"
#include "auth/password.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/utf8.h"
#include "store/store.h"

/* No 0/O, 1/I/L: the code is read off a log and typed. */
static const char code_alphabet[] = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"; /* 31 */

static void randbytes(void *p, size_t n)
{
	/* randombytes_buf never fails (libsodium aborts when it cannot). */
	randombytes_buf(p, n);
}

int admin_setup_code_get(struct store *st, char *code, size_t codesz)
{
	size_t len;
	if (codesz < ADMIN_SETUP_CODE_LEN + 1)
		return STORE_EINVAL;
	int rc = store_meta_get(st, "setup/code", code, codesz - 1, &len);
	if (rc == STORE_OK)
		code[len] = '\0';
	return rc;
}

int admin_setup_code_ensure(struct store *st, char *code, size_t codesz)
{
	char c[ADMIN_SETUP_CODE_LEN + 1];
	uint8_t r[12];

	int rc = admin_setup_code_get(st, code, codesz);
	if (rc != STORE_ENOTFOUND)
		return rc;
	if (sodium_init() < 0)
		return STORE_ETEMP;
	randbytes(r, sizeof(r));
	for (int i = 0, o = 0; i < 12; i++) {
		if (i && i % 4 == 0)
			c[o++] = '-';
		/* 31 symbols from a byte: a slight bias is fine for a
		 * one-time code that is also rate limited. */
		c[o++] = code_alphabet[r[i] % (sizeof(code_alphabet) - 1)];
	}
	c[ADMIN_SETUP_CODE_LEN] = '\0';
	rc = store_meta_put(st, "setup/code", c, ADMIN_SETUP_CODE_LEN, 1);
	if (rc != STORE_OK && rc != STORE_EEXIST)
		return rc;
	/* Another process may have stored one first: that one counts. */
	return admin_setup_code_get(st, code, codesz);
}

int admin_setup_code_check(struct store *st, const char *given)
{
	char code[ADMIN_SETUP_CODE_LEN + 1], norm[ADMIN_SETUP_CODE_LEN + 1];
	size_t o = 0;

	if (admin_setup_code_get(st, code, sizeof(code)) != STORE_OK)
		return 0;
	memset(norm, 0, sizeof(norm));
	for (const char *p = given; *p; p++) {
		char ch = *p;
		if (ch == '-' || ch == ' ')
			continue;
		/* More than the code (it was read up to its length and the
		 * rest ignored: "ABCD-EFGH-JKLM-anything" passed). */
		if (o == ADMIN_SETUP_CODE_LEN)
			return 0;
		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		if (o == 4 || o == 9)
			norm[o++] = '-';
		norm[o++] = ch;
	}
	return o == ADMIN_SETUP_CODE_LEN && sodium_memcmp(norm, code, ADMIN_SETUP_CODE_LEN) == 0;
}

void admin_setup_code_clear(struct store *st)
{
	store_meta_del(st, "setup/code");
}

int admin_exists(struct store *st)
{
	char hash[PASSWORD_HASH_MAX];
	size_t len;
	const char *env = getenv("TERN_ADMIN_PASSWORD");

	if (env && *env)
		return 1;
	return store_meta_get(st, "admin/password", hash, sizeof(hash), &len) == STORE_OK;
}

/* The stamp's source (admin_password_stamp): the hash a password was set
 * with, kept when a sign-in re-hashes it. */
#define STAMP_SRC "admin/password-stamp"

int admin_password_set(struct store *st, const char *password, int excl)
{
	char hash[PASSWORD_HASH_MAX];

	if (password_hash(password, hash, sizeof(hash)) != 0)
		return STORE_ETEMP;
	/* The hash and the stamp's source in one transaction: a change of
	 * password moves the stamp, and no session sees one without the other. */
	struct store_meta_item both[2] = {{"admin/password", hash, strlen(hash)},
					  {STAMP_SRC, hash, strlen(hash)}};
	int rc = excl ? store_meta_put(st, "admin/password", hash, strlen(hash), 1)
		      : store_meta_put_all(st, both, 2);
	/* The first password (no session rests on a stamp yet): its source
	 * written after it, over anything an older store left. */
	if (rc == STORE_OK && excl)
		rc = store_meta_put(st, STAMP_SRC, hash, strlen(hash), 0);
	sodium_memzero(hash, sizeof(hash));
	if (rc == STORE_OK)
		admin_setup_code_clear(st);
	return rc;
}

/*
 * After a sign-in whose password matched hash and asked for it
 * (password_check: a hash of the text as typed before SASLprep, or of
 * weaker parameters): a hash of it made now, written over hash unless the
 * password changed meanwhile (compare-and-swap). The stamp's source stays
 * the hash the password was set with, so the admin's web sessions stand.
 * A failure costs only the re-hash: the old hash still matches.
 */
static void admin_rehash(struct store *st, const char *hash, const char *password)
{
	char fresh[PASSWORD_HASH_MAX], src[PASSWORD_HASH_MAX];
	size_t len = 0;

	if (password_hash(password, fresh, sizeof fresh) != 0)
		return;
	int rc = store_meta_get(st, STAMP_SRC, src, sizeof src - 1, &len);
	if (rc == STORE_ENOTFOUND) { /* stored before the stamp had a source */
		len = strlen(hash);
		memcpy(src, hash, len);
	} else if (rc != STORE_OK) {
		len = 0;
	}
	struct store_meta_item both[2] = {{"admin/password", fresh, strlen(fresh)},
					  {STAMP_SRC, src, len}};
	/* Read outside the swap, the source is still the one beside hash when
	 * hash is: every change writes both. */
	if (len)
		store_meta_put_if(st, "admin/password", hash, strlen(hash), both, 2);
	sodium_memzero(fresh, sizeof fresh);
	sodium_memzero(src, sizeof src);
}

int admin_password_check(struct store *st, const char *env_hash, const char *password)
{
	char hash[PASSWORD_HASH_MAX];
	size_t len;
	int rehash = 0;

	/* TERN_ADMIN_PASSWORD's hash is made at each start: nothing to keep. */
	if (env_hash && *env_hash)
		return password_verify(env_hash, password);
	if (store_meta_get(st, "admin/password", hash, sizeof(hash) - 1, &len) != STORE_OK)
		return password_verify_dummy(password);
	hash[len] = '\0';
	int ok = password_check(hash, password, &rehash);
	/* Upgraded as accounts are at login (store_admin.c login_rehash). */
	if (ok == 1 && rehash)
		admin_rehash(st, hash, password);
	sodium_memzero(hash, sizeof hash);
	return ok;
}

uint64_t admin_password_stamp(struct store *st)
{
	char hash[PASSWORD_HASH_MAX];
	uint8_t d[8];
	size_t len;
	int rc = store_meta_get(st, "admin/password", hash, sizeof(hash), &len);

	if (rc == STORE_ENOTFOUND)
		return 0;
	if (rc == STORE_OK)
		rc = store_meta_get(st, STAMP_SRC, hash, sizeof(hash), &len);
	/* A hash stored before the stamp had a source is its own. */
	if (rc == STORE_ENOTFOUND)
		rc = store_meta_get(st, "admin/password", hash, sizeof(hash), &len);
	if (rc != STORE_OK)
		return 1;
	crypto_generichash(d, sizeof d, (const uint8_t *)hash, len, NULL, 0);
	uint64_t v = 0;
	for (size_t i = 0; i < sizeof d; i++)
		v = v << 8 | d[i];
	/* 0 and 1 mean something else: keep the stamp off them. */
	return v < 2 ? v + 2 : v;
}

int admin_setup_completed(struct store *st)
{
	char v[4];
	size_t len;
	return store_meta_get(st, "setup/completed", v, sizeof(v), &len) == STORE_OK;
}

int admin_setup_complete(struct store *st)
{
	return store_meta_put(st, "setup/completed", "1", 1, 0);
}

/* ---- settings ---- */

/* secret: stored sealed with the data directory's key (admin_secret.h). */
static const struct {
	const char *var, *key;
	int secret;
} settings[SETTING_COUNT] = {
	[SETTING_HOSTNAME] = { "TERN_HOSTNAME", "setting/hostname", 0 },
	[SETTING_DOMAIN] = { "TERN_DOMAIN", "setting/domain", 0 },
	[SETTING_RELAY_HOST] = { "TERN_RELAY_HOST", "setting/relay_host", 0 },
	[SETTING_RELAY_USER] = { "TERN_RELAY_USER", "setting/relay_user", 0 },
	[SETTING_RELAY_PASSWORD] = { "TERN_RELAY_PASSWORD", "setting/relay_password", 1 },
	[SETTING_DMARC_REPORT_FROM] = { "TERN_DMARC_REPORT_FROM", "setting/dmarc_report_from", 0 },
	[SETTING_ACME_EMAIL] = { "TERN_ACME_EMAIL", "setting/acme_email", 0 },
	[SETTING_BACKUP_DIR] = { "TERN_BACKUP_DIR", "setting/backup_dir", 0 },
	[SETTING_BACKUP_TIME] = { "TERN_BACKUP_TIME", "setting/backup_time", 0 },
	[SETTING_BACKUP_KEEP] = { "TERN_BACKUP_KEEP", "setting/backup_keep", 0 },
	[SETTING_MTA_STS_MODE] = { "TERN_MTA_STS_MODE", "setting/mta_sts_mode", 0 },
};

const char *admin_setting_var(enum admin_setting s)
{
	return settings[s].var;
}

enum mta_sts_mode admin_mta_sts_mode(struct store *st)
{
	char v[16] = "";
	const char *e = getenv("TERN_MTA_STS_MODE");
	if (e)
		snprintf(v, sizeof v, "%s", e);
	else if (st && admin_setting_get(st, SETTING_MTA_STS_MODE, v, sizeof v) != STORE_OK)
		v[0] = '\0';
	return strcmp(v, "enforce") == 0 ? MTA_STS_ENFORCE : MTA_STS_TESTING;
}

int admin_setting_locked(enum admin_setting s)
{
	/* Relay user and password go with the host: a relay given by the
	 * environment is all the environment's. */
	if (s == SETTING_RELAY_USER || s == SETTING_RELAY_PASSWORD)
		return admin_setting_locked(SETTING_RELAY_HOST) || getenv(settings[s].var) != NULL;
	return getenv(settings[s].var) != NULL;
}

/* The stored text as it is (sealed or not). */
static int setting_raw(struct store *st, enum admin_setting s, char *out, size_t outsz)
{
	size_t len;
	int rc = store_meta_get(st, settings[s].key, out, outsz - 1, &len);
	if (rc == STORE_ENOTFOUND) {
		out[0] = '\0';
		return STORE_OK;
	}
	if (rc == STORE_OK)
		out[len] = '\0';
	else
		out[0] = '\0';
	return rc;
}

int admin_setting_get(struct store *st, enum admin_setting s, char *out, size_t outsz)
{
	char sealed[ADMIN_SECRET_SEALED_MAX];

	if (!settings[s].secret || outsz == 0)
		return setting_raw(st, s, out, outsz);
	int rc = setting_raw(st, s, sealed, sizeof sealed);
	out[0] = '\0';
	if (rc != STORE_OK || !sealed[0])
		return rc;
	if (!admin_secret_is_sealed(sealed)) {
		/* Clear text from an older build, until admin_settings_seal(). */
		if (strlen(sealed) < outsz)
			memcpy(out, sealed, strlen(sealed) + 1);
	} else if (admin_secret_open(store_data_dir(st), sealed, out, outsz) != 0) {
		log_warn("admin", NULL,
			 "event=secret_unreadable setting=%s hint=\"%s/secrets.key is missing or not "
			 "the key it was sealed with: enter the value again\"",
			 settings[s].key, store_data_dir(st));
	}
	sodium_memzero(sealed, sizeof sealed);
	return STORE_OK;
}

int admin_setting_item(struct store *st, enum admin_setting s, const char *value, char *buf,
		       size_t bufsz, struct store_meta_item *it)
{
	*it = (struct store_meta_item){settings[s].key, NULL, 0};
	if (!*value)
		return STORE_OK;
	if (!settings[s].secret) {
		it->val = value;
		it->len = strlen(value);
		return STORE_OK;
	}
	if (admin_secret_seal(store_data_dir(st), value, buf, bufsz) != 0) {
		log_error("admin", NULL, "event=secret_seal_failed setting=%s dir=%s",
			  settings[s].key, store_data_dir(st));
		return STORE_ETEMP;
	}
	it->val = buf;
	it->len = strlen(buf);
	return STORE_OK;
}

int admin_setting_set(struct store *st, enum admin_setting s, const char *value)
{
	char sealed[ADMIN_SECRET_SEALED_MAX];
	struct store_meta_item it;

	int rc = admin_setting_item(st, s, value, sealed, sizeof sealed, &it);
	return rc == STORE_OK ? store_meta_put_all(st, &it, 1) : rc;
}

int admin_settings_seal(struct store *st)
{
	char v[ADMIN_SECRET_SEALED_MAX];
	int rc = STORE_OK;

	for (int s = 0; s < SETTING_COUNT && rc == STORE_OK; s++) {
		if (!settings[s].secret || setting_raw(st, s, v, sizeof v) != STORE_OK || !v[0] ||
		    admin_secret_is_sealed(v))
			continue;
		if ((rc = admin_setting_set(st, s, v)) == STORE_OK)
			log_info("admin", NULL, "event=secret_sealed setting=%s", settings[s].key);
	}
	sodium_memzero(v, sizeof v);
	return rc;
}

static void merge_one(struct store *st, enum admin_setting s, char *dst, size_t dstsz)
{
	char v[512];
	if (admin_setting_locked(s))
		return;
	if (admin_setting_get(st, s, v, sizeof(v)) == STORE_OK && v[0] && strlen(v) < dstsz)
		memcpy(dst, v, strlen(v) + 1);
}

void admin_settings_merge(struct config *cfg, struct store *st)
{
	merge_one(st, SETTING_HOSTNAME, cfg->hostname, sizeof(cfg->hostname));
	merge_one(st, SETTING_DOMAIN, cfg->domain, sizeof(cfg->domain));
	char before[sizeof cfg->relay_host];
	memcpy(before, cfg->relay_host, sizeof before);
	merge_one(st, SETTING_RELAY_HOST, cfg->relay_host, sizeof(cfg->relay_host));
	/* An older build saved relay hosts it did not check (a port of 99999). */
	if (cfg->relay_host[0] && !config_relay_host_valid(cfg->relay_host)) {
		log_warn("admin", NULL, "event=setting_ignored setting=relay_host value=\"%s\" "
			 "hint=\"not host[:port]; set the relay again in Settings\"", cfg->relay_host);
		memcpy(cfg->relay_host, before, sizeof before);
	}
	merge_one(st, SETTING_RELAY_USER, cfg->relay_user, sizeof(cfg->relay_user));
	merge_one(st, SETTING_RELAY_PASSWORD, cfg->relay_password, sizeof(cfg->relay_password));
	merge_one(st, SETTING_ACME_EMAIL, cfg->acme_email, sizeof(cfg->acme_email));
	/* The backup schedule the web admin stored; a value that no longer
	 * passes the checks is left out, as the relay's is. */
	char v[64], dir[sizeof cfg->backup_dir] = "";
	merge_one(st, SETTING_BACKUP_DIR, dir, sizeof dir);
	if (dir[0] && config_backup_dir_valid(dir))
		memcpy(cfg->backup_dir, dir, sizeof dir);
	v[0] = '\0';
	merge_one(st, SETTING_BACKUP_TIME, v, sizeof v);
	if (v[0])
		config_backup_time_parse(v, &cfg->backup_minute);
	v[0] = '\0';
	merge_one(st, SETTING_BACKUP_KEEP, v, sizeof v);
	unsigned long keep = v[0] ? strtoul(v, NULL, 10) : 0;
	if (keep >= 1 && keep <= CONFIG_BACKUP_KEEP_MAX)
		cfg->backup_keep = (unsigned)keep;
}

/* ---- tokens ---- */

#define TOKEN_SECRET_BYTES 32

/* Lowercase only, as hex_encode writes them: the id is looked up and
 * the secret hashed as text, so "AB" is not another spelling of "ab". */
static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hex_digit_lower(s[i]) < 0)
			return 0;
	return 1;
}

static void secret_hash(const char *secret_hex, uint8_t out[32])
{
	crypto_generichash(out, 32, (const unsigned char *)secret_hex, 2 * TOKEN_SECRET_BYTES, NULL,
			   0);
}

#define TOKEN_REC_NEW 0x01 /* marks the record with scope and expiry */
#define TOKEN_REC_MAX (8 + 32 + 10 + ADMIN_TOKEN_NAME_BYTES)

const char *admin_token_scope_name(enum admin_token_scope sc)
{
	return sc == ADMIN_TOKEN_READ ? "read" : "admin";
}

int admin_token_scope_parse(const char *name, enum admin_token_scope *s_r)
{
	if (strcmp(name, "admin") == 0)
		*s_r = ADMIN_TOKEN_ADMIN;
	else if (strcmp(name, "read") == 0)
		*s_r = ADMIN_TOKEN_READ;
	else
		return -1;
	return 0;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Decodes a token record (either layout). 0, or -1 when malformed. */
static int token_decode(const uint8_t *p, size_t len, struct admin_token_info *t, char *name,
			uint8_t hash_r[32])
{
	size_t off = 40;

	if (len < 41 || len > TOKEN_REC_MAX)
		return -1;
	t->created = (int64_t)get_u64(p);
	if (hash_r)
		memcpy(hash_r, p + 8, 32);
	t->scope = ADMIN_TOKEN_ADMIN;
	t->expires = 0;
	if (p[40] == TOKEN_REC_NEW) {
		if (len < 51 || p[41] > ADMIN_TOKEN_READ)
			return -1;
		t->scope = (enum admin_token_scope)p[41];
		t->expires = (int64_t)get_u64(p + 42);
		off = 50;
	}
	if (len - off > ADMIN_TOKEN_NAME_BYTES)
		return -1;
	memcpy(name, p + off, len - off);
	name[len - off] = '\0';
	t->name = name;
	return 0;
}

int admin_token_add(struct store *st, const char *name, enum admin_token_scope scope,
		    int64_t expires, char *token, char *id)
{
	uint8_t idb[4], sec[TOKEN_SECRET_BYTES], rec[TOKEN_REC_MAX];
	char sechex[2 * TOKEN_SECRET_BYTES + 1], key[16];
	size_t nlen = strlen(name);
	int64_t now = (int64_t)time(NULL);

	/* 1 to 64 characters (UTF-8: up to 4 octets each), no controls. */
	if (nlen == 0 || nlen > ADMIN_TOKEN_NAME_BYTES || !utf8_valid(str_make(name, nlen)) ||
	    utf8_chars(str_make(name, nlen)) > ADMIN_TOKEN_NAME_MAX)
		return STORE_EINVAL;
	for (size_t i = 0; i < nlen; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return STORE_EINVAL;
	if (scope > ADMIN_TOKEN_READ || expires < 0 || (expires && expires <= now))
		return STORE_EINVAL;
	if (sodium_init() < 0)
		return STORE_ETEMP;
	for (int tries = 0; tries < 8; tries++) {
		randbytes(idb, sizeof(idb));
		randbytes(sec, sizeof(sec));
		hex_encode(id, idb, sizeof(idb));
		hex_encode(sechex, sec, sizeof(sec));
		put_u64(rec, (uint64_t)now);
		secret_hash(sechex, rec + 8);
		rec[40] = TOKEN_REC_NEW;
		rec[41] = (uint8_t)scope;
		put_u64(rec + 42, (uint64_t)expires);
		memcpy(rec + 50, name, nlen);
		snprintf(key, sizeof(key), "token/%s", id);
		int rc = store_meta_put(st, key, rec, 50 + nlen, 1);
		if (rc == STORE_EEXIST)
			continue;
		if (rc == STORE_OK)
			snprintf(token, ADMIN_TOKEN_MAX, "tern_%s_%s", id, sechex);
		sodium_memzero(sechex, sizeof(sechex));
		sodium_memzero(sec, sizeof(sec));
		return rc;
	}
	return STORE_ETEMP;
}

int admin_token_del(struct store *st, const char *id)
{
	char key[32];
	if (strlen(id) != 8 || !is_hex(id, 8))
		return STORE_ENOTFOUND;
	snprintf(key, sizeof(key), "token/%s", id);
	return store_meta_del(st, key);
}

struct list_ctx {
	admin_token_cb *cb;
	void *arg;
};

static void list_one(void *arg, const char *name, const void *val, size_t len)
{
	struct list_ctx *c = arg;
	char tname[ADMIN_TOKEN_NAME_BYTES + 1];
	struct admin_token_info t;

	if (token_decode(val, len, &t, tname, NULL) < 0)
		return;
	t.id = name + 6;
	c->cb(c->arg, &t);
}

int admin_token_list(struct store *st, admin_token_cb *cb, void *arg)
{
	struct list_ctx c = { cb, arg };
	return store_meta_list(st, "token/", list_one, &c);
}

int admin_token_check(struct store *st, const char *token, char *id_r,
		      enum admin_token_scope *scope_r)
{
	uint8_t rec[TOKEN_REC_MAX], stored[32], h[32];
	char key[32], tname[ADMIN_TOKEN_NAME_BYTES + 1];
	struct admin_token_info t;
	size_t len;

	/* "tern_" + 8 hex + "_" + 64 hex */
	if (strlen(token) != 5 + 8 + 1 + 2 * TOKEN_SECRET_BYTES || memcmp(token, "tern_", 5) != 0 ||
	    token[13] != '_' || !is_hex(token + 5, 8) || !is_hex(token + 14, 2 * TOKEN_SECRET_BYTES))
		return 0;
	snprintf(key, sizeof(key), "token/%.8s", token + 5);
	if (store_meta_get(st, key, rec, sizeof(rec), &len) != STORE_OK ||
	    token_decode(rec, len, &t, tname, stored) < 0)
		return 0;
	secret_hash(token + 14, h);
	if (sodium_memcmp(h, stored, 32) != 0)
		return 0;
	if (t.expires && t.expires <= (int64_t)time(NULL))
		return 0;
	if (id_r)
		snprintf(id_r, 9, "%.8s", token + 5);
	if (scope_r)
		*scope_r = t.scope;
	return 1;
}
