/*
 * test_queue_self.c — RFC 5321 §5.1's rule on a route: which next hop is
 * ourselves (host name, listener address and port), and which MX hosts
 * go when one is.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>

#include "core/config.h"
#include "dns/dns.h"
#include "queue/queue_self.h"
#include "unit.h"

#define ME "mail.example.test"

/*
 * This host's interfaces, as queue_self.c sees them: the test's own
 * getifaddrs() and freeifaddrs() stand in for the C library's (the
 * executable's definitions come first), so that an interface address is
 * known (192.0.2.7) and the number of interface dumps taken is counted.
 */
static unsigned ifaddrs_calls;
static struct sockaddr_in fake_sa;
static struct ifaddrs fake_if;

int getifaddrs(struct ifaddrs **ifap)
{
	ifaddrs_calls++;
	memset(&fake_if, 0, sizeof(fake_if));
	memset(&fake_sa, 0, sizeof(fake_sa));
	fake_sa.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &fake_sa.sin_addr);
	fake_if.ifa_name = (char *)"eth0";
	fake_if.ifa_addr = (struct sockaddr *)&fake_sa;
	*ifap = &fake_if;
	return 0;
}

void freeifaddrs(struct ifaddrs *ifa)
{
	(void)ifa;
}

static struct dns_addr at(const char *host, const char *ip, unsigned port, unsigned pref)
{
	struct dns_addr a;
	unsigned char bin[16];
	int v6 = strchr(ip, ':') != NULL;
	inet_pton(v6 ? AF_INET6 : AF_INET, ip, bin);
	dns_addr_put(&a, host, v6 ? AF_INET6 : AF_INET, bin, (uint16_t)port);
	a.pref = pref;
	return a;
}

static void listen_on(const char *host, unsigned port, unsigned fallback)
{
	struct listen_addr l = {.port = (uint16_t)port, .fallback_port = (uint16_t)fallback};
	snprintf(l.host, sizeof l.host, "%s", host);
	queue_self_init(&l);
}

int main(void)
{
	struct dns_addr r[6];
	int self = -1;

	/* A listener on one address: that address and port only. */
	listen_on("127.0.0.1", 2525, 0);
	r[0] = at("a.test", "127.0.0.1", 2525, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 1);
	r[0] = at("a.test", "127.0.0.1", 25, 10); /* another server's port */
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 0);
	r[0] = at("a.test", "127.0.0.2", 2525, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 0);
	/* Our host name, whatever its address (a NAT's public one). */
	r[0] = at("MAIL.Example.Test", "203.0.113.7", 25, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 1);
	CHECK_EQ_INT(queue_self_is(&r[0], ""), 0);

	/* A listener on every address (":25", or the fallback port): any
	 * loopback address, ::1; a documentation address is no interface. */
	listen_on("", 25, 2525);
	r[0] = at("a.test", "127.0.0.9", 25, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 1);
	r[0] = at("a.test", "127.0.0.9", 2525, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 1);
	r[0] = at("a.test", "::1", 25, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 1);
	r[0] = at("a.test", "203.0.113.7", 25, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 0);
	r[0] = at("a.test", "127.0.0.9", 587, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 0);

	/* The wildcard written out: "[::]:25" is a dual-stack socket (as
	 * ":25"), every address of either family; "0.0.0.0:25" every IPv4
	 * one. Before, only a listener whose text was empty counted as
	 * every address, and a route to ourselves at [::]:25 went out. */
	listen_on("::", 25, 0);
	r[0] = at("a.test", "::1", 25, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 1);
	r[0] = at("a.test", "127.0.0.9", 25, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 1);
	r[0] = at("a.test", "192.0.2.7", 25, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 1);
	r[0] = at("a.test", "203.0.113.7", 25, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 0);
	listen_on("0.0.0.0", 25, 0);
	r[0] = at("a.test", "127.0.0.9", 25, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 1);
	r[0] = at("a.test", "192.0.2.7", 25, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 1);
	r[0] = at("a.test", "::1", 25, 10); /* an IPv4 socket: not over IPv6 */
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 0);
	/* A dual-stack socket on one IPv4-mapped address takes IPv4
	 * connections to that address. */
	listen_on("::ffff:127.0.0.1", 25, 0);
	r[0] = at("a.test", "127.0.0.1", 25, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 1);
	r[0] = at("a.test", "127.0.0.2", 25, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 0);

	/* Disabled SMTP: only the name is ours. */
	listen_on("", 0, 0);
	r[0] = at("a.test", "127.0.0.9", 25, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 0);

	listen_on("", 25, 0);
	/* No MX of ours: the route is untouched. */
	r[0] = at("a.test", "203.0.113.1", 25, 10);
	r[1] = at("b.test", "203.0.113.2", 25, 20);
	CHECK_EQ_INT((int)queue_self_drop(r, 2, ME, &self), 2);
	CHECK_EQ_INT(self, 0);
	CHECK_EQ_STR(r[1].host, "b.test");

	/* Ours at 20: 20 and above go, 10 stays (a backup MX of the domain). */
	r[0] = at("a.test", "203.0.113.1", 25, 10);
	r[1] = at("b.test", "203.0.113.2", 25, 20);
	r[2] = at("self.test", "127.0.0.1", 25, 20);
	r[3] = at("c.test", "203.0.113.3", 25, 30);
	CHECK_EQ_INT((int)queue_self_drop(r, 4, ME, &self), 1);
	CHECK_EQ_INT(self, 1);
	CHECK_EQ_STR(r[0].host, "a.test");

	/* Ours is the best, by name: nothing is left, the mail loops. */
	r[0] = at(ME, "203.0.113.9", 25, 10);
	r[1] = at("b.test", "203.0.113.2", 25, 20);
	CHECK_EQ_INT((int)queue_self_drop(r, 2, ME, &self), 0);
	CHECK_EQ_INT(self, 1);

	/* An equal preference goes too, listed before ours or after. */
	r[0] = at("a.test", "203.0.113.1", 25, 10);
	r[1] = at("self.test", "::1", 25, 10);
	r[2] = at("b.test", "203.0.113.2", 25, 10);
	CHECK_EQ_INT((int)queue_self_drop(r, 3, ME, &self), 0);
	CHECK_EQ_INT(self, 1);

	/* Two addresses of ours: the best of them decides. */
	r[0] = at("a.test", "203.0.113.1", 25, 5);
	r[1] = at("self1.test", "127.0.0.1", 25, 10);
	r[2] = at("b.test", "203.0.113.2", 25, 15);
	r[3] = at("self2.test", "127.0.0.2", 25, 30);
	CHECK_EQ_INT((int)queue_self_drop(r, 4, ME, &self), 1);
	CHECK_EQ_STR(r[0].host, "a.test");

	/* An interface's address is ours with a listener on every address. */
	r[0] = at("a.test", "192.0.2.7", 25, 10);
	CHECK_EQ_INT(queue_self_is(&r[0], ME), 1);

	/* One interface dump for a whole route, not one per address: the
	 * outbound path judges every MX address of every delivery. */
	for (int i = 0; i < 6; i++) {
		char ip[32];
		snprintf(ip, sizeof ip, "203.0.113.%d", i + 1);
		r[i] = at("x.test", ip, 25, (unsigned)(10 * (i + 1)));
	}
	ifaddrs_calls = 0;
	CHECK_EQ_INT((int)queue_self_drop(r, 6, ME, &self), 6);
	CHECK_EQ_INT(self, 0);
	CHECK_EQ_INT((int)ifaddrs_calls, 1);
	/* None when no address needs it (loopback, another port, a name). */
	r[0] = at("a.test", "127.0.0.1", 25, 10);
	r[1] = at("b.test", "203.0.113.2", 587, 20);
	r[2] = at(ME, "203.0.113.3", 25, 30);
	ifaddrs_calls = 0;
	CHECK_EQ_INT((int)queue_self_drop(r, 3, ME, &self), 0);
	CHECK_EQ_INT((int)ifaddrs_calls, 0);
	/* Ours by an interface address within a route. */
	r[0] = at("a.test", "203.0.113.1", 25, 10);
	r[1] = at("b.test", "192.0.2.7", 25, 20);
	r[2] = at("c.test", "203.0.113.3", 25, 30);
	CHECK_EQ_INT((int)queue_self_drop(r, 3, ME, &self), 1);
	CHECK_EQ_INT(self, 1);
	return unit_done("test_queue_self");
}
