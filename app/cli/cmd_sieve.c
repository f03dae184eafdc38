/*
 * cmd_sieve.c — `tern sieve test SCRIPT FILE [--from A] [--to A]`: runs a
 * Sieve script over a message file and prints what its result would do,
 * one action a line, as DESIGN.md §5 says (Pigeonhole's sieve-test order):
 * explicit actions in order, then `keep` for the implicit keep. A script
 * that does not compile prints `error` (exit 1) with the parser's message
 * on stderr; a run-time error prints the implicit `keep` (what delivery
 * would do) and the error on stderr. The envelope defaults to the null
 * sender and an empty recipient.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/xalloc.h"
#include "sieve/sieve.h"

#define SIEVE_TEST_MSG_MAX (64u * 1024 * 1024)

/* Reads a whole file (at most max octets) into a malloc'd buffer. */
static char *slurp(const char *path, size_t max, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 65536, n = 0;
	char *p;

	if (!f)
		return NULL;
	p = xmalloc(cap + 1);
	for (;;) {
		size_t got = fread(p + n, 1, cap - n, f);
		n += got;
		if (n < cap)
			break;
		if (cap >= max) {
			fclose(f);
			free(p);
			errno = EFBIG;
			return NULL;
		}
		cap = cap * 2 > max ? max : cap * 2;
		p = xrealloc(p, cap + 1);
	}
	fclose(f);
	p[n] = '\0';
	*len_r = n;
	return p;
}

int cli_sieve(const struct config *cfg, int argc, char **argv)
{
	const char *from = "", *to = "", *files[2];
	int nfiles = 0;
	char err[SIEVE_ERROR_MAX];
	size_t slen, mlen;

	(void)cfg;
	if (argc < 1 || strcmp(argv[0], "test") != 0)
		goto usage;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
			from = argv[++i];
		else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			to = argv[++i];
		else if (argv[i][0] != '-' && nfiles < 2)
			files[nfiles++] = argv[i];
		else
			goto usage;
	}
	if (nfiles != 2)
		goto usage;
	char *script = slurp(files[0], SIEVE_SCRIPT_MAX + 1, &slen);
	if (!script) {
		fprintf(stderr, "tern sieve test: %s: %s\n", files[0], strerror(errno));
		return 1;
	}
	char *msg = slurp(files[1], SIEVE_TEST_MSG_MAX, &mlen);
	if (!msg) {
		fprintf(stderr, "tern sieve test: %s: %s\n", files[1], strerror(errno));
		free(script);
		return 1;
	}
	struct sieve_script *s = sieve_compile(script, slen, err);
	free(script);
	if (!s) {
		printf("error\n");
		fprintf(stderr, "%s: %s\n", files[0], err);
		free(msg);
		return 1;
	}
	struct sieve_env env = { .msg = msg, .len = mlen, .env_from = str_c(from),
		                 .env_to = str_c(to), .now = (int64_t)time(NULL) };
	struct sieve_result res;
	struct arena *a = arena_new(0);
	char *out = xmalloc(65536);
	if (sieve_run(s, &env, a, &res) < 0)
		fprintf(stderr, "%s: run-time error: %s\n", files[0], res.error);
	sieve_result_format(&res, out, 65536);
	fputs(out, stdout);
	free(out);
	arena_free(&a);
	sieve_script_free(&s);
	free(msg);
	return 0;
usage:
	fprintf(stderr, "usage: tern sieve test SCRIPT FILE [--from ADDR] [--to ADDR]\n");
	return 2;
}
