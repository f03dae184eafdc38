/*
 * store_queue.c — outbound queue records: codec, schedule index, blob
 * references, and the synchronous operations of `tern queue`. See
 * store_queue.h; layouts in SCHEMA.md ("queue", "queue_due").
 */
#include "store/store_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/loop.h"
#include "core/xalloc.h"
#include "store/store_private.h"

#define QUEUE_NEXT_ID "queue_next_id"

void store_queue_entry_free(struct store_queue_entry *e)
{
	free(e->sender);
	free(e->envid);
	for (size_t i = 0; i < e->nrcpts; i++) {
		free(e->rcpts[i].addr);
		free(e->rcpts[i].orcpt);
		free(e->rcpts[i].status);
		free(e->rcpts[i].remote);
	}
	free(e->rcpts);
	e->sender = e->envid = NULL;
	e->rcpts = NULL;
	e->nrcpts = 0;
}

static size_t cap(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	return n > max ? max : n;
}

static void rw_s(struct rec_w *w, const char *s, size_t max)
{
	rw_str16(w, s ? s : "", cap(s, max));
}

static void entry_enc(struct rec_w *w, const void *rec)
{
	const struct store_queue_entry *e = rec;

	rw_u8(w, REC_V1);
	rw_u64(w, (uint64_t)e->created_at);
	rw_u64(w, (uint64_t)e->next_attempt);
	rw_u32(w, e->account);
	rw_u32(w, e->attempts);
	rw_u32(w, e->flags);
	rw_u64(w, e->size);
	rw_bytes(w, e->blob_id, 32);
	rw_s(w, e->sender, SQ_ADDR_MAX);
	rw_s(w, e->envid, SQ_ENVID_MAX);
	rw_u16(w, (uint16_t)e->nrcpts);
	for (size_t i = 0; i < e->nrcpts; i++) {
		const struct store_queue_rcpt *r = &e->rcpts[i];
		rw_u8(w, r->state);
		rw_u8(w, r->notify);
		rw_u8(w, r->dsn_done);
		rw_s(w, r->addr, SQ_ADDR_MAX);
		rw_s(w, r->orcpt, SQ_ORCPT_MAX);
		rw_s(w, r->status, SQ_STATUS_MAX);
		rw_s(w, r->remote, 255);
	}
	/* Trailers older records lack (read as "none"), each there only
	 * with its flag, in this order. */
	if (e->flags & SQ_BY)
		rw_u64(w, (uint64_t)e->by_deadline);
	if (e->flags & SQ_MT_PRIORITY)
		rw_u8(w, (uint8_t)e->priority);
	if (e->flags & SQ_LAST_UPDATE)
		rw_u64(w, e->last_update);
}

static size_t entry_size(const struct store_queue_entry *e)
{
	struct rec_w w = {NULL, 0, 0};
	entry_enc(&w, e);
	return w.len;
}

static char *rr_dup(struct rec_r *r)
{
	uint16_t n = rr_u16(r);
	const uint8_t *p = rr_bytes(r, n);
	return p ? xstrndup((const char *)p, n) : xstrdup("");
}

static int entry_dec(const MDB_val *k, const MDB_val *v, struct store_queue_entry *e)
{
	struct rec_r r = rr_init(v);

	memset(e, 0, sizeof *e);
	if (k->mv_size != 8 || rr_u8(&r) != REC_V1)
		return MDB_CORRUPTED;
	e->id = be64_get(k->mv_data);
	e->created_at = (int64_t)rr_u64(&r);
	e->next_attempt = (int64_t)rr_u64(&r);
	e->account = rr_u32(&r);
	e->attempts = rr_u32(&r);
	e->flags = rr_u32(&r);
	e->size = rr_u64(&r);
	const uint8_t *id = rr_bytes(&r, 32);
	if (id)
		memcpy(e->blob_id, id, 32);
	e->sender = rr_dup(&r);
	e->envid = rr_dup(&r);
	e->nrcpts = rr_u16(&r);
	e->rcpts = xcalloc(e->nrcpts ? e->nrcpts : 1, sizeof *e->rcpts);
	for (size_t i = 0; i < e->nrcpts; i++) {
		struct store_queue_rcpt *q = &e->rcpts[i];
		q->state = rr_u8(&r);
		q->notify = rr_u8(&r);
		q->dsn_done = rr_u8(&r);
		q->addr = rr_dup(&r);
		q->orcpt = rr_dup(&r);
		q->status = rr_dup(&r);
		q->remote = rr_dup(&r);
	}
	if ((e->flags & SQ_BY) && r.off < r.len)
		e->by_deadline = (int64_t)rr_u64(&r);
	else
		e->flags &= ~(SQ_BY | SQ_BY_RETURN | SQ_BY_TRACE);
	if ((e->flags & SQ_MT_PRIORITY) && r.off < r.len) {
		int8_t p = (int8_t)rr_u8(&r);
		e->priority = p < SQ_PRIORITY_MIN || p > SQ_PRIORITY_MAX ? 0 : p;
	}
	if ((e->flags & SQ_LAST_UPDATE) && r.off < r.len)
		e->last_update = rr_u64(&r);
	else
		e->flags &= ~SQ_LAST_UPDATE;
	if (r.bad) {
		store_queue_entry_free(e);
		return MDB_CORRUPTED;
	}
	return 0;
}

static MDB_val due_key(uint8_t b[16], int64_t due, uint64_t id)
{
	be64_put(b, due < 0 ? 0 : (uint64_t)due);
	be64_put(b + 8, id);
	return (MDB_val){16, b};
}

/* The priority an index value says: written after the version byte when
 * not 0 (values from before RFC 6710 support are the version byte alone). */
static int due_priority(const MDB_val *v)
{
	if (v->mv_size < 2)
		return 0;
	int8_t p = (int8_t)((const uint8_t *)v->mv_data)[1];
	return p < SQ_PRIORITY_MIN || p > SQ_PRIORITY_MAX ? 0 : p;
}

static int entry_write(struct store *st, MDB_txn *txn, const struct store_queue_entry *e)
{
	struct store_queue_entry w = *e;
	uint8_t kb[8], db[16], dval[2] = {REC_V1, (uint8_t)e->priority};
	MDB_val k = {8, kb};
	int rc;

	/* The flag says the trailer is there; it follows the value. */
	if (w.priority < SQ_PRIORITY_MIN || w.priority > SQ_PRIORITY_MAX)
		w.priority = 0;
	w.flags = w.priority ? w.flags | SQ_MT_PRIORITY : w.flags & ~SQ_MT_PRIORITY;
	w.flags = w.last_update ? w.flags | SQ_LAST_UPDATE : w.flags & ~SQ_LAST_UPDATE;
	dval[1] = (uint8_t)w.priority;
	be64_put(kb, e->id);
	if ((rc = rec_put(txn, st->db[DB_QUEUE], &k, entry_size(&w), entry_enc, &w, 0)) != 0)
		return rc;
	MDB_val dk = due_key(db, e->next_attempt, e->id), dv = {w.priority ? 2u : 1u, dval};
	return mdb_put(txn, st->db[DB_QUEUE_DUE], &dk, &dv, 0);
}

static int entry_remove(struct store *st, MDB_txn *txn, const struct store_queue_entry *e,
			int drop_blob)
{
	uint8_t kb[8], db[16];
	MDB_val k = {8, kb};
	int rc;

	be64_put(kb, e->id);
	rc = mdb_del(txn, st->db[DB_QUEUE], &k, NULL);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	MDB_val dk = due_key(db, e->next_attempt, e->id);
	rc = mdb_del(txn, st->db[DB_QUEUE_DUE], &dk, NULL);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	return drop_blob ? blob_unref(txn, st, e->blob_id) : 0;
}

int store_queue_add_txn(struct store *st, void *txnp, struct store_queue_entry *e,
			const char *data, size_t len)
{
	MDB_txn *txn = txnp;
	struct blobref_rec br;
	uint32_t next = 1;
	int rc;

	if (e->nrcpts == 0 || e->nrcpts > SQ_RCPTS_MAX || len >= UINT32_MAX - 1)
		return MDB_BAD_VALSIZE;
	rc = meta_get_u32(txn, st, QUEUE_NEXT_ID, &next);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	if (next == 0)
		next = 1;
	e->id = next;
	if ((rc = meta_put_u32(txn, st, QUEUE_NEXT_ID, next + 1 ? next + 1 : 1)) != 0)
		return rc;

	rc = blobref_get(txn, st, e->blob_id, &br);
	if (rc == 0) {
		if (br.size != len)
			return MDB_CORRUPTED; /* same id, other bytes: refuse, never mix */
		br.refs++;
		rc = blobref_put(txn, st, e->blob_id, &br);
	} else if (rc == MDB_NOTFOUND) {
		rc = blob_store(txn, st, e->blob_id, data, len, 1);
	}
	if (rc != 0)
		return rc;
	return entry_write(st, txn, e);
}

static int get_in(struct store *st, MDB_txn *txn, uint64_t id, struct store_queue_entry *e)
{
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;

	be64_put(kb, id);
	int rc = mdb_get(txn, st->db[DB_QUEUE], &k, &v);
	return rc ? rc : entry_dec(&k, &v, e);
}

int store_queue_get_txn(struct store *st, void *txn, uint64_t id, struct store_queue_entry *e)
{
	int rc = get_in(st, txn, id, e);
	return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
}

static int entry_finished(const struct store_queue_entry *e)
{
	for (size_t i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].state == SQ_PENDING || !e->rcpts[i].dsn_done)
			return 0;
	return 1;
}

/*
 * A finished entry an account submitted leaves its recipients' outcome
 * in meta "qdone/ACCOUNT/ID" (SCHEMA.md): JMAP's deliveryStatus reads it
 * once the entry is gone. Over 64 KiB (a meta value's most: a thousand
 * recipients) it goes on in "ID.1".."ID.3", which sort right after it
 * (ids are of fixed width). The oldest go past QDONE_KEEP per account.
 */
#define QDONE_KEEP 1000

static int qdone_put(struct store *st, MDB_txn *txn, const struct store_queue_entry *e)
{
	char key[64], prefix[32];
	size_t len = 0;
	int rc;

	snprintf(prefix, sizeof prefix, "qdone/%08x/", e->account);
	snprintf(key, sizeof key, "%s%016llx", prefix, (unsigned long long)e->id);
	for (size_t i = 0; i < e->nrcpts; i++)
		len += 4 + strlen(e->rcpts[i].addr) + strlen(e->rcpts[i].status);
	if (len > (size_t)STORE_QDONE_PARTS * STORE_QDONE_PART)
		return 0; /* too many to keep: deliveryStatus says unknown */
	uint8_t *val = xmalloc(len + 1), *p = val;
	/* One line per recipient: state digit, address, tab, last reply. */
	for (size_t i = 0; i < e->nrcpts; i++) {
		size_t a = strlen(e->rcpts[i].addr), s = strlen(e->rcpts[i].status);
		*p++ = (uint8_t)('0' + e->rcpts[i].state % 10);
		memcpy(p, e->rcpts[i].addr, a);
		p += a;
		*p++ = '\t';
		memcpy(p, e->rcpts[i].status, s);
		p += s;
		*p++ = '\n';
	}
	rc = 0;
	for (size_t off = 0, n = 0; (off < len || n == 0) && rc == 0; off += STORE_QDONE_PART, n++) {
		char pk[72];
		int kl = n ? snprintf(pk, sizeof pk, "%s.%zu", key, n) : snprintf(pk, sizeof pk, "%s", key);
		/* Each part a meta value: its version octet, then the text. */
		size_t pl = len - off < STORE_QDONE_PART ? len - off : STORE_QDONE_PART;
		MDB_val k = {(size_t)kl, pk}, v = {pl + 1, NULL};
		if ((rc = mdb_put(txn, st->db[DB_META], &k, &v, MDB_RESERVE)) == 0) {
			*(uint8_t *)v.mv_data = REC_V1;
			memcpy((uint8_t *)v.mv_data + 1, val + off, pl);
		}
	}
	free(val);
	if (rc != 0)
		return rc;
	/* Bounded: count this account's, drop the oldest (ids grow) with its
	 * parts. */
	MDB_cursor *cur;
	size_t plen = strlen(prefix), n = 0, klen = strlen(key);
	if ((rc = mdb_cursor_open(txn, st->db[DB_META], &cur)) != 0)
		return rc;
	MDB_val ck = {plen, prefix}, cv;
	for (rc = mdb_cursor_get(cur, &ck, &cv, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &ck, &cv, MDB_NEXT)) {
		if (ck.mv_size < plen || memcmp(ck.mv_data, prefix, plen))
			break;
		n += ck.mv_size == klen; /* not a part */
	}
	rc = 0;
	if (n > QDONE_KEEP) {
		ck = (MDB_val){plen, prefix};
		char first[72];
		if (mdb_cursor_get(cur, &ck, &cv, MDB_SET_RANGE) == 0 && ck.mv_size == klen &&
		    !memcmp(ck.mv_data, prefix, plen)) {
			memcpy(first, ck.mv_data, klen);
			rc = mdb_cursor_del(cur, 0);
			while (rc == 0) {
				ck = (MDB_val){klen, first};
				if (mdb_cursor_get(cur, &ck, &cv, MDB_SET_RANGE) != 0 || ck.mv_size <= klen ||
				    memcmp(ck.mv_data, first, klen) || ((char *)ck.mv_data)[klen] != '.')
					break;
				rc = mdb_cursor_del(cur, 0);
			}
		}
	}
	mdb_cursor_close(cur);
	return rc;
}

int store_queue_put_txn(struct store *st, void *txnp, const struct store_queue_entry *old,
			const struct store_queue_entry *e)
{
	MDB_txn *txn = txnp;
	int rc;

	if (entry_finished(e)) {
		if (e->account && (rc = qdone_put(st, txn, e)) != 0)
			return rc;
		return entry_remove(st, txn, old, 1);
	}
	if (old->next_attempt != e->next_attempt) {
		uint8_t db[16];
		MDB_val dk = due_key(db, old->next_attempt, old->id);
		rc = mdb_del(txn, st->db[DB_QUEUE_DUE], &dk, NULL);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
	}
	return entry_write(st, txn, e);
}

int store_queue_get(struct store *st, uint64_t id, struct store_queue_entry *e)
{
	MDB_txn *txn;
	int rc = store_rd_begin(st, &txn);

	if (rc)
		return STORE_ETEMP;
	rc = get_in(st, txn, id, e);
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

/*
 * Due entries by priority: one list per level, each in due order (the
 * index walk's), filled up to max in all from the highest level down.
 * The scan keeps, per level, at most max ids: more of one level than
 * that could never be chosen.
 */
struct due_pick {
	uint64_t *ids[SQ_PRIORITY_MAX - SQ_PRIORITY_MIN + 1];
	size_t n[SQ_PRIORITY_MAX - SQ_PRIORITY_MIN + 1];
	size_t max;
};

static void due_pick_add(struct due_pick *d, int prio, uint64_t id)
{
	size_t l = (size_t)(prio - SQ_PRIORITY_MIN);
	if (d->n[l] >= d->max)
		return;
	if (!d->ids[l])
		d->ids[l] = xmalloc(d->max * sizeof *d->ids[l]);
	d->ids[l][d->n[l]++] = id;
}

/* 1 once max ids of the highest level are kept: no entry further on
 * can be chosen before them (nothing is above that level, and within
 * it the scan is in due order). */
static int due_pick_full(const struct due_pick *d)
{
	return d->n[SQ_PRIORITY_MAX - SQ_PRIORITY_MIN] >= d->max;
}

static size_t due_pick_take(struct due_pick *d, uint64_t *ids_r)
{
	size_t n = 0;
	for (size_t l = SQ_PRIORITY_MAX - SQ_PRIORITY_MIN + 1; l-- > 0;) {
		for (size_t i = 0; i < d->n[l] && n < d->max; i++)
			ids_r[n++] = d->ids[l][i];
		free(d->ids[l]);
	}
	return n;
}

int store_queue_due(struct store *st, int64_t now, uint64_t *ids_r, size_t max, size_t *n_r,
		    int64_t *next_r)
{
	struct due_pick pick = {.max = max};
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t scanned = 0;
	int rc = store_rd_begin(st, &txn);

	*n_r = 0;
	*next_r = INT64_MAX;
	if (rc)
		return STORE_ETEMP;
	rc = mdb_cursor_open(txn, st->db[DB_QUEUE_DUE], &cur);
	if (rc == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (k.mv_size != 16)
				continue;
			int64_t due = (int64_t)be64_get(k.mv_data);
			if (due > now || scanned >= STORE_QUEUE_DUE_SCAN || due_pick_full(&pick)) {
				*next_r = due;
				break;
			}
			scanned++;
			uint64_t id = be64_get((const uint8_t *)k.mv_data + 8);
			due_pick_add(&pick, due_priority(&v), id);
		}
		mdb_cursor_close(cur);
	}
	store_rd_end(st, txn);
	*n_r = due_pick_take(&pick, ids_r);
	return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK : STORE_ETEMP;
}

int store_queue_list(struct store *st, store_queue_cb *cb, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = store_rd_begin(st, &txn);

	if (rc)
		return STORE_ETEMP;
	int held = store_restore_pending(st, txn);
	rc = mdb_cursor_open(txn, st->db[DB_QUEUE], &cur);
	if (rc == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			struct store_queue_entry e;
			if (entry_dec(&k, &v, &e) != 0)
				continue;
			if (held)
				e.next_attempt = SQ_HELD_AT;
			cb(arg, &e);
			store_queue_entry_free(&e);
		}
		mdb_cursor_close(cur);
	}
	store_rd_end(st, txn);
	return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK : STORE_ETEMP;
}

int store_queue_walk(struct store *st, uint64_t after, store_queue_walk_cb *cb, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	int rc;

	if (after == UINT64_MAX)
		return STORE_OK;
	if (store_rd_begin(st, &txn))
		return STORE_ETEMP;
	be64_put(kb, after + 1);
	int held = store_restore_pending(st, txn);
	rc = mdb_cursor_open(txn, st->db[DB_QUEUE], &cur);
	if (rc == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			struct store_queue_entry e;
			if (entry_dec(&k, &v, &e) != 0)
				continue;
			if (held)
				e.next_attempt = SQ_HELD_AT;
			int stop = cb(arg, &e);
			store_queue_entry_free(&e);
			if (stop)
				break;
		}
		mdb_cursor_close(cur);
	}
	store_rd_end(st, txn);
	return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK : STORE_ETEMP;
}

int store_queue_count(struct store *st, uint64_t *n_r, uint64_t *held_r)
{
	MDB_txn *txn;
	MDB_stat ms;
	int rc;

	*n_r = 0;
	if (held_r)
		*held_r = 0;
	if (store_rd_begin(st, &txn))
		return STORE_ETEMP;
	rc = mdb_stat(txn, st->db[DB_QUEUE], &ms);
	if (rc == 0 && held_r && store_restore_pending(st, txn)) {
		*held_r = ms.ms_entries;
	} else if (rc == 0 && held_r) {
		/* Held entries sort last in the schedule index: only they are
		 * read. */
		MDB_cursor *cur;
		uint8_t db[16];
		MDB_val k = due_key(db, SQ_HELD_AT, 0), v;
		if ((rc = mdb_cursor_open(txn, st->db[DB_QUEUE_DUE], &cur)) == 0) {
			for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
			     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
				(*held_r)++;
			mdb_cursor_close(cur);
		}
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	store_rd_end(st, txn);
	if (rc)
		return STORE_ETEMP;
	*n_r = ms.ms_entries;
	return STORE_OK;
}

int store_queue_blob(struct store *st, const uint8_t blob_id[32], char **data_r, size_t *len_r)
{
	MDB_txn *txn;
	MDB_val v;
	int rc = store_rd_begin(st, &txn);

	*data_r = NULL;
	*len_r = 0;
	if (rc)
		return STORE_ETEMP;
	rc = blob_get(txn, st, blob_id, &v, NULL);
	/* A record without its bytes (or bytes not as written): damage, as
	 * lasting as a missing record, and said the same way (ENOTFOUND),
	 * not as a read to try again (the queue holds such an entry). */
	if (rc == MDB_CORRUPTED)
		rc = MDB_NOTFOUND;
	if (rc == 0) {
		*len_r = v.mv_size;
		*data_r = xmalloc(*len_r + 1);
		memcpy(*data_r, v.mv_data, *len_r);
		(*data_r)[*len_r] = '\0';
	}
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

struct cli_op {
	uint64_t id;
	int del; /* 1 delete, 0 make due now */
	int64_t now;
	size_t n;
};

static int apply_op(struct store *st, MDB_txn *txn, struct cli_op *op,
		    struct store_queue_entry *e)
{
	if (op->del)
		return entry_remove(st, txn, e, 1);
	struct store_queue_entry ne = *e;
	ne.next_attempt = op->now;
	return store_queue_put_txn(st, txn, e, &ne);
}

static int cli_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct cli_op *op = ctx;
	struct store_queue_entry e;
	int rc;

	op->n = 0;
	if (op->id) {
		if ((rc = get_in(st, txn, op->id, &e)) != 0)
			return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
		rc = apply_op(st, txn, op, &e);
		store_queue_entry_free(&e);
		op->n = rc == 0;
		return rc;
	}
	/* Every entry: collect the ids first, the cursor must not see our writes. */
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t *ids = NULL;
	size_t n = 0, capn = 0;
	if ((rc = mdb_cursor_open(txn, st->db[DB_QUEUE], &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8)
			continue;
		if (n == capn) {
			capn = capn ? capn * 2 : 64;
			ids = xrealloc(ids, capn * sizeof *ids);
		}
		ids[n++] = be64_get(k.mv_data);
	}
	mdb_cursor_close(cur);
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (get_in(st, txn, ids[i], &e) != 0)
			continue;
		/* A flush of everything leaves Future Release entries to their
		 * time (Postfix's flush leaves its hold queue alone); one by id
		 * releases it, and one a restore held has lost its time. */
		if (!op->del && (e.flags & SQ_HOLD) && e.next_attempt != SQ_HELD_AT) {
			store_queue_entry_free(&e);
			continue;
		}
		rc = apply_op(st, txn, op, &e);
		store_queue_entry_free(&e);
		op->n++;
	}
	free(ids);
	return rc;
}

static int cli_run(struct store *st, uint64_t id, int del, size_t *n_r)
{
	struct cli_op op = {id, del, 0, 0};
	op.now = time_wall();
	int rc = store_write(st, cli_fn, &op);
	if (n_r)
		*n_r = rc == STORE_OK ? op.n : 0;
	return rc;
}

int store_queue_flush(struct store *st, uint64_t id, size_t *n_r)
{
	return cli_run(st, id, 0, n_r);
}

int store_queue_del(struct store *st, uint64_t id, size_t *n_r)
{
	return cli_run(st, id, 1, n_r);
}
