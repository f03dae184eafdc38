/*
 * smtp_auth.c — AUTH (RFC 4954) on the submission ports: PLAIN (RFC 4616)
 * and LOGIN, only over TLS, the password check on the worker pool, and the
 * per-address failure delay and block of authfail.h.
 *
 * Before TLS nothing is offered and AUTH gets Postfix's "530 5.7.0 Must
 * issue a STARTTLS command first": a password in clear text on any network
 * (loopback included) is what TLS is there to prevent. The argon2id check
 * runs on a worker (tens of ms and 19 MiB, never on a loop); the conn is
 * paused meanwhile, so anything pipelined waits behind the reply. A failed
 * attempt is answered "535 5.7.8" after authfail's delay (1 s growing to
 * 5 s) through a loop timer; an address with too many recent failures is
 * refused without a password check. Nothing here logs a password or a
 * SASL response; user names are logged quoted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authfail.h"
#include "auth/sasl.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/loop.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "net/conn.h"
#include "smtp/smtp_session.h"
#include "store/store.h"

#define USER_MAX SASL_USER_MAX

/* Indexed by enum sasl_mech. */
static const char *const mech_names[] = { "none", "plain", "login" };

#define REPLY_FAILED "535 5.7.8 Error: authentication failed"
#define REPLY_BLOCKED "454 4.7.0 Too many failed authentications from your address; try again later"
#define REPLY_TEMP "454 4.7.0 Temporary authentication failure"

enum auth_result { AUTH_FAILED_R, AUTH_OK_R, AUTH_TEMP_R };

struct smtp_auth_job {
	struct worker_job wj;
	struct smtp_session *s;
	enum sasl_mech mech;
	char user[USER_MAX + 1]; /* lowercased */
	char pass[SASL_RESPONSE_MAX + 1];
	enum auth_result result; /* written on the worker, read after done */
	uint32_t account;
};

void smtp_auth_closed(struct smtp_session *s)
{
	if (s->delay_timer)
		loop_timer_del(s->loop, s->delay_timer);
	s->delay_timer = 0;
}

/* ---- on the worker ---- */

static void auth_run(void *arg)
{
	struct smtp_auth_job *j = arg;
	int r = store_account_login(smtp_store, j->user, j->pass, &j->account);

	explicit_bzero(j->pass, sizeof(j->pass));
	j->result = r == 1 ? AUTH_OK_R : r == 0 ? AUTH_FAILED_R : AUTH_TEMP_R;
}

/* ---- back on the loop ---- */

static void resume(struct smtp_session *s)
{
	conn_pause_read(s->conn, 0);
	smtp_session_input(s);
	conn_flush(s->conn);
}

static void delayed_reply(struct loop *loop, void *arg)
{
	struct smtp_session *s = arg;

	s->delay_timer = 0;
	s->state = SMTP_S_HELO;
	smtp_reply(s, "%s", s->delayed_reply);
	if (smtp_session_error(s)) {
		conn_flush(s->conn);
		return;
	}
	resume(s);
}

/* Answers a failed attempt after authfail's delay. */
static void fail_later(struct smtp_session *s, const char *user, enum sasl_mech mech,
		       const char *why)
{
	char q[USER_MAX * 2 + 8];
	unsigned delay = authfail_failed(s->conn->peer_ip, loop_now_ms());
	metrics_inc(METRIC_AUTHFAIL_SUBMISSION);

	log_info("smtp", s->id, "event=auth_failed user=%s mech=%s reason=%s peer=%s failures=%u "
		 "delay_ms=%u", log_q(user, q, sizeof(q)), mech_names[mech], why, s->conn->peer_ip,
		 authfail_count(s->conn->peer_ip, loop_now_ms()), delay);
	s->state = SMTP_S_WAIT_AUTH;
	s->delayed_reply = REPLY_FAILED;
	sasl_login_end(&s->sasl);
	conn_pause_read(s->conn, 1);
	s->delay_timer = loop_timer_add(s->loop, delay, delayed_reply, s);
}

static void auth_done(void *arg)
{
	struct smtp_auth_job *j = arg;
	struct smtp_session *s = j->s;
	char q[USER_MAX * 2 + 8];

	s->auth_job = NULL;
	if (s->conn_gone) {
		free(j);
		smtp_session_free(s);
		return;
	}
	switch (j->result) {
	case AUTH_OK_R:
		authfail_succeeded(s->conn->peer_ip);
		conn_deadline(s->conn, 0, NULL, NULL); /* the login deadline */
		s->authenticated = 1;
		s->account = j->account;
		snprintf(s->login, sizeof(s->login), "%s", j->user);
		s->state = SMTP_S_HELO;
		log_info("smtp", s->id, "event=login user=%s mech=%s tls=%s", log_q(s->login, q, sizeof(q)),
			 mech_names[j->mech], conn_tls_version(s->conn));
		smtp_reply(s, "235 2.7.0 Authentication successful");
		break;
	case AUTH_TEMP_R:
		log_warn("smtp", s->id, "event=login_failed user=%s reason=store_error",
			 log_q(j->user, q, sizeof(q)));
		s->state = SMTP_S_HELO;
		smtp_reply(s, REPLY_TEMP);
		break;
	case AUTH_FAILED_R:
	default:
		fail_later(s, j->user, j->mech, "password");
		free(j);
		conn_flush(s->conn);
		return;
	}
	free(j);
	resume(s);
}

/* Copies a user name as sent into out (cut to USER_MAX) for the log. */
static void name_for_log(char out[USER_MAX + 1], struct str name)
{
	size_t n = name.len > USER_MAX ? USER_MAX : name.len;
	if (n)
		memcpy(out, name.p, n);
	out[n] = '\0';
}

/*
 * Starts checking user/pass. Wrong shapes (a name too long, a NUL) fail
 * like a wrong password, delay included: the reply must not tell them
 * apart.
 */
static void auth_begin(struct smtp_session *s, enum sasl_mech mech, struct str user,
		       struct str pass)
{
	char shown[USER_MAX + 1];

	name_for_log(shown, user);
	sasl_login_end(&s->sasl);
	if (authfail_blocked(s->conn->peer_ip, loop_now_ms())) {
		log_info("smtp", s->id, "event=auth_refused reason=too_many_failures peer=%s",
			 s->conn->peer_ip);
		s->state = SMTP_S_WAIT_AUTH;
		s->delayed_reply = REPLY_BLOCKED;
		conn_pause_read(s->conn, 1);
		s->delay_timer = loop_timer_add(s->loop, AUTHFAIL_MAX_DELAY_MS, delayed_reply, s);
		return;
	}
	if (user.len == 0 || user.len > USER_MAX || memchr(user.p, '\0', user.len) ||
	    pass.len > SASL_RESPONSE_MAX || (pass.len && memchr(pass.p, '\0', pass.len))) {
		fail_later(s, shown, mech, "malformed");
		return;
	}
	struct smtp_auth_job *j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->mech = mech;
	/* Addresses are stored lowercase (store.h). */
	for (size_t i = 0; i < user.len; i++) {
		char c = user.p[i];
		j->user[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	if (pass.len)
		memcpy(j->pass, pass.p, pass.len);
	j->wj.fn = auth_run;
	j->wj.done = auth_done;
	j->wj.arg = j;
	j->wj.loop = s->loop;
	s->auth_job = j;
	s->state = SMTP_S_WAIT_AUTH;
	conn_pause_read(s->conn, 1);
	worker_submit(&j->wj);
}

/* One SASL response (initial or continuation), base64 as sent. */
static void sasl_step(struct smtp_session *s, struct str b64, int initial)
{
	char msg[SASL_RESPONSE_MAX], shown[USER_MAX + 1];
	struct str user, pass;
	enum sasl_mech mech = s->sasl.mech;

	enum sasl_step step = sasl_login_step(&s->sasl, b64, initial, msg, &user, &pass);

	switch (step) {
	case SASL_STEP_PASSWORD:
		s->state = SMTP_S_AUTH;
		smtp_reply(s, "334 " SASL_LOGIN_PASSWORD);
		break;
	case SASL_STEP_DONE:
		/* user may point into s->sasl, which auth_begin wipes. */
		name_for_log(shown, user);
		if (user.len > USER_MAX)
			fail_later(s, shown, mech, "malformed");
		else
			auth_begin(s, mech, str_make(shown, user.len), pass);
		explicit_bzero(shown, sizeof(shown));
		break;
	case SASL_STEP_BAD_BASE64:
		s->state = SMTP_S_HELO;
		sasl_login_end(&s->sasl);
		smtp_reply(s, "501 5.5.2 Error: cannot decode response");
		smtp_session_error(s);
		break;
	case SASL_STEP_AUTHZID:
	case SASL_STEP_MALFORMED:
	default:
		name_for_log(shown, user);
		fail_later(s, shown, mech, step == SASL_STEP_AUTHZID ? "authzid" : "malformed");
		break;
	}
	explicit_bzero(msg, sizeof(msg));
}

void smtp_auth_cmd(struct smtp_session *s, struct smtp_cmd *cmd)
{
	if (!conn_tls_established(s->conn)) {
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
	if (sasl_login_start(&s->sasl, cmd->auth_mech) < 0) {
		smtp_reply(s, "504 5.5.4 Error: unsupported authentication mechanism");
		smtp_session_error(s);
		return;
	}
	if (cmd->auth_initial.len) {
		sasl_step(s, cmd->auth_initial, 1);
		return;
	}
	s->state = SMTP_S_AUTH;
	/* PLAIN has an empty challenge; LOGIN asks "Username:". */
	smtp_reply(s, s->sasl.mech == SASL_MECH_PLAIN ? "334 " : "334 " SASL_LOGIN_USERNAME);
}

void smtp_auth_line(struct smtp_session *s, struct str line)
{
	if (str_eq(line, STR_LIT("*"))) {
		/* RFC 4954 §4: the client cancels; the AUTH command fails. */
		s->state = SMTP_S_HELO;
		sasl_login_end(&s->sasl);
		smtp_reply(s, "501 5.7.0 Error: authentication aborted");
		return;
	}
	sasl_step(s, line, 0);
}
