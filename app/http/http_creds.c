/*
 * http_creds.c — an account's credentials on an HTTP request, through the
 * one login flow (see http_creds.h).
 */
#include "http/http_creds.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth/bearer.h"
#include "auth/login_cache.h"
#include "core/metrics.h"
#include "http/http_internal.h"

/* A bearer token into c: the secret now, the account's address on the
 * job's thread (a store read). 0 or -1. */
static int bearer_parse(const char *h, struct http_creds *c)
{
	h += 7;
	while (*h == ' ')
		h++;
	if (bearer_token_parse(h, strlen(h), &c->token_account, c->pass, sizeof c->pass) < 0)
		return -1;
	c->plen = strlen(c->pass);
	return 0;
}

void http_creds_parse(struct http_creds *c, const char *authz, const char *ip)
{
	snprintf(c->ip, sizeof c->ip, "%s", ip);
	c->bearer = authz && strncasecmp(authz, "Bearer ", 7) == 0;
	c->has_creds = (c->bearer ? bearer_parse(authz, c)
				  : http_basic_parse(authz, c->user, &c->ulen, c->pass, &c->plen)) == 0;
}

int http_creds_is_account_token(const char *authz)
{
	struct http_creds c;
	int yes;

	memset(&c, 0, sizeof c);
	yes = authz && strncasecmp(authz, "Bearer ", 7) == 0 && bearer_parse(authz, &c) == 0;
	explicit_bzero(&c, sizeof c);
	return yes;
}

struct str http_creds_name(struct http_creds *c, char *ck, size_t cksz)
{
	/* A token's account by its id. An id no account has becomes a name
	 * no account has ("tj1.ID"), which the login flow checks against
	 * nothing at the cost of a check and fails like a wrong password:
	 * the time taken must not tell which ids exist (an empty name failed
	 * at once, as malformed). */
	if (c->bearer && c->has_creds) {
		int rc = store_account_email(http_store, c->token_account, c->user, sizeof c->user);
		if (rc == STORE_ENOTFOUND)
			snprintf(c->user, sizeof c->user, "tj1.%x", c->token_account);
		else if (rc != STORE_OK)
			c->user[0] = '\0';
		c->ulen = strlen(c->user);
	}
	/* The cache keys a token's pass under a name Basic cannot send (its
	 * user-id has no ':'), so a token never opens Basic or the reverse. */
	if (!c->bearer)
		return str_make(c->user, c->ulen);
	int n = snprintf(ck, cksz, "bearer:%s", c->user);
	return str_make(ck, n < 0 ? 0 : (size_t)n < cksz ? (size_t)n : cksz - 1);
}

/* JMAP's logins: no session id, no loop (login_check_wait, or
 * http_push.c sets its own loop and done). */
static const struct login_proto http_login = { "jmap", METRIC_AUTHFAIL_HTTP, NULL };

void http_creds_request(const struct http_creds *c, struct login_request *rq)
{
	struct login_creds cr = { c->bearer ? "bearer" : "basic", str_make(c->user, c->ulen),
				  str_make(c->pass, c->plen), c->has_creds ? NULL : "malformed", NULL };

	login_request_init(rq, &http_login, http_store, NULL, NULL, c->ip, NULL, &cr);
	rq->scope = c->bearer ? STORE_APPPASS_JMAP : STORE_APPPASS_MAIL;
}

enum login_outcome http_creds_login(struct http_creds *c, struct login_result *r)
{
	char ck[HTTP_CREDS_KEY_MAX];
	struct str cu = http_creds_name(c, ck, sizeof ck), p = str_make(c->pass, c->plen);
	struct login_request rq;

	memset(r, 0, sizeof *r);
	if (c->has_creds && login_cache_get(http_store, cu, p, &r->account, &r->apppass, &r->cred)) {
		r->outcome = LOGIN_OK;
		return LOGIN_OK;
	}
	http_creds_request(c, &rq);
	enum login_outcome o = login_check_wait(&rq, r);
	if (o == LOGIN_OK)
		login_cache_put(cu, p, r->account, r->apppass, r->cred);
	return o;
}
