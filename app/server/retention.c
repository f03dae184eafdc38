/*
 * retention.c — Trash and Junk emptied after N days: the pass and its
 * schedule (design in retention.h).
 */
#include <errno.h>
#include <pthread.h>
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
/* How often the thread looks whether a pass is due (or, in tests, for
 * the clock file): the main thread's old tick. */
#define RETENTION_POLL_S 5

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

/* ---- the thread's state: its wait is the pass's rest too ---- */

static pthread_t thread;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static pthread_once_t cv_once = PTHREAD_ONCE_INIT;
static int started, stopping;

/* Monotonic: a wall clock set back does not stretch a rest or a poll. */
static void cv_init(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &a);
	pthread_condattr_destroy(&a);
}

static int stopping_now(void)
{
	return __atomic_load_n(&stopping, __ATOMIC_SEQ_CST);
}

/* Waits ms, or less when retention_stop() is asked meanwhile. */
static void wait_ms(uint64_t ms)
{
	struct timespec ts;
	pthread_once(&cv_once, cv_init);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&mu);
	while (!stopping) {
		if (pthread_cond_timedwait(&cv, &mu, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&mu);
}

/* After a slice that took took_ms of the writer, as long again (capped):
 * deliveries get the writer to themselves half the time at least. A stop
 * cuts the rest short. */
static void rest_after(uint64_t took_ms)
{
	if (took_ms > RETENTION_REST_MAX_MS)
		took_ms = RETENTION_REST_MAX_MS;
	wait_ms(took_ms);
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

/* ---- the schedule, on the thread ---- */

static const struct config *r_cfg;
static struct store *r_st;
static const char *clock_file; /* TERN_TEST_RETENTION_CLOCK_FILE, or NULL */
static char hold_file[512];    /* clock_file + ".hold" */

/* Test-only (clock_file set): while hold_file exists the pass waits
 * before its next slice, so a test sees the server while a pass runs. */
static void hold_while_asked(void)
{
	if (access(hold_file, F_OK) != 0)
		return;
	log_info("retention", NULL, "event=retention_held");
	while (!stopping_now() && access(hold_file, F_OK) == 0)
		wait_ms(20);
}

/* The pass's stop(): retention_stop() asked, checked between slices. */
static int pass_stop(void)
{
	if (clock_file)
		hold_while_asked();
	return stopping_now();
}

/* The test clock's pass, when a test wrote the file. */
static void test_pass(void)
{
	int64_t offset;
	if (!test_clock(clock_file, &offset))
		return;
	uint64_t t0 = loop_now_ms();
	size_t n = retention_pass(r_st, r_cfg->trash_retention_days, r_cfg->junk_retention_days,
				  (int64_t)time(NULL) + offset, pass_stop);
	log_info("retention", NULL, "event=retention_pass clock_offset=%lld expunged=%zu ms=%llu",
		 (long long)offset, n, (unsigned long long)(loop_now_ms() - t0));
}

static void *retention_main(void *arg)
{
	int64_t next = (int64_t)time(NULL) + RETENTION_FIRST_S;
	(void)arg;
	while (!stopping_now()) {
		wait_ms(RETENTION_POLL_S * 1000);
		if (stopping_now())
			break;
		if (clock_file) {
			test_pass();
			continue;
		}
		int64_t now = (int64_t)time(NULL);
		if (now < next)
			continue;
		next = now + RETENTION_EVERY_S;
		retention_pass(r_st, r_cfg->trash_retention_days, r_cfg->junk_retention_days, now,
			       pass_stop);
	}
	return NULL;
}

int retention_start(const struct config *cfg, struct store *st)
{
	clock_file = getenv("TERN_TEST_RETENTION_CLOCK_FILE");
	if (clock_file && !clock_file[0])
		clock_file = NULL;
	if (!clock_file && !cfg->trash_retention_days && !cfg->junk_retention_days)
		return 0; /* nothing to empty: no thread */
	if (clock_file)
		snprintf(hold_file, sizeof hold_file, "%s.hold", clock_file);
	r_cfg = cfg;
	r_st = st;
	__atomic_store_n(&stopping, 0, __ATOMIC_SEQ_CST);
	pthread_once(&cv_once, cv_init);
	if (pthread_create(&thread, NULL, retention_main, NULL) != 0) {
		log_error("retention", NULL,
			  "event=retention_not_started reason=\"pthread_create failed\"");
		return -1;
	}
	started = 1;
	return 0;
}

void retention_stop(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&mu);
	__atomic_store_n(&stopping, 1, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, NULL);
	started = 0;
}
