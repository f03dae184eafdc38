/*
 * test_store_quota.c — the quota rule of a delivery (quota_fits_txn,
 * store_read.c; store_quota_fits at RCPT): an account listed more than
 * once is charged every copy (a copy with bytes of its own, its own
 * length); an unknown account is passed over; the message is refused only
 * when no account can take it, STORE_ETOOBIG when it is larger than every
 * such account's whole quota, else STORE_EQUOTA. The same answers with
 * the entries shuffled and with 10,000 of them (TERN_SMTP_MAX_RECIPIENTS'
 * ceiling), whose CPU time is printed (the rule used to be quadratic in
 * them; no assertion on time).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];
static struct store *st;

/* quota_fits_txn in a read transaction of its own. */
static int fits(const uint32_t *accounts, size_t n, const struct store_target *targets,
		uint64_t len)
{
	MDB_txn *txn;
	if (store_rd_begin(st, &txn) != 0)
		return -1;
	int rc = quota_fits_txn(txn, st, accounts, n, targets, len);
	store_rd_end(st, txn);
	return rc;
}

static void set_quota(const char *addr, uint64_t quota)
{
	char err[256];
	CHECK_EQ_INT(store_account_set_quota(st, addr, quota, err, sizeof err), STORE_OK);
}

static uint32_t add(const char *addr, uint64_t quota)
{
	char err[256];
	uint32_t id = 0;
	CHECK_EQ_INT(store_account_add(st, addr, "pw", quota, &id, err, sizeof err), STORE_OK);
	return id;
}

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	char err[256];

	if (unit_env_begin(base, sizeof base, "quota") < 0)
		return 1;
	CHECK_EQ_INT(store_open(base, 0, &st, err, sizeof err), STORE_OK);
	if (!st)
		return unit_done("test_store_quota");
	CHECK_EQ_INT(store_domain_add(st, "q.test", err, sizeof err), STORE_OK);
	uint32_t a = add("a@q.test", 1000), b = add("b@q.test", 300);
	uint32_t c = add("c@q.test", 0), d = add("d@q.test", 1000);
	const uint32_t none = 0x7ffffff0; /* no such account */

	/* One account: room, the room exactly, past it, past its whole quota. */
	CHECK_EQ_INT(fits(&a, 1, NULL, 400), 0);
	CHECK_EQ_INT(fits(&a, 1, NULL, 1000), 0);
	CHECK_EQ_INT(fits(&a, 1, NULL, 1001), STORE_ETOOBIG);
	CHECK_EQ_INT(store_quota_fits(st, &b, 1, 400), STORE_ETOOBIG);
	CHECK_EQ_INT(store_quota_fits(st, &c, 1, 1u << 30), STORE_OK);

	/* Copies add up: two of 400 fit 1000, three do not (but each one
	 * would: over, not too big), wherever they stand in the list. */
	uint32_t two[] = { a, a }, three[] = { a, d, a, b, a };
	CHECK_EQ_INT(fits(two, 2, NULL, 400), 0);
	uint32_t only_a[] = { a, a, a };
	CHECK_EQ_INT(fits(only_a, 3, NULL, 400), STORE_EQUOTA);
	CHECK_EQ_INT(store_quota_fits(st, only_a, 3, 400), STORE_EQUOTA);
	/* d takes its one copy: the message goes (a goes a little over). */
	CHECK_EQ_INT(fits(three, 5, NULL, 400), 0);
	uint32_t no_d[] = { a, b, a, b, a };
	CHECK_EQ_INT(fits(no_d, 5, NULL, 400), STORE_EQUOTA);
	/* Every account too small for one copy: too big, never fits. */
	uint32_t bb[] = { b, none, b };
	CHECK_EQ_INT(fits(bb, 3, NULL, 400), STORE_ETOOBIG);

	/* Unknown accounts are passed over: alone, nothing is refused. */
	uint32_t unknown[] = { none, none + 1 };
	CHECK_EQ_INT(fits(unknown, 2, NULL, 1u << 30), 0);
	CHECK_EQ_INT(fits(NULL, 0, NULL, 1u << 30), 0);

	/* A copy with bytes of its own is charged its own length. */
	struct store_bytes own = { .data = NULL, .len = 700 };
	struct store_target t[3];
	memset(t, 0, sizeof t);
	t[2].bytes = &own;
	uint32_t a_b_a[] = { a, b, a };
	CHECK_EQ_INT(fits(a_b_a, 3, t, 200), 0);            /* a: 200 + 700 */
	CHECK_EQ_INT(fits(a_b_a, 3, t, 400), STORE_EQUOTA); /* a: 400 + 700, b: 400 > 300 */
	own.len = 1200;                                     /* a's own copy alone is too big */
	CHECK_EQ_INT(fits(a_b_a, 3, t, 400), STORE_ETOOBIG);
	memset(t, 0, sizeof t);
	t[0].bytes = &own;
	own.len = 200;
	uint32_t b_b[] = { b, b }; /* b: 200 + 150 > 300; then 150 + 150 */
	CHECK_EQ_INT(fits(b_b, 2, t, 150), STORE_EQUOTA);
	own.len = 150;
	CHECK_EQ_INT(fits(b_b, 2, t, 150), 0);

	/* Usage counts: a with 700 used has 300 left. */
	char *msg = malloc(701);
	memset(msg, 'x', 700);
	memcpy(msg, "Subject: q\r\n\r\n", 14);
	msg[700] = '\0';
	unit_deliver(st, a, msg, 1700000000, NULL);
	free(msg);
	uint64_t quota = 0, used = 0;
	CHECK_EQ_INT(store_account_usage(st, a, &quota, &used), STORE_OK);
	CHECK_EQ_INT(used, 700);
	CHECK_EQ_INT(fits(&a, 1, NULL, 300), 0);
	CHECK_EQ_INT(fits(&a, 1, NULL, 301), STORE_EQUOTA);
	CHECK_EQ_INT(fits(two, 2, NULL, 150), 0);
	CHECK_EQ_INT(fits(two, 2, NULL, 151), STORE_EQUOTA);
	set_quota("a@q.test", 1000 + 2000);

	/* 10,000 entries: the four accounts interleaved with unknown ones,
	 * each account's copies counted across the whole list. */
	enum { N = 10000 };
	uint32_t *many = malloc(N * sizeof *many);
	uint32_t real[4] = { a, b, c, d };
	const char *addr[4] = { "a@q.test", "b@q.test", "c@q.test", "d@q.test" };
	uint64_t copies[4] = { 0 };
	for (size_t i = 0; i < N; i++) {
		if (i % 5 == 4) {
			many[i] = none - (uint32_t)i;
		} else {
			many[i] = real[i % 4];
			copies[i % 4]++;
		}
	}
	/* a has 700 used: room for its copies of 1 octet exactly when its
	 * quota is used + copies. */
	uint64_t extra[4] = { 700, 0, 0, 0 };
	for (int k = 0; k < 4; k++)
		set_quota(addr[k], extra[k] + copies[k] - 1);
	CHECK_EQ_INT(fits(many, N, NULL, 1), STORE_EQUOTA);
	for (int k = 0; k < 4; k++) {
		set_quota(addr[k], extra[k] + copies[k]);
		CHECK_EQ_INT(fits(many, N, NULL, 1), 0);
		set_quota(addr[k], extra[k] + copies[k] - 1);
	}
	CHECK_EQ_INT(store_quota_fits(st, many, N, 1), STORE_EQUOTA);
	/* Larger than every quota: too big. */
	CHECK_EQ_INT(fits(many, N, NULL, 1u << 30), STORE_ETOOBIG);

	/* The worst case for the old rule: 10,000 distinct accounts. */
	for (size_t i = 0; i < N; i++)
		many[i] = none - (uint32_t)i;
	many[N - 1] = b;
	double t0 = cpu_seconds();
	int rc = 0;
	for (int r = 0; r < 10; r++)
		rc |= fits(many, N, NULL, 4000); /* b: quota 1999 */
	double t1 = cpu_seconds();
	CHECK_EQ_INT(rc, STORE_ETOOBIG);
	printf("quota_fits_txn, 10,000 distinct accounts: %.3f ms CPU per call\n",
	       (t1 - t0) * 100.0);
	free(many);

	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_store_quota");
}
