/*
 * jmap_filter.c — RFC 8620 §5.5's filter, once for every /query: a
 * FilterOperator (AND, OR or NOT over a list of filters, nested at most
 * JMAP_FILTER_DEPTH deep) or a FilterCondition, which the object type's
 * cond function judges (jmap_private.h).
 */
#include <string.h>

#include "jmap/jmap_private.h"

static int eval(struct jmap_call *c, const struct json_value *f, jmap_cond_fn *cond, void *arg,
		int depth)
{
	if (f->type != JSON_OBJECT || depth > JMAP_FILTER_DEPTH) {
		jmap_bad_arg(c, "filter", f->type != JSON_OBJECT ? "a filter is an object"
								 : "a filter nested too deeply");
		return -1;
	}
	const struct json_value *op = json_get(f, "operator");
	if (!op)
		return cond(c, f, arg);
	const struct json_value *conds = json_get(f, "conditions");
	if (op->type != JSON_STRING || !conds || conds->type != JSON_ARRAY || f->count != 2) {
		jmap_bad_arg(c, "filter", "a FilterOperator has operator and conditions");
		return -1;
	}
	int and = !strcmp(op->str, "AND"), or = !strcmp(op->str, "OR"), not = !strcmp(op->str, "NOT");
	if (!and && !or && !not) {
		jmap_error(c, "unsupportedFilter", "operator is AND, OR or NOT");
		return -1;
	}
	int any = 0, all = 1;
	for (const struct json_value *e = conds->first; e; e = e->next) {
		int r = eval(c, e, cond, arg, depth + 1);
		if (r < 0)
			return -1;
		any |= r;
		all &= r;
	}
	return and ? all : or ? any : !any;
}

int jmap_filter_check(struct jmap_call *c, const struct json_value *f, jmap_cond_fn *cond)
{
	return f && eval(c, f, cond, NULL, 0) < 0 ? -1 : 0;
}

int jmap_filter_match(struct jmap_call *c, const struct json_value *f, jmap_cond_fn *cond, void *arg)
{
	return eval(c, f, cond, arg, 0);
}
