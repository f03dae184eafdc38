/*
 * test_authfail.c — the per-address failed-login counter: delays, the
 * block threshold, expiry, reset on success, IPv6 /64 grouping, the
 * bounded table, and concurrent use from several threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "auth/authfail.h"
#include "unit.h"

static void test_delays(void)
{
	uint64_t t = 1000000;

	authfail_reset();
	CHECK_EQ_INT(authfail_count("192.0.2.1", t), 0);
	CHECK_EQ_INT(authfail_blocked("192.0.2.1", t), 0);
	CHECK_EQ_INT(authfail_failed("192.0.2.1", t), 1000);
	CHECK_EQ_INT(authfail_failed("192.0.2.1", t + 1), 2000);
	CHECK_EQ_INT(authfail_failed("192.0.2.1", t + 2), 4000);
	CHECK_EQ_INT(authfail_failed("192.0.2.1", t + 3), 5000);
	CHECK_EQ_INT(authfail_failed("192.0.2.1", t + 4), 5000);
	CHECK_EQ_INT(authfail_count("192.0.2.1", t + 5), 5);
	/* Another address is not affected. */
	CHECK_EQ_INT(authfail_failed("192.0.2.2", t + 5), 1000);
	CHECK_EQ_INT(authfail_count("192.0.2.1", t + 5), 5);
}

static void test_block_and_expiry(void)
{
	uint64_t t = 5000000;

	authfail_reset();
	for (unsigned i = 0; i < AUTHFAIL_BLOCK_AFTER - 1; i++)
		authfail_failed("198.51.100.7", t + i);
	CHECK_EQ_INT(authfail_blocked("198.51.100.7", t + 100), 0);
	authfail_failed("198.51.100.7", t + 100);
	CHECK_EQ_INT(authfail_blocked("198.51.100.7", t + 100), 1);
	/* The window runs from the last failure. */
	CHECK_EQ_INT(authfail_blocked("198.51.100.7", t + 100 + AUTHFAIL_WINDOW_MS - 1), 1);
	CHECK_EQ_INT(authfail_blocked("198.51.100.7", t + 100 + AUTHFAIL_WINDOW_MS), 0);
	CHECK_EQ_INT(authfail_count("198.51.100.7", t + 100 + AUTHFAIL_WINDOW_MS), 0);
	/* After expiry the count starts over, delay included. */
	CHECK_EQ_INT(authfail_failed("198.51.100.7", t + 200 + AUTHFAIL_WINDOW_MS), 1000);
	CHECK_EQ_INT(authfail_count("198.51.100.7", t + 200 + AUTHFAIL_WINDOW_MS), 1);
}

static void test_success_resets(void)
{
	uint64_t t = 9000000;

	authfail_reset();
	for (int i = 0; i < 12; i++)
		authfail_failed("203.0.113.9", t);
	CHECK_EQ_INT(authfail_blocked("203.0.113.9", t), 1);
	authfail_succeeded("203.0.113.9");
	CHECK_EQ_INT(authfail_blocked("203.0.113.9", t), 0);
	CHECK_EQ_INT(authfail_failed("203.0.113.9", t + 1), 1000);
}

static void test_ipv6_prefix(void)
{
	uint64_t t = 12000000;

	authfail_reset();
	authfail_failed("2001:db8:1:2::1", t);
	authfail_failed("2001:db8:1:2:ffff::9", t);
	/* Same /64: one counter. */
	CHECK_EQ_INT(authfail_count("2001:db8:1:2:aaaa:bbbb:cccc:dddd", t), 2);
	CHECK_EQ_INT(authfail_count("2001:db8:1:3::1", t), 0);
	/* An IPv4 address and an IPv6 one never share a counter. */
	CHECK_EQ_INT(authfail_count("0.0.0.0", t), 0);
	/* Not an address: counted under one key, not lost. */
	authfail_failed("", t);
	authfail_failed("not-an-ip", t);
	CHECK_EQ_INT(authfail_count("garbage", t), 2);
}

static void test_bounded_table(void)
{
	uint64_t t = 20000000;
	char ip[32];

	authfail_reset();
	/* The oldest address is the one evicted when the table is full. */
	authfail_failed("10.255.255.255", t);
	for (unsigned i = 0; i < AUTHFAIL_TABLE_MAX + 10; i++) {
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", i >> 16 & 255, i >> 8 & 255, i & 255);
		authfail_failed(ip, t + 1 + i);
	}
	CHECK_EQ_INT(authfail_count("10.255.255.255", t + 100000), 0);
	/* The newest are all there. */
	snprintf(ip, sizeof(ip), "10.%u.%u.%u", (AUTHFAIL_TABLE_MAX + 9) >> 16 & 255,
		 (AUTHFAIL_TABLE_MAX + 9) >> 8 & 255, (AUTHFAIL_TABLE_MAX + 9) & 255);
	CHECK_EQ_INT(authfail_count(ip, t + 100000), 1);
	/* Repeated failures of a known address do not take new slots. */
	for (int i = 0; i < 100; i++)
		authfail_failed(ip, t + 200000);
	CHECK_EQ_INT(authfail_count(ip, t + 200000), 101);
}

static void *hammer(void *arg)
{
	const char *ip = arg;
	for (int i = 0; i < 1000; i++)
		authfail_failed(ip, 30000000 + (uint64_t)i);
	return NULL;
}

static void test_threads(void)
{
	pthread_t th[4];

	authfail_reset();
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, hammer, "192.0.2.77");
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ_INT(authfail_count("192.0.2.77", 30001000), 4000);
}

int main(void)
{
	test_delays();
	test_block_and_expiry();
	test_success_resets();
	test_ipv6_prefix();
	test_bounded_table();
	test_threads();
	return unit_done("test_authfail");
}
