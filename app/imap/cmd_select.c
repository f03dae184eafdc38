/*
 * cmd_select.c — SELECT and EXAMINE (RFC 3501 §6.3.1-2).
 *
 * Both load the mailbox snapshot (imap_mailbox_view.h) and answer with
 * FLAGS, EXISTS, RECENT, UIDVALIDITY, UIDNEXT and PERMANENTFLAGS.
 * SELECT opens the mailbox read-write (PERMANENTFLAGS with the system
 * flags and \* for keywords, [READ-WRITE]); EXAMINE read-only
 * (PERMANENTFLAGS (), [READ-ONLY]): no STORE, EXPUNGE or implicit \Seen.
 * Selecting while a mailbox is selected deselects it first, and a failed
 * SELECT leaves the session in the authenticated state (RFC 3501).
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "imap/imap_session.h"

void imap_cmd_select(struct imap_session *s, const struct imap_cmd *cmd)
{
	char name[256];
	uint32_t mailbox;

	if (cmd->nargs != 1) {
		/* (CONDSTORE) and QRESYNC parameters are not supported yet. */
		imap_tagged(s, "BAD Error in IMAP command %s: Invalid arguments.",
			    imap_cmd_name(cmd->id));
		imap_session_error(s);
		return;
	}
	imap_session_unselect(s);
	if (imap_mailbox_arg(s, &cmd->args[0], name, sizeof(name)) < 0)
		return;
	int r = store_mailbox_find(imap_store, s->account, name, &mailbox);
	if (r == STORE_OK)
		r = imap_view_load(&s->view, imap_store, s->account, mailbox);
	if (r == STORE_ENOTFOUND) {
		imap_tagged(s, "NO [NONEXISTENT] Mailbox doesn't exist: %s", name);
		return;
	}
	if (r != STORE_OK) {
		log_warn("imap", s->id, "event=select_failed mailbox=%u error=%d", mailbox, r);
		imap_tagged(s, "NO [SERVERBUG] Internal error opening the mailbox.");
		return;
	}
	s->state = IMAP_S_SELECTED;
	snprintf(s->mailbox_name, sizeof(s->mailbox_name), "%s", name);
	imap_reply(s, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
	s->view.readonly = cmd->id == IMAP_CMD_EXAMINE;
	if (s->view.readonly)
		imap_reply(s, "* OK [PERMANENTFLAGS ()] Read-only mailbox.");
	else
		imap_reply(s, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
			      "\\Draft \\*)] Flags permitted.");
	imap_reply(s, "* %u EXISTS", s->view.count);
	imap_reply(s, "* 0 RECENT");
	for (uint32_t i = 0; i < s->view.count; i++)
		if (!(s->view.msgs[i].flags & IMAP_F_SEEN)) {
			imap_reply(s, "* OK [UNSEEN %u] First unseen.", i + 1);
			break;
		}
	imap_reply(s, "* OK [UIDVALIDITY %u] UIDs valid", s->view.uidvalidity);
	imap_reply(s, "* OK [UIDNEXT %u] Predicted next UID", s->view.uidnext);
	imap_tagged(s, "OK [%s] %s completed.", s->view.readonly ? "READ-ONLY" : "READ-WRITE",
		    cmd->id == IMAP_CMD_EXAMINE ? "Examine" : "Select");
}
