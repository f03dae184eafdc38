/*
 * pop3_auth.c — POP3 authentication: USER/PASS, AUTH PLAIN and LOGIN
 * (RFC 5034, with initial response), the password check on the worker
 * pool, the per-address failure delay, and the account lock table.
 *
 * Only over TLS. Before STLS every authentication command gets Dovecot's
 * "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS)
 * connections." — loopback is not exempt, a password in clear text on any
 * network is the thing TLS is there to prevent.
 *
 * The check runs on a worker thread (argon2id: tens of ms and 19 MiB, never
 * on a loop). The same job, once the password matched, takes the account
 * lock and reads the INBOX snapshot, so a large maildrop is not listed on
 * the loop either, and the lock is taken before the snapshot: no other
 * POP3 session can expunge between the two. A failed attempt is answered
 * after authfail's delay (1 s, growing to 5 s) through a loop timer; the
 * conn stays paused meanwhile, so pipelined commands wait behind the reply.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"
#include "auth/authfail.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "net/conn.h"
#include "pop3/pop3_session.h"
#include "store/store.h"

#define PLAINTEXT_DISALLOWED                                                                    \
	"-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
#define AUTH_FAILED "-ERR [AUTH] Authentication failed."
#define AUTH_BLOCKED "-ERR [SYS/TEMP] Too many failed logins from your address; try again later."

enum auth_result { AUTH_FAILED_R, AUTH_OK_R, AUTH_IN_USE_R, AUTH_TEMP_R };

struct pop3_auth_job {
	struct worker_job wj;
	struct pop3_session *s;
	enum pop3_mech mech;
	char user[POP3_USER_MAX + 1];
	char pass[POP3_SASL_MAX + 1];
	/* Results, written on the worker, read on the loop after done. */
	enum auth_result result;
	uint32_t account, mailbox, uidvalidity;
	int locked;
	struct pop3_msg *msgs;
	uint32_t nmsgs, cap;
	uint64_t total;
};

static const char *const mech_names[] = { "none", "user", "plain", "login" };

/* ---- the account lock table ---- */

static pthread_mutex_t lock_mu = PTHREAD_MUTEX_INITIALIZER;
static uint32_t *locked_ids;
static size_t nlocked, caplocked;

int pop3_lock_acquire(uint32_t account)
{
	int r = 0;

	pthread_mutex_lock(&lock_mu);
	for (size_t i = 0; i < nlocked; i++) {
		if (locked_ids[i] == account) {
			r = -1;
			goto out;
		}
	}
	/* One entry per logged-in session: bounded by the connection limits. */
	if (nlocked == caplocked) {
		caplocked = caplocked ? caplocked * 2 : 64;
		locked_ids = xrealloc(locked_ids, caplocked * sizeof(*locked_ids));
	}
	locked_ids[nlocked++] = account;
out:
	pthread_mutex_unlock(&lock_mu);
	return r;
}

void pop3_lock_release(uint32_t account)
{
	pthread_mutex_lock(&lock_mu);
	for (size_t i = 0; i < nlocked; i++) {
		if (locked_ids[i] == account) {
			locked_ids[i] = locked_ids[--nlocked];
			break;
		}
	}
	pthread_mutex_unlock(&lock_mu);
}

void pop3_auth_release(struct pop3_session *s)
{
	if (s->locked)
		pop3_lock_release(s->account);
	s->locked = 0;
}

void pop3_auth_cancel_delay(struct pop3_session *s)
{
	if (s->delay_timer)
		loop_timer_del(s->loop, s->delay_timer);
	s->delay_timer = 0;
}

/* ---- on the worker ---- */

static void snapshot_mailbox(void *arg, const struct store_mailbox_info *info)
{
	struct pop3_auth_job *j = arg;
	if (info->id == j->mailbox)
		j->uidvalidity = info->uidvalidity;
}

static void snapshot_email(void *arg, const struct store_email_info *info)
{
	struct pop3_auth_job *j = arg;

	if (j->nmsgs == UINT32_MAX)
		return;
	if (j->nmsgs == j->cap) {
		j->cap = j->cap ? (j->cap > UINT32_MAX / 2 ? UINT32_MAX : j->cap * 2) : 256;
		j->msgs = xrealloc(j->msgs, (size_t)j->cap * sizeof(*j->msgs));
	}
	struct pop3_msg *m = &j->msgs[j->nmsgs++];
	m->uid = info->uid;
	m->email_id = info->email_id;
	/* A stored message is below 4 GiB (one LMDB value). */
	m->size = info->size > UINT32_MAX ? UINT32_MAX : (uint32_t)info->size;
	m->deleted = 0;
	j->total += m->size;
}

static void auth_run(void *arg)
{
	struct pop3_auth_job *j = arg;
	int r = store_account_login(pop3_store, j->user, j->pass, &j->account);

	explicit_bzero(j->pass, sizeof(j->pass));
	if (r != 1) {
		j->result = r == 0 ? AUTH_FAILED_R : AUTH_TEMP_R;
		return;
	}
	if (pop3_lock_acquire(j->account) < 0) {
		j->result = AUTH_IN_USE_R;
		return;
	}
	j->locked = 1;
	if (store_mailbox_find(pop3_store, j->account, "INBOX", &j->mailbox) != STORE_OK ||
	    store_mailbox_list(pop3_store, j->account, snapshot_mailbox, j) != STORE_OK ||
	    store_email_list(pop3_store, j->account, j->mailbox, snapshot_email, j) != STORE_OK ||
	    j->uidvalidity == 0) {
		pop3_lock_release(j->account);
		j->locked = 0;
		j->result = AUTH_TEMP_R;
		return;
	}
	j->result = AUTH_OK_R;
}

/* ---- back on the loop ---- */

/* A user name as sent, cut to POP3_USER_MAX, for the log (log_q quotes it). */
static void name_for_log(char out[POP3_USER_MAX + 1], struct str name)
{
	size_t n = name.len > POP3_USER_MAX ? POP3_USER_MAX : name.len;
	if (n)
		memcpy(out, name.p, n);
	out[n] = '\0';
}

static void resume(struct pop3_session *s)
{
	conn_pause_read(s->conn, 0);
	pop3_session_input(s);
	pop3_flush(s);
}

static void delayed_reply(struct loop *loop, void *arg)
{
	struct pop3_session *s = arg;

	s->delay_timer = 0;
	s->state = POP3_S_AUTHORIZATION;
	pop3_reply(s, "%s", s->delayed_reply);
	if (!pop3_session_error(s))
		conn_pause_read(s->conn, 0);
	pop3_session_input(s);
	pop3_flush(s);
}

/* Answers a failed attempt after authfail's delay. */
static void fail_later(struct pop3_session *s, const char *user, enum pop3_mech mech,
		       const char *why)
{
	char q[POP3_USER_MAX * 2 + 8];
	unsigned delay = authfail_failed(s->conn->peer_ip, loop_now_ms());
	metrics_inc(METRIC_AUTHFAIL_POP3);

	log_info("pop3", s->id, "event=auth_failed user=%s mech=%s reason=%s peer=%s failures=%u "
		 "delay_ms=%u", log_q(user, q, sizeof(q)), mech_names[mech], why, s->conn->peer_ip,
		 authfail_count(s->conn->peer_ip, loop_now_ms()), delay);
	s->state = POP3_S_WAIT_AUTH;
	s->delayed_reply = AUTH_FAILED;
	sasl_login_end(&s->sasl);
	explicit_bzero(s->user, sizeof(s->user));
	conn_pause_read(s->conn, 1);
	s->delay_timer = loop_timer_add(s->loop, delay, delayed_reply, s);
}

static void auth_done(void *arg)
{
	struct pop3_auth_job *j = arg;
	struct pop3_session *s = j->s;
	char q[POP3_USER_MAX * 2 + 8];

	s->auth = NULL;
	if (s->conn_gone) {
		if (j->locked)
			pop3_lock_release(j->account);
		free(j->msgs);
		free(j);
		pop3_session_free(s);
		return;
	}
	switch (j->result) {
	case AUTH_OK_R:
		authfail_succeeded(s->conn->peer_ip);
		conn_deadline(s->conn, 0, NULL, NULL); /* the login deadline */
		s->state = POP3_S_TRANSACTION;
		memcpy(s->login, j->user, sizeof(s->login));
		s->account = j->account;
		s->mailbox = j->mailbox;
		s->uidvalidity = j->uidvalidity;
		s->locked = 1;
		s->msgs = j->msgs;
		s->nmsgs = j->nmsgs;
		s->total_size = j->total;
		j->msgs = NULL;
		log_info("pop3", s->id, "event=login user=%s mech=%s messages=%u size=%llu tls=%s",
			 log_q(s->login, q, sizeof(q)), mech_names[j->mech], s->nmsgs,
			 (unsigned long long)s->total_size, conn_tls_version(s->conn));
		pop3_reply(s, "+OK Logged in.");
		break;
	case AUTH_IN_USE_R:
		log_info("pop3", s->id, "event=login_refused user=%s reason=in_use",
			 log_q(j->user, q, sizeof(q)));
		s->state = POP3_S_AUTHORIZATION;
		pop3_reply(s, "-ERR [IN-USE] Mailbox is locked by another POP3 session");
		break;
	case AUTH_TEMP_R:
		log_warn("pop3", s->id, "event=login_failed user=%s reason=store_error",
			 log_q(j->user, q, sizeof(q)));
		s->state = POP3_S_AUTHORIZATION;
		pop3_reply(s, "-ERR [SYS/TEMP] Temporary authentication failure; try again later.");
		break;
	case AUTH_FAILED_R:
	default:
		fail_later(s, j->user, j->mech, "password");
		free(j->msgs);
		free(j);
		pop3_flush(s);
		return;
	}
	free(j->msgs);
	free(j);
	resume(s);
}

/*
 * Starts checking user/pass. Wrong shapes (a name too long, a NUL) fail
 * like a wrong password, delay included: the reply must not tell them
 * apart.
 */
static void auth_begin(struct pop3_session *s, enum pop3_mech mech, struct str user,
		       struct str pass)
{
	char shown[POP3_USER_MAX + 1];

	name_for_log(shown, user);
	s->user[0] = '\0';
	sasl_login_end(&s->sasl);
	if (authfail_blocked(s->conn->peer_ip, loop_now_ms())) {
		log_info("pop3", s->id, "event=auth_refused reason=too_many_failures peer=%s",
			 s->conn->peer_ip);
		s->state = POP3_S_WAIT_AUTH;
		s->delayed_reply = AUTH_BLOCKED;
		conn_pause_read(s->conn, 1);
		s->delay_timer = loop_timer_add(s->loop, AUTHFAIL_MAX_DELAY_MS, delayed_reply, s);
		return;
	}
	if (user.len == 0 || user.len > POP3_USER_MAX || memchr(user.p, '\0', user.len) ||
	    pass.len > POP3_SASL_MAX || (pass.len && memchr(pass.p, '\0', pass.len))) {
		fail_later(s, shown, mech, "malformed");
		return;
	}
	struct pop3_auth_job *j = xcalloc(1, sizeof(*j));
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
	s->state = POP3_S_WAIT_AUTH;
	conn_pause_read(s->conn, 1);
	worker_submit(&j->wj);
}

/* ---- commands ---- */

static int require_tls(struct pop3_session *s)
{
	if (pop3_secure(s))
		return 0;
	pop3_reply(s, PLAINTEXT_DISALLOWED);
	pop3_session_error(s);
	return -1;
}

void pop3_cmd_user(struct pop3_session *s, struct pop3_cmd *cmd)
{
	if (require_tls(s) < 0)
		return;
	if (cmd->arg.len > POP3_USER_MAX) {
		pop3_reply(s, "-ERR [AUTH] User name too long.");
		pop3_session_error(s);
		return;
	}
	memcpy(s->user, cmd->arg.p, cmd->arg.len);
	s->user[cmd->arg.len] = '\0';
	pop3_reply(s, "+OK");
}

void pop3_cmd_pass(struct pop3_session *s, struct pop3_cmd *cmd)
{
	if (require_tls(s) < 0)
		return;
	if (!s->user[0]) {
		pop3_reply(s, "-ERR No username given.");
		pop3_session_error(s);
		return;
	}
	char user[POP3_USER_MAX + 1];
	memcpy(user, s->user, sizeof(user));
	auth_begin(s, POP3_MECH_USER, str_c(user), cmd->arg);
}

void pop3_cmd_apop(struct pop3_session *s, struct pop3_cmd *cmd)
{
	/* APOP needs the password in clear on the server; we keep argon2id only. */
	pop3_reply(s, "-ERR APOP is not supported.");
	pop3_session_error(s);
}

/* One SASL response (initial or continuation), base64 as sent. */
static void sasl_step(struct pop3_session *s, struct str b64, int initial)
{
	char msg[SASL_RESPONSE_MAX], shown[POP3_USER_MAX + 1];
	struct str user, pass;
	enum pop3_mech mech = s->sasl.mech == SASL_MECH_PLAIN ? POP3_MECH_PLAIN : POP3_MECH_LOGIN;
	enum sasl_step step = sasl_login_step(&s->sasl, b64, initial, msg, &user, &pass);

	switch (step) {
	case SASL_STEP_PASSWORD:
		s->state = POP3_S_SASL;
		pop3_reply(s, "+ " SASL_LOGIN_PASSWORD);
		break;
	case SASL_STEP_DONE:
		/* user may point into s->sasl, which auth_begin wipes. */
		name_for_log(shown, user);
		if (user.len > POP3_USER_MAX)
			fail_later(s, shown, mech, "malformed");
		else
			auth_begin(s, mech, str_make(shown, user.len), pass);
		explicit_bzero(shown, sizeof(shown));
		break;
	case SASL_STEP_BAD_BASE64:
		s->state = POP3_S_AUTHORIZATION;
		sasl_login_end(&s->sasl);
		pop3_reply(s, "-ERR Invalid base64 data in %s response.",
			   initial ? "initial" : "continued");
		pop3_session_error(s);
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

void pop3_cmd_auth(struct pop3_session *s, struct pop3_cmd *cmd)
{
	if (cmd->arg.len == 0) {
		/* Bare AUTH lists the mechanisms (as Dovecot does); none in clear. */
		if (pop3_secure(s))
			pop3_write(s, "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n", 22);
		else
			pop3_write(s, "+OK\r\n.\r\n", 8);
		return;
	}
	if (require_tls(s) < 0)
		return;
	if (sasl_login_start(&s->sasl, cmd->arg) < 0) {
		pop3_reply(s, "-ERR Unsupported authentication mechanism.");
		pop3_session_error(s);
		return;
	}
	s->user[0] = '\0';
	if (cmd->has_initial) {
		sasl_step(s, cmd->initial, 1);
		return;
	}
	s->state = POP3_S_SASL;
	/* PLAIN has an empty challenge; LOGIN asks "Username:". */
	pop3_reply(s, s->sasl.mech == SASL_MECH_PLAIN ? "+ " : "+ " SASL_LOGIN_USERNAME);
}

void pop3_sasl_line(struct pop3_session *s, struct str line)
{
	if (str_eq(line, STR_LIT("*"))) {
		/* RFC 5034 §4: the client cancels; the AUTH command fails. */
		s->state = POP3_S_AUTHORIZATION;
		sasl_login_end(&s->sasl);
		pop3_reply(s, "-ERR Authentication aborted by client.");
		return;
	}
	sasl_step(s, line, 0);
}
