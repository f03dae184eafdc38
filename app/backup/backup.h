/*
 * backup.h — whole backups of a data directory: `tern backup DIR`,
 * `tern backup --verify DIR`, `tern restore DIR`, and the server's
 * scheduled backups (backup_sched.c).
 *
 * A backup directory holds the store's snapshot (store/store_backup.h:
 * store.mdb and blobs/), the data directory's key files under keys/
 * (secrets.key, which seals stored secrets, and the TLS and ACME files:
 * a restored server keeps its certificate and can open what it sealed;
 * backup-dirs, the scheduled backup directories it marked, backup_mark.h),
 * and MANIFEST (backup_manifest.h), written last, after everything else
 * is on disk: a directory without a whole MANIFEST is not a backup, so a
 * backup cut short (a full disk, a crash) never looks valid. On a failure
 * backup_run removes what it wrote.
 *
 * Not in a backup: the spool (messages not yet acknowledged, which their
 * senders still hold), the disk reserve and the copies an upgrade keeps
 * (backup-schema-N).
 *
 * Caveats: a base backup given for an incremental one must stay on the
 * same file system for its blobs to be hard-linked (they are copied
 * otherwise); deleting either backup later does not touch the other.
 */
#ifndef TERN_BACKUP_BACKUP_H
#define TERN_BACKUP_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "backup/backup_manifest.h"
#include "store/store_backup.h"

#define BACKUP_MANIFEST_FILE "MANIFEST"

/* Progress of a long operation (bytes and items done of the totals). */
struct backup_progress {
	store_backup_progress_fn *fn; /* may be NULL */
	void *arg;
};

/*
 * Backs up the store st (opened on data_dir) into dir, which must not
 * exist or be empty (created 0700), or hold only what a backup cut short
 * there left (no MANIFEST; no run holding its lock): removed first, and
 * the backup made from the start. base may name an earlier backup
 * (incremental: its blobs are reused). m_r->run, set by the caller, is
 * the run number the manifest records (0: none). On success *m_r is the
 * manifest written (its list released with backup_manifest_free). -1 with err on failure, after removing what it wrote; *code_r
 * (may be NULL) is the store code (STORE_EFULL for a full disk).
 */
int backup_run(struct store *st, const char *data_dir, const char *dir, const char *base,
               struct backup_manifest *m_r, const struct backup_progress *p, int *code_r,
               char *err, size_t errsz);

/*
 * Checks the backup in dir: the manifest is whole, every file it lists
 * has its size and checksum, the store's records open and add up (each
 * account's counters, a blob record for every email's bytes), every
 * blob is there with its checksum, and the counts equal the manifest's.
 * 0 with *m_r (its list released with backup_manifest_free), or -1 with
 * err saying the first thing wrong.
 */
int backup_verify(const char *dir, struct backup_manifest *m_r, const struct backup_progress *p,
                  char *err, size_t errsz);

/*
 * Restores the backup in dir into data_dir, which must not exist or be
 * empty (refused otherwise: a restore never mixes with a store). The
 * manifest and files are checked first, store.mdb as it is copied, its
 * records (counters, every email's blob record) before the blobs, and
 * every blob on the way; of keys/,
 * only the files the manifest lists are restored, each copy checked
 * against it (anything else put there is left out). A backup
 * of a newer schema than this build's is refused (*code_r STORE_EINVAL),
 * and so is a data_dir a running tern serve holds (STORE_EBUSY: its
 * lock is held through the restore, so none starts on it meanwhile).
 * On failure what was written is removed, leaving data_dir empty.
 * 0 with *queue_r (may be NULL) the outbound queue entries restored, which
 * the restored store's first open holds (store_restore.c), or -1 with err.
 */
int backup_restore(const char *dir, const char *data_dir, const struct backup_progress *p,
                   uint64_t *queue_r, int *code_r, char *err, size_t errsz);

/*
 * Reads and parses dir/MANIFEST: 0 (m's list released with
 * backup_manifest_free), or -1 with err (missing, cut short, malformed).
 */
int backup_manifest_read(const char *dir, struct backup_manifest *m, char *err, size_t errsz);

/*
 * Removes a backup directory's contents that a backup writes (MANIFEST,
 * store.mdb, blobs/, keys/) and then the directory when it is empty.
 * 0, or -1 with errno set.
 */
int backup_remove(const char *dir);

/*
 * The lock of a run in progress: an exclusive flock(2) on the run's
 * directory itself (no file in it), held by backup_run from just after
 * it creates or checks dir until it returns, whichever process runs it
 * (tern backup by hand, the server's schedule). Takes it without
 * waiting: an open descriptor holding it (the caller closes it to let
 * go), or -1 with errno EWOULDBLOCK when a run holds it, or another
 * errno (ENOENT: dir is gone; ENOTDIR, ELOOP: not a directory of its
 * own). The scheduler takes it before it removes a run without a
 * MANIFEST, so a run is never pruned as stale while it writes.
 */
int backup_lock(const char *dir);

#endif
