/*
 * sasl.h — shared SASL helpers: the PLAIN message split, and
 * the server side of a PLAIN or LOGIN exchange (sasl_login_*), which POP3
 * AUTH and SMTP submission AUTH drive the same way.
 *
 * Everything works on caller memory: decoded output goes to a caller
 * buffer with a size, slices point into the caller's message. Nothing
 * logs (the input holds passwords); only a SCRAM exchange allocates its
 * state (a few KiB every session would otherwise carry), which
 * sasl_login_end() frees: a struct sasl_login starts zeroed.
 */
#ifndef TERN_AUTH_SASL_H
#define TERN_AUTH_SASL_H

#include <stddef.h>

#include "auth/scram.h"
#include "core/str.h"

/*
 * Splits a SASL PLAIN message "authzid NUL authcid NUL passwd" (RFC 4616).
 * Returns 0 with the three slices (into msg), or -1 when the NUL count is
 * not exactly two or authcid is empty.
 */
int sasl_plain_split(struct str msg, struct str *authzid_r, struct str *authcid_r,
		    struct str *passwd_r);

/* ---- The server side of PLAIN (RFC 4616) and LOGIN ---- */

#define SASL_USER_MAX 320      /* an address: 64 + 1 + 255 */
#define SASL_RESPONSE_MAX 1536 /* a decoded response: authzid, user, password */

enum sasl_mech {
	SASL_MECH_NONE,
	SASL_MECH_PLAIN,
	SASL_MECH_LOGIN,
	SASL_MECH_SCRAM_SHA1,   /* RFC 5802 */
	SASL_MECH_SCRAM_SHA256, /* RFC 7677 */
};

/* What a session keeps between a challenge and the client's response. */
struct sasl_login {
	enum sasl_mech mech;          /* SASL_MECH_NONE: no exchange running */
	int user_given;               /* LOGIN: the user name came, password next;
				       * SCRAM: the client-first message came */
	char user[SASL_USER_MAX + 1]; /* LOGIN: the user name */
	struct scram_server *scram;   /* SCRAM: the exchange so far (malloc'd) */
};

/*
 * SCRAM is offered only when the admin turns it on (TERN_SASL_SCRAM=1,
 * sasl_scram_offer()). Clients that see it offered take it before PLAIN
 * (mbsync, neomutt and sieve-connect through Cyrus SASL do), and it can
 * only work for an account whose SCRAM keys exist: one whose password was
 * set before this build (until its next PLAIN login), one with two-factor
 * on, and every app password cannot do SCRAM, so offered by default it
 * locked those clients out where PLAIN works.
 */
void sasl_scram_offer(int on);
int sasl_scram_offered(void);
/* The mechanisms offered over TLS, strongest first, space-separated as a
 * capability lists them; those that sasl_login_start_scram() takes. */
const char *sasl_mechs(void);
/* The same list, each mechanism written as pre NAME post ("AUTH=" for an
 * IMAP capability, a CRLF after each for POP3's AUTH): into out (size n,
 * NUL-terminated; 128 octets always suffice). */
void sasl_mechs_each(const char *pre, const char *post, char *out, size_t n);

enum sasl_step {
	SASL_STEP_DONE,       /* the credentials are in *user_r and *pass_r */
	SASL_STEP_PASSWORD,   /* LOGIN: send the "Password:" challenge (SASL_LOGIN_PASSWORD) */
	SASL_STEP_BAD_BASE64, /* not base64: a protocol error, the exchange is over */
	SASL_STEP_MALFORMED,  /* a shape no password check can pass: a failed attempt */
	SASL_STEP_AUTHZID,    /* PLAIN asked to act as someone else: a failed attempt */
	/* SCRAM: the client-first message was taken (*user_r its user):
	 * send the challenge scram_login_challenge() makes, then wait. */
	SASL_STEP_CHALLENGE,
	/* SCRAM: the client-final message is in *pass_r (*user_r the user):
	 * start the login with login_request.scram = x->scram. */
	SASL_STEP_SCRAM,
};

#define SASL_LOGIN_USERNAME "VXNlcm5hbWU6" /* base64 "Username:" */
#define SASL_LOGIN_PASSWORD "UGFzc3dvcmQ6" /* base64 "Password:" */

/*
 * Starts an exchange for the mechanism named mech (PLAIN or LOGIN, any
 * case). Returns 0, or -1 when it is not one of them (x->mech is then
 * SASL_MECH_NONE).
 */
int sasl_login_start(struct sasl_login *x, struct str mech);
/* The same, also taking SCRAM-SHA-256 and SCRAM-SHA-1: for a protocol
 * that offers them (sasl_mechs()) and handles SASL_STEP_CHALLENGE
 * and SASL_STEP_SCRAM. */
int sasl_login_start_scram(struct sasl_login *x, struct str mech);
/* The mechanism's name for the log: "plain", "login", "scram-sha-256"... */
const char *sasl_mech_log_name(enum sasl_mech m);

/*
 * Takes one client response, base64 as sent; initial says it came with the
 * command (where "=" is an empty response, RFC 4954 §4 / RFC 5034 §4).
 * buf receives the decoded response and must stay alive while *user_r and
 * *pass_r (slices into buf or x->user) are used; the caller wipes buf
 * (explicit_bzero) and calls sasl_login_end() after the check. On
 * SASL_STEP_MALFORMED and SASL_STEP_AUTHZID, *user_r is the user name for
 * the log (possibly empty) and *pass_r is empty. The exchange is over after
 * anything but SASL_STEP_PASSWORD.
 */
enum sasl_step sasl_login_step(struct sasl_login *x, struct str b64, int initial,
			       char buf[SASL_RESPONSE_MAX], struct str *user_r, struct str *pass_r);

/*
 * The client cancelled ("*"). 1 when the exchange is SCRAM's past its
 * client-first message, which the challenge answered after reading the
 * store and secrets.key for *user_r (a slice into x, valid until
 * sasl_login_end): the protocol then hands the attempt to the login flow
 * with login_request.malformed = LOGIN_ABORTED, so it is gated, counted,
 * delayed and logged as a failed attempt (Dovecot counts an aborted
 * exchange as a failed one) and a client cannot loop on those reads for
 * free. 0 otherwise (PLAIN, LOGIN, SCRAM before its challenge: nothing
 * was read): the protocol ends the exchange and answers at once.
 */
int sasl_login_cancel_counts(const struct sasl_login *x, struct str *user_r);

/* Ends the exchange and wipes the user name. */
void sasl_login_end(struct sasl_login *x);

#endif
