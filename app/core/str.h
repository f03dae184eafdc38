/*
 * str.h — non-owning string slices.
 *
 * A struct str points into memory someone else owns (a connection's input
 * buffer, an arena, a literal). Everything parsed off the wire is handed
 * around as a slice; nothing here allocates. A slice is valid only as long
 * as the memory it points into.
 *
 * Caveats: slices are not NUL-terminated. Use str_dup (arena.h) to get a C
 * string.
 */
#ifndef TERN_CORE_STR_H
#define TERN_CORE_STR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct str {
	const char *p;
	size_t len;
};

#define STR_LIT(s) ((struct str){ (s), sizeof(s) - 1 })
#define STR_NULL ((struct str){ NULL, 0 })

/* Slice of a NUL-terminated string (NULL gives the empty slice). */
static inline struct str str_c(const char *s)
{
	return (struct str){ s, s ? strlen(s) : 0 };
}

static inline struct str str_make(const char *p, size_t len)
{
	return (struct str){ p, len };
}

/* Exact byte comparison. */
int str_eq(struct str a, struct str b);
/* ASCII case-insensitive comparison; other bytes compare exactly. */
int str_eq_ci(struct str a, struct str b);
int str_eq_ci_c(struct str a, const char *b);
/* 1 when a starts with prefix, ASCII case-insensitively. */
int str_has_prefix_ci(struct str a, const char *prefix);
/* Index of the first c in s, or -1. */
ptrdiff_t str_chr(struct str s, char c);
/* Index of the last c in s, or -1. */
ptrdiff_t str_rchr(struct str s, char c);
/* Sub-slice [off, off+len) clamped to s. */
struct str str_sub(struct str s, size_t off, size_t len);
/* s without leading and trailing spaces and tabs. */
struct str str_trim(struct str s);
/*
 * Parses an unsigned decimal number that is all of s, digit by digit with an
 * overflow check. Returns 0 and sets *v_r, or -1 when s is empty, has a
 * non-digit, or the value exceeds max.
 */
int str_to_u64(struct str s, uint64_t max, uint64_t *v_r);
/* Copies s into dst (size dstsz, NUL-terminated), lowercased; -1 if it does not fit. */
int str_lower_into(struct str s, char *dst, size_t dstsz);

#endif
