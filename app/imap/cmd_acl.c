/*
 * cmd_acl.c — SETACL, DELETEACL, GETACL, LISTRIGHTS, MYRIGHTS (RFC 4314
 * §3), and imap_acl_target(): a mailbox argument resolved and checked
 * against the right its command needs, the one way commands reach a
 * mailbox that may be another account's.
 *
 * Identifiers are account addresses (any case) and "anyone" (every
 * account of this server; there is no anonymous login). An alias is
 * refused: a grant names one account, and an alias may lead to several
 * or be pointed elsewhere later. Negative rights ("-bob") are refused
 * with NO [CANNOT], as the store keeps none. The owner holds every right
 * and can be given or denied none (NO [CANNOT]); GETACL and LISTRIGHTS
 * show it with all of them. A right letter this server does not know is
 * BAD (RFC 4314 §3.1); "c" and "d" are read as §2.1.1 says (store.h).
 *
 * SETACL, DELETEACL, GETACL and LISTRIGHTS need "a" on the mailbox,
 * MYRIGHTS any right; without "l" the mailbox is answered as one that
 * does not exist (RFC 4314 §6). The writes run on the worker pool.
 *
 * All of it sits behind IMAP_ACL_ENABLED (imap_acl.h): off, the commands
 * are unknown, as before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_acl.h"
#include "imap/imap_session.h"

static void bad(struct imap_session *s, const struct imap_cmd *cmd, const char *why)
{
	imap_tagged(s, "BAD Error in IMAP command %s: %s", imap_cmd_name(cmd->id), why);
	imap_session_error(s);
}

int imap_acl_target(struct imap_session *s, const struct imap_arg *arg, enum imap_acl_op op,
		    char *name, size_t namesz, struct imap_acl_target *t)
{
	if (imap_mailbox_arg(s, arg, name, namesz) < 0)
		return -1;
	int r = imap_acl_resolve(imap_store, s->account, name, t);
	if (r == STORE_OK && imap_acl_allows(t->rights, op))
		return 0;
	if (r == STORE_ENOTFOUND || (r == STORE_OK && !(t->rights & STORE_ACL_L)))
		imap_tagged(s, "NO [NONEXISTENT] Mailbox doesn't exist: %s", name);
	else if (r == STORE_OK)
		imap_tagged(s, "NO [NOPERM] Permission denied.");
	else
		imap_tagged(s, "NO [SERVERBUG] Internal error.");
	return -1;
}

/* The identifier argument: an account's id, or STORE_ACL_ANYONE; -1
 * after a reply. */
static int identifier(struct imap_session *s, const struct imap_cmd *cmd, const struct imap_arg *arg,
		      uint32_t *id_r)
{
	struct str v;
	char addr[STORE_ADDR_MAX + 1];

	if (imap_arg_astring(arg, &v) < 0 || v.len == 0) {
		bad(s, cmd, "Invalid arguments.");
		return -1;
	}
	if (v.p[0] == '-') {
		imap_tagged(s, "NO [CANNOT] Negative rights are not supported.");
		return -1;
	}
	if (v.len >= sizeof addr || memchr(v.p, '\0', v.len)) {
		imap_tagged(s, "NO [NONEXISTENT] No such account.");
		return -1;
	}
	memcpy(addr, v.p, v.len);
	addr[v.len] = '\0';
	int r = store_acl_identifier(imap_store, addr, id_r); /* "anyone" or an account */
	if (r == STORE_ENOTFOUND)
		imap_tagged(s, "NO [NONEXISTENT] No such account (give an account's address, "
			       "not an alias).");
	else if (r != STORE_OK)
		imap_tagged(s, "NO [SERVERBUG] Internal error.");
	return r == STORE_OK ? 0 : -1;
}

/* ---- SETACL, DELETEACL ---- */

static void set_run(struct imap_job *j)
{
	/* The session's user made the change, the owner or a delegate with
	 * "a": the grantee's share notification names it (RFC 9670 §5,
	 * changedBy), as JMAP's shareWith does. */
	j->result = store_acl_modify_by(imap_store, j->actor, j->account, j->mailbox, j->target,
					j->op, j->rights, NULL);
}

static void set_done(struct imap_session *s, struct imap_job *j)
{
	if (j->result == STORE_OK)
		imap_tagged(s, "OK %s completed.", j->name2);
	else if (j->result == STORE_ENOTFOUND)
		imap_tagged(s, "NO [NONEXISTENT] Mailbox doesn't exist: %s", j->name);
	else if (j->result == STORE_EFULL)
		imap_disk_full(s);
	else
		imap_tagged(s, "NO [SERVERBUG] Internal error changing the ACL.");
}

static void cmd_setacl(struct imap_session *s, const struct imap_cmd *cmd, int del)
{
	struct imap_acl_target t;
	char name[1024];
	uint32_t grantee, rights = 0;
	int mode = STORE_ACL_REPLACE; /* DELETEACL: no rights at all */
	struct str r;

	if (cmd->nargs != (del ? 2u : 3u) || (!del && imap_arg_astring(&cmd->args[2], &r) < 0)) {
		bad(s, cmd, "Invalid arguments.");
		return;
	}
	if (!del) {
		/* RFC 4314 §3.1: "+" adds, "-" takes away, else replaces. */
		if (store_acl_change_parse(r.p, r.len, &mode, &rights) != STORE_OK) {
			bad(s, cmd, "Unknown right."); /* RFC 4314 §3.1 */
			return;
		}
	}
	if (imap_acl_target(s, &cmd->args[0], IMAP_ACL_OP_ADMIN, name, sizeof name, &t) < 0 ||
	    identifier(s, cmd, &cmd->args[1], &grantee) < 0)
		return;
	if (grantee == t.owner) {
		imap_tagged(s, "NO [CANNOT] The owner always holds every right.");
		return;
	}
	struct imap_job *j = imap_job_new(s);
	j->account = t.owner;
	j->actor = s->account;
	j->mailbox = t.mailbox;
	j->target = grantee;
	j->op = mode;
	j->rights = rights;
	snprintf(j->name, sizeof j->name, "%s", name);
	snprintf(j->name2, sizeof j->name2, "%s", del ? "Deleteacl" : "Setacl");
	j->run = set_run;
	j->done = set_done;
	imap_job_submit(s, j);
}

/* ---- GETACL, LISTRIGHTS, MYRIGHTS ---- */

struct acl_out {
	struct buf b;
};

static void append_identifier(struct buf *b, uint32_t id)
{
	char addr[STORE_ADDR_MAX + 1];
	if (id == STORE_ACL_ANYONE)
		buf_append_c(b, "anyone");
	else if (store_account_email(imap_store, id, addr, sizeof addr) == STORE_OK)
		imap_append_string(b, str_c(addr));
	else
		buf_printf(b, "\"#%u\"", id); /* removed meanwhile */
}

static void append_rights(struct buf *b, uint32_t rights)
{
	char r[16];
	store_acl_rights_format(rights, r, sizeof r);
	imap_append_string(b, str_c(r));
}

static void getacl_each(void *arg, uint32_t owner, uint32_t mailbox, uint32_t grantee,
			uint32_t rights)
{
	struct acl_out *o = arg;
	(void)owner;
	(void)mailbox;
	buf_append_c(&o->b, " ");
	append_identifier(&o->b, grantee);
	buf_append_c(&o->b, " ");
	append_rights(&o->b, rights);
}

static void cmd_getacl(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct imap_acl_target t;
	struct acl_out o;
	char name[1024];

	if (cmd->nargs != 1) {
		bad(s, cmd, "Invalid arguments.");
		return;
	}
	if (imap_acl_target(s, &cmd->args[0], IMAP_ACL_OP_ADMIN, name, sizeof name, &t) < 0)
		return;
	buf_init(&o.b, 1u << 20);
	buf_append_c(&o.b, "* ACL ");
	imap_append_mailbox(&o.b, name);
	if (store_acl_entries(imap_store, t.owner, t.mailbox, getacl_each, &o) != STORE_OK) {
		buf_free(&o.b);
		imap_tagged(s, "NO [SERVERBUG] Internal error.");
		return;
	}
	buf_append_c(&o.b, "\r\n");
	imap_write_big(s, buf_data(&o.b), buf_len(&o.b));
	buf_free(&o.b);
	imap_tagged(s, "OK Getacl completed.");
}

static void cmd_listrights(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct imap_acl_target t;
	struct buf b;
	char name[1024];
	uint32_t who;

	if (cmd->nargs != 2) {
		bad(s, cmd, "Invalid arguments.");
		return;
	}
	if (imap_acl_target(s, &cmd->args[0], IMAP_ACL_OP_ADMIN, name, sizeof name, &t) < 0 ||
	    identifier(s, cmd, &cmd->args[1], &who) < 0)
		return;
	buf_init(&b, 8192);
	buf_append_c(&b, "* LISTRIGHTS ");
	imap_append_mailbox(&b, name);
	buf_append_c(&b, " ");
	append_identifier(&b, who);
	/* The owner's rights are all required; anyone else's are each
	 * free to give (RFC 4314 §3.4: required, then optional groups). */
	if (who == t.owner)
		buf_append_c(&b, " lrswipkxtea\r\n");
	else
		buf_append_c(&b, " \"\" l r s w i p k x t e a\r\n");
	imap_write_big(s, buf_data(&b), buf_len(&b));
	buf_free(&b);
	imap_tagged(s, "OK Listrights completed.");
}

static void cmd_myrights(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct imap_acl_target t;
	struct buf b;
	char name[1024];

	if (cmd->nargs != 1) {
		bad(s, cmd, "Invalid arguments.");
		return;
	}
	if (imap_acl_target(s, &cmd->args[0], IMAP_ACL_OP_MYRIGHTS, name, sizeof name, &t) < 0)
		return;
	buf_init(&b, 4096);
	buf_append_c(&b, "* MYRIGHTS ");
	imap_append_mailbox(&b, name);
	buf_append_c(&b, " ");
	append_rights(&b, t.rights);
	buf_append_c(&b, "\r\n");
	imap_write_big(s, buf_data(&b), buf_len(&b));
	buf_free(&b);
	imap_tagged(s, "OK Myrights completed.");
}

void imap_cmd_acl(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (!IMAP_ACL_ENABLED) {
		/* Not there yet: unknown, as before the parser knew them. */
		imap_tagged(s, "BAD Error in IMAP command received by server: Unknown command.");
		imap_session_error(s);
		return;
	}
	switch (cmd->id) {
	case IMAP_CMD_SETACL:
		cmd_setacl(s, cmd, 0);
		break;
	case IMAP_CMD_DELETEACL:
		cmd_setacl(s, cmd, 1);
		break;
	case IMAP_CMD_GETACL:
		cmd_getacl(s, cmd);
		break;
	case IMAP_CMD_LISTRIGHTS:
		cmd_listrights(s, cmd);
		break;
	default:
		cmd_myrights(s, cmd);
		break;
	}
}
