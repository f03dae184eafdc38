/*
 * cmd_replace.c — REPLACE and UID REPLACE (RFC 8508): a new message,
 * APPENDed into any mailbox, takes the place of one message of the
 * selected mailbox.
 *
 * Only the first argument is ours: one message, by sequence number or
 * UID, of the selected, writable mailbox. The rest is APPEND's
 * (imap_append_run(), cmd_append.c): its literal admission before "+",
 * flags, date, one message, and one store write that also expunges the
 * old message (store.h, replace_uid), so a crash leaves the old message
 * or the new one, never both or neither. That write refuses, with nothing
 * written, when another session expunged the old message meanwhile.
 *
 * Shared mailboxes (imap_acl.h): the selected mailbox may be another
 * account's (the old message is expunged there, which needs "t" and
 * "e"), and so may the target (APPEND's "i"); the one store write does
 * both, whichever accounts they are in.
 */
#include "imap/imap_acl.h"
#include "imap/imap_session.h"

void imap_cmd_replace(struct imap_session *s, const struct imap_cmd *cmd)
{
	int uid = cmd->id == IMAP_CMD_UID_REPLACE;
	uint32_t n;

	/* One number: RFC 8508 §5 takes seq-number / uniqueid, not a set. */
	if (cmd->nargs < 1 || imap_arg_number32(&cmd->args[0], &n) < 0 || n == 0) {
		imap_tagged(s, "BAD Error in IMAP command %s: Invalid message number.",
			    imap_cmd_name(cmd->id));
		imap_session_error(s);
		return;
	}
	/* A sequence number past the end is the client's error (RFC 9051
	 * §6.4.5 says so for the other commands); a UID may name a message
	 * gone meanwhile, which is a NO (the UID EXPUNGE half cannot run). */
	if (!uid && n > s->view.count) {
		imap_tagged(s, "BAD Error in IMAP command REPLACE: Invalid message number.");
		imap_session_error(s);
		return;
	}
	if (uid && imap_view_seq(&s->view, n) == 0) {
		imap_tagged(s, "NO [NONEXISTENT] No message with UID %u.", n);
		return;
	}
	if (s->view.readonly) {
		imap_tagged(s, IMAP_NO_READ_ONLY);
		return;
	}
	/* RFC 8508 §3.3: REPLACE is APPEND, STORE \Deleted and EXPUNGE, so
	 * on a mailbox shared with the user it needs "t" and "e" there
	 * (RFC 4314 §4) besides the "i" its APPEND half asks of the target. */
	if (!imap_acl_allows(~s->view.lacks, IMAP_ACL_OP_MOVE_FROM)) {
		imap_tagged(s, "NO [NOPERM] Permission denied.");
		return;
	}
	struct imap_replace rep = {
		.account = s->view.account,
		.mailbox = s->view.mailbox,
		.uidvalidity = s->view.uidvalidity,
		.uid = uid ? n : s->view.msgs[n - 1].uid,
	};
	imap_append_run(s, cmd, 1, &rep);
}
