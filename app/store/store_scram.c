/*
 * store_scram.c — an account's SCRAM keys (auth/scram.h), kept in meta
 * under "scram/<account id>" (a new key only: no schema change; layout
 * in SCHEMA.md), sealed like the TOTP secrets (admin/admin_secret.h,
 * the data directory's secrets.key): a copy of data.mdb alone gives
 * neither StoredKey (enough, with one captured exchange, to sign in) nor
 * ServerKey (enough to pose as the server).
 *
 * The record carries a digest of the argon2id hash it was made beside:
 * keys made for an older password (a password set by a build that did
 * not know SCRAM, a store restored under another password) are then
 * never used, whatever path changed the password. store_account_add and
 * store_account_passwd write it in their own transaction; an account
 * without one, or with one that no longer opens (secrets.key lost or
 * replaced), gains a new one at its next password login (store_admin.c).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "store/store_private.h"

static MDB_val scram_key(char buf[32], uint32_t id)
{
	int n = snprintf(buf, 32, "scram/%u", id);
	return (MDB_val){(size_t)n, buf};
}

void scram_bind(const char *hash, uint8_t out[SCRAM_BIND])
{
	crypto_generichash(out, SCRAM_BIND, (const uint8_t *)hash, strlen(hash), NULL, 0);
}

int scram_put_txn(MDB_txn *txn, struct store *st, uint32_t id, const char *hash,
		  const char sealed[2][STORE_SCRAM_SEALED_MAX])
{
	char kb[32];
	size_t l0 = strlen(sealed[0]), l1 = strlen(sealed[1]);
	MDB_val k = scram_key(kb, id), v = {1 + SCRAM_BIND + 2 + l0 + 2 + l1, NULL};
	int rc = mdb_put(txn, st->db[DB_META], &k, &v, MDB_RESERVE);

	if (rc)
		return rc;
	uint8_t *p = v.mv_data;
	*p++ = REC_V1;
	scram_bind(hash, p);
	p += SCRAM_BIND;
	for (int i = 0; i < 2; i++) {
		size_t l = i ? l1 : l0;
		*p++ = (uint8_t)(l >> 8);
		*p++ = (uint8_t)l;
		memcpy(p, sealed[i], l);
		p += l;
	}
	return 0;
}

int scram_del_txn(MDB_txn *txn, struct store *st, uint32_t id)
{
	char kb[32];
	MDB_val k = scram_key(kb, id);
	int rc = mdb_del(txn, st->db[DB_META], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int scram_set_txn(MDB_txn *txn, struct store *st, uint32_t id, const char *hash,
		  const char sealed[2][STORE_SCRAM_SEALED_MAX])
{
	if (hash[0] && sealed[0][0] && sealed[1][0])
		return scram_put_txn(txn, st, id, hash, sealed);
	return scram_del_txn(txn, st, id);
}

int scram_get_txn(MDB_txn *txn, struct store *st, uint32_t id, const char *hash, int which,
		  char *sealed, size_t sealedsz)
{
	char kb[32];
	uint8_t bind[SCRAM_BIND];
	MDB_val k = scram_key(kb, id), v;
	int rc = mdb_get(txn, st->db[DB_META], &k, &v);

	sealed[0] = '\0';
	if (rc)
		return rc == MDB_NOTFOUND ? 0 : rc;
	struct rec_r r = rr_init(&v);
	if (rr_u8(&r) != REC_V1)
		return MDB_CORRUPTED;
	const uint8_t *b = rr_bytes(&r, SCRAM_BIND);
	char s[2][STORE_SCRAM_SEALED_MAX];
	rr_str16(&r, s[0], sizeof s[0]);
	rr_str16(&r, s[1], sizeof s[1]);
	if (r.bad)
		return MDB_CORRUPTED;
	scram_bind(hash, bind);
	/* Keys made beside another password hash are not this password's. */
	if (hash[0] && sodium_memcmp(b, bind, SCRAM_BIND) == 0)
		snprintf(sealed, sealedsz, "%s", s[which ? 1 : 0]);
	sodium_memzero(s, sizeof s);
	return 0;
}

struct scram_op {
	uint32_t id;
	const char *hash;
	const char (*sealed)[STORE_SCRAM_SEALED_MAX];
};

static int put_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct scram_op *o = ctx;
	struct acct_rec a;
	int rc = acct_get(txn, st, o->id, &a);

	/* Only while the password is still the one the keys were made from. */
	if (rc == 0 && strcmp(a.hash, o->hash) == 0)
		rc = scram_put_txn(txn, st, o->id, o->hash, o->sealed);
	sodium_memzero(a.hash, sizeof a.hash);
	return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
}

int scram_store_later(struct store *st, uint32_t id, const char *hash,
		      const char sealed[2][STORE_SCRAM_SEALED_MAX])
{
	struct scram_op o = {id, hash, sealed};
	return store_write(st, put_fn, &o);
}

int store_account_scram(struct store *st, const char *email, int which, struct store_scram *r)
{
	char addr[STORE_ADDR_MAX + 1];
	struct acct_rec a;
	size_t at;
	MDB_txn *txn;

	memset(r, 0, sizeof *r);
	if (name_address(email, 0, addr, sizeof addr, &at) != 0)
		return STORE_ENOTFOUND;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = name_lookup(txn, st, addr, &r->id);
	if (rc == 0)
		rc = acct_get(txn, st, r->id, &a);
	if (rc == 0 && a.hash[0] == '\0')
		rc = MDB_NOTFOUND; /* no password: no sign-in */
	if (rc == 0) {
		r->active = a.state == STORE_ACCOUNT_ACTIVE;
		r->totp = totp_on_txn(txn, st, r->id);
		if (r->totp < 0)
			rc = MDB_CORRUPTED;
	}
	if (rc == 0)
		rc = scram_get_txn(txn, st, r->id, a.hash, which, r->sealed, sizeof r->sealed);
	if (rc == 0)
		r->cred = cred_stamp(&a, 0, r->totp);
	store_rd_end(st, txn);
	if (rc == 0 || rc == MDB_NOTFOUND)
		sodium_memzero(a.hash, sizeof a.hash);
	if (rc) {
		sodium_memzero(r, sizeof *r);
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : STORE_ETEMP;
	}
	return STORE_OK;
}
