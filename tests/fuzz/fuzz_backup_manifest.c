/*
 * fuzz_backup_manifest.c — the MANIFEST reader of a backup
 * (backup_manifest.h), which takes a file from anywhere. Whatever the
 * input, parsing ends with 0 or -1; a manifest that parses has only safe
 * file paths, formats again, and that text parses to the same manifest.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup_manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct backup_manifest m, again;
	char err[300];

	int r = backup_manifest_parse((const char *)data, size, &m, err, sizeof err);
	assert(r == 0 || r == -1);
	if (r != 0) {
		assert(memchr(err, '\0', sizeof err) != NULL);
		return 0;
	}
	for (size_t i = 0; i < m.nfiles; i++) {
		const char *p = m.files[i].path;
		size_t l = strlen(p);
		assert(backup_path_ok(p) && p[0] != '/' && strcmp(p, "..") != 0 &&
		       strncmp(p, "../", 3) != 0 && strstr(p, "/../") == NULL &&
		       (l < 3 || strcmp(p + l - 3, "/..") != 0));
	}
	size_t cap = BACKUP_MANIFEST_SIZE(m.nfiles);
	char *text = malloc(cap);
	assert(text != NULL);
	int n = backup_manifest_format(&m, text, cap);
	assert(n > 0);
	assert(backup_manifest_parse(text, (size_t)n, &again, err, sizeof err) == 0);
	assert(again.nfiles == m.nfiles);
	for (size_t i = 0; i < m.nfiles; i++)
		assert(strcmp(m.files[i].path, again.files[i].path) == 0 &&
		       m.files[i].size == again.files[i].size &&
		       memcmp(m.files[i].hash, again.files[i].hash, 32) == 0);
	/* The list aside, the same fields. */
	struct backup_manifest a = m, b = again;
	a.files = b.files = NULL;
	a.cap = b.cap = 0;
	assert(memcmp(&a, &b, sizeof a) == 0);
	free(text);
	backup_manifest_free(&m);
	backup_manifest_free(&again);
	return 0;
}
