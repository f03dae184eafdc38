/*
 * queue_self.c — is a next hop ourselves (RFC 5321 §5.1)? See queue_self.h.
 */
#include "queue/queue_self.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "dns/dns.h"

static struct listen_addr self_smtp;

void queue_self_init(const struct listen_addr *smtp)
{
	self_smtp = *smtp;
}

/* The address octets of sa (4 or 16) and its port; 0 when neither family. */
static size_t sa_octets(const struct sockaddr *sa, const uint8_t **p_r, uint16_t *port_r)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
		*p_r = (const uint8_t *)&s->sin_addr;
		*port_r = ntohs(s->sin_port);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
		*p_r = (const uint8_t *)&s->sin6_addr;
		*port_r = ntohs(s->sin6_port);
		return 16;
	}
	return 0;
}

/* Loopback: all of 127/8 reaches this host (Linux), and ::1. */
static int is_loopback(const uint8_t *p, size_t len)
{
	static const uint8_t one[16] = {[15] = 1};
	return len == 4 ? p[0] == 127 : memcmp(p, one, 16) == 0;
}

/*
 * The local interfaces' addresses, dumped (getifaddrs(): a netlink
 * request) at most once for a route however many of its addresses ask,
 * and only when one does: one delivery judges each of its MX addresses.
 */
struct ifs_snap {
	struct ifaddrs *ifs;
	int taken; /* ifs is the dump (NULL when it failed: no interface) */
};

static void ifs_snap_free(struct ifs_snap *snap)
{
	if (snap->ifs)
		freeifaddrs(snap->ifs);
	snap->ifs = NULL;
	snap->taken = 0;
}

/* 1 when p (len octets) is an address of a local interface. */
static int is_local_interface(const uint8_t *p, size_t len, struct ifs_snap *snap)
{
	if (!snap->taken) {
		snap->taken = 1;
		if (getifaddrs(&snap->ifs) != 0)
			snap->ifs = NULL;
	}
	for (struct ifaddrs *i = snap->ifs; i; i = i->ifa_next) {
		const uint8_t *q = NULL; /* set whenever the lengths match */
		uint16_t port;
		if (i->ifa_addr && sa_octets(i->ifa_addr, &q, &port) == len &&
		    memcmp(p, q, len) == 0)
			return 1;
	}
	return 0;
}

/* p is an address of this host: loopback or a local interface's. */
static int is_ours(const uint8_t *p, size_t len, struct ifs_snap *snap)
{
	return is_loopback(p, len) || is_local_interface(p, len, snap);
}

/*
 * 1 when our SMTP listener takes connections at p (len octets). Its host
 * as listener.c binds it: empty or "::" is a dual-stack socket, every
 * address of both families; "0.0.0.0" every IPv4 address; an
 * IPv4-mapped address ("::ffff:192.0.2.1", dual stack too) takes IPv4
 * connections to that IPv4 address.
 */
static int listener_has(const uint8_t *p, size_t len, struct ifs_snap *snap)
{
	static const uint8_t any[16], mapped[12] = {[10] = 0xff, [11] = 0xff};
	uint8_t bin[16];

	if (!self_smtp.host[0])
		return is_ours(p, len, snap);
	if (inet_pton(AF_INET, self_smtp.host, bin) == 1) {
		if (len != 4)
			return 0;
		return memcmp(bin, any, 4) == 0 ? is_ours(p, len, snap) : memcmp(bin, p, 4) == 0;
	}
	if (inet_pton(AF_INET6, self_smtp.host, bin) != 1)
		return 0;
	if (memcmp(bin, any, 16) == 0)
		return is_ours(p, len, snap);
	if (len == 4)
		return memcmp(bin, mapped, 12) == 0 && memcmp(bin + 12, p, 4) == 0;
	return memcmp(bin, p, 16) == 0;
}

int queue_self_named(const char *name, size_t len, const char *hostname)
{
	if (len && name[len - 1] == '.')
		len--;
	return hostname && *hostname && len && strlen(hostname) == len &&
	       strncasecmp(name, hostname, len) == 0;
}

/* queue_self_is() with the interfaces' dump of the route being judged. */
static int self_is(const struct dns_addr *a, const char *hostname, struct ifs_snap *snap)
{
	if (queue_self_named(a->host, strlen(a->host), hostname))
		return 1;
	const uint8_t *p;
	uint16_t port;
	size_t len = sa_octets((const struct sockaddr *)&a->sa, &p, &port);
	if (len == 0 || self_smtp.port == 0)
		return 0;
	if (port != self_smtp.port &&
	    (self_smtp.fallback_port == 0 || port != self_smtp.fallback_port))
		return 0;
	return listener_has(p, len, snap);
}

int queue_self_is(const struct dns_addr *a, const char *hostname)
{
	struct ifs_snap snap = {0};
	int r = self_is(a, hostname, &snap);
	ifs_snap_free(&snap);
	return r;
}

size_t queue_self_drop(struct dns_addr *a, size_t n, const char *hostname, int *self_r)
{
	struct ifs_snap snap = {0};
	unsigned ours = 0;
	*self_r = 0;
	for (size_t i = 0; i < n; i++)
		if (self_is(&a[i], hostname, &snap) && (!*self_r || a[i].pref < ours)) {
			ours = a[i].pref;
			*self_r = 1;
		}
	ifs_snap_free(&snap);
	if (!*self_r)
		return n;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (a[i].pref < ours)
			a[k++] = a[i];
	return k;
}
