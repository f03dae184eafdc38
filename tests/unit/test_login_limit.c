/*
 * test_login_limit.c — the shared brute-force limits: reply delays, the
 * per-address limit and its window, reservations taken before the check
 * (parallel attempts), a success that does not reset another account's
 * failures, the per-account spacing and the trusted-pair exemption, IPv6
 * /64 grouping and the /48 site budget, a budget taken by checks under way
 * told apart from one spent by failures (busy, not failed), each refusal's
 * reason naming its tier, an untrusted pair's attempts held behind its lead, bounded tables, and concurrent use. The clock is the
 * caller's.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "auth/login_limit.h"
#include "unit.h"

/* One whole failed attempt: admitted, then failed; returns the delay. */
static unsigned fail_once(const char *ip, const char *user, uint64_t t)
{
	struct login_ticket k;
	unsigned wait;

	if (login_limit_admit(ip, user, t, &wait, &k) != LOGIN_GATE_GO)
		return 0;
	return login_limit_failed(&k, t, NULL);
}

static void test_delays(void)
{
	uint64_t t = 1000000;

	login_limit_reset();
	CHECK_EQ_INT(login_limit_ip_failures("192.0.2.1", t), 0);
	CHECK_EQ_INT(fail_once("192.0.2.1", "a@x", t), 1000);
	CHECK_EQ_INT(fail_once("192.0.2.1", "b@x", t + 1), 2000);
	CHECK_EQ_INT(fail_once("192.0.2.1", "c@x", t + 2), 4000);
	CHECK_EQ_INT(fail_once("192.0.2.1", "d@x", t + 3), 5000);
	CHECK_EQ_INT(fail_once("192.0.2.1", "e@x", t + 4), 5000);
	CHECK_EQ_INT(login_limit_ip_failures("192.0.2.1", t + 5), 5);
	CHECK_EQ_INT(fail_once("192.0.2.2", "a@x", t + 5), 1000);
	CHECK_EQ_INT(login_limit_ip_failures("192.0.2.1", t + 5), 5);
}

static void test_ip_limit_and_window(void)
{
	uint64_t t = 5000000;
	struct login_ticket k;
	unsigned wait;

	login_limit_reset();
	for (unsigned i = 0; i < LOGIN_IP_LIMIT; i++)
		CHECK(fail_once("198.51.100.7", NULL, t + i) != 0);
	CHECK_EQ_INT(login_limit_admit("198.51.100.7", NULL, t + 100, &wait, &k), LOGIN_GATE_IP);
	/* The window runs from the last failure. */
	uint64_t last = t + LOGIN_IP_LIMIT - 1;
	CHECK_EQ_INT(login_limit_admit("198.51.100.7", NULL, last + LOGIN_WINDOW_MS - 1, &wait, &k),
		     LOGIN_GATE_IP);
	CHECK_EQ_INT(login_limit_ip_failures("198.51.100.7", last + LOGIN_WINDOW_MS), 0);
	CHECK_EQ_INT(fail_once("198.51.100.7", NULL, last + LOGIN_WINDOW_MS), 1000);
}

/* Finding 3(a): the attacker's own successful login resets nothing. */
static void test_success_does_not_reset(void)
{
	uint64_t t = 9000000;
	struct login_ticket k;
	unsigned wait, guesses = 0;

	login_limit_reset();
	for (int round = 0; round < 30; round++) {
		if (login_limit_admit("203.0.113.9", "own@x", t, &wait, &k) == LOGIN_GATE_GO)
			login_limit_succeeded(&k, t);
		char victim[32];
		/* Several victims: this is about the address, not the spacing. */
		snprintf(victim, sizeof victim, "victim%d@x", round % 4);
		if (login_limit_admit("203.0.113.9", victim, t, &wait, &k) == LOGIN_GATE_GO) {
			guesses++;
			login_limit_failed(&k, t, NULL);
		}
		t += 10;
	}
	CHECK_EQ_INT(guesses, LOGIN_IP_LIMIT);
	CHECK_EQ_INT(login_limit_ip_failures("203.0.113.9", t), LOGIN_IP_LIMIT);
	/* A store error counts nothing either way. */
	CHECK_EQ_INT(login_limit_admit("203.0.113.10", NULL, t, &wait, &k), LOGIN_GATE_GO);
	login_limit_cancel(&k);
	CHECK_EQ_INT(login_limit_ip_failures("203.0.113.10", t), 0);
}

/* Finding 3(b): parallel attempts are reserved before any check runs. */
static void test_parallel_reserved(void)
{
	uint64_t t = 11000000;
	struct login_ticket k[50];
	unsigned wait, go = 0;

	login_limit_reset();
	for (int i = 0; i < 50; i++) {
		char user[32];
		snprintf(user, sizeof user, "u%d@x", i); /* spread: no account spacing */
		if (login_limit_admit("192.0.2.50", user, t, &wait, &k[go]) == LOGIN_GATE_GO)
			go++;
	}
	CHECK_EQ_INT(go, LOGIN_IP_LIMIT);
	/* Ten checks under way and none failed: the next is told the address
	 * is busy, never that it failed too often. */
	CHECK_EQ_INT(login_limit_admit("192.0.2.50", "y@x", t, &wait, &k[go]), LOGIN_GATE_BUSY);
	CHECK(login_gate_busy(LOGIN_GATE_BUSY));
	CHECK_EQ_STR(login_gate_reason(LOGIN_GATE_BUSY), "address_busy");
	CHECK_EQ_INT(login_limit_ip_failures("192.0.2.50", t), 0);
	/* Successes free their reservations; failures keep them as failures. */
	for (unsigned i = 0; i < go; i++) {
		if (i < 4)
			login_limit_succeeded(&k[i], t);
		else
			login_limit_failed(&k[i], t, NULL);
	}
	CHECK_EQ_INT(login_limit_ip_failures("192.0.2.50", t), LOGIN_IP_LIMIT - 4);
	CHECK_EQ_INT(login_limit_admit("192.0.2.50", "z@x", t, &wait, &k[0]), LOGIN_GATE_GO);
	/* Six failed and four under way: busy; once they fail, failures. */
	for (go = 1; go < 4; go++) {
		char user[32];
		snprintf(user, sizeof user, "z%u@x", go);
		CHECK_EQ_INT(login_limit_admit("192.0.2.50", user, t, &wait, &k[go]), LOGIN_GATE_GO);
	}
	CHECK_EQ_INT(login_limit_admit("192.0.2.50", "y@x", t, &wait, &k[4]), LOGIN_GATE_BUSY);
	for (unsigned i = 0; i < 4; i++)
		login_limit_failed(&k[i], t, NULL);
	CHECK_EQ_INT(login_limit_admit("192.0.2.50", "y@x", t, &wait, &k[4]), LOGIN_GATE_IP);
	CHECK(!login_gate_busy(LOGIN_GATE_IP));
	CHECK_EQ_STR(login_gate_reason(LOGIN_GATE_IP), "too_many_failures");
}

/* A trusted pair's logins in flight do not fill the address's budget. */
static void test_trusted_parallel(void)
{
	uint64_t t = 15000000;
	struct login_ticket k[LOGIN_TRUSTED_PARALLEL + 1], u[LOGIN_IP_LIMIT + 1];
	unsigned wait, go = 0, ugo = 0;

	login_limit_reset();
	CHECK_EQ_INT(login_limit_admit("192.0.2.60", "office@x", t, &wait, &k[0]), LOGIN_GATE_GO);
	login_limit_succeeded(&k[0], t);
	for (unsigned i = 0; i <= LOGIN_TRUSTED_PARALLEL; i++)
		if (login_limit_admit("192.0.2.60", "office@x", t, &wait, &k[go]) == LOGIN_GATE_GO)
			go++;
	CHECK_EQ_INT(go, LOGIN_TRUSTED_PARALLEL);
	/* The one past them was told busy, not failed. */
	CHECK_EQ_INT(login_limit_admit("192.0.2.60", "office@x", t, &wait, &k[go]), LOGIN_GATE_BUSY);
	/* Untrusted attempts from the same address still get their ten. */
	for (unsigned i = 0; i <= LOGIN_IP_LIMIT; i++) {
		char user[32];
		snprintf(user, sizeof user, "v%u@x", i);
		if (login_limit_admit("192.0.2.60", user, t, &wait, &u[ugo]) == LOGIN_GATE_GO)
			ugo++;
	}
	CHECK_EQ_INT(ugo, LOGIN_IP_LIMIT);
	for (unsigned i = 0; i < go; i++)
		login_limit_succeeded(&k[i], t);
	for (unsigned i = 0; i < ugo; i++)
		login_limit_failed(&u[i], t, NULL);
	/* Ten failures: now even the trusted pair is refused. */
	CHECK_EQ_INT(login_limit_admit("192.0.2.60", "office@x", t, &wait, &k[0]), LOGIN_GATE_IP);
}

/* Finding 3(c): many addresses against one account are spaced out. */
static void test_account_spacing(void)
{
	uint64_t t = 20000000;
	struct login_ticket k;
	unsigned wait, i, go = 0, refused = 0;
	char ip[32];

	login_limit_reset();
	/* The real user logs in from home. */
	CHECK_EQ_INT(login_limit_admit("198.51.100.1", "alice@x", t, &wait, &k), LOGIN_GATE_GO);
	login_limit_succeeded(&k, t);
	/* A botnet, one guess per address, all at once. */
	for (i = 0; i < 100; i++) {
		snprintf(ip, sizeof ip, "10.0.%u.%u", i / 250, i % 250 + 1);
		enum login_gate g = login_limit_admit(ip, "ALICE@x", t, &wait, &k);
		if (g == LOGIN_GATE_ACCOUNT) {
			refused++;
			continue;
		}
		CHECK_EQ_INT(g, LOGIN_GATE_GO);
		CHECK(wait <= LOGIN_WAIT_MAX_MS);
		if (go < LOGIN_ACCOUNT_FREE)
			CHECK_EQ_INT(wait, 0);
		go++;
		login_limit_failed(&k, t + wait, NULL);
	}
	CHECK(go < 10);
	CHECK_EQ_INT(go + refused, 100);
	CHECK_EQ_INT(login_limit_account_failures("alice@x", t), go);
	/* The real user's address is not slowed down, another one is. */
	CHECK_EQ_INT(login_limit_admit("198.51.100.1", "alice@x", t + 1, &wait, &k), LOGIN_GATE_GO);
	CHECK_EQ_INT(wait, 0);
	login_limit_succeeded(&k, t + 1);
	CHECK_EQ_INT(login_limit_admit("198.51.100.2", "alice@x", t + 1, &wait, &k),
		     LOGIN_GATE_ACCOUNT);
	/* Later the spacing admits one guess per slot, never a burst. */
	uint64_t later = t + 10ull * 60 * 1000;
	go = 0;
	for (i = 0; i < 20; i++) {
		snprintf(ip, sizeof ip, "10.9.0.%u", i + 1);
		if (login_limit_admit(ip, "alice@x", later, &wait, &k) == LOGIN_GATE_GO) {
			go++;
			login_limit_failed(&k, later + wait, NULL);
		}
	}
	CHECK_EQ_INT(go, 1);
	/* Other accounts are not affected. */
	CHECK_EQ_INT(login_limit_admit("10.9.0.1", "bob@x", later, &wait, &k), LOGIN_GATE_GO);
	CHECK_EQ_INT(wait, 0);
}

/*
 * Attempts that never got a verdict leave the account's spacing as it
 * was: an HTTP sign-in refused because its slot was not now, and a
 * reservation handed back (a store error, a busy server). Before, each
 * moved the account's next slot a step further, never counted as a
 * failure: one address asking once a second kept every untrusted login
 * to the account refused.
 */
static void test_no_verdict_leaves_spacing(void)
{
	uint64_t t = 25000000;
	struct login_ticket k;
	unsigned wait, go = 0;
	char ip[32];

	login_limit_reset();
	for (unsigned i = 0; i < LOGIN_ACCOUNT_FREE; i++) {
		snprintf(ip, sizeof ip, "10.5.0.%u", i + 1);
		CHECK(fail_once(ip, "dana@x", t) != 0);
	}
	/* The HTTP side: only a slot that is now is taken. */
	for (unsigned i = 0; i < 50; i++) {
		enum login_gate g = login_limit_admit_now("192.0.2.90", "dana@x", t + i, &k);
		if (g == LOGIN_GATE_GO) {
			go++;
			login_limit_failed(&k, t + i, NULL);
		} else {
			CHECK_EQ_INT(g, LOGIN_GATE_ACCOUNT);
		}
	}
	CHECK_EQ_INT(go, 1);
	CHECK_EQ_INT(login_limit_ip_failures("192.0.2.90", t + 50), 1);
	/* Reservations handed back, again and again. */
	for (unsigned i = 0; i < 50; i++) {
		CHECK_EQ_INT(login_limit_admit("192.0.2.92", "dana@x", t + 50, &wait, &k),
			     LOGIN_GATE_GO);
		CHECK(wait > 0);
		login_limit_cancel(&k);
	}
	CHECK_EQ_INT(login_limit_ip_failures("192.0.2.92", t + 50), 0);
	/* Someone else still gets the next slot, a second or so away. */
	CHECK_EQ_INT(login_limit_admit("192.0.2.91", "dana@x", t + 50, &wait, &k), LOGIN_GATE_GO);
	CHECK(wait > 0 && wait <= LOGIN_ACCOUNT_STEP_MS);
	login_limit_failed(&k, t + 50 + wait, NULL);
}

static void test_ipv6_prefix(void)
{
	uint64_t t = 30000000;

	login_limit_reset();
	fail_once("2001:db8:1:2::1", NULL, t);
	fail_once("2001:db8:1:2:ffff::9", NULL, t);
	CHECK_EQ_INT(login_limit_ip_failures("2001:db8:1:2:aaaa:bbbb:cccc:dddd", t), 2);
	CHECK_EQ_INT(login_limit_ip_failures("2001:db8:1:3::1", t), 0);
	CHECK_EQ_INT(login_limit_ip_failures("0.0.0.0", t), 0);
	fail_once("", NULL, t);
	fail_once("not-an-ip", NULL, t);
	CHECK_EQ_INT(login_limit_ip_failures("garbage", t), 2);
	/* An IPv4 client written IPv4-mapped is that IPv4 client, not one
	 * ::ffff:0:0/64 shared by every IPv4 address (the connection limits'
	 * keying, cidr_client_key). */
	fail_once("::ffff:192.0.2.7", NULL, t);
	CHECK_EQ_INT(login_limit_ip_failures("192.0.2.7", t), 1);
	CHECK_EQ_INT(login_limit_ip_failures("::ffff:192.0.2.8", t), 0);
	CHECK_EQ_INT(login_limit_ip_failures("192.0.2.8", t), 0);
	/* A success from another address of the /64 trusts the whole /64. */
	struct login_ticket k;
	unsigned wait;
	CHECK_EQ_INT(login_limit_admit("2001:db8:5:5::1", "carol@x", t, &wait, &k), LOGIN_GATE_GO);
	login_limit_succeeded(&k, t);
	CHECK_EQ_INT(login_limit_admit("2001:db8:5:5::77", "carol@x", t, &wait, &k), LOGIN_GATE_GO);
	CHECK_EQ_INT(k.trusted, 1);
	login_limit_cancel(&k);
}

/* An IPv6 /48 is one site: its /64s share a budget of LOGIN_SITE_LIMIT
 * untrusted attempts, failures and ones in flight. */
static void test_ipv6_site(void)
{
	uint64_t t = 35000000;
	struct login_ticket k, k2;
	unsigned wait;
	char ip[64];

	login_limit_reset();
	/* A user of the site logged in from its /64 before the flood. */
	CHECK_EQ_INT(login_limit_admit("2001:db8:7:ffff::1", "dave@x", t, &wait, &k), LOGIN_GATE_GO);
	login_limit_succeeded(&k, t);
	/* One failure from each of many /64s: none reaches its own limit. */
	for (unsigned i = 0; i + 1 < LOGIN_SITE_LIMIT; i++) {
		snprintf(ip, sizeof ip, "2001:db8:7:%x::1", i);
		CHECK(fail_once(ip, NULL, t + i) != 0);
	}
	CHECK_EQ_INT(login_limit_site_failures("2001:db8:7:1234::99", t + 200), LOGIN_SITE_LIMIT - 1);
	CHECK_EQ_INT(login_limit_ip_failures("2001:db8:7:5::1", t + 200), 1);
	/* The last of the budget is in flight: the next /64 waits for it. */
	CHECK_EQ_INT(login_limit_admit("2001:db8:7:aaaa::1", NULL, t + 200, &wait, &k), LOGIN_GATE_GO);
	CHECK_EQ_INT(login_limit_admit("2001:db8:7:bbbb::1", NULL, t + 200, &wait, &k2),
		     LOGIN_GATE_SITE_BUSY);
	CHECK(login_gate_busy(LOGIN_GATE_SITE_BUSY));
	CHECK_EQ_STR(login_gate_reason(LOGIN_GATE_SITE_BUSY), "site_busy");
	login_limit_cancel(&k);
	CHECK_EQ_INT(login_limit_admit("2001:db8:7:bbbb::1", NULL, t + 200, &wait, &k2), LOGIN_GATE_GO);
	login_limit_failed(&k2, t + 200, NULL);
	/* Spent: a fresh /64 of the /48 is refused, with nothing checked. */
	CHECK_EQ_INT(login_limit_admit("2001:db8:7:cccc::1", "eve@x", t + 201, &wait, &k),
		     LOGIN_GATE_SITE);
	/* Its log line names the /48, not the /64 (which failed nothing). */
	CHECK_EQ_STR(login_gate_reason(LOGIN_GATE_SITE), "site_failures");
	CHECK(!login_gate_busy(LOGIN_GATE_SITE));
	CHECK_EQ_INT(login_gate_retry_s(LOGIN_GATE_SITE), LOGIN_WINDOW_MS / 1000u);
	CHECK_EQ_INT(login_limit_site_failures("2001:db8:7::", t + 201), LOGIN_SITE_LIMIT);
	/* Not another /48, not IPv4, not the trusted pair. */
	CHECK_EQ_INT(login_limit_admit("2001:db8:8::1", NULL, t + 201, &wait, &k), LOGIN_GATE_GO);
	login_limit_cancel(&k);
	CHECK_EQ_INT(login_limit_site_failures("192.0.2.9", t + 201), 0);
	CHECK_EQ_INT(login_limit_site_failures("::ffff:192.0.2.9", t + 201), 0);
	CHECK_EQ_INT(login_limit_admit("2001:db8:7:ffff::2", "dave@x", t + 201, &wait, &k), LOGIN_GATE_GO);
	CHECK_EQ_INT(k.trusted, 1);
	login_limit_failed(&k, t + 201, NULL); /* counted all the same */
	CHECK_EQ_INT(login_limit_site_failures("2001:db8:7::", t + 201), LOGIN_SITE_LIMIT + 1);
	/* The window runs from the site's last failure. */
	CHECK_EQ_INT(login_limit_admit("2001:db8:7:cccc::1", NULL, t + 201 + LOGIN_WINDOW_MS - 1, &wait,
				       &k),
		     LOGIN_GATE_SITE);
	CHECK_EQ_INT(login_limit_admit("2001:db8:7:cccc::1", NULL, t + 201 + LOGIN_WINDOW_MS, &wait, &k),
		     LOGIN_GATE_GO);
	login_limit_cancel(&k);
}

static void test_bounded(void)
{
	uint64_t t = 40000000;
	char user[48], ip[32];

	login_limit_reset();
	/* The account under attack has many failures ... */
	for (unsigned i = 0; i < 30; i++) {
		snprintf(ip, sizeof ip, "10.1.%u.%u", i / 250, i % 250 + 1);
		struct login_ticket k;
		unsigned wait;
		if (login_limit_admit(ip, "target@x", t, &wait, &k) == LOGIN_GATE_GO)
			login_limit_failed(&k, t, NULL);
	}
	unsigned before = login_limit_account_failures("target@x", t);
	CHECK(before >= LOGIN_ACCOUNT_FREE);
	/* ... and a flood of fresh names (far more than the table holds)
	 * does not push it out. */
	for (unsigned i = 0; i < 3 * LOGIN_LIMIT_SLOTS; i++) {
		snprintf(user, sizeof user, "n%u@x", i);
		snprintf(ip, sizeof ip, "10.%u.%u.%u", 2 + i / 62500, i / 250 % 250, i % 250 + 1);
		fail_once(ip, user, t + 1);
	}
	CHECK_EQ_INT(login_limit_account_failures("target@x", t + 2), before);
}

static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		struct login_ticket k;
		unsigned wait;
		if (login_limit_admit("192.0.2.77", NULL, 50000000, &wait, &k) == LOGIN_GATE_GO)
			login_limit_succeeded(&k, 50000000);
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t th[4];
	struct login_ticket k;
	unsigned wait;

	login_limit_reset();
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, hammer, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	/* Every reservation was settled: nothing left in flight. */
	for (unsigned i = 0; i < LOGIN_IP_LIMIT; i++)
		CHECK_EQ_INT(login_limit_admit("192.0.2.77", NULL, 50000000, &wait, &k),
			     LOGIN_GATE_GO);
	/* Ten under way, none failed: busy. */
	CHECK_EQ_INT(login_limit_admit("192.0.2.77", NULL, 50000000, &wait, &k), LOGIN_GATE_BUSY);
}

#define BURST 12

/* Admits n attempts of one pair at t with login_limit_admit (no hold);
 * returns how many got a check, settling them as failures. */
static unsigned admit_burst(const char *ip, const char *user, uint64_t t, unsigned n)
{
	struct login_ticket k[BURST];
	unsigned wait, go = 0;

	for (unsigned i = 0; i < n; i++)
		if (login_limit_admit(ip, user, t, &wait, &k[go]) == LOGIN_GATE_GO)
			go++;
	for (unsigned i = 0; i < go; i++)
		login_limit_failed(&k[i], t, NULL);
	return go;
}

/* A new client's connections at once: one leads, the rest wait for it and
 * then go on as trusted; a guesser's wait, then get the checks the gate
 * gives today, no more. */
static void test_pair_lead_holds(void)
{
	uint64_t t = 60000000;
	struct login_ticket lead, k[BURST];
	unsigned wait, go = 0;

	login_limit_reset();
	/* Success: everyone held goes on at once, trusted. */
	CHECK_EQ_INT(login_limit_admit_or_hold("192.0.2.80", "new@x", t, &wait, &lead), LOGIN_GATE_GO);
	CHECK(lead.lead && !lead.trusted);
	for (unsigned i = 1; i < BURST; i++)
		CHECK_EQ_INT(login_limit_admit_or_hold("192.0.2.80", "NEW@x", t, &wait, &k[i]),
			     LOGIN_GATE_HOLD);
	/* Held ones reserved nothing: the address still has nine untrusted
	 * checks besides the lead's, and the account no spacing. */
	CHECK_EQ_INT(login_limit_account_failures("new@x", t), 0);
	login_limit_succeeded(&lead, t + 50);
	for (unsigned i = 1; i < BURST; i++) {
		CHECK_EQ_INT(login_limit_admit("192.0.2.80", "new@x", t + 50, &wait, &k[i]), LOGIN_GATE_GO);
		CHECK(k[i].trusted && !k[i].lead && wait == 0);
	}
	for (unsigned i = 1; i < BURST; i++)
		login_limit_succeeded(&k[i], t + 60);
	/* A trusted pair is never held. */
	CHECK_EQ_INT(login_limit_admit_or_hold("192.0.2.80", "new@x", t + 70, &wait, &k[0]), LOGIN_GATE_GO);
	CHECK_EQ_INT(login_limit_admit_or_hold("192.0.2.80", "new@x", t + 70, &wait, &k[1]), LOGIN_GATE_GO);
	CHECK(k[0].trusted && !k[0].lead);
	login_limit_succeeded(&k[0], t + 70);
	login_limit_succeeded(&k[1], t + 70);

	/* Failure: the held go through the gate as a burst does today and
	 * get no more checks than it: the baseline is a burst of another
	 * address at another account, never held. */
	unsigned today = admit_burst("192.0.2.82", "base@x", t, BURST);
	CHECK_EQ_INT(login_limit_admit_or_hold("192.0.2.81", "guess@x", t, &wait, &lead), LOGIN_GATE_GO);
	for (unsigned i = 1; i < BURST; i++)
		CHECK_EQ_INT(login_limit_admit_or_hold("192.0.2.81", "guess@x", t, &wait, &k[i]),
			     LOGIN_GATE_HOLD);
	login_limit_failed(&lead, t + 50, NULL);
	go = 1 + admit_burst("192.0.2.81", "guess@x", t + 50, BURST - 1);
	CHECK(today > LOGIN_ACCOUNT_FREE && today < BURST);
	CHECK_EQ_INT(go, today);

	/* A lead without a verdict hands the lead on. */
	CHECK_EQ_INT(login_limit_admit_or_hold("192.0.2.83", "c@x", t, &wait, &lead), LOGIN_GATE_GO);
	login_limit_cancel(&lead);
	CHECK_EQ_INT(login_limit_admit_or_hold("192.0.2.83", "c@x", t, &wait, &lead), LOGIN_GATE_GO);
	CHECK(lead.lead);
	/* login_limit_admit never leads (nobody would release the held). */
	CHECK_EQ_INT(login_limit_admit("192.0.2.84", "d@x", t, &wait, &k[0]), LOGIN_GATE_GO);
	CHECK(!k[0].lead);
	CHECK_EQ_INT(login_limit_admit_or_hold("192.0.2.84", "d@x", t, &wait, &k[1]), LOGIN_GATE_GO);
	CHECK(k[1].lead);

	/* An address whose budget is full is not held for the pair: busy
	 * while the last check is under way, refused once it failed. */
	for (unsigned i = 0; i < LOGIN_IP_LIMIT - 1; i++) {
		char user[32];
		snprintf(user, sizeof user, "w%u@x", i);
		fail_once("192.0.2.85", user, t);
	}
	CHECK_EQ_INT(login_limit_admit_or_hold("192.0.2.85", "e@x", t, &wait, &lead), LOGIN_GATE_GO);
	CHECK_EQ_INT(login_limit_admit_or_hold("192.0.2.85", "e@x", t, &wait, &k[0]), LOGIN_GATE_BUSY);
	login_limit_failed(&lead, t, NULL);
	CHECK_EQ_INT(login_limit_admit_or_hold("192.0.2.85", "e@x", t, &wait, &k[0]), LOGIN_GATE_IP);
}

int main(void)
{
	test_delays();
	test_ip_limit_and_window();
	test_success_does_not_reset();
	test_parallel_reserved();
	test_trusted_parallel();
	test_account_spacing();
	test_no_verdict_leaves_spacing();
	test_ipv6_prefix();
	test_ipv6_site();
	test_pair_lead_holds();
	test_bounded();
	test_threads();
	return unit_done("test_login_limit");
}
