/*
 * backup_manifest.h — the MANIFEST file of a backup directory: what the
 * backup holds (versions, counts) and the size and BLAKE2b-256 of every
 * file beside it that is not a blob (blobs are named by their checksum).
 *
 * Format: text, one `key value` per line, LF-terminated, written last:
 *
 *   tern-backup 1                 format version (first line)
 *   created 1763850000            seconds since the epoch
 *   run N                         the scheduled run's sequence number in
 *                                 its directory (1 + the highest there):
 *                                 what orders runs, not the wall clock
 *                                 (absent: a run of an older build or
 *                                 `tern backup`, 0)
 *   tern-version v0.3-12-gabcdef  the build that wrote it
 *   schema 5                      store schema of the records
 *   accounts N / mailboxes N / emails N / queue N / blobs N / blob-bytes N
 *   reused N                      blobs hard-linked from the base backup
 *   duration-ms N                 how long the backup took
 *   store-growth N                bytes the live store grew while the
 *                                 snapshot was held
 *   file PATH SIZE HEX            one per file (store.mdb, keys/...)
 *   check HEX                     BLAKE2b-256 of every byte above this
 *                                 line (absent from older builds' ones)
 *   end                           last line: the manifest is whole
 *
 * Unknown keys are skipped (a newer writer may add some); a key given
 * twice (but `file`), a missing
 * `end`, a bad number, or a file path that is absolute, has `..` or a
 * character outside [A-Za-z0-9._/-] makes the whole manifest invalid.
 * The check line makes any other change invalid too (a digit of
 * `created` or `run`, a key made unknown, a line added): the other
 * fields are checked against the files, but these are checked against
 * nothing else. It must be the line before `end`. A manifest of a
 * build before it has none: the line before its `end` is a `file` line
 * (they were written last), and it is read as before; any other line
 * there (a check line whose key was changed) is refused. The format
 * stays 1: older builds skip the check line as an unknown key, and
 * read these backups too.
 * The reader never trusts a length: lines are capped, numbers checked for
 * overflow digit by digit, at most BACKUP_FILES_MAX files (and so at most
 * BACKUP_MANIFEST_MAX bytes read, the file list growing with what is
 * there: a hostile manifest costs at most about 25 MB of list).
 *
 * The file list is allocated: a manifest filled by backup_manifest_parse,
 * backup_manifest_add or the functions of backup.h is released with
 * backup_manifest_free (a zeroed one needs nothing).
 */
#ifndef TERN_BACKUP_BACKUP_MANIFEST_H
#define TERN_BACKUP_BACKUP_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define BACKUP_FORMAT 1
/* Files a backup lists: store.mdb and the key files (every file of the
 * data directory's tls/ and acme/, which an operator's certificates for
 * many names fill). Far more than any data directory holds, and what
 * bounds the memory a manifest from anywhere takes. */
#define BACKUP_FILES_MAX 100000
#define BACKUP_PATH_MAX 200
#define BACKUP_LINE_MAX 512
/* The text of a manifest listing nfiles files fits in this (every line
 * at most BACKUP_LINE_MAX, at most 32 lines not `file`). */
#define BACKUP_MANIFEST_SIZE(nfiles) ((size_t)BACKUP_LINE_MAX * ((size_t)(nfiles) + 32))
#define BACKUP_MANIFEST_MAX BACKUP_MANIFEST_SIZE(BACKUP_FILES_MAX)

struct backup_file {
	char path[BACKUP_PATH_MAX + 1]; /* relative to the backup directory */
	uint64_t size;
	uint8_t hash[32];
};

struct backup_manifest {
	uint64_t created;
	uint64_t run; /* 0: none */
	char version[64];
	uint32_t schema;
	uint64_t accounts, mailboxes, emails, queue, blobs, blob_bytes, reused;
	uint64_t duration_ms, growth;
	size_t nfiles, cap;
	struct backup_file *files; /* nfiles of cap, allocated */
};

/*
 * A new zeroed entry at the end of m's file list (grown as needed), or
 * NULL when m lists BACKUP_FILES_MAX files already.
 */
struct backup_file *backup_manifest_add(struct backup_manifest *m);

/* Releases m's file list (m then lists none; again is harmless). */
void backup_manifest_free(struct backup_manifest *m);

/*
 * Formats m into out (at most outsz bytes, NUL-terminated). Returns the
 * length, or -1 when it does not fit.
 */
int backup_manifest_format(const struct backup_manifest *m, char *out, size_t outsz);

/*
 * Parses len bytes of manifest text into *m (zeroed first: whatever m
 * held must have been released). 0, or -1 with a one-line reason in err
 * (line number and what is wrong) and m's list released.
 */
int backup_manifest_parse(const char *text, size_t len, struct backup_manifest *m, char *err,
                          size_t errsz);

/* Whether path is acceptable as a file path of a manifest (see above). */
int backup_path_ok(const char *path);

#endif
