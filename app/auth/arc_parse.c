/*
 * arc_parse.c — the ARC header fields (RFC 8617 §4.1): which field a
 * header is, its instance, the ARC-Seal's tags, and a reader of the
 * Authentication-Results payload an AAR carries (RFC 8601 §2.2).
 *
 * The AMS is parsed by DKIM (dkim_sig_parse_ex with DKIM_SIG_ARC) and the
 * AS with DKIM's tag-list parser: one parser of tag lists in the tree.
 * The Authentication-Results reader only answers "what did method M
 * give", which is all a trusted-sealer decision needs; it does not
 * validate properties.
 */
#include <string.h>

#include "auth/arc.h"

const char *arc_cv_name(enum arc_cv cv)
{
	switch (cv) {
	case ARC_CV_NONE:
		return "none";
	case ARC_CV_PASS:
		return "pass";
	case ARC_CV_FAIL:
		return "fail";
	}
	return "fail";
}

enum arc_field arc_field_kind(struct str field)
{
	struct str name = dkim_field_name(field);

	if (name.p == NULL || !str_has_prefix_ci(name, "arc-"))
		return ARC_F_NONE;
	if (str_eq_ci_c(name, "arc-seal"))
		return ARC_F_AS;
	if (str_eq_ci_c(name, "arc-message-signature"))
		return ARC_F_AMS;
	if (str_eq_ci_c(name, "arc-authentication-results"))
		return ARC_F_AAR;
	return ARC_F_NONE;
}

/* Decimal 1..999999999 without a leading zero; 0 when not. */
static unsigned number(struct str s)
{
	uint64_t v;
	if (s.len == 0 || s.len > 9 || s.p[0] == '0' || str_to_u64(s, 999999999, &v) != 0)
		return 0;
	return (unsigned)v;
}

/* ---- CFWS (RFC 5322 §3.2.2) ---- */

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips white space and comments (nested up to a depth); returns the new
 * position, or NULL on an unclosed comment. */
static const char *skip_cfws(const char *p, const char *end)
{
	for (;;) {
		while (p < end && is_ws(*p))
			p++;
		if (p == end || *p != '(')
			return p;
		unsigned depth = 0;
		do {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '(') {
				if (++depth > 64)
					return NULL;
			} else if (*p == ')')
				depth--;
			p++;
		} while (p < end && depth > 0);
		if (depth > 0)
			return NULL;
	}
}

/* The "i=N" then ";" an AAR starts with: N, and *rest_r after the ";". */
static unsigned aar_instance(struct str value, const char **rest_r)
{
	const char *p = value.p, *end = value.p + value.len;

	if ((p = skip_cfws(p, end)) == NULL || p == end || (*p != 'i' && *p != 'I'))
		return 0;
	p++;
	if ((p = skip_cfws(p, end)) == NULL || p == end || *p != '=')
		return 0;
	p++;
	if ((p = skip_cfws(p, end)) == NULL)
		return 0;
	const char *d = p;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	unsigned n = number(str_make(d, (size_t)(p - d)));
	if ((p = skip_cfws(p, end)) == NULL || p == end || *p != ';')
		return 0;
	*rest_r = p + 1;
	return n;
}

static const struct str *tag_get(const struct dkim_tag *tags, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (tags[i].name.len == strlen(name) &&
		    memcmp(tags[i].name.p, name, tags[i].name.len) == 0)
			return &tags[i].value;
	return NULL;
}

unsigned arc_instance(enum arc_field kind, struct str value)
{
	struct dkim_tag tags[DKIM_TAGS_MAX];
	const char *why, *rest;
	const struct str *t;

	if (kind == ARC_F_AAR)
		return aar_instance(value, &rest);
	if (kind != ARC_F_AMS && kind != ARC_F_AS)
		return 0;
	int n = dkim_tags_parse(value, tags, DKIM_TAGS_MAX, &why);
	if (n < 0 || (t = tag_get(tags, n, "i")) == NULL)
		return 0;
	return number(*t);
}

struct str arc_aar_payload(struct str value)
{
	const char *rest;

	if (aar_instance(value, &rest) == 0)
		return (struct str){NULL, 0};
	const char *end = value.p + value.len;
	while (rest < end && is_ws(*rest))
		rest++;
	while (end > rest && is_ws(end[-1]))
		end--;
	return str_make(rest, (size_t)(end - rest));
}

/* ---- ARC-Seal ---- */

int arc_seal_parse(struct str value, struct arc_seal_sig *as, const char **why_r)
{
	struct dkim_tag tags[DKIM_TAGS_MAX];
	const struct str *t;

	memset(as, 0, sizeof *as);
	int n = dkim_tags_parse(value, tags, DKIM_TAGS_MAX, why_r);
	if (n < 0)
		return -1;
	/* d= and s= as DKIM's (§4.1.3), U-labels too (RFC 8616 §5). */
	if ((t = tag_get(tags, n, "d")) == NULL || dkim_tag_name(*t, 1, as->d, sizeof as->d) != 0 ||
	    !dkim_domain_ok(as->d)) {
		as->d[0] = '\0';
		*why_r = "missing or bad d=";
		return -1;
	}
	if ((t = tag_get(tags, n, "s")) == NULL || dkim_tag_name(*t, 0, as->s, sizeof as->s) != 0 ||
	    !dkim_sig_selector_ok(as->s, as->d)) {
		as->s[0] = '\0';
		*why_r = "missing or bad s=";
		return -1;
	}
	if ((t = tag_get(tags, n, "i")) == NULL || (as->instance = number(*t)) == 0) {
		*why_r = "missing or bad instance i=";
		return -1;
	}
	if (tag_get(tags, n, "h") != NULL) {
		*why_r = "h= in an ARC-Seal (RFC 8617 §4.1.3)";
		return -1;
	}
	if ((t = tag_get(tags, n, "cv")) == NULL) {
		*why_r = "missing cv=";
		return -1;
	}
	if (str_eq_ci_c(*t, "none"))
		as->cv = ARC_CV_NONE;
	else if (str_eq_ci_c(*t, "pass"))
		as->cv = ARC_CV_PASS;
	else if (str_eq_ci_c(*t, "fail"))
		as->cv = ARC_CV_FAIL;
	else {
		*why_r = "bad cv=";
		return -1;
	}
	if ((t = tag_get(tags, n, "a")) == NULL) {
		*why_r = "missing a=";
		return -1;
	}
	if (str_eq(*t, str_c("rsa-sha256")))
		as->alg = DKIM_ALG_RSA_SHA256;
	else if (str_eq(*t, str_c("ed25519-sha256")))
		as->alg = DKIM_ALG_ED25519_SHA256;
	else if (str_eq(*t, str_c("rsa-sha1"))) {
		/* Known, but refused (as the AMS's): say so, not "unknown". */
		*why_r = "rsa-sha1 is not accepted (RFC 8301)";
		return -1;
	} else {
		*why_r = "unknown algorithm a=";
		return -1;
	}
	if ((t = tag_get(tags, n, "t")) != NULL) {
		uint64_t v;
		if (t->len > 12 || str_to_u64(*t, UINT64_MAX, &v) != 0) {
			*why_r = "bad t=";
			return -1;
		}
		as->t = (int64_t)v;
		as->has_t = 1;
	}
	if ((t = tag_get(tags, n, "b")) == NULL ||
	    dkim_b64(*t, as->b, sizeof as->b, &as->blen) != 0) {
		*why_r = "missing or bad b=";
		return -1;
	}
	return 0;
}

/* ---- Authentication-Results payload (RFC 8601 §2.2) ---- */

static int is_keychar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* A token (RFC 2045 tspecials excluded) or a quoted-string at p; returns
 * the position after it (and the value without quotes), NULL when none. */
static const char *value_at(const char *p, const char *end, struct str *v_r)
{
	const char *s = p;

	if (p < end && *p == '"') {
		p++;
		while (p < end && *p != '"') {
			if (*p == '\\' && p + 1 < end)
				p++;
			p++;
		}
		if (p == end)
			return NULL;
		*v_r = str_make(s + 1, (size_t)(p - s - 1));
		return p + 1;
	}
	while (p < end && (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f &&
	       strchr("()<>@,;:\\\"/[]?=", *p) == NULL)
		p++;
	*v_r = str_make(s, (size_t)(p - s));
	return p > s ? p : NULL;
}

static const char *keyword_at(const char *p, const char *end, struct str *k_r)
{
	const char *s = p;
	while (p < end && is_keychar(*p))
		p++;
	*k_r = str_make(s, (size_t)(p - s));
	return p > s ? p : NULL;
}

static void copy_lower(struct str s, char *dst, size_t dstsz)
{
	if (dst == NULL || dstsz == 0)
		return;
	if (s.len >= dstsz)
		s.len = dstsz - 1;
	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];
		dst[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	dst[s.len] = '\0';
}

/* Skips the rest of a resinfo (reason, properties) up to the next ";" not
 * inside a comment or quoted-string; returns that position or end. */
static const char *skip_to_semicolon(const char *p, const char *end)
{
	while (p < end && *p != ';') {
		if (*p == '(') {
			if ((p = skip_cfws(p, end)) == NULL)
				return NULL;
			continue;
		}
		if (*p == '"') {
			struct str v;
			if ((p = value_at(p, end, &v)) == NULL)
				return NULL;
			continue;
		}
		p++;
	}
	return p;
}

/* A propspec's pvalue at p (RFC 8601 §2.2: a value, or an address or
 * domain, with the local part and "@" then dropped); NULL when none. */
static const char *pvalue_at(const char *p, const char *end, struct str *v_r)
{
	if (p < end && *p == '"')
		return value_at(p, end, v_r);
	const char *s = p;
	while (p < end && (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f && *p != ';' &&
	       *p != '(')
		p++;
	if (p == s)
		return NULL;
	*v_r = str_make(s, (size_t)(p - s));
	ptrdiff_t at = str_rchr(*v_r, '@');
	if (at >= 0)
		*v_r = str_make(s + at + 1, v_r->len - (size_t)at - 1);
	return p;
}

/* After a resinfo's result: the value of property prop ("header.from")
 * into prop_r, if there; returns the position of the next ";" or end
 * (NULL when none). What is not a propspec is skipped as before, and
 * properties after it are not read. */
static const char *resinfo_props(const char *p, const char *end, const char *prop, char *prop_r,
                                 size_t prop_sz)
{
	struct str t, name, v;

	while ((p = skip_cfws(p, end)) != NULL && p < end && *p != ';') {
		const char *s = p;
		if ((p = keyword_at(p, end, &t)) == NULL)
			return skip_to_semicolon(s, end);
		name = t; /* a reasonspec or a bare name: "reason=", "action=" */
		if (p < end && *p == '.') {
			if ((p = keyword_at(p + 1, end, &name)) == NULL)
				return skip_to_semicolon(s, end);
			name = str_make(s, (size_t)(p - s));
		}
		if ((p = skip_cfws(p, end)) == NULL || p == end || *p != '=' ||
		    (p = skip_cfws(p + 1, end)) == NULL || (p = pvalue_at(p, end, &v)) == NULL)
			return skip_to_semicolon(s, end);
		if (prop && str_eq_ci_c(name, prop))
			copy_lower(v, prop_r, prop_sz);
	}
	return p;
}

static int lookup(struct str payload, const char *method, char *authserv_r, size_t authserv_sz,
                  char *result_r, size_t result_sz, const char *prop, char *prop_r, size_t prop_sz)
{
	const char *p = payload.p, *end = payload.p + payload.len;
	struct str v, m, r;
	int found = 0, nres = 0;

	if ((p = skip_cfws(p, end)) == NULL || (p = value_at(p, end, &v)) == NULL)
		return -1;
	copy_lower(v, authserv_r, authserv_sz);
	if ((p = skip_cfws(p, end)) == NULL)
		return -1;
	if (p < end && *p >= '0' && *p <= '9') { /* authres-version */
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if ((p = skip_cfws(p, end)) == NULL)
			return -1;
	}
	while (p < end) {
		if (*p != ';')
			return -1;
		p++;
		if ((p = skip_cfws(p, end)) == NULL)
			return -1;
		if (p == end)
			break; /* a final ";" */
		if ((p = keyword_at(p, end, &m)) == NULL || (p = skip_cfws(p, end)) == NULL)
			return -1;
		if (nres == 0 && str_eq_ci_c(m, "none") && (p == end || *p == ';'))
			continue;           /* no-result */
		if (p < end && *p == '/') { /* method-version */
			p++;
			if ((p = skip_cfws(p, end)) == NULL ||
			    (p = keyword_at(p, end, &v)) == NULL || (p = skip_cfws(p, end)) == NULL)
				return -1;
		}
		if (p == end || *p != '=')
			return -1;
		p++;
		if ((p = skip_cfws(p, end)) == NULL || (p = keyword_at(p, end, &r)) == NULL)
			return -1;
		nres++;
		if (!found && str_eq_ci_c(m, method)) {
			copy_lower(r, result_r, result_sz);
			found = 1;
			if ((p = resinfo_props(p, end, prop, prop_r, prop_sz)) == NULL)
				return -1;
			continue;
		}
		if ((p = skip_to_semicolon(p, end)) == NULL)
			return -1;
	}
	return found;
}

int arc_authres_lookup(struct str payload, const char *method, char *authserv_r, size_t authserv_sz,
                       char *result_r, size_t result_sz)
{
	return lookup(payload, method, authserv_r, authserv_sz, result_r, result_sz, NULL, NULL, 0);
}

int arc_authres_property(struct str payload, const char *method, const char *prop, char *result_r,
                         size_t result_sz, char *value_r, size_t value_sz)
{
	if (value_sz)
		value_r[0] = '\0';
	return lookup(payload, method, NULL, 0, result_r, result_sz, prop, value_r, value_sz);
}
