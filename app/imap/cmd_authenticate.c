/*
 * cmd_authenticate.c — AUTHENTICATE PLAIN and LOGIN (RFC 9051 §6.2.2,
 * RFC 4616), SCRAM-SHA-256 and SCRAM-SHA-1 (RFC 7677, RFC 5802, through
 * auth/sasl.h's exchange), with an initial response (SASL-IR, RFC 4959).
 *
 * The exchange reads raw continuation lines (imap_parser_line()) while
 * s->wait is IMAP_W_SASL; the check itself is imap_auth_begin()'s.
 * Continuation lines carry passwords: imap_session.c wipes them from the
 * input buffer, and the decoded message is wiped here.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/login.h"
#include "auth/sasl.h"
#include "auth/sasl_next.h"
#include "core/xalloc.h"
#include "core/log.h"
#include "imap/imap_session.h"
#include "pop3/pop3_parse.h" /* SASL base64 and PLAIN helpers, protocol-neutral */

static void scram_free(struct imap_session *s)
{
	if (s->scram) {
		sasl_login_end(s->scram);
		free(s->scram);
		s->scram = NULL;
	}
}

static void sasl_end(struct imap_session *s)
{
	s->wait = IMAP_W_NONE;
	s->sasl_user_given = 0;
	explicit_bzero(s->sasl_user, sizeof(s->sasl_user));
	scram_free(s);
	imap_cmd_end(s);
}

/* One SCRAM message (initial or continuation), base64 as sent. */
static void scram_step(struct imap_session *s, struct str b64, int initial)
{
	char msg[SASL_RESPONSE_MAX];
	struct sasl_next n;

	sasl_next_step(s->scram, imap_store, b64, initial, msg, &n);
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
		/* login_start() copies the exchange: it may go now. */
		s->wait = IMAP_W_NONE;
		if (n.scram)
			imap_auth_begin_scram(s, s->mech, n.user, n.pass, n.scram);
		else
			imap_auth_begin(s, s->mech, n.user, STR_NULL,
					n.malformed ? n.malformed : "malformed");
		scram_free(s);
		break;
	}
	explicit_bzero(msg, sizeof(msg));
	explicit_bzero(&n, sizeof(n));
}

/* One SASL response (initial or continuation), base64 as sent. */
static void sasl_step(struct imap_session *s, struct str b64, int initial)
{
	char msg[IMAP_SASL_MAX];
	size_t n = 0;

	if (s->scram) {
		scram_step(s, b64, initial);
		return;
	}
	if (initial && str_eq(b64, STR_LIT("="))) {
		n = 0; /* RFC 4959 §3: "=" is an empty initial response */
	} else if (sasl_base64_decode(b64, msg, sizeof(msg), &n) < 0) {
		imap_tagged(s, "BAD Invalid base64 data in %s response.",
			    initial ? "initial" : "continued");
		sasl_end(s);
		imap_session_error(s);
		return;
	}
	if (s->mech == IMAP_MECH_PLAIN) {
		struct str authz, authc, pass;
		s->wait = IMAP_W_NONE;
		if (sasl_plain_split(str_make(msg, n), &authz, &authc, &pass) < 0) {
			imap_auth_begin(s, IMAP_MECH_PLAIN, STR_NULL, STR_NULL, "malformed");
		} else if (authz.len && !str_eq_ci(authz, authc)) {
			/* No master users: acting as someone else is refused
			 * like a wrong password. Account names are case-
			 * insensitive: "Bob@x" is bob@x, as in sasl.c. */
			imap_auth_begin(s, IMAP_MECH_PLAIN, authc, STR_NULL, "authzid");
		} else {
			imap_auth_begin(s, IMAP_MECH_PLAIN, authc, pass, NULL);
		}
	} else if (!s->sasl_user_given) {
		/* LOGIN, first response: the user name; then ask for the password. */
		if (n > IMAP_USER_MAX || memchr(msg, '\0', n)) {
			s->wait = IMAP_W_NONE;
			imap_auth_begin(s, IMAP_MECH_LOGIN, STR_NULL, STR_NULL, "malformed");
		} else {
			memcpy(s->sasl_user, msg, n);
			s->sasl_user[n] = '\0';
			s->sasl_user_given = 1;
			s->wait = IMAP_W_SASL;
			imap_reply(s, "+ UGFzc3dvcmQ6"); /* "Password:" */
		}
	} else {
		char user[IMAP_USER_MAX + 1];
		memcpy(user, s->sasl_user, sizeof(user));
		s->wait = IMAP_W_NONE;
		imap_auth_begin(s, IMAP_MECH_LOGIN, str_c(user), str_make(msg, n), NULL);
		explicit_bzero(user, sizeof(user));
	}
	explicit_bzero(msg, sizeof(msg));
	/* A check in flight (or its failure delay) ends the command later;
	 * anything else that left the exchange ends it now. */
	if (s->wait == IMAP_W_NONE && s->in_cmd)
		sasl_end(s);
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
	enum scram_hash h;
	if (str_eq_ci_c(mech, "PLAIN")) {
		s->mech = IMAP_MECH_PLAIN;
	} else if (str_eq_ci_c(mech, "LOGIN")) {
		s->mech = IMAP_MECH_LOGIN;
	} else if (sasl_scram_offered() && scram_mech_parse(mech, &h) == 0) {
		s->mech = h == SCRAM_SHA256 ? IMAP_MECH_SCRAM_SHA256 : IMAP_MECH_SCRAM_SHA1;
		scram_free(s);
		s->scram = xcalloc(1, sizeof *s->scram);
		sasl_login_start_scram(s->scram, mech);
	} else {
		imap_tagged(s, "NO Unsupported authentication mechanism.");
		imap_session_error(s);
		return;
	}
	s->sasl_user_given = 0;
	s->sasl_user[0] = '\0';
	/* The exchange may outlive this call: it ends in sasl_end() or when
	 * the check answers. */
	s->wait = IMAP_W_SASL;
	if (cmd->nargs == 2) {
		sasl_step(s, ir, 1);
		return;
	}
	/* PLAIN and SCRAM have an empty challenge; LOGIN asks "Username:". */
	imap_reply(s, s->mech == IMAP_MECH_LOGIN ? "+ VXNlcm5hbWU6" : "+ ");
}

void imap_sasl_line(struct imap_session *s, struct str line)
{
	if (s->scram_ok) {
		imap_auth_scram_ack(s, line);
		return;
	}
	if (str_eq(line, STR_LIT("*"))) {
		struct str user;
		if (s->scram && sasl_login_cancel_counts(s->scram, &user)) {
			/* Counted (auth/sasl.h); login_done answers BAD. */
			s->wait = IMAP_W_NONE;
			imap_auth_begin(s, s->mech, user, STR_NULL, LOGIN_ABORTED);
			scram_free(s);
			return;
		}
		imap_tagged(s, IMAP_AUTH_ABORTED);
		sasl_end(s);
		return;
	}
	sasl_step(s, line, 0);
}
