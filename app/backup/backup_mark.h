/*
 * backup_mark.h — whose scheduled backups a directory holds, and whether
 * it is the disk they were written to.
 *
 * TERN_BACKUP_DIR/TERN-BACKUPS, written at the first scheduled run there,
 * names the server that owns the directory: "tern-backups 1", then
 * "owner HEX" (32 hex digits: a BLAKE2b hash of a key derived from the
 * data directory's secrets.key, which backups carry, so a server restored
 * from them owns them still), then the host and data directory it was
 * written from (for the admin reading an error). Every run checks it:
 *   - another owner: refused. Two servers sharing one directory (two
 *     containers on one NAS share) would prune each other's backups (each
 *     keeps its newest N of all there) and base runs on the other's; as
 *     restic and borg refuse a repository that is not theirs, the second
 *     server's runs fail and say so, touching nothing there.
 *   - no marker where this server wrote one before: refused. That is a
 *     backup disk not mounted (a missing bind mount, a NAS down): the
 *     directory is then an empty one on the root disk, and backups written
 *     there would fill it. The data directory keeps the list of backup
 *     directories this server marked (backup-dirs, at most 32, the latest
 *     last, carried by backups), the one memory that survives the
 *     disk's absence.
 *   - an empty TERN-BACKUPS: the admin's word that a new disk is there on
 *     purpose: adopted (the marker written in it).
 *   - no marker, never marked here: the first run (or the first since an
 *     upgrade from a build without markers): written.
 */
#ifndef TERN_BACKUP_BACKUP_MARK_H
#define TERN_BACKUP_BACKUP_MARK_H

#include <stddef.h>

#define BACKUP_MARK_FILE "TERN-BACKUPS"
/* In the data directory: the backup directories this server marked, one
 * a line. Backups carry it (backup.c's key files), so a restored server
 * knows them too. */
#define BACKUP_MARK_DIRS_FILE "backup-dirs"

/*
 * Checks (and when due writes) the marker of backup directory dir for
 * the server of data_dir, as above. 0, or -1 with err saying why and
 * what to do.
 */
int backup_mark_check(const char *dir, const char *data_dir, char *err, size_t errsz);

/*
 * Whether dir's marker names another server (or is not a marker): 1, and
 * the backups there are not this server's (not its last good one, not a
 * run it missed); 0 when it is this server's, or there is none yet.
 * Writes nothing in dir.
 */
int backup_mark_foreign(const char *dir, const char *data_dir);

#endif
