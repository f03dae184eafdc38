/*
 * store_restore.c — what the first open of a restored store changes so
 * that no client is shown an old name for new data.
 *
 * Why. A backup is older than the store it was taken from. Between the
 * backup and the loss, that store went on handing out UIDs, email ids,
 * modseqs and JMAP states, and clients (Thunderbird, mbsync, a QRESYNC or
 * JMAP client) synced and cached them. The restored store starts again
 * from the backup's counters, so without this it hands the same UIDs
 * under the same UIDVALIDITY, the same email ids and the same state
 * strings out again for different messages, and a client trusts its cache
 * (RFC 9051 §2.3.1.1: a UID is never reused under one UIDVALIDITY; RFC
 * 8620 §1.2: an id is never reused; §5.2: a state names one state).
 * Nothing tells how far the lost store went, so:
 *   - every mailbox gets a new UIDVALIDITY (strictly above any handed
 *     out before, by the store's usual rule): IMAP clients drop their
 *     cache of it and fetch again; POP3 UIDLs, which carry the INBOX's
 *     UIDVALIDITY, change too (MAILBOXIDs, the mailbox ids, stay:
 *     each names the same mailbox as before);
 *   - each account's modseq jumps by RESTORE_MODSEQ_GAP and its change
 *     log is replaced by one empty record at the new modseq: JMAP
 *     /changes from any state before it answers cannotCalculateChanges
 *     (store_changes_floor), never a delta missing what was lost;
 *   - email and mailbox id counters jump (RESTORE_EMAIL_GAP,
 *     RESTORE_MAILBOX_GAP), so a new message never gets the JMAP id a
 *     lost one had;
 *   - each account's share notification sequence ("sharenoteseq/ACCOUNT",
 *     store_sharenote.c) jumps by RESTORE_NOTE_GAP, from 0 for an account
 *     the backup has none of: the lost store may have given it
 *     notifications since, whose ids (the sequence) a JMAP client saw;
 *   - the JMAP type states kept in meta ("jts/ACCOUNT/TYPE", SCHEMA.md)
 *     jump by RESTORE_TS_GAP: a state the lost store gave has no
 *     snapshot here, so it answers cannotCalculateChanges;
 *   - every outbound queue entry is held (SQ_HELD_AT): the backup's
 *     queue is what had not left then, and much of it may have left
 *     since; sent again, the remote would get it twice. The admin
 *     releases them (`tern queue flush`) or drops them (`tern queue
 *     del`), as with Postfix's postsuper -h / -H;
 *   - the reports waiting to be sent are dropped: the DMARC results of
 *     DB dmarc_seen, the TLS-RPT counts (STORE_TLSRPT_SEEN_PREFIX) and
 *     the DMARC failure reports kept across a stop
 *     (STORE_DMARC_FAIL_PREFIX). The lost store reported those days (or
 *     sent those reports) once they were over, and the receivers would
 *     count the same mail twice; a day the restore cuts in two is
 *     reported with what is counted after it. (The report messages
 *     already in the queue are held with the rest of it.)
 * The backup's own UIDs stay (under the new UIDVALIDITY) and so do the
 * messages' modseqs and each mailbox's HIGHESTMODSEQ.
 *
 * When. restore (store_backup.c) leaves the meta key RESTORE_MARK in the
 * restored store; the first read-write open runs this in its one write
 * transaction, after any migration (so the records are in this build's
 * layout), and deletes the mark: done exactly once, all or nothing.
 *
 * Caveats: the gaps are guesses of what a store cannot reach between a
 * backup and its restore (2^40 changes; 2^24 messages and 2^16 mailboxes
 * per account, less when the u32 counter has not that much room left).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "store/store_private.h"
#include "store/store_queue.h"

#define RESTORE_MODSEQ_GAP ((uint64_t)1 << 40)
#define RESTORE_EMAIL_GAP ((uint32_t)1 << 24)
#define RESTORE_MAILBOX_GAP ((uint32_t)1 << 16)
#define RESTORE_TS_GAP ((uint64_t)1 << 32)
#define RESTORE_NOTE_GAP ((uint64_t)1 << 32)

/* The jump of a u32 counter: gap, or half the room left when less. */
static uint32_t u32_jump(uint32_t next, uint32_t gap)
{
	uint32_t room = UINT32_MAX - next;
	return room / 2 < gap ? room / 2 : gap;
}

int store_restore_mark(MDB_txn *txn, MDB_dbi meta)
{
	uint8_t one = REC_V1;
	MDB_val k = {sizeof RESTORE_MARK - 1, (void *)RESTORE_MARK}, v = {1, &one};
	return mdb_put(txn, meta, &k, &v, 0);
}

/* Collects the keys of a whole DB (principal: 4 octets, mailbox: 8). */
static int keys_of(MDB_txn *txn, MDB_dbi dbi, size_t klen, uint8_t **v_r, size_t *n_r)
{
	MDB_cursor *cur;
	MDB_val k, v;
	size_t n = 0, cap = 0;
	uint8_t *out = NULL;
	int rc = mdb_cursor_open(txn, dbi, &cur);

	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != klen)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			out = xrealloc(out, cap * klen);
		}
		memcpy(out + n * klen, k.mv_data, klen);
		n++;
	}
	mdb_cursor_close(cur);
	*v_r = out;
	*n_r = n;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* New UIDVALIDITYs for every mailbox, by new_uidvalidity's rule (the
 * creation time, strictly above the last one handed out). */
static int renew_mailboxes(struct store *st, MDB_txn *txn)
{
	uint8_t *keys;
	size_t n;
	uint32_t last;
	int rc = meta_get_u32(txn, st, "last_uidvalidity", &last);

	if (rc == MDB_NOTFOUND)
		last = 0, rc = 0;
	if (rc || (rc = keys_of(txn, st->db[DB_MAILBOX], 8, &keys, &n)) != 0)
		return rc;
	uint32_t uv = (uint32_t)time(NULL);
	if (uv <= last)
		uv = last + 1;
	for (size_t i = 0; rc == 0 && i < n; i++, uv++) {
		struct mbox_rec m;
		uint32_t account = be32_get(keys + i * 8), id = be32_get(keys + i * 8 + 4);
		if (uv == 0)
			uv = 1;
		if ((rc = mbox_get(txn, st, account, id, &m)) == 0) {
			m.uidvalidity = uv;
			rc = mbox_put(txn, st, account, id, &m);
		}
	}
	free(keys);
	if (rc == 0 && n)
		rc = meta_put_u32(txn, st, "last_uidvalidity", uv - 1);
	return rc;
}

/* Each account's counters (and its share notification sequence) jump;
 * its change log becomes one empty record at the new modseq, the floor
 * of what /changes can answer. */
static int renew_accounts(struct store *st, MDB_txn *txn)
{
	uint8_t *keys, kb[12], empty[3] = {REC_V1, 0, 0};
	size_t n;
	int rc = keys_of(txn, st->db[DB_PRINCIPAL], 4, &keys, &n);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct acct_rec a;
		uint32_t id = be32_get(keys + i * 4);
		if ((rc = acct_get(txn, st, id, &a)) != 0)
			break;
		a.modseq += RESTORE_MODSEQ_GAP;
		a.next_email_id += u32_jump(a.next_email_id, RESTORE_EMAIL_GAP);
		a.next_mailbox_id += u32_jump(a.next_mailbox_id, RESTORE_MAILBOX_GAP);
		if ((rc = acct_put(txn, st, id, &a)) != 0 ||
		    (rc = sharenote_seq_jump_txn(txn, st, id, RESTORE_NOTE_GAP)) != 0 ||
		    (rc = db_del_prefix(txn, st->db[DB_CHANGE], keys + i * 4, 4, NULL, NULL)) != 0)
			break;
		MDB_val k = key_u32_u64(kb, id, a.modseq), v = {sizeof empty, empty};
		rc = mdb_put(txn, st->db[DB_CHANGE], &k, &v, 0);
	}
	free(keys);
	return rc;
}

/* "jts/ACCOUNT/TYPE" (the latest number, decimal) jumps; the snapshots
 * ("jts/ACCOUNT/TYPE/NNNN") stay: they are exact from the states before
 * the backup, whatever the objects became. The names are collected first
 * and written after the walk: a put through the cursor that changes a
 * value's size moves the page's bytes under the key it was given. */
static int renew_type_states(struct store *st, MDB_txn *txn, unsigned *n_r)
{
	MDB_cursor *cur;
	MDB_val k = {4, (void *)"jts/"}, v;
	struct ts_ent {
		char name[128];
		unsigned long long num;
	} *ents = NULL;
	size_t n = 0, cap = 0;
	char num[24];
	int rc = mdb_cursor_open(txn, st->db[DB_META], &cur);

	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 4 || memcmp(k.mv_data, "jts/", 4) != 0)
			break;
		if (k.mv_size >= sizeof ents->name || v.mv_size < 2 || v.mv_size > sizeof num ||
		    ((const uint8_t *)v.mv_data)[0] != REC_V1)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			ents = xrealloc(ents, cap * sizeof *ents);
		}
		memcpy(ents[n].name, k.mv_data, k.mv_size);
		ents[n].name[k.mv_size] = '\0';
		const char *type = strchr(ents[n].name + 4, '/');
		if (!type || strchr(type + 1, '/'))
			continue; /* a snapshot, or not one of jmap_typestate.c's */
		memcpy(num, (const char *)v.mv_data + 1, v.mv_size - 1);
		num[v.mv_size - 1] = '\0';
		ents[n++].num = strtoull(num, NULL, 10);
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		uint8_t val[24];
		int len = snprintf((char *)val + 1, sizeof val - 1, "%llu",
		                   ents[i].num + (unsigned long long)RESTORE_TS_GAP);
		val[0] = REC_V1;
		MDB_val nk = {strlen(ents[i].name), ents[i].name}, nv = {(size_t)len + 1, val};
		rc = mdb_put(txn, st->db[DB_META], &nk, &nv, 0);
	}
	free(ents);
	*n_r = (unsigned)n;
	return rc;
}

/* Every queue entry held (see above): *n_r gets how many. */
static int hold_queue(struct store *st, MDB_txn *txn, unsigned *n_r)
{
	uint8_t *keys;
	size_t n;
	int rc = keys_of(txn, st->db[DB_QUEUE], 8, &keys, &n);

	*n_r = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct store_queue_entry e, held;
		if ((rc = store_queue_get_txn(st, txn, be64_get(keys + i * 8), &e)) != 0)
			break;
		held = e;
		held.next_attempt = SQ_HELD_AT;
		rc = store_queue_put_txn(st, txn, &e, &held);
		store_queue_entry_free(&e);
		(*n_r)++;
	}
	free(keys);
	return rc;
}

static int count_one(void *arg, const MDB_val *v)
{
	(void)v;
	(*(unsigned *)arg)++;
	return 0;
}

/* The reports waiting to be sent dropped (see above); *dmarc_r gets the
 * DMARC result rows, *tlsrpt_r the TLS-RPT day records, *fail_r the
 * failure reports. */
static int drop_reports(struct store *st, MDB_txn *txn, unsigned *dmarc_r, unsigned *tlsrpt_r,
                        unsigned *fail_r)
{
	static const char tp[] = STORE_TLSRPT_SEEN_PREFIX, fp[] = STORE_DMARC_FAIL_PREFIX;
	MDB_stat ms;
	int rc = mdb_stat(txn, st->db[DB_DMARC_SEEN], &ms);

	*dmarc_r = *tlsrpt_r = *fail_r = 0;
	if (rc == 0) {
		*dmarc_r = (unsigned)ms.ms_entries;
		rc = mdb_drop(txn, st->db[DB_DMARC_SEEN], 0);
	}
	if (rc == 0)
		rc = db_del_prefix(txn, st->db[DB_META], (const uint8_t *)tp, sizeof tp - 1, count_one,
		                   tlsrpt_r);
	if (rc == 0)
		rc = db_del_prefix(txn, st->db[DB_META], (const uint8_t *)fp, sizeof fp - 1, count_one,
		                   fail_r);
	return rc;
}

int store_restore_pending(struct store *st, MDB_txn *txn)
{
	MDB_val k = {sizeof RESTORE_MARK - 1, (void *)RESTORE_MARK}, v;
	return mdb_get(txn, st->db[DB_META], &k, &v) == 0;
}

int store_restore_drops(const char *prefix)
{
	static const char *const dropped[] = {STORE_TLSRPT_SEEN_PREFIX, STORE_DMARC_FAIL_PREFIX};
	for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
		if (strncmp(prefix, dropped[i], strlen(dropped[i])) == 0)
			return 1;
	return 0;
}

int store_restore_renew(struct store *st, MDB_txn *txn)
{
	MDB_val k = {sizeof RESTORE_MARK - 1, (void *)RESTORE_MARK}, v;
	unsigned nts = 0, nq = 0, nd = 0, nt = 0, nf = 0;
	int rc = mdb_get(txn, st->db[DB_META], &k, &v);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc == 0)
		rc = renew_mailboxes(st, txn);
	if (rc == 0)
		rc = renew_accounts(st, txn);
	if (rc == 0)
		rc = renew_type_states(st, txn, &nts);
	if (rc == 0)
		rc = hold_queue(st, txn, &nq);
	if (rc == 0)
		rc = drop_reports(st, txn, &nd, &nt, &nf);
	if (rc == 0)
		rc = mdb_del(txn, st->db[DB_META], &k, NULL);
	if (rc == 0)
		log_info("store", NULL,
		         "event=restore_renewed type_states=%u queue_held=%u dmarc_rows_dropped=%u "
		         "tlsrpt_days_dropped=%u dmarc_failure_reports_dropped=%u reason=\"new "
		         "UIDVALIDITYs, ids and states after a restore; the restored queue held "
		         "(tern queue flush releases it); the reports pending in the backup dropped "
		         "(the lost server sent them)\"",
		         nts, nq, nd, nt, nf);
	return rc;
}
