/*
 * spam_rules_phish.c — phishing rules over the links: a link whose text
 * shows one domain and whose target is another, host names mixing
 * scripts (homographs), and hosts that look like one of our domains or
 * the sender's without being it (spam_private.h).
 */
#include <string.h>

#include "core/utf8.h"
#include "spam/spam_private.h"

/* The host a link text shows ("www.bank.example", "https://bank.example/x",
 * "bank.example"), lowercased into dst; 0 when the text is not one. */
static size_t shown_host(struct str text, char *dst, size_t dstsz)
{
	text = str_trim(text);
	if (!text.len || text.len > 200)
		return 0;
	if (str_has_prefix_ci(text, "http://") || str_has_prefix_ci(text, "https://") ||
	    str_has_prefix_ci(text, "www."))
		return spam_url_host(text, dst, dstsz);
	/* a bare host name: letters, digits, '-' and dots, an alphabetic TLD */
	size_t n = 0, dots = 0, tld = 0;
	for (; n < text.len && text.p[n] != '/'; n++) {
		char c = text.p[n];
		if (c == '.') {
			dots++;
			tld = 0;
		} else if ((c | 32) >= 'a' && (c | 32) <= 'z') {
			tld++;
		} else if ((c >= '0' && c <= '9') || c == '-') {
			tld = 1000;
		} else {
			return 0;
		}
	}
	if (!dots || tld < 2 || tld > 6 || n >= dstsz)
		return 0;
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)(text.p[i] >= 'A' && text.p[i] <= 'Z' ? text.p[i] + 32 : text.p[i]);
	dst[n] = '\0';
	return n;
}

/* 1 when a label of the (Unicode) host mixes two of Latin, Greek and
 * Cyrillic, the scripts whose letters pass for one another; digits,
 * hyphens and marks belong to any. A label all in one script, as a
 * Cyrillic name under .рф, is not mixed. */
static int mixed_scripts(struct str host)
{
	const unsigned char *p = (const unsigned char *)host.p;
	const unsigned lgc = 1u << SPAM_SCRIPT_LATIN | 1u << SPAM_SCRIPT_GREEK | 1u << SPAM_SCRIPT_CYRILLIC;
	unsigned seen = 0;
	for (size_t i = 0; i <= host.len;) {
		if (i == host.len || p[i] == '.') {
			unsigned s = seen & lgc;
			if (s & (s - 1)) /* more than one bit */
				return 1;
			seen = 0;
			i++;
			continue;
		}
		size_t n = utf8_seq(p + i, host.len - i);
		uint32_t cp = 0x10000; /* an ill-formed octet: none of the three */
		if (n)
			cp = utf8_decode(p + i, host.len - i, &n);
		else
			n = 1;
		seen |= 1u << spam_script_of(cp);
		i += n;
	}
	return 0;
}

static int same_skeleton(struct str a, struct str b)
{
	struct buf x, y;
	buf_init(&x, 512);
	buf_init(&y, 512);
	int same = spam_skeleton(a, &x) == 0 && spam_skeleton(b, &y) == 0 &&
	           str_eq(buf_str(&x), buf_str(&y));
	buf_free(&x);
	buf_free(&y);
	return same;
}

/* Does host (Unicode) look like target without being it? */
static int looks_like(struct str host, struct str target)
{
	if (!target.len || !host.len)
		return 0;
	struct str hb = spam_domain_base(host), tb = spam_domain_base(target);
	if (str_eq_ci(hb, tb))
		return 0;
	return same_skeleton(hb, tb);
}

void spam_rules_phish(const struct spam_msg *m, const struct spam_ours *o,
                      struct spam_result *res)
{
	int mismatch = 0, mixed = 0, lookalike = 0;
	for (uint32_t i = 0; i < m->nurls; i++) {
		const struct spam_url *u = &m->urls[i];
		char shown[256];
		if (u->host.len && u->text.len && (u->flags & SPAM_URL_HTML)) {
			size_t n = shown_host(u->text, shown, sizeof shown);
			if (n && !str_eq_ci(spam_domain_base(str_make(shown, n)), spam_domain_base(u->host)))
				mismatch = 1;
		}
		struct buf uh;
		buf_init(&uh, 1024);
		spam_host_unicode(u->host, &uh);
		struct str h = buf_str(&uh);
		if ((u->flags & SPAM_URL_IDN) && mixed_scripts(h))
			mixed = 1;
		for (size_t k = 0; o && k < o->n && !lookalike; k++)
			lookalike = looks_like(h, str_c(o->domains[k]));
		if (!lookalike)
			lookalike = looks_like(h, m->from_domain);
		buf_free(&uh);
	}
	if (mismatch)
		spam_result_add(res, "PHISH_LINK_MISMATCH", 2.5);
	if (mixed)
		spam_result_add(res, "PHISH_IDN_MIXED", 3.0);
	if (lookalike)
		spam_result_add(res, "PHISH_LOOKALIKE", 3.5);
}
