/*
 * test_cli_acl.c — tern acl list|set|del (cmd_acl.c): grants set,
 * changed (replaced, "+" added, "-" taken away, as SETACL), listed per
 * mailbox and per owner (each mailbox led by its owner, as GETACL),
 * removed; "anyone" in any case; an alias, an unknown account or
 * mailbox, the owner as identifier and bad rights
 * refused with a line and nothing changed; and the command closed while
 * the shared mailboxes' switch is off.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "imap/imap_acl.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

static char base[256], scratch[300];
static struct config cfg;
static struct buf out;

/* Runs tern acl with the words of line (space-separated, at most 8). */
static int acl(const char *line)
{
	char copy[512], *argv[9];
	int argc = 0;
	snprintf(copy, sizeof copy, "%s", line);
	for (char *w = strtok(copy, " "); w && argc < 8; w = strtok(NULL, " "))
		argv[argc++] = w;
	argv[argc] = NULL;
	return unit_cli_capture(cli_acl_run, &cfg, argc, argv, scratch, &out);
}

static const char *said(void)
{
	return buf_data(&out);
}

int main(void)
{
	struct store *st;
	uint32_t ann = 0, bob = 0;
	char err[256];

	if (unit_env_begin(base, sizeof base, "cli-acl") != 0)
		return 1;
	st = unit_store_with_account(base, 0, "ann@example.test", &ann);
	if (!st)
		return unit_done("test_cli_acl");
	CHECK_EQ_INT(store_account_add(st, "bob@example.test", "pw", 0, &bob, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_alias_add(st, "help@example.test", "bob@example.test", err, sizeof err),
		     STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, ann, "Team", NULL), STORE_OK);
	store_close(&st);

	setenv("TERN_DATA_DIR", base, 1);
	setenv("TERN_HOSTNAME", "mail.example.test", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof err), 0);
	buf_init(&out, 1 << 16);
	snprintf(scratch, sizeof scratch, "%s/cli.out", base);

	/* Off, the command says so and does nothing. */
	if (!IMAP_ACL_ENABLED) {
		char *argv[] = {"set", "ann@example.test", "Team", "bob@example.test", "lr", NULL};
		CHECK_EQ_INT(unit_cli_capture(cli_acl, &cfg, 5, argv, scratch, &out), 2);
		CHECK(strstr(said(), "not available") != NULL);
	}
	/* The owner leads each mailbox's list with its implicit rights,
	 * as GETACL shows it (RFC 4314 §2; store_acl_entries). */
	CHECK_EQ_INT(acl("list ann@example.test Team"), 0);
	CHECK_EQ_STR(said(), "Team\tann@example.test\tlrswipkxteacd\n");

	CHECK_EQ_INT(acl("set ann@example.test Team bob@example.test lr"), 0);
	CHECK_EQ_STR(said(), "ann@example.test Team: bob@example.test may lr\n");
	CHECK_EQ_INT(acl("set ann@example.test INBOX anyone l"), 0);
	CHECK_EQ_INT(acl("set ann@example.test Team bob@example.test lrswid"), 0);
	CHECK_EQ_INT(acl("list ann@example.test Team"), 0);
	CHECK_EQ_STR(said(), "Team\tann@example.test\tlrswipkxteacd\n"
			     "Team\tbob@example.test\tlrswixted\n");
	CHECK_EQ_INT(acl("list ann@example.test"), 0);
	CHECK_EQ_STR(said(), "INBOX\tann@example.test\tlrswipkxteacd\nINBOX\tanyone\tl\n"
			     "Team\tann@example.test\tlrswipkxteacd\nTeam\tbob@example.test\tlrswixted\n");

	/* "+" adds and "-" takes away, as SETACL's (RFC 4314 §3.1), in one
	 * store call; "ANYONE" is "anyone" in any case, as IMAP reads it. */
	CHECK_EQ_INT(acl("set ann@example.test Team bob@example.test +k"), 0);
	CHECK_EQ_STR(said(), "ann@example.test Team: bob@example.test may lrswikxtecd\n");
	CHECK_EQ_INT(acl("set ann@example.test Team bob@example.test -d"), 0);
	CHECK_EQ_STR(said(), "ann@example.test Team: bob@example.test may lrswikc\n");
	CHECK_EQ_INT(acl("set ann@example.test Team ANYONE +lr"), 0);
	CHECK_EQ_STR(said(), "ann@example.test Team: ANYONE may lr\n");
	CHECK_EQ_INT(acl("set ann@example.test Team anyone -lr"), 0);
	CHECK_EQ_STR(said(), "ann@example.test Team: anyone may (nothing)\n");
	CHECK_EQ_INT(acl("set ann@example.test Team bob@example.test +z"), 2);
	CHECK(strstr(said(), "with + to add") != NULL);
	CHECK_EQ_INT(acl("set ann@example.test Team bob@example.test =lr"), 2);
	CHECK_EQ_INT(acl("set ann@example.test Team bob@example.test lrswid"), 0);

	/* Refused, each with its line, nothing changed. */
	CHECK_EQ_INT(acl("set ann@example.test Team help@example.test lr"), 1);
	CHECK(strstr(said(), "alias is refused") != NULL);
	CHECK_EQ_INT(acl("set ann@example.test Team zed@example.test lr"), 1);
	CHECK(strstr(said(), "not an account") != NULL);
	CHECK_EQ_INT(acl("set ann@example.test Nothing bob@example.test lr"), 1);
	CHECK(strstr(said(), "has no mailbox Nothing") != NULL);
	CHECK_EQ_INT(acl("set ann@example.test Team ann@example.test l"), 1);
	CHECK(strstr(said(), "always holds every right") != NULL);
	CHECK_EQ_INT(acl("set ann@example.test Team bob@example.test lrz"), 2);
	CHECK(strstr(said(), "rights are letters") != NULL);
	CHECK_EQ_INT(acl("list ann@example.test Nothing"), 1);
	CHECK_EQ_INT(acl("set ann@example.test Team"), 2);
	CHECK_EQ_INT(acl("list ann@example.test"), 0);
	CHECK_EQ_STR(said(), "INBOX\tann@example.test\tlrswipkxteacd\nINBOX\tanyone\tl\n"
			     "Team\tann@example.test\tlrswipkxteacd\nTeam\tbob@example.test\tlrswixted\n");

	CHECK_EQ_INT(acl("del ann@example.test Team bob@example.test"), 0);
	CHECK_EQ_STR(said(), "ann@example.test Team: bob@example.test removed\n");
	CHECK_EQ_INT(acl("del ann@example.test INBOX anyone"), 0);
	CHECK_EQ_INT(acl("list ann@example.test"), 0);
	CHECK_EQ_STR(said(), "");

	buf_free(&out);
	unit_rmrf(base);
	return unit_done("test_cli_acl");
}
