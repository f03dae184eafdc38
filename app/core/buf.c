/*
 * buf.c — bounded growable buffers. See buf.h.
 */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asan.h"
#include "thread_exit.h"

/*
 * A small per-thread cache of buffer storage in power-of-two sizes from
 * 4 KiB to 256 KiB. Connections and messages allocate and free buffers of
 * these sizes all the time; musl's allocator hands such blocks back to the
 * kernel at once, and the munmap/TLB-shootdown churn cost several percent
 * of CPU under load. The cache is bounded (CACHE_BYTES per thread) and
 * freed when its thread ends (thread_exit.h); a thread that cannot
 * register that does not cache.
 */
#define CACHE_MIN_SHIFT 12
#define CACHE_MAX_SHIFT 18
#define CACHE_SLOTS 8
#define CACHE_BYTES (2u << 20)

static _Thread_local struct {
	void *slot[CACHE_MAX_SHIFT - CACHE_MIN_SHIFT + 1][CACHE_SLOTS];
	unsigned n[CACHE_MAX_SHIFT - CACHE_MIN_SHIFT + 1];
	size_t bytes;
} cache;

static _Thread_local int cache_armed; /* cache_release registered */

/* When the thread ends (thread_exit.h). */
static void cache_release(void)
{
	for (int c = 0; c <= CACHE_MAX_SHIFT - CACHE_MIN_SHIFT; c++)
		while (cache.n[c] > 0) {
			void *p = cache.slot[c][--cache.n[c]];
			MEM_UNPOISON(p, (size_t)1 << (c + CACHE_MIN_SHIFT));
			free(p);
		}
	cache.bytes = 0;
}

static int cache_class(size_t cap)
{
	for (int i = CACHE_MIN_SHIFT; i <= CACHE_MAX_SHIFT; i++)
		if (cap == ((size_t)1 << i))
			return i - CACHE_MIN_SHIFT;
	return -1;
}

static void *storage_get(size_t cap)
{
	int c = cache_class(cap);
	if (c >= 0 && cache.n[c] > 0) {
		void *p = cache.slot[c][--cache.n[c]];
		cache.bytes -= cap;
		MEM_UNPOISON(p, cap);
		return p;
	}
	return malloc(cap);
}

static void storage_put(void *p, size_t cap)
{
	int c = cache_class(cap);
	if (!cache_armed)
		cache_armed = thread_at_exit(cache_release) == 0;
	if (p && cache_armed && c >= 0 && cache.n[c] < CACHE_SLOTS &&
	    cache.bytes + cap <= CACHE_BYTES) {
		/* Parked: nobody may touch it until storage_get. */
		MEM_POISON(p, cap);
		cache.slot[c][cache.n[c]++] = p;
		cache.bytes += cap;
		return;
	}
	free(p);
}

void buf_init(struct buf *b, size_t max)
{
	b->p = NULL;
	b->off = b->len = b->cap = 0;
	b->max = max;
	b->secret = 0;
}

void buf_set_secret(struct buf *b)
{
	b->secret = 1;
}

/* Gives a block up: wiped first when it held a secret buffer's bytes. */
static void storage_leave(const struct buf *b, void *p, size_t cap)
{
	if (b->secret && p)
		explicit_bzero(p, cap);
	storage_put(p, cap);
}

void buf_free(struct buf *b)
{
	storage_leave(b, b->p, b->cap);
	b->p = NULL;
	b->off = b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
	if (b->secret && b->p)
		explicit_bzero(b->p, b->off + b->len);
	b->off = b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void buf_truncate(struct buf *b, size_t n)
{
	if (n >= b->len)
		return;
	b->len = n;
	b->p[b->off + n] = '\0';
}

char *buf_reserve(struct buf *b, size_t n, size_t *avail_r)
{
	if (n > b->max - b->len)
		return NULL;
	/* +1 keeps room for the NUL terminator. */
	if (b->off + b->len + n + 1 > b->cap) {
		if (b->off) {
			/* Reclaim consumed space before growing. */
			memmove(b->p, b->p + b->off, b->len);
			/* The old place of what moved (the front is overwritten). */
			if (b->secret)
				explicit_bzero(b->p + b->len, b->off);
			b->off = 0;
		}
		if (b->len + n + 1 > b->cap) {
			size_t cap = b->cap ? b->cap : 256;
			while (cap < b->len + n + 1)
				cap *= 2;
			if (cap > b->max + 1)
				cap = b->max + 1;
			/* Out of memory is the same answer as over the
			 * ceiling: the caller refuses this one piece of
			 * work (a session ends with a temporary error)
			 * and the process lives on. */
			/* realloc may move the bytes and free the old block
			 * unwiped: a secret one takes the copying path. */
			if (cap < ((size_t)1 << CACHE_MIN_SHIFT) && !b->secret) {
				char *np = realloc(b->p, cap);
				if (!np)
					return NULL;
				b->p = np;
			} else {
				char *np = storage_get(cap);
				if (!np)
					return NULL;
				if (b->len)
					memcpy(np, b->p, b->len);
				storage_leave(b, b->p, b->cap);
				b->p = np;
			}
			b->cap = cap;
		}
	}
	if (avail_r) {
		size_t avail = b->cap - b->off - b->len - 1;
		if (avail > b->max - b->len)
			avail = b->max - b->len;
		*avail_r = avail;
	}
	return b->p + b->off + b->len;
}

void buf_commit(struct buf *b, size_t n)
{
	b->len += n;
	b->p[b->off + b->len] = '\0';
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	char *dst = buf_reserve(b, n, NULL);
	if (!dst)
		return -1;
	if (n)
		memcpy(dst, p, n);
	buf_commit(b, n);
	return 0;
}

int buf_append_str(struct buf *b, struct str s)
{
	return buf_append(b, s.p, s.len);
}

int buf_append_c(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_append_crlf(struct buf *b, const void *p, size_t n)
{
	const char *c = p, *lf;
	size_t s = 0;

	while ((lf = memchr(c + s, '\n', n - s)) != NULL) {
		size_t i = (size_t)(lf - c);
		if (i == 0 || c[i - 1] != '\r') {
			if (buf_append(b, c + s, i - s) < 0 || buf_append(b, "\r\n", 2) < 0)
				return -1;
			s = i + 1;
		} else if (buf_append(b, c + s, i + 1 - s) < 0) {
			return -1;
		} else {
			s = i + 1;
		}
	}
	return buf_append(b, c + s, n - s);
}

int buf_crlf_text(struct buf *fixed, const char **p, size_t *n)
{
	const char *s = *p, *lf = s;

	while ((lf = memchr(lf, '\n', *n - (size_t)(lf - s))) != NULL && lf > s && lf[-1] == '\r')
		lf++;
	if (!lf)
		return 0; /* CRLF throughout: nothing to copy */
	if (buf_append_crlf(fixed, s, *n) < 0) {
		buf_free(fixed);
		return -1;
	}
	*p = buf_data(fixed);
	*n = buf_len(fixed);
	return 0;
}

int buf_append_xml(struct buf *b, const char *s)
{
	int rc = 0;

	for (; *s && rc == 0; s++) {
		switch (*s) {
		case '<': rc = buf_append_c(b, "&lt;"); break;
		case '>': rc = buf_append_c(b, "&gt;"); break;
		case '&': rc = buf_append_c(b, "&amp;"); break;
		case '"': rc = buf_append_c(b, "&quot;"); break;
		case '\'': rc = buf_append_c(b, "&apos;"); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				rc = buf_append(b, s, 1);
		}
	}
	return rc;
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	size_t avail;
	char *dst;
	int n;

	va_copy(ap2, ap);
	dst = buf_reserve(b, 64, &avail);
	n = dst ? vsnprintf(dst, avail + 1, fmt, ap2) : -1;
	va_end(ap2);
	if (n < 0) {
		/* Less than 64 bytes of room: measure first. */
		va_copy(ap2, ap);
		n = vsnprintf(NULL, 0, fmt, ap2);
		va_end(ap2);
		if (n < 0 || !(dst = buf_reserve(b, (size_t)n, &avail)))
			return -1;
		vsnprintf(dst, (size_t)n + 1, fmt, ap);
	} else if ((size_t)n > avail) {
		if (!(dst = buf_reserve(b, (size_t)n, &avail)))
			return -1;
		vsnprintf(dst, (size_t)n + 1, fmt, ap);
	}
	buf_commit(b, (size_t)n);
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void buf_consume_wipe(struct buf *b, size_t n)
{
	if (b->p)
		explicit_bzero(b->p + b->off, n < b->len ? n : b->len);
	buf_consume(b, n);
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->off = b->len = 0;
	} else {
		b->off += n;
		b->len -= n;
	}
	if (b->p)
		b->p[b->off + b->len] = '\0';
}
