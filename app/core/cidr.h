/*
 * cidr.h — lists of networks ("127.0.0.0/8,::1/128,10.1.2.3") for access
 * rules such as TERN_METRICS_ALLOW. An address without a prefix length is
 * one host. IPv4-mapped IPv6 clients match IPv4 networks.
 */
#ifndef TERN_CORE_CIDR_H
#define TERN_CORE_CIDR_H

#include <stddef.h>
#include <stdint.h>

/* 1 when every comma-separated entry of list is a valid network ("" is an empty list). */
int cidr_list_valid(const char *list);
/* 1 when the literal address ip is inside one of the networks of list. */
int cidr_list_match(const char *list, const char *ip);

/*
 * The key a client is counted under for limits: an IPv4 address itself
 * (also when written IPv4-mapped, "::ffff:1.2.3.4"), an IPv6 address's /64
 * ("2001:db8:1:2::/64"), since one IPv6 site or host gets a whole /64 and
 * can pick any address in it. Writes a NUL-terminated key of at most
 * CIDR_KEY_MAX bytes into out (size outsz) and returns 0; -1 when ip is no
 * literal address (out then holds ip itself, truncated, so a caller may
 * still count it).
 */
#define CIDR_KEY_MAX 48
int cidr_client_key(const char *ip, char *out, size_t outsz);

/*
 * The wider key the limits also count an IPv6 client under: its /48
 * ("2001:db8:1::/48"), the most a site is given (RFC 6177 §2), so a
 * client that can pick among the 65,536 /64s of one is still one site. 0
 * with the key in out (size outsz, CIDR_KEY_MAX is enough); -1 for an
 * IPv4 address (also written IPv4-mapped: its own address is the key),
 * and for anything that is no literal address: such a client has no
 * wider key.
 */
int cidr_site_key(const char *ip, char *out, size_t outsz);

/*
 * 1 when the address sa (AF_INET or AF_INET6) is one a request to a URL
 * a user gave may reach: not in any range of the IANA IPv4 and IPv6
 * Special-Purpose Address Registries that is not globally reachable
 * (private, shared, loopback, link-local, documentation, benchmarking,
 * reserved, unique-local, ...) nor multicast. An IPv6 address that
 * carries an IPv4 address (IPv4-mapped, SIIT, NAT64 64:ff9b::/96, 6to4,
 * Teredo's client) is judged by that IPv4 address. 0 otherwise, and for
 * any other family. JMAP push URLs use it (http/http_pushsub.c).
 */
struct sockaddr;
int cidr_addr_global(const struct sockaddr *sa);
/* cidr_addr_global() of a literal address ("192.0.2.1", "::ffff:10.0.0.1",
 * "2001:db8::1"); 0 for anything else. The spam filter's rule for which
 * client addresses are a sender's public network (DNS blocklists,
 * reputation). */
int cidr_ip_global(const char *ip);

/*
 * The address of sa as text, the one way a peer is named in logs and
 * counted by limits: IPv4 dotted, IPv6 as inet_ntop() writes it, and an
 * IPv4-mapped IPv6 address (a dual-stack socket's IPv4 peer,
 * "::ffff:192.0.2.1") as the IPv4 address it is. out (outsz >=
 * INET6_ADDRSTRLEN) is "" for another family. Returns sa's port in host
 * order, 0 for another family.
 */
uint16_t cidr_addr_text(const struct sockaddr *sa, char *out, size_t outsz);
/* The same text for the 16 octets of an IPv6 address (in6): IPv4-mapped
 * as IPv4, else canonical IPv6. 0, or -1 when out is too small. */
int cidr_in6_text(const void *in6, char *out, size_t outsz);

#endif
