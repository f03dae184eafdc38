/*
 * admin_meta.h — the admin's own state in the store's meta database: the
 * one-time setup code, the admin password, API tokens and the settings the
 * wizard stores (host name, primary domain, relay). Shared by `tern serve`
 * (HTTP API) and the CLI (`tern setup-code`, `tern token`).
 *
 * Names in meta (values after the version byte; SCHEMA.md has the table):
 *   setup/code        the setup code text ("ABCD-EFGH-JKLM")
 *   setup/completed   "1" once the wizard finished
 *   admin/password    argon2id PHC string of the admin password
 *   admin/password-stamp  the hash admin_password_stamp() is taken of: the
 *                     one the password was set with (a sign-in's re-hash
 *                     keeps it; absent in older stores: admin/password's)
 *   token/<id>        u64 created, 32-byte BLAKE2b of the secret, then either
 *                     the name (tokens made before scopes: full access, no
 *                     expiry) or 0x01, u8 scope, u64 expires, the name (a
 *                     name never starts with a control byte)
 *   setting/<name>    the text of a stored setting
 *
 * Settings: the environment beats the store. admin_setting_locked() says
 * whether a setting came from a TERN_* variable; admin_settings_merge()
 * copies stored values into a config where the environment said nothing
 * (done once at start: stored host name and relay apply at the next start).
 *
 * The relay password must be replayed to the relay, so it cannot be
 * hashed: it is stored sealed with a key file kept beside the store, not
 * in it (admin_secret.h); admin_setting_get/set seal and open it, and
 * admin_settings_seal() seals in place one an older build stored in the
 * clear.
 *
 * Caveats: the DKIM keys are still stored in the clear. A clear value that
 * admin_settings_seal() replaced may linger in pages of data.mdb that LMDB
 * freed (copy-on-write) until it reuses them; change the relay password
 * at the provider if an old store file could have leaked.
 */
#ifndef TERN_ADMIN_ADMIN_META_H
#define TERN_ADMIN_ADMIN_META_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

struct store;

/* ---- setup code ---- */
#define ADMIN_SETUP_CODE_LEN 14 /* "XXXX-XXXX-XXXX" */
/*
 * Returns the stored setup code in code (size >= 15), making and storing
 * one first when there is none. STORE_OK or a STORE_* error.
 */
int admin_setup_code_ensure(struct store *st, char *code, size_t codesz);
/* The stored code, STORE_ENOTFOUND when there is none. */
int admin_setup_code_get(struct store *st, char *code, size_t codesz);
/* 1 when given matches the stored code (case and hyphens ignored, constant
 * time), else 0. */
int admin_setup_code_check(struct store *st, const char *given);
void admin_setup_code_clear(struct store *st);

/* ---- admin password ---- */
/* 1 when an admin exists: TERN_ADMIN_PASSWORD is set or a hash is stored. */
int admin_exists(struct store *st);
/* Stores a new admin password (argon2id). STORE_OK / STORE_EEXIST with
 * excl when one is stored / STORE_ETEMP. Clears the setup code. */
int admin_password_set(struct store *st, const char *password, int excl);
/* 1 valid, 0 not (argon2id; tens of ms: off the loops). With
 * TERN_ADMIN_PASSWORD set, env_hash (made at start) is checked instead.
 * A stored hash that matched but asks for it (password_check: made before
 * SASLprep, or weaker parameters) is replaced by a fresh one unless the
 * password changed meanwhile; the stamp stays (sessions go on). */
int admin_password_check(struct store *st, const char *env_hash, const char *password);
/* A stamp of the stored admin password: a keyless BLAKE2b of the hash it
 * was set with, which has a fresh salt each time, so the stamp changes with
 * every admin_password_set() (the API's or `tern admin passwd`'s) and not
 * with a sign-in's re-hash (admin_password_check). 0 when
 * none is stored (TERN_ADMIN_PASSWORD only); 1 when the store failed, a
 * value no stored hash gives, so that a caller comparing stamps fails
 * closed. */
uint64_t admin_password_stamp(struct store *st);

/* ---- wizard completion ---- */
int admin_setup_completed(struct store *st);
int admin_setup_complete(struct store *st);

/* ---- settings ---- */
enum admin_setting {
	SETTING_HOSTNAME,
	SETTING_DOMAIN,
	SETTING_RELAY_HOST,
	SETTING_RELAY_USER,
	SETTING_RELAY_PASSWORD,
	SETTING_DMARC_REPORT_FROM, /* report/dmarc_reporter.c reads it at each run */
	SETTING_ACME_EMAIL,        /* the wizard's "certificate from Let's Encrypt" */
	SETTING_BACKUP_DIR,        /* scheduled backups: "" = off (backup_sched.h) */
	SETTING_BACKUP_TIME,       /* HH:MM, UTC */
	SETTING_BACKUP_KEEP,       /* decimal count */
	SETTING_MTA_STS_MODE,      /* our served MTA-STS policy's mode: "testing" (default) or "enforce" */
	SETTING_COUNT
};
/* The TERN_* variable of a setting. */
const char *admin_setting_var(enum admin_setting s);
/* 1 when the setting's variable is set in the environment. */
int admin_setting_locked(enum admin_setting s);

#include "tlspol/mta_sts.h"
/*
 * The mode of the MTA-STS policy we serve: TERN_MTA_STS_MODE when set
 * (checked at start-up), else the stored setting, else testing.
 */
enum mta_sts_mode admin_mta_sts_mode(struct store *st);
/* Stored value into out ("" when none). STORE_OK or STORE_ETEMP. */
int admin_setting_get(struct store *st, enum admin_setting s, char *out, size_t outsz);
/* Stores value ("" deletes). STORE_OK, STORE_ETEMP. */
int admin_setting_set(struct store *st, enum admin_setting s, const char *value);
/*
 * What admin_setting_set would write, as an item for store_meta_put_all
 * (several settings in one transaction): val NULL for "" (a removal), a
 * secret sealed into buf (ADMIN_SECRET_SEALED_MAX bytes), else value
 * itself (kept alive by the caller). STORE_OK, or STORE_ETEMP when a
 * secret cannot be sealed.
 */
struct store_meta_item;
int admin_setting_item(struct store *st, enum admin_setting s, const char *value, char *buf,
		       size_t bufsz, struct store_meta_item *it);
/* Seals, in place, secret settings an older build stored in the clear
 * (done at start). STORE_OK, or STORE_ETEMP when one cannot be sealed. */
int admin_settings_seal(struct store *st);
/* Copies stored settings into cfg where the environment did not set them. */
void admin_settings_merge(struct config *cfg, struct store *st);

/* ---- API tokens ---- */
#define ADMIN_TOKEN_NAME_MAX 64                          /* characters */
#define ADMIN_TOKEN_NAME_BYTES (4 * ADMIN_TOKEN_NAME_MAX) /* their UTF-8 octets at most */
#define ADMIN_TOKEN_MAX 80 /* "tern_" 8 hex "_" 64 hex, NUL */
enum admin_token_scope {
	ADMIN_TOKEN_ADMIN = 0, /* everything the admin may do */
	ADMIN_TOKEN_READ = 1,  /* reads only (GET/HEAD, /metrics): for monitoring */
};
/* "admin"/"read" and back; parse returns -1 on anything else. */
const char *admin_token_scope_name(enum admin_token_scope s);
int admin_token_scope_parse(const char *name, enum admin_token_scope *s_r);

struct admin_token_info {
	const char *id, *name;
	int64_t created;
	enum admin_token_scope scope;
	int64_t expires; /* seconds since the epoch; 0 = never */
};

/*
 * Creates a token named name (1..64 printable characters) with scope and
 * an expiry (seconds since the epoch, 0 = never; one in the past is
 * STORE_EINVAL): writes the whole token (shown once) into token (size >=
 * ADMIN_TOKEN_MAX) and its id (8 hex digits) into id (size >= 9).
 * STORE_OK, STORE_EINVAL, STORE_ETEMP.
 */
int admin_token_add(struct store *st, const char *name, enum admin_token_scope scope,
		    int64_t expires, char *token, char *id);
/* STORE_OK, STORE_ENOTFOUND, STORE_ETEMP. */
int admin_token_del(struct store *st, const char *id);
/* Calls cb for every token (expired ones too), in id order; info valid during cb. */
typedef void admin_token_cb(void *arg, const struct admin_token_info *info);
int admin_token_list(struct store *st, admin_token_cb *cb, void *arg);
/*
 * 1 when token is a stored token (constant-time hash comparison) that has
 * not expired, with its id in id_r (size >= 9) and its scope in *scope_r
 * when not NULL; else 0.
 */
int admin_token_check(struct store *st, const char *token, char *id_r,
		      enum admin_token_scope *scope_r);

#endif
