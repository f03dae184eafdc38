/*
 * backup_sched.h — scheduled backups inside tern serve: once a day at
 * TERN_BACKUP_TIME (UTC) a backup goes into TERN_BACKUP_DIR/tern-<UTC time>,
 * incremental against the newest good one there, and only the newest
 * TERN_BACKUP_KEEP good backups stay. The web admin lists them and starts
 * one (backup_sched_request); /metrics shows the age of the last good one.
 *
 * One thread of its own runs them (a backup reads for minutes; no loop may
 * wait on it). Before each, the store's map is grown ahead
 * (store_map_reserve): the backup's read snapshot holds the map lock
 * shared, and a map growth during it would hold up the writer until it
 * ends.
 *
 * A failure is logged (event=backup_failed, level error), counted
 * (tern_backup_failures_total) and kept in the list the web admin shows
 * (the last BACKUP_SCHED_FAILS failures, in memory: the directory shows
 * only good backups, a failed one leaves nothing there).
 *
 * The schedule comes from TERN_BACKUP_* or, when those are not set, from
 * the settings the web admin stored (admin_meta.h), applied at once by
 * backup_sched_configure.
 *
 * Caveats: the list of failures starts empty at each start.
 */
#ifndef TERN_BACKUP_BACKUP_SCHED_H
#define TERN_BACKUP_BACKUP_SCHED_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct store;

#define BACKUP_SCHED_FAILS 10
#define BACKUP_SCHED_LIST_MAX 64

/* One backup as the web admin shows it. */
struct backup_sched_entry {
	char name[64];        /* directory name under TERN_BACKUP_DIR ("" for a failure) */
	int64_t started;      /* seconds since the epoch */
	uint64_t run;         /* the manifest's run number (0: none) */
	uint64_t duration_ms;
	uint64_t bytes;       /* blob bytes plus the listed files */
	uint64_t emails, reused;
	int ok;               /* 1 good (a whole manifest), 0 failed */
	char error[256];      /* why it failed */
};

struct backup_sched_status {
	int configured;        /* TERN_BACKUP_DIR is set */
	char dir[512];
	unsigned minute, keep; /* TERN_BACKUP_TIME (minute of the day, UTC), TERN_BACKUP_KEEP */
	int running;
	int64_t running_since;
	uint64_t done_bytes, total_bytes; /* of the one running */
	int64_t next;          /* next scheduled start, seconds since the epoch */
	int64_t last_good;     /* 0 when none */
	uint64_t failures;     /* since start */
	size_t n;              /* entries, newest first: good ones, then failures */
	struct backup_sched_entry e[BACKUP_SCHED_LIST_MAX + BACKUP_SCHED_FAILS];
};

/*
 * Whether good run a is newer than b (1) or not (0): the higher run
 * number (what a run records in its manifest, the wall clock aside: a
 * clock that went back names new runs below old ones), then the name,
 * its "-N" suffix (a second run in the same second) compared as a
 * number ("-10" after "-9").
 */
int backup_sched_newer(const struct backup_sched_entry *a, const struct backup_sched_entry *b);

/*
 * Starts the thread when cfg->backup_dir is set (creating the directory,
 * 0700; when it cannot, that is logged and each run fails until it can):
 * 0, or -1 with err (no thread). Without cfg->backup_dir, 0 and nothing
 * runs.
 */
int backup_sched_start(const struct config *cfg, struct store *st, char *err, size_t errsz);
/* Stops the thread; a backup running stops at its next blob and is
 * removed (it counts as a failure). */
void backup_sched_stop(void);
/*
 * Changes the schedule while the server runs (the web admin): dir ""
 * turns scheduled backups off, another directory starts them there (the
 * list and the last good backup are read from it), the same directory
 * takes the new time and count at once. 0; 1 while a backup runs (err
 * says so; try when it ends); -1 with err when the thread cannot start.
 * The caller has checked the values (config_backup_*).
 */
int backup_sched_configure(const char *dir, unsigned minute, unsigned keep, char *err, size_t errsz);
/*
 * Asks for a backup now. 0 started, 1 one is running already, -1 not
 * configured.
 */
int backup_sched_request(void);
/* Fills *s (a large struct: the caller allocates it). */
void backup_sched_status(struct backup_sched_status *s);
/*
 * For /metrics: seconds since the epoch of the last good backup (0 none),
 * its size in bytes (what its manifest lists: blobs, store.mdb, keys) and
 * duration in ms, failures since start, and whether scheduled backups are
 * configured.
 */
void backup_sched_metrics(int64_t *last_good_r, uint64_t *bytes_r, uint64_t *ms_r,
                          uint64_t *failures_r, int *configured_r, int *running_r);

#endif
