/*
 * store_backup.h — the store's side of `tern backup` / `tern restore`
 * (store_backup.c): a consistent snapshot of the live store written into
 * a backup directory, a check of one, and its restore into an empty data
 * directory. app/backup/ adds the key files, the manifest and the
 * schedule around these.
 *
 * A backup directory holds store.mdb (every record but the blob bytes,
 * compacted) and blobs/XX/<hex> (each blob's bytes, named by their
 * BLAKE2b-256). Restoring gives back the very records: account, mailbox
 * and email ids, UIDVALIDITYs, UIDs and modseqs are those of the snapshot.
 *
 * Caveats: the snapshot is one LMDB read transaction, held for the whole
 * backup; the live store cannot reuse pages freed meanwhile, so its file
 * grows by what is written during the backup (used_start / used_end say
 * how much). None of these functions removes what it wrote on failure:
 * the caller owns the directory and cleans it up.
 */
#ifndef TERN_STORE_STORE_BACKUP_H
#define TERN_STORE_STORE_BACKUP_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* What a backup holds (counts of the snapshot). */
struct store_backup_info {
	uint32_t schema;         /* schema version of the records */
	uint64_t accounts, mailboxes, emails, queue; /* records of each kind */
	uint64_t records;        /* records in store.mdb (write only) */
	uint64_t blobs, blob_bytes;
	uint64_t blobs_reused;   /* taken from the base backup (write only) */
	uint64_t used_start, used_end; /* the live store's used bytes at the
	                                * snapshot's start and end (write only) */
};

/* Called after each blob: bytes and blobs done so far, of the totals.
 * Returns 0 to go on; anything else stops the work (ECANCELED). */
typedef int store_backup_progress_fn(void *arg, uint64_t done_bytes, uint64_t total_bytes,
                                      uint64_t done_items, uint64_t total_items);

/*
 * Writes the snapshot into dir (an existing, empty directory): store.mdb
 * and blobs/. base (may be NULL) is an earlier backup directory: a blob it
 * holds under the same name is hard-linked from it (copied when the link
 * fails across file systems) instead of read from the store, once the
 * bytes linked hash to that name (else the store's bytes are written).
 * Every blob read from the store is hashed again and refused when its
 * bytes do not match its name. progress (may be NULL) is called with arg.
 * STORE_OK with *info filled; STORE_EFULL when the disk filled up,
 * STORE_EINVAL for damage found in the store, STORE_ETEMP otherwise; err
 * says which file.
 */
int store_backup_write(struct store *st, const char *dir, const char *base,
                       struct store_backup_info *info, store_backup_progress_fn *progress, void *arg,
                       char *err, size_t errsz);

/*
 * Checks the backup in dir without changing it: store.mdb opens, every
 * account's counters (emails, bytes) match its email records, every
 * blobref record's refcount is the number of email records and queue
 * entries naming its blob (and each one named has a record), and every
 * blob named by a blobref record is there with its size and checksum.
 * Memory: 32 bytes per email and queue entry, for that count.
 * STORE_OK with *info's counts; STORE_EINVAL when something does not
 * match (err says what), STORE_ETEMP when it cannot be read.
 */
int store_backup_check(const char *dir, struct store_backup_info *info,
                       store_backup_progress_fn *progress, void *arg, char *err, size_t errsz);

/*
 * Builds data_dir/data.mdb from the backup in dir: store.mdb's records,
 * then every blob's bytes put back where its blobref record says (each
 * checked against its name on the way). store.mdb is hashed as it is
 * copied and refused (STORE_EINVAL) unless it has want_size and
 * want_hash (the manifest's): one read, no window between a check and
 * the copy; its records are checked as store_backup_check does before
 * any blob is written, and its schema version must be want_schema (the
 * manifest's) and no newer than this build's (STORE_EINVAL). data_dir must exist and hold no
 * data.mdb; the caller checks it is empty. The store is built, synced,
 * as data_dir/STORE_RESTORING_FILE: the caller renames it to data.mdb
 * once the rest of the data directory is in place too, and removes it
 * on failure.
 * STORE_OK; STORE_EINVAL for a damaged blob, STORE_EFULL for a full
 * disk, STORE_ETEMP otherwise.
 */
/* The name of a store a restore is still building (and its LMDB lock
 * file, with "-lock"): store_open refuses a data directory holding it. */
#define STORE_RESTORING_FILE "restoring.mdb"

int store_backup_restore(const char *dir, const char *data_dir, uint64_t want_size,
                         const uint8_t want_hash[32], uint32_t want_schema,
                         store_backup_progress_fn *progress, void *arg, char *err, size_t errsz);

/* dir/blobs/XX/<64 hex digits of id> into out. */
void store_backup_blob_path(char *out, size_t outsz, const char *dir, const uint8_t id[32]);

/*
 * Grows the map (in this process) so that at least `ahead` bytes are free
 * beyond the used pages: a backup in the server holds maplock shared for
 * its whole read transaction, during which a growth would have to wait.
 * STORE_OK or STORE_ETEMP.
 */
int store_map_reserve(struct store *st, uint64_t ahead);

#endif
