/*
 * cmd_enable.c — ENABLE (RFC 5161): CONDSTORE and QRESYNC (RFC 7162;
 * QRESYNC implies CONDSTORE). Other names are accepted and ignored, as
 * RFC 5161 §3.1 asks for names the server does not know; the ENABLED
 * response lists only what this command newly turned on. Any command that
 * turns CONDSTORE on while a mailbox is selected (ENABLE, FETCH CHANGEDSINCE,
 * SEARCH MODSEQ, STORE UNCHANGEDSINCE, STATUS HIGHESTMODSEQ) also sends
 * that mailbox's OK [HIGHESTMODSEQ] (RFC 7162 §3.1).
 *
 * IMAP4rev2 (RFC 9051 §6.3.1) switches the session to rev2 behaviour:
 * mailbox names in UTF-8 (as UTF8=ACCEPT, RFC 6855, does alone), no
 * RECENT or UNSEEN in SELECT, and SEARCH answered with ESEARCH
 * (imap_search_rev2()). The rest
 * of rev2 is what this server does in either mode.
 *
 * UIDONLY (RFC 9586): from then on commands that take message numbers
 * (FETCH, STORE, SEARCH, COPY, MOVE, SORT, THREAD, REPLACE, a search key
 * that is a sequence set, SELECT's QRESYNC sequence match data) get
 * "BAD [UIDREQUIRED]"; FETCH responses become "* uid UIDFETCH (...)"
 * (UID only when asked for) and EXPUNGE responses VANISHED, as with
 * QRESYNC.
 */
#include <string.h>

#include "imap/imap_session.h"

void imap_session_condstore(struct imap_session *s)
{
	if (s->state == IMAP_S_SELECTED && !s->condstore)
		/* RFC 7162 §3.1: enabled while a mailbox is selected, the
		 * client has not seen its HIGHESTMODSEQ yet. */
		imap_reply(s, "* OK [HIGHESTMODSEQ %llu] Highest",
			   (unsigned long long)imap_highest_modseq(s->view.highest_modseq));
	s->condstore = 1;
	if (s->state == IMAP_S_SELECTED)
		s->view.condstore = 1;
}

void imap_cmd_enable(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct str name;
	char enabled[128] = "";
	size_t n = 0;

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
	for (size_t i = 0; i < cmd->nargs; i++) {
		imap_arg_atom(&cmd->args[i], &name);
		const char *add = NULL;
		if (str_eq_ci_c(name, "CONDSTORE") && !s->condstore) {
			imap_session_condstore(s);
			add = " CONDSTORE";
		} else if (str_eq_ci_c(name, "QRESYNC") && !s->qresync) {
			imap_session_condstore(s);
			s->qresync = 1;
			if (s->state == IMAP_S_SELECTED)
				s->view.qresync = 1;
			add = " QRESYNC";
		} else if (str_eq_ci_c(name, "IMAP4rev2") && !s->rev2) {
			s->rev2 = 1;
			s->utf8 = 1;
			imap_search_rev2(s); /* SEARCH answers ESEARCH (cmd_search.c) */
			add = " IMAP4rev2";
		} else if (str_eq_ci_c(name, "UIDONLY") && !s->uidonly) {
			s->uidonly = 1;
			if (s->state == IMAP_S_SELECTED)
				s->view.uidonly = 1;
			add = " UIDONLY";
		} else if (str_eq_ci_c(name, "UTF8=ACCEPT") && !s->utf8_enabled) {
			s->utf8 = 1;
			s->utf8_enabled = 1;
			add = " UTF8=ACCEPT";
		}
		if (add && n + strlen(add) < sizeof(enabled)) {
			memcpy(enabled + n, add, strlen(add) + 1);
			n += strlen(add);
		}
	}
	imap_reply(s, "* ENABLED%s", enabled);
	imap_tagged(s, "OK Enabled.");
}
