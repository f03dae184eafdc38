/*
 * acme_cert.c — from finalize to the certificate in use (RFC 8555 §7.4):
 * a fresh EC P-256 key and its CSR sent to finalize, the order polled
 * until valid (no answer, a 5xx or a 429 retried within the poll budget: a new
 * attempt would be a new order, another certificate issued; a finalize
 * without an answer whose order is still "ready" sent again), the chain
 * downloaded and checked (it loads with the key, is valid now and names
 * every name ordered), the CA's alternate chains (§7.4.2) tried in turn
 * while TERN_ACME_PREFERRED_CHAIN asks for another root, then the chain
 * and its key stored together and installed (acme_install).
 */
#include "acme/acme.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme/acme_http.h"
#include "acme/acme_jws.h"
#include "acme/acme_msg.h"
#include "acme/acme_private.h"
#include "core/base64.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "net/tls.h"
#include "net/tls_private.h"
#include "store/store.h"

/* Clock skew allowed between the CA and us for a fresh certificate's start. */
#define NOT_BEFORE_SKEW 3600

/*
 * Checks that the CA's certificate is one worth installing: valid now and
 * naming every name ordered. The key already matched (tls_conf_from_pem).
 * An expired one installed would be renewed at once, every second, with
 * the back-off reset by each "success". Returns 0, or -1 with why set.
 */
static int cert_acceptable(const struct tls_conf *conf, char *why, size_t whysz)
{
	int64_t now = time_wall();

	if (tls_conf_not_after(conf) <= now) {
		snprintf(why, whysz, "the CA's certificate is expired (not after %lld)",
		         (long long)tls_conf_not_after(conf));
		return -1;
	}
	if (tls_conf_not_before(conf) > now + NOT_BEFORE_SKEW) {
		snprintf(why, whysz, "the CA's certificate is not valid yet (not before %lld)",
		         (long long)tls_conf_not_before(conf));
		return -1;
	}
	for (size_t i = 0; i < A.nnames; i++) {
		const char *p = tls_conf_names(conf);
		size_t want = strlen(A.names[i]);
		int found = 0;
		while (*p && !found) {
			size_t k = strcspn(p, ",");
			found = k == want && strncasecmp(p, A.names[i], k) == 0;
			p += k + (p[k] == ',');
		}
		if (!found) {
			snprintf(why, whysz, "the CA's certificate does not name %s", A.names[i]);
			return -1;
		}
	}
	return 0;
}

/*
 * A failure to hear back once the CA has, or may have, issued (polling the
 * order after finalize, fetching the certificate): no answer (a timeout, a
 * lost connection), a 5xx, or a 429 (RFC 8555 §6.6: rateLimited, come
 * back after Retry-After; a CA limits its request rate per client). The
 * same request is tried again after Retry-After, within the poll budget,
 * instead of failing the attempt: the next attempt is a new order, and so
 * another certificate for the same names (Let's Encrypt issues 5 a week; a
 * CA busy for half an hour used them all and left the old certificate to
 * expire). Returns 1 when a retry is planned.
 */
static int retry_transient(enum acme_state st, const char *url, const struct acme_http_resp *r)
{
	if (r->status != 0 && r->status < 500 && r->status != 429)
		return 0;
	char q[300];
	log_info("acme", NULL, "event=retry step=%s status=%d error=%s", acme_state_name[A.state],
	         r->status,
	         log_q(r->status == 429 ? "rate limited" : r->status ? "server error" : r->error, q,
	               sizeof q));
	acme_wait_then(st, url, r->retry_after);
	return 1;
}

/*
 * The chain body[0..len) with the order's key, checked worth installing:
 * a conf (one reference, the caller's), or NULL with why in err.
 */
static struct tls_conf *chain_load(const char *body, size_t len, char *err, size_t errsz)
{
	char why[200];
	unsigned char der[256];
	size_t dlen = br_encode_ec_raw_der(der, &A.certkey.sk, &A.certkey.pk);
	struct tls_conf *conf =
	    tls_conf_from_pem(body, len, "acme", der, dlen, "acme key", why, sizeof why);
	explicit_bzero(der, sizeof der);
	if (conf == NULL)
		snprintf(err, errsz, "the CA's certificate does not load: %s", why);
	else if (cert_acceptable(conf, err, errsz) < 0)
		tls_conf_unref(&conf);
	return conf;
}

/* Whether conf's chain leads where TERN_ACME_PREFERRED_CHAIN asks (its
 * topmost certificate issued by that CN, as certbot and lego compare;
 * any chain when unset). */
static int chain_preferred(const struct tls_conf *conf)
{
	return A.preferred_chain[0] == '\0' ||
	       strcasecmp(tls_conf_top_issuer(conf), A.preferred_chain) == 0;
}

/* Stores the chain body[0..len) with its key and serves conf. */
static void chain_install(const char *body, size_t len, struct tls_conf *conf)
{
	/* The chain and its key in one transaction, the key sealed first: a
	 * failure (or a kill) between two writes would leave a chain that
	 * does not match the stored key, and the next start with nothing. */
	char sealed[512];
	int stored = acme_key_seal(&A.certkey, sealed, sizeof sealed) == 0;
	if (stored) {
		struct store_meta_item pair[3] = {{"acme/cert", body, len},
		                                  {"acme/cert-key", sealed, strlen(sealed)},
		                                  {"acme/cert-directory", A.directory, strlen(A.directory)}};
		stored = store_meta_put_all(A.st, pair, 3) == STORE_OK;
	}
	if (!stored)
		log_warn("acme", NULL, "event=store_failed hint=\"the certificate is used but not "
		                       "kept: a restart loads the pair stored before, or orders "
		                       "again\"");
	acme_challenges_clear();
	A.backoff = 0;
	acme_retry_forget();
	A.state = S_OFF;
	acme_status_set("idle", "", -1);
	acme_install(conf, "installed");
}

/* No chain offered leads to the preferred root: the CA's default is
 * served (a chain for another root still beats none). */
static void chain_default_install(void)
{
	char err[256], q1[300], q2[300];
	struct tls_conf *conf = chain_load(buf_data(&A.chain_default), buf_len(&A.chain_default),
	                                   err, sizeof err);
	if (conf == NULL) { /* it loaded a moment ago */
		acme_fail(-1, "%s", err);
		return;
	}
	log_info("acme", NULL, "event=preferred_chain_not_offered preferred=%s installed=%s",
	         log_q(A.preferred_chain, q1, sizeof q1),
	         log_q(tls_conf_top_issuer(conf), q2, sizeof q2));
	chain_install(buf_data(&A.chain_default), buf_len(&A.chain_default), conf);
	tls_conf_unref(&conf);
}

void acme_on_cert(const struct acme_http_resp *r)
{
	char err[256];

	if (r->status != 200) {
		if (!retry_transient(S_CERT, A.cert_url, r))
			acme_fail_resp(r);
		return;
	}
	struct tls_conf *conf = chain_load(r->body, r->body_len, err, sizeof err);
	if (conf == NULL) {
		acme_fail(-1, "%s", err);
		return;
	}
	if (chain_preferred(conf) || r->nalternates == 0) {
		if (!chain_preferred(conf)) {
			char q1[300], q2[300];
			log_info("acme", NULL,
			         "event=preferred_chain_not_offered preferred=%s installed=%s",
			         log_q(A.preferred_chain, q1, sizeof q1),
			         log_q(tls_conf_top_issuer(conf), q2, sizeof q2));
		}
		chain_install(r->body, r->body_len, conf);
		tls_conf_unref(&conf);
		return;
	}
	tls_conf_unref(&conf);
	/* RFC 8555 §7.4.2: the others, in the order offered, until one leads
	 * to the preferred root; the default waits here meanwhile. */
	buf_reset(&A.chain_default);
	if (buf_append(&A.chain_default, r->body, r->body_len) < 0) {
		acme_fail(-1, "the CA's certificate chain is too large");
		return;
	}
	A.nalts = r->nalternates;
	memcpy(A.alts, r->alternates, sizeof A.alts);
	A.ialt = 0;
	acme_get_as_post(S_CERT_ALT, A.alts[0]);
}

/* One alternate chain: installed when it leads to the preferred root,
 * else the next is asked for (one that fails or does not load is passed
 * over: the default is at hand), then the default installed. */
void acme_on_cert_alt(const struct acme_http_resp *r)
{
	char err[300], q[400], u[600];
	struct tls_conf *conf = NULL;

	if (r->status == 200)
		conf = chain_load(r->body, r->body_len, err, sizeof err);
	else
		snprintf(err, sizeof err, "HTTP %d %s", r->status, r->status ? "" : r->error);
	if (conf && chain_preferred(conf)) {
		log_info("acme", NULL, "event=preferred_chain_chosen url=%s issuer=%s",
		         log_q(A.alts[A.ialt], u, sizeof u),
		         log_q(tls_conf_top_issuer(conf), q, sizeof q));
		chain_install(r->body, r->body_len, conf);
		tls_conf_unref(&conf);
		return;
	}
	if (conf == NULL)
		log_info("acme", NULL, "event=alternate_chain_skipped url=%s error=%s",
		         log_q(A.alts[A.ialt], u, sizeof u), log_q(err, q, sizeof q));
	tls_conf_unref(&conf);
	if (++A.ialt < A.nalts) {
		acme_get_as_post(S_CERT_ALT, A.alts[A.ialt]);
		return;
	}
	chain_default_install();
}

static void finalize_send(void);

void acme_on_order_poll(const struct acme_http_resp *r)
{
	/* Static, as A: ACME_NAMES_MAX authorization URLs (50 KiB) are too
	 * much for a loop thread's stack (musl's 128 KiB). */
	static struct acme_order o;

	if (r->status != 200 || acme_msg_order(r->body, r->body_len, &o) < 0) {
		/* A finalize without an answer may have reached the CA: poll
		 * the order (a 5xx or 429 to it is the CA's refusal, as before). */
		if (A.state == S_FINALIZE && r->status == 0)
			A.finalize_lost = 1;
		if ((A.state == S_ORDER_POLL || (A.state == S_FINALIZE && r->status == 0)) &&
		    retry_transient(S_ORDER_POLL, A.order_url, r))
			return;
		acme_fail_resp(r);
		return;
	}
	if (strcmp(o.status, "valid") == 0) {
		if (o.certificate[0] == '\0') {
			acme_fail(-1, "order valid without a certificate URL");
			return;
		}
		snprintf(A.cert_url, sizeof A.cert_url, "%s", o.certificate);
		acme_get_as_post(S_CERT, A.cert_url);
	} else if (strcmp(o.status, "ready") == 0 && A.finalize_lost) {
		/* RFC 8555 §7.1.6: "ready" is the CA waiting for finalize, so the
		 * one that got no answer never reached it: sent again (polling
		 * on waited out the poll budget, half an hour, for nothing).
		 * The polls' count and wait go on, bounding a CA that never
		 * answers a finalize. */
		log_info("acme", NULL, "event=finalize_resent reason=order_still_ready");
		finalize_send();
	} else if (strcmp(o.status, "processing") == 0 || strcmp(o.status, "ready") == 0 ||
	           strcmp(o.status, "pending") == 0) {
		acme_wait_then(S_ORDER_POLL, A.order_url, r->retry_after);
	} else {
		/* RFC 8555 §7.1.3: an invalid order's error says why (a CAA
		 * record refusing the CA, a key it will not sign, ...). */
		acme_fail(-1, "order became %s%s%s", o.status, o.error[0] ? ": " : "", o.error);
	}
}

/* Sends finalize with the CSR of A.certkey for A.names. The same key
 * when sent again: a finalize that reached the CA after all is then
 * issued for the key at hand either way. */
static void finalize_send(void)
{
	const char *names[ACME_NAMES_MAX];
	unsigned char *csr = xmalloc(ACME_CSR_MAX);
	size_t len;
	struct buf p;

	for (size_t i = 0; i < A.nnames; i++)
		names[i] = A.names[i];
	if (acme_csr(&A.certkey, names, A.nnames, csr, ACME_CSR_MAX, &len) < 0) {
		free(csr);
		acme_fail(-1, "cannot make the CSR");
		return;
	}
	A.finalize_lost = 0;
	buf_init(&p, ACME_CSR_MAX * 2);
	buf_append_c(&p, "{\"csr\":\"");
	base64_encode_buf(&p, csr, len, BASE64_URL | BASE64_NOPAD);
	buf_append_c(&p, "\"}");
	buf_append(&p, "", 1);
	free(csr);
	acme_post(S_FINALIZE, A.finalize_url, buf_data(&p), 0);
	buf_free(&p);
}

void acme_finalize(void)
{
	if (acme_key_generate(&A.certkey) < 0) {
		acme_fail(-1, "cannot make the key");
		return;
	}
	A.polls = A.poll_waited = 0;
	finalize_send();
}
