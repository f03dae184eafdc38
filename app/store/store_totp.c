/*
 * store_totp.c — the two-factor (TOTP) record of an account or of the web
 * admin, kept in meta under "totp/<account id>" or "totp/admin" (new keys
 * only: no schema change; layout in SCHEMA.md).
 *
 * The store keeps the secret as the caller gives it (auth/twofactor.c
 * seals it with the data directory's key first) and never computes a
 * code: what must happen here, inside one write transaction, is the
 * refusal of a replay. store_totp_advance() moves the last accepted step
 * forward only, and store_totp_recovery_use() clears one recovery code's
 * hash, so two sign-ins racing with one code or one recovery code cannot
 * both succeed.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "store/store_private.h"

static MDB_val totp_key(char buf[32], uint32_t owner)
{
	int n = owner ? snprintf(buf, 32, "totp/%u", owner) : snprintf(buf, 32, "totp/admin");
	return (MDB_val){(size_t)n, buf};
}

static size_t totp_size(const struct store_totp *t)
{
	return 1 + 1 + 8 + 8 + 2 + strlen(t->secret) + 1 +
	       (size_t)STORE_TOTP_RECOVERY * STORE_TOTP_HASH;
}

static int totp_dec(const MDB_val *v, struct store_totp *t)
{
	struct rec_r r = rr_init(v);

	memset(t, 0, sizeof *t);
	if (rr_u8(&r) != REC_V1)
		return MDB_CORRUPTED;
	t->on = rr_u8(&r);
	t->last_step = rr_u64(&r);
	t->created_at = (int64_t)rr_u64(&r);
	rr_str16(&r, t->secret, sizeof t->secret);
	unsigned n = rr_u8(&r);
	if (n > STORE_TOTP_RECOVERY)
		return MDB_CORRUPTED;
	for (unsigned i = 0; i < n; i++)
		memcpy(t->recovery[i], rr_bytes(&r, STORE_TOTP_HASH), STORE_TOTP_HASH);
	return r.bad ? MDB_CORRUPTED : 0;
}

static int totp_get_txn(MDB_txn *txn, struct store *st, uint32_t owner, struct store_totp *t)
{
	char kb[32];
	MDB_val k = totp_key(kb, owner), v;
	int rc = mdb_get(txn, st->db[DB_META], &k, &v);
	return rc ? rc : totp_dec(&v, t);
}

static int totp_put_txn(MDB_txn *txn, struct store *st, uint32_t owner, const struct store_totp *t)
{
	char kb[32];
	MDB_val k = totp_key(kb, owner), v = {totp_size(t), NULL};
	int rc = mdb_put(txn, st->db[DB_META], &k, &v, MDB_RESERVE);
	if (rc)
		return rc;
	uint8_t *p = v.mv_data;
	size_t sl = strlen(t->secret);
	*p++ = REC_V1;
	*p++ = (uint8_t)(t->on ? 1 : 0);
	be64_put(p, t->last_step);
	be64_put(p + 8, (uint64_t)t->created_at);
	p += 16;
	*p++ = (uint8_t)(sl >> 8);
	*p++ = (uint8_t)sl;
	memcpy(p, t->secret, sl);
	p += sl;
	*p++ = STORE_TOTP_RECOVERY;
	memcpy(p, t->recovery, sizeof t->recovery);
	return 0;
}

int totp_on_txn(MDB_txn *txn, struct store *st, uint32_t owner)
{
	struct store_totp t = {.on = 0};
	int rc = totp_get_txn(txn, st, owner, &t), on = t.on;
	sodium_memzero(&t, sizeof t);
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc ? -1 : on;
}

int totp_del_txn(MDB_txn *txn, struct store *st, uint32_t owner)
{
	char kb[32];
	MDB_val k = totp_key(kb, owner);
	int rc = mdb_del(txn, st->db[DB_META], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_totp_get(struct store *st, uint32_t owner, struct store_totp *t_r)
{
	MDB_txn *txn;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = totp_get_txn(txn, st, owner, t_r);
	store_rd_end(st, txn);
	if (rc)
		sodium_memzero(t_r, sizeof *t_r);
	return store_mdb_code(rc);
}

struct totp_op {
	uint32_t owner;
	const struct store_totp *put;
	uint64_t step;
	const uint8_t *hash;
	int del, result;
};

static int put_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct totp_op *o = ctx;
	if (o->owner) {
		struct acct_rec a;
		int rc = acct_get(txn, st, o->owner, &a);
		sodium_memzero(a.hash, sizeof a.hash);
		if (rc)
			return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	}
	if (o->del) {
		char kb[32];
		MDB_val k = totp_key(kb, o->owner);
		int rc = mdb_del(txn, st->db[DB_META], &k, NULL);
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	}
	return totp_put_txn(txn, st, o->owner, o->put);
}

int store_totp_put(struct store *st, uint32_t owner, const struct store_totp *t)
{
	struct totp_op o = {.owner = owner, .put = t};
	if (strlen(t->secret) == 0)
		return STORE_EINVAL;
	return store_write(st, put_fn, &o);
}

int store_totp_del(struct store *st, uint32_t owner)
{
	struct totp_op o = {.owner = owner, .del = 1};
	return store_write(st, put_fn, &o);
}

static int advance_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct totp_op *o = ctx;
	struct store_totp t;
	int rc = totp_get_txn(txn, st, o->owner, &t);

	o->result = 0;
	if (rc == 0 && o->step > t.last_step) {
		t.last_step = o->step;
		rc = totp_put_txn(txn, st, o->owner, &t);
		o->result = rc == 0;
	}
	sodium_memzero(&t, sizeof t);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_totp_advance(struct store *st, uint32_t owner, uint64_t step)
{
	struct totp_op o = {.owner = owner, .step = step};
	int rc = store_write(st, advance_fn, &o);
	return rc == STORE_OK ? o.result : rc;
}

static int recovery_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	static const uint8_t zero[STORE_TOTP_HASH];
	struct totp_op *o = ctx;
	struct store_totp t;
	int rc = totp_get_txn(txn, st, o->owner, &t), hit = -1;

	o->result = 0;
	if (rc == 0 && t.on) {
		/* Every slot is compared, in constant time, whatever matched. */
		for (int i = 0; i < STORE_TOTP_RECOVERY; i++)
			if (sodium_memcmp(t.recovery[i], zero, STORE_TOTP_HASH) != 0 &&
			    sodium_memcmp(t.recovery[i], o->hash, STORE_TOTP_HASH) == 0)
				hit = i;
		if (hit >= 0) {
			memset(t.recovery[hit], 0, STORE_TOTP_HASH);
			rc = totp_put_txn(txn, st, o->owner, &t);
			o->result = rc == 0;
		}
	}
	sodium_memzero(&t, sizeof t);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_totp_recovery_use(struct store *st, uint32_t owner, const uint8_t hash[STORE_TOTP_HASH])
{
	struct totp_op o = {.owner = owner, .hash = hash};
	int rc = store_write(st, recovery_fn, &o);
	return rc == STORE_OK ? o.result : rc;
}
