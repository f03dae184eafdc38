/*
 * api_sessions.c — "where you are signed in" (OWASP ASVS 4.0 V3.3.4): an
 * account lists its own portal sessions and ends any or all of the
 * others (/api/v1/me/sessions), and the admin its own admin sessions
 * (/api/v1/sessions), the session table being api_session.c's.
 *
 * A session is named here by its handle, a random value of its own: the
 * id is the cookie's secret and never leaves the server otherwise, so a
 * list read by a script or left in a log opens nothing. Ending one goes
 * by that handle, scoped to the caller's own sessions (another account's
 * handle is 404, the admin's is none of an account's business). Ending
 * takes the owner's password, as every DELETE but signing out does
 * (the router's R_REAUTH): a stolen cookie alone then cannot sign its
 * owner out of every browser while the thief stays in, and the owner,
 * who knows the password, can end the thief's.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "http/http_internal.h"

/* Most recently used first: the one in your hand, then the others. */
static int by_last_desc(const void *a, const void *b)
{
	const struct http_session_view *x = a, *y = b;
	return (x->last < y->last) - (x->last > y->last);
}

/* {"sessions":[...],"max":N} for account (0: the admin). */
static void sessions_list(struct http_ctx *x, uint32_t account)
{
	struct http_session_view v[HTTP_SESSIONS_PER_ACCOUNT];
	struct jw w;
	int n = http_sessions_list(account, x->session_id, v, HTTP_SESSIONS_PER_ACCOUNT);

	qsort(v, (size_t)n, sizeof v[0], by_last_desc);
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "sessions");
	jw_arr_begin(&w);
	for (int i = 0; i < n; i++) {
		jw_obj_begin(&w);
		jw_kstr(&w, "handle", v[i].handle);
		jw_kint(&w, "created", v[i].created);
		jw_kint(&w, "last_used", v[i].last);
		jw_kstr(&w, "ip", v[i].ip);
		jw_kstr(&w, "user_agent", v[i].agent);
		jw_kbool(&w, "current", v[i].current);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_kint(&w, "max", HTTP_SESSIONS_PER_ACCOUNT);
	jw_obj_end(&w);
}

/* The body of the DELETEs: the password R_REAUTH checked, nothing else. */
static int body_ok(struct http_ctx *x)
{
	static const struct json_field f[] = { { "password", JK_STRING, 0 } };
	return http_body_check(x, f, 1);
}

static void sessions_end_one(struct http_ctx *x, uint32_t account)
{
	if (body_ok(x) < 0)
		return;
	int r = http_sessions_end_handle(account, x->session_id, x->param[0]);
	if (r == 0) {
		http_problem(x, 404, "not_found", NULL, "no such session");
		return;
	}
	log_info("http", NULL, "event=session_ended account_id=%u current=%d ip=%s", account, r == 2,
		 x->ip);
	http_no_content(x);
	/* Ending the very session that asked is signing out. */
	if (r == 2)
		http_session_cookie_clear(x, account != 0);
}

static void sessions_end_others(struct http_ctx *x, uint32_t account)
{
	if (body_ok(x) < 0)
		return;
	int n = http_sessions_end_others(account, x->session_id);
	log_info("http", NULL, "event=sessions_ended account_id=%u count=%d ip=%s", account, n, x->ip);
	http_no_content(x);
}

void api_me_sessions_list(struct http_ctx *x)
{
	sessions_list(x, x->account);
}

void api_me_sessions_del(struct http_ctx *x)
{
	sessions_end_one(x, x->account);
}

void api_me_sessions_del_others(struct http_ctx *x)
{
	sessions_end_others(x, x->account);
}

void api_sessions_list(struct http_ctx *x)
{
	sessions_list(x, 0);
}

void api_sessions_del(struct http_ctx *x)
{
	sessions_end_one(x, 0);
}

void api_sessions_del_others(struct http_ctx *x)
{
	sessions_end_others(x, 0);
}
