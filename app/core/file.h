/*
 * file.h — whole writes, file copies and file hashes with errno results,
 * for the few places that handle files outside the store (the spool,
 * backups).
 *
 * Caveats: both retry EINTR and short writes; neither syncs the directory
 * entry of a new file (the caller syncs once for many files).
 */
#ifndef TERN_CORE_FILE_H
#define TERN_CORE_FILE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* The errno these functions give for a path that is not a regular file
 * (a FIFO, a device, a socket, a directory): such a file is never read,
 * as opening a FIFO or a device could wait forever. file_strerror says
 * it in words. */
#define FILE_ENOTREG EMEDIUMTYPE

/* strerror(e), but "not a regular file" for FILE_ENOTREG. */
const char *file_strerror(int e);
/*
 * Opens path for reading when it is a regular file (never through a
 * symlink, never waiting on a FIFO or a device): the descriptor, or -1
 * with errno (ELOOP for a symlink, FILE_ENOTREG for another kind).
 */
int file_open_regular(const char *path);

/* Writes all n bytes of p to fd: 0, or an errno (EIO when write makes no progress). */
int file_write_all(int fd, const void *p, size_t n);
/*
 * Copies from to a new file to (created with O_EXCL, mode 0600), fsyncing
 * it before closing when sync is set: 0, or an errno (ELOOP when from is
 * a symlink: never followed; FILE_ENOTREG when it is not a regular
 * file). A failed copy may
 * leave a partial file to, which the caller removes.
 */
int file_copy(const char *from, const char *to, int sync);
/*
 * file_copy, also giving the size and BLAKE2b-256 of the bytes copied
 * (hashed as they are written: one read of from, and what is hashed is
 * what to holds). size and hash may be NULL.
 */
int file_copy_hash(const char *from, const char *to, int sync, uint64_t *size, uint8_t hash[32]);
/*
 * Size and BLAKE2b-256 of the file at path (what names the store's blobs
 * and a backup's files): 0, or an errno (ELOOP for a symlink: never
 * followed; FILE_ENOTREG for a FIFO, device or directory: never read).
 */
int file_hash(const char *path, uint64_t *size, uint8_t hash[32]);

/*
 * fsyncs every regular file and directory of the tree at root, each
 * directory after what it holds and root last; symlinks are neither
 * followed nor synced. Not root's own entry in its parent: a caller that
 * made root syncs the parent. 0, or the first errno.
 */
int file_sync_tree(const char *root);

/* fsyncs the directory at path (its list of entries): 0 or an errno. */
int file_sync_dir(const char *path);
/* fsyncs the directory holding path's entry ("." for a bare name): 0 or
 * an errno (ENAMETOOLONG past 4 KiB). */
int file_sync_parent(const char *path);

/*
 * The absolute path path names, as realpath(3) gives it (symlinks
 * followed, no "." or ".." or "//" or trailing '/'), but also for a path
 * whose end does not exist: the missing part is cleaned as text (GNU
 * `realpath -m`). One name for a directory however it is written and
 * whether or not it is there (a backup disk not mounted). A relative
 * path is taken from the working directory. Into out (outsz bytes): 0,
 * or an errno (ELOOP past 40 symlinks, ENAMETOOLONG when out or 4 KiB is
 * too small).
 */
int file_path_resolve(const char *path, char *out, size_t outsz);

#endif
