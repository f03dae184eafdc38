/*
 * store_reserve.c — room kept back so that deleting mail always works.
 *
 * Why. LMDB never overwrites a live page: an EXPUNGE, a flag change, even
 * the sweep that frees a blob's bytes writes new copies of the pages it
 * touches, taken from LMDB's free pages or from new ones at the end of the
 * file. On a full disk with no free pages left, a deletion failed like
 * any write (IMAP answered NO [SERVERBUG]) and users could not make room.
 *
 * Two lines of defence, both of R bytes (store_reserve_set: the
 * TERN_DISK_RESERVE variable; by default 1/32 of the file system, from
 * 256 KiB to 64 MiB):
 *
 * 1. A floor. New mail (a delivery, an APPEND, a message entering the
 *    outbound queue) is stored only when what is left for the store after
 *    it is at least R: free space on the file system, plus the zeroed room
 *    past LMDB's last page (store_room.c), plus LMDB's free pages. Below,
 *    the request alone is refused with STORE_EFULL (SMTP 452 4.3.1, IMAP
 *    NO [OVERQUOTA]); everything else is still written. The free pages are
 *    counted (a walk of LMDB's free list) only when the cheap part, the
 *    file system's free space and the room, is not enough: on a disk with
 *    space the check costs one statvfs per batch.
 *    What is neither mail nor a deletion, the search index's postings
 *    (store_fts.c), takes the same floor and waits besides whenever the
 *    reserve file is given back or a commit met a full disk
 *    (store_space_take_extra).
 *
 * 2. A reserve file, DIR/reserve, R bytes allocated with fallocate. Should
 *    a commit fail with ENOSPC all the same (another program filled the
 *    disk, the estimate was short), a write that adds no mail gives the
 *    file back (truncates and removes it) and runs again; a batch that
 *    carried mail runs again without its mail (refused STORE_EFULL), so
 *    the deletions in it still go through. The writer makes the file again
 *    once the file system has room for it, checking at most every
 *    RESERVE_RETRY_MS; the reserve comes before new mail, which may then
 *    wait under the floor until more room is made.
 *
 * Only `tern serve` keeps a reserve (store_reserve_set); the CLI and the
 * unit tests' stores have none and no floor, unless a test sets one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "store/store_private.h"

#define RESERVE_MIN ((uint64_t)256 << 10)
#define RESERVE_MAX ((uint64_t)64 << 20)
#define RESERVE_RETRY_MS 10000u
/* Free space beyond the reserve's size before it is made again. */
#define RESERVE_SLACK ((uint64_t)64 << 10)
/* What one message costs beyond its bytes: records, the change log, the
 * branch pages copied on the way; since schema 13 also the leaf (and
 * branch) pages of the thread index and the mailbox counters
 * (store_counts.c), two more trees each delivery writes. */
#define MESSAGE_OVERHEAD 16384u

/* Test override of the free bytes (UINT64_MAX: none, ask the kernel). */
static atomic_ullong test_free = UINT64_MAX;

uint64_t store_disk_free(const char *dir)
{
	struct statvfs vs;
	uint64_t t = atomic_load(&test_free);

	if (t != UINT64_MAX)
		return t;
	if (statvfs(dir, &vs) != 0)
		return UINT64_MAX; /* unknown: never the reason to refuse */
	return (uint64_t)vs.f_bavail * vs.f_frsize;
}

void store_test_set_disk_free(uint64_t bytes)
{
	atomic_store(&test_free, bytes);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void reserve_path(struct store *st, char *path, size_t n)
{
	snprintf(path, n, "%s/reserve", st->dir);
}

/* Allocates the reserve file; under mu. 0 or an errno (no file left). */
static int reserve_make(struct store *st, uint64_t bytes)
{
	char path[4200];
	int rc = 0;

	reserve_path(st, path, sizeof path);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	/* Blocks really allocated (a sparse file would give nothing back). */
	int e = posix_fallocate(fd, 0, (off_t)bytes);
	if (e == 0 && ftruncate(fd, (off_t)bytes) != 0) /* a larger one from before */
		e = errno;
	if (e == 0 && fsync(fd) != 0)
		e = errno;
	close(fd);
	if (e != 0) {
		unlink(path);
		rc = e;
	}
	return rc;
}

int store_reserve_set(struct store *st, uint64_t bytes)
{
	struct store_reserve *r = &st->reserve;
	struct statvfs vs;

	if (bytes == STORE_RESERVE_AUTO) {
		bytes = RESERVE_MAX;
		if (statvfs(st->dir, &vs) == 0) {
			bytes = (uint64_t)vs.f_blocks * vs.f_frsize / 32;
			bytes = bytes < RESERVE_MIN ? RESERVE_MIN : bytes > RESERVE_MAX ? RESERVE_MAX : bytes;
		}
	}
	pthread_mutex_lock(&r->mu);
	atomic_store(&r->bytes, bytes);
	int e = bytes ? reserve_make(st, bytes) : 0;
	atomic_store(&r->held, bytes && e == 0);
	atomic_store(&r->given, 0);
	r->retry_at_ms = now_ms() + RESERVE_RETRY_MS;
	pthread_mutex_unlock(&r->mu);
	if (e)
		log_warn("store", NULL, "event=reserve_unavailable bytes=%llu error=\"%s\"",
		         (unsigned long long)bytes, strerror(e));
	else if (bytes)
		log_debug("store", NULL, "event=reserve_kept bytes=%llu", (unsigned long long)bytes);
	return e ? STORE_EFULL : STORE_OK;
}

int store_reserve_give_back(struct store *st)
{
	struct store_reserve *r = &st->reserve;
	char path[4200];
	int gave = 0;

	pthread_mutex_lock(&r->mu);
	if (atomic_load(&r->held)) {
		reserve_path(st, path, sizeof path);
		/* Truncate first: the blocks are free once this returns, even
		 * should the unlink fail. */
		if (truncate(path, 0) != 0 && errno != ENOENT)
			log_warn("store", NULL, "event=reserve_truncate_failed error=\"%s\"",
			         strerror(errno));
		unlink(path);
		atomic_store(&r->held, 0);
		atomic_store(&r->given, 1);
		atomic_fetch_add(&r->released, 1);
		r->retry_at_ms = now_ms() + RESERVE_RETRY_MS;
		gave = 1;
	}
	pthread_mutex_unlock(&r->mu);
	if (gave)
		log_warn("store", NULL, "event=reserve_released bytes=%llu reason=disk_full",
		         (unsigned long long)atomic_load(&r->bytes));
	return gave;
}

void store_reserve_tick(struct store *st)
{
	struct store_reserve *r = &st->reserve;
	uint64_t bytes = atomic_load(&r->bytes);

	if (bytes == 0 || atomic_load(&r->held))
		return; /* the common case: no lock, no system call */
	pthread_mutex_lock(&r->mu);
	uint64_t now = now_ms();
	if (!atomic_load(&r->held) && now >= r->retry_at_ms) {
		r->retry_at_ms = now + RESERVE_RETRY_MS;
		if (store_disk_free(st->dir) >= bytes + RESERVE_SLACK &&
		    reserve_make(st, bytes) == 0) {
			atomic_store(&r->held, 1);
			atomic_store(&r->given, 0);
			log_info("store", NULL, "event=reserve_kept bytes=%llu", (unsigned long long)bytes);
		}
	}
	pthread_mutex_unlock(&r->mu);
}

/*
 * Bytes on LMDB's free list (pages the next writes reuse), as of the last
 * commit. LMDB lets only a read transaction open a cursor on its free
 * list, so this opens one beside the caller's write transaction (fine
 * with MDB_NOTLS); its snapshot is the latest, so it holds back no page
 * the write could reuse.
 */
static uint64_t free_pages_bytes(struct store *st)
{
	MDB_txn *rtxn;
	MDB_cursor *cur;
	MDB_val k, v;
	MDB_stat ms;
	uint64_t pages = 0;

	if (mdb_env_stat(st->env, &ms) != 0 || store_rd_begin(st, &rtxn) != 0)
		return 0;
	if (mdb_cursor_open(rtxn, 0, &cur) != 0) {
		store_rd_end(st, rtxn);
		return 0;
	}
	/* Each value is a page list whose first word is its length. */
	for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		size_t n;
		if (v.mv_size >= sizeof n) {
			memcpy(&n, v.mv_data, sizeof n);
			pages += n;
		}
	}
	mdb_cursor_close(cur);
	store_rd_end(st, rtxn);
	return pages * ms.ms_psize;
}

/* Room past LMDB's last page in data.mdb (store_room.c's zeros). */
static uint64_t file_slack(struct store *st)
{
	char path[4200];
	struct stat sb;
	uint64_t used = 0;
	MDB_envinfo info;
	MDB_stat ms;

	snprintf(path, sizeof path, "%s/data.mdb", st->dir);
	if (stat(path, &sb) != 0 || mdb_env_info(st->env, &info) != 0 ||
	    mdb_env_stat(st->env, &ms) != 0)
		return 0;
	used = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
	return (uint64_t)sb.st_size > used ? (uint64_t)sb.st_size - used : 0;
}

int store_space_take(struct store *st, struct store_space *sp, uint64_t len)
{
	uint64_t floor = atomic_load(&st->reserve.bytes);
	uint64_t need = len + MESSAGE_OVERHEAD;

	if (floor == 0)
		return 1;
	if (!sp->known) {
		uint64_t f = store_disk_free(st->dir);
		sp->avail = f == UINT64_MAX ? UINT64_MAX : f + file_slack(st);
		sp->known = 1;
	}
	if (sp->avail != UINT64_MAX && sp->avail < floor + need && !sp->counted) {
		/* The disk is nearly full: LMDB's own free pages count too. */
		sp->avail += free_pages_bytes(st);
		sp->counted = 1;
	}
	if (sp->avail != UINT64_MAX && sp->avail < floor + need) {
		log_debug("store", NULL, "event=no_room_for_mail avail=%llu floor=%llu need=%llu",
		          (unsigned long long)sp->avail, (unsigned long long)floor,
		          (unsigned long long)need);
		return 0;
	}
	if (sp->avail != UINT64_MAX)
		sp->avail -= need;
	return 1;
}

int store_space_take_extra(struct store *st, struct store_space *sp, uint64_t len)
{
	struct store_reserve *r = &st->reserve;

	if (atomic_load(&r->bytes) && (atomic_load(&r->refusing) || atomic_load(&r->given)))
		return 0;
	return store_space_take(st, sp, len);
}

uint64_t store_test_reserve_released(struct store *st, int *held_r)
{
	if (held_r)
		*held_r = atomic_load(&st->reserve.held);
	return atomic_load(&st->reserve.released);
}
