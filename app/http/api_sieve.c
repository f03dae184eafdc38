/*
 * api_sieve.c — an account's Sieve scripts through the REST API, for
 * administrators: list, read, store (checked by the compiler first: a
 * script that does not compile is 400 invalid_script with the
 * compiler's "line L, column C: ..." errors, one a line), activate or
 * deactivate (an activation refused by script_check_activate, the one
 * check ManageSieve's SETACTIVE makes, is 400 invalid_script on field
 * "active"), delete (not the active one: 409 active). The same store functions ManageSieve and
 * `tern sieve` use. A request body is at most HTTP_BODY_MAX, so scripts
 * over about 60 KiB go through ManageSieve. /sieve/global... does the
 * same for the administrator's global scripts (run before every
 * account's at delivery).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "http/http_internal.h"
#include "http/json.h"
#include "sieve/script_check.h"
#include "sieve/sieve.h"
#include "store/store.h"

static void script_problem(struct http_ctx *x, int rc)
{
	switch (rc) {
	case STORE_ENOTFOUND:
		http_problem(x, 404, "not_found", NULL, "no such script");
		break;
	case STORE_EACTIVE:
		http_problem(x, 409, "active", NULL, "the script is active; deactivate it first");
		break;
	case STORE_ETOOBIG:
	case STORE_ELIMIT:
		http_problem(x, 409, "limit", NULL, "at most %d scripts of %u octets together",
			     STORE_SIEVE_SCRIPTS_MAX, (unsigned)STORE_SIEVE_BYTES_MAX);
		break;
	case STORE_EINVAL:
		http_problem(x, 400, "invalid_field", "name", "invalid script name");
		break;
	default:
		http_store_problem(x, rc, "sieve");
		break;
	}
}


static void list_cb(void *arg, const char *name, int active, size_t size)
{
	struct jw *w = arg;
	jw_obj_begin(w);
	jw_kstr(w, "name", name);
	jw_key(w, "active");
	jw_bool(w, active);
	jw_kuint(w, "size", size);
	jw_obj_end(w);
}

static void list_of(struct http_ctx *x, uint32_t id)
{
	struct jw w;
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "scripts");
	jw_arr_begin(&w);
	store_sieve_list(http_store, id, list_cb, &w);
	jw_arr_end(&w);
	jw_obj_end(&w);
}

static void answer_script(struct http_ctx *x, uint32_t id, const char *name, int status)
{
	struct buf b;
	int active = 0;
	struct jw w;
	buf_init(&b, STORE_SIEVE_BYTES_MAX);
	int rc = store_sieve_get(http_store, id, name, &b, &active);
	if (rc != STORE_OK) {
		buf_free(&b);
		script_problem(x, rc);
		return;
	}
	http_json_begin(x, &w, status);
	jw_obj_begin(&w);
	jw_kstr(&w, "name", name);
	jw_key(&w, "active");
	jw_bool(&w, active);
	jw_key(&w, "script");
	jw_strn(&w, buf_data(&b), buf_len(&b));
	jw_obj_end(&w);
	buf_free(&b);
}

/* An activation refused (script_check.h): the include that would fail
 * every delivery, or the compiler's errors; nothing was changed. */
static void refused(struct http_ctx *x, const struct script_check *c)
{
	http_problem(x, 400, "invalid_script", "active",
	             "not made active: the script would fail at every delivery: %s", c->err);
}

static void put_of(struct http_ctx *x, uint32_t id, const char *name)
{
	static const struct json_field f[] = {
		{ "script", JK_STRING, 0 },
		{ "active", JK_BOOL, 0 },
		{ "password", JK_STRING, 0 },
	};
	int rc, created = 0, active = 0;

	if (http_body_check(x, f, 3) < 0)
		return;
	const struct json_value *s = json_get(x->json, "script"), *a = json_get(x->json, "active");
	/* In NFC from here on (RFC 5804 §1.6): a decomposed name may be
	 * longer than a name buffer before it is normalised. */
	char nfc[STORE_SIEVE_NAME_MAX + 1];
	if (store_sieve_name_nfc(name, nfc) < 0) {
		script_problem(x, STORE_EINVAL);
		return;
	}
	name = nfc;
	/* The one check every activation takes (ManageSieve's SETACTIVE,
	 * JMAP, tern sieve): a script not active yet that would fail every
	 * delivery (an include of a script not there...) is refused. */
	struct script_check *chk = xmalloc(sizeof *chk);
	script_check_init(chk, http_store, id, name);
	rc = store_sieve_get(http_store, id, name, NULL, &active);
	created = rc == STORE_ENOTFOUND;
	if (s) {
		struct sieve_errors errs;
		char err[SIEVE_ERRORS_TEXT_MAX];
		struct sieve_script *sc = sieve_compile_errors(s->str, s->len, &errs);
		if (!sc) {
			http_problem(x, 400, "invalid_script", "script", "%s",
			             sieve_errors_format(&errs, "\n", err, sizeof err));
			goto out;
		}
		/* A redirect (or a notify) is forwarding by another road: with
		 * a session (the portal's, or the admin's here and on the
		 * global scripts) it takes the current password as forwarding
		 * does (api_forward.c), or a stolen session cookie would keep
		 * receiving the mail after the password changed. */
		int out = sieve_script_sends_out(sc);
		sieve_script_free(&sc);
		if (out && http_session_password_check(x, "password") < 0)
			goto out;
		/* stored and activated at once: refused before it is stored */
		if (a && a->boolean && !active) {
			chk->activating = 1;
			script_check_text(chk, s->str, s->len);
			if (chk->invalid) {
				refused(x, chk);
				goto out;
			}
		}
		rc = store_sieve_put(http_store, id, name, s->str, s->len, (int64_t)time(NULL));
		if (rc != STORE_OK) {
			script_problem(x, rc);
			goto out;
		}
	}
	if (a) {
		rc = store_sieve_get(http_store, id, name, NULL, &active);
		if (rc == STORE_OK && a->boolean)
			rc = script_check_activate(chk);
		else if (rc == STORE_OK && active)
			rc = store_sieve_activate(http_store, id, NULL);
		if (rc != STORE_OK) {
			script_problem(x, rc);
			goto out;
		}
		if (chk->invalid) {
			refused(x, chk);
			goto out;
		}
	}
	log_info("http", NULL, "event=sieve_script_stored ip=%s%s", x->ip,
		 id == STORE_SIEVE_GLOBAL ? " global=1" : "");
	answer_script(x, id, name, created ? 201 : 200);
out:
	free(chk);
}

static void del_of(struct http_ctx *x, uint32_t id, const char *name)
{
	int rc = store_sieve_del(http_store, id, name);
	if (rc != STORE_OK) {
		script_problem(x, rc);
		return;
	}
	http_no_content(x);
}

void api_sieve_list(struct http_ctx *x)
{
	uint32_t id;
	if (http_account_param(x, &id) == 0)
		list_of(x, id);
}

void api_sieve_get(struct http_ctx *x)
{
	uint32_t id;
	if (http_account_param(x, &id) == 0)
		answer_script(x, id, x->param[1], 200);
}

void api_sieve_put(struct http_ctx *x)
{
	uint32_t id;
	if (http_account_param(x, &id) == 0)
		put_of(x, id, x->param[1]);
}

void api_sieve_del(struct http_ctx *x)
{
	uint32_t id;
	if (http_account_param(x, &id) == 0)
		del_of(x, id, x->param[1]);
}

/* The administrator's global scripts (store.h STORE_SIEVE_GLOBAL): the
 * same operations, the script's name the route's only parameter. */
void api_sieve_global_list(struct http_ctx *x)
{
	list_of(x, STORE_SIEVE_GLOBAL);
}

void api_sieve_global_get(struct http_ctx *x)
{
	answer_script(x, STORE_SIEVE_GLOBAL, x->param[0], 200);
}

void api_sieve_global_put(struct http_ctx *x)
{
	put_of(x, STORE_SIEVE_GLOBAL, x->param[0]);
}

void api_sieve_global_del(struct http_ctx *x)
{
	del_of(x, STORE_SIEVE_GLOBAL, x->param[0]);
}
