/*
 * store.c — the environment: open and close, schema version and
 * migrations, the map lock, map growth and the write-transaction runner
 * every writer in the store uses.
 *
 * Environment flags. MDB_NOTLS: a reader slot belongs to the transaction,
 * not to the thread, so a read callback may open a nested read (another
 * store read function) and any thread — a loop, an HTTP pool thread — can
 * read without leaving a slot tied to it. MDB_NOMETASYNC: LMDB's commit
 * flushes the data pages, then writes the meta page that makes them the
 * new state without a flush of its own; store_write() flushes it
 * (mdb_env_sync) before it returns, so a commit returned still means the
 * data is on disk, which is what lets SMTP answer 250. The store writer
 * alone may leave that second flush out (STORE_W_DEFER_SYNC): the next
 * commit's data flush covers the meta page before it, so under load a
 * batch costs one flush, not two, and the writer answers a batch's
 * requests only after the flush that covers it (store_writer.c, "One
 * flush per commit"). Group commit is how we pay for the flushes only
 * once per batch. A flush that fails, or an I/O error in LMDB's commit,
 * halts the store: no write from then on (store_halt; store_writer.c,
 * "A failed flush").
 *
 * Map size. LMDB needs the map to be at least as large as the data file and
 * cannot grow it by itself. We start at 64 MiB, or the next power of two
 * above the file size, and double on MDB_MAP_FULL: store_write() aborts the
 * transaction, takes maplock exclusive (no transaction of ours may be live
 * during mdb_env_set_mapsize), doubles, and runs the write again from
 * scratch. Another process (the CLI) may grow the map too; we notice when a
 * transaction begins with MDB_MAP_RESIZED and adopt the new size the same
 * way. LMDB persists the larger size, so the next open starts there.
 *
 * Room. tern serve keeps a few MiB of zeroed blocks past LMDB's last page
 * (store_room.c), topped up at the start of a write transaction, so that
 * commits overwrite allocated blocks instead of growing the file. The file
 * may therefore be a little larger than the data, and than the map.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "store/store_backup.h"
#include "store/store_private.h"

/*
 * Read transactions (and write ones) this thread holds on maplock. A thread
 * that holds it shared must not wait for it exclusive: growth then reports
 * an error instead of deadlocking on itself.
 */
static _Thread_local int maplock_depth;

static atomic_ullong test_initial_map;
static atomic_uint test_gc_poll_ms; /* store_test_set_gc_poll() */
static atomic_ullong test_map_limit; /* store_test_set_map_limit() */

/* At most this much address space asked for past a new map size (map_set). */
#define MAP_SLACK_MAX (256ull << 20)

static const struct {
	const char *name;
	unsigned flags;
} db_defs[DB_COUNT] = {
    [DB_META] = {"meta", 0},
    [DB_DOMAIN] = {"domain", 0},
    [DB_PRINCIPAL] = {"principal", 0},
    [DB_PRINCIPAL_NAME] = {"principal_name", 0},
    [DB_ALIAS] = {"alias", MDB_DUPSORT},
    [DB_MAILBOX] = {"mailbox", 0},
    [DB_EMAIL] = {"email", 0},
    [DB_UID] = {"uid", 0},
    [DB_CHANGE] = {"change", 0},
    [DB_BLOB] = {"blob", 0},
    [DB_BLOBREF] = {"blobref", 0},
    [DB_ENVELOPE] = {"envelope", 0},
    [DB_DKIM] = {"dkim", 0},
    [DB_QUEUE] = {"queue", 0},
    [DB_QUEUE_DUE] = {"queue_due", 0},
    [DB_BLOBDATA] = {"blobdata", 0},
    [DB_BLOBGC] = {"blobgc", 0},
    [DB_SUBSCRIPTION] = {"subscription", 0},
    [DB_DMARC_REPORT] = {"dmarc_report", 0},
    [DB_DMARC_SEEN] = {"dmarc_seen", 0},
    [DB_METADATA] = {"metadata", 0},
    [DB_SIEVE] = {"sieve", 0},
    [DB_SIEVE_SEEN] = {"sieve_seen", 0},
    [DB_APPPASS] = {"apppass", 0},
    [DB_THREADREF] = {"threadref", 0},
    [DB_SPAM] = {"spam", 0},
    [DB_THREAD] = {"thread", 0},
    [DB_MBCOUNT] = {"mbcount", 0},
    [DB_FTS] = {"fts", 0},
    [DB_FTS_TERM] = {"fts_term", 0},
    [DB_BLOBOWN] = {"blobown", 0},
    [DB_ACL] = {"acl", 0},
    [DB_ACL_REV] = {"acl_rev", 0},
};

uint32_t store_schema_version(void)
{
	return STORE_SCHEMA_VERSION;
}

int store_err(char *err, size_t errsz, int code, const char *fmt, ...)
{
	if (err && errsz) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int is_store_code(int rc)
{
	return rc <= STORE_ENOTFOUND && rc > STORE_ENOTFOUND - 100;
}

int store_mdb_code(int rc)
{
	if (rc == 0)
		return STORE_OK;
	if (is_store_code(rc))
		return rc;
	if (rc == MDB_NOTFOUND)
		return STORE_ENOTFOUND;
	if (rc == MDB_KEYEXIST)
		return STORE_EEXIST;
	return STORE_ETEMP;
}

/* ---- maplock, growth ---- */

static uint64_t map_size(struct store *st)
{
	MDB_envinfo info;
	mdb_env_info(st->env, &info);
	return info.me_mapsize;
}

/*
 * Maps the environment at `to` bytes; the caller holds maplock exclusive.
 *
 * mdb_env_set_mapsize() unmaps the old map before it maps the new one,
 * and when that mmap fails (the address space is short: a ulimit -v, a
 * 32-bit host) it leaves the environment with no map and its meta
 * pointers into the old one: the next transaction read freed memory and
 * the server died of SIGSEGV, and LMDB offers no way back. So first ask
 * the kernel for the address space itself, the new size and some slack
 * for what other threads map meanwhile, all while the old map still
 * stands (a stricter test than LMDB's own); without it the map stays as
 * it is and the caller gets ENOMEM, a temporary failure. Should LMDB's
 * mmap fail all the same, no transaction can be run any more: the
 * process ends with one clear line rather than a crash.
 */
static int map_set(struct store *st, uint64_t to)
{
	size_t probe = (size_t)to + (size_t)(to / 8 > MAP_SLACK_MAX ? MAP_SLACK_MAX : to / 8);
	uint64_t limit = atomic_load(&test_map_limit);
	void *p = limit && to > limit ? MAP_FAILED :
	          mmap(NULL, probe, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return ENOMEM;
	munmap(p, probe);
	int rc = mdb_env_set_mapsize(st->env, (size_t)to);
	if (rc != 0)
		fatal("the store's map could not be remapped at %llu bytes (%s); restart the server",
		      (unsigned long long)to, mdb_strerror(rc));
	return 0;
}

/* Doubles the map unless someone already grew it past seen. */
static int map_grow(struct store *st, uint64_t seen)
{
	int rc = 0;

	if (maplock_depth > 0) {
		log_error("store", NULL, "event=map_grow_refused reason=txn_held_by_caller");
		return EDEADLK;
	}
	pthread_rwlock_wrlock(&st->maplock);
	uint64_t cur = map_size(st);
	if (cur <= seen) {
		uint64_t to = seen * 2;
		rc = map_set(st, to);
		if (rc == 0) {
			atomic_fetch_add(&st->grows, 1);
			log_info("store", NULL, "event=map_grow from=%llu to=%llu",
			         (unsigned long long)cur, (unsigned long long)to);
		} else {
			log_error("store", NULL, "event=map_grow_failed to=%llu error=\"%s\"",
			          (unsigned long long)to, mdb_strerror(rc));
		}
	}
	pthread_rwlock_unlock(&st->maplock);
	return rc;
}

/* Another process grew the map: ours grows to hold what it wrote. */
static int map_adopt(struct store *st)
{
	if (maplock_depth > 0)
		return EDEADLK;
	pthread_rwlock_wrlock(&st->maplock);
	/* Ours doubled until it holds the pages the other process wrote, not
	 * the size it recorded (mdb_env_set_mapsize(env, 0)): map_set() must
	 * know the size to check the address space for it first. */
	MDB_envinfo info;
	MDB_stat ms;
	uint64_t before = map_size(st), to = before;
	int rc = 0;
	mdb_env_info(st->env, &info);
	mdb_env_stat(st->env, &ms);
	uint64_t need = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
	while (to < need)
		to *= 2;
	if (to > before)
		rc = map_set(st, to);
	pthread_rwlock_unlock(&st->maplock);
	if (rc == 0)
		log_info("store", NULL, "event=map_adopt size=%llu",
		         (unsigned long long)map_size(st));
	return rc;
}

/*
 * MDB_PANIC: LMDB could not write a commit's meta page (the disk full, on a
 * file system that must allocate to overwrite, or an I/O error) and marked
 * the environment unusable: every transaction after it, reads included,
 * fails the same way, and only a new open clears the mark. The server
 * lived on and answered every command with a temporary failure for good,
 * even once the disk had room again. Nothing is lost by ending here: that
 * commit's requests were answered as failed, and LMDB wrote the old meta
 * page back, which leaves the commit before it the newest state (what a
 * restart opens). So the process ends with one clear line, as map_set()
 * does when LMDB leaves no way back, and the supervisor (the image's
 * restart policy) starts it again; with the status of a halted store
 * (STORE_EXIT_HALTED), which it is. At once, not after a drain as
 * store_halt() asks: reads fail too, so a session has nothing to finish.
 */
static void panic_end(int rc)
{
	log_error("core", NULL,
	          "event=fatal error=\"the store could not record a commit (%s); restart the server "
	          "(free some disk space first if the disk is full)\"",
	          mdb_strerror(rc));
	exit(STORE_EXIT_HALTED);
}

int store_rd_begin(struct store *st, MDB_txn **txn_r)
{
	for (int tries = 0;; tries++) {
		pthread_rwlock_rdlock(&st->maplock);
		int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn_r);
		if (rc == 0) {
			maplock_depth++;
			return 0;
		}
		pthread_rwlock_unlock(&st->maplock);
		if (rc == MDB_PANIC)
			panic_end(rc);
		if (rc != MDB_MAP_RESIZED || tries >= 4)
			return rc;
		rc = map_adopt(st);
		if (rc)
			return rc;
	}
}

void store_rd_end(struct store *st, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	maplock_depth--;
	pthread_rwlock_unlock(&st->maplock);
}

/*
 * LMDB reports a short write of its pages as EIO ("filesystem full?", it
 * says): the file system took part of the write and then had no room.
 * That is the disk running out under the estimate (store_reserve.c), and
 * it must take the ENOSPC path, or the deletions in the batch would fail
 * with the mail. A true I/O error leaves the free space as it was; after a
 * short write next to nothing is left (the pages written so far stay
 * allocated in data.mdb until reused).
 */
#define SHORT_WRITE_FREE ((uint64_t)1 << 20)

static int commit_errno(struct store *st, int rc)
{
	if (rc == EIO && store_disk_free(st->dir) < SHORT_WRITE_FREE)
		return ENOSPC;
	return rc;
}

/*
 * The file may not hold what was committed (store_writer.c, "A failed
 * flush"): from now on no write, and the owner is told, once.
 */
static void store_halt(struct store *st, const char *stage, int rc)
{
	if (atomic_exchange(&st->halted, 1))
		return;
	log_error("store", NULL,
	          "event=store_halted stage=%s error=\"%s\" action=stop note=\"the store's file may "
	          "not hold what was committed: writes are refused until tern is started again; "
	          "check the disk\"",
	          stage, mdb_strerror(rc));
	if (st->on_halt)
		st->on_halt();
}

int store_halted(struct store *st)
{
	return atomic_load(&st->halted);
}

void store_on_halt(struct store *st, void (*fn)(void))
{
	st->on_halt = fn;
}

/*
 * An errno from LMDB's own commit that halts the store: its pages' write
 * or the flush of the file (which also covers the meta page of the commit
 * before, store_writer.c) went wrong. A full disk or quota is not such a
 * failure: nothing of the commit went in, and the reserve handles it.
 */
static int commit_io_failure(int rc)
{
	return rc > 0 && rc != ENOSPC && rc != EDQUOT && rc != EFBIG;
}

int store_write(struct store *st, store_write_fn *fn, void *ctx)
{
	/* A full disk is said as one (STORE_EFULL), not as a passing error. */
	return store_write_ex(st, fn, ctx, STORE_W_FULL_CODE);
}

int store_write_ex(struct store *st, store_write_fn *fn, void *ctx, unsigned wflags)
{
	int gave_back = 0;

	if (st->flags & STORE_READONLY)
		return STORE_EINVAL;
	if (atomic_load(&st->halted))
		return STORE_ETEMP;
	/* 40 doublings is far beyond any disk; it only stops a runaway. */
	for (int attempt = 0; attempt < 40; attempt++) {
		MDB_txn *txn;
		int rc, by_lmdb = 0;

		pthread_rwlock_rdlock(&st->maplock);
		rc = mdb_txn_begin(st->env, NULL, 0, &txn);
		if (rc) {
			pthread_rwlock_unlock(&st->maplock);
			if (rc == MDB_MAP_RESIZED && map_adopt(st) == 0)
				continue;
			if (rc == MDB_PANIC)
				panic_end(rc);
			log_error("store", NULL, "event=txn_begin_failed error=\"%s\"",
			          mdb_strerror(rc));
			return STORE_ETEMP;
		}
		maplock_depth++;
		uint64_t seen = map_size(st);
		store_room_keep(st); /* LMDB's write lock is ours: see store_room.c */
		rc = fn(st, txn, ctx);
		if (rc == 0) {
			int fail = atomic_load(&st->fail_commit);
			if (fail && atomic_load(&st->fail_skip) > 0) {
				atomic_fetch_sub(&st->fail_skip, 1);
				fail = 0;
			} else if (!fail) {
				fail = atomic_exchange(&st->fail_once, 0);
			}
			if (fail) {
				mdb_txn_abort(txn);
				rc = fail;
			} else {
				rc = mdb_txn_commit(txn); /* frees txn even when it fails */
				by_lmdb = 1;
			}
		} else {
			mdb_txn_abort(txn);
		}
		maplock_depth--;
		pthread_rwlock_unlock(&st->maplock);

		if (rc == 0 && !(wflags & STORE_W_DEFER_SYNC) && (rc = store_sync(st)) != 0) {
			/* Committed, maybe not on disk: not an answer to give as done. */
			log_error("store", NULL, "event=sync_failed error=\"%s\"", mdb_strerror(rc));
			return STORE_ETEMP;
		}
		if (rc == 0) {
			atomic_fetch_add(&st->commits, 1);
			if (atomic_exchange(&st->gc_note, 0))
				store_gc_schedule(st, store_wall_ms() + atomic_load(&st->gc_grace_ms));
			return STORE_OK;
		}
		if (rc == MDB_MAP_FULL) {
			if (map_grow(st, seen) != 0)
				/* The map cannot grow: as a full disk to new mail. */
				return (wflags & STORE_W_NEW_MAIL) ? STORE_EFULL : STORE_ETEMP;
			continue;
		}
		rc = commit_errno(st, rc);
		if (by_lmdb && commit_io_failure(rc))
			store_halt(st, "commit", rc);
		if (rc == ENOSPC && (wflags & STORE_W_NEW_MAIL))
			return STORE_EFULL; /* the caller drops the mail and comes back */
		if (rc == ENOSPC && !gave_back && store_reserve_give_back(st)) {
			gave_back = 1; /* what adds no mail may use the reserve */
			continue;
		}
		if (rc == ENOSPC && (wflags & STORE_W_FULL_CODE)) {
			log_warn("store", NULL, "event=disk_full action=refuse_write");
			return STORE_EFULL;
		}
		if (is_store_code(rc))
			return rc;
		log_error("store", NULL, "event=commit_failed error=\"%s\"", mdb_strerror(rc));
		return STORE_ETEMP;
	}
	log_error("store", NULL, "event=commit_failed error=\"map growth did not help\"");
	return STORE_ETEMP;
}

int store_txn_held(void)
{
	return maplock_depth > 0;
}

int store_sync(struct store *st)
{
	if (atomic_load(&st->halted))
		return EIO;
	int rc = atomic_exchange(&st->fail_sync_once, 0);
	if (rc == 0) {
		atomic_fetch_add(&st->syncs, 1);
		rc = mdb_env_sync(st->env, 1);
	}
	if (rc)
		store_halt(st, "flush", rc);
	return rc;
}

int store_room_between(struct store *st)
{
	MDB_txn *txn;
	int added = 0;

	/* Without room (not ext4 or XFS, turned off, or not a serving store)
	 * there is nothing to take the lock for. The fd itself may change
	 * only under it. */
	if (!atomic_load(&st->room.kept))
		return 0;
	pthread_rwlock_rdlock(&st->maplock);
	if (mdb_txn_begin(st->env, NULL, 0, &txn) == 0) {
		added = store_room_step(st);
		mdb_txn_abort(txn); /* it wrote nothing: only the lock was wanted */
	}
	pthread_rwlock_unlock(&st->maplock);
	return added;
}

/* ---- schema and migrations ---- */

/*
 * Migration from version N to N+1 is migrations[N]. They all run in the one
 * write transaction of store_open, so an upgrade either completes or leaves
 * the environment as it was. To change the schema: bump
 * STORE_SCHEMA_VERSION, append a function here, teach the codecs the new
 * record version, and describe both in SCHEMA.md.
 */
typedef int migrate_fn(struct store *st, MDB_txn *txn);

/* 0 -> 1: a fresh environment; the databases were just created. */
static int migrate_initial(struct store *st, MDB_txn *txn)
{
	int rc = meta_put_u32(txn, st, "next_principal_id", 1);
	if (rc == 0)
		rc = meta_put_u32(txn, st, "last_uidvalidity", 0);
	return rc;
}

/*
 * 1 -> 2: new blobs' bytes go to blobdata under a sequence number (open_fn
 * just created it). Blobs already stored stay in blob under their id; their
 * blobref records (version 1) say so. Nothing to rewrite.
 */
static int migrate_blobdata(struct store *st, MDB_txn *txn)
{
	(void)st;
	(void)txn;
	return 0;
}

/* Moves one email's $deleted to its memberships (migrate_deleted). */
static int move_deleted(struct store *st, MDB_txn *txn, const uint8_t key[8])
{
	MDB_val k = { 8, (void *)key };
	struct email_rec e;
	uint8_t *copy;
	int rc = email_get_copy(txn, st, &k, &e, &copy);

	if (rc)
		return rc;
	char *kw = xmalloc((size_t)e.keywords_len + 1);
	memcpy(kw, e.keywords, e.keywords_len);
	kw[e.keywords_len] = '\0';
	size_t kl;
	if (!store_keywords_take_deleted(kw, &kl)) {
		free(kw);
		goto out;
	}
	e.keywords = kw;
	e.keywords_len = (uint16_t)kl;
	rc = rec_put(txn, st->db[DB_EMAIL], &k, email_size(&e), email_enc, &e, 0);
	free(kw);
	uint32_t account = be32_get(key);
	for (uint16_t i = 0; i < e.nmembers && rc == 0; i++) {
		const uint8_t *mp = e.members + (size_t)i * 8;
		uint8_t kb[12], urec[UID_REC_MAX];
		MDB_val uk = key_u32_u32_u32(kb, account, be32_get(mp), be32_get(mp + 4)), uv;
		rc = mdb_get(txn, st->db[DB_UID], &uk, &uv);
		if (rc == MDB_NOTFOUND) {
			rc = 0; /* a dangling membership: nothing to flag */
			continue;
		}
		if (rc)
			break;
		if (uv.mv_size < 5)
			rc = MDB_CORRUPTED;
		else {
			MDB_val nv = { uid_rec_encode(urec, be32_get((uint8_t *)uv.mv_data + 1),
			                              uid_rec_saved_at(&uv, e.received_at),
			                              uid_rec_flags(&uv) | UID_F_DELETED),
				       urec };
			rc = mdb_put(txn, st->db[DB_UID], &uk, &nv, 0);
		}
	}
out:
	free(copy);
	return rc;
}

/*
 * The keys (each klen octets) of the records of dbi that keep() takes (1;
 * NULL takes all), gathered before a migration rewrites them so that no
 * cursor walks records being rewritten: *keys_r (n_r of them, malloc'd,
 * the caller frees, NULL when none). 0, or an LMDB code: MDB_CORRUPTED
 * for a key of another length or a record keep() cannot read (-1).
 */
static int gather_keys(MDB_txn *txn, MDB_dbi dbi, size_t klen,
		       int (*keep)(const MDB_val *v), uint8_t **keys_r, size_t *n_r)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t *keys = NULL;
	size_t n = 0, cap = 0;
	int rc = mdb_cursor_open(txn, dbi, &cur);

	*keys_r = NULL;
	*n_r = 0;
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		int want = keep ? keep(&v) : 1;
		if (k.mv_size != klen || want < 0) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (!want)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			keys = xrealloc(keys, cap * klen);
		}
		memcpy(keys + n * klen, k.mv_data, klen);
		n++;
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	*keys_r = keys;
	*n_r = n;
	return rc;
}

/* gather_keys()'s filter for migrate_deleted: an email with "$deleted". */
static int has_deleted_keyword(const MDB_val *v)
{
	struct email_rec e;
	if (email_dec(v, &e) != 0)
		return -1;
	return memmem(e.keywords, e.keywords_len, "$deleted", 8) != NULL;
}

/*
 * 2 -> 3: IMAP \Deleted becomes a flag of the membership (the uid entry's
 * flags byte) instead of the email's keyword "$deleted", so that an
 * EXPUNGE in one mailbox never takes a copy in another (store_flags.c).
 * An email that has it gives it to every mailbox it is in: what each
 * showed before, each shows after. The keys are gathered first
 * (gather_keys), then rewritten.
 */
static int migrate_deleted(struct store *st, MDB_txn *txn)
{
	uint8_t *keys;
	size_t n;
	int rc = gather_keys(txn, st->db[DB_EMAIL], 8, has_deleted_keyword, &keys, &n);

	for (size_t i = 0; i < n && rc == 0; i++)
		rc = move_deleted(st, txn, keys + i * 8);
	free(keys);
	return rc;
}

/*
 * 3 -> 4: freed blobs' bytes wait in blobgc for the writer's sweep
 * (store_hold.c); open_fn just created it empty. Nothing to rewrite.
 */
static int migrate_blobgc(struct store *st, MDB_txn *txn)
{
	(void)st;
	(void)txn;
	return 0;
}

/*
 * 4 -> 5: subscriptions become names of their own in `subscription`
 * (open_fn just created it) instead of the mailbox record's flag, so that
 * DELETE and RENAME leave them alone. Every mailbox whose flag is set
 * gives its name; the flag byte stays in the record, unread from now on.
 * Only `subscription` is written, so no cursor walks what it writes.
 */
static int migrate_subscriptions(struct store *st, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, st->db[DB_MAILBOX], &cur);

	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct mbox_rec m;
		if (k.mv_size != 8 || mbox_dec(&v, &m) != 0) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (m.subscribed) {
			int r = sub_set(txn, st, be32_get(k.mv_data), m.name, 1);
			if (r != 0 && r != 1) {
				rc = r;
				break;
			}
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * 5 -> 6: DMARC aggregate reports received (dmarc_report) and the results
 * of received mail kept for the reports tern sends (dmarc_seen); open_fn
 * just created both empty. Nothing to rewrite.
 */
static int migrate_dmarc(struct store *st, MDB_txn *txn)
{
	(void)st;
	(void)txn;
	return 0;
}

/*
 * 6 -> 7: IMAP METADATA entries live in `metadata` (store_metadata.c);
 * open_fn just created it empty. Nothing to rewrite.
 */
static int migrate_metadata(struct store *st, MDB_txn *txn)
{
	(void)st;
	(void)txn;
	return 0;
}

/*
 * 7 -> 8: Sieve scripts (sieve) and what Sieve remembers per sender or
 * message (sieve_seen); open_fn just created both empty.
 */
static int migrate_sieve(struct store *st, MDB_txn *txn)
{
	(void)st;
	(void)txn;
	return 0;
}

/* 8 -> 9: app passwords (apppass); open_fn just created it empty. */
static int migrate_apppass(struct store *st, MDB_txn *txn)
{
	(void)st;
	(void)txn;
	return 0;
}

/*
 * 9 -> 10: thread ids (store_thread.c). Every email so far was its own
 * thread; each account's emails are threaded again in id order (the order
 * they arrived), exactly as deliveries thread them from now on, and the
 * records whose thread changes are rewritten. Modseqs stay: no client
 * could have asked about threads in a way a modseq would answer, and
 * UIDVALIDITY is not touched. The keys are gathered first (gather_keys).
 */
static int migrate_threads(struct store *st, MDB_txn *txn)
{
	MDB_val k;
	uint8_t *keys;
	size_t n;
	int rc = gather_keys(txn, st->db[DB_EMAIL], 8, NULL, &keys, &n);

	for (size_t i = 0; i < n && rc == 0; i++) {
		struct email_rec e;
		uint8_t *copy;
		MDB_val bytes;
		uint32_t thread;
		k = (MDB_val){8, keys + i * 8};
		if ((rc = email_get_copy(txn, st, &k, &e, &copy)) != 0)
			break;
		/* An email whose bytes are missing (a damaged store) stays its
		 * own thread rather than stopping the upgrade. */
		thread = e.thread_id;
		rc = blob_get(txn, st, e.blob_id, &bytes, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
		else if (rc == 0)
			rc = thread_assign(txn, st, be32_get(keys + i * 8), be32_get(keys + i * 8 + 4),
			                   bytes.mv_data, bytes.mv_size, 0, &thread);
		if (rc == 0 && thread != e.thread_id) {
			e.thread_id = thread;
			rc = rec_put(txn, st->db[DB_EMAIL], &k, email_size(&e), email_enc, &e, 0);
		}
		free(copy);
	}
	free(keys);
	return rc;
}

/*
 * 10 -> 11: account records gain a state and a display name (store.h,
 * enum store_account_state). An account disabled the old way, its hash
 * behind a '!', becomes NOLOGIN ("cannot sign in": mail still arrives,
 * as before) with the hash as it was; every other one ACTIVE, no name.
 * Every record is rewritten so all carry the new fields; the ids are
 * gathered first (gather_keys).
 */
static int migrate_account_state(struct store *st, MDB_txn *txn)
{
	uint8_t *keys;
	size_t n;
	int rc = gather_keys(txn, st->db[DB_PRINCIPAL], 4, NULL, &keys, &n);

	for (size_t i = 0; i < n && rc == 0; i++) {
		struct acct_rec a;
		uint32_t id = be32_get(keys + i * 4);
		if ((rc = acct_get(txn, st, id, &a)) != 0)
			break;
		if (a.hash[0] == '!') {
			memmove(a.hash, a.hash + 1, strlen(a.hash));
			a.state = STORE_ACCOUNT_NOLOGIN;
		}
		rc = acct_put(txn, st, id, &a);
		explicit_bzero(a.hash, sizeof a.hash);
	}
	free(keys);
	return rc;
}

/* 11 -> 12: spam models and fuzzy memory (store_spam.c); only creates `spam`. */
static int migrate_spam(struct store *st, MDB_txn *txn)
{
	(void)st;
	(void)txn;
	return 0;
}

/* 12 -> 13: per-mailbox counters and the thread index (store_counts.c),
 * counted from every account's email records. */
static int migrate_counts(struct store *st, MDB_txn *txn)
{
	return counts_rebuild_all(txn, st);
}

/* 13 -> 14: Sieve script names of 128 characters (512 octets) do not
 * fit LMDB's keys, so scripts are keyed by a hash (store_sieve.c). */
static int migrate_sieve_hashed(struct store *st, MDB_txn *txn)
{
	return sieve_migrate_hashed(txn, st);
}

/* 14 -> 15: the index of each account's emails by their bytes' id
 * (blobown), kept by counts_email() with the counters: rebuilding those
 * fills it from every account's email records. */
static int migrate_blobown(struct store *st, MDB_txn *txn)
{
	return counts_rebuild_all(txn, st);
}

/* 15 -> 16: mailbox access control lists (acl, acl_rev; store_acl.c);
 * open_fn just created both empty. Nothing to rewrite. */
static int migrate_acl(struct store *st, MDB_txn *txn)
{
	(void)st;
	(void)txn;
	return 0;
}

/*
 * 16 -> 17: STORE_SHARED_ROOT ("Shared") is the other users' namespace
 * (imap_acl.h), where an own mailbox of that name, or under it, would be
 * hidden by the shared ones; new names there are refused from now on.
 * An account's "Shared" is renamed, its children with it, to the first
 * free of "Shared (personal)", "Shared (personal 2)", ...: nothing is
 * lost (ids, UIDVALIDITY, UIDs, messages and flags stay; only the name
 * changes, which a client sees as a rename), where keeping it reachable
 * would leave names that mean two mailboxes. Only the exact case: the
 * prefix is matched so. A "Shared/x" without its parent cannot be (every
 * create makes the parents).
 */
static int migrate_shared_root(struct store *st, MDB_txn *txn)
{
	uint32_t *ids;
	size_t n;
	int rc = principal_ids(txn, st, &ids, &n);

	for (size_t i = 0; i < n && rc == 0; i++) {
		uint32_t account = ids[i];
		char to[64];
		for (unsigned k = 1; k < 1000; k++) {
			if (k == 1)
				snprintf(to, sizeof to, "%s (personal)", STORE_SHARED_ROOT);
			else
				snprintf(to, sizeof to, "%s (personal %u)", STORE_SHARED_ROOT, k);
			rc = mailbox_rename_txn(st, txn, account, STORE_SHARED_ROOT, to);
			if (rc != STORE_EEXIST)
				break;
		}
		if (rc == STORE_OK)
			log_info("store", NULL, "event=mailbox_renamed account=%u from=%s to=\"%s\" "
				 "reason=shared_namespace", account, STORE_SHARED_ROOT, to);
		if (rc == STORE_ENOTFOUND)
			rc = 0;
	}
	free(ids);
	return rc;
}

static migrate_fn *const migrations[] = {
    migrate_initial,
    migrate_blobdata,
    migrate_deleted,
    migrate_blobgc,
    migrate_subscriptions,
    migrate_dmarc,
    migrate_metadata,
    migrate_sieve,
    migrate_apppass,
    migrate_threads,
    migrate_account_state,
    migrate_spam,
    migrate_counts,
    migrate_sieve_hashed,
    migrate_blobown,
    migrate_acl,
    migrate_shared_root,
};
_Static_assert(sizeof migrations / sizeof migrations[0] == STORE_SCHEMA_VERSION,
               "one migration per schema version");

struct open_ctx {
	char *err;
	size_t errsz;
	uint32_t from; /* version found, for the log */
};

static int open_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct open_ctx *c = ctx;
	uint32_t ver = 0;
	int rc;

	for (int i = 0; i < DB_COUNT; i++) {
		rc = mdb_dbi_open(txn, db_defs[i].name, MDB_CREATE | db_defs[i].flags, &st->db[i]);
		if (rc)
			return store_err(c->err, c->errsz, STORE_ETEMP,
			                 "cannot open database %s: %s", db_defs[i].name,
			                 mdb_strerror(rc));
	}
	rc = meta_get_u32(txn, st, "schema_version", &ver);
	if (rc == MDB_NOTFOUND)
		ver = 0;
	else if (rc)
		return store_err(c->err, c->errsz, STORE_ETEMP, "cannot read schema version: %s",
		                 mdb_strerror(rc));
	c->from = ver;
	if (ver > STORE_SCHEMA_VERSION)
		return store_err(c->err, c->errsz, STORE_EINVAL,
		                 "store schema version %u is newer than this build's %u: "
		                 "run a newer tern or restore a backup",
		                 ver, STORE_SCHEMA_VERSION);
	for (; ver < STORE_SCHEMA_VERSION; ver++) {
		rc = migrations[ver](st, txn);
		if (rc)
			return rc;
	}
	if (c->from != STORE_SCHEMA_VERSION &&
	    (rc = meta_put_u32(txn, st, "schema_version", STORE_SCHEMA_VERSION)) != 0)
		return rc;
	/* A restored store: after the migrations, so records are this build's. */
	if ((rc = store_restore_renew(st, txn)) != 0)
		return store_err(c->err, c->errsz, STORE_ETEMP, "cannot renew the restored store: %s",
		                 mdb_strerror(rc));
	return 0;
}

/* Read-only open: the databases must exist and the schema be current. */
static int open_readonly(struct store *st, char *err, size_t errsz)
{
	MDB_txn *txn;
	uint32_t ver = 0;
	int rc = store_rd_begin(st, &txn);

	if (rc)
		return store_err(err, errsz, STORE_ETEMP, "cannot read store: %s",
		                 mdb_strerror(rc));
	/* The version first: an older store lacks the databases later
	 * schemas added, and is to be migrated, not "not initialised". */
	rc = mdb_dbi_open(txn, db_defs[DB_META].name, db_defs[DB_META].flags, &st->db[DB_META]);
	if (rc == 0)
		rc = meta_get_u32(txn, st, "schema_version", &ver);
	if (rc == 0 && ver != STORE_SCHEMA_VERSION) {
		store_rd_end(st, txn);
		return store_err(err, errsz, STORE_EINVAL,
		                 "store schema version %u, this build reads %u: %s", ver,
		                 STORE_SCHEMA_VERSION,
		                 ver > STORE_SCHEMA_VERSION ? "run a newer tern"
		                                            : "run tern serve once to migrate");
	}
	for (int i = 0; i < DB_COUNT && rc == 0; i++)
		if (i != DB_META)
			rc = mdb_dbi_open(txn, db_defs[i].name, db_defs[i].flags, &st->db[i]);
	if (rc) {
		store_rd_end(st, txn);
		return store_err(err, errsz, rc == MDB_NOTFOUND ? STORE_ENOTFOUND : STORE_ETEMP,
		                 "store is not initialised (%s): run tern serve once",
		                 mdb_strerror(rc));
	}
	/* Handles opened in a read transaction survive only if it commits. */
	rc = mdb_txn_commit(txn);
	maplock_depth--;
	pthread_rwlock_unlock(&st->maplock);
	if (rc)
		return store_err(err, errsz, STORE_ETEMP, "cannot open databases: %s",
		                 mdb_strerror(rc));
	return STORE_OK;
}

/*
 * One server per data directory: two of them would both send the outbound
 * queue (remote recipients got every message twice) and both sweep blobs.
 * An flock on the directory itself: no file to leave behind, and the
 * kernel drops it when the process dies, however it dies. The CLI never
 * takes it, so it keeps working beside the server (LMDB serialises the
 * writes). Returns the descriptor holding the lock, or -1 with err filled
 * (STORE_EBUSY in *code_r when another process holds it).
 */
int store_dir_lock(const char *dir, int *code_r, char *err, size_t errsz)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		*code_r = store_err(err, errsz, STORE_ETEMP, "cannot open %s: %s", dir,
		                    strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		*code_r = e == EWOULDBLOCK
		              ? store_err(err, errsz, STORE_EBUSY,
		                          "data directory %s is in use by another tern serve", dir)
		              : store_err(err, errsz, STORE_ETEMP, "cannot lock %s: %s", dir,
		                          strerror(e));
		return -1;
	}
	return fd;
}

/*
 * A store file shorter than its pages (a copy that ran out of room, a disk
 * that lost the file's tail): LMDB reads the two meta pages with read(),
 * so mdb_env_open succeeds, and the first page read past the end of the
 * file is a SIGBUS through the map that ended tern serve and every
 * command without a word. The meta page says which page is the last in
 * use; the file must reach past it. Only the meta is read here.
 */
int store_env_whole(MDB_env *env, uint64_t *have_r, uint64_t *need_r)
{
	MDB_envinfo info;
	MDB_stat stat;
	struct stat sb;
	int fd, rc;

	*have_r = *need_r = 0;
	if ((rc = mdb_env_get_fd(env, &fd)) != 0 || (rc = mdb_env_info(env, &info)) != 0 ||
	    (rc = mdb_env_stat(env, &stat)) != 0)
		return rc;
	if (fstat(fd, &sb) != 0)
		return errno;
	*have_r = (uint64_t)sb.st_size;
	*need_r = ((uint64_t)info.me_last_pgno + 1) * stat.ms_psize;
	return *have_r < *need_r ? MDB_CORRUPTED : 0;
}

/* First map size: the default or the test override, at least the file's. */
static uint64_t initial_map(const char *dir)
{
	uint64_t map = atomic_load(&test_initial_map);
	char path[4096];
	struct stat sb;

	if (map == 0)
		map = STORE_MAP_MIN;
	if ((size_t)snprintf(path, sizeof path, "%s/data.mdb", dir) < sizeof path &&
	    stat(path, &sb) == 0 && sb.st_size > 0) {
		uint64_t p = 1u << 20;
		while (p <= (uint64_t)sb.st_size)
			p <<= 1;
		if (p > map)
			map = p;
	}
	return map;
}

/*
 * What a server writes into its data directory beside data.mdb when it
 * first starts, each after data.mdb exists (the map reserve, the key
 * file, the spool and upload directories; not LMDB's lock.mdb, made just
 * before data.mdb, so a kill between the two is no lost store). One of them there without data.mdb is
 * a store that was lost (deleted by mistake, a copy or a volume that
 * left it out), not a new directory: opening it would make an empty
 * store, and every sender would be told for good that no account
 * exists. A new or empty directory (or one holding only lost+found or
 * files of the operator's) has none of them.
 */
static const char *const first_start_made[] = {"reserve", "secrets.key", "spool", "upload"};

/* STORE_EINVAL with a sentence in err when data.mdb is missing from a
 * directory a server has used; else STORE_OK. */
static int store_lost(const char *dir, char *err, size_t errsz)
{
	char path[4200];
	struct stat sb;

	snprintf(path, sizeof path, "%s/data.mdb", dir);
	if (lstat(path, &sb) == 0 || errno != ENOENT)
		return STORE_OK;
	for (size_t i = 0; i < sizeof first_start_made / sizeof first_start_made[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, first_start_made[i]);
		if (lstat(path, &sb) == 0)
			return store_err(err, errsz, STORE_EINVAL,
			                 "%s/data.mdb is missing but %s is there: the store was "
			                 "lost; restore the data directory from a backup (or move "
			                 "the directory aside to start with an empty one)",
			                 dir, path);
	}
	return STORE_OK;
}

/*
 * LMDB's lock file (the reader table) is made with ftruncate, a file of
 * holes, and written through its map: on a full disk the first write to
 * it was a SIGBUS, and `tern serve` (or any command) on a fresh data
 * directory died of it without a word (exit status 135). Its blocks are
 * allocated here first, so that a full disk is an error that says so.
 * LOCK_BYTES is LMDB's size for our 510 readers (64 bytes a slot and its
 * header: 32 KiB); a larger existing file is allocated up to its size.
 * Best effort where the file system cannot allocate ahead (EOPNOTSUPP).
 * STORE_OK, or STORE_EFULL with err filled.
 */
#define LOCK_BYTES 32768

static int lock_file_room(const char *dir, char *err, size_t errsz)
{
	char path[4200];
	struct stat sb;

	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return STORE_OK; /* mdb_env_open says why */
	int rc = 0;
	if (fstat(fd, &sb) == 0) {
		off_t want = sb.st_size > LOCK_BYTES ? sb.st_size : LOCK_BYTES;
		if ((uint64_t)sb.st_blocks * 512 < (uint64_t)want) /* holes, or short */
			rc = posix_fallocate(fd, 0, want);
	}
	close(fd);
	if (rc == ENOSPC || rc == EDQUOT)
		return store_err(err, errsz, STORE_EFULL,
		                 "cannot open store in %s: the disk is full (no room for %s)", dir,
		                 path);
	return STORE_OK;
}

int store_open(const char *dir, unsigned flags, struct store **st_r, char *err, size_t errsz)
{
	struct store *st;
	int rc;

	*st_r = NULL;
	if ((flags & STORE_SERVER) && (flags & STORE_READONLY))
		return store_err(err, errsz, STORE_EINVAL, "a read-only store cannot serve");
	if (!(flags & STORE_READONLY) && mkdir(dir, 0700) != 0 && errno != EEXIST)
		return store_err(err, errsz, STORE_ETEMP, "cannot create %s: %s", dir,
		                 strerror(errno));

	/* A restore that died before it renamed its store into place: what
	 * is here is not a store to serve (or a new one to start beside it). */
	char restoring[4200];
	snprintf(restoring, sizeof restoring, "%s/" STORE_RESTORING_FILE, dir);
	if (access(restoring, F_OK) == 0)
		return store_err(err, errsz, STORE_EINVAL,
		                 "%s: a restore into %s was cut short; run tern restore again (it "
		                 "starts over)",
		                 restoring, dir);
	if (!(flags & STORE_READONLY) && (rc = store_lost(dir, err, errsz)) != STORE_OK)
		return rc;

	if (!(flags & STORE_READONLY) && (rc = lock_file_room(dir, err, errsz)) != STORE_OK)
		return rc;

	int lock_fd = -1;
	if ((flags & STORE_SERVER) && (lock_fd = store_dir_lock(dir, &rc, err, errsz)) < 0)
		return rc;

	static _Atomic uint32_t opened;
	st = xcalloc(1, sizeof *st);
	st->serial = ++opened;
	st->flags = flags;
	st->lock_fd = lock_fd;
	st->room.fd = -1;
	store_mailbox_limits(st, 0, 0);
	pthread_rwlock_init(&st->maplock, NULL);
	pthread_mutex_init(&st->qlock, NULL);
	pthread_cond_init(&st->qcond, NULL);
	st->feed = store_feed_new();
	pthread_mutex_init(&st->xchg_mu, NULL);
	store_pins_init(st);
	pthread_mutex_init(&st->reserve.mu, NULL);
	pthread_mutex_init(&st->recent_mu, NULL);
	atomic_store(&st->gc_grace_ms, STORE_GC_GRACE_MS);
	unsigned poll = atomic_load(&test_gc_poll_ms);
	st->gc_poll_ms = poll ? poll : STORE_GC_POLL_MS;

	rc = mdb_env_create(&st->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(st->env, 64); /* ours (31 at schema 15) with room; backup opens with 64 too */
	if (rc == 0)
		rc = mdb_env_set_maxreaders(st->env, 510);
	if (rc == 0)
		rc = mdb_env_set_mapsize(st->env, (size_t)initial_map(dir));
	if (rc == 0)
		rc = mdb_env_open(st->env, dir,
		                  MDB_NOTLS | MDB_NOMETASYNC |
		                      ((flags & STORE_READONLY) ? MDB_RDONLY : 0),
		                  0600);
	if (rc) {
		store_err(err, errsz, STORE_ETEMP, "cannot open store in %s: %s", dir,
		          mdb_strerror(rc));
		goto fail;
	}
	uint64_t have, need;
	if ((rc = store_env_whole(st->env, &have, &need)) != 0) {
		if (rc == MDB_CORRUPTED)
			store_err(err, errsz, STORE_EINVAL,
			          "%s/data.mdb is cut short (%llu bytes, its pages need %llu): "
			          "restore the data directory from a backup",
			          dir, (unsigned long long)have, (unsigned long long)need);
		else
			store_err(err, errsz, STORE_ETEMP, "cannot open store in %s: %s", dir,
			          mdb_strerror(rc));
		rc = rc == MDB_CORRUPTED ? STORE_EINVAL : STORE_ETEMP;
		goto fail;
	}

	st->dir = xstrdup(dir);
	if (flags & STORE_READONLY) {
		rc = open_readonly(st, err, errsz);
	} else if ((rc = store_upgrade_backup(st, dir, err, errsz)) != STORE_OK) {
		goto fail;
	} else {
		struct open_ctx c = {err, errsz, 0};
		rc = store_write(st, open_fn, &c);
		if ((rc == STORE_ETEMP || rc == STORE_EFULL) && err && errsz && err[0] == '\0')
			store_err(err, errsz, rc, "cannot initialise store in %s%s", dir,
				  rc == STORE_EFULL ? ": the disk is full" : "");
		if (rc == STORE_OK && c.from != STORE_SCHEMA_VERSION)
			log_info("store", NULL, "event=schema_migrated from=%u to=%u", c.from,
			         STORE_SCHEMA_VERSION);
	}
	if (rc != STORE_OK)
		goto fail;
	/* A command took the server's lock for its migration only: a server
	 * must be able to start beside it (store_upgrade_backup). */
	if (!(flags & STORE_SERVER) && st->lock_fd >= 0) {
		close(st->lock_fd);
		st->lock_fd = -1;
	}

	if (flags & STORE_SERVER) {
		store_room_open(st, dir);
		store_xchg_start(st);
	}
	if ((flags & STORE_SERVER) && (rc = store_writer_start(st, err, errsz)) != STORE_OK)
		goto fail;
	log_debug("store", NULL, "event=open mapsize=%llu", (unsigned long long)map_size(st));
	*st_r = st;
	return STORE_OK;

fail:
	store_room_close(st);
	if (st->env)
		mdb_env_close(st->env);
	store_feed_unref(&st->feed);
	pthread_mutex_destroy(&st->xchg_mu);
	store_pins_free(st);
	pthread_mutex_destroy(&st->reserve.mu);
	pthread_mutex_destroy(&st->recent_mu);
	pthread_cond_destroy(&st->qcond);
	pthread_mutex_destroy(&st->qlock);
	pthread_rwlock_destroy(&st->maplock);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	free(st->dir);
	free(st);
	return rc ? (is_store_code(rc) ? rc : STORE_ETEMP) : STORE_ETEMP;
}

const char *store_data_dir(const struct store *st)
{
	return st->dir;
}

void store_close(struct store **stp)
{
	struct store *st;

	if (stp == NULL || (st = *stp) == NULL)
		return;
	if (st->writer_started)
		store_writer_stop(st);
	/* The writer posted the completions of what it drained to their
	 * loops, and done_run there still counts them down in st: while a
	 * loop runs, wait for them (bounded: a stopped loop never will, and
	 * then drops them without running them, server.c). Freed first, a
	 * completion that ran late wrote into freed memory (ASan, test_store
	 * under load). */
	for (int ms = 0; ms < 2000 && store_inflight(st) > 0; ms++)
		usleep(1000);
	store_xchg_flush(st);
	store_room_close(st);
	mdb_env_close(st->env);
	store_feed_unref(&st->feed);
	pthread_mutex_destroy(&st->xchg_mu);
	store_pins_free(st);
	pthread_mutex_destroy(&st->reserve.mu);
	pthread_mutex_destroy(&st->recent_mu);
	pthread_cond_destroy(&st->qcond);
	pthread_mutex_destroy(&st->qlock);
	pthread_rwlock_destroy(&st->maplock);
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* last: the environment is closed */
	free(st->dir);
	free(st);
	*stp = NULL;
}

void store_started(struct store *st)
{
	store_upgrade_release(st->dir);
}

int store_map_info(struct store *st, uint64_t *mapsize_r, uint64_t *used_r)
{
	MDB_envinfo info;
	MDB_stat stat;

	/* The meta pages live in the map: no remap while we look. */
	pthread_rwlock_rdlock(&st->maplock);
	mdb_env_info(st->env, &info);
	int rc = mdb_env_stat(st->env, &stat);
	pthread_rwlock_unlock(&st->maplock);
	if (rc)
		return STORE_ETEMP;
	if (mapsize_r)
		*mapsize_r = info.me_mapsize;
	if (used_r)
		*used_r = ((uint64_t)info.me_last_pgno + 1) * stat.ms_psize;
	return STORE_OK;
}

/* ---- test hooks ---- */

void store_test_set_map_limit(uint64_t bytes)
{
	atomic_store(&test_map_limit, bytes);
}

void store_test_set_initial_map(uint64_t bytes)
{
	atomic_store(&test_initial_map, bytes);
}

void store_test_gc_grace(struct store *st, unsigned ms)
{
	atomic_store(&st->gc_grace_ms, ms);
}

void store_test_set_gc_poll(unsigned ms)
{
	atomic_store(&test_gc_poll_ms, ms);
}

void store_test_fail_commits(struct store *st, int e)
{
	atomic_store(&st->fail_commit, e);
}

void store_test_fail_commits_after(struct store *st, int n, int e)
{
	atomic_store(&st->fail_skip, n);
	atomic_store(&st->fail_commit, e);
}

void store_test_fail_sync_once(struct store *st, int e)
{
	atomic_store(&st->fail_sync_once, e);
}

unsigned long long store_test_syncs(struct store *st)
{
	return atomic_load(&st->syncs);
}

void store_test_clear_halt(struct store *st)
{
	atomic_store(&st->halted, 0);
}

void store_test_fail_commit_once(struct store *st, int e)
{
	atomic_store(&st->fail_once, e);
}

void store_test_fail_room(struct store *st, int e)
{
	atomic_store(&st->room_fail, e);
}

uint64_t store_test_room_fills(struct store *st, int *kept_r)
{
	if (kept_r)
		*kept_r = st->room.fd >= 0;
	return atomic_load(&st->room_fills);
}

uint64_t store_test_room_steps(struct store *st)
{
	return atomic_load(&st->room_steps);
}

static int set_schema_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	return meta_put_u32(txn, st, "schema_version", *(uint32_t *)ctx);
}

int store_test_set_schema(struct store *st, uint32_t version)
{
	return store_write(st, set_schema_fn, &version);
}

int store_map_reserve(struct store *st, uint64_t ahead)
{
	uint64_t mapsize, used;

	if (store_map_info(st, &mapsize, &used) != STORE_OK)
		return STORE_ETEMP;
	if (mapsize >= used + ahead)
		return STORE_OK;
	uint64_t to = mapsize;
	while (to < used + ahead)
		to *= 2;
	if (maplock_depth > 0)
		return STORE_ETEMP;
	pthread_rwlock_wrlock(&st->maplock);
	int rc = map_size(st) >= to ? 0 : map_set(st, to);
	pthread_rwlock_unlock(&st->maplock);
	if (rc == 0)
		log_info("store", NULL, "event=map_reserve to=%llu", (unsigned long long)to);
	return rc ? STORE_ETEMP : STORE_OK;
}
