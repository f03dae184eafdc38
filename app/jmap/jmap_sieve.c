/*
 * jmap_sieve.c — JMAP for Sieve scripts (RFC 9661): SieveScript/get,
 * /changes, /query, /queryChanges, /set and /validate, over the same
 * scripts ManageSieve, the portal and the CLI manage (store_sieve.c).
 *
 * A script is "S<id %08x>": the store's id for it, which stays through a
 * rename (store_sieve_index). Its content is a blob: blobId is "B" and
 * the content id of its text, so the download endpoint serves it
 * (jmap_sieve_bytes, asked by jmap_bytes_get), and /set and /validate
 * take an uploaded blob's id, as the RFC has it (no inline text).
 *
 * Text is checked by the one compiler (sieve_compile) before it is
 * stored, as ManageSieve's PUTSCRIPT does: a script that does not compile
 * is an invalidSieve SetError whose description says where and why.
 * onSuccessActivateScript takes the check every activation takes
 * (script_check.h): a script that would fail at every delivery stays
 * inactive, an invalidSieve SetError in notUpdated (activate).
 *
 * State and /changes: snapshots of the scripts as /get renders them
 * (jmap_typestate.c: id, name, content, isActive), so /changes is exact
 * from any of the last JMAP_TS_KEEP states whoever changed the scripts;
 * /query says canCalculateChanges false (clients fetch the at most
 * STORE_SIEVE_SCRIPTS_MAX scripts again).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/hex.h"
#include "jmap/jmap_blob.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_private.h"
#include "jmap/jmap_typestate.h"
#include "sieve/script_check.h"
#include "sieve/sieve.h"
#include "store/store.h"

struct scripts {
	struct store_sieve_info v[STORE_SIEVE_SCRIPTS_MAX];
	size_t n;
	uint32_t state;
};

static int load(struct jmap_call *c, struct scripts *s)
{
	if (store_sieve_index(c->r->st, c->r->account, s->v, &s->n, &s->state) != STORE_OK) {
		jmap_error(c, "serverFail", NULL);
		return -1;
	}
	return 0;
}

static int script_text(struct jmap_call *c, const struct store_sieve_info *i, struct buf *t,
		       uint8_t id[32]);

/* The scripts' id, name, content and isActive (jmap_typestate.h). */
static struct jmap_ts_obj *ts_objs(struct jmap_call *c, const struct scripts *s)
{
	struct jmap_ts_obj *v = arena_zalloc(c->r->a, (s->n + 1) * sizeof *v);
	struct buf t;
	buf_init(&t, STORE_SIEVE_BYTES_MAX);
	for (size_t i = 0; i < s->n; i++) {
		uint8_t h[32] = {0};
		char rend[STORE_SIEVE_NAME_MAX + 100];
		script_text(c, &s->v[i], &t, h);
		int n = snprintf(rend, sizeof rend, "%s/%d/", s->v[i].name, s->v[i].active);
		hex_encode(rend + n, h, 8);
		n += 16;
		jmap_ts_digest(&v[i], arena_printf(c->r->a, "S%08x", s->v[i].id), rend, (size_t)n);
	}
	buf_free(&t);
	return v;
}

/* The state: snapshots of those, so /changes is exact whoever changed
 * the scripts (ManageSieve, the portal, tern sieve). */
static void state_str(struct jmap_call *c, const struct scripts *s, char out[24])
{
	jmap_ts_state(c->r, "sieve", ts_objs(c, s), s->n, out);
}

static struct store_sieve_info *by_id(struct scripts *s, const char *id)
{
	uint32_t n = jmap_id_num(id, 'S');
	for (size_t i = 0; n && i < s->n; i++)
		if (s->v[i].id == n)
			return &s->v[i];
	return NULL;
}

static uint32_t active_id(const struct scripts *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].active)
			return s->v[i].id;
	return 0;
}

static struct store_sieve_info *by_name(struct scripts *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	return NULL;
}

/* The script's text (from the store) and its blob id. 0 or -1. */
static int script_text(struct jmap_call *c, const struct store_sieve_info *i, struct buf *t,
		       uint8_t id[32])
{
	buf_reset(t);
	if (store_sieve_get(c->r->st, c->r->account, i->name, t, NULL) != STORE_OK)
		return -1;
	store_blob_id(buf_data(t), buf_len(t), id);
	return 0;
}

int jmap_sieve_bytes(struct store *st, uint32_t account, const uint8_t id[32], char **p_r,
		     size_t *len_r)
{
	struct store_sieve_info *v = malloc(STORE_SIEVE_SCRIPTS_MAX * sizeof *v);
	struct buf t;
	uint32_t state;
	size_t n;
	int found = 0;

	if (!v)
		return -1;
	buf_init(&t, STORE_SIEVE_BYTES_MAX);
	if (store_sieve_index(st, account, v, &n, &state) == STORE_OK) {
		for (size_t i = 0; i < n && !found; i++) {
			uint8_t h[32];
			buf_reset(&t);
			if (store_sieve_get(st, account, v[i].name, &t, NULL) != STORE_OK)
				continue;
			store_blob_id(buf_data(&t), buf_len(&t), h);
			found = memcmp(h, id, 32) == 0;
		}
	}
	free(v);
	if (!found) {
		buf_free(&t);
		return -1;
	}
	*len_r = buf_len(&t);
	*p_r = malloc(*len_r + 1);
	if (*p_r) {
		memcpy(*p_r, buf_data(&t), *len_r);
		(*p_r)[*len_r] = '\0';
	}
	buf_free(&t);
	return *p_r ? 0 : -1;
}

/* ---- SieveScript/get ---- */

static const char *const props[] = {"id", "name", "blobId", "isActive"};

static const struct jmap_arg get_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"ids", JA_IDREFS, JA_NULLABLE},
    {"properties", JA_STRINGS, JA_NULLABLE},
};

static void w_script(struct jmap_call *c, const struct store_sieve_info *i, unsigned want,
		     struct buf *t)
{
	struct jw *w = &c->w;
	uint8_t h[32];

	jw_obj_begin(w);
	jw_key(w, "id");
	jmap_w_id(w, 'S', i->id);
	if (want & 2)
		jw_kstr(w, "name", i->name);
	if ((want & 4) && script_text(c, i, t, h) == 0) {
		jw_key(w, "blobId");
		jmap_w_blob(w, h);
	}
	if (want & 8)
		jw_kbool(w, "isActive", i->active);
	jw_obj_end(w);
}

static int script_found(void *arg, const char *id)
{
	return by_id(arg, id) != NULL;
}

void jmap_sieve_get(struct jmap_call *c)
{
	struct scripts *s = arena_zalloc(c->r->a, sizeof *s);
	char st[24];
	struct jmap_get g;

	if (jmap_get_begin(c, get_args, 3, props, 4, &g) < 0)
		return;
	unsigned want = jmap_get_mask(&g, props, 4);
	if (load(c, s) < 0)
		return;
	state_str(c, s, st);
	struct buf t;
	buf_init(&t, STORE_SIEVE_BYTES_MAX);
	jmap_get_list(c, st);
	if (!g.ids) {
		for (size_t i = 0; i < s->n; i++)
			w_script(c, &s->v[i], want, &t);
	} else {
		for (const struct json_value *e = g.ids->first; e; e = e->next) {
			const struct store_sieve_info *i = by_id(s, e->str);
			if (i)
				w_script(c, i, want, &t);
		}
	}
	jmap_get_end(c, &g, script_found, s);
	buf_free(&t);
}

/* ---- SieveScript/changes and /queryChanges ---- */

void jmap_sieve_changes(struct jmap_call *c)
{
	struct scripts *s = arena_zalloc(c->r->a, sizeof *s);

	if (load(c, s) < 0)
		return;
	jmap_ts_changes(c, "sieve", ts_objs(c, s), s->n);
}

void jmap_sieve_query_changes(struct jmap_call *c)
{
	/* SieveScript/query says canCalculateChanges: false. */
	jmap_query_changes_refused(c, NULL);
}

/* ---- SieveScript/query ---- */

/* jmap_cond_fn; i NULL: checked only. */
static int cond(struct jmap_call *c, const struct json_value *f, void *arg)
{
	const struct store_sieve_info *i = arg;
	for (const struct json_value *m = f->first; m; m = m->next) {
		if (!i && ((!strcmp(m->key, "name") && m->type == JSON_STRING) ||
			   (!strcmp(m->key, "isActive") && m->type == JSON_BOOL))) {
			continue;
		} else if (strcmp(m->key, "name") == 0 && m->type == JSON_STRING) {
			/* "contains the given string" (RFC 9661 §2.3), as
			 * the i;unicode-casemap comparator would for ASCII. */
			size_t n = strlen(m->str), h = strlen(i->name);
			int hit = n == 0;
			for (size_t k = 0; !hit && k + n <= h; k++)
				hit = strncasecmp(i->name + k, m->str, n) == 0;
			if (!hit)
				return 0;
		} else if (strcmp(m->key, "isActive") == 0 && m->type == JSON_BOOL) {
			if (!i->active != !m->boolean)
				return 0;
		} else {
			jmap_error(c, "unsupportedFilter", m->key);
			return -1;
		}
	}
	return 1;
}

struct sort_key {
	int by_active, desc;
};

static int cmp_scripts(const struct store_sieve_info *a, const struct store_sieve_info *b,
		       const struct sort_key *k, size_t nk)
{
	for (size_t i = 0; i < nk; i++) {
		int r = k[i].by_active ? (a->active > b->active) - (a->active < b->active)
				       : strcmp(a->name, b->name);
		if (r)
			return k[i].desc ? -r : r;
	}
	return (a->id > b->id) - (a->id < b->id);
}

static const struct jmap_arg query_args[] = {
    {"accountId", JA_ID, JA_REQUIRED}, {"filter", JA_OBJECT, JA_NULLABLE},
    {"sort", JA_ARRAY, JA_NULLABLE},   {"position", JA_INT, 0},
    {"anchor", JA_IDREF, JA_NULLABLE}, {"anchorOffset", JA_INT, 0},
    {"limit", JA_UINT, JA_NULLABLE},   {"calculateTotal", JA_BOOL, 0},
};

void jmap_sieve_query(struct jmap_call *c)
{
	struct scripts *s = arena_zalloc(c->r->a, sizeof *s);
	struct sort_key keys[4];
	size_t nk = 0, hits[STORE_SIEVE_SCRIPTS_MAX], nh = 0;
	char st[24];

	if (jmap_args_check(c, query_args, sizeof query_args / sizeof query_args[0]) < 0)
		return;
	const struct json_value *f = jmap_arg(c, "filter"), *so = jmap_arg(c, "sort"), *v;
	for (const struct json_value *e = so ? so->first : NULL; e; e = e->next) {
		const struct json_value *p = e->type == JSON_OBJECT ? json_get(e, "property") : NULL;
		const struct json_value *asc = e->type == JSON_OBJECT ? json_get(e, "isAscending") : NULL;
		if (!p || p->type != JSON_STRING || (asc && asc->type != JSON_BOOL) || nk == 4) {
			jmap_bad_arg(c, "sort", "a list of Comparators");
			return;
		}
		if (strcmp(p->str, "name") && strcmp(p->str, "isActive")) {
			jmap_error(c, "unsupportedSort", p->str);
			return;
		}
		if (jmap_comparator_collation(c, e) < 0)
			return;
		keys[nk++] = (struct sort_key){strcmp(p->str, "isActive") == 0, asc && !asc->boolean};
	}
	if (jmap_filter_check(c, f, cond) < 0 || load(c, s) < 0)
		return;
	for (size_t i = 0; i < s->n; i++) {
		int m = f ? jmap_filter_match(c, f, cond, &s->v[i]) : 1;
		if (m < 0)
			return;
		if (m)
			hits[nh++] = i;
	}
	/* A handful of scripts: insertion sort. */
	for (size_t i = 1; i < nh; i++)
		for (size_t k = i; k > 0 && cmp_scripts(&s->v[hits[k]], &s->v[hits[k - 1]], keys, nk) < 0;
		     k--) {
			size_t t = hits[k];
			hits[k] = hits[k - 1];
			hits[k - 1] = t;
		}
	int64_t pos = (v = jmap_arg(c, "position")) ? v->integer : 0;
	const struct json_value *anchor = jmap_arg(c, "anchor");
	if (anchor) {
		size_t i;
		for (i = 0; i < nh && s->v[hits[i]].id != jmap_ref_num(c->r, anchor->str, 'S'); i++)
			;
		if (i == nh) {
			jmap_error(c, "anchorNotFound", NULL);
			return;
		}
		pos = (int64_t)i + ((v = jmap_arg(c, "anchorOffset")) ? v->integer : 0);
		if (pos < 0)
			pos = 0;
	} else if (pos < 0) {
		pos = (int64_t)nh + pos < 0 ? 0 : (int64_t)nh + pos;
	}
	if (pos > (int64_t)nh)
		pos = (int64_t)nh;
	int64_t limit = (v = jmap_arg(c, "limit")) ? v->integer : (int64_t)nh;
	state_str(c, s, st);
	jmap_begin(c);
	jw_kstr(&c->w, "queryState", st);
	jw_kbool(&c->w, "canCalculateChanges", 0);
	jw_kint(&c->w, "position", pos);
	jw_key(&c->w, "ids");
	jw_arr_begin(&c->w);
	for (int64_t i = pos; i < (int64_t)nh && i < pos + limit; i++)
		jmap_w_id(&c->w, 'S', s->v[hits[i]].id);
	jw_arr_end(&c->w);
	if ((v = jmap_arg(c, "calculateTotal")) && v->boolean)
		jw_kint(&c->w, "total", (int64_t)nh);
	if (jmap_arg(c, "limit") && limit < (int64_t)nh - pos)
		jw_kint(&c->w, "limit", limit);
	jw_obj_end(&c->w);
}

/* ---- SieveScript/validate ---- */

struct set_err {
	const char *type;
	char desc[SIEVE_ERRORS_TEXT_MAX];
	const char *prop;
	uint32_t existing; /* alreadyExists: the script with that name */
	struct jmap_bad bad; /* invalidProperties: every bad property, when n */
};

static void w_set_err(struct jw *w, const struct set_err *e)
{
	if (e->bad.n)
		jmap_w_set_error_open_n(w, e->type, e->desc[0] ? e->desc : NULL, e->bad.v, e->bad.n);
	else
		jmap_w_set_error_open(w, e->type, e->desc[0] ? e->desc : NULL, e->prop);
	if (e->existing) {
		jw_key(w, "existingId");
		jmap_w_id(w, 'S', e->existing);
	}
	jw_obj_end(w);
}

static int fail(struct set_err *e, const char *type, const char *prop, const char *desc)
{
	e->type = type;
	e->prop = prop;
	snprintf(e->desc, sizeof e->desc, "%s", desc ? desc : "");
	return -1;
}

/* The text of blob id (an upload, or any blob the account may read),
 * compiled: 0 with *b filled (free with jmap_bytes_free), else -1 with e. */
static int blob_script(struct jmap_call *c, const char *blob, struct jmap_bytes *b,
		       struct set_err *e)
{
	uint8_t id[32];
	int temp = 0;
	memset(e, 0, sizeof *e);
	if (jmap_blob_parse(blob, id) < 0 || jmap_bytes_get(c->r->st, c->r->account, id, b, &temp) < 0)
		return fail(e, temp ? "serverFail" : "blobNotFound", "blobId", NULL);
	if (b->len > STORE_SIEVE_BYTES_MAX) {
		jmap_bytes_free(b);
		return fail(e, "tooLarge", "blobId", "the script is larger than maxSizeScript");
	}
	struct sieve_errors errs;
	struct sieve_script *sc = sieve_compile_errors(b->p, b->len, &errs);
	if (!sc) {
		/* every error, one a line (RFC 9661 §2.2's description is
		 * free text for the user) */
		jmap_bytes_free(b);
		e->type = "invalidSieve";
		sieve_errors_format(&errs, "\n", e->desc, sizeof e->desc);
		return -1;
	}
	sieve_script_free(&sc);
	return 0;
}

void jmap_sieve_validate(struct jmap_call *c)
{
	static const struct jmap_arg args[] = {
	    {"accountId", JA_ID, JA_REQUIRED},
	    {"blobId", JA_ID, JA_REQUIRED},
	};
	struct jmap_bytes b;
	struct set_err e;

	if (jmap_args_check(c, args, 2) < 0)
		return;
	int ok = blob_script(c, jmap_arg(c, "blobId")->str, &b, &e) == 0;
	if (ok)
		jmap_bytes_free(&b);
	else if (strcmp(e.type, "serverFail") == 0) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	jmap_begin(c);
	jw_key(&c->w, "error");
	if (ok)
		jw_null(&c->w);
	else
		w_set_err(&c->w, &e);
	jw_obj_end(&c->w);
}

/* ---- SieveScript/set ---- */

static struct set_err store_fail(int rc)
{
	struct set_err e = {0};
	switch (rc) {
	case STORE_EEXIST: fail(&e, "alreadyExists", "name", NULL); break;
	case STORE_EINVAL: fail(&e, "invalidProperties", "name", "not a valid script name"); break;
	case STORE_ETOOBIG: fail(&e, "tooLarge", "blobId", "larger than maxSizeScript"); break;
	case STORE_ELIMIT: fail(&e, "overQuota", NULL, "maxNumberScripts or the bytes allowed"); break;
	case STORE_EACTIVE: fail(&e, "sieveIsActive", NULL, "deactivate the script first"); break;
	case STORE_ENOTFOUND: fail(&e, "notFound", NULL, NULL); break;
	/* A full disk, for what writes a script (a destroy says it otherwise). */
	case STORE_EFULL: fail(&e, "overQuota", NULL, jmap_store_fail_desc(rc)); break;
	default: fail(&e, "serverFail", NULL, NULL); break;
	}
	return e;
}

/* Checks an object's members: only name (String|null) and blobId (Id);
 * on create blobId is required. 0 or -1 with e. */
/* 1 when v is the id of script id. */
static int id_is(const struct json_value *v, uint32_t id)
{
	char want[16];
	snprintf(want, sizeof want, "S%08x", id);
	return v->type == JSON_STRING && v->len == strlen(want) && !strcmp(v->str, want);
}

/* cur: the script an update changes (NULL for a create). */
static int object_ok(struct arena *a, const struct json_value *o,
		     const struct store_sieve_info *cur, const char **name_r, int *has_name_r,
		     const char **blob_r, struct set_err *e)
{
	int create = cur == NULL;
	struct jmap_bad bad = {.a = a};

	*name_r = NULL;
	*blob_r = NULL;
	*has_name_r = 0;
	memset(e, 0, sizeof *e);
	if (o->type != JSON_OBJECT)
		return fail(e, "invalidProperties", NULL, "not an object");
	/* Every bad property is named, not only the first (RFC 8620 §5.3). */
	for (const struct json_value *m = o->first; m; m = m->next) {
		if (strcmp(m->key, "name") == 0) {
			if (m->type != JSON_STRING && m->type != JSON_NULL) {
				jmap_bad_member(&bad, "name", "name is a String or null");
				continue;
			}
			*has_name_r = 1;
			*name_r = m->type == JSON_STRING ? m->str : NULL;
			/* Taken in NFC, as the store keeps it (RFC 5804 §1.6):
			 * a decomposed name may not fit a name buffer before. */
			char nfc[STORE_SIEVE_NAME_MAX + 1];
			if (*name_r && (strlen(*name_r) != m->len || store_sieve_name_nfc(*name_r, nfc) < 0))
				jmap_bad_member(&bad, "name", "not a valid script name");
			else if (*name_r)
				*name_r = arena_strdup(a, nfc);
		} else if (strcmp(m->key, "blobId") == 0) {
			if (m->type != JSON_STRING || !jmap_id_valid(m->str, m->len))
				jmap_bad_member(&bad, "blobId", "blobId is an Id");
			else
				*blob_r = m->str;
		} else if (cur && !strcmp(m->key, "id") && id_is(m, cur->id)) {
			; /* the server's, sent as it is (RFC 8620 §5.3) */
		} else if (cur && !strcmp(m->key, "isActive") && m->type == JSON_BOOL &&
			   !m->boolean == !cur->active) {
			;
		} else {
			/* id and isActive are the server's; nothing else exists. */
			jmap_bad_member(&bad, m->key,
					strcmp(m->key, "id") && strcmp(m->key, "isActive")
					    ? "unknown property"
					    : "set by the server");
		}
	}
	if (create && !*blob_r)
		jmap_bad_add(&bad, "blobId", "blobId is required");
	if (!create && *has_name_r && !*name_r)
		jmap_bad_add(&bad, "name", "a script keeps a name");
	if (bad.n) {
		fail(e, "invalidProperties", NULL, bad.desc);
		e->bad = bad;
		return -1;
	}
	return 0;
}

/* One result of /set kept until the end (activation may change it). */
struct outcome {
	const char *key; /* creation id, or the id (NULL: added for isActive) */
	uint32_t id;
	int ok, name_made;
	int active; /* updated: -1 unchanged (null), else the new isActive */
	char name[STORE_SIEVE_NAME_MAX + 1];
	struct set_err e;
};

static int create_one(struct jmap_call *c, struct scripts *s, const struct json_value *o,
		      struct outcome *out)
{
	const char *name, *blob;
	int has_name;
	struct jmap_bytes b;

	if (object_ok(c->r->a, o, NULL, &name, &has_name, &blob, &out->e) < 0 ||
	    blob_script(c, blob, &b, &out->e) < 0)
		return -1;
	if (name && by_name(s, name)) {
		jmap_bytes_free(&b);
		fail(&out->e, "alreadyExists", "name", NULL);
		out->e.existing = by_name(s, name)->id;
		return -1;
	}
	if (!name) {
		/* The server names it (RFC 9661 §2.2): the first free "scriptN". */
		for (unsigned n = 1; n <= STORE_SIEVE_SCRIPTS_MAX + 1; n++) {
			snprintf(out->name, sizeof out->name, "script%u", n);
			if (!by_name(s, out->name))
				break;
		}
		out->name_made = 1;
	} else {
		snprintf(out->name, sizeof out->name, "%s", name);
	}
	int rc = store_sieve_put(c->r->st, c->r->account, out->name, b.p, b.len, (int64_t)time(NULL));
	jmap_bytes_free(&b);
	if (rc != STORE_OK) {
		out->e = store_fail(rc);
		return -1;
	}
	return 0;
}

static int update_one(struct jmap_call *c, struct scripts *s, struct store_sieve_info *i,
		      const struct json_value *o, struct outcome *out)
{
	const char *name, *blob;
	int has_name, rc;
	struct jmap_bytes b;
	const char *why = "a PatchObject is an object";

	/* No property is an object: every path is malformed. */
	if (o->type != JSON_OBJECT || jmap_patch_check(c->r->a, NULL, o, &why) < 0)
		return fail(&out->e, "invalidPatch", NULL, why);
	if (object_ok(c->r->a, o, i, &name, &has_name, &blob, &out->e) < 0)
		return -1;
	if (name && strcmp(name, i->name) != 0 && by_name(s, name)) {
		fail(&out->e, "alreadyExists", "name", NULL);
		out->e.existing = by_name(s, name)->id;
		return -1;
	}
	if (blob) {
		if (blob_script(c, blob, &b, &out->e) < 0)
			return -1;
		rc = store_sieve_put(c->r->st, c->r->account, i->name, b.p, b.len, (int64_t)time(NULL));
		jmap_bytes_free(&b);
		if (rc != STORE_OK) {
			out->e = store_fail(rc);
			return -1;
		}
	}
	if (name && strcmp(name, i->name) != 0 &&
	    (rc = store_sieve_rename(c->r->st, c->r->account, i->name, name)) != STORE_OK) {
		out->e = store_fail(rc);
		return -1;
	}
	return 0;
}

static size_t ncreate_of(const struct json_value *cr)
{
	return cr ? cr->count : 0;
}

/*
 * onSuccessActivateScript (i; NULL: deactivate only) through the one
 * check every activation takes (script_check.h, ManageSieve's SETACTIVE
 * too): a script not active yet that would fail at every delivery is
 * refused with RFC 9661's invalidSieve SetError, reported in notUpdated
 * under its id (the isActive it would have set), with where and why;
 * onSuccessDeactivateScript (deact) still applies. An update of it in
 * the same call, stored, carries the refusal instead of its success.
 * 0, or -1 with a serverFail written.
 */
static int activate(struct jmap_call *c, const struct store_sieve_info *i, int deact,
		    struct outcome *res, size_t *nres, size_t ncreate, size_t nupdate)
{
	struct script_check *chk = arena_alloc(c->r->a, sizeof *chk);
	script_check_init(chk, c->r->st, c->r->account, i ? i->name : NULL);
	int rc = script_check_activate(chk);
	if (rc == STORE_OK && chk->invalid) {
		size_t j = ncreate;
		while (j < ncreate + nupdate && !(res[j].ok && res[j].id == i->id))
			j++;
		struct outcome *r = j < ncreate + nupdate ? &res[j] : &res[(*nres)++];
		r->ok = 0;
		r->id = i->id;
		r->key = arena_printf(c->r->a, "S%08x", i->id);
		fail(&r->e, "invalidSieve", NULL, NULL);
		snprintf(r->e.desc, sizeof r->e.desc,
			 "%snot made active: the script would fail at every delivery: %.1200s",
			 j < ncreate + nupdate ? "stored but " : "", chk->err);
		if (deact)
			rc = store_sieve_activate(c->r->st, c->r->account, NULL);
	}
	if (rc != STORE_OK) {
		jmap_error(c, "serverFail", NULL);
		return -1;
	}
	return 0;
}

static const struct jmap_arg set_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"ifInState", JA_STRING, JA_NULLABLE},
    {"create", JA_IDMAP, JA_NULLABLE},
    {"update", JA_IDREFMAP, JA_NULLABLE},
    {"destroy", JA_IDREFS, JA_NULLABLE},
    {"onSuccessActivateScript", JA_STRING, JA_NULLABLE}, /* an Id or "#creation id" */
    {"onSuccessDeactivateScript", JA_BOOL, 0},
};

void jmap_sieve_set(struct jmap_call *c)
{
	struct scripts *s = arena_zalloc(c->r->a, sizeof *s);
	char old[24], now[24];
	struct jw *w = &c->w;

	struct jmap_set set;
	if (jmap_set_begin(c, set_args, sizeof set_args / sizeof set_args[0], &set) < 0 ||
	    load(c, s) < 0)
		return;
	/* The answer is written from the outcomes at the end (an activation
	 * on success changes what the updates say): no skeleton writers. */
	const struct json_value *cr = set.create, *up = set.update, *de = set.destroy,
				*act = jmap_arg(c, "onSuccessActivateScript"),
				*deact = jmap_arg(c, "onSuccessDeactivateScript");
	state_str(c, s, old);
	if (jmap_set_if_in_state(c, old) < 0)
		return;
	size_t total = (cr ? cr->count : 0) + (up ? up->count : 0) + (de ? de->count : 0);
	struct outcome *res = arena_zalloc(c->r->a, (total + 2) * sizeof *res);
	size_t nres = 0, failed = 0;
	uint32_t was_active = active_id(s);

	/* Creations, then updates, then destructions (RFC 8620 §5.3). */
	for (const struct json_value *o = cr ? cr->first : NULL; o; o = o->next) {
		struct outcome *r = &res[nres++];
		r->key = o->key;
		r->ok = create_one(c, s, o, r) == 0;
		failed += !r->ok;
		if (load(c, s) < 0)
			return;
		if (r->ok) {
			struct store_sieve_info *i = by_name(s, r->name);
			char ids[16];
			r->id = i ? i->id : 0;
			snprintf(ids, sizeof ids, "S%08x", r->id);
			jmap_created_put(c->r, o->key, arena_strdup(c->r->a, ids));
		}
	}
	for (const struct json_value *o = up ? up->first : NULL; o; o = o->next) {
		struct outcome *r = &res[nres++];
		const char *id = jmap_id_ref(c->r, o->key);
		struct store_sieve_info *i = id ? by_id(s, id) : NULL;
		r->key = id ? id : o->key;
		r->active = -1;
		if (!i)
			fail(&r->e, "notFound", NULL, NULL);
		r->ok = i && update_one(c, s, i, o, r) == 0;
		r->id = i ? i->id : 0;
		failed += !r->ok;
		if (load(c, s) < 0)
			return;
	}
	for (const struct json_value *o = de ? de->first : NULL; o; o = o->next) {
		struct outcome *r = &res[nres++];
		const char *id = jmap_id_ref(c->r, o->str);
		struct store_sieve_info *i = id ? by_id(s, id) : NULL;
		/* The active script cannot go (sieveIsActive), even with
		 * onSuccessDeactivateScript: that applies after the destroys. */
		int rc = i ? store_sieve_del(c->r->st, c->r->account, i->name) : STORE_ENOTFOUND;
		r->key = id ? id : o->str;
		r->ok = rc == STORE_OK;
		if (!r->ok)
			r->e = store_fail(rc);
		if (rc == STORE_EFULL)
			r->e.type = jmap_store_fail_type(rc, 0);
		failed += !r->ok;
		if (load(c, s) < 0)
			return;
	}

	/* Activation, only when every operation succeeded; an activation id
	 * that names nothing is ignored (RFC 9661 §2.2). */
	if (!failed && (act || (deact && deact->boolean))) {
		struct store_sieve_info *i = NULL;
		if (act) {
			const char *aid = jmap_id_ref(c->r, act->str);
			i = aid ? by_id(s, aid) : NULL;
		}
		if (i || !act) {
			if (activate(c, i, deact && deact->boolean, res, &nres, ncreate_of(cr),
				     up ? up->count : 0) < 0 || load(c, s) < 0)
				return;
		}
	}
	state_str(c, s, now);

	/* A script whose isActive changed is reported: in "created" with its
	 * value, else in "updated", added there when it was not updated. */
	uint32_t is_active = active_id(s);
	size_t ncreate = cr ? cr->count : 0, nupdate = up ? up->count : 0;
	uint32_t changed[2] = {was_active != is_active ? was_active : 0,
			       was_active != is_active ? is_active : 0};
	for (int k = 0; k < 2; k++) {
		if (!changed[k])
			continue;
		size_t j;
		for (j = 0; j < ncreate + nupdate && !(res[j].ok && res[j].id == changed[k]); j++)
			;
		if (j < ncreate)
			continue; /* created: its isActive is written there */
		if (j == ncreate + nupdate) {
			j = nres++;
			res[j].ok = 1;
			res[j].id = changed[k];
			res[j].key = NULL;
		}
		res[j].active = k == 1;
	}

	/* How many each member lists: one with none is null (RFC 8620
	 * §5.3), as jmap_set_end writes the other types' answers. */
	size_t nde = de ? de->count : 0, n_ok[3] = {0, 0, 0}, n_bad[3] = {0, 0, 0};
	for (size_t j = 0; j < nres; j++) {
		int k = j < ncreate ? 0 : j >= ncreate + nupdate && j < ncreate + nupdate + nde ? 2 : 1;
		if (res[j].ok)
			n_ok[k]++;
		else
			n_bad[k]++;
	}

	jmap_begin(c);
	jw_kstr(w, "oldState", old);
	jw_kstr(w, "newState", now);
	jw_key(w, "created");
	if (!n_ok[0])
		jw_null(w);
	else
		jw_obj_begin(w);
	for (size_t j = 0; n_ok[0] && j < ncreate; j++) {
		const struct outcome *r = &res[j];
		if (!r->ok)
			continue;
		jw_key(w, r->key);
		jw_obj_begin(w);
		jw_key(w, "id");
		jmap_w_id(w, 'S', r->id);
		if (r->name_made)
			jw_kstr(w, "name", r->name);
		jw_kbool(w, "isActive", r->id && r->id == is_active);
		jw_obj_end(w);
	}
	if (n_ok[0])
		jw_obj_end(w);
	jw_key(w, "updated");
	if (!n_ok[1])
		jw_null(w);
	else
		jw_obj_begin(w);
	for (size_t j = ncreate; n_ok[1] && j < nres; j++) {
		const struct outcome *r = &res[j];
		if (!r->ok || (j >= ncreate + nupdate && j < ncreate + nupdate + (de ? de->count : 0)))
			continue;
		char ids[16];
		snprintf(ids, sizeof ids, "S%08x", r->id);
		jw_key(w, ids);
		if (r->active < 0) {
			jw_null(w);
			continue;
		}
		jw_obj_begin(w);
		jw_kbool(w, "isActive", r->active);
		jw_obj_end(w);
	}
	if (n_ok[1])
		jw_obj_end(w);
	jw_key(w, "destroyed");
	if (!n_ok[2])
		jw_null(w);
	else
		jw_arr_begin(w);
	for (size_t j = ncreate + nupdate; n_ok[2] && j < ncreate + nupdate + nde; j++)
		if (res[j].ok)
			jw_str(w, res[j].key);
	if (n_ok[2])
		jw_arr_end(w);
	static const char *const bad_names[] = {"notCreated", "notUpdated", "notDestroyed"};
	size_t first[4] = {0, ncreate, ncreate + nupdate, ncreate + nupdate + nde};
	for (int k = 0; k < 3; k++) {
		jw_key(w, bad_names[k]);
		if (!n_bad[k]) {
			jw_null(w);
			continue;
		}
		jw_obj_begin(w);
		/* an activation refused (activate) is after the destroys */
		for (size_t j = first[k]; j < (k == 1 ? nres : first[k + 1]); j++) {
			if (res[j].ok || (k == 1 && j >= first[2] && j < first[3]))
				continue;
			jw_key(w, res[j].key);
			w_set_err(w, &res[j].e);
		}
		jw_obj_end(w);
	}
	jw_obj_end(w);
}
