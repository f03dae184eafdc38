/*
 * pop3_session.c — POP3 sessions: accept, input framing, dispatch, state,
 * timers, limits and shutdown.
 *
 * Each command goes check (the verb table at the end says in which states
 * it is allowed) -> policy -> proceed in its handler: authentication in
 * pop3_auth.c, the maildrop in pop3_mail.c. Replies follow Dovecot's
 * wording where RFC 1939 leaves it open, so clients that match on text see
 * what they know.
 *
 * Pipelining (RFC 2449 PIPELINING): every complete command line buffered is
 * run in order, until the output holds POP3_OUT_HIGH octets; then input
 * waits until the output drained (session_drained), which holds a client
 * that sends faster than it reads.
 */
#include "pop3/pop3_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth/sasl.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "net/conn.h"
#include "net/limits.h"
#include "pop3/pop3_server.h"

const struct config *pop3_cfg;
struct store *pop3_store;
static unsigned sessions_alive;
static uint64_t session_base;
static uint64_t session_counter;
static _Thread_local struct pop3_session *loop_sessions;
static _Thread_local int loop_draining;

static void session_data(struct conn *c, void *arg);
static void session_drained(struct conn *c, void *arg);
static void session_closed(struct conn *c, void *arg, const char *reason);
static const struct conn_ops pop3_conn_ops = {
	.on_data = session_data,
	.on_drained = session_drained,
	.on_close = session_closed,
	.oom_goodbye = "-ERR [SYS/TEMP] Out of memory, try again later\r\n",
};

void pop3_server_init(const struct config *cfg, struct store *st)
{
	pop3_cfg = cfg;
	pop3_store = st;
	if (getrandom(&session_base, sizeof(session_base), 0) != sizeof(session_base))
		session_base = (uint64_t)time_wall() << 20;
}

unsigned pop3_server_sessions(void)
{
	return __atomic_load_n(&sessions_alive, __ATOMIC_SEQ_CST);
}

int pop3_secure(const struct pop3_session *s)
{
	return s->conn && s->conn->tls != NULL;
}

void pop3_write(struct pop3_session *s, const char *p, size_t n)
{
	if (s->conn_gone)
		return;
	if (conn_write(s->conn, p, n) < 0 && s->state != POP3_S_CLOSING) {
		/* Not expected: every producer checks POP3_OUT_HIGH first. Not
		 * conn_close(): callers still use s after writing. */
		log_warn("pop3", s->id, "event=output_overflow");
		pop3_close_with(s, "output_overflow");
	}
}

void pop3_reply(struct pop3_session *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	pop3_write(s, line, (size_t)n);
}

void pop3_close_with(struct pop3_session *s, const char *reason)
{
	s->state = POP3_S_CLOSING;
	if (!s->conn_gone)
		conn_close_after_flush(s->conn, reason);
}

int pop3_session_error(struct pop3_session *s)
{
	if (++s->errors < POP3_MAX_ERRORS)
		return 0;
	pop3_reply(s, "-ERR Too many bad commands.");
	log_info("pop3", s->id, "event=too_many_errors errors=%u", s->errors);
	pop3_close_with(s, "too_many_errors");
	return 1;
}

void pop3_session_free(struct pop3_session *s)
{
	if (s->expunge || s->flushing)
		return; /* the job's completion, or pop3_flush, frees us */
	pop3_auth_release(s);
	store_hold_release(pop3_store, &s->send.hold); /* a RETR cut short */
	buf_free(&s->send.head);
	free(s->msgs);
	s->msgs = NULL;
	if (s->prev)
		s->prev->next = s->next;
	else if (loop_sessions == s)
		loop_sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	explicit_bzero(s->user, sizeof(s->user));
	free(s);
	__atomic_sub_fetch(&sessions_alive, 1, __ATOMIC_SEQ_CST);
}

void pop3_flush(struct pop3_session *s)
{
	/* conn_flush() may run our callbacks and even close the conn: the
	 * session stays allocated until it returned. */
	s->flushing++;
	conn_flush(s->conn);
	if (--s->flushing == 0 && s->conn_gone)
		pop3_session_free(s);
}

/* ---- timers ---- */

static void idle_timeout(struct loop *loop, void *arg);

static void idle_rearm(struct pop3_session *s)
{
	if (s->idle_timer)
		loop_timer_del(s->loop, s->idle_timer);
	s->idle_timer =
		loop_timer_add(s->loop, (uint64_t)pop3_cfg->pop3_timeout_s * 1000, idle_timeout, s);
}

/* 1 while a TLS handshake runs (POP3S before the greeting, or after STLS). */
static int handshaking(const struct pop3_session *s)
{
	return s->conn->tls && !conn_tls_established(s->conn);
}

static void idle_timeout(struct loop *loop, void *arg)
{
	struct pop3_session *s = arg;

	s->idle_timer = 0;
	if (handshaking(s)) {
		/* Nothing can be said before the handshake ends; a reply queued
		 * now could not leave and would keep the conn busy. */
		log_info("pop3", s->id, "event=timeout kind=tls_handshake");
		conn_close(s->conn, "tls_handshake_timeout"); /* frees s */
		return;
	}
	if (s->state == POP3_S_WAIT_AUTH || s->state == POP3_S_UPDATE) {
		idle_rearm(s); /* our side is working; it answers soon */
		return;
	}
	log_info("pop3", s->id, "event=timeout kind=idle state=%d", s->state);
	/* In the middle of a body a "-ERR" line would be taken as content. */
	if (s->send.kind == POP3_SEND_NONE)
		pop3_reply(s, "-ERR Disconnected for inactivity.");
	pop3_close_with(s, "idle_timeout");
}

/* ---- commands ---- */

static void cmd_capa(struct pop3_session *s, struct pop3_cmd *cmd)
{
	char buf[512];
	int tls = pop3_secure(s);
	int stls = s->state != POP3_S_TRANSACTION && !tls && !s->stls_pending;

	/*
	 * Dovecot's list and order. Over plaintext only STLS is offered: USER
	 * and SASL appear once the connection is secure (no mechanism may be
	 * used without TLS, loopback included). They stay in the list after
	 * login: RFC 2449 §5 "Capabilities available in the AUTHORIZATION
	 * state MUST be announced in both states" (Dovecot drops them there).
	 * A session in TRANSACTION is always over TLS.
	 */
	snprintf(buf, sizeof(buf),
		 "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n"
		 "EXPIRE NEVER\r\nUTF8 USER\r\nLANG\r\n%s%s%s%s%sIMPLEMENTATION tern\r\n.\r\n",
		 stls ? "STLS\r\n" : "", tls ? "USER\r\n" : "", tls ? "SASL " : "",
		 tls ? sasl_mechs() : "", tls ? "\r\n" : "");
	pop3_write(s, buf, strlen(buf));
}

static void cmd_stls(struct pop3_session *s, struct pop3_cmd *cmd)
{
	if (s->conn->tls) {
		pop3_reply(s, "-ERR TLS is already active.");
		pop3_session_error(s);
		return;
	}
	if (conn_starttls(s->conn) < 0) {
		pop3_reply(s, "-ERR [SYS/TEMP] TLS is not available.");
		return;
	}
	pop3_reply(s, "+OK Begin TLS negotiation now.");
	/* RFC 2595 §4: forget what was said in plaintext. */
	explicit_bzero(s->user, sizeof(s->user));
	s->utf8 = 0;
	s->stls_pending = 1;
}

static void cmd_utf8(struct pop3_session *s, struct pop3_cmd *cmd)
{
	s->utf8 = 1;
	pop3_reply(s, "+OK UTF8 enabled");
}

/*
 * LANG (RFC 6856 §3): the language of the human-readable text, which is
 * English only here. Bare, the listing (one language); with a range
 * that selects English (pop3_lang_select), "+OK" and the tag chosen;
 * with another, -ERR and the text stays as it was, as §3 says of a
 * failed LANG. Nothing changes either way: English is all there is.
 */
static void cmd_lang(struct pop3_session *s, struct pop3_cmd *cmd)
{
	static const char listing[] = "+OK Language listing follows:\r\nen English\r\n.\r\n";

	if (cmd->arg.len == 0) {
		pop3_write(s, listing, sizeof(listing) - 1);
		return;
	}
	if (pop3_lang_select(cmd->arg) == 1)
		pop3_reply(s, "+OK en Language is English.");
	else
		pop3_reply(s, "-ERR Invalid language.");
}

static void cmd_noop(struct pop3_session *s, struct pop3_cmd *cmd)
{
	pop3_reply(s, "+OK");
}

static void cmd_quit(struct pop3_session *s, struct pop3_cmd *cmd)
{
	if (s->state == POP3_S_TRANSACTION) {
		pop3_quit_transaction(s);
		return;
	}
	pop3_reply(s, "+OK Logging out.");
	pop3_close_with(s, "quit");
}

typedef void pop3_cmd_fn(struct pop3_session *s, struct pop3_cmd *cmd);

/* Verbs, the states they are valid in, and their handlers. */
struct pop3_verb_rule {
	enum pop3_verb verb;
	unsigned states; /* bit per enum pop3_state */
	pop3_cmd_fn *fn;
};

#define ST(x) (1u << (x))
#define AUTHZ ST(POP3_S_AUTHORIZATION)
#define TRANS ST(POP3_S_TRANSACTION)
static const struct pop3_verb_rule verb_rules[] = {
	{ POP3_VERB_CAPA, AUTHZ | TRANS, cmd_capa },
	{ POP3_VERB_QUIT, AUTHZ | TRANS, cmd_quit },
	{ POP3_VERB_USER, AUTHZ, pop3_cmd_user },
	{ POP3_VERB_PASS, AUTHZ, pop3_cmd_pass },
	{ POP3_VERB_APOP, AUTHZ, pop3_cmd_apop },
	{ POP3_VERB_AUTH, AUTHZ, pop3_cmd_auth },
	{ POP3_VERB_STLS, AUTHZ, cmd_stls },
	{ POP3_VERB_UTF8, AUTHZ, cmd_utf8 },
	{ POP3_VERB_LANG, AUTHZ | TRANS, cmd_lang },
	{ POP3_VERB_STAT, TRANS, pop3_cmd_stat },
	{ POP3_VERB_LIST, TRANS, pop3_cmd_list },
	{ POP3_VERB_UIDL, TRANS, pop3_cmd_uidl },
	{ POP3_VERB_RETR, TRANS, pop3_cmd_retr },
	{ POP3_VERB_TOP, TRANS, pop3_cmd_top },
	{ POP3_VERB_DELE, TRANS, pop3_cmd_dele },
	{ POP3_VERB_RSET, TRANS, pop3_cmd_rset },
	{ POP3_VERB_NOOP, TRANS, cmd_noop },
};

static void dispatch(struct pop3_session *s, struct str line)
{
	struct pop3_cmd cmd;
	int r = pop3_cmd_parse(line, &cmd);
	const struct pop3_verb_rule *rule = NULL;
	unsigned quiet = s->sasl_quiet;

	/* AUTH LOGIN's two responses at most. */
	s->sasl_quiet = cmd.verb == POP3_VERB_AUTH ? 2 : quiet ? quiet - 1 : 0;
	for (size_t i = 0; i < sizeof(verb_rules) / sizeof(verb_rules[0]); i++)
		if (verb_rules[i].verb == cmd.verb)
			rule = &verb_rules[i];
	if (!rule) {
		log_unknown_command("pop3", s->id, cmd.verb_str.p, cmd.verb_str.len, line.len,
				    quiet != 0);
		pop3_reply(s, "-ERR Unknown command.");
		pop3_session_error(s);
		return;
	}
	if (!(rule->states & ST(s->state))) {
		pop3_reply(s, "-ERR Command not allowed in this state.");
		pop3_session_error(s);
		return;
	}
	if (r != POP3_PARSE_OK) {
		pop3_reply(s, "-ERR %s", cmd.err);
		pop3_session_error(s);
		return;
	}
	rule->fn(s, &cmd);
}

/* Lines that may carry a password are wiped from the input buffer. */
static int line_is_secret(const struct pop3_session *s, struct str line)
{
	return s->state == POP3_S_SASL || str_has_prefix_ci(line, "PASS") ||
	       str_has_prefix_ci(line, "AUTH");
}

/*
 * The longest line taken now: RFC 2449's 255 octets for a command, but
 * as long as a SASL response for a line that carries credentials (USER,
 * PASS, AUTH with its initial response). A password may have up to
 * PASSWORD_MAX_BYTES octets (password_policy.h), which "PASS " and 255
 * octets refused, with no other way in for a USER/PASS client; Dovecot
 * takes such lines too. Looked at from the line's first octets: fewer
 * than five buffered and no line end yet is always "more".
 */
static size_t line_max(const struct pop3_session *s, const struct buf *in)
{
	struct str head = str_make(buf_data(in), buf_len(in) < 5 ? buf_len(in) : 5);

	if (s->state == POP3_S_SASL || str_has_prefix_ci(head, "PASS ") ||
	    str_has_prefix_ci(head, "USER ") || str_has_prefix_ci(head, "AUTH "))
		return POP3_SASL_LINE_MAX;
	return POP3_LINE_MAX;
}

void pop3_session_input(struct pop3_session *s)
{
	struct buf *in;

	while (!s->conn_gone && s->state != POP3_S_CLOSING && s->state != POP3_S_WAIT_AUTH &&
	       s->state != POP3_S_UPDATE) {
		in = &s->conn->in;
		if (s->send.kind != POP3_SEND_NONE) {
			pop3_send_refill(s);
			if (s->send.kind != POP3_SEND_NONE)
				return; /* resumed by session_drained */
			continue;
		}
		/* After "+OK Begin TLS", nothing is read until TLS is up: the
		 * conn drops the plaintext sent behind STLS (RFC 2595 §4). */
		if (s->stls_pending) {
			if (!s->conn->tls)
				return;
			s->stls_pending = 0;
		}
		if (s->draining && s->state != POP3_S_SASL) {
			pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down.");
			pop3_close_with(s, "shutdown");
			return;
		}
		if (buf_len(&s->conn->out) > POP3_OUT_HIGH || buf_len(in) == 0)
			return;
		size_t linelen = 0, consumed = 0;
		if (s->discarding) {
			int found = pop3_line_discard(buf_data(in), buf_len(in), &consumed);
			buf_consume_wipe(in, consumed); /* it may be a PASS or SASL line's rest */
			if (found)
				s->discarding = 0;
			continue;
		}
		int r = pop3_line_find(buf_data(in), buf_len(in), line_max(s, in), &linelen, &consumed);
		if (r == POP3_LINE_MORE)
			return;
		if (r == POP3_LINE_FOUND) {
			struct str line = str_make(buf_data(in), linelen);
			int secret = line_is_secret(s, line);
			/* Dispatch before consuming: the line points into the buffer. */
			if (s->state == POP3_S_SASL)
				pop3_sasl_line(s, line);
			else
				dispatch(s, line);
			if (secret)
				buf_consume_wipe(in, consumed);
			else
				buf_consume(in, consumed);
			continue;
		}
		buf_consume_wipe(in, consumed);
		if (s->state == POP3_S_SASL) {
			/* The exchange is over. */
			s->state = POP3_S_AUTHORIZATION;
			sasl_login_end(&s->sasl);
			explicit_bzero(s->user, sizeof(s->user));
		}
		if (r == POP3_LINE_TOO_LONG)
			s->discarding = 1;
		if (r == POP3_LINE_NUL)
			pop3_reply(s, "-ERR NUL octet in command.");
		else
			pop3_reply(s, "-ERR Line too long.");
		pop3_session_error(s);
	}
}

/*
 * Sends the greeting once the connection can carry it: at once in
 * plaintext, after the handshake on POP3S. Output queued during a
 * handshake cannot be handed to the TLS engine yet and would keep the conn
 * asking to write. Returns 0 when the session may go on, -1 when not yet.
 */
static int greet(struct pop3_session *s)
{
	if (s->greeted)
		return 0;
	if (handshaking(s))
		return -1;
	s->greeted = 1;
	if (s->refused) {
		pop3_reply(s, "-ERR [SYS/TEMP] %s", s->refused);
		pop3_close_with(s, "connection_limit");
		return -1;
	}
	idle_rearm(s);
	pop3_reply(s, "+OK tern ready.");
	return 0;
}

static void session_data(struct conn *c, void *arg)
{
	struct pop3_session *s = arg;

	if (greet(s) < 0)
		return;
	idle_rearm(s);
	pop3_session_input(s);
}

static void session_drained(struct conn *c, void *arg)
{
	struct pop3_session *s = arg;

	/* The POP3S handshake may just have completed. */
	if (greet(s) < 0)
		return;
	/* A client that reads a long response is not idle. */
	if (s->send.kind != POP3_SEND_NONE)
		idle_rearm(s);
	if (s->send.kind != POP3_SEND_NONE || buf_len(&c->in) > 0)
		pop3_session_input(s);
}

static void session_closed(struct conn *c, void *arg, const char *reason)
{
	struct pop3_session *s = arg;
	char q[POP3_USER_MAX * 2 + 8];

	if (s->limited) /* a refused connection logged its one line */
		log_info("pop3", s->id,
			 "event=disconnect reason=%s user=%s in=%llu out=%llu retrieved=%u "
			 "expunged=%u",
			 reason, s->login[0] ? log_q(s->login, q, sizeof(q)) : "-",
			 (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
			 s->retrieved, s->expunged);
	if (s->idle_timer)
		loop_timer_del(s->loop, s->idle_timer);
	s->idle_timer = 0;
	pop3_auth_cancel_delay(s);
	if (s->limited)
		limits_release(POOL_POP3, c->peer_ip);
	s->limited = 0;
	s->conn_gone = 1;
	s->conn = NULL;
	/* Gone without QUIT (a drop, a timeout, a shutdown, revoked
	 * credentials): what RETR sent is \Seen all the same, as in Dovecot;
	 * nothing is deleted. The job frees the session. */
	if (s->msgs && !s->expunge && pop3_end_transaction(s))
		return;
	pop3_session_free(s);
}

static void accept_session(struct loop *loop, int fd, int implicit, uint32_t account,
			   const char *login);

void pop3_server_accept(struct loop *loop, int fd, void *arg)
{
	accept_session(loop, fd, arg == POP3_IMPLICIT_TLS, 0, NULL);
}

void pop3_server_accept_preauth(struct loop *loop, int fd, uint32_t account, const char *login)
{
	accept_session(loop, fd, 0, account, login);
}

/* account != 0: in TRANSACTION state as login from the greeting on
 * (pop3_server_accept_preauth). */
static void accept_session(struct loop *loop, int fd, int implicit, uint32_t account,
			   const char *login)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	uint64_t n = __atomic_add_fetch(&session_counter, 1, __ATOMIC_RELAXED);

	snprintf(s->id, sizeof(s->id), "%012llx",
		 (unsigned long long)((session_base + n) & 0xffffffffffffull));
	s->loop = loop;
	s->conn = conn_new(loop, fd, implicit, POP3_IN_MAX, POP3_OUT_MAX, &pop3_conn_ops, s);
	if (!s->conn) {
		free(s);
		return;
	}
	__atomic_add_fetch(&sessions_alive, 1, __ATOMIC_SEQ_CST);
	s->next = loop_sessions;
	if (loop_sessions)
		loop_sessions->prev = s;
	loop_sessions = s;
	metrics_inc(METRIC_CONN_POP3);
	int lim = limits_acquire(POOL_POP3, s->conn->peer_ip);
	if (lim < 0 || loop_draining) {
		const char *why = loop_draining ? "shutdown"
				  : lim == -2   ? "per_ip_limit"
						: "connection_limit";
		s->refused = loop_draining ? "Server shutting down."
			     : lim == -2   ? "Too many connections from your address."
					   : "Too many connections.";
		/* One line at most (limits.h); no connect or disconnect line. */
		limits_log_refused(POOL_POP3, "pop3", s->id, s->conn->peer_ip, s->conn->peer_port,
				   why);
		if (implicit) {
			/* Closed at once, as port 465 and HTTPS do: saying BYE
			 * takes a handshake, and a connection that holds no slot
			 * must not wait for one (up to the handshake timeout,
			 * any number of them from one address). */
			conn_close(s->conn, "connection_limit"); /* frees s */
			return;
		}
	} else {
		log_info("pop3", s->id, "event=connect peer=%s port=%u tls=%s", s->conn->peer_ip,
			 s->conn->peer_port, implicit ? "implicit" : "no");
		s->limited = 1;
		/* Until USER/PASS or AUTH succeeds, whatever the client does. */
		conn_deadline(s->conn, (uint64_t)pop3_cfg->login_timeout_s * 1000,
			      "-ERR [SYS/TEMP] Login timeout.\r\n", "login_timeout");
	}
	if (implicit) /* greet() waits for the handshake, which the conn bounds */
		return;
	if (greet(s) == 0 && account && pop3_auth_preauth(s, account, login) < 0) {
		pop3_reply(s, "-ERR [IN-USE] Mailbox is locked or cannot be opened.");
		pop3_close_with(s, "maildrop_unavailable");
	}
	conn_flush(s->conn); /* last use of s: a refused session may be gone */
}

void pop3_server_drain(void)
{
	loop_draining = 1;
	for (struct pop3_session *s = loop_sessions, *n; s; s = n) {
		n = s->next;
		s->draining = 1;
		/* Mid-response, mid-check or mid-expunge: they finish first and
		 * pop3_session_input closes them at the next command. */
		if (s->conn_gone || s->state == POP3_S_CLOSING || s->state == POP3_S_WAIT_AUTH ||
		    s->state == POP3_S_UPDATE || s->send.kind != POP3_SEND_NONE)
			continue;
		if (handshaking(s)) {
			conn_close(s->conn, "shutdown"); /* nothing can be said yet */
			continue;
		}
		pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down.");
		pop3_close_with(s, "shutdown");
		conn_flush(s->conn);
	}
}

void pop3_server_close_all(void)
{
	for (struct pop3_session *s = loop_sessions, *n; s; s = n) {
		n = s->next;
		if (!s->conn_gone && s->state != POP3_S_UPDATE)
			conn_close(s->conn, "shutdown");
	}
}
