/*
 * pop3_server.h — POP3 (RFC 1939, 2449, 2595, 5034, 6856) on
 * TERN_LISTEN_POP3 (STLS) and TERN_LISTEN_POP3S (implicit TLS).
 *
 * The maildrop is the account's INBOX as it was at login; DELE takes
 * effect at QUIT, and "+OK" to that QUIT is sent only after the expunge was
 * committed. Passwords are checked only over TLS and on the worker pool,
 * never on a loop. Sessions live on the loop that accepted them; every loop
 * keeps its own list of sessions so shutdown can be done per loop, exactly
 * as smtp_server.h does.
 */
#ifndef TERN_POP3_POP3_SERVER_H
#define TERN_POP3_POP3_SERVER_H

#include <stdint.h>

#include "core/config.h"

struct loop;
struct store;

/* Pass as the listener's arg for the implicit-TLS port (POP3S). */
#define POP3_IMPLICIT_TLS ((void *)1)

/* Called once before any accept; cfg and st outlive the server. */
void pop3_server_init(const struct config *cfg, struct store *st);
/*
 * listener_accept_cb for both POP3 listeners: arg is POP3_IMPLICIT_TLS for
 * the POP3S port, NULL for the STLS port.
 */
void pop3_server_accept(struct loop *loop, int fd, void *arg);
/*
 * A session on fd (plaintext) in TRANSACTION state as account/login from
 * the greeting on, for a transport whose peer is already known to be the
 * account's owner (the POP3 session fuzz target). Never on a network
 * listener.
 */
void pop3_server_accept_preauth(struct loop *loop, int fd, uint32_t account, const char *login);
/*
 * On a loop's thread: from now on no session starts there; idle sessions
 * get "-ERR [SYS/TEMP]" and close without expunging; a session in the middle
 * of a response, a password check or a QUIT expunge finishes that first.
 */
void pop3_server_drain(void);
/* On a loop's thread: closes every session of that loop now (none expunges). */
void pop3_server_close_all(void);
/* Sessions alive in the process (any thread). */
unsigned pop3_server_sessions(void);

#endif
