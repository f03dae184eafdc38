/*
 * store_backup.c — the store's part of a backup: a consistent snapshot
 * written out, checked, and put back into an empty data directory.
 *
 * Layout. A backup directory holds
 *   store.mdb            an LMDB environment (one file, MDB_NOSUBDIR) with
 *                        every named database of the store except the
 *                        blob bytes (blob, blobdata, blobgc) and the
 *                        full-text index (fts, fts_term), written in
 *                        key order with MDB_APPEND: compacted, no free pages;
 *   blobs/XX/<64 hex>    each live blob's message bytes, raw, named by its
 *                        BLAKE2b-256 (store_blob_id), XX its first two digits.
 * The caller (app/backup) adds the key files and the manifest.
 *
 * Why this split. Message bytes are nearly all of a store and never change
 * once written, so naming them by content lets the next backup take a
 * blob from the previous one with a hard link (incremental backups cost
 * the new mail only) and lets a check recompute every name. The rest is
 * small and changes with every delivery: it is copied whole each time.
 *
 * Consistency. Everything is read inside ONE read transaction of the live
 * store: a snapshot of the last commit when it began. A delivery that got
 * its 250 before is in it whole (bytes, email, uid entry, counters); one
 * after is not there at all. The server keeps committing meanwhile (LMDB
 * readers never block the writer), but it cannot reuse pages freed after
 * the snapshot while it is held, so the data file grows by what is written
 * during the backup; used_start/used_end report it.
 *
 * In the server process the read transaction holds maplock shared, which a
 * map growth waits for: a scheduled backup first grows the map ahead
 * (store_map_reserve) so that the deliveries during it never need to.
 *
 * Restore rebuilds the blob databases from the files: each blobref record
 * keeps its blobdata sequence number (or, for a schema 1 blob, its place
 * in blob), so every record of store.mdb is used as it was and the
 * restored store is the snapshot: same ids, UIDVALIDITYs, UIDs, modseqs,
 * until its first open moves them past what the lost store may have
 * handed out since (store_restore.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sodium.h>

#include "core/file.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "store/store_backup.h"
#include "store/store_private.h"

#define STORE_FILE "store.mdb"
/* A copy transaction commits after this many records or bytes, to keep
 * its dirty pages well under LMDB's limit. */
#define COPY_TXN_RECORDS 20000u
#define COPY_TXN_BYTES ((uint64_t)32 << 20)
/* Largest map a restore sizes for: 2^48 bytes (256 TiB), the reach of
 * x86-64's and arm64's user address space. */
#define STORE_RESTORE_MAP_MAX ((uint64_t)1 << 48)

/* Databases not copied into store.mdb: the blob bytes (files of their
 * own), and the full-text index, made from the mail again after a
 * restore (store_fts.c; it can be as large as the rest together). */
static int is_skipped_db(const char *name, size_t n)
{
	return (n == 4 && memcmp(name, "blob", 4) == 0) || (n == 8 && memcmp(name, "blobdata", 8) == 0) ||
	       (n == 6 && memcmp(name, "blobgc", 6) == 0) || (n == 3 && memcmp(name, "fts", 3) == 0) ||
	       (n == 8 && memcmp(name, "fts_term", 8) == 0);
}

static int fail(char *err, size_t errsz, int rc, const char *what, const char *path)
{
	int code = rc == ENOSPC ? STORE_EFULL : rc == MDB_CORRUPTED ? STORE_EINVAL : STORE_ETEMP;
	return store_err(err, errsz, code, "%s %s: %s", what, path,
	                 rc == ENOSPC          ? "no space left on device"
	                 : rc == MDB_CORRUPTED ? "damaged (cut short or corrupt)"
	                                       : mdb_strerror(rc));
}

void store_backup_blob_path(char *out, size_t outsz, const char *dir, const uint8_t id[32])
{
	char hex[65];
	sodium_bin2hex(hex, sizeof hex, id, 32);
	snprintf(out, outsz, "%s/blobs/%.2s/%s", dir, hex, hex);
}

/* ---- the blob list ---- */

struct blob_ent {
	uint64_t seq, size;
	uint8_t id[32];
};

static int by_seq(const void *a, const void *b)
{
	const struct blob_ent *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Every blobref record of txn, sorted by sequence number (schema 1 blobs,
 * seq 0, first): bytes are then read in the order they lie in the file. */
static int blob_list(MDB_txn *txn, MDB_dbi dbi, struct blob_ent **v_r, size_t *n_r, uint64_t *bytes_r)
{
	MDB_cursor *c;
	MDB_val k, v;
	struct blob_ent *ents = NULL;
	size_t n = 0, cap = 0;
	uint64_t bytes = 0;
	int rc = mdb_cursor_open(txn, dbi, &c);

	if (rc)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct rec_r r = rr_init(&v);
		uint8_t ver = rr_u8(&r);
		struct blob_ent e;
		if (k.mv_size != 32 || (ver != REC_V1 && ver != REC_V2)) {
			rc = MDB_CORRUPTED;
			break;
		}
		(void)rr_u64(&r); /* refs */
		e.size = rr_u64(&r);
		e.seq = ver == REC_V2 ? rr_u64(&r) : 0;
		if (r.bad || (ver == REC_V2 && e.seq == 0)) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(e.id, k.mv_data, 32);
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			ents = xrealloc(ents, cap * sizeof *ents);
		}
		ents[n++] = e;
		bytes += e.size;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND) {
		free(ents);
		return rc;
	}
	if (n)
		qsort(ents, n, sizeof *ents, by_seq);
	*v_r = ents;
	*n_r = n;
	*bytes_r = bytes;
	return 0;
}

/* ---- writing ---- */

static int mkdir_ok(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : errno;
}

/* Whether the file at path holds exactly blob e's bytes (its size and
 * the BLAKE2b-256 that names it): 1 yes, 0 no, else an errno. */
static int blob_file_matches(const char *path, const struct blob_ent *e)
{
	uint8_t id[32];
	uint64_t size;
	int rc = file_hash(path, &size, id);

	if (rc)
		return rc;
	return size == e->size && memcmp(id, e->id, 32) == 0;
}

/* Takes blob e from the base backup when it has it: 1 taken, 0 not there
 * (or not the right bytes), else an errno. The base's file is only a
 * candidate: a file of the right name and size may hold other bytes (a
 * damaged or edited base), so the bytes taken are hashed again, after
 * the link (what is checked is what the new backup holds), and thrown
 * away for the store's when they are not the blob's. */
static int blob_reuse(const char *base, const char *path, const struct blob_ent *e)
{
	char from[4200];
	struct stat sb;
	int rc;

	if (base == NULL)
		return 0;
	store_backup_blob_path(from, sizeof from, base, e->id);
	if (lstat(from, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != e->size)
		return 0;
	if (link(from, path) != 0) {
		/* Gone since the lstat: the base pruned meanwhile (a run by
		 * hand with --base in the schedule's directory). */
		if (errno == ENOENT)
			return 0;
		if (errno != EXDEV && errno != EPERM && errno != EMLINK)
			return errno;
		if ((rc = file_copy(from, path, 0)) != 0) {
			unlink(path);
			return rc == ENOENT ? 0 : rc;
		}
	}
	rc = blob_file_matches(path, e);
	if (rc == 1)
		return 1;
	unlink(path);
	if (rc == 0)
		log_warn("backup", NULL, "event=base_blob_damaged file=\"%s\" reason=\"bytes differ "
		         "from their name: taken from the store instead\"", from);
	return rc == 0 ? 0 : rc;
}

static int blob_write(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	int rc = file_write_all(fd, p, n);
	if (close(fd) != 0 && rc == 0)
		rc = errno;
	return rc;
}

struct copy_out {
	MDB_env *env;
	MDB_txn *txn;
	unsigned records;
	uint64_t bytes;
};

/* Commits the output transaction when it is big enough (or force) and
 * begins the next one (unless force < 0: the end). */
static int out_step(struct copy_out *o, int force)
{
	int rc;
	if (!force && o->records < COPY_TXN_RECORDS && o->bytes < COPY_TXN_BYTES)
		return 0;
	rc = mdb_txn_commit(o->txn);
	o->txn = NULL;
	o->records = 0;
	o->bytes = 0;
	if (rc == 0 && force >= 0)
		rc = mdb_txn_begin(o->env, NULL, 0, &o->txn);
	return rc;
}

/* Copies one named database of the snapshot into the output, in key order. */
static int copy_db(MDB_txn *src, const char *name, struct copy_out *o, uint64_t *count_r)
{
	MDB_dbi from, to;
	MDB_cursor *c;
	MDB_val k, v;
	unsigned flags;
	uint64_t n = 0;
	int rc = mdb_dbi_open(src, name, 0, &from);

	if (rc == 0)
		rc = mdb_dbi_flags(src, from, &flags);
	if (rc)
		return rc;
	flags &= MDB_REVERSEKEY | MDB_DUPSORT | MDB_INTEGERKEY | MDB_DUPFIXED | MDB_INTEGERDUP | MDB_REVERSEDUP;
	rc = mdb_dbi_open(o->txn, name, flags | MDB_CREATE, &to);
	if (rc == 0)
		rc = out_step(o, 1); /* the new handle is kept once its transaction commits */
	if (rc)
		return rc;
	if ((rc = mdb_cursor_open(src, from, &c)) != 0)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		rc = mdb_put(o->txn, to, &k, &v, (flags & MDB_DUPSORT) ? MDB_APPENDDUP : MDB_APPEND);
		if (rc)
			break;
		n++;
		o->records++;
		o->bytes += k.mv_size + v.mv_size;
		if ((rc = out_step(o, 0)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return rc;
	*count_r = n;
	return 0;
}

/* Named databases of the snapshot, each a NUL-terminated name in *names_r
 * (one allocation, names one after another), their number in *n_r. */
static int db_names(MDB_txn *txn, char **names_r, size_t *n_r)
{
	MDB_dbi main;
	MDB_cursor *c;
	MDB_val k, v;
	char *buf = NULL;
	size_t len = 0, n = 0;
	int rc = mdb_dbi_open(txn, NULL, 0, &main);

	if (rc == 0)
		rc = mdb_cursor_open(txn, main, &c);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size == 0 || k.mv_size > 255 || memchr(k.mv_data, '\0', k.mv_size)) {
			rc = MDB_CORRUPTED;
			break;
		}
		buf = xrealloc(buf, len + k.mv_size + 1);
		memcpy(buf + len, k.mv_data, k.mv_size);
		buf[len + k.mv_size] = '\0';
		len += k.mv_size + 1;
		n++;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND) {
		free(buf);
		return rc;
	}
	*names_r = buf;
	*n_r = n;
	return 0;
}

static void count_into(struct store_backup_info *info, const char *name, uint64_t n)
{
	if (strcmp(name, "principal") == 0)
		info->accounts = n;
	else if (strcmp(name, "mailbox") == 0)
		info->mailboxes = n;
	else if (strcmp(name, "email") == 0)
		info->emails = n;
	else if (strcmp(name, "queue") == 0)
		info->queue = n;
	info->records += n;
}

static int open_out(const char *dir, uint64_t mapsize, struct copy_out *o)
{
	char path[4200];
	int rc = mdb_env_create(&o->env);

	snprintf(path, sizeof path, "%s/" STORE_FILE, dir);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(o->env, 64);
	if (rc == 0)
		rc = mdb_env_set_mapsize(o->env, (size_t)mapsize);
	/* Only this process writes it, and it is synced once at the end. */
	if (rc == 0)
		rc = mdb_env_open(o->env, path, MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC, 0600);
	if (rc == 0)
		rc = mdb_txn_begin(o->env, NULL, 0, &o->txn);
	return rc;
}

static int used_now(struct store *st, uint64_t *used_r)
{
	MDB_envinfo info;
	MDB_stat s;
	mdb_env_info(st->env, &info);
	int rc = mdb_env_stat(st->env, &s);
	if (rc == 0)
		*used_r = ((uint64_t)info.me_last_pgno + 1) * s.ms_psize;
	return rc;
}

/* The databases of the snapshot, minus the blob bytes, into store.mdb. */
static int write_records(MDB_txn *txn, const char *dir, uint64_t mapsize,
                         struct store_backup_info *info, char *err, size_t errsz)
{
	struct copy_out o = {0};
	char *names = NULL;
	size_t nnames = 0;
	int rc = open_out(dir, mapsize, &o);

	if (rc == 0)
		rc = db_names(txn, &names, &nnames);
	const char *name = names;
	for (size_t i = 0; rc == 0 && i < nnames; i++, name += strlen(name) + 1) {
		uint64_t n = 0;
		if (is_skipped_db(name, strlen(name)))
			continue;
		rc = copy_db(txn, name, &o, &n);
		count_into(info, name, n);
	}
	free(names);
	if (rc == 0 && o.txn)
		rc = out_step(&o, -1);
	if (o.txn)
		mdb_txn_abort(o.txn);
	if (rc == 0)
		rc = mdb_env_sync(o.env, 1);
	if (o.env)
		mdb_env_close(o.env);
	if (rc)
		return fail(err, errsz, rc, "cannot write", dir);
	return STORE_OK;
}

/* The bytes of every live blob into dir/blobs, from base when it has them. */
static int write_blobs(struct store *st, MDB_txn *txn, const char *dir, const char *base,
                       struct store_backup_info *info, store_backup_progress_fn *progress,
                       void *arg, char *err, size_t errsz)
{
	struct blob_ent *ents = NULL;
	size_t n = 0;
	uint64_t total = 0, done = 0;
	char path[4200];
	int rc = blob_list(txn, st->db[DB_BLOBREF], &ents, &n, &total);

	if (rc)
		return fail(err, errsz, rc, "cannot list the blobs of", st->dir);
	info->blobs = n;
	info->blob_bytes = total;
	snprintf(path, sizeof path, "%s/blobs", dir);
	if ((rc = mkdir_ok(path)) != 0)
		goto out;
	for (unsigned d = 0; d < 256; d++) {
		/* A stop is heard here too: on a slow network share the 256
		 * directories can take longer than a container's stop waits. */
		if (n && progress && progress(arg, 0, total, 0, n)) {
			rc = ECANCELED;
			goto out;
		}
		snprintf(path, sizeof path, "%s/blobs/%02x", dir, d);
		if ((rc = mkdir_ok(path)) != 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct blob_ent *e = &ents[i];
		store_backup_blob_path(path, sizeof path, dir, e->id);
		int r = blob_reuse(base, path, e);
		if (r == 1) {
			info->blobs_reused++;
		} else if (r != 0) {
			rc = r;
			goto out;
		} else {
			MDB_val bytes;
			uint8_t id[32];
			rc = blob_get(txn, st, e->id, &bytes, NULL);
			if (rc)
				goto out;
			/* A blob whose bytes no longer match their name is damage in
			 * the store: better known now than at the restore. */
			store_blob_id(bytes.mv_data, bytes.mv_size, id);
			if (bytes.mv_size != e->size || memcmp(id, e->id, 32) != 0) {
				rc = MDB_CORRUPTED;
				goto out;
			}
			if ((rc = blob_write(path, bytes.mv_data, bytes.mv_size)) != 0)
				goto out;
		}
		done += e->size;
		if (progress && progress(arg, done, total, i + 1, n)) {
			rc = ECANCELED;
			goto out;
		}
	}
out:
	free(ents);
	if (rc)
		return fail(err, errsz, rc, "cannot write the blob", path);
	return STORE_OK;
}

int store_backup_write(struct store *st, const char *dir, const char *base,
                       struct store_backup_info *info, store_backup_progress_fn *progress, void *arg,
                       char *err, size_t errsz)
{
	MDB_txn *txn;
	uint64_t mapsize = 0;
	int rc;

	memset(info, 0, sizeof *info);
	if ((rc = store_rd_begin(st, &txn)) != 0)
		return fail(err, errsz, rc, "cannot read the store in", st->dir);
	used_now(st, &info->used_start);
	rc = meta_get_u32(txn, st, "schema_version", &info->schema);
	if (rc) {
		store_rd_end(st, txn);
		return fail(err, errsz, rc, "cannot read the schema version in", st->dir);
	}
	/* The records are a part of the used pages: this map always holds them. */
	mapsize = info->used_start + ((uint64_t)64 << 20);
	rc = write_records(txn, dir, mapsize, info, err, errsz);
	if (rc == STORE_OK)
		rc = write_blobs(st, txn, dir, base, info, progress, arg, err, errsz);
	used_now(st, &info->used_end);
	store_rd_end(st, txn);
	return rc;
}

/* ---- checking ---- */

/* Reads a file whole into memory: 0 or an errno. */
static int read_file(const char *path, uint64_t size, uint8_t **buf_r)
{
	struct stat sb;
	int fd = file_open_regular(path), rc = 0;

	*buf_r = NULL;
	if (fd < 0)
		return errno;
	if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != size) {
		close(fd);
		return EBADMSG;
	}
	uint8_t *buf = xmalloc(size ? size : 1);
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? errno : EBADMSG;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	*buf_r = buf;
	return 0;
}

/* A blob file read and its name recomputed: 0, EBADMSG when damaged. */
static int blob_load(const char *dir, const struct blob_ent *e, uint8_t **buf_r)
{
	char path[4200];
	uint8_t id[32];
	store_backup_blob_path(path, sizeof path, dir, e->id);
	int rc = read_file(path, e->size, buf_r);
	if (rc)
		return rc;
	store_blob_id(*buf_r, e->size, id);
	if (memcmp(id, e->id, 32) != 0) {
		free(*buf_r);
		*buf_r = NULL;
		return EBADMSG;
	}
	return 0;
}

static int env_open_ro(const char *file, MDB_env **env_r)
{
	struct stat sb;
	int rc;

	if (stat(file, &sb) != 0)
		return errno;
	if ((rc = mdb_env_create(env_r)) != 0)
		return rc;
	rc = mdb_env_set_maxdbs(*env_r, 64);
	if (rc == 0)
		rc = mdb_env_set_mapsize(*env_r, (size_t)sb.st_size + (1u << 20));
	if (rc == 0)
		rc = mdb_env_open(*env_r, file, MDB_NOSUBDIR | MDB_NOLOCK | MDB_RDONLY, 0600);
	uint64_t have, need;
	if (rc == 0)
		rc = store_env_whole(*env_r, &have, &need);
	if (rc) {
		mdb_env_close(*env_r);
		*env_r = NULL;
	}
	return rc;
}

static int dbi_count(MDB_txn *txn, const char *name, MDB_dbi *dbi_r, uint64_t *n_r)
{
	MDB_stat s;
	int rc = mdb_dbi_open(txn, name, 0, dbi_r);
	if (rc == MDB_NOTFOUND) {
		*n_r = 0;
		return 0;
	}
	if (rc == 0 && (rc = mdb_stat(txn, *dbi_r, &s)) == 0)
		*n_r = s.ms_entries;
	return rc;
}

/* Every account's counters (emails, used) against its email records,
 * and every email's bytes named by a blobref record (else the restored
 * message could not be read, though every blob file checks out). */
static int check_counters(MDB_txn *txn, char *err, size_t errsz)
{
	MDB_dbi pdb, edb, rdb;
	MDB_cursor *pc, *ec;
	MDB_val pk, pv, ek, ev;
	uint64_t np, ne;
	int rc = dbi_count(txn, "principal", &pdb, &np);

	if (rc == 0)
		rc = dbi_count(txn, "email", &edb, &ne);
	if (rc == 0 && ne && (rc = mdb_dbi_open(txn, "blobref", 0, &rdb)) == MDB_NOTFOUND)
		return store_err(err, errsz, STORE_EINVAL, "%llu emails but no blob records",
		                 (unsigned long long)ne);
	if (rc || np == 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, pdb, &pc)) != 0)
		return rc;
	if (ne && (rc = mdb_cursor_open(txn, edb, &ec)) != 0) {
		mdb_cursor_close(pc);
		return rc;
	}
	int erc = ne ? mdb_cursor_get(ec, &ek, &ev, MDB_FIRST) : MDB_NOTFOUND;
	for (rc = mdb_cursor_get(pc, &pk, &pv, MDB_FIRST); rc == 0; rc = mdb_cursor_get(pc, &pk, &pv, MDB_NEXT)) {
		struct acct_rec a;
		uint64_t emails = 0, used = 0;
		if (pk.mv_size != 4 || acct_dec(&pv, &a) != 0) {
			rc = MDB_CORRUPTED;
			break;
		}
		uint32_t id = be32_get(pk.mv_data);
		/* Both are in account order: one walk of the emails. */
		while (erc == 0 && ek.mv_size == 8 && be32_get(ek.mv_data) < id)
			erc = mdb_cursor_get(ec, &ek, &ev, MDB_NEXT);
		while (erc == 0 && ek.mv_size == 8 && be32_get(ek.mv_data) == id) {
			struct email_rec e;
			MDB_val bk = {32, NULL}, bv;
			if (email_dec(&ev, &e) != 0) {
				erc = MDB_CORRUPTED;
				break;
			}
			bk.mv_data = e.blob_id;
			int br = mdb_get(txn, rdb, &bk, &bv);
			if (br != 0) {
				char hex[65];
				sodium_bin2hex(hex, sizeof hex, e.blob_id, 32);
				mdb_cursor_close(pc);
				mdb_cursor_close(ec);
				if (br != MDB_NOTFOUND)
					return br;
				return store_err(err, errsz, STORE_EINVAL,
				                 "account %s: email %u's message bytes (blob %s) are not in "
				                 "the backup", a.email, be32_get((uint8_t *)ek.mv_data + 4), hex);
			}
			emails++;
			used += e.size;
			erc = mdb_cursor_get(ec, &ek, &ev, MDB_NEXT);
		}
		if (erc != 0 && erc != MDB_NOTFOUND) {
			rc = erc;
			break;
		}
		if (a.emails != emails || a.used != used) {
			mdb_cursor_close(pc);
			if (ne)
				mdb_cursor_close(ec);
			return store_err(err, errsz, STORE_EINVAL,
			                 "account %s: %u emails, %llu bytes recorded but %llu emails, "
			                 "%llu bytes stored", a.email, a.emails,
			                 (unsigned long long)a.used, (unsigned long long)emails,
			                 (unsigned long long)used);
		}
	}
	mdb_cursor_close(pc);
	if (ne)
		mdb_cursor_close(ec);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Offset of blob_id in a queue record (SCHEMA.md "queue"): version,
 * created_at, next_attempt, account, attempts, flags, size. */
#define QUEUE_BLOB_OFF (1 + 8 + 8 + 4 + 4 + 4 + 8)

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* Appends the blob id of every record of db name (email records, or
 * queue entries) to *ids. 0 or an LMDB error (MDB_CORRUPTED: a record
 * that does not decode). */
static int refs_collect(MDB_txn *txn, const char *name, uint8_t (**ids)[32], size_t *n, size_t *cap)
{
	MDB_dbi dbi;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_dbi_open(txn, name, 0, &dbi);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc || (rc = mdb_cursor_open(txn, dbi, &c)) != 0)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const uint8_t *id;
		struct email_rec e;
		if (name[0] == 'e') {
			if (email_dec(&v, &e) != 0) {
				rc = MDB_CORRUPTED;
				break;
			}
			id = e.blob_id;
		} else {
			if (v.mv_size < QUEUE_BLOB_OFF + 32 ||
			    ((uint8_t *)v.mv_data)[0] != REC_V1) {
				rc = MDB_CORRUPTED;
				break;
			}
			id = (uint8_t *)v.mv_data + QUEUE_BLOB_OFF;
		}
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 1024;
			*ids = xrealloc(*ids, *cap * sizeof **ids);
		}
		memcpy((*ids)[(*n)++], id, 32);
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Every blobref record's refcount against the email records and queue
 * entries naming its blob (SCHEMA.md invariant 6): a count too high
 * keeps bytes nothing refers to for ever (an orphan blob), one too low
 * frees them while a message still names them (its bytes lost at the
 * next expunge of a copy), and a queue entry without a record sends
 * nothing. Both lists are in key order: one merge. Memory: 32 bytes per
 * email and queue entry. STORE_OK, STORE_EINVAL with err, or an LMDB
 * error. */
static int check_blob_refs(MDB_txn *txn, char *err, size_t errsz)
{
	uint8_t (*ids)[32] = NULL;
	size_t n = 0, cap = 0, i = 0;
	MDB_dbi rdb;
	MDB_cursor *c;
	MDB_val k, v;
	char hex[65];
	int rc = refs_collect(txn, "email", &ids, &n, &cap);

	if (rc == 0)
		rc = refs_collect(txn, "queue", &ids, &n, &cap);
	if (rc == 0 && (rc = mdb_dbi_open(txn, "blobref", 0, &rdb)) == MDB_NOTFOUND && n == 0)
		rc = MDB_NOTFOUND; /* no blobs, nothing naming one */
	if (rc == 0 && (rc = mdb_cursor_open(txn, rdb, &c)) == 0) {
		if (n)
			qsort(ids, n, sizeof *ids, id_cmp);
		for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			struct rec_r r = rr_init(&v);
			(void)rr_u8(&r);
			uint64_t refs = rr_u64(&r), named = 0;
			if (k.mv_size != 32 || r.bad) {
				rc = MDB_CORRUPTED;
				break;
			}
			if (i < n && memcmp(ids[i], k.mv_data, 32) < 0)
				break; /* named, but no record: said below */
			while (i < n && memcmp(ids[i], k.mv_data, 32) == 0)
				i++, named++;
			if (refs != named) {
				sodium_bin2hex(hex, sizeof hex, k.mv_data, 32);
				mdb_cursor_close(c);
				free(ids);
				return store_err(
				    err, errsz, STORE_EINVAL,
				    "blob %s: %llu references recorded but %llu emails and "
				    "queue entries refer to it",
				    hex, (unsigned long long)refs, (unsigned long long)named);
			}
		}
		mdb_cursor_close(c);
	}
	if ((rc == 0 || rc == MDB_NOTFOUND) && i < n) {
		sodium_bin2hex(hex, sizeof hex, ids[i], 32);
		free(ids);
		return store_err(err, errsz, STORE_EINVAL,
		                 "blob %s: an email or queue entry refers to it, but the backup "
		                 "has no record of it (its message bytes are not in the backup)",
		                 hex);
	}
	free(ids);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The records add up: each account's counters, every email's bytes
 * (check_counters), every blob's references (check_blob_refs). */
static int check_records(MDB_txn *txn, char *err, size_t errsz)
{
	int code = check_counters(txn, err, errsz);
	return code ? code : check_blob_refs(txn, err, errsz);
}

int store_backup_check(const char *dir, struct store_backup_info *info,
                       store_backup_progress_fn *progress, void *arg, char *err, size_t errsz)
{
	char file[4200];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	struct blob_ent *ents = NULL;
	size_t n = 0;
	uint64_t total = 0, done = 0, cnt;
	int rc, code = STORE_OK;

	memset(info, 0, sizeof *info);
	snprintf(file, sizeof file, "%s/" STORE_FILE, dir);
	if ((rc = env_open_ro(file, &env)) != 0)
		return fail(err, errsz, rc, "cannot open", file);
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0)
		goto out;
	if ((rc = store_meta_schema(txn, &info->schema)) != 0)
		goto out;
	static const char *const counted[] = {"principal", "mailbox", "email", "queue"};
	for (size_t i = 0; i < sizeof counted / sizeof counted[0]; i++) {
		if ((rc = dbi_count(txn, counted[i], &dbi, &cnt)) != 0)
			goto out;
		count_into(info, counted[i], cnt);
	}
	if ((code = check_records(txn, err, errsz)) != 0) {
		if (code != STORE_EINVAL)
			rc = code, code = STORE_OK;
		goto out;
	}
	if ((rc = mdb_dbi_open(txn, "blobref", 0, &dbi)) != 0 ||
	    (rc = blob_list(txn, dbi, &ents, &n, &total)) != 0)
		goto out;
	info->blobs = n;
	info->blob_bytes = total;
	for (size_t i = 0; i < n; i++) {
		uint8_t *buf;
		int r = blob_load(dir, &ents[i], &buf);
		if (r) {
			store_backup_blob_path(file, sizeof file, dir, ents[i].id);
			code = store_err(err, errsz, STORE_EINVAL, "blob %s: %s", file,
			                 r == EBADMSG ? "damaged (size or checksum differs)"
			                              : file_strerror(r));
			goto out;
		}
		free(buf);
		done += ents[i].size;
		if (progress && progress(arg, done, total, i + 1, n)) {
			rc = ECANCELED;
			goto out;
		}
	}
out:
	free(ents);
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	if (code)
		return code;
	if (rc)
		return fail(err, errsz, rc, "cannot read", file);
	return STORE_OK;
}

/* ---- restoring ---- */

/* LMDB reports a short write as EIO; on a file system with (next to)
 * nothing left, that is a full disk and is said as one. */
static int full_if_short(int rc, const char *data_dir)
{
	struct statvfs vs;
	if (rc == EIO && statvfs(data_dir, &vs) == 0 &&
	    (uint64_t)vs.f_bavail * vs.f_frsize < ((uint64_t)1 << 20))
		return ENOSPC;
	return rc;
}

/* Puts every blob's bytes back where its blobref record says they are. */
static int restore_blobs(MDB_env *env, const char *dir, const char *data_dir,
                         store_backup_progress_fn *progress, void *arg, char *err, size_t errsz)
{
	MDB_txn *txn;
	MDB_dbi ref, data, old, gc, fts;
	struct blob_ent *ents = NULL;
	size_t n = 0;
	uint64_t total = 0, done = 0, pending = 0;
	int rc = mdb_txn_begin(env, NULL, 0, &txn);

	/* The full-text index's databases, empty (no account indexed: the
	 * server makes the index from the mail again), so that every
	 * database of the store is there for the CLI's read-only open
	 * before the first tern serve. */
	if (rc == 0)
		rc = mdb_dbi_open(txn, "fts", MDB_CREATE, &fts);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "fts_term", MDB_CREATE, &fts);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "blobref", MDB_CREATE, &ref);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "blobdata", MDB_CREATE, &data);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "blob", MDB_CREATE, &old);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "blobgc", MDB_CREATE, &gc);
	if (rc == 0)
		rc = blob_list(txn, ref, &ents, &n, &total);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct blob_ent *e = &ents[i];
		uint8_t *buf, kb[8];
		int r = blob_load(dir, e, &buf);
		if (r) {
			char path[4200];
			store_backup_blob_path(path, sizeof path, dir, e->id);
			free(ents);
			mdb_txn_abort(txn);
			return store_err(err, errsz, STORE_EINVAL, "blob %s: %s", path,
			                 r == EBADMSG ? "damaged (size or checksum differs)"
			                              : file_strerror(r));
		}
		MDB_val k, v = {e->size + 1, NULL};
		if (e->seq) {
			be64_put(kb, e->seq);
			k = (MDB_val){8, kb};
			rc = mdb_put(txn, data, &k, &v, MDB_RESERVE | MDB_APPEND);
		} else {
			k = (MDB_val){32, (void *)e->id};
			rc = mdb_put(txn, old, &k, &v, MDB_RESERVE);
		}
		if (rc == 0) {
			((uint8_t *)v.mv_data)[0] = REC_V1;
			memcpy((uint8_t *)v.mv_data + 1, buf, e->size);
		}
		free(buf);
		pending += e->size;
		done += e->size;
		if (rc == 0 && pending >= COPY_TXN_BYTES) {
			rc = mdb_txn_commit(txn);
			txn = NULL;
			pending = 0;
			if (rc == 0)
				rc = mdb_txn_begin(env, NULL, 0, &txn);
		}
		if (rc == 0 && progress && progress(arg, done, total, i + 1, n))
			rc = ECANCELED;
	}
	free(ents);
	if (rc == 0) {
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (txn)
		mdb_txn_abort(txn);
	rc = full_if_short(rc, data_dir);
	return rc ? fail(err, errsz, rc, "cannot restore the blobs into", "the store") : STORE_OK;
}

/* The store's own schema, not only the manifest's word for it (a
 * manifest of format 1 has no check of itself): one newer than this
 * build's would be restored into a directory no server of this build
 * opens. STORE_OK, STORE_EINVAL with err, or an LMDB error. */
static int check_schema(MDB_txn *txn, uint32_t want, const char *file, char *err, size_t errsz)
{
	uint32_t ver = 0;
	int rc = store_meta_schema(txn, &ver);

	if (rc)
		return rc;
	if (ver > STORE_SCHEMA_VERSION)
		return store_err(err, errsz, STORE_EINVAL,
		                 "%s holds store schema %u, newer than this "
		                 "build's %u: restore it with a newer tern",
		                 file, ver, STORE_SCHEMA_VERSION);
	if (ver != want)
		return store_err(err, errsz, STORE_EINVAL,
		                 "%s: damaged (it holds store schema %u, "
		                 "the manifest says %u)",
		                 file, ver, want);
	return STORE_OK;
}

int store_backup_restore(const char *dir, const char *data_dir, uint64_t want_size,
                         const uint8_t want_hash[32], uint32_t want_schema,
                         store_backup_progress_fn *progress, void *arg, char *err, size_t errsz)
{
	uint64_t got_size;
	uint8_t got_hash[32];
	char from[4200], to[4200];
	MDB_env *env = NULL;
	struct stat sb;
	int rc;

	/* Built under another name, which the caller renames to data.mdb
	 * once everything is in place: a restore cut short (kill -9, power
	 * loss) leaves no data.mdb that a server would open as if complete,
	 * and store_open refuses to start beside the leftover. */
	snprintf(from, sizeof from, "%s/" STORE_FILE, dir);
	snprintf(to, sizeof to, "%s/" STORE_RESTORING_FILE, data_dir);
	if (stat(from, &sb) != 0)
		return fail(err, errsz, errno, "cannot read", from);
	if ((rc = file_copy_hash(from, to, 0, &got_size, got_hash)) != 0)
		return fail(err, errsz, rc, "cannot write", to);
	/* Checked as copied (one read): what was checked is what is used. */
	if (got_size != want_size || sodium_memcmp(got_hash, want_hash, 32) != 0)
		return store_err(err, errsz, STORE_EINVAL,
		                 "%s: damaged (size or checksum differs from the manifest)", from);
	/* Room for the records and every blob; the server grows it from there. */
	uint64_t map = STORE_MAP_MIN, want = (uint64_t)sb.st_size + ((uint64_t)64 << 20);
	rc = mdb_env_create(&env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(env, 64);
	if (rc == 0)
		rc = mdb_env_open(env, to, MDB_NOSUBDIR | MDB_NOSYNC, 0600);
	uint64_t have, need;
	if (rc == 0)
		rc = store_env_whole(env, &have, &need);
	if (rc == 0) {
		/* The blob bytes' total is known once blobref is read: size the
		 * map for it before writing them. */
		MDB_txn *txn;
		MDB_dbi ref;
		struct blob_ent *ents = NULL;
		size_t n = 0;
		uint64_t total = 0;
		rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
		if (rc == 0) {
			rc = mdb_dbi_open(txn, "blobref", 0, &ref);
			if (rc == 0)
				rc = blob_list(txn, ref, &ents, &n, &total);
			mdb_txn_abort(txn);
			free(ents);
		}
		want += total + total / 4 + n * 4096; /* overflow pages round up to a page */
		/* The sizes are the backup's word (a damaged or made-up
		 * store.mdb): past what any map can be, doubling would wrap
		 * to 0 and never reach them. */
		if (rc == 0 && (want > STORE_RESTORE_MAP_MAX || total > STORE_RESTORE_MAP_MAX)) {
			mdb_env_close(env);
			return store_err(err, errsz, STORE_EINVAL,
			                 "%s: damaged (its blobs add up to %llu bytes, more than a "
			                 "store can hold)", from, (unsigned long long)total);
		}
		while (map < want)
			map <<= 1;
		if (rc == 0)
			rc = mdb_env_set_mapsize(env, (size_t)map);
	}
	if (rc) {
		if (env)
			mdb_env_close(env);
		return fail(err, errsz, rc, "cannot open the restored store in", data_dir);
	}
	/* The records are of the schema the manifest says, one this build
	 * reads, and add up (as backup --verify checks): no account whose
	 * counters disagree with its emails, no email without its bytes. */
	MDB_txn *ctxn;
	int code = STORE_OK;
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &ctxn)) == 0) {
		code = check_schema(ctxn, want_schema, from, err, errsz);
		if (code == STORE_OK)
			code = check_records(ctxn, err, errsz);
		mdb_txn_abort(ctxn);
		if (code != STORE_OK && code != STORE_EINVAL)
			rc = code, code = STORE_OK;
	}
	if (rc || code) {
		mdb_env_close(env);
		return code ? code : fail(err, errsz, rc, "cannot read", to);
	}
	code = restore_blobs(env, dir, data_dir, progress, arg, err, errsz);
	if (code == STORE_OK) {
		/* The first open moves UIDVALIDITYs, ids and states past what
		 * the lost store handed out since the backup (store_restore.c). */
		MDB_txn *txn;
		MDB_dbi meta;
		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) == 0) {
			if ((rc = mdb_dbi_open(txn, "meta", 0, &meta)) == 0 &&
			    (rc = store_restore_mark(txn, meta)) == 0)
				rc = mdb_txn_commit(txn);
			else
				mdb_txn_abort(txn);
		}
		if (rc)
			code = fail(err, errsz, full_if_short(rc, data_dir), "cannot write", to);
	}
	if (code == STORE_OK && (rc = mdb_env_sync(env, 1)) != 0)
		code = fail(err, errsz, full_if_short(rc, data_dir), "cannot write", to);
	mdb_env_close(env);
	char lock[4300];
	snprintf(lock, sizeof lock, "%s-lock", to);
	unlink(lock);
	return code;
}
