/*
 * test_cidr.c — network lists (TERN_METRICS_ALLOW).
 */
#include "core/cidr.h"
#include "unit.h"

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
	return unit_done("test_cidr");
}
