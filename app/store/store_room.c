/*
 * store_room.c — allocated, zeroed room past the end of LMDB's data.
 *
 * Why. A commit whose new pages land past the end of data.mdb grows the
 * file: the file system allocates blocks and changes the inode's size, so
 * the commit's fdatasync must also write the allocation metadata and the
 * inode before it can return. On ext4 without a journal those are two more
 * synchronous writes per commit (measured: two of a commit's six I/O
 * waits); with a journal they cost a journal commit; XFS forces its log.
 * Overwriting blocks that already exist needs none of it. So the server
 * keeps STORE_ROOM_LOW to STORE_ROOM_AHEAD (store_private.h) past LMDB's
 * last page, filled with real zeros (fallocate's unwritten extents would
 * need converting on first write, which is metadata again), the way
 * databases preallocate their logs. Measured: fdatasync per commit 1.02 ->
 * 0.79 ms on ext4 without a journal, 2.2 -> 1.7 ms with one; one sender
 * at a time gets 20-30% more messages through.
 *
 * When. A fill of several MiB takes some ms (about 5 here), and a commit
 * that has to wait for one holds up every sender waiting on that commit:
 * measured, 26 such stalls cost 125 ms of a 2.3 s run at 20 sessions. So
 * the fills happen in time the writer would spend idle anyway. After each
 * commit, and whenever its queue is empty (store_writer.c), the writer
 * calls store_room_step(), which adds at
 * most STORE_ROOM_STEP (256 KiB, about 0.25 ms) whenever the room is a
 * step short of STORE_ROOM_AHEAD. Only when those steps did not keep up
 * (a burst of large messages) does store_room_keep(), at the start of a
 * write transaction, fill all the way while the commit waits, once the
 * room is under STORE_ROOM_LOW. A step grows the file, so the next
 * commit's fdatasync still writes the inode once per step (measured: 194
 * inode writes in 880 commits, against one in nearly every commit without
 * room). Syncing in the step instead moved that write out of the commits
 * but left the rate as it was (A/B 0.996, n=24), so the steps do not sync.
 *
 * Safety. Zeros are written only past the file's current end, and only
 * from inside a write transaction before it writes anything (for a step,
 * an empty one that is then aborted): LMDB's write lock is held, so
 * neither our writer nor another process (the CLI) can be writing there.
 * The zeros go through a second descriptor opened O_DIRECT from a
 * read-only anonymous mapping (the kernel's zero page): they cost no page
 * cache and no resident memory. A crash in between leaves zeros
 * past LMDB's last page, which LMDB never reads.
 *
 * Room is an optimisation, never a reason to fail: on ENOSPC or any other
 * error the file is cut back to where it was, a warning is logged and no
 * new attempt is made for ROOM_RETRY_S seconds; the commit goes on as it
 * would have without room (and gets its own ENOSPC, a 4xx, if the disk is
 * truly full); EINVAL or EFAULT (O_DIRECT unworkable here) turns room off
 * for good. Only ext4 and XFS are known to gain; elsewhere (tmpfs,
 * copy-on-write file systems, which allocate on every write anyway) no
 * room is kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "store/store_private.h"

#define ROOM_CHUNK (1u << 20) /* bytes per write: the zero mapping's size */
#define ROOM_RETRY_S 60

#define EXT4_MAGIC 0xEF53u     /* ext2, ext3 and ext4 share it */
#define XFS_MAGIC 0x58465342u

static uint64_t now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

void store_room_open(struct store *st, const char *dir)
{
	struct store_room *r = &st->room;
	char path[4096];
	struct statfs fs;
	MDB_stat ms;

	r->fd = -1;
	if ((size_t)snprintf(path, sizeof path, "%s/data.mdb", dir) >= sizeof path)
		return;
	int fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return; /* no O_DIRECT here: nothing to gain, nothing lost */
	if (fstatfs(fd, &fs) != 0 ||
	    ((unsigned long)fs.f_type != EXT4_MAGIC && (unsigned long)fs.f_type != XFS_MAGIC) ||
	    mdb_env_stat(st->env, &ms) != 0) {
		close(fd);
		return;
	}
	void *zeros = mmap(NULL, ROOM_CHUNK, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (zeros == MAP_FAILED) {
		close(fd);
		return;
	}
	r->fd = fd;
	atomic_store(&r->kept, 1);
	r->zeros = zeros;
	r->psize = ms.ms_psize;
	r->end = 0;
	r->retry_at = 0;
}

void store_room_close(struct store *st)
{
	struct store_room *r = &st->room;

	if (r->fd < 0)
		return;
	munmap(r->zeros, ROOM_CHUNK);
	close(r->fd);
	r->fd = -1;
	atomic_store(&r->kept, 0);
}

/* Writes zeros over [from, to); 0 or an errno. A test's injected errno
 * (fail) strikes after the first write, so that the cut back is tested. */
static int fill(struct store_room *r, uint64_t from, uint64_t to, int fail)
{
	for (uint64_t off = from; off < to;) {
		size_t n = to - off < ROOM_CHUNK ? (size_t)(to - off) : ROOM_CHUNK;
		ssize_t w = pwrite(r->fd, r->zeros, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (w == 0)
			return EIO;
		off += (uint64_t)w;
		if (fail)
			return fail;
	}
	return 0;
}

/* Bytes LMDB uses: up to the end of its last page. */
static uint64_t used_bytes(struct store *st)
{
	MDB_envinfo info;

	mdb_env_info(st->env, &info);
	return ((uint64_t)info.me_last_pgno + 1) * st->room.psize;
}

/*
 * Adds room when less than min_room is left past used: zeros from the
 * file's end up to STORE_ROOM_AHEAD past used, at most cap bytes of them
 * (0: no cap). LMDB's write lock must be held. Returns 1 when it added.
 */
static int extend(struct store *st, uint64_t used, uint64_t min_room, uint64_t cap)
{
	struct store_room *r = &st->room;
	struct stat sb;

	if (fstat(r->fd, &sb) != 0)
		return 0;
	uint64_t size = (uint64_t)sb.st_size;
	r->end = size; /* another process may have grown it */
	if (size >= used + min_room)
		return 0;
	/* O_DIRECT needs aligned offsets. A file that does not end on a page
	 * (a fill cut short by a crash, on a file system with 1 KiB blocks)
	 * gets a hole up to the next page: it reads as zeros all the same. */
	uint64_t from = size > used ? size : used;
	from = (from + r->psize - 1) / r->psize * r->psize;
	uint64_t to = used + STORE_ROOM_AHEAD;
	if (cap && to - from > cap)
		to = from + cap;
	if (from >= to)
		return 0;
	int err = fill(r, from, to, atomic_load(&st->room_fail));
	if (err != 0) {
		/* Give the disk back: room must never take its last bytes. */
		if (ftruncate(r->fd, (off_t)size) != 0)
			log_warn("store", NULL, "event=room_truncate_failed error=\"%s\"",
			         strerror(errno));
		if (err == EINVAL || err == EFAULT) {
			/* O_DIRECT from the zero page does not work here (an old
			 * kernel, an unusual mount): no room from now on, and no
			 * warning every minute about it. */
			log_warn("store", NULL, "event=room_disabled error=\"%s\"", strerror(err));
			store_room_close(st);
			return 0;
		}
		r->retry_at = now_s() + ROOM_RETRY_S;
		log_warn("store", NULL, "event=room_failed bytes=%llu error=\"%s\" retry_s=%d",
		         (unsigned long long)(to - from), strerror(err), ROOM_RETRY_S);
		return 0;
	}
	r->end = to;
	r->retry_at = 0;
	atomic_fetch_add(cap ? &st->room_steps : &st->room_fills, 1);
	return 1;
}

/*
 * Adds room once less than min_room is left, cap bytes at most (0: up to
 * STORE_ROOM_AHEAD). LMDB's write lock must be held. Returns 1 when it
 * added. The common case, room enough, makes no system call.
 */
static int top_up(struct store *st, uint64_t min_room, uint64_t cap)
{
	struct store_room *r = &st->room;

	if (r->fd < 0 || (r->retry_at && now_s() < r->retry_at))
		return 0;
	uint64_t used = used_bytes(st);
	if (r->end >= used + min_room)
		return 0;
	return extend(st, used, min_room, cap);
}

void store_room_keep(struct store *st)
{
	top_up(st, STORE_ROOM_LOW, 0);
}

int store_room_step(struct store *st)
{
	return top_up(st, STORE_ROOM_AHEAD - STORE_ROOM_STEP, STORE_ROOM_STEP);
}
