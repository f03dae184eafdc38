/*
 * jmap_mailbox_set.c — Mailbox/set (RFC 8621 §2.5, RFC 8620 §5.3):
 * creates, then updates, then destroys, each through the store's mailbox
 * operations by name (the store keeps IMAP's full names; a JMAP name is
 * one level, so "/" is refused in it). Each write commits before the
 * response names it.
 *
 * What can change: name and parentId (a rename: children follow, ids
 * and UIDVALIDITY stay, and so does isSubscribed, though the store keeps
 * subscriptions by name), isSubscribed, role (one mailbox's at most; the
 * INBOX keeps its own) and sortOrder, kept by the store
 * (store_mailbox_sort_order()). A sibling's name is alreadyExists with
 * its id as existingId. Destroying a mailbox with children
 * is mailboxHasChild; one with emails is mailboxHasEmail unless
 * onDestroyRemoveEmails, and then emails in no other mailbox go with it.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/unorm.h"
#include "jmap/jmap_mailbox.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

struct set_err {
	const char *type, *desc, *prop;
	struct jmap_bad bad; /* invalidProperties of every bad property, when n */
	uint32_t existing;   /* alreadyExists: the mailbox that has the name */
};

static void w_set_err(struct jw *w, const struct set_err *e)
{
	if (e->bad.n) {
		jmap_w_set_error_bad(w, NULL, &e->bad);
	} else if (e->existing) {
		jmap_w_set_error_open(w, e->type, e->desc, e->prop);
		jw_key(w, "existingId");
		jmap_w_id(w, 'M', e->existing);
		jw_obj_end(w);
	} else {
		jmap_w_set_error(w, NULL, e->type, e->desc, e->prop);
	}
}

static struct set_err err_of(const char *type, const char *desc, const char *prop)
{
	return (struct set_err){type, desc, prop, {0}, 0};
}

/* A create or rename to full, a sibling's name (the store's
 * STORE_EEXIST; the INBOX's in any case): alreadyExists, the SetError
 * RFC 8620 §5.4 has for a duplicate, with that sibling as existingId
 * (RFC 8621 §2: no two siblings share a name). Clients and conformance
 * suites tell it from a bad value (invalidProperties). */
static struct set_err exists_err(const struct jmap_mailboxes *m, const char *full)
{
	struct set_err e = err_of("alreadyExists", "a sibling mailbox has that name", "name");
	for (size_t i = 0; i < m->n && !e.existing; i++)
		if (!strcmp(m->v[i].full, full) ||
		    (!strcmp(m->v[i].role, "inbox") && !strcasecmp(full, "INBOX")))
			e.existing = m->v[i].id;
	return e;
}

/* -1 with *e the invalidProperties of every property in bad, or 0 when
 * none was. */
static int bad_end(struct set_err *e, const struct jmap_bad *bad)
{
	if (!bad->n)
		return 0;
	*e = err_of("invalidProperties", bad->desc, NULL);
	e->bad = *bad;
	return -1;
}

/* A parentId value (null, an id, or "#creation id") to a mailbox id; 0
 * for top level. -1 when it names nothing. */
static int64_t parent_of(struct jmap_call *c, struct jmap_mailboxes *m, const struct json_value *v)
{
	if (!v || v->type == JSON_NULL)
		return 0;
	if (v->type != JSON_STRING)
		return -1;
	const char *id = v->str;
	if (!(id = jmap_id_ref(c->r, id)))
		return -1;
	struct jmap_mailbox *b = jmap_mailbox_by_id(m, jmap_id_num(id, 'M'));
	return b ? (int64_t)b->id : -1;
}

static int name_ok(const struct json_value *v)
{
	return v && v->type == JSON_STRING && v->len >= 1 && v->len <= 255 &&
	       !memchr(v->str, '/', v->len) && strlen(v->str) == v->len;
}

/* The full name of a mailbox called name under parent (0: top level):
 * the parent's name as stored, and name in NFC as the store keeps it
 * (store_mailbox_ops.c), so the list and the created answer show it. */
static char *full_name(struct jmap_call *c, struct jmap_mailboxes *m, int64_t parent,
		       const char *name)
{
	size_t n = strlen(name);
	char *leaf = arena_alloc(c->r->a, UNORM_GROWTH * n + 1);
	leaf[unorm_nfc(name, n, leaf)] = '\0';
	if (!parent)
		return leaf;
	return arena_printf(c->r->a, "%s/%s", jmap_mailbox_by_id(m, (uint32_t)parent)->full, leaf);
}

/* A new name for b under the parent it has: its own name's parent part
 * (in a shared account the parent the user sees may be further up, past
 * mailboxes the user does not see, which b stays under). */
static char *renamed_in_place(struct jmap_call *c, const struct jmap_mailbox *b, const char *name)
{
	char *leaf = full_name(c, NULL, 0, name);
	const char *slash = strrchr(b->full, '/');

	if (!slash)
		return leaf;
	return arena_printf(c->r->a, "%.*s/%s", (int)(slash - b->full), b->full, leaf);
}

static struct set_err store_err(int rc, int create)
{
	switch (rc) {
	case STORE_EEXIST: return err_of("invalidProperties", "a mailbox of that name exists", "name");
	case STORE_EINVAL: return err_of("invalidProperties", "that name is not allowed", "name");
	case STORE_ETOOBIG: return err_of("invalidProperties", "the name is too long", "name");
	case STORE_ELIMIT: return err_of("overQuota", "too many mailboxes", NULL);
	case STORE_ENOTFOUND: return err_of("notFound", NULL, NULL);
	/* A shared account's (jmap_share_set.c): a right is missing. */
	case STORE_EACCES: return err_of("forbidden", "the owner has not given that right", NULL);
	case STORE_EFULL:
		return err_of(jmap_store_fail_type(rc, create), jmap_store_fail_desc(rc), NULL);
	default: return err_of("serverFail", "the store failed", NULL);
	}
}

/* sortOrder is an UnsignedInt (RFC 8621 §2), kept in 32 bits. */
/* sortOrder given: an UnsignedInt below 2^32, or null for the default
 * (RFC 8620 §5.3; RFC 8621 §2, default 0). */
static int sort_order_ok(const struct json_value *v)
{
	return v->type == JSON_NULL ||
	       (v->type == JSON_NUMBER && v->is_int && v->integer >= 0 && v->integer <= UINT32_MAX);
}

static uint32_t sort_order_of(const struct json_value *v)
{
	return v && v->type == JSON_NUMBER ? (uint32_t)v->integer : 0;
}

static int create_one(struct jmap_call *c, struct jmap_mailboxes *m, const struct json_value *o,
		      uint32_t *id_r, int *sub_r, struct set_err *e)
{
	const struct json_value *name = NULL, *role = NULL, *sub = NULL, *parent = NULL, *order = NULL;
	struct jmap_bad bad = {.a = c->r->a};

	if (o->type != JSON_OBJECT) {
		*e = err_of("invalidProperties", "a Mailbox is an object", NULL);
		return -1;
	}
	for (const struct json_value *p = o->first; p; p = p->next) {
		if (!strcmp(p->key, "name"))
			name = p;
		else if (!strcmp(p->key, "parentId"))
			parent = p;
		else if (!strcmp(p->key, "role"))
			role = p;
		else if (!strcmp(p->key, "isSubscribed"))
			sub = p;
		else if (!strcmp(p->key, "sortOrder"))
			order = p;
		else
			jmap_bad_member(&bad, p->key, "not a property a client may set");
	}
	/* Every bad property is named, not only the first (RFC 8620 §5.3). */
	if (!name_ok(name))
		jmap_bad_add(&bad, "name", "a name is 1..255 octets without \"/\"");
	if (order && !sort_order_ok(order))
		jmap_bad_add(&bad, "sortOrder", "sortOrder is an UnsignedInt below 2^32");
	if (role && role->type != JSON_NULL && role->type != JSON_STRING)
		jmap_bad_add(&bad, "role", "role is a String or null");
	if (sub && sub->type != JSON_BOOL)
		jmap_bad_add(&bad, "isSubscribed", "isSubscribed is a Boolean");
	int64_t pid = parent_of(c, m, parent);
	if (pid < 0)
		jmap_bad_add(&bad, "parentId", "no such parent");
	/* RFC 8621 §2: no two mailboxes have the same role. The store lets
	 * IMAP's CREATE-SPECIAL-USE give one twice (RFC 6154 allows it). */
	for (size_t i = 0; role && role->type == JSON_STRING && role->len && i < m->n; i++) {
		if (m->v[i].role && !strcmp(m->v[i].role, role->str)) {
			jmap_bad_add(&bad, "role", "another mailbox has that role");
			break;
		}
	}
	if (bad_end(e, &bad) < 0)
		return -1;
	const char *why = jmap_share_create_refused(c->r, (uint32_t)pid,
						    role && role->type == JSON_STRING,
						    sort_order_of(order) != 0);
	if (why) {
		*e = err_of("forbidden", why, NULL);
		return -1;
	}
	char *full = full_name(c, m, pid, name->str);
	/* In a shared account the store checks the user's rights (the
	 * user is the actor); in the own account it is the owner's call. */
	int rc = role && role->type == JSON_STRING
			 ? store_mailbox_create_role(c->r->st, c->r->account, full, role->str, id_r)
			 : store_mailbox_create_as(c->r->st, c->r->user, c->r->account, full, id_r);
	if (rc == STORE_EINVAL && role && role->type == JSON_STRING) {
		*e = err_of("invalidProperties", "a role tern does not know", "role");
		return -1;
	}
	if (rc != STORE_OK) {
		*e = rc == STORE_EEXIST ? exists_err(m, full) : store_err(rc, 1);
		return -1;
	}
	/* RFC 8621 §2: isSubscribed "SHOULD default ... true for any new
	 * Mailboxes created by the user themself". */
	*sub_r = !sub || sub->boolean;
	/* Set either way: IMAP's DELETE and RENAME leave a name subscribed
	 * (store_mailbox_subscribe), and a new mailbox under such a name is
	 * still what the client asked for. Not subscribed is ENOTFOUND. */
	jmap_share_subscribe(c->r, full, *sub_r);
	if (sort_order_of(order))
		store_mailbox_sort_order(c->r->st, c->r->account, full, sort_order_of(order));
	/* The list gains it here, not by loading every mailbox again: that
	 * made n creates cost n loads of the account's mailboxes. */
	struct jmap_mailbox *nb = jmap_mailboxes_add(m);
	nb->id = *id_r;
	nb->full = arena_strdup(m->a, full);
	nb->leaf = strrchr(nb->full, '/') ? strrchr(nb->full, '/') + 1 : nb->full;
	nb->parent = (uint32_t)pid;
	nb->role = arena_strdup(m->a, role && role->type == JSON_STRING ? role->str : "");
	nb->subscribed = *sub_r;
	nb->sort_order = sort_order_of(order);
	nb->rights = jmap_share_new_rights(c->r, *id_r);
	return 0;
}

/* The paths of a patch (RFC 8620 §5.3): myRights is the one property
 * that is an object; it has the same members on every mailbox. */
static int patch_paths_check(struct jmap_call *c, const struct json_value *patch,
			     struct set_err *e)
{
	static const char rights[] =
	    "{\"myRights\":{\"mayReadItems\":true,\"mayAddItems\":true,\"mayRemoveItems\":true,"
	    "\"maySetSeen\":true,\"maySetKeywords\":true,\"mayCreateChild\":true,"
	    "\"mayRename\":true,\"mayDelete\":true,\"maySubmit\":true}}";
	char err[64];
	const char *why;
	const struct json_value *cur =
	    json_parse(rights, sizeof rights - 1, c->r->a, err, sizeof err);
	if (jmap_patch_check(c->r->a, cur, patch, &why) < 0) {
		*e = err_of("invalidPatch", why, NULL);
		return -1;
	}
	return 0;
}

/* isSubscribed belongs to the Mailbox object (RFC 8621 §2), the store's
 * subscriptions to names (IMAP's RENAME leaves them where they were): a
 * rename from `from` to `to` carries each moved mailbox's subscription to
 * its new name, so neither it nor its children change isSubscribed. Runs
 * after the store renamed, on m as loaded before. */
static int subscriptions_follow(struct jmap_call *c, const struct jmap_mailboxes *m,
				const char *from, const char *to)
{
	size_t fl = strlen(from);

	for (size_t i = 0; i < m->n; i++) {
		const struct jmap_mailbox *x = &m->v[i];
		if (strncmp(x->full, from, fl) != 0 || (x->full[fl] && x->full[fl] != '/'))
			continue;
		/* The old name's goes first, so the count of subscriptions
		 * never passes the limit (STORE_ELIMIT) on the way. */
		int rc = x->subscribed ? jmap_share_subscribe(c->r, x->full, 0) : STORE_OK;
		const char *now = arena_printf(c->r->a, "%s%s", to, x->full + fl);
		if (rc == STORE_OK || rc == STORE_ENOTFOUND)
			rc = jmap_share_subscribe(c->r, now, x->subscribed);
		if (rc != STORE_OK && rc != STORE_ENOTFOUND)
			return rc;
	}
	return STORE_OK;
}

/* One update: 1 when it renamed (children's names changed too), 0, or
 * -1 with *e. */
static int update_one(struct jmap_call *c, struct jmap_mailboxes *m, struct jmap_mailbox *b,
		      const struct json_value *patch, struct set_err *e)
{
	const struct json_value *name = NULL, *parent = NULL, *sub = NULL, *order = NULL;
	const struct json_value *role = NULL, *cur = NULL;
	struct jmap_bad bad = {.a = c->r->a};
	int renamed = 0;

	if (patch->type != JSON_OBJECT) {
		*e = err_of("invalidPatch", NULL, NULL);
		return -1;
	}
	/* shareWith (RFC 9670 §4): checked here, written last. */
	struct jmap_share_change share;
	struct jmap_set_err se;
	if (jmap_mailbox_share_take(c, b, patch, &patch, &share, &se) < 0) {
		*e = err_of(se.type, se.desc, se.prop);
		return -1;
	}
	if (patch_paths_check(c, patch, e) < 0)
		return -1;
	for (const struct json_value *p = patch->first; p; p = p->next) {
		if (!strcmp(p->key, "name"))
			name = p;
		else if (!strcmp(p->key, "parentId"))
			parent = p;
		else if (!strcmp(p->key, "isSubscribed") && p->type == JSON_BOOL)
			sub = p;
		else if (!strcmp(p->key, "sortOrder") && sort_order_ok(p))
			order = p;
		else if (!strcmp(p->key, "role") &&
			 (p->type == JSON_NULL || (p->type == JSON_STRING && p->len &&
						   strlen(p->str) == p->len)))
			role = p;
		else if ((cur || (cur = jmap_mailbox_json(c->r->a, b))) &&
			 jmap_patch_same(c->r->a, cur, p))
			; /* server-set, sent as it is (RFC 8620 §5.3) */
		else
			jmap_bad_member(&bad, p->key, "this property cannot be changed so");
	}
	if (name && !name_ok(name))
		jmap_bad_add(&bad, "name", "a name is 1..255 octets without \"/\"");
	/* RFC 8621 §2: role is settable, null clears it, and no two
	 * mailboxes share one. Checked before anything is written, so a
	 * refused update changes nothing; written after a rename. */
	const char *rs = role && role->type == JSON_STRING ? role->str : NULL;
	int new_role = role && strcmp(rs ? rs : "", b->role) != 0;
	if (new_role) {
		const char *why = NULL;
		if (!strcmp(b->role, "inbox"))
			why = "the INBOX keeps its role";
		else if (rs && !store_mailbox_role_valid(rs))
			why = "a role tern does not know";
		for (size_t i = 0; !why && rs && i < m->n; i++)
			if (&m->v[i] != b && !strcmp(m->v[i].role, rs))
				why = "another mailbox has that role";
		if (why)
			jmap_bad_add(&bad, "role", why);
	}
	int64_t pid = parent ? parent_of(c, m, parent) : (int64_t)b->parent;
	if (pid < 0)
		jmap_bad_add(&bad, "parentId", "no such parent");
	/* Not under itself. */
	for (uint32_t p = pid > 0 ? (uint32_t)pid : 0; parent && p;) {
		struct jmap_mailbox *pb = jmap_mailbox_by_id(m, p);
		if (p == b->id) {
			jmap_bad_add(&bad, "parentId", "a mailbox cannot be its own child");
			break;
		}
		p = pb ? pb->parent : 0;
	}
	/* Every bad property named, before anything is written (RFC 8620
	 * §5.3). */
	if (bad_end(e, &bad) < 0)
		return -1;
	const char *why = jmap_share_update_refused(c->r, b, new_role, order != NULL);
	if (why) {
		*e = err_of("forbidden", why, NULL);
		return -1;
	}
	if (name || parent) {
		char *full = parent ? full_name(c, m, pid, name ? name->str : b->leaf)
				    : renamed_in_place(c, b, name->str);
		if (strcmp(full, b->full) != 0) {
			if (!strcmp(b->role, "inbox")) {
				*e = err_of("forbidden", "the INBOX cannot be renamed", NULL);
				return -1;
			}
			int rc = store_mailbox_rename_as(c->r->st, c->r->user, c->r->account,
							 b->full, full);
			if (rc != STORE_OK) {
				*e = rc == STORE_EEXIST ? exists_err(m, full) : store_err(rc, 0);
				return -1;
			}
			if ((rc = subscriptions_follow(c, m, b->full, full)) != STORE_OK) {
				*e = store_err(rc, 0);
				return -1;
			}
			b->full = full;
			renamed = 1;
		}
	}
	if (new_role) {
		int rc = store_mailbox_role(c->r->st, c->r->account, b->full, rs);
		if (rc != STORE_OK) {
			*e = rc == STORE_EEXIST || rc == STORE_EINVAL
				 ? err_of("invalidProperties", "another mailbox has that role", "role")
				 : store_err(rc, 0);
			return -1;
		}
		b->role = rs ? arena_strdup(m->a, rs) : "";
	}
	int src = sub ? jmap_share_subscribe(c->r, b->full, sub->boolean) : STORE_OK;
	if (src == STORE_OK && order)
		src = store_mailbox_sort_order(c->r->st, c->r->account, b->full,
					       sort_order_of(order));
	if (src != STORE_OK) {
		*e = err_of(jmap_store_fail_type(src, 0), jmap_store_fail_desc(src), NULL);
		return -1;
	}
	if (sub)
		b->subscribed = sub->boolean;
	if (order)
		b->sort_order = sort_order_of(order);
	if (jmap_mailbox_share_apply(c, b, &share, &se) < 0) {
		*e = err_of(se.type, se.desc, se.prop);
		return -1;
	}
	return renamed;
}

static int has_child(const struct jmap_mailboxes *m, const struct jmap_mailbox *b)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].parent == b->id)
			return 1;
	return 0;
}

static int destroy_one(struct jmap_call *c, struct jmap_mailboxes *m, struct jmap_mailbox *b,
		       int remove_emails, struct set_err *e)
{
	if (!strcmp(b->role, "inbox")) {
		*e = err_of("forbidden", "the INBOX cannot be destroyed", NULL);
		return -1;
	}
	const char *why = jmap_share_destroy_refused(c->r, b, remove_emails);
	if (why) {
		*e = err_of("forbidden", why, NULL);
		return -1;
	}
	if (has_child(m, b)) {
		*e = err_of("mailboxHasChild", NULL, NULL);
		return -1;
	}
	if (b->messages && !remove_emails) {
		*e = err_of("mailboxHasEmail", NULL, NULL);
		return -1;
	}
	int rc = store_mailbox_delete_as(c->r->st, c->r->user, c->r->account, b->full);
	if (rc != STORE_OK) {
		*e = store_err(rc, 0);
		return -1;
	}
	return 0;
}

static const struct jmap_arg set_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},  {"ifInState", JA_STRING, JA_NULLABLE},
    {"create", JA_IDMAP, JA_NULLABLE}, {"update", JA_IDREFMAP, JA_NULLABLE},
    {"destroy", JA_IDREFS, JA_NULLABLE},   {"onDestroyRemoveEmails", JA_BOOL, 0},
};

/*
 * The list as the store has it: at the start, and again after a rename
 * (the children's names changed; a create, another update or a destroy
 * changes the list in place), into an arena of its own, the previous list's freed
 * (m->a; m zeroed before the first): in the request's arena, a /set of
 * 500 creates in an account of 1,000 mailboxes kept 500 lists, some
 * 100 MB, until the request ended. Free the last with arena_free(&m->a).
 */
static int reload(struct jmap_call *c, struct jmap_mailboxes *m)
{
	struct arena *prev = m->a;
	/* In a shared account the mailboxes the user sees, with the grants
	 * as the call's writes left them (a create takes its parent's). */
	if (jmap_share_refresh(c->r) < 0)
		return -1;
	int rc = jmap_mailboxes_view_in(c->r, arena_new(0), m);
	arena_free(&prev);
	return rc;
}

/* One create of the call, its answer written to ok or bad. */
static void create_write(struct jmap_call *c, struct jmap_mailboxes *m, const struct json_value *o,
			 struct jw *ok, struct jw *bad)
{
	struct set_err e;
	uint32_t id;
	int sub;

	if (create_one(c, m, o, &id, &sub, &e) < 0) {
		jw_key(bad, o->key);
		w_set_err(bad, &e);
		return;
	}
	char ids[16];
	snprintf(ids, sizeof ids, "M%08x", id);
	jmap_created_put(c->r, o->key, ids);
	jw_key(ok, o->key);
	jw_obj_begin(ok);
	jw_kstr(ok, "id", ids);
	struct jmap_mailbox *nb = jmap_mailbox_by_id(m, id);
	jw_kuint(ok, "sortOrder", nb ? nb->sort_order : 0);
	jw_kbool(ok, "isSubscribed", sub);
	/* Left out by the client, so set to their default by the server:
	 * told too (RFC 8620 §5.3). */
	if (!json_get(o, "parentId")) {
		jw_key(ok, "parentId");
		jw_null(ok);
	}
	if (!json_get(o, "role")) {
		jw_key(ok, "role");
		jw_null(ok);
	}
	/* The name as stored when it is not what was sent (NFC, RFC 8621
	 * §2's Net-Unicode): a value the server changed is told too. */
	const struct json_value *nm = json_get(o, "name");
	if (nb && nm && nm->type == JSON_STRING && strcmp(nm->str, nb->leaf) != 0)
		jw_kstr(ok, "name", nb->leaf);
	jw_kint(ok, "totalEmails", 0);
	jw_kint(ok, "unreadEmails", 0);
	jw_kint(ok, "totalThreads", 0);
	jw_kint(ok, "unreadThreads", 0);
	/* Server-set, so in created too (RFC 8620 §5.3). */
	if (nb) {
		jw_key(ok, "myRights");
		jmap_mailbox_w_rights(ok, nb);
	}
	jw_obj_end(ok);
}

/*
 * The creates, a parent before its children: RFC 8620 §5.3 has the
 * server order them so that a create runs before another one of the call
 * names it ("parentId": "#cid"), whatever their order in the object.
 * Each pass runs those whose parent is made or not one of the call's;
 * what a cycle leaves runs last, in order, and create_one refuses it
 * (its parent is not made).
 */
static void creates_run(struct jmap_call *c, struct jmap_mailboxes *m,
			const struct json_value *create, struct jw *ok, struct jw *bad)
{
	size_t n = create ? create->count : 0, i, k;
	const struct json_value *o, *q;
	/* waits[i]: the index of the create i's parent is, or n for none. */
	size_t *waits = arena_alloc(c->r->a, (n + 1) * sizeof *waits);
	char *done = arena_zalloc(c->r->a, n + 1);

	for (o = create ? create->first : NULL, i = 0; o; o = o->next, i++) {
		const struct json_value *pv = o->type == JSON_OBJECT ? json_get(o, "parentId") : NULL;
		waits[i] = n;
		if (!pv || pv->type != JSON_STRING || pv->str[0] != '#')
			continue;
		for (q = create->first, k = 0; q; q = q->next, k++)
			if (k != i && !strcmp(q->key, pv->str + 1))
				waits[i] = k;
	}
	for (int progress = 1; progress;) {
		progress = 0;
		for (o = create ? create->first : NULL, i = 0; o; o = o->next, i++) {
			if (done[i] || (waits[i] < n && !done[waits[i]]))
				continue;
			create_write(c, m, o, ok, bad);
			done[i] = 1;
			progress = 1;
		}
	}
	for (o = create ? create->first : NULL, i = 0; o; o = o->next, i++)
		if (!done[i])
			create_write(c, m, o, ok, bad);
}

void jmap_mailbox_set(struct jmap_call *c)
{
	char old[24], now[24];
	struct jmap_mailboxes m = {0};
	struct jmap_set set;
	const struct json_value *v;

	if (jmap_set_begin(c, set_args, sizeof set_args / sizeof set_args[0], &set) < 0 ||
	    jmap_state(c, old) < 0 || jmap_set_if_in_state(c, old) < 0)
		return;
	int remove = (v = jmap_arg(c, "onDestroyRemoveEmails")) && v->boolean;
	if (reload(c, &m) < 0) {
		arena_free(&m.a);
		jmap_error(c, "serverFail", NULL);
		return;
	}
	jmap_set_open(&set, JMAP_RESPONSE_MAX / 4);
	/* okw[i], badw[i]: created/updated/destroyed and their not* (the enum's order). */
	struct jw *okw = &set.w[JMAP_SET_CREATED], *badw = &set.w[JMAP_SET_NOT_CREATED];
	creates_run(c, &m, set.create, okw, badw);
	for (const struct json_value *o = set.update ? set.update->first : NULL; o; o = o->next) {
		struct set_err e;
		const char *key = jmap_id_ref(c->r, o->key);
		struct jmap_mailbox *b = key ? jmap_mailbox_by_id(&m, jmap_id_num(key, 'M')) : NULL;
		if (!b)
			e = err_of("notFound", NULL, NULL);
		int rc = b ? update_one(c, &m, b, o, &e) : -1;
		if (rc < 0) {
			jw_key(&badw[1], key ? key : o->key);
			w_set_err(&badw[1], &e);
			continue;
		}
		uint32_t bid = b->id;
		if (rc > 0)
			reload(c, &m);
		jw_key(&okw[1], key);
		/* A name stored otherwise than sent (NFC) is told (RFC 8620 §5.3). */
		const struct json_value *nm = json_get(o, "name");
		b = jmap_mailbox_by_id(&m, bid);
		const char *leaf = b ? (strrchr(b->full, '/') ? strrchr(b->full, '/') + 1 : b->full) : NULL;
		if (nm && nm->type == JSON_STRING && leaf && strcmp(nm->str, leaf) != 0) {
			jw_obj_begin(&okw[1]);
			jw_kstr(&okw[1], "name", leaf);
			jw_obj_end(&okw[1]);
		} else {
			jw_null(&okw[1]);
		}
	}
	/* Children before their parents: a client removing a tree names its
	 * mailboxes in any order, and a parent whose children all go in this
	 * call goes too (it was mailboxHasChild unless named after them).
	 * Passes over what is left until one destroys nothing; then the
	 * rest is tried as it is, and answers mailboxHasChild. */
	size_t nd = set.destroy ? set.destroy->count : 0, left = nd;
	const struct json_value **pend = arena_alloc(c->r->a, (nd + 1) * sizeof *pend);
	nd = 0;
	for (const struct json_value *o = set.destroy ? set.destroy->first : NULL; o; o = o->next)
		pend[nd++] = o;
	for (int last = 0, done = 0; left; last = !done, done = 0) {
		for (size_t i = 0; i < nd; i++) {
			const struct json_value *o = pend[i];
			if (!o)
				continue;
			struct set_err e;
			const char *key = jmap_id_ref(c->r, o->str);
			struct jmap_mailbox *b =
			    key ? jmap_mailbox_by_id(&m, jmap_id_num(key, 'M')) : NULL;
			if (b && !last && has_child(&m, b))
				continue;
			pend[i] = NULL;
			left--;
			done = 1;
			if (!b)
				e = err_of("notFound", NULL, NULL);
			if (!b || destroy_one(c, &m, b, remove, &e) < 0) {
				jw_key(&badw[2], key ? key : o->str);
				w_set_err(&badw[2], &e);
				continue;
			}
			/* Gone from the list too (key is in the request's memory). */
			memmove(b, b + 1, (size_t)(m.v + m.n - (b + 1)) * sizeof *b);
			m.n--;
			jw_str(&okw[2], key);
		}
	}
	arena_free(&m.a);
	if (jmap_state(c, now) < 0) {
		jmap_set_free(&set);
		return;
	}
	jmap_set_end(c, &set, old, now);
}
