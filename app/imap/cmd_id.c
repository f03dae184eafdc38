/*
 * cmd_id.c — ID (RFC 2971).
 *
 * The client's fields are checked for shape (NIL, or a list of at most 30
 * field/value pairs of strings, fields at most 30 octets, values at most
 * 1024) and logged, since they tell which client a session was; we answer
 * with our name only, no version (it would help an attacker more than a
 * client).
 */
#include <stdio.h>

#include "core/log.h"
#include "imap/imap_session.h"

#define ID_MAX_PAIRS 30

void imap_cmd_id(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_arg *list;
	size_t n = 0;
	char name[64] = "", q[140];

	if (cmd->nargs != 1 || (cmd->args[0].type != IMAP_ARG_NIL &&
				imap_arg_list(&cmd->args[0], &list, &n) < 0)) {
		imap_tagged(s, "BAD Error in IMAP command ID: Invalid arguments.");
		imap_session_error(s);
		return;
	}
	if (n % 2 || n > 2 * ID_MAX_PAIRS) {
		imap_tagged(s, "BAD Error in IMAP command ID: Invalid parameter list.");
		imap_session_error(s);
		return;
	}
	for (size_t i = 0; i < n; i += 2) {
		struct str f, v;
		if (imap_arg_string(&list[i], &f) < 0 || f.len > 30 ||
		    imap_arg_nstring(&list[i + 1], &v) < 0 || v.len > 1024) {
			imap_tagged(s, "BAD Error in IMAP command ID: Invalid parameter list.");
			imap_session_error(s);
			return;
		}
		if (str_eq_ci_c(f, "name") && v.p)
			snprintf(name, sizeof(name), "%.*s", (int)(v.len > 63 ? 63 : v.len), v.p);
	}
	if (name[0])
		log_info("imap", s->id, "event=client_id name=%s", log_q(name, q, sizeof(q)));
	imap_reply(s, "* ID (\"name\" \"tern\")");
	imap_tagged(s, "OK ID completed.");
}
