/*
 * dmarc_from.c — the Author Domain of a message (RFC 9989 §5.3.1). See
 * dmarc.h.
 *
 * The From values are read with the one address-list parser the tree has
 * (mime_field_addresses, which IMAP ENVELOPE uses), so DMARC and what a
 * mail client shows agree on the address. Several mailboxes of one domain
 * give that domain; two distinct domains give none, as do groups without
 * mailboxes and addresses without a domain.
 */
#include "auth/dmarc.h"

#include <string.h>

#include "core/arena.h"
#include "core/punycode.h"
#include "core/ucase.h"
#include "core/utf8.h"
#include "mime/mime_field.h"

#define FROM_ADDRESSES_MAX 32

/* p[0..n) with every letter lowercased (Unicode's simple mapping) into
 * out (outsz octets): ill-formed octets are kept, for
 * punycode_label_ascii() to refuse. The length, or 0 when it does not fit. */
static size_t label_lower(const char *p, size_t n, char *out, size_t outsz)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq((const unsigned char *)p + i, n - i);
		char u[4];
		size_t ul = 1;
		if (l == 0) {
			u[0] = p[i];
			l = 1;
		} else {
			ul = utf8_encode(ucase_lower(utf8_decode((const unsigned char *)p + i, l, &l)), u);
		}
		if (o + ul > outsz)
			return 0;
		memcpy(out + o, u, ul);
		o += ul;
		i += l;
	}
	return o;
}

/* d with each U-label as its A-label (RFC 7489 §3.2: the policy is
 * published at the A-label name; a From written in UTF-8 must find it).
 * A U-label is lowercased first, as an ASCII label is: a capital
 * letter changes the Punycode, and BÄNK.example must find bänk.example's
 * policy (and be the same domain as it) as EXAMPLE finds example's.
 * 0, or -1 when a label has no A-label or the name does not fit. */
static int a_labels(const char *d, char *out, size_t outsz)
{
	size_t o = 0;
	for (const char *p = d;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		char label[PUNYCODE_LABEL_MAX], low[DMARC_DOMAIN_MAX * 2];
		size_t lown = label_lower(p, n, low, sizeof low);
		size_t ln = lown ? punycode_label_ascii(low, lown, label) : 0;
		if (ln == 0 || o + ln + 2 > outsz)
			return -1;
		memcpy(out + o, label, ln);
		o += ln;
		if (!dot)
			break;
		out[o++] = '.';
		p = dot + 1;
	}
	out[o] = '\0';
	return 0;
}

int dmarc_author_domain(const struct str *from_values, size_t n, char *out, size_t outsz)
{
	struct arena *a = arena_new(4096);
	int found = 0, unusable = 0, several = 0;

	for (size_t i = 0; i < n; i++) {
		struct mime_address *list;
		uint32_t cnt;
		mime_field_addresses(a, from_values[i], &list, &cnt, FROM_ADDRESSES_MAX);
		for (uint32_t k = 0; k < cnt; k++) {
			char d[DMARC_DOMAIN_MAX];
			if (!list[k].host.p || !list[k].mailbox.p)
				continue; /* a group marker */
			if (str_eq(list[k].host, STR_LIT("MISSING_DOMAIN")) ||
			    str_lower_into(list[k].host, d, sizeof d) < 0) {
				unusable = 1;
				continue;
			}
			size_t dl = strlen(d);
			if (dl && d[dl - 1] == '.')
				d[dl - 1] = '\0';
			int utf8 = 0;
			for (const char *c = d; *c; c++)
				utf8 |= (unsigned char)*c >= 0x80;
			char alab[DMARC_DOMAIN_MAX];
			if (utf8 && a_labels(d, alab, sizeof alab) == 0)
				memcpy(d, alab, strlen(alab) + 1);
			else if (utf8)
				d[0] = '\0'; /* no A-label: unusable */
			if (strlen(d) >= outsz || !*d)
				unusable = 1;
			else if (!found) {
				memcpy(out, d, strlen(d) + 1);
				found = 1;
			} else if (strcmp(out, d) != 0) {
				several = 1;
			}
		}
	}
	arena_free(&a);
	if (!found)
		return -1;
	/* Beside the domain a reader sees, another one, or an address
	 * without one: the forger's way to lift that domain's policy. */
	return unusable || several ? -2 : 0;
}
