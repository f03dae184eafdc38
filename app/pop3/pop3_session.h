/*
 * pop3_session.h — the POP3 session, shared by pop3_session.c (accept,
 * input, dispatch, timers, shutdown), pop3_auth.c (USER/PASS/AUTH, the
 * password check on a worker, the account lock table) and pop3_mail.c (the
 * TRANSACTION commands, streamed responses and the expunge at QUIT).
 *
 * A session is an explicit state. Work done off the loop (the password
 * check with the maildrop snapshot, the expunge) is a job the session
 * points to while it waits; the conn is paused meanwhile so pipelined
 * commands wait their turn, and if the conn goes away the job's completion
 * frees the session (the job still points to it).
 *
 * Multi-line responses that can be large (RETR, TOP, LIST, UIDL) are
 * streamed: struct pop3_send says what is being sent and how far it got,
 * and pop3_send_refill() adds more whenever the output buffer drained
 * below POP3_OUT_HIGH, so the output buffer never holds more than
 * POP3_OUT_MAX whatever the message size.
 */
#ifndef TERN_POP3_POP3_SESSION_H
#define TERN_POP3_POP3_SESSION_H

#include <stdint.h>

#include "auth/login.h"
#include "auth/sasl.h"
#include "auth/session_watch.h"
#include "core/buf.h"
#include "core/worker.h"
#include "pop3/pop3_parse.h"
#include "store/store.h"

struct config;
struct login_held;
struct conn;
struct loop;
struct store;

#define POP3_IN_MAX 8192
#define POP3_OUT_MAX 131072
/* Stop adding output (commands, stream chunks) above this many octets. */
#define POP3_OUT_HIGH 65536
#define POP3_USER_MAX 320 /* an address: 64 + 1 + 255 */
#define POP3_MAX_ERRORS 10

enum pop3_state {
	POP3_S_AUTHORIZATION, /* before login; USER may have been given */
	POP3_S_SASL,          /* AUTH: waiting for a continuation line */
	POP3_S_WAIT_AUTH,     /* password check on a worker, or the failure delay */
	POP3_S_TRANSACTION,   /* logged in, maildrop snapshot loaded */
	POP3_S_UPDATE,        /* QUIT: expunge running on a worker */
	POP3_S_CLOSING,       /* final reply queued */
};

enum pop3_mech {
	POP3_MECH_NONE,
	POP3_MECH_USER,
	POP3_MECH_PLAIN,
	POP3_MECH_LOGIN,
	POP3_MECH_SCRAM_SHA1,
	POP3_MECH_SCRAM_SHA256,
};

/* One message of the maildrop snapshot. */
struct pop3_msg {
	uint32_t uid;
	uint32_t email_id;
	uint32_t size; /* octets RETR sends before stuffing (pop3_auth.c) */
	uint8_t deleted;
	uint8_t read; /* RETR answered since login or RSET: \Seen at the end */
	uint8_t downgrade; /* no UTF8 given, UTF-8 header fields: sent downgraded
	                    * (mime_header_downgrade.h), size counted so */
};


enum pop3_send_kind { POP3_SEND_NONE, POP3_SEND_BODY, POP3_SEND_LIST, POP3_SEND_UIDL };

struct pop3_send {
	enum pop3_send_kind kind;
	uint32_t index;          /* BODY: the message; LIST/UIDL: next message */
	uint64_t off;            /* BODY: octets of the message consumed */
	struct pop3_stuff stuff; /* BODY: dot-stuffing state (and TOP's limit) */
	struct store_hold hold;  /* BODY: the message's bytes (store_hold.c) */
	struct buf head;         /* BODY: the downgraded header, sent first */
	uint64_t head_off;       /* BODY: octets of head consumed */
};

struct pop3_expunge_job;

struct pop3_session {
	char id[20];
	struct conn *conn;
	struct loop *loop;
	enum pop3_state state;
	unsigned errors;
	/* Lines after an AUTH command still to come that may be the SASL
	 * responses of a refused exchange a client pipelined (a password in
	 * base64): an unknown command among them is logged without its text. */
	unsigned sasl_quiet;
	int discarding;   /* dropping the rest of an over-long line */
	int stls_pending; /* STLS answered, waiting for the switch to TLS */
	int conn_gone;    /* conn closed while a job still works for us */
	int draining;
	int limited;      /* holds a connection-limit slot */
	int utf8;         /* UTF8 command given (RFC 6856) */
	int flushing;     /* inside pop3_flush: freeing waits for it */
	int greeted;      /* greeting (or refusal) sent */
	const char *refused; /* limit reached: the -ERR text sent instead of a greeting */
	uint64_t idle_timer;

	/* AUTHORIZATION */
	char user[POP3_USER_MAX + 1]; /* from USER, "" when none */
	struct sasl_login sasl;       /* AUTH in progress (POP3_S_SASL) */
	/* SCRAM proven, waiting for the empty response to the server-final
	 * challenge: the login and its maildrop (locked), held. */
	struct login_held *scram_ok;
	void *scram_drop;
	struct login *auth;           /* in flight (POP3_S_WAIT_AUTH, auth/login.h) */

	/* TRANSACTION */
	char login[POP3_USER_MAX + 1]; /* the account logged in, for the log */
	uint32_t account, mailbox, uidvalidity;
	int locked;                    /* holds the account in the lock table */
	struct session_watch watch;    /* ends us when the credentials change */
	struct pop3_msg *msgs;
	uint32_t nmsgs, ndeleted;
	uint64_t total_size, deleted_size;
	unsigned retrieved; /* RETR answered, for the log */
	unsigned expunged;  /* messages removed at QUIT, for the log */
	struct pop3_send send;
	struct pop3_expunge_job *expunge; /* in flight (POP3_S_UPDATE) */

	struct pop3_session *prev, *next; /* per-loop list */
};

extern const struct config *pop3_cfg;
extern struct store *pop3_store;

/* pop3_session.c */
/* Queues a reply line (CRLF added). */
void pop3_reply(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Queues raw bytes (multi-line bodies); closes the conn if output overflows. */
void pop3_write(struct pop3_session *s, const char *p, size_t n);
/* Enters CLOSING and closes after the queued output left. */
void pop3_close_with(struct pop3_session *s, const char *reason);
/* Counts a client error; after too many, replies and closes. 1 when closing. */
int pop3_session_error(struct pop3_session *s);
/* Runs buffered input and pending output until one of them must wait. */
void pop3_session_input(struct pop3_session *s);
/* Frees the session once the conn is gone and no job points to it. */
void pop3_session_free(struct pop3_session *s);
/*
 * conn_flush() for code outside the conn's callbacks (worker completions,
 * timers): sends what is queued; our on_data/on_drained may run from it
 * (streams and pipelined commands go on). s may be freed when this returns
 * if the conn closed: the caller must not touch it afterwards.
 */
void pop3_flush(struct pop3_session *s);
/* 1 when the connection is TLS (implicit or after STLS). */
int pop3_secure(const struct pop3_session *s);

/* pop3_auth.c */
void pop3_cmd_user(struct pop3_session *s, struct pop3_cmd *cmd);
void pop3_cmd_pass(struct pop3_session *s, struct pop3_cmd *cmd);
void pop3_cmd_auth(struct pop3_session *s, struct pop3_cmd *cmd);
void pop3_cmd_apop(struct pop3_session *s, struct pop3_cmd *cmd);
/* A continuation line of AUTH (state POP3_S_SASL). */
void pop3_sasl_line(struct pop3_session *s, struct str line);
/* Session end: gives back the account lock. */
void pop3_auth_release(struct pop3_session *s);
/* Session end: abandons a login in flight, stops watching the credentials. */
void pop3_auth_cancel_delay(struct pop3_session *s);
/* pop3_server_accept_preauth: the maildrop of account, opened on the
 * loop, and TRANSACTION state as login. -1: it could not be opened
 * (another session holds it, a store error). */
int pop3_auth_preauth(struct pop3_session *s, uint32_t account, const char *login);
/*
 * The account lock table (process-wide, mutex-protected): 0 when taken,
 * -1 when another session holds account.
 */
int pop3_lock_acquire(uint32_t account);
void pop3_lock_release(uint32_t account);

/* pop3_mail.c */
void pop3_cmd_stat(struct pop3_session *s, struct pop3_cmd *cmd);
void pop3_cmd_list(struct pop3_session *s, struct pop3_cmd *cmd);
void pop3_cmd_uidl(struct pop3_session *s, struct pop3_cmd *cmd);
void pop3_cmd_retr(struct pop3_session *s, struct pop3_cmd *cmd);
void pop3_cmd_top(struct pop3_session *s, struct pop3_cmd *cmd);
void pop3_cmd_dele(struct pop3_session *s, struct pop3_cmd *cmd);
void pop3_cmd_rset(struct pop3_session *s, struct pop3_cmd *cmd);
/* QUIT in TRANSACTION: marks \Seen what RETR sent (and DELE did not
 * mark), expunges what DELE marked, then replies and closes. */
void pop3_quit_transaction(struct pop3_session *s);
/* The connection ended after login without QUIT: marks \Seen what RETR
 * sent, deletes nothing. 1 when that runs (the session is freed when it
 * is done), 0 when there was nothing to mark. */
int pop3_end_transaction(struct pop3_session *s);
/* Adds streamed output while below POP3_OUT_HIGH; s->send.kind is NONE when done. */
void pop3_send_refill(struct pop3_session *s);

#endif
