/*
 * http_internal.h — what the files of app/http share: the request context
 * handed to every handler, response building, the route table's handler
 * signature, and the module-wide state (config, store, sessions).
 *
 * A handler gets a struct http_ctx with the method, the decoded path, its
 * path parameters, the parsed JSON body (when the route takes one) and a
 * response under construction; it sets status, content type and body and
 * returns. http_server.c turns that into a libmicrohttpd response with the
 * security headers. Everything a handler allocates comes from x->arena.
 */
#ifndef TERN_HTTP_HTTP_INTERNAL_H
#define TERN_HTTP_HTTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth/login_limit.h"
#include "core/buf.h"
#include "core/config.h"
#include "http/json.h"

struct MHD_Connection;
struct arena;
struct store;

#define HTTP_BODY_MAX (64 * 1024)
/* A body over the limit is read and dropped up to this (so that a client
 * sending it whole sees the 413); one declared longer is refused before
 * it is read, and a chunked one is cut here (413, then the close). */
#define HTTP_DISCARD_MAX (8 * 1024 * 1024)
#define HTTP_RESP_MAX (4 * 1024 * 1024)
#define HTTP_HEADERS_MAX 8

extern const struct config *http_cfg;
extern struct store *http_store;
extern int64_t http_started_at;

/* libmicrohttpd's idle timeout of a connection, in seconds (it counts
 * from the connection's last read or write): a backstop behind the
 * bridge's deadlines (http_bridge.c), so never shorter than
 * TERN_HTTP_SEND_TIMEOUT, or the daemon, its writes blocked by a client
 * that takes an answer slowly, would cut the answer first. */
unsigned http_daemon_timeout_s(void);

enum http_auth { AUTH_NONE, AUTH_SESSION, AUTH_TOKEN };

struct http_ctx {
	struct MHD_Connection *mc;
	const char *method; /* "GET", ... */
	const char *path;   /* decoded, without query */
	/* The request target as the client sent it (not decoded, query
	 * included; NULL when unknown): the redirect to HTTPS sends it on. */
	const char *target;
	const char *host;   /* Host header without port, lowercase, "" when none */
	/* host[:port] the client asked for, for URLs ("" when the Host field
	 * is not a plain one); behind a trusted proxy, the one it names */
	const char *authority;
	const char *ip;     /* client address */
	/* The client's scheme: https over the TLS bridge, or behind a trusted
	 * proxy (TERN_TRUSTED_PROXIES) the one it names (Forwarded proto=,
	 * X-Forwarded-Proto), the listener's when it names none. */
	int https;
	int proxied;        /* the peer is a trusted proxy */
	int host_forwarded; /* host is the trusted proxy's X-Forwarded-Host/Forwarded host */
	int loopback;       /* client address is loopback */
	struct arena *arena;
	const char *body;   /* request body (NUL-terminated), may be NULL */
	size_t body_len;
	const struct json_value *json; /* parsed body for JSON routes, else NULL */
	const char *param[3];          /* path segments matched by '*' */

	/* Authentication found by http_auth_check(). */
	enum http_auth auth;
	int read_only; /* AUTH_TOKEN with the "read" scope: no unsafe methods */
	char session_id[65];
	/* An account's portal session (http_user_require): its id and address. */
	uint32_t account;
	const char *account_email;
	char account_csrf[65];

	/* Response. */
	int status;
	const char *type; /* Content-Type */
	struct buf out;
	const char *hname[HTTP_HEADERS_MAX], *hvalue[HTTP_HEADERS_MAX];
	int nheaders;
	/* Static bytes to send instead of out (assets), not copied. */
	const void *static_body;
	size_t static_len;
	int no_security_headers_; /* private */
	/* This response's Content-Security-Policy when not the pages' one
	 * (a download's sandbox), NULL for theirs. */
	const char *csp;
	/* Work deferred by http_defer (private to http_server.c). */
	void (*defer_work)(void *arg);
	void (*defer_finish)(struct http_ctx *x, void *arg);
	void *defer_arg;
	/* A body made as it is sent (downloads): libmicrohttpd calls
	 * stream_read (its content reader: bytes at pos into buf, at most
	 * max; MHD_CONTENT_READER_END_OF_STREAM at the end) for stream_size
	 * bytes, and stream_free(stream_cls) once at the end, also when the
	 * response could not be made. */
	ssize_t (*stream_read)(void *cls, uint64_t pos, char *buf, size_t max);
	void (*stream_free)(void *cls);
	void *stream_cls;
	uint64_t stream_size;
	/* A streamed body's state (http_upload.h; private to http_upload.c). */
	struct http_upload *upload_;
};

/* The job machinery under http_defer and http_upload: runs fn(arg) on a
 * thread of its own with mc suspended, sets *done when it ended (read it
 * with http_job_done) and resumes mc, whose handler is then called again.
 * 0, or -1 (no thread: nothing ran, mc not suspended). */
int http_job_run(struct MHD_Connection *mc, void (*fn)(void *arg), void *arg, int *done);
int http_job_done(const int *done);

/*
 * http_defer: answer later, without holding the daemon's thread. work(arg)
 * runs on a thread of its own (it may block, e.g. on DNS, for a bounded
 * time), the connection suspended meanwhile; then finish(x, arg) writes
 * the response on the daemon's thread. Returns -1 (nothing deferred; the
 * caller does the work itself) when HTTP_DEFER_MAX jobs already run.
 */
#define HTTP_DEFER_MAX 16
int http_defer(struct http_ctx *x, void (*work)(void *arg),
	       void (*finish)(struct http_ctx *x, void *arg), void *arg);

/* ---- responses (http_resp.c) ---- */
void http_header(struct http_ctx *x, const char *name, const char *value);
/* Starts a JSON body: returns a writer on x->out, status and type set. */
void http_json_begin(struct http_ctx *x, struct jw *w, int status);
/* RFC 9457 problem: code is the stable token, field may be NULL. */
void http_problem(struct http_ctx *x, int status, const char *code, const char *field,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void http_text(struct http_ctx *x, int status, const char *type, const char *text);
void http_no_content(struct http_ctx *x);
/* Query parameter, or NULL. */
const char *http_query(struct http_ctx *x, const char *name);
/*
 * Pages of a listing (API.md "Pages"): GET /accounts, /aliases, /domains, /tokens
 * take limit (1..HTTP_PAGE_MAX, default HTTP_PAGE_MAX) and after (the
 * `next` of the page before; opaque to clients) and answer with "total"
 * and "next" (null on the last page). http_page_args reads them into pg:
 * 0, or -1 after answering 400 invalid_field. http_page_end writes the
 * two members into the open object.
 */
#define HTTP_PAGE_MAX 1000
#define HTTP_PAGE_AFTER_MAX 320
struct http_page {
	uint64_t limit;
	const char *after; /* NULL: from the first */
};
int http_page_args(struct http_ctx *x, struct http_page *pg);
/*
 * A number in a query parameter or path segment: plain decimal digits,
 * no sign, space or leading zero ("5", not " 5", "+5", "05" or "5x"),
 * from min to max. http_decimal: 0 with *v_r, or -1. http_query_u64: 0
 * when the parameter is absent (*v_r untouched), 1 with *v_r, -1 after
 * answering 400 invalid_field naming it.
 */
int http_decimal(const char *s, uint64_t min, uint64_t max, uint64_t *v_r);
int http_query_u64(struct http_ctx *x, const char *name, uint64_t min, uint64_t max,
		   uint64_t *v_r);
void http_page_end(struct jw *w, uint64_t total, const char *next);
/* Request header, or NULL. */
const char *http_req_header(struct http_ctx *x, const char *name);
/* Maps a STORE_* result to a problem response (err is the store's text). */
void http_store_problem(struct http_ctx *x, int rc, const char *err);
/* The account the path's first parameter names into *id: 0, or -1 after
 * answering 404. */
int http_account_param(struct http_ctx *x, uint32_t *id);
/* Checks the JSON body against fields; on failure answers 400 and returns -1. */
int http_body_check(struct http_ctx *x, const struct json_field *fields, size_t n);
/* String member of the body or NULL. */
const char *http_body_str(struct http_ctx *x, const char *name);

/* ---- routing (http_router.c) ---- */
void http_route(struct http_ctx *x);
/* 1 when method and path name a streamed route (http_upload.h): its
 * handler runs before the body is read. */
int http_route_streamed(const char *method, const char *path);
/*
 * For a request whose body is refused unread (413): the credential checks
 * of the API route it names, all made from the header. 0 when they pass
 * or the path is no API route (then the 413 is the answer); -1 after
 * answering 401, 403 or 429, so that a client without credentials learns
 * it needs them before anything about the body.
 */
int http_route_gate(struct http_ctx *x);

/* ---- auth (api_session.c) ---- */
/* Fills x->auth from the cookie or bearer token; checks CSRF for unsafe
 * methods with a session. Returns 0, or -1 after answering 401/403, or
 * after deferring the answer (http_defer: an account's JMAP token, which
 * the login flow checks on a job thread, then 403 or 401). */
int http_auth_require(struct http_ctx *x);
/* 1 when the request carries a live session or a valid token (x->auth
 * filled), else 0; checks no CSRF (for reads only). Answers nothing,
 * except -1 after a 429 for a bad bearer token past its address's budget
 * (a bad token is counted as a failed login). */
int http_auth_present(struct http_ctx *x);
/*
 * The session cookies' names: the admin's and an account's portal's. The
 * __Host- prefix (RFC 6265bis §4.1.3.2) has a browser keep such a cookie
 * only when this very host set it, Secure, Path=/ and without Domain, so
 * another host of the domain (a sibling name, any page on it) cannot
 * plant one: neither a session of its own choosing (the victim then
 * works in the attacker's account) nor a stale id sent first that
 * shadows the real one. Under the names without the prefix they could.
 */
#define HTTP_COOKIE_ADMIN "__Host-tern_session"
#define HTTP_COOKIE_ACCOUNT "__Host-tern_account"
/* Starts a session for x's client: sets the cookie, writes {"csrf","expires"}. */
void http_session_start(struct http_ctx *x, int status);
/* The same for an account's portal (account != 0, cookie HTTP_COOKIE_ACCOUNT) or
 * the admin (account 0, email NULL). */
#define HTTP_EMAIL_MAX 320
void http_session_start_for(struct http_ctx *x, int status, uint32_t account, const char *email);
/* For portal routes (/api/v1/me/...): fills x->account and
 * x->account_email from the HTTP_COOKIE_ACCOUNT cookie and checks CSRF for
 * writes. 0, or -1 after answering 401/403. Admin sessions and tokens do
 * not count. */
int http_user_require(struct http_ctx *x);
/* A portal session rests on the account's credentials stamp at sign-in
 * (store_account_creds): when it changes (a new password, a change of
 * state, 2FA on, the account gone) http_user_require ends it. After such
 * a change made through this very session, refresh keeps it. */
void http_user_session_refresh(struct http_ctx *x);
/* Clears x's session cookie of kind user (0 the admin's, 1 an account's)
 * on its answer: signed out. */
void http_session_cookie_clear(struct http_ctx *x, int user);
/* Ends the portal session with this id (sign-out). */
void http_user_sessions_end_one(const char *id);
/*
 * The signed-in owner's own sessions (API.md "Signed-in sessions"; the
 * admin's are account 0's). Each account holds at most
 * HTTP_SESSIONS_PER_ACCOUNT: a sign-in past that ends its least recently
 * used one. A session is named to its owner by a random handle of
 * HTTP_HANDLE_LEN hex digits, never by its id; the User-Agent it signed
 * in with is kept cut to HTTP_AGENT_MAX bytes.
 */
#define HTTP_SESSIONS_PER_ACCOUNT 8
#define HTTP_HANDLE_LEN 32
#define HTTP_AGENT_MAX 160
struct http_session_view {
	char handle[HTTP_HANDLE_LEN + 1];
	char ip[64];                     /* of its last request */
	char agent[HTTP_AGENT_MAX + 1];  /* "" when it sent none */
	int64_t created, last;           /* seconds since the epoch */
	int current;                     /* the session whose id is current_id */
};
/* Copies at most max of account's live sessions, those its present
 * credentials still open, into out; returns how many. current_id: the
 * caller's session id, "" for none (a bearer token). */
int http_sessions_list(uint32_t account, const char *current_id, struct http_session_view *out,
		       int max);
/* Ends account's session named handle (compared with every slot's in
 * constant time; another account's handle names nothing): 0 none such,
 * 1 ended, 2 ended and it was current_id's ("" for none). */
int http_sessions_end_handle(uint32_t account, const char *current_id, const char *handle);
/* Ends every session of account but current_id's ("" ends them all);
 * returns how many. */
int http_sessions_end_others(uint32_t account, const char *current_id);
/* Admin sessions rest on admin_password_stamp() at sign-in: a change of
 * the admin password ends them at their next request, and so does the
 * admin's 2FA turning on for those signed in without a code. After a
 * change made through x's own session, refresh keeps that one (a token:
 * no-op). */
void http_admin_session_refresh(struct http_ctx *x);
/*
 * Admits one attempt (a login, a setup code, a token) from x->ip for who
 * (NULL: no account side) through auth/login_limit.h: 0 with *t reserved,
 * or -1 after answering 429 (too many failures, or the account's checks
 * spaced out). Settle *t with http_login_failed(), http_login_ok() or,
 * without a verdict, login_settle_cancel(): all settle through the login
 * flow's one path (auth/login.h), which wakes the logins held for it.
 */
int http_login_admit(struct http_ctx *x, const char *who, struct login_ticket *t);
/*
 * The second factor of a web sign-in whose password was right: 0 when
 * owner (an account, or STORE_TOTP_ADMIN) has no 2FA or code is accepted;
 * else -1 after answering 401 "totp_required" (no code: nothing counted)
 * or "wrong_code" (counted as a failure, what=totp), or 503.
 */
int http_second_factor(struct http_ctx *x, struct login_ticket *t, uint32_t owner,
		       const char *code);
/*
 * The current password of whoever the session is, the body's "password":
 * the portal account's (x->account_email set) or else the admin's,
 * checked like a sign-in under its limits, for what outlives a change of
 * the password (a stolen session cookie alone must not make it). 0 when
 * right, or without asking for an admin bearer token (x->auth
 * AUTH_TOKEN); else -1 after answering 400 missing_field or
 * wrong_password (field "password"; counted and logged
 * what=account_password or what=admin_password), 429 or 503.
 */
int http_current_password_check(struct http_ctx *x);
/*
 * The same with the password in the body's field (routes whose "password"
 * is a new one take the current one in "current"), for what a session
 * must not make alone: on an admin route, what outlives a change of the
 * admin password or sends mail out of the server (an account's password,
 * an app password or token, forwarding, a redirecting script, an alias
 * to an outside address), asked of the admin's session. A request with
 * an admin bearer token (x->auth AUTH_TOKEN, the REST API's machine
 * clients) holds lasting access already: 0 without asking.
 */
int http_session_password_check(struct http_ctx *x, const char *field);
/* Counts and logs a failure (event=auth_failed what=W failures=N ip=A). */
void http_login_failed(struct http_ctx *x, const struct login_ticket *t, const char *what);
void http_login_ok(struct http_ctx *x, const struct login_ticket *t);
/* A bearer token, limited like a login: 1 valid (x->read_only set from its
 * scope), 0 not or expired (logged), -1 refused (429 sent). */
int http_bearer_check(struct http_ctx *x, const char *token);
/* Admin password hash made from TERN_ADMIN_PASSWORD at start ("" when unset). */
extern char http_env_admin_hash[];
/* Bounds concurrent argon2id computations on the HTTP threads. */
void http_hash_enter(void);
/*
 * The same without waiting, for checks anyone may ask for (the admin
 * login): 0 entered, -1 all slots busy. An HTTP thread that waited here
 * held up every other connection it serves (/healthz, the UI) behind a
 * queue of argon2id checks.
 */
int http_hash_try_enter(void);
void http_hash_leave(void);

/* ---- handlers ---- */
void api_session_post(struct http_ctx *x);
/* api_totp.c */
void api_admin_totp_get(struct http_ctx *x);
void api_admin_totp_begin(struct http_ctx *x);
void api_admin_totp_confirm(struct http_ctx *x);
void api_admin_totp_disable(struct http_ctx *x);
void api_me_totp_get(struct http_ctx *x);
void api_me_totp_begin(struct http_ctx *x);
void api_me_totp_confirm(struct http_ctx *x);
void api_me_totp_disable(struct http_ctx *x);
void api_account_totp_reset(struct http_ctx *x);
/* api_me.c: the self-service portal */
void api_me_login(struct http_ctx *x);
void api_me_logout(struct http_ctx *x);
void api_me_sessions_list(struct http_ctx *x);
void api_me_sessions_del(struct http_ctx *x);
void api_me_sessions_del_others(struct http_ctx *x);
void api_sessions_list(struct http_ctx *x);
void api_sessions_del(struct http_ctx *x);
void api_sessions_del_others(struct http_ctx *x);
void api_me_get(struct http_ctx *x);
void api_me_patch(struct http_ctx *x);
void api_me_password(struct http_ctx *x);
void api_me_apppass_list(struct http_ctx *x);
void api_me_apppass_add(struct http_ctx *x);
void api_me_apppass_del(struct http_ctx *x);
void api_me_mobileconfig(struct http_ctx *x);
void api_me_forward_get(struct http_ctx *x);
void api_me_token_list(struct http_ctx *x);
void api_me_token_add(struct http_ctx *x);
void api_me_token_del(struct http_ctx *x);
void api_me_forward_put(struct http_ctx *x);
void api_me_encryption_get(struct http_ctx *x);
void api_me_encryption_put(struct http_ctx *x);
void api_me_encryption_del(struct http_ctx *x);
void api_me_sieve_list(struct http_ctx *x);
void api_me_sieve_get(struct http_ctx *x);
void api_me_sieve_put(struct http_ctx *x);
void api_me_sieve_del(struct http_ctx *x);
void api_me_spam_lists_get(struct http_ctx *x);
void api_me_spam_lists_put(struct http_ctx *x);
void api_session_get(struct http_ctx *x);
void api_session_delete(struct http_ctx *x);
/* The wizard's gate for a write (api_setup.c): the admin's credentials
 * (session with CSRF, or token) once an admin exists, else the setup
 * code; and closed (409) once the setup is complete. 0 to proceed, -1
 * after answering. The router runs it before the body is looked at. */
int http_setup_gate(struct http_ctx *x);
/* POST /setup/admin's: 409 locked while TERN_ADMIN_PASSWORD is set (the
 * variable wins, whoever asks), then http_setup_gate's. The router runs
 * it before the body is looked at. */
int http_setup_admin_gate(struct http_ctx *x);
void api_setup_get(struct http_ctx *x);
void api_setup_code(struct http_ctx *x);
void api_setup_admin(struct http_ctx *x);
void api_setup_hostname(struct http_ctx *x);
void api_setup_domain(struct http_ctx *x);
void api_setup_account(struct http_ctx *x);
void api_setup_relay(struct http_ctx *x);
void api_setup_certificate(struct http_ctx *x);
void api_setup_dns(struct http_ctx *x);
void api_setup_complete(struct http_ctx *x);
void api_domains_list(struct http_ctx *x);
void api_domains_add(struct http_ctx *x);
void api_domain_get(struct http_ctx *x);
void api_domain_del(struct http_ctx *x);
void api_domain_dns(struct http_ctx *x);
void api_domain_dns_check(struct http_ctx *x);
void api_domain_dkim(struct http_ctx *x);
void api_domain_dkim_import(struct http_ctx *x);
void api_domain_dmarc(struct http_ctx *x);
/* api_tlsrpt.c: GET /domains/{d}/tlsrpt-reports (TLS-RPT reports received). */
void api_domain_tlsrpt(struct http_ctx *x);
/* Writes the DNS object of domain (with live checks when check). */
void api_dns_object(struct http_ctx *x, const char *domain, int check);
void api_accounts_list(struct http_ctx *x);
void api_accounts_add(struct http_ctx *x);
void api_account_get(struct http_ctx *x);
void api_account_patch(struct http_ctx *x);
void api_account_del(struct http_ctx *x);
void api_account_password(struct http_ctx *x);
/* api_setup.c: PUT /admin/password */
void api_admin_password(struct http_ctx *x);
/* api_apppass.c */
void api_apppass_list(struct http_ctx *x);
void api_apppass_add(struct http_ctx *x);
void api_apppass_del(struct http_ctx *x);
void api_apppass_list_mail(struct http_ctx *x);
void api_apppass_del_mail(struct http_ctx *x);
void api_jmap_token_list(struct http_ctx *x);
void api_jmap_token_add(struct http_ctx *x);
void api_jmap_token_del(struct http_ctx *x);
/* api_acl.c: shared mailboxes' grants (RFC 4314) */
void api_acl_list(struct http_ctx *x);
void api_acl_put(struct http_ctx *x);
void api_acl_del(struct http_ctx *x);
void api_acl_shared(struct http_ctx *x);
void api_forward_get(struct http_ctx *x);
void api_forward_put(struct http_ctx *x);
/* api_encryption.c */
void api_encryption_get(struct http_ctx *x);
void api_encryption_put(struct http_ctx *x);
void api_encryption_del(struct http_ctx *x);
/* api_sieve.c */
void api_sieve_list(struct http_ctx *x);
void api_sieve_get(struct http_ctx *x);
void api_sieve_put(struct http_ctx *x);
void api_sieve_del(struct http_ctx *x);
/* /sieve/global...: the administrator's global scripts. */
void api_sieve_global_list(struct http_ctx *x);
void api_sieve_global_get(struct http_ctx *x);
void api_sieve_global_put(struct http_ctx *x);
void api_sieve_global_del(struct http_ctx *x);
void api_account_mobileconfig(struct http_ctx *x);
/* Creates an account from the body {"email","password","quota"?,
 * "display_name"?,"current"?} (POST /accounts and the wizard's account
 * step); answers 201, or a problem. current names the body's field with
 * the admin password a session must give (http_session_password_check),
 * or is NULL (the wizard, before setup is complete). */
void api_account_create(struct http_ctx *x, const char *current);
void api_aliases_list(struct http_ctx *x);
void api_aliases_add(struct http_ctx *x);
void api_alias_del(struct http_ctx *x);
void api_stats(struct http_ctx *x);
void api_logs(struct http_ctx *x);
void api_settings_get(struct http_ctx *x);
void api_settings_put(struct http_ctx *x);
/* api_spam.c */
void api_spam_get(struct http_ctx *x);
void api_spam_put(struct http_ctx *x);
void api_spam_recent(struct http_ctx *x);
void api_spam_recent_train(struct http_ctx *x);
void api_spam_lists_get(struct http_ctx *x);
void api_spam_lists_put(struct http_ctx *x);
void api_spam_phish_put(struct http_ctx *x); /* streamed */
void api_spam_hashes_put(struct http_ctx *x); /* streamed */
void api_tokens_list(struct http_ctx *x);
void api_tokens_add(struct http_ctx *x);
void api_token_del(struct http_ctx *x);
void api_queue_list(struct http_ctx *x);
void api_queue_retry(struct http_ctx *x);
void api_queue_del(struct http_ctx *x);
/* Scheduled backups (api_backup.c). */
void api_account_migrate(struct http_ctx *x);
void api_account_import(struct http_ctx *x);
void api_jobs_list(struct http_ctx *x);
void api_job_get(struct http_ctx *x);
void api_backups_list(struct http_ctx *x);
void api_backups_start(struct http_ctx *x);
void api_backups_schedule(struct http_ctx *x);
void api_openapi(struct http_ctx *x);
/* POST /api/v1/password/strength (api_password.c). */
void api_password_strength(struct http_ctx *x);
void http_healthz(struct http_ctx *x);
void http_metrics(struct http_ctx *x);
void http_autoconfig(struct http_ctx *x);
/* JMAP: /.well-known/jmap, /jmap/session, /jmap/api (api_jmap.c). */
void http_jmap(struct http_ctx *x);
/* The credentials of an Authorization header value h ("Basic ..."):
 * user and pass (LOGIN_USER_MAX + 1 and LOGIN_PASS_MAX + 1 octets) get
 * them NUL-terminated, their lengths *ulen_r and *plen_r. 0, or -1 when
 * h is not Basic or malformed (api_jmap.c). The caller wipes pass. */
int http_basic_parse(const char *h, char *user, size_t *ulen_r, char *pass, size_t *plen_r);
/* Whether an Origin header value (NULL: none) is tern's own: absent (not
 * a browser), the Host the request names, or the host name tern serves
 * as (behind a proxy that rewrites Host); "null" is not (http_push.c). */
int http_origin_own(const char *origin, size_t olen, const char *host, size_t hlen);
/* An API request of account starts: 1 when it may run (fewer than
 * JMAP_MAX_CONCURRENT_REQUESTS of the account's run, over HTTP and
 * WebSocket together), else 0 (answer the limit problem). After a 1,
 * http_jmap_request_leave() once the request ended (api_jmap.c). */
int http_jmap_request_enter(uint32_t account);
void http_jmap_request_leave(uint32_t account);
void http_autodiscover(struct http_ctx *x);
/* GET /autodiscover/autodiscover.json?Email=&Protocol=AutodiscoverV1:
 * where the POX document is (Outlook asks this first). */
void http_autodiscover_json(struct http_ctx *x);
/* GET of a UI path: the asset or the SPA index. */
void http_static(struct http_ctx *x);

/* The HTTPS (https 1) or plain daemon, which the bridge adds connections to,
 * or NULL; and the bound ports. */
struct MHD_Daemon *http_daemon(int https);
/*
 * The answers the daemon completed on one bridged connection, so that the
 * bridge acts only once every request it passed on was answered
 * (http_bridge.c). Called from the daemon's threads: at its connection's
 * start (fd: the daemon's end of the socketpair; the result is kept as
 * the socket context), at each request's completion, and at its close.
 */
struct bridge_tally;
struct bridge_tally *http_bridge_tally_take(int fd);
void http_bridge_answered(struct bridge_tally *t);
void http_bridge_tally_put(struct bridge_tally *t);
/* The security headers every response carries (CSP, nosniff, ...; HSTS
 * with https), as CRLF-ended header lines. */
const char *http_security_header_lines(int https);
uint16_t http_https_port(void);
uint16_t http_http_port(void);

/* Wizard state shared with the settings page (api_setup.c). */
/* The primary domain now: the environment's, else the stored one, else "". */
void api_primary_domain(char *out, size_t outsz);
/* A setting as it will be after a restart: env, else stored, else running. */
#include "admin/admin_meta.h"
void api_effective(enum admin_setting s, const char *running, char *out, size_t outsz);
/* 1 when stored settings differ from what the server runs with. */
int api_restart_required(void);
/* Stores the relay fields present in the body (names given); answers on
 * error and returns -1, else 0. A new, non-empty host also takes the
 * admin password from a session in the body's field current
 * (http_session_password_check); current NULL: not asked (the wizard). */
int api_store_relay(struct http_ctx *x, const char *fhost, const char *fuser, const char *fpass,
		    const char *current);
/* What api_store_relay would write, checked the same way, as up to
 * three store_meta_put_all items appended to it[*n] (secrets sealed
 * into sealed), for a caller storing them with other fields in one
 * transaction. Answers on error and returns -1, else 0. */
#include "admin/admin_secret.h"
#include "store/store.h"
int api_relay_items(struct http_ctx *x, const char *fhost, const char *fuser, const char *fpass,
		    const char *current, char sealed[][ADMIN_SECRET_SEALED_MAX],
		    struct store_meta_item *it, size_t *n);

/* Entries in the outbound queue, -1 on a store error; *held_r (when not
 * NULL) gets how many of them are held (restored from a backup), 0 on
 * an error. */
long http_queue_size(long *held_r);

/* 1 when the server finished starting (listeners up). */
int http_is_ready(void);

/* Password policy shared by every endpoint that sets one. -1 after 400. */
int http_password_ok(struct http_ctx *x, const char *field, const char *pw);

#endif
