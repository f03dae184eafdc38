/*
 * store_xchg.c — changes another process made, told to this one's change
 * feed subscribers (IMAP IDLE, JMAP push and PushSubscriptions).
 *
 * The change feed (store_writer.c) is in-process: a `tern` command run
 * beside the server (`tern alias add`, `tern account quota|name`,
 * `tern import`, an expunge) commits to the same LMDB environment, but
 * its store_publish_change() reaches only its own (absent) subscribers,
 * so a push client heard of it at the account's next change made by the
 * server. Here the store that does not serve (the CLI's) leaves a note
 * in meta instead, and the server reads it:
 * - the writing process keeps the accounts it published (at most
 *   XCHG_PEND_MAX) and writes them out in one transaction at the first
 *   publication, then at most once per XCHG_FLUSH_MS (so `tern import`
 *   of many messages costs one more commit a second, not one per
 *   message), and the rest at store_close(): the counter "xchg_seq" is
 *   incremented and each account's "xchg/<account %08x>" set to it;
 * - the server (store_xchg_poll, every second from server.c) reads
 *   "xchg_seq", one key; when it moved past the value it last saw it
 *   lists "xchg/" for the accounts noted since and publishes each with
 *   its modseq now, as a commit of its own would.
 * Caveat: told within about a second of the command (one tick), and a
 * note written while the server was down is not replayed (it started
 * from the store as it was). An account's key stays until the account
 * is deleted (store_admin.c). The deletion's own note (it is published,
 * for those who follow the account) names an account that is gone: it
 * is published with STORE_MODSEQ_GONE and its key removed here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "store/store_private.h"

#define XCHG_SEQ "xchg_seq"
#define XCHG_PREFIX "xchg/"
#define XCHG_FLUSH_MS 1000

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int get_u64(MDB_txn *txn, struct store *st, const char *name, uint64_t *v_r)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc = mdb_get(txn, st->db[DB_META], &k, &v);
	if (rc)
		return rc;
	if (v.mv_size != 9 || ((const uint8_t *)v.mv_data)[0] != REC_V1)
		return MDB_CORRUPTED;
	*v_r = be64_get((const uint8_t *)v.mv_data + 1);
	return 0;
}

static int put_u64(MDB_txn *txn, struct store *st, const char *name, uint64_t x)
{
	uint8_t b[9];
	MDB_val k = {strlen(name), (void *)name}, v = {sizeof b, b};
	b[0] = REC_V1;
	be64_put(b + 1, x);
	return mdb_put(txn, st->db[DB_META], &k, &v, 0);
}

struct xchg_out {
	const uint32_t *acct;
	size_t n;
};

static int flush_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct xchg_out *o = ctx;
	uint64_t seq = 0;
	char key[32];

	int rc = get_u64(txn, st, XCHG_SEQ, &seq);
	if (rc && rc != MDB_NOTFOUND && rc != MDB_CORRUPTED)
		return rc;
	seq++;
	if ((rc = put_u64(txn, st, XCHG_SEQ, seq)) != 0)
		return rc;
	for (size_t i = 0; i < o->n; i++) {
		snprintf(key, sizeof key, XCHG_PREFIX "%08x", o->acct[i]);
		if ((rc = put_u64(txn, st, key, seq)) != 0)
			return rc;
	}
	return 0;
}

/* Removes the notes of accounts that are gone. */
static int drop_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct xchg_out *o = ctx;
	char key[32];

	for (size_t i = 0; i < o->n; i++) {
		snprintf(key, sizeof key, XCHG_PREFIX "%08x", o->acct[i]);
		MDB_val k = {strlen(key), key};
		int rc = mdb_del(txn, st->db[DB_META], &k, NULL);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
	}
	return 0;
}

/* Under xchg_mu: writes the pending notes out. */
static void flush_locked(struct store *st)
{
	struct xchg_out o = {st->xchg_pend, st->xchg_n};

	if (!st->xchg_n)
		return;
	if (store_write(st, flush_fn, &o) != STORE_OK)
		log_warn("store", NULL, "event=xchg_note_failed accounts=%zu", st->xchg_n);
	st->xchg_n = 0;
	st->xchg_flushed_ms = mono_ms();
}

void store_xchg_note(struct store *st, uint32_t account)
{
	if (st->flags & (STORE_SERVER | STORE_READONLY))
		return;
	pthread_mutex_lock(&st->xchg_mu);
	size_t i;
	for (i = 0; i < st->xchg_n && st->xchg_pend[i] != account; i++)
		;
	if (i == st->xchg_n) {
		if (st->xchg_n == XCHG_PEND_MAX)
			flush_locked(st);
		st->xchg_pend[st->xchg_n++] = account;
	}
	if (!st->xchg_flushed_ms || mono_ms() - st->xchg_flushed_ms >= XCHG_FLUSH_MS)
		flush_locked(st);
	pthread_mutex_unlock(&st->xchg_mu);
}

void store_xchg_flush(struct store *st)
{
	pthread_mutex_lock(&st->xchg_mu);
	flush_locked(st);
	pthread_mutex_unlock(&st->xchg_mu);
}

void store_xchg_start(struct store *st)
{
	MDB_txn *txn;
	uint64_t seq = 0;

	if (store_rd_begin(st, &txn) != 0)
		return;
	if (get_u64(txn, st, XCHG_SEQ, &seq) == 0)
		st->xchg_seen = seq;
	store_rd_end(st, txn);
}

int store_xchg_poll(struct store *st)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint64_t seq = 0;
	uint32_t *acct = NULL;
	size_t n = 0, cap = 0;

	if (store_rd_begin(st, &txn) != 0)
		return -1;
	int rc = get_u64(txn, st, XCHG_SEQ, &seq);
	if (rc || seq <= st->xchg_seen) {
		store_rd_end(st, txn);
		return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
	}
	if ((rc = mdb_cursor_open(txn, st->db[DB_META], &cur)) == 0) {
		MDB_val k = {sizeof XCHG_PREFIX - 1, (void *)XCHG_PREFIX}, v;
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			char hex[9];
			if (k.mv_size < sizeof XCHG_PREFIX - 1 ||
			    memcmp(k.mv_data, XCHG_PREFIX, sizeof XCHG_PREFIX - 1) != 0)
				break;
			if (k.mv_size != sizeof XCHG_PREFIX - 1 + 8 || v.mv_size != 9 ||
			    ((const uint8_t *)v.mv_data)[0] != REC_V1 ||
			    be64_get((const uint8_t *)v.mv_data + 1) <= st->xchg_seen)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				acct = xrealloc(acct, cap * sizeof *acct);
			}
			memcpy(hex, (const char *)k.mv_data + sizeof XCHG_PREFIX - 1, 8);
			hex[8] = '\0';
			acct[n++] = (uint32_t)strtoul(hex, NULL, 16);
		}
		mdb_cursor_close(cur);
	}
	store_rd_end(st, txn);
	st->xchg_seen = seq;
	size_t ngone = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t ms = 0;
		int r = store_account_modseq(st, acct[i], &ms);
		if (r == STORE_OK || r == STORE_ENOTFOUND)
			store_publish_change(st, acct[i], r == STORE_OK ? ms : STORE_MODSEQ_GONE);
		if (r == STORE_ENOTFOUND)
			acct[ngone++] = acct[i];
	}
	struct xchg_out gone = {acct, ngone};
	if (ngone && store_write(st, drop_fn, &gone) != STORE_OK)
		log_warn("store", NULL, "event=xchg_note_failed accounts=%zu", ngone);
	free(acct);
	return (int)n;
}
