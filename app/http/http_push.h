/*
 * http_push.h — JMAP's long-lived connections held on tern's own loops:
 * the EventSource endpoint (RFC 8620 §7.3) at /jmap/eventsource/ and
 * JMAP over WebSocket (RFC 8887) at /jmap/ws/.
 *
 * Design. libmicrohttpd would give each long-lived response a thread (or
 * a suspended connection it keeps polling), so these requests never reach
 * it: the bridge (http_bridge.c) reads the request header off the client
 * connection itself, and when http_push_wants() says it is one of ours it
 * closes its socketpair to the daemon and hands the connection here. The
 * client is then authenticated through the one login flow (auth/login.h,
 * module=jmap, with the same short-lived cache as API requests), the
 * connection follows its account's change feed (the one IMAP IDLE
 * uses; one subscription per account and loop) and each notification,
 * read once on the worker pool for all of them, writes a StateChange
 * event (jmap/jmap_push.c). An EventSource client sends nothing more (input is
 * dropped); a WebSocket client sends JMAP requests (http_push.c), which
 * run on a pool of their own, fair between accounts, never on the
 * worker pool the change feed reads and password checks share.
 *
 * Memory per connection: the conn (its TLS engine and buffer) and this
 * struct (and per account with connections on a loop, one subscription
 * and its read under way); output is at most one event at a time, since an event that
 * comes while the last one is still queued is folded into the next one
 * (states are cumulative: the later one says it all).
 *
 * Caveats: only on the HTTPS listener (the credentials are HTTP Basic),
 * or on plain HTTP when there is none or a trusted proxy (TERN_TRUSTED_
 * PROXIES) says the client asked it for https (it ends TLS in front).
 * A request pipelined behind another one on a keep-alive connection is
 * not looked at (it goes to the daemon, which answers 404).
 */
#ifndef TERN_HTTP_HTTP_PUSH_H
#define TERN_HTTP_HTTP_PUSH_H

#include <stddef.h>

struct conn;
struct http_head;
struct http_push;

/* 1 when the request header h is answered here rather than by the daemon. */
int http_push_wants(const struct http_head *h);

/*
 * Behind a trusted proxy (peer_ip in TERN_TRUSTED_PROXIES): the scheme and
 * host the client asked it for, from h (net/forwarded.h), and 1; else o
 * says nothing and 0.
 */
struct forwarded_origin;
int http_push_origin(const char *peer_ip, const struct http_head *h, struct forwarded_origin *o);

/*
 * Takes over c (whose on_data/on_drained/on_close the bridge forwards
 * here) for the request h; the header's bytes must already be consumed
 * from c->in, and h is read during the call only. Never fails: a bad
 * request is answered and the connection closed after it.
 */
struct http_push *http_push_start(struct conn *c, const struct http_head *h);
/* The bridge's conn callbacks, forwarded. */
void http_push_data(struct http_push *p);
void http_push_drained(struct http_push *p);
/* Shutdown: 1 when p ends itself (a WebSocket's close frame 1001, the
 * end of an event stream) and closes after the flush; 0 when the caller
 * should close the connection now. */
int http_push_shutdown(struct http_push *p);
/* The connection is gone: frees p (unsubscribes, abandons a login). */
void http_push_free(struct http_push **p);

/* Starts the pool WebSocket messages run on (http_server_start), and
 * stops it once every message queued ran (http_server_stop; the loops
 * must still run: each answer is posted to its connection's). */
void http_push_pool_start(void);
void http_push_pool_stop(void);

/* Push connections open now (for the memory figure in bench-jmap). */
unsigned http_push_count(void);

#endif
