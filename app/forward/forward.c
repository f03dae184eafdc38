/*
 * forward.c — SRS key, rate limit, loop checks and the sender of a
 * forwarded copy. See forward.h.
 */
#include "forward/forward.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "admin/admin_secret.h"
#include "auth/alabels.h"
#include "auth/arc.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/rate.h"
#include "mime/rfc5322.h"
#include "store/store.h"

static struct srs srs_key;
static int srs_ready;
static struct rate_table rate;

int forward_init(const char *data_dir, unsigned per_hour)
{
	rate_table_init(&rate, per_hour);
	if (admin_secret_derive(data_dir, 1, "tern-srs", srs_key.key) != 0) {
		log_error("forward", NULL, "event=srs_key_failed dir=%s", data_dir);
		srs_ready = 0;
		return -1;
	}
	srs_key.max_age_days = SRS_MAX_AGE_DAYS;
	srs_ready = 1;
	return 0;
}

const struct srs *forward_srs(void)
{
	return srs_ready ? &srs_key : NULL;
}

/* The rate table's key of an address, ASCII case ignored (a Sieve
 * redirect's address comes as the script's owner wrote it). */
static uint64_t alias_key(const char *alias)
{
	uint8_t h[8];
	uint64_t k = 0;
	char low[512];
	size_t n = strlen(alias);

	if (n < sizeof low) {
		for (size_t i = 0; i < n; i++)
			low[i] = alias[i] >= 'A' && alias[i] <= 'Z' ? (char)(alias[i] + 32) : alias[i];
		alias = low;
	}
	crypto_generichash(h, sizeof h, (const unsigned char *)alias, n, NULL, 0);
	for (int i = 0; i < 8; i++)
		k = k << 8 | h[i];
	return k;
}

int forward_rate_allowed(const char *alias, uint64_t now_ms)
{
	return rate_table_allowed(&rate, alias_key(alias), now_ms);
}

void forward_rate_record(const char *alias, uint64_t now_ms)
{
	rate_table_record(&rate, alias_key(alias), now_ms);
}

/* An account's key in the same table: the hash of a NUL and the id, an
 * input no address (hashed without its terminating NUL) can give. */
static uint64_t account_key(uint32_t account)
{
	uint8_t in[5] = { 0 }, h[8];
	uint64_t k = 0;

	for (int i = 0; i < 4; i++)
		in[1 + i] = (uint8_t)(account >> (8 * i));
	crypto_generichash(h, sizeof h, in, sizeof in, NULL, 0);
	for (int i = 0; i < 8; i++)
		k = k << 8 | h[i];
	return k;
}

int forward_rate_account_allowed(uint32_t account, uint64_t now_ms)
{
	return rate_table_allowed(&rate, account_key(account), now_ms);
}

void forward_rate_account_record(uint32_t account, uint64_t now_ms)
{
	rate_table_record(&rate, account_key(account), now_ms);
}

/* 1 when the (folded) value names addr: white space and <> around it ignored. */
static int names(struct str v, const char *addr)
{
	char u[1024];
	size_t n;

	if (v.len > sizeof u)
		return 0;
	n = rfc5322_unfold(v, u);
	struct str a = str_trim(str_make(u, n));
	if (a.len >= 2 && a.p[0] == '<' && a.p[a.len - 1] == '>')
		a = str_trim(str_make(a.p + 1, a.len - 2));
	return str_eq_ci_c(a, addr);
}

int forward_scan(const char *msg, size_t len, const char *addr, unsigned *received_r)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used;
	int found = 0, r;

	*received_r = 0;
	rfc5322_init(&p);
	/* The whole message is at hand: eof from the start, fields are slices. */
	while ((r = rfc5322_parse(&p, msg + off, len - off, 1, &used, &f)) == RFC5322_FIELD) {
		off += used;
		if (str_eq_ci_c(f.name, "Received"))
			(*received_r)++;
		else if (addr && !found && str_eq_ci_c(f.name, "Delivered-To"))
			found = names(f.value, addr);
	}
	rfc5322_clear(&p);
	return found;
}

int forward_has_arc(const char *msg, size_t len)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used;
	int found = 0;

	rfc5322_init(&p);
	while (!found && rfc5322_parse(&p, msg + off, len - off, 1, &used, &f) == RFC5322_FIELD) {
		off += used;
		found = arc_field_kind(f.raw) != ARC_F_NONE;
	}
	rfc5322_clear(&p);
	return found;
}

const char *forward_orcpt(const char *given, const char *alias, char *out, size_t outsz)
{
	const char *src = given && *given ? given : NULL;
	for (const char *p = alias; !src && *p; p++)
		if ((unsigned char)*p >= 0x80)
			return NULL;
	int n = src ? snprintf(out, outsz, "%s", src) : snprintf(out, outsz, "rfc822;%s", alias);
	return n > 0 && (size_t)n < outsz ? out : NULL;
}

int forward_sender(const char *sender, int sender_local, const char *fwd_domain, int64_t now,
		   char *out, size_t outsz)
{
	const struct srs *k = forward_srs();
	int rc;

	if (!sender[0] || sender_local) {
		snprintf(out, outsz, "%s", sender);
		return SRS_OK;
	}
	/* A-labels: an alias written with a U-label domain gave a UTF-8
	 * envelope sender, which a next hop without SMTPUTF8 refuses (and
	 * the original message may need no SMTPUTF8 at all). */
	char dom[256];
	if (auth_domain_alabels(fwd_domain, dom, sizeof dom) != 0)
		rc = SRS_EINVAL;
	else
		rc = k ? srs_forward(k, sender, dom, now, out, outsz) : SRS_EINVAL;
	if (rc != SRS_OK)
		snprintf(out, outsz, "%s", sender);
	return rc;
}

int forward_reverse_local(struct store *st, const char *addr, char *out, size_t outsz, int *why_r)
{
	int rc;

	struct srs_parts p;
	const char *at = strrchr(addr, '@');
	const struct srs *k = forward_srs();

	if (outsz)
		out[0] = '\0';
	/* Served: bounces come back to the A-labels forward_sender wrote,
	 * while the domain may be kept as its U-labels. */
	if (!at || srs_parse(addr, (size_t)(at - addr), &p) == SRS_NOT_SRS ||
	    store_domain_served(st, at + 1) != 1)
		return 0;
	rc = k ? srs_reverse(k, addr, (int64_t)time_wall(), out, outsz) : SRS_EINVAL;
	if (why_r)
		*why_r = rc;
	return rc == SRS_OK ? 1 : -1;
}
