/*
 * http_resp.c — building responses: JSON bodies, RFC 9457 problems, text,
 * headers; reading query parameters, request headers and JSON bodies.
 */
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "auth/password_policy.h"
#include "core/arena.h"
#include "core/utf8.h"
#include "http/http_internal.h"
#include "store/store.h"

void http_header(struct http_ctx *x, const char *name, const char *value)
{
	if (x->nheaders < HTTP_HEADERS_MAX) {
		x->hname[x->nheaders] = name;
		x->hvalue[x->nheaders] = value;
		x->nheaders++;
	}
}

void http_json_begin(struct http_ctx *x, struct jw *w, int status)
{
	buf_reset(&x->out);
	x->status = status;
	x->type = "application/json";
	http_header(x, "Cache-Control", "no-store");
	jw_init(w, &x->out);
}

static const char *reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	default: return "Error";
	}
}

/*
 * The challenge a 401 carries (RFC 9110 §15.5.2: it MUST, with one that
 * applies to the target), by how one signs in there: JMAP takes Basic
 * (and its tokens as Bearer), the account portal only the session cookie
 * its sign-in form sets (the "Cookie" scheme of the HTTP cookie
 * authentication draft, which no client mistakes for a password prompt),
 * the admin API a bearer token (or the admin's session).
 */
static const char *challenge(const struct http_ctx *x)
{
	const char *p = x->path ? x->path : "";

	if (strncmp(p, "/jmap/", 6) == 0 || strcmp(p, "/.well-known/jmap") == 0)
		return "Basic realm=\"tern\", charset=\"UTF-8\"";
	if (strcmp(p, "/api/v1/me") == 0 || strncmp(p, "/api/v1/me/", 11) == 0)
		return "Cookie realm=\"tern-account\", form-action=\"/api/v1/me/session\", "
		       "cookie-name=\"" HTTP_COOKIE_ACCOUNT "\"";
	return "Bearer realm=\"tern\"";
}

void http_problem(struct http_ctx *x, int status, const char *code, const char *field,
		  const char *fmt, ...)
{
	char detail[512];
	struct jw w;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	x->nheaders = 0;
	http_json_begin(x, &w, status);
	x->type = "application/problem+json";
	if (status == 401)
		http_header(x, "WWW-Authenticate", challenge(x));
	jw_obj_begin(&w);
	jw_kstr(&w, "type", "about:blank");
	jw_kstr(&w, "title", reason(status));
	jw_kint(&w, "status", status);
	jw_kstr(&w, "detail", detail);
	jw_kstr(&w, "code", code);
	if (field)
		jw_kstr(&w, "field", field);
	jw_obj_end(&w);
}

void http_text(struct http_ctx *x, int status, const char *type, const char *text)
{
	buf_reset(&x->out);
	buf_append_c(&x->out, text);
	x->status = status;
	x->type = type;
}

void http_no_content(struct http_ctx *x)
{
	buf_reset(&x->out);
	x->status = 204;
	x->type = NULL;
	http_header(x, "Cache-Control", "no-store");
}

const char *http_query(struct http_ctx *x, const char *name)
{
	return MHD_lookup_connection_value(x->mc, MHD_GET_ARGUMENT_KIND, name);
}

int http_decimal(const char *s, uint64_t min, uint64_t max, uint64_t *v_r)
{
	uint64_t v;
	/* One canonical spelling per number: "05" is not 5, as a cursor or
	 * an id compared as text elsewhere would not be either. */
	if (!s || (s[0] == '0' && s[1]) || str_to_u64(str_c(s), max, &v) < 0 || v < min)
		return -1;
	*v_r = v;
	return 0;
}

int http_query_u64(struct http_ctx *x, const char *name, uint64_t min, uint64_t max,
		   uint64_t *v_r)
{
	const char *q = http_query(x, name);
	if (!q)
		return 0;
	if (http_decimal(q, min, max, v_r) < 0) {
		http_problem(x, 400, "invalid_field", name, "%s must be a whole number from %llu to %llu",
			     name, (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	return 1;
}

int http_page_args(struct http_ctx *x, struct http_page *pg)
{
	const char *after = http_query(x, "after");

	pg->limit = HTTP_PAGE_MAX;
	pg->after = NULL;
	if (http_query_u64(x, "limit", 1, HTTP_PAGE_MAX, &pg->limit) < 0)
		return -1;
	if (after && (!after[0] || strlen(after) > HTTP_PAGE_AFTER_MAX)) {
		http_problem(x, 400, "invalid_field", "after", "after must be the next of a page");
		return -1;
	}
	pg->after = after;
	return 0;
}

void http_page_end(struct jw *w, uint64_t total, const char *next)
{
	jw_kuint(w, "total", total);
	jw_key(w, "next");
	if (next)
		jw_str(w, next);
	else
		jw_null(w);
}

const char *http_req_header(struct http_ctx *x, const char *name)
{
	return MHD_lookup_connection_value(x->mc, MHD_HEADER_KIND, name);
}

void http_store_problem(struct http_ctx *x, int rc, const char *err)
{
	switch (rc) {
	case STORE_ENOTFOUND: http_problem(x, 404, "not_found", NULL, "%s", err); break;
	case STORE_EEXIST: http_problem(x, 409, "exists", NULL, "%s", err); break;
	case STORE_EINVAL: http_problem(x, 400, "invalid_field", NULL, "%s", err); break;
	/* RFC 4918 §11.5: the server cannot store what the request needs. */
	case STORE_EFULL:
		http_problem(x, 507, "storage_full", NULL, "%s", STORE_EFULL_TEXT);
		break;
	default: http_problem(x, 503, "temporary", NULL, "store error, try again (%s)", err); break;
	}
}

int http_body_check(struct http_ctx *x, const struct json_field *fields, size_t n)
{
	const char *field, *code;
	char detail[200];

	if (!x->json) {
		http_problem(x, 400, "bad_json", NULL, "a JSON object body is required");
		return -1;
	}
	if (json_check_object(x->json, fields, n, &field, &code, detail, sizeof(detail)) < 0) {
		http_problem(x, 400, code, field[0] ? field : NULL, "%s", detail);
		return -1;
	}
	return 0;
}

const char *http_body_str(struct http_ctx *x, const char *name)
{
	const struct json_value *v = json_get(x->json, name);
	return v && v->type == JSON_STRING ? v->str : NULL;
}

int http_password_ok(struct http_ctx *x, const char *field, const char *pw)
{
	char err[128];
	if (password_policy_check(pw, err, sizeof err) < 0) {
		http_problem(x, 400, "invalid_field", field, "field '%s': %s", field, err);
		return -1;
	}
	return 0;
}

int http_account_param(struct http_ctx *x, uint32_t *id)
{
	if (store_account_id(http_store, x->param[0], id) == STORE_OK)
		return 0;
	http_problem(x, 404, "not_found", NULL, "no account %.100s", x->param[0]);
	return -1;
}
