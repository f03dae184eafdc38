/*
 * http_server.h — the HTTP side of tern serve: admin UI, REST API,
 * /healthz, /metrics, client autoconfiguration.
 *
 * Design. libmicrohttpd parses HTTP with its own thread pool (epoll):
 * one daemon listens on TERN_LISTEN_HTTP itself. HTTPS is terminated by
 * our BearSSL pump on the loops (http_tls_bridge.c) and its plaintext is
 * handed to the same daemon through a socketpair with MHD_add_connection(),
 * carrying the client's real address; the daemon tells the two kinds
 * apart by the socket's family (AF_UNIX = bridged HTTPS). Handlers run on
 * the daemon's threads: store reads and admin writes are synchronous there
 * (never on a mail loop), argon2id too, bounded by a semaphore.
 *
 * When TERN_LISTEN_HTTP is disabled the daemon has no listening socket and
 * libmicrohttpd then runs one thread instead of a pool.
 */
#ifndef TERN_HTTP_HTTP_SERVER_H
#define TERN_HTTP_HTTP_SERVER_H

#include <stddef.h>

#include "core/config.h"

struct loop;
struct store;
struct listener;

/*
 * Starts the daemon (plain HTTP listener included) when either HTTP
 * listener is configured. When TERN_LISTEN_HTTPS is set, opens that
 * listening socket into *https_r (*has_https_r = 1) for the caller to
 * attach to its loops like the mail listeners. Logs the setup code when
 * the wizard needs one. Returns 0, or -1 with err filled.
 */
int http_server_start(const struct config *cfg, struct store *st, struct listener *https_r,
		      int *has_https_r, char *err, size_t errsz);
/* Marks the server as fully started (/healthz answers 200 from then on). */
void http_server_ready(void);
/* On a loop's thread: closes the HTTPS bridges of that loop. */
void http_server_close_all(void);
/* Bridged HTTPS connections alive in the process. */
unsigned http_server_sessions(void);
/* Stops the daemon (after the loops stopped). */
void http_server_stop(void);

/* listener_accept_cb of the HTTPS listener (http_tls_bridge.c). */
void http_tls_accept(struct loop *loop, int fd, void *arg);

#endif
