/*
 * backup.c — a backup directory made, checked and restored (backup.h):
 * the store's snapshot from store_backup.c, the key files beside it, and
 * the manifest written last.
 *
 * Order of writing: store.mdb and blobs/, then keys/, then one syncfs of
 * the backup's file system (one flush instead of an fsync per blob file),
 * then MANIFEST.tmp, its fsync, the rename to MANIFEST and an fsync of the
 * directory. A crash or a full disk anywhere before the rename leaves no
 * MANIFEST, and backup_verify / backup_restore refuse a directory without
 * one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "backup/backup.h"
#include "backup/backup_mark.h"
#include "core/file.h"
#include "core/log.h"
#include "core/version.h"
#include "store/store.h"

#define STORE_FILE "store.mdb"
#define KEYS_DIR "keys"

/* Files of the data directory a backup carries: names at the top, and
 * every regular file of these subdirectories. backup-dirs: a restored
 * server knows which backup directories it marked (backup_mark.h). */
static const char *const key_files[] = {"secrets.key", BACKUP_MARK_DIRS_FILE};
static const char *const key_dirs[] = {"tls", "acme"};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* 1 when dir exists and holds nothing, 0 when it holds something, -1
 * when it does not exist (or is not a directory: errno says). */
static int dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int empty = 1;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

/* dir_empty for a place a backup or a restore goes: a directory
 * "lost+found" is not counted (the root of a file system just made,
 * mounted there, holds one: an empty disk, not one in use). */
static int dir_unused(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat sb;
	char path[4200];
	int empty = 1;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (strcmp(de->d_name, "lost+found") == 0 && lstat(path, &sb) == 0 &&
		    S_ISDIR(sb.st_mode))
			continue;
		empty = 0;
		break;
	}
	closedir(d);
	return empty;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int rm_tree(const char *path)
{
	struct stat sb;
	if (lstat(path, &sb) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(sb.st_mode))
		return unlink(path);
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* What a backup writes in its directory. */
static const char *const parts[] = {BACKUP_MANIFEST_FILE, BACKUP_MANIFEST_FILE ".tmp", STORE_FILE,
                                    "blobs", KEYS_DIR};

/* Removes the parts a backup wrote in dir (not dir): 0 or -1. */
static int remove_parts(const char *dir)
{
	char path[4200];
	int rc = 0;

	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, parts[i]);
		if (rm_tree(path) != 0)
			rc = -1;
	}
	return rc;
}

int backup_remove(const char *dir)
{
	int rc = remove_parts(dir);
	if (rc == 0 && dir_empty(dir) == 1 && rmdir(dir) != 0)
		rc = -1;
	return rc;
}

/* Whether dir holds what a backup cut short (killed, a power loss) left
 * and nothing else: no MANIFEST, some of the other parts, and at most a
 * lost+found. Only a run writing it holds its lock (backup_lock). */
static int backup_leftover(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0, other = 0;

	if (d == NULL)
		return 0;
	while (!other && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "lost+found") == 0)
			continue;
		int ours = 0;
		for (size_t i = 1; !ours && i < sizeof parts / sizeof parts[0]; i++)
			ours = strcmp(de->d_name, parts[i]) == 0; /* parts[0]: the MANIFEST */
		found |= ours;
		other = !ours;
	}
	closedir(d);
	return found && !other;
}

/* ---- key files ---- */

typedef int key_fn(void *arg, const char *rel, const char *path);

/* Calls fn for each key file under root (a data directory or a backup's
 * keys/), with its path relative to root. */
static int each_key(const char *root, key_fn *fn, void *arg)
{
	char path[4200], rel[600];
	struct stat sb;
	int rc;

	for (size_t i = 0; i < sizeof key_files / sizeof key_files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", root, key_files[i]);
		if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && (rc = fn(arg, key_files[i], path)) != 0)
			return rc;
	}
	for (size_t i = 0; i < sizeof key_dirs / sizeof key_dirs[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", root, key_dirs[i]);
		DIR *d = opendir(path);
		struct dirent *de;
		if (d == NULL)
			continue;
		unsigned skipped = 0;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(rel, sizeof rel, "%s/%s", key_dirs[i], de->d_name);
			snprintf(path, sizeof path, "%s/%s", root, rel);
			if (!backup_path_ok(rel) || lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
				skipped++;
				continue;
			}
			if ((rc = fn(arg, rel, path)) != 0) {
				closedir(d);
				return rc;
			}
		}
		closedir(d);
		/* Said, not silent: a certificate the server reads through a
		 * symlink there, or named with a character a manifest cannot
		 * hold (the names are not logged: they may hold anything),
		 * is not in the backup and not restored. */
		if (skipped)
			log_warn("backup", NULL, "event=backup_key_files_skipped dir=%s/%s count=%u "
			         "hint=\"not regular files, or named outside [A-Za-z0-9._-]: "
			         "not in the backup; copy them yourself\"", root, key_dirs[i], skipped);
	}
	return 0;
}

struct key_copy {
	const char *to_root; /* where the copies go */
	struct backup_manifest *m; /* backup: files listed here */
};

/* Copies one key file to to_root/rel (creating its directory) and, when
 * backing up, lists it in the manifest. */
static int key_copy_one(void *arg, const char *rel, const char *path)
{
	struct key_copy *k = arg;
	char to[4200];
	const char *slash = strchr(rel, '/');
	int rc;

	if (slash) {
		snprintf(to, sizeof to, "%s/%.*s", k->to_root, (int)(slash - rel), rel);
		if (mkdir(to, 0700) != 0 && errno != EEXIST)
			return errno;
	}
	snprintf(to, sizeof to, "%s/%s", k->to_root, rel);
	if ((rc = file_copy(path, to, 1)) != 0)
		return rc;
	if (k->m) {
		struct backup_file *f = backup_manifest_add(k->m);
		if (f == NULL)
			return E2BIG; /* more than BACKUP_FILES_MAX */
		snprintf(f->path, sizeof f->path, KEYS_DIR "/%s", rel);
		if ((rc = file_hash(to, &f->size, f->hash)) != 0)
			return rc;
	}
	return 0;
}

/* Whether rel (a path below a backup's keys/) names a file a backup
 * carries: one of key_files, or a file directly in one of key_dirs. */
static int key_rel_ok(const char *rel)
{
	for (size_t i = 0; i < sizeof key_files / sizeof key_files[0]; i++)
		if (strcmp(rel, key_files[i]) == 0)
			return 1;
	for (size_t i = 0; i < sizeof key_dirs / sizeof key_dirs[0]; i++) {
		size_t n = strlen(key_dirs[i]);
		if (strncmp(rel, key_dirs[i], n) == 0 && rel[n] == '/' && rel[n + 1] != '\0' &&
		    strchr(rel + n + 1, '/') == NULL)
			return 1;
	}
	return 0;
}

/* Restores the key files m lists (and only those: whatever else lies in
 * the backup's keys/ was not written by the backup, and the data
 * directory is where the server reads its certificate and secrets) into
 * data_dir, each copy hashed again against the manifest (the backup
 * could change between the check and the copy). 0 or an errno
 * (EBADMSG: a copy is not what the manifest says). */
static int restore_keys(const char *dir, const char *data_dir, const struct backup_manifest *m,
                        const char **bad_r)
{
	static const char prefix[] = KEYS_DIR "/";
	struct key_copy kc = {data_dir, NULL};
	char from[4200], to[4200];
	int rc;

	for (size_t i = 0; i < m->nfiles; i++) {
		const struct backup_file *f = &m->files[i];
		const char *rel = f->path + sizeof prefix - 1;
		uint64_t size;
		uint8_t hash[32];
		if (strncmp(f->path, prefix, sizeof prefix - 1) != 0 || !key_rel_ok(rel))
			continue; /* store.mdb, or a file this build does not restore */
		*bad_r = f->path;
		snprintf(from, sizeof from, "%s/%s", dir, f->path);
		snprintf(to, sizeof to, "%s/%s", data_dir, rel);
		if ((rc = key_copy_one(&kc, rel, from)) != 0 || (rc = file_hash(to, &size, hash)) != 0)
			return rc;
		if (size != f->size || memcmp(hash, f->hash, 32) != 0)
			return EBADMSG;
	}
	return 0;
}

/* ---- backup ---- */

static int write_manifest(const char *dir, const struct backup_manifest *m)
{
	char path[4200], tmp[4200];
	size_t cap = BACKUP_MANIFEST_SIZE(m->nfiles);
	char *text = malloc(cap);
	int rc = 0, fd;

	if (text == NULL)
		return ENOMEM;
	int len = backup_manifest_format(m, text, cap);
	if (len < 0) {
		free(text);
		return E2BIG;
	}
	snprintf(path, sizeof path, "%s/" BACKUP_MANIFEST_FILE, dir);
	snprintf(tmp, sizeof tmp, "%s/" BACKUP_MANIFEST_FILE ".tmp", dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(text);
		return errno;
	}
	/* A short write or EINTR is no error (the rest follows):
	 * file_write_all goes on until all is written or write fails. */
	rc = file_write_all(fd, text, (size_t)len);
	if (rc == 0 && fsync(fd) != 0)
		rc = errno;
	if (close(fd) != 0 && rc == 0)
		rc = errno;
	free(text);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = errno;
	if (rc == 0)
		rc = file_sync_dir(dir);
	return rc;
}

static int errno_fail(char *err, size_t errsz, int *code_r, int e, const char *what, const char *path)
{
	if (code_r)
		*code_r = e == ENOSPC ? STORE_EFULL : STORE_ETEMP;
	snprintf(err, errsz, "%s %s: %s", what, path,
	         e == ENOSPC ? "no space left on device" : file_strerror(e));
	return -1;
}

/* The work of backup_run once dir exists and is empty. */
static int backup_into(struct store *st, const char *data_dir, const char *dir, const char *base,
                       struct backup_manifest *m, const struct backup_progress *p, int *code_r,
                       char *err, size_t errsz)
{
	struct store_backup_info info;
	char path[4200];
	uint64_t t0 = now_ms(), run = m->run;
	int rc;

	memset(m, 0, sizeof *m);
	m->run = run;
	rc = store_backup_write(st, dir, base, &info, p ? p->fn : NULL, p ? p->arg : NULL, err, errsz);
	if (rc != STORE_OK) {
		if (code_r)
			*code_r = rc;
		return -1;
	}
	m->created = (uint64_t)time(NULL);
	snprintf(m->version, sizeof m->version, "%s", tern_version);
	m->schema = info.schema;
	m->accounts = info.accounts;
	m->mailboxes = info.mailboxes;
	m->emails = info.emails;
	m->queue = info.queue;
	m->blobs = info.blobs;
	m->blob_bytes = info.blob_bytes;
	m->reused = info.blobs_reused;
	m->growth = info.used_end > info.used_start ? info.used_end - info.used_start : 0;

	struct backup_file *f = backup_manifest_add(m);
	snprintf(f->path, sizeof f->path, STORE_FILE);
	snprintf(path, sizeof path, "%s/" STORE_FILE, dir);
	if ((rc = file_hash(path, &f->size, f->hash)) != 0)
		return errno_fail(err, errsz, code_r, rc, "cannot read", path);

	snprintf(path, sizeof path, "%s/" KEYS_DIR, dir);
	if (mkdir(path, 0700) != 0)
		return errno_fail(err, errsz, code_r, errno, "cannot create", path);
	struct key_copy kc = {path, m};
	if ((rc = each_key(data_dir, key_copy_one, &kc)) != 0)
		return errno_fail(err, errsz, code_r, rc, "cannot copy the key files into", path);

	/* Everything but the manifest on disk before the manifest exists. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || syncfs(dfd) != 0) {
		rc = errno;
		if (dfd >= 0)
			close(dfd);
		return errno_fail(err, errsz, code_r, rc, "cannot flush", dir);
	}
	close(dfd);
	m->duration_ms = now_ms() - t0;
	if ((rc = write_manifest(dir, m)) != 0)
		return errno_fail(err, errsz, code_r, rc, "cannot write the manifest of", dir);
	return 0;
}

static int backup_run_locked(struct store *st, const char *data_dir, const char *dir,
                             const char *base, struct backup_manifest *m_r,
                             const struct backup_progress *p, int *code_r, char *err,
                             size_t errsz, int made);

static int refuse_not_empty(const char *dir, int *code_r, char *err, size_t errsz)
{
	if (code_r)
		*code_r = STORE_EEXIST;
	snprintf(err, errsz, "%s is not empty: a backup goes into a new or empty directory", dir);
	return -1;
}

int backup_run(struct store *st, const char *data_dir, const char *dir, const char *base,
               struct backup_manifest *m_r, const struct backup_progress *p, int *code_r,
               char *err, size_t errsz)
{
	struct backup_manifest bm;
	int made = 0;

	if (code_r)
		*code_r = STORE_OK;
	if (base) {
		if (backup_manifest_read(base, &bm, err, errsz) != 0) {
			if (code_r)
				*code_r = STORE_EINVAL;
			char why[400];
			snprintf(why, sizeof why, "%s", err);
			snprintf(err, errsz, "base backup %s: %s", base, why);
			return -1;
		}
		backup_manifest_free(&bm); /* read to know it whole */
	}
	int e = dir_unused(dir);
	if (e == 0 && !backup_leftover(dir)) {
		return refuse_not_empty(dir, code_r, err, errsz);
	}
	if (e < 0) {
		if (mkdir(dir, 0700) != 0)
			return errno_fail(err, errsz, code_r, errno, "cannot create", dir);
		made = 1;
	}
	/* Held until the run ends (the MANIFEST written, or what it wrote
	 * removed): a scheduler pruning the directory's runs leaves this one
	 * be (backup_lock). One that removed it just before the lock (it was
	 * empty then) shows as the directory gone: said, nothing written. */
	int lfd = backup_lock(dir);
	struct stat a, b;
	if (lfd < 0 || fstat(lfd, &a) != 0 || stat(dir, &b) != 0 || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev) {
		int le = lfd < 0 && errno != EWOULDBLOCK ? errno : EBUSY;
		if (lfd >= 0)
			close(lfd);
		return errno_fail(err, errsz, code_r, le, "cannot lock (another run, or removed)", dir);
	}
	/* A backup cut short there is made again from the start (as a
	 * restore cut short is): what it left goes first, under the lock,
	 * looked at again (a run may have finished in between). */
	if (e == 0) {
		if (!backup_leftover(dir) || remove_parts(dir) != 0) {
			close(lfd);
			return refuse_not_empty(dir, code_r, err, errsz);
		}
		log_info("backup", NULL, "event=backup_leftover_removed dir=\"%s\"", dir);
	}
	int rc = backup_run_locked(st, data_dir, dir, base, m_r, p, code_r, err, errsz, made);
	close(lfd);
	return rc;
}

static int backup_run_locked(struct store *st, const char *data_dir, const char *dir,
                             const char *base, struct backup_manifest *m_r,
                             const struct backup_progress *p, int *code_r, char *err,
                             size_t errsz, int made)
{
	if (backup_into(st, data_dir, dir, base, m_r, p, code_r, err, errsz) == 0) {
		log_info("backup", NULL,
		         "event=backup_done dir=\"%s\" emails=%llu blobs=%llu reused=%llu bytes=%llu "
		         "ms=%llu store_growth=%llu",
		         dir, (unsigned long long)m_r->emails, (unsigned long long)m_r->blobs,
		         (unsigned long long)m_r->reused, (unsigned long long)m_r->blob_bytes,
		         (unsigned long long)m_r->duration_ms, (unsigned long long)m_r->growth);
		return 0;
	}
	/* Nothing half-written stays behind looking like a backup. */
	backup_manifest_free(m_r);
	backup_remove(dir);
	if (!made)
		mkdir(dir, 0700); /* the caller's empty directory stays */
	return -1;
}

/* An exclusive flock on a directory, not waited for: its fd, or -1 with
 * errno (EWOULDBLOCK: someone holds it). */
static int flock_dir(const char *dir, int oflags)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | oflags);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int backup_lock(const char *dir)
{
	return flock_dir(dir, O_NOFOLLOW);
}

/* ---- reading a backup ---- */

int backup_manifest_read(const char *dir, struct backup_manifest *m, char *err, size_t errsz)
{
	char path[4200];
	struct stat sb;
	int fd;

	snprintf(path, sizeof path, "%s/" BACKUP_MANIFEST_FILE, dir);
	/* Never a FIFO (a read waiting forever: the verify, or the web
	 * admin's list of backups), nor through a symlink. */
	fd = file_open_regular(path);
	if (fd < 0) {
		snprintf(err, errsz, "%s: %s (not a whole backup)", path, file_strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size > BACKUP_MANIFEST_MAX) {
		close(fd);
		snprintf(err, errsz, "%s: not a manifest (too large)", path);
		return -1;
	}
	char *text = malloc((size_t)sb.st_size + 1);
	ssize_t n = text ? read(fd, text, (size_t)sb.st_size) : -1;
	close(fd);
	if (n != sb.st_size) {
		free(text);
		snprintf(err, errsz, "cannot read %s", path);
		return -1;
	}
	char why[300];
	int rc = backup_manifest_parse(text, (size_t)n, m, why, sizeof why);
	free(text);
	if (rc)
		snprintf(err, errsz, "%s: %s", path, why);
	return rc;
}

/* Whether dir/rel is a regular file reached through directories only:
 * a backup holds no symlink, and one would have the restore read a file
 * from elsewhere (and put it in the data directory). */
static int plain_file(const char *dir, const char *rel)
{
	char path[4200];
	struct stat sb;
	size_t n = (size_t)snprintf(path, sizeof path, "%s/", dir);

	if (n >= sizeof path || n + strlen(rel) >= sizeof path)
		return 0;
	memcpy(path + n, rel, strlen(rel) + 1);
	for (char *p = path + n;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		int ok = lstat(path, &sb) == 0 && (c ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode));
		*p = c;
		if (!ok || c == '\0')
			return ok;
	}
}

/* The manifest and the files it lists (not the blobs). Without
 * hash_store, store.mdb is only seen to be a plain file: the restore
 * hashes it as it copies it (one read of what can be gigabytes, and no
 * window between the check and the copy). */
static int check_files(const char *dir, struct backup_manifest *m, int hash_store, char *err,
                       size_t errsz)
{
	char path[4200];
	int has_store = 0;

	if (backup_manifest_read(dir, m, err, errsz) != 0)
		return -1;
	for (size_t i = 0; i < m->nfiles; i++) {
		uint64_t size;
		uint8_t hash[32];
		snprintf(path, sizeof path, "%s/%s", dir, m->files[i].path);
		if (!plain_file(dir, m->files[i].path)) {
			struct stat sb;
			/* Gone (a copy that left it out, a disk that lost it) is
			 * not the same trouble as a symlink put there. */
			if (lstat(path, &sb) != 0 && errno == ENOENT)
				snprintf(err, errsz, "%s: missing (the manifest lists it)", path);
			else
				snprintf(err, errsz,
				         "%s: not a regular file (a backup holds no symlinks)",
				         path);
			return -1;
		}
		if (strcmp(m->files[i].path, STORE_FILE) == 0) {
			has_store = 1;
			if (!hash_store)
				continue;
		}
		int rc = file_hash(path, &size, hash);
		if (rc) {
			snprintf(err, errsz, "%s: %s", path, file_strerror(rc));
			return -1;
		}
		if (size != m->files[i].size || memcmp(hash, m->files[i].hash, 32) != 0) {
			snprintf(err, errsz, "%s: damaged (size or checksum differs from the manifest)", path);
			return -1;
		}
	}
	if (!has_store) {
		snprintf(err, errsz, "%s/" BACKUP_MANIFEST_FILE ": lists no " STORE_FILE, dir);
		return -1;
	}
	return 0;
}

/* backup_verify but for releasing m's list when it fails. */
static int verify(const char *dir, struct backup_manifest *m, const struct backup_progress *p,
                  char *err, size_t errsz)
{
	struct store_backup_info info;

	if (check_files(dir, m, 1, err, errsz) != 0)
		return -1;
	if (store_backup_check(dir, &info, p ? p->fn : NULL, p ? p->arg : NULL, err, errsz) != STORE_OK)
		return -1;
	if (info.schema != m->schema || info.accounts != m->accounts || info.mailboxes != m->mailboxes ||
	    info.emails != m->emails || info.queue != m->queue || info.blobs != m->blobs ||
	    info.blob_bytes != m->blob_bytes) {
		snprintf(err, errsz,
		         "%s: the store holds schema %u, %llu accounts, %llu mailboxes, %llu emails, "
		         "%llu queued, %llu blobs of %llu bytes; the manifest says %u, %llu, %llu, "
		         "%llu, %llu, %llu, %llu",
		         dir, info.schema, (unsigned long long)info.accounts,
		         (unsigned long long)info.mailboxes, (unsigned long long)info.emails,
		         (unsigned long long)info.queue, (unsigned long long)info.blobs,
		         (unsigned long long)info.blob_bytes, m->schema, (unsigned long long)m->accounts,
		         (unsigned long long)m->mailboxes, (unsigned long long)m->emails,
		         (unsigned long long)m->queue, (unsigned long long)m->blobs,
		         (unsigned long long)m->blob_bytes);
		return -1;
	}
	return 0;
}

int backup_verify(const char *dir, struct backup_manifest *m, const struct backup_progress *p,
                  char *err, size_t errsz)
{
	memset(m, 0, sizeof *m);
	if (verify(dir, m, p, err, errsz) == 0)
		return 0;
	backup_manifest_free(m);
	return -1;
}

/* ---- restore ---- */

/* The lock tern serve takes on its data directory (store.c's dir_lock:
 * flock on the directory, followed when it is a symlink): its fd, or -1
 * with errno (EWOULDBLOCK: a server holds it). */
static int data_dir_lock(const char *data_dir)
{
	return flock_dir(data_dir, 0);
}

/* Removes what a failed restore put in data_dir (it was empty before). */
static void restore_undo(const char *data_dir)
{
	char path[4200];
	static const char *const made[] = {"data.mdb", "lock.mdb", STORE_RESTORING_FILE,
	                                   STORE_RESTORING_FILE "-lock"};

	for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", data_dir, made[i]);
		unlink(path);
	}
	for (size_t i = 0; i < sizeof key_files / sizeof key_files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", data_dir, key_files[i]);
		unlink(path);
	}
	for (size_t i = 0; i < sizeof key_dirs / sizeof key_dirs[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", data_dir, key_dirs[i]);
		rm_tree(path);
	}
}

/* Whether data_dir holds what a restore cut short (kill -9, power loss)
 * left and nothing else: its restoring store, which no server or CLI
 * opens, beside only files a restore writes (the directory was unused
 * when it began, and nothing starts on it since). */
static int restore_leftover(const char *data_dir)
{
	static const char *const ours[] = {STORE_RESTORING_FILE, STORE_RESTORING_FILE "-lock",
	                                   "lost+found"};
	char path[4200];
	struct stat sb;
	struct dirent *de;
	int found = 0, other = 0;

	snprintf(path, sizeof path, "%s/" STORE_RESTORING_FILE, data_dir);
	if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
		return 0;
	DIR *d = opendir(data_dir);
	if (d == NULL)
		return 0;
	while (!other && (de = readdir(d)) != NULL) {
		int ok = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
		for (size_t i = 0; !ok && i < sizeof ours / sizeof ours[0]; i++)
			ok = strcmp(de->d_name, ours[i]) == 0;
		for (size_t i = 0; !ok && i < sizeof key_files / sizeof key_files[0]; i++)
			ok = strcmp(de->d_name, key_files[i]) == 0;
		for (size_t i = 0; !ok && i < sizeof key_dirs / sizeof key_dirs[0]; i++)
			ok = strcmp(de->d_name, key_dirs[i]) == 0;
		found |= strcmp(de->d_name, STORE_RESTORING_FILE) == 0;
		other = !ok;
	}
	closedir(d);
	return found && !other;
}

int backup_restore(const char *dir, const char *data_dir, const struct backup_progress *p,
                   uint64_t *queue_r, int *code_r, char *err, size_t errsz)
{
	struct backup_manifest bm, *m = &bm;
	int rc;

	memset(m, 0, sizeof *m);
	if (code_r)
		*code_r = STORE_OK;
	if (check_files(dir, m, 0, err, errsz) != 0) {
		backup_manifest_free(m);
		if (code_r)
			*code_r = STORE_EINVAL;
		return -1;
	}
	uint32_t schema = m->schema;
	if (queue_r)
		*queue_r = m->queue;
	if (schema > store_schema_version()) {
		backup_manifest_free(m);
		if (code_r)
			*code_r = STORE_EINVAL;
		snprintf(err, errsz, "%s holds store schema %u, newer than this build's %u: restore it "
		         "with a newer tern", dir, schema, store_schema_version());
		return -1;
	}
	int e = dir_unused(data_dir);
	int made = e < 0;
	if (e < 0 && mkdir(data_dir, 0700) != 0) {
		backup_manifest_free(m);
		return errno_fail(err, errsz, code_r, errno, "cannot create", data_dir);
	}
	/* The lock tern serve holds on its data directory, taken for the
	 * whole restore: a server still running on a directory emptied
	 * under it would go on writing to its unlinked store (mail given a
	 * 250 and lost), and one started during the restore would create a
	 * store that the rename to data.mdb replaces under it. */
	int lfd = data_dir_lock(data_dir);
	if (lfd < 0) {
		int le = errno;
		backup_manifest_free(m);
		if (le != EWOULDBLOCK)
			return errno_fail(err, errsz, code_r, le, "cannot lock", data_dir);
		if (code_r)
			*code_r = STORE_EBUSY;
		snprintf(err, errsz,
		         "%s is in use by a running tern serve (or another restore): "
		         "stop it, then restore",
		         data_dir);
		return -1;
	}
	/* A restore cut short is done again from the start: what it left
	 * goes first (under the lock: no other restore is writing it). */
	if (!made && restore_leftover(data_dir)) {
		restore_undo(data_dir);
		log_info("backup", NULL, "event=restore_leftover_removed dir=\"%s\"", data_dir);
	}
	if (!made && dir_unused(data_dir) != 1) {
		backup_manifest_free(m);
		close(lfd);
		if (code_r)
			*code_r = STORE_EEXIST;
		snprintf(err, errsz, "%s is not empty: restore into a new or empty data directory "
		         "(the server's store is never overwritten)", data_dir);
		return -1;
	}

	/* Room for what the backup holds, known before anything is written:
	 * a disk too small is said at once, not as a write failing half-way
	 * (the store's own pages come on top; that shortfall, if any, is
	 * reported when the write meets it). */
	uint64_t need = m->blob_bytes;
	for (size_t i = 0; i < m->nfiles; i++)
		need += m->files[i].size;
	struct statvfs vs;
	if (statvfs(data_dir, &vs) == 0 && (uint64_t)vs.f_bavail * vs.f_frsize < need) {
		backup_manifest_free(m);
		close(lfd);
		if (code_r)
			*code_r = STORE_EFULL;
		snprintf(err, errsz, "cannot restore into %s: no space left on device (the backup "
		         "holds %llu bytes, %llu are free)", data_dir, (unsigned long long)need,
		         (unsigned long long)vs.f_bavail * vs.f_frsize);
		return -1;
	}

	/* The store first, under its restoring name (store_open refuses a
	 * directory holding it), then the keys, then the rename to data.mdb:
	 * killed at any point before that, the directory never opens as a
	 * store, neither the half-restored one nor a new empty one beside
	 * the keys. */
	const struct backup_file *sf = NULL;
	for (size_t i = 0; i < m->nfiles && !sf; i++)
		if (strcmp(m->files[i].path, STORE_FILE) == 0)
			sf = &m->files[i];
	rc = store_backup_restore(dir, data_dir, sf->size, sf->hash, schema, p ? p->fn : NULL,
	                          p ? p->arg : NULL, err, errsz);
	if (rc == STORE_OK) {
		char from[4200], to[4200];
		const char *bad = data_dir;
		snprintf(from, sizeof from, "%s/" STORE_RESTORING_FILE, data_dir);
		snprintf(to, sizeof to, "%s/data.mdb", data_dir);
		if ((rc = restore_keys(dir, data_dir, m, &bad)) == EBADMSG) {
			snprintf(err, errsz, "%s/%s: damaged (size or checksum differs from the manifest)",
			         dir, bad);
			rc = STORE_EINVAL;
		} else if (rc != 0)
			rc = errno_fail(err, errsz, code_r, rc, "cannot restore the key file", bad)
			         ? STORE_ETEMP : 0;
		/* Every file and directory restored on disk before the rename
		 * that makes it a store, and the rename before the success. */
		else if ((rc = file_sync_tree(data_dir)) != 0 || rename(from, to) != 0 ||
		         (rc = file_sync_dir(data_dir)) != 0 || (rc = made ? file_sync_parent(data_dir) : 0) != 0)
			rc = errno_fail(err, errsz, code_r, rc ? rc : errno, "cannot flush", data_dir)
			         ? STORE_ETEMP : 0;
	}
	backup_manifest_free(m);
	if (rc != STORE_OK) {
		if (code_r && *code_r == STORE_OK)
			*code_r = rc;
		restore_undo(data_dir);
		close(lfd);
		return -1;
	}
	close(lfd);
	log_info("backup", NULL, "event=restored from=\"%s\" to=\"%s\" schema=%u", dir, data_dir, schema);
	return 0;
}
