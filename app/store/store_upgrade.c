/*
 * store_upgrade.c — the copy of the store taken before a schema migration.
 *
 * Why. A migration rewrites records in place (store.c). It runs in one
 * transaction, so a crash leaves the old store, but a migration that is
 * wrong (a bug that drops or garbles records) commits like a right one,
 * and users must never lose mail to an upgrade. So before the first
 * migration step, the whole environment is copied, compacted (LMDB's
 * mdb_env_copy2 with MDB_CP_COMPACT: live pages only, renumbered, so it is
 * no bigger than the data), into DIR/backup-schema-N/data.mdb, N being the
 * version found. To go back: stop tern, put that data.mdb in place of
 * DIR/data.mdb, and run the older tern.
 *
 * Room. The copy needs about as many bytes as the store uses. When the
 * file system has less free than that (and a margin), the migration is
 * refused with one line saying how much is free and needed: an upgrade
 * without its backup is exactly the risk this is here to avoid, and a
 * copy cut short by ENOSPC would be no backup at all (it is removed).
 *
 * How long. The copy stays through the first `tern serve` after the
 * migration (whether that start migrated or a CLI command did it before)
 * and is removed by the next one, each counted once it got as far as
 * serving (store_started): the upgraded server has run, been stopped and
 * come back. The first leaves a marker file, "served", in the copy's
 * directory. Only directories named backup-schema-<digits>, the file
 * LMDB writes in them and that marker are removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "store/store_private.h"

#define BACKUP_PREFIX "backup-schema-"
/* Free space asked for beyond the copy's size: the migration itself and
 * the store's growth in the first minutes must still fit. */
#define BACKUP_MARGIN ((uint64_t)8 << 20)

/*
 * The schema version the records of an environment are written in (meta
 * "schema_version"), read with the environment's own "meta" handle, so
 * it works on a snapshot no struct store holds (a backup's store.mdb).
 * 0, MDB_NOTFOUND for a fresh environment, or an LMDB error
 * (MDB_CORRUPTED for a record this build cannot read).
 */
int store_meta_schema(MDB_txn *txn, uint32_t *ver_r)
{
	MDB_val k = {sizeof "schema_version" - 1, (void *)"schema_version"}, v;
	MDB_dbi dbi;
	int rc = mdb_dbi_open(txn, "meta", 0, &dbi);

	if (rc == 0)
		rc = mdb_get(txn, dbi, &k, &v);
	if (rc == 0) {
		struct rec_r r = rr_init(&v);
		uint8_t ver = rr_u8(&r);
		*ver_r = rr_u32(&r);
		if (r.bad || ver != REC_V1)
			rc = MDB_CORRUPTED;
	}
	return rc;
}

/* The version stored in dir's environment, read without writing: 0 for a
 * fresh one. 0 or an LMDB error. */
static int stored_version(struct store *st, uint32_t *ver_r)
{
	MDB_txn *txn;
	int rc = store_rd_begin(st, &txn);

	*ver_r = 0;
	if (rc)
		return rc;
	rc = store_meta_schema(txn, ver_r);
	store_rd_end(st, txn); /* also discards the handle opened here */
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int store_upgrade_backup(struct store *st, const char *dir, char *err, size_t errsz)
{
	char path[4096], file[4200];
	uint32_t ver;
	uint64_t used = 0;
	int rc = stored_version(st, &ver);

	if (rc)
		return store_err(err, errsz, STORE_ETEMP, "cannot read the schema version in %s: %s",
		                 dir, mdb_strerror(rc));
	if (ver == 0 || ver >= STORE_SCHEMA_VERSION)
		return STORE_OK; /* fresh, current, or newer (open_fn refuses that) */
	/* A command never migrates under a running server: that server is
	 * an older build (this one would have migrated at its start), and it
	 * would go on writing its schema's records into the migrated store.
	 * Held until the migration is done (store_open releases it). */
	if (!(st->flags & STORE_SERVER) && st->lock_fd < 0) {
		int code = STORE_OK;
		st->lock_fd = store_dir_lock(dir, &code, err, errsz);
		if (st->lock_fd < 0 && code == STORE_EBUSY)
			return store_err(err, errsz, STORE_EBUSY,
			                 "the store in %s is of schema %u, older than this build's %u, "
			                 "and a tern serve of the older build runs on it: stop it and "
			                 "start this build's tern serve (it upgrades the store), then "
			                 "run the command again",
			                 dir, ver, STORE_SCHEMA_VERSION);
		if (st->lock_fd < 0)
			return code;
	}

	if (store_map_info(st, NULL, &used) != STORE_OK)
		return store_err(err, errsz, STORE_ETEMP, "cannot size the store in %s", dir);
	uint64_t free_b = store_disk_free(dir);
	if (free_b < used + BACKUP_MARGIN)
		return store_err(err, errsz, STORE_EFULL,
		                 "not enough room to back up the store before upgrading it from "
		                 "schema %u to %u: %llu MiB free in %s, %llu MiB needed; free some "
		                 "space and start again (the store was not changed)",
		                 ver, STORE_SCHEMA_VERSION, (unsigned long long)(free_b >> 20), dir,
		                 (unsigned long long)((used + BACKUP_MARGIN + (1 << 20) - 1) >> 20));

	if ((size_t)snprintf(path, sizeof path, "%s/" BACKUP_PREFIX "%u", dir, ver) >= sizeof path)
		return store_err(err, errsz, STORE_EINVAL, "data directory path too long");
	snprintf(file, sizeof file, "%s/data.mdb", path);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return store_err(err, errsz, STORE_ETEMP, "cannot create %s: %s", path,
		                 strerror(errno));
	unlink(file); /* left by an attempt that did not finish: LMDB will not overwrite */
	pthread_rwlock_rdlock(&st->maplock);
	rc = mdb_env_copy2(st->env, path, MDB_CP_COMPACT);
	pthread_rwlock_unlock(&st->maplock);
	if (rc == 0 && (fsync_path(file, O_RDONLY) != 0 || fsync_path(path, O_RDONLY | O_DIRECTORY) != 0 ||
	                fsync_path(dir, O_RDONLY | O_DIRECTORY) != 0))
		rc = errno;
	if (rc) {
		unlink(file);
		rmdir(path);
		return store_err(err, errsz, rc == ENOSPC ? STORE_EFULL : STORE_ETEMP,
		                 "cannot back up the store to %s before upgrading it from schema %u "
		                 "to %u: %s (the store was not changed)",
		                 path, ver, STORE_SCHEMA_VERSION, mdb_strerror(rc));
	}
	struct stat sb;
	log_info("store", NULL, "event=upgrade_backup from=%u to=%u path=\"%s\" bytes=%lld", ver,
	         STORE_SCHEMA_VERSION, file, stat(file, &sb) == 0 ? (long long)sb.st_size : -1LL);
	return STORE_OK;
}

/* Whether name is BACKUP_PREFIX followed by digits only. */
static int backup_name(const char *name)
{
	size_t n = sizeof BACKUP_PREFIX - 1;
	if (strncmp(name, BACKUP_PREFIX, n) != 0 || name[n] == '\0')
		return 0;
	for (const char *p = name + n; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

/* The first serve since the copy leaves the marker; the next removes
 * the copy. */
static void release_one(const char *dir, const char *name)
{
	char path[4200], marker[4200];

	snprintf(marker, sizeof marker, "%s/%s/served", dir, name);
	if (access(marker, F_OK) != 0) {
		int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
		log_info("store", NULL, "event=upgrade_backup_kept path=\"%s/%s\" until=next_start",
		         dir, name);
		return;
	}
	snprintf(path, sizeof path, "%s/%s/data.mdb", dir, name);
	if (unlink(path) != 0 && errno != ENOENT) {
		log_warn("store", NULL, "event=upgrade_backup_remove_failed path=\"%s\" error=\"%s\"",
		         path, strerror(errno));
		return;
	}
	unlink(marker);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (rmdir(path) == 0)
		log_info("store", NULL, "event=upgrade_backup_removed path=\"%s\"", path);
}

void store_upgrade_release(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (backup_name(de->d_name))
			release_one(dir, de->d_name);
	closedir(d);
}
