/*
 * jmap_quota.c — Quota/get, /changes, /query, /queryChanges (RFC 9425).
 *
 * An account with a quota (`tern account add --quota`, the web admin; in
 * octets) has one Quota object: id "Q0", resourceType "octets", scope
 * "account", types ["Mail"], used the bytes of its stored messages (what
 * delivery checks against the limit), hardLimit the quota. An account
 * without a limit has none. The state is the account's modseq, which
 * moves with every change of its mail and so with used; /changes reports
 * the quota updated whenever the state moved (more than changed is
 * allowed, RFC 8620 §5.2 leaves it to the server) and queryChanges
 * answers cannotCalculateChanges.
 */
#include <stdio.h>
#include <string.h>

#include "jmap/jmap_private.h"
#include "store/store.h"

#define QUOTA_ID "Q0"

/* The account's quota: 1 with it, 0 none, -1 (serverFail set). */
static int quota_load(struct jmap_call *c, uint64_t *limit_r, uint64_t *used_r)
{
	if (store_account_usage(c->r->st, c->r->account, limit_r, used_r) != STORE_OK) {
		jmap_error(c, "serverFail", NULL);
		return -1;
	}
	return *limit_r > 0;
}

static const char *const props[] = {"id",    "resourceType", "used",  "hardLimit", "scope",
				    "name",  "types",        "warnLimit", "softLimit",
				    "description"};

static const struct jmap_arg get_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"ids", JA_IDS, JA_NULLABLE},
    {"properties", JA_STRINGS, JA_NULLABLE},
};

static int wants(const struct json_value *pv, const char *p)
{
	if (!pv || !strcmp(p, "id"))
		return 1;
	for (const struct json_value *e = pv->first; e; e = e->next)
		if (!strcmp(e->str, p))
			return 1;
	return 0;
}

void jmap_quota_get(struct jmap_call *c)
{
	char state[24];
	uint64_t limit, used;

	if (jmap_args_check(c, get_args, 3) < 0)
		return;
	const struct json_value *ids = jmap_arg(c, "ids"), *pv = jmap_arg(c, "properties");
	for (const struct json_value *e = pv ? pv->first : NULL; e; e = e->next) {
		size_t k;
		for (k = 0; k < sizeof props / sizeof props[0] && strcmp(props[k], e->str); k++)
			;
		if (k == sizeof props / sizeof props[0]) {
			jmap_bad_arg(c, "properties", "unknown property");
			return;
		}
	}
	if (jmap_state(c, state) < 0)
		return;
	int has = quota_load(c, &limit, &used);
	if (has < 0)
		return;
	int want = has;
	if (ids) {
		want = 0;
		for (const struct json_value *e = ids->first; e; e = e->next)
			want |= has && !strcmp(e->str, QUOTA_ID);
	}
	jmap_begin(c);
	jw_kstr(&c->w, "state", state);
	jw_key(&c->w, "list");
	jw_arr_begin(&c->w);
	if (want) {
		jw_obj_begin(&c->w);
		jw_kstr(&c->w, "id", QUOTA_ID);
		if (wants(pv, "resourceType"))
			jw_kstr(&c->w, "resourceType", "octets");
		if (wants(pv, "used"))
			jw_kuint(&c->w, "used", used);
		if (wants(pv, "hardLimit"))
			jw_kuint(&c->w, "hardLimit", limit);
		if (wants(pv, "scope"))
			jw_kstr(&c->w, "scope", "account");
		if (wants(pv, "name"))
			jw_kstr(&c->w, "name", "Mail storage");
		if (wants(pv, "types")) {
			jw_key(&c->w, "types");
			jw_arr_begin(&c->w);
			jw_str(&c->w, "Mail");
			jw_arr_end(&c->w);
		}
		jw_obj_end(&c->w);
	}
	jw_arr_end(&c->w);
	jw_key(&c->w, "notFound");
	jw_arr_begin(&c->w);
	for (const struct json_value *e = ids ? ids->first : NULL; e; e = e->next)
		if (!has || strcmp(e->str, QUOTA_ID))
			jw_str(&c->w, e->str);
	jw_arr_end(&c->w);
	jw_obj_end(&c->w);
}

static const struct jmap_arg changes_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"sinceState", JA_STRING, JA_REQUIRED},
    {"maxChanges", JA_UINT, JA_NULLABLE},
};

void jmap_quota_changes(struct jmap_call *c)
{
	char state[24];
	uint64_t since, now, limit, used;

	if (jmap_args_check(c, changes_args, 3) < 0 || jmap_state(c, state) < 0)
		return;
	const struct json_value *mc = jmap_arg(c, "maxChanges");
	if (mc && mc->integer == 0) {
		jmap_bad_arg(c, "maxChanges", "maxChanges must be positive");
		return;
	}
	jmap_state_parse(state, &now);
	if (jmap_state_parse(jmap_arg(c, "sinceState")->str, &since) < 0 || since > now) {
		jmap_error(c, "cannotCalculateChanges", NULL);
		return;
	}
	int has = quota_load(c, &limit, &used);
	if (has < 0)
		return;
	jmap_begin(c);
	jw_kstr(&c->w, "oldState", jmap_arg(c, "sinceState")->str);
	jw_kstr(&c->w, "newState", state);
	jw_kbool(&c->w, "hasMoreChanges", 0);
	jw_key(&c->w, "created");
	jw_arr_begin(&c->w);
	jw_arr_end(&c->w);
	jw_key(&c->w, "updated");
	jw_arr_begin(&c->w);
	if (has && since < now)
		jw_str(&c->w, QUOTA_ID);
	jw_arr_end(&c->w);
	jw_key(&c->w, "destroyed");
	jw_arr_begin(&c->w);
	jw_arr_end(&c->w);
	jw_obj_end(&c->w);
}

static const struct jmap_arg query_args[] = {
    {"accountId", JA_ID, JA_REQUIRED}, {"filter", JA_OBJECT, JA_NULLABLE},
    {"sort", JA_ARRAY, JA_NULLABLE},   {"position", JA_INT, 0},
    {"anchor", JA_ID, JA_NULLABLE},    {"anchorOffset", JA_INT, 0},
    {"limit", JA_UINT, JA_NULLABLE},   {"calculateTotal", JA_BOOL, 0},
};

/* RFC 9425 §4.5's FilterCondition on the one quota (jmap_cond_fn). */
static int quota_cond(struct jmap_call *c, const struct json_value *f, void *arg)
{
	(void)arg;
	for (const struct json_value *p = f->first; p; p = p->next) {
		const char *k = p->key, *val;
		if (!strcmp(k, "name"))
			val = "Mail storage";
		else if (!strcmp(k, "scope"))
			val = "account";
		else if (!strcmp(k, "resourceType"))
			val = "octets";
		else if (!strcmp(k, "type"))
			val = "Mail";
		else {
			jmap_error(c, "unsupportedFilter", k);
			return -1;
		}
		if (p->type != JSON_STRING) {
			jmap_bad_arg(c, "filter", "a filter condition of the wrong type");
			return -1;
		}
		/* name is "contains" (§4.5), the others equal. */
		if (k[0] == 'n' ? !strstr(val, p->str) : strcmp(val, p->str) != 0)
			return 0;
	}
	return 1;
}

void jmap_quota_query(struct jmap_call *c)
{
	char state[24];
	uint64_t limit, used;

	if (jmap_args_check(c, query_args, sizeof query_args / sizeof query_args[0]) < 0)
		return;
	const struct json_value *sort = jmap_arg(c, "sort"), *filter = jmap_arg(c, "filter"), *v;
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
	}
	if (jmap_state(c, state) < 0)
		return;
	int has = quota_load(c, &limit, &used);
	if (has < 0)
		return;
	int hit = has;
	if (has && filter) {
		int r = jmap_filter_match(c, filter, quota_cond, NULL);
		if (r < 0)
			return;
		hit = r;
	}
	const struct json_value *anchor = jmap_arg(c, "anchor");
	if (anchor && (!hit || strcmp(anchor->str, QUOTA_ID))) {
		jmap_error(c, "anchorNotFound", NULL);
		return;
	}
	int64_t pos = (v = jmap_arg(c, "position")) ? v->integer : 0;
	if (anchor)
		pos = (v = jmap_arg(c, "anchorOffset")) ? v->integer : 0;
	if (pos < 0)
		pos = hit + pos < 0 ? 0 : hit + pos;
	if (pos > hit)
		pos = hit;
	int64_t lim = (v = jmap_arg(c, "limit")) ? v->integer : 1;
	jmap_begin(c);
	jw_kstr(&c->w, "queryState", state);
	jw_kbool(&c->w, "canCalculateChanges", 0);
	jw_kint(&c->w, "position", pos);
	jw_key(&c->w, "ids");
	jw_arr_begin(&c->w);
	if (hit && pos == 0 && lim > 0)
		jw_str(&c->w, QUOTA_ID);
	jw_arr_end(&c->w);
	if ((v = jmap_arg(c, "calculateTotal")) && v->boolean)
		jw_kint(&c->w, "total", hit);
	jw_obj_end(&c->w);
}

static const struct jmap_arg qc_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},    {"filter", JA_OBJECT, JA_NULLABLE},
    {"sort", JA_ARRAY, JA_NULLABLE},      {"sinceQueryState", JA_STRING, JA_REQUIRED},
    {"maxChanges", JA_UINT, JA_NULLABLE}, {"upToId", JA_ID, JA_NULLABLE},
    {"calculateTotal", JA_BOOL, 0},
};

void jmap_quota_query_changes(struct jmap_call *c)
{
	if (jmap_args_check(c, qc_args, sizeof qc_args / sizeof qc_args[0]) < 0)
		return;
	jmap_error(c, "cannotCalculateChanges", "query the quotas again");
}
