/*
 * store_meta.c — named settings in the meta database (wizard, API tokens,
 * setup code, admin password hash).
 *
 * Each value is the version byte then opaque bytes the caller defines (see
 * SCHEMA.md, "meta"). Names used by the store itself (schema_version, the
 * counters) are refused here so a caller can never clobber them: settings
 * live under names containing a '/' ("setting/hostname", "token/1a2b3c4d").
 */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "store/store_private.h"

#define META_NAME_MAX 128

static int name_ok(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n <= META_NAME_MAX && strchr(name, '/') != NULL;
}

int store_meta_get(struct store *st, const char *name, void *val, size_t valsz, size_t *len_r)
{
	MDB_txn *txn;
	MDB_val k = {strlen(name), (void *)name}, v;

	if (!name_ok(name))
		return STORE_EINVAL;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = mdb_get(txn, st->db[DB_META], &k, &v);
	if (rc == 0) {
		const uint8_t *p = v.mv_data;
		if (v.mv_size < 1 || p[0] != REC_V1 || v.mv_size - 1 > valsz) {
			rc = STORE_ETEMP;
		} else {
			memcpy(val, p + 1, v.mv_size - 1);
			*len_r = v.mv_size - 1;
		}
	} else {
		rc = store_mdb_code(rc);
	}
	store_rd_end(st, txn);
	return rc;
}

struct meta_put {
	const char *name;
	const void *val;
	size_t len;
	int del, excl;
};

static int meta_put_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct meta_put *m = ctx;
	MDB_val k = {strlen(m->name), (void *)m->name}, v;

	if (m->del) {
		int rc = mdb_del(txn, st->db[DB_META], &k, NULL);
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	}
	v.mv_size = m->len + 1;
	int rc = mdb_put(txn, st->db[DB_META], &k, &v, MDB_RESERVE | (m->excl ? MDB_NOOVERWRITE : 0));
	if (rc == MDB_KEYEXIST)
		return STORE_EEXIST;
	if (rc)
		return rc;
	((uint8_t *)v.mv_data)[0] = REC_V1;
	if (m->len)
		memcpy((uint8_t *)v.mv_data + 1, m->val, m->len);
	return 0;
}

int store_meta_put(struct store *st, const char *name, const void *val, size_t len, int excl)
{
	struct meta_put m = {.name = name, .val = val, .len = len, .excl = excl};
	if (!name_ok(name) || len > 65536)
		return STORE_EINVAL;
	return store_write(st, meta_put_fn, &m);
}

struct meta_put_all {
	const struct store_meta_item *items;
	size_t n;
};

static int meta_put_all_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct meta_put_all *a = ctx;

	for (size_t i = 0; i < a->n; i++) {
		/* val NULL: a removal, of a name perhaps absent. */
		struct meta_put m = {.name = a->items[i].name, .val = a->items[i].val,
		                     .len = a->items[i].len, .del = a->items[i].val == NULL};
		int rc = meta_put_fn(st, txn, &m);
		if (rc && !(m.del && rc == STORE_ENOTFOUND))
			return rc; /* the transaction is aborted: none written */
	}
	return 0;
}

int store_meta_put_txn(struct store *st, void *txn, const char *name, const void *val, size_t len)
{
	struct meta_put m = {.name = name, .val = val, .len = len};
	if (!name_ok(name) || len > 65536)
		return MDB_BAD_VALSIZE;
	return meta_put_fn(st, txn, &m);
}

int store_meta_put_all(struct store *st, const struct store_meta_item *items, size_t n)
{
	struct meta_put_all a = {.items = items, .n = n};
	for (size_t i = 0; i < n; i++)
		if (!name_ok(items[i].name) || items[i].len > 65536)
			return STORE_EINVAL;
	return store_write(st, meta_put_all_fn, &a);
}

struct meta_put_if {
	const char *name;
	const void *expect;
	size_t expect_len;
	struct meta_put_all all;
	int differs;
};

static int meta_put_if_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct meta_put_if *c = ctx;
	MDB_val k = {strlen(c->name), (void *)c->name}, v;
	int rc = mdb_get(txn, st->db[DB_META], &k, &v);

	if (rc && rc != MDB_NOTFOUND)
		return rc;
	/* Read in the write transaction: nothing can change it before the
	 * items are written. */
	const uint8_t *p = v.mv_data;
	if (rc == MDB_NOTFOUND || v.mv_size != c->expect_len + 1 || p[0] != REC_V1 ||
	    memcmp(p + 1, c->expect, c->expect_len) != 0) {
		c->differs = 1;
		return 0;
	}
	return meta_put_all_fn(st, txn, &c->all);
}

int store_meta_put_if(struct store *st, const char *name, const void *expect, size_t expect_len,
		      const struct store_meta_item *items, size_t n)
{
	struct meta_put_if c = {name, expect, expect_len, {items, n}, 0};
	if (!name_ok(name))
		return STORE_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!name_ok(items[i].name) || items[i].len > 65536)
			return STORE_EINVAL;
	int rc = store_write(st, meta_put_if_fn, &c);
	return rc == STORE_OK && c.differs ? 1 : rc;
}

int store_meta_del(struct store *st, const char *name)
{
	struct meta_put m = {.name = name, .del = 1};
	if (!name_ok(name))
		return STORE_EINVAL;
	return store_write(st, meta_put_fn, &m);
}

static int meta_del_all_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct meta_put_all *a = ctx;

	for (size_t i = 0; i < a->n; i++) {
		struct meta_put m = {.name = a->items[i].name, .del = 1};
		int rc = meta_put_fn(st, txn, &m);
		if (rc && rc != STORE_ENOTFOUND)
			return rc; /* the transaction is aborted: none removed */
	}
	return 0;
}

int store_meta_del_all(struct store *st, const char *const *names, size_t n)
{
	struct store_meta_item *it = xmalloc((n ? n : 1) * sizeof *it);
	for (size_t i = 0; i < n; i++) {
		if (!name_ok(names[i])) {
			free(it);
			return STORE_EINVAL;
		}
		it[i] = (struct store_meta_item){names[i], NULL, 0};
	}
	struct meta_put_all a = {.items = it, .n = n};
	int rc = n ? store_write(st, meta_del_all_fn, &a) : STORE_OK;
	free(it);
	return rc;
}

int store_meta_del_txn(struct store *st, void *txn, const char *name)
{
	struct meta_put m = {.name = name, .del = 1};
	if (!name_ok(name))
		return MDB_BAD_VALSIZE;
	int rc = meta_put_fn(st, txn, &m);
	return rc == STORE_ENOTFOUND ? 0 : rc;
}

int store_meta_list_page(struct store *st, const char *prefix, char *cursor, size_t cursorsz,
                         size_t max, store_meta_cb *cb, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	size_t plen = strlen(prefix), clen = strnlen(cursor, cursorsz), seen = 0;
	char name[META_NAME_MAX + 1];
	int resume = clen > plen && clen < cursorsz && clen <= META_NAME_MAX &&
	             memcmp(cursor, prefix, plen) == 0;
	MDB_val k = resume ? (MDB_val){clen, cursor} : (MDB_val){plen, (void *)prefix}, v;

	if (!name_ok(prefix) || cursorsz == 0)
		return STORE_EINVAL;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	/* A restored store's pending reports go at its first open. */
	if (store_restore_drops(prefix) && store_restore_pending(st, txn)) {
		cursor[0] = '\0';
		store_rd_end(st, txn);
		return STORE_OK;
	}
	int rc = mdb_cursor_open(txn, st->db[DB_META], &cur);
	if (rc == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
				break;
			/* The cursor's own name was visited by the page before. */
			if (resume && seen == 0 && k.mv_size == clen &&
			    memcmp(k.mv_data, cursor, clen) == 0)
				continue;
			if (seen == max)
				break; /* the next page starts after the last name given */
			seen++;
			if (k.mv_size > META_NAME_MAX || k.mv_size >= cursorsz)
				continue;
			memcpy(name, k.mv_data, k.mv_size);
			name[k.mv_size] = '\0';
			const uint8_t *p = v.mv_data;
			if (v.mv_size >= 1 && p[0] == REC_V1)
				cb(arg, name, p + 1, v.mv_size - 1);
			memcpy(cursor, name, k.mv_size + 1);
		}
		if (rc == MDB_NOTFOUND || (rc == 0 && seen < max))
			cursor[0] = '\0'; /* the end of the prefix: the next page starts over */
		mdb_cursor_close(cur);
	}
	store_rd_end(st, txn);
	return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK : STORE_ETEMP;
}

int meta_del_prefix_txn(MDB_txn *txn, struct store *st, const char *prefix)
{
	MDB_cursor *cur;
	size_t plen = strlen(prefix);
	MDB_val k = {plen, (void *)prefix}, v;
	int rc = mdb_cursor_open(txn, st->db[DB_META], &cur);

	if (rc)
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) == 0) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		k = (MDB_val){plen, (void *)prefix};
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_meta_list(struct store *st, const char *prefix, store_meta_cb *cb, void *arg)
{
	/* One page as long as the prefix's run, from its start. */
	char cursor[META_NAME_MAX + 2] = "";
	return store_meta_list_page(st, prefix, cursor, sizeof cursor, SIZE_MAX, cb, arg);
}
