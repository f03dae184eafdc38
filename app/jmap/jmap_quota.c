/*
 * jmap_quota.c — Quota/get, /changes, /query, /queryChanges (RFC 9425).
 *
 * An account with a quota (`tern account add --quota`, the web admin; in
 * octets) has one Quota object: id "Q0", resourceType "octets", scope
 * "account", types ["Email"], used the bytes of its stored messages (what
 * delivery checks against the limit), hardLimit the quota. An account
 * without a limit has none. types holds names of the JMAP Data Types
 * registry (RFC 9425 §4.1; its examples' "Mail" is none), and Email is
 * known to a request only with urn:ietf:params:jmap:mail in its "using":
 * without it the quota has no type the client knows and is not there
 * (§4.1: MUST NOT be returned) for /get, /query and /changes alike.
 *
 * The state is the account's modseq, which
 * moves with every change of its mail and so with used, then "." and the
 * limit: the administrator's change of the limit (the REST API and the web
 * admin on it) is no change of mail and moves no modseq, yet it changes
 * hardLimit, or makes or takes away the object. /changes compares the
 * two states: the quota created, destroyed, or updated whenever either
 * part moved (more than changed is allowed, RFC 8620 §5.2 leaves it to
 * the server), with updatedProperties ["used"] when the limit is the
 * same (only used can have moved) and null otherwise (§4.2);
 * queryChanges answers cannotCalculateChanges.
 */
#include <stdio.h>
#include <string.h>

#include "jmap/jmap_private.h"
#include "store/store.h"

#define QUOTA_ID "Q0"

/* The account's quota: 1 with it (and a client that knows its type,
 * above), 0 none, -1 (serverFail set). */
static int quota_load(struct jmap_call *c, uint64_t *limit_r, uint64_t *used_r)
{
	if (store_account_usage(c->r->st, c->r->account, limit_r, used_r) != STORE_OK) {
		jmap_error(c, "serverFail", NULL);
		return -1;
	}
	return *limit_r > 0 && (c->r->caps & JMAP_USING_MAIL);
}

/* "MODSEQ.LIMIT" (see above). 0, or -1 with serverFail set. */
static int quota_state(struct jmap_call *c, uint64_t limit, char out[48])
{
	uint64_t ms;
	if (store_account_modseq(c->r->st, c->r->account, &ms) != STORE_OK) {
		jmap_error(c, "serverFail", "the store could not be read");
		return -1;
	}
	snprintf(out, 48, "%llu.%llu", (unsigned long long)ms, (unsigned long long)limit);
	return 0;
}

/* A state quota_state wrote: 0, or -1 when s is none. */
static int quota_state_parse(const char *s, uint64_t *ms_r, uint64_t *limit_r)
{
	const char *dot = strchr(s, '.');
	char ms[24];
	if (!dot || (size_t)(dot - s) >= sizeof ms)
		return -1;
	memcpy(ms, s, (size_t)(dot - s));
	ms[dot - s] = '\0';
	return jmap_state_parse(ms, ms_r) < 0 || jmap_state_parse(dot + 1, limit_r) < 0 ? -1 : 0;
}

static const char *const props[] = {"id",    "resourceType", "used",  "hardLimit", "scope",
				    "name",  "types",        "warnLimit", "softLimit",
				    "description"};

static const struct jmap_arg get_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"ids", JA_IDREFS, JA_NULLABLE},
    {"properties", JA_STRINGS, JA_NULLABLE},
};

static int is_quota(void *arg, size_t i, const char *anchor)
{
	(void)arg;
	(void)i;
	return !strcmp(anchor, QUOTA_ID);
}

static int quota_found(void *arg, const char *id)
{
	return *(int *)arg && !strcmp(id, QUOTA_ID);
}

void jmap_quota_get(struct jmap_call *c)
{
	char state[48];
	uint64_t limit, used;
	struct jmap_get g;

	if (jmap_get_begin(c, get_args, 3, props, sizeof props / sizeof props[0], &g) < 0)
		return;
	int has = quota_load(c, &limit, &used);
	if (has < 0 || quota_state(c, limit, state) < 0)
		return;
	jmap_get_list(c, state);
	if (has && jmap_get_has_id(&g, QUOTA_ID)) {
		jw_obj_begin(&c->w);
		jw_kstr(&c->w, "id", QUOTA_ID);
		if (jmap_get_wants(&g, "resourceType"))
			jw_kstr(&c->w, "resourceType", "octets");
		if (jmap_get_wants(&g, "used"))
			jw_kuint(&c->w, "used", used);
		if (jmap_get_wants(&g, "hardLimit"))
			jw_kuint(&c->w, "hardLimit", limit);
		if (jmap_get_wants(&g, "scope"))
			jw_kstr(&c->w, "scope", "account");
		if (jmap_get_wants(&g, "name"))
			jw_kstr(&c->w, "name", "Mail storage");
		if (jmap_get_wants(&g, "types")) {
			jw_key(&c->w, "types");
			jw_arr_begin(&c->w);
			jw_str(&c->w, "Email");
			jw_arr_end(&c->w);
		}
		jw_obj_end(&c->w);
	}
	jmap_get_end(c, &g, quota_found, &has);
}

void jmap_quota_changes(struct jmap_call *c)
{
	static const struct jmap_arg args[] = {
	    {"accountId", JA_ID, JA_REQUIRED},
	    {"sinceState", JA_STRING, JA_REQUIRED},
	    {"maxChanges", JA_UINT, JA_NULLABLE},
	};
	char state[48];
	uint64_t since, now, old_limit, limit, used;

	if (jmap_args_check(c, args, sizeof args / sizeof args[0]) < 0)
		return;
	const struct json_value *mc = jmap_arg(c, "maxChanges");
	if (mc && mc->integer == 0) {
		jmap_bad_arg(c, "maxChanges", "maxChanges must be positive");
		return;
	}
	int has = quota_load(c, &limit, &used);
	if (has < 0 || quota_state(c, limit, state) < 0)
		return;
	quota_state_parse(state, &now, &limit);
	/* No change log is read: the two states say all there is. */
	if (quota_state_parse(jmap_arg(c, "sinceState")->str, &since, &old_limit) < 0 ||
	    since > now) {
		jmap_error(c, "cannotCalculateChanges", NULL);
		return;
	}
	int had = old_limit > 0 && (c->r->caps & JMAP_USING_MAIL);
	jmap_begin(c);
	jw_kstr(&c->w, "oldState", jmap_arg(c, "sinceState")->str);
	jw_kstr(&c->w, "newState", state);
	jw_kbool(&c->w, "hasMoreChanges", 0);
	jw_key(&c->w, "created");
	jw_arr_begin(&c->w);
	if (has && !had)
		jw_str(&c->w, QUOTA_ID);
	jw_arr_end(&c->w);
	jw_key(&c->w, "updated");
	jw_arr_begin(&c->w);
	if (has && had && (since < now || old_limit != limit))
		jw_str(&c->w, QUOTA_ID);
	jw_arr_end(&c->w);
	jw_key(&c->w, "destroyed");
	jw_arr_begin(&c->w);
	if (had && !has)
		jw_str(&c->w, QUOTA_ID);
	jw_arr_end(&c->w);
	/* RFC 9425 §4.2: ["used"] when nothing else of the quota can have
	 * changed (mail moved, the limit did not), else null. */
	jw_key(&c->w, "updatedProperties");
	if (has && had && since < now && old_limit == limit) {
		jw_arr_begin(&c->w);
		jw_str(&c->w, "used");
		jw_arr_end(&c->w);
	} else {
		jw_null(&c->w);
	}
	jw_obj_end(&c->w);
}

static const struct jmap_arg query_args[] = {
    {"accountId", JA_ID, JA_REQUIRED}, {"filter", JA_OBJECT, JA_NULLABLE},
    {"sort", JA_ARRAY, JA_NULLABLE},   {"position", JA_INT, 0},
    {"anchor", JA_ID, JA_NULLABLE},    {"anchorOffset", JA_INT, 0},
    {"limit", JA_UINT, JA_NULLABLE},   {"calculateTotal", JA_BOOL, 0},
};

/* RFC 9425 §4.5's FilterCondition on the one quota (jmap_cond_fn; arg
 * NULL: checked only, else anything). */
static int quota_cond(struct jmap_call *c, const struct json_value *f, void *arg)
{
	for (const struct json_value *p = f->first; p; p = p->next) {
		const char *k = p->key, *val;
		if (!strcmp(k, "name"))
			val = "Mail storage";
		else if (!strcmp(k, "scope"))
			val = "account";
		else if (!strcmp(k, "resourceType"))
			val = "octets";
		else if (!strcmp(k, "type"))
			val = "Email";
		else {
			jmap_error(c, "unsupportedFilter", k);
			return -1;
		}
		if (p->type != JSON_STRING) {
			jmap_bad_arg(c, "filter", "a filter condition of the wrong type");
			return -1;
		}
		/* name is "contains" (§4.5), the others equal. */
		if (arg && (k[0] == 'n' ? !strstr(val, p->str) : strcmp(val, p->str) != 0))
			return 0;
	}
	return 1;
}

void jmap_quota_query(struct jmap_call *c)
{
	char state[48];
	uint64_t limit, used;

	if (jmap_args_check(c, query_args, sizeof query_args / sizeof query_args[0]) < 0)
		return;
	const struct json_value *sort = jmap_arg(c, "sort"), *filter = jmap_arg(c, "filter");
	for (const struct json_value *e = sort ? sort->first : NULL; e; e = e->next) {
		const struct json_value *p = json_get(e, "property");
		if (e->type != JSON_OBJECT || !p || p->type != JSON_STRING) {
			jmap_bad_arg(c, "sort", "a Comparator has a property");
			return;
		}
		if (strcmp(p->str, "name") && strcmp(p->str, "used")) {
			jmap_error(c, "unsupportedSort", p->str);
			return;
		}
		if (jmap_comparator_collation(c, e) < 0)
			return;
	}
	if (jmap_filter_check(c, filter, quota_cond) < 0)
		return;
	int has = quota_load(c, &limit, &used);
	if (has < 0 || quota_state(c, limit, state) < 0)
		return;
	int hit = has;
	if (has && filter) {
		int r = jmap_filter_match(c, filter, quota_cond, &used);
		if (r < 0)
			return;
		hit = r;
	}
	size_t pos, end;
	if (jmap_query_window(c, (size_t)hit, is_quota, NULL, &pos, &end) < 0)
		return;
	jmap_query_begin(c, state, 0, pos);
	if (pos < end)
		jw_str(&c->w, QUOTA_ID);
	jmap_query_end(c, (size_t)hit);
}

void jmap_quota_query_changes(struct jmap_call *c)
{
	jmap_query_changes_refused(c, "query the quotas again");
}
