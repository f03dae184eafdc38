/*
 * limits.h — connection slots per service pool and per client.
 *
 * Each service has its own pool (enum conn_pool in core/config.h): a total
 * and a share per client, taken when a connection is accepted and given
 * back when it ends. Separate pools are what keep a flood of port 25 from
 * locking users out of IMAP, submission, POP3 or the web admin. A client is
 * an IPv4 address or an IPv6 /64 (cidr_client_key), since an IPv6 host can
 * pick any address in its /64.
 *
 * A pool comes "under pressure" once three quarters of it are taken, and
 * stays so until less than half is (so that it does not flap at the line):
 * port 25 then shortens its idle timeout (Postfix's stress mode) so that
 * slow or idle senders make room for live ones.
 *
 * Thread-safe: any loop may call any function.
 */
#ifndef TERN_NET_LIMITS_H
#define TERN_NET_LIMITS_H

#include "core/config.h"

/* Sets every pool's limits from cfg->pools; call once before any acquire. */
void limits_init(const struct config *cfg);
/* Takes a slot in pool p for ip: 0, -1 when the pool is full, -2 when this
 * client's share is taken. Only a 0 is to be given back. ip NULL takes a
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
/* The hash bucket of ip's count in pool p (keyed per process): for tests. */
unsigned limits_bucket(enum conn_pool p, const char *ip);

#endif
