/*
 * dkim_tags.c — the tag-list parser (RFC 6376 §3.2) and what is built on
 * it: the DKIM-Signature field (§3.5) and the key record (§3.6.1).
 *
 * Strict on purpose: a signature is an assertion of responsibility, and a
 * parser that guesses at a malformed one would let a forger choose which
 * reading we verify. What the RFC allows is taken (folds anywhere FWS is
 * allowed, a final ";", unknown tags), anything else is refused. The one
 * widening is octets over 0x7F in values: RFC 8616 §5 lets the signature
 * of an internationalized message write d=, s= and i= in UTF-8 (U-labels,
 * a UTF-8 local part); dkim_tag_name turns such names into A-labels.
 */
#include <string.h>

#include "auth/alabels.h"
#include "core/base64.h"
#include "dkim/dkim_verify.h"

static int is_alpha(unsigned char c)
{
	return (c | 32) >= 'a' && (c | 32) <= 'z';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* VALCHAR, widened to UTF-8 octets (see the top). */
static int is_valchar(unsigned char c)
{
	return c >= 0x21 && c != ';' && c != 0x7f;
}

/*
 * Length of the FWS at p (0 when none). A line break counts only as part
 * of a fold, followed by WSP; a bare LF is taken as CRLF (stored mail). A
 * break not followed by WSP returns (size_t)-1: the field was not split
 * the way a header section is, so the text is not what was signed.
 */
static size_t fws(const char *p, const char *end)
{
	const char *s = p;

	for (;;) {
		while (s < end && is_wsp((unsigned char)*s))
			s++;
		size_t lb = 0;
		if (s < end && *s == '\n')
			lb = 1;
		else if (end - s >= 2 && s[0] == '\r' && s[1] == '\n')
			lb = 2;
		else if (s < end && *s == '\r')
			return (size_t)-1;
		if (lb == 0)
			return (size_t)(s - p);
		if (s + lb >= end || !is_wsp((unsigned char)s[lb]))
			return (size_t)-1;
		s += lb;
	}
}

int dkim_tags_parse(struct str text, struct dkim_tag *tags, size_t max, const char **why_r)
{
	const char *p = text.p, *end = text.p + text.len;
	size_t n = 0, w;

	if (max > DKIM_TAGS_MAX)
		max = DKIM_TAGS_MAX;
	for (;;) {
		if ((w = fws(p, end)) == (size_t)-1)
			goto bad_fold;
		p += w;
		if (p == end) {
			/* The end right after ";" is allowed, not an empty list. */
			if (n == 0) {
				*why_r = "empty tag list";
				return -1;
			}
			return (int)n;
		}
		const char *name = p;
		if (!is_alpha((unsigned char)*p)) {
			*why_r = "bad tag name";
			return -1;
		}
		while (p < end && (is_alpha((unsigned char)*p) || is_digit((unsigned char)*p) || *p == '_'))
			p++;
		struct str nm = str_make(name, (size_t)(p - name));
		if ((w = fws(p, end)) == (size_t)-1)
			goto bad_fold;
		p += w;
		if (p == end || *p != '=') {
			*why_r = "tag without =";
			return -1;
		}
		p++;
		if ((w = fws(p, end)) == (size_t)-1)
			goto bad_fold;
		p += w;
		/* tag-value: runs of VALCHAR, FWS only between runs. */
		const char *vstart = p, *vend = p;
		for (;;) {
			while (p < end && is_valchar((unsigned char)*p))
				p++;
			vend = p;
			if ((w = fws(p, end)) == (size_t)-1)
				goto bad_fold;
			if (w == 0 || p + w == end || !is_valchar((unsigned char)p[w])) {
				p += w;
				break;
			}
			p += w;
		}
		if (p < end && *p != ';') {
			*why_r = "bad character in tag value";
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			if (str_eq(tags[i].name, nm)) {
				*why_r = "duplicate tag";
				return -1;
			}
		}
		if (n == max) {
			*why_r = "too many tags";
			return -1;
		}
		tags[n].name = nm;
		tags[n].value = str_make(vstart, (size_t)(vend - vstart));
		n++;
		if (p == end)
			return (int)n;
		p++; /* the ";" */
	}
bad_fold:
	*why_r = "line break not followed by white space";
	return -1;
}

/* ---- helpers ---- */

static const struct str *tag_get(const struct dkim_tag *tags, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (tags[i].name.len == strlen(name) && memcmp(tags[i].name.p, name, tags[i].name.len) == 0)
			return &tags[i].value;
	return NULL;
}

static int is_fws_octet(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static struct str trim_fws(struct str s)
{
	while (s.len > 0 && is_fws_octet(s.p[0])) {
		s.p++;
		s.len--;
	}
	while (s.len > 0 && is_fws_octet(s.p[s.len - 1]))
		s.len--;
	return s;
}

/* Next item of a ":"-separated list, FWS trimmed; 0 at the end. */
static int list_next(struct str *rest, struct str *item_r)
{
	if (rest->p == NULL)
		return 0;
	ptrdiff_t c = str_chr(*rest, ':');
	if (c < 0) {
		*item_r = trim_fws(*rest);
		rest->p = NULL;
		rest->len = 0;
	} else {
		*item_r = trim_fws(str_make(rest->p, (size_t)c));
		*rest = str_make(rest->p + c + 1, rest->len - (size_t)c - 1);
	}
	return 1;
}

static int list_has(struct str list, const char *want)
{
	struct str item;
	while (list_next(&list, &item))
		if (str_eq_ci_c(item, want))
			return 1;
	return 0;
}

static int eq(struct str s, const char *c)
{
	return s.len == strlen(c) && memcmp(s.p, c, s.len) == 0;
}

int dkim_b64(struct str s, uint8_t *out, size_t cap, size_t *len_r)
{
	/* An empty value is no base64 to DKIM: an empty p= (revocation)
	 * is read before this. */
	if (s.len == 0)
		return -1;
	return base64_decode(s, BASE64_SKIP_WS, out, cap, len_r);
}

/* The start of b= as written, FWS removed, cut at DKIM_BTEXT_MAX, into
 * out: the signature's name in Authentication-Results (header.b). Empty
 * when b= holds anything but base64 (a property value must not carry a
 * sender's quotes or parentheses). */
static void b_text(struct str b, char out[DKIM_BTEXT_MAX + 1])
{
	size_t n = 0;

	for (size_t k = 0; k < b.len && n < DKIM_BTEXT_MAX; k++) {
		unsigned char c = (unsigned char)b.p[k];
		if (is_fws_octet((char)c))
			continue;
		if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '/' && c != '=') {
			n = 0;
			break;
		}
		out[n++] = (char)c;
	}
	out[n] = '\0';
}

/* Copies s into dst as a C string (no NUL inside), 0 or -1. */
static int copy_c(struct str s, char *dst, size_t dstsz, int lower)
{
	if (s.len >= dstsz || memchr(s.p, '\0', s.len) != NULL)
		return -1;
	if (lower)
		return str_lower_into(s, dst, dstsz);
	memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
	return 0;
}

int dkim_tag_name(struct str v, int lower, char *dst, size_t dstsz)
{
	char in[4 * DKIM_DOMAIN_MAX];
	size_t i = 0;

	while (i < v.len && (unsigned char)v.p[i] < 0x80)
		i++;
	if (i == v.len)
		return copy_c(v, dst, dstsz, lower);
	/* U-labels: lowercased and as A-labels, the one spelling DNS knows. */
	if (v.len >= sizeof in || memchr(v.p, '\0', v.len) != NULL)
		return -1;
	memcpy(in, v.p, v.len);
	in[v.len] = '\0';
	return auth_domain_alabels(in, dst, dstsz);
}

static int time_tag(struct str s, int64_t *v_r)
{
	uint64_t v;
	/* §3.5 allows up to 12 digits; 40 bits of seconds reach year 36812. */
	if (s.len > 12 || str_to_u64(s, UINT64_MAX, &v) != 0)
		return -1;
	*v_r = (int64_t)v;
	return 0;
}

/* ---- DKIM-Signature ---- */

#define FAIL(res, why)                     \
	do {                               \
		*res_r = (res);            \
		*why_r = (why);            \
		return -1;                 \
	} while (0)

/* h=: field names, From among them (§5.4). */
static int check_h(struct str h, const char **why_r)
{
	struct str item;
	int from = 0, count = 0;

	while (list_next(&h, &item)) {
		if (++count > DKIM_H_NAMES_MAX) {
			*why_r = "h= lists too many names";
			return -1;
		}
		if (item.len == 0) {
			*why_r = "empty name in h=";
			return -1;
		}
		for (size_t i = 0; i < item.len; i++) {
			unsigned char c = (unsigned char)item.p[i];
			if (c < 33 || c > 126 || c == ':') {
				*why_r = "bad field name in h=";
				return -1;
			}
		}
		from |= str_eq_ci_c(item, "from");
	}
	if (!from) {
		*why_r = "From not signed (h= lacks from)";
		return -1;
	}
	return 0;
}

/* i= must end in @d or in a subdomain of d (§3.5 i=), in either spelling
 * of an internationalized domain (RFC 8616 §5); i_sub says which. */
static int check_i(struct dkim_sig *sig, struct str i)
{
	char dom[DKIM_DOMAIN_MAX + 1];
	ptrdiff_t at = str_rchr(i, '@');
	if (at < 0 ||
	    dkim_tag_name(str_make(i.p + at + 1, i.len - (size_t)at - 1), 1, dom, sizeof dom) != 0)
		return -1;
	size_t dl = strlen(sig->d), n = strlen(dom);
	if (strcmp(dom, sig->d) == 0)
		return 0;
	sig->i_sub = 1;
	return n > dl + 1 && dom[n - dl - 1] == '.' && strcmp(dom + n - dl, sig->d) == 0 ? 0 : -1;
}

static int parse_c(struct dkim_sig *sig, struct str c)
{
	ptrdiff_t slash = str_chr(c, '/');
	struct str hc = slash < 0 ? c : str_make(c.p, (size_t)slash);
	struct str bc = slash < 0 ? str_c("simple") : str_make(c.p + slash + 1, c.len - (size_t)slash - 1);

	if (eq(hc, "simple"))
		sig->head_simple = 1;
	else if (!eq(hc, "relaxed"))
		return -1;
	if (eq(bc, "simple"))
		sig->body_simple = 1;
	else if (!eq(bc, "relaxed"))
		return -1;
	return 0;
}

/* i= of an AMS: the instance, 1..ARC's 50 (more is the caller's fail),
 * decimal without a leading zero. */
static int instance_tag(struct str s, unsigned *v_r)
{
	uint64_t v;
	if (s.len == 0 || s.len > 9 || s.p[0] == '0' || str_to_u64(s, 999999999, &v) != 0)
		return -1;
	*v_r = (unsigned)v;
	return 0;
}

int dkim_sig_parse(struct str value, struct dkim_sig *sig, enum dkim_result *res_r,
                   const char **why_r)
{
	return dkim_sig_parse_ex(value, 0, sig, NULL, res_r, why_r);
}

int dkim_sig_parse_ex(struct str value, unsigned flags, struct dkim_sig *sig,
                      unsigned *instance_r, enum dkim_result *res_r, const char **why_r)
{
	int arc = (flags & DKIM_SIG_ARC) != 0;

	struct dkim_tag tags[DKIM_TAGS_MAX];
	const struct str *t;
	int n;

	memset(sig, 0, sizeof *sig);
	n = dkim_tags_parse(value, tags, DKIM_TAGS_MAX, why_r);
	if (n < 0) {
		*res_r = DKIM_RESULT_PERMERROR;
		return -1;
	}
	/* d= and s= first, so that even a failing signature has a name. */
	if ((t = tag_get(tags, n, "d")) == NULL)
		FAIL(DKIM_RESULT_PERMERROR, "missing required tag d=");
	if (dkim_tag_name(*t, 1, sig->d, sizeof sig->d) != 0 || !dkim_domain_ok(sig->d)) {
		sig->d[0] = '\0';
		FAIL(DKIM_RESULT_PERMERROR, "bad d=");
	}
	if ((t = tag_get(tags, n, "s")) == NULL)
		FAIL(DKIM_RESULT_PERMERROR, "missing required tag s=");
	if (dkim_tag_name(*t, 0, sig->s, sizeof sig->s) != 0 || !dkim_sig_selector_ok(sig->s, sig->d)) {
		sig->s[0] = '\0';
		FAIL(DKIM_RESULT_PERMERROR, "bad s=");
	}
	/* b= names the signature too (header.b, RFC 6008): two signatures
	 * of one d= and s=, one failing on a later tag, stay apart. */
	if ((t = tag_get(tags, n, "b")) != NULL)
		b_text(*t, sig->btext);
	if (arc) {
		if ((t = tag_get(tags, n, "i")) == NULL)
			FAIL(DKIM_RESULT_PERMERROR, "missing required tag i=");
		if (instance_tag(*t, instance_r) != 0)
			FAIL(DKIM_RESULT_PERMERROR, "bad instance i=");
	} else {
		if ((t = tag_get(tags, n, "v")) == NULL)
			FAIL(DKIM_RESULT_PERMERROR, "missing required tag v=");
		if (!eq(*t, "1"))
			FAIL(DKIM_RESULT_NEUTRAL, "unsupported version v=");
	}
	if ((t = tag_get(tags, n, "a")) == NULL)
		FAIL(DKIM_RESULT_PERMERROR, "missing required tag a=");
	if (eq(*t, "rsa-sha256"))
		sig->alg = DKIM_ALG_RSA_SHA256;
	else if (eq(*t, "ed25519-sha256"))
		sig->alg = DKIM_ALG_ED25519_SHA256;
	else if (eq(*t, "rsa-sha1"))
		sig->rsa_sha1 = 1;
	else
		FAIL(DKIM_RESULT_NEUTRAL, "unknown algorithm a=");
	if ((t = tag_get(tags, n, "c")) != NULL && parse_c(sig, *t) != 0)
		FAIL(DKIM_RESULT_NEUTRAL, "unknown canonicalization c=");
	/* The default is simple/simple, for the AMS too: RFC 8617 §4.1.2 gives
	 * it DKIM-Signature's semantics but for the name, v= and i=. */
	if (tag_get(tags, n, "c") == NULL)
		sig->head_simple = sig->body_simple = 1;
	if ((t = tag_get(tags, n, "h")) == NULL)
		FAIL(DKIM_RESULT_PERMERROR, "missing required tag h=");
	sig->h = *t;
	if (check_h(sig->h, why_r) != 0) {
		*res_r = DKIM_RESULT_PERMERROR;
		return -1;
	}
	if (arc && list_has(sig->h, "arc-seal"))
		FAIL(DKIM_RESULT_PERMERROR, "h= lists ARC-Seal (RFC 8617 §4.1.2)");
	if ((t = tag_get(tags, n, "bh")) == NULL)
		FAIL(DKIM_RESULT_PERMERROR, "missing required tag bh=");
	uint8_t bh[64];
	size_t bhlen;
	if (dkim_b64(*t, bh, sizeof bh, &bhlen) != 0 || (!sig->rsa_sha1 && bhlen != 32))
		FAIL(DKIM_RESULT_PERMERROR, "bad bh=");
	memcpy(sig->bh, bh, bhlen < 32 ? bhlen : 32);
	if ((t = tag_get(tags, n, "b")) == NULL)
		FAIL(DKIM_RESULT_PERMERROR, "missing required tag b=");
	if (dkim_b64(*t, sig->b, sizeof sig->b, &sig->blen) != 0)
		FAIL(DKIM_RESULT_PERMERROR, "bad b=");

	if (!arc && (t = tag_get(tags, n, "i")) != NULL) {
		if (copy_c(*t, sig->i, sizeof sig->i, 0) != 0)
			FAIL(DKIM_RESULT_PERMERROR, "bad i=");
		if (check_i(sig, *t) != 0)
			FAIL(DKIM_RESULT_PERMERROR, "i= not in d= or a subdomain of it");
	} else {
		sig->i[0] = '@';
		memcpy(sig->i + 1, sig->d, strlen(sig->d) + 1);
	}
	if ((t = tag_get(tags, n, "l")) != NULL) {
		/* §3.5 caps l= at 76 decimal digits; nothing real is over 2^62. */
		if (str_to_u64(*t, (uint64_t)1 << 62, &sig->l) != 0)
			FAIL(DKIM_RESULT_PERMERROR, "bad l=");
		sig->has_l = 1;
	}
	if ((t = tag_get(tags, n, "q")) != NULL && !list_has(*t, "dns/txt"))
		FAIL(DKIM_RESULT_PERMERROR, "q= without dns/txt");
	if ((t = tag_get(tags, n, "t")) != NULL) {
		if (time_tag(*t, &sig->t) != 0)
			FAIL(DKIM_RESULT_PERMERROR, "bad t=");
		sig->has_t = 1;
	}
	if ((t = tag_get(tags, n, "x")) != NULL) {
		if (time_tag(*t, &sig->x) != 0)
			FAIL(DKIM_RESULT_PERMERROR, "bad x=");
		sig->has_x = 1;
		if (sig->has_t && sig->x <= sig->t)
			FAIL(DKIM_RESULT_PERMERROR, "x= not after t=");
	}
	return 0;
}

/* ---- key record ---- */

int dkim_pubkey_parse(struct str record, struct dkim_pubkey *k, const char **why_r)
{
	struct dkim_tag tags[DKIM_TAGS_MAX];
	const struct str *t;
	int n;

	memset(k, 0, sizeof *k);
	k->type = DKIM_KEY_RSA;
	n = dkim_tags_parse(record, tags, DKIM_TAGS_MAX, why_r);
	if (n < 0)
		return -1;
	/* v= is optional, but when present it is DKIM1 and comes first. */
	if ((t = tag_get(tags, n, "v")) != NULL && (t != &tags[0].value || !eq(*t, "DKIM1"))) {
		*why_r = "key record v= is not DKIM1 first";
		return -1;
	}
	if ((t = tag_get(tags, n, "h")) != NULL && !list_has(*t, "sha256")) {
		*why_r = "key h= does not allow sha256";
		return -1;
	}
	if ((t = tag_get(tags, n, "k")) != NULL) {
		if (eq(*t, "ed25519"))
			k->type = DKIM_KEY_ED25519;
		else if (!eq(*t, "rsa")) {
			*why_r = "unknown key type k=";
			return -1;
		}
	}
	k->services = DKIM_SVC_EMAIL | DKIM_SVC_TLSRPT;
	if ((t = tag_get(tags, n, "s")) != NULL && !list_has(*t, "*")) {
		k->services = (uint8_t)((list_has(*t, "email") ? DKIM_SVC_EMAIL : 0) |
					(list_has(*t, "tlsrpt") ? DKIM_SVC_TLSRPT : 0));
		if (!k->services) {
			*why_r = "key s= is not for email";
			return -1;
		}
	}
	if ((t = tag_get(tags, n, "t")) != NULL) {
		k->testing = (uint8_t)list_has(*t, "y");
		k->strict = (uint8_t)list_has(*t, "s");
	}
	if ((t = tag_get(tags, n, "p")) == NULL) {
		*why_r = "key record without p=";
		return -1;
	}
	if (t->len == 0) {
		k->revoked = 1;
		return 0;
	}
	if (dkim_b64(*t, k->p, sizeof k->p, &k->plen) != 0) {
		*why_r = "bad key p=";
		return -1;
	}
	if (k->type == DKIM_KEY_ED25519 && k->plen != 32) {
		*why_r = "Ed25519 key p= is not 32 octets";
		return -1;
	}
	return 0;
}
