/*
 * spam_tally.c — adding up the rules, the thresholds, and the rendering
 * of the result as header fields and log pairs (spam_tally.h).
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "spam/spam_tally.h"

void spam_tally_add(struct spam_tally *t, const char *name, double weight)
{
	t->score += weight;
	if (t->n == SPAM_TALLY_RULES) {
		t->dropped++;
		return;
	}
	struct spam_hit *h = &t->hit[t->n++];
	size_t n = strlen(name);
	if (n >= sizeof h->name)
		n = sizeof h->name - 1;
	memcpy(h->name, name, n);
	h->name[n] = '\0';
	h->weight = weight;
}

const struct spam_hit *spam_tally_find(const struct spam_tally *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->hit[i].name, name) == 0)
			return &t->hit[i];
	return NULL;
}

enum spam_action spam_tally_action(const struct spam_tally *t, const struct spam_thresholds *th)
{
	if (t->allowed)
		return SPAM_HAM;
	if (t->blocked)
		return SPAM_REJECT;
	/* A trap's message is accepted (a refusal would tell the sender
	 * the address is a trap) and goes to Junk at least. */
	if (th->discard > 0 && t->score >= th->discard && !t->trap)
		return SPAM_DISCARD;
	if (th->reject > 0 && t->score >= th->reject && !t->trap)
		return SPAM_REJECT;
	if ((th->junk > 0 && t->score >= th->junk) || t->trap)
		return SPAM_JUNK;
	return SPAM_HAM;
}

const char *spam_action_name(enum spam_action a)
{
	static const char *const names[] = {"ham", "junk", "reject", "discard"};
	return (unsigned)a < sizeof names / sizeof names[0] ? names[a] : "ham";
}

/* Hits in the order they were added: the header reads as the checks ran. */
int spam_tally_fields(const struct spam_tally *t, const struct spam_thresholds *th,
		      enum spam_action a, struct buf *out)
{
	int r = 0;
	r |= buf_printf(out, "X-Spam-Status: %s, score=%.2f required=%.2f action=%s%s\r\n",
			a == SPAM_HAM ? "No" : "Yes", t->score, th->junk, spam_action_name(a),
			t->allowed ? " allow-listed" : "");
	size_t col = 0;
	r |= buf_printf(out, "X-Spam-Result: score=%.2f;", t->score);
	col = 28;
	for (size_t i = 0; i < t->n; i++) {
		char item[SPAM_RULE_NAME_MAX + 32];
		int n = snprintf(item, sizeof item, "%s=%.2f%s", t->hit[i].name, t->hit[i].weight,
				 i + 1 < t->n || t->dropped ? "," : "");
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
	if (t->dropped)
		r |= buf_printf(out, " +%zu more", t->dropped);
	r |= buf_append_c(out, "\r\n");
	return r ? -1 : 0;
}

int spam_tally_log(const struct spam_tally *t, enum spam_action a, struct buf *out)
{
	int r = buf_printf(out, " spam=%s spam_score=%.2f spam_rules=", spam_action_name(a), t->score);
	for (size_t i = 0; i < t->n; i++)
		r |= buf_printf(out, "%s%s", i ? "," : "", t->hit[i].name);
	if (t->n == 0)
		r |= buf_append_c(out, "-");
	return r ? -1 : 0;
}
