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
 *
 * CREATE, DELETE and RENAME of a name in the other users' namespace
 * ("Shared/OWNER/M", imap_acl.h) act on OWNER's mailbox with the user's
 * rights (RFC 4314 §4: "k" on the parent to create, "x" to delete, both
 * to rename; store_mailbox_create_as says which parent and what the new
 * mailbox inherits); a RENAME stays within one owner.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "imap/imap_acl.h"
#include "imap/imap_session.h"

/* A SUBSCRIBE of another account's mailbox ("Shared/OWNER/NAME") takes
 * the user's JMAP ShareNotifications about it (RFC 9670 §5, a SHOULD:
 * the subscription stands whatever this finds), as JMAP's isSubscribed
 * does (jmap_share_subscribe). */
static void drop_share_notes(uint32_t account, const char *name)
{
	const char *rest = imap_acl_owner_name(name);
	uint32_t owner, mailbox;

	if (rest && imap_acl_shared_owner(imap_store, account, name, &owner) == STORE_OK &&
	    store_mailbox_find(imap_store, owner, rest, &mailbox) == STORE_OK)
		store_sharenote_drop_about(imap_store, account, owner, mailbox);
}

static void mailbox_run(struct imap_job *j)
{
	/* A shared name (j->actor set): the owner's name of it, the user's
	 * rights checked in the write. */
	uint32_t actor = j->actor ? j->actor : j->account;
	const char *name = j->actor ? imap_acl_owner_name(j->name) : j->name;

	switch (j->op) {
	case IMAP_CMD_CREATE:
		/* name2: the special-use role asked with CREATE ... (USE (...)) */
		j->result = j->name2[0] ? store_mailbox_create_role(imap_store, j->account, j->name,
								     j->name2, &j->mailbox)
					: store_mailbox_create_as(imap_store, actor, j->account, name,
								  &j->mailbox);
		break;
	case IMAP_CMD_DELETE:
		j->result = store_mailbox_delete_as(imap_store, actor, j->account, name);
		break;
	case IMAP_CMD_RENAME:
		j->result = store_mailbox_rename_as(imap_store, actor, j->account, name,
						    j->actor ? imap_acl_owner_name(j->name2) : j->name2);
		break;
	default:
		j->result = store_mailbox_subscribe(imap_store, j->account, j->name,
						    j->op == IMAP_CMD_SUBSCRIBE);
		if (j->result == STORE_OK && j->op == IMAP_CMD_SUBSCRIBE)
			drop_share_notes(j->account, j->name);
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
		if (j->actor && j->op == IMAP_CMD_RENAME &&
		    strcasecmp(imap_acl_owner_name(j->name), "INBOX") == 0)
			/* Its messages would go to a new mailbox: the owner's
			 * to do (store_mailbox_rename_as). */
			imap_tagged(s, "NO [CANNOT] Another user's INBOX can't be renamed.");
		else if (j->op == IMAP_CMD_DELETE)
			/* RFC 5530 CANNOT: it can never succeed (Dovecot
			 * gives no code, and a client cannot tell it from
			 * a failure worth retrying). */
			imap_tagged(s, "NO [CANNOT] INBOX can't be deleted.");
		else
			imap_tagged(s, "NO [CANNOT] Invalid mailbox name");
		return;
	case STORE_EACCES:
		/* RFC 4314 §4: a shared mailbox the user may see, a right it lacks. */
		imap_tagged(s, "NO [NOPERM] Permission denied.");
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

/*
 * CREATE, DELETE or RENAME with a name in the other users' namespace
 * (imap_acl.h): j is made to act on the owner's mailbox for the user
 * (j->account the owner, j->actor the user), whose rights the store
 * checks in the write (store_mailbox_create_as: "k" on the parent, "x"
 * on the mailbox, RFC 4314 §4). 0, or -1 after the reply: CANNOT for a
 * level of the namespace itself and for a RENAME between two accounts,
 * NONEXISTENT for a mailbox of no account, NOPERM for a CREATE there (as
 * for an account that grants nothing: no account is told apart).
 */
static int shared_owner(struct imap_session *s, int op, struct imap_job *j, int role)
{
	uint32_t owner = 0, to = 0;
	int rename = op == IMAP_CMD_RENAME;

	if (rename && imap_acl_name_shared(j->name) != imap_acl_name_shared(j->name2)) {
		imap_tagged(s, "NO [CANNOT] Mailboxes can't be renamed between accounts.");
		return -1;
	}
	int rc = imap_acl_shared_owner(imap_store, s->account, j->name, &owner);
	if (rc == STORE_OK && rename) {
		int rc2 = imap_acl_shared_owner(imap_store, s->account, j->name2, &to);
		if (rc2 == STORE_EINVAL) {
			rc = rc2;
		} else if (rc2 != STORE_OK || to != owner) {
			imap_tagged(s, "NO [CANNOT] Mailboxes can't be renamed between accounts.");
			return -1;
		}
	}
	if (rc == STORE_EINVAL)
		imap_tagged(s, "NO [CANNOT] The shared namespace's own levels are not mailboxes.");
	else if (rc == STORE_ENOTFOUND && op == IMAP_CMD_CREATE)
		imap_tagged(s, "NO [NOPERM] Permission denied.");
	else if (rc == STORE_ENOTFOUND)
		imap_tagged(s, "NO [NONEXISTENT] Mailbox doesn't exist: %s", j->name);
	else if (rc != STORE_OK)
		imap_tagged(s, "NO [SERVERBUG] Internal error.");
	else if (role)
		imap_tagged(s, "NO [CANNOT] Special-use attributes are the owner's to give.");
	if (rc != STORE_OK || role)
		return -1;
	j->account = owner;
	j->actor = s->account;
	return 0;
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
	if (cmd->id == IMAP_CMD_CREATE) {
		/* One "/": "a//" ends in an empty level, as "a//b" has one
		 * inside, and is refused as that is (it was made "a"). */
		size_t n = strlen(j->name);
		if (n > 1 && j->name[n - 1] == '/')
			j->name[--n] = '\0';
	}
	/* SUBSCRIBE takes any name; the others in the other users'
	 * namespace act on the owner's mailbox. */
	if (cmd->id != IMAP_CMD_SUBSCRIBE && cmd->id != IMAP_CMD_UNSUBSCRIBE &&
	    (imap_acl_name_shared(j->name) || (want == 2 && imap_acl_name_shared(j->name2))) &&
	    shared_owner(s, cmd->id, j, role != NULL) < 0) {
		free(j);
		return;
	}
	j->op = cmd->id;
	j->run = mailbox_run;
	j->done = mailbox_done;
	imap_job_submit(s, j);
}
