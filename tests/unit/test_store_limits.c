/*
 * test_store_limits.c — the store's limits under abuse (issue 28): one
 * serving store per data directory; the quota checked again in the commit,
 * each request seeing what the ones before it in the batch took, with
 * RCPT's rule (refused only when no account can take the message); the
 * compacted copy taken before a schema migration, refused without room,
 * kept through the start that migrated and removed by the next one; the
 * reserve kept for deletions: new mail refused under the floor while
 * expunges go on, the reserve file given back to a deletion that meets
 * ENOSPC but never to new mail.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];
static int dirno;

static const char *new_dir(char *buf, size_t n)
{
	snprintf(buf, n, "%s/d%d", base, ++dirno);
	return buf;
}

static void test_one_server_per_dir(void)
{
	char dir[300], err[256] = "";
	struct store *a = NULL, *b = NULL, *cli = NULL;

	new_dir(dir, sizeof dir);
	CHECK_EQ_INT(store_open(dir, STORE_SERVER, &a, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_open(dir, STORE_SERVER, &b, err, sizeof err), STORE_EBUSY);
	CHECK(b == NULL);
	CHECK(strstr(err, "in use by another tern serve") != NULL);
	/* The CLI opens beside it, read-write and read-only. */
	CHECK_EQ_INT(store_open(dir, 0, &cli, err, sizeof err), STORE_OK);
	store_close(&cli);
	CHECK_EQ_INT(store_open(dir, STORE_READONLY, &cli, err, sizeof err), STORE_OK);
	store_close(&cli);
	/* Closed, the directory is free for the next server. */
	store_close(&a);
	CHECK_EQ_INT(store_open(dir, STORE_SERVER, &b, err, sizeof err), STORE_OK);
	store_close(&b);
}

static void add_account(struct store *st, const char *addr, uint64_t quota, uint32_t *id)
{
	char err[256];
	CHECK_EQ_INT(store_account_add(st, addr, "pw", quota, id, err, sizeof err), STORE_OK);
}

static uint64_t used_of(struct store *st, uint32_t id)
{
	uint64_t quota, used = 0;
	CHECK_EQ_INT(store_account_usage(st, id, &quota, &used), STORE_OK);
	return used;
}

static void delivery(struct store_delivery *d, const char *text, const uint32_t *acc, size_t n)
{
	memset(d, 0, sizeof *d);
	d->data = text;
	d->len = strlen(text);
	store_blob_id(text, d->len, d->blob_id);
	d->accounts = acc;
	d->naccounts = n;
	d->received_at = 1700000000;
	d->quota_check = 1;
}

static void test_quota_at_commit(void)
{
	char dir[300], err[256], m1[600], m2[600], m3[600], big[1200];
	struct store *st = NULL;
	struct store_delivery d;
	uint32_t full, roomy, acc[2];

	new_dir(dir, sizeof dir);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_domain_add(st, "q.test", err, sizeof err), STORE_OK);
	add_account(st, "full@q.test", 1000, &full);
	add_account(st, "roomy@q.test", 0, &roomy);
	memset(m1, 'a', sizeof m1 - 1), m1[sizeof m1 - 1] = '\0';
	memset(m2, 'b', sizeof m2 - 1), m2[sizeof m2 - 1] = '\0';
	memset(m3, 'c', sizeof m3 - 1), m3[sizeof m3 - 1] = '\0';
	memset(big, 'd', sizeof big - 1), big[sizeof big - 1] = '\0';

	/* 599 fits into 1000; the next 599 would not: refused, nothing written. */
	CHECK_EQ_INT(store_quota_fits(st, &full, 1, 1000), STORE_OK);
	delivery(&d, m1, &full, 1);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	/* RCPT's look with a declared size (store_quota_fits) gives the
	 * commit's verdicts: at the limit it fits, past it it does not. */
	CHECK_EQ_INT(store_quota_fits(st, &full, 1, 401), STORE_OK);
	CHECK_EQ_INT(store_quota_fits(st, &full, 1, 402), STORE_EQUOTA);
	CHECK_EQ_INT(store_quota_fits(st, &full, 1, 1001), STORE_ETOOBIG);
	delivery(&d, m2, &full, 1);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_EQUOTA);
	CHECK_EQ_INT((int)used_of(st, full), 599);
	/* Larger than the whole quota: STORE_ETOOBIG. */
	delivery(&d, big, &full, 1);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_ETOOBIG);
	/* With an account that can take it, all get it (RCPT's soft rule). */
	acc[0] = full, acc[1] = roomy;
	CHECK_EQ_INT(store_quota_fits(st, acc, 2, 1001), STORE_OK);
	/* An account listed twice (a Sieve :copy) is charged both copies:
	 * 2 x 599 does not fit into the 1000 of an empty account. */
	uint32_t twice[2];
	add_account(st, "twice@q.test", 1000, &twice[0]);
	twice[1] = twice[0];
	CHECK_EQ_INT(store_quota_fits(st, twice, 1, 599), STORE_OK);
	delivery(&d, m3, twice, 2);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_EQUOTA);
	CHECK_EQ_INT((int)used_of(st, twice[0]), 0);
	/* An account deleted since RCPT stores nothing: no refusal for it. */
	uint32_t gone = full + roomy + 1000;
	CHECK_EQ_INT(store_quota_fits(st, &gone, 1, 5000), STORE_OK);
	delivery(&d, m3, acc, 2);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	CHECK_EQ_INT((int)used_of(st, full), 1198);
	CHECK_EQ_INT((int)used_of(st, roomy), 599);
	/* Without quota_check (notices, local copies): no check here. */
	delivery(&d, m2, &full, 1);
	d.quota_check = 0;
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	store_close(&st);
}

/* Through the writer, several requests in one batch: each sees the usage
 * the ones before it left. */
static void test_quota_in_one_batch(void)
{
	char dir[300], err[256];
	static char msgs[6][500];
	struct store *st = NULL;
	struct store_delivery d[6];
	uint32_t id;

	new_dir(dir, sizeof dir);
	CHECK_EQ_INT(store_open(dir, STORE_SERVER, &st, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_domain_add(st, "q.test", err, sizeof err), STORE_OK);
	add_account(st, "b@q.test", 1200, &id);
	store_test_pause_writer(st, 1);
	for (int i = 0; i < 6; i++) {
		memset(msgs[i], 'a' + i, sizeof msgs[i] - 1);
		delivery(&d[i], msgs[i], &id, 1);
		store_deliver(st, &d[i]);
	}
	store_test_pause_writer(st, 0);
	store_close(&st); /* drains the queue */
	int ok = 0, over = 0;
	for (int i = 0; i < 6; i++) {
		ok += d[i].result == STORE_OK;
		over += d[i].result == STORE_EQUOTA;
	}
	CHECK_EQ_INT(ok, 2);
	CHECK_EQ_INT(over, 4);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	CHECK_EQ_INT((int)used_of(st, id), 998);
	store_close(&st);
}

static void count_cb(void *arg, const struct store_email_info *info)
{
	(void)info;
	++*(int *)arg;
}

static int inbox_count(struct store *st, const char *addr)
{
	uint32_t id;
	int n = 0;
	if (store_account_id(st, addr, &id) != STORE_OK)
		return -1;
	CHECK_EQ_INT(store_email_list(st, id, STORE_INBOX_ID, count_cb, &n), STORE_OK);
	return n;
}

static int exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(in >= 0 && out >= 0);
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
		CHECK(write(out, buf, (size_t)n) == n);
	close(in);
	close(out);
}

static struct store *open_ok_flags(const char *dir, unsigned flags)
{
	char err[512] = "";
	struct store *st = NULL;
	CHECK_EQ_INT(store_open(dir, flags, &st, err, sizeof err), STORE_OK);
	return st;
}

static void test_upgrade_backup(void)
{
	char dir[300], dir2[300], bdir[400], bfile[420], f2[420], err[512] = "";
	struct store *st = NULL;
	uint32_t id;

	new_dir(dir, sizeof dir);
	st = unit_store_with_account(dir, 0, "u@up.test", &id);
	unit_deliver(st, id, "Subject: one\r\n\r\n1\r\n", 1700000000, NULL);
	unit_deliver(st, id, "Subject: two\r\n\r\n2\r\n", 1700000001, NULL);
	CHECK_EQ_INT(store_test_set_schema(st, STORE_SCHEMA_VERSION - 1), STORE_OK);
	store_close(&st);
	snprintf(bdir, sizeof bdir, "%s/backup-schema-%u", dir, STORE_SCHEMA_VERSION - 1);
	snprintf(bfile, sizeof bfile, "%s/data.mdb", bdir);

	/* No room for the copy: refused in one line, nothing changed. */
	store_test_set_disk_free(1u << 20);
	CHECK_EQ_INT(store_open(dir, STORE_SERVER, &st, err, sizeof err), STORE_EFULL);
	CHECK(st == NULL);
	CHECK(strstr(err, "not enough room to back up") != NULL && strchr(err, '\n') == NULL);
	CHECK(!exists(bdir));
	CHECK_EQ_INT(store_open(dir, STORE_READONLY, &st, err, sizeof err), STORE_EINVAL);
	CHECK(strstr(err, "migrate") != NULL);
	store_test_set_disk_free(UINT64_MAX);

	/* With room: the copy, then the migration; the mail is all there. */
	CHECK_EQ_INT(store_open(dir, STORE_SERVER, &st, err, sizeof err), STORE_OK);
	CHECK(exists(bfile));
	CHECK_EQ_INT(inbox_count(st, "u@up.test"), 2);
	store_started(st); /* the start that migrated keeps it */
	CHECK(exists(bfile));
	store_close(&st);

	/* The copy is a whole store at the old schema: this build upgrades it
	 * too, and finds the same mail. */
	new_dir(dir2, sizeof dir2);
	CHECK_EQ_INT(mkdir(dir2, 0700), 0);
	snprintf(f2, sizeof f2, "%s/data.mdb", dir2);
	copy_file(bfile, f2);
	CHECK_EQ_INT(store_open(dir2, 0, &st, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(inbox_count(st, "u@up.test"), 2);
	store_close(&st);

	/* The next start, with nothing to migrate, removes it once serving. */
	CHECK_EQ_INT(store_open(dir, STORE_SERVER, &st, err, sizeof err), STORE_OK);
	CHECK(exists(bfile));
	store_started(st);
	CHECK(!exists(bdir));
	store_close(&st);

	/* Migrated by a CLI command: the first serve after it keeps the
	 * copy, the second removes it. */
	st = open_ok_flags(dir, 0);
	CHECK_EQ_INT(store_test_set_schema(st, STORE_SCHEMA_VERSION - 1), STORE_OK);
	store_close(&st);
	st = open_ok_flags(dir, 0); /* the CLI migrates, after the copy */
	store_close(&st);
	CHECK(exists(bfile));
	st = open_ok_flags(dir, STORE_SERVER);
	store_started(st);
	store_close(&st);
	CHECK(exists(bfile));
	st = open_ok_flags(dir, STORE_SERVER);
	store_started(st);
	store_close(&st);
	CHECK(!exists(bdir));

	/* A fresh store and a current one take no copy. */
	new_dir(dir2, sizeof dir2);
	CHECK_EQ_INT(store_open(dir2, STORE_SERVER, &st, err, sizeof err), STORE_OK);
	store_close(&st);
	snprintf(bdir, sizeof bdir, "%s/backup-schema-0", dir2);
	CHECK(!exists(bdir));
}

static int reserve_size(const char *dir)
{
	char path[400];
	struct stat sb;
	snprintf(path, sizeof path, "%s/reserve", dir);
	return stat(path, &sb) == 0 ? (int)sb.st_size : -1;
}

static void test_reserve(void)
{
	char dir[300];
	struct store *st;
	struct store_delivery d;
	uint32_t id, mb_uidvalidity = 0, uids[2] = {1, 2};
	size_t removed = 0;
	int held;
	static char msg[5000];

	new_dir(dir, sizeof dir);
	st = unit_store_with_account(dir, 0, "r@res.test", &id);
	unit_deliver(st, id, "Subject: a\r\n\r\na\r\n", 1700000000, NULL);
	unit_deliver(st, id, "Subject: b\r\n\r\nb\r\n", 1700000001, NULL);
	CHECK_EQ_INT(store_reserve_set(st, 300000), STORE_OK);
	CHECK_EQ_INT(reserve_size(dir), 300000);
	memset(msg, 'm', sizeof msg - 1);

	/* Under the floor: new mail is refused alone, STORE_EFULL. */
	store_test_set_disk_free(200000);
	delivery(&d, msg, &id, 1);
	d.quota_check = 0;
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_EFULL);
	CHECK_EQ_INT(inbox_count(st, "r@res.test"), 2);
	store_test_set_disk_free(UINT64_MAX);

	/* A commit of new mail that meets ENOSPC: refused, the reserve kept. */
	store_test_fail_commit_once(st, ENOSPC);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_EFULL);
	CHECK_EQ_INT((int)store_test_reserve_released(st, &held), 0);
	CHECK(held);
	CHECK_EQ_INT(inbox_count(st, "r@res.test"), 2);

	/* A deletion that meets it: the reserve goes, the deletion is made. */
	struct store_view_state vs;
	CHECK_EQ_INT(store_mailbox_snapshot(st, id, STORE_INBOX_ID, &vs, count_cb, &held), STORE_OK);
	mb_uidvalidity = vs.uidvalidity;
	store_test_fail_commit_once(st, ENOSPC);
	CHECK_EQ_INT(store_expunge(st, id, STORE_INBOX_ID, mb_uidvalidity, uids, 1, &removed, NULL),
	             STORE_OK);
	CHECK_EQ_INT((int)removed, 1);
	CHECK_EQ_INT((int)store_test_reserve_released(st, &held), 1);
	CHECK(!held);
	CHECK_EQ_INT(reserve_size(dir), -1);
	CHECK_EQ_INT(inbox_count(st, "r@res.test"), 1);
	/* Given back once only: a second ENOSPC fails that write, said as
	 * a full disk (temporary; the CLI and the API can say so). */
	store_test_fail_commit_once(st, ENOSPC);
	CHECK_EQ_INT(store_expunge(st, id, STORE_INBOX_ID, mb_uidvalidity, uids + 1, 1, &removed,
	                           NULL), STORE_EFULL);
	CHECK_EQ_INT(inbox_count(st, "r@res.test"), 1);
	/* A short write on a full disk (LMDB's EIO) is the disk full too:
	 * new mail refused, the reserve kept; and a true I/O error, with
	 * room on the disk, stays one (temporary). */
	store_test_set_disk_free(0);
	store_reserve_set(st, 0); /* no floor: the commit itself must fail */
	store_test_fail_commit_once(st, EIO);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_EFULL);
	store_test_set_disk_free(UINT64_MAX);
	store_test_fail_commit_once(st, EIO);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_ETEMP);
	CHECK_EQ_INT(inbox_count(st, "r@res.test"), 1);
	CHECK_EQ_INT(store_reserve_set(st, 300000), STORE_OK);
	/* With room again, mail is stored (the floor counts the disk). */
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	store_close(&st);
}

static int hook_put(struct store *st, void *txn, struct store_delivery *d)
{
	(void)d;
	MDB_val k = {6, "test/h"}, v = {2, "\1x"};
	return mdb_put(txn, st->db[DB_META], &k, &v, 0);
}

/* One batch with new mail and a write that adds none meets ENOSPC (or
 * LMDB's EIO for a short write): it runs again without the mail, which
 * alone is refused. */
static void test_batch_full(int fail)
{
	char dir[300], err[256], val[8];
	static char msg[3000];
	struct store *st = NULL;
	struct store_delivery mail, other;
	uint32_t id;
	size_t len;

	new_dir(dir, sizeof dir);
	CHECK_EQ_INT(store_open(dir, STORE_SERVER, &st, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_domain_add(st, "b.test", err, sizeof err), STORE_OK);
	add_account(st, "b@b.test", 0, &id);
	memset(msg, 'x', sizeof msg - 1);
	delivery(&mail, msg, &id, 1);
	memset(&other, 0, sizeof other);
	other.txn_hook = hook_put;
	store_test_pause_writer(st, 1);
	store_deliver(st, &mail);
	store_deliver(st, &other);
	store_test_fail_commit_once(st, fail);
	store_test_set_disk_free(0); /* after a short write next to nothing is left */
	store_test_pause_writer(st, 0);
	store_close(&st);
	store_test_set_disk_free(UINT64_MAX);
	CHECK_EQ_INT(mail.result, STORE_EFULL);
	CHECK_EQ_INT(other.result, STORE_OK);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_meta_get(st, "test/h", val, sizeof val, &len), STORE_OK);
	CHECK_EQ_INT(inbox_count(st, "b@b.test"), 0);
	store_close(&st);
}

int main(void)
{
	if (unit_env_begin(base, sizeof base, "store-limits") < 0)
		return 1;
	test_one_server_per_dir();
	test_quota_at_commit();
	test_quota_in_one_batch();
	test_upgrade_backup();
	test_reserve();
	test_batch_full(ENOSPC);
	test_batch_full(EIO);
	unit_rmrf(base);
	return unit_done("test_store_limits");
}
