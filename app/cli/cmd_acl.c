/*
 * cmd_acl.c — tern acl list|set|del: the administrator's view of the
 * mailboxes accounts share with each other (RFC 4314 grants, kept by
 * store_acl.c).
 *
 *   tern acl list OWNER [MAILBOX]               one line per grant:
 *                                               MAILBOX<TAB>IDENTIFIER<TAB>RIGHTS,
 *                                               each mailbox's led by its owner
 *                                               with every right (as GETACL)
 *   tern acl set OWNER MAILBOX IDENTIFIER RIGHTS  as SETACL: RIGHTS replace the
 *                                               grant, +RIGHTS add, -RIGHTS take away
 *   tern acl del OWNER MAILBOX IDENTIFIER         removes the grant (DELETEACL)
 *
 * The same store calls as the IMAP commands (store_acl_change_parse,
 * store_acl_identifier, store_acl_modify), so a grant set here is the
 * one a client's GETACL shows. IDENTIFIER is an account's address or
 * "anyone" (every account of this server). An alias is refused: a grant
 * names one account, and an alias may lead to several or change target
 * later. RIGHTS are RFC 4314 letters (lrswipkxtea; "c" and "d" as
 * §2.1.1 reads them); the owner's rights are all of them and cannot be
 * changed.
 *
 * Behind the one switch of shared mailboxes (imap/imap_acl.h): while it
 * is off the command says so and changes nothing.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "imap/imap_acl.h"
#include "store/store.h"

struct list_ctx {
	struct store *st;
	char name[1024]; /* the mailbox's name, for the lines */
};

static void mailbox_name(void *arg, const struct store_mailbox_info *m)
{
	struct list_ctx *c = arg;
	snprintf(c->name, sizeof c->name, "%s", m->name);
}

static void print_grant(void *arg, uint32_t owner, uint32_t mailbox, uint32_t grantee,
			uint32_t rights)
{
	struct list_ctx *c = arg;
	char who[STORE_ADDR_MAX + 1], r[16];

	if (store_mailbox_get(c->st, owner, mailbox, mailbox_name, c) != STORE_OK)
		snprintf(c->name, sizeof c->name, "#%u", mailbox); /* deleted meanwhile */
	if (grantee == STORE_ACL_ANYONE)
		snprintf(who, sizeof who, "anyone");
	else if (store_account_email(c->st, grantee, who, sizeof who) != STORE_OK)
		snprintf(who, sizeof who, "#%u", grantee); /* removed meanwhile */
	store_acl_rights_format(rights, r, sizeof r);
	printf("%s\t%s\t%s\n", c->name, who, r);
}

/* The grants on one mailbox of owner, or on all of them (mailbox NULL). */
static int acl_list(struct store *st, uint32_t owner, const char *mailbox)
{
	struct list_ctx c = {.st = st};
	uint32_t id = 0;
	int rc;

	if (mailbox && (rc = store_mailbox_find(st, owner, mailbox, &id)) != STORE_OK)
		return rc;
	return store_acl_entries(st, owner, id, print_grant, &c);
}

static int usage(void)
{
	return cli_usage("acl");
}

/* An account's id by its address; "anyone" is STORE_ACL_ANYONE when
 * anyone_ok. Prints why not and returns -1. */
static int account_of(struct store *st, const char *addr, int anyone_ok, uint32_t *id_r)
{
	int rc = anyone_ok ? store_acl_identifier(st, addr, id_r) : store_account_id(st, addr, id_r);
	if (rc == STORE_OK)
		return 0;
	if (rc == STORE_ENOTFOUND)
		fprintf(stderr, "tern: %s is not an account (an alias is refused: give the address of "
				"the account)\n", addr);
	else
		fprintf(stderr, "tern: cannot read the store\n");
	return -1;
}

int cli_acl_run(const struct config *cfg, int argc, char **argv)
{
	struct store *st;
	uint32_t owner, grantee, mailbox, rights = 0, now = 0;
	int mode = STORE_ACL_REPLACE; /* del: no rights at all */
	int list = argc >= 2 && argc <= 3 && strcmp(argv[0], "list") == 0;
	int set = argc == 5 && strcmp(argv[0], "set") == 0;
	int del = argc == 4 && strcmp(argv[0], "del") == 0;
	int rc = 1, r;

	if (!list && !set && !del)
		return usage();
	if (set && store_acl_change_parse(argv[4], strlen(argv[4]), &mode, &rights) != STORE_OK) {
		fprintf(stderr, "tern: %s: rights are letters of lrswipkxtea (and c, d), "
				"with + to add or - to take away\n", argv[4]);
		return 2;
	}
	if (!(st = cli_store_open(cfg, list ? CLI_STORE_READ : CLI_STORE_CHANGE)))
		return 1;
	if (account_of(st, argv[1], 0, &owner) != 0)
		goto out;
	if (list) {
		r = acl_list(st, owner, argc == 3 ? argv[2] : NULL);
		if (r == STORE_ENOTFOUND)
			fprintf(stderr, "tern: %s has no mailbox %s\n", argv[1], argv[2]);
		else if (r != STORE_OK)
			fprintf(stderr, "tern: cannot read the store\n");
		rc = r == STORE_OK ? 0 : 1;
		goto out;
	}
	if (account_of(st, argv[3], 1, &grantee) != 0)
		goto out;
	if (grantee == owner) {
		fprintf(stderr, "tern: %s owns %s and always holds every right\n", argv[3], argv[2]);
		goto out;
	}
	if ((r = store_mailbox_find(st, owner, argv[2], &mailbox)) != STORE_OK) {
		fprintf(stderr, r == STORE_ENOTFOUND ? "tern: %s has no mailbox %s\n"
						     : "tern: cannot read the store (%s, %s)\n",
			argv[1], argv[2]);
		goto out;
	}
	r = store_acl_modify_by(st, 0, owner, mailbox, grantee, mode, rights, &now);
	if (r == STORE_OK) {
		char letters[16];
		store_acl_rights_format(now, letters, sizeof letters);
		if (set)
			printf("%s %s: %s may %s\n", argv[1], argv[2], argv[3], letters[0] ? letters : "(nothing)");
		else
			printf("%s %s: %s removed\n", argv[1], argv[2], argv[3]);
		rc = 0;
	} else if (r == STORE_ENOTFOUND) {
		fprintf(stderr, "tern: %s or %s is gone\n", argv[2], argv[3]);
	} else {
		fprintf(stderr, "tern: cannot write the store\n");
	}
out:
	store_close(&st);
	return rc;
}

int cli_acl(const struct config *cfg, int argc, char **argv)
{
	if (!IMAP_ACL_ENABLED) {
		fprintf(stderr, "tern: shared mailboxes are not available yet in this build\n");
		return 2;
	}
	return cli_acl_run(cfg, argc, argv);
}
