/*
 * admin_secret.c — sealing stored secrets with the data directory's key
 * file. See admin_secret.h.
 */
#include "admin/admin_secret.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREFIX_LEN (sizeof(ADMIN_SECRET_PREFIX) - 1)
#define NONCE crypto_secretbox_NONCEBYTES
#define MAC crypto_secretbox_MACBYTES
#define RAW_MAX (NONCE + MAC + ADMIN_SECRET_VALUE_MAX)

_Static_assert(ADMIN_SECRET_KEY_BYTES == crypto_secretbox_KEYBYTES, "secretbox key size");
_Static_assert(NONCE == 24 && MAC == 16, "ADMIN_SECRET_SEALED_MAX assumes these");

int admin_secret_is_sealed(const char *value)
{
	return strncmp(value, ADMIN_SECRET_PREFIX, PREFIX_LEN) == 0;
}

int admin_secret_seal_with(const uint8_t key[ADMIN_SECRET_KEY_BYTES], const char *plain,
			   char *out, size_t outsz)
{
	uint8_t raw[RAW_MAX];
	size_t n = strlen(plain);

	if (n > ADMIN_SECRET_VALUE_MAX || outsz < PREFIX_LEN + 2 * (NONCE + MAC + n) + 1)
		return -1;
	randombytes_buf(raw, NONCE);
	crypto_secretbox_easy(raw + NONCE, (const unsigned char *)plain, n, raw, key);
	memcpy(out, ADMIN_SECRET_PREFIX, PREFIX_LEN);
	sodium_bin2hex(out + PREFIX_LEN, outsz - PREFIX_LEN, raw, NONCE + MAC + n);
	sodium_memzero(raw, sizeof raw);
	return 0;
}

int admin_secret_open_with(const uint8_t key[ADMIN_SECRET_KEY_BYTES], const char *sealed,
			   char *out, size_t outsz)
{
	uint8_t raw[RAW_MAX];
	unsigned char plain[ADMIN_SECRET_VALUE_MAX];
	size_t rawlen = 0;
	const char *end = NULL;
	int rc = -1;

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	if (!admin_secret_is_sealed(sealed))
		return -1;
	sealed += PREFIX_LEN;
	/* The whole rest must be hex: nothing ignored, nothing left over. */
	if (sodium_hex2bin(raw, sizeof raw, sealed, strlen(sealed), NULL, &rawlen, &end) != 0 ||
	    *end != '\0' || rawlen < NONCE + MAC)
		return -1;
	size_t n = rawlen - NONCE - MAC;
	if (crypto_secretbox_open_easy(plain, raw + NONCE, rawlen - NONCE, raw, key) == 0 &&
	    n < outsz && !memchr(plain, '\0', n)) {
		memcpy(out, plain, n);
		out[n] = '\0';
		rc = 0;
	}
	sodium_memzero(plain, sizeof plain);
	sodium_memzero(raw, sizeof raw);
	return rc;
}

/* Reads the key file: a regular file of exactly the key's size. */
static int key_read(const char *path, uint8_t key[ADMIN_SECRET_KEY_BYTES])
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size != ADMIN_SECRET_KEY_BYTES ||
	    read(fd, key, ADMIN_SECRET_KEY_BYTES) != ADMIN_SECRET_KEY_BYTES) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Makes the key file: written whole and synced under a temporary name,
 * then linked into place, which fails when another process was first (its
 * key is then the one: both read the file that won).
 */
static int key_make(const char *dir, const char *path)
{
	uint8_t key[ADMIN_SECRET_KEY_BYTES];
	char tmp[4200];
	int fd, ok;

	if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof tmp)
		return -1;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	randombytes_buf(key, sizeof key);
	ok = write(fd, key, sizeof key) == (ssize_t)sizeof key && fsync(fd) == 0;
	sodium_memzero(key, sizeof key);
	ok = close(fd) == 0 && ok;
	if (ok && link(tmp, path) != 0 && errno != EEXIST)
		ok = 0;
	unlink(tmp);
	if (ok && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd); /* the new name survives a crash */
		close(fd);
	}
	return ok ? 0 : -1;
}

/* The PID in a key_make() temporary name ("secrets.key." digits ".tmp"),
 * or 0 when name is anything else. */
static long key_tmp_pid(const char *name)
{
	static const char pre[] = "secrets.key.";
	char *end;

	if (strncmp(name, pre, sizeof pre - 1) != 0)
		return 0;
	name += sizeof pre - 1;
	if (*name < '1' || *name > '9')
		return 0;
	errno = 0;
	long pid = strtol(name, &end, 10);
	return errno == 0 && pid > 0 && strcmp(end, ".tmp") == 0 ? pid : 0;
}

int admin_secret_sweep(const char *dir)
{
	char path[4200];
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		long pid = key_tmp_pid(de->d_name);
		/* kill(pid, 0) fails with ESRCH only when no such process
		 * exists (EPERM: it does, as another user). */
		if (pid == 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < (int)sizeof path &&
		    unlink(path) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/*
 * The key, kept once read: every login opened the account's SCRAM keys
 * (store_admin.c) and read the file for it, an open, fstat, read and close
 * on a worker each time. Nothing in the server rewrites an existing key
 * file (key_make only makes a missing one; a restore needs the data
 * directory unused), so the kept key is the file's until someone replaces
 * the file by hand. For that case the paths that would go wrong read the
 * file again: a seal, so a value sealed now opens with the key the file
 * holds (a CLI command may have made a new one), and an open that fails
 * with the kept key. One slot: a process serves one data directory.
 */
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static char kept_dir[4096];
static uint8_t kept_key[ADMIN_SECRET_KEY_BYTES];
static int kept;

void admin_secret_forget(void)
{
	pthread_mutex_lock(&kept_lock);
	sodium_memzero(kept_key, sizeof kept_key);
	kept_dir[0] = '\0';
	kept = 0;
	pthread_mutex_unlock(&kept_lock);
}

/* The kept key of dir into key: 1, or 0 when none is kept for dir. */
static int kept_get(const char *dir, uint8_t key[ADMIN_SECRET_KEY_BYTES])
{
	int hit;

	pthread_mutex_lock(&kept_lock);
	hit = kept && strcmp(kept_dir, dir) == 0;
	if (hit)
		memcpy(key, kept_key, ADMIN_SECRET_KEY_BYTES);
	pthread_mutex_unlock(&kept_lock);
	return hit;
}

static void kept_set(const char *dir, const uint8_t key[ADMIN_SECRET_KEY_BYTES])
{
	size_t n = strlen(dir);

	if (n >= sizeof kept_dir)
		return;
	pthread_mutex_lock(&kept_lock);
	memcpy(kept_dir, dir, n + 1);
	memcpy(kept_key, key, ADMIN_SECRET_KEY_BYTES);
	kept = 1;
	pthread_mutex_unlock(&kept_lock);
}

/* dir's key: the kept one, unless fresh (then the file's, made when
 * missing if create, and kept). Returns 0, or -1 (key zeroed). */
static int key_load(const char *dir, int create, int fresh, uint8_t key[ADMIN_SECRET_KEY_BYTES])
{
	char path[4096];

	if (!fresh && kept_get(dir, key))
		return 0;
	if (snprintf(path, sizeof path, "%s/secrets.key", dir) >= (int)sizeof path)
		return -1;
	if (key_read(path, key) != 0 &&
	    (!create || errno != ENOENT || key_make(dir, path) != 0 || key_read(path, key) != 0)) {
		sodium_memzero(key, ADMIN_SECRET_KEY_BYTES);
		return -1;
	}
	kept_set(dir, key);
	return 0;
}

int admin_secret_seal(const char *dir, const char *plain, char *out, size_t outsz)
{
	uint8_t key[ADMIN_SECRET_KEY_BYTES];
	int rc = -1;

	if (key_load(dir, 1, 1, key) == 0)
		rc = admin_secret_seal_with(key, plain, out, outsz);
	sodium_memzero(key, sizeof key);
	return rc;
}

int admin_secret_open(const char *dir, const char *sealed, char *out, size_t outsz)
{
	uint8_t key[ADMIN_SECRET_KEY_BYTES], again[ADMIN_SECRET_KEY_BYTES];
	int rc = -1;

	if (outsz)
		out[0] = '\0';
	int was_kept = kept_get(dir, key);
	if (was_kept || key_load(dir, 0, 1, key) == 0)
		rc = admin_secret_open_with(key, sealed, out, outsz);
	/* Sealed with a key file made since the kept key was read: the
	 * file's key, once. (A value that opens with neither, sealed with a
	 * key since lost, costs this read each time, as every open did.) */
	if (rc != 0 && was_kept && key_load(dir, 0, 1, again) == 0 &&
	    sodium_memcmp(key, again, sizeof key) != 0)
		rc = admin_secret_open_with(again, sealed, out, outsz);
	sodium_memzero(key, sizeof key);
	sodium_memzero(again, sizeof again);
	return rc;
}

int admin_secret_derive(const char *dir, uint64_t id, const char context[8],
			uint8_t out[ADMIN_SECRET_KEY_BYTES])
{
	uint8_t key[ADMIN_SECRET_KEY_BYTES];
	int rc = -1;

	_Static_assert(crypto_kdf_KEYBYTES == ADMIN_SECRET_KEY_BYTES, "kdf master key size");
	memset(out, 0, ADMIN_SECRET_KEY_BYTES);
	if (key_load(dir, 1, 0, key) == 0)
		rc = crypto_kdf_derive_from_key(out, ADMIN_SECRET_KEY_BYTES, id, context, key);
	sodium_memzero(key, sizeof key);
	return rc == 0 ? 0 : -1;
}
