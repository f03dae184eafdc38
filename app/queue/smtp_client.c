/*
 * smtp_client.c — one outbound SMTP session (RFC 5321 client side with
 * EHLO, STARTTLS, AUTH, PIPELINING, SIZE, 8BITMIME, SMTPUTF8, DSN).
 * See smtp_client.h.
 */
#include "queue/smtp_client.h"

#include <stdarg.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>

#include <bearssl.h>

#include "core/base64.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/punycode.h"
#include "core/xalloc.h"
#include "mime/mime_downgrade.h"
#include "net/client.h"
#include "queue/queue_self.h"
#include "queue/smtp_reply.h"

#define IN_MAX (64 * 1024)
#define OUT_MAX (256 * 1024)
#define BODY_CHUNK (64 * 1024)
/* Recipients per transaction. RFC 5321 §4.5.3.1.8 has servers take 100
 * at least, but many refuse past 50 (452, §4.5.3.1.10); a message for
 * more goes in several transactions on the session. */
#define TX_RCPTS_MAX 50
/* How long a session waits for the 221 to its QUIT (and for the replies
 * still owed before it) before it closes anyway; the reply timeout when
 * that is shorter. Postfix's client reads the 221 too (smtp_quit_timeout),
 * so the remote does not log a connection lost after QUIT. */
#define QUIT_WAIT_S 10

/* Where each recipient stands in the session (struct smtp_client.rst). */
enum {
	R_TODO,   /* not yet sent in a transaction */
	R_SENT,   /* in the current transaction, its RCPT not yet answered */
	R_OK,     /* accepted in the current transaction */
	R_RETRY,  /* 452 "too many recipients": the next transaction takes it */
	R_DONE,   /* has its verdict */
};

enum state { /* ST_CONNECT .. ST_AUTH_PASS first: smtp_client_before_mail */
	ST_CONNECT,
	ST_TLS_WRAP, /* implicit TLS handshake */
	ST_GREET,
	ST_EHLO,
	ST_HELO,
	ST_STARTTLS,
	ST_TLS, /* STARTTLS handshake */
	ST_AUTH,
	ST_AUTH_USER, /* AUTH LOGIN: username asked */
	ST_AUTH_PASS,
	ST_TX,   /* waiting for MAIL/RCPT/DATA replies */
	ST_BODY, /* sending the body; then its reply */
	ST_DOT,  /* 354 with no recipient accepted: a lone "." went, its reply */
	ST_CONVERT, /* waiting for the message's 7-bit form (msg->to7bit) */
	ST_RSET, /* RSET before the next transaction */
	ST_QUIT,
	ST_IDLE, /* a transaction ended; the session may carry another */
};

struct smtp_client {
	struct loop *loop;
	struct client *c;
	struct smtp_client_cfg cfg;
	struct smtp_client_msg *msg;
	smtp_client_done_cb *done;
	void *arg;
	enum state state;
	struct smtp_reply reply;
	struct smtp_ehlo ehlo;
	uint64_t timer;
	int tls_tried, reported, aborted, pipelining, body_8bit, auth_step;
	int conv_asked; /* msg->to7bit was called for this message */
	/* The transaction goes with SMTPUTF8; without it, the envelope as
	 * sent: an address whose domain had U-labels in its A-label form
	 * (NULL: the address as it is). */
	int smtputf8;
	int skip_line; /* the rest of an overlong reply line is still to drop */
	char *env_sender, **env_rcpt;
	size_t env_n;
	int parked;                    /* idle in the owner's cache */
	/* Every session of the process, for smtp_client_close_quitting(). */
	struct smtp_client *prev_all, *next_all;
	void (*gone)(void *arg);       /* parked session closed */
	void *gone_arg;
	uint8_t *rst; /* per recipient: R_* */
	char where[320]; /* "host[ip]" for messages */
	/* Replies owed for what was sent (the greeting, commands, the end of
	 * data): a reply beyond them answers what was not asked. */
	size_t owed;
	/* Transaction: expected replies in order. */
	size_t *tx;    /* the recipients (indexes) of this transaction */
	size_t ntx;
	size_t sent_cmds, answered; /* 0 = MAIL, 1..ntx = RCPT tx[i-1], ntx+1 = DATA */
	size_t accepted;
	unsigned mails; /* MAIL commands sent in this session (RFC 9422 MAILMAX) */
	int mail_ok;
	int tx_ended; /* a transaction of this message ended: some verdicts are final */
	/* Body streaming. */
	size_t body_pos;
	int line_start, body_done;
	/* After the end of data was queued: what was still to go (our
	 * buffer and the socket's unacknowledged bytes) at the last check,
	 * and whether the wait for the reply proper began (all of it gone). */
	size_t outq_last;
	int final_wait;
};

static void step_timeout(struct loop *loop, void *arg);

/* vsnprintf: statuses are cut at their limit on purpose. */
static void fmt_status(char *out, size_t outsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fmt_status(char *out, size_t outsz, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, outsz, fmt, ap);
	va_end(ap);
}

static void arm(struct smtp_client *s, unsigned secs)
{
	if (s->timer)
		loop_timer_del(s->loop, s->timer);
	s->timer = loop_timer_add(s->loop, (uint64_t)secs * 1000, step_timeout, s);
}

static void report(struct smtp_client *s, enum smtp_client_result res, const char *why)
{
	if (s->reported)
		return;
	s->reported = 1;
	if (!s->aborted && s->done)
		s->done(s->arg, res, why);
}

static void set_rcpt(struct smtp_client_rcpt *r, uint8_t verdict, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail_next(struct smtp_client *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail_quit(struct smtp_client *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void quit(struct smtp_client *s);

/*
 * A failure before any verdict: the caller tries the next address. With
 * bye, the remote refused in step (a reply to our command): QUIT and its
 * 221 end the session, as after a transaction (RFC 5321 §3.1: a server
 * greeting with 554 waits for it); else (lost, timed out, out of step, a
 * 421, TLS gone wrong) it is closed at once.
 */
static void fail_end(struct smtp_client *s, int bye, const char *why)
{
	int decided = s->tx_ended;
	if (s->state == ST_TX || s->state == ST_BODY || s->state == ST_DOT)
		for (size_t i = 0; i < s->ntx; i++)
			decided |= s->rst[s->tx[i]] == R_DONE;
	if (decided && !s->reported) {
		/* Some recipients have their verdict from this session (an
		 * earlier transaction delivered, a RCPT was refused for good):
		 * those stand, the others are deferred, not tried again
		 * elsewhere now. (As a failure for the next host, a 550 to
		 * RCPT became a deferral, "connection lost", when the remote
		 * then hung up.) Unless our end of data went (maybe
		 * delivered), nothing reached the remote for them: another
		 * MX may take them in this attempt. */
		int maybe = s->state == ST_BODY && s->body_done;
		for (size_t i = 0; i < s->msg->nrcpts; i++)
			if (s->rst[i] != R_DONE) {
				set_rcpt(&s->msg->rcpts[i], SQ_PENDING, "%s", why);
				s->msg->rcpts[i].elsewhere = !maybe || s->rst[i] != R_OK;
			}
		report(s, SMTPC_VERDICT, "");
	} else {
		report(s, SMTPC_NEXT, why);
	}
	if (s->c && bye && s->state != ST_QUIT)
		quit(s);
	else if (s->c)
		client_close(s->c, "failed");
}

static void fail_endv(struct smtp_client *s, int bye, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* fail_end() with the reason formatted (fail_next, fail_quit). */
static void fail_endv(struct smtp_client *s, int bye, const char *fmt, va_list ap)
{
	char why[SQ_STATUS_MAX];
	vsnprintf(why, sizeof why, fmt, ap);
	fail_end(s, bye, why);
}

static void fail_next(struct smtp_client *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_endv(s, 0, fmt, ap);
	va_end(ap);
}

/* fail_next() for the remote's refusal of a command: the session QUITs. */
static void fail_quit(struct smtp_client *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_endv(s, 1, fmt, ap);
	va_end(ap);
}

static void send_line(struct smtp_client *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void send_line(struct smtp_client *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = buf_vprintf(&s->c->out, fmt, ap);
	va_end(ap);
	if (r < 0 || buf_append(&s->c->out, "\r\n", 2) < 0) {
		char qw[2 * sizeof s->where + 3]; /* the host is an MX name from DNS */
		log_warn("queue", NULL, "event=client_output_full remote=%s",
			 log_q(s->where, qw, sizeof qw));
	}
	s->owed++; /* every line sent is a command (or an AUTH step) with its reply */
	client_flush(s->c);
}

/* RFC 3461 xtext: '+', '=' and octets outside 33..126 as +HH. */
static void xtext(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 33 || c > 126 || c == '+' || c == '=') {
			char e[3] = {'+', hex_upper[c >> 4], hex_upper[c & 15]};
			buf_append(b, e, 3);
		} else {
			buf_append(b, s, 1);
		}
	}
}

static void set_rcpt(struct smtp_client_rcpt *r, uint8_t verdict, const char *fmt, ...)
{
	va_list ap;
	r->verdict = verdict;
	va_start(ap, fmt);
	vsnprintf(r->status, sizeof r->status, fmt, ap);
	va_end(ap);
	const char *st = r->status;
	if (verdict == SQ_PENDING && (st[0] == '2' || st[0] == '3') && st[1] >= '0' &&
	    st[1] <= '9' && st[2] >= '0' && st[2] <= '9' && st[3] == ' ') {
		/* A 2xx or 3xx where it settles nothing (a 250 before the end
		 * of data, a 250 to DATA, a 3xx to MAIL or RCPT): the deferral
		 * needs a temporary status of its own, or the queue, the
		 * delay DSN (RFC 3464 §2.3.4: 4.X.X) and the logs would show
		 * a success code for mail that was not taken. */
		char orig[SQ_STATUS_MAX + 1];
		snprintf(orig, sizeof orig, "%s", st);
		fmt_status(r->status, sizeof r->status, SMTP_UNEXPECTED_REPLY "%s", orig);
	}
}

/*
 * The remote's reply as a status string, "550 5.1.1 text", on one line:
 * a multi-line reply's lines joined by a space (the DSN's Diagnostic-Code
 * and the logs get the whole answer, as Postfix gives it; a provider's
 * first line is often only "the account you tried to reach"), the
 * enhanced code that most servers say again on each line kept once.
 * Nothing is added to the remote's words: a reply without an enhanced
 * code stays without one (RFC 3464 §2.3.6: the Diagnostic-Code is the
 * reply as received); smtp_status_code() derives the notice's Status
 * from the reply code's class. Cut at outsz (the reply text itself at
 * SMTP_REPLY_TEXT_MAX).
 */
static void reply_status(struct smtp_client *s, char *out, size_t outsz)
{
	char code[16];
	const char *t = s->reply.text;
	smtp_reply_status(&s->reply, code, sizeof code);
	size_t cl = strlen(code), n = strcspn(t, "\n");
	/* Else code is a made-up x.0.0: a line that starts so is the remote's. */
	int given = strncmp(t, code, cl) == 0;
	fmt_status(out, outsz, "%d %.*s", s->reply.code, (int)n, t);
	size_t len = strlen(out);
	for (t += n; *t == '\n' && len + 1 < outsz; t += n) {
		t++;
		if (given && strncmp(t, code, cl) == 0 &&
		    (t[cl] == ' ' || t[cl] == '\0' || t[cl] == '\n'))
			t += cl + (t[cl] == ' ');
		n = strcspn(t, "\n");
		if (n == 0)
			continue;
		fmt_status(out + len, outsz - len, " %.*s", (int)n, t);
		len += strlen(out + len);
	}
}

/* Every recipient without its verdict yet gets this one. */
static void verdict_open(struct smtp_client *s, uint8_t verdict, const char *status)
{
	for (size_t i = 0; i < s->msg->nrcpts; i++) {
		if (s->rst[i] == R_DONE)
			continue;
		set_rcpt(&s->msg->rcpts[i], verdict, "%s", status);
		s->rst[i] = R_DONE;
	}
}

/* What the reply being handled answers, for statuses. */
static const char *reply_to(const struct smtp_client *s)
{
	switch (s->state) {
	case ST_EHLO:
		return "EHLO";
	case ST_HELO:
		return "HELO";
	case ST_STARTTLS:
		return "STARTTLS";
	case ST_AUTH:
	case ST_AUTH_USER:
	case ST_AUTH_PASS:
		return "AUTH";
	case ST_TX:
		return s->answered == 0 ? "MAIL FROM" : s->answered <= s->ntx ? "RCPT TO" : "DATA";
	case ST_BODY:
		return s->body_done ? "end of data" : "the message body, sent before its end";
	case ST_DOT:
		return "end of data";
	case ST_RSET:
		return "RSET";
	default:
		return "nothing (unasked)";
	}
}

/*
 * A 421 (RFC 5321 §3.8: the remote is closing the channel): nothing more
 * is sent, and the reply is the answer for every recipient still open.
 * When this session decided no recipient yet (no refused RCPT, no earlier
 * transaction), the failure is the host's, not the message's: the next
 * address is tried (SMTPC_NEXT, as after a 4xx greeting), and when none
 * is left each recipient is deferred with this reply. Otherwise those
 * verdicts stand and the others are deferred with it (fail_next decides).
 */
static void remote_closing(struct smtp_client *s)
{
	char st[SQ_STATUS_MAX];
	reply_status(s, st, sizeof st);
	fail_next(s, "%s (in reply to %s, from %s)", st, reply_to(s), s->where);
}

/* Sessions live on the scheduler's loop alone: no lock. */
static struct smtp_client *all_sessions;

/*
 * QUIT, then the connection stays open for the replies still owed and the
 * 221 (RFC 5321 §4.1.1.10: the receiver closes after its reply), within
 * QUIT_WAIT_S; handle_reply() closes on the last one, step_timeout() when
 * it does not come.
 */
static void quit(struct smtp_client *s)
{
	s->state = ST_QUIT;
	if (s->c) {
		send_line(s, "QUIT");
		arm(s, QUIT_WAIT_S < s->cfg.timeout_s ? QUIT_WAIT_S : s->cfg.timeout_s);
	}
}

/* ---- the transaction ---- */

static void send_mail(struct smtp_client *s)
{
	struct smtp_client_msg *m = s->msg;
	struct buf *b = &s->c->out;

	buf_printf(b, "MAIL FROM:<%s>", s->env_sender ? s->env_sender : m->sender);
	if (s->ehlo.ext & SMTP_EXT_SIZE)
		buf_printf(b, " SIZE=%zu", m->len);
	if (s->body_8bit)
		buf_append_c(b, " BODY=8BITMIME");
	if (s->smtputf8)
		buf_append_c(b, " SMTPUTF8");
	if (m->flags & SQ_REQUIRETLS)
		buf_append_c(b, " REQUIRETLS");
	if ((m->flags & SQ_BY) && (s->ehlo.ext & SMTP_EXT_DELIVERBY)) {
		/* RFC 2852 §4: the time left, counted from now (an R entry past
		 * its deadline never gets here: the scheduler fails it). */
		int64_t left = m->by_deadline - (int64_t)time_wall();
		if (left > 999999999)
			left = 999999999;
		if (left < -999999999)
			left = -999999999;
		if ((m->flags & SQ_BY_RETURN) && left < 1)
			left = 1;
		buf_printf(b, " BY=%lld;%c%s", (long long)left, (m->flags & SQ_BY_RETURN) ? 'R' : 'N',
			   (m->flags & SQ_BY_TRACE) ? "T" : "");
	}
	/* RFC 6710 §4.2: a relay passes the priority on to a next hop that
	 * offers the extension, and drops it otherwise. 0 is the default
	 * and goes unsaid. */
	if (m->priority && (s->ehlo.ext & SMTP_EXT_MTPRIORITY))
		buf_printf(b, " MT-PRIORITY=%d", m->priority);
	if (s->ehlo.ext & SMTP_EXT_DSN) {
		/* What the sender said, or nothing: RET is optional and the
		 * next hop then decides (RFC 3461 §4.3), as Postfix passes on. */
		if (m->flags & SQ_RET_FULL)
			buf_append_c(b, " RET=FULL");
		else if (m->flags & SQ_RET_HDRS)
			buf_append_c(b, " RET=HDRS");
		if (m->envid && *m->envid) {
			buf_append_c(b, " ENVID=");
			xtext(b, m->envid);
		}
	}
	send_line(s, "%s", "");
}

static void send_rcpt(struct smtp_client *s, size_t i)
{
	struct smtp_client_rcpt *r = &s->msg->rcpts[i];
	struct buf *b = &s->c->out;

	buf_printf(b, "RCPT TO:<%s>", s->env_rcpt && s->env_rcpt[i] ? s->env_rcpt[i] : r->addr);
	if (s->ehlo.ext & SMTP_EXT_DSN) {
		if (r->notify & SQ_NOTIFY_NEVER) {
			buf_append_c(b, " NOTIFY=NEVER");
		} else if (r->notify) {
			const char *sep = " NOTIFY=";
			if (r->notify & SQ_NOTIFY_SUCCESS) {
				buf_printf(b, "%sSUCCESS", sep);
				sep = ",";
			}
			if (r->notify & SQ_NOTIFY_FAILURE) {
				buf_printf(b, "%sFAILURE", sep);
				sep = ",";
			}
			if (r->notify & SQ_NOTIFY_DELAY)
				buf_printf(b, "%sDELAY", sep);
		}
		const char *semi = r->orcpt ? strchr(r->orcpt, ';') : NULL;
		if (semi) {
			buf_printf(b, " ORCPT=%.*s;", (int)(semi - r->orcpt), r->orcpt);
			xtext(b, semi + 1);
		}
	}
	send_line(s, "%s", "");
}

/* Sends what may go now: everything with PIPELINING, else the next one
 * (and no DATA when no recipient was accepted: tx_reply ends it). */
static void send_commands(struct smtp_client *s)
{
	size_t n = s->ntx;
	while (s->sent_cmds < n + 2) {
		if (!s->pipelining && s->sent_cmds > s->answered)
			return;
		if (s->sent_cmds == 0)
			send_mail(s);
		else if (s->sent_cmds <= n)
			send_rcpt(s, s->tx[s->sent_cmds - 1]);
		else
			send_line(s, "DATA");
		s->sent_cmds++;
	}
}

/* The recipient's domain as it goes in RCPT TO (after the last '@'). */
static const char *rcpt_domain(const struct smtp_client *s, size_t i)
{
	const char *a = s->env_rcpt && s->env_rcpt[i] ? s->env_rcpt[i] : s->msg->rcpts[i].addr;
	const char *at = strrchr(a, '@');
	return at ? at + 1 : "";
}

/* Whether the session may carry another transaction: the remote's
 * RFC 9422 MAILMAX, if it announced one, is not reached. */
static int mail_allowed(const struct smtp_client *s)
{
	return s->ehlo.mailmax == 0 || s->mails < s->ehlo.mailmax;
}

/*
 * Sends the next transaction: MAIL, up to TX_RCPTS_MAX recipients not yet
 * tried (fewer when the remote announced a smaller RFC 9422 RCPTMAX, and
 * from at most its RCPTDOMAINMAX domains), DATA. 0 when none is left.
 */
static int begin_batch(struct smtp_client *s)
{
	size_t cap = TX_RCPTS_MAX, ndom = 0;
	size_t dom[TX_RCPTS_MAX]; /* a recipient of each domain taken */
	if (s->ehlo.rcptmax && s->ehlo.rcptmax < cap)
		cap = s->ehlo.rcptmax;
	s->ntx = 0;
	for (size_t i = 0; i < s->msg->nrcpts && s->ntx < cap; i++) {
		if (s->rst[i] != R_TODO)
			continue;
		if (s->ehlo.rcptdomainmax) {
			const char *d = rcpt_domain(s, i);
			size_t k = 0;
			while (k < ndom && strcasecmp(rcpt_domain(s, dom[k]), d) != 0)
				k++;
			if (k == ndom) {
				if (ndom >= s->ehlo.rcptdomainmax)
					continue; /* the next transaction takes it */
				dom[ndom++] = i;
			}
		}
		s->rst[i] = R_SENT;
		s->tx[s->ntx++] = i;
	}
	if (s->ntx == 0)
		return 0;
	s->mails++;
	s->state = ST_TX;
	s->sent_cmds = s->answered = s->accepted = 0;
	arm(s, s->cfg.timeout_s);
	send_commands(s);
	return 1;
}

static void tx_end(struct smtp_client *s, int clean);

/* Every recipient fails with status st before anything is sent; start_tx's
 * 0 (s must not be touched). */
static int refuse_all(struct smtp_client *s, const char *st)
{
	verdict_open(s, SQ_FAILED, st);
	report(s, SMTPC_VERDICT, "");
	quit(s);
	return 0;
}

static int has_8bit(const char *p)
{
	for (; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return 1;
	return 0;
}

/*
 * addr as an ASCII envelope may carry it (RFC 5321 without SMTPUTF8):
 * NULL in *out when it is ASCII already; its domain in A-labels when only
 * the domain has UTF-8 (punycode_address_ascii). -1 when there is no
 * such form.
 */
static int ascii_address(const char *addr, char **out)
{
	char a[1024];
	*out = NULL;
	if (!has_8bit(addr))
		return 0;
	if (punycode_address_ascii(addr, a, sizeof a) == 0)
		return -1;
	*out = xstrdup(a);
	return 0;
}

/* Whether the header section of msg[0..len) holds an 8-bit octet. */
static int header_8bit(const char *msg, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)msg[i] >= 0x80)
			return 1;
		if (msg[i] == '\n' && (i + 1 == len || msg[i + 1] == '\n' ||
					(msg[i + 1] == '\r' && i + 2 < len && msg[i + 2] == '\n')))
			return 0;
	}
	return 0;
}

static void envelope_free(struct smtp_client *s)
{
	free(s->env_sender);
	s->env_sender = NULL;
	for (size_t i = 0; i < s->env_n; i++)
		free(s->env_rcpt[i]);
	free(s->env_rcpt);
	s->env_rcpt = NULL;
	s->env_n = 0;
}

/*
 * The envelope of this transaction. An SMTPUTF8 message, or one whose
 * header section has 8-bit octets, goes with SMTPUTF8 to a server
 * offering it. Else the envelope must be ASCII
 * (RFC 6531 §3.2 limits only what needs SMTPUTF8): a domain with U-labels
 * goes as its A-labels, as Postfix and Exim do, so mail to
 * user@bücher.example reaches a server without SMTPUTF8. A recipient
 * whose local part has UTF-8 fails alone (5.6.7: no ASCII form exists,
 * RFC 6530 §7.2); a sender that does, or an SMTPUTF8 message whose header
 * section has UTF-8 (RFC 6532 fields have no ASCII form either), fails
 * the message: -1 with the status in st.
 */
static int envelope_plan(struct smtp_client *s, char *st, size_t stsz)
{
	struct smtp_client_msg *m = s->msg;
	int offered = (s->ehlo.ext & SMTP_EXT_SMTPUTF8) != 0;

	envelope_free(s);
	s->env_n = m->nrcpts;
	s->env_rcpt = xcalloc(m->nrcpts ? m->nrcpts : 1, sizeof *s->env_rcpt);
	/* A header section with raw UTF-8 on mail that came without
	 * SMTPUTF8 (a MUA's Subject; tern takes it, as Postfix does) needs
	 * the extension too (RFC 6531 §3.4, RFC 6532 §3): declared to a
	 * server offering it; to one without, it goes as it came. */
	s->smtputf8 = offered && ((m->flags & SQ_SMTPUTF8) || header_8bit(m->data, m->len));
	if (s->smtputf8)
		return 0;
	int sender_bad = ascii_address(m->sender, &s->env_sender) < 0, rcpt_bad = 0;
	for (size_t i = 0; i < m->nrcpts; i++)
		if (ascii_address(m->rcpts[i].addr, &s->env_rcpt[i]) < 0)
			rcpt_bad = 1;
	if ((sender_bad || rcpt_bad) && offered) {
		/* UTF-8 addresses on mail that came without SMTPUTF8 (RFC 6531
		 * §3.4 wants it with them): this server takes it. */
		envelope_free(s);
		s->smtputf8 = 1;
		return 0;
	}
	if (sender_bad) {
		fmt_status(st, stsz, "5.6.7 %s does not support SMTPUTF8, which the sender address needs",
			   s->where);
		return -1;
	}
	if ((m->flags & SQ_SMTPUTF8) && header_8bit(m->data, m->len)) {
		fmt_status(st, stsz,
			   "5.6.7 %s does not support SMTPUTF8, which the message's UTF-8 header needs",
			   s->where);
		return -1;
	}
	for (size_t i = 0; rcpt_bad && i < m->nrcpts; i++)
		if (!s->env_rcpt[i] && has_8bit(m->rcpts[i].addr) && s->rst[i] == R_TODO) {
			set_rcpt(&m->rcpts[i], SQ_FAILED,
				 "5.6.7 %s does not support SMTPUTF8, which this address needs", s->where);
			s->rst[i] = R_DONE;
		}
	return 0;
}

/*
 * Starts the transaction for s->msg, or refuses it at once (size, 8-bit or
 * UTF-8 the remote cannot take, REQUIRETLS, Deliver By's R mode): then the
 * verdict is reported and the session quits, which may free s when no
 * client callback is running.
 * Returns 1 when the transaction started, 0 when s must not be touched.
 */
static int start_tx(struct smtp_client *s)
{
	struct smtp_client_msg *m = s->msg;
	char st[SQ_STATUS_MAX];

	m->session_up = 1;
	/* 8-bit content to a server without 8BITMIME: its 7-bit form, as
	 * Postfix sends (RFC 6152 §3), before anything is counted: SIZE is
	 * that form's. A line over 998 octets (RFC 5322 §2.1.1, RFC 5321
	 * §4.5.3.1.6) goes in that form to any server: quoted-printable
	 * breaks it where a hop would refuse or cut it. */
	if (m->to7bit && !s->conv_asked &&
	    ((!(s->ehlo.ext & SMTP_EXT_8BITMIME) && mime_has_8bit(m->data, m->len)) ||
	     mime_has_long_line(m->data, m->len))) {
		s->conv_asked = 1;
		if (m->to7bit(m->to7bit_arg) == 0) {
			s->state = ST_CONVERT;
			arm(s, s->cfg.timeout_s);
			return 1;
		}
	}
	/* Refusals we can decide before sending anything. */
	if ((s->ehlo.ext & SMTP_EXT_SIZE) && s->ehlo.size && m->len > s->ehlo.size) {
		fmt_status(st, sizeof st, "5.3.4 message size %zu exceeds the limit of %s (%llu)", m->len,
			 s->where, (unsigned long long)s->ehlo.size);
		return refuse_all(s, st);
	}
	if ((m->flags & SQ_REQUIRETLS) &&
	    (!(s->ehlo.ext & SMTP_EXT_REQUIRETLS) || !client_tls_established(s->c))) {
		/* RFC 8689 §5: the next hop must take REQUIRETLS (it offers it
		 * only over TLS), else the message fails. */
		fmt_status(st, sizeof st, "5.7.30 REQUIRETLS support required: %s does not offer it",
			   s->where);
		return refuse_all(s, st);
	}
	if ((m->flags & (SQ_BY | SQ_BY_RETURN)) == (SQ_BY | SQ_BY_RETURN) &&
	    !(s->ehlo.ext & SMTP_EXT_DELIVERBY)) {
		/* RFC 2852 §4: R mode may not be relayed to a server that cannot
		 * hold the deadline (N mode may, without BY=); the message comes
		 * back as undeliverable. 5.3.3: "system not capable of selected
		 * features" (RFC 3463). */
		fmt_status(st, sizeof st, "5.3.3 Deliver By (R) required: %s does not offer DELIVERBY",
			   s->where);
		return refuse_all(s, st);
	}
	if (envelope_plan(s, st, sizeof st) < 0)
		return refuse_all(s, st);
	s->body_8bit = 0;
	if (mime_has_8bit(m->data, m->len)) {
		if (s->ehlo.ext & SMTP_EXT_8BITMIME) {
			/* Declared (RFC 6152), also the octets of a client that
			 * sent them without BODY=8BITMIME. */
			s->body_8bit = 1;
		} else if (m->flags & SQ_8BITMIME) {
			fmt_status(st, sizeof st,
				   "5.6.3 %s does not support 8BITMIME and the message has 8-bit content "
				   "with no 7-bit form",
				   s->where);
			return refuse_all(s, st);
		}
		/* Undeclared 8-bit to a hop without 8BITMIME leaves as it came. */
	}
	m->remote_dsn = (s->ehlo.ext & SMTP_EXT_DSN) != 0;
	m->tls_outcome = client_tls_established(s->c) ? SMTPC_TLS_OK
			 : s->cfg.no_starttls         ? SMTPC_TLS_SKIPPED
						      : SMTPC_TLS_NOT_OFFERED;
	for (size_t i = 0; i < m->nrcpts; i++)
		if (s->rst[i] != R_DONE) /* envelope_plan may have failed some */
			set_rcpt(&m->rcpts[i], SQ_PENDING, "4.4.2 no answer from %s", s->where);
	s->pipelining = (s->ehlo.ext & SMTP_EXT_PIPELINING) != 0;
	s->tx_ended = 0;
	if (!begin_batch(s))
		tx_end(s, 1); /* no recipient at all */
	return 1;
}

/*
 * Appends body bytes with dot-stuffing and CRLF line ends while room is
 * left. A bare LF becomes CRLF; a bare CR becomes a space, as Postfix's
 * cleanup_replace_stray_cr_lf does: sent as it is, "<CR>.<CR><LF>" ends
 * the data at a next hop that takes a CR for a line end, and what
 * follows is read there as commands and a second message (outbound SMTP
 * smuggling). BDAT, BURL, JMAP and stored mail can all bring one here.
 */
static void feed_body(struct smtp_client *s)
{
	struct smtp_client_msg *m = s->msg;
	struct buf *b = &s->c->out;

	while (!s->body_done && buf_room(b) > BODY_CHUNK + 8 && buf_len(b) < BODY_CHUNK) {
		size_t end = s->body_pos + BODY_CHUNK;
		if (end > m->len)
			end = m->len;
		size_t run = s->body_pos;
		for (size_t i = s->body_pos; i < end; i++) {
			char ch = m->data[i];
			if (s->line_start && ch == '.') {
				buf_append(b, m->data + run, i - run);
				buf_append(b, ".", 1);
				run = i;
			}
			if (ch == '\n' && (i == 0 || m->data[i - 1] != '\r')) {
				buf_append(b, m->data + run, i - run);
				buf_append(b, "\r", 1);
				run = i;
			}
			if (ch == '\r' && (i + 1 == m->len || m->data[i + 1] != '\n')) {
				buf_append(b, m->data + run, i - run);
				buf_append(b, " ", 1);
				run = i + 1;
			}
			s->line_start = ch == '\n';
		}
		buf_append(b, m->data + run, end - run);
		s->body_pos = end;
		if (s->body_pos >= m->len) {
			if (!s->line_start && m->len > 0)
				buf_append(b, "\r\n", 2);
			buf_append(b, ".\r\n", 3);
			s->body_done = 1;
			s->owed++;
			s->outq_last = SIZE_MAX;
			s->final_wait = 0;
			arm(s, s->cfg.timeout_s);
		} else {
			/* A block went: the remote is taking the body. The timeout
			 * is per block (RFC 5321 §4.5.3.2.5: 3 minutes each), not
			 * for the whole body, which may take long at a slow peer. */
			arm(s, s->cfg.timeout_s);
		}
	}
	client_flush(s->c);
}

/*
 * A transaction ended: clean (its end of data or its lone "." was
 * answered: the remote is ready for MAIL) or not (MAIL, DATA refused, no
 * recipient accepted without PIPELINING: RSET first). Recipients refused
 * with 452 go in the next transaction when this one took any (§4.5.3.1.10:
 * the server's limit per transaction), as do those not yet sent; when
 * none is left, the verdict is reported.
 */
static void tx_end(struct smtp_client *s, int clean)
{
	struct smtp_client_msg *m = s->msg;
	int more = 0;
	s->tx_ended = 1;
	for (size_t i = 0; i < m->nrcpts; i++) {
		if (s->rst[i] == R_RETRY) {
			s->rst[i] = s->accepted ? R_TODO : R_DONE; /* no progress: keeps its 4xx */
			m->rcpts[i].elsewhere = s->rst[i] == R_DONE;
		}
		more |= s->rst[i] == R_TODO;
	}
	if (more && !mail_allowed(s)) {
		/* The remote's MAILMAX is reached: the rest wait for the next
		 * try (a new session), each keeping a temporary status. */
		for (size_t i = 0; i < m->nrcpts; i++)
			if (s->rst[i] == R_TODO) {
				s->rst[i] = R_DONE;
				set_rcpt(&m->rcpts[i], SQ_PENDING,
					 "4.5.3 %s allows %u transactions a session (LIMITS MAILMAX)",
					 s->where, s->ehlo.mailmax);
			}
		more = 0;
	}
	if (more) {
		if (clean) {
			begin_batch(s);
		} else {
			s->state = ST_RSET;
			arm(s, s->cfg.timeout_s);
			send_line(s, "RSET");
		}
		return;
	}
	/* The session is clean for another MAIL: the owner may reuse it
	 * (smtp_client_next) or park it from done(); else it quits. */
	s->state = clean ? ST_IDLE : ST_QUIT;
	report(s, SMTPC_VERDICT, "");
	if (s->state == ST_IDLE && !s->parked)
		quit(s);
	else if (!clean && s->c)
		quit(s);
}

static void tx_reply(struct smtp_client *s)
{
	size_t n = s->ntx, idx = s->answered++;
	int code = s->reply.code;
	char st[SQ_STATUS_MAX];

	reply_status(s, st, sizeof st);
	if (idx == 0) { /* MAIL */
		s->mail_ok = code / 100 == 2;
		if (code / 100 == 4 && !s->tx_ended) {
			/* A 4xx to MAIL before any verdict is the host's trouble
			 * (full, overloaded, greylisting the client): the next MX
			 * is tried, as Postfix does; the last host's reply defers. */
			fail_quit(s, "%s (in reply to MAIL FROM, from %s)", st, s->where);
			return;
		}
		if (!s->mail_ok) {
			verdict_open(s, code / 100 == 5 ? SQ_FAILED : SQ_PENDING, st);
			report(s, SMTPC_VERDICT, "");
			quit(s);
			return;
		}
	} else if (idx <= n) { /* RCPT */
		size_t ri = s->tx[idx - 1];
		struct smtp_client_rcpt *r = &s->msg->rcpts[ri];
		if (code / 100 == 2) {
			s->accepted++;
			s->rst[ri] = R_OK;
			set_rcpt(r, SQ_PENDING, "4.4.2 %s: no answer to end of data", s->where);
		} else {
			/* 552 is RFC 821's "too many recipients", 452 since RFC
			 * 5321, whose §4.5.3.1.10 asks clients to take it as
			 * temporary (Postfix does): those recipients are retried,
			 * in the next transaction when this one took any. */
			set_rcpt(r, code / 100 == 5 && code != 552 ? SQ_FAILED : SQ_PENDING, "%s", st);
			s->rst[ri] = code == 452 || code == 552 ? R_RETRY : R_DONE;
			r->elsewhere = s->rst[ri] == R_DONE && r->verdict == SQ_PENDING;
		}
		if (idx == n && !s->pipelining && s->accepted == 0) {
			/* Nobody to send the data to: no DATA. */
			tx_end(s, 0);
			return;
		}
	} else { /* DATA */
		if (code == 354 && s->accepted > 0) {
			s->state = ST_BODY;
			s->body_pos = 0;
			s->line_start = 1;
			s->body_done = 0;
			arm(s, s->cfg.timeout_s);
			feed_body(s);
			return;
		}
		if (code == 354) {
			/* Every RCPT was refused but DATA, pipelined after them,
			 * was taken: RFC 2920 §3.1, an empty message, a lone "."
			 * (the remote then refuses it, there being no recipient). */
			s->state = ST_DOT;
			arm(s, s->cfg.timeout_s);
			send_line(s, ".");
			return;
		}
		/* Refused DATA (or nobody accepted): accepted ones get this reply. */
		for (size_t i = 0; i < n; i++) {
			size_t ri = s->tx[i];
			if (s->rst[ri] == R_OK) {
				set_rcpt(&s->msg->rcpts[ri], code / 100 == 5 ? SQ_FAILED : SQ_PENDING, "%s",
					 st);
				s->msg->rcpts[ri].elsewhere = code / 100 == 4;
				s->rst[ri] = R_DONE;
			}
		}
		tx_end(s, 0);
		return;
	}
	arm(s, s->cfg.timeout_s);
	send_commands(s);
}

static void body_reply(struct smtp_client *s)
{
	int code = s->reply.code;
	char st[SQ_STATUS_MAX];

	reply_status(s, st, sizeof st);
	for (size_t i = 0; i < s->ntx; i++) {
		size_t ri = s->tx[i];
		if (s->rst[ri] != R_OK)
			continue; /* refused at RCPT: keeps that verdict */
		set_rcpt(&s->msg->rcpts[ri],
			 code / 100 == 2 ? SQ_SENT : code / 100 == 5 ? SQ_FAILED : SQ_PENDING, "%s", st);
		/* A 4xx to the end of data: not taken, another MX may take it
		 * now (Postfix's smtp_mesg_fail keeps it for the backup host). */
		s->msg->rcpts[ri].elsewhere = code / 100 == 4;
		s->rst[ri] = R_DONE;
	}
	tx_end(s, 1);
}

/* ---- session set-up ---- */

/* Verified when the set-up asks (the relay host), opportunistic otherwise.
 * TLS that is required or carries the relay password takes the strict
 * profile, verified or not (Postfix's "encrypt" level uses the mandatory
 * ciphers too). The rest takes the wide one: plain opportunistic delivery,
 * and MTA-STS testing's verified attempt, whose failure would otherwise
 * send the mail in plaintext rather than over a CBC suite. */
static int start_tls(struct smtp_client *s)
{
	int strict = s->cfg.require_tls || (s->cfg.auth_user && *s->cfg.auth_user);

	if (s->cfg.ntlsa)
		return client_start_tls_dane(s->c, s->cfg.tls_name ? s->cfg.tls_name : s->cfg.server_name,
					     s->cfg.tls_name ? s->cfg.server_name : NULL, s->cfg.tlsa,
					     s->cfg.ntlsa);
	return s->cfg.verify_tls ? client_start_tls_verified(s->c, s->cfg.server_name, strict)
	                         : client_start_tls(s->c, s->cfg.server_name, strict);
}

static void send_ehlo(struct smtp_client *s)
{
	s->state = ST_EHLO;
	arm(s, s->cfg.timeout_s);
	send_line(s, "EHLO %s", s->cfg.helo);
}

static void after_ehlo(struct smtp_client *s)
{
	if (!client_tls_established(s->c)) {
		if ((s->ehlo.ext & SMTP_EXT_STARTTLS) && !s->tls_tried && !s->cfg.no_starttls) {
			s->state = ST_STARTTLS;
			arm(s, s->cfg.timeout_s);
			send_line(s, "STARTTLS");
			return;
		}
		if (s->cfg.require_tls) {
			s->msg->tls_outcome = SMTPC_TLS_NOT_OFFERED;
			fail_quit(s, "4.7.10 %s offers no STARTTLS, which %s requires", s->where,
				  s->cfg.require_why ? s->cfg.require_why : "the relay set-up");
			return;
		}
	}
	if (s->cfg.auth_user && *s->cfg.auth_user) {
		char plain[600], b64[820];
		size_t ul = strlen(s->cfg.auth_user), pl = strlen(s->cfg.auth_pass);
		if (!client_tls_established(s->c)) {
			fail_quit(s, "4.7.10 will not send the relay password over plaintext to %s",
				  s->where);
			return;
		}
		if (!s->cfg.verify_tls && !s->cfg.auth_unverified_ok) {
			/* A caller that did not ask for verification gets no
			 * password sent either: the relay got AUTH PLAIN
			 * over TLS to a certificate for another name. */
			fail_quit(s, "4.7.5 will not send the relay password to %s over unverified TLS",
				  s->where);
			return;
		}
		if (!(s->ehlo.ext & (SMTP_EXT_AUTH_PLAIN | SMTP_EXT_AUTH_LOGIN))) {
			/* AUTH only when offered (RFC 4954 §4). Postfix then
			 * sends without it, and a relay that wanted it refuses
			 * the mail for good; the credentials say the relay
			 * needs them, so the mail waits (4xx) for a relay that
			 * offers PLAIN or LOGIN again, and the log says why. */
			char qw[2 * sizeof s->where + 3];
			log_warn("queue", NULL,
				 "event=relay_auth_not_offered remote=%s hint=\"the relay offers no "
				 "AUTH PLAIN or LOGIN after TLS; nothing was sent, the mail waits\"",
				 log_q(s->where, qw, sizeof qw));
			fail_quit(s, "4.7.0 %s offers no AUTH PLAIN or LOGIN for the relay credentials",
				  s->where);
			return;
		}
		if (!(s->ehlo.ext & SMTP_EXT_AUTH_PLAIN)) {
			s->state = ST_AUTH_USER;
			arm(s, s->cfg.timeout_s);
			send_line(s, "AUTH LOGIN");
			return;
		}
		if (ul + pl + 2 > sizeof plain) {
			fail_next(s, "4.7.0 relay credentials too long");
			return;
		}
		plain[0] = '\0';
		memcpy(plain + 1, s->cfg.auth_user, ul);
		plain[1 + ul] = '\0';
		memcpy(plain + 2 + ul, s->cfg.auth_pass, pl);
		base64_encode(plain, ul + pl + 2, 0, b64, sizeof b64);
		explicit_bzero(plain, sizeof plain);
		s->state = ST_AUTH;
		arm(s, s->cfg.timeout_s);
		send_line(s, "AUTH PLAIN %s", b64);
		explicit_bzero(b64, sizeof b64);
		return;
	}
	start_tx(s);
}

/*
 * The reply to EHLO or HELO starts with the host's name (RFC 5321
 * §4.1.1.1): when that is our own, the host is this server (a NAT
 * address that leads back here, which no MX check sees) and mail sent
 * would come back to the queue. Nothing is sent: the session ends before
 * MAIL with a 4.4.6 (RFC 3463 §3.5, routing loop) and loops_back set, as
 * Postfix ends it; the caller decides between failing and another host.
 * 1 when so.
 */
static int loops_back(struct smtp_client *s)
{
	const char *name = s->reply.text;
	size_t len = strcspn(name, " \n");
	if (!queue_self_named(name, len, s->cfg.helo))
		return 0;
	s->msg->loops_back = 1;
	fail_quit(s, "4.4.6 %s answered EHLO with our own host name %s", s->where, s->cfg.helo);
	return 1;
}

static void handle_reply(struct smtp_client *s)
{
	int code = s->reply.code;
	char st[SQ_STATUS_MAX];

	if (code == 421 && s->state != ST_GREET && s->state != ST_QUIT) {
		/* Whatever it answers: the remote is going away (§3.8). */
		remote_closing(s);
		return;
	}
	switch (s->state) {
	case ST_GREET:
		if (code != 220) {
			reply_status(s, st, sizeof st);
			s->msg->refused_5xx = code / 100 == 5;
			fail_quit(s, "%s (greeting from %s)", st, s->where);
			return;
		}
		send_ehlo(s);
		return;
	case ST_EHLO:
		if (code / 100 == 2) {
			if (loops_back(s))
				return;
			smtp_ehlo_parse(&s->reply, &s->ehlo);
			after_ehlo(s);
			return;
		}
		if (code / 100 == 5 && !client_tls_established(s->c)) {
			s->state = ST_HELO; /* an old server: HELO, no extensions */
			arm(s, s->cfg.timeout_s);
			send_line(s, "HELO %s", s->cfg.helo);
			return;
		}
		reply_status(s, st, sizeof st);
		fail_quit(s, "%s (EHLO to %s)", st, s->where);
		return;
	case ST_HELO:
		if (code / 100 != 2) {
			reply_status(s, st, sizeof st);
			s->msg->refused_5xx = code / 100 == 5;
			fail_quit(s, "%s (HELO to %s)", st, s->where);
			return;
		}
		if (loops_back(s))
			return;
		memset(&s->ehlo, 0, sizeof s->ehlo);
		after_ehlo(s);
		return;
	case ST_STARTTLS:
		s->tls_tried = 1;
		if (code != 220) {
			if (s->cfg.require_tls) {
				reply_status(s, st, sizeof st);
				fail_quit(s, "%s (STARTTLS to %s)", st, s->where);
				return;
			}
			after_ehlo(s); /* opportunistic: go on in plaintext */
			return;
		}
		s->state = ST_TLS;
		arm(s, s->cfg.timeout_s);
		if (start_tls(s) < 0) {
			s->msg->tls_outcome = SMTPC_TLS_FAILED;
			fail_next(s, "4.7.0 cannot start TLS with %s", s->where);
		}
		return;
	case ST_AUTH:
	case ST_AUTH_PASS:
		if (code != 235) {
			reply_status(s, st, sizeof st);
			fail_quit(s, "%s (AUTH at %s)", st, s->where);
			return;
		}
		start_tx(s);
		return;
	case ST_AUTH_USER: {
		char b64[400];
		if (code != 334) {
			reply_status(s, st, sizeof st);
			fail_quit(s, "%s (AUTH LOGIN at %s)", st, s->where);
			return;
		}
		/* Two 334 prompts: the username, then the password. */
		const char *v = s->auth_step ? s->cfg.auth_pass : s->cfg.auth_user;
		if (base64_encode(v, strlen(v), 0, b64, sizeof b64) < 0) {
			fail_next(s, "4.7.0 relay credentials too long");
			return;
		}
		if (s->auth_step)
			s->state = ST_AUTH_PASS;
		s->auth_step = 1;
		arm(s, s->cfg.timeout_s);
		send_line(s, "%s", b64);
		explicit_bzero(b64, sizeof b64);
		return;
	}
	case ST_TX:
		tx_reply(s);
		return;
	case ST_DOT:
		tx_end(s, 1); /* whatever it says: nobody was accepted */
		return;
	case ST_RSET:
		if (code / 100 != 2) {
			reply_status(s, st, sizeof st);
			fail_next(s, "%s (RSET to %s)", st, s->where);
			return;
		}
		begin_batch(s);
		return;
	case ST_BODY:
		if (!s->body_done) {
			/* A reply before our end of data: the remote gave up. */
			reply_status(s, st, sizeof st);
			for (size_t i = 0; i < s->ntx; i++)
				if (s->rst[s->tx[i]] == R_OK)
					set_rcpt(&s->msg->rcpts[s->tx[i]],
						 code / 100 == 5 ? SQ_FAILED : SQ_PENDING, "%s", st);
			for (size_t i = 0; i < s->ntx; i++)
				s->rst[s->tx[i]] = R_DONE;
			verdict_open(s, SQ_PENDING, st); /* those not sent yet: deferred */
			report(s, SMTPC_VERDICT, "");
			client_close(s->c, "early_reply");
			return;
		}
		body_reply(s);
		return;
	case ST_QUIT:
		if (s->owed == 0 && s->c)
			client_close_after_flush(s->c, "quit"); /* the 221 (or what came instead) */
		return;
	default:
		fail_next(s, "4.5.0 unexpected reply from %s", s->where);
		return;
	}
}

/* ---- transport callbacks ---- */

static void on_connected(struct client *c, void *arg)
{
	struct smtp_client *s = arg;
	struct sockaddr_storage sa;
	socklen_t salen = sizeof sa;
	s->msg->local_ip[0] = '\0';
	if (getsockname(c->fd, (struct sockaddr *)&sa, &salen) == 0)
		getnameinfo((struct sockaddr *)&sa, salen, s->msg->local_ip, sizeof s->msg->local_ip,
			    NULL, 0, NI_NUMERICHOST);
	if (s->cfg.implicit_tls) {
		s->state = ST_TLS_WRAP;
		arm(s, s->cfg.timeout_s);
		if (start_tls(s) < 0)
			fail_next(s, "4.7.0 cannot start TLS with %s", s->where);
		return;
	}
	s->state = ST_GREET;
	arm(s, s->cfg.timeout_s);
}

static void on_tls(struct client *c, void *arg)
{
	struct smtp_client *s = arg;
	(void)c;
	if (s->state == ST_TLS_WRAP) {
		s->tls_tried = 1;
		s->state = ST_GREET;
		arm(s, s->cfg.timeout_s);
	} else if (s->state == ST_TLS) {
		send_ehlo(s); /* forget what was said before TLS (RFC 3207 §4.2) */
	}
}

static void on_data(struct client *c, void *arg)
{
	struct smtp_client *s = arg;

	if (s->parked && s->state != ST_QUIT) {
		/* Nothing is asked while idle: whatever comes (a 421 before
		 * the remote hangs up) ends the session rather than being
		 * taken for the answer to our next command. */
		client_close(c, "unsolicited");
		return;
	}

	/* What is in the input now came before anything sent below: it may
	 * answer only what was sent before (RFC 5321 §4.1.1, RFC 2920 §3.1
	 * without PIPELINING: one reply per command, after it). */
	size_t owed = s->owed;
	while (!s->reported || s->state == ST_QUIT) {
		if (s->skip_line) {
			/* The rest of a line cut at SMTP_REPLY_LINE_MAX: dropped. */
			const char *in = buf_data(&c->in), *lf = memchr(in, '\n', buf_len(&c->in));
			if (!lf) {
				buf_consume(&c->in, buf_len(&c->in));
				return;
			}
			buf_consume(&c->in, (size_t)(lf - in) + 1);
			s->skip_line = 0;
			continue;
		}
		if (buf_len(&c->in) > 0 && owed == 0 && s->reply.lines == 0 && s->state != ST_QUIT &&
		    !(s->state == ST_BODY && !s->body_done)) {
			/* A 421 may come unasked (RFC 5321 §3.8: a server
			 * shutting down says so before it closes): it is
			 * read as one, handle_reply ends the session. */
			const char *in = buf_data(&c->in);
			size_t k = 0, have = buf_len(&c->in);
			while (k < 3 && k < have && in[k] == "421"[k])
				k++;
			if (k == 3 || k == have) {
				if (k < 3)
					return; /* more to come */
				owed = 1;
				s->owed++;
				continue;
			}
			/* (A reply during the body is the remote giving up:
			 * handle_reply takes it as its verdict.) */
			/* A reply to a command not sent yet: a remote talking ahead,
			 * or one whose answers no longer match our commands. */
			if (s->state == ST_BODY && s->body_done) {
				for (size_t i = 0; i < s->ntx; i++)
					if (s->rst[s->tx[i]] == R_OK)
						set_rcpt(&s->msg->rcpts[s->tx[i]], SQ_PENDING,
							 "4.5.0 %s: unexpected reply after end of data",
							 s->where);
				report(s, SMTPC_VERDICT, "");
				client_close(c, "protocol_error");
			} else {
				fail_next(s, "4.5.0 %s answered before being asked (protocol error)",
					  s->where);
			}
			return;
		}
		long n = smtp_reply_line_find(buf_data(&c->in), buf_len(&c->in), SMTP_REPLY_LINE_MAX);
		if (n == 0)
			return;
		/* A line longer than RFC 5321's 512 and our bound: its start is
		 * the line, the rest is dropped, as Postfix's client does. The
		 * code and the continuation mark are in its first octets. (As
		 * a failure, a long 250 after the end of data had the message
		 * sent again at the next try.) */
		size_t len = n < 0 ? SMTP_REPLY_LINE_MAX : (size_t)n - 1; /* without LF */
		int r = smtp_reply_line(&s->reply, buf_data(&c->in), len);
		buf_consume(&c->in, n < 0 ? SMTP_REPLY_LINE_MAX : (size_t)n);
		if (n < 0)
			s->skip_line = 1;
		if (r < 0) {
			smtp_reply_init(&s->reply);
			if (s->state == ST_BODY && s->body_done) {
				for (size_t i = 0; i < s->ntx; i++)
					if (s->rst[s->tx[i]] == R_OK)
						set_rcpt(&s->msg->rcpts[s->tx[i]], SQ_PENDING,
							 "4.5.0 malformed reply after end of data");
				report(s, SMTPC_VERDICT, "");
				client_close(c, "bad_reply");
			} else if (!s->reported) {
				fail_next(s, "4.5.0 %s sent a malformed reply", s->where);
			} else {
				client_close(c, "bad_reply");
			}
			return;
		}
		if (r == 1) {
			if (owed)
				owed--;
			if (s->owed)
				s->owed--;
			handle_reply(s);
			smtp_reply_init(&s->reply);
			if (s->state == ST_QUIT && s->owed == 0)
				return; /* the 221: closing */
		}
		if (s->c == NULL)
			return;
	}
}

static void on_drained(struct client *c, void *arg)
{
	struct smtp_client *s = arg;
	(void)c;
	if (s->state == ST_BODY && !s->body_done)
		feed_body(s);
}

static void on_close(struct client *c, void *arg, const char *reason)
{
	struct smtp_client *s = arg;
	(void)c;
	s->c = NULL;
	if (s->timer) {
		loop_timer_del(s->loop, s->timer);
		s->timer = 0;
	}
	if (s->parked && s->gone)
		s->gone(s->gone_arg);
	if (s->prev_all)
		s->prev_all->next_all = s->next_all;
	else
		all_sessions = s->next_all;
	if (s->next_all)
		s->next_all->prev_all = s->prev_all;
	if (!s->reported && strcmp(reason, "tls_handshake_failed") == 0) {
		s->msg->tls_outcome = SMTPC_TLS_FAILED;
		s->msg->tls_err = client_tls_error(c);
	}
	if (!s->reported) {
		if (s->state == ST_BODY && s->body_done)
			/* The end of data went out and no answer came: maybe delivered,
			 * maybe not. Try again later (a duplicate beats a loss). */
			report(s, SMTPC_VERDICT, "");
		else if (s->state == ST_TLS && strcmp(reason, "tls_handshake_failed") != 0) {
			/* Gone after its 220 to STARTTLS, before the handshake
			 * ended (a middlebox that drops TLS, a broken stack): a
			 * failed handshake, which opportunistic TLS answers in
			 * plaintext as Postfix does. */
			s->msg->tls_outcome = SMTPC_TLS_FAILED;
			fail_next(s, "4.4.1 %s: TLS handshake failed: connection lost", s->where);
		} else if (strcmp(reason, "tls_handshake_failed") == 0 && s->cfg.verify_tls &&
			 client_tls_error(c) > BR_ERR_X509_OK &&
			 client_tls_error(c) < BR_ERR_X509_OK + 64)
			/* The server was not the one asked for: nothing was sent
			 * after STARTTLS, the password least of all. */
			fail_next(s, "4.7.5 %s: TLS not verified: %s", s->where,
				  client_tls_error_text(client_tls_error(c)));
		else if (strcmp(reason, "tls_handshake_failed") == 0)
			/* Says why: a refused suite or SHA-1 signature reads
			 * differently from a reset (net/tls_client.h). */
			fail_next(s, "4.4.1 %s: TLS handshake failed: %s", s->where,
				  client_tls_error_text(client_tls_error(c)));
		else
			fail_next(s, "4.4.1 %s: %s", s->where,
				  strcmp(reason, "connection_refused") == 0 ? "connection refused"
				  : strcmp(reason, "connect_failed") == 0    ? "connect failed"
				                                             : "connection lost");
	}
	envelope_free(s);
	free(s->rst);
	free(s->tx);
	free(s);
}

static const struct client_ops ops = {on_connected, on_tls, on_data, on_drained, on_close};

static void step_timeout(struct loop *loop, void *arg)
{
	struct smtp_client *s = arg;
	(void)loop;
	s->timer = 0;
	if (s->state == ST_QUIT) {
		/* No 221 in time: closed all the same. */
		if (s->c)
			client_close(s->c, "quit_timeout");
		return;
	}
	if (s->parked) {
		/* Idle long enough: the owner forgets it now, not when the
		 * 221 came (its cache slot, freed then, may hold another
		 * session by that time), and it says goodbye on its own. */
		s->parked = 0;
		if (s->gone)
			s->gone(s->gone_arg);
		s->gone = NULL;
		quit(s);
		return;
	}
	if (s->reported) {
		if (s->c)
			client_close(s->c, "quit_timeout");
		return;
	}
	if (s->state == ST_BODY && s->body_done && s->c && !s->final_wait) {
		/* Our buffer and the socket may still hold megabytes the
		 * remote reads slowly: while a block (BODY_CHUNK) of it went
		 * since the last check, as the body had to go (RFC 5321
		 * §4.5.3.2.5: a timeout per block; Postfix's
		 * smtp_data_xfer_timeout per write), it gets another timeout;
		 * once all of it is gone, the reply gets its own wait
		 * (§4.5.3.2.6, twice a reply's). Any progress at all was
		 * enough before: a remote taking an octet per timeout held
		 * the delivery for days. */
		int q = 0;
		if (ioctl(s->c->fd, TIOCOUTQ, &q) == 0 && q >= 0) {
			size_t left = (size_t)q + buf_len(&s->c->out);
			if (left > 0 &&
			    (s->outq_last == SIZE_MAX || (left < s->outq_last && s->outq_last - left >= BODY_CHUNK))) {
				s->outq_last = left;
				arm(s, s->cfg.timeout_s);
				return;
			}
			if (left == 0) {
				s->final_wait = 1;
				arm(s, s->cfg.timeout_s * 2);
				return;
			}
		}
	}
	if (s->state == ST_BODY && s->body_done) {
		for (size_t i = 0; i < s->ntx; i++)
			if (s->rst[s->tx[i]] == R_OK)
				set_rcpt(&s->msg->rcpts[s->tx[i]], SQ_PENDING,
					 "4.4.2 %s: timeout after end of data", s->where);
		report(s, SMTPC_VERDICT, "");
		if (s->c)
			client_close(s->c, "timeout");
		return;
	}
	if (s->state == ST_TLS) {
		/* A handshake that never ends is a failed one (on_close). */
		s->msg->tls_outcome = SMTPC_TLS_FAILED;
		fail_next(s, "4.4.2 %s: TLS handshake failed: timeout", s->where);
		return;
	}
	const char *what = s->state == ST_CONNECT   ? "connect"
			   : s->state == ST_CONVERT ? "the message's 7-bit form"
						    : "reply";
	fail_next(s, "4.4.2 %s: timeout waiting for %s", s->where, what);
}

struct smtp_client *smtp_client_start(struct loop *loop, const struct dns_addr *addr,
				      const struct smtp_client_cfg *cfg, struct smtp_client_msg *msg,
				      smtp_client_done_cb *done, void *arg)
{
	struct smtp_client *s = xcalloc(1, sizeof *s);
	s->loop = loop;
	s->cfg = *cfg;
	s->msg = msg;
	s->done = done;
	s->arg = arg;
	s->state = ST_CONNECT;
	smtp_reply_init(&s->reply);
	s->rst = xcalloc(msg->nrcpts ? msg->nrcpts : 1, 1);
	s->tx = xcalloc(TX_RCPTS_MAX, sizeof *s->tx);
	s->owed = 1; /* the greeting */
	s->c = client_connect(loop, (const struct sockaddr *)&addr->sa, addr->salen, IN_MAX, OUT_MAX,
			      &ops, s);
	fmt_status(s->where, sizeof s->where, "%s[%s]", addr->host, s->c ? s->c->peer_ip : "?");
	if (!s->c) {
		fail_next(s, "4.4.1 %s: cannot connect", addr->host);
		free(s->rst);
		free(s->tx);
		free(s);
		return NULL;
	}
	arm(s, cfg->connect_timeout_s);
	s->next_all = all_sessions;
	if (all_sessions)
		all_sessions->prev_all = s;
	all_sessions = s;
	return s;
}

void smtp_client_close_quitting(void)
{
	for (struct smtp_client *s = all_sessions, *next; s; s = next) {
		next = s->next_all; /* on_close may free s */
		if (s->state == ST_QUIT && s->reported && s->c)
			client_close(s->c, "stopping");
	}
}

void smtp_client_abort(struct smtp_client *s)
{
	s->aborted = 1;
	s->reported = 1;
	if (s->c)
		client_close(s->c, "aborted");
}

int smtp_client_park(struct smtp_client *s, unsigned idle_s, void (*gone)(void *arg), void *arg)
{
	/* A session at the remote's MAILMAX (RFC 9422) takes no more mail. */
	if (s->state != ST_IDLE || !s->c || buf_len(&s->c->in) > 0 || !mail_allowed(s))
		return -1; /* not a clean end of transaction (or the remote said
			    * more than it was asked, which would be read as the
			    * answer to the next MAIL): it quits */
	s->parked = 1;
	s->gone = gone;
	s->gone_arg = arg;
	s->done = NULL;
	s->msg = NULL;
	arm(s, idle_s);
	return 0;
}

int smtp_client_next(struct smtp_client *s, struct smtp_client_msg *msg, smtp_client_done_cb *done,
		     void *arg)
{
	if (!s->parked || s->state != ST_IDLE || !s->c || buf_len(&s->c->in) > 0)
		return -1;
	s->parked = 0;
	s->gone = NULL;
	s->msg = msg;
	s->done = done;
	s->arg = arg;
	s->reported = 0;
	s->conv_asked = 0;
	free(s->rst);
	s->rst = xcalloc(msg->nrcpts ? msg->nrcpts : 1, 1);
	if (start_tx(s))
		client_flush(s->c);
	return 0;
}

int smtp_client_converted(struct smtp_client *s)
{
	if (s->state != ST_CONVERT || s->reported || !s->c)
		return -1;
	/* Asked again, it gives the form (1) or says there is none (-1). */
	if (s->msg->to7bit(s->msg->to7bit_arg) == 0)
		return 0;
	if (start_tx(s))
		client_flush(s->c);
	return 0;
}

int smtp_client_before_mail(const struct smtp_client *s)
{
	/* The states before ST_TX, in the order a session goes through them. */
	return s->state < ST_TX;
}

const char *smtp_client_host(const struct smtp_client *s)
{
	return s->cfg.server_name;
}
