/*
 * smtp_auth.c — AUTH (RFC 4954) on the submission ports: SCRAM-SHA-256
 * and SCRAM-SHA-1 (RFC 7677, RFC 5802), PLAIN (RFC 4616) and LOGIN, only
 * over TLS; the check itself is auth/login.h's. SCRAM's server-final
 * message is a last 334 challenge, answered with an empty line before
 * the 235 (RFC 4954 has no success data; RFC 4422 §4).
 *
 * Before TLS nothing is offered and AUTH gets Postfix's "530 5.7.0 Must
 * issue a STARTTLS command first": a password in clear text on any network
 * (loopback included) is what TLS is there to prevent. While the shared
 * login flow runs (limits, the check on a worker, the failure delay) the
 * conn is paused, so anything pipelined waits behind the reply. Nothing
 * here logs a password or a SASL response.
 */
#include <stdio.h>
#include <string.h>

#include "auth/login.h"
#include "auth/sasl.h"
#include "core/base64.h"
#include "auth/sasl_next.h"
#include "auth/scram_login.h"
#include "core/log.h"
#include "net/conn.h"
#include "smtp/smtp_session.h"

/* The reply for each login outcome, indexed by enum login_outcome. */
static const char *const replies[] = {
	[LOGIN_OK] = "235 2.7.0 Authentication successful",
	[LOGIN_FAILED] = "535 5.7.8 Error: authentication failed",
	[LOGIN_REFUSED] = "454 4.7.0 Too many failed authentications; try again later",
	[LOGIN_TEMP] = "454 4.7.0 Temporary authentication failure",
	[LOGIN_IN_USE] = "454 4.7.0 Temporary authentication failure",
};
/* RFC 4954 §4: a cancelled exchange is answered 501. */
#define SMTP_AUTH_ABORTED "501 5.7.0 Error: authentication aborted"

void smtp_auth_closed(struct smtp_session *s)
{
	login_abandon(&s->auth);
	sasl_login_end(&s->sasl);
	login_held_free(&s->scram_ok);
	session_watch_leave(&s->watch);
}

void smtp_auth_revoked(struct smtp_session *s, int gone)
{
	log_info("smtp", s->id, "event=credentials_revoked reason=%s",
		 gone ? "account_deleted" : "credentials_changed");
	const char *why = gone ? "account_deleted" : "credentials_changed";
	if (s->conn_gone)
		return;
	if (s->state == SMTP_S_WAIT_STORE || s->in_tx) {
		/* Mid-transaction a reply would answer the wrong command: drop
		 * the connection as a client that vanished would. */
		conn_close(s->conn, why);
		return;
	}
	smtp_reply(s, "421 4.7.0 %s", gone ? "Account was deleted" : "Credentials changed; log in again");
	s->state = SMTP_S_CLOSING;
	conn_close_after_flush(s->conn, why);
	conn_flush(s->conn);
}

static void revoked(void *arg, int gone)
{
	smtp_auth_revoked(arg, gone);
}

/* What any login makes of the session: an AUTH success (logged_in) and
 * a transport that vouches for its peer (smtp_auth_preauth). */
static void become(struct smtp_session *s, uint32_t account, const char *user, const char *mech)
{
	char q[SASL_USER_MAX * 4 + 8];

	conn_deadline(s->conn, 0, NULL, NULL); /* the login deadline */
	s->authenticated = 1;
	s->account = account;
	snprintf(s->login, sizeof(s->login), "%s", user);
	log_info("smtp", s->id, "event=login user=%s mech=%s tls=%s", log_q(s->login, q, sizeof(q)),
		 mech, conn_tls_version(s->conn));
}

static void logged_in(struct smtp_session *s, const struct login_result *r)
{
	become(s, r->account, r->user, r->mech);
	session_watch_join(&s->watch, smtp_store, s->loop, r->account, r->apppass, r->cred, revoked,
			   s);
}

int smtp_session_private(const struct smtp_session *s)
{
	return s->vouched || conn_tls_established(s->conn);
}

void smtp_auth_preauth(struct smtp_session *s, uint32_t account, const char *login)
{
	/* No watch on the credentials: the transport vouches for the peer,
	 * and stands for TLS as well (smtp_session_private). */
	s->vouched = 1;
	become(s, account, login, "preauth");
}

static void login_done(void *arg, const struct login_result *r)
{
	struct smtp_session *s = arg;

	s->auth = NULL;
	s->state = SMTP_S_HELO;
	if (r->outcome == LOGIN_OK && r->scram_final && r->scram_final[0]) {
		char b64[SCRAM_FINAL_B64_MAX];
		s->scram_ok = login_hold(r);
		base64_encode(r->scram_final, strlen(r->scram_final), 0, b64, sizeof b64);
		s->state = SMTP_S_AUTH;
		smtp_reply(s, "334 %s", b64);
	} else {
		if (r->outcome == LOGIN_OK)
			logged_in(s, r);
		smtp_reply(s, "%s", r->aborted ? SMTP_AUTH_ABORTED : replies[login_reply_outcome(r)]);
	}
	if (r->outcome == LOGIN_FAILED && smtp_session_error(s)) {
		conn_flush(s->conn);
		return;
	}
	conn_pause_read(s->conn, 0);
	smtp_session_input(s);
	conn_flush(s->conn);
}

static const struct login_proto smtp_login = { "smtp", METRIC_AUTHFAIL_SUBMISSION, login_done };

/* Hands the credentials (or a reason they cannot succeed) to auth/login. */
static void auth_begin(struct smtp_session *s, enum sasl_mech mech, struct str user,
		       struct str pass, const char *malformed, const struct scram_server *scram)
{
	struct login_creds c = { sasl_mech_log_name(mech), user, pass, malformed, scram };
	struct login_request rq;

	login_request_init(&rq, &smtp_login, smtp_store, s->loop, s->id, s->conn->peer_ip, s, &c);

	s->state = SMTP_S_WAIT_AUTH;
	conn_pause_read(s->conn, 1);
	s->auth = login_start(&rq);
	sasl_login_end(&s->sasl);
}

/* One SASL response (initial or continuation), base64 as sent. */
static void sasl_step(struct smtp_session *s, struct str b64, int initial)
{
	char msg[SASL_RESPONSE_MAX];
	struct sasl_next n;
	enum sasl_mech mech = s->sasl.mech;

	sasl_next_step(&s->sasl, smtp_store, b64, initial, msg, &n);
	switch (n.what) {
	case SASL_NEXT_CHALLENGE:
		s->state = SMTP_S_AUTH;
		smtp_reply(s, "334 %s", n.challenge);
		break;
	case SASL_NEXT_LOGIN:
		auth_begin(s, mech, n.user, n.pass, n.malformed, n.scram);
		break;
	case SASL_NEXT_BAD_BASE64:
		s->state = SMTP_S_HELO;
		sasl_login_end(&s->sasl);
		smtp_reply(s, "501 5.5.2 Error: cannot decode response");
		smtp_session_error(s);
		break;
	}
	explicit_bzero(msg, sizeof(msg));
	explicit_bzero(&n, sizeof(n));
}

void smtp_auth_cmd(struct smtp_session *s, struct smtp_cmd *cmd)
{
	if (!smtp_session_private(s)) {
		smtp_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		smtp_session_error(s);
		return;
	}
	if (s->state != SMTP_S_HELO) {
		smtp_reply(s, s->state == SMTP_S_CONNECTED ? "503 5.5.1 Error: send HELO/EHLO first"
							   : "503 5.5.1 Error: MAIL transaction in progress");
		smtp_session_error(s);
		return;
	}
	if (s->authenticated) {
		smtp_reply(s, "503 5.5.1 Error: already authenticated");
		smtp_session_error(s);
		return;
	}
	if (sasl_login_start_scram(&s->sasl, cmd->auth_mech) < 0) {
		smtp_reply(s, "504 5.5.4 Error: unsupported authentication mechanism");
		smtp_session_error(s);
		return;
	}
	if (cmd->auth_initial.len) {
		sasl_step(s, cmd->auth_initial, 1);
		return;
	}
	s->state = SMTP_S_AUTH;
	/* PLAIN and SCRAM have an empty challenge; LOGIN asks "Username:". */
	smtp_reply(s, s->sasl.mech != SASL_MECH_LOGIN ? "334 " : "334 " SASL_LOGIN_USERNAME);
}

void smtp_auth_line(struct smtp_session *s, struct str line)
{
	if (s->scram_ok) {
		/* The answer to SCRAM's server-final challenge: empty, or
		 * the client gives up (it did not trust our signature). */
		struct login_result r;
		s->state = SMTP_S_HELO;
		if (line.len == 0) {
			login_held_result(s->scram_ok, &r);
			logged_in(s, &r);
			smtp_reply(s, "%s", replies[LOGIN_OK]);
		} else {
			smtp_reply(s, SMTP_AUTH_ABORTED);
		}
		login_held_free(&s->scram_ok);
		return;
	}
	if (str_eq(line, STR_LIT("*"))) {
		/* RFC 4954 §4: the client cancels; the AUTH command fails. */
		struct str user;
		if (sasl_login_cancel_counts(&s->sasl, &user)) {
			auth_begin(s, s->sasl.mech, user, STR_NULL, LOGIN_ABORTED, NULL);
			return;
		}
		s->state = SMTP_S_HELO;
		sasl_login_end(&s->sasl);
		smtp_reply(s, SMTP_AUTH_ABORTED);
		return;
	}
	sasl_step(s, line, 0);
}
