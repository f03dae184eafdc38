/*
 * test_forwarded.c — what a trusted reverse proxy says of the client
 * (net/forwarded.h): its address, and the scheme and host it asked for.
 */
#include "net/forwarded.h"
#include "unit.h"

static struct forwarded_origin origin(const char *fwd, const char *xp, const char *xh)
{
	struct forwarded_origin o;
	forwarded_origin(fwd, NULL, xp, xh, &o);
	return o;
}

int main(void)
{
	struct forwarded_origin o;
	char big[FORWARDED_MAX + 2];

	/* Forwarded: the last element only (the nearest proxy's). */
	o = origin("for=192.0.2.1;proto=http;host=evil.test, for=203.0.113.5;Proto=HTTPS;"
		   "host=\"Mail.Example.test:8443\"",
		   NULL, NULL);
	CHECK_EQ_INT(o.https, 1);
	CHECK_EQ_STR(o.host, "mail.example.test:8443");
	o = origin("for=203.0.113.5", NULL, NULL);
	CHECK_EQ_INT(o.https, -1);
	CHECK_EQ_STR(o.host, "");
	/* Any X-Forwarded-* field: those are the proxy's, Forwarded is the
	 * client's own (passed on by a proxy that does not write it). */
	o = origin("proto=http;host=evil.test", "https", NULL);
	CHECK_EQ_INT(o.https, 1);
	CHECK_EQ_STR(o.host, "");
	o = origin("proto=http;host=evil.test", NULL, "mail.example.test");
	CHECK_EQ_INT(o.https, -1);
	CHECK_EQ_STR(o.host, "mail.example.test");
	forwarded_origin("proto=http;host=evil.test", "203.0.113.5", NULL, NULL, &o);
	CHECK_EQ_INT(o.https, -1);
	CHECK_EQ_STR(o.host, "");
	o = origin("proto=https;host=\"[2001:db8::1]:443\";for=\"[2001:db8::2]\"", NULL, NULL);
	CHECK_EQ_INT(o.https, 1);
	CHECK_EQ_STR(o.host, "[2001:db8::1]:443");
	/* A quoted ',' or ';' does not split. */
	o = origin("for=x;host=\"a,b\", proto=http;host=\"x;y\"", NULL, NULL);
	CHECK_EQ_INT(o.https, 0);
	CHECK_EQ_STR(o.host, "");

	/* X-Forwarded-Proto / -Host: the last value. */
	o = origin(NULL, "http, https", "evil.test, mail.example.test");
	CHECK_EQ_INT(o.https, 1);
	CHECK_EQ_STR(o.host, "mail.example.test");
	o = origin(NULL, " https ", NULL);
	CHECK_EQ_INT(o.https, 1);
	CHECK_EQ_STR(o.host, "");

	/* Bad values are not said. */
	const char *bad_hosts[] = {"evil.test/x", "a b", "x:0", "x:65536", "x:", ":80", "x:8o",
				   "[::1", "[not-v6]", "[::1]x", "-x", "", "a@b", "x:123456"};
	for (size_t i = 0; i < sizeof bad_hosts / sizeof bad_hosts[0]; i++) {
		o = origin(NULL, "ftp", bad_hosts[i]);
		CHECK_EQ_INT(o.https, -1);
		CHECK_EQ_STR(o.host, "");
	}
	CHECK(forwarded_host_valid("x:65535", 7));
	CHECK(forwarded_host_valid("192.0.2.1:80", 12));
	CHECK(forwarded_host_valid("[::1]", 5));
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK(!forwarded_host_valid(big, 262));
	CHECK(forwarded_host_valid(big, 261));
	/* Of a long value, the last elements. */
	o = origin(big, NULL, NULL);
	CHECK_EQ_INT(o.https, -1);
	CHECK_EQ_STR(o.host, "");
	o = origin(NULL, big, big);
	CHECK_EQ_INT(o.https, -1);
	CHECK_EQ_STR(o.host, "");
	static char longer[3 * FORWARDED_MAX];
	for (size_t i = 0; i + 1 < sizeof longer; i++)
		longer[i] = i % 8 == 7 ? ',' : 'x';
	snprintf(longer + sizeof longer - 40, 40, ", proto=https;host=mail.example.test");
	o = origin(longer, NULL, NULL);
	CHECK_EQ_INT(o.https, 1);
	CHECK_EQ_STR(o.host, "mail.example.test");
	/* The client: rightmost address not a trusted proxy's. */
	char ip[64];
	CHECK(forwarded_client(NULL, "127.0.0.1, 203.0.113.9, 10.0.0.2", "10.0.0.0/8", ip,
			       sizeof ip) == 1);
	CHECK_EQ_STR(ip, "203.0.113.9");
	CHECK(forwarded_client("for=\"[2001:db8::7]:1234\"", NULL, "", ip, sizeof ip) == 1);
	CHECK_EQ_STR(ip, "2001:db8::7");
	CHECK(forwarded_client("for=unknown", NULL, "", ip, sizeof ip) == 0);
	/* An IPv4-mapped client (a proxy on a dual-stack socket) is the IPv4
	 * address, as a socket's peer is (conn.c); IPv6 in one spelling. */
	CHECK(forwarded_client(NULL, "::ffff:203.0.113.5", "", ip, sizeof ip) == 1);
	CHECK_EQ_STR(ip, "203.0.113.5");
	CHECK(forwarded_client(NULL, "[::FFFF:203.0.113.6]:4711", "", ip, sizeof ip) == 1);
	CHECK_EQ_STR(ip, "203.0.113.6");
	CHECK(forwarded_client("for=\"[::ffff:cb00:7107]\"", NULL, "", ip, sizeof ip) == 1);
	CHECK_EQ_STR(ip, "203.0.113.7");
	CHECK(forwarded_client(NULL, "2001:DB8:0:0::0:77", "", ip, sizeof ip) == 1);
	CHECK_EQ_STR(ip, "2001:db8::77");
	/* A mapped proxy address is still the trusted proxy's. */
	CHECK(forwarded_client(NULL, "2001:db8::9, ::ffff:10.0.0.2", "10.0.0.0/8", ip, sizeof ip) == 1);
	CHECK_EQ_STR(ip, "2001:db8::9");
	/* X-Forwarded-For, not a client's own Forwarded, when both are there. */
	CHECK(forwarded_client("for=192.0.2.66", "198.51.100.1", "", ip, sizeof ip) == 1);
	CHECK_EQ_STR(ip, "198.51.100.1");
	CHECK(forwarded_client("for=192.0.2.66", NULL, "", ip, sizeof ip) == 1);
	CHECK_EQ_STR(ip, "192.0.2.66");
	CHECK(forwarded_client(big, NULL, "", ip, sizeof ip) == 0);
	/* A long list: its last elements, the proxy's. */
	static char many[3 * FORWARDED_MAX];
	size_t k = 0;
	while (k + 20 < sizeof many - 40)
		k += (size_t)snprintf(many + k, sizeof many - k, "127.0.0.1, ");
	snprintf(many + k, sizeof many - k, "203.0.113.9, 10.0.0.2");
	CHECK(forwarded_client(NULL, many, "10.0.0.0/8", ip, sizeof ip) == 1);
	CHECK_EQ_STR(ip, "203.0.113.9");
	return unit_done("test_forwarded");
}
