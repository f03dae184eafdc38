/*
 * dns_literal.c — what dns_route() answers without a resolver: an IP
 * address given for a host, and an address literal given for a mail
 * domain (RFC 5321 §4.1.3, §5.1: the host itself, no MX lookup). Pure;
 * linked by the binary and by the unit and fuzz builds (dns_stub.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"

void dns_addr_put(struct dns_addr *a, const char *host, int family, const void *addr, uint16_t port)
{
	memset(a, 0, sizeof *a);
	snprintf(a->host, sizeof a->host, "%s", host);
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&a->sa;
		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		memcpy(&s->sin_addr, addr, 4);
		a->salen = sizeof *s;
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&a->sa;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		memcpy(&s->sin6_addr, addr, 16);
		a->salen = sizeof *s;
	}
}

int dns_route_literal(const char *name, int mx, uint16_t port, struct dns_addr *a)
{
	unsigned char bin[16];
	char lit[64];
	size_t n = strlen(name), skip = 0;
	int bracketed = n >= 2 && name[0] == '[' && name[n - 1] == ']';

	if (!bracketed) {
		/* A host's bare address; a mail domain is a name here. */
		if (mx || n >= sizeof lit)
			return 0;
		memcpy(lit, name, n + 1);
	} else {
		if (n - 2 > 5 && strncasecmp(name + 1, "IPv6:", 5) == 0)
			skip = 5;
		if (n - 2 - skip >= sizeof lit)
			return -1;
		memcpy(lit, name + 1 + skip, n - 2 - skip);
		lit[n - 2 - skip] = '\0';
	}
	if (!(bracketed && skip) && inet_pton(AF_INET, lit, bin) == 1) {
		dns_addr_put(a, lit, AF_INET, bin, port);
		return 1;
	}
	/* A mail domain's IPv6 literal carries its tag (RFC 5321 §4.1.3);
	 * a host ("[::1]" from a relay setting) need not. */
	if ((skip || !mx) && inet_pton(AF_INET6, lit, bin) == 1) {
		dns_addr_put(a, lit, AF_INET6, bin, port);
		return 1;
	}
	return bracketed ? -1 : 0;
}
