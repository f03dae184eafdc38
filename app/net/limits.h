/*
 * limits.h — connection slots per service pool and per client.
 *
 * Each service has its own pool (enum conn_pool in core/config.h): a total
 * and a share per client, taken when a connection is accepted and given
 * back when it ends. Separate pools are what keep a flood of port 25 from
 * locking users out of IMAP, submission, POP3 or the web admin. A client is
 * an IPv4 address or an IPv6 /64 (cidr_client_key), since an IPv6 host can
 * pick any address in its /64; and the /64s of one /48 (cidr_site_key),
 * which one site may hold whole, share LIMITS_SITE_SHARE times a client's
 * share, so one holder of a /48 cannot take a whole pool a /64 at a time.
 *
 * A pool comes "under pressure" once three quarters of it are taken, and
 * stays so until less than half is (so that it does not flap at the line):
 * port 25 then shortens its idle timeout (Postfix's stress mode) so that
 * slow or idle senders make room for live ones.
 *
 * A refused connection is logged as one line, event=refused, and a pool
 * logs at most LIMITS_REFUSAL_LOG_PER_S of them a second: a client
 * reconnecting as fast as it can past its share (thousands a second on
 * one address) would otherwise write the log as fast as it connects. The
 * refusals left out are counted and the next line logged carries their
 * number (suppressed=N), so every refusal is still accounted for.
 *
 * Thread-safe: any loop may call any function.
 */
#ifndef TERN_NET_LIMITS_H
#define TERN_NET_LIMITS_H

#include <stdint.h>

#include "core/config.h"

/* A /48's share of a pool, in clients' shares. */
#define LIMITS_SITE_SHARE 4

/* Sets every pool's limits from cfg->pools; call once before any acquire. */
void limits_init(const struct config *cfg);
/* Takes a slot in pool p for ip: 0, -1 when the pool is full, -2 when this
 * client's share (or its /48's) is taken. Only a 0 is to be given back. ip NULL takes a
 * slot of the total only: a connection from a trusted reverse proxy, which
 * carries many clients' requests, each counted against its own client's
 * share with limits_client_acquire(). */
int limits_acquire(enum conn_pool p, const char *ip);
/* Gives back a slot taken for ip (NULL when it was taken with NULL). */
void limits_release(enum conn_pool p, const char *ip);
/* Takes one of ip's share in pool p, not a slot of the total: 0, or -2
 * when the share is taken. For the client a trusted proxy names, counted
 * while its request is in flight (http_server.c); only a 0 is to be given
 * back, with limits_client_release(). */
int limits_client_acquire(enum conn_pool p, const char *ip);
void limits_client_release(enum conn_pool p, const char *ip);
/* Connections counted in pool p now. */
unsigned limits_current(enum conn_pool p);
/* 1 while pool p is under pressure (see the top of the file). */
int limits_pressure(enum conn_pool p);
/* Refusals a pool logs in one second; the rest are counted. */
#define LIMITS_REFUSAL_LOG_PER_S 10

/* Logs that a connection of pool p from peer:port was refused (reason:
 * per_ip_limit, connection_limit, shutdown), as
 *   module=M session=S event=refused peer=IP port=N reason=R [suppressed=N]
 * unless the pool has logged its share of this second (see the top). A
 * refused connection logs nothing else: no connect or disconnect line. */
void limits_log_refused(enum conn_pool p, const char *module, const char *session,
			const char *peer, unsigned port, const char *reason);
/* The decision behind limits_log_refused at monotonic time now_ms: 1 to
 * log, with *suppressed_r the refusals left out since the pool's last
 * logged one; 0 to leave this one out (it is counted). For tests. */
int limits_refusal_admit(enum conn_pool p, uint64_t now_ms, unsigned *suppressed_r);
/* The hash bucket of ip's count in pool p (keyed per process): for tests. */
unsigned limits_bucket(enum conn_pool p, const char *ip);

#endif
