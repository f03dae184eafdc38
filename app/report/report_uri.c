/*
 * report_uri.c — reporting URIs of DMARC and TLS-RPT records
 * (report_uri.h).
 */
#include "report/report_uri.h"

#include <string.h>

#include "core/hex.h"
#include "sieve/sieve_mailto.h"

/* RFC 7489 §6.3: "!" 1*DIGIT [ "k" / "m" / "g" / "t" ], the part after
 * the "!" in s. Bytes in *r (UINT64_MAX past 64 bits); -1 when s is not
 * of that form. */
static int size_limit(struct str s, uint64_t *r)
{
	uint64_t v = 0;
	size_t i = 0;
	int big = 0;
	for (; i < s.len && s.p[i] >= '0' && s.p[i] <= '9'; i++) {
		if (v > (UINT64_MAX >> 4) / 10) /* room left for the largest unit */
			big = 1;
		else
			v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	if (i == 0 || i + 1 < s.len)
		return -1;
	unsigned shift = 0;
	if (i < s.len) {
		const char *units = "kmgt", *k = memchr(units, s.p[i] | 0x20, 4);
		if (k == NULL)
			return -1;
		shift = 10 * (unsigned)(k - units + 1);
	}
	*r = big || (shift && v > (UINT64_MAX >> shift)) ? UINT64_MAX : v << shift;
	return 0;
}

int report_uri_parse(struct str uri, int dmarc, struct report_uri *u)
{
	memset(u, 0, sizeof *u);
	uri = str_trim(uri);
	if (dmarc) {
		ptrdiff_t bang = str_chr(uri, '!');
		if (bang >= 0) {
			if (size_limit(str_sub(uri, (size_t)bang + 1, uri.len), &u->max_size) < 0)
				return -1;
			uri.len = (size_t)bang;
		}
	}
	if (str_has_prefix_ci(uri, "https://")) {
		u->kind = REPORT_URI_HTTPS;
		return 0;
	}
	if (!str_has_prefix_ci(uri, "mailto:"))
		return -1;
	u->kind = REPORT_URI_MAILTO;
	struct str to = str_sub(uri, 7, uri.len);
	ptrdiff_t q = str_chr(to, '?');
	if (q >= 0)
		to.len = (size_t)q; /* hfields: not ours to add */
	size_t n;
	if (pct_decode(to.p, to.len, u->addr, sizeof u->addr, &n, 0) < 0)
		return -1;
	if (!sieve_mailbox_valid(str_make(u->addr, n)))
		return -1;
	/* the domain after the last "@" (a quoted local part may hold one) */
	for (char *d = strrchr(u->addr, '@'); *d; d++)
		if (*d >= 'A' && *d <= 'Z')
			*d = (char)(*d + 32);
	return 0;
}
