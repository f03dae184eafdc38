/*
 * test_store_room.c — the zeroed room a serving store keeps past LMDB's
 * last page (store_room.c): kept on ext4 and XFS and on nothing else; at
 * least STORE_ROOM_LOW of zeros past the data after every write; topped up
 * as the data grows, with every message still readable; a fill that fails
 * half way is cut back to the old size, costs the commit nothing and is
 * not tried again at once; a store opened without STORE_SERVER keeps none.
 * Steps: each adds STORE_ROOM_STEP until the room is within a step of
 * STORE_ROOM_AHEAD, commits nothing, and fails like a fill; the writer
 * thread takes them between commits, so that no commit has to fill.
 */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];
static char dbpath[300];
static unsigned serial;

static uint64_t file_size(void)
{
	struct stat sb;
	return stat(dbpath, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

static uint64_t used_bytes(struct store *st)
{
	uint64_t used = 0;
	CHECK_EQ_INT(store_map_info(st, NULL, &used), STORE_OK);
	return used;
}

/* Whether bytes [from, to) of data.mdb are all zero. */
static int zeros_between(uint64_t from, uint64_t to)
{
	static char blk[1 << 16];
	int fd = open(dbpath, O_RDONLY);
	int ok = fd >= 0;

	while (ok && from < to) {
		size_t n = to - from < sizeof blk ? (size_t)(to - from) : sizeof blk;
		ssize_t r = pread(fd, blk, n, (off_t)from);
		if (r <= 0) {
			ok = 0;
			break;
		}
		for (ssize_t i = 0; i < r; i++)
			if (blk[i] != 0)
				ok = 0;
		from += (uint64_t)r;
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

/* A message of size bytes unlike any before (distinct: blobs are shared
 * by content, and a copy would not grow the file); the caller frees it. */
static char *new_text(size_t size)
{
	char *text = malloc(size + 1);
	int n = snprintf(text, size + 1, "Subject: room %u\r\n\r\n", ++serial);
	for (size_t i = (size_t)n; i < size; i++)
		text[i] = (char)('a' + (i + serial) % 26);
	text[size] = '\0';
	return text;
}

/* Delivers one distinct message of size bytes, in this thread. */
static void deliver(struct store *st, uint32_t acc, size_t size)
{
	char *text = new_text(size);
	unit_deliver(st, acc, text, 1700000000, NULL);
	free(text);
}

static void on_done(struct store_delivery *d, void *arg)
{
	(void)d;
	atomic_store((atomic_int *)arg, 1);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

/* As deliver(), but queued to the writer thread; waits for its commit. */
static void deliver_queued(struct store *st, uint32_t acc, size_t size)
{
	char *text = new_text(size);
	struct store_delivery d;
	atomic_int done = 0;
	memset(&d, 0, sizeof d);
	d.data = text;
	d.len = size;
	store_blob_id(text, d.len, d.blob_id);
	d.accounts = &acc;
	d.naccounts = 1;
	d.received_at = 1700000000;
	d.done = on_done; /* no loop: runs on the writer thread */
	d.arg = &done;
	store_deliver(st, &d);
	for (int i = 0; i < 5000 && !atomic_load(&done); i++)
		sleep_ms(1);
	CHECK(atomic_load(&done));
	CHECK_EQ_INT(d.result, STORE_OK);
	free(text);
}

/* Waits (5 s at most) until the room is within a step of the full
 * STORE_ROOM_AHEAD; whether it got there. */
static int wait_room(struct store *st)
{
	for (int i = 0; i < 5000; i++) {
		if (file_size() + STORE_ROOM_STEP >= used_bytes(st) + STORE_ROOM_AHEAD)
			return 1;
		sleep_ms(1);
	}
	return 0;
}

/* Delivers until the room is two steps or more short of STORE_ROOM_AHEAD
 * (100 messages at most); how many it delivered. */
static unsigned use_room(struct store *st, uint32_t acc)
{
	unsigned n = 0;
	while (n < 100 && file_size() + 2 * STORE_ROOM_STEP > used_bytes(st) + STORE_ROOM_AHEAD) {
		deliver(st, acc, 60000);
		n++;
	}
	return n;
}

static void count_cb(void *arg, const struct store_email_info *i)
{
	(void)i;
	(*(unsigned *)arg)++;
}

static unsigned inbox_count(struct store *st, uint32_t acc)
{
	unsigned n = 0;
	CHECK_EQ_INT(store_email_list(st, acc, STORE_INBOX_ID, count_cb, &n), STORE_OK);
	return n;
}

static void test_room(struct store *st, uint32_t acc)
{
	/* After a write there is room, and it reads as zeros. */
	deliver(st, acc, 20000);
	uint64_t used = used_bytes(st), size = file_size();
	CHECK(store_test_room_fills(st, NULL) >= 1);
	CHECK(size >= used + STORE_ROOM_LOW);
	CHECK(size <= used + STORE_ROOM_AHEAD + (1u << 20));
	CHECK(zeros_between(used, size));

	/* Growth past several fills: the room follows, nothing is lost. A
	 * write starts with at least STORE_ROOM_LOW, so it ends with that less
	 * what it wrote itself (one message and its tree pages, under SLACK). */
	enum { SLACK = 256 << 10 };
	uint64_t fills = store_test_room_fills(st, NULL);
	for (int i = 0; i < 300; i++) {
		deliver(st, acc, 60000);
		if (file_size() + SLACK < used_bytes(st) + STORE_ROOM_LOW) {
			CHECK(!"room fell below STORE_ROOM_LOW at the start of a write");
			break;
		}
	}
	CHECK(store_test_room_fills(st, NULL) >= fills + 2);
	CHECK_EQ_INT(inbox_count(st, acc), 1 + 1 + 300); /* the CLI store's one too */
	used = used_bytes(st);
	CHECK(zeros_between(used, file_size()));

	/* Steps: each adds exactly STORE_ROOM_STEP of zeros, commits nothing,
	 * and they stop within a step of STORE_ROOM_AHEAD. */
	unsigned extra = use_room(st, acc);
	used = used_bytes(st);
	size = file_size();
	CHECK(size + 2 * STORE_ROOM_STEP <= used + STORE_ROOM_AHEAD);
	fills = store_test_room_fills(st, NULL);
	uint64_t steps0 = store_test_room_steps(st);
	unsigned steps = 0;
	while (store_room_between(st)) {
		CHECK_EQ_INT(file_size(), size + STORE_ROOM_STEP);
		size = file_size();
		if (++steps > STORE_ROOM_AHEAD / STORE_ROOM_STEP) {
			CHECK(!"room steps did not stop");
			break;
		}
	}
	CHECK(steps >= 2);
	CHECK_EQ_INT(store_test_room_steps(st), steps0 + steps);
	CHECK_EQ_INT(store_test_room_fills(st, NULL), fills);
	CHECK(size + STORE_ROOM_STEP >= used + STORE_ROOM_AHEAD);
	CHECK(size <= used + STORE_ROOM_AHEAD);
	CHECK_EQ_INT(used_bytes(st), used); /* a step commits nothing */
	CHECK(zeros_between(used, size));

	/* A fill that fails half way: cut back, the commit still goes in, and
	 * no new fill is tried during the back-off, even once the disk is
	 * fine again. */
	fills = store_test_room_fills(st, NULL);
	store_test_fail_room(st, ENOSPC);
	unsigned delivered = 0;
	while (file_size() >= used_bytes(st) + STORE_ROOM_LOW && delivered < 400) {
		deliver(st, acc, 60000);
		delivered++;
	}
	/* The next write is the one whose fill fails. */
	uint64_t size_before = file_size();
	deliver(st, acc, 60000);
	delivered++;
	used = used_bytes(st);
	size = file_size();
	CHECK_EQ_INT(store_test_room_fills(st, NULL), fills);
	CHECK(size >= used); /* LMDB grew the file itself, as without room */
	CHECK(size < used + STORE_ROOM_LOW);
	CHECK(size <= (size_before > used ? size_before : used));
	store_test_fail_room(st, 0);
	deliver(st, acc, 60000);
	delivered++;
	CHECK_EQ_INT(store_test_room_fills(st, NULL), fills);
	CHECK_EQ_INT(inbox_count(st, acc), 302 + extra + delivered);
}

int main(void)
{
	struct store *st = NULL;
	uint32_t acc = 0;
	struct statfs fs;
	int kept = -1;

	if (unit_env_begin(base, sizeof base, "room") < 0)
		return 1;
	snprintf(dbpath, sizeof dbpath, "%s/data.mdb", base);

	/* The CLI's store keeps no room. */
	st = unit_store_with_account(base, 0, "bob@example.test", &acc);
	if (st) {
		deliver(st, acc, 20000);
		store_test_room_fills(st, &kept);
		CHECK_EQ_INT(kept, 0);
		CHECK_EQ_INT(file_size(), used_bytes(st));
		store_close(&st);
	}

	char err[256];
	CHECK_EQ_INT(store_open(base, STORE_SERVER, &st, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(statfs(base, &fs), 0);
	int gains = fs.f_type == 0xEF53 || fs.f_type == 0x58465342; /* ext4, XFS */
	if (st) {
		store_test_room_fills(st, &kept);
		CHECK_EQ_INT(kept, gains);
		if (kept)
			test_room(st, acc);
		else
			printf("test_store_room: %s is not on ext4 or XFS; only the no-room "
			       "cases ran\n", base);
		store_close(&st);
	}
	/* A file that ends off a page boundary (a fill cut short by a crash on
	 * a file system with 1 KiB blocks): room is made all the same. */
	if (kept == 1) {
		CHECK_EQ_INT(store_open(base, STORE_SERVER, &st, err, sizeof err), STORE_OK);
		if (st) {
			uint64_t used = used_bytes(st);
			CHECK_EQ_INT(truncate(dbpath, (off_t)(used + 1000)), 0);
			uint64_t fills = store_test_room_fills(st, NULL);
			/* This store has not filled yet, so the back-off of the one
			 * before does not apply. */
			deliver(st, acc, 20000);
			CHECK_EQ_INT(store_test_room_fills(st, NULL), fills + 1);
			used = used_bytes(st);
			CHECK(file_size() >= used + STORE_ROOM_LOW);
			CHECK(zeros_between(used, file_size()));
			store_close(&st);
		}
	}
	/* A fill refused as if O_DIRECT did not work here (EINVAL): cut back,
	 * room off for good, the writes go on. */
	if (kept == 1) {
		CHECK_EQ_INT(store_open(base, STORE_SERVER, &st, err, sizeof err), STORE_OK);
		if (st) {
			CHECK_EQ_INT(truncate(dbpath, (off_t)used_bytes(st)), 0);
			store_test_fail_room(st, EINVAL);
			deliver(st, acc, 20000);
			int on = -1;
			store_test_room_fills(st, &on);
			CHECK_EQ_INT(on, 0);
			CHECK(file_size() < used_bytes(st) + STORE_ROOM_LOW);
			store_test_fail_room(st, 0);
			deliver(st, acc, 20000);
			CHECK(file_size() < used_bytes(st) + STORE_ROOM_LOW);
			store_close(&st);
		}
	}
	/* A step that fails: cut back to the size before, not counted, and
	 * not tried again during the back-off. */
	if (kept == 1) {
		CHECK_EQ_INT(store_open(base, STORE_SERVER, &st, err, sizeof err), STORE_OK);
		if (st) {
			deliver(st, acc, 20000); /* its transaction fills the room */
			use_room(st, acc);
			uint64_t size = file_size(), steps = store_test_room_steps(st);
			CHECK(size + 2 * STORE_ROOM_STEP <= used_bytes(st) + STORE_ROOM_AHEAD);
			store_test_fail_room(st, ENOSPC);
			CHECK_EQ_INT(store_room_between(st), 0);
			CHECK_EQ_INT(file_size(), size);
			store_test_fail_room(st, 0);
			CHECK_EQ_INT(store_room_between(st), 0);
			CHECK_EQ_INT(file_size(), size);
			CHECK_EQ_INT(store_test_room_steps(st), steps);
			store_close(&st);
		}
	}
	/* The writer thread makes the room between its commits: after each of
	 * 100 queued deliveries of 60 kB (more than STORE_ROOM_AHEAD -
	 * STORE_ROOM_LOW in all) the room is back within a step of
	 * STORE_ROOM_AHEAD, so no commit had to fill. */
	if (kept == 1) {
		CHECK_EQ_INT(store_open(base, STORE_SERVER, &st, err, sizeof err), STORE_OK);
		if (st) {
			deliver(st, acc, 20000); /* its transaction fills the room */
			uint64_t fills = store_test_room_fills(st, NULL);
			uint64_t steps = store_test_room_steps(st), start = used_bytes(st);
			for (int i = 0; i < 100; i++) {
				deliver_queued(st, acc, 60000);
				if (!wait_room(st)) {
					CHECK(!"the writer did not make room after a commit");
					break;
				}
			}
			CHECK(used_bytes(st) - start > STORE_ROOM_AHEAD - STORE_ROOM_LOW);
			CHECK_EQ_INT(store_test_room_fills(st, NULL), fills);
			CHECK(store_test_room_steps(st) > steps);
			CHECK(zeros_between(used_bytes(st), file_size()));
			store_close(&st);
		}
	}
	/* It opens again, every message there (the room did not confuse LMDB). */
	if (kept == 1) {
		CHECK_EQ_INT(store_open(base, STORE_READONLY, &st, err, sizeof err), STORE_OK);
		if (st) {
			CHECK(inbox_count(st, acc) > 302);
			store_close(&st);
		}
	}
	unit_rmrf(base);
	return unit_done("test_store_room");
}
