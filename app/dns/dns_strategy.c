/*
 * dns_strategy.c — the names of the address-family strategies of
 * dns_route_ip() (TERN_QUEUE_IP_STRATEGY's values). Apart from dns.c so
 * builds without c-ares (unit tests, fuzzers: tests/dns_stub.c) read the
 * setting the same way. See dns.h.
 */
#include <string.h>

#include "dns/dns.h"

static const char *const ip_names[] = {
	[DNS_IP_V4_THEN_V6] = "ipv4_then_ipv6",
	[DNS_IP_V6_THEN_V4] = "ipv6_then_ipv4",
	[DNS_IP_V4_ONLY] = "ipv4_only",
	[DNS_IP_V6_ONLY] = "ipv6_only",
};

int dns_ip_strategy_parse(const char *s, enum dns_ip_strategy *ip_r)
{
	for (size_t i = 0; i < sizeof ip_names / sizeof ip_names[0]; i++)
		if (strcmp(s, ip_names[i]) == 0) {
			*ip_r = (enum dns_ip_strategy)i;
			return 0;
		}
	return -1;
}

const char *dns_ip_strategy_name(enum dns_ip_strategy ip)
{
	return (size_t)ip < sizeof ip_names / sizeof ip_names[0] ? ip_names[ip] : "?";
}
