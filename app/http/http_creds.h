/*
 * http_creds.h — an account's credentials on an HTTP request, checked by
 * the one login flow: HTTP Basic (RFC 7617) with the account's password
 * or an app password, or a JMAP bearer token (RFC 6750, auth/bearer.h).
 * JMAP signs in with them; the admin API checks a token to tell an
 * account that is not allowed there (403) from nobody (401).
 *
 * Design. http_creds_parse() takes the Authorization header on the
 * daemon's thread (no store read, no hash); http_creds_login() runs on a
 * job thread (http_defer, an upload's admit thread), since it may wait
 * out the account's spacing and the reply delay (login_check_wait) and
 * hashes with argon2id; a push channel (http_push.c) runs the same
 * request through login_start() on its loop. A pair that passed is
 * remembered briefly (auth/login_cache.h): clients send it with every
 * request.
 *
 * Caveats. A struct http_creds holds a password: the caller wipes it
 * (explicit_bzero) once the login ran or will not run.
 */
#ifndef TERN_HTTP_HTTP_CREDS_H
#define TERN_HTTP_HTTP_CREDS_H

#include <stddef.h>
#include <stdint.h>

#include "auth/login.h"

struct http_creds {
	char user[LOGIN_USER_MAX + 1], pass[LOGIN_PASS_MAX + 1];
	size_t ulen, plen;
	int has_creds;          /* the header held credentials of a known shape */
	int bearer;             /* Authorization: Bearer (a JMAP token) */
	uint32_t token_account; /* the account the token names */
	char ip[48];            /* the client's, for the limits and the log */
};

/* Fills *c from authz (the Authorization header's value, NULL when
 * absent) for client ip. has_creds says whether it held Basic
 * credentials or a JMAP token; bearer whether it was a Bearer one. */
void http_creds_parse(struct http_creds *c, const char *authz, const char *ip);

/* 1 when authz is "Bearer " and a JMAP token's shape (auth/bearer.h):
 * an account's, never an admin token. */
int http_creds_is_account_token(const char *authz);

/* The login cache's key for a token's credentials ("bearer:" and the
 * account's name), NUL included. */
#define HTTP_CREDS_KEY_MAX (LOGIN_USER_MAX + 8)

/*
 * A store read (a job thread, or a loop for a push channel's one login):
 * puts a token's account name in c->user ("tj1.ID" for an id no account
 * has, so the check costs what a wrong token's does; "" when the store
 * failed, which fails as malformed), and returns the name c is cached
 * under (auth/login_cache.h): Basic's user, or for a token
 * "bearer:NAME" written into ck (size cksz, HTTP_CREDS_KEY_MAX): a name
 * Basic cannot send, so a token never opens Basic or the reverse.
 */
struct str http_creds_name(struct http_creds *c, char *ck, size_t cksz);

/* The login request for c (module "jmap", mech "basic" or "bearer", its
 * scope; malformed when c has no credentials); loop, done and arg are
 * the caller's to set for login_start(). rq points into c. */
void http_creds_request(const struct http_creds *c, struct login_request *rq);

/*
 * On a job thread: signs c in through login_check_wait() (module "jmap",
 * mech "basic" or "bearer"; a token only as its account's JMAP app
 * password, Basic only as the account's password or a mail app
 * password). Credentials of no known shape fail as malformed, gated,
 * counted and delayed all the same. Fills *r (account, apppass, cred on
 * LOGIN_OK, retry_after_s on LOGIN_REFUSED) and returns its outcome.
 * A token's account name is put in c->user.
 */
enum login_outcome http_creds_login(struct http_creds *c, struct login_result *r);

#endif
