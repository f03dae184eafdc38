/*
 * fuzz_srs.c — SRS addresses (forward/srs.h) as they arrive in RCPT TO and
 * MAIL FROM. The input (cut at its first NUL) is parsed as a local part,
 * reversed with a fixed key (the output is "" after any refusal), and
 * rewritten as a sender: a rewrite must reverse with the same key, to the
 * input itself for a plain sender and to the input up to case for an SRS0
 * one, and must fail with another key.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "forward/srs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct srs key = {.key = {1, 2, 3}}, other = {.key = {3, 2, 1}};
	const int64_t now = (int64_t)20414 * 86400;
	char out[SRS_ADDR_MAX + 1], back[SRS_ADDR_MAX + 1];
	struct srs_parts p;
	char *in = malloc(size + 1);

	memcpy(in, data, size);
	in[size] = '\0';
	int r = srs_parse(in, size, &p);
	assert(r == SRS_OK || r == SRS_NOT_SRS || r == SRS_EINVAL);
	if (r == SRS_OK)
		assert(p.hash_len > 0 && p.hash + p.hash_len <= in + size);

	r = srs_reverse(&key, in, now, out, sizeof out);
	assert(r >= SRS_ETOOLONG && r <= SRS_NOT_SRS);
	assert(strlen(out) <= SRS_ADDR_MAX && (r == SRS_OK || out[0] == '\0'));

	if (srs_forward(&key, in, "fwd.test", now, out, sizeof out) == SRS_OK) {
		assert(strlen(out) <= SRS_ADDR_MAX);
		assert(srs_reverse(&key, out, now, back, sizeof back) == SRS_OK);
		const char *at = strrchr(in, '@');
		int kind = srs_parse(in, (size_t)(at - in), &p) == SRS_OK ? p.kind : -1;
		if (kind == -1)
			assert(strcmp(back, in) == 0);
		else if (kind == 0)
			assert(strcasecmp(back, in) == 0);
		assert(srs_reverse(&other, out, now, back, sizeof back) == SRS_EHASH);
	}
	free(in);
	return 0;
}
