/*
 * import_subscriptions.c — the subscriptions a Maildir++ tree keeps
 * beside its folders, for tern import (cmd_import.c):
 *   - Dovecot's "subscriptions": version 2 starts with a "V<TAB>2" line
 *     and an empty one, then one name a line, its levels separated by
 *     tabs; version 1 (no such line) has names with the Maildir++
 *     separator ".";
 *   - Courier's "courierimapsubscribed": one name a line, "INBOX." before
 *     each but INBOX itself.
 * Both hold storage names: modified UTF-7, or UTF-8 when Dovecot was set
 * to mailbox_list_utf8. maildirpp_name() makes them tern's ("/" between
 * levels, UTF-8), for the folders' names as well.
 *
 * Bounded whatever the file holds: at most SUBS_FILE_MAX octets are read
 * and SUBS_MAX names kept; a line longer than a mailbox name may be is
 * reported and skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_import.h"
#include "core/buf.h"
#include "core/str.h"
#include "core/xalloc.h"
#include "imap/imap_utf7.h"

#define SUBS_FILE_MAX ((size_t)4 << 20)
#define SUBS_MAX 20000
#define SUBS_NAME_MAX 1024

struct subs_file {
	const char *path;
	int bad;
};

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int maildirpp_name(const char *storage, size_t len, char sep, struct buf *out)
{
	char tmp[SUBS_NAME_MAX];
	size_t n = 0;
	if (len == 0 || len >= sizeof tmp)
		return -1;
	for (size_t i = 0; i < len; i++) {
		/* "\NN": a character a Maildir++ name could not hold as it is
		 * (a '.' inside a level), escaped as Dovecot's listescape plugin
		 * and tern export write it. Not in a version 2 subscriptions
		 * file (sep '\t'), which holds names as they are. */
		int hi, lo;
		if (sep == '.' && storage[i] == '\\' && i + 2 < len && (hi = hexval(storage[i + 1])) >= 0 &&
		    (lo = hexval(storage[i + 2])) >= 0 && (hi || lo)) {
			tmp[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			tmp[n++] = storage[i] == sep ? '/' : storage[i];
		}
	}
	len = n;
	struct str s = str_make(tmp, len);
	if (imap_utf7_to_utf8(s, out) == IMAP_UTF7_OK)
		return buf_append(out, "", 1) == 0 ? 0 : -1;
	/* Not modified UTF-7: a name Dovecot kept in UTF-8. */
	if (!imap_utf8_valid(s) || memchr(tmp, '\0', len) || buf_append(out, tmp, len) != 0)
		return -1;
	return buf_append(out, "", 1) == 0 ? 0 : -1;
}

/* The file's text, at most SUBS_FILE_MAX octets; NULL when it is not
 * there (nothing to do) or after printing why it cannot be read. */
static char *read_small(const char *path, size_t *len_r, int *err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat sb;
	*err = 0;
	if (fd < 0) {
		if (errno != ENOENT) {
			fprintf(stderr, "tern: cannot read %s: %s\n", path, strerror(errno));
			*err = 1;
		}
		return NULL;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size > SUBS_FILE_MAX) {
		fprintf(stderr, "tern: %s skipped: not a file of at most %zu octets\n", path,
		        SUBS_FILE_MAX);
		close(fd);
		*err = 1;
		return NULL;
	}
	char *p = xmalloc((size_t)sb.st_size + 1);
	size_t n = 0;
	for (ssize_t r; n < (size_t)sb.st_size; n += (size_t)r) {
		r = read(fd, p + n, (size_t)sb.st_size - n);
		if (r <= 0)
			break;
	}
	close(fd);
	*len_r = n;
	return p;
}

size_t maildirpp_subscriptions_parse(const char *text, size_t len, int courier, char **names,
                                     size_t max, void (*bad)(void *, const char *, size_t),
                                     void *arg, size_t *over)
{
	size_t n = 0;
	int v2 = !courier && len >= 4 && memcmp(text, "V\t2\n", 4) == 0;
	const char *p = text + (v2 ? 4 : 0), *end = text + len;
	*over = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		size_t l = (size_t)((nl ? nl : end) - p);
		if (l > 0 && p[l - 1] == '\r')
			l--;
		if (courier && l > 6 && memcmp(p, "INBOX.", 6) == 0)
			p += 6, l -= 6;
		if (l > 0 && n == max) {
			(*over)++;
		} else if (l > 0) {
			struct buf name;
			buf_init(&name, SUBS_NAME_MAX * 4);
			if (maildirpp_name(p, l, v2 ? '\t' : '.', &name) == 0)
				names[n++] = xstrdup(buf_data(&name));
			else
				bad(arg, p, l);
			buf_free(&name);
		}
		p = next;
	}
	return n;
}

/* A line that is no name, said on stderr. */
static void say_bad(void *arg, const char *line, size_t len)
{
	struct subs_file *f = arg;
	fprintf(stderr, "tern: %s: \"%.*s\" skipped: not a mailbox name\n", f->path,
	        (int)(len > 64 ? 64 : len), line);
	f->bad = 1;
}

int import_maildirpp_subscriptions(struct store *st, uint32_t account, const char *root)
{
	static const char *const files[] = {"subscriptions", "courierimapsubscribed"};
	int fail = 0;
	for (size_t f = 0; f < 2; f++) {
		char path[4200];
		size_t len = 0;
		int err = 0;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", root, files[f]) >= sizeof path)
			continue;
		char *text = read_small(path, &len, &err);
		fail |= err;
		if (!text)
			continue;
		char **names = xcalloc(SUBS_MAX, sizeof *names);
		struct subs_file sf = {path, 0};
		size_t over;
		size_t n = maildirpp_subscriptions_parse(text, len, f == 1, names, SUBS_MAX, say_bad,
		                                         &sf, &over);
		if (over)
			fprintf(stderr, "tern: %s: %zu names past the first %d skipped\n", path, over,
			        SUBS_MAX);
		fail |= sf.bad || over;
		if (n > 0 && import_subscribe(st, account, (const char *const *)names, n) < 0)
			fail = 1;
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
		free(text);
	}
	return fail ? -1 : 0;
}
