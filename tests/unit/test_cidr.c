/*
 * test_cidr.c — network lists (TERN_METRICS_ALLOW).
 */
#include "core/cidr.h"
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* cidr_addr_global() of a literal address: cidr_ip_global(). */
static int global(const char *ip)
{
	return cidr_ip_global(ip);
}

int main(void)
{
	CHECK(!cidr_ip_global("not an address") && !cidr_ip_global("") && !cidr_ip_global(NULL));
	CHECK(cidr_list_valid("127.0.0.0/8,::1/128"));
	CHECK(cidr_list_valid(" 10.0.0.0/8 , 192.168.1.7 ,2001:db8::/32"));
	CHECK(cidr_list_valid(""));
	CHECK(!cidr_list_valid("10.0.0.0/33"));
	CHECK(!cidr_list_valid("10.0.0/8"));
	CHECK(!cidr_list_valid("::1/129"));
	CHECK(!cidr_list_valid("10.0.0.0/8,"));
	CHECK(!cidr_list_valid("host.example"));

	CHECK(cidr_list_match("127.0.0.0/8,::1/128", "127.0.0.1"));
	CHECK(cidr_list_match("127.0.0.0/8,::1/128", "127.255.1.2"));
	CHECK(cidr_list_match("127.0.0.0/8,::1/128", "::1"));
	CHECK(cidr_list_match("127.0.0.0/8", "::ffff:127.0.0.1"));
	CHECK(!cidr_list_match("127.0.0.0/8,::1/128", "128.0.0.1"));
	CHECK(!cidr_list_match("127.0.0.0/8,::1/128", "::2"));
	CHECK(cidr_list_match("10.1.2.0/23", "10.1.3.255"));
	CHECK(!cidr_list_match("10.1.2.0/23", "10.1.4.0"));
	CHECK(cidr_list_match("192.168.1.7", "192.168.1.7"));
	CHECK(!cidr_list_match("192.168.1.7", "192.168.1.8"));
	CHECK(cidr_list_match("2001:db8::/32", "2001:db8:ffff::1"));
	CHECK(!cidr_list_match("2001:db8::/32", "2001:db9::1"));
	CHECK(cidr_list_match("0.0.0.0/0", "8.8.8.8"));
	CHECK(!cidr_list_match("0.0.0.0/0", "2001:db8::1"));
	CHECK(!cidr_list_match("", "127.0.0.1"));
	CHECK(!cidr_list_match("127.0.0.0/8", "not-an-ip"));

	/* Limits count IPv4 per address, IPv6 per /64. */
	char k[CIDR_KEY_MAX];
	CHECK(cidr_client_key("192.0.2.7", k, sizeof(k)) == 0 && strcmp(k, "192.0.2.7") == 0);
	CHECK(cidr_client_key("::ffff:192.0.2.7", k, sizeof(k)) == 0 &&
	      strcmp(k, "192.0.2.7") == 0);
	CHECK(cidr_client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", k, sizeof(k)) == 0 &&
	      strcmp(k, "2001:db8:1:2::/64") == 0);
	char k2[CIDR_KEY_MAX];
	CHECK(cidr_client_key("2001:DB8:1:2::1", k2, sizeof(k2)) == 0 && strcmp(k, k2) == 0);
	CHECK(cidr_client_key("2001:db8:1:3::1", k2, sizeof(k2)) == 0 && strcmp(k, k2) != 0);
	CHECK(cidr_client_key("::1", k, sizeof(k)) == 0 && strcmp(k, "::/64") == 0);
	CHECK(cidr_client_key("fe80::1:2:3:4", k, sizeof(k)) == 0 && strcmp(k, "fe80::/64") == 0);
	CHECK(cidr_client_key("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", k, sizeof(k)) == 0 &&
	      strcmp(k, "ffff:ffff:ffff:ffff::/64") == 0 && strlen(k) < CIDR_KEY_MAX);
	CHECK(cidr_client_key("not-an-ip", k, sizeof(k)) == -1 && strcmp(k, "not-an-ip") == 0);
	CHECK(cidr_client_key("10.0.0.0/8", k, sizeof(k)) == -1);
	/* ... and IPv6 also per /48 (a site); IPv4 has no wider key. */
	CHECK(cidr_site_key("2001:db8:1:2:aaaa::1", k, sizeof(k)) == 0 &&
	      strcmp(k, "2001:db8:1::/48") == 0);
	CHECK(cidr_site_key("2001:DB8:1:ffff::9", k2, sizeof(k2)) == 0 && strcmp(k, k2) == 0);
	CHECK(cidr_site_key("2001:db8:2::1", k2, sizeof(k2)) == 0 && strcmp(k, k2) != 0);
	CHECK(cidr_site_key("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", k, sizeof(k)) == 0 &&
	      strcmp(k, "ffff:ffff:ffff::/48") == 0);
	CHECK(cidr_site_key("192.0.2.7", k, sizeof(k)) == -1 && k[0] == '\0');
	CHECK(cidr_site_key("::ffff:192.0.2.7", k, sizeof(k)) == -1);
	CHECK(cidr_site_key("not-an-ip", k, sizeof(k)) == -1);
	CHECK(cidr_site_key("2001:db8::/32", k, sizeof(k)) == -1);

	/* Push URLs: every special-purpose range that is not globally
	 * reachable is refused (first and last address of each), and an IPv6
	 * address that carries an IPv4 one is judged by it. */
	static const char *refused[] = {
		"0.0.0.0", "0.255.255.255", "10.0.0.1", "10.255.255.255", "100.64.0.1",
		"100.127.255.255", "127.0.0.1", "169.254.169.254", "172.16.0.1", "172.31.255.255",
		"192.0.0.1", "192.0.0.170", "192.0.2.1", "192.88.99.1", "192.168.1.1",
		"198.18.0.1", "198.19.255.255", "198.51.100.1", "203.0.113.1", "224.0.0.1",
		"239.255.255.255", "240.0.0.1", "255.255.255.255",
		"::", "::1", "::10.0.0.1", "::8.8.8.8", "::ffff:127.0.0.1", "::ffff:10.1.2.3",
		"::ffff:0:10.0.0.1", "64:ff9b::10.0.0.1", "64:ff9b::7f00:1", "64:ff9b::198.18.0.1",
		"64:ff9b:1::8.8.8.8", "64:ff9b:1:ffff::1", "100::1", "100:0:0:1::1",
		"2001:0:4136:e378:8000:63bf:f5ff:fffe", /* Teredo, client 10.0.0.1 */
		"2001:2::1", "2001:10::1", "2001:1ff::1", "2001:db8::1", "2002:a00:1::1",
		"2002:c0a8:101::1", "2002:7f00:1::", "3fff::1", "5f00::1", "fc00::1",
		"fd12:3456::1", "fe80::1", "febf::1", "fec0::1", "ff02::1", "ff0e::1",
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
{
		int g = global(refused[i]);
		if (g != 0)
			fprintf(stderr, "%s: %d, expected 0 (special-purpose)\n", refused[i], g);
		CHECK(g == 0);
	}
	static const char *allowed[] = {
		"8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.15.255.255",
		"172.32.0.0", "192.0.1.1", "192.167.255.255", "198.17.255.255", "198.20.0.0",
		"223.255.255.255", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8",
		"2001:0:4136:e378:8000:63bf:f7f7:f7f7", /* Teredo, client 8.8.8.8 */
		"2002:808:808::1", "2001:200::1", "2001:4860:4860::8888", "2606:4700::1111",
		"2a00:1450::1",
	};
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
{
		int g = global(allowed[i]);
		if (g != 1)
			fprintf(stderr, "%s: %d, expected 1 (global)\n", allowed[i], g);
		CHECK(g == 1);
	}
	struct sockaddr other = {.sa_family = AF_UNIX};
	CHECK(cidr_addr_global(&other) == 0);

	/* A peer's text: a dual-stack socket's IPv4 peer is IPv4. */
	char t[INET6_ADDRSTRLEN];
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(4711)};
	inet_pton(AF_INET6, "::ffff:192.0.2.9", &s6.sin6_addr);
	CHECK(cidr_addr_text((struct sockaddr *)&s6, t, sizeof t) == 4711);
	CHECK_EQ_STR(t, "192.0.2.9");
	inet_pton(AF_INET6, "2001:DB8:0::1", &s6.sin6_addr);
	CHECK(cidr_addr_text((struct sockaddr *)&s6, t, sizeof t) == 4711);
	CHECK_EQ_STR(t, "2001:db8::1");
	struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(25)};
	inet_pton(AF_INET, "198.51.100.3", &s4.sin_addr);
	CHECK(cidr_addr_text((struct sockaddr *)&s4, t, sizeof t) == 25);
	CHECK_EQ_STR(t, "198.51.100.3");
	CHECK(cidr_addr_text(&other, t, sizeof t) == 0);
	CHECK_EQ_STR(t, "");
	return unit_done("test_cidr");
}
