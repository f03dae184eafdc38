/*
 * acme_msg.c — the CA's JSON answers to structs. See acme_msg.h.
 */
#include "acme/acme_msg.h"

#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "http/json.h"

static const struct json_value *object(const char *body, size_t len, struct arena *a)
{
	char err[64];
	const struct json_value *v = json_parse(body, len, a, err, sizeof err);
	return v != NULL && v->type == JSON_OBJECT ? v : NULL;
}

static int copy_str(const struct json_value *o, const char *key, char *dst, size_t dstsz)
{
	const struct json_value *v = o && o->type == JSON_OBJECT ? json_get(o, key) : NULL;
	dst[0] = '\0';
	if (v == NULL || v->type != JSON_STRING || v->len >= dstsz || v->len != strlen(v->str))
		return -1;
	memcpy(dst, v->str, v->len + 1);
	return 0;
}

/* The length of s[0..len) cut to at most max octets at a UTF-8
 * character's start (never inside one). */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n = len < max ? len : max;
	while (n > 0 && n < len && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* As copy_str, but a string longer than dst is cut to fit (utf8_cut)
 * instead of refused: a CA's detail ("During secondary validation:
 * ADDRESS: Fetching URL: ...") runs long, and the start of it says more
 * to the operator than nothing. */
static int copy_str_cut(const struct json_value *o, const char *key, char *dst, size_t dstsz)
{
	const struct json_value *v = o && o->type == JSON_OBJECT ? json_get(o, key) : NULL;
	dst[0] = '\0';
	if (v == NULL || v->type != JSON_STRING || v->len != strlen(v->str))
		return -1;
	size_t n = utf8_cut(v->str, v->len, dstsz - 1);
	memcpy(dst, v->str, n);
	dst[n] = '\0';
	return 0;
}

int acme_msg_directory(const char *body, size_t len, struct acme_dir *d)
{
	struct arena *a = arena_new(0);
	const struct json_value *v = object(body, len, a);
	int rc = -1;

	memset(d, 0, sizeof *d);
	if (v != NULL && copy_str(v, "newNonce", d->new_nonce, sizeof d->new_nonce) == 0 &&
	    copy_str(v, "newAccount", d->new_account, sizeof d->new_account) == 0 &&
	    copy_str(v, "newOrder", d->new_order, sizeof d->new_order) == 0) {
		copy_str(v, "renewalInfo", d->renewal_info, sizeof d->renewal_info);
		const struct json_value *m = json_get(v, "meta");
		const struct json_value *e =
		    m && m->type == JSON_OBJECT ? json_get(m, "externalAccountRequired") : NULL;
		d->eab_required = e && e->type == JSON_BOOL && e->boolean;
		rc = 0;
	}
	arena_free(&a);
	return rc;
}

static const char problem_prefix[] = "urn:ietf:params:acme:error:";

/* A problem document's type (without the ACME prefix) and detail, as
 * "type: detail", or either alone; "" when it has neither. */
static void problem_text(const struct json_value *p, char *out, size_t outsz)
{
	char t[256], d[400];

	out[0] = '\0';
	if (p == NULL || p->type != JSON_OBJECT)
		return;
	copy_str(p, "type", t, sizeof t);
	copy_str_cut(p, "detail", d, sizeof d);
	const char *ts = strncmp(t, problem_prefix, sizeof problem_prefix - 1) == 0
	                     ? t + sizeof problem_prefix - 1
	                     : t;
	const char *sep = ts[0] && d[0] ? ": " : "";
	size_t head = strlen(ts) + strlen(sep);
	if (head >= outsz) {
		out[0] = '\0';
		return;
	}
	/* The detail cut to the room left, not inside a character. */
	d[utf8_cut(d, strlen(d), outsz - 1 - head)] = '\0';
	snprintf(out, outsz, "%s%s%s", ts, sep, d);
}

int acme_msg_order(const char *body, size_t len, struct acme_order *o)
{
	struct arena *a = arena_new(0);
	const struct json_value *v = object(body, len, a);
	int rc = -1;

	memset(o, 0, sizeof *o);
	if (v != NULL && copy_str(v, "status", o->status, sizeof o->status) == 0 &&
	    copy_str(v, "finalize", o->finalize, sizeof o->finalize) == 0) {
		copy_str(v, "certificate", o->certificate, sizeof o->certificate);
		problem_text(json_get(v, "error"), o->error, sizeof o->error);
		const struct json_value *az = json_get(v, "authorizations");
		for (const struct json_value *c = az && az->type == JSON_ARRAY ? az->first : NULL;
		     c != NULL && o->nauthz < ACME_NAMES_MAX; c = c->next) {
			if (c->type == JSON_STRING && c->len < sizeof o->authz[0] &&
			    c->len == strlen(c->str))
				memcpy(o->authz[o->nauthz++], c->str, c->len + 1);
		}
		rc = 0;
	}
	arena_free(&a);
	return rc;
}

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int acme_msg_authz(const char *body, size_t len, const char *want, struct acme_authz *z)
{
	struct arena *a = arena_new(0);
	const struct json_value *v = object(body, len, a);
	int rc = -1;

	memset(z, 0, sizeof *z);
	if (v != NULL && copy_str(v, "status", z->status, sizeof z->status) == 0 &&
	    copy_str(json_get(v, "identifier"), "value", z->name, sizeof z->name) == 0) {
		const struct json_value *cs = json_get(v, "challenges");
		int own_error = 0; /* z->error is the wanted challenge's */
		for (const struct json_value *c = cs && cs->type == JSON_ARRAY ? cs->first : NULL; c;
		     c = c->next) {
			char type[32];
			if (c->type != JSON_OBJECT)
				continue;
			int wanted = copy_str(c, "type", type, sizeof type) == 0 && strcmp(type, want) == 0;
			/* RFC 8555 §8: the error of the challenge we answered says
			 * why the name failed ("caa: ...", "connection: ..."); another
			 * challenge's only when it has none. */
			const struct json_value *e = json_get(c, "error");
			if (e && !own_error && (wanted || z->error[0] == '\0')) {
				problem_text(e, z->error, sizeof z->error);
				own_error = wanted && z->error[0];
			}
			if (!wanted)
				continue;
			copy_str(c, "url", z->chall_url, sizeof z->chall_url);
			/* RFC 8555 §8.1: base64url; it goes into a URL path and a digest. */
			if (copy_str(c, "token", z->token, sizeof z->token) == 0 &&
			    (z->token[0] == '\0' || strspn(z->token, B64URL) != strlen(z->token)))
				z->token[0] = '\0';
		}
		rc = 0;
	}
	arena_free(&a);
	return rc;
}

void acme_msg_problem(const char *body, size_t len, char *type, size_t typesz, char *detail,
                      size_t detailsz)
{
	struct arena *a = arena_new(0);
	const struct json_value *v = object(body, len, a);
	static const char prefix[] = "urn:ietf:params:acme:error:";
	char t[256];

	type[0] = '\0';
	detail[0] = '\0';
	if (v != NULL) {
		if (copy_str(v, "type", t, sizeof t) == 0) {
			const char *s = strncmp(t, prefix, sizeof prefix - 1) == 0 ? t + sizeof prefix - 1 : t;
			size_t n = strlen(s) < typesz ? strlen(s) : typesz - 1;
			memcpy(type, s, n);
			type[n] = '\0';
		}
		copy_str_cut(v, "detail", detail, detailsz);
	}
	arena_free(&a);
}

void acme_msg_problem_instance(const char *body, size_t len, char *out, size_t outsz)
{
	struct arena *a = arena_new(0);
	const struct json_value *v = object(body, len, a);
	out[0] = '\0';
	if (v == NULL || copy_str(v, "instance", out, outsz) != 0)
		out[0] = '\0';
	arena_free(&a);
}
