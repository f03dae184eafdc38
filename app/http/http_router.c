/*
 * http_router.c — the route table: method + path pattern -> handler, with
 * what each route needs (authentication, a JSON body). Patterns are
 * segment lists where "*" matches one non-empty segment and becomes a path
 * parameter. A path that exists with another method gets 405 and Allow.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "acme/acme.h"
#include "core/hostname.h"
#include "core/arena.h"
#include "http/http_internal.h"
#include "store/store.h"
#include "tlspol/mta_sts.h"

#define R_AUTH 1u      /* session (with CSRF for writes) or bearer token */
#define R_JSON 2u      /* body parsed as JSON (400 when malformed) */
#define R_JSON_OPT 4u  /* as R_JSON, an empty body counts as {} */
#define R_USER 8u      /* an account's portal session (api_me.c), CSRF for writes */
/*
 * Destroys or revokes something (every DELETE but signing out): a session
 * gives its owner's current password in the body's "password" (the
 * admin's on admin routes, the account's on the portal's), checked here
 * once for all of them (http_session_password_check) before the handler
 * runs, so a session cookie alone, stolen or left open, destroys nothing.
 * An admin bearer token is not asked. Implies R_JSON_OPT.
 */
#define R_REAUTH 16u
/*
 * A wizard write (api_setup.c): its gate, the admin's credentials or
 * the setup code (http_setup_gate), runs before the body is read, as
 * R_AUTH's does; before, a caller with neither had its JSON checked
 * (400 bad_json, 415) before it was told 401 or 403.
 */
#define R_SETUP 32u
/* The wizard's first write (POST /setup/admin): R_SETUP's gate, after its
 * 409 while TERN_ADMIN_PASSWORD is set (http_setup_admin_gate). */
#define R_SETUP_ADMIN 64u

struct route {
	const char *method;
	const char *pattern;
	void (*fn)(struct http_ctx *x);
	unsigned flags;
};

static const struct route api_routes[] = {
	{ "GET", "/api/v1/openapi.json", api_openapi, 0 },
	{ "GET", "/api/v1/setup", api_setup_get, 0 },
	{ "POST", "/api/v1/setup/code", api_setup_code, R_JSON },
	{ "POST", "/api/v1/setup/admin", api_setup_admin, R_SETUP_ADMIN | R_JSON },
	{ "PUT", "/api/v1/setup/hostname", api_setup_hostname, R_SETUP | R_JSON },
	{ "PUT", "/api/v1/setup/domain", api_setup_domain, R_SETUP | R_JSON },
	{ "POST", "/api/v1/setup/account", api_setup_account, R_SETUP | R_JSON },
	{ "PUT", "/api/v1/setup/relay", api_setup_relay, R_SETUP | R_JSON },
	{ "PUT", "/api/v1/setup/certificate", api_setup_certificate, R_SETUP | R_JSON },
	{ "GET", "/api/v1/setup/dns", api_setup_dns, 0 },
	{ "POST", "/api/v1/setup/complete", api_setup_complete, R_AUTH | R_JSON_OPT },
	{ "POST", "/api/v1/password/strength", api_password_strength, R_JSON },
	{ "POST", "/api/v1/session", api_session_post, R_JSON },
	{ "GET", "/api/v1/session", api_session_get, R_AUTH },
	{ "DELETE", "/api/v1/session", api_session_delete, R_AUTH },
	{ "GET", "/api/v1/sessions", api_sessions_list, R_AUTH },
	{ "DELETE", "/api/v1/sessions", api_sessions_del_others, R_AUTH | R_REAUTH },
	{ "DELETE", "/api/v1/sessions/*", api_sessions_del, R_AUTH | R_REAUTH },
	{ "PUT", "/api/v1/admin/password", api_admin_password, R_AUTH | R_JSON },
	{ "GET", "/api/v1/admin/totp", api_admin_totp_get, R_AUTH },
	{ "POST", "/api/v1/admin/totp", api_admin_totp_begin, R_AUTH | R_JSON_OPT },
	{ "POST", "/api/v1/admin/totp/confirm", api_admin_totp_confirm, R_AUTH | R_JSON },
	{ "POST", "/api/v1/admin/totp/disable", api_admin_totp_disable, R_AUTH | R_JSON },
	{ "POST", "/api/v1/me/session", api_me_login, R_JSON },
	{ "DELETE", "/api/v1/me/session", api_me_logout, R_USER },
	{ "GET", "/api/v1/me/sessions", api_me_sessions_list, R_USER },
	{ "DELETE", "/api/v1/me/sessions", api_me_sessions_del_others, R_USER | R_REAUTH },
	{ "DELETE", "/api/v1/me/sessions/*", api_me_sessions_del, R_USER | R_REAUTH },
	{ "GET", "/api/v1/me", api_me_get, R_USER },
	{ "PATCH", "/api/v1/me", api_me_patch, R_USER | R_JSON },
	{ "PUT", "/api/v1/me/password", api_me_password, R_USER | R_JSON },
	{ "GET", "/api/v1/me/app-passwords", api_me_apppass_list, R_USER },
	{ "POST", "/api/v1/me/app-passwords", api_me_apppass_add, R_USER | R_JSON },
	{ "DELETE", "/api/v1/me/app-passwords/*", api_me_apppass_del, R_USER | R_REAUTH },
	{ "GET", "/api/v1/me/jmap-tokens", api_me_token_list, R_USER },
	{ "POST", "/api/v1/me/jmap-tokens", api_me_token_add, R_USER | R_JSON },
	{ "DELETE", "/api/v1/me/jmap-tokens/*", api_me_token_del, R_USER | R_REAUTH },
	{ "GET", "/api/v1/me/totp", api_me_totp_get, R_USER },
	{ "POST", "/api/v1/me/totp", api_me_totp_begin, R_USER | R_JSON_OPT },
	{ "POST", "/api/v1/me/totp/confirm", api_me_totp_confirm, R_USER | R_JSON },
	{ "POST", "/api/v1/me/totp/disable", api_me_totp_disable, R_USER | R_JSON },
	{ "GET", "/api/v1/me/mobileconfig", api_me_mobileconfig, R_USER },
	{ "GET", "/api/v1/me/forwarding", api_me_forward_get, R_USER },
	{ "PUT", "/api/v1/me/forwarding", api_me_forward_put, R_USER | R_JSON },
	{ "GET", "/api/v1/me/encryption", api_me_encryption_get, R_USER },
	{ "PUT", "/api/v1/me/encryption", api_me_encryption_put, R_USER | R_JSON },
	{ "DELETE", "/api/v1/me/encryption", api_me_encryption_del, R_USER | R_REAUTH },
	{ "GET", "/api/v1/me/sieve", api_me_sieve_list, R_USER },
	{ "GET", "/api/v1/me/sieve/*", api_me_sieve_get, R_USER },
	{ "PUT", "/api/v1/me/sieve/*", api_me_sieve_put, R_USER | R_JSON },
	{ "DELETE", "/api/v1/me/sieve/*", api_me_sieve_del, R_USER | R_REAUTH },
	{ "GET", "/api/v1/me/spam-lists", api_me_spam_lists_get, R_USER },
	{ "PUT", "/api/v1/me/spam-lists", api_me_spam_lists_put, R_USER | R_JSON },
	{ "GET", "/api/v1/stats", api_stats, R_AUTH },
	{ "GET", "/api/v1/domains", api_domains_list, R_AUTH },
	{ "POST", "/api/v1/domains", api_domains_add, R_AUTH | R_JSON },
	{ "GET", "/api/v1/domains/*", api_domain_get, R_AUTH },
	{ "DELETE", "/api/v1/domains/*", api_domain_del, R_AUTH | R_REAUTH },
	{ "GET", "/api/v1/domains/*/dns", api_domain_dns, R_AUTH },
	{ "GET", "/api/v1/domains/*/dns/check", api_domain_dns_check, R_AUTH },
	{ "GET", "/api/v1/domains/*/dkim", api_domain_dkim, R_AUTH },
	{ "POST", "/api/v1/domains/*/dkim/import", api_domain_dkim_import, R_AUTH | R_JSON },
	{ "GET", "/api/v1/domains/*/dmarc-reports", api_domain_dmarc, R_AUTH },
	{ "GET", "/api/v1/domains/*/tlsrpt-reports", api_domain_tlsrpt, R_AUTH },
	{ "GET", "/api/v1/accounts", api_accounts_list, R_AUTH },
	{ "POST", "/api/v1/accounts", api_accounts_add, R_AUTH | R_JSON },
	{ "GET", "/api/v1/accounts/*", api_account_get, R_AUTH },
	{ "PATCH", "/api/v1/accounts/*", api_account_patch, R_AUTH | R_JSON },
	{ "DELETE", "/api/v1/accounts/*", api_account_del, R_AUTH | R_REAUTH },
	{ "POST", "/api/v1/accounts/*/password", api_account_password, R_AUTH | R_JSON },
	{ "DELETE", "/api/v1/accounts/*/totp", api_account_totp_reset, R_AUTH | R_REAUTH },
	{ "GET", "/api/v1/accounts/*/mobileconfig", api_account_mobileconfig, R_AUTH },
	{ "GET", "/api/v1/accounts/*/app-passwords", api_apppass_list, R_AUTH },
	{ "POST", "/api/v1/accounts/*/app-passwords", api_apppass_add, R_AUTH | R_JSON },
	{ "DELETE", "/api/v1/accounts/*/app-passwords/*", api_apppass_del, R_AUTH | R_REAUTH },
	{ "GET", "/api/v1/accounts/*/jmap-tokens", api_jmap_token_list, R_AUTH },
	{ "POST", "/api/v1/accounts/*/jmap-tokens", api_jmap_token_add, R_AUTH | R_JSON },
	{ "DELETE", "/api/v1/accounts/*/jmap-tokens/*", api_jmap_token_del, R_AUTH | R_REAUTH },
	{ "GET", "/api/v1/accounts/*/acl", api_acl_list, R_AUTH },
	{ "PUT", "/api/v1/accounts/*/acl", api_acl_put, R_AUTH | R_JSON },
	{ "DELETE", "/api/v1/accounts/*/acl", api_acl_del, R_AUTH | R_REAUTH },
	{ "GET", "/api/v1/accounts/*/shared", api_acl_shared, R_AUTH },
	{ "GET", "/api/v1/accounts/*/forwarding", api_forward_get, R_AUTH },
	{ "PUT", "/api/v1/accounts/*/forwarding", api_forward_put, R_AUTH | R_JSON },
	{ "GET", "/api/v1/accounts/*/encryption", api_encryption_get, R_AUTH },
	{ "PUT", "/api/v1/accounts/*/encryption", api_encryption_put, R_AUTH | R_JSON },
	{ "DELETE", "/api/v1/accounts/*/encryption", api_encryption_del, R_AUTH | R_REAUTH },
	{ "GET", "/api/v1/accounts/*/sieve", api_sieve_list, R_AUTH },
	{ "GET", "/api/v1/accounts/*/sieve/*", api_sieve_get, R_AUTH },
	{ "PUT", "/api/v1/accounts/*/sieve/*", api_sieve_put, R_AUTH | R_JSON },
	{ "DELETE", "/api/v1/accounts/*/sieve/*", api_sieve_del, R_AUTH | R_REAUTH },
	{ "POST", "/api/v1/accounts/*/migrate", api_account_migrate, R_AUTH | R_JSON },
	{ "POST", "/api/v1/accounts/*/import", api_account_import, R_AUTH }, /* streamed */
	{ "GET", "/api/v1/jobs", api_jobs_list, R_AUTH },
	{ "GET", "/api/v1/jobs/*", api_job_get, R_AUTH },
	{ "GET", "/api/v1/sieve/global", api_sieve_global_list, R_AUTH },
	{ "GET", "/api/v1/sieve/global/*", api_sieve_global_get, R_AUTH },
	{ "PUT", "/api/v1/sieve/global/*", api_sieve_global_put, R_AUTH | R_JSON },
	{ "DELETE", "/api/v1/sieve/global/*", api_sieve_global_del, R_AUTH | R_REAUTH },
	{ "GET", "/api/v1/aliases", api_aliases_list, R_AUTH },
	{ "POST", "/api/v1/aliases", api_aliases_add, R_AUTH | R_JSON },
	{ "DELETE", "/api/v1/aliases/*", api_alias_del, R_AUTH | R_REAUTH },
	{ "GET", "/api/v1/queue", api_queue_list, R_AUTH },
	{ "POST", "/api/v1/queue/*/retry", api_queue_retry, R_AUTH | R_JSON_OPT },
	{ "DELETE", "/api/v1/queue/*", api_queue_del, R_AUTH | R_REAUTH },
	{ "GET", "/api/v1/logs", api_logs, R_AUTH },
	{ "GET", "/api/v1/backups", api_backups_list, R_AUTH },
	{ "POST", "/api/v1/backups", api_backups_start, R_AUTH | R_JSON_OPT },
	{ "PUT", "/api/v1/backups/schedule", api_backups_schedule, R_AUTH | R_JSON },
	{ "GET", "/api/v1/settings", api_settings_get, R_AUTH },
	{ "PUT", "/api/v1/settings", api_settings_put, R_AUTH | R_JSON },
	{ "GET", "/api/v1/spam", api_spam_get, R_AUTH },
	{ "PUT", "/api/v1/spam", api_spam_put, R_AUTH | R_JSON },
	{ "GET", "/api/v1/spam/recent", api_spam_recent, R_AUTH },
	{ "POST", "/api/v1/spam/recent/*/train", api_spam_recent_train, R_AUTH | R_JSON },
	{ "GET", "/api/v1/spam/lists/*", api_spam_lists_get, R_AUTH },
	{ "PUT", "/api/v1/spam/lists/*", api_spam_lists_put, R_AUTH | R_JSON },
	{ "PUT", "/api/v1/spam/phish", api_spam_phish_put, R_AUTH }, /* streamed */
	{ "PUT", "/api/v1/spam/hashes", api_spam_hashes_put, R_AUTH }, /* streamed */
	{ "GET", "/api/v1/tokens", api_tokens_list, R_AUTH },
	{ "POST", "/api/v1/tokens", api_tokens_add, R_AUTH | R_JSON },
	{ "DELETE", "/api/v1/tokens/*", api_token_del, R_AUTH | R_REAUTH },
};

/* Matches path against pattern; fills params. 1 on a match. */
static int match(const char *pattern, const char *path, const char *params[3], struct arena *a)
{
	int np = 0;
	const char *p = pattern, *s = path;

	while (*p && *s) {
		if (*p == '*') {
			const char *e = strchr(s, '/');
			size_t n = e ? (size_t)(e - s) : strlen(s);
			if (n == 0 || np >= 3)
				return 0;
			if (a)
				params[np] = arena_strndup(a, s, n);
			np++;
			p++;
			s += n;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

/*
 * Routes whose handler takes its body streamed (http_upload.h), matched
 * when the header arrives; they are routed as usual after that. JMAP's
 * API is one for its maxSizeRequest, far over HTTP_BODY_MAX: the
 * credentials are checked before such a body is read.
 */
static const struct {
	const char *method, *pattern;
} streamed[] = {
	{ "POST", "/jmap/api" },
	{ "POST", "/jmap/api/" },
	{ "POST", "/jmap/upload/*/" },
	{ "POST", "/jmap/upload/*" },
	{ "POST", "/api/v1/accounts/*/import" },
	{ "PUT", "/api/v1/spam/phish" },
	{ "PUT", "/api/v1/spam/hashes" },
};

int http_route_streamed(const char *method, const char *path)
{
	for (size_t i = 0; i < sizeof streamed / sizeof streamed[0]; i++) {
		const char *params[3];
		if (strcmp(streamed[i].method, method) == 0 &&
		    match(streamed[i].pattern, path, params, NULL))
			return 1;
	}
	return 0;
}

/* 405 with the methods the resource takes (RFC 9110 §15.5.6: the Allow
 * field is required there). */
static void method_refused(struct http_ctx *x, const char *allow)
{
	http_problem(x, 405, "method", NULL, "%s is not allowed here", x->method);
	http_header(x, "Allow", allow);
}

/* application/json, with parameters or none: media-type parameters are
 * *( OWS ";" OWS parameter ), OWS spaces or tabs (RFC 9110 §8.3.1,
 * §5.6.3). */
static int content_type_json(struct http_ctx *x)
{
	const char *ct = http_req_header(x, "Content-Type");
	if (!ct)
		return x->body_len == 0;
	if (strncasecmp(ct, "application/json", 16) != 0)
		return 0;
	ct += 16 + strspn(ct + 16, " \t");
	return *ct == '\0' || *ct == ';';
}

/* 415: the type the resource takes, in Accept (RFC 9110 §15.5.16,
 * §12.5.1), and for a PATCH in Accept-Patch (RFC 5789 §2.2). */
static void type_refused(struct http_ctx *x)
{
	http_problem(x, 415, "bad_json", NULL, "Content-Type must be application/json");
	http_header(x, strcmp(x->method, "PATCH") == 0 ? "Accept-Patch" : "Accept", "application/json");
}

/* The API route for x's method and path, its parameters in x->param;
 * NULL with the methods the path takes in allow (size 64), maybe none. */
static const struct route *api_find(struct http_ctx *x, char allow[64])
{
	const char *method = strcmp(x->method, "HEAD") == 0 ? "GET" : x->method;

	allow[0] = '\0';
	for (size_t i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]); i++) {
		const char *params[3] = { NULL, NULL, NULL };
		if (!match(api_routes[i].pattern, x->path, params, x->arena))
			continue;
		if (strcmp(api_routes[i].method, method) == 0) {
			memcpy(x->param, params, sizeof(params));
			return &api_routes[i];
		}
		/* Where GET is served, so is HEAD (RFC 9110 §9.3.2, §10.2.1). */
		size_t n = strlen(allow);
		snprintf(allow + n, 64 - n, "%s%s%s", n ? ", " : "", api_routes[i].method,
			 strcmp(api_routes[i].method, "GET") == 0 ? ", HEAD" : "");
	}
	return NULL;
}

/* The route's credential checks, all from the header: 0, or -1 after
 * answering (401, 403, 429). */
static int api_gate(struct http_ctx *x, const struct route *hit)
{
	if ((hit->flags & R_AUTH) && http_auth_require(x) < 0)
		return -1;
	if ((hit->flags & R_USER) && http_user_require(x) < 0)
		return -1;
	if ((hit->flags & R_SETUP) && http_setup_gate(x) < 0)
		return -1;
	if ((hit->flags & R_SETUP_ADMIN) && http_setup_admin_gate(x) < 0)
		return -1;
	return 0;
}

int http_route_gate(struct http_ctx *x)
{
	char allow[64];
	const struct route *hit;

	if (strncmp(x->path, "/api/", 5) != 0 || !(hit = api_find(x, allow)))
		return 0;
	return api_gate(x, hit);
}

static void api(struct http_ctx *x)
{
	char allow[64];
	const struct route *hit = api_find(x, allow);

	if (!hit) {
		if (allow[0]) {
			method_refused(x, arena_strdup(x->arena, allow));
		} else {
			http_problem(x, 404, "not_found", NULL, "no such endpoint");
		}
		return;
	}
	/* Credentials first: an anonymous client learns nothing from the body checks. */
	if (api_gate(x, hit) < 0)
		return;
	if (hit->flags & (R_JSON | R_JSON_OPT | R_REAUTH)) {
		char err[128];
		if (x->body_len == 0 && (hit->flags & (R_JSON_OPT | R_REAUTH))) {
			x->json = json_parse("{}", 2, x->arena, err, sizeof(err));
		} else if (!content_type_json(x)) {
			type_refused(x);
			return;
		} else if (x->body_len == 0) {
			http_problem(x, 400, "bad_json", NULL, "a JSON object body is required");
			return;
		} else if (!(x->json = json_parse(x->body, x->body_len, x->arena, err, sizeof(err)))) {
			http_problem(x, 400, "bad_json", NULL, "malformed JSON: %s", err);
			return;
		}
	}
	if ((hit->flags & R_REAUTH) && http_session_password_check(x, "password") < 0)
		return;
	hit->fn(x);
}

void http_route(struct http_ctx *x)
{
	const char *p = x->path;
	int get = strcmp(x->method, "GET") == 0 || strcmp(x->method, "HEAD") == 0;

	if (strncmp(p, "/api/", 5) == 0) {
		api(x);
		return;
	}
	if (strcmp(p, "/.well-known/jmap") == 0 || strncmp(p, "/jmap/", 6) == 0) {
		http_jmap(x);
		return;
	}
	if (strcmp(p, "/healthz") == 0 && get) {
		http_healthz(x);
		return;
	}
	if (strcmp(p, "/metrics") == 0 && get) {
		http_metrics(x);
		return;
	}
	if ((strcmp(p, "/.well-known/autoconfig/mail/config-v1.1.xml") == 0 ||
	     strcmp(p, "/mail/config-v1.1.xml") == 0) &&
	    get) {
		http_autoconfig(x);
		return;
	}
	if (strcasecmp(p, "/autodiscover/autodiscover.json") == 0) {
		if (get)
			http_autodiscover_json(x);
		else
			method_refused(x, "GET, HEAD");
		return;
	}
	if (strcasecmp(p, "/autodiscover/autodiscover.xml") == 0) {
		/* Outlook POSTs its request; a GET gets the same settings. */
		if (strcmp(x->method, "POST") == 0 || get)
			http_autodiscover(x);
		else
			method_refused(x, "GET, HEAD, POST");
		return;
	}
	if (strcmp(p, "/.well-known/mta-sts.txt") == 0 && get && x->https &&
	    strncmp(x->host, "mta-sts.", 8) == 0 && store_domain_served(http_store, x->host + 8) == 1) {
		/* Our MTA-STS policy (RFC 8461 §3.3), HTTPS only, and only for
		 * the domains we serve: any other name is none of our business.
		 * In either IDN spelling: senders ask at the A-label name, and a
		 * domain may be served as its U-label (bücher.test). */
		char pol[MTA_STS_OWN_MAX], id[MTA_STS_ID_MAX + 1];
		mta_sts_own_policy(hostname_now(), admin_mta_sts_mode(http_store), pol, id);
		http_text(x, 200, "text/plain", pol);
		return;
	}
	if (strncmp(p, "/.well-known/acme-challenge/", 28) == 0) {
		/* HTTP-01 (RFC 8555 §8.3): the key authorization of a pending challenge. */
		char ka[256];
		if (!get)
			method_refused(x, "GET, HEAD");
		else if (acme_http01_answer(p + 28, ka, sizeof ka) == 0)
			http_text(x, 200, "application/octet-stream", ka);
		else
			http_text(x, 404, "text/plain; charset=utf-8", "no such challenge\n");
		return;
	}
	if (!get) {
		method_refused(x, "GET, HEAD");
		return;
	}
	http_static(x);
}
