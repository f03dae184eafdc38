/*
 * test_net_limits.c — connection slots per pool and per client
 * (net/limits.h): the total and the per-client share are enforced and
 * given back, an IPv6 /64 is one client and its /48 has a share of its
 * own, and the table's buckets are
 * keyed: addresses that all share one bucket under an unkeyed FNV-1a
 * (which a client could pick) spread out; refusals are logged a few a
 * second per pool, the rest counted.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/cidr.h"
#include "net/limits.h"
#include "unit.h"

/* The bucket the table used before it was keyed. */
static unsigned fnv_bucket(enum conn_pool p, const char *key)
{
	unsigned h = 2166136261u ^ (unsigned)p;
	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h % 1024;
}

static void test_slots(void)
{
	static struct config cfg;
	memset(&cfg, 0, sizeof cfg);
	for (int p = 0; p < POOL_COUNT; p++)
		cfg.pools[p] = (struct pool_limits){4, 2};
	limits_init(&cfg);
	CHECK_EQ_INT(limits_acquire(POOL_IMAP, "192.0.2.1"), 0);
	CHECK_EQ_INT(limits_acquire(POOL_IMAP, "192.0.2.1"), 0);
	CHECK_EQ_INT(limits_acquire(POOL_IMAP, "192.0.2.1"), -2);
	CHECK_EQ_INT(limits_acquire(POOL_IMAP, "2001:db8:1:2::5"), 0);
	CHECK_EQ_INT(limits_acquire(POOL_IMAP, "2001:db8:1:2::9"), 0); /* the same /64 */
	CHECK_EQ_INT(limits_acquire(POOL_IMAP, "198.51.100.7"), -1);   /* the pool is full */
	CHECK_EQ_INT(limits_current(POOL_IMAP), 4);
	CHECK_EQ_INT(limits_acquire(POOL_POP3, "192.0.2.1"), 0);       /* another pool */
	limits_release(POOL_IMAP, "192.0.2.1");
	CHECK_EQ_INT(limits_acquire(POOL_IMAP, "192.0.2.1"), 0);
	limits_release(POOL_IMAP, "192.0.2.1");
	limits_release(POOL_IMAP, "192.0.2.1");
	limits_release(POOL_IMAP, "2001:db8:1:2::5");
	limits_release(POOL_IMAP, "2001:db8:1:2::9");
	limits_release(POOL_POP3, "192.0.2.1");
	CHECK_EQ_INT(limits_current(POOL_IMAP), 0);
	CHECK_EQ_INT(limits_current(POOL_POP3), 0);
}

/* The /64s of one /48 share LIMITS_SITE_SHARE clients' shares; IPv4 and
 * other /48s are not held to it; released slots come back. */
static void test_site_share(void)
{
	static struct config cfg;
	char ip[64];
	unsigned site = 2 * LIMITS_SITE_SHARE;

	memset(&cfg, 0, sizeof cfg);
	for (int p = 0; p < POOL_COUNT; p++)
		cfg.pools[p] = (struct pool_limits){1000, 2};
	limits_init(&cfg);
	for (unsigned i = 0; i < site; i++) {
		snprintf(ip, sizeof ip, "2001:db8:7:%x::1", i / 2);
		CHECK_EQ_INT(limits_acquire(POOL_IMAP, ip), 0);
	}
	CHECK_EQ_INT(limits_acquire(POOL_IMAP, "2001:db8:7:ffff::1"), -2); /* a fresh /64 */
	CHECK_EQ_INT(limits_client_acquire(POOL_IMAP, "2001:db8:7:fffe::1"), -2);
	CHECK_EQ_INT(limits_acquire(POOL_IMAP, "2001:db8:8::1"), 0);       /* another /48 */
	CHECK_EQ_INT(limits_acquire(POOL_IMAP, "192.0.2.1"), 0);
	CHECK_EQ_INT(limits_acquire(POOL_SIEVE, "2001:db8:7:ffff::1"), 0); /* another pool */
	limits_release(POOL_IMAP, "2001:db8:7:0::1");
	CHECK_EQ_INT(limits_client_acquire(POOL_IMAP, "2001:db8:7:ffff::1"), 0);
	CHECK_EQ_INT(limits_acquire(POOL_IMAP, "2001:db8:7:fffe::1"), -2);
	limits_client_release(POOL_IMAP, "2001:db8:7:ffff::1");
	CHECK_EQ_INT(limits_acquire(POOL_IMAP, "2001:db8:7:fffe::1"), 0);
	limits_release(POOL_IMAP, "2001:db8:7:fffe::1");
	for (unsigned i = 1; i < site; i++) {
		snprintf(ip, sizeof ip, "2001:db8:7:%x::1", i / 2);
		limits_release(POOL_IMAP, ip);
	}
	limits_release(POOL_IMAP, "2001:db8:8::1");
	limits_release(POOL_IMAP, "192.0.2.1");
	limits_release(POOL_SIEVE, "2001:db8:7:ffff::1");
	CHECK_EQ_INT(limits_current(POOL_IMAP), 0);
	/* Nothing is left counted: the site's whole share is there again. */
	for (unsigned i = 0; i < site; i++) {
		snprintf(ip, sizeof ip, "2001:db8:7:%x::2", 100 + i);
		CHECK_EQ_INT(limits_acquire(POOL_IMAP, ip), 0);
	}
	CHECK_EQ_INT(limits_acquire(POOL_IMAP, "2001:db8:7:ffff::3"), -2);
	for (unsigned i = 0; i < site; i++) {
		snprintf(ip, sizeof ip, "2001:db8:7:%x::2", 100 + i);
		limits_release(POOL_IMAP, ip);
	}
	CHECK_EQ_INT(limits_current(POOL_IMAP), 0);
}

static void test_keyed_buckets(void)
{
	char ips[64][32], key[CIDR_KEY_MAX];
	unsigned n = 0, target = 0;

	/* 64 addresses of one FNV-1a bucket, as an attacker would pick them. */
	for (unsigned i = 0; n < 64 && i < (1u << 24); i++) {
		char ip[32];
		snprintf(ip, sizeof ip, "10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);
		cidr_client_key(ip, key, sizeof key);
		unsigned b = fnv_bucket(POOL_SMTP, key);
		if (n == 0)
			target = b;
		if (b == target)
			snprintf(ips[n++], sizeof ips[0], "%s", ip);
	}
	CHECK_EQ_INT(n, 64);
	unsigned first = limits_bucket(POOL_SMTP, ips[0]), same = 0;
	for (unsigned i = 0; i < n; i++)
		same += limits_bucket(POOL_SMTP, ips[i]) == first;
	/* SipHash under a random key: 64 in one of 1024 buckets by chance
	 * is 1024^-63; a few sharing one is fine. */
	CHECK(same < 8);
}

/* A pool logs LIMITS_REFUSAL_LOG_PER_S refusals a second; the next one
 * logged counts those left out; pools are counted apart. */
static void test_refusal_log(void)
{
	unsigned left = 99;
	uint64_t t = 5000000;
	for (unsigned i = 0; i < LIMITS_REFUSAL_LOG_PER_S; i++) {
		CHECK_EQ_INT(limits_refusal_admit(POOL_SMTP, t + i, &left), 1);
		CHECK_EQ_INT(left, 0);
	}
	for (unsigned i = 0; i < 500; i++)
		CHECK_EQ_INT(limits_refusal_admit(POOL_SMTP, t + 100 + i, &left), 0);
	CHECK_EQ_INT(limits_refusal_admit(POOL_IMAP, t + 999, &left), 1);
	CHECK_EQ_INT(left, 0);
	CHECK_EQ_INT(limits_refusal_admit(POOL_SMTP, t + 1000, &left), 1);
	CHECK_EQ_INT(left, 500);
	CHECK_EQ_INT(limits_refusal_admit(POOL_SMTP, t + 1001, &left), 1);
	CHECK_EQ_INT(left, 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_slots();
	test_site_share();
	test_keyed_buckets();
	test_refusal_log();
	return unit_done("test_net_limits");
}
