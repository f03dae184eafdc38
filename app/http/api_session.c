/*
 * api_session.c — admin sessions, bearer tokens, CSRF, login and the
 * failed-login policy of the HTTP side.
 *
 * Sessions live in a fixed table in memory (HTTP_SESSIONS_MAX; a restart
 * logs everyone out): a 256-bit random id in an HttpOnly, Secure,
 * SameSite=Strict cookie, a 256-bit CSRF token the UI sends back in
 * X-CSRF-Token on every state-changing request (the cookie alone is never
 * enough to change anything), an absolute and an idle expiry. A session
 * also rests on the password it signed in with: an admin one ends when
 * the admin password changes (admin_password_stamp()) or, signed in
 * without a code, when the admin's 2FA turns on; a portal one when its
 * account's credentials stamp does (2FA on included); the session that
 * made such a change goes on under a new id (session_renew), and a
 * sign-in ends the session its cookie named. Ids and tokens are
 * compared in constant time. Every account, the admin too, holds at most
 * HTTP_SESSIONS_PER_ACCOUNT sessions (a new one replaces its own oldest);
 * portal sessions never take the admin's share of the table, and when
 * they fill the rest the account holding the most gives one up
 * (slot_for), so no account can push the admin's out, nor another
 * account's but by holding as many. Each session also carries a random
 * handle, the address of its last request and its sign-in's User-Agent
 * (cut): what its owner's list shows (api_sessions.c), which names a
 * session by that handle and never by its id.
 *
 * Logins, setup codes and bearer tokens go through the limits every
 * protocol shares (auth/login_limit.h): the attempt is admitted and
 * reserved before anything is checked, and an address over its budget (or
 * an admin account whose checks are spaced out) gets 429 without any
 * check. The attempt settles through the login flow's one settle
 * (auth/login.h: login_settle_*), which also wakes the mail logins held
 * while this address's checks were under way. Each failure is logged as
 * "module=http event=auth_failed what=W failures=N ip=ADDR" (ip last) for
 * fail2ban.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin/admin_meta.h"
#include "auth/login_limit.h"
#include "auth/twofactor.h"
#include "core/arena.h"
#include "http/http_creds.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/http_internal.h"
#include "store/store.h"

#define HTTP_SESSIONS_MAX 256
#define SESSION_TTL_S (12 * 3600)
#define SESSION_IDLE_S 3600

/* account 0: the web admin's session (cookie HTTP_COOKIE_ADMIN); else an
 * account's portal session (cookie HTTP_COOKIE_ACCOUNT), which never opens an
 * admin route nor the other way round. */
struct session {
	char id[65], csrf[65];
	int64_t created, last;
	uint32_t account;
	/* At sign-in: the account's credentials stamp (store.h), or for the
	 * admin's, admin_password_stamp(); a session ends when it changes. */
	uint64_t cred;
	/* An admin session's: the admin's 2FA was on at sign-in (so the
	 * code was checked). One signed in with the password alone ends
	 * once 2FA is on, as an account's password sessions do (its stamp
	 * says whether 2FA is on). */
	int tfa;
	char email[HTTP_EMAIL_MAX + 1];
	/* What its owner's list shows (api_sessions.c): a random handle that
	 * is not the id (the id never leaves the server but in its cookie),
	 * the address of its last request and its sign-in's User-Agent,
	 * cut to HTTP_AGENT_MAX. The handle stays when session_renew gives
	 * a new id. */
	char handle[HTTP_HANDLE_LEN + 1];
	char ip[64];
	char agent[HTTP_AGENT_MAX + 1];
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

static void random_handle(char out[HTTP_HANDLE_LEN + 1])
{
	uint8_t r[HTTP_HANDLE_LEN / 2];
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(out, HTTP_HANDLE_LEN + 1, r, sizeof(r));
}

/* The client's User-Agent as the list shows it: printable ASCII only
 * (anything else, a browser never sends, becomes '?'), at most
 * HTTP_AGENT_MAX bytes: a header of kilobytes costs the table nothing. */
static void agent_cut(char out[HTTP_AGENT_MAX + 1], const char *ua)
{
	size_t n = 0;
	for (; ua && ua[n] && n < HTTP_AGENT_MAX; n++)
		out[n] = ua[n] >= 0x20 && ua[n] < 0x7f ? ua[n] : '?';
	out[n] = '\0';
}

static int alive(const struct session *s, int64_t now)
{
	return s->id[0] && now - s->created < SESSION_TTL_S && now - s->last < SESSION_IDLE_S;
}

/* Index of the live session with this id and kind (user 0: the admin's,
 * 1: an account's), or -1. Caller holds the lock. */
static int find(const char *id, int64_t now, int user)
{
	int hit = -1;
	if (strlen(id) != 64)
		return -1;
	for (int i = 0; i < HTTP_SESSIONS_MAX; i++)
		if (sessions[i].id[0] && sodium_memcmp(sessions[i].id, id, 64) == 0 &&
		    alive(&sessions[i], now) && (sessions[i].account != 0) == user)
			hit = i;
	return hit;
}

/* Ends the live session with this id and kind (as find()). */
static void session_end(const char *id, int user)
{
	pthread_mutex_lock(&sessions_lock);
	int i = find(id, now_s(), user);
	if (i >= 0)
		sodium_memzero(&sessions[i], sizeof(sessions[i]));
	pthread_mutex_unlock(&sessions_lock);
}

static int unsafe_method(const char *m)
{
	return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "OPTIONS") != 0;
}

/* 1 session, 2 token, 0 none, -1 refused (429 sent); fills x->auth/session_id. csrf_ok_r for sessions. */
static int identify(struct http_ctx *x, int *csrf_ok_r)
{
	const char *authz = http_req_header(x, "Authorization");
	*csrf_ok_r = 0;
	if (authz && strncasecmp(authz, "Bearer ", 7) == 0) {
		int r = http_bearer_check(x, authz + 7);
		if (r == 1) {
			x->auth = AUTH_TOKEN;
			*csrf_ok_r = 1;
			return 2;
		}
		return r;
	}
	const char *cookie = MHD_lookup_connection_value(x->mc, MHD_COOKIE_KIND, HTTP_COOKIE_ADMIN);
	if (!cookie)
		return 0;
	const char *csrf = http_req_header(x, "X-CSRF-Token");
	int64_t now = now_s();
	uint64_t cred = 0;
	int tfa = 0;
	pthread_mutex_lock(&sessions_lock);
	int i = find(cookie, now, 0);
	if (i >= 0) {
		sessions[i].last = now;
		snprintf(sessions[i].ip, sizeof sessions[i].ip, "%s", x->ip);
		cred = sessions[i].cred;
		tfa = sessions[i].tfa;
		memcpy(x->session_id, sessions[i].id, 65);
		*csrf_ok_r = csrf && strlen(csrf) == 64 && sodium_memcmp(csrf, sessions[i].csrf, 64) == 0;
	}
	pthread_mutex_unlock(&sessions_lock);
	if (i < 0)
		return 0;
	/* The admin password changed since this session signed in (from
	 * another session, a token or `tern admin passwd`): it ends, as an
	 * account's portal sessions end with its password. */
	if (cred != admin_password_stamp(http_store) ||
	    (!tfa && twofactor_enabled(http_store, STORE_TOTP_ADMIN) != 0)) {
		session_end(x->session_id, 0);
		*csrf_ok_r = 0;
		return 0;
	}
	x->auth = AUTH_SESSION;
	return 1;
}

static uint64_t stamp_now(uint32_t account);

/* 1 when the request carries a live portal session (an account's, as
 * http_user_require finds it), without touching it. */
static int portal_signed_in(struct http_ctx *x)
{
	const char *cookie = MHD_lookup_connection_value(x->mc, MHD_COOKIE_KIND, HTTP_COOKIE_ACCOUNT);
	uint32_t account = 0;
	uint64_t cred = 0;
	if (!cookie)
		return 0;
	pthread_mutex_lock(&sessions_lock);
	int i = find(cookie, now_s(), 1);
	if (i >= 0) {
		account = sessions[i].account;
		cred = sessions[i].cred;
	}
	pthread_mutex_unlock(&sessions_lock);
	return i >= 0 && cred != 0 && stamp_now(account) == cred;
}

/* An account's JMAP token on an admin route, checked on a job thread. */
struct token_job {
	struct http_creds c;
	struct login_result r;
	enum login_outcome o;
};

static void token_work(void *arg)
{
	struct token_job *t = arg;

	t->o = http_creds_login(&t->c, &t->r);
	explicit_bzero(&t->c, sizeof t->c);
}

static void token_finish(struct http_ctx *x, void *arg)
{
	struct token_job *t = arg;

	if (t->o == LOGIN_OK) {
		http_problem(x, 403, "forbidden", NULL, "an account's token does not open the admin API");
	} else if (t->o == LOGIN_REFUSED) {
		http_problem(x, 429, "rate_limited", NULL, "%s", login_refused_text(&t->r));
		http_header(x, "Retry-After", arena_printf(x->arena, "%u", t->r.retry_after_s));
	} else if (t->o == LOGIN_TEMP) {
		http_problem(x, 503, "temporary", NULL, "store error, try again");
	} else {
		http_problem(x, 401, "unauthorized", NULL, "log in or send a bearer token");
	}
}

/*
 * A JMAP bearer token (auth/bearer.h) names an account, which is not
 * allowed here: once the login flow took it (its limits, delay and
 * auth_failed line, module=jmap mech=bearer, as on JMAP) the answer is
 * 403, which the same token will never change (RFC 9110 §15.5.4); a
 * token that does not sign in is 401. It was 401 unchecked, counted as a
 * wrong admin token. The check may hash and wait out delays: deferred
 * to a job thread, the answer written then. -1 either way.
 */
static int account_token_refuse(struct http_ctx *x, const char *authz)
{
	struct token_job *t = arena_zalloc(x->arena, sizeof *t);

	http_creds_parse(&t->c, authz, x->ip);
	if (http_defer(x, token_work, token_finish, t) < 0) {
		explicit_bzero(&t->c, sizeof t->c);
		http_problem(x, 503, "temporary", NULL, "busy, try again");
		http_header(x, "Retry-After", "1");
	}
	return -1;
}

int http_auth_require(struct http_ctx *x)
{
	const char *authz = http_req_header(x, "Authorization");
	if (http_creds_is_account_token(authz))
		return account_token_refuse(x, authz);
	int csrf_ok, who = identify(x, &csrf_ok);
	if (who < 0)
		return -1;
	if (!who && portal_signed_in(x)) {
		/* Known, but an account: not allowed here, which signing in
		 * again as the same account will not change (RFC 9110
		 * §15.5.4). It was 401, as if no one had signed in. */
		http_problem(x, 403, "forbidden", NULL,
			     "an account's portal session does not open the admin API");
		return -1;
	}
	if (!who) {
		http_problem(x, 401, "unauthorized", NULL, "log in or send a bearer token");
		return -1;
	}
	if (unsafe_method(x->method) && !csrf_ok) {
		http_problem(x, 403, "csrf", NULL, "missing or wrong X-CSRF-Token header");
		return -1;
	}
	if (unsafe_method(x->method) && x->auth == AUTH_TOKEN && x->read_only) {
		http_problem(x, 403, "forbidden", NULL, "this token has the read scope: it can only read");
		return -1;
	}
	return 0;
}

int http_auth_present(struct http_ctx *x)
{
	int csrf_ok, who = identify(x, &csrf_ok);
	return who < 0 ? -1 : who != 0;
}

/* Live sessions of account (0: the admin's). Caller holds the lock. */
static int count_of(uint32_t account, int64_t now)
{
	int n = 0;
	for (int i = 0; i < HTTP_SESSIONS_MAX; i++)
		n += alive(&sessions[i], now) && sessions[i].account == account;
	return n;
}

/*
 * The slot for a new session of account (0: the admin), caller holding
 * the lock. Every account, the admin too, holds at most
 * HTTP_SESSIONS_PER_ACCOUNT: past that its own least recently used one
 * goes. Portal sessions together take at most all but the admin's share,
 * so nothing a mail account does pushes the admin out; when they fill it,
 * the one to go is the least recently used of the account holding the
 * most, so an account that signs in as often as it may takes the place of
 * its own or of another that does the same, never of one signed in once.
 * Before, the admin was not capped and a full table dropped its least
 * recently used session whoever's it was: the admin signing in a few
 * hundred times ended every portal session, 32 accounts' 8 the admin's.
 */
static int slot_for(uint32_t account, int64_t now)
{
	int free_slot = -1, own = -1, mine = 0, portal = 0, victim = -1, victim_n = 0;

	for (int i = 0; i < HTTP_SESSIONS_MAX; i++) {
		if (!alive(&sessions[i], now)) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (sessions[i].account == account) {
			mine++;
			if (own < 0 || sessions[i].last < sessions[own].last)
				own = i;
		}
		if (!sessions[i].account)
			continue;
		portal++;
		int n = count_of(sessions[i].account, now);
		if (n > victim_n || (n == victim_n && sessions[i].last < sessions[victim].last)) {
			victim = i;
			victim_n = n;
		}
	}
	if (mine >= HTTP_SESSIONS_PER_ACCOUNT)
		return own;
	if (account && portal >= HTTP_SESSIONS_MAX - HTTP_SESSIONS_PER_ACCOUNT)
		return victim;
	/* A free one is there: the admin's share is never full here, and
	 * portal sessions leave it free. */
	return free_slot >= 0 ? free_slot : victim;
}

/* The session cookie of kind user (as find()) naming id for max_age
 * seconds (0: cleared). */
static void set_cookie(struct http_ctx *x, int user, const char *id, int64_t max_age)
{
	http_header(x, "Set-Cookie",
		    arena_printf(x->arena, "%s=%s; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=%lld",
				 user ? HTTP_COOKIE_ACCOUNT : HTTP_COOKIE_ADMIN, id, (long long)max_age));
}

void http_session_start(struct http_ctx *x, int status)
{
	http_session_start_for(x, status, 0, NULL);
}

void http_session_start_for(struct http_ctx *x, int status, uint32_t account, const char *email)
{
	struct session s;
	int64_t now = now_s();
	struct jw w;

	memset(&s, 0, sizeof s);
	random_hex(s.id);
	random_hex(s.csrf);
	random_handle(s.handle);
	snprintf(s.ip, sizeof s.ip, "%s", x->ip);
	agent_cut(s.agent, http_req_header(x, "User-Agent"));
	s.created = s.last = now;
	s.account = account;
	if (account) {
		snprintf(s.email, sizeof s.email, "%s", email);
		if (store_account_creds(http_store, &account, NULL, &s.cred, 1) != STORE_OK)
			s.cred = 0; /* checked at the first request: signs in again */
	} else {
		s.cred = admin_password_stamp(http_store);
		/* Called after the code was checked when 2FA is on. */
		s.tfa = twofactor_enabled(http_store, STORE_TOTP_ADMIN) == 1;
	}
	/* A sign-in always makes a new id; the session the browser's cookie
	 * named (its cookie is replaced here) ends rather than wait out its
	 * expiry in the table. */
	const char *was = MHD_lookup_connection_value(x->mc, MHD_COOKIE_KIND,
						      account ? HTTP_COOKIE_ACCOUNT : HTTP_COOKIE_ADMIN);
	if (was)
		session_end(was, account != 0);
	pthread_mutex_lock(&sessions_lock);
	int slot = slot_for(account, now);
	sessions[slot] = s;
	pthread_mutex_unlock(&sessions_lock);

	http_json_begin(x, &w, status);
	set_cookie(x, account != 0, s.id, SESSION_TTL_S);
	jw_obj_begin(&w);
	jw_kstr(&w, "csrf", s.csrf);
	jw_kint(&w, "expires", now + SESSION_TTL_S);
	jw_obj_end(&w);
	sodium_memzero(&s, sizeof(s));
}

int http_login_admit(struct http_ctx *x, const char *who, struct login_ticket *t)
{
	/* An HTTP thread must not sleep out the account's spacing: the
	 * client is told when to come back instead. */
	enum login_gate g = login_limit_admit_now(x->ip, who, mono_ms(), t);

	if (g == LOGIN_GATE_GO)
		return 0;
	struct login_result r = {.outcome = LOGIN_REFUSED, .busy = login_gate_busy(g)};

	log_info("http", NULL, "event=auth_refused reason=%s ip=%s", login_gate_reason(g), x->ip);
	http_problem(x, 429, "rate_limited", NULL, "%s", login_refused_text(&r));
	http_header(x, "Retry-After", arena_printf(x->arena, "%u", login_gate_retry_s(g)));
	return -1;
}

void http_login_failed(struct http_ctx *x, const struct login_ticket *t, const char *what)
{
	unsigned failures;

	login_settle_failed(t, mono_ms(), &failures);
	metrics_inc(METRIC_AUTHFAIL_HTTP);
	log_warn("http", NULL, "event=auth_failed what=%s failures=%u ip=%s", what, failures, x->ip);
}

void http_login_ok(struct http_ctx *x, const struct login_ticket *t)
{
	login_settle_ok(t, mono_ms());
}

int http_current_password_check(struct http_ctx *x)
{
	return http_session_password_check(x, "password");
}

int http_session_password_check(struct http_ctx *x, const char *field)
{
	const char *pw = http_body_str(x, field), *who = x->account_email;
	struct login_ticket t;
	int ok;

	/* An admin bearer token is a machine client's lasting access
	 * already, not a session a cookie thief could be holding. */
	if (x->auth == AUTH_TOKEN)
		return 0;
	if (!pw) {
		http_problem(x, 400, "missing_field", field,
			     "field '%s' (the current password) is required", field);
		return -1;
	}
	if (http_login_admit(x, who ? who : "(admin)", &t) < 0)
		return -1;
	http_hash_enter();
	if (who)
		ok = store_account_check_password(http_store, who, pw);
	else
		ok = admin_exists(http_store) &&
		     admin_password_check(http_store, http_env_admin_hash, pw) == 1;
	http_hash_leave();
	if (ok == 1) {
		http_login_ok(x, &t);
		return 0;
	}
	if (ok == 0) {
		http_login_failed(x, &t, who ? "account_password" : "admin_password");
		http_problem(x, 400, "wrong_password", field, "the password is wrong");
	} else {
		login_settle_cancel(&t);
		http_problem(x, 503, "temporary", NULL, "store error, try again");
	}
	return -1;
}

int http_bearer_check(struct http_ctx *x, const char *token)
{
	struct login_ticket t;

	/* A token costs one BLAKE2b to check, and a 256-bit secret cannot
	 * be guessed: a valid one is let in even from an address that is
	 * over its budget (monitoring behind a NAT keeps working). Only the
	 * bad ones are counted, logged and, past the budget, refused. */
	enum admin_token_scope scope;

	if (admin_token_check(http_store, token, NULL, &scope)) {
		x->read_only = scope == ADMIN_TOKEN_READ;
		return 1;
	}
	if (http_login_admit(x, NULL, &t) < 0)
		return -1;
	http_login_failed(x, &t, "token");
	return 0;
}

void api_session_post(struct http_ctx *x)
{
	static const struct json_field f[] = { { "password", JK_STRING, 1 }, { "code", JK_STRING, 0 } };
	struct login_ticket t;

	if (http_body_check(x, f, 2) < 0 || http_login_admit(x, "(admin)", &t) < 0)
		return;
	const char *pw = http_body_str(x, "password");
	if (http_hash_try_enter() < 0) {
		/* No verdict: the reservation goes back, nothing is counted. */
		login_settle_cancel(&t);
		http_problem(x, 503, "temporary", NULL, "busy checking other logins, try again");
		http_header(x, "Retry-After", "1");
		return;
	}
	int ok = admin_exists(http_store) &&
		 admin_password_check(http_store, http_env_admin_hash, pw) == 1;
	http_hash_leave();
	if (!ok) {
		http_login_failed(x, &t, "login");
		http_problem(x, 401, "unauthorized", NULL, "wrong password");
		return;
	}
	if (http_second_factor(x, &t, STORE_TOTP_ADMIN, http_body_str(x, "code")) < 0)
		return;
	http_login_ok(x, &t);
	log_info("http", NULL, "event=login ip=%s", x->ip);
	http_session_start(x, 200);
}

int http_second_factor(struct http_ctx *x, struct login_ticket *t, uint32_t owner,
		       const char *code)
{
	int on = twofactor_enabled(http_store, owner);
	if (on == 0)
		return 0;
	if (on < 0) {
		login_settle_cancel(t);
		http_problem(x, 503, "temporary", NULL, "store error, try again");
		return -1;
	}
	if (!code || !code[0]) {
		/* The password was right: no verdict yet, nothing counted; the
		 * client asks for the code and sends both again. */
		login_settle_cancel(t);
		http_problem(x, 401, "totp_required", "code", "enter the code from your authenticator app");
		return -1;
	}
	int r = twofactor_verify(http_store, http_cfg->data_dir, owner, code, now_s());
	if (r == 1)
		return 0;
	if (r < 0) {
		login_settle_cancel(t);
		http_problem(x, 503, "temporary", NULL, "store error, try again");
		return -1;
	}
	http_login_failed(x, t, "totp");
	http_problem(x, 401, "wrong_code", "code", "wrong or already used code");
	return -1;
}

void api_session_get(struct http_ctx *x)
{
	struct jw w;
	char csrf[65] = "";
	int64_t expires = 0;

	if (x->auth == AUTH_SESSION) {
		pthread_mutex_lock(&sessions_lock);
		int i = find(x->session_id, now_s(), 0);
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

/*
 * Gives x's session (user as find()) the credentials stamp cred and 2FA
 * state tfa after a change made through it, and a new id (the new cookie
 * is set on x's answer): whoever learnt the old id, or planted it before
 * (session fixation), holds nothing now, as the other sessions of the
 * password that was. The CSRF token stays, so the page goes on: without
 * the cookie it opens nothing.
 */
static void session_renew(struct http_ctx *x, int user, uint64_t cred, int tfa)
{
	int64_t now = now_s(), left = 0;
	pthread_mutex_lock(&sessions_lock);
	int i = find(x->session_id, now, user);
	if (i >= 0) {
		sessions[i].cred = cred;
		sessions[i].tfa = tfa;
		random_hex(sessions[i].id);
		memcpy(x->session_id, sessions[i].id, 65);
		left = sessions[i].created + SESSION_TTL_S - now;
	}
	pthread_mutex_unlock(&sessions_lock);
	if (i >= 0)
		set_cookie(x, user, x->session_id, left);
}

void http_admin_session_refresh(struct http_ctx *x)
{
	if (x->auth != AUTH_SESSION)
		return;
	session_renew(x, 0, admin_password_stamp(http_store),
		      twofactor_enabled(http_store, STORE_TOTP_ADMIN) == 1);
}

void api_session_delete(struct http_ctx *x)
{
	if (x->auth == AUTH_SESSION)
		session_end(x->session_id, 0);
	http_no_content(x);
	http_session_cookie_clear(x, 0);
}

void http_session_cookie_clear(struct http_ctx *x, int user)
{
	set_cookie(x, user, "", 0);
}

/* The account's stamp now: 0 when it is gone or the store failed. */
static uint64_t stamp_now(uint32_t account)
{
	uint64_t c = 0;
	if (store_account_creds(http_store, &account, NULL, &c, 1) != STORE_OK)
		c = 0;
	return c;
}

int http_user_require(struct http_ctx *x)
{
	const char *cookie = MHD_lookup_connection_value(x->mc, MHD_COOKIE_KIND, HTTP_COOKIE_ACCOUNT);
	const char *csrf = http_req_header(x, "X-CSRF-Token");
	int64_t now = now_s();
	int csrf_ok = 0, i = -1;
	uint64_t cred = 0;

	if (cookie) {
		pthread_mutex_lock(&sessions_lock);
		i = find(cookie, now, 1);
		if (i >= 0) {
			sessions[i].last = now;
			snprintf(sessions[i].ip, sizeof sessions[i].ip, "%s", x->ip);
			x->account = sessions[i].account;
			x->account_email = arena_strdup(x->arena, sessions[i].email);
			memcpy(x->session_id, sessions[i].id, 65);
			memcpy(x->account_csrf, sessions[i].csrf, 65);
			cred = sessions[i].cred;
			csrf_ok = csrf && strlen(csrf) == 64 &&
				  sodium_memcmp(csrf, sessions[i].csrf, 64) == 0;
		}
		pthread_mutex_unlock(&sessions_lock);
	}
	/* A new password, a change of state, 2FA turned on or the account
	 * deleted (here, by the admin or the CLI) ends the portal session as
	 * it ends mail sessions (auth/session_watch.h). */
	if (i >= 0 && (cred == 0 || stamp_now(x->account) != cred)) {
		http_user_sessions_end_one(x->session_id);
		i = -1;
	}
	if (i < 0) {
		http_problem(x, 401, "unauthorized", NULL, "sign in with your address and password");
		return -1;
	}
	if (unsafe_method(x->method) && !csrf_ok) {
		http_problem(x, 403, "csrf", NULL, "missing or wrong X-CSRF-Token header");
		return -1;
	}
	return 0;
}

void http_user_session_refresh(struct http_ctx *x)
{
	session_renew(x, 1, stamp_now(x->account), 0);
}

void http_user_sessions_end_one(const char *id)
{
	session_end(id, 1);
}

/*
 * An owner's own sessions (api_sessions.c lists and ends them). Only
 * those that would still open a route count: alive, and signed in with
 * the credentials the owner has now (a session of the password before
 * ends at its next request; it is not shown as if it could).
 */
int http_sessions_list(uint32_t account, const char *current_id, struct http_session_view *out,
		       int max)
{
	uint64_t stamp;
	int need_tfa = 0, n = 0;
	int64_t now = now_s();

	if (account) {
		stamp = stamp_now(account);
	} else {
		stamp = admin_password_stamp(http_store);
		need_tfa = twofactor_enabled(http_store, STORE_TOTP_ADMIN) != 0;
	}
	pthread_mutex_lock(&sessions_lock);
	for (int i = 0; i < HTTP_SESSIONS_MAX && n < max; i++) {
		const struct session *s = &sessions[i];
		if (!alive(s, now) || s->account != account || s->cred == 0 || s->cred != stamp ||
		    (need_tfa && !s->tfa))
			continue;
		struct http_session_view *v = &out[n++];
		memcpy(v->handle, s->handle, sizeof v->handle);
		memcpy(v->ip, s->ip, sizeof v->ip);
		memcpy(v->agent, s->agent, sizeof v->agent);
		v->created = s->created;
		v->last = s->last;
		v->current = current_id[0] && sodium_memcmp(s->id, current_id, 64) == 0;
	}
	pthread_mutex_unlock(&sessions_lock);
	return n;
}

int http_sessions_end_handle(uint32_t account, const char *current_id, const char *handle)
{
	int hit = -1, current = 0;
	int64_t now = now_s();

	if (strlen(handle) != HTTP_HANDLE_LEN)
		return 0;
	pthread_mutex_lock(&sessions_lock);
	/* Every slot's handle is compared, whatever the others gave: how
	 * long the answer takes says nothing of which handles are near
	 * one, nor whose they are. Another owner's handle is none. */
	for (int i = 0; i < HTTP_SESSIONS_MAX; i++) {
		int same = sodium_memcmp(sessions[i].handle, handle, HTTP_HANDLE_LEN) == 0;
		if (same && alive(&sessions[i], now) && sessions[i].account == account)
			hit = i;
	}
	if (hit >= 0) {
		current = current_id[0] && sodium_memcmp(sessions[hit].id, current_id, 64) == 0;
		sodium_memzero(&sessions[hit], sizeof(sessions[hit]));
	}
	pthread_mutex_unlock(&sessions_lock);
	return hit < 0 ? 0 : current ? 2 : 1;
}

int http_sessions_end_others(uint32_t account, const char *current_id)
{
	int n = 0;
	int64_t now = now_s();

	pthread_mutex_lock(&sessions_lock);
	for (int i = 0; i < HTTP_SESSIONS_MAX; i++) {
		if (!alive(&sessions[i], now) || sessions[i].account != account ||
		    (current_id[0] && sodium_memcmp(sessions[i].id, current_id, 64) == 0))
			continue;
		sodium_memzero(&sessions[i], sizeof(sessions[i]));
		n++;
	}
	pthread_mutex_unlock(&sessions_lock);
	return n;
}
