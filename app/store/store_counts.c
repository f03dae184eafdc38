/*
 * store_counts.c — the per-mailbox counters JMAP shows (RFC 8621 §2:
 * totalEmails, unreadEmails, totalThreads, unreadThreads) and the thread
 * index (thread -> its emails), kept by every write of an email record
 * in the same transaction, so Mailbox/get and Thread/get read a few
 * records instead of scanning the account.
 *
 * Every writer of an email record takes the email's shape before its
 * change (email_shape_of, before it edits the record) and after it, and
 * calls counts_email(): the deltas of both are applied here, and nowhere
 * else (one mechanism, SCHEMA.md "Counters").
 *
 * An email is unread when it has neither $seen nor $draft. A thread is
 * unread in a mailbox it has an email in when one of its unread emails
 * is in a mailbox other than the trash, or, for the trash itself, when
 * one of its unread emails is in the trash (RFC 8621 §2, unreadThreads).
 * So each thread keeps (DB_THREAD, key account, thread, kind, x):
 *   kind 0, x 0:     u32 emails, u32 unread not only in the trash,
 *                    u32 unread in the trash;
 *   kind 1, x mbox:  u32 emails of the thread in that mailbox;
 *   kind 2, x email: i64 received_at (Thread/get's order).
 * and each mailbox (DB_MBCOUNT, key account, mailbox) its four counters.
 * Beside them, the same calls keep the index of the account's emails by
 * the id of their bytes (DB_BLOBOWN, key account, blob id, email; the
 * value the version byte alone): JMAP finds the email behind a blob id
 * (a download, Email/import, Blob/get) with one lookup instead of a walk
 * of every email of the account.
 *
 * Caveats: the trash is the account's first mailbox with the trash role
 * when the email changes; creating a second trash and deleting the first
 * would leave the threads' split stale until counts_rebuild() runs
 * (store_mailbox_ops.c calls it when a trash mailbox is deleted).
 */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "store/store_private.h"

#define THREAD_KEY 13

static MDB_val thread_key(uint8_t b[THREAD_KEY], uint32_t account, uint32_t thread, uint8_t kind,
			  uint32_t x)
{
	be32_put(b, account);
	be32_put(b + 4, thread);
	b[8] = kind;
	be32_put(b + 9, x);
	return (MDB_val){THREAD_KEY, b};
}

void email_shape_of(struct email_shape *s, const struct email_rec *e)
{
	memset(s, 0, sizeof *s);
	memcpy(s->blob, e->blob_id, 32);
	s->thread = e->thread_id;
	s->received_at = e->received_at;
	s->unread = !store_keywords_has(e->keywords, e->keywords_len, "$seen") &&
		    !store_keywords_has(e->keywords, e->keywords_len, "$draft");
	s->mbs = xmalloc(((size_t)e->nmembers + 1) * sizeof *s->mbs);
	for (uint16_t i = 0; i < e->nmembers; i++) {
		uint32_t mb = be32_get(e->members + (size_t)i * 8);
		size_t j;
		/* IMAP may hold one email twice in a mailbox: it counts once. */
		for (j = 0; j < s->nmbs && s->mbs[j] != mb; j++)
			;
		if (j == s->nmbs)
			s->mbs[s->nmbs++] = mb;
	}
}

void email_shape_free(struct email_shape *s)
{
	free(s->mbs);
	s->mbs = NULL;
	s->nmbs = 0;
}

#define BLOBOWN_KEY 40

static MDB_val blobown_key(uint8_t b[BLOBOWN_KEY], uint32_t account, const uint8_t blob[32],
			   uint32_t email)
{
	be32_put(b, account);
	memcpy(b + 4, blob, 32);
	be32_put(b + 36, email);
	return (MDB_val){BLOBOWN_KEY, b};
}

/* One mailbox the change touches, with its deltas. */
struct mdelta {
	uint32_t mb;
	uint32_t n; /* the thread's emails in it (before, then after) */
	int64_t emails, unread, threads, unread_threads;
};

struct deltas {
	struct mdelta *v;
	size_t n, cap;
};

static struct mdelta *delta_of(struct deltas *d, uint32_t mb)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].mb == mb)
			return &d->v[i];
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->v = xrealloc(d->v, d->cap * sizeof *d->v);
	}
	d->v[d->n] = (struct mdelta){.mb = mb};
	return &d->v[d->n++];
}

static int shape_in(const struct email_shape *s, uint32_t mb)
{
	for (size_t i = 0; i < s->nmbs; i++)
		if (s->mbs[i] == mb)
			return 1;
	return 0;
}

/* Whether s has a membership outside the trash / in it. */
static void shape_split(const struct email_shape *s, uint32_t trash, int *out_r, int *in_r)
{
	*out_r = *in_r = 0;
	for (size_t i = 0; i < s->nmbs; i++) {
		if (trash && s->mbs[i] == trash)
			*in_r = 1;
		else
			*out_r = 1;
	}
}

struct tsum {
	uint32_t emails, unread_out, unread_in;
};

static int tsum_get(MDB_txn *txn, struct store *st, uint32_t account, uint32_t thread,
		    struct tsum *t)
{
	uint8_t kb[THREAD_KEY];
	MDB_val k = thread_key(kb, account, thread, 0, 0), v;
	int rc = mdb_get(txn, st->db[DB_THREAD], &k, &v);

	memset(t, 0, sizeof *t);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	const uint8_t *p = v.mv_data;
	if (v.mv_size < 13 || p[0] != REC_V1)
		return MDB_CORRUPTED;
	t->emails = be32_get(p + 1);
	t->unread_out = be32_get(p + 5);
	t->unread_in = be32_get(p + 9);
	return 0;
}

static int u32_put_or_del(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, const uint32_t *vals, size_t n)
{
	uint8_t buf[1 + 4 * 4];
	int zero = 1;

	buf[0] = REC_V1;
	for (size_t i = 0; i < n; i++) {
		be32_put(buf + 1 + 4 * i, vals[i]);
		zero &= vals[i] == 0;
	}
	if (zero) {
		int rc = mdb_del(txn, dbi, k, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	MDB_val v = {1 + 4 * n, buf};
	return mdb_put(txn, dbi, k, &v, 0);
}

/* The thread's mailboxes (kind 1 entries) into d with their counts. */
static int thread_mailboxes(MDB_txn *txn, struct store *st, uint32_t account, uint32_t thread,
			    struct deltas *d)
{
	MDB_cursor *cur;
	uint8_t kb[THREAD_KEY];
	MDB_val k = thread_key(kb, account, thread, 1, 0), v;
	int rc = mdb_cursor_open(txn, st->db[DB_THREAD], &cur);

	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *kp = k.mv_data, *p = v.mv_data;
		if (k.mv_size != THREAD_KEY || memcmp(kp, kb, 9) != 0)
			break;
		if (v.mv_size < 5 || p[0] != REC_V1) {
			rc = MDB_CORRUPTED;
			break;
		}
		delta_of(d, be32_get(kp + 9))->n = be32_get(p + 1);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Adds sign x what each mailbox of d counts of the thread summed in t. */
static void thread_weigh(struct deltas *d, const struct tsum *t, uint32_t trash, int sign)
{
	for (size_t i = 0; i < d->n; i++) {
		struct mdelta *m = &d->v[i];
		if (!m->n)
			continue;
		m->threads += sign;
		int unread = trash && m->mb == trash ? t->unread_in > 0 : t->unread_out > 0;
		m->unread_threads += sign * unread;
	}
}

/* Applies one shape (sign -1 leaving, +1 arriving) to the thread sums. */
static void shape_apply(struct deltas *d, struct tsum *t, const struct email_shape *s,
			uint32_t trash, int sign)
{
	int out, in;

	shape_split(s, trash, &out, &in);
	t->emails += (uint32_t)sign;
	if (s->unread) {
		t->unread_out += (uint32_t)(sign * out);
		t->unread_in += (uint32_t)(sign * in);
	}
	for (size_t i = 0; i < s->nmbs; i++) {
		struct mdelta *m = delta_of(d, s->mbs[i]);
		m->n += (uint32_t)sign;
		m->emails += sign;
		m->unread += sign * s->unread;
	}
}

static int mbcount_add(MDB_txn *txn, struct store *st, uint32_t account, const struct mdelta *m)
{
	uint8_t kb[8];
	MDB_val k = key_u32_u32(kb, account, m->mb), v;
	uint32_t c[4] = {0};
	int rc = mdb_get(txn, st->db[DB_MBCOUNT], &k, &v);

	if (rc == 0) {
		const uint8_t *p = v.mv_data;
		if (v.mv_size < 17 || p[0] != REC_V1)
			return MDB_CORRUPTED;
		for (int i = 0; i < 4; i++)
			c[i] = be32_get(p + 1 + 4 * i);
	} else if (rc != MDB_NOTFOUND) {
		return rc;
	}
	const int64_t d[4] = {m->emails, m->unread, m->threads, m->unread_threads};
	for (int i = 0; i < 4; i++) {
		int64_t x = (int64_t)c[i] + d[i];
		/* Below zero would be a broken invariant; a count never wraps. */
		c[i] = x < 0 ? 0 : (uint32_t)x;
	}
	return u32_put_or_del(txn, st->db[DB_MBCOUNT], &k, c, 4);
}

int counts_email(MDB_txn *txn, struct store *st, uint32_t account, uint32_t email_id,
		 const struct email_shape *old, const struct email_shape *now)
{
	const struct email_shape *any = old ? old : now;
	struct deltas d = {0};
	struct tsum t;
	uint32_t trash = 0;
	uint8_t kb[THREAD_KEY];
	int rc;

	if (!any)
		return 0;
	rc = mbox_find_role(txn, st, account, ROLE_TRASH, &trash);
	if (rc == MDB_NOTFOUND)
		trash = 0, rc = 0;
	if (rc == 0)
		rc = tsum_get(txn, st, account, any->thread, &t);
	if (rc == 0)
		rc = thread_mailboxes(txn, st, account, any->thread, &d);
	if (rc) {
		free(d.v);
		return rc;
	}
	thread_weigh(&d, &t, trash, -1);
	if (old)
		shape_apply(&d, &t, old, trash, -1);
	if (now)
		shape_apply(&d, &t, now, trash, +1);
	thread_weigh(&d, &t, trash, +1);

	MDB_val k = thread_key(kb, account, any->thread, 0, 0);
	uint32_t sum[3] = {t.emails, t.unread_out, t.unread_in};
	rc = u32_put_or_del(txn, st->db[DB_THREAD], &k, sum, 3);
	for (size_t i = 0; i < d.n && rc == 0; i++) {
		const struct mdelta *m = &d.v[i];
		int touched = (old && shape_in(old, m->mb)) || (now && shape_in(now, m->mb));
		if (touched) {
			k = thread_key(kb, account, any->thread, 1, m->mb);
			rc = u32_put_or_del(txn, st->db[DB_THREAD], &k, &m->n, 1);
		}
		if (rc == 0 && (m->emails || m->unread || m->threads || m->unread_threads))
			rc = mbcount_add(txn, st, account, m);
	}
	free(d.v);
	if (rc || (old && now))
		return rc;
	/* A new or destroyed email: its thread and blob index entries. */
	uint8_t bk[BLOBOWN_KEY], v1 = REC_V1;
	MDB_val bkv = blobown_key(bk, account, any->blob, email_id);
	k = thread_key(kb, account, any->thread, 2, email_id);
	if (!now) {
		rc = mdb_del(txn, st->db[DB_THREAD], &k, NULL);
		if (rc == 0 || rc == MDB_NOTFOUND)
			rc = mdb_del(txn, st->db[DB_BLOBOWN], &bkv, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	uint8_t v8[9] = {REC_V1};
	be64_put(v8 + 1, (uint64_t)now->received_at);
	MDB_val v = {9, v8}, bv = {1, &v1};
	rc = mdb_put(txn, st->db[DB_THREAD], &k, &v, 0);
	return rc ? rc : mdb_put(txn, st->db[DB_BLOBOWN], &bkv, &bv, 0);
}

/* Deletes every key of dbi starting with the 4-byte account prefix. */
static int drop_account(MDB_txn *txn, MDB_dbi dbi, uint32_t account)
{
	MDB_cursor *cur;
	uint8_t pfx[4];
	MDB_val k = key_u32(pfx, account), v;
	int rc = mdb_cursor_open(txn, dbi, &cur);

	if (rc)
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) == 0) {
		if (k.mv_size < 4 || memcmp(k.mv_data, pfx, 4) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		k = key_u32(pfx, account);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int counts_drop_account(MDB_txn *txn, struct store *st, uint32_t account)
{
	int rc = drop_account(txn, st->db[DB_THREAD], account);
	if (rc == 0)
		rc = drop_account(txn, st->db[DB_BLOBOWN], account);
	return rc ? rc : drop_account(txn, st->db[DB_MBCOUNT], account);
}

int counts_rebuild(MDB_txn *txn, struct store *st, uint32_t account)
{
	MDB_cursor *cur;
	uint8_t kb[8];
	uint32_t *ids = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if ((rc = counts_drop_account(txn, st, account)) != 0)
		return rc;
	/* The ids first: the writes below would move a cursor's page. */
	if ((rc = mdb_cursor_open(txn, st->db[DB_EMAIL], &cur)) != 0)
		return rc;
	MDB_val k = key_u32_u32(kb, account, 0), v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 || be32_get(k.mv_data) != account)
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			ids = xrealloc(ids, cap * sizeof *ids);
		}
		ids[n++] = be32_get((const uint8_t *)k.mv_data + 4);
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct email_rec e;
		struct email_shape s;
		k = key_u32_u32(kb, account, ids[i]);
		if ((rc = mdb_get(txn, st->db[DB_EMAIL], &k, &v)) != 0 || (rc = email_dec(&v, &e)) != 0)
			break;
		email_shape_of(&s, &e);
		rc = counts_email(txn, st, account, ids[i], NULL, &s);
		email_shape_free(&s);
	}
	free(ids);
	return rc;
}

int principal_ids(MDB_txn *txn, struct store *st, uint32_t **ids_r, size_t *n_r)
{
	MDB_cursor *cur;
	uint32_t *ids = NULL;
	size_t n = 0, cap = 0;
	MDB_val k, v;
	int rc;

	*ids_r = NULL;
	*n_r = 0;
	if ((rc = mdb_cursor_open(txn, st->db[DB_PRINCIPAL], &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 4)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = xrealloc(ids, cap * sizeof *ids);
		}
		ids[n++] = be32_get(k.mv_data);
	}
	mdb_cursor_close(cur);
	*ids_r = ids;
	*n_r = n;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int counts_rebuild_all(MDB_txn *txn, struct store *st)
{
	uint32_t *ids;
	size_t n;
	int rc = principal_ids(txn, st, &ids, &n);

	for (size_t i = 0; i < n && rc == 0; i++)
		rc = counts_rebuild(txn, st, ids[i]);
	free(ids);
	return rc;
}

/* ---- readers ---- */

int counts_mailbox_get(MDB_txn *txn, struct store *st, uint32_t account, uint32_t mailbox,
		       uint32_t c[4])
{
	uint8_t kb[8];
	MDB_val k = key_u32_u32(kb, account, mailbox), v;
	int rc = mdb_get(txn, st->db[DB_MBCOUNT], &k, &v);

	memset(c, 0, 4 * sizeof *c);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	const uint8_t *p = v.mv_data;
	if (v.mv_size < 17 || p[0] != REC_V1)
		return MDB_CORRUPTED;
	for (int i = 0; i < 4; i++)
		c[i] = be32_get(p + 1 + 4 * i);
	return 0;
}

int counts_thread_emails(MDB_txn *txn, struct store *st, uint32_t account, uint32_t thread,
			 uint32_t *n_r)
{
	struct tsum t;
	int rc = tsum_get(txn, st, account, thread, &t);

	*n_r = t.emails;
	return rc;
}

int store_thread_emails(struct store *st, uint32_t account, uint32_t thread,
			store_thread_email_cb *cb, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t kb[THREAD_KEY];
	int rc;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	if ((rc = mdb_cursor_open(txn, st->db[DB_THREAD], &cur)) != 0) {
		store_rd_end(st, txn);
		return STORE_ETEMP;
	}
	MDB_val k = thread_key(kb, account, thread, 2, 0), v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *kp = k.mv_data, *p = v.mv_data;
		if (k.mv_size != THREAD_KEY || memcmp(kp, kb, 9) != 0)
			break;
		if (v.mv_size < 9 || p[0] != REC_V1) {
			rc = MDB_CORRUPTED;
			break;
		}
		cb(arg, be32_get(kp + 9), (int64_t)be64_get(p + 1));
	}
	mdb_cursor_close(cur);
	store_rd_end(st, txn);
	return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK : store_mdb_code(rc);
}

int store_blob_email(struct store *st, uint32_t account, const uint8_t blob[32],
		     uint32_t *email_r)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t kb[BLOBOWN_KEY];
	int rc;

	*email_r = 0;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	if ((rc = mdb_cursor_open(txn, st->db[DB_BLOBOWN], &cur)) != 0) {
		store_rd_end(st, txn);
		return STORE_ETEMP;
	}
	/* The first key at or after (account, blob, 0): its lowest email. */
	MDB_val k = blobown_key(kb, account, blob, 0), v;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && k.mv_size == BLOBOWN_KEY && memcmp(k.mv_data, kb, 36) == 0)
		*email_r = be32_get((const uint8_t *)k.mv_data + 36);
	mdb_cursor_close(cur);
	store_rd_end(st, txn);
	return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK : store_mdb_code(rc);
}
