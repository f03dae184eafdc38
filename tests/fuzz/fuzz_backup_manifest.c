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
	static char text[BACKUP_MANIFEST_MAX];
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
	int n = backup_manifest_format(&m, text, sizeof text);
	assert(n > 0);
	assert(backup_manifest_parse(text, (size_t)n, &again, err, sizeof err) == 0);
	assert(memcmp(&m, &again, sizeof m) == 0);
	return 0;
}
