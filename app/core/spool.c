/*
 * spool.c — message bytes in memory within a budget, else in an unlinked
 * file. See spool.h.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cidr.h"
#include "file.h"
#include "log.h"
#include "xalloc.h"

/* Budget is taken in steps of this many bytes: one atomic add per step,
 * not per append. */
#define CHARGE_STEP ((size_t)64 * 1024)
/* Per-address budget slots (see Caveats in spool.h). */
#define SLOTS 256
#define FILE_PREFIX "spool."

_Static_assert(sizeof(crypto_generichash_state) + 64 <= sizeof(((struct spool *)0)->hash),
	       "struct spool's hash room is too small for libsodium's state");

static char spool_dir[512]; /* "" until spool_setup(): nothing spills */
static uint64_t budget;
static _Atomic uint64_t held;             /* charged by all spools */
static _Atomic uint64_t held_slot[SLOTS]; /* charged per address slot */
static _Atomic uint64_t files_open;
static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void sodium_setup(void)
{
	if (sodium_init() < 0)
		fatalx("sodium_init failed");
}

/* libsodium wants its state 64-byte aligned; a spool lives inside
 * malloc'ed session structs, which promise 16. */
static crypto_generichash_state *hstate(struct spool *sp)
{
	uintptr_t a = ((uintptr_t)sp->hash + 63) & ~(uintptr_t)63;
	return (crypto_generichash_state *)a;
}

/* Removes files a killed process left (only between creating and
 * unlinking a file on a file system without O_TMPFILE). */
static void sweep(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, FILE_PREFIX, strlen(FILE_PREFIX)) == 0 &&
		    unlinkat(dirfd(d), e->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	if (n)
		log_info("spool", NULL, "event=swept files=%u", n);
}

int spool_setup(const char *dir, uint64_t budget_bytes)
{
	if (strlen(dir) >= sizeof(spool_dir) - 32) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	sweep(dir);
	snprintf(spool_dir, sizeof(spool_dir), "%s", dir);
	budget = budget_bytes;
	return 0;
}

int spool_use(const char *dir, uint64_t budget_bytes)
{
	if (strlen(dir) >= sizeof(spool_dir) - 32) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	snprintf(spool_dir, sizeof(spool_dir), "%s", dir);
	budget = budget_bytes;
	return 0;
}

uint64_t spool_mem_held(void)
{
	return atomic_load_explicit(&held, memory_order_relaxed);
}

uint64_t spool_files_open(void)
{
	return atomic_load_explicit(&files_open, memory_order_relaxed);
}

/* A client is what the connection limits count: an IPv4 address or an
 * IPv6 /64 (cidr_client_key), so a host cannot take more of the budget by
 * using more addresses of its /64. */
static unsigned slot_of(const char *peer)
{
	char key[CIDR_KEY_MAX + 1];
	uint32_t h = 2166136261u; /* FNV-1a: spreading, not secrecy */

	cidr_client_key(peer ? peer : "", key, sizeof(key));
	for (const char *k = key; *k; k++)
		h = (h ^ (unsigned char)*k) * 16777619u;
	return h % SLOTS;
}

void spool_init(struct spool *sp, uint64_t max, const char *peer)
{
	pthread_once(&sodium_once, sodium_setup);
	/* Without a directory the buffer is all there is: it may grow to max. */
	uint64_t mem_max = spool_dir[0] && max > SPOOL_MEM_MAX ? SPOOL_MEM_MAX : max;
	buf_init(&sp->mem, (size_t)mem_max);
	sp->file = 0;
	sp->failed = 0;
	sp->error = 0;
	sp->finished = 0;
	sp->len = 0;
	sp->max = max;
	sp->charged = 0;
	sp->slot = slot_of(peer);
	sp->map = NULL;
	sp->maplen = 0;
	sp->unhashed = 0;
	sp->front = 0;
	sp->covered = NULL;
	sp->ncovered = 0;
	sp->covered_at = NULL;
	sp->put = 0;
	crypto_generichash_init(hstate(sp), NULL, 0, 32);
}

void spool_init_unhashed(struct spool *sp, uint64_t max, const char *peer)
{
	spool_init(sp, max, peer);
	sp->unhashed = 1;
}

int spool_reserve_front(struct spool *sp, size_t n)
{
	if (sp->len || sp->front || sp->file || sp->map || buf_len(&sp->mem) || sp->failed ||
	    sp->finished || n > SPOOL_FRONT_MAX)
		return -1;
	/* The room is the buffer's first n octets, and after a spill the
	 * file's (spill() writes them out with the rest). */
	sp->mem.max += n;
	char *p = buf_reserve(&sp->mem, n, NULL);
	if (!p) {
		sp->mem.max -= n;
		return -1;
	}
	memset(p, 0, n);
	buf_commit(&sp->mem, n);
	sp->front = n;
	return 0;
}

void spool_prealloc(struct spool *sp, size_t n)
{
	if (!sp->file && n <= buf_room(&sp->mem))
		buf_reserve(&sp->mem, n, NULL);
}

/* Takes budget for need bytes in memory; 0 when it is not there. */
static int charge(struct spool *sp, uint64_t need)
{
	if (need <= sp->charged)
		return 1;
	size_t want = (size_t)((need + CHARGE_STEP - 1) / CHARGE_STEP * CHARGE_STEP);
	uint64_t delta = want - sp->charged;
	uint64_t g = atomic_fetch_add_explicit(&held, delta, memory_order_relaxed) + delta;
	uint64_t s = atomic_fetch_add_explicit(&held_slot[sp->slot], delta, memory_order_relaxed) +
		     delta;
	if (g > budget || s > budget / 4) {
		atomic_fetch_sub_explicit(&held, delta, memory_order_relaxed);
		atomic_fetch_sub_explicit(&held_slot[sp->slot], delta, memory_order_relaxed);
		return 0;
	}
	sp->charged = want;
	return 1;
}

static void uncharge(struct spool *sp)
{
	if (!sp->charged)
		return;
	atomic_fetch_sub_explicit(&held, sp->charged, memory_order_relaxed);
	atomic_fetch_sub_explicit(&held_slot[sp->slot], sp->charged, memory_order_relaxed);
	sp->charged = 0;
}

void spool_hold_init(struct spool_hold *h, const char *peer)
{
	h->n = 0;
	h->slot = slot_of(peer);
}

int spool_hold_set(struct spool_hold *h, uint64_t n)
{
	uint64_t g, s;

	if (n <= h->n) {
		atomic_fetch_sub_explicit(&held, h->n - n, memory_order_relaxed);
		atomic_fetch_sub_explicit(&held_slot[h->slot], h->n - n, memory_order_relaxed);
		h->n = n;
		return 0;
	}
	g = atomic_fetch_add_explicit(&held, n - h->n, memory_order_relaxed) + (n - h->n);
	s = atomic_fetch_add_explicit(&held_slot[h->slot], n - h->n, memory_order_relaxed) +
	    (n - h->n);
	h->n = n;
	return budget && (g > budget || s > budget / 4) ? -1 : 0;
}

void spool_hold_free(struct spool_hold *h)
{
	spool_hold_set(h, 0);
}

/* An unlinked file in the spool directory, or -1. */
static int file_open(void)
{
	int fd = open(spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* No O_TMPFILE here: a named file, unlinked at once (sweep() takes
	 * what a crash in between leaves). */
	char path[sizeof(spool_dir) + 32];
	snprintf(path, sizeof(path), "%s/" FILE_PREFIX "XXXXXX", spool_dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

int spool_named(char *path, size_t pathsz)
{
	if (!spool_dir[0]) {
		errno = ENOENT;
		return -1;
	}
	if ((size_t)snprintf(path, pathsz, "%s/" FILE_PREFIX "named.XXXXXX", spool_dir) >= pathsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkostemp(path, O_CLOEXEC);
}

static int fail(struct spool *sp, const char *what)
{
	sp->error = errno;
	log_error("spool", NULL, "event=spool_failed op=%s error=\"%s\"", what, strerror(errno));
	sp->failed = 1;
	return -1;
}

/* Moves the bytes so far to a file; the buffer becomes the stage. */
static int spill(struct spool *sp)
{
	int fd = file_open();
	if (fd < 0)
		return fail(sp, "create");
	if (file_write_all(fd, buf_data(&sp->mem), buf_len(&sp->mem)) != 0) {
		close(fd);
		return fail(sp, "write");
	}
	sp->file = fd + 1;
	atomic_fetch_add_explicit(&files_open, 1, memory_order_relaxed);
	buf_free(&sp->mem);
	uncharge(sp);
	buf_init(&sp->mem, SPOOL_STAGE);
	return 0;
}

static int stage_flush(struct spool *sp)
{
	if (file_write_all(sp->file - 1, buf_data(&sp->mem), buf_len(&sp->mem)) != 0)
		return fail(sp, "write");
	buf_reset(&sp->mem);
	return 0;
}

static int append_file(struct spool *sp, const void *p, size_t n)
{
	if (buf_len(&sp->mem) + n > SPOOL_STAGE && stage_flush(sp) < 0)
		return -1;
	if (n >= SPOOL_STAGE)
		return file_write_all(sp->file - 1, p, n) != 0 ? fail(sp, "write") : 0;
	if (buf_append(&sp->mem, p, n) < 0) {
		/* The stage could not grow: no memory. Write through. */
		return file_write_all(sp->file - 1, p, n) != 0 ? fail(sp, "write") : 0;
	}
	return 0;
}

int spool_append(struct spool *sp, const void *p, size_t n)
{
	if (sp->failed || sp->finished || n > sp->max - sp->len)
		return -1;
	if (!sp->file) {
		int in_mem = !spool_dir[0] || (sp->len + n <= SPOOL_MEM_MAX && charge(sp, sp->len + n));
		if (in_mem && buf_append(&sp->mem, p, n) < 0) {
			if (!spool_dir[0])
				return -1; /* out of memory, nowhere else to go */
			in_mem = 0;        /* out of memory: the disk may take it */
		}
		if (!in_mem && (spill(sp) < 0 || append_file(sp, p, n) < 0))
			return -1;
	} else if (append_file(sp, p, n) < 0) {
		return -1;
	}
	if (!sp->unhashed)
		crypto_generichash_update(hstate(sp), p, n);
	sp->len += n;
	return 0;
}

int spool_truncate(struct spool *sp, uint64_t len)
{
	if (sp->failed || sp->finished || !sp->unhashed || sp->front || len > sp->len)
		return -1;
	/* In a file, the last buf_len(&sp->mem) bytes are still staged. */
	uint64_t in_file = sp->len - buf_len(&sp->mem);
	if (len >= in_file) {
		buf_truncate(&sp->mem, (size_t)(len - in_file));
	} else {
		buf_reset(&sp->mem);
		if (ftruncate(sp->file - 1, (off_t)len) < 0 ||
		    lseek(sp->file - 1, (off_t)len, SEEK_SET) < 0)
			return fail(sp, "truncate");
	}
	sp->len = len;
	return 0;
}

int spool_finish(struct spool *sp, struct str *data_r)
{
	if (sp->failed)
		return -1;
	sp->finished = 1;
	if (!sp->file && !sp->map) {
		*data_r = (struct str){buf_data(&sp->mem) + sp->front, (size_t)sp->len};
		return 0;
	}
	if (!sp->map) {
		/* One NUL past the end, as a buffer has it. */
		if (stage_flush(sp) < 0 || file_write_all(sp->file - 1, "", 1) != 0)
			return fail(sp, "write");
		buf_free(&sp->mem);
		size_t maplen = sp->front + (size_t)sp->len + 1;
		void *m = mmap(NULL, maplen, PROT_READ, MAP_SHARED, sp->file - 1, 0);
		if (m == MAP_FAILED)
			return fail(sp, "mmap");
		/* Readers (hash, MIME parse, the store's copy) go front to back. */
		madvise(m, maplen, MADV_SEQUENTIAL);
		sp->map = m;
		sp->maplen = maplen;
		/* The mapping keeps the unlinked file alive: a finished spool
		 * holds no descriptor, so a command that keeps many finished
		 * spools at once (an IMAP COPY sealed into another account,
		 * crypt_copy.c) is bounded by memory maps, not by the
		 * process's descriptor limit. */
		close(sp->file - 1);
		atomic_fetch_sub_explicit(&files_open, 1, memory_order_relaxed);
		sp->file = 0;
	}
	*data_r = (struct str){(char *)sp->map + sp->front, (size_t)sp->len};
	return 0;
}

/* The first octet of the front room: in the buffer, or in the mapping. */
static char *front_base(struct spool *sp)
{
	return sp->map ? (char *)sp->map : buf_data(&sp->mem);
}

/*
 * A mapped spool's room is in read-only pages: writable from the put to
 * the restore only (so the restore cannot fail), so that a stray write
 * elsewhere in a message still faults. The file was opened read-write,
 * so its shared mapping may become writable.
 */
static size_t front_span(struct spool *sp)
{
	return (size_t)(sp->covered_at + sp->ncovered - (char *)sp->map);
}

int spool_front_put(struct spool *sp, struct str head, const char *end, struct str *whole_r)
{
	if (!sp->finished || sp->failed || sp->put)
		return -1;
	char *base = front_base(sp), *content = base + sp->front;
	if (end < content || end > content + sp->len || head.len > (size_t)(end - base))
		return -1;
	char *at = (char *)end - head.len;
	/* The content octets under head: those between its start and end. */
	char *from = at < content ? content : at;
	sp->covered_at = from;
	sp->ncovered = (size_t)(end - from);
	if (sp->map && mprotect(sp->map, (size_t)(end - base), PROT_READ | PROT_WRITE) < 0)
		return -1;
	sp->covered = sp->ncovered ? xmalloc(sp->ncovered) : NULL;
	if (sp->ncovered)
		memcpy(sp->covered, from, sp->ncovered);
	if (head.len)
		memcpy(at, head.p, head.len);
	sp->put = 1;
	*whole_r = (struct str){at, head.len + (size_t)(content + sp->len - end)};
	return 0;
}

void spool_front_restore(struct spool *sp)
{
	if (!sp->put)
		return;
	if (sp->ncovered)
		memcpy(sp->covered_at, sp->covered, sp->ncovered);
	if (sp->map)
		mprotect(sp->map, front_span(sp), PROT_READ);
	free(sp->covered);
	sp->covered = NULL;
	sp->ncovered = 0;
	sp->covered_at = NULL;
	sp->put = 0;
}

void spool_blob_id(struct spool *sp, uint8_t id_r[32])
{
	/* Finalising consumes the state: copy it, so asking twice works. */
	crypto_generichash_state st;
	memcpy(&st, hstate(sp), sizeof(st));
	crypto_generichash_final(&st, id_r, 32);
}

void spool_free(struct spool *sp)
{
	free(sp->covered);
	sp->covered = NULL;
	sp->ncovered = 0;
	sp->covered_at = NULL;
	sp->put = 0;
	sp->front = 0;
	if (sp->map)
		munmap(sp->map, sp->maplen);
	if (sp->file) {
		close(sp->file - 1);
		atomic_fetch_sub_explicit(&files_open, 1, memory_order_relaxed);
	}
	uncharge(sp);
	buf_free(&sp->mem);
	sp->map = NULL;
	sp->maplen = 0;
	sp->file = 0;
	sp->len = 0;
	sp->failed = 0;
	sp->error = 0;
	sp->finished = 0;
}
