/*
 * test_cli_fetch.c — `tern fetch EMAIL` lists From and Subject for every
 * kind of stored email: with the MIME structure record written at delivery,
 * and with no record at all (local deliveries from the queue before they
 * kept one), which the CLI parses itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "mime/mime_cache.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

static void deliver(struct store *st, uint32_t acc, const char *text, int with_record)
{
	struct buf meta;

	buf_init(&meta, 0);
	if (with_record)
		CHECK_EQ_INT(mime_cache_build(text, strlen(text), &meta), 0);
	unit_deliver(st, acc, text, 1700000000, &meta);
	buf_free(&meta);
}

static void test_list_with_and_without_record(void)
{
	char dir[300], err[256];
	struct store *st = NULL;
	uint32_t acc = 0;

	snprintf(dir, sizeof dir, "%s/data", base);
	st = unit_store_with_account(dir, 0, "bob@example.test", &acc);
	if (st == NULL)
		return;
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
	char scratch[300], *argv[] = {"bob@example.test", NULL};
	snprintf(scratch, sizeof scratch, "%s/cli.out", base);
	CHECK_EQ_INT(unit_cli_capture(cli_fetch, &cfg, 1, argv, scratch, &out), 0);
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
	if (unit_env_begin(base, sizeof base, "cli-fetch") != 0)
		return 1;
	test_list_with_and_without_record();
	unit_rmrf(base);
	return unit_done("test_cli_fetch");
}
