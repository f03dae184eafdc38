/*
 * store_fts.c — the full-text index's records (search/fts.h says what a
 * term is; search/fts_indexer.c fills the index; IMAP SEARCH reads it).
 *
 * Layout (SCHEMA.md, fts and fts_term):
 *   fts       u32 account, term, 0x00, u32 first  ->  u8 version,
 *             u32 last, then the gaps between the chunk's email ids as
 *             varints (first is the first id, last the last): one chunk
 *             of the term's posting list, at most CHUNK_MAX octets;
 *   fts       u32 account, 0x00  ->  u8 version, u32 through, u32 docs:
 *             every email with an id up to through has been indexed (a
 *             later one has not), docs of them; the version is that of
 *             the text indexed (STATE_V);
 *   fts_term  u32 account, term  ->  u8 version: the account's terms, a
 *             dense list a search string's infix is looked for in.
 * Terms hold no 0x00 (fts_word_octet), so a term's chunks sort together
 * and before any longer term. MARK, a term no word makes, lists emails
 * whose terms were too many to keep: they are candidates of any search.
 *
 * Why an email's postings stay when it is deleted: the index only says
 * which emails cannot match, and a deleted one is not searched anyway.
 * The indexer drops an account's index and starts again when the
 * postings of deleted emails are most of it (fts_indexer.c).
 *
 * A full disk: a batch that would go under the floor new mail may not
 * pass is refused (STORE_EFULL) and tried again later; searches meanwhile
 * read what the index has not reached.
 *
 * Why ids: email ids grow and are never reused (SCHEMA.md), so "indexed
 * through" is one number, and a search treats every id above it as
 * unknown (read and tested), whatever the indexer is doing.
 */
#include <stdlib.h>
#include <string.h>

#include "core/varint.h"
#include "core/xalloc.h"
#include "search/fts.h"
#include "store/store_private.h"

#define CHUNK_MAX 1024
#define KEY_MAX (4 + FTS_TERM_MAX + 1 + 4)
/* A condition that many terms meet narrows nothing worth the reading. */
#define COND_TERMS_MAX 200000

static const char MARK[] = "\x01";

static MDB_val post_key(uint8_t b[KEY_MAX], uint32_t account, const char *t, size_t n, uint32_t first)
{
	be32_put(b, account);
	memcpy(b + 4, t, n);
	b[4 + n] = 0;
	be32_put(b + 5 + n, first);
	return (MDB_val){ n + 9, b };
}

static MDB_val state_key(uint8_t b[5], uint32_t account)
{
	be32_put(b, account);
	b[4] = 0;
	return (MDB_val){ 5, b };
}

/*
 * The state's version is the version of the text the index was made
 * from (mime_search_each_text): 2 since HTML parts are read as the text
 * a reader sees (mime_html.h), not as markup. An index of version 1 was
 * made from the markup: "hello" written "<b>Hel</b>lo" is in no term of
 * it, so it would rule out messages a search finds. Such a state reads
 * as nothing indexed (searches read every message) and STATE_STALE docs,
 * more than any account holds, so the indexer drops the index and makes
 * it again (fts_indexer.c), and no posting is added to it meanwhile.
 * Version 3: the text is put in NFC before it is folded (mime_search.c),
 * so a decomposed "é" in an older index is in no term a search for it
 * now plans; version 1 and 2 indexes are made again the same way.
 * Version 4: the text is keyed by i;unicode-casemap (RFC 5051, titlecase
 * then NFKD, core/unorm.h) instead of NFC and case folding: an older
 * index holds "é" and "²" where a search now plans "E\u0301" and "2";
 * version 3 indexes are made again too.
 */
#define STATE_V 4u
#define STATE_STALE UINT32_MAX

static int state_get(MDB_txn *txn, struct store *st, uint32_t account, uint32_t *through,
		     uint32_t *docs)
{
	uint8_t kb[5];
	MDB_val k = state_key(kb, account), v;
	*through = *docs = 0;
	int rc = mdb_get(txn, st->db[DB_FTS], &k, &v);
	if (rc)
		return rc == MDB_NOTFOUND ? 0 : rc;
	const uint8_t *p = v.mv_data;
	if (v.mv_size < 9 || p[0] < REC_V1 || p[0] > STATE_V)
		return MDB_CORRUPTED;
	if (p[0] != STATE_V) {
		*docs = STATE_STALE;
		return 0;
	}
	*through = be32_get(p + 1);
	*docs = be32_get(p + 5);
	return 0;
}

int store_fts_state(struct store *st, uint32_t account, uint32_t *through, uint32_t *docs)
{
	MDB_txn *txn;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = state_get(txn, st, account, through, docs);
	store_rd_end(st, txn);
	return rc ? STORE_ETEMP : STORE_OK;
}

int store_fts_todo(struct store *st, uint32_t account, uint32_t after, uint32_t *ids, size_t max,
		   size_t *n_r, uint32_t *upto_r)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	struct acct_rec a;
	uint8_t kb[8];
	size_t n = 0;

	*n_r = 0;
	*upto_r = after;
	if (max == 0)
		return STORE_EINVAL;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = acct_get(txn, st, account, &a);
	explicit_bzero(a.hash, sizeof a.hash);
	if (rc == 0)
		rc = mdb_cursor_open(txn, st->db[DB_EMAIL], &cur);
	if (rc) {
		store_rd_end(st, txn);
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : STORE_ETEMP;
	}
	MDB_val k = key_u32_u32(kb, account, after + 1), v;
	rc = after == UINT32_MAX ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && n < max && k.mv_size == 8 && be32_get(k.mv_data) == account) {
		ids[n++] = be32_get((const uint8_t *)k.mv_data + 4);
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	store_rd_end(st, txn);
	if (rc && rc != MDB_NOTFOUND)
		return STORE_ETEMP;
	*n_r = n;
	/* A full list ends at its last id; else every id given so far is in. */
	*upto_r = n == max ? ids[n - 1] : a.next_email_id ? a.next_email_id - 1 : 0;
	if (*upto_r < after)
		*upto_r = after;
	return STORE_OK;
}

/* ---- writing ---- */

struct apply_ctx {
	uint32_t account, expect, through, docs;
	const struct store_fts_post *v;
	size_t n;
};

/* Appends ids[0..n) (ascending) to the term's posting list. The terms
 * come in key order, and cursor puts look near where the cursor is
 * before searching from the root: cur (fts) and dict (fts_term) stay
 * with the batch. */
static int term_append(MDB_cursor *cur, MDB_cursor *dict, uint32_t account, const char *t,
		       size_t tl, const uint32_t *ids, size_t n)
{
	uint8_t kb[KEY_MAX], buf[CHUNK_MAX + VARINT_MAX + 8];
	MDB_val k = post_key(kb, account, t, tl, UINT32_MAX), v;
	size_t used = 0, i = 0;
	uint32_t first = 0, last = 0;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);

	rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	if (rc == 0 && k.mv_size == tl + 9 && be32_get(k.mv_data) == account &&
	    memcmp((const uint8_t *)k.mv_data + 4, t, tl) == 0 && ((const uint8_t *)k.mv_data)[4 + tl] == 0) {
		if (v.mv_size < 5 || v.mv_size > CHUNK_MAX || ((const uint8_t *)v.mv_data)[0] != REC_V1)
			return MDB_CORRUPTED;
		first = be32_get((const uint8_t *)k.mv_data + 5 + tl);
		last = be32_get((const uint8_t *)v.mv_data + 1);
		used = v.mv_size;
		memcpy(buf, v.mv_data, used);
		while (i < n && ids[i] <= last)
			i++; /* already in (cannot happen: ids come in order) */
		if (used + VARINT_MAX > CHUNK_MAX)
			used = 0; /* full: the next id starts a chunk */
	} else {
		/* A term new to the account: into the dictionary too. */
		uint8_t dk[4 + FTS_TERM_MAX], one = REC_V1;
		be32_put(dk, account);
		memcpy(dk + 4, t, tl);
		MDB_val d = { 4 + tl, dk }, dv = { 1, &one };
		if (t[0] != MARK[0] && (rc = mdb_cursor_put(dict, &d, &dv, 0)) != 0)
			return rc;
	}
	while (i < n) {
		if (used == 0) { /* a new chunk starting at ids[i] */
			first = last = ids[i++];
			buf[0] = REC_V1;
			used = 5;
		}
		while (i < n && used + VARINT_MAX <= CHUNK_MAX) {
			if (ids[i] > last) /* a repeat would be a gap of 0 */
				used += varint_put(buf + used, ids[i] - last);
			last = ids[i] > last ? ids[i] : last;
			i++;
		}
		be32_put(buf + 1, last);
		k = post_key(kb, account, t, tl, first);
		v = (MDB_val){ used, buf };
		if ((rc = mdb_cursor_put(cur, &k, &v, 0)) != 0)
			return rc;
		used = 0;
	}
	return 0;
}

static int apply_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct apply_ctx *c = ctx;
	uint32_t through, docs;
	MDB_cursor *cur, *dict;
	int rc = state_get(txn, st, c->account, &through, &docs);
	if (rc)
		return rc;
	if (through != c->expect || docs == STATE_STALE)
		return STORE_EEXIST; /* dropped or moved meanwhile: start over */
	/* The index is no mail: it never takes the room kept for deletions
	 * (store_reserve.c), nor what new mail may still use of the disk.
	 * About 4 octets a posting and 40 a new term, as the records go. */
	struct store_space sp = { 0 };
	if (!store_space_take_extra(st, &sp, (uint64_t)c->n * 8 + 65536))
		return STORE_EFULL;
	struct acct_rec a;
	rc = acct_get(txn, st, c->account, &a);
	explicit_bzero(a.hash, sizeof a.hash);
	if (rc)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	if ((rc = mdb_cursor_open(txn, st->db[DB_FTS], &cur)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, st->db[DB_FTS_TERM], &dict)) != 0) {
		mdb_cursor_close(cur);
		return rc;
	}
	uint32_t *ids = xmalloc((c->n + 1) * sizeof(*ids));
	for (size_t i = 0; i < c->n && rc == 0;) {
		size_t j = i, m = 0;
		while (j < c->n && c->v[j].len == c->v[i].len &&
		       memcmp(c->v[j].term, c->v[i].term, c->v[i].len) == 0)
			ids[m++] = c->v[j++].id;
		rc = term_append(cur, dict, c->account, c->v[i].term, c->v[i].len, ids, m);
		i = j;
	}
	free(ids);
	mdb_cursor_close(dict);
	mdb_cursor_close(cur);
	if (rc)
		return rc;
	uint8_t kb[5], val[9];
	MDB_val k = state_key(kb, c->account), v = { 9, val };
	val[0] = STATE_V;
	be32_put(val + 1, c->through);
	be32_put(val + 5, docs + c->docs);
	return mdb_put(txn, st->db[DB_FTS], &k, &v, 0);
}

int store_fts_apply(struct store *st, uint32_t account, uint32_t expect, uint32_t through,
		    uint32_t docs, const struct store_fts_post *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].len == 0 || v[i].len > FTS_TERM_MAX)
			return STORE_EINVAL; /* the keys have room for FTS_TERM_MAX */
	struct apply_ctx c = { account, expect, through, docs, v, n };
	return store_write_grouped(st, apply_fn, &c);
}

int fts_del_txn(MDB_txn *txn, struct store *st, uint32_t account)
{
	uint8_t pfx[4];
	be32_put(pfx, account);
	int rc = db_del_prefix(txn, st->db[DB_FTS], pfx, 4, NULL, NULL);
	return rc ? rc : db_del_prefix(txn, st->db[DB_FTS_TERM], pfx, 4, NULL, NULL);
}

static int drop_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	return fts_del_txn(txn, st, *(const uint32_t *)ctx);
}

int store_fts_drop(struct store *st, uint32_t account)
{
	return store_write_grouped(st, drop_fn, &account);
}

/* ---- reading ---- */

struct lookup {
	MDB_txn *txn;
	struct store *st;
	MDB_cursor *post;
	uint32_t account, through;
	uint64_t *bits; /* the condition's union */
};

/* Sets the bits of the term's emails. */
static int postings(struct lookup *l, const char *t, size_t tl)
{
	uint8_t kb[KEY_MAX];
	MDB_val k = post_key(kb, l->account, t, tl, 0), v;
	int rc = mdb_cursor_get(l->post, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size == tl + 9 && memcmp(k.mv_data, kb, tl + 5) == 0) {
		const uint8_t *p = v.mv_data;
		if (v.mv_size < 5 || p[0] != REC_V1)
			return MDB_CORRUPTED;
		uint64_t id = be32_get((const uint8_t *)k.mv_data + 5 + tl), gap;
		for (size_t off = 5;;) {
			if (id <= l->through)
				l->bits[id >> 6] |= 1ull << (id & 63);
			if (off == v.mv_size)
				break;
			size_t used = varint_get(p + off, v.mv_size - off, &gap);
			if (!used || gap == 0 || id + gap > UINT32_MAX)
				return MDB_CORRUPTED;
			off += used;
			id += gap;
		}
		rc = mdb_cursor_get(l->post, &k, &v, MDB_NEXT);
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The union of the postings of every term that meets c: 0, 1 when too
 * many terms meet it (then it narrows nothing), or an LMDB error. */
static int cond_union(struct lookup *l, const struct fts_cond *c)
{
	if (c->how == FTS_EXACT)
		return postings(l, c->w.p, c->w.len);
	MDB_cursor *cur;
	uint8_t kb[4 + FTS_TERM_MAX];
	size_t pl = c->how == FTS_PREFIX ? c->w.len : 0, terms = 0;
	int rc = mdb_cursor_open(l->txn, l->st->db[DB_FTS_TERM], &cur);
	if (rc)
		return rc;
	be32_put(kb, l->account);
	memcpy(kb + 4, c->w.p, pl);
	MDB_val k = { 4 + pl, kb }, v;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size >= 4 + pl && memcmp(k.mv_data, kb, 4 + pl) == 0) {
		const char *t = (const char *)k.mv_data + 4;
		size_t tl = k.mv_size - 4;
		if (fts_cond_term(c, t, tl)) {
			if (++terms > COND_TERMS_MAX) {
				rc = 1;
				break;
			}
			if ((rc = postings(l, t, tl)) != 0)
				break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_fts_candidates(struct store *st, uint32_t account, const struct fts_cond *c, size_t nc,
			 uint64_t **bits_r, uint32_t *through_r)
{
	struct lookup l = { .st = st, .account = account };
	uint32_t docs;
	uint64_t *all = NULL;
	int rc;

	*bits_r = NULL;
	*through_r = 0;
	if (nc == 0)
		return STORE_OK;
	if (store_rd_begin(st, &l.txn) != 0)
		return STORE_ETEMP;
	rc = state_get(l.txn, st, account, &l.through, &docs);
	if (rc == 0 && l.through > 0)
		rc = mdb_cursor_open(l.txn, st->db[DB_FTS], &l.post);
	if (rc || l.through == 0)
		goto out;
	size_t words = (size_t)(l.through >> 6) + 1, narrowed = 0;
	all = xmalloc(words * sizeof(*all));
	l.bits = xmalloc(words * sizeof(*l.bits));
	memset(all, 0xff, words * sizeof(*all));
	for (size_t i = 0; i < nc && rc == 0; i++) {
		memset(l.bits, 0, words * sizeof(*l.bits));
		rc = cond_union(&l, &c[i]);
		if (rc == 1) { /* narrows nothing */
			rc = 0;
			continue;
		}
		for (size_t w = 0; w < words; w++)
			all[w] &= l.bits[w];
		narrowed++;
	}
	if (rc == 0 && narrowed) {
		/* Emails with too many terms to keep may match anything. */
		memset(l.bits, 0, words * sizeof(*l.bits));
		rc = postings(&l, MARK, 1);
		for (size_t w = 0; w < words; w++)
			all[w] |= l.bits[w];
	}
	free(l.bits);
	mdb_cursor_close(l.post);
	if (rc == 0 && narrowed) {
		*bits_r = all;
		*through_r = l.through;
		all = NULL;
	}
out:
	free(all);
	store_rd_end(st, l.txn);
	return rc ? STORE_ETEMP : STORE_OK;
}
