/*
 * store_apppass.c — app passwords ("apppass", schema 9): per account,
 * named, generated here and shown once, stored as argon2id hashes like
 * the account password, revocable, with the time of their last use.
 * Layout in SCHEMA.md.
 *
 * A login must not try every app password's argon2id (tens of ms each):
 * each record keeps a 4-byte tag, the first bytes of the BLAKE2b of the
 * secret, and the login flow (store_admin.c, login_check) verifies only
 * the records whose tag matches the password typed. The secrets are 80
 * random bits, so the tag tells nothing useful about them.
 *
 * JMAP bearer tokens are the same records with a scope byte (JMAP): made,
 * listed, revoked and checked by this code, but a mail login never takes
 * one and a bearer login takes nothing else (store_account_login_scoped).
 */
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "auth/password.h"
#include "core/log.h"
#include "store/store_private.h"

static MDB_val ap_key(uint8_t b[8], uint32_t account, uint32_t id)
{
	return key_u32_u32(b, account, id);
}

void apppass_tag(const char *secret, uint8_t tag[APPPASS_TAG])
{
	crypto_generichash(tag, APPPASS_TAG, (const uint8_t *)secret, strlen(secret), NULL, 0);
}

struct ap_rec {
	int64_t created_at, last_used;
	uint8_t scope; /* enum store_apppass_scope; absent from older records: mail */
	uint8_t tag[APPPASS_TAG];
	char name[STORE_APPPASS_NAME_MAX + 1];
	char hash[STORE_HASH_MAX];
};

static void ap_enc(struct rec_w *w, const void *rec)
{
	const struct ap_rec *a = rec;
	rw_u8(w, REC_V1);
	rw_u64(w, (uint64_t)a->created_at);
	rw_u64(w, (uint64_t)a->last_used);
	rw_bytes(w, a->tag, APPPASS_TAG);
	rw_str16(w, a->name, strlen(a->name));
	rw_str16(w, a->hash, strlen(a->hash));
	if (a->scope) /* a mail one is written as before */
		rw_u8(w, a->scope);
}

static int ap_put(MDB_txn *txn, struct store *st, MDB_val *k, const struct ap_rec *a)
{
	struct rec_w w = {NULL, 0, 0};
	ap_enc(&w, a);
	return rec_put(txn, st->db[DB_APPPASS], k, w.len, ap_enc, a, 0);
}

static int ap_dec(const MDB_val *v, struct ap_rec *a)
{
	struct rec_r r = rr_init(v);
	if (rr_u8(&r) != REC_V1)
		return MDB_CORRUPTED;
	a->created_at = (int64_t)rr_u64(&r);
	a->last_used = (int64_t)rr_u64(&r);
	memcpy(a->tag, rr_bytes(&r, APPPASS_TAG), APPPASS_TAG);
	rr_str16(&r, a->name, sizeof a->name);
	rr_str16(&r, a->hash, sizeof a->hash);
	a->scope = r.off < r.len ? rr_u8(&r) : STORE_APPPASS_MAIL;
	return r.bad ? MDB_CORRUPTED : 0;
}

int store_apppass_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > STORE_APPPASS_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return 0;
	return 1;
}

/* Walks an account's app passwords; fn returns non-zero to stop with it. */
typedef int each_fn(void *arg, uint32_t id, struct ap_rec *a);

static int each_ap(MDB_txn *txn, struct store *st, uint32_t account, each_fn *fn, void *arg)
{
	MDB_cursor *cur;
	uint8_t pfx[4];
	MDB_val k = {4, pfx}, v;
	struct ap_rec a;
	int rc = mdb_cursor_open(txn, st->db[DB_APPPASS], &cur);

	if (rc)
		return rc;
	be32_put(pfx, account);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size == 8 && memcmp(k.mv_data, pfx, 4) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = ap_dec(&v, &a)) != 0)
			break;
		rc = fn(arg, be32_get((uint8_t *)k.mv_data + 4), &a);
		explicit_bzero(a.hash, sizeof a.hash);
		if (rc)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- add ---- */

struct add_ctx {
	uint32_t account, id;
	struct ap_rec rec;
	unsigned count;
	int dup;
	char *err;
	size_t errsz;
};

static int scan_fn(void *arg, uint32_t id, struct ap_rec *a)
{
	struct add_ctx *c = arg;
	if (strcmp(a->name, c->rec.name) == 0)
		c->dup = 1;
	if (id >= c->id)
		c->id = id + 1;
	c->count++;
	return 0;
}

static int add_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct add_ctx *c = ctx;
	struct acct_rec acct;
	uint8_t kb[8];
	int rc = acct_get(txn, st, c->account, &acct);

	explicit_bzero(acct.hash, sizeof acct.hash);
	if (rc == MDB_NOTFOUND)
		return store_err(c->err, c->errsz, STORE_ENOTFOUND, "no such account");
	if (rc)
		return rc;
	c->id = 1;
	c->count = 0;
	c->dup = 0;
	if ((rc = each_ap(txn, st, c->account, scan_fn, c)) != 0)
		return rc;
	if (c->dup)
		return store_err(c->err, c->errsz, STORE_EEXIST, "an app password named %s exists",
		                 c->rec.name);
	if (c->count >= STORE_APPPASS_MAX)
		return store_err(c->err, c->errsz, STORE_ELIMIT, "at most %u app passwords",
		                 STORE_APPPASS_MAX);
	MDB_val k = ap_key(kb, c->account, c->id);
	return ap_put(txn, st, &k, &c->rec);
}

/* 16 letters of an alphabet without look-alikes, in groups of four. */
static void make_secret(char out[STORE_APPPASS_SECRET_LEN + 1])
{
	static const char alpha[] = "abcdefghjkmnpqrstuvwxyz23456789"; /* 31 */
	size_t o = 0;
	for (int i = 0; i < 16; i++) {
		if (i && i % 4 == 0)
			out[o++] = '-';
		out[o++] = alpha[randombytes_uniform(sizeof alpha - 1)];
	}
	out[o] = '\0';
}

int store_apppass_add(struct store *st, uint32_t account, const char *name, char *secret,
                      size_t secretsz, char *err, size_t errsz)
{
	return store_apppass_add_scoped(st, account, STORE_APPPASS_MAIL, name, secret, secretsz,
	                                err, errsz);
}

int store_apppass_add_scoped(struct store *st, uint32_t account, enum store_apppass_scope scope,
                             const char *name, char *secret, size_t secretsz, char *err,
                             size_t errsz)
{
	struct add_ctx c = {.account = account, .err = err, .errsz = errsz};

	if (!store_apppass_name_valid(name))
		return store_err(err, errsz, STORE_EINVAL,
		                 "invalid name (1..%u characters, no control characters)",
		                 STORE_APPPASS_NAME_MAX);
	if (secretsz < STORE_APPPASS_SECRET_LEN + 1)
		return store_err(err, errsz, STORE_EINVAL, "secret buffer too small");
	memcpy(c.rec.name, name, strlen(name) + 1);
	c.rec.scope = (uint8_t)scope;
	make_secret(secret);
	apppass_tag(secret, c.rec.tag);
	if (password_hash(secret, c.rec.hash, sizeof c.rec.hash) != 0)
		return store_err(err, errsz, STORE_ETEMP, "cannot hash password (out of memory)");
	c.rec.created_at = (int64_t)time(NULL);
	int rc = store_write(st, add_fn, &c);
	explicit_bzero(c.rec.hash, sizeof c.rec.hash);
	if (rc == STORE_ETEMP || rc == STORE_EFULL)
		store_err(err, errsz, rc,
			  rc == STORE_EFULL ? STORE_EFULL_TEXT : "store error, see the log");
	else if (rc == STORE_OK)
		log_info("store", NULL, "event=apppass_add account_id=%u id=%u scope=%s", account, c.id,
		         scope == STORE_APPPASS_JMAP ? "jmap" : "mail");
	if (rc != STORE_OK)
		explicit_bzero(secret, secretsz);
	return rc;
}

/* ---- del ---- */

struct del_ctx {
	uint32_t account, id;
	int scope; /* -1: any */
	const char *name;
	char *err;
	size_t errsz;
};

static int find_fn(void *arg, uint32_t id, struct ap_rec *a)
{
	struct del_ctx *c = arg;
	if (strcmp(a->name, c->name) == 0 && (c->scope < 0 || a->scope == c->scope)) {
		c->id = id;
		return 1;
	}
	return 0;
}

static int del_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct del_ctx *c = ctx;
	uint8_t kb[8];
	c->id = 0;
	int rc = each_ap(txn, st, c->account, find_fn, c);
	if (rc != 0 && rc != 1)
		return rc;
	if (!c->id)
		return store_err(c->err, c->errsz, STORE_ENOTFOUND, "no app password named %s",
		                 c->name);
	MDB_val k = ap_key(kb, c->account, c->id);
	return mdb_del(txn, st->db[DB_APPPASS], &k, NULL);
}

int store_apppass_del(struct store *st, uint32_t account, const char *name, char *err,
                      size_t errsz)
{
	return store_apppass_del_scoped(st, account, -1, name, err, errsz);
}

int store_apppass_del_scoped(struct store *st, uint32_t account, int scope, const char *name,
                             char *err, size_t errsz)
{
	struct del_ctx c = {.account = account, .scope = scope, .name = name, .err = err,
	                    .errsz = errsz};
	int rc = store_write(st, del_fn, &c);
	if (rc == STORE_ETEMP || rc == STORE_EFULL)
		store_err(err, errsz, rc,
			  rc == STORE_EFULL ? STORE_EFULL_TEXT : "store error, see the log");
	else if (rc == STORE_OK)
		log_info("store", NULL, "event=apppass_del account_id=%u id=%u", account, c.id);
	return rc;
}

/* ---- list ---- */

struct list_ctx {
	store_apppass_cb *cb;
	void *arg;
};

static int list_fn(void *arg, uint32_t id, struct ap_rec *a)
{
	struct list_ctx *c = arg;
	struct store_apppass_info info = {
	    .id = id, .name = a->name, .created_at = a->created_at, .last_used = a->last_used,
	    .scope = (enum store_apppass_scope)a->scope};
	c->cb(c->arg, &info);
	return 0;
}

int store_apppass_list(struct store *st, uint32_t account, store_apppass_cb *cb, void *arg)
{
	struct list_ctx c = {cb, arg};
	MDB_txn *txn;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = each_ap(txn, st, account, list_fn, &c);
	store_rd_end(st, txn);
	return rc ? STORE_ETEMP : STORE_OK;
}

/* ---- login ---- */

struct cand_ctx {
	int scope;
	const uint8_t *tag;
	struct apppass_cand *out;
	size_t max, n;
};

static int cand_fn(void *arg, uint32_t id, struct ap_rec *a)
{
	struct cand_ctx *c = arg;
	if (c->n < c->max && a->scope == c->scope && sodium_memcmp(a->tag, c->tag, APPPASS_TAG) == 0) {
		c->out[c->n].id = id;
		memcpy(c->out[c->n].hash, a->hash, sizeof a->hash);
		c->n++;
	}
	return 0;
}

int apppass_candidates(MDB_txn *txn, struct store *st, uint32_t account, int scope,
                       const uint8_t tag[APPPASS_TAG], struct apppass_cand *out, size_t max,
                       size_t *n_r)
{
	struct cand_ctx c = {scope, tag, out, max, 0};
	int rc = each_ap(txn, st, account, cand_fn, &c);
	*n_r = c.n;
	return rc;
}

struct touch_ctx {
	uint32_t account, id;
	int64_t now;
};

static int touch_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct touch_ctx *c = ctx;
	struct ap_rec a;
	uint8_t kb[8];
	MDB_val k = ap_key(kb, c->account, c->id), v;
	int rc = mdb_get(txn, st->db[DB_APPPASS], &k, &v);
	if (rc == MDB_NOTFOUND)
		return STORE_ENOTFOUND; /* revoked meanwhile */
	if (rc || (rc = ap_dec(&v, &a)) != 0)
		return rc;
	a.last_used = c->now;
	rc = ap_put(txn, st, &k, &a);
	explicit_bzero(a.hash, sizeof a.hash);
	return rc;
}

int apppass_touch(struct store *st, uint32_t account, uint32_t id)
{
	struct touch_ctx c = {account, id, (int64_t)time(NULL)};
	return store_write(st, touch_fn, &c);
}

int apppass_exists(MDB_txn *txn, struct store *st, uint32_t account, uint32_t id)
{
	uint8_t kb[8];
	MDB_val k = ap_key(kb, account, id), v;
	int rc = mdb_get(txn, st->db[DB_APPPASS], &k, &v);
	return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : rc;
}
