/*
 * http_pushsub.c — delivering JMAP PushSubscriptions (RFC 8620 §7.2), on
 * one loop (the first), from the change feed IMAP IDLE uses.
 *
 * The subscriptions are meta entries (jmap/jmap_pushsub.c); after every
 * PushSubscription/set that changed one, and at start, the list here is
 * read again (reload). For each subscription:
 * - not yet verified: one PushVerification
 *   {"@type":"PushVerification","pushSubscriptionId","verificationCode"}
 *   is POSTed to its URL (again after a restart); the client proves it
 *   got it by setting verificationCode with /set;
 * - verified and not expired: subscribed to its account's changes; each
 *   change the client's types cover is POSTed as a StateChange, one
 *   request at a time per subscription (changes meanwhile fold into the
 *   next one);
 * - expired: nothing is sent, and the entry is removed from meta (on the
 *   worker pool: a store write; RFC 8620 §7.2 lets the server remove
 *   them); a timer set to the earliest expiry reloads the list then, so
 *   an expiry is seen without waiting for another /set;
 * - revoked: a subscription is tied to the login that made it (§7.2:
 *   destroyed once those credentials are revoked). Its record keeps that
 *   login's app password and credentials stamp (jmap_pushsub.c); once
 *   the stamp differs from the store's (a new password, a change of
 *   state, the app password or token revoked, 2FA turned on) or the
 *   account is gone, nothing more is sent and the entry is removed
 *   (event=pushsub_revoked). The stamp is compared at every reload,
 *   before every StateChange, and once a second by auth/session_watch.h
 *   (so a subscription with nothing to send goes too, and a change made
 *   by the CLI in another process is seen). A record from before the
 *   stamp was kept (no "s") cannot be tied to any login: it is revoked
 *   the same way (reason=no_stamp) rather than trusted, and its client
 *   makes a new one, as it must before the 7-day expiry anyway.
 * With the client's keys the body is encrypted (RFC 8291, aes128gcm) and
 * the request carries VAPID (RFC 8292; the key is made once and kept in
 * meta as "pushsub-key/vapid"), with TTL and Urgency as Web Push asks;
 * without keys it is the JSON itself.
 *
 * The POST goes through acme_http.c's client: TLS verified with the
 * trust anchors (net/anchors.h: the built-in roots and TERN_TLS_CA_FILE),
 * and the address the URL's host resolves to is refused when it is in a
 * special-purpose range that is not globally reachable (loopback,
 * private, shared (CGN), link-local, unspecified, benchmarking, ..., or
 * an IPv6 address carrying such an IPv4 one: core/cidr.h), so a push
 * URL cannot make tern reach into its own network. TERN_JMAP_PUSH_PRIVATE
 * =on lifts that guard (for tests, and for a push relay on a LAN); it is
 * logged at start.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "acme/acme_http.h"
#include "acme/acme_jws.h"
#include "auth/session_watch.h"
#include "core/arena.h"
#include "core/cidr.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "dns/dns.h"
#include "http/http_pushsub.h"
#include "http/webpush.h"
#include "jmap/jmap.h"
#include "store/store.h"

#define POST_TIMEOUT_MS 15000
#define VAPID_KEY "pushsub-key/vapid"

struct psub {
	struct jmap_pushsub s;
	struct store_sub sub;
	struct session_watch watch; /* its login's stamp, while it is live */
	int subscribed;
	uint64_t told;
	struct jmap_push_own own; /* the own-state types' states last told */
	int inflight, pending, verify_sent, seen;
	int removing; /* expired or revoked: its entry is being deleted */
	struct psub *next;
};

static struct loop *ps_loop;
static struct store *ps_store;
static struct psub *subs;
static struct acme_key vapid;
static int allow_private;
static char contact[300];

static void expire(struct psub *p);
static void revoke(struct psub *p, const char *why);
static int creds_check(const struct psub *p, const char **why_r);

/* The states of the own-state types p asks for, as their /get answers
 * the login that made it. */
static int own_states(const struct psub *p, struct jmap_push_own *out)
{
	struct jmap_who who = {.account = p->s.account, .apppass = p->s.apppass, .cred = p->s.cred};
	return jmap_push_own_states(ps_store, &who, p->s.types & JMAP_TYPES_OWN, out);
}

static struct psub *find(const char *id)
{
	for (struct psub *p = subs; p; p = p->next)
		if (!strcmp(p->s.id, id))
			return p;
	return NULL;
}

/* 0 for an address a push must not reach (unless allowed): the one list
 * of special-purpose ranges is core/cidr.c's. */
static int addr_ok(const struct sockaddr *sa)
{
	return allow_private || cidr_addr_global(sa);
}

struct post {
	char id[20];
	int verification;
};

static void post_send(struct psub *p, const char *json, size_t len, int verification);

static void post_done(void *arg, const struct acme_http_resp *r)
{
	struct post *q = arg;
	struct psub *p = find(q->id);

	if (r->status >= 200 && r->status < 300)
		log_info("jmap", NULL, "event=push_sent subscription=%s kind=%s status=%d", q->id,
			 q->verification ? "verification" : "state", r->status);
	else {
		/* The error names the URL's host, which the client chose. */
		char qe[4 * sizeof r->error + 3];
		log_warn("jmap", NULL, "event=push_failed subscription=%s kind=%s status=%d error=%s",
			 q->id, q->verification ? "verification" : "state", r->status,
			 log_quoted(r->error, qe, sizeof qe));
	}
	free(q);
	if (!p)
		return;
	p->inflight = 0;
	if (p->removing)
		return;
	if (p->s.expires < (int64_t)time(NULL)) {
		expire(p); /* it expired while this was on its way */
		return;
	}
	if (p->pending) {
		p->pending = 0;
		p->sub.cb(p, p->s.account, 0);
	}
}

static void post_send(struct psub *p, const char *json, size_t len, int verification)
{
	struct buf body;
	char headers[1200];
	size_t hl = 0;
	const char *ctype = "application/json; charset=utf-8";

	buf_init(&body, WEBPUSH_RECORD + 200);
	hl += (size_t)snprintf(headers, sizeof headers, "TTL: 86400\r\nUrgency: normal\r\n");
	if (p->s.p256dh[0]) {
		uint8_t pub[80], auth[32];
		size_t pl, al;
		char v[1000];
		if (acme_b64url_decode(p->s.p256dh, strlen(p->s.p256dh), pub, sizeof pub, &pl) < 0 ||
		    acme_b64url_decode(p->s.auth, strlen(p->s.auth), auth, sizeof auth, &al) < 0 ||
		    webpush_encrypt(pub, pl, auth, al, json, len, &body) < 0 ||
		    webpush_vapid(&vapid, p->s.url, (int64_t)time(NULL), contact, v, sizeof v) < 0) {
			log_warn("jmap", NULL, "event=push_failed subscription=%s error=\"bad keys\"",
				 p->s.id);
			buf_free(&body);
			return;
		}
		snprintf(headers + hl, sizeof headers - hl,
			 "Content-Encoding: aes128gcm\r\nAuthorization: %s\r\n", v);
		ctype = "application/octet-stream";
	} else {
		buf_append(&body, json, len);
	}
	struct post *q = xcalloc(1, sizeof *q);
	snprintf(q->id, sizeof q->id, "%s", p->s.id);
	q->verification = verification;
	if (acme_http_request_opts(ps_loop, dns_thread(), "POST", p->s.url, ctype, buf_data(&body),
				   buf_len(&body), POST_TIMEOUT_MS, headers, addr_ok, 0, post_done,
				   q) < 0) {
		log_warn("jmap", NULL, "event=push_failed subscription=%s error=\"bad url\"", p->s.id);
		free(q);
	} else {
		p->inflight = 1;
	}
	buf_free(&body);
}

static void change_cb(void *arg, uint32_t account, uint64_t modseq)
{
	struct psub *p = arg;
	unsigned mask;
	uint64_t upto;
	(void)account;
	(void)modseq;

	if (p->removing)
		return;
	if (p->inflight) {
		p->pending = 1;
		return;
	}
	if (p->s.expires < (int64_t)time(NULL))
		return;
	/* The watch ticks once a second: a change in between must not go
	 * out under credentials already revoked. A store error skips this
	 * change (told stays, so the next one covers it). */
	const char *why;
	int ok = creds_check(p, &why);
	if (ok == 0)
		revoke(p, why);
	if (ok <= 0)
		return;
	if (jmap_push_changed(ps_store, p->s.account, p->told, &mask, &upto) < 0)
		return;
	p->told = upto;
	struct jmap_push_own now;
	if ((p->s.types & JMAP_TYPES_OWN) && own_states(p, &now) == 0) {
		mask |= jmap_push_own_changed(&p->own, &now);
		p->own = now;
	}
	if (!(mask & p->s.types))
		return;
	struct buf ev;
	buf_init(&ev, 1024);
	jmap_push_state_change(&ev, p->s.account, mask & p->s.types, upto, &p->own, NULL);
	post_send(p, buf_data(&ev), buf_len(&ev), 0);
	buf_free(&ev);
}

static void verify_send(struct psub *p)
{
	char json[200];
	int n = snprintf(json, sizeof json,
			 "{\"@type\":\"PushVerification\",\"pushSubscriptionId\":\"%s\","
			 "\"verificationCode\":\"%s\"}",
			 p->s.id, p->s.code);
	p->verify_sent = 1;
	post_send(p, json, (size_t)n, 1);
}

static void reload(void *arg);

/* Removing an expired or revoked subscription's entry, on the pool. */
struct remove_job {
	struct worker_job wj;
	char key[64];
	uint32_t account;
	char id[20];
	const char *why; /* NULL: expired; else why revoked (a literal) */
};

static void remove_run(void *arg)
{
	struct remove_job *j = arg;
	int rc = store_meta_del(ps_store, j->key);
	if (j->why)
		log_info("jmap", NULL, "event=pushsub_revoked account=%u reason=%s id=%s removed=%d",
			 j->account, j->why, j->id, rc == STORE_OK);
	else
		log_info("jmap", NULL, "event=pushsub_expired account=%u id=%s removed=%d", j->account,
			 j->id, rc == STORE_OK);
}

static void remove_done(void *arg)
{
	free(arg);
	reload(NULL);
}

/* Stops everything p does and deletes its entry; the reload after the
 * delete drops p itself. */
static void remove_entry(struct psub *p, const char *why)
{
	struct remove_job *j = xcalloc(1, sizeof *j);
	snprintf(j->key, sizeof j->key, "pushsub/%08x/%s", p->s.account, p->s.id);
	j->account = p->s.account;
	snprintf(j->id, sizeof j->id, "%s", p->s.id);
	j->why = why;
	j->wj = (struct worker_job){.fn = remove_run, .done = remove_done, .arg = j, .loop = ps_loop};
	p->removing = 1;
	p->pending = 0;
	if (p->subscribed) {
		store_unsubscribe(ps_store, &p->sub);
		p->subscribed = 0;
	}
	session_watch_leave(&p->watch);
	worker_submit(&j->wj);
}

static void expire(struct psub *p)
{
	if (!p->removing)
		remove_entry(p, NULL);
}

static void revoke(struct psub *p, const char *why)
{
	if (!p->removing)
		remove_entry(p, why);
}

/*
 * Whether p's login still stands: 1 yes; 0 no, with the reason in *why_r
 * (no_stamp, account_deleted, credentials_changed); -1 when the store
 * could not be read.
 */
static int creds_check(const struct psub *p, const char **why_r)
{
	uint64_t now = 0;

	if (!p->s.cred) {
		*why_r = "no_stamp";
		return 0;
	}
	if (store_account_creds(ps_store, &p->s.account, &p->s.apppass, &now, 1) != STORE_OK)
		return -1;
	if (now == p->s.cred)
		return 1;
	*why_r = now ? "credentials_changed" : "account_deleted";
	return 0;
}

/* session_watch: the stamp changed (w has left the list). */
static void watch_revoked(void *arg, int gone)
{
	revoke(arg, gone ? "account_deleted" : "credentials_changed");
}

static uint64_t expiry_timer;

static void expiry_fire(struct loop *l, void *arg)
{
	(void)l;
	(void)arg;
	expiry_timer = 0;
	reload(NULL);
}

static void drop(struct psub *p)
{
	if (p->subscribed)
		store_unsubscribe(ps_store, &p->sub);
	session_watch_leave(&p->watch);
	free(p);
}

static void reload_cb(void *arg, const char *name, const void *val, size_t len)
{
	struct arena *a = arg;
	struct jmap_pushsub s;

	if (jmap_pushsub_parse(name, val, len, &s, a) < 0)
		return;
	struct psub *p = find(s.id);
	if (!p) {
		p = xcalloc(1, sizeof *p);
		p->next = subs;
		subs = p;
	}
	p->s = s;
	p->seen = 1;
}

/*
 * One subscription after a reload: expired or revoked ones are removed;
 * live ones are verified, or subscribed to their account's changes, and
 * watched. Returns its expiry, or 0 when it has none to wait for.
 */
static int64_t reload_one(struct psub *p, int64_t now)
{
	const char *why;

	if (p->removing)
		return 0;
	if (p->s.expires < now) {
		/* One on its way finishes first: post_done expires it. */
		if (!p->inflight)
			expire(p);
		return 0;
	}
	int ok = creds_check(p, &why);
	if (ok == 0) {
		revoke(p, why);
		return 0;
	}
	if (ok < 0)
		log_warn("jmap", NULL, "event=pushsub_check_failed account=%u id=%s", p->s.account,
			 p->s.id); /* the watch's next tick reads again */
	if (!p->watch.joined)
		session_watch_join(&p->watch, ps_store, ps_loop, p->s.account, p->s.apppass,
				   p->s.cred, watch_revoked, p);
	if (!p->s.verified) {
		if (!p->verify_sent && ok > 0)
			verify_send(p);
	} else if (!p->subscribed) {
		store_account_modseq(ps_store, p->s.account, &p->told);
		if ((p->s.types & JMAP_TYPES_OWN) && own_states(p, &p->own) < 0)
			memset(&p->own, 0, sizeof p->own);
		p->sub = (struct store_sub){.account = p->s.account, .loop = ps_loop,
					    .cb = change_cb, .arg = p};
		store_subscribe(ps_store, &p->sub);
		p->subscribed = 1;
	}
	return p->s.expires;
}

static void reload(void *arg)
{
	int64_t now = (int64_t)time(NULL);
	(void)arg;

	if (!ps_loop)
		return; /* stopped: a removal finishing late */
	struct arena *a = arena_new(0);
	for (struct psub *p = subs; p; p = p->next)
		p->seen = 0;
	store_meta_list(ps_store, "pushsub/", reload_cb, a);
	arena_free(&a);
	int64_t next_expiry = 0;
	for (struct psub **pp = &subs; *pp;) {
		struct psub *p = *pp;
		if (!p->seen) { /* destroyed */
			*pp = p->next;
			drop(p);
			continue;
		}
		pp = &p->next;
		int64_t e = reload_one(p, now);
		if (e && (!next_expiry || e < next_expiry))
			next_expiry = e;
	}
	/* Wake up when the next one expires (a second after, so it has). */
	if (expiry_timer)
		loop_timer_del(ps_loop, expiry_timer);
	expiry_timer = 0;
	if (next_expiry) {
		int64_t in = next_expiry - now + 1;
		expiry_timer = loop_timer_add(ps_loop, (uint64_t)(in > 0 ? in : 1) * 1000, expiry_fire,
					      NULL);
	}
}

/* On an API thread: after PushSubscription/set changed something. */
static void changed(void)
{
	if (ps_loop)
		loop_post(ps_loop, reload, NULL);
}

void http_pushsub_start(const struct config *cfg, struct store *st, struct loop *loop)
{
	unsigned char x[32];
	size_t n = 0;

	int rc = store_meta_get(st, VAPID_KEY, x, sizeof x, &n);
	if (rc != STORE_OK || n != 32 || acme_key_from_raw(&vapid, x, 32) < 0) {
		if (acme_key_generate(&vapid) < 0 ||
		    store_meta_put(st, VAPID_KEY, vapid.kbuf, sizeof vapid.kbuf, 0) != STORE_OK) {
			log_warn("jmap", NULL, "event=vapid_key_failed");
			return;
		}
	}
	explicit_bzero(x, sizeof x);
	memcpy(jmap_vapid_pub, vapid.qbuf, sizeof jmap_vapid_pub);
	jmap_vapid_ready = 1;
	allow_private = cfg->jmap_push_private;
	snprintf(contact, sizeof contact, "mailto:postmaster@%s", cfg->hostname);
	if (allow_private)
		log_warn("jmap", NULL,
			 "event=push_private_allowed hint=\"TERN_JMAP_PUSH_PRIVATE=on: push URLs may "
			 "reach loopback and private addresses\"");
	ps_store = st;
	ps_loop = loop;
	jmap_pushsub_changed = changed;
	loop_post(loop, reload, NULL);
}

void http_pushsub_stop_on_loop(void *arg)
{
	(void)arg;
	jmap_pushsub_changed = NULL;
	ps_loop = NULL;
	while (subs) {
		struct psub *p = subs;
		subs = p->next;
		drop(p);
	}
	acme_key_wipe(&vapid);
}
