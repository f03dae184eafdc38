/*
 * fuzz_proxy.c — what a proxy sends to say who the client is: the PROXY
 * protocol header (net/proxy_proto.c) and HTTP's Forwarded /
 * X-Forwarded-For fields (net/forwarded.c). The first byte picks which.
 * Checks: a header's length is within the input, the same header parses
 * to the same length alone, and every shorter prefix asks for more (the
 * listener reads a header in any pieces and never past its end); "need
 * more" only under the size limits; an address found is a literal IP;
 * a scheme and host found (forwarded_origin) are https/http and a valid
 * lowercase host[:port], whichever field the text stands in.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "net/forwarded.h"
#include "net/proxy_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr h, h2;
	static char text[2 * FORWARDED_MAX + 1];
	char out[64];
	struct forwarded_origin o;
	unsigned char bin[16];

	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++, size--;
	if (mode % 3 == 0) {
		int r = proxy_parse(data, size, &h);
		if (r == -2)
			assert(size < PROXY_V2_MAX);
		if (r > 0) {
			assert((size_t)r <= size);
			assert(proxy_parse(data, (size_t)r, &h2) == r);
			assert(h2.has_addr == h.has_addr && h2.version == h.version);
			for (size_t k = 0; k < (size_t)r; k++)
				assert(proxy_parse(data, k, &h2) == -2);
			if (h.has_addr)
				assert(h.src.ss_family == AF_INET || h.src.ss_family == AF_INET6);
		}
		return 0;
	}
	if (size > 2 * FORWARDED_MAX)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	const char *trusted = "10.0.0.0/8,::1,192.0.2.1";
	int got = mode % 3 == 1 ? forwarded_client(text, NULL, trusted, out, sizeof out)
				: forwarded_client(NULL, text, trusted, out, sizeof out);
	if (got)
		assert(inet_pton(AF_INET, out, bin) == 1 || inet_pton(AF_INET6, out, bin) == 1);
	for (int f = 0; f < 3; f++) {
		forwarded_origin(f == 0 ? text : NULL, NULL, f == 1 ? text : NULL, f == 2 ? text : NULL,
				 &o);
		assert(o.https >= -1 && o.https <= 1);
		size_t n = strlen(o.host);
		assert(n < sizeof o.host);
		if (n) {
			assert(forwarded_host_valid(o.host, n));
			for (size_t k = 0; k < n; k++)
				assert(o.host[k] < 'A' || o.host[k] > 'Z');
		}
	}
	return 0;
}
