/*
 * api_me.c — the self-service portal's API (/api/v1/me...): an account
 * signs in with its address and password (and a TOTP code when it turned
 * 2FA on), then manages itself: display name, password, app passwords
 * and JMAP bearer tokens (api_apppass.c),
 * two-factor sign-in (api_totp.c), its Sieve filters, forwarding to
 * outside addresses (api_forward.c), quota and usage, and its Apple
 * profile.
 *
 * Sessions are the admin's mechanism (api_session.c) under a cookie of
 * their own, HTTP_COOKIE_ACCOUNT, bound to the account: they never open an admin
 * route and an admin session never opens these. Sign-in attempts go
 * through the same limits (auth/login_limit.h, per address and per
 * account) and leave the same fail2ban line as the admin's, with
 * what=account_login (or what=totp for a wrong code). Only the account's
 * own password signs in here, never an app password, and only while the
 * account's state is active.
 *
 * The handlers that exist for administrators (app passwords, Sieve, the
 * profile) are reused as they are: the account's address goes where the
 * admin route has its {email} parameter. What outlives a change of the
 * password (a new app password or JMAP token, forwarding to an outside
 * address, a redirecting script) also takes the current password when the
 * portal asks for it (http_session_password_check), and so does an
 * encryption key, which the owner may not be able to read with: a stolen
 * session cookie must not turn into lasting access to the mail, nor lock
 * the owner out of it. Revoking and turning forwarding or encryption off
 * need none; on the administrator's routes an admin session gives the
 * admin password instead, never the account's.
 */
#include <stdio.h>
#include <string.h>

#include "auth/login.h"
#include "auth/twofactor.h"
#include "core/arena.h"
#include "core/hostname.h"
#include "core/log.h"
#include "http/http_internal.h"
#include "store/store.h"

void api_me_login(struct http_ctx *x)
{
	static const struct json_field f[] = {
		{ "email", JK_STRING, 1 },
		{ "password", JK_STRING, 1 },
		{ "code", JK_STRING, 0 },
	};
	char email[HTTP_EMAIL_MAX + 1];
	struct login_ticket t;
	uint32_t id = 0;

	if (http_body_check(x, f, 3) < 0)
		return;
	if (str_lower_into(str_c(http_body_str(x, "email")), email, sizeof email) != 0)
		email[0] = '\0';
	/* An address at one of our IDN domains in the spelling it was not
	 * added in is that account (as for every mail login, auth/login.c):
	 * it signs in, and its failures count as the account's. */
	if (email[0])
		store_served_spelling(http_store, email, sizeof email);
	if (http_login_admit(x, email[0] ? email : "(none)", &t) < 0)
		return;
	if (http_hash_try_enter() < 0) {
		login_settle_cancel(&t);
		http_problem(x, 503, "temporary", NULL, "busy checking other logins, try again");
		http_header(x, "Retry-After", "1");
		return;
	}
	/* An unknown address costs a hash all the same (the store's rule). */
	int ok = store_account_check_password(http_store, email, http_body_str(x, "password"));
	http_hash_leave();
	if (ok == 1 && store_account_id(http_store, email, &id) != STORE_OK)
		ok = 0;
	if (ok < 0) {
		login_settle_cancel(&t);
		http_problem(x, 503, "temporary", NULL, "store error, try again");
		return;
	}
	if (ok != 1) {
		http_login_failed(x, &t, "account_login");
		http_problem(x, 401, "unauthorized", NULL, "wrong address or password");
		return;
	}
	if (http_second_factor(x, &t, id, http_body_str(x, "code")) < 0)
		return;
	http_login_ok(x, &t);
	log_info("http", NULL, "event=account_login account_id=%u ip=%s", id, x->ip);
	http_session_start_for(x, 200, id, email);
}

void api_me_logout(struct http_ctx *x)
{
	http_user_sessions_end_one(x->session_id);
	http_no_content(x);
	http_session_cookie_clear(x, 1);
}

void api_me_get(struct http_ctx *x)
{
	char name[STORE_DISPLAY_NAME_MAX + 1];
	uint64_t quota = 0, used = 0;
	struct jw w;

	int rc = store_account_usage(http_store, x->account, &quota, &used);
	if (rc == STORE_OK)
		rc = store_account_name(http_store, x->account, name, sizeof name);
	int totp = rc == STORE_OK ? twofactor_enabled(http_store, x->account) : 0;
	if (rc == STORE_ENOTFOUND) {
		http_problem(x, 401, "unauthorized", NULL, "the account no longer exists");
		return;
	}
	if (rc != STORE_OK || totp < 0) {
		http_store_problem(x, STORE_ETEMP, "store error, see the log");
		return;
	}
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kstr(&w, "email", x->account_email);
	jw_kstr(&w, "display_name", name);
	jw_kuint(&w, "quota", quota);
	jw_kuint(&w, "used", used);
	jw_kbool(&w, "totp", totp);
	jw_kstr(&w, "csrf", x->account_csrf);
	/* What a mail app needs, for the set-up page (0: that port is off):
	 * every mail listener, as autoconfig.c offers them. */
	jw_key(&w, "servers");
	jw_obj_begin(&w);
	jw_kstr(&w, "hostname", hostname_now());
	jw_kuint(&w, "imaps", http_cfg->listen[LISTEN_IMAPS].port);
	jw_kuint(&w, "imap", http_cfg->listen[LISTEN_IMAP].port);
	jw_kuint(&w, "pop3s", http_cfg->listen[LISTEN_POP3S].port);
	jw_kuint(&w, "pop3", http_cfg->listen[LISTEN_POP3].port);
	jw_kuint(&w, "submissions", http_cfg->listen[LISTEN_SUBMISSIONS].port);
	jw_kuint(&w, "submission", http_cfg->listen[LISTEN_SUBMISSION].port);
	jw_kuint(&w, "sieve", http_cfg->listen[LISTEN_SIEVE].port);
	jw_obj_end(&w);
	jw_obj_end(&w);
}

void api_me_patch(struct http_ctx *x)
{
	static const struct json_field f[] = { { "display_name", JK_STRING, 0 } };
	char err[256];

	if (http_body_check(x, f, 1) < 0)
		return;
	const char *name = http_body_str(x, "display_name");
	if (name && !store_display_name_valid(name)) {
		http_problem(x, 400, "invalid_field", "display_name",
			     "field 'display_name' must be at most %d octets without control characters",
			     STORE_DISPLAY_NAME_MAX);
		return;
	}
	int rc = name ? store_account_set_name(http_store, x->account_email, name, err, sizeof err)
		      : STORE_OK;
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	api_me_get(x);
}

void api_me_password(struct http_ctx *x)
{
	static const struct json_field f[] = {
		{ "current", JK_STRING, 1 },
		{ "password", JK_STRING, 1 },
	};
	char err[256];
	struct login_ticket t;

	if (http_body_check(x, f, 2) < 0)
		return;
	const char *pw = http_body_str(x, "password");
	if (http_password_ok(x, "password", pw) < 0)
		return;
	/* The current password, checked like a sign-in: a session left open
	 * on a shared computer must not be enough to take the account. */
	if (http_login_admit(x, x->account_email, &t) < 0)
		return;
	http_hash_enter();
	int ok = store_account_check_password(http_store, x->account_email,
					      http_body_str(x, "current"));
	if (ok != 1) {
		http_hash_leave();
		if (ok == 0)
			http_login_failed(x, &t, "account_password");
		else
			login_settle_cancel(&t);
		http_problem(x, ok == 0 ? 400 : 503, ok == 0 ? "wrong_password" : "temporary",
			     ok == 0 ? "current" : NULL, "%s",
			     ok == 0 ? "the current password is wrong" : "store error, try again");
		return;
	}
	http_login_ok(x, &t);
	int rc = store_account_passwd(http_store, x->account_email, pw, err, sizeof err);
	http_hash_leave();
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	/* Mail sessions and the portal's other sessions end by the stamp
	 * (session_watch.h, http_user_require); this one goes on. */
	http_user_session_refresh(x);
	log_info("http", NULL, "event=account_password_changed account_id=%u ip=%s", x->account,
		 x->ip);
	http_no_content(x);
}

/* The admin handler for {email}/...: the account's own address takes the
 * place of {email}, and the path's own parameter moves after it. */
static void as_admin_route(struct http_ctx *x, void (*fn)(struct http_ctx *x))
{
	x->param[2] = x->param[1];
	x->param[1] = x->param[0];
	x->param[0] = x->account_email;
	fn(x);
}

void api_me_apppass_list(struct http_ctx *x)
{
	as_admin_route(x, api_apppass_list_mail);
}

void api_me_apppass_add(struct http_ctx *x)
{
	as_admin_route(x, api_apppass_add);
}

void api_me_apppass_del(struct http_ctx *x)
{
	as_admin_route(x, api_apppass_del_mail);
}

void api_me_token_list(struct http_ctx *x)
{
	as_admin_route(x, api_jmap_token_list);
}

void api_me_token_add(struct http_ctx *x)
{
	as_admin_route(x, api_jmap_token_add);
}

void api_me_token_del(struct http_ctx *x)
{
	as_admin_route(x, api_jmap_token_del);
}

void api_me_mobileconfig(struct http_ctx *x)
{
	as_admin_route(x, api_account_mobileconfig);
}

void api_me_forward_get(struct http_ctx *x)
{
	as_admin_route(x, api_forward_get);
}

void api_me_forward_put(struct http_ctx *x)
{
	as_admin_route(x, api_forward_put);
}

void api_me_encryption_get(struct http_ctx *x)
{
	as_admin_route(x, api_encryption_get);
}

void api_me_encryption_put(struct http_ctx *x)
{
	as_admin_route(x, api_encryption_put);
}

void api_me_encryption_del(struct http_ctx *x)
{
	as_admin_route(x, api_encryption_del);
}

void api_me_sieve_list(struct http_ctx *x)
{
	as_admin_route(x, api_sieve_list);
}

void api_me_sieve_get(struct http_ctx *x)
{
	as_admin_route(x, api_sieve_get);
}

void api_me_sieve_put(struct http_ctx *x)
{
	as_admin_route(x, api_sieve_put);
}

void api_me_sieve_del(struct http_ctx *x)
{
	as_admin_route(x, api_sieve_del);
}

/* The account's own allow and block lists: the admin's
 * /spam/lists/{email} with the signed-in address as the scope, so the
 * same checks and no way to name another account's. */
void api_me_spam_lists_get(struct http_ctx *x)
{
	as_admin_route(x, api_spam_lists_get);
}

void api_me_spam_lists_put(struct http_ctx *x)
{
	as_admin_route(x, api_spam_lists_put);
}
