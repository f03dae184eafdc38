/*
 * store_crypt.c — an account's encryption at rest setting (crypt/
 * crypt_rest.h): its public key (an OpenPGP key or an S/MIME
 * certificate, as the user gave it) and the cipher, kept in meta under
 * "encrypt/<account id>" (a new key only: no schema change; layout in
 * SCHEMA.md). The store keeps the text and never reads it: the key is
 * checked by crypt_key_load() before it is set, and read again at each
 * delivery, so a record is only ever what the user uploaded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_private.h"

static MDB_val enc_key(char buf[32], uint32_t id)
{
	int n = snprintf(buf, 32, "encrypt/%u", id);
	return (MDB_val){(size_t)n, buf};
}

/* Fixed part: version, method, cipher bits (u16), set_at (i64), flags
 * (bit 0: on_append). */
#define HEAD 13

int enc_del_txn(MDB_txn *txn, struct store *st, uint32_t id)
{
	char kb[32];
	MDB_val k = enc_key(kb, id);
	int rc = mdb_del(txn, st->db[DB_META], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

void store_encrypt_free(struct store_encrypt *e)
{
	free(e->key);
	memset(e, 0, sizeof *e);
}

int store_account_encrypt_get(struct store *st, uint32_t id, struct store_encrypt *e_r)
{
	MDB_txn *txn;
	char kb[32];
	MDB_val k = enc_key(kb, id), v;

	memset(e_r, 0, sizeof *e_r);
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = mdb_get(txn, st->db[DB_META], &k, &v);
	if (rc == 0) {
		const uint8_t *p = v.mv_data;
		size_t n = v.mv_size;
		if (n < HEAD || p[0] != REC_V1 || n - HEAD > STORE_ENCRYPT_KEY_MAX) {
			rc = MDB_CORRUPTED;
		} else {
			e_r->method = p[1];
			e_r->aes_bits = p[2] << 8 | p[3];
			uint64_t at = 0;
			for (int i = 0; i < 8; i++)
				at = at << 8 | p[4 + i];
			e_r->set_at = (int64_t)at;
			e_r->on_append = p[12] & 1;
			e_r->keylen = n - HEAD;
			e_r->key = malloc(e_r->keylen + 1);
			if (!e_r->key) {
				rc = ENOMEM;
			} else {
				memcpy(e_r->key, p + HEAD, e_r->keylen);
				e_r->key[e_r->keylen] = '\0';
			}
		}
	}
	store_rd_end(st, txn);
	if (rc == MDB_NOTFOUND)
		return STORE_OK;
	if (rc) {
		store_encrypt_free(e_r);
		return STORE_ETEMP;
	}
	return STORE_OK;
}

struct enc_op {
	uint32_t id;
	const struct store_encrypt *e;
};

static int put_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct enc_op *o = ctx;
	struct acct_rec a;
	int rc = acct_get(txn, st, o->id, &a);
	explicit_bzero(a.hash, sizeof a.hash);
	if (rc)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	if (o->e->method == 0)
		return enc_del_txn(txn, st, o->id);
	char kb[32];
	MDB_val k = enc_key(kb, o->id), v = {HEAD + o->e->keylen, NULL};
	if ((rc = mdb_put(txn, st->db[DB_META], &k, &v, MDB_RESERVE)) != 0)
		return rc;
	uint8_t *p = v.mv_data;
	p[0] = REC_V1;
	p[1] = (uint8_t)o->e->method;
	p[2] = (uint8_t)(o->e->aes_bits >> 8);
	p[3] = (uint8_t)o->e->aes_bits;
	uint64_t at = (uint64_t)o->e->set_at;
	for (int i = 7; i >= 0; i--, at >>= 8)
		p[4 + i] = (uint8_t)at;
	p[12] = o->e->on_append ? 1 : 0;
	memcpy(p + HEAD, o->e->key, o->e->keylen);
	return 0;
}

int store_account_encrypt_set(struct store *st, uint32_t id, const struct store_encrypt *e)
{
	if (e->method < 0 || e->method > 255 || e->keylen > STORE_ENCRYPT_KEY_MAX ||
	    (e->method && (e->aes_bits < 0 || e->aes_bits > 65535)))
		return STORE_EINVAL;
	struct enc_op o = {id, e};
	return store_write(st, put_fn, &o);
}
