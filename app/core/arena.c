/*
 * arena.c — chained-block region allocator. See arena.h.
 */
#include "arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "asan.h"

/*
 * Under ASan (asan.h) a block's unused space stays poisoned; a piece has
 * exactly its n bytes unpoisoned and is followed by its alignment padding
 * and REDZONE more poisoned bytes, so writing one byte past it is caught
 * instead of landing silently in the next piece of the same block.
 */
#if TERN_ASAN
#define REDZONE 16 /* keeps the 16-byte alignment */
#else
#define REDZONE 0
#endif

struct arena_block {
	struct arena_block *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

struct arena {
	struct arena_block *head; /* current block; older ones follow */
	size_t block_size;
	size_t total;
	int secret; /* arena_set_secret(): blocks wiped before they go */
};

static struct arena_block *block_new(size_t size)
{
	struct arena_block *b = xmalloc(sizeof(*b) + size);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	MEM_POISON(b->data, size);
	return b;
}

/* Back to the allocator, which must not find its memory poisoned. */
static void block_free(struct arena_block *b)
{
	MEM_UNPOISON(b->data, b->size);
	free(b);
}

struct arena *arena_new(size_t block_size)
{
	struct arena *a = xmalloc(sizeof(*a));
	a->block_size = block_size ? block_size : 4096;
#if TERN_ASAN
	/* A small piece plus its red zone must fit a fresh block. */
	if (a->block_size < 8 * REDZONE)
		a->block_size = 8 * REDZONE;
#endif
	a->head = block_new(a->block_size);
	a->total = 0;
	a->secret = 0;
	return a;
}

void arena_set_secret(struct arena *a)
{
	a->secret = 1;
}

/* A block given up (freed, or reused from its start). Under ASan its
 * padding and red zones are poisoned: unpoisoned for the wipe, which
 * covers them too (arena_reset poisons the block it keeps again). */
static void block_leave(const struct arena *a, struct arena_block *b)
{
	if (a->secret) {
		MEM_UNPOISON(b->data, b->used);
		explicit_bzero(b->data, b->used);
	}
}

void arena_free(struct arena **ap)
{
	struct arena *a = ap ? *ap : NULL;
	if (!a)
		return;
	for (struct arena_block *b = a->head, *n; b; b = n) {
		n = b->next;
		block_leave(a, b);
		block_free(b);
	}
	free(a);
	*ap = NULL;
}

void arena_reset(struct arena *a)
{
	struct arena_block *first = a->head;

	/* Keep the oldest block (the first allocated), free the rest. */
	while (first->next) {
		struct arena_block *n = first->next;
		block_leave(a, first);
		block_free(first);
		first = n;
	}
	block_leave(a, first);
	first->used = 0;
	MEM_POISON(first->data, first->size);
	a->head = first;
	a->total = 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
	size_t need = (n + 15) & ~(size_t)15;
	size_t span = need + REDZONE; /* what the piece takes from a block */
	struct arena_block *b = a->head;

	if (need < n || span < need)
		fatalx("arena_alloc overflow n=%zu", n);
	if (b->size - b->used < span) {
		if (need > a->block_size / 4) {
			/* Big request: its own block, linked behind the head so
			 * the head's free space is not wasted. */
			struct arena_block *big = block_new(span);
			big->used = span;
			big->next = b->next;
			b->next = big;
			a->total += need;
			MEM_UNPOISON(big->data, n);
			return big->data;
		}
		b = block_new(a->block_size);
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += span;
	a->total += need;
	MEM_UNPOISON(p, n);
	return p;
}

void *arena_zalloc(struct arena *a, size_t n)
{
	void *p = arena_alloc(a, n);
	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *str_dup(struct arena *a, struct str s)
{
	return arena_strndup(a, s.p ? s.p : "", s.len);
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return arena_strdup(a, "");
	char *p = arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

size_t arena_used(const struct arena *a)
{
	return a->total;
}
