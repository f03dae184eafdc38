/*
 * spool.h — message bytes held in memory within a budget, else on disk.
 *
 * Every message being received (SMTP DATA/BDAT, submission's signed copy,
 * an IMAP APPEND literal) is written into a spool. While the whole process
 * holds less than its budget of message bytes in memory (and the client's
 * address, or IPv6 /64, less than a quarter of it), and the message is under
 * SPOOL_MEM_MAX, the bytes stay in an ordinary bounded buffer: a usual
 * message never touches the disk. Past any of these, the spool spills: its
 * bytes move to an unlinked file in the spool directory and the rest is
 * written there as it arrives through a small staging buffer, so a session
 * holds at most SPOOL_STAGE bytes of its message in anonymous memory
 * whatever the message size. An allocation failure while in memory spills
 * too (memory is what ran out; the disk may still take it).
 *
 * The bytes are hashed as they arrive (BLAKE2b-256, the store's blob id:
 * spool_blob_id() equals store_blob_id() of the same bytes), so the id of
 * a large message costs no second pass.
 *
 * spool_finish() gives the whole message as one contiguous read-only
 * range: the buffer itself, or a shared read-only mapping of the file.
 * Mapped pages are file-backed (RssFile, not RssAnon): the kernel can drop
 * them under pressure and nothing is copied into anonymous memory.
 *
 * Spool files are unlinked as soon as they are created (O_TMPFILE where
 * the file system has it), so a killed process leaves nothing behind;
 * spool_setup() also removes whatever an earlier process may have left
 * in the directory.
 *
 * Caveats: the budget counters are process-wide atomics, and per-address
 * ones are kept in a small table keyed by a hash of the address, so two
 * addresses may share a slot (which only makes both spill earlier).
 * A spool is used by one thread at a time. Without spool_setup() or
 * spool_use() (unit tests, most CLI commands) nothing spills: the spool
 * behaves as a bounded buffer.
 */
#ifndef TERN_CORE_SPOOL_H
#define TERN_CORE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "str.h"

/* Largest message kept in memory, however much budget is free. */
#define SPOOL_MEM_MAX ((size_t)2 * 1024 * 1024)
/* Staging buffer of a spilled spool: writes go out in pieces this big. */
#define SPOOL_STAGE ((size_t)64 * 1024)
/* Default of TERN_MESSAGE_MEMORY. */
#define SPOOL_BUDGET_DEFAULT ((uint64_t)64 * 1024 * 1024)

struct spool {
	struct buf mem;      /* the bytes, or after spilling the staging buffer */
	int file;            /* the file's descriptor + 1; 0 while in memory */
	int failed;          /* an I/O error happened: appends and finish fail */
	int error;           /* its errno (ENOSPC: the disk is full) */
	int finished;        /* spool_finish() was called: appends fail */
	uint64_t len;        /* bytes appended */
	uint64_t max;        /* ceiling on len */
	size_t charged;      /* bytes counted against the budgets */
	unsigned slot;       /* per-address budget slot */
	void *map;           /* after spool_finish() of a spilled spool */
	size_t maplen;
	int unhashed;        /* spool_init_unhashed: no blob id kept */
	size_t front;        /* room before the content (spool_reserve_front) */
	char *covered;       /* spool_front_put(): the content octets head covers */
	size_t ncovered;
	char *covered_at;    /* where they go back */
	int put;             /* spool_front_put() until spool_front_restore() */
	unsigned char hash[448]; /* private: crypto_generichash_state, 64-aligned inside */
};

/*
 * Sets the spool directory (created if missing; files in it removed) and
 * the process-wide budget of message bytes in memory. Call once at server
 * start, before any session. Returns 0, or -1 with errno when the
 * directory cannot be made or opened.
 */
int spool_setup(const char *dir, uint64_t budget);
/*
 * spool_setup without the sweep, for a process that runs beside the
 * server on the same data directory (tern import): the files there are
 * the running server's (a named upload a job is reading), not leftovers.
 * Its own spool files are unlinked at once (O_TMPFILE) all the same.
 */
int spool_use(const char *dir, uint64_t budget);
/*
 * A named file in the spool directory, for another process to read (the
 * web admin's mbox upload, read by a `tern import` job): created empty,
 * mode 0600, open for writing; its name goes to path. Whoever owns it
 * removes it; one left behind by a crash goes at the next spool_setup().
 * Returns the fd, or -1 with errno.
 */
int spool_named(char *path, size_t pathsz);
/* Bytes of message data currently held in memory by all spools and holds
 * (tests, metrics). */
uint64_t spool_mem_held(void);
/* Spilled spools still being written (a finished one holds no descriptor:
 * its mapping keeps the file) (tests, metrics). */
uint64_t spool_files_open(void);

/* An empty spool for at most max bytes from the client at peer (an IP
 * literal, or NULL). No allocation. */
void spool_init(struct spool *sp, uint64_t max, const char *peer);
/* As spool_init, for bytes that never become a blob themselves (an HTTP
 * or WebSocket answer waiting for its client; a received message, whose
 * stored blob has the head in front and is hashed by deliver): they are
 * not hashed as they arrive, and spool_blob_id() must not be called. */
void spool_init_unhashed(struct spool *sp, uint64_t max, const char *peer);
/* A head start of n bytes of memory for a message that will likely stay
 * there (saves the first doublings); ignored when memory is short. */
void spool_prealloc(struct spool *sp, size_t n);
/*
 * Room for n octets (at most SPOOL_FRONT_MAX) before the content, for
 * spool_front_put() to write a header into once the spool is finished:
 * then the stored message is written around the received bytes, not
 * copied with them. Call on an empty spool, before any append or
 * spool_prealloc(). The room is not content: it counts against no
 * ceiling and no budget, and spool_truncate() refuses such a spool.
 * Returns 0, or -1 (not empty, or n too big; nothing reserved).
 */
#define SPOOL_FRONT_MAX ((size_t)16 * 1024)
int spool_reserve_front(struct spool *sp, size_t n);
/*
 * Writes head so that it ends at end, a point in the finished content
 * (its start, or past it), into the front room and over the content
 * octets before end, and gives head then the content from end as one
 * range in whole_r (valid until spool_front_restore() or spool_free()).
 * The content octets it covers are kept aside and put back by
 * spool_front_restore(); meanwhile they must not be read (the range of
 * spool_finish() holds head's octets there). One put at a time.
 * Returns 0, or -1 when head does not fit (room plus the content before
 * end), the spool is not finished, failed, or already put, or the
 * mapping's room cannot be made writable; nothing is changed on -1.
 */
int spool_front_put(struct spool *sp, struct str head, const char *end, struct str *whole_r);
/* Puts back what spool_front_put() covered; nothing when nothing is put. */
void spool_front_restore(struct spool *sp);
/*
 * Appends n bytes. Returns 0; -1 when the result would pass max (nothing
 * is appended) or on an I/O error (the spool is then failed and every
 * later call fails too).
 */
int spool_append(struct spool *sp, const void *p, size_t n);
/*
 * Drops the bytes past the first len of an unhashed spool (a JMAP answer
 * takes back a method's partial response when the method fails). 0, or
 * -1 when len is past the end, the spool is hashed, finished or failed,
 * or the file cannot be cut (the spool is then failed), or it has front
 * room (spool_reserve_front).
 */
int spool_truncate(struct spool *sp, uint64_t len);
/*
 * The whole content as one range, NUL-terminated one past the end; call
 * once, after the last append. Valid until spool_free(). Returns 0, or -1
 * (failed spool, or the file cannot be mapped).
 */
int spool_finish(struct spool *sp, struct str *data_r);
/* The BLAKE2b-256 id of everything appended (store_blob_id of the bytes). */
void spool_blob_id(struct spool *sp, uint8_t id_r[32]);
/* 1 when the bytes are in a file (open for writing, or mapped once finished). */
static inline int spool_spilled(const struct spool *sp) { return sp->file != 0 || sp->map != NULL; }
/*
 * Message bytes held in memory that no spool holds and that cannot spill
 * (a WebSocket message under way is read whole before it is parsed):
 * counted against the same budget and the same per-address quarter as
 * the spools', so one client cannot take more of the process's message
 * memory by holding it in sockets than by holding it in messages.
 * Zero-initialised, or spool_hold_init(). No allocation.
 */
struct spool_hold {
	uint64_t n;    /* bytes counted */
	unsigned slot; /* per-address budget slot */
};
/* An empty hold for the client at peer (an IP literal, or NULL). */
void spool_hold_init(struct spool_hold *h, const char *peer);
/*
 * Counts n bytes held now (the memory is held whether or not the budget
 * has it: the caller frees it on -1). Returns 0, or -1 when n grew and
 * the process's total or the address's is now past its share (the
 * budget of spool_setup(), a quarter of it per address). Without
 * spool_setup() nothing is past.
 */
int spool_hold_set(struct spool_hold *h, uint64_t n);
/* Counts nothing any more (spool_hold_set(h, 0)). */
void spool_hold_free(struct spool_hold *h);

/* Frees memory, returns the budget, closes the file. The spool is empty
 * and may be spool_init()ed again. Accepts a spool that was only inited,
 * freed before, or is all zero bytes (never inited). */
void spool_free(struct spool *sp);

#endif
