/*
 * file.c — whole writes and file copies. See file.h.
 */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <unistd.h>

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
	uint8_t buf[65536];
	/* Never through a symlink: every copy is of a file the caller found
	 * regular (a backup's, or the data directory's). */
	int in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc = 0;

	if (in < 0)
		return errno;
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = errno;
		close(in);
		return rc;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? errno : 0;
			break;
		}
		if ((rc = file_write_all(out, buf, (size_t)n)) != 0)
			break;
	}
	close(in);
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
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc = 0;

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
