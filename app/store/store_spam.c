/*
 * store_spam.c — the spam filter's records per account (`spam`, schema
 * 12): opaque bytes app/spam/ defines, read in place and replaced by a
 * read-modify-write in one transaction (store.h). Layout in SCHEMA.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hex.h"
#include "core/xalloc.h"
#include "store/store_private.h"

static MDB_val spam_key(uint8_t b[5], uint32_t account, unsigned kind)
{
	be32_put(b, account);
	b[4] = (uint8_t)kind;
	return (MDB_val){5, b};
}

int store_spam_get(struct store *st, const uint32_t *accounts, size_t n, unsigned kind,
                   store_spam_cb *cb, void *arg)
{
	MDB_txn *txn;
	struct str recs[4];
	int rc = 0;
	if (n > 4)
		return STORE_EINVAL;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint8_t kb[5];
		MDB_val k = spam_key(kb, accounts[i], kind), v;
		recs[i] = STR_NULL;
		int r = mdb_get(txn, st->db[DB_SPAM], &k, &v);
		if (r == 0) {
			const uint8_t *p = v.mv_data;
			if (v.mv_size < 1 || p[0] != REC_V1)
				rc = STORE_ETEMP;
			else
				recs[i] = str_make((const char *)p + 1, v.mv_size - 1);
		} else if (r != MDB_NOTFOUND) {
			rc = STORE_ETEMP;
		}
	}
	if (rc == 0)
		cb(arg, recs);
	store_rd_end(st, txn);
	return rc;
}

struct spam_upd {
	uint32_t account;
	unsigned kind;
	store_spam_update_fn *fn;
	void *arg;
	int result; /* fn's non-zero answer */
};

static int spam_update_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct spam_upd *u = ctx;
	uint8_t kb[5];
	MDB_val k = spam_key(kb, u->account, u->kind), v;
	const void *old = NULL;
	size_t oldlen = 0;
	int rc = mdb_get(txn, st->db[DB_SPAM], &k, &v);
	if (rc == 0) {
		const uint8_t *p = v.mv_data;
		if (v.mv_size < 1 || p[0] != REC_V1)
			return MDB_CORRUPTED;
		old = p + 1;
		oldlen = v.mv_size - 1;
	} else if (rc != MDB_NOTFOUND) {
		return rc;
	}
	struct buf out;
	buf_init(&out, STORE_SPAM_RECORD_MAX);
	uint8_t ver = REC_V1;
	buf_append(&out, &ver, 1);
	u->result = u->fn(u->arg, old, oldlen, &out);
	if (u->result == 0) {
		if (buf_len(&out) <= 1) {
			rc = mdb_del(txn, st->db[DB_SPAM], &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		} else {
			v = (MDB_val){buf_len(&out), buf_data(&out)};
			rc = mdb_put(txn, st->db[DB_SPAM], &k, &v, 0);
		}
	} else {
		rc = 0;
	}
	buf_free(&out);
	return rc;
}

int store_spam_update(struct store *st, uint32_t account, unsigned kind, store_spam_update_fn *fn,
                      void *arg)
{
	struct spam_upd u = {account, kind, fn, arg, 0};
	int rc = store_write(st, spam_update_fn, &u);
	if (rc == 0 && u.result)
		return u.result;
	return rc;
}

/* Deletes meta name; 0 when it is absent too, or an LMDB error. */
static int meta_drop(MDB_txn *txn, struct store *st, const char *name)
{
	MDB_val k = {strlen(name), (void *)name};
	int rc = mdb_del(txn, st->db[DB_META], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Takes account's vote out of spamvote/HEX (SCHEMA.md: u8 n, u8 global,
 * n x (u32 account, u8 s/h)); the record goes with its last vote. */
static int vote_drop(MDB_txn *txn, struct store *st, uint32_t account, const char *hex)
{
	char name[64];
	snprintf(name, sizeof name, "spamvote/%s", hex);
	MDB_val k = {strlen(name), name}, v;
	int rc = mdb_get(txn, st->db[DB_META], &k, &v);
	if (rc)
		return rc == MDB_NOTFOUND ? 0 : rc;
	uint8_t rec[3 + 255 * 5];
	const uint8_t *p = v.mv_data;
	if (v.mv_size < 3 || p[0] != REC_V1 || v.mv_size != 3 + (size_t)p[1] * 5)
		return meta_drop(txn, st, name); /* not one the learner reads either */
	size_t n = 0;
	for (size_t i = 0; i < p[1]; i++) {
		const uint8_t *e = p + 3 + i * 5;
		if (be32_get(e) != account)
			memcpy(rec + 3 + n++ * 5, e, 5);
	}
	if (n == p[1])
		return 0;
	if (n == 0)
		return meta_drop(txn, st, name);
	rec[0] = REC_V1;
	rec[1] = (uint8_t)n;
	rec[2] = p[2];
	v = (MDB_val){3 + n * 5, rec};
	return mdb_put(txn, st->db[DB_META], &k, &v, 0);
}

int spam_email_drop_txn(MDB_txn *txn, struct store *st, uint32_t account, uint32_t email)
{
	char name[64], hex[33];
	snprintf(name, sizeof name, "spamfrom/%u/%u", account, email);
	int rc = meta_drop(txn, st, name); /* only port 25's deliveries have one */
	if (rc)
		return rc;
	/* What the account learned from the email (spamlesson/ names the
	 * lesson's key): the lesson's record and the account's vote. */
	snprintf(name, sizeof name, "spamlesson/%u/%u", account, email);
	MDB_val k = {strlen(name), name}, v;
	rc = mdb_get(txn, st->db[DB_META], &k, &v);
	if (rc)
		return rc == MDB_NOTFOUND ? 0 : rc;
	const uint8_t *p = v.mv_data;
	int ok = (v.mv_size == 33 || v.mv_size == 34) && p[0] == REC_V1;
	for (size_t i = 1; ok && i < 33; i++)
		ok = hex_digit_lower(p[i]) >= 0;
	if (ok) {
		memcpy(hex, p + 1, 32);
		hex[32] = '\0';
	}
	if ((rc = meta_drop(txn, st, name)) != 0 || !ok)
		return rc;
	/* The lesson and the vote stay while another of the account's
	 * emails names them (spamtrained/: u8 s/h, u32 emails; one octet:
	 * one email) */
	snprintf(name, sizeof name, "spamtrained/%u/%s", account, hex);
	k = (MDB_val){strlen(name), name};
	rc = mdb_get(txn, st->db[DB_META], &k, &v);
	if (rc)
		return rc == MDB_NOTFOUND ? 0 : rc;
	p = v.mv_data;
	if (v.mv_size == 6 && p[0] == REC_V1 && be32_get(p + 2) > 1) {
		uint8_t rec[6];
		memcpy(rec, p, 2);
		be32_put(rec + 2, be32_get(p + 2) - 1);
		v = (MDB_val){sizeof rec, rec};
		return mdb_put(txn, st->db[DB_META], &k, &v, 0);
	}
	if ((rc = meta_drop(txn, st, name)) != 0)
		return rc;
	return vote_drop(txn, st, account, hex);
}

int spam_account_lessons_drop_txn(MDB_txn *txn, struct store *st, uint32_t account)
{
	char pfx[32];
	int plen = snprintf(pfx, sizeof pfx, "spamlesson/%u/", account);
	for (;;) {
		MDB_cursor *cur;
		MDB_val k = {(size_t)plen, pfx}, v;
		int rc = mdb_cursor_open(txn, st->db[DB_META], &cur);
		if (rc)
			return rc;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		char name[64] = "";
		if (rc == 0 && k.mv_size > (size_t)plen && k.mv_size < sizeof name &&
		    memcmp(k.mv_data, pfx, (size_t)plen) == 0) {
			memcpy(name, k.mv_data, k.mv_size);
			name[k.mv_size] = '\0';
		}
		mdb_cursor_close(cur);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
		if (!name[0])
			return 0;
		/* spam_email_drop_txn deletes the name: the next turn finds the next */
		char *end;
		unsigned long email = strtoul(name + plen, &end, 10);
		if (*end || email > UINT32_MAX)
			rc = meta_drop(txn, st, name);
		else
			rc = spam_email_drop_txn(txn, st, account, (uint32_t)email);
		if (rc)
			return rc;
	}
}

/* ---- the sweep of lessons whose email is gone (store.h) ---- */

#define SWEEP_NAME_MAX 48 /* "spamlesson/" and two u32 in decimal */

struct spam_sweep {
	char *cursor;
	size_t cursorsz, max, dropped;
};

static int spam_sweep_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	static const char pfx[] = "spamlesson/";
	const size_t plen = sizeof pfx - 1;
	struct spam_sweep *sw = ctx;
	char from[SWEEP_NAME_MAX];
	snprintf(from, sizeof from, "%s%s", pfx, sw->cursor);
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, st->db[DB_META], &cur);
	if (rc)
		return rc;
	/* The names of the batch first (dropping moves the cursor), then
	 * those whose email is gone */
	char(*names)[SWEEP_NAME_MAX] = xcalloc(sw->max ? sw->max : 1, SWEEP_NAME_MAX);
	size_t n = 0;
	int more = 0;
	MDB_val k = {strlen(from), from}, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen || memcmp(k.mv_data, pfx, plen) != 0)
			break;
		if (k.mv_size == strlen(from) && memcmp(k.mv_data, from, k.mv_size) == 0 &&
		    sw->cursor[0])
			continue; /* the last batch's last name */
		if (n == sw->max) {
			more = 1;
			break;
		}
		size_t l = k.mv_size < SWEEP_NAME_MAX - 1 ? k.mv_size : SWEEP_NAME_MAX - 1;
		memcpy(names[n], k.mv_data, l);
		names[n++][l] = '\0';
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND) {
		free(names);
		return rc;
	}
	rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char *end;
		unsigned long account = strtoul(names[i] + plen, &end, 10), email = 0;
		if (*end == '/')
			email = strtoul(end + 1, &end, 10);
		if (*end || account > UINT32_MAX || email > UINT32_MAX || !email) {
			rc = meta_drop(txn, st, names[i]); /* not a name the learner writes */
			sw->dropped += rc == 0;
			continue;
		}
		uint8_t kb[8];
		MDB_val ek = key_u32_u32(kb, (uint32_t)account, (uint32_t)email), ev;
		rc = mdb_get(txn, st->db[DB_EMAIL], &ek, &ev);
		if (rc == MDB_NOTFOUND) {
			rc = spam_email_drop_txn(txn, st, (uint32_t)account, (uint32_t)email);
			sw->dropped += rc == 0;
		}
	}
	if (rc == 0)
		snprintf(sw->cursor, sw->cursorsz, "%s", more && n ? names[n - 1] + plen : "");
	free(names);
	return rc;
}

int store_spam_sweep(struct store *st, char *cursor, size_t cursorsz, size_t max, size_t *dropped_r)
{
	struct spam_sweep sw = {cursor, cursorsz, max, 0};
	*dropped_r = 0;
	if (cursorsz < SWEEP_NAME_MAX)
		return STORE_EINVAL;
	int rc = store_write(st, spam_sweep_fn, &sw);
	if (rc == STORE_OK)
		*dropped_r = sw.dropped;
	return rc;
}
