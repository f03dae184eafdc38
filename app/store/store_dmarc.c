/*
 * store_dmarc.c — DMARC aggregate reports received for served domains
 * ("dmarc_report") and the DMARC results of received mail kept for the
 * reports tern sends ("dmarc_seen"), schema 6. Layouts in SCHEMA.md.
 *
 * Reports are keyed by (domain, begin of the date range, hash of the
 * reporter's org_name and report_id), so a domain's reports sort by
 * period and a report mailed twice is stored once. Retention is applied
 * to the domain on every store: reports whose period ended more than
 * STORE_DMARC_KEEP_DAYS ago go, then the oldest beyond
 * STORE_DMARC_KEEP_MAX. The record is encoded outside the transaction
 * (it can be a few hundred KiB) and put as it is.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "report/dmarc_report.h"
#include "store/store_private.h"

#define KEY_MAX (STORE_DOMAIN_MAX + 1 + 8 + 8)

static size_t report_key(uint8_t *k, const char *domain, int64_t begin, const char *org,
			 const char *id)
{
	size_t n = strlen(domain);
	uint8_t h[8];
	crypto_generichash_state s;

	memcpy(k, domain, n);
	k[n++] = 0;
	be64_put(k + n, (uint64_t)begin);
	n += 8;
	crypto_generichash_init(&s, NULL, 0, sizeof h);
	crypto_generichash_update(&s, (const uint8_t *)org, strlen(org) + 1);
	crypto_generichash_update(&s, (const uint8_t *)id, strlen(id));
	crypto_generichash_final(&s, h, sizeof h);
	memcpy(k + n, h, 8);
	return n + 8;
}

static void ws(struct rec_w *w, const char *s) { rw_str16(w, s, strlen(s)); }

static void auth_enc(struct rec_w *w, const struct dmarc_report_auth *a)
{
	ws(w, a->domain);
	ws(w, a->selector);
	ws(w, a->scope);
	ws(w, a->result);
}

static void report_enc(struct rec_w *w, const struct dmarc_report *r, int64_t received_at)
{
	rw_u8(w, REC_V1);
	rw_u64(w, (uint64_t)received_at);
	rw_u64(w, (uint64_t)r->begin);
	rw_u64(w, (uint64_t)r->end);
	rw_u8(w, (uint8_t)r->flags);
	rw_u64(w, r->total_count);
	rw_u8(w, (uint8_t)(r->pct + 1));
	ws(w, r->org_name);
	ws(w, r->email);
	ws(w, r->report_id);
	ws(w, r->domain);
	ws(w, r->p);
	ws(w, r->sp);
	ws(w, r->np);
	ws(w, r->adkim);
	ws(w, r->aspf);
	ws(w, r->testing);
	rw_u32(w, (uint32_t)r->nrows);
	for (size_t i = 0; i < r->nrows; i++) {
		const struct dmarc_report_row *x = &r->rows[i];
		ws(w, x->source_ip);
		rw_u32(w, x->count);
		ws(w, x->disposition);
		ws(w, x->dkim);
		ws(w, x->spf);
		ws(w, x->header_from);
		ws(w, x->envelope_from);
		ws(w, x->envelope_to);
		rw_u8(w, x->ndkim);
		for (unsigned j = 0; j < x->ndkim; j++)
			auth_enc(w, &x->dkim_auth[j]);
		rw_u8(w, x->nspf);
		for (unsigned j = 0; j < x->nspf; j++)
			auth_enc(w, &x->spf_auth[j]);
	}
}

#define RS(r, f) rr_str16(r, f, sizeof f)

static void auth_dec(struct rec_r *r, struct dmarc_report_auth *a)
{
	RS(r, a->domain);
	RS(r, a->selector);
	RS(r, a->scope);
	RS(r, a->result);
}

/* Decodes a record into out (rows xmalloc'd; dmarc_report_free). -1 when bad. */
static int report_dec(const MDB_val *v, struct dmarc_report *out, int64_t *received_r)
{
	struct rec_r r = rr_init(v);
	memset(out, 0, sizeof *out);
	if (rr_u8(&r) != REC_V1)
		return -1;
	*received_r = (int64_t)rr_u64(&r);
	out->begin = (int64_t)rr_u64(&r);
	out->end = (int64_t)rr_u64(&r);
	out->flags = rr_u8(&r);
	out->total_count = rr_u64(&r);
	out->pct = (int)rr_u8(&r) - 1;
	RS(&r, out->org_name);
	RS(&r, out->email);
	RS(&r, out->report_id);
	RS(&r, out->domain);
	RS(&r, out->p);
	RS(&r, out->sp);
	RS(&r, out->np);
	RS(&r, out->adkim);
	RS(&r, out->aspf);
	RS(&r, out->testing);
	uint32_t n = rr_u32(&r);
	if (r.bad || n > DMARC_REPORT_ROWS_MAX)
		return -1;
	out->rows = n ? xcalloc(n, sizeof *out->rows) : NULL;
	out->nrows = n;
	for (uint32_t i = 0; i < n && !r.bad; i++) {
		struct dmarc_report_row *x = &out->rows[i];
		RS(&r, x->source_ip);
		x->count = rr_u32(&r);
		RS(&r, x->disposition);
		RS(&r, x->dkim);
		RS(&r, x->spf);
		RS(&r, x->header_from);
		RS(&r, x->envelope_from);
		RS(&r, x->envelope_to);
		x->ndkim = rr_u8(&r);
		if (x->ndkim > DMARC_REPORT_AUTH_MAX)
			r.bad = 1;
		for (unsigned j = 0; j < x->ndkim && !r.bad; j++)
			auth_dec(&r, &x->dkim_auth[j]);
		x->nspf = rr_u8(&r);
		if (x->nspf > DMARC_REPORT_AUTH_MAX)
			r.bad = 1;
		for (unsigned j = 0; j < x->nspf && !r.bad; j++)
			auth_dec(&r, &x->spf_auth[j]);
	}
	if (r.bad || r.off != r.len) {
		dmarc_report_free(out);
		return -1;
	}
	return 0;
}

struct put_ctx {
	char domain[STORE_DOMAIN_MAX + 1]; /* the served domain the report is filed under */
	uint8_t key[KEY_MAX];
	size_t klen;
	uint8_t *rec;
	size_t len;
	int64_t now;
	unsigned removed;
	char *err;
	size_t errsz;
};

/* The served domain a report's policy domain belongs to: itself or the
 * nearest parent that is served. */
static int served_parent(MDB_txn *txn, struct store *st, const char *d, char *out, size_t outsz)
{
	for (const char *p = d; p && *p; p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL) {
		MDB_val k = {strlen(p), (void *)p}, v;
		int rc = mdb_get(txn, st->db[DB_DOMAIN], &k, &v);
		if (rc == 0) {
			if (strlen(p) >= outsz)
				return MDB_NOTFOUND;
			memcpy(out, p, strlen(p) + 1);
			return 0;
		}
		if (rc != MDB_NOTFOUND)
			return rc;
	}
	return MDB_NOTFOUND;
}

/* Retention for one domain: the expired, then the oldest over the cap. The
 * keys are gathered first and deleted after, so no cursor walks records
 * being deleted. */
static int retain(MDB_txn *txn, struct store *st, const char *domain, int64_t now,
		  unsigned *removed_r)
{
	size_t dl = strlen(domain) + 1;
	MDB_cursor *cur;
	MDB_val k = {dl, (void *)domain}, v;
	int64_t cutoff = now - (int64_t)STORE_DMARC_KEEP_DAYS * 86400;
	uint8_t (*keys)[KEY_MAX] = NULL;
	size_t *klen = NULL, n = 0, cap = 0, live = 0;
	uint8_t *expired = NULL;
	int rc = mdb_cursor_open(txn, st->db[DB_DMARC_REPORT], &cur);

	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < dl || memcmp(k.mv_data, domain, dl) != 0)
			break;
		if (k.mv_size > KEY_MAX)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			keys = xrealloc(keys, cap * sizeof *keys);
			klen = xrealloc(klen, cap * sizeof *klen);
			expired = xrealloc(expired, cap);
		}
		memcpy(keys[n], k.mv_data, k.mv_size);
		klen[n] = k.mv_size;
		int64_t end = v.mv_size >= 25 ? (int64_t)be64_get((uint8_t *)v.mv_data + 17) : 0;
		expired[n] = end < cutoff;
		live += !expired[n];
		n++;
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	/* Keys sort by period: the first live ones are the oldest. */
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (!expired[i]) {
			if (live <= STORE_DMARC_KEEP_MAX)
				continue;
			live--;
		}
		MDB_val dk = {klen[i], keys[i]};
		rc = mdb_del(txn, st->db[DB_DMARC_REPORT], &dk, NULL);
		(*removed_r)++;
	}
	free(keys);
	free(klen);
	free(expired);
	return rc;
}

static int put_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct put_ctx *c = ctx;
	c->removed = 0;
	MDB_val k = {c->klen, c->key}, v = {c->len, c->rec};
	int rc = mdb_put(txn, st->db[DB_DMARC_REPORT], &k, &v, 0);
	if (rc == 0)
		rc = retain(txn, st, c->domain, c->now, &c->removed);
	return rc;
}

int store_dmarc_report_put(struct store *st, const struct dmarc_report *r, int64_t now,
			   char *err, size_t errsz)
{
	struct put_ctx c = {.now = now, .err = err, .errsz = errsz};
	char pol[STORE_DOMAIN_MAX + 1];
	MDB_txn *txn;
	int rc;

	if (name_domain(r->domain, pol, sizeof pol) != 0)
		return store_err(err, errsz, STORE_EINVAL, "invalid policy domain");
	rc = store_rd_begin(st, &txn);
	if (rc)
		return store_err(err, errsz, STORE_ETEMP, "store error, see the log");
	rc = served_parent(txn, st, pol, c.domain, sizeof c.domain);
	store_rd_end(st, txn);
	if (rc == MDB_NOTFOUND)
		return store_err(err, errsz, STORE_ENOTFOUND, "%s is not a served domain", pol);
	if (rc)
		return store_err(err, errsz, STORE_ETEMP, "store error, see the log");
	c.klen = report_key(c.key, c.domain, r->begin, r->org_name, r->report_id);
	struct rec_w w = {NULL, 0, 0};
	report_enc(&w, r, now);
	c.rec = xmalloc(w.len);
	c.len = w.len;
	w = (struct rec_w){c.rec, 0, c.len};
	report_enc(&w, r, now);
	rc = store_write(st, put_fn, &c);
	free(c.rec);
	if (rc == STORE_OK) {
		/* org_name is whatever the report's sender wrote: quoted and
		 * escaped, so a quote in it cannot end the value early. */
		char org[4 * sizeof r->org_name + 3];
		log_info("store", NULL,
		         "event=dmarc_report_stored domain=%s org=%s rows=%zu messages=%llu removed=%u",
		         c.domain, log_quoted(r->org_name, org, sizeof org), r->nrows,
		         (unsigned long long)r->total_count, c.removed);
	} else if (rc == STORE_ETEMP || rc == STORE_EFULL)
		store_err(err, errsz, rc,
			  rc == STORE_EFULL ? STORE_EFULL_TEXT : "store error, see the log");
	return rc;
}

int store_dmarc_report_list(struct store *st, const char *domain,
			    store_dmarc_report_cb *cb, void *arg)
{
	char d[STORE_DOMAIN_MAX + 1];
	MDB_txn *txn;
	MDB_cursor *cur;
	int rc;

	if (name_domain(domain, d, sizeof d) != 0)
		return STORE_EINVAL;
	size_t dl = strlen(d) + 1;
	rc = store_rd_begin(st, &txn);
	if (rc)
		return STORE_ETEMP;
	MDB_val k = {strlen(d), d}, v;
	rc = mdb_get(txn, st->db[DB_DOMAIN], &k, &v);
	if (rc == 0)
		rc = mdb_cursor_open(txn, st->db[DB_DMARC_REPORT], &cur);
	if (rc) {
		store_rd_end(st, txn);
		return store_mdb_code(rc);
	}
	k = (MDB_val){dl, d};
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < dl || memcmp(k.mv_data, d, dl) != 0)
			break;
		struct dmarc_report r;
		int64_t received;
		if (report_dec(&v, &r, &received) != 0) {
			log_warn("store", NULL, "event=dmarc_report_corrupt domain=%s", d);
			continue;
		}
		cb(arg, &r, received);
		dmarc_report_free(&r);
	}
	mdb_cursor_close(cur);
	store_rd_end(st, txn);
	return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK : STORE_ETEMP;
}

/* ---- dmarc_seen: (u32 day, policy domain, NUL, 16-byte hash of the row) ---- */

#define SEEN_ROW_MAX 4000
#define SEEN_KEY_MAX (4 + STORE_DOMAIN_MAX + 1 + 16)

static size_t seen_key(uint8_t *k, uint32_t day, const char *d, const char *row)
{
	size_t dl = strlen(d) + 1;
	be32_put(k, day);
	memcpy(k + 4, d, dl);
	crypto_generichash(k + 4 + dl, 16, (const uint8_t *)row, strlen(row), NULL, 0);
	return 4 + dl + 16;
}

struct seen_ctx {
	uint32_t day;
	const char *d;
	const char *const *rows;
	const uint32_t *counts;
	size_t n;
};

static int seen_add_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct seen_ctx *c = ctx;
	int rc = 0;
	for (size_t i = 0; i < c->n && rc == 0; i++) {
		uint8_t kb[SEEN_KEY_MAX];
		MDB_val k = {seen_key(kb, c->day, c->d, c->rows[i]), kb}, v;
		uint64_t count = c->counts[i];
		rc = mdb_get(txn, st->db[DB_DMARC_SEEN], &k, &v);
		if (rc == 0 && v.mv_size >= 5)
			count += be32_get((uint8_t *)v.mv_data + 1);
		else if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		if (count > UINT32_MAX)
			count = UINT32_MAX;
		size_t rl = strlen(c->rows[i]);
		uint8_t *rec = xmalloc(1 + 4 + 2 + rl);
		struct rec_w w = {rec, 0, 1 + 4 + 2 + rl};
		rw_u8(&w, REC_V1);
		rw_u32(&w, (uint32_t)count);
		rw_str16(&w, c->rows[i], rl);
		v = (MDB_val){w.len, rec};
		rc = mdb_put(txn, st->db[DB_DMARC_SEEN], &k, &v, 0);
		free(rec);
	}
	return rc;
}

int store_dmarc_seen_add(struct store *st, uint32_t day, const char *pdomain,
			 const char *const *rows, const uint32_t *counts, size_t n)
{
	char d[STORE_DOMAIN_MAX + 1];
	if (name_domain(pdomain, d, sizeof d) != 0)
		return STORE_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (strlen(rows[i]) > SEEN_ROW_MAX)
			return STORE_EINVAL;
	struct seen_ctx c = {day, d, rows, counts, n};
	return store_write(st, seen_add_fn, &c);
}

int store_dmarc_seen_list(struct store *st, uint32_t before, store_dmarc_seen_cb *cb, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = store_rd_begin(st, &txn);

	if (rc)
		return STORE_ETEMP;
	rc = mdb_cursor_open(txn, st->db[DB_DMARC_SEEN], &cur);
	if (rc) {
		store_rd_end(st, txn);
		return STORE_ETEMP;
	}
	/* A restored store's rows go at its first open: none to report. */
	if (store_restore_pending(st, txn)) {
		mdb_cursor_close(cur);
		store_rd_end(st, txn);
		return STORE_OK;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 4 + 2 + 16)
			continue;
		uint32_t day = be32_get(k.mv_data);
		if (day >= before)
			break;
		const char *d = (const char *)k.mv_data + 4;
		size_t dl = k.mv_size - 4 - 16;
		char dom[STORE_DOMAIN_MAX + 1], row[SEEN_ROW_MAX + 1];
		struct rec_r r = rr_init(&v);
		uint8_t ver = rr_u8(&r);
		uint32_t count = rr_u32(&r);
		rr_str16(&r, row, sizeof row);
		if (ver != REC_V1 || r.bad || dl > sizeof dom || d[dl - 1] != '\0')
			continue;
		memcpy(dom, d, dl);
		cb(arg, day, dom, row, count);
	}
	mdb_cursor_close(cur);
	store_rd_end(st, txn);
	return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK : STORE_ETEMP;
}

struct seen_del_ctx {
	uint8_t prefix[4 + STORE_DOMAIN_MAX + 1];
	size_t plen;
};

static int seen_del_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct seen_del_ctx *c = ctx;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, st->db[DB_DMARC_SEEN], &cur);
	if (rc)
		return rc;
	/* Re-seek the prefix after each delete rather than trust the cursor. */
	for (;;) {
		k = (MDB_val){c->plen, c->prefix};
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc || k.mv_size < c->plen || memcmp(k.mv_data, c->prefix, c->plen) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

/* The key prefix of (day, pdomain)'s rows. 0 or -1 (no domain). */
static int seen_del_prefix(struct seen_del_ctx *c, uint32_t day, const char *pdomain)
{
	char d[STORE_DOMAIN_MAX + 1];
	if (name_domain(pdomain, d, sizeof d) != 0)
		return -1;
	be32_put(c->prefix, day);
	memcpy(c->prefix + 4, d, strlen(d) + 1);
	c->plen = 4 + strlen(d) + 1;
	return 0;
}

int store_dmarc_seen_del(struct store *st, uint32_t day, const char *pdomain)
{
	struct seen_del_ctx c;
	if (seen_del_prefix(&c, day, pdomain) != 0)
		return STORE_EINVAL;
	return store_write(st, seen_del_fn, &c);
}

int store_dmarc_seen_del_txn(struct store *st, void *txn, uint32_t day, const char *pdomain)
{
	struct seen_del_ctx c;
	if (seen_del_prefix(&c, day, pdomain) != 0)
		return MDB_BAD_VALSIZE;
	return seen_del_fn(st, txn, &c);
}
