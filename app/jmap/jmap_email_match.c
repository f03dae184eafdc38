/*
 * jmap_email_match.c — the Email filter conditions that read a message's
 * content (RFC 8621 §4.4.1: text, from, to, cc, bcc, subject, body,
 * header, hasAttachment), judged by the matcher IMAP SEARCH uses
 * (mime/mime_search.h: case-insensitive substring on decoded UTF-8
 * header values and body text). Email/query and SearchSnippet/get both
 * come here, so a snippet highlights what the query matched.
 *
 * text looks in From, To, Cc, Bcc, Subject and the body (§4.4.1), not
 * in every header field as IMAP's TEXT does.
 */
#include <string.h>

#include "core/arena.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_email_match.h"
#include "jmap/jmap_private.h"
#include "mime/mime_cache.h"

void jmap_content_open(struct jmap_content *ct, struct arena *a, const void *meta, size_t metalen,
		       const char *data, size_t len, int keep)
{
	ct->a = a;
	ct->data = data;
	ct->len = len;
	mime_cache_load(meta, metalen, data, len, a, &ct->t);
	mime_search_init(&ct->ms, data, len, &ct->t);
	ct->ms.keep = keep;
}

void jmap_content_close(struct jmap_content *ct)
{
	mime_search_clear(&ct->ms);
}

static const char *const content_keys[] = {"text", "from", "to", "cc", "bcc", "subject", "body",
					   "header", "hasAttachment"};

int jmap_cond_is_content(const char *key)
{
	for (size_t i = 0; i < sizeof content_keys / sizeof content_keys[0]; i++)
		if (!strcmp(key, content_keys[i]))
			return 1;
	return 0;
}

int jmap_filter_needs_content(const struct json_value *f, int depth)
{
	if (!f || f->type != JSON_OBJECT || depth > JMAP_FILTER_DEPTH)
		return 0;
	const struct json_value *conds = json_get(f, "conditions");
	if (json_get(f, "operator") && conds && conds->type == JSON_ARRAY) {
		for (const struct json_value *e = conds->first; e; e = e->next)
			if (jmap_filter_needs_content(e, depth + 1))
				return 1;
		return 0;
	}
	for (const struct json_value *p = f->first; p; p = p->next)
		if (jmap_cond_is_content(p->key))
			return 1;
	return 0;
}

struct str jmap_needle(struct arena *a, const char *s, size_t n)
{
	char *f = arena_alloc(a, MIME_SEARCH_FOLD_ROOM(n));
	memcpy(f, s, n);
	n = mime_search_fold(f, n);
	f[n] = '\0';
	return str_make(f, n);
}

static int header_has(struct jmap_content *ct, const char *name, struct str needle)
{
	return mime_search_header(&ct->ms, str_c(name), needle);
}

int jmap_cond_content(struct jmap_call *c, const char *key, const struct json_value *v,
		      struct jmap_content *ct)
{
	if (!strcmp(key, "hasAttachment")) {
		if (v->type != JSON_BOOL)
			goto bad;
		return ct && jmap_has_attachment(&ct->t) == v->boolean;
	}
	if (!strcmp(key, "header")) {
		const struct json_value *n = v->first, *val = n ? n->next : NULL;
		if (v->type != JSON_ARRAY || v->count < 1 || v->count > 2 || n->type != JSON_STRING ||
		    !n->len || (val && val->type != JSON_STRING))
			goto bad;
		if (!ct)
			return 0;
		/* An empty needle: the field exists (mime_search_header). */
		struct str needle = val ? jmap_needle(ct->a, val->str, val->len) : STR_LIT("");
		return mime_search_header(&ct->ms, str_make(n->str, n->len), needle);
	}
	if (v->type != JSON_STRING)
		goto bad;
	if (!ct)
		return 0;
	struct str needle = jmap_needle(ct->a, v->str, v->len);
	if (!strcmp(key, "body"))
		return mime_search_body(&ct->ms, needle);
	if (!strcmp(key, "text"))
		return header_has(ct, "From", needle) || header_has(ct, "To", needle) ||
		       header_has(ct, "Cc", needle) || header_has(ct, "Bcc", needle) ||
		       header_has(ct, "Subject", needle) || mime_search_body(&ct->ms, needle);
	static const char *const fields[][2] = {
	    {"from", "From"}, {"to", "To"}, {"cc", "Cc"}, {"bcc", "Bcc"}, {"subject", "Subject"}};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (!strcmp(key, fields[i][0]))
			return header_has(ct, fields[i][1], needle);
	jmap_error(c, "unsupportedFilter", key);
	return -1;
bad:
	jmap_bad_arg(c, "filter", "a filter condition of the wrong type");
	return -1;
}
