/*
 * sieve_mailto.c — mailto URIs for notifications; see sieve_mailto.h.
 */
#include "sieve/sieve_mailto.h"

#include <string.h>

#include "core/hex.h"

/* s with its %XX escapes undone, from a; -1 for a malformed one. */
static int pct_decode(struct str s, struct arena *a, struct str *out)
{
	char *d = arena_alloc(a, s.len + 1);
	size_t n = 0;
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] != '%') {
			d[n++] = s.p[i];
			continue;
		}
		int hi = i + 2 < s.len ? hex_digit(s.p[i + 1]) : -1,
		    lo = hi >= 0 ? hex_digit(s.p[i + 2]) : -1;
		if (lo < 0)
			return -1;
		d[n++] = (char)(hi * 16 + lo);
		i += 2;
	}
	d[n] = '\0';
	*out = str_make(d, n);
	return 0;
}

static int plausible(struct str addr)
{
	ptrdiff_t at = str_rchr(addr, '@');
	if (at <= 0 || (size_t)at + 1 >= addr.len || addr.len > SIEVE_MAILTO_ADDR_MAX)
		return 0;
	for (size_t i = 0; i < addr.len; i++) {
		unsigned char c = (unsigned char)addr.p[i];
		if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '"' || c == ',' || c == '(' ||
		    c == ')')
			return 0;
	}
	return 1;
}

/* Adds the comma-separated addresses of the encoded list s. */
static int add_rcpts(struct str s, struct arena *a, struct sieve_mailto *m, int bcc)
{
	struct str d;
	if (pct_decode(s, a, &d) < 0)
		return -1;
	size_t i = 0;
	while (i <= d.len) {
		size_t j = i;
		while (j < d.len && d.p[j] != ',')
			j++;
		struct str addr = str_trim(str_make(d.p + i, j - i));
		if (addr.len) {
			if (!plausible(addr) || m->nrcpts >= SIEVE_MAILTO_RCPTS_MAX)
				return -1;
			m->bcc[m->nrcpts] = (uint8_t)bcc;
			m->rcpts[m->nrcpts++] = addr;
		}
		i = j + 1;
	}
	return 0;
}

int sieve_mailto_parse(struct str uri, struct arena *a, struct sieve_mailto *m)
{
	memset(m, 0, sizeof *m);
	if (!str_has_prefix_ci(uri, "mailto:"))
		return -1;
	struct str rest = str_sub(uri, 7, uri.len);
	ptrdiff_t q = str_chr(rest, '?');
	struct str to = q < 0 ? rest : str_make(rest.p, (size_t)q);
	if (add_rcpts(to, a, m, 0) < 0)
		return -1;
	struct str hf = q < 0 ? STR_NULL : str_sub(rest, (size_t)q + 1, rest.len);
	size_t i = 0;
	while (i < hf.len) {
		size_t j = i;
		while (j < hf.len && hf.p[j] != '&')
			j++;
		struct str pair = str_make(hf.p + i, j - i);
		i = j + 1;
		ptrdiff_t eq = str_chr(pair, '=');
		if (eq <= 0)
			continue;
		struct str name = str_make(pair.p, (size_t)eq), value = str_sub(pair, (size_t)eq + 1, pair.len);
		if (str_eq_ci(name, STR_LIT("to")) || str_eq_ci(name, STR_LIT("cc")) ||
		    str_eq_ci(name, STR_LIT("bcc"))) {
			if (add_rcpts(value, a, m, str_eq_ci(name, STR_LIT("bcc"))) < 0)
				return -1;
		} else if (str_eq_ci(name, STR_LIT("subject"))) {
			if (pct_decode(value, a, &m->subject) < 0)
				return -1;
		} else if (str_eq_ci(name, STR_LIT("body"))) {
			if (pct_decode(value, a, &m->body) < 0)
				return -1;
		}
	}
	return m->nrcpts ? 0 : -1;
}
