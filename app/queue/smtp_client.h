/*
 * smtp_client.h — one outbound SMTP session: connect to one address,
 * EHLO, opportunistic (or required) STARTTLS, optional AUTH, and one mail
 * transaction for a group of recipients of the same destination.
 *
 * Design. A non-blocking state machine on the scheduler's loop, over
 * net/client.h (which hides TLS). Replies are read with queue/smtp_reply.h.
 * With PIPELINING, MAIL, every RCPT and DATA go out in one write and the
 * replies are matched in order (RFC 2920); otherwise one command at a
 * time. The body is streamed from the caller's buffer with dot-stuffing
 * and bare LF made CRLF, refilled as the output drains.
 *
 * The verdict: done() runs once, either with SMTPC_VERDICT — every
 * recipient has its outcome in rcpts[i].verdict (SQ_SENT / SQ_FAILED /
 * SQ_PENDING) and status — as soon as the remote answered the end of data
 * (or refused the transaction earlier), so the caller can commit at once;
 * or with SMTPC_NEXT when the session failed before any verdict (refused
 * connection, timeout, 4xx/5xx greeting, a 4xx to EHLO or MAIL, a 421 at
 * any point before a recipient's verdict, TLS required but not offered,
 * AUTH refused) and the next address should be tried; why then says what
 * happened. A 421 after some verdicts ends the session too, the open
 * recipients deferred with its text (RFC 5321 §3.8). A deferred recipient
 * the message did not reach (a 4xx to its RCPT, to DATA or the end of
 * data, the session ended before its data) is marked elsewhere: the
 * caller may try it at the next address. After done() the session sends
 * QUIT, reads the remote's 221 (QUIT_WAIT_S at most) and frees itself;
 * the caller must not touch it again.
 *
 * Caveats: msg and its strings must stay valid until done() runs.
 */
#ifndef TERN_QUEUE_SMTP_CLIENT_H
#define TERN_QUEUE_SMTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"
#include "store/store_queue.h"

struct loop;
struct smtp_client;

struct smtp_client_rcpt {
	const char *addr;
	const char *orcpt; /* "rfc822;addr" or "" */
	uint8_t notify;    /* SQ_NOTIFY_* */
	/* Output. */
	uint8_t verdict; /* SQ_SENT, SQ_FAILED or SQ_PENDING (4xx) */
	/* With SQ_PENDING: 1 when the remote refused it for now at RCPT,
	 * DATA or the end of data (a 4xx) while the session went on, or
	 * the session ended (a 421,
	 * a lost connection) before the message went for it, after other
	 * recipients had their verdicts: another MX may take it in the same
	 * attempt. The caller clears it. */
	uint8_t elsewhere;
	char status[SQ_STATUS_MAX + 1];
};

struct smtp_client_msg {
	const char *data;
	size_t len;
	const char *sender; /* "" null sender */
	const char *envid;  /* "" none */
	uint32_t flags;     /* SQ_8BITMIME, SQ_SMTPUTF8, SQ_RET_FULL, SQ_RET_HDRS, SQ_BY* */
	int64_t by_deadline; /* with SQ_BY: BY= to a server offering DELIVERBY (RFC 2852) */
	int priority;        /* MT-PRIORITY= to a server offering it (RFC 6710), when not 0 */
	struct smtp_client_rcpt *rcpts;
	size_t nrcpts;
	/*
	 * Optional: the message made 7-bit for a remote that offers no
	 * 8BITMIME while data holds 8-bit octets (RFC 6152 §3), called once
	 * per message and session before MAIL. It returns 1 with data and
	 * len now the 7-bit form; -1 when there is none (the message then
	 * goes as it is when it was not declared 8BITMIME, else it fails
	 * 5.6.3); 0 when the form is being made: the session waits (its
	 * reply timeout runs) until smtp_client_converted(). NULL: no
	 * conversion, as -1.
	 */
	int (*to7bit)(void *arg);
	void *to7bit_arg;
	/* Output: 1 when the remote took DSN parameters (it notifies now). */
	int remote_dsn;
	/* Output: the session's TLS outcome, for TLS-RPT (RFC 8460):
	 * SMTPC_TLS_*, and BearSSL's error when SMTPC_TLS_FAILED (0 when
	 * the failure was not the engine's: STARTTLS refused to start). */
	int tls_outcome;
	int tls_err;
	char local_ip[48]; /* our address of the connection ("" before it is made) */
	/* Output with SMTPC_NEXT: 1 when the host refused us with a 5xx
	 * greeting (554, RFC 7504's 521) or a 5xx to HELO: it takes no mail
	 * from us, a final answer when no other host is left (Postfix
	 * bounces then too). The caller clears it before each session. */
	int refused_5xx;
	/* Output with SMTPC_NEXT: 1 when the host answered EHLO (or HELO)
	 * with our own name (cfg.helo, our host name): it is ourselves, as
	 * behind a NAT address, and nothing was sent (queue_self.h). The
	 * caller clears it before each session. */
	int loops_back;
	/* Output: 1 once the session got past EHLO, TLS and AUTH to its
	 * first MAIL (what Postfix's smtp_mx_session_limit counts). The
	 * caller clears it before each session. */
	int session_up;
};

enum {
	SMTPC_TLS_UNKNOWN,     /* the session ended before TLS was decided */
	SMTPC_TLS_OK,          /* the transaction ran over TLS */
	SMTPC_TLS_NOT_OFFERED, /* the remote offered no STARTTLS (or refused it) */
	SMTPC_TLS_FAILED,      /* the handshake or the certificate check failed */
	SMTPC_TLS_SKIPPED,     /* plaintext because we did not ask (the retry after a failure) */
};

struct smtp_client_cfg {
	const char *helo;        /* our name for EHLO */
	const char *server_name; /* the remote's name: SNI, logs, DSNs */
	unsigned connect_timeout_s;
	unsigned timeout_s; /* each reply */
	int implicit_tls;   /* TLS right after connect (port 465) */
	int require_tls;    /* no STARTTLS offered: fail */
	const char *require_why; /* who requires TLS, for the status ("the relay set-up" when NULL) */
	int no_starttls;    /* do not use STARTTLS (the retry after it failed) */
	/* AUTH after TLS when user is set; a remote that offers neither
	 * PLAIN nor LOGIN then ends the session before MAIL (SMTPC_NEXT,
	 * a 4.7.0 status): mail sent without the AUTH it asked for would
	 * be refused. */
	const char *auth_user, *auth_pass;
	/* The TLS server must be verified (net/anchors.h's roots, the name in
	 * server_name): a failed check ends the session before any command
	 * (SMTPC_NEXT, a 4.7.5 status), and AUTH goes only over such a session. */
	int verify_tls;
	/* DANE (RFC 7672): with ntlsa > 0 the server is verified by these
	 * records (owned by the caller until done) instead of the roots;
	 * set verify_tls and require_tls with them. */
	const struct tlsa_rec *tlsa;
	size_t ntlsa;
	/* With them: the TLSA base domain when it is not server_name (a
	 * CNAME target, RFC 7672 §2.2.2): sent as SNI and checked first
	 * against the certificate, server_name as well; NULL otherwise. */
	const char *tls_name;
	/* AUTH over TLS that was not verified (TERN_RELAY_TLS_VERIFY=off only). */
	int auth_unverified_ok;
};

enum smtp_client_result { SMTPC_VERDICT, SMTPC_NEXT };

typedef void smtp_client_done_cb(void *arg, enum smtp_client_result res, const char *why);

/*
 * Starts a session to addr. cfg is copied (its strings must live until
 * done). Returns the session, or NULL after done() already ran with
 * SMTPC_NEXT (no socket).
 */
struct smtp_client *smtp_client_start(struct loop *loop, const struct dns_addr *addr,
				      const struct smtp_client_cfg *cfg, struct smtp_client_msg *msg,
				      smtp_client_done_cb *done, void *arg);
/* Abandons a session before done() (shutdown): done() will not run. */
void smtp_client_abort(struct smtp_client *s);

/*
 * Connection reuse. Called from done() after a verdict that ended the
 * transaction cleanly (the remote answered the end of data): instead of
 * QUIT the session stays open, idle, for idle_s seconds; gone(arg) runs
 * once it is no longer the owner's: the remote hung up (the session is
 * then freed), or idle_s passed (it then quits on its own, still reading
 * the 221, and frees itself). Returns 0, or -1 when the transaction did not end
 * cleanly (refused earlier, timeout): that session quits as before, as
 * does one not parked from done().
 */
int smtp_client_park(struct smtp_client *s, unsigned idle_s, void (*gone)(void *arg),
		     void *arg);
/*
 * Runs a new transaction on a parked session (msg as for
 * smtp_client_start; done() as there). 0, or -1 when the session is not
 * parked and idle (use a new one).
 */
int smtp_client_next(struct smtp_client *s, struct smtp_client_msg *msg, smtp_client_done_cb *done,
		     void *arg);
/*
 * After msg->to7bit returned 0: the form is ready or not to be had.
 * to7bit is asked again (it must not answer 0 now) and the transaction
 * goes on or is refused as its 1 or -1 has it. 0, or -1 when s is not
 * waiting for it (it ended meanwhile, or it is another session the owner
 * now runs: the call does nothing, and msg is not touched).
 */
int smtp_client_converted(struct smtp_client *s);
/*
 * Closes now every session waiting for the 221 to its QUIT (no owner has
 * them any more): the scheduler's stop, so that none outlives its loop.
 */
void smtp_client_close_quitting(void);
/*
 * 1 while the session has not begun a mail transaction: connecting,
 * in the TLS handshake, waiting for the greeting, EHLO, STARTTLS or AUTH
 * (no MAIL sent, so nothing of the message has reached the remote);
 * abandoning it then loses nothing and sends nothing twice.
 */
int smtp_client_before_mail(const struct smtp_client *s);
/* The remote's name the session was opened to. */
const char *smtp_client_host(const struct smtp_client *s);

#endif
