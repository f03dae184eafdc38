/*
 * acme.c — the ACME client's state machine. See acme.h.
 *
 * One attempt walks: directory -> (nonce) -> account -> order -> for each
 * authorization: read it, answer its challenge, poll it -> finalize with
 * a CSR -> poll the order -> download the chain (and the CA's alternate
 * chains in turn while it does not lead to TERN_ACME_PREFERRED_CHAIN's
 * root) -> install and store. This file starts and stops the client,
 * starts each attempt, ends a failed one (acme_fail: back-off, status)
 * and hands each answer to its step (acme_dispatch). The steps live by
 * concern, sharing the state A (acme_private.h):
 *   acme_account.c  requests, nonces and badNonce, polling, directory, account
 *   acme_order.c    the order, authorizations, challenges (acme_http01_answer)
 *   acme_cert.c     finalize, download, chains, storing the new pair
 *   acme_renew.c    the certificate in use (SNI), renewal timing, ARI, names check
 *   acme_store.c    keys, the stored certificate, waits and names kept
 */
#include "acme/acme.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme/acme_dnsupd.h"
#include "acme/acme_http.h"
#include "acme/acme_msg.h"
#include "acme/acme_private.h"
#include "admin/admin_domain.h"
#include "core/base64.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "dns/dns.h"
#include "net/tls.h"
#include "store/store.h"

#define RETRY_SOON 5 /* after a name was held out of the order */

const char *const acme_state_name[] = {"off",       "names",      "directory",  "account",  "order",
                                         "authz",     "challenge",  "authz_poll", "finalize",
                                         "order_poll", "certificate", "alternate_chain", "ari_directory", "renewal_info", "account_contact"};

struct acme_client acme_client;

/* Shared with other threads (the status). */
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct acme_status status;

void acme_status_set(const char *state, const char *error, int64_t next)
{
	pthread_mutex_lock(&shared_lock);
	snprintf(status.state, sizeof status.state, "%s", state);
	if (error != NULL)
		snprintf(status.last_error, sizeof status.last_error, "%s", error);
	if (next >= 0)
		status.next_run = next;
	pthread_mutex_unlock(&shared_lock);
}

void acme_status_succeeded(int64_t now)
{
	pthread_mutex_lock(&shared_lock);
	status.last_success = now;
	pthread_mutex_unlock(&shared_lock);
}

void acme_status_get(struct acme_status *s)
{
	pthread_mutex_lock(&shared_lock);
	*s = status;
	pthread_mutex_unlock(&shared_lock);
}

void acme_schedule(unsigned secs)
{
	if (A.timer)
		loop_timer_del(A.loop, A.timer);
	A.timer = loop_timer_add(A.loop, (uint64_t)secs * 1000, acme_attempt, NULL);
}

/* A contact-only run is over: an attempt that came due meanwhile starts. */
void acme_contact_done(void)
{
	A.contact_only = 0;
	A.state = S_OFF;
	acme_ari_settled();
}

/* Ends an attempt that failed: one log line, the status, the next try. */
void acme_fail(long retry_after, const char *fmt, ...)
{
	char why[512], q[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (A.contact_only) {
		/* Not an order: no back-off, no status. The stored contact
		 * stays the old one, so the next order's account step tries
		 * again (on_account). */
		log_warn("acme", NULL, "event=account_contact_update_failed step=%s error=%s",
		         acme_state_name[A.state], log_q(why, q, sizeof q));
		acme_contact_done();
		return;
	}
	acme_challenges_clear();
	unsigned wait = A.backoff ? A.backoff : BACKOFF_MIN;
	/* Retry-After is honoured between the first minute and a day: a CA or
	 * a proxy answering every failure "Retry-After: 1" would otherwise get
	 * a whole attempt (and a warning in the log) every second. */
	if (retry_after > 0)
		wait = retry_after > BACKOFF_MAX   ? BACKOFF_MAX
		       : retry_after < BACKOFF_MIN ? BACKOFF_MIN
		                                   : (unsigned)retry_after;
	if (A.retry_soon) {
		/* A name was held out (name_failed_add): the next order, without
		 * it, need not wait, nor count as a failure for the back-off. */
		A.retry_soon = 0;
		wait = RETRY_SOON;
	} else {
		A.backoff = wait * 2 > BACKOFF_MAX ? BACKOFF_MAX : wait * 2;
	}
	log_warn("acme", NULL, "event=attempt_failed step=%s error=%s retry_in=%u",
	         acme_state_name[A.state], log_q(why, q, sizeof q), wait);
	A.state = S_OFF;
	acme_status_set("failed", why, time_wall() + wait);
	acme_schedule(wait);
	/* The retry is the renewal planned now; renewal information may not
	 * bring it earlier (acme_ari_renew_at). */
	A.not_before = A.renew_planned = time_wall() + wait;
	acme_retry_keep(why);
}

/* Fails the attempt with the CA's answer r (not a success). */
void acme_fail_resp(const struct acme_http_resp *r)
{
	char type[64], detail[400];

	if (r->status == 0) {
		acme_fail(-1, "%s", r->error);
		return;
	}
	acme_msg_problem(r->body, r->body_len, type, sizeof type, detail, sizeof detail);
	if (strcmp(type, "rateLimited") == 0) {
		acme_fail(r->retry_after,
		     "rate limited by the CA (HTTP %d): %s; the current certificate is kept", r->status,
		     detail);
	} else if (strcmp(type, "userActionRequired") == 0) {
		/* RFC 8555 §7.3.3: new terms of service, say; the instance URL
		 * is the page where the operator acts, the only way on. */
		char url[512];
		acme_msg_problem_instance(r->body, r->body_len, url, sizeof url);
		acme_fail(r->retry_after, "HTTP %d userActionRequired: %s; visit %s", r->status,
		     detail[0] ? detail : "the CA asks the account holder to act",
		     url[0] ? url : "the CA's site");
	} else if (strcmp(type, "externalAccountRequired") == 0) {
		acme_fail(r->retry_after, "HTTP %d externalAccountRequired: %s; set TERN_ACME_EAB_KID and "
		     "TERN_ACME_EAB_HMAC_KEY", r->status, detail[0] ? detail : "(no detail)");
	} else
		acme_fail(r->retry_after, "HTTP %d %s: %s", r->status, type,
		     detail[0] ? detail : "(no problem document)");
}

void acme_dispatch(const struct acme_http_resp *r)
{
	switch (A.state) {
	case S_DIRECTORY:
		acme_on_directory(r);
		break;
	case S_ACCOUNT:
		acme_on_account(r);
		break;
	case S_ORDER:
		acme_on_order(r);
		break;
	case S_AUTHZ:
		acme_on_authz(r);
		break;
	case S_CHALLENGE:
		acme_on_challenge(r);
		break;
	case S_AUTHZ_POLL:
		acme_on_authz_poll(r);
		break;
	case S_FINALIZE:
		acme_on_order_poll(r);
		break;
	case S_ORDER_POLL:
		acme_on_order_poll(r);
		break;
	case S_CERT:
		acme_on_cert(r);
		break;
	case S_CERT_ALT:
		acme_on_cert_alt(r);
		break;
	case S_CONTACT:
		acme_on_contact(r);
		break;
	case S_ARI_DIR:
		acme_on_ari_directory(r);
		acme_ari_settled();
		break;
	case S_ARI:
		acme_on_ari(r);
		acme_ari_settled();
		break;
	case S_OFF:
	case S_NAMES:
		break;
	}
}

static void names_found(void *arg);

void acme_attempt(struct loop *loop, void *arg)
{
	(void)loop;
	(void)arg;
	A.timer = 0;
	if (A.state == S_ARI_DIR || A.state == S_ARI || A.contact_only) {
		A.attempt_deferred = 1; /* ari_settled starts it */
		return;
	}
	if (A.state != S_OFF)
		return; /* an order is under way already */
	if (A.dns == NULL)
		A.dns = dns_thread();
	if (!A.have_account_key) {
		if (acme_key_load("acme/account-key", &A.account) == 0) {
			A.have_account_key = 1;
		} else if (acme_key_generate(&A.account) == 0 &&
		           acme_key_save("acme/account-key", &A.account) == 0) {
			A.have_account_key = 1;
			log_info("acme", NULL, "event=account_key_created");
		} else {
			acme_fail(-1, "cannot make or store the account key");
			return;
		}
	}
	acme_status_set("ordering", NULL, 0);
	A.account_replaced = A.no_replaces = 0;
	A.state = S_NAMES;
	acme_names_find(A.dns, A.st, A.hostname, A.web_names, A.names, &A.nnames, names_found, NULL);
}

static void names_found(void *arg)
{
	(void)arg;
	if (!A.running)
		return;
	int64_t now = time_wall();
	size_t keep = 1; /* names[0], the host name, always */
	for (size_t i = 1; i < A.nnames; i++) {
		const char *why = acme_name_unorderable(A.names[i], now);
		if (why != NULL)
			log_info("acme", NULL, "event=name_skipped name=%s reason=%s", A.names[i], why);
		else if (keep != i)
			memcpy(A.names[keep++], A.names[i], sizeof A.names[0]);
		else
			keep++;
	}
	A.nnames = keep;
	A.polls = A.poll_waited = 0;
	A.nonce[0] = '\0';
	char q[600];
	log_info("acme", NULL, "event=attempt directory=%s names=%zu first=%s challenge=%s",
	         log_q(A.directory, q, sizeof q), A.nnames, A.names[0], A.challenge);
	A.state = S_DIRECTORY;
	A.want_nonce = 0;
	if (acme_request_directory() < 0)
		acme_fail(-1, "bad directory URL %s", A.directory);
}

/*
 * At start, with a certificate in use (so no order now): TERN_ACME_EMAIL
 * is not the contact the account was made or last updated with, so the
 * account is found (newAccount, onlyReturnExisting) and its contact
 * updated (on_account, RFC 8555 §7.3.2). Without an account key there
 * is no account: the first order makes it with this contact.
 */
static void contact_check(void)
{
	if (acme_contact_stored_same())
		return;
	if (!A.have_account_key) {
		if (acme_key_load("acme/account-key", &A.account) < 0)
			return;
		A.have_account_key = 1;
	}
	if (A.dns == NULL)
		A.dns = dns_thread();
	log_info("acme", NULL, "event=account_contact_changed contact=mailto:%s", A.email);
	A.contact_only = 1;
	A.nonce[0] = '\0';
	A.want_nonce = 0;
	A.state = S_DIRECTORY;
	if (acme_request_directory() < 0)
		acme_fail(-1, "bad directory URL %s", A.directory);
}

/*
 * Says why the stored certificate is not served at start (conf NULL and
 * err "": none stored, nothing to say): it does not load, it expired
 * (the server was down past its end), or it does not name the host name
 * (TERN_HOSTNAME changed). A new one is ordered; until it comes, the
 * self-signed certificate serves, and this line is the reason why.
 */
static void stored_unused(const struct tls_conf *conf, const char *err)
{
	char q[600];
	if (conf == NULL) {
		if (err[0])
			log_warn("acme", NULL, "event=stored_certificate_unused reason=unusable error=%s "
			                       "hint=\"a new certificate is ordered\"",
			         log_q(err, q, sizeof q));
	} else if (tls_conf_not_after(conf) <= time_wall()) {
		log_warn("acme", NULL, "event=stored_certificate_unused reason=expired not_after=%lld "
		                       "hint=\"a new certificate is ordered\"",
		         (long long)tls_conf_not_after(conf));
	} else {
		char h[300];
		log_info("acme", NULL, "event=stored_certificate_unused reason=other_names names=%s "
		                       "hostname=%s hint=\"a new certificate is ordered\"",
		         log_q(tls_conf_names(conf), q, sizeof q), log_q(A.hostname, h, sizeof h));
	}
}

static void start_on_loop(void *arg)
{
	(void)arg;
	acme_names_failed_load();
	char err[300];
	struct tls_conf *conf = acme_stored_conf(A.st, A.data_dir, err, sizeof err);
	/* Ours when it names the host name (a changed TERN_HOSTNAME orders
	 * anew). By its subjectAltName, not its Common Name: CAs leave the
	 * CN out (Let's Encrypt's tlsserver and shortlived profiles), and
	 * such a certificate was ordered again at every restart. */
	if (conf != NULL && tls_conf_not_after(conf) > time_wall() &&
	    acme_names_has(tls_conf_names(conf), A.hostname)) {
		acme_install(conf, "loaded");
		tls_conf_unref(&conf);
		/* A renewal that failed before the restart waits on. */
		int64_t held = acme_retry_restore(A.renew_planned);
		if (held)
			acme_renew_plan(held);
		/* From another CA than TERN_ACME_DIRECTORY names now (staging
		 * for a trial, then production; a change of CA): it serves
		 * until the new CA's certificate comes, ordered now rather
		 * than at its renewal, two months on; and that order replaces
		 * nothing the new CA knows (RFC 9773 §5). Stored before the
		 * directory was kept: taken as this CA's. */
		char dir[sizeof A.directory];
		size_t len;
		if (store_meta_get(A.st, "acme/cert-directory", dir, sizeof dir - 1, &len) == STORE_OK) {
			dir[len] = '\0';
			if (strcmp(dir, A.directory) != 0) {
				char q1[600], q2[600];
				log_info("acme", NULL, "event=directory_changed from=%s to=%s renew=now",
				         log_q(dir, q1, sizeof q1), log_q(A.directory, q2, sizeof q2));
				A.ari_id[0] = '\0';
				/* its account step updates the contact */
				acme_schedule(held > 0 ? (unsigned)(held - time_wall()) : 0);
				return;
			}
		}
		contact_check();
		return;
	}
	stored_unused(conf, err);
	tls_conf_unref(&conf);
	int64_t held = acme_retry_restore(0);
	acme_schedule(held ? (unsigned)(held - time_wall()) : 0);
}

int acme_start(const struct config *cfg, struct store *st, struct loop *loop)
{
	if (cfg->acme_email[0] == '\0' || cfg->tls_cert[0] != '\0') {
		acme_status_set("off", NULL, 0);
		return 0;
	}
	memset(&A, 0, sizeof A);
	A.loop = loop;
	A.st = st;
	snprintf(A.directory, sizeof A.directory, "%s", cfg->acme_directory);
	snprintf(A.email, sizeof A.email, "%s", cfg->acme_email);
	snprintf(A.challenge, sizeof A.challenge, "%s", cfg->acme_challenge);
	snprintf(A.hostname, sizeof A.hostname, "%s", cfg->hostname);
	A.web_names = admin_web_names(cfg);
	/* Said once: each look-up leaves these out without a word. */
	if (!(A.web_names & ADMIN_WEB_MTA_STS))
		log_info("acme", NULL, "event=names_not_ordered names=mta-sts. reason=%s",
		         A.web_names ? "no_https_listener_on_443" : "no_web_listener");
	if (!(A.web_names & ADMIN_WEB_AUTOCONFIG))
		log_info("acme", NULL, "event=names_not_ordered names=autoconfig.,autodiscover. "
		                       "reason=no_web_listener");
	snprintf(A.data_dir, sizeof A.data_dir, "%s", cfg->data_dir);
	snprintf(A.eab_kid, sizeof A.eab_kid, "%s", cfg->acme_eab_kid);
	snprintf(A.preferred_chain, sizeof A.preferred_chain, "%s", cfg->acme_preferred_chain);
	acme_settings_fingerprint(cfg, A.settings_fp);
	if (cfg->acme_eab_hmac[0] &&
	    base64_decode(str_make(cfg->acme_eab_hmac, strlen(cfg->acme_eab_hmac)),
	                  BASE64_URL | BASE64_NOPAD, A.eab_key, sizeof A.eab_key, &A.eab_len) < 0)
		log_warn("acme", NULL, "event=bad_eab_key hint=\"TERN_ACME_EAB_HMAC_KEY is not base64url\"");
	snprintf(A.dns_server, sizeof A.dns_server, "%s", cfg->acme_dns_server);
	if (cfg->acme_dns_zone[0]) {
		snprintf(A.dns_zone, sizeof A.dns_zone, "%s", cfg->acme_dns_zone);
	} else {
		const char *dot = strchr(cfg->hostname, '.');
		snprintf(A.dns_zone, sizeof A.dns_zone, "%s", dot ? dot + 1 : cfg->hostname);
	}
	if (strcmp(A.challenge, "dns-01") == 0 && acme_tsig_parse(cfg->acme_tsig_key, &A.tsig) < 0)
		log_warn("acme", NULL, "event=bad_tsig_key hint=\"TERN_ACME_TSIG_KEY is name:base64secret\"");
	buf_init(&A.post_payload, 64 * 1024);
	buf_init(&A.chain_default, ACME_HTTP_MAX);
	A.running = 1;
	pthread_mutex_lock(&shared_lock);
	memset(&status, 0, sizeof status);
	status.enabled = 1;
	snprintf(status.state, sizeof status.state, "starting");
	snprintf(status.directory, sizeof status.directory, "%s", A.directory);
	snprintf(status.challenge, sizeof status.challenge, "%s", A.challenge);
	pthread_mutex_unlock(&shared_lock);
	loop_post(loop, start_on_loop, NULL);
	return 1;
}

void acme_renew_now_on_loop(void *unused)
{
	(void)unused;
	if (!A.running)
		return;
	log_info("acme", NULL, "event=renew_requested state=%s", acme_state_name[A.state]);
	if (A.state == S_OFF || A.state == S_ARI_DIR || A.state == S_ARI || A.contact_only) {
		A.backoff = 0;
		A.not_before = 0;
		A.hold_until = 0;
		acme_names_failed_release();
		acme_schedule(0);
	}
}

void acme_stop_on_loop(void *unused)
{
	(void)unused;
	if (!A.running)
		return;
	A.running = 0;
	acme_http_cancel(A.req); /* its answer would come to a loop that is going */
	if (A.timer)
		loop_timer_del(A.loop, A.timer);
	A.timer = 0;
	if (A.ari_timer)
		loop_timer_del(A.loop, A.ari_timer);
	A.ari_timer = 0;
	if (A.names_timer)
		loop_timer_del(A.loop, A.names_timer);
	A.names_timer = 0;
	acme_challenges_clear();
	acme_key_wipe(&A.account);
	acme_key_wipe(&A.certkey);
	explicit_bzero(A.eab_key, sizeof A.eab_key);
	explicit_bzero(&A.tsig, sizeof A.tsig);
	buf_free(&A.post_payload);
	buf_free(&A.chain_default);
}
