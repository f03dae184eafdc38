/*
 * http_pushsub.c — delivering JMAP PushSubscriptions (RFC 8620 §7.2), on
 * one loop (the first), from the change feed IMAP IDLE uses. What a
 * change needs read (the change log, the own-state types' /get, the
 * logins' stamps) is read on the worker pool, once per change for all
 * of an account's subscriptions (http/push_feed.h); the loop compares and
 * POSTs. A reload (after /set, at start, at an expiry) still lists the
 * records and checks their stamps on the loop: rare, and small.
 *
 * The subscriptions are meta entries (jmap/jmap_pushsub.c); after every
 * PushSubscription/set that changed one, and at start, the list here is
 * read again (reload). For each subscription:
 * - not yet verified: one PushVerification
 *   {"@type":"PushVerification","pushSubscriptionId","verificationCode"}
 *   is POSTed to its URL (again after a restart, and after a failed
 *   POST: VERIFY_RETRY_MS, doubling, VERIFY_TRIES_MAX times); the
 *   client proves it got it by setting verificationCode with /set;
 * - verified and not expired: subscribed to its account's changes; each
 *   change the client's types cover is POSTed as a StateChange, one
 *   request at a time per subscription (changes meanwhile fold into the
 *   next one; a service that does not answer holds its own subscription
 *   only, for POST_TIMEOUT_MS at most);
 * - expired: nothing is sent, and the entry is removed from meta (on the
 *   worker pool: a store write; RFC 8620 §7.2 lets the server remove
 *   them); a timer set to the earliest expiry reloads the list then, so
 *   an expiry is seen without waiting for another /set;
 * - gone: the push service answered 404 or 410 (RFC 8030 §7.3: it no
 *   longer knows the subscription): removed as a revoked one is
 *   (event=pushsub_revoked reason=push_service_gone), since nothing
 *   sent there again would arrive;
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
 * - shared accounts: the accounts other users share with the
 *   subscription's account (jmap/jmap_share.c) are read on the pool
 *   when it subscribes, and each one's changes are followed as
 *   http_push.c follows them for EventSource and WebSocket
 *   (http/push_follow.h): a StateChange naming the owner's account with the
 *   mail types that changed there, EmailDelivery aside (the owner's new
 *   mail is not the user's), one POST at a time with the subscription's
 *   own. A grant given later is followed once the subscription
 *   subscribes again (a restart, or it is verified anew).
 * With the client's keys the body is encrypted (RFC 8291, aes128gcm) and
 * the request carries VAPID (RFC 8292; the key is made once and kept in
 * meta as "pushsub-key/vapid"), with TTL and Urgency as Web Push asks;
 * without keys it is the JSON itself. Urgency (RFC 8030 §5.3) is normal
 * for a PushVerification (the client waits for it) and for a StateChange
 * that carries new mail (an EmailDelivery, RFC 8621 §1.5: what a phone
 * shows a notification for), and low for every other StateChange (flags,
 * moves, counts: a sync that can wait until the device is on power or
 * Wi-Fi, so a phone on battery is not woken for each).
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
#include "core/base64.h"
#include "core/cidr.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "dns/dns.h"
#include "http/http_pushsub.h"
#include "http/push_feed.h"
#include "http/push_follow.h"
#include "http/webpush.h"
#include "jmap/jmap.h"
#include "store/store.h"

#define POST_TIMEOUT_MS 15000
/* A push service answers with nothing much (RFC 8030 §5: 201 and a
 * Location): a longer answer is not read, so a URL the client chose
 * cannot make tern hold a megabyte per subscription. */
#define PUSH_RESP_MAX (16 * 1024)
/* A PushVerification that failed is sent again after this, doubled at
 * each failure, up to VERIFY_RETRY_MAX_MS (so a relay that was down for
 * a moment still gets the code: the client has no other way to it). */
#define VERIFY_RETRY_MS 2000
#define VERIFY_RETRY_MAX_MS (3600 * 1000)
#define VERIFY_TRIES_MAX 12
#define VAPID_KEY "pushsub-key/vapid"

struct push_feed;

struct psub {
	struct jmap_pushsub s;
	struct push_feed *acct; /* its account's changes, while verified and live */
	struct session_watch watch; /* its login's stamp, while it is live */
	int subscribed;
	int based; /* told and own hold the states it starts from */
	uint64_t told;
	struct jmap_push_own own; /* the own-state types' states last told */
	int inflight, pending, verify_sent, seen;
	struct acme_http_req *req; /* the POST on its way, while inflight */
	unsigned verify_tries; /* PushVerifications that failed so far */
	uint64_t verify_timer; /* the next try, after a failed one */
	int removing; /* expired or revoked: its entry is being deleted */
	struct push_follow follow; /* the shared accounts followed (below) */
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

static void post_send(struct psub *p, const char *json, size_t len, int verification,
		      const char *urgency);
static void verify_retry(struct loop *l, void *arg);
static void shared_start(struct psub *p);

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
	int gone = r->status == 404 || r->status == 410;
	int failed = r->status < 200 || r->status >= 300, verification = q->verification;
	free(q);
	if (!p)
		return;
	p->inflight = 0;
	if (p->removing)
		return;
	if (gone) {
		/* The push service no longer knows the subscription (RFC 8030
		 * §7.3: expired or unsubscribed): nothing sent to it again. */
		revoke(p, "push_service_gone");
		return;
	}
	if (verification && failed && !p->s.verified && !p->verify_timer &&
	    p->verify_tries < VERIFY_TRIES_MAX) {
		uint64_t ms = (uint64_t)VERIFY_RETRY_MS << p->verify_tries;
		p->verify_tries++;
		p->verify_timer = loop_timer_add(ps_loop, ms < VERIFY_RETRY_MAX_MS ? ms
							: VERIFY_RETRY_MAX_MS,
						 verify_retry, p);
	}
	if (p->s.expires < (int64_t)time(NULL)) {
		expire(p); /* it expired while this was on its way */
		return;
	}
	if (p->pending) {
		p->pending = 0;
		if (p->acct)
			push_feed_kick(p->acct);
	}
	push_follow_kick(&p->follow);
}

static void post_send(struct psub *p, const char *json, size_t len, int verification,
		      const char *urgency)
{
	struct buf body;
	char headers[1200];
	size_t hl = 0;
	const char *ctype = "application/json; charset=utf-8";

	buf_init(&body, WEBPUSH_RECORD + 200);
	hl += (size_t)snprintf(headers, sizeof headers, "TTL: 86400\r\nUrgency: %s\r\n", urgency);
	if (p->s.p256dh[0]) {
		uint8_t pub[80], auth[32];
		size_t pl, al;
		char v[1000];
		if (base64_decode(str_make(p->s.p256dh, strlen(p->s.p256dh)),
		                  BASE64_URL | BASE64_NOPAD, pub, sizeof pub, &pl) < 0 ||
		    base64_decode(str_make(p->s.auth, strlen(p->s.auth)), BASE64_URL | BASE64_NOPAD,
		                  auth, sizeof auth, &al) < 0 ||
		    webpush_encrypt(pub, pl, auth, al, json, len, &body) < 0 ||
		    webpush_vapid(&vapid, p->s.url, (int64_t)time(NULL), contact, v, sizeof v) <
		        0) {
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
				   buf_len(&body), POST_TIMEOUT_MS, headers, addr_ok, PUSH_RESP_MAX, post_done,
				   q, &p->req) < 0) {
		log_warn("jmap", NULL, "event=push_failed subscription=%s error=\"bad url\"", p->s.id);
		free(q);
	} else {
		p->inflight = 1;
	}
	buf_free(&body);
}

/*
 * The reads a change needs (the change log walk, the own-state types'
 * /get, each subscription's credentials stamp) run on the worker pool,
 * never on this loop (which also runs the queue and ACME): one read at
 * a time per account, shared by all of its subscriptions (a change that
 * comes meanwhile runs another after it), through the one feed
 * http_push.c uses for EventSource and WebSocket (http/push_feed.h).
 * The loop only compares and POSTs.
 */
static int live(const struct psub *p, const struct push_feed *a)
{
	return p->acct == a && !p->removing;
}

/* push_feed: the account's live subscriptions, with the states told
 * (once it has them) and the logins whose stamps are checked. */
static void acct_collect(struct push_feed *a, struct push_calc *k)
{
	for (struct psub *p = subs; p; p = p->next)
		if (live(p, a)) {
			push_calc_add(k, p->based ? &p->told : NULL, p->s.types);
			push_calc_login(k, p->s.apppass);
		}
}

/* Applies the read k to p: 1 when p needs another read. */
static int apply(struct psub *p, const struct push_calc *k)
{
	if (!k->cred_ok)
		return 0; /* a store error skips this change (told stays) */
	if (!p->s.cred) {
		revoke(p, "no_stamp");
		return 0;
	}
	uint64_t cred;
	if (!push_calc_cred(k, p->s.apppass, &cred))
		return 1; /* a login not read: read again */
	/* The watch ticks once a second: a change in between must not go
	 * out under credentials already revoked. */
	if (cred != p->s.cred) {
		revoke(p, cred ? "credentials_changed" : "account_deleted");
		return 0;
	}
	if (p->s.expires < (int64_t)time(NULL)) {
		if (!p->inflight)
			expire(p);
		return 0;
	}
	if (!p->based) {
		/* Subscribed: the states it starts from, nothing told. */
		p->told = k->modseq;
		memset(&p->own, 0, sizeof p->own);
		if (k->own_ok)
			jmap_push_own_take(&p->own, &k->own, p->s.types);
		p->based = 1;
		/* Shared changes that came before it was based wait for this. */
		push_follow_kick(&p->follow);
		return 0;
	}
	if (p->inflight) {
		p->pending = 1; /* post_done kicks again */
		return 0;
	}
	long i = push_calc_find(k, p->told);
	if (i < 0)
		return 1;
	unsigned mask = k->types[i];
	if (k->upto[i] > p->told)
		p->told = k->upto[i];
	if ((p->s.types & JMAP_TYPES_OWN) && k->own_ok)
		mask |= jmap_push_own_take(&p->own, &k->own, p->s.types);
	if (!(mask & p->s.types))
		return 0;
	struct buf ev;
	buf_init(&ev, 1024);
	jmap_push_state_change(&ev, p->s.account, mask & p->s.types, p->told, &p->own, NULL);
	/* New mail, whether or not the subscription asked for
	 * EmailDelivery: normal; any other change: low (see the top). */
	post_send(p, buf_data(&ev), buf_len(&ev), 0,
		  (mask & JMAP_TYPE_EMAIL_DELIVERY) ? "normal" : "low");
	buf_free(&ev);
	return 0;
}

/* push_feed: the read for each live subscription. revoke() and expire()
 * only mark one and queue its removal: the list stays as it is while it
 * is walked. */
static int acct_apply(struct push_feed *a, const struct push_calc *k)
{
	int more = 0;
	for (struct psub *p = subs; p; p = p->next)
		if (live(p, a))
			more |= apply(p, k);
	return more;
}

static const struct push_feed_ops acct_ops = {.collect = acct_collect, .apply = acct_apply};

/* p follows its account's changes; its starting states are read first. */
static void acct_join(struct psub *p)
{
	p->acct = push_feed_join(&acct_ops, ps_store, ps_loop, p->s.account, sizeof *p->acct);
	p->subscribed = 1;
	p->based = 0;
	push_feed_kick(p->acct);
	shared_start(p);
}

/*
 * The accounts shared with p's account, followed through their owners'
 * change feeds (http/push_follow.h) once p subscribes; a peer that finds
 * p's POST on its way waits and is read again when that POST ends.
 */
static int follow_ready(void *sub)
{
	const struct psub *p = sub;
	return p->acct && p->based && !p->removing;
}

static unsigned follow_types(void *sub)
{
	return ((struct psub *)sub)->s.types;
}

static int follow_wait(void *sub)
{
	return ((struct psub *)sub)->inflight; /* post_done kicks again */
}

static void follow_tell(void *sub, uint32_t owner, unsigned mask, uint64_t modseq)
{
	struct psub *p = sub;
	struct buf ev;

	buf_init(&ev, 1024);
	jmap_push_state_change(&ev, owner, mask, modseq, NULL, NULL);
	post_send(p, buf_data(&ev), buf_len(&ev), 0, "low");
	buf_free(&ev);
}

/* No hold: revoke and expire only mark a subscription, so its peers
 * stay while a feed's read is told. */
static const struct push_follow_ops follow_ops = {
    .ready = follow_ready,
    .types = follow_types,
    .wait = follow_wait,
    .tell = follow_tell,
};

/* Reads, on the pool, which accounts share with p's and follows them
 * from their states now. */
static void shared_start(struct psub *p)
{
	push_follow_start(&p->follow, &follow_ops, p, ps_store, ps_loop, p->s.account, "pushsub",
			  p->s.id, 0);
}

static void acct_leave(struct psub *p)
{
	struct push_feed *a = p->acct;

	push_follow_leave(&p->follow);
	if (!a)
		return;
	p->acct = NULL;
	p->subscribed = 0;
	push_feed_leave(a);
}

static void verify_send(struct psub *p)
{
	char json[200];
	int n = snprintf(json, sizeof json,
			 "{\"@type\":\"PushVerification\",\"pushSubscriptionId\":\"%s\","
			 "\"verificationCode\":\"%s\"}",
			 p->s.id, p->s.code);
	p->verify_sent = 1;
	post_send(p, json, (size_t)n, 1, "normal");
}

/* The timer after a failed PushVerification: send it again, unless it
 * was verified (or is going) meanwhile. */
static void verify_retry(struct loop *l, void *arg)
{
	struct psub *p = arg;
	(void)l;
	p->verify_timer = 0;
	if (!p->removing && !p->s.verified && !p->inflight)
		verify_send(p);
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
	acct_leave(p);
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

/* p is off the list already: a POST still on its way ends here (its
 * post_done finds no subscription), not after the loop has gone. */
static void drop(struct psub *p)
{
	if (p->inflight)
		acme_http_cancel(p->req);
	if (p->verify_timer)
		loop_timer_del(ps_loop, p->verify_timer);
	acct_leave(p);
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
		acct_join(p); /* its starting states are read on the pool */
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
	while (subs) {
		struct psub *p = subs;
		subs = p->next;
		drop(p); /* its timer too, while ps_loop is set */
	}
	if (expiry_timer)
		loop_timer_del(ps_loop, expiry_timer);
	expiry_timer = 0;
	ps_loop = NULL;
	acme_key_wipe(&vapid);
}
