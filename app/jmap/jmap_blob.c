/*
 * jmap_blob.c — upload blobs on disk with their time to live, blob ids,
 * and the ownership rule; see jmap_blob.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/hex.h"
#include "core/log.h"
#include "mime/mime_cache.h"
#include "mime/mime_decode.h"
#include "mime/mime_tree.h"
#include "core/xalloc.h"
#include "jmap/jmap.h"
#include "jmap/jmap_blob.h"
#include "store/store.h"

static char updir[512];
static pthread_mutex_t sweep_mu = PTHREAD_MUTEX_INITIALIZER;
static time_t last_sweep; /* 0: not since start */

static uint64_t max_message;

/* The temporary name an upload is written under (jmap_upload_put). */
#define TMP_PREFIX ".tmp-"

static void sweep_all(time_t now, int partial_too);

uint64_t jmap_max_message(void)
{
	return max_message;
}

uint64_t jmap_max_size_upload(void)
{
	return max_message && max_message < JMAP_MAX_SIZE_UPLOAD ? max_message
								 : JMAP_MAX_SIZE_UPLOAD;
}

uint64_t jmap_max_size_attachments(void)
{
	/* RFC 8621 §1.3.1 counts attachments as the user sees them, decoded.
	 * In the message each is base64, 57 octets to a line of 76 and CRLF
	 * (78 octets); a 32nd of the message is left for the header, the
	 * text and the parts' own headers. 50 MB of message: 35.4 MB of
	 * attachments (Stalwart's defaults are 50 and 75 MB, the same ratio
	 * near enough). */
	uint64_t m = jmap_max_size_upload();
	return (m - m / 32) / 78 * 57;
}

int jmap_upload_setup(const char *dir, uint64_t max_msg)
{
	max_message = max_msg;
	if (strlen(dir) >= sizeof updir - 100) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	snprintf(updir, sizeof updir, "%s", dir);
	/* An upload killed (kill -9, a power cut) between creating its
	 * temporary file and renaming it left the file, which no sweep
	 * removed (they pass over dot files): up to TERN_MAX_MESSAGE_SIZE
	 * of disk lost for good at each such kill. No upload runs yet (one
	 * server per data directory), so every one there is such a file. */
	sweep_all(time(NULL), 1);
	return 0;
}

int jmap_blob_parse(const char *s, uint8_t id_r[32])
{
	/* Lowercase only, as we write them: one id, one spelling. */
	if (!s || s[0] != 'B' || strlen(s) != 65)
		return -1;
	return hex_decode(id_r, s + 1, 64, HEX_LOWER_ONLY);
}

int jmap_part_parse(const char *s, uint32_t *email_r, unsigned *part_r)
{
	uint32_t e = 0;
	unsigned p = 0;
	if (!s || s[0] != 'P')
		return -1;
	s++;
	for (int i = 0; i < 8; i++) {
		int d = hex_digit_lower(s[i]); /* lowercase: as for blob ids */
		if (d < 0)
			return -1;
		e = e << 4 | (uint32_t)d;
	}
	s += 8;
	if (*s++ != '_' || !*s || (*s == '0' && s[1]))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || p > 100000)
			return -1;
		p = p * 10 + (unsigned)(*s - '0');
	}
	if (!e)
		return -1;
	*email_r = e;
	*part_r = p;
	return 0;
}

/*
 * Removes the expired uploads of one account's directory; with
 * partial_too, also the files of uploads cut short (see
 * jmap_upload_setup).
 */
static void sweep_dir(const char *path, time_t now, int partial_too)
{
	DIR *d = opendir(path);
	struct dirent *e;
	struct stat sb;
	unsigned n = 0;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (partial_too && strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0 &&
		    unlinkat(dirfd(d), e->d_name, 0) == 0) {
			n++;
			continue;
		}
		if (e->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), e->d_name, &sb, 0) == 0 && S_ISREG(sb.st_mode) &&
		    sb.st_mtime + JMAP_UPLOAD_TTL <= now && unlinkat(dirfd(d), e->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	if (n)
		log_info("jmap", NULL, "event=uploads_expired dir=%s files=%u", path, n);
}

static void sweep_all(time_t now, int partial_too)
{
	DIR *d = opendir(updir);
	struct dirent *e;
	char path[sizeof updir + 300];

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", updir, e->d_name);
		sweep_dir(path, now, partial_too);
	}
	closedir(d);
}

/* The directory of account's uploads, or of user's to account (another
 * user's, shared with it: jmap_share_blob.c), "<owner>.<user>", so that
 * neither the owner nor another user it shares with finds them. */
static void upload_dir(char *dir, size_t n, uint32_t account, uint32_t user)
{
	if (user == account)
		snprintf(dir, n, "%s/%08x", updir, account);
	else
		snprintf(dir, n, "%s/%08x.%08x", updir, account, user);
}

/* 1 when name, an entry of the upload directory, is one of account's
 * directories (upload_dir): "<account>", "<account>.<user>" or
 * "<owner>.<account>". */
static int upload_dir_of(const char *name, uint32_t account)
{
	char own[16];
	size_t n = strlen(name);

	snprintf(own, sizeof own, "%08x", account);
	if (n == 8)
		return memcmp(name, own, 8) == 0;
	return n == 17 && name[8] == '.' &&
	       (memcmp(name, own, 8) == 0 || memcmp(name + 9, own, 8) == 0);
}

/* Removes the directory name under parent and its files (an upload
 * directory holds no directories). 0, or -1 with errno. */
static int remove_upload_dir(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	return unlinkat(parent, name, AT_REMOVEDIR);
}

int jmap_upload_drop_account(const char *data_dir, uint32_t account)
{
	char path[4200];
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof path, "%s/" JMAP_UPLOAD_DIR, data_dir);
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d)) != NULL)
		if (upload_dir_of(e->d_name, account) && remove_upload_dir(dirfd(d), e->d_name) == 0)
			n++;
	closedir(d);
	if (n)
		log_info("jmap", NULL, "event=uploads_dropped account=%u dirs=%d", account, n);
	return n;
}

int jmap_upload_put(uint32_t account, const char *data, size_t len, const uint8_t id[32])
{
	return jmap_upload_put_by(account, account, data, len, id);
}

int jmap_upload_put_by(uint32_t account, uint32_t user, const char *data, size_t len,
		       const uint8_t id[32])
{
	char dir[sizeof updir + 32], path[sizeof dir + 80], tmp[sizeof path + 16], h[65];
	time_t now = time(NULL);

	if (!updir[0]) {
		errno = ENOSYS;
		return -1;
	}
	pthread_mutex_lock(&sweep_mu);
	int all = !last_sweep || now - last_sweep >= 3600;
	if (all)
		last_sweep = now;
	pthread_mutex_unlock(&sweep_mu);
	upload_dir(dir, sizeof dir, account, user);
	if (all)
		sweep_all(now, 0);
	else
		sweep_dir(dir, now, 0);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	hex_encode(h, id, 32);
	snprintf(path, sizeof path, "%s/%s", dir, h);
	/* The same bytes again: only the time to live starts over. */
	if (utimensat(AT_FDCWD, path, NULL, 0) == 0)
		return 0;
	snprintf(tmp, sizeof tmp, "%s/" TMP_PREFIX "XXXXXX", dir);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
fail:;
	int e = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = e;
	return -1;
}

int jmap_upload_live(struct store *st, uint32_t account, uint32_t user, uint64_t *bytes_r)
{
	char dir[sizeof updir + 32];
	time_t now = time(NULL);
	struct dirent *e;
	struct stat sb;
	uint64_t n = 0;
	int rc = 0;

	*bytes_r = 0;
	upload_dir(dir, sizeof dir, account, user);
	DIR *d = opendir(dir);
	if (!d)
		return 0; /* none yet */
	while ((e = readdir(d)) != NULL) {
		uint8_t id[32];
		uint32_t email = 0;
		if (e->d_name[0] == '.' || strlen(e->d_name) != 64 ||
		    hex_decode(id, e->d_name, 64, HEX_LOWER_ONLY) < 0)
			continue; /* a partial one (TMP_PREFIX) is its writer's */
		if (fstatat(dirfd(d), e->d_name, &sb, 0) < 0 || !S_ISREG(sb.st_mode) ||
		    sb.st_mtime + JMAP_UPLOAD_TTL <= now)
			continue;
		/* Imported already: the email's bytes are the upload's (one
		 * content id), and the quota charges them as the email. */
		if (store_blob_email(st, account, id, &email) != STORE_OK) {
			rc = -1;
			break;
		}
		if (!email)
			n += (uint64_t)sb.st_size;
	}
	closedir(d);
	*bytes_r = n;
	return rc;
}

int jmap_upload_open(uint32_t account, const uint8_t id[32], uint64_t *size_r)
{
	return jmap_upload_open_by(account, account, id, size_r);
}

int jmap_upload_open_by(uint32_t account, uint32_t user, const uint8_t id[32], uint64_t *size_r)
{
	char dir[sizeof updir + 32], path[sizeof dir + 80], h[65];
	struct stat sb;

	if (!updir[0])
		return -1;
	hex_encode(h, id, 32);
	upload_dir(dir, sizeof dir, account, user);
	snprintf(path, sizeof path, "%s/%s", dir, h);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_mtime + JMAP_UPLOAD_TTL <= time(NULL)) {
		close(fd);
		return -1;
	}
	*size_r = (uint64_t)sb.st_size;
	return fd;
}

long long jmap_blob_email(struct store *st, uint32_t account, const uint8_t id[32])
{
	uint32_t e;
	/* The store's index by blob id: a walk of the account's emails cost
	 * every download of a big account a read of all its records. */
	if (store_blob_email(st, account, id, &e) != STORE_OK)
		return -1;
	return e;
}

struct copy {
	char *p;
	size_t len;
};

static void copy_cb(void *arg, const char *data, size_t len)
{
	struct copy *c = arg;
	c->p = xmalloc(len + 1);
	memcpy(c->p, data, len);
	c->p[len] = '\0';
	c->len = len;
}

int jmap_bytes_get(struct store *st, uint32_t account, const uint8_t id[32], struct jmap_bytes *b,
		   int *temp_r)
{
	return jmap_bytes_get_by(st, account, account, id, NULL, NULL, b, temp_r);
}

int jmap_bytes_get_by(struct store *st, uint32_t account, uint32_t user, const uint8_t id[32],
		      int (*readable)(void *arg, uint32_t email), void *arg, struct jmap_bytes *b,
		      int *temp_r)
{
	uint64_t size;

	memset(b, 0, sizeof *b);
	*temp_r = 0;
	int fd = jmap_upload_open_by(account, user, id, &size);
	if (fd >= 0) {
		if (size == 0) {
			close(fd);
			b->p = "";
			return 0;
		}
		void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (m == MAP_FAILED) {
			*temp_r = 1;
			return -1;
		}
		b->map_ = m;
		b->maplen_ = (size_t)size;
		b->p = m;
		b->len = (size_t)size;
		return 0;
	}
	long long e = jmap_blob_email(st, account, id);
	if (e >= 0 && user != account) {
		/* Another's account: an email the user may read, never a
		 * Sieve script (e 0) of the owner's. */
		int ok = e > 0 ? readable(arg, (uint32_t)e) : 0;
		if (ok <= 0) {
			*temp_r = ok < 0;
			return -1;
		}
	}
	if (e == 0) {
		/* The text of one of its Sieve scripts (RFC 9661). */
		char *p;
		size_t len;
		if (jmap_sieve_bytes(st, account, id, &p, &len) < 0)
			return -1;
		b->copy_ = p;
		b->p = p;
		b->len = len;
		return 0;
	}
	if (e < 0) {
		*temp_r = 1;
		return -1;
	}
	struct copy c = { NULL, 0 };
	int rc = store_email_raw(st, account, (uint32_t)e, copy_cb, &c);
	if (rc != STORE_OK || !c.p) {
		free(c.p);
		*temp_r = rc != STORE_ENOTFOUND;
		return -1;
	}
	b->copy_ = c.p;
	b->p = c.p;
	b->len = c.len;
	return 0;
}

void jmap_bytes_free(struct jmap_bytes *b)
{
	if (b->map_)
		munmap(b->map_, b->maplen_);
	free(b->copy_);
	memset(b, 0, sizeof *b);
}

struct part_read {
	unsigned part;
	struct buf *out;
	int ok;
	char *type; /* the part's media type, when not NULL */
	size_t typelen;
};

static void part_cb(void *arg, const void *meta, size_t metalen, const char *data, size_t len)
{
	struct part_read *q = arg;
	struct arena *a = arena_new(16384);
	struct mime_tree t;
	mime_cache_load(meta, metalen, data, len, a, &t);
	if (q->part < t.nparts &&
	    !(t.parts[q->part].flags & MIME_PART_MULTIPART)) {
		const struct mime_part *p = &t.parts[q->part];
		struct str body = str_make(data + p->body_off, p->body_end - p->body_off);
		q->ok = mime_decode_all(mime_cte_parse(p->encoding), body, q->out) == 0;
		if (q->type)
			snprintf(q->type, q->typelen, "%.*s/%.*s", (int)p->type.len, p->type.p,
			         (int)p->subtype.len, p->subtype.p);
	}
	arena_free(&a);
}

/* Parts nested in parts ("<blob>_<n>_<m>"): at most this deep. */
#define PART_DEPTH 4

static int part_read(struct store *st, uint32_t account, const char *blob, struct buf *out,
                     int *temp_r, char *type, size_t typelen, int depth)
{
	uint32_t email;
	struct part_read q = {0, out, 0, type, typelen};

	*temp_r = 0;
	if (jmap_part_parse(blob, &email, &q.part) == 0) {
		int rc = store_email_content(st, account, email, part_cb, &q);
		if (rc != STORE_OK) {
			*temp_r = rc != STORE_ENOTFOUND;
			return -1;
		}
		return q.ok ? 0 : -1;
	}
	/* "<parent>_<index>": part index of the message that blob or part
	 * parent holds, as Email/parse numbers them (jmap_email_body). */
	const char *us = strrchr(blob, '_'), *d = us ? us + 1 : NULL;
	if (!us || depth >= PART_DEPTH || !*d || (*d == '0' && d[1]) || strlen(d) > 6 ||
	    strspn(d, "0123456789") != strlen(d))
		return -1;
	q.part = (unsigned)atoi(d);
	char *parent = strndup(blob, (size_t)(us - blob));
	uint8_t id[32];
	int got;
	if (!parent)
		return -1;
	if (jmap_blob_parse(parent, id) == 0) {
		struct jmap_bytes b;
		memset(&b, 0, sizeof b);
		got = jmap_bytes_get(st, account, id, &b, temp_r) == 0;
		if (got)
			part_cb(&q, NULL, 0, b.p, b.len);
		jmap_bytes_free(&b);
	} else {
		struct buf pb;
		buf_init(&pb, JMAP_MAX_SIZE_UPLOAD);
		got = part_read(st, account, parent, &pb, temp_r, NULL, 0, depth + 1) == 0;
		if (got)
			part_cb(&q, NULL, 0, buf_data(&pb), buf_len(&pb));
		buf_free(&pb);
	}
	free(parent);
	return got && q.ok ? 0 : -1;
}

int jmap_part_read(struct store *st, uint32_t account, const char *blob, struct buf *out,
                   int *temp_r)
{
	return part_read(st, account, blob, out, temp_r, NULL, 0, 0);
}

int jmap_part_read_type(struct store *st, uint32_t account, const char *blob, struct buf *out,
                        int *temp_r, char *type, size_t typelen)
{
	type[0] = 0;
	return part_read(st, account, blob, out, temp_r, type, typelen, 0);
}
