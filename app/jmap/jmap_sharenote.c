/*
 * jmap_sharenote.c — ShareNotification/get, /changes, /set (destroy
 * only), /query and /queryChanges (RFC 9670 §5): what the store noted
 * each time a grant given to the user changed (store_sharenote.c),
 * whoever changed it.
 *
 * Object: id "N" and the record's number (16 hex digits), created,
 * changedBy (the account that made the change as an Entity: its
 * display name or address, address and principal id; an administrator's
 * change, `tern acl` or the REST API, is name "Administrator" with email
 * and principalId null), objectType "Mailbox", objectAccountId the
 * owner's account, objectId the mailbox, oldRights and newRights the
 * grant's rights before and after as a Mailbox's rights object
 * (jmap_mailbox_share.c; null for no grant), name the mailbox's full
 * name at the time.
 *
 * They live in the user's own account only. The newest
 * STORE_SHARENOTE_MAX are kept. The state is a snapshot of the ids
 * (jmap_typestate.c, type "snote": a notification never changes, it
 * comes and goes), so /changes is exact from the last JMAP_TS_KEEP
 * states and push tells the grantee when one arrives (store_acl.c
 * publishes the change; jmap_push.c reads this state). /queryChanges is
 * cannotCalculateChanges: there is no log of a query's results, and at
 * most STORE_SHARENOTE_MAX objects to query again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_private.h"
#include "jmap/jmap_typestate.h"
#include "store/store.h"

struct note {
	char id[24];
	struct store_sharenote n; /* name in the arena */
};

struct notes {
	struct jmap_request *r;
	struct note *v;
	size_t n, cap;
};

static void note_cb(void *arg, const struct store_sharenote *n)
{
	struct notes *x = arg;

	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 16;
		struct note *nv = arena_alloc(x->r->a, cap * sizeof *nv);
		if (x->n)
			memcpy(nv, x->v, x->n * sizeof *nv);
		x->v = nv;
		x->cap = cap;
	}
	struct note *o = &x->v[x->n++];
	o->n = *n;
	o->n.name = arena_strdup(x->r->a, n->name);
	snprintf(o->id, sizeof o->id, "N%016llx", (unsigned long long)n->seq);
}

/* The user's notifications, oldest first; NULL with serverFail set. */
static struct notes *notes_load(struct jmap_call *c)
{
	struct notes *x = arena_zalloc(c->r->a, sizeof *x);

	x->r = c->r;
	if (store_sharenote_list(c->r->st, c->r->account, note_cb, x) != STORE_OK) {
		jmap_error(c, "serverFail", "the store could not be read");
		return NULL;
	}
	return x;
}

static const struct note *find(const struct notes *x, const char *id)
{
	for (size_t i = 0; i < x->n; i++)
		if (!strcmp(x->v[i].id, id))
			return &x->v[i];
	return NULL;
}

static struct jmap_ts_obj *ts_objs(struct jmap_call *c, const struct notes *x)
{
	struct jmap_ts_obj *v = arena_zalloc(c->r->a, (x->n + 1) * sizeof *v);

	for (size_t i = 0; i < x->n; i++)
		jmap_ts_digest(&v[i], x->v[i].id, x->v[i].id, strlen(x->v[i].id));
	return v;
}

static void notes_state(struct jmap_call *c, const struct notes *x, char out[24])
{
	jmap_ts_state(c->r, "snote", ts_objs(c, x), x->n, out);
}

static const char *const props[] = {"id",	 "created",	    "changedBy", "objectType",
				    "objectAccountId", "objectId", "oldRights", "newRights",
				    "name"};
#define NPROPS (sizeof props / sizeof props[0])

/* RFC 9670 §5.1's Entity for the account by (0: an administrator): its
 * name is the display name, as the account's Principal's is
 * (jmap_principal.c), the address when it has none. */
static void w_changed_by(struct jw *w, struct store *st, uint32_t by)
{
	char email[320], name[STORE_DISPLAY_NAME_MAX + 1];

	jw_obj_begin(w);
	if (by && store_account_email(st, by, email, sizeof email) == STORE_OK) {
		if (store_account_name(st, by, name, sizeof name) != STORE_OK)
			name[0] = '\0';
		jw_kstr(w, "name", name[0] ? name : email);
		jw_kstr(w, "email", email);
		jw_key(w, "principalId");
		jmap_w_principal_id(w, by);
	} else {
		jw_kstr(w, "name", by ? "A removed account" : "Administrator");
		jw_key(w, "email");
		jw_null(w);
		jw_key(w, "principalId");
		jw_null(w);
	}
	jw_obj_end(w);
}

static void w_rights_or_null(struct jw *w, uint32_t rights)
{
	if (rights)
		jmap_w_share_rights(w, rights);
	else
		jw_null(w);
}

static void w_note(struct jw *w, struct store *st, const struct note *o, unsigned want)
{
	jw_obj_begin(w);
	for (size_t k = 0; k < NPROPS; k++) {
		if (!(want & (1u << k)))
			continue;
		jw_key(w, props[k]);
		switch (k) {
		case 0: jw_str(w, o->id); break;
		case 1: jmap_w_utcdate(w, o->n.created); break;
		case 2: w_changed_by(w, st, o->n.changed_by); break;
		case 3: jw_str(w, "Mailbox"); break;
		case 4: jmap_w_id(w, 'A', o->n.owner); break;
		case 5: jmap_w_id(w, 'M', o->n.mailbox); break;
		case 6: w_rights_or_null(w, o->n.old_rights); break;
		case 7: w_rights_or_null(w, o->n.new_rights); break;
		case 8: jw_str(w, o->n.name); break;
		}
	}
	jw_obj_end(w);
}

static int found(void *arg, const char *id)
{
	return find(arg, id) != NULL;
}

void jmap_sharenote_get(struct jmap_call *c)
{
	static const struct jmap_arg args[] = {
	    {"accountId", JA_ID, JA_REQUIRED},
	    {"ids", JA_IDREFS, JA_NULLABLE},
	    {"properties", JA_STRINGS, JA_NULLABLE},
	};
	struct jmap_get g;
	struct notes *x;
	char state[24];

	if (jmap_get_begin(c, args, 3, props, NPROPS, &g) < 0 || !(x = notes_load(c)))
		return;
	unsigned want = jmap_get_mask(&g, props, NPROPS);
	notes_state(c, x, state);
	jmap_get_list(c, state);
	if (!g.ids)
		for (size_t i = 0; i < x->n; i++)
			w_note(&c->w, c->r->st, &x->v[i], want);
	for (const struct json_value *e = g.ids ? g.ids->first : NULL; e; e = e->next) {
		const struct note *o = find(x, e->str);
		if (o)
			w_note(&c->w, c->r->st, o, want);
	}
	jmap_get_end(c, &g, found, x);
}

void jmap_sharenote_changes(struct jmap_call *c)
{
	struct notes *x = notes_load(c);

	if (x)
		jmap_ts_changes(c, "snote", ts_objs(c, x), x->n);
}

/* ---- ShareNotification/set: destroy only ---- */

void jmap_sharenote_set(struct jmap_call *c)
{
	static const struct jmap_arg args[] = {
	    {"accountId", JA_ID, JA_REQUIRED}, {"ifInState", JA_STRING, JA_NULLABLE},
	    {"create", JA_IDMAP, JA_NULLABLE}, {"update", JA_IDREFMAP, JA_NULLABLE},
	    {"destroy", JA_IDREFS, JA_NULLABLE},
	};
	struct jmap_set s;
	struct notes *x;
	char old[24], now[24];

	if (jmap_set_begin(c, args, sizeof args / sizeof args[0], &s) < 0 || !(x = notes_load(c)))
		return;
	notes_state(c, x, old);
	if (jmap_set_if_in_state(c, old) < 0)
		return;
	jmap_set_open(&s, JMAP_RESPONSE_MAX / 4);
	/* RFC 9670 §5.3: only destroy; the server makes them. */
	for (const struct json_value *o = s.create ? s.create->first : NULL; o; o = o->next)
		jmap_w_set_error(&s.w[JMAP_SET_NOT_CREATED], o->key, "forbidden",
				 "share notifications are made by the server", NULL);
	for (const struct json_value *o = s.update ? s.update->first : NULL; o; o = o->next)
		jmap_w_set_error(&s.w[JMAP_SET_NOT_UPDATED], o->key, "forbidden",
				 "a share notification cannot be changed", NULL);
	int gone = 0;
	for (const struct json_value *o = s.destroy ? s.destroy->first : NULL; o; o = o->next) {
		const struct note *n = find(x, o->str);
		int rc = n ? store_sharenote_del(c->r->st, c->r->account, n->n.seq) : STORE_ENOTFOUND;
		if (rc == STORE_OK) {
			jw_str(&s.w[JMAP_SET_DESTROYED], o->str);
			gone = 1;
		} else if (rc == STORE_ENOTFOUND) {
			jmap_w_set_error(&s.w[JMAP_SET_NOT_DESTROYED], o->str, "notFound", NULL,
					 NULL);
		} else {
			jmap_w_set_error(&s.w[JMAP_SET_NOT_DESTROYED], o->str,
					 jmap_store_fail_type(rc, 0), jmap_store_fail_desc(rc), NULL);
		}
	}
	if (gone) {
		struct notes *y = notes_load(c);
		if (!y) {
			jmap_set_free(&s);
			return;
		}
		notes_state(c, y, now);
	} else {
		memcpy(now, old, sizeof now);
	}
	jmap_set_end(c, &s, old, now);
}

/* ---- ShareNotification/query ---- */

/* RFC 9670 §5.4's FilterCondition (jmap_cond_fn; arg NULL: checked). */
static int note_cond(struct jmap_call *c, const struct json_value *f, void *arg)
{
	const struct note *o = arg;

	for (const struct json_value *p = f->first; p; p = p->next) {
		const char *k = p->key;
		int64_t t = 0;
		int ok;
		int date = !strcmp(k, "after") || !strcmp(k, "before");
		/* after and before are UTCDate|null: null sets no bound. */
		if (date && p->type == JSON_NULL)
			continue;
		if (p->type != JSON_STRING) {
			jmap_bad_arg(c, "filter", "a filter condition of the wrong type");
			return -1;
		}
		if (date) {
			if (jmap_utcdate_parse(p->str, &t) < 0) {
				jmap_bad_arg(c, "filter", "after and before are UTCDates");
				return -1;
			}
			/* after: created on or after; before: strictly before. */
			ok = o && (k[0] == 'a' ? o->n.created >= t : o->n.created < t);
		} else if (!strcmp(k, "objectType")) {
			ok = !strcmp(p->str, "Mailbox");
		} else if (!strcmp(k, "objectAccountId")) {
			ok = o && jmap_id_num(p->str, 'A') == o->n.owner;
		} else {
			jmap_error(c, "unsupportedFilter", k);
			return -1;
		}
		if (o && !ok)
			return 0;
	}
	return 1;
}

static int is_anchor(void *arg, size_t i, const char *anchor)
{
	const struct note *const *v = arg;
	return !strcmp(v[i]->id, anchor);
}

void jmap_sharenote_query(struct jmap_call *c)
{
	static const struct jmap_arg args[] = {
	    {"accountId", JA_ID, JA_REQUIRED}, {"filter", JA_OBJECT, JA_NULLABLE},
	    {"sort", JA_ARRAY, JA_NULLABLE},   {"position", JA_INT, 0},
	    {"anchor", JA_ID, JA_NULLABLE},    {"anchorOffset", JA_INT, 0},
	    {"limit", JA_UINT, JA_NULLABLE},   {"calculateTotal", JA_BOOL, 0},
	};
	int desc = 0, first = 1;

	if (jmap_args_check(c, args, sizeof args / sizeof args[0]) < 0)
		return;
	const struct json_value *sort = jmap_arg(c, "sort"), *filter = jmap_arg(c, "filter");
	/* RFC 9670 §5.4: "created" (the records' order, ties by number). */
	for (const struct json_value *e = sort ? sort->first : NULL; e; e = e->next, first = 0) {
		const struct json_value *p = json_get(e, "property"), *asc = json_get(e, "isAscending");
		if (e->type != JSON_OBJECT || !p || p->type != JSON_STRING) {
			jmap_bad_arg(c, "sort", "a Comparator has a property");
			return;
		}
		if (strcmp(p->str, "created")) {
			jmap_error(c, "unsupportedSort", p->str);
			return;
		}
		if (first)
			desc = asc && asc->type == JSON_BOOL && !asc->boolean;
	}
	if (jmap_filter_check(c, filter, note_cond) < 0)
		return;
	struct notes *x = notes_load(c);
	char state[24];
	if (!x)
		return;
	notes_state(c, x, state);
	const struct note **hit = arena_alloc(c->r->a, (x->n + 1) * sizeof *hit);
	size_t n = 0;
	for (size_t i = 0; i < x->n; i++) {
		const struct note *o = &x->v[desc ? x->n - 1 - i : i];
		int r = filter ? jmap_filter_match(c, filter, note_cond, (void *)o) : 1;
		if (r < 0)
			return;
		if (r)
			hit[n++] = o;
	}
	size_t pos, end;
	if (jmap_query_window(c, n, is_anchor, hit, &pos, &end) < 0)
		return;
	jmap_query_begin(c, state, 0, pos);
	for (size_t i = pos; i < end; i++)
		jw_str(&c->w, hit[i]->id);
	jmap_query_end(c, n);
}

void jmap_sharenote_query_changes(struct jmap_call *c)
{
	jmap_query_changes_refused(c, "query the share notifications again");
}
