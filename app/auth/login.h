/*
 * login.h — the one login flow every protocol uses: SMTP AUTH, IMAP
 * LOGIN/AUTHENTICATE, POP3 USER/PASS/AUTH, ManageSieve, and JMAP (Basic,
 * and bearer tokens with scope STORE_APPPASS_JMAP).
 *
 * Design. A protocol parses its own command (its SASL exchange is
 * auth/sasl_next.h's), builds the request with login_request_init(), hands
 * it to login_start() and waits (its conn paused) for done(). In between, this module:
 *   1. asks login_limit_admit() (login_limit.h), which reserves the attempt
 *      against the client address and the account before any check runs,
 *      or refuses it (reply after LOGIN_MAX_DELAY_MS, no check at all);
 *      a refusal for the account's spacing reads as a temporary failure.
 *      login_start() asks through login_limit_admit_or_hold(), which also
 *      holds an attempt, reserving nothing, while another attempt of the same
 *      untrusted (address, account) pair is in flight, and asks again
 *      when that one settled (a new client's burst of connections then
 *      goes on as trusted after the first succeeded; loop_post() wakes
 *      the held on their own loops). An attempt whose address is busy
 *      (its budget taken by checks in flight, not failures) is held the
 *      same way until one of that address's attempts settles, and
 *      refused as busy only if LOGIN_HOLD_MAX_MS (30 s) pass first;
 *   2. waits out the account's spacing, if any, on a loop timer;
 *   3. checks the password on the worker pool (argon2id, never on a
 *      loop), or for SCRAM the client's proof against the account's keys
 *      (auth/scram_login.h), and, when it matched, runs the protocol's
 *      after_ok hook there too (POP3 locks the maildrop and lists it);
 *   4. settles the reservation; a failure is logged as the one event
 *      every protocol shares,
 *        module=M session=S event=auth_failed mech=.. reason=.. failures=N
 *        delay_ms=N user="..." ip=ADDR
 *      (user always quoted and escaped, ip always last, so an anchored
 *      fail2ban filter cannot be fooled by a user name), and answered after
 *      the growing reply delay;
 *   5. calls done() with the outcome as data; the protocol renders it.
 * Wrong shapes (an empty or too long name, a NUL, a SASL message that
 * cannot succeed) go through the same gate and fail like a wrong password,
 * delay included: replies must not tell them apart.
 *
 * Caveats. done() is never called from inside login_start(). A session
 * that closes calls login_abandon(): done() is then never called, and the
 * flow finishes on its own (a check in flight still settles its
 * reservation). Nothing here logs a password; the password copy is wiped
 * as soon as the check ran.
 */
#ifndef TERN_AUTH_LOGIN_H
#define TERN_AUTH_LOGIN_H

#include <stdint.h>

#include "auth/login_limit.h"
#include "auth/scram.h"
#include "core/metrics.h"
#include "core/str.h"

struct loop;
struct store;
struct login;

#define LOGIN_USER_MAX 320  /* an address: 64 + 1 + 255 */
#define LOGIN_PASS_MAX 1536 /* a SASL response can be no longer */

/* login_request.malformed of a cancelled exchange (and its log reason). */
#define LOGIN_ABORTED "aborted"

enum login_outcome {
	LOGIN_OK,      /* the password matched (and after_ok said LOGIN_OK) */
	LOGIN_FAILED,  /* wrong password, unknown or disabled account, bad shape */
	LOGIN_REFUSED, /* too many failures (address or account): nothing checked */
	LOGIN_TEMP,    /* the store failed: try again later */
	LOGIN_IN_USE,  /* after_ok refused (POP3: the maildrop is locked) */
};

struct login_result {
	enum login_outcome outcome;
	uint32_t account;  /* LOGIN_OK */
	uint64_t cred;     /* LOGIN_OK: the credentials stamp (session_watch.h) */
	uint32_t apppass;  /* LOGIN_OK: the app password used, 0 = the account's own */
	const char *user;  /* the name as checked, lowercased; valid during done */
	const char *mech;  /* the request's */
	/* LOGIN_FAILED: the password was right, but the account may not sign
	 * in (STORE_LOGIN_NOLOGIN). A protocol with a word for it says so
	 * (IMAP NO [CONTACTADMIN]); a wrong password never sets it. */
	int nologin;
	/* The request's malformed was LOGIN_ABORTED: the client cancelled an
	 * exchange that had cost a store read (sasl_login_cancel_counts). It
	 * was gated, counted and delayed as a failure of the address (not of
	 * the account: it guessed nothing); the protocol answers with its
	 * reply to a cancel, whatever the outcome. */
	int aborted;
	/* LOGIN_REFUSED: how long to wait (login_gate_retry_s), for HTTP's
	 * Retry-After. */
	unsigned retry_after_s;
	/* LOGIN_REFUSED for checks under way, not this address's failures
	 * (login_gate_busy: the account's spacing, or an address or /48 whose
	 * budget is taken by checks in flight and whose hold ran out): the
	 * reply must not claim failed logins (login_reply_outcome,
	 * login_refused_text). */
	int busy;
	/* LOGIN_OK of a SCRAM request: the server-final message ("v=...",
	 * RFC 5802 §3) the protocol sends before its success reply; "" else. */
	const char *scram_final;
	void *extra;       /* LOGIN_OK: after_ok's result, now the caller's */
};

/*
 * The outcome a protocol's reply shows: r's, except that a refusal for a
 * busy account reads as a temporary failure (RFC 4954 §6 "454 4.7.0
 * Temporary authentication failure", IMAP NO [UNAVAILABLE], RFC 5530),
 * since nothing this client sent failed.
 */
static inline enum login_outcome login_reply_outcome(const struct login_result *r)
{
	return r->outcome == LOGIN_REFUSED && r->busy ? LOGIN_TEMP : r->outcome;
}

/*
 * The words of a LOGIN_REFUSED for a protocol that states its own status
 * (HTTP's 429, with Retry-After): "too many failed attempts" only when
 * failures refused it, "too many logins under way" when it was busy.
 * Static; one table for every HTTP answer.
 */
const char *login_refused_text(const struct login_result *r);

struct login_request {
	struct store *store;
	struct loop *loop;       /* done() and timers run here */
	const char *module;      /* log module: "smtp", "imap", "pop3" */
	const char *session;     /* log session id */
	const char *ip;          /* client address (IPv6 counted per /64) */
	const char *mech;        /* for the log: "plain", "login", "user", ... */
	enum metric metric;      /* counted once per failure */
	struct str user, pass;   /* copied; the caller wipes its own copies */
	/* What pass may be (enum store_apppass_scope): 0, the account's
	 * password or a mail app password; STORE_APPPASS_JMAP, a JMAP bearer
	 * token's secret only (user is then the token's account). */
	int scope;
	/* Non-NULL: the attempt cannot succeed (SASL said so); the reason for
	 * the log ("malformed", "authzid", LOGIN_ABORTED). Nothing is checked. */
	const char *malformed;
	/* Non-NULL: a SCRAM exchange (auth/scram_login.h) after its server-
	 * first message, copied here; pass is then the client-final message
	 * (decoded) and user the exchange's. The proof is checked where a
	 * password would be, through the same gate, delay and log. */
	const struct scram_server *scram;
	/* Optional, on the worker after the password matched: returns
	 * LOGIN_OK (with *extra_r), LOGIN_IN_USE or LOGIN_TEMP. Must not touch
	 * the session (it may be gone). extra_free frees an extra nobody took. */
	enum login_outcome (*after_ok)(struct store *st, uint32_t account, void **extra_r);
	void (*extra_free)(void *extra);
	void (*done)(void *arg, const struct login_result *r);
	void *arg;
};

/*
 * A protocol's part of every login request it makes: one static const
 * per protocol (SMTP, IMAP, POP3, ManageSieve, JMAP).
 */
struct login_proto {
	const char *module; /* login_request.module */
	enum metric metric; /* login_request.metric */
	void (*done)(void *arg, const struct login_result *r); /* NULL: set later */
};

/* One attempt: the mechanism's log name and what its command or SASL
 * exchange decoded (login_request's user, pass, malformed and scram). */
struct login_creds {
	const char *mech;
	struct str user, pass;
	const char *malformed;
	const struct scram_server *scram;
};

/*
 * The one constructor of a login request: attempt c of protocol p from the
 * session whose log id is session (NULL for none) and client address ip,
 * checked against st; done() runs on loop with arg. Every other field is
 * zero (scope 0: the account's password or a mail app password; no
 * after_ok): a caller that needs them sets them after. Nothing is copied:
 * the strings must live until login_start().
 */
void login_request_init(struct login_request *rq, const struct login_proto *p, struct store *st,
			struct loop *loop, const char *session, const char *ip, void *arg,
			const struct login_creds *c);

/*
 * A success kept past done(): SCRAM's proof held, and the protocol sends
 * the server-final message as a challenge and completes the login only
 * on the client's empty response (RFC 4422 §4: IMAP, POP3 and SMTP have
 * no success data). login_hold copies r (malloc'd, the caller's);
 * login_held_result gives it back as a result whose strings point into h;
 * login_held_free wipes and frees *hp and sets it to NULL (NULL is fine).
 */
struct login_held {
	uint32_t account, apppass;
	uint64_t cred;
	char user[LOGIN_USER_MAX + 1];
	char mech[16];
};
struct login_held *login_hold(const struct login_result *r);
void login_held_result(const struct login_held *h, struct login_result *r);
void login_held_free(struct login_held **hp);

/*
 * The account name user is checked and counted as, into out (NUL-
 * terminated): cut at LOGIN_USER_MAX, lowercased (addresses are stored
 * lowercase) and, when st is not NULL, an address at one of our IDN
 * domains in the spelling it was not added in turned into that account's
 * (store_served_spelling: RFC 5890 §2.3.2.1, one domain). SCRAM's
 * challenge looks up the same name (auth/scram_login.h).
 */
void login_user_name(struct store *st, struct str user, char out[LOGIN_USER_MAX + 1]);

/*
 * Settles an admitted attempt's reservation (auth/login_limit.h: failed,
 * succeeded, or no verdict) and wakes the attempts the loop flow holds
 * for it (its pair's lead, or its address's checks under way): the one
 * settle of every login, this flow's and a caller's that admitted and
 * checked on its own (the web admin's sign-ins, HTTP threads). Settling
 * with login_limit.h directly left a held login waiting for another
 * settle or its backstop. login_settle_failed returns the reply delay
 * (login_limit_failed).
 */
unsigned login_settle_failed(const struct login_ticket *t, uint64_t now_ms, unsigned *failures_r);
void login_settle_ok(const struct login_ticket *t, uint64_t now_ms);
void login_settle_cancel(const struct login_ticket *t);

/* Starts a login; returns its handle (the caller keeps it to abandon). */
struct login *login_start(const struct login_request *rq);

/* The session is going away: done() will not be called; *lp becomes NULL. */
void login_abandon(struct login **lp);

/*
 * The same flow for a thread that may block (an HTTP job thread, never a
 * loop): the gate, the account's spacing, the password check, the same
 * auth_failed line and the reply delay all happen in the calling thread,
 * which sleeps through the waits. A refusal (LOGIN_REFUSED) returns at
 * once: the caller answers 429, and no thread waits on a refusal. rq's loop, done, arg, after_ok are
 * unused. Fills *r (account and cred on LOGIN_OK; user and mech NULL) and
 * returns its outcome: LOGIN_OK, LOGIN_FAILED, LOGIN_REFUSED or LOGIN_TEMP.
 */
enum login_outcome login_check_wait(const struct login_request *rq, struct login_result *r);

#endif
