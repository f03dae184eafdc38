/*
 * test_backup_mark.c — the TERN-BACKUPS marker of a scheduled backup
 * directory (backup_mark.h): the first run marks it, its owner's runs
 * pass, another server's are refused, a directory its server marked but
 * now without the marker (a disk not mounted) is refused, an empty marker
 * is adopted, and the data directory's list of marked directories stays
 * bounded with the latest kept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/backup_mark.h"
#include "core/file.h"
#include "unit.h"

static char root[] = "/tmp/tern-test-mark-XXXXXX";

static void path(char *out, size_t n, const char *rel)
{
	snprintf(out, n, "%s/%s", root, rel);
}

static int check(const char *dir_rel, const char *data_rel, char *err, size_t errsz)
{
	char dir[512], data[512];
	path(dir, sizeof dir, dir_rel);
	path(data, sizeof data, data_rel);
	mkdir(dir, 0700);
	return backup_mark_check(dir, data, err, errsz);
}

int main(void)
{
	char err[1024], p[600], q[600];
	struct stat sb;

	if (mkdtemp(root) == NULL)
		return 1;
	path(p, sizeof p, "a");
	mkdir(p, 0700);
	path(p, sizeof p, "b");
	mkdir(p, 0700);

	/* First run: marked; its owner again: passes. */
	CHECK_EQ_INT(check("bk", "a", err, sizeof err), 0);
	path(p, sizeof p, "bk/" BACKUP_MARK_FILE);
	CHECK(stat(p, &sb) == 0 && sb.st_size > 0 && (sb.st_mode & 0777) == 0600);
	CHECK_EQ_INT(check("bk", "a", err, sizeof err), 0);

	/* Another server (its own secrets.key): refused, the marker kept;
	 * the backups there are not its own. */
	char bk[600], a[600], b[600];
	path(bk, sizeof bk, "bk");
	path(a, sizeof a, "a");
	path(b, sizeof b, "b");
	CHECK_EQ_INT(backup_mark_foreign(bk, a), 0);
	CHECK_EQ_INT(backup_mark_foreign(bk, b), 1);
	CHECK_EQ_INT(check("bk", "b", err, sizeof err), -1);
	CHECK(strstr(err, "another tern server") != NULL);
	CHECK(stat(p, &sb) == 0 && sb.st_size > 0);

	/* The marker gone from a directory its server marked: not mounted. */
	unlink(p);
	CHECK_EQ_INT(check("bk", "a", err, sizeof err), -1);
	CHECK(strstr(err, "not mounted") != NULL);
	CHECK(stat(p, &sb) != 0);
	/* An empty one: adopted. */
	CHECK_EQ_INT(unit_write_file(p, "", 0), 0);
	CHECK_EQ_INT(check("bk", "a", err, sizeof err), 0);
	CHECK(stat(p, &sb) == 0 && sb.st_size > 0);

	/* The same directory however TERN_BACKUP_DIR writes it (a trailing
	 * '/', "//", "./", a symlink to it): its marker gone, not mounted. */
	path(p, sizeof p, "bk/" BACKUP_MARK_FILE);
	unlink(p);
	CHECK_EQ_INT(check("bk/", "a", err, sizeof err), -1);
	CHECK(strstr(err, "not mounted") != NULL);
	CHECK_EQ_INT(check("./bk//", "a", err, sizeof err), -1);
	CHECK(strstr(err, "not mounted") != NULL);
	path(q, sizeof q, "ln");
	CHECK_EQ_INT(symlink("bk", q), 0);
	CHECK_EQ_INT(check("ln", "a", err, sizeof err), -1);
	CHECK(strstr(err, "not mounted") != NULL);
	CHECK(stat(p, &sb) != 0);
	CHECK_EQ_INT(unit_write_file(p, "", 0), 0);
	CHECK_EQ_INT(check("bk", "a", err, sizeof err), 0);
	/* Marked through a symlink to a mount point that is then gone (the
	 * symlink dangling): still this server's directory, not mounted. */
	path(q, sizeof q, "disk");
	mkdir(q, 0700);
	path(q, sizeof q, "lnd");
	CHECK_EQ_INT(symlink("disk", q), 0);
	CHECK_EQ_INT(check("lnd/", "a", err, sizeof err), 0);
	path(p, sizeof p, "disk");
	path(q, sizeof q, "disk.away");
	CHECK_EQ_INT(rename(p, q), 0);
	CHECK_EQ_INT(check("lnd", "a", err, sizeof err), -1);
	CHECK(strstr(err, "not mounted") != NULL);
	CHECK(stat(p, &sb) != 0); /* nothing made there */
	CHECK_EQ_INT(check("disk", "a", err, sizeof err), -1);
	CHECK(strstr(err, "not mounted") != NULL);

	/* The resolver itself: "..", "." and "//" cleaned, symlinks
	 * followed, relative targets from the link's directory, a missing
	 * tail kept as text, a loop refused. */
	char real[600], want[700], got[700];
	CHECK(realpath(root, real) != NULL);
	path(p, sizeof p, "a/..//bk/./");
	snprintf(want, sizeof want, "%s/bk", real);
	CHECK_EQ_INT(file_path_resolve(p, got, sizeof got), 0);
	CHECK_EQ_STR(got, want);
	path(p, sizeof p, "lnd/x/../y");
	snprintf(want, sizeof want, "%s/disk/y", real);
	CHECK_EQ_INT(file_path_resolve(p, got, sizeof got), 0);
	CHECK_EQ_STR(got, want);
	path(p, sizeof p, "loop");
	CHECK_EQ_INT(symlink("loop", p), 0);
	CHECK_EQ_INT(file_path_resolve(p, got, sizeof got), ELOOP);
	CHECK_EQ_INT(file_path_resolve("/", got, sizeof got), 0);
	CHECK_EQ_STR(got, "/");
	CHECK_EQ_INT(file_path_resolve(root, got, 4), ENAMETOOLONG);

	/* Not a marker: refused, left alone. */
	path(q, sizeof q, "other/" BACKUP_MARK_FILE);
	path(p, sizeof p, "other");
	mkdir(p, 0700);
	CHECK_EQ_INT(unit_write_file(q, "hello\n", 6), 0);
	CHECK_EQ_INT(check("other", "a", err, sizeof err), -1);
	CHECK(strstr(err, "not a tern marker") != NULL);
	CHECK_EQ_INT(backup_mark_foreign(p, a), 1);

	/* 40 directories marked in turn: the list keeps the latest 32; the
	 * latest is known (its marker gone: refused), the first is not (its
	 * marker gone: marked again). */
	for (int i = 0; i < 40; i++) {
		char rel[32];
		snprintf(rel, sizeof rel, "d%d", i);
		CHECK_EQ_INT(check(rel, "a", err, sizeof err), 0);
	}
	path(p, sizeof p, "a/" BACKUP_MARK_DIRS_FILE);
	FILE *f = fopen(p, "r");
	int lines = 0, c;
	while (f && (c = fgetc(f)) != EOF)
		lines += c == '\n';
	if (f)
		fclose(f);
	CHECK_EQ_INT(lines, 32);
	path(p, sizeof p, "d39/" BACKUP_MARK_FILE);
	unlink(p);
	CHECK_EQ_INT(check("d39", "a", err, sizeof err), -1);
	path(p, sizeof p, "d0/" BACKUP_MARK_FILE);
	unlink(p);
	CHECK_EQ_INT(check("d0", "a", err, sizeof err), 0);

	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	if (system(cmd) != 0)
		return 1;
	return unit_done("test_backup_mark");
}
