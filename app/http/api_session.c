/*
 * api_session.c — admin sessions, bearer tokens, CSRF, login and the
 * failed-login policy of the HTTP side.
 *
 * Sessions live in a fixed table in memory (HTTP_SESSIONS_MAX; a restart
 * logs everyone out): a 256-bit random id in an HttpOnly, Secure,
 * SameSite=Strict cookie, a 256-bit CSRF token the UI sends back in
 * X-CSRF-Token on every state-changing request (the cookie alone is never
 * enough to change anything), an absolute and an idle expiry. Ids and
 * tokens are compared in constant time. When the table is full the session
 * used least recently is dropped.
 *
 * Failed logins (wrong password, wrong setup code) go through
 * auth/authfail.h per client address; an address over its budget gets 429
 * without any password being checked. Each failure is logged as
 * "module=http event=auth_failed ip=ADDR" for fail2ban.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin/admin_meta.h"
#include "auth/authfail.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/http_internal.h"

#define HTTP_SESSIONS_MAX 256
#define SESSION_TTL_S (12 * 3600)
#define SESSION_IDLE_S 3600

struct session {
	char id[65], csrf[65];
	int64_t created, last;
};

static struct session sessions[HTTP_SESSIONS_MAX];
static pthread_mutex_t sessions_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void random_hex(char out[65])
{
	uint8_t r[32];
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(out, 65, r, sizeof(r));
}

static int alive(const struct session *s, int64_t now)
{
	return s->id[0] && now - s->created < SESSION_TTL_S && now - s->last < SESSION_IDLE_S;
}

/* Index of the live session with this id, or -1. Caller holds the lock. */
static int find(const char *id, int64_t now)
{
	int hit = -1;
	if (strlen(id) != 64)
		return -1;
	for (int i = 0; i < HTTP_SESSIONS_MAX; i++)
		if (sessions[i].id[0] && sodium_memcmp(sessions[i].id, id, 64) == 0 &&
		    alive(&sessions[i], now))
			hit = i;
	return hit;
}

static int unsafe_method(const char *m)
{
	return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "OPTIONS") != 0;
}

/* 1 session, 2 token, 0 none; fills x->auth/session_id. csrf_ok_r for sessions. */
static int identify(struct http_ctx *x, int *csrf_ok_r)
{
	const char *authz = http_req_header(x, "Authorization");
	*csrf_ok_r = 0;
	if (authz && strncasecmp(authz, "Bearer ", 7) == 0) {
		if (admin_token_check(http_store, authz + 7, NULL)) {
			x->auth = AUTH_TOKEN;
			*csrf_ok_r = 1;
			return 2;
		}
		return 0;
	}
	const char *cookie = MHD_lookup_connection_value(x->mc, MHD_COOKIE_KIND, "tern_session");
	if (!cookie)
		return 0;
	const char *csrf = http_req_header(x, "X-CSRF-Token");
	int64_t now = now_s();
	pthread_mutex_lock(&sessions_lock);
	int i = find(cookie, now);
	if (i >= 0) {
		sessions[i].last = now;
		x->auth = AUTH_SESSION;
		memcpy(x->session_id, sessions[i].id, 65);
		*csrf_ok_r = csrf && strlen(csrf) == 64 && sodium_memcmp(csrf, sessions[i].csrf, 64) == 0;
	}
	pthread_mutex_unlock(&sessions_lock);
	return i >= 0 ? 1 : 0;
}

int http_auth_require(struct http_ctx *x)
{
	int csrf_ok;
	if (!identify(x, &csrf_ok)) {
		http_problem(x, 401, "unauthorized", NULL, "log in or send a bearer token");
		http_header(x, "WWW-Authenticate", "Bearer realm=\"tern\"");
		return -1;
	}
	if (unsafe_method(x->method) && !csrf_ok) {
		http_problem(x, 403, "csrf", NULL, "missing or wrong X-CSRF-Token header");
		return -1;
	}
	return 0;
}

int http_auth_present(struct http_ctx *x)
{
	int csrf_ok;
	return identify(x, &csrf_ok) != 0;
}

void http_session_start(struct http_ctx *x, int status)
{
	struct session s;
	int64_t now = now_s();
	struct jw w;

	random_hex(s.id);
	random_hex(s.csrf);
	s.created = s.last = now;
	pthread_mutex_lock(&sessions_lock);
	int slot = 0;
	for (int i = 0; i < HTTP_SESSIONS_MAX; i++) {
		if (!alive(&sessions[i], now)) {
			slot = i;
			break;
		}
		if (sessions[i].last < sessions[slot].last)
			slot = i;
	}
	sessions[slot] = s;
	pthread_mutex_unlock(&sessions_lock);

	http_json_begin(x, &w, status);
	http_header(x, "Set-Cookie",
		    arena_printf(x->arena,
				 "tern_session=%s; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=%d",
				 s.id, SESSION_TTL_S));
	jw_obj_begin(&w);
	jw_kstr(&w, "csrf", s.csrf);
	jw_kint(&w, "expires", now + SESSION_TTL_S);
	jw_obj_end(&w);
	sodium_memzero(&s, sizeof(s));
}

void http_auth_failed(struct http_ctx *x, const char *what)
{
	authfail_failed(x->ip, mono_ms());
	metrics_inc(METRIC_AUTHFAIL_HTTP);
	log_warn("http", NULL, "event=auth_failed ip=%s what=%s", x->ip, what);
}

int http_auth_blocked(struct http_ctx *x)
{
	if (!authfail_blocked(x->ip, mono_ms()))
		return 0;
	http_problem(x, 429, "rate_limited", NULL, "too many failed attempts, try again later");
	http_header(x, "Retry-After", "900");
	return 1;
}

void api_session_post(struct http_ctx *x)
{
	static const struct json_field f[] = { { "password", JK_STRING, 1 } };

	if (http_body_check(x, f, 1) < 0 || http_auth_blocked(x))
		return;
	const char *pw = http_body_str(x, "password");
	http_hash_enter();
	int ok = admin_exists(http_store) &&
		 admin_password_check(http_store, http_env_admin_hash, pw) == 1;
	http_hash_leave();
	if (!ok) {
		http_auth_failed(x, "login");
		http_problem(x, 401, "unauthorized", NULL, "wrong password");
		return;
	}
	authfail_succeeded(x->ip);
	log_info("http", NULL, "event=login ip=%s", x->ip);
	http_session_start(x, 200);
}

void api_session_get(struct http_ctx *x)
{
	struct jw w;
	char csrf[65] = "";
	int64_t expires = 0;

	if (x->auth == AUTH_SESSION) {
		pthread_mutex_lock(&sessions_lock);
		int i = find(x->session_id, now_s());
		if (i >= 0) {
			memcpy(csrf, sessions[i].csrf, 65);
			expires = sessions[i].created + SESSION_TTL_S;
		}
		pthread_mutex_unlock(&sessions_lock);
	}
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	if (x->auth == AUTH_SESSION) {
		jw_kstr(&w, "csrf", csrf);
		jw_kint(&w, "expires", expires);
	}
	jw_kstr(&w, "via", x->auth == AUTH_SESSION ? "session" : "token");
	jw_obj_end(&w);
}

void api_session_delete(struct http_ctx *x)
{
	if (x->auth == AUTH_SESSION) {
		pthread_mutex_lock(&sessions_lock);
		int i = find(x->session_id, now_s());
		if (i >= 0)
			sodium_memzero(&sessions[i], sizeof(sessions[i]));
		pthread_mutex_unlock(&sessions_lock);
	}
	http_no_content(x);
	http_header(x, "Set-Cookie",
		    "tern_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0");
}
