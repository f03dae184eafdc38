/*
 * spam_confusable.c — look-alike folding for host names: scripts of code
 * points, the skeleton two names share when a reader cannot tell them
 * apart, and hosts with their xn-- labels decoded (spam_private.h).
 *
 * The skeletons are UTS #39's, generated at build time from Unicode's
 * confusables.txt and UnicodeData.txt (spam/confusable_table.h says how,
 * and how names without case change them); folding is one binary search
 * per code point.
 *
 * Caveats: combining marks that come from different code points are not
 * put back in canonical order (a name spelling one accent two ways with
 * two marks keeps two skeletons), and Hangul syllables are not
 * decomposed. Scripts are known by ranges for the three that matter to
 * Latin look-alikes (Latin, Greek, Cyrillic), not by Unicode's Scripts
 * data.
 */
#include <string.h>

#include "core/punycode.h"
#include "core/utf8.h"
#include "spam/confusable_table.h"
#include "spam/spam_private.h"

enum spam_script spam_script_of(uint32_t cp)
{
	if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
	    (cp >= 0xc0 && cp <= 0x24f && cp != 0xd7 && cp != 0xf7) || /* Latin-1, Extended-A/B */
	    (cp >= 0x250 && cp <= 0x2af) ||                            /* IPA */
	    (cp >= 0x1d00 && cp <= 0x1d25) || (cp >= 0x1e00 && cp <= 0x1eff) ||
	    (cp >= 0x2c60 && cp <= 0x2c7f) || (cp >= 0xa720 && cp <= 0xa7ff) ||
	    (cp >= 0xab30 && cp <= 0xab5a) || (cp >= 0xff21 && cp <= 0xff3a) ||
	    (cp >= 0xff41 && cp <= 0xff5a))
		return SPAM_SCRIPT_LATIN;
	if ((cp >= 0x370 && cp <= 0x3ff && cp != 0x37e && cp != 0x387) ||
	    (cp >= 0x1f00 && cp <= 0x1fff))
		return SPAM_SCRIPT_GREEK;
	if ((cp >= 0x400 && cp <= 0x52f) || (cp >= 0x1c80 && cp <= 0x1c8f) ||
	    (cp >= 0x2de0 && cp <= 0x2dff) || (cp >= 0xa640 && cp <= 0xa69f))
		return SPAM_SCRIPT_CYRILLIC;
	/* ASCII digits and punctuation, combining marks, general punctuation */
	if (cp < 0x80 || (cp >= 0x300 && cp <= 0x36f) || (cp >= 0x2000 && cp <= 0x206f))
		return SPAM_SCRIPT_COMMON;
	return SPAM_SCRIPT_OTHER;
}

/* The table entry of cp, or -1. */
static long conf_find(uint32_t cp)
{
	size_t lo = 0, hi = conf_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (conf_cp[mid] == cp)
			return (long)mid;
		if (conf_cp[mid] < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int spam_skeleton(struct str s, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)s.p;
	for (size_t i = 0; i < s.len;) {
		size_t n = utf8_seq(p + i, s.len - i);
		long k = -1;
		if (n) { /* an ill-formed octet is kept as it is */
			size_t len;
			k = conf_find(utf8_decode(p + i, s.len - i, &len));
		}
		int rc = k >= 0 ? buf_append(out, conf_pool + CONF_OFF(conf_to[k]), CONF_LEN(conf_to[k]))
		                : buf_append(out, s.p + i, n ? n : 1);
		if (rc < 0)
			return -1;
		i += n ? n : 1;
	}
	return 0;
}

int spam_host_unicode(struct str host, struct buf *out)
{
	size_t s = 0;
	for (size_t i = 0; i <= host.len; i++) {
		if (i < host.len && host.p[i] != '.')
			continue;
		struct str label = str_make(host.p + s, i - s);
		if (label.len > 4 && str_has_prefix_ci(label, "xn--")) {
			uint32_t cps[64];
			size_t n = punycode_decode(str_make(label.p + 4, label.len - 4), cps, 64);
			for (size_t k = 0; k < n; k++) {
				char u[4];
				if (buf_append(out, u, utf8_encode(cps[k], u)) < 0)
					return -1;
			}
			if (n == 0 && buf_append(out, label.p, label.len) < 0)
				return -1;
		} else if (buf_append(out, label.p, label.len) < 0) {
			return -1;
		}
		if (i < host.len && buf_append(out, ".", 1) < 0)
			return -1;
		s = i + 1;
	}
	return 0;
}
