/*
 * fuzz_imap_resp.c — another IMAP server's responses as tern migrate
 * reads them (imap_resp.h): FETCH, LIST, NAMESPACE, EXAMINE's numbered
 * codes and strings (also ManageSieve's) parse or are refused, every pointer handed out lies
 * inside the input, every prefix kept is a terminated string within its
 * bound, and a date that parses is one a 64-bit time holds.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup/imap_resp.h"
#include "core/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size ? size : 1);
	struct imapr_fetch f;
	struct buf name;
	const char *attrs;
	size_t an;
	char delim;
	uint64_t n;
	time_t t;

	memcpy(p, data, size);
	int r = imapr_fetch(p, size, &f);
	assert(r >= -1 && r <= 1);
	if (r == 1) {
		assert(!f.flags || (f.flags >= p && f.flags + f.flags_len <= p + size));
		assert(!f.has_body || (f.body >= p && f.body + f.body_len <= p + size));
	}
	buf_init(&name, 4096);
	r = imapr_list(p, size, &attrs, &an, &delim, &name);
	assert(r >= -1 && r <= 1);
	if (r == 1)
		assert(attrs >= p && attrs + an <= p + size && buf_len(&name) <= 4096);
	buf_free(&name);
	struct imapr_ns ns;
	r = imapr_namespace(p, size, &ns);
	assert(r >= -1 && r <= 1);
	if (r == 1)
		for (int k = 0; k < 3; k++) {
			assert(ns.n[k] <= IMAPR_NS_MAX);
			for (size_t i = 0; i < ns.n[k]; i++)
				assert(memchr(ns.v[k][i].prefix, 0, IMAPR_NS_PREFIX_MAX) != NULL);
		}
	size_t off = 0;
	struct buf str;
	buf_init(&str, 4096);
	while ((r = imapr_string(p, size, &off, &str)) >= 0 && off < size)
		assert(off <= size && buf_len(&str) <= 4096);
	assert(off <= size);
	buf_free(&str);
	r = imapr_literal_at_end(p, size, &n);
	assert(r >= -1 && r <= 1);
	(void)imapr_date(p, size, &t);
	uint32_t v = 7;
	r = imapr_code_num(p, size, "UIDVALIDITY", &v);
	assert(r >= -1 && r <= 1 && (r == 1 || v == 7));
	free(p);
	return 0;
}
