/*
 * uidlist.c — Dovecot's dovecot-uidlist (uidlist.h): the header's
 * UIDVALIDITY and next UID, and each message line's UID and file name
 * base, looked up by name.
 */
#include <stdlib.h>
#include <string.h>

#include "backup/uidlist.h"
#include "core/xalloc.h"

/* A decimal u32 at p[0..n): digits up to the first non-digit, one by one
 * checked for overflow. Returns the digits used (0: none or too large). */
static size_t u32_at(const char *p, size_t n, uint32_t *v_r)
{
	uint64_t v = 0;
	size_t i = 0;
	while (i < n && p[i] >= '0' && p[i] <= '9') {
		v = v * 10 + (uint64_t)(p[i] - '0');
		if (v > UINT32_MAX)
			return 0;
		i++;
	}
	*v_r = (uint32_t)v;
	return i;
}

/* The header line h[0..n): 0 with the version, or -1. */
static int header(const char *h, size_t n, struct uidlist *ul, int *version_r)
{
	uint32_t ver;
	size_t i = u32_at(h, n, &ver);
	if (i == 0 || (ver != 1 && ver != 3) || i >= n || h[i] != ' ')
		return -1;
	*version_r = (int)ver;
	if (ver == 1) {
		/* Courier's: "1 UIDVALIDITY NEXTUID". */
		size_t a = u32_at(h + i + 1, n - i - 1, &ul->uidvalidity);
		if (a == 0)
			return -1;
		i += 1 + a;
		if (i < n && h[i] == ' ')
			u32_at(h + i + 1, n - i - 1, &ul->uidnext);
		return ul->uidvalidity ? 0 : -1;
	}
	/* Version 3: letter-tagged fields, any order, unknown ones skipped. */
	while (i < n) {
		while (i < n && h[i] == ' ')
			i++;
		size_t s = i;
		while (i < n && h[i] != ' ')
			i++;
		if (i - s < 2)
			continue;
		uint32_t v;
		size_t d = u32_at(h + s + 1, i - s - 1, &v);
		if (d != i - s - 1)
			continue;
		if (h[s] == 'V')
			ul->uidvalidity = v;
		else if (h[s] == 'N')
			ul->uidnext = v;
	}
	return ul->uidvalidity ? 0 : -1;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct uidlist_ent *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->base, y->base, n);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* One message line l[0..n) of version ver into *e: 0, or -1. */
static int line(const char *l, size_t n, int ver, struct uidlist_ent *e)
{
	size_t i = u32_at(l, n, &e->uid);
	if (i == 0 || e->uid == 0 || i >= n || l[i] != ' ')
		return -1;
	const char *b;
	if (ver == 3) {
		/* The fields end at " :"; the base is what follows. */
		const char *c = NULL;
		for (size_t k = i; k + 1 < n && !c; k++)
			if (l[k] == ' ' && l[k + 1] == ':')
				c = l + k + 2;
		if (!c)
			return -1;
		b = c;
	} else {
		b = l + i + 1;
	}
	size_t bl = (size_t)(l + n - b);
	/* A base is a file name: no '/' or NUL, no info part, not empty. */
	if (bl == 0 || bl > 4096 || memchr(b, '/', bl) || memchr(b, '\0', bl) ||
	    memchr(b, ':', bl))
		return -1;
	e->base = b;
	e->len = (uint32_t)bl;
	return 0;
}

int uidlist_parse(const char *text, size_t len, struct uidlist *ul)
{
	int ver;
	size_t cap = 0;

	memset(ul, 0, sizeof *ul);
	const char *nl = memchr(text, '\n', len);
	size_t hl = nl ? (size_t)(nl - text) : len;
	if (hl && text[hl - 1] == '\r')
		hl--;
	if (header(text, hl, ul, &ver) != 0) {
		ul->uidvalidity = ul->uidnext = 0;
		return -1;
	}
	for (size_t off = nl ? (size_t)(nl - text) + 1 : len; off < len;) {
		const char *e = memchr(text + off, '\n', len - off);
		size_t n = e ? (size_t)(e - (text + off)) : len - off;
		size_t next = off + n + (e != NULL);
		if (n && text[off + n - 1] == '\r')
			n--;
		if (n) {
			if (ul->n == cap) {
				cap = cap ? cap * 2 : 256;
				ul->v = xrealloc(ul->v, cap * sizeof *ul->v);
			}
			if (line(text + off, n, ver, &ul->v[ul->n]) == 0)
				ul->n++;
			else
				ul->bad++;
		}
		off = next;
	}
	if (ul->n)
		qsort(ul->v, ul->n, sizeof *ul->v, ent_cmp);
	return 0;
}

uint32_t uidlist_find(const struct uidlist *ul, const char *name)
{
	struct uidlist_ent key = {.base = name, .len = (uint32_t)strcspn(name, ":")};
	const struct uidlist_ent *e =
	    ul->n ? bsearch(&key, ul->v, ul->n, sizeof *ul->v, ent_cmp) : NULL;
	return e ? e->uid : 0;
}

void uidlist_free(struct uidlist *ul)
{
	free(ul->v);
	ul->v = NULL;
	ul->n = 0;
}
