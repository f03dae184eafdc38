/*
 * http_push.c — JMAP's long-lived connections on the bridge's loop:
 * EventSource push (RFC 8620 §7.3) and JMAP over WebSocket (RFC 8887);
 * see http_push.h for how a connection gets here.
 *
 * EventSource:
 * GET /jmap/eventsource/?types=T&closeafter=C&ping=N, with:
 * - types: "*" or a comma-separated list of type names (absent: "*");
 * - closeafter: "state" ends the response after the first state event
 *   (for clients behind buffering proxies), "no" (the default) keeps it;
 * - ping: seconds; when not 0, a "ping" event whose data is
 *   {"interval":N} goes out whenever that long passed since the last
 *   event. Kept within PING_MIN_S..PING_MAX_S (the RFC lets the server
 *   choose; the event says what it chose).
 * A "state" event carries a StateChange (jmap/jmap_push.c) and, as its
 * id, the push state it reports (the modseq and the own-state types'
 * states, jmap_push_state_format): a client that reconnects with
 * Last-Event-ID is told at once what changed since, of every type (the
 * EventSource reconnect rule). Nothing is sent at connect otherwise, so
 * closeafter=state works as a long poll. The response starts once the
 * states the client is taken to know were read (on the pool).
 *
 * The reads (the change log walk, the own-state types' /get) never run
 * on the loop: each account's connections on a loop share one change
 * feed subscription and one read per notification on the worker pool
 * (struct push_acct below), whose result each connection takes.
 *
 * The response is HTTP/1.1 without a length, ended by closing the
 * connection (RFC 9112 §6.3); the client sends nothing after its request.
 *
 * WebSocket: GET /jmap/ws/ with Upgrade: websocket, version 13 and the
 * "jmap" subprotocol, the same credentials as the API (Basic or a JMAP
 * bearer token); 101, then text messages (ws_frame.c reads the frames,
 * within maxSizeRequest). Each message runs on JMAP's own pool
 * (jmap_ws_message: a Request, or WebSocketPushEnable/Disable), one at
 * a time per connection, reading paused meanwhile. Not on the shared
 * worker pool: a Request may run for seconds (a 29 MB Email/get, an
 * Email/query over a big mailbox), and two of them held both its
 * threads while password checks and push reads waited behind them
 * (scripts/bench-jmap-fairness, two clients asking 29 MB Email/gets:
 * another account's small Request p50 62 ms and max 350 ms, an
 * EventSource event's max 161 ms, an IMAP LOGIN's 211 ms; on this pool
 * p50 1.8 ms and max 39, 48 and 45 ms). The pool has WS_POOL_THREADS
 * threads and runs at most WS_POOL_PER_ACCOUNT messages of one account
 * at once, so one account's long Requests leave threads to the others
 * (core/worker.h). Its answer goes out as one text frame, in pieces as
 * the client takes them (a Response may be far larger than the output
 * buffer), waiting meanwhile in a spool (core/spool.h: a file past
 * SPOOL_MEM_MAX or the message memory budget) that the Response was
 * written into as it was made, as over HTTP (jmap_api_spooled); a spool
 * the disk refuses closes the socket with 1013. With push enabled,
 * StateChange objects with "pushState" go out between answers, never
 * inside one. Pings are answered, under output pressure only the
 * latest (ws_pong); every frame is queued whole or not at all (ws_send);
 * a close is echoed; a protocol error closes with its code; shutdown sends 1001.
 * Messages under way count against the message memory budget and the
 * client's quarter of it (ws_mem_update): past either, 1013.
 *
 * Behind a trusted proxy (TERN_TRUSTED_PROXIES) a connection of either
 * kind holds the share of the client the proxy names for its whole life,
 * as a request holds it while it runs: over it, 429 before the login.
 *
 * Both kinds end, as IMAP and POP3 sessions do, within about a second of
 * the account's password, state or app password changing or the account
 * going (auth/session_watch.h): EventSource by closing, WebSocket with
 * close code 1008, or by closing while an answer is under way.
 *
 * Both also tell the changes of the accounts other users share with the
 * user (http/push_follow.h), each in a StateChange of its own.
 */
#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/login.h"
#include "auth/login_cache.h"
#include "auth/session_watch.h"
#include "core/base64.h"
#include "core/arena.h"
#include "core/cidr.h"
#include "core/hostname.h"
#include "core/log.h"
#include "core/spool.h"
#include "core/worker.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "http/http_creds.h"
#include "http/http_internal.h"
#include "http/http_parse.h"
#include "http/http_push.h"
#include "http/push_feed.h"
#include "http/push_follow.h"
#include "http/ws_frame.h"
#include "jmap/jmap.h"
#include "net/conn.h"
#include "net/forwarded.h"
#include "net/limits.h"
#include "store/store.h"

#define PING_MIN_S 1
#define PING_MAX_S 3600
/* One event at a time is queued; more output than this waiting means
 * the client is not reading, so the next event waits for the drain. */
#define PUSH_OUT_SLACK 4096
/* RFC 6455 §7.4.1: try again later (a resource ran out). */
#define WS_CLOSE_TRY_LATER 1013
/* The largest control frame payload (RFC 6455 §5.5). */
#define WS_CONTROL_MAX 125
/* The whole request header an EventSource client sends fits this. */
#define AUTH_MAX (LOGIN_USER_MAX + LOGIN_PASS_MAX + 64) * 4 / 3

enum push_state {
	PUSH_LOGIN, /* waiting for the login flow */
	PUSH_BASE,  /* EventSource: the states at the start being read (pool) */
	PUSH_OPEN,  /* events flow */
	PUSH_DONE,  /* answered; closing after the flush */
};

struct ws_job;
struct push_acct;
struct push_calc;

struct http_push {
	struct conn *c;
	struct loop *loop;
	int ws;             /* WebSocket, else EventSource */
	int https;          /* the client's scheme: our answers then carry HSTS */
	enum push_state state;
	struct login *login;
	uint32_t account;
	uint32_t apppass;   /* the app password logged in with, 0: the account's own */
	uint64_t cred;      /* the credentials stamp at login */
	int share;          /* holds ip's POOL_HTTP share (behind a trusted proxy) */
	struct session_watch watch;
	unsigned types;
	int close_after_state;
	unsigned ping_s;
	uint64_t ping_timer;
	uint64_t told;      /* the state last told (or the account's at the start) */
	int has_last_id;    /* Last-Event-ID given: catch up at once */
	int pending;        /* a change came while output was queued */
	struct jmap_push_own own; /* the own-state types' states last told */
	int own_known;      /* own holds them (else the next read is taken as known) */
	struct push_acct *acct;      /* the account's changes, shared (below) */
	struct http_push *acct_next; /* its other connections on this loop */
	struct push_calc *calc;      /* EventSource: the start's read under way */
	struct push_follow follow;   /* the shared accounts followed (below) */
	/* WebSocket */
	char ws_accept[32];  /* Sec-WebSocket-Accept */
	struct ws_reader rd;
	struct ws_job *job;  /* a message being answered on ws_pool */
	/* An answer's frame going out in pieces: its header, then its
	 * payload in a spool, the bytes in resp_data (resp_data.p NULL: none
	 * under way); resp_off counts both. See ws_resp_start. */
	uint8_t resp_hdr[WS_HEADER_MAX];
	size_t resp_hlen;
	struct spool resp;
	struct str resp_data;
	uint64_t resp_off;
	int push_on;         /* WebSocketPushEnable in effect */
	/* The Pong owed to the latest Ping, while the output is too full to
	 * take it (ws_pong): earlier Pings owed one are answered by it. */
	uint8_t pong[WS_CONTROL_MAX];
	size_t pong_len;
	int pong_due;
	struct spool_hold hold; /* what the socket holds, counted (ws_mem_update) */
	char ip[48];         /* the client: the peer, or whom a trusted proxy names */
};

struct ws_job {
	struct worker_job wj;
	struct http_push *p; /* NULL once the connection went */
	struct jmap_who who; /* the connection's login */
	char ip[48]; /* the client's (Received of mail it sends) */
	char *text;
	size_t len;
	struct arena *a;
	struct buf out;
	struct spool sp; /* a large answer, written as it is made */
	struct jmap_ws_verdict v;
};

static unsigned push_alive;

/*
 * JMAP over WebSocket's pool (above). Threads: past the cores, since
 * what it is for is that a short Request finds a thread while long ones
 * run (the kernel shares the CPU between them); below HTTP's 16 request
 * threads (HTTP_REQUESTS_MAX), as each running message may hold its
 * answer's spool. Per account: half of them, so one account never holds
 * more than half; its other messages wait in the queue (one per
 * connection at most), not refused.
 */
#define WS_POOL_THREADS 4
#define WS_POOL_PER_ACCOUNT 2
static struct worker_pool *ws_pool;

void http_push_pool_start(void)
{
	if (!ws_pool)
		ws_pool = worker_pool_new("tern-jmap", WS_POOL_THREADS, WS_POOL_PER_ACCOUNT);
}

void http_push_pool_stop(void)
{
	worker_pool_free(&ws_pool);
}

unsigned http_push_count(void)
{
	return __atomic_load_n(&push_alive, __ATOMIC_SEQ_CST);
}

/* 1 when target is path, with or without a slash, then nothing or a query. */
static int at_path(struct str t, const char *path)
{
	size_t n = strlen(path);

	if (t.len < n || memcmp(t.p, path, n) != 0)
		return 0;
	t = str_make(t.p + n, t.len - n);
	if (t.len && t.p[0] == '/')
		t = str_make(t.p + 1, t.len - 1);
	return t.len == 0 || t.p[0] == '?';
}

int http_push_wants(const struct http_head *h)
{
	return str_eq_ci_c(h->method, "GET") &&
	       (at_path(h->target, "/jmap/eventsource") || at_path(h->target, "/jmap/ws"));
}

/* Answers with a complete response and closes after it. */
static void push_answer(struct http_push *p, int status, const char *reason, const char *extra,
			const char *detail)
{
	char body[512];
	int n = snprintf(body, sizeof body,
			 "{\"type\":\"about:blank\",\"status\":%d,\"detail\":\"%s\"}", status, detail);
	conn_printf(p->c,
		    "HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\n"
		    "Content-Length: %d\r\nCache-Control: no-store\r\n"
		    "%sAccess-Control-Allow-Origin: *\r\n%sConnection: close\r\n\r\n%s",
		    status, reason, n, http_security_header_lines(p->https), extra ? extra : "", body);
	p->state = PUSH_DONE;
	conn_close_after_flush(p->c, "http_done");
}

static void ping_arm(struct http_push *p);
static int ws_send(struct http_push *p, unsigned op, const void *data, size_t len);
static void ws_close(struct http_push *p, uint16_t code, const char *why);
static void ws_input(struct http_push *p);
static void ws_resp_more(struct http_push *p);

/* Writes one event; its data is one line of JSON. */
static void push_event(struct http_push *p, const char *name, const char *id, const char *data,
		       size_t len)
{
	if (id)
		conn_printf(p->c, "event: %s\nid: %s\ndata: ", name, id);
	else
		conn_printf(p->c, "event: %s\ndata: ", name);
	conn_write(p->c, data, len);
	conn_write(p->c, "\n\n", 2);
	ping_arm(p); /* the interval counts from the last event */
}

static void ping_fire(struct loop *loop, void *arg)
{
	struct http_push *p = arg;
	char data[48];
	(void)loop;

	p->ping_timer = 0;
	int n = snprintf(data, sizeof data, "{\"interval\":%u}", p->ping_s);
	if (buf_len(&p->c->out) > PUSH_OUT_SLACK)
		ping_arm(p); /* not reading: a ping would only pile up */
	else
		push_event(p, "ping", NULL, data, (size_t)n);
	conn_flush(p->c);
}

static void ping_arm(struct http_push *p)
{
	if (!p->ping_s || p->state != PUSH_OPEN)
		return;
	if (p->ping_timer)
		loop_timer_del(p->loop, p->ping_timer);
	p->ping_timer = loop_timer_add(p->loop, (uint64_t)p->ping_s * 1000, ping_fire, p);
}

/*
 * The account's changes, read once per notification for all of its
 * connections on this loop, on the worker pool (http/push_feed.h: one
 * read at a time per account, walking the change log once for every
 * state its connections were last told and running the own-state
 * types' /get once for the types any of them asked). The loop only
 * writes the events. So a burst of changes to an account with many
 * clients costs the loop one pass over its connections per read, not
 * five /get each.
 */
struct push_acct {
	struct push_feed f; /* first: the feed is the account's */
	struct http_push *conns;
};

/* Whether p takes events now. */
static int push_ready(const struct http_push *p)
{
	return p->state == PUSH_OPEN && (!p->ws || p->push_on);
}

/* Whether an event for p waits for the drain: the client is not reading
 * (output queued past the slack) or an answer's frame is under way (no
 * frame may go inside it). Every push asks this before it writes. */
static int push_held(const struct http_push *p)
{
	return buf_len(&p->c->out) > PUSH_OUT_SLACK || p->resp_data.p;
}

/* Writes the StateChange saying that the types in mask of account now
 * have state modseq (own: the own types' states, NULL for none); its
 * push state is always p's own account's (p->told, p->own). */
static void push_emit_for(struct http_push *p, uint32_t account, unsigned mask, uint64_t modseq,
			  const struct jmap_push_own *own)
{
	struct buf ev;
	char ps[JMAP_PUSH_STATE_MAX];

	jmap_push_state_format(ps, sizeof ps, p->told, p->types, &p->own);
	buf_init(&ev, 1024);
	jmap_push_state_change(&ev, account, mask, modseq, own, p->ws ? ps : NULL);
	if (p->ws) {
		/* Written only between frames with the output near empty
		 * (push_held), so it fits; if it ever did not,
		 * the client reconnects with its pushState and is told what
		 * it missed, rather than missing it unsaid. */
		if (ws_send(p, WS_OP_TEXT, buf_data(&ev), buf_len(&ev)) < 0)
			ws_close(p, WS_CLOSE_TRY_LATER, "ws_output_full");
		buf_free(&ev);
		return;
	}
	push_event(p, "state", ps, buf_data(&ev), buf_len(&ev));
	buf_free(&ev);
	if (p->close_after_state) {
		p->state = PUSH_DONE;
		conn_close_after_flush(p->c, "closeafter_state");
	}
}

/* The StateChange for the types in mask (of p's) of its own account, as
 * they are now in p->told and p->own. */
static void push_emit(struct http_push *p, unsigned mask)
{
	push_emit_for(p, p->account, mask, p->told, &p->own);
}

/* Takes a read: the mail types changed up to upto, the own types now
 * (those in now_mask; NULL: none read). Tells what p asked for. */
static void push_update(struct http_push *p, unsigned changed, uint64_t upto,
			const struct jmap_push_own *now, unsigned now_mask)
{
	unsigned mask = changed;
	if (upto > p->told)
		p->told = upto;
	if (now) {
		unsigned moved = jmap_push_own_take(&p->own, now, now_mask & p->types);
		if (p->own_known)
			mask |= moved;
		p->own_known = 1;
	}
	if (mask & p->types)
		push_emit(p, mask & p->types);
}

/* Applies the account's read k to p: 1 when p needs another read (its
 * state was not among those k read). */
static int push_apply(struct http_push *p, const struct push_calc *k)
{
	if (!push_ready(p))
		return 0;
	if (push_held(p)) {
		p->pending = 1; /* folded into the event sent at the drain */
		return 0;
	}
	long i = push_calc_find(k, p->told);
	if (i < 0)
		return 1;
	p->pending = 0;
	push_update(p, k->types[i], k->upto[i], k->own_ok ? &k->own : NULL, k->own_mask);
	return 0;
}

/* push_feed: the connections that take events now, with the states
 * they were told. */
static void acct_collect(struct push_feed *f, struct push_calc *k)
{
	for (struct http_push *p = ((struct push_acct *)f)->conns; p; p = p->acct_next)
		if (push_ready(p))
			push_calc_add(k, &p->told, p->types);
}

/* push_feed: a read for each connection (held while it is told: a
 * connection that goes meanwhile is freed after). */
static int acct_apply(struct push_feed *f, const struct push_calc *k)
{
	struct push_acct *a = (struct push_acct *)f;
	size_t n = 0;
	for (struct http_push *p = a->conns; p; p = p->acct_next)
		n++;
	struct http_push **v = xcalloc(n ? n : 1, sizeof *v);
	n = 0;
	for (struct http_push *p = a->conns; p; p = p->acct_next) {
		v[n++] = p;
		conn_hold(p->c);
	}
	int more = 0;
	for (size_t i = 0; i < n; i++)
		more |= push_apply(v[i], k);
	for (size_t i = 0; i < n; i++)
		conn_release(v[i]->c); /* sends it; v[i] may be gone after */
	free(v);
	return more;
}

static const struct push_feed_ops acct_ops = {.collect = acct_collect, .apply = acct_apply};

/* p follows its account's changes (once: a second call does nothing). */
static void acct_join(struct http_push *p)
{
	if (p->acct)
		return;
	struct push_acct *a = (struct push_acct *)push_feed_join(&acct_ops, http_store, p->loop,
								  p->account, sizeof *a);
	p->acct_next = a->conns;
	a->conns = p;
	p->acct = a;
}

static void acct_leave(struct http_push *p)
{
	struct push_acct *a = p->acct;

	if (!a)
		return;
	for (struct http_push **pp = &a->conns; *pp; pp = &(*pp)->acct_next)
		if (*pp == p) {
			*pp = p->acct_next;
			break;
		}
	p->acct = NULL;
	p->acct_next = NULL;
	push_feed_leave(&a->f);
}

/*
 * The accounts other users share with p's user, followed through their
 * owners' change feeds (http/push_follow.h) from when push starts (an
 * EventSource's start, WebSocketPushEnable). A StateChange for one names
 * the owner's account (the id the session lists); its push state (event
 * id, pushState) stays the user's own account's, so it cannot say what a
 * reconnecting client missed in the shared accounts: an EventSource
 * reconnecting with a Last-Event-ID is told each one's states at once
 * instead (push_follow_start's catch_up), one StateChange per account,
 * as every shared change is. Not with closeafter=state: each long poll
 * would end at once with the same states, and the next start again.
 * A WebSocketPushEnable whose pushState was taken is told them the same
 * way (RFC 8887 §4.3.5.2: all changes since that state): its pushState
 * too is the own account's only.
 */
static int follow_ready(void *sub)
{
	return push_ready(sub);
}

static unsigned follow_types(void *sub)
{
	return ((struct http_push *)sub)->types;
}

/* The follow keeps its own mark of what waits (push_follow_kick at the
 * drain and at an answer's end, push_catch_up): p->pending is the own
 * account's, which an own event clears, and a shared change parked on
 * it was told only at that owner's next change. */
static int follow_wait(void *sub)
{
	return push_held(sub);
}

static void follow_tell(void *sub, uint32_t owner, unsigned mask, uint64_t modseq)
{
	push_emit_for(sub, owner, mask, modseq, NULL);
}

static void follow_hold(void *sub)
{
	conn_hold(((struct http_push *)sub)->c);
}

static void follow_release(void *sub)
{
	conn_release(((struct http_push *)sub)->c); /* sends it; sub may be gone after */
}

static const struct push_follow_ops follow_ops = {
    .ready = follow_ready,
    .types = follow_types,
    .wait = follow_wait,
    .tell = follow_tell,
    .live = follow_ready,
    .hold = follow_hold,
    .release = follow_release,
};

/* p follows the accounts shared with its user from their states now
 * (again from the start: a new read); catch_up: and tells them at once
 * (a client resuming from a push state: Last-Event-ID, pushState). */
static void shared_start(struct http_push *p, int catch_up)
{
	push_follow_start(&p->follow, &follow_ops, p, http_store, p->loop, p->account,
			  p->ws ? "websocket" : "eventsource", NULL, catch_up);
}

/* p has something to catch up on (a drain, an answer sent). */
static void push_kick(struct http_push *p)
{
	if (!push_ready(p))
		return;
	if (p->acct)
		push_feed_kick(&p->acct->f);
	push_follow_kick(&p->follow);
}

/* The output drained or an answer ended: what waited is told, the own
 * account's (p->pending) and the shared ones' (the follow's own marks:
 * push_follow_kick kicks only the owners with a change waiting). */
static void push_catch_up(struct http_push *p)
{
	if (p->pending)
		push_kick(p);
	else if (push_ready(p))
		push_follow_kick(&p->follow);
}

static void ws_open(struct http_push *p);

/* session_watch: the account's credentials changed or it went. */
static void push_revoked(void *arg, int gone)
{
	struct http_push *p = arg;

	if (p->state != PUSH_OPEN)
		return;
	log_info("jmap", NULL, "event=push_revoked kind=%s account=%u reason=%s",
		 p->ws ? "websocket" : "eventsource", p->account,
		 gone ? "account_deleted" : "credentials_changed");
	conn_hold(p->c);
	if (!p->ws) {
		p->state = PUSH_DONE;
		conn_close_after_flush(p->c, "credentials_changed");
	} else if (p->resp_data.p || p->job) {
		/* Inside an answer no close frame can follow: just close. */
		p->state = PUSH_DONE;
		conn_close(p->c, "credentials_changed");
	} else {
		ws_close(p, WS_CLOSE_POLICY, "credentials_changed");
	}
	conn_release(p->c);
}

static void push_watch(struct http_push *p)
{
	session_watch_join(&p->watch, http_store, p->loop, p->account, p->apppass, p->cred,
			   push_revoked, p);
}

/* The EventSource's start, read on the pool: the states the client is
 * taken to know (the account's now, or its Last-Event-ID's) and what
 * changed since the latter. The response starts once they are read, so
 * a change the client makes after it is told. */
static void base_done(void *arg)
{
	struct push_calc *k = arg;
	struct http_push *p = k->arg;

	if (!p) {
		push_calc_free(k);
		return;
	}
	p->calc = NULL;
	conn_hold(p->c);
	if (!k->ok) {
		push_answer(p, 503, "Service Unavailable", "Retry-After: 5\r\n", "the store failed");
	} else {
		p->state = PUSH_OPEN;
		conn_printf(p->c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				  "Cache-Control: no-cache, no-store\r\nAccess-Control-Allow-Origin: *\r\n"
				  "%s\r\n", http_security_header_lines(p->https));
		log_info("jmap", NULL,
			 "event=push_open kind=eventsource client=%s account=%u types=%u ping=%u",
			 p->ip, p->account, p->types, p->ping_s);
		push_watch(p);
		ping_arm(p);
		unsigned changed = 0;
		uint64_t upto = k->modseq;
		int resumed = p->has_last_id && p->told <= k->modseq;
		if (resumed) {
			changed = k->types[0]; /* Last-Event-ID: what the client missed */
			upto = k->upto[0];
		} else {
			p->told = k->modseq;
			p->own_known = 0;
		}
		push_update(p, changed, upto, k->own_ok ? &k->own : NULL, k->own_mask);
		/* Changes told to the account's feed while this was read. */
		push_kick(p);
		if (p->state == PUSH_OPEN)
			shared_start(p, resumed && !p->close_after_state);
	}
	push_calc_free(k);
	conn_release(p->c);
}

static void push_open(struct http_push *p)
{
	if (p->ws) {
		ws_open(p);
		return;
	}
	acct_join(p); /* changes from now on reach it */
	struct push_calc *k = push_calc_new(http_store, p->account);
	push_calc_add(k, p->has_last_id ? &p->told : NULL, p->types);
	k->arg = p;
	p->calc = k;
	p->state = PUSH_BASE;
	push_calc_submit(k, p->loop, base_done);
}

static void login_done(void *arg, const struct login_result *r)
{
	struct http_push *p = arg;

	p->login = NULL;
	conn_hold(p->c);
	if (r->outcome == LOGIN_OK) {
		p->account = r->account;
		p->apppass = r->apppass;
		p->cred = r->cred;
		push_open(p);
	} else if (r->outcome == LOGIN_TEMP) {
		push_answer(p, 503, "Service Unavailable", "Retry-After: 5\r\n", "try again later");
	} else if (r->outcome == LOGIN_REFUSED) {
		char ra[32];
		snprintf(ra, sizeof ra, "Retry-After: %u\r\n", r->retry_after_s);
		push_answer(p, 429, "Too Many Requests", ra, login_refused_text(r));
	} else {
		push_answer(p, 401, "Unauthorized",
			    "WWW-Authenticate: Basic realm=\"tern\", charset=\"UTF-8\"\r\n",
			    "wrong user name or password");
	}
	conn_pause_read(p->c, 0);
	conn_release(p->c);
}

/* The query: 0, or -1 after answering 400. */
static int push_query(struct http_push *p, struct str target)
{
	char v[256];
	uint64_t n;
	int r;

	p->types = JMAP_TYPES_ALL;
	if ((r = http_query_param(target, "types", v, sizeof v)) < 0)
		goto bad;
	if (r)
		p->types = jmap_push_types(v);
	if ((r = http_query_param(target, "closeafter", v, sizeof v)) < 0)
		goto bad;
	if (r && strcmp(v, "state") && strcmp(v, "no"))
		goto bad;
	p->close_after_state = r && !strcmp(v, "state");
	if ((r = http_query_param(target, "ping", v, sizeof v)) < 0)
		goto bad;
	if (r) {
		if (str_to_u64(str_c(v), UINT32_MAX, &n) < 0)
			goto bad;
		p->ping_s = n == 0 ? 0 : n < PING_MIN_S ? PING_MIN_S : n > PING_MAX_S ? PING_MAX_S : (unsigned)n;
	}
	return 0;
bad:
	push_answer(p, 400, "Bad Request", NULL,
		    "types, closeafter (state or no) or ping (seconds) is malformed");
	return -1;
}


/* ---- WebSocket (RFC 8887) ---- */

/* The largest message a client may send: the API's maxSizeRequest. */
#define WS_MESSAGE_MAX JMAP_MAX_SIZE_REQUEST
/* Pieces of an answer moved to the connection's output at a time. */
#define WS_CHUNK (64 * 1024)

/* Queues one whole frame, or nothing (-1) when the output has no room
 * for all of it: a header without its payload would make every byte
 * after it read as something else. */
static int ws_send(struct http_push *p, unsigned op, const void *data, size_t len)
{
	uint8_t hdr[WS_HEADER_MAX];
	size_t hlen = ws_header(hdr, op, len);
	if (buf_room(&p->c->out) < hlen + len || conn_write(p->c, hdr, hlen) < 0)
		return -1;
	return conn_write(p->c, data, len); /* fits: the room was there */
}

/* Sends what Pong is owed, when the output takes it now: between frames
 * (not inside an answer's), and only while the client keeps up. */
static void ws_pong_flush(struct http_push *p)
{
	if (!p->pong_due || p->state != PUSH_OPEN || p->resp_data.p ||
	    buf_len(&p->c->out) > PUSH_OUT_SLACK)
		return;
	if (ws_send(p, WS_OP_PONG, p->pong, p->pong_len) == 0)
		p->pong_due = 0;
}

/*
 * Answers a Ping. A client that sends Pings and reads nothing would fill
 * the output with Pongs; RFC 6455 §5.5.3 lets an endpoint answer only the
 * most recent Ping when an earlier one's Pong is not sent yet, so the
 * latest payload is kept (replacing any older one owed) and its Pong goes
 * out once the output drains (http_push_drained). Reading goes on, the
 * memory held stays one control payload.
 */
static void ws_pong(struct http_push *p, const char *data, size_t len)
{
	p->pong_len = len < sizeof p->pong ? len : sizeof p->pong; /* ws_read: at most 125 */
	memcpy(p->pong, data, p->pong_len);
	p->pong_due = 1;
	ws_pong_flush(p);
}

/* Sends a close frame with code and closes after it; without the frame
 * when it cannot be whole (inside an answer's frame, the output full).
 * The Pong still owed goes before it: nothing may follow a Close. */
static void ws_close(struct http_push *p, uint16_t code, const char *why)
{
	uint8_t b[2] = {(uint8_t)(code >> 8), (uint8_t)code};

	if (p->state == PUSH_OPEN && !p->resp_data.p) {
		if (p->pong_due)
			(void)ws_send(p, WS_OP_PONG, p->pong, p->pong_len);
		(void)ws_send(p, WS_OP_CLOSE, b, 2);
	}
	if (code != WS_CLOSE_NORMAL && code != WS_CLOSE_GOING_AWAY)
		log_info("jmap", NULL, "event=ws_close account=%u code=%u reason=%s", p->account,
			 code, why);
	p->state = PUSH_DONE;
	conn_close_after_flush(p->c, why);
}

/*
 * Whether a WebSocket handshake's Origin (RFC 6455 §4.2.1 item 7, §10.2)
 * is tern's own: absent (not a browser), the Host the request names, or
 * the host name tern serves as (behind a proxy that rewrites Host). A
 * browser opens a WebSocket to any site from any page, with the Basic
 * credentials it keeps for that site and no CORS check of the answers,
 * so a page elsewhere could otherwise read and change the mailbox.
 */
int http_origin_own(const char *origin, size_t olen, const char *host, size_t hlen)
{
	if (!origin)
		return 1;
	struct str o = str_make(origin, olen);
	const char *sep = o.len > 3 ? memmem(o.p, o.len, "://", 3) : NULL;
	if (!sep)
		return 0; /* "null": an opaque origin */
	o = str_make(sep + 3, o.len - (size_t)(sep + 3 - o.p));
	if (hlen && str_eq_ci(o, str_make(host, hlen)))
		return 1;
	size_t n = o.len;
	if (n && o.p[0] != '[') {
		const char *colon = memchr(o.p, ':', n);
		if (colon)
			n = (size_t)(colon - o.p);
	}
	return n && str_eq_ci_c(str_make(o.p, n), hostname_now());
}

/* Behind a trusted proxy, the host it names stands for Host. */
static int own_origin(const struct conn *c, const struct http_head *h)
{
	struct forwarded_origin o;
	if (http_push_origin(c->peer_ip, h, &o) && o.host[0])
		return http_origin_own(h->origin.p, h->origin.len, o.host, strlen(o.host));
	return http_origin_own(h->origin.p, h->origin.len, h->host.p, h->host.len);
}

/* Checks the upgrade request (RFC 6455 §4.2.1, RFC 8887 §3): 0, or -1
 * after answering it. */
static int ws_handshake(struct http_push *p, const struct http_head *h)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	uint8_t key[32], sha[20];
	size_t klen;
	int has_upgrade = 0, has_jmap = 0;

	/* Connection is a token list that must hold "upgrade". */
	for (size_t i = 0; i + 7 <= h->connection.len; i++)
		if (!strncasecmp(h->connection.p + i, "upgrade", 7) &&
		    (i == 0 || h->connection.p[i - 1] == ',' || h->connection.p[i - 1] == ' ') &&
		    (i + 7 == h->connection.len || h->connection.p[i + 7] == ',' ||
		     h->connection.p[i + 7] == ' '))
			has_upgrade = 1;
	for (size_t i = 0; i + 4 <= h->ws_protocol.len; i++)
		if (!memcmp(h->ws_protocol.p + i, "jmap", 4) &&
		    (i == 0 || h->ws_protocol.p[i - 1] == ',' || h->ws_protocol.p[i - 1] == ' ') &&
		    (i + 4 == h->ws_protocol.len || h->ws_protocol.p[i + 4] == ',' ||
		     h->ws_protocol.p[i + 4] == ' '))
			has_jmap = 1;
	if (!str_eq_ci_c(h->upgrade, "websocket") || !has_upgrade) {
		push_answer(p, 426, "Upgrade Required", "Upgrade: websocket\r\n",
			    "this is the JMAP WebSocket endpoint (RFC 8887)");
		return -1;
	}
	if (!str_eq_ci_c(h->ws_version, "13")) {
		push_answer(p, 426, "Upgrade Required", "Sec-WebSocket-Version: 13\r\n",
			    "WebSocket version 13 only");
		return -1;
	}
	char k[64];
	if (h->ws_key.len != 24 ||
	    (memcpy(k, h->ws_key.p, 24), k[24] = '\0',
	     base64_decode(str_c(k), 0, (char *)key, sizeof key, &klen) < 0) ||
	    klen != 16) {
		push_answer(p, 400, "Bad Request", NULL, "Sec-WebSocket-Key is malformed");
		return -1;
	}
	if (!has_jmap) {
		push_answer(p, 400, "Bad Request", NULL,
			    "the jmap subprotocol is required (Sec-WebSocket-Protocol: jmap)");
		return -1;
	}
	if (!own_origin(p->c, h)) {
		push_answer(p, 403, "Forbidden", NULL,
			    "a WebSocket from a page of another site (Origin) is refused");
		return -1;
	}
	br_sha1_context sc;
	br_sha1_init(&sc);
	br_sha1_update(&sc, h->ws_key.p, 24);
	br_sha1_update(&sc, guid, sizeof guid - 1);
	br_sha1_out(&sc, sha);
	base64_encode(sha, sizeof sha, 0, p->ws_accept, sizeof p->ws_accept);
	return 0;
}

/*
 * A WebSocket message under way is held in memory whole, a frame in the
 * connection's input and a fragmented message in the reader, up to
 * maxSizeRequest each: without a bound, one client's 40 sockets each
 * with a 4.9 MB message half sent held 221 MB for as long as they
 * stayed open (an HTTP request's body goes to the spool instead). So
 * what a socket holds past WS_MEM_OWN counts against the budget message
 * bytes in memory have, TERN_MESSAGE_MEMORY, and its client's quarter of
 * it (spool_hold: the spools' own counters, so sockets and messages
 * being received share them); a socket whose message takes either past
 * is closed with 1013 (try again later), and storage no message needs
 * any more is given back. With the budget alone, 13 sockets of one
 * client holding unfinished 5 MB messages took all of the default
 * 64 MB, and every other client's messages spilled to disk.
 */
#define WS_MEM_OWN (64 * 1024)

/* Gives back what no message needs and counts what p holds now: 0, or
 * -1 when it grew past the budget or its client's share. */
static int ws_mem_update(struct http_push *p)
{
	struct buf *in = &p->c->in;
	if (buf_len(in) == 0 && in->cap > WS_MEM_OWN)
		buf_free(in);
	if (!p->rd.msg_op && p->rd.msg.cap)
		buf_free(&p->rd.msg);
	return spool_hold_set(&p->hold, (in->cap > WS_MEM_OWN ? in->cap - WS_MEM_OWN : 0) +
						p->rd.msg.cap);
}

/*
 * The input's bound: the frame under way whole (ws_read says its size
 * once its length was read, within maxSizeRequest), else WS_MEM_OWN, the
 * octets a socket holds uncounted; never below what it holds. With
 * maxSizeRequest as the bound throughout, the conn read whatever a client
 * sent faster than it was taken, up to 5 MB a socket: a Ping flood, with
 * nothing to hold, grew RssAnon 8.2 MiB (session 77). Now only a frame
 * that needs the room gets it, and the input falls back after it. The
 * declared length sets only the ceiling (checked against the limit
 * first): the buffer grows as the frame's octets come.
 */
#define WS_IN_MIN (WS_MEM_OWN - 1) /* its storage: WS_MEM_OWN (max + 1, buf.c) */
static void ws_in_bound(struct http_push *p)
{
	struct buf *in = &p->c->in;
	size_t max = p->rd.need > WS_IN_MIN ? p->rd.need : WS_IN_MIN;

	in->max = buf_len(in) > max ? buf_len(in) : max;
}

static void ws_open(struct http_push *p)
{
	p->state = PUSH_OPEN;
	ws_reader_init(&p->rd, WS_MESSAGE_MAX);
	ws_in_bound(p);
	conn_printf(p->c,
		    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
		    "Sec-WebSocket-Protocol: jmap\r\n%s\r\n",
		    p->ws_accept, http_security_header_lines(p->https));
	log_info("jmap", NULL, "event=push_open kind=websocket client=%s account=%u", p->ip,
		 p->account);
	push_watch(p);
	ws_input(p); /* frames sent right behind the request */
}

/* Moves the answer under way to the output, as far as it takes it. */
static void ws_resp_more(struct http_push *p)
{
	uint64_t end = p->resp_hlen + p->resp_data.len;
	while (p->resp_off < end) {
		int in_hdr = p->resp_off < p->resp_hlen;
		const char *from = in_hdr ? (const char *)p->resp_hdr + p->resp_off
					  : p->resp_data.p + (p->resp_off - p->resp_hlen);
		uint64_t left = (in_hdr ? p->resp_hlen : end) - p->resp_off;
		size_t n = left > WS_CHUNK ? WS_CHUNK : (size_t)left;
		if (buf_room(&p->c->out) < n || conn_write(p->c, from, n) < 0)
			return; /* the rest at the next drain */
		p->resp_off += n;
	}
	spool_free(&p->resp);
	p->resp_data = (struct str){ 0 };
	p->resp_off = 0;
}

/*
 * Starts the answer's frame: its payload is the job's spool, where a
 * large Response was written as it was made (a small one, still in the
 * job's buffer, joins it), its header goes out before it. The frame
 * waits for the client there, as an HTTP answer does: held in memory,
 * each socket of a client that never read kept its answer whole (6
 * sockets with a 16 MB answer each: RssAnon +132 MiB), and a socket has
 * no deadline. -1 when the disk refused the spool.
 */
static int ws_resp_start(struct http_push *p, struct ws_job *j)
{
	if (j->v.kind == JMAP_WS_SPOOL_FAILED ||
	    (!j->sp.len && spool_append(&j->sp, buf_data(&j->out), buf_len(&j->out)) < 0) ||
	    spool_finish(&j->sp, &p->resp_data) < 0) {
		p->resp_data = (struct str){ 0 };
		return -1;
	}
	p->resp = j->sp;
	memset(&j->sp, 0, sizeof j->sp); /* p->resp's now */
	p->resp_hlen = ws_header(p->resp_hdr, WS_OP_TEXT, p->resp_data.len);
	p->resp_off = 0;
	ws_resp_more(p);
	return 0;
}

static void ws_job_work(void *arg)
{
	struct ws_job *j = arg;
	buf_init(&j->out, JMAP_RESPONSE_MAX);
	spool_init_unhashed(&j->sp, JMAP_RESPONSE_MAX, j->ip);
	/* A Request over the socket is an API request as one over HTTP is:
	 * it counts against the account's maxConcurrentRequests with them,
	 * or a client would run any number through its sockets. */
	int entered = http_jmap_request_enter(j->who.account);
	jmap_ws_message(http_store, &j->who, j->ip, j->text, j->len, !entered, j->a, &j->out,
			&j->sp, &j->v);
	if (entered)
		http_jmap_request_leave(j->who.account);
}

/*
 * WebSocketPushEnable's catch-up (RFC 8887 §4.3.5: what changed since its
 * pushState is pushed at once), the read's changed mail types up to now
 * and the own types' states now (own, NULL: not read). Told now when the
 * output takes it; else it waits for the drain as every other push does
 * (push_apply), or a client that sent it while not reading was closed
 * with 1013: p keeps the states the client is taken to know, so the read
 * at the drain (push_catch_up) finds these changes, and any since, and
 * tells them in one StateChange. Own states it had none of are taken
 * from now, as push_update would, with nothing to tell.
 */
static void enable_catch_up(struct http_push *p, unsigned changed, uint64_t now,
			    const struct jmap_push_own *own, unsigned own_mask)
{
	if (!push_held(p)) {
		push_update(p, changed, now, own, own_mask);
		return;
	}
	if (!p->own_known && own) {
		jmap_push_own_take(&p->own, own, own_mask & p->types);
		p->own_known = 1;
	}
	p->pending = 1;
}

static void ws_job_done(void *arg)
{
	struct ws_job *j = arg;
	struct http_push *p = j->p;

	if (p && p->state != PUSH_OPEN) {
		p->job = NULL; /* closing (revoked): nothing more goes out */
	} else if (p) {
		p->job = NULL;
		conn_hold(p->c);
		if (j->v.kind == JMAP_WS_REPLY || j->v.kind == JMAP_WS_SPOOL_FAILED) {
			if (ws_resp_start(p, j) < 0) {
				log_warn("jmap", NULL, "event=ws_spool_failed size=%llu errno=%d",
					 (unsigned long long)(j->sp.len + buf_len(&j->out)),
					 j->sp.error);
				ws_close(p, WS_CLOSE_TRY_LATER, "ws_spool_failed");
			}
		} else if (j->v.kind == JMAP_WS_PUSH_ENABLE) {
			/* What the client is taken to know: its pushState's
			 * states, or the ones read now (jmap_ws_message). */
			const struct jmap_ws_verdict *v = &j->v;
			uint64_t now = v->now_modseq;
			unsigned changed = 0;
			int resumed = 0; /* the pushState was taken (below) */
			p->types = v->types;
			p->push_on = 1;
			p->own_known = 0;
			memset(&p->own, 0, sizeof p->own);
			if (!v->now_ok && store_account_modseq(http_store, p->account, &now) != STORE_OK)
				log_warn("jmap", NULL, "event=push_read_failed account=%u", p->account);
			p->told = now;
			if (v->has_push_state && v->push_state <= now) {
				resumed = 1;
				p->told = v->push_state;
				if (v->now_ok && v->push_state < now) {
					changed = v->now_changed;
					now = v->now_upto;
				} else if (v->push_state < now) {
					changed = JMAP_TYPES_MAIL;
				}
				if (v->push_state_own) {
					p->own = v->push_own;
					p->own_known = 1;
				}
			}
			acct_join(p);
			enable_catch_up(p, changed, now, v->now_own_ok ? &v->now_own : NULL,
					v->types & JMAP_TYPES_OWN);
			push_kick(p); /* changes that came since it was read */
			shared_start(p, resumed);
		} else {
			p->push_on = 0;
			acct_leave(p);
			push_follow_leave(&p->follow);
		}
		if (!p->resp_data.p) {
			conn_pause_read(p->c, 0);
			ws_input(p);
			push_catch_up(p);
		}
		conn_release(p->c);
	}
	buf_free(&j->out);
	spool_free(&j->sp);
	arena_free(&j->a);
	free(j);
}

static void ws_frames(struct http_push *p);

/* Reads the frames in the input until a message goes to the pool, then
 * counts the memory the socket holds (ws_mem_update). */
static void ws_input(struct http_push *p)
{
	ws_frames(p);
	ws_in_bound(p);
	if (p->state == PUSH_OPEN && ws_mem_update(p) < 0) {
		buf_consume(&p->c->in, buf_len(&p->c->in));
		ws_close(p, WS_CLOSE_TRY_LATER, "ws_memory");
	}
}

static void ws_frames(struct http_push *p)
{
	struct conn *c = p->c;

	while (p->state == PUSH_OPEN && !p->job && !p->resp_data.p && buf_len(&c->in)) {
		struct ws_msg m;
		long used = ws_read(&p->rd, buf_data(&c->in), buf_len(&c->in), &m);
		if (used == -2)
			return;
		if (used < 0) {
			buf_consume(&c->in, buf_len(&c->in));
			ws_close(p, p->rd.error, "ws_protocol_error");
			return;
		}
		switch (m.kind) {
		case WS_TEXT: {
			struct ws_job *j = xcalloc(1, sizeof *j);
			j->p = p;
			j->who = (struct jmap_who){.account = p->account, .apppass = p->apppass,
						   .cred = p->cred};
			snprintf(j->ip, sizeof j->ip, "%s", p->ip);
			j->a = arena_new(0);
			j->text = arena_alloc(j->a, m.len + 1);
			memcpy(j->text, m.p, m.len);
			j->text[m.len] = '\0';
			j->len = m.len;
			j->wj = (struct worker_job){.fn = ws_job_work, .done = ws_job_done, .arg = j,
						    .loop = p->loop, .key = p->account};
			p->job = j;
			conn_pause_read(c, 1);
			worker_pool_submit(ws_pool, &j->wj);
			break;
		}
		case WS_BINARY:
			buf_consume(&c->in, (size_t)used);
			ws_close(p, WS_CLOSE_UNSUPPORTED, "ws_binary");
			return;
		case WS_PING:
			ws_pong(p, m.p, m.len);
			break;
		case WS_CLOSE: {
			/* Echo the code (RFC 6455 §5.5.1), then close. */
			uint16_t code = m.code ? m.code : WS_CLOSE_NORMAL;
			buf_consume(&c->in, buf_len(&c->in));
			ws_close(p, code, "ws_closed");
			return;
		}
		default:
			break;
		}
		buf_consume(&c->in, (size_t)used);
	}
}

/* h's field f, NUL-terminated in out (FORWARDED_MAX + 1), or NULL when
 * absent; of a longer one the last FORWARDED_MAX bytes from an element's
 * start (all forwarded.h reads). */
static const char *field_text(struct str f, char *out)
{
	if (!f.p)
		return NULL;
	if (f.len > FORWARDED_MAX) {
		const char *p = f.p + f.len - FORWARDED_MAX, *c = memchr(p, ',', FORWARDED_MAX);
		p = c ? c + 1 : f.p + f.len;
		f = str_make(p, (size_t)(f.p + f.len - p));
	}
	memcpy(out, f.p, f.len);
	out[f.len] = '\0';
	return out;
}

static int peer_trusted(const char *peer_ip)
{
	return http_cfg && http_cfg->trusted_proxies[0] &&
	       cidr_list_match(http_cfg->trusted_proxies, peer_ip);
}

int http_push_origin(const char *peer_ip, const struct http_head *h, struct forwarded_origin *o)
{
	char fw[FORWARDED_MAX + 1], xf[FORWARDED_MAX + 1], xp[FORWARDED_MAX + 1],
		xh[FORWARDED_MAX + 1];

	o->https = -1;
	o->host[0] = '\0';
	if (!peer_trusted(peer_ip))
		return 0;
	forwarded_origin(field_text(h->forwarded, fw), field_text(h->x_forwarded_for, xf),
			 field_text(h->x_forwarded_proto, xp), field_text(h->x_forwarded_host, xh), o);
	return 1;
}

/*
 * The client's address, as http_server.c judges it for every other
 * request: the peer, or behind a reverse proxy in TERN_TRUSTED_PROXIES
 * the client its Forwarded / X-Forwarded-For names, so the login flow
 * counts and logs failures against the real client, not the proxy.
 * Returns 1 when the peer is such a proxy (its connection took no
 * client's share: http_bridge.c), else 0.
 */
static int client_ip(const struct conn *c, const struct http_head *h, char *out, size_t n)
{
	char fw[FORWARDED_MAX + 1], xff[FORWARDED_MAX + 1], client[48];

	snprintf(out, n, "%s", c->peer_ip);
	if (!peer_trusted(c->peer_ip))
		return 0;
	if (forwarded_client(field_text(h->forwarded, fw), field_text(h->x_forwarded_for, xff),
			     http_cfg->trusted_proxies, client, sizeof client))
		snprintf(out, n, "%s", client);
	return 1;
}

/*
 * Behind a trusted proxy the connection holds a slot of the total only,
 * and every other request takes its client's share while it runs
 * (http_server.c); a push connection runs for hours, so it takes the
 * named client's share for its whole life (given back in
 * http_push_free), or the per-client limit would not bound how many a
 * client keeps open through the proxy. 0, or -1 after answering 429.
 */
static int proxied_share(struct http_push *p)
{
	if (limits_client_acquire(POOL_HTTP, p->ip) == 0) {
		p->share = 1;
		return 0;
	}
	log_info("http", NULL, "event=refused peer=%s reason=per_ip_limit proxied=1 kind=%s", p->ip,
		 p->ws ? "websocket" : "eventsource");
	push_answer(p, 429, "Too Many Requests", NULL, "too many connections from this address");
	return -1;
}

struct http_push *http_push_start(struct conn *c, const struct http_head *h)
{
	struct http_push *p = xcalloc(1, sizeof *p);
	char authz[AUTH_MAX + 1];
	struct http_creds cr; /* an Authorization too long to read: none */

	p->c = c;
	p->loop = c->loop;
	int proxied = client_ip(c, h, p->ip, sizeof p->ip);
	spool_hold_init(&p->hold, p->ip);
	/* As http_server.c judges a request's scheme: what a trusted proxy
	 * says the client used, else our listener's. */
	struct forwarded_origin o;
	p->https = http_push_origin(c->peer_ip, h, &o) && o.https >= 0 ? o.https : c->tls != NULL;
	p->ws = at_path(h->target, "/jmap/ws");
	__atomic_add_fetch(&push_alive, 1, __ATOMIC_SEQ_CST);
	if (proxied && proxied_share(p) < 0)
		return p;
	if (p->ws ? ws_handshake(p, h) < 0 : push_query(p, h->target) < 0)
		return p;
	/* The push state of the last event the client saw: its modseq and
	 * the own types' states it carries (jmap_push_state_format). */
	if (h->last_event_id.len && h->last_event_id.len < JMAP_PUSH_STATE_MAX &&
	    jmap_push_state_parse(h->last_event_id.p, h->last_event_id.len, &p->told, &p->own,
				  &p->own_known) == 0)
		p->has_last_id = 1;
	if (!h->authorization.p) {
		push_answer(p, 401, "Unauthorized",
			    "WWW-Authenticate: Basic realm=\"tern\", charset=\"UTF-8\"\r\n",
			    "authentication required");
		return p;
	}
	/* As /jmap/api/ takes them (http_creds.h), on this loop. */
	memset(&cr, 0, sizeof cr);
	snprintf(cr.ip, sizeof cr.ip, "%s", p->ip);
	if (h->authorization.len <= AUTH_MAX) {
		memcpy(authz, h->authorization.p, h->authorization.len);
		authz[h->authorization.len] = '\0';
		http_creds_parse(&cr, authz, p->ip);
		explicit_bzero(authz, sizeof authz);
	}
	char ck[HTTP_CREDS_KEY_MAX];
	struct str cu = http_creds_name(&cr, ck, sizeof ck), pw = str_make(cr.pass, cr.plen);
	if (cr.has_creds && login_cache_get(http_store, cu, pw, &p->account, &p->apppass, &p->cred)) {
		explicit_bzero(&cr, sizeof cr);
		push_open(p);
		return p;
	}
	struct login_request rq;
	http_creds_request(&cr, &rq);
	rq.loop = p->loop;
	rq.done = login_done;
	rq.arg = p;
	p->state = PUSH_LOGIN;
	conn_pause_read(c, 1);
	p->login = login_start(&rq);
	explicit_bzero(&cr, sizeof cr);
	return p;
}

void http_push_data(struct http_push *p)
{
	if (p->ws) {
		if (p->state == PUSH_OPEN)
			ws_input(p);
		else if (p->state == PUSH_DONE)
			buf_consume(&p->c->in, buf_len(&p->c->in));
		return;
	}
	/* Nothing is expected after the request (a pipelined request gets
	 * no answer: the response never ends). */
	buf_consume(&p->c->in, buf_len(&p->c->in));
}

void http_push_drained(struct http_push *p)
{
	if (p->resp_data.p) {
		ws_resp_more(p);
		if (p->resp_data.p)
			return;
		conn_pause_read(p->c, 0);
		ws_input(p); /* messages that came meanwhile */
	}
	ws_pong_flush(p);
	push_catch_up(p);
}

int http_push_shutdown(struct http_push *p)
{
	if (p->state != PUSH_OPEN)
		return 0;
	if (p->ws) {
		if (p->resp_data.p)
			return 0; /* inside a frame: no close frame can follow */
		ws_close(p, WS_CLOSE_GOING_AWAY, "shutdown");
	} else {
		p->state = PUSH_DONE;
		conn_close_after_flush(p->c, "shutdown");
	}
	return 1;
}

void http_push_free(struct http_push **pp)
{
	struct http_push *p = *pp;

	if (!p)
		return;
	if (p->login)
		login_abandon(&p->login);
	session_watch_leave(&p->watch);
	if (p->job)
		p->job->p = NULL; /* ws_job_done frees it */
	if (p->ws)
		ws_reader_free(&p->rd);
	spool_hold_free(&p->hold);
	spool_free(&p->resp);
	acct_leave(p);
	push_follow_leave(&p->follow);
	if (p->calc)
		p->calc->arg = NULL; /* base_done frees it */
	if (p->ping_timer)
		loop_timer_del(p->loop, p->ping_timer);
	if (p->share)
		limits_client_release(POOL_HTTP, p->ip);
	if (p->state == PUSH_OPEN)
		log_info("jmap", NULL, "event=push_close kind=%s account=%u",
			 p->ws ? "websocket" : "eventsource", p->account);
	__atomic_sub_fetch(&push_alive, 1, __ATOMIC_SEQ_CST);
	free(p);
	*pp = NULL;
}
