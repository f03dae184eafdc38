/*
 * cmd_login.c — LOGIN, and the password check AUTHENTICATE shares.
 *
 * Only over TLS: before STARTTLS, LOGIN gets Dovecot's "NO
 * [PRIVACYREQUIRED]" (and CAPABILITY says LOGINDISABLED); loopback is not
 * exempt, a password in clear text on any network is what TLS prevents.
 *
 * The check runs on a worker thread (argon2id: tens of ms, never on a
 * loop); the conn is paused meanwhile so pipelined commands wait behind
 * the answer. A failed attempt is answered after authfail's delay (1 s
 * growing to 5 s) through a loop timer; an address with too many recent
 * failures is refused without checking anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authfail.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "imap/imap_session.h"
#include "net/conn.h"

#define NO_PLAINTEXT                                                                            \
	"NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) "    \
	"connections."
#define AUTH_FAILED "NO [AUTHENTICATIONFAILED] Authentication failed."
#define AUTH_BLOCKED "NO [UNAVAILABLE] Too many failed logins from your address; try again later."
#define AUTH_TEMP "NO [UNAVAILABLE] Temporary authentication failure; try again later."

enum auth_result { AUTH_FAILED_R, AUTH_OK_R, AUTH_TEMP_R };

struct imap_auth_job {
	struct worker_job wj;
	struct imap_session *s;
	enum imap_mech mech;
	char user[IMAP_USER_MAX + 1];
	char pass[IMAP_PASS_MAX + 1];
	enum auth_result result; /* written on the worker, read after done */
	uint32_t account;
};

static const char *const mech_names[] = { "login", "plain", "sasl-login" };

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
	if (s->delay_timer)
		loop_timer_del(s->loop, s->delay_timer);
	s->delay_timer = 0;
}

static void auth_run(void *arg)
{
	struct imap_auth_job *j = arg;
	int r = store_account_check_password(imap_store, j->user, j->pass);

	explicit_bzero(j->pass, sizeof(j->pass));
	if (r != 1) {
		j->result = r == 0 ? AUTH_FAILED_R : AUTH_TEMP_R;
		return;
	}
	r = store_account_id(imap_store, j->user, &j->account);
	if (r != STORE_OK) {
		/* Deleted between the two reads: as good as a wrong password. */
		j->result = r == STORE_ENOTFOUND ? AUTH_FAILED_R : AUTH_TEMP_R;
		return;
	}
	j->result = AUTH_OK_R;
}

static void resume(struct imap_session *s)
{
	s->wait = IMAP_W_NONE;
	imap_cmd_end(s);
	conn_pause_read(s->conn, 0);
	imap_session_input(s);
	imap_flush(s);
}

static void delayed_reply(struct loop *loop, void *arg)
{
	struct imap_session *s = arg;

	s->delay_timer = 0;
	imap_tagged(s, "%s", s->delayed_reply);
	if (imap_session_error(s)) {
		s->wait = IMAP_W_NONE;
		imap_flush(s);
		return;
	}
	resume(s);
}

/* A user name as sent, cut to IMAP_USER_MAX, for the log. */
static void name_for_log(char out[IMAP_USER_MAX + 1], struct str name)
{
	size_t n = name.len > IMAP_USER_MAX ? IMAP_USER_MAX : name.len;
	if (n)
		memcpy(out, name.p, n);
	out[n] = '\0';
}

/* Answers a failed attempt after the growing delay. */
static void fail_later(struct imap_session *s, const char *user, enum imap_mech mech,
		       const char *reason)
{
	char q[IMAP_USER_MAX * 2 + 8];
	unsigned delay = authfail_failed(s->conn->peer_ip, loop_now_ms());
	metrics_inc(METRIC_AUTHFAIL_IMAP);

	log_info("imap", s->id, "event=login_failed user=%s mech=%s reason=%s peer=%s delay_ms=%u",
		 log_q(user, q, sizeof(q)), mech_names[mech], reason, s->conn->peer_ip, delay);
	s->wait = IMAP_W_AUTH;
	s->delayed_reply = AUTH_FAILED;
	conn_pause_read(s->conn, 1);
	s->delay_timer = loop_timer_add(s->loop, delay, delayed_reply, s);
}

static void auth_done(void *arg)
{
	struct imap_auth_job *j = arg;
	struct imap_session *s = j->s;
	char q[IMAP_USER_MAX * 2 + 8];

	s->auth = NULL;
	if (s->conn_gone) {
		free(j);
		imap_session_free(s);
		return;
	}
	switch (j->result) {
	case AUTH_OK_R:
		authfail_succeeded(s->conn->peer_ip);
		memcpy(s->login, j->user, sizeof(s->login));
		s->account = j->account;
		imap_session_logged_in(s);
		log_info("imap", s->id, "event=login user=%s mech=%s tls=%s",
			 log_q(s->login, q, sizeof(q)), mech_names[j->mech],
			 conn_tls_version(s->conn));
		imap_tagged(s, "OK [CAPABILITY %s] Logged in", imap_capabilities(s));
		break;
	case AUTH_TEMP_R:
		log_warn("imap", s->id, "event=login_failed user=%s reason=store_error",
			 log_q(j->user, q, sizeof(q)));
		imap_tagged(s, AUTH_TEMP);
		break;
	case AUTH_FAILED_R:
	default:
		fail_later(s, j->user, j->mech, "password");
		free(j);
		imap_flush(s);
		return;
	}
	free(j);
	resume(s);
}

void imap_auth_begin(struct imap_session *s, enum imap_mech mech, struct str user, struct str pass)
{
	char shown[IMAP_USER_MAX + 1];

	name_for_log(shown, user);
	s->wait = IMAP_W_NONE;
	if (authfail_blocked(s->conn->peer_ip, loop_now_ms())) {
		log_info("imap", s->id, "event=auth_refused reason=too_many_failures peer=%s",
			 s->conn->peer_ip);
		s->wait = IMAP_W_AUTH;
		s->delayed_reply = AUTH_BLOCKED;
		conn_pause_read(s->conn, 1);
		s->delay_timer = loop_timer_add(s->loop, AUTHFAIL_MAX_DELAY_MS, delayed_reply, s);
		return;
	}
	/* Wrong shapes fail like a wrong password, delay included: the
	 * reply must not tell them apart. */
	if (user.len == 0 || user.len > IMAP_USER_MAX || memchr(user.p, '\0', user.len) ||
	    pass.len > IMAP_PASS_MAX || (pass.len && memchr(pass.p, '\0', pass.len))) {
		fail_later(s, shown, mech, "malformed");
		return;
	}
	struct imap_auth_job *j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->mech = mech;
	memcpy(j->user, user.p, user.len);
	if (pass.len)
		memcpy(j->pass, pass.p, pass.len);
	j->wj.fn = auth_run;
	j->wj.done = auth_done;
	j->wj.arg = j;
	j->wj.loop = s->loop;
	s->auth = j;
	s->wait = IMAP_W_AUTH;
	conn_pause_read(s->conn, 1);
	worker_submit(&j->wj);
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
	imap_auth_begin(s, IMAP_MECH_LOGIN_CMD, user, pass);
}
