/*
 * fuzz_cidr.c — network lists (TERN_METRICS_ALLOW) and client addresses.
 * The input up to its first NUL is a list, the rest an address. Checks
 * against a model written here (entries split at commas and trimmed, the
 * address parsed by inet_pton, prefixes compared bit by bit): a list is
 * valid exactly when every entry is; an address matches a valid list
 * exactly when it matches one entry, and an entry exactly when the model
 * says; each network contains its own address (and an IPv4 network the
 * IPv4-mapped IPv6 form of it); "::/0" contains every IPv4 and IPv6
 * address.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cidr.h"

/* The model's reading of "addr[/len]": 16 octets (IPv4 mapped) and a prefix. */
static int model_parse(const char *s, uint8_t a[16], unsigned *bits, char addr[64])
{
	const char *slash = strchr(s, '/');
	size_t an = slash ? (size_t)(slash - s) : strlen(s);
	int v4;

	if (an == 0 || an >= 64)
		return -1;
	memcpy(addr, s, an);
	addr[an] = '\0';
	memset(a, 0, 16);
	if ((v4 = inet_pton(AF_INET, addr, a + 12) == 1)) {
		a[10] = a[11] = 0xff;
	} else if (inet_pton(AF_INET6, addr, a) != 1) {
		return -1;
	}
	*bits = 128;
	if (slash) {
		const char *d = slash + 1;
		unsigned v = 0, max = v4 ? 32 : 128;
		if (!*d)
			return -1;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return -1;
			v = v * 10 + (unsigned)(*d - '0');
			if (v > max)
				return -1;
		}
		*bits = v4 ? 96 + v : v;
	}
	return 0;
}

static int model_match(const uint8_t net[16], unsigned bits, const uint8_t ip[16])
{
	for (unsigned i = 0; i < bits; i++) {
		unsigned sh = 7 - i % 8;
		if ((net[i / 8] >> sh & 1) != (ip[i / 8] >> sh & 1))
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 2), *entry = malloc(size + 1), *list, *ip, addr[64], mapped[96];
	uint8_t net[16], ipb[16];
	unsigned bits, ipbits;
	int valid, all = 1, any = 0, ip_ok;

	memcpy(in, data, size);
	in[size] = in[size + 1] = '\0';
	list = in;
	ip = in + strlen(in) + 1;
	if (ip > in + size)
		ip = in + size; /* no NUL: the empty address */

	valid = cidr_list_valid(list);
	ip_ok = model_parse(ip, ipb, &ipbits, addr) == 0 && ipbits == 128;
	int m = cidr_list_match(list, ip);
	assert(!m || (valid && ip_ok));

	/* Entry by entry. */
	for (const char *p = list; *list;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 0) {
			all = 0;
		} else {
			memcpy(entry, p, n);
			entry[n] = '\0';
			int ok = model_parse(entry, net, &bits, addr) == 0;
			assert(cidr_list_valid(entry) == ok);
			all &= ok;
			if (ok) {
				int em = cidr_list_match(entry, ip);
				assert(em == (ip_ok && model_match(net, bits, ipb)));
				any |= em;
				assert(cidr_list_match(entry, addr) == 1);
				if (bits >= 96 && net[10] == 0xff && strchr(addr, '.') && !strchr(addr, ':')) {
					snprintf(mapped, sizeof(mapped), "::ffff:%s", addr);
					assert(cidr_list_match(entry, mapped) == 1);
				}
			}
		}
		if (!c)
			break;
		p = c + 1;
	}
	assert(valid == all);
	if (valid)
		assert(m == any);
	if (ip_ok)
		assert(cidr_list_match("::/0", ip) == 1);
	free(entry);
	free(in);
	return 0;
}
