/*
 * fuzz_spam_lists.c — the spam filter's two administrator texts: the
 * blocklist zone list (spam/spam_dnsbl.h) and an allow/block list
 * (spam/spam_lists.h). The input up to its first NUL is both; the rest
 * is a subject address. Checks: a zone list that parses has at most
 * SPAM_DNSBL_ZONES_MAX zones, each a NUL-ended name with ranges in
 * order; a list that is valid canonicalises, the canonical form is valid
 * again, a fixed point, and matches the same subjects.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spam/spam_dnsbl.h"
#include "spam/spam_lists.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spam_dnsbl_conf c;
	static char text[8192], canon[8192], again[8192];
	char err[160], addr[256];

	if (size >= sizeof text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	size_t tl = strlen(text);
	const char *rest = tl < size ? text + tl + 1 : "";
	snprintf(addr, sizeof addr, "%s", rest);

	if (spam_dnsbl_parse(text, &c, err, sizeof err) == 0) {
		assert(c.n <= SPAM_DNSBL_ZONES_MAX);
		for (size_t i = 0; i < c.n; i++) {
			assert(memchr(c.z[i].zone, '\0', sizeof c.z[i].zone));
			assert(c.z[i].ncodes <= SPAM_DNSBL_CODES_MAX);
			for (size_t j = 0; j < c.z[i].ncodes; j++)
				assert(c.z[i].code[j].lo <= c.z[i].code[j].hi);
		}
	} else {
		assert(strncmp(err, "line ", 5) == 0);
	}

	if (!spam_list_valid(text, err, sizeof err))
		return 0;
	if (spam_list_canon(text, canon, sizeof canon) < 0)
		return 0; /* longer than canon */
	assert(spam_list_valid(canon, err, sizeof err));
	assert(spam_list_canon(canon, again, sizeof again) == 0);
	assert(strcmp(canon, again) == 0);
	struct spam_subject s = {addr, addr, 1, addr, 1};
	assert(spam_list_match(text, &s, 1, NULL, 0) == spam_list_match(canon, &s, 1, NULL, 0));
	return 0;
}
