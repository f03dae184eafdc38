/*
 * test_spam_rep.c — sender reputation (spam/spam_rep.h): the network and
 * domain keys (loopback and private addresses have none), the counts
 * with their decay, the rule's weight and sign, and the table's bound (a
 * flood of new keys never grows it, and a key with many verdicts
 * outlives once-seen ones); a user's correction and the keys read back
 * from a stored message; the table saved to the store and loaded again
 * (a restart), bounded to SPAM_REP_KEEP keys, the strongest kept.
 */
#include <stdio.h>
#include <string.h>

#include "spam/spam_rep.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

static void keys(void)
{
	char k[SPAM_REP_KEY_MAX];
	CHECK_EQ_INT(spam_rep_ip_key("93.184.215.77", k, sizeof k), 0);
	CHECK_EQ_STR(k, "ip:93.184.215.0/24");
	CHECK_EQ_INT(spam_rep_ip_key("2a00:1450:1:2:3:4:5:6", k, sizeof k), 0);
	CHECK_EQ_STR(k, "ip:2a00:1450:1:2::/64");
	CHECK_EQ_INT(spam_rep_ip_key("::ffff:8.8.4.9", k, sizeof k), 0);
	CHECK_EQ_STR(k, "ip:8.8.4.0/24");
	/* No network that is not globally reachable (the DNS blocklists'
	 * rule, cidr_ip_global): CGNAT, documentation, 6to4 of a private
	 * address too. */
	const char *none[] = {"127.0.0.1",   "10.1.2.3",       "172.16.0.1",   "172.31.9.9",
			      "192.168.1.1", "169.254.0.1",    "100.64.0.1",   "192.0.2.77",
			      "::1",         "fd00::1",        "fe80::1",      "2001:db8::1",
			      "::ffff:100.100.1.1", "2002:c0a8:101::1", "not an address", ""};
	for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
		CHECK_EQ_INT(spam_rep_ip_key(none[i], k, sizeof k), -1);
		CHECK_EQ_STR(k, "");
	}
	CHECK_EQ_INT(spam_rep_ip_key("172.32.0.1", k, sizeof k), 0);
	CHECK_EQ_INT(spam_rep_domain_key("Mail.Example.ORG", k, sizeof k), 0);
	CHECK_EQ_STR(k, "dom:mail.example.org");
	CHECK_EQ_INT(spam_rep_domain_key("", k, sizeof k), -1);
	CHECK_EQ_INT(spam_rep_domain_key(NULL, k, sizeof k), -1);
}

static void weights(void)
{
	CHECK(spam_rep_weight(0, 3) == 0);           /* too few */
	CHECK(spam_rep_weight(2, 2) == 0);           /* even */
	CHECK(spam_rep_weight(0, 8) > 1.4);          /* 3 * 8/16 */
	CHECK(spam_rep_weight(0, 1000) <= SPAM_REP_SPAM_MAX);
	CHECK(spam_rep_weight(0, 1000) > 2.9);
	CHECK(spam_rep_weight(1000, 0) >= -SPAM_REP_HAM_MAX);
	CHECK(spam_rep_weight(1000, 0) < -1.4);
	CHECK(spam_rep_weight(8, 0) > -spam_rep_weight(0, 8)); /* good helps less than bad hurts */
}

static void counts(void)
{
	int64_t t0 = 1800000000;
	double ham, spam;
	struct spam_result res;
	spam_rep_reset();
	CHECK_EQ_INT(spam_rep_get("ip:192.0.2.0/24", t0, &ham, &spam), -1);
	for (int i = 0; i < 6; i++)
		spam_rep_note("ip:192.0.2.0/24", 1, t0);
	spam_rep_note("ip:192.0.2.0/24", 0, t0);
	spam_rep_note("", 1, t0); /* no key: nothing */
	CHECK_EQ_INT(spam_rep_get("ip:192.0.2.0/24", t0, &ham, &spam), 0);
	CHECK(spam == 6 && ham == 1);
	spam_result_init(&res);
	double w = spam_rep_rule("ip:192.0.2.0/24", "IP_REPUTATION", t0, &res);
	CHECK(w > 0.9 && res.nrules == 1 && res.score == w); /* 5/7 x 7/15 x 3 */
	CHECK_EQ_STR(res.rules[0].name, "IP_REPUTATION");
	CHECK_EQ_STR(res.rules[0].desc, "192.0.2.0/24: 6.0 spam, 1.0 ham verdicts (decayed)");
	/* A half-life later: half of each; two: a quarter, under the minimum. */
	CHECK_EQ_INT(spam_rep_get("ip:192.0.2.0/24", t0 + SPAM_REP_HALF_LIFE, &ham, &spam), 0);
	CHECK(spam > 2.99 && spam < 3.01 && ham > 0.49 && ham < 0.51);
	spam_result_init(&res);
	CHECK(spam_rep_rule("ip:192.0.2.0/24", "IP_REPUTATION", t0 + 2 * SPAM_REP_HALF_LIFE, &res) == 0);
	CHECK_EQ_INT((int)res.nrules, 0);
	/* A good domain: a negative weight. */
	for (int i = 0; i < 10; i++)
		spam_rep_note("dom:good.example", 0, t0);
	spam_result_init(&res);
	CHECK(spam_rep_rule("dom:good.example", "DOMAIN_REPUTATION", t0, &res) < 0);
}

static void bound(void)
{
	int64_t t0 = 1800000000;
	char k[64];
	double ham, spam;
	spam_rep_reset();
	for (int i = 0; i < 50; i++)
		spam_rep_note("dom:steady.example", 1, t0);
	/* Four times the table's size of once-seen keys. */
	for (int i = 0; i < 4 * SPAM_REP_SLOTS; i++) {
		snprintf(k, sizeof k, "dom:d%d.example", i);
		spam_rep_note(k, 1, t0 + 1);
	}
	CHECK_EQ_INT(spam_rep_get("dom:steady.example", t0 + 1, &ham, &spam), 0);
	CHECK(spam > 49);
	size_t found = 0;
	for (int i = 0; i < 4 * SPAM_REP_SLOTS; i++) {
		snprintf(k, sizeof k, "dom:d%d.example", i);
		found += spam_rep_get(k, t0 + 1, &ham, &spam) == 0;
	}
	CHECK(found <= SPAM_REP_SLOTS && found > SPAM_REP_SLOTS / 2);
}

static void corrections(void)
{
	int64_t t0 = 1800000000;
	double ham, spam;
	spam_rep_reset();
	/* one ham verdict, then a user files it to Junk: spam now leads */
	spam_rep_note("dom:corr.example", 0, t0);
	spam_rep_correct("dom:corr.example", 1, t0);
	CHECK_EQ_INT(spam_rep_get("dom:corr.example", t0, &ham, &spam), 0);
	CHECK(ham == 1 && spam == SPAM_REP_CORRECTION);
	CHECK(spam_rep_weight(ham, spam) > 0);
	spam_rep_correct("", 1, t0); /* no key: nothing */
}

static void persistence(void)
{
	char base[256];
	int64_t t0 = 1800000000;
	double ham, spam;
	if (unit_env_begin(base, sizeof base, "spamrep") < 0)
		return;
	uint32_t acc;
	struct store *st = unit_store_with_account(base, 0, "u@rep.example", &acc);
	if (!st)
		return;
	CHECK_EQ_INT(spam_rep_load(st), 0); /* none saved yet: empty, fine */
	spam_rep_reset();
	for (int i = 0; i < 9; i++)
		spam_rep_note("dom:kept.example", 1, t0);
	spam_rep_correct("ip:192.0.2.0/24", 0, t0);
	/* more keys than are saved: once-seen ones, the weakest */
	char k[64];
	for (int i = 0; i < SPAM_REP_KEEP + 500; i++) {
		snprintf(k, sizeof k, "dom:w%d.example", i);
		spam_rep_note(k, 1, t0);
	}
	CHECK_EQ_INT(spam_rep_save(st, t0 + SPAM_REP_HALF_LIFE), STORE_OK);
	spam_rep_reset(); /* a restart */
	CHECK_EQ_INT(spam_rep_get("dom:kept.example", t0, &ham, &spam), -1);
	CHECK_EQ_INT(spam_rep_load(st), 0);
	/* saved decayed to the save's time: half of each */
	CHECK_EQ_INT(spam_rep_get("dom:kept.example", t0 + SPAM_REP_HALF_LIFE, &ham, &spam), 0);
	CHECK(spam > 4.49 && spam < 4.51 && ham == 0);
	CHECK_EQ_INT(spam_rep_get("ip:192.0.2.0/24", t0 + SPAM_REP_HALF_LIFE, &ham, &spam), 0);
	CHECK(ham > 1.99 && ham < 2.01 && spam == 0);
	size_t found = 0;
	for (int i = 0; i < SPAM_REP_KEEP + 500; i++) {
		snprintf(k, sizeof k, "dom:w%d.example", i);
		found += spam_rep_get(k, t0 + SPAM_REP_HALF_LIFE, &ham, &spam) == 0;
	}
	CHECK(found == SPAM_REP_KEEP - 2); /* the bound, after the two strong keys */
	/* a record that is not a table is ignored */
	CHECK_EQ_INT(store_meta_put(st, "spam-rep/table", "TSR1junk", 8, 0), STORE_OK);
	spam_rep_reset();
	CHECK_EQ_INT(spam_rep_load(st), 0);
	CHECK_EQ_INT(spam_rep_get("dom:kept.example", t0, &ham, &spam), -1);
	/* the save-due counter: every SPAM_REP_SAVE_EVERY notes */
	spam_rep_save(st, t0);
	int due = 0;
	for (int i = 0; i < SPAM_REP_SAVE_EVERY; i++) {
		spam_rep_note("dom:due.example", 1, t0);
		due += spam_rep_save_due();
	}
	CHECK_EQ_INT(due, 1);
	store_close(&st);
	unit_rmrf(base);
}

int main(void)
{
	keys();
	weights();
	counts();
	bound();
	corrections();
	persistence();
	return unit_done("test_spam_rep");
}
