/*
 * jmap_typestate.c — states and exact /changes for the JMAP types whose
 * objects live outside the store's change log: Identity (an alias the
 * administrator adds makes one), EmailSubmission (the queue moves its
 * deliveryStatus) and SieveScript (ManageSieve and the portal write the
 * same scripts). Whoever changed them, what a client sees is what the
 * type's /get renders, so that is what is compared.
 *
 * Design. The caller hands the objects as /get renders them: each id
 * with a digest of its rendering. When the set differs from the type's
 * last snapshot, a new snapshot is kept under the next sequence number,
 * which is the type's state ("J" and the number). /changes from state N
 * compares snapshot N with the current objects: ids only now are
 * created, ids only then destroyed, a changed digest updated. With
 * maxChanges too small for that, it answers up to the latest snapshot
 * still within it (hasMoreChanges), and when even the next one is not,
 * up to a place inside that step: "Jn.k", snapshot n with the first k
 * ids that differ from snapshot n+1 (in strcmp order) as n+1 has them
 * (between()). Meta keys (SCHEMA.md):
 * "jts/ACCOUNT/TYPE" holds the latest number, "jts/ACCOUNT/TYPE/NNNN"
 * (16 hex digits) each snapshot as lines "id digest"; the newest
 * JMAP_TS_KEEP are kept, so only a state older than those (or not one
 * of these) answers cannotCalculateChanges.
 *
 * Caveats: a snapshot is taken when a method looks, not when the change
 * happens, so two changes between two looks are one state step (every
 * answer is still exact between the states a client was given). A
 * process-wide lock orders the snapshot writes; each is its own meta
 * write transaction (only when something changed).
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/hex.h"
#include "jmap/jmap_private.h"
#include "jmap/jmap_typestate.h"
#include "store/store.h"

#define SNAP_MAX (64 * 1024) /* a meta value's limit */

static pthread_mutex_t ts_mu = PTHREAD_MUTEX_INITIALIZER;

void jmap_ts_digest(struct jmap_ts_obj *o, const char *id, const char *json, size_t len)
{
	uint8_t h[8];
	o->id = id;
	crypto_generichash(h, sizeof h, (const uint8_t *)json, len, NULL, 0);
	hex_encode(o->digest, h, sizeof h);
}

/* The snapshot text of v[0..n) into out; -1 when it does not fit. */
static int snap_write(const struct jmap_ts_obj *v, size_t n, struct buf *out)
{
	int rc = 0;
	for (size_t i = 0; i < n; i++)
		rc |= buf_printf(out, "%s %s\n", v[i].id, v[i].digest);
	return rc ? -1 : 0;
}

/* A snapshot read back: objects in a's memory. 0, or -1 when absent. */
static int snap_read(struct jmap_request *r, const char *type, uint64_t seq, struct jmap_ts_obj **v_r,
		     size_t *n_r)
{
	char key[96];
	size_t len;
	char *val = arena_alloc(r->a, SNAP_MAX + 1);
	snprintf(key, sizeof key, "jts/%u/%s/%016llx", r->account, type, (unsigned long long)seq);
	if (store_meta_get(r->st, key, val, SNAP_MAX, &len) != STORE_OK)
		return -1;
	val[len] = '\0';
	size_t cap = 1;
	for (size_t i = 0; i < len; i++)
		cap += val[i] == '\n';
	struct jmap_ts_obj *v = arena_zalloc(r->a, cap * sizeof *v);
	size_t n = 0;
	for (char *line = val, *nl; *line && (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		char *sp = strrchr(line, ' ');
		if (!sp || strlen(sp + 1) != sizeof v->digest - 1)
			continue;
		*sp = '\0';
		v[n].id = line;
		memcpy(v[n].digest, sp + 1, sizeof v->digest);
		n++;
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

static uint64_t latest(struct jmap_request *r, const char *type)
{
	char key[64], val[32];
	size_t len;
	snprintf(key, sizeof key, "jts/%u/%s", r->account, type);
	if (store_meta_get(r->st, key, val, sizeof val - 1, &len) != STORE_OK)
		return 0;
	val[len] = '\0';
	return strtoull(val, NULL, 10);
}

static int same_set(const struct jmap_ts_obj *a, size_t na, const struct jmap_ts_obj *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++) {
		size_t j;
		for (j = 0; j < nb && strcmp(a[i].id, b[j].id); j++)
			;
		if (j == nb || strcmp(a[i].digest, b[j].digest))
			return 0;
	}
	return 1;
}

int jmap_ts_state(struct jmap_request *r, const char *type, const struct jmap_ts_obj *v, size_t n,
		  char state_r[24])
{
	struct jmap_ts_obj *old;
	size_t nold;
	int rc = 0, changed = 0;

	pthread_mutex_lock(&ts_mu);
	uint64_t seq = latest(r, type);
	if (!seq || snap_read(r, type, seq, &old, &nold) < 0 || !same_set(v, n, old, nold)) {
		struct buf b;
		char key[96], num[24];
		buf_init(&b, SNAP_MAX);
		if (snap_write(v, n, &b) < 0) {
			rc = -1;
		} else {
			seq++;
			snprintf(key, sizeof key, "jts/%u/%s/%016llx", r->account, type,
				 (unsigned long long)seq);
			rc = store_meta_put(r->st, key, buf_data(&b), buf_len(&b), 0) == STORE_OK ? 0 : -1;
			snprintf(key, sizeof key, "jts/%u/%s", r->account, type);
			snprintf(num, sizeof num, "%llu", (unsigned long long)seq);
			if (!rc)
				rc = store_meta_put(r->st, key, num, strlen(num), 0) == STORE_OK ? 0 : -1;
			if (!rc && seq > JMAP_TS_KEEP) {
				snprintf(key, sizeof key, "jts/%u/%s/%016llx", r->account, type,
					 (unsigned long long)(seq - JMAP_TS_KEEP));
				store_meta_del(r->st, key);
			}
			changed = !rc && seq > 1;
		}
		buf_free(&b);
	}
	pthread_mutex_unlock(&ts_mu);
	snprintf(state_r, 24, "J%llu", (unsigned long long)seq);
	/* A new state: push connections and subscriptions (which follow the
	 * account's change feed) learn it now, not at the next mail change.
	 * The first snapshot is no change a client was told of. */
	uint64_t ms;
	if (changed && store_account_modseq(r->st, r->account, &ms) == STORE_OK)
		store_publish_change(r->st, r->account, ms);
	return rc;
}

/* "Jn" (n, 0) or "Jn.k" (n, k), n and k > 0; 0 or -1. */
static int state_pos(const char *s, struct jmap_pos *p)
{
	if (s[0] != 'J' || jmap_pos_parse(s + 1, p) < 0 || !p->step)
		return -1;
	return 0;
}

static const struct jmap_ts_obj *find(const struct jmap_ts_obj *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].id, id))
			return &v[i];
	return NULL;
}

/* How many ids differ between a and b. */
static size_t ndiff(const struct jmap_ts_obj *a, size_t na, const struct jmap_ts_obj *b, size_t nb)
{
	size_t d = 0;
	for (size_t i = 0; i < nb; i++) {
		const struct jmap_ts_obj *o = find(a, na, b[i].id);
		d += !o || strcmp(o->digest, b[i].digest);
	}
	for (size_t i = 0; i < na; i++)
		d += !find(b, nb, a[i].id);
	return d;
}

static int by_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/*
 * The objects between snapshots a and b once the first k of the ids
 * that differ between them (in strcmp order) took b's form: a state
 * inside one snapshot step, "Jn.k", so that a step changing more
 * objects than maxChanges (an administrator adding many aliases, one
 * /set of many) is told in pages. Both snapshots never change once
 * written, so k alone says which ids were told. *nd_r: how many differ.
 */
static void between(struct arena *ar, const struct jmap_ts_obj *a, size_t na,
		    const struct jmap_ts_obj *b, size_t nb, size_t k, struct jmap_ts_obj **v_r,
		    size_t *n_r, size_t *nd_r)
{
	const char **d = arena_alloc(ar, (na + nb + 1) * sizeof *d);
	size_t nd = 0, n = 0;

	for (size_t i = 0; i < nb; i++) {
		const struct jmap_ts_obj *o = find(a, na, b[i].id);
		if (!o || strcmp(o->digest, b[i].digest))
			d[nd++] = b[i].id;
	}
	for (size_t i = 0; i < na; i++)
		if (!find(b, nb, a[i].id))
			d[nd++] = a[i].id;
	qsort(d, nd, sizeof *d, by_str);
	if (k > nd)
		k = nd;
	struct jmap_ts_obj *v = arena_alloc(ar, (na + nb + 1) * sizeof *v);
	for (size_t i = 0; i < na; i++) {
		const char *id = a[i].id;
		if (!bsearch(&id, d, k, sizeof *d, by_str))
			v[n++] = a[i];
		else if (find(b, nb, id))
			v[n++] = *find(b, nb, id);
	}
	for (size_t i = 0; i < nb; i++) {
		const char *id = b[i].id;
		if (bsearch(&id, d, k, sizeof *d, by_str) && !find(a, na, id))
			v[n++] = b[i];
	}
	*v_r = v;
	*n_r = n;
	*nd_r = nd;
}

static const struct jmap_arg changes_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"sinceState", JA_STRING, JA_REQUIRED},
    {"maxChanges", JA_UINT, JA_NULLABLE},
};

void jmap_ts_changes(struct jmap_call *c, const char *type, const struct jmap_ts_obj *v, size_t n)
{
	char state[24];
	struct jmap_pos since, now;
	struct jmap_ts_obj *old, *next;
	size_t nold, nnext, nd;

	if (jmap_args_check(c, changes_args, sizeof changes_args / sizeof changes_args[0]) < 0)
		return;
	const struct json_value *mc = jmap_arg(c, "maxChanges");
	if (mc && mc->integer == 0) {
		jmap_bad_arg(c, "maxChanges", "maxChanges must be positive");
		return;
	}
	if (jmap_ts_state(c->r, type, v, n, state) < 0) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	state_pos(state, &now);
	const char *sinces = jmap_arg(c, "sinceState")->str;
	if (state_pos(sinces, &since) < 0 || since.step > now.step ||
	    (since.skip && since.step == now.step) ||
	    snap_read(c->r, type, since.step, &old, &nold) < 0) {
		jmap_error(c, "cannotCalculateChanges", "that state is older than the ones kept");
		return;
	}
	/* A place inside step n -> n+1: the objects as the client has them. */
	if (since.skip) {
		if (snap_read(c->r, type, since.step + 1, &next, &nnext) < 0) {
			jmap_error(c, "cannotCalculateChanges", "that state is older than the ones kept");
			return;
		}
		between(c->r->a, old, nold, next, nnext, since.skip, &old, &nold, &nd);
		if (since.skip >= nd) {
			jmap_error(c, "cannotCalculateChanges", "not a state this server gave");
			return;
		}
	}
	/* The newest state whose changes fit maxChanges; when even the next
	 * snapshot does not, a place inside the step to it. */
	const struct jmap_ts_obj *to = v;
	size_t nto = n;
	struct jmap_pos upto = now;
	if (mc) {
		while (ndiff(old, nold, to, nto) > (uint64_t)mc->integer) {
			struct jmap_ts_obj *mid, *base;
			size_t nmid, nbase;
			if (--upto.step == since.step) {
				if (snap_read(c->r, type, since.step, &base, &nbase) < 0 ||
				    snap_read(c->r, type, since.step + 1, &mid, &nmid) < 0) {
					jmap_error(c, "cannotCalculateChanges", "that state is older than the ones kept");
					return;
				}
				upto.skip = since.skip + (uint64_t)mc->integer;
				between(c->r->a, base, nbase, mid, nmid, upto.skip, &next, &nnext, &nd);
				to = next;
				nto = nnext;
				break;
			}
			if (snap_read(c->r, type, upto.step, &mid, &nmid) < 0) {
				jmap_error(c, "cannotCalculateChanges", "that state is older than the ones kept");
				return;
			}
			to = mid;
			nto = nmid;
		}
	}
	jmap_begin(c);
	jw_kstr(&c->w, "oldState", sinces);
	char ns[49];
	ns[0] = 'J';
	jmap_pos_format(&upto, ns + 1);
	jw_kstr(&c->w, "newState", ns);
	jw_kbool(&c->w, "hasMoreChanges", upto.step != now.step || upto.skip);
	jw_key(&c->w, "created");
	jw_arr_begin(&c->w);
	for (size_t i = 0; i < nto; i++)
		if (!find(old, nold, to[i].id))
			jw_str(&c->w, to[i].id);
	jw_arr_end(&c->w);
	jw_key(&c->w, "updated");
	jw_arr_begin(&c->w);
	for (size_t i = 0; i < nto; i++) {
		const struct jmap_ts_obj *o = find(old, nold, to[i].id);
		if (o && strcmp(o->digest, to[i].digest))
			jw_str(&c->w, to[i].id);
	}
	jw_arr_end(&c->w);
	jw_key(&c->w, "destroyed");
	jw_arr_begin(&c->w);
	for (size_t i = 0; i < nold; i++)
		if (!find(to, nto, old[i].id))
			jw_str(&c->w, old[i].id);
	jw_arr_end(&c->w);
	jw_obj_end(&c->w);
}
