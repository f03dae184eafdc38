/*
 * sieve_vars.c — variables (RFC 5229), the internal flags variable
 * (RFC 5232) and the expansion of "${...}" in strings at run time.
 *
 * Variables live in the run's current frame (each included script has
 * its own, RFC 6609 §3.4), unless the frame declared the name global.
 * Names compare ASCII case-insensitively. A value is cut at
 * SIEVE_VAR_VALUE_MAX octets (at a UTF-8 character boundary); a script
 * that sets more than SIEVE_VARS_MAX variables, or whose expansions add
 * up to more than SIEVE_EXPAND_BYTES_MAX octets in one run, stops with an
 * error (one whose names are constants does not compile: sieve_parse.c
 * note_made; the check here catches the names of several includes).
 */
#include <stdio.h>

#include "sieve/sieve_run.h"

#define EXPAND_MAX SIEVE_STRING_MAX

static int name_eq(const char *a, struct str b)
{
	return strlen(a) == b.len && str_eq_ci(str_c(a), b);
}

int vars_is_global(struct run *r, struct str name)
{
	for (int i = 0; i < r->frame->nglobals; i++)
		if (name_eq(r->frame->globals[i], name))
			return 1;
	return 0;
}

struct buf *vars_find(struct run *r, struct str name, int create)
{
	struct var *tab;
	int *n;

	int global = name.len > 7 && str_has_prefix_ci(name, "global.");
	if (global) /* RFC 6609 §3.5: the global NAME, declared here or not */
		name = str_sub(name, 7, name.len - 7);
	if (name.len == 0 || name.len > SIEVE_VAR_NAME_MAX || memchr(name.p, '.', name.len))
		return NULL;
	if (global || vars_is_global(r, name)) {
		tab = r->globals;
		n = &r->nglobals;
	} else {
		tab = r->frame->vars;
		n = &r->frame->nvars;
	}
	for (int i = 0; i < *n; i++)
		if (name_eq(tab[i].name, name))
			return &tab[i].val;
	if (!create)
		return NULL;
	if (*n >= SIEVE_VARS_MAX) {
		run_fail(r, NULL, "more than %d variables", SIEVE_VARS_MAX);
		return NULL;
	}
	memcpy(tab[*n].name, name.p, name.len);
	tab[*n].name[name.len] = '\0';
	buf_init(&tab[*n].val, SIEVE_VAR_VALUE_MAX);
	return &tab[(*n)++].val;
}

/* s cut to at most max octets, not inside a UTF-8 character. */
static struct str utf8_cut(struct str s, size_t max)
{
	if (s.len <= max)
		return s;
	size_t n = max;
	while (n > 0 && ((unsigned char)s.p[n] & 0xc0) == 0x80)
		n--;
	return str_make(s.p, n);
}

#ifdef SIEVE_TESTSUITE
size_t sv_var_value_cut = SIEVE_VAR_VALUE_MAX;
#endif

int vars_set(struct run *r, struct str name, struct str value)
{
	struct buf *b = vars_find(r, name, 1);
	if (!b)
		return -1;
	buf_reset(b);
	value = utf8_cut(value, SV_VAR_VALUE_CUT);
	if (buf_append(b, value.p, value.len) < 0) {
		run_fail(r, NULL, "out of memory for a variable");
		return -1;
	}
	return 0;
}

static int ident_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* RFC 5229 §3's name in a variable-ref that has a namespace:
 * identifier "." *(variable-name ".") variable-name, each variable-name
 * an identifier or a num-variable. "${a.b.}" or "${a..b}" is no
 * reference and stays as written. */
int sv_namespaced_name_ok(struct str n)
{
	size_t i = 0;
	for (int seg = 0; i <= n.len; seg++) {
		size_t e = i;
		while (e < n.len && n.p[e] != '.')
			e++;
		if (e == i)
			return 0; /* an empty segment */
		int digits = n.p[i] >= '0' && n.p[i] <= '9';
		if (digits && seg == 0)
			return 0;
		for (size_t k = i; k < e; k++)
			if (digits ? !(n.p[k] >= '0' && n.p[k] <= '9') : !ident_char(n.p[k], k == i))
				return 0;
		i = e + 1;
	}
	return 1;
}

struct str vars_expand(struct run *r, const struct sv_string *s)
{
	struct buf out;
	struct str in = s->s;

	if (!s->dyn)
		return in;
	buf_init(&out, EXPAND_MAX);
	for (size_t i = 0; i < in.len;) {
		if (in.p[i] == '$' && i + 1 < in.len && in.p[i + 1] == '{') {
			size_t j = i + 2, k;
			struct str val = STR_NULL;
			int ok = 0;
			if (j < in.len && in.p[j] >= '0' && in.p[j] <= '9') {
				/* leading zeroes are ignored (RFC 5229 §3.2); the
				 * compiler refused any index above the ninth */
				unsigned num = 0;
				for (k = j; k < in.len && in.p[k] >= '0' && in.p[k] <= '9'; k++)
					if (num <= SIEVE_MATCH_VARS_MAX)
						num = num * 10 + (unsigned)(in.p[k] - '0');
				if (k < in.len && in.p[k] == '}') {
					ok = 1;
					if (num <= SIEVE_MATCH_VARS_MAX && (int)num < r->ncaps)
						val = r->caps[num];
				}
			} else {
				/* identifier *("." identifier): only plain names are ours */
				for (k = j; k < in.len && (ident_char(in.p[k], 0) || in.p[k] == '.'); k++)
					;
				if (k > j && k < in.len && in.p[k] == '}' &&
				    sv_namespaced_name_ok(str_make(in.p + j, k - j))) {
					ok = 1;
					struct buf *b = vars_find(r, str_make(in.p + j, k - j), 0);
					if (b)
						val = buf_str(b);
				}
			}
			if (ok) {
				if (val.len)
					(void)buf_append(&out, val.p, val.len);
				i = k + 1;
				continue;
			}
		}
		if (buf_append(&out, in.p + i, 1) < 0)
			break;
		i++;
	}
	/* The copy lives as long as the run: past the run's total it fails,
	 * and the string is empty from then on (nothing runs after). */
	if (buf_len(&out) > r->expand_left) {
		r->expand_left = 0;
		run_fail(r, NULL, "the script expanded more than %d octets of variables",
		         SIEVE_EXPAND_BYTES_MAX);
		buf_free(&out);
		return STR_LIT("");
	}
	r->expand_left -= buf_len(&out);
	struct str res = str_make(arena_strndup(r->a, buf_data(&out), buf_len(&out)), buf_len(&out));
	buf_free(&out);
	return res;
}

struct str arg_str(struct run *r, const struct sv_arg *a, uint32_t i)
{
	return vars_expand(r, &a->v[i]);
}

/* ---- flags ---- */

static int flag_present(struct str list, struct str f)
{
	size_t i = 0;
	while (i < list.len) {
		while (i < list.len && list.p[i] == ' ')
			i++;
		size_t j = i;
		while (j < list.len && list.p[j] != ' ')
			j++;
		if (j > i && str_eq_ci(str_make(list.p + i, j - i), f))
			return 1;
		i = j;
	}
	return 0;
}

void flags_add(struct buf *dst, struct str list)
{
	size_t i = 0;
	while (i < list.len) {
		while (i < list.len && (list.p[i] == ' ' || list.p[i] == '\t'))
			i++;
		size_t j = i;
		while (j < list.len && list.p[j] != ' ' && list.p[j] != '\t')
			j++;
		struct str f = str_make(list.p + i, j - i);
		if (f.len && !flag_present(buf_str(dst), f)) {
			size_t room = buf_room(dst);
			if (f.len + 1 <= room) {
				if (buf_len(dst))
					(void)buf_append(dst, " ", 1);
				(void)buf_append(dst, f.p, f.len);
			}
		}
		i = j;
	}
}

void flags_remove(struct buf *dst, struct str list)
{
	struct buf keep;
	struct str cur = buf_str(dst);
	size_t i = 0;

	buf_init(&keep, dst->max);
	while (i < cur.len) {
		while (i < cur.len && cur.p[i] == ' ')
			i++;
		size_t j = i;
		while (j < cur.len && cur.p[j] != ' ')
			j++;
		struct str f = str_make(cur.p + i, j - i);
		if (f.len && !flag_present(list, f)) {
			if (buf_len(&keep))
				(void)buf_append(&keep, " ", 1);
			(void)buf_append(&keep, f.p, f.len);
		}
		i = j;
	}
	buf_reset(dst);
	(void)buf_append(dst, buf_data(&keep), buf_len(&keep));
	buf_free(&keep);
}
