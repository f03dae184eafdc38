/*
 * cmd_login.c — LOGIN, and the hand-over to the shared login flow
 * (auth/login.h) that AUTHENTICATE uses too.
 *
 * Only over TLS: before STARTTLS, LOGIN gets Dovecot's "NO
 * [PRIVACYREQUIRED]" (and CAPABILITY says LOGINDISABLED); loopback is not
 * exempt, a password in clear text on any network is what TLS prevents.
 * While the flow runs (limits, the check on a worker, the failure delay)
 * the conn is paused so pipelined commands wait behind the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/login.h"
#include "auth/sasl.h"
#include "core/base64.h"
#include "auth/scram_login.h"
#include "core/log.h"
#include "imap/imap_session.h"
#include "net/conn.h"

#define NO_PLAINTEXT                                                                            \
	"NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) "    \
	"connections."

/* The tagged reply for each outcome but LOGIN_OK, indexed by enum login_outcome. */
static const char *const replies[] = {
	[LOGIN_FAILED] = "NO [AUTHENTICATIONFAILED] Authentication failed.",
	[LOGIN_REFUSED] = "NO [UNAVAILABLE] Too many failed logins; try again later.",
	[LOGIN_TEMP] = "NO [UNAVAILABLE] Temporary authentication failure; try again later.",
	[LOGIN_IN_USE] = "NO [UNAVAILABLE] Temporary authentication failure; try again later.",
};

#define NO_LOGIN_DISABLED "NO [CONTACTADMIN] Login disabled for this user."

int imap_auth_require_tls(struct imap_session *s)
{
	if (imap_secure(s))
		return 0;
	imap_tagged(s, NO_PLAINTEXT);
	imap_session_error(s);
	return -1;
}

void imap_auth_cancel(struct imap_session *s)
{
	login_abandon(&s->auth);
	sasl_login_end(&s->sasl);
	login_held_free(&s->scram_ok);
	session_watch_leave(&s->watch);
}

/*
 * The account's password changed, or it was disabled or deleted (possibly
 * by `tern account` in another process): every command would go on
 * working with credentials that are no longer valid, so the session ends
 * and the client logs in afresh (as it does when its selected mailbox is
 * deleted).
 */
static void revoked(void *arg, int gone)
{
	struct imap_session *s = arg;
	const char *why = gone ? "account_deleted" : "credentials_changed";

	log_info("imap", s->id, "event=credentials_revoked reason=%s account=%u", why, s->account);
	if (s->conn_gone || s->state == IMAP_S_LOGOUT)
		return;
	if (s->fetch || buf_len(&s->pend) || s->wait == IMAP_W_STORE || s->append) {
		/* Mid-response an untagged BYE would land inside a literal. */
		conn_close(s->conn, why);
		return;
	}
	imap_reply(s, gone ? "* BYE Account was deleted, have to disconnect."
			   : "* BYE Credentials changed, have to disconnect.");
	imap_session_unselect(s);
	imap_close_with(s, why);
	imap_flush(s);
}

static void logged_in(struct imap_session *s, const struct login_result *r)
{
	char q[IMAP_USER_MAX * 4 + 8];

	snprintf(s->login, sizeof(s->login), "%s", r->user);
	s->account = r->account;
	imap_session_logged_in(s);
	session_watch_join(&s->watch, imap_store, s->loop, r->account, r->apppass, r->cred, revoked,
			   s);
	log_info("imap", s->id, "event=login user=%s mech=%s tls=%s", log_q(s->login, q, sizeof(q)),
		 r->mech, conn_tls_version(s->conn));
	imap_tagged(s, "OK [CAPABILITY %s] Logged in", imap_capabilities(s));
}

void imap_auth_scram_ack(struct imap_session *s, struct str line)
{
	struct login_result r;

	s->wait = IMAP_W_NONE;
	if (line.len == 0) {
		login_held_result(s->scram_ok, &r);
		logged_in(s, &r);
	} else {
		imap_tagged(s, IMAP_AUTH_ABORTED);
	}
	login_held_free(&s->scram_ok);
	imap_cmd_end(s);
}

static void login_done(void *arg, const struct login_result *r)
{
	struct imap_session *s = arg;

	s->auth = NULL;
	if (r->outcome == LOGIN_OK && r->scram_final && r->scram_final[0]) {
		/* SCRAM: the server-final message goes as a challenge; the
		 * login completes on the client's empty response. */
		char b64[SCRAM_FINAL_B64_MAX];
		s->scram_ok = login_hold(r);
		base64_encode(r->scram_final, strlen(r->scram_final), 0, b64, sizeof b64);
		imap_reply(s, "+ %s", b64);
		s->wait = IMAP_W_SASL;
		conn_pause_read(s->conn, 0);
		imap_session_input(s);
		imap_flush(s);
		return;
	}
	if (r->outcome == LOGIN_OK) {
		logged_in(s, r);
	} else {
		/* The right password of an account that may not sign in:
		 * retrying cannot help, its administrator can (RFC 5530 §3
		 * CONTACTADMIN; Dovecot's answer for a nologin user). */
		imap_tagged(s, "%s",
			    r->aborted   ? IMAP_AUTH_ABORTED
			    : r->nologin ? NO_LOGIN_DISABLED
					 : replies[login_reply_outcome(r)]);
		if (r->outcome == LOGIN_FAILED && imap_session_error(s)) {
			s->wait = IMAP_W_NONE;
			imap_flush(s);
			return;
		}
	}
	s->wait = IMAP_W_NONE;
	imap_cmd_end(s);
	conn_pause_read(s->conn, 0);
	imap_session_input(s);
	imap_flush(s);
}

static const struct login_proto imap_login = { "imap", METRIC_AUTHFAIL_IMAP, login_done };

void imap_auth_begin(struct imap_session *s, const char *mech, struct str user, struct str pass,
		     const char *malformed, const struct scram_server *scram)
{
	struct login_creds c = { mech, user, pass, malformed, scram };
	struct login_request rq;

	login_request_init(&rq, &imap_login, imap_store, s->loop, s->id, s->conn->peer_ip, s, &c);

	s->wait = IMAP_W_AUTH;
	conn_pause_read(s->conn, 1);
	s->auth = login_start(&rq);
}

void imap_cmd_login(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct str user, pass;

	if (imap_auth_require_tls(s) < 0)
		return;
	if (cmd->nargs != 2 || imap_arg_astring(&cmd->args[0], &user) < 0 ||
	    imap_arg_astring(&cmd->args[1], &pass) < 0) {
		imap_tagged(s, "BAD Error in IMAP command LOGIN: Invalid arguments.");
		imap_session_error(s);
		return;
	}
	imap_auth_begin(s, "login", user, pass, NULL, NULL);
	/* The login copied it; the command's arena (a quoted string or a
	 * literal parsed there) must not keep the password until reused. */
	explicit_bzero((char *)pass.p, pass.len);
}
