/*
 * imap_subject_cache.c — folded subjects kept for SEARCH SUBJECT. See
 * the header.
 *
 * Per account: entries (email id, offset, length) sorted by id, over one
 * block of text. Searches ask for the ids of a mailbox in UID order,
 * which is nearly always id order, so a lookup starts where the one
 * before ended and is a step or two. Entries are appended as searches add
 * them and sorted (and freed of duplicates: two sessions may add the same
 * email) at the next lookup.
 */
#include "imap/imap_subject_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

#define NONE UINT32_MAX /* ent.len of a message without a Subject */

struct ent {
	uint32_t id, off, len;
};

struct acct {
	struct store *st; /* NULL: a free slot */
	uint32_t account;
	int sorted;
	uint64_t used; /* use clock: LRU */
	struct ent *e;
	size_t n, cap;
	char *text;
	size_t tlen, tcap;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct acct accts[IMAP_SUBJECT_CACHE_ACCOUNTS];
static uint64_t clock_;
static size_t total; /* bytes held: entry arrays and text blocks */

static size_t bytes_of(const struct acct *a)
{
	return a->cap * sizeof(*a->e) + a->tcap;
}

static void drop(struct acct *a)
{
	total -= bytes_of(a);
	free(a->e);
	free(a->text);
	memset(a, 0, sizeof(*a));
}

static struct acct *find(struct store *st, uint32_t account)
{
	for (size_t i = 0; i < IMAP_SUBJECT_CACHE_ACCOUNTS; i++)
		if (accts[i].st == st && accts[i].account == account)
			return &accts[i];
	return NULL;
}

/* The least recently used account other than keep, or NULL. */
static struct acct *oldest(const struct acct *keep)
{
	struct acct *o = NULL;
	for (size_t i = 0; i < IMAP_SUBJECT_CACHE_ACCOUNTS; i++) {
		struct acct *a = &accts[i];
		if (a->st && a != keep && (!o || a->used < o->used))
			o = a;
	}
	return o;
}

static int ent_cmp(const void *x, const void *y)
{
	const struct ent *a = x, *b = y;
	return a->id < b->id ? -1 : a->id > b->id;
}

static void sort(struct acct *a)
{
	size_t w = 0;

	qsort(a->e, a->n, sizeof(*a->e), ent_cmp);
	for (size_t i = 0; i < a->n; i++)
		if (!w || a->e[w - 1].id != a->e[i].id)
			a->e[w++] = a->e[i];
	a->n = w; /* a duplicate's text stays unused until the account goes */
	a->sorted = 1;
}

/* Index of the first entry with id >= want at or after from. */
static size_t seek(const struct acct *a, size_t from, uint32_t want)
{
	if (from < a->n && a->e[from].id >= want && (from == 0 || a->e[from - 1].id < want))
		return from; /* the usual case: the next id asked is the next one kept */
	size_t lo = 0, hi = a->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a->e[mid].id < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t imap_subject_cache_each(struct store *st, uint32_t account, const uint32_t *ids, size_t n,
			       uint8_t *found, imap_subject_cb *cb, void *arg)
{
	size_t hits = 0, pos = 0;

	memset(found, 0, n);
	pthread_mutex_lock(&lock);
	struct acct *a = find(st, account);
	if (a) {
		a->used = ++clock_;
		if (!a->sorted)
			sort(a);
		for (size_t i = 0; i < n; i++) {
			pos = seek(a, pos, ids[i]);
			if (pos == a->n || a->e[pos].id != ids[i])
				continue;
			const struct ent *e = &a->e[pos++];
			cb(arg, i, e->len == NONE ? STR_NULL
						  : str_make(e->len ? a->text + e->off : "", e->len));
			found[i] = 1;
			hits++;
		}
	}
	pthread_mutex_unlock(&lock);
	return hits;
}

void imap_subject_cache_add(struct store *st, uint32_t account, const uint32_t *ids,
			    const struct str *folded, size_t n)
{
	size_t k = 0, text = 0;

	/* What fits: the entries and the text of the subjects kept. */
	for (size_t i = 0; i < n; i++)
		if (!folded[i].p || folded[i].len <= IMAP_SUBJECT_CACHE_TEXT_MAX) {
			k++;
			text += folded[i].p ? folded[i].len : 0;
		}
	if (!st || !account || !k)
		return;
	pthread_mutex_lock(&lock);
	struct acct *a = find(st, account);
	if (!a) {
		for (size_t i = 0; i < IMAP_SUBJECT_CACHE_ACCOUNTS && !a; i++)
			if (!accts[i].st)
				a = &accts[i];
		if (!a) {
			a = oldest(NULL);
			drop(a);
		}
		a->st = st;
		a->account = account;
		a->sorted = 1;
	}
	a->used = ++clock_;
	size_t ecap = a->cap, tcap = a->tcap;
	while (ecap < a->n + k)
		ecap = ecap ? 2 * ecap : 256;
	while (tcap < a->tlen + text)
		tcap = tcap ? 2 * tcap : 16384;
	size_t grow = (ecap - a->cap) * sizeof(*a->e) + (tcap - a->tcap);
	struct acct *o;
	while (total + grow > IMAP_SUBJECT_CACHE_BYTES && (o = oldest(a)) != NULL)
		drop(o);
	if (total + grow > IMAP_SUBJECT_CACHE_BYTES || a->tlen + text > UINT32_MAX - 1) {
		pthread_mutex_unlock(&lock); /* this account alone fills it: kept as it is */
		return;
	}
	if (ecap != a->cap)
		a->e = xrealloc(a->e, ecap * sizeof(*a->e));
	if (tcap != a->tcap)
		a->text = xrealloc(a->text, tcap);
	a->cap = ecap;
	a->tcap = tcap;
	total += grow;
	for (size_t i = 0; i < n; i++) {
		if (folded[i].p && folded[i].len > IMAP_SUBJECT_CACHE_TEXT_MAX)
			continue;
		struct ent *e = &a->e[a->n++];
		e->id = ids[i];
		e->off = (uint32_t)a->tlen;
		e->len = folded[i].p ? (uint32_t)folded[i].len : NONE;
		if (folded[i].p) {
			memcpy(a->text + a->tlen, folded[i].p, folded[i].len);
			a->tlen += folded[i].len;
		}
		if (a->n > 1 && e[-1].id >= e->id)
			a->sorted = 0;
	}
	pthread_mutex_unlock(&lock);
}

void imap_subject_cache_clear(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < IMAP_SUBJECT_CACHE_ACCOUNTS; i++)
		if (accts[i].st)
			drop(&accts[i]);
	clock_ = 0;
	pthread_mutex_unlock(&lock);
}
