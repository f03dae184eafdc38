/*
 * cmd_authenticate.c — AUTHENTICATE PLAIN and LOGIN (RFC 9051 §6.2.2,
 * RFC 4616), SCRAM-SHA-256 and SCRAM-SHA-1 (RFC 7677, RFC 5802), with an initial
 * response (SASL-IR, RFC 4959): the exchange and its decoding are the
 * shared ones (auth/sasl.h, auth/sasl_next.h) SMTP, POP3 and ManageSieve
 * use; this file only words the challenges and errors IMAP's way.
 *
 * The exchange reads raw continuation lines (imap_parser_line()) while
 * s->wait is IMAP_W_SASL; the check itself is imap_auth_begin()'s.
 * Continuation lines carry passwords: imap_session.c wipes them from the
 * input buffer, and the decoded message (and an initial response's copy
 * in the command's arena) is wiped here.
 */
#include <string.h>

#include "auth/login.h"
#include "auth/sasl.h"
#include "auth/sasl_next.h"
#include "imap/imap_session.h"

static void sasl_end(struct imap_session *s)
{
	s->wait = IMAP_W_NONE;
	sasl_login_end(&s->sasl);
	imap_cmd_end(s);
}

/* The log's name of the exchange's mechanism: AUTHENTICATE LOGIN is
 * "sasl-login", told apart from the LOGIN command's "login". */
static const char *mech_name(const struct sasl_login *x)
{
	return x->mech == SASL_MECH_LOGIN ? "sasl-login" : sasl_mech_log_name(x->mech);
}

/* One SASL response (initial or continuation), base64 as sent. */
static void sasl_step(struct imap_session *s, struct str b64, int initial)
{
	char msg[SASL_RESPONSE_MAX];
	struct sasl_next n;
	const char *mech = mech_name(&s->sasl);

	sasl_next_step(&s->sasl, imap_store, b64, initial, msg, &n);
	switch (n.what) {
	case SASL_NEXT_CHALLENGE:
		imap_reply(s, "+ %s", n.challenge);
		break;
	case SASL_NEXT_BAD_BASE64:
		imap_tagged(s, "BAD Invalid base64 data in %s response.",
			    initial ? "initial" : "continued");
		sasl_end(s);
		imap_session_error(s);
		break;
	case SASL_NEXT_LOGIN:
		/* login_start() copies the credentials and the exchange: it
		 * may go now; the check's answer ends the command. */
		imap_auth_begin(s, mech, n.user, n.pass, n.malformed, n.scram);
		sasl_login_end(&s->sasl);
		break;
	}
	explicit_bzero(msg, sizeof(msg));
	explicit_bzero(&n, sizeof(n));
}

void imap_cmd_authenticate(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct str mech, ir;

	if (imap_auth_require_tls(s) < 0)
		return;
	if (cmd->nargs < 1 || cmd->nargs > 2 || imap_arg_atom(&cmd->args[0], &mech) < 0 ||
	    (cmd->nargs == 2 && imap_arg_atom(&cmd->args[1], &ir) < 0)) {
		imap_tagged(s, "BAD Error in IMAP command AUTHENTICATE: Invalid arguments.");
		imap_session_error(s);
		return;
	}
	if (sasl_login_start_scram(&s->sasl, mech) < 0) {
		imap_tagged(s, "NO Unsupported authentication mechanism.");
		imap_session_error(s);
		return;
	}
	/* The exchange may outlive this call: it ends in sasl_end() or when
	 * the check answers. */
	s->wait = IMAP_W_SASL;
	if (cmd->nargs == 2) {
		sasl_step(s, ir, 1);
		/* The initial response (base64 of a password, for PLAIN) was
		 * parsed into the command's arena: not kept until reused. */
		explicit_bzero((char *)ir.p, ir.len);
		return;
	}
	/* PLAIN and SCRAM have an empty challenge; LOGIN asks "Username:". */
	imap_reply(s, s->sasl.mech == SASL_MECH_LOGIN ? "+ " SASL_LOGIN_USERNAME : "+ ");
}

void imap_sasl_line(struct imap_session *s, struct str line)
{
	if (s->scram_ok) {
		imap_auth_scram_ack(s, line);
		return;
	}
	if (str_eq(line, STR_LIT("*"))) {
		struct str user;
		if (sasl_login_cancel_counts(&s->sasl, &user)) {
			/* Counted (auth/sasl.h); login_done answers BAD. */
			imap_auth_begin(s, mech_name(&s->sasl), user, STR_NULL, LOGIN_ABORTED, NULL);
			sasl_login_end(&s->sasl);
			return;
		}
		imap_tagged(s, IMAP_AUTH_ABORTED);
		sasl_end(s);
		return;
	}
	sasl_step(s, line, 0);
}
