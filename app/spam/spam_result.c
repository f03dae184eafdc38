/*
 * spam_result.c — the one score: rules as (name, weight, description)
 * data, the thresholds and the verdict (spam.h).
 *
 * Descriptions of the built-in rules come from spam_rule_desc()
 * (spam_rules_table.c) so a rule's name is its only key: the code that
 * fires it and the table that explains it cannot disagree on weights
 * because the weight is given at the firing site.
 */
#include <string.h>

#include "spam/spam.h"
#include "spam/spam_private.h"

void spam_result_init(struct spam_result *res)
{
	res->score = 0;
	res->verdict = SPAM_HAM;
	res->nrules = 0;
	res->dropped = 0;
}

static void copy_cut(char *dst, size_t dstsz, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= dstsz)
		n = dstsz - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

int spam_result_add_desc(struct spam_result *res, const char *name, double weight,
                         const char *desc)
{
	res->score += weight;
	if (res->nrules >= SPAM_RULES_MAX) {
		res->dropped++;
		return -1;
	}
	struct spam_rule *r = &res->rules[res->nrules++];
	copy_cut(r->name, sizeof r->name, name);
	copy_cut(r->desc, sizeof r->desc, desc);
	r->weight = weight;
	return 0;
}

int spam_result_add(struct spam_result *res, const char *name, double weight)
{
	return spam_result_add_desc(res, name, weight, spam_rule_desc(name));
}

int spam_result_has(const struct spam_result *res, const char *name)
{
	for (uint32_t i = 0; i < res->nrules; i++)
		if (strcmp(res->rules[i].name, name) == 0)
			return 1;
	return 0;
}

void spam_thresholds_default(struct spam_thresholds *th)
{
	th->tag = SPAM_DEFAULT_TAG;
	th->reject = SPAM_DEFAULT_REJECT;
	th->discard = SPAM_DEFAULT_DISCARD;
	th->reject_on = 1;
	th->discard_on = 0;
}

void spam_result_decide(struct spam_result *res, const struct spam_thresholds *th)
{
	struct spam_thresholds def;
	if (!th) {
		spam_thresholds_default(&def);
		th = &def;
	}
	if (th->discard_on && res->score >= th->discard)
		res->verdict = SPAM_DISCARD;
	else if (th->reject_on && res->score >= th->reject)
		res->verdict = SPAM_REJECT;
	else if (res->score >= th->tag)
		res->verdict = SPAM_TAG;
	else
		res->verdict = SPAM_HAM;
}

const char *spam_verdict_name(enum spam_verdict v)
{
	switch (v) {
	case SPAM_TAG:
		return "spam";
	case SPAM_REJECT:
		return "reject";
	case SPAM_DISCARD:
		return "discard";
	default:
		return "ham";
	}
}
