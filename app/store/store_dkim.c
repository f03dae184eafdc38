/*
 * store_dkim.c — each domain's DKIM key set in the "dkim" database.
 *
 * Key: the domain (canonical, like the "domain" database). Value: a version
 * byte and the keys with their selectors (layout in SCHEMA.md, "dkim
 * record"); the private key material itself is the byte form of
 * dkim_key_export(), so this file knows the framing and dkim/ knows the
 * keys. Records are encoded and decoded outside the transaction: decoding
 * an RSA key checks it (a few modular operations), which has no business
 * holding a reader slot or the writer lock.
 *
 * Private keys sit in the environment like everything else; the data dir
 * is 0700 and the file 0600. Buffers that held them are wiped.
 *
 * Every submitted message reads its domain's keys. Decoding checks each
 * RSA key with a modular inversion (about 7% of a message's CPU), so each
 * thread remembers the last record it decoded: when the bytes read from
 * the database are the same, the decoded keys are reused. Comparing the
 * bytes is the whole invalidation: a replaced key set is a different
 * record.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/punycode.h"
#include "core/loop.h"
#include "core/str.h"
#include "core/xalloc.h"
#include "core/thread_exit.h"
#include "dkim/dkim.h"
#include "store/store_private.h"

/* Largest record: every key at its largest. */
#define DKIM_REC_MAX (2 + DKIM_KEYS_MAX * (1 + 8 + 2 + DKIM_SELECTOR_MAX + 2 + DKIM_KEY_EXPORT_MAX))

struct dkim_ctx {
	char name[STORE_DOMAIN_MAX + 1];
	uint8_t rec[DKIM_REC_MAX];
	size_t len;
	int replace;
	char *err;
	size_t errsz;
};

static int dkim_encode(const struct dkim_keys *keys, uint8_t *out, size_t outsz, size_t *len_r)
{
	struct rec_w w = {out, 0, outsz};
	uint8_t kb[DKIM_KEY_EXPORT_MAX];
	int rc = 0;

	if (keys->n == 0 || keys->n > DKIM_KEYS_MAX)
		return -1;
	rw_u8(&w, REC_V1);
	rw_u8(&w, (uint8_t)keys->n);
	for (unsigned i = 0; i < keys->n && rc == 0; i++) {
		const struct dkim_key *k = &keys->key[i];
		size_t klen;

		if (!dkim_selector_ok(k->selector) ||
		    dkim_key_export(k, kb, sizeof kb, &klen) != DKIM_OK) {
			rc = -1;
			break;
		}
		rw_u8(&w, (uint8_t)k->alg);
		rw_u64(&w, (uint64_t)k->created_at);
		rw_str16(&w, k->selector, strlen(k->selector));
		rw_str16(&w, (const char *)kb, klen);
	}
	sodium_memzero(kb, sizeof kb);
	if (rc == 0 && w.len > outsz)
		rc = -1; /* cannot happen: DKIM_REC_MAX is the largest record */
	*len_r = w.len;
	return rc;
}

static int dkim_decode(const uint8_t *p, size_t len, struct dkim_keys *keys)
{
	MDB_val v = {len, (void *)p};
	struct rec_r r = rr_init(&v);

	memset(keys, 0, sizeof *keys);
	if (rr_u8(&r) != REC_V1)
		return -1;
	unsigned n = rr_u8(&r);
	if (r.bad || n == 0 || n > DKIM_KEYS_MAX)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		char sel[DKIM_SELECTOR_MAX + 1];
		uint8_t alg = rr_u8(&r);
		int64_t created = (int64_t)rr_u64(&r);
		rr_str16(&r, sel, sizeof sel);
		size_t klen = rr_u16(&r);
		const uint8_t *kp = rr_bytes(&r, klen);
		if (r.bad || kp == NULL ||
		    dkim_key_import(&keys->key[i], (enum dkim_alg)alg, sel, created, kp, klen) !=
		        DKIM_OK) {
			dkim_keys_wipe(keys);
			return -1;
		}
	}
	if (r.off != r.len) {
		dkim_keys_wipe(keys);
		return -1;
	}
	keys->n = n;
	return 0;
}

static int dkim_put_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct dkim_ctx *c = ctx;
	MDB_val k = {strlen(c->name), c->name}, v;
	int rc = mdb_get(txn, st->db[DB_DOMAIN], &k, &v);

	if (rc == MDB_NOTFOUND)
		return store_err(c->err, c->errsz, STORE_ENOTFOUND, "no domain %s", c->name);
	if (rc)
		return rc;
	v = (MDB_val){c->len, c->rec};
	rc = mdb_put(txn, st->db[DB_DKIM], &k, &v, c->replace ? 0 : MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST)
		return store_err(c->err, c->errsz, STORE_EEXIST, "domain %s already has DKIM keys",
		                 c->name);
	return rc;
}

/* The put's name and record, made before the write (encoding checks every
 * key). STORE_OK or STORE_EINVAL with c->err filled. */
static int dkim_ctx_init(struct dkim_ctx *c, const char *domain, const struct dkim_keys *keys)
{
	if (name_domain(domain, c->name, sizeof c->name) != 0)
		return store_err(c->err, c->errsz, STORE_EINVAL, "invalid domain name");
	if (dkim_encode(keys, c->rec, sizeof c->rec, &c->len) != 0) {
		sodium_memzero(c->rec, sizeof c->rec);
		return store_err(c->err, c->errsz, STORE_EINVAL, "invalid DKIM key set");
	}
	return STORE_OK;
}

int store_dkim_put(struct store *st, const char *domain, const struct dkim_keys *keys, int replace,
                   char *err, size_t errsz)
{
	struct dkim_ctx c = {.replace = replace, .err = err, .errsz = errsz};
	int rc = dkim_ctx_init(&c, domain, keys);

	if (rc != STORE_OK)
		return rc;
	rc = store_write(st, dkim_put_fn, &c);
	sodium_memzero(c.rec, sizeof c.rec);
	if (rc == STORE_ETEMP || rc == STORE_EFULL)
		store_err(err, errsz, rc,
			  rc == STORE_EFULL ? STORE_EFULL_TEXT : "store error, see the log");
	else if (rc == STORE_OK)
		log_info("store", NULL, "event=dkim_keys_stored domain=%s keys=%u replaced=%d",
		         c.name, keys->n, replace ? 1 : 0);
	return rc;
}

int store_domain_add_dkim(struct store *st, const char *domain, const struct dkim_keys *keys,
                          char *err, size_t errsz)
{
	struct dkim_ctx c = {.err = err, .errsz = errsz};
	int rc = dkim_ctx_init(&c, domain, keys);

	if (rc != STORE_OK)
		return rc;
	rc = store_domain_add_then(st, domain, dkim_put_fn, &c, err, errsz);
	sodium_memzero(c.rec, sizeof c.rec);
	if (rc == STORE_OK)
		log_info("store", NULL, "event=dkim_keys_stored domain=%s keys=%u replaced=0",
		         c.name, keys->n);
	return rc;
}

/* The last record this thread decoded (heap, made on first use). It holds
 * private keys, so it is wiped and freed when the thread ends. */
struct dkim_last {
	char name[STORE_DOMAIN_MAX + 1];
	size_t len;
	uint8_t rec[DKIM_REC_MAX];
	struct dkim_keys keys;
};
static _Thread_local struct dkim_last *dkim_last;

/* When the thread ends (thread_exit.h). */
static void dkim_last_free(void)
{
	sodium_memzero(dkim_last, sizeof *dkim_last);
	free(dkim_last);
	dkim_last = NULL;
}

/* This thread's cache, made on first use; NULL when there is no memory or
 * no way to free it at thread exit, and then every lookup decodes. */
static struct dkim_last *dkim_last_get(void)
{
	if (dkim_last != NULL)
		return dkim_last;
	struct dkim_last *l = calloc(1, sizeof *l);
	if (l == NULL)
		return NULL;
	dkim_last = l;
	if (thread_at_exit(dkim_last_free) != 0) {
		free(l);
		dkim_last = NULL;
	}
	return dkim_last;
}

/* Decodes rec, or copies the keys this thread decoded from the same bytes. */
static int dkim_decode_cached(const char *name, const uint8_t *rec, size_t len,
                              struct dkim_keys *keys_r)
{
	struct dkim_last *l = dkim_last;

	if (l != NULL && l->len == len && strcmp(l->name, name) == 0 &&
	    memcmp(l->rec, rec, len) == 0) {
		*keys_r = l->keys;
		return 0;
	}
	if (dkim_decode(rec, len, keys_r) != 0)
		return -1;
	if (l == NULL && (l = dkim_last_get()) == NULL)
		return 0; /* no cache: decode every time */
	memcpy(l->name, name, strlen(name) + 1);
	memcpy(l->rec, rec, len);
	l->len = len;
	l->keys = *keys_r;
	return 0;
}

int store_dkim_get_either(struct store *st, const char *domain, struct dkim_keys *keys_r)
{
	char alt[STORE_DOMAIN_MAX + 1];
	/* The keys are the domain's as it was added, in either spelling
	 * (RFC 5890 §2.3.2.1); d= is its A-label form (RFC 8616 §4). */
	int rc = store_dkim_get(st, domain, keys_r);
	if (rc == STORE_ENOTFOUND && punycode_domain_other(str_c(domain), alt, sizeof alt) > 0)
		rc = store_dkim_get(st, alt, keys_r);
	return rc;
}

int store_dkim_sign(struct store *st, const char *domain, const struct str *p, size_t n,
                    struct buf *sigs, unsigned *nsigs_r)
{
	struct dkim_keys *keys;
	struct dkim_signer sg;
	int rc;

	char d[DKIM_DOMAIN_MAX + 1];

	*nsigs_r = 0;
	if (!domain || !domain[0] || dkim_domain_ascii(domain, d) != 0)
		return DKIM_EINVAL;
	keys = xmalloc(sizeof(*keys));
	rc = store_dkim_get_either(st, domain, keys);
	if (rc == STORE_OK && (rc = dkim_signer_init(&sg, keys, d, time_wall())) == DKIM_OK) {
		for (size_t i = 0; i < n; i++)
			dkim_signer_update(&sg, p[i].p, p[i].len);
		rc = dkim_signer_final(&sg, sigs);
		if (rc == DKIM_OK)
			*nsigs_r = keys->n;
		else
			buf_reset(sigs);
		dkim_signer_clear(&sg);
	}
	dkim_keys_wipe(keys);
	free(keys);
	return rc;
}

/* The record of name as stored, copied out of the read transaction into
 * rec (DKIM_REC_MAX octets). 0, MDB_NOTFOUND, or another LMDB error. */
static int dkim_read(struct store *st, const char *name, uint8_t *rec, size_t *len_r)
{
	MDB_txn *txn;
	MDB_val v;
	int rc;

	*len_r = 0;
	if ((rc = store_rd_begin(st, &txn)) != 0)
		return rc;
	MDB_val k = {strlen(name), (void *)name};
	rc = mdb_get(txn, st->db[DB_DKIM], &k, &v);
	if (rc == 0) {
		if (v.mv_size <= DKIM_REC_MAX) {
			*len_r = v.mv_size;
			memcpy(rec, v.mv_data, v.mv_size);
		} else {
			rc = MDB_CORRUPTED;
		}
	}
	store_rd_end(st, txn);
	return rc;
}

int store_dkim_get(struct store *st, const char *domain, struct dkim_keys *keys_r)
{
	char name[STORE_DOMAIN_MAX + 1];
	uint8_t rec[DKIM_REC_MAX];
	size_t len = 0;
	int rc;

	memset(keys_r, 0, sizeof *keys_r);
	if (name_domain(domain, name, sizeof name) != 0)
		return STORE_ENOTFOUND;
	rc = dkim_read(st, name, rec, &len);
	if (rc == MDB_NOTFOUND)
		return STORE_ENOTFOUND;
	if (rc == 0 && dkim_decode_cached(name, rec, len, keys_r) != 0)
		rc = MDB_CORRUPTED;
	sodium_memzero(rec, sizeof rec);
	if (rc) {
		log_error("store", NULL, "event=dkim_read_failed domain=%s error=\"%s\"", name,
		          mdb_strerror(rc));
		return STORE_ETEMP;
	}
	return STORE_OK;
}

/* ---- replacing one algorithm's key (an imported key) ---- */

/* The put of store_dkim_set_key: the record read before (old) must still
 * be the stored one, else another writer came between and the caller
 * starts again from what it wrote. */
struct dkim_swap {
	struct dkim_ctx c;
	uint8_t old[DKIM_REC_MAX];
	size_t old_len;
	int raced;
};

static int dkim_swap_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct dkim_swap *w = ctx;
	MDB_val k = {strlen(w->c.name), w->c.name}, v;
	int rc = mdb_get(txn, st->db[DB_DKIM], &k, &v);

	w->raced = 0;
	if (rc == MDB_NOTFOUND)
		return store_err(w->c.err, w->c.errsz, STORE_ENOTFOUND, "no domain %s", w->c.name);
	if (rc)
		return rc;
	if (v.mv_size != w->old_len || sodium_memcmp(v.mv_data, w->old, w->old_len) != 0) {
		w->raced = 1;
		return store_err(w->c.err, w->c.errsz, STORE_EEXIST, "DKIM keys changed meanwhile");
	}
	v = (MDB_val){w->c.len, w->c.rec};
	return mdb_put(txn, st->db[DB_DKIM], &k, &v, 0);
}

/* keys with every key of key's algorithm replaced by key (at the place of
 * the first one, or added last). STORE_OK, or STORE_EINVAL when the
 * selector is another algorithm's or the set is full. */
static int keys_swap(struct dkim_keys *keys, const struct dkim_key *key, char *err, size_t errsz)
{
	struct dkim_keys out = {0};
	int placed = 0, rc = STORE_OK;

	for (unsigned i = 0; i < keys->n; i++) {
		const struct dkim_key *o = &keys->key[i];
		if (o->alg != key->alg) {
			if (strcmp(o->selector, key->selector) == 0) {
				rc = store_err(err, errsz, STORE_EINVAL,
				               "selector %s is the %s key's: one selector is one DNS "
				               "record, give another",
				               key->selector, dkim_alg_name(o->alg));
				break;
			}
			out.key[out.n++] = *o;
		} else if (!placed) {
			out.key[out.n++] = *key;
			placed = 1;
		}
	}
	if (rc == STORE_OK && !placed) {
		if (out.n == DKIM_KEYS_MAX)
			rc = store_err(err, errsz, STORE_EINVAL, "the domain has %d DKIM keys already",
			               DKIM_KEYS_MAX);
		else
			out.key[out.n++] = *key;
	}
	if (rc == STORE_OK)
		*keys = out;
	dkim_keys_wipe(&out);
	return rc;
}

int store_dkim_set_key(struct store *st, const char *domain, const struct dkim_key *key,
                       struct dkim_keys *keys_r, char *err, size_t errsz)
{
	struct dkim_swap *w = xcalloc(1, sizeof *w);
	int rc = STORE_ETEMP;

	memset(keys_r, 0, sizeof *keys_r);
	w->c.replace = 1;
	w->c.err = err;
	w->c.errsz = errsz;
	if (name_domain(domain, w->c.name, sizeof w->c.name) != 0) {
		rc = store_err(err, errsz, STORE_EINVAL, "invalid domain name");
		goto out;
	}
	/* Decoding checks each RSA key (modular arithmetic): done outside the
	 * write, which then only compares bytes. A writer between the two
	 * (another import, a rotation) sends us round again. */
	for (int attempt = 0; attempt < 8; attempt++) {
		int r = dkim_read(st, w->c.name, w->old, &w->old_len);
		if (r == MDB_NOTFOUND) {
			rc = store_err(err, errsz, STORE_ENOTFOUND, "domain %s has no DKIM keys",
			               w->c.name);
			goto out;
		}
		if (r != 0 || dkim_decode(w->old, w->old_len, keys_r) != 0) {
			log_error("store", NULL, "event=dkim_read_failed domain=%s", w->c.name);
			rc = store_err(err, errsz, STORE_ETEMP, "store error, see the log");
			goto out;
		}
		if ((rc = keys_swap(keys_r, key, err, errsz)) != STORE_OK)
			goto out;
		if (dkim_encode(keys_r, w->c.rec, sizeof w->c.rec, &w->c.len) != 0) {
			rc = store_err(err, errsz, STORE_EINVAL, "invalid DKIM key");
			goto out;
		}
		rc = store_write(st, dkim_swap_fn, w);
		if (rc != STORE_EEXIST || !w->raced)
			break;
		dkim_keys_wipe(keys_r);
	}
	if (rc == STORE_ETEMP || rc == STORE_EFULL)
		store_err(err, errsz, rc,
		          rc == STORE_EFULL ? STORE_EFULL_TEXT : "store error, see the log");
	else if (rc == STORE_OK)
		log_info("store", NULL, "event=dkim_key_imported domain=%s alg=%s selector=%s",
		         w->c.name, dkim_alg_name(key->alg), key->selector);
out:
	if (rc != STORE_OK)
		dkim_keys_wipe(keys_r);
	sodium_memzero(w, sizeof *w);
	free(w);
	return rc;
}
