/*
 * buf.h — owning byte buffers with a hard ceiling.
 *
 * A buf grows on demand up to the maximum given at creation; an append that
 * would pass it fails with -1 and leaves the buffer unchanged, so no peer can
 * make us allocate without bound (curl's dynbuf "toobig"). An append for
 * which memory cannot be had fails the same way (unlike xmalloc, which
 * aborts): buffers are what sessions grow with a peer's data, and running
 * out there must end one session, not the process. Storage is
 * NUL-terminated for convenience but may hold NULs.
 *
 * Consumed bytes at the front are dropped lazily: buf_consume() advances an
 * offset, and the space is reclaimed on the next append that needs it.
 *
 * Secrets. A buffer that may hold a password, a SASL exchange, an API key
 * or a private key is marked with buf_set_secret(): every block of storage
 * it leaves is wiped first (explicit_bzero) — the old block when it grows,
 * the bytes a reclaim moved away from, its storage when freed or reset —
 * so no copy lingers in freed memory or in the per-thread storage cache
 * (which hands blocks to other buffers unzeroed). What the owner consumes
 * is its to wipe (buf_consume_wipe): input streams through a session's
 * buffer, and wiping every byte of a message there would cost its
 * throughput for nothing.
 */
#ifndef TERN_CORE_BUF_H
#define TERN_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "str.h"

struct buf {
	char *p;    /* storage, or NULL before first append */
	size_t off; /* consumed bytes at the front */
	size_t len; /* bytes in use after off */
	size_t cap; /* allocated bytes */
	size_t max; /* hard ceiling on len */
	int secret; /* buf_set_secret(): storage is wiped when left */
};

/* Initializes an empty buffer that may hold at most max bytes. No allocation. */
void buf_init(struct buf *b, size_t max);
/* Marks b as holding secrets (see above), from now on: call it before the
 * first append. Kept by buf_free (the buffer stays a secret one). */
void buf_set_secret(struct buf *b);
/* Frees storage (wiped first when secret); the buffer is empty and reusable
 * with the same max. */
void buf_free(struct buf *b);
/* Drops content (wiped when secret), keeps storage. */
void buf_reset(struct buf *b);
/* Drops all but the first n bytes (n <= len), keeps storage. */
void buf_truncate(struct buf *b, size_t n);

/* Data start and length. */
static inline char *buf_data(const struct buf *b) { return b->p ? b->p + b->off : (char *)""; }
static inline size_t buf_len(const struct buf *b) { return b->len; }
static inline struct str buf_str(const struct buf *b) { return (struct str){ buf_data(b), b->len }; }
/* Room before hitting max. */
static inline size_t buf_room(const struct buf *b) { return b->max - b->len; }

/* Appends n bytes. Returns 0, or -1 when the result would exceed max or
 * there is no memory for it (the buffer is then unchanged). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, struct str s);
int buf_append_c(struct buf *b, const char *s);
/* Appends the n octets at p with every bare LF (one not after a CR) made
 * CRLF, p being whole (a CR at the end of an earlier append is not seen).
 * -1 as buf_append, the buffer then holding a prefix. */
int buf_append_crlf(struct buf *b, const void *p, size_t n);
/* The n octets at *p as stored mail text: when they hold a bare LF, a
 * copy with CRLF line ends is made in fixed (initialized by the caller,
 * with room for up to twice n) and *p, *n point at it; else nothing
 * moves. For text that is stored as given when already CRLF (IMAP
 * APPEND, JMAP Email/import); `tern import` copies every message anyway
 * (buf_append_crlf, or mbox_message_decode for an mbox).
 * 0, or -1 when memory or fixed's max ran out (*p, *n unchanged). */
int buf_crlf_text(struct buf *fixed, const char **p, size_t *n);
/* Appends s as XML text: the five special characters as entities, control
 * characters other than tab dropped (XML 1.0 cannot carry them). */
int buf_append_xml(struct buf *b, const char *s);
/* printf-style append; -1 when the result would exceed max. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/*
 * Makes room for at least n more bytes and returns a pointer to the free
 * tail, writing its usable size to *avail_r (>= n). Returns NULL when n more
 * bytes would exceed max or memory cannot be had. Follow with
 * buf_commit(b, used).
 */
char *buf_reserve(struct buf *b, size_t n, size_t *avail_r);
void buf_commit(struct buf *b, size_t n);
/* Drops n bytes from the front (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* buf_consume, the n bytes zeroed first: input that carried a password
 * or a SASL response must not linger in the buffer's storage. */
void buf_consume_wipe(struct buf *b, size_t n);

#endif
