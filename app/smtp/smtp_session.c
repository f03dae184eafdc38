/*
 * smtp_session.c — inbound SMTP sessions: accept, commands, state, limits.
 *
 * Each command goes check -> policy -> proceed in its handler below; the
 * table at the end says in which states a verb is allowed at all. Message
 * content (DATA/BDAT) and delivery are in smtp_tx.c; what submission adds
 * (AUTH, sender ownership, signing, the queue) in smtp_auth.c and
 * smtp_submit.c.
 */
#include "forward/forward.h"
#include "smtp/smtp_session.h"
#include "smtp/smtp_spam.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include "admin/admin_auth.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/hostname.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "deliver/deliver_sieve.h"
#include "net/conn.h"
#include "net/limits.h"
#include "smtp/smtp_rate.h"
#include "smtp/smtp_server.h"
#include "smtp/smtp_virus.h"
#include "store/store_queue.h"

#define SMTP_LINE_MAX 4096 /* command line limit, RFC 5321 allows us more than 512 */
#define SMTP_REPLY_LINE_MAX 512 /* RFC 5321 §4.5.3.1.5, with the CRLF */
#define SMTP_IN_MAX 65536
/* Input read only to be thrown away, the rest of an over-long command line
 * or a refused BDAT chunk: past this the session ends with a 421. Unbounded,
 * one connection kept the loop reading 1.4 GB in 3 s of an endless line (or
 * of "BDAT 18446744073709551615") for up to TERN_SMTP_MAX_SESSION_TIME, as
 * one error. No honest client sends a command line or a refused chunk this
 * long; a chunk past the message size limit is refused at its size anyway. */
#define SMTP_DROP_MAX ((uint64_t)16 << 20)
#define SMTP_OUT_MAX 65536
#define SMTP_JUNK_LIMIT 100 /* NOOP, RSET, VRFY, EXPN, HELP, HELO, EHLO, BDAT 0 between messages */
#define SMTP_RCPT_OVERSHOOT 1000 /* RCPTs past TERN_SMTP_MAX_RECIPIENTS before each is an error */
/* Past TERN_SMTP_SOFT_ERRORS, each command waits this long (Postfix's
 * smtpd_error_sleep_time once over smtpd_soft_error_limit, 1 s): a client
 * looping on refused commands makes one try a second until it is cut. */
#define SMTP_ERROR_SLEEP_MS 1000
/*
 * Under pressure a message must come at this many octets a second at
 * least, measured over windows of TERN_SMTP_STRESS_TIMEOUT: whole lines,
 * each just within the per-record deadline, are 100 octets a second and
 * would keep a port-25 slot for the session's hour.
 */
#define SMTP_STRESS_MIN_RATE 500

/* What an idle timer's deadline is: silence, one record's, a message window's. */
enum { DEADLINE_IDLE, DEADLINE_RECORD, DEADLINE_RATE }; /* 465: TLS handshake before the greeting */

const struct config *smtp_cfg;
/* What a submission client that did not log in in time is told. */
static char login_bye[320];
struct store *smtp_store;
static unsigned sessions_alive;
static unsigned submission_alive; /* of those, on a submission port */
static uint64_t session_base;
static uint64_t session_counter;
static unsigned greet_delay_ms;
static _Thread_local struct smtp_session *loop_sessions;
static _Thread_local int loop_draining;

static void session_data(struct conn *c, void *arg);
static void session_closed(struct conn *c, void *arg, const char *reason);
static void session_drained(struct conn *c, void *arg);
static const struct conn_ops smtp_conn_ops = {
	.on_data = session_data,
	.on_drained = session_drained,
	.on_close = session_closed,
	.oom_goodbye = "421 4.3.0 Out of memory, closing connection\r\n",
};

void smtp_server_init(const struct config *cfg, struct store *st)
{
	smtp_cfg = cfg;
	snprintf(login_bye, sizeof(login_bye), "421 4.4.2 %s Error: login timeout\r\n",
		 cfg->hostname);
	smtp_store = st;
	smtp_rate_init(cfg->send_rate);
	if (getrandom(&session_base, sizeof(session_base), 0) != sizeof(session_base))
		session_base = (uint64_t)time_wall() << 20;
	/* A pause before the greeting catches clients that talk first (spam
	 * bots); off by default like Postfix's smtpd, see README. */
	greet_delay_ms = cfg->smtp_greet_delay_ms;
}

unsigned smtp_server_sessions(void)
{
	return __atomic_load_n(&sessions_alive, __ATOMIC_SEQ_CST);
}

unsigned smtp_server_submission_sessions(void)
{
	return __atomic_load_n(&submission_alive, __ATOMIC_SEQ_CST);
}

void smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (s->conn_gone)
		return;
	if (!strchr(fmt, '%')) {
		/* Most replies are fixed text: no printf for them. */
		size_t len = strlen(fmt);
		n = len > sizeof(line) - 3 ? (int)sizeof(line) - 3 : (int)len;
		memcpy(line, fmt, (size_t)n);
	} else {
		va_start(ap, fmt);
		n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
		va_end(ap);
	}
	if (n < 0)
		return;
	/* RFC 5321 §4.5.3.1.5: 512 octets a reply line, code and CRLF
	 * included. Only the text can be longer (an address, the client's
	 * EHLO name echoed beside ours), and it is for humans: it is cut,
	 * on a UTF-8 character boundary. */
	if (n > SMTP_REPLY_LINE_MAX - 2) {
		n = SMTP_REPLY_LINE_MAX - 2;
		while (n > 4 && ((unsigned char)line[n] & 0xC0) == 0x80)
			n--;
	}
	line[n++] = '\r';
	line[n++] = '\n';
	/* The client's next record is due from our answer, not from its
	 * last one: the time we took (the store, a check) is not its. */
	s->record_since = loop_now_ms();
	if (conn_write(s->conn, line, (size_t)n) < 0) {
		/* Output buffer full: a client that pipelines without reading. */
		conn_close(s->conn, "output_overflow");
	}
}

static void close_with(struct smtp_session *s, const char *reason)
{
	s->state = SMTP_S_CLOSING;
	if (!s->conn_gone)
		conn_close_after_flush(s->conn, reason);
}

/*
 * A RCPT put off to another transaction (452 4.5.3: the recipient limit,
 * a Sieve or spam policy of its own, the accounts' room): the protocol's
 * way to go on, so no error, but past SMTP_RCPT_OVERSHOOT of them in one
 * transaction each is (Postfix's smtpd_recipient_overshoot_limit): a
 * client that sends them again and again in it is not answered forever.
 */
void smtp_rcpt_put_off(struct smtp_session *s)
{
	if (++s->tx.rcpt_overshoot > SMTP_RCPT_OVERSHOOT)
		smtp_session_error(s);
}

int smtp_session_error(struct smtp_session *s)
{
	if (++s->errors < smtp_cfg->smtp_max_errors)
		return 0;
	smtp_reply(s, "421 4.7.0 %s Error: too many errors", hostname_now());
	log_info("smtp", s->id, "event=too_many_errors errors=%u", s->errors);
	close_with(s, "too_many_errors");
	return 1;
}

void smtp_tx_end(struct smtp_session *s)
{
	if (!s->in_tx)
		return;
	int big = s->tx.msg.len >= MEM_RELEASE_AFTER;
	smtp_checks_tx_free(&s->tx);
	smtp_virus_tx_free(&s->tx);
	smtp_spf_stop(s);
	smtp_forward_free(&s->tx);
	spool_free(&s->tx.msg);
	buf_free(&s->tx.chunk);
	arena_free(&s->tx.arena);
	if (big) /* the message, its MIME structure: back to the system */
		mem_release_soon();
	memset(&s->tx, 0, sizeof(s->tx));
	s->in_tx = 0;
	if (s->state >= SMTP_S_MAIL && s->state <= SMTP_S_WAIT_STORE)
		s->state = SMTP_S_HELO;
}

void smtp_session_free(struct smtp_session *s)
{
	if (s->in_tx && s->state == SMTP_S_WAIT_STORE)
		return; /* the store still holds pointers into the tx; done() frees */
	smtp_tx_end(s);
	smtp_nullmx_session_free(s);
	smtp_spf_session_free(s);
	smtp_checks_session_free(s);
	if (s->prev)
		s->prev->next = s->next;
	else if (loop_sessions == s)
		loop_sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->mode != SMTP_MODE_MX)
		__atomic_sub_fetch(&submission_alive, 1, __ATOMIC_SEQ_CST);
	free(s);
	__atomic_sub_fetch(&sessions_alive, 1, __ATOMIC_SEQ_CST);
}

/* ---- timers ---- */

static void idle_rearm(struct smtp_session *s);
static void idle_arm(struct smtp_session *s, uint64_t ms);
static uint64_t idle_limit_ms(const struct smtp_session *s);
static uint64_t idle_deadline(const struct smtp_session *s, int *record);

static void idle_timeout(struct loop *loop, void *arg)
{
	struct smtp_session *s = arg;
	s->idle_timer = 0;
	if (s->conn->tls && !conn_tls_established(s->conn)) {
		/* Nothing can be said before the handshake ends. */
		log_info("smtp", s->id, "event=timeout kind=tls_handshake");
		conn_close(s->conn, "tls_handshake_timeout");
		return;
	}
	if (s->state == SMTP_S_WAIT_STORE || s->state == SMTP_S_WAIT_AUTH ||
	    s->state == SMTP_S_WAIT_DNS || s->pace_timer) {
		/* Our side is working (the checks, the store; the password
		 * check or its failure delay; a null MX check; the error
		 * sleep): not the
		 * client's idle time.
		 * Armed again, never dropped: a client silent after the
		 * reply must still be timed out. */
		idle_rearm(s);
		return;
	}
	int record;
	uint64_t now = loop_now_ms(), deadline = idle_deadline(s, &record);
	if (now < deadline) {
		idle_arm(s, deadline - now);
		return;
	}
	if (record == DEADLINE_RATE) {
		uint64_t ms = now - s->rate_since;
		if (s->rate_bytes * 1000 < (uint64_t)SMTP_STRESS_MIN_RATE * ms) {
			log_info("smtp", s->id,
				 "event=timeout kind=data_rate state=%d bytes=%llu ms=%llu stress=1", s->state,
				 (unsigned long long)s->rate_bytes, (unsigned long long)ms);
			smtp_reply(s, "421 4.4.2 %s Error: message data too slow under load, try again later",
				   hostname_now());
			close_with(s, "data_rate");
			return;
		}
		/* Fast enough: the next window. */
		s->rate_since = now;
		s->rate_bytes = 0;
		deadline = idle_deadline(s, &record);
		if (now < deadline) {
			idle_arm(s, deadline - now);
			return;
		}
		/* Its record's or idle deadline came at the same moment: below. */
	}
	if (record) {
		log_info("smtp", s->id, "event=timeout kind=record state=%d stress=1", s->state);
		smtp_reply(s, "421 4.4.2 %s Error: too slow under load, try again later", hostname_now());
		close_with(s, "record_timeout");
		return;
	}
	log_info("smtp", s->id, "event=timeout kind=idle state=%d stress=%d", s->state,
		 idle_limit_ms(s) < (uint64_t)smtp_cfg->smtp_timeout_s * 1000);
	smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded", hostname_now());
	close_with(s, "idle_timeout");
}

/* How often a session whose time is up looks again while the store works. */
#define LIFE_RECHECK_MS 100

static void life_timeout(struct loop *loop, void *arg)
{
	struct smtp_session *s = arg;
	s->life_timer = 0;
	if (s->state == SMTP_S_WAIT_STORE) {
		/* The message's fate is being decided: its reply goes out first.
		 * A 421 now would make the sender retry a message we may be
		 * storing this very moment. */
		s->life_timer = loop_timer_add(loop, LIFE_RECHECK_MS, life_timeout, s);
		return;
	}
	log_info("smtp", s->id, "event=timeout kind=session");
	smtp_reply(s, "421 4.4.2 %s Error: session time limit exceeded", hostname_now());
	close_with(s, "session_timeout");
}

/*
 * Port 25 keeps RFC 5321's five minutes (TERN_SMTP_TIMEOUT) while it has
 * room; once its pool is under pressure, idle senders get
 * TERN_SMTP_STRESS_TIMEOUT (Postfix's stress mode), so a flood of silent
 * or dripping connections gives way to live ones. Sessions that were idle
 * when the pressure began are cut too: the timer looks at least every
 * stress interval.
 */
static uint64_t idle_limit_ms(const struct smtp_session *s)
{
	uint64_t normal = (uint64_t)smtp_cfg->smtp_timeout_s * 1000;
	uint64_t stress = (uint64_t)smtp_cfg->smtp_stress_timeout_s * 1000;
	if (s->mode == SMTP_MODE_MX && stress < normal && limits_pressure(POOL_SMTP))
		return stress;
	return normal;
}

/*
 * Under pressure a client must also finish each record in that time, as
 * with Postfix's smtpd_per_record_deadline: otherwise a byte every few
 * seconds is never idle, and a pool of such drippers holds port 25 for the
 * session's hour. A record is a command line, or a line or 1,000 octets
 * (RFC 5321's longest line) of message. The deadline is the earlier of the
 * two; *record says whether it is the record's.
 */
#define SMTP_RECORD_OCTETS 1000

/* And a message must come at SMTP_STRESS_MIN_RATE octets a second (see
 * the top of the file). */

static int in_message(const struct smtp_session *s)
{
	return s->state == SMTP_S_DATA || s->state == SMTP_S_BDAT ||
	       (s->state == SMTP_S_RCPT && s->in_tx && s->tx.used_bdat);
}

static uint64_t idle_deadline(const struct smtp_session *s, int *record)
{
	uint64_t limit = idle_limit_ms(s);
	int stress = limit < (uint64_t)smtp_cfg->smtp_timeout_s * 1000;
	*record = stress && s->record_since < s->idle_since ? DEADLINE_RECORD : DEADLINE_IDLE;
	uint64_t at = (*record ? s->record_since : s->idle_since) + limit;
	if (stress && in_message(s) && s->rate_since + limit < at) {
		*record = DEADLINE_RATE;
		at = s->rate_since + limit;
	}
	return at;
}

/* The message begins: its first rate window. */
static void rate_start(struct smtp_session *s)
{
	s->rate_since = loop_now_ms();
	s->rate_bytes = 0;
}

/* N octets of the client's consumed, LINE_END if a line ended among them. */
static void record_progress(struct smtp_session *s, size_t n, int line_end)
{
	if (in_message(s))
		s->rate_bytes += n;
	s->record_bytes += n;
	if (line_end || s->record_bytes >= SMTP_RECORD_OCTETS) {
		s->record_since = loop_now_ms();
		s->record_bytes = 0;
	}
}

static void idle_arm(struct smtp_session *s, uint64_t ms)
{
	uint64_t check = (uint64_t)smtp_cfg->smtp_stress_timeout_s * 1000;
	if (s->mode == SMTP_MODE_MX && check < ms)
		ms = check;
	if (s->idle_timer)
		loop_timer_del(s->loop, s->idle_timer);
	s->idle_timer = loop_timer_add(s->loop, ms, idle_timeout, s);
}

static void idle_rearm(struct smtp_session *s)
{
	int record;
	s->idle_since = loop_now_ms();
	idle_arm(s, idle_deadline(s, &record) - s->idle_since);
}

/* ---- commands ---- */

/* Recipients a transaction takes: the configured limit; on submission
 * at most what a queue entry holds (SQ_RCPTS_MAX), see cmd_rcpt. */
static unsigned smtp_rcpt_max(const struct smtp_session *s)
{
	unsigned max = smtp_cfg->max_recipients;
	if (s->mode != SMTP_MODE_MX && max > SQ_RCPTS_MAX)
		max = SQ_RCPTS_MAX;
	return max;
}

static void cmd_helo(struct smtp_session *s, struct smtp_cmd *cmd, int esmtp)
{
	if (s->in_tx)
		smtp_tx_end(s); /* RFC 5321 4.1.4: HELO/EHLO resets the transaction */
	snprintf(s->helo, sizeof(s->helo), "%.*s", (int)cmd->helo.len, cmd->helo.p);
	s->esmtp = esmtp;
	s->state = SMTP_S_HELO;
	if (!esmtp) {
		smtp_reply(s, "250 %s", hostname_now());
		return;
	}
	/* The name is echoed as reply text, which is printable ASCII (RFC
	 * 5321 §4.2 textstring): a control octet (a terminal's escape
	 * sequence) or one past ASCII goes back as '?'. */
	char shown[sizeof(s->helo)];
	size_t i;
	for (i = 0; s->helo[i]; i++)
		shown[i] = s->helo[i] >= ' ' && s->helo[i] < 0x7f ? s->helo[i] : '?';
	shown[i] = '\0';
	smtp_reply(s, "250-%s Hello %s [%s]", hostname_now(), shown, s->conn->peer_ip);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %llu", (unsigned long long)smtp_cfg->max_message_size);
	/* Not where TLS is up or begun (RFC 3207 §4.2), nor where the
	 * transport stands for it (smtp_server_accept_preauth). */
	if (!s->conn->tls && !s->vouched)
		smtp_reply(s, "250-STARTTLS");
	if (s->mode != SMTP_MODE_MX)
		smtp_submit_ehlo(s);
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-DSN");
	smtp_reply(s, "250-DELIVERBY"); /* RFC 2852: no minimum by-time */
	/* RFC 6710 §3, §9.1: MIXER is the general-purpose policy (the
	 * three X.400 grades non-urgent, normal, urgent as -4, 0, 4), the
	 * one an Internet server's senders mean; STANAG4406 and NSEP are
	 * military and emergency-service policies. Offered on port 25 too:
	 * the parameter is taken there but not trusted (mail_priority). */
	smtp_reply(s, "250-MT-PRIORITY MIXER");
	smtp_reply(s, "250-SMTPUTF8");
	/* RFC 9422: the recipient limit cmd_rcpt applies (452 past it), so
	 * a client splits its envelope up front instead of learning it one
	 * 452 at a time. No MAILMAX: transactions per session are not
	 * limited. */
	smtp_reply(s, "250-LIMITS RCPTMAX=%u", smtp_rcpt_max(s));
	if (s->conn->tls)
		smtp_reply(s, "250-REQUIRETLS"); /* RFC 8689 §4: only over TLS */
	smtp_reply(s, "250 CHUNKING");
}

/* The parameters of MAIL worth keeping with the message, in SMTP syntax. */
static char *mail_params_text(struct arena *a, const struct smtp_params *p)
{
	static const char *const body[] = { "", " BODY=7BIT", " BODY=8BITMIME", " BODY=BINARYMIME" };
	return arena_printf(a, "%s%s%.*s%s%s%s",
			    p->ret == SMTP_RET_FULL ? " RET=FULL" : p->ret == SMTP_RET_HDRS ? " RET=HDRS" : "",
			    (p->seen & SMTP_PARAM_ENVID) ? " ENVID=" : "",
			    (p->seen & SMTP_PARAM_ENVID) ? (int)p->envid.len : 0,
			    (p->seen & SMTP_PARAM_ENVID) ? p->envid.p : "", body[p->body],
			    (p->seen & SMTP_PARAM_SMTPUTF8) ? " SMTPUTF8" : "",
			    (p->seen & SMTP_PARAM_REQUIRETLS) ? " REQUIRETLS" : "");
}

/* NOTIFY and ORCPT as given (ORCPT stays xtext-encoded, as on the wire). */
static char *rcpt_params_text(struct arena *a, const struct smtp_params *p)
{
	char notify[40] = "";
	if (p->seen & SMTP_PARAM_NOTIFY) {
		if (p->notify & SMTP_NOTIFY_NEVER)
			snprintf(notify, sizeof(notify), " NOTIFY=NEVER");
		else
			snprintf(notify, sizeof(notify), " NOTIFY=%s%s%s",
				 (p->notify & SMTP_NOTIFY_SUCCESS) ? "SUCCESS," : "",
				 (p->notify & SMTP_NOTIFY_FAILURE) ? "FAILURE," : "",
				 (p->notify & SMTP_NOTIFY_DELAY) ? "DELAY," : "");
		size_t n = strlen(notify);
		if (notify[n - 1] == ',')
			notify[n - 1] = '\0';
	}
	if (!(p->seen & SMTP_PARAM_ORCPT))
		return arena_strdup(a, notify);
	return arena_printf(a, "%s ORCPT=%.*s;%.*s", notify, (int)p->orcpt_type.len, p->orcpt_type.p,
			    (int)p->orcpt_addr.len, p->orcpt_addr.p);
}

void smtp_reply_null_mx(struct smtp_session *s, const char *sender)
{
	const char *at = strrchr(sender, '@');
	smtp_reply(s, "550 5.7.27 <%s>: Sender address rejected: Domain %s does not accept mail (null MX)",
		   sender, at ? at + 1 : "");
}

/* MAIL or RCPT refused for the sender's null MX (RFC 7505 §4.2). */
static void sender_null_mx(struct smtp_session *s, const char *sender)
{
	char q[600];
	log_info("smtp", s->id, "event=mail_rejected from=%s reason=null_mx",
		 log_q(sender, q, sizeof(q)));
	metrics_inc(METRIC_REJECTED);
	smtp_reply_null_mx(s, sender);
	smtp_session_error(s);
}

/*
 * The priority a transaction keeps (RFC 6710 §4.1, §5): an authenticated
 * submission client's as given, any of -9..9 (tern has no per-user
 * priority policy; every account may use the whole range); nothing from
 * a port-25 peer, which anyone can claim to be: a relay MUST NOT honour
 * a priority from a source it does not trust, and a lowered one is not
 * worth trusting either (it would be passed on as if we vouched for it).
 */
static int mail_priority(const struct smtp_session *s, const struct smtp_params *p)
{
	if (!(p->seen & SMTP_PARAM_MTPRIORITY))
		return 0;
	if (s->mode == SMTP_MODE_MX || !s->account) {
		log_info("smtp", s->id, "event=mt_priority_untrusted priority=%d kept=0",
			 p->mt_priority);
		return 0;
	}
	return p->mt_priority;
}

static void cmd_mail(struct smtp_session *s, struct smtp_cmd *cmd)
{
	char addr[SMTP_ADDRESS_BUF];
	const struct smtp_params *p = &cmd->params;

	if (s->draining) {
		smtp_reply(s, "421 4.3.2 %s Service shutting down", hostname_now());
		close_with(s, "shutdown");
		return;
	}
	if (s->mode != SMTP_MODE_MX && smtp_submit_may_mail(s) < 0)
		return;
	if ((p->seen & SMTP_PARAM_SIZE) && p->size > smtp_cfg->max_message_size) {
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		smtp_session_error(s);
		return;
	}
	if (p->body == SMTP_BODY_BINARYMIME) {
		smtp_reply(s, "555 5.5.4 BODY=BINARYMIME is not supported");
		smtp_session_error(s);
		return;
	}
	if (cmd->path.utf8 && !(p->seen & SMTP_PARAM_SMTPUTF8)) {
		smtp_reply(s, "553 5.6.7 Non-ASCII address requires the SMTPUTF8 parameter");
		smtp_session_error(s);
		return;
	}
	if ((p->seen & SMTP_PARAM_REQUIRETLS) && !s->conn->tls) {
		smtp_reply(s, "530 5.7.10 REQUIRETLS needs a TLS session");
		smtp_session_error(s);
		return;
	}
	if ((p->seen & SMTP_PARAM_BY) && p->by_mode == 'R' && p->by_time <= 0) {
		/* RFC 2852 §4: R mode needs time left to deliver in. */
		smtp_reply(s, "501 5.5.4 BY time must be positive with R mode");
		smtp_session_error(s);
		return;
	}
	if (smtp_path_address(&cmd->path, addr, sizeof(addr)) < 0) {
		smtp_reply(s, "501 5.1.7 Bad sender address syntax");
		smtp_session_error(s);
		return;
	}
	if (s->mode != SMTP_MODE_MX && smtp_submit_check_sender(s, addr) < 0)
		return;
	/* RFC 4865 is a submission extension: port 25 does not offer it. */
	if (s->mode == SMTP_MODE_MX && (p->seen & (SMTP_PARAM_HOLDFOR | SMTP_PARAM_HOLDUNTIL))) {
		smtp_reply(s, "555 5.5.4 HOLDFOR/HOLDUNTIL not supported");
		smtp_session_error(s);
		return;
	}
	int64_t now = (int64_t)time_wall(), hold_until = 0;
	if (s->mode != SMTP_MODE_MX && smtp_submit_hold(s, p, now, &hold_until) < 0)
		return;
	/* RFC 7505 §4.2: a sender whose domain takes no mail could get no
	 * bounce. Known already (the cache): refused here; else its query
	 * runs beside SPF's and RCPT or the end of DATA refuse (smtp_nullmx.c). */
	if (s->mode == SMTP_MODE_MX && smtp_nullmx_mail(s, addr)) {
		sender_null_mx(s, addr);
		return;
	}
	memset(&s->tx, 0, sizeof(s->tx));
	s->tx.arena = arena_new(2048);
	s->tx.mail_from = arena_strdup(s->tx.arena, addr);
	s->tx.smtputf8 = !!(p->seen & SMTP_PARAM_SMTPUTF8);
	s->tx.requiretls = !!(p->seen & SMTP_PARAM_REQUIRETLS);
	s->tx.mail_params = mail_params_text(s->tx.arena, p);
	s->tx.body = p->body;
	s->tx.ret = p->ret;
	s->tx.size = (p->seen & SMTP_PARAM_SIZE) ? p->size : 0;
	if (p->seen & SMTP_PARAM_BY) {
		s->tx.by = 1;
		s->tx.by_deadline = now + p->by_time;
		s->tx.by_return = p->by_mode == 'R';
		s->tx.by_trace = p->by_trace;
	}
	s->tx.hold_until = hold_until;
	s->tx.mt_priority = mail_priority(s, p);
	if (p->seen & SMTP_PARAM_ENVID) {
		char envid[SMTP_ENVID_MAX + 1];
		if (smtp_xtext_decode(p->envid, envid, sizeof(envid)) >= 0)
			s->tx.envid = arena_strdup(s->tx.arena, envid);
	}
	s->tx.rcpts = arena_alloc(s->tx.arena, sizeof(*s->tx.rcpts) * smtp_cfg->max_recipients);
	/* Room for the first address's accounts however many, and more. */
	s->tx.accounts_cap = smtp_cfg->max_recipients * 4 + STORE_RESOLVE_ACCOUNTS_MAX;
	s->tx.accounts = arena_alloc(s->tx.arena, sizeof(uint32_t) * s->tx.accounts_cap);
	s->tx.seq = ++s->tx_count;
	s->in_tx = 1;
	s->state = SMTP_S_MAIL;
	if (s->mode == SMTP_MODE_MX)
		smtp_spf_start(s);
	smtp_reply(s, "250 2.1.0 Ok");
}

static void first_account(void *arg, const struct store_account_info *info)
{
	uint32_t *id = arg;
	if (*id == 0 || info->id < *id)
		*id = info->id;
}

/*
 * The account that gets postmaster mail (RFC 5321 §4.5.1): the one the
 * administrator chose (admin_auth.h; the wizard's first account), else
 * the oldest account. 0 when there is no account at all.
 */
static uint32_t postmaster_account(void)
{
	char pm[330];
	uint32_t id = 0;
	admin_auth_get(smtp_store, ADMIN_AUTH_POSTMASTER, pm, sizeof pm);
	if (pm[0] && store_account_id(smtp_store, pm, &id) == STORE_OK && id)
		return id;
	id = 0;
	store_account_list(smtp_store, first_account, &id);
	return id;
}

/* "postmaster@D" (any case) where D is ours, or the bare <postmaster>. */
static int is_postmaster(const char *addr, enum store_rcpt r, int bare)
{
	const char *at = strrchr(addr, '@');
	if (bare)
		return 1;
	if (!at || at - addr != 10 || strncasecmp(addr, "postmaster", 10) != 0)
		return 0;
	return r == STORE_RCPT_UNKNOWN; /* a served domain without such an address */
}

/*
 * RFC 1123 §5.2.17: "An SMTP MUST accept and recognize a domain literal
 * for any of its own IP addresses"; RFC 5321 §4.5.1 asks for postmaster
 * at every domain we serve. lit ("[192.0.2.1]", "[IPv6:...]") is ours
 * when it is the address this connection came in on.
 */
static int literal_is_ours(const struct smtp_session *s, struct str lit)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	unsigned char want[16];
	char tmp[64];
	struct str in;
	int v6;

	if (lit.len < 3 || getsockname(s->conn->fd, (struct sockaddr *)&ss, &sslen) < 0)
		return 0;
	in = str_make(lit.p + 1, lit.len - 2);
	v6 = str_has_prefix_ci(in, "IPv6:");
	if (v6)
		in = str_sub(in, 5, in.len);
	if (in.len >= sizeof(tmp))
		return 0;
	memcpy(tmp, in.p, in.len);
	tmp[in.len] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, tmp, want) != 1)
		return 0;
	if (ss.ss_family == AF_INET)
		return !v6 && memcmp(&((struct sockaddr_in *)&ss)->sin_addr, want, 4) == 0;
	if (ss.ss_family != AF_INET6)
		return 0;
	const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	if (v6)
		return memcmp(a->s6_addr, want, 16) == 0;
	return IN6_IS_ADDR_V4MAPPED(a) && memcmp(a->s6_addr + 12, want, 4) == 0;
}

/* RCPT: this address comes back in a transaction of its own (452 4.5.3:
 * DESIGN.md §3b), logged with why. */
static void rcpt_defer(struct smtp_session *s, const char *addr, const char *qa, const char *why)
{
	log_info("smtp", s->id, "event=rcpt_deferred rcpt=%s reason=%s", qa, why);
	smtp_reply(s, "452 4.5.3 <%s>: Send this recipient again in its own transaction", addr);
	smtp_rcpt_put_off(s);
}

static void cmd_rcpt(struct smtp_session *s, struct smtp_cmd *cmd)
{
	char addr[SMTP_ADDRESS_BUF], q[600];
	uint32_t ids[STORE_RESOLVE_ACCOUNTS_MAX];
	size_t n = 0;
	struct smtp_tx *tx = &s->tx;

	/* The message has begun (RFC 3030 §2: BDAT follows the envelope, as
	 * DATA does): a recipient added between its chunks would get content
	 * whose Received field and checks were made for the others. */
	if (tx->used_bdat) {
		smtp_reply(s, "503 5.5.1 Error: RCPT after BDAT");
		smtp_session_error(s);
		return;
	}
	/* Submission hands the whole envelope to the queue, whose entry
	 * holds at most SQ_RCPTS_MAX: past it the RCPT is put off (452, the
	 * client sends the rest in another transaction), not the message
	 * refused after DATA. */
	unsigned max = smtp_rcpt_max(s);
	if (tx->nrcpts >= max) {
		smtp_reply(s, "452 4.5.3 Error: too many recipients");
		smtp_rcpt_put_off(s);
		return;
	}
	if (cmd->path.utf8 && !tx->smtputf8) {
		smtp_reply(s, "553 5.6.7 Non-ASCII address requires the SMTPUTF8 parameter");
		smtp_session_error(s);
		return;
	}
	/* ORCPT=utf-8;<UTF-8> (RFC 6533 §3 utf-8-addr-unitext) is for
	 * SMTPUTF8 transactions (RFC 6531 §3.3); it is kept in its ASCII
	 * form, which must fit the queue entry. */
	char orcpt[SQ_ORCPT_MAX + 1];
	int orcpt_len = -1;
	if (cmd->params.seen & SMTP_PARAM_ORCPT) {
		if (cmd->params.orcpt_utf8 && !tx->smtputf8) {
			smtp_reply(s, "553 5.6.7 Non-ASCII ORCPT requires the SMTPUTF8 parameter");
			smtp_session_error(s);
			return;
		}
		size_t tl = cmd->params.orcpt_type.len;
		memcpy(orcpt, cmd->params.orcpt_type.p, tl);
		orcpt[tl] = ';';
		orcpt_len = smtp_orcpt_decode(cmd->params.orcpt_type, cmd->params.orcpt_addr, orcpt + tl + 1,
					      sizeof(orcpt) - tl - 1);
		if (orcpt_len < 0) {
			smtp_reply(s, "501 5.5.4 Error: ORCPT value too long");
			smtp_session_error(s);
			return;
		}
	}
	int bare_pm = cmd->path.is_postmaster;
	if (!bare_pm && smtp_path_address(&cmd->path, addr, sizeof(addr)) < 0) {
		smtp_reply(s, "501 5.1.3 Bad recipient address syntax");
		smtp_session_error(s);
		return;
	}
	int at_literal = !bare_pm && cmd->path.domain_literal && literal_is_ours(s, cmd->path.domain);
	if (at_literal && strncasecmp(addr, "postmaster@", 11) == 0)
		bare_pm = 1; /* our postmaster, as <postmaster> is */
	if (at_literal && !bare_pm) {
		/* Another local part at our literal is that user of the primary
		 * domain, as Postfix takes it for a local user: "[our address]"
		 * names this host (RFC 5321 §2.3.4), whose own users the primary
		 * domain holds. Without one, nobody else is ours there. */
		char *at = strrchr(addr, '@');
		size_t dl = strlen(smtp_cfg->domain);
		if (at && dl && (size_t)(at + 1 - addr) + dl < sizeof(addr))
			memcpy(at + 1, smtp_cfg->domain, dl + 1);
	}
	if (bare_pm) {
		/* RFC 5321 4.5.1: <postmaster> with no domain is ours. */
		snprintf(addr, sizeof(addr), "postmaster@%s",
			 smtp_cfg->domain[0] ? smtp_cfg->domain : hostname_now());
	} else {
		store_served_spelling(smtp_store, addr, sizeof(addr));
	}
	struct store_forward fw[FORWARD_TARGETS_MAX];
	size_t nf = 0;
	int srs = smtp_forward_rcpt(s, addr, fw, &nf);
	if (srs < 0)
		return;
	enum store_rcpt r = srs ? STORE_RCPT_OK
				: store_resolve_forwards(smtp_store, addr, ids, STORE_RESOLVE_ACCOUNTS_MAX,
							 &n, fw, FORWARD_TARGETS_MAX, &nf);
	/* Our literal with no primary domain (TERN_DOMAIN, or the wizard's)
	 * to give its local part one: the host is ours (RFC 5321 §4.1.3,
	 * RFC 1123 §5.2.17), so this is no relay (554 5.7.1 said so, and a
	 * user of submission had it queued to ourselves), and nobody but
	 * postmaster is known there: unknown, as Postfix answers a local
	 * part its local recipient table lacks. */
	if (at_literal && !bare_pm && !smtp_cfg->domain[0] && r == STORE_RCPT_NOT_LOCAL)
		r = STORE_RCPT_UNKNOWN;
	const char *qa = log_q(addr, q, sizeof(q));
	/* Postmaster is always accepted (RFC 5321 §4.5.1), as Postfix's
	 * set-ups do: an address of that name wins, else the administrator. */
	if (r != STORE_RCPT_OK && r != STORE_RCPT_TEMPFAIL && is_postmaster(addr, r, bare_pm)) {
		ids[0] = postmaster_account();
		n = ids[0] ? 1 : 0;
		r = n ? STORE_RCPT_OK : STORE_RCPT_TEMPFAIL;
	}
	switch (r) {
	case STORE_RCPT_OK:
		if (nf && s->mode == SMTP_MODE_MX && smtp_forward_rate(s, addr, fw, nf) < 0) {
			smtp_session_error(s); /* its 450, as the refusals below */
			return;
		}
		break;
	case STORE_RCPT_NOT_LOCAL:
		if (s->mode != SMTP_MODE_MX && s->authenticated) {
			/* Submission relays for its users: the queue sends it,
			 * unless the domain takes no mail (RFC 7505 §4.1). */
			int nm = smtp_nullmx_relay(s, addr);
			if (nm < 0)
				return; /* the line runs again with the answer */
			if (nm) {
				log_info("smtp", s->id, "event=rcpt_rejected rcpt=%s reason=null_mx", qa);
				metrics_inc(METRIC_REJECTED);
				smtp_reply(s, "556 5.1.10 <%s>: Recipient address rejected: Domain %s does not accept mail (null MX)",
					   addr, strrchr(addr, '@') + 1);
				smtp_session_error(s);
				return;
			}
			n = 0;
			break;
		}
		log_info("smtp", s->id, "event=rcpt_rejected rcpt=%s reason=relay_denied", qa);
		metrics_inc(METRIC_REJECTED);
		smtp_reply(s, "554 5.7.1 <%s>: Relay access denied", addr);
		smtp_session_error(s);
		return;
	case STORE_RCPT_UNKNOWN:
		log_info("smtp", s->id, "event=rcpt_rejected rcpt=%s reason=unknown_user", qa);
		metrics_inc(METRIC_REJECTED);
		smtp_reply(s, "550 5.1.1 <%s>: Recipient address rejected: User unknown", addr);
		smtp_session_error(s);
		return;
	case STORE_RCPT_INACTIVE:
		/* RFC 3463 X.2.1: the mailbox exists but takes no mail. */
		log_info("smtp", s->id, "event=rcpt_rejected rcpt=%s reason=inactive", qa);
		metrics_inc(METRIC_REJECTED);
		smtp_reply(s, "550 5.2.1 <%s>: Recipient address rejected: Mailbox disabled", addr);
		smtp_session_error(s);
		return;
	case STORE_RCPT_OVER_QUOTA:
		log_info("smtp", s->id, "event=rcpt_rejected rcpt=%s reason=over_quota", qa);
		metrics_inc(METRIC_REJECTED);
		smtp_reply(s, "452 4.2.2 <%s>: Mailbox full", addr);
		/* A refusal, if temporary: it counts as the 5xx ones do
		 * (Postfix's error limits count every refused command), or a
		 * client looping on it is never cut off. */
		smtp_session_error(s);
		return;
	case STORE_RCPT_TEMPFAIL:
	default:
		smtp_reply(s, "451 4.3.0 <%s>: Temporary lookup failure", addr);
		smtp_session_error(s);
		return;
	}
	/* Forwards take any message: only local copies can be too many. */
	if (nf == 0 && smtp_rcpt_quota(s, addr, qa, ids, n) < 0)
		return;
	/* DESIGN.md §3b: an account whose Sieve script may reject, or that may
	 * not have room for the message (smtp_quota.c), gets its own
	 * transaction, so its refusal is a reply of its own (RFC 5429 §2.1). */
	if (s->mode == SMTP_MODE_MX && smtp_quota_forward_mix(s, ids, n, nf)) {
		rcpt_defer(s, addr, qa, "quota_may_refuse");
		return;
	}
	if (s->mode == SMTP_MODE_MX && tx->naccounts > 0 && n > 0) {
		int fresh = 0, may = 0, full = 0;
		for (size_t i = 0; i < n; i++) {
			unsigned j;
			for (j = 0; j < tx->naccounts && tx->accounts[j] != ids[i]; j++)
				;
			if (j == tx->naccounts) {
				fresh = 1;
				may |= deliver_sieve_may_reject(smtp_store, ids[i]);
				full |= smtp_quota_may_refuse(s, ids[i]);
			}
		}
		for (unsigned j = 0; fresh && !may && !full && j < tx->naccounts; j++) {
			may |= deliver_sieve_may_reject(smtp_store, tx->accounts[j]);
			full |= smtp_quota_may_refuse(s, tx->accounts[j]);
		}
		if (fresh && (may || full)) {
			rcpt_defer(s, addr, qa, may ? "sieve_may_reject" : "quota_may_refuse");
			return;
		}
	}
	/* Every account the 250 below promises a copy must fit: past the
	 * room, this address waits for a transaction of its own (RFC 5321
	 * §4.5.3.1.10: 452 for too many recipients), never a silent drop. */
	size_t fresh = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned j;
		for (j = 0; j < tx->naccounts && tx->accounts[j] != ids[i]; j++)
			;
		fresh += j == tx->naccounts;
	}
	if (tx->naccounts + fresh > tx->accounts_cap) {
		log_info("smtp", s->id, "event=rcpt_deferred rcpt=%s reason=too_many_accounts", qa);
		smtp_reply(s, "452 4.5.3 <%s>: Too many recipients; send it again in its own transaction", addr);
		smtp_rcpt_put_off(s);
		return;
	}
	/* The sender's null MX, when its answer came by now (smtp_nullmx.c). */
	if (smtp_nullmx_sender(s) == 1) {
		sender_null_mx(s, tx->mail_from);
		return;
	}
	/* The same rule for the recipients' spam policies (smtp_spam.c). */
	if (smtp_spam_rcpt(s, addr, ids, n, is_postmaster(addr, STORE_RCPT_UNKNOWN, bare_pm)) < 0)
		return;
	struct smtp_rcpt *rc = &tx->rcpts[tx->nrcpts++];
	rc->address = arena_strdup(tx->arena, addr);
	rc->params = rcpt_params_text(tx->arena, &cmd->params);
	rc->notify = (cmd->params.seen & SMTP_PARAM_NOTIFY) ? cmd->params.notify : 0;
	rc->orcpt = NULL; /* the slot may hold a pointer from an earlier transaction */
	rc->waits = 0;
	/* Whatever RCPT takes, the queue entry holds (it refused the whole
	 * message, 554 after DATA, past 336 octets). */
	_Static_assert(SMTP_ORCPT_MAX <= SQ_ORCPT_MAX, "ORCPT longer than a queue entry holds");
	if (orcpt_len >= 0)
		rc->orcpt = arena_strdup(tx->arena, orcpt);
	rc->naccounts = (unsigned)n;
	rc->accounts = arena_alloc(tx->arena, (n ? n : 1) * sizeof(ids[0]));
	memcpy(rc->accounts, ids, n * sizeof(ids[0]));
	/* Submission leaves outside targets to the queue (queue_submit). */
	smtp_forward_keep(s, rc, fw, s->mode == SMTP_MODE_MX ? nf : 0, srs);
	/* One copy per account, however many addresses lead to it. */
	for (size_t i = 0; i < n; i++) {
		unsigned j;
		for (j = 0; j < tx->naccounts && tx->accounts[j] != ids[i]; j++)
			;
		if (j == tx->naccounts) /* room checked above */
			tx->accounts[tx->naccounts++] = ids[i];
	}
	s->state = SMTP_S_RCPT;
	smtp_reply(s, "250 2.1.5 Ok");
}

static void cmd_data(struct smtp_session *s, struct smtp_cmd *cmd)
{
	if (s->tx.used_bdat) {
		smtp_reply(s, "503 5.5.1 Error: DATA after BDAT");
		smtp_session_error(s);
		return;
	}
	if (smtp_tx_begin_data(s, 0) < 0)
		return;
	s->state = SMTP_S_DATA;
	rate_start(s);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void cmd_bdat(struct smtp_session *s, struct smtp_cmd *cmd)
{
	/* A chunk that alone overshoots the size limit by SMTP_DROP_MAX is
	 * not read through to answer 552 at its end (RFC 3030 §2 has the
	 * reply follow the chunk): it is answered now, and the session ends,
	 * since nothing else would bring the commands back in step. */
	if (cmd->bdat_size > smtp_cfg->max_message_size + SMTP_DROP_MAX) {
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		smtp_reply(s, "421 4.5.0 %s Error: that BDAT chunk is too big to read through, closing "
			   "connection", hostname_now());
		close_with(s, "bdat_too_big");
		return;
	}
	if (!s->tx.used_bdat)
		rate_start(s);
	if (!s->tx.used_bdat && smtp_tx_begin_data(s, 1) < 0) {
		/* Not even started: the chunk still has to be read and thrown away. */
		s->tx.data_failed = 1;
	}
	s->tx.used_bdat = 1;
	s->tx.bdat_left = cmd->bdat_size;
	s->tx.bdat_last = cmd->bdat_last;
	s->state = SMTP_S_BDAT;
}

static void cmd_starttls(struct smtp_session *s)
{
	/* A preauth session's transport is private already, and its login
	 * would not survive the restart RFC 3207 §4.2 asks for. */
	if (s->conn->tls || s->vouched) {
		smtp_reply(s, "554 5.5.1 Error: TLS already active");
		smtp_session_error(s);
		return;
	}
	if (conn_starttls(s->conn) < 0) {
		smtp_reply(s, "454 4.7.0 TLS not available");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	s->starttls_pending = 1;
	/* RFC 3207 4.2: forget everything learned before TLS. */
	smtp_tx_end(s);
	s->state = SMTP_S_CONNECTED;
	s->esmtp = 0;
	s->helo[0] = '\0';
}

/* Verbs and the states they are valid in. */
struct smtp_verb_rule {
	enum smtp_verb verb;
	unsigned states; /* bit per enum smtp_state */
	const char *wrong_state; /* reply when not allowed */
};

#define ST(x) (1u << (x))
#define ANY_CMD (ST(SMTP_S_CONNECTED) | ST(SMTP_S_HELO) | ST(SMTP_S_MAIL) | ST(SMTP_S_RCPT))
static const struct smtp_verb_rule verb_rules[] = {
	{ SMTP_VERB_HELO, ANY_CMD, NULL },
	{ SMTP_VERB_EHLO, ANY_CMD, NULL },
	{ SMTP_VERB_MAIL, ST(SMTP_S_HELO), "503 5.5.1 Error: send HELO/EHLO first" },
	{ SMTP_VERB_RCPT, ST(SMTP_S_MAIL) | ST(SMTP_S_RCPT), "503 5.5.1 Error: need MAIL command" },
	{ SMTP_VERB_DATA, ST(SMTP_S_RCPT), "503 5.5.1 Error: need RCPT command" },
	{ SMTP_VERB_BDAT, ST(SMTP_S_RCPT), "503 5.5.1 Error: need RCPT command" },
	{ SMTP_VERB_BURL, ST(SMTP_S_RCPT), "503 5.5.1 Error: need RCPT command" },
	{ SMTP_VERB_RSET, ANY_CMD, NULL },
	{ SMTP_VERB_NOOP, ANY_CMD, NULL },
	{ SMTP_VERB_QUIT, ANY_CMD, NULL },
	{ SMTP_VERB_VRFY, ANY_CMD, NULL },
	{ SMTP_VERB_EXPN, ANY_CMD, NULL },
	{ SMTP_VERB_HELP, ANY_CMD, NULL },
	/* Before EHLO too: RFC 3207 asks for none first (its §4.2 reset is to
	 * the greeting's state anyway) and RFC 5321 §4.1.4's EHLO-first is
	 * for mail transactions; Postfix starts TLS there, and so does a
	 * client that knows the port offers it. */
	{ SMTP_VERB_STARTTLS, ST(SMTP_S_CONNECTED) | ST(SMTP_S_HELO), NULL },
	{ SMTP_VERB_AUTH, ANY_CMD, NULL },
};

/*
 * After the reply to a BDAT that was refused: its chunk follows, and must
 * not be read as commands (RFC 3030 §2: the data are sent right after the
 * command line, whatever the reply). With its size known, it is skipped,
 * and (fail_tx) a transaction it was part of is failed, so that a later
 * BDAT LAST cannot deliver the message without it. Without, nothing says where
 * the commands start again: the session ends (RFC 5321 §3.8 allows a
 * close after a 421).
 */
static void bdat_refused(struct smtp_session *s, const struct smtp_cmd *cmd, int fail_tx)
{
	if (cmd->bdat_sized && cmd->bdat_size > SMTP_DROP_MAX) {
		if (s->state == SMTP_S_CLOSING)
			return;
		smtp_reply(s, "421 4.5.0 %s Error: that BDAT chunk is too big to read through, closing "
			   "connection", hostname_now());
		close_with(s, "bdat_too_big");
		return;
	}
	if (cmd->bdat_sized) {
		s->skip_bytes = cmd->bdat_size;
		if (fail_tx && s->in_tx && s->state == SMTP_S_RCPT) {
			s->tx.used_bdat = 1;
			s->tx.data_failed = 1;
		}
		return;
	}
	if (s->state == SMTP_S_CLOSING)
		return; /* too many errors: already said and closing */
	smtp_reply(s, "421 4.5.0 %s Error: cannot find the end of that BDAT chunk, closing connection",
		   hostname_now());
	close_with(s, "bdat_unframed");
}

static void bad_syntax(struct smtp_session *s, struct smtp_cmd *cmd, int r)
{
	const char *why = cmd->err ? cmd->err : "syntax error";
	switch (r) {
	case SMTP_PARSE_BAD_PATH:
		smtp_reply(s, "501 %s Error: %s", cmd->verb == SMTP_VERB_MAIL ? "5.1.7" : "5.1.3", why);
		break;
	case SMTP_PARSE_UNKNOWN_PARAM:
		smtp_reply(s, "555 5.5.4 Error: %s", why);
		break;
	default:
		smtp_reply(s, "501 5.5.4 Error: %s", why);
		break;
	}
	smtp_session_error(s);
}

/*
 * A session opened with HELO was offered no extension (RFC 5321
 * §4.1.1.1: EHLO is how a client asks for them; RFC 1869 §4.5): what
 * only an extension defines is refused, as Exim does, rather than run
 * half-negotiated. MAIL and RCPT parameters are ones this session does
 * not implement (555, RFC 5321 §4.1.1.11); BDAT and BURL are out of
 * sequence (503), and a BDAT's chunk, which follows whatever the reply,
 * is skipped without failing the transaction: DATA may still carry it.
 * 1 when cmd was refused.
 */
static int helo_refuses(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if ((cmd->verb == SMTP_VERB_MAIL || cmd->verb == SMTP_VERB_RCPT) && cmd->params.seen) {
		smtp_reply(s, "555 5.5.4 Error: %s parameters need EHLO",
			   cmd->verb == SMTP_VERB_MAIL ? "MAIL FROM" : "RCPT TO");
		smtp_session_error(s);
		return 1;
	}
	if (cmd->verb != SMTP_VERB_BDAT && cmd->verb != SMTP_VERB_BURL)
		return 0;
	smtp_reply(s, "503 5.5.1 Error: %s was not offered; send EHLO first",
		   cmd->verb == SMTP_VERB_BDAT ? "CHUNKING" : "BURL");
	smtp_session_error(s);
	if (cmd->verb == SMTP_VERB_BDAT)
		bdat_refused(s, cmd, 0);
	return 1;
}

/*
 * RFC 2920 §3.1: a client may send a command before the reply to the one
 * before only once EHLO offered PIPELINING, and EHLO, HELO, DATA, VRFY,
 * EXPN and NOOP end a group (their reply changes what it sends next). 1
 * when verb, with more input already behind its line, breaks that: a
 * client talking over our replies, as spam engines blasting a script do.
 * QUIT ends the session anyway; a BDAT's chunk follows its line; the
 * plaintext behind STARTTLS is dropped (RFC 3207 §4.2, smtp_session_input).
 */
static int pipelined_out_of_turn(const struct smtp_session *s, enum smtp_verb verb)
{
	switch (verb) {
	case SMTP_VERB_QUIT:
	case SMTP_VERB_BDAT:
	case SMTP_VERB_STARTTLS:
		return 0;
	case SMTP_VERB_EHLO:
	case SMTP_VERB_HELO:
	case SMTP_VERB_DATA:
	case SMTP_VERB_VRFY:
	case SMTP_VERB_EXPN:
	case SMTP_VERB_NOOP:
		return 1;
	default:
		return !s->esmtp;
	}
}

/*
 * Port 25 refuses such a command unrun and ends the session, with
 * Postfix's reply (smtpd_forbid_unauth_pipelining, its default since
 * 3.9): the input behind it was written blind, and a message sent behind
 * its DATA, read as commands, would run as such. Submission leaves it
 * to data_refused_with_text(): its clients log in, and some pipeline
 * before they do. 1 when the session ended.
 */
static int refuse_out_of_turn(struct smtp_session *s, const struct smtp_cmd *cmd, int more)
{
	if (!more || s->mode != SMTP_MODE_MX || !pipelined_out_of_turn(s, cmd->verb))
		return 0;
	/* A known verb's name is letters; an unknown one is the client's. */
	int known = cmd->verb != SMTP_VERB_UNKNOWN;
	log_info("smtp", s->id, "event=pipelining_violation after=%.*s pending=%zu",
		 known ? (int)cmd->verb_str.len : 7, known ? cmd->verb_str.p : "unknown",
		 buf_len(&s->conn->in));
	smtp_reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
	close_with(s, "pipelining");
	return 1;
}

/*
 * An unknown command right after a DATA refused in a transaction (every
 * RCPT refused: 554 no valid recipients; or DATA after BDAT): the client
 * sent its message anyway, in a packet after the refusal (the one right
 * behind the DATA is data_refused_with_text's). Read on as commands, its
 * lines would run as such (a "RCPT TO:" and "DATA" line of the message, a
 * transaction nobody sent, as smuggled mail): the session ends at its
 * first line, which a message's header field is and no command is. A
 * client that read the refusal goes on with a command (RSET, MAIL, QUIT).
 */
static void text_after_refused_data(struct smtp_session *s)
{
	log_info("smtp", s->id, "event=protocol_violation reason=text_after_refused_data");
	smtp_reply(s, "421 4.5.0 %s Error: message text sent after DATA was refused, closing connection",
		   hostname_now());
	close_with(s, "data_refused_text");
}

/* Runs one command line; *verb_r says which verb it was. more: input
 * follows the line. */
static void dispatch(struct smtp_session *s, struct str line, int more, enum smtp_verb *verb_r)
{
	struct smtp_cmd cmd;
	int r = smtp_cmd_parse(line, &cmd);
	const struct smtp_verb_rule *rule = NULL;
	unsigned quiet = s->sasl_quiet;
	int after_refused_data = s->data_refused;

	*verb_r = cmd.verb;
	s->data_refused = 0;
	if (refuse_out_of_turn(s, &cmd, more))
		return;

	/* AUTH LOGIN's two responses at most. */
	s->sasl_quiet = cmd.verb == SMTP_VERB_AUTH ? 2 : quiet ? quiet - 1 : 0;
	/* BURL (RFC 4468) is submission's; port 25 does not offer it, so it
	 * is no command there, whatever the state (not "503 need RCPT"). */
	if (cmd.verb == SMTP_VERB_BURL && s->mode == SMTP_MODE_MX)
		cmd.verb = SMTP_VERB_UNKNOWN;
	if (cmd.verb == SMTP_VERB_UNKNOWN && after_refused_data) {
		text_after_refused_data(s);
		return;
	}
	if (cmd.verb == SMTP_VERB_UNKNOWN) {
		log_unknown_command("smtp", s->id, cmd.verb_str.p, cmd.verb_str.len, line.len,
				    quiet != 0);
		smtp_reply(s, "500 5.5.2 Error: command not recognized");
		smtp_session_error(s);
		return;
	}
	for (size_t i = 0; i < sizeof(verb_rules) / sizeof(verb_rules[0]); i++)
		if (verb_rules[i].verb == cmd.verb)
			rule = &verb_rules[i];
	if (!rule || !(rule->states & ST(s->state))) {
		const char *why = rule && rule->wrong_state ? rule->wrong_state
							     : "503 5.5.1 Error: bad sequence of commands";
		if (cmd.verb == SMTP_VERB_MAIL && (s->state == SMTP_S_MAIL || s->state == SMTP_S_RCPT))
			why = "503 5.5.1 Error: nested MAIL command"; /* a transaction is open */
		if (cmd.verb == SMTP_VERB_STARTTLS && (s->state == SMTP_S_MAIL || s->state == SMTP_S_RCPT))
			why = "503 5.5.1 Error: MAIL transaction in progress";
		/* A transaction with no recipient accepted (none sent, or all
		 * refused): RFC 5321 §3.3's "no valid recipients", the reply
		 * RFC 2920 §3.2's example gives so that a client that pipelined
		 * its RCPTs sends no message. */
		if ((cmd.verb == SMTP_VERB_DATA || cmd.verb == SMTP_VERB_BDAT) && s->state == SMTP_S_MAIL)
			why = "554 5.5.1 Error: no valid recipients";
		smtp_reply(s, "%s", why);
		smtp_session_error(s);
		if (cmd.verb == SMTP_VERB_BDAT)
			bdat_refused(s, &cmd, 1);
		return;
	}
	if (!s->esmtp && helo_refuses(s, &cmd))
		return;
	if (r != SMTP_PARSE_OK) {
		bad_syntax(s, &cmd, r);
		if (cmd.verb == SMTP_VERB_BDAT)
			bdat_refused(s, &cmd, 1);
		return;
	}
	switch (cmd.verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		cmd_helo(s, &cmd, cmd.verb == SMTP_VERB_EHLO);
		break;
	case SMTP_VERB_MAIL:
		cmd_mail(s, &cmd);
		break;
	case SMTP_VERB_RCPT:
		cmd_rcpt(s, &cmd);
		break;
	case SMTP_VERB_DATA:
		cmd_data(s, &cmd);
		break;
	case SMTP_VERB_BDAT:
		cmd_bdat(s, &cmd);
		break;
	case SMTP_VERB_BURL:
		if (!s->tx.used_bdat && smtp_tx_begin_data(s, 1) < 0)
			s->tx.data_failed = 1;
		s->tx.used_bdat = 1;
		smtp_tx_burl(s, cmd.burl_url, cmd.bdat_last);
		break;
	case SMTP_VERB_RSET:
		smtp_tx_end(s);
		if (s->state != SMTP_S_CONNECTED)
			s->state = SMTP_S_HELO;
		smtp_reply(s, "250 2.0.0 Ok");
		if (s->draining) {
			smtp_reply(s, "421 4.3.2 %s Service shutting down", hostname_now());
			close_with(s, "shutdown");
		}
		break;
	case SMTP_VERB_NOOP:
		smtp_reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_VERB_QUIT:
		smtp_reply(s, "221 2.0.0 Bye");
		close_with(s, "quit");
		break;
	case SMTP_VERB_VRFY:
		/* 2.0.0, not 2.5.2: RFC 3463 X.5.2 is a syntax error, "useful
		 * only as a permanent error". */
		smtp_reply(s, "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
		break;
	case SMTP_VERB_EXPN:
		smtp_reply(s, "502 5.5.1 Error: EXPN not available");
		break;
	case SMTP_VERB_HELP:
		smtp_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS");
		break;
	case SMTP_VERB_STARTTLS:
		cmd_starttls(s);
		break;
	case SMTP_VERB_AUTH:
		if (s->mode != SMTP_MODE_MX) {
			smtp_auth_cmd(s, &cmd);
			break;
		}
		smtp_reply(s, "503 5.5.1 Error: authentication not enabled on this port (use submission)");
		smtp_session_error(s);
		break;
	default:
		smtp_reply(s, "500 5.5.2 Error: command not recognized");
		smtp_session_error(s);
		break;
	}
	/* Past SMTP_JUNK_LIMIT, each command that does no work counts as an
	 * error (Postfix's smtpd_junk_command_limit): otherwise NOOPs keep a
	 * session that never sends mail alive for its whole hour. An empty
	 * BDAT chunk that is not the last one is a NOOP too, and so is a
	 * HELO or EHLO (a client says it once or twice a message, STARTTLS
	 * included; a loop of them holds a slot as NOOPs do). */
	if ((cmd.verb == SMTP_VERB_NOOP || cmd.verb == SMTP_VERB_RSET || cmd.verb == SMTP_VERB_VRFY ||
	     cmd.verb == SMTP_VERB_EXPN || cmd.verb == SMTP_VERB_HELP || cmd.verb == SMTP_VERB_HELO ||
	     cmd.verb == SMTP_VERB_EHLO ||
	     (cmd.verb == SMTP_VERB_BDAT && cmd.bdat_size == 0 && !cmd.bdat_last)) &&
	    ++s->junk_cmds > SMTP_JUNK_LIMIT && s->state != SMTP_S_CLOSING) {
		if (s->junk_cmds == SMTP_JUNK_LIMIT + 1)
			log_info("smtp", s->id, "event=junk_commands limit=%d", SMTP_JUNK_LIMIT);
		smtp_session_error(s);
	}
}

static void error_sleep_end(struct loop *loop, void *arg)
{
	struct smtp_session *s = arg;
	(void)loop;
	s->pace_timer = 0;
	s->paced = 1;
	conn_pause_read(s->conn, 0);
	smtp_session_input(s);
	if (s->conn) /* reading on may have ended the session's conn */
		conn_flush(s->conn);
}

/*
 * Past TERN_SMTP_SOFT_ERRORS every command line waits SMTP_ERROR_SLEEP_MS
 * before it runs, so its reply (and the session's end at the limit)
 * comes that much later: on a timer, the loop serving others meanwhile,
 * the line left in the input. 1 when the session now waits.
 */
static int error_sleep(struct smtp_session *s)
{
	if (s->paced || s->errors <= smtp_cfg->smtp_soft_errors)
		return 0; /* (paced is cleared when the line is consumed) */
	if (!s->pace_logged) { /* once a session: the first wait says why */
		log_info("smtp", s->id, "event=error_sleep errors=%u ms=%d", s->errors,
			 SMTP_ERROR_SLEEP_MS);
		s->pace_logged = 1;
	}
	conn_pause_read(s->conn, 1);
	s->pace_timer = loop_timer_add(s->loop, SMTP_ERROR_SLEEP_MS, error_sleep_end, s);
	return 1;
}

/*
 * A DATA that was refused with input already waiting behind it: the
 * client did not wait for the reply, as RFC 2920 §3.1 says it must (DATA
 * ends a pipelined group), so what waits is the message text. Read as
 * commands, its lines would run as such (a "RCPT TO:" or "DATA" line of
 * the message, and a transaction nobody sent): the session ends instead,
 * as Postfix's smtpd_forbid_unauth_pipelining does. 1 when it ended.
 */
static int data_refused_with_text(struct smtp_session *s)
{
	if (s->state == SMTP_S_DATA || s->state == SMTP_S_CLOSING || s->conn_gone ||
	    buf_len(&s->conn->in) == 0)
		return 0;
	log_info("smtp", s->id, "event=pipelining_violation after=DATA pending=%zu",
		 buf_len(&s->conn->in));
	smtp_reply(s, "421 4.5.0 %s Error: message text sent before the reply to DATA, closing connection",
		   hostname_now());
	close_with(s, "data_pipelined");
	return 1;
}

/* Reads and runs command lines until input runs out or the state changes to content. */
void smtp_session_input(struct smtp_session *s)
{
	struct buf *in = &s->conn->in;

	while (!s->conn_gone && s->state != SMTP_S_CLOSING && s->state != SMTP_S_WAIT_STORE &&
	       s->state != SMTP_S_WAIT_AUTH && s->state != SMTP_S_WAIT_DNS && !s->pace_timer) {
		if (s->state == SMTP_S_DATA) {
			size_t avail = buf_len(in);
			const char *nl = memchr(buf_data(in), '\n', avail);
			size_t to_nl = nl ? (size_t)(nl - buf_data(in)) + 1 : 0;
			int done = smtp_tx_feed_data(s);
			size_t fed = avail - buf_len(in);
			record_progress(s, fed, nl && fed >= to_nl);
			if (!done)
				return;
			smtp_tx_finish(s);
			continue;
		}
		if (s->state == SMTP_S_BDAT) {
			size_t avail = buf_len(in);
			int done = smtp_tx_feed_bdat(s);
			record_progress(s, avail - buf_len(in), 0);
			if (!done)
				return;
			continue;
		}
		/* After the 220 nothing is read until TLS is up: the conn drops
		 * the plaintext sent behind STARTTLS (RFC 3207 §4.2), which
		 * must neither be answered in plaintext nor run under TLS. */
		if (s->starttls_pending) {
			if (!s->conn->tls)
				return;
			s->starttls_pending = 0;
		}
		if (buf_len(in) == 0)
			return;
		/* A client that pipelines faster than it reads replies waits
		 * until our output drained (session_drained resumes). */
		if (buf_len(&s->conn->out) > SMTP_OUT_MAX / 2)
			return;
		if (s->skip_bytes) {
			size_t k = buf_len(in) < s->skip_bytes ? buf_len(in) : (size_t)s->skip_bytes;
			buf_consume(in, k);
			s->skip_bytes -= k;
			record_progress(s, k, 0);
			continue;
		}
		size_t linelen = 0, consumed = 0;
		if (s->discarding) {
			int found = smtp_line_discard(buf_data(in), buf_len(in), &consumed);
			buf_consume_wipe(in, consumed); /* it may be a SASL response's rest */
			record_progress(s, consumed, found);
			s->dropped += consumed;
			if (found)
				s->discarding = 0;
			else if (s->dropped > SMTP_DROP_MAX && s->state != SMTP_S_CLOSING) {
				smtp_reply(s, "421 4.5.0 %s Error: line too long, closing connection",
					   hostname_now());
				close_with(s, "line_too_long");
				return;
			}
			continue;
		}
		int r = smtp_line_find(buf_data(in), buf_len(in), SMTP_LINE_MAX, &linelen, &consumed);
		if (r == SMTP_LINE_MORE)
			return;
		if (error_sleep(s))
			return;
		record_progress(s, 0, 1); /* a line, or a bad one answered below */
		if (r == SMTP_LINE_FOUND) {
			struct str line = str_make(buf_data(in), linelen);
			/* A SASL response, or AUTH with an initial response: the
			 * credentials are wiped from the buffer, as POP3, IMAP and
			 * ManageSieve do. */
			int secret = s->state == SMTP_S_AUTH || str_has_prefix_ci(line, "AUTH");
			/* Dispatch before consuming: the line points into the buffer,
			 * and replies never touch the input buffer. */
			enum smtp_verb verb = SMTP_VERB_UNKNOWN;
			if (s->state == SMTP_S_AUTH)
				smtp_auth_line(s, line); /* a SASL response, not a command */
			else
				dispatch(s, line, buf_len(in) > consumed, &verb);
			if (s->state == SMTP_S_WAIT_DNS)
				return; /* the line stays: it runs again (smtp_nullmx_relay), its wait had */
			if (secret)
				buf_consume_wipe(in, consumed);
			else
				buf_consume(in, consumed);
			s->paced = 0;
			if (verb == SMTP_VERB_DATA && data_refused_with_text(s))
				return;
			/* In a transaction (MAIL accepted): the client had a
			 * message to send, RFC 2920 §3.2's case of every RCPT
			 * refused (554 no valid recipients). */
			s->data_refused = verb == SMTP_VERB_DATA && !s->conn_gone &&
					  (s->state == SMTP_S_MAIL || s->state == SMTP_S_RCPT);
			continue;
		}
		buf_consume_wipe(in, consumed); /* a bad line: whatever it held */
		s->paced = 0;
		int in_auth = s->state == SMTP_S_AUTH;
		if (in_auth)
			s->state = SMTP_S_HELO; /* a broken SASL response ends the exchange */
		switch (r) {
		case SMTP_LINE_TOO_LONG:
			s->discarding = 1;
			s->dropped = consumed;
			/* X.5.6 is registered for a SASL response only (RFC 4954
			 * §6); a command line too long is a syntax error. */
			if (in_auth)
				smtp_reply(s, "500 5.5.6 Authentication Exchange line is too long");
			else
				smtp_reply(s, "500 5.5.2 Error: line too long");
			break;
		case SMTP_LINE_BARE_LF:
			smtp_reply(s, "500 5.5.2 Error: bare <LF> received; lines must end with <CR><LF>");
			break;
		case SMTP_LINE_BARE_CR:
			smtp_reply(s, "500 5.5.2 Error: bare <CR> received");
			break;
		default:
			smtp_reply(s, "500 5.5.2 Error: NUL octet in command");
			break;
		}
		smtp_session_error(s);
	}
}

static void send_greeting(struct smtp_session *s);

/* 465: the greeting waits until the TLS handshake is done. */
static int greet_after_handshake(struct smtp_session *s)
{
	if (s->mode != SMTP_MODE_SUBMISSIONS || s->state != SMTP_S_GREETING)
		return 0;
	if (!conn_tls_established(s->conn))
		return -1;
	send_greeting(s);
	idle_rearm(s); /* the client's idle time starts with the greeting */
	return 0;
}

static void session_data(struct conn *c, void *arg)
{
	struct smtp_session *s = arg;

	if (greet_after_handshake(s) < 0)
		return;
	if (s->state == SMTP_S_GREETING) {
		/* Bytes before our greeting: a client that does not wait. */
		log_info("smtp", s->id, "event=pregreet peer=%s", c->peer_ip);
		smtp_reply(s, "554 5.5.1 %s Error: SMTP protocol violation (talked before greeting)",
			   hostname_now());
		close_with(s, "pregreet");
		return;
	}
	idle_rearm(s);
	smtp_session_input(s);
}

static void session_drained(struct conn *c, void *arg)
{
	struct smtp_session *s = arg;
	if (greet_after_handshake(s) < 0)
		return;
	if (buf_len(&c->in) > 0 && s->state != SMTP_S_GREETING)
		smtp_session_input(s);
}

static void session_closed(struct conn *c, void *arg, const char *reason)
{
	struct smtp_session *s = arg;

	if (s->limited) /* a refused connection logged its one line */
		log_info("smtp", s->id, "event=disconnect reason=%s in=%llu out=%llu messages=%u",
			 reason, (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
			 s->tx_count);
	if (s->idle_timer)
		loop_timer_del(s->loop, s->idle_timer);
	if (s->life_timer)
		loop_timer_del(s->loop, s->life_timer);
	if (s->greet_timer)
		loop_timer_del(s->loop, s->greet_timer);
	if (s->pace_timer)
		loop_timer_del(s->loop, s->pace_timer);
	s->idle_timer = s->life_timer = s->greet_timer = s->pace_timer = 0;
	smtp_auth_closed(s);
	if (s->limited)
		limits_release(s->mode == SMTP_MODE_MX ? POOL_SMTP : POOL_SUBMISSION, c->peer_ip);
	s->limited = 0;
	s->conn_gone = 1;
	s->conn = NULL;
	smtp_session_free(s);
}

static void send_greeting(struct smtp_session *s)
{
	s->state = SMTP_S_CONNECTED;
	smtp_reply(s, "220 %s ESMTP tern", hostname_now());
}

static void greet_timeout(struct loop *loop, void *arg)
{
	struct smtp_session *s = arg;
	s->greet_timer = 0;
	send_greeting(s);
	conn_flush(s->conn);
}

static void accept_session(struct loop *loop, int fd, void *arg, uint32_t account,
			   const char *login);

void smtp_server_accept(struct loop *loop, int fd, void *arg)
{
	accept_session(loop, fd, arg, 0, NULL);
}

void smtp_server_accept_preauth(struct loop *loop, int fd, uint32_t account, const char *login)
{
	accept_session(loop, fd, SMTP_SUBMISSION, account, login);
}

/* account != 0: submission logged in as login from the greeting on
 * (smtp_server_accept_preauth). */
static void accept_session(struct loop *loop, int fd, void *arg, uint32_t account,
			   const char *login)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	uint64_t n = __atomic_add_fetch(&session_counter, 1, __ATOMIC_RELAXED);

	snprintf(s->id, sizeof(s->id), "%012llx",
		 (unsigned long long)((session_base + n) & 0xffffffffffffull));
	s->loop = loop;
	s->mode = arg == SMTP_SUBMISSIONS ? SMTP_MODE_SUBMISSIONS
		  : arg == SMTP_SUBMISSION ? SMTP_MODE_SUBMISSION
					   : SMTP_MODE_MX;
	s->conn = conn_new(loop, fd, s->mode == SMTP_MODE_SUBMISSIONS, SMTP_IN_MAX, SMTP_OUT_MAX,
			   &smtp_conn_ops, s);
	if (!s->conn) {
		free(s);
		return;
	}
	if (s->mode != SMTP_MODE_MX)
		__atomic_add_fetch(&submission_alive, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&sessions_alive, 1, __ATOMIC_SEQ_CST);
	s->next = loop_sessions;
	if (loop_sessions)
		loop_sessions->prev = s;
	loop_sessions = s;
	static const char *const mode_names[] = { "mx", "submission", "submissions" };
	metrics_inc(s->mode == SMTP_MODE_MX ? METRIC_CONN_SMTP : METRIC_CONN_SUBMISSION);

	enum conn_pool pool = s->mode == SMTP_MODE_MX ? POOL_SMTP : POOL_SUBMISSION;
	int lim = limits_acquire(pool, s->conn->peer_ip);
	if (lim < 0 || loop_draining) {
		/* One line at most (limits.h); no connect or disconnect line. */
		limits_log_refused(pool, "smtp", s->id, s->conn->peer_ip, s->conn->peer_port,
				   loop_draining ? "shutdown"
				   : lim == -2	 ? "per_ip_limit"
						 : "connection_limit");
		if (s->mode == SMTP_MODE_SUBMISSIONS) {
			/* Nothing can be said before the handshake: just close. */
			conn_close(s->conn, "connection_limit");
			return;
		}
		smtp_reply(s, "421 4.7.0 %s Error: too many connections%s", hostname_now(),
			   lim == -2 ? " from your address" : "");
		close_with(s, "connection_limit");
		conn_flush(s->conn);
		return;
	}
	log_info("smtp", s->id, "event=connect peer=%s port=%u service=%s", s->conn->peer_ip,
		 s->conn->peer_port, mode_names[s->mode]);
	s->limited = 1;
	if (s->mode != SMTP_MODE_MX)
		/* Submission: until AUTH succeeds, whatever the client does. */
		conn_deadline(s->conn, (uint64_t)smtp_cfg->login_timeout_s * 1000, login_bye,
			      "login_timeout");
	s->life_timer = loop_timer_add(loop, (uint64_t)smtp_cfg->smtp_session_max_s * 1000,
				       life_timeout, s);
	if (account)
		smtp_auth_preauth(s, account, login);
	if (s->mode == SMTP_MODE_SUBMISSIONS) {
		/* greet_after_handshake() greets; the conn bounds the
		 * handshake (CONN_HANDSHAKE_MS). */
		s->state = SMTP_S_GREETING;
		return;
	}
	s->record_since = loop_now_ms();
	idle_rearm(s);
	smtp_checks_connect(s); /* port 25: iprev, during the greeting */
	if (greet_delay_ms && s->mode == SMTP_MODE_MX) {
		s->state = SMTP_S_GREETING;
		s->greet_timer = loop_timer_add(loop, greet_delay_ms, greet_timeout, s);
		return;
	}
	send_greeting(s);
	conn_flush(s->conn);
}

void smtp_server_drain(void)
{
	loop_draining = 1;
	for (struct smtp_session *s = loop_sessions, *n; s; s = n) {
		n = s->next;
		s->draining = 1;
		if (s->conn_gone || s->in_tx || s->state == SMTP_S_CLOSING ||
		    s->state == SMTP_S_WAIT_AUTH)
			continue; /* mid-transaction or mid-AUTH: finishes first */
		if (s->conn->tls && !conn_tls_established(s->conn)) {
			conn_close(s->conn, "shutdown"); /* nothing can be said yet */
			continue;
		}
		smtp_reply(s, "421 4.3.2 %s Service shutting down", hostname_now());
		close_with(s, "shutdown");
		conn_flush(s->conn);
	}
}

void smtp_server_close_all(void)
{
	for (struct smtp_session *s = loop_sessions, *n; s; s = n) {
		n = s->next;
		if (!s->conn_gone && s->state != SMTP_S_WAIT_STORE)
			conn_close(s->conn, "shutdown");
	}
}
