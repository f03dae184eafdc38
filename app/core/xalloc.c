/*
 * xalloc.c — allocation wrappers that abort, and fatal(). See xalloc.h.
 */
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* mimalloc in the static build (vendor/manifest); absent in the glibc
 * ASan build, whose allocator keeps freed memory in quarantine anyway. */
extern void mi_collect(_Bool force) __attribute__((weak));
#if __has_include(<mimalloc.h>)
#include <mimalloc.h>
#define HAVE_MIMALLOC_H 1
#endif

void mem_setup(void)
{
#ifdef HAVE_MIMALLOC_H
	mi_option_set(mi_option_decommit_delay, 0);
#endif
}

void mem_release(void)
{
	if (mi_collect)
		mi_collect(1);
}

static _Thread_local int release_due;

void mem_release_soon(void)
{
	release_due = 1;
}

void mem_release_if_due(void)
{
	if (release_due) {
		release_due = 0;
		mem_release();
	}
}

static void oom(size_t n)
{
	log_error("core", NULL, "event=out_of_memory bytes=%zu", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom(nmemb * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void fatal(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("core", NULL, "event=fatal error=\"%s\"", msg);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("core", NULL, "event=invariant_broken error=\"%s\"", msg);
	abort();
}
