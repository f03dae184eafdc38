/*
 * test_cli_fetch.c — `tern fetch EMAIL` lists From and Subject for every
 * kind of stored email: with the MIME structure record written at delivery,
 * and with no record at all (local deliveries from the queue before they
 * kept one), which the CLI parses itself.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "mime/mime_cache.h"
#include "store/store.h"
#include "unit.h"

static char base[256];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void deliver(struct store *st, uint32_t acc, const char *text, int with_record)
{
	struct store_delivery d;
	struct buf meta;

	memset(&d, 0, sizeof d);
	d.data = text;
	d.len = strlen(text);
	store_blob_id(text, d.len, d.blob_id);
	d.accounts = &acc;
	d.naccounts = 1;
	d.received_at = 1700000000;
	buf_init(&meta, 0);
	if (with_record) {
		CHECK_EQ_INT(mime_cache_build(text, d.len, &meta), 0);
		d.meta = buf_data(&meta);
		d.metalen = buf_len(&meta);
	}
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	buf_free(&meta);
}

/* Runs cli_fetch with stdout and stderr captured into out; returns its status. */
static int run_fetch(const struct config *cfg, char *account, struct buf *out)
{
	char path[300], chunk[4096], *argv[] = {account, NULL};
	ssize_t r;

	snprintf(path, sizeof path, "%s/cli.out", base);
	fflush(stdout);
	fflush(stderr);
	int saved = dup(1), saved2 = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	int rc = cli_fetch(cfg, 1, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved, 1);
	dup2(saved2, 2);
	close(saved);
	close(saved2);
	buf_reset(out);
	fd = open(path, O_RDONLY);
	while (fd >= 0 && (r = read(fd, chunk, sizeof chunk)) > 0)
		buf_append(out, chunk, (size_t)r);
	if (fd >= 0)
		close(fd);
	return rc;
}

static void test_list_with_and_without_record(void)
{
	char dir[300], err[256];
	struct store *st = NULL;
	uint32_t acc = 0;

	snprintf(dir, sizeof dir, "%s/data", base);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	if (st == NULL)
		return;
	CHECK_EQ_INT(store_domain_add(st, "example.test", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_account_add(st, "bob@example.test", "pw-bob-1", 0, &acc, err, sizeof err),
		     STORE_OK);
	deliver(st, acc,
		"From: Alice <alice@remote.test>\r\nSubject: with a record\r\n\r\nhello\r\n", 1);
	deliver(st, acc,
		"Return-Path: <carol@example.test>\r\n"
		"From: carol@example.test\r\nSubject: =?UTF-8?Q?no_record_=C3=A9t=C3=A9?=\r\n"
		"\r\nhello\r\n",
		0);
	store_close(&st);

	struct config cfg;
	struct buf out;
	setenv("TERN_DATA_DIR", dir, 1);
	setenv("TERN_HOSTNAME", "mail.example.test", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof err), 0);
	buf_init(&out, 1 << 16);
	CHECK_EQ_INT(run_fetch(&cfg, "bob@example.test", &out), 0);
	const char *o = buf_data(&out);
	CHECK(strstr(o, "Alice <alice@remote.test>") != NULL);
	CHECK(strstr(o, "with a record") != NULL);
	CHECK(strstr(o, "carol@example.test") != NULL);
	CHECK(strstr(o, "no record \xc3\xa9t\xc3\xa9") != NULL);
	CHECK(strstr(o, "2 messages in INBOX") != NULL);
	if (strstr(o, "no record") == NULL)
		fprintf(stderr, "fetch printed:\n%s\n", o);
	buf_free(&out);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(base, sizeof base, "%s/tern-cli-fetch-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	if (getenv("TEST_LOG"))
		log_init(2, LOG_DEBUG, 0);
	else
		log_init(open("/dev/null", O_WRONLY), LOG_ERROR, 0);
	test_list_with_and_without_record();
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return unit_done("test_cli_fetch");
}
