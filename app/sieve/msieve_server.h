/*
 * msieve_server.h — ManageSieve (RFC 5804) on TERN_LISTEN_SIEVE (4190):
 * users upload, check, list, fetch, rename, delete and activate their
 * Sieve scripts (stored per account, store.h "Sieve scripts").
 *
 * STARTTLS first: AUTHENTICATE (PLAIN, LOGIN) is refused before TLS,
 * loopback included, and goes through the shared login flow
 * (auth/login.h: the same throttling, delays and fail2ban line as IMAP
 * and POP3). Connections count against the "sieve" pool of net/limits.h.
 * Sessions live on the loop that accepted them, as POP3's do.
 */
#ifndef TERN_SIEVE_MSIEVE_SERVER_H
#define TERN_SIEVE_MSIEVE_SERVER_H

#include <stdint.h>

#include "core/config.h"

struct loop;
struct store;

/* Called once before any accept; cfg and st outlive the server. */
void msieve_server_init(const struct config *cfg, struct store *st);
/* listener_accept_cb for TERN_LISTEN_SIEVE. */
void msieve_server_accept(struct loop *loop, int fd, void *arg);
/*
 * A session on fd (plaintext) that starts authenticated as account/login,
 * for a transport whose peer is already known to be the account's owner
 * (the ManageSieve session fuzz target). Never on a network listener.
 */
void msieve_server_accept_preauth(struct loop *loop, int fd, uint32_t account, const char *login);
/* On a loop's thread: no new session there; idle ones get BYE and close. */
void msieve_server_drain(void);
/* On a loop's thread: closes every session of that loop now. */
void msieve_server_close_all(void);
/* Sessions alive in the process (any thread). */
unsigned msieve_server_sessions(void);

#endif
