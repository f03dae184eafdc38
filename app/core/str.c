/*
 * str.c — slice helpers. See str.h.
 */
#include "str.h"

static inline unsigned char lc(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

int str_eq(struct str a, struct str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

int str_eq_ci(struct str a, struct str b)
{
	if (a.len != b.len)
		return 0;
	for (size_t i = 0; i < a.len; i++)
		if (lc((unsigned char)a.p[i]) != lc((unsigned char)b.p[i]))
			return 0;
	return 1;
}

int str_eq_ci_c(struct str a, const char *b)
{
	return str_eq_ci(a, str_c(b));
}

int str_has_prefix_ci(struct str a, const char *prefix)
{
	size_t n = strlen(prefix);
	return a.len >= n && str_eq_ci(str_make(a.p, n), str_make(prefix, n));
}

ptrdiff_t str_chr(struct str s, char c)
{
	const char *q = s.len ? memchr(s.p, c, s.len) : NULL;
	return q ? q - s.p : -1;
}

ptrdiff_t str_rchr(struct str s, char c)
{
	for (size_t i = s.len; i > 0; i--)
		if (s.p[i - 1] == c)
			return (ptrdiff_t)(i - 1);
	return -1;
}

struct str str_sub(struct str s, size_t off, size_t len)
{
	if (off > s.len)
		off = s.len;
	if (len > s.len - off)
		len = s.len - off;
	return str_make(s.p + off, len);
}

struct str str_trim(struct str s)
{
	while (s.len && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.len--;
	}
	while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
		s.len--;
	return s;
}

int str_to_u64(struct str s, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;

	if (s.len == 0)
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		unsigned d = (unsigned char)s.p[i] - '0';
		if (d > 9)
			return -1;
		/* Checked before multiplying so the peer's digits never wrap. */
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*v_r = v;
	return 0;
}

int str_lower_into(struct str s, char *dst, size_t dstsz)
{
	if (s.len >= dstsz)
		return -1;
	for (size_t i = 0; i < s.len; i++)
		dst[i] = (char)lc((unsigned char)s.p[i]);
	dst[s.len] = '\0';
	return 0;
}
