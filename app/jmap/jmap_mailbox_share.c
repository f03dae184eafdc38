/*
 * jmap_mailbox_share.c — a mailbox's sharing as JMAP shows and changes
 * it (RFC 9670 §4 on RFC 8621's Mailbox): shareWith, a map of principal
 * id to rights, read from and written to the store's grants
 * (store_acl.c), the ones IMAP's SETACL, `tern acl` and the REST API
 * write.
 *
 * Rights. A rights object has RFC 8621 §2's myRights names and RFC
 * 9670's mayShare, each a boolean, mapped to RFC 4314 letters the way
 * myRights is (jmap_mailbox_w_rights): mayReadItems "lr",
 * mayAddItems "i", mayRemoveItems "te", maySetSeen "s", maySetKeywords
 * "w", mayCreateChild "k", mayRename and mayDelete "x", maySubmit "p",
 * mayShare "a". A name left out of an object is false. mayRename and
 * mayDelete, one letter, are given or taken together: a rights object
 * or a patch that would set one without the other is refused
 * (invalidProperties), since what was stored could not be read back
 * as it was asked.
 *
 * Who sees it. shareWith is there for a user with "a" on the mailbox
 * (its owner always), null for the others (RFC 9670 §4: only who may
 * share sees whom it is shared with). Principal ids are "P" and the
 * account's number (jmap_principal.c). A grant to "anyone" has no
 * principal: it is not shown, and an update of shareWith leaves it as
 * it is.
 *
 * Updates (Mailbox/set): "shareWith" whole (every grant not named is
 * removed), "shareWith/P…" one principal's rights (an object, or null
 * to remove the grant) and "shareWith/P…/mayX" one right of a principal
 * already in shareWith (true adds its letters, false takes them away;
 * for another principal invalidPatch, RFC 8620 §5.3: the path's parent
 * must exist); no two of them where one path is the prefix of the
 * other (RFC 8620 §5.3: invalidPatch). Checked
 * before anything of the update is written, and written after the rest
 * of it: a refused update changes nothing. Without "a" it is forbidden;
 * the owner's own rights cannot be given (RFC 4314 §2: they are
 * implicit), nor an id that is no account's, nor one whose Principal
 * the user does not see (RFC 9670 §4: the keys are Principal ids;
 * jmap_principal.c says whom a user sees) unless it is in shareWith
 * already (an administrator's grant: shown, so kept or removed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "jmap/jmap_mailbox.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

static const struct {
	const char *name;
	uint32_t bits;
} right_names[] = {
    {"mayReadItems", STORE_ACL_L | STORE_ACL_R},
    {"mayAddItems", STORE_ACL_I},
    {"mayRemoveItems", STORE_ACL_T | STORE_ACL_E},
    {"maySetSeen", STORE_ACL_S},
    {"maySetKeywords", STORE_ACL_W},
    {"mayCreateChild", STORE_ACL_K},
    {"mayRename", STORE_ACL_X},
    {"mayDelete", STORE_ACL_X},
    {"maySubmit", STORE_ACL_P},
    {"mayShare", STORE_ACL_A},
};
#define NRIGHTS (sizeof right_names / sizeof right_names[0])

uint32_t jmap_share_right_bits(const char *name)
{
	for (size_t i = 0; i < NRIGHTS; i++)
		if (!strcmp(right_names[i].name, name))
			return right_names[i].bits;
	return 0;
}

void jmap_w_share_rights(struct jw *w, uint32_t rights)
{
	jw_obj_begin(w);
	for (size_t i = 0; i < NRIGHTS; i++)
		jw_kbool(w, right_names[i].name, (rights & right_names[i].bits) == right_names[i].bits);
	jw_obj_end(w);
}

int jmap_share_rights_of(const struct json_value *o, uint32_t *rights_r)
{
	uint32_t r = 0;

	if (!o || o->type != JSON_OBJECT)
		return -1;
	for (const struct json_value *p = o->first; p; p = p->next) {
		uint32_t bits = jmap_share_right_bits(p->key);
		if (!bits || p->type != JSON_BOOL)
			return -1;
		if (p->boolean)
			r |= bits;
	}
	/* Read back, every name must say what the object said: a false
	 * one whose letters a true one gives ("x": mayRename, mayDelete)
	 * cannot be stored. */
	for (size_t i = 0; i < NRIGHTS; i++) {
		const struct json_value *v = json_get(o, right_names[i].name);
		int asked = v && v->boolean, got = (r & right_names[i].bits) == right_names[i].bits;
		if (asked != got)
			return -2;
	}
	*rights_r = r;
	return 0;
}

/* The other name whose letters overlap name's (mayRename and mayDelete,
 * both "x"), or NULL. */
static const char *tied_name(const char *name)
{
	uint32_t bits = jmap_share_right_bits(name);

	for (size_t i = 0; i < NRIGHTS; i++)
		if (strcmp(right_names[i].name, name) && (right_names[i].bits & bits))
			return right_names[i].name;
	return NULL;
}

void jmap_w_principal_id(struct jw *w, uint32_t account)
{
	jmap_w_id(w, 'P', account);
}

/* ---- Mailbox/get ---- */

struct grants_ctx {
	struct jmap_mailboxes *m;
	struct jmap_share_with *v;
	size_t n, cap;
};

static void grants_cb(void *arg, uint32_t owner, uint32_t mailbox, uint32_t grantee,
		      uint32_t rights)
{
	struct grants_ctx *x = arg;

	(void)owner;
	if (grantee == STORE_ACL_ANYONE)
		return; /* no principal stands for "anyone" */
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 16;
		struct jmap_share_with *nv = arena_alloc(x->m->a, cap * sizeof *nv);
		if (x->n)
			memcpy(nv, x->v, x->n * sizeof *nv);
		x->v = nv;
		x->cap = cap;
	}
	x->v[x->n].mailbox = mailbox;
	x->v[x->n].grantee = grantee;
	x->v[x->n].rights = rights;
	x->n++;
}

int jmap_mailbox_share_load(const struct jmap_request *r, struct jmap_mailboxes *m)
{
	struct grants_ctx x = {m, NULL, 0, 0};
	int admin = 0;

	for (size_t i = 0; i < m->n; i++)
		admin |= (m->v[i].rights & STORE_ACL_A) != 0;
	/* One scan of the owner's grants, in (mailbox, grantee) order. */
	if (admin && store_acl_list(r->st, r->account, 0, grants_cb, &x) != STORE_OK)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < m->n; i++) {
		struct jmap_mailbox *b = &m->v[i];
		b->share_loaded = 1;
		b->share = NULL;
		b->nshare = 0;
		/* The list is by mailbox id, and so usually is m: a binary
		 * search keeps any order right. */
		size_t lo = 0, hi = x.n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (x.v[mid].mailbox < b->id)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (k = lo; k < x.n && x.v[k].mailbox == b->id; k++)
			;
		if (k > lo) {
			b->share = &x.v[lo];
			b->nshare = k - lo;
		}
	}
	return 0;
}

void jmap_mailbox_w_share_with(struct jw *w, const struct jmap_mailbox *b)
{
	if (!b->share_loaded || !(b->rights & STORE_ACL_A)) {
		jw_null(w);
		return;
	}
	jw_obj_begin(w);
	for (size_t i = 0; i < b->nshare; i++) {
		char id[16];
		snprintf(id, sizeof id, "P%08x", b->share[i].grantee);
		jw_key(w, id);
		jmap_w_share_rights(w, b->share[i].rights);
	}
	jw_obj_end(w);
}

/* ---- Mailbox/set ---- */

static int fail(struct jmap_set_err *e, const char *type, const char *prop, const char *desc)
{
	memset(e, 0, sizeof *e);
	e->type = type;
	e->prop = prop;
	e->desc = desc;
	return -1;
}

static const char untied[] = "mayRename and mayDelete are one right here (IMAP's \"x\"): "
			     "both true or both false";

/* A rights object into *rights_r: 0, or -1 with the SetError in e. */
static int rights_or_fail(const struct json_value *o, uint32_t *rights_r, struct jmap_set_err *e)
{
	switch (jmap_share_rights_of(o, rights_r)) {
	case 0: return 0;
	case -2: return fail(e, "invalidProperties", "shareWith", untied);
	default:
		return fail(e, "invalidProperties", "shareWith",
			    "rights are an object of known names with boolean values");
	}
}

/* The principals the mailbox is shared with now (its shareWith's keys:
 * every grant but anyone's), read once per update, and those the user
 * sees (Principal/get's), read when a key is neither. */
struct known {
	uint32_t *had;
	size_t nhad, cap;
	uint32_t *seen; /* ascending */
	size_t nseen;
	int seen_loaded;
	struct arena *a;
};

static void had_cb(void *arg, uint32_t owner, uint32_t mailbox, uint32_t grantee, uint32_t rights)
{
	struct known *k = arg;

	(void)owner;
	(void)mailbox;
	if (grantee == STORE_ACL_ANYONE || !rights)
		return;
	if (k->nhad == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 8;
		uint32_t *nv = arena_alloc(k->a, cap * sizeof *nv);
		if (k->nhad)
			memcpy(nv, k->had, k->nhad * sizeof *nv);
		k->had = nv;
		k->cap = cap;
	}
	k->had[k->nhad++] = grantee;
}

static int had_has(const struct known *k, uint32_t grantee)
{
	for (size_t i = 0; i < k->nhad; i++)
		if (k->had[i] == grantee)
			return 1;
	return 0;
}

/* 1 when the user sees g's Principal, 0 when not, -1 on a store error. */
static int seen_has(struct jmap_call *c, struct known *k, uint32_t g)
{
	if (!k->seen_loaded) {
		if (jmap_principals_visible(c->r, &k->seen, &k->nseen) < 0)
			return -1;
		k->seen_loaded = 1;
	}
	return jmap_u32_has(k->seen, k->nseen, g);
}

/* A principal id naming an account of the server other than the owner
 * that is in shareWith already or whose Principal the user sees (RFC
 * 9670 §4: shareWith's keys are Principal ids; one the user cannot
 * see is no principal for it, told as an unknown one is, so that a
 * refusal says nothing of other domains' accounts): its number, or 0
 * (the SetError set in e). */
static uint32_t grantee_of(struct jmap_call *c, const char *id, size_t len, struct known *k,
			   struct jmap_set_err *e)
{
	char buf[16], email[320];
	uint32_t g;
	int seen = 0;

	if (len >= sizeof buf)
		return fail(e, "invalidProperties", "shareWith", "no such principal"), 0;
	memcpy(buf, id, len);
	buf[len] = '\0';
	if ((g = jmap_id_num(buf, 'P')) == 0 ||
	    store_account_email(c->r->st, g, email, sizeof email) != STORE_OK)
		return fail(e, "invalidProperties", "shareWith", "no such principal"), 0;
	if (!had_has(k, g) && (seen = seen_has(c, k, g)) <= 0)
		return seen < 0 ? fail(e, "serverFail", NULL, "the store could not be read"), 0
				: fail(e, "invalidProperties", "shareWith", "no such principal"), 0;
	if (g == c->r->account)
		return fail(e, "invalidProperties", "shareWith",
			    "the owner's rights are implicit and cannot be shared"),
		       0;
	return g;
}

static int change_add(struct jmap_call *c, struct jmap_share_change *sc, uint32_t grantee,
		      int mode, uint32_t rights)
{
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 8;
		struct jmap_share_op *nv = arena_alloc(c->r->a, cap * sizeof *nv);
		if (sc->n)
			memcpy(nv, sc->op, sc->n * sizeof *nv);
		sc->op = nv;
		sc->cap = cap;
	}
	sc->op[sc->n++] = (struct jmap_share_op){grantee, mode, rights};
	return 0;
}

/* Every grant of the mailbox not in the new whole object goes. */
struct old_ctx {
	struct jmap_call *c;
	struct jmap_share_change *sc;
	const struct json_value *keep;
};

static void old_cb(void *arg, uint32_t owner, uint32_t mailbox, uint32_t grantee, uint32_t rights)
{
	struct old_ctx *x = arg;
	char id[16];

	(void)owner;
	(void)mailbox;
	(void)rights;
	if (grantee == STORE_ACL_ANYONE)
		return;
	snprintf(id, sizeof id, "P%08x", grantee);
	if (!json_get(x->keep, id))
		change_add(x->c, x->sc, grantee, STORE_ACL_REPLACE, 0);
}

/* "shareWith": the whole map. */
static int take_whole(struct jmap_call *c, const struct jmap_mailbox *b, const struct json_value *v,
		      struct known *k, struct jmap_share_change *sc, struct jmap_set_err *e)
{
	if (v->type != JSON_OBJECT)
		return fail(e, "invalidProperties", "shareWith", "shareWith is an object");
	for (const struct json_value *p = v->first; p; p = p->next) {
		uint32_t rights, g = grantee_of(c, p->key, strlen(p->key), k, e);
		if (!g || rights_or_fail(p, &rights, e) < 0)
			return -1;
		change_add(c, sc, g, STORE_ACL_REPLACE, rights);
	}
	struct old_ctx x = {c, sc, v};
	if (store_acl_list(c->r->st, c->r->account, b->id, old_cb, &x) != STORE_OK)
		return fail(e, "serverFail", NULL, "the store could not be read");
	return 0;
}

/* "shareWith/P…" (rest: what follows "shareWith/") of patch. */
static int take_path(struct jmap_call *c, const struct json_value *patch, const char *rest,
		     const struct json_value *v, struct known *known,
		     struct jmap_share_change *sc, struct jmap_set_err *e)
{
	const char *slash = strchr(rest, '/');
	size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
	uint32_t rights, g = grantee_of(c, rest, idlen, known, e);

	if (!g)
		return -1;
	if (!slash) {
		if (v->type == JSON_NULL)
			return change_add(c, sc, g, STORE_ACL_REPLACE, 0);
		if (rights_or_fail(v, &rights, e) < 0)
			return -1;
		return change_add(c, sc, g, STORE_ACL_REPLACE, rights);
	}
	/* RFC 8620 §5.3: every part of a path before the last must exist
	 * on the object; one right of a principal not in shareWith patches
	 * nothing (its rights object, "shareWith/P…", adds it). */
	if (!had_has(known, g))
		return fail(e, "invalidPatch", NULL,
			    "the principal is not in shareWith: set its whole rights object");
	uint32_t bits = jmap_share_right_bits(slash + 1);
	if (!bits || v->type != JSON_BOOL)
		return fail(e, "invalidProperties", "shareWith",
			    "a right is one of the known names, true or false");
	/* One name of a tied pair would change the other too: the patch
	 * sets both, to the same value. */
	const char *tied = tied_name(slash + 1);
	if (tied) {
		const char *k = arena_printf(c->r->a, "shareWith/%.*s/%s", (int)idlen, rest, tied);
		const struct json_value *o = json_get(patch, k);
		if (!o || o->type != JSON_BOOL || !o->boolean != !v->boolean)
			return fail(e, "invalidProperties", "shareWith", untied);
	}
	return change_add(c, sc, g, v->boolean ? STORE_ACL_ADD : STORE_ACL_REMOVE, bits);
}

int jmap_mailbox_share_take(struct jmap_call *c, const struct jmap_mailbox *b,
			    const struct json_value *patch, const struct json_value **rest_r,
			    struct jmap_share_change *sc, struct jmap_set_err *e)
{
	struct json_value *rest = NULL, **tail = NULL;
	size_t n = 0;
	int any = 0;

	memset(sc, 0, sizeof *sc);
	*rest_r = patch;
	for (const struct json_value *p = patch->first; p; p = p->next)
		any |= !strcmp(p->key, "shareWith") || !strncmp(p->key, "shareWith/", 10);
	if (!any)
		return 0;
	/* RFC 9670 §4: only a user who may share changes whom with. */
	if (!(jmap_rights(c->r, b->id) & STORE_ACL_A))
		return fail(e, "forbidden", "shareWith", "sharing this mailbox needs \"a\" on it");
	/* The members taken out here never reach the patch's own check:
	 * "shareWith" with "shareWith/P…", or "shareWith/P…" with
	 * "shareWith/P…/mayX", would each be applied in turn. */
	const char *why;
	if (jmap_patch_prefix_check(c->r->a, patch, &why) < 0)
		return fail(e, "invalidPatch", NULL, why);
	struct known k = {.a = c->r->a};
	if (store_acl_list(c->r->st, c->r->account, b->id, had_cb, &k) != STORE_OK)
		return fail(e, "serverFail", NULL, "the store could not be read");
	rest = arena_zalloc(c->r->a, sizeof *rest);
	rest->type = JSON_OBJECT;
	rest->key = patch->key;
	tail = &rest->first;
	for (const struct json_value *p = patch->first; p; p = p->next) {
		int rc = 0;
		if (!strcmp(p->key, "shareWith")) {
			rc = take_whole(c, b, p, &k, sc, e);
		} else if (!strncmp(p->key, "shareWith/", 10)) {
			rc = take_path(c, patch, p->key + 10, p, &k, sc, e);
		} else {
			/* The other members, as they were, for the rest of
			 * the update (a shallow copy: p's own next is kept). */
			struct json_value *cp = arena_alloc(c->r->a, sizeof *cp);
			*cp = *p;
			cp->next = NULL;
			*tail = cp;
			tail = &cp->next;
			n++;
		}
		if (rc < 0)
			return -1;
	}
	rest->count = n;
	*rest_r = rest;
	return 0;
}

int jmap_mailbox_share_apply(struct jmap_call *c, const struct jmap_mailbox *b,
			     const struct jmap_share_change *sc, struct jmap_set_err *e)
{
	for (size_t i = 0; i < sc->n; i++) {
		const struct jmap_share_op *o = &sc->op[i];
		int rc = store_acl_modify_by(c->r->st, c->r->user, c->r->account, b->id, o->grantee,
					     o->mode, o->rights, NULL);
		if (rc == STORE_ENOTFOUND)
			return fail(e, "notFound", NULL, "the mailbox or the principal is gone");
		if (rc != STORE_OK)
			return fail(e, jmap_store_fail_type(rc, 0), NULL, jmap_store_fail_desc(rc));
	}
	return 0;
}
