/*
 * imap_server.h — IMAP (RFC 3501 / 9051, first slice: read access) on
 * TERN_LISTEN_IMAP (STARTTLS) and TERN_LISTEN_IMAPS (implicit TLS).
 *
 * Sessions live on the loop that accepted them; every loop keeps its own
 * list of sessions so shutdown is done per loop, exactly as pop3_server.h
 * does. Passwords are checked only over TLS and on the worker pool.
 *
 * Caveats: this slice serves mailboxes read-only (SELECT answers
 * [READ-ONLY]: no flag storage exists yet); see imap_session.h.
 */
#ifndef TERN_IMAP_IMAP_SERVER_H
#define TERN_IMAP_IMAP_SERVER_H

#include <stdint.h>

#include "core/config.h"

struct loop;
struct store;

/* Pass as the listener's arg for the implicit-TLS port (IMAPS). */
#define IMAP_IMPLICIT_TLS ((void *)1)

/* Called once before any accept; cfg and st outlive the server. */
void imap_server_init(const struct config *cfg, struct store *st);
/*
 * listener_accept_cb for both IMAP listeners: arg is IMAP_IMPLICIT_TLS for
 * the IMAPS port, NULL for the STARTTLS port.
 */
void imap_server_accept(struct loop *loop, int fd, void *arg);
/*
 * A session on fd (plaintext) that starts authenticated as account/login
 * with a "* PREAUTH" greeting (RFC 9051 §7.1.4), for a transport whose
 * peer is already known to be the account's owner (the IMAP session fuzz
 * target; a local pipe). Never on a network listener.
 */
void imap_server_accept_preauth(struct loop *loop, int fd, uint32_t account, const char *login);
/*
 * On a loop's thread: from now on no session starts there; sessions
 * between commands get "* BYE" and close; one in the middle of a command
 * (a FETCH being streamed, a password check) finishes it first.
 */
void imap_server_drain(void);
/* On a loop's thread: closes every session of that loop now. */
void imap_server_close_all(void);
/* Sessions alive in the process (any thread). */
unsigned imap_server_sessions(void);

#endif
