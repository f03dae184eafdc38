/*
 * retention.c — Trash and Junk emptied after N days: the pass and its
 * schedule (design in retention.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/str.h"
#include "core/xalloc.h"
#include "server/retention.h"

/* The first pass a minute after start (the store has settled), then hourly:
 * a day's granularity needs no more. */
#define RETENTION_FIRST_S 60
#define RETENTION_EVERY_S 3600

/* The accounts, read first: no callback holds a read transaction while
 * the pass writes. */
struct ids {
	uint32_t *id;
	size_t n, cap;
};

static void push_id(struct ids *v, uint32_t id)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->id = xrealloc(v->id, v->cap * sizeof *v->id);
	}
	v->id[v->n++] = id;
}

static void account_cb(void *arg, const struct store_account_info *info)
{
	push_id(arg, info->id);
}

/* The account's mailboxes holding \Trash (role[] 0) or \Junk (1). */
struct role_boxes {
	struct ids of[2];
};

static void mailbox_cb(void *arg, const struct store_mailbox_info *info)
{
	struct role_boxes *r = arg;
	if (strcmp(info->role, "trash") == 0)
		push_id(&r->of[0], info->id);
	else if (strcmp(info->role, "junk") == 0)
		push_id(&r->of[1], info->id);
}

static const struct {
	const char *name;
	enum metric metric;
} roles[2] = {
    {"trash", METRIC_RETENTION_TRASH},
    {"junk", METRIC_RETENTION_JUNK},
};

/* After a slice that took took_ms of the writer, as long again (capped):
 * deliveries get the writer to themselves half the time at least. */
static void rest_after(uint64_t took_ms)
{
	if (took_ms > RETENTION_REST_MAX_MS)
		took_ms = RETENTION_REST_MAX_MS;
	struct timespec ts = {0, (long)took_ms * 1000000L};
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec = ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
	}
	nanosleep(&ts, NULL); /* a signal cuts it short: stop() is asked next */
}

/*
 * Expunges the expired messages of one mailbox, a slice at a time.
 * Returns how many went; *stopped_r is 1 when stop() cut it short.
 */
static size_t sweep_mailbox(struct store *st, uint32_t account, uint32_t mailbox, int role,
                            unsigned days, int64_t now, int (*stop)(void), int *stopped_r)
{
	struct store_retention_scan q = {
	    .account = account,
	    .mailbox = mailbox,
	    .now = now,
	    .days = days,
	    .visit = RETENTION_VISIT,
	    .max = RETENTION_BATCH,
	};
	uint32_t uids[RETENTION_BATCH], cursor = 0, uidvalidity = 0;
	size_t total = 0, n;
	int done = 0, rc;

	while (!done) {
		if (stop && stop()) {
			*stopped_r = 1;
			break;
		}
		rc = store_retention_scan(st, &q, &cursor, uids, &n, &uidvalidity, &done);
		if (rc == STORE_ENOTFOUND)
			break; /* deleted meanwhile */
		if (rc != STORE_OK) {
			log_warn("retention", NULL,
			         "event=retention_failed account=%u mailbox=%u "
			         "step=scan result=%d",
			         account, mailbox, rc);
			break;
		}
		if (n == 0)
			continue;
		size_t removed = 0;
		/* A UIDVALIDITY changed since the scan (the mailbox was deleted
		 * and made again) removes nothing: STORE_ENOTFOUND, and done. */
		uint64_t t0 = loop_now_ms();
		rc = store_expunge(st, account, mailbox, uidvalidity, uids, n, &removed, NULL);
		if (rc == STORE_ENOTFOUND)
			break;
		if (rc != STORE_OK) {
			log_warn("retention", NULL,
			         "event=retention_failed account=%u mailbox=%u "
			         "step=expunge result=%d",
			         account, mailbox, rc);
			break;
		}
		total += removed;
		metrics_add(roles[role].metric, removed);
		rest_after(loop_now_ms() - t0);
	}
	return total;
}

/* The line an operator greps for: the account by its address too. */
static void log_swept(struct store *st, uint32_t account, uint32_t mailbox, int role, unsigned days,
                      size_t n)
{
	char user[STORE_ADDR_MAX + 1];
	if (store_account_email(st, account, user, sizeof user) != STORE_OK)
		snprintf(user, sizeof user, "-");
	log_info("retention", NULL,
	         "event=retention_expunged user=%s account=%u mailbox=%u role=%s days=%u "
	         "messages=%zu",
	         user, account, mailbox, roles[role].name, days, n);
}

size_t retention_pass(struct store *st, unsigned trash_days, unsigned junk_days, int64_t now,
                      int (*stop)(void))
{
	const unsigned days[2] = {trash_days, junk_days};
	struct ids accounts = {0};
	size_t total = 0;
	int stopped = 0;

	if (!trash_days && !junk_days)
		return 0;
	if (store_account_list(st, account_cb, &accounts) != STORE_OK) {
		log_warn("retention", NULL, "event=retention_failed step=accounts");
		return 0;
	}
	for (size_t a = 0; a < accounts.n && !stopped; a++) {
		struct role_boxes boxes = {0};
		if (store_mailbox_list(st, accounts.id[a], mailbox_cb, &boxes) == STORE_OK) {
			for (int r = 0; r < 2 && !stopped; r++) {
				for (size_t i = 0; i < boxes.of[r].n && days[r] && !stopped; i++) {
					uint32_t mb = boxes.of[r].id[i];
					size_t n = sweep_mailbox(st, accounts.id[a], mb, r, days[r],
					                         now, stop, &stopped);
					if (n)
						log_swept(st, accounts.id[a], mb, r, days[r], n);
					total += n;
				}
			}
		}
		free(boxes.of[0].id);
		free(boxes.of[1].id);
	}
	free(accounts.id);
	return total;
}

/* TERN_TEST_RETENTION_CLOCK_FILE's offset, when the file is there: 1 and
 * *offset_r (the file is removed: one pass per write), else 0. */
static int test_clock(const char *path, int64_t *offset_r)
{
	char text[32];
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	unlink(path);
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno || end == text) {
		log_warn("retention", NULL, "event=retention_test_clock_bad");
		return 0;
	}
	*offset_r = v;
	return 1;
}

void retention_tick(struct store *st, const struct config *cfg, int64_t now, int (*stop)(void))
{
	static int64_t next;
	static const char *clock_file;
	static int clock_read;

	/* The test-only variable is read once, not at every 5-second tick. */
	if (!clock_read) {
		clock_file = getenv("TERN_TEST_RETENTION_CLOCK_FILE");
		clock_read = 1;
	}

	if (clock_file) {
		int64_t offset;
		if (!test_clock(clock_file, &offset))
			return;
		uint64_t t0 = loop_now_ms();
		size_t n = retention_pass(st, cfg->trash_retention_days, cfg->junk_retention_days,
		                          now + offset, stop);
		log_info("retention", NULL,
		         "event=retention_pass clock_offset=%lld expunged=%zu ms=%llu",
		         (long long)offset, n, (unsigned long long)(loop_now_ms() - t0));
		return;
	}
	if (!cfg->trash_retention_days && !cfg->junk_retention_days)
		return;
	if (next == 0)
		next = now + RETENTION_FIRST_S;
	if (now < next)
		return;
	next = now + RETENTION_EVERY_S;
	retention_pass(st, cfg->trash_retention_days, cfg->junk_retention_days, now, stop);
}
