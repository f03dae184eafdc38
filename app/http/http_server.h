/*
 * http_server.h — the HTTP side of tern serve: admin UI, REST API,
 * /healthz, /metrics, client autoconfiguration.
 *
 * Design. libmicrohttpd parses HTTP with its own threads (epoll), but
 * never accepts a connection itself: both listeners are loop listeners
 * and every connection comes through http_bridge.c, which takes the
 * POOL_HTTP limits and the request deadlines first, terminates TLS on
 * the HTTPS port (BearSSL), and hands the plaintext to one of two daemons
 * through a socketpair with MHD_add_connection(), carrying the client's
 * real address: the HTTPS daemon (four threads) or the plain one (two).
 * Handlers run on the daemons' threads: store reads and admin writes are
 * synchronous there (never on a mail loop), argon2id too, bounded by a
 * semaphore.
 */
#ifndef TERN_HTTP_HTTP_SERVER_H
#define TERN_HTTP_HTTP_SERVER_H

#include <stddef.h>

#include "core/config.h"

struct loop;
struct store;
struct listener;

/*
 * Starts a daemon for each configured HTTP listener and opens those
 * listening sockets into ls[0..*n_r) (room for two) for the caller to
 * attach to its loops like the mail listeners and close at the end. Logs
 * the setup code when the wizard needs one. Returns 0, or -1 with err
 * filled (nothing left open) and, when a port could not be opened,
 * *failed_r set to its listener (else left as it was).
 */
int http_server_start(const struct config *cfg, struct store *st, struct listener *ls, int *n_r,
		      enum listen_kind *failed_r, char *err, size_t errsz);
/* Marks the server as fully started (/healthz answers 200 from then on). */
void http_server_ready(void);
/*
 * On a loop's thread, at SIGTERM: the HTTP connections of that loop end
 * after the request in flight, if any, is answered (an idle keep-alive
 * connection at once); EventSource and WebSocket ones are told goodbye.
 */
void http_server_drain(void);
/* On a loop's thread: closes the HTTP connections of that loop. */
void http_server_close_all(void);
/* HTTP connections alive in the process. */
unsigned http_server_sessions(void);
/*
 * After the connections closed, while the loops still run: runs the
 * JMAP WebSocket messages still queued and waits for those under way
 * (http_push_pool_stop; as worker_pool_stop waits for its jobs, without
 * a bound), then stops the daemons, returning within a few seconds even
 * if a daemon thread is stuck (logged: event=stop_timeout).
 */
void http_server_stop(void);

/* listener_accept_cb of both HTTP listeners (http_bridge.c); arg is
 * HTTP_BRIDGE_TLS for the HTTPS one, else NULL. */
#define HTTP_BRIDGE_TLS ((void *)1)
void http_bridge_accept(struct loop *loop, int fd, void *arg);
/*
 * The field of the request the bridge hands the daemon in place of one
 * whose header it refused (400, 414 or 431, its value), so that the refusal
 * is answered in its turn, after the requests before it on the
 * connection (http_bridge.c). A client that sends it itself is refused
 * the same way; it opens nothing.
 */
#define HTTP_BRIDGE_REFUSAL "Tern-Bridge-Refusal"

/*
 * The JMAP session resource (RFC 8620 §2): its path, where
 * /.well-known/jmap redirects, and its URL, "https://HOST[:PORT]" and the
 * path, on the host name and the HTTPS port this process serves (the one
 * source of it: IMAP's GETJMAPACCESS, RFC 9698, answers it); behind a
 * reverse proxy (TERN_TRUSTED_PROXIES) "https://HOST" and the path, the
 * proxy's default port. Returns 0, or -1 with out "" when JMAP is not
 * served here (no HTTPS listener, nor HTTP behind a proxy).
 */
#define HTTP_JMAP_SESSION_PATH "/jmap/session"
int http_jmap_session_url(char *out, size_t n);

#endif
