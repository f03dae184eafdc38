/*
 * cidr.c — network lists. See cidr.h.
 */
#include "core/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
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

int cidr_site_key(const char *ip, char *out, size_t outsz)
{
	uint8_t a[16];
	unsigned bits;
	char net[INET6_ADDRSTRLEN];

	if (outsz)
		out[0] = '\0';
	if (parse(ip, strlen(ip), a, &bits) < 0 || bits != 128 ||
	    memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
		return -1;
	memset(a + 6, 0, 10);
	inet_ntop(AF_INET6, a, net, sizeof(net));
	snprintf(out, outsz, "%s/48", net);
	return 0;
}

/*
 * Every range of the IANA Special-Purpose Address Registries (IPv4 and
 * IPv6, as of 2025) that is not globally reachable, plus multicast and
 * a few that are but lead nowhere a push belongs (the anycast addresses
 * inside 192.0.0.0/24 and 2001::/23). IPv4 ranges are written as IPv4
 * and matched in their IPv4-mapped form (parse() above). An entry with
 * v4_at > 0 does not refuse by itself: it names where an IPv4 address
 * sits inside the IPv6 one (mask: Teredo stores its client's inverted),
 * and that IPv4 address is judged instead, so a NAT64 or 6to4 address
 * of 10.0.0.1 is refused as 10.0.0.1 is. First match wins: Teredo's
 * /32 comes before the /23 around it.
 */
static const struct special {
	const char *net;
	int v4_at;
	uint8_t mask;
} specials[] = {
	{"0.0.0.0/8", 0, 0},	     /* "this network" */
	{"10.0.0.0/8", 0, 0},	     /* private */
	{"100.64.0.0/10", 0, 0},     /* shared address space (CGN) */
	{"127.0.0.0/8", 0, 0},	     /* loopback */
	{"169.254.0.0/16", 0, 0},    /* link-local */
	{"172.16.0.0/12", 0, 0},     /* private */
	{"192.0.0.0/24", 0, 0},	     /* IETF protocol assignments, DS-Lite, NAT64 discovery */
	{"192.0.2.0/24", 0, 0},	     /* TEST-NET-1 */
	{"192.88.99.0/24", 0, 0},    /* 6to4 relay anycast (deprecated) */
	{"192.168.0.0/16", 0, 0},    /* private */
	{"198.18.0.0/15", 0, 0},     /* benchmarking */
	{"198.51.100.0/24", 0, 0},   /* TEST-NET-2 */
	{"203.0.113.0/24", 0, 0},    /* TEST-NET-3 */
	{"224.0.0.0/4", 0, 0},	     /* multicast */
	{"240.0.0.0/4", 0, 0},	     /* reserved, and 255.255.255.255 */
	{"::/96", 0, 0},	     /* ::, ::1, IPv4-compatible (deprecated) */
	{"::ffff:0:0:0/96", 12, 0},  /* IPv4-translated (SIIT) */
	{"64:ff9b::/96", 12, 0},     /* NAT64 well-known prefix */
	{"64:ff9b:1::/48", 0, 0},    /* local-use NAT64: where the IPv4 sits is the site's */
	{"100::/64", 0, 0},	     /* discard-only */
	{"100:0:0:1::/64", 0, 0},    /* dummy prefix */
	{"2001::/32", 12, 0xff},     /* Teredo: the client's IPv4, inverted */
	{"2001::/23", 0, 0},	     /* IETF protocol assignments (ORCHID, benchmarking, ...) */
	{"2001:db8::/32", 0, 0},     /* documentation */
	{"2002::/16", 2, 0},	     /* 6to4 */
	{"3fff::/20", 0, 0},	     /* documentation */
	{"5f00::/16", 0, 0},	     /* SRv6 SIDs */
	{"fc00::/7", 0, 0},	     /* unique-local */
	{"fe80::/10", 0, 0},	     /* link-local */
	{"fec0::/10", 0, 0},	     /* site-local (deprecated) */
	{"ff00::/8", 0, 0},	     /* multicast */
};

/* The first entry of specials holding a (16 bytes, IPv4 mapped), or NULL. */
static const struct special *special_of(const uint8_t a[16])
{
	for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
		uint8_t net[16];
		unsigned bits;
		int m = 0;
		const char *s = specials[i].net;
		if (parse(s, strlen(s), net, &bits) < 0)
			continue; /* cannot happen: the table is checked by test_cidr */
		unsigned full = bits / 8, rest = bits % 8;
		m = memcmp(net, a, full) == 0 &&
		    (rest == 0 || ((net[full] ^ a[full]) & (0xff << (8 - rest)) & 0xff) == 0);
		if (m)
			return &specials[i];
	}
	return NULL;
}

int cidr_addr_global(const struct sockaddr *sa)
{
	uint8_t a[16] = {0};

	if (sa->sa_family == AF_INET) {
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(a, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, 16);
	} else {
		return 0;
	}
	const struct special *sp = special_of(a);
	if (sp == NULL)
		return 1;
	if (sp->v4_at == 0)
		return 0;
	/* The IPv4 address inside: judged as itself (one level: no entry
	 * that embeds lies inside ::ffff:0:0/96). */
	uint8_t v4[16] = {0};
	v4[10] = v4[11] = 0xff;
	for (int i = 0; i < 4; i++)
		v4[12 + i] = a[sp->v4_at + i] ^ sp->mask;
	return special_of(v4) == NULL;
}

int cidr_ip_global(const char *ip)
{
	struct sockaddr_in s4 = {.sin_family = AF_INET};
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
	if (ip && inet_pton(AF_INET, ip, &s4.sin_addr) == 1)
		return cidr_addr_global((const struct sockaddr *)&s4);
	if (ip && inet_pton(AF_INET6, ip, &s6.sin6_addr) == 1)
		return cidr_addr_global((const struct sockaddr *)&s6);
	return 0;
}

uint16_t cidr_addr_text(const struct sockaddr *sa, char *out, size_t outsz)
{
	out[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, out, (socklen_t)outsz);
		return ntohs(s4->sin_port);
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	if (cidr_in6_text(&s6->sin6_addr, out, outsz) < 0)
		out[0] = '\0';
	return ntohs(s6->sin6_port);
}

int cidr_in6_text(const void *in6, char *out, size_t outsz)
{
	struct in6_addr a; /* copied: in6 may be an octet array, unaligned */
	memcpy(&a, in6, sizeof a);
	const char *r = IN6_IS_ADDR_V4MAPPED(&a) ? inet_ntop(AF_INET, &a.s6_addr[12], out, (socklen_t)outsz)
						 : inet_ntop(AF_INET6, &a, out, (socklen_t)outsz);
	return r ? 0 : -1;
}
