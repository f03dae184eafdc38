/*
 * replay.c — runs the fuzz targets' committed corpora without libFuzzer,
 * for `make fuzz-check`: the regression half of fuzzing, each input fed
 * once, with no search for new ones (that is `make fuzz`, clang and
 * libFuzzer).
 *
 * Every tests/fuzz/fuzz_NAME.c is compiled by gcc with ASan and UBSan, its
 * LLVMFuzzerTestOneInput renamed fuzz_NAME_one and its optional
 * LLVMFuzzerInitialize fuzz_NAME_init (the Makefile's -D flags), and all
 * of them are linked with this driver and the unit tests' objects into one
 * program, build/fuzz-replay. One link and no second build of the code by
 * another compiler: that build and its 84 links were most of make test's
 * build phase.
 *
 *   fuzz-replay TARGET PATH...
 *
 * PATH is an input file or a directory of them (every regular file in it,
 * in name order). An empty input runs first, as libFuzzer runs one. Each
 * input is an exact-size heap copy, so a read past its end is an ASan
 * report, as under libFuzzer. The name of each input goes to stderr before
 * it runs: when one crashes, the last name printed is the culprit. One
 * process a target, so no target's globals meet another's, and the leak
 * check at exit covers all of that target's inputs.
 *
 * Exit status: 0 when every input ran, 2 on a usage or I/O error; a
 * failing input aborts (ASan, UBSan, assert).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* build/gen/fuzz_targets.h: FUZZ_TARGET(fuzz_NAME) for every target. A
 * target without an init function leaves the weak reference null. */
#define FUZZ_TARGET(n)                           \
	int n##_one(const uint8_t *data, size_t size); \
	int n##_init(int *argc, char ***argv) __attribute__((weak));
#include "gen/fuzz_targets.h"
#undef FUZZ_TARGET

struct target {
	const char *name;
	int (*one)(const uint8_t *data, size_t size);
	int (*init)(int *argc, char ***argv);
};

static const struct target targets[] = {
#define FUZZ_TARGET(n) {#n, n##_one, n##_init},
#include "gen/fuzz_targets.h"
#undef FUZZ_TARGET
};

static const struct target *target_find(const char *name)
{
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
		if (strcmp(targets[i].name, name) == 0)
			return &targets[i];
	return NULL;
}

/* Reads PATH whole into an exact-size allocation (*size_r bytes). */
static uint8_t *file_read(const char *path, size_t *size_r)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *data;

	if (!f || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	data = malloc(st.st_size);
	if ((st.st_size && !data) || fread(data, 1, st.st_size, f) != (size_t)st.st_size) {
		fprintf(stderr, "fuzz-replay: %s: short read\n", path);
		exit(2);
	}
	fclose(f);
	*size_r = st.st_size;
	return data;
}

static void run_file(const struct target *t, const char *path, unsigned *count)
{
	size_t size;
	uint8_t *data = file_read(path, &size);

	fprintf(stderr, "input %s (%zu bytes)\n", path, size);
	t->one(data, size);
	free(data);
	(*count)++;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_path(const struct target *t, const char *path, unsigned *count)
{
	struct stat st;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	DIR *d;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (!S_ISDIR(st.st_mode)) {
		run_file(t, path, count);
		return;
	}
	if (!(d = opendir(path))) {
		fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while ((de = readdir(d))) {
		char *full;

		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&full, "%s/%s", path, de->d_name) < 0)
			abort();
		if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
			free(full);
			continue;
		}
		if (n == cap && !(names = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof(*names))))
			abort();
		names[n++] = full;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		run_file(t, names[i], count);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	const struct target *t;
	unsigned count = 0;

	if (argc < 3 || !(t = target_find(argv[1]))) {
		fprintf(stderr, "usage: fuzz-replay TARGET PATH...\n%s%s\n",
		        argc >= 2 ? "no such target: " : "", argc >= 2 ? argv[1] : "");
		return 2;
	}
	if (t->init)
		t->init(&argc, &argv);
	/* The empty input: libFuzzer runs it first too. */
	{
		uint8_t *empty = malloc(0);

		fprintf(stderr, "input (empty)\n");
		t->one(empty, 0);
		free(empty);
	}
	for (int i = 2; i < argc; i++)
		run_path(t, argv[i], &count);
	printf("%s: %u inputs replayed\n", t->name, count);
	return 0;
}
