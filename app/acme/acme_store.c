/*
 * acme_store.c — what the ACME client keeps in the store (meta keys):
 * the account key and the certificate's key (sealed with the data
 * directory's secrets.key, admin_secret.h), the certificate in use read
 * back at start, the wait after a failure ("acme/retry"), the names held
 * out of orders ("acme/names-failed") and the account's contact
 * ("acme/account-contact"). See acme_private.h for each function.
 */
#include "acme/acme.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme/acme_jws.h"
#include "acme/acme_private.h"
#include "admin/admin_secret.h"
#include "core/base64.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "net/tls.h"
#include "net/tls_private.h"
#include "store/store.h"

/*
 * The settings an attempt depends on, hashed (hex, 32 digits): a wait
 * kept across a restart (retry_keep) applies only while they are the
 * same, so an operator who fixed one (the EAB key a CA asked for, the
 * DNS-01 server, another directory) and restarted sees an attempt at
 * once. Secrets go into the hash only, never stored as such.
 */
void acme_settings_fingerprint(const struct config *cfg, char out[33])
{
	const char *const v[] = {cfg->acme_directory, cfg->acme_email,    cfg->acme_challenge,
	                         cfg->hostname,       cfg->acme_eab_kid,  cfg->acme_eab_hmac,
	                         cfg->acme_dns_server, cfg->acme_dns_zone, cfg->acme_tsig_key,
	                         cfg->acme_preferred_chain};
	br_sha256_context sc;
	unsigned char h[32];
	br_sha256_init(&sc);
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		br_sha256_update(&sc, v[i], strlen(v[i]) + 1); /* the NUL separates */
	br_sha256_out(&sc, h);
	for (size_t i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
	explicit_bzero(&sc, sizeof sc);
}

/*
 * The wait after a failed attempt, kept in the store ("acme/retry":
 * "NOT_BEFORE BACKOFF", the settings' fingerprint, the reason, a line
 * each) so that a restart with the same settings does not order at
 * once: a CA's Retry-After (a rate limit of hours) or the back-off was
 * lost, and a container restarting in a loop with a challenge that
 * cannot pass spent the CA's failed validations (Let's Encrypt: 5 an
 * hour) at every start.
 */
void acme_retry_keep(const char *why)
{
	char v[1200];
	int n = snprintf(v, sizeof v, "%lld %u\n%s\n%s", (long long)A.not_before, A.backoff,
	                 A.settings_fp, why);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof v)
		n = (int)sizeof v - 1;
	if (store_meta_put(A.st, "acme/retry", v, (size_t)n, 0) == STORE_OK)
		A.retry_kept = 1;
}

/* A certificate came: no wait is kept. */
void acme_retry_forget(void)
{
	if (A.retry_kept && store_meta_del(A.st, "acme/retry") == STORE_OK)
		A.retry_kept = 0;
}

/*
 * At start: the back-off kept, and the time before which no attempt
 * goes out when a failure before the restart left one not over yet,
 * with the same settings (changed ones are tried at once), capped at
 * BACKOFF_MAX from now (a clock set back). When that time is past
 * planned (the renewal of a certificate loaded, 0 without one): returns
 * it, with A.not_before and the status set to it; else 0.
 */
int64_t acme_retry_restore(int64_t planned)
{
	char v[1200];
	size_t len;
	if (store_meta_get(A.st, "acme/retry", v, sizeof v - 1, &len) != STORE_OK)
		return 0;
	A.retry_kept = 1;
	v[len] = '\0';
	char *dir = strchr(v, '\n'), *why = dir ? strchr(dir + 1, '\n') : NULL, *end;
	if (why == NULL)
		return 0;
	*dir++ = '\0';
	*why++ = '\0';
	long long nb = strtoll(v, &end, 10);
	unsigned long bo = end != v && *end == ' ' ? strtoul(end + 1, &end, 10) : 0;
	if (*end != '\0' || strcmp(dir, A.settings_fp) != 0)
		return 0;
	A.backoff = bo > BACKOFF_MAX ? BACKOFF_MAX : (unsigned)bo;
	int64_t now = time_wall();
	if (nb > now + BACKOFF_MAX)
		nb = now + BACKOFF_MAX;
	if (nb <= now || nb <= planned)
		return 0;
	char q[600];
	log_info("acme", NULL, "event=attempt_held retry_in=%lld error=%s hint=\"the wait after "
	                       "the last failure; tern acme renew tries now\"",
	         (long long)(nb - now), log_q(why, q, sizeof q));
	acme_status_set("failed", why, nb);
	A.not_before = nb;
	return nb;
}

/* k's scalar, base64url, sealed with the data directory's secrets.key. */
int acme_key_seal(const struct acme_key *k, char *sealed, size_t sealedsz)
{
	char b64[64];
	base64_encode(k->kbuf, sizeof k->kbuf, BASE64_URL | BASE64_NOPAD, b64, sizeof b64);
	int rc = admin_secret_seal(A.data_dir, b64, sealed, sealedsz);
	explicit_bzero(b64, sizeof b64);
	return rc;
}

int acme_key_save(const char *name, const struct acme_key *k)
{
	char sealed[512];
	if (acme_key_seal(k, sealed, sizeof sealed) < 0)
		return -1;
	return store_meta_put(A.st, name, sealed, strlen(sealed), 0) == STORE_OK ? 0 : -1;
}

static int key_load_from(struct store *st, const char *data_dir, const char *name,
                         struct acme_key *k)
{
	char sealed[512], b64[256];
	unsigned char raw[64];
	size_t len;
	int rc = -1;

	if (store_meta_get(st, name, sealed, sizeof sealed - 1, &len) != STORE_OK)
		return -1;
	sealed[len] = '\0';
	if (admin_secret_open(data_dir, sealed, b64, sizeof b64) == 0 &&
	    base64_decode(str_make(b64, strlen(b64)), BASE64_URL | BASE64_NOPAD, raw, sizeof raw,
	                  &len) == 0 &&
	    acme_key_from_raw(k, raw, len) == 0)
		rc = 0;
	explicit_bzero(b64, sizeof b64);
	explicit_bzero(raw, sizeof raw);
	return rc;
}

int acme_key_load(const char *name, struct acme_key *k)
{
	return key_load_from(A.st, A.data_dir, name, k);
}

/*
 * Names whose challenge failed (a CAA record naming another CA, a
 * firewall, a proxy in front of that name only): left out of the orders
 * for NAME_FAIL_HOLD, so the host name and the others still get their
 * certificate; the whole order used to fail at every attempt, until the
 * certificate in use expired. Kept in the store ("acme/names-failed":
 * lines "name unix-time-until"), so a restart neither asks again nor
 * renews early for them. TERN_HOSTNAME is never left out. tern acme
 * renew releases them (acme_names_failed_release): the operator who
 * fixed the record need not wait the 30 days out.
 */
#define NAME_FAIL_HOLD (30 * 86400)
#define NAMES_FAILED_MAX 64
static struct {
	char name[256];
	int64_t until;
} failed_names[NAMES_FAILED_MAX];
static size_t nfailed;

void acme_names_failed_load(void)
{
	char *v = xmalloc(NAMES_FAILED_MAX * 280 + 1);
	size_t len;
	nfailed = 0;
	if (store_meta_get(A.st, "acme/names-failed", v, NAMES_FAILED_MAX * 280, &len) == STORE_OK) {
		v[len] = '\0';
		for (char *line = v, *nl; *line && nfailed < NAMES_FAILED_MAX; line = nl + 1) {
			long long until;
			nl = strchr(line, '\n');
			if (nl == NULL)
				break;
			*nl = '\0';
			char *sp = strchr(line, ' ');
			if (sp == NULL || (size_t)(sp - line) >= sizeof failed_names[0].name ||
			    sscanf(sp + 1, "%lld", &until) != 1)
				continue;
			memcpy(failed_names[nfailed].name, line, (size_t)(sp - line));
			failed_names[nfailed].name[sp - line] = '\0';
			failed_names[nfailed++].until = until;
		}
	}
	free(v);
}

/* 1 when name is held out of orders now. */
int acme_name_failed(const char *name, int64_t now)
{
	for (size_t i = 0; i < nfailed; i++)
		if (failed_names[i].until > now && strcasecmp(failed_names[i].name, name) == 0)
			return 1;
	return 0;
}

/* Holds name out; 0, or -1 when the list is full (nothing held). */
int acme_name_failed_add(const char *name, int64_t now)
{
	size_t i = 0, keep = 0;
	for (; i < nfailed; i++) /* drop the expired and name's old entry */
		if (failed_names[i].until > now && strcasecmp(failed_names[i].name, name) != 0)
			failed_names[keep++] = failed_names[i];
	nfailed = keep;
	if (nfailed == NAMES_FAILED_MAX)
		return -1;
	snprintf(failed_names[nfailed].name, sizeof failed_names[0].name, "%s", name);
	failed_names[nfailed++].until = now + NAME_FAIL_HOLD;
	struct buf b;
	buf_init(&b, NAMES_FAILED_MAX * 280);
	for (i = 0; i < nfailed; i++)
		buf_printf(&b, "%s %lld\n", failed_names[i].name, (long long)failed_names[i].until);
	if (store_meta_put(A.st, "acme/names-failed", buf_data(&b), buf_len(&b), 0) != STORE_OK)
		log_warn("acme", NULL, "event=store_failed key=acme/names-failed");
	buf_free(&b);
	log_warn("acme", NULL, "event=name_held_out name=%s hold=%d hint=\"its challenge failed: "
	                       "the next orders leave it out for 30 days\"",
	         name, NAME_FAIL_HOLD);
	return 0;
}

void acme_names_failed_release(void)
{
	if (nfailed == 0)
		return;
	nfailed = 0;
	int rc = store_meta_del(A.st, "acme/names-failed");
	if (rc != STORE_OK && rc != STORE_ENOTFOUND)
		log_warn("acme", NULL, "event=store_failed key=acme/names-failed");
	log_info("acme", NULL, "event=names_released reason=renew_requested");
}

struct tls_conf *acme_stored_conf(struct store *st, const char *data_dir, char *err,
                                  size_t errsz)
{
	size_t len;
	struct acme_key k;
	unsigned char der[256];
	struct tls_conf *conf = NULL;
	char *pem = xmalloc(65537);

	err[0] = '\0';
	if (store_meta_get(st, "acme/cert", pem, 65536, &len) != STORE_OK) {
		free(pem);
		return NULL;
	}
	if (key_load_from(st, data_dir, "acme/cert-key", &k) == 0) {
		size_t dlen = br_encode_ec_raw_der(der, &k.sk, &k.pk);
		conf = tls_conf_from_pem(pem, len, "acme/cert", der, dlen, "acme/cert-key", err,
		                         errsz);
		explicit_bzero(der, sizeof der);
		acme_key_wipe(&k);
	} else {
		snprintf(err, errsz, "its key (acme/cert-key) is missing or does not open with "
		                     "secrets.key");
	}
	free(pem);
	return conf;
}

/* The account's contact as stored when it was created or last updated
 * ("acme/account-contact"): TERN_ACME_EMAIL then. */
int acme_contact_stored_same(void)
{
	char v[sizeof A.email];
	size_t len;
	if (store_meta_get(A.st, "acme/account-contact", v, sizeof v - 1, &len) != STORE_OK)
		return 0; /* an account made before it was kept: updated once */
	v[len] = '\0';
	return strcmp(v, A.email) == 0;
}

void acme_contact_stored_put(void)
{
	if (store_meta_put(A.st, "acme/account-contact", A.email, strlen(A.email), 0) != STORE_OK)
		log_warn("acme", NULL, "event=store_failed key=acme/account-contact");
}
