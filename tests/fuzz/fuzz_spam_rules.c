/*
 * fuzz_spam_rules.c — the spam filter's content rules (header, body and
 * phishing: spam_rules_*.c) over a received message, as
 * spam_analyse_rules runs them with two domains of ours and no store;
 * then the classifier's features of the same view. What fuzz_spam_html
 * and fuzz_spam_token reach ends at the view (spam_msg_new); these rules
 * read the view's fields (addresses, link texts and hosts, attachment
 * names) every message that arrives. Checks: the rules are the same on a
 * second run over the same view, every rule is named and within the
 * list, and with nothing dropped the score is the sum of the rules'
 * weights.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "spam/spam_private.h"

static void rules(const struct spam_msg *m, struct spam_result *res)
{
	static const char *const ours[] = {"example.org", "bank.example"};
	const struct spam_ours o = {ours, 2, NULL};

	spam_result_init(res);
	spam_rules_header(m, &o, res);
	spam_rules_body(m, res);
	spam_rules_phish(m, &o, res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spam_result a, b;
	struct spam_msg *m;
	double sum = 0;

	spam_msg_new((const char *)data, size, &m);
	rules(m, &a);
	rules(m, &b);
	assert(a.nrules <= SPAM_RULES_MAX && a.nrules == b.nrules && a.dropped == b.dropped);
	for (uint32_t i = 0; i < a.nrules; i++) {
		const struct spam_rule *r = &a.rules[i];
		assert(r->name[0] && memchr(r->name, 0, sizeof r->name) &&
		       memchr(r->desc, 0, sizeof r->desc));
		assert(!strcmp(r->name, b.rules[i].name) && r->weight == b.rules[i].weight);
		sum += r->weight;
	}
	assert(a.dropped || sum == a.score);
	struct spam_features *f = spam_features_new(m);
	spam_features_free(&f);
	assert(f == NULL);
	spam_msg_free(&m);
	return 0;
}
