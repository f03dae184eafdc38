/*
 * cmd_mailbox.c — CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE
 * (RFC 9051 §6.3.4-8), CREATE's MAILBOXID response code (RFC 8474
 * §4.1), and CREATE's USE (RFC 6154 CREATE-SPECIAL-USE:
 * one of \Sent \Drafts \Trash \Junk \Archive, which becomes the new
 * mailbox's role; \All, \Flagged and several at once get NO [USEATTR]).
 *
 * Names come in as astrings (modified UTF-7 decoded to UTF-8 by
 * imap_mailbox_arg()); the store checks and normalises them
 * (store_mailbox_create() and friends). A trailing "/" on CREATE only
 * says that children will follow (RFC 9051 §6.3.4) and is dropped. The
 * writes run on the worker pool; the answers use Dovecot's texts and
 * response codes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "imap/imap_acl.h"
#include "imap/imap_session.h"

static void mailbox_run(struct imap_job *j)
{
	switch (j->op) {
	case IMAP_CMD_CREATE:
		/* name2: the special-use role asked with CREATE ... (USE (...)) */
		j->result = j->name2[0] ? store_mailbox_create_role(imap_store, j->account, j->name,
								     j->name2, &j->mailbox)
					: store_mailbox_create(imap_store, j->account, j->name,
							       &j->mailbox);
		break;
	case IMAP_CMD_DELETE:
		j->result = store_mailbox_delete(imap_store, j->account, j->name);
		break;
	case IMAP_CMD_RENAME:
		j->result = store_mailbox_rename(imap_store, j->account, j->name, j->name2);
		break;
	default:
		j->result = store_mailbox_subscribe(imap_store, j->account, j->name,
						    j->op == IMAP_CMD_SUBSCRIBE);
		break;
	}
}

static void mailbox_done(struct imap_session *s, struct imap_job *j)
{
	static const char *const done_word[] = {
		[IMAP_CMD_CREATE] = "Create",       [IMAP_CMD_DELETE] = "Delete",
		[IMAP_CMD_RENAME] = "Rename",       [IMAP_CMD_SUBSCRIBE] = "Subscribe",
		[IMAP_CMD_UNSUBSCRIBE] = "Unsubscribe",
	};
	switch (j->result) {
	case STORE_OK:
		/* RFC 8474 §4.1: a CREATE's OK carries the new MAILBOXID. */
		if (j->op == IMAP_CMD_CREATE && j->mailbox)
			imap_tagged(s, "OK [MAILBOXID (" IMAP_MAILBOXID_FMT ")] Create completed.",
				    j->mailbox);
		else
			imap_tagged(s, "OK %s completed.", done_word[j->op]);
		return;
	case STORE_EEXIST:
		if (j->op == IMAP_CMD_DELETE)
			imap_tagged(s, "NO [%s] Mailbox has children, delete them first",
				    /* RFC 9051 §7.1; before it, RFC 5530 CANNOT (INUSE
				     * would say someone else holds the mailbox) */
				    s->rev2 ? "HASCHILDREN" : "CANNOT");
		else if (j->op == IMAP_CMD_RENAME)
			imap_tagged(s, "NO [ALREADYEXISTS] Target mailbox already exists");
		else
			imap_tagged(s, "NO [ALREADYEXISTS] Mailbox already exists");
		return;
	case STORE_ENOTFOUND:
		if (j->op == IMAP_CMD_UNSUBSCRIBE) {
			/* The name was not subscribed: RFC 9051 §6.3.8 answers
			 * OK to that. */
			imap_tagged(s, "OK Unsubscribe completed.");
			return;
		}
		imap_tagged(s, "NO [NONEXISTENT] Mailbox doesn't exist: %s", j->name);
		return;
	case STORE_ETOOBIG:
		imap_mailbox_too_long(s); /* RFC 5530 LIMIT */
		return;
	case STORE_ELIMIT:
		/* RFC 5530 LIMIT: an implementation limit, here per account. */
		imap_tagged(s, "NO [LIMIT] Too many mailboxes (at most %u).", imap_cfg->max_mailboxes);
		return;
	case STORE_EINVAL:
		if (j->op == IMAP_CMD_DELETE)
			/* RFC 5530 CANNOT: it can never succeed (Dovecot
			 * gives no code, and a client cannot tell it from
			 * a failure worth retrying). */
			imap_tagged(s, "NO [CANNOT] INBOX can't be deleted.");
		else
			imap_tagged(s, "NO [CANNOT] Invalid mailbox name");
		return;
	case STORE_EFULL:
		imap_disk_full(s);
		return;
	default:
		imap_tagged(s, "NO [SERVERBUG] Internal error changing the mailbox.");
		return;
	}
}

/* The role for CREATE's "(USE (attr))"; -1 after a tagged reply. One
 * attribute at most: a mailbox has one role in the store. */
static int create_use(struct imap_session *s, const struct imap_arg *arg, const char **role_r)
{
	const struct imap_arg *l, *u;
	size_t ln, un;

	if (imap_arg_list(arg, &l, &ln) < 0 || ln != 2 || !imap_arg_atom_is(&l[0], "USE") ||
	    imap_arg_list(&l[1], &u, &un) < 0) {
		imap_tagged(s, "BAD Error in IMAP command CREATE: Invalid arguments.");
		imap_session_error(s);
		return -1;
	}
	if (un == 0)
		return 0;
	if (un == 1 && (*role_r = imap_attr_role(&u[0])) != NULL)
		return 0;
	imap_tagged(s, "NO [USEATTR] Unsupported special-use attribute.");
	return -1;
}

void imap_cmd_mailbox(struct imap_session *s, const struct imap_cmd *cmd)
{
	size_t want = cmd->id == IMAP_CMD_RENAME ? 2 : 1;
	struct imap_job *j;
	const char *role = NULL;
	/* CREATE-SPECIAL-USE (RFC 6154 §3): CREATE name (USE (\Sent)). */
	size_t use = cmd->id == IMAP_CMD_CREATE && cmd->nargs == 2;

	if (use && create_use(s, &cmd->args[1], &role) < 0)
		return;
	if (cmd->nargs != want + use) {
		imap_tagged(s, "BAD Error in IMAP command %s: Invalid arguments.",
			    imap_cmd_name(cmd->id));
		imap_session_error(s);
		return;
	}
	j = imap_job_new(s);
	if (role)
		snprintf(j->name2, sizeof(j->name2), "%s", role);
	/* CREATE and SUBSCRIBE make the name, RENAME its second one: a
	 * name that cannot be is LIMIT or CANNOT to them, NONEXISTENT to
	 * the others (imap_mailbox_new_arg). */
	int makes = cmd->id == IMAP_CMD_CREATE || cmd->id == IMAP_CMD_SUBSCRIBE;
	if ((makes ? imap_mailbox_new_arg : imap_mailbox_arg)(s, &cmd->args[0], j->name,
							      sizeof(j->name)) < 0 ||
	    (want == 2 && imap_mailbox_new_arg(s, &cmd->args[1], j->name2, sizeof(j->name2)) < 0)) {
		free(j);
		return;
	}
	/* The other users' namespace (imap_acl.h) holds no mailbox of the
	 * user's, and CREATE, DELETE and RENAME of another account's
	 * mailboxes (RFC 4314 "k" and "x") are not done yet. SUBSCRIBE takes
	 * any name. */
	if (cmd->id != IMAP_CMD_SUBSCRIBE && cmd->id != IMAP_CMD_UNSUBSCRIBE &&
	    (imap_acl_name_shared(j->name) || (want == 2 && imap_acl_name_shared(j->name2)))) {
		free(j);
		imap_tagged(s, "NO [CANNOT] Mailboxes in the shared namespace can't be created, "
			       "deleted or renamed yet.");
		return;
	}
	if (cmd->id == IMAP_CMD_CREATE) {
		/* One "/": "a//" ends in an empty level, as "a//b" has one
		 * inside, and is refused as that is (it was made "a"). */
		size_t n = strlen(j->name);
		if (n > 1 && j->name[n - 1] == '/')
			j->name[--n] = '\0';
	}
	j->op = cmd->id;
	j->run = mailbox_run;
	j->done = mailbox_done;
	imap_job_submit(s, j);
}
