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
 */
#include "imap/imap_session.h"

#define QUOTA_ROOT "User quota"

/* Writes "* QUOTA ..." for the account; 0, or -1 when it has no limit. */
static int write_quota(struct imap_session *s, uint64_t quota, uint64_t used)
{
	if (!quota)
		return -1;
	imap_reply(s, "* QUOTA \"%s\" (STORAGE %llu %llu)", QUOTA_ROOT,
		   (unsigned long long)((used + 1023) / 1024), (unsigned long long)((quota + 1023) / 1024));
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
		uint32_t mailbox;
		struct buf b;
		if (imap_mailbox_arg(s, &cmd->args[0], name, sizeof(name)) < 0)
			return;
		int r = store_mailbox_find(imap_store, s->account, name, &mailbox);
		if (r == STORE_ENOTFOUND) {
			imap_tagged(s, "NO [NONEXISTENT] Mailbox doesn't exist: %s", name);
			return;
		}
		if (r != STORE_OK ||
		    store_account_usage(imap_store, s->account, &quota, &used) != STORE_OK) {
			imap_tagged(s, "NO [UNAVAILABLE] Internal error reading the quota.");
			return;
		}
		buf_init(&b, 4096);
		buf_append_c(&b, "* QUOTAROOT ");
		imap_append_mailbox(&b, name);
		if (quota)
			buf_append_c(&b, " \"" QUOTA_ROOT "\"");
		buf_append_c(&b, "\r\n");
		imap_write_big(s, buf_data(&b), buf_len(&b));
		buf_free(&b);
		write_quota(s, quota, used);
		imap_tagged(s, "OK Getquotaroot completed.");
		return;
	}
	if (store_account_usage(imap_store, s->account, &quota, &used) != STORE_OK) {
		imap_tagged(s, "NO [UNAVAILABLE] Internal error reading the quota.");
		return;
	}
	if (!str_eq_ci_c(root, QUOTA_ROOT) || write_quota(s, quota, used) < 0) {
		imap_tagged(s, "NO [NONEXISTENT] Quota root does not exist.");
		return;
	}
	imap_tagged(s, "OK Getquota completed.");
}
