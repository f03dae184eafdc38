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
static void users_forget(uint32_t account);

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

	users_forget(account);
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

/*
 * The live uploads table (jmap_blob.h): per (account, user), its live
 * uploads by content id, oldest first, and what those no email holds
 * take.
 *
 * Locks. users_mu guards only the hash of tables (finding, adding and
 * removing one) and each table's refs and dropped; it is never held
 * across I/O or a store read. Each table has its own mu over the rest of
 * it, held by whoever uses it (user_get .. user_put): across its
 * first-use walk of the directory, the store's read transactions asking
 * whether uploads were imported (short, and nothing the store does calls
 * back here) and the quota check with the entry of an upload, which are
 * so atomic per table. One user's upload then waits only for the same
 * (account, user)'s. A table is freed only with no holder: removed from
 * the hash (an account dropped, a table left empty) while held, it is
 * freed by its last user_put. No one holds a table's mu and users_mu at
 * once.
 */
enum { UP_UNKNOWN, UP_CHARGED, UP_IMPORTED };

struct up_entry {
	uint8_t id[32];
	uint8_t state;
	uint64_t size;
	time_t expires;
	struct up_entry *prev, *next; /* expiry order, oldest first */
	struct up_entry *hnext;
};

struct up_user {
	uint32_t account, user;
	struct up_user *hnext; /* users_mu */
	unsigned refs;         /* users_mu: holders, user_get .. user_put */
	int dropped;           /* users_mu: out of the hash, the last holder frees it */
	pthread_mutex_t mu;    /* the rest */
	int loaded;            /* the directory was read */
	struct up_entry **bucket;
	unsigned nbucket, n, unknown;
	uint64_t charged;  /* the sizes of the UP_CHARGED */
	uint64_t modseq;   /* the account's when the states were asked */
	int asked;         /* modseq is set */
	struct up_entry *head, *tail;
};

#define USER_BUCKETS 256
static struct up_user *up_users[USER_BUCKETS];
static pthread_mutex_t users_mu = PTHREAD_MUTEX_INITIALIZER;

static unsigned user_slot(uint32_t account, uint32_t user)
{
	return (account * 2654435761u ^ user * 40503u) % USER_BUCKETS;
}

static struct up_entry **entry_slot(struct up_user *u, const uint8_t id[32])
{
	uint32_t h;
	memcpy(&h, id, sizeof h); /* a hash already */
	return &u->bucket[h & (u->nbucket - 1)];
}

static struct up_entry *entry_find(struct up_user *u, const uint8_t id[32])
{
	for (struct up_entry *e = *entry_slot(u, id); e; e = e->hnext)
		if (memcmp(e->id, id, 32) == 0)
			return e;
	return NULL;
}

/* Twice the buckets once there are twice as many entries. */
static void entry_grow(struct up_user *u)
{
	struct up_entry **old = u->bucket;
	unsigned n = u->nbucket;
	u->nbucket = n * 2;
	u->bucket = xcalloc(u->nbucket, sizeof *u->bucket);
	for (unsigned i = 0; i < n; i++)
		for (struct up_entry *e = old[i], *nx; e; e = nx) {
			nx = e->hnext;
			struct up_entry **sl = entry_slot(u, e->id);
			e->hnext = *sl;
			*sl = e;
		}
	free(old);
}

static void list_append(struct up_user *u, struct up_entry *e)
{
	e->next = NULL;
	e->prev = u->tail;
	if (u->tail)
		u->tail->next = e;
	else
		u->head = e;
	u->tail = e;
}

static void list_remove(struct up_user *u, struct up_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		u->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		u->tail = e->prev;
}

/* A new entry, last in expiry order (expires is the latest). */
static struct up_entry *entry_add(struct up_user *u, const uint8_t id[32], uint64_t size,
				  time_t expires)
{
	struct up_entry *e = xcalloc(1, sizeof *e);
	if (u->n >= u->nbucket * 2)
		entry_grow(u);
	memcpy(e->id, id, 32);
	e->size = size;
	e->expires = expires;
	e->state = UP_UNKNOWN;
	struct up_entry **sl = entry_slot(u, id);
	e->hnext = *sl;
	*sl = e;
	list_append(u, e);
	u->n++;
	u->unknown++;
	return e;
}

static void entry_set_state(struct up_user *u, struct up_entry *e, uint8_t state)
{
	if (e->state == UP_CHARGED)
		u->charged -= e->size;
	else if (e->state == UP_UNKNOWN)
		u->unknown--;
	e->state = state;
	if (state == UP_CHARGED)
		u->charged += e->size;
	else if (state == UP_UNKNOWN)
		u->unknown++;
}

static void entry_del(struct up_user *u, struct up_entry *e)
{
	struct up_entry **sl = entry_slot(u, e->id);
	while (*sl != e)
		sl = &(*sl)->hnext;
	*sl = e->hnext;
	list_remove(u, e);
	entry_set_state(u, e, UP_IMPORTED); /* out of the sums */
	u->n--;
	free(e);
}

static int cmp_expires(const void *a, const void *b)
{
	const struct up_entry *x = *(struct up_entry *const *)a, *y = *(struct up_entry *const *)b;
	return (x->expires > y->expires) - (x->expires < y->expires);
}

/* Fills u from its directory (the one walk it costs, which removes the
 * expired); those past JMAP_UPLOAD_MAX_LIVE in it (left by a binary
 * without the bound) are loaded too: only new ones wait. With u->mu. */
static void user_load(struct up_user *u, time_t now)
{
	char dir[sizeof updir + 32];
	upload_dir(dir, sizeof dir, u->account, u->user);
	DIR *d = opendir(dir);
	if (!d)
		return; /* none yet */
	struct up_entry **v = NULL;
	size_t nv = 0, cap = 0;
	struct dirent *de;
	struct stat sb;
	while ((de = readdir(d)) != NULL) {
		uint8_t id[32];
		if (de->d_name[0] == '.' || strlen(de->d_name) != 64 ||
		    hex_decode(id, de->d_name, 64, HEX_LOWER_ONLY) < 0)
			continue; /* a partial one (TMP_PREFIX) is its writer's */
		if (fstatat(dirfd(d), de->d_name, &sb, 0) < 0 || !S_ISREG(sb.st_mode))
			continue;
		if (sb.st_mtime + JMAP_UPLOAD_TTL <= now) {
			unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (nv == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[nv] = xcalloc(1, sizeof **v);
		memcpy(v[nv]->id, id, 32);
		v[nv]->size = (uint64_t)sb.st_size;
		v[nv]->expires = sb.st_mtime + JMAP_UPLOAD_TTL;
		nv++;
	}
	closedir(d);
	if (nv)
		qsort(v, nv, sizeof *v, cmp_expires);
	for (size_t i = 0; i < nv; i++) {
		entry_add(u, v[i]->id, v[i]->size, v[i]->expires);
		free(v[i]);
	}
	free(v);
}

/* The table of user's uploads to account, held (its mu locked; release
 * with user_put), loaded from its directory at its first use. */
static struct up_user *user_get(uint32_t account, uint32_t user, time_t now)
{
	unsigned slot = user_slot(account, user);
	struct up_user *u;

	pthread_mutex_lock(&users_mu);
	for (u = up_users[slot]; u; u = u->hnext)
		if (u->account == account && u->user == user)
			break;
	if (!u) {
		u = xcalloc(1, sizeof *u);
		u->account = account;
		u->user = user;
		u->nbucket = 16;
		u->bucket = xcalloc(u->nbucket, sizeof *u->bucket);
		pthread_mutex_init(&u->mu, NULL);
		u->hnext = up_users[slot];
		up_users[slot] = u;
	}
	u->refs++;
	pthread_mutex_unlock(&users_mu);
	pthread_mutex_lock(&u->mu);
	if (!u->loaded) {
		user_load(u, now);
		u->loaded = 1;
	}
	return u;
}

static void user_free(struct up_user *u);

/* Releases a table user_get gave; frees it when it was dropped meanwhile
 * and this was its last holder. */
static void user_put(struct up_user *u)
{
	pthread_mutex_unlock(&u->mu);
	pthread_mutex_lock(&users_mu);
	int gone = --u->refs == 0 && u->dropped;
	pthread_mutex_unlock(&users_mu);
	if (gone)
		user_free(u);
}

/* Removes u's expired uploads, from the table and their files (unless
 * the file was renewed meanwhile). */
static void user_expire(struct up_user *u, time_t now)
{
	char dir[sizeof updir + 32], h[65];
	struct stat sb;
	int dfd = -1;

	while (u->head && u->head->expires <= now) {
		struct up_entry *e = u->head;
		if (dfd < 0) {
			upload_dir(dir, sizeof dir, u->account, u->user);
			dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		}
		hex_encode(h, e->id, 32);
		if (dfd >= 0 && fstatat(dfd, h, &sb, 0) == 0 && sb.st_mtime + JMAP_UPLOAD_TTL <= now)
			unlinkat(dfd, h, 0);
		entry_del(u, e);
	}
	if (dfd >= 0)
		close(dfd);
}

static void user_free(struct up_user *u)
{
	while (u->head)
		entry_del(u, u->head);
	free(u->bucket);
	pthread_mutex_destroy(&u->mu);
	free(u);
}

/* Takes out of the hash the tables match(arg, table) names (users_mu
 * held): freed now when none holds them, else by their last user_put.
 * Freed after users_mu is released. */
static void users_drop(int (*match)(void *arg, struct up_user *u), void *arg)
{
	struct up_user *free_list = NULL;

	pthread_mutex_lock(&users_mu);
	for (unsigned i = 0; i < USER_BUCKETS; i++)
		for (struct up_user **p = &up_users[i]; *p;) {
			struct up_user *u = *p;
			if (!match(arg, u)) {
				p = &u->hnext;
				continue;
			}
			*p = u->hnext;
			if (u->refs) {
				u->dropped = 1;
			} else {
				u->hnext = free_list;
				free_list = u;
			}
		}
	pthread_mutex_unlock(&users_mu);
	while (free_list) {
		struct up_user *u = free_list;
		free_list = u->hnext;
		user_free(u);
	}
}

/* A table none holds and left empty (users_mu held: with no holder,
 * none can change it). */
static int user_idle_empty(void *arg, struct up_user *u)
{
	(void)arg;
	return u->refs == 0 && u->n == 0;
}

/* Expires the uploads of every table, each under its own lock (users_mu
 * only to list them); drops the tables left empty. */
static void users_expire(time_t now)
{
	struct up_user **v;
	size_t n = 0;

	pthread_mutex_lock(&users_mu);
	for (unsigned i = 0; i < USER_BUCKETS; i++)
		for (struct up_user *u = up_users[i]; u; u = u->hnext)
			n++;
	v = xmalloc((n ? n : 1) * sizeof *v);
	n = 0;
	for (unsigned i = 0; i < USER_BUCKETS; i++)
		for (struct up_user *u = up_users[i]; u; u = u->hnext) {
			u->refs++; /* held: not freed under us */
			v[n++] = u;
		}
	pthread_mutex_unlock(&users_mu);
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&v[i]->mu);
		user_expire(v[i], now);
		user_put(v[i]);
	}
	free(v);
	users_drop(user_idle_empty, NULL);
}

static int user_of_account(void *arg, struct up_user *u)
{
	uint32_t account = *(const uint32_t *)arg;
	return u->account == account || u->user == account;
}

/* Drops the tables of account's uploads and of its uploads to others'
 * accounts and of others' to it (jmap_upload_drop_account). */
static void users_forget(uint32_t account)
{
	users_drop(user_of_account, &account);
}

/* Whether an email of the account holds e's bytes: e's state. STORE_OK
 * or the store's error. */
static int entry_ask(struct store *st, struct up_user *u, struct up_entry *e)
{
	uint32_t email;
	int rc = store_blob_email(st, u->account, e->id, &email);
	if (rc == STORE_OK)
		entry_set_state(u, e, email ? UP_IMPORTED : UP_CHARGED);
	return rc;
}

/* Brings every entry's state up to date: all of them asked again when
 * the account changed since they were, else only the new ones. 0, or -1
 * on a store error. */
static int user_ask(struct store *st, struct up_user *u)
{
	uint64_t modseq = 0;
	int rc = store_account_modseq(st, u->account, &modseq);
	if (rc != STORE_OK && rc != STORE_ENOTFOUND)
		return -1;
	if (!u->asked || modseq != u->modseq)
		for (struct up_entry *e = u->head; e; e = e->next)
			entry_set_state(u, e, UP_UNKNOWN);
	/* New and renewed ones are at the tail: the unknown are found from
	 * there. */
	for (struct up_entry *e = u->tail; e && u->unknown; e = e->prev)
		if (e->state == UP_UNKNOWN && entry_ask(st, u, e) != STORE_OK)
			return -1;
	u->modseq = modseq;
	u->asked = 1;
	return 0;
}

/* Room in u for one more new upload: when full, the oldest imported one
 * is forgotten. 0, or JMAP_UPLOAD_TOO_MANY. */
static int user_make_room(struct up_user *u)
{
	if (u->n < JMAP_UPLOAD_MAX_LIVE)
		return 0;
	for (struct up_entry *e = u->head; e; e = e->next)
		if (e->state == UP_IMPORTED) {
			entry_del(u, e);
			return 0;
		}
	return JMAP_UPLOAD_TOO_MANY;
}

/*
 * Enters upload id (its file path) in u, held, or renews it. *write_r: 1
 * when the file must be written, 0 when it was there and its time to
 * live started over. 0 or one of the JMAP_UPLOAD_ refusals.
 */
static int upload_enter(struct store *st, struct up_user *u, size_t len, const uint8_t id[32],
			uint64_t room, const char *path, time_t now, int *write_r)
{
	user_expire(u, now);
	struct up_entry *e = entry_find(u, id);

	*write_r = utimensat(AT_FDCWD, path, NULL, 0) < 0;
	if (e) {
		/* The same bytes again: only the time to live starts over
		 * (and the file is written again if it went missing). */
		e->expires = now + JMAP_UPLOAD_TTL;
		list_remove(u, e);
		list_append(u, e);
		return 0;
	}
	if (user_ask(st, u) < 0)
		return JMAP_UPLOAD_STORE;
	int rc = user_make_room(u);
	if (rc < 0)
		return rc;
	e = entry_add(u, id, len, now + JMAP_UPLOAD_TTL);
	if (entry_ask(st, u, e) != STORE_OK) {
		entry_del(u, e);
		return JMAP_UPLOAD_STORE;
	}
	/* Charged only when no email holds the bytes already. */
	if (e->state == UP_CHARGED && room != JMAP_UPLOAD_NO_QUOTA && u->charged > room) {
		entry_del(u, e);
		return JMAP_UPLOAD_OVER_QUOTA;
	}
	return 0;
}

/* A new upload's file could not be written: out of the table again,
 * unless another upload of the same bytes wrote it meanwhile. */
static void upload_unenter(uint32_t account, uint32_t user, const uint8_t id[32],
			   const char *path)
{
	struct stat sb;
	struct up_user *u = user_get(account, user, time(NULL));
	struct up_entry *e = entry_find(u, id);
	if (e && stat(path, &sb) < 0)
		entry_del(u, e);
	user_put(u);
}

int jmap_upload_room(struct store *st, uint32_t account, uint64_t *room_r)
{
	uint64_t quota, used;

	*room_r = JMAP_UPLOAD_NO_QUOTA;
	if (store_account_usage(st, account, &quota, &used) != STORE_OK)
		return -1;
	if (quota)
		*room_r = used < quota ? quota - used : 0;
	return 0;
}

int jmap_upload_put_by(struct store *st, uint32_t account, uint32_t user, const char *data,
		       size_t len, const uint8_t id[32])
{
	char dir[sizeof updir + 32], path[sizeof dir + 80], tmp[sizeof path + 16], h[65];
	time_t now = time(NULL);
	uint64_t room;
	int write_it;

	if (!updir[0]) {
		errno = ENOSYS;
		return -1;
	}
	if (jmap_upload_room(st, account, &room) < 0)
		return JMAP_UPLOAD_STORE;
	pthread_mutex_lock(&sweep_mu);
	int all = !last_sweep || now - last_sweep >= 3600;
	if (all)
		last_sweep = now;
	pthread_mutex_unlock(&sweep_mu);
	if (all) {
		/* Files no table holds (a user not back since start), and the
		 * tables of users gone quiet. */
		sweep_all(now, 0);
		users_expire(now);
	}
	upload_dir(dir, sizeof dir, account, user);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	hex_encode(h, id, 32);
	snprintf(path, sizeof path, "%s/%s", dir, h);
	/* Entered (its room taken) before the file is written, so that
	 * parallel uploads each see the others'. */
	struct up_user *u = user_get(account, user, now);
	int rc = upload_enter(st, u, len, id, room, path, now, &write_it);
	user_put(u);
	if (rc < 0 || !write_it)
		return rc;
	snprintf(tmp, sizeof tmp, "%s/" TMP_PREFIX "XXXXXX", dir);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		goto fail;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	int c = fsync(fd) < 0 ? -1 : 0;
	if (close(fd) < 0 || c < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	return 0;
fail:;
	int e = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	upload_unenter(account, user, id, path);
	errno = e;
	return -1;
}

int jmap_upload_live(struct store *st, uint32_t account, uint32_t user, uint64_t *bytes_r)
{
	time_t now = time(NULL);
	int rc = 0;

	*bytes_r = 0;
	if (!updir[0])
		return 0;
	struct up_user *u = user_get(account, user, now);
	user_expire(u, now);
	if (user_ask(st, u) < 0)
		rc = -1;
	else
		*bytes_r = u->charged;
	user_put(u);
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
