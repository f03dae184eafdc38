/*
 * spam_pipeline.c — the pipeline's decision over a spam result and its
 * rendering (spam_pipeline.h).
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "spam/spam_pipeline.h"

enum spam_verdict spam_pipeline_decide(struct spam_result *res, const struct spam_thresholds *th,
				       const struct spam_flags *f)
{
	spam_result_decide(res, th);
	if (f->allowed)
		res->verdict = SPAM_HAM;
	else if (f->blocked)
		res->verdict = SPAM_REJECT;
	else if (f->trap)
		res->verdict = SPAM_TAG;
	if (f->postmaster && (res->verdict == SPAM_REJECT || res->verdict == SPAM_DISCARD))
		res->verdict = SPAM_TAG;
	return res->verdict;
}

/* Rules in the order they were added: the header reads as the checks ran. */
int spam_pipeline_fields(const struct spam_result *res, const struct spam_thresholds *th,
			 const struct spam_flags *f, struct buf *out)
{
	int r = 0;
	r |= buf_printf(out, "X-Spam-Status: %s, score=%.2f required=%.2f action=%s%s\r\n",
			res->verdict == SPAM_HAM ? "No" : "Yes", res->score, th->tag,
			spam_verdict_name(res->verdict), f && f->allowed ? " allow-listed" : "");
	r |= buf_printf(out, "X-Spam-Result: score=%.2f;", res->score);
	size_t col = 28;
	for (uint32_t i = 0; i < res->nrules; i++) {
		char item[SPAM_RULE_NAME_MAX + 32];
		int n = snprintf(item, sizeof item, "%s=%.2f%s", res->rules[i].name,
				 res->rules[i].weight, i + 1 < res->nrules || res->dropped ? "," : "");
		if (n < 0)
			continue;
		if (col + (size_t)n + 1 > 78) {
			r |= buf_append_c(out, "\r\n\t");
			col = 8;
		} else {
			r |= buf_append_c(out, " ");
			col++;
		}
		r |= buf_append_c(out, item);
		col += (size_t)n;
	}
	if (res->dropped)
		r |= buf_printf(out, " +%u more", (unsigned)res->dropped);
	r |= buf_append_c(out, "\r\n");
	return r ? -1 : 0;
}

int spam_pipeline_log(const struct spam_result *res, struct buf *out)
{
	int r = buf_printf(out, " spam=%s spam_score=%.2f spam_rules=",
			   spam_verdict_name(res->verdict), res->score);
	for (uint32_t i = 0; i < res->nrules; i++)
		r |= buf_printf(out, "%s%s", i ? "," : "", res->rules[i].name);
	if (res->nrules == 0)
		r |= buf_append_c(out, "-");
	return r ? -1 : 0;
}

int spam_pipeline_spamtest(const struct spam_result *res, const struct spam_thresholds *th,
			   const struct spam_flags *f)
{
	double s = res->score, tag = th->tag > 0 ? th->tag : 5;
	double reject = th->reject_on && th->reject > tag ? th->reject : tag * 3;
	if (f && f->allowed)
		return 1;
	if (s >= reject)
		return 10;
	if (s >= tag)
		return 5 + (int)(5 * (s - tag) / (reject - tag)); /* 5..9 */
	if (s <= 0)
		return 1;
	return 1 + (int)(4 * s / tag); /* 1..4 */
}

const struct spam_rule *spam_pipeline_rule(const struct spam_result *res, const char *name)
{
	for (uint32_t i = 0; i < res->nrules; i++)
		if (strcmp(res->rules[i].name, name) == 0)
			return &res->rules[i];
	return NULL;
}
