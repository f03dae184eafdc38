/*
 * push_feed.c — an account's changes read on the worker pool, for the
 * push transports; see push_feed.h.
 */
#include <stdlib.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "http/push_feed.h"

/* This loop's feeds (each loop its own). */
static _Thread_local struct push_feed *feeds;

struct push_calc *push_calc_new(struct store *st, uint32_t account)
{
	struct push_calc *k = xcalloc(1, sizeof *k);
	k->st = st;
	k->account = account;
	return k;
}

void push_calc_add(struct push_calc *k, const uint64_t *told, unsigned types)
{
	k->members++;
	k->own_mask |= types & JMAP_TYPES_OWN;
	if (!told)
		return;
	if (k->n == k->n_max) {
		k->n_max = k->n_max ? 2 * k->n_max : 8;
		k->since = xrealloc(k->since, k->n_max * sizeof *k->since);
	}
	k->since[k->n++] = *told;
}

void push_calc_login(struct push_calc *k, uint32_t apppass)
{
	for (size_t i = 0; i < k->m; i++)
		if (k->apppass[i] == apppass)
			return;
	if (k->m == k->m_max) {
		k->m_max = k->m_max ? 2 * k->m_max : 4;
		k->apppass = xrealloc(k->apppass, k->m_max * sizeof *k->apppass);
	}
	k->apppass[k->m++] = apppass;
}

void push_calc_free(struct push_calc *k)
{
	free(k->since);
	free(k->types);
	free(k->upto);
	free(k->apppass);
	free(k->cred);
	free(k->shared_owner);
	free(k->shared_modseq);
	free(k);
}

/* On the pool: the accounts shared with k's and their modseqs. */
static void calc_shared(struct push_calc *k)
{
	struct jmap_shared_account *v;
	size_t n;

	if (jmap_shared_accounts(k->st, k->account, &v, &n) < 0)
		return;
	k->shared_owner = xcalloc(n ? n : 1, sizeof *k->shared_owner);
	k->shared_modseq = xcalloc(n ? n : 1, sizeof *k->shared_modseq);
	k->shared_ok = 1;
	for (size_t i = 0; i < n; i++) {
		k->shared_owner[i] = v[i].owner;
		if (store_account_modseq(k->st, v[i].owner, &k->shared_modseq[i]) != STORE_OK)
			k->shared_ok = 0;
	}
	k->nshared = n;
	free(v);
}

/* On the pool. The own types' /get as the account's own login: what
 * they answer does not depend on which password or token is used. */
static void calc_work(void *arg)
{
	struct push_calc *k = arg;
	int rc = store_account_modseq(k->st, k->account, &k->modseq);
	k->gone = rc == STORE_ENOTFOUND;
	k->ok = rc == STORE_OK &&
	        jmap_push_changed_many(k->st, k->account, k->since, k->n, k->types, k->upto) == 0;
	k->cred_ok = 1;
	for (size_t i = 0; i < k->m; i++)
		if (store_account_creds(k->st, &k->account, &k->apppass[i], &k->cred[i], 1) !=
		    STORE_OK)
			k->cred_ok = 0;
	if (k->ok && k->own_mask) {
		struct jmap_who who = {.account = k->account};
		k->own_ok = jmap_push_own_states(k->st, &who, k->own_mask, &k->own) == 0;
	}
	if (k->shared)
		calc_shared(k);
}

static int u64_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

void push_calc_submit(struct push_calc *k, struct loop *loop, void (*done)(void *))
{
	if (k->n)
		qsort(k->since, k->n, sizeof *k->since, u64_cmp);
	size_t d = 0;
	for (size_t i = 0; i < k->n; i++)
		if (!d || k->since[d - 1] != k->since[i])
			k->since[d++] = k->since[i];
	k->n = d;
	k->types = xcalloc(d ? d : 1, sizeof *k->types);
	k->upto = xcalloc(d ? d : 1, sizeof *k->upto);
	k->cred = xcalloc(k->m ? k->m : 1, sizeof *k->cred);
	k->wj = (struct worker_job){.fn = calc_work, .done = done, .arg = k, .loop = loop};
	worker_submit(&k->wj);
}

long push_calc_find(const struct push_calc *k, uint64_t told)
{
	size_t lo = 0, hi = k->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (k->since[mid] < told)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < k->n && k->since[lo] == told ? (long)lo : -1;
}

int push_calc_cred(const struct push_calc *k, uint32_t apppass, uint64_t *cred_r)
{
	for (size_t i = 0; i < k->m; i++)
		if (k->apppass[i] == apppass) {
			*cred_r = k->cred[i];
			return 1;
		}
	return 0;
}

static void feed_free(struct push_feed *f)
{
	store_unsubscribe(f->st, &f->sub);
	if (f->calc)
		f->calc->f = NULL; /* feed_done frees it */
	for (struct push_feed **pp = &feeds; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	free(f);
}

static void feed_done(void *arg)
{
	struct push_calc *k = arg;
	struct push_feed *f = k->f;
	int more = 0;

	if (!f) {
		push_calc_free(k);
		return;
	}
	f->calc = NULL;
	int (*apply)(struct push_feed *, const struct push_calc *) =
	    k->ok ? f->ops->apply : k->gone ? f->ops->gone : NULL;
	if (!k->ok && !k->gone)
		log_warn("jmap", NULL, "event=push_read_failed account=%u", f->account);
	if (apply) {
		f->busy = 1;
		more = apply(f, k);
		f->busy = 0;
	}
	push_calc_free(k);
	if (!f->members)
		feed_free(f); /* its last member went meanwhile */
	else if (more || f->again)
		push_feed_kick(f);
}

void push_feed_kick(struct push_feed *f)
{
	if (f->calc || f->busy) {
		f->again = 1;
		return;
	}
	f->again = 0;
	struct push_calc *k = push_calc_new(f->st, f->account);
	f->ops->collect(f, k);
	if (!k->members) {
		push_calc_free(k);
		return;
	}
	k->f = f;
	f->calc = k;
	push_calc_submit(k, f->loop, feed_done);
}

static void change_cb(void *arg, uint32_t account, uint64_t modseq)
{
	(void)account;
	(void)modseq;
	push_feed_kick(arg);
}

struct push_feed *push_feed_join(const struct push_feed_ops *ops, struct store *st,
                                 struct loop *loop, uint32_t account, size_t size)
{
	struct push_feed *f;

	for (f = feeds; f && (f->ops != ops || f->account != account); f = f->next)
		;
	if (!f) {
		f = xcalloc(1, size < sizeof *f ? sizeof *f : size);
		f->ops = ops;
		f->st = st;
		f->loop = loop;
		f->account = account;
		f->sub =
		    (struct store_sub){.account = account, .loop = loop, .cb = change_cb, .arg = f};
		store_subscribe(st, &f->sub);
		f->next = feeds;
		feeds = f;
	}
	f->members++;
	return f;
}

void push_feed_leave(struct push_feed *f)
{
	if (--f->members == 0 && !f->busy)
		feed_free(f);
}
