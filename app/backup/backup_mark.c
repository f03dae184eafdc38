/*
 * backup_mark.c — a backup directory's TERN-BACKUPS marker and the data
 * directory's list of the directories it marked (backup_mark.h).
 *
 * Both files are written whole under a temporary name and renamed (or,
 * for a marker where none is, linked: two servers marking one directory
 * at once, one wins and the other then reads the winner's; renamed after
 * a look where the share has no hard links), so a crash never leaves one
 * half written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "admin/admin_secret.h"
#include "backup/backup_mark.h"
#include "core/file.h"
#include "core/log.h"

#define MARK_HEADER "tern-backups 1\n"
#define MARK_MAX 4096
#define DIRS_FILE BACKUP_MARK_DIRS_FILE
#define DIRS_MAX 32 /* directories remembered */
#define DIRS_TEXT_MAX (DIRS_MAX * 520)

/* This server's owner id (32 hex digits), from its secrets.key. */
static int owner_id(const char *data_dir, char hex[33])
{
	uint8_t key[ADMIN_SECRET_KEY_BYTES], h[16];

	if (admin_secret_derive(data_dir, 1, "tern-bkp", key) != 0)
		return -1;
	crypto_generichash(h, sizeof h, key, sizeof key, NULL, 0);
	sodium_memzero(key, sizeof key);
	sodium_bin2hex(hex, 33, h, sizeof h);
	return 0;
}

/* Reads a small regular file (not through a symlink) into buf: its
 * length, or -1 with errno (ENOENT: none; EFBIG: larger than max). */
static ssize_t read_small(const char *path, char *buf, size_t max)
{
	int fd = file_open_regular(path);
	struct stat sb;
	ssize_t n;

	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) != 0 || (size_t)sb.st_size >= max) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	n = read(fd, buf, (size_t)sb.st_size);
	int e = errno;
	close(fd);
	if (n != sb.st_size) {
		errno = n < 0 ? e : EIO;
		return -1;
	}
	buf[n] = '\0';
	return n;
}

/* Writes text to dir/name whole: a temporary file, fsynced, then renamed
 * over name (replace) or linked to it (not: EEXIST when name exists).
 * 0 or an errno. */
static int write_whole(const char *dir, const char *name, const char *text, int replace)
{
	char path[4200], tmp[4300];
	int rc, fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", dir, name, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return errno;
	rc = file_write_all(fd, text, strlen(text));
	if (rc == 0 && fsync(fd) != 0)
		rc = errno;
	if (close(fd) != 0 && rc == 0)
		rc = errno;
	if (rc == 0 && (replace ? rename(tmp, path) : link(tmp, path)) != 0) {
		rc = errno;
		/* A share without hard links (CIFS, some FUSE mounts): renamed
		 * when none is there. A second server marking it in that same
		 * instant could overwrite this one's: this one's runs then
		 * fail from the next on, as for any other server's marker. */
		struct stat sb;
		if (!replace && rc != EEXIST && lstat(path, &sb) != 0 && errno == ENOENT)
			rc = rename(tmp, path) == 0 ? 0 : errno;
	}
	unlink(tmp);
	if (rc == 0)
		rc = file_sync_dir(dir);
	return rc;
}

/* Whether the data directory's list names the directory whose resolved
 * path (file_path_resolve) is key (1), or not (0). Each line is resolved
 * too: a list written before the lines were (TERN_BACKUP_DIR as set,
 * "/backups/" or through a symlink) names the same directory. */
static int dirs_has(const char *list, const char *key)
{
	char line[4200], res[4200];
	for (const char *p = list; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len < sizeof line) {
			memcpy(line, p, len);
			line[len] = '\0';
			if (strcmp(line, key) == 0 ||
			    (file_path_resolve(line, res, sizeof res) == 0 && strcmp(res, key) == 0))
				return 1;
		}
		p += len + (nl != NULL);
	}
	return 0;
}

/* Adds dir to the list (the oldest dropped past DIRS_MAX). 0 or errno. */
static int dirs_add(const char *data_dir, const char *list, const char *dir)
{
	char *out = malloc(DIRS_TEXT_MAX + 600);
	size_t lines = 0, off = 0;
	int rc;

	if (out == NULL)
		return ENOMEM;
	for (const char *p = list; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
		lines++;
	const char *p = list;
	for (; lines >= DIRS_MAX && *p; lines--)
		p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p);
	off = (size_t)snprintf(out, DIRS_TEXT_MAX, "%s", p);
	snprintf(out + off, DIRS_TEXT_MAX + 600 - off, "%s%s\n",
	         off && out[off - 1] != '\n' ? "\n" : "", dir);
	rc = write_whole(data_dir, DIRS_FILE, out, 1);
	free(out);
	return rc;
}

/* The marker's text for this server. */
static void mark_text(char *out, size_t n, const char *owner, const char *data_dir)
{
	char host[256];
	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "?");
	host[sizeof host - 1] = '\0';
	snprintf(out, n, MARK_HEADER "owner %s\nhost %.200s\ndata-dir %.1000s\n", owner, host,
	         data_dir);
}

/* The owner (and, for the error, host and data-dir lines) of a marker's
 * text: 0, or -1 when it is not a marker. */
static int mark_parse(const char *text, char owner[33], char *who, size_t whosz)
{
	const char *o, *h, *d;
	if (strncmp(text, MARK_HEADER, sizeof MARK_HEADER - 1) != 0 ||
	    (o = strstr(text, "\nowner ")) == NULL || strspn(o + 7, "0123456789abcdef") != 32)
		return -1;
	memcpy(owner, o + 7, 32);
	owner[32] = '\0';
	h = strstr(text, "\nhost ");
	d = strstr(text, "\ndata-dir ");
	snprintf(who, whosz, "host %.*s, data directory %.*s", h ? (int)strcspn(h + 6, "\n") : 1,
	         h ? h + 6 : "?", d ? (int)strcspn(d + 10, "\n") : 1, d ? d + 10 : "?");
	return 0;
}

int backup_mark_foreign(const char *dir, const char *data_dir)
{
	char owner[33], theirs[33], who[1300], path[4200], mark[MARK_MAX];

	snprintf(path, sizeof path, "%s/" BACKUP_MARK_FILE, dir);
	if (read_small(path, mark, sizeof mark) <= 0)
		return 0;
	return mark_parse(mark, theirs, who, sizeof who) != 0 || owner_id(data_dir, owner) != 0 ||
	       strcmp(theirs, owner) != 0;
}

int backup_mark_check(const char *dir, const char *data_dir, char *err, size_t errsz)
{
	char owner[33], theirs[33], who[1300], path[4200], mark[MARK_MAX], *list;
	ssize_t n;
	int rc = -1;

	if (owner_id(data_dir, owner) != 0) {
		snprintf(err, errsz, "cannot read or make %s/secrets.key", data_dir);
		return -1;
	}
	list = malloc(DIRS_TEXT_MAX + 1);
	if (list == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	snprintf(path, sizeof path, "%s/" DIRS_FILE, data_dir);
	if (read_small(path, list, DIRS_TEXT_MAX + 1) < 0) {
		if (errno != ENOENT)
			log_warn("backup", NULL, "event=backup_dirs_unreadable path=\"%s\" error=\"%s\"",
			         path, file_strerror(errno));
		list[0] = '\0';
	}
	/* The list holds each directory by its resolved path: the same one
	 * written "/backups/", "//backups" or through a symlink (to a mount
	 * point that is there or not) is one directory, and not mounted when
	 * its marker is gone. */
	char key[4200];
	int ke = file_path_resolve(dir, key, sizeof key);
	if (ke != 0) {
		snprintf(err, errsz, "cannot resolve %s: %s", dir, file_strerror(ke));
		goto out;
	}
	snprintf(path, sizeof path, "%s/" BACKUP_MARK_FILE, dir);
	for (int tries = 0; tries < 2; tries++) {
		n = read_small(path, mark, sizeof mark);
		if (n > 0) {
			if (mark_parse(mark, theirs, who, sizeof who) != 0) {
				snprintf(err, errsz, "%s is not a tern marker: this directory is not for "
				         "tern's backups (choose another TERN_BACKUP_DIR)", path);
				goto out;
			}
			if (strcmp(theirs, owner) != 0) {
				snprintf(err, errsz, "%s holds the backups of another tern server (%s): two "
				         "servers never share a backup directory (each would prune the other's "
				         "backups); give this one its own TERN_BACKUP_DIR", dir, who);
				goto out;
			}
			rc = 0;
			break;
		}
		if (n < 0 && errno != ENOENT) {
			snprintf(err, errsz, "cannot read %s: %s", path, file_strerror(errno));
			goto out;
		}
		if (n < 0 && dirs_has(list, key)) {
			snprintf(err, errsz, "%s has no " BACKUP_MARK_FILE " marker, yet this server made "
			         "backups there: is its disk not mounted? (nothing is written there, not to "
			         "fill the disk below; a new disk there on purpose: create an empty %s)",
			         dir, path);
			goto out;
		}
		/* None yet, or an empty one (the admin's word): this server's. */
		char text[MARK_MAX];
		mark_text(text, sizeof text, owner, data_dir);
		int e = write_whole(dir, BACKUP_MARK_FILE, text, n == 0);
		if (e == EEXIST)
			continue; /* another server marked it just now: read whose */
		if (e != 0) {
			snprintf(err, errsz, "cannot write %s: %s", path, file_strerror(e));
			goto out;
		}
		log_info("backup", NULL, "event=backup_dir_marked dir=\"%s\"", dir);
		rc = 0;
		break;
	}
	if (rc == 0 && !dirs_has(list, key)) {
		int e = dirs_add(data_dir, list, key);
		if (e != 0)
			log_warn("backup", NULL, "event=backup_dirs_unwritable dir=\"%s\" error=\"%s\" "
			         "hint=\"an unmounted backup disk is not noticed\"", data_dir,
			         file_strerror(e));
	}
	if (rc != 0)
		snprintf(err, errsz, "cannot mark %s", dir);
out:
	free(list);
	return rc;
}
