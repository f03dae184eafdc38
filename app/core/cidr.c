/*
 * cidr.c — network lists. See cidr.h.
 */
#include "core/cidr.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/str.h"

/* Parses "addr[/len]" into 16 bytes (IPv4 mapped) and a prefix over 128. */
static int parse(const char *s, size_t n, uint8_t a[16], unsigned *bits)
{
	char tmp[64];
	uint64_t len;
	const char *slash = memchr(s, '/', n);
	size_t an = slash ? (size_t)(slash - s) : n;

	if (an == 0 || an >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, an);
	tmp[an] = '\0';
	memset(a, 0, 16);
	if (inet_pton(AF_INET, tmp, a + 12) == 1) {
		a[10] = a[11] = 0xff;
		*bits = 128;
		if (slash) {
			if (str_to_u64(str_make(slash + 1, n - an - 1), 32, &len) < 0)
				return -1;
			*bits = 96 + (unsigned)len;
		}
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, a) == 1) {
		*bits = 128;
		if (slash) {
			if (str_to_u64(str_make(slash + 1, n - an - 1), 128, &len) < 0)
				return -1;
			*bits = (unsigned)len;
		}
		return 0;
	}
	return -1;
}

static int each(const char *list, const uint8_t *ip, int *match)
{
	const char *p = list;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		struct str t = str_trim(str_make(p, n));
		uint8_t net[16];
		unsigned bits;
		if (t.len == 0 || parse(t.p, t.len, net, &bits) < 0)
			return -1;
		if (ip) {
			unsigned full = bits / 8, rest = bits % 8;
			if (memcmp(net, ip, full) == 0 &&
			    (rest == 0 || ((net[full] ^ ip[full]) & (0xff << (8 - rest)) & 0xff) == 0))
				*match = 1;
		}
		p += n;
		if (*p == ',' && *++p == '\0')
			return -1; /* a trailing comma: an empty entry */
	}
	return 0;
}

int cidr_list_valid(const char *list)
{
	int m = 0;
	return each(list, NULL, &m) == 0;
}

int cidr_list_match(const char *list, const char *ip)
{
	uint8_t a[16];
	unsigned bits;
	int m = 0;
	if (parse(ip, strlen(ip), a, &bits) < 0 || bits != 128)
		return 0;
	return each(list, a, &m) == 0 && m;
}

int cidr_client_key(const char *ip, char *out, size_t outsz)
{
	uint8_t a[16];
	unsigned bits;

	if (parse(ip, strlen(ip), a, &bits) < 0 || bits != 128) {
		snprintf(out, outsz, "%s", ip);
		return -1;
	}
	if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		inet_ntop(AF_INET, a + 12, out, (socklen_t)outsz);
		return 0;
	}
	char net[INET6_ADDRSTRLEN];
	memset(a + 8, 0, 8);
	inet_ntop(AF_INET6, a, net, sizeof(net));
	snprintf(out, outsz, "%s/64", net);
	return 0;
}
