/*
 * acme.c — the ACME client's state machine. See acme.h.
 *
 * One attempt walks: directory -> (nonce) -> account -> order -> for each
 * authorization: read it, answer its challenge, poll it -> finalize with
 * a CSR -> poll the order -> download the chain (and the CA's alternate
 * chains in turn while it does not lead to TERN_ACME_PREFERRED_CHAIN's
 * root) -> install and store.
 * acme_post() is the one way a signed request goes out: it fetches a nonce
 * when none is at hand, keeps the Replay-Nonce of every answer, and
 * resends on badNonce; the answer then goes to the handler of the state.
 */
#include "acme/acme.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme/acme_ari.h"
#include "acme/acme_dnsprop.h"
#include "acme/acme_dnsupd.h"
#include "acme/acme_http.h"
#include "acme/acme_jws.h"
#include "acme/acme_msg.h"
#include "acme/acme_private.h"
#include "admin/admin_secret.h"
#include "core/cidr.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "dns/dns.h"
#include "http/json.h"
#include "net/tls.h"
#include "net/tls_private.h"
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

/* Renewal time of a certificate valid [nb, na): two thirds in, plus up to 1% jitter. */
static int64_t renew_at(int64_t nb, int64_t na)
{
	uint32_t r = 0;
	int64_t life = na > nb ? na - nb : 0;
	tls_random(&r, sizeof r);
	return nb + life * 2 / 3 + (life / 100 > 0 ? (int64_t)(r % (uint64_t)(life / 100 + 1)) : 0);
}

/*
 * The renewal timer. It once slept min(time left, 30 days) and then
 * renewed whatever the time left: a Let's Encrypt certificate (90 days,
 * due at 60) was renewed at day 30. Now it wakes at least daily and
 * renews only when the wall clock has reached the planned time (which
 * comes from the certificate's dates or the CA's window, not from the
 * clock at planning), so a clock set right after start (no RTC) or a
 * host resumed from suspend renews at most a day late.
 */
static void renew_timer(struct loop *loop, void *arg)
{
	(void)arg;
	A.timer = 0;
	unsigned wait = acme_renew_wait(time_wall(), A.renew_planned);
	if (wait > 0) {
		A.timer = loop_timer_add(A.loop, (uint64_t)wait * 1000, renew_timer, NULL);
		return;
	}
	acme_attempt(loop, NULL);
}

/* Plans the renewal for at (Unix time; in the past: at once). */
void acme_renew_plan(int64_t at)
{
	A.renew_planned = at;
	if (A.timer)
		loop_timer_del(A.loop, A.timer);
	A.timer = loop_timer_add(A.loop, (uint64_t)acme_renew_wait(time_wall(), at) * 1000,
	                         renew_timer, NULL);
}

void acme_ari_schedule(unsigned secs)
{
	if (A.ari_timer)
		loop_timer_del(A.loop, A.ari_timer);
	A.ari_timer = loop_timer_add(A.loop, (uint64_t)secs * 1000, acme_ari_check, NULL);
}

void acme_names_check_schedule(unsigned secs)
{
	if (A.names_timer)
		loop_timer_del(A.loop, A.names_timer);
	A.names_timer = loop_timer_add(A.loop, (uint64_t)secs * 1000, acme_names_check, NULL);
}

/* Makes conf current and puts it under each name; schedules its renewal. */
void acme_install(struct tls_conf *conf, const char *how)
{
	tls_install(conf);
	snprintf(A.cert_names, sizeof A.cert_names, "%s", tls_conf_names(conf));
	/* A stored certificate may predate a domain added since: look soon.
	 * A new one has just been ordered with the names found: in a day. */
	acme_names_check_schedule(strcmp(how, "installed") == 0 ? ACME_RENEW_RECHECK : 2);
	/* SNI: each name the certificate carries, and only those: a name the
	 * previous certificate had and this one lacks must not keep it (it
	 * would be served after it expired). Meanwhile a handshake gets conf,
	 * the current one. */
	tls_sni_names_clear();
	const char *p = tls_conf_names(conf);
	while (*p) {
		size_t k = strcspn(p, ",");
		char name[256];
		if (k < sizeof name) {
			memcpy(name, p, k);
			name[k] = '\0';
			tls_sni_put(name, conf);
		}
		p += k + (p[k] == ',');
	}
	int64_t at = renew_at(tls_conf_not_before(conf), tls_conf_not_after(conf));
	int64_t now = time_wall();
	/* A certificate just issued is not renewed for a while, whatever
	 * its dates say (tern acme renew still can): one already due would
	 * otherwise make an order at once, and its successor the same. A
	 * stored one loaded at start is not held: a restart is no loop. */
	A.hold_until = 0;
	if (strcmp(how, "installed") == 0) {
		A.hold_until = now + acme_renew_hold(tls_conf_not_before(conf), tls_conf_not_after(conf));
		if (at < A.hold_until) {
			log_warn("acme", NULL, "event=renewal_held due_in=%lld renew_in=%lld",
			         (long long)(at - now), (long long)(A.hold_until - now));
			at = A.hold_until;
		}
	}
	int64_t wait = at > now ? at - now : 1;
	char q[300];
	log_info("acme", NULL, "event=certificate_%s subject=%s expires=%lld renew_in=%lld", how,
	         log_q(tls_conf_subject(conf), q, sizeof q), (long long)tls_conf_not_after(conf),
	         (long long)wait);
	if (strcmp(how, "installed") == 0)
		acme_status_succeeded(now);
	acme_status_set("idle", NULL, now + wait);
	acme_renew_plan(now + wait);
	A.not_before = 0;
	/* Then ask the CA whether it wants the renewal earlier (RFC 9773).
	 * The moment in its window is drawn once per certificate, from its
	 * hash (a CA's serials are random, and the hash spreads sequential
	 * ones): a new draw at each check, kept when earlier, slid the
	 * renewal to the window's start over the weeks of checks before it,
	 * where all the CA's clients then met (RFC 9773 §4.2 asks for one
	 * uniformly random moment). The same after a restart. */
	unsigned char h[32];
	br_sha256_context sc;
	br_sha256_init(&sc);
	br_sha256_update(&sc, conf->chain[0].data, conf->chain[0].data_len);
	br_sha256_out(&sc, h);
	A.ari_rnd = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	if (acme_ari_cert_id(conf->chain[0].data, conf->chain[0].data_len, A.ari_id,
	                     sizeof A.ari_id) == 0)
		acme_ari_schedule(1);
	else
		A.ari_id[0] = '\0';
}

void acme_on_ari(const struct acme_http_resp *r)
{
	int64_t start, end, now = time_wall();
	char why[512], q[600];
	long again = r->retry_after > 0 ? r->retry_after : 6 * 3600;

	A.state = S_OFF;
	if (again < 60)
		again = 60;
	if (again > 86400)
		again = 86400;
	if (r->status != 200 || acme_ari_window(r->body, r->body_len, &start, &end, why, sizeof why) < 0) {
		log_info("acme", NULL, "event=ari_unavailable status=%d", r->status);
		acme_ari_schedule((unsigned)again);
		return;
	}
	/* The certificate's moment in the window (RFC 9773 §4.2), now when it is past. */
	int64_t at = acme_ari_renew_at(start, end, A.ari_rnd, A.renew_planned,
	                               A.not_before > A.hold_until ? A.not_before : A.hold_until);
	if (at == A.hold_until && at > now && at < A.renew_planned &&
	    acme_ari_renew_at(start, end, A.ari_rnd, A.renew_planned, 0) < at)
		log_warn("acme", NULL, "event=renewal_held due_in=%lld renew_in=%lld",
		         (long long)(acme_ari_renew_at(start, end, A.ari_rnd, A.renew_planned, 0) - now),
		         (long long)(at - now));
	/* RFC 9773 §4.2: the explanation (a mass revocation, say) is for the
	 * operator; tern never fetches it. */
	log_info("acme", NULL, "event=ari_window start=%lld end=%lld%s%s", (long long)start,
	         (long long)end, why[0] ? " explanation=" : "",
	         why[0] ? log_quoted(why, q, sizeof q) : "");
	if (at < A.renew_planned) {
		int64_t wait = at > now ? at - now : 0;
		log_info("acme", NULL, "event=renewal_moved_by_ari renew_in=%lld", (long long)wait);
		acme_status_set("idle", NULL, now + wait);
		acme_renew_plan(now + wait);
	}
	acme_ari_schedule((unsigned)again);
}

void acme_on_ari_directory(const struct acme_http_resp *r)
{
	struct acme_dir d;

	A.state = S_OFF;
	if (r->status != 200 || acme_msg_directory(r->body, r->body_len, &d) < 0) {
		acme_ari_schedule(6 * 3600);
		return;
	}
	snprintf(A.url_ari, sizeof A.url_ari, "%s", d.renewal_info);
	if (A.url_ari[0] == '\0')
		return; /* this CA has no ARI: the two-thirds rule alone */
	char url[800];
	snprintf(url, sizeof url, "%s/%s", A.url_ari, A.ari_id);
	A.state = S_ARI;
	if (acme_request("GET", url, NULL, NULL, 0) < 0)
		A.state = S_OFF;
}

void acme_ari_check(struct loop *loop, void *arg)
{
	(void)loop;
	(void)arg;
	A.ari_timer = 0;
	if (!A.running || A.ari_id[0] == '\0')
		return;
	if (A.state != S_OFF) { /* an order is under way */
		acme_ari_schedule(60);
		return;
	}
	if (A.dns == NULL)
		A.dns = dns_thread();
	A.state = S_ARI_DIR;
	if (acme_request_directory() < 0) {
		A.state = S_OFF;
		acme_ari_settled();
	}
}

/* The ARI check is over (or went on to its next request): an attempt that
 * came due meanwhile starts now. */
void acme_ari_settled(void)
{
	if (A.state == S_OFF && A.attempt_deferred) {
		A.attempt_deferred = 0;
		acme_schedule(0);
	}
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

/* ---- attempts ---- */

static void names_found(void *arg);

/* 1 when name is one of the comma-separated names in list. */
int acme_names_has(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		size_t k = strcspn(p, ",");
		if (k == n && strncasecmp(p, name, n) == 0)
			return 1;
		p += k + (p[k] == ',');
	}
	return 0;
}

/* The look-up of names_check is in: a name that points here and that the
 * certificate lacks (a domain added since) brings the renewal forward,
 * unless a failure's back-off or the hold after an install says wait. */
static void names_checked(void *arg)
{
	(void)arg;
	A.chk_pending = 0;
	if (!A.running)
		return;
	for (size_t i = 0; i < A.chk_n; i++) {
		if (acme_names_has(A.cert_names, A.chk_names[i]) || acme_name_failed(A.chk_names[i], time_wall()))
			continue;
		int64_t now = time_wall();
		int wait = A.state != S_OFF || now < A.not_before || now < A.hold_until;
		log_info("acme", NULL, "event=name_added name=%s renew=%s", A.chk_names[i],
		         wait ? "later" : "now");
		if (!wait)
			acme_schedule(0);
		return;
	}
}

/* Daily, and soon after a stored certificate is loaded: are there names
 * the certificate should carry and does not? */
void acme_names_check(struct loop *loop, void *arg)
{
	(void)loop;
	(void)arg;
	A.names_timer = 0;
	if (!A.running)
		return;
	if (A.state != S_OFF) { /* the ARI check, or an order, under way: after it */
		acme_names_check_schedule(A.state == S_ARI_DIR || A.state == S_ARI ? 5 : 60);
		return;
	}
	acme_names_check_schedule(ACME_RENEW_RECHECK);
	if (A.chk_pending)
		return;
	if (A.dns == NULL)
		A.dns = dns_thread();
	A.chk_pending = 1;
	acme_names_find(A.dns, A.st, A.hostname, A.chk_names, &A.chk_n, names_checked, NULL);
}

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
	acme_names_find(A.dns, A.st, A.hostname, A.names, &A.nnames, names_found, NULL);
}

static void names_found(void *arg)
{
	(void)arg;
	if (!A.running)
		return;
	int64_t now = time_wall();
	size_t keep = 1; /* names[0], the host name, always */
	for (size_t i = 1; i < A.nnames; i++) {
		if (acme_name_failed(A.names[i], now))
			log_info("acme", NULL, "event=name_skipped name=%s reason=challenge_failed",
			         A.names[i]);
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

static void start_on_loop(void *arg)
{
	(void)arg;
	acme_names_failed_load();
	struct tls_conf *conf = acme_stored_conf(A.st, A.data_dir);
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
	snprintf(A.data_dir, sizeof A.data_dir, "%s", cfg->data_dir);
	snprintf(A.eab_kid, sizeof A.eab_kid, "%s", cfg->acme_eab_kid);
	snprintf(A.preferred_chain, sizeof A.preferred_chain, "%s", cfg->acme_preferred_chain);
	acme_settings_fingerprint(cfg, A.settings_fp);
	if (cfg->acme_eab_hmac[0] &&
	    acme_b64url_decode(cfg->acme_eab_hmac, strlen(cfg->acme_eab_hmac), A.eab_key,
	                       sizeof A.eab_key, &A.eab_len) < 0)
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
