/*
 * cmd_idle.c — IDLE (RFC 2177, RFC 9051 §6.3.13).
 *
 * After "+ idling" the session waits for the line "DONE" (read raw by
 * imap_parser_line()); meanwhile every change of the account published on
 * the change feed (store_subscribe, set up at login) syncs the selected
 * mailbox and sends "* n EXISTS" / "* n EXPUNGE" at once — a delivery
 * over SMTP shows up as soon as its commit is published. Changes that
 * happened before IDLE began are sent right after "+ idling". While the
 * client leaves earlier output unread, a change waits until it reads
 * (feed_changed, imap_session.c): then one sync tells them all. In a
 * mailbox shared with the user the owner's changes wake the session
 * too, and the rights are read again first (imap_select_rights_check):
 * a reader whose "r" went gets BYE, not the news.
 */
#include "imap/imap_session.h"

void imap_cmd_idle(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs) {
		imap_tagged(s, "BAD IDLE takes no arguments.");
		imap_session_error(s);
		return;
	}
	imap_reply(s, "+ idling");
	s->wait = IMAP_W_IDLE;
	imap_session_sync(s);
}

void imap_idle_notify(struct imap_session *s)
{
	imap_session_sync(s);
	imap_flush(s);
}

void imap_idle_line(struct imap_session *s, struct str line)
{
	s->wait = IMAP_W_NONE;
	/* Changes held back while the client left our output unread
	 * (feed_changed, imap_session.c) are told before the IDLE ends. */
	if (s->feed_pending)
		imap_session_sync(s);
	if (str_eq_ci_c(line, "DONE")) {
		imap_tagged(s, "OK Idle completed.");
	} else {
		imap_tagged(s, "BAD Expected DONE.");
		imap_session_error(s);
	}
	imap_cmd_end(s);
}
