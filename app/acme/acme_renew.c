/*
 * acme_renew.c — the certificate in use and when to renew it.
 *
 * acme_install() serves a certificate (new connections get it, open ones
 * keep theirs), puts it under each of its names for SNI and plans its
 * renewal: at two thirds of its lifetime plus up to 1% jitter, never
 * sooner after an install than acme_renew_hold; the timer reads the wall
 * clock at least daily (acme_renew_wait). Renewal information (RFC 9773,
 * acme_ari.h) may bring the renewal earlier, to one random moment per
 * certificate in the CA's window. A daily look-up of the names the
 * certificate should carry (a domain added) brings it forward too.
 */
#include "acme/acme.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme/acme_ari.h"
#include "acme/acme_http.h"
#include "acme/acme_msg.h"
#include "acme/acme_private.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/random.h"
#include "dns/dns.h"
#include "net/tls.h"
#include "net/tls_private.h"

/* Renewal time of a certificate valid [nb, na): two thirds in, plus up to 1% jitter. */
static int64_t renew_at(int64_t nb, int64_t na)
{
	uint32_t r = 0;
	int64_t life = na > nb ? na - nb : 0;
	random_bytes(&r, sizeof r);
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
		if (acme_names_has(A.cert_names, A.chk_names[i]) ||
		    acme_name_unorderable(A.chk_names[i], time_wall()) != NULL)
			continue;
		int64_t now = time_wall();
		int wait = A.state != S_OFF || now < A.not_before || now < A.hold_until;
		log_info("acme", NULL, "event=name_added name=%s renew=%s", A.chk_names[i],
		         wait ? "later" : "now");
		if (!wait)
			acme_schedule(0);
		return;
	}
	log_debug("acme", NULL, "event=names_checked names=%zu missing=0", A.chk_n);
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
	acme_names_find(A.dns, A.st, A.hostname, A.web_names, A.chk_names, &A.chk_n, names_checked,
	                NULL);
}
