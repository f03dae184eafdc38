/*
 * http_pushsub.h — JMAP PushSubscription deliveries (RFC 8620 §7.2): the
 * PushVerification and every StateChange POSTed to each subscription's
 * URL over verified HTTPS, Web Push encrypted with VAPID when the client
 * gave keys (webpush.h). See http_pushsub.c.
 */
#ifndef TERN_HTTP_HTTP_PUSHSUB_H
#define TERN_HTTP_HTTP_PUSHSUB_H

struct config;
struct loop;
struct store;

/* Loads (or makes and stores) the VAPID key, then serves the
 * subscriptions on loop. Call once after the loops run. */
void http_pushsub_start(const struct config *cfg, struct store *st, struct loop *loop);
/* On that loop, before it stops: unsubscribes and frees everything. */
void http_pushsub_stop_on_loop(void *arg);

#endif
