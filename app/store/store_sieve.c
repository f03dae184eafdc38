/*
 * store_sieve.c — Sieve scripts per account ("sieve") and the Sieve
 * memory of what was already answered or seen ("sieve_seen": vacation's
 * :days per sender, duplicate's ids), schema 7. Layouts in SCHEMA.md.
 *
 * An account has at most STORE_SIEVE_SCRIPTS_MAX scripts of at most
 * STORE_SIEVE_BYTES_MAX octets together, one of them active (a flag in
 * its record; activating one clears the others in the same transaction).
 * Scripts are few and small, so list and "which is active" walk the
 * account's keys. Names follow RFC 5804 §1.6: UTF-8, no control
 * characters, no U+2028/U+2029, 1..STORE_SIEVE_NAME_MAX octets.
 * Writes are administrative (ManageSieve, CLI, API) and synchronous.
 *
 * JMAP ids and state (RFC 9661, jmap_sieve.c): a script's id must not
 * change when it is renamed, and the records are keyed by name, so each
 * script's id lives in meta "sieve-id/<account %08x>/<name>" (u32),
 * moved by a rename and dropped by a delete in the same transaction; ids
 * come from meta "sieve-next/<account>" and never repeat. Every write
 * adds one to meta "sieve-state/<account>", the account's SieveScript
 * state. Meta keys need no schema change: an older tern ignores them. A
 * script written before ids existed gets one the first time
 * store_sieve_index() sees it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "store/store_private.h"

#define HDR 10 /* u8 version, u8 active, i64 updated_at */

int store_sieve_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > STORE_SIEVE_NAME_MAX || !utf8_valid(str_make(name, n)))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
		/* U+0080..U+009F (C1 controls) and U+2028/U+2029 */
		if (c == 0xc2 && i + 1 < n && (unsigned char)name[i + 1] < 0xa0)
			return 0;
		if (c == 0xe2 && i + 2 < n && (unsigned char)name[i + 1] == 0x80 &&
		    ((unsigned char)name[i + 2] == 0xa8 || (unsigned char)name[i + 2] == 0xa9))
			return 0;
	}
	return 1;
}

static MDB_val script_key(uint8_t *b, uint32_t account, const char *name)
{
	size_t n = strlen(name);
	be32_put(b, account);
	memcpy(b + 4, name, n);
	return (MDB_val){4 + n, b};
}

/* Walks an account's scripts: fn(arg, key, value) for each; fn returns
 * non-zero to stop with that code. */
typedef int each_fn(void *arg, MDB_val *k, MDB_val *v);

static int each_script(MDB_txn *txn, struct store *st, uint32_t account, each_fn *fn, void *arg)
{
	MDB_cursor *cur;
	uint8_t pfx[4];
	MDB_val k = {4, pfx}, v;
	int rc = mdb_cursor_open(txn, st->db[DB_SIEVE], &cur);

	if (rc)
		return rc;
	be32_put(pfx, account);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size > 4 && memcmp(k.mv_data, pfx, 4) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (v.mv_size < HDR || ((uint8_t *)v.mv_data)[0] != REC_V1) {
			rc = MDB_CORRUPTED;
			break;
		}
		if ((rc = fn(arg, &k, &v)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

struct usage {
	const char *except; /* a script whose old size does not count (being replaced) */
	size_t count, bytes;
};

static int usage_fn(void *arg, MDB_val *k, MDB_val *v)
{
	struct usage *u = arg;
	size_t n = k->mv_size - 4;
	if (u->except && strlen(u->except) == n && memcmp((char *)k->mv_data + 4, u->except, n) == 0)
		return 0;
	u->count++;
	u->bytes += v->mv_size - HDR;
	return 0;
}

static int check_room(MDB_txn *txn, struct store *st, uint32_t account, const char *name,
                      size_t len)
{
	struct usage u = {name, 0, 0};
	int rc;
	if (len > STORE_SIEVE_BYTES_MAX)
		return STORE_ETOOBIG;
	if ((rc = each_script(txn, st, account, usage_fn, &u)) != 0)
		return rc;
	if (u.count + 1 > STORE_SIEVE_SCRIPTS_MAX || u.bytes + len > STORE_SIEVE_BYTES_MAX)
		return STORE_ELIMIT;
	return 0;
}

struct put_ctx {
	uint32_t account;
	const char *name, *newname;
	const char *text;
	size_t len;
	int64_t now;
	int kind; /* 0 put, 1 delete, 2 rename, 3 activate */
};

static int account_exists(MDB_txn *txn, struct store *st, uint32_t account)
{
	struct acct_rec a;
	if (account == STORE_SIEVE_GLOBAL)
		return 0; /* the administrator's global scripts */
	int rc = acct_get(txn, st, account, &a);
	return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
}

static int active_fn(void *arg, MDB_val *k, MDB_val *v)
{
	MDB_txn *txn = ((void **)arg)[0];
	struct store *st = ((void **)arg)[1];
	const char *want = ((void **)arg)[2];
	size_t n = k->mv_size - 4;
	int is = want && strlen(want) == n && memcmp((char *)k->mv_data + 4, want, n) == 0;
	if (((uint8_t *)v->mv_data)[1] == is)
		return 0;
	/* The cursor's value is read-only memory: put a changed copy. */
	uint8_t *copy = malloc(v->mv_size);
	if (!copy)
		return ENOMEM;
	memcpy(copy, v->mv_data, v->mv_size);
	copy[1] = (uint8_t)is;
	MDB_val nv = {v->mv_size, copy};
	uint8_t kb[4 + STORE_SIEVE_NAME_MAX];
	MDB_val key = {k->mv_size, kb};
	memcpy(kb, k->mv_data, k->mv_size);
	int rc = mdb_put(txn, st->db[DB_SIEVE], &key, &nv, 0);
	free(copy);
	return rc;
}

static void id_key(char *out, size_t n, uint32_t account, const char *name)
{
	snprintf(out, n, "sieve-id/%08x/%s", account, name);
}

/* A new id for a script of account, recorded under name. */
static int id_assign(MDB_txn *txn, struct store *st, uint32_t account, const char *name)
{
	char k[64 + STORE_SIEVE_NAME_MAX];
	uint32_t next = 1;
	int rc;

	snprintf(k, sizeof k, "sieve-next/%08x", account);
	if ((rc = meta_get_u32(txn, st, k, &next)) != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (next == 0)
		next = 1;
	if ((rc = meta_put_u32(txn, st, k, next + 1)) != 0)
		return rc;
	id_key(k, sizeof k, account, name);
	return meta_put_u32(txn, st, k, next);
}

static int state_bump(MDB_txn *txn, struct store *st, uint32_t account)
{
	char k[32];
	uint32_t v = 0;
	int rc;

	snprintf(k, sizeof k, "sieve-state/%08x", account);
	if ((rc = meta_get_u32(txn, st, k, &v)) != 0 && rc != MDB_NOTFOUND)
		return rc;
	return meta_put_u32(txn, st, k, v + 1);
}

/* After a write of kind c->kind succeeded: the ids and the state. */
static int ids_after(MDB_txn *txn, struct store *st, const struct put_ctx *c, int found)
{
	char k[64 + STORE_SIEVE_NAME_MAX], k2[64 + STORE_SIEVE_NAME_MAX];
	MDB_val key, v;
	uint32_t id;
	int rc = 0;

	switch (c->kind) {
	case 0:
		if (!found)
			rc = id_assign(txn, st, c->account, c->name);
		break;
	case 1:
		id_key(k, sizeof k, c->account, c->name);
		key = (MDB_val){strlen(k), k};
		rc = mdb_del(txn, st->db[DB_META], &key, NULL);
		rc = rc == MDB_NOTFOUND ? 0 : rc;
		break;
	case 2:
		id_key(k, sizeof k, c->account, c->name);
		id_key(k2, sizeof k2, c->account, c->newname);
		rc = meta_get_u32(txn, st, k, &id);
		if (rc == MDB_NOTFOUND) {
			rc = id_assign(txn, st, c->account, c->newname);
			break;
		}
		key = (MDB_val){strlen(k), k};
		if (rc || (rc = mdb_del(txn, st->db[DB_META], &key, NULL)) != 0)
			break;
		rc = meta_put_u32(txn, st, k2, id);
		break;
	default:
		break;
	}
	(void)v;
	return rc ? rc : state_bump(txn, st, c->account);
}

static int sieve_apply(struct store *st, MDB_txn *txn, struct put_ctx *c, int *found_r)
{
	uint8_t kb[4 + STORE_SIEVE_NAME_MAX], kb2[4 + STORE_SIEVE_NAME_MAX];
	MDB_val k, v, nv;
	int rc;

	if ((rc = account_exists(txn, st, c->account)) != 0)
		return rc;
	k = script_key(kb, c->account, c->name);
	rc = mdb_get(txn, st->db[DB_SIEVE], &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	int found = rc == 0;
	*found_r = found;
	if (found && (v.mv_size < HDR || ((uint8_t *)v.mv_data)[0] != REC_V1))
		return MDB_CORRUPTED;
	switch (c->kind) {
	case 0: {
		uint8_t active = found ? ((uint8_t *)v.mv_data)[1] : 0;
		if ((rc = check_room(txn, st, c->account, c->name, c->len)) != 0)
			return rc;
		nv.mv_size = HDR + c->len;
		if ((rc = mdb_put(txn, st->db[DB_SIEVE], &k, &nv, MDB_RESERVE)) != 0)
			return rc;
		uint8_t *p = nv.mv_data;
		p[0] = REC_V1;
		p[1] = active;
		be64_put(p + 2, (uint64_t)c->now);
		memcpy(p + HDR, c->text, c->len);
		return 0;
	}
	case 1:
		if (!found)
			return STORE_ENOTFOUND;
		if (((uint8_t *)v.mv_data)[1])
			return STORE_EACTIVE;
		return mdb_del(txn, st->db[DB_SIEVE], &k, NULL);
	case 2: {
		if (!found)
			return STORE_ENOTFOUND;
		MDB_val k2 = script_key(kb2, c->account, c->newname), v2;
		rc = mdb_get(txn, st->db[DB_SIEVE], &k2, &v2);
		if (rc == 0)
			return STORE_EEXIST;
		if (rc != MDB_NOTFOUND)
			return rc;
		/* Copy the record out before the put may move pages. */
		size_t sz = v.mv_size;
		uint8_t *copy = malloc(sz);
		if (!copy)
			return ENOMEM;
		memcpy(copy, v.mv_data, sz);
		nv = (MDB_val){sz, copy};
		rc = mdb_put(txn, st->db[DB_SIEVE], &k2, &nv, 0);
		free(copy);
		if (rc)
			return rc;
		return mdb_del(txn, st->db[DB_SIEVE], &k, NULL);
	}
	default: {
		if (c->name[0] && !found)
			return STORE_ENOTFOUND;
		void *a[3] = {txn, st, c->name[0] ? (void *)c->name : NULL};
		return each_script(txn, st, c->account, active_fn, a);
	}
	}
}

static int sieve_write_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct put_ctx *c = arg;
	int found = 0;
	int rc = sieve_apply(st, txn, c, &found);
	return rc ? rc : ids_after(txn, st, c, found);
}

static int sieve_write(struct store *st, struct put_ctx *c)
{
	if (!store_sieve_name_valid(c->name) && !(c->kind == 3 && c->name[0] == '\0'))
		return STORE_EINVAL;
	if (c->kind == 2 && !store_sieve_name_valid(c->newname))
		return STORE_EINVAL;
	return store_write(st, sieve_write_fn, c);
}

int store_sieve_put(struct store *st, uint32_t account, const char *name, const char *text,
                    size_t len, int64_t now)
{
	struct put_ctx c = {account, name, NULL, text, len, now, 0};
	return sieve_write(st, &c);
}

int store_sieve_del(struct store *st, uint32_t account, const char *name)
{
	struct put_ctx c = {account, name, NULL, NULL, 0, 0, 1};
	return sieve_write(st, &c);
}

int store_sieve_rename(struct store *st, uint32_t account, const char *name, const char *newname)
{
	struct put_ctx c = {account, name, newname, NULL, 0, 0, 2};
	return sieve_write(st, &c);
}

int store_sieve_activate(struct store *st, uint32_t account, const char *name)
{
	struct put_ctx c = {account, name ? name : "", NULL, NULL, 0, 0, 3};
	return sieve_write(st, &c);
}

int store_sieve_get(struct store *st, uint32_t account, const char *name, struct buf *out,
                    int *active_r)
{
	MDB_txn *txn;
	uint8_t kb[4 + STORE_SIEVE_NAME_MAX];
	MDB_val k, v;
	int rc;

	if (!store_sieve_name_valid(name))
		return STORE_ENOTFOUND;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	k = script_key(kb, account, name);
	rc = mdb_get(txn, st->db[DB_SIEVE], &k, &v);
	if (rc == 0 && (v.mv_size < HDR || ((uint8_t *)v.mv_data)[0] != REC_V1))
		rc = MDB_CORRUPTED;
	if (rc == 0) {
		if (active_r)
			*active_r = ((uint8_t *)v.mv_data)[1];
		if (out && buf_append(out, (char *)v.mv_data + HDR, v.mv_size - HDR) < 0)
			rc = ENOMEM;
	}
	store_rd_end(st, txn);
	return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : store_mdb_code(rc);
}

struct list_ctx {
	store_sieve_list_cb *cb;
	void *arg;
	struct buf *want_active; /* store_sieve_active: the text */
	char *name_r;
	int found;
};

static int list_fn(void *arg, MDB_val *k, MDB_val *v)
{
	struct list_ctx *c = arg;
	char name[STORE_SIEVE_NAME_MAX + 1];
	size_t n = k->mv_size - 4;
	int active = ((uint8_t *)v->mv_data)[1];

	if (n > STORE_SIEVE_NAME_MAX)
		return MDB_CORRUPTED;
	memcpy(name, (char *)k->mv_data + 4, n);
	name[n] = '\0';
	if (c->cb) {
		c->cb(c->arg, name, active, v->mv_size - HDR);
		return 0;
	}
	if (!active)
		return 0;
	c->found = 1;
	if (c->name_r)
		memcpy(c->name_r, name, n + 1);
	if (c->want_active && buf_append(c->want_active, (char *)v->mv_data + HDR, v->mv_size - HDR) < 0)
		return ENOMEM;
	return MDB_NOTFOUND; /* stop: one is active at most */
}

static int list_run(struct store *st, uint32_t account, struct list_ctx *c)
{
	MDB_txn *txn;
	int rc;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = each_script(txn, st, account, list_fn, c);
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

int store_sieve_list(struct store *st, uint32_t account, store_sieve_list_cb *cb, void *arg)
{
	struct list_ctx c = {cb, arg, NULL, NULL, 0};
	return list_run(st, account, &c);
}

int store_sieve_active(struct store *st, uint32_t account, struct buf *text,
                       char name_r[STORE_SIEVE_NAME_MAX + 1])
{
	struct list_ctx c = {NULL, NULL, text, name_r, 0};
	int rc = list_run(st, account, &c);
	if (rc != STORE_OK)
		return rc;
	return c.found ? STORE_OK : STORE_ENOTFOUND;
}

int store_sieve_room(struct store *st, uint32_t account, const char *name, size_t len)
{
	MDB_txn *txn;
	int rc;
	if (!store_sieve_name_valid(name))
		return STORE_EINVAL;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = check_room(txn, st, account, name, len);
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

/* ---- sieve_seen ---- */

static MDB_val seen_key(uint8_t b[36], uint32_t account, const uint8_t key[32])
{
	be32_put(b, account);
	memcpy(b + 4, key, 32);
	return (MDB_val){36, b};
}

int store_sieve_seen(struct store *st, uint32_t account, const uint8_t key[32], int64_t now)
{
	MDB_txn *txn;
	uint8_t kb[36];
	MDB_val k = seen_key(kb, account, key), v;
	int rc, seen = 0;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = mdb_get(txn, st->db[DB_SIEVE_SEEN], &k, &v);
	if (rc == 0 && v.mv_size == 9 && ((uint8_t *)v.mv_data)[0] == REC_V1)
		seen = (int64_t)be64_get((uint8_t *)v.mv_data + 1) > now;
	store_rd_end(st, txn);
	if (rc && rc != MDB_NOTFOUND)
		return store_mdb_code(rc);
	return seen;
}

struct seen_ctx {
	uint32_t account;
	const uint8_t *key;
	int64_t expires;
};

static int seen_put_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct seen_ctx *c = arg;
	uint8_t kb[36], vb[9];
	MDB_val k = seen_key(kb, c->account, c->key), v = {9, vb};
	vb[0] = REC_V1;
	be64_put(vb + 1, (uint64_t)c->expires);
	return mdb_put(txn, st->db[DB_SIEVE_SEEN], &k, &v, 0);
}

int store_sieve_seen_put(struct store *st, uint32_t account, const uint8_t key[32],
                         int64_t expires)
{
	struct seen_ctx c = {account, key, expires};
	return store_write(st, seen_put_fn, &c);
}

int store_sieve_seen_put_txn(struct store *st, MDB_txn *txn, const struct store_seen *e)
{
	struct seen_ctx c = {e->account, e->key, e->expires};
	return seen_put_fn(st, txn, &c);
}

/* Deletes expired sieve_seen entries, at most max per call. */
static int seen_sweep_fn(struct store *st, MDB_txn *txn, void *arg)
{
	int64_t now = *(int64_t *)arg;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, st->db[DB_SIEVE_SEEN], &cur), n = 0;
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < 10000;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (v.mv_size != 9 || (int64_t)be64_get((uint8_t *)v.mv_data + 1) <= now) {
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
			n++;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_sieve_seen_sweep(struct store *st, int64_t now)
{
	return store_write(st, seen_sweep_fn, &now);
}

/* ---- JMAP's view: ids and state (see the top of the file) ---- */

struct index_ctx {
	MDB_txn *txn;
	struct store *st;
	uint32_t account;
	struct store_sieve_info *out;
	size_t n, missing;
	int assign; /* inside a write: give ids to scripts without one */
};

static int index_fn(void *arg, MDB_val *k, MDB_val *v)
{
	struct index_ctx *c = arg;
	char key[64 + STORE_SIEVE_NAME_MAX];
	size_t n = k->mv_size - 4;
	uint32_t id = 0;
	int rc;

	if (n > STORE_SIEVE_NAME_MAX || v->mv_size < HDR)
		return MDB_CORRUPTED;
	if (c->n == STORE_SIEVE_SCRIPTS_MAX)
		return MDB_NOTFOUND; /* more than the limit allows: the first ones */
	struct store_sieve_info *i = &c->out[c->n];
	memcpy(i->name, (char *)k->mv_data + 4, n);
	i->name[n] = '\0';
	i->active = ((uint8_t *)v->mv_data)[1];
	i->size = v->mv_size - HDR;
	id_key(key, sizeof key, c->account, i->name);
	rc = meta_get_u32(c->txn, c->st, key, &id);
	if (rc == MDB_NOTFOUND && c->assign) {
		if ((rc = id_assign(c->txn, c->st, c->account, i->name)) != 0 ||
		    (rc = meta_get_u32(c->txn, c->st, key, &id)) != 0)
			return rc;
	} else if (rc == MDB_NOTFOUND) {
		c->missing++;
	} else if (rc) {
		return rc;
	}
	i->id = id;
	c->n++;
	return 0;
}

static int index_assign_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct index_ctx *c = arg;
	c->txn = txn;
	c->n = c->missing = 0;
	int rc = each_script(txn, st, c->account, index_fn, c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_sieve_index(struct store *st, uint32_t account,
                      struct store_sieve_info out[STORE_SIEVE_SCRIPTS_MAX], size_t *n_r,
                      uint32_t *state_r)
{
	struct index_ctx c = {NULL, st, account, out, 0, 0, 0};
	char key[32];
	MDB_txn *txn;
	int rc;

	for (int pass = 0; pass < 2; pass++) {
		if (store_rd_begin(st, &txn) != 0)
			return STORE_ETEMP;
		c.txn = txn;
		c.n = c.missing = 0;
		rc = each_script(txn, st, account, index_fn, &c);
		if (rc == MDB_NOTFOUND)
			rc = 0;
		snprintf(key, sizeof key, "sieve-state/%08x", account);
		*state_r = 0;
		if (rc == 0 && (rc = meta_get_u32(txn, st, key, state_r)) == MDB_NOTFOUND)
			rc = 0;
		store_rd_end(st, txn);
		if (rc || !c.missing)
			break;
		/* Scripts from before ids: give them theirs, then read again. */
		c.assign = 1;
		rc = store_write(st, index_assign_fn, &c);
		c.assign = 0;
		if (rc)
			return rc;
	}
	*n_r = c.n;
	return store_mdb_code(rc);
}
