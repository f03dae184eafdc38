/*
 * sasl_next.h — what a protocol does with one client response of a
 * PLAIN, LOGIN or SCRAM exchange (auth/sasl.h), as data: send a
 * challenge, start the login (auth/login.h) with these fields, or answer
 * bad base64. SMTP, POP3, ManageSieve and IMAP's SCRAM each render it in
 * their own words; the mapping of sasl_login_step()'s result, and SCRAM's
 * challenge (auth/scram_login.h), are written once here.
 *
 * Caveats. The slices and strings of a struct sasl_next point into the
 * caller's buf, the exchange x and the struct itself: use them before
 * wiping buf or calling sasl_login_end(), which a login's start does.
 */
#ifndef TERN_AUTH_SASL_NEXT_H
#define TERN_AUTH_SASL_NEXT_H

#include "auth/sasl.h"
#include "auth/scram_login.h"

struct store;

enum sasl_next_do {
	SASL_NEXT_CHALLENGE,  /* send challenge (base64) and wait for a response */
	SASL_NEXT_LOGIN,      /* start the login with user, pass, malformed, scram */
	SASL_NEXT_BAD_BASE64, /* a protocol error: the exchange is over, nothing counted */
};

struct sasl_next {
	enum sasl_next_do what;
	const char *challenge;           /* CHALLENGE: base64, NUL-terminated */
	struct str user, pass;           /* LOGIN: login_request's user and pass */
	const char *malformed;           /* LOGIN: login_request.malformed */
	const struct scram_server *scram; /* LOGIN: login_request.scram */
	char buf[SCRAM_CHALLENGE_MAX];   /* a SCRAM challenge's text */
};

/*
 * Takes one response (b64 as sent, initial as for sasl_login_step(), buf
 * its decoding buffer) of exchange x and fills *n. A SCRAM client-first
 * message is answered with scram_login_challenge() against st (a store
 * read on the caller's thread); a challenge that cannot be made ends in a
 * failed login ("malformed"), like every shape no password can pass.
 */
void sasl_next_step(struct sasl_login *x, struct store *st, struct str b64, int initial,
		    char buf[SASL_RESPONSE_MAX], struct sasl_next *n);

#endif
