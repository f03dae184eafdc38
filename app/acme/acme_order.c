/*
 * acme_order.c — the order and its authorizations (RFC 8555 §7.4, §7.5):
 * newOrder for A.names (naming the certificate it replaces, RFC 9773
 * §5), then each authorization read, its challenge answered where the
 * CA looks (tls-alpn-01: RFC 8737, a certificate on every TLS listener
 * under ALPN acme-tls/1; http-01: the key authorization the HTTP
 * listener serves, acme_http01_answer(); dns-01: a TXT record by RFC
 * 2136 update, waited for on every authoritative server), and polled
 * with the others answered (AUTHZ_PARALLEL at once) until valid; then
 * finalize (acme_cert.c). A name whose challenge fails is held out of
 * the next orders (acme_name_failed_add).
 */
#include "acme/acme.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme/acme_dnsprop.h"
#include "acme/acme_dnsupd.h"
#include "acme/acme_http.h"
#include "acme/acme_jws.h"
#include "acme/acme_msg.h"
#include "acme/acme_private.h"
#include "core/base64.h"
#include "core/log.h"
#include "core/loop.h"
#include "http/json.h"
#include "net/tls.h"
#include "net/tls_private.h"

/* The HTTP-01 answers, read by the HTTP listener's threads. */
static pthread_mutex_t http01_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char token[128];
	char keyauth[256];
} http01[ACME_NAMES_MAX];

/* How long DNS-01 waits for its record on every authoritative server
 * (acme_dnsprop.h): secondaries refresh on NOTIFY in seconds, without
 * it at the SOA refresh, often minutes. lego waits one minute. */
#define DNS_PROPAGATION_MAX 300

/* DNS_PROPAGATION_MAX, or TERN_TEST_DNS01_PROPAGATION_SECS (test-only, as
 * TERN_TEST_ALLOC_FAIL; not a user setting): the tests see the bound
 * pass in seconds instead of minutes. */
static unsigned dns_propagation_max(void)
{
	const char *v = getenv("TERN_TEST_DNS01_PROPAGATION_SECS");
	unsigned long s = v && *v ? strtoul(v, NULL, 10) : 0;
	return s > 0 && s < DNS_PROPAGATION_MAX ? (unsigned)s : DNS_PROPAGATION_MAX;
}

int acme_http01_answer(const char *token, char *out, size_t outsz)
{
	int rc = -1;

	pthread_mutex_lock(&http01_lock);
	for (size_t i = 0; i < ACME_NAMES_MAX; i++) {
		if (http01[i].token[0] && strcmp(http01[i].token, token) == 0) {
			snprintf(out, outsz, "%s", http01[i].keyauth);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&http01_lock);
	return rc;
}

static void dns01_removed(void *arg, int rcode, const char *error)
{
	(void)arg;
	if (rcode != 0)
		log_info("acme", NULL, "event=dns01_cleanup_failed rcode=%d error=%s", rcode,
		         error ? error : "-");
}

void acme_challenges_clear(void)
{
	acme_dnsprop_cancel(A.dns_prop);
	A.dns_prop = NULL;
	if (A.dns_owner[0]) {
		acme_dnsupd_send(A.loop, A.dns_server, A.dns_zone, A.dns_owner, A.dns_txt, 1, &A.tsig,
		                 dns01_removed, NULL);
		A.dns_owner[0] = '\0';
	}
	pthread_mutex_lock(&http01_lock);
	memset(http01, 0, sizeof http01);
	pthread_mutex_unlock(&http01_lock);
	for (size_t i = 0; i < A.nnames; i++)
		tls_alpn_challenge_put(A.names[i], NULL);
}

static size_t authz_parallel(void)
{
	return strcmp(A.challenge, "dns-01") == 0 ? 1 : AUTHZ_PARALLEL;
}

/* Starts the next authorization while there is room, else polls those
 * started (a round, after Retry-After), else, all valid, finalizes. */
static void next_authz(void)
{
	if (A.iauthz < A.nauthz && A.npend < authz_parallel()) {
		acme_get_as_post(S_AUTHZ, A.authz[A.iauthz]);
	} else if (A.npend > 0) {
		A.ipoll = 0;
		acme_wait_then(S_AUTHZ_POLL, A.authz[A.pend[0].idx], A.pend_retry);
	} else {
		acme_finalize();
	}
}

void acme_on_authz_poll(const struct acme_http_resp *r)
{
	struct acme_authz z;
	const char *name = A.pend[A.ipoll].name;

	if (r->status != 200 || acme_msg_authz(r->body, r->body_len, A.challenge, &z) < 0) {
		acme_fail_resp(r);
		return;
	}
	if (strcmp(z.status, "valid") == 0) {
		log_info("acme", NULL, "event=authorized name=%s challenge=%s", name, A.challenge);
		if (A.dns_owner[0]) {
			acme_dnsupd_send(A.loop, A.dns_server, A.dns_zone, A.dns_owner, A.dns_txt, 1,
			                 &A.tsig, dns01_removed, NULL);
			A.dns_owner[0] = '\0';
		}
		/* Its TLS-ALPN-01 answer is done with: the table holds a few
		 * (tls_sni.c), an order up to ACME_NAMES_MAX names. */
		if (strcmp(A.challenge, "tls-alpn-01") == 0)
			tls_alpn_challenge_put(name, NULL);
		memmove(&A.pend[A.ipoll], &A.pend[A.ipoll + 1],
		        (A.npend - A.ipoll - 1) * sizeof A.pend[0]);
		A.npend--;
		A.polls = A.poll_waited = 0; /* progress: POLL_BUDGET counts the wait without */
	} else if (strcmp(z.status, "pending") == 0 || strcmp(z.status, "processing") == 0) {
		A.pend_retry = r->retry_after;
		A.ipoll++;
	} else {
		/* invalid: the challenge's error says why (RFC 8555 §7.1.5). */
		if (strcasecmp(name, A.hostname) != 0 && acme_name_failed_add(name, time_wall()) == 0)
			A.retry_soon = 1;
		acme_fail(-1, "%s challenge for %s failed: %s", A.challenge, name,
		     z.error[0] ? z.error : z.status);
		return;
	}
	/* The round goes on at once; at its end, more start or a new round waits. */
	if (A.ipoll < A.npend)
		acme_get_as_post(S_AUTHZ_POLL, A.authz[A.pend[A.ipoll].idx]);
	else
		next_authz();
}

void acme_on_challenge(const struct acme_http_resp *r)
{
	if (r->status != 200) {
		acme_fail_resp(r);
		return;
	}
	/* Answered: polled with the others (next_authz), the next one
	 * started meanwhile. */
	A.pend[A.npend].idx = A.iauthz;
	snprintf(A.pend[A.npend].name, sizeof A.pend[0].name, "%s", A.chall_name);
	A.npend++;
	A.pend_retry = r->retry_after; /* none: acme_poll_wait backs off from 1 s */
	A.iauthz++;
	next_authz();
}

/* Prepares the answer to the challenge: the token's key authorization where the CA looks. */
static int challenge_setup(const char *name, const char *token)
{
	char tp[48], ka[256];
	unsigned char h[32];
	br_sha256_context sc;

	if (acme_thumbprint(&A.account, tp) < 0 ||
	    (size_t)snprintf(ka, sizeof ka, "%s.%s", token, tp) >= sizeof ka)
		return -1;
	if (strcmp(A.challenge, "http-01") == 0) {
		int rc = -1;
		pthread_mutex_lock(&http01_lock);
		for (size_t i = 0; i < ACME_NAMES_MAX; i++) {
			if (!http01[i].token[0]) {
				snprintf(http01[i].token, sizeof http01[i].token, "%s", token);
				snprintf(http01[i].keyauth, sizeof http01[i].keyauth, "%s", ka);
				rc = 0;
				break;
			}
		}
		pthread_mutex_unlock(&http01_lock);
		return rc;
	}
	/* tls-alpn-01: a certificate for the name carrying SHA-256(key authorization). */
	unsigned char cert[2048], key[512];
	size_t clen, klen;
	char err[256];
	br_sha256_init(&sc);
	br_sha256_update(&sc, ka, strlen(ka));
	br_sha256_out(&sc, h);
	if (tls_selfsigned_make_acme(name, time_wall(), h, cert, sizeof cert, &clen, key, sizeof key,
	                             &klen) < 0)
		return -1;
	struct tls_conf *c = tls_conf_from_pem(cert, clen, "acme-tls/1", key, klen, "acme-tls/1", err,
	                                       sizeof err);
	explicit_bzero(key, sizeof key);
	if (c == NULL)
		return -1;
	int rc = tls_alpn_challenge_put(name, c);
	tls_conf_unref(&c);
	return rc;
}

/* DNS-01's record is on every authoritative server of the zone (or the
 * zone has none to ask): the challenge is answered; else the attempt fails. */
static void dns01_propagated(void *arg, int ok, size_t nservers, const char *why)
{
	(void)arg;
	A.dns_prop = NULL;
	if (!A.running)
		return;
	char q[600];
	if (!ok) {
		acme_fail(-1, "the TXT record for %s is not on every server of zone %s after %u s: %s",
		     A.chall_name, A.dns_zone, dns_propagation_max(), why);
		return;
	}
	if (why[0])
		log_info("acme", NULL, "event=dns01_propagation_unchecked name=%s reason=%s", A.chall_name,
		         log_q(why, q, sizeof q));
	else
		log_info("acme", NULL, "event=dns01_propagated name=%s servers=%zu", A.chall_name, nservers);
	acme_post(S_CHALLENGE, A.chall_url, "{}", 0);
}

/* DNS-01's update answered: wait for the record, or fail naming the server's RCODE. */
static void dns01_added(void *arg, int rcode, const char *error)
{
	char rb[16];
	(void)arg;
	if (!A.running)
		return;
	if (rcode != 0) {
		A.dns_owner[0] = '\0'; /* nothing to remove */
		acme_fail(-1, "DNS update for %s at %s failed: %s", A.chall_name, A.dns_server,
		     rcode < 0 ? error : acme_dnsupd_rcode_name(rcode, rb, sizeof rb));
		return;
	}
	log_info("acme", NULL, "event=dns01_record_added name=%s", A.chall_name);
	A.dns_prop = acme_dnsprop_start(A.loop, A.dns, A.dns_zone, A.dns_owner, A.dns_txt,
	                                dns_propagation_max(), dns01_propagated, NULL);
}

/* RFC 8555 §8.4: TXT _acme-challenge.NAME = base64url(SHA-256(key authorization)). */
static void dns01_setup(const char *name, const char *token)
{
	char tp[48], ka[256];
	unsigned char h[32];
	br_sha256_context sc;

	if (acme_thumbprint(&A.account, tp) < 0 ||
	    (size_t)snprintf(ka, sizeof ka, "%s.%s", token, tp) >= sizeof ka) {
		acme_fail(-1, "cannot compute the key authorization");
		return;
	}
	br_sha256_init(&sc);
	br_sha256_update(&sc, ka, strlen(ka));
	br_sha256_out(&sc, h);
	base64_encode(h, sizeof h, BASE64_URL | BASE64_NOPAD, A.dns_txt, sizeof A.dns_txt);
	snprintf(A.dns_owner, sizeof A.dns_owner, "_acme-challenge.%s", name);
	if (acme_dnsupd_send(A.loop, A.dns_server, A.dns_zone, A.dns_owner, A.dns_txt, 0, &A.tsig,
	                     dns01_added, NULL) < 0) {
		A.dns_owner[0] = '\0';
		acme_fail(-1, "cannot send a DNS update for %s to %s (zone %s)", name, A.dns_server,
		     A.dns_zone);
	}
}

void acme_on_authz(const struct acme_http_resp *r)
{
	struct acme_authz z;

	if (r->status != 200 || acme_msg_authz(r->body, r->body_len, A.challenge, &z) < 0) {
		acme_fail_resp(r);
		return;
	}
	/* Only names we ordered: a challenge answer for another name would go
	 * on every TLS listener, and the clean-up (challenges_clear) knows
	 * only the names ordered, so it would stay there. */
	size_t i = 0;
	while (i < A.nnames && strcasecmp(A.names[i], z.name) != 0)
		i++;
	if (i == A.nnames) {
		acme_fail(-1, "the CA's authorization is for %s, a name not ordered", z.name);
		return;
	}
	snprintf(A.chall_name, sizeof A.chall_name, "%s", z.name);
	if (strcmp(z.status, "valid") == 0) {
		A.iauthz++;
		next_authz();
		return;
	}
	/* RFC 8555 §7.1.6: only a pending authorization can still be won;
	 * invalid, expired, deactivated or revoked ones end the attempt. */
	if (strcmp(z.status, "pending") != 0) {
		acme_fail(-1, "the authorization for %s is %s%s%s", A.chall_name, z.status,
		          z.error[0] ? ": " : "", z.error);
		return;
	}
	if (z.chall_url[0] == '\0' || z.token[0] == '\0') {
		acme_fail(-1, "the CA offers no usable %s challenge for %s", A.challenge, A.chall_name);
		return;
	}
	snprintf(A.chall_url, sizeof A.chall_url, "%s", z.chall_url);
	if (strcmp(A.challenge, "dns-01") == 0) {
		dns01_setup(A.chall_name, z.token);
		return;
	}
	if (challenge_setup(A.chall_name, z.token) < 0) {
		acme_fail(-1, "cannot prepare the %s answer for %s", A.challenge, A.chall_name);
		return;
	}
	acme_post(S_CHALLENGE, A.chall_url, "{}", 0);
}

void acme_on_order(const struct acme_http_resp *r)
{
	static struct acme_order o; /* as in on_order_poll */

	if (r->status == 409 && !A.no_replaces) {
		/* RFC 9773 §5: the certificate named in "replaces" already has
		 * a replacement order that is not invalid (Boulder counts one
		 * left pending, by an attempt given up or a restart mid-order,
		 * for a week): the order is fine without the name, which only
		 * spares a rate limit; with it, every renewal would fail so
		 * until the certificate expired. */
		char type[64], detail[8];
		acme_msg_problem(r->body, r->body_len, type, sizeof type, detail, sizeof detail);
		if (strcmp(type, "alreadyReplaced") == 0) {
			log_info("acme", NULL, "event=replaces_dropped reason=alreadyReplaced");
			A.no_replaces = 1;
			acme_new_order();
			return;
		}
	}
	if ((r->status != 201 && r->status != 200) || r->location[0] == '\0' ||
	    acme_msg_order(r->body, r->body_len, &o) < 0) {
		acme_fail_resp(r);
		return;
	}
	snprintf(A.order_url, sizeof A.order_url, "%s", r->location);
	snprintf(A.finalize_url, sizeof A.finalize_url, "%s", o.finalize);
	A.nauthz = o.nauthz;
	memcpy(A.authz, o.authz, sizeof A.authz);
	A.iauthz = 0;
	A.npend = 0;
	A.polls = A.poll_waited = 0;
	next_authz();
}

void acme_new_order(void)
{
	struct buf p;
	struct jw w;

	buf_init(&p, ACME_NAMES_MAX * 300 + 1024);
	jw_init(&w, &p);
	jw_obj_begin(&w);
	jw_key(&w, "identifiers");
	jw_arr_begin(&w);
	for (size_t i = 0; i < A.nnames; i++) {
		jw_obj_begin(&w);
		jw_kstr(&w, "type", "dns");
		jw_kstr(&w, "value", A.names[i]);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	/* RFC 9773 §5: a renewal names the certificate it replaces, so a
	 * CA with renewal information may exempt it from rate limits. */
	if (A.url_ari[0] && A.ari_id[0] && !A.no_replaces)
		jw_kstr(&w, "replaces", A.ari_id);
	jw_obj_end(&w);
	buf_append(&p, "", 1);
	acme_post(S_ORDER, A.url_order, buf_data(&p), 0);
	buf_free(&p);
}
