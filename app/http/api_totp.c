/*
 * api_totp.c — two-factor sign-in through the API, one set of handlers
 * for the web admin (/api/v1/admin/totp...) and for an account's portal
 * (/api/v1/me/totp...): state, enrolment (the otpauth URI, which the UI
 * draws as a QR code), confirmation with a first code (the recovery codes
 * are in that answer and nowhere else, ever), and turning it off with a
 * code. The flow itself is auth/twofactor.c. An administrator can also
 * remove an account's 2FA without a code (a lost phone):
 * DELETE /api/v1/accounts/{email}/totp.
 *
 * Confirming (which turns 2FA on) and turning it off also take the
 * owner's current password ("password"), as changing the password does:
 * a session cookie alone, stolen or left open on a shared computer, must
 * not be enough to put a second factor of the thief's own on the account
 * (locking its owner out) nor to take the owner's off. Starting an
 * enrolment needs none: it changes nothing but the pending secret.
 *
 * The password and the code go through the sign-in's limiter
 * (http_login_admit) under the owner's name, and a wrong one is a failed
 * login (what=totp_password or what=totp, the line fail2ban reads): a
 * signed-in session must not get unlimited guesses at either.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin/admin_meta.h"
#include "auth/login.h"
#include "auth/twofactor.h"
#include "core/arena.h"
#include "core/hostname.h"
#include "core/log.h"
#include "http/http_internal.h"
#include "store/store.h"

/* The issuer an authenticator app shows: "tern mx.example.com". */
static const char *issuer(struct http_ctx *x)
{
	return arena_printf(x->arena, "tern %s", hostname_now());
}

static void totp_get(struct http_ctx *x, uint32_t owner)
{
	struct jw w;
	int on = twofactor_enabled(http_store, owner);
	if (on < 0) {
		http_store_problem(x, STORE_ETEMP, "store error, see the log");
		return;
	}
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kbool(&w, "enabled", on);
	jw_obj_end(&w);
}

static void totp_begin(struct http_ctx *x, uint32_t owner, const char *label)
{
	char uri[TWOFACTOR_URI_MAX];
	struct jw w;
	/* It takes {} or nothing: a field is refused (API.md), not ignored,
	 * so a client that sends a password thinking it is checked is told. */
	if (http_body_check(x, NULL, 0) < 0)
		return;
	int rc = twofactor_begin(http_store, http_cfg->data_dir, owner, issuer(x), label, uri,
				 sizeof uri);
	if (rc == STORE_EEXIST) {
		http_problem(x, 409, "exists", NULL, "two-factor sign-in is on already; turn it off first");
		return;
	}
	if (rc != STORE_OK) {
		http_store_problem(x, rc, "cannot start the enrolment, see the log");
		return;
	}
	const char *s = strstr(uri, "secret="), *e = s ? strchr(s, '&') : NULL;
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kstr(&w, "uri", uri);
	if (s && e)
		jw_kstr(&w, "secret", arena_strndup(x->arena, s + 7, (size_t)(e - s - 7)));
	jw_obj_end(&w);
	explicit_bzero(uri, sizeof uri);
}

/* The owner's name in the login limiter, as its sign-in gives it. */
static const char *limit_name(struct http_ctx *x, uint32_t owner)
{
	return owner == STORE_TOTP_ADMIN ? "(admin)" : x->account_email;
}

/* Settles t by a code check's result rc (1 right, 0 wrong, else no
 * verdict): a wrong code is counted and logged like a failed sign-in. */
static void code_settle(struct http_ctx *x, struct login_ticket *t, int rc)
{
	if (rc == 1)
		http_login_ok(x, t);
	else if (rc == 0)
		http_login_failed(x, t, "totp");
	else
		login_settle_cancel(t);
}

/* The owner's current password (the body's "password") checked under
 * t, as a sign-in checks it: 0 when right (t still open, for the code);
 * else the problem is written, t is settled and -1 returned. */
static int password_check(struct http_ctx *x, uint32_t owner, struct login_ticket *t)
{
	const char *pw = http_body_str(x, "password");
	int ok;

	http_hash_enter();
	if (owner == STORE_TOTP_ADMIN)
		ok = admin_exists(http_store) &&
		     admin_password_check(http_store, http_env_admin_hash, pw) == 1;
	else
		ok = store_account_check_password(http_store, x->account_email, pw);
	http_hash_leave();
	if (ok == 1)
		return 0;
	if (ok == 0) {
		http_login_failed(x, t, "totp_password");
		http_problem(x, 400, "wrong_password", "password", "the password is wrong");
	} else {
		login_settle_cancel(t);
		http_problem(x, 503, "temporary", NULL, "store error, try again");
	}
	return -1;
}

static void totp_confirm(struct http_ctx *x, uint32_t owner)
{
	static const struct json_field f[] = { { "code", JK_STRING, 1 }, { "password", JK_STRING, 1 } };
	twofactor_codes codes;
	struct login_ticket t;
	struct jw w;

	if (http_body_check(x, f, 2) < 0 || http_login_admit(x, limit_name(x, owner), &t) < 0 ||
	    password_check(x, owner, &t) < 0)
		return;
	int rc = twofactor_confirm(http_store, http_cfg->data_dir, owner, http_body_str(x, "code"),
				   (int64_t)time(NULL), codes);
	code_settle(x, &t, rc);
	if (rc == 0) {
		http_problem(x, 400, "wrong_code", "code", "that code does not match; check the phone's clock");
		return;
	}
	if (rc == STORE_EEXIST || rc == STORE_ENOTFOUND) {
		http_problem(x, 409, rc == STORE_EEXIST ? "exists" : "not_started", NULL,
			     rc == STORE_EEXIST ? "two-factor sign-in is on already"
						: "start the enrolment first");
		return;
	}
	if (rc != 1) {
		http_store_problem(x, rc, "store error, see the log");
		return;
	}
	log_info("http", NULL, "event=totp_on owner=%u ip=%s", owner, x->ip);
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "recovery_codes");
	jw_arr_begin(&w);
	for (int i = 0; i < STORE_TOTP_RECOVERY; i++)
		jw_str(&w, codes[i]);
	jw_arr_end(&w);
	jw_obj_end(&w);
	explicit_bzero(codes, sizeof codes);
}

static void totp_disable(struct http_ctx *x, uint32_t owner)
{
	static const struct json_field f[] = { { "code", JK_STRING, 1 }, { "password", JK_STRING, 1 } };
	struct login_ticket t;

	if (http_body_check(x, f, 2) < 0 || http_login_admit(x, limit_name(x, owner), &t) < 0 ||
	    password_check(x, owner, &t) < 0)
		return;
	int rc = twofactor_disable(http_store, http_cfg->data_dir, owner, http_body_str(x, "code"),
				   (int64_t)time(NULL));
	code_settle(x, &t, rc);
	if (rc == 0) {
		http_problem(x, 400, "wrong_code", "code", "wrong or already used code");
		return;
	}
	if (rc != 1) {
		http_store_problem(x, rc, "store error, see the log");
		return;
	}
	log_info("http", NULL, "event=totp_off owner=%u ip=%s", owner, x->ip);
	http_no_content(x);
}

void api_admin_totp_get(struct http_ctx *x)
{
	totp_get(x, STORE_TOTP_ADMIN);
}

void api_admin_totp_begin(struct http_ctx *x)
{
	totp_begin(x, STORE_TOTP_ADMIN, "admin");
}

void api_admin_totp_confirm(struct http_ctx *x)
{
	totp_confirm(x, STORE_TOTP_ADMIN);
	/* Other admin sessions, signed in without a code, end
	 * (api_session.c); this one goes on. */
	if (x->status == 200)
		http_admin_session_refresh(x);
}

void api_admin_totp_disable(struct http_ctx *x)
{
	totp_disable(x, STORE_TOTP_ADMIN);
}

void api_me_totp_get(struct http_ctx *x)
{
	totp_get(x, x->account);
}

void api_me_totp_begin(struct http_ctx *x)
{
	totp_begin(x, x->account, x->account_email);
}

void api_me_totp_confirm(struct http_ctx *x)
{
	totp_confirm(x, x->account);
	/* The stamp changed: other portal sessions, signed in without a
	 * code, end; this one goes on. */
	if (x->status == 200)
		http_user_session_refresh(x);
}

void api_me_totp_disable(struct http_ctx *x)
{
	totp_disable(x, x->account);
	if (x->status == 204)
		http_user_session_refresh(x);
}

void api_account_totp_reset(struct http_ctx *x)
{
	uint32_t id;
	if (store_account_id(http_store, x->param[0], &id) != STORE_OK) {
		http_problem(x, 404, "not_found", NULL, "no account %.100s", x->param[0]);
		return;
	}
	int rc = twofactor_reset(http_store, id);
	if (rc != STORE_OK) {
		http_store_problem(x, rc, rc == STORE_ENOTFOUND ? "two-factor sign-in is off" : "store error");
		return;
	}
	log_info("http", NULL, "event=totp_reset account_id=%u ip=%s", id, x->ip);
	http_no_content(x);
}
