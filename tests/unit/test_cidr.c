/*
 * test_cidr.c — network lists (TERN_METRICS_ALLOW).
 */
#include "core/cidr.h"
#include "unit.h"

#include <string.h>

int main(void)
{
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
	return unit_done("test_cidr");
}
