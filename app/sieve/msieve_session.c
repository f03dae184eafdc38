/*
 * msieve_session.c — ManageSieve sessions: accept, input, dispatch, the
 * commands of RFC 5804 §2, authentication through auth/login.h.
 *
 * A command is read whole (literals included) before it runs; the input
 * buffer holds at most one command (MSIEVE_IN_MAX). Before
 * authentication a literal may be MSIEVE_LITERAL_PREAUTH octets, not a
 * script's size: one over it gets BYE and the connection closes, as
 * Pigeonhole's login process does (the literal is non-synchronizing, so
 * its octets are on their way, and an unauthenticated client gets no
 * more of our reading). Replies follow
 * Dovecot's Pigeonhole wording where the RFC leaves it open. Store reads
 * are small and synchronous (scripts are at most 512 KiB). Store writes
 * (PUTSCRIPT, SETACTIVE, DELETESCRIPT, RENAMESCRIPT) commit with an
 * fsync under the store's write lock, which must never stall the loop's
 * other sessions: they run on the worker pool (PUTSCRIPT's compile with
 * them, and CHECKSCRIPT's and SETACTIVE's, CPU that may take a few
 * hundred ms) while the session waits in MS_WAIT_STORE with reading
 * paused, so pipelined commands are answered in order after the job's
 * reply. A client that reads none of its answers is not read either
 * while the output is full (out_full). A
 * session whose connection closes meanwhile is freed by the job's
 * completion (session_free waits for s->job), as POP3's QUIT expunge.
 */
#include "sieve/msieve_server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth/login.h"
#include "auth/sasl.h"
#include "core/base64.h"
#include "auth/sasl_next.h"
#include "auth/scram_login.h"
#include "auth/session_watch.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/utf8.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "net/conn.h"
#include "net/limits.h"
#include "sieve/msieve_parse.h"
#include "sieve/script_check.h"
#include "sieve/sieve.h"
#include "store/store.h"

/* The longest SASL response, base64-encoded, fits the literal a client
 * may send before authentication, and a quoted string. */
_Static_assert((SASL_RESPONSE_MAX + 2) / 3 * 4 <= MSIEVE_LITERAL_PREAUTH &&
                   (LOGIN_PASS_MAX + 2) / 3 * 4 <= MSIEVE_LITERAL_PREAUTH,
               "a SASL response must fit a pre-authentication literal");
_Static_assert((SASL_RESPONSE_MAX + 2) / 3 * 4 <= MSIEVE_QUOTED_MAX &&
                   (LOGIN_PASS_MAX + 2) / 3 * 4 <= MSIEVE_QUOTED_MAX,
               "a SASL response must fit a quoted string");

#define MSIEVE_IN_MAX (MSIEVE_LITERAL_MAX + 2 * MSIEVE_LINE_MAX)
#define MSIEVE_OUT_MAX (MSIEVE_LITERAL_MAX + 64 * 1024)
/* The largest answer: GETSCRIPT of a script of MSIEVE_LITERAL_MAX octets
 * with its literal's announcement and its OK (LISTSCRIPTS' names, each
 * quoted or a literal, are far less). A command is taken only while the
 * output has room for it whole, so pipelined GETSCRIPTs wait for the
 * output to drain instead of overflowing it. */
#define MSIEVE_ANSWER_MAX (MSIEVE_LITERAL_MAX + 1024)
_Static_assert(STORE_SIEVE_SCRIPTS_MAX * (2 * STORE_SIEVE_NAME_MAX + 16) + 1024 <= MSIEVE_ANSWER_MAX,
               "LISTSCRIPTS' answer fits MSIEVE_ANSWER_MAX");
#define MSIEVE_IDLE_MS (30u * 60 * 1000) /* RFC 5804 suggests no limit; Dovecot: 30 min */
#define MSIEVE_MAX_ERRORS 10

enum ms_state { MS_NONAUTH, MS_SASL, MS_WAIT_AUTH, MS_AUTH, MS_WAIT_STORE, MS_CLOSING };

enum ms_job_kind { MS_JOB_PUT, MS_JOB_CHECK, MS_JOB_ACTIVATE, MS_JOB_DELETE, MS_JOB_RENAME };

/* A store write on the worker pool; everything it reads is its own copy. */
struct ms_job {
	struct worker_job wj;
	struct ms_session *s;
	enum ms_job_kind kind;
	uint32_t account;
	char name[STORE_SIEVE_NAME_MAX + 1], name2[STORE_SIEVE_NAME_MAX + 1];
	char *text; /* PUTSCRIPT's and CHECKSCRIPT's script */
	size_t len;
	int rc;
	/* PUTSCRIPT, CHECKSCRIPT: the script's compile errors (one a line, a
	 * literal, as Pigeonhole's) or warnings; SETACTIVE: why it is refused */
	struct script_check chk;
	char login[LOGIN_USER_MAX + 1]; /* the owner's address (a redirect to it is warned of) */
};

struct ms_session {
	char id[16];
	struct loop *loop;
	struct conn *conn;
	enum ms_state state;
	struct sasl_login sasl;
	struct login *auth;
	struct session_watch watch;
	uint32_t account;
	char login[LOGIN_USER_MAX + 1];
	uint64_t idle_timer;
	const char *refused;
	unsigned limited : 1, conn_gone : 1, greeted : 1, starttls_pending : 1, draining : 1,
		discard_line : 1, out_full : 1;
	unsigned errors;
	size_t need;       /* octets to have before parsing again */
	uint64_t discard;  /* literal octets to drop */
	struct ms_job *job; /* in flight (MS_WAIT_STORE) */
	struct ms_session *prev, *next;
};

static const struct config *ms_cfg;
static struct store *ms_store;
static unsigned sessions_alive;
static uint64_t session_base, session_counter;
static _Thread_local struct ms_session *loop_sessions;
static _Thread_local int loop_draining;

static void session_data(struct conn *c, void *arg);
static void session_drained(struct conn *c, void *arg);
static void session_closed(struct conn *c, void *arg, const char *reason);
static const struct conn_ops ms_conn_ops = {
	.on_data = session_data,
	.on_drained = session_drained,
	.on_close = session_closed,
	.oom_goodbye = "BYE (TRYLATER) \"Out of memory, try again later\"\r\n",
};

void msieve_server_init(const struct config *cfg, struct store *st)
{
	ms_cfg = cfg;
	ms_store = st;
	if (getrandom(&session_base, sizeof(session_base), 0) != sizeof(session_base))
		session_base = (uint64_t)time_wall() << 20;
}

unsigned msieve_server_sessions(void)
{
	return __atomic_load_n(&sessions_alive, __ATOMIC_SEQ_CST);
}

/* ---- output ---- */

static void ms_write(struct ms_session *s, const char *p, size_t n)
{
	if (s->conn_gone)
		return;
	if (conn_write(s->conn, p, n) < 0) {
		log_warn("sieve", s->id, "event=output_overflow");
		s->state = MS_CLOSING;
		conn_close_after_flush(s->conn, "output_overflow");
	}
}

static void ms_printf(struct ms_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line of any length: one past the stack buffer (a "SIEVE" capability
 * grown with extensions) is formatted again into the heap, never cut (a
 * cut lost its closing quote and CRLF, and a literal's count its octets). */
static void ms_printf(struct ms_session *s, const char *fmt, ...)
{
	char line[1024], *p = line;
	va_list ap, again;
	va_start(ap, fmt);
	va_copy(again, ap);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= sizeof(line)) {
		p = xmalloc((size_t)n + 1);
		n = vsnprintf(p, (size_t)n + 1, fmt, again);
	}
	va_end(again);
	if (n >= 0)
		ms_write(s, p, (size_t)n);
	if (p != line)
		free(p);
}

/*
 * RFC 5804 §4 with erratum 2655: a quoted string has at most 1024 octets
 * between its quotes, escapes included. What we read is more lenient
 * (MSIEVE_QUOTED_MAX: clients send long SASL responses quoted), what we
 * write is not: a NOOP tag echoed, or warnings quoting names, can be
 * longer, and a strict client refuses such a line.
 */
#define MSIEVE_QUOTED_OUT_MAX 1024

/* A string as ManageSieve writes it: quoted when it can be, else a
 * literal. A quoted string is UTF-8 (RFC 5804 §4, SAFE-UTF8-CHAR): other
 * octets (a NOOP tag sent as a literal, a compile error quoting the
 * script's bytes) go out as the literal's octets. */
static void ms_string(struct ms_session *s, struct str v)
{
	int quotable = v.len <= MSIEVE_QUOTED_OUT_MAX && utf8_valid(v);
	size_t quoted_len = v.len; /* between the quotes, escapes included */
	for (size_t i = 0; quotable && i < v.len; i++) {
		quotable = v.p[i] != '\r' && v.p[i] != '\n' && v.p[i] != '\0';
		quoted_len += v.p[i] == '"' || v.p[i] == '\\';
	}
	quotable = quotable && quoted_len <= MSIEVE_QUOTED_OUT_MAX;
	if (!quotable) {
		ms_printf(s, "{%zu}\r\n", v.len);
		ms_write(s, v.p, v.len);
		return;
	}
	ms_write(s, "\"", 1);
	for (size_t i = 0, start = 0; i <= v.len; i++) {
		if (i == v.len || v.p[i] == '"' || v.p[i] == '\\') {
			ms_write(s, v.p + start, i - start);
			if (i < v.len)
				ms_write(s, i < v.len && v.p[i] == '"' ? "\\\"" : "\\\\", 2);
			start = i + 1;
		}
	}
	ms_write(s, "\"", 1);
}

/* "OK|NO|BYE [(CODE)] "text"" */
static void ms_reply(struct ms_session *s, const char *kind, const char *code, const char *text)
{
	ms_write(s, kind, strlen(kind));
	if (code) {
		ms_write(s, " (", 2);
		ms_write(s, code, strlen(code));
		ms_write(s, ")", 1);
	}
	if (text) {
		ms_write(s, " ", 1);
		ms_string(s, str_c(text));
	}
	ms_write(s, "\r\n", 2);
}

static int secure(const struct ms_session *s)
{
	return s->conn && s->conn->tls != NULL && !s->starttls_pending;
}

static void capabilities(struct ms_session *s)
{
	char maxr[32];
	ms_write(s, "\"IMPLEMENTATION\" \"tern\"\r\n", 25);
	ms_printf(s, "\"SASL\" \"%s\"\r\n", secure(s) ? sasl_mechs() : "");
	ms_printf(s, "\"SIEVE\" \"%s\"\r\n", sieve_extensions());
	ms_write(s, "\"NOTIFY\" \"mailto\"\r\n", 19);
	snprintf(maxr, sizeof(maxr), "%d", SIEVE_REDIRECTS_MAX);
	ms_printf(s, "\"MAXREDIRECTS\" \"%s\"\r\n", maxr);
	if (!s->conn->tls && s->state != MS_AUTH)
		ms_write(s, "\"STARTTLS\"\r\n", 12);
	if (s->state == MS_AUTH)
		ms_printf(s, "\"OWNER\" \"%s\"\r\n", s->login);
	/* RFC 5804 §2.14.1: a server with the command advertises it; a client
	 * that switches users on one connection looks for it before trying. */
	ms_write(s, "\"UNAUTHENTICATE\"\r\n", 18);
	ms_write(s, "\"VERSION\" \"1.0\"\r\n", 17);
}

static void close_with(struct ms_session *s, const char *reason)
{
	s->state = MS_CLOSING;
	if (!s->conn_gone)
		conn_close_after_flush(s->conn, reason);
}

/* The largest literal s may send now: a script's size once authenticated. */
static uint32_t literal_max(const struct ms_session *s)
{
	return s->state == MS_AUTH ? MSIEVE_LITERAL_MAX : MSIEVE_LITERAL_PREAUTH;
}

/*
 * A literal over the pre-authentication limit: BYE and close rather than
 * NO and skip its octets (up to 4 GiB of them, read for a client nobody
 * knows yet).
 */
static void literal_too_big_preauth(struct ms_session *s, const struct msieve_cmd *cmd)
{
	log_info("sieve", s->id, "event=literal_too_big state=unauthenticated size=%llu",
	         (unsigned long long)cmd->skip);
	ms_reply(s, "BYE", NULL, "Literal larger than 4096 octets before authentication.");
	close_with(s, "literal_too_big");
}
_Static_assert(MSIEVE_LITERAL_PREAUTH == 4096, "the BYE above says 4096");

/*
 * A refused command's line announced a literal of n octets: they are
 * dropped as they come, then the rest of the line (a literal's octets
 * read as commands would run whatever a script's text holds). Before
 * authentication one over MSIEVE_LITERAL_PREAUTH ends the session as in
 * literal_too_big_preauth(); -1 then.
 */
static int discard_literal(struct ms_session *s, uint64_t n)
{
	if (s->state != MS_AUTH && n > MSIEVE_LITERAL_PREAUTH) {
		log_info("sieve", s->id, "event=literal_too_big state=unauthenticated size=%llu",
		         (unsigned long long)n);
		ms_reply(s, "BYE", NULL, "Literal larger than 4096 octets before authentication.");
		close_with(s, "literal_too_big");
		return -1;
	}
	s->discard = n;
	s->discard_line = 1;
	return 0;
}

static int session_error(struct ms_session *s)
{
	if (++s->errors < MSIEVE_MAX_ERRORS)
		return 0;
	ms_reply(s, "BYE", NULL, "Too many invalid commands.");
	log_info("sieve", s->id, "event=too_many_errors errors=%u", s->errors);
	close_with(s, "too_many_errors");
	return 1;
}

static void session_free(struct ms_session *s)
{
	if (s->job)
		return; /* the job's completion frees us */
	if (s->prev)
		s->prev->next = s->next;
	else if (loop_sessions == s)
		loop_sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	sasl_login_end(&s->sasl);
	free(s);
	__atomic_sub_fetch(&sessions_alive, 1, __ATOMIC_SEQ_CST);
}

/* ---- authentication ---- */

static void session_input(struct ms_session *s);

static void revoked(void *arg, int gone)
{
	struct ms_session *s = arg;
	log_info("sieve", s->id, "event=credentials_revoked reason=%s",
	         gone ? "account_deleted" : "credentials_changed");
	if (!s->conn_gone) {
		ms_reply(s, "BYE", NULL, "Credentials changed.");
		close_with(s, gone ? "account_deleted" : "credentials_changed");
	}
}

static void login_done(void *arg, const struct login_result *r)
{
	struct ms_session *s = arg;
	char q[LOGIN_USER_MAX * 4 + 8];

	s->auth = NULL;
	s->state = MS_NONAUTH;
	if (r->outcome == LOGIN_OK) {
		conn_deadline(s->conn, 0, NULL, NULL);
		s->state = MS_AUTH;
		/* The bad-command count starts again, as in Pigeonhole's
		 * managesieve process after managesieve-login: what a client
		 * got wrong before authenticating does not shorten its
		 * allowance for managing scripts. */
		s->errors = 0;
		s->account = r->account;
		snprintf(s->login, sizeof(s->login), "%s", r->user);
		session_watch_join(&s->watch, ms_store, s->loop, r->account, r->apppass, r->cred, revoked,
				   s);
		log_info("sieve", s->id, "event=login user=%s mech=%s tls=%s",
		         log_q(s->login, q, sizeof(q)), r->mech, conn_tls_version(s->conn));
		if (r->scram_final && r->scram_final[0]) {
			/* RFC 5804 §2.1: SCRAM's server-final message rides on
			 * the OK as a SASL response code. */
			char b64[SCRAM_FINAL_B64_MAX];
			base64_encode(r->scram_final, strlen(r->scram_final), 0, b64, sizeof b64);
			ms_printf(s, "OK (SASL \"%s\") \"Logged in.\"\r\n", b64);
		} else {
			ms_reply(s, "OK", NULL, "Logged in.");
		}
	} else if (r->aborted || r->outcome == LOGIN_FAILED) {
		ms_reply(s, "NO", NULL,
			 r->aborted ? "Authentication aborted by client." : "Authentication failed.");
		if (r->outcome == LOGIN_FAILED)
			session_error(s);
	} else {
		ms_reply(s, "NO", "TRYLATER",
		         login_reply_outcome(r) == LOGIN_REFUSED ? "Too many failed logins; try again later."
		                                     : "Temporary authentication failure.");
	}
	conn_pause_read(s->conn, 0);
	session_input(s);
	conn_flush(s->conn);
}

static const struct login_proto ms_login = { "sieve", METRIC_AUTHFAIL_SIEVE, login_done };

static void auth_begin(struct ms_session *s, struct str user, struct str pass, const char *malformed,
		       const struct scram_server *scram)
{
	struct login_creds c = { sasl_mech_log_name(s->sasl.mech), user, pass, malformed, scram };
	struct login_request rq;

	login_request_init(&rq, &ms_login, ms_store, s->loop, s->id, s->conn->peer_ip, s, &c);
	s->state = MS_WAIT_AUTH;
	conn_pause_read(s->conn, 1);
	s->auth = login_start(&rq);
	sasl_login_end(&s->sasl);
}

/*
 * A SASL challenge: a string (RFC 5804 §2.1), sent as a literal, as Cyrus
 * timsieved sends every one. Pigeonhole sends quoted strings, which the
 * RFC allows as well, but Cyrus's sivtest reads a challenge only as a
 * literal: after a quoted one it waits for a line that never comes.
 * sieve-connect and the other clients read either.
 */
static void ms_challenge(struct ms_session *s, const char *b64)
{
	s->state = MS_SASL;
	ms_printf(s, "{%zu}\r\n%s\r\n", strlen(b64), b64);
}

static void sasl_step(struct ms_session *s, struct str b64, int initial)
{
	char msg[SASL_RESPONSE_MAX];
	struct sasl_next n;

	sasl_next_step(&s->sasl, ms_store, b64, initial, msg, &n);
	switch (n.what) {
	case SASL_NEXT_CHALLENGE:
		ms_challenge(s, n.challenge);
		break;
	case SASL_NEXT_LOGIN:
		auth_begin(s, n.user, n.pass, n.malformed, n.scram);
		break;
	case SASL_NEXT_BAD_BASE64:
		s->state = MS_NONAUTH;
		sasl_login_end(&s->sasl);
		ms_reply(s, "NO", NULL, "Invalid base64 data in the SASL response.");
		session_error(s);
		break;
	}
	explicit_bzero(msg, sizeof(msg));
	explicit_bzero(&n, sizeof(n));
}

/* ---- commands ---- */

static int arg_str(const struct msieve_cmd *c, int i, struct str *v)
{
	if (i >= c->nargs || c->args[i].kind != MSIEVE_ARG_STRING)
		return -1;
	*v = c->args[i].s;
	return 0;
}

/* The script name argument as a C string in NFC; -1 after the one NO
 * reply when it is missing, not a string or not a valid name (RFC 5804
 * §1.6). */
static int name_arg(struct ms_session *s, const struct msieve_cmd *c, int i,
                    char name[STORE_SIEVE_NAME_MAX + 1])
{
	struct str v;
	if (arg_str(c, i, &v) < 0) {
		ms_reply(s, "NO", NULL, "Expected a script name.");
		return -1;
	}
	/* Taken in NFC (RFC 5804 §1.6): the limits count the normalised
	 * name, and every later step sees that one. */
	char raw[STORE_SIEVE_NAME_IN_MAX + 1];
	if (v.len > STORE_SIEVE_NAME_IN_MAX || memchr(v.p, '\0', v.len))
		goto bad;
	memcpy(raw, v.p, v.len);
	raw[v.len] = '\0';
	if (store_sieve_name_nfc(raw, name) < 0)
		goto bad;
	return 0;
bad:
	ms_reply(s, "NO", NULL, "Invalid script name.");
	return -1;
}

static void count_cb(void *arg, const char *name, int active, size_t size)
{
	(void)name, (void)active, (void)size;
	++*(size_t *)arg;
}

/*
 * The store's STORE_ELIMIT is either limit: too many scripts, or too much
 * text in all. RFC 5804 §1.3 tells them apart: QUOTA/MAXSCRIPTS is the
 * number of scripts, and the total size has the plain QUOTA (MAXSIZE is
 * one script's size). Saying MAXSCRIPTS for the total would have a client
 * delete scripts when it could shorten one. Counted after the refusal, in
 * a read of its own: a write in between can change only which code.
 */
static void quota_failed(struct ms_session *s, const char *name)
{
	size_t n = 0;
	int exists = store_sieve_get(ms_store, s->account, name, NULL, NULL) == STORE_OK;
	if (store_sieve_list(ms_store, s->account, count_cb, &n) == STORE_OK &&
	    n - (size_t)exists + 1 > STORE_SIEVE_SCRIPTS_MAX)
		ms_reply(s, "NO", "QUOTA/MAXSCRIPTS", "Quota exceeded: too many scripts.");
	else
		ms_reply(s, "NO", "QUOTA", "Quota exceeded: too much script text in all.");
}

static void store_failed(struct ms_session *s, int rc)
{
	switch (rc) {
	case STORE_ENOTFOUND:
		ms_reply(s, "NO", "NONEXISTENT", "There is no script by that name.");
		break;
	case STORE_EEXIST:
		ms_reply(s, "NO", "ALREADYEXISTS", "A script with that name already exists.");
		break;
	case STORE_EACTIVE:
		ms_reply(s, "NO", "ACTIVE", "You may not delete an active script.");
		break;
	case STORE_ETOOBIG:
		ms_reply(s, "NO", "QUOTA/MAXSIZE", "Script is too large.");
		break;
	case STORE_EINVAL:
		ms_reply(s, "NO", NULL, "Invalid script name.");
		break;
	default:
		ms_reply(s, "NO", "TRYLATER", "Temporary failure; try again later.");
		break;
	}
}

/* ---- store writes and compiles on the worker pool ---- */

static void job_run(void *arg)
{
	struct ms_job *j = arg;

	switch (j->kind) {
	case MS_JOB_PUT:
	case MS_JOB_CHECK:
		/* on the worker pool: a 512 KiB script with its regular
		 * expressions is up to a few hundred ms of CPU */
		script_check_text(&j->chk, j->text, j->len);
		if (j->chk.invalid || j->kind == MS_JOB_CHECK)
			return;
		j->rc = store_sieve_put(ms_store, j->account, j->name, j->text, j->len, time_wall());
		break;
	case MS_JOB_ACTIVATE:
		j->rc = script_check_activate(&j->chk);
		break;
	case MS_JOB_DELETE:
		j->rc = store_sieve_del(ms_store, j->account, j->name);
		break;
	case MS_JOB_RENAME:
		j->rc = store_sieve_rename(ms_store, j->account, j->name, j->name2);
		break;
	}
}

static void job_reply(struct ms_session *s, struct ms_job *j)
{
	char q[STORE_SIEVE_NAME_MAX * 4 + 8];

	if (j->chk.invalid) {
		ms_reply(s, "NO", NULL, j->chk.err);
		return;
	}
	if (j->rc == STORE_ELIMIT && j->kind == MS_JOB_PUT) {
		quota_failed(s, j->name);
		return;
	}
	if (j->rc != STORE_OK) {
		store_failed(s, j->rc);
		return;
	}
	switch (j->kind) {
	case MS_JOB_PUT:
		log_info("sieve", s->id, "event=putscript name=%s size=%zu",
		         log_q(j->name, q, sizeof(q)), j->len);
		/* RFC 5804 §2.6: a script stored that has warnings is
		 * answered OK (WARNINGS) with them */
		if (j->chk.warn[0])
			ms_reply(s, "OK", "WARNINGS", j->chk.warn);
		else
			ms_reply(s, "OK", NULL, "Putscript completed.");
		break;
	case MS_JOB_CHECK:
		if (j->chk.warn[0])
			ms_reply(s, "OK", "WARNINGS", j->chk.warn);
		else
			ms_reply(s, "OK", NULL, "Script is valid.");
		break;
	case MS_JOB_ACTIVATE:
		if (j->chk.warn[0])
			ms_reply(s, "OK", "WARNINGS", j->chk.warn);
		else
			ms_reply(s, "OK", NULL,
			         j->name[0] ? "Setactive completed." : "Active script is now deactivated.");
		break;
	case MS_JOB_DELETE:
		ms_reply(s, "OK", NULL, "Deletescript completed.");
		break;
	case MS_JOB_RENAME:
		ms_reply(s, "OK", NULL, "Renamescript completed.");
		break;
	}
}

static void job_done(void *arg)
{
	struct ms_job *j = arg;
	struct ms_session *s = j->s;

	s->job = NULL;
	if (s->conn_gone) {
		/* The write is made all the same; nobody is left to tell. */
		free(j->text);
		free(j);
		session_free(s);
		return;
	}
	/* A BYE (credentials revoked) may have ended the session meanwhile:
	 * nothing more is said after it. */
	if (s->state == MS_WAIT_STORE) {
		s->state = MS_AUTH;
		job_reply(s, j);
	}
	free(j->text);
	free(j);
	conn_pause_read(s->conn, 0);
	session_input(s);
	conn_flush(s->conn);
}

static void job_start(struct ms_session *s, enum ms_job_kind kind, const char *name,
                      const char *name2, struct str text)
{
	struct ms_job *j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->kind = kind;
	j->account = s->account;
	snprintf(j->name, sizeof(j->name), "%s", name);
	if (name2)
		snprintf(j->name2, sizeof(j->name2), "%s", name2);
	snprintf(j->login, sizeof(j->login), "%s", s->login);
	script_check_init(&j->chk, ms_store, s->account, name);
	j->chk.login = j->login;
	j->chk.sep = "\r\n";
	if (kind == MS_JOB_PUT || kind == MS_JOB_CHECK) {
		/* The text lives in the conn's input buffer, which goes with
		 * the conn if the client hangs up while the job runs. */
		j->text = xmalloc(text.len ? text.len : 1);
		memcpy(j->text, text.p, text.len);
		j->len = text.len;
	}
	j->wj.fn = job_run;
	j->wj.done = job_done;
	j->wj.arg = j;
	j->wj.loop = s->loop;
	s->job = j;
	s->state = MS_WAIT_STORE;
	conn_pause_read(s->conn, 1);
	worker_submit(&j->wj);
}

static void list_cb(void *arg, const char *name, int active, size_t size)
{
	struct ms_session *s = arg;
	(void)size;
	ms_string(s, str_c(name));
	if (active)
		ms_write(s, " ACTIVE", 7);
	ms_write(s, "\r\n", 2);
}

enum { N_ANY = 1, N_AUTH = 2 };

static void run_command(struct ms_session *s, struct msieve_cmd *c)
{
	char name[STORE_SIEVE_NAME_MAX + 1], name2[STORE_SIEVE_NAME_MAX + 1];
	struct str v;
	int rc;
#define IS(x) str_eq_ci(c->name, STR_LIT(x))
#define NEED_AUTH()                                                                         \
	do {                                                                                \
		if (s->state != MS_AUTH) {                                                  \
			ms_reply(s, "NO", NULL, "Authenticate first.");                     \
			session_error(s);                                                   \
			return;                                                             \
		}                                                                           \
	} while (0)
#define ARGS(n)                                                                             \
	do {                                                                                \
		if (c->nargs != (n)) {                                                      \
			ms_reply(s, "NO", NULL, "Wrong number of arguments.");              \
			session_error(s);                                                   \
			return;                                                             \
		}                                                                           \
	} while (0)

	if (IS("CAPABILITY")) {
		ARGS(0);
		capabilities(s);
		ms_reply(s, "OK", NULL, "Capability completed.");
	} else if (IS("LOGOUT")) {
		ARGS(0); /* "LOGOUT" CRLF (RFC 5804 §4): not logged out by a malformed one */
		ms_reply(s, "OK", NULL, "Logout completed.");
		close_with(s, "logout");
	} else if (IS("NOOP")) {
		if (c->nargs > 1 || (c->nargs == 1 && arg_str(c, 0, &v) < 0)) {
			ms_reply(s, "NO", NULL, "Wrong arguments.");
			session_error(s);
			return;
		}
		if (c->nargs == 1) {
			ms_write(s, "OK (TAG ", 8);
			ms_string(s, v);
			ms_write(s, ") \"Done\"\r\n", 10);
		} else {
			ms_reply(s, "OK", NULL, "Done.");
		}
	} else if (IS("STARTTLS")) {
		ARGS(0);
		if (s->conn->tls || s->state == MS_AUTH) {
			ms_reply(s, "NO", NULL, "TLS is already active.");
			session_error(s);
			return;
		}
		if (conn_starttls(s->conn) < 0) {
			ms_reply(s, "NO", "TRYLATER", "TLS is not available.");
			return;
		}
		ms_reply(s, "OK", NULL, "Begin TLS negotiation now.");
		s->starttls_pending = 1;
	} else if (IS("AUTHENTICATE")) {
		struct str mech, init;
		if (s->state == MS_AUTH) {
			ms_reply(s, "NO", NULL, "Already authenticated.");
			session_error(s);
			return;
		}
		if (c->nargs < 1 || c->nargs > 2 || arg_str(c, 0, &mech) < 0 ||
		    (c->nargs == 2 && arg_str(c, 1, &init) < 0)) {
			ms_reply(s, "NO", NULL, "Wrong arguments.");
			session_error(s);
			return;
		}
		if (!secure(s)) {
			ms_reply(s, "NO", "ENCRYPT-NEEDED", "Authentication requires TLS (use STARTTLS).");
			session_error(s);
			return;
		}
		if (sasl_login_start_scram(&s->sasl, mech) < 0) {
			ms_reply(s, "NO", NULL, "Unsupported authentication mechanism.");
			session_error(s);
			return;
		}
		if (c->nargs == 2) {
			sasl_step(s, init, 1);
			return;
		}
		/* PLAIN and SCRAM: the client speaks first (an empty challenge). */
		ms_challenge(s, s->sasl.mech == SASL_MECH_LOGIN ? SASL_LOGIN_USERNAME : "");
	} else if (IS("UNAUTHENTICATE")) {
		ARGS(0);
		NEED_AUTH();
		session_watch_leave(&s->watch);
		s->state = MS_NONAUTH;
		s->account = 0;
		s->login[0] = '\0';
		conn_deadline(s->conn, (uint64_t)ms_cfg->login_timeout_s * 1000,
		              "BYE \"Login timeout.\"\r\n", "login_timeout");
		ms_reply(s, "OK", NULL, "Unauthenticate completed.");
	} else if (IS("HAVESPACE")) {
		NEED_AUTH();
		ARGS(2);
		if (name_arg(s, c, 0, name) < 0)
			return;
		if (c->args[1].kind != MSIEVE_ARG_NUMBER) {
			ms_reply(s, "NO", NULL, "Expected a script name and a size.");
			return;
		}
		if (c->args[1].num > SIEVE_SCRIPT_MAX) {
			ms_reply(s, "NO", "QUOTA/MAXSIZE", "Script is too large.");
			return;
		}
		rc = store_sieve_room(ms_store, s->account, name, (size_t)c->args[1].num);
		if (rc == STORE_OK)
			ms_reply(s, "OK", NULL, "Putscript would succeed.");
		else if (rc == STORE_ELIMIT)
			quota_failed(s, name);
		else
			store_failed(s, rc);
	} else if (IS("PUTSCRIPT")) {
		NEED_AUTH();
		ARGS(2);
		if (name_arg(s, c, 0, name) < 0)
			return;
		if (arg_str(c, 1, &v) < 0) {
			ms_reply(s, "NO", NULL, "Expected a script name and a script.");
			return;
		}
		job_start(s, MS_JOB_PUT, name, NULL, v);
	} else if (IS("CHECKSCRIPT")) {
		NEED_AUTH();
		ARGS(1);
		if (arg_str(c, 0, &v) < 0) {
			ms_reply(s, "NO", NULL, "Expected a script.");
			return;
		}
		job_start(s, MS_JOB_CHECK, "", NULL, v);
	} else if (IS("LISTSCRIPTS")) {
		NEED_AUTH();
		ARGS(0);
		rc = store_sieve_list(ms_store, s->account, list_cb, s);
		if (rc == STORE_OK)
			ms_reply(s, "OK", NULL, "Listscripts completed.");
		else
			store_failed(s, rc);
	} else if (IS("SETACTIVE")) {
		NEED_AUTH();
		ARGS(1);
		if (arg_str(c, 0, &v) < 0) {
			ms_reply(s, "NO", NULL, "Expected a script name.");
			return;
		}
		if (v.len == 0) {
			name[0] = '\0';
		} else if (name_arg(s, c, 0, name) < 0) {
			return;
		}
		job_start(s, MS_JOB_ACTIVATE, name, NULL, STR_NULL);
	} else if (IS("GETSCRIPT")) {
		struct buf b;
		NEED_AUTH();
		ARGS(1);
		if (name_arg(s, c, 0, name) < 0)
			return;
		buf_init(&b, STORE_SIEVE_BYTES_MAX);
		rc = store_sieve_get(ms_store, s->account, name, &b, NULL);
		if (rc == STORE_OK) {
			ms_printf(s, "{%zu}\r\n", buf_len(&b));
			ms_write(s, buf_data(&b), buf_len(&b));
			ms_write(s, "\r\n", 2);
			ms_reply(s, "OK", NULL, "Getscript completed.");
		} else {
			store_failed(s, rc);
		}
		buf_free(&b);
	} else if (IS("DELETESCRIPT")) {
		NEED_AUTH();
		ARGS(1);
		if (name_arg(s, c, 0, name) < 0)
			return;
		job_start(s, MS_JOB_DELETE, name, NULL, STR_NULL);
	} else if (IS("RENAMESCRIPT")) {
		NEED_AUTH();
		ARGS(2);
		if (name_arg(s, c, 0, name) < 0)
			return;
		if (name_arg(s, c, 1, name2) < 0)
			return;
		job_start(s, MS_JOB_RENAME, name, name2, STR_NULL);
	} else {
		ms_reply(s, "NO", NULL, "Unknown command.");
		session_error(s);
	}
#undef IS
#undef NEED_AUTH
#undef ARGS
}

/* Part of a command is in (it runs only whole), or a refused one's rest
 * is still to come. */
static int mid_command(struct ms_session *s)
{
	return buf_len(&s->conn->in) > 0 || s->discard || s->discard_line;
}

static void session_input(struct ms_session *s)
{
	struct msieve_cmd *cmd = NULL;

	while (!s->conn_gone && s->state != MS_CLOSING && s->state != MS_WAIT_AUTH &&
	       s->state != MS_WAIT_STORE) {
		struct buf *in = &s->conn->in;
		if (s->starttls_pending)
			break; /* nothing is read until TLS is up (RFC 5804 §2.2) */
		/* Stopping: a command half read (a PUTSCRIPT's script on its
		 * way) is read to its end and runs first. */
		if (s->draining && s->state != MS_SASL && !mid_command(s)) {
			ms_reply(s, "BYE", "TRYLATER", "Server shutting down.");
			close_with(s, "shutdown");
			break;
		}
		if (buf_len(in) == 0)
			break;
		if (buf_len(&s->conn->out) > MSIEVE_OUT_MAX - MSIEVE_ANSWER_MAX) {
			/* The client reads none of its answers: nothing more is
			 * read from it until it does (session_drained resumes),
			 * or its commands would pile up to MSIEVE_IN_MAX, before
			 * authentication too. */
			s->out_full = 1;
			conn_pause_read(s->conn, 1);
			break;
		}
		if (s->discard) {
			size_t n = buf_len(in) < s->discard ? buf_len(in) : (size_t)s->discard;
			buf_consume_wipe(in, n); /* a refused AUTHENTICATE's literal too */
			s->discard -= n;
			continue;
		}
		if (s->discard_line) {
			/* The rest of a refused command's line; when it ends
			 * announcing another literal, that one's octets too. */
			size_t e = msieve_line_end(buf_data(in), buf_len(in));
			uint64_t n = 0;
			int lit = e && msieve_line_literal(buf_data(in), e, &n);
			if (lit && discard_literal(s, n) < 0)
				break;
			/* Without its end, the line's last octets stay: they may
			 * begin the announcement the next piece ends. */
			size_t drop = e                                 ? e
			              : buf_len(in) > MSIEVE_ANNOUNCE_MAX ? buf_len(in) - MSIEVE_ANNOUNCE_MAX
			                                                  : 0;
			if (!drop)
				break;
			buf_consume_wipe(in, drop); /* it may be a refused SASL response's */
			if (e && !lit)
				s->discard_line = 0;
			continue;
		}
		if (buf_len(in) < s->need)
			break;
		if (s->state == MS_SASL && (buf_data(in)[0] == '"' || buf_data(in)[0] == '{')) {
			/* A quoted string or a literal (RFC 5804 §2.1: either may
			 * carry a SASL response), read as a command's argument. */
			if (!cmd)
				cmd = xmalloc(sizeof(*cmd));
			size_t consumed = 0, need = 0;
			int r = msieve_parse_response(buf_data(in), buf_len(in), literal_max(s), cmd,
			                              &consumed, &need);
			if (r == MSIEVE_MORE) {
				s->need = need;
				break;
			}
			s->need = 0;
			if (r == MSIEVE_TOOBIG) {
				sasl_login_end(&s->sasl);
				literal_too_big_preauth(s, cmd);
				explicit_bzero(cmd, sizeof(*cmd));
				break;
			}
			struct str user;
			if (r == MSIEVE_OK && !str_eq(cmd->args[0].s, STR_LIT("*"))) {
				sasl_step(s, cmd->args[0].s, 0);
			} else if (r == MSIEVE_OK && sasl_login_cancel_counts(&s->sasl, &user)) {
				auth_begin(s, user, STR_NULL, LOGIN_ABORTED, NULL); /* counted */
			} else {
				s->state = MS_NONAUTH;
				sasl_login_end(&s->sasl);
				if (r == MSIEVE_LONG)
					s->discard_line = 1;
				if (r != MSIEVE_BAD || !cmd->skip_literal ||
				    discard_literal(s, cmd->skip) == 0)
					ms_reply(s, "NO", NULL,
					         r == MSIEVE_OK ? "Authentication aborted by client."
					                        : "Bad SASL response.");
			}
			explicit_bzero(cmd, sizeof(*cmd));
			buf_consume_wipe(in, consumed);
			continue;
		}
		if (s->state == MS_SASL) {
			/* A bare line (what some clients send). */
			size_t e = msieve_line_end(buf_data(in), buf_len(in));
			if (!e) {
				if (buf_len(in) > MSIEVE_LINE_MAX) {
					s->discard_line = 1;
					s->state = MS_NONAUTH;
					sasl_login_end(&s->sasl);
					ms_reply(s, "NO", NULL, "SASL response too long.");
				}
				break;
			}
			struct str line = str_make(buf_data(in), e);
			while (line.len && (line.p[line.len - 1] == '\n' || line.p[line.len - 1] == '\r'))
				line.len--;
			if (line.len >= 2 && line.p[0] == '"' && line.p[line.len - 1] == '"')
				line = str_make(line.p + 1, line.len - 2);
			struct str user;
			if (str_eq(line, STR_LIT("*")) && sasl_login_cancel_counts(&s->sasl, &user)) {
				auth_begin(s, user, STR_NULL, LOGIN_ABORTED, NULL);
			} else if (str_eq(line, STR_LIT("*"))) {
				s->state = MS_NONAUTH;
				sasl_login_end(&s->sasl);
				ms_reply(s, "NO", NULL, "Authentication aborted by client.");
			} else {
				sasl_step(s, line, 0);
			}
			buf_consume_wipe(in, e);
			continue;
		}
		if (!cmd)
			cmd = xmalloc(sizeof(*cmd));
		size_t consumed = 0, need = 0;
		int r = msieve_parse(buf_data(in), buf_len(in), literal_max(s), cmd, &consumed, &need);
		if (r == MSIEVE_MORE) {
			if (need > MSIEVE_IN_MAX) {
				ms_reply(s, "BYE", NULL, "Command too long.");
				close_with(s, "command_too_long");
				break;
			}
			s->need = need;
			break;
		}
		s->need = 0;
		if (r == MSIEVE_OK) {
			int secret = str_eq_ci(cmd->name, STR_LIT("AUTHENTICATE"));
			run_command(s, cmd);
			if (secret) {
				explicit_bzero(cmd, sizeof(*cmd));
				buf_consume_wipe(in, consumed);
			} else {
				buf_consume(in, consumed);
			}
			continue;
		}
		/* A refused line may be an AUTHENTICATE's (malformed, too
		 * long, cut by the network into pieces): its name may not
		 * even be in what is dropped, so every refused octet is
		 * wiped, as POP3 does. Refusals are rare: the cost is nil. */
		buf_consume_wipe(in, consumed);
		if (r == MSIEVE_TOOBIG && s->state != MS_AUTH) {
			literal_too_big_preauth(s, cmd);
			break;
		}
		if (r == MSIEVE_LONG) {
			s->discard_line = 1;
			ms_reply(s, "NO", NULL, "Line too long.");
		} else if (r == MSIEVE_TOOBIG) {
			s->discard = cmd->skip;
			s->discard_line = 1;
			ms_reply(s, "NO", "QUOTA/MAXSIZE", cmd->err);
		} else {
			if (cmd->skip_literal && discard_literal(s, cmd->skip) < 0)
				break;
			ms_reply(s, "NO", NULL, cmd->err);
		}
		if (session_error(s))
			break;
	}
	/* The parse decodes quoted strings into cmd: a half-read or refused
	 * AUTHENTICATE's SASL response may be there (the accepted one is
	 * wiped where it ran). */
	if (cmd)
		explicit_bzero(cmd, sizeof(*cmd));
	free(cmd);
}

/* ---- timers and life cycle ---- */

static void idle_timeout(struct loop *loop, void *arg);

static void idle_rearm(struct ms_session *s)
{
	if (s->idle_timer)
		loop_timer_del(s->loop, s->idle_timer);
	s->idle_timer = loop_timer_add(s->loop, MSIEVE_IDLE_MS, idle_timeout, s);
}

static int handshaking(const struct ms_session *s)
{
	return s->conn->tls && !conn_tls_established(s->conn);
}

static void idle_timeout(struct loop *loop, void *arg)
{
	struct ms_session *s = arg;
	(void)loop;
	s->idle_timer = 0;
	if (handshaking(s)) {
		log_info("sieve", s->id, "event=timeout kind=tls_handshake");
		conn_close(s->conn, "tls_handshake_timeout");
		return;
	}
	if (s->state == MS_WAIT_AUTH || s->state == MS_WAIT_STORE) {
		idle_rearm(s); /* our side is working; it answers soon */
		return;
	}
	log_info("sieve", s->id, "event=timeout kind=idle");
	ms_reply(s, "BYE", NULL, "Disconnected for inactivity.");
	close_with(s, "idle_timeout");
}

static int greet(struct ms_session *s)
{
	if (s->greeted)
		return 0;
	s->greeted = 1;
	if (s->refused) {
		ms_reply(s, "BYE", "TRYLATER", s->refused);
		close_with(s, "connection_limit");
		return -1;
	}
	idle_rearm(s);
	capabilities(s);
	ms_reply(s, "OK", NULL, "tern ManageSieve ready.");
	return 0;
}

/* After STARTTLS, once the handshake is over: the capabilities again. */
static void tls_up(struct ms_session *s)
{
	if (s->starttls_pending && s->conn->tls && conn_tls_established(s->conn)) {
		s->starttls_pending = 0;
		capabilities(s);
		ms_reply(s, "OK", NULL, "TLS negotiation successful.");
	}
}

static void session_data(struct conn *c, void *arg)
{
	struct ms_session *s = arg;
	(void)c;
	if (greet(s) < 0)
		return;
	tls_up(s);
	idle_rearm(s);
	session_input(s);
}

static void session_drained(struct conn *c, void *arg)
{
	struct ms_session *s = arg;
	if (greet(s) < 0)
		return;
	tls_up(s);
	if (s->out_full) {
		s->out_full = 0;
		/* a store job or a login still under way keeps its own pause */
		if (s->state != MS_WAIT_STORE && s->state != MS_WAIT_AUTH)
			conn_pause_read(c, 0);
	}
	if (buf_len(&c->in) > 0)
		session_input(s);
}

static void session_closed(struct conn *c, void *arg, const char *reason)
{
	struct ms_session *s = arg;
	char q[LOGIN_USER_MAX * 4 + 8];

	if (s->limited) /* a refused connection logged its one line */
		log_info("sieve", s->id, "event=disconnect reason=%s user=%s in=%llu out=%llu",
		         reason, s->login[0] ? log_q(s->login, q, sizeof(q)) : "-",
		         (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out);
	if (s->idle_timer)
		loop_timer_del(s->loop, s->idle_timer);
	s->idle_timer = 0;
	login_abandon(&s->auth);
	session_watch_leave(&s->watch);
	if (s->limited)
		limits_release(POOL_SIEVE, c->peer_ip);
	s->conn_gone = 1;
	s->conn = NULL;
	session_free(s);
}

static void accept_session(struct loop *loop, int fd, uint32_t account, const char *login);

void msieve_server_accept(struct loop *loop, int fd, void *arg)
{
	(void)arg;
	accept_session(loop, fd, 0, NULL);
}

void msieve_server_accept_preauth(struct loop *loop, int fd, uint32_t account, const char *login)
{
	accept_session(loop, fd, account, login);
}

/* account != 0: authenticated as login from the start, with no watch on
 * its credentials (msieve_server_accept_preauth). */
static void accept_session(struct loop *loop, int fd, uint32_t account, const char *login)
{
	struct ms_session *s = xcalloc(1, sizeof(*s));
	uint64_t n = __atomic_add_fetch(&session_counter, 1, __ATOMIC_RELAXED);

	snprintf(s->id, sizeof(s->id), "%012llx",
	         (unsigned long long)((session_base + n) & 0xffffffffffffull));
	s->loop = loop;
	s->conn = conn_new(loop, fd, 0, MSIEVE_IN_MAX, MSIEVE_OUT_MAX, &ms_conn_ops, s);
	if (!s->conn) {
		free(s);
		return;
	}
	__atomic_add_fetch(&sessions_alive, 1, __ATOMIC_SEQ_CST);
	s->next = loop_sessions;
	if (loop_sessions)
		loop_sessions->prev = s;
	loop_sessions = s;
	metrics_inc(METRIC_CONN_SIEVE);
	int lim = limits_acquire(POOL_SIEVE, s->conn->peer_ip);
	if (lim < 0 || loop_draining) {
		s->refused = loop_draining ? "Server shutting down."
		             : lim == -2   ? "Too many connections from your address."
		                           : "Too many connections.";
		/* One line at most (limits.h); no connect or disconnect line. */
		limits_log_refused(POOL_SIEVE, "sieve", s->id, s->conn->peer_ip, s->conn->peer_port,
		                   loop_draining ? "shutdown"
		                   : lim == -2   ? "per_ip_limit"
		                                 : "connection_limit");
	} else {
		log_info("sieve", s->id, "event=connect peer=%s port=%u", s->conn->peer_ip,
		         s->conn->peer_port);
		s->limited = 1;
		conn_deadline(s->conn, (uint64_t)ms_cfg->login_timeout_s * 1000,
		              "BYE \"Login timeout.\"\r\n", "login_timeout");
		if (account) {
			conn_deadline(s->conn, 0, NULL, NULL);
			s->state = MS_AUTH;
			s->account = account;
			snprintf(s->login, sizeof(s->login), "%s", login);
		}
	}
	greet(s);
	conn_flush(s->conn);
}

void msieve_server_drain(void)
{
	loop_draining = 1;
	for (struct ms_session *s = loop_sessions, *n; s; s = n) {
		n = s->next;
		s->draining = 1;
		/* A store write finishes first; session_input then says BYE. */
		if (s->conn_gone || s->state == MS_CLOSING || s->state == MS_WAIT_AUTH ||
		    s->state == MS_WAIT_STORE || (s->state != MS_SASL && mid_command(s)))
			continue;
		if (handshaking(s)) {
			conn_close(s->conn, "shutdown");
			continue;
		}
		ms_reply(s, "BYE", "TRYLATER", "Server shutting down.");
		close_with(s, "shutdown");
		conn_flush(s->conn);
	}
}

void msieve_server_close_all(void)
{
	for (struct ms_session *s = loop_sessions, *n; s; s = n) {
		n = s->next;
		if (!s->conn_gone && s->state != MS_WAIT_STORE)
			conn_close(s->conn, "shutdown");
	}
}
