/*
 * file.c — whole writes and file copies. See file.h.
 */
#include "core/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *file_strerror(int e)
{
	return e == FILE_ENOTREG ? "not a regular file" : strerror(e);
}

int file_open_regular(const char *path)
{
	struct stat sb;
	/* O_NONBLOCK: a FIFO opens at once (instead of waiting for a
	 * writer that never comes) and is refused below; for a regular
	 * file it changes nothing. */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		int e = fstat(fd, &sb) != 0 ? errno : FILE_ENOTREG;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int file_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		if (w == 0)
			return EIO;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int file_copy(const char *from, const char *to, int sync)
{
	return file_copy_hash(from, to, sync, NULL, NULL);
}

int file_copy_hash(const char *from, const char *to, int sync, uint64_t *size, uint8_t hash[32])
{
	crypto_generichash_state s;
	uint64_t total = 0;
	uint8_t buf[65536];
	/* Never through a symlink: every copy is of a file the caller found
	 * regular (a backup's, or the data directory's). */
	int in = file_open_regular(from), rc = 0;

	if (in < 0)
		return errno;
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = errno;
		close(in);
		return rc;
	}
	if (hash)
		crypto_generichash_init(&s, NULL, 0, 32);
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? errno : 0;
			break;
		}
		/* The bytes hashed are the very bytes written: no second read
		 * of either file, during which it could change. */
		if (hash)
			crypto_generichash_update(&s, buf, (size_t)n);
		total += (uint64_t)n;
		if ((rc = file_write_all(out, buf, (size_t)n)) != 0)
			break;
	}
	close(in);
	if (hash)
		crypto_generichash_final(&s, hash, 32);
	if (size)
		*size = total;
	if (rc == 0 && sync && fsync(out) != 0)
		rc = errno;
	if (close(out) != 0 && rc == 0)
		rc = errno;
	return rc;
}

int file_hash(const char *path, uint64_t *size, uint8_t hash[32])
{
	crypto_generichash_state s;
	uint8_t buf[65536];
	uint64_t n = 0;
	int fd = file_open_regular(path), rc = 0;

	if (fd < 0)
		return errno;
	crypto_generichash_init(&s, NULL, 0, 32);
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? errno : 0;
			break;
		}
		crypto_generichash_update(&s, buf, (size_t)r);
		n += (uint64_t)r;
	}
	close(fd);
	crypto_generichash_final(&s, hash, 32);
	*size = n;
	return rc;
}

/* fsyncs what fd names and, for a directory, everything below it first
 * (depth levels more at most): 0 or the first errno. Closes fd. */
static int sync_fd_tree(int fd, int depth)
{
	struct stat sb;
	int rc = 0;

	if (fstat(fd, &sb) != 0) {
		rc = errno;
		close(fd);
		return rc;
	}
	if (S_ISDIR(sb.st_mode)) {
		int dfd = depth > 0 ? dup(fd) : -1;
		DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
		struct dirent *de;
		if (d == NULL) {
			rc = depth > 0 ? errno : ELOOP;
			if (dfd >= 0)
				close(dfd);
			close(fd);
			return rc;
		}
		while (rc == 0 && (de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			/* Never through a symlink: only what lies in the tree. */
			int c = openat(fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
			if (c < 0) {
				if (errno == ELOOP || errno == ENXIO || errno == ENOENT)
					continue; /* a symlink, a socket, gone */
				rc = errno;
				break;
			}
			rc = sync_fd_tree(c, depth - 1);
		}
		closedir(d);
	} else if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return 0; /* a FIFO or a device: nothing of the tree's */
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = errno;
	close(fd);
	return rc;
}

int file_sync_tree(const char *root)
{
	int fd = open(root, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno;
	return sync_fd_tree(fd, 32);
}

int file_sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int rc = fsync(fd) == 0 ? 0 : errno;
	close(fd);
	return rc;
}

int file_sync_parent(const char *path)
{
	char parent[4096];
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	if (n == 0)
		return file_sync_dir(".");
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n >= sizeof parent)
		return ENAMETOOLONG;
	memcpy(parent, path, n);
	parent[n] = '\0';
	return file_sync_dir(parent);
}

/* Takes the last name off an absolute path held in res (length *n). */
static void path_pop(char *res, size_t *n)
{
	while (*n > 0 && res[*n - 1] != '/')
		(*n)--;
	if (*n > 0)
		(*n)--; /* its '/'; the root stays as "" */
	res[*n] = '\0';
}

int file_path_resolve(const char *path, char *out, size_t outsz)
{
	char res[4096], todo[8192], link[4096];
	size_t n = 0;
	int hops = 0, missing = 0;

	res[0] = '\0';
	if (path[0] != '/') {
		if (getcwd(res, sizeof res) == NULL)
			return errno;
		n = strlen(res);
		if (n == 1)
			res[n = 0] = '\0'; /* "/" */
	}
	if (strlen(path) >= sizeof todo)
		return ENAMETOOLONG;
	memcpy(todo, path, strlen(path) + 1);
	for (const char *p = todo; *p;) {
		size_t len = strcspn(p, "/");
		const char *name = p;
		p += len;
		p += *p == '/';
		if (len == 0 || (len == 1 && name[0] == '.'))
			continue;
		if (len == 2 && name[0] == '.' && name[1] == '.') {
			path_pop(res, &n);
			continue;
		}
		if (n + 1 + len >= sizeof res)
			return ENAMETOOLONG;
		res[n++] = '/';
		memcpy(res + n, name, len);
		res[n += len] = '\0';
		struct stat sb;
		/* Past the first name that is not there, nothing further can
		 * be a symlink: the rest is text. */
		if (missing || lstat(res, &sb) != 0) {
			missing = 1;
			continue;
		}
		if (!S_ISLNK(sb.st_mode))
			continue;
		if (++hops > 40)
			return ELOOP;
		ssize_t ln = readlink(res, link, sizeof link - 1);
		if (ln < 0)
			return errno;
		link[ln] = '\0';
		/* The link's target, then what followed it, read next. */
		size_t rest = strlen(p);
		if ((size_t)ln + 1 + rest >= sizeof todo)
			return ENAMETOOLONG;
		memmove(todo + ln + 1, p, rest + 1);
		memcpy(todo, link, (size_t)ln);
		todo[ln] = '/';
		p = todo;
		if (link[0] == '/')
			res[n = 0] = '\0';
		else
			path_pop(res, &n);
	}
	if ((size_t)snprintf(out, outsz, "%s", n ? res : "/") >= outsz)
		return ENAMETOOLONG;
	return 0;
}
