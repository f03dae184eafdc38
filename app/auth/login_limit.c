/*
 * login_limit.c — failure counters per address, per account and trusted
 * (address, account) pairs, in fixed tables. See login_limit.h for the
 * policy.
 */
#include "auth/login_limit.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "core/cidr.h"
#include "core/xalloc.h"

/* K_LEAD: a pair's lead in flight (pending 1), apart from K_PAIR so that
 * guessers' leads never push a real user's trust out of its table. */
enum kind { K_IP, K_SITE, K_ACCOUNT, K_PAIR, K_LEAD, K_COUNT };

struct entry {
	uint8_t key[16];
	uint8_t used;
	uint32_t failures, pending;
	uint32_t pending_trusted; /* address, site: attempts in flight for trusted pairs */
	uint64_t last_ms; /* last failure (address, account) or success (pair) */
	uint64_t next_ms; /* account: the next free check slot */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static uint8_t digest_key[crypto_generichash_KEYBYTES];
static struct entry tables[K_COUNT][LOGIN_LIMIT_SLOTS];

static void key_init(void)
{
	if (sodium_init() < 0)
		fatal("auth event=sodium_init_failed");
	randombytes_buf(digest_key, sizeof digest_key);
}

/*
 * The address part of a key: the client as the connection limits count it
 * (cidr_client_key: an IPv4 address, an IPv6 /64), so one client is one
 * client everywhere. Anything that is not a literal address (a unix
 * socket's "") is counted under one shared key, "".
 */
static void ip_material(const char *ip, char out[CIDR_KEY_MAX])
{
	if (!ip || cidr_client_key(ip, out, CIDR_KEY_MAX) < 0)
		out[0] = '\0';
}

/* The site part: an IPv6 client's /48 (cidr_site_key); 0, or -1 when
 * the client has none (IPv4, a unix socket). */
static int site_material(const char *ip, char out[CIDR_KEY_MAX])
{
	return ip ? cidr_site_key(ip, out, CIDR_KEY_MAX) : -1;
}

static void digest(enum kind k, const char *client, const char *user, uint8_t out[16])
{
	crypto_generichash_state st;
	uint8_t kb = (uint8_t)k;

	pthread_once(&key_once, key_init);
	crypto_generichash_init(&st, digest_key, sizeof digest_key, 16);
	crypto_generichash_update(&st, &kb, 1);
	/* With its NUL: the client's end is never ambiguous with the user's start. */
	if (client)
		crypto_generichash_update(&st, (const uint8_t *)client, strlen(client) + 1);
	/* Addresses are stored lowercase: "Bob@x" and "bob@x" are one account. */
	for (const char *p = user; p && *p; p++) {
		uint8_t c = (uint8_t)*p;
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 32);
		crypto_generichash_update(&st, &c, 1);
	}
	crypto_generichash_final(&st, out, 16);
}

/* After: now is later than t by at least span (an earlier now is "just now"). */
static int older_than(uint64_t t, uint64_t now, uint64_t span)
{
	return now > t && now - t >= span;
}

static int expired(enum kind k, const struct entry *e, uint64_t now)
{
	if (!e->used)
		return 1;
	if (k == K_PAIR)
		return older_than(e->last_ms, now, LOGIN_TRUST_MS);
	if (k == K_LEAD)
		return !e->pending;
	if (e->pending || e->pending_trusted)
		return 0;
	if (k == K_ACCOUNT && e->next_ms > now)
		return 0;
	return e->failures == 0 || older_than(e->last_ms, now, LOGIN_WINDOW_MS);
}

/*
 * The live entry for key in table k, or (create) a fresh one in its probe
 * window; NULL when absent and not created. Called with lock held.
 */
static struct entry *lookup(enum kind k, const uint8_t key[16], uint64_t now, int create)
{
	struct entry *t = tables[k], *victim = NULL;
	uint64_t h;

	memcpy(&h, key, sizeof h);
	for (unsigned i = 0; i < LOGIN_LIMIT_PROBE; i++) {
		struct entry *e = &t[(h + i) % LOGIN_LIMIT_SLOTS];
		if (e->used && memcmp(e->key, key, 16) == 0) {
			if (!expired(k, e, now))
				return e;
			if (!create)
				return NULL;
			victim = e; /* the same key, expired: start it over in place */
			goto fresh;
		}
	}
	if (!create)
		return NULL;
	/* A free or expired slot, else the one with the fewest failures. */
	for (unsigned i = 0; i < LOGIN_LIMIT_PROBE; i++) {
		struct entry *e = &t[(h + i) % LOGIN_LIMIT_SLOTS];
		if (expired(k, e, now)) {
			victim = e;
			break;
		}
		if (!victim || e->failures < victim->failures ||
		    (e->failures == victim->failures && e->last_ms < victim->last_ms))
			victim = e;
	}
fresh:
	memset(victim, 0, sizeof *victim);
	memcpy(victim->key, key, 16);
	victim->used = 1;
	return victim;
}

static uint64_t account_gap(uint32_t f)
{
	if (f < LOGIN_ACCOUNT_FREE)
		return 0;
	uint64_t gap = LOGIN_ACCOUNT_STEP_MS;
	for (uint32_t i = LOGIN_ACCOUNT_FREE; i < f && gap < LOGIN_ACCOUNT_MAX_GAP_MS; i++)
		gap *= 2;
	return gap < LOGIN_ACCOUNT_MAX_GAP_MS ? gap : LOGIN_ACCOUNT_MAX_GAP_MS;
}

/* The gate for a caller that can wait up to max_wait ms for the account's
 * slot; a slot further away is refused and changes nothing. may_hold: an
 * untrusted pair's attempt leads, or is held while its lead is in flight. */
static enum login_gate admit(const char *ip, const char *user, uint64_t now_ms, uint64_t max_wait,
			     int may_hold, unsigned *wait_ms_r, struct login_ticket *t)
{
	char ipm[CIDR_KEY_MAX], sitem[CIDR_KEY_MAX];
	enum login_gate g = LOGIN_GATE_GO;

	memset(t, 0, sizeof *t);
	*wait_ms_r = 0;
	ip_material(ip, ipm);
	digest(K_IP, ipm, NULL, t->ip);
	t->has_site = site_material(ip, sitem) == 0;
	if (t->has_site)
		digest(K_SITE, sitem, NULL, t->site);
	t->has_account = user && user[0];
	if (t->has_account) {
		digest(K_ACCOUNT, NULL, user, t->account);
		digest(K_PAIR, ipm, user, t->pair);
	}
	pthread_mutex_lock(&lock);
	struct entry *ie = lookup(K_IP, t->ip, now_ms, 1);
	struct entry *se = t->has_site ? lookup(K_SITE, t->site, now_ms, 1) : NULL;
	t->trusted = t->has_account && lookup(K_PAIR, t->pair, now_ms, 0) != NULL;
	/*
	 * A trusted pair's attempts in flight are not held against the
	 * address: twenty people behind one NAT logging in at nine, or a
	 * client opening a dozen connections at once, are not guessing. They
	 * have a budget of their own, so even they cannot start a flood of
	 * checks; their failures count like any other.
	 */
	if (ie->failures >= LOGIN_IP_LIMIT) {
		g = LOGIN_GATE_IP;
		goto out;
	}
	/* Its budget taken by checks under way (none failed yet): busy, so
	 * that eleven correct logins at once are not called failures. */
	if (t->trusted ? ie->pending_trusted >= LOGIN_TRUSTED_PARALLEL
		       : ie->failures + ie->pending >= LOGIN_IP_LIMIT) {
		g = LOGIN_GATE_BUSY;
		goto out;
	}
	/*
	 * The /48 the /64 is in has a budget of its own for untrusted
	 * attempts, LOGIN_SITE_LIMIT: one attacker may hold all 65,536 /64s
	 * of a site. A pair that logged in lately is not refused for the
	 * others' failures (its /64's budget still holds).
	 */
	if (se && !t->trusted && se->failures + se->pending >= LOGIN_SITE_LIMIT) {
		g = se->failures >= LOGIN_SITE_LIMIT ? LOGIN_GATE_SITE : LOGIN_GATE_SITE_BUSY;
		goto out;
	}
	if (t->has_account && !t->trusted && may_hold) {
		/* After the address's checks, so a refused address is not
		 * held first; before the account's, which it would spend. */
		if (lookup(K_LEAD, t->pair, now_ms, 0)) {
			g = LOGIN_GATE_HOLD;
			goto out;
		}
	}
	if (t->has_account) {
		if (!t->trusted) {
			struct entry *ae = lookup(K_ACCOUNT, t->account, now_ms, 1);
			uint64_t slot = ae->next_ms > now_ms ? ae->next_ms : now_ms;
			if (slot - now_ms > max_wait) {
				g = LOGIN_GATE_ACCOUNT;
				goto out;
			}
			ae->next_ms = slot + account_gap(ae->failures + ae->pending);
			ae->pending++;
			t->slot = slot;
			t->slot_end = ae->next_ms;
			*wait_ms_r = (unsigned)(slot - now_ms);
			if (may_hold) {
				struct entry *le = lookup(K_LEAD, t->pair, now_ms, 1);
				le->pending = 1;
				le->last_ms = now_ms; /* the stalest lead goes first */
				t->lead = 1;
			}
		}
	}
	if (t->trusted) {
		ie->pending_trusted++;
		if (se)
			se->pending_trusted++;
	} else {
		ie->pending++;
		if (se)
			se->pending++;
	}
out:
	pthread_mutex_unlock(&lock);
	return g;
}

enum login_gate login_limit_admit(const char *ip, const char *user, uint64_t now_ms,
				  unsigned *wait_ms_r, struct login_ticket *t)
{
	return admit(ip, user, now_ms, LOGIN_WAIT_MAX_MS, 0, wait_ms_r, t);
}

enum login_gate login_limit_admit_or_hold(const char *ip, const char *user, uint64_t now_ms,
					  unsigned *wait_ms_r, struct login_ticket *t)
{
	return admit(ip, user, now_ms, LOGIN_WAIT_MAX_MS, 1, wait_ms_r, t);
}

enum login_gate login_limit_admit_now(const char *ip, const char *user, uint64_t now_ms,
				      struct login_ticket *t)
{
	unsigned wait;

	return admit(ip, user, now_ms, 0, 0, &wait, t);
}

/* Drops one reservation from an entry, if it is still there. */
static struct entry *settle(enum kind k, const uint8_t key[16], uint64_t now, int create)
{
	struct entry *e = lookup(k, key, now, create);
	if (e && e->pending)
		e->pending--;
	return e;
}

/* The same for the address (k K_IP) or its site (K_SITE), whose trusted
 * reservations are apart. */
static struct entry *settle_ip(enum kind k, const struct login_ticket *t, uint64_t now, int create)
{
	struct entry *e = lookup(k, k == K_SITE ? t->site : t->ip, now, create);
	uint32_t *n = e ? (t->trusted ? &e->pending_trusted : &e->pending) : NULL;
	if (n && *n)
		(*n)--;
	return e;
}

/* A lead settled: its pair's next attempt leads again. (A lead pushed out
 * and taken again by a later attempt is dropped early: that attempt's
 * pair is then not held, as before holds.) */
static void settle_lead(const struct login_ticket *t)
{
	if (t->lead) {
		struct entry *e = lookup(K_LEAD, t->pair, 0, 0);
		if (e)
			e->pending = 0;
	}
}

/* Counts a failure in an address or site entry. */
static void count_failure(struct entry *e, uint64_t now)
{
	if (e->failures < UINT32_MAX)
		e->failures++;
	if (now > e->last_ms)
		e->last_ms = now;
}

unsigned login_limit_failed(const struct login_ticket *t, uint64_t now_ms, unsigned *failures_r)
{
	unsigned n, delay = LOGIN_FIRST_DELAY_MS;

	pthread_mutex_lock(&lock);
	settle_lead(t);
	struct entry *ie = settle_ip(K_IP, t, now_ms, 1);
	count_failure(ie, now_ms);
	n = ie->failures;
	if (t->has_site)
		count_failure(settle_ip(K_SITE, t, now_ms, 1), now_ms);
	if (t->has_account) {
		/* A trusted pair reserved nothing on the account, but its
		 * failure still counts there. */
		struct entry *ae = t->trusted ? lookup(K_ACCOUNT, t->account, now_ms, 1)
					      : settle(K_ACCOUNT, t->account, now_ms, 1);
		count_failure(ae, now_ms);
	}
	pthread_mutex_unlock(&lock);
	if (failures_r)
		*failures_r = n;
	for (unsigned i = 1; i < n && delay < LOGIN_MAX_DELAY_MS; i++)
		delay *= 2;
	return delay < LOGIN_MAX_DELAY_MS ? delay : LOGIN_MAX_DELAY_MS;
}

void login_limit_succeeded(const struct login_ticket *t, uint64_t now_ms)
{
	pthread_mutex_lock(&lock);
	settle_lead(t);
	settle_ip(K_IP, t, now_ms, 0);
	if (t->has_site)
		settle_ip(K_SITE, t, now_ms, 0);
	if (t->has_account) {
		if (!t->trusted)
			settle(K_ACCOUNT, t->account, now_ms, 0);
		struct entry *pe = lookup(K_PAIR, t->pair, now_ms, 1);
		if (now_ms > pe->last_ms)
			pe->last_ms = now_ms;
	}
	pthread_mutex_unlock(&lock);
}

void login_limit_cancel(const struct login_ticket *t)
{
	pthread_mutex_lock(&lock);
	settle_lead(t);
	/* Time 0 is never later than an entry: nothing looks expired. */
	settle_ip(K_IP, t, 0, 0);
	if (t->has_site)
		settle_ip(K_SITE, t, 0, 0);
	if (t->has_account && !t->trusted) {
		struct entry *ae = settle(K_ACCOUNT, t->account, 0, 0);
		/* Its slot goes back too while no later one was taken after it:
		 * an attempt without a verdict must not space out the next. */
		if (ae && ae->next_ms == t->slot_end)
			ae->next_ms = t->slot;
	}
	pthread_mutex_unlock(&lock);
}

static unsigned count(enum kind k, const uint8_t key[16], uint64_t now)
{
	pthread_mutex_lock(&lock);
	struct entry *e = lookup(k, key, now, 0);
	unsigned n = e ? e->failures : 0;
	pthread_mutex_unlock(&lock);
	return n;
}

unsigned login_limit_ip_failures(const char *ip, uint64_t now_ms)
{
	char ipm[CIDR_KEY_MAX];
	uint8_t key[16];

	ip_material(ip, ipm);
	digest(K_IP, ipm, NULL, key);
	return count(K_IP, key, now_ms);
}

unsigned login_limit_site_failures(const char *ip, uint64_t now_ms)
{
	char sitem[CIDR_KEY_MAX];
	uint8_t key[16];

	if (site_material(ip, sitem) < 0)
		return 0;
	digest(K_SITE, sitem, NULL, key);
	return count(K_SITE, key, now_ms);
}

unsigned login_limit_account_failures(const char *user, uint64_t now_ms)
{
	uint8_t key[16];

	digest(K_ACCOUNT, NULL, user, key);
	return count(K_ACCOUNT, key, now_ms);
}

void login_limit_reset(void)
{
	pthread_mutex_lock(&lock);
	memset(tables, 0, sizeof tables);
	pthread_mutex_unlock(&lock);
}

/* What each refusal is: its log reason, whether it is for checks under
 * way (busy) rather than failures, and when to come back. */
static const struct {
	const char *reason;
	int busy;
	unsigned retry_s;
} gates[] = {
	[LOGIN_GATE_IP] = {"too_many_failures", 0, LOGIN_WINDOW_MS / 1000u},
	[LOGIN_GATE_SITE] = {"site_failures", 0, LOGIN_WINDOW_MS / 1000u},
	[LOGIN_GATE_ACCOUNT] = {"account_busy", 1, LOGIN_ACCOUNT_MAX_GAP_MS / 1000u},
	[LOGIN_GATE_BUSY] = {"address_busy", 1, LOGIN_MAX_DELAY_MS / 1000u},
	[LOGIN_GATE_SITE_BUSY] = {"site_busy", 1, LOGIN_MAX_DELAY_MS / 1000u},
};

static int gate_known(enum login_gate g)
{
	return (size_t)g < sizeof gates / sizeof gates[0] && gates[g].reason;
}

unsigned login_gate_retry_s(enum login_gate g)
{
	return gate_known(g) ? gates[g].retry_s : 0;
}

const char *login_gate_reason(enum login_gate g)
{
	return gate_known(g) ? gates[g].reason : "none";
}

int login_gate_busy(enum login_gate g)
{
	return gate_known(g) && gates[g].busy;
}
