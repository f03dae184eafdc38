/*
 * test_spam_account.c — an account's spam filter state goes with the
 * account (store_account_del): its model and fuzzy memory (the spam
 * table), what it learned from which message (spamtrained/), and its
 * allow and block lists (spamlist/); the global model keeps what it
 * learned.
 */
#include <stdio.h>
#include <string.h>

#include "spam/spam.h"
#include "spam/spam_learn.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

static void count_rec(void *arg, const struct str *recs)
{
	size_t *n = arg;
	*n = recs[0].p ? recs[0].len : 0;
}

static size_t rec_len(struct store *st, uint32_t account, unsigned kind)
{
	size_t n = 0;
	CHECK_EQ_INT(store_spam_get(st, &account, 1, kind, count_rec, &n), STORE_OK);
	return n;
}

static void count_name(void *arg, const char *name, const void *val, size_t len)
{
	(void)name, (void)val, (void)len;
	++*(size_t *)arg;
}

static size_t meta_count(struct store *st, const char *prefix)
{
	size_t n = 0;
	CHECK_EQ_INT(store_meta_list(st, prefix, count_name, &n), STORE_OK);
	return n;
}

static int meta_has(struct store *st, const char *name)
{
	char v[64];
	size_t n = 0;
	return store_meta_get(st, name, v, sizeof v, &n) == STORE_OK;
}

int main(void)
{
	static const char msg[] = "From: a@remote.test\r\nTo: bob@example.test\r\nSubject: cheap watches\r\n"
				  "\r\nDear customer, your parcel from the central warehouse is waiting at the "
				  "depot. Confirm the delivery address and pay the customs fee of 2.99 today to "
				  "avoid the return of the parcel to the sender.\r\n";
	char err[256], name[80];
	uint32_t acc = 0;

	if (unit_env_begin(base, sizeof base, "spamacct") < 0)
		return 1;
	struct store *st = unit_store_with_account(base, 0, "bob@example.test", &acc);
	if (!st)
		return unit_done("test_spam_account");

	const char *what = NULL;
	CHECK_EQ_INT(spam_learn_message(st, acc, msg, sizeof msg - 1, 1, &what), 0);
	CHECK_EQ_STR(what, "trained");
	snprintf(name, sizeof name, "spamlist/allow/u%u", acc);
	CHECK_EQ_INT(store_meta_put(st, name, "friend.test\n", 12, 0), STORE_OK);
	snprintf(name, sizeof name, "spamlist/block/u%u", acc);
	CHECK_EQ_INT(store_meta_put(st, name, "spammer.test\n", 13, 0), STORE_OK);
	CHECK(rec_len(st, acc, STORE_SPAM_MODEL) > 0);
	CHECK(rec_len(st, acc, STORE_SPAM_FUZZY) > 0);
	snprintf(name, sizeof name, "spamtrained/%u/", acc);
	CHECK_EQ_INT((int)meta_count(st, name), 1);

	CHECK_EQ_INT(store_account_del(st, "bob@example.test", err, sizeof err), STORE_OK);
	CHECK_EQ_INT((int)rec_len(st, acc, STORE_SPAM_MODEL), 0);
	CHECK_EQ_INT((int)rec_len(st, acc, STORE_SPAM_FUZZY), 0);
	CHECK_EQ_INT((int)meta_count(st, name), 0);
	snprintf(name, sizeof name, "spamlist/allow/u%u", acc);
	CHECK(!meta_has(st, name));
	snprintf(name, sizeof name, "spamlist/block/u%u", acc);
	CHECK(!meta_has(st, name));

	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_spam_account");
}
