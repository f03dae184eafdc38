/*
 * unit_env.h — the surroundings a store or CLI unit test needs: a private
 * temporary directory (removed at the end), the log sent to /dev/null
 * unless TEST_LOG is set, a store with one account, a message delivered
 * into it, and a CLI command run with its stdout and stderr captured.
 */
#ifndef TERN_TESTS_UNIT_ENV_H
#define TERN_TESTS_UNIT_ENV_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "store/store.h"
#include "unit.h"

static int unit_rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Makes $TMPDIR/tern-NAME-XXXXXX into base and sets up the log; 0 or -1. */
static inline int unit_env_begin(char *base, size_t n, const char *name)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(base, n, "%s/tern-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	if (getenv("TEST_LOG"))
		log_init(2, LOG_DEBUG, 0);
	else
		log_init(open("/dev/null", O_WRONLY), LOG_ERROR, 0);
	return 0;
}

/* Removes a directory tree (the one unit_env_begin made). */
static inline void unit_rmrf(const char *path)
{
	nftw(path, unit_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Opens (creating) a store in dir with the domain of addr and the account
 * addr (password "pw"); NULL, with the failed check counted, when any step
 * fails.
 */
static inline struct store *unit_store_with_account(const char *dir, unsigned flags,
                                                     const char *addr, uint32_t *acc_r)
{
	struct store *st = NULL;
	char err[256];

	CHECK_EQ_INT(store_open(dir, flags, &st, err, sizeof err), STORE_OK);
	if (st == NULL)
		return NULL;
	int ok = store_domain_add(st, strchr(addr, '@') + 1, err, sizeof err) == STORE_OK &&
	         store_account_add(st, addr, "pw", 0, acc_r, err, sizeof err) == STORE_OK;
	CHECK(ok);
	if (!ok)
		store_close(&st);
	return st;
}

/* A delivery of text to the one account *acc (an INBOX delivery until the
 * caller sets mailbox and keywords for an APPEND). */
static inline void unit_delivery_init(struct store_delivery *d, const char *text, uint32_t *acc,
                                      int64_t received_at)
{
	memset(d, 0, sizeof *d);
	d->data = text;
	d->len = strlen(text);
	store_blob_id(text, d->len, d->blob_id);
	d->accounts = acc;
	d->naccounts = 1;
	d->received_at = received_at;
}

/* Delivers text into acc's INBOX at once (no writer thread), with its
 * structure record meta (may be NULL); the delivery must succeed. */
static inline void unit_deliver(struct store *st, uint32_t acc, const char *text,
                                int64_t received_at, const struct buf *meta)
{
	struct store_delivery d;

	unit_delivery_init(&d, text, &acc, received_at);
	if (meta && buf_len(meta)) {
		d.meta = buf_data(meta);
		d.metalen = buf_len(meta);
	}
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
}

typedef int unit_cli_fn(const struct config *cfg, int argc, char **argv);

/*
 * Runs a CLI command (cli_domain, cli_fetch, ...) with stdout and stderr
 * going to the file scratch, then reads that file into out (replacing its
 * content). Returns the command's status.
 */
static inline int unit_cli_capture(unit_cli_fn *fn, const struct config *cfg, int argc,
                                   char **argv, const char *scratch, struct buf *out)
{
	char chunk[4096];
	ssize_t r;

	fflush(stdout);
	fflush(stderr);
	int saved = dup(1), saved2 = dup(2), fd = open(scratch, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	int rc = fn(cfg, argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved, 1);
	dup2(saved2, 2);
	close(saved);
	close(saved2);
	buf_reset(out);
	fd = open(scratch, O_RDONLY);
	while (fd >= 0 && (r = read(fd, chunk, sizeof chunk)) > 0)
		buf_append(out, chunk, (size_t)r);
	if (fd >= 0)
		close(fd);
	return rc;
}

#endif
