/*
 * store_codec.c — byte layouts of keys and records (SCHEMA.md in code).
 *
 * Integers in keys are big-endian so LMDB's bytewise order is numeric
 * order and an account's records form one contiguous range. Values use
 * big-endian too, for one rule everywhere. Every value starts with a
 * version byte: a decoder refuses a version it does not know, which turns a
 * half-finished migration or a newer writer into a clean error instead of
 * garbage. Readers are bounds-checked; a short record is "corrupt", never a
 * read past the end.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/xalloc.h"
#include "store/store_private.h"

MDB_val key_u32(uint8_t b[4], uint32_t a)
{
	be32_put(b, a);
	return (MDB_val){4, b};
}

MDB_val key_u32_u32(uint8_t b[8], uint32_t a, uint32_t c)
{
	be32_put(b, a);
	be32_put(b + 4, c);
	return (MDB_val){8, b};
}

MDB_val key_u32_u32_u32(uint8_t b[12], uint32_t a, uint32_t c, uint32_t d)
{
	be32_put(b, a);
	be32_put(b + 4, c);
	be32_put(b + 8, d);
	return (MDB_val){12, b};
}

MDB_val key_u32_u64(uint8_t b[12], uint32_t a, uint64_t c)
{
	be32_put(b, a);
	be64_put(b + 4, c);
	return (MDB_val){12, b};
}

/* ---- writer / reader ---- */

void rw_bytes(struct rec_w *w, const void *p, size_t n)
{
	if (w->p && n) {
		if (w->len + n > w->cap)
			return; /* cannot happen: sized by a counting pass */
		memcpy(w->p + w->len, p, n);
	}
	w->len += n;
}

void rw_u8(struct rec_w *w, uint8_t v)
{
	rw_bytes(w, &v, 1);
}

void rw_u16(struct rec_w *w, uint16_t v)
{
	uint8_t b[2];
	be16_put(b, v);
	rw_bytes(w, b, 2);
}

void rw_u32(struct rec_w *w, uint32_t v)
{
	uint8_t b[4];
	be32_put(b, v);
	rw_bytes(w, b, 4);
}

void rw_u64(struct rec_w *w, uint64_t v)
{
	uint8_t b[8];
	be64_put(b, v);
	rw_bytes(w, b, 8);
}

void rw_str16(struct rec_w *w, const char *s, size_t n)
{
	rw_u16(w, (uint16_t)n);
	rw_bytes(w, s, n);
}

struct rec_r rr_init(const MDB_val *v)
{
	return (struct rec_r){v->mv_data, v->mv_size, 0, 0};
}

const uint8_t *rr_bytes(struct rec_r *r, size_t n)
{
	static const uint8_t zeros[8];

	if (r->bad || r->len - r->off < n) {
		r->bad = 1;
		r->off = r->len;
		return n <= sizeof zeros ? zeros : NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t rr_u8(struct rec_r *r)
{
	return *rr_bytes(r, 1);
}

uint16_t rr_u16(struct rec_r *r)
{
	return be16_get(rr_bytes(r, 2));
}

uint32_t rr_u32(struct rec_r *r)
{
	return be32_get(rr_bytes(r, 4));
}

uint64_t rr_u64(struct rec_r *r)
{
	return be64_get(rr_bytes(r, 8));
}

void rr_str16(struct rec_r *r, char *dst, size_t dstsz)
{
	size_t n = rr_u16(r);
	const uint8_t *p = rr_bytes(r, n);

	if (r->bad || n >= dstsz) {
		r->bad = 1;
		dst[0] = '\0';
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

int rec_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, size_t reclen,
            void (*enc)(struct rec_w *w, const void *rec), const void *rec, unsigned flags)
{
	MDB_val v = {reclen, NULL};
	int rc = mdb_put(txn, dbi, key, &v, flags | MDB_RESERVE);
	if (rc)
		return rc;
	struct rec_w w = {v.mv_data, 0, reclen};
	enc(&w, rec);
	return 0;
}

/* Size of a record: a counting pass of its encoder. */
static size_t rec_size(void (*enc)(struct rec_w *w, const void *rec), const void *rec)
{
	struct rec_w w = {NULL, 0, 0};
	enc(&w, rec);
	return w.len;
}

/* Version byte check shared by decoders: MDB_CORRUPTED on anything else. */
static int rec_version_ok(struct rec_r *r)
{
	return rr_u8(r) == REC_V1 && !r->bad;
}

/* ---- account ---- */

void acct_enc(struct rec_w *w, const void *rec)
{
	const struct acct_rec *a = rec;

	rw_u8(w, REC_V1);
	rw_u8(w, 1); /* principal kind: account (groups later) */
	rw_u64(w, a->quota);
	rw_u64(w, a->used);
	rw_u32(w, a->emails);
	rw_u64(w, a->modseq);
	rw_u32(w, a->next_email_id);
	rw_u32(w, a->next_mailbox_id);
	rw_u64(w, (uint64_t)a->created_at);
	rw_str16(w, a->email, strlen(a->email));
	rw_str16(w, a->hash, strlen(a->hash));
	rw_u8(w, a->state);
	rw_str16(w, a->name, strlen(a->name));
	/* Only after a re-hash: other records stay as they were. */
	if (a->stamp_src[0]) {
		rw_str16(w, a->stamp_src, strlen(a->stamp_src));
		rw_bytes(w, a->stamp_bind, sizeof a->stamp_bind);
	}
}

int acct_dec(const MDB_val *v, struct acct_rec *a)
{
	struct rec_r r = rr_init(v);

	if (!rec_version_ok(&r) || rr_u8(&r) != 1)
		return MDB_CORRUPTED;
	a->quota = rr_u64(&r);
	a->used = rr_u64(&r);
	a->emails = rr_u32(&r);
	a->modseq = rr_u64(&r);
	a->next_email_id = rr_u32(&r);
	a->next_mailbox_id = rr_u32(&r);
	a->created_at = (int64_t)rr_u64(&r);
	rr_str16(&r, a->email, sizeof a->email);
	rr_str16(&r, a->hash, sizeof a->hash);
	/* Schema 11's fields: absent in the records the migration from 10
	 * reads (they then mean an active account without a name). */
	a->state = STORE_ACCOUNT_ACTIVE;
	a->name[0] = '\0';
	a->stamp_src[0] = '\0';
	memset(a->stamp_bind, 0, sizeof a->stamp_bind);
	if (r.off < r.len) {
		a->state = rr_u8(&r);
		rr_str16(&r, a->name, sizeof a->name);
		if (a->state > STORE_ACCOUNT_INACTIVE)
			return MDB_CORRUPTED;
	}
	/* The stamp's source after a re-hash (acct_rehash), when there is one. */
	if (r.off < r.len) {
		rr_str16(&r, a->stamp_src, sizeof a->stamp_src);
		const uint8_t *b = rr_bytes(&r, sizeof a->stamp_bind);
		if (b)
			memcpy(a->stamp_bind, b, sizeof a->stamp_bind);
	}
	return r.bad ? MDB_CORRUPTED : 0;
}

int acct_get(MDB_txn *txn, struct store *st, uint32_t id, struct acct_rec *a)
{
	uint8_t kb[4];
	MDB_val k = key_u32(kb, id), v;
	int rc = mdb_get(txn, st->db[DB_PRINCIPAL], &k, &v);
	return rc ? rc : acct_dec(&v, a);
}

int acct_put(MDB_txn *txn, struct store *st, uint32_t id, const struct acct_rec *a)
{
	uint8_t kb[4];
	MDB_val k = key_u32(kb, id);
	return rec_put(txn, st->db[DB_PRINCIPAL], &k, rec_size(acct_enc, a), acct_enc, a, 0);
}

/* ---- mailbox ---- */

static const char *const role_names[ROLE_COUNT] = {
    "",          "inbox",   "sent", "drafts", "trash",     "junk",    "archive",
    "important", "flagged", "all",  "memos",  "scheduled", "snoozed",
};

const char *mbox_role_name(unsigned role)
{
	return role < ROLE_COUNT ? role_names[role] : "";
}

void mbox_enc(struct rec_w *w, const void *rec)
{
	const struct mbox_rec *m = rec;

	rw_u8(w, REC_V1);
	rw_u32(w, m->uidvalidity);
	rw_u32(w, m->uidnext);
	rw_u64(w, m->highest_modseq);
	rw_u32(w, m->messages);
	rw_u32(w, m->parent);
	rw_u8(w, m->role);
	rw_u8(w, m->subscribed);
	rw_str16(w, m->name, strlen(m->name));
	rw_u32(w, m->first_recent);
	rw_u32(w, m->sort_order);
}

int mbox_dec(const MDB_val *v, struct mbox_rec *m)
{
	struct rec_r r = rr_init(v);

	if (!rec_version_ok(&r))
		return MDB_CORRUPTED;
	m->uidvalidity = rr_u32(&r);
	m->uidnext = rr_u32(&r);
	m->highest_modseq = rr_u64(&r);
	m->messages = rr_u32(&r);
	m->parent = rr_u32(&r);
	m->role = rr_u8(&r);
	m->subscribed = rr_u8(&r);
	rr_str16(&r, m->name, sizeof m->name);
	/* Optional (IMAP \Recent): a record written before it had none, and
	 * none of its messages is recent; the next write keeps that. */
	m->first_recent = r.off + 4 <= r.len ? rr_u32(&r) : m->uidnext;
	/* Optional (JMAP sortOrder): absent, 0. */
	m->sort_order = r.off + 4 <= r.len ? rr_u32(&r) : 0;
	return r.bad ? MDB_CORRUPTED : 0;
}

int mbox_get(MDB_txn *txn, struct store *st, uint32_t account, uint32_t id, struct mbox_rec *m)
{
	uint8_t kb[8];
	MDB_val k = key_u32_u32(kb, account, id), v;
	int rc = mdb_get(txn, st->db[DB_MAILBOX], &k, &v);
	return rc ? rc : mbox_dec(&v, m);
}

int mbox_put(MDB_txn *txn, struct store *st, uint32_t account, uint32_t id,
             const struct mbox_rec *m)
{
	uint8_t kb[8];
	MDB_val k = key_u32_u32(kb, account, id);
	return rec_put(txn, st->db[DB_MAILBOX], &k, rec_size(mbox_enc, m), mbox_enc, m, 0);
}

/* ---- email ---- */

void email_enc(struct rec_w *w, const void *rec)
{
	const struct email_rec *e = rec;

	rw_u8(w, REC_V1);
	rw_bytes(w, e->blob_id, 32);
	rw_u64(w, e->size);
	rw_u64(w, (uint64_t)e->received_at);
	rw_u64(w, e->modseq);
	rw_u32(w, e->thread_id);
	rw_u16(w, e->keywords_len);
	rw_bytes(w, e->keywords, e->keywords_len);
	rw_u16(w, e->nmembers);
	rw_bytes(w, e->members, (size_t)e->nmembers * 8);
	rw_u32(w, e->metalen);
	rw_bytes(w, e->meta, e->metalen);
	if (e->origin || e->zone)
		rw_u32(w, e->origin);
	if (e->zone)
		rw_u16(w, (uint16_t)e->zone);
}

int email_dec(const MDB_val *v, struct email_rec *e)
{
	struct rec_r r = rr_init(v);

	if (!rec_version_ok(&r))
		return MDB_CORRUPTED;
	const uint8_t *blob = rr_bytes(&r, 32);
	if (r.bad)
		return MDB_CORRUPTED;
	memcpy(e->blob_id, blob, 32);
	e->size = rr_u64(&r);
	e->received_at = (int64_t)rr_u64(&r);
	e->modseq = rr_u64(&r);
	e->thread_id = rr_u32(&r);
	e->keywords_len = rr_u16(&r);
	e->keywords = (const char *)rr_bytes(&r, e->keywords_len);
	e->nmembers = rr_u16(&r);
	e->members = rr_bytes(&r, (size_t)e->nmembers * 8);
	e->metalen = rr_u32(&r);
	e->meta = rr_bytes(&r, e->metalen);
	/* Optional (IMAP COPY's copies, or before a zone): absent in most
	 * records. Then the zone, absent when +0000. */
	e->origin = !r.bad && r.len - r.off >= 4 ? rr_u32(&r) : 0;
	e->zone = !r.bad && r.len - r.off >= 2 ? (int16_t)rr_u16(&r) : 0;
	return r.bad ? MDB_CORRUPTED : 0;
}

size_t email_size(const struct email_rec *e)
{
	return rec_size(email_enc, e);
}

int email_get_copy(MDB_txn *txn, struct store *st, MDB_val *k, struct email_rec *e,
		   uint8_t **copy_r)
{
	MDB_val v;
	int rc = mdb_get(txn, st->db[DB_EMAIL], k, &v);

	*copy_r = NULL;
	if (rc)
		return rc;
	uint8_t *copy = xmalloc(v.mv_size);
	memcpy(copy, v.mv_data, v.mv_size);
	MDB_val cv = { v.mv_size, copy };
	if ((rc = email_dec(&cv, e)) != 0) {
		free(copy);
		return rc;
	}
	*copy_r = copy;
	return 0;
}

/* ---- blobs ---- */

/*
 * blobref value: version 1 is `u64 refs, u64 size` (bytes in DB_BLOB under
 * the id, schema 1); version 2 adds `u64 seq`, the key of the bytes in
 * DB_BLOBDATA.
 */
int blobref_get(MDB_txn *txn, struct store *st, const uint8_t id[32], struct blobref_rec *b)
{
	MDB_val k = {32, (void *)id}, v;
	int rc = mdb_get(txn, st->db[DB_BLOBREF], &k, &v);
	if (rc)
		return rc;
	struct rec_r r = rr_init(&v);
	uint8_t version = rr_u8(&r);
	if (version != REC_V1 && version != REC_V2)
		return MDB_CORRUPTED;
	b->refs = rr_u64(&r);
	b->size = rr_u64(&r);
	b->seq = version == REC_V2 ? rr_u64(&r) : 0;
	return r.bad || (version == REC_V2 && b->seq == 0) ? MDB_CORRUPTED : 0;
}

int blobref_put(MDB_txn *txn, struct store *st, const uint8_t id[32], const struct blobref_rec *b)
{
	uint8_t buf[25];
	MDB_val k = {32, (void *)id}, v = {b->seq ? 25 : 17, buf};

	buf[0] = b->seq ? REC_V2 : REC_V1;
	be64_put(buf + 1, b->refs);
	be64_put(buf + 9, b->size);
	if (b->seq)
		be64_put(buf + 17, b->seq);
	return mdb_put(txn, st->db[DB_BLOBREF], &k, &v, 0);
}

/* Huge pages (THP) for the copy of a blob at least this big. */
#define BLOB_HUGE_COPY ((size_t)4 << 20)
#define HUGE_PAGE ((uintptr_t)2 << 20)

/*
 * Copies a blob's bytes into the room LMDB reserved for them. That room
 * is LMDB's own malloc of the value's overflow pages, new at every
 * commit and never touched before this copy (the allocator gives the
 * span back to the kernel between commits), so a 25 MiB blob faulted in
 * 6,400 pages one by one, on the writer thread that every delivery
 * waits for. For a big blob the 2 MiB-aligned middle of the room is
 * marked MADV_HUGEPAGE for the copy, so it faults in 2 MiB at a time,
 * and unmarked after it, so the allocator's later use of that span gets
 * small pages again (no memory held in huge pages for small objects).
 * Measured (scripts/bench-smtp's 25 MiB run, 20 sessions; the shared
 * 2-CPU VM, interleaved rounds): the writer's CPU per message 0.296-0.334
 * -> 0.108-0.118 s (the copy into LMDB's room and LMDB's write of it to
 * the file both got cheaper), 0.41-0.44 -> 1.36-1.43 msg/s.
 * Caveats: without THP (disabled, "never", another kernel) madvise fails
 * and the copy is as before; with THP defrag set to compact on fault the
 * copy may wait for compaction, which the kernel abandons for small
 * pages when it fails.
 */
static void blob_copy_in(void *dst, const void *src, size_t len)
{
	uintptr_t a = ((uintptr_t)dst + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	uintptr_t e = ((uintptr_t)dst + len) & ~(HUGE_PAGE - 1);
	int huge = len >= BLOB_HUGE_COPY && e > a &&
	           madvise((void *)a, e - a, MADV_HUGEPAGE) == 0;

	memcpy(dst, src, len);
	if (huge)
		madvise((void *)a, e - a, MADV_NOHUGEPAGE);
}

/*
 * New bytes go to the end of DB_BLOBDATA: sequence numbers only grow, so
 * a commit's new blobs land in the tree's last leaf instead of one random
 * leaf each (as keys by content hash did), and a commit writes fewer
 * scattered pages. The id (the content hash) stays the blob's name
 * everywhere; blobref maps it to the sequence number.
 */
int blob_store(MDB_txn *txn, struct store *st, const uint8_t id[32], const void *data,
               size_t len, uint64_t refs)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t seq = 1;
	uint8_t kb[8];
	int rc = mdb_cursor_open(txn, st->db[DB_BLOBDATA], &c);

	if (rc)
		return rc;
	/* The cursor that found the last key appends after it: one descent. */
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc == 0 && k.mv_size != 8)
		rc = MDB_CORRUPTED;
	if (rc == 0)
		seq = be64_get(k.mv_data) + 1;
	if (rc == 0 || rc == MDB_NOTFOUND) {
		be64_put(kb, seq);
		k = (MDB_val){8, kb};
		v = (MDB_val){len + 1, NULL};
		rc = mdb_cursor_put(c, &k, &v, MDB_RESERVE | MDB_APPEND);
	}
	mdb_cursor_close(c);
	if (rc)
		return rc;
	((uint8_t *)v.mv_data)[0] = REC_V1;
	if (len)
		blob_copy_in((uint8_t *)v.mv_data + 1, data, len);
	struct blobref_rec br = {refs, len, seq};
	return blobref_put(txn, st, id, &br);
}

/* Where blob id's bytes are: the database, and the key (kb is its room). */
static MDB_dbi blob_place(struct store *st, const struct blobref_rec *b, const uint8_t id[32],
                          uint8_t kb[8], MDB_val *k)
{
	if (b->seq == 0) {
		*k = (MDB_val){32, (void *)id};
		return st->db[DB_BLOB];
	}
	be64_put(kb, b->seq);
	*k = (MDB_val){8, kb};
	return st->db[DB_BLOBDATA];
}

int blob_get(MDB_txn *txn, struct store *st, const uint8_t id[32], MDB_val *bytes_r,
             uint64_t *seq_r)
{
	struct blobref_rec br;
	uint8_t kb[8];
	MDB_val k;
	int rc = blobref_get(txn, st, id, &br);

	if (rc)
		return rc;
	rc = mdb_get(txn, blob_place(st, &br, id, kb, &k), &k, bytes_r);
	if (rc == MDB_NOTFOUND)
		return MDB_CORRUPTED; /* a refcount always has its bytes */
	if (rc)
		return rc;
	if (bytes_r->mv_size < 1 || ((uint8_t *)bytes_r->mv_data)[0] != REC_V1)
		return MDB_CORRUPTED;
	bytes_r->mv_data = (uint8_t *)bytes_r->mv_data + 1;
	bytes_r->mv_size--;
	if (seq_r)
		*seq_r = br.seq;
	return 0;
}

int blob_unref(MDB_txn *txn, struct store *st, const uint8_t id[32])
{
	struct blobref_rec b;
	uint8_t kb[8];
	int rc = blobref_get(txn, st, id, &b);

	if (rc == MDB_NOTFOUND)
		return 0; /* already gone: nothing references it */
	if (rc)
		return rc;
	if (b.refs > 1) {
		b.refs--;
		return blobref_put(txn, st, id, &b);
	}
	MDB_val k = {32, (void *)id};
	rc = mdb_del(txn, st->db[DB_BLOBREF], &k, NULL);
	if (rc)
		return rc;
	if (b.seq) /* a stream may still be reading them: store_hold.c */
		return blob_defer(txn, st, b.seq);
	rc = mdb_del(txn, blob_place(st, &b, id, kb, &k), &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- meta ---- */

int meta_get_u32(MDB_txn *txn, struct store *st, const char *name, uint32_t *v_r)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc = mdb_get(txn, st->db[DB_META], &k, &v);
	if (rc)
		return rc;
	struct rec_r r = rr_init(&v);
	if (!rec_version_ok(&r))
		return MDB_CORRUPTED;
	*v_r = rr_u32(&r);
	return r.bad ? MDB_CORRUPTED : 0;
}

int meta_put_u32(MDB_txn *txn, struct store *st, const char *name, uint32_t v)
{
	uint8_t buf[5];
	MDB_val k = {strlen(name), (void *)name}, val = {sizeof buf, buf};

	buf[0] = REC_V1;
	be32_put(buf + 1, v);
	return mdb_put(txn, st->db[DB_META], &k, &val, 0);
}

size_t uid_rec_encode(uint8_t out[UID_REC_MAX], uint32_t email_id, int64_t saved_at,
		      unsigned flags)
{
	out[0] = REC_V1;
	be32_put(out + 1, email_id);
	be64_put(out + 5, (uint64_t)saved_at);
	if (!flags)
		return UID_REC_SAVED;
	out[UID_REC_SAVED] = (uint8_t)flags;
	return UID_REC_MAX;
}

unsigned uid_rec_flags(const MDB_val *v)
{
	return v->mv_size < UID_REC_MAX ? 0 : ((const uint8_t *)v->mv_data)[UID_REC_SAVED];
}

int64_t uid_rec_saved_at(const MDB_val *v, int64_t fallback)
{
	if (v->mv_size < UID_REC_SAVED)
		return fallback; /* written before SAVEDATE, or by a delivery */
	return (int64_t)be64_get((const uint8_t *)v->mv_data + 5);
}

void email_info_fill(struct store_email_info *info, const struct email_rec *e,
                     uint32_t email_id, uint32_t uid, const MDB_val *uv)
{
	*info = (struct store_email_info){
	    .email_id = email_id,
	    .object_id = e->origin ? e->origin : email_id,
	    .uid = uid,
	    .received_at = e->received_at,
	    .zone = e->zone,
	    .size = e->size,
	    .meta = e->meta,
	    .metalen = e->metalen,
	    .keywords = e->keywords,
	    .keywords_len = e->keywords_len,
	    .modseq = e->modseq,
	    .thread_id = e->thread_id,
	    .saved_at = uid_rec_saved_at(uv, e->received_at),
	    .deleted = (uid_rec_flags(uv) & UID_F_DELETED) != 0,
	    .nmembers = e->nmembers,
	};
	memcpy(info->blob_id, e->blob_id, 32);
}
