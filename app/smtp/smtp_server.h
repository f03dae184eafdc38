/*
 * smtp_server.h — inbound SMTP (RFC 5321) on TERN_LISTEN_SMTP.
 *
 * Accepts mail for local recipients only (never an open relay) and replies
 * 250 to the end of DATA/BDAT LAST only after the store's writer committed
 * the message. Sessions live on the loop that accepted them; every loop
 * keeps its own list of sessions so shutdown can be done per loop.
 */
#ifndef TERN_SMTP_SMTP_SERVER_H
#define TERN_SMTP_SMTP_SERVER_H

#include "core/config.h"

struct loop;
struct store;

/* Called once before any accept; cfg and st outlive the server. */
void smtp_server_init(const struct config *cfg, struct store *st);
/* listener_accept_cb for the SMTP listener. */
void smtp_server_accept(struct loop *loop, int fd, void *arg);
/*
 * On a loop's thread: from now on no new transaction starts there; idle
 * sessions get "421" and close; sessions in a transaction finish it first.
 */
void smtp_server_drain(void);
/* On a loop's thread: closes every session of that loop now. */
void smtp_server_close_all(void);
/* Sessions alive in the process (any thread). */
unsigned smtp_server_sessions(void);

#endif
