/*
 * test_asan_poison.c — under ASan, memory tern recycles itself (arena
 * pieces, cached buffer storage) reports overflows and stale use like
 * malloc'ed memory does (core/asan.h). Each fault runs in a child that
 * must die with ASan's report; a control child touching only its own
 * bytes must live, so a test that reported everything would fail too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "unit.h"

/* The compiler must not see through these writes and drop them. */
static void poke(volatile char *p, size_t i)
{
	p[i] = 'x';
}

/* Runs fn in a child with stderr captured; 1 if it failed with an
 * AddressSanitizer report, 0 if it exited cleanly, -1 otherwise. */
static int asan_kills(void (*fn)(void))
{
	int fd[2];
	if (pipe(fd) != 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], 2);
		fn();
		_exit(0);
	}
	close(fd[1]);
	char out[65536];
	size_t len = 0;
	ssize_t k;
	while ((k = read(fd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)k;
	out[len] = '\0';
	close(fd[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	return strstr(out, "ERROR: AddressSanitizer") ? 1 : -1;
}

/* Two neighbouring pieces of one block, each piece_n bytes; the first
 * is written at poke_at (set before each run). */
static size_t piece_n, poke_at;

static void arena_neighbours(void)
{
	struct arena *a = arena_new(0);
	char *p = arena_alloc(a, piece_n);
	arena_alloc(a, piece_n);
	poke(p, poke_at);
	arena_free(&a);
}

/* Runs arena_neighbours for pieces of n bytes written at i. */
static int neighbours_kill(size_t n, size_t i)
{
	piece_n = n;
	poke_at = i;
	return asan_kills(arena_neighbours);
}

/* A string's NUL is its own, the byte after it is not. */
static void arena_strdup_past(void)
{
	struct arena *a = arena_new(0);
	char *p = arena_strdup(a, "sixteen octets!!");
	arena_strdup(a, "next");
	poke(p, 16);
	poke(p, 17);
	arena_free(&a);
}

/* A big piece gets its own block, cut to the size asked for. */
static void arena_big_past(void)
{
	struct arena *a = arena_new(4096);
	char *p = arena_alloc(a, 3000);
	poke(p, 3000);
	arena_free(&a);
}

/* After arena_reset the first block is kept but no longer handed out. */
static void arena_after_reset(void)
{
	struct arena *a = arena_new(0);
	char *p = arena_alloc(a, 24);
	arena_reset(a);
	poke(p, 0);
	arena_free(&a);
}

/* A reset arena hands its space out again, usable. */
static void arena_reuse(void)
{
	struct arena *a = arena_new(256);
	for (int i = 0; i < 100; i++) {
		char *p = arena_alloc(a, 40);
		memset(p, 'y', 40);
		if (i % 10 == 9)
			arena_reset(a);
	}
	arena_free(&a);
}

/* A buffer's storage of 4 KiB and up goes to the thread's cache when
 * freed; touching it there is a use after free. */
static void buf_cached_stale(void)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	char big[5000];
	memset(big, 'z', sizeof(big));
	buf_append(&b, big, sizeof(big));
	char *stale = b.p;
	buf_free(&b);
	poke(stale, 0);
}

/* The cached storage, taken again, is whole and writable. */
static void buf_cached_reuse(void)
{
	char big[5000];
	memset(big, 'z', sizeof(big));
	for (int i = 0; i < 3; i++) {
		struct buf b;
		buf_init(&b, 1 << 20);
		buf_append(&b, big, sizeof(big));
		buf_append(&b, big, sizeof(big));
		buf_free(&b);
	}
}

int main(void)
{
	CHECK_EQ_INT(neighbours_kill(24, 23), 0);
	CHECK_EQ_INT(neighbours_kill(24, 24), 1);
	/* 16-aligned size: no padding, the byte past it is the red zone. */
	CHECK_EQ_INT(neighbours_kill(32, 32), 1);
	CHECK_EQ_INT(asan_kills(arena_strdup_past), 1);
	CHECK_EQ_INT(asan_kills(arena_big_past), 1);
	CHECK_EQ_INT(asan_kills(arena_after_reset), 1);
	CHECK_EQ_INT(asan_kills(arena_reuse), 0);
	CHECK_EQ_INT(asan_kills(buf_cached_stale), 1);
	CHECK_EQ_INT(asan_kills(buf_cached_reuse), 0);
	return unit_done("test_asan_poison");
}
