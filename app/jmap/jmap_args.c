/*
 * jmap_args.c — method errors, argument checks, ids and state strings
 * shared by every method (see jmap_private.h).
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

#define MAX_SAFE_INT 9007199254740991LL /* 2^53 - 1 (RFC 8620 §1.3) */

void jmap_error(struct jmap_call *c, const char *type, const char *desc)
{
	if (c->err_type)
		return;
	c->err_type = type;
	c->err_desc = desc;
}

void jmap_bad_arg(struct jmap_call *c, const char *arg, const char *desc)
{
	if (c->err_type)
		return;
	jmap_error(c, "invalidArguments", desc);
	if (arg && c->nerr_props < 8)
		c->err_props[c->nerr_props++] = arg;
}

int jmap_id_valid(const char *s, size_t n)
{
	if (n < 1 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

static int is_int(const struct json_value *v, int64_t lo)
{
	return v->type == JSON_NUMBER && v->is_int && v->integer >= lo && v->integer <= MAX_SAFE_INT;
}

static int kind_ok(const struct json_value *v, enum jmap_kind k)
{
	switch (k) {
	case JA_ID: return v->type == JSON_STRING && jmap_id_valid(v->str, v->len);
	case JA_STRING: return v->type == JSON_STRING;
	case JA_BOOL: return v->type == JSON_BOOL;
	case JA_UINT: return is_int(v, 0);
	case JA_INT: return is_int(v, -MAX_SAFE_INT);
	case JA_OBJECT: return v->type == JSON_OBJECT;
	case JA_ARRAY: return v->type == JSON_ARRAY;
	case JA_ANY: return 1;
	case JA_IDS:
	case JA_STRINGS:
		if (v->type != JSON_ARRAY)
			return 0;
		for (const struct json_value *e = v->first; e; e = e->next)
			if (!kind_ok(e, k == JA_IDS ? JA_ID : JA_STRING))
				return 0;
		return 1;
	}
	return 0;
}

int jmap_args_check(struct jmap_call *c, const struct jmap_arg *args, size_t n)
{
	for (const struct json_value *m = c->args->first; m; m = m->next) {
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(m->key, args[i].name) == 0)
				break;
		if (i == n) {
			jmap_bad_arg(c, m->key, "unknown argument");
			return -1;
		}
		if (m->type == JSON_NULL ? !(args[i].flags & JA_NULLABLE) : !kind_ok(m, args[i].kind)) {
			jmap_bad_arg(c, m->key, "argument of the wrong type");
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct json_value *v = json_get(c->args, args[i].name);
		if ((args[i].flags & JA_REQUIRED) && !v) {
			jmap_bad_arg(c, args[i].name, "missing argument");
			return -1;
		}
		if (strcmp(args[i].name, "accountId") == 0 && v && v->type == JSON_STRING &&
		    jmap_id_num(v->str, 'A') != c->r->account) {
			jmap_error(c, "accountNotFound", NULL);
			return -1;
		}
	}
	return 0;
}

const struct json_value *jmap_arg(const struct jmap_call *c, const char *name)
{
	const struct json_value *v = json_get(c->args, name);
	return v && v->type != JSON_NULL ? v : NULL;
}

uint32_t jmap_id_num(const char *s, char prefix)
{
	uint32_t n = 0;

	if (!s || s[0] != prefix || strlen(s) != 9)
		return 0;
	for (int i = 1; i < 9; i++) {
		char ch = s[i];
		unsigned d;
		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else
			return 0;
		n = n << 4 | d;
	}
	return n;
}

void jmap_w_id(struct jw *w, char prefix, uint32_t n)
{
	char t[16];
	snprintf(t, sizeof t, "%c%08x", prefix, n);
	jw_str(w, t);
}

int jmap_state(struct jmap_call *c, char out[24])
{
	uint64_t ms;

	if (store_account_modseq(c->r->st, c->r->account, &ms) != STORE_OK) {
		jmap_error(c, "serverFail", "the store could not be read");
		return -1;
	}
	snprintf(out, 24, "%llu", (unsigned long long)ms);
	return 0;
}

int jmap_state_parse(const char *s, uint64_t *modseq_r)
{
	uint64_t v = 0;

	if (!s || !*s || strlen(s) > 19 || (s[0] == '0' && s[1]))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*modseq_r = v;
	return 0;
}

void jmap_begin(struct jmap_call *c)
{
	jw_obj_begin(&c->w);
	jw_key(&c->w, "accountId");
	jmap_w_id(&c->w, 'A', c->r->account);
}

const char *jmap_created_get(struct jmap_request *r, const char *cid)
{
	for (struct jmap_created *e = r->created; e; e = e->next)
		if (strcmp(e->cid, cid) == 0)
			return e->id;
	return NULL;
}

void jmap_created_put(struct jmap_request *r, const char *cid, const char *id)
{
	struct jmap_created *e = arena_alloc(r->a, sizeof *e), **tail = &r->created;

	e->cid = arena_strdup(r->a, cid);
	e->id = arena_strdup(r->a, id);
	e->next = NULL;
	while (*tail)
		tail = &(*tail)->next;
	*tail = e;
}

void jmap_w_set_error_open(struct jw *w, const char *type, const char *desc, const char *prop)
{
	jw_obj_begin(w);
	jw_kstr(w, "type", type);
	if (desc)
		jw_kstr(w, "description", desc);
	if (prop) {
		jw_key(w, "properties");
		jw_arr_begin(w);
		jw_str(w, prop);
		jw_arr_end(w);
	}
}

void jmap_w_set_error(struct jw *w, const char *key, const char *type, const char *desc,
		      const char *prop)
{
	if (key)
		jw_key(w, key);
	jmap_w_set_error_open(w, type, desc, prop);
	jw_obj_end(w);
}

void jmap_changes_unlogged(struct jmap_call *c, const char *since, const char *state,
			   const char *desc)
{
	if (strcmp(since, state) != 0) {
		jmap_error(c, "cannotCalculateChanges", desc);
		return;
	}
	jmap_begin(c);
	jw_kstr(&c->w, "oldState", since);
	jw_kstr(&c->w, "newState", state);
	jw_kbool(&c->w, "hasMoreChanges", 0);
	static const char *const lists[] = {"created", "updated", "destroyed"};
	for (int i = 0; i < 3; i++) {
		jw_key(&c->w, lists[i]);
		jw_arr_begin(&c->w);
		jw_arr_end(&c->w);
	}
	jw_obj_end(&c->w);
}
