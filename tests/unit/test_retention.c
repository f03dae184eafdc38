/*
 * test_retention.c — Trash and Junk emptied after N days
 * (store/store_retention.c, server/retention.c).
 * Checked: the age test at its boundary (exactly N days old goes, one
 * second less stays, 0 days never); a scan reads at most `visit` entries
 * and returns at most `max` UIDs, resuming from its cursor until done;
 * the age is the save date (a delivery into Junk: its received_at; an
 * APPEND into Trash: the time of the APPEND, not the old date it gave);
 * a pass expunges old Trash and Junk only, never the INBOX whatever its
 * age, honours 0 for one role, returns the quota (used) and reports its
 * count; a second pass finds nothing.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/retention.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

#define DAY 86400

static char base[256];

struct boxes {
	uint32_t inbox, trash, junk;
};

static void box_cb(void *arg, const struct store_mailbox_info *i)
{
	struct boxes *b = arg;
	if (strcmp(i->role, "inbox") == 0)
		b->inbox = i->id;
	else if (strcmp(i->role, "trash") == 0)
		b->trash = i->id;
	else if (strcmp(i->role, "junk") == 0)
		b->junk = i->id;
}

static uint32_t count_cb_n;
static void count_cb(void *arg, const struct store_email_info *i)
{
	(void)arg;
	(void)i;
	count_cb_n++;
}

static uint32_t messages(struct store *st, uint32_t acc, uint32_t mb)
{
	count_cb_n = 0;
	CHECK_EQ_INT(store_email_list(st, acc, mb, count_cb, NULL), STORE_OK);
	return count_cb_n;
}

static uint64_t used_v;
static void used_cb(void *arg, const struct store_account_info *i)
{
	(void)arg;
	used_v = i->used;
}

static uint64_t used(struct store *st)
{
	CHECK_EQ_INT(store_account_list(st, used_cb, NULL), STORE_OK);
	return used_v;
}

/* A delivery into the account's Junk (the spam filter's), received at t. */
static void deliver_junk(struct store *st, uint32_t acc, int64_t t, int i)
{
	static char text[8][128];
	struct store_delivery d;
	struct store_target tg = {.role = STORE_TARGET_JUNK};

	snprintf(text[i], sizeof text[i], "Subject: junk %d\r\n\r\nspam %d\r\n", i, i);
	unit_delivery_init(&d, text[i], &acc, t);
	d.targets = &tg;
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
}

/* An APPEND into mailbox, dated (internal date) at t. */
static void append(struct store *st, uint32_t acc, uint32_t mb, int64_t t, const char *text)
{
	struct store_delivery d;
	unit_delivery_init(&d, text, &acc, t);
	d.mailbox = mb;
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
}

static void test_age(void)
{
	int64_t now = 1800000000;
	CHECK_EQ_INT(store_retention_expired(now - 30 * DAY, now, 30), 1);
	CHECK_EQ_INT(store_retention_expired(now - 30 * DAY + 1, now, 30), 0);
	CHECK_EQ_INT(store_retention_expired(now - 400 * DAY, now, 30), 1);
	CHECK_EQ_INT(store_retention_expired(now, now, 30), 0);
	CHECK_EQ_INT(store_retention_expired(now - 1 * DAY, now, 1), 1);
	CHECK_EQ_INT(store_retention_expired(0, now, 0), 0); /* 0: off */
	CHECK_EQ_INT(store_retention_expired(now - 36500LL * DAY, now, 36500), 1);
}

int main(void)
{
	char dir[300];
	uint32_t acc = 0;
	struct boxes b = {0, 0, 0};
	int64_t now = (int64_t)time(NULL);

	test_age();
	if (unit_env_begin(base, sizeof base, "retention") < 0)
		return 1;
	snprintf(dir, sizeof dir, "%s/data", base);
	struct store *st = unit_store_with_account(dir, 0, "bob@example.test", &acc);
	if (!st)
		return unit_done("test_retention");
	CHECK_EQ_INT(store_mailbox_list(st, acc, box_cb, &b), STORE_OK);
	CHECK(b.inbox != 0 && b.trash != 0 && b.junk != 0);

	/* Junk: UIDs 1..3 old (one exactly 30 days), 4 a second short of 30
	 * days, 5 old; the INBOX: one of 2020. */
	deliver_junk(st, acc, now - 90 * DAY, 0);
	deliver_junk(st, acc, now - 31 * DAY, 1);
	deliver_junk(st, acc, now - 30 * DAY, 2);
	deliver_junk(st, acc, now - 30 * DAY + 60, 3);
	deliver_junk(st, acc, now - 45 * DAY, 4);
	unit_deliver(st, acc, "Subject: old inbox\r\n\r\nkeep\r\n", 1577836800, NULL);
	/* Trash: appended now with a date of 2020 (the client's). */
	append(st, acc, b.trash, 1577836800, "Subject: deleted\r\n\r\ntrash\r\n");
	CHECK_EQ_INT(messages(st, acc, b.junk), 5);
	CHECK_EQ_INT(messages(st, acc, b.trash), 1);

	/* The scan's bounds: visit 2, max 1 returns one UID at a time and
	 * reads no further than two entries per call. */
	struct store_retention_scan q = {
	    .account = acc,
	    .mailbox = b.junk,
	    .now = now,
	    .days = 30,
	    .visit = 2,
	    .max = 1,
	};
	uint32_t uids[4], cursor = 0, uv = 0, found[8];
	size_t n, nfound = 0, calls = 0;
	int done = 0;
	while (!done && calls < 20) {
		CHECK_EQ_INT(store_retention_scan(st, &q, &cursor, uids, &n, &uv, &done), STORE_OK);
		CHECK(n <= 1);
		for (size_t i = 0; i < n; i++)
			found[nfound++] = uids[i];
		calls++;
	}
	CHECK_EQ_INT(done, 1);
	CHECK_EQ_INT(nfound, 4);
	CHECK(nfound == 4 && found[0] == 1 && found[1] == 2 && found[2] == 3 && found[3] == 5);
	CHECK(calls >= 4); /* one UID per call: at least one call per old message */
	/* visit 2: the first call reads UIDs 1 and 2 only, whatever max allows. */
	cursor = 0;
	q.max = 4;
	CHECK_EQ_INT(store_retention_scan(st, &q, &cursor, uids, &n, &uv, &done), STORE_OK);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(cursor, 2);
	CHECK_EQ_INT(done, 0);
	/* Bad bounds refuse. */
	q.visit = 0;
	CHECK_EQ_INT(store_retention_scan(st, &q, &cursor, uids, &n, &uv, &done), STORE_EINVAL);

	/* Trash's message was saved now: not expired, whatever its date. */
	q = (struct store_retention_scan){
	    .account = acc,
	    .mailbox = b.trash,
	    .now = now,
	    .days = 30,
	    .visit = 100,
	    .max = 4,
	};
	cursor = 0;
	CHECK_EQ_INT(store_retention_scan(st, &q, &cursor, uids, &n, &uv, &done), STORE_OK);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(done, 1);

	/* A pass now with Trash kept for ever: the four old Junk go. */
	uint64_t before = used(st);
	CHECK_EQ_INT(retention_pass(st, 0, 30, now, NULL), 4);
	CHECK_EQ_INT(messages(st, acc, b.junk), 1);
	CHECK_EQ_INT(messages(st, acc, b.trash), 1);
	CHECK_EQ_INT(messages(st, acc, b.inbox), 1);
	CHECK(used(st) < before);
	/* Nothing more at the same clock. */
	CHECK_EQ_INT(retention_pass(st, 0, 30, now, NULL), 0);
	/* 31 days on, Trash and the last Junk go; the INBOX stays. */
	CHECK_EQ_INT(retention_pass(st, 30, 30, now + 31 * DAY, NULL), 2);
	CHECK_EQ_INT(messages(st, acc, b.junk), 0);
	CHECK_EQ_INT(messages(st, acc, b.trash), 0);
	CHECK_EQ_INT(messages(st, acc, b.inbox), 1);
	/* Both off: nothing at all, even a century on. */
	CHECK_EQ_INT(retention_pass(st, 0, 0, now + 36500LL * DAY, NULL), 0);
	CHECK_EQ_INT(messages(st, acc, b.inbox), 1);

	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_retention");
}
