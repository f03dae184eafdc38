/*
 * cmd_sieve.c — `tern sieve test SCRIPT FILE... [--from A] [--to A]`: runs a
 * Sieve script over a message file and prints what its result would do,
 * one action a line, as DESIGN.md §5 says (Pigeonhole's sieve-test order):
 * explicit actions in order, then `keep` for the implicit keep. A script
 * that does not compile prints `error` (exit 1) with the parser's message
 * on stderr; a run-time error prints the implicit `keep` (what delivery
 * would do) and the error on stderr. The envelope defaults to the null
 * sender and an empty recipient.
 *
 * More than one FILE: each file's lines follow a line "== FILE".
 *
 * mboxmetadata and servermetadata (RFC 5490) read the METADATA entries
 * given by `--metadata MAILBOX ENTRY VALUE` (MAILBOX "" for the server's;
 * repeated, at most METADATA_ARGS_MAX): the entries IMAP SETMETADATA
 * would have set, for a script to be tried without an account.
 *
 * include (RFC 6609): a personal script NAME is the file NAME.sieve, else
 * NAME, in SCRIPT's directory (the stored scripts' namespace, on disk as
 * Pigeonhole's file storage keeps it); a :global one is looked up the
 * same way in the directory --global DIR names, and is missing without it.
 * A missing script is a run-time error unless :optional, as at delivery.
 * SCRIPT is the personal script of its own name (NAME.sieve or NAME), the
 * include tree's root: :once skips it, an include of it is recursion.
 *
 * `tern sieve test SCRIPT FILE... --bench N` measures instead: it compiles
 * once, runs the script N times over each FILE (one arena per run, as a
 * delivery has) and prints one line, "runs=R us_per_run=U" with U the
 * process CPU time per run in microseconds: the script's own cost, without
 * the store or the network (scripts/bench-sieve reports it).
 *
 * `tern sieve list|get|put|activate|deactivate|del EMAIL [NAME]` manage an
 * account's stored scripts as ManageSieve does: list prints one name a
 * line with " ACTIVE" after the active one; get prints the text; put reads
 * the text from stdin and refuses (exit 1) one that does not compile, with
 * the parser's message; activate refuses (exit 1, the reason on stderr)
 * a script that would fail at every delivery, as ManageSieve's SETACTIVE
 * does (script_check.h: an include without :optional of a script not
 * there, a recursive include, nesting too deep); del refuses the active
 * script. `global` in place
 * of EMAIL manages the administrator's global scripts (the active one
 * runs before every account's at delivery).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/xalloc.h"
#include "core/buf.h"
#include "core/hostname.h"
#include "sieve/script_check.h"
#include "sieve/sieve.h"
#include "store/store.h"

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

static void list_cb(void *arg, const char *name, int active, size_t size)
{
	(void)arg;
	(void)size;
	printf("%s%s\n", name, active ? " ACTIVE" : "");
}

const char *cli_sieve_store_msg(int rc)
{
	switch (rc) {
	case STORE_ENOTFOUND: return "no such script";
	case STORE_EEXIST: return "a script of that name exists";
	case STORE_EACTIVE: return "the script is active (deactivate it first)";
	case STORE_ETOOBIG: return "the script is too large";
	case STORE_ELIMIT: return "the account's scripts are at their limit (32 scripts, 1 MiB)";
	case STORE_EINVAL: return "invalid script name";
	default: return "the store failed";
	}
}

int cli_sieve_activate(struct store *st, uint32_t account, const char *name)
{
	struct script_check *chk = xmalloc(sizeof *chk);
	script_check_init(chk, st, account, name);
	int r = script_check_activate(chk), bad = r != STORE_OK || chk->invalid;
	if (bad)
		fprintf(stderr, "tern: Sieve script \"%s\" not made active: %s%s\n", name,
		        r != STORE_OK ? cli_sieve_store_msg(r)
		                      : "the script would fail at every delivery: ",
		        r != STORE_OK ? "" : chk->err);
	free(chk);
	return bad;
}

/* tern sieve list|get|put|activate|deactivate|del EMAIL [NAME] */
static int manage(const struct config *cfg, int argc, char **argv)
{
	const char *op = argv[0];
	int want_name = strcmp(op, "list") != 0 && strcmp(op, "deactivate") != 0;
	int writes = strcmp(op, "list") != 0 && strcmp(op, "get") != 0;
	uint32_t acc;
	struct store *st;
	int rc;

	if (argc != 2 + want_name)
		return -1;
	if (!(st = cli_store_open(cfg, writes ? CLI_STORE_CHANGE : CLI_STORE_READ)))
		return 1;
	if (strcmp(argv[1], "global") == 0) {
		acc = STORE_SIEVE_GLOBAL; /* the administrator's scripts */
	} else if (store_account_id(st, argv[1], &acc) != STORE_OK) {
		fprintf(stderr, "tern sieve: no account %s\n", argv[1]);
		store_close(&st);
		return 1;
	}
	const char *name = want_name ? argv[2] : NULL;
	if (strcmp(op, "list") == 0) {
		rc = store_sieve_list(st, acc, list_cb, NULL);
	} else if (strcmp(op, "get") == 0) {
		struct buf b;
		buf_init(&b, STORE_SIEVE_BYTES_MAX);
		rc = store_sieve_get(st, acc, name, &b, NULL);
		if (rc == STORE_OK)
			fwrite(buf_data(&b), 1, buf_len(&b), stdout);
		buf_free(&b);
	} else if (strcmp(op, "put") == 0) {
		struct buf b;
		char chunk[65536], err[SIEVE_ERRORS_TEXT_MAX];
		struct sieve_errors errs;
		size_t got;
		buf_init(&b, SIEVE_SCRIPT_MAX);
		rc = STORE_OK;
		while ((got = fread(chunk, 1, sizeof chunk, stdin)) > 0)
			if (buf_append(&b, chunk, got) < 0)
				rc = STORE_ETOOBIG;
		struct sieve_script *s = rc == STORE_OK ? sieve_compile_errors(buf_data(&b), buf_len(&b), &errs) : NULL;
		if (rc == STORE_OK && !s) {
			fprintf(stderr, "tern sieve: %s\n",
			        sieve_errors_format(&errs, "\ntern sieve: ", err, sizeof err));
			buf_free(&b);
			store_close(&st);
			return 1;
		}
		sieve_script_free(&s);
		if (rc == STORE_OK)
			rc = store_sieve_put(st, acc, name, buf_data(&b), buf_len(&b), (int64_t)time(NULL));
		buf_free(&b);
	} else if (strcmp(op, "activate") == 0 || strcmp(op, "deactivate") == 0) {
		/* the check ManageSieve's SETACTIVE makes (script_check.h) */
		struct script_check *chk = xmalloc(sizeof *chk);
		script_check_init(chk, st, acc, name);
		rc = script_check_activate(chk);
		if (rc == STORE_OK && chk->invalid) {
			fprintf(stderr, "tern sieve activate: not made active: the script would fail at "
			                "every delivery: %s\n", chk->err);
			free(chk);
			store_close(&st);
			return 1;
		}
		free(chk);
	} else if (strcmp(op, "del") == 0) {
		rc = store_sieve_del(st, acc, name);
	} else {
		store_close(&st);
		return -1;
	}
	store_close(&st);
	if (rc != STORE_OK) {
		fprintf(stderr, "tern sieve %s: %s\n", op, cli_sieve_store_msg(rc));
		return 1;
	}
	return 0;
}

#define METADATA_ARGS_MAX 64

/* Where `include` finds its scripts (the run's arena keeps their text),
 * and the --metadata entries. */
struct incl_ctx {
	const char *dir, *gdir;
	struct str self; /* SCRIPT's own name among its personal scripts */
	struct arena *a;
	const char *meta[METADATA_ARGS_MAX][3]; /* mailbox ("" the server), entry, value */
	int nmeta;
};

/* An entry of --metadata: names in any case, "INBOX" too (RFC 5464 §3.2). */
static int metadata_arg(void *ctx, struct str mailbox, struct str name, struct arena *a,
                        struct str *value_r)
{
	const struct incl_ctx *c = ctx;
	(void)a;
	for (int i = 0; i < c->nmeta; i++) {
		struct str m = str_c(c->meta[i][0]);
		int same = mailbox.p ? m.len > 0 && (str_eq(m, mailbox) ||
		                                     (str_eq_ci(m, STR_LIT("INBOX")) &&
		                                      str_eq_ci(mailbox, m)))
		                     : m.len == 0;
		if (same && str_eq_ci(str_c(c->meta[i][1]), name)) {
			*value_r = str_c(c->meta[i][2]);
			return 1;
		}
	}
	return 0;
}

static int include_file(void *ctx, struct str name, int global, struct str *text_r)
{
	const struct incl_ctx *c = ctx;
	const char *dir = global ? c->gdir : c->dir;
	char path[4096];
	size_t len;
	char *text = NULL;

	if (!dir || name.len == 0 || name.len > STORE_SIEVE_NAME_MAX ||
	    memchr(name.p, '\0', name.len) || memchr(name.p, '/', name.len))
		return -1;
	for (int ext = 1; ext >= 0 && !text; ext--) {
		int n = snprintf(path, sizeof(path), "%s/%.*s%s", dir, (int)name.len, name.p,
		                 ext ? ".sieve" : "");
		if (n > 0 && (size_t)n < sizeof(path))
			text = slurp(path, SIEVE_SCRIPT_MAX, &len);
	}
	if (!text)
		return -1;
	*text_r = str_make(arena_strndup(c->a, text, len), len);
	free(text);
	return 0;
}

/* SCRIPT's directory, for its personal includes. */
static void script_dir(const char *script, char *dir, size_t cap)
{
	const char *slash = strrchr(script, '/');
	if (!slash)
		snprintf(dir, cap, ".");
	else if (slash == script)
		snprintf(dir, cap, "/");
	else
		snprintf(dir, cap, "%.*s", (int)(slash - script), script);
}

#define BENCH_FILES_MAX 64

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --bench: the script's CPU per run over the messages in files. */
static int bench(const struct sieve_script *s, const char **files, int nfiles, long runs,
                 const char *from, const char *to, struct incl_ctx *ic)
{
	char *msg[BENCH_FILES_MAX];
	size_t len[BENCH_FILES_MAX];
	int rc = 0;

	for (int i = 0; i < nfiles; i++) {
		if (!(msg[i] = slurp(files[i], SIEVE_TEST_MSG_MAX, &len[i]))) {
			fprintf(stderr, "tern sieve test: %s: %s\n", files[i], strerror(errno));
			while (i-- > 0)
				free(msg[i]);
			return 1;
		}
	}
	struct arena *a = arena_new(0);
	long total = 0;
	double t0 = cpu_seconds();
	ic->a = a;
	for (long k = 0; k < runs; k++) {
		for (int i = 0; i < nfiles; i++) {
			struct sieve_env env = { .msg = msg[i], .len = len[i], .env_from = str_c(from),
				                 .env_to = str_c(to), .now = (int64_t)time(NULL),
				                 .ctx = ic, .include_text = include_file,
			                 .metadata = metadata_arg, .script_name = ic->self };
			struct sieve_result res;
			sieve_env_host(&env, hostname_now());
			if (sieve_run(s, &env, a, &res) < 0 && !rc) {
				fprintf(stderr, "%s: run-time error: %s\n", files[i], res.error);
				rc = 1;
			}
			arena_reset(a);
			total++;
		}
	}
	double us = (cpu_seconds() - t0) * 1e6;
	printf("runs=%ld us_per_run=%.2f\n", total, total ? us / (double)total : 0.0);
	arena_free(&a);
	for (int i = 0; i < nfiles; i++)
		free(msg[i]);
	return rc;
}

/* The actions over each message file (files[1..]); with more than one,
 * each file's lines follow a "== FILE" line. One compile for all: a test
 * harness comparing many messages starts one process per script. */
static int test_files(const struct sieve_script *s, const char **files, int nfiles,
                      const char *from, const char *to, struct incl_ctx *ic)
{
	struct arena *a = arena_new(0);
	char *out = xmalloc(65536);
	int rc = 0;

	ic->a = a;

	for (int i = 1; i < nfiles; i++) {
		size_t mlen;
		char *msg = slurp(files[i], SIEVE_TEST_MSG_MAX, &mlen);
		if (!msg) {
			fprintf(stderr, "tern sieve test: %s: %s\n", files[i], strerror(errno));
			rc = 1;
			break;
		}
		struct sieve_env env = { .msg = msg, .len = mlen, .env_from = str_c(from),
			                 .env_to = str_c(to), .now = (int64_t)time(NULL),
			                 .ctx = ic, .include_text = include_file,
			                 .metadata = metadata_arg, .script_name = ic->self };
		struct sieve_result res;
		sieve_env_host(&env, hostname_now()); /* environment "host", "domain" */
		if (sieve_run(s, &env, a, &res) < 0)
			fprintf(stderr, "%s: %s: run-time error: %s\n", files[0], files[i], res.error);
		sieve_result_format(&res, out, 65536);
		if (nfiles > 2)
			printf("== %s\n", files[i]);
		fputs(out, stdout);
		arena_reset(a);
		free(msg);
	}
	free(out);
	arena_free(&a);
	return rc;
}

int cli_sieve(const struct config *cfg, int argc, char **argv)
{
	const char *from = "", *to = "", *gdir = NULL, *files[BENCH_FILES_MAX + 1];
	static struct incl_ctx ic;
	char dir[4096];
	int nfiles = 0;
	long runs = 0;
	char err[SIEVE_ERROR_MAX];
	size_t slen;

	if (argc >= 1 && strcmp(argv[0], "test") != 0) {
		int r = manage(cfg, argc, argv);
		if (r >= 0)
			return r;
		goto usage;
	}
	if (argc < 1)
		goto usage;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
			from = argv[++i];
		else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			to = argv[++i];
		else if (strcmp(argv[i], "--global") == 0 && i + 1 < argc)
			gdir = argv[++i];
		else if (strcmp(argv[i], "--metadata") == 0 && i + 3 < argc &&
		         ic.nmeta < METADATA_ARGS_MAX) {
			for (int k = 0; k < 3; k++)
				ic.meta[ic.nmeta][k] = argv[++i];
			ic.nmeta++;
		}
		else if (strcmp(argv[i], "--bench") == 0 && i + 1 < argc) {
			char *end;
			runs = strtol(argv[++i], &end, 10);
			if (*end || runs < 1 || runs > 10000000)
				goto usage;
		} else if (argv[i][0] != '-' && nfiles < BENCH_FILES_MAX + 1)
			files[nfiles++] = argv[i];
		else
			goto usage;
	}
	if (nfiles < 2)
		goto usage;
	char *script = slurp(files[0], SIEVE_SCRIPT_MAX + 1, &slen);
	if (!script) {
		fprintf(stderr, "tern sieve test: %s: %s\n", files[0], strerror(errno));
		return 1;
	}
	struct sieve_script *s = sieve_compile(script, slen, err);
	free(script);
	if (!s) {
		if (!runs)
			printf("error\n");
		fprintf(stderr, "%s: %s\n", files[0], err);
		return 1;
	}
	script_dir(files[0], dir, sizeof(dir));
	ic.dir = dir;
	ic.gdir = gdir;
	/* SCRIPT is NAME.sieve or NAME in that directory: the root of the
	 * include tree (an include of NAME is of SCRIPT itself) */
	const char *base = strrchr(files[0], '/') ? strrchr(files[0], '/') + 1 : files[0];
	ic.self = str_c(base);
	if (ic.self.len > 6 && strcmp(base + ic.self.len - 6, ".sieve") == 0)
		ic.self.len -= 6;
	int rc = runs ? bench(s, files + 1, nfiles - 1, runs, from, to, &ic)
		      : test_files(s, files, nfiles, from, to, &ic);
	sieve_script_free(&s);
	return rc;
usage:
	return cli_usage("sieve");
}
