/*
 * smtp_server.h — SMTP (RFC 5321) on TERN_LISTEN_SMTP, and submission
 * (RFC 6409) on TERN_LISTEN_SUBMISSION and TERN_LISTEN_SUBMISSIONS.
 *
 * On port 25 accepts mail for local recipients only (never an open relay);
 * on the submission ports (RFC 6409) authenticated users send anywhere
 * through the outbound queue. Either way it replies 250 to the end of
 * DATA/BDAT LAST only after the message is committed (store or queue). Sessions live on the loop that accepted them; every loop
 * keeps its own list of sessions so shutdown can be done per loop.
 */
#ifndef TERN_SMTP_SMTP_SERVER_H
#define TERN_SMTP_SMTP_SERVER_H

#include "core/config.h"

struct loop;
struct store;

/* Pass as the listener's arg for submission (587, STARTTLS) and
 * submissions (465, implicit TLS); NULL is port 25. */
#define SMTP_SUBMISSION ((void *)1)
#define SMTP_SUBMISSIONS ((void *)2)

/* Called once before any accept; cfg and st outlive the server. */
void smtp_server_init(const struct config *cfg, struct store *st);
/* listener_accept_cb for the SMTP and both submission listeners (arg above). */
void smtp_server_accept(struct loop *loop, int fd, void *arg);
/*
 * On a loop's thread: a submission session (port 587's rules) on fd whose
 * transport vouches for its peer, logged in as login (account's address)
 * from the greeting on, as if STARTTLS and AUTH had succeeded. For fuzz
 * targets and tests only, never on a listener.
 */
void smtp_server_accept_preauth(struct loop *loop, int fd, uint32_t account, const char *login);
/*
 * On a loop's thread: from now on no new transaction starts there; idle
 * sessions get "421" and close; sessions in a transaction finish it first.
 */
void smtp_server_drain(void);
/* On a loop's thread: closes every session of that loop now. */
void smtp_server_close_all(void);
/* Sessions alive in the process (any thread), on every port. */
unsigned smtp_server_sessions(void);
/* Of those, the ones on the submission ports (587, 465). */
unsigned smtp_server_submission_sessions(void);

#endif
