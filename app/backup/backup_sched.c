/*
 * backup_sched.c — the daily backup thread of tern serve (backup_sched.h).
 *
 * The backups themselves are the directory: tern-YYYYMMDDTHHMMSSZ, one per
 * run, each whole on its own (blobs hard-linked from the previous one), and
 * a run is good when its MANIFEST is there. Listing reads the manifests;
 * pruning removes the oldest good ones past TERN_BACKUP_KEEP, and before
 * each run and at each prune any tern-* directory without a manifest that
 * no run is writing (left by a crash) goes: a run writing holds backup_lock on its directory, from
 * this server or any other process (tern backup by hand). Nothing else in the directory is touched:
 * not a tern-* symlink (never followed), nor a run whose MANIFEST is there but unreadable or
 * damaged (kept and logged at each prune). Each run first checks the directory's TERN-BACKUPS
 * marker (backup_mark.h): another server's directory, or a backup disk not mounted, fails the
 * run before anything there is touched.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup/backup.h"
#include "backup/backup_mark.h"
#include "backup/backup_sched.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "store/store.h"

#define NAME_PREFIX "tern-"
/* The map is grown to hold this much more than the store uses before a
 * backup (at least the store's size again): what the server writes while
 * the snapshot is held cannot reuse freed pages. */
#define RESERVE_MIN ((uint64_t)1 << 30)

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	pthread_t thread;
	int started, stopping, requested, running;
	struct store *st;
	char data_dir[512], dir[512];
	unsigned minute, keep;
	int64_t running_since, next, last_good;
	uint64_t last_bytes, last_ms; /* of the newest good backup */
	char running_name[64];
	uint64_t done_bytes, total_bytes, failures;
	struct backup_sched_entry fails[BACKUP_SCHED_FAILS]; /* newest first */
	size_t nfails;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static int64_t next_due(int64_t now, unsigned minute)
{
	int64_t day = now - now % 86400, at = day + (int64_t)minute * 60;
	return at > now ? at : at + 86400;
}

static int is_backup_name(const char *n)
{
	return strncmp(n, NAME_PREFIX, sizeof NAME_PREFIX - 1) == 0 && strlen(n) < 64 &&
	       strchr(n, '/') == NULL;
}

/* The "-N" suffix of a run's name as a number (1 without one), and the
 * length of the name before it. */
static unsigned long name_suffix(const char *n, size_t *base_r)
{
	const char *dash = strrchr(n, '-');
	size_t pre = sizeof NAME_PREFIX - 2; /* the prefix's own '-' */

	*base_r = strlen(n);
	if (dash == NULL || (size_t)(dash - n) <= pre || dash[1] == '\0' ||
	    strspn(dash + 1, "0123456789") != strlen(dash + 1) || strlen(dash + 1) > 9)
		return 1;
	*base_r = (size_t)(dash - n);
	return strtoul(dash + 1, NULL, 10);
}

int backup_sched_newer(const struct backup_sched_entry *a, const struct backup_sched_entry *b)
{
	size_t la, lb;

	if (a->run != b->run)
		return a->run > b->run;
	unsigned long sa = name_suffix(a->name, &la), sb = name_suffix(b->name, &lb);
	int c = memcmp(a->name, b->name, la < lb ? la : lb);
	if (c == 0 && la != lb)
		c = la < lb ? -1 : 1;
	if (c != 0)
		return c > 0;
	return sa > sb;
}

static int newest_first(const void *a, const void *b)
{
	const struct backup_sched_entry *x = a, *y = b;
	return backup_sched_newer(x, y) ? -1 : backup_sched_newer(y, x) ? 1 : 0;
}

/* The good backups of dir, newest first, at most max; also, through
 * stale (may be NULL), each tern-* directory without a manifest. */
static size_t list_good(const char *dir, struct backup_sched_entry *e, size_t max,
                        void (*stale)(const char *dir, const char *name))
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;
	struct backup_manifest *m;

	if (d == NULL)
		return 0;
	m = xmalloc(sizeof *m);
	while ((de = readdir(d)) != NULL) {
		char path[1200], err[300];
		if (!is_backup_name(de->d_name))
			continue;
		struct stat sb;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		/* Only a directory of this one: a symlink named like a run is
		 * neither listed nor a base, and never pruned through. */
		if (lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
			continue;
		if (backup_manifest_read(path, m, err, sizeof err) != 0) {
			/* A run that never finished has no MANIFEST. One that is
			 * there but unreadable or damaged is a backup all the
			 * same (what it holds may be all there is): kept, said. */
			char mp[1300];
			snprintf(mp, sizeof mp, "%s/" BACKUP_MANIFEST_FILE, path);
			if (lstat(mp, &sb) != 0 && errno == ENOENT) {
				if (stale)
					stale(dir, de->d_name);
			} else if (stale) {
				log_warn("backup", NULL, "event=backup_manifest_unreadable path=\"%s\" "
				         "error=\"%s\" hint=\"kept: not pruned; check it with tern backup "
				         "--verify\"", path, err);
			}
			continue;
		}
		struct backup_sched_entry cand;
		memset(&cand, 0, sizeof cand);
		/* is_backup_name: shorter than 64 */
		snprintf(cand.name, sizeof cand.name, "%.63s", de->d_name);
		cand.run = m->run;
		cand.started = (int64_t)m->created;
		cand.duration_ms = m->duration_ms;
		cand.bytes = m->blob_bytes;
		for (size_t i = 0; i < m->nfiles; i++)
			cand.bytes += m->files[i].size;
		cand.emails = m->emails;
		cand.reused = m->reused;
		cand.ok = 1;
		backup_manifest_free(m);
		if (n == max) {
			/* Keep the newest max: replace the oldest when this is newer. */
			qsort(e, n, sizeof *e, newest_first);
			if (!backup_sched_newer(&cand, &e[n - 1]))
				continue;
			n--;
		}
		e[n++] = cand;
	}
	closedir(d);
	free(m);
	qsort(e, n, sizeof *e, newest_first);
	return n;
}

static void remove_stale(const char *dir, const char *name)
{
	char path[1200];
	int busy;

	pthread_mutex_lock(&S.mu);
	busy = S.running && strcmp(S.running_name, name) == 0;
	pthread_mutex_unlock(&S.mu);
	if (busy)
		return;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	/* A run in progress (tern backup by hand into this directory, or
	 * another server's schedule) holds its lock: left to finish. Under
	 * the lock, a run that finished since the listing has its MANIFEST. */
	int fd = backup_lock(path);
	if (fd < 0) {
		if (errno == EWOULDBLOCK)
			log_info("backup", NULL, "event=backup_stale_kept path=\"%s\" "
			         "reason=in_progress", path);
		return;
	}
	char mp[1300];
	struct stat sb;
	snprintf(mp, sizeof mp, "%s/" BACKUP_MANIFEST_FILE, path);
	if (lstat(mp, &sb) != 0 && errno == ENOENT && backup_remove(path) == 0)
		log_info("backup", NULL, "event=backup_stale_removed path=\"%s\"", path);
	close(fd);
}

/* Removes the runs without a MANIFEST that no run holds (remove_stale)
 * before a run: what a crash or a power loss left mid-run can be as big
 * as a whole backup, and on a backup disk sized for the backups it made
 * every later run fail for want of room, so none ever got to the prune
 * after a good one. Good backups are not touched here. */
static void sweep_stale(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char path[1200], mp[1300];
		struct stat sb;
		if (!is_backup_name(de->d_name))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		snprintf(mp, sizeof mp, "%s/" BACKUP_MANIFEST_FILE, path);
		if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && lstat(mp, &sb) != 0 &&
		    errno == ENOENT)
			remove_stale(dir, de->d_name);
	}
	closedir(d);
}

/* Keeps the newest `keep` good backups (backup_sched_newer: by run
 * number, so a clock that went back, a machine that booted with a clock
 * ahead, prunes the runs named ahead of it in their turn, not the runs
 * made since), and always `current`, the run just made. */
static void prune(const char *current)
{
	pthread_mutex_lock(&S.mu);
	unsigned keep = S.keep;
	pthread_mutex_unlock(&S.mu);
	/* The newest `keep`, the run just made and up to a list's worth
	 * more to remove: a list of a fixed size no larger than `keep`
	 * (up to CONFIG_BACKUP_KEEP_MAX) would never reach one to remove. */
	size_t max = (size_t)keep + BACKUP_SCHED_LIST_MAX + 1;
	struct backup_sched_entry *e = xmalloc(sizeof *e * max);
	size_t n = list_good(S.dir, e, max, remove_stale);
	size_t kept = 0;

	/* Beyond the list's size, older ones go at the next prunes. */
	for (size_t i = 0; i < n; i++) {
		char path[1200];
		if (strcmp(e[i].name, current) == 0) {
			kept++;
			continue;
		}
		if (kept < keep) {
			kept++;
			continue;
		}
		snprintf(path, sizeof path, "%s/%s", S.dir, e[i].name);
		if (backup_remove(path) == 0)
			log_info("backup", NULL, "event=backup_pruned path=\"%s\" keep=%u", path,
			         keep);
		else
			log_warn("backup", NULL, "event=backup_prune_failed path=\"%s\" error=\"%s\"", path,
			         strerror(errno));
	}
	free(e);
}

/* Also how a stop reaches a backup running: it ends at the next blob. */
static int progress(void *arg, uint64_t done_bytes, uint64_t total_bytes, uint64_t done,
                    uint64_t total)
{
	(void)arg;
	(void)done;
	(void)total;
	pthread_mutex_lock(&S.mu);
	S.done_bytes = done_bytes;
	S.total_bytes = total_bytes;
	int stop = S.stopping;
	pthread_mutex_unlock(&S.mu);
	return stop;
}

static void note_failure(int64_t started, uint64_t ms, const char *why)
{
	pthread_mutex_lock(&S.mu);
	memmove(&S.fails[1], &S.fails[0], sizeof S.fails[0] * (BACKUP_SCHED_FAILS - 1));
	struct backup_sched_entry *f = &S.fails[0];
	memset(f, 0, sizeof *f);
	f->started = started;
	f->duration_ms = ms;
	snprintf(f->error, sizeof f->error, "%.*s", (int)sizeof f->error - 1, why);
	if (S.nfails < BACKUP_SCHED_FAILS)
		S.nfails++;
	S.failures++;
	pthread_mutex_unlock(&S.mu);
}

static void run_one(void)
{
	struct backup_sched_entry newest;
	/* Zeroed: a run failing before the manifest leaves no list to free. */
	struct backup_manifest *m = xcalloc(1, sizeof *m);
	char path[1200], base[1200], err[1024], name[64];
	int64_t started = (int64_t)time(NULL);
	struct timespec t0, t1;
	struct tm tm;
	time_t t = (time_t)started;
	uint64_t used = 0, mapsize = 0;
	int code;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	gmtime_r(&t, &tm);
	strftime(name, sizeof name, NAME_PREFIX "%Y%m%dT%H%M%SZ", &tm);
	snprintf(path, sizeof path, "%s/%s", S.dir, name);
	/* Before anything is removed or written there: the directory is
	 * this server's, and the disk it wrote to (backup_mark.h). */
	if (backup_mark_check(S.dir, S.data_dir, err, sizeof err) != 0) {
		log_error("backup", NULL, "event=backup_failed path=\"%s\" ms=0 error=\"%s\"", path,
		          err);
		note_failure(started, 0, err);
		free(m);
		return;
	}
	sweep_stale(S.dir);
	for (int i = 2; access(path, F_OK) == 0 && i < 100; i++) {
		snprintf(name + strlen(NAME_PREFIX) + 16, sizeof name - strlen(NAME_PREFIX) - 16, "-%d", i);
		snprintf(path, sizeof path, "%s/%s", S.dir, name);
	}
	int have_base = list_good(S.dir, &newest, 1, NULL) == 1;
	if (have_base)
		snprintf(base, sizeof base, "%s/%s", S.dir, newest.name);
	/* The newest has the highest run number there is. */
	m->run = (have_base ? newest.run : 0) + 1;

	pthread_mutex_lock(&S.mu);
	snprintf(S.running_name, sizeof S.running_name, "%s", name);
	pthread_mutex_unlock(&S.mu);

	store_map_info(S.st, &mapsize, &used);
	if (store_map_reserve(S.st, used > RESERVE_MIN ? used : RESERVE_MIN) != STORE_OK)
		log_warn("backup", NULL, "event=map_reserve_failed hint=\"a map growth during the "
		         "backup waits for its end\"");
	log_info("backup", NULL, "event=backup_start path=\"%s\" base=\"%s\"", path,
	         have_base ? base : "");
	struct backup_progress p = {progress, NULL};
	int rc = backup_run(S.st, S.data_dir, path, have_base ? base : NULL, m, &p, &code, err, sizeof err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	uint64_t ms = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000 +
	              (uint64_t)((t1.tv_nsec - t0.tv_nsec) / 1000000);
	if (rc != 0) {
		log_error("backup", NULL, "event=backup_failed path=\"%s\" ms=%llu error=\"%s\"", path,
		          (unsigned long long)ms, err);
		note_failure(started, ms, err);
	} else {
		uint64_t bytes = m->blob_bytes;
		for (size_t i = 0; i < m->nfiles; i++)
			bytes += m->files[i].size;
		pthread_mutex_lock(&S.mu);
		S.last_good = (int64_t)m->created;
		S.last_bytes = bytes;
		S.last_ms = m->duration_ms;
		pthread_mutex_unlock(&S.mu);
		prune(name);
	}
	backup_manifest_free(m);
	free(m);
}

static void *sched_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&S.mu);
	for (;;) {
		int64_t now = (int64_t)time(NULL);
		if (S.stopping)
			break;
		if (!S.requested && now < S.next) {
			struct timespec until = {.tv_sec = (time_t)(S.next < now + 60 ? S.next : now + 60)};
			/* Wall clock: the schedule is a time of day (and a minute's
			 * sleep at most notices a clock that jumped). */
			pthread_cond_timedwait(&S.cond, &S.mu, &until);
			continue;
		}
		S.requested = 0;
		S.running = 1;
		S.running_since = now;
		/* From here GET /backups shows this run's progress: none yet
		 * (the last run's figures stay until now). */
		S.done_bytes = S.total_bytes = 0;
		pthread_mutex_unlock(&S.mu);
		run_one();
		pthread_mutex_lock(&S.mu);
		S.running = 0;
		S.running_name[0] = '\0';
		S.next = next_due((int64_t)time(NULL), S.minute);
	}
	pthread_mutex_unlock(&S.mu);
	return NULL;
}

/* Starts the schedule thread for dir (S.st and S.data_dir are set). */
static int start_thread(const char *dir, unsigned minute, unsigned keep, char *err, size_t errsz)
{
	struct backup_sched_entry newest;

	/* A directory that cannot be made now (a disk not mounted yet) is
	 * logged, and each run fails visibly until it can be. */
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		log_error("backup", NULL, "event=backup_dir_unusable dir=\"%s\" error=\"%s\"",
		          dir, strerror(errno));
	/* Another server's backups (backup_mark.h) are not this one's last
	 * good backup: its own runs there fail. */
	int have = !backup_mark_foreign(dir, S.data_dir) && list_good(dir, &newest, 1, NULL) == 1;
	int64_t last_good = have ? newest.started : 0;
	pthread_mutex_lock(&S.mu);
	S.last_bytes = have ? newest.bytes : 0;
	S.last_ms = have ? newest.duration_ms : 0;
	snprintf(S.dir, sizeof S.dir, "%s", dir);
	S.minute = minute;
	S.keep = keep;
	S.last_good = last_good;
	S.stopping = 0;
	int64_t now = (int64_t)time(NULL);
	S.next = next_due(now, S.minute);
	/* The last run due came and went with no good backup since (tern was
	 * stopped at that time, or during the run, which stopping removes):
	 * it is made now, not a day late. Only after a good one: a schedule
	 * just set on an empty directory waits for its time. */
	int missed = last_good > 0 && last_good < S.next - 86400;
	if (missed)
		S.next = now;
	int rc = pthread_create(&S.thread, NULL, sched_main, NULL);
	S.started = rc == 0;
	pthread_mutex_unlock(&S.mu);
	if (rc != 0) {
		snprintf(err, errsz, "cannot start the backup thread");
		return -1;
	}
	log_info("backup", NULL, "event=backup_scheduled dir=\"%s\" time=%02u:%02u keep=%u", dir,
	         minute / 60, minute % 60, keep);
	if (missed)
		log_info("backup", NULL,
		         "event=backup_missed last_good=%lld hint=\"the run due at "
		         "%02u:%02u was not made: one starts now\"",
		         (long long)last_good, minute / 60, minute % 60);
	return 0;
}

int backup_sched_start(const struct config *cfg, struct store *st, char *err, size_t errsz)
{
	S.st = st;
	snprintf(S.data_dir, sizeof S.data_dir, "%s", cfg->data_dir);
	if (cfg->backup_dir[0] == '\0')
		return 0;
	return start_thread(cfg->backup_dir, cfg->backup_minute, cfg->backup_keep, err, errsz);
}

void backup_sched_stop(void)
{
	pthread_mutex_lock(&S.mu);
	int started = S.started;
	S.stopping = 1;
	pthread_cond_broadcast(&S.cond);
	pthread_mutex_unlock(&S.mu);
	if (!started)
		return;
	pthread_join(S.thread, NULL);
	pthread_mutex_lock(&S.mu);
	S.started = 0;
	pthread_mutex_unlock(&S.mu);
}

static int configure(const char *dir, unsigned minute, unsigned keep, char *err, size_t errsz);

int backup_sched_configure(const char *dir, unsigned minute, unsigned keep, char *err, size_t errsz)
{
	/* One change at a time (two admins saving at once). */
	static pthread_mutex_t change_mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&change_mu);
	int rc = configure(dir, minute, keep, err, errsz);
	pthread_mutex_unlock(&change_mu);
	return rc;
}

static int configure(const char *dir, unsigned minute, unsigned keep, char *err, size_t errsz)
{
	pthread_mutex_lock(&S.mu);
	int busy = S.running || S.requested;
	if (!busy && S.started && dir[0] && strcmp(dir, S.dir) == 0) {
		/* Same place: a new time or count applies at once. */
		S.minute = minute;
		S.keep = keep;
		S.next = next_due((int64_t)time(NULL), minute);
		pthread_cond_broadcast(&S.cond);
		pthread_mutex_unlock(&S.mu);
		log_info("backup", NULL, "event=backup_scheduled dir=\"%s\" time=%02u:%02u keep=%u", dir,
		         minute / 60, minute % 60, keep);
		return 0;
	}
	pthread_mutex_unlock(&S.mu);
	if (busy) {
		snprintf(err, errsz, "a backup is running; change the schedule when it ends");
		return 1;
	}
	if (!S.st) {
		snprintf(err, errsz, "backups are not available in this process");
		return -1;
	}
	backup_sched_stop();
	if (!dir[0]) {
		log_info("backup", NULL, "event=backup_schedule_off");
		return 0;
	}
	return start_thread(dir, minute, keep, err, errsz);
}

int backup_sched_request(void)
{
	int rc;
	pthread_mutex_lock(&S.mu);
	if (!S.started) {
		pthread_mutex_unlock(&S.mu);
		return -1;
	}
	rc = S.running || S.requested ? 1 : 0;
	if (rc == 0) {
		S.requested = 1;
		S.running_since = (int64_t)time(NULL); /* "since" of a run asked for */
		pthread_cond_broadcast(&S.cond);
	}
	pthread_mutex_unlock(&S.mu);
	return rc;
}

void backup_sched_status(struct backup_sched_status *s)
{
	memset(s, 0, sizeof *s);
	pthread_mutex_lock(&S.mu);
	s->configured = S.started;
	snprintf(s->dir, sizeof s->dir, "%s", S.dir);
	pthread_mutex_unlock(&S.mu);
	if (!s->configured) {
		s->dir[0] = '\0';
		return;
	}
	s->n = list_good(s->dir, s->e, BACKUP_SCHED_LIST_MAX, NULL);
	pthread_mutex_lock(&S.mu);
	s->minute = S.minute;
	s->keep = S.keep;
	s->running = S.running || S.requested;
	s->running_since = S.running_since;
	/* A run asked for and not begun yet has written nothing: the
	 * counters hold the last run's until it begins (sched_main). */
	s->done_bytes = S.running ? S.done_bytes : 0;
	s->total_bytes = S.running ? S.total_bytes : 0;
	s->next = S.next;
	s->last_good = S.last_good;
	s->failures = S.failures;
	for (size_t i = 0; i < S.nfails; i++)
		s->e[s->n++] = S.fails[i];
	pthread_mutex_unlock(&S.mu);
}

void backup_sched_metrics(int64_t *last_good_r, uint64_t *bytes_r, uint64_t *ms_r,
                          uint64_t *failures_r, int *configured_r, int *running_r)
{
	pthread_mutex_lock(&S.mu);
	*last_good_r = S.last_good;
	*bytes_r = S.last_bytes;
	*ms_r = S.last_ms;
	*failures_r = S.failures;
	*configured_r = S.started;
	*running_r = S.running;
	pthread_mutex_unlock(&S.mu);
}
