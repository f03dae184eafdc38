/*
 * sieve_match.c — comparators (RFC 4790: i;octet, i;ascii-casemap,
 * i;ascii-numeric) and match types (:is, :contains, :matches, :regex,
 * relational :value) for one value against one key.
 *
 * :matches is the linear-backtracking wildcard match (back up to the last
 * "*" only), which is complete for patterns of "*", "?" and literals and
 * makes each "*" match as little as it can, left to right; the span each
 * wildcard covered becomes ${1}..${32} (RFC 5229 §3.2). Every octet
 * compared costs a step of the run's budget, so a hostile pattern cannot
 * run for long. "?" matches one UTF-8 character.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "sieve/sieve_private.h"

int sv_cmp_parse(struct str s)
{
	if (str_eq(s, STR_LIT("i;octet")))
		return CMP_OCTET;
	if (str_eq(s, STR_LIT("i;ascii-casemap")))
		return CMP_CASEMAP;
	if (str_eq(s, STR_LIT("i;ascii-numeric")))
		return CMP_NUMERIC;
	return -1;
}

int sv_rel_parse(struct str s)
{
	static const char *const names[] = { "gt", "ge", "lt", "le", "eq", "ne" };
	for (int i = 0; i < 6; i++)
		if (str_eq_ci(s, str_c(names[i])))
			return i;
	return -1;
}

int sv_rel_holds(uint8_t rel, int order)
{
	switch (rel) {
	case REL_GT: return order > 0;
	case REL_GE: return order >= 0;
	case REL_LT: return order < 0;
	case REL_LE: return order <= 0;
	case REL_EQ: return order == 0;
	default: return order != 0;
	}
}

static unsigned char fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

void sv_fold_into(char *dst, struct str s)
{
	for (size_t i = 0; i < s.len; i++)
		dst[i] = (char)fold((unsigned char)s.p[i]);
	dst[s.len] = '\0';
}

struct str sv_fold_copy(struct arena *a, struct str s)
{
	char *o = arena_alloc(a, s.len + 1);
	for (size_t i = 0; i < s.len; i++)
		o[i] = (char)fold((unsigned char)s.p[i]);
	o[s.len] = '\0';
	return str_make(o, s.len);
}

/* The leading digits of s without leading zeros; no digits: p == NULL. */
static struct str numeric_part(struct str s)
{
	size_t i = 0, j;
	if (s.len == 0 || s.p[0] < '0' || s.p[0] > '9')
		return STR_NULL;
	while (i + 1 < s.len && s.p[i] == '0' && s.p[i + 1] >= '0' && s.p[i + 1] <= '9')
		i++;
	for (j = i; j < s.len && s.p[j] >= '0' && s.p[j] <= '9'; j++)
		;
	return str_make(s.p + i, j - i);
}

/* i;ascii-casemap's ordering maps a-z to A-Z, not A-Z to a-z (RFC 4790
 * §9.2.1): the six octets between 'Z' and 'a' ([ \ ] ^ _ `) sort after
 * the letters, not before them. Equality and substrings come out the
 * same either way, so fold() serves those. */
static unsigned char upper(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c;
}

int sv_cmp_order(uint8_t cmp, struct str a, struct str b)
{
	if (cmp == CMP_NUMERIC) {
		struct str x = numeric_part(a), y = numeric_part(b);
		/* RFC 4790 §9.1: a string without digits is positive infinity. */
		if (!x.p || !y.p)
			return !x.p && !y.p ? 0 : !x.p ? 1 : -1;
		if (x.len != y.len)
			return x.len < y.len ? -1 : 1;
		int c = memcmp(x.p, y.p, x.len);
		return c < 0 ? -1 : c > 0;
	}
	size_t n = a.len < b.len ? a.len : b.len;
	for (size_t i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a.p[i], y = (unsigned char)b.p[i];
		if (cmp == CMP_CASEMAP)
			x = upper(x), y = upper(y);
		if (x != y)
			return x < y ? -1 : 1;
	}
	return a.len == b.len ? 0 : a.len < b.len ? -1 : 1;
}

static int eq_at(uint8_t cmp, unsigned char x, unsigned char y)
{
	return cmp == CMP_CASEMAP ? fold(x) == fold(y) : x == y;
}

static int spend(struct sv_matcher *m, uint64_t n, char *err)
{
	if (*m->steps < n) {
		*m->steps = 0;
		snprintf(err, SIEVE_ERROR_MAX, "the script ran past its budget of %d steps",
		         SIEVE_STEPS_MAX);
		return -1;
	}
	*m->steps -= n;
	return 0;
}

static size_t utf8_len(const char *p, size_t avail)
{
	unsigned char c = (unsigned char)p[0];
	size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (n > avail)
		n = avail;
	for (size_t i = 1; i < n; i++)
		if (((unsigned char)p[i] & 0xc0) != 0x80)
			return i;
	return n;
}

/* A capture's length as a variable holds it: at most SIEVE_VAR_VALUE_MAX
 * octets, its slot of capbuf, cut before a UTF-8 character it would
 * split (as vars_set cuts). */
static size_t cap_len(const char *p, size_t len)
{
	if (len <= SIEVE_VAR_VALUE_MAX)
		return len;
	len = SIEVE_VAR_VALUE_MAX;
	while (len && ((unsigned char)p[len] & 0xc0) == 0x80)
		len--;
	return len;
}

static void set_cap(struct sv_matcher *m, int i, const char *p, size_t len)
{
	if (!m->want_caps || i < 0 || i > SIEVE_MATCH_VARS_MAX)
		return;
	m->caps[i] = str_make(p, cap_len(p, len)); /* copied to capbuf once the match holds */
	if (i + 1 > m->ncaps)
		m->ncaps = i + 1;
}

static void keep_caps(struct sv_matcher *m)
{
	if (!m->want_caps)
		return;
	for (int i = 0; i < m->ncaps; i++) {
		char *dst = m->capbuf + (size_t)i * SIEVE_VAR_VALUE_MAX;
		/* a "*" grows its capture past set_cap as it backs up */
		m->caps[i].len = m->caps[i].p ? cap_len(m->caps[i].p, m->caps[i].len) : 0;
		memmove(dst, m->caps[i].p ? m->caps[i].p : "", m->caps[i].len);
		m->caps[i].p = dst;
	}
}

static int wildcard(struct sv_matcher *m, struct str v, struct str k, char *err)
{
	size_t pi = 0, ti = 0, star_pi = (size_t)-1, star_ti = 0;
	int w = 0, star_w = 0, last_w = 0;
	uint64_t cost = 0;

	m->ncaps = 0;
	while (ti < v.len) {
		if (++cost >= 4096) {
			if (spend(m, cost, err) < 0)
				return -1;
			cost = 0;
		}
		if (pi < k.len && k.p[pi] == '*') {
			star_pi = pi;
			star_ti = ti;
			star_w = w;
			set_cap(m, 1 + w, v.p + ti, 0);
			w++;
			pi++;
			continue;
		}
		if (pi < k.len && k.p[pi] == '?') {
			size_t cl = utf8_len(v.p + ti, v.len - ti);
			set_cap(m, 1 + w, v.p + ti, cl);
			w++;
			pi++;
			ti += cl;
			continue;
		}
		if (pi < k.len) {
			size_t lp = pi;
			if (k.p[lp] == '\\' && lp + 1 < k.len)
				lp++;
			if (eq_at(m->cmp, (unsigned char)k.p[lp], (unsigned char)v.p[ti])) {
				pi = lp + 1;
				ti++;
				continue;
			}
		}
		if (star_pi == (size_t)-1)
			return 0;
		/* Back up: the last "*" takes one more octet. */
		star_ti++;
		ti = star_ti;
		pi = star_pi + 1;
		w = star_w + 1;
		if (m->want_caps && star_w + 1 <= SIEVE_MATCH_VARS_MAX)
			m->caps[1 + star_w].len = star_ti - (size_t)(m->caps[1 + star_w].p - v.p);
	}
	while (pi < k.len && k.p[pi] == '*') {
		set_cap(m, 1 + w, v.p + v.len, 0);
		w++;
		pi++;
	}
	(void)last_w;
	if (spend(m, cost, err) < 0)
		return -1;
	if (pi != k.len)
		return 0;
	set_cap(m, 0, v.p, v.len);
	return 1;
}

static int contains(struct sv_matcher *m, struct str v, struct str k, char *err)
{
	if (k.len == 0)
		return 1;
	if (k.len > v.len)
		return 0;
	if (spend(m, (v.len - k.len + 1) * (k.len < 64 ? k.len : 64) / 8 + 1, err) < 0)
		return -1;
	/* i;octet (and i;ascii-casemap over values and keys the caller
	 * folded once, match_vals): the C library's substring search. */
	if (m->cmp == CMP_OCTET)
		return memmem(v.p, v.len, k.p, k.len) != NULL;
	for (size_t i = 0; i + k.len <= v.len; i++) {
		size_t j = 0;
		while (j < k.len && eq_at(m->cmp, (unsigned char)k.p[j], (unsigned char)v.p[i + j]))
			j++;
		if (j == k.len)
			return 1;
	}
	return 0;
}

#define REGEX_VALUE_MAX (64 * 1024)
#define REGEX_PATTERN_MAX 512
#define REGEX_BOUND_MAX 32
#define REGEX_BOUNDS_MAX 2
/* positions of one pattern once expanded: regcomp takes about 20 us
 * each under musl, and regexec works each for every octet of the value */
#define REGEX_WEIGHT_MAX 4096

static uint64_t regex_weight(struct str k);

/* The index of the "]" that closes the bracket expression opened at
 * k.p[i] (a "]" first, or after "^", is a member), or k.len without one. */
static size_t bracket_end(struct str k, size_t i)
{
	size_t j = i + 1;
	if (j < k.len && k.p[j] == '^')
		j++;
	if (j < k.len && k.p[j] == ']')
		j++;
	while (j < k.len && k.p[j] != ']')
		j++;
	return j;
}

/*
 * Regular expression libraries expand bounded repetition and may take
 * exponential time on back-references, so a pattern is refused (a run
 * error) when it is long, has a quantifier right after another, more
 * than REGEX_BOUNDS_MAX "{m,n}" or a bound over REGEX_BOUND_MAX, or a
 * back-reference.
 */
static int regex_safe(struct str k)
{
	int prev_quant = 0, bounds = 0;
	if (k.len > REGEX_PATTERN_MAX)
		return 0;
	for (size_t i = 0; i < k.len; i++) {
		char c = k.p[i];
		if (c == '\\') {
			if (i + 1 < k.len && k.p[i + 1] >= '0' && k.p[i + 1] <= '9')
				return 0;
			i++;
			prev_quant = 0;
			continue;
		}
		if (c == '[') {
			/* A bracket expression: quantifier characters are literal. */
			i = bracket_end(k, i);
			prev_quant = 0;
			continue;
		}
		int quant = c == '*' || c == '+' || c == '?' || c == '{';
		if (quant && prev_quant)
			return 0;
		if (c == '{') {
			unsigned v = 0;
			if (++bounds > REGEX_BOUNDS_MAX)
				return 0;
			for (i++; i < k.len && k.p[i] != '}'; i++) {
				if (k.p[i] >= '0' && k.p[i] <= '9') {
					v = v * 10 + (unsigned)(k.p[i] - '0');
					if (v > REGEX_BOUND_MAX)
						return 0;
				} else {
					v = 0;
				}
			}
		}
		prev_quant = quant;
	}
	return regex_weight(k) <= REGEX_WEIGHT_MAX;
}

/*
 * The positions of a pattern once its bounds are expanded, as a
 * regex library builds its automaton: "a{32}" is 32, "((a|b){32}){32}"
 * 2048. musl's regexec (TRE) works every position for every octet of
 * the value, so this times the value's length is what a match costs:
 * 63 octets of pattern with two bounds stood for 20000 positions and
 * seconds of CPU against a 64 KiB value; regcomp's time and memory grow
 * with it too. Saturates well past every limit.
 */
static uint64_t regex_weight(struct str k)
{
	uint64_t stack[REGEX_PATTERN_MAX + 1], cur = 0, last = 0;
	size_t depth = 0;

	for (size_t i = 0; i < k.len && i < REGEX_PATTERN_MAX; i++) {
		char c = k.p[i];
		if (c == '(' && depth < REGEX_PATTERN_MAX) {
			stack[depth++] = cur;
			cur = last = 0;
		} else if (c == ')' && depth > 0) {
			last = cur;
			cur = stack[--depth] + last;
		} else if (c == '{') {
			unsigned v = 0, bound = 1;
			for (i++; i < k.len && k.p[i] != '}'; i++) {
				if (k.p[i] >= '0' && k.p[i] <= '9') {
					v = v * 10 + (unsigned)(k.p[i] - '0');
					if (v > bound)
						bound = v;
				} else {
					v = 0;
				}
			}
			/* "{m,}" is m copies and a star: one more than m */
			if (i > 0 && k.p[i - 1] == ',')
				bound++;
			cur += last * (bound - 1);
			last *= bound;
		} else if (c == '*' || c == '+' || c == '?' || c == '^' || c == '$' || c == '|') {
			if (c == '|')
				last = 0;
		} else {
			if (c == '\\') {
				i++;
			} else if (c == '[') {
				i = bracket_end(k, i);
			}
			cur++;
			last = 1;
		}
		if (cur > (1u << 30))
			return 1u << 30;
	}
	while (depth > 0)
		cur += stack[--depth];
	return cur + 1;
}

uint64_t sv_regex_cost(struct str k)
{
	return regex_weight(k) + 16; /* 16: regcomp's own work and memory */
}

void *sv_regex_compile(struct str k, uint8_t cmp, int *invalid_r)
{
	regex_t *re;
	char *pat;

	*invalid_r = 0;
	if (!regex_safe(k))
		return NULL;
	if (memchr(k.p, '\0', k.len)) {
		*invalid_r = 1;
		return NULL;
	}
	re = xmalloc(sizeof *re);
	pat = xstrndup(k.p, k.len);
	int rc = regcomp(re, pat, REG_EXTENDED | (cmp == CMP_CASEMAP ? REG_ICASE : 0));
	free(pat);
	if (rc != 0) {
		free(re);
		*invalid_r = 1;
		return NULL;
	}
	return re;
}

void sv_regex_free(void *re)
{
	if (re) {
		regfree(re);
		free(re);
	}
}

static int regex(struct sv_matcher *m, struct str v, struct str k, char *err)
{
	regex_t own;
	const regex_t *re = m->re;
	regmatch_t pm[SIEVE_MATCH_VARS_MAX + 1];
	char *pat, *val;
	int rc;

	size_t seen = v.len > REGEX_VALUE_MAX ? REGEX_VALUE_MAX : v.len;
	if (spend(m, 64 + v.len + k.len * 16 + seen * regex_weight(k) / 16, err) < 0)
		return -1;
	v.len = seen;
	if (!re) {
		/* A key that varies (variables) or did not compile ahead:
		 * compiled for this match, at a cost for each position. */
		if (!regex_safe(k)) {
			snprintf(err, SIEVE_ERROR_MAX, "regular expression \"%.*s\" is too complex",
			         (int)(k.len > 64 ? 64 : k.len), k.p);
			return -1;
		}
		if (spend(m, sv_regex_cost(k) * 64, err) < 0)
			return -1;
		pat = xstrndup(k.p, k.len);
		rc = regcomp(&own, pat, REG_EXTENDED | (m->cmp == CMP_CASEMAP ? REG_ICASE : 0));
		free(pat);
		if (rc != 0) {
			snprintf(err, SIEVE_ERROR_MAX, "invalid regular expression \"%.*s\"",
			         (int)(k.len > 64 ? 64 : k.len), k.p);
			return -1;
		}
		re = &own;
	}
	val = xstrndup(v.p, v.len);
	/* Groups only when a variable may read them: each costs the
	 * matcher work. */
	rc = regexec(re, val, m->want_caps ? SIEVE_MATCH_VARS_MAX + 1 : 0, m->want_caps ? pm : NULL, 0);
	if (rc == 0 && m->want_caps) {
		m->ncaps = 0;
		for (int i = 0; i <= SIEVE_MATCH_VARS_MAX; i++)
			if (pm[i].rm_so >= 0)
				set_cap(m, i, v.p + pm[i].rm_so, (size_t)(pm[i].rm_eo - pm[i].rm_so));
			else
				set_cap(m, i, "", 0);
	}
	free(val);
	if (re == &own)
		regfree(&own);
	return rc == 0;
}

int sv_match_one(struct sv_matcher *m, struct str value, struct str key, char *err)
{
	int r;
	switch (m->match) {
	case M_IS:
		if (spend(m, 1 + value.len / 16, err) < 0)
			return -1;
		return sv_cmp_order(m->cmp, value, key) == 0;
	case M_CONTAINS:
		if (m->cmp == CMP_NUMERIC)
			return 0; /* RFC 4790 §9.1: no substring operation */
		return contains(m, value, key, err);
	case M_MATCHES:
		if (m->cmp == CMP_NUMERIC)
			return 0;
		r = wildcard(m, value, key, err);
		if (r == 1)
			keep_caps(m);
		return r;
	case M_REGEX:
		r = regex(m, value, key, err);
		if (r == 1)
			keep_caps(m);
		return r;
	case M_VALUE:
		if (spend(m, 1 + value.len / 16, err) < 0)
			return -1;
		return sv_rel_holds(m->rel, sv_cmp_order(m->cmp, value, key));
	default:
		return 0;
	}
}
