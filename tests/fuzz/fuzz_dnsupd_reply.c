/*
 * fuzz_dnsupd_reply.c — DNS-01's update reply reader and its encoder.
 * The reply reader takes any bytes: a result is -1 or an RCODE (0..15).
 * The encoder takes names and TXT text from the input (split at NULs):
 * it either refuses (0) or writes a message that fits the buffer, whose
 * header counts are 1/0/1/1 and whose own reply check sees a query.
 * The TSIG check of a reply refuses every input (nobody here holds the
 * key's secret) without reading outside it.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "acme/acme_dnsupd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int rc = acme_dnsupd_reply(data, size, size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0);
	assert(rc >= -1 && rc <= 15);

	char buf[1024], *parts[3] = {buf, NULL, NULL};
	size_t n = size < sizeof buf - 1 ? size : sizeof buf - 1;
	memcpy(buf, data, n);
	buf[n] = '\0';
	for (int i = 1; i < 3; i++) {
		char *z = memchr(parts[i - 1], '\0', (size_t)(buf + n - parts[i - 1]) + 1);
		parts[i] = z && z < buf + n ? z + 1 : buf + n;
	}
	struct tsig_key k = {.name = "k.", .secret = "0123456789abcdef", .secret_len = 16};
	unsigned char out[600];
	size_t len = acme_dnsupd_encode(out, sizeof out, 7, parts[0], parts[1], parts[2], 60,
	                                size & 1, &k, 1800000000);
	static unsigned char req[600];
	static size_t reqlen;
	if (reqlen == 0)
		reqlen = acme_dnsupd_encode(req, sizeof req, 7, "example.test", "_acme-challenge.example.test",
		                            "x", 60, 0, &k, 1800000000);
	char why[160];
	assert(acme_dnsupd_verify(data, size, req, reqlen, &k, 1800000000, why, sizeof why) == -1);
	if (len > 0) {
		assert(len <= sizeof out);
		assert(out[5] == 1 && out[7] == 0 && out[9] == 1 && out[11] == 1);
		assert(acme_dnsupd_reply(out, len, 7) == -1); /* a query, not a response */
	}
	return 0;
}
