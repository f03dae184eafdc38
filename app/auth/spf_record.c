/*
 * spf_record.c — SPF terms: mechanisms with their qualifier, domain-spec
 * and CIDR lengths, and modifiers (RFC 7208 §4.6.1, §5, §6, §12 ABNF).
 * See spf_record.h.
 */
#include "auth/spf_record.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int spf_record_is_spf(const char *rec, size_t len)
{
	return len >= 6 && strncasecmp(rec, "v=spf1", 6) == 0 && (len == 6 || rec[6] == ' ');
}

static int name_is(struct str n, const char *lit)
{
	return n.len == strlen(lit) && strncasecmp(n.p, lit, n.len) == 0;
}

/* A CIDR length "digits" without a leading zero, at most max. -1 when bad. */
static int cidr_value(const char *p, size_t n, unsigned max)
{
	unsigned v = 0;
	if (n == 0 || n > 3 || (n > 1 && p[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return -1;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	return v > max ? -1 : (int)v;
}

/* Length of a trailing "/digits" of s (0 when none); the digits count only when they are all digits. */
static size_t trailing_cidr(struct str s)
{
	size_t i = s.len;
	while (i > 0 && is_digit(s.p[i - 1]))
		i--;
	if (i == s.len || i == 0 || s.p[i - 1] != '/')
		return 0;
	return s.len - (i - 1);
}

/* Reads a trailing "/digits" of *arg (n bytes) into *v and drops it. -1 when bad. */
static int take_cidr(struct str *arg, size_t n, unsigned max, unsigned *v)
{
	int r = cidr_value(arg->p + arg->len - n + 1, n - 1, max);
	if (r < 0)
		return -1;
	*v = (unsigned)r;
	arg->len -= n;
	return 0;
}

/*
 * Splits arg (what follows the mechanism name: ":spec/len//len6", "/len",
 * or empty) into t->spec and the CIDR lengths. which: the lengths allowed
 * (1 an ip4 "/len", 2 an ip6 "/len", 3 a dual-cidr-length, 0 none). -1
 * when bad.
 */
static int split_cidr(struct str arg, int which, struct spf_term *t)
{
	size_t n = trailing_cidr(arg);
	if (n && which == 3 && arg.len > n && arg.p[arg.len - n - 1] == '/') {
		/* "//len6" ends a dual-cidr-length. */
		if (take_cidr(&arg, n, 128, &t->cidr6) < 0)
			return -1;
		arg.len--;
		n = trailing_cidr(arg);
	}
	if (n && which == 2 && take_cidr(&arg, n, 128, &t->cidr6) < 0)
		return -1;
	if (n && (which & 1) && take_cidr(&arg, n, 32, &t->cidr4) < 0)
		return -1;
	if (arg.len == 0) {
		t->spec = arg;
		return 0;
	}
	if (arg.p[0] != ':')
		return -1;
	t->spec = (struct str){ arg.p + 1, arg.len - 1 };
	return t->spec.len ? 0 : -1;
}

static int parse_ip(struct spf_term *t, int six)
{
	char buf[64];
	if (t->spec.len == 0 || t->spec.len >= sizeof buf)
		return -1;
	memcpy(buf, t->spec.p, t->spec.len);
	buf[t->spec.len] = '\0';
	if (!six) {
		/* Dotted quad only: inet_pton refuses shorthand forms, as the RFC's ip4-network does. */
		return inet_pton(AF_INET, buf, t->net) == 1 ? 0 : -1;
	}
	return inet_pton(AF_INET6, buf, t->net) == 1 ? 0 : -1;
}

static int parse_mechanism(struct str tok, struct spf_term *t)
{
	size_t i = 0;
	if (tok.len && tok.p[0] && strchr("+-~?", tok.p[0])) {
		t->qual = tok.p[0];
		i = 1;
	}
	size_t ns = i;
	while (i < tok.len && (is_alpha(tok.p[i]) || is_digit(tok.p[i])))
		i++;
	struct str name = { tok.p + ns, i - ns }, arg = { tok.p + i, tok.len - i };
	int which, need_spec = 0;

	if (name_is(name, "all")) {
		t->kind = SPF_T_ALL;
		return arg.len ? -1 : 0;
	} else if (name_is(name, "include")) {
		t->kind = SPF_T_INCLUDE, which = 0, need_spec = 1;
	} else if (name_is(name, "a")) {
		t->kind = SPF_T_A, which = 3;
	} else if (name_is(name, "mx")) {
		t->kind = SPF_T_MX, which = 3;
	} else if (name_is(name, "ptr")) {
		t->kind = SPF_T_PTR, which = 0;
	} else if (name_is(name, "ip4")) {
		t->kind = SPF_T_IP4, which = 1, need_spec = 1;
	} else if (name_is(name, "ip6")) {
		t->kind = SPF_T_IP6, which = 2, need_spec = 1;
	} else if (name_is(name, "exists")) {
		t->kind = SPF_T_EXISTS, which = 0, need_spec = 1;
	} else {
		return -1;
	}
	if (split_cidr(arg, which, t) < 0 || (need_spec && t->spec.len == 0))
		return -1;
	if (t->kind == SPF_T_IP4 || t->kind == SPF_T_IP6)
		return parse_ip(t, t->kind == SPF_T_IP6);
	return t->spec.len ? spf_macro_check(t->spec, 0) : 0;
}

int spf_term_next(const char *rec, size_t len, size_t *pos, struct spf_term *t)
{
	size_t i = *pos;
	while (i < len && rec[i] == ' ')
		i++;
	*pos = i;
	if (i >= len)
		return 0;
	size_t end = i;
	while (end < len && rec[end] != ' ')
		end++;
	struct str tok = { rec + i, end - i };
	memset(t, 0, sizeof *t);
	t->qual = '+';
	t->cidr4 = 32;
	t->cidr6 = 128;

	/* A modifier is name "=" value, name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ). */
	size_t k = 0;
	if (is_alpha(tok.p[0])) {
		k = 1;
		while (k < tok.len && (is_alpha(tok.p[k]) || is_digit(tok.p[k]) ||
		                       (tok.p[k] && strchr("-_.", tok.p[k]))))
			k++;
	}
	if (k && k < tok.len && tok.p[k] == '=') {
		struct str name = { tok.p, k };
		t->spec = (struct str){ tok.p + k + 1, tok.len - k - 1 };
		if (name_is(name, "redirect"))
			t->kind = SPF_T_REDIRECT;
		else if (name_is(name, "exp"))
			t->kind = SPF_T_EXP;
		else
			t->kind = SPF_T_UNKNOWN_MOD;
		int bad = t->kind == SPF_T_UNKNOWN_MOD ? spf_macro_check(t->spec, 1) < 0 ||
								 memchr(t->spec.p, ' ', t->spec.len)
						       : t->spec.len == 0 || spf_macro_check(t->spec, 0) < 0;
		if (bad)
			return -1;
	} else if (parse_mechanism(tok, t) < 0) {
		return -1;
	}
	*pos = end;
	return 1;
}

int spf_record_check(const char *rec, size_t len, const char **why_r)
{
	struct spf_term t;
	size_t pos = 6;
	int redirects = 0, exps = 0, r;

	if (!spf_record_is_spf(rec, len)) {
		*why_r = "not an SPF record";
		return -1;
	}
	while ((r = spf_term_next(rec, len, &pos, &t)) == 1) {
		redirects += t.kind == SPF_T_REDIRECT;
		exps += t.kind == SPF_T_EXP;
	}
	if (r < 0) {
		*why_r = "syntax error in a term";
		return -1;
	}
	if (redirects > 1 || exps > 1) {
		*why_r = redirects > 1 ? "redirect= more than once" : "exp= more than once";
		return -1;
	}
	return 0;
}
