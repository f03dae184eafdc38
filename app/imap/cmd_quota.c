/*
 * cmd_quota.c — GETQUOTA, GETQUOTAROOT and SETQUOTA (RFC 9208, with the
 * STORAGE resource: QUOTA=RES-STORAGE).
 *
 * An account has one quota, on the bytes of its emails (the account
 * record's quota and used, SCHEMA.md), so there is one quota root for
 * every mailbox, named "User quota" as Dovecot names it. STORAGE is in
 * units of 1024 octets (RFC 9208 §5.1), usage and limit both rounded up
 * as Dovecot rounds them: the limit is enforced in octets, so rounding
 * it down would show a usage APPEND allowed above the limit (10000
 * octets: usage 10 of 9) and a limit under 1024 octets as 0. An
 * account without a limit has no quota root: GETQUOTAROOT lists none
 * (RFC 9208 §4.3.2) and GETQUOTA of the name says it does not exist. Limits are set by the
 * administrator (`tern account add --quota`), so SETQUOTA is refused.
 *
 * A mailbox shared with the user (imap_acl.h) counts against its owner's
 * quota: its root is named after the owner's level of the namespace,
 * "Shared/OWNER", and GETQUOTA of that root answers the owner's usage to
 * a user the owner shares a mailbox with that it may look up ("l"; to
 * no one else: as for a root that does not exist).
 */
#include <stdio.h>
#include <string.h>

#include "imap/imap_acl.h"
#include "imap/imap_session.h"

#define QUOTA_ROOT "User quota"

/* Writes "* QUOTA ..." for the account; 0, or -1 when it has no limit. */
static int write_quota(struct imap_session *s, const char *root, uint64_t quota, uint64_t used)
{
	if (!quota)
		return -1;
	imap_reply(s, "* QUOTA \"%s\" (STORAGE %llu %llu)", root,
		   (unsigned long long)((used + 1023) / 1024), (unsigned long long)((quota + 1023) / 1024));
	return 0;
}

struct shares {
	uint32_t owner;
	int found;
};

static void shares_cb(void *arg, uint32_t owner, uint32_t mailbox, uint32_t grantee,
		      uint32_t rights)
{
	struct shares *sh = arg;
	(void)mailbox;
	(void)grantee;
	/* A mailbox without "l" is not there for the user (RFC 4314 §6). */
	sh->found |= owner == sh->owner && imap_acl_allows(rights, IMAP_ACL_OP_LOOKUP);
}

/* The owner of a shared quota root "Shared/OWNER" the user may read
 * (the owner shares a mailbox with it that it may look up): 0 and
 * *owner_r, else -1. */
static int shared_root_owner(struct imap_session *s, struct str root, uint32_t *owner_r)
{
	size_t pl = sizeof IMAP_ACL_PREFIX - 1;
	char addr[STORE_ADDR_MAX + 1];

	if (!IMAP_ACL_ENABLED || root.len <= pl || root.len - pl >= sizeof addr ||
	    memcmp(root.p, IMAP_ACL_PREFIX, pl) != 0)
		return -1;
	memcpy(addr, root.p + pl, root.len - pl);
	addr[root.len - pl] = '\0';
	struct shares sh = { 0, 0 };
	if (memchr(addr, '\0', root.len - pl) || store_account_id(imap_store, addr, &sh.owner) != STORE_OK ||
	    sh.owner == s->account ||
	    store_acl_shared_with(imap_store, s->account, shares_cb, &sh) != STORE_OK || !sh.found)
		return -1;
	*owner_r = sh.owner;
	return 0;
}

void imap_cmd_quota(struct imap_session *s, const struct imap_cmd *cmd)
{
	uint64_t quota = 0, used = 0;
	struct str root;
	char name[1024];

	if (cmd->id == IMAP_CMD_SETQUOTA) {
		if (cmd->nargs != 2 || cmd->args[1].type != IMAP_ARG_LIST) {
			imap_tagged(s, "BAD Error in IMAP command SETQUOTA: Invalid arguments.");
			imap_session_error(s);
			return;
		}
		imap_tagged(s, "NO [NOPERM] Quota limits are set by the administrator.");
		return;
	}
	if (cmd->nargs != 1 || imap_arg_astring(&cmd->args[0], &root) < 0) {
		imap_tagged(s, "BAD Error in IMAP command %s: Invalid arguments.",
			    imap_cmd_name(cmd->id));
		imap_session_error(s);
		return;
	}
	if (cmd->id == IMAP_CMD_GETQUOTAROOT) {
		struct imap_acl_target t;
		struct buf b;
		char shared_root[sizeof IMAP_ACL_PREFIX + STORE_ADDR_MAX];
		/* RFC 9208 §4.3.2 asks no right; RFC 4314 §6: the mailbox
		 * must be one the user may look up. */
		if (imap_acl_target(s, &cmd->args[0], IMAP_ACL_OP_LOOKUP, name, sizeof(name), &t) < 0)
			return;
		const char *qroot = QUOTA_ROOT;
		if (t.owner != s->account) {
			char addr[STORE_ADDR_MAX + 1];
			if (store_account_email(imap_store, t.owner, addr, sizeof addr) != STORE_OK) {
				imap_tagged(s, "NO [UNAVAILABLE] Internal error reading the quota.");
				return;
			}
			snprintf(shared_root, sizeof shared_root, IMAP_ACL_PREFIX "%s", addr);
			qroot = shared_root;
		}
		if (store_account_usage(imap_store, t.owner, &quota, &used) != STORE_OK) {
			imap_tagged(s, "NO [UNAVAILABLE] Internal error reading the quota.");
			return;
		}
		buf_init(&b, 4096);
		buf_append_c(&b, "* QUOTAROOT ");
		imap_append_mailbox(&b, name);
		if (quota) {
			buf_append_c(&b, " ");
			imap_append_string(&b, str_c(qroot));
		}
		buf_append_c(&b, "\r\n");
		imap_write_big(s, buf_data(&b), buf_len(&b));
		buf_free(&b);
		write_quota(s, qroot, quota, used);
		imap_tagged(s, "OK Getquotaroot completed.");
		return;
	}
	/* GETQUOTA: the user's root, or an owner's it shares in. */
	uint32_t owner = s->account;
	char rootname[sizeof IMAP_ACL_PREFIX + STORE_ADDR_MAX];
	snprintf(rootname, sizeof rootname, "%s", QUOTA_ROOT);
	if (!str_eq_ci_c(root, QUOTA_ROOT)) {
		if (shared_root_owner(s, root, &owner) < 0) {
			imap_tagged(s, "NO [NONEXISTENT] Quota root does not exist.");
			return;
		}
		snprintf(rootname, sizeof rootname, "%.*s", (int)root.len, root.p);
	}
	if (store_account_usage(imap_store, owner, &quota, &used) != STORE_OK) {
		imap_tagged(s, "NO [UNAVAILABLE] Internal error reading the quota.");
		return;
	}
	if (write_quota(s, rootname, quota, used) < 0) {
		imap_tagged(s, "NO [NONEXISTENT] Quota root does not exist.");
		return;
	}
	imap_tagged(s, "OK Getquota completed.");
}
