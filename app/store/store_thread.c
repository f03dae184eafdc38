/*
 * store_thread.c — thread ids: which conversation a new email joins
 * (SCHEMA.md, "Threads"). JMAP's threadId and IMAP's THREADID (RFC 8474)
 * both read the email record's thread_id, which is set here once, when the
 * email is created, and never changes (RFC 8621 §4.1.1: immutable).
 *
 * The index `threadref` maps (account, hash of a message id) to the
 * thread of the first email that named that id, as its own Message-ID or
 * in In-Reply-To / References, with that email's base subject hash. A new
 * email joins the thread of the first of its ids (parent first, then its
 * References nearest first, then its own Message-ID, which a reply that
 * arrived before it may have named) whose entry has the same base subject;
 * otherwise it starts a thread whose id is its own email id. Then every
 * one of its ids without an entry gets one pointing at its thread.
 *
 * A thread whose emails were all destroyed is never joined again: JMAP
 * told it destroyed (Thread/changes), and an id comes back for no record
 * (RFC 8620 §1.2, §5.2). Its entries are dead: a lookup skips them and
 * the next email naming their ids takes them over, so that email starts
 * a thread (told created) and later replies to the same ids join it.
 */
#include <string.h>

#include "mime/mime_threadkeys.h"
#include "store/store_private.h"

#define THREADREF_VLEN 13 /* u8 version, u32 thread, u64 subject hash */

static MDB_val threadref_key(uint8_t b[12], uint32_t account, uint64_t h)
{
	return key_u32_u64(b, account, h);
}

/* Reads id h's entry: *found_r 0 when there is none, else 1 with its
 * thread in *thread_r, its subject hash in *subj_r and, with live, in
 * *dead_r whether that thread has no email left. 0 or an LMDB error. */
static int threadref_get(MDB_txn *txn, struct store *st, uint32_t account, uint64_t h, int live,
			 int *found_r, uint32_t *thread_r, uint64_t *subj_r, int *dead_r)
{
	uint8_t kb[12];
	MDB_val k = threadref_key(kb, account, h), v;
	int rc = mdb_get(txn, st->db[DB_THREADREF], &k, &v);
	uint32_t n = 1;

	*found_r = *dead_r = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	const uint8_t *p = v.mv_data;
	if (v.mv_size != THREADREF_VLEN || p[0] != REC_V1)
		return MDB_CORRUPTED;
	*found_r = 1;
	*thread_r = be32_get(p + 1);
	*subj_r = be64_get(p + 5);
	if (live && (rc = counts_thread_emails(txn, st, account, *thread_r, &n)) != 0)
		return rc;
	*dead_r = n == 0;
	return 0;
}

/* Sets *match_r to 1 and *thread_r when id h has an entry with subject
 * subj whose thread still has emails, else *match_r to 0. 0 or an LMDB
 * error. */
static int threadref_match(MDB_txn *txn, struct store *st, uint32_t account, uint64_t h,
			   uint64_t subj, int live, uint32_t *thread_r, int *match_r)
{
	uint32_t thread;
	uint64_t s;
	int found, dead;
	int rc = threadref_get(txn, st, account, h, live, &found, &thread, &s, &dead);

	*match_r = 0;
	if (rc == 0 && found && !dead && s == subj) {
		*thread_r = thread;
		*match_r = 1;
	}
	return rc;
}

static int threadref_put(MDB_txn *txn, struct store *st, uint32_t account, uint64_t h,
			 uint32_t thread, uint64_t subj, int live)
{
	uint8_t kb[12], vb[THREADREF_VLEN];
	MDB_val k = threadref_key(kb, account, h), v = {sizeof vb, vb};
	uint32_t old;
	uint64_t s;
	int found, dead;
	int rc = threadref_get(txn, st, account, h, live, &found, &old, &s, &dead);

	/* An id keeps the thread it was first seen in while that lives. */
	if (rc || (found && (!dead || old == thread)))
		return rc;
	vb[0] = REC_V1;
	be32_put(vb + 1, thread);
	be64_put(vb + 5, subj);
	return mdb_put(txn, st->db[DB_THREADREF], &k, &v, 0);
}

int thread_assign(MDB_txn *txn, struct store *st, uint32_t account, uint32_t email_id,
                  const char *data, size_t len, int live, uint32_t *thread_r)
{
	struct mime_threadkeys k;
	uint64_t ids[MIME_THREADKEYS_REFS + 1];
	size_t n = 0;
	int rc = 0, match = 0;

	mime_threadkeys_get(data, len, &k);
	for (size_t i = 0; i < k.nrefs; i++)
		ids[n++] = k.refs[i];
	if (k.has_self)
		ids[n++] = k.self;

	*thread_r = email_id;
	for (size_t i = 0; i < n && !match; i++)
		if ((rc = threadref_match(txn, st, account, ids[i], k.subject, live, thread_r,
					  &match)) != 0)
			return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = threadref_put(txn, st, account, ids[i], *thread_r, k.subject, live)) != 0)
			return rc;
	return 0;
}
