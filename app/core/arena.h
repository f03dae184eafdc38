/*
 * arena.h — region allocator freed in one call.
 *
 * A session owns one arena for its lifetime and each transaction or command
 * owns another (nginx pools, Dovecot's cmd->pool): nothing allocated from an
 * arena is freed on its own. Blocks are chained; a request larger than the
 * block size gets a block of its own. Allocation aborts on exhaustion.
 *
 * Caveats: memory from an arena must not be passed to free(); arena_reset()
 * invalidates every pointer it handed out. Under ASan (core/asan.h) only
 * the n bytes asked for are addressable: a byte past them, the alignment
 * padding, a piece's red zone and anything after arena_reset() are
 * poisoned, so code must not rely on the padding up to 16 bytes.
 *
 * Secrets. An arena that parses what may carry a password or a key (an
 * HTTP request's, whose JSON body is decoded into it) is marked with
 * arena_set_secret(): what its blocks handed out is wiped before they are
 * freed or reused, as a secret struct buf's storage is (core/buf.h).
 */
#ifndef TERN_CORE_ARENA_H
#define TERN_CORE_ARENA_H

#include <stddef.h>

#include "str.h"

struct arena;

/* New arena whose blocks are block_size bytes (0 picks 4 KiB). */
struct arena *arena_new(size_t block_size);
/* Marks a as holding secrets (see above), from now on. */
void arena_set_secret(struct arena *a);
/* Frees everything and sets *a to NULL. Accepts NULL and *a == NULL. */
void arena_free(struct arena **a);
/* Frees all but the first block; all earlier pointers become invalid. */
void arena_reset(struct arena *a);
/* 16-byte aligned, uninitialized. */
void *arena_alloc(struct arena *a, size_t n);
void *arena_zalloc(struct arena *a, size_t n);
/* NUL-terminated copies. */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *str_dup(struct arena *a, struct str s);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bytes handed out so far (for accounting and tests). */
size_t arena_used(const struct arena *a);

#endif
