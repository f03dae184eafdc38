/*
 * store_forward.c — an account's own forwarding to outside addresses (the
 * portal's "Forwarding"), kept in meta under "forward/<account id>" (a new
 * key only: no schema change; layout in SCHEMA.md).
 *
 * Why not an alias: an alias on the account's own address would shadow
 * the account in resolution (aliases are tried first) and is refused by
 * store_alias_add. So the record hangs off the account, and resolution
 * (store_resolve.c) adds its targets as outside forwards named by the
 * account's address once the account is reached: everything after that —
 * the forward rate per address, SRS, the ARC set, the queue entry in the
 * delivery's commit — is the alias forwarding's one mechanism
 * (smtp_forward.c, forward/forward_copy.h). Without "keep" the account
 * gets no copy of what is forwarded.
 *
 * Targets must be outside our domains when set; a domain added later
 * that makes one local is resolved as a local address then (the alias
 * rules, cycles included), never looked at as an outside one.
 */
#include <stdio.h>
#include <string.h>

#include "store/store_private.h"

static MDB_val fwd_key(char buf[32], uint32_t id)
{
	int n = snprintf(buf, 32, "forward/%u", id);
	return (MDB_val){(size_t)n, buf};
}

int fwd_get_txn(MDB_txn *txn, struct store *st, uint32_t id, struct store_account_forward *f)
{
	char kb[32];
	MDB_val k = fwd_key(kb, id), v;

	memset(f, 0, sizeof *f);
	int rc = mdb_get(txn, st->db[DB_META], &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	const char *p = v.mv_data, *end = p + v.mv_size;
	if (v.mv_size < 2 || (uint8_t)p[0] != REC_V1)
		return MDB_CORRUPTED;
	f->keep = p[1] != 0;
	p += 2;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		if (len == 0 || len > STORE_ADDR_MAX || f->n == STORE_FORWARD_MAX)
			return MDB_CORRUPTED;
		memcpy(f->to[f->n], p, len);
		f->to[f->n++][len] = '\0';
		p += len + (nl ? 1 : 0);
	}
	return 0;
}

int fwd_del_txn(MDB_txn *txn, struct store *st, uint32_t id)
{
	char kb[32];
	MDB_val k = fwd_key(kb, id);
	int rc = mdb_del(txn, st->db[DB_META], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_account_forward_get(struct store *st, uint32_t id, struct store_account_forward *f_r)
{
	MDB_txn *txn;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = fwd_get_txn(txn, st, id, f_r);
	store_rd_end(st, txn);
	return rc ? STORE_ETEMP : STORE_OK;
}

struct fwd_op {
	uint32_t id;
	struct store_account_forward f; /* canonical targets */
	char *err;
	size_t errsz;
};

static int put_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct fwd_op *o = ctx;
	struct acct_rec a;
	int rc = acct_get(txn, st, o->id, &a);
	explicit_bzero(a.hash, sizeof a.hash);
	if (rc)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	/* Checked here, in the transaction, against the domains as they are. */
	for (size_t i = 0; i < o->f.n; i++) {
		const char *at = strrchr(o->f.to[i], '@');
		MDB_val dk = {strlen(at + 1), (void *)(at + 1)}, v;
		rc = mdb_get(txn, st->db[DB_DOMAIN], &dk, &v);
		if (rc == 0) {
			snprintf(o->err, o->errsz, "%s is at one of our domains: use an alias",
				 o->f.to[i]);
			return STORE_EINVAL;
		}
		if (rc != MDB_NOTFOUND)
			return rc;
	}
	if (o->f.n == 0)
		return fwd_del_txn(txn, st, o->id);
	char kb[32];
	MDB_val k = fwd_key(kb, o->id), v = {2, NULL};
	for (size_t i = 0; i < o->f.n; i++)
		v.mv_size += strlen(o->f.to[i]) + (i ? 1 : 0);
	if ((rc = mdb_put(txn, st->db[DB_META], &k, &v, MDB_RESERVE)) != 0)
		return rc;
	char *p = v.mv_data;
	*p++ = (char)REC_V1;
	*p++ = (char)(o->f.keep ? 1 : 0);
	for (size_t i = 0; i < o->f.n; i++) {
		if (i)
			*p++ = '\n';
		size_t l = strlen(o->f.to[i]);
		memcpy(p, o->f.to[i], l);
		p += l;
	}
	return 0;
}

int store_account_forward_set(struct store *st, uint32_t id, const struct store_account_forward *f,
			      char *err, size_t errsz)
{
	struct fwd_op o = {.id = id, .err = err, .errsz = errsz};
	size_t at;

	if (errsz)
		err[0] = '\0';
	if (f->n > STORE_FORWARD_MAX) {
		snprintf(err, errsz, "at most %d addresses", STORE_FORWARD_MAX);
		return STORE_EINVAL;
	}
	o.f.keep = f->keep;
	for (size_t i = 0; i < f->n; i++) {
		char canon[STORE_ADDR_MAX + 1];
		if (name_address(f->to[i], 0, canon, sizeof canon, &at) != 0) {
			snprintf(err, errsz, "invalid address %.100s", f->to[i]);
			return STORE_EINVAL;
		}
		size_t j = 0;
		while (j < o.f.n && strcmp(o.f.to[j], canon) != 0)
			j++;
		if (j == o.f.n) /* each address once */
			memcpy(o.f.to[o.f.n++], canon, sizeof canon);
	}
	return store_write(st, put_fn, &o);
}
