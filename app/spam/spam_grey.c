/*
 * spam_grey.c — greylisting triplets, their records and the decision
 * (spam_grey.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <sodium.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hex.h"
#include "core/xalloc.h"
#include "spam/spam_grey.h"
#include "spam/spam_private.h"
#include "store/store.h"

#define REC_LEN 17

/* The client's network as text: a.b.c.0/24 or the first 8 octets of IPv6. */
static void network(const char *ip, char *out, size_t outsz)
{
	uint8_t a[16];
	if (inet_pton(AF_INET, ip, a) == 1) {
		snprintf(out, outsz, "%u.%u.%u.0/24", a[0], a[1], a[2]);
	} else if (inet_pton(AF_INET6, ip, a) == 1) {
		if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
			snprintf(out, outsz, "%u.%u.%u.0/24", a[12], a[13], a[14]);
		else
			snprintf(out, outsz, "%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64", a[0], a[1], a[2],
				 a[3], a[4], a[5], a[6], a[7]);
	} else {
		snprintf(out, outsz, "%s", ip);
	}
}

static void lower_update(crypto_generichash_state *h, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)tolower((unsigned char)*s);
		crypto_generichash_update(h, &c, 1);
	}
	unsigned char z = 0;
	crypto_generichash_update(h, &z, 1);
}

/*
 * The envelope sender as one sender's messages share it: a BATV tag
 * ("prvs=TAG=" or "btv1==TAG==" before the local part, RFC-draft BATV)
 * dropped and each run of digits in the local part one '#' (VERP and
 * bounce addresses number every message: "bounce-4711-12@"). Else every
 * message of such a sender was a new triplet and waited out the delay,
 * not only its first. Into out (outsz bytes), lowercased by the caller.
 */
static void sender_shape(const char *from, char *out, size_t outsz)
{
	const char *at = strrchr(from, '@');
	size_t n = 0;
	if (!at || outsz == 0) {
		snprintf(out, outsz, "%s", from);
		return;
	}
	const char *p = from;
	int prvs = strncasecmp(p, "prvs=", 5) == 0, btv1 = strncasecmp(p, "btv1==", 6) == 0;
	if (prvs || btv1) { /* the tag ends at the next "=" ("==") */
		const char *sep = prvs ? "=" : "==";
		const char *e = strstr(p + (prvs ? 5 : 6), sep);
		if (e && e + strlen(sep) < at)
			p = e + strlen(sep);
	}
	for (; p < at && n + 1 < outsz; p++) {
		if (*p >= '0' && *p <= '9') {
			if (n && out[n - 1] == '#')
				continue;
			out[n++] = '#';
		} else {
			out[n++] = *p;
		}
	}
	snprintf(out + n, outsz - n, "%s", at);
}

void spam_grey_key(const char *ip, const char *mail_from, const char *rcpt, char *out)
{
	char net[64], from[512];
	uint8_t d[16];
	crypto_generichash_state h;
	network(ip ? ip : "", net, sizeof net);
	sender_shape(mail_from ? mail_from : "", from, sizeof from);
	crypto_generichash_init(&h, NULL, 0, sizeof d);
	lower_update(&h, net);
	lower_update(&h, from);
	lower_update(&h, rcpt ? rcpt : "");
	crypto_generichash_final(&h, d, sizeof d);
	memcpy(out, "grey/", 5);
	hex_encode(out + 5, d, sizeof d);
}

static int64_t expires(const struct spam_grey_rec *r)
{
	return r->passed ? r->last + SPAM_GREY_PASSED_TTL : r->first + SPAM_GREY_RETRY_WINDOW;
}

enum spam_grey_verdict spam_grey_decide(const struct spam_grey_rec *rec, int64_t now,
					unsigned delay, struct spam_grey_rec *next, int *write_r)
{
	*write_r = 0;
	if (!rec || expires(rec) <= now) {
		*next = (struct spam_grey_rec){now, now, 0};
		*write_r = 1;
		return SPAM_GREY_NEW;
	}
	*next = *rec;
	if (rec->passed) {
		if (now - rec->last >= SPAM_GREY_REFRESH) {
			next->last = now;
			*write_r = 1;
		}
		return SPAM_GREY_PASS;
	}
	if (now - rec->first < (int64_t)delay)
		return SPAM_GREY_WAIT;
	next->passed = 1;
	next->last = now;
	*write_r = 1;
	return SPAM_GREY_PASS;
}

static int64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

static void put64(uint8_t *p, int64_t x)
{
	uint64_t v = (uint64_t)x;
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static int decode(const void *val, size_t len, struct spam_grey_rec *rec)
{
	const uint8_t *p = val;
	if (len != REC_LEN)
		return -1;
	rec->first = get64(p);
	rec->last = get64(p + 8);
	rec->passed = p[16] != 0;
	return 0;
}

int spam_grey_read(struct store *st, const char *key, int64_t now, struct spam_grey_rec *rec)
{
	uint8_t v[REC_LEN];
	size_t n = 0;
	int rc = store_meta_get(st, key, v, sizeof v, &n);
	if (rc == STORE_ENOTFOUND)
		return 0;
	if (rc != STORE_OK || decode(v, n, rec) < 0)
		return rc == STORE_OK ? 0 : -1;
	return expires(rec) > now;
}

int spam_grey_write(struct store *st, const char *key, const struct spam_grey_rec *rec)
{
	uint8_t v[REC_LEN];
	put64(v, rec->first);
	put64(v + 8, rec->last);
	v[16] = (uint8_t)(rec->passed != 0);
	return store_meta_put(st, key, v, sizeof v, 0) == STORE_OK ? 0 : -1;
}

static int grey_expired(const void *val, size_t len, int64_t now)
{
	struct spam_grey_rec r;
	return decode(val, len, &r) < 0 || expires(&r) <= now;
}

size_t spam_grey_sweep(struct store *st, int64_t now, size_t visit)
{
	static struct spam_sweeper sw = {"grey/", SPAM_GREY_KEY_MAX, grey_expired,
	                                 PTHREAD_MUTEX_INITIALIZER, ""};
	return spam_sweep(st, &sw, now, visit);
}
