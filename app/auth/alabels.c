/*
 * alabels.c — a domain's U-labels as A-labels. See alabels.h.
 */
#include "auth/alabels.h"

#include <string.h>

#include "core/punycode.h"
#include "core/ucase.h"
#include "core/utf8.h"

#define ALABELS_LOW_MAX 512 /* a label lowercased: 63 octets may grow, never past this */

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

int auth_domain_alabels(const char *d, char *out, size_t outsz)
{
	size_t o = 0;
	for (const char *p = d;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		char label[PUNYCODE_LABEL_MAX], low[ALABELS_LOW_MAX];
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
