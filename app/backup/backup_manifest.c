/*
 * backup_manifest.c — writing and reading a backup's MANIFEST
 * (format in backup_manifest.h). The reader takes untrusted input: a
 * backup may come from anywhere (another machine, a damaged disk).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backup/backup_manifest.h"
#include "core/hex.h"
#include "core/xalloc.h"

int backup_path_ok(const char *path)
{
	size_t n = strlen(path);

	if (n == 0 || n > BACKUP_PATH_MAX || path[0] == '/' || path[n - 1] == '/')
		return 0;
	for (const char *p = path; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '/'))
			return 0;
	}
	/* No empty, "." or ".." component. */
	for (const char *p = path; *p;) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += l + (e != NULL);
	}
	return 1;
}

struct backup_file *backup_manifest_add(struct backup_manifest *m)
{
	if (m->nfiles >= BACKUP_FILES_MAX)
		return NULL;
	if (m->nfiles == m->cap) {
		/* Doubled: a list of n files costs O(n) copying in all. */
		size_t cap = m->cap ? m->cap * 2 : 16;
		if (cap > BACKUP_FILES_MAX)
			cap = BACKUP_FILES_MAX;
		m->files = xrealloc(m->files, cap * sizeof *m->files);
		m->cap = cap;
	}
	struct backup_file *f = &m->files[m->nfiles++];
	memset(f, 0, sizeof *f);
	return f;
}

void backup_manifest_free(struct backup_manifest *m)
{
	free(m->files);
	m->files = NULL;
	m->nfiles = m->cap = 0;
}

int backup_manifest_format(const struct backup_manifest *m, char *out, size_t outsz)
{
	size_t len = 0;
	int n;

#define PUT(...)                                                     \
	do {                                                         \
		n = snprintf(out + len, outsz - len, __VA_ARGS__);   \
		if (n < 0 || (size_t)n >= outsz - len)               \
			return -1;                                   \
		len += (size_t)n;                                    \
	} while (0)

	if (outsz == 0)
		return -1;
	PUT("tern-backup %d\n", BACKUP_FORMAT);
	PUT("created %llu\n", (unsigned long long)m->created);
	if (m->run)
		PUT("run %llu\n", (unsigned long long)m->run);
	if (m->version[0])
		PUT("tern-version %s\n", m->version);
	PUT("schema %u\n", m->schema);
	PUT("accounts %llu\nmailboxes %llu\nemails %llu\nqueue %llu\n",
	    (unsigned long long)m->accounts, (unsigned long long)m->mailboxes,
	    (unsigned long long)m->emails, (unsigned long long)m->queue);
	PUT("blobs %llu\nblob-bytes %llu\nreused %llu\n", (unsigned long long)m->blobs,
	    (unsigned long long)m->blob_bytes, (unsigned long long)m->reused);
	PUT("duration-ms %llu\nstore-growth %llu\n", (unsigned long long)m->duration_ms,
	    (unsigned long long)m->growth);
	for (size_t i = 0; i < m->nfiles; i++) {
		char h[65];
		hex_encode(h, m->files[i].hash, 32);
		PUT("file %s %llu %s\n", m->files[i].path, (unsigned long long)m->files[i].size, h);
	}
	/* The check covers every byte above it: a manifest changed by hand
	 * or by a bad disk is refused instead of read for what it says. */
	uint8_t sum[32];
	char h[65];
	crypto_generichash(sum, sizeof sum, (const unsigned char *)out, len, NULL, 0);
	hex_encode(h, sum, 32);
	PUT("check %s\nend\n", h);
#undef PUT
	return (int)len;
}

/* A decimal number of at most 19 digits (fits u64 without overflow
 * checks past that): 0 or -1. */
static int num(const char *s, size_t n, uint64_t *v_r)
{
	uint64_t v = 0;
	if (n == 0 || n > 19)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*v_r = v;
	return 0;
}

/* A file's hash: 64 lowercase digits, as backup_manifest_format writes
 * them (one spelling per hash). */
static int unhex(const char *s, size_t n, uint8_t out[32])
{
	return n == 64 ? hex_decode(out, s, n, HEX_LOWER_ONLY) : -1;
}

/* "file PATH SIZE HEX": the value after "file ". */
static int file_line(const char *v, size_t n, struct backup_manifest *m)
{
	struct backup_file f, *slot;
	const char *sp1 = memchr(v, ' ', n);
	if (sp1 == NULL)
		return -1;
	size_t pl = (size_t)(sp1 - v);
	const char *rest = sp1 + 1;
	size_t rn = n - pl - 1;
	const char *sp2 = memchr(rest, ' ', rn);
	if (sp2 == NULL || pl > BACKUP_PATH_MAX)
		return -1;
	memset(&f, 0, sizeof f);
	memcpy(f.path, v, pl);
	if (!backup_path_ok(f.path) || num(rest, (size_t)(sp2 - rest), &f.size) != 0 ||
	    unhex(sp2 + 1, rn - (size_t)(sp2 - rest) - 1, f.hash) != 0 ||
	    (slot = backup_manifest_add(m)) == NULL)
		return -1;
	*slot = f;
	return 0;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A path m lists twice (which one is right?), or NULL. Sorted, not
 * compared pair by pair: 100,000 files would be 5e9 comparisons, a
 * hostile manifest holding the web admin's list of backups for long. */
static const char *listed_twice(const struct backup_manifest *m)
{
	const char *twice = NULL;
	if (m->nfiles < 2)
		return NULL;
	const char **p = xmalloc(m->nfiles * sizeof *p);
	for (size_t i = 0; i < m->nfiles; i++)
		p[i] = m->files[i].path;
	qsort(p, m->nfiles, sizeof *p, path_cmp);
	for (size_t i = 1; i < m->nfiles && twice == NULL; i++)
		if (strcmp(p[i - 1], p[i]) == 0)
			twice = p[i];
	free(p);
	return twice;
}

/* Each key but `file` at most once (seen: a bit per key): a manifest
 * that says two things is not trusted. */
static int field(const char *key, size_t kn, const char *v, size_t vn, struct backup_manifest *m,
                 uint32_t *seen)
{
	static const struct {
		const char *name;
		size_t off;
	} nums[] = {
	    {"created", offsetof(struct backup_manifest, created)},
	    {"accounts", offsetof(struct backup_manifest, accounts)},
	    {"mailboxes", offsetof(struct backup_manifest, mailboxes)},
	    {"emails", offsetof(struct backup_manifest, emails)},
	    {"queue", offsetof(struct backup_manifest, queue)},
	    {"blobs", offsetof(struct backup_manifest, blobs)},
	    {"blob-bytes", offsetof(struct backup_manifest, blob_bytes)},
	    {"reused", offsetof(struct backup_manifest, reused)},
	    {"duration-ms", offsetof(struct backup_manifest, duration_ms)},
	    {"store-growth", offsetof(struct backup_manifest, growth)},
	    {"run", offsetof(struct backup_manifest, run)},
	};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
		if (strlen(nums[i].name) == kn && memcmp(nums[i].name, key, kn) == 0) {
			if (*seen & (1u << i))
				return -1;
			*seen |= 1u << i;
			return num(v, vn, (uint64_t *)((char *)m + nums[i].off));
		}
	if (kn == 6 && memcmp(key, "schema", 6) == 0) {
		if (*seen & (1u << 30))
			return -1;
		*seen |= 1u << 30;
		uint64_t s;
		if (num(v, vn, &s) != 0 || s == 0 || s > UINT32_MAX)
			return -1;
		m->schema = (uint32_t)s;
		return 0;
	}
	if (kn == 12 && memcmp(key, "tern-version", 12) == 0) {
		if ((*seen & (1u << 31)) || vn >= sizeof m->version)
			return -1;
		for (size_t i = 0; i < vn; i++)
			if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e)
				return -1;
		*seen |= 1u << 31;
		memcpy(m->version, v, vn);
		m->version[vn] = '\0';
		return 0;
	}
	if (kn == 4 && memcmp(key, "file", 4) == 0)
		return file_line(v, vn, m);
	return 0; /* a key from a newer writer */
}

/* "check HEX": HEX (lowercase) is the BLAKE2b-256 of the len bytes of
 * text above the line. 0, or -1 when it differs. */
static int check_line(const char *text, size_t len, const char *v, size_t vn)
{
	uint8_t want[32], got[32];
	if (unhex(v, vn, want) != 0)
		return -1;
	crypto_generichash(got, sizeof got, (const unsigned char *)text, len, NULL, 0);
	return sodium_memcmp(want, got, 32) == 0 ? 0 : -1;
}

/* backup_manifest_parse but for releasing m's list when it fails. */
static int parse(const char *text, size_t len, struct backup_manifest *m, char *err, size_t errsz)
{
	size_t off = 0;
	unsigned line = 0;
	uint32_t seen = 0;
	/* What the line before `end` was: the check line, or a file line
	 * (a manifest written before the check line: its files came last),
	 * anything else meaning the check line was changed or left out. */
	enum { LAST_OTHER, LAST_FILE, LAST_CHECK } last = LAST_OTHER;
	int ended = 0;

	if (len > BACKUP_MANIFEST_MAX) {
		snprintf(err, errsz, "manifest too large (%zu bytes)", len);
		return -1;
	}
	while (off < len) {
		const char *p = text + off;
		const char *nl = memchr(p, '\n', len - off);
		line++;
		if (nl == NULL) {
			snprintf(err, errsz, "line %u: not terminated (manifest cut short)", line);
			return -1;
		}
		size_t n = (size_t)(nl - p);
		off += n + 1;
		if (ended) {
			snprintf(err, errsz, "line %u: text after end", line);
			return -1;
		}
		if (n > BACKUP_LINE_MAX || memchr(p, '\0', n)) {
			snprintf(err, errsz, "line %u: too long or not text", line);
			return -1;
		}
		if (line == 1) {
			static const char first[] = "tern-backup 1";
			if (n != sizeof first - 1 || memcmp(p, first, n) != 0) {
				snprintf(err, errsz, "not a tern backup manifest of format %d", BACKUP_FORMAT);
				return -1;
			}
			continue;
		}
		if (n == 3 && memcmp(p, "end", 3) == 0) {
			if (last == LAST_OTHER) {
				snprintf(err, errsz, "line %u: no check line before end (the manifest "
				         "was changed)", line);
				return -1;
			}
			ended = 1;
			continue;
		}
		if (last == LAST_CHECK) {
			snprintf(err, errsz, "line %u: text after the check line", line);
			return -1;
		}
		if (n > 6 && memcmp(p, "check ", 6) == 0) {
			if (check_line(text, (size_t)(p - text), p + 6, n - 6) != 0) {
				snprintf(err, errsz,
				         "line %u: the manifest was changed (its check differs)",
				         line);
				return -1;
			}
			last = LAST_CHECK;
			continue;
		}
		last = n > 5 && memcmp(p, "file ", 5) == 0 ? LAST_FILE : LAST_OTHER;
		const char *sp = memchr(p, ' ', n);
		if (sp == NULL || sp == p || field(p, (size_t)(sp - p), sp + 1, n - (size_t)(sp - p) - 1, m, &seen) != 0) {
			snprintf(err, errsz, "line %u: malformed", line);
			return -1;
		}
	}
	if (line == 0) {
		snprintf(err, errsz, "empty manifest");
		return -1;
	}
	if (!ended) {
		snprintf(err, errsz, "no end line (manifest cut short)");
		return -1;
	}
	if (m->schema == 0) {
		snprintf(err, errsz, "no schema line");
		return -1;
	}
	const char *twice = listed_twice(m);
	if (twice) {
		snprintf(err, errsz, "file %s listed twice", twice);
		return -1;
	}
	return 0;
}

int backup_manifest_parse(const char *text, size_t len, struct backup_manifest *m, char *err,
                          size_t errsz)
{
	memset(m, 0, sizeof *m);
	if (parse(text, len, m, err, errsz) == 0)
		return 0;
	backup_manifest_free(m);
	return -1;
}
