/*
 * fuzz_imap_url.c — CATENATE's relative IMAP URLs (imap/imap_url.h) from
 * arbitrary bytes: the parser never reads past the input, and an accepted
 * URL has a non-empty NUL-free mailbox, a UID, a section whose length is
 * its string's, and a partial range only with ;PARTIAL=. The same input
 * parses the same way twice (no hidden state). Taken as a URLAUTH URL
 * (imap_url_parse_auth), an accepted one has an owner, an access, a rump
 * inside the input, and a token of hex digits when it has a mechanism.
 * The input is also taken as a URL's section (imap_url_header_fields):
 * the part number is a prefix of it, every name is inside the input, has
 * no quote or backslash, and unless it was quoted is non-empty and free
 * of spaces and parentheses.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parser.h"
#include "imap/imap_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size octets: ASan sees any read past it. */
	char *p = malloc(size ? size : 1);
	struct imap_url u, v;

	memcpy(p, data, size);
	int r = imap_url_parse(str_make(p, size), &u);
	assert(r == IMAP_URL_OK || r == IMAP_URL_BAD || r == IMAP_URL_NOT_RELATIVE ||
	       r == IMAP_URL_URLAUTH);
	if (r == IMAP_URL_OK) {
		assert(u.mailbox[0] != '\0' && u.uid >= 1);
		assert(strlen(u.section) == u.section_len);
		assert(u.partial || (u.offset == 0 && u.length == 0));
		assert(size > 0 && p[0] == '/');
	}
	assert(imap_url_parse(str_make(p, size), &v) == r);
	if (r == IMAP_URL_OK)
		assert(memcmp(&u, &v, sizeof(u)) == 0);
	struct imap_url_auth a;
	if (imap_url_parse_auth(str_make(p, size), &a) == 0) {
		assert(a.user[0] && a.access[0] && a.rump_len > 0 && a.rump_len <= size);
		assert(!a.mech[0] || a.token[0]);
		for (const char *t = a.token; *t; t++)
			assert((*t >= '0' && *t <= '9') || (*t >= 'a' && *t <= 'f') || (*t >= 'A' && *t <= 'F'));
	}
	struct imap_arg fields[IMAP_URL_FIELDS_MAX + 1];
	struct str spec;
	int not;
	r = imap_url_header_fields(str_make(p, size), &spec, &not, fields);
	assert(r >= -1 && r <= 1);
	if (r == 1) {
		size_t n = 0;
		assert(spec.p == p && spec.len < size);
		for (; fields[n].type != IMAP_ARG_END; n++) {
			const struct str *f = &fields[n].str;
			assert(n < IMAP_URL_FIELDS_MAX && fields[n].type == IMAP_ARG_ATOM);
			assert(f->p >= p && f->p + f->len <= p + size);
			/* Names start after " (": f->p[-1] is inside the input. */
			int quoted = f->p[-1] == '"';
			assert(!memchr(f->p, '"', f->len) && !memchr(f->p, '\\', f->len));
			assert(quoted || (f->len > 0 && !memchr(f->p, ' ', f->len) &&
					  !memchr(f->p, '(', f->len) && !memchr(f->p, ')', f->len)));
		}
		assert(n >= 1);
	}
	free(p);
	return 0;
}
