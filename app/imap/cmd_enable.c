/*
 * cmd_enable.c — ENABLE (RFC 5161).
 *
 * This slice has no extension that ENABLE can turn on (IMAP4rev2 and
 * UTF8=ACCEPT come with the rest of RFC 9051), so every name is accepted
 * and ignored, as RFC 5161 §3.1 asks for names the server does not know,
 * and the ENABLED response lists none.
 */
#include "imap/imap_session.h"

void imap_cmd_enable(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct str name;

	if (cmd->nargs == 0) {
		imap_tagged(s, "BAD Error in IMAP command ENABLE: Missing capabilities.");
		imap_session_error(s);
		return;
	}
	for (size_t i = 0; i < cmd->nargs; i++) {
		if (imap_arg_atom(&cmd->args[i], &name) < 0) {
			imap_tagged(s, "BAD Error in IMAP command ENABLE: Invalid arguments.");
			imap_session_error(s);
			return;
		}
	}
	imap_reply(s, "* ENABLED");
	imap_tagged(s, "OK Enabled.");
}
