/*
 * jmap_email_query.c — Email/query and Email/queryChanges (RFC 8621
 * §4.4-4.5). Filter conditions on what the email record holds:
 * inMailbox, inMailboxOtherThan, before, after, minSize, maxSize,
 * hasKeyword, notKeyword, allInThreadHaveKeyword,
 * someInThreadHaveKeyword, noneInThreadHaveKeyword, combined with AND,
 * OR, NOT, and the content conditions below; sorts by receivedAt, size,
 * id, hasKeyword, allInThreadHaveKeyword, someInThreadHaveKeyword (the
 * Comparator's "keyword": an email without it sorts first when
 * ascending, as false before true); collapseThreads; position,
 * anchor, anchorOffset, limit, calculateTotal.
 *
 * The content conditions (text, from, to, cc, bcc, subject, body, header,
 * hasAttachment) go to jmap_email_match.c, the matcher IMAP SEARCH uses;
 * the message is read only when the filter has one.
 * Sorts by subject (base subject), from, to (the first address's name,
 * else its address) and sentAt read each result's cached envelope once,
 * and compare as IMAP SORT does (mime_collate).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/msort.h"
#include "core/xalloc.h"
#include "jmap/jmap_email_match.h"
#include "mime/mime_cache.h"
#include "mime/mime_date.h"
#include "mime/mime_thread.h"
#include "mime/rfc5322.h"
#include "jmap/jmap_private.h"
#include "search/fts.h"
#include "search/fts_indexer.h"
#include "store/store.h"

struct em {
	uint32_t id, thread;
	uint64_t size;
	int64_t received;
	const char *kw; /* arena copy */
	size_t kwlen;
	uint32_t *mbs;
	size_t nmbs;
	/* Sort keys read from the message, for sorts that need them. */
	const char *k_subject, *k_from, *k_to;
	/* The same unfolded, for i;ascii-casemap (which folds a-z only). */
	const char *r_subject, *r_from, *r_to;
	int64_t sent;
	unsigned kwbits; /* bit i: keyword sort key i holds for this email */
	struct arena *a; /* the request's, for the keys */
};

struct ems {
	struct arena *a;
	struct em *v;
	size_t n, cap;
	const struct jmap_request *r;
};

/* In a shared account (jmap_share.c) only the emails the user may read
 * are loaded, each with the mailboxes it may read: every condition,
 * sort and thread test then sees no other. */
static void load_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct ems *e = arg;
	(void)i;
	if (!jmap_email_readable(e->r, b->members, b->nmembers))
		return;
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 256;
		e->v = realloc(e->v, e->cap * sizeof *e->v);
		if (!e->v)
			abort();
	}
	struct em *m = &e->v[e->n++];
	m->id = b->email_id;
	m->a = e->a;
	m->thread = b->thread_id;
	m->size = b->size;
	m->received = b->received_at;
	m->kw = arena_strndup(e->a, b->keywords, b->keywords_len);
	m->kwlen = b->keywords_len;
	m->mbs = arena_alloc(e->a, (b->nmembers + 1) * sizeof *m->mbs);
	m->nmbs = 0;
	for (size_t k = 0; k < b->nmembers; k++) {
		uint32_t mb = jmap_member_mailbox(b->members, k);
		if (!e->r->share || jmap_may_read(e->r, mb))
			m->mbs[m->nmbs++] = mb;
	}
}

static int in_mailbox(const struct em *m, uint32_t mb)
{
	for (size_t k = 0; k < m->nmbs; k++)
		if (m->mbs[k] == mb)
			return 1;
	return 0;
}

/* RFC 3339's date-time as mime_rfc3339_parse reads it (every field its
 * width and in range), with "Z" and the letters uppercase (RFC 8620
 * §1.4): strptime took "2026-1-1T0:0:0Z", " 2026-...", hour 24 and
 * "2026-02-30..." (the 2nd of March). */
int jmap_utcdate_parse(const char *s, int64_t *t_r)
{
	size_t n = strlen(s);
	int off;
	if (n < 20 || s[10] != 'T' || s[n - 1] != 'Z' || mime_rfc3339_parse_off(s, t_r, &off) < 0)
		return -1;
	return 0;
}

struct qctx {
	struct jmap_call *c;
	struct ems *all;
	struct em **by_thread; /* all's emails ordered by thread (then id) */
	/* The last mailbox id string of the filter resolved, and its number:
	 * the filter's strings stay put for the query, and resolving one
	 * (a creation reference, the hex) for each of thousands of emails
	 * showed in profiles. */
	const char *mb_str;
	uint32_t mb_num;
};

/* jmap_ref_num of a mailbox id of the filter, resolved once per string. */
static uint32_t filter_mailbox(struct qctx *q, const char *s)
{
	if (s != q->mb_str) {
		q->mb_num = jmap_ref_num(q->c->r, s, 'M');
		q->mb_str = s;
	}
	return q->mb_num;
}

static int cmp_thread(const void *pa, const void *pb)
{
	const struct em *a = *(struct em *const *)pa, *b = *(struct em *const *)pb;
	if (a->thread != b->thread)
		return a->thread < b->thread ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* Every email of thread t has (mode 0: all, 1: some, 2: none) keyword k:
 * the thread's emails are one run of by_thread, found by bisection. */
static int thread_kw(struct qctx *q, uint32_t t, const char *k, int mode)
{
	size_t lo = 0, hi = q->all->n;
	int any = 0, all = 1;

	if (!q->by_thread) {
		q->by_thread = arena_alloc(q->c->r->a, (q->all->n + 1) * sizeof *q->by_thread);
		for (size_t i = 0; i < q->all->n; i++)
			q->by_thread[i] = &q->all->v[i];
		qsort(q->by_thread, q->all->n, sizeof *q->by_thread, cmp_thread);
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (q->by_thread[mid]->thread < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < q->all->n && q->by_thread[i]->thread == t; i++) {
		const struct em *m = q->by_thread[i];
		int h = store_keywords_has(m->kw, m->kwlen, k);
		any |= h;
		all &= h;
	}
	return mode == 0 ? all : mode == 1 ? any : !any;
}

struct email_cond {
	struct qctx *q;
	const struct em *m; /* NULL: the filter is only checked */
	struct jmap_content *ct; /* the email's content, NULL when gone */
};

/* One property of a FilterCondition judged on m (NULL: only its value's
 * type checked, 1). 1 match, 0 none, -1 with the error set. */
static int email_cond_one(struct jmap_call *c, const struct email_cond *ec,
			  const struct json_value *p)
{
	struct qctx *q = ec->q;
	const struct em *m = ec->m;
	const char *k = p->key;

	if (!strcmp(k, "inMailbox")) {
		if (p->type != JSON_STRING)
			goto bad;
		return !m || in_mailbox(m, filter_mailbox(q, p->str));
	}
	if (!strcmp(k, "inMailboxOtherThan")) {
		if (p->type != JSON_ARRAY)
			goto bad;
		for (const struct json_value *e = p->first; e; e = e->next)
			if (e->type != JSON_STRING)
				goto bad;
		for (size_t i = 0; m && i < m->nmbs; i++) {
			int excluded = 0;
			for (const struct json_value *e = p->first; e; e = e->next)
				excluded |= jmap_ref_num(c->r, e->str, 'M') == m->mbs[i];
			if (!excluded)
				return 1;
		}
		return !m;
	}
	if (!strcmp(k, "before") || !strcmp(k, "after")) {
		int64_t t;
		if (p->type != JSON_STRING || jmap_utcdate_parse(p->str, &t) < 0)
			goto bad;
		return !m || (k[0] == 'b' ? m->received < t : m->received >= t);
	}
	if (!strcmp(k, "minSize") || !strcmp(k, "maxSize")) {
		if (p->type != JSON_NUMBER || !p->is_int || p->integer < 0)
			goto bad;
		return !m || (k[1] == 'i' ? m->size >= (uint64_t)p->integer
					  : m->size < (uint64_t)p->integer);
	}
	if (!strcmp(k, "hasKeyword") || !strcmp(k, "notKeyword")) {
		if (p->type != JSON_STRING)
			goto bad;
		return !m || store_keywords_has(m->kw, m->kwlen, p->str) == (k[0] == 'h');
	}
	if (!strcmp(k, "allInThreadHaveKeyword") || !strcmp(k, "someInThreadHaveKeyword") ||
	    !strcmp(k, "noneInThreadHaveKeyword")) {
		if (p->type != JSON_STRING)
			goto bad;
		return !m || thread_kw(q, m->thread, p->str, k[0] == 'a' ? 0 : k[0] == 's' ? 1 : 2);
	}
	if (jmap_cond_is_content(k)) {
		int ok = jmap_cond_content(c, k, p, ec->ct);
		return ok < 0 ? -1 : !m || ok;
	}
	jmap_error(c, "unsupportedFilter", k);
	return -1;
bad:
	jmap_bad_arg(c, "filter", "a filter condition of the wrong type");
	return -1;
}

/* One FilterCondition for an email (jmap_cond_fn): all its properties
 * hold. When only checking, every property is looked at. */
static int email_cond(struct jmap_call *c, const struct json_value *f, void *arg)
{
	static const struct email_cond check = {NULL, NULL, NULL};
	const struct email_cond *ec = arg ? arg : &check;

	for (const struct json_value *p = f->first; p; p = p->next) {
		int ok = email_cond_one(c, ec, p);
		if (ok <= 0)
			return ok;
	}
	return 1;
}

int jmap_email_filter_check(struct jmap_call *c, const struct json_value *filter)
{
	return jmap_filter_check(c, filter, email_cond);
}

struct skey {
	int prop; /* the index in query_run's names */
	int asc;
	const char *kw; /* the keyword sorts' keyword */
	int coll;       /* JMAP_COLLATION_* */
};

/* k: the i;unicode-casemap keys, r: the strings themselves. */
static int cmp_str(const char *ka, const char *kb, const char *ra, const char *rb, int coll)
{
	if (coll == JMAP_COLLATION_NUMERIC)
		return mime_collate_numeric(str_c(ka), str_c(kb));
	if (coll == JMAP_COLLATION_ASCII)
		return mime_collate(str_c(ra), str_c(rb));
	return mime_sortkey_cmp(str_c(ka), str_c(kb));
}
/* What the sort compares: the Comparators, and the emails the indexes
 * name (msort_u32 sorts indexes into v). */
struct sort_ctx {
	const struct skey *keys;
	int nkeys;
	const struct em *v;
};

static int cmp_em(const void *ctx, uint32_t ia, uint32_t ib)
{
	const struct sort_ctx *sc = ctx;
	const struct em *a = &sc->v[ia], *b = &sc->v[ib];
	for (int i = 0; i < sc->nkeys; i++) {
		const struct skey *k = &sc->keys[i];
		int r = 0;
		switch (k->prop) {
		case 0: r = a->received < b->received ? -1 : a->received > b->received; break;
		case 1: r = a->size < b->size ? -1 : a->size > b->size; break;
		case 2: r = a->id < b->id ? -1 : a->id > b->id; break;
		case 3:
			r = cmp_str(a->k_subject, b->k_subject, a->r_subject, b->r_subject, k->coll);
			break;
		case 4: r = cmp_str(a->k_from, b->k_from, a->r_from, b->r_from, k->coll); break;
		case 5: r = cmp_str(a->k_to, b->k_to, a->r_to, b->r_to, k->coll); break;
		case 6: r = a->sent < b->sent ? -1 : a->sent > b->sent; break;
		default: /* the keyword sorts: their value was computed before */
			r = (int)((a->kwbits >> i) & 1u) - (int)((b->kwbits >> i) & 1u);
			break;
		}
		if (r)
			return k->asc ? r : -r;
	}
	return a->id < b->id ? -1 : a->id > b->id;
}

/* hit[0..n) (pointers into all->v) in the Comparators' order. */
static void sort_hits(struct arena *a, const struct ems *all, struct em **hit, size_t n,
		      const struct skey *keys, int nkeys)
{
	struct sort_ctx sc = {keys, nkeys, all->v};
	uint32_t *ix = arena_alloc(a, (n + 1) * sizeof *ix);
	for (size_t i = 0; i < n; i++)
		ix[i] = (uint32_t)(hit[i] - all->v);
	msort_u32(ix, n, cmp_em, &sc);
	for (size_t i = 0; i < n; i++)
		hit[i] = &all->v[ix[i]];
}

struct tpos {
	uint32_t thread;
	size_t pos;
};

static int cmp_tpos(const void *pa, const void *pb)
{
	const struct tpos *a = pa, *b = pb;
	if (a->thread != b->thread)
		return a->thread < b->thread ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static const struct jmap_arg query_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},  {"filter", JA_OBJECT, JA_NULLABLE},
    {"sort", JA_ARRAY, JA_NULLABLE},    {"position", JA_INT, 0},
    {"anchor", JA_IDREF, JA_NULLABLE},  {"anchorOffset", JA_INT, 0},
    {"limit", JA_UINT, JA_NULLABLE},    {"calculateTotal", JA_BOOL, 0},
    {"collapseThreads", JA_BOOL, 0},
};

struct content_eval {
	struct jmap_call *c;
	const struct json_value *filter;
	struct email_cond *ec;
	int r, called;
};

static void content_eval_cb(void *arg, const void *meta, size_t metalen, const char *data,
			    size_t len)
{
	struct content_eval *x = arg;
	struct arena *a = arena_new(16384);
	struct jmap_content ct;

	x->called = 1;
	jmap_content_open(&ct, a, meta, metalen, data, len, 0);
	x->ec->ct = &ct;
	x->r = jmap_filter_match(x->c, x->filter, email_cond, x->ec);
	x->ec->ct = NULL;
	jmap_content_close(&ct);
	arena_free(&a);
}

/* What the full-text index rules out (search/fts.h): the "text" and
 * "body" conditions that every match must meet (the filter's own, or
 * those of the conditions of a top-level AND), each a bitmap of the
 * emails that may meet it. An email outside one is no match, unread. */
#define NARROW_MAX 8
struct narrow {
	uint64_t *bits[NARROW_MAX];
	uint32_t through[NARROW_MAX];
	int n;
};

static void narrow_cond(struct jmap_call *c, const struct json_value *f, struct narrow *nw)
{
	for (const struct json_value *p = f->first; p && nw->n < NARROW_MAX; p = p->next) {
		if (p->type != JSON_STRING || (strcmp(p->key, "text") && strcmp(p->key, "body")))
			continue;
		struct fts_cond conds[FTS_PLAN_MAX];
		size_t nc = fts_plan(jmap_needle(c->r->a, p->str, p->len), conds);
		uint64_t *bits;
		uint32_t through;
		if (nc && store_fts_candidates(c->r->st, c->r->account, conds, nc, &bits, &through) ==
				  STORE_OK && bits) {
			nw->bits[nw->n] = bits;
			nw->through[nw->n++] = through;
		}
	}
}

static void narrow_make(struct jmap_call *c, const struct json_value *filter, struct narrow *nw)
{
	nw->n = 0;
	if (!filter || filter->type != JSON_OBJECT || !fts_indexer_running())
		return;
	const struct json_value *op = json_get(filter, "operator");
	const struct json_value *conds = json_get(filter, "conditions");
	if (!op) {
		narrow_cond(c, filter, nw);
	} else if (op->type == JSON_STRING && !strcmp(op->str, "AND") && conds &&
		   conds->type == JSON_ARRAY) {
		for (const struct json_value *e = conds->first; e; e = e->next)
			if (e->type == JSON_OBJECT && !json_get(e, "operator"))
				narrow_cond(c, e, nw);
	}
}

static int narrow_out(const struct narrow *nw, uint32_t id)
{
	for (int k = 0; k < nw->n; k++)
		if (id <= nw->through[k] && !(nw->bits[k][id >> 6] >> (id & 63) & 1))
			return 1;
	return 0;
}

static void narrow_free(struct narrow *nw)
{
	for (int k = 0; k < nw->n; k++)
		free(nw->bits[k]);
	nw->n = 0;
}

/* The first address of a list as the sort sees it: its display name,
 * else its address (§4.4.2), in a's memory; *key_r the same as a sort key
 * like the subject's (mime_sortkey; mime_sortkey_cmp compares them). */
static const char *addr_key(struct arena *a, const struct mime_addrs *l, const char **key_r)
{
	for (uint32_t i = 0; i < l->n; i++) {
		const struct mime_address *ad = &l->v[i];
		char *r;
		if (!ad->mailbox.p || !ad->host.p)
			continue;
		if (ad->name.len) {
			struct buf b;
			buf_init(&b, 4096);
			rfc5322_decode_words(ad->name, &b);
			r = arena_strndup(a, buf_data(&b), buf_len(&b));
			buf_free(&b);
		} else {
			r = arena_strdup(a, mime_address_email(a, ad));
		}
		size_t kn;
		char *k = mime_sortkey(r, strlen(r), &kn);
		*key_r = arena_strndup(a, k, kn);
		free(k);
		return r;
	}
	*key_r = "";
	return "";
}

static void sort_keys_cb(void *arg, const void *meta, size_t metalen, const char *data, size_t len)
{
	struct em *m = arg;
	struct arena *t = arena_new(16384);
	struct mime_tree tree;

	mime_cache_load(meta, metalen, data, len, t, &tree);
	const struct mime_envelope *env = tree.parts[0].env;
	if (env) {
		struct buf b;
		buf_init(&b, 64 * 1024);
		if (env->subject.p)
			mime_base_subject(env->subject, &b, NULL);
		size_t kn;
		char *k = mime_sortkey(buf_data(&b), buf_len(&b), &kn);
		m->k_subject = arena_strndup(m->a, k, kn);
		m->r_subject = arena_strndup(m->a, buf_data(&b), buf_len(&b));
		free(k);
		buf_free(&b);
		m->r_from = addr_key(m->a, &env->from, &m->k_from);
		m->r_to = addr_key(m->a, &env->to, &m->k_to);
		int64_t t0;
		if (env->date.p && mime_date_parse(env->date, &t0, NULL) == 0)
			m->sent = t0;
	}
	arena_free(&t);
}

static int filter_on_thread(const struct json_value *f, int depth);
static int sort_on_thread(const struct json_value *sort);

/* The mailbox of an inMailbox that every match of filter must meet (the
 * filter's own, or that of a condition of a top-level AND), else 0. */
static uint32_t filter_one_mailbox(struct jmap_call *c, const struct json_value *filter)
{
	const struct json_value *op, *conds, *mb;

	if (!filter || filter->type != JSON_OBJECT)
		return 0;
	op = json_get(filter, "operator");
	conds = json_get(filter, "conditions");
	if (!op) {
		mb = json_get(filter, "inMailbox");
		return mb && mb->type == JSON_STRING ? jmap_ref_num(c->r, mb->str, 'M') : 0;
	}
	if (op->type != JSON_STRING || strcmp(op->str, "AND") || !conds || conds->type != JSON_ARRAY)
		return 0;
	for (const struct json_value *e = conds->first; e; e = e->next) {
		if (e->type != JSON_OBJECT || json_get(e, "operator"))
			continue;
		mb = json_get(e, "inMailbox");
		if (mb && mb->type == JSON_STRING)
			return jmap_ref_num(c->r, mb->str, 'M');
	}
	return 0;
}

/*
 * Loads into all the emails the query may match: those of one mailbox
 * when the filter asks for it (store_mailbox_emails, from the uid index,
 * instead of every email record of the account: a client's view of one
 * mailbox is the commonest query) and nothing looks at an email outside
 * the results (scoped: the caller keeps only the results; no thread
 * condition or sort, which look at every email of a thread wherever it
 * is). The filter is still judged on each email loaded, so the results
 * are those of the whole account's.
 */
static int query_load(struct jmap_call *c, struct ems *all, int scoped)
{
	uint32_t mb = 0;
	int rc;

	if (scoped && !filter_on_thread(jmap_arg(c, "filter"), 0) &&
	    !sort_on_thread(jmap_arg(c, "sort")))
		mb = filter_one_mailbox(c, jmap_arg(c, "filter"));
	if (mb)
		rc = store_mailbox_emails(c->r->st, c->r->account, mb, load_cb, all);
	else
		rc = store_emails_all(c->r->st, c->r->account, load_cb, all);
	return rc == STORE_OK ? 0 : -1;
}

/* The query's results: all (loaded here; the caller frees all->v) filtered,
 * sorted and collapsed into *hit_r (arena), *n_r of them. scoped: the
 * caller reads only the results, so all may hold only the emails that may
 * match (query_load). 0 or -1 (the error set on c). */
static int query_run(struct jmap_call *c, struct ems *all, int scoped, struct em ***hit_r,
		     size_t *n_r)
{
	/* As many as kwbits has bits: a real sort has a few. */
	struct skey keys[32];
	int nkeys = 0, need_keys = 0;
	const struct json_value *sort = jmap_arg(c, "sort"), *v;

	memset(all, 0, sizeof *all); /* the caller frees all->v whatever happens */
	all->a = c->r->a;
	all->r = c->r;
	for (const struct json_value *e = sort ? sort->first : NULL; e; e = e->next) {
		const struct json_value *p = json_get(e, "property"), *asc = json_get(e, "isAscending");
		const struct json_value *kw = json_get(e, "keyword");
		if (e->type != JSON_OBJECT || !p || p->type != JSON_STRING ||
		    (asc && asc->type != JSON_BOOL)) {
			jmap_bad_arg(c, "sort", "a Comparator has a property");
			return -1;
		}
		static const char *const names[] = {"receivedAt", "size", "id", "subject", "from", "to",
						    "sentAt", "hasKeyword", "allInThreadHaveKeyword",
						    "someInThreadHaveKeyword"};
		int prop = -1;
		for (int k = 0; k < 10 && prop < 0; k++)
			if (!strcmp(p->str, names[k]))
				prop = k;
		if (prop >= 3 && prop <= 6)
			need_keys = 1;
		if (prop < 0 || nkeys == 32) {
			jmap_error(c, "unsupportedSort", p->str);
			return -1;
		}
		int coll = jmap_comparator_collation(c, e);
		if (coll < 0)
			return -1;
		/* §4.4.2: the keyword sorts need a valid "keyword". */
		if (prop >= 7 && (!kw || kw->type != JSON_STRING ||
				  !store_keyword_valid(kw->str, strlen(kw->str)))) {
			jmap_bad_arg(c, "sort", "a keyword sort needs a valid keyword");
			return -1;
		}
		keys[nkeys++] = (struct skey){prop, asc ? asc->boolean : 1, prop >= 7 ? kw->str : NULL,
					      coll};
	}
	if (query_load(c, all, scoped) < 0) {
		jmap_error(c, "serverFail", NULL);
		return -1;
	}
	struct qctx q = {c, all, NULL, NULL, 0};
	const struct json_value *filter = jmap_arg(c, "filter");
	if (jmap_email_filter_check(c, filter) < 0)
		return -1;
	int content = jmap_filter_needs_content(filter, 0);
	struct em **hit = arena_alloc(c->r->a, (all->n + 1) * sizeof *hit);
	size_t n = 0;
	struct narrow nw;
	size_t unread = 0;
	narrow_make(c, content ? filter : NULL, &nw);
	for (size_t i = 0; i < all->n; i++) {
		struct email_cond ec = {&q, &all->v[i], NULL};
		int r = 1;
		if (nw.n && narrow_out(&nw, all->v[i].id)) {
			r = 0;
			unread++;
		} else if (filter && content) {
			/* The text conditions read the message: one email's
			 * bytes at a time, judged while they are mapped. */
			struct content_eval x = {c, filter, &ec, 0, 0};
			if (store_email_content(c->r->st, c->r->account, all->v[i].id, content_eval_cb,
						&x) != STORE_OK && !x.called)
				x.r = jmap_filter_match(c, filter, email_cond, &ec);
			r = x.r;
		} else if (filter) {
			r = jmap_filter_match(c, filter, email_cond, &ec);
		}
		if (r < 0) {
			narrow_free(&nw);
			return -1;
		}
		if (r)
			hit[n++] = &all->v[i];
	}
	narrow_free(&nw);
	if (content)
		log_debug("jmap", NULL, "event=query_text account=%u emails=%zu unread=%zu matched=%zu",
			  c->r->account, all->n, unread, n);
	/* Sorts on the message's fields (RFC 8621 §4.4.2) read each result's
	 * cached envelope once. */
	for (size_t i = 0; need_keys && i < n; i++) {
		hit[i]->k_subject = hit[i]->k_from = hit[i]->k_to = "";
		hit[i]->r_subject = hit[i]->r_from = hit[i]->r_to = "";
		hit[i]->sent = hit[i]->received;
		store_email_content(c->r->st, c->r->account, hit[i]->id, sort_keys_cb, hit[i]);
	}
	/* The keyword sorts' values, once per email (the thread ones look
	 * at the whole thread, filtered out or not). */
	for (size_t i = 0; i < n; i++) {
		hit[i]->kwbits = 0;
		for (int k = 0; k < nkeys; k++) {
			if (keys[k].prop < 7)
				continue;
			int h = keys[k].prop == 7
				    ? store_keywords_has(hit[i]->kw, hit[i]->kwlen, keys[k].kw)
				    : thread_kw(&q, hit[i]->thread, keys[k].kw, keys[k].prop == 8 ? 0 : 1);
			hit[i]->kwbits |= (unsigned)(h != 0) << k;
		}
	}
	sort_hits(c->r->a, all, hit, n, keys, nkeys);
	if ((v = jmap_arg(c, "collapseThreads")) && v->boolean) {
		/* The first of each thread in the sorted list stands for it:
		 * positions ordered by (thread, position) put it first. */
		struct tpos *tp = arena_alloc(c->r->a, (n + 1) * sizeof *tp);
		char *keep = arena_zalloc(c->r->a, n + 1);
		for (size_t i = 0; i < n; i++)
			tp[i] = (struct tpos){hit[i]->thread, i};
		qsort(tp, n, sizeof *tp, cmp_tpos);
		for (size_t i = 0; i < n; i++)
			keep[tp[i].pos] = i == 0 || tp[i].thread != tp[i - 1].thread;
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (keep[i])
				hit[k++] = hit[i];
		n = k;
	}
	*hit_r = hit;
	*n_r = n;
	return 0;
}

static int is_anchor(void *arg, size_t i, const char *anchor)
{
	struct em **hit = arg;
	return hit[i]->id == jmap_id_num(anchor, 'E');
}

void jmap_email_query(struct jmap_call *c)
{
	char state[24];
	struct ems all;
	struct em **hit;
	size_t n;

	if (jmap_args_check(c, query_args, sizeof query_args / sizeof query_args[0]) < 0)
		return;
	if (jmap_state(c, state) < 0)
		return;
	if (query_run(c, &all, 1, &hit, &n) < 0) {
		free(all.v);
		return;
	}
	size_t pos, end;
	if (jmap_query_window(c, n, is_anchor, hit, &pos, &end) < 0) {
		free(all.v);
		return;
	}
	jmap_query_begin(c, state, 1, pos);
	for (size_t i = pos; i < end; i++)
		jmap_w_id(&c->w, 'E', hit[i]->id);
	jmap_query_end(c, n);
	free(all.v);
}

/* ---- Email/queryChanges (RFC 8620 §5.6) ----
 * The emails the change log names since the old state are all reported
 * removed (the RFC allows ids that were not in the old results), and
 * those of them in today's results added at their index. When the query
 * depends on an email's thread (collapseThreads: which email stands for
 * it; the *InThreadHaveKeyword conditions and sorts: whether and where
 * every email of it shows), a change to one email changes its thread's
 * others too: every email of a thread holding a changed email is
 * removed, and re-added where it is in today's results. A destroyed
 * email's thread is the one the log's thread entry after it names
 * (STORE_CHANGE_EMAIL_THREAD), so the thread it stood for gets its next
 * email; a destroy logged without one (records older than the entry)
 * answers cannotCalculateChanges.
 *
 * upToId (§5.6): when filter and sort look only at what an email never
 * changes (no mailbox, keyword or thread condition, no collapse), an
 * email's place in the results is fixed from its creation to its
 * destruction. Then only creations and destructions change them, and
 * a creation placed after upToId in today's results is left out (the
 * client has not cached that far). A destroyed email's old place is
 * unknown, so it is told removed wherever it stood; an upToId not in
 * today's results cuts nothing. */

struct u32s {
	uint32_t *v;
	size_t n, cap;
};

static void u32s_add(struct u32s *a, uint32_t x)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		a->v = xrealloc(a->v, a->cap * sizeof *a->v);
	}
	a->v[a->n++] = x;
}

struct qchanges {
	/* In a shared account (jmap_share.c) the call's request, else
	 * NULL: a change only counts when it names a mailbox the user may
	 * read; the others' emails are kept in hidden, and count when the
	 * user may read them now (qchanges_shared). */
	const struct jmap_request *r;
	struct u32s hidden;
	struct u32s ids;        /* emails changed since, sorted, each once after */
	struct u32s born, died; /* of those, the ones created, destroyed */
	struct u32s gone;       /* threads of the emails destroyed since */
	uint32_t destroyed;     /* the destroyed email whose thread entry is next */
	int pending, unknown;   /* pending: destroyed is set; unknown: a destroy
	                         * had no thread entry */
};

static int qchange_cb(void *arg, const struct store_change *sc)
{
	struct qchanges *q = arg;

	if (sc->kind == STORE_CHANGE_EMAIL_THREAD && q->pending && sc->uid == q->destroyed) {
		u32s_add(&q->gone, sc->id);
		q->pending = 0;
		return 0;
	}
	q->unknown |= q->pending;
	q->pending = 0;
	if (sc->kind != STORE_CHANGE_EMAIL_CREATED && sc->kind != STORE_CHANGE_EMAIL_UPDATED &&
	    sc->kind != STORE_CHANGE_EMAIL_DESTROYED)
		return 0;
	if (q->r && !jmap_may_read(q->r, sc->mailbox)) {
		u32s_add(&q->hidden, sc->id);
		return 0;
	}
	if (sc->kind == STORE_CHANGE_EMAIL_DESTROYED) {
		q->destroyed = sc->id;
		q->pending = 1;
		u32s_add(&q->died, sc->id);
	}
	if (sc->kind == STORE_CHANGE_EMAIL_CREATED)
		u32s_add(&q->born, sc->id);
	u32s_add(&q->ids, sc->id);
	return 0;
}

/*
 * In a shared account: the emails whose changes named only mailboxes the
 * user may not read count when the user may read them now (all: the
 * emails it may read, query_run's), as they may have come into its view
 * through a membership it sees (their change named a readable mailbox:
 * already in) or one it does not: changed, as Email/changes tells them
 * (jmap_email.c). The others stay untold, the owner's private mail.
 */
static void qchanges_shared(struct qchanges *q, const struct ems *all)
{
	if (!q->r || !q->hidden.n)
		return;
	q->hidden.n = jmap_u32_sort_unique(q->hidden.v, q->hidden.n);
	for (size_t i = 0; i < all->n; i++)
		if (jmap_u32_has(q->hidden.v, q->hidden.n, all->v[i].id))
			u32s_add(&q->ids, all->v[i].id);
}

static void qchanges_free(struct qchanges *q)
{
	free(q->ids.v);
	free(q->gone.v);
	free(q->born.v);
	free(q->died.v);
	free(q->hidden.v);
}

/* 1 when filter (checked already) has a condition on the email's thread. */
static int filter_on_thread(const struct json_value *f, int depth)
{
	if (!f || f->type != JSON_OBJECT || depth > JSON_DEPTH_MAX)
		return 0;
	const struct json_value *conds = json_get(f, "conditions");
	if (conds && json_get(f, "operator")) {
		for (const struct json_value *e = conds->first; e; e = e->next)
			if (filter_on_thread(e, depth + 1))
				return 1;
		return 0;
	}
	return json_get(f, "allInThreadHaveKeyword") || json_get(f, "someInThreadHaveKeyword") ||
	       json_get(f, "noneInThreadHaveKeyword");
}

/* 1 when sort (checked already) compares by a thread's keywords. */
static int sort_on_thread(const struct json_value *sort)
{
	for (const struct json_value *e = sort ? sort->first : NULL; e; e = e->next) {
		const struct json_value *p = json_get(e, "property");
		if (p && p->type == JSON_STRING && (!strcmp(p->str, "allInThreadHaveKeyword") ||
						    !strcmp(p->str, "someInThreadHaveKeyword")))
			return 1;
	}
	return 0;
}

/* 1 when filter (checked already) has a condition an email's change
 * can flip: its mailboxes, its keywords or its thread's. */
static int filter_mutable(const struct json_value *f, int depth)
{
	static const char *const mut[] = {"inMailbox", "inMailboxOtherThan", "hasKeyword",
					  "notKeyword"};
	if (!f || f->type != JSON_OBJECT || depth > JSON_DEPTH_MAX)
		return 0;
	const struct json_value *conds = json_get(f, "conditions");
	if (conds && json_get(f, "operator")) {
		for (const struct json_value *e = conds->first; e; e = e->next)
			if (filter_mutable(e, depth + 1))
				return 1;
		return 0;
	}
	for (size_t i = 0; i < sizeof mut / sizeof mut[0]; i++)
		if (json_get(f, mut[i]))
			return 1;
	return filter_on_thread(f, depth);
}

/* 1 when sort (checked already) compares by keywords. */
static int sort_mutable(const struct json_value *sort)
{
	for (const struct json_value *e = sort ? sort->first : NULL; e; e = e->next) {
		const struct json_value *p = json_get(e, "property");
		if (p && p->type == JSON_STRING && !strcmp(p->str, "hasKeyword"))
			return 1;
	}
	return sort_on_thread(sort);
}

/* With upToId at index k of today's results res (n) and filter and sort
 * fixed: into changed, the emails destroyed since and those created
 * since at index k or before; their count, or SIZE_MAX when upToId does
 * not apply (not given, not in res, or the query may move emails). */
static size_t up_to_changes(struct jmap_call *c, const struct qchanges *ch, const uint32_t *res,
			    size_t n, uint32_t *changed)
{
	const struct json_value *up = jmap_arg(c, "upToId"), *v;
	size_t k = 0, nc = 0;

	/* In a shared account any membership change may take an email
	 * into or out of the user's view: as a filter on mailboxes. */
	if (!up || up->type != JSON_STRING || ((v = jmap_arg(c, "collapseThreads")) && v->boolean) ||
	    c->r->share || filter_mutable(jmap_arg(c, "filter"), 0) || sort_mutable(jmap_arg(c, "sort")))
		return SIZE_MAX;
	uint32_t id = jmap_ref_num(c->r, up->str, 'E');
	while (k < n && res[k] != id)
		k++;
	if (k == n)
		return SIZE_MAX;
	for (size_t i = 0; i < ch->died.n; i++)
		changed[nc++] = ch->died.v[i];
	for (size_t i = 0; i <= k; i++)
		if (jmap_u32_has(ch->born.v, ch->born.n, res[i]))
			changed[nc++] = res[i];
	return nc;
}

static const struct jmap_arg qc_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},    {"filter", JA_OBJECT, JA_NULLABLE},
    {"sort", JA_ARRAY, JA_NULLABLE},      {"sinceQueryState", JA_STRING, JA_REQUIRED},
    {"maxChanges", JA_UINT, JA_NULLABLE}, {"upToId", JA_ID, JA_NULLABLE},
    {"calculateTotal", JA_BOOL, 0},       {"collapseThreads", JA_BOOL, 0},
};

void jmap_email_query_changes(struct jmap_call *c)
{
	char state[24];
	uint64_t since, now;
	const struct json_value *v;

	if (jmap_args_check(c, qc_args, sizeof qc_args / sizeof qc_args[0]) < 0 ||
	    jmap_state(c, state) < 0)
		return;
	jmap_state_parse(state, &now);
	if (jmap_state_parse(jmap_arg(c, "sinceQueryState")->str, &since) < 0 || since > now ||
	    !jmap_state_answerable(c, since)) {
		jmap_error(c, "cannotCalculateChanges", NULL);
		return;
	}
	int collapse = (v = jmap_arg(c, "collapseThreads")) && v->boolean;
	int by_thread = collapse || filter_on_thread(jmap_arg(c, "filter"), 0) ||
			sort_on_thread(jmap_arg(c, "sort"));
	int moved = jmap_share_reads_moved(c->r, since, now);
	if (moved) {
		jmap_share_reads_error(c, moved);
		return;
	}
	struct qchanges ch = {.r = c->r->share ? c->r : NULL};
	int rc = store_changes_since(c->r->st, c->r->account, since, qchange_cb, &ch);
	if (rc != STORE_OK || (by_thread && (ch.unknown || ch.pending))) {
		qchanges_free(&ch);
		if (rc != STORE_OK)
			jmap_error(c, "serverFail", NULL);
		else
			jmap_error(c, "cannotCalculateChanges", "an email was destroyed since, thread unknown");
		return;
	}
	struct ems all;
	struct em **hit;
	size_t n;
	if (query_run(c, &all, 0, &hit, &n) < 0) {
		free(all.v);
		qchanges_free(&ch);
		return;
	}
	qchanges_shared(&ch, &all);
	size_t nid = jmap_u32_sort_unique(ch.ids.v, ch.ids.n);
	/* Threads touched, when by thread: those of changed emails, and
	 * those destroyed emails were in. */
	uint32_t *threads = arena_alloc(c->r->a, (nid + ch.gone.n + 1) * sizeof *threads);
	size_t nt = 0;
	for (size_t i = 0; by_thread && i < all.n; i++)
		if (jmap_u32_has(ch.ids.v, nid, all.v[i].id))
			threads[nt++] = all.v[i].thread;
	for (size_t i = 0; by_thread && i < ch.gone.n; i++)
		threads[nt++] = ch.gone.v[i];
	nt = jmap_u32_sort_unique(threads, nt);
	/* Changed: every changed email, and by thread every email of a
	 * touched thread, in today's results or not (it may have left
	 * them): all removed, those in today's results added. */
	uint32_t *changed = arena_alloc(c->r->a, (nid + all.n + ch.died.n + 1) * sizeof *changed),
		 *res = arena_alloc(c->r->a, (n + 1) * sizeof *res);
	size_t nc = nid;
	if (nid)
		memcpy(changed, ch.ids.v, nid * sizeof *changed);
	for (size_t i = 0; nt && i < all.n; i++)
		if (jmap_u32_has(threads, nt, all.v[i].thread))
			changed[nc++] = all.v[i].id;
	for (size_t i = 0; i < n; i++)
		res[i] = hit[i]->id;
	ch.born.n = jmap_u32_sort_unique(ch.born.v, ch.born.n);
	size_t nup = up_to_changes(c, &ch, res, n, changed);
	if (nup != SIZE_MAX)
		nc = nup;
	jmap_query_changes_end(c, state, 'E', changed, nc, res, n);
	free(all.v);
	qchanges_free(&ch);
}
